#!/usr/bin/python3
"""Writes the project's own captures into pcaps/ and their ground truth into
tests/expected/NAME.truth.json.

    tests/gen/make_pcaps.py [--out DIR] [--truth DIR] [NAME ...]

The truth is what each scenario put on the wire (interface, opnum, fragment
counts, stub sizes, who, what was created); tests check the sensor against it.
Deterministic: running it twice writes identical files.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ndrgen as N  # noqa: E402
from pcapgen import (ATSVC, BTFN, DECOY, EPM, NDR, NDR64, SVCCTL, TSCH, Dce,  # noqa: E402
                     Endpoint, PcapWriter, TcpConn, Truth, ntlm_authenticate,
                     ntlm_challenge, ntlm_negotiate, LINK_RAW, LINK_NULL, LINK_SLL2)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2023-11-14T22:15:00</StartBoundary>
      <Enabled>true</Enabled>
      <ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <Hidden>true</Hidden>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>cmd.exe</Command>
      <Arguments>/C whoami &gt; %windir%\\Temp\\kXqTzPlm.tmp 2&gt;&amp;1</Arguments>
    </Exec>
  </Actions>
</Task>
"""

CLIENT = "10.1.0.5"
SERVER = "10.1.0.20"
SCM_HANDLE = N.handle(0x51)
SVC_HANDLE = N.handle(0x52)


def swap_pairs(n):
    """0 2 1 4 3 ...: every segment after the first swapped with its neighbour."""
    idx = [0]
    i = 1
    while i < n:
        idx += [i + 1, i] if i + 1 < n else [i]
        i += 2
    return idx


def ctx_items(*items):
    return [{"uuid": i[0], "ack_result": i[1]} for i in items]


# --------------------------------------------------------------- building blocks

def tsch_session(pw, truth, conn, d, call_base=1, frag=None, seg=None, order=None, dup=(),
                 oneside=False, auth=None, sealed=False, user=None, ndr64=False):
    """Bind ITaskSchedulerService and register, run and delete a task."""
    kw = {"le": d.le, "ndr64": ndr64}
    accepted = NDR64 if ndr64 else NDR
    rejected = NDR if ndr64 else NDR64
    bind = d.bind(call_base, [(0, TSCH, [accepted]), (1, TSCH, [rejected]), (2, TSCH, [BTFN])],
                  auth=auth)
    conn.send(0, bind, seg=seg)
    conn.send(1, d.bind_ack(call_base, [(0, accepted), (2, None), (3, None)]))
    truth.call(conn, request="BIND", response="UNREPLIED" if oneside else "BINDACK",
               call_id=call_base,
               interfaces=ctx_items((TSCH[0], -1 if oneside else 0),
                                    (TSCH[0], -1 if oneside else 2),
                                    (TSCH[0], -1 if oneside else 3)))
    calls = [
        (1, "SchRpcRegisterTask", "create",
         N.sch_register_task("\\kXqTzPlm", TASK_XML, flags=0x2, logon_type=3, **kw),
         N.sch_register_task_response("\\kXqTzPlm", **kw)),
        (12, "SchRpcRun", "execute", N.sch_run("\\kXqTzPlm", **kw), N.sch_run_response(**kw)),
        (13, "SchRpcDelete", "delete", N.sch_delete("\\kXqTzPlm", **kw), N.hresult_only(**kw)),
    ]
    call_id = call_base + 1
    for opnum, name, cls, stub, resp in calls:
        if sealed:
            # packet privacy: the stub is ciphertext; sizes stay, content is noise
            stub = bytes((b * 167 + 13) & 0xFF for b in stub)
            resp = bytes((b * 167 + 13) & 0xFF for b in resp)
        if frag:
            pdus = d.fragments("req", call_id, 0, opnum, stub, frag, auth=auth)
            rpdus = d.fragments("res", call_id, 0, None, resp, frag, auth=auth)
        else:
            pdus = [d.request(call_id, 0, opnum, stub, auth=auth)]
            rpdus = [d.response(call_id, 0, resp, auth=auth)]
        conn.send(0, b"".join(pdus), seg=seg, order=order if opnum == 1 else None,
                  dup=dup if opnum == 1 else ())
        conn.send(1, b"".join(rpdus))
        rec = dict(request="REQUEST", call_id=call_id, opnum=opnum, iface=TSCH[0],
                   operation=name, cls=cls, req_frag_cnt=len(pdus), req_stub_size=len(stub),
                   sealed=sealed)
        if oneside:
            rec.update(response="UNREPLIED")
        else:
            rec.update(response="RESPONSE", res_frag_cnt=len(rpdus), res_stub_size=len(resp))
        if user:
            rec["user"] = user
        truth.call(conn, **rec)
        call_id += 1
    return call_id


