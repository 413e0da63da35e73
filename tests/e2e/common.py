"""Shared helpers for the end-to-end tests: run the real binary, read its
records, find the shared captures, validate against the schemas."""

import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RPCSENTRY_BIN", os.path.join(ROOT, "build", "rpcsentry"))
SHARED = os.environ.get("RPCSENTRY_SHARED", os.path.join(ROOT, "..", "shared"))
SHARED_PCAPS = os.path.join(SHARED, "pcaps")
PCAPS = os.path.join(ROOT, "pcaps")
EXPECTED = os.path.join(ROOT, "tests", "expected")
REQUIRE_SHARED = os.environ.get("RPCSENTRY_REQUIRE_SHARED") == "1"


def need_shared(test):
    """Skips when ../shared is absent (a user's clone); fails in CI, where
    RPCSENTRY_REQUIRE_SHARED=1 says it must be there."""
    if os.path.isdir(SHARED_PCAPS):
        return
    if REQUIRE_SHARED:
        test.fail("../shared/pcaps is missing but RPCSENTRY_REQUIRE_SHARED=1")
    test.skipTest("../shared (real captures) not present beside the checkout")


def _no_repeated_keys(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise ValueError("repeated key %r" % k)
        seen.add(k)
    return dict(pairs)


def strict_loads(line):
    """json.loads that refuses a repeated key at any depth: jq keeps the last one
    silently, Elasticsearch rejects the whole document."""
    return json.loads(line, object_pairs_hook=_no_repeated_keys)


def check_record_lines(text, what="output"):
    """Every JSON line of text parses with no repeated key (AssertionError naming it)."""
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("{"):
            try:
                strict_loads(line)
            except ValueError as e:
                raise AssertionError("%s line %d: %s: %s" % (what, n, e, line[:300]))


def run(args, check=True):
    """Runs rpcsentry with args; returns (returncode, stdout, stderr). Every record on
    stdout is checked for repeated keys."""
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError("rpcsentry %s failed (%d): %s" % (args, p.returncode, p.stderr))
    if "internal:" in p.stderr or "runtime error" in p.stderr:
        raise AssertionError("rpcsentry %s: %s" % (args, p.stderr))
    check_record_lines(p.stdout, "rpcsentry %s" % " ".join(map(str, args))[:200])
    return p.returncode, p.stdout, p.stderr


def records(pcaps, *extra):
    """All EVE records for the given capture(s), parsed."""
    if isinstance(pcaps, str):
        pcaps = [pcaps]
    args = []
    for p in pcaps:
        args += ["-r", p]
    _, out, _ = run(args + ["-q", "-l", "-"] + list(extra))
    return [json.loads(line) for line in out.splitlines() if line.strip()]  # checked by run


def calls(recs):
    return [r for r in recs if r.get("event_type") == "dcerpc"
            and r["dcerpc"].get("request") == "REQUEST"]


class DecryptRuns:
    """What the tests of sealed calls share (test_ntlm_decrypt, test_krb_decrypt): a run
    with the class's rules and a stats record, every output kept (self.outputs) so that
    the last test can look for key material in all of them."""

    def sensor(self, pcap, *extra, check=True):
        rc, out, err = run(["-q", "-r", pcap, "-l", "-", "--stats-interval", "1",
                            "-S", self.rules] + list(extra), check=check)
        self.outputs.append(out + err)
        recs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
        return rc, recs, err

    def stats(self, recs):
        return [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]

    def anomalies(self, recs):
        return [r for r in recs if r["event_type"] == "anomaly"
                and r["anomaly"]["event"] == "dcerpc.decrypt_failed"]

    def sids(self, recs):
        return [r["alert"]["signature_id"] for r in recs if r["event_type"] == "alert"]


def shared_pcap(name):
    return os.path.join(SHARED_PCAPS, name)


def load_jsonl(path):
    with open(path) as f:
        return [strict_loads(line) for line in f if line.strip()]


_validators = {}


def validator(which):
    """'suricata': Suricata's own schema (../shared); 'extension': ours."""
    if which not in _validators:
        import jsonschema
        path = (os.path.join(SHARED, "reference", "suricata-eve-schema.json") if which == "suricata"
                else os.path.join(ROOT, "schema", "rpcsentry-extension.schema.json"))
        with open(path) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        _validators[which] = cls(schema)
    return _validators[which]


def validate_record(test, rec):
    """Our record = Suricata's schema + the rpcsentry object (ours)."""
    ext = rec.get("rpcsentry")
    rest = {k: v for k, v in rec.items() if k != "rpcsentry"}
    if os.path.isfile(os.path.join(SHARED, "reference", "suricata-eve-schema.json")):
        errs = list(validator("suricata").iter_errors(rest))
        test.assertFalse(errs, "Suricata schema: %s in %s" % (errs[:1], json.dumps(rest)[:400]))
    if ext is not None:
        errs = list(validator("extension").iter_errors(ext))
        test.assertFalse(errs, "extension schema: %s in %s" % (errs[:1], json.dumps(ext)[:400]))


class TempDir:
    def __enter__(self):
        self.d = tempfile.mkdtemp(prefix="rpcsentry-test-")
        return self.d

    def __exit__(self, *a):
        import shutil
        shutil.rmtree(self.d, ignore_errors=True)
