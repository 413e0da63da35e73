"""Kerberos packet privacy opened with the operator's keytab (--keytab, issue 17).

The lab captures (pcaps/lab/*kerberos*, samba_dc_krb5_sealed; how they were
made in their .md) come with the keytab the lab's DC exported for the
service the client had a ticket for. Each is copied here to a file of mode
0600 (git keeps no mode); then:

- a task registered, run and deleted over TCP by impacket's client, Kerberos
  inside SPNEGO, DCE style, the wrap tokens padded inside (EC 12) and rotated
  by RRC + EC: every call decrypted, the task name and command as the client
  sent them (the .md), the client named from the ticket (Administrator,
  LAB.EXAMPLE), the default alerts and the story as for a clear task, a rule
  on the decrypted stub and `rpc.decrypted` firing;
- a service created, started and deleted the same way: name and binary path;
- Samba's rpcclient against a Samba AD DC, both ends Samba's own Kerberos,
  raw (auth type 16, an auth3 third leg) and inside SPNEGO (EC 16): all 14
  samr calls decrypted, and the names tshark reads from its own decryption
  with the same keytab (the DC's name in SamrConnect5, the domain in
  SamrLookupDomainInSamServer) are in the stubs our rules see; the same with
  rc4-hmac session keys (RFC 4757 wrap tokens in their GSS framing), and over
  \\pipe\\samr in a Kerberos SMB session;
- tshark 4.0 does not decrypt the impacket captures at all, though the
  server (the lab's, impacket's crypto) and the client both read every
  token: both sides' checksums verify here too, so tshark is the one short
  (its DCE/RPC path does not take SPNEGO-wrapped Kerberos tokens whose EC is
  not 0); for those the client's own arguments are the reference;
- a keytab of another service (the DC's, for the fake server's ticket): one
  dcerpc.decrypt_failed per association saying "wrong key for the ticket of
  host/192.0.2.21@LAB.EXAMPLE", nothing decoded; a keytab with no key of
  the ticket's enctype: "no key"; a sealed byte flipped in one request:
  "signature mismatch", that call alone stays sealed;
- a keytab of mode 0644, or a file that is not a keytab: refused, exit 1;
- --keytab and --ntlm-secrets together: the NTLM captures still decrypt;
- `keytab:` in the YAML file of -c;
- and no key of the keytabs appears in any record or message of these runs.
"""

import os
import shutil
import struct
import subprocess
import tempfile
import unittest

from common import PCAPS, DecryptRuns, calls, validate_record

LAB = os.path.join(PCAPS, "lab")
TASK_PCAP = os.path.join(LAB, "epm_task_kerberos.pcap")
SVC_PCAP = os.path.join(LAB, "epm_service_kerberos.pcap")
DC_PCAP = os.path.join(LAB, "samba_dc_krb5_sealed.pcap")
RC4_PCAP = os.path.join(LAB, "samba_dc_krb5_rc4_sealed.pcap")
PIPE_PCAP = os.path.join(LAB, "samba_dc_krb5_pipe_sealed.pcap")
SMB3_PCAP = os.path.join(LAB, "samba_dc_krb5_smb3_encrypted.pcap")
NTLM_PCAP = os.path.join(LAB, "atexec_privacy.pcap")
TASK = "\\LabKrbTask"
TASK_ACTION = ("C:\\Windows\\System32\\cmd.exe", "/c whoami /all > C:\\Windows\\Temp\\krb.txt")
SERVICE = ("LabKrbSvc", "C:\\Windows\\Temp\\labkrb.exe --serve")


def utf16_content(text):
    return "|" + " ".join("%02x" % b for b in text.encode("utf-16-le")) + "|"


def keytab_keys(path):
    """(enctype, key hex) of every entry, read with impacket's keytab reader."""
    from impacket.krb5.keytab import Keytab  # Debian's python3-impacket
    out = []
    for e in Keytab.loadFile(path).entries:
        kb = e.main_part["keyblock"]
        out.append((kb["keytype"], kb["keyvalue"]["data"].hex()))
    return out


def pcap_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    frames, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack("<I", data[off + 8:off + 12])[0]
        frames.append((off, caplen))
        off += 16 + caplen
    return data, frames


