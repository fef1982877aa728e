#!/usr/bin/env bash
# Controller benchmark (issue 13, speed): packet-ins answered per second, latency and memory of
#   ofcontroller   `ofcontroller run --listen tcp:127.0.0.1:PORT --threads 1` (release build, no
#                  policy: learning only, every port an access port of VLAN 1). One worker
#                  thread, as os-ken has one: the generator needs the other core, and with more
#                  runnable threads than cores a thread waits for a time slice (milliseconds,
#                  which is what the p99 rows would measure); --threads N changes it
#   os-ken         tests/osken/learning_switch.py through tests/osken/run_app.py, from the
#                  venv scripts/install-deps.sh makes ($OSKEN_VENV, default .venv)
# in one run, both driven by `ofbench cbench` (bench/src/cbench/): N emulated switches with M
# hosts each, W packet-ins in flight per switch, a packet-in answered by the first FLOW_MOD or
# PACKET_OUT naming its source MAC. ofcontroller gets what its switches send after table 0
# (802.1Q VLAN 1, table 1); os-ken what a one-table switch sends (untagged, table 0).
# Rows:
#   packet-ins/s      answered per second with the window full (--duration s after 1 s warm-up)
#   p50 / p99         latency of those, packet-in written to answer read (µs)
#   p99 at half load  the generator paced (--rate, evenly) to half the rate just measured; the
#                     median of --runs runs, each run's figure beside it
#   p99 at 150,000/s  the same at half the issue's 300,000/s target (ofcontroller only)
#   p99 at half load, generator alone
#                     the same rate against `ofbench echo-controller` (answers each packet-in
#                     with a PACKET_OUT, nothing else): what the generator and the shared machine
#                     add by themselves; the controller's own share is the difference
#   RSS               VmRSS of a fresh controller before any switch connected, then after
#                     --macs distinct MACs were learned (--macs/N hosts per switch, each sends
#                     once, connections still open): bytes per MAC (an upper bound: it includes
#                     the N switch sessions)
# and the ratio ofcontroller / os-ken (above 1 for packet-ins/s: ofcontroller is faster).
#
# Usage:  scripts/bench-controller.sh [--save] [--switches N] [--hosts M] [--window W]
#                                     [--duration SECS] [--macs COUNT] [--only ofcontroller|osken]
#                                     [--threads N] [--runs N]
#   defaults: 16 switches, 100 hosts, window 64 (cbench's usual), 5 s, 100000 MACs, ofcontroller
#   with 1 worker thread, 3 runs of each paced measurement (the median p99 is reported)
#   --save   also write the table into BENCHMARKS.md under "## Controller" (replaced); only
#            with the defaults and both controllers
# Every process it starts is stopped by its PID on exit (trap), also on failure or Ctrl-C. The
# generator (one event-loop thread for all switches, bench/src/cbench/load.rs) shares the
# machine's cores with the controller: only ratios from one run mean much. The table records
# the load average before the run: above 0.5 or so, other work was running on the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SAVE=0 SWITCHES=16 HOSTS=100 WINDOW=64 DURATION=5 MACS=100000 ONLY= THREADS=1 RUNS=3
while [ $# -gt 0 ]; do
  case $1 in
  --save) SAVE=1 ;;
  --switches) SWITCHES=${2:?--switches N}; shift ;;
  --hosts) HOSTS=${2:?--hosts M}; shift ;;
  --window) WINDOW=${2:?--window W}; shift ;;
  --duration) DURATION=${2:?--duration SECS}; shift ;;
  --macs) MACS=${2:?--macs COUNT}; shift ;;
  --only) ONLY=${2:?--only ofcontroller|osken}; shift ;;
  --threads) THREADS=${2:?--threads N}; shift ;;
  --runs) RUNS=${2:?--runs N}; shift ;;
  -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
  *) echo "bench-controller: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
die() { echo "bench-controller: $*" >&2; exit 2; }
for v in SWITCHES HOSTS WINDOW DURATION MACS THREADS RUNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "--${v,,} wants a whole number above 0"
done
case $ONLY in '' | ofcontroller | osken) ;; *) die "--only wants ofcontroller or osken" ;; esac
if [ "$SAVE" -eq 1 ]; then
  [ -z "$ONLY" ] && [ "$SWITCHES/$HOSTS/$WINDOW/$DURATION/$MACS/$THREADS/$RUNS" = "16/100/64/5/100000/1/3" ] ||
    die "--save wants the defaults and both controllers"
