#!/usr/bin/env bash
# Datapath benchmark (issue 6), never run by CI: ofswitch against Open vSwitch's userspace
# datapath, the Linux bridge and a bare veth pair, all in one run on the same topology
#     netns h1 -- veth -- switch -- veth -- netns h2
# for each of
#   (a) ofswitch, standalone bridge (NORMAL), hosts attached with `vsctl add-netns-port`
#   (b) ofswitch, fail-mode secure, 10,000 flows over 4 tables installed with
#       `ofctl add-flows`; the test traffic walks all four tables on installed flows
#   (c) Open vSwitch 3.1 userspace (datapath_type=netdev, scripts/ovs-userspace.sh), NORMAL
#   (d) the Linux bridge
#   (e) a direct veth pair (no switch)
# then VXLAN (VNI 42, UDP 4789) between two switches, each in its own netns, over a veth
# underlay with MTU 1600 (so the hosts keep MTU 1500; 1550-byte outer packets fit):
#     netns h1 -- veth -- switch A ==VXLAN, underlay veth== switch B -- veth -- netns h2
#   (f) A and B both ofswitch (standalone, NORMAL; two daemons, B started in B's netns)
#   (g) A ofswitch, B the Linux kernel: a `vxlan` device and h2's veth on a Linux bridge
#   (h) A Open vSwitch 3.1 userspace (one instance: two instances cannot run here at once),
#       its VXLAN port routed through a second OVS bridge holding the underlay veth; B as (g)
#   (i) A and B both the Linux kernel (vxlan device + Linux bridge)
#   (n) as (f) over GRE (key 42): A and B both ofswitch
#   B's underlay runs with tx checksum offload off in (g), (h) and (i) (the same B for all
#   three): Open vSwitch's userspace tunnel drops VXLAN whose outer UDP checksum was left
#   unfinished by veth's offload.
# Last, installed flows during a packet-in flood:
#   (j) (b)'s 10,000 flows plus a table-miss flow `priority=0,actions=CONTROLLER:65535`,
#       a minimal OpenFlow controller connected (it counts packet-ins), a third host h3
#       on the bridge, quiet
#   (k) the same switch, same run, while h3 floods table misses with trafgen: 60-byte
#       IPv4/UDP frames with random source and destination MACs, IPs and ports
#       (--flood-pps, default 50,000/s), every frame a different flow, all to the controller
# it measures, in this order:
#   TCP throughput, iperf3, hosts' default offloads (checksum offload, TSO on)
#   TCP throughput, iperf3, after `ethtool -K eth0 tx off` in both hosts
#   64-byte UDP, iperf3 -u -l 64 -b 0: packets per second the receiver got   (tx off)
#   round-trip latency, ping -c 20 -i 0.05: average                           (tx off)
#   64-byte frames (60 + FCS, IPv4/UDP), trafgen in h1 on one CPU: frames per second h2's
#   interface received (h2 keeps the UDP port open, unread: a cheap sink for every setup)
# The iperf3 UDP figure is mostly the hosts' own UDP stacks and iperf3 (three busy tasks on
# two cores when a userspace switch sits between them); the trafgen figure is the switch.
# UDP and ping run with tx off so that every setup sees the same packets (through Open vSwitch
# with default offloads the checksums are left unfinished and the receiver drops them).
#
# Usage, as root:  scripts/bench-datapath.sh [--save] [--time SECS] [--flood-pps N] [--only LIST]
#   --save          also write the table into BENCHMARKS.md's "## Datapath" section (replaced)
#   --time SECS     seconds per iperf3 measurement (default 4)
#   --flood-pps N   frames per second h3 offers in (k) (default 50000; 0: as fast as trafgen can)
#   --only LIST     run only these setups, comma-separated: ours ours10k ovs bridge veth vxours
#                   vxmix vxovs vxlinux flood pnet ovstso greours (a to n in order; flood is j
#                   and k); not with --save
# Environment: OFS_DAEMON_ARGS adds arguments to every `ofswitch daemon` this script starts
# (e.g. "--forwarding-threads 2"), for trying a setting; the saved table uses the defaults.
# Prints one markdown table with the figures and ours/OVS, ours/bridge, ours/Linux VXLAN and
# flood/no-flood ratios. A setup that fails prints an error row and the run goes on.
# Everything it creates is named bd<pid>* and removed on exit (trap), also on failure or
# Ctrl-C. Takes about 3 minutes after the build (with --time 4).
# Only ratios taken in one run mean anything: the machines are shared and noisy.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAVE=0
T=4
FLOOD_PPS=50000
ONLY=
while [ $# -gt 0 ]; do
  case $1 in
  --save) SAVE=1 ;;
  --time) T=${2:?--time SECS}; shift ;;
  --time=*) T=${1#--time=} ;;
  --flood-pps) FLOOD_PPS=${2:?--flood-pps N}; shift ;;
  --flood-pps=*) FLOOD_PPS=${1#--flood-pps=} ;;
  --only) ONLY=${2:?--only LIST}; shift ;;
  --only=*) ONLY=${1#--only=} ;;
  -h | --help) sed -n '2,51p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench-datapath: unknown argument $1 (want --save, --time SECS, --flood-pps N, --only LIST)" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$ONLY" ] && [ "$SAVE" -eq 1 ] && { echo "bench-datapath: --save wants the whole table, not --only" >&2; exit 2; }
