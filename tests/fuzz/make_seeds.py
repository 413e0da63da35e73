#!/usr/bin/python3
"""Seed corpora for the fuzz targets, in each target's input format.

    tests/fuzz/make_seeds.py OUTDIR [CAPTURE ...]

packets: whole captures as [link][u16 len][frame] sequences. pcapfile: the first
64 KiB of each capture file as it is. dcerpc, smb: the
TCP payloads of each connection, in capture order, as [dir][u16 len][bytes]
chunks. stubs: the generator's NDR stubs. taskxml, ntlmssp: the generator's
task XML and NTLMSSP messages. report: EVE lines. kerberos: the auth values of the lab's Kerberos
captures (AP-REQ, AP-REP in their tokens), and their sealed fragments as
[token length][token][PDU up to its auth value]. Captures default to pcaps/
and, when present, ../shared/pcaps.
"""

import glob
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))

LINKS = [1, 113, 276, 101, 0, 108, 228, 229]  # as fuzz_packets.c indexes them


def frames(path):
    """(linktype, frame) pairs of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xd4, 0x4d) else ">"
        link = struct.unpack(e + "I", data[20:24])[0]
        off = 24
        while off + 16 <= len(data):
            caplen = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            yield link, data[off + 16:off + 16 + caplen]
            off += 16 + caplen
    elif magic == b"\x0a\x0d\x0d\x0a":
        off, e, links = 0, "<", []
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            if blen < 12:
                break
            body = data[off + 8:off + blen - 4]
            if btype == 1:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, caplen = struct.unpack(e + "I", body[:4])[0], struct.unpack(e + "I", body[12:16])[0]
                yield (links[iface] if iface < len(links) else 1), body[20:20 + caplen]
            off += blen


def tcp_payload(link, frame):
    """(src port, dst port, payload) of an Ethernet/IPv4 TCP frame, else None."""
    if link != 1 or len(frame) < 14:
        return None
    et, off = struct.unpack("!H", frame[12:14])[0], 14
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
        et, off = struct.unpack("!H", frame[off + 2:off + 4])[0], off + 4
    if et != 0x0800 or len(frame) < off + 20 or frame[off + 9] != 6:
        return None
    ihl = (frame[off] & 15) * 4
    t = off + ihl
    if len(frame) < t + 20:
        return None
    sp, dp = struct.unpack("!HH", frame[t:t + 4])
    doff = (frame[t + 12] >> 4) * 4
    return sp, dp, frame[t + doff:]


def chunked(chunks):
    return b"".join(struct.pack("<BH", d, len(p)) + p for d, p in chunks)


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data[:65536])


def kerberos_seeds(outdir, name, chunks):
    """The DCE/RPC auth values of one connection's PDUs, each direction's bytes joined."""
    for d in (0, 1):
        b = b"".join(pl for dd, pl in chunks if dd == d)
        off, i = 0, 0
        while off + 16 <= len(b) and b[off] == 5:
            ptype = b[off + 2]
            frag, alen = struct.unpack_from("<HH", b, off + 8)
            if frag < 16 or off + frag > len(b):
                break
            pdu = b[off:off + frag]
            if alen and alen + 8 + 16 <= frag:
                tok = pdu[frag - alen:]
                if ptype in (11, 12, 14, 15, 16):
                    write(outdir, "kerberos", "%s-%d-%d" % (name, d, i), tok)
                elif ptype in (0, 2) and alen < 256:
                    write(outdir, "kerberos", "%s-%d-%d" % (name, d, i),
                          bytes([alen]) + tok + pdu[:frag - alen])
                i += 1
            off += frag


# D:(D;;DCLCWPDTSD;;;IU)(D;;DCLCWPDTSD;;;SU)(D;;DCLCWPDTSD;;;BA)(A;;CCLCSWLOCRRC;;;IU)
# (A;;CCLCSWLOCRRC;;;SU)(A;;CCLCSWRPWPDTLOCRRC;;;SY)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;BA)
# S:(AU;FA;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;WD), as tests/lab/sd_build.py builds it
HIDING_SD = bytes.fromhex(
    "010014800000000000000000140000003000000002001c000100000002801400ff010f0001010000000000010000"
    "000002009c0007000000010014006600010001010000000000050400000001001400660001000101000000000005"
    "06000000010018006600010001020000000000052000000020020000000014008d01020001010000000000050400"
    "0000000014008d01020001010000000000050600000000001400fd01020001010000000000051200000000001800ff"
    "010f0001020000000000052000000020020000")


def main():
    outdir = sys.argv[1]
    caps = sys.argv[2:] or sorted(glob.glob(os.path.join(ROOT, "pcaps", "*.pcap")) +
                                  glob.glob(os.path.join(ROOT, "pcaps", "lab", "*.pcap")) +
                                  glob.glob(os.path.join(ROOT, "..", "shared", "pcaps", "*.pcap*")))
    for path in caps:
        name = os.path.basename(path)
        fr = list(frames(path))
        if not fr:
            continue
        write(outdir, "packets", name, b"".join(
            struct.pack("<BH", LINKS.index(l) if l in LINKS else 0, len(f)) + f for l, f in fr))
        with open(path, "rb") as f:
            write(outdir, "pcapfile", name, f.read(65536))  # the file itself, its start
        conns = {}
        for l, f in fr:
            t = tcp_payload(l, f)
            if not t or not t[2]:
                continue
            sp, dp, pl = t
            key = tuple(sorted((sp, dp)))
            conns.setdefault(key, []).append((0 if sp > dp else 1, pl))
        for (lo, hi), chunks in conns.items():
            target = "smb" if lo in (139, 445) else "dcerpc"
            write(outdir, target, "%s-%d-%d" % (name, lo, hi), chunked(chunks))
            if "krb" in name or "kerberos" in name:
                kerberos_seeds(outdir, "%s-%d-%d" % (name, lo, hi), chunks)
            if target == "smb":  # the same with keys (encrypted lab captures decrypt)
                write(outdir, "smb3", "%s-%d-%d" % (name, lo, hi), chunked(chunks))

    import ndrgen as N
    import make_pcaps as M
    from pcapgen import ntlm_authenticate, ntlm_challenge, ntlm_negotiate
    stubs = {
        "tsch_register": (0, 1, N.sch_register_task("\\t", M.TASK_XML)),
        "tsch_register64": (0, 1 | 256, N.sch_register_task("\\t", M.TASK_XML, ndr64=True)),
        "tsch_run": (0, 12, N.sch_run("\\t", ["a", "b"], user="u")),
        "svc_create": (3, 12, N.create_service(M.SCM_HANDLE, "s", "c:\\x.exe", display="d")),
        "svc_create_be": (3, 12 | 512, N.create_service(M.SCM_HANDLE, "s", "c:\\x.exe", le=False)),
        "svc_start": (3, 19, N.start_service(M.SVC_HANDLE, ["x"])),
        "svc_open": (3, 15, N.open_scmanager_w("h")),
        "at_add": (1, 0, N.netr_job_add("\\\\h", "cmd /c x")),
        "at_add64": (1, 0 | 256, N.netr_job_add("\\\\h", "cmd /c x", ndr64=True)),
        # endpoint mapper (index 4): a query, and answers with TCP and named-pipe towers
        "epm_map": (4, 3, N.ept_map_request(N.tower(*M.SVCCTL, port=135))),
        "epm_map64": (4, 3 | 256, N.ept_map_request(N.tower(*M.TSCH, port=135), ndr64=True)),
        "epm_map_answer": (4, 3 | 1024, N.ept_map_response(
            [N.tower(*M.SVCCTL, port=49668, ip="10.0.0.2"),
             N.tower(*M.ATSVC, pipe="\\PIPE\\atsvc", host="\\\\H")])),
        "epm_map_answer64": (4, 3 | 256 | 1024, N.ept_map_response(
            [N.tower(*M.TSCH, port=49667, order=(0, 1, 2, 4, 3))], ndr64=True)),
        # winreg (index 5): the root open's and a key's answers give the handles the
        # later calls name (the target keeps an association's state between inputs)
        "reg_open": (5, 2, N.reg_open_root()),
        "reg_open_answer": (5, 2 | 1024, N.handle_response(N.handle(0x31))),
        "reg_open_key": (5, 15, N.reg_open_key(N.handle(0x31), "SYSTEM\\CurrentControlSet\\Services")),
        "reg_open_key_answer": (5, 15 | 1024, N.handle_response(N.handle(0x32))),
        "reg_create_key": (5, 6, N.reg_create_key(N.handle(0x32), "LabSvc")),
        "reg_create_key64": (5, 6 | 256, N.reg_create_key(N.handle(0x32), "LabSvc", ndr64=True)),
        "reg_create_key_answer": (5, 6 | 1024, N.reg_create_key_response(N.handle(0x33))),
        "reg_set_imagepath": (5, 22, N.reg_set_value(
            N.handle(0x33), "ImagePath", 2, "C:\\x.exe\0".encode("utf-16-le"))),
        "reg_set_imagepath_be": (5, 22 | 512, N.reg_set_value(
            N.handle(0x33), "ImagePath", 2, "C:\\x.exe\0".encode("utf-16-le"), le=False)),
        "reg_set_multi64": (5, 22 | 256, N.reg_set_value(
            N.handle(0x33), "DependOnService", 7, "a\0b\0\0".encode("utf-16-le"), ndr64=True)),
        "reg_set_dword": (5, 22, N.reg_set_value(N.handle(0x33), "Index", 4, b"\0\0\0\0")),
        "reg_delete_sd": (5, 8, N.reg_value_name(N.handle(0x33), "SD")),
        "reg_query": (5, 17, N.reg_value_name(N.handle(0x33), "ImagePath")),
        "reg_query_answer": (5, 17 | 1024, N.reg_query_value_response(
            1, "C:\\x.exe\0".encode("utf-16-le"))),
        "reg_save": (5, 20, N.reg_save_key(N.handle(0x31), "C:\\s.save")),
        "reg_save_ex64": (5, 31 | 256, N.reg_save_key(N.handle(0x31), "C:\\s.save", flags=2,
                                                        ndr64=True)),
        # security descriptors (tests/lab/sd_build.py, impacket's ldaptypes): sc sdset's
        # hiding DACL through svcctl, the scheduler and winreg
        "svc_set_security": (3, 5, N.set_service_object_security(M.SVC_HANDLE, HIDING_SD)),
        "svc_set_security64": (3, 5 | 256, N.set_service_object_security(
            M.SVC_HANDLE, HIDING_SD, ndr64=True)),
        "svc_query_security_answer": (3, 4 | 1024,
                                      N.query_service_object_security_response(HIDING_SD)),
        "tsch_set_security": (0, 4, N.sch_set_security("\\t", "D:(D;;GA;;;WD)(A;;FA;;;BA)")),
        "reg_set_key_security": (5, 21, N.reg_set_key_security(N.handle(0x33), HIDING_SD)),
    }
    for name, (iface, op, stub) in stubs.items():
        flags = (1 if op & 256 else 0) | (2 if op & 512 else 0) | (4 if op & 1024 else 0)
        write(outdir, "stubs", name, bytes([iface, op & 255, flags]) + stub)
    write(outdir, "taskxml", "task.xml", M.TASK_XML.encode())
    # rules: every line of ours and of the suricata-verify tests that ship rules
    rule_files = sorted(glob.glob(os.path.join(ROOT, "signatures", "**", "*.rules"),
                                  recursive=True) +
                        glob.glob(os.path.join(ROOT, "..", "shared", "pcaps", "*.rules")))
    for path in rule_files:
        with open(path, errors="replace") as f:
            text = f.read().replace("\\\n", "")
        for i, line in enumerate(l for l in text.splitlines()
                                 if l.strip() and not l.lstrip().startswith("#")):
            write(outdir, "rules", "%s-%d" % (os.path.basename(path), i), line.encode())
    # report: EVE lines as the sensor writes them (a call, its alert, a story), alone and together
    import json
    call = {"timestamp": "2023-11-15T00:43:20.402471+0000", "flow_id": 1, "pcap_filename": "a.pcap",
            "pcap_cnt": 7, "event_type": "dcerpc", "src_ip": "10.0.0.1", "dest_ip": "10.0.0.2",
            "community_id": "1:x=", "tx_id": 0,
            "smb": {"ntlmssp": {"user": "administrator", "domain": "CORP"}},
            "rpcsentry": {"interface": "ITaskSchedulerService", "operation": "SchRpcRegisterTask",
                          "class": "create", "target": True, "sealed": False,
                          "request_time": "2023-11-15T00:43:20.4+0000",
                          "result": {"success": False},
                          "args": {"path": "\\t<b>", "task": {"actions": [
                              {"command": "cmd.exe", "arguments": "/C whoami"}]}}}}
    alert = {"timestamp": call["timestamp"], "flow_id": 1, "pcap_filename": "a.pcap",
             "event_type": "alert", "tx_id": 0,
             "alert": {"signature": "s", "severity": 1, "metadata": {"tool": ["PsExec"]}}}
    story = {"timestamp": call["timestamp"], "event_type": "lateral_movement",
             "src_ip": "10.0.0.1", "dest_ip": "10.0.0.2",
             "rpcsentry": {"story": {"summary": "task run", "user": "CORP\\administrator"}}}
    lines = [json.dumps(r) for r in (call, alert, story)]
    for i, line in enumerate(lines):
        write(outdir, "report", "record%d" % i, (line + "\n").encode())
    write(outdir, "report", "records", ("\n".join(lines * 3) + "\n").encode())
    for i, m in enumerate([ntlm_negotiate(), ntlm_challenge(), ntlm_authenticate("u", "d", "h"),
                           b"\x60\x48\x06\x06+\x06\x01\x05\x05\x02" + ntlm_authenticate("a", "b", "c")]):
        write(outdir, "ntlmssp", "msg%d" % i, m)


if __name__ == "__main__":
    main()
