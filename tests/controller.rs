//! `ofcontroller run` driving a real `ofswitch` bridge: four namespace
//! hosts, two VLANs by policy.
//!
//! Checks what the controller is for: hosts of one VLAN reach each other,
//! hosts of different VLANs do not (not even an ARP answer crosses), known
//! hosts talk without packet-ins once learned (the flows carry them), a
//! killed controller that comes back resynchronises the switch with no
//! manual step, and SIGHUP reloads the policy (a bad file is refused and
//! the running policy kept).

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn controller_isolates_vlans_learns_and_resyncs() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let ns: Vec<Netns> = (0..4).map(|_| Netns::new(&unique("n"))).collect();
    let ports: [String; 4] = std::array::from_fn(|_| unique("p"));
    let ip = |i: usize| format!("10.237.0.{}", i + 1);
    for i in 0..4 {
        d.vsctl(&[
            "add-netns-port",
            &br,
            &ports[i],
            &ns[i].0,
            &format!("--ipaddress={}/24", ip(i)),
            &format!("--macaddress=02:00:00:23:70:0{}", i + 1),
        ]);
    }
    let dpid_text = d.vsctl(&["get", "bridge", &br, "datapath_id"]);
    let dpid = u64::from_str_radix(dpid_text.trim().trim_matches('"'), 16)
        .unwrap_or_else(|e| panic!("datapath_id {dpid_text:?}: {e}"));

    let file = d.dir().join("policy.toml");
    std::fs::write(&file, two_vlans_policy(dpid, &ports, "b")).expect("write policy");
    let port = free_port();
    let mut ctl = Controller::start(port, &file, d.dir().join("controller.log"));
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{port}")]);
    let ctx = |ctl: &Controller, what: &str| {
        format!(
            "{what}\n--- controller\n{}\n--- daemon\n{}",
            ctl.log(),
            d.log()
        )
    };
    let t0 = Instant::now();
    wait_for(
        "the controller to resync the switch",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    eprintln!("switch resynced {:?} after set-controller", t0.elapsed());
    let log = ctl.log();
    assert!(
        log.contains(&format!("switch {dpid:016x} connected")),
        "{}",
        ctx(&ctl, "connect line")
    );

    // Same VLAN: 1 <-> 2 (VLAN 10), 3 <-> 4 (VLAN 20); across: nothing.
    let hosts = FourHosts {
        ns: &ns,
        subnet: "10.237.0",
    };
    hosts.same_vlan_pings(&|w| ctx(&ctl, w));
    hosts.isolated(&|w| ctx(&ctl, w));
    hosts.warm_without_packet_ins(&mut || packet_ins(&d, &br), &|w| ctx(&ctl, w));

    // Kill the controller and start it again: the switch reconnects, is
    // resynchronised (its flows deleted and reinstalled), and hosts relearn.
    ctl.kill();
    let ctl = Controller::start(port, &file, d.dir().join("controller2.log"));
    let t2 = Instant::now();
    wait_for(
        "the new controller to resync the switch",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    hosts.pings_recover(&|w| ctx(&ctl, w));
    eprintln!("pings recovered {:?} after the restart", t2.elapsed());
    hosts.reloads(&ctl, &file, &two_vlans_policy(dpid, &ports, "a"), &|w| {
        ctx(&ctl, w)
    });
    eprintln!("--- controller log\n{}", ctl.log());
}

/// The other direction: the bridge listens (`ptcp:`) and the controller,
/// started first, connects out and retries until the bridge is there. No
/// policy: learning only, every port in VLAN 1.
#[test]
fn controller_connects_out_to_a_passive_switch() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let ns: Vec<Netns> = (0..2).map(|_| Netns::new(&unique("n"))).collect();
    for (i, n) in ns.iter().enumerate() {
        d.vsctl(&[
            "add-netns-port",
            &br,
            &unique("p"),
            &n.0,
            &format!("--ipaddress=10.238.0.{}/24", i + 1),
        ]);
    }
    let port = free_port();
    let ctl = Controller::spawn(
        &["run", "--connect", &format!("tcp:127.0.0.1:{port}")],
        d.dir().join("controller.log"),
    );
    wait_for("the first failed attempt", Duration::from_secs(20), || {
        ctl.log().contains("cannot connect")
    });
    let t0 = Instant::now();
    d.vsctl(&["set-controller", &br, &format!("ptcp:{port}:127.0.0.1")]);
    wait_for(
        "the controller to connect and resync",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    eprintln!(
        "resynced {:?} after the bridge started listening",
        t0.elapsed()
    );
    let ok = (0..20).any(|_| ns[0].ping("10.238.0.2", 1));
    assert!(
        ok,
        "ping\n--- controller\n{}\n--- daemon\n{}",
        ctl.log(),
        d.log()
    );
    assert!(ns[1].ping("10.238.0.1", 2), "ping back\n{}", ctl.log());

    // The bridge stops listening: one line, and the controller retries.
    d.vsctl(&["del-controller", &br]);
    wait_for("the disconnect line", Duration::from_secs(20), || {
        ctl.log().contains("disconnected")
    });
}
