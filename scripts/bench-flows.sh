#!/usr/bin/env bash
# Flow-table benchmark through the daemon (issue 12), never run by CI: FLOW_MODs arrive over
# OpenFlow as they do in production, and the same steps run against
#   ofswitch                     `ofswitch daemon` in a private state directory, one bridge,
#                                fail-mode secure, a passive `ptcp:PORT:127.0.0.1` target
#   Open vSwitch 3.1 userspace   scripts/ovs-userspace.sh (datapath_type=netdev, fail-mode
#                                secure, its passive ptcp listener)
# in one run. Each bridge has 4 internal ports (the flows output to them). Every bulk step is
# the real `ovs-ofctl -O OpenFlow13 ... tcp:127.0.0.1:PORT`, timed from start to exit:
#   add-flows    a file of N flows over 4 tables (N/4 each), for each --sizes N: match
#                dl_vlan + dl_dst (250 MACs per VLAN, VLANs 1, 2, ...), cookie = the VLAN,
#                actions by table: 0 goto_table:1; 1 pop_vlan,output:P; 2 output:P (trunk);
#                3 mod_vlan_vid:V+1000,output:P (VLAN translation)
#   dump-flows   of the largest N (and the printed lines are counted)
#   del-flows    `table=1,dl_vlan=1` (one VLAN in one table), then `cookie=0x2/-1` (all of
#                VLAN 2, in all tables), then everything
#   RSS          VmRSS of the daemon (ofswitch daemon, ovs-vswitchd) with no flows and with the
#                largest N installed: bytes per flow
# and, with `ofbench flow-mods` (bench/, over the same OpenFlow client as `ofswitch ofctl`):
#   the largest N FLOW_MODs into one table, 1,000 per BARRIER (the switch's own rate: ovs-ofctl
#   add-flows waits for a barrier after every FLOW_MOD, so it times a round trip per flow);
#   one FLOW_MOD + BARRIER_REQUEST at a time, waiting for each BARRIER_REPLY (what a learning
#   controller does), --per-flow flows in all into each table of one switch whose table 1+i
#   add-flows filled with the i-th --table-sizes M flows, going round the tables 4 times:
#   mean and percentiles per flow.
# After each step the flow count is checked with dump-aggregate (a wrong count is an error row).
#
# Usage, as root:  scripts/bench-flows.sh [--save] [--sizes LIST] [--table-sizes LIST]
#                                        [--per-flow N] [--timeout SECS] [--only ofswitch|ovs]
#   --save              also write the table into BENCHMARKS.md under "## Flow tables through
#                       the daemon" (replaced); only with the default sizes and both switches
#   --sizes LIST        add-flows file sizes, comma-separated (default 10000,100000); the largest
#                       is used for dump-flows, del-flows and RSS
#   --table-sizes LIST  flows in the table before the one-at-a-time runs (default 1000,100000)
#   --per-flow N        flows added one at a time in each of those runs (default 2000)
#   --timeout SECS      cap on every step (default 300): a step that takes longer is stopped
#                       and shows "timeout (>SECS s)"; the steps that needed its flows are
#                       skipped and the switch is restarted for the next section
#   --only KIND         run one switch: ofswitch or ovs
# e.g. a quick run: scripts/bench-flows.sh --sizes 1000,10000 --table-sizes 1000 --per-flow 500
# Prints one markdown table: seconds (and flows/s) or microseconds per row and switch, and the
# ratio ofswitch / Open vSwitch (below 1: ofswitch is faster or smaller).
# Everything it creates is named bf<pid>* and removed on exit (trap), also on failure or
# Ctrl-C; every process it starts is stopped by its PID. Only ratios taken in one run mean
# anything: the machines are shared and noisy.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAVE=0
SIZES=10000,100000
TABLE_SIZES=1000,100000
PER_FLOW=2000
ROUNDS=4          # the one-at-a-time runs go round the table sizes this many times
BATCH=1000        # FLOW_MODs per barrier in the batched row
LIMIT=300
ONLY=
while [ $# -gt 0 ]; do
  case $1 in
  --save) SAVE=1 ;;
  --sizes) SIZES=${2:?--sizes LIST}; shift ;;
  --sizes=*) SIZES=${1#--sizes=} ;;
  --table-sizes) TABLE_SIZES=${2:?--table-sizes LIST}; shift ;;
  --table-sizes=*) TABLE_SIZES=${1#--table-sizes=} ;;
  --per-flow) PER_FLOW=${2:?--per-flow N}; shift ;;
  --per-flow=*) PER_FLOW=${1#--per-flow=} ;;
  --timeout) LIMIT=${2:?--timeout SECS}; shift ;;
  --timeout=*) LIMIT=${1#--timeout=} ;;
  --only) ONLY=${2:?--only ofswitch|ovs}; shift ;;
  --only=*) ONLY=${1#--only=} ;;
  -h | --help) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "bench-flows: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
