//! `ofcontroller status` and `ofcontroller reload` against a running
//! controller, over its control socket.
//!
//! With a real `ofswitch` bridge and two namespace hosts: after a ping,
//! status lists the switch, both ports and both hosts' MACs on their ports
//! with an age; reload with a broken file is refused (exit 1, the error on
//! stderr, the network untouched), and reload with a port moved to another
//! VLAN cuts the two hosts apart. Without root: the client's error when no
//! controller runs, a second controller refused on a live socket, and the
//! socket removed at a clean exit.

mod common;

use common::*;
use serde_json::Value;
use std::process::Output;
use std::time::{Duration, Instant};

fn policy(dpid: u64, ports: &[String], second_in: &str) -> String {
    ab_policy(dpid, &[(&ports[0], "a"), (&ports[1], second_in)])
}

fn text(o: &Output) -> String {
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `ofcontroller status --json`, parsed.
fn status(ctl: &Controller) -> Value {
    let o = ctl.ctl("status", &["--json"]);
    assert!(o.status.success(), "status --json: {}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("status JSON: {e}: {}", text(&o)))
}

/// The number of the port named `name` in a switch's status.
fn port_no(sw: &Value, name: &str) -> u64 {
    sw["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["number"].as_u64())
        .unwrap_or_else(|| panic!("no port {name} in {sw:#}"))
}

/// The learned MAC `mac` of a switch's status, if any.
fn mac_entry<'a>(sw: &'a Value, mac: &str) -> Option<&'a Value> {
    sw["macs"].as_array()?.iter().find(|m| m["mac"] == mac)
}

#[test]
fn status_shows_macs_and_reload_moves_a_port() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let ip = |i: usize| format!("10.239.0.{}", i + 1);
    let mac = |i: usize| format!("02:00:00:23:90:0{}", i + 1);
    let hosts: Vec<(String, String)> = (0..2).map(|i| (format!("{}/24", ip(i)), mac(i))).collect();
    let (ns, ports) = d.netns_hosts(&br, &hosts);
    let dpid = d.datapath_id(&br);
    let dpid_hex = format!("{dpid:016x}");

    let file = d.dir().join("policy.toml");
    std::fs::write(&file, policy(dpid, &ports, "a")).expect("write policy");
    let (ctl, _) = Controller::start_for(&d, &br, &file, "controller.log");
    assert!(ctl.control.starts_with(d.dir()), "socket {:?}", ctl.control);
    let ctx = |what: &str| ctl.context(&d, what);
    let ok = (0..20).any(|_| ns[0].ping(&ip(1), 1));
    assert!(ok, "{}", ctx("ping 1 -> 2"));
    assert!(ns[1].ping(&ip(0), 2), "{}", ctx("ping 2 -> 1"));

    // Both hosts learned, each on its own port, with an age. The packet-in
    // of the second may still be on its way: wait for it.
    let t0 = Instant::now();
    let st = loop {
        let st = status(&ctl);
        let sw = &st["switches"][0];
        if (0..2).all(|i| mac_entry(sw, &mac(i)).is_some())
            || t0.elapsed() > Duration::from_secs(10)
        {
            break st;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let switches = st["switches"].as_array().expect("switches");
    assert_eq!(switches.len(), 1, "{st:#}");
    let sw = &switches[0];
    assert_eq!(sw["dpid"], dpid_hex.as_str(), "{st:#}");
    assert!(
        sw["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{st:#}"
    );
    for (i, name) in ports.iter().enumerate() {
        let no = port_no(sw, name);
        let m = mac_entry(sw, &mac(i)).unwrap_or_else(|| panic!("{} not learned: {st:#}", mac(i)));
        assert_eq!(m["port"].as_u64(), Some(no), "{st:#}");
        assert_eq!(m["vlan"].as_u64(), Some(10), "{st:#}");
        assert!(m["age"].as_u64().is_some_and(|a| a < 120), "{st:#}");
    }
    let vlan_a = sw["vlans"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["vid"] == 10));
    assert!(
        vlan_a.is_some_and(|v| v["name"] == "a" && v["macs"].as_u64() >= Some(2)),
        "{st:#}"
    );

    // The table: the dpid, both ports with their role, both MACs.
    let o = ctl.ctl("status", &[]);
    assert!(o.status.success(), "status: {}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("--- ofcontroller status\n{table}");
    assert!(table.contains(&format!("switch {dpid_hex}")), "{table}");
    assert!(table.contains("port  VLAN  MAC"), "{table}");
    for (i, name) in ports.iter().enumerate() {
        assert!(table.contains(name.as_str()), "{table}");
        assert!(table.contains(&mac(i)), "{table}");
    }
    assert!(table.contains("access 10"), "{table}");

    // A broken file: refused with its error, exit 1, the network as it was.
    std::fs::write(&file, "[vlans.a]\nvid = 99999\n").expect("write policy");
    let o = ctl.ctl("reload", &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "reload of a broken file: {}",
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("ofcontroller reload: ")
            && err.contains(&format!("{}:2:", file.display()))
            && err.trim_end().lines().count() == 1,
        "{}",
        text(&o)
    );
    assert!(
        ctl.log().contains("policy refused"),
        "{}",
        ctx("the refusal's log line")
    );
    assert!(
        ns[0].ping(&ip(1), 3),
        "{}",
        ctx("ping after a refused reload")
    );

    // Port 2 moved to VLAN 20: reloaded, and the hosts no longer meet.
    std::fs::write(&file, policy(dpid, &ports, "b")).expect("write policy");
    let o = ctl.ctl("reload", &[]);
    assert!(o.status.success(), "reload: {}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        format!("policy {} reloaded", file.display()),
        "{}",
        text(&o)
    );
    // The switch's flows change after the reply: its log line says when.
    wait_for("the switch's reload line", Duration::from_secs(10), || {
        ctl.log().contains("policy reloaded")
    });
    let t1 = Instant::now();
    let mut cut = false;
    while !cut && t1.elapsed() < Duration::from_secs(10) {
        cut = !ns[0].ping(&ip(1), 1);
    }
    assert!(cut, "{}", ctx("ping across VLANs after the reload"));
    assert!(!ns[1].ping(&ip(0), 2), "{}", ctx("ping back across VLANs"));
    let st = status(&ctl);
    let sw = &st["switches"][0];
    let moved = sw["ports"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == ports[1].as_str()));
    assert!(moved.is_some_and(|p| p["role"]["access"] == 20), "{st:#}");
    let second = mac_entry(sw, &mac(1));
    assert!(second.is_none_or(|m| m["vlan"] == 20), "{st:#}");
}

/// The client without a controller, a second controller on a live socket,
/// a stale socket replaced and the socket removed at a clean exit. No root:
/// the controller only listens on 127.0.0.1.
#[test]
fn control_socket_lifecycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("c.ctl");
    let sock_arg = sock.to_string_lossy().into_owned();

    // Nobody there: one line, exit 1.
    let o = std::process::Command::new(ofcontroller_bin())
        .args(["status", "--control", &sock_arg])
        .output()
        .expect("run ofcontroller");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        err.starts_with(&format!("ofcontroller status: cannot reach {sock_arg}: "))
            && err.contains(&format!(
                "(is `ofcontroller run --control {sock_arg}` running?)"
            ))
            && err.trim_end().lines().count() == 1,
        "{}",
        text(&o)
    );

    let start = |log: &str| {
        let listen = format!("tcp:127.0.0.1:{}", free_port());
        let c = Controller::spawn(
            &["run", "--listen", &listen, "--control", &sock_arg],
            dir.path().join(log),
        );
        assert_eq!(c.control, sock);
        c
    };
    let wait_socket = |c: &Controller| {
        wait_for("the control socket", Duration::from_secs(20), || {
            c.log().contains("control socket")
        })
    };
    let first = start("first.log");
    wait_socket(&first);
    let st = first.ctl("status", &[]);
    assert!(st.status.success(), "{}", text(&st));
    assert!(
        String::from_utf8_lossy(&st.stdout).contains("no switch connected"),
        "{}",
        text(&st)
    );
    // No policy file: nothing to reload, exit 1.
    let o = first.ctl("reload", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no policy file"),
        "{}",
        text(&o)
    );

    // A second one on the same socket refuses to start; the first answers on.
    let mut second = start("second.log");
    let code = wait_exit(&mut second);
    assert_eq!(code, Some(1), "second controller:\n{}", second.log());
    assert!(
        second
            .log()
            .contains(&format!("another ofcontroller is running on {sock_arg}")),
        "{}",
        second.log()
    );
    assert!(
        first.ctl("status", &[]).status.success(),
        "first after the second"
    );

    // Killed: the socket stays, stale; the next controller replaces it.
    let mut first = first;
    first.kill();
    assert!(sock.exists());
    let mut third = start("third.log");
    wait_socket(&third);
    assert!(third.ctl("status", &[]).status.success(), "{}", third.log());

    // A clean exit (SIGTERM) removes it.
    third.signal(libc::SIGTERM);
    assert_eq!(wait_exit(&mut third), Some(0), "{}", third.log());
    assert!(!sock.exists(), "socket left after a clean exit");
}

/// The controller's exit code, once it exits (within 20 s).
fn wait_exit(c: &mut Controller) -> Option<i32> {
    let t0 = Instant::now();
    loop {
        if let Ok(Some(st)) = c.child.try_wait() {
            return st.code();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "still running:\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
