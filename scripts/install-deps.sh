#!/usr/bin/env bash
# Installs what the test suite needs (idempotent; fast when everything is there):
#   Debian packages: Open vSwitch (userspace), tshark, iperf3, ethtool, iproute2, ping,
#   dnsmasq (DHCP server), iptables (NAT), busybox (udhcpc, a DHCP client that leaves the
#   host's resolv.conf alone), tcpdump, netsniff-ng (trafgen), jq, python3-venv, mininet 2.3
#   (mn and mnexec; its Python package is the system python3's);
#   a Python venv at ${OFS_VENV:-<repo>/.venv} with os-ken 4.2.2 and scapy 2.8.0, and one at
#   ${OFS_FAUCET_VENV:-<repo>/.venv-faucet} with Faucet 1.10.12 (which pins os-ken 3.1.0, the
#   last with osken-manager, which the Ryu conformance suite runs under: its own venv).
# Needs root for apt-get (only when a package is missing). Works with CI=true, no stdin.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${OFS_VENV:-$REPO/.venv}
FAUCET_VENV=${OFS_FAUCET_VENV:-$REPO/.venv-faucet}
PKGS=(openvswitch-switch openvswitch-common tshark iperf3 ethtool iproute2 iputils-ping
      dnsmasq-base iptables busybox tcpdump netsniff-ng jq python3-venv mininet)

say() { echo "install-deps: $*"; }

installed() {  # installed PKG: true if dpkg has it fully installed
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# --- 1. Debian packages -------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then
  say "apt: all ${#PKGS[@]} packages present"
else
  say "apt: installing ${missing[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture: answer no, never prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' \
    | "${SUDO[@]}" debconf-set-selections
  # Without systemd as init, a package's postinst would start the system OVS daemons through
  # the init.d scripts; the tests run their own private instances. Forbid service starts during
  # the install unless the machine already has a policy.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ] && [ ! -d /run/systemd/system ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  cleanup_policy() { [ -z "$made_policy" ] || "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; }
  trap cleanup_policy EXIT
  say "apt: apt-get update"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    --no-install-recommends "${missing[@]}" >/dev/null
  cleanup_policy; trap - EXIT
  for p in "${missing[@]}"; do installed "$p" || { say "apt: $p did not install" >&2; exit 1; }; done
  say "apt: done"
fi

# --- 2. Python venvs, pinned -----------------------------------------------------
# venv DIR CHECK PKG...: DIR has PKG... when the python snippet CHECK succeeds there; otherwise
# (re)creates it and pip-installs them.
venv() {
  local dir=$1 check=$2 py
  shift 2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "$check" 2>/dev/null; then
    say "venv: $dir has $*"
    return 0
  fi
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -m pip --version >/dev/null 2>&1; then
    # Prefer the python3 on PATH; fall back to Debian's if it cannot make venvs.
    py=python3
    if ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then py=/usr/bin/python3; fi
    say "venv: creating $dir with $("$py" --version 2>&1)"
    rm -rf "$dir"
    "$py" -m venv "$dir"
  fi
  say "venv: pip install $* into $dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
  "$dir/bin/python" -c "$check" || { say "venv: $dir still lacks $*" >&2; exit 1; }
  say "venv: $dir done"
}
# The check compares versions, so a venv made before a pin changed is brought to it.
have_versions() {  # have_versions DIST==VER...: a python snippet true when each is installed
  local d out="from importlib.metadata import version as v; assert all(["
  for d in "$@"; do out+="v('${d%%==*}') == '${d#*==}',"; done
  echo "$out])"
}
OSKEN_PKGS=(os-ken==4.2.2 scapy==2.8.0)
FAUCET_PKGS=(faucet==1.10.12)
venv "$VENV" "$(have_versions "${OSKEN_PKGS[@]}"); import os_ken, scapy" "${OSKEN_PKGS[@]}"
venv "$FAUCET_VENV" "$(have_versions "${FAUCET_PKGS[@]}" os-ken==3.1.0); import faucet" "${FAUCET_PKGS[@]}"
[ -x "$FAUCET_VENV/bin/osken-manager" ] || { say "venv: $FAUCET_VENV has no osken-manager" >&2; exit 1; }

# --- 3. sanity: the tools the tests call --------------------------------------
for t in ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl tshark text2pcap iperf3 ethtool ip ping \
         tcpdump trafgen jq; do
  command -v "$t" >/dev/null || { say "missing tool after install: $t" >&2; exit 1; }
done
say "ok ($(ovs-vswitchd --version | head -1))"