def svcctl_session(pw, truth, conn, d, call_base=1, seg=None, wide=True):
    """Bind svcctl; open the SCM, create, start and delete a service, close handles."""
    kw = {"le": d.le}
    conn.send(0, d.bind(call_base, [(0, SVCCTL, [NDR])]), seg=seg)
    conn.send(1, d.bind_ack(call_base, [(0, NDR)], sec_addr=b"49668\0"))
    truth.call(conn, request="BIND", response="BINDACK", call_id=call_base,
               interfaces=ctx_items((SVCCTL[0], 0)))
    binpath = "%COMSPEC% /Q /c echo dir ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > %TEMP%\\execute.bat"
    create_op = (12, "RCreateServiceW") if wide else (24, "RCreateServiceA")
    open_op = (15, "ROpenSCManagerW") if wide else (27, "ROpenSCManagerA")
    start_op = (19, "RStartServiceW") if wide else (31, "RStartServiceA")
    calls = [
        (open_op[0], open_op[1], "other", N.open_scmanager_w("DC01", None, 0xF003F, **kw),
         N.handle_response(SCM_HANDLE, **kw)),
        (create_op[0], create_op[1], "create",
         N.create_service(SCM_HANDLE, "BTOBTO", binpath, display="BTOBTO", wide=wide, **kw),
         N.create_service_response(SVC_HANDLE, **kw)),
        (start_op[0], start_op[1], "execute", N.start_service(SVC_HANDLE, wide=wide, **kw),
         N.status_only(**kw)),
        (2, "RDeleteService", "delete", N.handle_only(SVC_HANDLE, **kw), N.status_only(**kw)),
        (0, "RCloseServiceHandle", "other", N.handle_only(SVC_HANDLE, **kw),
         N.close_response(**kw)),
        (0, "RCloseServiceHandle", "other", N.handle_only(SCM_HANDLE, **kw),
         N.close_response(**kw)),
    ]
    call_id = call_base + 1
    for opnum, name, cls, stub, resp in calls:
        conn.send(0, d.request(call_id, 0, opnum, stub), seg=seg)
        conn.send(1, d.response(call_id, 0, resp), seg=seg)
        truth.call(conn, request="REQUEST", response="RESPONSE", call_id=call_id, opnum=opnum,
                   iface=SVCCTL[0], operation=name, cls=cls, req_frag_cnt=1,
                   req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp),
                   sealed=False)
        call_id += 1
    return call_id


def epm_lookup(pw, truth, conn, d, call_id=1):
    """An endpoint-mapper bind (NDR rejected, NDR64 accepted) and one ept_map."""
    conn.send(0, d.bind(call_id, [(0, EPM, [NDR]), (1, EPM, [NDR64])]))
    conn.send(1, d.bind_ack(call_id, [(2, None), (0, NDR64)], sec_addr=b"135\0"))
    truth.call(conn, request="BIND", response="BINDACK", call_id=call_id,
               interfaces=ctx_items((EPM[0], 2), (EPM[0], 0)))
    stub = bytes(8) + bytes(range(64))   # the tower query; decoded by the EPM issue
    resp = bytes(24) + bytes(range(40))
    conn.send(0, d.request(call_id + 1, 1, 3, stub))
    conn.send(1, d.response(call_id + 1, 1, resp))
    truth.call(conn, request="REQUEST", response="RESPONSE", call_id=call_id + 1, opnum=3,
               iface=EPM[0], operation="ept_map", cls="read", req_frag_cnt=1,
               req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp), sealed=False)