def flip_tcp_payload_byte(src, dst, frame, at):
    """Copies an Ethernet/IPv4 pcap with one bit of a frame's TCP payload changed and the
    TCP checksum computed again (RFC 793's pseudo-header sum), so that only the DCE/RPC
    layer can tell."""
    data, frames = pcap_frames(src)
    buf = bytearray(data)
    off, caplen = frames[frame - 1]
    pkt = off + 16
    ihl = (buf[pkt + 14] & 0x0f) * 4
    ip = pkt + 14
    tcp = ip + ihl
    tot = struct.unpack(">H", bytes(buf[ip + 2:ip + 4]))[0]
    tlen = tot - ihl
    doff = (buf[tcp + 12] >> 4) * 4
    buf[tcp + doff + at] ^= 0x01
    buf[tcp + 16:tcp + 18] = b"\0\0"
    seg = bytes(buf[ip + 12:ip + 20]) + struct.pack(">BBH", 0, 6, tlen) + bytes(
        buf[tcp:tcp + tlen])
    if len(seg) % 2:
        seg += b"\0"
    s = sum(struct.unpack(">%dH" % (len(seg) // 2), seg))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    buf[tcp + 16:tcp + 18] = struct.pack(">H", ~s & 0xffff)
    with open(dst, "wb") as f:
        f.write(bytes(buf))


def smb3_session_key_by_impacket(pcap, keytab):
    """(session id, session key) of the capture's Kerberos SMB session, computed without
    the sensor: impacket's DER and Kerberos crypto open the ticket of the SESSION_SETUP
    request with the keytab's key, then the AP-REP of its response with the ticket's
    session key; the AP-REP's subkey is the SMB session key (MS-KILE, MS-SMB2 3.2.5.3)."""
    from impacket.krb5.asn1 import AP_REP, AP_REQ, EncAPRepPart, EncTicketPart
    from impacket.krb5.crypto import Key, _enctype_table
    from impacket.krb5.keytab import Keytab
    from impacket.spnego import SPNEGO_NegTokenInit, SPNEGO_NegTokenResp
    from pyasn1.codec.der import decoder
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "smb2.cmd == 1", "-T", "fields", "-e",
                          "smb2.flags.response", "-e", "smb2.sesid", "-e",
                          "smb2.security_blob"], capture_output=True, text=True,
                         timeout=300).stdout.split("\n")
    rows = [l.split("\t") for l in out if l.count("\t") == 2]
    req = bytes.fromhex(rows[0][2].replace(":", ""))
    resp_sid, resp = int(rows[1][1], 16), bytes.fromhex(rows[1][2].replace(":", ""))

    def after_tok_id(tok, tok_id):
        return tok[tok.index(tok_id) + 2:]  # the GSS framing, its OID, then the TOK_ID
    ap_req = decoder.decode(after_tok_id(SPNEGO_NegTokenInit(req)["MechToken"], b"\x01\x00\x6e"),
                            asn1Spec=AP_REQ())[0]
    etype = int(ap_req["ticket"]["enc-part"]["etype"])
    kb = [e.main_part["keyblock"] for e in Keytab.loadFile(keytab).entries
          if e.main_part["keyblock"]["keytype"] == etype][0]
    plain = _enctype_table[etype]().decrypt(Key(etype, kb["keyvalue"]["data"]), 2,
                                            bytes(ap_req["ticket"]["enc-part"]["cipher"]))
    etp = decoder.decode(plain, asn1Spec=EncTicketPart())[0]
    skey = Key(int(etp["key"]["keytype"]), bytes(etp["key"]["keyvalue"]))
    rep_tok = SPNEGO_NegTokenResp(resp)["ResponseToken"]
    rep = decoder.decode(after_tok_id(rep_tok, b"\x02\x00\x6f") if rep_tok[:1] == b"\x60"
                         else rep_tok, asn1Spec=AP_REP())[0]
    part = decoder.decode(_enctype_table[skey.enctype]().decrypt(
        skey, 12, bytes(rep["enc-part"]["cipher"])), asn1Spec=EncAPRepPart())[0]
    return resp_sid, bytes(part["subkey"]["keyvalue"])


def tshark_fields(pcap, keytab, *fields):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-o", "kerberos.decrypt:TRUE", "-o", "kerberos.file:" + keytab,
         "-Y", " || ".join(fields), "-T", "fields", "-e", "frame.number"]
        + [a for f in fields for a in ("-e", f)],
        capture_output=True, text=True, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        f = line.split("\t")
        rows.append((int(f[0]), f[1:]))
    return rows


