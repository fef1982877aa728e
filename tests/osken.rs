//! A real controller: os-ken running tests/osken/learning_switch.py (what
//! Ryu's simple_switch_13 does) drives a secure bridge with two internal
//! ports in two namespaces.
//!
//! Checks: the app sees the switch with our datapath id (as `ovs-ofctl
//! show` reports it), its table-miss flow is in the table, pings work,
//! the app got packet-ins, and the flows it learned (priority 1) carry the
//! traffic (n_packets > 0). A capture of the whole OpenFlow session (on
//! the loopback, the controller's port) has no packet tshark calls
//! malformed.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

fn have_osken() -> bool {
    Command::new(python())
        .args(["-c", "import os_ken"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The os-ken process; killed (by its pid) when dropped.
struct OsKen {
    child: Child,
    events: PathBuf,
    log: PathBuf,
}

impl OsKen {
    fn start(dir: &Path, port: u16) -> OsKen {
        let osken = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/osken");
        let events = dir.join("osken-events.txt");
        let log = dir.join("osken.log");
        let out = std::fs::File::create(&log).expect("os-ken log file");
        let child = Command::new(python())
            .arg(osken.join("run_app.py"))
            .arg(port.to_string())
            .arg(osken.join("learning_switch.py"))
            .env("OSKEN_EVENTS", &events)
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .expect("start os-ken");
        let mut k = OsKen { child, events, log };
        let log = k.log.clone();
        wait_child_listening(
            &mut k.child,
            &format!("os-ken on {port}"),
            Duration::from_secs(20),
            || std::fs::read_to_string(&log).unwrap_or_default(),
            || tcp_listening(port),
        );
        k
    }

    fn events(&self) -> String {
        std::fs::read_to_string(&self.events).unwrap_or_default()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl OsKen {
    /// Kills os-ken (by its pid) and waits for it.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OsKen {
    fn drop(&mut self) {
        self.stop();
    }
}

fn n_packets(line: &str) -> u64 {
    line.split("n_packets=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn osken_learning_switch_drives_the_bridge() {
    if !require_root()
        || !require("ovs-ofctl", have("ovs-ofctl"))
        || !require_capture_tools()
        || !require(
            "os-ken in /work/main/.venv (scripts/install-deps.sh)",
            have_osken(),
        )
    {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (p1, p2) = (unique("p"), unique("p"));
    d.vsctl(&["add-br", &br]);
    d.vsctl(&["set-fail-mode", &br, "secure"]);
    for p in [&p1, &p2] {
        d.add_port_of_type(&br, p, "internal");
    }
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    ns1.take(&p1, "10.236.0.1/24");
    ns2.take(&p2, "10.236.0.2/24");

    let port = free_port();
    let cap = OfCapture::start(d.dir(), "osken-session", port);
    let mut app = OsKen::start(d.dir(), port);
    let t0 = Instant::now();
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{port}")]);
    let ctx = |what: &str| {
        format!(
            "{what}\n--- events\n{}\n--- os-ken\n{}\n--- daemon\n{}",
            app.events(),
            app.log(),
            d.log()
        )
    };

    // The app sees our switch, with the datapath id ovs-ofctl reports.
    let target = d.mgmt(&br);
    wait_for("os-ken to see the switch", Duration::from_secs(15), || {
        app.events().contains("connected dpid=")
    });
    eprintln!(
        "os-ken saw the switch {:?} after set-controller",
        t0.elapsed()
    );
    let show = sh(&["ovs-ofctl", "-O", "OpenFlow13", "show", &target]);
    let dpid = show
        .split("dpid:")
        .nth(1)
        .map(|r| r.chars().take(16).collect::<String>())
        .unwrap_or_else(|| panic!("no dpid in ovs-ofctl show:\n{show}"));
    assert!(
        app.events().contains(&format!("connected dpid=0x{dpid}\n")),
        "{}",
        ctx(&format!("dpid {dpid}"))
    );

    // The table-miss flow.
    let dump = || sh(&["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", &target]);
    wait_for("the table-miss flow", Duration::from_secs(5), || {
        dump().contains("priority=0 actions=CONTROLLER:65535")
    });

    // Traffic: learned by the app, then forwarded by its flows.
    let t1 = Instant::now();
    let mut ok = false;
    while !ok && t1.elapsed() < Duration::from_secs(10) {
        ok = ns1.ping("10.236.0.2", 1);
    }
    assert!(ok, "{}", ctx("ping through the os-ken learning switch"));
    let out = ns1.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.236.0.2"]);
    assert!(out.status.success(), "{}", ctx("ping -c 3"));
    assert!(ns2.ping("10.236.0.1", 2), "{}", ctx("ping back"));

    let events = app.events();
    let packet_ins = events
        .lines()
        .filter(|l| l.starts_with("packet_in "))
        .count();
    assert!(packet_ins > 0, "{}", ctx("no packet-in"));
    assert!(events.contains("\nflow "), "{}", ctx("no learned flow"));

    // Learned flows in the switch, and they carry the traffic.
    let flows = dump();
    let learned: Vec<&str> = flows
        .lines()
        .filter(|l| l.contains("priority=1,"))
        .collect();
    assert!(learned.len() >= 2, "{}", ctx(&flows));
    assert!(
        learned.iter().any(|l| n_packets(l) > 0),
        "{}",
        ctx(&format!("learned flows never hit:\n{flows}"))
    );
    for l in &learned {
        assert!(
            l.contains("in_port=") && l.contains("dl_dst=") && l.contains("actions=output:"),
            "{l}"
        );
    }
    eprintln!("os-ken: {packet_ins} packet-ins, flows:\n{flows}");

    // The whole session, captured: nothing malformed, and the packet-ins
    // (OFPT_PACKET_IN, 10) and flow mods (14) are in it.
    app.stop();
    let summary = cap.check();
    for t in [10, 14] {
        assert!(
            summary.types.contains_key(&t),
            "no OpenFlow type {t} in the capture: {:?}",
            summary.types
        );
    }
}
