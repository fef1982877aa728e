//! An `ofcontroller run` process for the end-to-end tests, in the test's
//! network namespace or in another one; killed (by its pid) when dropped.

use super::{ofcontroller_bin, tcp_listening, Netns};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An `ofcontroller` process; killed (by its pid) when dropped.
pub struct Controller {
    pub child: Child,
    log: PathBuf,
}

impl Controller {
    /// `ofcontroller ARGS`, logging to `log`; inside namespace `ns` if
    /// given (`ip netns exec`, which execs, so the pid is the controller's).
    pub fn spawn_in(ns: Option<&Netns>, args: &[&str], log: PathBuf) -> Controller {
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
        Controller { child, log }
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
