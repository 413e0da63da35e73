#!/usr/bin/python3
"""Speed and memory of rpcsentry, as ratios to a bare libpcap read loop
(bench/pcap_floor) on the same file. Never a pass/fail test: it prints
medians over several runs, each command run in turn with the floor so that a
machine whose speed drifts moves both.

    bench/run.py [--runs N] [--copies K] [--build DIR] [--input FILE]

The input, unless given, is every capture of ../shared/pcaps and pcaps/,
concatenated K times with their clocks shifted an hour per copy (editcap,
mergecap), written to bench/work/. Variants: the default configuration,
without nDPI, without rules, and with flow records.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_input(copies, out):
    caps = sorted(f for f in glob.glob(os.path.join(ROOT, "..", "shared", "pcaps", "*")) +
                  glob.glob(os.path.join(ROOT, "pcaps", "*")) if f.endswith((".pcap", ".pcapng")))
    # one link type for one file: the Ethernet ones (nearly all)
    info = subprocess.run(["capinfos", "-T", "-E", "-r"] + caps, capture_output=True, text=True)
    caps = [line.split("\t")[0] for line in info.stdout.splitlines()
            if line.endswith("\tether")]
    if not caps:
        sys.exit("bench: no captures found (../shared/pcaps, pcaps/)")
    print("bench: %d Ethernet captures, %d copies" % (len(caps), copies))
    work = os.path.dirname(out)
    os.makedirs(work, exist_ok=True)
    one = os.path.join(work, "one.pcap")
    subprocess.run(["mergecap", "-F", "pcap", "-a", "-w", one] + caps, check=True)
    parts = []
    for i in range(copies):
        part = os.path.join(work, "copy%d.pcap" % i)
        subprocess.run(["editcap", "-F", "pcap", "-t", str(i * 3600), one, part], check=True)
        parts.append(part)
    subprocess.run(["mergecap", "-F", "pcap", "-a", "-w", out] + parts, check=True)
    for p in parts + [one]:
        os.unlink(p)


def once(cmd):
    """Wall seconds, CPU seconds and peak RSS (KiB) of one run."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("bench: %s failed (%d)" % (" ".join(cmd), status))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--input")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    src = a.input or os.path.join(HERE, "work", "input-%d.pcap" % a.copies)
    if not os.path.exists(src):
        build_input(a.copies, src)
    floor = [os.path.join(a.build, "pcap_floor"), src]
    sensor = [os.path.join(a.build, "rpcsentry"), "-q", "-r", src, "-l", os.path.join(HERE,
                                                                                     "work")]
    variants = {
        "default": sensor,
        "no nDPI": sensor + ["--no-ndpi"],
        "no rules": sensor + ["--no-default-rules"],
        "no nDPI, no rules": sensor + ["--no-ndpi", "--no-default-rules"],
        "flow records": sensor + ["--flow-records"],
    }
    size = os.path.getsize(src)
    out = {"input": src, "bytes": size, "runs": a.runs, "variants": {}}
    once(floor)  # warm the page cache
    print("input: %s, %.1f MB; %d runs each, medians; ratio = sensor / libpcap loop, run "
          "pair by pair" % (src, size / 1e6, a.runs))
    print("%-20s %9s %9s %9s %9s %10s %9s" % ("variant", "wall s", "cpu s", "ratio", "MB/s",
                                             "peak MiB", "floor s"))
    for name, cmd in variants.items():
        walls, cpus, peaks, ratios, floors = [], [], [], [], []
        for _ in range(a.runs):
            fw, fc, _ = once(floor)
            w, c, m = once(cmd)
            walls.append(w), cpus.append(c), peaks.append(m), floors.append(fw)
            ratios.append(c / fc if fc > 0 else float("nan"))
        med = statistics.median
        row = {"wall_s": med(walls), "cpu_s": med(cpus), "cpu_ratio_to_floor": med(ratios),
               "mb_per_s": size / 1e6 / med(walls), "peak_rss_mib": med(peaks) / 1024,
               "floor_wall_s": med(floors)}
        out["variants"][name] = row
        print("%-20s %9.3f %9.3f %9.1f %9.1f %10.1f %9.3f" % (
            name, row["wall_s"], row["cpu_s"], row["cpu_ratio_to_floor"], row["mb_per_s"],
            row["peak_rss_mib"], row["floor_wall_s"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
