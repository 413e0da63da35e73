"""The command line of the real binary (src/main.c, src/capture/pcap_file.c).

Covered: what -r accepts (missing files, files that are not captures, directories read in name
order with other files skipped, truncated captures, several -r, '-' for standard input); BPF
filters as trailing arguments and from -F FILE, and their errors; where records go (-l DIR,
-l -, the current directory, a missing directory); --compat against Suricata's own schema; the
summary on stderr and -q; -h, -V and usage errors with their exit statuses. Every record of
every run is validated with common.validate_record.
"""

import collections
import json
import os
import re
import shutil
import struct
import subprocess
import unittest

from common import (BIN, PCAPS, ROOT, TempDir, need_shared, run, validate_record,
                    validator)

LATERAL = os.path.join(PCAPS, "tcp_lateral_movement.pcap")
SUMMARY_RE = re.compile(
    r"(\d+) captures? read.*?, (\d+) packets, \d+ bytes, (\d+) flows.*\n"
    r".*RPC calls: (\d+) \(\d+ on task/service interfaces\): create (\d+), modify (\d+), "
    r"delete (\d+), execute (\d+), read (\d+), other (\d+); (\d+) binds")


def run_with(args, cwd=None, stdin=None):
    """Like common.run(args, check=False), from directory cwd and with bytes on stdin."""
    p = subprocess.run([os.path.abspath(BIN)] + list(args), input=stdin, capture_output=True,
                       cwd=cwd, timeout=60)
    out, err = p.stdout.decode(), p.stderr.decode(errors="replace")
    if "internal:" in err or "runtime error" in err:
        raise AssertionError("rpcsentry %s: %s" % (args, err))
    return p.returncode, out, err


def packet_offsets(data):
    """Byte offset of each packet record of a little-endian, microsecond pcap file."""
    assert data[:4] == b"\xd4\xc3\xb2\xa1", "not a little-endian microsecond pcap"
    offsets, off = [], 24
    while off < len(data):
        offsets.append(off)
        off += 16 + struct.unpack_from("<I", data, off + 8)[0]
    return offsets


def call_key(r):
    return (r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"], r["dcerpc"]["call_id"],
            r["dcerpc"]["request"])


def without_filename(recs):
    return [{k: v for k, v in r.items() if k != "pcap_filename"} for r in recs]


