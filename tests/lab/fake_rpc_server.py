#!/usr/bin/python3
"""A minimal Windows stand-in for the traffic lab: the interfaces no real
server on Linux implements, answered well enough for real clients (impacket's
atexec, psexec, smbexec, services, and the lab's own scripts) to run through.

Served:
  - DCE/RPC, connection-oriented, with NTLM at any auth level (connect,
    integrity, privacy: the server knows the lab password, derives the session
    keys, unseals requests and seals its answers as Windows does), and with
    Kerberos inside SPNEGO at packet privacy (--keytab: the lab service
    account's keys; the ticket and authenticator opened with impacket's
    krb5 crypto, an AP-REP with a subkey of ours, DCE style, then RFC 4121
    wrap tokens as Windows lays them out in an RPC PDU);
  - ITaskSchedulerService (86d35949-...), ATSvc (1ff70682-...), svcctl
    (367abb81-...) with a small table of services, winreg (338cd001-...: keys
    and values in a dictionary, for reg.py), and the endpoint mapper
    (ept_map, ept_lookup) naming one dynamic TCP port;
  - on TCP: ADDR:135 (endpoint mapper) and ADDR:DYNPORT (every interface);
  - over SMB2 (impacket.smbserver on ADDR:445): \\pipe\\atsvc, \\pipe\\svcctl, \\pipe\\winreg,
    the shares ADMIN$ and C$, and the pipes of RemComSvc once psexec started
    it (so psexec runs to the end and then deletes its service).

Tasks and services are not run: a task whose command redirects its output to
%windir%\\Temp\\NAME, or a service binary path that redirects to
\\\\127.0.0.1\\SHARE\\NAME (smbexec), gets a line of fake output written there,
which is what the tools then read back over SMB.

The sensor judges requests; these answers only let the tools go on.
"""

import argparse
import calendar
import logging
import os
import random
import re
import socket
import socketserver
import struct
import threading
import time

from Cryptodome.Cipher import ARC4
from impacket import ntlm, nt_errors, smb3structs as smb2, smbserver
from impacket.dcerpc.v5 import atsvc, rrp, scmr, tsch
from impacket.dcerpc.v5.dtypes import NULL

LOG = logging.getLogger("fake_rpc_server")

NDR = bytes.fromhex("045d888aeb1cc9119fe808002b104860") + struct.pack("<I", 2)
UUIDS = {
    "tsch": "86d35949-83c9-4044-b424-db363231fd0c",
    "atsvc": "1ff70682-0a51-30e8-076d-740be8cee98b",
    "svcctl": "367abb81-9844-35f1-ad32-98f038001003",
    "epm": "e1af8308-5d1f-11c9-91a4-08002b14a0fa",
    "winreg": "338cd001-2244-31f1-aaaa-900038001003",
}
EPT_S_NOT_REGISTERED = 0x16C9A0D6
NCA_S_OP_RNG_ERROR = 0x1C010002
NCA_S_UNK_IF = 0x1C010003
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_EXISTS = 1073
ERROR_SERVICE_REQUEST_TIMEOUT = 1053
ERROR_FILE_NOT_FOUND = 2


def uuid_bytes(s):
    import uuid
    return uuid.UUID(s).bytes_le


def uuid_str(b):
    import uuid
    return str(uuid.UUID(bytes_le=bytes(b)))


class Fault(Exception):
    def __init__(self, status):
        Exception.__init__(self, "fault 0x%08x" % status)
        self.status = status


