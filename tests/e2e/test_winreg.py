"""winreg (MS-RRP) decoded, checked against tshark's winreg dissector on the
same frames: every shared capture with winreg calls in the clear and the lab's
reg.py captures.

For each winreg request tshark dissects, the sensor's record of the call with
that request frame must carry what tshark shows: the subkey of BaseRegOpenKey
and BaseRegCreateKey, the value name of BaseRegSetValue, BaseRegQueryValue
and BaseRegDeleteValue, the data bytes of BaseRegSetValue (decoded as the
value's type), the file of BaseRegSaveKey; each response's WERROR as the
record's status, BaseRegCreateKey's disposition. The full key path
(args.key) is checked against a handle table the test keeps from tshark's
fields alone (root opens, OpenKey/CreateKey answers, the handle each
request names), per TCP connection. tshark 4.0 shows no value type for
BaseRegSetValue (its winreg_Type subtree is empty): the lab's expectations
check the types against what reg.py was given.

Then the registry roads on the lab's captures: the service created and
changed through the registry and the hidden task carry route "registry",
their ATT&CK ids, indicators, alerts; and every record validates against
Suricata's schema and ours.
"""

import json
import os
import struct
import subprocess
import unittest

from common import PCAPS, SHARED_PCAPS, load_jsonl, need_shared, records, validate_record

LAB = os.path.join(PCAPS, "lab")
ROOTS = {0: "HKCR", 1: "HKCU", 2: "HKLM", 3: "HKPD", 4: "HKU", 27: "HKCC", 32: "HKPT", 33: "HKPN"}
FIELDS = ["frame.number", "tcp.stream", "dcerpc.cn_call_id", "dcerpc.pkt_type", "winreg.opnum",
          "winreg.handle", "winreg.winreg_OpenKey.parent_handle", "winreg.winreg_OpenKey.keyname",
          "winreg.winreg_CreateKey.name", "winreg.winreg_CreateKey.new_handle",
          "winreg.winreg_CreateKey.action_taken", "winreg.winreg_SetValue.name",
          "winreg.winreg_SetValue.data", "winreg.winreg_QueryValue.value_name",
          "winreg.winreg_DeleteValue.value", "winreg.winreg_DeleteKey.key",
          "winreg.winreg_SaveKey.filename", "winreg.werror"]


