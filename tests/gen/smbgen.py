"""SMB builders for the generator's ncacn_np captures.

NetBIOS session framing, SMB2/SMB3 (MS-SMB2) and SMB1 (MS-CIFS/MS-SMB)
messages, SPNEGO wrappers for NTLMSSP, and small "conversation" helpers that
play a client and a server over a pcapgen.TcpConn: message ids, session and
tree ids, and named-pipe I/O (a pipe object with the same send(side, data)
as a TcpConn, so DCE/RPC scripts run unchanged over TCP or over a pipe).

Plain struct.pack, byte for byte as the specifications lay the fields out;
offsets are counted from the start of the SMB header, as on the wire.
Deterministic: no clocks, no randomness.
"""

import hashlib
import struct

# ---------------------------------------------------------------- NetBIOS


def nbss(msg):
    """NetBIOS session message: type 0x00, 24-bit big-endian length, message."""
    assert len(msg) < (1 << 24)
    return struct.pack(">I", len(msg)) + msg


# ---------------------------------------------------------------- SPNEGO

OID_SPNEGO = b"\x06\x06\x2b\x06\x01\x05\x05\x02"
OID_NTLMSSP = b"\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a"


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return b"\x81" + bytes([n])
    return b"\x82" + struct.pack(">H", n)


def der(tag, content):
    return bytes([tag]) + _der_len(len(content)) + content


def spnego_init(token=None):
    """GSS-API InitialContextToken with a NegTokenInit (mechTypes: NTLMSSP)."""
    inner = der(0xA0, der(0x30, OID_NTLMSSP))
    if token is not None:
        inner += der(0xA2, der(0x04, token))
    return der(0x60, OID_SPNEGO + der(0xA0, der(0x30, inner)))


def spnego_resp(token=None, state=None, mech=False):
    """NegTokenResp. state: 0 accept-completed, 1 accept-incomplete."""
    inner = b""
    if state is not None:
        inner += der(0xA0, der(0x0A, bytes([state])))
    if mech:
        inner += der(0xA1, OID_NTLMSSP)
    if token is not None:
        inner += der(0xA2, der(0x04, token))
    return der(0xA1, der(0x30, inner))


def keystream(seed, n):
    """Deterministic random-looking bytes (stands in for ciphertext)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(seed + struct.pack("<I", i)).digest()
        i += 1
    return bytes(out[:n])


def utf16(s):
    return s.encode("utf-16-le")


# ---------------------------------------------------------------- status codes

STATUS_SUCCESS = 0x00000000
STATUS_PENDING = 0x00000103
STATUS_BUFFER_OVERFLOW = 0x80000005
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_FILE_CLOSED = 0xC0000128

# ---------------------------------------------------------------- SMB2

SMB2_NEGOTIATE = 0x00
SMB2_SESSION_SETUP = 0x01
SMB2_LOGOFF = 0x02
SMB2_TREE_CONNECT = 0x03
SMB2_TREE_DISCONNECT = 0x04
SMB2_CREATE = 0x05
SMB2_CLOSE = 0x06
SMB2_READ = 0x08
SMB2_WRITE = 0x09
SMB2_IOCTL = 0x0B

SMB2_FLAGS_RESPONSE = 0x01
SMB2_FLAGS_ASYNC = 0x02
SMB2_FLAGS_RELATED = 0x04

FSCTL_PIPE_TRANSCEIVE = 0x0011C017
FID_RELATED = b"\xff" * 16   # "the file opened earlier in this compound"


def smb2_header(cmd, msg_id, status=0, flags=0, next_cmd=0, session=0, tree=0, async_id=None,
                credits=1, credit_charge=1):
    """The 64-byte SMB2 header (sync, or async when async_id is given)."""
    if async_id is not None:
        flags |= SMB2_FLAGS_ASYNC
    h = b"\xfeSMB" + struct.pack("<HHIHHIIQ", 64, credit_charge, status, cmd, credits, flags,
                                 next_cmd, msg_id)
    if flags & SMB2_FLAGS_ASYNC:
        h += struct.pack("<Q", async_id)
    else:
        h += struct.pack("<II", 0xFEFF, tree)
    h += struct.pack("<Q", session) + bytes(16)
    assert len(h) == 64
    return h


def smb2_compound(msgs):
    """Chains complete SMB2 messages (header + body) into one: each but the last
    padded to 8 bytes and its NextCommand pointing at the next."""
    out = b""
    for i, m in enumerate(msgs):
        if i < len(msgs) - 1:
            m = m + b"\0" * ((-len(m)) % 8)
            m = m[:20] + struct.pack("<I", len(m)) + m[24:]
        out += m
    return out


def smb2_set_next(msg, next_cmd):
    """Overwrites a message's NextCommand (for malformed chains)."""
    return msg[:20] + struct.pack("<I", next_cmd & 0xFFFFFFFF) + msg[24:]


