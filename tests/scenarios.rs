//! The example network setups of `examples/*/run.sh`, run as a user runs
//! them: each script builds its topology (namespaces as hosts and
//! containers, ofswitch daemons, the bundled controller), sends real
//! traffic, exits non-zero on the first surprise, and removes everything it
//! made. Here each runs with this build's binaries and a unique prefix, so
//! the scenarios run in parallel with each other and with the other tests.
//! So does the README's first command, `scripts/demo.sh` (without its
//! install and build steps), plain and with `--keep`.

mod common;

use common::*;
use std::process::Command;
use std::time::Instant;

/// Runs `examples/NAME/run.sh ARGS`; panics with its output if it fails.
/// Returns its output.
fn scenario(name: &str, args: &[&str], tools: &[&str]) -> Option<String> {
    run_script_with_prefix(&format!("examples/{name}/run.sh"), args, tools, &unique(""))
}

/// Runs the script at `path` (from the workspace root) with `args`, this
/// build's binaries and name prefix `prefix`; panics with its output if it
/// fails. Returns its output (stdout then stderr), or `None` if it cannot
/// run here (no root, or one of `tools` missing; a failure under CI=true).
fn run_script_with_prefix(
    path: &str,
    args: &[&str],
    tools: &[&str],
    prefix: &str,
) -> Option<String> {
    let (ok, text) = run_script_status(path, args, tools, prefix)?;
    assert!(ok, "{path} {args:?} failed:\n{text}");
    Some(text)
}

/// Runs the script as [`run_script_with_prefix`] does and returns whether
/// it succeeded and its output.
fn run_script_status(
    path: &str,
    args: &[&str],
    tools: &[&str],
    prefix: &str,
) -> Option<(bool, String)> {
    if !require_root() {
        return None;
    }
    for t in tools {
        if !require(t, have(t)) {
            return None;
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .env("OFSWITCH", ofswitch_bin())
        .env("OFCONTROLLER", ofcontroller_bin())
        .env("OFX_PREFIX", prefix)
        .output()
        .expect("run the script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "{path} {args:?}: {} in {:?}\n{text}",
        out.status,
        t0.elapsed()
    );
    Some((out.status.success(), text))
}

/// The README's first command, `scripts/demo.sh`, less its install and
/// build steps (`--no-build`: this build's binaries): two hosts joined by
/// VXLAN, eight containers in two VLANs under the controller. It must pass
/// its own checks (it exits non-zero on any surprise), print what the README
/// shows, and leave nothing behind.
#[test]
fn demo() {
    let prefix = unique("");
    let t0 = Instant::now();
    let Some(text) = run_script_with_prefix(
        "scripts/demo.sh",
        &["--no-build"],
        &["ping", "iperf3", "ss"],
        &prefix,
    ) else {
        return;
    };
    let took = t0.elapsed();
    for want in [
        // The ping matrix: every ordered pair, as the VLANs say.
        "from \\ to",
        "red1       10  -      yes    no     no     yes    yes    no     no",
        "56 pairs: 24 in the same VLAN reached each other, 32 across VLANs did not",
        // Each switch's flows, table by table.
        "host1# ofswitch ofctl --names dump-flows br0",
        "host2# ofswitch ofctl --names dump-flows br0",
        "eth_dst",
        "set_field:0x3f2->tun_id",
        // iperf3 across the tunnel, then the controller's status.
        "Gbit/s through two userspace switches and the tunnel",
        "switch 00000000000000d1 at 192.168.50.1:",
        "switch 00000000000000d2 at 192.168.50.2:",
        "demo: 2 hosts, 8 containers, 2 VLANs over VXLAN: 24 same-VLAN pairs reached, 32 cross-VLAN pairs did not;",
    ] {
        assert!(text.contains(want), "the demo's output lacks {want:?}:\n{text}");
    }
    assert!(
        took < std::time::Duration::from_secs(180),
        "the demo took {took:?}, more than three minutes"
    );
    assert_demo_left_nothing(&prefix);
}

/// No namespace and no directory of the demo run with `prefix` is left.
fn assert_demo_left_nothing(prefix: &str) {
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let ours: Vec<String> = ["host1", "host2", "red1", "red2", "red3", "red4"]
        .iter()
        .chain(&["blue1", "blue2", "blue3", "blue4"])
        .map(|n| format!("{prefix}{n}"))
        .collect();
    let left: Vec<&str> = std::str::from_utf8(&netns.stdout)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| ours.iter().any(|o| o == n))
        .collect();
    assert!(left.is_empty(), "the demo left namespaces behind: {left:?}");
    let dirs: Vec<_> = std::fs::read_dir("/tmp")
        .expect("read /tmp")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("ofx-{prefix}."))
        })
        .collect();
    assert!(dirs.is_empty(), "the demo left {dirs:?} behind");
}

