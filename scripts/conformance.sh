#!/usr/bin/env bash
# The Ryu/os-ken OpenFlow 1.3 switch conformance suite against ofswitch (issue 15).
#
# Usage, as root:  scripts/conformance.sh [--tester ovs|ofswitch] [--no-build] [--timeout SECS]
#                                         [CATEGORY...]
#   CATEGORY        action, match, group, meter (default: all four; 226, 714, 15 and 36 cases)
#   --tester ovs    the tester switch is Open vSwitch 3.1 in userspace (datapath_type=netdev,
#                   scripts/ovs-userspace.sh); the default, as in the published figures
#   --tester ofswitch  the tester switch is a second ofswitch daemon
#   --no-build      use target/release/ofswitch as it is (or $OFSWITCH)
#   --timeout SECS  give up on a tester that has not finished after SECS (default 5400)
#
# What it runs (everything in one network namespace of its own, cf<pid>, so its 127.0.0.1,
# its veths and the switches' TAPs collide with nothing else on the machine):
#   target  ofswitch daemon (own state dir), bridge "target", dpid 0x1, fail-mode secure
#   tester  Open vSwitch or ofswitch, bridge "tester", dpid 0x2, fail-mode secure
#   wiring  veth pairs: target port N (cf<pid>tN, ofport_request=N) <-> tester port N
#           (cf<pid>sN), N = 1, 2, 3; IPv6 off in the namespace (no router solicitations or
#           MLD reports from the kernel reach the switches), tx checksum offload off
#   app     osken-manager (os-ken 3.1.0 from .venv-faucet: os-ken 4.x has no manager) with
#           os_ken.tests.switch.tester on a free port of the namespace's 127.0.0.1; it is
#           started first (Open vSwitch retries a refused controller only every 1, 2, 4, 8 s)
# Both switches connect to the app; it installs flows (and groups, meters) on the target,
# sends packets from the tester switch and checks what comes back.
#
# Output: progress every minute, then the failing cases grouped by a normalized reason, the
# counts per category, where the logs are, and last one line "N passed, M failed".
# The logs stay in the directory it prints (tester.log is the app's whole log; also the
# switches' logs, summary.txt, and with --tester ovs ovs-coverage.txt: `ovs-appctl
# coverage/show` of the tester at the end, where datapath_drop_userspace_action_error counts
# the packet-ins Open vSwitch dropped).
# Exit status: 0 when the suite ran to its end (whatever it found), 1 when it could not run or
# did not finish, 2 for bad arguments. Cleanup (trap, also on failure or Ctrl-C) stops only the
# processes it started, by PID, and deletes its namespace with the veths in it.
# Time on 2 shared vCPUs: seconds for `action`, under a minute for `match`, about 6 minutes for
# `group` and 20 for `meter` (their throughput cases send for 30 s each): about 30 for all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

usage() { sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//'; }
bad() { echo "conformance: $*" >&2; exit 2; }
die() { echo "conformance: $*" >&2; exit 1; }

TESTER=ovs
BUILD=1
TIMEOUT=5400
CATS=()
while [ $# -gt 0 ]; do
  case $1 in
  --tester) [ $# -ge 2 ] || bad "--tester wants ovs or ofswitch"; TESTER=$2; shift ;;
  --tester=*) TESTER=${1#--tester=} ;;
  --no-build) BUILD=0 ;;
  --timeout) [ $# -ge 2 ] || bad "--timeout wants seconds"; TIMEOUT=$2; shift ;;
  --timeout=*) TIMEOUT=${1#--timeout=} ;;
  -h | --help) usage; exit 0 ;;
  action | match | group | meter)
    case " ${CATS[*]-} " in *" $1 "*) ;; *) CATS+=("$1") ;; esac ;;
  all) CATS=(action match group meter) ;;
  -*) bad "unknown option $1 (want --tester ovs|ofswitch, --no-build, --timeout SECS)" ;;
  *) bad "unknown category $1 (want action, match, group or meter)" ;;
  esac
  shift