# -- command bodies (MS-SMB2 2.2.x); offsets from the header start

def negotiate_req(dialects, guid=b"\x5a" * 16):
    return struct.pack("<HHHHI16sQ", 36, len(dialects), 1, 0, 0x7F, guid, 0) + \
        b"".join(struct.pack("<H", d) for d in dialects)


def negotiate_resp(dialect, blob=b"", guid=b"\xa5" * 16, caps=0x07):
    body = struct.pack("<HHHH16sIIIIQQHHI", 65, 1, dialect, 0, guid, caps, 8388608, 8388608,
                       8388608, 0x01DA17A2C0000000, 0, 64 + 64, len(blob), 0)
    return body + blob


def session_setup_req(blob, prev=0):
    return struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 64 + 24, len(blob), prev) + blob


def session_setup_resp(blob, flags=0):
    return struct.pack("<HHHH", 9, flags, 64 + 8, len(blob)) + blob


def tree_connect_req(path):
    p = utf16(path)
    return struct.pack("<HHHH", 9, 0, 64 + 8, len(p)) + p


def tree_connect_resp(share_type, share_flags=0x30, access=0x001F01FF):
    """share_type: 0x01 disk, 0x02 pipe, 0x03 print."""
    return struct.pack("<HBBIII", 16, share_type, 0, share_flags, 0, access)


def tree_disconnect():
    return struct.pack("<HH", 4, 0)


def logoff():
    return struct.pack("<HH", 4, 0)


def create_req(name, access=0x0012019F, share=0x7, disposition=1, options=0x00000040):
    n = utf16(name)
    body = struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, 0, share, disposition,
                       options, 64 + 56, len(n), 0, 0)
    return body + (n or b"\0")


def create_resp(fid, action=1, attrs=0x80, eof=0):
    assert len(fid) == 16
    return struct.pack("<HBBIQQQQQQII16sII", 89, 0, 0, action, 0, 0, 0, 0, 4096, eof, attrs, 0,
                       fid, 0, 0)


def close_req(fid):
    return struct.pack("<HHI16s", 24, 0, 0, fid)


