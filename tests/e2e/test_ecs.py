"""The Elastic hand-off (etc/elastic/): every record the sensor writes on the
shared captures and on ours goes through the ingest pipeline (run by
ecs_eval.py, which implements exactly the processors it uses), and what comes
out carries the ECS fields with the values of its own record and fits the
index template's mappings."""

import collections
import datetime
import ipaddress
import json
import os
import re
import sys
import unittest

import ecs_eval
from common import PCAPS, ROOT, SHARED_PCAPS, need_shared, records

PIPELINE = os.path.join(ROOT, "etc", "elastic", "rpcsentry-ingest-pipeline.json")
TEMPLATE = os.path.join(ROOT, "etc", "elastic", "rpcsentry-index-template.json")
SERVICE_CREATES = ("RCreateServiceW", "RCreateServiceA", "RCreateServiceWOW64W",
                   "RCreateServiceWOW64A")

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
FLATTENED_DEPTH = 20  # Elasticsearch's default depth_limit for flattened fields


def suricata_time_to_ms(ts):
    """Suricata's 2026-11-22T02:23:58.123456+0000 as the date processor's default
    output (milliseconds, UTC, Z), computed here without the evaluator."""
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def get(doc, path, default=None):
    cur = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


def leaf_ok(typ, mapping, v):
    """Whether Elasticsearch would index v in a field of this mapping type."""
    if typ in ("keyword", "wildcard", "match_only_text", "text"):
        return isinstance(v, str)
    if typ == "long":
        return isinstance(v, int) and not isinstance(v, bool) and -2**63 <= v < 2**63
    if typ == "boolean":
        return isinstance(v, bool)
    if typ == "ip":
        try:
            ipaddress.ip_address(v)
            return True
        except (TypeError, ValueError):
            return False
    if typ in ("date", "date_nanos"):
        if not isinstance(v, str):
            return False
        fmt = mapping.get("format")
        if fmt is None:
            return bool(ISO_DATE.match(v))
        if fmt not in ecs_eval.DATE_FORMATS:
            raise AssertionError("the test does not know the date format %r" % fmt)
        return bool(ecs_eval.DATE_FORMATS[fmt].match(v))
    raise AssertionError("the test does not know the mapping type %r" % typ)


def depth(v):
    if isinstance(v, dict):
        return 1 + max([depth(x) for x in v.values()] or [0])
    if isinstance(v, list):
        return max([depth(x) for x in v] or [0])
    return 0


def mapping_errors(doc, props, prefix=""):
    """Every field of doc must be mapped (or lie under a flattened or disabled
    field) with a type that takes its value; returns what is not."""
    errors = []
    for key, v in doc.items():
        path = prefix + key
        m = props.get(key)
        if m is None:
            errors.append("%s: not in the template's mappings" % path)
            continue
        if m.get("enabled") is False:
            continue
        typ = m.get("type", "object")
        if typ == "flattened":
            if depth(v) > FLATTENED_DEPTH:
                errors.append("%s: deeper than the flattened depth_limit" % path)
            continue
        if typ in ("object", "nested"):
            items = v if isinstance(v, list) else [v]
            for item in items:
                if not isinstance(item, dict):
                    errors.append("%s: an object is mapped, got %r" % (path, item))
                else:
                    errors += mapping_errors(item, m.get("properties", {}), path + ".")
            continue
        items = v if isinstance(v, list) else [v]
        for item in items:
            if not leaf_ok(typ, m, item):
                errors.append("%s: %r does not fit type %s" % (path, item, typ))
    return errors


