#!/usr/bin/env bash
# Sets up rpcsentry (Debian packages, build) and runs it on a bundled capture:
# an endpoint-mapper lookup, then a scheduled task and a service created,
# started and deleted over DCE/RPC. Prints the EVE records and the summary.
#   ./demo.sh [CAPTURE]
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh build
CAPTURE="${1:-pcaps/tcp_lateral_movement.pcap}"
echo
echo "== rpcsentry -r $CAPTURE -l -"
./build/rpcsentry -r "$CAPTURE" -l -
