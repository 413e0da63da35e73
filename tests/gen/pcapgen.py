"""Building blocks for the project's own captures.

Frames (Ethernet/VLAN/SLL2/raw, IPv4/IPv6, TCP) with real checksums, TCP
connections that can be segmented, reordered, retransmitted or seen from one
side, and DCE/RPC connection-oriented PDUs in either byte order. Everything
is deterministic: the same script writes the same bytes.

Each call a scenario makes is also written down as ground truth (what was put
on the wire), so tests compare the sensor against the generator, never
against the sensor's own output.
"""

import struct
import uuid as uuidlib

# ---------------------------------------------------------------- pcap file

LINK_ETHERNET = 1
LINK_RAW = 101
LINK_NULL = 0
LINK_SLL2 = 276


class PcapWriter:
    """Classic pcap (microsecond) with one link type."""

    def __init__(self, linktype=LINK_ETHERNET, start=1700000000.0):
        self.linktype = linktype
        self.t = start
        self.frames = []

    def add(self, frame, dt=0.0005, wirelen=None):
        self.t += dt
        self.frames.append((self.t, frame, wirelen))
        return len(self.frames)  # pcap_cnt of this frame

    def bytes(self):
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, self.linktype)]
        for t, frame, wirelen in self.frames:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            out.append(struct.pack("<IIII", sec, usec, len(frame), wirelen or len(frame)))
            out.append(frame)
        return b"".join(out)

    def write(self, path):
        with open(path, "wb") as f:
            f.write(self.bytes())


# ---------------------------------------------------------------- IP and TCP

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip_bytes(addr):
    import ipaddress
    return ipaddress.ip_address(addr).packed


def tcp_segment(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240, urgent=0):
    """TCP header + payload with the checksum over the pseudo-header."""
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, window, 0, urgent)
    s, d = ip_bytes(src), ip_bytes(dst)
    if len(s) == 4:
        pseudo = s + d + struct.pack("!BBH", 0, 6, len(hdr) + len(payload))
    else:
        pseudo = s + d + struct.pack("!IxxxB", len(hdr) + len(payload), 6)
    c = _csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def ipv4(src, dst, l4, proto=6, ident=1, total_len=None):
    tl = 20 + len(l4) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tl, ident & 0xFFFF, 0x4000, 64, proto, 0,
                      ip_bytes(src), ip_bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return hdr + l4


def ipv6(src, dst, l4, proto=6, ext_headers=False):
    body, nxt = l4, proto
    if ext_headers:
        # a destination-options header (PadN) in front of TCP
        body = struct.pack("!BB", proto, 0) + b"\x01\x04\0\0\0\0" + l4
        nxt = 60
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(body), nxt, 64, ip_bytes(src), ip_bytes(dst))
    return hdr + body


def ethernet(l3, vlans=(), src_mac=b"\x00\x0c\x29\x11\x22\x33", dst_mac=b"\x00\x50\x56\x44\x55\x66",
             ethertype=0x0800):
    out = dst_mac + src_mac
    for i, v in enumerate(vlans):
        tpid = 0x88A8 if (len(vlans) > 1 and i == 0) else 0x8100
        out += struct.pack("!HH", tpid, v)
    return out + struct.pack("!H", ethertype) + l3


def sll2(l3, ethertype=0x0800):
    return struct.pack("!HHIHBB8s", ethertype, 0, 2, 1, 0, 6, b"\x00\x0c\x29\x11\x22\x33\0\0") + l3


class Endpoint:
    def __init__(self, ip, port):
        self.ip, self.port = ip, port