def close_resp():
    return struct.pack("<HHIQQQQQQI", 60, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def write_req(fid, data, offset=0, data_offset=64 + 48, length=None):
    body = struct.pack("<HHIQ16sIIHHI", 49, data_offset, len(data) if length is None else length,
                       offset, fid, 0, 0, 0, 0, 0)
    return body + data


def write_resp(count):
    return struct.pack("<HHIIHH", 17, 0, count, 0, 0, 0)


def read_req(fid, length=4280, offset=0):
    return struct.pack("<HBBIQ16sIIIHH", 49, 0x50, 0, length, offset, fid, 0, 0, 0, 0, 0) + b"\0"


def read_resp(data, remaining=0):
    return struct.pack("<HBBIII", 17, 64 + 16, 0, len(data), remaining, 0) + data


def ioctl_req(fid, ctl, data, max_out=4280):
    return struct.pack("<HHI16sIIIIIIII", 57, 0, ctl, fid, 64 + 56, len(data), 0, 64 + 56, 0,
                       max_out, 1, 0) + data


def ioctl_resp(fid, ctl, out):
    return struct.pack("<HHI16sIIIIII", 49, 0, ctl, fid, 64 + 48, 0, 64 + 48, len(out), 0, 0) + out


def error_resp():
    """SMB2 ERROR Response (interim STATUS_PENDING, failures)."""
    return struct.pack("<HBBI", 9, 0, 0, 0) + b"\0"


def file_id(n):
    """A FileId: persistent and volatile halves, distinct per n."""
    return struct.pack("<QQ", 0x1000 + n, 0x0000004100000000 | (n * 0x10001))


class Smb2Conv:
    """An SMB2 client and server talking over one TcpConn.

    Every request is one NetBIOS message from side 0, every response one from
    side 1; message ids count up from 0 as Windows does. seg: TCP segment size.
    """

    def __init__(self, conn, seg=1460):
        self.conn = conn
        self.seg = seg
        self.mid = 0
        self.session = 0
        self.tree = 0
        self.async_id = 0x51

    def next_mid(self):
        m = self.mid
        self.mid += 1
        return m

    def hdr(self, cmd, mid, **kw):
        kw.setdefault("session", self.session)
        kw.setdefault("tree", self.tree)
        return smb2_header(cmd, mid, **kw)

    def request(self, cmd, body, mid=None, **kw):
        """A request message (not sent); returns (mid, bytes)."""
        mid = self.next_mid() if mid is None else mid
        return mid, self.hdr(cmd, mid, **kw) + body

    def response(self, cmd, mid, body, status=0, flags=0, **kw):
        kw.setdefault("credits", 32)
        return self.hdr(cmd, mid, status=status, flags=SMB2_FLAGS_RESPONSE | flags, **kw) + body

    def encrypt(self, session_id):
        """From now on every message goes in an SMB3 transform header."""
        self.enc_session = session_id
        self.nonce = 0

    def _wrap(self, msg):
        if getattr(self, "enc_session", None) is None:
            return msg
        self.nonce += 1
        seed = struct.pack("<QQ", self.enc_session, self.nonce)
        ct = bytes(a ^ b for a, b in zip(msg, keystream(b"data" + seed, len(msg))))
        nonce = keystream(b"nonce" + seed, 11) + bytes(5)     # AES-128-CCM: 11-byte nonce
        hdr = b"\xfdSMB" + keystream(b"sig" + seed, 16) + nonce + \
            struct.pack("<IHHQ", len(msg), 0, 1, self.enc_session)
        assert len(hdr) == 52
        return hdr + ct

    def send_client(self, msg):
        return self.conn.send(0, nbss(self._wrap(msg)), seg=self.seg)

    def send_server(self, msg):
        return self.conn.send(1, nbss(self._wrap(msg)), seg=self.seg)

    def exchange(self, cmd, req_body, resp_body, status=0, req_kw=None, resp_kw=None):
        mid, m = self.request(cmd, req_body, **(req_kw or {}))
        self.send_client(m)
        self.send_server(self.response(cmd, mid, resp_body, status=status, **(resp_kw or {})))
        return mid

    def compound(self, reqs, resps):
        """One message of chained requests [(cmd, body, header kw)], answered by
        one message of chained responses in the same order."""
        msgs, mids = [], []
        for cmd, body, kw in reqs:
            mid, m = self.request(cmd, body, **kw)
            msgs.append(m)
            mids.append(mid)
        self.send_client(smb2_compound(msgs))
        out = []
        for (cmd, body, kw), mid in zip(resps, mids):
            kw = dict(kw)
            flags = kw.pop("flags", 0)
            out.append(self.response(cmd, mid, body, flags=flags, **kw))
        self.send_server(smb2_compound(out))
        return mids

    # -- the session

    def negotiate(self, dialect=0x0210, offered=(0x0202, 0x0210)):
        self.exchange(SMB2_NEGOTIATE, negotiate_req(list(offered)),
                      negotiate_resp(dialect, spnego_init()), req_kw={"session": 0, "tree": 0},
                      resp_kw={"session": 0, "tree": 0})

    def session_setup(self, session_id, auth_token, session_flags=0):
        """NTLMSSP in SPNEGO: NEGOTIATE -> CHALLENGE (MORE_PROCESSING_REQUIRED),
        AUTHENTICATE -> SUCCESS. auth_token: the AUTHENTICATE message."""
        from pcapgen import ntlm_challenge, ntlm_negotiate
        self.exchange(SMB2_SESSION_SETUP, session_setup_req(spnego_init(ntlm_negotiate())),
                      session_setup_resp(spnego_resp(ntlm_challenge(), state=1, mech=True)),
                      status=STATUS_MORE_PROCESSING_REQUIRED,
                      req_kw={"session": 0, "tree": 0},
                      resp_kw={"session": session_id, "tree": 0})
        self.session = session_id
        self.exchange(SMB2_SESSION_SETUP, session_setup_req(spnego_resp(auth_token)),
                      session_setup_resp(spnego_resp(state=0), flags=session_flags),
                      req_kw={"tree": 0}, resp_kw={"tree": 0})

    def tree_connect(self, path, tree_id, share_type=0x02):
        self.exchange(SMB2_TREE_CONNECT, tree_connect_req(path), tree_connect_resp(share_type),
                      req_kw={"tree": 0}, resp_kw={"tree": tree_id})
        self.tree = tree_id

    def create(self, name, fid, **kw):
        self.exchange(SMB2_CREATE, create_req(name, **kw), create_resp(fid))

    def close(self, fid):
        self.exchange(SMB2_CLOSE, close_req(fid), close_resp())

    def write(self, fid, data, offset=0):
        charge = max(1, (len(data) + 65535) // 65536)     # multi-credit (2.1+) for big writes
        self.exchange(SMB2_WRITE, write_req(fid, data, offset), write_resp(len(data)),
                      req_kw={"credit_charge": charge}, resp_kw={"credit_charge": charge})

    def read(self, fid, data, length=4280, status=0):
        self.exchange(SMB2_READ, read_req(fid, length), read_resp(data), status=status)

    def read_pending(self, fid, data, length=4280):
        """A READ answered first by an interim STATUS_PENDING (async), then the data."""
        mid, m = self.request(SMB2_READ, read_req(fid, length))
        self.send_client(m)
        aid = self.async_id
        self.async_id += 1
        self.send_server(self.response(SMB2_READ, mid, error_resp(), status=STATUS_PENDING,
                                       async_id=aid))
        self.send_server(self.response(SMB2_READ, mid, read_resp(data), async_id=aid,
                                       credits=0))

    def transceive(self, fid, data, out, max_out=4280, status=0):
        self.exchange(SMB2_IOCTL, ioctl_req(fid, FSCTL_PIPE_TRANSCEIVE, data, max_out),
                      ioctl_resp(fid, FSCTL_PIPE_TRANSCEIVE, out), status=status)

    def tree_disconnect(self):
        self.exchange(SMB2_TREE_DISCONNECT, tree_disconnect(), tree_disconnect())

    def logoff(self):
        self.exchange(SMB2_LOGOFF, logoff(), logoff(), req_kw={"tree": 0},
                      resp_kw={"tree": 0})


class Smb2Pipe:
    """A named pipe on an Smb2Conv with a TcpConn's send(side, data): the
    client's bytes go by WRITE, the server's come back by READ."""

    def __init__(self, conv, fid):
        self.conv, self.fid = conv, fid
        self.c, self.s = conv.conn.c, conv.conn.s

    def send(self, side, data, seg=None):
        if side == 0:
            self.conv.write(self.fid, data)
        else:
            self.conv.read(self.fid, data)


# ---------------------------------------------------------------- SMB1

SMB1_CLOSE = 0x04
SMB1_TRANSACTION = 0x25
SMB1_TRANSACTION_SECONDARY = 0x26
SMB1_READ_ANDX = 0x2E
SMB1_WRITE_ANDX = 0x2F
SMB1_NEGOTIATE = 0x72
SMB1_SESSION_SETUP_ANDX = 0x73
SMB1_TREE_CONNECT_ANDX = 0x75
SMB1_NT_CREATE_ANDX = 0xA2
SMB1_NO_ANDX = 0xFF

SMB1_FLAGS_REQ = 0x18             # case-insensitive, canonical paths
SMB1_FLAGS_REPLY = 0x98
SMB1_FLAGS2 = 0xC803              # Unicode, NT status, extended security, long names, EAs


def smb1_header(cmd, mid, status=0, reply=False, tid=0, uid=0, pid=0xFEFF, flags2=SMB1_FLAGS2):
    return b"\xffSMB" + struct.pack("<BIBHH8sHHHHH", cmd, status,
                                    SMB1_FLAGS_REPLY if reply else SMB1_FLAGS_REQ, flags2, 0,
                                    bytes(8), 0, tid, pid, uid, mid)


def smb1_block(words, data):
    """WordCount, Words, ByteCount, Bytes."""
    assert len(words) % 2 == 0
    return bytes([len(words) // 2]) + words + struct.pack("<H", len(data)) + data


def smb1_andx(andx):
    return struct.pack("<BBH", andx[0], 0, andx[1])


class Bytes:
    """A byte area being built at a known offset from the SMB header (for the
    Unicode alignment and the data offsets that count from the header)."""

    def __init__(self, at):
        self.at = at
        self.b = bytearray()

    def pos(self):
        return self.at + len(self.b)

    def align(self, n):
        while self.pos() % n:
            self.b.append(0)

    def raw(self, data):
        self.b += data

    def uni(self, s):
        """A NUL-terminated Unicode string, 2-aligned from the header start."""
        self.align(2)
        self.b += utf16(s + "\0")

    def oem(self, s):
        self.b += s.encode("latin-1") + b"\0"


class Cmd:
    """One SMB1 command of a message: fn(at, andx) -> its block, where at is the
    offset of its WordCount from the header and andx (next command, offset)."""

    def __init__(self, cmd, fn):
        self.cmd, self.fn = cmd, fn


def smb1_message(cmds, mid, align=4, andx_override=None, **hdr):
    """A header and a chain of commands; AndX offsets computed (each next
    command aligned to align). andx_override: {index: (cmd, offset)} to break
    a chain on purpose."""
    at = [32]
    for i, c in enumerate(cmds[:-1]):
        size = len(c.fn(at[i], (SMB1_NO_ANDX, 0)))
        nxt = at[i] + size
        nxt += (-nxt) % align
        at.append(nxt)
    out = bytearray(smb1_header(cmds[0].cmd, mid, **hdr))
    for i, c in enumerate(cmds):
        andx = (cmds[i + 1].cmd, at[i + 1]) if i + 1 < len(cmds) else (SMB1_NO_ANDX, 0)
        if andx_override and i in andx_override:
            andx = andx_override[i]
        out += b"\0" * (at[i] - len(out))
        out += c.fn(at[i], andx)
    return bytes(out)


# -- command builders (MS-CIFS 2.2.4.x, MS-SMB 2.2.4.x)

def negotiate1_req():
    return Cmd(SMB1_NEGOTIATE, lambda at, andx: smb1_block(b"", b"\x02NT LM 0.12\0"))


def negotiate1_resp(blob, guid=b"\xa6" * 16):
    words = struct.pack("<HBHHIIIIQhB", 0, 0x03, 50, 1, 16644, 65536, 0, 0x8000F3FD,
                        0x01DA17A2C0000000, 0, 0)
    return Cmd(SMB1_NEGOTIATE, lambda at, andx: smb1_block(words, guid + blob))


def session_setup1_req(blob, native_os="Windows 7 Professional 7601 Service Pack 1",
                       lanman="Windows 7 Professional 6.1"):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<HHHIHII", 16644, 50, 0, 0, len(blob), 0,
                                              0x800000D4)
        b = Bytes(at + 1 + len(words) + 2)
        b.raw(blob)
        b.uni(native_os)
        b.uni(lanman)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_SESSION_SETUP_ANDX, fn)


def session_setup1_resp(blob, native_os="Windows Server 2008 R2 Standard 7601 Service Pack 1",
                        lanman="Windows Server 2008 R2 Standard 6.1"):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<HH", 0, len(blob))
        b = Bytes(at + 1 + len(words) + 2)
        b.raw(blob)
        b.uni(native_os)
        b.uni(lanman)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_SESSION_SETUP_ANDX, fn)


def tree_connect1_req(path, service="?????"):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<HH", 0, 1)
        b = Bytes(at + 1 + len(words) + 2)
        b.raw(b"\0")            # password
        b.uni(path)
        b.oem(service)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_TREE_CONNECT_ANDX, fn)