class Lab:
    """What the fake server knows and keeps between connections."""

    def __init__(self, args):
        self.addr = args.addr
        self.dynport = args.dynport
        self.user = args.user
        self.password = args.password
        self.domain = args.domain
        self.shares = {"ADMIN$": os.path.join(args.root, "admin"), "C$": os.path.join(args.root, "c")}
        for d in self.shares.values():
            os.makedirs(os.path.join(d, "Temp"), exist_ok=True)
        self.lock = threading.Lock()
        self.services = {
            "spooler": {"name": "Spooler", "path": r"C:\Windows\System32\spoolsv.exe", "state": 4},
            "labupdater": {"name": "LabUpdater", "path": r"C:\Program Files\LabUpdater\updater.exe",
                           "state": 1},
            # running: reg.py (RemoteOperations) checks it before using winreg
            "remoteregistry": {"name": "RemoteRegistry",
                               "path": r"C:\Windows\system32\svchost.exe -k localService",
                               "state": 4},
        }
        # winreg: key path (lower case) -> {value name (lower case): (type, data)}
        self.keys = {}
        for path in (r"hklm\system\currentcontrolset\services",
                     r"hklm\software\microsoft\windows nt\currentversion\schedule\taskcache\tree",
                     r"hklm\software\microsoft\windows nt\currentversion\schedule\taskcache\tasks"):
            parts = path.split("\\")
            for i in range(1, len(parts) + 1):
                self.keys.setdefault("\\".join(parts[:i]), {})
        self.tasks = {}
        self.jobs = {}
        self.handles = {}
        self.smb = None  # the impacket SMB server, to register RemCom's pipes
        self.pipes = {}  # pipe name -> local address of its handler
        self.keytab = None
        if args.keytab:
            from impacket.krb5.keytab import Keytab
            self.keytab = Keytab.loadFile(args.keytab)

    def service_key(self, etype):
        """The lab service account's key of that enctype, from its keytab."""
        from impacket.krb5.crypto import Key
        for e in self.keytab.entries:
            kb = e.main_part["keyblock"]
            if kb["keytype"] == etype:
                return Key(etype, kb["keyvalue"]["data"])
        raise Fault(NCA_S_OP_RNG_ERROR)

    def handle(self, what):
        h = bytes(4) + os.urandom(16)
        self.handles[h] = what
        return h

    def fake_output(self, command):
        return ("fake_rpc_server ran: %s\r\n" % command).encode()

    def write_share_file(self, share, rel, data):
        d = self.shares.get(share.upper())
        if d is None:
            return
        path = os.path.join(d, *rel.replace("\\", "/").split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        LOG.info("wrote %s\\%s", share, rel)

    def run_task(self, path):
        task = self.tasks.get(path.lower())
        if not task:
            return
        m = re.search(r"<Command>(.*?)</Command>.*?<Arguments>(.*?)</Arguments>", task, re.S)
        if not m:
            return
        args = m.group(2).replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
        out = re.search(r">\s*%windir%\\Temp\\(\S+)", args, re.I)
        if out:
            self.write_share_file("ADMIN$", "Temp\\" + out.group(1), self.fake_output(args))

    def start_service(self, svc):
        path = svc["path"]
        # smbexec: ... echo CMD ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat ...
        m = re.search(r"\^>\s*\\\\127\.0\.0\.1\\([^\\]+)\\(\S+)", path)
        if m:
            self.write_share_file(m.group(1), m.group(2), self.fake_output(path))
            return ERROR_SERVICE_REQUEST_TIMEOUT  # cmd.exe is no service
        m = re.match(r"%systemroot%\\([^\\]+\.exe)$", path, re.I)
        if m and os.path.exists(os.path.join(self.shares["ADMIN$"], m.group(1))):
            remcom_start(self)  # psexec's RemComSvc
            svc["state"] = 4
            return 0
        svc["state"] = 4
        return 0


# ---------------------------------------------------------------- NTLM

class NtlmServer:
    def __init__(self, lab):
        self.lab = lab
        self.flags = 0
        self.ready = False
        self.user = self.domain = ""
        self.seq_out = 0

    def challenge(self, negotiate):
        neg = ntlm.NTLMAuthNegotiate()
        neg.fromString(negotiate)
        want = neg["flags"]
        flags = (ntlm.NTLMSSP_NEGOTIATE_VERSION | ntlm.NTLMSSP_NEGOTIATE_TARGET_INFO |
                 ntlm.NTLMSSP_TARGET_TYPE_SERVER | ntlm.NTLMSSP_NEGOTIATE_NTLM |
                 ntlm.NTLMSSP_REQUEST_TARGET)
        for f in (ntlm.NTLMSSP_NEGOTIATE_56, ntlm.NTLMSSP_NEGOTIATE_128,
                  ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH, ntlm.NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
                  ntlm.NTLMSSP_NEGOTIATE_UNICODE, ntlm.NTLMSSP_NEGOTIATE_SIGN,
                  ntlm.NTLMSSP_NEGOTIATE_SEAL, ntlm.NTLMSSP_NEGOTIATE_ALWAYS_SIGN):
            if want & f:
                flags |= f
        name = "FAKESRV".encode("utf-16le")
        dom = self.lab.domain.encode("utf-16le")
        av = ntlm.AV_PAIRS()
        av[ntlm.NTLMSSP_AV_HOSTNAME] = av[ntlm.NTLMSSP_AV_DNS_HOSTNAME] = name
        av[ntlm.NTLMSSP_AV_DOMAINNAME] = av[ntlm.NTLMSSP_AV_DNS_DOMAINNAME] = dom
        av[ntlm.NTLMSSP_AV_TIME] = struct.pack(
            "<q", 116444736000000000 + calendar.timegm(time.gmtime()) * 10000000)
        avb = av.getData()
        ch = ntlm.NTLMAuthChallenge()
        ch["flags"] = flags
        ch["domain_len"] = ch["domain_max_len"] = len(dom)
        ch["domain_offset"] = 40 + 16
        ch["challenge"] = bytes(random.getrandbits(8) for _ in range(8))
        ch["domain_name"] = dom
        ch["TargetInfoFields_len"] = ch["TargetInfoFields_max_len"] = len(avb)
        ch["TargetInfoFields"] = avb
        ch["TargetInfoFields_offset"] = 40 + 16 + len(dom)
        ch["Version"] = b"\x0a\x00\x63\x45\x00\x00\x00\x0f"
        ch["VersionLen"] = 8
        return ch.getData()

    def authenticate(self, blob):
        auth = ntlm.NTLMAuthChallengeResponse()
        auth.fromString(blob)
        flags = auth["flags"]
        uni = flags & ntlm.NTLMSSP_NEGOTIATE_UNICODE
        dec = (lambda b: b.decode("utf-16le")) if uni else (lambda b: b.decode("latin-1"))
        self.user, self.domain = dec(auth["user_name"]), dec(auth["domain_name"])
        nt = auth["ntlm"]
        if len(nt) <= 24:
            LOG.warning("NTLMv1 from %s: no session key", self.user)
            return
        key_nt = ntlm.NTOWFv2(self.user, self.lab.password, self.domain)
        base = ntlm.hmac_md5(key_nt, nt[:16])
        exported = base
        if flags & ntlm.NTLMSSP_NEGOTIATE_KEY_EXCH and auth["session_key"]:
            exported = ARC4.new(base).decrypt(auth["session_key"])
        self.flags = flags
        self.c_sign = ntlm.SIGNKEY(flags, exported, "Client")
        self.c_seal = ntlm.SEALKEY(flags, exported, "Client")
        self.s_sign = ntlm.SIGNKEY(flags, exported, "Server")
        self.s_seal = ntlm.SEALKEY(flags, exported, "Server")
        self.c_handle = ARC4.new(self.c_seal).encrypt
        self.s_handle = ARC4.new(self.s_seal).encrypt
        self.ready = True
        LOG.info("NTLM: %s\\%s", self.domain, self.user)

    def unseal(self, data):
        # RC4 over the stub, then over the signature's checksum: keeps the
        # client->server key stream where the client's is
        plain, _ = ntlm.SEAL(self.flags, self.c_sign, self.c_seal, data, data, 0, self.c_handle)
        return plain

    def seal(self, to_sign, to_encrypt):
        sealed, sig = ntlm.SEAL(self.flags, self.s_sign, self.s_seal, to_sign, to_encrypt,
                                self.seq_out, self.s_handle)
        self.seq_out += 1
        return sealed, sig.getData()

    def sign(self, to_sign):
        sig = ntlm.SIGN(self.flags, self.s_sign, to_sign, self.seq_out, self.s_handle)
        self.seq_out += 1
        return sig.getData()

    sig_len = 16


# ---------------------------------------------------------------- Kerberos

class KerberosServer:
    """The acceptor of a DCE-style Kerberos exchange inside SPNEGO (what
    impacket's clients do with -k): AP-REQ in the bind, our AP-REP with a
    subkey in the bind_ack, the client's AP-REP in an alter_context; then
    every stub is sealed with the subkey (RFC 4121 wrap tokens, rotated so
    that the data is encrypted in place, as MS-KILE 3.4.5.4.1 has it)."""

    SPNEGO_OID = bytes.fromhex("2b0601050502")
    HDR = 16
    RRC = 28

    def __init__(self, lab):
        self.lab, self.ready, self.seq_out = lab, False, 0
        self.user = self.realm = None

    @staticmethod
    def der(tag, body):
        n = len(body)
        if n < 0x80:
            return bytes([tag, n]) + body
        ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return bytes([tag, 0x80 | len(ln)]) + ln + body

    @staticmethod
    def ap_req_of(value):
        """The AP-REQ inside an SPNEGO negTokenInit (or a bare GSS token)."""
        from impacket.spnego import SPNEGO_NegTokenInit
        tok = value
        if value[:1] == b"\x60" and KerberosServer.SPNEGO_OID in value[:16]:
            tok = SPNEGO_NegTokenInit(value)["MechToken"]
        i = tok.find(b"\x01\x00\x6e")  # TOK_ID AP-REQ after the krb5 OID
        return tok[i + 2:] if tok[:1] == b"\x60" and i > 0 else tok

    def accept(self, value):
        from impacket.krb5.asn1 import AP_REP, AP_REQ, Authenticator, EncAPRepPart, EncTicketPart
        from impacket.krb5.crypto import Key, _enctype_table
        from impacket.spnego import SPNEGO_NegTokenResp, TypesMech
        from pyasn1.codec.der import decoder, encoder
        from pyasn1.type.univ import noValue
        req = decoder.decode(self.ap_req_of(value), asn1Spec=AP_REQ())[0]
        etype = int(req["ticket"]["enc-part"]["etype"])
        key = self.lab.service_key(etype)
        plain = _enctype_table[etype]().decrypt(key, 2, bytes(req["ticket"]["enc-part"]["cipher"]))
        etp = decoder.decode(plain, asn1Spec=EncTicketPart())[0]
        skey = Key(int(etp["key"]["keytype"]), bytes(etp["key"]["keyvalue"]))
        cipher = _enctype_table[skey.enctype]()
        auth = decoder.decode(cipher.decrypt(skey, 11, bytes(req["authenticator"]["cipher"])),
                              asn1Spec=Authenticator())[0]
        self.user = "/".join(str(c) for c in etp["cname"]["name-string"])
        self.realm = str(etp["crealm"])
        self.key = Key(skey.enctype, os.urandom(len(skey.contents)))
        self.cipher = cipher
        part = EncAPRepPart()
        part["ctime"] = str(auth["ctime"])  # the tags differ: the value is copied
        part["cusec"] = int(auth["cusec"])
        part["subkey"] = noValue
        part["subkey"]["keytype"] = self.key.enctype
        part["subkey"]["keyvalue"] = self.key.contents
        part["seq-number"] = random.getrandbits(31)
        rep = AP_REP()
        rep["pvno"] = 5
        rep["msg-type"] = 15
        rep["enc-part"] = noValue
        rep["enc-part"]["etype"] = skey.enctype
        rep["enc-part"]["cipher"] = cipher.encrypt(skey, 12, encoder.encode(part), None)
        resp = SPNEGO_NegTokenResp()
        resp["NegState"] = b"\x01"  # accept-incomplete: the DCE-style third leg comes
        resp["SupportedMech"] = TypesMech["MS KRB5 - Microsoft Kerberos 5"]
        resp["ResponseToken"] = encoder.encode(rep)
        LOG.info("Kerberos: %s@%s, ticket %d, subkey %d", self.user, self.realm, etype,
                 self.key.enctype)
        return resp.getData()

    def third_leg(self, value):
        from impacket.spnego import SPNEGO_NegTokenResp
        self.ready = True
        resp = SPNEGO_NegTokenResp()
        resp["NegState"] = b"\x00"  # accept-completed
        return resp.getData()

    def unseal(self, data, token):
        hdr = token[:self.HDR]
        ec, rrc = struct.unpack(">HH", hdr[4:8])
        blob = token[self.HDR:] + data
        rot = (rrc + ec) % len(blob)
        plain = self.cipher.decrypt(self.key, 24, blob[rot:] + blob[:rot])
        return plain[:len(plain) - ec - self.HDR]

    def seal(self, to_sign, to_encrypt):
        hdr = struct.pack(">HBBHHQ", 0x0504, 7, 0xFF, 0, 0, self.seq_out)  # acceptor, sealed, subkey
        self.seq_out += 1
        c = self.cipher.encrypt(self.key, 22, to_encrypt + hdr, None)
        c = c[-self.RRC:] + c[:-self.RRC]
        hdr = hdr[:6] + struct.pack(">H", self.RRC) + hdr[8:]
        head = self.HDR + self.RRC  # confounder and what the rotation brought forward
        return c[head:], hdr + c[:head]

    def sign(self, to_sign):
        raise Fault(NCA_S_OP_RNG_ERROR)  # the lab's Kerberos sessions are sealed

    sig_len = HDR + 16 + RRC


# ---------------------------------------------------------------- DCE/RPC

def hdr(ptype, flags, frag_len, auth_len, call_id):
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, flags, b"\x10\x00\x00\x00", frag_len, auth_len,
                       call_id)


