"""Reading captures with several workers: the packets between two hosts go to
one worker (the address pair, hashed), so an endpoint-mapper answer and the
connection it announces, or a story's connections, are seen in capture order;
the records are those of one worker, in another order."""

import json
import os
import unittest

from common import PCAPS, SHARED_PCAPS, run


def recs(*args):
    _, out, _ = run(["-q", "-l", "-"] + list(args))
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
