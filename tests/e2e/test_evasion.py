"""Evasion suite (issue "Robustness and evasion"): tests/gen/evasion.py writes
one capture per trick, pcaps/evasion_CASE.pcap, each carrying one scheduled
task creation (SchRpcRegisterTask) and one service creation (RCreateServiceW);
tests/expected/evasion/evasion_CASE.truth.json says what was sent.

For every case the sensor must report:
- a dcerpc record: rpcsentry.interface "ITaskSchedulerService", operation
  "SchRpcRegisterTask", class "create", with the task's command
  (rpcsentry.args.task.actions[].command) exactly as sent, on the connection,
  call_id and context id it was sent on, with the fragment count and stub size
  sent;
- a dcerpc record: interface "svcctl", operation "RCreateServiceW", class
  "create", rpcsentry.args.binary_path exactly as sent;
- an alert 4300001 (task created) and an alert 4300018 (service created) of
  the default rules for those two calls (same flow_id, tx_id and call_id);
- records that all validate (Suricata's schema + ours);
- the case's own extras (below, per test).

Overlaps: overlap_conflict's decoy bytes always arrive after the real ones;
read with --tcp-overlap-policy first (the first data seen wins), the real
command and binary path must be reported and the decoy's never. The default
policy is Windows' (tcp_overlap_policy says what it keeps).

A case the sensor gets wrong is marked expectedFailure with what it does
wrong; the capture stays as it is, so the C side can be fixed against it.
"""

import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import unittest

from common import EXPECTED, PCAPS, ROOT, TempDir, records, validate_record

GEN = os.path.join(ROOT, "tests", "gen", "evasion.py")
TRUTH_DIR = os.path.join(EXPECTED, "evasion")
TASK_SID = 4300001      # RPCSENTRY CREATE ITaskSchedulerService (SchRpcRegisterTask)
SERVICE_SID = 4300018   # RPCSENTRY CREATE svcctl (RCreateServiceW)

CASES = ["one_byte_segments", "out_of_order", "overlap_conflict", "bad_checksum_decoy",
         "one_byte_fragments",
         "decoy_contexts", "alter_context_switch", "big_endian", "ndr64",
         "smb_write_ioctl_split", "smb2_compound", "bind_other_connection", "odd_padding_auth",
         "call_id_reuse"]
# the mirror-port encapsulations (issue 18): what each one counts in the stats record
TUNNELS = {
    "tunnel_gre_ip": [("decoder", "gre")],
    "tunnel_gre_ethernet": [("decoder", "gre")],
    "tunnel_erspan2": [("decoder", "gre"), ("decoder", "erspan")],
    "tunnel_erspan3": [("decoder", "gre"), ("decoder", "erspan")],
    "tunnel_vxlan": [("decoder", "vxlan")],
    "tunnel_geneve": [("decoder", "geneve")],
    "tunnel_mpls_pw": [("ours", "decode_mpls_pw")],
    "tunnel_nsh": [("decoder", "nsh")],
    "tunnel_fabricpath": [("ours", "decode_fabricpath")],
    "vlan_asymmetric": [],
    "tunnel_nested": [("decoder", "gre"), ("decoder", "vxlan")],
}
CASES += list(TUNNELS)
# IP fragments (issue 18): reassembled as the host would
FRAGMENTS = ["ip_fragments_tiny", "ip_fragments_shuffled", "ipv6_fragments_hop_by_hop",
             "ip_fragments_overlap"]
CASES += FRAGMENTS
CASES += ["padded_strings", "smb_write_closed_fid", "smb1_transaction_secondary",
          "smb_write_refused", "smb1_write_refused"]
# a receiver-true TCP (issue 18): the anomaly each raises, and the counter that counts it
TCP_CASES = {
    "tcp_syn_data_decoy": ("stream.syn_data_ignored", "tcp_syn_data_ignored", 2),
    "tcp_syn_retry_lower_isn": (None, "tcp_syn_restarts", 2),
    "tcp_data_after_fin": ("stream.data_after_fin", "tcp_after_fin", 4),  # two segments each
    "tcp_rst_out_of_window": ("stream.rst_out_of_window", "tcp_rst_ignored", 2),
    "tcp_urgent_byte": ("stream.urgent_data", "tcp_urgent", 2),
    "tcp_zero_window_probe": ("stream.zero_window_probe", "tcp_zero_window_probes", 2),
    "tcp_beyond_window": ("stream.beyond_window", "tcp_window_held", 2),
    "tcp_window_update_unseen": (None, "tcp_window_acked", 2),  # capture loss, no event
    "tcp_overlap_policy": ("stream.reassembly_overlap", "tcp_overlap_new_kept", 2),
}
# tshark 4.0's reading (dcerpc.pkt_type == 0, the opnums) where it is not the host's: after
# the FIN it reads the decoy requests a closed direction never delivers; it takes the decoy
# bytes that came beyond the window (no task call, a creation it cannot decode); with
# overlaps it keeps the first data, so neither creation is a request it can read. For a
# Windows target rpcsentry is right in each (the receiver's ACKs and windows say so, and
# Windows keeps the later bytes of a segment that begins before the one it overlaps).
TSHARK_OPNUMS = {
    "tcp_data_after_fin": ["1", "1", "15", "12", "12"],
    "tcp_beyond_window": ["15", "12"],
    "tcp_overlap_policy": ["15"],
}
CASES += list(TCP_CASES)

