"""Reading captures with several workers: the packets between two hosts go to
one worker (the address pair, hashed), so an endpoint-mapper answer and the
connection it announces, or a story's connections, are seen in capture order;
the records are those of one worker, in another order."""

import json
import os
import subprocess
import tempfile
import unittest

from common import BIN, PCAPS, ROOT, SHARED_PCAPS, run

# the benchmark's clean sessions (bench/run.py TEMPLATES)
TEMPLATES = ["tcp_lateral_movement", "tcp_fragmented", "tcp_bigendian", "tcp_ndr64",
             "tcp_auth_sealed", "smb2_psexec_like", "smb2_split_pdu", "smb2_two_pipes",
             "smb1_andx"]


def recs(*args, env=None):
    if env:
        os.environ.update(env)
    try:
        _, out, _ = run(["-q", "-l", "-"] + list(args))
    finally:
        for k in env or {}:
            del os.environ[k]
    return sorted(json.dumps(json.loads(l), sort_keys=True) for l in out.splitlines())


class Workers(unittest.TestCase):
    def test_generated_captures_give_the_same_records(self):
        one = recs("-r", PCAPS)
        self.assertGreater(len(one), 250)
        for n in ("2", "3"):
            with self.subTest(workers=n):
                self.assertEqual(recs("-r", PCAPS, "--workers", n), one)

    def test_shared_captures_give_the_same_records(self):
        if not os.path.isdir(SHARED_PCAPS):
            self.skipTest("../shared (real captures) not present beside the checkout")
        one = recs("-r", SHARED_PCAPS)
        self.assertGreater(len(one), 5000)
        self.assertEqual(recs("-r", SHARED_PCAPS, "--workers", "3"), one)

    def test_many_concurrent_sessions_give_the_same_records(self):
        """8 MB of the benchmark's RPC-heavy traffic (hundreds of sessions at once):
        frames handed over where they lie in the mapped file, and copied when libpcap
        reads it; what ends at the end of the file (here two malformed-stub anomalies
        of calls cut by it) carries the file's last frame, as with one worker."""
        gen = os.path.join(os.path.dirname(os.path.abspath(BIN)), "gen_traffic")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rpc.pcap")
            subprocess.run([gen, "rpc", "8M", path] +
                           [os.path.join(ROOT, "pcaps", t + ".pcap") for t in TEMPLATES],
                           check=True, capture_output=True)
            one = recs("-r", path)
            self.assertGreater(len(one), 10000)
            self.assertTrue(any('"event_type": "anomaly"' in r for r in one))
            # each says which call it is about (dcerpc.stub_malformed: a call cut by the end)
            for r in (json.loads(r) for r in one if '"dcerpc.stub_malformed"' in r):
                self.assertEqual((r["rpcsentry"]["interface"], r["rpcsentry"]["operation"]),
                                 ("svcctl", "RCreateServiceW"))
                self.assertIn("call_id", r["rpcsentry"])
                self.assertIn("tx_id", r)
            for n in ("2", "3"):
                with self.subTest(workers=n, reader="mapped"):
                    self.assertEqual(recs("-r", path, "--workers", n), one)
            with self.subTest(workers=2, reader="libpcap"):
                self.assertEqual(recs("-r", path, "--workers", "2",
                                      env={"RPCSENTRY_NO_MMAP": "1"}), one)

    def test_stats_count_every_worker(self):
        _, out, err = run(["-r", os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "--workers",
                           "2", "--stats-interval", "1", "-l", "-"])
        stats = [json.loads(l) for l in out.splitlines() if '"event_type":"stats"' in l]
        self.assertEqual(len(stats), 1)
        self.assertEqual(stats[0]["rpcsentry"]["stats"]["workers"], 2)
        with open(os.path.join(PCAPS, "tcp_lateral_movement.pcap"), "rb") as f:
            from test_cli import packet_offsets
            self.assertEqual(stats[0]["stats"]["decoder"]["pkts"], len(packet_offsets(f.read())))
        self.assertIn("by several workers", err)


if __name__ == "__main__":
    unittest.main()
