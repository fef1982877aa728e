#!/usr/bin/env python3
"""ofcapture.py: capture real OpenFlow 1.3 bytes from Open vSwitch and ovs-ofctl.

Python 3 standard library only. Run by scripts/capture-fixtures.sh, which has
already started a private userspace Open vSwitch (bridge with a passive
ptcp:OFCTL_PORT:127.0.0.1 listener) and two netns hosts on OpenFlow ports 1
and 2. This script then plays two roles at once:

 (a) a fake controller: it listens on a free 127.0.0.1 port, points the
     bridge at it (`ovs-userspace.sh controller`), answers OVS's HELLO, sends
     requests (features, multipart, config, role, async, echo, barrier, bad
     messages) and records every message OVS sends, verbatim, including the
     asynchronous PACKET_IN / FLOW_REMOVED / PORT_STATUS caused by real
     traffic and port changes;
 (b) a transparent logging TCP proxy between ovs-ofctl and OVS's passive
     listener: every ovs-ofctl command below runs against
     tcp:127.0.0.1:PROXY_PORT, so ovs-ofctl talks to the real switch (its
     FLOW_MODs really install flows, its dump-flows really prints) while the
     proxy frames and records the bytes in both directions.

Each fixture is written as one OpenFlow message per file in lowercase hex,
first line `# captured: ...` (how, the exact command, versions, date).

Usage (see capture-fixtures.sh):
  ofcapture.py --ovs-dir DIR --bridge BR --recipe RECIPE --ofctl-port P
               --hosts NS1,NS2 --ips IP1,IP2 --spare-host NS3 --flows FLOWS.txt
               --out OUTDIR
"""

import argparse
import datetime
import os
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time

# ---------------------------------------------------------------- constants
OFP_VERSION = 4
T = dict(
    HELLO=0, ERROR=1, ECHO_REQUEST=2, ECHO_REPLY=3, EXPERIMENTER=4,
    FEATURES_REQUEST=5, FEATURES_REPLY=6, GET_CONFIG_REQUEST=7,
    GET_CONFIG_REPLY=8, SET_CONFIG=9, PACKET_IN=10, FLOW_REMOVED=11,
    PORT_STATUS=12, PACKET_OUT=13, FLOW_MOD=14, GROUP_MOD=15, PORT_MOD=16,
    TABLE_MOD=17, MULTIPART_REQUEST=18, MULTIPART_REPLY=19,
    BARRIER_REQUEST=20, BARRIER_REPLY=21, QUEUE_GET_CONFIG_REQUEST=22,
    QUEUE_GET_CONFIG_REPLY=23, ROLE_REQUEST=24, ROLE_REPLY=25,
    GET_ASYNC_REQUEST=26, GET_ASYNC_REPLY=27, SET_ASYNC=28, METER_MOD=29,
)
TNAME = {v: k for k, v in T.items()}
MP = dict(
    DESC=0, FLOW=1, AGGREGATE=2, TABLE=3, PORT_STATS=4, QUEUE=5, GROUP=6,
    GROUP_DESC=7, GROUP_FEATURES=8, METER=9, METER_CONFIG=10,
    METER_FEATURES=11, TABLE_FEATURES=12, PORT_DESC=13,
)
MPNAME = {v: k for k, v in MP.items()}
ERRTYPE = {
    0: "OFPET_HELLO_FAILED", 1: "OFPET_BAD_REQUEST", 2: "OFPET_BAD_ACTION",
    3: "OFPET_BAD_INSTRUCTION", 4: "OFPET_BAD_MATCH",
    5: "OFPET_FLOW_MOD_FAILED", 6: "OFPET_GROUP_MOD_FAILED",
    7: "OFPET_PORT_MOD_FAILED", 8: "OFPET_TABLE_MOD_FAILED",
    9: "OFPET_QUEUE_OP_FAILED", 10: "OFPET_SWITCH_CONFIG_FAILED",
    11: "OFPET_ROLE_REQUEST_FAILED", 12: "OFPET_METER_MOD_FAILED",
    13: "OFPET_TABLE_FEATURES_FAILED", 0xffff: "OFPET_EXPERIMENTER",
}
OFPP_ANY = 0xFFFFFFFF
OFPG_ANY = 0xFFFFFFFF
OFPG_ALL = 0xFFFFFFFC
OFPM_ALL = 0xFFFFFFFF
OFPQ_ALL = 0xFFFFFFFF
OFPTT_ALL = 0xFF
REPLY_MORE = 1


def log(*a):
    print("ofcapture:", *a, file=sys.stderr, flush=True)


def msg(t, body=b"", xid=0, version=OFP_VERSION):
    return struct.pack("!BBHI", version, t, 8 + len(body), xid) + body


def mtype(m):
    return m[1]


def xid_of(m):
    return struct.unpack_from("!I", m, 4)[0]


