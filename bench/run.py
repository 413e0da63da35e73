#!/usr/bin/python3
"""Speed and memory of rpcsentry, as ratios to a bare libpcap read loop
(bench/pcap_floor) on the same file. Never a pass/fail test: it prints
medians over several runs, the sensor and the floor run in turn so that a
machine whose speed drifts moves both.

    bench/run.py [--runs N] [--mixed SIZE] [--rpc SIZE] [--sealed SIZE] [--workers N]
                 [--dense SIZE] [--inputs rpc,dense,...] [--build DIR] [--json FILE]
    bench/run.py --smoke          small inputs, two runs: that it all works (CI)

Inputs (bench/work/, made once by bench/gen_traffic from the project's
generated RPC sessions, deterministic): `mixed`, where over 90% of the
bytes are traffic the sensor does not decode (bulk HTTP-like and TLS-like
transfers, DNS, short connections) with RPC sessions sprinkled in; and
`rpc`, RPC sessions only (endpoint mapper, dynamic ports, SMB pipes,
fragments, PDUs split across segments), thousands at once; `dense`, the
same and the lab's clear task and service sessions (task XML of 1-3 KiB),
20,000 at once, so that nearly every packet is an RPC PDU of a cold flow
and a third of them make a record; `sealed`, RPC
sessions only, every one at packet privacy (the lab's NTLMSSP and Kerberos
captures replayed), timed without keys and with them (`rpcsentry+keys`:
--ntlm-secrets and --keytab, each copy's calls unsealed and verified).

The sensor runs with everything on: the default rules, nDPI, EVE output to
a file; once with one thread (the targets are for that), and once with
--workers N (default: the processors there are, at most 8) to show how the
multi-worker mode scales (its reading thread comes on top of the N). Where
Suricata is installed it is timed too, single-threaded, with EVE dcerpc,
smb and alert records, as a peer.
"""

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")

# clean RPC sessions (no deliberate loss or reordering) to replay
TEMPLATES = ["tcp_lateral_movement", "tcp_fragmented", "tcp_bigendian", "tcp_ndr64",
             "tcp_auth_sealed", "smb2_psexec_like", "smb2_split_pdu", "smb2_two_pipes",
             "smb1_andx"]
# the dense kind adds the lab's clear captures with task XML of 1-3 KiB (impacket atexec, at,
# schtasks' SD hiding) and service sessions (create/start/delete, smbexec, the registry road)
DENSE_LAB = ["atexec_connect", "epm_dynamic_port_task", "sd_hide_task", "at_job",
             "change_service_existing", "services_create_start_delete", "smbexec_cmd_in_binpath",
             "samba_reg_service", "svc_create_then_hide"]
# sealed sessions of the lab (pcaps/lab/), NTLMSSP (LAB\Administrator, Passw0rd!) and Kerberos
# (each capture's keytab beside it)
SEALED = ["epm_service_privacy", "epm_task_privacy_fragmented", "samba_rpcclient_sealed",
          "epm_task_kerberos", "epm_service_kerberos", "samba_dc_krb5_sealed",
          "samba_dc_krb5_rc4_sealed"]
LAB_NT_HASH = "LAB\\Administrator:fc525c9683e8fe067095ba2ddc971889"  # of Passw0rd!

SURICATA_YAML = """%YAML 1.1
---
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [alert, dcerpc, smb]
app-layer:
  protocols:
    dcerpc: {enabled: yes}
    smb: {enabled: yes, detection-ports: {dp: 139, 445}}
"""


