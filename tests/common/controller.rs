//! An `ofcontroller run` process for the end-to-end tests, in the test's
//! network namespace or in another one; killed (by its pid) when dropped.
//! Its control socket is next to its log (never the default path, which
//! tests running at once would share), and [`Controller::ctl`] asks it.
//! And [`TwoHosts`], the smallest network for a learning controller.

use super::{
    free_port, ofcontroller_bin, tcp_listening, unique, wait_child_listening, wait_for, Daemon,
    Netns,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A policy with VLANs `a` (vid 10) and `b` (vid 20) for switch `dpid`:
/// each `(port, vlan)` an access port of that VLAN.
pub fn ab_policy(dpid: u64, ports: &[(&str, &str)]) -> String {
    let mut p = format!(
        "[vlans.a]\nvid = 10\n[vlans.b]\nvid = 20\n\
         [switches.s]\ndpid = {dpid}\n[switches.s.ports]\n"
    );
    for (port, vlan) in ports {
        p.push_str(&format!("{port} = {{ access = \"{vlan}\" }}\n"));
    }
    p
}

/// An `ofcontroller` process; killed (by its pid) when dropped.
pub struct Controller {
    pub child: Child,
    log: PathBuf,
    /// The control socket (`--control`).
    pub control: PathBuf,
}

impl Controller {
    /// `ofcontroller ARGS`, logging to `log`; inside namespace `ns` if
    /// given (`ip netns exec`, which execs, so the pid is the controller's).
    /// `run` gets `--control LOG.ctl` unless ARGS name one.
    pub fn spawn_in(ns: Option<&Netns>, args: &[&str], log: PathBuf) -> Controller {
        let control = match args.iter().position(|a| *a == "--control") {
            Some(i) => PathBuf::from(args.get(i + 1).expect("--control PATH")),
            None => log.with_extension("ctl"),
        };
        let mut args: Vec<&str> = args.to_vec();
        let control_arg = control.to_string_lossy().into_owned();
        if args.first() == Some(&"run") && !args.contains(&"--control") {
            args.extend(["--control", &control_arg]);
        }
        let out = std::fs::File::create(&log).expect("controller log file");
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns.0]).arg(ofcontroller_bin());
                c
            }
            None => Command::new(ofcontroller_bin()),
        };
        let child = cmd
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("info".into()),
            )
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .expect("start ofcontroller");
        Controller {
            child,
            log,
            control,
        }
    }

    /// `ofcontroller VERB ARGS --control SOCKET` (`status`, `reload`), from
    /// the test's namespace: the socket is a file, reachable from any.
    pub fn ctl(&self, verb: &str, args: &[&str]) -> Output {
        Command::new(ofcontroller_bin())
            .arg(verb)
            .args(args)
            .arg("--control")
            .arg(&self.control)
            .output()
            .expect("run ofcontroller")
    }

    /// `ofcontroller ARGS`, logging to `log`.
    pub fn spawn(args: &[&str], log: PathBuf) -> Controller {
        Controller::spawn_in(None, args, log)
    }

    /// `ofcontroller run --listen tcp:127.0.0.1:PORT --policy FILE`, once
    /// it listens.
    pub fn start(port: u16, policy: &Path, log: PathBuf) -> Controller {
        let listen = format!("tcp:127.0.0.1:{port}");
        let policy = policy.to_string_lossy();
        let c = Controller::spawn(&["run", "--listen", &listen, "--policy", &policy], log);
        c.wait_listening(|| tcp_listening(port))
    }

    /// [`Controller::start`] on a free port, bridge `br` of `d` pointed at
    /// it; returns once the controller resynced the switch, and the port.
    pub fn start_for(d: &Daemon, br: &str, policy: &Path, log: &str) -> (Controller, u16) {
        let port = free_port();
        let c = Controller::start(port, policy, d.dir().join(log));
        d.vsctl(&["set-controller", br, &format!("tcp:127.0.0.1:{port}")]);
        wait_for(
            "the controller to resync the switch",
            Duration::from_secs(30),
            || c.log().contains("resynced"),
        );
        (c, port)
    }

    /// `what`, then this controller's log and the daemon's: a failure
    /// message.
    pub fn context(&self, d: &Daemon, what: &str) -> String {
        format!(
            "{what}\n--- controller\n{}\n--- daemon\n{}",
            self.log(),
            d.log()
        )
    }

    /// `ofcontroller run --listen tcp:IP:PORT --policy FILE` inside
    /// namespace `ns`, once it says it listens (its log line: the test's
    /// `/proc/net/tcp` is another namespace's).
    pub fn start_in(ns: &Netns, ip: &str, port: u16, policy: &Path, log: PathBuf) -> Controller {
        let listen = format!("tcp:{ip}:{port}");
        let policy = policy.to_string_lossy();
        let c = Controller::spawn_in(
            Some(ns),
            &["run", "--listen", &listen, "--policy", &policy],
            log,
        );
        let line = format!("listening on {listen}");
        let log = c.log.clone();
        c.wait_listening(move || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains(&line)
        })
    }

    /// Waits until `listening()` (the test's check), failing if the
    /// controller exits or 20 s pass.
    pub fn wait_listening(mut self, listening: impl FnMut() -> bool) -> Controller {
        let log = self.log.clone();
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        wait_child_listening(
            &mut self.child,
            "ofcontroller",
            Duration::from_secs(20),
            read,
            listening,
        );
        self
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two hosts, each in its own namespace, on one bridge: SUBNET.1 and
/// SUBNET.2 (/24). Enough to see a learning controller at work (no policy:
/// every port in VLAN 1).
pub struct TwoHosts {
    pub ns: [Netns; 2],
    subnet: String,
}

impl TwoHosts {
    /// Adds the two hosts to `br` of `d`; `subnet` as `10.238.0`.
    pub fn add(d: &Daemon, br: &str, subnet: &str) -> TwoHosts {
        let ns = [Netns::new(&unique("n")), Netns::new(&unique("n"))];
        for (i, n) in ns.iter().enumerate() {
            d.vsctl(&[
                "add-netns-port",
                br,
                &unique("p"),
                &n.0,
                &format!("--ipaddress={subnet}.{}/24", i + 1),
            ]);
        }
        TwoHosts {
            ns,
            subnet: subnet.to_string(),
        }
    }

    /// Host `i`'s address (0 or 1).
    pub fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// Asserts that the hosts ping each other, the first way retried for
    /// a while (the controller may still be resyncing); `ctl` and `d` give
    /// the logs for a failure.
    pub fn assert_ping(&self, ctl: &Controller, d: &Daemon) {
        let logs = || format!("--- controller\n{}\n--- daemon\n{}", ctl.log(), d.log());
        let ok = (0..20).any(|_| self.ns[0].ping(&self.ip(1), 1));
        assert!(ok, "ping {} -> {}\n{}", self.ip(0), self.ip(1), logs());
        assert!(
            self.ns[1].ping(&self.ip(0), 2),
            "ping back {} -> {}\n{}",
            self.ip(1),
            self.ip(0),
            logs()
        );
    }
}

/// The controller connecting out: a secure bridge of `d` with
/// [`TwoHosts`] on `subnet`, and `ofcontroller run ARGS` (which connect
/// out) started first; after its first failed attempt the bridge starts
/// listening at `passive` (`ptcp:`, `pssl:`, `punix:`), and the controller
/// must connect and resync it, and the hosts ping. Returns the bridge, the
/// controller and the hosts for further checks.
pub fn connects_out(
    d: &Daemon,
    args: &[&str],
    passive: &str,
    subnet: &str,
) -> (String, Controller, TwoHosts) {
    let br = d.secure_bridge();
    let hosts = TwoHosts::add(d, &br, subnet);
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let ctl = Controller::spawn(&all, d.dir().join(format!("controller-{br}.log")));
    wait_for("the first failed attempt", Duration::from_secs(20), || {
        ctl.log().contains("cannot connect")
    });
    let t0 = Instant::now();
    d.vsctl(&["set-controller", &br, passive]);
    wait_for(
        "the controller to connect and resync",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    eprintln!(
        "resynced {:?} after the bridge started listening",
        t0.elapsed()
    );
    hosts.assert_ping(&ctl, d);
    (br, ctl, hosts)
}
