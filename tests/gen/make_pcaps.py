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
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ndrgen as N  # noqa: E402
import smbgen as S  # noqa: E402
from pcapgen import (ATSVC, BTFN, EPM, NDR, NDR64, SVCCTL, TSCH, Dce,  # noqa: E402
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
    # what each call says, as the task XML and the stubs above put it
    expect = {
        1: {"args.path": "\\kXqTzPlm", "args.flags": ["create"],
            "args.logon_type": "interactive_token",
            "args.task.actions.command": "cmd.exe",
            "args.task.actions.arguments": "/C whoami > %windir%\\Temp\\kXqTzPlm.tmp 2>&1",
            "args.task.principal.user_id": "S-1-5-18", "args.task.hidden": True,
            "result.actual_path": "\\kXqTzPlm", "result.status": "S_OK"},
        12: {"args.path": "\\kXqTzPlm", "result.status": "S_OK"},
        13: {"args.path": "\\kXqTzPlm", "result.status": "S_OK"},
    }
    indicators = {1: ["hidden_task", "output_redirection", "random_name", "runs_as_system",
                      "script_host_or_lolbin", "user_writable_path"]}
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
        if not sealed and not oneside:
            rec["expect"] = expect[opnum]
            rec["indicators"] = indicators.get(opnum, [])
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
    # the service name follows the handle from the create into start, delete and close
    expect = [{"args.machine_name": "DC01", "result.status": "ERROR_SUCCESS"},
              {"args.service_name": "BTOBTO", "args.binary_path": binpath,
               "args.start_type": "demand_start", "args.service_type": ["win32_own_process"]},
              {"args.service_name": "BTOBTO"}, {"args.service_name": "BTOBTO"},
              {"args.service_name": "BTOBTO"}, {}]
    indicators = [[], ["network_path", "output_redirection", "runs_as_system",
                       "script_file", "script_host_or_lolbin", "user_writable_path"],
                  [], [], [], []]
    call_id = call_base + 1
    for i, (opnum, name, cls, stub, resp) in enumerate(calls):
        conn.send(0, d.request(call_id, 0, opnum, stub), seg=seg)
        conn.send(1, d.response(call_id, 0, resp), seg=seg)
        truth.call(conn, request="REQUEST", response="RESPONSE", call_id=call_id, opnum=opnum,
                   iface=SVCCTL[0], operation=name, cls=cls, req_frag_cnt=1,
                   req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp),
                   sealed=False, expect=expect[i], indicators=indicators[i])
        call_id += 1
    return call_id


def epm_lookup(pw, truth, conn, d, call_id=1, lookups=((TSCH, 49667), (SVCCTL, 49668)),
               ndr64=True):
    """An endpoint-mapper bind (NDR rejected, NDR64 accepted, as Windows answers) and one
    ept_map per (interface, port): the ports the next connections go to. Returns the next
    call_id."""
    ctx = 1 if ndr64 else 0
    conn.send(0, d.bind(call_id, [(0, EPM, [NDR]), (1, EPM, [NDR64])]))
    conn.send(1, d.bind_ack(call_id, [(2, None), (0, NDR64)] if ndr64 else
                            [(0, NDR), (2, None)], sec_addr=b"135\0"))
    truth.call(conn, request="BIND", response="BINDACK", call_id=call_id,
               interfaces=ctx_items((EPM[0], 2), (EPM[0], 0)) if ndr64 else
               ctx_items((EPM[0], 0), (EPM[0], 2)))
    call_id += 1
    for (iface, port) in lookups:
        q = N.tower(iface[0], iface[1], iface[2], port=135, ip="0.0.0.0")
        stub = N.ept_map_request(q, ndr64=ndr64, le=d.le)
        answer = N.tower(iface[0], iface[1], iface[2], port=port, ip=SERVER if ":" not in SERVER
                         else "0.0.0.0")
        resp = N.ept_map_response([answer], ndr64=ndr64, le=d.le)
        conn.send(0, d.request(call_id, ctx, 3, stub))
        conn.send(1, d.response(call_id, ctx, resp))
        truth.call(conn, request="REQUEST", response="RESPONSE", call_id=call_id, opnum=3,
                   iface=EPM[0], operation="ept_map", cls="read", req_frag_cnt=1,
                   req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp), sealed=False,
                   expect={"args.interface.uuid": iface[0],
                           "result.towers.port": port,
                           "result.towers.interface.uuid": iface[0]})
        call_id += 1
    return call_id


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