class RpcConnection:
    """One DCE/RPC association over a byte stream (a TCP connection, or the
    socket impacket's SMB server opens for a named pipe)."""

    def __init__(self, lab, sock, endpoint):
        self.lab, self.sock, self.endpoint = lab, sock, endpoint
        self.contexts = {}
        self.auth = None
        self.auth_level = 1
        self.auth_ctx = 0
        self.max_xmit = 4280
        self.pending = {}

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            c = self.sock.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b

    def serve(self):
        try:
            while True:
                h = self.recv_exact(16)
                frag_len = struct.unpack_from("<H", h, 8)[0]
                pdu = h + self.recv_exact(frag_len - 16)
                self.pdu(pdu)
        except (EOFError, ConnectionError, OSError):
            pass

    def send(self, b):
        self.sock.sendall(b)

    def split_auth(self, pdu):
        frag_len, auth_len = struct.unpack_from("<HH", pdu, 8)
        if not auth_len:
            return pdu[16:], None
        t = frag_len - auth_len - 8
        return pdu[16:t], (pdu[t:t + 8], pdu[t + 8:frag_len])

    def pdu(self, pdu):
        ptype, flags = pdu[2], pdu[3]
        call_id = struct.unpack_from("<I", pdu, 12)[0]
        if ptype in (11, 14):
            self.bind(pdu, ptype, call_id)
        elif ptype == 16:  # AUTH3
            _, auth = self.split_auth(pdu)
            if auth and self.auth:
                self.auth.authenticate(auth[1])
        elif ptype == 0:
            self.request(pdu, flags, call_id)
        else:
            LOG.info("%s: PDU type %d ignored", self.endpoint, ptype)

    def bind(self, pdu, ptype, call_id):
        body, auth = self.split_auth(pdu)
        max_xmit, max_recv, assoc = struct.unpack_from("<HHI", body, 0)
        self.max_xmit = min(max_recv, 5840)
        n = body[8]
        off = 12
        results = b""
        for _ in range(n):
            ctx_id, nts = struct.unpack_from("<HB", body, off)
            abstract = body[off + 4:off + 24]
            tss = [body[off + 24 + 20 * i:off + 44 + 20 * i] for i in range(nts)]
            off += 24 + 20 * nts
            iface = uuid_str(abstract[:16])
            name = {v: k for k, v in UUIDS.items()}.get(iface)
            if name and NDR in tss:
                self.contexts[ctx_id] = name
                results += struct.pack("<HH", 0, 0) + NDR
            elif any(uuid_str(t[:16]).startswith("6cb71c2c-9812-4540") for t in tss):
                results += struct.pack("<HH", 3, 3) + bytes(20)  # bind time features: ack
            else:
                results += struct.pack("<HH", 2, 2 if name else 1) + bytes(20)
        auth_out = b""
        if auth:
            trailer, value = auth
            atype, level, _, _, actx = struct.unpack("<BBBBI", trailer)
            self.auth_level, self.auth_ctx = level, actx
            if atype == 10 and value[8:12] == b"\x01\x00\x00\x00":
                self.auth = NtlmServer(self.lab)
                auth_out = struct.pack("<BBBBI", 10, level, 0, 0, actx) + self.auth.challenge(value)
            elif atype == 10 and value[8:12] == b"\x03\x00\x00\x00" and self.auth:
                self.auth.authenticate(value)  # alter_context carrying AUTHENTICATE
            elif atype == 9 and ptype == 11 and self.lab.keytab:
                self.auth = KerberosServer(self.lab)
                auth_out = struct.pack("<BBBBI", 9, level, 0, 0, actx) + self.auth.accept(value)
            elif atype == 9 and isinstance(self.auth, KerberosServer):
                auth_out = struct.pack("<BBBBI", 9, level, 0, 0, actx) + self.auth.third_leg(value)
        if ptype == 11:
            sec = (self.endpoint.encode() + b"\0") if self.endpoint else b""
            body = struct.pack("<HHIH", self.max_xmit, self.max_xmit, assoc or 0x12345, len(sec)) + sec
        else:
            body = struct.pack("<HHIH", self.max_xmit, self.max_xmit, assoc or 0x12345, 0)
        body += bytes((-(16 + len(body))) % 4)
        body += struct.pack("<BBH", n, 0, 0) + results
        alen = len(auth_out) - 8 if auth_out else 0
        total = 16 + len(body) + len(auth_out)
        self.send(hdr(12 if ptype == 11 else 15, 3, total, alen, call_id) + body + auth_out)

    def request(self, pdu, flags, call_id):
        body, auth = self.split_auth(pdu)
        ctx_id, opnum = struct.unpack_from("<HH", body, 4)
        stub = body[24:] if flags & 0x80 else body[8:]
        if auth:
            trailer, _ = auth
            pad = trailer[2]
            if trailer[1] == 6 and isinstance(self.auth, KerberosServer) and self.auth.ready:
                stub = self.auth.unseal(stub, auth[1])
            elif trailer[1] == 6 and self.auth and self.auth.ready:
                stub = self.auth.unseal(stub)
            elif trailer[1] == 5 and self.auth and self.auth.ready:
                # integrity: keep the client's RC4 stream in step (its checksum)
                self.auth.unseal(b"")
            if pad:
                stub = stub[:-pad]
        key = call_id
        self.pending[key] = self.pending.get(key, b"") + stub
        if not flags & 0x02:  # not the last fragment
            return
        stub = self.pending.pop(key)
        iface = self.contexts.get(ctx_id)
        try:
            if iface is None:
                raise Fault(NCA_S_UNK_IF)
            handler = HANDLERS[iface].get(opnum)
            if handler is None:
                raise Fault(NCA_S_OP_RNG_ERROR)
            with self.lab.lock:
                out = handler(self.lab, stub)
            LOG.info("%s %s opnum %d: answered", self.endpoint, iface, opnum)
            self.respond(call_id, ctx_id, out)
        except Fault as f:
            LOG.info("%s %s opnum %d: fault 0x%08x", self.endpoint, iface, opnum, f.status)
            self.fault(call_id, ctx_id, f.status)
        except Exception as e:  # a request the handler could not read
            LOG.exception("%s %s opnum %d: %s", self.endpoint, iface, opnum, e)
            self.fault(call_id, ctx_id, NCA_S_OP_RNG_ERROR)

    def fault(self, call_id, ctx_id, status):
        body = struct.pack("<IHBBI", 0, ctx_id, 0, 0, status) + bytes(4)
        self.send(hdr(3, 3, 16 + len(body), 0, call_id) + body)

    def respond(self, call_id, ctx_id, stub):
        sign = self.auth is not None and self.auth.ready and self.auth_level >= 5
        room = self.max_xmit - 24 - (16 + 8 + self.auth.sig_len if sign else 0)
        room -= room % 16
        chunks = [stub[i:i + room] for i in range(0, len(stub), room)] or [b""]
        for i, chunk in enumerate(chunks):
            flags = (1 if i == 0 else 0) | (2 if i == len(chunks) - 1 else 0)
            head = struct.pack("<IHBB", len(stub) - i * room, ctx_id, 0, 0)
            if not sign:
                self.send(hdr(2, flags, 24 + len(chunk), 0, call_id) + head + chunk)
                continue
            pad = (-len(chunk)) % 16
            chunk += bytes(pad)
            atype = 9 if isinstance(self.auth, KerberosServer) else 10
            trailer = struct.pack("<BBBBI", atype, self.auth_level, pad, 0, self.auth_ctx)
            frag_len = 24 + len(chunk) + 8 + self.auth.sig_len
            pdu = hdr(2, flags, frag_len, self.auth.sig_len, call_id) + head + chunk + trailer
            if self.auth_level == 6:
                sealed, sig = self.auth.seal(pdu, chunk)
                pdu = pdu[:24] + sealed + trailer
            else:
                sig = self.auth.sign(pdu)
            self.send(pdu + sig)


