"""The project's own captures (tests/gen/make_pcaps.py): every call the
generator put on the wire is reported as it was sent, and nothing else."""

import glob
import json
import os
import subprocess
import sys
import unittest

from common import EXPECTED, PCAPS, ROOT, records, validate_record, TempDir


def at_path(obj, path):
    """The value at a dotted path; through an array, its first element."""
    for part in path.split("."):
        if isinstance(obj, list):
            obj = obj[0] if obj else None
        if not isinstance(obj, dict) or part not in obj:
            return KeyError
        obj = obj[part]
    return obj


def key(src_ip, src_port, dest_ip, dest_port, call_id, request):
    return (src_ip, src_port, dest_ip, dest_port, call_id, request)


class Generated(unittest.TestCase):
    def check_capture(self, truth_path):
        with open(truth_path) as f:
            truth = json.load(f)
        pcap = os.path.join(PCAPS, truth["capture"])
        recs = records(pcap)
        dce = [r for r in recs if r["event_type"] == "dcerpc"]
        by_key = {}
        for r in dce:
            k = key(r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"],
                    r["dcerpc"]["call_id"], r["dcerpc"]["request"])
            self.assertNotIn(k, by_key, "two records for %s" % (k,))
            by_key[k] = r
        for t in truth["calls"]:
            k = key(t["src_ip"], t["src_port"], t["dest_ip"], t["dest_port"], t["call_id"],
                    t["request"])
            with self.subTest(capture=truth["capture"], call=k):
                self.assertIn(k, by_key, "call not reported")
                r = by_key[k]
                d, x = r["dcerpc"], r.get("rpcsentry", {})
                self.assertEqual(d["response"], t["response"])
                if "opnum" in t:
                    self.assertEqual(d["req"]["opnum"], t["opnum"])
                    self.assertEqual(d["req"]["frag_cnt"], t["req_frag_cnt"])
                    self.assertEqual(d["req"]["stub_data_size"], t["req_stub_size"])
                if "res_frag_cnt" in t:
                    self.assertEqual(d["res"]["frag_cnt"], t["res_frag_cnt"])
                if "res_stub_size" in t:
                    self.assertEqual(d["res"]["stub_data_size"], t["res_stub_size"])
                if t["request"] == "REQUEST":
                    if t.get("iface"):
                        self.assertEqual(d["interfaces"][0]["uuid"], t["iface"])
                        self.assertEqual(x.get("operation"), t["operation"])
                        self.assertEqual(x.get("class"), t["cls"])
                    elif "iface" in t:
                        self.assertNotIn("interfaces", d)
                    self.assertEqual(x.get("sealed"), t["sealed"])
                if "interfaces" in t:
                    got = [(i["uuid"], i.get("ack_result", -1)) for i in d["interfaces"]]
                    want = [(i["uuid"], i["ack_result"]) for i in t["interfaces"]]
                    self.assertEqual(got, want)
                if "user" in t:
                    self.assertEqual(x.get("auth", {}).get("user"), t["user"])
                for k in ("transport", "named_pipe", "share"):
                    if k in t:
                        self.assertEqual(x.get(k), t[k], k)
                if "auth_level" in t:
                    self.assertEqual(x.get("auth", {}).get("level_id"), t["auth_level"])
                for flag in t.get("flags", []):
                    self.assertIn(flag, x.get("flags", []))
                for path, value in t.get("expect", {}).items():
                    self.assertEqual(at_path(x, path), value, path)
                if "indicators" in t:
                    self.assertEqual(sorted(i["name"] for i in x.get("indicators", [])),
                                     sorted(t["indicators"]))
                validate_record(self, r)
        self.assertEqual(len(dce), len(truth["calls"]),
                         "records beyond the truth: %s" % sorted(set(by_key) - {
                             key(t["src_ip"], t["src_port"], t["dest_ip"], t["dest_port"],
                                 t["call_id"], t["request"]) for t in truth["calls"]}))
        if "anomalies" in truth:
            events = {r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"}
            self.assertEqual(sorted(events), sorted(truth["anomalies"]), "anomaly events")
        for r in recs:
            validate_record(self, r)

    def test_every_generated_capture(self):
        paths = sorted(glob.glob(os.path.join(EXPECTED, "*.truth.json")))
        self.assertGreater(len(paths), 10)
        for p in paths:
            with self.subTest(truth=os.path.basename(p)):
                self.check_capture(p)

    def test_generator_is_deterministic(self):
        """Regenerating the captures gives the committed bytes: the truth files
        describe exactly what is in pcaps/."""
        with TempDir() as d:
            subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "make_pcaps.py"),
                            "--out", d, "--truth", d], check=True)
            for p in sorted(glob.glob(os.path.join(EXPECTED, "*.truth.json"))):
                name = os.path.basename(p)[:-len(".truth.json")]
                with open(os.path.join(PCAPS, name + ".pcap"), "rb") as a, \
                        open(os.path.join(d, name + ".pcap"), "rb") as b:
                    self.assertEqual(a.read(), b.read(), name + ".pcap differs from its generator")
                with open(p) as a, open(os.path.join(d, name + ".truth.json")) as b:
                    self.assertEqual(a.read(), b.read(), name + " truth differs")


if __name__ == "__main__":
    unittest.main()
