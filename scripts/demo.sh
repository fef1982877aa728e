#!/usr/bin/env bash
# The whole product in two minutes: installs what it needs, builds ofswitch and ofcontroller,
# then runs a small controller-driven network for real and narrates it:
#
#   host1 (netns, own ofswitch daemon) ==== veth underlay 192.168.50.1 <-> .2 ==== host2 (same)
#     br0 (dpid d1) + vx0 (VXLAN to host2)                   br0 (dpid d2) + vx0 (VXLAN to host1)
#     red1 red2 blue1 blue2 (containers)                     red3 red4 blue3 blue4
#     ofcontroller on 192.168.50.1:6653, policy: red = VLAN 10 (VNI 1010), blue = VLAN 20 (VNI 1020)
#
# The eight containers (namespaces attached with `vsctl add-netns-port`) share one subnet,
# 10.50.0.0/24; the controller's policy puts the red ones in VLAN 10, the blue ones in VLAN 20,
# and carries each VLAN through the tunnel under its own VNI. The demo prints the ping matrix
# (same VLAN reaches, on a host and across the tunnel; another VLAN does not), each switch's
# flows, iperf3 across the tunnel and the controller's status, then removes everything.
#
#   scripts/demo.sh [--keep] [--no-build]
#
#   --keep      leave the topology up; print how to look around and how to tear it down
#   --no-build  skip scripts/install-deps.sh and the build: use $OFSWITCH and $OFCONTROLLER,
#               else target/release/{ofswitch,ofcontroller}
#
# Needs root (network namespaces, veth, TAP); without it, it says so and tours the OpenFlow
# library instead. Every namespace is named od<pid>... ($OFX_PREFIX if set); on exit, on failure
# and on Ctrl-C it stops every process it started and removes every namespace, veth and
# directory it made. Exits non-zero if anything is not as expected.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP_ARG=0
BUILD=1
for a in "$@"; do
  case $a in
  --keep) KEEP_ARG=1 ;;
  --no-build) BUILD=0 ;;
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "demo: unknown argument $a (want --keep or --no-build)" >&2
    exit 2
    ;;
  esac
done

if [ $BUILD = 1 ]; then
  scripts/install-deps.sh
  cargo build --release -p ofswitch -p ofcontroller
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: the network part needs root (network namespaces, veth, TAP devices); showing the OpenFlow library only"
  cargo run -q --release --example wire_tour
  exit 0
fi

OFSWITCH=${OFSWITCH:-$PWD/target/release/ofswitch}
OFCONTROLLER=${OFCONTROLLER:-$PWD/target/release/ofcontroller}
for b in "$OFSWITCH" "$OFCONTROLLER"; do
  [ -x "$b" ] || { echo "demo: no $b (run scripts/demo.sh without --no-build to build it)" >&2; exit 1; }
done
export OFSWITCH OFCONTROLLER
OFX_PREFIX=${OFX_PREFIX:-od$$}
KEEP=$KEEP_ARG
# shellcheck source=examples/lib.sh
source examples/lib.sh
# The containers' ports live in the hosts' namespaces, which are this run's own.
PORT_PREFIX=
need ping iperf3 ss
T0=$EPOCHREALTIME

UNDERLAY1=192.168.50.1
UNDERLAY2=192.168.50.2
# name host VLAN address, in the ping matrix's order.
CONTAINERS=(
  "red1 host1 10 10.50.0.11" "red2 host1 10 10.50.0.12" "blue1 host1 20 10.50.0.13" "blue2 host1 20 10.50.0.14"
  "red3 host2 10 10.50.0.21" "red4 host2 10 10.50.0.22" "blue3 host2 20 10.50.0.23" "blue4 host2 20 10.50.0.24"
)

# elapsed: seconds since T0, one decimal.
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# on HOST ARGS...: `ofswitch ARGS` against HOST's daemon, shown as typed on that host.
on() {
  local h=$1
  shift
  printf '   %s# ofswitch %s\n' "$h" "$*"
  ofs "$h" "$@" 2>&1 | sed 's/^./     &/'
}

# shown TEXT CMD...: print `$ TEXT`, run CMD, its output indented.
shown() {
  printf '   $ %s\n' "$1"
  shift
  "$@" 2>&1 | sed 's/^./     &/'
}

