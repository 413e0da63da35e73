"""Files written over SMB on disk shares (issue 19): `fileinfo` records with the share
path, the bytes written, whether every byte was seen and, when it was, the SHA-256.
tshark's `--export-objects smb` (the file as Wireshark puts it together) is the
cross-check of name, size and digest."""
import glob
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import unittest
import urllib.parse

from common import PCAPS, ROOT, SHARED_PCAPS, TempDir, records, validate_record

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import evasion as E  # noqa: E402
import smbgen as S  # noqa: E402

# The shared captures that drop a binary on a disk share: (capture, path, size).
DROPS = [
    ("401trg-detections__20171220_smb_psexec_add_user.pcap",
     "\\\\dc1\\ADMIN$\\PSEXESVC.exe", 145568),
    ("PCAP-ATTACK__LM_psexec_smb_dcerpc_epm_svcctl.pcapng",
     "\\\\172.16.66.36\\ADMIN$\\PSEXESVC.exe", 145568),
    ("suricata-verify__filestore-filecontainer-smb__filecontainer-smb.pcap",
     "\\\\192.168.24.100\\ADMIN$\\PSEXESVC.EXE", 181064),
]


def need_shared(test):
    if not os.path.isdir(SHARED_PCAPS):
        if os.environ.get("RPCSENTRY_REQUIRE_SHARED"):
            test.fail("../shared/pcaps is required here")
        test.skipTest("../shared/pcaps is absent")


def files_of(recs):
    return [r for r in recs if r["event_type"] == "fileinfo"]


def tshark_objects(pcap, d):
    """{(path inside the share, sha256)} of what tshark exports from the capture."""
    subprocess.run(["tshark", "-r", pcap, "--export-objects", "smb," + d], check=True,
                   capture_output=True)
    out = set()
    for p in os.listdir(d):
        # a later copy of a name is "name(1)", "name(1).ext" (or "(1).DS_Store")
        name = re.sub(r"\(\d+\)(?=\.[^.\\]*$|$)", "", urllib.parse.unquote(p))
        with open(os.path.join(d, p), "rb") as f:
            out.add((name.lstrip("\\"), hashlib.sha256(f.read()).hexdigest(), os.path.getsize(
                os.path.join(d, p))))
    return out


class SharedDrops(unittest.TestCase):
    def test_psexec_binaries(self):
        """PSEXESVC dropped on ADMIN$: path, size, PE, whole, digest; the digest is that
        of tshark's exported object."""
        need_shared(self)
        for cap, path, size in DROPS:
            pcap = os.path.join(SHARED_PCAPS, cap)
            recs = records(pcap)
            for r in recs:
                validate_record(self, r)
            drops = [f for f in files_of(recs) if f["rpcsentry"]["path"] == path]
            self.assertEqual(len(drops), 1, cap)
            f = drops[0]
            self.assertEqual(f["fileinfo"]["size"], size, cap)
            self.assertEqual(f["rpcsentry"]["written"], size, cap)
            self.assertTrue(f["rpcsentry"]["whole"], cap)
            self.assertEqual(f["rpcsentry"]["file_type"], "pe", cap)
            self.assertEqual(f["fileinfo"]["state"], "CLOSED", cap)
            self.assertEqual(f["app_proto"], "smb")
            # the rule on executables written over SMB, once for this file, with its objects
            alerts = [r for r in recs if r["event_type"] == "alert"
                      and r["alert"]["signature_id"] == 4300310]
            self.assertIn(f["fileinfo"], [a["fileinfo"] for a in alerts], cap)
            self.assertEqual(len(alerts), len([x for x in files_of(recs)
                                               if x["rpcsentry"].get("file_type") == "pe"]), cap)
            if shutil.which("tshark"):
                with TempDir() as d:
                    objs = tshark_objects(pcap, d)
                self.assertIn((f["smb"]["filename"].lstrip("\\"), f["fileinfo"]["sha256"], size),
                              objs, cap)

    def test_every_whole_file_agrees_with_tshark(self):
        """Every file we say was seen whole, on every shared capture, is an object tshark
        exports with the same name, size and SHA-256."""
        need_shared(self)
        if not shutil.which("tshark"):
            self.skipTest("tshark is absent")
        caps = [p for p in sorted(glob.glob(os.path.join(SHARED_PCAPS, "*")))
                if p.endswith((".pcap", ".pcapng", ".cap"))]
        recs = records(caps)
        by_cap = {}
        for f in files_of(recs):
            by_cap.setdefault(f["pcap_filename"], []).append(f)
        self.assertGreaterEqual(len(by_cap), 8)
        whole = 0
        for cap, fs in sorted(by_cap.items()):
            with TempDir() as d:
                objs = tshark_objects(cap, d)
            for f in fs:
                if f["rpcsentry"]["whole"]:
                    whole += 1
                    # SMB1 names start with a backslash, SMB2 names do not; tshark's
                    # object names always do (taken off in tshark_objects)
                    self.assertIn((f["smb"]["filename"].lstrip("\\"), f["fileinfo"]["sha256"],
                                   f["fileinfo"]["size"]), objs, cap)
                else:
                    self.assertNotIn("sha256", f["fileinfo"])
        self.assertGreaterEqual(whole, 30)

    def test_hole_in_a_file(self):
        """mimikatz copied to C$ with one 64 KiB WRITE missing from the capture: no digest,
        gaps. tshark exports the file with the hole filled (its digest is not the file's)."""
        need_shared(self)
        recs = records(os.path.join(SHARED_PCAPS, "401trg-detections__20171220_smb_mimikatz_copy.pcap"))
        (f,) = files_of(recs)
        self.assertEqual(f["rpcsentry"]["path"], "\\\\admin-pc\\c$\\temp\\mimikatz.exe")
        self.assertEqual(f["fileinfo"]["size"], 804352)
        self.assertTrue(f["fileinfo"]["gaps"])
        self.assertFalse(f["rpcsentry"]["whole"])
        self.assertNotIn("sha256", f["fileinfo"])
        self.assertEqual(f["rpcsentry"]["file_type"], "pe")


