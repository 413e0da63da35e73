"""SMB 3 encrypted captures made with real AES-CCM/GCM (pycryptodome, as impacket uses),
for what the lab cannot make: a session whose second channel (SMB 3 multichannel) carries
the calls, and a capture that starts inside an encrypted session.

The keys follow MS-SMB2 3.2.5.3: SP800-108 in counter mode with HMAC-SHA256, 3.0.x labels
SMB2AESCCM / ServerIn / ServerOut, 3.1.1 SMBC2SCipherKey / SMBS2CCipherKey over the
session's pre-authentication hash (SHA-512 over NEGOTIATE, and SESSION_SETUP up to the
final response). Written here from the specification, apart from the sensor's C.

  multichannel(path, session_key) -> (session id, {what the calls must show})
"""

import hashlib
import hmac
import struct

from Cryptodome.Cipher import AES

import smbgen as S
from make_pcaps import CLIENT, SERVER, SMB_SHARE, svcctl_steps
from pcapgen import Dce, Endpoint, PcapWriter, TcpConn, ntlm_authenticate

GCM, CCM = 2, 1


def kdf(key, label, context, length=16):
    """One block of SP800-108 counter mode, HMAC-SHA256: i, label, 0x00, context, L."""
    data = struct.pack(">I", 1) + label + b"\0" + context + struct.pack(">I", length * 8)
    return hmac.new(key, data, hashlib.sha256).digest()[:length]


def keys_311(session_key, preauth):
    return (kdf(session_key[:16], b"SMBC2SCipherKey\0", preauth),
            kdf(session_key[:16], b"SMBS2CCipherKey\0", preauth))


def keys_30(session_key):
    return (kdf(session_key[:16], b"SMB2AESCCM\0", b"ServerIn \0"),
            kdf(session_key[:16], b"SMB2AESCCM\0", b"ServerOut\0"))


def negotiate_resp_311(cipher, guid=b"\xa5" * 16, caps=0x2F):
    """A 3.1.1 NEGOTIATE response body with one context, SMB2_ENCRYPTION_CAPABILITIES."""
    blob = S.spnego_init()
    ctx_off = 64 + 64 + len(blob)
    ctx_off += -ctx_off % 8
    body = struct.pack("<HHHH16sIIIIQQHHI", 65, 1, 0x0311, 1, guid, caps, 8388608, 8388608,
                       8388608, 0x01DA17A2C0000000, 0, 64 + 64, len(blob), ctx_off)
    body += blob + bytes(ctx_off - 64 - len(body) - len(blob))
    return body + struct.pack("<HHIHH", 2, 4, 0, 1, cipher)


class EncConv(S.Smb2Conv):
    """An Smb2Conv whose messages, once encrypt_with() is called, go in TRANSFORM_HEADERs
    made with real AEAD; until then the 3.1.1 hashes are kept as the messages pass."""

    def __init__(self, conn, tag):
        super().__init__(conn)
        self.keys = None
        self.count = 0
        self.tag = tag  # makes nonces differ between connections
        self.conn_hash = bytes(64)
        self.sess_hash = None
        self.preauth = True

    def _hash(self, msg):
        if not self.preauth:
            return
        cmd, status = struct.unpack_from("<H", msg, 12)[0], struct.unpack_from("<I", msg, 8)[0]
        response = struct.unpack_from("<I", msg, 16)[0] & 1
        if cmd == S.SMB2_NEGOTIATE:
            self.conn_hash = hashlib.sha512(self.conn_hash + msg).digest()
        elif cmd == S.SMB2_SESSION_SETUP:
            if self.sess_hash is None:
                self.sess_hash = self.conn_hash
            if not (response and status == 0):  # the final response is not hashed
                self.sess_hash = hashlib.sha512(self.sess_hash + msg).digest()

    def encrypt_with(self, session_id, c2s, s2c, cipher):
        self.enc_session, self.keys, self.cipher = session_id, (c2s, s2c), cipher
        self.preauth = False

    def _seal(self, msg, side):
        self.count += 1
        nonce = struct.pack("<IQ", self.tag, self.count) + bytes(4)
        n = nonce[:12] if self.cipher == GCM else nonce[:11]
        aad = nonce + struct.pack("<IHHQ", len(msg), 0, 1, self.enc_session)
        mode = AES.MODE_GCM if self.cipher == GCM else AES.MODE_CCM
        c = AES.new(self.keys[side], mode, nonce=n, mac_len=16)
        c.update(aad)
        ct, tag = c.encrypt_and_digest(msg)
        return b"\xfdSMB" + tag + aad + ct

    def send_client(self, msg):
        self._hash(msg)
        if self.keys:
            msg = self._seal(msg, 0)
        return self.conn.send(0, S.nbss(msg), seg=self.seg)

    def send_server(self, msg):
        self._hash(msg)
        if self.keys:
            msg = self._seal(msg, 1)
        return self.conn.send(1, S.nbss(msg), seg=self.seg)