def tree_connect1_resp(service="IPC"):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<H", 0x0001)
        b = Bytes(at + 1 + len(words) + 2)
        b.oem(service)
        b.uni("")               # native file system
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_TREE_CONNECT_ANDX, fn)


def nt_create1_req(name):
    def fn(at, andx):
        n = utf16(name + "\0")
        words = smb1_andx(andx) + struct.pack("<BHIIIQIIIIIB", 0, len(n), 0x16, 0, 0x0002019F,
                                              0, 0, 3, 1, 0x00400040, 2, 0)
        b = Bytes(at + 1 + len(words) + 2)
        b.uni(name)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_NT_CREATE_ANDX, fn)


def nt_create1_resp(fid):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<BHIQQQQIQQHHB", 0, fid, 1, 0, 0, 0, 0, 0x80,
                                              4096, 0, 2, 0x05FF, 0)
        return smb1_block(words, b"")
    return Cmd(SMB1_NT_CREATE_ANDX, fn)


def write1_req(fid, data):
    def fn(at, andx):
        wlen = 4 + 24
        start = at + 1 + wlen + 2
        pad = 1 if start % 2 else 0       # data 2-aligned, as Windows sends it
        words = smb1_andx(andx) + struct.pack("<HIIHHHHHI", fid, 0, 0xFFFFFFFF, 0x0008,
                                              len(data), len(data) >> 16, len(data) & 0xFFFF,
                                              start + pad, 0)
        return smb1_block(words, b"\0" * pad + data)
    return Cmd(SMB1_WRITE_ANDX, fn)


