#!/usr/bin/python3
"""Whether two builds of the sensor write the same records: every shared capture
(../shared/pcaps), every project capture (pcaps/, the lab's included) and the
bench inputs given, read twice: with flow records on, and with the default
options, as bench/run.py runs it (the sensor may skip work whose result only a
flow record would carry, so both are compared). Records are compared sorted
(with several workers their order may differ) and byte for byte; stats records
are left out (they count time and memory). A speed change must leave this at
"identical".

    bench/same_records.py OLD_BINARY NEW_BINARY [CAPTURE ...] [-- SENSOR OPTION ...]

e.g. git worktree add /tmp/base HEAD~1 && (cd /tmp/base && cmake -S . -B build &&
cmake --build build --target rpcsentry), then
    bench/same_records.py /tmp/base/build/rpcsentry build/rpcsentry bench/work/dense-*.pcap
Exit status 0 when identical, 1 when not (the first differing record of each
side is printed), 2 on a usage error.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def records(binary, captures, extra, flows):
    cmd = [binary, "-q"] + (["--flow-records"] if flows else []) + [
        "--stats-interval", "1", "-l", "-"] + extra
    for c in captures:
        cmd += ["-r", c]
    out = subprocess.run(cmd, capture_output=True, cwd=ROOT).stdout
    return sorted(l for l in out.split(b"\n") if l and b'"event_type":"stats"' not in l)


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1:]
        args = args[:args.index("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    old, new, inputs = args[0], args[1], args[2:]
    captures = [os.path.join(ROOT, "pcaps")] + [os.path.abspath(i) for i in inputs]
    shared = os.path.join(ROOT, "..", "shared", "pcaps")
    if os.path.isdir(shared):
        captures.insert(0, shared)
    else:
        print("same_records: ../shared/pcaps is absent; project captures only")
    differ = False
    for flows in (True, False):
        mode = "flow records on" if flows else "default options"
        a, b = records(old, captures, extra, flows), records(new, captures, extra, flows)
        if a == b:
            print("same_records: %s: identical, %d records" % (mode, len(a)))
            continue
        differ = True
        sa, sb = set(a), set(b)
        only_a, only_b = sorted(sa - sb), sorted(sb - sa)
        print("same_records: %s: DIFFERENT: %d records against %d; %d only in the old, "
              "%d only in the new" % (mode, len(a), len(b), len(only_a), len(only_b)))
        if only_a:
            print("old:", only_a[0].decode(errors="replace")[:2000])
        if only_b:
            print("new:", only_b[0].decode(errors="replace")[:2000])
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