die() { echo "bench-flows: $*" >&2; exit 2; }
list_ok() { [[ $1 =~ ^[0-9]+(,[0-9]+)*$ ]]; }
list_ok "$SIZES" || die "--sizes wants numbers separated by commas"
list_ok "$TABLE_SIZES" || die "--table-sizes wants numbers separated by commas"
[[ $PER_FLOW =~ ^[1-9][0-9]*$ ]] || die "--per-flow wants a number above 0"
[[ $LIMIT =~ ^[1-9][0-9]*$ ]] || die "--timeout wants whole seconds above 0"
case $ONLY in '' | ofswitch | ovs) ;; *) die "--only wants ofswitch or ovs" ;; esac
mapfile -t SIZES < <(tr ',' '\n' <<<"$SIZES" | sort -n -u)
mapfile -t TABLE_SIZES < <(tr ',' '\n' <<<"$TABLE_SIZES" | sort -n -u)
for n in "${SIZES[@]}" "${TABLE_SIZES[@]}"; do [ "$n" -ge 4 ] || die "sizes must be at least 4"; done
BIG=${SIZES[-1]}
if [ "$SAVE" -eq 1 ]; then
  [ -z "$ONLY" ] && [ "${SIZES[*]}" = "10000 100000" ] && [ "${TABLE_SIZES[*]}" = "1000 100000" ] ||
    die "--save wants the default sizes and both switches"
