#!/usr/bin/env bash
# Many ports on one bridge (issue 16), never run by CI: what a container host with hundreds of
# ports costs. For ofswitch and for Open vSwitch 3.1 userspace (scripts/ovs-userspace.sh,
# datapath_type=netdev), each in a network namespace of its own with N veth pairs whose switch
# ends go on one standalone (NORMAL) bridge; the first and the last pair's other ends are in two
# host namespaces (10.77.0.1 and 10.77.0.2), the others stay up and quiet in the switch's
# namespace. IPv6 is off in these namespaces, so that idle ports are quiet. It measures:
#   add        one `vsctl add-br ... -- add-port ...` transaction with all N ports (ofswitch
#              vsctl / ovs-vsctl), from start until the first host pings the last one
#   RSS        the switch process's VmRSS with the bridge and no ports, with N ports (after
#              10 s idle), and the difference per port
#   idle CPU   the switch's user + system CPU over 10 s with nothing to forward
#   ping       ping -c 20 -i 0.05 from the first host to the last, average
#
# Usage, as root:  scripts/bench-ports.sh [--save] [--ports N] [--only ofswitch|ovs]
#   --save        also write the table into BENCHMARKS.md under "## Many ports" (replaced); only
#                 with the default N and both switches
#   --ports N     veth ports on the bridge (default 1000)
# Prints one markdown table with a ratio column (ofswitch / Open vSwitch: below 1 is smaller or
# faster). Everything it makes is named bp<pid>* and removed on exit, also on failure or Ctrl-C;
# the processes it starts are stopped by PID. Takes about 2 minutes for 1,000 ports.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAVE=0
PORTS=1000
ONLY=
while [ $# -gt 0 ]; do
  case $1 in
  --save) SAVE=1 ;;
  --ports) PORTS=${2:?--ports N}; shift ;;
  --ports=*) PORTS=${1#--ports=} ;;
  --only) ONLY=${2:?--only ofswitch|ovs}; shift ;;
  --only=*) ONLY=${1#--only=} ;;
  -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench-ports: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
die() { echo "bench-ports: $*" >&2; exit 2; }
[[ $PORTS =~ ^[1-9][0-9]*$ ]] && [ "$PORTS" -ge 2 ] || die "--ports wants a number of at least 2"
case $ONLY in '' | ofswitch | ovs) ;; *) die "--only wants ofswitch or ovs" ;; esac
[ "$SAVE" -eq 0 ] || { [ -z "$ONLY" ] && [ "$PORTS" -eq 1000 ]; } ||
  die "--save wants the default --ports and both switches"