[ -n "${OFS_DAEMON_ARGS:-}" ] && [ "$SAVE" -eq 1 ] && { echo "bench-datapath: --save measures the defaults, not OFS_DAEMON_ARGS" >&2; exit 2; }
[[ $FLOOD_PPS =~ ^[0-9]+$ ]] || { echo "bench-datapath: --flood-pps wants a number" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench-datapath: needs root (namespaces, veths, bridges)" >&2; exit 1; }
for tool in iperf3 ping ethtool ip jq ovs-vsctl ovs-ofctl flock python3 trafgen pgrep; do
  command -v "$tool" >/dev/null || { echo "bench-datapath: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

echo "== cargo build --release -p ofswitch" >&2
cargo build --release -p ofswitch >&2 || { echo "bench-datapath: build failed" >&2; exit 1; }
BIN=$ROOT/target/release/ofswitch

P=bd$$                         # prefix of every namespace, link, bridge and directory
WORK=$(mktemp -d "/tmp/ofswitch-bench.XXXXXX")
NET=10.77.0                    # hosts are $NET.1 and $NET.2 (inside the namespaces only)
UNET=10.77.1                   # VXLAN underlay: A is $UNET.1, B $UNET.2 (in the root namespace
                               # only while Open vSwitch is A, on its underlay bridge)
VNI=42
IPERF_PORT=5301
OVS_LOCK=/tmp/ofswitch-ovs.lock
DAEMON_PIDS=()                 # ofswitch daemons (two in (f))
CTL_PID=                       # (j)/(k)'s controller
FLOOD_PID=                     # (k)'s trafgen
GEN_PID=                       # the 64-byte frames' trafgen (h1)
SINK_PID=                      # their sink (h2)
OVS_DIR=
SERVER_PID=
LOCK_FD=

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"

stop_daemon() {  # stops every ofswitch daemon this script started
  local pid
  for pid in "${DAEMON_PIDS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  DAEMON_PIDS=()
}
stop_flood() {  # trafgen stops on SIGINT (its forked sender ignores SIGTERM)
  [ -n "$FLOOD_PID" ] || return 0
  local pid ns=${P}flo3
  kill -INT "$FLOOD_PID" 2>/dev/null
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -INT "$pid" 2>/dev/null; done
  for _ in $(seq 20); do kill -0 "$FLOOD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$FLOOD_PID" 2>/dev/null
  for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
  wait "$FLOOD_PID" 2>/dev/null
  FLOOD_PID=
}

stop_frames() {  # the 64-byte frame generator and its sink
  local pid kids
  if [ -n "$GEN_PID" ]; then
    kids=$(pgrep -P "$GEN_PID")
    for pid in "$GEN_PID" $kids; do kill -INT "$pid" 2>/dev/null; done
    for _ in $(seq 20); do kill -0 "$GEN_PID" 2>/dev/null || break; sleep 0.1; done
    for pid in "$GEN_PID" $kids; do kill -9 "$pid" 2>/dev/null; done
    wait "$GEN_PID" 2>/dev/null
  fi
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
  GEN_PID= SINK_PID=
}

cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  stop_frames
  stop_flood
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
  CTL_PID=
  stop_daemon
  [ -n "$OVS_DIR" ] && OFCTL_PORT=$OFCTL_PORT "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1
  OVS_DIR=
  [ -n "$LOCK_FD" ] && { flock -u "$LOCK_FD"; exec {LOCK_FD}>&-; LOCK_FD=; }
  local nss pid
  nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P")
  for ns in $nss; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done  # our iperf3/ping
  done
  [ -n "$nss" ] && sleep 0.3
  for ns in $nss; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done  # stragglers
    ip netns del "$ns"
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P"); do
    ip link del "$l" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
OFCTL_PORT=$((20000 + $$ % 20000))  # the private OVS's ptcp listener (unused here; unique)

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---- measurements ---------------------------------------------------------------------------

# wait_reachable NS1 NS2: both ways, up to ~10 s.
wait_reachable() {
  for _ in $(seq 20); do
    in_ns "$1" ping -c 1 -W 1 "$NET.2" >/dev/null 2>&1 && in_ns "$2" ping -c 1 -W 1 "$NET.1" >/dev/null 2>&1 &&
      return 0
    sleep 0.5
  done
  return 1
}

# iperf NS1 NS2 OUT ARGS...: one iperf3 test h1 -> h2 with a one-off server; JSON in OUT.
iperf() {
  local ns1=$1 ns2=$2 out=$3; shift 3
  ip netns exec "$ns2" iperf3 -s -1 -p "$IPERF_PORT" >/dev/null 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 20); do in_ns "$ns2" ss -ltn 2>/dev/null | grep -q ":$IPERF_PORT " && break; sleep 0.1; done
  timeout $((T + 20)) ip netns exec "$ns1" iperf3 -c "$NET.2" -p "$IPERF_PORT" -t "$T" -J \
    --connect-timeout 3000 "$@" >"$out" 2>/dev/null
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
}

# Each sets R[KEY] (not run in $(...): the iperf3 server's PID must stay known to cleanup).
# tcp NS1 NS2 KEY: Gbit/s received, or "fail (...)".
tcp() {
  local out=$WORK/tcp.json v
  iperf "$1" "$2" "$out"
  v=$(jq -r 'if .error then "fail (" + (.error | split(": ") | last) + ")" else (.end.sum_received.bits_per_second / 1e9 * 100 | round / 100 | tostring) end' "$out" 2>/dev/null)
  [[ $v =~ ^[0-9.]+$ ]] && v=$(printf '%.2f' "$v")
  R[$3]=${v:-fail (no result)}
}

# udp NS1 NS2 KEY: packets per second received (64-byte payloads).
udp() {
  local out=$WORK/udp.json v
  iperf "$1" "$2" "$out" -u -l 64 -b 0
  v=$(jq -r 'if .error then "fail (" + (.error | split(": ") | last) + ")" else ((.end.sum.packets - .end.sum.lost_packets) / .end.sum.seconds | round | tostring) end' "$out" 2>/dev/null)
  R[$3]=${v:-fail (no result)}
}

# frames NS1 NS2 KEY: 64-byte frames (60 bytes and the FCS: IPv4/UDP h1 -> h2, port 9) from
# trafgen in h1, as fast as one sender CPU goes, for $T s; R[KEY] = frames per second h2's
# eth0 received. h2 holds UDP port 9 open and never reads it, so the frames end in a full
# socket buffer: the same small cost for every setup (no ICMP port-unreachable replies).
frames() {
  local n1=$1 n2=$2 key=$3 m1 m2 r0 r1 t0 t1 v
  command -v trafgen >/dev/null || { R[$key]="fail (no trafgen)"; return; }
  m1=$(ip -n "$n1" -j link show eth0 | jq -r '.[0].address') &&
    m2=$(ip -n "$n2" -j link show eth0 | jq -r '.[0].address') || { R[$key]="fail (no eth0)"; return; }
  frames_cfg "$m1" "$m2" >"$WORK/frames.cfg"
  # `ip netns exec` itself (not in_ns, a function: $! would be a subshell) so that $! is the
  # process to stop.
  ip netns exec "$n2" python3 -c 'import signal, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 9)); signal.pause()' &
  SINK_PID=$!
  for _ in $(seq 50); do in_ns "$n2" ss -uln 2>/dev/null | grep -q ':9 ' && break; sleep 0.1; done
  ip netns exec "$n1" trafgen --dev eth0 --conf "$WORK/frames.cfg" --cpus 1 --no-sock-mem --notouch-irq -q \
    </dev/null >"$WORK/frames.out" 2>&1 &
  GEN_PID=$!
  sleep 1  # the sender up to speed, learning tables filled
  r0=$(eth0_packets "$n2" rx); t0=$(date +%s.%N)
  sleep "$T"
  r1=$(eth0_packets "$n2" rx); t1=$(date +%s.%N)
  stop_frames
  v=$(awk -v a="${r0:-x}" -v b="${r1:-x}" -v t0="$t0" -v t1="$t1" \
    'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > a) printf "%d", (b - a) / (t1 - t0) }')
  R[$key]=${v:-fail ($(grep -v '^$' "$WORK/frames.out" | tail -1))}
}
eth0_packets() { ip -n "$1" -j -s link show eth0 2>/dev/null | jq ".[0].stats64.$2.packets"; }  # NS rx|tx
frames_cfg() {  # frames_cfg MAC1 MAC2: trafgen's packet: IPv4/UDP $NET.1:9 -> $NET.2:9, 60 bytes
  local a b
  a=$(echo "$1" | sed 's/^/0x/; s/:/, 0x/g'); b=$(echo "$2" | sed 's/^/0x/; s/:/, 0x/g')
  cat <<CFG
{ $b, $a, c16(0x0800),
  0x45, 0x00, c16(46), drnd(2), c16(0), 64, 17, csumip(14, 33),
  ${NET//./, }, 1, ${NET//./, }, 2,
  c16(9), c16(9), c16(26), c16(0), fill(0x00, 18) }
CFG
}

# rtt NS1 KEY: average ping time to h2 in ms.
rtt() {
  local v
  v=$(in_ns "$1" ping -q -c 20 -i 0.05 -W 1 "$NET.2" 2>/dev/null | awk -F'/' '/^rtt|^round-trip/ {print $5}')
  R[$2]=${v:-fail}
}

offloads() {  # offloads on|off NS...: ethtool -K eth0 tx on|off (tx on restores veth's defaults)
  local mode=$1 ns; shift
  for ns in "$@"; do in_ns "$ns" ethtool -K eth0 tx "$mode" >/dev/null 2>&1 || return 1; done
}

declare -A R  # R[setup,metric]
RUNS=(ours ours10k ovs bridge veth vxours vxmix vxovs vxlinux flood pnet ovstso greours)  # (j) and (k) are one run
SETUPS=(ours ours10k ovs bridge veth vxours vxmix vxovs vxlinux flood0 flood pnet ovstso greours)  # the table's rows
if [ "$FLOOD_PPS" -gt 0 ]; then FLOOD_RATE="$(commas "$FLOOD_PPS")/s"; else FLOOD_RATE="trafgen's fastest"; fi
if [ -n "$ONLY" ]; then
  only=",$ONLY,"; sel=()
  for s in "${RUNS[@]}"; do [[ $only == *",$s,"* ]] && sel+=("$s"); done
  [ ${#sel[@]} -gt 0 ] || { echo "bench-datapath: --only $ONLY names no setup (${RUNS[*]})" >&2; exit 2; }
  RUNS=("${sel[@]}")
fi
declare -A NAME=(
  [ours]="(a) ofswitch, NORMAL"
  [ours10k]="(b) ofswitch, 10,000 flows / 4 tables"
  [ovs]="(c) Open vSwitch 3.1 userspace, NORMAL"
  [bridge]="(d) Linux bridge"
  [veth]="(e) direct veth pair"
  [vxours]="(f) VXLAN: ofswitch == ofswitch"
  [vxmix]="(g) VXLAN: ofswitch == Linux vxlan + bridge"
  [vxovs]="(h) VXLAN: Open vSwitch 3.1 userspace == Linux vxlan + bridge"
  [vxlinux]="(i) VXLAN: Linux vxlan + bridge == Linux vxlan + bridge"
  [flood0]="(j) ofswitch, (b) + table miss to a controller, h3 quiet"
  [flood]="(k) as (j), h3 flooding $FLOOD_RATE table misses"
  [pnet]="(l) ofswitch, NORMAL, ports through pnet_datalink (options:backend=pnet)"
  [ovstso]="(m) Open vSwitch 3.1 userspace, NORMAL, userspace-tso-enable=true"
  [greours]="(n) GRE: ofswitch == ofswitch"
)
# Ratio rows: "A B" is A / B, labelled with SHORT.
RATIOS=("ours ovs" "ours ovstso" "ours bridge" "ours10k ovs" "ours10k bridge" "vxmix vxovs" "vxmix vxlinux" "vxours vxlinux" "greours vxlinux" "flood flood0" "ours pnet")
declare -A SHORT=(
  [ours]="(a) ofswitch" [ours10k]="(b) ofswitch" [ovs]="(c) Open vSwitch 3.1 userspace" [bridge]="(d) Linux bridge"
  [vxours]="(f) VXLAN ofswitch == ofswitch" [vxmix]="(g) VXLAN ofswitch == Linux" [vxovs]="(h) VXLAN Open vSwitch == Linux"
  [vxlinux]="(i) VXLAN Linux == Linux" [flood0]="(j) no flood" [flood]="(k) packet-in flood"
  [pnet]="(l) ofswitch through pnet" [ovstso]="(m) Open vSwitch 3.1 userspace with userspace TSO"
  [greours]="(n) GRE ofswitch == ofswitch"
)
declare -A ERR
FLOOD_NOTE=

# measure SETUP NS1 NS2: all four figures.
measure() {
  local s=$1 n1=$2 n2=$3
  wait_reachable "$n1" "$n2" || { ERR[$s]="h1 and h2 cannot ping each other"; return 1; }
  offloads on "$n1" "$n2" || { ERR[$s]="ethtool -K eth0 tx on failed"; return 1; }
  log "$s: TCP, default offloads"; tcp "$n1" "$n2" "$s,tcp_on"
  offloads off "$n1" "$n2" || { ERR[$s]="ethtool -K eth0 tx off failed"; return 1; }
  wait_reachable "$n1" "$n2" || { ERR[$s]="no ping after tx off"; return 1; }
  log "$s: TCP, tx off"; tcp "$n1" "$n2" "$s,tcp_off"
  log "$s: 64-byte UDP"; udp "$n1" "$n2" "$s,udp"
  log "$s: ping"; rtt "$n1" "$s,rtt"
  log "$s: 64-byte frames, trafgen"; frames "$n1" "$n2" "$s,frames"
  log "$s: tcp ${R[$s,tcp_on]} / ${R[$s,tcp_off]} Gbit/s, udp ${R[$s,udp]} pps, rtt ${R[$s,rtt]} ms, frames ${R[$s,frames]} pps"
}

# ---- setups: each returns non-zero with ERR[setup] set on failure -------------------------

start_daemon() {  # start_daemon NAME [NETNS]: a fresh ofswitch daemon in its own state directory
  local st=$WORK/state-$1
  rm -rf "$st"; mkdir -p "$st"  # the daemon keeps its configuration there
  if [ -n "${2:-}" ]; then  # `ip netns exec` execs the daemon: $! is its PID
    # shellcheck disable=SC2086 # OFS_DAEMON_ARGS: words on purpose
    ip netns exec "$2" "$BIN" --state-dir "$st" daemon --log-file "$st/ofswitch.log" ${OFS_DAEMON_ARGS:-} &
  else
    # shellcheck disable=SC2086
    "$BIN" --state-dir "$st" daemon --log-file "$st/ofswitch.log" ${OFS_DAEMON_ARGS:-} &
  fi
  DAEMON_PIDS+=($!)
  for _ in $(seq 50); do [ -S "$st/ofswitch.ctl" ] && return 0; sleep 0.1; done
  return 1
}
ofs() { "$BIN" --state-dir "$WORK/state-$CUR" "$@"; }

# ofswitch with two namespace ports; $1 = standalone|secure.
ours_up() {
  local mode=$1 s=$CUR
  start_daemon "$s" || { ERR[$s]="daemon did not start"; return 1; }
  ip netns add "${P}${s:0:3}1" && ip netns add "${P}${s:0:3}2" || { ERR[$s]="ip netns add failed"; return 1; }
  ofs vsctl add-br "${P}br" -- set-fail-mode "${P}br" "$mode" \
    -- add-netns-port "${P}br" "${P}p1" "${P}${s:0:3}1" --ipaddress="$NET.1/24" \
    -- add-netns-port "${P}br" "${P}p2" "${P}${s:0:3}2" --ipaddress="$NET.2/24" >/dev/null 2>"$WORK/err" ||
    { ERR[$s]="vsctl: $(head -1 "$WORK/err")"; return 1; }
  for _ in $(seq 50); do
    in_ns "${P}${s:0:3}1" ip link show eth0 >/dev/null 2>&1 && in_ns "${P}${s:0:3}2" ip link show eth0 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  ERR[$s]="the daemon did not create the namespace ports"; return 1
}
ours_down() {
  stop_daemon
  local i
  for i in 1 2 3; do ip netns del "${P}${CUR:0:3}$i" 2>/dev/null; ip link del "${P}p$i" 2>/dev/null; done
  return 0
}

setup_ours() { ours_up standalone && measure ours "${P}our1" "${P}our2"; }
# (l): as (a), both ports through the pnet_datalink back-end. pnet carries no offload
# metadata, so TCP with the hosts' default offloads is expected to fail there.
setup_pnet() {
  ours_up standalone || return 1
  ofs vsctl set interface "${P}p1" options:backend=pnet -- set interface "${P}p2" options:backend=pnet \
    >/dev/null 2>"$WORK/err" || { ERR[pnet]="vsctl: $(head -1 "$WORK/err")"; return 1; }
  measure pnet "${P}pne1" "${P}pne2"
}

# 10,000 flows, 2,500 per table; the test traffic (IPv4 and ARP between $NET.1 and $NET.2)
# matches installed flows in every table, the filler flows (other masks, higher priority)
# match nothing of it.
flows_file() {
  local p1=$1 p2=$2
  python3 - "$p1" "$p2" "$NET" <<'EOF'
import sys
p1, p2, net = sys.argv[1], sys.argv[2], sys.argv[3]
out = []
# table 0: in_port -> table 1; filler: source MACs no host has
out += [f"table=0,priority=100,in_port={p},actions=goto_table:1" for p in (p1, p2)]
out += [f"table=0,priority=200,dl_src=02:ee:00:00:{i >> 8:02x}:{i & 255:02x},actions=drop" for i in range(2498)]
# table 1: IPv4 from the hosts' subnet and ARP -> table 2; filler: other /32 sources
out += ["table=1,priority=100,arp,actions=goto_table:2", f"table=1,priority=100,ip,nw_src={net}.0/24,actions=goto_table:2"]
out += [f"table=1,priority=200,ip,nw_src=172.16.{i >> 8}.{i & 255},actions=drop" for i in range(2498)]
# table 2: IPv4 to the hosts' subnet and ARP -> table 3; filler: TCP and UDP ports not used
out += ["table=2,priority=100,arp,actions=goto_table:3", f"table=2,priority=100,ip,nw_dst={net}.0/24,actions=goto_table:3"]
out += [f"table=2,priority=200,{'tcp' if i % 2 else 'udp'},tp_dst={10000 + i},actions=drop" for i in range(2498)]
# table 3: per-host output; filler: other /32 destinations
out += [f"table=3,priority=100,ip,nw_dst={net}.2,actions=output:{p2}", f"table=3,priority=100,ip,nw_dst={net}.1,actions=output:{p1}",
        f"table=3,priority=100,arp,arp_tpa={net}.2,actions=output:{p2}", f"table=3,priority=100,arp,arp_tpa={net}.1,actions=output:{p1}"]
out += [f"table=3,priority=200,ip,nw_dst=10.78.{i >> 8}.{i & 255},actions=drop" for i in range(2496)]
assert len(out) == 10000
print("\n".join(out))
EOF
}

setup_ours10k() {
  ours_up secure || return 1
  local p1 p2 n
  p1=$(ofs vsctl get interface "${P}p1" ofport) && p2=$(ofs vsctl get interface "${P}p2" ofport) ||
    { ERR[ours10k]="cannot read the ofports"; return 1; }
  flows_file "$p1" "$p2" >"$WORK/flows.txt" || { ERR[ours10k]="cannot write the flows"; return 1; }
  ofs ofctl add-flows "${P}br" "$WORK/flows.txt" >/dev/null 2>"$WORK/err" ||
    { ERR[ours10k]="add-flows: $(head -1 "$WORK/err")"; return 1; }
  n=$(ofs ofctl dump-flows "${P}br" | grep -c 'table=')
  [ "$n" -eq 10000 ] || { ERR[ours10k]="dump-flows shows $n flows, not 10000"; return 1; }
  log "ours10k: 10000 flows installed"
  measure ours10k "${P}our1" "${P}our2" || return 1
  # The traffic went through the installed flows: their packet counters moved.
  n=$(ofs ofctl dump-flows "${P}br" | grep 'table=3' | grep -v 'n_packets=0,' | grep -c "nw_dst=$NET.2 ")
  [ "$n" -eq 1 ] || { ERR[ours10k]="the table-3 flow to $NET.2 counted no packets"; return 1; }
}

ovs_lock() {  # ovs_lock SETUP: one userspace Open vSwitch at a time on this machine
  exec {LOCK_FD}>"$OVS_LOCK"
  log "$1: waiting for $OVS_LOCK"
  flock -w 300 "$LOCK_FD" || { ERR[$1]="another userspace Open vSwitch holds $OVS_LOCK"; return 1; }
}

setup_ovs() { setup_ovs_as ovs "${P}ovs"; }
setup_ovs_as() {  # setup_ovs_as KEY NSPREFIX
  local key=$1 nsp=$2
  ovs_lock "$key" || return 1
  OVS_DIR=$WORK/ovs
  export OFCTL_PORT
  { "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" "${P}ob" &&
    "$ROOT/scripts/ovs-userspace.sh" addhost "$OVS_DIR" "${P}ob" "${nsp}1" "$NET.1/24" &&
    "$ROOT/scripts/ovs-userspace.sh" addhost "$OVS_DIR" "${P}ob" "${nsp}2" "$NET.2/24" &&
    ovs-ofctl -O OpenFlow13 add-flow "unix:$OVS_DIR/${P}ob.mgmt" "priority=0,actions=NORMAL"; } \
    >"$WORK/ovs.out" 2>&1 || { ERR[$key]="Open vSwitch setup: $(tail -1 "$WORK/ovs.out")"; return 1; }
  measure "$key" "${nsp}1" "${nsp}2"
}
# (m): as (c), with userspace TSO (the Open vSwitch setting for hosts with default offloads).
setup_ovstso() {
  export OVS_OTHER_CONFIG="userspace-tso-enable=true"
  setup_ovs_as ovstso "${P}ovt"
  local rc=$?
  unset OVS_OTHER_CONFIG
  return $rc
}
ovs_down() {
  [ -n "$OVS_DIR" ] && "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1
  OVS_DIR=
  [ -n "$LOCK_FD" ] && { flock -u "$LOCK_FD"; exec {LOCK_FD}>&-; LOCK_FD=; }
  return 0
}

two_hosts() {  # two_hosts NS1 NS2 LINK1 LINK2: namespaces with eth0 peered to LINK1/LINK2 here
  ip netns add "$1" && ip netns add "$2" &&
    ip link add "$3" type veth peer name eth0 netns "$1" &&
    ip link add "$4" type veth peer name eth0 netns "$2" || return 1
  local ns i=1
  for ns in "$1" "$2"; do
    ip -n "$ns" link set lo up && ip -n "$ns" addr add "$NET.$i/24" dev eth0 && ip -n "$ns" link set eth0 up || return 1
    i=$((i + 1))
  done
}

setup_bridge() {
  { ip link add "${P}lb" type bridge && ip link set "${P}lb" type bridge stp_state 0 forward_delay 0 &&
    two_hosts "${P}br1" "${P}br2" "${P}b1" "${P}b2" &&
    ip link set "${P}b1" master "${P}lb" && ip link set "${P}b2" master "${P}lb" &&
    ip link set "${P}b1" up && ip link set "${P}b2" up && ip link set "${P}lb" up; } 2>"$WORK/err" ||
    { ERR[bridge]="ip: $(head -1 "$WORK/err")"; return 1; }
  measure bridge "${P}br1" "${P}br2"
}
bridge_down() {
  ip link del "${P}lb" 2>/dev/null; ip link del "${P}b1" 2>/dev/null; ip link del "${P}b2" 2>/dev/null
  ip netns del "${P}br1" 2>/dev/null; ip netns del "${P}br2" 2>/dev/null
  return 0
}

setup_veth() {
  { ip netns add "${P}ve1" && ip netns add "${P}ve2" &&
    ip link add eth0 netns "${P}ve1" type veth peer name eth0 netns "${P}ve2" &&
    for i in 1 2; do
      ip -n "${P}ve$i" link set lo up && ip -n "${P}ve$i" addr add "$NET.$i/24" dev eth0 &&
        ip -n "${P}ve$i" link set eth0 up || return 1
    done; } 2>"$WORK/err" || { ERR[veth]="ip: $(head -1 "$WORK/err")"; return 1; }
  measure veth "${P}ve1" "${P}ve2"
}
veth_down() { ip netns del "${P}ve1" 2>/dev/null; ip netns del "${P}ve2" 2>/dev/null; return 0; }

# ---- VXLAN between two switches ---------------------------------------------------------------
# Switch A's side of the underlay is netns ${P}xa (or, for Open vSwitch, the root namespace),
# switch B's is ${P}xb; the hosts are ${P}xh1 (behind A) and ${P}xh2 (behind B).

underlay() {  # underlay NS_A NS_B: veth ul0 <-> ul0, MTU 1600, $UNET.1 in NS_A, $UNET.2 in NS_B
  ip link add ul0 netns "$1" mtu 1600 type veth peer name ul0 netns "$2" mtu 1600 &&
    ip -n "$1" addr add "$UNET.1/24" dev ul0 && ip -n "$2" addr add "$UNET.2/24" dev ul0 &&
    ip -n "$1" link set lo up && ip -n "$2" link set lo up &&
    ip -n "$1" link set ul0 up && ip -n "$2" link set ul0 up
}

# linux_vtep NS LOCAL REMOTE HOSTNS HOST_CIDR: the kernel as the VXLAN switch in NS: a vxlan
# device on NS's ul0 and a veth to the new host namespace HOSTNS, both on a Linux bridge.
linux_vtep() {
  local ns=$1 h=$4
  ip netns add "$h" &&
    ip -n "$ns" link add vx0 type vxlan id "$VNI" local "$2" remote "$3" dstport 4789 dev ul0 &&
    ip -n "$ns" link set vx0 mtu 1500 &&
    ip -n "$ns" link add br0 type bridge stp_state 0 forward_delay 0 &&
    ip -n "$ns" link add hp type veth peer name eth0 netns "$h" &&
    ip -n "$h" link set lo up && ip -n "$h" addr add "$5" dev eth0 && ip -n "$h" link set eth0 up &&
    ip -n "$ns" link set vx0 master br0 && ip -n "$ns" link set hp master br0 &&
    ip -n "$ns" link set vx0 up && ip -n "$ns" link set hp up && ip -n "$ns" link set br0 up
}

# b_side NS: B for (g), (h), (i): the kernel in NS (underlay ul0 already there), host ${P}xh2.
# tx checksum offload off on the underlay: Open vSwitch's userspace VXLAN drops packets whose
# outer UDP checksum veth left unfinished (ofswitch and the kernel take them either way).
b_side() {
  linux_vtep "$1" "$UNET.2" "$UNET.1" "${P}xh2" "$NET.2/24" &&
    ip netns exec "$1" ethtool -K ul0 tx off >/dev/null
}

# ours_vtep NAME HOSTNS HOST_CIDR PORT REMOTE [TYPE]: configures daemon NAME (already started in
# its namespace): standalone bridge, host HOSTNS on PORT (add-netns-port), a tunnel port of TYPE
# (vxlan, or gre) to REMOTE.
ours_vtep() {
  ip netns add "$2" &&
    "$BIN" --state-dir "$WORK/state-$1" vsctl add-br "${P}br" -- set-fail-mode "${P}br" standalone \
      -- add-netns-port "${P}br" "$4" "$2" --ipaddress="$3" \
      -- add-port "${P}br" "${P}vx" -- set interface "${P}vx" type="${6:-vxlan}" \
      options:remote_ip="$5" options:key="$VNI" >/dev/null || return 1
  for _ in $(seq 50); do ip -n "$2" link show eth0 >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the daemon did not create $2's port" >&2; return 1
}

setup_vxours() {
  local a=${P}xa b=${P}xb
  { ip netns add "$a" && ip netns add "$b" && underlay "$a" "$b"; } 2>"$WORK/err" ||
    { ERR[vxours]="ip: $(tail -1 "$WORK/err")"; return 1; }
  start_daemon vxa "$a" && start_daemon vxb "$b" || { ERR[vxours]="a daemon did not start"; return 1; }
  { ours_vtep vxa "${P}xh1" "$NET.1/24" "${P}p1" "$UNET.2" &&
    ours_vtep vxb "${P}xh2" "$NET.2/24" "${P}p2" "$UNET.1"; } 2>"$WORK/err" ||
    { ERR[vxours]="vsctl: $(tail -1 "$WORK/err")"; return 1; }
  measure vxours "${P}xh1" "${P}xh2"
}

# (n): the same as (f) over GRE (the hosts' MTU 1500 fits: 1538-byte outer packets).
setup_greours() {
  local a=${P}xa b=${P}xb
  { ip netns add "$a" && ip netns add "$b" && underlay "$a" "$b"; } 2>"$WORK/err" ||
    { ERR[greours]="ip: $(tail -1 "$WORK/err")"; return 1; }
  start_daemon vxa "$a" && start_daemon vxb "$b" || { ERR[greours]="a daemon did not start"; return 1; }
  { ours_vtep vxa "${P}xh1" "$NET.1/24" "${P}p1" "$UNET.2" gre &&
    ours_vtep vxb "${P}xh2" "$NET.2/24" "${P}p2" "$UNET.1" gre; } 2>"$WORK/err" ||
    { ERR[greours]="vsctl: $(tail -1 "$WORK/err")"; return 1; }
  measure greours "${P}xh1" "${P}xh2"
}

setup_vxmix() {
  local a=${P}xa b=${P}xb
  { ip netns add "$a" && ip netns add "$b" && underlay "$a" "$b" && b_side "$b"; } 2>"$WORK/err" ||
    { ERR[vxmix]="ip: $(tail -1 "$WORK/err")"; return 1; }
  start_daemon vxa "$a" || { ERR[vxmix]="the daemon did not start"; return 1; }
  ours_vtep vxa "${P}xh1" "$NET.1/24" "${P}p1" "$UNET.2" 2>"$WORK/err" ||
    { ERR[vxmix]="vsctl: $(tail -1 "$WORK/err")"; return 1; }
  measure vxmix "${P}xh1" "${P}xh2"
}

# Open vSwitch as A: host h1 and the VXLAN port on bridge ${P}ob (NORMAL); the underlay veth
# ${P}xu on a second bridge ${P}up whose internal port holds $UNET.1 (userspace tunnels are
# routed and ARP-resolved through such a bridge, not through the kernel).
setup_vxovs() {
  local b=${P}xb
  ovs_lock vxovs || return 1
  OVS_DIR=$WORK/ovs-vx
  export OFCTL_PORT
  { ip netns add "$b" &&
    ip link add "${P}xu" mtu 1600 type veth peer name ul0 netns "$b" mtu 1600 &&
    ip -n "$b" addr add "$UNET.2/24" dev ul0 && ip -n "$b" link set lo up &&
    ip -n "$b" link set ul0 up && ip link set "${P}xu" up && b_side "$b" &&
    "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" "${P}ob" &&
    "$ROOT/scripts/ovs-userspace.sh" addhost "$OVS_DIR" "${P}ob" "${P}xh1" "$NET.1/24" &&
    ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=20 \
      -- add-br "${P}up" -- set bridge "${P}up" datapath_type=netdev -- add-port "${P}up" "${P}xu" \
      -- add-port "${P}ob" "${P}ovx" -- set interface "${P}ovx" type=vxlan \
      options:remote_ip="$UNET.2" options:local_ip="$UNET.1" options:key="$VNI" &&
    ip addr add "$UNET.1/24" dev "${P}up" && ip link set "${P}up" mtu 1600 up &&
    ovs-ofctl -O OpenFlow13 add-flow "unix:$OVS_DIR/${P}ob.mgmt" "priority=0,actions=NORMAL"; } \
    >"$WORK/ovs.out" 2>&1 || { ERR[vxovs]="setup: $(tail -1 "$WORK/ovs.out")"; return 1; }
  measure vxovs "${P}xh1" "${P}xh2"
}

setup_vxlinux() {
  local a=${P}xa b=${P}xb
  { ip netns add "$a" && ip netns add "$b" && underlay "$a" "$b" &&
    linux_vtep "$a" "$UNET.1" "$UNET.2" "${P}xh1" "$NET.1/24" && b_side "$b"; } 2>"$WORK/err" ||
    { ERR[vxlinux]="ip: $(tail -1 "$WORK/err")"; return 1; }
  measure vxlinux "${P}xh1" "${P}xh2"
}

vx_down() {
  stop_daemon
  ovs_down
  local ns
  for ns in xa xb xh1 xh2; do ip netns del "${P}$ns" 2>/dev/null; done
  ip link del "${P}xu" 2>/dev/null
  return 0
}

# ---- installed flows during a packet-in flood -------------------------------------------------

# A minimal OpenFlow 1.3 controller: listens on 127.0.0.1 (a free port, written to OUT.port),
# sends HELLO and FEATURES_REQUEST, answers ECHO_REQUEST, touches OUT.connected at the
# FEATURES_REPLY and counts PACKET_INs (into OUT.count, every 0.1 s and at the end); it sends
# nothing back for them.
controller_py() {
  cat <<'PY'
import os, signal, socket, struct, sys, time
out = sys.argv[1]
count = 0
def dump():
    with open(out + ".count.tmp", "w") as f:
        f.write(f"{count}\n")
    os.replace(out + ".count.tmp", out + ".count")
def stop(*_):
    dump()
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
with open(out + ".port", "w") as f:
    f.write(f"{ls.getsockname()[1]}\n")
c, _ = ls.accept()
c.sendall(struct.pack("!BBHI", 4, 0, 8, 1) + struct.pack("!BBHI", 4, 5, 8, 2))
c.settimeout(0.1)
buf, last = b"", 0.0
while True:
    try:
        d = c.recv(1 << 16)
        if not d:
            break
        buf += d
    except socket.timeout:
        pass
    i = 0
    while len(buf) - i >= 8:
        _, t, n, xid = struct.unpack_from("!BBHI", buf, i)
        if n < 8 or len(buf) - i < n:
            break
        if t == 10:  # PACKET_IN
            count += 1
        elif t == 2:  # ECHO_REQUEST
            c.sendall(struct.pack("!BBHI", 4, 3, n, xid) + buf[i + 8:i + n])
        elif t == 6:  # FEATURES_REPLY
            open(out + ".connected", "w").close()
        i += n
    buf = buf[i:]
    if time.monotonic() - last >= 0.1:
        dump()
        last = time.monotonic()
dump()
PY
}

# 60-byte IPv4/UDP frames from h3 ($NET.3) to random 10.99.x.x addresses and ports, random
# source and destination MACs (unicast, locally administered): each one a new flow.
flood_cfg() {
  cat <<'CFG'
{ 0x02, drnd(5), 0x02, drnd(5), c16(0x0800),
  0x45, 0x00, c16(46), drnd(2), c16(0), 64, 17, csumip(14, 33),
  10, 77, 0, 3, 10, 99, drnd(2),
  drnd(2), drnd(2), c16(26), c16(0), fill(0x00, 18) }
CFG
}

flood_err() {  # the error also goes on (j)'s row when (j) has neither figures nor an error
  [ -n "${R[flood0,rtt]:-}" ] || [ -n "${ERR[flood0]:-}" ] || ERR[flood0]=$1
  ERR[flood]=$1
}
veth_rx() { ip -j -s link show "$1" 2>/dev/null | jq '.[0].stats64.rx.packets'; }  # in the root netns
port_rx() { ofs ofctl dump-ports "${P}br" "$1" 2>/dev/null | sed -n 's/.*rx pkts=\([0-9]*\).*/\1/p' | head -1; }
ctl_count() { cat "$WORK/ctl.count" 2>/dev/null || echo 0; }
per_s() { commas "$(awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%d", n / t; else print "?" }')"; }

setup_flood() {
  command -v trafgen >/dev/null || { flood_err "trafgen is missing (netsniff-ng, scripts/install-deps.sh)"; return 1; }
  ours_up secure || { flood_err "${ERR[flood]}"; return 1; }
  local h3=${P}flo3 p1 p2 p3 port n
  { ip netns add "$h3" && ofs vsctl add-netns-port "${P}br" "${P}p3" "$h3" --ipaddress="$NET.3/24" >/dev/null &&
    for _ in $(seq 50); do in_ns "$h3" ip link show eth0 >/dev/null 2>&1 && break; sleep 0.1; done &&
    in_ns "$h3" ip link show eth0 >/dev/null &&
    p1=$(ofs vsctl get interface "${P}p1" ofport) && p2=$(ofs vsctl get interface "${P}p2" ofport) &&
    p3=$(ofs vsctl get interface "${P}p3" ofport) &&
    { flows_file "$p1" "$p2" && echo "table=0,priority=0,actions=CONTROLLER:65535"; } >"$WORK/flows.txt" &&
    ofs ofctl add-flows "${P}br" "$WORK/flows.txt" >/dev/null; } 2>"$WORK/err" ||
    { flood_err "setup: $(tail -1 "$WORK/err")"; return 1; }
  n=$(ofs ofctl dump-flows "${P}br" | grep -c 'table=')
  [ "$n" -eq 10001 ] || { flood_err "dump-flows shows $n flows, not 10001"; return 1; }

  controller_py >"$WORK/ctl.py"
  python3 "$WORK/ctl.py" "$WORK/ctl" </dev/null >/dev/null 2>"$WORK/ctl.err" &
  CTL_PID=$!
  for _ in $(seq 50); do [ -s "$WORK/ctl.port" ] && break; sleep 0.1; done
  port=$(cat "$WORK/ctl.port" 2>/dev/null)
  [ -n "$port" ] || { flood_err "the controller did not start: $(tail -1 "$WORK/ctl.err")"; return 1; }
  ofs vsctl set-controller "${P}br" "tcp:127.0.0.1:$port" >/dev/null 2>"$WORK/err" ||
    { flood_err "set-controller: $(head -1 "$WORK/err")"; return 1; }
  for _ in $(seq 100); do [ -e "$WORK/ctl.connected" ] && break; sleep 0.1; done
  [ -e "$WORK/ctl.connected" ] || { flood_err "the switch did not connect to the controller"; return 1; }
  log "flood: 10,001 flows installed, controller connected (127.0.0.1:$port)"

  measure flood0 "${P}flo1" "${P}flo2" || { flood_err "no figures without the flood"; return 1; }

  local rate=() c0 c1 tx0 tx1 rx0 rx1 v0 v1 t0 t1 dt pid=${DAEMON_PIDS[0]}
  [ "$FLOOD_PPS" -gt 0 ] && rate=(-b "${FLOOD_PPS}pps")
  flood_cfg >"$WORK/flood.cfg"
  # leave the system's socket memory and IRQ affinity alone; one sender process.
  ip netns exec "$h3" trafgen --dev eth0 --conf "$WORK/flood.cfg" --cpus 1 --no-sock-mem --notouch-irq "${rate[@]}" \
    </dev/null >"$WORK/trafgen.out" 2>&1 &
  FLOOD_PID=$!
  sleep 1
  kill -0 "$FLOOD_PID" 2>/dev/null || { flood_err "trafgen: $(grep -v '^$' "$WORK/trafgen.out" | tail -1)"; FLOOD_PID=; return 1; }
  c0=$(ctl_count) tx0=$(eth0_packets "$h3" tx) v0=$(veth_rx "${P}p3") rx0=$(port_rx "$p3") t0=$(date +%s.%N)
  log "flood: h3 flooding ($FLOOD_RATE offered)"
  measure flood "${P}flo1" "${P}flo2"
  c1=$(ctl_count) tx1=$(eth0_packets "$h3" tx) v1=$(veth_rx "${P}p3") rx1=$(port_rx "$p3") t1=$(date +%s.%N)
  stop_flood
  kill -0 "$pid" 2>/dev/null || { ERR[flood]="the daemon died under the flood (log: $(tail -1 "$WORK/state-flood/ofswitch.log"))"; return 1; }
  dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  # The daemon's own counts: packet-ins dropped (bridge statistics) and
  # frames the kernel dropped before the switch could take them (port rx drop).
  local dropped kdrop
  dropped=$(ofs vsctl get bridge "${P}br" statistics 2>/dev/null | grep -o 'packet_in_dropped=[0-9]*' | cut -d= -f2)
  kdrop=$(ofs ofctl dump-ports "${P}br" "$p3" 2>/dev/null | grep -o 'rx pkts=[0-9]*, bytes=[0-9]*, drop=[0-9]*' | grep -o 'drop=[0-9]*' | cut -d= -f2)
  FLOOD_NOTE="During (k), measured over the $(printf '%.0f' "$dt") s of its four measurements: h3 sent $(per_s $((${tx1:-0} - ${tx0:-0})) "$dt") frames/s (trafgen$([ "$FLOOD_PPS" -gt 0 ] && echo " -b ${FLOOD_PPS}pps")), its port's veth (switch side) received $(per_s $((${v1:-0} - ${v0:-0})) "$dt")/s, the switch counted $(per_s $((${rx1:-0} - ${rx0:-0})) "$dt")/s received on that port, and the controller got $(per_s $((c1 - c0)) "$dt") packet-ins/s (no controller_rate_limit is set: the switch sends every packet-in the controller connection takes, and drops and counts the rest). Since the daemon started: ${dropped:-?} packet-ins dropped (\`vsctl get bridge BR statistics\`), ${kdrop:-?} frames lost in the kernel on that port before the switch took them (\`ofctl dump-ports\` rx drop)."
  log "flood: $FLOOD_NOTE"
  wait_reachable "${P}flo1" "${P}flo2" || { ERR[flood]="h1 and h2 cannot ping each other after the flood"; return 1; }
  # The traffic of (j) and (k) went through the installed flows.
  n=$(ofs ofctl dump-flows "${P}br" | grep 'table=3' | grep -v 'n_packets=0,' | grep -c "nw_dst=$NET.2 ")
  [ "$n" -eq 1 ] || { ERR[flood]="the table-3 flow to $NET.2 counted no packets"; return 1; }
}
flood_down() {
  stop_flood
  [ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
  CTL_PID=
  ours_down
}

# ---- the run ----------------------------------------------------------------------------------

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r), load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $MACHINE"

for s in "${RUNS[@]}"; do
  CUR=$s
  keys=("$s"); [ "$s" = flood ] && keys=(flood0 flood)
  for k in "${keys[@]}"; do log "== $s: ${NAME[$k]}"; done
  case $s in
  ours) setup_ours; ours_down ;;
  ours10k) setup_ours10k; ours_down ;;
  ovs) setup_ovs; ovs_down ;;
  bridge) setup_bridge; bridge_down ;;
  veth) setup_veth; veth_down ;;
  vxours) setup_vxours; vx_down ;;
  vxmix) setup_vxmix; vx_down ;;
  vxovs) setup_vxovs; vx_down ;;
  vxlinux) setup_vxlinux; vx_down ;;
  flood) setup_flood; flood_down ;;
  pnet) setup_pnet; ours_down ;;
  ovstso) setup_ovstso; ovs_down ;;
  greours) setup_greours; vx_down ;;
  esac
  for k in "${keys[@]}"; do [ -n "${ERR[$k]:-}" ] && log "$k: ERROR: ${ERR[$k]}"; done