fi
[ "$(id -u)" -eq 0 ] || { echo "bench-flows: needs root (Open vSwitch, internal ports)" >&2; exit 1; }
for tool in ovs-vsctl ovs-ofctl ovs-vswitchd ovsdb-server ovsdb-tool jq python3 flock timeout ss ip; do
  command -v "$tool" >/dev/null || { echo "bench-flows: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

echo "== cargo build --release -p ofswitch -p ofbench" >&2
cargo build --release -p ofswitch -p ofbench >&2 || { echo "bench-flows: build failed" >&2; exit 1; }
BIN=$ROOT/target/release/ofswitch
OFBENCH=$ROOT/target/release/ofbench

P=bf$$                       # prefix of every bridge, port and directory
WORK=$(mktemp -d "/tmp/ofswitch-bench-flows.XXXXXX")
OVS_LOCK=/tmp/ofswitch-ovs.lock  # one userspace Open vSwitch at a time (bench-datapath.sh too)
DAEMON_PID=                  # the ofswitch daemon
STEP_PID=                    # the `timeout` around the step running now
OVS_DIR=
OVS_PORT=                    # its ptcp listener
LOCK_FD=

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"
ovs_down() {
  [ -n "$OVS_DIR" ] && OFCTL_PORT=$OVS_PORT "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1
  OVS_DIR=
  [ -n "$LOCK_FD" ] && { flock -u "$LOCK_FD"; exec {LOCK_FD}>&-; LOCK_FD=; }
  return 0
}
cleanup() {
  set +e
  [ -n "$STEP_PID" ] && stop_pid "$STEP_PID"  # timeout passes the signal on to its command
  STEP_PID=
  [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"
  DAEMON_PID=
  ovs_down
  local l
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P"); do
    ip link del "$l" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 nobody listens on, below the ephemeral range (so that no outgoing
# connection takes it between this check and the switch's bind).
free_port() {
  local lo p i
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for i in $(seq 0 999); do
    p=$((10000 + ($$ * 7 + i * 131 + ${1:-0}) % (lo - 10000)))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  return 1
}

# ---- steps ------------------------------------------------------------------------------------

# step OUT CMD...: runs CMD under `timeout $LIMIT` (stdout to OUT, stderr to OUT.err), sets
# SECS (wall-clock seconds) and returns CMD's status, 124 on timeout. In the background and
# waited for, so that a Ctrl-C reaches the trap (timeout puts itself in its own process group).
SECS=
step() {
  local out=$1 t0 t1 rc; shift
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$LIMIT" "$@" >"$out" 2>"$out.err" </dev/null &
  STEP_PID=$!
  wait "$STEP_PID"; rc=$?
  STEP_PID=
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  return "$rc"
}
ofctl() { ovs-ofctl -O OpenFlow13 "$@"; }

# flow_count: the switch's dump-aggregate flow_count, or empty.
flow_count() {
  timeout --foreground 120 ovs-ofctl -O OpenFlow13 dump-aggregate "$TARGET" 2>/dev/null </dev/null |
    sed -n 's/.*flow_count=\([0-9]*\).*/\1/p'
}

# flows_file N LAYOUT P1 P2 P3 P4: LAYOUT 4 spreads N flows over tables 0-3, 1 puts them all in
# table 1. 250 destination MACs per VLAN; cookie = VLAN.
flows_file() {
  python3 - "$@" <<'EOF'
import sys
n, layout, ports = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:7]
tables = [0, 1, 2, 3] if layout == 4 else [1]
actions = {
    0: lambda v, p: "goto_table:1",
    1: lambda v, p: f"pop_vlan,output:{p}",
    2: lambda v, p: f"output:{p}",
    3: lambda v, p: f"mod_vlan_vid:{v + 1000},output:{p}",
}
out = []
for k, t in enumerate(tables):
    per = n // len(tables) + (1 if k < n % len(tables) else 0)
    for j in range(per):
        v, m = 1 + j // 250, j % 250
        mac = f"02:{t:02x}:{v >> 8:02x}:{v & 255:02x}:00:{m:02x}"
        out.append(f"cookie={v:#x},table={t},priority=1000,dl_vlan={v},dl_dst={mac},"
                   f"actions={actions[t](v, ports[j % 4])}")
assert len(out) == n
print("\n".join(out))
EOF
}

declare -A V    # V[kind,row]: the figure (seconds, microseconds, bytes) for the ratio
declare -A TXT  # TXT[kind,row]: the cell
declare -A TO   # TO[kind,row]: 1 when the step timed out
secs_cell() { printf '%.3f s' "$1"; }
rate() { commas "$(awk -v n="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%d", n / t; else print "?" }')"; }
fail() {  # fail KIND ROW TEXT
  TXT[$1,$2]=$3
  log "$1 $2: $3"
}
timed_out() { TO[$1,$2]=1; fail "$1" "$2" "timeout (>$LIMIT s)"; }
err_of() { grep -v '^$' "$1.err" 2>/dev/null | tail -1 | cut -c1-160; }

# check_count KIND ROW WANT: the flow count must be WANT (else the row becomes an error).
check_count() {
  local got
  got=$(flow_count)
  [ "$got" = "$3" ] && return 0
  fail "$1" "$2" "ERROR: ${got:-no} flows after it, not $(commas "$3")"
  return 1
}

# add KIND ROW FILE N [TOTAL]: timed add-flows of FILE (N flows); the switch then holds TOTAL
# flows (default N: it was empty).
add() {
  local kind=$1 row=$2 file=$3 n=$4 total=${5:-$4}
  log "$kind: add-flows $(commas "$n") flows ($row)"
  step "$WORK/out" ovs-ofctl -O OpenFlow13 add-flows "$TARGET" "$file"
  case $? in
  0) ;;
  124 | 137) timed_out "$kind" "$row"; return 1 ;;
  *) fail "$kind" "$row" "ERROR: add-flows: $(err_of "$WORK/out")"; return 1 ;;
  esac
  check_count "$kind" "$row" "$total" || return 1
  V[$kind,$row]=$SECS
  TXT[$kind,$row]="$(secs_cell "$SECS") ($(rate "$n" "$SECS") flows/s)"
  log "$kind: ${TXT[$kind,$row]}"
}