[ "$(id -u)" -eq 0 ] || { echo "bench-ports: needs root (namespaces, veths)" >&2; exit 1; }
for tool in ovs-vsctl ovs-ofctl ovs-vswitchd ip ping awk flock; do
  command -v "$tool" >/dev/null || { echo "bench-ports: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

echo "== cargo build --release -p ofswitch" >&2
cargo build --release -p ofswitch >&2 || { echo "bench-ports: build failed" >&2; exit 1; }
BIN=$ROOT/target/release/ofswitch

P=bp$$
WORK=$(mktemp -d "/tmp/ofswitch-bench-ports.XXXXXX")
OVS_LOCK=/tmp/ofswitch-ovs.lock  # one userspace Open vSwitch at a time (the other benches too)
DAEMON_PID=
OVS_DIR=
# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"

cleanup() {
  [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"
  [ -n "$OVS_DIR" ] && "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1
  for ns in sw h1 h2; do ip netns del "${P}$ns" 2>/dev/null; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A FIG  # FIG[switch,measure]
ERR=()

# veths SWNS: N pairs pI <-> qI in SWNS, all up; q1 and qN moved into the two host namespaces.
veths() {
  local sw=$1 i
  # Quiet ports: no IPv6 (each new interface would send router solicitations and MLD reports,
  # which a standalone bridge floods to every other port: a storm that grows as N squared).
  ip netns add "${P}h1" && ip netns add "${P}h2" || return 1
  for ns in "$sw" "${P}h1" "${P}h2"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 || return 1
  done
  for i in $(seq "$PORTS"); do
    echo "link add p$i type veth peer name q$i"
    echo "link set p$i up"
    echo "link set q$i up"
  done >"$WORK/veths.batch"
  ip -n "$sw" -batch "$WORK/veths.batch" || return 1
  ip -n "$sw" link set q1 netns "${P}h1" && ip -n "$sw" link set "q$PORTS" netns "${P}h2" || return 1
  ip -n "${P}h1" addr add 10.77.0.1/24 dev q1 && ip -n "${P}h1" link set q1 up &&
    ip -n "${P}h2" addr add 10.77.0.2/24 dev "q$PORTS" && ip -n "${P}h2" link set "q$PORTS" up
}

# add_ports_args: "-- add-port BR pI" for every port.
add_ports_args() { local i; for i in $(seq "$PORTS"); do printf -- '-- add-port %s p%s ' "${P}br" "$i"; done; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }
hz() { getconf CLK_TCK; }

# measure SWITCH PID T0: waits for the first ping (add time since T0), then RSS, idle CPU, ping.
measure() {
  local sw=$1 pid=$2 t0=$3 t1 c0 c1 rtt
  for _ in $(seq 1200); do
    ip netns exec "${P}h1" ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && break
  done
  ip netns exec "${P}h1" ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 ||
    { ERR+=("$sw: the first host never reached the last"); return 1; }
  t1=$(date +%s.%N)
  FIG[$sw,add]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  sleep 10
  FIG[$sw,rss]=$(rss_kb "$pid")
  c0=$(cpu_ticks "$pid"); sleep 10; c1=$(cpu_ticks "$pid")
  FIG[$sw,cpu]=$(awk -v a="$c0" -v b="$c1" -v hz="$(hz)" 'BEGIN { printf "%.1f", (b - a) / hz / 10 * 100 }')
  rtt=$(ip netns exec "${P}h1" ping -c 20 -i 0.05 -q 10.77.0.2 2>/dev/null | awk -F/ '/^rtt|^round-trip/ { print $5 }')
  FIG[$sw,ping]=${rtt:-fail}
  FIG[$sw,perport]=$(( (FIG[$sw,rss] - FIG[$sw,rss0]) / PORTS ))
}

run_ofswitch() {
  local st=$WORK/state t0
  ip netns add "${P}sw" && veths "${P}sw" || { ERR+=("ofswitch: could not make the veths"); return 1; }
  mkdir -p "$st"
  ip netns exec "${P}sw" "$BIN" --state-dir "$st" daemon --log-file "$st/ofswitch.log" &
  DAEMON_PID=$!
  for _ in $(seq 50); do [ -S "$st/ofswitch.ctl" ] && break; sleep 0.1; done
  "$BIN" --state-dir "$st" vsctl add-br "${P}br" -- set-fail-mode "${P}br" standalone >/dev/null ||
    { ERR+=("ofswitch: add-br failed"); return 1; }
  sleep 2
  FIG[ofswitch,rss0]=$(rss_kb "$DAEMON_PID")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$BIN" --state-dir "$st" vsctl $(add_ports_args) >/dev/null 2>"$WORK/err" ||
    { ERR+=("ofswitch: add-port: $(tail -1 "$WORK/err")"); return 1; }
  measure ofswitch "$DAEMON_PID" "$t0"
  stop_pid "$DAEMON_PID"; DAEMON_PID=
  for ns in sw h1 h2; do ip netns del "${P}$ns" 2>/dev/null; done
  return 0
}

run_ovs() {
  local t0 pid
  exec {lock}>"$OVS_LOCK"
  flock -w 600 "$lock" || { ERR+=("ovs: another userspace Open vSwitch held $OVS_LOCK"); return 1; }
  ip netns add "${P}sw" && veths "${P}sw" || { ERR+=("ovs: could not make the veths"); return 1; }
  OVS_DIR=$WORK/ovs
  OVS_NETNS=${P}sw "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" "${P}br" >"$WORK/ovs.out" 2>&1 &&
    ip netns exec "${P}sw" ovs-ofctl -O OpenFlow13 add-flow "unix:$OVS_DIR/${P}br.mgmt" \
      "priority=0,actions=NORMAL" >>"$WORK/ovs.out" 2>&1 ||
    { ERR+=("ovs: setup: $(tail -1 "$WORK/ovs.out")"); return 1; }
  pid=$(cat "$OVS_DIR/ovs-vswitchd.pid")
  sleep 2
  FIG[ovs,rss0]=$(rss_kb "$pid")
  t0=$(date +%s.%N)
  # shellcheck disable=SC2046
  ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=600 $(add_ports_args) >/dev/null 2>"$WORK/err" ||
    { ERR+=("ovs: add-port: $(tail -1 "$WORK/err")"); return 1; }
  measure ovs "$pid" "$t0"
  "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1; OVS_DIR=
  for ns in sw h1 h2; do ip netns del "${P}$ns" 2>/dev/null; done
  exec {lock}>&-
  return 0
}

MACHINE="$(nproc) cores, $(uname -r), load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$ONLY" != ovs ] && { log "ofswitch, $PORTS ports"; run_ofswitch; }
[ "$ONLY" != ofswitch ] && { log "Open vSwitch 3.1 userspace, $PORTS ports"; run_ovs; }

fig() { echo "${FIG[$1,$2]:-n/a}"; }
ratio() {
  local a b; a=$(fig ofswitch "$1"); b=$(fig ovs "$1")
  [[ $a =~ ^[0-9.]+$ && $b =~ ^[0-9.]+$ ]] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }' || echo n/a
}
mib() { local v; v=$(fig "$1" "$2"); [[ $v =~ ^[0-9]+$ ]] && awk -v k="$v" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo "$v"; }
N=$(commas "$PORTS")
{
  echo "## Many ports (\`scripts/bench-ports.sh\`)"
  echo
  echo "Machine: $MACHINE. Date: $(date -u +%Y-%m-%d). Command: \`scripts/bench-ports.sh$([ "$SAVE" -eq 1 ] && echo " --save")\` ($N veth ports on one standalone bridge)."
  echo
  echo "| measurement | ofswitch | Open vSwitch 3.1 userspace | ratio ofswitch / Open vSwitch |"
  echo "|---|---|---|---|"
  echo "| add $N ports (one vsctl transaction) until the first host pings the last, s | $(fig ofswitch add) | $(fig ovs add) | $(ratio add) |"
  echo "| RSS, bridge without ports | $(mib ofswitch rss0) | $(mib ovs rss0) | $(ratio rss0) |"
  echo "| RSS with $N ports, idle | $(mib ofswitch rss) | $(mib ovs rss) | $(ratio rss) |"
  echo "| RSS per port, KiB | $(fig ofswitch perport) | $(fig ovs perport) | $(ratio perport) |"
  echo "| idle CPU, % of one core | $(fig ofswitch cpu) | $(fig ovs cpu) | $(ratio cpu) |"
  echo "| ping first -> last host, avg ms | $(fig ofswitch ping) | $(fig ovs ping) | $(ratio ping) |"
  for e in "${ERR[@]}"; do echo; echo "error: $e"; done
} | tee "$WORK/table.md"
if [ "$SAVE" -eq 1 ]; then
  python3 "$ROOT/scripts/save-bench-section.py" "$ROOT/BENCHMARKS.md" "Many ports" <"$WORK/table.md" ||
    echo "bench-ports: could not save the table" >&2
fi