# --------------------------------------------------------------- scenarios

def tcp_lateral_movement():
    """The demo: an endpoint-mapper lookup, then a scheduled task and a service
    created, run and deleted over ncacn_ip_tcp."""
    pw, t = PcapWriter(start=1700000000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 49800), Endpoint(SERVER, 135))
    epm_lookup(pw, t, c, d)
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 49801), Endpoint(SERVER, 49667))
    tsch_session(pw, t, c, d)
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 49802), Endpoint(SERVER, 49668))
    svcctl_session(pw, t, c, d)
    c.close()
    return pw, t


def tcp_fragmented():
    """Requests and responses cut into DCE/RPC fragments; PDUs cut into 7-byte
    TCP segments; several PDUs in one segment."""
    pw, t = PcapWriter(start=1700001000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50001), Endpoint(SERVER, 49667))
    tsch_session(pw, t, c, d, frag=200)
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 50002), Endpoint(SERVER, 49668))
    svcctl_session(pw, t, c, d, seg=7)
    c.close()
    # bind and first request pipelined in one segment, then the rest
    c = TcpConn(pw, Endpoint(CLIENT, 50003), Endpoint(SERVER, 49669))
    stub = N.open_scmanager_w("DC01")
    c.send(0, d.bind(1, [(0, SVCCTL, [NDR])]) + d.request(2, 0, 15, stub))
    c.send(1, d.bind_ack(1, [(0, NDR)]) + d.response(2, 0, N.handle_response(SCM_HANDLE)))
    t.call(c, request="BIND", response="BINDACK", call_id=1, interfaces=ctx_items((SVCCTL[0], 0)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=2, opnum=15, iface=SVCCTL[0],
           operation="ROpenSCManagerW", cls="other", req_frag_cnt=1, req_stub_size=len(stub),
           res_frag_cnt=1, res_stub_size=24, sealed=False)
    c.close()
    return pw, t


def tcp_bigendian():
    """Big-endian data representation (drep 0x00) in headers and stubs."""
    pw, t = PcapWriter(start=1700002000.0), Truth()
    d = Dce(le=False)
    c = TcpConn(pw, Endpoint(CLIENT, 50101), Endpoint(SERVER, 49668))
    svcctl_session(pw, t, c, d)
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 50102), Endpoint(SERVER, 49667))
    tsch_session(pw, t, c, d, frag=300)
    c.close()
    return pw, t


def tcp_reorder():
    """Segments delivered out of order, one retransmitted, one overlapped by a
    later segment carrying different bytes (the first data must win)."""
    pw, t = PcapWriter(start=1700003000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50201), Endpoint(SERVER, 49667))
    tsch_session(pw, t, c, d, seg=96, order=swap_pairs, dup=(3, 7))
    c.close()
    return pw, t


def tcp_oneside():
    """Only the client's packets were captured: every request is still reported."""
    pw, t = PcapWriter(start=1700004000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50301), Endpoint(SERVER, 49667), oneside=True)
    tsch_session(pw, t, c, d, oneside=True)
    return pw, t