class TcpConn:
    """One TCP connection written into a PcapWriter.

    link: 'eth' (default), 'sll2', 'raw', 'null'. vlans: VLAN ids for
    Ethernet. oneside: only the client's packets are written.
    """

    def __init__(self, pw, client, server, handshake=True, isn=(1000, 500000), vlans=(),
                 link="eth", oneside=False, tso_zero_len=False):
        self.pw, self.c, self.s = pw, client, server
        self.seq = {0: isn[0], 1: isn[1]}
        self.vlans, self.link, self.oneside = vlans, link, oneside
        self.tso_zero_len = tso_zero_len
        self.ident = 1
        self.v6 = ":" in client.ip
        if handshake:
            self._send(0, 0x02, b"", seq=self.seq[0] - 1, ack=0)
            self._send(1, 0x12, b"", seq=self.seq[1] - 1, ack=self.seq[0])
            self._send(0, 0x10, b"")

    def window(self, side, ack):
        """The window side advertises with ack (a subclass models a receive buffer)."""
        return 64240

    def _frame(self, side, flags, payload, seq, ack, urgent=0):
        a, b = (self.c, self.s) if side == 0 else (self.s, self.c)
        seg = tcp_segment(a.ip, b.ip, a.port, b.port, seq, ack, flags, payload,
                          window=self.window(side, ack), urgent=urgent)
        if self.v6:
            l3 = ipv6(a.ip, b.ip, seg, ext_headers=bool(self.vlans))
            et = 0x86DD
        else:
            tl = 0 if (self.tso_zero_len and payload) else None
            l3 = ipv4(a.ip, b.ip, seg, ident=self.ident, total_len=tl)
            et = 0x0800
        self.ident += 1
        if self.link == "eth":
            return ethernet(l3, self.vlans, ethertype=et)
        if self.link == "sll2":
            return sll2(l3, et)
        if self.link == "null":
            return struct.pack("<I", 24 if self.v6 else 2) + l3
        return l3

    def _send(self, side, flags, payload, seq=None, ack=None, urgent=0):
        if seq is None:
            seq = self.seq[side]
        if ack is None:
            ack = self.seq[1 - side]
        if self.oneside and side == 1:
            return None
        return self.pw.add(self._frame(side, flags, payload, seq, ack, urgent))

    def send(self, side, data, seg=None, order=None, dup=(), overlap=None):
        """Sends data from side (0 client, 1 server).

        seg: maximum segment size (None = one segment). order: permutation of
        segment indexes for out-of-order delivery, or a function of the
        segment count returning one. dup: indexes sent twice
        (retransmissions). overlap: (index, bytes) - before segment index, a
        segment covering the same range with different bytes is sent first
        (first data wins at the receiver... of the sensor). Returns the
        pcap_cnt of the last frame written for this data.
        """
        base = self.seq[side]
        seg = seg or max(1, len(data))
        pieces = [(base + i, data[i:i + seg]) for i in range(0, len(data), seg)] or [(base, b"")]
        if callable(order):
            order = order(len(pieces))
        idx = list(range(len(pieces))) if order is None else list(order)
        last = None
        for i in idx:
            s, p = pieces[i]
            if overlap and overlap[0] == i:
                last = self._send(side, 0x18, overlap[1][:len(p)], seq=s) or last
            last = self._send(side, 0x18, p, seq=s) or last
            if i in dup:
                last = self._send(side, 0x18, p, seq=s) or last
        self.seq[side] = base + len(data)
        self._send(1 - side, 0x10, b"")  # the peer's ACK
        return last

    def close(self):
        self._send(0, 0x11, b"")
        self.seq[0] += 1
        self._send(1, 0x11, b"")
        self.seq[1] += 1
        self._send(0, 0x10, b"")


# ---------------------------------------------------------------- DCE/RPC

NDR = ("8a885d04-1ceb-11c9-9fe8-08002b104860", 2)
NDR64 = ("71710533-beba-4937-8319-b5dbef9ccc36", 1)
BTFN = ("6cb71c2c-9812-4540-0300-000000000000", 1)

TSCH = ("86d35949-83c9-4044-b424-db363231fd0c", 1, 0)
ATSVC = ("1ff70682-0a51-30e8-076d-740be8cee98b", 1, 0)
SASEC = ("378e52b0-c0a9-11cf-822d-00aa0051e40f", 1, 0)
SVCCTL = ("367abb81-9844-35f1-ad32-98f038001003", 2, 0)
EPM = ("e1af8308-5d1f-11c9-91a4-08002b14a0fa", 3, 0)
SRVSVC = ("4b324fc8-1670-01d3-1278-5a47bf6ee188", 3, 0)
DECOY = ("12345678-4321-abcd-ef00-0123456789ab", 1, 0)


def uuid_wire(u, le=True):
    b = uuidlib.UUID(u).bytes
    return uuidlib.UUID(u).bytes_le if le else b