# ---------------------------------------------------------------- interfaces

def parse(cls, stub):
    r = cls(isNDR64=False)
    r.fromString(stub)
    return r


def wstr(v):
    if v in (None, NULL) or v == b"":
        return ""
    return str(v).rstrip("\0")


def tsch_register(lab, stub):
    r = parse(tsch.SchRpcRegisterTask, stub)
    path = wstr(r["path"]) or "\\" + "".join(random.choice("ABCDEFGH") for _ in range(8))
    lab.tasks[path.lower()] = wstr(r["xml"])
    LOG.info("task %s registered", path)
    o = tsch.SchRpcRegisterTaskResponse()
    o["pActualPath"] = path + "\0"
    o["pErrorInfo"] = NULL
    o["ErrorCode"] = 0
    return o.getData()


def tsch_run(lab, stub):
    r = parse(tsch.SchRpcRun, stub)
    path = wstr(r["path"])
    if path.lower() not in lab.tasks:
        raise Fault(0x80070000 | ERROR_FILE_NOT_FOUND)  # no such task
    lab.run_task(path)
    lab.tasks[path.lower() + "#ran"] = time.gmtime()
    o = tsch.SchRpcRunResponse()
    o["pGuid"] = uuid_bytes("5d8d1a52-1f4c-4b8e-9c3f-6a0e2b7d4c11")
    o["ErrorCode"] = 0
    return o.getData()