def mp_type(m):
    return struct.unpack_from("!H", m, 8)[0]


def mp_flags(m):
    return struct.unpack_from("!H", m, 10)[0]


def packet_in_ethertype(m):
    """The EtherType of the frame carried by a PACKET_IN."""
    (match_len,) = struct.unpack_from("!H", m, 26)
    data = 24 + (match_len + 7) // 8 * 8 + 2
    return struct.unpack_from("!H", m, data + 12)[0] if len(m) >= data + 14 else None


def describe(m):
    """One-line description of a message, for the fixture comments."""
    t = mtype(m)
    s = TNAME.get(t, "type %d" % t)
    if t in (T["MULTIPART_REQUEST"], T["MULTIPART_REPLY"]):
        s += "(%s%s)" % (MPNAME.get(mp_type(m), mp_type(m)),
                         ", REPLY_MORE" if mp_flags(m) & REPLY_MORE else "")
    elif t == T["ERROR"]:
        et, ec = struct.unpack_from("!HH", m, 8)
        s += "(%s, code %d)" % (ERRTYPE.get(et, et), ec)
    elif t == T["PACKET_IN"]:
        reason = m[8 + 4 + 2]
        s += "(reason %s)" % {0: "NO_MATCH", 1: "ACTION", 2: "INVALID_TTL"}.get(reason, reason)
    elif t == T["FLOW_REMOVED"]:
        reason = m[8 + 8 + 2]
        s += "(reason %s)" % {0: "IDLE_TIMEOUT", 1: "HARD_TIMEOUT", 2: "DELETE",
                              3: "GROUP_DELETE"}.get(reason, reason)
    elif t == T["PORT_STATUS"]:
        s += "(reason %s)" % {0: "ADD", 1: "DELETE", 2: "MODIFY"}.get(m[8], m[8])
    return s + " len=%d" % len(m)


# ------------------------------------------------------------ framing helpers
def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def read_msg(sock):
    h = read_exact(sock, 8)
    (length,) = struct.unpack_from("!H", h, 2)
    if length < 8:
        raise ValueError("bad OpenFlow length %d" % length)
    return h + read_exact(sock, length - 8)


class Framer:
    """Cuts a byte stream into OpenFlow messages."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 8:
            (length,) = struct.unpack_from("!H", self.buf, 2)
            if length < 8 or len(self.buf) < length:
                break
            out.append(self.buf[:length])
            self.buf = self.buf[length:]
        return out


# ------------------------------------------------------------ fake controller
class Controller:
    """Accepts OVS's active connection; records everything OVS sends."""

    def __init__(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(4)
        self.port = self.lsock.getsockname()[1]
        self.sock = None
        self.msgs = []
        self.closed = False
        self.cv = threading.Condition()
        self.wlock = threading.Lock()
        self._xid = 0x1000

    def accept(self, timeout=30):
        self.lsock.settimeout(timeout)
        self.sock, peer = self.lsock.accept()
        self.sock.settimeout(None)
        log("OVS connected to the fake controller from %s:%d" % peer)
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            try:
                m = read_msg(self.sock)
            except (EOFError, OSError, ValueError):
                break
            if mtype(m) == T["ECHO_REQUEST"]:  # keep OVS's inactivity probe happy
                self.send(bytes([m[0], T["ECHO_REPLY"]]) + m[2:])
            with self.cv:
                self.msgs.append(m)
                self.cv.notify_all()
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def send(self, data):
        with self.wlock:
            self.sock.sendall(data)

    def xid(self):
        self._xid += 1
        return self._xid

    def mark(self):
        with self.cv:
            return len(self.msgs)

    def wait(self, pred, start=0, timeout=10.0, what="message"):
        """First message at index >= start for which pred(m) holds."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for i in range(start, len(self.msgs)):
                    if pred(self.msgs[i]):
                        return i, self.msgs[i]
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError("no %s from OVS within %.0f s" % (what, timeout))
                self.cv.wait(left)

    def transact(self, t, body=b"", version=OFP_VERSION, timeout=15.0):
        """Sends one message followed by a BARRIER_REQUEST; returns every
        message OVS sent with the first message's xid before the barrier
        reply (all parts of a multipart reply, an error, or nothing)."""
        start = self.mark()
        x, b = self.xid(), self.xid()
        self.send(msg(t, body, x, version) + msg(T["BARRIER_REQUEST"], b"", b))
        i, _ = self.wait(lambda m: mtype(m) == T["BARRIER_REPLY"] and xid_of(m) == b,
                         start, timeout, "BARRIER_REPLY")
        with self.cv:
            return [m for m in self.msgs[start:i] if xid_of(m) == x]

    def multipart(self, mp, body=b""):
        return self.transact(T["MULTIPART_REQUEST"], struct.pack("!HH4x", mp, 0) + body)


# ------------------------------------------------------------ logging proxy
class ProxyConn:
    def __init__(self):
        self.c2s = []  # messages ovs-ofctl sent
        self.s2c = []  # messages OVS sent back
        self.done = threading.Event()
        self._halves = 2
        self._lock = threading.Lock()

    def half_done(self):
        with self._lock:
            self._halves -= 1
            if self._halves == 0:
                self.done.set()


class Proxy:
    """Transparent TCP proxy 127.0.0.1:port -> 127.0.0.1:upstream that frames
    and records the OpenFlow messages in each direction."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                client, _ = self.lsock.accept()
            except OSError:
                return
            conn = ProxyConn()
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
                up.settimeout(None)
            except OSError as e:
                log("proxy: cannot reach OVS on port %d: %s" % (self.upstream, e))
                client.close()
                conn.done.set()
                continue
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._pump, args=(client, up, conn.c2s, conn),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(up, client, conn.s2c, conn),
                             daemon=True).start()

    @staticmethod
    def _pump(src, dst, record, conn):
        fr = Framer()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                record.extend(fr.feed(data))
                dst.sendall(data)
        except OSError:
            pass
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass
        conn.half_done()

    def count(self):
        with self.lock:
            return len(self.conns)


