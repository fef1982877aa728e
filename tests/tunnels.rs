//! VXLAN tunnel ports, wire-compatible with Linux's own vxlan devices:
//! a host behind our bridge pings, and opens TCP to, a host whose end of
//! the tunnel is a kernel `vxlan` device in another namespace.
//!
//! Underlay: a veth pair between the root namespace (the switch's UDP
//! socket) and namespace B. Overlay: namespace A on the bridge
//! (add-netns-port), namespace B's vxlan device. Each test uses its own
//! UDP port (options:dst_port), so tests run in parallel.

mod common;

use common::*;
use std::time::Duration;

struct Link(String);
impl Drop for Link {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

#[test]
fn vxlan_interoperates_with_a_linux_vxlan_device() {
    if !require_root() || !require("iperf3", have("iperf3")) {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (under_a, under_b) = (format!("10.241.{n}.1"), format!("10.241.{n}.2"));
    let (over_a, over_b) = (format!("192.168.{n}.1"), format!("192.168.{n}.2"));
    let udp_port = free_port().to_string();

    // Underlay: root <-> B.
    let ns_b = Netns::new(&unique("n"));
    let (u_root, u_b) = (unique("u"), unique("u"));
    sh(&[
        "ip", "link", "add", &u_root, "type", "veth", "peer", "name", &u_b,
    ]);
    let _under = Link(u_root.clone());
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("{under_a}/24"),
        "dev",
        &u_root,
    ]);
    sh(&["ip", "link", "set", &u_root, "up"]);
    ns_b.take(&u_b, &format!("{under_b}/24"));
    // B's kernel VXLAN device, VNI 42.
    sh(&[
        "ip", "-n", &ns_b.0, "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", &under_a,
        "local", &under_b, "dstport", &udp_port,
    ]);
    sh(&[
        "ip",
        "-n",
        &ns_b.0,
        "addr",
        "add",
        &format!("{over_b}/24"),
        "dev",
        "vx0",
    ]);
    sh(&["ip", "-n", &ns_b.0, "link", "set", "vx0", "up"]);

    // Our side: A on a bridge with a VXLAN port to B.
    let d = Daemon::start(&[]);
    let br = unique("br");
    let ns_a = Netns::new(&unique("n"));
    let (pa, vx) = (unique("p"), unique("v"));
    d.vsctl(&["add-br", &br]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &pa,
        &ns_a.0,
        &format!("--ipaddress={over_a}/24"),
        "--mtu=1400",
    ]);
    d.vsctl(&[
        "add-port",
        &br,
        &vx,
        "--",
        "set",
        "interface",
        &vx,
        "type=vxlan",
        &format!("options:remote_ip={under_b}"),
        "options:key=42",
        &format!("options:dst_port={udp_port}"),
    ]);
    wait_for("ping over VXLAN", Duration::from_secs(10), || {
        ns_a.ping(&over_b, 1)
    });
    assert!(ns_b.ping(&over_a, 2), "and back\n{}", d.log());

    // tunnel_id is the VNI: a flow on tun_id=42 sees the traffic.
    d.run(&[
        "ofctl",
        "add-flow",
        &br,
        "priority=10,tun_id=42,actions=NORMAL",
    ]);
    assert!(ns_a.ping(&over_b, 2));
    let flows = String::from_utf8_lossy(&d.run(&["ofctl", "dump-flows", &br]).stdout).into_owned();
    let line = flows
        .lines()
        .find(|l| l.contains("tun_id=0x2a"))
        .unwrap_or_else(|| panic!("no tun_id flow in\n{flows}"));
    assert!(!line.contains("n_packets=0,"), "{line}");

    // TCP both ways with the hosts' default offloads: TSO super-segments
    // are cut in software before the tunnel; unfinished inner checksums of
    // the local kernel tunnel are finished on the way in.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    for reverse in [false, true] {
        let server = std::process::Command::new("ip")
            .args(["netns", "exec", &ns_b.0, "iperf3", "-s", "-1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 server");
        let _server = Kill(server);
        std::thread::sleep(Duration::from_millis(300));
        let mut args = vec!["iperf3", "-c", over_b.as_str(), "-t", "2", "-J"];
        if reverse {
            args.push("-R");
        }
        let out = ns_a.exec(&args);
        assert!(
            out.status.success(),
            "iperf3 over VXLAN (reverse: {reverse}) failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            d.log()
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("iperf3 JSON");
        let bytes = v["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
        assert!(
            bytes > 1_000_000,
            "reverse {reverse}: only {bytes} bytes in 2 s"
        );
    }
}

/// GRE between two of our switches, one in the root namespace and one in
/// namespace B (this machine's kernel has no `gretap` module, so a Linux
/// GRE device cannot be the other end here), each with a host namespace
/// behind it; the key is carried both ways as tunnel_id.
#[test]
fn gre_between_two_switches_carries_the_key() {
    if !require_root() {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (under_a, under_b) = (format!("10.243.{n}.1"), format!("10.243.{n}.2"));
    let (over_a, over_b) = (format!("192.169.{n}.1"), format!("192.169.{n}.2"));

    let ns_b = Netns::new(&unique("n"));
    let (u_root, u_b) = (unique("u"), unique("u"));
    sh(&[
        "ip", "link", "add", &u_root, "type", "veth", "peer", "name", &u_b,
    ]);
    let _under = Link(u_root.clone());
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("{under_a}/24"),
        "dev",
        &u_root,
    ]);
    sh(&["ip", "link", "set", &u_root, "up"]);
    ns_b.take(&u_b, &format!("{under_b}/24"));

    let (ha, hb) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let da = Daemon::start(&[]);
    let db = Daemon::start_in(&ns_b.0, &[]);
    for (d, host, addr, remote) in [(&da, &ha, &over_a, &under_b), (&db, &hb, &over_b, &under_a)] {
        let br = unique("br");
        let (p, g) = (unique("p"), unique("g"));
        d.vsctl(&["add-br", &br]);
        d.vsctl(&[
            "add-netns-port",
            &br,
            &p,
            &host.0,
            &format!("--ipaddress={addr}/24"),
            "--mtu=1400",
        ]);
        d.add_gre(&br, &g, remote, Some("77"));
        d.run(&[
            "ofctl",
            "add-flow",
            &br,
            "priority=10,tun_id=77,actions=NORMAL",
        ]);
    }
    wait_for("ping over GRE", Duration::from_secs(10), || {
        ha.ping(&over_b, 1)
    });
    assert!(hb.ping(&over_a, 2), "and back\n{}\n{}", da.log(), db.log());
    for d in [&da, &db] {
        let out = d.run(&["vsctl", "list-br"]);
        let br = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let flows =
            String::from_utf8_lossy(&d.run(&["ofctl", "dump-flows", &br]).stdout).into_owned();
        let line = flows
            .lines()
            .find(|l| l.contains("tun_id=0x4d"))
            .unwrap_or_else(|| panic!("no tun_id flow in\n{flows}"));
        assert!(
            !line.contains("n_packets=0,"),
            "the key arrived as tun_id: {line}"
        );
    }
}
