"""Live capture in a network namespace: a veth pair, captures replayed onto one
end with tcpreplay, the sensor on the other with libpcap (one worker, and two
sharing a fanout group) and with AF_XDP (generic mode). The records equal
those of reading the same files, timestamps and counters of position aside.
Also: SIGHUP reopens the log, --user drops root, stats records count what the
kernel delivered, and a sensor killed with SIGKILL leaves an XDP program that
the next start replaces.

Needs root, `ip netns` and tcpreplay. Skips without them, unless
RPCSENTRY_REQUIRE_LIVE=1 (CI), which makes a skip a failure.
"""

import json
import os
import shutil
import signal
import subprocess
import time
import unittest

from common import BIN, PCAPS, SHARED_PCAPS, TempDir, records, validate_record


def packet_offsets(path):
    from test_cli import packet_offsets as offsets
    with open(path, "rb") as f:
        return offsets(f.read())

NS = "rpcsentry-test-%d" % os.getpid()
REQUIRE = os.environ.get("RPCSENTRY_REQUIRE_LIVE") == "1"

# per-record fields that say where or when, not what (live records carry in_iface,
# those of a capture pcap_filename)
POSITION = {"timestamp", "flow_id", "pcap_cnt", "pcap_filename", "in_iface"}
EXT_POSITION = {"request_time", "request_pcap_cnt", "response_pcap_cnt", "open_time", "open_pcap_cnt"}


def can_run():
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("tcpreplay"):
        return "tcpreplay is not installed"
    if subprocess.run(["ip", "netns", "add", NS + "-probe"], capture_output=True).returncode:
        return "network namespaces are not available"
    subprocess.run(["ip", "netns", "del", NS + "-probe"], capture_output=True)
    return None


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def normalise(rec):
    r = {k: v for k, v in rec.items() if k not in POSITION}
    x = r.get("rpcsentry")
    if isinstance(x, dict):
        x = {k: v for k, v in x.items() if k not in EXT_POSITION}
        if "story" in x:
            st = dict(x["story"])
            if "file" in st:
                st["file"] = {k: v for k, v in st["file"].items()
                              if k not in ("timestamp", "flow_id", "pcap_cnt")}
            st["pieces"] = [{k: v for k, v in p.items() if k not in ("timestamp", "flow_id")}
                            for p in st["pieces"]]
            x["story"] = st
        r["rpcsentry"] = x
    return json.dumps(r, sort_keys=True)


class Sensor:
    """rpcsentry capturing inside the namespace, until stop()."""

    def __init__(self, logdir, *args, wait_for="capturing on"):
        self.logdir = logdir
        # a fresh sysfs in the namespace hides the host's bpffs: mount one for XDP
        cmd = "mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec %s %s" % (
            BIN, " ".join(["-l", logdir] + list(args)))
        self.err = open(os.path.join(logdir, "stderr.txt"), "w+")
        self.p = subprocess.Popen(["ip", "netns", "exec", NS, "sh", "-c", cmd],
                                  stdout=subprocess.DEVNULL, stderr=self.err)
        deadline = time.time() + 20
        while time.time() < deadline:
            if wait_for in self.stderr():
                return
            if self.p.poll() is not None:
                raise AssertionError("the sensor did not start: " + self.stderr())
            time.sleep(0.05)
        raise AssertionError("the sensor did not start in time: " + self.stderr())

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGINT):
        self.p.send_signal(sig)
        self.p.wait(timeout=30)
        self.err.close()
        return self.p.returncode

    def records(self):
        path = os.path.join(self.logdir, "eve.json")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]


def replay(*pcaps):
    out = sh("ip", "netns", "exec", NS, "tcpreplay", "-q", "-i", "va", "--topspeed", *pcaps)
    time.sleep(0.8)  # the last batch handed over (the ring's block timeout is 100 ms)
    return out.stdout


