#!/usr/bin/python3
"""How fast a live port can go before the sensor drops, as ratios to Suricata's,
on this machine. Never a pass/fail test.

    bench/live.py [--mbps 100,200,...] [--runs N] [--rpc SIZE] [--mixed SIZE] [--tag X]
                  [--build DIR] [--json FILE] [--no-suricata]
    bench/live.py --smoke          tiny inputs, two rates, one run (CI)

Needs root: it makes a network namespace `rpcs-live` with a veth pair (rl-tx in
the root namespace, rl-rx inside it; MTU 65000, as the generated inputs hold
frames above 1514 bytes, up to 2,034 in rpc, which would not pass a 1500 MTU) and
deletes them on exit, also on an error or Ctrl-C. Nothing leaves the machine:
tcpreplay writes into rl-tx, the capturer listens on rl-rx in the namespace.

For each input (bench/run.py's make_input: bench/work/rpc-SIZE.pcap and
mixed-SIZE.pcap) and each capturer (rpcsentry with libpcap and one worker,
libpcap with --workers 2, AF_XDP in generic mode, Suricata 7 with af-packet),
each rate of --mbps and then --topspeed is replayed --runs times. A run: start
the capturer, wait for its first stats record, replay, wait until its packet
counter stops moving, SIGINT, wait for it to exit, read its records. A rate
"holds" when, in every run, the kernel dropped nothing, the capturer dropped
nothing, and its records equal those of reading the same file. Once a rate
does not hold, the higher ones are not tried for that capturer (topspeed is).
"""

import argparse
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_spec = importlib.util.spec_from_file_location("bench_run", os.path.join(HERE, "run.py"))
bench_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_run)

NS = "rpcs-live"
TX, RX = "rl-tx", "rl-rx"
MTU = "65000"

# Fields left out of "records equal", and why (found by diffing live runs against -r runs):
# - timestamp: live records carry the time the kernel received the frame, not the capture's;
# - flow_id: derived from the flow's first packet time (and its hash), so it moves with it;
# - pcap_cnt: the frame's number in the file; live, the count of frames the capture delivered
#   (with AF_XDP only RPC frames reach the sensor, so it differs even without loss);
# - pcap_filename: only reading a file has one; in_iface: only live has one;
# - host: not written by either here but would name the machine;
# - inside rpcsentry{}: request_time/open_time (times again) and request_/response_/open_pcap_cnt
#   (frame numbers again), and the story's pieces' and file's timestamp/flow_id/pcap_cnt.
# stats and flow records are not compared at all: stats are counters of the run (live writes
# them every second), flow records carry live times and nDPI's verdicts and end at timeouts.
POSITION = {"timestamp", "flow_id", "pcap_cnt", "pcap_filename", "in_iface", "host"}
EXT_POSITION = {"request_time", "request_pcap_cnt", "response_pcap_cnt", "open_time",
                "open_pcap_cnt"}
COMPARED = {"dcerpc", "alert", "lateral_movement", "anomaly", "smb"}

SURICATA_LIVE_YAML = """%%YAML 1.1
---
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      types: [alert, dcerpc, smb, {stats: {totals: yes, threads: no}}]
stats:
  enabled: yes
  interval: 1
app-layer:
  protocols:
    dcerpc: {enabled: yes}
    smb: {enabled: yes, detection-ports: {dp: 139, 445}}
af-packet:
  - interface: %s
    threads: 1
    cluster-id: 99
    cluster-type: cluster_flow
    use-mmap: yes
    tpacket-v3: yes
    ring-size: 2048
    block-size: 4194304
"""


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def nsexec(*cmd):
    return ["ip", "netns", "exec", NS] + list(cmd)