# del KIND ROW FLOW WANT_LEFT: timed del-flows (FLOW may be empty: everything).
del() {
  local kind=$1 row=$2 flow=$3 left=$4
  log "$kind: del-flows ${flow:-(all)}"
  step "$WORK/out" ovs-ofctl -O OpenFlow13 del-flows "$TARGET" ${flow:+"$flow"}
  case $? in
  0) ;;
  124 | 137) timed_out "$kind" "$row"; return 1 ;;
  *) fail "$kind" "$row" "ERROR: del-flows: $(err_of "$WORK/out")"; return 1 ;;
  esac
  check_count "$kind" "$row" "$left" || return 1
  V[$kind,$row]=$SECS
  TXT[$kind,$row]=$(secs_cell "$SECS")
  log "$kind: ${TXT[$kind,$row]}"
}

skip() {  # skip KIND REASON ROW...
  local kind=$1 why=$2 r; shift 2
  for r in "$@"; do [ -n "${TXT[$kind,$r]:-}" ] || TXT[$kind,$r]="skipped ($why)"; done
}

# ---- the two switches ---------------------------------------------------------------------

TARGET=           # tcp:127.0.0.1:PORT of the switch up now
SW_PID=           # its daemon's PID (for RSS)
PORTS=()          # its 4 internal ports' OpenFlow port numbers

ofs() { "$BIN" --state-dir "$WORK/state" "$@"; }

sw_up() {  # sw_up KIND: a fresh switch, empty, TARGET/SW_PID/PORTS set; non-zero on failure
  local kind=$1 i port
  PORTS=()
  case $kind in
  ofswitch)
    rm -rf "$WORK/state"; mkdir -p "$WORK/state"
    "$BIN" --state-dir "$WORK/state" daemon --log-file "$WORK/state/ofswitch.log" </dev/null &
    DAEMON_PID=$!
    for _ in $(seq 100); do [ -S "$WORK/state/ofswitch.ctl" ] && break; sleep 0.1; done
    port=$(free_port 1) || return 1
    local args=(add-br "${P}br" -- set-fail-mode "${P}br" secure)
    for i in 1 2 3 4; do args+=(-- add-port "${P}br" "${P}i$i" -- set interface "${P}i$i" type=internal); done
    args+=(-- set-controller "${P}br" "ptcp:$port:127.0.0.1")
    ofs vsctl "${args[@]}" >/dev/null 2>"$WORK/err" || { log "ofswitch setup: $(tail -1 "$WORK/err")"; return 1; }
    for i in 1 2 3 4; do PORTS+=("$(ofs vsctl get interface "${P}i$i" ofport)"); done
    SW_PID=$DAEMON_PID
    ;;
  ovs)
    if [ -z "$LOCK_FD" ]; then
      exec {LOCK_FD}>"$OVS_LOCK"
      log "ovs: waiting for $OVS_LOCK"
      flock -w 600 "$LOCK_FD" || { log "another userspace Open vSwitch holds $OVS_LOCK"; return 1; }
    fi
    OVS_DIR=$WORK/ovs
    OVS_PORT=$(free_port 2) || return 1
    port=$OVS_PORT
    local args=()
    for i in 1 2 3 4; do args+=(-- add-port "${P}ob" "${P}o$i" -- set interface "${P}o$i" type=internal ofport_request=$i); done
    { OFCTL_PORT=$OVS_PORT "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" "${P}ob" &&
      ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=20 "${args[@]}"; } >"$WORK/ovs.out" 2>&1 ||
      { log "ovs setup: $(tail -1 "$WORK/ovs.out")"; return 1; }
    PORTS=(1 2 3 4)
    SW_PID=$(cat "$OVS_DIR/ovs-vswitchd.pid")
    ;;
  esac
  TARGET=tcp:127.0.0.1:$port
  for _ in $(seq 100); do [ -n "$(ss -Htln "sport = :$port")" ] && break; sleep 0.1; done
  [ "$(flow_count)" = 0 ] || { log "$kind: the new switch does not answer dump-aggregate with 0 flows"; return 1; }
  log "$kind: up, $TARGET, pid $SW_PID, ports ${PORTS[*]}"
}