fi
OSKEN_VENV=${OSKEN_VENV:-$ROOT/.venv}
PY=$OSKEN_VENV/bin/python
KINDS=(ofcontroller osken)
[ -n "$ONLY" ] && KINDS=("$ONLY")
for tool in jq ss awk; do
  command -v "$tool" >/dev/null || { echo "bench-controller: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
if [[ " ${KINDS[*]} " == *" osken "* ]]; then
  "$PY" -c 'import os_ken' 2>/dev/null ||
    { echo "bench-controller: no os-ken in $OSKEN_VENV (scripts/install-deps.sh, or set OSKEN_VENV)" >&2; exit 1; }
fi

LOAD0=$(cut -d' ' -f1 /proc/loadavg)  # before our own build adds to it
echo "== cargo build --release -p ofcontroller -p ofbench" >&2
cargo build --release -p ofcontroller -p ofbench >&2 || { echo "bench-controller: build failed" >&2; exit 1; }
OFCTL=$ROOT/target/release/ofcontroller
OFBENCH=$ROOT/target/release/ofbench

WORK=$(mktemp -d "/tmp/ofcontroller-bench.XXXXXX")
CTL_PID=     # the controller running now
GEN_PID=     # a background ofbench
ECHO_PID=    # ofbench echo-controller

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"
cleanup() {
  set +e
  [ -n "$GEN_PID" ] && stop_pid "$GEN_PID"
  [ -n "$ECHO_PID" ] && stop_pid "$ECHO_PID"
  [ -n "$CTL_PID" ] && stop_pid "$CTL_PID"
  GEN_PID= CTL_PID= ECHO_PID=
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port on 127.0.0.1 nobody listens on, below the ephemeral range.
free_port() {
  local lo p i
  lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  for i in $(seq 0 999); do
    p=$((10000 + ($$ * 7 + i * 131) % (lo - 10000)))
    [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
  done
  return 1
}

# start KIND: the controller on a fresh port, waits until it listens; sets CTL_PID and PORT.
start() {
  local kind=$1
  PORT=$(free_port) || die "no free TCP port"
  case $kind in
  ofcontroller)
    RUST_LOG=warn "$OFCTL" run --listen "tcp:127.0.0.1:$PORT" --threads "$THREADS" \
      --control "$WORK/ofcontroller.ctl" 2>>"$WORK/$kind.log" &
    ;;
  osken)
    OSKEN_EVENTS=/dev/null "$PY" "$ROOT/tests/osken/run_app.py" "$PORT" \
      "$ROOT/tests/osken/learning_switch.py" >>"$WORK/$kind.log" 2>&1 &
    ;;
  esac
  CTL_PID=$!
  for _ in $(seq 300); do
    [ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ] && return 0
    kill -0 "$CTL_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench-controller: $kind did not listen on $PORT:" >&2
  tail -5 "$WORK/$kind.log" >&2
  exit 1
}
stop() { stop_pid "$CTL_PID"; CTL_PID=; }

# What each controller's switches send on a table miss.
gen_args() {
  case $1 in
  ofcontroller) echo "--vlan 1 --table 1" ;;
  osken) echo "--vlan 0 --table 0" ;;
  esac
}