def tcp_ndr64():
    """The task scheduler and the AT service bound with NDR64 (the stubs in NDR64)."""
    pw, t = PcapWriter(start=1700002500.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50151), Endpoint(SERVER, 49667))
    tsch_session(pw, t, c, d, ndr64=True)
    c.close()
    c = TcpConn(pw, Endpoint(CLIENT, 50152), Endpoint(SERVER, 49670))
    c.send(0, d.bind(1, [(0, ATSVC, [NDR64])]))
    c.send(1, d.bind_ack(1, [(0, NDR64)]))
    t.call(c, request="BIND", response="BINDACK", call_id=1, interfaces=ctx_items((ATSVC[0], 0)))
    stub = N.netr_job_add("\\\\DC01", "powershell -enc SQBFAFgA", job_time=47100000,
                          days_of_week=0x41, flags=0x11, ndr64=True)
    c.send(0, d.request(2, 0, 0, stub))
    c.send(1, d.response(2, 0, struct.pack("<II", 7, 0)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=2, opnum=0, iface=ATSVC[0],
           operation="NetrJobAdd", cls="create", req_frag_cnt=1, req_stub_size=len(stub),
           res_frag_cnt=1, res_stub_size=8, sealed=False,
           expect={"args.server_name": "\\\\DC01", "args.command": "powershell -enc SQBFAFgA",
                   "args.job_time": "13:05:00", "args.days_of_week": ["monday", "sunday"],
                   "args.flags": ["run_periodically", "noninteractive"], "result.job_id": 7},
           indicators=["encoded_powershell", "script_host_or_lolbin"])
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


def epm_dynamic_port():
    """IPv6: the endpoint mapper (NDR64, towers whose IP floor is 0.0.0.0) announces the task
    scheduler on 49670 and svcctl on 49671; the capture then picks up the connection to
    49670 mid-stream (no handshake, no bind) and one to 49671 whose bind was lost, and a
    connection to 49672, which nobody announced. The first two are named from the mapper's
    answers; the third is not."""
    pw, t = PcapWriter(start=1700007500.0), Truth()
    d = Dce()
    client, server = "fd00::5", "fd00::20"
    c = TcpConn(pw, Endpoint(client, 50701), Endpoint(server, 135))
    # SERVER in epm_lookup is IPv4: write this one's answers by hand, IP floor 0.0.0.0
    c.send(0, d.bind(1, [(0, EPM, [NDR]), (1, EPM, [NDR64])]))
    c.send(1, d.bind_ack(1, [(2, None), (0, NDR64)], sec_addr=b"135\0"))
    t.call(c, request="BIND", response="BINDACK", call_id=1,
           interfaces=ctx_items((EPM[0], 2), (EPM[0], 0)))
    for call_id, (iface, port) in ((2, (TSCH, 49670)), (3, (SVCCTL, 49671))):
        stub = N.ept_map_request(N.tower(iface[0], iface[1], iface[2], port=135), ndr64=True)
        # floors in another order than usual: IP before TCP
        resp = N.ept_map_response([N.tower(iface[0], iface[1], iface[2], port=port,
                                           order=(0, 1, 2, 4, 3))], ndr64=True)
        c.send(0, d.request(call_id, 1, 3, stub))
        c.send(1, d.response(call_id, 1, resp))
        t.call(c, request="REQUEST", response="RESPONSE", call_id=call_id, opnum=3,
               iface=EPM[0], operation="ept_map", cls="read", req_frag_cnt=1,
               req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp), sealed=False,
               expect={"args.interface.uuid": iface[0], "args.syntax": "NDR",
                       "result.towers.port": port, "result.towers.ip": "0.0.0.0",
                       "result.towers.protocol": "ncacn_ip_tcp"})
    c.close()
    # mid-stream on 49670: the tail of an earlier PDU, then a task registered without a bind
    c = TcpConn(pw, Endpoint(client, 50702), Endpoint(server, 49670), handshake=False)
    c.send(0, d.request(6, 0, 12, N.sch_run("\\earlier", []))[20:])
    stub = N.sch_register_task("\\ViaEpm", TASK_XML)
    c.send(0, d.request(7, 0, 1, stub))
    c.send(1, d.response(7, 0, N.sch_register_task_response("\\ViaEpm")))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=7, opnum=1, iface=TSCH[0],
           operation="SchRpcRegisterTask", cls="create", req_frag_cnt=1,
           req_stub_size=len(stub), res_frag_cnt=1, sealed=False,
           flags=["context_unknown", "interface_inferred", "interface_from_endpoint_mapper"],
           expect={"args.path": "\\ViaEpm"})
    # 49671 with a handshake but no bind: svcctl named, its stub decoded
    c = TcpConn(pw, Endpoint(client, 50703), Endpoint(server, 49671))
    stub = N.open_scmanager_w("DC01")
    c.send(0, d.request(2, 0, 15, stub))
    c.send(1, d.response(2, 0, N.handle_response(SCM_HANDLE)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=2, opnum=15, iface=SVCCTL[0],
           operation="ROpenSCManagerW", cls="other", req_frag_cnt=1, req_stub_size=len(stub),
           res_frag_cnt=1, res_stub_size=24, sealed=False,
           flags=["context_unknown", "interface_from_endpoint_mapper"])
    c.close()
    # 49672: nobody announced it; found by its bytes, its interface unknown
    c = TcpConn(pw, Endpoint(client, 50704), Endpoint(server, 49672))
    stub = N.open_scmanager_w("DC01")
    c.send(0, d.request(2, 0, 15, stub))
    c.send(1, d.response(2, 0, N.handle_response(SCM_HANDLE)))
    t.call(c, request="REQUEST", response="RESPONSE", call_id=2, opnum=15, iface=None,
           req_frag_cnt=1, req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=24,
           sealed=False, flags=["context_unknown"])
    c.close()
    t.no_anomalies()  # a mid-stream pickup is counted, not an event
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


# --------------------------------------------------------------- SMB (ncacn_np)
#
# DCE/RPC in named pipes over SMB on TCP 445. Each truth record of a call that
# rode a pipe also says where: transport "ncacn_np", named_pipe (the pipe's
# name as opened, without \\PIPE\\; "" when the open was not seen), share
# (the tree's path as the client sent it; None when no tree connect was
# seen) and user (the SMB session's NTLMSSP user, when its setup was seen).

SMB_SHARE = "\\\\10.1.0.20\\IPC$"
PSEXEC_BINPATH = "%SystemRoot%\\PSEXESVC.exe"


def np_extra(pipe, share=SMB_SHARE, user=None):
    d = {"transport": "ncacn_np", "named_pipe": pipe, "share": share}
    if user:
        d["user"] = user
    return d


def svcctl_steps(d, call_base, create_op=(12, "RCreateServiceW"), service="BTOBTO",
                 binpath="C:\\Windows\\Temp\\upd.exe", start=True, delete=True):
    """A svcctl session as (side, PDU, truth record or None) steps, in the order
    they go on the wire: bind, ROpenSCManagerW, a create (RCreateServiceW or
    RCreateServiceWOW64W, same stub), RStartServiceW, RDeleteService and the
    two RCloseServiceHandle. The record sits on the step that completes it."""
    steps = [(0, d.bind(call_base, [(0, SVCCTL, [NDR])]), None),
             (1, d.bind_ack(call_base, [(0, NDR)], sec_addr=b"\\PIPE\\svcctl\0"),
              dict(request="BIND", response="BINDACK", call_id=call_base,
                   interfaces=ctx_items((SVCCTL[0], 0))))]
    calls = [(15, "ROpenSCManagerW", "other", N.open_scmanager_w("DC01", None, 0xF003F),
              N.handle_response(SCM_HANDLE)),
             (create_op[0], create_op[1], "create",
              N.create_service(SCM_HANDLE, service, binpath, display=service),
              N.create_service_response(SVC_HANDLE))]
    if start:
        calls.append((19, "RStartServiceW", "execute", N.start_service(SVC_HANDLE),
                      N.status_only()))
    if delete:
        calls.append((2, "RDeleteService", "delete", N.handle_only(SVC_HANDLE), N.status_only()))
    calls += [(0, "RCloseServiceHandle", "other", N.handle_only(SVC_HANDLE), N.close_response()),
              (0, "RCloseServiceHandle", "other", N.handle_only(SCM_HANDLE), N.close_response())]
    call_id = call_base + 1
    for opnum, name, cls, stub, resp in calls:
        steps.append((0, d.request(call_id, 0, opnum, stub), None))
        steps.append((1, d.response(call_id, 0, resp),
                      dict(request="REQUEST", response="RESPONSE", call_id=call_id, opnum=opnum,
                           iface=SVCCTL[0], operation=name, cls=cls, req_frag_cnt=1,
                           req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp),
                           sealed=False)))
        call_id += 1
    return steps


