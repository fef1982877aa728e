//! The example network setups of `examples/*/run.sh`, run as a user runs
//! them: each script builds its topology (namespaces as hosts and
//! containers, ofswitch daemons, the bundled controller), sends real
//! traffic, exits non-zero on the first surprise, and removes everything it
//! made. Here each runs with this build's binaries and a unique prefix, so
//! the scenarios run in parallel with each other and with the other tests.

mod common;

use common::*;
use std::process::Command;
use std::time::Instant;

/// Runs `examples/NAME/run.sh ARGS`; panics with its output if it fails.
/// Returns its output.
fn scenario(name: &str, args: &[&str], tools: &[&str]) -> Option<String> {
    if !require_root() {
        return None;
    }
    for t in tools {
        if !require(t, have(t)) {
            return None;
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("run.sh");
    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .env("OFSWITCH", ofswitch_bin())
        .env("OFCONTROLLER", ofcontroller_bin())
        .env("OFX_PREFIX", unique(""))
        .output()
        .expect("run the scenario script");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name} {args:?} failed ({}):\n{text}",
        out.status
    );
    eprintln!("{name} {args:?}: {:?}\n{text}", t0.elapsed());
    Some(text)
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
