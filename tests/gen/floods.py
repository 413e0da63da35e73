#!/usr/bin/python3
"""Flood captures for tests/e2e/test_floods.py (issue "Robustness and evasion").

    tests/gen/floods.py DIR [NAME ...]

Written at test time into a temporary directory (they are large, tens of
MB, so they are not committed): each is streamed to its file frame by frame.
Deterministic (fixed timestamps, seeded randomness), like the other
generators.

  syn       200,000 short flows (SYN, SYN-ACK, RST) from distinct spoofed
            sources to 10.1.0.20:135, 20 us apart; in the middle a real
            ncacn_ip_tcp connection registers a task (SchRpcRegisterTask),
            its packets interleaved with the flood.
  open_calls  3,000 DCE/RPC connections to the task scheduler, each bound, then
            8 requests left open (first fragment only, alloc_hint 0x7ffffff0,
            512 stub bytes each) and a last PDU announcing frag_length 65535
            (alloc_hint 0x7fffffff) of which only 2,800 bytes ever come; the
            connections never close. A real task registration in the middle.
  ooo       20 connections bound to the task scheduler whose clients then send
            1,200 segments of 1,400 bytes each, 64 KiB beyond a hole that is
            never filled (the server only repeats its ACK of the hole's start),
            round-robin across the connections; a real task registration in
            the middle.
  smb_pipes one SMB2 session opening 1,200 pipes that are never closed; each gets
            a svcctl bind and then a WRITE of 5,000 bytes of a request that
            announces 65,535. In the middle, a real service creation on its
            own pipe (bind, ROpenSCManagerW, RCreateServiceW); and a real task
            registration on \\atsvc whose bind and request are separated by
            200 more pipe openings.
  fragments 30,000 UDP datagrams of which only the first fragment ever comes
            (36 MB waiting, past the defrag cap), from 4,096 sources; in the
            middle a task registration whose every data segment is sent as
            64-octet IPv4 fragments.

Each function returns what the sensor must report (the real creations).
"""

import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import smbgen as S  # noqa: E402
from evasion import Payload, smb_pipe_bind, v4_fragments  # noqa: E402
from make_pcaps import CLIENT, SERVER, smb2_login  # noqa: E402
from pcapgen import NDR, SVCCTL, TSCH, Dce, Endpoint, TcpConn, _csum, ip_bytes  # noqa: E402

SYN, RST, ACK, PSH = 0x02, 0x04, 0x10, 0x08


class StreamWriter:
    """A PcapWriter (classic pcap, Ethernet) that writes each frame as it comes;
    time in integer microseconds, dt_us between frames unless told."""

    def __init__(self, path, start_s, dt_us=500):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.us = start_s * 1000000
        self.dt_us = dt_us
        self.n = 0

    def add(self, frame, dt=None, wirelen=None):
        self.us += self.dt_us if dt is None else int(round(dt * 1e6))
        self.f.write(struct.pack("<IIII", self.us // 1000000, self.us % 1000000, len(frame),
                                 wirelen or len(frame)))
        self.f.write(frame)
        self.n += 1
        return self.n

    def close(self):
        self.f.close()


ETH_V4 = b"\x00\x50\x56\x44\x55\x66" + b"\x00\x0c\x29\x11\x22\x33" + b"\x08\x00"