def tsch_steps(d, call_base, task="\\Updater"):
    """ITaskSchedulerService: a three-context bind, then SchRpcRegisterTask,
    SchRpcRun and SchRpcDelete, as steps (see svcctl_steps)."""
    steps = [(0, d.bind(call_base, [(0, TSCH, [NDR]), (1, TSCH, [NDR64]), (2, TSCH, [BTFN])]),
              None),
             (1, d.bind_ack(call_base, [(0, NDR), (2, None), (3, None)],
                            sec_addr=b"\\PIPE\\atsvc\0"),
              dict(request="BIND", response="BINDACK", call_id=call_base,
                   interfaces=ctx_items((TSCH[0], 0), (TSCH[0], 2), (TSCH[0], 3))))]
    calls = [(1, "SchRpcRegisterTask", "create",
              N.sch_register_task(task, TASK_XML, flags=0x2, logon_type=3),
              N.sch_register_task_response(task)),
             (12, "SchRpcRun", "execute", N.sch_run(task), N.sch_run_response()),
             (13, "SchRpcDelete", "delete", N.sch_delete(task), N.hresult_only())]
    call_id = call_base + 1
    for opnum, name, cls, stub, resp in calls:
        steps.append((0, d.request(call_id, 0, opnum, stub), None))
        steps.append((1, d.response(call_id, 0, resp),
                      dict(request="REQUEST", response="RESPONSE", call_id=call_id, opnum=opnum,
                           iface=TSCH[0], operation=name, cls=cls, req_frag_cnt=1,
                           req_stub_size=len(stub), res_frag_cnt=1, res_stub_size=len(resp),
                           sealed=False)))
        call_id += 1
    return steps