def parse_size(s):
    mult = {"k": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(s[:-1]) * mult[s[-1]] if s[-1] in mult else int(s)


def make_input(build, kind, size, total=0):
    # ("-rst": since 2026-12-02 the one generation of "flows" + total ends with its resets too)
    path = os.path.join(WORK, "%s-%d-%d-rst.pcap" % (kind, size, total) if total else
                        "%s-%d.pcap" % (kind, size))
    if not os.path.exists(path) and kind.startswith("flows"):
        # N connections open at a time (kind "flows" + N), `total` in all, and `size` data
        # packets among them: the same connections and packets whatever N
        os.makedirs(WORK, exist_ok=True)
        subprocess.run([os.path.join(build, "gen_traffic"), "flows", kind[len("flows"):],
                        str(size), path + ".tmp", str(total)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.rename(path + ".tmp", path)
    if not os.path.exists(path):
        os.makedirs(WORK, exist_ok=True)
        if kind == "sealed":
            templates = [os.path.join(ROOT, "pcaps", "lab", t + ".pcap") for t in SEALED]
        else:
            templates = [os.path.join(ROOT, "pcaps", t + ".pcap") for t in TEMPLATES]
        if kind == "dense":
            templates += [os.path.join(ROOT, "pcaps", "lab", t + ".pcap") for t in DENSE_LAB]
        subprocess.run([os.path.join(build, "gen_traffic"), kind if kind in ("mixed", "dense")
                        else "rpc",
                        str(size), path + ".tmp"] + templates, check=True,
                       stdout=subprocess.DEVNULL)
        os.rename(path + ".tmp", path)
    return path


def once(cmd, cwd=None):
    """Wall seconds, CPU seconds and peak RSS (KiB) of one run."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit("bench: %s failed (status %d)" % (" ".join(cmd), status))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


WAITS = ["lock_output", "lock_story", "lock_epm", "order"]


def waits_of(cmd, cwd):
    """What the workers waited on in one more (untimed) run: the last stats record's wait
    counters, {"lock_output": [waits, microseconds], ...}."""
    cmd = list(cmd)
    cmd[cmd.index("-l") + 1] = "-"  # the records to stdout, the stats record among them
    # read as they come, the last stats record kept: holding the records would grow this
    # process, and a child forked from it then reports this size as its own peak (Linux keeps
    # the larger peak across exec)
    last = None
    with subprocess.Popen(cmd + ["--stats-interval", "3600"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, cwd=cwd) as p:
        for line in p.stdout:
            if b'"event_type":"stats"' in line:
                last = line
    st = json.loads(last)["rpcsentry"]["stats"] if last else {}
    return {k: [st.get(k + "_waits", 0), st.get(k + "_wait_us", 0)] for k in WAITS}


def packets_of(floor, path):
    out = subprocess.run([floor, path], capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), int(out[2])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--mixed", default="1536M")
    ap.add_argument("--rpc", default="1024M")
    ap.add_argument("--sealed", default="512M")
    ap.add_argument("--dense", default="1024M",
                    help="the RPC-dense input: 20,000 sessions open at once, task XML")
    ap.add_argument("--flows", default="10000,1000000",
                    help="connections open at a time in the two flow-table inputs (the "
                         "larger number is every input's connections in all)")
    ap.add_argument("--flow-packets", default="3000000",
                    help="data packets among them (after every handshake)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--workers", default=str(min(os.cpu_count() or 1, 8)),
                    help="also time the sensor with these many workers, e.g. 2,3 (1: not)")
    ap.add_argument("--inputs", help="only these inputs, e.g. rpc,dense (default: all)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help="small inputs, 2 runs (CI)")
    a = ap.parse_args()
    if a.smoke:
        a.runs, a.mixed, a.rpc, a.sealed, a.dense = 2, "16M", "8M", "8M", "8M"
        a.flows, a.flow_packets = "1000,20000", "100000"
    floor = os.path.join(a.build, "pcap_floor")
    sensor = os.path.join(a.build, "rpcsentry")
    suricata = shutil.which("suricata")
    results = {"runs": a.runs, "files": {}}
    outdir = tempfile.mkdtemp(prefix="rpcsentry-bench-")
    conf = os.path.join(outdir, "suricata.yaml")
    with open(conf, "w") as f:
        f.write(SURICATA_YAML)
    # the keys of the sealed input, in files of mode 0600 as the sensor wants them
    keys = []
    secrets = os.path.join(outdir, "lab.secrets")
    with open(secrets, "w") as f:
        f.write(LAB_NT_HASH + "\n")
    os.chmod(secrets, 0o600)
    keys += ["--ntlm-secrets", secrets]
    for t in SEALED:
        kt = os.path.join(ROOT, "pcaps", "lab", t + ".keytab")
        if os.path.exists(kt):
            dst = os.path.join(outdir, t + ".keytab")
            shutil.copy(kt, dst)
            os.chmod(dst, 0o600)
            keys += ["--keytab", dst]
    try:
        inputs = [("mixed", parse_size(a.mixed)), ("rpc", parse_size(a.rpc)),
                  ("dense", parse_size(a.dense)),
                  ("sealed", parse_size(a.sealed))]
        most = max(int(n) for n in a.flows.split(","))
        inputs += [("flows" + n, int(a.flow_packets)) for n in a.flows.split(",")]
        if a.inputs:
            inputs = [(k, n) for k, n in inputs if k in a.inputs.split(",")]
        for kind, size in inputs:
            path = make_input(a.build, kind, size, most if kind.startswith("flows") else 0)
            pkts, nbytes = packets_of(floor, path)
            cmds = {
                "rpcsentry": [sensor, "-q", "-r", path, "-l", outdir],
            }
            if kind == "sealed":
                cmds["rpcsentry+keys"] = cmds["rpcsentry"] + keys
            for nw in (int(x) for x in str(a.workers).split(",")):
                if nw > 1:
                    cmds["rpcsentry-%dw" % nw] = cmds["rpcsentry"] + ["--workers", str(nw)]
            if suricata and not kind.startswith("flows"):
                cmds["suricata"] = [suricata, "-r", path, "-c", conf, "-l", outdir, "-k", "none",
                                    "--runmode", "single",
                                    "-S", os.path.join(ROOT, "signatures", "standard.rules")]
            once([floor, path])  # the page cache, warm
            row = {"bytes": nbytes, "packets": pkts}
            for name, cmd in cmds.items():
                walls, cpus, peaks, ratios, floors = [], [], [], [], []
                for _ in range(a.runs):
                    fw, _, _ = once([floor, path])
                    w, c, m = once(cmd, cwd=outdir)
                    for p in glob.glob(os.path.join(outdir, "*.json")):
                        os.unlink(p)
                    walls.append(w), cpus.append(c), peaks.append(m), floors.append(fw)
                    ratios.append(w / fw)
                med = statistics.median
                row[name] = {"wall_s": med(walls), "cpu_s": med(cpus),
                             "ratio_to_floor": med(ratios), "floor_s": med(floors),
                             "pkts_per_s": pkts / med(walls),
                             "gbit_per_s": nbytes * 8 / med(walls) / 1e9,
                             "peak_rss_mib": med(peaks) / 1024,
                             "runs": {"wall_s": walls, "floor_s": floors}}
                if name.startswith("rpcsentry"):
                    row[name]["waits"] = waits_of(cmd, outdir)
            results["files"][kind] = row
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    print("%d runs each, medians; ratio = wall time / the libpcap loop's, run pair by pair"
          % a.runs)
    print("%-12s %-14s %9s %9s %7s %10s %8s %9s %7s %9s" % (
        "input", "program", "floor s", "wall s", "ratio", "Mpkt/s", "Gbit/s", "peak MiB", "cpu s",
        "cpu/Mpkt"))
    for kind, row in results["files"].items():
        for name in [k for k in row if k.startswith("rpcsentry")] + ["suricata"]:
            if name not in row:
                continue
            r = row[name]
            print("%-12s %-14s %9.3f %9.3f %7.2f %10.3f %8.3f %9.1f %7.2f %9.3f" % (
                kind, name, r["floor_s"], r["wall_s"], r["ratio_to_floor"],
                r["pkts_per_s"] / 1e6, r["gbit_per_s"], r["peak_rss_mib"], r["cpu_s"],
                r["cpu_s"] / row["packets"] * 1e6))
        print("%-12s %.1f MB, %d packets" % ("", row["bytes"] / 1e6, row["packets"]))
        for name in [k for k in row if k.startswith("rpcsentry-")]:
            wt = row[name]["waits"]
            print("%-12s %s waited: %s" % ("", name, ", ".join(
                "%s %d (%.1f ms)" % (k, n, us / 1000) for k, (n, us) in wt.items())))
    flows = [(int(k[len("flows"):]), r) for k, r in results["files"].items()
             if k.startswith("flows")]
    if len(flows) == 2:
        (n0, r0), (n1, r1) = sorted(flows)
        c0, c1 = r0["rpcsentry"]["cpu_s"], r1["rpcsentry"]["cpu_s"]
        print("flow table: %d connections open at once cost %.2fx the CPU of %d at a time "
              "(the same %d connections and data packets; %.2f s against %.2f)" % (
                  n1, c1 / c0, n0, n1, c1, c0))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