def tcp_midstream():
    """The capture starts in the middle of a connection: no handshake, no bind,
    the first bytes are the tail of a request. Calls are reported by opnum with
    the context unknown."""
    pw, t = PcapWriter(start=1700005000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50401), Endpoint(SERVER, 49667), handshake=False)
    first = d.request(7, 0, 17, N.sch_delete("\\earlier"))
    c.send(0, first[30:])           # only the tail of an earlier request was captured
    c.send(1, d.response(7, 0, N.hresult_only()))
    t.call(c, request="REQUEST_LOST", response="RESPONSE", call_id=7, res_frag_cnt=1,
           res_stub_size=4)
    stub = N.sch_register_task("\\Mid", TASK_XML)
    c.send(0, d.request(8, 0, 1, stub))
    c.send(1, d.response(8, 0, N.sch_register_task_response("\\Mid")))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=8, opnum=1, iface=None,
           req_frag_cnt=1, req_stub_size=len(stub), res_frag_cnt=1, sealed=False,
           flags=["context_unknown"])
    return pw, t


def tcp_auth_sealed():
    """NTLMSSP at packet privacy: bind (NEGOTIATE), bind_ack (CHALLENGE), auth3
    (AUTHENTICATE: CORP\\alice from WS01), sealed task calls, then an
    alter_context that adds svcctl on a second context."""
    pw, t = PcapWriter(start=1700006000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50501), Endpoint(SERVER, 49667))
    sig = b"\x01\x00\x00\x00" + bytes(12)
    c.send(0, d.bind(1, [(0, TSCH, [NDR])], auth=(10, 6, ntlm_negotiate())))
    c.send(1, d.bind_ack(1, [(0, NDR)], auth=(10, 6, ntlm_challenge())))
    c.send(0, d.auth3(1, (10, 6, ntlm_authenticate("alice", "CORP", "WS01"))))
    t.call(c, request="BIND", response="BINDACK", call_id=1, interfaces=ctx_items((TSCH[0], 0)))
    stub = bytes((b * 167 + 13) & 0xFF for b in N.sch_register_task("\\Sealed", TASK_XML))
    stub += bytes((-len(stub)) % 16)
    c.send(0, d.request(2, 0, 1, stub, auth=(10, 6, sig)))
    c.send(1, d.response(2, 0, bytes(16), auth=(10, 6, sig)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=2, opnum=1, iface=TSCH[0],
           operation="SchRpcRegisterTask", cls="create", req_frag_cnt=1,
           req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=16, sealed=True, user="alice",
           auth_level=6)
    c.send(0, d.bind(3, [(1, SVCCTL, [NDR])], alter=True, auth=(10, 6, b"")))
    c.send(1, d.bind_ack(3, [(0, NDR)], alter=True, sec_addr=b"", auth=(10, 6, b"")))
    t.call(c, request="ALTER_CONTEXT", response="ALTER_CONTEXT_RESP", call_id=3,
           interfaces=ctx_items((SVCCTL[0], 0)))
    stub = bytes(96)
    c.send(0, d.request(4, 1, 45, stub, auth=(10, 6, sig)))
    c.send(1, d.response(4, 1, bytes(32), auth=(10, 6, sig)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=4, opnum=45, iface=SVCCTL[0],
           operation="RCreateServiceWOW64W", cls="create", req_frag_cnt=1, req_stub_size=96,
           res_frag_cnt=1, res_stub_size=32, sealed=True, user="alice", auth_level=6)
    c.close()
    return pw, t


def _one_create(pw, t, conn, d):
    """A minimal svcctl create on an already open connection (link-type tests)."""
    conn.send(0, d.bind(1, [(0, SVCCTL, [NDR])]))
    conn.send(1, d.bind_ack(1, [(0, NDR)]))
    t.call(conn, request="BIND", response="BINDACK", call_id=1,
           interfaces=ctx_items((SVCCTL[0], 0)))
    stub = N.create_service(SCM_HANDLE, "updsvc", "C:\\Windows\\Temp\\upd.exe")
    resp = N.create_service_response(SVC_HANDLE)
    conn.send(0, d.request(2, 0, 12, stub))
    conn.send(1, d.response(2, 0, resp))
    t.call(conn, request="REQUEST", response="RESPONSE", call_id=2, opnum=12, iface=SVCCTL[0],
           operation="RCreateServiceW", cls="create", req_frag_cnt=1, req_stub_size=len(stub),
           res_frag_cnt=1, res_stub_size=len(resp), sealed=False)


def link_qinq_ipv6():
    """802.1ad + 802.1Q tags around IPv6 with a destination-options header."""
    pw, t = PcapWriter(start=1700007000.0), Truth()
    c = TcpConn(pw, Endpoint("2001:db8::5", 50601), Endpoint("2001:db8::20", 49668),
                vlans=(100, 200))
    _one_create(pw, t, c, Dce())
    c.close()
    return pw, t


def link_sll2():
    pw, t = PcapWriter(linktype=LINK_SLL2, start=1700007100.0), Truth()
    c = TcpConn(pw, Endpoint(CLIENT, 50602), Endpoint(SERVER, 49668), link="sll2")
    _one_create(pw, t, c, Dce())
    c.close()
    return pw, t


def link_raw():
    pw, t = PcapWriter(linktype=LINK_RAW, start=1700007200.0), Truth()
    c = TcpConn(pw, Endpoint(CLIENT, 50603), Endpoint(SERVER, 49668), link="raw")
    _one_create(pw, t, c, Dce())
    c.close()
    return pw, t


def link_null():
    pw, t = PcapWriter(linktype=LINK_NULL, start=1700007300.0), Truth()
    c = TcpConn(pw, Endpoint("::1", 50604), Endpoint("::1", 49668), link="null")
    _one_create(pw, t, c, Dce())
    c.close()
    return pw, t


def tso_zero_length():
    """Frames captured before segmentation offload: IPv4 total length 0."""
    pw, t = PcapWriter(start=1700007400.0), Truth()
    c = TcpConn(pw, Endpoint(CLIENT, 50605), Endpoint(SERVER, 49668), tso_zero_len=True)
    _one_create(pw, t, c, Dce())
    c.close()
    return pw, t


def not_rpc():
    """Traffic that is neither DCE/RPC nor SMB: nothing may be reported."""
    pw, t = PcapWriter(start=1700008000.0), Truth()
    c = TcpConn(pw, Endpoint(CLIENT, 50701), Endpoint(SERVER, 80))
    c.send(0, b"GET / HTTP/1.1\r\nHost: intranet\r\n\r\n")
    c.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 50702), Endpoint(SERVER, 49667))
    c.send(0, b"\x16\x03\x01\x00\x2e\x01\x00\x00\x2a\x03\x03" + bytes(40))
    c.send(1, b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00")
    c.close()
    # bytes that start like DCE/RPC but are not (version 5, bad type) on port 135
    c = TcpConn(pw, Endpoint(CLIENT, 50703), Endpoint(SERVER, 135))
    c.send(0, b"\x05\x00\x63\x03\x10\x00\x00\x00" + bytes(40))
    c.close()
    return pw, t


SCENARIOS = {
    "tcp_lateral_movement": tcp_lateral_movement,
    "tcp_fragmented": tcp_fragmented,
    "tcp_bigendian": tcp_bigendian,
    "tcp_reorder": tcp_reorder,
    "tcp_oneside": tcp_oneside,
    "tcp_midstream": tcp_midstream,
    "tcp_auth_sealed": tcp_auth_sealed,
    "link_qinq_ipv6": link_qinq_ipv6,
    "link_sll2": link_sll2,
    "link_raw": link_raw,
    "link_null": link_null,
    "tso_zero_length": tso_zero_length,
    "not_rpc": not_rpc,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "pcaps"))
    ap.add_argument("--truth", default=os.path.join(ROOT, "tests", "expected"))
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    os.makedirs(a.truth, exist_ok=True)
    for name in a.names or SCENARIOS:
        pw, truth = SCENARIOS[name]()
        pw.write(os.path.join(a.out, name + ".pcap"))
        doc = {"capture": name + ".pcap", "about": " ".join(SCENARIOS[name].__doc__.split())
               if SCENARIOS[name].__doc__ else name, "calls": truth.calls}
        with open(os.path.join(a.truth, name + ".truth.json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
