"""The C sources follow .clang-format (clang-format 14, Debian 12's): checked here so
that CI fails on a change that is not formatted. `clang-format -i FILE` fixes one."""

import os
import shutil
import subprocess
import unittest

from common import ROOT


def c_sources():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "*.c", "*.h"], capture_output=True,
                         text=True)
    if out.returncode != 0:  # not a git checkout: walk the tree
        files = []
        for d in ("src", "include", "tests/unit", "tests/fuzz", "bench"):
            for r, _, names in os.walk(os.path.join(ROOT, d)):
                files += [os.path.relpath(os.path.join(r, n), ROOT) for n in names
                          if n.endswith((".c", ".h"))]
        return sorted(files)
    return [f for f in out.stdout.split() if f.startswith(("src/", "include/", "tests/unit/",
                                                            "tests/fuzz/", "bench/"))]


class Format(unittest.TestCase):
    def test_sources_are_formatted(self):
        tool = shutil.which("clang-format") or shutil.which("clang-format-14")
        if not tool:
            if os.environ.get("CI") == "true":
                self.fail("clang-format is not installed (Debian package clang-format)")
            self.skipTest("clang-format is not installed (apt-get install clang-format)")
        files = c_sources()
        self.assertGreater(len(files), 100)
        p = subprocess.run([tool, "--dry-run", "--Werror"] + files, cwd=ROOT,
                           capture_output=True, text=True)
        bad = sorted({l.split(":")[0] for l in p.stderr.splitlines() if ": error:" in l})
        self.assertEqual(p.returncode, 0, "not formatted (clang-format -i): %s" % " ".join(bad))


if __name__ == "__main__":
    unittest.main()
