//! The daemon end to end, the short version: a bridge with two internal
//! ports in two namespaces forwards pings as a standalone learning switch,
//! `appctl fdb/show` lists what it learned, real `ovs-ofctl` reads and
//! programs it, and the configuration survives a restart.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn standalone_bridge_forwards_and_ovs_ofctl_drives_it() {
    if !require_root() || !require("ovs-ofctl", have("ovs-ofctl")) {
        return;
    }
    let mut d = Daemon::start(&[]);
    let br = unique("br");
    let (p1, p2) = (unique("p"), unique("p"));
    d.vsctl(&["add-br", &br]);
    d.add_port_of_type(&br, &p1, "internal");
    d.add_port_of_type(&br, &p2, "internal");
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    ns1.take(&p1, "10.231.0.1/24");
    ns2.take(&p2, "10.231.0.2/24");
    assert!(
        ns1.ping("10.231.0.2", 3),
        "ping through NORMAL\n{}",
        d.log()
    );
    // What NORMAL learned, as ovs-appctl fdb/show prints it; then flushed.
    let mac = |ns: &Netns, dev: &str| {
        let out = ns.exec(&["cat", &format!("/sys/class/net/{dev}/address")]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let appctl = |args: &[&str]| {
        let mut all = vec!["appctl"];
        all.extend_from_slice(args);
        let out = d.run(&all);
        assert!(
            out.status.success(),
            "appctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let fdb = appctl(&["fdb/show", &br]);
    assert!(
        fdb.starts_with(" port  VLAN  MAC                Age\n"),
        "{fdb}"
    );
    for (port, m) in [("1", mac(&ns1, &p1)), ("2", mac(&ns2, &p2))] {
        assert!(
            fdb.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3] == [port, "0", m.as_str()]),
            "port {port} MAC {m} learned:\n{fdb}"
        );
    }
    assert_eq!(appctl(&["fdb/flush", &br]), "table successfully flushed\n");
    assert_eq!(appctl(&["fdb/show", &br]).lines().count(), 1);
    let out = d.run(&["appctl", "fdb/show", "nosuchbr"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such bridge (nosuchbr)"));

    // ovs-ofctl against the bridge's management socket.
    let target = d.mgmt(&br);
    let show = sh(&["ovs-ofctl", "-O", "OpenFlow13", "show", &target]);
    assert!(show.contains(&format!("1({p1})")), "{show}");
    assert!(show.contains(&format!("LOCAL({br})")), "{show}");
    sh(&[
        "ovs-ofctl",
        "-O",
        "OpenFlow13",
        "add-flow",
        &target,
        "priority=100,ip,actions=drop",
    ]);
    assert!(!ns1.ping("10.231.0.2", 1), "the drop flow stops IP");
    sh(&[
        "ovs-ofctl",
        "-O",
        "OpenFlow13",
        "del-flows",
        "--strict",
        &target,
        "priority=100,ip",
    ]);
    assert!(ns1.ping("10.231.0.2", 3), "forwarding again\n{}", d.log());
    // Our dump-flows prints what ovs-ofctl prints (durations aside).
    let mask = |s: &str| {
        s.lines()
            .map(|l| {
                l.split(", ")
                    .filter(|f| !f.starts_with("duration="))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    // Background traffic (IPv6 neighbour discovery from the namespaces) may
    // move a counter between the two dumps: compare a few times.
    let mut last = (String::new(), String::new());
    let same = (0..5).any(|_| {
        let theirs = sh(&["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", &target]);
        let ours = d.run(&["ofctl", "dump-flows", &br]);
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
        last = (
            mask(&theirs).replace("xid=0x2", "xid"),
            mask(&ours).replace(&ours_xid(&ours), "xid"),
        );
        last.0 == last.1
    });
    assert!(same, "ovs-ofctl:\n{}\nours:\n{}", last.0, last.1);

    // trace: which flow matched and what it did, without sending anything.
    let tr = d.run(&["ofctl", "trace", &br, "in_port=1,icmp,nw_dst=10.231.0.2"]);
    let text = String::from_utf8_lossy(&tr.stdout);
    assert!(
        tr.status.success(),
        "{}",
        String::from_utf8_lossy(&tr.stderr)
    );
    assert!(
        text.contains("0. priority=0") && text.contains("Final actions: NORMAL"),
        "{text}"
    );

    // Restart: bridges and ports come back with the same numbers.
    let before = d.vsctl(&["show"]);
    drop((ns1, ns2));
    d.restart();
    let after = d.vsctl(&["show"]);
    assert_eq!(before, after);
    let _ = Duration::from_secs(0);
}

fn ours_xid(s: &str) -> String {
    s.split("(xid=")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .map(|x| format!("xid={x}"))
        .unwrap_or_default()
}

/// `--detach`: the command returns once the daemon runs, the pid file names
/// it, a second daemon on the same state directory is refused with one
/// line, and SIGTERM stops it and removes its sockets and pid file.
#[test]
fn detach_pidfile_and_sigterm() {
    if !require_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("state dir");
    let run = |args: &[&str]| {
        std::process::Command::new(ofswitch_bin())
            .arg("--state-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run ofswitch")
    };
    let first = run(&["daemon", "--detach"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let pid: i32 = std::fs::read_to_string(dir.path().join("ofswitch.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    struct Stop(i32);
    impl Drop for Stop {
        fn drop(&mut self) {
            // SAFETY: signalling the daemon this test started.
            unsafe { libc::kill(self.0, libc::SIGTERM) };
        }
    }
    let stop = Stop(pid);
    assert!(run(&["vsctl", "list-br"]).status.success());
    let second = run(&["daemon", "--detach"]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("already runs"), "{err}");
    drop(stop);
    wait_for(
        "the daemon to stop",
        std::time::Duration::from_secs(5),
        || !dir.path().join("ofswitch.pid").exists() && !dir.path().join("ofswitch.ctl").exists(),
    );
}
