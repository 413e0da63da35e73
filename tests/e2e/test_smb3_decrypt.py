"""Encrypted SMB 3 opened with the operator's keys (issue 17).

The lab's captures of svcctl over encrypted SMB 3 (pcaps/lab/smb3_encrypted_*: Samba with
smb encrypt = required; net rpc service over 3.1.1 with each of the four ciphers,
impacket's services and psexec over 3.0 with AES-128-CCM) were made with
LAB\\Administrator and the password Passw0rd!. Here:

- without a key nothing of the calls shows: one smb.encrypted_session anomaly per
  connection, without a reason (as before SMB 3 decryption existed);
- with --ntlm-secrets (the NT hash of the password) the sensor follows the NTLMSSP of
  SESSION_SETUP, takes the ExportedSessionKey, derives the keys and decrypts every
  TRANSFORM_HEADER: the service name, display name and binary path of RCreateServiceW
  equal what the client was told (the .md) and what tshark decodes when it is given the
  same session key through its smb2_seskey_list table; every call says smb_encrypted,
  and no call of a clear session does;
- a 3.1.1 session on two channels (tests/gen/smb3gen.py, real AES-GCM): the calls on the
  second channel opened with the keys the first one's setup made; the second channel
  alone refused with the reason;
- the session key is computed here, independently of the sensor, from the password and
  the captured NTLMv2 exchange (MS-NLMP 3.3.2: NTOWFv2, NTProofStr, SessionBaseKey, the
  RC4 of EncryptedRandomSessionKey), and handed to the sensor with --smb-keys and to
  tshark: both give the same calls;
- a capture that starts inside a 3.0 encrypted session: opened with --smb-keys;
- a wrong session key, a key for another session, a wrong password: the
  smb.encrypted_session anomaly with the reason, no call, smb_decrypt_failed counted;
- a --smb-keys file of mode 0644 or with a malformed line is refused (exit 1) without
  quoting it; the same file given in the YAML of -c works;
- no key, hash or password appears in any record or message of these runs.

Where tshark and the sensor disagree, the test says who is right: so far they agree on
every call of every capture.
"""

import glob
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from common import PCAPS, run, validate_record

LAB = os.path.join(PCAPS, "lab")
PASSWORD = "Passw0rd!"
CAPTURES = sorted(glob.glob(os.path.join(LAB, "smb3_encrypted_*.pcap")))


def nt_hash(password):
    from impacket import ntlm  # Debian's python3-impacket
    return ntlm.compute_nthash(password)


def tshark_fields(pcap, flt, *fields, extra=()):
    out = subprocess.run(["tshark", "-r", pcap] + list(extra) + ["-Y", flt, "-T", "fields"]
                         + [a for f in fields for a in ("-e", f)],
                         capture_output=True, text=True, timeout=300).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def session_keys(pcap, password):
    """{session id: ExportedSessionKey} of every NTLMv2 SESSION_SETUP, from the password
    (MS-NLMP 3.3.2 and 3.4.5.1: KXKEY = SessionBaseKey for NTLMv2; with key exchange the
    exported key is RC4(KXKEY, EncryptedRandomSessionKey))."""
    challenges = {sid: bytes.fromhex(ch) for sid, ch in tshark_fields(
        pcap, "ntlmssp.messagetype == 2", "smb2.sesid", "ntlmssp.ntlmserverchallenge")}
    keys = {}
    for sid, user, dom, resp, enc, flags in tshark_fields(
            pcap, "ntlmssp.messagetype == 3", "smb2.sesid", "ntlmssp.auth.username",
            "ntlmssp.auth.domain", "ntlmssp.ntlmv2_response", "ntlmssp.auth.sesskey",
            "ntlmssp.negotiateflags"):
        resp = bytes.fromhex(resp)
        rk = hmac.new(nt_hash(password), (user.upper() + dom).encode("utf-16-le"),
                      hashlib.md5).digest()
        proof = hmac.new(rk, challenges[sid] + resp[16:], hashlib.md5).digest()
        if proof != resp[:16]:
            continue  # not this password
        base = hmac.new(rk, resp[:16], hashlib.md5).digest()
        key = base
        if int(flags, 16) & 0x40000000:  # NTLMSSP_NEGOTIATE_KEY_EXCH
            from Cryptodome.Cipher import ARC4
            key = ARC4.new(base).decrypt(bytes.fromhex(enc))
        keys[int(sid, 16)] = key
    return keys


def wire_id(sid):
    """A session id as Wireshark's smb2_seskey_list takes it: its 8 bytes as on the wire."""
    return sid.to_bytes(8, "little").hex()


