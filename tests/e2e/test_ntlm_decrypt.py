"""NTLMSSP packet privacy opened with the operator's NT hash (--ntlm-secrets, issue 17).

The lab captures were made with LAB\\Administrator and the password Passw0rd!
(pcaps/lab/*.md). The NT hash is computed here from the password with
impacket's ntlm module and written to a secrets file of mode 0600; then:

- atexec over \\pipe\\atsvc at packet privacy: the four task calls decrypted,
  the task name and command equal what the client sent (the .md) and what
  tshark reads from its own decryption given the same password (its
  decrypted stub bytes, read here with the few lines of NDR of
  test_decoded.py, the XML with ElementTree); the default rules and a rule on
  the decrypted `dcerpc.stub_data` fire; `rpc.decrypted` matches;
- Samba's rpcclient, sealed, over \\pipe\\srvsvc and over TCP (lsarpc):
  decrypted; the server name tshark decodes in NetrServerGetInfo is in the
  stub our rules see;
- Samba's rpcclient with NTLMSSP inside SPNEGO (auth type 9), each side's
  last token with a mechListMIC, after which both RC4 streams start again:
  both calls decrypted, the server names tshark decodes in our stubs;
- a service created, started and deleted over TCP at packet privacy: its
  name and binary path equal the client's and tshark's (svcctl fields of its
  own decryption), the story and the default alerts as for a clear one;
- a task over TCP whose registration is sealed in four fragments: each
  unsealed on its own with the stream running on, the task as the client
  sent it; tshark 4.0 decrypts only the first fragment right (the task name
  in it agrees), and loses the stream for the later fragments and calls;
- the same capture with one sealed fragment's segment left out: the client's
  stream cannot be followed any more: one anomaly saying so, nothing decrypted;
- a wrong password: one dcerpc.decrypt_failed anomaly per association with
  the reason, nothing decoded; a key for someone else: "no key for user";
- a secrets file of mode 0644, or with a malformed line: refused, exit 1,
  the hash not quoted;
- the same key given in the YAML file of -c;
- and the hash never appears in any record or message of any of these runs.
"""

import os
import shutil
import struct
import stat
import subprocess
import tempfile
import unittest

from common import PCAPS, DecryptRuns, calls, run, validate_record
from test_decoded import Ndr, xml_actions

ATEXEC = os.path.join(PCAPS, "lab", "atexec_privacy.pcap")
SAMBA = os.path.join(PCAPS, "lab", "samba_rpcclient_sealed.pcap")
FRAGMENTED = os.path.join(PCAPS, "lab", "epm_task_privacy_fragmented.pcap")
SPNEGO = os.path.join(PCAPS, "lab", "samba_rpcclient_spnego_sealed.pcap")
SERVICE = os.path.join(PCAPS, "lab", "epm_service_privacy.pcap")
PASSWORD = "Passw0rd!"
TASK = "\\oWCFJowo"
COMMAND = ("cmd.exe", "/C whoami > %windir%\\Temp\\oWCFJowo.tmp 2>&1")
LM_EMPTY = "aad3b435b51404eeaad3b435b51404ee"


def nt_hash(password):
    from impacket import ntlm  # Debian's python3-impacket
    return ntlm.compute_nthash(password).hex()


def utf16_content(text):
    return "|" + " ".join("%02x" % b for b in text.encode("utf-16-le")) + "|"


def drop_frames(src, dst, drop):
    """Copies a classic pcap, leaving out the frames numbered in drop (from 1)."""
    with open(src, "rb") as f:
        data = f.read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out, off, n = [data[:24]], 24, 0
    while off + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        n += 1
        if n not in drop:
            out.append(data[off:off + 16 + caplen])
        off += 16 + caplen
    with open(dst, "wb") as f:
        f.write(b"".join(out))


def tshark_decrypted(pcap):
    """{request frame: (opnum, decrypted stub bytes)} from tshark given the password."""
    out = subprocess.run(
        ["tshark", "-r", pcap, "-o", "ntlmssp.nt_password:" + PASSWORD, "-Y",
         "dcerpc.pkt_type == 0 && dcerpc.decrypted_stub_data", "-T", "fields", "-e",
         "frame.number", "-e", "dcerpc.opnum", "-e", "dcerpc.decrypted_stub_data"],
        capture_output=True, text=True, timeout=300).stdout
    got = {}
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) == 3 and f[2]:
            got[int(f[0])] = (int(f[1]), bytes.fromhex(f[2].replace(":", "")))
    return got


