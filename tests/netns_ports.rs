//! Network namespaces attached like `ovs-docker add-port`: the daemon
//! creates a veth pair per port, moves one end into the namespace with the
//! requested address, MAC and MTU, and switches the other end as a system
//! port (AF_PACKET). Also a plain system port on a veth the test made.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn namespaces_attached_by_the_daemon_talk_through_the_bridge() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (ns1, ns2, ns3) = (
        Netns::new(&unique("n")),
        Netns::new(&unique("n")),
        Netns::new(&unique("n")),
    );
    let (p1, p2, p3) = (unique("p"), unique("p"), unique("p"));
    d.vsctl(&["add-br", &br]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p1,
        &ns1.0,
        "--ipaddress=10.232.0.1/24",
        "--macaddress=02:00:00:23:20:01",
        "--mtu=1400",
    ]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p2,
        &ns2.0,
        "--ipaddress=10.232.0.2/24",
    ]);

    // A veth made by hand, its host end added as an ordinary system port.
    let peer = unique("q");
    sh(&[
        "ip", "link", "add", &p3, "type", "veth", "peer", "name", &peer,
    ]);
    ns3.take(&peer, "10.232.0.3/24");
    d.vsctl(&["add-port", &br, &p3]);

    // The namespace ends exist with what was asked.
    wait_for("eth0 in the namespace", Duration::from_secs(5), || {
        ns1.exec(&["ip", "link", "show", "eth0"]).status.success()
    });
    let link =
        String::from_utf8_lossy(&ns1.exec(&["ip", "link", "show", "eth0"]).stdout).into_owned();
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains("02:00:00:23:20:01"), "{link}");

    for (from, to) in [
        (&ns1, "10.232.0.2"),
        (&ns2, "10.232.0.3"),
        (&ns3, "10.232.0.1"),
    ] {
        assert!(from.ping(to, 3), "{} -> {to}\n{}", from.0, d.log());
    }
    let show = d.vsctl(&["show"]);
    assert!(show.contains(&p1) && show.contains(&p3), "{show}");

    // Deleting a namespace port removes its veth pair; the hand-made one
    // stays.
    d.vsctl(&["del-port", &br, &p1]);
    wait_for("the veth pair to go", Duration::from_secs(5), || {
        !ns1.exec(&["ip", "link", "show", "eth0"]).status.success()
    });
    assert!(ns2.ping("10.232.0.3", 3));
    d.vsctl(&["del-port", &br, &p3]);
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &p3])
        .status();
}

/// An interface the daemon cannot set up (no such device, no such
/// namespace) is stored and shown with its error, as in Open vSwitch, and
/// the command that added it says so on stderr, as ovs-vsctl's "Error
/// detected while setting up": it succeeds, but the user is not left to
/// find out from `show`.
#[test]
fn a_port_that_cannot_be_set_up_is_reported_by_the_command() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (dev, p, ns) = (unique("p"), unique("p"), unique("n"));
    d.vsctl(&["add-br", &br]);
    for (args, why) in [
        (
            vec!["add-port", &br, &dev],
            format!("no interface named {dev}"),
        ),
        (
            vec!["add-netns-port", &br, &p, &ns],
            format!("no network namespace named {ns}"),
        ),
    ] {
        let out = d.run(&[&["vsctl"][..], &args].concat());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {err}");
        let port = args[2];
        assert!(
            err.contains(&format!("Error detected while setting up '{port}': {why}")),
            "{args:?}: stderr {err:?}"
        );
        let show = d.vsctl(&["show"]);
        assert!(show.contains(&format!("error: \"{why}\"")), "{show}");
    }
    // A change that breaks nothing new says nothing.
    let out = d.run(&["vsctl", "set", "port", &p, "tag=5"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// TCP between two namespaces with the hosts' default offloads (checksum
/// offload and TSO on): super-segments cross the switch whole
/// (virtio_net_hdr in and out) instead of being dropped. A functional
/// check (the transfer completes), not a speed test.
#[test]
fn tcp_with_default_offloads_crosses_the_switch() {
    if !require_root() || !require("iperf3", have("iperf3")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let (p1, p2) = (unique("p"), unique("p"));
    d.vsctl(&["add-br", &br]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p1,
        &ns1.0,
        "--ipaddress=10.234.0.1/24",
    ]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p2,
        &ns2.0,
        "--ipaddress=10.234.0.2/24",
    ]);
    wait_for("both ends", Duration::from_secs(5), || {
        ns1.ping("10.234.0.2", 1)
    });
    // The hosts keep their offloads on.
    let feat = String::from_utf8_lossy(&ns1.exec(&["ethtool", "-k", "eth0"]).stdout).into_owned();
    if have("ethtool") {
        assert!(feat.contains("tcp-segmentation-offload: on"), "{feat}");
    }
    let server = std::process::Command::new("ip")
        .args(["netns", "exec", &ns2.0, "iperf3", "-s", "-1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 server");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(server);
    std::thread::sleep(Duration::from_millis(300));
    let out = ns1.exec(&["iperf3", "-c", "10.234.0.2", "-t", "2", "-J"]);
    assert!(
        out.status.success(),
        "iperf3 failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
    let bytes = v["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(bytes > 1_000_000, "only {bytes} bytes crossed in 2 s");
}
