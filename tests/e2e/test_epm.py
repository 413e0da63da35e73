"""The endpoint mapper on real captures: towers decoded as tshark decodes them,
the ports they announce followed to the connections that use them (even when
the bind on that connection is cut out of the capture), lookups that found
nothing, and a discovery sweep (impacket rpcdump) that names the target
interfaces only inside its answer."""

import collections
import json
import os
import subprocess
import unittest

from common import SHARED_PCAPS, TempDir, need_shared, records, shared_pcap, validate_record

EPM_UUID = "e1af8308-5d1f-11c9-91a4-08002b14a0fa"
TARGETS = {"86d35949-83c9-4044-b424-db363231fd0c", "1ff70682-0a51-30e8-076d-740be8cee98b",
           "378e52b0-c0a9-11cf-822d-00aa0051e40f", "367abb81-9844-35f1-ad32-98f038001003"}
NDR_SYNTAXES = {"8a885d04-1ceb-11c9-9fe8-08002b104860", "71710533-beba-4937-8319-b5dbef9ccc36"}


def epm_captures():
    """Shared captures in which tshark saw the endpoint mapper."""
    out = []
    with open(os.path.join(SHARED_PCAPS, "tshark-summary.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if any(i["uuid"] == EPM_UUID for i in row.get("interfaces", [])):
                out.append(row["file"])
    return sorted(out)


def tshark_epm_answers(pcap):
    """frame -> (interface uuids of the towers, TCP ports, IPs, status) for each answer."""
    p = subprocess.run(["tshark", "-r", pcap, "-Y", "epm && dcerpc.pkt_type == 2", "-T",
                        "fields", "-E", "separator=|", "-e", "frame.number", "-e", "epm.uuid",
                        "-e", "epm.proto.tcp_port", "-e", "epm.proto.ip", "-e", "epm.rc"],
                       capture_output=True, text=True, timeout=300)
    out = {}
    for line in p.stdout.splitlines():
        frame, uuids, ports, ips, rc = (line.split("|") + [""] * 5)[:5]
        split = [x for x in uuids.split(",") if x]
        # each tower names its interface, then its transfer syntax
        ifaces = [u for i, u in enumerate(split) if i % 2 == 0]
        out[int(frame)] = (ifaces, [int(x) for x in ports.split(",") if x],
                           [x for x in ips.split(",") if x], rc)
    return out


def answers(recs):
    """Our ept_map/ept_lookup records, by the packet that completed the answer."""
    out = {}
    for r in recs:
        x = r.get("rpcsentry", {})
        if r["event_type"] == "dcerpc" and x.get("operation") in ("ept_map", "ept_lookup") \
                and r["dcerpc"].get("response") == "RESPONSE":
            out[x["response_pcap_cnt"]] = r
    return out


def towers_of(rec):
    res = rec["rpcsentry"].get("result", {})
    return res.get("towers", res.get("entries", []))


class EndpointMapper(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runs = {}
        if os.path.isdir(SHARED_PCAPS):
            for name in epm_captures():
                cls.runs[name] = records(shared_pcap(name))

    def setUp(self):
        need_shared(self)

    def test_towers_equal_tshark(self):
        """Every answer: the towers' interfaces, TCP ports and IP floors, and the status, as
        tshark reads them. A long ept_lookup answer is cut short in the record (the argument
        tree is bounded): what the record holds is compared, in order."""
        compared = towers = 0
        for name, recs in self.runs.items():
            ours = answers(recs)
            theirs = tshark_epm_answers(shared_pcap(name))
            with self.subTest(capture=name):
                self.assertEqual(sorted(ours), sorted(theirs))
            for frame, (ifaces, ports, ips, rc) in theirs.items():
                rec = ours.get(frame)
                if rec is None:
                    continue
                got = towers_of(rec)
                truncated = rec["rpcsentry"].get("args_truncated", False) or \
                    len(got) < len(ifaces)
                n = len(got)
                tcp = [t for t in got if t.get("protocol") == "ncacn_ip_tcp"]
                with self.subTest(capture=name, frame=frame):
                    self.assertEqual([t["interface"]["uuid"] for t in got], ifaces[:n])
                    self.assertEqual([t["port"] for t in tcp], ports[:len(tcp)])
                    self.assertEqual([t["ip"] for t in got if "ip" in t], ips[:len(
                        [t for t in got if "ip" in t])])
                    self.assertEqual(rec["rpcsentry"]["result"]["status_code"], "0x%08x" %
                                     int(rc, 16))
                    if not truncated:
                        self.assertEqual(len(got), len(ifaces))
                    validate_record(self, rec)
                compared += 1
                towers += len(got)
        self.assertGreater(compared, 300)
        self.assertGreater(towers, 350)

    def test_announced_ports_are_followed(self):
        """A connection to a port an answer announced carries calls with their interface
        named, and at least one call on the interface the mapper announced there."""
        followed = 0
        for name, recs in self.runs.items():
            announced, when = {}, {}
            for r in answers(recs).values():
                for t in towers_of(r):
                    if t.get("protocol") != "ncacn_ip_tcp":
                        continue
                    ip = t["ip"] if t.get("ip", "0.0.0.0") != "0.0.0.0" else r["src_ip"]
                    announced.setdefault((ip, t["port"]), set()).add(t["interface"]["uuid"])
                    when.setdefault((ip, t["port"]), r["rpcsentry"]["response_pcap_cnt"])
            flows = collections.defaultdict(list)
            for r in recs:
                dest = (r["dest_ip"], r["dest_port"])
                # calls after the answer (a connection may predate it: the capture began
                # mid-way, as in zeek's mapi capture)
                if r["event_type"] == "dcerpc" and r["dcerpc"]["request"] == "REQUEST" and \
                        dest in announced and r["rpcsentry"]["request_pcap_cnt"] > when[dest]:
                    flows[r["flow_id"]].append(r)
            for fid, calls in flows.items():
                want = announced[(calls[0]["dest_ip"], calls[0]["dest_port"])]
                with self.subTest(capture=name, flow=fid):
                    for c in calls:
                        self.assertIn("interfaces", c["dcerpc"], c["rpcsentry"].get("flags"))
                    self.assertTrue(want & {c["dcerpc"]["interfaces"][0]["uuid"] for c in calls})
                followed += 1
        self.assertGreater(followed, 15)

    def test_lookups_that_find_nothing(self):
        """DCShadow asks for interfaces the DC has not registered: EPT_S_NOT_REGISTERED."""
        recs = self.runs["PCAP-ATTACK__DCShadow_add_primarygroupid_512_to_std_account.pcapng"]
        ans = answers(recs)
        missing = [r for r in ans.values()
                   if r["rpcsentry"]["result"]["status"] == "EPT_S_NOT_REGISTERED"]
        self.assertEqual(sorted(r["rpcsentry"]["response_pcap_cnt"] for r in missing), [46, 55])
        for r in missing:
            self.assertEqual(towers_of(r), [])
            self.assertFalse(r["rpcsentry"]["result"]["success"])
            self.assertIn("interface", r["rpcsentry"]["args"])  # what was asked for

    def test_who_looked_up_a_target_interface(self):
        """The lookup record names the interface asked for and the client that asked."""
        recs = self.runs["Security-Datasets__schtask_create_2020-12-1907003032.pcapng"]
        lookups = [r for r in answers(recs).values()
                   if r["rpcsentry"]["args"].get("interface", {}).get("target")]
        self.assertEqual(len(lookups), 1)
        r = lookups[0]
        self.assertEqual(r["rpcsentry"]["args"]["interface"]["name"], "ITaskSchedulerService")
        self.assertEqual([t["port"] for t in towers_of(r)], [49671])
        self.assertEqual(r["dest_port"], 135)

    def test_rpcdump_names_targets_only_inside_its_answer(self):
        name = "PCAP-ATTACK__Discovery_impacket_rpcdump.pcapng"
        recs = self.runs[name]
        calls = [r for r in recs if r["event_type"] == "dcerpc"]
        self.assertFalse([r for r in calls if r["rpcsentry"].get("target")])
        self.assertFalse([r for r in recs if r["event_type"] == "alert"])
        lookups = [r for r in calls if r["rpcsentry"].get("operation") == "ept_lookup"]
        self.assertEqual(len(lookups), 1)
        res = lookups[0]["rpcsentry"]["result"]
        theirs = tshark_epm_answers(shared_pcap(name))
        (ifaces, _, _, _), = theirs.values()
        self.assertEqual(res["num_entries"], len(ifaces))
        self.assertEqual(sorted(t["interface"]["uuid"] for t in res["target_endpoints"]),
                         sorted(u for u in ifaces if u in TARGETS))
        self.assertEqual({(t["interface"]["name"], t["port"]) for t in res["target_endpoints"]
                          if t.get("protocol") == "ncacn_ip_tcp"},
                         {("ITaskSchedulerService", 49666), ("svcctl", 49669)})


def frames(pcap, display_filter, field="frame.number"):
    p = subprocess.run(["tshark", "-r", pcap, "-Y", display_filter, "-T", "fields", "-e", field],
                       capture_output=True, text=True, timeout=300)
    return [int(x) for x in p.stdout.split()]


class BindCut(unittest.TestCase):
    """The bind on the dynamic port removed from the capture (editcap): the calls are still
    named, from the endpoint mapper's answer, and flagged so."""

    CASES = {
        # capture: the port the mapper announced
        "PCAP-ATTACK__LM_psexec_smb_dcerpc_epm_svcctl.pcapng": 49688,
        "Security-Datasets__schtask_create_2020-12-1907003032.pcapng": 49671,
        "PCAP-ATTACK__LM_smbexec_smb_dcerpc_svcctl_epm.pcapng": 49683,
    }

    def setUp(self):
        need_shared(self)

    def test_calls_named_without_their_bind(self):
        for name, port in self.CASES.items():
            src = shared_pcap(name)
            cut = frames(src, "tcp.port == %d && (dcerpc.pkt_type == 11 || dcerpc.pkt_type == 12 "
                              "|| dcerpc.pkt_type == 14 || dcerpc.pkt_type == 15 || dcerpc.pkt_type == 16)" % port)
            with self.subTest(capture=name), TempDir() as d:
                self.assertTrue(cut, "no bind on port %d" % port)
                edited = os.path.join(d, "nobind.pcapng")
                subprocess.run(["editcap", src, edited] + [str(f) for f in cut], check=True,
                               capture_output=True)
                whole = self.on_port(records(src), port)
                without = self.on_port(records(edited), port)
                self.assertTrue(whole)
                # the same calls, by the same names
                self.assertEqual([(r["dcerpc"]["call_id"], r["rpcsentry"].get("operation"))
                                  for r in without],
                                 [(r["dcerpc"]["call_id"], r["rpcsentry"].get("operation"))
                                  for r in whole])
                for r in without:
                    self.assertIn("interface_from_endpoint_mapper", r["rpcsentry"]["flags"])
                    self.assertIn("context_unknown", r["rpcsentry"]["flags"])
                    self.assertEqual(r["dcerpc"]["interfaces"][0]["uuid"],
                                     whole[0]["dcerpc"]["interfaces"][0]["uuid"])
                    validate_record(self, r)

    @staticmethod
    def on_port(recs, port):
        return [r for r in recs if r["event_type"] == "dcerpc" and
                r["dcerpc"]["request"] == "REQUEST" and r["dest_port"] == port]


if __name__ == "__main__":
    unittest.main()