class Stories(unittest.TestCase):
    # capture -> how the story finds the file: by the binary path it names, or (sealed
    # calls name none) as the executable the same client wrote just before
    PSEXEC = {
        "401trg-detections__20171220_smb_psexec_add_user.pcap": "path",
        "suricata-verify__filestore-filecontainer-smb__filecontainer-smb.pcap": "path",
        "401trg-detections__20171220_smb_psexec_mimikatz_ticket_dump.pcap": "time",
        "PCAP-ATTACK__LM_psexec_smb_dcerpc_epm_svcctl.pcapng": "time",
    }

    def test_psexec_stories_carry_the_file(self):
        """Each PsExec story names the file its service binary came in by: the fileinfo
        record of the same capture, path, size and digest alike, written before it."""
        need_shared(self)
        for cap, how in self.PSEXEC.items():
            recs = records(os.path.join(SHARED_PCAPS, cap))
            files = {(f["rpcsentry"]["path"], f["flow_id"], f["pcap_cnt"]): f for f in files_of(recs)}
            stories = [r for r in recs if r["event_type"] == "lateral_movement"]
            self.assertTrue(stories, cap)
            for r in stories:
                validate_record(self, r)
                st = r["rpcsentry"]["story"]
                fl = st["file"]
                self.assertEqual(fl["matched_by"], how, cap)
                f = files[(fl["path"], fl["flow_id"], fl["pcap_cnt"])]
                self.assertEqual((fl["size"], fl.get("sha256")),
                                 (f["fileinfo"]["size"], f["fileinfo"].get("sha256")), cap)
                self.assertLess(fl["timestamp"], r["timestamp"])
                self.assertIn(fl["path"], st["summary"])
                if how == "path":  # %SystemRoot%\X.exe is \\host\ADMIN$\X.exe
                    self.assertEqual(st["detail"].split("\\")[-1].lower(),
                                     fl["path"].split("\\")[-1].lower())

    def test_no_file_without_one(self):
        """smbexec writes no binary (its service runs cmd.exe): its story names no file."""
        need_shared(self)
        recs = records(os.path.join(SHARED_PCAPS, "PCAP-ATTACK__LM_smbexec_smb_dcerpc_svcctl_epm.pcapng"))
        stories = [r for r in recs if r["event_type"] == "lateral_movement"]
        self.assertTrue(stories)
        for r in stories:
            self.assertNotIn("file", r["rpcsentry"]["story"])


TOOL_PIPES = (("psexesvc", "PsExec"), ("psexecsvc", "PsExec"), ("pskllsvc", "PsKill"))