def tshark_creates(pcap, keys):
    """(service name, display name, binary path) of each CreateServiceW request tshark
    decodes given the session keys."""
    uat = []
    for sid, key in keys.items():
        # byte fields unquoted (quoted, tshark refuses them), empty strings quoted
        uat += ["-o", 'uat:smb2_seskey_list:%s,%s,"",""' % (wire_id(sid), key.hex())]
    rows = tshark_fields(pcap, "svcctl.opnum == 12 && dcerpc.pkt_type == 0",
                         "svcctl.servicename", "svcctl.displayname", "svcctl.binarypathname",
                         extra=["-2"] + uat)
    return [tuple(r + [""] * (3 - len(r))) for r in rows]


def creates(recs):
    out = []
    for r in recs:
        x = r.get("rpcsentry", {})
        if r.get("event_type") == "dcerpc" and r["dcerpc"].get("request") == "REQUEST" \
                and x.get("operation") == "RCreateServiceW":
            a = x.get("args", {})
            out.append((a.get("service_name", ""), a.get("display_name", ""),
                        a.get("binary_path", "")))
    return out


def expected_creates(pcap):
    with open(pcap[:-len(".pcap")] + ".expected.json") as f:
        doc = json.load(f)
    return [(c["args"]["service_name"], c["args"]["binary_path"]) for c in doc["calls"]
            if c["operation"] == "RCreateServiceW"]


def name_path(cr):
    return [(n, p) for n, _, p in cr]