def write1_resp(count):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<HHHH", count & 0xFFFF, 0xFFFF, count >> 16, 0)
        return smb1_block(words, b"")
    return Cmd(SMB1_WRITE_ANDX, fn)


def read1_req(fid, length=4280):
    def fn(at, andx):
        words = smb1_andx(andx) + struct.pack("<HIHHIHI", fid, 0, length, length, 0xFFFFFFFF,
                                              length, 0)
        return smb1_block(words, b"")
    return Cmd(SMB1_READ_ANDX, fn)


def read1_resp(data):
    def fn(at, andx):
        wlen = 4 + 20
        start = at + 1 + wlen + 2
        pad = 1 if start % 2 else 0
        words = smb1_andx(andx) + struct.pack("<HHHHHH8s", 0xFFFF, 0, 0, len(data) & 0xFFFF,
                                              start + pad, len(data) >> 16, bytes(8))
        return smb1_block(words, b"\0" * pad + data)
    return Cmd(SMB1_READ_ANDX, fn)


def transact_nmpipe_req(fid, data, max_data=4280, total=None):
    """SMB_COM_TRANSACTION, subcommand TransactNmPipe (0x0026) on fid. total: the
    transaction's TotalDataCount when data is only its first part (the rest follows
    in TRANSACTION_SECONDARY requests)."""
    def fn(at, andx):
        wlen = 2 * 16
        b = Bytes(at + 1 + wlen + 2)
        b.uni("\\PIPE\\")
        b.align(4)
        poff = b.pos()
        b.align(4)
        doff = b.pos()
        b.raw(data)
        words = struct.pack("<HHHHBBHIHHHHHBBHH", 0, len(data) if total is None else total, 0,
                            max_data, 0, 0, 0, 0, 0, 0, poff, len(data), doff, 2, 0, 0x0026, fid)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_TRANSACTION, fn)


