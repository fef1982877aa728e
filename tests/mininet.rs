//! Mininet drives ofswitch: the command line of the README,
//!
//! ```text
//! mn --custom examples/mininet/ofswitch_mn.py --switch ofswitch \
//!    --controller remote,ip=127.0.0.1,port=6653 --topo tree,depth=2,fanout=3 --wait
//! ```
//!
//! with the CLI fed from stdin (`pingall`, `dpctl show`, `dpctl dump-flows`),
//! once with the bundled controller (no policy: a learning switch) and once
//! with os-ken's learning app (tests/osken/). Checks: all 72 host pairs
//! ping, every switch shows Mininet's dpid and ports, every switch has
//! learned flows that carried packets, and after the CLI ends the session's
//! namespace holds no interface but `lo` and every daemon has stopped (the
//! class's stop(), no `mn -c`).
//!
//! Isolation: Mininet's names (s1-eth1, h1-eth0, the listen ports 6654...)
//! are global to a network namespace, and `mn` runs `mn -c` by itself when
//! it fails, which kills every `ping` and `mnexec` it can see and removes
//! `/tmp/*.log`. So each session runs in its own network namespace (the
//! controller too, on that namespace's 127.0.0.1:6653), under `unshare
//! --pid --fork --kill-child --mount-proc` with a private tmpfs on /tmp
//! (the checkout bound back into it if it lives there): Mininet sees only
//! its own processes and files, and killing the
//! `unshare` (on a timeout or a failed test) ends everything it started.

mod common;

use common::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The controller's port, inside the session's own namespace.
const PORT: u16 = 6653;

