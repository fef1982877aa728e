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
# it measures, in this order:
#   TCP throughput, iperf3, hosts' default offloads (checksum offload, TSO on)
#   TCP throughput, iperf3, after `ethtool -K eth0 tx off` in both hosts
#   64-byte UDP, iperf3 -u -l 64 -b 0: packets per second the receiver got   (tx off)
#   round-trip latency, ping -c 20 -i 0.05: average                           (tx off)
# UDP and ping run with tx off so that every setup sees the same packets (through Open vSwitch
# with default offloads the checksums are left unfinished and the receiver drops them).
#
# Usage, as root:  scripts/bench-datapath.sh [--save] [--time SECS]
#   --save       also write the table into BENCHMARKS.md's "## Datapath" section (replaced)
#   --time SECS  seconds per iperf3 measurement (default 4)
# Prints one markdown table with the figures and ours/OVS, ours/bridge ratios. A setup that
# fails prints an error row and the run goes on. Everything it creates is named bd<pid>* and
# removed on exit (trap), also on failure or Ctrl-C. Takes about 2 minutes after the build.
# Only ratios taken in one run mean anything: the machines are shared and noisy.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAVE=0
T=4
while [ $# -gt 0 ]; do
  case $1 in
  --save) SAVE=1 ;;
  --time) T=${2:?--time SECS}; shift ;;
  --time=*) T=${1#--time=} ;;
  -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench-datapath: unknown argument $1 (want --save, --time SECS)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" -eq 0 ] || { echo "bench-datapath: needs root (namespaces, veths, bridges)" >&2; exit 1; }
for tool in iperf3 ping ethtool ip jq ovs-vsctl ovs-ofctl flock; do
  command -v "$tool" >/dev/null || { echo "bench-datapath: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

echo "== cargo build --release -p ofswitch" >&2
cargo build --release -p ofswitch >&2 || { echo "bench-datapath: build failed" >&2; exit 1; }
BIN=$ROOT/target/release/ofswitch

P=bd$$                         # prefix of every namespace, link, bridge and directory
WORK=$(mktemp -d "/tmp/ofswitch-bench.XXXXXX")
NET=10.77.0                    # hosts are $NET.1 and $NET.2 (inside the namespaces only)
IPERF_PORT=5301
OVS_LOCK=/tmp/ofswitch-ovs.lock
DAEMON_PID=
OVS_DIR=
SERVER_PID=
LOCK_FD=

log() { echo "-- $*" >&2; }

cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  [ -n "$OVS_DIR" ] && OFCTL_PORT=$OFCTL_PORT "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1
  OVS_DIR=
  [ -n "$LOCK_FD" ] && { flock -u "$LOCK_FD"; exec {LOCK_FD}>&-; LOCK_FD=; }
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done  # our iperf3/ping
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
  in_ns "$ns2" iperf3 -s -1 -p "$IPERF_PORT" >/dev/null 2>&1 &
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
SETUPS=(ours ours10k ovs bridge veth)
declare -A NAME=(
  [ours]="(a) ofswitch, NORMAL"
  [ours10k]="(b) ofswitch, 10,000 flows / 4 tables"
  [ovs]="(c) Open vSwitch 3.1 userspace, NORMAL"
  [bridge]="(d) Linux bridge"
  [veth]="(e) direct veth pair"
)
declare -A ERR

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
  log "$s: tcp ${R[$s,tcp_on]} / ${R[$s,tcp_off]} Gbit/s, udp ${R[$s,udp]} pps, rtt ${R[$s,rtt]} ms"
}

# ---- setups: each returns non-zero with ERR[setup] set on failure -------------------------

start_daemon() {  # a fresh ofswitch daemon in its own state directory
  local st=$WORK/state-$1
  mkdir -p "$st"
  "$BIN" --state-dir "$st" daemon --log-file "$st/ofswitch.log" &
  DAEMON_PID=$!
  for _ in $(seq 50); do [ -S "$st/ofswitch.ctl" ] && return 0; sleep 0.1; done
  return 1
}
stop_daemon() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=
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
  ip netns del "${P}${CUR:0:3}1" 2>/dev/null; ip netns del "${P}${CUR:0:3}2" 2>/dev/null
  ip link del "${P}p1" 2>/dev/null; ip link del "${P}p2" 2>/dev/null
  return 0
}

setup_ours() { ours_up standalone && measure ours "${P}our1" "${P}our2"; }

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