def transaction_secondary_req(total, data, disp):
    """SMB_COM_TRANSACTION_SECONDARY (MS-CIFS 2.2.4.34.1): bytes [disp, disp+len) of the
    transaction's data."""
    def fn(at, andx):
        wlen = 2 * 8
        b = Bytes(at + 1 + wlen + 2)
        b.align(4)
        doff = b.pos()
        b.raw(data)
        words = struct.pack("<HHHHHHHH", 0, total, 0, 0, 0, len(data), doff, disp)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_TRANSACTION_SECONDARY, fn)


def transact_nmpipe_resp(data):
    def fn(at, andx):
        wlen = 2 * 10
        b = Bytes(at + 1 + wlen + 2)
        b.align(4)
        poff = b.pos()
        doff = b.pos()
        b.raw(data)
        words = struct.pack("<HHHHHHHHHBB", 0, len(data), 0, 0, poff, 0, len(data), doff, 0, 0,
                            0)
        return smb1_block(words, bytes(b.b))
    return Cmd(SMB1_TRANSACTION, fn)


def close1_req(fid):
    return Cmd(SMB1_CLOSE, lambda at, andx: smb1_block(struct.pack("<HI", fid, 0xFFFFFFFF),
                                                       b""))


def empty1(cmd):
    """A reply with no parameters (CLOSE reply, error replies)."""
    return Cmd(cmd, lambda at, andx: smb1_block(b"", b""))


