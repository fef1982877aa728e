//! Fail modes end to end, with a controller written here with the
//! `openflow` crate (listening on a free port, killed by closing its socket
//! and its listener, restarted on the same port).
//!
//! - secure: flows the controller installed keep forwarding after it dies;
//!   traffic without flows is never forwarded by the switch on its own;
//!   the switch reconnects by itself (back-off at most 8 s) when the
//!   controller comes back, without a daemon restart.
//! - standalone (`--probe-interval 1`): three probe intervals after the
//!   controller dies the bridge fails open and forwards as a learning
//!   switch, over the controller's drop-all flow; when the controller is
//!   back, fail-open ends and the drop flow applies again.

mod common;
mod ofclient;

use common::*;
use ofclient::{Listener, Session};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

struct Net {
    d: Daemon,
    br: String,
    ns: Vec<Netns>,
}

/// A daemon with a bridge in `mode` and `n` internal ports in `n`
/// namespaces with 10.`net`.0.i/24 (port i is OpenFlow port i).
fn setup(args: &[&str], mode: &str, n: usize, net: u8) -> Net {
    let d = Daemon::start(args);
    let br = unique("br");
    d.vsctl(&["add-br", &br]);
    d.vsctl(&["set-fail-mode", &br, mode]);
    let mut ns = Vec::new();
    for i in 1..=n {
        let p = unique("p");
        d.add_port_of_type(&br, &p, "internal");
        let shown = d.vsctl(&["get", "interface", &p, "ofport"]);
        assert_eq!(shown.trim(), i.to_string(), "port {p} is OpenFlow port {i}");
        let x = Netns::new(&unique("n"));
        x.take(&p, &format!("10.{net}.0.{i}/24"));
        ns.push(x);
    }
    Net { d, br, ns }
}

/// Waits for the switch on `l` and does the handshake; returns the session
/// and how long the switch took to connect.
fn accept(l: &Listener, within: Duration) -> (Session, Duration) {
    let t0 = Instant::now();
    let mut s = l
        .accept(within)
        .unwrap_or_else(|| panic!("the switch did not connect within {within:?}"));
    let took = t0.elapsed();
    s.handshake();
    (s, took)
}

fn dump_flows(d: &Daemon, br: &str) -> String {
    let out = d.run(&["ofctl", "dump-flows", br]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn secure_keeps_flows_without_controller_and_reconnects() {
    if !require_root() {
        return;
    }
    let net = setup(&["--probe-interval", "1"], "secure", 3, 234);
    let (d, br) = (&net.d, &net.br);
    let l = Listener::on(free_listener());
    let port = l.port;
    d.vsctl(&["set-controller", br, &format!("tcp:127.0.0.1:{port}")]);
    let (mut c, _) = accept(&l, T);
    let dpid = c.features.as_ref().map(|f| f.datapath_id);
    // Ports 1 and 2 are wired to each other by flows; port 3 has none.
    c.add_flow_ok("priority=10,in_port=1,actions=output:2");
    c.add_flow_ok("priority=10,in_port=2,actions=output:1");
    assert!(
        ping_until(&net.ns[0], "10.234.0.2", T).is_some(),
        "the controller's flows forward\n{}",
        d.log()
    );
    assert!(!net.ns[2].ping("10.234.0.1", 1), "no flow, no forwarding");
    let show = d.vsctl(&["show"]);
    assert!(show.contains("is_connected: true"), "{show}");

    // The controller dies. Its flows stay and keep forwarding, well past
    // three probe intervals; nothing else is forwarded.
    c.close();
    drop(l);
    wait_for("the switch to see the controller gone", T, || {
        !d.vsctl(&["show"]).contains("is_connected: true")
    });
    std::thread::sleep(Duration::from_secs(4));
    let flows = dump_flows(d, br);
    assert_eq!(flows.matches("priority=10").count(), 2, "{flows}");
    assert!(
        net.ns[0].ping("10.234.0.2", 2),
        "installed flows forward without a controller\n{}",
        d.log()
    );
    assert!(
        !net.ns[2].ping("10.234.0.1", 1) && !net.ns[0].ping("10.234.0.3", 1),
        "secure mode never forwards on its own (no NORMAL)"
    );
    assert!(!d.log().contains("fail-open"), "{}", d.log());

    // The controller comes back on the same port: the switch reconnects
    // by itself, with a new HELLO and FEATURES.
    let l = Listener::bind(port);
    let (mut c, took) = accept(&l, Duration::from_secs(10));
    eprintln!("secure: reconnected {took:?} after the controller came back");
    assert!(
        took <= Duration::from_millis(8500),
        "back-off above 8 s: {took:?}"
    );
    assert_eq!(c.features.as_ref().map(|f| f.datapath_id), dpid);
    assert!(c.echo());
    wait_for("is_connected again", T, || {
        d.vsctl(&["show"]).contains("is_connected: true")
    });
    // And it programs the switch again: port 3 joins.
    c.add_flow_ok("priority=10,in_port=3,actions=output:1");
    c.add_flow_ok("priority=20,in_port=1,actions=output:2,output:3");
    assert!(
        ping_until(&net.ns[2], "10.234.0.1", T).is_some(),
        "the new controller's flows forward\n{}",
        d.log()
    );
}

#[test]
fn standalone_fails_open_and_back() {
    if !require_root() {
        return;
    }
    let net = setup(&["--probe-interval", "1"], "standalone", 2, 235);
    let (d, br) = (&net.d, &net.br);
    let l = Listener::on(free_listener());
    let port = l.port;
    d.vsctl(&["set-controller", br, &format!("tcp:127.0.0.1:{port}")]);
    let (mut c, _) = accept(&l, T);
    c.add_flow_ok("priority=100,actions=drop");
    let show = d.vsctl(&["show"]);
    assert!(show.contains("is_connected: true"), "{show}");
    // Connected: the drop flow applies (also beyond the grace period).
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !net.ns[0].ping("10.235.0.2", 1),
        "the controller's drop flow applies\n{}",
        d.log()
    );

    // The controller dies: after three probe intervals (3 s) the bridge is a
    // learning switch, whatever the flow table says.
    c.close();
    drop(l);
    let t0 = Instant::now();
    assert!(
        !net.ns[0].ping("10.235.0.2", 1),
        "not open at once: the drop flow still applies"
    );
    let took = ping_until(&net.ns[0], "10.235.0.2", Duration::from_secs(10))
        .map(|_| t0.elapsed())
        .unwrap_or_else(|| panic!("no fail-open within 10 s\n{}", d.log()));
    eprintln!("standalone: forwarding {took:?} after the controller died");
    assert!(
        took >= Duration::from_millis(2500),
        "failed open too early: {took:?}"
    );
    let flows = dump_flows(d, br);
    assert!(flows.contains("priority=100 actions=drop"), "{flows}");
    assert!(d.log().contains("entering fail-open"), "{}", d.log());

    // The controller comes back: fail-open ends, the drop flow applies.
    let l = Listener::bind(port);
    let (mut c, took) = accept(&l, Duration::from_secs(10));
    eprintln!("standalone: reconnected {took:?} after the controller came back");
    assert!(
        took <= Duration::from_millis(8500),
        "back-off above 8 s: {took:?}"
    );
    wait_for("fail-open to end", T, || {
        d.log().contains("leaving fail-open")
    });
    assert!(c.echo());
    assert!(
        !net.ns[0].ping("10.235.0.2", 1),
        "the drop flow applies again\n{}",
        d.log()
    );
    let show = d.vsctl(&["show"]);
    assert!(show.contains("is_connected: true"), "{show}");
}
