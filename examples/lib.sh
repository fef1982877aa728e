# What every example network script shares; sourced by examples/*/run.sh and scripts/demo.sh.
#
# - Binaries: $OFSWITCH and $OFCONTROLLER if set (the tests point them at their build), else
#   target/release/{ofswitch,ofcontroller}, built first (cargo does nothing when up to date).
# - Names: every namespace, veth and state directory this run makes starts with $P (x<pid> by
#   default, or $OFX_PREFIX), so runs in parallel never collide; interface names stay <= 15
#   characters.
# - "Hosts" are network namespaces each running their own `ofswitch daemon` with a private state
#   directory (as two machines would); "containers" are namespaces attached to a host's bridge
#   with `ofswitch vsctl add-netns-port` (veth pair, address, MAC, MTU), as ovs-docker does.
# - Cleanup on exit, failure or Ctrl-C: daemons and other processes by PID, namespaces (and the
#   veths in them), state directories. KEEP=1 (or `keep_topology`) leaves everything up and
#   prints how to look around and tear it down.
# - Narration: `step` prints a heading, `show` a command and then runs it, `expect_ping` and
#   `ping_matrix` assert reachability (the script exits non-zero on the first surprise).

set -euo pipefail

EX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
P=${OFX_PREFIX:-x$$}
WORK=$(mktemp -d "/tmp/ofx-$P.XXXXXX")
KEEP=${KEEP:-0}
EX_PIDS=()
EX_NETNS=()

[ "$(id -u)" -eq 0 ] || { echo "$(basename "$0"): needs root (network namespaces, veth, TAP)" >&2; exit 1; }

if [ -z "${OFSWITCH:-}" ] || [ -z "${OFCONTROLLER:-}" ]; then
  (cd "$EX_ROOT" && cargo build --release -q -p ofswitch -p ofcontroller)
  OFSWITCH=${OFSWITCH:-$EX_ROOT/target/release/ofswitch}
  OFCONTROLLER=${OFCONTROLLER:-$EX_ROOT/target/release/ofcontroller}
fi

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
# show CMD...: print the command as a user would type it, then run it, output indented.
show() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }

ex_cleanup() {
  local rc=$?
  set +e
  if [ "$KEEP" = 1 ]; then
    printf '\nThe topology is still up (KEEP=1). Tear it down with:\n'
    printf '   kill %s\n' "${EX_PIDS[*]}"
    printf '   for n in %s; do ip netns del $n; done\n' "${EX_NETNS[*]}"
    printf '   rm -rf %s\n' "$WORK"
    return $rc
  fi
  for pid in "${EX_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${EX_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  for n in "${EX_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$WORK"
  return $rc
}
trap ex_cleanup EXIT
trap 'exit 130' INT TERM

# keep_topology: do not clean up at exit; print the teardown commands instead.
keep_topology() { KEEP=1; }

# netns NAME: a namespace $P$NAME with its loopback up.
netns() {
  ip netns add "$P$1"
  EX_NETNS+=("$P$1")
  ip -n "$P$1" link set lo up
}

# at NAME CMD...: run CMD in namespace $P$NAME.
at() { local n=$1; shift; ip netns exec "$P$n" "$@"; }

# host NAME: a namespace running its own ofswitch daemon, state in $WORK/NAME.
host() {
  local name=$1 dir=$WORK/$1
  netns "$name"
  mkdir -p "$dir"
  ip netns exec "$P$name" "$OFSWITCH" --state-dir "$dir" daemon --log-file "$dir/ofswitch.log" \
    >/dev/null 2>>"$dir/stderr.log" &
  EX_PIDS+=($!)
  for _ in $(seq 100); do [ -S "$dir/ofswitch.ctl" ] && return 0; sleep 0.05; done
  die "the ofswitch daemon of $name did not start (see $dir/ofswitch.log)"
}

# ofs HOST ARGS...: `ofswitch` against HOST's daemon.
ofs() { local h=$1; shift; "$OFSWITCH" --state-dir "$WORK/$h" "$@"; }

# link A IP_A B IP_B: a veth pair between namespaces A and B (the underlay), addresses /24;
# its ends are named ${P}lNa (in A) and ${P}lNb (in B) for the Nth link.
EX_LINKS=0
link() {
  local a=$1 ipa=$2 b=$3 ipb=$4 n
  EX_LINKS=$((EX_LINKS + 1))
  n=$P"l$EX_LINKS"
  ip link add "${n}a" netns "$P$a" type veth peer "${n}b" netns "$P$b"
  ip -n "$P$a" addr add "$ipa/24" dev "${n}a"
  ip -n "$P$b" addr add "$ipb/24" dev "${n}b"
  ip -n "$P$a" link set "${n}a" up
  ip -n "$P$b" link set "${n}b" up
}

# container HOST BRIDGE NAME IP/PREFIX [OPTIONS...]: namespace $P$NAME attached to BRIDGE of
# HOST by `vsctl add-netns-port` (port and namespace both named $P$NAME, interface eth0);
# OPTIONS as add-netns-port takes them (--macaddress=, --mtu=, --gateway=).
container() {
  local h=$1 br=$2 name=$3 ip=$4
  shift 4
  netns "$name"
  ofs "$h" vsctl add-netns-port "$br" "$P$name" "$P$name" --ifname=eth0 --ipaddress="$ip" "$@"
}

# controller NS IP [ARGS...]: `ofcontroller run` in namespace NS listening on IP:6653 (the
# namespace is ours, so the usual port is free), status socket $WORK/ofcontroller.ctl.
controller() {
  local ns=$1 ip=$2
  shift 2
  ip netns exec "$P$ns" "$OFCONTROLLER" run --listen "tcp:$ip:6653" --control "$WORK/ofcontroller.ctl" \
    "$@" >/dev/null 2>"$WORK/ofcontroller.log" &
  EX_PIDS+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$WORK/ofcontroller.log" 2>/dev/null && return 0; sleep 0.05; done
  die "ofcontroller did not start: $(cat "$WORK/ofcontroller.log")"
}

# wait_resynced N: until the controller has resynced N switches.
wait_resynced() {
  for _ in $(seq 300); do
    [ "$(grep -c "resynced" "$WORK/ofcontroller.log" 2>/dev/null || true)" -ge "$1" ] && return 0
    sleep 0.1
  done
  die "the controller did not resync $1 switches: $(cat "$WORK/ofcontroller.log")"
}

# pings FROM IP: true if FROM reaches IP (a few tries: the first one may wait for ARP and
# learning).
pings() {
  local i
  for i in 1 2 3 4 5; do at "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done
  return 1
}

# expect_ping FROM IP ok|fail
expect_ping() {
  local got=fail
  if [ "$3" = ok ]; then pings "$1" "$2" && got=ok
  else at "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1 && got=ok; fi
  printf '   %-6s -> %-15s %-4s (expected %s)\n' "$1" "$2" "$got" "$3"
  [ "$got" = "$3" ] || die "$1 -> $2: $got, expected $3"
}

# ping_matrix NAME:IP:VLAN...: every ordered pair; same VLAN must reach, different must not.
# Prints one row per source; `.` reached, `x` not reached, `!` a surprise. The pings of a row
# run in parallel.
ping_matrix() {
  local hosts=("$@") a b na ia va nb ib vb row j pids dir=$WORK/matrix
  mkdir -p "$dir"
  printf '   %-8s' "from\\to"
  for b in "${hosts[@]}"; do printf ' %-6s' "${b%%:*}"; done
  printf '\n'
  for a in "${hosts[@]}"; do
    IFS=: read -r na ia va <<<"$a"
    j=0 pids=()
    for b in "${hosts[@]}"; do
      IFS=: read -r nb ib vb <<<"$b"
      j=$((j + 1))
      if [ "$na" = "$nb" ]; then echo - >"$dir/$j"; continue; fi
      if [ "$va" = "$vb" ]; then
        (if pings "$na" "$ib"; then echo .; else echo '!'; fi >"$dir/$j") &
        pids+=($!)
      else
        (if at "$na" ping -c 2 -i 0.2 -W 1 "$ib" >/dev/null 2>&1; then echo '!'; else echo x; fi >"$dir/$j") &
        pids+=($!)
      fi
    done
    # Only these pings: the daemons are background jobs too.
    wait "${pids[@]}"
    row=$(printf '   %-8s' "$na")
    for j in $(seq ${#hosts[@]}); do row+=$(printf ' %-6s' "$(cat "$dir/$j")"); done
    printf '%s\n' "$row"
    case $row in *'!'*) die "the ping matrix has surprises (row $na)" ;; esac
  done
  say "(. reached, x not reached, as the VLANs say; ! would be a surprise)"
}

# iperf3_run FROM TO IP [SECONDS]: iperf3 TCP for SECONDS (3) from namespace FROM to a one-shot
# server in namespace TO on IP; prints the sender's and receiver's lines and sets IPERF_MBITS to
# the receiver's Mbit/s. Fails the script if the test fails or moves nothing.
IPERF_MBITS=0
iperf3_run() {
  local from=$1 to=$2 ip=$3 secs=${4:-3} log=$WORK/iperf3-$1-$2.log pid
  at "$to" iperf3 -s -1 -B "$ip" >"$log.server" 2>&1 &
  pid=$!
  EX_PIDS+=("$pid")
  for _ in $(seq 50); do at "$to" ss -ltn 2>/dev/null | grep -q "$ip:5201 " && break; sleep 0.1; done
  printf '   $ iperf3 -c %s -t %s   (from %s, server in %s)\n' "$ip" "$secs" "$from" "$to"
  at "$from" iperf3 -c "$ip" -t "$secs" -f m >"$log" 2>&1 || die "iperf3 $from -> $ip failed: $(cat "$log")"
  grep -E ' (sender|receiver)$' "$log" | sed 's/^/     /'
  IPERF_MBITS=$(awk '/ receiver$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }' "$log")
  wait "$pid" 2>/dev/null || true
  awk -v m="${IPERF_MBITS:-0}" 'BEGIN { exit !(m > 0) }' || die "iperf3 $from -> $ip moved nothing: $(cat "$log")"
}

# modes DEFAULT FLAG=MODE... -- ARGS...: sets MODE from a script's arguments ARGS: DEFAULT, or
# MODE for a --FLAG given (e.g. `modes controller --standalone=standalone -- "$@"`); --keep
# keeps the topology up; any other argument is an error.
MODE=
modes() {
  local flags=() a f ok
  MODE=$1
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  for a in "$@"; do
    ok=0
    [ "$a" = --keep ] && { keep_topology; continue; }
    for f in "${flags[@]}"; do
      [ "$a" = "${f%%=*}" ] && { MODE=${f#*=}; ok=1; }
    done
    [ $ok = 1 ] || die "unknown argument $a (want ${flags[*]%%=*} or --keep)"
  done
}

# example_args ARGS...: the options the examples take: --standalone (MODE=standalone; else
# MODE=controller) and --keep (keep_topology).
example_args() {
  MODE=controller
  local a
  for a in "$@"; do
    case $a in
    --standalone) MODE=standalone ;;
    --keep) keep_topology ;;
    *) die "unknown argument $a (want --standalone or --keep)" ;;
    esac
  done
}

# need TOOL...: exit with a message unless every TOOL is installed.
need() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null || die "needs $t (scripts/install-deps.sh installs it)"; done
}

# controlled HOST IP BRIDGE...: BRIDGEs of HOST in fail-mode secure, connected to the controller
# at tcp:IP:6653.
controlled() {
  local h=$1 ip=$2 br
  shift 2
  for br in "$@"; do
    ofs "$h" vsctl set-fail-mode "$br" secure -- set-controller "$br" "tcp:$ip:6653"
  done
}

# gone NS IFACE: true once interface IFACE has left namespace $P$NS (within 3 s).
gone() {
  for _ in $(seq 30); do at "$1" ip link show "$2" >/dev/null 2>&1 || return 0; sleep 0.1; done
  return 1
}
