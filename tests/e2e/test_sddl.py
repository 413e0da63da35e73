"""Security descriptors in the lab's captures (pcaps/lab/sd_*.pcap, tests/lab/lab.py):
the sensor's SDDL against the bytes the client sent and against tshark.

- sd_hide_service: RSetServiceObjectSecurity with sc sdset's hiding DACL. tshark 4.0's
  svcctl dissector does not decode opnums 4 and 5 (it shows the stub as bytes); the
  descriptor in those stub bytes must be exactly what impacket's ldaptypes builds from
  the sensor's SDDL (tests/lab/sd_build.py), and the SDDL the one the client was given.
- sd_key_security: BaseRegSetKeySecurity. tshark decodes the descriptor (nt.sid,
  nt.ace.type, nt.access_mask): the same trustees, types and masks as the sensor's SDDL.
- sd_hide_task: tshark has no ITaskSchedulerService dissector; the sddl strings are the
  client's (the lab's expectation).
Each gives its indicator (hidden_service / hidden_task) and its rule's alert; every
record validates against the schema.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

from common import PCAPS, ROOT, records, validate_record

LAB = os.path.join(ROOT, "tests", "lab")
LAB_PCAPS = os.path.join(PCAPS, "lab")
sys.path.insert(0, LAB)


def tshark(pcap, flt, *fields):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", flt, "-T", "fields", "-E", "occurrence=a"]
                         + [a for f in fields for a in ("-e", f)],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def by_frame(recs):
    return {r["rpcsentry"].get("request_pcap_cnt"): r for r in recs
            if r.get("event_type") == "dcerpc" and r["dcerpc"].get("request") == "REQUEST"}


def aces(sddl):
    """(type, mask, SID) of the DACL's ACEs, from SDDL text, with sd_build's tables."""
    import sd_build
    dacl = re.search(r"D:[A-Z]*((?:\([^)]*\))*)", sddl).group(1)
    out = []
    for a in re.findall(r"\(([^)]*)\)", dacl):
        t, _, rights, _, _, sid = a.split(";")
        out.append((sd_build.ACE_TYPES[t][0], sd_build.rights(rights),
                    sd_build.ALIASES.get(sid, sid)))
    return out


class SecurityDescriptors(unittest.TestCase):
    def recs(self, name):
        path = os.path.join(LAB_PCAPS, name + ".pcap")
        if not os.path.exists(path):
            self.skipTest("no capture " + path)
        return path, records(path)

    def alerts(self, recs):
        return {r["alert"]["signature_id"] for r in recs if r.get("event_type") == "alert"}

    def test_hidden_service_is_the_clients_descriptor(self):
        path, recs = self.recs("sd_hide_service")
        for r in recs:
            validate_record(self, r)
        calls = by_frame(recs)
        sets = [r for r in calls.values() if r["rpcsentry"]["operation"] == "RSetServiceObjectSecurity"]
        self.assertEqual(len(sets), 1)
        x = sets[0]["rpcsentry"]
        sd = x["args"]["security_descriptor"]
        self.assertEqual([i["name"] for i in x["indicators"]], ["hidden_service"])
        self.assertIn("(D;;DCLCWPDTSD;;;IU)", x["indicators"][0]["value"])
        self.assertIn(4300245, self.alerts(recs))
        # the answers to the queries: the default descriptor before, the hiding one after
        answers = [r["rpcsentry"]["result"]["security_descriptor"]["sddl"] for r in calls.values()
                   if r["rpcsentry"]["operation"] == "RQueryServiceObjectSecurity"
                   and "security_descriptor" in r["rpcsentry"].get("result", {})]
        self.assertEqual(len(answers), 2)
        self.assertTrue(answers[0].startswith("D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)"))
        self.assertEqual(answers[1], sd["sddl"])
        if not shutil.which("tshark"):
            self.skipTest("no tshark")
        import sd_build
        rows = tshark(path, "svcctl.opnum == 5 && dcerpc.pkt_type == 0", "frame.number",
                      "dcerpc.stub_data")
        self.assertEqual(len(rows), 1)
        frame, stub = int(rows[0][0]), bytes.fromhex(rows[0][1].replace(":", ""))
        self.assertEqual(x["request_pcap_cnt"], frame)
        want = sd_build.build(sd["sddl"])
        # handle (20), SECURITY_INFORMATION (4), the [ref] array's count (4), the bytes
        self.assertEqual(int.from_bytes(stub[24:28], "little"), len(want))
        self.assertEqual(stub[28:28 + len(want)], want)

    def test_samba_keeps_and_returns_the_descriptor(self):
        """Against Samba 4.17: its own descriptor for Spooler, then the hiding one it took
        (ERROR_SUCCESS) and answers with; each answer's bytes are what ldaptypes builds from
        the sensor's SDDL of it."""
        path, recs = self.recs("samba_sd_hide_service")
        for r in recs:
            validate_record(self, r)
        calls = by_frame(recs)
        sets = [r for r in calls.values() if r["rpcsentry"]["operation"] == "RSetServiceObjectSecurity"]
        self.assertEqual(len(sets), 1)
        sent = sets[0]["rpcsentry"]["args"]["security_descriptor"]["sddl"]
        self.assertEqual(sets[0]["rpcsentry"]["result"]["status"], "ERROR_SUCCESS")
        self.assertIn("hidden_service", [i["name"] for i in sets[0]["rpcsentry"]["indicators"]])
        answers = [r for r in calls.values()
                   if r["rpcsentry"]["operation"] == "RQueryServiceObjectSecurity"
                   and "security_descriptor" in r["rpcsentry"].get("result", {})]
        self.assertEqual(len(answers), 2)
        first, after = [r["rpcsentry"]["result"]["security_descriptor"]["sddl"] for r in answers]
        self.assertEqual(after, sent)
        self.assertNotEqual(first, sent)
        if not shutil.which("tshark"):
            self.skipTest("no tshark")
        import sd_build
        stubs = {int(f): bytes.fromhex(d.replace(":", "")) for f, d in tshark(
            path, "svcctl.opnum == 4 && dcerpc.pkt_type == 2", "frame.number", "dcerpc.stub_data")}
        for r in answers:
            sddl = r["rpcsentry"]["result"]["security_descriptor"]["sddl"]
            stub, want = stubs[r["pcap_cnt"]], sd_build.build(sddl)
            # the [ref] array's count, the bytes, pcbBytesNeeded, the status
            self.assertEqual(int.from_bytes(stub[:4], "little"), len(want))
            self.assertEqual(stub[4:4 + len(want)], want, sddl)

    def test_hidden_task_by_its_sddl(self):
        _, recs = self.recs("sd_hide_task")
        for r in recs:
            validate_record(self, r)
        calls = sorted(by_frame(recs).items())
        # (the command, cmd.exe to a temp file, and the name raise others on the registration)
        ops = [(r["rpcsentry"]["operation"],
                "hidden_task" in [i["name"] for i in r["rpcsentry"].get("indicators", [])])
               for _, r in calls]
        self.assertEqual(ops, [("SchRpcRegisterTask", True), ("SchRpcSetSecurity", True),
                               ("SchRpcDelete", False)])
        self.assertIn(4300246, self.alerts(recs))

    def test_key_security_as_tshark_shows_it(self):
        path, recs = self.recs("sd_key_security")
        for r in recs:
            validate_record(self, r)
        calls = by_frame(recs)
        self.assertIn(4300246, self.alerts(recs))
        if not shutil.which("tshark"):
            self.skipTest("no tshark")
        rows = tshark(path, "winreg.opnum == 21 && dcerpc.pkt_type == 0", "frame.number",
                      "nt.ace.type", "nt.access_mask", "nt.sid")
        self.assertEqual(len(rows), 1)
        frame, types, masks, sids = rows[0]
        x = calls[int(frame)]["rpcsentry"]
        self.assertEqual(x["operation"], "BaseRegSetKeySecurity")
        self.assertEqual([i["name"] for i in x["indicators"]], ["hidden_task"])
        theirs = list(zip([int(t) for t in types.split(",")],
                          [int(m, 16) for m in masks.split(",")], sids.split(",")))
        self.assertEqual(aces(x["args"]["security_descriptor"]["sddl"]), theirs)


if __name__ == "__main__":
    unittest.main()