class ECS(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pipeline = ecs_eval.load(PIPELINE)
        with open(TEMPLATE) as f:
            cls.template = json.load(f)
        cls.mappings = cls.template["template"]["mappings"]["properties"]

    def run_pipeline(self, recs):
        """Each record as one EVE line in `message`, as a shipper sends it."""
        return [self.pipeline.run({"message": json.dumps(r)}) for r in recs]

    def check(self, where, recs):
        self.assertTrue(recs, "no records from %s" % where)
        docs = self.run_pipeline(recs)
        seen = collections.Counter()
        for rec, doc in zip(recs, docs):
            et = rec["event_type"]
            seen[et] += 1
            what = "%s %s pcap_cnt %s" % (where, et, rec.get("pcap_cnt"))
            self.check_common(what, rec, doc)
            rs = rec.get("rpcsentry", {})
            if et == "dcerpc" and rs.get("target"):
                seen["target calls"] += 1
                seen.update(self.check_target_call(what, rec, doc))
            if et == "alert":
                self.check_alert(what, rec, doc)
            if et == "fileinfo":
                seen["fileinfo with sha256"] += self.check_fileinfo(what, rec, doc)
            if et == "lateral_movement":
                self.assertEqual(doc["event"]["action"], rs["story"]["kind"], what)
            if et == "anomaly":
                self.assertEqual(doc["event"]["action"], rec["anomaly"]["event"], what)
            errs = mapping_errors(doc, self.mappings)
            self.assertEqual(errs, [], what)
        print("\n%s: %s" % (where, ", ".join("%s %d" % kv for kv in sorted(seen.items()))),
              file=sys.stderr)
        return seen

    def check_common(self, what, rec, doc):
        self.assertEqual(doc["@timestamp"], suricata_time_to_ms(rec["timestamp"]), what)
        self.assertEqual(doc["event"]["dataset"], "rpcsentry." + rec["event_type"], what)
        self.assertEqual(doc["event"]["module"], "rpcsentry", what)
        self.assertEqual(doc["event"]["kind"], {"alert": "alert", "stats": "metric"}
                         .get(rec["event_type"], "event"), what)
        if "src_ip" not in rec:
            # No flow: a stats record, or a decoder anomaly on a packet that never
            # made one (defrag.*); the pipeline then writes no address either.
            self.assertTrue(rec["event_type"] == "stats" or (
                rec["event_type"] == "anomaly" and rec["anomaly"]["type"] == "decode"), what)
            self.assertNotIn("source", doc, what)
            self.assertNotIn("destination", doc, what)
        else:
            self.assertEqual(get(doc, "source.ip"), rec["src_ip"], what)
            self.assertEqual(get(doc, "source.port"), rec["src_port"], what)
            self.assertEqual(get(doc, "destination.ip"), rec["dest_ip"], what)
            self.assertEqual(get(doc, "destination.port"), rec["dest_port"], what)
            self.assertEqual(get(doc, "network.transport"), rec["proto"].lower(), what)
            self.assertEqual(get(doc, "network.community_id"), rec["community_id"], what)
            self.assertIn("network", doc["event"]["category"], what)
        # Nothing is lost: the Suricata part and our extension together are the record.
        back = dict(doc["suricata"]["eve"])
        if "rpcsentry" in doc:
            back["rpcsentry"] = doc["rpcsentry"]
        self.assertEqual(back, rec, what)
        self.assertNotIn("message", doc, what)

    def check_target_call(self, what, rec, doc):
        rs, args = rec["rpcsentry"], rec["rpcsentry"].get("args", {})
        kinds = []
        self.assertEqual(doc["event"]["action"], rs["operation"], what)
        self.assertEqual(get(doc, "threat.technique.id"), rs.get("attack"), what)
        if rs["class"] == "create":
            self.assertIn("creation", doc["event"]["type"], what)
        if "service_name" in args and args["service_name"]:
            self.assertEqual(doc["service"]["name"], args["service_name"], what)
        if rs["operation"] in SERVICE_CREATES and "binary_path" in args:
            kinds.append("service creations")
            self.assertEqual(doc["service"]["name"], args["service_name"], what)
            self.assertEqual(doc["process"]["command_line"], args["binary_path"], what)
        if rs["operation"] == "SchRpcRegisterTask" and args.get("task", {}).get("actions"):
            kinds.append("task registrations")
            first = args["task"]["actions"][0]
            want = first["command"]
            if first.get("arguments"):
                want += " " + first["arguments"]
            self.assertEqual(doc["process"]["command_line"], want, what)
        user = get(rec, "rpcsentry.auth.user") or get(rec, "smb.ntlmssp.user")
        if user:
            kinds.append("target calls with a user")
            self.assertEqual(doc["user"]["name"], user, what)
        else:
            self.assertIsNone(get(doc, "user.name"), what)
        domain = get(rec, "rpcsentry.auth.domain") or get(rec, "smb.ntlmssp.domain")
        self.assertEqual(get(doc, "user.domain"), domain or None, what)
        return kinds

    def check_alert(self, what, rec, doc):
        a = rec["alert"]
        self.assertEqual(doc["rule"]["id"], str(a["signature_id"]), what)
        self.assertEqual(doc["rule"]["name"], a["signature"], what)
        self.assertEqual(doc["rule"]["category"], a["category"], what)
        self.assertEqual(doc["event"]["severity"], a["severity"], what)
        self.assertIn("intrusion_detection", doc["event"]["category"], what)

    def check_fileinfo(self, what, rec, doc):
        fi, rs = rec["fileinfo"], rec.get("rpcsentry", {})
        self.assertEqual(get(doc, "file.size"), fi.get("size"), what)
        self.assertEqual(get(doc, "file.path"), rs.get("path"), what)
        self.assertEqual(get(doc, "file.name"), rs.get("base_name"), what)
        self.assertEqual(get(doc, "file.hash.sha256"), fi.get("sha256"), what)
        return 1 if "sha256" in fi else 0

    def sensor(self, pcaps):
        return records(pcaps, "--flow-records", "--stats-interval", "1")

    def test_shared_captures(self):
        need_shared(self)
        seen = self.check("shared", self.sensor(SHARED_PCAPS))
        for kind in ("dcerpc", "alert", "anomaly", "fileinfo", "lateral_movement", "smb",
                     "flow", "stats", "service creations", "task registrations",
                     "target calls with a user", "fileinfo with sha256"):
            self.assertGreater(seen[kind], 0, "no %s in the shared captures" % kind)

    def test_project_captures(self):
        seen = self.check("pcaps", self.sensor(PCAPS))
        for kind in ("dcerpc", "alert", "lateral_movement", "flow", "service creations",
                     "task registrations"):
            self.assertGreater(seen[kind], 0, "no %s in pcaps/" % kind)

    def test_template_covers_pipeline_outputs(self):
        """Every field the pipeline writes outside suricata.eve and rpcsentry is mapped."""
        t = self.template
        self.assertEqual(t["index_patterns"], ["rpcsentry-*"])
        self.assertEqual(t["template"]["settings"]["index.default_pipeline"], "rpcsentry")
        with open(PIPELINE) as f:
            procs = json.load(f)["processors"]
        for p in procs:
            (kind, o), = p.items()
            for key in ("target_field", "field"):
                f = o.get(key)
                if kind in ("set", "append", "date") and key == "field" or key == "target_field":
                    if f and not f.startswith(("suricata.", "rpcsentry")):
                        m = {"properties": self.mappings}
                        for part in f.split("."):
                            m = m.get("properties", {}).get(part)
                            self.assertIsNotNone(m, "%s (%s) is not mapped" % (f, kind))
                        self.assertIn("type", m, f)


class Evaluator(unittest.TestCase):
    """ecs_eval refuses what it does not implement, so test_ecs cannot pass on a
    pipeline that uses something untested."""

    def load(self, procs):
        return ecs_eval.Pipeline({"processors": procs})

    def test_refuses_unknown_processor(self):
        for proc in ({"script": {"source": "ctx.x = 1"}},
                     {"grok": {"field": "message", "patterns": ["%{IP:ip}"]}},
                     {"pipeline": {"name": "other"}}):
            with self.assertRaises(ecs_eval.Unsupported, msg=proc):
                self.load([proc])

    def test_refuses_unknown_option_and_pipeline_key(self):
        with self.assertRaises(ecs_eval.Unsupported):
            self.load([{"set": {"field": "a", "value": "b", "media_type": "text/plain"}}])
        with self.assertRaises(ecs_eval.Unsupported):
            ecs_eval.Pipeline({"processors": [], "on_failure": []})
        with self.assertRaises(ecs_eval.Unsupported):
            self.load([{"date": {"field": "t", "formats": ["ISO8601"]}}])
        with self.assertRaises(ecs_eval.Unsupported):
            self.load([{"set": {"field": "a", "value": "b", "ignore_failure": True}}])

    def test_refuses_conditions_and_templates_outside_the_subset(self):
        for cond in ("ctx.a.contains('x')", "ctx.a =~ /x/", "ctx.a == 'x'; ctx.b = 1",
                     "!(ctx.a == null)", "ctx.a instanceof String"):
            with self.assertRaises(ecs_eval.Unsupported, msg=cond):
                self.load([{"set": {"if": cond, "field": "a", "value": "b"}}])
        with self.assertRaises(ecs_eval.Unsupported):
            self.load([{"set": {"field": "a", "value": "{{b}}"}}])  # escaping: not implemented

    def test_semantics(self):
        """The few Elasticsearch behaviours the pipeline relies on."""
        p = self.load([
            {"rename": {"field": "a", "target_field": "b"}},
            {"set": {"if": "ctx.x?.y == null", "field": "c", "copy_from": "b.0.k"}},
            {"set": {"field": "d", "value": "{{{b.0.k}}} {{{missing}}}"}},
            {"append": {"field": "e", "value": ["n", "n"], "allow_duplicates": False}},
            {"set": {"field": "f", "copy_from": "nothing", "ignore_empty_value": True}}])
        out = p.run({"a": [{"k": "v"}]})
        self.assertEqual(out, {"b": [{"k": "v"}], "c": "v", "d": "v ", "e": ["n"]})
        with self.assertRaises(ecs_eval.ProcessorError):  # rename of a missing field fails
            p.run({})
        npe = self.load([{"set": {"if": "ctx.x.y == 1", "field": "a", "value": 1}}])
        with self.assertRaises(ecs_eval.ProcessorError):  # Painless: null.y throws
            npe.run({})
        with self.assertRaises(ecs_eval.ProcessorError):  # a condition must be boolean
            self.load([{"set": {"if": "ctx.x", "field": "a", "value": 1}}]).run({"x": "s"})

    def test_pipeline_fails_a_record_that_is_not_json(self):
        p = ecs_eval.load(PIPELINE)
        with self.assertRaises(ecs_eval.ProcessorError):
            p.run({"message": "{not json"})
        with self.assertRaises(ecs_eval.ProcessorError):  # Elasticsearch also refuses these
            p.run({"message": '{"event_type": "x", "event_type": "y"}'})


if __name__ == "__main__":
    unittest.main()
