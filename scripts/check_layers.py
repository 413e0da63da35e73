#!/usr/bin/env python3
"""DESIGN.md's stage rule, checked: a stage includes its own headers, the next
stage's, the record types and the shared utilities; nothing upstream, nothing
further down. Two side stages stand beside the pipeline: the key store
(src/keys, keys.h) and the security mechanisms (src/auth: NTLMSSP and Kerberos
messages, their keys and unsealing, whose tokens ride in SMB SESSION_SETUP and
DCE/RPC auth trailers alike). transport and dcerpc, the engines that unseal,
may include both; auth may include the key store. runtime/ and main.c wire the pipeline and may include anything.

    scripts/check_layers.py            exit 1 on a tie that is not in the list below
    scripts/check_layers.py --list     print every tie against the rule

The ties that exist today are listed in scripts/layers.allow (one `file header`
a line); they are the record floor's work (issue 16): the check fails on a new
one and on a listed one that is gone, so the list only shrinks."""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["capture", "decode", "flow", "stream", "transport", "dcerpc", "iface", "detect",
         "output"]
# which stage each header of include/rpcsentry/ belongs to
HEADER_STAGE = {
    "capture": "capture", "decode": "decode", "flow": "flow", "appid": "flow",
    "stream": "stream", "transport": "transport", "smb": "transport", "smb3": "transport",
    "dcerpc": "dcerpc",
    "ntlmssp": "auth", "kerberos": "auth", "iface": "iface", "epm": "iface", "ndr": "iface",
    "detect": "detect", "output": "output", "sink": "output", "json": "output",
    "report": "output", "pcap_log": "output", "runtime": "runtime", "hunt": "runtime",
    # beneath every stage: the record types, and the worker every stage is handed
    "rpc_call": "record", "types": "record", "stats": "record", "worker": "record",
    "alert": "record", "names": "record", "argkeys": "record", "packet": "record",
    "flow_record": "record", "smb_file": "record", "args": "record", "catalog": "record",
    # shared utilities
    "buf": "util", "cursor": "util", "hash": "util", "lockwait": "util", "uuid": "util", "text": "util",
    "mem": "util", "log": "util", "config": "util", "conffile": "util", "notify": "util",
    "build_config": "util",
    # the operator's key material (src/keys): loaded once, read by the engines that unseal
    "keys": "keys",
}
# stages beside the pipeline, and which stages may use them
SIDE = {"keys": ("transport", "dcerpc", "auth"), "auth": ("transport", "dcerpc")}
FREE = {"record", "util"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"rpcsentry/([a-z_0-9]+)\.h"', re.M)


def sources():
    """(path relative to ROOT, stage) of every C file and project header."""
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        rel = os.path.relpath(d, os.path.join(ROOT, "src"))
        stage = "main" if rel == "." else rel.split(os.sep)[0]
        if stage == "capture" and "bpf" in rel.split(os.sep):
            continue  # the XDP program: kernel-side C, no project header
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.relpath(os.path.join(d, f), ROOT), stage
    inc = os.path.join(ROOT, "include", "rpcsentry")
    for f in sorted(os.listdir(inc)):
        if f.endswith(".h"):
            name = f[:-2]
            yield os.path.join("include", "rpcsentry", f), HEADER_STAGE.get(name, "?" + name)


def allowed(stage, header_stage):
    if stage in ("main", "runtime") or header_stage in FREE or header_stage == stage:
        return True
    if stage in FREE:  # the floor and the utilities include only the floor and utilities
        return False
    if header_stage in SIDE:
        return stage in SIDE[header_stage]
    if stage in ORDER and header_stage in ORDER:
        return ORDER.index(header_stage) == ORDER.index(stage) + 1
    return False


def ties():
    out, unknown = [], []
    for path, stage in sources():
        if stage.startswith("?"):
            unknown.append("%s: a header of no known stage (add it to HEADER_STAGE)" % path)
            continue
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            text = f.read()
        for name in sorted(set(INCLUDE.findall(text))):
            hs = HEADER_STAGE.get(name)
            if hs is None:
                unknown.append("%s includes rpcsentry/%s.h, of no known stage" % (path, name))
            elif not allowed(stage, hs):
                out.append("%s %s" % (path, name))
    return out, unknown


def main():
    found, unknown = ties()
    if "--list" in sys.argv:
        print("\n".join(found))
        return 0
    with open(os.path.join(ROOT, "scripts", "layers.allow")) as f:
        allow = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    new = [t for t in found if t not in allow]
    gone = sorted(allow - set(found))
    for u in unknown:
        print("check_layers: " + u)
    for t in new:
        path, name = t.split()
        print("check_layers: %s includes rpcsentry/%s.h: against the pipeline (DESIGN.md); "
              "go through the next stage's interface or the record types" % (path, name))
    for t in gone:
        print("check_layers: %s is no longer a tie: take it out of scripts/layers.allow" % t)
    if new or gone or unknown:
        return 1
    print("check_layers: %d files follow the stage rule (%d known ties left)"
          % (len(list(sources())), len(allow)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