done
case $TESTER in ovs | ofswitch) ;; *) bad "--tester wants ovs or ofswitch, not '$TESTER'" ;; esac
[[ $TIMEOUT =~ ^[0-9]+$ ]] && [ "$TIMEOUT" -gt 0 ] || bad "--timeout wants a positive number of seconds"
[ ${#CATS[@]} -gt 0 ] || CATS=(action match group meter)

[ "$(id -u)" -eq 0 ] || die "needs root (a network namespace, veth pairs)"
tools=(ip ethtool ss python3)
[ "$TESTER" = ovs ] && tools+=(ovs-vswitchd ovsdb-server ovsdb-tool ovs-vsctl ovs-appctl)
for t in "${tools[@]}"; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/install-deps.sh installs it)"
done

say() { echo "conformance: $*"; }

# --- what it needs: the switch, os-ken 3.1.0 with osken-manager --------------------------
VENV=${OFS_FAUCET_VENV:-$ROOT/.venv-faucet}
if [ ! -x "$VENV/bin/osken-manager" ]; then
  say "no $VENV/bin/osken-manager: running scripts/install-deps.sh"
  "$ROOT/scripts/install-deps.sh" >&2 || die "scripts/install-deps.sh failed"
  [ -x "$VENV/bin/osken-manager" ] || die "$VENV/bin/osken-manager is still missing"
fi
if [ -z "${OFSWITCH:-}" ]; then
  if [ "$BUILD" = 1 ]; then
    say "cargo build --release -p ofswitch"
    cargo build --release -q -p ofswitch || die "the build failed"
  fi
  OFSWITCH=$ROOT/target/release/ofswitch
fi
[ -x "$OFSWITCH" ] || die "no ofswitch binary at $OFSWITCH (drop --no-build)"
SUITE=$("$VENV/bin/python" -c 'import os, os_ken.tests.switch as t; print(os.path.dirname(t.__file__))')/of13
[ -d "$SUITE" ] || die "no test suite at $SUITE"
OSKEN_VERSION=$("$VENV/bin/python" -c 'import os_ken; print(os_ken.__version__)' 2>/dev/null || echo '?')

# --- names, state, cleanup ----------------------------------------------------------------
P=cf$$                                   # prefix of the namespace and the veths
NS=${P}ns
WORK=$(mktemp -d "/tmp/ofswitch-conformance-$TESTER.XXXXXX")
LOG=$WORK/tester.log
MGR_PID=
DAEMON_PIDS=()
SPAWNED=()                               # the `ip netns exec` wrappers (gone with their command)
OVS_DIR=
NS_MADE=0

# shellcheck source=scripts/bench-common.sh
. "$ROOT/scripts/bench-common.sh"       # stop_pid PID: TERM, up to 10 s, then KILL

cleanup() {
  local rc=$? pid pids
  set +e
  trap '' INT TERM                       # a second Ctrl-C must not cut the cleanup short
  [ -n "$MGR_PID" ] && stop_pid "$MGR_PID"
  for pid in "${DAEMON_PIDS[@]}"; do stop_pid "$pid"; done
  for pid in "${SPAWNED[@]}"; do stop_pid "$pid"; done
  if [ -n "$OVS_DIR" ]; then  # stops its daemons by their pid files; deletes the namespace
    save_ovs_coverage
    "$ROOT/scripts/ovs-userspace.sh" down "$OVS_DIR" >>"$WORK/ovs-userspace.out" 2>&1
  fi
  if [ "$NS_MADE" = 1 ] && [ -e "/run/netns/$NS" ]; then
    # Whatever still runs in the namespace is this run's (it made the namespace).
    pids=$(ip netns pids "$NS" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && { kill $pids 2>/dev/null; sleep 0.5; kill -9 $pids 2>/dev/null; }
    ip netns del "$NS" 2>/dev/null
  fi
  rm -f "$WORK"/*/ofswitch.ctl "$WORK"/*/*.mgmt
  return $rc
}
trap cleanup EXIT
trap 'echo "conformance: interrupted; logs in $WORK" >&2; exit 130' INT TERM

save_ovs_coverage() {  # the tester's coverage counters (packet-ins it dropped, among others)
  local pid
  [ -f "$OVS_DIR/ovs-vswitchd.pid" ] || return 0
  pid=$(cat "$OVS_DIR/ovs-vswitchd.pid")
  ovs-appctl -t "$OVS_DIR/ovs-vswitchd.$pid.ctl" coverage/show >"$WORK/ovs-coverage.txt" 2>&1 || true
}

# --- the namespace and the wires ------------------------------------------------------------
[ -e "/run/netns/$NS" ] && die "namespace $NS exists already (another run with pid $$?)"
NS_MADE=1
ip netns add "$NS"
inns() { ip netns exec "$NS" "$@"; }
# spawn VAR LOG CMD...: CMD in the namespace, in the background, stdout and stderr to LOG, its
# PID in VAR. `ip netns exec` forks (iproute2 6) and does not pass signals on, so the
# PID is the command's own, from the shell that execs it.
spawn() {
  local var=$1 log=$2 pidf
  shift 2
  pidf=$(mktemp "$WORK/.pid.XXXXXX")
  ip netns exec "$NS" sh -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" >"$log" 2>&1 </dev/null &
  SPAWNED+=($!)
  for _ in $(seq 100); do [ -s "$pidf" ] && break; sleep 0.02; done
  [ -s "$pidf" ] || die "could not start $1"
  printf -v "$var" '%s' "$(cat "$pidf")"
  rm -f "$pidf"
}
inns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$NS" link set lo up
for n in 1 2 3; do
  ip -n "$NS" link add "${P}t$n" type veth peer name "${P}s$n"
  for end in "${P}t$n" "${P}s$n"; do
    ip -n "$NS" link set "$end" up
    inns ethtool -K "$end" tx off >/dev/null 2>&1 || true
  done
done

# --- the app first, on a free port of the namespace's loopback ------------------------------
PORT=$(inns python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SUBSET=$SUITE
if [ ${#CATS[@]} -lt 4 ]; then  # the chosen categories as one directory, for one run of the app
  SUBSET=$WORK/of13
  mkdir -p "$SUBSET"
  for c in "${CATS[@]}"; do ln -s "$SUITE/$c" "$SUBSET/$c"; done
fi
say "ofswitch (target, dpid 0x1) against tester $TESTER (dpid 0x2); categories: ${CATS[*]}"
say "os-ken $OSKEN_VERSION osken-manager on 127.0.0.1:$PORT in namespace $NS; logs in $WORK"
spawn MGR_PID "$LOG" "$VENV/bin/osken-manager" --ofp-listen-host=127.0.0.1 \
  --ofp-tcp-listen-port="$PORT" --test-switch-dir="$SUBSET" os_ken.tests.switch.tester
for _ in $(seq 200); do
  inns ss -Hltn "sport = :$PORT" | grep -q . && break
  kill -0 "$MGR_PID" 2>/dev/null || die "osken-manager exited: $(tail -3 "$LOG")"
  sleep 0.1
done
inns ss -Hltn "sport = :$PORT" | grep -q . || die "osken-manager does not listen on $PORT (see $LOG)"

# --- the switches -----------------------------------------------------------------------------
ofswitch_bridge() {  # ofswitch_bridge NAME DPID PORTPREFIX: a daemon and its bridge, ports 1-3
  local name=$1 dpid=$2 pp=$3 dir=$WORK/$1 n
  mkdir -p "$dir"
  local pid
  spawn pid "$dir/stderr.log" "$OFSWITCH" --state-dir "$dir" daemon \
    --log-file "$dir/ofswitch.log"
  DAEMON_PIDS+=("$pid")
  for _ in $(seq 100); do [ -S "$dir/ofswitch.ctl" ] && break; sleep 0.05; done
  [ -S "$dir/ofswitch.ctl" ] || die "the $name ofswitch daemon did not start (see $dir/ofswitch.log)"
  ofs() { "$OFSWITCH" --state-dir "$dir" vsctl "$@"; }
  ofs add-br "$name" -- set bridge "$name" "other_config:datapath-id=$(printf '%016x' "$dpid")"
  ofs set-fail-mode "$name" secure
  for n in 1 2 3; do
    ofs add-port "$name" "$pp$n" -- set interface "$pp$n" "ofport_request=$n"
  done
  ofs set-controller "$name" "tcp:127.0.0.1:$PORT"
  say "$name: ofswitch daemon pid ${DAEMON_PIDS[-1]}, ports $pp{1,2,3} = 1,2,3, state in $dir"
}

ofswitch_bridge target 1 "${P}t"
if [ "$TESTER" = ofswitch ]; then
  ofswitch_bridge tester 2 "${P}s"
  TESTER_DESC="ofswitch ($("$OFSWITCH" --version 2>/dev/null || echo ofswitch))"
else
  OVS_DIR=$WORK/ovs
  OVS_NETNS=$NS DPID=2 "$ROOT/scripts/ovs-userspace.sh" up "$OVS_DIR" tester \
    >"$WORK/ovs-userspace.out" 2>&1 || die "Open vSwitch did not start: $(tail -2 "$WORK/ovs-userspace.out")"
  for n in 1 2 3; do
    ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=20 add-port tester "${P}s$n" \
      -- set interface "${P}s$n" "ofport_request=$n"
  done
  # The controller last: the app starts its first case as soon as both switches are there,
  # and a tester without its ports yet crashes it (KeyError in its port stats).
  "$ROOT/scripts/ovs-userspace.sh" controller "$OVS_DIR" tester "tcp:127.0.0.1:$PORT" \
    >>"$WORK/ovs-userspace.out" 2>&1 || die "could not point Open vSwitch at the app"
  TESTER_DESC="Open vSwitch $(ovs-vswitchd --version | awk 'NR==1 {print $NF}') userspace (netdev)"
  say "tester: $TESTER_DESC, ports ${P}s{1,2,3} = 1,2,3, in $OVS_DIR"
fi

# --- wait for the app's report ----------------------------------------------------------------
START=$(date +%s)
done_re='^OK\([0-9]+\) / ERROR\([0-9]+\)'
last=$START
finished=0
while :; do
  if grep -qE "$done_re" "$LOG"; then finished=1; break; fi
  kill -0 "$MGR_PID" 2>/dev/null || break
  # The app's test thread died (a traceback through it): nothing more will come.
  if grep -q 'in _test_sequential_execute' "$LOG"; then
    echo "conformance: the tester app crashed (traceback in $LOG)" >&2
    break
  fi
  now=$(date +%s)
  if [ $((now - START)) -ge "$TIMEOUT" ]; then
    echo "conformance: no report after $TIMEOUT s: stopping the tester" >&2
    break
  fi
  if [ $((now - last)) -ge 60 ]; then
    last=$now
    say "$(( (now - START) / 60 )) min: $(grep -cE ' (OK|ERROR)$' "$LOG" || true) cases done," \
      "$(grep -cE ' ERROR$' "$LOG" || true) failed; now: $(grep -E '^(action|match|group|meter): ' "$LOG" | tail -1)"
  fi
  sleep 2
done
# The app SIGTERMs itself after its report; give it a moment, then stop it.
for _ in $(seq 50); do kill -0 "$MGR_PID" 2>/dev/null || break; sleep 0.1; done
stop_pid "$MGR_PID"
MGR_PID=
ELAPSED=$(( $(date +%s) - START ))

# What the tester switch says about itself at the end.
if [ "$TESTER" = ovs ]; then
  save_ovs_coverage
else
  "$OFSWITCH" --state-dir "$WORK/tester" vsctl get bridge tester statistics \
    >"$WORK/tester-statistics.txt" 2>&1 || true
fi
"$OFSWITCH" --state-dir "$WORK/target" vsctl get bridge target statistics \
  >"$WORK/target-statistics.txt" 2>&1 || true

# --- the summary ----------------------------------------------------------------------------------
{
  echo "tester switch: $TESTER_DESC; target: $OFSWITCH (repo at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')); os-ken $OSKEN_VERSION"
  echo "categories: ${CATS[*]}; $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
  "$VENV/bin/python" - "$LOG" "${CATS[@]}" <<'PY'
import re, sys
from collections import OrderedDict

log, cats = sys.argv[1], sys.argv[2:]
try:
    from os_ken.ofproto import ofproto_v1_3 as o
except Exception:  # names are a nicety: numbers do too
    o = None

# OFPErrorMsg[type=0x02, code=0x04] -> BAD_ACTION/BAD_TYPE
CODE_PREFIX = {1: 'OFPBRC_', 2: 'OFPBAC_', 3: 'OFPBIC_', 4: 'OFPBMC_', 5: 'OFPFMFC_',
               6: 'OFPGMFC_', 7: 'OFPPMFC_', 8: 'OFPTMFC_', 9: 'OFPQOFC_', 10: 'OFPSCFC_',
               11: 'OFPRRFC_', 12: 'OFPMMFC_', 13: 'OFPTFFC_'}
def err_name(t, c):
    tn = cn = None
    if o is not None:
        for k, v in vars(o).items():
            if k.startswith('OFPET_') and v == t:
                tn = k[len('OFPET_'):]
            if t in CODE_PREFIX and k.startswith(CODE_PREFIX[t]) and v == c:
                cn = k[len(CODE_PREFIX[t]):]
    return '%s/%s' % (tn or 'type %d' % t, cn or 'code %d' % c)

def normalize(reason):
    """A key that groups cases failing the same way; the details stay per case."""
    m = re.match(r'(.*?): OFPErrorMsg\[type=0x([0-9a-f]+), code=0x([0-9a-f]+)\]', reason)
    if m:
        what = m.group(1)
        name = err_name(int(m.group(2), 16), int(m.group(3), 16))
        if what == 'Failed to add flows':
            return 'flow rejected: ' + name
        if what == 'Failed to add meters':
            return 'meter rejected: ' + name
        if what == 'Failed to add groups':
            return 'group rejected: ' + name
        return '%s: %s' % (what, name)
    m = re.match(r'Received incorrect (packet-in|packet): (.*)', reason)
    if m:  # ipv4(csum=123,proto=6) -> ipv4(csum,proto): which fields differ, not their values
        diff = re.sub(r"str\(.*\)$", 'payload', m.group(2))
        diff = re.sub(r"str\(b'.*?'\)", 'payload', diff)
        diff = re.sub(r"(\w+)=('[^']*'|\[[^\]]*\]|[^,()/]*)", r'\1', diff)
        # The first header that differs says what went wrong; the ones after it mostly
        # differ because it did (a wrong ethertype or ip_proto misparses the rest).
        parts = diff.split('/')
        key = parts[0] + (' ...' if len(parts) > 1 else '')
        return 'Received incorrect %s: %s' % (m.group(1), key)
    for prefix in ('Received unexpected throughput', 'Added incorrect flows to tester_sw',
                   'Added incorrect flows', 'Added incorrect meters', 'Added incorrect groups'):
        if reason.startswith(prefix):
            return prefix
    return reason

results = []          # (category, file, case, ok, reason)
cat = fdesc = None
lines = open(log, errors='replace').read().splitlines()
case_re = re.compile(r'^    (\S.*?)\s+(OK|ERROR)$')
for i, line in enumerate(lines):
    m = re.match(r'^(action|match|group|meter): (.*)$', line)
    if m:
        cat, fdesc = m.group(1), line
        continue
    m = case_re.match(line)
    if m and cat:
        ok = m.group(2) == 'OK'
        reason = ''
        if not ok and i + 1 < len(lines) and lines[i + 1].startswith('        '):
            reason = lines[i + 1].strip()
        results.append((cat, fdesc, m.group(1), ok, reason))

TOTAL = {'action': 226, 'match': 714, 'group': 15, 'meter': 36}
groups = OrderedDict()
for r in results:
    if not r[3]:
        groups.setdefault(normalize(r[4]), []).append(r)
if groups:
    print('failures by reason:')
    for key, rs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print('  %s (%d)' % (key, len(rs)))
        for c, f, case, _, reason in rs:
            detail = '' if reason == key else '  [%s]' % (reason if len(reason) < 160 else reason[:157] + '...')
            print('    %s / %s%s' % (f, case, detail))
print('per category:')
for c in cats:
    ok = sum(1 for r in results if r[0] == c and r[3])
    bad = sum(1 for r in results if r[0] == c and not r[3])
    miss = TOTAL[c] - ok - bad
    print('  %-7s %4d passed %4d failed%s' % (c, ok, bad, '  (%d not run)' % miss if miss > 0 else ''))
ok = sum(1 for r in results if r[3])
print('%d passed, %d failed' % (ok, len(results) - ok))
PY
} >"$WORK/summary.txt"
grep -v -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/summary.txt"
[ "$TESTER" = ovs ] && [ -f "$WORK/ovs-coverage.txt" ] &&
  echo "Open vSwitch tester: datapath_drop_userspace_action_error total $(awk '$1 == "datapath_drop_userspace_action_error" {print $NF}' "$WORK/ovs-coverage.txt" | grep . || echo 0) (packet-ins it dropped; ovs-appctl coverage/show in $WORK/ovs-coverage.txt)"
echo "tester log: $LOG (summary: $WORK/summary.txt)"
tail -1 "$WORK/summary.txt"
[ "$finished" = 1 ] || die "the tester did not finish (see $LOG)"