def run_steps(pipe, truth, steps, extra):
    """Plays steps through a pipe (WRITE out, READ back) and writes their truth."""
    for side, pdu, rec in steps:
        pipe.send(side, pdu)
        if rec:
            truth.call(pipe, **dict(rec, **extra))


def smb2_login(s, session_id, user, domain, host, dialect=0x0210, tree_id=1,
               offered=(0x0202, 0x0210), session_flags=0):
    """NEGOTIATE, SESSION_SETUP (NTLMSSP in SPNEGO, two legs), TREE_CONNECT IPC$."""
    s.negotiate(dialect, offered)
    s.session_setup(session_id, ntlm_authenticate(user, domain, host),
                    session_flags=session_flags)
    if tree_id is not None:
        s.tree_connect(SMB_SHARE, tree_id, share_type=0x02)


def fake_exe(size):
    """Deterministic bytes that look like a PE image (a repeated 4 KiB block, so
    that the capture compresses well)."""
    block = bytes((i * 131 + (i >> 7)) & 0xFF for i in range(4096))
    body = (block * (size // 4096 + 1))[:size - 64]
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + body


def smb2_psexec_like():
    """SMB2 (2.10) the way PsExec works: NTLMSSP session setup (CORP\\svc_deploy
    from JUMPHOST), the service binary written to ADMIN$ (file data, not a pipe;
    a second file whose bytes are a DCE/RPC bind must not be taken for RPC),
    then IPC$, the svcctl pipe: ROpenSCManagerW, RCreateServiceWOW64W,
    RStartServiceW, RDeleteService, RCloseServiceHandle by WRITE and READ; the
    non-RPC PSEXESVC pipe; CLOSE, TREE_DISCONNECT, LOGOFF. The binary goes in
    two WRITEs, the first of 1 MiB (as Windows copies files): a valid message
    larger than the sensor buffers whole. A NetBIOS keep-alive in between.
    Nothing here is malformed: no anomaly."""
    pw, t = PcapWriter(start=1700009000.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50801), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    s.negotiate(0x0210)
    s.session_setup(0x00001000000000A1, ntlm_authenticate("svc_deploy", "CORP", "JUMPHOST"))
    # the binary to ADMIN$: a disk share, its data is no pipe's
    s.tree_connect("\\\\10.1.0.20\\ADMIN$", 1, share_type=0x01)
    exe = S.file_id(1)
    s.create("PSEXESVC.exe", exe, access=0x0013019F, disposition=5, options=0x00000044)
    image = fake_exe((1 << 20) + 8192)
    s.write(exe, image[:1 << 20])
    s.write(exe, image[1 << 20:], offset=1 << 20)
    s.close(exe)
    c.send(0, b"\x85\x00\x00\x00")     # NetBIOS session keep-alive
    blob = S.file_id(2)
    s.create("Temp\\rpc_capture.bin", blob, access=0x0013019F, disposition=5, options=0x44)
    s.write(blob, d.bind(77, [(0, SVCCTL, [NDR])]))
    s.read(blob, d.bind(77, [(0, SVCCTL, [NDR])]))
    s.close(blob)
    s.tree_disconnect()
    s.tree_connect(SMB_SHARE, 5, share_type=0x02)
    fid = S.file_id(3)
    s.create("svcctl", fid)
    pipe = S.Smb2Pipe(s, fid)
    steps = svcctl_steps(d, 1, create_op=(45, "RCreateServiceWOW64W"), service="PSEXESVC",
                         binpath=PSEXEC_BINPATH)
    extra = np_extra("svcctl", user="svc_deploy")
    run_steps(pipe, t, steps[:8], extra)          # bind, open, create, start
    # PsExec's own pipe: its protocol is not DCE/RPC
    psx = S.file_id(4)
    s.create("PSEXESVC", psx)
    s.write(psx, struct.pack("<II", 0xBE, 0x10) + "JUMPHOST".encode("utf-16-le") + bytes(16))
    s.read(psx, struct.pack("<II", 0xBE, 0) + bytes(8))
    s.close(psx)
    run_steps(pipe, t, steps[8:], extra)          # delete, close handles
    s.close(fid)
    s.tree_disconnect()
    s.logoff()
    c.close()
    t.no_anomalies()
    return pw, t


def smb2_split_pdu():
    """DCE/RPC PDUs cut across SMB2 commands: a request begun by WRITE and
    finished by IOCTL FSCTL_PIPE_TRANSCEIVE (the response in its output); a
    request in three DCE fragments, one WRITE each, answered over two READs
    (STATUS_BUFFER_OVERFLOW, then the rest); a READ answered first by an
    async STATUS_PENDING interim response; a transceive whose output
    overflows, the rest fetched by READ."""
    pw, t = PcapWriter(start=1700009100.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50811), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    smb2_login(s, 0x00001000000000B2, "bob", "CORP", "WS02")
    fid = S.file_id(5)
    s.create("svcctl", fid)
    extra = np_extra("svcctl", user="bob")

    def rec(call_id, opnum, name, cls, stub, resp, frags=1):
        t.call(c, **dict(dict(request="REQUEST", response="RESPONSE", call_id=call_id,
                              opnum=opnum, iface=SVCCTL[0], operation=name, cls=cls,
                              req_frag_cnt=frags, req_stub_size=len(stub), res_frag_cnt=1,
                              res_stub_size=len(resp), sealed=False), **extra))

    s.write(fid, d.bind(1, [(0, SVCCTL, [NDR])]))
    s.read(fid, d.bind_ack(1, [(0, NDR)], sec_addr=b"\\PIPE\\svcctl\0"))
    t.call(c, **dict(dict(request="BIND", response="BINDACK", call_id=1,
                          interfaces=ctx_items((SVCCTL[0], 0))), **extra))
    # 2: the request's first 40 bytes by WRITE, the rest by transceive
    stub, resp = N.open_scmanager_w("DC01", None, 0xF003F), N.handle_response(SCM_HANDLE)
    req = d.request(2, 0, 15, stub)
    s.write(fid, req[:40])
    s.transceive(fid, req[40:], d.response(2, 0, resp))
    rec(2, 15, "ROpenSCManagerW", "other", stub, resp)
    # 3: three fragments by three WRITEs; the response over two READs
    stub = N.create_service(SCM_HANDLE, "SplitSvc", "C:\\Windows\\Temp\\split.exe",
                            display="SplitSvc")
    resp = N.create_service_response(SVC_HANDLE)
    frags = d.fragments("req", 3, 0, 12, stub, 80)
    assert len(frags) == 3
    for f in frags:
        s.write(fid, f)
    rpdu = d.response(3, 0, resp)
    s.read(fid, rpdu[:30], length=30, status=S.STATUS_BUFFER_OVERFLOW)
    s.read(fid, rpdu[30:])
    rec(3, 12, "RCreateServiceW", "create", stub, resp, frags=3)
    # 4: STATUS_PENDING first, the data later under the same MessageId
    stub, resp = N.start_service(SVC_HANDLE), N.status_only()
    s.write(fid, d.request(4, 0, 19, stub))
    s.read_pending(fid, d.response(4, 0, resp))
    rec(4, 19, "RStartServiceW", "execute", stub, resp)
    # 5: a transceive whose output does not fit (16 bytes), the rest by READ
    stub, resp = N.handle_only(SVC_HANDLE), N.status_only()
    rpdu = d.response(5, 0, resp)
    s.transceive(fid, d.request(5, 0, 2, stub), rpdu[:16], max_out=16,
                 status=S.STATUS_BUFFER_OVERFLOW)
    s.read(fid, rpdu[16:])
    rec(5, 2, "RDeleteService", "delete", stub, resp)
    # 6, 7: plain transceives
    for call_id, h in ((6, SVC_HANDLE), (7, SCM_HANDLE)):
        stub, resp = N.handle_only(h), N.close_response()
        s.transceive(fid, d.request(call_id, 0, 0, stub), d.response(call_id, 0, resp))
        rec(call_id, 0, "RCloseServiceHandle", "other", stub, resp)
    s.close(fid)
    c.close()
    t.no_anomalies()
    return pw, t


def _smb2_pipe_cmds(fid, side, pdu):
    """The (request, response) commands that carry one step through a pipe."""
    if side == 0:
        return ((S.SMB2_WRITE, S.write_req(fid, pdu), {}),
                (S.SMB2_WRITE, S.write_resp(len(pdu)), {}))
    return ((S.SMB2_READ, S.read_req(fid), {}), (S.SMB2_READ, S.read_resp(pdu), {}))


def smb2_two_pipes():
    """Two pipes on one SMB2 connection, their PDUs interleaved command by
    command: \\atsvc (ITaskSchedulerService: register, run, delete a task) and
    \\svcctl (a service created); one compounded request (a WRITE on one pipe,
    a READ on the other; the responses compounded too); two READs outstanding
    at once, answered in the reverse order; then a related compound
    (CREATE \\svcctl + WRITE of the bind with the all-ones FileId), and another
    (CREATE \\svcctl + WRITE of the bind + READ of the bind_ack, both with the
    all-ones FileId; the three responses in one message)."""
    pw, t = PcapWriter(start=1700009200.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50821), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    smb2_login(s, 0x00001000000000C3, "taskadmin", "CORP", "WS07")
    fa, fb = S.file_id(6), S.file_id(7)
    s.create("atsvc", fa)
    s.create("svcctl", fb)
    ta = [(fa, st, np_extra("atsvc", user="taskadmin")) for st in tsch_steps(d, 1)]
    tb = [(fb, st, np_extra("svcctl", user="taskadmin"))
          for st in svcctl_steps(d, 101, service="TwoPipes")]

    def single(item):
        fid, (side, pdu, r), extra = item
        (rc, rb, rk), (sc, sb, sk) = _smb2_pipe_cmds(fid, side, pdu)
        s.exchange(rc, rb, sb)
        if r:
            t.call(c, **dict(r, **extra))

    order = [tb.pop(0)]
    while ta or tb:
        if ta:
            order.append(ta.pop(0))
        if tb:
            order.append(tb.pop(0))
    compounded = crossed = False
    i = 0
    while i < len(order):
        a = order[i]
        b = order[i + 1] if i + 1 < len(order) else None
        if (not crossed and b is not None and a[0] != b[0] and a[1][0] == 1
                and b[1][0] == 1):
            # two READs outstanding at once, answered in the reverse order
            ma, qa = s.request(S.SMB2_READ, S.read_req(a[0]))
            mb, qb = s.request(S.SMB2_READ, S.read_req(b[0]))
            s.send_client(qa)
            s.send_client(qb)
            s.send_server(s.response(S.SMB2_READ, mb, S.read_resp(b[1][1])))
            s.send_server(s.response(S.SMB2_READ, ma, S.read_resp(a[1][1])))
            for x in (a, b):
                if x[1][2]:
                    t.call(c, **dict(x[1][2], **x[2]))
            crossed = True
            i += 2
            continue
        if (not compounded and b is not None and a[0] != b[0] and a[1][0] == 0
                and b[1][0] == 1):
            # one message: WRITE on a's pipe, READ on b's; answered in one message
            reqs, resps = zip(*[_smb2_pipe_cmds(x[0], x[1][0], x[1][1]) for x in (a, b)])
            s.compound(list(reqs), list(resps))
            for x in (a, b):
                if x[1][2]:
                    t.call(c, **dict(x[1][2], **x[2]))
            compounded = True
            i += 2
            continue
        single(a)
        i += 1
    assert compounded and crossed
    s.close(fa)
    s.close(fb)
    # related compound: CREATE \svcctl, then WRITE (FileId all ones) of the bind
    fc = S.file_id(8)
    extra = np_extra("svcctl", user="taskadmin")
    steps = svcctl_steps(d, 201, service="Related", start=False, delete=False)
    related = {"flags": S.SMB2_FLAGS_RELATED, "session": 0xFFFFFFFFFFFFFFFF, "tree": 0xFFFFFFFF}
    s.compound([(S.SMB2_CREATE, S.create_req("svcctl"), {}),
                (S.SMB2_WRITE, S.write_req(S.FID_RELATED, steps[0][1]), related)],
               [(S.SMB2_CREATE, S.create_resp(fc), {}),
                (S.SMB2_WRITE, S.write_resp(len(steps[0][1])),
                 {"flags": S.SMB2_FLAGS_RELATED})])
    run_steps(S.Smb2Pipe(s, fc), t, steps[1:], extra)
    s.close(fc)
    # related compound: CREATE, WRITE (bind) and READ (bind_ack) on the new file
    fd = S.file_id(9)
    steps = svcctl_steps(d, 301, service="Related3", start=False, delete=False)
    (_, bind, _), (_, ack, rec) = steps[0], steps[1]
    s.compound([(S.SMB2_CREATE, S.create_req("svcctl"), {}),
                (S.SMB2_WRITE, S.write_req(S.FID_RELATED, bind), related),
                (S.SMB2_READ, S.read_req(S.FID_RELATED), related)],
               [(S.SMB2_CREATE, S.create_resp(fd), {}),
                (S.SMB2_WRITE, S.write_resp(len(bind)), {"flags": S.SMB2_FLAGS_RELATED}),
                (S.SMB2_READ, S.read_resp(ack), {"flags": S.SMB2_FLAGS_RELATED})])
    t.call(c, **dict(rec, **extra))
    run_steps(S.Smb2Pipe(s, fd), t, steps[2:], extra)
    s.close(fd)
    c.close()
    t.no_anomalies()
    return pw, t


def smb1_andx():
    """SMB1 (NT LM 0.12, Unicode): SESSION_SETUP_ANDX with extended security
    (NTLMSSP AUTHENTICATE for LAB\\admin) chained by AndX with
    TREE_CONNECT_ANDX to IPC$ in one message; NT_CREATE_ANDX \\svcctl; DCE/RPC by
    WRITE_ANDX and READ_ANDX: ROpenSCManagerW by a WRITE_ANDX chained with a
    READ_ANDX (both replies chained too); RCreateServiceW by TRANSACTION
    (TransactNmPipe) with the response in the transaction's reply;
    RStartServiceW by a TRANSACTION whose reply overflows (STATUS_BUFFER_OVERFLOW,
    MaxDataCount 16), the rest fetched by READ_ANDX."""
    pw, t = PcapWriter(start=1700009300.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50831), Endpoint(SERVER, 445))
    s = S.Smb1Conv(c)
    smb1_login(s, 0x0800, 0x0801, "admin", "LAB", "LABPC", chain_tree=True)
    fid = 0x4000
    s.exchange([S.nt_create1_req("\\svcctl")], [S.nt_create1_resp(fid)])
    pipe = S.Smb1Pipe(s, fid)
    extra = np_extra("svcctl", user="admin")
    steps = svcctl_steps(d, 1, service="AndXSvc")
    run_steps(pipe, t, steps[:2], extra)              # bind
    (_, req, _), (_, resp, r) = steps[2], steps[3]    # ROpenSCManagerW: WRITE+READ chained
    assert r["operation"] == "ROpenSCManagerW"
    s.exchange([S.write1_req(fid, req), S.read1_req(fid)],
               [S.write1_resp(len(req)), S.read1_resp(resp)])
    t.call(pipe, **dict(r, **extra))
    (_, req, _), (_, resp, r) = steps[4], steps[5]    # RCreateServiceW by TransactNmPipe
    assert r["operation"] == "RCreateServiceW"
    s.transact(fid, req, resp)
    t.call(pipe, **dict(r, **extra))
    (_, req, _), (_, resp, r) = steps[6], steps[7]    # RStartServiceW: the reply overflows
    assert r["operation"] == "RStartServiceW"
    s.transact(fid, req, resp[:16], max_data=16, status=S.STATUS_BUFFER_OVERFLOW)
    s.read(fid, resp[16:])
    t.call(pipe, **dict(r, **extra))
    run_steps(pipe, t, steps[8:], extra)
    s.close(fid)
    c.close()
    t.no_anomalies()
    return pw, t


def smb1_login(s, uid, tid, user, domain, host, chain_tree=False):
    """SMB1 NEGOTIATE, SESSION_SETUP_ANDX (extended security, two legs) and a
    TREE_CONNECT_ANDX to IPC$ (chained to the second leg, or on its own)."""
    s.exchange([S.negotiate1_req()], [S.negotiate1_resp(S.spnego_init())])
    s.exchange([S.session_setup1_req(S.spnego_init(ntlm_negotiate()))],
               [S.session_setup1_resp(S.spnego_resp(ntlm_challenge(), state=1, mech=True))],
               status=S.STATUS_MORE_PROCESSING_REQUIRED, resp_hdr={"uid": uid})
    s.uid = uid
    auth = S.session_setup1_req(S.spnego_resp(ntlm_authenticate(user, domain, host)))
    if chain_tree:
        s.exchange([auth, S.tree_connect1_req(SMB_SHARE)],
                   [S.session_setup1_resp(S.spnego_resp(state=0)), S.tree_connect1_resp("IPC")],
                   resp_hdr={"tid": tid})
    else:
        s.exchange([auth], [S.session_setup1_resp(S.spnego_resp(state=0))])
        s.exchange([S.tree_connect1_req(SMB_SHARE)], [S.tree_connect1_resp("IPC")],
                   resp_hdr={"tid": tid})
    s.tid = tid


def smb_midstream_pipe():
    """An SMB2 connection picked up after the pipe was opened: no TCP handshake,
    no NEGOTIATE, SESSION_SETUP, TREE_CONNECT or CREATE; the capture starts in
    the tail of an earlier message. WRITE/READ on an unknown FileId carry a
    svcctl bind and calls (the pipe is adopted: named_pipe ""); a second
    unknown FileId carries a request with no bind (interface unknown)."""
    pw, t = PcapWriter(start=1700009400.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50841), Endpoint(SERVER, 445), handshake=False,
                isn=(77000, 880000))
    s = S.Smb2Conv(c)
    s.mid, s.session, s.tree = 41, 0x00001000000000D4, 3
    c.send(0, bytes((i * 7 + 1) & 0x7F | 0x01 for i in range(300)))  # an earlier message's tail
    fid = S.file_id(9)
    extra = np_extra("", share=None)
    run_steps(S.Smb2Pipe(s, fid), t, svcctl_steps(d, 1, service="MidSvc"), extra)
    other = S.file_id(10)
    stub = N.open_scmanager_w("DC01", None, 0xF003F)
    s.write(other, d.request(50, 0, 15, stub))
    s.read(other, d.response(50, 0, N.handle_response(SCM_HANDLE)))
    t.call(c, **dict(dict(request="REQUEST", response="RESPONSE", call_id=50, opnum=15,
                          iface=None, req_frag_cnt=1, req_stub_size=len(stub), res_frag_cnt=1,
                          res_stub_size=24, sealed=False, flags=["context_unknown"]), **extra))
    t.no_anomalies()
    return pw, t


