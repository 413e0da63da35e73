#!/usr/bin/env bash
# Network namespaces of the traffic lab:
#
#   ${P}cli  eth0 192.0.2.10  ----+
#                                 |  ${P}mon: bridge br0, ports cli0 and srv0
#   ${P}srv  eth0 192.0.2.20 (Samba), 192.0.2.21 (fake_rpc_server.py),
#             192.0.2.22 (a Samba AD DC, the KDC of the Kerberos scenarios) and
#             192.0.2.23 (a second Samba that requires SMB 3 encryption)
#
# Everything between client and servers crosses srv0 in ${P}mon: the monitor
# point (tcpdump and the sensor capture there). Addresses are TEST-NET-1
# (RFC 5737) and exist only inside these namespaces; nothing is routed out.
# Offloads are off so that frames are captured at MTU size with real checksums.
#
#   netns.sh up PREFIX      create (after removing leftovers of the same PREFIX)
#   netns.sh down PREFIX    remove
set -euo pipefail
cmd=${1:?up|down}
P=${2:-rslab}

down() {
  # whatever still runs inside (servers, helpers of samba-dcerpcd) was started
  # by the lab in these namespaces: ended by pid, then the namespaces go
  local n pids
  for n in cli srv mon; do
    pids=$(ip netns pids "${P}$n" 2>/dev/null || true)
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
  done
  for n in cli srv mon; do
    pids=$(ip netns pids "${P}$n" 2>/dev/null || true)
    for _ in $(seq 20); do
      [ -z "$pids" ] && break
      sleep 0.1
      pids=$(ip netns pids "${P}$n" 2>/dev/null || true)
    done
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null || true
    ip netns del "${P}$n" 2>/dev/null || true
  done
}

nsx() { ip netns exec "$@"; }

noipv6() {
  nsx "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
  nsx "$1" sysctl -q -w net.ipv6.conf.default.disable_ipv6=1
}

nooffload() {
  nsx "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

up() {
  down
  for n in cli srv mon; do ip netns add "${P}$n"; noipv6 "${P}$n"; nsx "${P}$n" ip link set lo up; done
  nsx "${P}mon" ip link add br0 type bridge stp_state 0 forward_delay 0
  for side in cli srv; do
    nsx "${P}mon" ip link add "${side}0" type veth peer name eth0 netns "${P}$side"
    nsx "${P}mon" ip link set "${side}0" master br0
    nooffload "${P}mon" "${side}0"
    nooffload "${P}$side" eth0
    nsx "${P}mon" ip link set "${side}0" up
  done
  nooffload "${P}mon" br0
  nsx "${P}mon" ip link set br0 up
  nsx "${P}cli" ip addr add 192.0.2.10/24 dev eth0
  nsx "${P}srv" ip addr add 192.0.2.20/24 dev eth0
  nsx "${P}srv" ip addr add 192.0.2.21/24 dev eth0
  nsx "${P}srv" ip addr add 192.0.2.22/24 dev eth0
  nsx "${P}srv" ip addr add 192.0.2.23/24 dev eth0
  nsx "${P}cli" ip link set eth0 up
  nsx "${P}srv" ip link set eth0 up
  # STP is off and forward_delay 0: the ports forward at once (the lab's
  # scripts wait for each server with a TCP connect from ${P}cli)
}

"$cmd"
