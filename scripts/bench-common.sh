# Helpers the bench scripts share (sourced by bench-datapath.sh, bench-flows.sh and
# bench-controller.sh; not a program of its own).

log() { echo "-- $*" >&2; }
commas() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }  # 1234567 -> 1,234,567

stop_pid() {  # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }  # rss_kb PID: VmRSS in KiB