def tshark_field(pcap, field):
    out = subprocess.run(
        ["tshark", "-2", "-r", pcap, "-o", "ntlmssp.nt_password:" + PASSWORD, "-Y", field,
         "-T", "fields", "-e", field], capture_output=True, text=True, timeout=300).stdout
    return [v for v in out.splitlines() if v]


class NtlmDecrypt(DecryptRuns, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rpcsentry-ntlm-")
        cls.hash = nt_hash(PASSWORD)
        cls.secrets = cls.write_secrets(
            "good", "# secretsdump output\n\nLAB\\Administrator:500:%s:%s:::\n" % (
                LM_EMPTY, cls.hash))
        cls.wrong = cls.write_secrets("wrong", "LAB\\Administrator:%s\n" % nt_hash("Passw0rd?"))
        cls.other = cls.write_secrets("other", "LAB\\alice:%s\n" % cls.hash)
        cls.rules = os.path.join(cls.tmp, "decrypted.rules")
        with open(cls.rules, "w") as f:
            f.write('alert dcerpc any any -> any any (msg:"task name in the decrypted stub"; '
                    'rpc.decrypted; dcerpc.stub_data; content:"%s"; sid:9917001; rev:1;)\n'
                    % utf16_content(TASK))
            f.write('alert dcerpc any any -> any any (msg:"a sealed call not decrypted"; '
                    'rpc.sealed; rpc.decrypted:false; sid:9917002; rev:1;)\n')
        cls.outputs = []  # every stdout and stderr, searched for the hash at the end

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write_secrets(cls, name, text, mode=0o600):
        path = os.path.join(cls.tmp, name + ".secrets")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_atexec_over_atsvc_decrypted_as_the_client_sent_it_and_as_tshark_reads_it(self):
        _, recs, _ = self.sensor(ATEXEC, "--ntlm-secrets", self.secrets)
        cs = calls(recs)
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["SchRpcRegisterTask", "SchRpcRun", "SchRpcGetLastRunInfo",
                          "SchRpcDelete"])
        for c in cs:
            x = c["rpcsentry"]
            self.assertTrue(x["sealed"])
            self.assertIs(x.get("decrypted"), True)
            self.assertEqual(x["auth"]["user"], "Administrator")
            self.assertEqual(x["auth"]["domain"], "LAB")
            self.assertEqual(x["args"]["path"], TASK)
            self.assertIn("result", x)  # the status, read from the decrypted response
            validate_record(self, c)
        reg = cs[0]["rpcsentry"]
        ours = [(a["command"], a["arguments"]) for a in reg["args"]["task"]["actions"]]
        self.assertEqual(ours, [COMMAND])
        self.assertEqual(reg.get("class_detail"), None)  # the flags are read: a creation
        self.assertIn("create", reg["args"]["flags"])

        # tshark, given the same password, decrypts the same stubs
        agreed = 0
        for frame, (opnum, stub) in tshark_decrypted(ATEXEC).items():
            mine = [c for c in cs if c["rpcsentry"]["request_pcap_cnt"] == frame]
            self.assertEqual(len(mine), 1, frame)
            x = mine[0]["rpcsentry"]
            self.assertEqual(x["opnum"], opnum)
            n = Ndr(stub)
            if opnum == 1:
                self.assertEqual(n.unique_string(), x["args"]["path"])
                self.assertEqual(xml_actions(n.string()), ours)
            else:
                self.assertEqual(n.string(), x["args"]["path"])
            agreed += 1
        self.assertEqual(agreed, 4)

        st = self.stats(recs)
        self.assertEqual(st["dce_decrypted"], 4)
        self.assertEqual(st["dce_decrypt_failed"], 0)
        self.assertEqual(self.anomalies(recs), [])
        sids = self.sids(recs)
        self.assertEqual(sids.count(9917001), 4)  # each decrypted stub names the task
        self.assertNotIn(9917002, sids)
        atexec = [r for r in recs if r["event_type"] == "alert"
                  and "atexec" in r["alert"]["signature"]]
        self.assertEqual(len(atexec), 1)  # the indicator rule reads the decrypted command
        story = [r for r in recs if r["event_type"] == "lateral_movement"]
        self.assertEqual(len(story), 1)
        st = story[0]["rpcsentry"]["story"]
        self.assertFalse(st["sealed"])  # the story names the task and its command
        self.assertEqual(st["name"], TASK)
        self.assertEqual(st["detail"], " ".join(COMMAND))

    def test_without_secrets_nothing_changes(self):
        _, recs, _ = self.sensor(ATEXEC)
        for c in calls(recs):
            x = c["rpcsentry"]
            self.assertTrue(x["sealed"])
            self.assertNotIn("decrypted", x)
            self.assertNotIn("args", x)
        self.assertEqual(self.anomalies(recs), [])
        self.assertEqual(self.stats(recs)["dce_decrypted"], 0)
        self.assertEqual(self.stats(recs)["dce_decrypt_failed"], 0)
        self.assertNotIn(9917001, self.sids(recs))
        self.assertEqual(self.sids(recs).count(9917002), 4)

    def test_samba_rpcclient_over_pipe_and_tcp_decrypted(self):
        # the server name tshark decodes from its decryption, looked for in our decrypted stub
        unc = tshark_field(SAMBA, "srvsvc.srvsvc_NetSrvGetInfo.server_unc")
        self.assertEqual(unc, ["\\\\192.0.2.20"])
        rules = os.path.join(self.tmp, "samba.rules")
        with open(rules, "w") as f:
            f.write('alert dcerpc any any -> any any (msg:"server name"; rpc.decrypted; '
                    'dcerpc.stub_data; content:"%s"; sid:9917003; rev:1;)\n'
                    % utf16_content(unc[0]))
        _, recs, _ = self.sensor(SAMBA, "--ntlm-secrets", self.secrets, "-S", rules)
        sealed = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([(c["rpcsentry"]["operation"], c["rpcsentry"]["transport"])
                          for c in sealed],
                         [("NetrServerGetInfo", "ncacn_np"), ("LsarOpenPolicy", "ncacn_ip_tcp")])
        for c in sealed:
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
            validate_record(self, c)
        self.assertEqual(self.sids(recs).count(9917003), 1)
        self.assertEqual(self.stats(recs)["dce_decrypted"], 2)
        self.assertEqual(self.anomalies(recs), [])

    def test_spnego_with_mechlistmic(self):
        names = (tshark_field(SPNEGO, "srvsvc.srvsvc_NetSrvGetInfo.server_unc")
                 + tshark_field(SPNEGO, "srvsvc.srvsvc_NetShareEnumAll.server_unc"))
        self.assertEqual(names, ["\\\\192.0.2.20", "192.0.2.20"])
        rules = os.path.join(self.tmp, "spnego.rules")
        with open(rules, "w") as f:
            f.write('alert dcerpc any any -> any any (msg:"GetInfo server"; rpc.decrypted; '
                    'dcerpc.opnum:21; dcerpc.stub_data; content:"%s"; sid:9917004; rev:1;)\n'
                    % utf16_content(names[0]))
            f.write('alert dcerpc any any -> any any (msg:"ShareEnumAll server"; rpc.decrypted; '
                    'dcerpc.opnum:15; dcerpc.stub_data; content:"%s"; sid:9917005; rev:1;)\n'
                    % utf16_content(names[1]))
        _, recs, _ = self.sensor(SPNEGO, "--ntlm-secrets", self.secrets, "-S", rules)
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["NetrServerGetInfo", "NetrShareEnum"])
        for c in cs:
            self.assertEqual(c["rpcsentry"]["auth"]["type"], "SPNEGO")
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
        sids = self.sids(recs)
        self.assertEqual((sids.count(9917004), sids.count(9917005)), (1, 1))
        self.assertEqual(self.anomalies(recs), [])

    def test_sealed_service_creation_over_tcp(self):
        out = subprocess.run(
            ["tshark", "-r", SERVICE, "-o", "ntlmssp.nt_password:" + PASSWORD, "-Y",
             "dcerpc.pkt_type == 0 && svcctl.binarypathname", "-T", "fields", "-e",
             "frame.number", "-e", "svcctl.servicename", "-e", "svcctl.binarypathname"],
            capture_output=True, text=True, timeout=300).stdout.split("\n")[0].split("\t")
        name, path = "LabSealedSvc", "C:\\Windows\\Temp\\labsealed.exe -k run"
        self.assertEqual(out[1:], [name, path])  # tshark, from its own decryption
        _, recs, _ = self.sensor(SERVICE, "--ntlm-secrets", self.secrets)
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["ROpenSCManagerW", "RCreateServiceW", "RStartServiceW",
                          "RDeleteService", "RCloseServiceHandle", "RCloseServiceHandle"])
        for c in cs:
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
            self.assertEqual(c["rpcsentry"]["result"]["status"], "ERROR_SUCCESS")
            validate_record(self, c)
        create = cs[1]["rpcsentry"]
        self.assertEqual(create["request_pcap_cnt"], int(out[0]))
        self.assertEqual((create["args"]["service_name"], create["args"]["binary_path"]),
                         (name, path))
        # the handle from the creation names the service of the later calls
        self.assertEqual([c["rpcsentry"]["args"].get("service_name") for c in cs[2:5]],
                         [name] * 3)
        story = [r["rpcsentry"]["story"] for r in recs if r["event_type"] == "lateral_movement"]
        self.assertEqual([(s["name"], s["detail"], s["sealed"]) for s in story],
                         [(name, path, False)])
        self.assertIn("RPCSENTRY CREATE svcctl: remote service created (RCreateServiceW)",
                      [r["alert"]["signature"] for r in recs if r["event_type"] == "alert"])
        self.assertEqual(self.stats(recs)["dce_decrypted"], 6)

    def test_sealed_fragments_over_tcp(self):
        _, recs, _ = self.sensor(FRAGMENTED, "--ntlm-secrets", self.secrets)
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["SchRpcRegisterTask", "SchRpcRun", "SchRpcDelete"])
        self.assertEqual(cs[0]["dcerpc"]["req"]["frag_cnt"], 4)
        for c in cs:
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
            self.assertEqual(c["rpcsentry"]["transport"], "ncacn_ip_tcp")
            self.assertEqual(c["rpcsentry"]["args"]["path"], "\\LabSealedTask")
        acts = cs[0]["rpcsentry"]["args"]["task"]["actions"]
        self.assertEqual([(a["command"], a["arguments"]) for a in acts],
                         [("C:\\Windows\\System32\\cmd.exe",
                           "/c ipconfig /all > C:\\Windows\\Temp\\ip.txt")])
        self.assertEqual(self.stats(recs)["dce_decrypted"], 3)
        self.assertEqual(self.anomalies(recs), [])
        # tshark: the first fragment of the registration, decrypted, names the same task
        out = subprocess.run(
            ["tshark", "-r", FRAGMENTED, "-o", "ntlmssp.nt_password:" + PASSWORD, "-Y",
             "dcerpc.pkt_type == 0 && dcerpc.opnum == 1", "-T", "fields", "-e",
             "dcerpc.decrypted_stub_data"], capture_output=True, text=True, timeout=300).stdout
        first = bytes.fromhex(out.split()[0].split(",")[0])
        self.assertEqual(len(first), 512)
        self.assertEqual(Ndr(first).unique_string(), cs[0]["rpcsentry"]["args"]["path"])

    def test_a_lost_segment_stops_that_direction(self):
        gap = os.path.join(self.tmp, "gap.pcap")
        drop_frames(FRAGMENTED, gap, {23})  # the third fragment of SchRpcRegisterTask
        _, recs, _ = self.sensor(gap, "--ntlm-secrets", self.secrets)
        an = self.anomalies(recs)
        self.assertEqual(len(an), 1)
        self.assertIn("bytes were lost", an[0]["rpcsentry"]["detail"])
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual(len(cs), 3)
        for c in cs:
            self.assertNotIn("decrypted", c["rpcsentry"])
            self.assertNotIn("args", c["rpcsentry"])
        st = self.stats(recs)
        self.assertEqual((st["dce_decrypted"], st["dce_decrypt_failed"]), (0, 3))

    def test_wrong_password_one_anomaly_per_association_and_nothing_decoded(self):
        for pcap, assocs in ((ATEXEC, 1), (SAMBA, 2)):
            _, recs, _ = self.sensor(pcap, "--ntlm-secrets", self.wrong)
            an = self.anomalies(recs)
            self.assertEqual(len(an), assocs, pcap)
            for a in an:
                self.assertIn("wrong key", a["rpcsentry"]["detail"])
            for c in calls(recs):
                self.assertNotIn("decrypted", c["rpcsentry"])
                if c["rpcsentry"]["sealed"]:
                    self.assertNotIn("args", c["rpcsentry"])
            self.assertNotIn(9917001, self.sids(recs))
            st = self.stats(recs)
            self.assertEqual(st["dce_decrypted"], 0)
            self.assertGreaterEqual(st["dce_decrypt_failed"], assocs)
        _, recs, _ = self.sensor(ATEXEC, "--ntlm-secrets", self.other)
        an = self.anomalies(recs)
        self.assertEqual([a["rpcsentry"]["detail"] for a in an],
                         ["no key for user LAB\\Administrator"])

    def test_several_hashes_for_the_user_the_one_that_proves_is_taken(self):
        # an entry without a domain (any domain) with an old hash, then the right one
        both = self.write_secrets("both", "administrator:%s\nlab\\ADMINISTRATOR:%s\n"
                                  % (nt_hash("OldPassw0rd!"), self.hash))
        _, recs, _ = self.sensor(ATEXEC, "--ntlm-secrets", both)
        self.assertTrue(all(c["rpcsentry"].get("decrypted") for c in calls(recs)))
        self.assertEqual(self.stats(recs)["dce_decrypted"], 4)
        self.assertEqual(self.anomalies(recs), [])

    def test_report_shows_the_decrypted_task(self):
        logdir = os.path.join(self.tmp, "report")
        os.makedirs(logdir, exist_ok=True)
        run(["-q", "-r", ATEXEC, "-l", logdir, "--ntlm-secrets", self.secrets])
        _, out, err = run(["report", os.path.join(logdir, "eve.json")])
        self.outputs.append(out + err)
        self.assertIn("%s: %s" % (TASK, " ".join(COMMAND)), out)
        self.assertNotIn("arguments are encrypted", out)

    def test_the_yaml_file_takes_the_same_key(self):
        conf = os.path.join(self.tmp, "rpcsentry.yaml")
        with open(conf, "w") as f:
            f.write("ntlm-secrets:\n  - %s\n  - %s\n" % (self.other, self.secrets))
        _, recs, _ = self.sensor(ATEXEC, "-c", conf)
        self.assertTrue(all(c["rpcsentry"].get("decrypted") for c in calls(recs)))
        self.assertEqual(self.stats(recs)["dce_decrypted"], 4)

    def test_files_others_may_read_or_malformed_are_refused(self):
        loose = self.write_secrets("loose", "LAB\\Administrator:%s\n" % self.hash, 0o644)
        rc, recs, err = self.sensor(ATEXEC, "--ntlm-secrets", loose, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("too open", err)
        self.assertIn(loose, err)
        self.assertEqual(recs, [])
        os.chmod(loose, 0o640)
        rc, _, err = self.sensor(ATEXEC, "--ntlm-secrets", loose, check=False)
        self.assertEqual(rc, 1)
        bad = self.write_secrets("bad", "# ok\nLAB\\Administrator:%s\nbob:%s:\n"
                                 % (self.hash, self.hash[:20]))
        rc, recs, err = self.sensor(ATEXEC, "--ntlm-secrets", bad, check=False)
        self.assertEqual(rc, 1)
        self.assertIn(bad + ":3:", err)
        self.assertEqual(recs, [])
        rc, _, err = self.sensor(ATEXEC, "--ntlm-secrets", os.path.join(self.tmp, "absent"),
                                 check=False)
        self.assertEqual(rc, 1)
        self.assertTrue(stat.S_IMODE(os.stat(self.secrets).st_mode) == 0o600)

    def test_zz_no_secret_in_any_output(self):
        # runs last (name order): every output of the runs above, and one more with -v
        _, _, err = run(["-v", "-r", ATEXEC, "-l", "-", "--ntlm-secrets", self.secrets,
                         "--stats-interval", "1"])
        self.outputs.append(err)
        self.assertGreaterEqual(len(self.outputs), 8)
        text = "\n".join(self.outputs).lower()
        for h in (self.hash, nt_hash("Passw0rd?"), self.hash[:20]):
            self.assertNotIn(h.lower(), text)
        self.assertNotIn(PASSWORD.lower(), text)


if __name__ == "__main__":
    unittest.main()