/// Ctrl-C in the middle of the demo (SIGINT to its whole process group,
/// as a terminal sends it, here during the ping matrix): it stops at once
/// with status 130, and leaves no namespace, no directory and no process
/// behind.
#[test]
fn demo_interrupted_leaves_nothing_behind() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    if !require_root() {
        return;
    }
    for t in ["ping", "iperf3", "ss"] {
        if !require(t, have(t)) {
            return;
        }
    }
    let prefix = unique("");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("--no-build")
        .env("OFSWITCH", ofswitch_bin())
        .env("OFCONTROLLER", ofcontroller_bin())
        .env("OFX_PREFIX", &prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // A process group of its own, as a shell gives a foreground job.
        .process_group(0)
        .spawn()
        .expect("run scripts/demo.sh");
    let group = child.id() as libc::pid_t;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut text = String::new();
    let mut interrupted_at = None;
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("== 5.") {
            // A moment into the matrix, then Ctrl-C.
            std::thread::sleep(std::time::Duration::from_millis(500));
            // SAFETY: kill(2) of the process group this test started.
            unsafe { libc::kill(-group, libc::SIGINT) };
            interrupted_at = Some(Instant::now());
            break;
        }
    }
    // What it prints after the Ctrl-C, until it exits.
    for line in lines {
        text.push_str(&line.unwrap_or_default());
        text.push('\n');
    }
    let status = child.wait().expect("wait for the demo");
    let Some(at) = interrupted_at else {
        panic!("the demo never reached its ping matrix ({status}):\n{text}");
    };
    let took = at.elapsed();
    eprintln!("demo interrupted: {status} {took:?} after the Ctrl-C\n{text}");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        took < std::time::Duration::from_secs(20),
        "the demo took {took:?} to stop after Ctrl-C"
    );
    // No process of its group is left (the daemons, the controller, pings);
    // an orphan it killed may take a moment to be reaped (a zombie still
    // counts for kill(2)).
    let gone = || {
        // SAFETY: kill(2) with signal 0 only checks that the group exists.
        let rc = unsafe { libc::kill(-group, 0) };
        rc != 0
    };
    let t0 = Instant::now();
    while !gone() && t0.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if !gone() {
        let ps = Command::new("ps")
            .args(["-o", "pid,stat,etime,args", "-g", &group.to_string()])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        panic!("processes of the demo's group outlived it:\n{ps}");
    }
    assert_demo_left_nothing(&prefix);
}

/// `scripts/demo.sh --keep`: the topology stays up after the demo (its
/// namespaces answer pings), the demo's output says how to look around and
/// names a teardown script, and that script removes all of it.
#[test]
fn demo_keep_then_teardown() {
    let prefix = unique("");
    // Tears down whatever is left, should an assertion fail on the way.
    struct Teardown(Option<String>);
    impl Drop for Teardown {
        fn drop(&mut self) {
            if let Some(script) = self.0.take() {
                let _ = Command::new("bash").arg(script).output();
            }
        }
    }
    let Some((ok, text)) = run_script_status(
        "scripts/demo.sh",
        &["--no-build", "--keep"],
        &["ping", "iperf3", "ss"],
        &prefix,
    ) else {
        return;
    };
    // --keep keeps the topology on a failure too (to look at it): the
    // teardown script comes first.
    let script = text
        .lines()
        .skip_while(|l| !l.starts_with("The topology is still up"))
        .nth(1)
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no teardown command in the demo's output:\n{text}"));
    let mut guard = Teardown(Some(script.clone()));
    assert!(ok, "scripts/demo.sh --no-build --keep failed:\n{text}");
    assert!(script.ends_with("/teardown.sh"), "{script}");
    assert!(text.contains("Look around"), "{text}");
    assert!(
        text.contains(&format!("ip netns exec {prefix}red1 ping -c 3 10.50.0.21")),
        "{text}"
    );
    // Still up: red1 (host1) reaches red3 (host2) across the tunnel.
    let ping = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}red1")])
        .args(["ping", "-c", "1", "-W", "2", "10.50.0.21"])
        .output()
        .expect("ping");
    assert!(
        ping.status.success(),
        "red1 -> red3 after --keep: {}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let out = Command::new("bash")
        .arg(guard.0.take().expect("teardown script"))
        .output()
        .expect("run the teardown script");
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let list = String::from_utf8_lossy(&netns.stdout);
    for n in ["host1", "red1", "blue4"] {
        assert!(
            !list
                .lines()
                .any(|l| l.starts_with(&format!("{prefix}{n} ")) || l == format!("{prefix}{n}")),
            "{prefix}{n} is still there after {script}:\n{list}"
        );
    }
    assert!(
        !std::path::Path::new(&script).exists(),
        "{script} did not remove the run's directory"
    );
}

#[test]
fn vxlan_two_hosts_with_the_controller() {
    scenario("vxlan-two-hosts", &[], &["ping"]);
}

#[test]
fn vxlan_two_hosts_standalone() {
    scenario("vxlan-two-hosts", &["--standalone"], &["ping"]);
}

#[test]
fn mgmt_port_with_the_controller() {
    scenario("mgmt-port", &[], &["ping", "iperf3", "ss"]);
}

#[test]
fn mgmt_port_standalone() {
    scenario("mgmt-port", &["--standalone"], &["ping", "iperf3", "ss"]);
}

#[test]
fn gre_mesh_with_the_controller() {
    scenario("gre-mesh", &[], &["ping", "iperf3", "ss"]);
}

#[test]
fn gre_mesh_stp() {
    scenario("gre-mesh", &["--stp"], &["ping", "iperf3", "ss"]);
}

/// Two tests for a scenario: with the bundled controller (the default) and
/// `--standalone`, in a module named after it.
macro_rules! both_modes {
    ($module:ident, $script:literal, $tools:expr) => {
        mod $module {
            #[test]
            fn with_the_controller() {
                super::scenario($script, &[], $tools);
            }

            #[test]
            fn standalone() {
                super::scenario($script, &["--standalone"], $tools);
            }
        }
    };
}

both_modes!(netns_nat, "netns-nat", &["ping", "iptables", "iperf3"]);
both_modes!(access_vlans, "access-vlans", &["ping"]);
both_modes!(patch_ports, "patch-ports", &["ping"]);
both_modes!(dhcp_router, "dhcp-router", &["ping", "dnsmasq", "busybox"]);
both_modes!(gre_to_vxlan, "gre-to-vxlan", &["ping"]);
