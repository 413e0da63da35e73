#!/usr/bin/env python3
"""Zeek's DCE/RPC names as a C table, for --format zeek and zeek-tsv.

    scripts/zeek_names.py CONSTS_ZEEK MAIN_ZEEK --source "Zeek 9.1.0-dev, commit ..."

reads Zeek's scripts/base/protocols/dce-rpc/consts.zeek (uuid_endpoint_map,
operations) and main.zeek (ignored_operations) and writes
src/output/zeek_names.c (the table the sensor is built with) and
tests/expected/zeek_names.json (the same facts, for the end-to-end tests).
From a Zeek checkout or a bare clone:

    git --git-dir=ZEEK/.git show HEAD:scripts/base/protocols/dce-rpc/consts.zeek > /tmp/consts.zeek
    git --git-dir=ZEEK/.git show HEAD:scripts/base/protocols/dce-rpc/main.zeek > /tmp/main.zeek

Both files are committed, so that the build needs neither Zeek nor the network.
What is taken is facts only: UUIDs, endpoint names, opnum names, the
ignored set. The script stops on a line of those tables it does not
understand, and on unknown-name forms other than the ones zeek.c writes, so
that a change in Zeek shows up here rather than as wrong names.
"""

import argparse
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C_OUT = os.path.join(ROOT, "src", "output", "zeek_names.c")
JSON_OUT = os.path.join(ROOT, "tests", "expected", "zeek_names.json")

UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ENDPOINT_ROW = re.compile(r'^\s*\["(%s)"\]\s*=\s*"([^"\\]*)"\s*,?\s*(#.*)?$' % UUID)
OP_ROW = re.compile(r'^\s*\["(%s)"\s*,\s*(0[xX][0-9a-fA-F]+|[0-9]+)\]\s*=\s*"([^"\\]*)"\s*,?\s*(#.*)?$'
                    % UUID)
IGNORED_ROW = re.compile(r'^\s*\["([^"\\]+)"\]\s*=\s*set\(([^)]*)\)\s*,?\s*(#.*)?$')

# the unknown forms zeek.c writes (unknown-UUID, unknown-OPNUM in decimal)
ENDPOINT_DEFAULT = 'return fmt("unknown-%s", uuid);'
OP_DEFAULT = 'return fmt("unknown-%d", i);'


def block(text, start, what):
    """The lines of a table constructor beginning with start, and its closing line."""
    i = text.find(start)
    if i < 0:
        sys.exit("%s: %r not found" % (what, start))
    lines = text[i:].split("\n")
    for n, line in enumerate(lines[1:], 1):
        if line.strip().startswith("}"):
            return lines[1:n], line
    sys.exit("%s: %r is not closed" % (what, start))


def rows(lines, pattern, what):
    for line in lines:
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = pattern.match(line)
        if not m:
            sys.exit("%s: cannot read %r" % (what, s))
        yield m


def read(consts_path, main_path):
    with open(consts_path) as f:
        consts = f.read()
    with open(main_path) as f:
        main = f.read()

    lines, close = block(consts, "const uuid_endpoint_map: table[string] of string = {",
                         consts_path)
    if ENDPOINT_DEFAULT not in close:
        sys.exit("%s: uuid_endpoint_map's &default is not %s: %s" % (consts_path,
                                                                   ENDPOINT_DEFAULT, close))
    endpoints, skipped = {}, []
    for m in rows(lines, ENDPOINT_ROW, consts_path):
        uuid, name = m.group(1), m.group(2)
        if uuid != uuid.lower():
            # Zeek looks up uuid_to_string(), which is lower case: this row never matches
            skipped.append(uuid)
            continue
        if uuid in endpoints:
            sys.exit("%s: %s twice" % (consts_path, uuid))
        endpoints[uuid] = name

    lines, close = block(consts, "const operations: table[string,count] of string = {",
                         consts_path)
    if OP_DEFAULT not in close:
        sys.exit("%s: operations' &default is not %s: %s" % (consts_path, OP_DEFAULT, close))
    operations = {}
    for m in rows(lines, OP_ROW, consts_path):
        uuid, opnum, name = m.group(1), int(m.group(2), 0), m.group(3)
        if uuid != uuid.lower():
            skipped.append("%s,%d" % (uuid, opnum))
            continue
        if opnum > 0xffff:
            sys.exit("%s: opnum %d of %s does not fit a DCE/RPC header" % (consts_path, opnum,
                                                                          uuid))
        if (uuid, opnum) in operations:
            sys.exit("%s: %s opnum %d twice" % (consts_path, uuid, opnum))
        operations[(uuid, opnum)] = name

    lines, _ = block(main, "option ignored_operations: table[string] of set[string] = {",
                     main_path)
    ignored = {}
    for m in rows(lines, IGNORED_ROW, main_path):
        names = [s.strip() for s in m.group(2).split(",") if s.strip()]
        for s in names:
            if not (s.startswith('"') and s.endswith('"') and len(s) >= 2):
                sys.exit("%s: cannot read %r" % (main_path, s))
        ignored[m.group(1)] = sorted(s[1:-1] for s in names)
    return endpoints, operations, ignored, skipped


