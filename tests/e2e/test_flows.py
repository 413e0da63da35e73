"""`flow` records (--flow-records) and what nDPI says each flow was.

The application protocol of every flow in the shared captures is compared
with tshark's dissection of the same flow; packet and byte counts with
tshark's conversations. Where nDPI and tshark disagree, the test says which
is right.
"""

import collections
import json
import os
import subprocess
import unittest

from common import (PCAPS, SHARED_PCAPS, need_shared, records, run, shared_pcap,
                    validate_record)

# tshark's protocol names -> Suricata's app_proto names
TSHARK = {"dns": "dns", "http": "http", "tls": "tls", "kerberos": "krb5", "ldap": "ldap",
          "smb": "smb", "smb2": "smb", "dcerpc": "dcerpc", "ssh": "ssh", "ntp": "ntp",
          "rdp": "rdp", "snmp": "snmp", "dhcp": "dhcp", "sip": "sip", "ftp": "ftp",
          "smtp": "smtp"}

Z3950 = ("tls", "z39.50", "tshark: these flows carry TLS records to port 443. nDPI 4.2 (Debian) "
         "takes them for Z39.50 from their first bytes (both picked up after the handshake)")
# (capture, flow endpoints) -> (tshark's, ours, who is right and why)
SD = "Security-Datasets__schtask_create_2020-12-1907003032.pcapng"
KNOWN = {
    (SD, (("172.18.39.5", 56458), ("20.38.98.4", 443))): Z3950,
    (SD, (("172.18.39.5", 56575), ("40.79.154.83", 443))): Z3950,
    (SD, (("172.18.39.5", 3389), ("71.191.74.123", 54545))):
        ("tls", "rdp", "both: RDP on 3389 wrapped in TLS; tshark names the outer layer, nDPI "
         "(guessing from the port after giving up) the inner one"),
}


def tshark_flows(pcap):
    """Per flow (the sorted endpoint pair): the counts of tshark's protocol names."""
    p = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-E", "separator=|",
                        "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "udp.srcport",
                        "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-e", "udp.dstport",
                        "-e", "frame.protocols"], capture_output=True, text=True, timeout=300)
    out = {}
    for line in p.stdout.splitlines():
        f = line.split("|")
        if len(f) < 9:
            continue
        src, sp, dst, dp = f[0] or f[1], f[2] or f[3], f[4] or f[5], f[6] or f[7]
        if not sp or not src or "," in src:
            continue
        key = tuple(sorted([(src, int(sp.split(",")[0])), (dst, int(dp.split(",")[0]))]))
        for pr in f[8].split(":"):
            if pr in TSHARK:
                out.setdefault(key, collections.Counter())[TSHARK[pr]] += 1
    return out


def flow_records(pcap, *extra):
    return [r for r in records(pcap, "--flow-records", *extra) if r["event_type"] == "flow"]


def endpoints(r):
    return tuple(sorted([(r["src_ip"], r["src_port"]), (r["dest_ip"], r["dest_port"])]))