@unittest.skipIf(can_run() and not REQUIRE, "live capture: %s" % can_run())
class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = can_run()
        if why:
            raise AssertionError("RPCSENTRY_REQUIRE_LIVE=1 but " + why)
        sh("ip", "netns", "add", NS)
        sh("ip", "netns", "exec", NS, "ip", "link", "add", "va", "type", "veth", "peer", "name",
           "vb")
        # no IPv6 neighbour discovery of the link's own in the counts
        sh("ip", "netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "netns", "exec", NS, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1")
        for dev in ("va", "vb"):
            # room for the generated captures' largest frames
            sh("ip", "netns", "exec", NS, "ip", "link", "set", dev, "mtu", "65000")
            sh("ip", "netns", "exec", NS, "ip", "link", "set", dev, "up")

    @classmethod
    def tearDownClass(cls):
        sh("ip", "netns", "del", NS, check=False)

    CAPTURES = ["tcp_lateral_movement.pcap", "smb2_psexec_like.pcap", "tcp_fragmented.pcap",
                "smb1_andx.pcap", "tcp_auth_sealed.pcap"]
    SHARED = ["Intranet_penetration_history__atexec.pcapng",
              "401trg-detections__20171220_smb_metasploit_psexec_pth_download_meterpreter.pcap",
              "PCAP-ATTACK__LM_Fileless_Lateral_Movement_ChangeServiceConfigA.pcap"]
    MODES = {"libpcap": ["-i", "vb"], "libpcap, 2 workers": ["-i", "vb", "--workers", "2"],
             "AF_XDP": ["--af-xdp", "vb"]}

    def captures(self):
        out = [os.path.join(PCAPS, c) for c in self.CAPTURES]
        if os.path.isdir(SHARED_PCAPS):
            out += [os.path.join(SHARED_PCAPS, c) for c in self.SHARED]
        return out

    def test_live_records_equal_the_files(self):
        compared = 0
        for pcap in self.captures():
            want = sorted(normalise(r) for r in records(pcap))
            for mode, args in self.MODES.items():
                with self.subTest(capture=os.path.basename(pcap), mode=mode), TempDir() as d:
                    s = Sensor(d, *args)
                    replay(pcap)
                    self.assertEqual(s.stop(), 0, s.stderr())
                    got = s.records()
                    for r in got:
                        validate_record(self, r)
                    # stats records are live capture's own (files get them on request)
                    got = [r for r in got if r["event_type"] != "stats"]
                    self.assertEqual(sorted(normalise(r) for r in got), want, s.stderr())
                    compared += len(want)
        self.assertGreater(compared, 100)

    def test_pcap_log_rotates_by_size(self):
        """-w live with two workers and a small --pcap-log-limit: files named as tcpdump -C
        names them, none past the limit, holding together the frames that reading the same
        captures with -w writes (live times aside)."""
        from test_pcap_log import pcap_frames, pcap_stats
        pcaps = [os.path.join(PCAPS, c) for c in ("tcp_lateral_movement.pcap",
                                                   "smb2_psexec_like.pcap")]
        with TempDir() as d:
            want_path = os.path.join(d, "files.pcap")
            args = []
            for p in pcaps:
                args += ["-r", p]
            sh(BIN, *args, "-q", "-l", d, "-w", want_path)
            want = sorted(r[1:] for r in pcap_frames(want_path))  # lengths and bytes
            self.assertGreater(len(want), 20)
            base, limit = os.path.join(d, "live.pcap"), 8192
            s = Sensor(d, "-i", "vb", "--workers", "2", "-w", base, "--pcap-log-limit",
                       str(limit))
            for p in pcaps:
                replay(p)
            self.assertEqual(s.stop(), 0, s.stderr())
            st = pcap_stats(s.stderr())
            files = [base] + ["%s%d" % (base, i) for i in range(1, st["files"])]
            self.assertEqual(sorted(f for f in os.listdir(d) if f.startswith("live.pcap")),
                             sorted(os.path.basename(f) for f in files))
            self.assertGreaterEqual(len(files), 3)
            got = []
            for f in files:
                self.assertLessEqual(os.path.getsize(f), limit, f)
                got += [r[1:] for r in pcap_frames(f)]
            self.assertEqual(sorted(got), want)
            self.assertEqual(st["packets"], len(want))

    def link(self, state):
        sh("ip", "netns", "exec", NS, "ip", "link", "set", "vb", state)
        deadline = time.time() + 10
        while state == "up" and time.time() < deadline:  # the veth's carrier comes back
            if "LOWER_UP" in sh("ip", "netns", "exec", NS, "ip", "link", "show", "va").stdout:
                return
            time.sleep(0.05)

    def test_a_link_that_goes_down_and_up(self):
        """The link goes down in the middle of a connection and comes back: the sensor goes
        on and the calls after the flap are decoded with the bind and the endpoint-mapper
        answers from before it: the records equal the file's. libpcap says so and counts it
        (an AF_XDP socket sees no error: its queue is only quiet while the link is down)."""
        pcap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        for mode, args in (("libpcap", ["-i", "vb"]), ("AF_XDP", ["--af-xdp", "vb"])):
            with self.subTest(mode=mode), TempDir() as d:
                # frames 1-29: the endpoint mapper, a bind and its first call; 30-74 the rest
                a, b = os.path.join(d, "a.pcap"), os.path.join(d, "b.pcap")
                sh("editcap", "-r", pcap, a, "1-29")
                sh("editcap", "-r", pcap, b, "30-74")
                logs = os.path.join(d, "logs")
                os.mkdir(logs)
                s = Sensor(logs, *args, "--stats-interval", "1")
                try:
                    replay(a)
                    self.link("down")
                    time.sleep(1.5)
                    self.link("up")
                    time.sleep(0.5)
                    replay(b)
                finally:
                    self.link("up")
                self.assertEqual(s.stop(), 0, s.stderr())
                got = s.records()
                err = s.stderr()
                if mode == "libpcap":
                    self.assertIn("capture on vb: the link went down", err)
                    self.assertRegex(err, r"capture on vb: the link is up again after \d+\.\d s")
                    stats = [r for r in got if r["event_type"] == "stats"]
                    self.assertEqual(stats[-1]["rpcsentry"]["stats"]["capture_link_down"], 1)
                self.assertTrue(all(r.get("in_iface") == "vb" for r in got), "in_iface")
                got = [r for r in got if r["event_type"] != "stats"]
                want = sorted(normalise(r) for r in records(pcap))
                self.assertEqual(sorted(normalise(r) for r in got), want, err)
                self.assertTrue(any(r["event_type"] == "dcerpc" and
                                    r["rpcsentry"].get("operation") == "SchRpcRun" for r in got))

    def test_an_interface_down_at_start_is_waited_for(self):
        pcap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        with TempDir() as d:
            self.link("down")
            try:
                s = Sensor(d, "-i", "vb", wait_for="vb is down: waiting for it to come up")
                time.sleep(1)
                self.assertIsNone(s.p.poll(), "the sensor waits")
            finally:
                self.link("up")
            deadline = time.time() + 10
            while "capturing on" not in s.stderr() and time.time() < deadline:
                time.sleep(0.05)
            replay(pcap)
            self.assertEqual(s.stop(), 0, s.stderr())
            got = s.records()
        want = sorted(normalise(r) for r in records(pcap))
        self.assertEqual(sorted(normalise(r) for r in got if r["event_type"] != "stats"), want)

    def test_stats_records_count_what_the_kernel_delivered(self):
        pcap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        sent = len(packet_offsets(pcap))
        with TempDir() as d:
            s = Sensor(d, "-i", "vb", "--stats-interval", "1")
            out = replay(pcap)
            time.sleep(1.2)
            self.assertEqual(s.stop(), 0)
            stats = [r for r in s.records() if r["event_type"] == "stats"]
        self.assertIn("Actual: %d packets" % sent, out)
        self.assertGreaterEqual(len(stats), 2)  # periodic, and one at the end
        last = stats[-1]
        for r in stats:
            validate_record(self, r)
        self.assertEqual(last["stats"]["capture"]["kernel_packets"], sent)
        self.assertEqual(last["stats"]["capture"]["kernel_drops"], 0)
        self.assertEqual(last["stats"]["decoder"]["pkts"], sent)
        self.assertEqual(last["stats"]["detect"]["alert"],
                         last["rpcsentry"]["stats"]["alerts"])

    def test_sighup_reopens_the_log(self):
        with TempDir() as d:
            s = Sensor(d, "-i", "vb")
            replay(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
            os.rename(os.path.join(d, "eve.json"), os.path.join(d, "eve.json.1"))
            s.p.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            replay(os.path.join(PCAPS, "smb2_psexec_like.pcap"))
            self.assertEqual(s.stop(), 0)
            with open(os.path.join(d, "eve.json.1")) as f:
                first = [json.loads(l) for l in f]
            second = s.records()
        self.assertTrue(first and second)
        self.assertEqual({r["dest_port"] for r in first if r["event_type"] == "dcerpc"},
                         {135, 49667, 49668})
        self.assertEqual({r["dest_port"] for r in second if r["event_type"] == "dcerpc"}, {445})

    def test_user_drops_root_and_keeps_capturing(self):
        with TempDir() as d:
            os.chmod(d, 0o777)
            s = Sensor(d, "-i", "vb", "--user", "nobody")
            pid = None
            for p in sh("ip", "netns", "pids", NS).stdout.split():
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    if b"rpcsentry" in f.read():
                        pid = int(p)
            self.assertIsNotNone(pid)
            with open("/proc/%d/status" % pid) as f:
                status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
            replay(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
            self.assertEqual(s.stop(), 0)
            recs = s.records()
            err = s.stderr()
        self.assertEqual(status["Uid"].split()[:2], ["65534", "65534"])
        self.assertEqual(status["CapEff"].strip(), "0000000000000000")
        self.assertEqual(status["NoNewPrivs"].strip(), "1")
        self.assertTrue([r for r in recs if r["event_type"] == "alert"])
        self.assertNotIn("running as root", err)

    def test_killed_sensor_leaves_an_xdp_program_the_next_start_replaces(self):
        with TempDir() as d:
            s = Sensor(d, "--af-xdp", "vb")
            s.stop(signal.SIGKILL)
            link = sh("ip", "netns", "exec", NS, "ip", "link", "show", "vb").stdout
            self.assertIn("rpcsentry_xdp", link)  # left behind
            s = Sensor(d, "--af-xdp", "vb")
            self.assertIn("removing a stale XDP program", s.stderr())
            replay(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
            self.assertEqual(s.stop(), 0)
            self.assertTrue([r for r in s.records() if r["event_type"] == "alert"])
            link = sh("ip", "netns", "exec", NS, "ip", "link", "show", "vb").stdout
            self.assertNotIn("rpcsentry_xdp", link)  # a clean stop takes it off

    def test_xdp_with_user_is_taken_off_even_after_sigkill(self):
        """Running as nobody the sensor cannot detach; its guard, kept root, does."""
        with TempDir() as d:
            os.chmod(d, 0o777)
            s = Sensor(d, "--af-xdp", "vb", "--user", "nobody")
            replay(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
            s.stop(signal.SIGKILL)
            deadline = time.time() + 5
            while time.time() < deadline:
                link = sh("ip", "netns", "exec", NS, "ip", "link", "show", "vb").stdout
                if "rpcsentry_xdp" not in link:
                    break
                time.sleep(0.1)
            self.assertNotIn("rpcsentry_xdp", link)

    def test_xdp_drops_what_is_not_rpc(self):
        with TempDir() as d:
            s = Sensor(d, "--af-xdp", "vb", "--stats-interval", "1")
            replay(os.path.join(PCAPS, "not_rpc.pcap"))
            self.assertEqual(s.stop(), 0)
            stats = [r for r in s.records() if r["event_type"] == "stats"][-1]
        # not_rpc.pcap: 28 packets, the 10 of HTTP between port 50701 and 80 stay out
        self.assertEqual(stats["stats"]["decoder"]["pkts"], 18)


if __name__ == "__main__":
    unittest.main()