done

# ---- the table --------------------------------------------------------------------------------

num() { [[ $1 =~ ^[0-9]+([.][0-9]+)?$ ]]; }
ratio() {  # ratio A B: A/B to two decimals, or "n/a"
  if num "$1" && num "$2" && awk -v b="$2" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
  else
    echo "n/a"
  fi
}
fmt_pps() { if [[ $1 =~ ^[0-9]+$ ]]; then echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; else echo "$1"; fi; }

ran() { [[ " ${RUNS[*]} " == *" ${1%0} "* ]]; }  # ran ROW: its setup was in this run (flood0: flood)

table() {
  echo "| setup | 64-byte frames (trafgen), received pps | 64-byte UDP (iperf3), received pps | TCP, default offloads, Gbit/s | TCP, tx off, Gbit/s | ping avg, ms |"
  echo "|---|---|---|---|---|---|"
  local s
  for s in "${SETUPS[@]}"; do
    ran "$s" || continue
    if [ -n "${ERR[$s]:-}" ]; then
      echo "| ${NAME[$s]} | ERROR: ${ERR[$s]} | | | | |"
    else
      echo "| ${NAME[$s]} | $(fmt_pps "${R[$s,frames]:-}") | $(fmt_pps "${R[$s,udp]:-}") | ${R[$s,tcp_on]:-} | ${R[$s,tcp_off]:-} | ${R[$s,rtt]:-} |"
    fi
  done
  local pair o b
  for pair in "${RATIOS[@]}"; do
    read -r o b <<<"$pair"
    ran "$o" && ran "$b" || continue
    echo "| ratio ${SHORT[$o]} / ${SHORT[$b]} | $(ratio "${R[$o,frames]:-}" "${R[$b,frames]:-}") | $(ratio "${R[$o,udp]:-}" "${R[$b,udp]:-}") | $(ratio "${R[$o,tcp_on]:-}" "${R[$b,tcp_on]:-}") | $(ratio "${R[$o,tcp_off]:-}" "${R[$b,tcp_off]:-}") | $(ratio "${R[$o,rtt]:-}" "${R[$b,rtt]:-}") |"
  done
}

