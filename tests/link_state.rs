//! Port link state end to end, on veth pairs the tests make: the switch
//! follows the interface behind a system port as Open vSwitch does.
//!
//! - the veth's peer goes down (no carrier) → PORT_STATUS MODIFY with
//!   `state` LINK_DOWN; back up → LIVE again;
//! - the port's own interface set down (admin) → `config` PORT_DOWN and
//!   `state` LINK_DOWN; up → neither, LIVE;
//! - the pair deleted → LINK_DOWN;
//! - `ofctl show` / `dump-ports-desc` and `vsctl get interface X
//!   link_state` say the same;
//! - a fast-failover group watching a port fails over when that port's
//!   link goes down, and back when it returns.

mod common;
mod ofclient;

use common::*;
use ofclient::{Listener, Session};
use openflow::port::{config, reason, state};
use openflow::{Body, Message};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

/// A veth pair in the daemon's (the test's) namespace, quiet (no IPv6),
/// with the peer up.
fn veth() -> Veth {
    let v = Veth::new().quiet();
    sh(&["ip", "link", "set", &v.peer, "up"]);
    v
}

/// A daemon with a secure bridge whose one port is a fresh veth's end
/// (the veth is returned: dropping it deletes the pair).
fn bridge_with_veth_port() -> (Daemon, String, Veth) {
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let v = veth();
    d.vsctl(&["add-port", &br, &v.end]);
    (d, br, v)
}

