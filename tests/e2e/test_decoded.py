"""What was created, decoded from real stubs, against an independent reading.

For every unsealed task registration, service creation or service change,
and AT job, in the shared captures:

- tshark's own decoding where it has one (ATSvc NetrJobAdd: command, time,
  server; svcctl CreateServiceW: name, binary path) must equal ours;
- where tshark has no dissector (task scheduler, svcctl opnums it does not
  know), its raw `dcerpc.stub_data` bytes are read here with a few lines of
  NDR in Python, independent of the C decoders, and the task command and
  arguments (from the task XML, parsed with Python's ElementTree), the
  service name and binary path must equal ours.

Then a handful of values written out by hand, each with the frame it sits
in, and the sealed captures: nothing may be decoded from an encrypted stub,
and the class still comes from the operation.
"""

import collections
import os
import struct
import subprocess
import unittest
import xml.etree.ElementTree as ET

from common import SHARED_PCAPS, calls, need_shared, records, shared_pcap

TSCH = "86d35949-83c9-4044-b424-db363231fd0c"
ATSVC = "1ff70682-0a51-30e8-076d-740be8cee98b"
SVCCTL = "367abb81-9844-35f1-ad32-98f038001003"


class Ndr:
    """Little-endian NDR (32-bit): just enough for the parameters compared here."""

    def __init__(self, b):
        self.b, self.o = b, 0

    def align(self, n):
        self.o = (self.o + n - 1) // n * n

    def u32(self):
        self.align(4)
        v = struct.unpack_from("<I", self.b, self.o)[0]
        self.o += 4
        return v

    def string(self, wide=True):
        mx, off, n = self.u32(), self.u32(), self.u32()
        assert off <= mx and n <= mx - off
        size = n * 2 if wide else n
        raw = self.b[self.o:self.o + size]
        assert len(raw) == size
        self.o += size
        s = raw.decode("utf-16-le" if wide else "latin-1")
        return s.split("\0", 1)[0]

    def unique_string(self, wide=True):
        return self.string(wide) if self.u32() else None