def tsch_last_run(lab, stub):
    r = parse(tsch.SchRpcGetLastRunInfo, stub)
    o = tsch.SchRpcGetLastRunInfoResponse()
    ran = lab.tasks.get(wstr(r["path"]).lower() + "#ran")
    if ran:
        for f, v in (("wYear", ran.tm_year), ("wMonth", ran.tm_mon), ("wDayOfWeek", ran.tm_wday),
                     ("wDay", ran.tm_mday), ("wHour", ran.tm_hour), ("wMinute", ran.tm_min),
                     ("wSecond", ran.tm_sec), ("wMilliseconds", 0)):
            o["pLastRuntime"][f] = v
    o["pLastReturnCode"] = 0
    o["ErrorCode"] = 0
    return o.getData()


def tsch_delete(lab, stub):
    r = parse(tsch.SchRpcDelete, stub)
    path = wstr(r["path"]).lower()
    lab.tasks.pop(path, None)
    lab.tasks.pop(path + "#ran", None)
    o = tsch.SchRpcDeleteResponse()
    o["ErrorCode"] = 0
    return o.getData()


def tsch_highest(lab, stub):
    o = tsch.SchRpcHighestVersionResponse()
    o["pVersion"] = 0x00010006
    o["ErrorCode"] = 0
    return o.getData()


def at_job_add(lab, stub):
    r = parse(atsvc.NetrJobAdd, stub)
    job = max(lab.jobs, default=0) + 1
    lab.jobs[job] = wstr(r["pAtInfo"]["Command"])
    LOG.info("AT job %d: %s", job, lab.jobs[job])
    o = atsvc.NetrJobAddResponse()
    o["pJobId"] = job
    o["ErrorCode"] = 0
    return o.getData()


def at_job_del(lab, stub):
    r = parse(atsvc.NetrJobDel, stub)
    for j in range(r["MinJobId"], r["MaxJobId"] + 1):
        lab.jobs.pop(j, None)
    o = atsvc.NetrJobDelResponse()
    o["ErrorCode"] = 0
    return o.getData()


def at_job_enum(lab, stub):
    o = atsvc.NetrJobEnumResponse()
    o["pEnumContainer"]["EntriesRead"] = 0
    o["pEnumContainer"]["Buffer"] = NULL
    o["pTotalEntries"] = 0
    o["pResumeHandle"] = NULL
    o["ErrorCode"] = 0
    return o.getData()


def svc_status(o, field, svc):
    st = o[field]
    st["dwServiceType"] = scmr.SERVICE_WIN32_OWN_PROCESS
    st["dwCurrentState"] = svc["state"] if svc else 1
    st["dwControlsAccepted"] = 1 if svc and svc["state"] == 4 else 0
    st["dwWin32ExitCode"] = 0
    st["dwServiceSpecificExitCode"] = 0
    st["dwCheckPoint"] = 0
    st["dwWaitHint"] = 0


def scm_open(lab, stub):
    parse(scmr.ROpenSCManagerW, stub)
    o = scmr.ROpenSCManagerWResponse()
    o["lpScHandle"] = lab.handle(("scm", None))
    o["ErrorCode"] = 0
    return o.getData()