def tshark_rows(pcap, filt, *fields):
    p = subprocess.run(["tshark", "-r", pcap, "-Y", filt, "-T", "fields"] +
                       [a for f in fields for a in ("-e", f)], capture_output=True, text=True,
                       check=True)
    return [l.split("\t") for l in p.stdout.splitlines()]


def ioctl_inputs(pcap):
    """(FileId, input bytes) of every SMB2 IOCTL request, from tshark's JSON with raw bytes."""
    p = subprocess.run(["tshark", "-r", pcap, "-Y", "smb2.cmd == 11 && smb2.flags.response == 0",
                        "-T", "json", "-x"], capture_output=True, text=True, check=True)
    out = []

    def walk(o, found):
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "smb2.fid":
                    found.setdefault("fid", v)
                elif k == "smb2.ioctl.in_raw":
                    found["n"] = v[2]
                else:
                    walk(v, found)
        elif isinstance(o, list):
            for v in o:
                walk(v, found)
    for pkt in json.loads(p.stdout or "[]"):
        found = {}
        walk(pkt["_source"]["layers"].get("smb2", {}), found)
        if "fid" in found:
            out.append((found["fid"], found.get("n", 0)))
    return out


class ToolPipes(unittest.TestCase):
    def test_psexec_pipes(self):
        """Every pipe tshark sees opened with a PsExec or PsKill name, on every shared
        capture, is an `smb` record naming the tool; on SMB2, the bytes the client wrote
        to it (WRITE and IOCTL input, by FileId) are tshark's sum for that FileId."""
        need_shared(self)
        if not shutil.which("tshark"):
            self.skipTest("tshark is absent")
        caps = [p for p in sorted(glob.glob(os.path.join(SHARED_PCAPS, "*")))
                if p.endswith((".pcap", ".pcapng"))]
        every = records(caps)
        recs = [r for r in every if r["event_type"] == "smb"]
        by_cap, alerts = {}, {}
        for r in recs:
            validate_record(self, r)
            by_cap.setdefault(r["pcap_filename"], []).append(r)
        for r in every:
            if r["event_type"] == "alert" and "smb" in r and "named_pipe" in r["smb"]:
                validate_record(self, r)
                alerts.setdefault(r["pcap_filename"], []).append(r)
        checked = 0
        for cap in caps:
            # a name can only be in a capture whose bytes hold it (UTF-16 for SMB2, either
            # for SMB1): tshark reads only those
            with open(cap, "rb") as f:
                raw = f.read().lower()
            if not any(pre.encode() in raw or pre.encode("utf-16-le") in raw
                       for pre, _ in TOOL_PIPES):
                self.assertFalse([r for r in by_cap.get(cap, []) if "tool" in r["rpcsentry"]])
                continue
            names = set()
            for (n,) in tshark_rows(cap, "(smb2.cmd == 5 && smb2.flags.response == 0) || "
                                    "(smb.cmd == 0xa2 && smb.flags.response == 0)",
                                    "smb2.filename") + tshark_rows(
                                        cap, "smb.cmd == 0xa2 && smb.flags.response == 0",
                                        "smb.file"):
                n = n.lstrip("\\")
                # the service's binary on ADMIN$ is a file, not a pipe
                if any(n.lower().startswith(pre) for pre, _ in TOOL_PIPES) and \
                        not n.lower().endswith(".exe"):
                    names.add(n)
            ours = by_cap.get(os.path.abspath(cap), []) + by_cap.get(cap, [])
            # the tools' rules take their control pipes only: one alert each, none for the
            # console's pipes
            control = [r for r in ours if r["rpcsentry"].get("tool_pipe") == "control"]
            rules = {"PsExec": 4300311, "PsKill": 4300313}
            for r in control:
                (a,) = [a for a in alerts.get(cap, []) if a["smb"]["fuid"] == r["smb"]["fuid"]
                        and a["alert"]["signature_id"] == rules[r["rpcsentry"]["tool"]]]
            self.assertEqual(len([a for a in alerts.get(cap, [])
                                  if a["alert"]["signature_id"] in rules.values()]), len(control))
            self.assertEqual({r["smb"]["named_pipe"] for r in ours if "tool" in r["rpcsentry"]},
                             names, cap)
            for r in ours:
                want = [t for pre, t in TOOL_PIPES if r["smb"]["named_pipe"].lower().startswith(pre)]
                self.assertEqual([r["rpcsentry"].get("tool")], want or [None], cap)
            if not names:
                continue
            written = {}
            for fid, wl in tshark_rows(cap, "smb2.cmd == 9 && smb2.flags.response == 0",
                                       "smb2.fid", "smb2.write_length"):
                written[fid] = written.get(fid, 0) + int(wl)
            # an IOCTL's input has no length field in tshark: its raw bytes do
            for fid, n in ioctl_inputs(cap):
                written[fid] = written.get(fid, 0) + n
            for r in ours:
                x = r["rpcsentry"]
                if "tool" in x and x.get("opened") and x["closed"] and r["smb"]["dialect"] != "NT LM 0.12":
                    self.assertEqual(x["bytes_to_server"], written.get(r["smb"]["fuid"], 0),
                                     (cap, r["smb"]["named_pipe"]))
                    checked += 1
        self.assertGreaterEqual(checked, 15)


