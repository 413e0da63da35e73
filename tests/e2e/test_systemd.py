"""Running as a service: systemd/rpcsentry@.service, systemd/rpcsentry.logrotate,
systemd/rpcsentry.sysusers and etc/rpcsentry.yaml.

Covered: the unit as `cmake --install` writes it (ExecStart naming the installed binary of the
build under test) passes `systemd-analyze verify` without a warning about it, and
`systemd-analyze security --offline=yes` rates it no worse than the overall exposure level the
README states; the configuration file is accepted by the binary, changes nothing from the
defaults, and names every option that may go in a file; the logrotate snippet parses
(`logrotate -d`) and, as root, rotates a log as it is meant to; the sysusers snippet creates the
user the unit drops to.

Skips, with a message, where systemd-analyze, logrotate or systemd-sysusers is not installed
(CI installs them).
"""

import grp
import os
import re
import shutil
import subprocess
import unittest

from common import BIN, PCAPS, ROOT, TempDir

UNIT = os.path.join(ROOT, "systemd", "rpcsentry@.service")
LOGROTATE = os.path.join(ROOT, "systemd", "rpcsentry.logrotate")
SYSUSERS = os.path.join(ROOT, "systemd", "rpcsentry.sysusers")
CONFIG = os.path.join(ROOT, "etc", "rpcsentry.yaml")
README = os.path.join(ROOT, "README.md")
INSTANCE = "rpcsentry@eth1.service"
NOT_IN_FILE = {"config", "test-rules", "systemd-dropin", "version", "help"}  # refused in the configuration file

# systemd-analyze's own environment: plain text, no pager, no colours
SD_ENV = dict(os.environ, SYSTEMD_PAGER="cat", SYSTEMD_COLORS="0", LC_ALL="C.UTF-8")


