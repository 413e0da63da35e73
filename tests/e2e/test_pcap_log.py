"""The pcap log (-w FILE, README "The pcap log").

On every shared capture at once (one run over the directory): tshark reads
what was written and finds there the task and service calls the sensor found
in the originals, at the same frame times with the same opnums; the sensor
reading the written files gives the same target-call records (packet numbers
and file names aside); the files hold only frames of flows that carried a
target call or an alert, and every such flow whole (as many frames as its
`flow` record counts, but for reassembled IP fragments, which are not frames
as captured). A generated capture with many long undecided flows and small
budgets: the memory held stays under its cap, frames are counted as not held,
and a flow that comes to matter after its buffer ran out is written from its
first frame up to its budget, then from its call on. Rotation: file mode with
--pcap-log-limit names and fills files as tcpdump -C does.
"""

import collections
import glob
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest
from datetime import datetime, timezone

from common import BIN, PCAPS, ROOT, SHARED_PCAPS, need_shared, run

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import pcapgen  # noqa: E402
from test_shared_tshark import KNOWN_DIFFERENCES  # noqa: E402  where tshark reads otherwise

TSHARK_PROTO = {"ITaskSchedulerService": "taskschedulerservice", "ATSvc": "atsvc",
                "svcctl": "svcctl"}


def strip_positions(v):
    """A record without what says where in which file it was (pcap_cnt and the like)."""
    if isinstance(v, dict):
        return {k: strip_positions(x) for k, x in v.items()
                if "pcap_cnt" not in k and k != "pcap_filename"}
    if isinstance(v, list):
        return [strip_positions(x) for x in v]
    return v


def parse(out):
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def flow_key(r):
    a = (r["src_ip"], r["src_port"])
    b = (r["dest_ip"], r["dest_port"])
    return tuple(sorted([a, b]))


def marks(r):
    """Does the record say its flow matters (a target call, an alert, an executable or a
    script written over SMB)?"""
    return r.get("event_type") == "alert" or (
        r.get("event_type") == "dcerpc" and r.get("rpcsentry", {}).get("target")) or (
        r.get("event_type") == "fileinfo" and "file_type" in r.get("rpcsentry", {}))


def target_calls(recs):
    return [r for r in recs if r.get("event_type") == "dcerpc"
            and r.get("rpcsentry", {}).get("target")]


def written_files(base):
    stem, ext = os.path.splitext(base)
    return sorted(set(glob.glob(base + "*") + glob.glob(stem + ".*" + ext)))


