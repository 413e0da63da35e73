"""Classic pcap files are read from a mapping of the file, not through
libpcap's reads (src/capture/pcap_file.c, read_mapped). libpcap is the
reference: RPCSENTRY_NO_MMAP=1 makes the sensor read every record through
pcap_next_ex, and both ways must give the same records, the same summary and
the same verdict on damaged files, on every capture we have (ours, the lab's,
the shared real ones, in both byte orders and with nanosecond stamps) and on
files made here to hit each rule libpcap applies to a record:
- a record longer than the file's snapshot length is cut to it;
- a record whose captured length passes 256 KiB makes the file corrupt;
- a record cut short by the end of the file (its header or its bytes) ends
  the reading with a warning, the frames before it kept.
A file that another process truncates while the sensor maps it (the pages
past the new end are gone: reading them raises SIGBUS) ends the same way.
"""
import glob
import os
import struct
import subprocess
import time
import unittest

from common import BIN, PCAPS, SHARED_PCAPS, TempDir, need_shared

LATERAL = os.path.join(PCAPS, "tcp_lateral_movement.pcap")


def sensor(args, libpcap):
    env = dict(os.environ)
    env.pop("RPCSENTRY_NO_MMAP", None)
    if libpcap:
        env["RPCSENTRY_NO_MMAP"] = "1"
    p = subprocess.run([BIN, "-l", "-"] + args,
                       capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout, p.stderr


def records(path):
    """(header, [(sec, frac, caplen, len, data)]) of a little-endian pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:4] == b"\xd4\xc3\xb2\xa1", path
    out, off = [], 24
    while off < len(raw):
        sec, frac, cap, ln = struct.unpack_from("<IIII", raw, off)
        out.append((sec, frac, cap, ln, raw[off + 16:off + 16 + cap]))
        off += 16 + cap
    return raw[:24], out


def write(path, header, recs, big_endian=False, nano=False, snaplen=None):
    e = ">" if big_endian else "<"
    magic = 0xa1b23c4d if nano else 0xa1b2c3d4
    _, vmaj, vmin, zone, sigfigs, snap, link = struct.unpack("<IHHiIII", header)
    with open(path, "wb") as f:
        f.write(struct.pack(e + "IHHiIII", magic, vmaj, vmin, zone, sigfigs,
                            snaplen if snaplen is not None else snap, link))
        for sec, frac, cap, ln, data in recs:
            f.write(struct.pack(e + "IIII", sec, frac * 1000 if nano else frac, cap, ln))
            f.write(data)


class Reader(unittest.TestCase):

    def same(self, args):
        a = sensor(args, libpcap=False)
        b = sensor(args, libpcap=True)
        self.assertEqual(a[0], b[0], "exit status")
        self.assertEqual(a[1], b[1], "records")
        # the summary: packets, bytes, flows, calls, anomalies, decode counters
        self.assertEqual(a[2], b[2], "summary")
        return a

    def test_our_captures_read_the_same_both_ways(self):
        paths = sorted(glob.glob(os.path.join(PCAPS, "*.pcap")) +
                       glob.glob(os.path.join(PCAPS, "lab", "*.pcap")))
        self.assertGreater(len(paths), 40)
        for p in paths:
            with self.subTest(capture=os.path.basename(p)):
                rc, out, err = self.same(["-r", p])
                self.assertEqual(rc, 0, err)

    def test_shared_captures_read_the_same_both_ways(self):
        need_shared(self)
        paths = sorted(glob.glob(os.path.join(SHARED_PCAPS, "*.pcap")))
        self.assertGreater(len(paths), 40)
        for p in paths:
            with self.subTest(capture=os.path.basename(p)):
                self.same(["-r", p])

    def test_a_filter_applies_the_same_both_ways(self):
        rc, out, _ = self.same(["-r", LATERAL, "tcp port 135"])
        self.assertEqual(rc, 0)
        self.assertIn('"dest_port":135', out)
        self.assertNotIn('"dest_port":49668', out)

    def test_byte_orders_and_nanoseconds(self):
        header, recs = records(LATERAL)
        want = sensor(["-r", LATERAL], libpcap=False)[1]
        with TempDir() as d:
            for big, nano in ((True, False), (False, True), (True, True)):
                with self.subTest(big_endian=big, nano=nano):
                    p = os.path.join(d, "x.pcap")
                    write(p, header, recs, big_endian=big, nano=nano)
                    rc, out, _ = self.same(["-r", p])
                    self.assertEqual(rc, 0)
                    self.assertEqual(out.replace(p, LATERAL), want)

    def test_records_longer_than_the_snapshot_are_cut_to_it(self):
        header, recs = records(LATERAL)
        with TempDir() as d:
            p = os.path.join(d, "snap.pcap")
            write(p, header, recs, snaplen=96)
            rc, out, err = self.same(["-r", p])
            self.assertEqual(rc, 0)
            # frames cut to 96 bytes: the records of the whole file are not all there
            self.assertNotEqual(out.replace(p, LATERAL), sensor(["-r", LATERAL], False)[1])

    def test_damaged_files_give_the_same_verdict(self):
        header, recs = records(LATERAL)
        with TempDir() as d:
            huge = recs[:5] + [(recs[5][0], recs[5][1], 300000, 300000, b"\0" * 300000)] + recs[6:]
            cases = {
                "huge.pcap": huge,
                "cut_in_header.pcap": recs[:9],
                "cut_in_data.pcap": recs[:9],
            }
            for name, rs in cases.items():
                with self.subTest(case=name):
                    p = os.path.join(d, name)
                    write(p, header, rs)
                    with open(p, "ab") as f:
                        if name == "cut_in_header.pcap":
                            f.write(struct.pack("<II", 1, 2))
                        elif name == "cut_in_data.pcap":
                            f.write(struct.pack("<IIII", recs[9][0], recs[9][1], 100, 100))
                            f.write(b"\1" * 40)
                    a = sensor(["-r", p], libpcap=False)
                    b = sensor(["-r", p], libpcap=True)
                    self.assertEqual(a[0], b[0])
                    self.assertEqual(a[1], b[1])
                    want = "(read %d packets)" % (5 if name == "huge.pcap" else 9)
                    for rc, out, err in (a, b):
                        self.assertRegex(err, r"warning: .*%s: (truncated|invalid packet)" % name)
                        self.assertIn(want, err)
                    # the same words as libpcap's
                    self.assertEqual(a[2], b[2])

    def test_a_file_cut_short_while_mapped_ends_as_truncated(self):
        """256 MB of the benchmark's RPC traffic, cut to 32 MB as soon as the sensor has
        mapped it (the file shows in /proc/PID/maps; the whole file takes it about 0.7 s
        on the fast build): the sensor keeps what it read, warns, and exits 0; with two
        workers too, whose frames lie in the mapping."""
        gen = os.path.join(os.path.dirname(os.path.abspath(BIN)), "gen_traffic")
        tpl = [os.path.join(PCAPS, t + ".pcap") for t in ("tcp_lateral_movement",
                                                          "smb2_psexec_like")]
        with TempDir() as d:
            p = os.path.join(d, "big.pcap")
            for workers in ("1", "2"):
                with self.subTest(workers=workers):
                    subprocess.run([gen, "rpc", "256M", p] + tpl, check=True, capture_output=True)
                    proc = subprocess.Popen([BIN, "-r", p, "-o", "file:/dev/null",
                                             "--workers", workers],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                            text=True)
                    mapped, deadline = False, time.monotonic() + 120
                    while not mapped and proc.poll() is None and time.monotonic() < deadline:
                        try:
                            with open("/proc/%d/maps" % proc.pid) as f:
                                mapped = p in f.read()
                        except OSError:
                            break
                        time.sleep(0.001)
                    os.truncate(p, 32 << 20)
                    out, err = proc.communicate(timeout=300)
                    self.assertTrue(mapped, "the sensor ended before it mapped the file: " + err)
                    self.assertEqual(proc.returncode, 0, err)  # not -7, SIGBUS
                    self.assertRegex(err, r"warning: .*big\.pcap: the file was cut short while "
                                          r"it was read \(read \d+ packets\)")
                    read = int(err.split("the file was cut short")[1].split("(read ")[1]
                               .split()[0])
                    self.assertGreater(read, 0)
                    self.assertRegex(err, r"1 capture read( by several workers)?, %d packets" % read)

    def test_mapped_pages_are_let_go_behind_the_reader(self):
        """768 MB of the benchmark's mixed traffic: the sensor's peak resident memory
        stays far below the file's size, with one worker and with three (whose frames
        lie in the mapping until they have handled them). Pages are let go only before
        the oldest frame still to be handled; a page read again after it went would be
        mapped again, with its whole large folio, for good."""
        gen = os.path.join(os.path.dirname(os.path.abspath(BIN)), "gen_traffic")
        with TempDir() as d:
            p = os.path.join(d, "mixed.pcap")
            subprocess.run([gen, "mixed", "768M", p, LATERAL], check=True, capture_output=True)
            for workers in ("1", "3"):
                with self.subTest(workers=workers):
                    t = os.path.join(d, "time.txt")
                    env = dict(os.environ)
                    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8"
                    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t, BIN, "-q", "-r", p,
                                    "-o", "file:/dev/null", "--workers", workers],
                                   check=True, capture_output=True, env=env, timeout=600)
                    with open(t) as f:
                        peak_kib = int(f.read().split()[-1])
                    self.assertLess(peak_kib * 1024, 256 << 20, "peak RSS %d KiB" % peak_kib)


if __name__ == "__main__":
    unittest.main(verbosity=2)