def tool(name):
    """The path of a program, looking in the sbin directories too (not on a user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def need(test, name, package):
    path = tool(name)
    if not path:
        test.skipTest("%s is not installed (Debian package %s)" % (name, package))
    return path


def installed_unit(test, d):
    """A directory holding rpcsentry@.service as `cmake --install` of the build that made BIN
    writes it, with ExecStart naming the installed binary; where BIN is not in a build directory
    with that install rule, a copy of the source unit whose ExecStart names BIN.
    The install goes to a fake prefix under DESTDIR=d/dest: nothing is written outside d, even
    for a build configured with the /usr prefix (whose sysconfdir is /etc, absolute)."""
    build = os.path.dirname(os.path.abspath(BIN))
    cmake = shutil.which("cmake")
    if cmake and os.path.isfile(os.path.join(build, "cmake_install.cmake")):
        dest, prefix = os.path.join(d, "dest"), "/opt/rpcsentry-test"
        p = subprocess.run([cmake, "--install", build, "--prefix", prefix], capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, DESTDIR=dest))
        test.assertEqual(p.returncode, 0, "cmake --install: %s%s" % (p.stdout, p.stderr))
        units = [os.path.join(r, "rpcsentry@.service") for r, _, files in os.walk(dest)
                 if "rpcsentry@.service" in files]
        if units:
            test.assertEqual(len(units), 1, units)
            with open(units[0]) as f:
                unit = f.read()
            m = re.search(r"(?m)^ExecStart=(\S+) -c (\S+) ", unit)
            test.assertTrue(m, "no ExecStart with -c in the installed unit")
            binary, conf = m.group(1), m.group(2)
            test.assertTrue(binary.startswith(prefix + "/"), binary)
            test.assertTrue(os.access(dest + binary, os.X_OK), "ExecStart names " + binary)
            test.assertTrue(os.path.isfile(dest + conf), "-c names " + conf)
            # systemd-analyze looks for the binary where the unit says: in DESTDIR
            with open(units[0], "w") as f:
                f.write(re.sub(r"(?m)^ExecStart=" + re.escape(binary) + " ",
                               "ExecStart=" + dest + binary + " ", unit))
            return os.path.dirname(units[0])
    unitdir = os.path.join(d, "unit")
    os.makedirs(unitdir)
    with open(UNIT) as f:
        unit = f.read()
    test.assertIn("ExecStart=/usr/bin/rpcsentry ", unit)
    with open(os.path.join(unitdir, "rpcsentry@.service"), "w") as f:
        f.write(unit.replace("ExecStart=/usr/bin/rpcsentry ",
                             "ExecStart=%s " % os.path.abspath(BIN)))
    return unitdir


def readme_exposure(test):
    with open(README) as f:
        m = re.search(r"[Oo]verall exposure level[^0-9\n]*([0-9]+\.[0-9]+)", f.read())
    if not m:
        test.fail("README.md states no `Overall exposure level: N.N` for rpcsentry@.service")
    return float(m.group(1))


class Unit(unittest.TestCase):
    def setUp(self):
        self.analyze = need(self, "systemd-analyze", "systemd")

    def test_verify_passes(self):
        with TempDir() as d:
            unitdir = installed_unit(self, d)
            path = os.path.join(unitdir, INSTANCE)
            p = subprocess.run([self.analyze, "verify", path], capture_output=True, text=True,
                               env=SD_ENV, timeout=120)
            about_us = [line for line in (p.stdout + p.stderr).splitlines()
                        if "rpcsentry" in line]
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            # verify exits 0 on settings it ignores (an unknown address family, a typo in a
            # key): a line about our unit is a failure too
            self.assertEqual(about_us, [], "systemd-analyze verify %s" % path)

    def test_security_exposure_at_most_what_the_readme_states(self):
        limit = readme_exposure(self)
        with TempDir() as d:
            unitdir = installed_unit(self, d)
            p = subprocess.run([self.analyze, "security", "--offline=yes", "--no-pager",
                                os.path.join(unitdir, INSTANCE)],
                               capture_output=True, env=SD_ENV, timeout=120)
            out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
            m = re.search(r"Overall exposure level for \S+: ([0-9]+\.[0-9]+)", out)
            self.assertTrue(m, "no overall exposure level in:\n" + out)
            self.assertLessEqual(float(m.group(1)), limit,
                                 "exposure %s, README states %s:\n%s" % (m.group(1), limit, out))


def readme_live_outputs():
    """The -o specs (and --syslog-target) of the README's live examples (-i): what an
    operator copies into the unit's configuration."""
    with open(README) as f:
        text = f.read()
    found = []
    for line in text.splitlines():
        if not re.match(r"\s*rpcsentry .*-i \S+", line):
            continue
        specs = [s.strip('"') for s in re.findall(r'-o ("[^"]+"|\S+)', line)]
        target = re.search(r"--syslog-target (\S+)", line)
        if specs:
            found.append((specs, target.group(1) if target else None))
    return found


