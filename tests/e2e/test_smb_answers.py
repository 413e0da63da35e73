"""What a client writes to a pipe waits for the server's answer (issue 18): the cases
where the answer does not come. Each capture is made here, from the evasion generator's
SMB2 conversation, with one server message left out in a different way; the refused
writes themselves are evasion cases (test_evasion: smb_write_refused,
smb1_write_refused)."""
import os
import sys
import unittest

from common import ROOT, TempDir, records, validate_record

sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
import evasion as E  # noqa: E402
import smbgen as S  # noqa: E402

CLIENT_PORT = 51461


def conversation(how):
    """An SMB2 session creating a service on \\svcctl: its frames, the stubs, and the
    pcap_cnt of the WRITE carrying RCreateServiceW. how: "skip" (the server never sends that
    WRITE's answer, its READ is answered), "gap" (the answer is sent, its frames are not
    in the capture), "one_sided" (no frame from the server at all), "cut" (the capture
    ends right after the WRITE), "whole"."""
    pw, d, p = E.PcapWriter(start=1700104800.0), E.Dce(), E.Payload("answers")
    c = E.tcp(pw, CLIENT_PORT, 445)
    s = S.Smb2Conv(c)
    E.smb2_login(s, 0x0000100000000E07, "svc_ops", "CORP", "WS19")
    fb = S.file_id(71)
    s.create("svcctl", fb)
    E.smb_pipe_bind(s, fb, d, E.SVCCTL, "svcctl")
    s.write(fb, d.request(2, 0, 15, p.open))
    s.read(fb, d.response(2, 0, p.open_resp))
    req = d.request(3, 0, 12, p.create)
    mid, m = s.request(S.SMB2_WRITE, S.write_req(fb, req))
    write_cnt = len(pw.frames) + 1  # one segment, then the server's ACK
    s.send_client(m)
    written = len(pw.frames)
    answer = s.response(S.SMB2_WRITE, mid, S.write_resp(len(req)))
    before = len(pw.frames)
    if how != "skip":
        s.send_server(answer)
    answer_frames = range(before, len(pw.frames))
    if how == "cut":
        del pw.frames[written:]
    else:
        s.read(fb, d.response(3, 0, p.create_resp))
        s.close(fb)
        c.close()
    if how == "gap":
        for i in reversed(answer_frames):
            del pw.frames[i]
    if how == "one_sided":
        pw.frames = [f for f in pw.frames if f[1][34:36] != (445).to_bytes(2, "big")]
    return pw, p, write_cnt


class Answers(unittest.TestCase):
    def run_case(self, how):
        pw, p, _ = conversation(how)
        with TempDir() as d:
            path = os.path.join(d, "answers_%s.pcap" % how)
            pw.write(path)
            recs = records(path, "--stats-interval", "1")
        for r in recs:
            validate_record(self, r)
        creates = [r for r in recs if r["event_type"] == "dcerpc"
                   and r["rpcsentry"].get("operation") == "RCreateServiceW"]
        self.assertEqual(len(creates), 1, how)
        self.assertEqual(creates[0]["rpcsentry"]["args"]["binary_path"], p.binary_path)
        st = [r for r in recs if r["event_type"] == "stats"][-1]["rpcsentry"]["stats"]
        anoms = [r["anomaly"]["event"] for r in recs if r["event_type"] == "anomaly"]
        return creates[0], st, anoms

    def test_whole(self):
        call, st, anoms = self.run_case("whole")
        self.assertEqual((st["smb_write_unanswered"], st["smb_write_refused"]), (0, 0))
        self.assertEqual(anoms, [])
        self.assertEqual(call["dcerpc"]["response"], "RESPONSE")

    def test_answer_skipped(self):
        """The server answers the READ after the WRITE but not the WRITE: the data goes
        to the pipe before the READ's answer, flagged by an anomaly."""
        call, st, anoms = self.run_case("skip")
        self.assertEqual(st["smb_write_unanswered"], 1)
        self.assertEqual(anoms, ["smb.write_unanswered"])
        self.assertEqual(call["dcerpc"]["response"], "RESPONSE")

    def test_answer_in_a_gap(self):
        """The answer was sent but is not in the capture (a gap in the server's bytes):
        counted, and only the gap is an anomaly."""
        call, st, anoms = self.run_case("gap")
        self.assertEqual(st["smb_write_unanswered"], 1)
        self.assertEqual(anoms, ["stream.reassembly_gap"])
        self.assertEqual(call["dcerpc"]["response"], "RESPONSE")

    def test_capture_ends(self):
        """The capture stops before the answer: the request still makes its record at the
        end, with the time and packet of the WRITE; counted, no anomaly."""
        call, st, anoms = self.run_case("cut")
        self.assertEqual(st["smb_write_unanswered"], 1)
        self.assertEqual(anoms, [])
        self.assertEqual(call["dcerpc"]["response"], "UNREPLIED")
        _, _, write_cnt = conversation("cut")
        self.assertEqual(call["rpcsentry"]["request_pcap_cnt"], write_cnt)

    def test_one_sided(self):
        """No server frame at all (a one-sided mirror port): nothing is held, nothing
        counted; the request is read as it comes."""
        call, st, anoms = self.run_case("one_sided")
        self.assertEqual((st["smb_write_unanswered"], st["smb_write_refused"]), (0, 0))
        self.assertEqual(call["dcerpc"]["response"], "UNREPLIED")


if __name__ == "__main__":
    unittest.main()