def binding_setup(s, sid):
    """SESSION_SETUP with SMB2_SESSION_FLAG_BINDING for session sid (two legs, clear)."""
    from pcapgen import ntlm_challenge, ntlm_negotiate

    def req(blob):
        return struct.pack("<HBBIIHHQ", 25, 0x01, 1, 1, 0, 64 + 24, len(blob), 0) + blob
    s.session = sid
    s.exchange(S.SMB2_SESSION_SETUP, req(S.spnego_init(ntlm_negotiate())),
               S.session_setup_resp(S.spnego_resp(ntlm_challenge(), state=1, mech=True)),
               status=S.STATUS_MORE_PROCESSING_REQUIRED, req_kw={"tree": 0},
               resp_kw={"tree": 0})
    s.exchange(S.SMB2_SESSION_SETUP, req(S.spnego_resp(ntlm_authenticate("dave", "CORP", "WS7"))),
               S.session_setup_resp(S.spnego_resp(state=0)), req_kw={"tree": 0},
               resp_kw={"tree": 0})


def multichannel(path, session_key, cipher=GCM, service="ChannelTwoSvc",
                 binpath="C:\\Windows\\Temp\\two.exe"):
    """SMB 3.1.1, one session on two connections. A (client port 50901): NEGOTIATE
    (the cipher chosen in its encryption context), SESSION_SETUP in the clear (NTLMSSP
    without a real proof: only --smb-keys opens it), then encrypted: TREE_CONNECT IPC$,
    CREATE \\svcctl, the bind. B (port 50902): NEGOTIATE, a binding SESSION_SETUP in the
    clear, then encrypted on B with the session's keys (derived from A's hash): the svcctl
    calls, ROpenSCManagerW and RCreateServiceW among them, the create in a compound of
    WRITE and READ. Returns the session id and B's client port."""
    pw, d = PcapWriter(start=1700300000.0), Dce()
    sid, tree, fid = 0x0000300000000A11, 7, S.file_id(71)
    a = EncConv(TcpConn(pw, Endpoint(CLIENT, 50901), Endpoint(SERVER, 445)), 0xA)
    a.exchange(S.SMB2_NEGOTIATE, S.negotiate_req([0x0300, 0x0302, 0x0311]),
               negotiate_resp_311(cipher), req_kw={"session": 0, "tree": 0},
               resp_kw={"session": 0, "tree": 0})
    a.session_setup(sid, ntlm_authenticate("dave", "CORP", "WS7"))
    c2s, s2c = keys_311(session_key, a.sess_hash)
    a.encrypt_with(sid, c2s, s2c, cipher)
    a.tree_connect(SMB_SHARE, tree, share_type=0x02)
    a.create("svcctl", fid)
    steps = svcctl_steps(d, 1, service=service, binpath=binpath, start=False, delete=False)
    bind, ack = steps[0][1], steps[1][1]
    a.write(fid, bind)
    a.read(fid, ack)
    b = EncConv(TcpConn(pw, Endpoint(CLIENT, 50902), Endpoint(SERVER, 445)), 0xB)
    b.exchange(S.SMB2_NEGOTIATE, S.negotiate_req([0x0311]), negotiate_resp_311(cipher),
               req_kw={"session": 0, "tree": 0}, resp_kw={"session": 0, "tree": 0})
    binding_setup(b, sid)
    b.encrypt_with(sid, c2s, s2c, cipher)
    b.tree = tree
    calls = steps[2:]
    for i in range(0, len(calls), 2):
        req, resp = calls[i][1], calls[i + 1][1]
        if i == 2:  # the create: WRITE and READ in one compound, one TRANSFORM each way
            b.compound([(S.SMB2_WRITE, S.write_req(fid, req), {}),
                        (S.SMB2_READ, S.read_req(fid), {"flags": S.SMB2_FLAGS_RELATED})],
                       [(S.SMB2_WRITE, S.write_resp(len(req)), {}),
                        (S.SMB2_READ, S.read_resp(resp), {"flags": S.SMB2_FLAGS_RELATED})])
        else:
            b.write(fid, req)
            b.read(fid, resp)
    b.close(fid)
    b.conn.close()
    a.conn.close()
    pw.write(path)
    return sid, 50902
