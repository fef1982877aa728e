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
fn netns_nat_with_the_controller() {
    scenario("netns-nat", &[], &["ping", "iptables", "iperf3"]);
}

#[test]
fn netns_nat_standalone() {
    scenario(
        "netns-nat",
        &["--standalone"],
        &["ping", "iptables", "iperf3"],
    );
}

#[test]
fn access_vlans_with_the_controller() {
    scenario("access-vlans", &[], &["ping"]);
}

#[test]
fn access_vlans_standalone() {
    scenario("access-vlans", &["--standalone"], &["ping"]);
}

#[test]
fn patch_ports_with_the_controller() {
    scenario("patch-ports", &[], &["ping"]);
}

#[test]
fn patch_ports_standalone() {
    scenario("patch-ports", &["--standalone"], &["ping"]);
}

#[test]
fn dhcp_router_with_the_controller() {
    scenario("dhcp-router", &[], &["ping", "dnsmasq", "busybox"]);
}

#[test]
fn dhcp_router_standalone() {
    scenario(
        "dhcp-router",
        &["--standalone"],
        &["ping", "dnsmasq", "busybox"],
    );
}

#[test]
fn gre_to_vxlan_with_the_controller() {
    scenario("gre-to-vxlan", &[], &["ping"]);
}

#[test]
fn gre_to_vxlan_standalone() {
    scenario("gre-to-vxlan", &["--standalone"], &["ping"]);
}