def tshark_rows(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "winreg", "-T", "fields", "-E",
                          "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
                         + sum((["-e", f] for f in FIELDS), []),
                         capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        v = line.split("\t")
        rows.append(dict(zip(FIELDS, v + [""] * (len(FIELDS) - len(v)))))
    return rows


def join(base, sub):
    sub = sub.rstrip("\0").strip("\\")
    return base + ("\\" + sub if sub else "")


def utf16(data):
    b = bytes(int(x) for x in data.split(",") if x != "")
    return b.decode("utf-16-le", "replace").split("\0")[0]


def expected_from_tshark(rows):
    """{request frame: {what the record's args must hold}}, {response frame: status code}."""
    handles, pending, want, status = {}, {}, {}, {}
    for r in rows:
        frame, stream, cid = int(r["frame.number"]), r["tcp.stream"], r["dcerpc.cn_call_id"]
        op = int(r["winreg.opnum"].split(",")[0]) if r["winreg.opnum"] else None
        ptype = r["dcerpc.pkt_type"].split(",")[0]
        hs = [h for h in r["winreg.handle"].split(",") if h]
        if ptype == "0":  # request
            w = {}
            parent = r["winreg.winreg_OpenKey.parent_handle"] or (hs[0] if hs else "")
            base = handles.get((stream, parent))
            if op == 15:
                w["subkey"] = r["winreg.winreg_OpenKey.keyname"]
                if base:
                    w["key"] = join(base, w["subkey"])
            elif op == 6:
                w["subkey"] = r["winreg.winreg_CreateKey.name"]
                if base:
                    w["key"] = join(base, w["subkey"])
            elif op in (5, 8, 9, 10, 16, 17, 20, 22) and base:
                w["key"] = base
            if op == 22:
                w["value_name"] = r["winreg.winreg_SetValue.name"]
                w["data_bytes"] = r["winreg.winreg_SetValue.data"]
            elif op == 17:
                w["value_name"] = r["winreg.winreg_QueryValue.value_name"]
            elif op == 8:
                w["value_name"] = r["winreg.winreg_DeleteValue.value"]
            elif op == 20:
                w["file"] = r["winreg.winreg_SaveKey.filename"]
            want[frame] = w
            pending[(stream, cid)] = (op, w.get("key"))
        elif ptype == "2":
            op_req, path = pending.pop((stream, cid), (op, None))
            if r["winreg.werror"]:
                status[frame] = int(r["winreg.werror"].split(",")[0], 16)
            if op_req in ROOTS and hs:
                handles[(stream, hs[0])] = ROOTS[op_req]
            elif op_req == 15 and hs and path:
                handles[(stream, hs[0])] = path
            elif op_req == 6 and r["winreg.winreg_CreateKey.new_handle"] and path:
                handles[(stream, r["winreg.winreg_CreateKey.new_handle"])] = path
                if r["winreg.winreg_CreateKey.action_taken"]:
                    status[("disposition", frame)] = int(
                        r["winreg.winreg_CreateKey.action_taken"].split(",")[0])
    return want, status


def winreg_calls(recs):
    return [r for r in recs if r.get("event_type") == "dcerpc"
            and r.get("rpcsentry", {}).get("interface") == "winreg"
            and r["dcerpc"].get("request") == "REQUEST"]


def shared_winreg_captures():
    """The shared captures whose winreg calls tshark names (its summary), and whether sealed."""
    out = {}
    path = os.path.join(SHARED_PCAPS, "tshark-summary.jsonl")
    if not os.path.isfile(path):
        return out
    for row in load_jsonl(path):
        if "winreg" in row.get("calls", {}):
            out[row["file"]] = "6" in row.get("auth_by_iface", {}).get("winreg", [])
    return out


def actions_of(raw):
    """The Actions blob (version, context, exec actions) read in Python, to check ours."""
    def bstr(at):
        n = struct.unpack_from("<I", raw, at)[0]
        return raw[at + 4:at + 4 + n].decode("utf-16-le"), at + 4 + n
    version = struct.unpack_from("<H", raw, 0)[0]
    out, at = {"actions_version": version}, 2
    if version == 3:
        out["actions_context"], at = bstr(at)
    acts = []
    while at < len(raw):
        kind = struct.unpack_from("<H", raw, at)[0]
        assert kind == 0x6666, "only exec actions here"
        _, at = bstr(at + 2)
        a = {"type": "exec"}
        for k in ("command", "arguments", "working_directory"):
            v, at = bstr(at)
            if v:
                a[k] = v
        at += 2 if version == 3 else 0
        acts.append(a)
    out["actions"] = acts
    return out


class AgainstTshark(unittest.TestCase):
    def compare(self, pcap, min_checked):
        recs = records(pcap)
        want, status = expected_from_tshark(tshark_rows(pcap))
        by_req = {r["rpcsentry"]["request_pcap_cnt"]: r for r in winreg_calls(recs)}
        checked = keyed = 0
        self.assertTrue(want, pcap)
        for frame, w in want.items():
            self.assertIn(frame, by_req, "%s: no record of the winreg request in frame %d" % (
                os.path.basename(pcap), frame))
            rec = by_req[frame]
            x = rec["rpcsentry"]
            args = x.get("args", {})
            where = "%s frame %d (%s)" % (os.path.basename(pcap), frame, x.get("operation"))
            for k in ("subkey", "key", "value_name", "file"):
                if k in w:
                    self.assertEqual(args.get(k), w[k].rstrip("\0") if k != "key" else w[k],
                                     where + ": " + k)
                    checked += 1
                    keyed += k == "key"
            if "data_bytes" in w:
                t = args.get("value_type")
                raw = bytes(int(b) for b in w["data_bytes"].split(",") if b)
                self.assertEqual(args.get("data_size"), len(raw), where)
                if t in ("REG_SZ", "REG_EXPAND_SZ"):
                    self.assertEqual(args.get("data"), utf16(w["data_bytes"]), where)
                elif t == "REG_DWORD":
                    self.assertEqual(args.get("data"), int.from_bytes(raw, "little"), where)
                elif t == "REG_BINARY":
                    self.assertEqual(args.get("data"), raw[:256].hex(), where)
                checked += 1
            if rec["pcap_cnt"] in status:
                self.assertEqual(x["result"]["status_code"], "0x%08x" % status[rec["pcap_cnt"]],
                                 where + ": status")
                checked += 1
            disp = status.get(("disposition", rec["pcap_cnt"]))
            if disp in (1, 2) and x.get("result", {}).get("success"):
                self.assertEqual(x["result"].get("disposition"),
                                 {1: "created", 2: "opened"}[disp], where)
                checked += 1
        self.assertGreaterEqual(checked, min_checked, pcap)
        for r in recs:
            validate_record(self, r)
        return recs, keyed

    def test_lab_service_keys(self):
        recs, keyed = self.compare(os.path.join(LAB, "samba_reg_service.pcap"), 60)
        self.assertGreaterEqual(keyed, 15)

    def test_lab_hidden_task(self):
        recs, keyed = self.compare(os.path.join(LAB, "fake_reg_hidden_task.pcap"), 25)
        self.assertGreaterEqual(keyed, 10)

    def test_lab_task_actions(self):
        """A task's Actions blob written over winreg (lab_client.py task-actions): the value
        as tshark shows it, and its actions as a reading of tshark's bytes written here
        gives them, routed as a task creation, with its rule."""
        pcap = os.path.join(LAB, "fake_reg_task_actions.pcap")
        recs, keyed = self.compare(pcap, 8)
        (call,) = [r for r in winreg_calls(recs)
                   if r["rpcsentry"].get("args", {}).get("value_name") == "Actions"]
        x = call["rpcsentry"]
        self.assertEqual((x["class"], x["route"], x["attack"]), ("create", "registry", ["T1053.005"]))
        rows = tshark_rows(pcap)
        want, _ = expected_from_tshark(rows)
        raw = bytes(int(b) for b in want[x["request_pcap_cnt"]]["data_bytes"].split(",") if b)
        self.assertEqual(x["args"]["task"], actions_of(raw))
        self.assertIn(4300247, [r["alert"]["signature_id"] for r in recs
                                if r["event_type"] == "alert"])

    def test_every_shared_capture_with_winreg(self):
        need_shared(self)
        found = shared_winreg_captures()
        # the four the summary lists today (one sealed: its keys are unreadable to both)
        self.assertGreaterEqual(len(found), 4, found)
        for name, sealed in sorted(found.items()):
            pcap = os.path.join(SHARED_PCAPS, name)
            with self.subTest(name):
                if sealed:
                    calls = winreg_calls(records(pcap))
                    self.assertTrue(calls)
                    self.assertTrue(all(c["rpcsentry"]["sealed"] for c in calls))
                    self.assertFalse(any("args" in c["rpcsentry"] for c in calls))
                    continue
                # arkime's synthetic capture has one OpenLocalMachine and no answer
                self.compare(pcap, 0 if name.startswith("arkime") else 3)

    def test_shared_values_as_tshark_shows_them(self):
        """What tshark shows in the two shared captures that set and read values."""
        need_shared(self)
        recs = records(os.path.join(SHARED_PCAPS,
                                    "suricata-verify__dcerpc_dcerpc-dce-stub-data-04__input.pcap"))
        sv = [c["rpcsentry"] for c in winreg_calls(recs)
              if c["rpcsentry"]["operation"] == "BaseRegSetValue"]
        self.assertEqual(len(sv), 1)
        self.assertEqual(sv[0]["args"]["key"], r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run")
        self.assertEqual((sv[0]["args"]["value_name"], sv[0]["args"]["value_type"],
                          sv[0]["args"]["data"]), ("Osa32", "REG_SZ", "NTOSA32.EXE"))
        self.assertNotIn("route", sv[0])  # a Run key is not a service
        recs = records(os.path.join(
            SHARED_PCAPS, "suricata-verify__filestore-filecontainer-smb__filecontainer-smb.pcap"))
        keys = {c["rpcsentry"].get("args", {}).get("key") for c in winreg_calls(recs)}
        self.assertIn(r"HKLM\System\CurrentControlSet\Control\ContentIndex", keys)
        self.assertIn("HKPD", keys)


class RegistryRoads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.svc = records(os.path.join(LAB, "samba_reg_service.pcap"))
        cls.task = records(os.path.join(LAB, "fake_reg_hidden_task.pcap"))

    def routed(self, recs):
        return [r for r in winreg_calls(recs) if r["rpcsentry"].get("route") == "registry"]

    def alerts(self, recs):
        return {(a["rpcsentry"].get("operation"), a["alert"]["signature_id"]) for a in recs
                if a["event_type"] == "alert"}

    def test_service_created_and_changed_through_the_registry(self):
        routed = self.routed(self.svc)
        ops = [(r["rpcsentry"]["operation"], r["rpcsentry"]["class"],
                r["rpcsentry"]["args"].get("service_name"),
                r["rpcsentry"]["args"].get("binary_path")) for r in routed]
        self.assertEqual(ops, [
            ("BaseRegCreateKey", "create", "LabRegSvc", None),
            ("BaseRegSetValue", "create", "LabRegSvc", r"%SystemRoot%\Temp\labreg.exe -k run"),
            ("BaseRegSetValue", "modify", "Spooler", r"C:\Windows\Temp\spool.exe")])
        for r in routed:
            self.assertTrue(r["rpcsentry"]["target"])
            self.assertEqual(r["rpcsentry"]["attack"], ["T1543.003"])
        # Start and Type name the service but are not routed: they make nothing run
        start = [r for r in winreg_calls(self.svc)
                 if r["rpcsentry"].get("args", {}).get("value_name") == "Start"]
        self.assertEqual(start[0]["rpcsentry"]["args"]["start_type"], "demand_start")
        self.assertNotIn("route", start[0]["rpcsentry"])
        self.assertFalse(start[0]["rpcsentry"]["target"])
        # the user-writable binary path is an indicator, as for RCreateServiceW
        names = {i["name"] for i in routed[1]["rpcsentry"]["indicators"]}
        self.assertIn("user_writable_path", names)
        self.assertNotIn("runs_as_system", names)
        a = self.alerts(self.svc)
        for want in (("BaseRegCreateKey", 4300240), ("BaseRegSetValue", 4300241),
                     ("BaseRegSetValue", 4300242), ("BaseRegSaveKey", 4300244)):
            self.assertIn(want, a)

    def test_hive_save_is_an_indicator_even_refused(self):
        save = [r["rpcsentry"] for r in winreg_calls(self.svc)
                if r["rpcsentry"]["operation"] == "BaseRegSaveKey"]
        self.assertEqual(len(save), 1)
        self.assertEqual(save[0]["class"], "read")
        self.assertEqual(save[0]["result"]["status_code"], "0x000000a1")  # ERROR_BAD_PATHNAME
        self.assertEqual([i["name"] for i in save[0]["indicators"]], ["hive_saved"])

    def test_hidden_task(self):
        routed = self.routed(self.task)
        got = [(r["rpcsentry"]["operation"], r["rpcsentry"]["args"]["path"],
                r["rpcsentry"]["args"]["hidden_by"], r["rpcsentry"]["attack"],
                [i["name"] for i in r["rpcsentry"]["indicators"]]) for r in routed]
        self.assertEqual(got, [
            ("BaseRegDeleteValue", r"\LabHiddenTask", "SD deleted", ["T1564", "T1053.005"],
             ["hidden_task"]),
            ("BaseRegSetValue", r"\LabHiddenTask", "Index set to 0", ["T1564", "T1053.005"],
             ["hidden_task"])])
        # Index 3 hides nothing
        idx = [r["rpcsentry"] for r in winreg_calls(self.task)
               if r["rpcsentry"].get("args", {}).get("value_name") == "Index"]
        self.assertEqual([i["args"]["data"] for i in idx], [3, 0])
        self.assertNotIn("route", idx[0])
        a = self.alerts(self.task)
        self.assertIn(("BaseRegDeleteValue", 4300243), a)
        self.assertIn(("BaseRegSetValue", 4300243), a)

    def test_rule_keyword(self):
        from common import TempDir, run
        with TempDir() as d:
            rules = os.path.join(d, "r.rules")
            with open(rules, "w") as f:
                f.write('alert dcerpc any any -> any any (msg:"routed"; rpc.route:registry; '
                        'sid:1; rev:1;)\n'
                        'alert dcerpc any any -> any any (msg:"winreg write not routed"; '
                        'rpc.interface:winreg; rpc.class:modify; rpc.target:false; sid:2; rev:1;)\n')
            _, out, _ = run(["-r", os.path.join(LAB, "samba_reg_service.pcap"), "-q", "-l", "-",
                             "--no-default-rules", "-S", rules])
            recs = [json.loads(l) for l in out.splitlines() if l.strip()]
            sids = [a["alert"]["signature_id"] for a in recs if a["event_type"] == "alert"]
            self.assertEqual(sids.count(1), 3)
            self.assertEqual(sids.count(2), 2)  # Start and Type
            bad = os.path.join(d, "bad.rules")
            with open(bad, "w") as f:
                f.write('alert dcerpc any any -> any any (msg:"x"; rpc.route:smb; sid:3;)\n')
            p = run(["--test-rules", "--no-default-rules", "-S", bad], check=False)
            self.assertNotEqual(p[0], 0)
            self.assertIn("rpc.route: expected registry", p[2])


if __name__ == "__main__":
    unittest.main()