fn ofctl(d: &Daemon, args: &[&str]) -> String {
    let mut all = vec!["ofctl"];
    all.extend_from_slice(args);
    let out = d.run(&all);
    assert!(
        out.status.success(),
        "ofctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `config:` and `state:` of port `name` in `ofctl VERB br` output.
fn config_and_state(text: &str, name: &str) -> Option<(String, String)> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.contains(&format!("({name}):")));
    lines.next()?;
    let field = |l: Option<&str>, key: &str| {
        l.and_then(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let cfg = field(lines.next(), "config:")?;
    let st = field(lines.next(), "state:")?;
    Some((cfg, st))
}

fn link_state(d: &Daemon, iface: &str) -> String {
    d.vsctl(&["get", "interface", iface, "link_state"])
        .trim()
        .trim_matches('"')
        .to_string()
}

/// Waits for a PORT_STATUS MODIFY about `name` whose config and state
/// pass `want`; returns (config, state).
fn wait_modify(
    c: &mut Session,
    d: &Daemon,
    name: &str,
    what: &str,
    want: impl Fn(u32, u32) -> bool,
) -> (u32, u32) {
    let m = c
        .wait(T, |m: &Message| {
            matches!(&m.body, Body::PortStatus(ps)
                if ps.reason == reason::MODIFY
                    && ps.desc.name == name
                    && want(ps.desc.config, ps.desc.state))
        })
        .unwrap_or_else(|| panic!("no PORT_STATUS MODIFY for {what}\n{}", d.log()));
    let Body::PortStatus(ps) = m.body else {
        unreachable!("matched a PORT_STATUS");
    };
    (ps.desc.config, ps.desc.state)
}

/// Waits until `dump-ports-desc` shows `name` with this config and state.
fn wait_desc(d: &Daemon, br: &str, name: &str, cfg: &str, st: &str) {
    wait_for(&format!("{name}: config {cfg}, state {st}"), T, || {
        config_and_state(&ofctl(d, &["dump-ports-desc", br]), name)
            == Some((cfg.to_string(), st.to_string()))
    });
}

#[test]
fn port_status_follows_the_veth_link() {
    if !require_root() {
        return;
    }
    let (d, br, v) = bridge_with_veth_port();
    let p = v.end.clone();
    // The port comes up once the veth has carrier (both ends up).
    wait_desc(&d, &br, &p, "0", "LIVE");
    assert_eq!(link_state(&d, &p), "up");

    let l = Listener::on(free_listener());
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{}", l.port)]);
    let mut c = l
        .accept(T)
        .unwrap_or_else(|| panic!("the switch did not connect\n{}", d.log()));
    c.handshake();

    // Carrier lost: the peer goes down.
    sh(&["ip", "link", "set", &v.peer, "down"]);
    let (cfg, st) = wait_modify(&mut c, &d, &p, "the peer down", |_, s| {
        s & state::LINK_DOWN != 0
    });
    assert_eq!(cfg & config::PORT_DOWN, 0, "admin state untouched");
    assert_eq!(st & state::LIVE, 0, "not LIVE without carrier");
    wait_desc(&d, &br, &p, "0", "LINK_DOWN");
    let show = ofctl(&d, &["show", &br]);
    assert_eq!(
        config_and_state(&show, &p),
        Some(("0".to_string(), "LINK_DOWN".to_string())),
        "{show}"
    );
    assert_eq!(link_state(&d, &p), "down");

    // Carrier back.
    sh(&["ip", "link", "set", &v.peer, "up"]);
    let (cfg, st) = wait_modify(&mut c, &d, &p, "the peer up", |_, s| {
        s & state::LINK_DOWN == 0
    });
    assert_eq!((cfg, st & state::LIVE), (0, state::LIVE));
    wait_desc(&d, &br, &p, "0", "LIVE");
    assert_eq!(link_state(&d, &p), "up");

    // The port's own interface administratively down, then up.
    sh(&["ip", "link", "set", &p, "down"]);
    let (cfg, st) = wait_modify(&mut c, &d, &p, "the port admin down", |c, _| {
        c & config::PORT_DOWN != 0
    });
    assert_eq!(st & (state::LINK_DOWN | state::LIVE), state::LINK_DOWN);
    assert_eq!(cfg, config::PORT_DOWN);
    wait_desc(&d, &br, &p, "PORT_DOWN", "LINK_DOWN");
    assert_eq!(link_state(&d, &p), "down");
    sh(&["ip", "link", "set", &p, "up"]);
    wait_modify(&mut c, &d, &p, "the port admin up", |c, s| {
        c == 0 && s & state::LIVE != 0
    });
    wait_desc(&d, &br, &p, "0", "LIVE");

    // The pair deleted (the peer takes the port's interface along).
    sh(&["ip", "link", "del", &v.peer]);
    wait_modify(&mut c, &d, &p, "the veth deleted", |_, s| {
        s & state::LINK_DOWN != 0
    });
    wait_desc(&d, &br, &p, "0", "LINK_DOWN");
    assert_eq!(link_state(&d, &p), "down");

    // The pair made again under the same names (a new ifindex): the port
    // is LIVE again and receives on the new interface.
    let v2 = Veth {
        end: v.end.clone(),
        peer: v.peer.clone(),
    };
    sh(&[
        "ip", "link", "add", &v2.end, "type", "veth", "peer", "name", &v2.peer,
    ]);
    sh(&["ip", "link", "set", &v2.peer, "up"]);
    wait_modify(&mut c, &d, &p, "the veth made again", |_, s| {
        s & state::LIVE != 0
    });
    wait_received(&d, &br, 1, &v2.peer);
    std::mem::forget(v2);

    // Nothing else about the port was announced (no ADD or DELETE).
    let others: Vec<&Message> = c
        .seen
        .iter()
        .filter(|m| matches!(&m.body, Body::PortStatus(ps) if ps.desc.name == p && ps.reason != reason::MODIFY))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    d.vsctl(&["del-port", &br, &p]);
}

/// Waits until port `port` receives something sent out of `peer`, the
/// other end of its veth.
fn wait_received(d: &Daemon, br: &str, port: u32, peer: &str) {
    let before = rx_packets(d, br, port);
    let t0 = std::time::Instant::now();
    while rx_packets(d, br, port) == before {
        assert!(
            t0.elapsed() < T,
            "nothing received on the new interface\n{}",
            d.log()
        );
        // ARP requests out of the peer reach the port.
        let _ = std::process::Command::new("arping")
            .args(["-c", "1", "-w", "1", "-I", peer, "192.0.2.77"])
            .output();
        let _ = std::process::Command::new("ping")
            .args(["-c", "1", "-W", "1", "-I", peer, "192.0.2.77"])
            .output();
    }
}

/// The daemon's warnings about port `name`.
fn port_warnings(d: &Daemon, name: &str) -> Vec<String> {
    d.log()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains(name))
        .map(str::to_string)
        .collect()
}

/// A system port whose interface vanishes for a while: one warning in the
/// log however long it stays away (none per tick or per retry, where there
/// used to be ten a second), and when an interface of that name is made
/// again the port opens it (an info line) and receives on it.
#[test]
fn a_vanished_interface_is_warned_about_once_and_reopened() {
    if !require_root() {
        return;
    }
    let (d, br, v) = bridge_with_veth_port();
    let p = v.end.clone();
    wait_desc(&d, &br, &p, "0", "LIVE");
    let ofport: u32 = d
        .vsctl(&["get", "interface", &p, "ofport"])
        .trim()
        .parse()
        .expect("a port number");

    sh(&["ip", "link", "del", &v.peer]);
    wait_for("the port's link down", T, || link_state(&d, &p) == "down");
    // Thirty bridge ticks with the interface away.
    std::thread::sleep(Duration::from_secs(3));
    let warnings = port_warnings(&d, &p);
    assert_eq!(
        warnings.len(),
        1,
        "one warning for the lost interface, not one per retry:\n{}",
        warnings.join("\n")
    );
    assert!(warnings[0].contains("interface gone"), "{}", warnings[0]);

    // Made again under the same names.
    sh(&[
        "ip", "link", "add", &v.end, "type", "veth", "peer", "name", &v.peer,
    ]);
    sh(&["ip", "link", "set", &v.peer, "up"]);
    wait_desc(&d, &br, &p, "0", "LIVE");
    wait_for("the port reopened (an info line)", T, || {
        d.log()
            .lines()
            .any(|l| l.contains("INFO") && l.contains(&p) && l.contains("reopened"))
    });
    wait_received(&d, &br, ofport, &v.peer);
    let warnings = port_warnings(&d, &p);
    assert_eq!(warnings.len(), 1, "{}", warnings.join("\n"));
}

/// rx packets of `port` in `ofctl dump-ports`.
fn rx_packets(d: &Daemon, br: &str, port: u32) -> u64 {
    let text = ofctl(d, &["dump-ports", br, &port.to_string()]);
    text.lines()
        .find_map(|l| l.split_once("rx pkts=").map(|(_, r)| r))
        .and_then(|v| v.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no rx pkts in:\n{text}"))
}

/// tx packets of `port` in `ofctl dump-ports`.
fn tx_packets(d: &Daemon, br: &str, port: u32) -> u64 {
    let text = ofctl(d, &["dump-ports", br, &port.to_string()]);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("tx pkts="))
        .and_then(|v| v.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tx pkts in:\n{text}"))
}

#[test]
fn fast_failover_group_follows_the_watched_link() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let (v1, v2) = (veth(), veth());
    d.vsctl(&["add-port", &br, &v1.end]);
    d.vsctl(&["add-port", &br, &v2.end]);
    for (v, n) in [(&v1, "1"), (&v2, "2")] {
        let got = d.vsctl(&["get", "interface", &v.end, "ofport"]);
        assert_eq!(got.trim(), n, "{} is OpenFlow port {n}", v.end);
        wait_desc(&d, &br, &v.end, "0", "LIVE");
    }
    // No flows: the switch sends nothing of its own.
    ofctl(&d, &["del-flows", &br]);
    ofctl(
        &d,
        &[
            "add-group",
            &br,
            "group_id=1,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2",
        ],
    );
    let frame =
        "ffffffffffff020000000001080600010800060400010200000000010a0000010000000000000a000002";
    let send = || {
        ofctl(&d, &["packet-out", &br, "CONTROLLER", "group:1", frame]);
    };
    let counts = || (tx_packets(&d, &br, 1), tx_packets(&d, &br, 2));

    let (a1, a2) = counts();
    send();
    wait_for("the frame out of port 1", T, || counts() == (a1 + 1, a2));

    // Port 1 loses carrier: the group fails over to port 2.
    sh(&["ip", "link", "set", &v1.peer, "down"]);
    wait_desc(&d, &br, &v1.end, "0", "LINK_DOWN");
    let (b1, b2) = counts();
    send();
    wait_for("the frame out of port 2", T, || counts() == (b1, b2 + 1));

    // Port 1 back: the first bucket again.
    sh(&["ip", "link", "set", &v1.peer, "up"]);
    wait_desc(&d, &br, &v1.end, "0", "LIVE");
    let (c1, c2) = counts();
    send();
    wait_for("the frame out of port 1 again", T, || {
        counts() == (c1 + 1, c2)
    });

    // Port 1 administratively down: fails over too.
    sh(&["ip", "link", "set", &v1.end, "down"]);
    wait_desc(&d, &br, &v1.end, "PORT_DOWN", "LINK_DOWN");
    let (e1, e2) = counts();
    send();
    wait_for("the frame out of port 2 again", T, || {
        counts() == (e1, e2 + 1)
    });
    d.vsctl(&["del-port", &br, &v1.end]);
    d.vsctl(&["del-port", &br, &v2.end]);
}

#[test]
fn internal_port_follows_its_admin_state_and_keeps_it_in_another_namespace() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let p = unique("i");
    d.vsctl(&["add-br", &br]);
    d.add_port_of_type(&br, &p, "internal");
    wait_desc(&d, &br, &p, "0", "LIVE");
    sh(&["ip", "link", "set", &p, "down"]);
    wait_desc(&d, &br, &p, "PORT_DOWN", "LINK_DOWN");
    assert_eq!(link_state(&d, &p), "down");
    sh(&["ip", "link", "set", &p, "up"]);
    wait_desc(&d, &br, &p, "0", "LIVE");
    assert_eq!(link_state(&d, &p), "up");

    // Moved into a namespace the TAP is still the switch's: no name in the
    // daemon's namespace does not make its link down.
    let ns = Netns::new(&unique("n"));
    ns.take(&p, "10.251.0.1/24");
    std::thread::sleep(Duration::from_millis(500));
    let desc = ofctl(&d, &["dump-ports-desc", &br]);
    assert_eq!(
        config_and_state(&desc, &p),
        Some(("0".to_string(), "LIVE".to_string())),
        "{desc}"
    );
}
