//! Shared pieces of the end-to-end tests: a daemon in its own state
//! directory, the CLI, network namespaces, free ports, and the rule that a
//! test needing root or a tool fails under `CI=true` instead of skipping.
//!
//! Everything a test creates carries a unique prefix (`e<pid><n>`) and
//! is removed by a guard's `Drop` ([`Netns`], [`Veth`], [`Daemon`]), even
//! when the test fails.

#![allow(dead_code)]

mod capture;
mod controller;
mod netdev;
mod ovs;
mod pki;
#[path = "ports.rs"]
mod ports;
mod session;
mod traffic;
mod two_vlans;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Skips (returns false) or, under CI=true, fails when the test cannot run.
pub fn require(what: &str, ok: bool) -> bool {
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but this test cannot run: it needs {what}");
    }
    eprintln!("skipping: needs {what}");
    false
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Root and the `ip` tool: what every end-to-end test needs.
pub fn require_root() -> bool {
    require("root", is_root()) && require("iproute2 (ip)", have("ip"))
}

/// A name unique to this process and call, at most 15 bytes with `suffix`
/// (interface names are limited to 15).
pub fn unique(suffix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let base = format!("e{}{}", std::process::id() % 100_000, n);
    let name = format!("{base}{suffix}");
    assert!(name.len() <= 15, "name {name} too long");
    name
}

#[allow(unused_imports)]
pub use capture::{require_capture_tools, OfCapture, OfSummary};
#[allow(unused_imports)]
pub use controller::{ab_policy, connects_out, Controller, TwoHosts};
#[allow(unused_imports)]
pub use netdev::{inject, Capture, Veth};
#[allow(unused_imports)]
pub use ovs::{parse_flows, require_ovs, DumpedFlow, Ovs};
#[allow(unused_imports)]
pub use pki::{require_pki, Identity, Pki};
#[allow(unused_imports)]
pub use ports::{free_listener, free_port};
#[allow(unused_imports)]
pub use session::Session;
#[allow(unused_imports)]
pub use traffic::{in_ns, iperf3, ns_name, Kill};
#[allow(unused_imports)]
pub use two_vlans::{two_vlans_policy, FourHosts};

/// The `ofswitch` binary of this workspace (built if missing).
pub fn ofswitch_bin() -> PathBuf {
    workspace_bin("ofswitch")
}

/// The `ofcontroller` binary of this workspace (built if missing).
pub fn ofcontroller_bin() -> PathBuf {
    workspace_bin("ofcontroller")
}

/// Example `name` of the root package (`examples/NAME.rs`), built if
/// missing.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join("examples").join(name);
    if !bin.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .status()
            .expect("cargo build");
        assert!(st.success(), "building example {name} failed");
    }
    bin
}

/// Binary `name` of the workspace package of the same name, next to the
/// test executable (built if missing: the root package's tests do not
/// build other packages' binaries).
fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join(name);
    if !bin.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "-p", name, "--bin", name])
            .status()
            .expect("cargo build");
        assert!(st.success(), "building {name} failed");
    }
    bin
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp, so
/// that checking does not open a connection to the controller).
pub fn tcp_listening(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == want && f[3] == "0A"
        })
}

/// A `key=value` map column as printed by `vsctl get` (`{a=1, b="2"}`),
/// its numeric values.
pub fn vsctl_map(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split(", ")
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.trim_matches('"').parse().ok()?))
        })
        .collect()
}

/// `packet_in_sent` of bridge `br`: how many packet-ins it has sent.
pub fn packet_ins(d: &Daemon, br: &str) -> u64 {
    vsctl_map(&d.vsctl(&["get", "bridge", br, "statistics"]))
        .get("packet_in_sent")
        .copied()
        .unwrap_or(0)
}

/// Waits until `f` is true, up to `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// A running `ofswitch daemon` with its own state directory; stopped
/// (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    pub state: tempfile::TempDir,
    child: Option<Child>,
    pub extra_args: Vec<String>,
    /// Runs inside this network namespace (`ip netns exec`).
    pub netns: Option<String>,
}

impl Daemon {
    /// Starts a daemon in a fresh state directory.
    pub fn start(extra_args: &[&str]) -> Daemon {
        let state = tempfile::Builder::new()
            .prefix("ofswitch-e2e")
            .tempdir()
            .expect("state dir");
        let mut d = Daemon {
            state,
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            netns: None,
        };
        d.spawn();
        d
    }

    /// Starts a daemon inside network namespace `ns`.
    pub fn start_in(ns: &str, extra_args: &[&str]) -> Daemon {
        let state = tempfile::Builder::new()
            .prefix("ofswitch-e2e")
            .tempdir()
            .expect("state dir");
        let mut d = Daemon {
            state,
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            netns: Some(ns.to_string()),
        };
        d.spawn();
        d
    }