# ------------------------------------------------------------ the capture run
class Capture:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(os.path.join(self.out, "flows", "flow_mod"), exist_ok=True)
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.v_switch = self.version("ovs-vswitchd")
        self.v_ofctl = self.version("ovs-ofctl")
        self.ctl = Controller()
        self.proxy = Proxy(a.ofctl_port)
        self.written = []

    @staticmethod
    def version(prog):
        return subprocess.run([prog, "--version"], capture_output=True, text=True,
                              check=True).stdout.splitlines()[0].strip()

    # ---- output
    def save(self, rel, msgs, how, notes=(), ofctl=False):
        """Writes one message (or, for dump_flows, several: one per line)."""
        if not msgs:
            raise RuntimeError("no message captured for " + rel)
        path = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        versions = "%s, %s" % (self.v_ofctl, self.v_switch) if ofctl else self.v_switch
        lines = ["# captured: %s; %s; %s" % (how, versions, self.date)]
        for m in msgs:
            lines.append("# message: %s" % describe(m))
        lines.extend("# " + n for n in notes)
        if len(msgs) == 1:
            h = msgs[0].hex()
            lines.extend(h[i:i + 64] for i in range(0, len(h), 64))
        else:
            lines.extend(m.hex() for m in msgs)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.written.append(rel)
        log("wrote %-45s %s" % (rel, "; ".join(describe(m) for m in msgs)[:110]))

    def ctl_how(self, what):
        return ("OVS -> controller: %s, recorded by scripts/ofcapture.py acting as the "
                "controller tcp:127.0.0.1:%d of bridge %s (datapath_type=netdev)"
                % (what, self.ctl.port, self.a.bridge))

    def save_reply(self, name, replies, what):
        if not replies:
            raise RuntimeError("OVS sent no reply to %s" % what)
        if len(replies) == 1:
            self.save(name + ".hex", replies, self.ctl_how("reply to " + what))
        else:
            for i, m in enumerate(replies):
                self.save("%s.%d.hex" % (name, i), [m],
                          self.ctl_how("part %d of %d of the reply to %s"
                                       % (i, len(replies), what)))

    # ---- helpers to run things
    def sh(self, argv, check=True, quiet=False):
        # the recipe re-creates the passive listener on $OFCTL_PORT
        env = dict(os.environ, OFCTL_PORT=str(self.a.ofctl_port))
        r = subprocess.run(argv, capture_output=True, text=True, env=env)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s%s" % (shlex.join(argv), r.returncode,
                                                        r.stdout, r.stderr))
        if not quiet and r.stderr.strip():
            log("%s: %s" % (argv[0], r.stderr.strip()))
        return r

    def vsctl(self, *args):
        return self.sh(["ovs-vsctl", "--db=unix:%s/db.sock" % self.a.ovs_dir, "--timeout=20",
                        *args])

    def recipe(self, *args):
        return self.sh([self.a.recipe, args[0], self.a.ovs_dir, *args[1:]])

    def ofctl_direct(self, cmd, *args, check=True):
        """ovs-ofctl straight to OVS's passive listener (setup, not recorded)."""
        return self.sh(["ovs-ofctl", "-O", "OpenFlow13", cmd,
                        "tcp:127.0.0.1:%d" % self.a.ofctl_port, *args], check=check)

    def ofctl(self, cmd, *args, check=True):
        """ovs-ofctl through the logging proxy. Returns (argv, result, conns)."""
        n0 = self.proxy.count()
        argv = ["ovs-ofctl", "-O", "OpenFlow13", cmd, "tcp:127.0.0.1:%d" % self.proxy.port,
                *args]
        r = self.sh(argv, check=check, quiet=True)
        time.sleep(0.05)
        with self.proxy.lock:
            conns = self.proxy.conns[n0:]
        for c in conns:
            if not c.done.wait(10):
                raise RuntimeError("proxied connection of %s did not finish" % shlex.join(argv))
        if not conns:
            raise RuntimeError("%s made no connection through the proxy" % shlex.join(argv))
        for c in conns:
            for m in c.s2c:
                if mtype(m) == T["ERROR"]:
                    raise RuntimeError("OVS answered %s with %s" % (shlex.join(argv), describe(m)))
        return argv, r, conns

    def ofctl_how(self, argv, direction="ovs-ofctl -> switch"):
        return ("%s: sent by `%s` (ovs-ofctl talks through the logging TCP proxy of "
                "scripts/ofcapture.py to ovs-vswitchd's passive listener)"
                % (direction, shlex.join(argv)))

    def save_sent(self, name, cmd, *args, want, mp=None):
        """Runs an ovs-ofctl command via the proxy and saves the first message
        of type `want` (and multipart type `mp`) it sent."""
        argv, r, conns = self.ofctl(cmd, *args)
        all_sent = [m for c in conns for m in c.c2s]
        sent = [m for m in all_sent
                if mtype(m) == want and (mp is None or mp_type(m) == mp)]
        if not sent:
            raise RuntimeError("%s sent no %s%s, only %s" % (
                shlex.join(argv), TNAME[want], "(%s)" % MPNAME[mp] if mp is not None else "",
                [describe(m) for m in all_sent]))
        self.save(name, sent[:1], self.ofctl_how(argv), ofctl=True)
        return argv, r, conns

    def netns(self, ns, *cmd, check=False):
        return self.sh(["ip", "netns", "exec", ns, *cmd], check=check, quiet=True)

    # ---- the scenario
    def run(self):
        a, ctl = self.a, self.ctl
        h1, h2 = a.hosts
        ip1, ip2 = (x.split("/")[0] for x in a.ips)

        # 1. connect OVS to the fake controller
        self.recipe("controller", a.bridge, "tcp:127.0.0.1:%d" % ctl.port)
        ctl.accept(timeout=30)
        _, hello = ctl.wait(lambda m: mtype(m) == T["HELLO"], 0, 10, "HELLO")
        self.save("hello.hex", [hello], self.ctl_how("the HELLO OVS sends on connecting"))
        # our HELLO: version bitmap offering only 1.3
        ctl.send(msg(T["HELLO"], struct.pack("!HHI", 1, 8, 1 << 4), 1))

        # 2. simple requests
        self.save_reply("features_reply", ctl.transact(T["FEATURES_REQUEST"]),
                        "FEATURES_REQUEST")
        self.save_reply("get_config_reply", ctl.transact(T["GET_CONFIG_REQUEST"]),
                        "GET_CONFIG_REQUEST")
        self.save_reply("role_reply", ctl.transact(T["ROLE_REQUEST"],
                                                   struct.pack("!I4xQ", 0, 0)),
                        "ROLE_REQUEST(role=NOCHANGE, generation_id=0)")
        self.save_reply("role_reply_master", ctl.transact(T["ROLE_REQUEST"],
                                                          struct.pack("!I4xQ", 2, 7)),
                        "ROLE_REQUEST(role=MASTER, generation_id=7)")
        self.save_reply("get_async_reply", ctl.transact(T["GET_ASYNC_REQUEST"]),
                        "GET_ASYNC_REQUEST")
        self.save_reply("echo_reply", ctl.transact(T["ECHO_REQUEST"], b"fixture echo payload"),
                        "ECHO_REQUEST with payload 'fixture echo payload'")
        start = ctl.mark()
        bx = ctl.xid()
        ctl.send(msg(T["BARRIER_REQUEST"], b"", bx))
        _, br = ctl.wait(lambda m: mtype(m) == T["BARRIER_REPLY"] and xid_of(m) == bx,
                         start, 10, "BARRIER_REPLY")
        self.save("barrier_reply.hex", [br], self.ctl_how("reply to BARRIER_REQUEST"))
        self.save_reply("queue_get_config_reply",
                        ctl.transact(T["QUEUE_GET_CONFIG_REQUEST"], struct.pack("!I4x", 1)),
                        "QUEUE_GET_CONFIG_REQUEST(port=1)")
        self.save_reply("desc_reply", ctl.multipart(MP["DESC"]), "MULTIPART_REQUEST(DESC)")
        self.save_reply("port_desc_reply", ctl.multipart(MP["PORT_DESC"]),
                        "MULTIPART_REQUEST(PORT_DESC) with ports LOCAL, 1 (%s), 2 (%s)"
                        % (h1, h2))
        self.save_reply("table_features_reply", ctl.multipart(MP["TABLE_FEATURES"]),
                        "MULTIPART_REQUEST(TABLE_FEATURES) with an empty body")
        self.save_reply("group_features_reply", ctl.multipart(MP["GROUP_FEATURES"]),
                        "MULTIPART_REQUEST(GROUP_FEATURES)")
        self.save_reply("meter_features_reply", ctl.multipart(MP["METER_FEATURES"]),
                        "MULTIPART_REQUEST(METER_FEATURES)")

        # 3. requests OVS rejects
        self.errors()

        # 4. PACKET_IN from real traffic
        self.packet_ins(h1, h2, ip2)

        # 5. FLOW_REMOVED
        self.flow_removeds()

        # 6. PORT_STATUS
        self.port_statuses()

        # 7. ovs-ofctl: groups, meters, the flows of flows.txt, traffic, dump-flows
        self.ofctl_messages(h1, h2, ip1, ip2)

        # 8. statistics with non-zero counters, as the controller sees them
        self.save_reply("flow_stats_reply",
                        ctl.multipart(MP["FLOW"], self.flow_stats_body(table=1)),
                        "MULTIPART_REQUEST(FLOW, table_id=1, match all)")
        self.save_reply("aggregate_reply",
                        ctl.multipart(MP["AGGREGATE"], self.flow_stats_body()),
                        "MULTIPART_REQUEST(AGGREGATE, all tables, match all)")
        self.save_reply("table_stats_reply", ctl.multipart(MP["TABLE"]),
                        "MULTIPART_REQUEST(TABLE)")
        self.save_reply("port_stats_reply",
                        ctl.multipart(MP["PORT_STATS"], struct.pack("!I4x", OFPP_ANY)),
                        "MULTIPART_REQUEST(PORT_STATS, port_no=ANY) after ping traffic")
        self.save_reply("queue_stats_reply",
                        ctl.multipart(MP["QUEUE"], struct.pack("!II", OFPP_ANY, OFPQ_ALL)),
                        "MULTIPART_REQUEST(QUEUE, port_no=ANY, queue_id=ALL)")
        self.save_reply("group_desc_reply", ctl.multipart(MP["GROUP_DESC"]),
                        "MULTIPART_REQUEST(GROUP_DESC) with groups 1-4 installed")
        self.save_reply("group_stats_reply",
                        ctl.multipart(MP["GROUP"], struct.pack("!I4x", OFPG_ALL)),
                        "MULTIPART_REQUEST(GROUP, group_id=ALL)")
        self.save_reply("meter_config_reply",
                        ctl.multipart(MP["METER_CONFIG"], struct.pack("!I4x", OFPM_ALL)),
                        "MULTIPART_REQUEST(METER_CONFIG, meter_id=ALL) with meters 1-2")
        self.save_reply("meter_stats_reply",
                        ctl.multipart(MP["METER"], struct.pack("!I4x", OFPM_ALL)),
                        "MULTIPART_REQUEST(METER, meter_id=ALL)")
        # adding an existing group fails
        gm = struct.pack("!HBxI", 0, 0, 1) + self.bucket([self.output(2)])
        self.save_error("error_group_exists", T["GROUP_MOD"], gm,
                        "GROUP_MOD(ADD, type=ALL, group_id=1) while group 1 exists")
        log("done: %d fixture files" % len(self.written))

    @staticmethod
    def flow_stats_body(table=OFPTT_ALL):
        return struct.pack("!B3xII4xQQ", table, OFPP_ANY, OFPG_ANY, 0, 0) + \
            struct.pack("!HH4x", 1, 4)

    @staticmethod
    def output(port, max_len=0xFFE5):
        return struct.pack("!HHIH6x", 0, 16, port, max_len)

    @staticmethod
    def bucket(actions, weight=0):
        acts = b"".join(actions)
        return struct.pack("!HHII4x", 16 + len(acts), weight, OFPP_ANY, OFPG_ANY) + acts

    @staticmethod
    def flow_mod(table, actions_instr, command=0, priority=1000, match=None):
        if match is None:
            match = struct.pack("!HH4x", 1, 4)  # empty OXM match, padded
        return struct.pack("!QQBBHHHIIIH2x", 0, 0, table, command, 0, 0, priority,
                           0xFFFFFFFF, OFPP_ANY, OFPG_ANY, 0) + match + actions_instr

    def save_error(self, name, t, body, what, version=OFP_VERSION):
        replies = self.ctl.transact(t, body, version)
        errs = [m for m in replies if mtype(m) == T["ERROR"]]
        if len(errs) != 1:
            raise RuntimeError("expected one ERROR for %s, got %s"
                               % (what, [describe(m) for m in replies]))
        self.save(name + ".hex", errs, self.ctl_how("error reply to " + what))

    def errors(self):
        apply_out_any = struct.pack("!HH4x", 4, 24) + self.output(OFPP_ANY)
        apply_out2 = struct.pack("!HH4x", 4, 24) + self.output(2)
        goto0 = struct.pack("!HHB3x", 1, 8, 0)
        self.save_error("error_bad_type", 0x63, b"\x00" * 8,
                        "a message of unknown type 0x63 (16 bytes)")
        self.save_error("error_bad_multipart", T["MULTIPART_REQUEST"],
                        struct.pack("!HH4x", 0x00AB, 0),
                        "MULTIPART_REQUEST of unknown type 0xab")
        self.save_error("error_bad_len", T["FEATURES_REQUEST"], b"\x00" * 4,
                        "FEATURES_REQUEST with 4 trailing bytes")
        self.save_error("error_flow_mod_bad_table", T["FLOW_MOD"],
                        self.flow_mod(0xFF, apply_out2),
                        "FLOW_MOD(ADD, table_id=0xff) with apply_actions(output:2)")
        self.save_error("error_flow_mod_bad_out_port", T["FLOW_MOD"],
                        self.flow_mod(0, apply_out_any),
                        "FLOW_MOD(ADD, table 0) with apply_actions(output:ANY)")
        self.save_error("error_flow_mod_bad_goto_table", T["FLOW_MOD"],
                        self.flow_mod(2, goto0),
                        "FLOW_MOD(ADD, table 2) with goto_table:0")
        self.save_error("error_flow_mod_unknown_group", T["FLOW_MOD"],
                        self.flow_mod(0, struct.pack("!HH4x", 4, 16)
                                      + struct.pack("!HHI", 22, 8, 77)),
                        "FLOW_MOD(ADD) with apply_actions(group:77), no group 77")
        self.save_error("error_group_mod_bad_type", T["GROUP_MOD"],
                        struct.pack("!HBxI", 0, 9, 50) + self.bucket([self.output(1)]),
                        "GROUP_MOD(ADD, type=9, group_id=50)")
        self.save_error("error_meter_mod_invalid_meter", T["METER_MOD"],
                        struct.pack("!HHI", 0, 1, 0) + struct.pack("!HHII4x", 1, 16, 1000, 0),
                        "METER_MOD(ADD, flags=KBPS, meter_id=0) with a drop band")

    def packet_ins(self, h1, h2, ip2):
        ctl = self.ctl
        self.ofctl_direct("del-flows")
        self.ofctl_direct("add-flow", "table=0,priority=0,actions=CONTROLLER:65535")
        self.ofctl_direct("add-flow", "table=0,priority=100,icmp,actions=CONTROLLER:64")
        ctl.transact(T["ECHO_REQUEST"])  # make sure the flows are in
        # ARP request from h1 -> table-miss flow -> PACKET_IN reason NO_MATCH
        start = ctl.mark()
        self.netns(h1, "ip", "neigh", "flush", "dev", "eth0")
        self.netns(h1, "ping", "-c", "1", "-W", "1", ip2)
        _, pin = ctl.wait(lambda m: mtype(m) == T["PACKET_IN"] and m[14] == 0
                          and packet_in_ethertype(m) == 0x0806, start, 10,
                          "PACKET_IN(NO_MATCH)")
        self.save("packet_in_no_match.hex", [pin], self.ctl_how(
            "PACKET_IN of the ARP request of `ip netns exec %s ping -c 1 %s` hitting the "
            "table-miss flow `priority=0,actions=CONTROLLER:65535`" % (h1, ip2)))
        # ICMP echo (static ARP entry) -> explicit controller action, truncated to 64
        mac2 = self.netns(h2, "cat", "/sys/class/net/eth0/address", check=True).stdout.strip()
        self.netns(h1, "ip", "neigh", "replace", ip2, "lladdr", mac2, "dev", "eth0",
                   "nud", "permanent", check=True)
        start = ctl.mark()
        self.netns(h1, "ping", "-c", "1", "-W", "1", ip2)
        _, pin = ctl.wait(lambda m: mtype(m) == T["PACKET_IN"] and m[14] == 1
                          and packet_in_ethertype(m) == 0x0800, start, 10,
                          "PACKET_IN(ACTION)")
        self.save("packet_in_action.hex", [pin], self.ctl_how(
            "PACKET_IN of the ICMP echo of `ip netns exec %s ping -c 1 %s` hitting the flow "
            "`priority=100,icmp,actions=CONTROLLER:64` (OVS does not buffer packets, so it sends "
            "the whole frame with buffer_id NO_BUFFER despite max_len 64)"
            % (h1, ip2)))
        self.netns(h1, "ip", "neigh", "del", ip2, "dev", "eth0", check=True)

    def flow_removeds(self):
        ctl = self.ctl

        def removed(cookie):
            return lambda m: (mtype(m) == T["FLOW_REMOVED"]
                              and struct.unpack_from("!Q", m, 8)[0] == cookie)

        for name, flow, wait in (
            ("flow_removed_hard_timeout",
             "table=0,priority=500,cookie=0xf1,udp,tp_dst=9,hard_timeout=1,send_flow_rem,"
             "actions=drop", None),
            ("flow_removed_idle_timeout",
             "table=3,priority=501,cookie=0xf2,tcp,tp_dst=10,idle_timeout=1,send_flow_rem,"
             "actions=output:1", None),
            ("flow_removed_delete",
             "table=0,priority=502,cookie=0xf3,tcp,tp_dst=11,send_flow_rem,actions=drop",
             "table=0,priority=502,tcp,tp_dst=11"),
        ):
            cookie = int(flow.split("cookie=")[1].split(",")[0], 16)
            start = ctl.mark()
            self.ofctl_direct("add-flow", flow)
            if wait:
                self.ofctl_direct("del-flows", "--strict", wait)
                how = "after `ovs-ofctl del-flows --strict '%s'`" % wait
            else:
                how = "when the timeout expired"
            _, fr = ctl.wait(removed(cookie), start, 15, "FLOW_REMOVED of " + name)
            self.save(name + ".hex", [fr], self.ctl_how(
                "FLOW_REMOVED of the flow `%s` (added with ovs-ofctl add-flow), %s"
                % (flow, how)))

    def port_statuses(self):
        ctl, a = self.ctl, self.a
        ns3 = a.spare_host

        def status(reason):
            return lambda m: mtype(m) == T["PORT_STATUS"] and m[8] == reason

        start = ctl.mark()
        self.recipe("addhost", a.bridge, ns3, "10.77.0.3/24", "3")
        _, ps = ctl.wait(status(0), start, 10, "PORT_STATUS(ADD)")
        self.save("port_status_add.hex", [ps], self.ctl_how(
            "PORT_STATUS(ADD) when `ovs-userspace.sh addhost` added veth %s as port 3" % ns3))
        time.sleep(1.0)
        start = ctl.mark()
        self.sh(["ip", "link", "set", ns3[:15], "down"])
        _, ps = ctl.wait(status(2), start, 10, "PORT_STATUS(MODIFY)")
        self.save("port_status_modify.hex", [ps], self.ctl_how(
            "PORT_STATUS(MODIFY) after `ip link set %s down`" % ns3[:15]))
        start = ctl.mark()
        self.vsctl("del-port", a.bridge, ns3[:15])
        _, ps = ctl.wait(status(1), start, 10, "PORT_STATUS(DELETE)")
        self.save("port_status_delete.hex", [ps], self.ctl_how(
            "PORT_STATUS(DELETE) after `ovs-vsctl del-port %s %s`" % (a.bridge, ns3[:15])))

    def ofctl_messages(self, h1, h2, ip1, ip2):
        a = self.a
        # the HELLO ovs-ofctl sends, and its BARRIER_REQUEST
        # (ovs-ofctl 3.1 opens up to three connections per command: one for the table
        # names (TABLE_FEATURES), one for the port names (PORT_DESC), then the real one)
        argv, _, conns = self.ofctl("del-flows")
        sent = [m for c in conns for m in c.c2s]
        self.save("ofctl_hello.hex", sent[:1], self.ofctl_how(argv), ofctl=True)
        fm = [m for m in sent if mtype(m) == T["FLOW_MOD"]]
        self.save("flow_mod_delete.hex", fm[:1], self.ofctl_how(argv), ofctl=True)
        br = [m for m in sent if mtype(m) == T["BARRIER_REQUEST"]]
        self.save("barrier_request.hex", br[:1], self.ofctl_how(argv), ofctl=True)

        for name, g in (
            ("group_mod_all", "group_id=1,type=all,bucket=output:1,bucket=output:2"),
            ("group_mod_select",
             "group_id=2,type=select,bucket=weight:100,output:1,bucket=weight:50,output:2"),
            ("group_mod_indirect", "group_id=3,type=indirect,bucket=output:LOCAL"),
            ("group_mod_ff",
             "group_id=4,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2"),
        ):
            self.save_sent(name + ".hex", "add-group", g, want=T["GROUP_MOD"])
        for name, mt in (
            ("meter_mod_kbps", "meter=1,kbps,band=type=drop,rate=1000"),
            ("meter_mod_pktps_burst",
             "meter=2,pktps,burst,stats,band=type=drop,rate=100,burst_size=20"),
        ):
            self.save_sent(name + ".hex", "add-meter", mt, want=T["METER_MOD"])

        # the flows of flows.txt, one ovs-ofctl add-flow each
        with open(a.flows) as f:
            flows = [ln.rstrip("\n") for ln in f]
        for n, line in enumerate(flows, 1):
            if not line.strip() or line.startswith("#"):
                raise RuntimeError("flows.txt line %d is blank or a comment" % n)
            self.save_sent("flows/flow_mod/%03d.hex" % n, "add-flow", line,
                           want=T["FLOW_MOD"])
        self.save_sent("flow_mod_add.hex", "add-flow",
                       "table=7,priority=7,cookie=0x7,ip,nw_src=10.7.0.0/16,"
                       "actions=output:1", want=T["FLOW_MOD"])

        # traffic so that counters are non-zero
        for ns, dst in ((h1, ip2), (h2, ip1)):
            r = self.netns(ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", dst)
            log("ping %s -> %s: %s" % (ns, dst, (r.stdout.strip().splitlines() or ["?"])[-1]))
        pkt = ("ffffffffffff" "001122334455" "0806" "0001080006040001" "001122334455"
               "0a4d0009" "000000000000" "0a4d0002")
        self.save_sent("packet_out.hex", "packet-out",
                       "in_port=controller,packet=%s,actions=output:2" % pkt,
                       want=T["PACKET_OUT"])

        # ONE dump-flows call: its request, OVS's reply bytes and the text it printed
        argv, r, conns = self.ofctl("dump-flows")
        flow = [c for c in conns if any(mtype(m) == T["MULTIPART_REQUEST"]
                                        and mp_type(m) == MP["FLOW"] for m in c.c2s)]
        if len(flow) != 1:
            raise RuntimeError("dump-flows made %d flow stats connections" % len(flow))
        c = flow[0]
        req = [m for m in c.c2s if mtype(m) == T["MULTIPART_REQUEST"]]
        rep = [m for m in c.s2c if mtype(m) == T["MULTIPART_REPLY"]]
        if len(req) != 1 or not rep or mp_flags(rep[-1]) & REPLY_MORE:
            raise RuntimeError("unexpected dump-flows exchange: %s / %s"
                               % ([describe(m) for m in req], [describe(m) for m in rep]))
        self.save("flow_stats_request.hex", req[:1], self.ofctl_how(argv), ofctl=True)
        self.save("flows/dump_flows.hex", rep, self.ofctl_how(
            argv, "OVS -> ovs-ofctl: the flow stats reply (one message per line)"),
            notes=["the text this same ovs-ofctl call printed is flows/dump_flows.txt"],
            ofctl=True)
        with open(os.path.join(self.out, "flows", "dump_flows.txt"), "w") as f:
            f.write(r.stdout)
        self.written.append("flows/dump_flows.txt")
        log("dump-flows printed %d lines" % len(r.stdout.splitlines()))

        # more requests as ovs-ofctl encodes them
        req = T["MULTIPART_REQUEST"]
        for name, cmd, args, want, mp in (
            ("aggregate_request", "dump-aggregate", (), req, MP["AGGREGATE"]),
            ("table_stats_request", "dump-tables", (), req, MP["TABLE"]),
            ("port_stats_request", "dump-ports", (), req, MP["PORT_STATS"]),
            ("port_desc_request", "dump-ports-desc", (), req, MP["PORT_DESC"]),
            ("desc_request", "dump-desc", (), req, MP["DESC"]),
            ("group_desc_request", "dump-groups", (), req, MP["GROUP_DESC"]),
            ("group_stats_request", "dump-group-stats", (), req, MP["GROUP"]),
            ("group_features_request", "dump-group-features", (), req,
             MP["GROUP_FEATURES"]),
            ("meter_config_request", "dump-meters", (), req, MP["METER_CONFIG"]),
            ("meter_stats_request", "meter-stats", (), req, MP["METER"]),
            ("meter_features_request", "meter-features", (), req, MP["METER_FEATURES"]),
            ("table_features_request", "dump-table-features", (), req,
             MP["TABLE_FEATURES"]),
            ("queue_stats_request", "queue-stats", (), req, MP["QUEUE"]),
            ("queue_get_config_request", "queue-get-config", ("1",),
             T["QUEUE_GET_CONFIG_REQUEST"], None),
            ("get_config_request", "get-frags", (), T["GET_CONFIG_REQUEST"], None),
            ("set_config", "set-frags", ("drop",), T["SET_CONFIG"], None),
            ("echo_request", "probe", (), T["ECHO_REQUEST"], None),
        ):
            self.save_sent(name + ".hex", cmd, *args, want=want, mp=mp)
        self.save_sent("port_mod.hex", "mod-port", "2", "up", want=T["PORT_MOD"])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ovs-dir", required=True)
    p.add_argument("--bridge", required=True)
    p.add_argument("--recipe", required=True)
    p.add_argument("--ofctl-port", type=int, required=True)
    p.add_argument("--hosts", required=True, type=lambda s: s.split(","))
    p.add_argument("--ips", required=True, type=lambda s: s.split(","))
    p.add_argument("--spare-host", required=True)
    p.add_argument("--flows", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    c = Capture(a)
    c.run()


if __name__ == "__main__":
    main()
