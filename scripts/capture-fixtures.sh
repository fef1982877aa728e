#!/usr/bin/env bash
# capture-fixtures.sh: regenerate the byte-exact OpenFlow 1.3 fixtures in
# openflow/tests/fixtures/ from a real Open vSwitch (ovs-vswitchd + ovs-ofctl).
#
#   sudo scripts/capture-fixtures.sh          (needs root: OVS, netns, veth)
#
# What it does:
#   1. takes the machine-wide lock /tmp/ofswitch-ovs.lock (only one userspace OVS can run
#      at a time: they all share the TAP "ovs-netdev"), waits for it up to 15 minutes;
#   2. starts a private userspace OVS (datapath_type=netdev, no kernel module) with the
#      recipe scripts/ovs-userspace.sh (env OVS_RECIPE to use another):
#      bridge fxbr0, OpenFlow 1.3 only, passive listener ptcp:<free port>:127.0.0.1, and two
#      netns hosts fx<PID>-h1 (10.77.0.1/24, OpenFlow port 1) and fx<PID>-h2 (10.77.0.2/24,
#      port 2);
#   3. runs scripts/ofcapture.py, which is at once a fake controller OVS connects to and a
#      logging TCP proxy in front of OVS's passive listener for ovs-ofctl; it records the
#      messages verbatim (see that file and openflow/tests/fixtures/README.md);
#   4. on success replaces the generated files in openflow/tests/fixtures/ (*.hex,
#      flows/flow_mod/*.hex, flows/dump_flows.{hex,txt}); README.md and flows/flows.txt
#      (the input: one ovs-ofctl flow per line) are left alone. On failure nothing changes.
# Always (trap) stops OVS and removes its bridge, taps, netns and veths.
# Re-runnable: every run captures afresh. Ports, dates, durations, MAC addresses of the
# veths and the netns names differ from run to run, so the files do too.
# Env: KEEP_WORK=1 keeps the work directory (OVS logs) for debugging.
#      CAPTURE_OUT=DIR writes the captured files to DIR (same layout) and leaves
#      openflow/tests/fixtures/ alone: the live tests use this to compare against
#      the Open vSwitch installed on the machine they run on.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIX=$REPO/openflow/tests/fixtures
RECIPE=${OVS_RECIPE:-$REPO/scripts/ovs-userspace.sh}
LOCK=${OVS_LOCK:-/tmp/ofswitch-ovs.lock}
BRIDGE=fxbr0
PFX=fx$$-

die() { echo "capture-fixtures: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (Open vSwitch, network namespaces)"
[ -x "$RECIPE" ] || die "OVS recipe not found: $RECIPE (set OVS_RECIPE)"
for t in ovs-vswitchd ovsdb-server ovs-vsctl ovs-ofctl python3 ip flock; do
  command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh installs Open vSwitch)"
done
[ -f "$FIX/flows/flows.txt" ] || die "missing $FIX/flows/flows.txt"

exec 9>"$LOCK"
echo "capture-fixtures: waiting for $LOCK" >&2
flock -w 900 9 || die "could not get $LOCK"

WORK=$(mktemp -d /tmp/fx-capture.XXXXXX)
OVSDIR=$WORK/ovs
OUT=$WORK/out
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "$RECIPE" down "$OVSDIR" >/dev/null 2>&1 || true
  for h in h1 h2 h3; do
    ip netns del "$PFX$h" 2>/dev/null || true
    ip link del "$PFX$h" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] || [ -n "${KEEP_WORK:-}" ]; then
    echo "capture-fixtures: work directory kept: $WORK (OVS logs in $OVSDIR)" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
OFCTL_PORT=$(free_port)

OFCTL_PORT=$OFCTL_PORT DPID=1 "$RECIPE" up "$OVSDIR" "$BRIDGE"
"$RECIPE" addhost "$OVSDIR" "$BRIDGE" "${PFX}h1" 10.77.0.1/24 1
"$RECIPE" addhost "$OVSDIR" "$BRIDGE" "${PFX}h2" 10.77.0.2/24 2
# no IPv6 chatter (router solicitations, MLD) from the hosts or the bridge port
sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1" || true
for h in h1 h2; do
  ip netns exec "$PFX$h" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
done

python3 "$REPO/scripts/ofcapture.py" \
  --ovs-dir "$OVSDIR" --bridge "$BRIDGE" --recipe "$RECIPE" --ofctl-port "$OFCTL_PORT" \
  --hosts "${PFX}h1,${PFX}h2" --ips 10.77.0.1/24,10.77.0.2/24 --spare-host "${PFX}h3" \
  --flows "$FIX/flows/flows.txt" --out "$OUT"

# sanity: the flows file and the FLOW_MODs match one to one
n_flows=$(wc -l <"$FIX/flows/flows.txt")
n_mods=$(find "$OUT/flows/flow_mod" -name '*.hex' | wc -l)
[ "$n_flows" -eq "$n_mods" ] || die "flows.txt has $n_flows lines but $n_mods FLOW_MODs were captured"

if [ -n "${CAPTURE_OUT:-}" ]; then
  mkdir -p "$CAPTURE_OUT"
  cp -r "$OUT"/. "$CAPTURE_OUT"/
  echo "capture-fixtures: $(find "$CAPTURE_OUT" -name '*.hex' | wc -l) .hex files in $CAPTURE_OUT"
  exit 0
fi

# replace the generated files only now that the whole capture worked
rm -f "$FIX"/*.hex "$FIX"/flows/flow_mod/*.hex "$FIX"/flows/dump_flows.hex "$FIX"/flows/dump_flows.txt
mkdir -p "$FIX/flows/flow_mod"
cp "$OUT"/*.hex "$FIX"/
cp "$OUT"/flows/flow_mod/*.hex "$FIX"/flows/flow_mod/
cp "$OUT"/flows/dump_flows.hex "$OUT"/flows/dump_flows.txt "$FIX"/flows/
echo "capture-fixtures: $(find "$FIX" -name '*.hex' | wc -l) .hex files in $FIX"
