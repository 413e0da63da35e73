"""The live benchmark, on a tiny input at two slow rates: that it runs, prints a row per
capturer and rate, and that the sensor (libpcap with one and two workers, AF_XDP), when it
dropped nothing, wrote the records of reading the file. Rates are never asserted; Suricata is left
out to keep it short (bench/live.py gives the figures).

Needs root, `ip netns` and tcpreplay. Skips without them, unless RPCSENTRY_REQUIRE_LIVE=1."""

import os
import shutil
import subprocess
import unittest

from common import BIN, ROOT

REQUIRE = os.environ.get("RPCSENTRY_REQUIRE_LIVE") == "1"


def can_run():
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("tcpreplay"):
        return "tcpreplay is not installed"
    probe = "rpcs-live-probe-%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode:
        return "network namespaces are not available"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@unittest.skipIf(can_run() and not REQUIRE, "live benchmark: %s" % can_run())
class LiveBenchSmoke(unittest.TestCase):
    def test_live_bench_runs_and_a_run_without_drops_has_the_files_records(self):
        why = can_run()
        if why:
            raise AssertionError("RPCSENTRY_REQUIRE_LIVE=1 but " + why)
        build = os.path.dirname(os.path.abspath(BIN))
        p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "bench", "live.py"), "--smoke",
                            "--no-suricata", "--build", build, "--tag", str(os.getpid())],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        rows = [l.split() for l in p.stdout.splitlines() if l.startswith("rpc ")]
        table = {(r[1], r[2]): r for r in rows if len(r) == 11}
        for prog in ("rpcsentry", "rpcsentry-2w", "rpcsentry-xdp"):
            self.assertIn((prog, "50"), table, p.stdout)
            self.assertGreater(int(table[(prog, "50")][5]), 1000)  # packets tcpreplay sent
            # the capturer's CPU per packet sent, read off /proc: decoding costs something
            self.assertGreater(float(table[(prog, "50")][10]), 0.0, p.stdout)
        # whether a rate holds is a timing (a busy machine, a sanitizer build): not asserted.
        # What is: a live run of libpcap with one worker that dropped nothing wrote the records
        # of reading the file (bench/live.py's figures: it holds every rate tcpreplay reaches)
        # Every mode: with workers too, whose stories share one table live (a story lost at
        # the end of a run with 2 workers, when one worker's flush told the stories before
        # the other's flows ended, was found this way)
        for prog in ("rpcsentry", "rpcsentry-2w", "rpcsentry-xdp"):
            r = table[(prog, "50")]
            if (r[6], r[7]) == ("0", "0"):
                self.assertEqual((r[8], r[9]), ("yes", "yes"), prog + "\n" + p.stdout)
        self.assertTrue([l for l in p.stdout.splitlines()
                         if l.startswith("rpc ") and "highest rate held" in l])
        # the namespace and veth are gone
        self.assertNotIn("rpcs-live-%d" % os.getpid(),
                         subprocess.run(["ip", "netns", "list"], capture_output=True,
                                        text=True).stdout)


if __name__ == "__main__":
    unittest.main()
