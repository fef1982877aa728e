#!/usr/bin/env bash
# The main job: build everything, then run the switch for real.
#
# Starts an `ofswitch daemon` in a private state directory, makes a bridge
# with three internal ports, moves each into its own network namespace (three
# "hosts"), and shows, with real pings:
#   1. the bridge as a standalone learning switch (NORMAL), as Open vSwitch;
#   2. real `ovs-ofctl -O OpenFlow13` programming it (a drop flow, then gone);
#   3. VLAN isolation with access tags (h1 and h2 in VLAN 10, h3 in VLAN 20);
#   4. the flow table as `ofswitch ofctl dump-flows` prints it;
# then tours the OpenFlow library. Needs root (network namespaces, TAP).
# Everything it creates is named ofdemo<pid>-* and removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --workspace --examples --bins
BIN=$PWD/target/release/ofswitch

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the switch part needs root (network namespaces, TAP devices); showing the library only"
  cargo run -q --release --example wire_tour
  exit 0
fi

P=od$$
STATE=$(mktemp -d /tmp/ofswitch-demo.XXXXXX)
DAEMON_PID=
cleanup() {
  set +e
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  for h in h1 h2 h3; do ip netns del "$P$h" 2>/dev/null; done
  rm -rf "$STATE"
}
trap cleanup EXIT

ofs() { "$BIN" --state-dir "$STATE" "$@"; }
step() { printf '\n== %s\n' "$*"; }
ping_check() {  # ping_check FROM_NS TO_IP EXPECT(ok|fail)
  if ip netns exec "$P$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then got=ok; else got=fail; fi
  printf '   %s -> %-12s %s (expected %s)\n' "$1" "$2" "$got" "$3"
  [ "$got" = "$3" ] || { echo "demo: unexpected result"; exit 1; }
}

step "start ofswitch daemon (state in $STATE)"
# The binary itself in the background (not the ofs function, whose $! would
# be a subshell), so the cleanup stops the daemon by its own PID.
"$BIN" --state-dir "$STATE" daemon --log-file "$STATE/ofswitch.log" &
DAEMON_PID=$!
for _ in $(seq 50); do [ -S "$STATE/ofswitch.ctl" ] && break; sleep 0.1; done

BR=${P}br
step "ofswitch vsctl: a bridge and three internal ports, one per namespace"
ofs vsctl add-br "$BR"
i=1
for h in h1 h2 h3; do
  ofs vsctl add-port "$BR" "$P$h" -- set interface "$P$h" type=internal
  ip netns add "$P$h"
  ip link set "$P$h" netns "$P$h"
  ip -n "$P$h" addr add "10.250.0.$i/24" dev "$P$h"
  ip -n "$P$h" link set "$P$h" up
  i=$((i + 1))
done
ofs vsctl show

step "1. standalone bridge: a learning switch (priority=0 actions=NORMAL)"
ping_check h1 10.250.0.2 ok
ping_check h1 10.250.0.3 ok

step "2. real ovs-ofctl drives it through the bridge's socket"
T=unix:$STATE/$BR.mgmt
echo "   ovs-ofctl -O OpenFlow13 add-flow $T priority=100,ip,nw_dst=10.250.0.3,actions=drop"
ovs-ofctl -O OpenFlow13 add-flow "$T" "priority=100,ip,nw_dst=10.250.0.3,actions=drop"
ping_check h1 10.250.0.2 ok
ping_check h1 10.250.0.3 fail
ovs-ofctl -O OpenFlow13 dump-flows "$T" | sed 's/^/   /'
ovs-ofctl -O OpenFlow13 del-flows --strict "$T" "priority=100,ip,nw_dst=10.250.0.3"
ping_check h1 10.250.0.3 ok

step "3. access VLANs: h1 and h2 in VLAN 10, h3 in VLAN 20"
ofs vsctl set port "${P}h1" tag=10 -- set port "${P}h2" tag=10 -- set port "${P}h3" tag=20
ping_check h1 10.250.0.2 ok
ping_check h1 10.250.0.3 fail

step "4. the flow table and the ports, as ofswitch ofctl prints them"
ofs ofctl dump-flows "$BR" | sed 's/^/   /'
ofs ofctl dump-ports "$BR" | sed 's/^/   /'

step "5. the OpenFlow library on its own"
cargo run -q --release --example wire_tour
echo
echo "demo: done"
