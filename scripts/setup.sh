#!/usr/bin/env bash
# Installs the Debian packages rpcsentry builds and tests with, then builds it.
#   scripts/setup.sh [BUILD_DIR] [extra cmake options...]
# Uses sudo for apt-get when not run as root. Skips apt-get when everything is
# already installed (RPCSENTRY_SKIP_APT=1 skips it unconditionally).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config clang clang-format
  libpcap-dev libcjson-dev libndpi-dev libbpf-dev libxdp-dev libpcre2-dev libyaml-dev libhiredis-dev libgcrypt20-dev libkrb5-dev nettle-dev
  python3 python3-jsonschema python3-yaml python3-impacket
  tshark tcpreplay iproute2 systemd logrotate redis-server rsyslog
  samba samba-common-bin smbclient tcpdump ethtool chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${RPCSENTRY_SKIP_APT:-0}" != 1 ] && [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD_DIR="${1:-build}"
shift || true
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
echo "setup: built $BUILD_DIR/rpcsentry" >&2
