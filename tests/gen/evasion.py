#!/usr/bin/python3
"""Evasion captures (issue "Robustness and evasion"): one capture per trick.

    tests/gen/evasion.py [--out DIR] [--truth DIR] [CASE ...]

Writes pcaps/evasion_CASE.pcap and its ground truth
tests/expected/evasion/evasion_CASE.truth.json. Every capture carries one
scheduled-task creation (ITaskSchedulerService SchRpcRegisterTask, opnum 1,
a readable task XML whose <Command> names the case) and one service creation
(svcctl RCreateServiceW, opnum 12, with a binary path naming the case), each
delivered with the case's evasion; the sensor must report both.

The truth files live in a subdirectory of tests/expected on purpose:
tests/e2e/test_generated.py takes every tests/expected/*.truth.json for a
make_pcaps.py scenario (and regenerates them with make_pcaps.py), and these
are not make_pcaps.py scenarios. tests/e2e/test_evasion.py reads them.

Deterministic: fixed timestamps, and the only randomness (segment order,
decoy UUIDs) comes from random.Random seeded with a constant per case.
Running it twice writes identical files.

Overlaps (case overlap_conflict): where two segments cover the same sequence
numbers with different bytes, the FIRST bytes seen are the real call's; the
decoy bytes always arrive later (as out-of-order retransmissions straddling
buffered data, and as an in-order retransmission of data already delivered).
A sensor that keeps the first-seen bytes reports the real command and binary
path, never the decoy's: the case is read with --tcp-overlap-policy first.
A Windows host (the default policy) takes a later segment's bytes where it
begins before the one it overlaps, so there it reads parts of the decoy;
tcp_overlap_policy is the case whose real bytes are the Windows host's.
"""

import argparse
import json
import os
import random
import struct
import sys
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import ndrgen as N  # noqa: E402
import smbgen as S  # noqa: E402
from make_pcaps import (CLIENT, SCM_HANDLE, SERVER, SMB_SHARE, SVC_HANDLE,  # noqa: E402
                        smb2_login)
from pcapgen import (NDR, NDR64, SRVSVC, SVCCTL, TSCH, Dce, Endpoint,  # noqa: E402
                     PcapWriter, TcpConn, _csum, ethernet, ip_bytes, ipv4, ntlm_authenticate,
                     ntlm_challenge, ntlm_negotiate)

TSCH_PORT = 49667
SVC_PORT = 49668

TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <TimeTrigger>
      <StartBoundary>2023-11-15T03:00:00</StartBoundary>
      <Enabled>true</Enabled>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <Hidden>true</Hidden>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>{command}</Command>
      <Arguments>{arguments}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


class Payload:
    """The stubs of one case: the task registration, and the SCM open and
    service creation (their requests and responses), in the case's byte order
    and transfer syntax. decoy: the same stubs with every letter of the case
    name replaced (same lengths), for the overlap case."""

    def __init__(self, case, le=True, ndr64=False, decoy=False, pad=0):
        kw = {"le": le, "ndr64": ndr64}
        tag = "x" * len(case) if decoy else case
        self.task_path = "\\Ev_" + tag
        self.command = "C:\\ProgramData\\Evasion\\%s.exe" % tag
        self.arguments = "/quiet" + " " * pad + " /case %s" % tag
        self.service = "Ev_" + tag
        self.binary_path = "C:\\Windows\\Temp\\%s_svc.exe" % tag + " " * pad + " -k run"
        xml = TASK_XML.format(command=self.command, arguments=self.arguments)
        self.task = N.sch_register_task(self.task_path, xml, flags=0x2, logon_type=3, **kw)
        self.task_resp = N.sch_register_task_response(self.task_path, **kw)
        self.open = N.open_scmanager_w("DC01", None, 0xF003F, **kw)
        self.open_resp = N.handle_response(SCM_HANDLE, **kw)
        self.create = N.create_service(SCM_HANDLE, self.service, self.binary_path,
                                       display=self.service, **kw)
        self.create_resp = N.create_service_response(SVC_HANDLE, **kw)


def task_truth(p, conn, call_id, frags=1, ctx=0, stub=None, **more):
    """What the task record must say. conn: (client port, server port) of the
    TCP connection that carries the request."""
    t = {"src_port": conn[0], "dest_port": conn[1], "call_id": call_id, "context_id": ctx,
         "command": p.command, "arguments": p.arguments, "path": p.task_path,
         "req_frag_cnt": frags, "req_stub_size": len(p.task if stub is None else stub)}
    t.update(more)
    return t


def service_truth(p, conn, call_id, frags=1, ctx=0, stub=None, **more):
    t = {"src_port": conn[0], "dest_port": conn[1], "call_id": call_id, "context_id": ctx,
         "binary_path": p.binary_path, "service_name": p.service,
         "req_frag_cnt": frags, "req_stub_size": len(p.create if stub is None else stub)}
    t.update(more)
    return t


def ports(conn):
    return (conn.c.port, conn.s.port)


def tcp(pw, cport, sport):
    return TcpConn(pw, Endpoint(CLIENT, cport), Endpoint(SERVER, sport))


def scrambled(seed):
    """order= for TcpConn.send: a seeded shuffle in which the first segment is
    never first and not every segment is just swapped with a neighbour."""
    rng = random.Random(seed)

    def order(n):
        idx = list(range(n))
        if n < 3:
            return idx[::-1]
        while True:
            rng.shuffle(idx)
            if idx[0] != 0 and (n < 5 or any(abs(a - b) > 2 for a, b in zip(idx, idx[1:]))):
                return list(idx)
    return order


# --------------------------------------------------------------- plain TCP sessions

def tcp_task(pw, d, p, cport, send=None, recv=None, frag=None, contexts=None, acks=None,
             ctx=0, call_base=1, conn=None, before_call=None, close=None):
    """An ncacn_ip_tcp connection to the task scheduler: bind, SchRpcRegisterTask.
    send/recv: keyword arguments for every client / server TcpConn.send (seg,
    order); frag: stub bytes per request fragment; contexts/acks: the bind's
    presentation contexts and the answers (default: TSCH on NDR, context 0)."""
    send, recv = send or {}, recv or {}
    c = conn or tcp(pw, cport, TSCH_PORT)
    contexts = contexts or [(0, TSCH, [NDR])]
    acks = acks or [(0, NDR)]
    c.send(0, d.bind(call_base, contexts), **send)
    c.send(1, d.bind_ack(call_base, acks), **recv)
    call_id = call_base + 1
    if frag:
        pdus = d.fragments("req", call_id, ctx, 1, p.task, frag)
    else:
        pdus = [d.request(call_id, ctx, 1, p.task)]
    if before_call:
        before_call(c)
    c.send(0, b"".join(pdus), **send)
    c.send(1, d.response(call_id, ctx, p.task_resp), **recv)
    (close or TcpConn.close)(c)
    return task_truth(p, ports(c), call_id, frags=len(pdus), ctx=ctx)


def tcp_service(pw, d, p, cport, send=None, recv=None, frag=None, contexts=None, acks=None,
                ctx=0, call_base=1, conn=None, before_call=None, close=None):
    """An ncacn_ip_tcp connection to svcctl: bind, ROpenSCManagerW,
    RCreateServiceW (see tcp_task)."""
    send, recv = send or {}, recv or {}
    c = conn or tcp(pw, cport, SVC_PORT)
    contexts = contexts or [(0, SVCCTL, [NDR])]
    acks = acks or [(0, NDR)]
    c.send(0, d.bind(call_base, contexts), **send)
    c.send(1, d.bind_ack(call_base, acks, sec_addr=b"49668\0"), **recv)
    c.send(0, d.request(call_base + 1, ctx, 15, p.open), **send)
    c.send(1, d.response(call_base + 1, ctx, p.open_resp), **recv)
    call_id = call_base + 2
    if frag:
        pdus = d.fragments("req", call_id, ctx, 12, p.create, frag)
    else:
        pdus = [d.request(call_id, ctx, 12, p.create)]
    if before_call:
        before_call(c)
    c.send(0, b"".join(pdus), **send)
    c.send(1, d.response(call_id, ctx, p.create_resp), **recv)
    (close or TcpConn.close)(c)
    return service_truth(p, ports(c), call_id, frags=len(pdus), ctx=ctx)


def one_byte_segments():
    """Every TCP segment carrying data is 1 byte long, in both directions:
    binds, requests and responses."""
    pw, p, d = PcapWriter(start=1700100000.0), Payload("one_byte_segments"), Dce()
    one = {"seg": 1}
    task = tcp_task(pw, d, p, 51001, send=one, recv=one)
    svc = tcp_service(pw, d, p, 51002, send=one, recv=one)
    return pw, task, svc, {}


def out_of_order():
    """Client segments of 48 bytes (binds and requests) and server segments of
    32 bytes delivered in a seeded random order (the first segment never
    first, segments far from their place), then ACKed."""
    pw, p, d = PcapWriter(start=1700100100.0), Payload("out_of_order"), Dce()
    task = tcp_task(pw, d, p, 51011, send={"seg": 48, "order": scrambled(11)},
                    recv={"seg": 32, "order": scrambled(12)})
    svc = tcp_service(pw, d, p, 51012, send={"seg": 48, "order": scrambled(13)},
                      recv={"seg": 32, "order": scrambled(14)})
    return pw, task, svc, {}