# flows HOST: HOST's ports by number, then its flows table by table, highest priority first,
# each table headed by its name and how many flows it holds (ofctl's syntax, without the
# table, cookie, duration and byte columns; the packet count last).
flows() {
  local h=$1 out ports
  out=$(ofs "$h" ofctl --names dump-flows br0)
  ports=$(ofs "$h" ofctl dump-ports-desc br0 | sed -n 's/^ \([0-9][0-9]*\)(\([^)]*\)):.*/\1 \2/p' | paste -sd, - | sed 's/,/, /g')
  printf '   %s# ofswitch ofctl --names dump-flows br0          (ports: %s)\n' "$h" "$ports"
  awk '
    BEGIN { split("vlan eth_src eth_dst flood", name, " ") }
    {
      sub(/^ +/, ""); sub(/cookie=[^ ]*, /, ""); sub(/duration=[^ ]*, /, ""); sub(/n_bytes=[^ ]*, /, "")
      if ($1 !~ /^table=/) next
      t = $1; sub(/^table=/, "", t); sub(/,$/, "", t); gsub(/"/, "", t)
      sub(/^table=[^ ]* /, "")
      pk = ""
      if (match($0, /n_packets=[0-9]+, /)) { pk = substr($0, RSTART + 10, RLENGTH - 12); $0 = substr($0, 1, RSTART - 1) substr($0, RSTART + RLENGTH) }
      if (pk != "") $0 = $0 "  (" pk " packet" (pk == 1 ? "" : "s") ")"
      if (!(t in n)) order[++k] = t
      n[t]++
      p = 0
      key = $0
      if (match($0, /priority=[0-9]+/)) { p = substr($0, RSTART + 9, RLENGTH - 9) + 0; key = substr($0, RSTART) }
      # Insertion: highest priority first, then by match (a stable order from run to run).
      for (j = n[t]; j > 1 && (prio[t, j - 1] < p || (prio[t, j - 1] == p && skey[t, j - 1] > key)); j--) {
        line[t, j] = line[t, j - 1]; prio[t, j] = prio[t, j - 1]; skey[t, j] = skey[t, j - 1]
      }
      line[t, j] = $0; prio[t, j] = p; skey[t, j] = key
    }
    END {
      for (i = 1; i <= k; i++) {
        t = order[i]
        label = t
        if (t ~ /^[0-9]+$/ && (t + 1) in name) label = t " (" name[t + 1] ")"
        printf "     table %s: %d flow%s\n", label, n[t], n[t] == 1 ? "" : "s"
        for (j = 1; j <= n[t]; j++) printf "       %s\n", line[t, j]
      }
    }' <<<"$out"
}

# mac IP: the container's MAC, after its address (02:00:00:00:00:11 for 10.50.0.11).
mac() { printf '02:00:00:00:00:%s' "${1##*.}"; }

printf 'demo: two hosts joined by VXLAN, eight containers in two VLANs, driven by ofcontroller\n'
printf '   host1 (netns)  ==== veth underlay %s <-> %s ====  host2 (netns)\n' "$UNDERLAY1" "$UNDERLAY2"
printf '     ofswitch daemon, br0 + vx0 (VXLAN)               ofswitch daemon, br0 + vx0 (VXLAN)\n'
printf '     red1 red2 (VLAN 10) blue1 blue2 (VLAN 20)        red3 red4 (VLAN 10) blue3 blue4 (VLAN 20)\n'
printf '     ofcontroller (two-VLAN policy)\n'
printf '   (every namespace is named %s...; all of it is removed at the end, or on Ctrl-C)\n' "$P"

step "1. two hosts: network namespaces, each running its own ofswitch daemon and state directory"
say "(as two machines would: nothing is shared but the underlay link between them)"
host host1
host host2
link host1 $UNDERLAY1 host2 $UNDERLAY2
say "host1: ofswitch daemon pid ${EX_PIDS[0]}, underlay $UNDERLAY1, state in $WORK/host1"
say "host2: ofswitch daemon pid ${EX_PIDS[1]}, underlay $UNDERLAY2, state in $WORK/host2"
say "(below, \"host1# ofswitch ...\" is ofswitch --state-dir $WORK/host1 ...)"

step "2. a bridge on each host, configured as with ovs-vsctl, and a VXLAN port to the other host"
say "(fail-mode secure: until the controller's flows are in, nothing crosses a bridge)"
on host1 vsctl add-br br0 -- set bridge br0 other_config:datapath-id=00000000000000d1
on host1 vsctl set-fail-mode br0 secure
on host1 vsctl add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=$UNDERLAY2 options:key=flow
ofs host2 vsctl add-br br0 -- set bridge br0 other_config:datapath-id=00000000000000d2
ofs host2 vsctl set-fail-mode br0 secure
ofs host2 vsctl add-port br0 vx0 -- set interface vx0 type=vxlan options:remote_ip=$UNDERLAY1 options:key=flow
say "(host2 the same with datapath id d2 and remote_ip $UNDERLAY1; key=flow: the controller sets the VNI)"

step "3. four containers on each host, attached as ovs-docker does, all in one subnet"
say "(add-netns-port: a veth pair, eth0 in the container's namespace with its address, MAC, MTU 1450 for VXLAN)"
printf '   host1# ofswitch vsctl add-netns-port br0 red1 %sred1 --ifname=eth0 --ipaddress=10.50.0.11/24 \\\n' "$P"
printf '            --macaddress=%s --mtu=1450\n' "$(mac 10.50.0.11)"
printf '   %-10s %-6s %-5s %-15s %s\n' container host VLAN address MAC
for c in "${CONTAINERS[@]}"; do
  read -r name h vlan ip <<<"$c"
  container "$h" br0 "$name" "$ip/24" --macaddress="$(mac "$ip")" --mtu=1450
  printf '   %-10s %-6s %-5s %-15s %s\n' "$name" "$h" "$vlan" "$ip/24" "$(mac "$ip")"
done
say "(the VLANs are not configured on the switches: they come from the controller's policy, next)"

step "4. the controller, with a two-VLAN policy: red = VLAN 10, blue = VLAN 20"
say "(switches by datapath id, ports by name; each VLAN has its own VXLAN VNI on the tunnel)"
{
  cat <<TOML
[vlans.red]
vid = 10
tunnel_id = 1010

[vlans.blue]
vid = 20
tunnel_id = 1020
TOML
  for h in 1 2; do
    printf '\n[switches.host%s]\ndpid = 0xd%s\n\n[switches.host%s.ports]\n' $h $h $h
    for c in "${CONTAINERS[@]}"; do
      read -r name ch _ _ <<<"$c"
      [ "$ch" = host$h ] && printf '%s = { access = "%s" }\n' "$name" "${name%%[0-9]*}"
    done
    printf 'vx0 = { tunnel = true }\n'
  done
} >"$WORK/policy.toml"
printf '   %s:\n' "$WORK/policy.toml"
sed 's/^/     /; s/ *$//' "$WORK/policy.toml"
shown "ofcontroller check $WORK/policy.toml" "$OFCONTROLLER" check "$WORK/policy.toml"
say "ofcontroller run on host1, listening on $UNDERLAY1:6653; both bridges connect over the underlay:"
printf '   host1# ofcontroller run --listen tcp:%s:6653 --policy %s --control %s &\n' \
  "$UNDERLAY1" "$WORK/policy.toml" "$WORK/ofcontroller.ctl"
controller host1 $UNDERLAY1 --policy "$WORK/policy.toml"
printf '   host1# ofswitch vsctl set-fail-mode br0 secure -- set-controller br0 tcp:%s:6653   (host2 too)\n' "$UNDERLAY1"
controlled host1 $UNDERLAY1 br0
controlled host2 $UNDERLAY1 br0
wait_resynced 2

step "5. every container pings every other: its own VLAN answers, across the tunnel too; the other does not"
say "(not even in the same subnet on the same host: the VLANs are the controller's flows)"
matrix=()
for c in "${CONTAINERS[@]}"; do
  read -r name _ vlan ip <<<"$c"
  matrix+=("$name:$ip:$vlan")
done
ping_matrix "${matrix[@]}"

step "6. the flows the controller installed, as ofswitch ofctl (or ovs-ofctl) prints them"
say "(Faucet's layout: the port or the VNI says the VLAN, source MACs are learned, destinations"
say " looked up, unknown ones flooded within the VLAN; the tunnel's VNI is set per VLAN)"
flows host1
flows host2
on host1 vsctl get interface vx0 statistics

step "7. throughput across the VXLAN tunnel: iperf3 from red1 (host1) to red3 (host2), 5 s"
iperf3_run red1 red3 10.50.0.21 5
GBITS=$(awk -v m="$IPERF_MBITS" 'BEGIN { printf "%.2f", m / 1000 }')
say "=> $GBITS Gbit/s through two userspace switches and the tunnel"

step "8. the controller's view: switches, ports and their roles, VLANs, learned MACs"
shown "ofcontroller status --control $WORK/ofcontroller.ctl" "$OFCONTROLLER" status --control "$WORK/ofcontroller.ctl"

echo
echo "demo: 2 hosts, 8 containers, 2 VLANs over VXLAN: $MATRIX_REACHED same-VLAN pairs reached, $MATRIX_APART cross-VLAN pairs did not;"
echo "demo: $GBITS Gbit/s across the tunnel; ran in $(elapsed) s after the build"

if [ "$KEEP" = 1 ]; then
  cat <<EOF

Look around (the topology stays up):
   ip netns exec ${P}red1 ping -c 3 10.50.0.21     # red1 -> red3 (host2), VLAN 10: answers
   ip netns exec ${P}red1 ping -c 3 10.50.0.13     # red1 -> blue1 (same host), VLAN 20: silence
   ip netns exec ${P}host1 ip -br link             # host1's interfaces: the ports, the underlay
   $OFSWITCH --state-dir $WORK/host1 vsctl show
   $OFSWITCH --state-dir $WORK/host1 ofctl --names dump-flows br0
   $OFSWITCH --state-dir $WORK/host2 ofctl dump-ports br0
   $OFCONTROLLER --control $WORK/ofcontroller.ctl status
EOF
fi