def c_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def c_uuid(u):
    h = u.replace("-", "")
    return "{{" + ", ".join("0x" + h[i:i + 2] for i in range(0, 32, 2)) + "}}"


def write_c(path, source, digest, endpoints, operations, ignored, skipped):
    uuids = sorted(set(endpoints) | {u for u, _ in operations})
    out = []
    out.append("/*")
    out.append(" * Zeek's names of DCE/RPC interfaces and operations, and the operations")
    out.append(" * Zeek leaves out of dce_rpc.log: generated by scripts/zeek_names.py from")
    out.append(" * scripts/base/protocols/dce-rpc/consts.zeek (uuid_endpoint_map, operations)")
    out.append(" * and main.zeek (ignored_operations) of")
    out.append(" * %s." % source)
    out.append(" * consts.zeek's SHA-256: %s." % digest)
    out.append(" * Do not edit: run the script again (see its help).")
    if skipped:
        out.append(" *")
        out.append(" * Left out, as Zeek never matches them (its keys are lower case):")
        for s in skipped:
            out.append(" * %s" % s)
    out.append(" */")
    out.append('#include "zeek_names.h"')
    out.append("")
    out.append("/* clang-format off */")
    for i, u in enumerate(uuids):
        ops = sorted((n, name) for (uu, n), name in operations.items() if uu == u)
        if not ops:
            continue
        ep = endpoints.get(u)
        ign = set(ignored.get(ep, [])) if ep is not None else set()
        out.append("static const struct zeek_op ops_%d[] = {" % i)
        for n, name in ops:
            flag = "true" if ("*" in ign or name in ign) else "false"
            out.append("    {%d, %s, %s}," % (n, flag, c_string(name)))
        out.append("};")
    out.append("")
    out.append("const struct zeek_iface zeek_ifaces[] = {")
    for i, u in enumerate(uuids):
        ops = [k for k in operations if k[0] == u]
        ep = endpoints.get(u)
        all_ign = "true" if ep is not None and "*" in ignored.get(ep, []) else "false"
        out.append("    {%s, %s, %s, %s, %d}, /* %s */" % (
            c_uuid(u), c_string(ep) if ep is not None else "NULL", all_ign,
            "ops_%d" % i if ops else "NULL", len(ops), u))
    out.append("};")
    out.append("/* clang-format on */")
    out.append("")
    out.append("const size_t zeek_n_ifaces = sizeof zeek_ifaces / sizeof zeek_ifaces[0];")
    out.append("const char zeek_names_source[] = %s;" % c_string(source))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_json(path, source, digest, endpoints, operations, ignored):
    facts = {
        "source": source,
        "consts_sha256": digest,
        "endpoints": dict(sorted(endpoints.items())),
        "operations": {"%s,%d" % k: v for k, v in sorted(operations.items())},
        "ignored_operations": dict(sorted(ignored.items())),
    }
    with open(path, "w") as f:
        json.dump(facts, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("consts", help="Zeek's scripts/base/protocols/dce-rpc/consts.zeek")
    ap.add_argument("main", help="Zeek's scripts/base/protocols/dce-rpc/main.zeek")
    ap.add_argument("--source", required=True,
                    help='which Zeek: "Zeek 9.1.0-dev, commit a13de64f..." (into the header)')
    ap.add_argument("--c-out", default=C_OUT)
    ap.add_argument("--json-out", default=JSON_OUT)
    a = ap.parse_args()
    with open(a.consts, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    endpoints, operations, ignored, skipped = read(a.consts, a.main)
    write_c(a.c_out, a.source, digest, endpoints, operations, ignored, skipped)
    write_json(a.json_out, a.source, digest, endpoints, operations, ignored)
    print("%d endpoints, %d operations, %d ignored sets; %d rows left out" % (
        len(endpoints), len(operations), len(ignored), len(skipped)))


if __name__ == "__main__":
    main()