def one_byte_fragments():
    """Both creation requests cut into DCE/RPC fragments of 1 stub byte each
    (first/last flags on the first/last), carried in 1460-byte segments."""
    pw, p, d = PcapWriter(start=1700100200.0), Payload("one_byte_fragments"), Dce()
    seg = {"seg": 1460}
    task = tcp_task(pw, d, p, 51021, send=seg, frag=1)
    svc = tcp_service(pw, d, p, 51022, send=seg, frag=1)
    assert task["req_frag_cnt"] == len(p.task) and svc["req_frag_cnt"] == len(p.create)
    return pw, task, svc, {}


def decoy_contexts():
    """Binds proposing 10 presentation contexts, 9 of them random (seeded)
    UUIDs with random versions, the real interface at context id 7, as
    Metasploit's bind evasion does; the server rejects the decoys (provider
    rejection) and accepts the real one; the calls use context 7."""
    pw, p, d = PcapWriter(start=1700100300.0), Payload("decoy_contexts"), Dce()
    rng = random.Random(300)
    real_ctx = 7

    def contexts(iface):
        out, acks = [], []
        for i in range(10):
            if i == real_ctx:
                out.append((i, iface, [NDR]))
                acks.append((0, NDR))
            else:
                u = str(uuidlib.UUID(int=rng.getrandbits(128), version=4))
                out.append((i, (u, rng.randrange(1, 6), rng.randrange(0, 3)), [NDR]))
                acks.append((2, None))
        return out, acks

    tc, ta = contexts(TSCH)
    sc, sa = contexts(SVCCTL)
    task = tcp_task(pw, d, p, 51031, contexts=tc, acks=ta, ctx=real_ctx)
    svc = tcp_service(pw, d, p, 51032, contexts=sc, acks=sa, ctx=real_ctx)
    extra = {"bind_contexts": 10,
             "task_bind_uuids": [x[1][0] for x in tc],
             "service_bind_uuids": [x[1][0] for x in sc]}
    return pw, task, svc, extra


def alter_context_switch():
    """Each association is bound to srvsvc (a harmless interface) on context
    0, makes a NetrServerGetInfo call on it, then an alter_context adds the
    target interface (ITaskSchedulerService, svcctl) on context 1; the calls
    go to context 1."""
    pw, p, d = PcapWriter(start=1700100400.0), Payload("alter_context_switch"), Dce()
    info = N.Ndr()
    info.unique_str("\\\\DC01")
    info.u32(101)
    info_req = info.bytes()
    info_resp = struct.pack("<IIII", 101, 0, 0, 0)
    out = []
    for cport, sport, iface in ((51041, TSCH_PORT, TSCH), (51042, SVC_PORT, SVCCTL)):
        c = tcp(pw, cport, sport)
        c.send(0, d.bind(1, [(0, SRVSVC, [NDR])]))
        c.send(1, d.bind_ack(1, [(0, NDR)], sec_addr=b"%d\0" % sport))
        c.send(0, d.request(2, 0, 21, info_req))
        c.send(1, d.response(2, 0, info_resp))
        c.send(0, d.bind(3, [(1, iface, [NDR])], alter=True))
        c.send(1, d.bind_ack(3, [(0, NDR)], sec_addr=b"", alter=True))
        if iface is TSCH:
            c.send(0, d.request(4, 1, 1, p.task))
            c.send(1, d.response(4, 1, p.task_resp))
            out.append(task_truth(p, ports(c), 4, ctx=1))
        else:
            c.send(0, d.request(4, 1, 15, p.open))
            c.send(1, d.response(4, 1, p.open_resp))
            c.send(0, d.request(5, 1, 12, p.create))
            c.send(1, d.response(5, 1, p.create_resp))
            out.append(service_truth(p, ports(c), 5, ctx=1))
        c.close()
    return pw, out[0], out[1], {"alter_call_id": 3}


def big_endian():
    """Big-endian data representation (drep 0x00): PDU headers and NDR stubs."""
    pw, d = PcapWriter(start=1700100500.0), Dce(le=False)
    p = Payload("big_endian", le=False)
    task = tcp_task(pw, d, p, 51051)
    svc = tcp_service(pw, d, p, 51052)
    return pw, task, svc, {}


def ndr64():
    """NDR64: the binds propose NDR on context 0 and NDR64 on context 1 (as
    Windows clients do); the server rejects NDR and accepts NDR64; the stubs
    are NDR64 on context 1."""
    pw, d = PcapWriter(start=1700100600.0), Dce()
    p = Payload("ndr64", ndr64=True)
    task = tcp_task(pw, d, p, 51061, contexts=[(0, TSCH, [NDR]), (1, TSCH, [NDR64])],
                    acks=[(2, None), (0, NDR64)], ctx=1)
    svc = tcp_service(pw, d, p, 51062, contexts=[(0, SVCCTL, [NDR]), (1, SVCCTL, [NDR64])],
                      acks=[(2, None), (0, NDR64)], ctx=1)
    task["syntax"] = svc["syntax"] = "NDR64"
    return pw, task, svc, {}


# --------------------------------------------------------------- overlaps

def send_overlapped(conn, side, real, decoy, seg=100, shift=37):
    """Sends real with overlapping decoy data that arrives later:
    1. every segment but the first (held back): buffered out of order;
    2. decoy segments covering [seg, end) with boundaries shifted by `shift`,
       so each straddles two buffered real segments: conflicting overlaps;
    3. the first segment: the hole is filled, the real bytes delivered;
    4. the first segment again, with decoy bytes: an in-order retransmission
       of data already delivered.
    The real bytes are always the first seen."""
    assert len(real) == len(decoy) and real != decoy
    base = conn.seq[side]
    for off in range(seg, len(real), seg):
        conn._send(side, 0x18, real[off:off + seg], seq=base + off)
    starts = [seg] + list(range(seg + shift, len(real), seg))
    for i, off in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(real)
        conn._send(side, 0x18, decoy[off:end], seq=base + off)
    conn._send(side, 0x18, real[:seg], seq=base)
    conn._send(side, 0x18, decoy[:seg], seq=base)
    conn.seq[side] = base + len(real)
    conn._send(1 - side, 0x10, b"")


def decoyed_creations(name, start, cports, send_decoyed, **flags):
    """A task creation (SchRpcRegisterTask) and a service creation
    (RCreateServiceW after ROpenSCManagerW), each on its own connection,
    whose creation request goes out through send_decoyed(conn, side, real,
    decoy) with a decoy of the same length (a harmless command / binary
    path). Returns (pcap, task truth, service truth, the decoy payload)."""
    pw, d = PcapWriter(start=start), Dce()
    p, x = Payload(name), Payload(name, decoy=True)
    c = tcp(pw, cports[0], TSCH_PORT)
    c.send(0, d.bind(1, [(0, TSCH, [NDR])]))
    c.send(1, d.bind_ack(1, [(0, NDR)]))
    send_decoyed(c, 0, d.request(2, 0, 1, p.task), d.request(2, 0, 1, x.task))
    c.send(1, d.response(2, 0, p.task_resp))
    c.close()
    task = task_truth(p, ports(c), 2, **flags)
    c = tcp(pw, cports[1], SVC_PORT)
    c.send(0, d.bind(1, [(0, SVCCTL, [NDR])]))
    c.send(1, d.bind_ack(1, [(0, NDR)]))
    c.send(0, d.request(2, 0, 15, p.open))
    c.send(1, d.response(2, 0, p.open_resp))
    send_decoyed(c, 0, d.request(3, 0, 12, p.create), d.request(3, 0, 12, x.create))
    c.send(1, d.response(3, 0, p.create_resp))
    c.close()
    svc = service_truth(p, ports(c), 3, **flags)
    return pw, task, svc, x


def overlap_conflict():
    """Both creation requests sent with overlapping retransmissions that carry
    different bytes (a decoy command / binary path of the same length, the
    case name replaced by x's). The real bytes always arrive first; read with the
    first-data-wins policy (--tcp-overlap-policy first) the real call must be
    reported, with rpcsentry.flags "stream_overlap". (A Windows host takes a
    decoy segment's bytes where it begins before a real one it overlaps.)"""
    pw, task, svc, x = decoyed_creations("overlap_conflict", 1700100700.0, (51071, 51072),
                                         send_overlapped, flags=["stream_overlap"])
    return pw, task, svc, {"decoy_command": x.command, "decoy_binary_path": x.binary_path,
                           "anomalies": ["stream.reassembly_overlap"],
                           "args": ["--tcp-overlap-policy", "first"]}


def send_with_bad_checksum_decoy(conn, side, real, decoy):
    """The decoy first, at the same sequence numbers, with its TCP checksum
    spoilt: the receiving host drops it and takes the real bytes that follow;
    a sensor that keeps the first data seen reports the decoy."""
    assert len(real) == len(decoy) and real != decoy
    frame = bytearray(conn._frame(side, 0x18, decoy, conn.seq[side], conn.seq[1 - side]))
    frame[-len(decoy) - 4] ^= 0x5a  # the TCP checksum's first byte (20-byte header)
    conn.pw.add(bytes(frame))
    conn.send(side, real)