class Cli(unittest.TestCase):
    def eve(self, text):
        """Parses EVE output: one JSON object per line, each valid."""
        recs = []
        for line in text.splitlines():
            rec = json.loads(line)
            self.assertIsInstance(rec, dict, line)
            validate_record(self, rec)
            recs.append(rec)
        return recs

    def read(self, *args):
        """Records of a quiet run to stdout; args come last, as a BPF filter must."""
        _, out, _ = run(["-q", "-l", "-"] + list(args))
        return self.eve(out)

    # -r: what may be read

    def test_missing_capture_is_an_error_naming_the_path(self):
        with TempDir() as d:
            path = os.path.join(d, "missing.pcap")
            rc, out, err = run(["-q", "-r", path, "-l", "-"], check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn(path, err)
        self.assertIn("No such file", err)

    def test_text_file_named_with_r_is_an_error(self):
        with TempDir() as d:
            path = os.path.join(d, "notes.txt")
            with open(path, "w") as f:
                f.write("These are notes, not a capture.\n")
            rc, out, err = run(["-q", "-r", path, "-l", "-"], check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn(path + ": unknown file format", err)

    def test_directory_is_read_in_name_order_and_other_files_skipped(self):
        names = ["link_null.pcap", "link_raw.pcap", "tcp_bigendian.pcap"]
        with TempDir() as d:
            for name in reversed(names):
                shutil.copy(os.path.join(PCAPS, name), d)
            with open(os.path.join(d, "README.txt"), "w") as f:
                f.write("Captures for the command-line test.\n")
            rc, out, err = run(["-r", d, "-l", "-"])
            got = self.eve(out)
            one_by_one = [self.read("-r", os.path.join(d, n)) for n in names]
        self.assertEqual(rc, 0)
        self.assertIn("skipped 1 files that are not captures", err)
        self.assertIn("3 captures read", err)
        self.assertTrue(all(one_by_one), "every capture chosen has records")
        self.assertEqual([r["pcap_filename"] for r in got],
                         [os.path.join(d, n) for n, recs in zip(names, one_by_one) for _ in recs])
        self.assertEqual(got, sum(one_by_one, []))

    def test_text_file_named_beside_a_directory_is_still_an_error(self):
        # Regression: the origin (named, or found in a directory) is kept per file, so a
        # directory elsewhere on the command line does not excuse a named non-capture.
        with TempDir() as d:
            shutil.copy(LATERAL, d)
            notes = os.path.join(d, "notes.txt")
            with open(notes, "w") as f:
                f.write("These are notes, not a capture.\n")
            rc, out, err = run(["-q", "-r", d, "-r", notes, "-l", "-"], check=False)
        self.eve(out)
        self.assertEqual(rc, 1, "-r DIR -r notes.txt: a file named with -r must be a capture")
        self.assertIn(notes + ": unknown file format", err)

    def test_truncated_capture_keeps_the_calls_before_the_cut(self):
        # calls only: alerts and stories have tests of their own
        full = [r for r in self.read("-r", LATERAL, "--no-default-rules")
                if r["event_type"] == "dcerpc"]
        register = [r for r in full if r.get("rpcsentry", {}).get("operation") ==
                    "SchRpcRegisterTask"]
        self.assertEqual(len(register), 1)
        cut_packet = register[0]["rpcsentry"]["response_pcap_cnt"]
        with open(LATERAL, "rb") as f:
            data = f.read()
        start = packet_offsets(data)[cut_packet - 1]
        caplen = struct.unpack_from("<I", data, start + 8)[0]
        with TempDir() as d:
            cut = os.path.join(d, "cut.pcap")
            with open(cut, "wb") as f:
                f.write(data[:start + 16 + caplen // 2])
            rc, out, err = run(["-r", cut, "-l", "-", "--no-default-rules"])
        self.assertEqual(rc, 0)
        self.assertRegex(err, r"warning: .*cut\.pcap: truncated")
        self.assertIn("(read %d packets)" % (cut_packet - 1), err)
        got = [r for r in self.eve(out) if r["event_type"] == "dcerpc"]
        before = [r for r in full if r["rpcsentry"]["request_pcap_cnt"] < cut_packet]
        self.assertEqual([call_key(r) for r in got], [call_key(r) for r in before])
        for g, b in zip(got, before):
            if b["rpcsentry"]["response_pcap_cnt"] < cut_packet:
                self.assertEqual(without_filename([g]), without_filename([b]))
            else:
                self.assertEqual(g["dcerpc"]["response"], "UNREPLIED")
        self.assertIn(call_key(register[0]),
                      [call_key(g) for g in got if g["dcerpc"]["response"] == "UNREPLIED"])

    def test_capture_cut_inside_its_file_header_is_an_error(self):
        with open(LATERAL, "rb") as f:
            header = f.read(12)
        with TempDir() as d:
            cut = os.path.join(d, "header.pcap")
            with open(cut, "wb") as f:
                f.write(header)
            rc, out, err = run(["-q", "-r", cut, "-l", "-"], check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertRegex(err, r"error: .*header\.pcap: truncated")

    def test_corrupt_capture_does_not_stop_the_next_one(self):
        # Regression: only a bad BPF expression stops the run (it would fail on every file);
        # this was once told apart by the word "filter" in the message, which a path can hold.
        expected = self.read("-r", LATERAL)
        with open(LATERAL, "rb") as f:
            header = f.read(12)
        for name in ("corrupt.pcap", "unfiltered.pcap"):
            with self.subTest(name=name), TempDir() as d:
                bad = os.path.join(d, name)
                with open(bad, "wb") as f:
                    f.write(header)
                rc, out, err = run(["-q", "-r", bad, "-r", LATERAL, "-l", "-"], check=False)
                self.assertEqual(rc, 1)
                self.assertIn(bad, err)
                got = self.eve(out)
                self.assertEqual(len(got), len(expected), "the capture after it was not read")
                self.assertEqual(got, expected)

    def test_several_r_options_read_every_file_in_order_given(self):
        first = os.path.join(PCAPS, "tcp_bigendian.pcap")
        second = os.path.join(PCAPS, "link_null.pcap")
        a, b = self.read("-r", first), self.read("-r", second)
        self.assertTrue(a and b)
        self.assertEqual(self.read("-r", first, "-r", second), a + b)
        self.assertEqual(self.read("--read", first, "--read", second), a + b)

    def test_standard_input_gives_the_same_records_as_the_file(self):
        with open(LATERAL, "rb") as f:
            rc, out, err = run_with(["-q", "-r", "-", "-l", "-"], stdin=f.read())
        self.assertEqual((rc, err), (0, ""))
        got = self.eve(out)
        self.assertTrue(got)
        self.assertEqual(without_filename(got), without_filename(self.read("-r", LATERAL)))

    # BPF filters

    def test_bpf_filter_as_trailing_arguments(self):
        full = self.read("-r", LATERAL)
        got = self.read("-r", LATERAL, "tcp", "port", "135")
        self.assertTrue(got)
        self.assertEqual({r["dest_port"] for r in got}, {135})
        self.assertEqual([call_key(r) for r in got],
                         [call_key(r) for r in full if r["dest_port"] == 135])
        self.assertLess(len(got), len(full))

    def test_bpf_filter_from_file_equals_trailing_arguments(self):
        with TempDir() as d:
            path = os.path.join(d, "filter.bpf")
            with open(path, "w") as f:
                f.write("tcp\nport 135\n")
            from_file = self.read("-r", LATERAL, "-F", path)
        self.assertTrue(from_file)
        self.assertEqual(from_file, self.read("-r", LATERAL, "tcp port 135"))

    def test_invalid_bpf_filter_is_an_error(self):
        rc, out, err = run(["-q", "-r", LATERAL, "-l", "-", "tcp", "port"], check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn('filter "tcp port"', err)

    def test_filter_file_and_trailing_filter_is_a_usage_error(self):
        with TempDir() as d:
            path = os.path.join(d, "filter.bpf")
            with open(path, "w") as f:
                f.write("tcp port 135\n")
            rc, out, err = run(["-q", "-r", LATERAL, "-F", path, "-l", "-", "tcp"], check=False)
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("give only one", err)

    # where records go

    def test_log_dir_gets_eve_json_with_what_stdout_gets(self):
        with TempDir() as d:
            rc, out, err = run(["-r", LATERAL, "-l", d])
            with open(os.path.join(d, "eve.json")) as f:
                in_file = self.eve(f.read())
        self.assertEqual((rc, out), (0, ""))
        self.assertIn("output file:%s/eve.json: %d records written" % (d, len(in_file)), err)
        self.assertTrue(in_file)
        self.assertEqual(in_file, self.read("-r", LATERAL))

    def test_o_naming_the_log_directorys_file_writes_it_once(self):
        """-o file:DIR/eve.json?types=alert beside -l DIR: that spec alone writes the file."""
        with TempDir() as d:
            run(["-q", "-r", LATERAL, "-l", d, "-o", "file:%s/eve.json?types=alert" % d])
            with open(os.path.join(d, "eve.json")) as f:
                got = [json.loads(l) for l in f]
        want = [r for r in self.read("-r", LATERAL) if r["event_type"] == "alert"]
        self.assertTrue(want)
        self.assertEqual([r["event_type"] for r in got], ["alert"] * len(want))

    def test_log_dash_writes_to_stdout(self):
        rc, out, err = run(["-r", LATERAL, "-l", "-"])
        self.assertEqual(rc, 0)
        self.assertTrue(self.eve(out))
        self.assertIn("output standard output: %d records written" % len(out.splitlines()), err)

    def test_missing_log_dir_is_an_error(self):
        with TempDir() as d:
            missing = os.path.join(d, "missing")
            rc, out, err = run(["-q", "-r", LATERAL, "-l", missing], check=False)
            self.assertFalse(os.path.exists(missing))
        self.assertEqual(rc, 2, "a bad -l is a usage error")
        self.assertEqual(out, "")
        self.assertIn(missing, err)

    def test_without_l_eve_json_lands_in_the_current_directory(self):
        with TempDir() as d:
            rc, out, err = run_with(["-q", "-r", LATERAL], cwd=d)
            self.assertEqual(os.listdir(d), ["eve.json"])
            with open(os.path.join(d, "eve.json")) as f:
                in_file = self.eve(f.read())
        self.assertEqual((rc, out, err), (0, "", ""))
        self.assertEqual(in_file, self.read("-r", LATERAL))

    # record shape

    def test_compat_records_validate_against_suricata_schema(self):
        need_shared(self)
        normal = self.read("-r", PCAPS)
        compat = self.read("-r", PCAPS, "--compat")
        self.assertTrue(compat)
        for r in compat:
            self.assertNotIn("rpcsentry", r)
            errs = list(validator("suricata").iter_errors(r))
            self.assertFalse(errs, "Suricata schema: %s in %s" % (errs[:1], json.dumps(r)[:400]))
        self.assertEqual(compat, [{k: v for k, v in r.items() if k != "rpcsentry"}
                                  for r in normal])

    def test_records_carry_the_extension_without_compat(self):
        # every call record has it; an anomaly has it only when there is a detail to give
        recs = self.read("-r", PCAPS)
        calls = [r for r in recs if r["event_type"] == "dcerpc"]
        self.assertTrue(calls)
        for r in calls:
            self.assertIn("rpcsentry", r)

    # summary

    def test_summary_counts_packets_flows_calls_and_classes(self):
        with open(LATERAL, "rb") as f:
            packets = len(packet_offsets(f.read()))
        rc, out, err = run(["-r", LATERAL, "-l", "-"])
        recs = self.eve(out)
        m = SUMMARY_RE.search(err)
        self.assertIsNotNone(m, err)
        requests = [r for r in recs if r["event_type"] == "dcerpc" and
                    r["dcerpc"]["request"] == "REQUEST"]
        classes = collections.Counter(r["rpcsentry"]["class"] for r in requests)
        self.assertEqual(
            [int(g) for g in m.groups()],
            [1, packets, len({r["flow_id"] for r in recs}), len(requests)]
            + [classes[c] for c in ("create", "modify", "delete", "execute", "read", "other")]
            + [sum(r["event_type"] == "dcerpc" and r["dcerpc"]["request"] == "BIND"
                   for r in recs)])
        self.assertGreater(len(classes), 1)

    def test_summary_counts_smb_files_and_tool_pipes(self):
        """The SMB line: the fileinfo and tool-pipe records the run wrote (lab psexec)."""
        pcap = os.path.join(PCAPS, "lab", "psexec_svcctl.pcap")
        rc, out, err = run(["-r", pcap, "-l", "-"])
        recs = self.eve(out)
        m = re.search(r"SMB: (\d+) files written \(fileinfo records\), (\d+) tool pipes, (\d+) "
                      r"pipe writes refused", err)
        self.assertIsNotNone(m, err)
        self.assertEqual([int(g) for g in m.groups()],
                         [sum(r["event_type"] == "fileinfo" for r in recs),
                          sum(r["event_type"] == "smb" and "tool" in r["rpcsentry"] for r in recs),
                          0])
        self.assertNotIn("SMB:", run(["-r", LATERAL, "-l", "-"])[2])  # no SMB: no line

    def test_quiet_has_no_summary(self):
        rc, out, err = run(["-q", "-r", LATERAL, "-l", "-"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(self.eve(out))

    # help, version, usage errors

    def test_help_prints_usage_and_exits_0(self):
        for opt in ("-h", "--help"):
            with self.subTest(opt=opt):
                _, out, err = run([opt])
                self.assertEqual(err, "")
                self.assertTrue(out.startswith("usage: rpcsentry -r FILE|DIR"), out)
                self.assertIn("--compat", out)

    def test_unknown_option_is_a_usage_error(self):
        rc, out, err = run(["--no-such-option", "-r", LATERAL, "-l", "-"], check=False)
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("no-such-option", err)
        self.assertIn("usage: rpcsentry", err)

    def test_no_capture_is_a_usage_error(self):
        rc, out, err = run(["-l", "-"], check=False)
        self.assertEqual(rc, 2)
        self.assertEqual(out, "")
        self.assertIn("give a capture with -r", err)
        self.assertIn("usage: rpcsentry", err)

    def test_version_is_the_project_version(self):
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            version = re.search(r"project\(rpcsentry VERSION (\S+)", f.read()).group(1)
        for opt in ("-V", "--version"):
            with self.subTest(opt=opt):
                self.assertEqual(run([opt]), (0, "rpcsentry %s\n" % version, ""))

    # who saw it, and what went wrong on which call

    def test_host_is_the_sensor_name(self):
        import socket
        _, out, _ = run(["-q", "-r", LATERAL, "-l", "-"])
        recs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual({r.get("host") for r in recs}, {socket.gethostname()})
        _, out, _ = run(["-q", "-r", LATERAL, "-l", "-", "--sensor-name", "dmz-tap-3"])
        recs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual({r.get("host") for r in recs}, {"dmz-tap-3"})
        self.assertFalse([r for r in recs if "in_iface" in r], "in_iface is for live records")

    def test_an_anomaly_about_a_call_names_the_call(self):
        _, out, _ = run(["-q", "-r", os.path.join(PCAPS, "evasion_call_id_reuse.pcap"), "-l", "-"])
        recs = [json.loads(l) for l in out.splitlines()]
        an = [r for r in recs if r["event_type"] == "anomaly"
              and r["anomaly"]["event"] == "dcerpc.call_id_reuse"]
        self.assertEqual(len(an), 1)
        a = an[0]
        validate_record(self, a)
        x = a["rpcsentry"]
        self.assertEqual((x["interface"], x["operation"], x["opnum"], x["call_id"],
                          x["context_id"], x["transport"]),
                         ("svcctl", "RQueryServiceStatus", 6, 3, 0, "ncacn_ip_tcp"))
        self.assertIn("call_id", x["detail"])
        # the call it names is a record of its own: the same flow, the same tx_id
        call = [r for r in recs if r["event_type"] == "dcerpc" and r["flow_id"] == a["flow_id"]
                and r["tx_id"] == a["tx_id"]]
        self.assertEqual(len(call), 1)
        self.assertEqual(call[0]["dcerpc"]["call_id"], 3)
        self.assertEqual(call[0]["rpcsentry"]["operation"], "RQueryServiceStatus")


if __name__ == "__main__":
    unittest.main()
