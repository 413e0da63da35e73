#!/usr/bin/python3
"""Runs one of impacket's example tools (Debian's python3-impacket ships them in
/usr/share/doc/python3-impacket/examples) unchanged, with two lab settings:

  --seed N          random.seed(N) first: the names the tools make up (atexec's
                    task, psexec's RemCom machine tag) are the same every run
  --auth-level L    DCE/RPC authentication level forced on every binding the
                    tool makes (2 connect, 5 integrity, 6 privacy): atexec
                    hard-codes packet privacy; this is how the lab captures the
                    same tool with its task XML in the clear

  run_tool.py [--seed N] [--auth-level L] TOOL.py [tool arguments...]
"""

import os
import random
import runpy
import sys

EXAMPLES = "/usr/share/doc/python3-impacket/examples"


def main():
    args = sys.argv[1:]
    seed, level = 1, None
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--seed":
            seed = int(args.pop(0))
        elif opt == "--auth-level":
            level = int(args.pop(0))
        else:
            sys.exit("run_tool.py: unknown option " + opt)
    tool = args[0]
    path = tool if os.path.isabs(tool) else os.path.join(EXAMPLES, tool)
    random.seed(seed)
    if level is not None:
        from impacket.dcerpc.v5 import rpcrt
        orig = rpcrt.DCERPC_v5.set_auth_level

        def forced(self, _level):
            orig(self, level)
        rpcrt.DCERPC_v5.set_auth_level = forced
    sys.argv = [path] + args[1:]
    sys.path.insert(0, os.path.dirname(path))
    runpy.run_path(path, run_name="__main__")


if __name__ == "__main__":
    main()
