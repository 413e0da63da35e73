"""The traffic lab (tests/lab/): real clients (impacket's psexec, smbexec,
atexec, services, rpcdump; Samba's net; the lab's own impacket scripts)
against real servers (Samba 4.17) and the lab's fake_rpc_server.py, captured
in network namespaces into pcaps/lab/.

For every committed capture, the sensor must report exactly the calls its
<scenario>.expected.json lists: the same calls in the order they were made,
each with its interface, operation, class and sealing, and the values given to
the tools decoded (service names, binary paths, task paths, task commands).
The expectations are written in tests/lab/lab.py from what the tools were
told to do, not from the sensor's output.

One more test runs a short scenario live (namespaces, Samba and the fake
server, atexec at auth level connect, tcpdump and the sensor on the monitor
port) and compares the live records with the capture read back. It needs
root, `ip netns`, Samba, tcpdump and python3-impacket; it skips without them,
unless RPCSENTRY_REQUIRE_LIVE=1 (CI), which makes a skip a failure.
"""

import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import unittest

from common import BIN, PCAPS, ROOT, TempDir, load_jsonl, records

LAB = os.path.join(ROOT, "tests", "lab")
LAB_PCAPS = os.path.join(PCAPS, "lab")
REQUIRE_LIVE = os.environ.get("RPCSENTRY_REQUIRE_LIVE") == "1"
sys.path.insert(0, LAB)
from expect import problems, sensor_calls  # noqa: E402

# Scenarios where the sensor is known to miss or misdecode a call of a real
# capture, each with what exactly is wrong; marked expectedFailure (the
# expectation stays as the tools made the calls).
KNOWN_WRONG = {
}


def secrets_file(d, keys):
    """An --ntlm-secrets file (mode 0600) in d for an expectation's account and password."""
    from impacket import ntlm  # Debian's python3-impacket
    path = os.path.join(d, "lab.secrets")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("%s:%s\n" % (keys["ntlm_user"], ntlm.compute_nthash(keys["password"]).hex()))
    return path


def expectations():
    out = {}
    for path in sorted(glob.glob(os.path.join(LAB_PCAPS, "*.expected.json"))):
        with open(path) as f:
            doc = json.load(f)
        out[doc["scenario"]] = doc
    return out


EXPECTED = expectations()


class LabCaptures(unittest.TestCase):
    """pcaps/lab/<scenario>.pcap against <scenario>.expected.json."""

    def test_every_scenario_is_committed_whole(self):
        self.assertGreaterEqual(len(EXPECTED), 10)
        for name in EXPECTED:
            for ext in (".pcap", ".md"):
                self.assertTrue(os.path.isfile(os.path.join(LAB_PCAPS, name + ext)), name + ext)
            self.assertLess(os.path.getsize(os.path.join(LAB_PCAPS, name + ".pcap")), 512 * 1024)
        # the scenarios the lab must have
        for name in ("psexec_svcctl", "services_create_start_delete", "smbexec_cmd_in_binpath",
                     "atexec_privacy", "atexec_connect", "change_service_existing",
                     "epm_dynamic_port_task"):
            self.assertIn(name, EXPECTED)

    def check(self, name):
        doc = EXPECTED[name]
        pcap = os.path.join(LAB_PCAPS, name + ".pcap")
        if doc.get("keys"):
            # SMB 3 encrypted: the calls are there only for a sensor given the key
            # (tests/e2e/test_smb3_decrypt.py); without it, none
            self.assertEqual(sensor_calls(records(pcap)), [], name)
            with TempDir() as d:
                if "keytab" in doc["keys"]:  # Kerberos: the keytab the DC exported
                    kt = os.path.join(d, "lab.keytab")
                    shutil.copy(os.path.join(LAB_PCAPS, doc["keys"]["keytab"]), kt)
                    os.chmod(kt, 0o600)
                    recs = records(pcap, "--keytab", kt)
                else:
                    recs = records(pcap, "--ntlm-secrets", secrets_file(d, doc["keys"]))
        else:
            recs = records(pcap)
        diff = problems(doc["calls"], recs)
        self.assertEqual(diff, [], "%s: the sensor's calls differ from the expectation:\n  %s" % (
            name, "\n  ".join(diff)))
        return recs


def _make(name):
    def test(self):
        self.check(name)
    test.__name__ = "test_" + name
    test.__doc__ = "%s: %s" % (name, EXPECTED[name]["title"])
    if name in KNOWN_WRONG:
        test = unittest.expectedFailure(test)
    return test


for _name in EXPECTED:
    setattr(LabCaptures, "test_" + _name, _make(_name))


