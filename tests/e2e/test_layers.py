"""DESIGN.md's stage rule: scripts/check_layers.py passes on the tree (the ties that exist
today are listed in scripts/layers.allow, and only shrink), and it does catch a tie."""

import os
import subprocess
import sys
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
        # today's ties are found, not assumed: the list is what the tree has
        found, unknown = check_layers.ties()
        self.assertEqual(unknown, [])
        self.assertIn("src/decode/decode.c transport", found)


if __name__ == "__main__":
    unittest.main()
