"""Rules: loading and reporting, the default rule set on real captures, the
byte-level fallback, and the standard subset in Suricata itself.

Default rule set (signatures/):
- standard.rules: one rule per create/modify/delete/execute operation of the
  four interfaces, Suricata's keywords only. Every such call raises exactly one
  of these alerts, and no other call does.
- rpcsentry.rules: per call at most one "with attacker indicators" alert, only
  on calls whose record lists indicators, at severity 1; tool rules; stories.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from common import (BIN, PCAPS, ROOT, SHARED_PCAPS, TempDir, need_shared, records, run,
                    validate_record)

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import pcapgen  # noqa: E402

SIGS = os.path.join(ROOT, "signatures")
STANDARD = range(4300001, 4300200)
INDICATOR = (4300200, 4300201, 4300202)
CMDX = ("create", "modify", "delete", "execute")


def rule_lines(path):
    """(line number, sid) of each rule in a file, continuations joined."""
    out, buf, start = [], "", 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line[:-1]
                continue
            buf += line
            m = re.search(r"\bsid\s*:\s*(\d+)", buf)
            out.append((start, int(m.group(1)) if m else None))
            buf = ""
    return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class RuleFiles(unittest.TestCase):
    def test_default_rules_load_cleanly(self):
        want = sum(len(rule_lines(os.path.join(SIGS, f)))
                   for f in os.listdir(SIGS) if f.endswith(".rules"))
        rc, out, err = run(["--test-rules"])
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "%d rules loaded (%s), 0 errors\n" % (want, SIGS))
        self.assertGreater(want, 40)

    def test_bad_rules_are_reported_by_file_and_line(self):
        with TempDir() as d:
            path = os.path.join(d, "mine.rules")
            write(path,
                  "# a comment\n"
                  "alert dcerpc any any -> any any (msg:\"ok\"; dcerpc.opnum:12; sid:1;)\n"
                  "alert dcerpc any any -> any any (msg:\"typo\"; dcerpc.opnum:twelve; sid:2;)\n"
                  "\n"
                  "alert dcerpc any any -> any any (msg:\"split\"; \\\n"
                  "    rpc.class:steal; sid:3;)\n"
                  "alert dcerpc any any -> any any (msg:\"dup\"; sid:1;)\n")
            rc, out, err = run(["--test-rules", "--no-default-rules", "-S", path], check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "1 rules loaded (-S files), 3 errors\n")
        lines = err.splitlines()
        self.assertEqual(lines, [
            "rpcsentry: error: %s:3: dcerpc.opnum: not a number: twelve" % path,
            "rpcsentry: error: %s:5: rpc.class: unknown class steal (read, create, modify, "
            "delete, execute, other)" % path,
            "rpcsentry: error: %s:7: duplicate sid 1 (rev 1; %s:2 has rev 1): this one is "
            "dropped" % (path, path)])

    def test_missing_rule_file_is_an_error(self):
        rc, out, err = run(["--test-rules", "-S", "/nonexistent/x.rules"], check=False)
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/x.rules: No such file or directory", err)

    def test_a_directory_of_rules_loads_every_rules_file(self):
        with TempDir() as d:
            write(os.path.join(d, "a.rules"), "alert dcerpc any any -> any any (sid:1;)\n")
            write(os.path.join(d, "b.rules"), "alert dcerpc any any -> any any (sid:2;)\n")
            write(os.path.join(d, "c.txt"), "alert dcerpc any any -> any any (sid:3;)\n")
            rc, out, _ = run(["--test-rules", "--no-default-rules", "-S", d])
        self.assertEqual(out, "2 rules loaded (-S files), 0 errors\n")

    def test_a_run_keeps_the_good_rules_of_a_bad_file(self):
        """Suricata's way: a bad rule is reported, the others work."""
        with TempDir() as d:
            path = os.path.join(d, "mixed.rules")
            write(path,
                  "alert dcerpc any any -> any any (msg:\"bad\"; pcre:\"/(/\"; sid:1;)\n"
                  "alert dcerpc any any -> any any (msg:\"create\"; rpc.class:create; "
                  "rpc.target; sid:2;)\n")
            rc, out, err = run(["-q", "-r", os.path.join(PCAPS, "tcp_lateral_movement.pcap"),
                                "-l", "-", "--no-default-rules", "-S", path])
        self.assertEqual(rc, 0)
        self.assertRegex(err, r"mixed\.rules:1: pcre: .* at offset")
        alerts = [json.loads(l) for l in out.splitlines() if '"alert"' in l]
        self.assertEqual([(a["alert"]["signature_id"], a["rpcsentry"]["operation"])
                          for a in alerts if a["event_type"] == "alert"],
                         [(2, "SchRpcRegisterTask"), (2, "RCreateServiceW")])

    def test_standard_rules_load_in_suricata(self):
        """The standard subset (and the fallback examples) use only Suricata's keywords."""
        if not shutil.which("suricata"):
            self.skipTest("suricata is not installed (Debian: bookworm-backports)")
        for name in ("standard.rules", os.path.join("examples", "fallback.rules")):
            path = os.path.join(SIGS, name)
            with self.subTest(rules=name), TempDir() as d:
                p = subprocess.run(["suricata", "-T", "-v", "-S", path, "-l", d],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                n = len(rule_lines(path))
                self.assertIn("%d rules successfully loaded, 0 rules failed" % n,
                              p.stdout + p.stderr)


def shared_captures():
    return sorted(f for f in os.listdir(SHARED_PCAPS) if f.endswith((".pcap", ".pcapng")))


class DefaultRulesOnRealCaptures(unittest.TestCase):
    """Every shared capture, with the default rules."""

    @classmethod
    def setUpClass(cls):
        cls.runs = {}
        if not os.path.isdir(SHARED_PCAPS):
            return
        for name in shared_captures():
            cls.runs[name] = records(os.path.join(SHARED_PCAPS, name))

    def setUp(self):
        need_shared(self)

    def each(self):
        for name, recs in self.runs.items():
            calls = {(r["flow_id"], r["tx_id"]): r for r in recs
                     if r["event_type"] == "dcerpc" and r["dcerpc"]["request"] == "REQUEST"}
            alerts = [r for r in recs if r["event_type"] == "alert"]
            yield name, recs, calls, alerts

    def test_one_standard_alert_per_create_modify_delete_execute_call(self):
        total = 0
        for name, _, calls, alerts in self.each():
            # a call routed through the registry is a target call that standard.rules cannot
            # see (winreg's keys are not in its keywords): rpcsentry.rules alerts on it
            want = sorted(k for k, c in calls.items()
                          if c["rpcsentry"].get("target") and c["rpcsentry"]["class"] in CMDX
                          and not c["rpcsentry"].get("route"))
            got = sorted((a["flow_id"], a["tx_id"]) for a in alerts
                         if a["alert"]["signature_id"] in STANDARD)
            with self.subTest(capture=name):
                self.assertEqual(got, want)
            total += len(want)
        self.assertGreater(total, 60)

    def test_alerts_describe_their_call(self):
        """An alert carries the call's dcerpc and rpcsentry context; its message names the
        operation for the standard rules."""
        for name, _, calls, alerts in self.each():
            for a in alerts:
                if "dcerpc" not in a:
                    continue  # story alerts
                c = calls.get((a["flow_id"], a["tx_id"]))
                with self.subTest(capture=name, alert=a["alert"]["signature_id"]):
                    self.assertIsNotNone(c)
                    self.assertEqual(a["direction"], "to_server")
                    self.assertEqual(a["pcap_cnt"], c["rpcsentry"]["request_pcap_cnt"])
                    for k in ("interface", "operation", "opnum", "class", "sealed"):
                        self.assertEqual(a["rpcsentry"].get(k), c["rpcsentry"].get(k), k)
                    self.assertEqual(a["dcerpc"]["req"]["opnum"], c["dcerpc"]["req"]["opnum"])
                    if a["alert"]["signature_id"] in STANDARD:
                        self.assertIn("(%s)" % c["rpcsentry"]["operation"],
                                      a["alert"]["signature"])
                        self.assertIn(c["rpcsentry"]["class"].upper(), a["alert"]["signature"])

    def test_indicator_alerts_only_where_indicators_are(self):
        seen = 0
        for name, _, calls, alerts in self.each():
            per_call = collections.Counter((a["flow_id"], a["tx_id"]) for a in alerts
                                           if a["alert"]["signature_id"] in INDICATOR)
            want = {k for k, c in calls.items() if c["rpcsentry"].get("indicators") and
                    c["rpcsentry"].get("target") and
                    c["rpcsentry"]["class"] in ("create", "modify", "execute")}
            with self.subTest(capture=name):
                self.assertEqual(set(per_call), want)
                self.assertTrue(all(n == 1 for n in per_call.values()), per_call)
            for a in alerts:
                if a["alert"]["signature_id"] in INDICATOR:
                    self.assertEqual(a["alert"]["severity"], 1)
                    self.assertTrue(a["rpcsentry"]["indicators"])
                    seen += 1
        self.assertGreater(seen, 5)

    # capture -> tool rules it must raise, exactly (others: none)
    TOOLS = {
        "401trg-detections__20171220_smb_psexec_add_user.pcap": {4300220: 1},
        "suricata-verify__dcerpc-smb-test-01__input.pcap": {4300220: 1},
        "401trg-detections__20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap":
            {4300223: 1},
        "Intranet_penetration_history__atexec.pcapng": {4300222: 1},
    }

    def test_tools_are_named(self):
        tool_sids = range(4300220, 4300230)
        for name, _, _, alerts in self.each():
            got = collections.Counter(a["alert"]["signature_id"] for a in alerts
                                      if a["alert"]["signature_id"] in tool_sids)
            if name in self.TOOLS:
                with self.subTest(capture=name):
                    self.assertEqual(dict(got), self.TOOLS[name])
            elif "psexec_add_user" not in name and "8629" not in name and \
                    "filecontainer" not in name and "smb2-07" not in name:
                # the same PsExec session is inside several suricata-verify captures
                with self.subTest(capture=name):
                    self.assertEqual(dict(got), {})

    # capture -> the stories it tells
    STORIES = {
        "Intranet_penetration_history__atexec.pcapng": ["task_register_run_delete"],
        "401trg-detections__20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap":
            ["service_create_start_delete"],
        "401trg-detections__20171220_smb_psexec_add_user.pcap": ["service_create_start_delete"],
        "PCAP-ATTACK__LM_Fileless_Lateral_Movement_ChangeServiceConfig_svcctl.pcapng":
            ["service_binary_swap"],
        "PCAP-ATTACK__LM_psexec_smb_dcerpc_epm_svcctl.pcapng": ["service_create_start"],
        "PCAP-ATTACK__LM_smbexec_smb_dcerpc_svcctl_epm.pcapng":
            ["service_create_start_delete"] * 2,
        "Security-Datasets__schtask_create_2020-12-1907003032.pcap": [],
    }

    def test_stories_on_real_captures(self):
        for name, recs, calls, alerts in self.each():
            stories = [r for r in recs if r["event_type"] == "lateral_movement"]
            if name in self.STORIES:
                with self.subTest(capture=name):
                    self.assertEqual([s["rpcsentry"]["story"]["kind"] for s in stories],
                                     self.STORIES[name])
            for s in stories:
                st = s["rpcsentry"]["story"]
                with self.subTest(capture=name, story=st["kind"]):
                    # each piece is a call of this capture, in time order
                    keys = [(p["flow_id"], p["tx_id"]) for p in st["pieces"]]
                    for k in keys:
                        self.assertIn(k, calls)
                    times = [p["timestamp"] for p in st["pieces"]]
                    self.assertEqual(times, sorted(times))
                    # and one story alert says so
                    said = [a for a in alerts if a.get("rpcsentry", {}).get("story") == st]
                    self.assertEqual(len(said), 1)
                    self.assertEqual(said[0]["alert"]["severity"], 1)

    def test_every_record_validates(self):
        for name, recs, _, _ in self.each():
            for r in recs:
                validate_record(self, r)


class Fallback(unittest.TestCase):
    """signatures/examples/fallback.rules over raw streams."""

    FALLBACK = os.path.join(SIGS, "examples", "fallback.rules")

    def test_uuids_found_in_the_raw_stream_once_per_flow(self):
        recs = records(os.path.join(PCAPS, "tcp_lateral_movement.pcap"),
                       "--no-default-rules", "-S", self.FALLBACK)
        alerts = [r for r in recs if r["event_type"] == "alert"]
        # each UUID's wire bytes: in the endpoint mapper's flow (the lookup and its answer)
        # and in the flow of the interface's own bind
        flows = {c["rpcsentry"]["interface"]: c["flow_id"] for c in records(
            os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "--no-default-rules")
            if c["event_type"] == "dcerpc" and c["rpcsentry"].get("interface")}
        got = sorted((a["alert"]["signature_id"], a["flow_id"]) for a in alerts)
        self.assertEqual(got, sorted([(4300900, flows["epm"]), (4300900, flows[
            "ITaskSchedulerService"]), (4300903, flows["epm"]), (4300903, flows["svcctl"])]))
        for a in alerts:
            self.assertNotIn("dcerpc", a)

    def test_a_uuid_split_across_segments_of_a_stream_no_parser_follows(self):
        """A stream that is not DCE/RPC or SMB (on port 8443): the svcctl UUID's text and
        wire bytes, each cut in two by the segment boundary."""
        pw = pcapgen.PcapWriter()
        conn = pcapgen.TcpConn(pw, pcapgen.Endpoint("10.9.0.1", 50123),
                               pcapgen.Endpoint("10.9.0.2", 8443))
        wire = pcapgen.uuid_wire(pcapgen.SVCCTL[0])
        text = pcapgen.SVCCTL[0].encode()
        data = b"GET /x HTTP/1.1\r\n" + b"A" * 40 + wire + b"B" * 30 + text + b"\r\n"
        cut1 = 17 + 40 + 7   # inside the wire bytes
        conn.send(0, data[:cut1])
        cut2 = cut1 + 9 + 30 + 20  # inside the text
        conn.send(0, data[cut1:cut2])
        conn.send(0, data[cut2:])
        conn.close()
        with TempDir() as d:
            p = os.path.join(d, "split.pcap")
            pw.write(p)
            with_rules = records(p, "--no-default-rules", "-S", self.FALLBACK)
            without = records(p, "--no-default-rules")
        sids = sorted(a["alert"]["signature_id"] for a in with_rules
                      if a["event_type"] == "alert")
        self.assertEqual(sids, [4300903, 4300905])
        self.assertEqual(without, [])


class Reload(unittest.TestCase):
    """SIGHUP reloads the rules between two packets; calls in flight are not lost."""

    def test_sighup_reloads_rules_and_keeps_calls_in_flight(self):
        import fcntl
        import signal
        import termios
        import time
        from test_cli import packet_offsets
        pcap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        with open(pcap, "rb") as f:
            data = f.read()
        offs = packet_offsets(data) + [len(data)]
        at = {r["rpcsentry"]["operation"]: r["rpcsentry"] for r in records(
            pcap, "--no-default-rules") if r.get("rpcsentry", {}).get("operation")}
        create, start = at["RCreateServiceW"], at["RStartServiceW"]
        # A: up to RCreateServiceW's request; B: to its response; C: RStartServiceW on
        a_end, b_end = create["request_pcap_cnt"], create["response_pcap_cnt"]
        self.assertLess(b_end, start["request_pcap_cnt"])
        part_a, part_b, part_c = data[:offs[a_end]], data[offs[a_end]:offs[b_end]], \
            data[offs[b_end]:]
        with TempDir() as d:
            rules = os.path.join(d, "live.rules")
            write(rules, "alert dcerpc any any -> any any (msg:\"v1 create\"; rpc.class:create; "
                         "rpc.target; sid:1;)\n")
            p = subprocess.Popen([BIN, "-v", "-q", "-r", "-", "-l", "-", "--no-default-rules",
                                  "-S", rules], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)

            def feed(chunk):
                p.stdin.write(chunk)
                p.stdin.flush()
                # until the sensor has read it all, and a moment to handle it
                for _ in range(500):
                    buf = bytearray(4)
                    fcntl.ioctl(p.stdin.fileno(), termios.FIONREAD, buf)
                    if int.from_bytes(buf, "little") == 0:
                        break
                    time.sleep(0.01)
                time.sleep(0.3)

            feed(part_a)
            write(rules, "alert dcerpc any any -> any any (msg:\"broken\"; rpc.class:nope; "
                         "sid:9;)\n")
            p.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            feed(part_b)
            write(rules, "alert dcerpc any any -> any any (msg:\"v2 create\"; rpc.class:create; "
                         "rpc.target; sid:2;)\n"
                         "alert dcerpc any any -> any any (msg:\"v2 execute\"; rpc.class:execute; "
                         "rpc.target; sid:3;)\n")
            p.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            p.stdin.write(part_c)
            out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        err = err.decode()
        self.assertIn("live.rules:1: rpc.class: unknown class nope", err)
        self.assertIn("rule reload failed (1 errors): keeping the 1 rules in use", err)
        self.assertIn("rules reloaded: 2 rules", err)
        recs = [json.loads(l) for l in out.decode().splitlines()]
        alerts = [(r["alert"]["signature_id"], r["rpcsentry"]["operation"]) for r in recs
                  if r["event_type"] == "alert"]
        self.assertEqual(alerts, [(1, "SchRpcRegisterTask"), (1, "RCreateServiceW"),
                                  (3, "RStartServiceW")])
        ops = [r["rpcsentry"].get("operation") for r in recs if r["event_type"] == "dcerpc"]
        self.assertIn("RCreateServiceW", ops)  # its response came after both reloads
        create = [r for r in recs if r.get("rpcsentry", {}).get("operation") == "RCreateServiceW"
                  and r["event_type"] == "dcerpc"][0]
        self.assertEqual(create["dcerpc"]["response"], "RESPONSE")
        stories = [r["rpcsentry"]["story"]["kind"] for r in recs
                   if r["event_type"] == "lateral_movement"]
        self.assertEqual(stories, ["task_register_run_delete", "service_create_start_delete"])


if __name__ == "__main__":
    unittest.main()