class NetworkOutputs(unittest.TestCase):
    """Every output the README shows for live capture is reachable under the unit: unix
    sockets and the local syslog socket as it is; Redis and syslog over IP with the drop-in
    `rpcsentry --systemd-dropin` writes from the same settings, which still verifies."""

    def setUp(self):
        self.analyze = need(self, "systemd-analyze", "systemd")

    def test_readme_outputs_are_reachable_under_the_unit(self):
        examples = readme_live_outputs()
        self.assertGreaterEqual(len(examples), 2, "the README shows live outputs")
        with open(UNIT) as f:
            unit = f.read()
        families = re.search(r"(?m)^RestrictAddressFamilies=(.*)$", unit).group(1).split()
        self.assertIn("AF_UNIX", families)
        hidden = ["/tmp/", "/var/tmp/", "/home/", "/root/"]  # PrivateTmp=, ProtectHome=
        ip_peers = 0
        for specs, target in examples:
            args = [BIN]
            for s in specs:
                args += ["-o", s]
            if target:
                args += ["--syslog-target", target]
            p = subprocess.run(args + ["--systemd-dropin"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            dropin = p.stdout
            for s in specs:
                s = s.split("?")[0]
                if s.startswith(("unix:", "unix-dgram:")):
                    path = s.split(":", 1)[1]
                    self.assertFalse(any(path.startswith(h) for h in hidden), path)
                elif s.startswith("file:"):
                    self.assertRegex(s, r"^file:/var/log/rpcsentry/", "only LogsDirectory= "
                                     "is writable")
                elif s.startswith("redis://") or (s.startswith("syslog") and target and
                                                  not target.startswith("/")):
                    ip_peers += 1
                    host = re.match(r"redis://([^:/]+)", s).group(1) if s.startswith("redis") \
                        else re.sub(r"^(udp|tcp):", "", target).rsplit(":", 1)[0]
                    self.assertRegex(dropin, r"(?m)^RestrictAddressFamilies=.*\bAF_INET\b")
                    allow = re.search(r"(?m)^IPAddressAllow=(.*)$", dropin)
                    self.assertTrue(allow, dropin)
                    self.assertIn(host + "/32", allow.group(1).split(), s)
            with TempDir() as d:
                unitdir = installed_unit(self, d)
                os.makedirs(os.path.join(unitdir, "rpcsentry@.service.d"))
                with open(os.path.join(unitdir, "rpcsentry@.service.d", "outputs.conf"),
                          "w") as f:
                    f.write(dropin)
                path = os.path.join(unitdir, INSTANCE)
                v = subprocess.run([self.analyze, "verify", path], capture_output=True,
                                   text=True, env=SD_ENV, timeout=120)
                self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                self.assertEqual([l for l in (v.stdout + v.stderr).splitlines()
                                  if "rpcsentry" in l], [], dropin)
        self.assertGreaterEqual(ip_peers, 2, "the README shows Redis and syslog over IP")

    def test_no_network_output_needs_no_dropin(self):
        p = subprocess.run([BIN, "-o", "unix:/run/vector/rpc.sock", "--systemd-dropin"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("[Service]", p.stdout)
        self.assertIn("needs no drop-in", p.stdout)


class Consistency(unittest.TestCase):
    """The user, group and paths the four files share."""

    def test_user_group_and_log_directory_agree(self):
        with open(UNIT) as f:
            unit = f.read()
        user = re.search(r"^ExecStart=.* --user (\S+)", unit, re.M).group(1)
        self.assertRegex(unit, r"(?m)^Group=%s$" % user)
        self.assertRegex(unit, r"(?m)^LogsDirectory=rpcsentry/%I$")
        self.assertRegex(unit, r"(?m)^ExecStart=.* -i %I .*-l /var/log/rpcsentry/%I$")
        with open(SYSUSERS) as f:
            self.assertRegex(f.read(), r"(?m)^u %s " % user)
        with open(LOGROTATE) as f:
            rot = f.read()
        self.assertIn("su root %s" % user, rot)
        self.assertIn("/var/log/rpcsentry/*/eve.json", rot)


def help_options():
    """The long options of `BIN --help`."""
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    names = re.findall(r"(?m)^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)", p.stdout)
    assert len(names) > 10, p.stdout
    return names


class ConfigFile(unittest.TestCase):
    def test_the_binary_accepts_it(self):
        p = subprocess.run([BIN, "-c", CONFIG, "--test-rules"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_it_names_every_option_a_file_may_set(self):
        with open(CONFIG) as f:
            text = f.read()
        keys = set(re.findall(r"(?m)^#?([a-z][a-z0-9-]*):", text))
        options = set(help_options())
        missing = sorted(options - NOT_IN_FILE - keys)
        self.assertEqual(missing, [], "options of --help not in etc/rpcsentry.yaml")
        unknown = sorted(keys - options)
        self.assertEqual(unknown, [], "keys of etc/rpcsentry.yaml that are not options")
        self.assertEqual(sorted(keys & NOT_IN_FILE), [])
        # the unit gives the interface on the command line
        self.assertRegex(text, r"(?m)^#interface:")

    def test_its_values_are_the_defaults(self):
        pcap = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
        outs = []
        for extra in ([], ["-c", CONFIG]):
            p = subprocess.run([BIN, "-r", pcap, "-l", "-", "-q"] + extra, capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            outs.append(p.stdout)
        self.assertTrue(outs[0])
        self.assertEqual(outs[0], outs[1], "records change with -c etc/rpcsentry.yaml")


class Logrotate(unittest.TestCase):
    def setUp(self):
        self.logrotate = need(self, "logrotate", "logrotate")

    def snippet(self, d, logs, marker):
        """The snippet for logs under d: the group rpcsentry replaced by ours where no such
        group exists, and postrotate touching marker instead of signalling real services."""
        with open(LOGROTATE) as f:
            text = f.read()
        try:
            grp.getgrnam("rpcsentry")
            group = "rpcsentry"
        except KeyError:
            group = grp.getgrgid(os.getgid()).gr_name
        text = text.replace("/var/log/rpcsentry/*/eve.json", os.path.join(logs, "*", "eve.json"))
        text = re.sub(r"(?m)^(\s*(?:su|create)\b.*) rpcsentry$", r"\1 %s" % group, text)
        self.assertIn("systemctl kill", text)
        text = re.sub(r"(?m)^\s*systemctl kill .*$", "    touch %s" % marker, text)
        conf = os.path.join(d, "rpcsentry.logrotate")
        with open(conf, "w") as f:
            f.write(text)
        os.chmod(conf, 0o644)
        return conf, group

    def test_it_parses(self):
        with TempDir() as d:
            conf, _ = self.snippet(d, "/var/log/rpcsentry", os.path.join(d, "ran"))
            p = subprocess.run([self.logrotate, "-d", "-s", os.path.join(d, "state"), conf],
                               capture_output=True, text=True, timeout=60)
            out = p.stdout + p.stderr
            self.assertEqual(p.returncode, 0, out)
            self.assertNotIn("error:", out)
            self.assertIn("after 1 days (14 rotations)", out)

    def test_it_rotates_and_signals(self):
        if os.geteuid() != 0:
            self.skipTest("a real rotation with `su root GROUP` needs root")
        with TempDir() as d:
            logs = os.path.join(d, "log")
            marker = os.path.join(d, "postrotate-ran")
            conf, group = self.snippet(d, logs, marker)
            gid = grp.getgrnam(group).gr_gid
            # as LogsDirectory=rpcsentry/%I with Group=rpcsentry and LogsDirectoryMode=0770 make it
            iface = os.path.join(logs, "eth1")
            os.makedirs(iface)
            os.chown(iface, 0, gid)
            os.chmod(iface, 0o770)
            eve = os.path.join(iface, "eve.json")
            state = os.path.join(d, "state")
            for n in (1, 2):
                with open(eve, "w") as f:
                    f.write('{"event_type":"stats","n":%d}\n' % n)
                p = subprocess.run([self.logrotate, "-f", "-s", state, conf],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertTrue(os.path.exists(marker), "postrotate did not run")
            with open(eve + ".1") as f:
                self.assertIn('"n":2', f.read())  # delaycompress: the newest stays plain
            self.assertTrue(os.path.exists(eve + ".2.gz"))  # compress: the one before
            st = os.stat(eve)  # created for the sensor (running as GROUP) to reopen on SIGHUP
            self.assertEqual((st.st_size, st.st_mode & 0o777, st.st_gid), (0, 0o660, gid))


class Sysusers(unittest.TestCase):
    def test_it_creates_the_user(self):
        sysusers = need(self, "systemd-sysusers", "systemd")
        if os.geteuid() != 0:
            self.skipTest("systemd-sysusers --root needs root")
        with TempDir() as d:
            os.makedirs(os.path.join(d, "etc"))
            with open(SYSUSERS) as f:
                p = subprocess.run([sysusers, "--root", d, "-"], stdin=f, capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(d, "etc", "passwd")) as f:
                self.assertRegex(f.read(), r"(?m)^rpcsentry:x:\d+:\d+:[^:]*:/:/usr/sbin/nologin$")
            with open(os.path.join(d, "etc", "group")) as f:
                self.assertRegex(f.read(), r"(?m)^rpcsentry:x:\d+:")


if __name__ == "__main__":
    unittest.main()