_records = {}


def truth_of(case):
    with open(os.path.join(TRUTH_DIR, "evasion_%s.truth.json" % case)) as f:
        return json.load(f)


def records_of(case):
    if case not in _records:
        _records[case] = records(os.path.join(PCAPS, "evasion_%s.pcap" % case),
                                 *truth_of(case)["extra"].get("args", []))
    return _records[case]


def tcp_segments(path):
    """(pcap_cnt, src port, dst port, seq, payload length) of every TCP segment of
    an Ethernet/IPv4 capture (what the generator writes)."""
    with open(path, "rb") as f:
        data = f.read()
    off, n, out = 24, 0, []
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        n += 1
        if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ihl = (frame[14] & 0x0F) * 4
        tot = struct.unpack_from("!H", frame, 16)[0]
        t = 14 + ihl
        sport, dport, seq = struct.unpack_from("!HHI", frame, t)
        thl = (frame[t + 12] >> 4) * 4
        out.append((n, sport, dport, seq, tot - ihl - thl))
    return out


def describe(recs, port):
    """The sensor's call records on a client port, for failure messages."""
    out = []
    for r in recs:
        if r["event_type"] == "dcerpc" and port in (r["src_port"], r["dest_port"]):
            x, d = r.get("rpcsentry", {}), r["dcerpc"]
            out.append("call_id %s %s %s/%s/%s ctx %s flags %s frames %s-%s" % (
                d.get("call_id"), d.get("request"), x.get("interface"), x.get("operation"),
                x.get("class"), x.get("context_id"), x.get("flags"),
                x.get("request_pcap_cnt"), x.get("response_pcap_cnt")))
    return "; ".join(out) or "no call records"


def commands(rec):
    task = rec.get("rpcsentry", {}).get("args", {}).get("task", {})
    return [a.get("command") for a in task.get("actions", [])]