class Smb3Decrypt(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not CAPTURES:
            raise unittest.SkipTest("no pcaps/lab/smb3_encrypted_* captures")
        cls.tmp = tempfile.mkdtemp(prefix="rpcsentry-smb3-")
        cls.secrets = cls.write("good.secrets", "LAB\\Administrator:%s\n" % nt_hash(PASSWORD).hex())
        cls.wrong = cls.write("wrong.secrets", "LAB\\Administrator:%s\n" % nt_hash("Passw0rd?").hex())
        cls.keys = {p: session_keys(p, PASSWORD) for p in CAPTURES}
        cls.outputs = []
        cls.secret_texts = [nt_hash(PASSWORD).hex(), PASSWORD] + [
            k.hex() for ks in cls.keys.values() for k in ks.values()]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def write(cls, name, text, mode=0o600):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def sensor(self, pcap, *extra, check=True):
        rc, out, err = run(["-q", "-r", pcap, "-l", "-", "--stats-interval", "1"] + list(extra),
                           check=check)
        self.outputs.append(out + err)
        recs = [json.loads(l) for l in out.splitlines() if l.strip()]
        return rc, recs, err

    @staticmethod
    def stats(recs):
        return [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]

    @staticmethod
    def anomalies(recs):
        """The smb.encrypted_session anomalies, each with its reason (rpcsentry.detail)."""
        return [dict(r["anomaly"], **r.get("rpcsentry", {})) for r in recs
                if r["event_type"] == "anomaly" and r["anomaly"].get("event") ==
                "smb.encrypted_session"]

    def smb_keys_file(self, pcap, name, key=None, sid=None):
        lines = ["# session id (as on the wire, Wireshark's form):session key"]
        for s, k in self.keys[pcap].items():
            lines.append("%s:%s" % (wire_id(sid if sid is not None else s),
                                    (key or k).hex()))
        return self.write(name, "\n".join(lines) + "\n")

    def test_the_summary_counts_the_messages(self):
        pcap = os.path.join(LAB, "smb3_encrypted_net_service_311_aes128gcm.pcap")
        _, _, err = run(["-r", pcap, "-l", "-", "--ntlm-secrets", self.secrets])
        self.assertRegex(err, r"SMB 3 encryption: [1-9][0-9]* messages decrypted\n")
        _, _, err = run(["-r", pcap, "-l", "-", "--ntlm-secrets", self.wrong])
        self.assertRegex(err, r"SMB 3 encryption: 0 messages decrypted, [1-9][0-9]* not")
        _, _, err = run(["-r", pcap, "-l", "-"])
        self.assertNotIn("SMB 3 encryption", err)  # as before, without keys

    def test_clear_smb_says_nothing_of_encryption(self):
        _, recs, _ = self.sensor(os.path.join(LAB, "samba_net_rpc_service.pcap"),
                                 "--ntlm-secrets", self.secrets)
        dce = [r for r in recs if r["event_type"] == "dcerpc"]
        self.assertTrue(dce)
        for r in dce:
            self.assertNotIn("smb_encrypted", r["rpcsentry"])
        self.assertEqual(self.stats(recs)["smb_decrypted"], 0)

    def test_without_a_key_nothing_but_the_anomaly(self):
        for pcap in CAPTURES:
            _, recs, _ = self.sensor(pcap)
            self.assertEqual(creates(recs), [], pcap)
            an = self.anomalies(recs)
            self.assertGreaterEqual(len(an), 1, pcap)
            for a in an:
                self.assertNotIn("detail", a)  # as before: no reason without a key store

    def test_ntlm_secrets_open_every_capture_as_the_client_and_tshark_saw_it(self):
        for pcap in CAPTURES:
            name = os.path.basename(pcap)
            _, recs, _ = self.sensor(pcap, "--ntlm-secrets", self.secrets)
            for r in recs:
                validate_record(self, r)
            got = creates(recs)
            self.assertEqual(name_path(got), expected_creates(pcap), name)
            # every call says it rode an encrypted session that was opened
            dce = [r for r in recs if r["event_type"] == "dcerpc"]
            self.assertTrue(dce, name)
            for r in dce:
                self.assertIs(r["rpcsentry"].get("smb_encrypted"), True, name)
            self.assertEqual(self.anomalies(recs), [], name)
            st = self.stats(recs)
            self.assertGreater(st["smb_decrypted"], 0, name)
            self.assertEqual(st["smb_decrypt_failed"], 0, name)
            # tshark, given the session key computed here from the password, decodes the
            # same CreateServiceW (tshark 4.0 fills display and path as we do)
            self.assertTrue(self.keys[pcap], name)
            self.assertEqual(tshark_creates(pcap, self.keys[pcap]), got, name)

    def test_smb_keys_give_what_ntlm_secrets_give(self):
        for pcap in CAPTURES:
            keys = self.smb_keys_file(pcap, "sessions.keys")
            _, recs, _ = self.sensor(pcap, "--smb-keys", keys)
            self.assertEqual(name_path(creates(recs)), expected_creates(pcap), pcap)
            self.assertEqual(self.anomalies(recs), [], pcap)
            # the session id as tshark shows it (0x and the number) works too
            path = self.write("num.keys", "".join("0x%016x:%s\n" % (s, k.hex())
                                                  for s, k in self.keys[pcap].items()))
            _, recs2, _ = self.sensor(pcap, "--smb-keys", path)
            self.assertEqual(creates(recs2), creates(recs), pcap)

    def test_a_wrong_session_key_is_refused_with_the_reason(self):
        pcap = os.path.join(LAB, "smb3_encrypted_net_service_311_aes256gcm.pcap")
        keys = self.smb_keys_file(pcap, "wrong.keys", key=bytes(range(16)))
        _, recs, _ = self.sensor(pcap, "--smb-keys", keys)
        self.assertEqual(creates(recs), [])
        an = self.anomalies(recs)
        self.assertEqual(len(an), 1)
        self.assertIn("tag mismatch", an[0]["detail"])
        st = self.stats(recs)
        self.assertEqual(st["smb_decrypted"], 0)
        self.assertGreater(st["smb_decrypt_failed"], 0)

    def test_a_key_for_another_session_or_a_wrong_password(self):
        pcap = os.path.join(LAB, "smb3_encrypted_net_service_311_aes128ccm.pcap")
        keys = self.smb_keys_file(pcap, "other.keys", sid=0x1234)
        _, recs, _ = self.sensor(pcap, "--smb-keys", keys)
        self.assertEqual(creates(recs), [])
        # the operator's keys name another session; the NTLM exchange has no hash to open
        self.assertRegex(self.anomalies(recs)[0]["detail"],
                         r"^no key for session 0x[0-9a-f]{16}: no key for user "
                         r"LAB\\Administrator$")
        _, recs, _ = self.sensor(pcap, "--ntlm-secrets", self.wrong)
        self.assertEqual(creates(recs), [])
        self.assertIn("wrong key", self.anomalies(recs)[0]["detail"])
        other = self.write("alice.secrets", "LAB\\alice:%s\n" % nt_hash(PASSWORD).hex())
        _, recs, _ = self.sensor(pcap, "--ntlm-secrets", other)
        self.assertIn("no key for user LAB\\Administrator", self.anomalies(recs)[0]["detail"])

    def test_files_refused_and_the_yaml(self):
        pcap = CAPTURES[0]
        loose = self.smb_keys_file(pcap, "loose.keys")
        os.chmod(loose, 0o644)
        rc, recs, err = self.sensor(pcap, "--smb-keys", loose, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("too open", err)
        bad = self.write("bad.keys", "# ok\n%s:%s:zz\n" % ("00" * 8, "ab" * 16))
        rc, _, err = self.sensor(pcap, "--smb-keys", bad, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("bad.keys:2:", err)
        self.assertNotIn("ab" * 16, err)
        good = self.smb_keys_file(pcap, "yaml.keys")
        conf = self.write("c.yaml", "smb-keys:\n  - %s\n" % good)
        _, recs, _ = self.sensor(pcap, "-c", conf)
        self.assertEqual(name_path(creates(recs)), expected_creates(pcap))

    def test_a_key_learnt_on_one_channel_serves_the_other(self):
        # tests/gen/smb3gen.py: SMB 3.1.1 AES-128-GCM, connection A sets the session up and
        # opens \svcctl, connection B binds to the session and carries the calls; B's own
        # hash is not the session's, so B is opened only with what A taught the table
        import sys
        sys.path.insert(0, os.path.join(os.path.dirname(PCAPS), "tests", "gen"))
        import smb3gen
        key = bytes(range(0x40, 0x50))
        pcap = os.path.join(self.tmp, "multichannel.pcap")
        sid, port_b = smb3gen.multichannel(pcap, key)
        keys = self.write("mc.keys", "%s:%s\n" % (wire_id(sid), key.hex()))
        self.secret_texts.append(key.hex())
        _, recs, _ = self.sensor(pcap, "--smb-keys", keys)
        made = [r for r in recs if r.get("event_type") == "dcerpc"
                and r["rpcsentry"].get("operation") == "RCreateServiceW"]
        self.assertEqual(len(made), 1)
        self.assertEqual(made[0]["src_port"], port_b)
        self.assertEqual(made[0]["rpcsentry"]["args"]["service_name"], "ChannelTwoSvc")
        self.assertEqual(made[0]["rpcsentry"]["args"]["binary_path"], "C:\\Windows\\Temp\\two.exe")
        self.assertEqual(self.anomalies(recs), [])
        st = self.stats(recs)
        self.assertEqual(st["smb_decrypt_failed"], 0)
        # tshark decrypts both channels with the same key (it too keeps keys per session),
        # but does not take B's WRITEs for pipe data (the FileId was opened on A), so it
        # dissects no svcctl there; MS-SMB2 3.3.5.2.9 finds an Open by FileId in the
        # session, whatever the channel: we are right to read the calls
        uat = ["-o", 'uat:smb2_seskey_list:%s,%s,"",""' % (wire_id(sid), key.hex())]
        dec = tshark_fields(pcap, "smb2.cmd", "tcp.srcport", "tcp.dstport", "smb2.cmd",
                            extra=["-2"] + uat)
        b_cmds = {int(c.split(",")[0]) for sp, dp, c in dec if port_b in (int(sp), int(dp))}
        self.assertTrue({0x09, 0x08, 0x06} <= b_cmds, b_cmds)  # WRITE, READ, CLOSE on B
        # B alone (the capture cut to it): 3.1.1 keys need the hash of the session's setup,
        # which only A carried
        only_b = os.path.join(self.tmp, "only_b.pcap")
        subprocess.run(["tshark", "-r", pcap, "-Y", "tcp.port == %d" % port_b, "-w", only_b,
                        "-F", "pcap"], capture_output=True, check=True)
        _, recs, _ = self.sensor(only_b, "--smb-keys", keys)
        self.assertEqual(creates(recs), [])
        self.assertIn("pre-authentication hash", self.anomalies(recs)[0]["detail"])

    def test_a_capture_that_starts_inside_the_encrypted_session(self):
        # the 3.0 capture without its handshake, NEGOTIATE and SESSION_SETUP: 3.0 keys
        # need no hash, so the operator's session key still opens it (and tells which end
        # is the server by the key that verifies); the NT hash cannot (no exchange seen)
        pcap = os.path.join(LAB, "smb3_encrypted_net_service_30_aes128ccm.pcap")
        last = int(tshark_fields(pcap, "smb2.cmd == 1 && smb2.nt_status == 0",
                                 "frame.number")[-1][0])
        cut = os.path.join(self.tmp, "midstream.pcap")
        subprocess.run(["tshark", "-r", pcap, "-Y", "frame.number > %d" % last, "-w", cut,
                        "-F", "pcap"], capture_output=True, check=True)
        keys = self.smb_keys_file(pcap, "mid.keys")
        _, recs, _ = self.sensor(cut, "--smb-keys", keys)
        self.assertEqual(name_path(creates(recs)), expected_creates(pcap))
        self.assertEqual(self.stats(recs)["smb_decrypt_failed"], 0)
        _, recs, _ = self.sensor(cut, "--ntlm-secrets", self.secrets)
        self.assertEqual(creates(recs), [])
        self.assertRegex(self.anomalies(recs)[0]["detail"], r"^no key for session 0x")

    def test_zz_no_secret_in_any_output(self):
        # runs last (name order): every output of the tests above
        self.assertTrue(self.outputs)
        for text in self.outputs:
            low = text.lower()
            for s in self.secret_texts:
                self.assertNotIn(s.lower(), low)


if __name__ == "__main__":
    unittest.main()
