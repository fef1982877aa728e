//! An `ofcontroller run` process for the end-to-end tests, in the test's
//! network namespace or in another one; killed (by its pid) when dropped.
//! Its control socket is next to its log (never the default path, which
//! tests running at once would share), and [`Controller::ctl`] asks it.

use super::{free_port, ofcontroller_bin, tcp_listening, wait_for, Daemon, Netns};
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

    fn wait_listening(mut self, mut listening: impl FnMut() -> bool) -> Controller {
        let t0 = Instant::now();
        while !listening() {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("ofcontroller exited ({st}):\n{}", self.log());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "ofcontroller does not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
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