def frame(src, dst, sport, dport, seq, ack, flags, payload=b"", ident=1):
    """Ethernet + IPv4 + TCP with real checksums; src/dst packed (4 bytes)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50,
                      flags, 64240, 0, 0) + payload
    c = _csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident & 0xFFFF, 0x4000, 64, 6, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ETH_V4 + ip + tcp


class Hooked(TcpConn):
    """A TcpConn that lets the flood run before each of its sends."""

    def __init__(self, *a, between=None, **kw):
        self.between = between or (lambda: None)
        super().__init__(*a, **kw)

    def send(self, side, data, **kw):
        self.between()
        return super().send(side, data, **kw)


def task_session(w, cport, case, between):
    """A real connection to the task scheduler: bind, SchRpcRegisterTask,
    answered, closed; between() runs before each send. Returns the truth."""
    p, d = Payload(case), Dce()
    c = Hooked(w, Endpoint(CLIENT, cport), Endpoint(SERVER, 49667), between=between)
    c.send(0, d.bind(1, [(0, TSCH, [NDR])]))
    c.send(1, d.bind_ack(1, [(0, NDR)]))
    c.send(0, d.request(2, 0, 1, p.task))
    c.send(1, d.response(2, 0, p.task_resp))
    between()
    c.close()
    return {"interface": "ITaskSchedulerService", "operation": "SchRpcRegisterTask",
            "command": p.command, "src_port": cport, "call_id": 2}


# --------------------------------------------------------------- (a) SYN flood

def syn(path, flows=200000):
    w = StreamWriter(path, 1700200000, dt_us=20)
    rng = random.Random(0xA)
    server = ip_bytes(SERVER)
    state = {"i": 0}

    def flow():
        i = state["i"]
        state["i"] += 1
        src = bytes([172, 16 + ((i >> 16) & 15), (i >> 8) & 255, i & 255])
        sport = 1024 + rng.randrange(64000)
        isn, isn2 = rng.getrandbits(32), rng.getrandbits(32)
        w.add(frame(src, server, sport, 135, isn, 0, SYN, ident=i))
        w.add(frame(server, src, 135, sport, isn2, isn + 1, SYN | ACK, ident=i))
        w.add(frame(src, server, sport, 135, isn + 1, 0, RST, ident=i + 1))

    def burst(n):
        for _ in range(n):
            flow()

    burst(flows // 2)
    truth = [task_session(w, 52001, "flood_syn", lambda: burst(200))]
    burst(flows - state["i"])
    w.close()
    return {"flows": state["i"] + 1, "frames": w.n, "creations": truth}


# --------------------------------------------------------------- (b) open calls

def open_calls(path, conns=3000, per_conn=8, stub=512, announced_sent=2800):
    w = StreamWriter(path, 1700300000, dt_us=100)
    d = Dce()
    state = {"i": 0}
    garbage = bytes((j * 7 + 3) & 0x7F for j in range(65535))

    def one():
        i = state["i"]
        state["i"] += 1
        c = TcpConn(w, Endpoint("10.2.%d.%d" % (i >> 8, i & 255), 40000 + (i % 20000)),
                    Endpoint(SERVER, 49667))
        c.send(0, d.bind(1, [(0, TSCH, [NDR])]))
        c.send(1, d.bind_ack(1, [(0, NDR)]))
        pdus = b""
        for k in range(per_conn):
            pdu = bytearray(d.request(2 + k, 0, 1, garbage[:stub], flags=0x01))
            pdu[16:20] = struct.pack("<I", 0x7FFFFFF0)          # alloc_hint
            pdus += bytes(pdu)
        c.send(0, pdus, seg=1460)
        big = bytearray(d.request(2 + per_conn, 0, 1, garbage[:65535 - 24], flags=0x03))
        assert struct.unpack_from("<H", big, 8)[0] == 65535      # frag_length
        big[16:20] = struct.pack("<I", 0x7FFFFFFF)
        c.send(0, bytes(big[:announced_sent]), seg=1400)       # the rest never comes

    def burst(n):
        for _ in range(n):
            one()

    burst(conns // 2)
    truth = [task_session(w, 52002, "flood_open_calls", lambda: burst(20))]
    burst(conns - state["i"])
    w.close()
    return {"connections": state["i"] + 1, "frames": w.n, "creations": truth}


# --------------------------------------------------------------- (c) out of order

def ooo(path, conns=20, segs=1200, size=1400, hole=65536):
    w = StreamWriter(path, 1700400000, dt_us=50)
    d = Dce()
    server = ip_bytes(SERVER)
    flows = []
    for i in range(conns):
        c = TcpConn(w, Endpoint("10.3.0.%d" % (i + 1), 41000 + i), Endpoint(SERVER, 49667))
        c.send(0, d.bind(1, [(0, TSCH, [NDR])]))
        c.send(1, d.bind_ack(1, [(0, NDR)]))
        head = d.request(2, 0, 1, b"A" * 60000)[:100]
        c.send(0, head)                                   # then the hole
        flows.append((ip_bytes(c.c.ip), c.c.port, c.seq[0], c.seq[1]))
    payload = b"A" * size
    state = {"j": 0}

    def round_(n):
        for _ in range(n):
            j = state["j"]
            if j >= segs:
                return
            state["j"] += 1
            for src, port, gap, sseq in flows:
                w.add(frame(src, server, port, 49667, gap + hole + j * size, sseq, ACK | PSH,
                            payload, ident=j))
                if j % 64 == 63:      # the server keeps acknowledging the hole's start
                    w.add(frame(server, src, 49667, port, sseq, gap, ACK, ident=j))

    round_(segs // 2)
    truth = [task_session(w, 52003, "flood_ooo", lambda: round_(10))]
    round_(segs)
    w.close()
    return {"connections": conns, "segments_ahead": conns * segs, "frames": w.n,
            "creations": truth}


# --------------------------------------------------------------- (d) SMB pipes

def smb_pipes(path, pipes=1200, partial=5000, churn=200):
    w = StreamWriter(path, 1700500000, dt_us=100)
    d = Dce()
    c = TcpConn(w, Endpoint(CLIENT, 52004), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    smb2_login(s, 0x0000100000000F01, "flooder", "CORP", "WS20")
    garbage = bytes((j * 7 + 3) & 0x7F for j in range(65535))
    state = {"i": 0}

    def decoy():
        i = state["i"]
        state["i"] += 1
        fid = S.file_id(1000 + i)
        s.create("svcctl", fid)
        smb_pipe_bind(s, fid, d, SVCCTL, "svcctl")
        big = bytearray(d.request(2, 0, 12, garbage[:65535 - 24]))
        big[16:20] = struct.pack("<I", 0x7FFFFFFF)
        s.write(fid, bytes(big[:partial]))                   # never completed

    for _ in range(pipes // 3):
        decoy()
    # a service creation, compact, on its own pipe
    p = Payload("flood_smb_pipes")
    fid = S.file_id(1)
    s.create("svcctl", fid)
    smb_pipe_bind(s, fid, d, SVCCTL, "svcctl")
    s.write(fid, d.request(2, 0, 15, p.open))
    s.read(fid, d.response(2, 0, p.open_resp))
    s.write(fid, d.request(3, 0, 12, p.create))
    s.read(fid, d.response(3, 0, p.create_resp))
    svc = {"interface": "svcctl", "operation": "RCreateServiceW",
           "binary_path": p.binary_path, "src_port": 52004, "call_id": 3}
    for _ in range(pipes // 6):
        decoy()
    # a task registration whose bind and request are `churn` pipe openings apart
    fa = S.file_id(2)
    s.create("atsvc", fa)
    smb_pipe_bind(s, fa, d, TSCH, "atsvc")
    for _ in range(churn):
        decoy()
    s.write(fa, d.request(2, 0, 1, p.task))
    s.read(fa, d.response(2, 0, p.task_resp))
    task = {"interface": "ITaskSchedulerService", "operation": "SchRpcRegisterTask",
            "command": p.command, "src_port": 52004, "call_id": 2,
            "pipes_opened_between_bind_and_call": churn}
    while state["i"] < pipes:
        decoy()
    w.close()
    return {"pipes": state["i"] + 2, "frames": w.n, "creations": [svc, task]}


# --------------------------------------------------------------- (e) IP fragments

class Fragmenting:
    """A writer that sends every frame carrying TCP data as IPv4 fragments of `size`."""

    def __init__(self, w, size):
        self.w, self.size, self.ident = w, size, 0x7000

    def add(self, frame, dt=None, wirelen=None):
        ihl = (frame[14] & 15) * 4
        thl = (frame[14 + ihl + 12] >> 4) * 4
        if frame[23] != 6 or len(frame) - 14 - ihl - thl <= 0:
            return self.w.add(frame, dt=dt, wirelen=wirelen)
        frags = v4_fragments(frame, self.size, self.ident + 1)
        if len(frags) == 1:  # fits in one: not a fragment
            return self.w.add(frame, dt=dt, wirelen=wirelen)
        self.ident += 1
        for g in frags:
            n = self.w.add(g, dt=dt)
        return n

    @property
    def n(self):
        return self.w.n


def fragments(path, datagrams=30000, size=1200):
    """datagrams UDP datagrams of which only the first fragment (size octets, MF) ever
    comes, from 4,096 sources; in the middle a task registration whose every data
    segment is sent as 64-octet fragments, the flood between its sends."""
    w = StreamWriter(path, 1700300000, dt_us=20)
    server = ip_bytes(SERVER)
    state = {"i": 0}
    body = bytes(range(256)) * (size // 256 + 1)

    def one():
        i = state["i"]
        state["i"] += 1
        src = bytes([172, 20, (i >> 8) & 15, i & 255])
        udp = struct.pack("!HHHH", 40000, 5000, 8 + 4 * size, 0) + body[:size - 8]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0x2000, 64, 17, 0,
                         src, server)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        w.add(ETH_V4 + ip + udp)

    def burst(n):
        for _ in range(n):
            one()

    burst(datagrams // 2)
    fw = Fragmenting(w, 64)
    truth = [task_session(fw, 52101, "flood_fragments", lambda: burst(200))]
    burst(datagrams - state["i"])
    w.close()
    return {"frames": w.n, "creations": truth, "fragmented": fw.ident - 0x7000}


FLOODS = {"syn": syn, "open_calls": open_calls, "ooo": ooo, "smb_pipes": smb_pipes,
          "fragments": fragments}


def main():
    out = sys.argv[1]
    for name in sys.argv[2:] or FLOODS:
        info = FLOODS[name](os.path.join(out, "flood_%s.pcap" % name))
        print(name, info)


if __name__ == "__main__":
    main()
