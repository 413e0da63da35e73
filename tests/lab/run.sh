#!/usr/bin/env bash
# Regenerates every traffic-lab capture in pcaps/lab/ (or the scenarios named):
# network namespaces, Samba and fake_rpc_server.py, the real clients, tcpdump
# and the sensor live on the monitor point. See tests/lab/lab.py.
#   tests/lab/run.sh [--out DIR] [--prefix P] [--bin RPCSENTRY] [--list] [SCENARIO...]
# Idempotent: leftovers of an earlier run with the same prefix are removed
# first, and the namespaces are removed at the end, whatever happened.
set -euo pipefail
cd "$(dirname "$0")"
prefix=rslab
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[$i]}" = --prefix ] && prefix=${args[$((i + 1))]}
done
trap './netns.sh down "$prefix"' EXIT
./netns.sh down "$prefix"
/usr/bin/python3 lab.py "$@"
