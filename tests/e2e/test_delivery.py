"""Every record reaches the pipeline, or the sensor says so.

Real consumers on this machine: a redis-server (list and channel), unix stream
and datagram readers, rsyslogd (its local socket and UDP). On a capture of at
least 250 MB merged from the shared captures, each gets exactly the records
eve.json gets, in order, and the exit status is 0; a reader that stops
mid-run makes the exit status non-zero and the summary names the loss. A full
file system and a closed pipe: a message naming the output, no torn line, the
written count equal to the lines on disk. No record of any kind carries a
repeated key."""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from common import (BIN, PCAPS, REQUIRE_SHARED, SHARED_PCAPS, TempDir, check_record_lines,
                    need_shared, strict_loads)
from test_outputs import Redis, StreamReader, free_port

BIG_BYTES = 250 << 20

_big = {}


def big_capture(test):
    """The shared captures merged end to end, as many times as it takes to pass
    BIG_BYTES; made once per run in a temporary directory."""
    need_shared(test)
    if "path" in _big:
        return _big["path"]
    if not shutil.which("mergecap"):
        if REQUIRE_SHARED:
            test.fail("mergecap (tshark's package) is missing")
        test.skipTest("mergecap not installed")
    d = tempfile.mkdtemp(prefix="rpcsentry-big-")
    files = sorted(f for f in glob.glob(os.path.join(SHARED_PCAPS, "*"))
                   if re.search(r"\.(pcap|pcapng|cap)$", f))
    # one link type and one snapshot length, as classic pcap: libpcap reads a pcapng file
    # whose interfaces differ in either not at all (it says so; a limit of ours too)
    info = subprocess.run(["capinfos", "-T", "-r", "-E"] + files, capture_output=True,
                          text=True).stdout
    ether = [l.split("\t")[0] for l in info.splitlines() if l.endswith("\tether")]
    test.assertGreater(len(ether), 50, info[:500])
    part = os.path.join(d, "part.pcap")
    subprocess.run(["mergecap", "-a", "-F", "pcap", "-s", "262144", "-w", part] + ether,
                   check=True, capture_output=True)
    copies = BIG_BYTES // os.path.getsize(part) + 1
    big = os.path.join(d, "big.pcap")
    subprocess.run(["mergecap", "-a", "-F", "pcap", "-w", big] + [part] * copies, check=True,
                   capture_output=True)
    os.unlink(part)
    _big["path"] = big
    _big["dir"] = d
    return big


def tearDownModule():
    if "dir" in _big:
        shutil.rmtree(_big["dir"], ignore_errors=True)


def sensor(args, timeout=900):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=timeout)
    if "runtime error" in p.stderr or "AddressSanitizer" in p.stderr:
        raise AssertionError(p.stderr[-3000:])
    return p


def eve_lines(d):
    with open(os.path.join(d, "eve.json"), "rb") as f:
        data = f.read()
    assert data.endswith(b"\n") or not data, "eve.json ends in a torn line"
    return data.decode().splitlines()