def bad_checksum_decoy():
    """Each creation request is preceded by a decoy of the same length at the
    same sequence numbers (a harmless command / binary path) whose TCP
    checksum is wrong, as an attacker injects one to blind a first-data-wins
    sensor. The hosts drop the decoy. With -k auto (not the default) the
    sensor drops it too, since the same sender's other
    segments had right checksums, and reports the real call, the packet
    counted as decode_bad_checksum with a stream.bad_checksum anomaly."""
    pw, task, svc, x = decoyed_creations("bad_checksum_decoy", 1700100800.0, (51081, 51082),
                                         send_with_bad_checksum_decoy)
    return pw, task, svc, {"decoy_command": x.command, "decoy_binary_path": x.binary_path,
                           "bad_checksums": 2, "anomalies": ["stream.bad_checksum"],
                           "args": ["-k", "auto"]}


# --------------------------------------------------------------- authentication

def auth_request(d, call_id, ctx, opnum, piece, flags, alloc_hint, pad, level, value):
    """A request fragment with an NTLMSSP sec_trailer after `pad` bytes of auth
    padding (garbage, not zeros: they must not end up in the stub) and an
    auth value of any length."""
    body = struct.pack(d.e + "IHH", alloc_hint, ctx, opnum) + piece + bytes([0xA5]) * pad
    tail = struct.pack(d.e + "BBBBI", 10, level, pad, 0, 0) + value
    return d._hdr(0, flags, 16 + len(body) + len(tail), len(value), call_id) + body + tail


def auth_fragments(d, call_id, ctx, opnum, stub, pads, level, first_value_len):
    """The stub in len(pads) fragments, fragment i with pads[i] bytes of auth
    padding and an odd auth_length (first_value_len + 2i)."""
    n = len(pads)
    size = -(-len(stub) // n)
    out, off = [], 0
    for i, pad in enumerate(pads):
        piece = stub[off:off + size]
        flags = (0x01 if i == 0 else 0) | (0x02 if i == n - 1 else 0)
        vlen = first_value_len + 2 * i
        assert vlen % 2 == 1
        value = b"\x01\x00\x00\x00" + bytes((j * 29 + i) & 0xFF for j in range(vlen - 4))
        out.append(auth_request(d, call_id, ctx, opnum, piece, flags, len(stub) - off, pad,
                                level, value))
        off += len(piece)
    assert off == len(stub)
    return out


def odd_padding_auth():
    """NTLMSSP-authenticated associations (bind NEGOTIATE, bind_ack CHALLENGE,
    auth3 AUTHENTICATE CORP\\mallory from WS09); the task at packet integrity
    (level 5) in 15 fragments with auth padding of 1, 2, ..., 15 bytes; the
    service at connect level (2) in 5 fragments with padding 13, 7, 1, 15, 9;
    every auth_length odd (17, 19, ...); the padding is 0xA5 garbage. The
    stubs stay readable (no privacy)."""
    pw, d = PcapWriter(start=1700100800.0), Dce()
    p = Payload("odd_padding_auth")
    sig = b"\x01\x00\x00\x00" + bytes(12)
    out = []
    for cport, sport, iface, level in ((51081, TSCH_PORT, TSCH, 5), (51082, SVC_PORT, SVCCTL, 2)):
        c = tcp(pw, cport, sport)
        c.send(0, d.bind(1, [(0, iface, [NDR])], auth=(10, level, ntlm_negotiate())))
        c.send(1, d.bind_ack(1, [(0, NDR)], auth=(10, level, ntlm_challenge())))
        c.send(0, d.auth3(1, (10, level, ntlm_authenticate("mallory", "CORP", "WS09"))))
        if iface is TSCH:
            pads = list(range(1, 16))
            frags = auth_fragments(d, 2, 0, 1, p.task, pads, level, 17)
            c.send(0, b"".join(frags))
            c.send(1, d.response(2, 0, p.task_resp, auth=(10, level, sig)))
            out.append(task_truth(p, ports(c), 2, frags=len(frags), auth_level=level,
                                  user="mallory", pads=pads))
        else:
            c.send(0, b"".join(auth_fragments(d, 2, 0, 15, p.open, [3], level, 21)))
            c.send(1, d.response(2, 0, p.open_resp, auth=(10, level, sig)))
            pads = [13, 7, 1, 15, 9]
            frags = auth_fragments(d, 3, 0, 12, p.create, pads, level, 19)
            c.send(0, b"".join(frags))
            c.send(1, d.response(3, 0, p.create_resp, auth=(10, level, sig)))
            out.append(service_truth(p, ports(c), 3, frags=len(frags), auth_level=level,
                                     user="mallory", pads=pads))
        c.close()
    return pw, out[0], out[1], {}


# --------------------------------------------------------------- call ids

def call_id_reuse():
    """Call ids used twice. Task connection: SchRpcHighestVersion with call_id
    2, answered; then SchRpcRegisterTask with call_id 2 again (reuse after the
    first call finished). Service connection: ROpenSCManagerW (call_id 2,
    answered), RQueryServiceStatus with call_id 3 left unanswered, then
    RCreateServiceW with call_id 3 while the query is still outstanding; one
    response for call_id 3 (the creation's)."""
    pw, d, p = PcapWriter(start=1700100900.0), Dce(), Payload("call_id_reuse")
    c = tcp(pw, 51091, TSCH_PORT)
    c.send(0, d.bind(1, [(0, TSCH, [NDR])]))
    c.send(1, d.bind_ack(1, [(0, NDR)]))
    c.send(0, d.request(2, 0, 0, b""))
    c.send(1, d.response(2, 0, struct.pack("<II", 0x00010006, 0)))
    c.send(0, d.request(2, 0, 1, p.task))
    c.send(1, d.response(2, 0, p.task_resp))
    c.close()
    task = task_truth(p, ports(c), 2, reused_with="SchRpcHighestVersion")
    c = tcp(pw, 51092, SVC_PORT)
    c.send(0, d.bind(1, [(0, SVCCTL, [NDR])]))
    c.send(1, d.bind_ack(1, [(0, NDR)]))
    c.send(0, d.request(2, 0, 15, p.open))
    c.send(1, d.response(2, 0, p.open_resp))
    c.send(0, d.request(3, 0, 6, N.handle_only(SCM_HANDLE)))
    c.send(0, d.request(3, 0, 12, p.create))
    c.send(1, d.response(3, 0, p.create_resp))
    c.close()
    svc = service_truth(p, ports(c), 3, reused_with="RQueryServiceStatus")
    return pw, task, svc, {}


# --------------------------------------------------------------- SMB

def smb_pipe_bind(s, fid, d, iface, pipe, call_id=1):
    s.write(fid, d.bind(call_id, [(0, iface, [NDR])]))
    s.read(fid, d.bind_ack(call_id, [(0, NDR)], sec_addr=b"\\PIPE\\%s\0" % pipe.encode()))


def smb_write_ioctl_split():
    """SMB2 (2.10), pipes \\atsvc and \\svcctl on IPC$: each creation request
    PDU is split, its first part sent by WRITE and the rest by IOCTL
    FSCTL_PIPE_TRANSCEIVE (whose output is the response)."""
    pw, d, p = PcapWriter(start=1700101000.0), Dce(), Payload("smb_write_ioctl_split")
    c = tcp(pw, 51101, 445)
    s = S.Smb2Conv(c)
    smb2_login(s, 0x0000100000000E01, "svc_ops", "CORP", "WS11")
    fa, fb = S.file_id(41), S.file_id(42)
    s.create("atsvc", fa)
    smb_pipe_bind(s, fa, d, TSCH, "atsvc")
    req = d.request(2, 0, 1, p.task)
    cut = len(req) // 3
    s.write(fa, req[:cut])
    s.transceive(fa, req[cut:], d.response(2, 0, p.task_resp))
    task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc",
                      split=[cut, len(req) - cut])
    s.create("svcctl", fb)
    smb_pipe_bind(s, fb, d, SVCCTL, "svcctl")
    s.write(fb, d.request(2, 0, 15, p.open))
    s.read(fb, d.response(2, 0, p.open_resp))
    req = d.request(3, 0, 12, p.create)
    cut = 40          # the header, the request fields and 16 stub bytes
    s.write(fb, req[:cut])
    s.transceive(fb, req[cut:], d.response(3, 0, p.create_resp))
    svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl",
                        split=[cut, len(req) - cut])
    s.close(fa)
    s.close(fb)
    c.close()
    return pw, task, svc, {}