class Smb1Conv:
    """An SMB1 client and server over one TcpConn (MIDs count up from 1)."""

    def __init__(self, conn, seg=1460):
        self.conn = conn
        self.seg = seg
        self.mid = 1
        self.uid = 0
        self.tid = 0

    def next_mid(self):
        m = self.mid
        self.mid += 1
        return m

    def send_client(self, msg):
        return self.conn.send(0, nbss(msg), seg=self.seg)

    def send_server(self, msg):
        return self.conn.send(1, nbss(msg), seg=self.seg)

    def exchange(self, req_cmds, resp_cmds, status=0, req_hdr=None, resp_hdr=None,
                 andx_override=None):
        mid = self.next_mid()
        rh = {"tid": self.tid, "uid": self.uid}
        rh.update(req_hdr or {})
        self.send_client(smb1_message(req_cmds, mid, andx_override=andx_override, **rh))
        sh = {"tid": self.tid, "uid": self.uid}
        sh.update(resp_hdr or {})
        self.send_server(smb1_message(resp_cmds, mid, status=status, reply=True, **sh))
        return mid

    def write(self, fid, data):
        self.exchange([write1_req(fid, data)], [write1_resp(len(data))])

    def read(self, fid, data):
        self.exchange([read1_req(fid)], [read1_resp(data)])

    def transact(self, fid, data, out, max_data=4280, status=0):
        self.exchange([transact_nmpipe_req(fid, data, max_data)], [transact_nmpipe_resp(out)],
                      status=status)

    def transact_in_parts(self, fid, data, out, cuts, order):
        """A TransactNmPipe whose input is data[:cuts[0]] in the primary and the other
        pieces in TRANSACTION_SECONDARY requests sent in order (indexes of the pieces after
        the first); the server's interim answer after the primary, its answer after all."""
        mid = self.next_mid()
        h = {"tid": self.tid, "uid": self.uid}
        bounds = [0] + list(cuts) + [len(data)]
        pieces = [(bounds[i], data[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)]
        self.send_client(smb1_message([transact_nmpipe_req(fid, pieces[0][1],
                                                           total=len(data))], mid, **h))
        self.send_server(smb1_message([empty1(SMB1_TRANSACTION)], mid, reply=True, **h))
        for i in order:
            disp, piece = pieces[i]
            self.send_client(smb1_message([transaction_secondary_req(len(data), piece, disp)],
                                          mid, **h))
        self.send_server(smb1_message([transact_nmpipe_resp(out)], mid, reply=True, **h))

    def close(self, fid):
        self.exchange([close1_req(fid)], [empty1(SMB1_CLOSE)])


class Smb1Pipe:
    """A named pipe on an Smb1Conv: WRITE_ANDX out, READ_ANDX back."""

    def __init__(self, conv, fid):
        self.conv, self.fid = conv, fid
        self.c, self.s = conv.conn.c, conv.conn.s

    def send(self, side, data, seg=None):
        if side == 0:
            self.conv.write(self.fid, data)
        else:
            self.conv.read(self.fid, data)
