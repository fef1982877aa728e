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
# - Cleanup on exit, failure or Ctrl-C (a second Ctrl-C does not cut it short): daemons and
#   other processes by PID, then whatever still runs inside this run's namespaces, the
#   namespaces (and the veths in them), state directories. KEEP=1 (or `keep_topology`) leaves
#   everything up, unless interrupted, and writes $WORK/teardown.sh, which removes it all.
# - Narration: `step` prints a heading, `show` a command and then runs it, `expect_ping` and
#   `ping_matrix` assert reachability (the script exits non-zero on a surprise; the matrix is
#   printed whole first), `wait_resynced` and `iperf3_run` show dots while they wait.

set -euo pipefail

EX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
P=${OFX_PREFIX:-x$$}
KEEP=${KEEP:-0}
EX_PIDS=()
# Short-lived helpers (the subshells of a ping matrix row): stopped first at cleanup.
EX_TRANSIENT=()
EX_NETNS=()
WORK=

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

# ex_stop_netns NS...: stops every process still inside the namespaces (TERM, up to 5 s, then
# KILL) and deletes them, with the veths in them. All are ours: this run made the namespaces,
# and whatever runs in one was started there by this run (a daemon, a `ping &` whose PID is a
# subshell's, an iperf3 server, ...); a namespace with a process left in it would outlive
# `ip netns del`.
ex_stop_netns() {
  local n pids
  for n in "$@"; do
    pids=$(ip netns pids "$n" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill $pids 2>/dev/null
  done
  for _ in $(seq 50); do
    pids=
    for n in "$@"; do pids+=$(ip netns pids "$n" 2>/dev/null); done
    [ -z "$pids" ] && break
    sleep 0.1
  done
  for n in "$@"; do
    pids=$(ip netns pids "$n" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$n" 2>/dev/null
  done
}

# ex_write_teardown FILE: a script that removes this run's topology (for KEEP=1): the
# processes in its namespaces, the namespaces, the state directories, itself.
ex_write_teardown() {
  {
    echo "#!/usr/bin/env bash"
    echo "# Tears down what $(basename "$0") (prefix $P) left up."
    declare -f ex_stop_netns
    printf 'ex_stop_netns'
    printf ' %q' "${EX_NETNS[@]}"
    printf '\nrm -rf %q\n' "$WORK"
    printf 'echo "torn down: %s namespaces, %q"\n' "${#EX_NETNS[@]}" "$WORK"
  } >"$1"
  chmod +x "$1"
}

ex_cleanup() {
  local rc=$? pid
  set +e
  # A second Ctrl-C must not cut the cleanup short.
  trap '' INT TERM
  if [ "$KEEP" = 1 ] && [ -n "$WORK" ]; then
    ex_write_teardown "$WORK/teardown.sh"
    printf '\nThe topology is still up (--keep). Tear it down with:\n'
    printf '   %s\n' "$WORK/teardown.sh"
    return $rc
  fi
  for pid in "${EX_TRANSIENT[@]}" "${EX_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${EX_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  ex_stop_netns "${EX_NETNS[@]}"
  [ -n "$WORK" ] && rm -rf "$WORK"
  return $rc
}
trap ex_cleanup EXIT
# Interrupted: clean up even under --keep (Ctrl-C leaves nothing behind).
trap 'KEEP=0; exit 130' INT TERM
WORK=$(mktemp -d "/tmp/ofx-$P.XXXXXX")

# keep_topology: do not clean up at a normal exit; write the teardown script and print its path.
keep_topology() { KEEP=1; }

# netns NAME: a namespace $P$NAME with its loopback up.
netns() {
  [ -e "/run/netns/$P$1" ] && die "namespace $P$1 exists already (another run with prefix $P?)"
  # Listed first: an interrupt right after `ip netns add` must find it.
  EX_NETNS+=("$P$1")
  ip netns add "$P$1"
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
# HOST by `vsctl add-netns-port` (port named $PORT_PREFIX$NAME, interface eth0); OPTIONS as
# add-netns-port takes them (--macaddress=, --mtu=, --gateway=). The port (the veth's outer
# end) is in HOST's namespace, which is this run's own: a script may set PORT_PREFIX= (after
# sourcing this file) for shorter port names.
PORT_PREFIX=$P
container() {
  local h=$1 br=$2 name=$3 ip=$4
  shift 4
  netns "$name"
  ofs "$h" vsctl add-netns-port "$br" "$PORT_PREFIX$name" "$P$name" --ifname=eth0 --ipaddress="$ip" "$@"
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

# wait_resynced N: until the controller has resynced N switches (at most 30 s), a dot every
# half second while it waits.
wait_resynced() {
  local n=0 what=switches
  [ "$1" = 1 ] && what=switch
  printf '   waiting for the controller to resync %s %s ' "$1" "$what"
  for _ in $(seq 300); do
    if [ "$(grep -c "resynced" "$WORK/ofcontroller.log" 2>/dev/null || true)" -ge "$1" ]; then
      printf ' done (%d.%d s)\n' $((n / 10)) $((n % 10))
      return 0
    fi
    n=$((n + 1))
    [ $((n % 5)) = 0 ] && printf .
    sleep 0.1
  done
  printf '\n'
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
# Prints a table, a row per source and a column per destination, each with its VLAN when there
# are several: `yes` reached, `no` not reached (both as the VLANs say), `-` itself; `LOST` (same
# VLAN, not reached) or `LEAK` (other VLAN, reached) is a surprise, and fails the script once
# the table is complete. The pings of a row run in parallel. Ends with a count of the pairs;
# sets MATRIX_REACHED and MATRIX_APART to the numbers of pairs that reached and did not.
MATRIX_REACHED=0
MATRIX_APART=0
ping_matrix() {
  local hosts=("$@") a b na ia va nb ib vb j row dir=$WORK/matrix
  local nw=9 cw=6 multi=0 lw same=0 apart=0 bad=0 cell
  mkdir -p "$dir"
  for a in "${hosts[@]}"; do
    IFS=: read -r na ia va <<<"$a"
    [ ${#na} -ge $nw ] && nw=$((${#na} + 1))
    [ ${#na} -ge $((cw - 1)) ] && cw=$((${#na} + 2))
    [ "$va" = "${hosts[0]##*:}" ] || multi=1
  done
  # The label column: the name (and the VLAN), wide enough for "from \ to ".
  lw=$((nw + 2))
  [ $multi = 1 ] && lw=$((nw + 6))
  row=$(printf '   %-*s' "$lw" 'from \ to')
  for b in "${hosts[@]}"; do row+=$(printf '%-*s' "$cw" "${b%%:*}"); done
  printf '%s\n' "${row%"${row##*[! ]}"}"
  if [ $multi = 1 ]; then
    row=$(printf '   %*s  ' $((lw - 2)) VLAN)
    for b in "${hosts[@]}"; do row+=$(printf '%-*s' "$cw" "${b##*:}"); done
    printf '%s\n' "${row%"${row##*[! ]}"}"
  fi
  for a in "${hosts[@]}"; do
    IFS=: read -r na ia va <<<"$a"
    j=0
    EX_TRANSIENT=()
    for b in "${hosts[@]}"; do
      IFS=: read -r nb ib vb <<<"$b"
      j=$((j + 1))
      if [ "$na" = "$nb" ]; then echo - >"$dir/$j"; continue; fi
      if [ "$va" = "$vb" ]; then
        (if pings "$na" "$ib"; then echo yes; else echo LOST; fi >"$dir/$j") &
        EX_TRANSIENT+=($!)
      else
        (if at "$na" ping -c 2 -i 0.2 -W 1 "$ib" >/dev/null 2>&1; then echo LEAK; else echo no; fi >"$dir/$j") &
        EX_TRANSIENT+=($!)
      fi
    done
    # Only these pings: the daemons are background jobs too.
    wait "${EX_TRANSIENT[@]}"
    EX_TRANSIENT=()
    if [ $multi = 1 ]; then row=$(printf '   %-*s%4s  ' "$nw" "$na" "$va"); else row=$(printf '   %-*s' "$lw" "$na"); fi
    for j in $(seq ${#hosts[@]}); do
      cell=$(cat "$dir/$j")
      case $cell in yes) same=$((same + 1)) ;; no) apart=$((apart + 1)) ;; -) ;; *) bad=$((bad + 1)) ;; esac
      row+=$(printf '%-*s' "$cw" "$cell")
    done
    printf '%s\n' "${row%"${row##*[! ]}"}"
  done
  MATRIX_REACHED=$same MATRIX_APART=$apart
  if [ $multi = 1 ]; then
    say "$((same + apart + bad)) pairs: $same in the same VLAN reached each other, $apart across VLANs did not"
  else
    say "$same of $((same + bad)) pairs reached each other"
  fi
  [ $bad = 0 ] || die "the ping matrix has $bad surprises (LOST: same VLAN, not reached; LEAK: other VLAN, reached)"
}

# iperf3_run FROM TO IP [SECONDS]: iperf3 TCP for SECONDS (3) from namespace FROM to a one-shot
# server in namespace TO on IP, a dot a second while it runs; prints the sender's and receiver's
# lines and sets IPERF_MBITS to the receiver's Mbit/s. Fails the script if the test fails or
# moves nothing.
IPERF_MBITS=0
iperf3_run() {
  local from=$1 to=$2 ip=$3 secs=${4:-3} log=$WORK/iperf3-$1-$2.log pid cpid
  at "$to" iperf3 -s -1 -B "$ip" >"$log.server" 2>&1 &
  pid=$!
  EX_PIDS+=("$pid")
  for _ in $(seq 50); do at "$to" ss -ltn 2>/dev/null | grep -q "$ip:5201 " && break; sleep 0.1; done
  printf '   $ iperf3 -c %s -t %s   (from %s, server in %s) ' "$ip" "$secs" "$from" "$to"
  at "$from" iperf3 -c "$ip" -t "$secs" -f m >"$log" 2>&1 &
  cpid=$!
  EX_PIDS+=("$cpid")
  while kill -0 "$cpid" 2>/dev/null; do printf .; sleep 1; done
  printf '\n'
  wait "$cpid" || die "iperf3 $from -> $ip failed: $(cat "$log")"
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