declare -A V TXT
# paced KIND ROW PORT RATE GEN_ARGS...: cbench paced to RATE against PORT, RUNS times (the tail
# of one 5 s run on a shared 2-core machine swings by a factor of 3 or more between runs); sets
# V[KIND,ROW] to the median p99 and TXT[KIND,ROW] to it with every run's p99.
paced() {
  local kind=$1 row=$2 port=$3 rate=$4 i p99s=() err=
  shift 4
  log "$kind: $row: paced to $rate/s, $RUNS runs"
  for i in $(seq "$RUNS"); do
    if "$OFBENCH" cbench --controller "tcp:127.0.0.1:$port" --switches "$SWITCHES" --hosts "$HOSTS" \
      --window "$WINDOW" --duration "$DURATION" --rate "$rate" --json "$@" \
      >"$WORK/$row.json" 2>"$WORK/$row.err"; then
      p99s+=("$(jq -r .latency.p99_us "$WORK/$row.json")")
      log "$kind: $row: $(cat "$WORK/$row.json")"
    else
      err="ERROR: $(tail -1 "$WORK/$row.err")"
    fi
  done
  if [ ${#p99s[@]} -eq 0 ]; then TXT[$kind,$row]=$err; return; fi
  V[$kind,$row]=$(printf '%s\n' "${p99s[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  TXT[$kind,$row]="${V[$kind,$row]} µs at $(commas "$rate")/s (runs: $(printf '%s, ' "${p99s[@]}" | sed 's/, $//'))"
}

for kind in "${KINDS[@]}"; do
  # shellcheck disable=SC2046
  set -- $(gen_args "$kind")
  start "$kind"
  log "$kind: full window ($SWITCHES switches x $HOSTS hosts, window $WINDOW, $DURATION s)"
  if "$OFBENCH" cbench --controller "tcp:127.0.0.1:$PORT" --switches "$SWITCHES" --hosts "$HOSTS" \
    --window "$WINDOW" --duration "$DURATION" --json "$@" >"$WORK/full.json" 2>"$WORK/full.err"; then
    V[$kind,rate]=$(jq -r .per_s "$WORK/full.json")
    V[$kind,p50]=$(jq -r .latency.p50_us "$WORK/full.json")
    V[$kind,p99]=$(jq -r .latency.p99_us "$WORK/full.json")
    log "$kind: $(cat "$WORK/full.json")"
    half=$(awk -v r="${V[$kind,rate]}" 'BEGIN { printf "%d", r / 2 }')
    paced "$kind" half "$PORT" "$half" "$@"
    # 150,000/s: half the issue's 300,000/s (os-ken is far from it).
    [ "$kind" = ofcontroller ] && paced "$kind" target "$PORT" 150000 "$@"
    # The same rates against a responder that does nothing: the generator and the machine alone.
    stop
    EPORT=$(free_port) || die "no free TCP port"
    "$OFBENCH" echo-controller --listen "tcp:127.0.0.1:$EPORT" 2>>"$WORK/echo.log" &
    ECHO_PID=$!
    for _ in $(seq 100); do [ -n "$(ss -Htln "sport = :$EPORT" 2>/dev/null)" ] && break; sleep 0.1; done
    paced "$kind" echo "$EPORT" "$half" "$@"
    [ "$kind" = ofcontroller ] && paced "$kind" echotarget "$EPORT" 150000 "$@"
    stop_pid "$ECHO_PID"; ECHO_PID=
  else
    TXT[$kind,rate]="ERROR: $(tail -1 "$WORK/full.err")"
  fi
  [ -n "$CTL_PID" ] && stop

  # Memory: a fresh controller, then MACS distinct MACs, each sent once.
  start "$kind"
  sleep 1
  rss0=$(rss_kb "$CTL_PID")
  per=$(( (MACS + SWITCHES - 1) / SWITCHES ))
  log "$kind: learning $SWITCHES x $per MACs (RSS before: $rss0 KiB)"
  w=$WINDOW; [ "$w" -gt "$per" ] && w=$per
  # A file of this controller's own (the background redirect may come after the first check).
  rm -f "$WORK/mem-$kind.json"
  "$OFBENCH" cbench --controller "tcp:127.0.0.1:$PORT" --switches "$SWITCHES" --hosts "$per" \
    --window "$w" --count "$per" --hold 30 --timeout 30 --json "$@" >"$WORK/mem-$kind.json" 2>"$WORK/mem-$kind.err" &
  GEN_PID=$!
  # The report is printed once every packet-in was answered; the connections stay open.
  # (-s first: some jq versions exit 0 on an empty file)
  got() { [ -s "$WORK/mem-$kind.json" ] && jq -e .answered "$WORK/mem-$kind.json" >/dev/null 2>&1; }
  while kill -0 "$GEN_PID" 2>/dev/null && ! got; do sleep 0.2; done
  if got; then
    sleep 1
    rss1=$(rss_kb "$CTL_PID")
    learned=$(jq -r .answered "$WORK/mem-$kind.json")
    V[$kind,rss]=$(awk -v a="$rss0" -v b="$rss1" -v n="$learned" 'BEGIN { printf "%d", (b - a) * 1024 / n }')
    TXT[$kind,rss]="$(commas "${V[$kind,rss]}") B/MAC ($(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.1f -> %.1f MiB", a / 1024, b / 1024 }'), $(commas "$learned") MACs)"
    log "$kind: ${TXT[$kind,rss]}"
  else
    wait "$GEN_PID"; rc=$?
    TXT[$kind,rss]="ERROR: ofbench exited with $rc: $(grep -v '^$' "$WORK/mem-$kind.err" | tail -1)"
  fi
  stop_pid "$GEN_PID"; GEN_PID=
  stop
done

cell() {  # cell KIND ROW FORMAT
  if [ -n "${TXT[$1,$2]:-}" ]; then echo "${TXT[$1,$2]}"
  elif [ -n "${V[$1,$2]:-}" ]; then printf "$3" "${V[$1,$2]}"
  else echo "-"; fi
}
ratio() {
  local a=${V[ofcontroller,$1]:-} b=${V[osken,$1]:-}
  [ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.3g", a / b; else print "-" }' || echo "-"
}
V[ofcontroller,ratecell]=$(commas "${V[ofcontroller,rate]:-0}") V[osken,ratecell]=$(commas "${V[osken,rate]:-0}")
for k in ofcontroller osken; do
  [ -n "${V[$k,rate]:-}" ] && [ -z "${TXT[$k,rate]:-}" ] && TXT[$k,rate]="${V[$k,ratecell]}/s"
done
{
  echo "## Controller: packet-ins (\`scripts/bench-controller.sh\`)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores shared by the controller and \`ofbench cbench\`"
  echo "(load average $LOAD0 before the run$(awk -v l="$LOAD0" 'BEGIN { if (l > 0.5) print ": other work was running on the machine" }'));"
  echo "$SWITCHES switches x $HOSTS hosts, window $WINDOW per switch, $DURATION s measured; ofcontroller"
  echo "with --threads $THREADS."
  echo
  echo "| | ofcontroller | os-ken learning_switch.py | ofcontroller / os-ken |"
  echo "|---|---|---|---|"
  echo "| packet-ins/s, full window | $(cell ofcontroller rate '%s') | $(cell osken rate '%s') | $(ratio rate) |"
  echo "| p50 latency, full window | $(cell ofcontroller p50 '%s µs') | $(cell osken p50 '%s µs') | $(ratio p50) |"
  echo "| p99 latency, full window | $(cell ofcontroller p99 '%s µs') | $(cell osken p99 '%s µs') | $(ratio p99) |"
  echo "| p99 latency, half that rate (median of $RUNS runs) | $(cell ofcontroller half '%s') | $(cell osken half '%s') | $(ratio half) |"
  echo "| the same, generator alone (echo-controller) | $(cell ofcontroller echo '%s') | $(cell osken echo '%s') | $(ratio echo) |"
  echo "| p99 latency at 150,000/s (median of $RUNS runs) | $(cell ofcontroller target '%s') | - | - |"
  echo "| the same, generator alone (echo-controller) | $(cell ofcontroller echotarget '%s') | - | - |"
  echo "| RSS per learned MAC ($(commas "$MACS")) | $(cell ofcontroller rss '%s') | $(cell osken rss '%s') | $(ratio rss) |"
  echo
  echo "Answered: the first FLOW_MOD or PACKET_OUT naming the packet-in's source MAC (bench/src/cbench/)."
  echo "ofcontroller answers each packet-in with two FLOW_MODs (eth_src, eth_dst); os-ken with a PACKET_OUT"
  echo "(flood) or a FLOW_MOD + PACKET_OUT once the destination is known. os-ken runs at 100% of one core"
  echo '(its Python handler is the limit). `ofbench cbench` serves all its switches from one event-loop'
  echo 'thread and paces --rate evenly; the "generator alone" row is that load against a responder that'
  echo "does nothing (\`ofbench echo-controller\`): what the generator and the machine add by themselves."
  echo
  echo "The targets (issue 13): at least 300,000 packet-ins/s, and a p99 under 1 ms at half that load."
  echo "The 150,000/s rows are half the 300,000/s; \"half that rate\" is half of what this run measured,"
  echo "where the generator and the machine alone (echo-controller) already take about as much. One"
  echo "paced run's p99 swings by 3x or more from run to run here (other work shares the 2 cores), hence"
  echo "the median of several."
} >"$WORK/table.md"
cat "$WORK/table.md"
if [ "$SAVE" -eq 1 ]; then
  python3 "$ROOT/scripts/save-bench-section.py" "$ROOT/BENCHMARKS.md" "Controller: packet-ins" <"$WORK/table.md" &&
    log "saved to BENCHMARKS.md"
fi