def scm_close(lab, stub):
    r = parse(scmr.RCloseServiceHandle, stub)
    lab.handles.pop(hkey(r["hSCObject"]), None)
    o = scmr.RCloseServiceHandleResponse()
    o["hSCObject"] = bytes(20)
    o["ErrorCode"] = 0
    return o.getData()


def hkey(v):
    return bytes(v.getData() if hasattr(v, "getData") else v)


def svc_of(lab, handle):
    what = lab.handles.get(hkey(handle))
    if not what or what[0] != "svc":
        raise Fault(6)  # ERROR_INVALID_HANDLE
    return lab.services.get(what[1])


def scm_create(lab, stub):
    r = parse(scmr.RCreateServiceW, stub)
    name = wstr(r["lpServiceName"])
    o = scmr.RCreateServiceWResponse()
    o["lpdwTagId"] = NULL
    if name.lower() in lab.services:
        o["lpServiceHandle"] = bytes(20)
        o["ErrorCode"] = ERROR_SERVICE_EXISTS
        return o.getData()
    lab.services[name.lower()] = {"name": name, "path": wstr(r["lpBinaryPathName"]), "state": 1}
    LOG.info("service %s created: %s", name, lab.services[name.lower()]["path"])
    o["lpServiceHandle"] = lab.handle(("svc", name.lower()))
    o["ErrorCode"] = 0
    return o.getData()


def scm_open_service(lab, stub):
    r = parse(scmr.ROpenServiceW, stub)
    name = wstr(r["lpServiceName"]).lower()
    o = scmr.ROpenServiceWResponse()
    if name in lab.services:
        o["lpServiceHandle"] = lab.handle(("svc", name))
        o["ErrorCode"] = 0
    else:
        o["lpServiceHandle"] = bytes(20)
        o["ErrorCode"] = ERROR_SERVICE_DOES_NOT_EXIST
    return o.getData()


def scm_start(lab, stub):
    r = parse(scmr.RStartServiceW, stub)
    svc = svc_of(lab, r["hService"])
    o = scmr.RStartServiceWResponse()
    o["ErrorCode"] = lab.start_service(svc)
    return o.getData()


def scm_control(lab, stub):
    r = parse(scmr.RControlService, stub)
    svc = svc_of(lab, r["hService"])
    if r["dwControl"] == scmr.SERVICE_CONTROL_STOP:
        svc["state"] = 1
    o = scmr.RControlServiceResponse()
    svc_status(o, "lpServiceStatus", svc)
    o["ErrorCode"] = 0
    return o.getData()


def scm_query_status(lab, stub):
    r = parse(scmr.RQueryServiceStatus, stub)
    svc = svc_of(lab, r["hService"])
    o = scmr.RQueryServiceStatusResponse()
    svc_status(o, "lpServiceStatus", svc)
    o["ErrorCode"] = 0
    return o.getData()


def scm_delete(lab, stub):
    r = parse(scmr.RDeleteService, stub)
    what = lab.handles.get(hkey(r["hService"]))
    if what and what[0] == "svc":
        lab.services.pop(what[1], None)
    o = scmr.RDeleteServiceResponse()
    o["ErrorCode"] = 0
    return o.getData()


def scm_change(lab, stub):
    r = parse(scmr.RChangeServiceConfigW, stub)
    svc = svc_of(lab, r["hService"])
    path = wstr(r["lpBinaryPathName"])
    if path:
        svc["path"] = path
    o = scmr.RChangeServiceConfigWResponse()
    o["lpdwTagId"] = NULL
    o["ErrorCode"] = 0
    return o.getData()


def scm_query_config(lab, stub):
    r = parse(scmr.RQueryServiceConfigW, stub)
    svc = svc_of(lab, r["hService"])
    o = scmr.RQueryServiceConfigWResponse()
    c = o["lpServiceConfig"]
    c["dwServiceType"] = scmr.SERVICE_WIN32_OWN_PROCESS
    c["dwStartType"] = scmr.SERVICE_DEMAND_START
    c["dwErrorControl"] = scmr.SERVICE_ERROR_NORMAL
    c["lpBinaryPathName"] = svc["path"] + "\0"
    c["lpLoadOrderGroup"] = "\0"
    c["dwTagId"] = 0
    c["lpDependencies"] = "\0"
    c["lpServiceStartName"] = "LocalSystem\0"
    c["lpDisplayName"] = svc["name"] + "\0"
    o["pcbBytesNeeded"] = 512
    o["ErrorCode"] = 0
    return o.getData()


# the service's descriptor until one is set: SCM's default for a new service (MS-SCMR's
# examples; tests/lab/sd_build.py builds it)
DEFAULT_SERVICE_SD = bytes.fromhex(
    "010014800000000000000000140000003000000002001c000100000002801400ff010f0001010000000000010000"
    "000002005c000400000000001400fd01020001010000000000051200000000001800ff010f000102000000000005"
    "2000000020020000000014008d010200010100000000000504000000000014008d0102000101000000000005060000"
    "00")


def scm_query_security(lab, stub):
    """RQueryServiceObjectSecurity: too small a buffer gets ERROR_INSUFFICIENT_BUFFER and the
    size needed, as the SCM answers (impacket's helper asks again with it)."""
    r = parse(scmr.RQueryServiceObjectSecurity, stub)
    svc = svc_of(lab, r["hService"])
    sd = svc.get("sd", DEFAULT_SERVICE_SD)
    if r["cbBufSize"] < len(sd):
        body = struct.pack("<I", r["cbBufSize"]) + bytes(r["cbBufSize"])
        status = 122  # ERROR_INSUFFICIENT_BUFFER
    else:
        body = struct.pack("<I", len(sd)) + sd
        status = 0
    body += bytes(-len(body) % 4)
    return body + struct.pack("<II", len(sd), status)


def scm_set_security(lab, stub):
    # by hand, as MS-SCMR's IDL has it (a [ref] array: impacket's class wants a referent id)
    handle, _info, size = stub[:20], *struct.unpack_from("<II", stub, 20)
    if size > len(stub) - 28:  # impacket's own encoding: the referent id, then the size
        size = struct.unpack_from("<I", stub, 28)[0]
        start = 32
    else:
        start = 28
    svc = svc_of(lab, handle)
    svc["sd"] = bytes(stub[start:start + size])
    LOG.info("service %s: security descriptor set (%d bytes)", svc["name"], len(svc["sd"]))
    return struct.pack("<I", 0)