def smb2_compound():
    """SMB2 (2.10) compounded messages. \\atsvc: one related compound of
    CREATE, WRITE (bind), READ (bind_ack), WRITE (SchRpcRegisterTask) and READ
    (its response), all but the CREATE on the all-ones FileId, answered by one
    compound of five responses. \\svcctl: a related compound of CREATE, WRITE
    (bind), READ, WRITE (ROpenSCManagerW), READ; then an unrelated compound of
    WRITE (RCreateServiceW) and READ on the pipe's FileId."""
    pw, d, p = PcapWriter(start=1700101100.0), Dce(), Payload("smb2_compound")
    c = tcp(pw, 51111, 445)
    s = S.Smb2Conv(c)
    smb2_login(s, 0x0000100000000E02, "svc_ops", "CORP", "WS12")
    related = {"flags": S.SMB2_FLAGS_RELATED, "session": 0xFFFFFFFFFFFFFFFF, "tree": 0xFFFFFFFF}
    rflag = {"flags": S.SMB2_FLAGS_RELATED}
    R = S.FID_RELATED

    def chain(pipe, fid, iface, steps):
        bind = d.bind(1, [(0, iface, [NDR])])
        ack = d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\%s\0" % pipe.encode())
        reqs = [(S.SMB2_CREATE, S.create_req(pipe), {}),
                (S.SMB2_WRITE, S.write_req(R, bind), related),
                (S.SMB2_READ, S.read_req(R), related)]
        resps = [(S.SMB2_CREATE, S.create_resp(fid), {}),
                 (S.SMB2_WRITE, S.write_resp(len(bind)), rflag),
                 (S.SMB2_READ, S.read_resp(ack), rflag)]
        for req, resp in steps:
            reqs += [(S.SMB2_WRITE, S.write_req(R, req), related),
                     (S.SMB2_READ, S.read_req(R), related)]
            resps += [(S.SMB2_WRITE, S.write_resp(len(req)), rflag),
                      (S.SMB2_READ, S.read_resp(resp), rflag)]
        s.compound(reqs, resps)

    fa, fb = S.file_id(43), S.file_id(44)
    chain("atsvc", fa, TSCH, [(d.request(2, 0, 1, p.task), d.response(2, 0, p.task_resp))])
    task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc")
    chain("svcctl", fb, SVCCTL, [(d.request(2, 0, 15, p.open), d.response(2, 0, p.open_resp))])
    req, resp = d.request(3, 0, 12, p.create), d.response(3, 0, p.create_resp)
    s.compound([(S.SMB2_WRITE, S.write_req(fb, req), {}), (S.SMB2_READ, S.read_req(fb), {})],
               [(S.SMB2_WRITE, S.write_resp(len(req)), {}), (S.SMB2_READ, S.read_resp(resp), {})])
    svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl")
    s.close(fa)
    s.close(fb)
    c.close()
    return pw, task, svc, {}


def smb_write_closed_fid():
    """SMB2 (2.10). \\svcctl: the real creation on an open pipe, then a compound of CLOSE
    and a WRITE of a decoy creation (another binary path) on the FileId just closed, and a
    READ: the server closes the file and answers the WRITE and READ with STATUS_FILE_CLOSED.
    \\atsvc: the real registration, the pipe closed, then a WRITE of a decoy registration on
    the closed FileId in a message of its own, refused the same way. Neither decoy reaches
    a pipe; a sensor that adopts unknown FileIds (as it must for captures that start
    mid-session) must not revive a closed one."""
    pw, d, p = PcapWriter(start=1700104200.0), Dce(), Payload("smb_write_closed_fid")
    decoy = Payload("smb_write_closed_fid", decoy=True)
    c = tcp(pw, 51401, 445)
    s = S.Smb2Conv(c)
    smb2_login(s, 0x0000100000000E05, "svc_ops", "CORP", "WS15")
    closed = {"status": S.STATUS_FILE_CLOSED}
    fa, fb = S.file_id(51), S.file_id(52)
    s.create("atsvc", fa)
    smb_pipe_bind(s, fa, d, TSCH, "atsvc")
    s.write(fa, d.request(2, 0, 1, p.task))
    s.read(fa, d.response(2, 0, p.task_resp))
    task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc")
    s.close(fa)
    s.compound([(S.SMB2_WRITE, S.write_req(fa, d.request(3, 0, 1, decoy.task)), {}),
                (S.SMB2_READ, S.read_req(fa), {})],
               [(S.SMB2_WRITE, S.error_resp(), closed), (S.SMB2_READ, S.error_resp(), closed)])
    s.create("svcctl", fb)
    smb_pipe_bind(s, fb, d, SVCCTL, "svcctl")
    s.write(fb, d.request(2, 0, 15, p.open))
    s.read(fb, d.response(2, 0, p.open_resp))
    s.write(fb, d.request(3, 0, 12, p.create))
    s.read(fb, d.response(3, 0, p.create_resp))
    svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl")
    s.compound([(S.SMB2_CLOSE, S.close_req(fb), {}),
                (S.SMB2_WRITE, S.write_req(fb, d.request(4, 0, 12, decoy.create)), {}),
                (S.SMB2_READ, S.read_req(fb), {})],
               [(S.SMB2_CLOSE, S.close_resp(), {}), (S.SMB2_WRITE, S.error_resp(), closed),
                (S.SMB2_READ, S.error_resp(), closed)])
    c.close()
    return pw, task, svc, {"args": ["--stats-interval", "1"],
                           "decoy_command": decoy.command, "decoy_binary": decoy.binary_path}


