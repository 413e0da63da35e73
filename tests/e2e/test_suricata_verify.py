"""Suricata's own expectations on the same bytes.

suricata-verify ships, beside each capture, the checks Suricata must pass
(test.yaml: filters over its EVE output). Here the `dcerpc` record checks are
run against our records. Differences in meaning are handled openly:

- pcap_cnt: Suricata hands TCP data to its parsers when the peer acknowledges
  it, so its records carry the number of the acknowledging packet; we parse
  data as it arrives and carry the packet of the response itself. pcap_cnt is
  therefore not compared (ours is the earlier, the frame the call is in).
- stub_data_size: Suricata counts, as stub, the 8-byte response header
  (alloc_hint, context id, cancel count) of every response, and the object
  UUID of requests that carry one (PFC_OBJECT_UUID). We report the stub as
  MS-RPCE defines it, which equals the PDU's alloc_hint and tshark's "Stub
  data" (checked on bug-6191, frames 3-4: alloc_hint 164/52, Suricata
  180/60). Suricata's numbers are translated before comparing.
- Version gates: checks marked for older Suricata (lt-version/max-version)
  describe behaviour since changed and are skipped; we compare against the
  current one.
- Calls over SMB pipes: Suricata writes them as `smb` records with an
  `smb.dcerpc` object; we write one `dcerpc` record per call whatever the
  transport, with app_proto "smb". `smb.dcerpc.*` checks are translated to
  `dcerpc.*` ones over our SMB-borne records (its `opnum` is our
  `req.opnum`; its `ack_reason`, absent from its own dcerpc schema, is in our
  extension's `interfaces`), and Suricata's `dcerpc` checks count only our
  records of calls over TCP (app_proto "dcerpc").

KNOWN_DIFFERENCES lists the remaining checks where our count differs, with
the reason we are right.
"""

import csv
import os
import re
import unittest

from common import SHARED_PCAPS, need_shared, records

# Set when the SMB transport decodes named pipes.
SMB_READY = True

CONNECTIONLESS = ("connectionless DCE/RPC over UDP (ncadg_ip_udp, rpc_version 4.0) is not "
                  "decoded: MS-TSCH and MS-SCMR run only over ncacn_ip_tcp and ncacn_np, so "
                  "no task or service call can travel this way")

SURICATA_STUB_BUFFER = (
    "Suricata's dcerpc.stub_data buffer runs to the end of the PDU: it takes in the auth "
    "padding, sec_trailer and verifier of authenticated calls, and a response's 8-byte header. "
    "Call 5360 (frames 36/39, NTLM at packet integrity): request frag_len 2172, alloc_hint "
    "2092, auth_len 28; Suricata's bsize is 2148 (2172 - 24), ours the stub MS-RPCE and "
    "tshark define, 2092. test_bsize_in_stub_terms runs the same rules with the sizes in our "
    "terms and gets Suricata's counts")

# (yaml file, index of the check) -> why our count differs
KNOWN_DIFFERENCES = {
    **{("suricata-verify__dcerpc_dcerpc-udp-scapy__test.yaml", i): CONNECTIONLESS
       for i in range(5)},
    ("suricata-verify__smb2-04__test.yaml", 2):
        "Suricata logs ack_reason 0 for all three contexts; the bind_ack (frame 8) carries "
        "02 00 02 00 (provider rejection, reason 2: transfer syntaxes not supported, as tshark "
        "decodes it), 00 00 00 00, and 03 00 03 00 (negotiate ack, bitmask 3). We report 2, 0, 3",
    ("suricata-verify__dcerpc_dcerpc-bind-no-frag-flag__test.yaml", 1):
        "the first connection's bind lacks PFC_FIRST_FRAG; Suricata then ignores the bind and "
        "so never ties the request to EPM. The server accepted that bind (bind_ack frame 29, "
        "result 0) and answered the opnum 42 call in that context (fault, frame 33): the call "
        "was made on EPM, as the test's own README says ('should alert on both'). We alert on "
        "both connections, 2 where the check counts 1",
    **{("suricata-verify__dcerpc_dcerpc-frames__test.yaml", i):
       "frame:dcerpc.hdr/pdu/data (Suricata's per-PDU frames) is not supported: the rule is "
       "rejected at load with its file:line, so it cannot fire" for i in range(3)},
    **{("suricata-verify__truncate-applayer-test-02__test.yaml", i): SURICATA_STUB_BUFFER
       for i in range(2)},
    ("suricata-verify__truncate-applayer-test-01__test.yaml", 0): SURICATA_STUB_BUFFER,
    **{("suricata-verify__dropped-flow-applayer-event-logged-dcerpc__test.yaml", i):
       "the test runs Suricata as a simulated IPS (--simulate-ips): the drop rule's first "
       "match drops the flow and nothing after it is inspected. A passive sensor cannot "
       "drop; drop rules alert like alert rules, on every call they match" for i in range(2)},
    ("suricata-verify__truncate-applayer-test-01__test.yaml", 2):
        "the test runs Suricata with stream.reassembly.depth=8kb, so it stops reading the "
        "requests and logs call 5360 as REQUEST_LOST; we have no reassembly depth and report "
        "the request itself (IRemoteWinspool opnum 9, frame 39)",
}