def tsch_set_security(lab, stub):
    r = parse(tsch.SchRpcSetSecurity, stub)
    LOG.info("task %s: security %s", wstr(r["path"]), wstr(r["sddl"]))
    return struct.pack("<I", 0)


def tower(iface_uuid, major, port, ip):
    floors = [
        (b"\x0d" + uuid_bytes(iface_uuid) + struct.pack("<H", major), struct.pack("<H", 0)),
        (b"\x0d" + NDR[:16] + struct.pack("<H", 2), struct.pack("<H", 0)),
        (b"\x0b", struct.pack("<H", 0)),
        (b"\x07", struct.pack(">H", port)),
        (b"\x09", socket.inet_aton(ip)),
    ]
    out = struct.pack("<H", len(floors))
    for lhs, rhs in floors:
        out += struct.pack("<H", len(lhs)) + lhs + struct.pack("<H", len(rhs)) + rhs
    return out


def epm_map(lab, stub):
    # [obj: uuid_p][map_tower: twr_p_t][entry_handle][max_towers]
    off = 0
    obj_ref = struct.unpack_from("<I", stub, off)[0]
    off += 4 + (16 if obj_ref else 0)
    tower_ref = struct.unpack_from("<I", stub, off)[0]
    off += 4
    iface = None
    if tower_ref:
        _, tlen = struct.unpack_from("<II", stub, off)
        octets = stub[off + 8:off + 8 + tlen]
        off += 8 + tlen
        off += (-off) % 4
        if len(octets) >= 23 and octets[4] == 0x0D:
            iface = uuid_str(octets[5:21])
            major = struct.unpack_from("<H", octets, 21)[0]
    # then the entry handle (20 bytes) and max_towers: not needed for one answer
    served = iface in (UUIDS["tsch"], UUIDS["atsvc"], UUIDS["svcctl"])
    LOG.info("ept_map %s: %s", iface, "port %d" % lab.dynport if served else "not registered")
    out = bytes(20)  # entry handle: none left
    if served:
        t = tower(iface, major, lab.dynport, lab.addr)
        out += struct.pack("<I", 1)
        out += struct.pack("<IIII", 4, 0, 1, 0x00020000)  # max, offset, count, referent
        out += struct.pack("<II", len(t), len(t)) + t
        out += bytes((-len(out)) % 4)
        out += struct.pack("<I", 0)
    else:
        out += struct.pack("<I", 0) + struct.pack("<III", 4, 0, 0)
        out += struct.pack("<I", EPT_S_NOT_REGISTERED)
    return out


def epm_lookup(lab, stub):
    # an empty answer: the lab announces its endpoint through ept_map only
    return bytes(20) + struct.pack("<I", 0) + struct.pack("<III", 0, 0, 0) + \
        struct.pack("<I", EPT_S_NOT_REGISTERED)


# winreg (MS-RRP): keys in a dictionary, enough for reg.py's add, query and delete

def reg_path(lab, handle, sub=""):
    what = lab.handles.get(hkey(handle))
    if not what or what[0] != "key":
        raise Fault(6)  # ERROR_INVALID_HANDLE
    sub = wstr(sub).strip("\\")
    return what[1] + ("\\" + sub.lower() if sub else "")


# (answers packed by hand: impacket's RPC_HKEY takes no bytes)
def reg_open_hklm(lab, stub):
    parse(rrp.OpenLocalMachine, stub)
    return lab.handle(("key", "hklm")) + struct.pack("<I", 0)


def reg_open_key(lab, stub):
    r = parse(rrp.BaseRegOpenKey, stub)
    path = reg_path(lab, r["hKey"], r["lpSubKey"])
    if path not in lab.keys:
        return bytes(20) + struct.pack("<I", ERROR_FILE_NOT_FOUND)
    return lab.handle(("key", path)) + struct.pack("<I", 0)


def reg_create_key(lab, stub):
    r = parse(rrp.BaseRegCreateKey, stub)
    path = reg_path(lab, r["hKey"], r["lpSubKey"])
    existed = path in lab.keys
    parts = path.split("\\")
    for i in range(1, len(parts) + 1):  # as Windows does, the keys on the way too
        lab.keys.setdefault("\\".join(parts[:i]), {})
    LOG.info("key %s %s", path, "opened" if existed else "created")
    # REG_OPENED_EXISTING_KEY or REG_CREATED_NEW_KEY in the [unique] lpdwDisposition
    return lab.handle(("key", path)) + struct.pack("<III", 0x20000, 2 if existed else 1, 0)


def reg_set_value(lab, stub):
    r = parse(rrp.BaseRegSetValue, stub)
    path = reg_path(lab, r["hKey"])
    lab.keys[path][wstr(r["lpValueName"]).lower()] = (r["dwType"], b"".join(r["lpData"]))
    LOG.info("value %s\\%s set", path, wstr(r["lpValueName"]))
    return struct.pack("<I", 0)


def reg_delete_value(lab, stub):
    r = parse(rrp.BaseRegDeleteValue, stub)
    path = reg_path(lab, r["hKey"])
    gone = lab.keys[path].pop(wstr(r["lpValueName"]).lower(), None)
    return struct.pack("<I", 0 if gone is not None else ERROR_FILE_NOT_FOUND)


def reg_set_key_security(lab, stub):
    r = parse(rrp.BaseRegSetKeySecurity, stub)
    path = reg_path(lab, r["hKey"])
    LOG.info("key %s: security descriptor set", path)
    return struct.pack("<I", 0)


def reg_close(lab, stub):
    r = parse(rrp.BaseRegCloseKey, stub)
    lab.handles.pop(hkey(r["hKey"]), None)
    return bytes(20) + struct.pack("<I", 0)