def pcap_frames(path):
    """The records of a classic pcap file: (time in microseconds, caplen, len, bytes); None
    for a file that is not classic pcap (pcapng)."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 24:
        return None
    magic = b[:4]
    kinds = {b"\xd4\xc3\xb2\xa1": ("<", 1), b"\xa1\xb2\xc3\xd4": (">", 1),
             b"\x4d\x3c\xb2\xa1": ("<", 1000), b"\xa1\xb2\x3c\x4d": (">", 1000)}
    if magic not in kinds:
        return None
    e, div = kinds[magic]
    out, o = [], 24
    while o + 16 <= len(b):
        sec, frac, caplen, wirelen = struct.unpack_from(e + "IIII", b, o)
        out.append((sec * 1000000 + frac // div, caplen, wirelen, b[o + 16:o + 16 + caplen]))
        o += 16 + caplen
    return out


def tshark_fields(path, fields, dfilter=None):
    args = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=,"]
    if dfilter:
        args += ["-Y", dfilter]
    for f in fields:
        args += ["-e", f]
    p = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise AssertionError("tshark -r %s: %s" % (path, p.stderr))
    return [line.split("\t") for line in p.stdout.splitlines()]


def frame_flows(path):
    """Frames per canonical ((addr, port), (addr, port)) of the innermost TCP header."""
    out = collections.Counter()
    for src4, dst4, src6, dst6, sp, dp in tshark_fields(
            path, ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport"]):
        src = (src4 or src6).split(",")[-1]
        dst = (dst4 or dst6).split(",")[-1]
        if not sp:
            out[("no tcp", src, dst)] += 1
            continue
        out[tuple(sorted([(src, int(sp.split(",")[-1])), (dst, int(dp.split(",")[-1]))]))] += 1
    return out


def pcap_stats(stderr):
    m = re.search(r"pcap log .*?: (\d+) packets of (\d+) flows written \((\d+) files\); (\d+) "
                  r"packets of them not held .*?, (\d+) reassembled datagrams not written; held "
                  r"at most (\d+) bytes", stderr)
    assert m, stderr
    return dict(zip(["packets", "flows", "files", "dropped", "defragged", "held_peak"],
                    map(int, m.groups())))


class SharedCaptures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "rpc.pcap")
        cls.ran = os.path.isdir(SHARED_PCAPS)
        if not cls.ran:
            return
        _, out, err = run(["-r", SHARED_PCAPS, "-l", "-", "-w", cls.out, "--flow-records",
                           "--stats-interval", "0"])
        cls.recs = parse(out)
        cls.stats = pcap_stats(err)
        cls.files = written_files(cls.out)
        # Several shared captures hold the same connection (suricata-verify reuses its
        # inputs): in one log their frames are one TCP stream repeated, which tshark reads
        # as retransmissions. Compared with tshark: one capture per connection.
        by_file = collections.defaultdict(set)
        for r in cls.recs:
            if marks(r):
                by_file[r["pcap_filename"]].add(flow_key(r))
        seen, cls.distinct = set(), []
        for f in sorted(by_file):
            if not by_file[f] & seen:
                cls.distinct.append(f)
            seen |= by_file[f]
        cls.out1 = os.path.join(cls.tmp.name, "distinct.pcap")
        args = []
        for f in cls.distinct:
            args += ["-r", f]
        _, out1, _ = run(args + ["-q", "-l", "-", "-w", cls.out1])
        cls.recs1 = parse(out1)
        cls.files1 = written_files(cls.out1)
        args = []
        for f in cls.files1:
            args += ["-r", f]
        _, out2, _ = run(args + ["-q", "-l", "-"])
        cls.recs2 = parse(out2)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        need_shared(self)

    def test_files_and_link_types(self):
        self.assertIn(self.out, self.files)
        # each written file is of one link type, and a type of the inputs
        for f in self.files:
            enc = tshark_fields(f, ["frame.encap_type"])
            self.assertTrue(enc, f)
            self.assertEqual(len({e[0] for e in enc}), 1, f)
        self.assertGreater(self.stats["flows"], 20)
        self.assertEqual(self.stats["files"], len(self.files))

    def test_tshark_finds_the_target_calls(self):
        """Each target call of the originals is a request tshark finds in the log at the
        same frame time, with the same opnum, on the same interface where tshark has a
        dissector for it (not SASec)."""
        want = set()
        for r in target_calls(self.recs1):
            if r["dcerpc"].get("request") != "REQUEST":
                continue
            if (os.path.basename(r["pcap_filename"]), r["dcerpc"]["interfaces"][0]["uuid"],
                    r["dcerpc"]["req"]["opnum"]) in KNOWN_DIFFERENCES:
                continue  # tshark does not see it in the original either
            t = r["rpcsentry"].get("request_time", r["timestamp"])
            want.add((t[:26], r["dcerpc"]["req"]["opnum"],
                      TSHARK_PROTO.get(r["rpcsentry"]["interface"])))
        self.assertGreater(len(want), 100)
        protos = sorted(TSHARK_PROTO.values())
        got = set()
        for f in self.files1:
            for row in tshark_fields(f, ["frame.time_epoch", "dcerpc.opnum"] +
                                     [p + ".opnum" for p in protos], "dcerpc.pkt_type == 0"):
                sec, _, frac = row[0].partition(".")
                stamp = datetime.fromtimestamp(int(sec), timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%S.") + (frac + "000000")[:6]
                for op in set(row[1].split(",")):
                    got.add((stamp, int(op), None))
                for proto, ops in zip(protos, row[2:]):
                    for op in set(filter(None, ops.split(","))):
                        got.add((stamp, int(op), proto))
        missing = sorted(k for k in want if k not in got)
        self.assertEqual(missing, [], "target calls tshark does not see in the pcap log")
        self.assertGreater(len([k for k in want if k[2]]), 100)

    def test_frames_are_as_captured(self):
        """Every frame written is a frame of the inputs: bytes, lengths and time."""
        originals = collections.Counter()
        classic = 0
        for f in self.distinct:
            fr = pcap_frames(f)
            if fr is not None:
                originals.update(fr)
                classic += 1
        self.assertGreater(classic, 5)
        written = collections.Counter()
        for f in self.files1:
            written.update(pcap_frames(f))
        # the frames written that come from the classic-pcap inputs (pcapng ones aside)
        from_classic = collections.Counter({k: n for k, n in written.items() if k in originals})
        self.assertGreater(sum(from_classic.values()), 1000)
        self.assertEqual(+(from_classic - originals), collections.Counter())
        # and nothing written that is in no input at all (the pcapng inputs read by tshark)
        rest = +(written - from_classic)
        ng = set()
        for f in self.distinct:
            if pcap_frames(f) is None:
                for t, n in tshark_fields(f, ["frame.time_epoch", "frame.len"]):
                    sec, _, frac = t.partition(".")
                    ng.add((int(sec) * 1000000 + int((frac + "000000")[:6]), int(n)))
        self.assertEqual([k[:3] for k in rest if (k[0], k[2]) not in ng], [])

    def test_reading_the_log_gives_the_same_target_calls(self):
        a = sorted(json.dumps(strip_positions(r), sort_keys=True)
                   for r in target_calls(self.recs1))
        b = sorted(json.dumps(strip_positions(r), sort_keys=True)
                   for r in target_calls(self.recs2))
        self.assertGreater(len(a), 100)
        self.assertEqual(a, b)

    def test_only_and_all_flows_that_matter(self):
        marked = {flow_key(r) for r in self.recs if marks(r)}
        frames = collections.Counter()
        for f in self.files:
            frames.update(frame_flows(f))
        self.assertEqual(sorted(k for k in frames if k not in marked), [],
                         "frames of flows with no target call and no alert")
        # every marked flow is there, and whole: its `flow` records' frames (several
        # flows may share a 5-tuple across captures), but for reassembled datagrams
        # (the same 5-tuple may be marked in one capture and not in another: counted where
        # it is marked)
        marked_in = {(r.get("pcap_filename"), flow_key(r)) for r in self.recs if marks(r)}
        pkts = collections.Counter()
        for r in self.recs:
            if r.get("event_type") == "flow" and (r.get("pcap_filename"), flow_key(r)) in marked_in:
                pkts[flow_key(r)] += r["flow"]["pkts_toserver"] + r["flow"]["pkts_toclient"]
        short = {k: (frames[k], pkts[k]) for k in marked if frames[k] != pkts[k]}
        # a flow written short lost frames to its budget or to IP reassembly: counted
        lost = sum(p - f for f, p in short.values())
        self.assertEqual(lost, self.stats["dropped"] + self.stats["defragged"], short)
        self.assertGreater(len(marked), 15)


class Budget(unittest.TestCase):
    """Many long undecided flows against small buffers."""

    def test_bounded_and_written_from_the_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            cap = os.path.join(tmp, "long.pcap")
            pw = pcapgen.PcapWriter()
            d = pcapgen.Dce()
            ndr = [pcapgen.NDR]
            conns = []
            for i in range(40):
                c = pcapgen.TcpConn(pw, pcapgen.Endpoint("10.1.0.%d" % (i + 10), 50000 + i),
                                    pcapgen.Endpoint("10.9.0.1", 135))
                c.send(0, d.bind(1, [(0, pcapgen.DECOY, ndr)]))  # not a target interface
                c.send(1, d.bind_ack(1, [(0, pcapgen.NDR)]))
                conns.append(c)
            for k in range(50):  # long and undecided, all at once
                for c in conns:
                    c.send(0, d.request(2 + k, 0, 0, b"\0" * 400))
                    c.send(1, d.response(2 + k, 0, b"\0" * 64))
            # the first flow comes to matter late: the task scheduler's SchRpcDelete
            late = conns[0]
            late.send(0, d.bind(200, [(1, pcapgen.TSCH, ndr)], alter=True))
            late.send(1, d.bind_ack(200, [(0, pcapgen.NDR)], alter=True))
            late.send(0, d.request(201, 1, 13, b"\0" * 16))
            late.send(1, d.response(201, 1, b"\0" * 4))
            for k in range(5):  # and talks on after its call
                late.send(0, d.request(300 + k, 0, 0, b"\0" * 400))
                late.send(1, d.response(300 + k, 0, b"\0" * 64))
            for c in conns:
                c.close()
            pw.write(cap)
            out = os.path.join(tmp, "out.pcap")
            budget, cap_bytes = 16 << 10, 256 << 10
            _, stdout, err = run(["-r", cap, "-l", "-", "-w", out, "--stats-interval", "1",
                                  "--pcap-log-flow-buffer", str(budget),
                                  "--pcap-log-memcap", str(cap_bytes)])
            st = pcap_stats(err)
            stats = [r for r in parse(stdout) if r["event_type"] == "stats"][-1]
            ours = stats["rpcsentry"]["stats"]
            calls = [r for r in target_calls(parse(stdout))]
            self.assertEqual(len(calls), 1, calls)
            # bounded: the buffers never held more than their cap; frames were let go
            self.assertLessEqual(st["held_peak"], cap_bytes)
            self.assertGreater(st["held_peak"], cap_bytes // 2)
            self.assertGreater(ours["pcap_log_unheld"], 0)
            self.assertGreater(ours["pcap_log_memcap"] + ours["pcap_log_dropped"], 0)
            self.assertGreater(st["dropped"], 0)
            self.assertEqual(ours["pcap_log_flows"], 1)
            # the late flow: its first frames up to the budget, then from its call on
            orig = tshark_fields(cap, ["frame.time_epoch", "tcp.srcport", "tcp.dstport",
                                       "frame.len"])
            mine = [r for r in orig if "50000" in (r[1], r[2])]
            got = tshark_fields(out, ["frame.time_epoch", "tcp.srcport", "tcp.dstport",
                                      "frame.len"])
            self.assertTrue(got)
            self.assertTrue(all("50000" in (r[1], r[2]) for r in got), "another flow written")
            # a prefix of the flow, then a suffix of it, nothing else, in capture order
            n = 0
            while n < len(got) and got[n] == mine[n]:
                n += 1
            held = sum(16 + 8 + (int(r[3]) + 7) // 8 * 8 for r in got[:n])
            self.assertLessEqual(held, budget)
            self.assertGreater(n, 10)
            rest = got[n:]
            self.assertTrue(rest, "nothing written after the budget ran out")
            self.assertEqual(rest, mine[len(mine) - len(rest):])
            self.assertEqual(len(mine) - len(got), st["dropped"])
            # the request itself is in the file (written from the call on)
            self.assertGreaterEqual(len(rest), 2 + 2 * 5)


    def stale_then_new(self, tmp, gap):
        """20 long undecided flows fill the cap; gap seconds later a new flow makes a task
        (SchRpcDelete): its frames, and the log's counters."""
        pw = pcapgen.PcapWriter()
        d = pcapgen.Dce()
        ndr = [pcapgen.NDR]
        old = []
        for i in range(20):
            c = pcapgen.TcpConn(pw, pcapgen.Endpoint("10.2.0.%d" % (i + 10), 40000 + i),
                                pcapgen.Endpoint("10.9.0.2", 135))
            c.send(0, d.bind(1, [(0, pcapgen.DECOY, ndr)]))
            c.send(1, d.bind_ack(1, [(0, pcapgen.NDR)]))
            old.append(c)
        for k in range(20):
            for c in old:
                c.send(0, d.request(2 + k, 0, 0, b"\0" * 400))
                c.send(1, d.response(2 + k, 0, b"\0" * 64))
        pw.t += gap  # the old flows stay open, idle or not
        for c in old[:5]:
            c.send(0, d.request(100, 0, 0, b"\0" * 400))
        new = pcapgen.TcpConn(pw, pcapgen.Endpoint("10.3.0.1", 45000),
                              pcapgen.Endpoint("10.9.0.2", 135))
        new.send(0, d.bind(1, [(0, pcapgen.TSCH, ndr)]))
        new.send(1, d.bind_ack(1, [(0, pcapgen.NDR)]))
        for k in range(3):
            new.send(0, d.request(2 + k, 0, 0, b"\0" * 200))
            new.send(1, d.response(2 + k, 0, b"\0" * 64))
        new.send(0, d.request(9, 0, 13, b"\0" * 16))
        new.send(1, d.response(9, 0, b"\0" * 4))
        cap = os.path.join(tmp, "stale-%d.pcap" % gap)
        pw.write(cap)
        out = os.path.join(tmp, "out-%d.pcap" % gap)
        _, stdout, err = run(["-r", cap, "-l", "-", "-w", out, "--stats-interval", "1",
                              "--pcap-log-flow-buffer", "4k", "--pcap-log-memcap", "48k"])
        ours = [r for r in parse(stdout) if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        frames = [r for r in pcap_frames(cap)]
        ports = [f for f in frames if struct.pack("!H", 45000) in f[3][34:38]]
        return ours, pcap_frames(out), ports

    def test_stale_full_flows_give_way_to_new_ones(self):
        with tempfile.TemporaryDirectory() as tmp:
            # two minutes on: the old flows' full buffers give way, the new flow is whole
            ours, written, mine = self.stale_then_new(tmp, 120)
            self.assertGreater(ours["pcap_log_evicted"], 0)
            self.assertEqual(ours["pcap_log_flows"], 1)
            self.assertEqual(ours["pcap_log_dropped"], 0)
            self.assertEqual(written, mine)
            # a second on: the old flows are not stale, the new one finds no room and is
            # written from its call on
            ours, written, mine = self.stale_then_new(tmp, 1)
            self.assertEqual(ours["pcap_log_evicted"], 0)
            self.assertGreater(ours["pcap_log_dropped"], 0)
            self.assertEqual(len(mine) - len(written), ours["pcap_log_dropped"])
            self.assertEqual(written, mine[len(mine) - len(written):])


class Rotation(unittest.TestCase):
    def test_files_are_cut_at_the_limit_as_tcpdump_does(self):
        cap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        with tempfile.TemporaryDirectory() as tmp:
            whole = os.path.join(tmp, "whole.pcap")
            run(["-r", cap, "-q", "-l", tmp, "-w", whole])
            size = os.path.getsize(whole)
            frames = pcap_frames(whole)
            self.assertGreater(len(frames), 10)
            cut = os.path.join(tmp, "cut.pcap")
            limit = size // 3
            run(["-r", cap, "-q", "-l", tmp, "-w", cut, "--pcap-log-limit", str(limit)])
            names = [cut] + ["%s%d" % (cut, i) for i in range(1, 10)]
            files = [n for n in names if os.path.exists(n)]
            self.assertGreaterEqual(len(files), 3)
            self.assertEqual(set(glob.glob(cut + "*")), set(files), "named cut.pcap, cut.pcap1..")
            together = []
            for f in files:
                self.assertLessEqual(os.path.getsize(f), limit, f)
                together += pcap_frames(f)
            self.assertEqual(together, frames)

    def test_unwritable_path_is_a_usage_error(self):
        rc, _, err = run(["-r", os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "-q", "-l",
                          "-", "-w", "/nonexistent/dir/x.pcap"], check=False)
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/dir/x.pcap", err)

    def test_nothing_to_write_leaves_an_empty_capture(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "none.pcap")
            run(["-r", os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "-q", "-l", "-", "-w",
                 out, "host 192.0.2.77"])
            self.assertEqual(tshark_fields(out, ["frame.number"]), [])
            self.assertEqual(os.path.getsize(out), 24)


if __name__ == "__main__":
    unittest.main()