sw_down() {  # sw_down KIND
  case $1 in
  ofswitch) [ -n "$DAEMON_PID" ] && stop_pid "$DAEMON_PID"; DAEMON_PID= ;;
  ovs) [ -n "$OVS_DIR" ] && OFCTL_PORT=$OVS_PORT "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >/dev/null 2>&1 ;;
  esac
  local l
  for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P"); do
    ip link del "$l" 2>/dev/null
  done
  return 0
}

# The rows, in table order.
ROWS=()
declare -A LABEL
for n in "${SIZES[@]}"; do
  ROWS+=("add$n"); LABEL[add$n]="add-flows, $(commas "$n") flows over 4 tables"
done
ROWS+=(dump del_match del_cookie del_all rss)
ROWS+=(batch)
LABEL[batch]="$(commas "$BIG") FLOW_MODs into one table, one BARRIER per $(commas "$BATCH") (ofbench --batch)"
for n in "${TABLE_SIZES[@]}"; do
  ROWS+=("add1t$n" "pf$n")
  LABEL[add1t$n]="add-flows, $(commas "$n") flows into one table"
  LABEL[pf$n]="one FLOW_MOD + BARRIER at a time into that table ($(commas "$PER_FLOW") flows in $ROUNDS rounds), µs per flow"
done

# What the deletions of the largest file remove (flows_file's layout): M1 flows of VLAN 1 in
# table 1 (its first 250), C2 flows of VLAN 2 (numbers 250-499 of each table).
M1=0 C2=0
for t in 0 1 2 3; do
  per=$((BIG / 4 + (t < BIG % 4 ? 1 : 0)))
  [ "$t" = 1 ] && M1=$((per < 250 ? per : 250))
  c=$(( (per < 500 ? per : 500) - 250 )); [ "$c" -gt 0 ] && C2=$((C2 + c))
done
LABEL[dump]="dump-flows, $(commas "$BIG") flows (lines counted)"
LABEL[del_match]="del-flows table=1,dl_vlan=1 ($(commas "$M1") of $(commas "$BIG") flows)"
LABEL[del_cookie]="del-flows cookie=0x2/-1 ($(commas "$C2") flows: VLAN 2 in 4 tables)"
LABEL[del_all]="del-flows, everything (the other $(commas $((BIG - M1 - C2))) flows)"
LABEL[rss]="daemon RSS per flow, bytes (VmRSS with no flows and with $(commas "$BIG"))"

# sw_fresh KIND: the switch restarted, empty (every add-flows row starts from a fresh switch,
# so a timed-out step leaves nothing behind and RSS starts from a switch that never held flows).
sw_fresh() {
  sw_down "$1"
  sw_up "$1" && return 0
  log "$1: the switch did not start"
  return 1
}