class KerberosDecrypt(DecryptRuns, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rpcsentry-krb-")
        cls.kt = {}
        for name in ("epm_task_kerberos", "epm_service_kerberos", "samba_dc_krb5_sealed",
                     "samba_dc_krb5_rc4_sealed", "samba_dc_krb5_pipe_sealed",
                     "samba_dc_krb5_smb3_encrypted"):
            dst = os.path.join(cls.tmp, name + ".keytab")
            shutil.copy(os.path.join(LAB, name + ".keytab"), dst)
            os.chmod(dst, 0o600)
            cls.kt[name] = dst
        cls.rules = os.path.join(cls.tmp, "krb.rules")
        with open(cls.rules, "w") as f:
            f.write('alert dcerpc any any -> any any (msg:"task name in the decrypted stub"; '
                    'rpc.decrypted; dcerpc.stub_data; content:"%s"; sid:9917101; rev:1;)\n'
                    % utf16_content(TASK))
            f.write('alert dcerpc any any -> any any (msg:"a sealed call not decrypted"; '
                    'rpc.sealed; rpc.decrypted:false; sid:9917102; rev:1;)\n')
        cls.outputs = []

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_task_over_tcp_decrypted_as_the_client_sent_it(self):
        _, recs, _ = self.sensor(TASK_PCAP, "--keytab", self.kt["epm_task_kerberos"])
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["SchRpcRegisterTask", "SchRpcRun", "SchRpcDelete"])
        for c in cs:
            x = c["rpcsentry"]
            self.assertIs(x.get("decrypted"), True)
            self.assertEqual(x["auth"]["type"], "SPNEGO")
            self.assertEqual((x["auth"]["user"], x["auth"]["domain"]),
                             ("Administrator", "LAB.EXAMPLE"))
            self.assertEqual(x["args"]["path"], TASK)
            self.assertEqual(x["result"]["status"], "S_OK")  # from the decrypted response
            validate_record(self, c)
        acts = cs[0]["rpcsentry"]["args"]["task"]["actions"]
        self.assertEqual([(a["command"], a["arguments"]) for a in acts], [TASK_ACTION])
        st = self.stats(recs)
        self.assertEqual((st["dce_decrypted"], st["dce_decrypt_failed"]), (3, 0))
        self.assertEqual(self.anomalies(recs), [])
        sids = self.sids(recs)
        self.assertEqual(sids.count(9917101), 3)
        self.assertNotIn(9917102, sids)
        story = [r["rpcsentry"]["story"] for r in recs if r["event_type"] == "lateral_movement"]
        self.assertEqual([(s["name"], s["detail"], s["sealed"]) for s in story],
                         [(TASK, " ".join(TASK_ACTION), False)])
        # tshark 4.0 decrypts none of these stubs (see the module's text)
        dec = tshark_fields(TASK_PCAP, self.kt["epm_task_kerberos"], "dcerpc.decrypted_stub_data")
        self.assertEqual([r for r in dec if any(r[1])], [])

    def test_without_the_keytab_nothing_changes(self):
        _, recs, _ = self.sensor(TASK_PCAP)
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual(len(cs), 3)
        for c in cs:
            self.assertNotIn("decrypted", c["rpcsentry"])
            self.assertNotIn("args", c["rpcsentry"])
            self.assertNotIn("user", c["rpcsentry"]["auth"])  # the client is in the ticket
        self.assertEqual(self.anomalies(recs), [])
        self.assertEqual(self.sids(recs).count(9917102), 3)

    def test_service_over_tcp_decrypted(self):
        _, recs, _ = self.sensor(SVC_PCAP, "--keytab", self.kt["epm_service_kerberos"])
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["ROpenSCManagerW", "RCreateServiceW", "RStartServiceW",
                          "RDeleteService", "RCloseServiceHandle", "RCloseServiceHandle"])
        for c in cs:
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
            self.assertEqual(c["rpcsentry"]["result"]["status"], "ERROR_SUCCESS")
        create = cs[1]["rpcsentry"]["args"]
        self.assertEqual((create["service_name"], create["binary_path"]), SERVICE)
        self.assertIn("RPCSENTRY CREATE svcctl: remote service created (RCreateServiceW)",
                      [r["alert"]["signature"] for r in recs if r["event_type"] == "alert"])
        self.assertEqual(self.stats(recs)["dce_decrypted"], 6)

    def samba_agrees_with_tshark(self, pcap, kt, sessions, auth_types):
        rows = tshark_fields(pcap, kt, "samr.samr_Connect5.system_name",
                             "samr.samr_LookupDomain.domain_name")
        connect = sorted({(f, v[0]) for f, v in rows if v[0]})
        lookup = sorted({(f, v[1]) for f, v in rows if v[1]})
        # tshark decrypts each session: its SamrConnect5 and its lookup of the domain
        self.assertEqual([v for _, v in connect], ["\\\\LABDC.LAB.EXAMPLE"] * sessions)
        self.assertEqual([v for _, v in lookup], ["LAB"] * sessions)
        rules = os.path.join(self.tmp, "samr.rules")
        with open(rules, "w") as f:
            f.write('alert dcerpc any any -> any any (msg:"DC name"; rpc.decrypted; '
                    'dcerpc.opnum:64; dcerpc.stub_data; content:"%s"; sid:9917103; rev:1;)\n'
                    % utf16_content(connect[0][1]))
            f.write('alert dcerpc any any -> any any (msg:"domain"; rpc.decrypted; '
                    'dcerpc.opnum:5; dcerpc.stub_data; content:"%s"; sid:9917104; rev:1;)\n'
                    % utf16_content(lookup[0][1]))
        _, recs, _ = self.sensor(pcap, "--keytab", kt, "-S", rules)
        cs = [c for c in calls(recs) if c["rpcsentry"]["sealed"]]
        self.assertEqual(len(cs), 7 * sessions)
        self.assertEqual([c["rpcsentry"]["auth"]["type"] for c in cs],
                         [t for t in auth_types for _ in range(7)])
        for c in cs:
            self.assertIs(c["rpcsentry"].get("decrypted"), True)
            self.assertEqual(c["rpcsentry"]["auth"]["user"], "Administrator")
            validate_record(self, c)
        hits = [(r["alert"]["signature_id"], r["pcap_cnt"]) for r in recs
                if r["event_type"] == "alert" and r["alert"]["signature_id"] in (9917103, 9917104)]
        frames = {c["pcap_cnt"]: c["rpcsentry"]["request_pcap_cnt"] for c in cs}
        got = sorted((sid, frames.get(p, p)) for sid, p in hits)
        self.assertEqual(got, sorted([(9917103, f) for f, _ in connect]
                                     + [(9917104, f) for f, _ in lookup]))
        self.assertEqual(self.stats(recs)["dce_decrypted"], 7 * sessions)
        self.assertEqual(self.anomalies(recs), [])

    def test_samba_both_ends_raw_and_spnego_agree_with_tshark(self):
        # CFX tokens: EC 0 raw, EC 16 inside SPNEGO
        self.samba_agrees_with_tshark(DC_PCAP, self.kt["samba_dc_krb5_sealed"], 2,
                                      ["Kerberos", "SPNEGO"])

    def test_samba_rc4_session_keys_agree_with_tshark(self):
        # RFC 4757 tokens, in their GSS framing (45 bytes)
        self.samba_agrees_with_tshark(RC4_PCAP, self.kt["samba_dc_krb5_rc4_sealed"], 1,
                                      ["Kerberos"])

    def test_samba_over_a_pipe_agrees_with_tshark(self):
        # \\pipe\\samr in an SMB session that is Kerberos too
        self.samba_agrees_with_tshark(PIPE_PCAP, self.kt["samba_dc_krb5_pipe_sealed"], 1,
                                      ["Kerberos"])

    def test_smb3_session_kerberos_and_encrypted(self):
        """net rpc service create against the DC, the SMB 3.1.1 session Kerberos and
        encrypted: with the DC's keytab the sensor opens the ticket, takes the AP-REP's
        subkey as the session key, derives the encryption keys with the setup's hash and
        reads the creation; the session's user is the ticket's client. tshark 4.0 does not
        learn SMB keys from a keytab; given the session key impacket computes from the same
        keytab (smb2_seskey_list), it decrypts the same creation."""
        kt = self.kt["samba_dc_krb5_smb3_encrypted"]
        _, recs, _ = self.sensor(SMB3_PCAP)
        self.assertEqual(calls(recs), [])  # without keys: nothing but the encrypted session
        self.assertIn("smb.encrypted_session", [r["anomaly"]["event"] for r in recs
                                                if r["event_type"] == "anomaly"])
        _, recs, _ = self.sensor(SMB3_PCAP, "--keytab", kt)
        cs = calls(recs)
        self.assertEqual([c["rpcsentry"]["operation"] for c in cs],
                         ["LsarOpenPolicy", "LsarQueryInformationPolicy", "LsarClose",
                          "ROpenSCManagerW", "RCreateServiceW", "RCloseServiceHandle"])
        for c in cs:
            x = c["rpcsentry"]
            self.assertIs(x.get("smb_encrypted"), True)
            self.assertEqual((x["auth"]["user"], x["auth"]["domain"]),
                             ("Administrator", "LAB.EXAMPLE"))
            validate_record(self, c)
        a = cs[4]["rpcsentry"]["args"]
        mine = (a["service_name"], a["binary_path"])
        self.assertEqual(mine, ("LabKrbEncSvc", "C:\\Windows\\Temp\\krbenc.exe -k run"))
        self.assertEqual(self.stats(recs)["smb_decrypt_failed"], 0)
        self.assertGreater(self.stats(recs)["smb_decrypted"], 10)
        sid, key = smb3_session_key_by_impacket(SMB3_PCAP, kt)
        self.assertEqual(len(key), 32)  # an aes256 subkey
        plain = subprocess.run(["tshark", "-r", SMB3_PCAP, "-o", "kerberos.decrypt:TRUE", "-o",
                                "kerberos.file:" + kt, "-Y", "svcctl.binarypathname", "-T",
                                "fields", "-e", "svcctl.binarypathname"],
                               capture_output=True, text=True, timeout=300).stdout.split()
        self.assertEqual(plain, [])  # the keytab alone: tshark sees no svcctl
        uat = 'uat:smb2_seskey_list:%s,%s,"",""' % (sid.to_bytes(8, "little").hex(),
                                                    key[:16].hex())
        out = subprocess.run(["tshark", "-2", "-r", SMB3_PCAP, "-o", uat, "-Y",
                              "svcctl.binarypathname && dcerpc.pkt_type == 0", "-T", "fields",
                              "-e", "svcctl.servicename", "-e", "svcctl.binarypathname"],
                             capture_output=True, text=True, timeout=300).stdout
        self.assertEqual([tuple(l.split("\t")) for l in out.splitlines() if l], [mine])

    def test_the_keytab_of_another_service_is_the_wrong_key(self):
        _, recs, _ = self.sensor(TASK_PCAP, "--keytab", self.kt["samba_dc_krb5_sealed"])
        an = self.anomalies(recs)
        self.assertEqual([a["rpcsentry"]["detail"] for a in an],
                         ["wrong key for the ticket of host/192.0.2.21@LAB.EXAMPLE"])
        for c in calls(recs):
            self.assertNotIn("args", c["rpcsentry"]) if c["rpcsentry"]["sealed"] else None
            self.assertIsNot(c["rpcsentry"].get("decrypted"), True)
        st = self.stats(recs)
        self.assertEqual((st["dce_decrypted"], st["dce_decrypt_failed"]), (0, 3))

    def test_no_key_of_the_enctype(self):
        # the right account's AES keys only: its tickets are sealed with rc4-hmac (the .md)
        from impacket.krb5.keytab import Keytab
        kt = Keytab.loadFile(self.kt["epm_task_kerberos"])
        kt.entries = [e for e in kt.entries if e.main_part["keyblock"]["keytype"] != 23]
        self.assertEqual(len(kt.entries), 2)
        path = os.path.join(self.tmp, "rc4only.keytab")
        kt.saveFile(path)
        os.chmod(path, 0o600)
        _, recs, _ = self.sensor(TASK_PCAP, "--keytab", path)
        self.assertEqual([a["rpcsentry"]["detail"] for a in self.anomalies(recs)],
                         ["no key for the ticket of host/192.0.2.21@LAB.EXAMPLE"])

    def test_a_flipped_sealed_byte_fails_its_checksum_only(self):
        _, recs, _ = self.sensor(SVC_PCAP, "--keytab", self.kt["epm_service_kerberos"])
        create = [c for c in calls(recs) if c["rpcsentry"]["operation"] == "RCreateServiceW"][0]
        path = os.path.join(self.tmp, "flipped.pcap")
        # a byte of the sealed stub (after the 24-byte request header), the TCP checksum mended
        flip_tcp_payload_byte(SVC_PCAP, path, create["rpcsentry"]["request_pcap_cnt"], 40)
        _, recs, _ = self.sensor(path, "--keytab", self.kt["epm_service_kerberos"])
        an = self.anomalies(recs)
        self.assertEqual([a["rpcsentry"]["detail"] for a in an], ["signature mismatch"])
        cs = {c["rpcsentry"]["operation"]: c["rpcsentry"] for c in calls(recs)
              if c["rpcsentry"]["sealed"]}
        self.assertIsNot(cs["RCreateServiceW"].get("decrypted"), True)
        self.assertNotIn("binary_path", cs["RCreateServiceW"].get("args", {}))
        self.assertIs(cs["RDeleteService"].get("decrypted"), True)
        st = self.stats(recs)
        self.assertEqual((st["dce_decrypted"], st["dce_decrypt_failed"]), (5, 1))

    def test_a_keytab_others_may_read_is_refused(self):
        path = os.path.join(self.tmp, "open.keytab")
        shutil.copy(self.kt["epm_task_kerberos"], path)
        os.chmod(path, 0o644)
        rc, recs, err = self.sensor(TASK_PCAP, "--keytab", path, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("permissions 0644 are too open", err)
        self.assertIn("--keytab", err)
        junk = os.path.join(self.tmp, "junk.keytab")
        with open(junk, "w") as f:
            f.write("not a keytab\n")
        os.chmod(junk, 0o600)
        rc, _, err = self.sensor(TASK_PCAP, "--keytab", junk, check=False)
        self.assertEqual(rc, 1)
        self.assertIn("not a keytab MIT krb5 can read", err)

    def test_keytab_and_ntlm_secrets_together(self):
        from impacket import ntlm
        secrets = os.path.join(self.tmp, "lab.secrets")
        with open(secrets, "w") as f:
            f.write("LAB\\Administrator:%s\n" % ntlm.compute_nthash("Passw0rd!").hex())
        os.chmod(secrets, 0o600)
        both = ["--keytab", self.kt["epm_task_kerberos"], "--ntlm-secrets", secrets]
        _, recs, _ = self.sensor(NTLM_PCAP, *both)
        self.assertEqual(self.stats(recs)["dce_decrypted"], 4)
        _, recs, _ = self.sensor(TASK_PCAP, *both)
        self.assertEqual(self.stats(recs)["dce_decrypted"], 3)
        self.assertEqual(self.anomalies(recs), [])

    def test_keytab_in_the_yaml_file(self):
        conf = os.path.join(self.tmp, "rpcsentry.yaml")
        with open(conf, "w") as f:
            f.write("keytab:\n  - %s\n" % self.kt["epm_task_kerberos"])
        _, recs, _ = self.sensor(TASK_PCAP, "-c", conf)
        self.assertEqual(self.stats(recs)["dce_decrypted"], 3)

    def test_zz_no_key_in_any_output(self):
        keys = [k for kt in self.kt.values() for _, k in keytab_keys(kt)]
        self.assertGreaterEqual(len(keys), 6)
        self.assertTrue(self.outputs)
        for text in self.outputs:
            low = text.lower()
            for k in keys:
                self.assertNotIn(k, low)


if __name__ == "__main__":
    unittest.main()