def smb3_encrypted():
    """SMB 3.0 with an encrypted session: NEGOTIATE and SESSION_SETUP in the
    clear, then every message in a transform header (0xFD 'SMB') with
    ciphertext. What is inside (a svcctl pipe and a service created) cannot be
    seen: no call may be reported; one smb.encrypted_session anomaly."""
    pw, t = PcapWriter(start=1700009500.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50851), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    sid = 0x00001000000000E5
    smb2_login(s, sid, "carol", "CORP", "WS03", dialect=0x0300, tree_id=None,
               offered=(0x0202, 0x0210, 0x0300, 0x0302), session_flags=0x0004)
    s.encrypt(sid)
    s.tree_connect(SMB_SHARE, 1, share_type=0x02)
    fid = S.file_id(11)
    s.create("svcctl", fid)
    for side, pdu, _ in svcctl_steps(d, 1, service="Hidden"):
        S.Smb2Pipe(s, fid).send(side, pdu)
    s.close(fid)
    c.close()
    t.anomaly("smb.encrypted_session")
    return pw, t


def smb_malformed():
    """Broken SMB that must neither crash the sensor nor yield calls, each
    followed on the same connection by a valid service creation on a fresh
    pipe that must be reported. SMB2: a compound whose NextCommand points back
    (0xFFFFFFC0), a WRITE whose NextCommand (16) lands inside its own header,
    a WRITE whose DataOffset+Length run past the message. SMB1: an
    NT_CREATE_ANDX whose AndXOffset goes backwards (into the header)."""
    pw, t = PcapWriter(start=1700009600.0), Truth()
    d = Dce()
    c = TcpConn(pw, Endpoint(CLIENT, 50861), Endpoint(SERVER, 445))
    s = S.Smb2Conv(c)
    smb2_login(s, 0x00001000000000F6, "eve", "CORP", "WS66")
    bad = S.file_id(12)
    s.create("svcctl", bad)
    err = S.STATUS_INVALID_PARAMETER
    # NextCommand pointing back
    m1, w1 = s.request(S.SMB2_WRITE, S.write_req(bad, d.bind(901, [(0, SVCCTL, [NDR])])))
    m2, r2 = s.request(S.SMB2_READ, S.read_req(bad))
    msg = S.smb2_compound([w1, r2])
    s.send_client(S.smb2_set_next(msg, -64))
    s.send_server(s.response(S.SMB2_WRITE, m1, S.error_resp(), status=err))
    # NextCommand inside the command's own header
    m3, w3 = s.request(S.SMB2_WRITE, S.write_req(bad, d.bind(902, [(0, SVCCTL, [NDR])])))
    s.send_client(S.smb2_set_next(w3, 16))
    s.send_server(s.response(S.SMB2_WRITE, m3, S.error_resp(), status=err))
    # data past the end of the message
    pdu = d.bind(903, [(0, SVCCTL, [NDR])])
    m4, w4 = s.request(S.SMB2_WRITE, S.write_req(bad, pdu, length=len(pdu) + 4096))
    s.send_client(w4)
    s.send_server(s.response(S.SMB2_WRITE, m4, S.error_resp(), status=err))
    s.close(bad)
    fresh = S.file_id(13)
    s.create("svcctl", fresh)
    run_steps(S.Smb2Pipe(s, fresh), t, svcctl_steps(d, 1, service="AfterBad"),
              np_extra("svcctl", user="eve"))
    s.close(fresh)
    c.close()
    # SMB1: an AndX chain going backwards
    c = TcpConn(pw, Endpoint(CLIENT, 50862), Endpoint(SERVER, 445))
    s1 = S.Smb1Conv(c)
    smb1_login(s1, 0x0802, 0x0803, "eve", "CORP", "WS66")
    s1.exchange([S.nt_create1_req("\\svcctl"),
                 S.write1_req(0x4001, d.bind(904, [(0, SVCCTL, [NDR])]))],
                [S.empty1(S.SMB1_NT_CREATE_ANDX)], status=err,
                andx_override={0: (S.SMB1_WRITE_ANDX, 20)})
    s1.exchange([S.nt_create1_req("\\svcctl")], [S.nt_create1_resp(0x4002)])
    run_steps(S.Smb1Pipe(s1, 0x4002), t, svcctl_steps(d, 1, service="AfterBad1"),
              np_extra("svcctl", user="eve"))
    s1.close(0x4002)
    c.close()
    t.anomaly("smb.malformed")
    return pw, t


