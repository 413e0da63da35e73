"""The benchmark, on small inputs: that it runs and reports (timings are never
asserted; bench/run.py gives the figures)."""

import os
import subprocess
import unittest

from common import BIN, ROOT


class BenchSmoke(unittest.TestCase):
    def test_bench_runs_on_small_inputs(self):
        build = os.path.dirname(os.path.abspath(BIN))
        p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "run.py"), "--smoke",
                            "--build", build], capture_output=True, text=True, timeout=900)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        rows = [l.split() for l in lines if l.startswith(("mixed", "rpc", "dense", "sealed"))]
        self.assertEqual({(r[0], r[1]) for r in rows if r[1].startswith("rpcsentry") and
                          not r[1].endswith("w")},
                         {("mixed", "rpcsentry"), ("rpc", "rpcsentry"), ("dense", "rpcsentry"),
                          ("sealed", "rpcsentry"),
                          ("sealed", "rpcsentry+keys")})
        for r in rows:
            self.assertGreater(float(r[3]), 0)  # a wall time was measured
        # with workers, what they waited on, from the sensor's own stats record
        if [r for r in rows if r[1].endswith("w")]:
            waited = [l for l in lines if "w waited: lock_output " in l]
            self.assertTrue(waited, p.stdout)
            self.assertIn("order ", waited[0])
        # the flow table's inputs: 20,000 connections, 1,000 at a time or all at once, and the ratio
        flows = [l.split() for l in lines if l.startswith("flows")]
        self.assertEqual({(r[0], r[1]) for r in flows if r[1] == "rpcsentry"},
                         {("flows1000", "rpcsentry"), ("flows20000", "rpcsentry")})
        self.assertTrue([l for l in lines if l.startswith("flow table: 20000 connections open")])

    def test_the_generator_is_deterministic(self):
        build = os.path.dirname(os.path.abspath(BIN))
        gen = os.path.join(build, "gen_traffic")
        tpl = os.path.join(ROOT, "pcaps", "tcp_lateral_movement.pcap")
        out = []
        for i in range(2):
            path = "/tmp/rpcsentry-gen-%d-%d.pcap" % (os.getpid(), i)
            subprocess.run([gen, "mixed", "2M", path, tpl], check=True, capture_output=True)
            with open(path, "rb") as f:
                out.append(f.read())
            os.unlink(path)
        self.assertEqual(out[0], out[1])
        self.assertGreater(len(out[0]), 2 << 20)


if __name__ == "__main__":
    unittest.main()