run_switch() {
  local kind=$1 n rss0 rss1 f got left prev=
  log "== $kind"
  for n in "${SIZES[@]}"; do
    if [ -n "$prev" ]; then skip "$kind" "$prev" "add$n"; continue; fi
    sw_fresh "$kind" || { fail "$kind" "add$n" "ERROR: the switch did not start"; continue; }
    rss0=$(rss_kb "$SW_PID")
    f=$WORK/flows-$n.txt
    flows_file "$n" 4 "${PORTS[@]}" >"$f"
    add "$kind" "add$n" "$f" "$n" || { [ -n "${TO[$kind,add$n]:-}" ] && prev="$(commas "$n") timed out"; }
  done

  # The largest size, still installed: RSS, dump-flows, del-flows.
  if [ -n "${V[$kind,add$BIG]:-}" ]; then
    rss1=$(rss_kb "$SW_PID")
    if [[ ${rss0:-x} =~ ^[0-9]+$ && ${rss1:-x} =~ ^[0-9]+$ ]]; then
      V[$kind,rss]=$(( (rss1 - rss0) * 1024 / BIG ))
      TXT[$kind,rss]="$(commas "${V[$kind,rss]}") ($(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.1f -> %.1f MiB", a / 1024, b / 1024 }'))"
      log "$kind: RSS ${TXT[$kind,rss]}"
    else
      fail "$kind" rss "ERROR: no VmRSS for pid $SW_PID"
    fi
    log "$kind: dump-flows"
    step "$WORK/dump.txt" ovs-ofctl -O OpenFlow13 dump-flows "$TARGET"
    case $? in
    0)
      got=$(grep -c ' cookie=' "$WORK/dump.txt")
      if [ "$got" = "$BIG" ]; then
        V[$kind,dump]=$SECS; TXT[$kind,dump]="$(secs_cell "$SECS") ($(rate "$BIG" "$SECS") flows/s)"
        log "$kind: ${TXT[$kind,dump]}"
      else
        fail "$kind" dump "ERROR: $got lines, not $(commas "$BIG")"
      fi
      ;;
    124 | 137) timed_out "$kind" dump ;;
    *) fail "$kind" dump "ERROR: dump-flows: $(err_of "$WORK/dump.txt")" ;;
    esac
    rm -f "$WORK/dump.txt"
    left=$((BIG - M1))
    if del "$kind" del_match "table=1,dl_vlan=1" "$left"; then
      left=$((left - C2))
      del "$kind" del_cookie "cookie=0x2/-1" "$left" && del "$kind" del_all "" 0
    fi
    skip "$kind" "an earlier del-flows failed" del_cookie del_all
  else
    skip "$kind" "the $(commas "$BIG") flows did not install" dump del_match del_cookie del_all rss
  fi

  # The switch's own FLOW_MOD rate: BATCH FLOW_MODs per barrier.
  if sw_fresh "$kind"; then
    log "$kind: ofbench flow-mods, $(commas "$BIG") flows, $BATCH per barrier"
    step "$WORK/batch.json" "$OFBENCH" flow-mods --target "$TARGET" --table 1 --count "$BIG" \
      --batch "$BATCH" --flow "priority=100,dl_vlan=4000,dl_dst={mac},actions=pop_vlan,output:${PORTS[0]}" \
      --timeout "$LIMIT" --json
    case $? in
    0)
      if check_count "$kind" batch "$BIG"; then
        # ofbench's own timing: from the first FLOW_MOD to the last BARRIER_REPLY (not its
        # parsing of the flows, which comes before it connects).
        SECS=$(jq -r '.total_s * 1000 | round / 1000' "$WORK/batch.json")
        V[$kind,batch]=$SECS
        TXT[$kind,batch]="$(secs_cell "$SECS") ($(rate "$BIG" "$SECS") flows/s)"
        log "$kind: ${TXT[$kind,batch]}"
      fi
      ;;
    124 | 137) timed_out "$kind" batch ;;
    *) fail "$kind" batch "ERROR: ofbench: $(err_of "$WORK/batch.json")" ;;
    esac
  else
    fail "$kind" batch "ERROR: the switch did not start"
  fi

  # One switch, table 1+i filled with TABLE_SIZES[i] flows; then the one-at-a-time runs go
  # round the tables ROUNDS times, so that a slow spell of the machine hits every size alike.
  local loaded=() total=0 i t per r round_files
  prev=
  if sw_fresh "$kind"; then
    for i in "${!TABLE_SIZES[@]}"; do
      n=${TABLE_SIZES[$i]}; t=$((i + 1))
      if [ -n "$prev" ]; then skip "$kind" "$prev" "add1t$n" "pf$n"; continue; fi
      f=$WORK/flows1t-$n.txt
      flows_file "$n" 1 "${PORTS[@]}" | sed "s/,table=1,/,table=$t,/" >"$f"
      if add "$kind" "add1t$n" "$f" "$n" $((total + n)); then
        total=$((total + n)); loaded+=("$i")
      else
        [ -n "${TO[$kind,add1t$n]:-}" ] && prev="$(commas "$n") timed out"
        skip "$kind" "add-flows did not complete" "pf$n"
      fi
    done
  else
    for n in "${TABLE_SIZES[@]}"; do
      fail "$kind" "add1t$n" "ERROR: the switch did not start"
      skip "$kind" "the switch did not start" "pf$n"
    done
  fi
  per=$(( (PER_FLOW + ROUNDS - 1) / ROUNDS ))
  for r in $(seq 0 $((ROUNDS - 1))); do
    for i in "${loaded[@]}"; do
      n=${TABLE_SIZES[$i]}; t=$((i + 1))
      [ -n "${TXT[$kind,pf$n]:-}" ] && continue  # an earlier round failed
      log "$kind: ofbench flow-mods, round $((r + 1)): $per flows into table $t holding $(commas "$n")"
      step "$WORK/pf-$n-$r.json" "$OFBENCH" flow-mods --target "$TARGET" --table "$t" --count "$per" \
        --start $((r * per)) --flow "priority=1000,dl_vlan=4000,dl_dst={mac},actions=pop_vlan,output:${PORTS[0]}" \
        --timeout "$LIMIT" --json
      case $? in
      0) total=$((total + per)) ;;
      124 | 137) timed_out "$kind" "pf$n" ;;
      *) fail "$kind" "pf$n" "ERROR: ofbench: $(err_of "$WORK/pf-$n-$r.json")" ;;
      esac
    done
  done
  if [ ${#loaded[@]} -gt 0 ] && check_count "$kind" "pf${TABLE_SIZES[${loaded[0]}]}" "$total"; then
    for i in "${loaded[@]}"; do
      n=${TABLE_SIZES[$i]}
      [ -n "${TXT[$kind,pf$n]:-}" ] && continue
      round_files=("$WORK"/pf-"$n"-*.json)
      # Mean of the rounds' means, median of their medians, worst p99 and max.
      V[$kind,pf$n]=$(jq -s '[.[].mean_us] | add / length' "${round_files[@]}")
      TXT[$kind,pf$n]=$(jq -rs '[([.[].mean_us] | add / length), ([.[].p50_us] | sort | .[length / 2 | floor]),
          ([.[].p99_us] | max), ([.[].max_us] | max)] | @tsv' "${round_files[@]}" |
        awk '{ printf "%.1f (p50 %.1f, p99 %.1f, max %.1f)", $1, $2, $3, $4 }')
      log "$kind: ${TXT[$kind,pf$n]}"
    done
  fi
  sw_down "$kind"
  [ "$kind" = ovs ] && ovs_down
}

