"""The configuration file (-c): YAML with the long option names as keys; the
command line wins; mistakes are reported with the file and line."""

import json
import os
import unittest

from common import PCAPS, TempDir, run

LATERAL = os.path.join(PCAPS, "tcp_lateral_movement.pcap")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class ConfigFile(unittest.TestCase):
    def test_settings_from_the_file(self):
        with TempDir() as d:
            logs = os.path.join(d, "logs")
            os.mkdir(logs)
            rules = os.path.join(d, "mine.rules")
            write(rules, 'alert dcerpc any any -> any any (msg:"x"; rpc.class:create; '
                         'rpc.target; sid:7;)\n')
            conf = os.path.join(d, "rpcsentry.yaml")
            write(conf, "# a comment\n"
                        "read: %s\n"
                        "log-dir: %s\n"
                        "rules: [%s]\n"
                        "no-default-rules: true\n"
                        "flow-records: yes\n"
                        "no-bind-records: false\n"
                        "quiet: true\n" % (LATERAL, logs, rules))
            rc, out, err = run(["-c", conf])
            self.assertEqual((rc, out, err), (0, "", ""))
            with open(os.path.join(logs, "eve.json")) as f:
                recs = [json.loads(l) for l in f]
        kinds = {r["event_type"] for r in recs}
        self.assertIn("flow", kinds)                       # flow-records: yes
        self.assertIn("BIND", {r["dcerpc"]["request"] for r in recs
                               if r["event_type"] == "dcerpc"})  # no-bind-records: false
        self.assertEqual({r["alert"]["signature_id"] for r in recs
                          if r["event_type"] == "alert"}, {7})

    def test_the_command_line_wins(self):
        with TempDir() as d:
            conf = os.path.join(d, "c.yaml")
            write(conf, "log-dir: /nonexistent\nread: [%s]\nquiet: true\n" % LATERAL)
            rc, out, err = run(["-c", conf, "-l", "-"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("{"))

    def test_mistakes_name_the_file_and_line(self):
        cases = {
            "read: %s\nbogus: 1\n" % LATERAL: ":2: bogus is not a setting",
            "read: %s\nworkers: many\n" % LATERAL: ":2: workers: a number from 1 to 64",
            "read: %s\nmemcap: 12Q\n" % LATERAL: ":2: memcap: not a size",
            "read: %s\nflow-records: perhaps\n" % LATERAL: ":2: flow-records takes true or false",
            "test-rules: true\n": ":1: test-rules is not a setting of the configuration file",
            "- a\n- b\n": ":1: expected `option: value` lines",
            "read: [a, [b]]\n": ":1: read: a list of plain values",
            "log-dir: {a: b}\n": ":1: log-dir: a value or a list of values, not a mapping",
            "read: 'unterminated\n": "",
        }
        for text, says in cases.items():
            with self.subTest(text=text), TempDir() as d:
                conf = os.path.join(d, "c.yaml")
                write(conf, text)
                rc, out, err = run(["-c", conf], check=False)
                self.assertEqual(rc, 2, err)
                self.assertIn(conf, err)
                self.assertIn(says, err)

    def test_a_missing_file(self):
        rc, _, err = run(["-c", "/nonexistent/rpcsentry.yaml"], check=False)
        self.assertEqual(rc, 2)
        self.assertIn("/nonexistent/rpcsentry.yaml: No such file or directory", err)


if __name__ == "__main__":
    unittest.main()