def can_run():
    if os.geteuid() != 0:
        return "not root"
    for tool in ("tcpreplay", "ip"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    if sh("ip", "netns", "add", NS + "-probe", check=False).returncode:
        return "network namespaces are not available"
    sh("ip", "netns", "del", NS + "-probe", check=False)
    return None


def setup():
    # not deleted first: it may be another run's; a run killed with SIGKILL leaves it
    if NS in sh("ip", "netns", "list").stdout.split() or \
            not sh("ip", "link", "show", TX, check=False).returncode:
        sys.exit("bench/live.py: %s or %s exists (another run? else `ip netns del %s; "
                 "ip link del %s`)" % (NS, TX, NS, TX))
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", TX, "type", "veth", "peer", "name", RX)
    sh("ip", "link", "set", RX, "netns", NS)
    # no IPv6 neighbour discovery or router solicitations of the link's own in the counts
    for conf in ("all", "default"):
        sh(*nsexec("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % conf))
    sh("sysctl", "-q", "-w", "net.ipv6.conf.%s.disable_ipv6=1" % TX, check=False)
    sh("ip", "link", "set", TX, "mtu", MTU)
    sh(*nsexec("ip", "link", "set", RX, "mtu", MTU))
    sh("ip", "link", "set", TX, "up")
    sh(*nsexec("ip", "link", "set", RX, "up"))
    sh(*nsexec("ip", "link", "set", "lo", "up"))
    deadline = time.time() + 10
    while "LOWER_UP" not in sh("ip", "link", "show", TX).stdout and time.time() < deadline:
        time.sleep(0.05)


def teardown():
    # deleting the namespace deletes rl-rx and with it its peer rl-tx
    sh("ip", "netns", "del", NS, check=False)
    sh("ip", "link", "del", TX, check=False)


def read_eve(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass  # a line being written
    except FileNotFoundError:
        pass
    return out


def normalise(rec):
    r = {k: v for k, v in rec.items() if k not in POSITION}
    x = r.get("rpcsentry")
    if isinstance(x, dict):
        x = {k: v for k, v in x.items() if k not in EXT_POSITION}
        if isinstance(x.get("story"), dict):
            st = dict(x["story"])
            if isinstance(st.get("file"), dict):
                st["file"] = {k: v for k, v in st["file"].items()
                              if k not in ("timestamp", "flow_id", "pcap_cnt")}
            if isinstance(st.get("pieces"), list):
                st["pieces"] = [{k: v for k, v in p.items() if k not in ("timestamp", "flow_id")}
                                for p in st["pieces"]]
            x["story"] = st
        r["rpcsentry"] = x
    return json.dumps(r, sort_keys=True)


def compared(recs):
    return sorted(normalise(r) for r in recs if r.get("event_type") in COMPARED)


def suricata_compared(recs):
    """Suricata's dcerpc/smb/alert records, less what says where and when (as for the
    sensor's, and an alert's flow.start: the flow's first packet time)."""
    out = []
    for r in recs:
        if r.get("event_type") not in ("dcerpc", "smb", "alert"):
            continue
        r = {k: v for k, v in r.items() if k not in POSITION | {"capture_file"}}
        if isinstance(r.get("flow"), dict):  # an alert's flow: its start is a time
            r["flow"] = {k: v for k, v in r["flow"].items() if k != "start"}
        out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


class Capturer:
    """One capturer in the namespace until stop(); its EVE in logdir/eve.json."""

    def __init__(self, name, cmd, logdir, stats_of):
        self.name, self.logdir, self.stats_of = name, logdir, stats_of
        self.err = open(os.path.join(logdir, "stderr.txt"), "w")
        self.p = subprocess.Popen(nsexec("sh", "-c", cmd), stdout=subprocess.DEVNULL,
                                  stderr=self.err, start_new_session=True)
        try:
            deadline = time.time() + 120
            while time.time() < deadline:  # ready: its first stats record
                if self.stats():
                    return
                if self.p.poll() is not None:
                    raise RuntimeError("%s did not start: %s" % (name, self.stderr()))
                time.sleep(0.1)
            raise RuntimeError("%s did not start in time: %s" % (name, self.stderr()))
        except BaseException:  # Ctrl-C while waiting too: no capturer left behind
            self.stop()
            raise

    def eve(self):
        return read_eve(os.path.join(self.logdir, "eve.json"))

    def cpu(self):
        """CPU seconds the capturer's threads have run so far (ip netns exec and sh exec it,
        so it is the process started): schedstat's nanoseconds, summed over its threads,
        where /proc/PID/stat counts in ticks of 10 ms."""
        try:
            task = "/proc/%d/task" % self.p.pid
            ns = 0
            for t in os.listdir(task):
                with open(os.path.join(task, t, "schedstat")) as f:
                    ns += int(f.read().split()[0])
            return ns / 1e9
        except (OSError, IndexError, ValueError):
            return None

    def stats(self):
        st = [r for r in self.eve() if r.get("event_type") == "stats"]
        return self.stats_of(st[-1]) if st else None

    def stderr(self):
        self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def drain(self, timeout=60):
        """Until the packet counter has not moved over two stats records."""
        deadline, last, still = time.time() + timeout, None, 0
        while time.time() < deadline:
            time.sleep(1.05)
            s = self.stats()
            n = s and s["pkts"]
            still = still + 1 if n == last else 0
            last = n
            if still >= 2:
                return

    def stop(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGINT)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()
        self.err.close()
        return self.p.returncode


def sensor_stats(rec):
    s = rec.get("stats") or {}          # the counters under Suricata's names
    x = rec.get("rpcsentry", {}).get("stats") or {}   # and the sensor's own
    cap, dec = s.get("capture", {}), s.get("decoder", {})
    # the sensor's own drops: records its outputs could not write, allocations its memory
    # cap refused, segments the reassembly's cap refused, flows the flow table had no room for
    own = sum(o.get("dropped", 0) for o in x.get("outputs", []) if isinstance(o, dict))
    own += x.get("memory", {}).get("refused", 0)
    own += s.get("tcp", {}).get("segment_memcap_drop", 0) + s.get("flow", {}).get("memcap", 0)
    return {"pkts": dec.get("pkts", 0), "kernel_packets": cap.get("kernel_packets", 0),
            "kernel_drops": cap.get("kernel_drops", 0) + cap.get("kernel_ifdrops", 0),
            "sensor_drops": own}


def suricata_stats(rec):
    s = rec.get("stats", {})
    cap, dec = s.get("capture", {}), s.get("decoder", {})
    own = s.get("tcp", {}).get("segment_memcap_drop", 0) + \
        s.get("tcp", {}).get("ssn_memcap_drop", 0) + s.get("flow", {}).get("memcap", 0)
    return {"pkts": dec.get("pkts", 0), "kernel_packets": cap.get("kernel_packets", 0),
            "kernel_drops": cap.get("kernel_drops", 0), "sensor_drops": own}


def tcpreplay(path, mbps):
    rate = ["--topspeed"] if mbps is None else ["--mbps=%s" % mbps]
    # -K: the file in memory first, so that the sender's top speed is not the disk's
    out = sh("tcpreplay", "-K", "-i", TX, *rate, path).stdout
    sent, mbit, kpps = 0, 0.0, 0.0
    for line in out.splitlines():
        w = line.split()
        if line.strip().startswith("Actual:") and "packets" in w:
            sent = int(w[w.index("packets") - 1])
        if line.strip().startswith("Rated:"):
            for i, t in enumerate(w):
                if t.startswith("Mbps"):
                    mbit = float(w[i - 1])
                if t.startswith("pps"):
                    kpps = float(w[i - 1]) / 1000
    return sent, mbit, kpps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mbps", default="100,200,400,800,1600,3200",
                    help="rates to try in turn, Mbit/s; --topspeed comes after them")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rpc", default="32M")
    ap.add_argument("--mixed", default="0", help="also the mixed input of this size (0: not)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--no-suricata", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny inputs, two rates, one run")
    ap.add_argument("--modes", help="only these capturers, e.g. rpcsentry-xdp,suricata "
                    "(default: rpcsentry, rpcsentry-2w, rpcsentry-xdp and suricata)")
    ap.add_argument("--sensor-args", default="",
                    help="more options for every sensor mode, e.g. '--xdp-frames 16384'")
    ap.add_argument("--tag", default="",
                    help="a suffix to the namespace's and veth's names, for runs side by side")
    a = ap.parse_args()
    global NS, TX, RX
    if a.tag:
        NS, TX, RX = NS + "-" + a.tag, TX + a.tag[:8], RX + a.tag[:8]
    if a.smoke:
        a.mbps, a.runs, a.rpc, a.mixed = "50,100", 1, "2M", "0"
    why = can_run()
    if why:
        sys.exit("bench/live.py: cannot run: " + why)
    sensor = os.path.abspath(os.path.join(a.build, "rpcsentry"))
    suricata = None if a.no_suricata else shutil.which("suricata")
    rules = os.path.join(ROOT, "signatures", "standard.rules")
    rates = [float(x) for x in a.mbps.split(",") if x] + [None]
    inputs = [(k, bench_run.parse_size(s)) for k, s in (("rpc", a.rpc), ("mixed", a.mixed))
              if bench_run.parse_size(s) > 0]
    modes = {
        "rpcsentry": ["-i", RX],
        "rpcsentry-2w": ["-i", RX, "--workers", "2"],
        "rpcsentry-xdp": ["--af-xdp", RX],
    }
    if a.sensor_args:
        modes = {m: args + a.sensor_args.split() for m, args in modes.items()}
    if a.modes:
        chosen = a.modes.split(",")
        unknown = [m for m in chosen if m not in modes and m != "suricata"]
        if unknown:
            sys.exit("bench/live.py: no such mode: " + ", ".join(unknown))
        modes = {m: args for m, args in modes.items() if m in chosen}
        if "suricata" not in chosen:
            suricata = None
    tmp = tempfile.mkdtemp(prefix="rpcsentry-live-")
    results = {"runs": a.runs, "rates_mbps": rates, "files": {}}

    def on_signal(sig, _frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    setup()
    try:
        for kind, size in inputs:
            path = bench_run.make_input(a.build, kind, size)
            # what reading the file gives, once per program
            ref = os.path.join(tmp, "ref-" + kind)
            os.makedirs(ref)
            sh(sensor, "-q", "-r", path, "-l", ref)
            want = compared(read_eve(os.path.join(ref, "eve.json")))
            progs = {m: ("sensor", args) for m, args in modes.items()}
            if suricata:
                sref = os.path.join(tmp, "sref-" + kind)
                os.makedirs(sref)
                conf = os.path.join(tmp, "suricata.yaml")
                with open(conf, "w") as f:
                    f.write(SURICATA_LIVE_YAML % RX)
                sh(suricata, "-r", path, "-c", conf, "-l", sref, "-k", "none", "--runmode",
                   "single", "-S", rules)
                swant = suricata_compared(read_eve(os.path.join(sref, "eve.json")))
                progs["suricata"] = ("suricata", None)
            row = {"records": len(want)}
            for name, (what, args) in progs.items():
                row[name] = []
                for mbps in rates:
                    if mbps is not None and row[name] and not row[name][-1]["held"]:
                        continue  # above a rate that did not hold
                    runs = []
                    for i in range(a.runs):
                        d = os.path.join(tmp, "%s-%s-%s-%d" % (kind, name, mbps, i))
                        os.makedirs(d)
                        if what == "sensor":
                            cmd = "mount | grep -q ' /sys/fs/bpf ' || " \
                                  "mount -t bpf bpf /sys/fs/bpf; exec %s -q -l %s " \
                                  "--stats-interval 1 %s" % (sensor, d, " ".join(args))
                            c = Capturer(name, cmd, d, sensor_stats)
                        else:
                            cmd = "exec %s -c %s -l %s -k none --af-packet=%s -S %s" % (
                                suricata, conf, d, RX, rules)
                            c = Capturer(name, cmd, d, suricata_stats)
                        try:
                            before = c.stats()
                            cpu0 = c.cpu()
                            sent, mbit, kpps = tcpreplay(path, mbps)
                            c.drain()
                            cpu1 = c.cpu()
                        finally:
                            rc = c.stop()
                        recs = c.eve()
                        st = [r for r in recs if r.get("event_type") == "stats"]
                        last = c.stats_of(st[-1]) if st else before
                        got = compared(recs) if what == "sensor" else suricata_compared(recs)
                        equal = got == (want if what == "sensor" else swant)
                        kd = last["kernel_drops"] - before["kernel_drops"]
                        sd = last["sensor_drops"] - before["sensor_drops"]
                        runs.append({"sent": sent, "mbit_s": mbit, "kpkt_s": kpps,
                                     "kernel_drops": kd, "sensor_drops": sd,
                                     "received": last["pkts"] - before["pkts"],
                                     "records": len(got), "equal": equal, "exit": rc,
                                     # what the packets cost it: the replay and the drain
                                     "cpu_s": None if cpu0 is None or cpu1 is None
                                     else cpu1 - cpu0,
                                     "held": equal and kd == 0 and sd == 0 and rc == 0})
                        shutil.rmtree(d, ignore_errors=True)
                    med = statistics.median
                    row[name].append({
                        "mbps": mbps, "mbit_s": med([r["mbit_s"] for r in runs]),
                        "kpkt_s": med([r["kpkt_s"] for r in runs]),
                        "sent": med([r["sent"] for r in runs]),
                        "kernel_drops": max(r["kernel_drops"] for r in runs),
                        "sensor_drops": max(r["sensor_drops"] for r in runs),
                        "equal": all(r["equal"] for r in runs),
                        "held": all(r["held"] for r in runs), "runs": runs,
                        # per packet sent: AF_XDP's program drops what is not RPC before the
                        # sensor sees it (in the softirq, whose time is nobody's)
                        "cpu_us_per_pkt": med([r["cpu_s"] / r["sent"] * 1e6 for r in runs])
                        if all(r["cpu_s"] is not None and r["sent"] for r in runs) else None})
                    if what == "suricata":
                        row[name][-1]["file_records"] = len(swant)
            results["files"][kind] = row
    except KeyboardInterrupt:
        sys.exit("bench/live.py: interrupted (the namespace is deleted)")
    finally:
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d run(s) each, medians of the rate tcpreplay achieved; drops: the most in any run; "
          "a rate holds when every run had no drops and the file's records" % a.runs)
    print("%-6s %-14s %8s %9s %9s %10s %10s %10s %6s %5s %8s" % (
        "input", "program", "asked", "Mbit/s", "kpkt/s", "sent", "kern drop", "own drop",
        "equal", "held", "cpu us/p"))
    for kind, row in results["files"].items():
        for name in [k for k in row if k != "records"]:
            for r in row[name]:
                print("%-6s %-14s %8s %9.1f %9.1f %10d %10d %10d %6s %5s %8s" % (
                    kind, name, "top" if r["mbps"] is None else "%g" % r["mbps"], r["mbit_s"],
                    r["kpkt_s"], r["sent"], r["kernel_drops"], r["sensor_drops"],
                    "yes" if r["equal"] else "no", "yes" if r["held"] else "no",
                    "-" if r.get("cpu_us_per_pkt") is None else "%.2f" % r["cpu_us_per_pkt"]))
        print("%-6s %d records to compare (rpcsentry -r)" % ("", row["records"]))
    summary = {}
    for kind, row in results["files"].items():
        best = {}
        for name in [k for k in row if k != "records"]:
            held = [r for r in row[name] if r["held"]]
            # the achieved rate of the highest held step, topspeed included
            best[name] = max((r["mbit_s"] for r in held), default=0.0)
            top = row[name][-1]["mbps"] is None and row[name][-1]["held"]
            print("%-6s %-14s highest rate held: %s%s" % (
                kind, name, "%.1f Mbit/s" % best[name] if held else "none",
                " (topspeed held: the limit is past what tcpreplay reached)" if top else ""))
        if best.get("suricata"):
            for name in [k for k in best if k != "suricata"]:
                print("%-6s %-14s %.2fx Suricata's" % (kind, name, best[name] / best["suricata"]))
        # where every capturer held topspeed, the drops cannot tell their limits apart: what
        # a packet cost each one (CPU over the replay and the drain, all its threads) can
        cost = {name: row[name][-1].get("cpu_us_per_pkt") for name in row if name != "records"}
        if cost.get("suricata"):
            for name in [k for k in cost if k != "suricata" and cost[k]]:
                print("%-6s %-14s CPU per packet at the last rate tried: %.2f us, Suricata's %.2f:"
                      " %.2fx fewer" % (kind, name, cost[name], cost["suricata"],
                                         cost["suricata"] / cost[name]))
        summary[kind] = best
    results["highest_held_mbit_s"] = summary
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