def smb1_transaction_secondary():
    """SMB1 (NT LM 0.12). Each creation request is a TransactNmPipe whose input the
    client sends in three pieces: the first in the TRANSACTION, the others in two
    TRANSACTION_SECONDARY requests, the last piece first; the server answers the primary
    at once (interim) and the whole after the last piece, with the DCE/RPC response."""
    pw, d, p = PcapWriter(start=1700104300.0), Dce(), Payload("smb1_transaction_secondary")
    c = tcp(pw, 51411, 445)
    s = S.Smb1Conv(c)
    from make_pcaps import smb1_login
    smb1_login(s, 0x0900, 0x0901, "svc_ops", "CORP", "WS16")
    for pipe, fid, iface, truth in (("\\atsvc", 0x4101, TSCH, "task"),
                                    ("\\svcctl", 0x4102, SVCCTL, "service")):
        s.exchange([S.nt_create1_req(pipe)], [S.nt_create1_resp(fid)])
        s.write(fid, d.bind(1, [(0, iface, [NDR])]))
        s.read(fid, d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\%s\0" % pipe[1:].encode()))
        if truth == "task":
            req, resp = d.request(2, 0, 1, p.task), d.response(2, 0, p.task_resp)
            cuts = (len(req) // 3, 2 * len(req) // 3)
            s.transact_in_parts(fid, req, resp, cuts, order=(2, 1))
            task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc")
        else:
            s.write(fid, d.request(2, 0, 15, p.open))
            s.read(fid, d.response(2, 0, p.open_resp))
            req, resp = d.request(3, 0, 12, p.create), d.response(3, 0, p.create_resp)
            cuts = (40, 40 + (len(req) - 40) // 2)
            s.transact_in_parts(fid, req, resp, cuts, order=(2, 1))
            svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl")
        s.close(fid)
    c.close()
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


STATUS_NETWORK_NAME_DELETED = 0xC00000C9
STATUS_USER_SESSION_DELETED = 0xC0000203


def smb_write_refused():
    """SMB2 (2.10). Data the server refuses reaches no pipe, whatever the sensor knows of
    the FileId. \\atsvc: the bind by a WRITE answered STATUS_PENDING (async), then
    success; a decoy registration by IOCTL transceive on the bound pipe but with a TreeId
    the session never had, refused with STATUS_NETWORK_NAME_DELETED; then the real one
    (same call id) in two WRITEs sent back to back, the second answered (success) before
    the first. \\svcctl: after the bind and ROpenSCManagerW, a decoy RCreateServiceW
    written with another SessionId, refused with STATUS_USER_SESSION_DELETED, its READ
    too; then the real one (same call id). A sensor that feeds a pipe on the request
    reports both decoys."""
    pw, d, p = PcapWriter(start=1700104600.0), Dce(), Payload("smb_write_refused")
    decoy = Payload("smb_write_refused", decoy=True)
    c = tcp(pw, 51441, 445)
    s = S.Smb2Conv(c)
    smb2_login(s, 0x0000100000000E06, "svc_ops", "CORP", "WS17")
    fa, fb = S.file_id(61), S.file_id(62)
    s.create("atsvc", fa)
    # the bind, its WRITE answered late (async)
    bind = d.bind(1, [(0, TSCH, [NDR])])
    mid, m = s.request(S.SMB2_WRITE, S.write_req(fa, bind))
    s.send_client(m)
    aid = s.async_id
    s.async_id += 1
    s.send_server(s.response(S.SMB2_WRITE, mid, S.error_resp(), status=S.STATUS_PENDING,
                             async_id=aid))
    s.send_server(s.response(S.SMB2_WRITE, mid, S.write_resp(len(bind)), async_id=aid,
                             credits=0))
    s.read(fa, d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\atsvc\0"))
    # the decoy registration, on a tree that does not exist
    bad_tree = {"tree": 0x99}
    mid, m = s.request(S.SMB2_IOCTL, S.ioctl_req(fa, S.FSCTL_PIPE_TRANSCEIVE,
                                                 d.request(2, 0, 1, decoy.task)), **bad_tree)
    s.send_client(m)
    s.send_server(s.response(S.SMB2_IOCTL, mid, S.error_resp(),
                             status=STATUS_NETWORK_NAME_DELETED, **bad_tree))
    # the registration in two WRITEs, answered in the other order
    req = d.request(2, 0, 1, p.task)
    cut = len(req) // 2
    m1, w1 = s.request(S.SMB2_WRITE, S.write_req(fa, req[:cut]))
    m2, w2 = s.request(S.SMB2_WRITE, S.write_req(fa, req[cut:]))
    s.send_client(w1)
    s.send_client(w2)
    s.send_server(s.response(S.SMB2_WRITE, m2, S.write_resp(len(req) - cut)))
    s.send_server(s.response(S.SMB2_WRITE, m1, S.write_resp(cut)))
    s.read(fa, d.response(2, 0, p.task_resp))
    task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc")
    s.create("svcctl", fb)
    smb_pipe_bind(s, fb, d, SVCCTL, "svcctl")
    s.write(fb, d.request(2, 0, 15, p.open))
    s.read(fb, d.response(2, 0, p.open_resp))
    # the decoy creation, in a session that is not the one the pipe was opened in
    other = {"session": 0x0000100000000E99}
    refused = {"status": STATUS_USER_SESSION_DELETED}
    s.compound([(S.SMB2_WRITE, S.write_req(fb, d.request(3, 0, 12, decoy.create)), other),
                (S.SMB2_READ, S.read_req(fb), other)],
               [(S.SMB2_WRITE, S.error_resp(), dict(other, **refused)),
                (S.SMB2_READ, S.error_resp(), dict(other, **refused))])
    s.write(fb, d.request(3, 0, 12, p.create))
    s.read(fb, d.response(3, 0, p.create_resp))
    svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl")
    s.close(fa)
    s.close(fb)
    c.close()
    return pw, task, svc, {"args": ["--stats-interval", "1"], "decoy_command": decoy.command,
                           "decoy_binary": decoy.binary_path}


def smb1_write_refused():
    """SMB1 (NT LM 0.12). \\atsvc: after the bind, a decoy registration by WRITE_ANDX
    chained to a READ_ANDX, on the pipe's FID but under a UID the server never gave, the
    chain refused at its first command with STATUS_USER_SESSION_DELETED; then the real
    one (same call id). \\svcctl: a decoy RCreateServiceW by TransactNmPipe under a TID
    the session never connected, refused with STATUS_NETWORK_NAME_DELETED; then the real
    one by TransactNmPipe."""
    pw, d, p = PcapWriter(start=1700104700.0), Dce(), Payload("smb1_write_refused")
    decoy = Payload("smb1_write_refused", decoy=True)
    c = tcp(pw, 51451, 445)
    s = S.Smb1Conv(c)
    from make_pcaps import smb1_login
    smb1_login(s, 0x0a00, 0x0a01, "svc_ops", "CORP", "WS18")
    fa, fb = 0x4201, 0x4202
    s.exchange([S.nt_create1_req("\\atsvc")], [S.nt_create1_resp(fa)])
    s.write(fa, d.bind(1, [(0, TSCH, [NDR])]))
    s.read(fa, d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\atsvc\0"))
    s.exchange([S.write1_req(fa, d.request(2, 0, 1, decoy.task)), S.read1_req(fa)],
               [S.empty1(S.SMB1_WRITE_ANDX)], status=STATUS_USER_SESSION_DELETED,
               req_hdr={"uid": 0x0bad}, resp_hdr={"uid": 0x0bad})
    s.write(fa, d.request(2, 0, 1, p.task))
    s.read(fa, d.response(2, 0, p.task_resp))
    task = task_truth(p, ports(c), 2, transport="ncacn_np", named_pipe="atsvc")
    s.exchange([S.nt_create1_req("\\svcctl")], [S.nt_create1_resp(fb)])
    s.write(fb, d.bind(1, [(0, SVCCTL, [NDR])]))
    s.read(fb, d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\svcctl\0"))
    s.transact(fb, d.request(2, 0, 15, p.open), d.response(2, 0, p.open_resp))
    s.exchange([S.transact_nmpipe_req(fb, d.request(3, 0, 12, decoy.create))],
               [S.empty1(S.SMB1_TRANSACTION)], status=STATUS_NETWORK_NAME_DELETED,
               req_hdr={"tid": 0x0bad}, resp_hdr={"tid": 0x0bad})
    s.transact(fb, d.request(3, 0, 12, p.create), d.response(3, 0, p.create_resp))
    svc = service_truth(p, ports(c), 3, transport="ncacn_np", named_pipe="svcctl")
    s.close(fa)
    s.close(fb)
    c.close()
    return pw, task, svc, {"args": ["--stats-interval", "1"], "decoy_command": decoy.command,
                           "decoy_binary": decoy.binary_path}


def smb3_negotiate(s):
    """NEGOTIATE for SMB 3.0 with multichannel (capabilities 0x0F: DFS,
    leasing, large MTU, multi-channel)."""
    s.exchange(S.SMB2_NEGOTIATE, S.negotiate_req([0x0202, 0x0210, 0x0300]),
               S.negotiate_resp(0x0300, S.spnego_init(), caps=0x0F),
               req_kw={"session": 0, "tree": 0}, resp_kw={"session": 0, "tree": 0})


def bind_other_connection():
    """SMB 3.0 multichannel. Connection A (client port 51121): NEGOTIATE,
    SESSION_SETUP (CORP\\mallory), TREE_CONNECT IPC$, CREATE \\atsvc and
    \\svcctl, the binds by WRITE and READ. Connection B (port 51122), a second
    channel of the same session: NEGOTIATE, SESSION_SETUP with
    SMB2_SESSION_FLAG_BINDING and the same SessionId (no TREE_CONNECT, no
    CREATE: tree and FileIds are the session's), then the calls by WRITE and
    READ on the same TreeId and FileIds."""
    pw, d, p = PcapWriter(start=1700101200.0), Dce(), Payload("bind_other_connection")
    sid, tree = 0x0000100000000E03, 5
    fa, fb = S.file_id(45), S.file_id(46)
    a = tcp(pw, 51121, 445)
    sa = S.Smb2Conv(a)
    smb3_negotiate(sa)
    sa.session_setup(sid, ntlm_authenticate("mallory", "CORP", "WS13"))
    sa.tree_connect(SMB_SHARE, tree, share_type=0x02)
    sa.create("atsvc", fa)
    smb_pipe_bind(sa, fa, d, TSCH, "atsvc")
    sa.create("svcctl", fb)
    smb_pipe_bind(sa, fb, d, SVCCTL, "svcctl")
    b = tcp(pw, 51122, 445)
    sb = S.Smb2Conv(b)
    smb3_negotiate(sb)
    # session binding: the existing SessionId, Flags = SMB2_SESSION_FLAG_BINDING

    def bind_setup(blob):
        return struct.pack("<HBBIIHHQ", 25, 0x01, 1, 1, 0, 64 + 24, len(blob), 0) + blob
    sb.session = sid
    sb.exchange(S.SMB2_SESSION_SETUP, bind_setup(S.spnego_init(ntlm_negotiate())),
                S.session_setup_resp(S.spnego_resp(ntlm_challenge(), state=1, mech=True)),
                status=S.STATUS_MORE_PROCESSING_REQUIRED, req_kw={"tree": 0},
                resp_kw={"tree": 0})
    sb.exchange(S.SMB2_SESSION_SETUP,
                bind_setup(S.spnego_resp(ntlm_authenticate("mallory", "CORP", "WS13"))),
                S.session_setup_resp(S.spnego_resp(state=0)), req_kw={"tree": 0},
                resp_kw={"tree": 0})
    sb.tree = tree
    sb.write(fa, d.request(2, 0, 1, p.task))
    sb.read(fa, d.response(2, 0, p.task_resp))
    task = task_truth(p, ports(b), 2, transport="ncacn_np")
    sb.write(fb, d.request(2, 0, 15, p.open))
    sb.read(fb, d.response(2, 0, p.open_resp))
    sb.write(fb, d.request(3, 0, 12, p.create))
    sb.read(fb, d.response(3, 0, p.create_resp))
    svc = service_truth(p, ports(b), 3, transport="ncacn_np")
    sb.close(fa)
    sb.close(fb)
    b.close()
    a.close()
    return pw, task, svc, {"bind_connection": ports(a)}


# --------------------------------------------------------------- mirror-port encapsulations

MIRROR_SRC, MIRROR_DST = "192.0.2.1", "192.0.2.2"   # the switch and the collector
TUNNEL_MACS = {"src_mac": b"\x02\x00\x00\x00\x00\x01", "dst_mac": b"\x02\x00\x00\x00\x00\x02"}


def to_server(frame):
    """Whether an Ethernet/IPv4 frame of the generator goes from CLIENT."""
    return frame[26:30] == ip_bytes(CLIENT)


def outer_ipv4(payload, proto):
    return ethernet(ipv4(MIRROR_SRC, MIRROR_DST, payload, proto=proto), **TUNNEL_MACS)


def outer_udp(payload, dport, sport=49999):
    """UDP from the switch to the collector, checksum 0 (none, as VXLAN senders do)."""
    return outer_ipv4(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload, 17)


def gre(proto, payload, csum=False, key=None, seq=None):
    """A GRE header (RFC 2784/2890): version 0, the optional fields in order."""
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | \
        (0x1000 if seq is not None else 0)
    opt = b""
    if key is not None:
        opt += struct.pack("!I", key)
    if seq is not None:
        opt += struct.pack("!I", seq)
    if csum:
        body = struct.pack("!HHHH", flags, proto, 0, 0) + opt + payload
        return struct.pack("!HHHH", flags, proto, _csum(body), 0) + opt + payload
    return struct.pack("!HH", flags, proto) + opt + payload


class Wrap:
    """Rewrites every frame of a case into its encapsulation; n counts frames."""

    def __init__(self):
        self.n = 0

    def __call__(self, frame):
        self.n += 1
        return self.wrap(frame, to_server(frame))


class GreIp(Wrap):
    def wrap(self, f, up):
        return outer_ipv4(gre(0x0800, f[14:]), 47)


class GreEthernet(Wrap):
    def wrap(self, f, up):
        return outer_ipv4(gre(0x6558, f, csum=True, key=0x1234, seq=self.n), 47)


class Erspan2(Wrap):
    def wrap(self, f, up):
        hdr = struct.pack("!HHI", 1 << 12 | 0, 0 << 13 | 0 << 11 | 5, 0)  # version 1, session 5
        return outer_ipv4(gre(0x88BE, hdr + f, seq=self.n), 47)


class Erspan3(Wrap):
    def wrap(self, f, up):
        # version 2, session 7, a timestamp, SGT 0, frame type 0 (Ethernet), O: a sub-header
        hdr = struct.pack("!HHIHH", 2 << 12, 7, 1000 * self.n, 0, 0x0001)
        platform = struct.pack("!II", 3 << 26, 0)          # platform-specific, id 3
        return outer_ipv4(gre(0x22EB, hdr + platform + f, seq=self.n), 47)


class Vxlan(Wrap):
    def wrap(self, f, up):
        return outer_udp(struct.pack("!BBHI", 0x08, 0, 0, 4242 << 8) + f, 4789)


class Geneve(Wrap):
    def wrap(self, f, up):
        option = struct.pack("!HBB", 0x0103, 0x80, 1) + b"\xde\xad\xbe\xef"  # one 8-octet option
        hdr = struct.pack("!BBHI", len(option) // 4, 0, 0x6558, 777 << 8)
        return outer_udp(hdr + option + f, 6081)


class MplsPseudowire(Wrap):
    def wrap(self, f, up):
        label = struct.pack("!I", 1001 << 12 | 0x100 | 64)   # bottom of stack, TTL 64
        cw = struct.pack("!I", self.n & 0xFFFF)              # control word: 0000, sequence
        return TUNNEL_MACS["dst_mac"] + TUNNEL_MACS["src_mac"] + b"\x88\x47" + label + cw + f


class Nsh(Wrap):
    def wrap(self, f, up):
        # version 0, TTL 63, length 6 words, MD type 1, next protocol 3 (Ethernet); the
        # service path (SPI 42, SI 255) and four context words
        base = struct.pack("!BBBB", 63 >> 2, (63 & 3) << 6 | 6, 0x01, 3)
        return (TUNNEL_MACS["dst_mac"] + TUNNEL_MACS["src_mac"] + b"\x89\x4f" + base +
                struct.pack("!I", 42 << 8 | 255) + bytes(16) + f)


class FabricPath(Wrap):
    def wrap(self, f, up):
        return (b"\x02\x00\x00\x0a\x00\x01" + b"\x02\x00\x00\x0b\x00\x01" + b"\x89\x03" +
                struct.pack("!H", 1 << 6 | 32) + f)


class VlanAsymmetric(Wrap):
    """VLAN 10 on the client's frames, 20 on the server's (a router between two VLANs)."""

    def wrap(self, f, up):
        return f[:12] + struct.pack("!HH", 0x8100, 10 if up else 20) + f[12:]


class Nested(Wrap):
    """VXLAN inside GRE: two tunnels."""

    def wrap(self, f, up):
        inner = Vxlan().wrap(f, up)
        return outer_ipv4(gre(0x0800, inner[14:]), 47)


def wrapped(name, start, cports, wrap):
    """A task creation and a service creation over TCP, as one_byte_segments
    without the one-byte segments, every frame of both directions rewritten by
    wrap (an encapsulation a mirror port delivers)."""
    pw, p, d = PcapWriter(start=start), Payload(name), Dce()
    task = tcp_task(pw, d, p, cports[0])
    svc = tcp_service(pw, d, p, cports[1])
    pw.frames = [(t, wrap(f), w) for t, f, w in pw.frames]
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tunnel_case(cls, start, cports, about):
    def case():
        return wrapped(case.__name__, start, cports, cls())
    case.__doc__ = about
    return case


TUNNELS = {
    "tunnel_gre_ip": (GreIp, "GRE (no options) carrying the IPv4 packets: a GRE tunnel to a "
                      "collector, IP in IP as routers mirror."),
    "tunnel_gre_ethernet": (GreEthernet, "GRE with checksum, key and sequence number carrying "
                            "whole Ethernet frames (0x6558, transparent Ethernet bridging)."),
    "tunnel_erspan2": (Erspan2, "ERSPAN type II (GRE 0x88be with a sequence number, 8-octet "
                       "ERSPAN header, session 5), as Cisco and Arista mirror sessions send."),
    "tunnel_erspan3": (Erspan3, "ERSPAN type III (GRE 0x22eb, 12-octet header with the "
                       "optional 8-octet platform-specific sub-header)."),
    "tunnel_vxlan": (Vxlan, "VXLAN on UDP 4789 (VNI 4242), as cloud traffic mirroring sends."),
    "tunnel_geneve": (Geneve, "Geneve on UDP 6081 with an 8-octet option (as AWS Gateway Load "
                      "Balancer and cloud mirror targets send), Ethernet inside."),
    "tunnel_mpls_pw": (MplsPseudowire, "Ethernet over an MPLS pseudowire: one label, the "
                       "control word, then the frame (RFC 4448)."),
    "tunnel_nsh": (Nsh, "Network Service Header (RFC 8300, MD type 1) carrying Ethernet."),
    "tunnel_fabricpath": (FabricPath, "Cisco FabricPath: an outer header (ethertype 0x8903, "
                          "FTag and TTL) before the original frame."),
    "vlan_asymmetric": (VlanAsymmetric, "VLAN 10 on the client's frames and 20 on the "
                        "server's: the two directions of each connection carry different tags."),
    "tunnel_nested": (Nested, "VXLAN inside GRE: two tunnels, one inside the other."),
}


# --------------------------------------------------------------- IP fragments

def _ipv4_hdr(hdr, total, ident, frag):
    h = bytearray(hdr)
    struct.pack_into("!HHH", h, 2, total, ident & 0xFFFF, frag)
    struct.pack_into("!H", h, 10, 0)
    struct.pack_into("!H", h, 10, _csum(bytes(h)))
    return bytes(h)


def v4_fragments(frame, size, ident, pieces=None):
    """The Ethernet/IPv4 frame as fragments of `size` data octets (a multiple of 8), or
    as the (offset, data) pieces given; each piece says MF unless it ends the datagram."""
    eth, ip = frame[:14], frame[14:]
    ihl = (ip[0] & 15) * 4
    hdr, body = ip[:ihl], ip[ihl:]
    if pieces is None:
        pieces = [(o, body[o:o + size]) for o in range(0, len(body), size)]
    out = []
    for off, chunk in pieces:
        mf = off + len(chunk) < len(body)
        out.append(eth + _ipv4_hdr(hdr, ihl + len(chunk), ident, (0x2000 if mf else 0) | off // 8)
                   + chunk)
    return out


def v6_of(frame, hop_by_hop=True):
    """The Ethernet/IPv4/TCP frame as IPv6 (fd00::/8 addresses from the IPv4 ones), with a
    hop-by-hop options header first; the TCP checksum made for IPv6."""
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    seg = bytearray(ip[ihl:])
    src = b"\xfd" + bytes(11) + ip[12:16]
    dst = b"\xfd" + bytes(11) + ip[16:20]
    struct.pack_into("!H", seg, 16, 0)
    pseudo = src + dst + struct.pack("!IxxxB", len(seg), 6)
    struct.pack_into("!H", seg, 16, _csum(pseudo + bytes(seg)))
    return frame[:12], src, dst, bytes(seg)


def v6_fragments(frame, size, ident):
    """The frame as IPv6 fragments of `size` octets after a hop-by-hop header (RFC 8200:
    the hop-by-hop header is in every fragment, before the fragment header)."""
    macs, src, dst, seg = v6_of(frame)
    hbh = struct.pack("!BB", 44, 0) + b"\x01\x04\0\0\0\0"   # next: fragment; PadN
    out = []
    for off in range(0, len(seg), size):
        chunk = seg[off:off + size]
        m = 1 if off + size < len(seg) else 0
        fh = struct.pack("!BBHI", 6, 0, off | m, ident)
        payload = hbh + fh + chunk
        ip6 = struct.pack("!IHBB", 6 << 28, len(payload), 0, 64) + src + dst + payload
        out.append(macs + b"\x86\xdd" + ip6)
    return out


def refragment(pw, split):
    """Every frame that carries TCP data replaced by what split(frame, n) makes of it."""
    frames, n = [], 0
    for t, f, w in pw.frames:
        ip = f[14:]
        data_len = len(ip) - (ip[0] & 15) * 4 - (ip[(ip[0] & 15) * 4 + 12] >> 4) * 4
        if f[12:14] == b"\x08\x00" and ip[9] == 6 and data_len > 0:
            n += 1
            for i, g in enumerate(split(f, n)):
                frames.append((t + i * 1e-5, g, None))
        else:
            frames.append((t, f, w))
    pw.frames = frames


def fragmented(name, start, cports, split, **truth):
    pw, p, d = PcapWriter(start=start), Payload(name), Dce()
    task = tcp_task(pw, d, p, cports[0])
    svc = tcp_service(pw, d, p, cports[1])
    task.update(truth)
    svc.update(truth)
    refragment(pw, split)
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def ip_fragments_tiny():
    """Every IPv4 packet carrying TCP data sent as fragments of 8 octets: the first
    holds only 8 octets of the TCP header (a tiny first fragment, which hosts still
    reassemble)."""
    return fragmented("ip_fragments_tiny", 1700103200.0, (51301, 51302),
                      lambda f, n: v4_fragments(f, 8, 0x1000 + n))


def ip_fragments_shuffled():
    """IPv4 fragments of 24 octets in a seeded random order (the first never first),
    one of them sent twice."""
    rng = random.Random(1811)

    def split(f, n):
        frags = v4_fragments(f, 24, 0x2000 + n)
        order = list(range(len(frags)))
        rng.shuffle(order)
        if len(order) > 1 and order[0] == 0:
            order = order[1:] + order[:1]
        out = [frags[i] for i in order]
        return out + [frags[order[len(order) // 2]]]
    return fragmented("ip_fragments_shuffled", 1700103300.0, (51311, 51312), split)


def ipv6_fragments_hop_by_hop():
    """The connections over IPv6, every packet carrying TCP data sent as fragments of 32
    octets, each after a hop-by-hop options header (the fragment header is not the
    first extension header)."""
    return fragmented("ipv6_fragments_hop_by_hop", 1700103400.0, (51321, 51322),
                      lambda f, n: v6_fragments(f, 32, 0x3000 + n), client_ip="fd00::a01:5")


def ip_fragments_overlap():
    """IPv4 fragments that overlap, decoy bytes (0x58) against the real ones, where the
    policies part: (a) the real fragment of octets 16-56 comes after a decoy of 24-40,
    covering it wholly: Windows, Linux and BSD keep the newer (real), first keeps the
    decoy; (b) a decoy of the same offset and length as a real fragment comes after
    it: Windows and BSD keep the older (real), Linux takes the newer (decoy). So only
    Windows' (the default) and BSD's reading give the real calls."""
    def split(f, n):
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        body = ip[ihl:]
        if len(body) < 64:
            return v4_fragments(f, 8 * ((len(body) + 7) // 8), 0x4000 + n)
        decoy = lambda a, b: bytes([0x58]) * (b - a)  # noqa: E731
        pieces = [(0, body[0:24]), (24, decoy(24, 40)), (16, body[16:56]),
                  (56, body[56:64]), (56, decoy(56, 64))]
        rest = [(o, body[o:o + 64]) for o in range(64, len(body), 64)]
        return v4_fragments(f, 0, 0x4000 + n, pieces=pieces + rest)
    return fragmented("ip_fragments_overlap", 1700103500.0, (51331, 51332), split)


def padded_strings():
    """The task's Arguments and the service's binary path each padded with 8,000
    blanks in the middle, so that what matters (the case name, "-k run") sits past
    the 4 KiB a record keeps of a string: the record must keep the start and the
    end, say it was cut and how long the string was."""
    pw, p, d = PcapWriter(start=1700103600.0), Payload("padded_strings", pad=8000), Dce()
    task = tcp_task(pw, d, p, 51341)
    svc = tcp_service(pw, d, p, 51342)
    return pw, task, svc, {}

# --------------------------------------------------------------- a receiver-true TCP

def handshake_with(pw, cport, sport, first_syn=None, syn_data=b""):
    """A connection whose handshake is written here: optionally an earlier SYN with
    another ISN that nobody answers, then the SYN (with syn_data on it), and a SYN-ACK
    that acknowledges the SYN only (not its data)."""
    c = TcpConn(pw, Endpoint(CLIENT, cport), Endpoint(SERVER, sport), handshake=False)
    if first_syn is not None:
        c._send(0, 0x02, b"", seq=first_syn, ack=0)
        pw.t += 1.0  # the retry a second later
    c._send(0, 0x02, syn_data, seq=c.seq[0] - 1, ack=0)
    c._send(1, 0x12, b"", seq=c.seq[1] - 1, ack=c.seq[0])
    c._send(0, 0x10, b"")
    return c


def tcp_syn_data_decoy():
    """Each SYN carries a decoy bind (to srvsvc) that the server's SYN-ACK does not
    acknowledge (it acks the SYN alone, as hosts without TCP Fast Open do), so the
    host never sees it; the real bind follows at the same sequence numbers."""
    pw, p, d = PcapWriter(start=1700103700.0), Payload("tcp_syn_data_decoy"), Dce()
    decoy = d.bind(1, [(0, SRVSVC, [NDR])])
    task = tcp_task(pw, d, p, 51351, conn=handshake_with(pw, 51351, TSCH_PORT, syn_data=decoy))
    svc = tcp_service(pw, d, p, 51352,
                      conn=handshake_with(pw, 51352, SVC_PORT, syn_data=decoy))
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tcp_syn_retry_lower_isn():
    """The client's first SYN (ISN 50,999) goes unanswered; a second later it
    retries with another, lower ISN (999), which the server answers; all data follows
    that one."""
    pw, p, d = PcapWriter(start=1700103800.0), Payload("tcp_syn_retry_lower_isn"), Dce()
    task = tcp_task(pw, d, p, 51361,
                    conn=handshake_with(pw, 51361, TSCH_PORT, first_syn=50999))
    svc = tcp_service(pw, d, p, 51362,
                      conn=handshake_with(pw, 51362, SVC_PORT, first_syn=50999))
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tcp_data_after_fin():
    """After the creation and its answer, the client's FIN, then a decoy creation
    request (another binary path) sent at the FIN's own sequence number and past it:
    the server's stack has closed that direction and never reads it."""
    pw, p, d = PcapWriter(start=1700103900.0), Payload("tcp_data_after_fin"), Dce()
    decoy = Payload("tcp_data_after_fin", decoy=True)

    def close_then_decoy(c, opnum, stub):
        c._send(0, 0x11, b"")          # FIN at seq S
        fin = c.seq[0]
        c.seq[0] += 1
        req = d.request(9, 0, opnum, stub)
        c._send(0, 0x18, req, seq=fin)       # at the FIN's sequence number
        c._send(0, 0x18, req, seq=fin + 1)   # and just past it
        c._send(1, 0x11, b"")
        c.seq[1] += 1
        c._send(0, 0x10, b"")
    task = tcp_task(pw, d, p, 51371, close=lambda c: close_then_decoy(c, 1, decoy.task))
    svc = tcp_service(pw, d, p, 51372, close=lambda c: close_then_decoy(c, 12, decoy.create))
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tcp_rst_out_of_window():
    """Before each creation request, a reset in the server's name whose sequence number
    is far from the one the client expects (out of window: a host ignores it, RFC 5961),
    then 20 seconds of quiet, then the creation: a sensor that took the reset has
    closed the flow (and timed it out) before the call comes."""
    pw, p, d = PcapWriter(start=1700104000.0), Payload("tcp_rst_out_of_window"), Dce()

    def rst(c):
        c._send(1, 0x04, b"", seq=c.seq[1] + 1000000, ack=0)
        pw.t += 20.0
    task = tcp_task(pw, d, p, 51381, before_call=rst)
    svc = tcp_service(pw, d, p, 51382, before_call=rst)
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tcp_urgent_byte():
    """The creation request in two segments, the second led by a decoy byte ('X') that
    the urgent pointer names (URG, pointer 1: the byte before it is urgent, RFC 6093).
    Windows, as Linux, reads that byte out of band: the stream it hands the RPC server
    is the request without it. A sensor that keeps the byte in the stream reads a
    request one byte off from there on."""
    pw, p, d = PcapWriter(start=1700104100.0), Payload("tcp_urgent_byte"), Dce()

    class Urgent(TcpConn):
        def send(self, side, data, **kw):
            creation = len(data) > 24 and data[2] == 0 and data[22] in (1, 12)
            if side != 0 or not creation:  # the bind and the other calls: as they are
                return TcpConn.send(self, side, data, **kw)
            cut = len(data) // 2
            base = self.seq[0]
            self._send(0, 0x18, data[:cut], seq=base)
            last = self._send(0, 0x38, b"X" + data[cut:], seq=base + cut, urgent=1)
            self.seq[0] = base + len(data) + 1
            return last

    def conn(cport, sport):
        return Urgent(pw, Endpoint(CLIENT, cport), Endpoint(SERVER, sport))
    task = tcp_task(pw, d, p, 51391, conn=conn(51391, TSCH_PORT))
    svc = tcp_service(pw, d, p, 51392, conn=conn(51392, SVC_PORT))
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


class Windowed(TcpConn):
    """A connection whose server has a receive buffer that ends at self.edge (a sequence
    number of the client's, set before the handshake): every window it advertises says so,
    edge - ack, and the edge only moves on (a receiver never shrinks its window). The
    creation request (opnum 1 or 12) goes out through self.creation(base, data, cut),
    cut the middle of it, where the buffer ends until the server reads."""

    def __init__(self, pw, cport, sport, before_request):
        TcpConn.__init__(self, pw, Endpoint(CLIENT, cport), Endpoint(SERVER, sport),
                         handshake=False)
        self.edge = self.seq[0] + before_request
        self.unseen = False
        self._send(0, 0x02, b"", seq=self.seq[0] - 1, ack=0)
        self._send(1, 0x12, b"", seq=self.seq[1] - 1, ack=self.seq[0])
        self._send(0, 0x10, b"")

    def window(self, side, ack):
        if side == 1:
            return max(0, min(0xFFFF, self.edge - ack))
        return 64240

    def send(self, side, data, **kw):
        creation = len(data) > 24 and data[2] == 0 and data[22] in (1, 12)
        if side != 0 or not creation:
            return TcpConn.send(self, side, data, **kw)
        base = self.seq[0]
        cut = self.edge - base
        self.creation(base, data, cut)
        self.seq[0] = base + len(data)
        return self._send(1, 0x10, b"")

    def acked(self, at):
        """The server's ACK of the client's bytes up to at."""
        self.seq[0] = at
        self._send(1, 0x10, b"")

    def opens(self, at, write=True):
        """The server reads its buffer: the window opens (the update not captured when
        write is false)."""
        self.edge = at + 64240
        if write:
            self._send(1, 0x10, b"")


def windowed(name, start, cports, creation):
    """The two creations on Windowed connections whose buffer ends in the middle of the
    creation request, sent through creation(conn, base, data, cut)."""
    pw, p, d = PcapWriter(start=start), Payload(name), Dce()

    class Conn(Windowed):
        pass
    Conn.creation = creation
    task_cut = len(d.request(2, 0, 1, p.task)) // 2
    task = tcp_task(pw, d, p, cports[0],
                    conn=Conn(pw, cports[0], TSCH_PORT,
                              len(d.bind(1, [(0, TSCH, [NDR])])) + task_cut))
    svc_cut = len(d.request(3, 0, 12, p.create)) // 2
    svc = tcp_service(pw, d, p, cports[1],
                      conn=Conn(pw, cports[1], SVC_PORT,
                                len(d.bind(1, [(0, SVCCTL, [NDR])]))
                                + len(d.request(2, 0, 15, p.open)) + svc_cut))
    return pw, task, svc, {"args": ["--stats-interval", "1"]}


def tcp_zero_window_probe():
    """The server's buffer fills in the middle of each creation request: it advertises a
    window of 0; the client probes it with one byte, a decoy ('X' or 'Y', not the request's
    byte there), which a host with no room does not take (it answers with the same ACK and
    window 0); the window opens and the real byte comes at the same sequence number with the
    rest of the request."""
    def creation(c, base, data, cut):
        c._send(0, 0x18, data[:cut], seq=base)
        c.acked(base + cut)                       # window 0
        decoy = b"X" if data[cut:cut + 1] != b"X" else b"Y"
        c._send(0, 0x18, decoy, seq=base + cut)   # the probe
        c._send(1, 0x10, b"")                     # still 0
        c.opens(base + cut)
        c._send(0, 0x18, data[cut:], seq=base + cut)
    return windowed("tcp_zero_window_probe", 1700104200.0, (51401, 51402), creation)


def tcp_beyond_window():
    """The second half of each creation request starts 60 bytes before the right edge of
    the server's window and runs 200 bytes past it, those 200 decoy bytes (the request's
    bytes xor 0x55); the server takes the 60, its window fills (0), then opens, and the
    client sends the rest of the request, the real bytes, from the edge on."""
    def creation(c, base, data, cut):
        c._send(0, 0x18, data[:cut - 60], seq=base)
        decoy = bytes(b ^ 0x55 for b in data[cut:cut + 200])
        c._send(0, 0x18, data[cut - 60:cut] + decoy, seq=base + cut - 60)
        c.acked(base + cut)                       # window 0: the 60 taken, the 200 not
        c.opens(base + cut)
        c._send(0, 0x18, data[cut:], seq=base + cut)
    return windowed("tcp_beyond_window", 1700104300.0, (51411, 51412), creation)


def tcp_window_update_unseen():
    """The server's buffer fills in the middle of each creation request (window 0); its
    window update is not in the capture (a SPAN port loses ACKs as it loses data); the client
    sends the rest of the request, beyond the last window seen, and the server acknowledges
    it all: it took those bytes, and so must the sensor."""
    def creation(c, base, data, cut):
        c._send(0, 0x18, data[:cut], seq=base)
        c.acked(base + cut)                       # window 0
        c.opens(base + cut, write=False)          # the update the capture lost
        c._send(0, 0x18, data[cut:], seq=base + cut)
    return windowed("tcp_window_update_unseen", 1700104400.0, (51421, 51422), creation)


def send_policy_overlaps(conn, side, real, decoy):
    """Two overlaps with different bytes, out of order, where the target policies part
    (a and b: where the decoy first differs, and 120 bytes on or more):
    1. [a, a+40) real, then [a, a+60) with the decoy's first 40 bytes: the same start and
       further: Linux (and old Linux, Solaris, last) takes the later bytes, Windows and BSD
       keep the first;
    2. [b, b+40) decoy, then [b-20, b+40) real: it begins before the older one: Windows,
       BSD, Linux take the later bytes, first keeps the decoy;
    then the holes, the start last. Only a Windows or BSD reading is the real request."""
    diffs = [i for i in range(len(real)) if real[i] != decoy[i]]
    a = diffs[0]
    b = next(i for i in diffs if i >= a + 120)
    assert a > 0 and b + 40 <= len(real)
    base = conn.seq[side]

    def put(lo, hi, src):
        conn._send(side, 0x18, src[lo:hi], seq=base + lo)
    put(a, a + 40, real)
    conn._send(side, 0x18, decoy[a:a + 40] + real[a + 40:a + 60], seq=base + a)
    put(b, b + 40, decoy)
    put(b - 20, b + 40, real)
    put(a + 60, b - 20, real)
    put(b + 40, len(real), real)
    put(0, a, real)
    conn.seq[side] = base + len(real)
    conn._send(1 - side, 0x10, b"")


def tcp_overlap_policy():
    """Each creation request out of order with two overlaps of different bytes (the decoy
    command / binary path) where the target policies part (send_policy_overlaps): the
    Windows server keeps the real bytes in both, as BSD would; Linux's policy reads the
    decoy in the first, first-data-wins in the second."""
    pw, task, svc, x = decoyed_creations("tcp_overlap_policy", 1700104500.0, (51431, 51432),
                                         send_policy_overlaps)
    return pw, task, svc, {"args": ["--stats-interval", "1"], "decoy_command": x.command,
                           "decoy_binary_path": x.binary_path}


CASES = {
    "one_byte_segments": one_byte_segments,
    "out_of_order": out_of_order,
    "overlap_conflict": overlap_conflict,
    "bad_checksum_decoy": bad_checksum_decoy,
    "one_byte_fragments": one_byte_fragments,
    "decoy_contexts": decoy_contexts,
    "alter_context_switch": alter_context_switch,
    "big_endian": big_endian,
    "ndr64": ndr64,
    "smb_write_ioctl_split": smb_write_ioctl_split,
    "smb2_compound": smb2_compound,
    "bind_other_connection": bind_other_connection,
    "odd_padding_auth": odd_padding_auth,
    "call_id_reuse": call_id_reuse,
    "ip_fragments_tiny": ip_fragments_tiny,
    "ip_fragments_shuffled": ip_fragments_shuffled,
    "ipv6_fragments_hop_by_hop": ipv6_fragments_hop_by_hop,
    "ip_fragments_overlap": ip_fragments_overlap,
    "padded_strings": padded_strings,
    "tcp_syn_data_decoy": tcp_syn_data_decoy,
    "tcp_syn_retry_lower_isn": tcp_syn_retry_lower_isn,
    "tcp_data_after_fin": tcp_data_after_fin,
    "tcp_rst_out_of_window": tcp_rst_out_of_window,
    "tcp_urgent_byte": tcp_urgent_byte,
    "smb_write_closed_fid": smb_write_closed_fid,
    "smb1_transaction_secondary": smb1_transaction_secondary,
    "smb_write_refused": smb_write_refused,
    "smb1_write_refused": smb1_write_refused,
    "tcp_zero_window_probe": tcp_zero_window_probe,
    "tcp_beyond_window": tcp_beyond_window,
    "tcp_window_update_unseen": tcp_window_update_unseen,
    "tcp_overlap_policy": tcp_overlap_policy,
}
for _i, (_name, (_cls, _about)) in enumerate(TUNNELS.items()):
    CASES[_name] = tunnel_case(_cls, 1700102000.0 + 100 * _i, (51201 + 2 * _i, 51202 + 2 * _i),
                               _about)
    CASES[_name].__name__ = _name


def build(name):
    """(pcap bytes, truth document) of one case."""
    pw, task, svc, extra = CASES[name]()
    doc = {"capture": "evasion_%s.pcap" % name, "case": name,
           "about": " ".join(CASES[name].__doc__.split()),
           "task": task, "service": svc, "extra": extra}
    return pw.bytes(), doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "pcaps"))
    ap.add_argument("--truth", default=os.path.join(ROOT, "tests", "expected", "evasion"))
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.truth, exist_ok=True)
    for name in a.names or CASES:
        data, doc = build(name)
        with open(os.path.join(a.out, doc["capture"]), "wb") as f:
            f.write(data)
        with open(os.path.join(a.truth, "evasion_%s.truth.json" % name), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
