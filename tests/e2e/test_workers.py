"""Reading captures with several workers: the packets between two hosts go to
one worker (the address pair, hashed: a story's calls are one worker's), and
the endpoint-mapper table they share is used in capture order, so the records
are those of one worker, in another order, however the threads are scheduled.
The comparisons run again while busy processes keep every processor taken,
with more workers than processors: a race shows here instead of hiding."""

import contextlib
import json
import os
import subprocess
import tempfile
import unittest

from common import BIN, PCAPS, ROOT, SHARED_PCAPS, need_shared, run, shared_pcap

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


@contextlib.contextmanager
def processors_kept_busy():
    """As many spinning processes as there are processors (two at least), for the
    time of the block: the workers are then preempted at arbitrary points."""
    spinners = [subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"])
                for _ in range(max(2, os.cpu_count() or 2))]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()


LOADED_ROUNDS = 3  # per worker count; unloaded, the race showed in about one run of eight


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

    def test_shared_captures_under_load_give_the_same_records(self):
        """The race of issue 22: with the processors busy, one worker's ept_map answer
        (zeek__dce-rpc_mapi.pcap, frame 705) named another worker's calls placed
        before it in the capture, in about one run of eight."""
        need_shared(self)
        for extra in ([], ["--separate-captures"]):
            one = recs("-r", SHARED_PCAPS, *extra)
            with processors_kept_busy():
                for n in ("2", "3", "4"):
                    for round_ in range(LOADED_ROUNDS):
                        with self.subTest(workers=n, round=round_, options=extra):
                            self.assertEqual(recs("-r", SHARED_PCAPS, "--workers", n, *extra),
                                             one)

    def test_an_answer_names_no_call_before_it(self):
        """In zeek__dce-rpc_mapi.pcap the endpoint mapper announces 192.168.0.2:1032 at
        frame 705, to another client than those already calling there: their calls
        before it stay unnamed (context_unknown), those after are EcDoRpc, with any
        number of workers and the processors busy."""
        need_shared(self)
        path = shared_pcap("zeek__dce-rpc_mapi.pcap")

        def named(*args):
            out = [json.loads(l) for l in recs("-r", path, *args)]
            got = {}
            for r in out:
                if r.get("event_type") == "dcerpc" and r.get("dest_port") == 1032:
                    names = [i.get("procedure") for i in r["dcerpc"].get("interfaces", [])]
                    got[r["pcap_cnt"]] = "EcDoRpc" in names
            return got

        one = named()
        self.assertTrue(any(one[c] for c in one if c > 705))
        before = [c for c in one if c < 705]
        self.assertGreater(len(before), 20)
        self.assertFalse(any(one[c] for c in before))
        with processors_kept_busy():
            for n in ("2", "3", "4"):
                for round_ in range(LOADED_ROUNDS):
                    with self.subTest(workers=n, round=round_):
                        self.assertEqual(named("--workers", n), one)

    def test_separate_captures_give_each_its_own_records(self):
        """Carried over by default (the DCSync capture's drsuapi port was announced in
        an earlier capture of the same lab), forgotten with --separate-captures: the
        records are then those of reading each capture alone."""
        need_shared(self)
        alone = []
        for name in sorted(os.listdir(SHARED_PCAPS)):
            _, out, _ = run(["-q", "-l", "-", "-r", os.path.join(SHARED_PCAPS, name)],
                            check=False)
            alone += [json.dumps(json.loads(l), sort_keys=True) for l in out.splitlines()]
        alone.sort()
        carried = recs("-r", SHARED_PCAPS)
        self.assertNotEqual(carried, alone)
        named_from_before = set(l for l in carried
                                if "DCSync_krbtgt" in l and '"DRSGetNCChanges"' in l)
        self.assertTrue(named_from_before)
        self.assertFalse(named_from_before & set(alone))
        for n in ("1", "3"):
            with self.subTest(workers=n):
                self.assertEqual(recs("-r", SHARED_PCAPS, "--separate-captures",
                                      "--workers", n), alone)

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
            with processors_kept_busy():
                for n in ("2", "4"):
                    with self.subTest(workers=n, reader="mapped", loaded=True):
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


    def test_waits_on_shared_tables_are_counted(self):
        """What workers wait on (the output's lock, the stories', the endpoint mapper's, the
        capture-order gate) is in the stats record: never a wait with one worker (nothing is
        shared), and counts with the time of the waits (microseconds) with three."""
        gen = os.path.join(os.path.dirname(os.path.abspath(BIN)), "gen_traffic")
        keys = ["lock_output", "lock_story", "lock_epm", "order"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "rpc.pcap")
            subprocess.run([gen, "rpc", "4M", path] +
                           [os.path.join(ROOT, "pcaps", t + ".pcap") for t in TEMPLATES],
                           check=True, capture_output=True)
            for n in ("1", "3"):
                _, out, _ = run(["-q", "-r", path, "--workers", n, "--stats-interval", "1000",
                                 "-l", "-"])
                st = [json.loads(l) for l in out.splitlines()
                      if '"event_type":"stats"' in l][-1]["rpcsentry"]["stats"]
                for k in keys:
                    waits, us = st[k + "_waits"], st[k + "_wait_us"]
                    if n == "1":
                        self.assertEqual((waits, us), (0, 0), k)
                    else:  # time only with a wait
                        self.assertTrue(us == 0 or waits > 0, (k, waits, us))

if __name__ == "__main__":
    unittest.main()