def tshark_requests(pcap):
    """{request frame: (opnum, stub bytes or None, tshark's service name, binary path)}:
    the raw stub where tshark has no dissector, its own fields where it has one."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-Y",
         "dcerpc.pkt_type == 0 && (dcerpc.stub_data || svcctl.binarypathname)",
         "-T", "fields", "-e", "frame.number", "-e", "dcerpc.opnum", "-e", "dcerpc.stub_data",
         "-e", "svcctl.servicename", "-e", "svcctl.binarypathname", "-E", "occurrence=l"],
        capture_output=True, text=True, timeout=300).stdout
    reqs = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 5:
            stub = bytes.fromhex(parts[2].replace(":", "")) if parts[2] else None
            reqs[int(parts[0])] = (int(parts[1]), stub, parts[3], parts[4])
    return reqs


def xml_actions(xml):
    """(command, arguments) of each Exec action, read with ElementTree."""
    root = ET.fromstring(xml.encode("utf-16") if xml.lstrip().startswith("<?xml") else xml)
    ns = {"t": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}
    acts = []
    for ex in root.findall(".//t:Actions/t:Exec" if ns else ".//Actions/Exec", ns):
        get = (lambda k: ex.findtext("t:" + k, None, ns)) if ns else ex.findtext
        acts.append(((get("Command") or "").strip(), (get("Arguments") or "").strip()))
    return acts


def by_request_frame(recs):
    return {r["rpcsentry"]["request_pcap_cnt"]: r for r in calls(recs)
            if "rpcsentry" in r and "request_pcap_cnt" in r["rpcsentry"]}


def target_captures():
    import json
    with open(os.path.join(SHARED_PCAPS, "tshark-summary.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            uuids = {i["uuid"] for i in row["interfaces"]}
            if uuids & {TSCH, ATSVC, SVCCTL}:
                yield row["file"]


class Decoded(unittest.TestCase):
    def setUp(self):
        need_shared(self)

    def test_task_commands_and_service_binaries_equal_an_independent_reading(self):
        compared = collections.Counter()
        for name in target_captures():
            recs = by_request_frame(records(shared_pcap(name)))
            for frame, (opnum, stub, t_svc, t_bin) in tshark_requests(shared_pcap(name)).items():
                r = recs.get(frame)
                if not r or r["rpcsentry"].get("sealed"):
                    continue
                uuid = r["dcerpc"]["interfaces"][0]["uuid"]
                args = r["rpcsentry"].get("args", {})
                with self.subTest(capture=name, frame=frame, opnum=opnum):
                    n = Ndr(stub or b"")
                    if uuid == SVCCTL and t_bin:
                        # tshark decodes this one itself (CreateServiceW)
                        self.assertEqual(args.get("service_name"), t_svc)
                        self.assertEqual(args.get("binary_path"), t_bin)
                        compared["service creations"] += 1
                    elif stub is None:
                        continue
                    elif uuid == TSCH and opnum == 1:
                        path = n.unique_string()
                        xml = n.string()
                        self.assertEqual(args.get("path"), path)
                        ours = [(a.get("command", ""), a.get("arguments", ""))
                                for a in args.get("task", {}).get("actions", [])
                                if a.get("type") == "exec"]
                        self.assertEqual(ours, xml_actions(xml))
                        compared["task registrations"] += 1
                    elif uuid == SVCCTL and opnum in (12, 24, 44, 45):
                        wide = opnum in (12, 45)
                        n.o = 20
                        svc = n.string(wide)
                        n.unique_string(wide)
                        for _ in range(4):
                            n.u32()
                        binary = n.string(wide)
                        self.assertEqual(args.get("service_name"), svc)
                        self.assertEqual(args.get("binary_path"), binary)
                        compared["service creations"] += 1
                    elif uuid == SVCCTL and opnum in (11, 23):
                        n.o = 20
                        for _ in range(3):
                            n.u32()
                        binary = n.unique_string(opnum == 11)
                        self.assertEqual(args.get("binary_path"), binary)
                        compared["service changes"] += 1
        self.assertGreaterEqual(compared["task registrations"], 1)
        self.assertGreaterEqual(compared["service creations"], 8)
        self.assertGreaterEqual(compared["service changes"], 2)

    def test_at_jobs_equal_tshark(self):
        compared = 0
        for name in target_captures():
            out = subprocess.run(
                ["tshark", "-r", shared_pcap(name), "-Y", "atsvc.opnum == 0 && dcerpc.pkt_type == 0",
                 "-T", "fields", "-e", "frame.number", "-e", "atsvc.atsvc_JobInfo.command",
                 "-e", "atsvc.atsvc_JobInfo.job_time", "-e", "atsvc.server"],
                capture_output=True, text=True, timeout=300).stdout
            recs = by_request_frame(records(shared_pcap(name)))
            for line in out.splitlines():
                frame, command, job_time, server = line.split("\t")
                r = recs[int(frame)]
                args = r["rpcsentry"]["args"]
                with self.subTest(capture=name, frame=frame):
                    # tshark prints a NULL string as empty; we leave it out
                    self.assertEqual(args.get("command", ""), command)
                    self.assertEqual(args["job_time_ms"], int(job_time))
                    self.assertEqual(args.get("server_name", ""), server)
                compared += 1
        self.assertGreaterEqual(compared, 4)

    def test_values_by_hand(self):
        """Read off the stub bytes (tshark -x), frame by frame."""
        cases = [
            # impacket atexec over \atsvc, connect level: the task XML in the clear
            ("Intranet_penetration_history__atexec.pcapng", 24, {
                "args.path": "\\nTMgxVrV",
                "args.task.actions.command": "cmd.exe",
                "args.task.actions.arguments": "/C whoami > %windir%\\Temp\\nTMgxVrV.tmp 2>&1",
                "args.task.principal.user_id": "S-1-5-18",
                "args.task.hidden": True}),
            # PsExec: RCreateServiceWOW64W over SMB2
            ("401trg-detections__20171220_smb_psexec_add_user.pcap", 160, {
                "args.service_name": "PSEXESVC",
                "args.binary_path": "%SystemRoot%\\PSEXESVC.exe",
                "args.start_type": "demand_start"}),
            # at.exe: NetrJobAdd in NDR64 over SMB2 (JobTime is a DWORD_PTR there)
            ("suricata-verify__smb2-04__20171220_smb_at_schedule.pcap", 9, {
                "args.command": "c:\\mimikatz.exe",
                "args.job_time": "13:05:00"}),
            # SCShell-style fileless: an existing service's binary swapped, then restored
            ("PCAP-ATTACK__LM_Fileless_Lateral_Movement_ChangeServiceConfigA.pcap", 36, {
                "args.service_name": "XblAuthManager",
                "args.binary_path":
                    "c:\\windows\\system32\\cmd.exe /c powershell -exec bypass -nop -e Y2FsYy5leGU="}),
            ("PCAP-ATTACK__LM_Fileless_Lateral_Movement_ChangeServiceConfigA.pcap", 40, {
                "args.binary_path": "C:\\Windows\\system32\\svchost.exe -k netsvcs"}),
            # Metasploit psexec over SMB1: the request spans two fragments (frames 60, 64)
            ("401trg-detections__20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap",
             64, {"args.service_name": "PLYteGjx", "args.display_name": "PjWdDLoqmAogKpSE"}),
        ]
        for name, frame, want in cases:
            r = by_request_frame(records(shared_pcap(name))).get(frame)
            with self.subTest(capture=name, frame=frame):
                self.assertIsNotNone(r, "no call completed in that frame")
                x = r["rpcsentry"]
                for path, value in want.items():
                    cur = x
                    for part in path.split("."):
                        cur = cur[0] if isinstance(cur, list) else cur
                        cur = cur[part]
                    self.assertEqual(cur, value, path)

    def test_sealed_stubs_are_never_decoded(self):
        sealed = collections.Counter()
        for name in target_captures():
            for r in calls(records(shared_pcap(name))):
                x = r.get("rpcsentry", {})
                if not x.get("sealed") or not x.get("target"):
                    continue
                with self.subTest(capture=name, call=r["dcerpc"]["call_id"]):
                    self.assertNotIn("args", x)
                    self.assertNotIn("indicators", x)
                    self.assertNotIn("result", x)  # the status is encrypted with the stub
                    op = x["operation"]
                    want = {"RCreateServiceWOW64W": "create", "RCreateServiceA": "create",
                            "SchRpcRegisterTask": "create", "RStartServiceW": "execute",
                            "RStartServiceA": "execute", "RDeleteService": "delete",
                            "SchRpcEnumTasks": "read", "RQueryServiceStatus": "read"}.get(op)
                    if want:
                        self.assertEqual(x["class"], want)
                    if op == "SchRpcRegisterTask":
                        self.assertEqual(x.get("class_detail"), "create_or_update")
                sealed[x["interface"]] += 1
        self.assertGreaterEqual(sealed["svcctl"], 20)
        self.assertGreaterEqual(sealed["ITaskSchedulerService"], 2)


if __name__ == "__main__":
    unittest.main()