class DgramReader(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(path)
        self.grams = []
        self.start()

    def run(self):
        while True:
            try:
                self.grams.append(self.sock.recv(1 << 20).decode())
            except OSError:
                return


class Rsyslog:
    """An rsyslogd of our own: a local socket (what /dev/log is) and UDP on loopback,
    every message written as APP-NAME, MSGID and MSG."""

    def __enter__(self):
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if not os.path.exists(rsyslogd):
            raise unittest.SkipTest("rsyslogd not installed (apt-get install rsyslog)")
        self.dir = tempfile.mkdtemp(prefix="rpcsentry-rsyslog-")
        self.sock = os.path.join(self.dir, "log.sock")
        self.out = os.path.join(self.dir, "out.log")
        self.port = free_port(socket.SOCK_DGRAM)
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(f'''
global(workDirectory="{self.dir}" maxMessageSize="256k")
main_queue(queue.size="2000000")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{self.sock}" RateLimit.Interval="0")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{self.port}" rcvbufSize="256m")
template(name="t" type="string" string="%programname%\\t%msgid%\\t%msg%\\n")
*.* action(type="omfile" file="{self.out}" template="t")
''')
        self.p = subprocess.Popen([rsyslogd, "-n", "-f", conf, "-i",
                                   os.path.join(self.dir, "pid")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(200):
            if os.path.exists(self.sock):
                return self
            time.sleep(0.05)
        raise AssertionError("rsyslogd did not start: %s" % self.p.stderr.read())

    def messages(self, want, timeout=120):
        """The (app, msgid, msg) rows once `want` have arrived (or the timeout passed)."""
        end = time.monotonic() + timeout
        rows = []
        while time.monotonic() < end:
            if os.path.exists(self.out):
                with open(self.out) as f:
                    rows = [l.rstrip("\n").split("\t", 2) for l in f]
                if len(rows) >= want:
                    break
            time.sleep(0.5)
        time.sleep(0.5)
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [l.rstrip("\n").split("\t", 2) for l in f]

    def __exit__(self, *a):
        self.p.terminate()
        self.p.wait(timeout=10)
        self.p.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Lossless(unittest.TestCase):
    """Reading a capture, every output gets every record eve.json gets."""

    def run_big(self, *outputs, extra=()):
        big = big_capture(self)
        d = tempfile.mkdtemp(prefix="rpcsentry-out-")
        self.addCleanup(shutil.rmtree, d, True)
        args = ["-r", big, "-l", d, "--no-progress"] + list(extra)
        for o in outputs:
            args += ["-o", o]
        p = sensor(args)
        return p, eve_lines(d)

    def assert_delivered(self, p, ref, got, what):
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertGreater(len(ref), 50000, "the big capture gives many records")
        self.assertEqual(len(got), len(ref), what)
        self.assertTrue(got == ref, "%s: same records, same order" % what)
        self.assertNotIn("NOT DELIVERED", p.stderr)

    def test_redis_list(self):
        with Redis() as r:
            p, ref = self.run_big("redis://127.0.0.1:%d/list/eve" % r.port)
            got = r.cli("LRANGE", "eve", "0", "-1").splitlines()
        self.assert_delivered(p, ref, got, "redis list")
        self.assertRegex(p.stderr, r"output redis://127\.0\.0\.1:\d+/list/eve: %d records "
                                   r"written" % len(ref))

    def test_redis_channel(self):
        with Redis() as r, TempDir() as d:
            outp = os.path.join(d, "sub.txt")
            with open(outp, "w") as f:
                sub = subprocess.Popen(["redis-cli", "-p", str(r.port), "--raw", "SUBSCRIBE",
                                        "eve"], stdout=f)
            for _ in range(200):
                if r.cli("PUBSUB", "NUMSUB", "eve").split()[-1:] == ["1"]:
                    break
                time.sleep(0.05)
            p, ref = self.run_big("redis://127.0.0.1:%d/channel/eve" % r.port)
            # the subscriber has them once its output stops growing
            last = -1
            while os.path.getsize(outp) != last:
                last = os.path.getsize(outp)
                time.sleep(1)
            sub.terminate()
            sub.wait(timeout=10)
            with open(outp) as f:
                out = f.read().splitlines()
        # redis-cli --raw prints each message as three lines: "message", channel, payload
        msgs = [out[i + 2] for i in range(len(out) - 2)
                if out[i] == "message" and out[i + 1] == "eve"]
        self.assert_delivered(p, ref, msgs, "redis channel")

    def test_unix_stream_and_datagram(self):
        with TempDir() as d:
            sp, dp = os.path.join(d, "s.sock"), os.path.join(d, "d.sock")
            sr, dr = StreamReader(sp), DgramReader(dp)
            p, ref = self.run_big("unix:" + sp, "unix-dgram:" + dp)
            time.sleep(0.5)
            sr.sock.close()
            dr.sock.close()
        self.assert_delivered(p, ref, sr.lines, "unix stream")
        self.assert_delivered(p, ref, dr.grams, "unix datagram")

    def test_rsyslog_local_socket_and_udp(self):
        """RFC 3164 on the local socket (rsyslog's local parser reads it: the app name is
        our tag), RFC 5424 over UDP with the event_type as MSGID; every message body is
        the record, valid JSON."""
        with Rsyslog() as rs:
            p, ref = self.run_big("syslog:local3", extra=["--syslog-target", rs.sock,
                                                          "--syslog-tag", "rpcs-local"])
            p2 = sensor(["-r", big_capture(self), "--no-progress", "-q", "-o", "syslog:local4",
                         "--syslog-target", "udp:127.0.0.1:%d" % rs.port, "--syslog-tag",
                         "rpcs-udp"])
            rows = rs.messages(2 * len(ref))
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(p2.returncode, 0, p2.stderr[-2000:])
        local = [r for r in rows if r[0] == "rpcs-local"]
        udp = [r for r in rows if r[0] == "rpcs-udp"]
        self.assertEqual(len(local) + len(udp), len(rows), "every message has our app name")
        # rsyslog keeps the space after "TAG[PID]:" in a RFC 3164 message
        self.assertEqual(len(local), len(ref))
        self.assertTrue([r[2][1:] if r[2].startswith(" ") else r[2] for r in local] == ref,
                        "local socket: the records, in order")
        self.assertEqual(len(udp), len(ref))
        self.assertTrue([r[2] for r in udp] == ref, "UDP: the records, in order")
        for r in udp[:2000]:
            self.assertEqual(r[1], json.loads(r[2])["event_type"], "MSGID is the event_type")
        for r in local[:2000]:
            json.loads(r[2])

    def test_a_peer_that_comes_late_gets_everything(self):
        """Nobody listens when the run starts; the reader comes two seconds later: the
        records waited for it."""
        with TempDir() as d:
            sp = os.path.join(d, "late.sock")
            reader = StreamReader(sp, bind_now=False)
            threading.Timer(2.0, reader.listen).start()
            out = os.path.join(d, "out")
            os.mkdir(out)
            p = sensor(["-r", PCAPS, "-r", PCAPS, "-l", out, "--no-progress",
                        "-o", "unix:" + sp, "--output-queue", "64k"])
            time.sleep(0.5)
            reader.sock.close()
            ref = eve_lines(out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(reader.lines, ref)


class Losses(unittest.TestCase):
    """A loss is counted, told per output, and makes the exit status non-zero."""

    def test_a_reader_that_stops_reading(self):
        with TempDir() as d:
            sp = os.path.join(d, "stall.sock")
            reader = StreamReader(sp, stall_after=200000)
            out = os.path.join(d, "out")
            os.mkdir(out)
            t0 = time.monotonic()
            p = sensor(["-r", SHARED_PCAPS if os.path.isdir(SHARED_PCAPS) else PCAPS,
                        "-r", PCAPS, "-l", out, "--no-progress", "-o", "unix:" + sp,
                        "--output-queue", "256k", "--output-wait", "2",
                        "--stats-interval", "1"])
            took = time.monotonic() - t0
            reader.release.set()
            reader.sock.close()
        self.assertEqual(p.returncode, 3, p.stderr)
        m = re.search(r"output unix:\S+: (\d+) records written, (\d+) NOT DELIVERED \(([^)]*)",
                      p.stderr)
        self.assertTrue(m, p.stderr)
        self.assertGreater(int(m.group(2)), 0)
        self.assertIn("exit status 3", p.stderr)
        self.assertLess(took, 120)
        # eve.json, the other output, lost nothing, and says so in its stats record
        self.assertRegex(p.stderr, r"output file:\S+eve\.json: \d+ records written")

    def test_a_reader_that_goes_away(self):
        with TempDir() as d:
            sp = os.path.join(d, "gone.sock")
            reader = StreamReader(sp, stall_after=50000)
            reader.release.set()  # closes the connection instead of stalling
            threading.Timer(0.5, lambda: os.path.exists(sp) and os.unlink(sp)).start()
            out = os.path.join(d, "out")
            os.mkdir(out)
            p = sensor(["-r", PCAPS, "-r", PCAPS, "-r", PCAPS, "-l", out, "--no-progress",
                        "-o", "unix:" + sp, "--output-queue", "64k", "--output-wait", "2"])
            reader.sock.close()
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertRegex(p.stderr, r"output unix:\S+: \d+ records written, \d+ NOT DELIVERED")

    def test_redis_that_refuses(self):
        """A key of another type: Redis answers every RPUSH with an error; each record
        is counted as not delivered, with Redis's words."""
        with Redis() as r:
            r.cli("SET", "eve", "a string")
            with TempDir() as d:
                p = sensor(["-r", os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "-l", d,
                            "-o", "redis://127.0.0.1:%d/list/eve" % r.port])
                n = len(eve_lines(d))
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("WRONGTYPE", p.stderr)
        self.assertRegex(p.stderr, r"output redis://\S+: 0 records written, %d NOT DELIVERED" % n)

    def test_full_file_system(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        with TempDir() as d:
            mnt = os.path.join(d, "small")
            os.mkdir(mnt)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                           check=True)
            try:
                p = sensor(["-r", PCAPS, "-l", mnt, "--no-progress"])
                with open(os.path.join(mnt, "eve.json"), "rb") as f:
                    data = f.read()
            finally:
                subprocess.run(["umount", mnt], check=True)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertRegex(p.stderr, r"output file:\S+/eve\.json: No space left on device")
        self.assertTrue(data.endswith(b"\n"), "no torn last line")
        lines = data.decode().splitlines()
        for l in lines:
            strict_loads(l)
        m = re.search(r"output file:\S+eve\.json: (\d+) records written, (\d+) NOT DELIVERED",
                      p.stderr)
        self.assertTrue(m, p.stderr)
        self.assertEqual(int(m.group(1)), len(lines), "written = the lines on disk")
        self.assertGreater(int(m.group(2)), 0)

    def test_closed_pipe(self):
        """`rpcsentry ... -l - | head -1`: the run stops soon after head exits, with a
        non-zero status and a message, as tcpdump does."""
        src = SHARED_PCAPS if os.path.isdir(SHARED_PCAPS) else PCAPS
        full = sensor(["-r", src, "--no-progress", "-o", "file:/dev/null"])
        total = int(re.search(r"read[^,]*, (\d+) packets", full.stderr).group(1))
        sh = "'%s' -r '%s' -r '%s' -r '%s' -l - --no-progress 2>'%s' | head -1 >/dev/null; " \
             "echo ${PIPESTATUS[0]}"
        with TempDir() as d:
            errf = os.path.join(d, "err")
            p = subprocess.run(["bash", "-c", sh % (BIN, src, src, src, errf)],
                               capture_output=True, text=True, timeout=300)
            with open(errf) as f:
                err = f.read()
        self.assertEqual(p.stdout.strip(), "3", err)
        self.assertIn("output -: Broken pipe", err)
        read = int(re.search(r"read[^,]*, (\d+) packets", err).group(1))
        self.assertLess(read, 3 * total, "it stopped before reading everything")


class RepeatedKeys(unittest.TestCase):
    def test_no_record_repeats_a_key(self):
        """Every record of every shared and generated capture, flows and stats on."""
        srcs = ["-r", PCAPS] + (["-r", SHARED_PCAPS] if os.path.isdir(SHARED_PCAPS) else [])
        p = sensor(srcs + ["-q", "-l", "-", "--flow-records", "--stats-interval", "1"])
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        check_record_lines(p.stdout)
        kinds = {json.loads(l)["event_type"] for l in p.stdout.splitlines()}
        self.assertLessEqual({"dcerpc", "alert", "anomaly", "lateral_movement", "flow",
                              "stats"}, kinds)
        if not os.path.isdir(SHARED_PCAPS):
            need_shared(self)

    def test_the_check_catches_one(self):
        with self.assertRaises(AssertionError):
            check_record_lines('{"a":1,"b":{"c":1,"c":2}}')


if __name__ == "__main__":
    unittest.main()