def rides_smb(pcap):
    """True when tshark saw this capture's DCE/RPC only over SMB pipes."""
    import json
    with open(os.path.join(SHARED_PCAPS, "tshark-summary.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            if row["file"] == pcap:
                ts = list(row.get("transports", {}))
                return bool(ts) and all(t.startswith("SMB") for t in ts)
    return False


def sources():
    with open(os.path.join(SHARED_PCAPS, "SOURCES.tsv")) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    by_path = {}
    for r in rows:
        if len(r) >= 3 and r[1] == "OISF/suricata-verify":
            by_path[r[2]] = r[0]
    return by_path


def test_dir_of(yaml_name, by_path):
    """suricata-verify__dcerpc_dce-logging__test.yaml -> tests/dcerpc/dce-logging"""
    stem = yaml_name[len("suricata-verify__"):-len("__test.yaml")]
    for path in by_path:
        d = os.path.dirname(path)
        if d[len("tests/"):].replace("/", "_") == stem:
            return d
    # directories without a capture of their own (pcap: points elsewhere)
    parts = stem.split("_", 1)
    return "tests/" + ("/".join(parts) if len(parts) == 2 and parts[0] == "dcerpc" else stem)


def pcap_for(yaml_name, doc, by_path):
    d = test_dir_of(yaml_name, by_path)
    if doc.get("pcap"):
        p = os.path.normpath(os.path.join(d, doc["pcap"]))
        return by_path.get(p)
    cands = [f for path, f in by_path.items() if os.path.dirname(path) == d
             and path.endswith((".pcap", ".pcapng"))]
    return cands[0] if len(cands) == 1 else None


def get_path(rec, dotted):
    cur = rec
    for part in dotted.replace("]", "").split("."):
        name, _, idx = part.partition("[")
        if not isinstance(cur, dict) or name not in cur:
            return KeyError
        cur = cur[name]
        if idx:
            i = int(idx)
            if not isinstance(cur, list) or i >= len(cur):
                return KeyError
            cur = cur[i]
    return cur


def suricata_stub_size(rec, key, v):
    """Suricata's stub_data_size expressed in our terms (see the module doc)."""
    if key == "dcerpc.res.stub_data_size":
        return v - 8
    if key == "dcerpc.req.stub_data_size" and "object" in rec.get("rpcsentry", {}):
        return v - 16
    return v


def matches(rec, match):
    for k, v in match.items():
        if k == "pcap_cnt":
            continue
        if k == "not-has-key":
            if get_path(rec, v) is not KeyError:
                return False
            continue
        if k == "has-key":
            if get_path(rec, v) is KeyError:
                return False
            continue
        v = suricata_stub_size(rec, k, v)
        got = get_path(rec, k)
        if got is KeyError:
            return False
        if isinstance(v, str) and not isinstance(got, str):
            got = str(got)
        if got != v:
            return False
    return True


def translate(match):
    """smb.dcerpc.* checks of Suricata become dcerpc.* checks on our SMB-borne
    records; its dcerpc checks are about calls over TCP."""
    if match.get("event_type") == "dcerpc":
        return dict(match, app_proto="dcerpc")
    if match.get("event_type") != "smb" or not any(k.startswith("smb.dcerpc.") for k in match):
        return match
    out = {"app_proto": "smb"}
    for k, v in match.items():
        if k == "event_type":
            out[k] = "dcerpc"
        elif k == "smb.dcerpc.opnum":
            out["dcerpc.req.opnum"] = v
        elif re.match(r"smb\.dcerpc\.interfaces\[\d+\]\.ack_reason$", k):
            # not in Suricata's dcerpc schema: ours sits in the extension
            out["rpcsentry." + k[len("smb.dcerpc."):]] = v
        elif k.startswith("smb.dcerpc."):
            out["dcerpc." + k[len("smb.dcerpc."):]] = v
        elif k.startswith("smb."):
            continue  # SMB-level fields: compared by the SMB tests
        else:
            out[k] = v
    return out


def logs_references(conf):
    """Does this test's suricata.yaml turn on alert.metadata.rule.reference?"""
    import yaml
    with open(conf) as f:
        doc = yaml.safe_load(f) or {}
    for out in doc.get("outputs", []):
        for t in (out.get("eve-log") or {}).get("types", []):
            if isinstance(t, dict) and "alert" in t:
                rule = ((t["alert"] or {}).get("metadata") or {})
                rule = rule.get("rule") if isinstance(rule, dict) else None
                if isinstance(rule, dict) and rule.get("reference") in (True, "yes"):
                    return True
    return False


def translate_alert(match):
    """An alert on a call over a pipe: Suricata nests the call in smb.dcerpc,
    we write it in dcerpc as for any call (see translate)."""
    out = {}
    for k, v in match.items():
        if k == "smb.dcerpc.opnum":
            out["dcerpc.req.opnum"] = v
        elif k.startswith("smb.dcerpc."):
            out["dcerpc." + k[len("smb.dcerpc."):]] = v
        else:
            out[k] = v
    return out


def dcerpc_rule_sids(path):
    """Signature ids of the rules in a file that are about DCE/RPC: the dcerpc
    protocol in the header or a dcerpc/dce_ keyword in the options."""
    with open(path) as f:
        text = re.sub(r"\\\n", "", f.read())
    sids = set()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head = line.split("(", 1)[0].split()
        m = re.search(r"\bsid\s*:\s*(\d+)", line)
        if m and ((len(head) > 1 and head[1] == "dcerpc") or
                  re.search(r"\b(dcerpc\.|dce_)", line)):
            sids.add(int(m.group(1)))
    return sids


class SuricataVerify(unittest.TestCase):
    def setUp(self):
        need_shared(self)

    def test_alert_checks_with_their_rules(self):
        """Tests that ship rules: loaded alone, they raise the alerts Suricata's checks count."""
        import yaml
        by_path = sources()
        ran = 0
        for name in sorted(os.listdir(SHARED_PCAPS)):
            if not (name.startswith("suricata-verify__") and name.endswith("__test.yaml")):
                continue
            rules = os.path.join(SHARED_PCAPS, name[:-len("test.yaml")] + "test.rules")
            if not os.path.exists(rules):
                continue
            dce_sids = dcerpc_rule_sids(rules)
            if not dce_sids:
                continue  # rules about other protocols: not ours to raise
            with open(os.path.join(SHARED_PCAPS, name)) as f:
                doc = yaml.safe_load(f)
            checks = [c.get("filter") for c in doc.get("checks", []) if "filter" in c]
            checks = [(i, c) for i, c in enumerate(checks) if c and "match" in c and
                      c["match"].get("event_type") == "alert" and
                      c["match"].get("alert.signature_id", next(iter(dce_sids))) in dce_sids
                      and not
                      {"lt-version", "max-version"} & set((c.get("requires") or {}).keys())]
            if not checks:
                continue
            pcap = pcap_for(name, doc, by_path)
            self.assertIsNotNone(pcap, "no capture found for " + name)
            # Suricata alerts once per direction where we alert once per call by default
            args = ["--no-default-rules", "-S", rules, "--alert-each-direction"]
            conf = os.path.join(SHARED_PCAPS, name[:-len("test.yaml")] + "suricata.yaml")
            if os.path.exists(conf) and logs_references(conf):
                args.append("--alert-references")
            recs = records(os.path.join(SHARED_PCAPS, pcap), *args)
            alerts = [r for r in recs if r["event_type"] == "alert"]
            for i, c in checks:
                m = translate_alert(c["match"])
                with self.subTest(test=name, check=i, match=m):
                    n = sum(1 for r in alerts if matches(r, m))
                    if (name, i) in KNOWN_DIFFERENCES:
                        self.assertNotEqual(n, c["count"], "known difference is gone: " +
                                            KNOWN_DIFFERENCES[(name, i)])
                    else:
                        self.assertEqual(n, c["count"])
                ran += 1
        self.assertGreater(ran, 20)

    def test_one_alert_per_rule_per_call_by_default(self):
        """dcerpc-smb-ctxid: the rule has no direction and matches the NetrJobAdd request and
        its response. Suricata (and --alert-each-direction) alert on both; by default we
        alert once, at the request."""
        base = os.path.join(SHARED_PCAPS, "suricata-verify__dcerpc_dcerpc-smb-ctxid__")
        runs = {}
        for extra in ((), ("--alert-each-direction",)):
            recs = records(base + "input.pcap", "--no-default-rules", "-S", base + "test.rules",
                           *extra)
            runs[extra] = [(r["direction"], r["dcerpc"]["call_id"]) for r in recs
                           if r["event_type"] == "alert"]
        self.assertEqual(runs[()], [("to_server", 2)])
        self.assertEqual(runs[("--alert-each-direction",)], [("to_server", 2), ("to_client", 2)])

    def test_bsize_in_stub_terms(self):
        """truncate-applayer-test-02's rules with the stub sizes of MS-RPCE (see
        SURICATA_STUB_BUFFER): two calls of each size, as Suricata counts."""
        import tempfile
        pcap = os.path.join(SHARED_PCAPS, "suricata-verify__truncate-applayer-test-01__input.pcap")
        with tempfile.NamedTemporaryFile("w", suffix=".rules", delete=False) as f:
            f.write('alert dcerpc any any -> any any (msg:"Test Alert 1"; sid:1; '
                    'flow:established,to_client; dcerpc.stub_data; bsize:2072;)\n'
                    'alert dcerpc any any -> any any (msg:"Test Alert 2"; sid:2; '
                    'flow:established,to_server; dcerpc.stub_data; bsize:2092; '
                    'dcerpc.opnum: 9;)\n')
        try:
            recs = records(pcap, "--no-default-rules", "-S", f.name)
        finally:
            os.unlink(f.name)
        alerts = [r for r in recs if r["event_type"] == "alert"]
        self.assertEqual(sorted(r["alert"]["signature_id"] for r in alerts), [1, 1, 2, 2])
        self.assertEqual(sorted(r["dcerpc"]["call_id"] for r in alerts),
                         [5360, 5360, 5362, 5362])
        self.assertEqual({r["direction"] for r in alerts if r["alert"]["signature_id"] == 1},
                         {"to_client"})

    def test_dcerpc_checks(self):
        import yaml
        by_path = sources()
        ran = 0
        for name in sorted(os.listdir(SHARED_PCAPS)):
            if not (name.startswith("suricata-verify__") and name.endswith("__test.yaml")):
                continue
            with open(os.path.join(SHARED_PCAPS, name)) as f:
                doc = yaml.safe_load(f)
            checks = [c.get("filter") for c in doc.get("checks", []) if "filter" in c]
            checks = [(i, c) for i, c in enumerate(checks) if c and "match" in c and not
                      {"lt-version", "max-version"} & set((c.get("requires") or {}).keys())]
            wanted = [(i, c, translate(c["match"])) for i, c in checks]
            wanted = [(i, c, m) for i, c, m in wanted if m.get("event_type") == "dcerpc"]
            if not wanted:
                continue
            pcap = pcap_for(name, doc, by_path)
            self.assertIsNotNone(pcap, "no capture found for " + name)
            if not SMB_READY and (rides_smb(pcap) or any(
                    k.startswith("smb.") for _i, c, _m in wanted for k in c["match"])):
                continue
            recs = records(os.path.join(SHARED_PCAPS, pcap))
            for i, c, m in wanted:
                with self.subTest(test=name, check=i, match=m):
                    n = sum(1 for r in recs if matches(r, m))
                    if (name, i) in KNOWN_DIFFERENCES:
                        self.assertNotEqual(n, c["count"], "known difference is gone: " +
                                            KNOWN_DIFFERENCES[(name, i)])
                    else:
                        self.assertEqual(n, c["count"])
                ran += 1
        self.assertGreater(ran, 10)


if __name__ == "__main__":
    unittest.main()