# ---- the run ----------------------------------------------------------------------------------

DATE=$(date -u +%Y-%m-%d)
MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), Linux $(uname -r), load average before the run $(cut -d' ' -f1-3 /proc/loadavg)"
log "machine: $MACHINE"
KINDS=(ofswitch ovs)
[ -n "$ONLY" ] && KINDS=("$ONLY")
for k in "${KINDS[@]}"; do run_switch "$k"; done

# ratio ROW: ofswitch / ovs, "> X" when ofswitch timed out, n/a without both figures.
ratio() {
  local a=${V[ofswitch,$1]:-} b=${V[ovs,$1]:-}
  if [ -n "${TO[ofswitch,$1]:-}" ] && [[ $1 != pf* ]] && [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$LIMIT" -v b="$b" 'BEGIN { printf "> %.1f", a / b }'
  elif [ -n "$a" ] && [ -n "$b" ] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
    awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
  else
    echo "n/a"
  fi
}
table() {
  echo "| measurement | ofswitch | Open vSwitch 3.1 userspace | ratio ofswitch / Open vSwitch |"
  echo "|---|---|---|---|"
  local r
  for r in "${ROWS[@]}"; do
    echo "| ${LABEL[$r]} | ${TXT[ofswitch,$r]:-not run} | ${TXT[ovs,$r]:-not run} | $(ratio "$r") |"
  done
}

TABLE=$(table)
cmd="scripts/bench-flows.sh"
[ "$SAVE" -eq 1 ] && cmd+=" --save"
[ "$PER_FLOW" != 2000 ] && cmd+=" --per-flow $PER_FLOW"
[ "$LIMIT" != 300 ] && cmd+=" --timeout $LIMIT"
[ "${SIZES[*]}" != "10000 100000" ] && cmd+=" --sizes $(tr ' ' , <<<"${SIZES[*]}")"
[ "${TABLE_SIZES[*]}" != "1000 100000" ] && cmd+=" --table-sizes $(tr ' ' , <<<"${TABLE_SIZES[*]}")"
[ -n "$ONLY" ] && cmd+=" --only $ONLY"
REPORT=$(cat <<EOF
Machine: $MACHINE. Date: $DATE. Command: \`$cmd\` (every step capped at $LIMIT s).

$TABLE

Everything goes through each switch's OpenFlow channel, as a controller's FLOW_MODs do: the
real \`ovs-ofctl -O OpenFlow13\` (3.1) against a passive \`ptcp:PORT:127.0.0.1\` target, timed
from start to exit (so each figure includes ovs-ofctl's own connection setup and parsing, the
same for both switches), and \`ofbench flow-mods\` for the one-at-a-time rows. ofswitch is
\`ofswitch daemon\` (release build) in a private state directory; Open vSwitch is 3.1 with
\`datapath_type=netdev\` (scripts/ovs-userspace.sh). Both bridges are fail-mode secure with 4
internal ports. The flows match dl_vlan and dl_dst (one match shape per table, 250 MACs per
VLAN, cookie = VLAN) with actions by table: 0 \`goto_table:1\`, 1 \`pop_vlan,output:P\`,
2 \`output:P\`, 3 \`mod_vlan_vid:V+1000,output:P\`. The add-flows rows start from an empty
switch; the dump-flows and del-flows rows run in this order on the $(commas "$BIG") flows; the
flow count is checked with \`dump-aggregate\` after every step. \`ovs-ofctl add-flows\` sends
a BARRIER_REQUEST after every FLOW_MOD and waits for its reply, so its rate is one loopback
round trip per flow for either switch; the batched row (\`ofbench flow-mods --batch\`, one
table, a fresh switch) shows the rate each switch itself takes FLOW_MODs at. For the
one-table rows one switch holds every size, each in its own table (table 1: the first size,
table 2: the second, added in that order); then \`ofbench flow-mods\` adds flows of the same
shape (VLAN 4000, new MACs) one FLOW_MOD and one BARRIER_REQUEST at a time, each waiting for
its BARRIER_REPLY, going round the tables $ROUNDS times so that a slow spell of the machine
hits every size alike: mean of the rounds' mean microseconds per flow, median of their
medians, the worst p99 and max; each table grows by $(commas "$PER_FLOW") during the run.
RSS is VmRSS of the ofswitch daemon or ovs-vswitchd: (with the flows - with none) / flows.
Ratios below 1 mean ofswitch is faster or smaller; "> X" means ofswitch hit the cap.
EOF
)

echo
echo "$REPORT"

if [ "$SAVE" -eq 1 ]; then
  SECTION=$(printf '## Flow tables through the daemon (`scripts/bench-flows.sh`)\n\n%s\n' "$REPORT")
  printf '%s\n' "$SECTION" | "$ROOT/scripts/save-bench-section.py" "$ROOT/BENCHMARKS.md" 'Flow tables through the daemon'
  echo
  echo "bench-flows: saved in BENCHMARKS.md (## Flow tables through the daemon)"
fi