/// What the Mininet CLI is given on stdin.
const CLI: &str = "pingall\ndpctl show\ndpctl dump-flows\n";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn have_mininet() -> bool {
    have("mn")
        && have("mnexec")
        && Command::new("/usr/bin/python3")
            .args(["-c", "import mininet.net"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

fn osken_python() -> PathBuf {
    repo().join(".venv/bin/python")
}

fn have_osken() -> bool {
    Command::new(osken_python())
        .args(["-c", "import os_ken"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The controllers the session is run with.
#[derive(Clone, Copy, Debug)]
enum App {
    /// `ofcontroller run`, no policy: every port in VLAN 1, MACs learned
    /// into table `eth_dst`.
    Bundled,
    /// tests/osken/learning_switch.py: priority-1 flows in table 0.
    OsKen,
}

impl App {
    /// Whether a dump-flows line is a flow the app learned.
    fn learned(self, line: &str) -> bool {
        match self {
            App::Bundled => line.contains("table=\"eth_dst\"") && line.contains("dl_dst="),
            App::OsKen => line.contains("priority=1,") && line.contains("dl_dst="),
        }
    }
}

/// A process in the session's namespace (controller or os-ken), killed by
/// its pid when dropped (`ip netns exec` execs, so it is the program's).
struct Bg {
    child: Child,
    log: PathBuf,
}

impl Bg {
    fn spawn(ns: &Netns, args: &[&str], env: &[(&str, &Path)], log: PathBuf) -> Bg {
        let out = std::fs::File::create(&log).expect("log file");
        let mut cmd = ns.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("start {args:?}: {e}"));
        Bg { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until something listens on 127.0.0.1:PORT in `ns`.
    fn wait_listening(mut self, ns: &Netns) -> Bg {
        let want = format!("0100007F:{PORT:04X} 00000000:0000 0A");
        let log = self.log.clone();
        wait_child_listening(
            &mut self.child,
            &format!("the controller on {PORT}"),
            Duration::from_secs(30),
            || std::fs::read_to_string(&log).unwrap_or_default(),
            || {
                let tcp = ns.exec(&["cat", "/proc/net/tcp"]);
                String::from_utf8_lossy(&tcp.stdout).contains(&want)
            },
        );
        self
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mn "$@"` (after taking the checkout's path as `$1`) with a tmpfs
/// of its own on /tmp, so that what `mn -c` removes there is its own. A
/// checkout that lives under /tmp (a CI clone, say) would vanish under that
/// tmpfs with the binaries, the switch class and the test's directory in
/// it, so the original /tmp is first bound to /mnt (this mount namespace's
/// own, unshare makes mounts private) and the checkout bound back in place.
const PRIVATE_TMP: &str = r#"repo=$1; shift
mount --bind /tmp /mnt && mount -t tmpfs mn-tmp /tmp || exit 1
case $repo in
/tmp/*) mkdir -p "$repo" && mount --bind "/mnt/${repo#/tmp/}" "$repo" || exit 1 ;;
esac
exec mn "$@""#;

/// `mn` in namespace `ns`, in its own pid namespace with a private /tmp;
/// killed (and with it everything it started) when dropped.
struct Mn {
    child: Option<Child>,
}

impl Mn {
    fn run(ns: &Netns, dir: &Path, out: &Path) -> (std::process::ExitStatus, Duration) {
        let custom = repo().join("examples/mininet/ofswitch_mn.py");
        let controller = format!("remote,ip=127.0.0.1,port={PORT}");
        let log = std::fs::File::create(out).expect("mn output file");
        let t0 = Instant::now();
        let child = ns
            .command(&[
                "unshare",
                "--pid",
                "--fork",
                "--kill-child",
                "--mount-proc",
                "sh",
                "-c",
                PRIVATE_TMP,
                "mn",
                &repo().to_string_lossy(),
                "--custom",
                &custom.to_string_lossy(),
                "--switch",
                "ofswitch",
                "--controller",
                &controller,
                "--topo",
                "tree,depth=2,fanout=3",
                "--wait",
            ])
            .env("OFSWITCH_BIN", ofswitch_bin())
            .env("OFSWITCH_MN_DIR", dir.join("sw"))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .spawn()
            .expect("start mn");
        let mut mn = Mn { child: Some(child) };
        let c = mn.child.as_mut().expect("mn child");
        // The CLI's commands; at the end of its input the CLI exits and
        // Mininet stops the network.
        c.stdin
            .take()
            .expect("mn stdin")
            .write_all(CLI.as_bytes())
            .expect("write mn's stdin");
        loop {
            if let Some(st) = c.try_wait().expect("wait for mn") {
                mn.child = None;
                return (st, t0.elapsed());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(240),
                "mn still running after 240 s:\n{}",
                std::fs::read_to_string(out).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Mn {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGKILL to unshare: --kill-child takes mn (the pid
            // namespace's init) with it, and with it the whole namespace.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The sections of `dpctl CMD` output: switch name -> its lines.
fn dpctl_sections(out: &str, marker: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_cmd = false;
    for line in out.lines() {
        let line = line.trim_start_matches("mininet> ");
        if let Some(rest) = line.strip_prefix("*** ") {
            if let Some((name, dashes)) = rest.split_once(' ') {
                if dashes.starts_with("-----") {
                    in_cmd = true;
                    sections.push((name.to_string(), Vec::new()));
                    continue;
                }
            }
        }
        if in_cmd {
            if let Some((_, lines)) = sections.last_mut() {
                lines.push(line.to_string());
            }
        }
    }
    // `dpctl show` and `dpctl dump-flows` both print "*** s1 ---": keep
    // the sections of the command whose output has `marker`.
    sections.retain(|(_, lines)| lines.iter().any(|l| l.contains(marker)));
    sections
}

fn n_packets(line: &str) -> u64 {
    line.split("n_packets=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn mininet_pingall(app: App) {
    if !require_root()
        || !require(
            "Mininet (mn, mnexec and python3's mininet: scripts/install-deps.sh)",
            have_mininet(),
        )
        || !require("unshare (util-linux)", have("unshare"))
    {
        return;
    }
    if matches!(app, App::OsKen)
        && !require("os-ken in .venv (scripts/install-deps.sh)", have_osken())
    {
        return;
    }
    let _ = ofswitch_bin(); // built before mn needs it
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).expect("target tmp dir");
    // Not in /tmp: the session's /tmp is private; the daemons' state
    // directories (DIR/sw/s1 ...) stay here for the failure message.
    let dir = tempfile::Builder::new()
        .prefix("mininet")
        .tempdir_in(&base)
        .expect("scratch dir");
    let ns = Netns::new(&unique("mn"));
    sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);

    let listen = format!("tcp:127.0.0.1:{PORT}");
    let ctl = match app {
        App::Bundled => {
            let bin = ofcontroller_bin();
            let control = dir.path().join("ofcontroller.ctl");
            Bg::spawn(
                &ns,
                &[
                    &bin.to_string_lossy(),
                    "run",
                    "--listen",
                    &listen,
                    "--control",
                    &control.to_string_lossy(),
                ],
                &[],
                dir.path().join("controller.log"),
            )
        }
        App::OsKen => {
            let osken = repo().join("tests/osken");
            let events = dir.path().join("osken-events.txt");
            Bg::spawn(
                &ns,
                &[
                    &osken_python().to_string_lossy(),
                    &osken.join("run_app.py").to_string_lossy(),
                    &PORT.to_string(),
                    &osken.join("learning_switch.py").to_string_lossy(),
                ],
                &[("OSKEN_EVENTS", &events)],
                dir.path().join("controller.log"),
            )
        }
    }
    .wait_listening(&ns);

    let out_path = dir.path().join("mn.out");
    let (status, took) = Mn::run(&ns, dir.path(), &out_path);
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let daemon_logs = || {
        (1..=4)
            .map(|i| {
                let p = dir.path().join(format!("sw/s{i}/daemon.log"));
                let log = std::fs::read_to_string(&p).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                format!(
                    "--- s{i} daemon (last lines)\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let ctx = |what: &str| {
        format!(
            "{app:?}: {what}\n--- mn\n{out}\n--- controller\n{}\n{}",
            ctl.log(),
            daemon_logs()
        )
    };
    eprintln!("{app:?}: mn ran for {took:.1?}");
    assert!(status.success(), "{}", ctx(&format!("mn exited {status}")));

    // pingall: "*** Results: 0% dropped (72/72 received)".
    let results = out
        .lines()
        .find_map(|l| l.split("*** Results: ").nth(1))
        .unwrap_or_else(|| panic!("{}", ctx("no pingall results")));
    eprintln!("{app:?}: pingall: {results}");
    assert_eq!(
        results,
        "0% dropped (72/72 received)",
        "{}",
        ctx("pingall lost pings")
    );

    // dpctl show: Mininet's dpid and port numbers.
    let show = dpctl_sections(&out, "OFPT_FEATURES_REPLY");
    assert_eq!(show.len(), 4, "{}", ctx("dpctl show: not 4 switches"));
    for (name, lines) in &show {
        let n: u64 = name[1..].parse().expect("switch number");
        let text = lines.join("\n");
        assert!(
            text.contains(&format!("dpid:{n:016x}")),
            "{}",
            ctx(&format!("{name}: not dpid {n:016x}"))
        );
        let ports = if n == 1 { 3 } else { 4 };
        for p in 1..=ports {
            assert!(
                text.contains(&format!(" {p}({name}-eth{p}):")),
                "{}",
                ctx(&format!("{name}: no port {p} named {name}-eth{p}"))
            );
        }
    }

    // dpctl dump-flows: every switch has learned flows that carried pings.
    let flows = dpctl_sections(&out, "cookie=");
    assert_eq!(
        flows.len(),
        4,
        "{}",
        ctx("dpctl dump-flows: not 4 switches")
    );
    for (name, lines) in &flows {
        let learned: Vec<&String> = lines.iter().filter(|l| app.learned(l)).collect();
        let used = learned.iter().filter(|l| n_packets(l) > 0).count();
        eprintln!(
            "{app:?}: {name}: {} flows, {} learned, {used} of them with packets",
            lines.len(),
            learned.len()
        );
        assert!(
            used > 0,
            "{}",
            ctx(&format!("{name}: no learned flow with packets"))
        );
    }

    // stop(): the bridges and Mininet's veths are gone, the daemons ended.
    let links = sh(&["ip", "-n", &ns.0, "-o", "link", "show"]);
    assert_eq!(
        links.lines().count(),
        1,
        "{}",
        ctx(&format!("interfaces left after mn:\n{links}"))
    );
    for i in 1..=4 {
        let ctl_sock = dir.path().join(format!("sw/s{i}/ofswitch.ctl"));
        assert!(
            std::os::unix::net::UnixStream::connect(&ctl_sock).is_err(),
            "{}",
            ctx(&format!("s{i}'s daemon still answers"))
        );
    }
}

#[test]
fn mininet_tree_pingall_with_ofcontroller() {
    mininet_pingall(App::Bundled);
}

#[test]
fn mininet_tree_pingall_with_osken() {
    mininet_pingall(App::OsKen);
}