setup_ovs() {
  exec {LOCK_FD}>"$OVS_LOCK"
  log "ovs: waiting for $OVS_LOCK"
  flock -w 300 "$LOCK_FD" || { ERR[ovs]="another userspace Open vSwitch holds $OVS_LOCK"; return 1; }
  OVS_DIR=$WORK/ovs
  export OFCTL_PORT
  { "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" "${P}ob" &&
    "$ROOT/scripts/ovs-userspace.sh" addhost "$OVS_DIR" "${P}ob" "${P}ovs1" "$NET.1/24" &&
    "$ROOT/scripts/ovs-userspace.sh" addhost "$OVS_DIR" "${P}ob" "${P}ovs2" "$NET.2/24" &&
    ovs-ofctl -O OpenFlow13 add-flow "unix:$OVS_DIR/${P}ob.mgmt" "priority=0,actions=NORMAL"; } \
    >"$WORK/ovs.out" 2>&1 || { ERR[ovs]="Open vSwitch setup: $(tail -1 "$WORK/ovs.out")"; return 1; }
  measure ovs "${P}ovs1" "${P}ovs2"
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

# ---- the run ----------------------------------------------------------------------------------

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r), load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $MACHINE"

for s in "${SETUPS[@]}"; do
  CUR=$s
  log "== $s: ${NAME[$s]}"
  case $s in
  ours) setup_ours; ours_down ;;
  ours10k) setup_ours10k; ours_down ;;
  ovs) setup_ovs; ovs_down ;;
  bridge) setup_bridge; bridge_down ;;
  veth) setup_veth; veth_down ;;
  esac
  [ -n "${ERR[$s]:-}" ] && log "$s: ERROR: ${ERR[$s]}"
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

table() {
  echo "| setup | 64-byte UDP, received pps | TCP, default offloads, Gbit/s | TCP, tx off, Gbit/s | ping avg, ms |"
  echo "|---|---|---|---|---|"
  local s
  for s in "${SETUPS[@]}"; do
    if [ -n "${ERR[$s]:-}" ]; then
      echo "| ${NAME[$s]} | ERROR: ${ERR[$s]} | | | |"
    else
      echo "| ${NAME[$s]} | $(fmt_pps "${R[$s,udp]:-}") | ${R[$s,tcp_on]:-} | ${R[$s,tcp_off]:-} | ${R[$s,rtt]:-} |"
    fi
  done
  local o b
  for o in ours ours10k; do
    for b in ovs bridge; do
      local label
      label="${NAME[$o]%%,*} / ${NAME[$b]%%,*}"
      echo "| ratio ${label} | $(ratio "${R[$o,udp]:-}" "${R[$b,udp]:-}") | $(ratio "${R[$o,tcp_on]:-}" "${R[$b,tcp_on]:-}") | $(ratio "${R[$o,tcp_off]:-}" "${R[$b,tcp_off]:-}") | $(ratio "${R[$o,rtt]:-}" "${R[$b,rtt]:-}") |"
    done
  done
}

TABLE=$(table)
REPORT=$(cat <<EOF
Machine: $MACHINE. Date: $DATE. Command: \`scripts/bench-datapath.sh --save$([ "$T" = 4 ] || echo " --time $T")\` (iperf3 tests of $T s each).

$TABLE

Ratios are ours divided by theirs: above 1 is better for pps and Gbit/s, below 1 is better
for ping. Topology: netns h1 -- veth -- switch -- veth -- netns h2, one iperf3 stream
h1 -> h2. "64-byte UDP" is \`iperf3 -u -l 64 -b 0\` (64-byte payloads, 106-byte frames), the
packets per second the receiver got; it and ping run with \`ethtool -K eth0 tx off\` in both
hosts, like the "tx off" TCP column. "Default offloads" leaves veth's checksum offload and
TSO on; Open vSwitch 3.1 (without \`userspace-tso-enable\`) leaves those checksums unfinished,
so TCP fails through it. (b) has 10,000 flows over 4 tables (2,500 each, installed with
\`ofswitch ofctl add-flows\`, fail-mode secure), the test traffic matching installed flows in
all four tables.
EOF
)

echo
echo "$REPORT"

if [ "$SAVE" -eq 1 ]; then
  SECTION=$(printf '## Datapath (`scripts/bench-datapath.sh`)\n\n%s\n' "$REPORT")
  SECTION=$SECTION python3 - "$ROOT/BENCHMARKS.md" <<'EOF'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
section = os.environ["SECTION"].rstrip("\n") + "\n"
m = re.search(r"^## Datapath.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + section + ("\n" if m.end() < len(text) else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
EOF
  echo
  echo "bench-datapath: saved in BENCHMARKS.md (## Datapath)"
fi