    pub fn dir(&self) -> &Path {
        self.state.path()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("daemon.log"))
            .expect("log file");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(ofswitch_bin());
                c
            }
            None => Command::new(ofswitch_bin()),
        };
        let child = cmd
            .arg("--state-dir")
            .arg(self.dir())
            .arg("daemon")
            .args(&self.extra_args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("info".into()),
            )
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start ofswitch daemon");
        self.child = Some(child);
        let ctl = self.dir().join("ofswitch.ctl");
        wait_for(
            "the daemon's management socket",
            Duration::from_secs(10),
            || std::os::unix::net::UnixStream::connect(&ctl).is_ok(),
        );
    }

    /// Stops the daemon (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            stop_child(c, libc::SIGTERM);
        }
    }

    /// Stops and starts again on the same state directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Runs `ofswitch --state-dir DIR <args>`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(ofswitch_bin())
            .arg("--state-dir")
            .arg(self.dir())
            .args(args)
            .output()
            .expect("run ofswitch")
    }

    /// Adds a bridge with a unique name in fail-mode secure (no flows
    /// until a controller or a test adds some); returns its name.
    pub fn secure_bridge(&self) -> String {
        let br = unique("br");
        self.vsctl(&["add-br", &br]);
        self.vsctl(&["set-fail-mode", &br, "secure"]);
        br
    }

    /// Adds port `port` to bridge `br` with an interface of type `kind`
    /// (`internal`, `dummy`, ...).
    pub fn add_port_of_type(&self, br: &str, port: &str, kind: &str) {
        self.vsctl(&[
            "add-port",
            br,
            port,
            "--",
            "set",
            "interface",
            port,
            &format!("type={kind}"),
        ]);
    }

    /// One namespace host per `(ip/len, mac)` on bridge `br`, each on a
    /// port of its own: the namespaces (removed when dropped) and the
    /// ports' names, in the same order.
    pub fn netns_hosts(&self, br: &str, hosts: &[(String, String)]) -> (Vec<Netns>, Vec<String>) {
        let mut out = (Vec::new(), Vec::new());
        for (cidr, mac) in hosts {
            let (ns, port) = (Netns::new(&unique("n")), unique("p"));
            self.vsctl(&[
                "add-netns-port",
                br,
                &port,
                &ns.0,
                &format!("--ipaddress={cidr}"),
                &format!("--macaddress={mac}"),
            ]);
            out.0.push(ns);
            out.1.push(port);
        }
        out
    }

    /// A bridge's datapath id (`vsctl get bridge BR datapath_id`).
    pub fn datapath_id(&self, br: &str) -> u64 {
        let text = self.vsctl(&["get", "bridge", br, "datapath_id"]);
        u64::from_str_radix(text.trim().trim_matches('"'), 16)
            .unwrap_or_else(|e| panic!("datapath_id {text:?}: {e}"))
    }

    /// `ofswitch vsctl ARGS`, which must succeed; returns stdout.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let mut all = vec!["vsctl"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "ofswitch vsctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Adds GRE port `port` to `br` towards `remote`, with `key` if any.
    pub fn add_gre(&self, br: &str, port: &str, remote: &str, key: Option<&str>) {
        let remote = format!("options:remote_ip={remote}");
        let key = key.map(|k| format!("options:key={k}"));
        let mut args = vec![
            "add-port",
            br,
            port,
            "--",
            "set",
            "interface",
            port,
            "type=gre",
            &remote,
        ];
        args.extend(key.as_deref());
        self.vsctl(&args);
    }

    /// The daemon's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("daemon.log")).unwrap_or_default()
    }

    /// `unix:` target of a bridge's management socket.
    pub fn mgmt(&self, bridge: &str) -> String {
        format!(
            "unix:{}",
            self.dir().join(format!("{bridge}.mgmt")).display()
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A network namespace, deleted when dropped.
pub struct Netns(pub String);

impl Netns {
    pub fn new(name: &str) -> Netns {
        let ok = Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ip netns add {name}");
        Netns(name.to_string())
    }

    /// A command to run in the namespace (to spawn in the background).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).args(args);
        c
    }

    /// Runs a command in the namespace.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("ip netns exec")
    }

    /// Moves interface `dev` (e.g. an internal port) here and gives it
    /// `cidr`.
    pub fn take(&self, dev: &str, cidr: &str) {
        sh(&["ip", "link", "set", dev, "netns", &self.0]);
        sh(&["ip", "-n", &self.0, "addr", "add", cidr, "dev", dev]);
        sh(&["ip", "-n", &self.0, "link", "set", dev, "up"]);
        sh(&["ip", "-n", &self.0, "link", "set", "lo", "up"]);
    }

    /// Whether `ping -c1` to `ip` succeeds within `secs`.
    pub fn ping(&self, ip: &str, secs: u32) -> bool {
        self.exec(&["ping", "-c", "1", "-W", &secs.to_string(), ip])
            .status
            .success()
    }
}

impl Netns {
    /// Whether this namespace has a MAC address for `ip` (an ARP answer
    /// came).
    pub fn resolved(&self, ip: &str) -> bool {
        let out = self.exec(&["ip", "neigh", "show", ip]);
        String::from_utf8_lossy(&out.stdout).contains("lladdr")
    }
}

/// Pings until it works or `timeout` passes; returns when it worked.
pub fn ping_until(ns: &Netns, ip: &str, timeout: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if ns.ping(ip, 1) {
            return Some(t0.elapsed());
        }
    }
    None
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Quietly: a script's `down` may have deleted it already.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs a command that must succeed.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ends a child of ours: `signal` (SIGTERM for a daemon, SIGINT for a
/// capture that must flush), up to 5 s for it to exit, then SIGKILL; reaped
/// either way.
pub fn stop_child(mut c: Child, signal: i32) {
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(c.id() as i32, signal) };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// Waits until `listening()` (the caller's check: a port in /proc/net/tcp,
/// a log line), failing with the program's `log()` if `child` exits first
/// or `timeout` passes; `what` names the program in the failure.
pub fn wait_child_listening(
    child: &mut Child,
    what: &str,
    timeout: Duration,
    log: impl Fn() -> String,
    mut listening: impl FnMut() -> bool,
) {
    let t0 = Instant::now();
    while !listening() {
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited ({st}):\n{}", log());
        }
        assert!(t0.elapsed() < timeout, "{what} does not listen:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
}
