"""DESIGN.md's stage rule: scripts/check_layers.py passes on the tree (the ties that exist
today are listed in scripts/layers.allow, and only shrink), and it does catch a tie."""

import os
import subprocess
import sys
import tempfile
import unittest

from common import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import check_layers  # noqa: E402


class Layers(unittest.TestCase):
    def test_the_tree_follows_the_stage_rule(self):
        p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_layers.py")],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_the_rule(self):
        ok = check_layers.allowed
        self.assertTrue(ok("stream", "transport"), "the next stage")
        self.assertTrue(ok("dcerpc", "util") and ok("dcerpc", "record"))
        self.assertTrue(ok("transport", "dcerpc"), "transport hands PDUs to the DCE/RPC engine")
        self.assertFalse(ok("dcerpc", "transport"), "upstream")
        self.assertFalse(ok("decode", "transport"), "two stages down")
        self.assertFalse(ok("util", "flow"), "the floor includes no stage")
        self.assertTrue(ok("runtime", "capture") and ok("main", "output"))
        found, unknown = check_layers.ties()
        self.assertEqual(unknown, [])

    def test_a_planted_tie_is_found(self):
        # a tree of three files: decode reaching two stages down, flow its next, a header
        # of no known stage; the checker must name the first and the last, not the second
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "src", "decode"))
            os.makedirs(os.path.join(d, "src", "flow"))
            os.makedirs(os.path.join(d, "include", "rpcsentry"))
            with open(os.path.join(d, "src", "decode", "x.c"), "w") as f:
                f.write('#include "rpcsentry/transport.h"\n#include "rpcsentry/packet.h"\n')
            with open(os.path.join(d, "src", "flow", "y.c"), "w") as f:
                f.write('#include "rpcsentry/stream.h"\n#include "rpcsentry/mystery.h"\n')
            for h in ("transport", "packet", "stream"):
                open(os.path.join(d, "include", "rpcsentry", h + ".h"), "w").close()
            saved = check_layers.ROOT
            check_layers.ROOT = d
            try:
                found, unknown = check_layers.ties()
            finally:
                check_layers.ROOT = saved
        self.assertEqual(found, [os.path.join("src", "decode", "x.c") + " transport"])
        self.assertEqual(len(unknown), 1)
        self.assertIn("mystery", unknown[0])


if __name__ == "__main__":
    unittest.main()