class LabSpecifics(unittest.TestCase):
    """A few properties of the lab captures beyond the call lists."""

    def calls(self, name):
        return sensor_calls(records(os.path.join(LAB_PCAPS, name + ".pcap")))

    def test_sealed_atexec_hides_everything_but_the_operation(self):
        calls = self.calls("atexec_privacy")
        self.assertTrue(calls)
        for r in calls:
            x = r["rpcsentry"]
            self.assertTrue(x["sealed"])
            self.assertFalse(x.get("args"))
            self.assertEqual(x["auth"]["level"], "packet_privacy")
            self.assertEqual(x["auth"]["user"], "Administrator")

    def test_connect_level_atexec_shows_the_auth_and_the_xml(self):
        calls = self.calls("atexec_connect")
        x = calls[0]["rpcsentry"]
        self.assertEqual(x["auth"]["level"], "connect")
        self.assertIn("<Command>cmd.exe</Command>", x["args"]["xml"])

    def test_the_dynamic_port_is_the_one_the_mapper_announced(self):
        calls = self.calls("epm_dynamic_port_task")
        towers = calls[0]["rpcsentry"]["result"]["towers"]
        self.assertEqual([(t["port"], t["ip"]) for t in towers], [(49670, "192.0.2.21")])
        self.assertEqual({r["dest_port"] for r in calls[1:]}, {49670})
        self.assertEqual({r["rpcsentry"]["transport"] for r in calls[1:]}, {"ncacn_ip_tcp"})

    def test_samba_mapper_answer_names_the_port_of_the_session(self):
        calls = self.calls("samba_epm_dynamic_port")
        lookup, emap, lsa = calls
        # Samba's 38 entries outgrow a record: the first ones, and the flag that says so
        res = lookup["rpcsentry"]["result"]
        self.assertEqual(res["num_entries"], 38)
        self.assertTrue(0 < len(res["entries"]) < 38)
        self.assertTrue(lookup["rpcsentry"]["args_truncated"])
        self.assertIn(("svcctl", "ncacn_np", "\\pipe\\svcctl"),
                      [(t["interface"]["name"], t["protocol"], t.get("endpoint"))
                       for t in lookup["rpcsentry"]["result"]["target_endpoints"]])
        towers = emap["rpcsentry"]["result"]["towers"]
        self.assertEqual([(t["ip"], t["port"]) for t in towers],
                         [("192.0.2.20", lsa["dest_port"])])
        self.assertEqual(lsa["rpcsentry"]["auth"]["level"], "packet_privacy")

    def test_smbexec_commands_are_in_the_binary_paths(self):
        paths = [r["rpcsentry"]["args"]["binary_path"] for r in self.calls("smbexec_cmd_in_binpath")
                 if r["rpcsentry"]["operation"] == "RCreateServiceW"]
        self.assertEqual(len(paths), 2)
        self.assertIn("echo whoami ^> \\\\127.0.0.1\\C$\\__output", paths[1])

    def test_named_pipes_and_transports(self):
        for name, pipe in (("psexec_svcctl", "svcctl"), ("atexec_connect", "atsvc"),
                           ("at_job", "atsvc"), ("samba_services", "svcctl")):
            calls = [r for r in self.calls(name) if r["rpcsentry"]["interface"] != "srvsvc"]
            self.assertEqual({r["rpcsentry"]["transport"] for r in calls}, {"ncacn_np"}, name)
            self.assertEqual({r["rpcsentry"]["named_pipe"].lower() for r in calls}, {pipe}, name)


def live_unavailable():
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip", "tcpdump", "smbd", "smbpasswd", "net"):
        if not shutil.which(tool):
            return "%s is not installed" % tool
    if not os.path.exists("/usr/libexec/samba/samba-dcerpcd"):
        return "samba-dcerpcd is not installed"
    if subprocess.run(["/usr/bin/python3", "-c", "import impacket"],
                      capture_output=True).returncode:
        return "Debian's python3-impacket is not installed"
    probe = "rslabprobe%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode:
        return "network namespaces are not available"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def key(r):
    x = r["rpcsentry"]
    return (x.get("interface"), x.get("operation"), x.get("class"), r["dcerpc"].get("call_id"),
            x.get("sealed"), json.dumps(x.get("args"), sort_keys=True))


class LabLive(unittest.TestCase):
    SCENARIO = "atexec_connect"

    def test_live_scenario_end_to_end(self):
        why = live_unavailable()
        if why:
            if REQUIRE_LIVE:
                self.fail("RPCSENTRY_REQUIRE_LIVE=1 but " + why)
            self.skipTest("live lab: " + why)
        with TempDir() as d:
            p = subprocess.run([os.path.join(LAB, "run.sh"), "--out", d, "--prefix",
                                "rst%d" % (os.getpid() % 100000), "--bin", BIN, "--keep-live",
                                self.SCENARIO], capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            pcap = os.path.join(d, self.SCENARIO + ".pcap")
            from_file = records(pcap)
            live = [r for r in load_jsonl(os.path.join(d, self.SCENARIO + ".live.json"))
                    if r["event_type"] != "stats"]
            self.assertEqual(collections.Counter(key(r) for r in sensor_calls(live)),
                             collections.Counter(key(r) for r in sensor_calls(from_file)))
            with open(os.path.join(d, self.SCENARIO + ".expected.json")) as f:
                fresh = json.load(f)
            self.assertEqual(fresh, EXPECTED[self.SCENARIO])
            self.assertEqual(problems(fresh["calls"], from_file), [])
            self.assertEqual(problems(fresh["calls"], live), [])


if __name__ == "__main__":
    unittest.main()
