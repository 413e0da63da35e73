"""Checksum validation (-k) against tshark's own checksum checks.

With -k all the sensor drops every TCP/UDP packet whose IPv4 header, TCP or
UDP checksum is wrong and counts it (decode_bad_checksum in `stats`). On every
shared real capture, and on the project's own, that count must equal the
number of frames tshark marks bad with its checksum checks turned on, less two
kinds of frame where we differ on purpose:

- an IPv4 total length of 0 (captured on the sender before segmentation
  offload): tshark presumes the length and judges the checksum, which the
  card had not filled in yet; we use such frames unjudged, as we do for their
  length (DESIGN: "use what was captured").
- ICMP: tshark judges the IP header of ICMP errors; the sensor decodes TCP and
  UDP only and never looks at them.

The modes (none by default, auto, all) are checked on the evasion capture in
test_evasion.py.
"""
import glob
import json
import os
import subprocess
import unittest

from common import BIN, PCAPS, SHARED_PCAPS, need_shared

TSHARK_BAD = ("(tcp.checksum.status==0 || udp.checksum.status==0 || ip.checksum.status==0)"
              " && !(ip[2:2]==00:00) && !icmp && !icmpv6")


def tshark_bad(path):
    out = subprocess.run(
        ["tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE",
         "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
         "-Y", TSHARK_BAD, "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True).stdout
    return len(out.split())


def ours_bad(path):
    out = subprocess.run([BIN, "-q", "-k", "all", "-r", path, "-l", "-",
                          "--stats-interval", "3600", "--no-default-rules"],
                         capture_output=True, text=True, check=True).stdout
    stats = [json.loads(line) for line in out.splitlines() if '"event_type":"stats"' in line]
    return stats[-1]["rpcsentry"]["stats"]["decode_bad_checksum"], \
        stats[-1]["rpcsentry"]["stats"]["packets"]


class Checksums(unittest.TestCase):

    def compare(self, paths):
        judged = 0
        for path in paths:
            with self.subTest(capture=os.path.basename(path)):
                ours, packets = ours_bad(path)
                self.assertEqual(ours, tshark_bad(path))
                judged += ours
        return judged

    def test_real_captures_agree_with_tshark(self):
        need_shared(self)
        paths = sorted(glob.glob(os.path.join(SHARED_PCAPS, "*.pcap")) +
                       glob.glob(os.path.join(SHARED_PCAPS, "*.pcapng")))
        self.assertGreater(len(paths), 50)
        # offloaded senders: many real captures carry thousands of wrong checksums
        self.assertGreater(self.compare(paths), 10000)

    def test_our_captures_agree_with_tshark(self):
        # tshark 4.0 reads the last four octets of a FabricPath frame as its FCS (the
        # frames on such a link carry one; the generator's, like most captures, do not),
        # so it judges every inner TCP segment four octets short and bad: not compared
        paths = sorted(p for p in glob.glob(os.path.join(PCAPS, "*.pcap")) +
                       glob.glob(os.path.join(PCAPS, "lab", "*.pcap"))
                       if not p.endswith("evasion_tunnel_fabricpath.pcap"))
        self.assertGreater(len(paths), 30)
        # the generators write right checksums, except the decoy evasion's two
        self.assertEqual(self.compare(paths), 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