class Dce:
    """PDU builders for one byte order."""

    def __init__(self, le=True):
        self.le = le
        self.e = "<" if le else ">"

    def _hdr(self, ptype, flags, frag_len, auth_len, call_id, minor=0):
        drep = b"\x10\x00\x00\x00" if self.le else b"\x00\x00\x00\x00"
        return struct.pack("BBBB", 5, minor, ptype, flags) + drep + \
            struct.pack(self.e + "HHI", frag_len, auth_len, call_id)

    def _pdu(self, ptype, flags, call_id, body, auth=None):
        """auth: (type, level, auth_value, pad_to) -> sec_trailer + value."""
        auth_len = 0
        tail = b""
        if auth:
            atype, level, value = auth
            pad = (-(16 + len(body))) % 4 if ptype in (0, 2) else 0
            body = body + b"\0" * pad
            tail = struct.pack("BBBBI", atype, level, pad, 0, 0) + value
            if not self.le:
                tail = struct.pack(">BBBBI", atype, level, pad, 0, 0) + value
            auth_len = len(value)
        frag_len = 16 + len(body) + len(tail)
        return self._hdr(ptype, flags, frag_len, auth_len, call_id) + body + tail

    def bind(self, call_id, contexts, auth=None, alter=False):
        """contexts: [(ctx_id, (uuid, vmaj, vmin), [syntax, ...])]."""
        body = struct.pack(self.e + "HHI", 5840, 5840, 0)
        body += struct.pack(self.e + "BBH", len(contexts), 0, 0)
        for ctx_id, iface, syntaxes in contexts:
            body += struct.pack(self.e + "HBB", ctx_id, len(syntaxes), 0)
            body += uuid_wire(iface[0], self.le) + struct.pack(self.e + "HH", iface[1], iface[2])
            for sx in syntaxes:
                body += uuid_wire(sx[0], self.le) + struct.pack(self.e + "I", sx[1])
        return self._pdu(14 if alter else 11, 0x03, call_id, body, auth)

    def bind_ack(self, call_id, results, sec_addr=b"49667\0", auth=None, alter=False):
        """results: [(result, syntax)] in the bind's context order."""
        body = struct.pack(self.e + "HHI", 5840, 5840, 0x1234)
        body += struct.pack(self.e + "H", len(sec_addr)) + sec_addr
        body += b"\0" * ((-(16 + len(body))) % 4)
        body += struct.pack(self.e + "BBH", len(results), 0, 0)
        for result, sx in results:
            body += struct.pack(self.e + "HH", result, 0)
            sx = sx or ("00000000-0000-0000-0000-000000000000", 0)
            body += uuid_wire(sx[0], self.le) + struct.pack(self.e + "I", sx[1])
        return self._pdu(15 if alter else 12, 0x03, call_id, body, auth)

    def request(self, call_id, ctx_id, opnum, stub, flags=0x03, auth=None, obj=None):
        if obj:
            flags |= 0x80
        body = struct.pack(self.e + "IHH", len(stub), ctx_id, opnum)
        if obj:
            body += uuid_wire(obj, self.le)
        return self._pdu(0, flags, call_id, body + stub, auth)

    def response(self, call_id, ctx_id, stub, flags=0x03, auth=None):
        body = struct.pack(self.e + "IHBB", len(stub), ctx_id, 0, 0)
        return self._pdu(2, flags, call_id, body + stub, auth)

    def fault(self, call_id, ctx_id, status):
        body = struct.pack(self.e + "IHBBII", 0, ctx_id, 0, 0, status, 0)
        return self._pdu(3, 0x03, call_id, body)

    def auth3(self, call_id, auth):
        return self._pdu(16, 0x03, call_id, b"\0\0\0\0", auth)

    def fragments(self, kind, call_id, ctx_id, opnum, stub, size, auth=None):
        """A request (kind 'req') or response ('res') cut into fragments of size stub bytes."""
        chunks = [stub[i:i + size] for i in range(0, len(stub), size)] or [b""]
        out = []
        for i, ch in enumerate(chunks):
            fl = (0x01 if i == 0 else 0) | (0x02 if i == len(chunks) - 1 else 0)
            if kind == "req":
                out.append(self.request(call_id, ctx_id, opnum, ch, flags=fl, auth=auth))
            else:
                out.append(self.response(call_id, ctx_id, ch, flags=fl, auth=auth))
        return out


# ---------------------------------------------------------------- NTLMSSP

def ntlm_negotiate():
    return b"NTLMSSP\0" + struct.pack("<II", 1, 0xE2088297) + b"\0" * 16


def ntlm_challenge():
    return b"NTLMSSP\0" + struct.pack("<IHHII", 2, 0, 0, 56, 0xE2898215) + b"\x11" * 8 + b"\0" * 24


def ntlm_authenticate(user, domain, host, unicode=True):
    enc = (lambda s: s.encode("utf-16-le")) if unicode else (lambda s: s.encode("latin-1"))
    fields = [b"\0" * 24, b"\x22" * 24, enc(domain), enc(user), enc(host), b"\x33" * 16]
    off = 72
    hdr = b"NTLMSSP\0" + struct.pack("<I", 3)
    data = b""
    for f in fields:
        hdr += struct.pack("<HHI", len(f), len(f), off + len(data))
        data += f
    flags = 0xE2888215 if unicode else 0xE2888214
    hdr += struct.pack("<I", flags) + b"\x0a\x00\x63\x45\x00\x00\x00\x0f"
    return hdr + data


# ---------------------------------------------------------------- ground truth

class Truth:
    """What a scenario put on the wire, call by call."""

    def __init__(self):
        self.calls = []
        # None: not checked. A list: the anomaly events (by name) the capture
        # must raise, and no others ([]: none at all).
        self.anomalies = None

    def no_anomalies(self):
        if self.anomalies is None:
            self.anomalies = []

    def anomaly(self, event):
        self.no_anomalies()
        if event not in self.anomalies:
            self.anomalies.append(event)

    def call(self, conn, **kw):
        rec = {"src_ip": conn.c.ip, "src_port": conn.c.port,
               "dest_ip": conn.s.ip, "dest_port": conn.s.port}
        rec.update(kw)
        self.calls.append(rec)
        return rec
