"""Mininet switch class backed by ofswitch: one `ofswitch daemon` per switch.

    mn --custom examples/mininet/ofswitch_mn.py --switch ofswitch \\
       --controller remote,ip=127.0.0.1,port=6653 --topo tree,depth=2,fanout=3 --wait

Each Mininet switch gets its own daemon and state directory, so the
switch's lifecycle is the daemon's. start(controllers) runs the daemon,
configures one bridge named like the switch in one vsctl transaction
(datapath id from Mininet's dpid, fail mode secure, every data interface
Mininet made (s1-eth1, ...) as a system port with ofport_request equal to
Mininet's port number), sets the bridge's internal port (the TAP s1) down,
as Open vSwitch's is under Mininet, and then sets the controllers (plus a
passive ptcp listener on 127.0.0.1 when Mininet gives the switch a listen
port). stop() deletes the bridge and ends the daemon (SIGTERM, then
SIGKILL), so `mn -c` is never needed. Separate daemons keep switches
independent: `switch s1 stop` in the CLI affects s1 only, and a switch that
fails takes none of the others with it; the cost is one process per switch.

`dpctl VERB [ARGS]` in the CLI runs `ofswitch ofctl VERB BRIDGE ARGS`
against the bridge's management socket (options such as `-O OpenFlow13`
are accepted anywhere, as with ovs-ofctl).

connected() (what `--wait` polls) is true once an active controller
connection completed its handshake and, in fail mode secure, the controller
has put its first flows in (some flows, and the same number 0.25 s later):
a `pingall` right after `--wait` then does not race them.

Settings (environment):
  OFSWITCH_BIN      the ofswitch binary (default: `ofswitch` on PATH, else
                    the newer of this repository's target/release and
                    target/debug builds)
  OFSWITCH_MN_DIR   a directory for the switches' state directories
                    (DIR/s1, ...), kept after stop() with each daemon's log;
                    by default each is a fresh temporary directory, removed
                    by stop()
  RUST_LOG          the daemons' log level (default info)

Switch parameters (`--switch ofswitch,failMode=standalone`):
  failMode   secure (default) or standalone
  protocols  accepted for OVSSwitch compatibility; ofswitch speaks OpenFlow13
  opts       extra `ofswitch daemon` options, e.g. "--forwarding-threads 2"

The daemons run in the switch's network namespace (`mnexec -a`, the root
one for Mininet's usual switches), in their own session, and get SIGTERM if
the Mininet process dies without stopping them.

A caution from running Mininet on shared machines: `mn -c`, which `mn` also
runs by itself when it fails, kills every `ping`, `mnexec` and `controller`
process on the machine, deletes every interface named like `foo-eth0` and
`/tmp/*.log`. This class never needs it; to contain it anyway run Mininet in
its own network, pid and mount namespaces (tests/mininet.rs does).
"""

import ctypes
import inspect
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from mininet.log import debug, error, warn
from mininet.node import Switch

# `mn --custom` execs this file without __file__; the code object knows it.
_HERE = os.path.dirname(os.path.abspath(inspect.currentframe().f_code.co_filename))
_REPO = os.path.dirname(os.path.dirname(_HERE))

# ofctl options that take a value (moved before the verb with it).
_OFCTL_VALUE_OPTS = ("-O", "--protocols", "-t", "--timeout")


def ofswitch_bin():
    """The ofswitch binary: $OFSWITCH_BIN, `ofswitch` on PATH, or the newer build here."""
    env = os.environ.get("OFSWITCH_BIN")
    if env:
        return env
    found = shutil.which("ofswitch")
    if found:
        return found
    builds = [os.path.join(_REPO, "target", profile, "ofswitch")
              for profile in ("release", "debug")]
    builds = [b for b in builds if os.access(b, os.X_OK)]
    if builds:  # the newer build: a stale release one must not win
        return max(builds, key=os.path.getmtime)
    raise Exception(
        "ofswitch binary not found: set OFSWITCH_BIN, put it on PATH, or "
        "build it (cargo build -p ofswitch) in " + _REPO
    )


def _die_with_parent():
    """In the daemon's child before exec: SIGTERM when Mininet's process dies."""
    PR_SET_PDEATHSIG = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