HANDLERS = {
    "tsch": {0: tsch_highest, 1: tsch_register, 4: tsch_set_security, 12: tsch_run,
             13: tsch_delete, 16: tsch_last_run},
    "atsvc": {0: at_job_add, 1: at_job_del, 2: at_job_enum},
    "svcctl": {0: scm_close, 1: scm_control, 2: scm_delete, 4: scm_query_security,
               5: scm_set_security, 6: scm_query_status,
               11: scm_change, 12: scm_create, 15: scm_open, 16: scm_open_service,
               17: scm_query_config, 19: scm_start},
    "epm": {2: epm_lookup, 3: epm_map},
    "winreg": {2: reg_open_hklm, 5: reg_close, 6: reg_create_key, 8: reg_delete_value,
               15: reg_open_key, 21: reg_set_key_security, 22: reg_set_value},
}


# ---------------------------------------------------------------- RemComSvc (psexec)

def remcom_start(lab):
    """psexec's service is "running": its pipe RemCom_communicaton answers
    one command with a line of output and exit code 0."""
    if "RemCom_communicaton" in lab.pipes:
        return
    listen(lab, "127.0.0.1", 0, remcom_main, pipe="RemCom_communicaton")


def remcom_main(lab, sock):
    size = 4096 + 260 + 4 + 4 + 260 + 4  # Command, WorkingDir, Priority, ProcessID, Machine, NoWait
    msg = b""
    while len(msg) < size:
        c = sock.recv(size - len(msg))
        if not c:
            return
        msg += c
    command = msg[:4096].split(b"\0", 1)[0].decode(errors="replace")
    pid = struct.unpack_from("<I", msg, 4096 + 260 + 4)[0]
    machine = msg[4096 + 260 + 8:4096 + 260 + 8 + 260].split(b"\0", 1)[0].decode()
    LOG.info("RemCom: %r from %s/%d", command, machine, pid)
    out = lab.fake_output(command)

    def stdout(lab, s):
        s.sendall(out)
        time.sleep(3)

    def idle(lab, s):
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    for name, fn in (("RemCom_stdout", stdout), ("RemCom_stderr", idle), ("RemCom_stdin", idle)):
        listen(lab, "127.0.0.1", 0, fn, pipe="%s%s%d" % (name, machine, pid))
    time.sleep(1.5)  # the tool reads the output first
    sock.sendall(struct.pack("<II", 0, 0))  # ErrorCode, ReturnCode
    time.sleep(1)


# ---------------------------------------------------------------- listeners

class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def listen(lab, addr, port, fn, pipe=None, endpoint=""):
    class H(socketserver.BaseRequestHandler):
        def handle(self):
            fn(lab, self.request)
    srv = Server((addr, port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    if pipe:
        lab.pipes[pipe] = srv.server_address
        if lab.smb:
            lab.smb.registerNamedPipe(pipe, srv.server_address)
    return srv


def rpc(endpoint):
    def fn(lab, sock):
        RpcConnection(lab, sock, endpoint).serve()
    return fn


def pipe_wait(lab):
    def handler(connId, smbServer, ioctlRequest):
        buf = ioctlRequest["Buffer"]
        n = struct.unpack_from("<I", buf, 8)[0]
        name = buf[14:14 + n].decode("utf-16le").lstrip("\\")
        if name in smbServer.getRegisteredNamedPipes():
            return b"", nt_errors.STATUS_SUCCESS
        return b"", nt_errors.STATUS_OBJECT_NAME_NOT_FOUND
    return handler


def allow_directory_write_open(root):
    """impacket's SMB server opens a directory asked for with FILE_WRITE_DATA
    with os.open(O_WRONLY), which Linux refuses; psexec's writable-share probe
    does exactly that. A directory is opened read-only instead."""
    real_open = os.open

    def lab_open(path, flags, *a, **kw):
        if (flags & (os.O_WRONLY | os.O_RDWR) and os.path.isdir(path) and
                os.path.realpath(path).startswith(root + os.sep)):
            flags &= ~(os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        return real_open(path, flags, *a, **kw)
    os.open = lab_open


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addr", default="192.0.2.21")
    ap.add_argument("--dynport", type=int, default=49670)
    ap.add_argument("--root", required=True, help="directory holding the shares")
    ap.add_argument("--user", default="Administrator")
    ap.add_argument("--password", default="Passw0rd!")
    ap.add_argument("--domain", default="LAB")
    ap.add_argument("--log", default=None)
    ap.add_argument("--keytab", default=None,
                    help="keys of the service account Kerberos clients get tickets for")
    a = ap.parse_args()
    logging.basicConfig(filename=a.log, level=logging.INFO,
                        format="%(asctime)s %(name)s %(message)s")
    random.seed(20240521)
    a.root = os.path.realpath(a.root)
    os.chdir(a.root)  # IPC$ has the path '': nothing may land elsewhere
    allow_directory_write_open(a.root)
    lab = Lab(a)
    listen(lab, a.addr, 135, rpc("135"))
    listen(lab, a.addr, a.dynport, rpc(str(a.dynport)))
    listen(lab, "127.0.0.1", 0, rpc(r"\PIPE\atsvc"), pipe="atsvc")
    listen(lab, "127.0.0.1", 0, rpc(r"\PIPE\svcctl"), pipe="svcctl")
    listen(lab, "127.0.0.1", 0, rpc(r"\PIPE\winreg"), pipe="winreg")

    smb = smbserver.SimpleSMBServer(listenAddress=a.addr, listenPort=445)
    smb.setSMB2Support(True)
    smb.setSMBChallenge("")
    for name, path in lab.shares.items():
        smb.addShare(name, path, "", "0", "no")
    lm = ntlm.compute_lmhash(a.password).hex()
    nt = ntlm.compute_nthash(a.password).hex()
    smb.addCredential(a.user, 0, lm, nt)
    inner = smb._SimpleSMBServer__server
    inner.getIoctls()[smb2.FSCTL_PIPE_WAIT] = pipe_wait(lab)
    lab.smb = smb
    for name, address in lab.pipes.items():
        smb.registerNamedPipe(name, address)
    print("fake_rpc_server: ready on %s (135, %d, 445)" % (a.addr, a.dynport), flush=True)
    smb.start()


if __name__ == "__main__":
    main()