SCENARIOS = {
    "tcp_lateral_movement": tcp_lateral_movement,
    "tcp_fragmented": tcp_fragmented,
    "tcp_bigendian": tcp_bigendian,
    "tcp_ndr64": tcp_ndr64,
    "tcp_reorder": tcp_reorder,
    "tcp_oneside": tcp_oneside,
    "tcp_midstream": tcp_midstream,
    "tcp_auth_sealed": tcp_auth_sealed,
    "epm_dynamic_port": epm_dynamic_port,
    "link_qinq_ipv6": link_qinq_ipv6,
    "link_sll2": link_sll2,
    "link_raw": link_raw,
    "link_null": link_null,
    "tso_zero_length": tso_zero_length,
    "not_rpc": not_rpc,
    "smb2_psexec_like": smb2_psexec_like,
    "smb2_split_pdu": smb2_split_pdu,
    "smb2_two_pipes": smb2_two_pipes,
    "smb1_andx": smb1_andx,
    "smb_midstream_pipe": smb_midstream_pipe,
    "smb3_encrypted": smb3_encrypted,
    "smb_malformed": smb_malformed,
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
        if truth.anomalies is not None:
            doc["anomalies"] = truth.anomalies
        with open(os.path.join(a.truth, name + ".truth.json"), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
