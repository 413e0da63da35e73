"""The lab's expectations against the sensor's records: used by lab.py (to
say what a fresh capture gives) and tests/e2e/test_lab.py (to assert it).

An expected call is {"interface", "operation", "opnum", "class", "sealed",
"args"?}. args maps a key, dotted for
nested objects ("task.actions", "interface.uuid"), to the value the sensor
must have decoded. The sensor's calls, in the order their requests were
captured, must be exactly the expected ones: the same number, the same
(interface, operation, opnum, class, sealed) at each place, and every
expected value present and equal.
"""

import json


def sensor_calls(recs):
    out = [r for r in recs if r.get("event_type") == "dcerpc"
           and r.get("dcerpc", {}).get("request") == "REQUEST"]
    return sorted(out, key=lambda r: (r["rpcsentry"].get("request_pcap_cnt", 0), r["pcap_cnt"]))


def lookup(obj, dotted):
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return KeyError
        obj = obj[part]
    return obj


def describe(r):
    x = r["rpcsentry"]
    return "%s %s (%s%s) call_id %s, request frame %s" % (
        x.get("interface"), x.get("operation"), x.get("class"),
        ", sealed" if x.get("sealed") else "", r["dcerpc"].get("call_id"),
        x.get("request_pcap_cnt"))


def problems(expected, recs):
    """What differs, one line each; [] when the sensor reported exactly the
    expected calls."""
    got = sensor_calls(recs)
    out = []
    if len(got) != len(expected):
        out.append("%d calls reported, %d expected" % (len(got), len(expected)))
    for i, (e, r) in enumerate(zip(expected, got)):
        x = r["rpcsentry"]
        want = (e["interface"], e["operation"], e["opnum"], e["class"], e.get("sealed", False))
        have = (x.get("interface"), x.get("operation"), x.get("opnum"), x.get("class"), x.get("sealed", False))
        if want != have:
            out.append("call %d: expected %s, got %s" % (i + 1, want, describe(r)))
            continue
        for k, v in e.get("args", {}).items():
            g = lookup(x.get("args", {}), k)
            if g is KeyError:
                out.append("call %d, %s: args.%s missing (expected %s)" % (
                    i + 1, describe(r), k, json.dumps(v)))
            elif g != v:
                out.append("call %d, %s: args.%s = %s, expected %s" % (
                    i + 1, describe(r), k, json.dumps(g), json.dumps(v)))
    for r in got[len(expected):]:
        out.append("unexpected: " + describe(r))
    for e in expected[len(got):]:
        out.append("missing: %s %s" % (e["interface"], e["operation"]))
    return out