class Evasion(unittest.TestCase):
    maxDiff = None

    # ---- the checks every case makes

    def find_call(self, recs, want, iface, operation, matches):
        """The record of the creation described by want (truth): interface,
        operation, class create, and the content check matches(rec)."""
        named = [r for r in recs if r["event_type"] == "dcerpc"
                 and r.get("rpcsentry", {}).get("interface") == iface
                 and r["rpcsentry"].get("operation") == operation]
        self.assertTrue(named, "no %s %s record; on client port %d the sensor reported: %s"
                        % (iface, operation, want["src_port"],
                           describe(recs, want["src_port"])))
        hits = [r for r in named if matches(r)]
        self.assertTrue(hits, "%s %s reported, but not with what was sent (%s): %s" % (
            iface, operation, want, [r.get("rpcsentry", {}).get("args") for r in named]))
        self.assertEqual(len(hits), 1, "the creation reported more than once")
        r = hits[0]
        d, x = r["dcerpc"], r["rpcsentry"]
        self.assertEqual(x.get("class"), "create")
        self.assertEqual(d.get("request"), "REQUEST")
        self.assertEqual((r["src_ip"], r["src_port"], r["dest_port"], d["call_id"]),
                         (want.get("client_ip", "10.1.0.5"), want["src_port"], want["dest_port"],
                          want["call_id"]),
                         "connection and call_id")
        self.assertEqual(x.get("context_id"), want["context_id"], "context id")
        self.assertEqual(d["req"]["frag_cnt"], want["req_frag_cnt"], "dcerpc.req.frag_cnt")
        self.assertEqual(d["req"]["stub_data_size"], want["req_stub_size"],
                         "dcerpc.req.stub_data_size")
        self.assertFalse(x.get("sealed"), "the stub was readable")
        self.assertNotIn("decode_incomplete", x.get("args", {}))
        if "syntax" in want:
            self.assertEqual(x.get("syntax"), want["syntax"])
        if "transport" in want:
            self.assertEqual(x.get("transport"), want["transport"])
        if "named_pipe" in want:
            self.assertEqual(x.get("named_pipe"), want["named_pipe"])
        return r

    def task_record(self, recs, want):
        r = self.find_call(recs, want, "ITaskSchedulerService", "SchRpcRegisterTask",
                           lambda r: want["command"] in commands(r))
        args = r["rpcsentry"]["args"]
        self.assertEqual(args.get("path"), want["path"])
        self.assertEqual([a.get("arguments") for a in args["task"]["actions"]],
                         [want["arguments"]])
        return r

    def service_record(self, recs, want):
        r = self.find_call(
            recs, want, "svcctl", "RCreateServiceW",
            lambda r: r.get("rpcsentry", {}).get("args", {}).get("binary_path")
            == want["binary_path"])
        self.assertEqual(r["rpcsentry"]["args"].get("service_name"), want["service_name"])
        return r

    def alert_for(self, recs, call, sid):
        alerts = [r for r in recs if r["event_type"] == "alert"
                  and r["alert"]["signature_id"] == sid]
        same = [a for a in alerts if a["flow_id"] == call["flow_id"]
                and a.get("tx_id") == call.get("tx_id")
                and a["dcerpc"].get("call_id") == call["dcerpc"]["call_id"]]
        self.assertTrue(same, "no alert %d for call_id %d (flow %d); alerts %d seen: %s" % (
            sid, call["dcerpc"]["call_id"], call["flow_id"], sid,
            [(a["src_port"], a["dcerpc"].get("call_id")) for a in alerts]))
        self.assertEqual(same[0]["direction"], "to_server")

    def check(self, case, task_sid=None, service_sid=None):
        """The common checks; returns (truth, records, task record, service record)."""
        truth = truth_of(case)
        self.assertEqual(truth["case"], case)
        recs = records_of(case)
        self.assertTrue(recs, "no records at all")
        for r in recs:
            validate_record(self, r)
        task = self.task_record(recs, truth["task"])
        svc = self.service_record(recs, truth["service"])
        self.alert_for(recs, task, task_sid or TASK_SID)
        self.alert_for(recs, svc, service_sid or SERVICE_SID)
        return truth, recs, task, svc

    def segments(self, case):
        return tcp_segments(os.path.join(PCAPS, "evasion_%s.pcap" % case))

    # ---- the cases

    def test_one_byte_segments(self):
        self.check("one_byte_segments")
        sizes = {s[4] for s in self.segments("one_byte_segments")}
        self.assertEqual(sizes, {0, 1}, "every data segment of the capture is 1 byte")

    def test_out_of_order(self):
        self.check("out_of_order")
        # the capture really is scrambled: per direction, how often seq goes back
        back = {}
        last = {}
        for _, sp, dp, seq, n in self.segments("out_of_order"):
            if n:
                if (sp, dp) in last and seq < last[(sp, dp)]:
                    back[(sp, dp)] = back.get((sp, dp), 0) + 1
                last[(sp, dp)] = seq
        self.assertEqual(len(back), 4, "both directions of both connections reordered")
        self.assertGreaterEqual(min(back.values()), 2)
        self.assertGreater(max(back.values()), 10)

    def test_overlap_conflict(self):
        truth, recs, task, svc = self.check("overlap_conflict")
        # first data wins: the decoy bytes (later) appear nowhere
        out = json.dumps(recs)
        x = truth["extra"]
        for decoy in (x["decoy_command"], x["decoy_binary_path"]):
            self.assertNotIn(json.dumps(decoy)[1:-1], out, "decoy bytes were reported")
        events = {r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"}
        for e in x["anomalies"]:
            self.assertIn(e, events)

    def test_bad_checksum_decoy(self):
        truth, recs, task, svc = self.check("bad_checksum_decoy")
        x = truth["extra"]
        out = json.dumps(recs)
        for decoy in (x["decoy_command"], x["decoy_binary_path"]):
            self.assertNotIn(json.dumps(decoy)[1:-1], out, "decoy bytes were reported")
        bad = [r for r in recs if r["event_type"] == "anomaly"
               and r["anomaly"]["event"] == "stream.bad_checksum"]
        self.assertEqual(sorted(r["src_port"] for r in bad),
                         [truth["task"]["src_port"], truth["service"]["src_port"]])
        self.assertNotIn("stream_overlap", json.dumps([task, svc]),
                         "a dropped decoy is not an overlap")

    def test_bad_checksum_decoy_needs_checks_on(self):
        """Without -k auto or all (off by default, as on most sensors: own-host
        captures and edited ones have wrong checksums everywhere) the decoy
        came first and first data wins: the decoy is what the sensor reports."""
        truth = truth_of("bad_checksum_decoy")
        path = os.path.join(PCAPS, "evasion_bad_checksum_decoy.pcap")
        for args, stats in ((["-k", "none"], 0), ([], 0), (["-k", "auto"], 2),
                            (["-k", "all"], 2)):
            recs = records(path, "--stats-interval", "3600", *args)
            out = json.dumps([r for r in recs if r["event_type"] != "stats"])
            decoy_seen = json.dumps(truth["extra"]["decoy_command"])[1:-1] in out
            self.assertEqual(decoy_seen, stats == 0, args)
            counter = [r["rpcsentry"]["stats"]["decode_bad_checksum"] for r in recs
                       if r["event_type"] == "stats"]
            self.assertEqual(counter[-1:], [stats], args)

    # The sensor keeps the first bytes, raises stream.reassembly_overlap, and
    # every call completed on that flow afterwards carries the stream_overlap flag.
    def test_overlap_conflict_flag(self):
        truth, recs, task, svc = self.check("overlap_conflict")
        for rec, want in ((task, truth["task"]), (svc, truth["service"])):
            for flag in want["flags"]:
                self.assertIn(flag, rec["rpcsentry"].get("flags", []),
                              "call_id %d on port %d" % (want["call_id"], want["src_port"]))

    def test_one_byte_fragments(self):
        truth, recs, task, svc = self.check("one_byte_fragments")
        # one stub byte per fragment: as many fragments as stub bytes
        for want in (truth["task"], truth["service"]):
            self.assertEqual(want["req_frag_cnt"], want["req_stub_size"])
        self.assertGreater(task["dcerpc"]["req"]["frag_cnt"], 1000)

    def test_decoy_contexts(self):
        truth, recs, task, svc = self.check("decoy_contexts")
        for want, key in ((truth["task"], "task_bind_uuids"),
                          (truth["service"], "service_bind_uuids")):
            binds = [r for r in recs if r["event_type"] == "dcerpc"
                     and r["src_port"] == want["src_port"]
                     and r["dcerpc"]["request"] == "BIND"]
            self.assertEqual(len(binds), 1)
            items = binds[0]["dcerpc"]["interfaces"]
            self.assertEqual([i["uuid"] for i in items], truth["extra"][key])
            self.assertEqual([i["ack_result"] for i in items],
                             [0 if n == want["context_id"] else 2 for n in range(10)])

    def test_alter_context_switch(self):
        truth, recs, task, svc = self.check("alter_context_switch")
        for want, iface in ((truth["task"], "ITaskSchedulerService"), (truth["service"], "svcctl")):
            alters = [r for r in recs if r["event_type"] == "dcerpc"
                      and r["src_port"] == want["src_port"]
                      and r["dcerpc"]["request"] == "ALTER_CONTEXT"]
            self.assertEqual(len(alters), 1)
            self.assertEqual(alters[0]["dcerpc"]["call_id"], truth["extra"]["alter_call_id"])
            self.assertEqual(alters[0]["dcerpc"]["response"], "ALTER_CONTEXT_RESP")
            self.assertEqual([(i.get("service"), i["ack_result"])
                              for i in alters[0]["dcerpc"]["interfaces"]], [(iface, 0)])
            # the harmless call before the switch is srvsvc's, not a target's
            first = [r for r in recs if r["event_type"] == "dcerpc"
                     and r["src_port"] == want["src_port"] and r["dcerpc"]["call_id"] == 2]
            self.assertEqual(first[0]["rpcsentry"].get("interface"), "srvsvc")

    def test_big_endian(self):
        self.check("big_endian")

    def test_ndr64(self):
        self.check("ndr64")     # truth: syntax NDR64, context 1

    def test_smb_write_ioctl_split(self):
        truth, recs, task, svc = self.check("smb_write_ioctl_split")
        for want in (truth["task"], truth["service"]):
            self.assertEqual(len(want["split"]), 2)
        self.assertEqual(task["app_proto"], "smb")

    def test_smb_write_closed_fid(self):
        """A WRITE on a FileId the client closed (in the CLOSE's own compound, and in a
        message of its own) reaches no pipe: the server answers STATUS_FILE_CLOSED. The
        decoys' command and binary path are in no record; each refusal counted, one
        anomaly. tshark decodes both decoy requests as calls (it follows the FileId, not
        the close): for the server, it is wrong."""
        self.decoy_case("smb_write_closed_fid", {"smb_closed_fid": 2},
                        [("smb.write_on_closed_file", None)])
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(PCAPS,
                                                             "evasion_smb_write_closed_fid.pcap"),
                                "-Y", "dcerpc.pkt_type == 0", "-T", "fields", "-e",
                                "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), ["1", "1", "15", "12", "12"], p.stderr)

    def decoy_case(self, case, counts, anomalies):
        """The common checks of the cases whose decoys the server refuses: no decoy in any
        record, no second creation, the counters, the anomalies (event, detail)."""
        truth, recs, task, svc = self.check(case)
        x = truth["extra"]
        text = json.dumps(recs)
        for decoy in (x["decoy_command"], x["decoy_binary"]):
            self.assertNotIn(json.dumps(decoy)[1:-1], text)
        ops = sorted(r["rpcsentry"]["operation"] for r in recs if r["event_type"] == "dcerpc"
                     and r["dcerpc"].get("request") == "REQUEST")
        self.assertEqual(ops, ["RCreateServiceW", "ROpenSCManagerW", "SchRpcRegisterTask"])
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual({k: st[k] for k in counts}, counts)
        anoms = [r for r in recs if r["event_type"] == "anomaly"]
        self.assertEqual([(a["anomaly"]["event"], a.get("rpcsentry", {}).get("detail"))
                          for a in anoms], anomalies)
        return task, svc

    def refused_case(self, case, detail):
        """decoy_case for the refused writes: each counted, one anomaly naming the first."""
        task, svc = self.decoy_case(case, {"smb_write_refused": 2, "smb_write_unanswered": 0},
                                    [("smb.write_refused", detail)])
        for r in (task, svc):
            self.assertNotIn("flags", r["rpcsentry"])
        # tshark follows the FileId, not the answer: it reads both decoys as calls (for
        # the server, which refused them, it is wrong)
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(PCAPS, "evasion_%s.pcap" % case),
                                "-Y", "dcerpc.pkt_type == 0", "-T", "fields", "-e",
                                "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), ["1", "1", "15", "12", "12"], p.stderr)
        return task, svc

    def test_smb_write_refused(self):
        """SMB2: a decoy registration by IOCTL on an unknown TreeId and a decoy creation by
        WRITE under another SessionId, both refused by the server, reach no pipe; a WRITE
        answered STATUS_PENDING first still counts; a registration split over two WRITEs
        answered in the other order is read in the order written, with the time and packet
        of its requests."""
        task, svc = self.refused_case("smb_write_refused", "IOCTL answered 0xc00000c9")
        # the request is whole at the second of the two WRITEs sent back to back (the only
        # two client segments with data and no server data between them), not at their
        # answers, which come after
        data = [(cnt, sp) for cnt, sp, dp, seq, n in self.segments("smb_write_refused") if n]
        at = [i for i, (cnt, sp) in enumerate(data) if cnt == task["rpcsentry"]["request_pcap_cnt"]]
        self.assertEqual(len(at), 1)
        i = at[0]
        self.assertEqual([sp for cnt, sp in data[i - 1:i + 3]], [51441, 51441, 445, 445])
        self.assertGreater(task["pcap_cnt"], data[i + 2][0])

    def test_smb1_write_refused(self):
        """SMB1: a decoy registration by WRITE_ANDX+READ_ANDX under a UID the server never
        gave (the chain refused at its first command) and a decoy creation by TransactNmPipe
        under an unknown TID reach no pipe."""
        self.refused_case("smb1_write_refused", "WRITE_ANDX answered 0xc0000203")

    def test_smb1_transaction_secondary(self):
        """TransactNmPipe inputs in a TRANSACTION and two TRANSACTION_SECONDARY requests,
        the last piece first: each put together by displacement and read as one request;
        counted. tshark reads neither creation (it does not join the secondaries: the
        server does)."""
        truth, recs, task, svc = self.check("smb1_transaction_secondary")
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual(st["smb_trans_reassembled"], 2)
        self.assertEqual([r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"],
                         [])
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(
                PCAPS, "evasion_smb1_transaction_secondary.pcap"), "-Y", "dcerpc.pkt_type == 0",
                "-T", "fields", "-e", "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), ["15"], p.stderr)

    def test_smb2_compound(self):
        truth, recs, task, svc = self.check("smb2_compound")
        self.assertEqual(task["app_proto"], "smb")
        self.assertEqual(svc["rpcsentry"].get("share"), "\\\\10.1.0.20\\IPC$")

    # SMB 3 multichannel: the pipes are opened and bound on one channel (client
    # port 51121) and written on another (51122). The session registry keeps
    # each pipe's FileId, name and first bind, so the second channel names the
    # calls, flagged interface_inferred (the bind is on the other connection).
    # standard.rules' dcerpc.iface follows Suricata (a bind seen on the same
    # connection), so the alerts are rpcsentry.rules' inferred ones: 4300230.
    def test_bind_other_connection(self):
        truth, recs, task, svc = self.check("bind_other_connection", 4300230, 4300230)
        self.assertEqual(task["rpcsentry"].get("auth", {}).get("user"), "mallory")
        for r in (task, svc):
            self.assertEqual(r["src_port"], 51122)
            self.assertIn("interface_inferred", r["rpcsentry"]["flags"])
        # none of the standard alerts fires on a context it did not see bound
        self.assertFalse([a for a in recs if a["event_type"] == "alert"
                          and a["alert"]["signature_id"] in (TASK_SID, SERVICE_SID)])

    def test_odd_padding_auth(self):
        truth, recs, task, svc = self.check("odd_padding_auth")
        for rec, want in ((task, truth["task"]), (svc, truth["service"])):
            a = rec["rpcsentry"].get("auth", {})
            self.assertEqual(a.get("type"), "NTLMSSP")
            self.assertEqual(a.get("level_id"), want["auth_level"])
            self.assertEqual(a.get("user"), want["user"])
            self.assertEqual(len(want["pads"]), want["req_frag_cnt"])
        self.assertEqual(sorted(truth["task"]["pads"]), list(range(1, 16)))
        events = [r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"]
        self.assertNotIn("dcerpc.invalid_auth", events)

    def test_call_id_reuse(self):
        truth, recs, task, svc = self.check("call_id_reuse")
        # the other request that used the same call_id is reported too, separately
        for rec, want in ((task, truth["task"]), (svc, truth["service"])):
            same = [r for r in recs if r["event_type"] == "dcerpc"
                    and r["flow_id"] == rec["flow_id"]
                    and r["dcerpc"]["request"] == "REQUEST"
                    and r["dcerpc"]["call_id"] == want["call_id"]]
            self.assertEqual(sorted(r["rpcsentry"].get("operation") for r in same),
                             sorted([want["reused_with"], rec["rpcsentry"]["operation"]]))
        self.assertEqual(task["dcerpc"]["response"], "RESPONSE")
        self.assertEqual(svc["dcerpc"]["response"], "RESPONSE")

    # ---- mirror-port encapsulations

    def tunnel(self, case):
        """Every frame of the case inside its encapsulation (and vlan_asymmetric: a tag
        per direction): the two creations as the plain capture has them, each call once
        and answered (both directions in one flow), every frame counted as opened, no
        unknown encapsulation; and tshark's reading of the same frames names the same
        operations (FabricPath: tshark 4.0 takes the frame's last four octets for an FCS,
        so the inner segments come out four octets short, their checksums bad and their
        payload dissected no further: there it is not compared, and tshark is the one
        wrong, as the same inner frames in every other case show)."""
        truth, recs, task, svc = self.check(case)
        calls = [r for r in recs if r["event_type"] == "dcerpc"
                 and r["dcerpc"].get("request") == "REQUEST"]
        self.assertEqual(sorted(r["rpcsentry"]["operation"] for r in calls),
                         ["RCreateServiceW", "ROpenSCManagerW", "SchRpcRegisterTask"])
        self.assertTrue(all(r["dcerpc"].get("response") == "RESPONSE" for r in calls),
                        [r["dcerpc"].get("response") for r in calls])
        self.assertEqual(len({r["flow_id"] for r in calls}), 2, "one flow per connection")
        self.assertFalse([r for r in recs if r["event_type"] == "anomaly"])
        frames = len(self.segments_any(case))
        stats = [r for r in recs if r["event_type"] == "stats"][-1]
        for where, name in TUNNELS[case]:
            got = (stats["stats"]["decoder"] if where == "decoder"
                   else stats["rpcsentry"]["stats"])[name]
            self.assertEqual(got, frames, "%s counts every frame" % name)
        self.assertEqual(stats["rpcsentry"]["stats"]["decode_unknown_encap"], 0)
        if case == "vlan_asymmetric":
            self.assertEqual({tuple(r.get("vlan", [])) for r in calls}, {(10,)},
                             "records carry the tag of the connection's first frame")
        if case != "tunnel_fabricpath" and shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(PCAPS, "evasion_%s.pcap" % case),
                                "-Y", "dcerpc.pkt_type == 0", "-T", "fields",
                                "-e", "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), ["1", "15", "12"], p.stderr)

    def segments_any(self, case):
        """Every frame of the capture (its record headers)."""
        with open(os.path.join(PCAPS, "evasion_%s.pcap" % case), "rb") as f:
            data = f.read()
        off, out = 24, []
        while off + 16 <= len(data):
            incl = struct.unpack_from("<I", data, off + 8)[0]
            out.append(off)
            off += 16 + incl
        return out

    # ---- IP fragments

    def fragments(self, case, anomalies):
        """The creations from reassembled datagrams: each call once and answered, the
        reassembly counted, exactly the anomalies named; tshark (which reassembles too)
        names the same operations."""
        truth, recs, task, svc = self.check(case)
        calls = [r for r in recs if r["event_type"] == "dcerpc"
                 and r["dcerpc"].get("request") == "REQUEST"]
        self.assertEqual(sorted(r["rpcsentry"]["operation"] for r in calls),
                         ["RCreateServiceW", "ROpenSCManagerW", "SchRpcRegisterTask"])
        self.assertTrue(all(r["dcerpc"].get("response") == "RESPONSE" for r in calls))
        got = sorted({r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"})
        self.assertEqual(got, sorted(anomalies))
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertGreater(st["defrag_reassembled"], 5)
        self.assertEqual((st["defrag_timeouts"], st["defrag_memcap"], st["defrag_dropped"]),
                         (0, 0, 0))
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(PCAPS, "evasion_%s.pcap" % case),
                                "-Y", "dcerpc.pkt_type == 0", "-T", "fields",
                                "-e", "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), ["1", "15", "12"], p.stderr)
        return recs

    def test_ip_fragments_tiny(self):
        self.fragments("ip_fragments_tiny", ["defrag.tiny_first_fragment"])

    def test_ip_fragments_shuffled(self):
        self.fragments("ip_fragments_shuffled", [])  # the duplicate has the same bytes

    def test_ipv6_fragments_hop_by_hop(self):
        self.fragments("ipv6_fragments_hop_by_hop", [])

    def test_ip_fragments_overlap(self):
        self.fragments("ip_fragments_overlap", ["defrag.overlap_conflict"])
        # the policies part as the case says: Linux's and first's readings lose the calls
        path = os.path.join(PCAPS, "evasion_ip_fragments_overlap.pcap")
        want = truth_of("ip_fragments_overlap")["service"]["binary_path"]
        for policy, real in (("bsd", True), ("linux", False), ("first", False)):
            recs = records(path, "--defrag-policy", policy)
            paths = [r["rpcsentry"].get("args", {}).get("binary_path") for r in recs
                     if r["event_type"] == "dcerpc" and "rpcsentry" in r]
            self.assertEqual(want in paths, real, policy)

    # ---- a receiver-true TCP

    def receiver_tcp(self, case):
        """What the server's stack took, and nothing else: the two creations, each call
        once and answered, no decoy call or bind, the case's anomaly and counter. tshark
        names the same operations, except after the FIN, where it reads the decoy
        requests a closed direction never delivers (tshark is wrong there)."""
        anomaly, counter, times = TCP_CASES[case]
        truth, recs, task, svc = self.check(case)
        calls = [r for r in recs if r["event_type"] == "dcerpc"
                 and r["dcerpc"].get("request") in ("REQUEST", "BIND")]
        self.assertEqual(sorted((r["dcerpc"]["request"], r["rpcsentry"].get("operation", ""))
                                for r in calls),
                         [("BIND", ""), ("BIND", ""), ("REQUEST", "RCreateServiceW"),
                          ("REQUEST", "ROpenSCManagerW"), ("REQUEST", "SchRpcRegisterTask")])
        self.assertTrue(all(r["dcerpc"].get("response") in ("RESPONSE", "BINDACK")
                            for r in calls))
        self.assertEqual({i["name"] for r in calls if r["dcerpc"]["request"] == "BIND"
                          for i in r["rpcsentry"]["interfaces"]}, {"ITaskSchedulerService",
                                                                    "svcctl"})
        got = sorted({r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"})
        self.assertEqual(got, [anomaly] if anomaly else [])
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual(st[counter], times, counter)
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", os.path.join(PCAPS, "evasion_%s.pcap" % case),
                                "-Y", "dcerpc.pkt_type == 0", "-T", "fields",
                                "-e", "dcerpc.opnum"], capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), TSHARK_OPNUMS.get(case, ["1", "15", "12"]),
                             p.stderr)
        return truth, recs

    def test_tcp_syn_data_decoy(self):
        self.receiver_tcp("tcp_syn_data_decoy")

    def test_tcp_syn_retry_lower_isn(self):
        self.receiver_tcp("tcp_syn_retry_lower_isn")

    def test_tcp_data_after_fin(self):
        self.receiver_tcp("tcp_data_after_fin")

    def test_tcp_rst_out_of_window(self):
        self.receiver_tcp("tcp_rst_out_of_window")

    def test_tcp_urgent_byte(self):
        self.receiver_tcp("tcp_urgent_byte")

    def no_decoy(self, truth, recs):
        out = json.dumps([r for r in recs if r["event_type"] != "stats"])
        for key in ("decoy_command", "decoy_binary_path"):
            if key in truth["extra"]:
                self.assertNotIn(json.dumps(truth["extra"][key])[1:-1], out, key)

    def test_tcp_zero_window_probe(self):
        """The probe's decoy byte is not the stream's: the real byte that came once the
        window opened replaced it (tcp_window_replaced), and that they differ is the
        anomaly."""
        truth, recs = self.receiver_tcp("tcp_zero_window_probe")
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual((st["tcp_window_replaced"], st["tcp_window_acked"],
                          st["tcp_window_discarded"]), (2, 0, 0))

    def test_tcp_beyond_window(self):
        truth, recs = self.receiver_tcp("tcp_beyond_window")
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual((st["tcp_window_replaced"], st["tcp_window_acked"]), (2, 0))

    def test_tcp_window_update_unseen(self):
        """The window update is not in the capture: the bytes beyond the last window seen
        are held, and delivered when the server's ACK covers them; the calls exactly."""
        truth, recs = self.receiver_tcp("tcp_window_update_unseen")
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual((st["tcp_window_held"], st["tcp_window_replaced"],
                          st["tcp_gaps"]), (2, 0, 0))

    def test_tcp_overlap_policy(self):
        truth, recs = self.receiver_tcp("tcp_overlap_policy")
        self.no_decoy(truth, recs)

    def test_tcp_overlap_policy_each(self):
        """Each policy reads the two overlaps as its host would: Windows and BSD keep the real
        bytes in both (the default: Windows); Linux, old Linux, Solaris and last take the
        decoy's first 40 bytes of the same-start overlap; first keeps the decoy segment the
        real one began before."""
        path = os.path.join(PCAPS, "evasion_tcp_overlap_policy.pcap")
        truth = truth_of("tcp_overlap_policy")
        for policy, real in (("windows", True), ("bsd", True), ("linux", False),
                             ("old-linux", False), ("solaris", False), ("first", False),
                             ("last", False)):
            recs = records(path, "--tcp-overlap-policy", policy)
            got = {r["rpcsentry"]["operation"]: r["rpcsentry"].get("args", {}) for r in recs
                   if r["event_type"] == "dcerpc" and r.get("rpcsentry", {}).get("operation")
                   in ("SchRpcRegisterTask", "RCreateServiceW")}
            task, svc = got.get("SchRpcRegisterTask", {}), got.get("RCreateServiceW", {})
            cmd = [a.get("command") for a in task.get("task", {}).get("actions", [])]
            self.assertEqual((task.get("path"), cmd) == (truth["task"]["path"],
                                                         [truth["task"]["command"]]),
                             real, (policy, task.get("path"), cmd))
            self.assertEqual((svc.get("service_name"), svc.get("binary_path"))
                             == (truth["service"]["service_name"],
                                 truth["service"]["binary_path"]), real, policy)

    def test_tcp_urgent_byte_inline_and_tshark(self):
        """With --tcp-urgent inline (a host with SO_OOBINLINE) the urgent byte stays in
        the stream: both creations are one byte off from the middle on, and neither the
        task's actions nor the binary path is read. tshark keeps the byte in the stream
        too and decodes no binary path: for a Windows or Linux target it is wrong."""
        path = os.path.join(PCAPS, "evasion_tcp_urgent_byte.pcap")
        recs = records(path, "--tcp-urgent", "inline")
        got = {r["rpcsentry"]["operation"]: r["rpcsentry"].get("args", {}) for r in recs
               if r["event_type"] == "dcerpc" and r["rpcsentry"].get("operation") in
               ("SchRpcRegisterTask", "RCreateServiceW")}
        self.assertEqual(sorted(got), ["RCreateServiceW", "SchRpcRegisterTask"])
        self.assertNotIn("actions", got["SchRpcRegisterTask"].get("task", {}))
        self.assertNotIn("binary_path", got["RCreateServiceW"])
        if shutil.which("tshark"):
            p = subprocess.run(["tshark", "-r", path, "-Y", "svcctl.binarypathname", "-T",
                                "fields", "-e", "svcctl.binarypathname"],
                               capture_output=True, text=True)
            self.assertEqual(p.stdout.split(), [], p.stderr)

    # ---- strings past the cap

    def test_padded_strings(self):
        """8,000 blanks inside the task's Arguments and the service's binary path: the
        record keeps each string's start and end with "…" between, and says it was cut
        and its length in characters (rpcsentry.args...truncated)."""
        truth = truth_of("padded_strings")
        recs = records_of("padded_strings")
        for r in recs:
            validate_record(self, r)
        calls = {r["rpcsentry"]["operation"]: r for r in recs if r["event_type"] == "dcerpc"
                 and r["dcerpc"].get("request") == "REQUEST"}
        task = calls["SchRpcRegisterTask"]["rpcsentry"]["args"]["task"]["actions"][0]
        svc = calls["RCreateServiceW"]["rpcsentry"]["args"]
        for got, whole, cut in ((task["arguments"], truth["task"]["arguments"],
                                 task.get("truncated", {}).get("arguments")),
                                (svc["binary_path"], truth["service"]["binary_path"],
                                 svc.get("truncated", {}).get("binary_path"))):
            self.assertIn("\u2026", got)
            head, tail = got.split("\u2026")
            self.assertTrue(whole.startswith(head) and whole.endswith(tail), got[:80])
            self.assertGreater(len(head), 1000)
            self.assertGreater(len(tail), 1000)
            self.assertTrue(tail.endswith("padded_strings") or tail.endswith("-k run"), tail[-40:])
            self.assertEqual(cut, len(whole), "the length it had, in characters")
        self.assertEqual(task["command"], truth["task"]["command"])  # not cut: whole
        for op in ("SchRpcRegisterTask", "RCreateServiceW"):
            inds = {i["name"]: i["value"] for i in calls[op]["rpcsentry"].get("indicators", [])}
            # the longest run of blanks in what the record kept: at least the indicator's
            # 64, at most the 8,000 sent (the middle is cut out)
            m = re.match(r"^([0-9]+) blanks$", inds.get("padded_argument", ""))
            self.assertTrue(m, op)
            self.assertTrue(64 <= int(m.group(1)) <= 8000, op)

    # ---- the captures are the generator's

    def test_every_case_has_a_capture_and_a_test(self):
        caps = sorted(os.path.basename(p)[len("evasion_"):-len(".pcap")]
                      for p in glob.glob(os.path.join(PCAPS, "evasion_*.pcap")))
        self.assertEqual(caps, sorted(CASES))
        for case in CASES:
            self.assertTrue(hasattr(self, "test_" + case), case)

    def test_generator_is_deterministic(self):
        """Regenerating gives the committed bytes: pcaps/evasion_*.pcap and
        tests/expected/evasion/*.truth.json are exactly evasion.py's output."""
        with TempDir() as d:
            subprocess.run([sys.executable, GEN, "--out", d, "--truth", d], check=True)
            made = sorted(os.listdir(d))
            self.assertEqual(len(made), 2 * len(CASES))
            for name in made:
                committed = os.path.join(PCAPS if name.endswith(".pcap") else TRUTH_DIR, name)
                with open(committed, "rb") as a, open(os.path.join(d, name), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name + " differs from its generator")


def _tunnel_test(case):
    def test(self):
        self.tunnel(case)
    test.__doc__ = "%s: see Evasion.tunnel" % case
    return test


for _case in TUNNELS:
    setattr(Evasion, "test_" + _case, _tunnel_test(_case))


if __name__ == "__main__":
    unittest.main()