LAB = os.path.join(PCAPS, "lab")


class Lab(unittest.TestCase):
    """impacket psexec in the lab (tests/lab): what it uploads is what the record hashes."""

    def setUp(self):
        try:
            from impacket.examples import remcomsvc
        except ImportError:
            self.skipTest("python3-impacket is absent")
        self.binary = remcomsvc.RemComSvc().read(1 << 24)  # what psexec uploads
        self.sha = hashlib.sha256(self.binary).hexdigest()

    def drop(self, recs, name):
        (f,) = [f for f in files_of(recs) if f["smb"]["filename"] == name]
        for r in recs:
            validate_record(self, r)
        self.assertEqual((f["fileinfo"]["size"], f["fileinfo"]["sha256"]),
                         (len(self.binary), self.sha))
        self.assertEqual((f["rpcsentry"]["whole"], f["rpcsentry"]["file_type"]), (True, "pe"))
        return f

    def test_psexec_against_the_fake_server(self):
        """The upload, the service story naming it, and RemCom's pipes: the command message
        the client wrote (RemComMessage: 4628 bytes) and the answer (8)."""
        recs = records(os.path.join(LAB, "psexec_svcctl.pcap"))
        f = self.drop(recs, "labpsx.exe")
        (st,) = [r["rpcsentry"]["story"] for r in recs if r["event_type"] == "lateral_movement"]
        self.assertEqual((st["file"]["path"], st["file"]["matched_by"], st["file"]["sha256"]),
                         (f["rpcsentry"]["path"], "path", self.sha))
        pipes = {r["smb"]["named_pipe"]: r["rpcsentry"] for r in recs if r["event_type"] == "smb"}
        self.assertEqual({x["tool"] for x in pipes.values()}, {"RemCom"})
        main = pipes["RemCom_communicaton"]
        (a,) = [r for r in recs if r["event_type"] == "alert"
                and r["alert"]["signature_id"] == 4300312]
        self.assertEqual(a["smb"]["named_pipe"], "RemCom_communicaton")
        self.assertEqual((main["opened"], main["rpc"], main["bytes_to_server"],
                          main["bytes_to_client"]), (True, False, 4096 + 260 + 4 + 4 + 260 + 4, 8))
        self.assertEqual(sorted(n.rstrip("0123456789")[:13] for n in pipes),
                         ["RemCom_commun", "RemCom_stderr", "RemCom_stdinU", "RemCom_stdout"])

    def test_psexec_against_samba(self):
        """Samba takes the upload (SMB 3.1.1) and refuses the service: the file, no story."""
        recs = records(os.path.join(LAB, "samba_psexec.pcap"))
        self.drop(recs, "labpsx.exe")
        self.assertFalse([r for r in recs if r["event_type"] == "lateral_movement"])

    def test_psexec_upload_encrypted(self):
        """The same upload in SMB 3 encryption: no file without the keys; with the NT hash
        (--ntlm-secrets) the decrypted WRITEs give the same digest."""
        pcap = os.path.join(LAB, "smb3_encrypted_impacket_psexec.pcap")
        self.assertFalse(files_of(records(pcap)))
        from test_smb3_decrypt import PASSWORD, nt_hash
        with TempDir() as d:
            secrets = os.path.join(d, "lab.secrets")
            with open(os.open(secrets, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
                fh.write("LAB\\Administrator:%s\n" % nt_hash(PASSWORD).hex())
            recs = records(pcap, "--ntlm-secrets", secrets)
        self.drop(recs, "labencpsx.exe")


def lab_drop():
    """The binary the samba_smbclient_put scenario makes (tests/lab/lab.py DROP_BYTES)."""
    b, i = bytearray(b"MZ"), 0
    while len(b) < 100000:
        b += hashlib.sha256(b"labdrop%d" % i).digest()
        i += 1
    return bytes(b[:100000])


class LabUploads(unittest.TestCase):
    def test_smbclient_uploads(self):
        """smbclient's three uploads to Samba's ADMIN$ (SMB1 WRITE_ANDX, SMB 3.1.1, SMB 3
        encrypted): each the file it sent, size and SHA-256; the encrypted one only with
        the NT hash."""
        from test_smb3_decrypt import PASSWORD, nt_hash
        pcap = os.path.join(LAB, "samba_smbclient_put.pcap")
        data = lab_drop()
        want = (len(data), hashlib.sha256(data).hexdigest(), True)

        def uploads(recs):
            return {f["smb"]["filename"].lstrip("\\"): (f["fileinfo"]["size"], f["fileinfo"].get("sha256"),
                                           f["rpcsentry"]["whole"]) for f in files_of(recs)}
        self.assertEqual(uploads(records(pcap)), {"labdrop1.exe": want, "labdrop3.exe": want})
        with TempDir() as d:
            secrets = os.path.join(d, "lab.secrets")
            with open(os.open(secrets, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
                fh.write("LAB\\Administrator:%s\n" % nt_hash(PASSWORD).hex())
            recs = records(pcap, "--ntlm-secrets", secrets)
        self.assertEqual(uploads(recs), {"labdrop1.exe": want, "labdrop3.exe": want,
                                         "labdropenc.exe": want})
        dialects = {f["smb"]["filename"].lstrip("\\"): f["smb"]["dialect"] for f in files_of(recs)}
        self.assertEqual(dialects, {"labdrop1.exe": "NT LM 0.12", "labdrop3.exe": "3.11",
                                    "labdropenc.exe": "3.11"})


class Generated(unittest.TestCase):
    def test_big_write_streams(self):
        """The project's PsExec-like capture writes PSEXESVC.exe in one 1 MiB WRITE (too big
        to buffer: it streams through the hash) and an 8 KiB one."""
        pcap = os.path.join(PCAPS, "smb2_psexec_like.pcap")
        (f,) = [f for f in files_of(records(pcap)) if f["smb"]["filename"] == "PSEXESVC.exe"]
        self.assertTrue(f["rpcsentry"]["whole"])
        self.assertEqual(f["fileinfo"]["size"], 1048576 + 8192)
        if shutil.which("tshark"):
            with TempDir() as d:
                objs = tshark_objects(pcap, d)
            self.assertIn(("PSEXESVC.exe", f["fileinfo"]["sha256"], f["fileinfo"]["size"]), objs)

    def test_flood_of_open_files(self):
        """1,000 files opened for writing on ADMIN$, each written and never closed: the
        connection follows 64 at a time, the oldest going first with its record (TRUNCATED);
        every file still gets its record, and the accounted memory is given back."""
        pw = E.PcapWriter(start=1700104900.0)
        c = E.tcp(pw, 51471, 445)
        s = S.Smb2Conv(c)
        E.smb2_login(s, 0x0000100000000E08, "svc_ops", "CORP", "WS20")
        s.tree_connect("\\\\10.1.0.20\\ADMIN$", 9, share_type=0x01)
        n = 1000
        for i in range(n):
            fid = S.file_id(1000 + i)
            s.exchange(S.SMB2_CREATE, S.create_req("drop%04d.exe" % i, access=0x0012019F,
                                                   disposition=5, options=0x40),
                       S.create_resp(fid, action=2))
            s.write(fid, b"MZ" + struct.pack("<I", i) + bytes(58))
        c.close()
        with TempDir() as d:
            path = os.path.join(d, "flood.pcap")
            pw.write(path)
            recs = records(path, "--stats-interval", "1")
        fs = files_of(recs)
        self.assertEqual(len(fs), n)
        self.assertEqual(sum(f["fileinfo"]["state"] == "TRUNCATED" for f in fs), n)
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        self.assertEqual(st["smb_files"], n)
        self.assertEqual(st["smb_files_evicted"], n - 64)
        want = hashlib.sha256(b"MZ" + struct.pack("<I", 7) + bytes(58)).hexdigest()
        (seven,) = [f for f in fs if f["smb"]["filename"] == "drop0007.exe"]
        self.assertEqual(seven["fileinfo"]["sha256"], want)


if __name__ == "__main__":
    unittest.main()