class FlowRecords(unittest.TestCase):
    def test_off_by_default(self):
        recs = records(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
        self.assertFalse([r for r in recs if r["event_type"] == "flow"])

    def test_flow_records_of_the_demo(self):
        flows = flow_records(os.path.join(PCAPS, "tcp_lateral_movement.pcap"))
        self.assertEqual([(r["dest_port"], r["app_proto"], r["flow"]["alerted"]) for r in flows],
                         [(135, "dcerpc", False), (49667, "dcerpc", True),
                          (49668, "dcerpc", True)])
        for r in flows:
            validate_record(self, r)
            self.assertEqual(r["flow"]["state"], "closed")
            self.assertEqual(r["flow"]["reason"], "shutdown")
            self.assertEqual(r["tcp"]["tcp_flags"], "1b")  # SYN FIN PSH ACK
            self.assertEqual(r["src_ip"], "10.1.0.5")      # the side that opened it
            self.assertNotIn("pcap_cnt", r)

    def test_without_ndpi_only_our_engines_name_flows(self):
        pcap = shared_pcap("zeek__dce-rpc_mapi.pcap") if os.path.isdir(SHARED_PCAPS) else None
        if pcap is None:
            need_shared(self)
        flows = flow_records(pcap, "--no-ndpi")
        self.assertTrue(flows)
        for r in flows:
            self.assertIn(r.get("app_proto"), (None, "dcerpc", "smb"))
            self.assertNotIn("ndpi", r)
        with_ndpi = flow_records(pcap)
        self.assertIn("dns", {r.get("app_proto") for r in with_ndpi})


class NdpiOnRealCaptures(unittest.TestCase):
    def setUp(self):
        need_shared(self)

    def test_app_proto_agrees_with_tshark(self):
        agree = collections.Counter()
        for name in sorted(os.listdir(SHARED_PCAPS)):
            if not name.endswith((".pcap", ".pcapng")):
                continue
            pcap = shared_pcap(name)
            theirs = tshark_flows(pcap)
            for r in flow_records(pcap):
                validate_record(self, r)
                want = theirs.get(endpoints(r))
                got = r.get("app_proto")
                if not want or got is None:
                    continue  # tshark named nothing we compare, or the flow had no payload
                want = want.most_common(1)[0][0]
                with self.subTest(capture=name, flow=endpoints(r)):
                    known = KNOWN.get((name, endpoints(r)))
                    if known:
                        self.assertEqual((want, got), known[:2], known[2])
                    else:
                        self.assertEqual(got, want)
                agree[want] += got == want
        self.assertGreater(sum(agree.values()), 1200)
        for proto in ("dcerpc", "smb", "dns", "krb5", "ldap", "tls", "http"):
            self.assertGreater(agree[proto], 0, proto)

    def test_counts_equal_tshark(self):
        """Packets and bytes each way, flow by flow, against tshark's frames."""
        checked = 0
        for name in ("PCAP-ATTACK__LM_psexec_smb_dcerpc_epm_svcctl.pcapng",
                     "zeek__dce-rpc_mapi.pcap", "401trg-detections__20171220_smb_psexec_add_user.pcap"):
            pcap = shared_pcap(name)
            p = subprocess.run(["tshark", "-r", pcap, "-Y", "tcp && !icmp", "-T", "fields",
                                "-E", "separator=|", "-e", "ip.src", "-e", "tcp.srcport",
                                "-e", "ip.dst", "-e", "tcp.dstport", "-e", "frame.len"],
                               capture_output=True, text=True, timeout=300)
            sent = collections.defaultdict(lambda: [0, 0])
            pairs = collections.Counter()
            for line in p.stdout.splitlines():
                a, ap, b, bp, n = line.split("|")
                if not a:
                    continue
                src, dst = (a, int(ap)), (b, int(bp))
                sent[(src, dst)][0] += 1
                sent[(src, dst)][1] += int(n)
            flows = [r for r in flow_records(pcap) if r["proto"] == "TCP"]
            per_pair = collections.Counter(endpoints(r) for r in flows)
            for r in flows:
                if per_pair[endpoints(r)] != 1:
                    continue  # the port pair was used twice: tshark's counts mix them
                src, dst = (r["src_ip"], r["src_port"]), (r["dest_ip"], r["dest_port"])
                with self.subTest(capture=name, flow=(src, dst)):
                    self.assertEqual([r["flow"]["pkts_toserver"], r["flow"]["bytes_toserver"]],
                                     sent[(src, dst)])
                    self.assertEqual([r["flow"]["pkts_toclient"], r["flow"]["bytes_toclient"]],
                                     sent[(dst, src)])
                checked += 1
        self.assertGreater(checked, 10)


if __name__ == "__main__":
    unittest.main()