TABLE=$(table)
REPORT=$(cat <<EOF
Machine: $MACHINE. Date: $DATE. Command: \`scripts/bench-datapath.sh --save$([ "$T" = 4 ] || echo " --time $T")$([ "$FLOOD_PPS" = 50000 ] || echo " --flood-pps $FLOOD_PPS")\` (iperf3 tests of $T s each).

$TABLE

Ratios are ours divided by theirs ((k) divided by (j) for the flood): above 1 is better for
pps and Gbit/s, below 1 is better for ping. Topology of (a) to (e): netns h1 -- veth --
switch -- veth -- netns h2; always one stream h1 -> h2. "64-byte frames" are 60-byte
IPv4/UDP frames (64 bytes with the FCS a wire would add) sent by trafgen in h1 on one CPU as
fast as it goes, counted as received by h2's interface over $T s; h2 keeps the UDP port open
without reading it, so every setup pays the same small cost to discard them. This is the
switch's forwarding rate: with the Linux bridge the sender's CPU also does the forwarding
(softirq), so the bridge's figure is the sender's limit. "64-byte UDP" is
\`iperf3 -u -l 64 -b 0\` (64-byte payloads, 106-byte frames), the packets per second the
receiver got: mostly the cost of the hosts' UDP stacks and of iperf3, which with a userspace
switch share the two cores with it. Both, and ping, run with \`ethtool -K eth0 tx off\` in
both hosts, like the "tx off" TCP column. "Default offloads" leaves veth's checksum offload and TSO on; Open vSwitch 3.1
(without \`userspace-tso-enable\`) leaves those checksums unfinished, so TCP fails through it.
(b) has 10,000 flows over 4 tables (2,500 each, installed with \`ofswitch ofctl add-flows\`,
fail-mode secure), the test traffic matching installed flows in all four tables.

(f) to (i): VXLAN (VNI $VNI, UDP 4789) h1 -- switch A ==VXLAN== switch B -- h2, A and B each
in its own network namespace, joined by a veth underlay of MTU 1600 so that the hosts keep
MTU 1500 (1550-byte outer packets). (f) is two ofswitch daemons (standalone, NORMAL; B
started with \`ip netns exec\`). In (g), (h) and (i) B is the Linux kernel: a \`vxlan\` device
and h2's veth on a Linux bridge, its underlay with \`ethtool -K tx off\` (Open vSwitch's
userspace tunnel drops VXLAN packets whose outer UDP checksum veth left unfinished); A is
ofswitch in (g), Open vSwitch 3.1 userspace in (h) (only one Open vSwitch instance can run on
this machine at a time, so not Open vSwitch on both ends; its VXLAN port goes out through a
second userspace bridge holding the underlay veth and the underlay address), and the kernel
again in (i).

(j) and (k) are one switch in one run: (b)'s flows plus a table-miss flow
\`priority=0,actions=CONTROLLER:65535\` and a minimal OpenFlow controller (in the script) that
counts the packet-ins and answers none of them; a third host h3 on the bridge is quiet in (j)
and in (k) sends 60-byte IPv4/UDP frames with random MACs, addresses and ports (trafgen), each
a table miss, while h1 -> h2 is measured on the installed flows. Flat is a (k) / (j) ratio
of 1; the flood's sender and its delivery by the kernel share the machine's cores with the
switch and iperf3, so some loss is the machine's, not the switch's.
$(echo "$FLOOD_NOTE" | fold -s -w 95 | sed 's/ *$//')
EOF
)

echo
echo "$REPORT"

if [ "$SAVE" -eq 1 ]; then
  SECTION=$(printf '## Datapath (`scripts/bench-datapath.sh`)\n\n%s\n' "$REPORT")
  printf '%s\n' "$SECTION" | "$ROOT/scripts/save-bench-section.py" "$ROOT/BENCHMARKS.md" 'Datapath'
  echo
  echo "bench-datapath: saved in BENCHMARKS.md (## Datapath)"
fi