class OfSwitch(Switch):
    """An ofswitch daemon with one bridge named like the switch."""

    def __init__(self, name, failMode="secure", protocols=None, **params):
        Switch.__init__(self, name, **params)
        if failMode not in ("secure", "standalone"):
            raise Exception("%s: failMode must be secure or standalone" % name)
        if protocols and "OpenFlow13" not in protocols.split(","):
            raise Exception("%s: ofswitch speaks only OpenFlow13" % name)
        self.failMode = failMode
        self.bin = ofswitch_bin()
        self.daemon = None
        self.stateDir = None
        self.keepStateDir = False
        self.logFile = None

    @classmethod
    def setup(cls):
        ofswitch_bin()

    # --- the daemon and its CLI ---------------------------------------

    def ofswitch(self, *args, check=True):
        """Runs `ofswitch --state-dir DIR ARGS`; returns its output.
        The CLI talks to the daemon over unix sockets: it runs from any
        namespace."""
        cmd = [self.bin, "--state-dir", self.stateDir] + [str(a) for a in args]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, check=False)
        if check and p.returncode != 0:
            raise Exception("%s: %s failed: %s" % (self.name, " ".join(cmd),
                                                   p.stderr.strip()))
        return p.stdout

    def vsctl(self, *args, **kwargs):
        return self.ofswitch("vsctl", *args, **kwargs)

    def daemonLog(self):
        try:
            with open(os.path.join(self.stateDir, "daemon.log"),
                      errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def _makeStateDir(self):
        base = os.environ.get("OFSWITCH_MN_DIR")
        if base:
            self.stateDir = os.path.join(os.path.abspath(base), self.name)
            os.makedirs(self.stateDir, exist_ok=True)
            self.keepStateDir = True
            # start() configures everything afresh: no bridge from a run
            # that died without stop().
            try:
                os.unlink(os.path.join(self.stateDir, "conf.json"))
            except FileNotFoundError:
                pass
        else:
            self.stateDir = tempfile.mkdtemp(prefix="ofswitch-mn-%s-" % self.name)
            self.keepStateDir = False

    def _startDaemon(self):
        self._makeStateDir()
        self.logFile = open(os.path.join(self.stateDir, "daemon.log"), "ab")
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        argv = [self.bin, "--state-dir", self.stateDir, "daemon"]
        argv += self.opts.split()
        # Node.popen: `mnexec -da PID`, the switch's namespace, own session.
        self.daemon = self.popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=self.logFile, stderr=subprocess.STDOUT,
                                 env=env, preexec_fn=_die_with_parent)
        ctl = os.path.join(self.stateDir, "ofswitch.ctl")
        deadline = time.time() + 20
        while True:
            if self.daemon.poll() is not None:
                raise Exception("%s: ofswitch daemon exited (%s):\n%s" % (
                    self.name, self.daemon.returncode, self.daemonLog()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(ctl)
                break
            except OSError:
                if time.time() > deadline:
                    raise Exception("%s: ofswitch daemon does not answer on %s"
                                    % (self.name, ctl))
                time.sleep(0.05)
            finally:
                s.close()
        debug("%s: ofswitch daemon pid %d, state in %s\n"
              % (self.name, self.daemon.pid, self.stateDir))

    def _stopDaemon(self):
        if self.daemon is not None:
            if self.daemon.poll() is None:
                self.daemon.send_signal(signal.SIGTERM)
                try:
                    self.daemon.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.daemon.kill()
                    self.daemon.wait()
            self.daemon = None
        if self.logFile is not None:
            self.logFile.close()
            self.logFile = None
        if self.stateDir and not self.keepStateDir:
            shutil.rmtree(self.stateDir, ignore_errors=True)
        self.stateDir = None

    # --- Mininet's Switch interface -----------------------------------

    def start(self, controllers):
        """Runs the daemon, configures the bridge, then sets its controllers."""
        int(self.dpid, 16)  # Mininet's dpid is a hex string
        if self.daemon is not None:  # `switch s1 start` after a start
            self._stopDaemon()
        self._startDaemon()
        br = self.name
        args = ["--", "add-br", br,
                "--", "set", "bridge", br,
                "other_config:datapath-id=%s" % self.dpid,
                "fail_mode=%s" % self.failMode,
                "other_config:dp-desc=%s" % br]
        for intf in self.intfList():
            port = self.ports[intf]
            if port and not intf.IP():
                args += ["--", "add-port", br, intf.name,
                         "--", "set", "interface", intf.name,
                         "ofport_request=%d" % port]
        targets = ["%s:%s:%d" % (c.protocol, c.IP(), c.port) for c in controllers]
        if self.listenPort:
            targets.append("ptcp:%d:127.0.0.1" % self.listenPort)
        try:
            self.vsctl(*args)
            # The bridge's internal port (a TAP named like the bridge) goes
            # down, as Open vSwitch's is under Mininet: no IPv6 chatter from
            # it floods the topology or shows up in learned flows. Before
            # the controllers: they see it down from the start, not as a
            # PORT_STATUS in the middle of setting the switch up.
            self.cmd("ip link set dev %s down" % br)
            self._waitLinkDown(br)
            if targets:
                self.vsctl("set-controller", br, *targets)
        except Exception:
            self._stopDaemon()
            raise

    def _waitLinkDown(self, intf, timeout=3.0):
        """Waits until the daemon has seen `intf` go down (it looks every
        100 ms)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            state = self.vsctl("get", "interface", intf, "link_state", check=False)
            if state.strip().strip('"') == "down":
                return
            time.sleep(0.05)
        warn("%s: the daemon does not see %s down\n" % (self.name, intf))

    def stop(self, deleteIntfs=True):
        """Deletes the bridge, ends the daemon, removes its state directory."""
        if self.daemon is not None and self.daemon.poll() is None:
            try:
                self.vsctl("del-br", self.name, check=False)
            except OSError as e:
                warn("%s: del-br: %s\n" % (self.name, e))
        self._stopDaemon()
        super().stop(deleteIntfs)

    def terminate(self):
        self._stopDaemon()
        super().terminate()

    def _controllers(self):
        """(target, is_connected) of each controller of the bridge."""
        out = self.vsctl("list", "controller", check=False)
        rows, row = [], {}
        for line in out.splitlines() + [""]:
            if not line.strip():
                if row:
                    rows.append(row)
                row = {}
                continue
            key, _, value = line.partition(":")
            row[key.strip()] = value.strip().strip('"')
        return [(r.get("target", ""), r.get("is_connected") == "true")
                for r in rows]

    def _flowCount(self):
        flows = self.ofswitch("ofctl", "--no-names", "--no-stats",
                              "dump-flows", self.name, check=False)
        return flows.count("actions=")

    def connected(self):
        """An active controller finished its handshake and, when the bridge
        is secure, has put its flows in: there are flows, and as many of
        them 0.25 s later (a controller sends its first flows as a burst;
        `--wait` polls again if the count moved)."""
        if self.daemon is None or self.daemon.poll() is not None:
            return False
        if not any(up and not t.startswith("p") for t, up in self._controllers()):
            return self.failMode == "standalone"
        if self.failMode == "standalone":
            return True
        n = self._flowCount()
        if n == 0:
            return False
        time.sleep(0.25)
        return self._flowCount() == n

    def dpctl(self, *args):
        """`ofswitch ofctl VERB BRIDGE ARGS` (Mininet's `dpctl` command)."""
        if not args:
            return "usage: dpctl VERB [ARGS...]\n"
        if self.stateDir is None:
            return "%s is not running\n" % self.name
        opts, rest = [], []
        it = iter(args)
        for a in it:
            if a in _OFCTL_VALUE_OPTS:
                opts += [a, next(it, "")]
            elif a.startswith("-"):
                opts.append(a)
            else:
                rest.append(a)
        if not rest:
            return "usage: dpctl VERB [ARGS...]\n"
        if "--no-names" not in opts:
            opts.append("--names")  # as ovs-ofctl on Mininet's terminal
        cmd = [self.bin, "--state-dir", self.stateDir, "ofctl"] + opts
        cmd += [rest[0], self.name] + rest[1:]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, check=False)
        if p.returncode != 0:
            error("%s: dpctl failed: %s\n" % (self.name, p.stderr.strip()))
        return p.stdout + p.stderr


switches = {"ofswitch": OfSwitch}
