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
    if !require_root() || !require("iperf3", have("iperf3")) || !require("python3", have("python3"))
    {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (over_a, over_b) = (format!("192.168.{n}.1"), format!("192.168.{n}.2"));
    let udp_port = free_port().to_string();

    // Underlay: root <-> B; B's kernel VXLAN device, VNI 42.
    let under = Underlay::new(241, 1500);
    let ns_b = &under.ns;
    under.linux_vxlan(&udp_port, Some(&over_b));

    // Our side: A on a bridge with a VXLAN port to B.
    let d = Daemon::start(&[]);
    let (br, ns_a, _pa) = vxlan_bridge(&d, &over_a, 1400, &under.b, &udp_port);
    wait_for("ping over VXLAN", Duration::from_secs(10), || {
        ns_a.ping(&over_b, 1)
    });
    assert!(ns_b.ping(&over_a, 2), "and back\n{}", d.log());
    udp_gso_crosses(&ns_a, ns_b, &over_b).unwrap_or_else(|e| panic!("{e}\n{}", d.log()));

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
    if !require_root() || !require("python3", have("python3")) {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (over_a, over_b) = (format!("192.169.{n}.1"), format!("192.169.{n}.2"));
    let under = Underlay::new(243, 1500);
    let (ns_b, under_a, under_b) = (&under.ns, &under.a, &under.b);

    let (ha, hb) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let da = Daemon::start(&[]);
    let db = Daemon::start_in(&ns_b.0, &[]);
    for (d, host, addr, remote) in [(&da, &ha, &over_a, under_b), (&db, &hb, &over_b, under_a)] {
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
    udp_gso_crosses(&ha, &hb, &over_b).unwrap_or_else(|e| panic!("{e}\n{}", da.log()));
}

/// UDP GSO (`UDP_SEGMENT`, as QUIC stacks send) from `tx` to `dst` in
/// `rx`: ten sends of ten 1,000-byte datagrams each must arrive as the
/// hundred datagrams they are (a tunnel port cuts the GSO frame into its
/// datagrams, as the kernel's GSO would; sent whole, the receiving end
/// could not take it).
fn udp_gso_crosses(tx: &Netns, rx: &Netns, dst: &str) -> Result<(), String> {
    use std::io::BufRead;
    const RECEIVER: &str = "import socket\n\
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)\n\
        s.bind(('0.0.0.0', 9419))\n\
        print('ready', flush=True)\n\
        s.settimeout(5)\n\
        n = b = 0\n\
        try:\n\
        \x20   while n < 100:\n\
        \x20       d = s.recv(65535)\n\
        \x20       n, b = n + 1, b + len(d)\n\
        \x20       s.settimeout(1)\n\
        except socket.timeout:\n\
        \x20   pass\n\
        print(n, b, flush=True)\n";
    let mut receiver = std::process::Command::new("ip")
        .args(["netns", "exec", &rx.0, "python3", "-c", RECEIVER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3 receiver: {e}"))?;
    let mut lines = std::io::BufReader::new(receiver.stdout.take().ok_or("no stdout")?).lines();
    if !matches!(lines.next(), Some(Ok(l)) if l == "ready") {
        let _ = receiver.kill();
        return Err("the UDP receiver did not start".to_string());
    }
    let sender = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.setsockopt(socket.SOL_UDP, 103, 1000)\n\
         for i in range(10):\n\
         \x20   s.sendto(bytes(10000), ('{dst}', 9419))\n\
         \x20   time.sleep(0.02)\n"
    );
    let out = tx.exec(&["python3", "-c", &sender]);
    let got = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = receiver.wait();
    if !out.status.success() {
        return Err(format!(
            "UDP GSO sender: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if got != "100 100000" {
        return Err(format!(
            "UDP GSO across the tunnel: want 100 datagrams, 100000 bytes; got {got:?}"
        ));
    }
    Ok(())
}

// ------------------------------------------------- offloads across VXLAN

/// A veth underlay between the root namespace (`a`) and namespace `ns`
/// (`b`), both ends up with their addresses and `mtu`.
struct Underlay {
    ns: Netns,
    _link: Link,
    a_dev: String,
    b_dev: String,
    a: String,
    b: String,
}

impl Underlay {
    fn new(second_octet: u8, mtu: u32) -> Underlay {
        let n = (std::process::id() % 200) as u8 + 20;
        let (a, b) = (
            format!("10.{second_octet}.{n}.1"),
            format!("10.{second_octet}.{n}.2"),
        );
        let ns = Netns::new(&unique("n"));
        let (a_dev, b_dev) = (unique("u"), unique("u"));
        sh(&[
            "ip", "link", "add", &a_dev, "type", "veth", "peer", "name", &b_dev,
        ]);
        let link = Link(a_dev.clone());
        let mtu = mtu.to_string();
        sh(&["ip", "link", "set", &a_dev, "mtu", &mtu]);
        sh(&["ip", "link", "set", &b_dev, "mtu", &mtu]);
        sh(&["ip", "addr", "add", &format!("{a}/24"), "dev", &a_dev]);
        sh(&["ip", "link", "set", &a_dev, "up"]);
        ns.take(&b_dev, &format!("{b}/24"));
        Underlay {
            ns,
            _link: link,
            a_dev,
            b_dev,
            a,
            b,
        }
    }

    /// A Linux `vxlan` device `vx0` in the namespace (VNI 42, to the root
    /// end, UDP port `udp_port`); with `addr`, that address (/24) on it and
    /// the device up.
    fn linux_vxlan(&self, udp_port: &str, addr: Option<&str>) {
        let ns = &self.ns.0;
        sh(&[
            "ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "remote", &self.a,
            "local", &self.b, "dstport", udp_port,
        ]);
        if let Some(addr) = addr {
            sh(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "vx0",
            ]);
            sh(&["ip", "-n", ns, "link", "set", "vx0", "up"]);
        }
    }

    /// Packets and bytes the root end has sent so far.
    fn a_tx(&self) -> (u64, u64) {
        let stat = |s: &str| {
            std::fs::read_to_string(format!("/sys/class/net/{}/statistics/{s}", self.a_dev))
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(0)
        };
        (stat("tx_packets"), stat("tx_bytes"))
    }
}

/// A standalone bridge on `d` with one namespace host (`addr`, port MTU
/// `mtu`) and a VXLAN port to `remote` on `udp_port`, VNI 42; the
/// bridge, the host and its port's name.
fn vxlan_bridge(
    d: &Daemon,
    addr: &str,
    mtu: u32,
    remote: &str,
    udp_port: &str,
) -> (String, Netns, String) {
    let (br, host, p, vx) = (
        unique("br"),
        Netns::new(&unique("n")),
        unique("p"),
        unique("v"),
    );
    d.vsctl(&["add-br", &br]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p,
        &host.0,
        &format!("--ipaddress={addr}/24"),
        &format!("--mtu={mtu}"),
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
        &format!("options:remote_ip={remote}"),
        "options:key=42",
        &format!("options:dst_port={udp_port}"),
    ]);
    (br, host, p)
}

/// Two of our switches joined by VXLAN: A in the root namespace, B in the
/// underlay's namespace, each with one host on a port (`ha` 192.`net`.n.1
/// behind A, `hb` .2 behind B), ready once a ping crosses. Fields drop in
/// order: the hosts, then the daemons, then the underlay.
struct VxlanPair {
    hb: Netns,
    ha: Netns,
    /// The hosts' ports on A and on B.
    pa: String,
    pb: String,
    over_b: String,
    db: Daemon,
    da: Daemon,
    under: Underlay,
}

impl VxlanPair {
    /// `under_octet`, `under_mtu`: the underlay's ([`Underlay::new`]);
    /// `mtu_a`, `mtu_b`: the hosts' ports.
    fn new(net: u8, under_octet: u8, under_mtu: u32, mtu_a: u32, mtu_b: u32) -> VxlanPair {
        let n = (std::process::id() % 200) as u8 + 20;
        let (over_a, over_b) = (format!("192.{net}.{n}.1"), format!("192.{net}.{n}.2"));
        let under = Underlay::new(under_octet, under_mtu);
        let udp_port = free_port().to_string();
        let da = Daemon::start(&[]);
        let db = Daemon::start_in(&under.ns.0, &[]);
        let (_, ha, pa) = vxlan_bridge(&da, &over_a, mtu_a, &under.b, &udp_port);
        let (_, hb, pb) = vxlan_bridge(&db, &over_b, mtu_b, &under.a, &udp_port);
        wait_for("ping over VXLAN", Duration::from_secs(10), || {
            ha.ping(&over_b, 1)
        });
        VxlanPair {
            hb,
            ha,
            pa,
            pb,
            over_b,
            db,
            da,
            under,
        }
    }

    /// Both daemons' logs, for a failure message.
    fn logs(&self) -> String {
        format!("--- A\n{}\n--- B\n{}", self.da.log(), self.db.log())
    }
}

/// A port's `vsctl get interface P statistics`.
fn port_stats(d: &Daemon, port: &str) -> std::collections::BTreeMap<String, u64> {
    vsctl_map(&d.vsctl(&["get", "interface", port, "statistics"]))
}

/// Bytes per frame a port sent between two [`port_stats`] readings.
fn bytes_per_frame_sent(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> u64 {
    (after["tx_bytes"] - before["tx_bytes"]) / (after["tx_packets"] - before["tx_packets"]).max(1)
}

/// The receiving TCP stack's checksum errors in `ns` (`InCsumErrors` of
/// /proc/net/snmp): a segment whose checksum the switch got wrong.
fn tcp_csum_errors(ns: &Netns) -> u64 {
    let out = ns.exec(&["cat", "/proc/net/snmp"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        panic!("no Tcp lines in /proc/net/snmp of {}: {text}", ns.0);
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "InCsumErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no InCsumErrors in {names}"))
}

/// Two of our switches joined by VXLAN, hosts with their default offloads
/// (TSO, checksum offload): TCP both ways arrives with every checksum
/// right at the receiving stack, leaves as UDP GSO sends (the underlay
/// carries datagram trains, not single datagrams) and is joined back
/// into super-segments on the receiving side (the host's port sends
/// frames larger than its MTU, with a GSO header). A frame too big for
/// the receiving host's port is dropped and counted, never truncated.
#[test]
fn vxlan_between_two_switches_keeps_tso_whole_and_checksums_right() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ss", have("ss")) {
        return;
    }
    let pair = VxlanPair::new(170, 245, 1600, 1500, 1400);
    let VxlanPair {
        ha,
        hb,
        pa,
        pb,
        over_b,
        da,
        db,
        under,
    } = &pair;
    let logs = || pair.logs();

    // A to B: A sends the TSO frames (UDP GSO), B joins them for hb.
    let (tx0, b0) = under.a_tx();
    let to_b0 = port_stats(db, pb);
    let (bytes, _) =
        iperf3(Some(ha), Some(hb), over_b, false).unwrap_or_else(|e| panic!("{e}\n{}", logs()));
    let (tx1, b1) = under.a_tx();
    let to_b1 = port_stats(db, pb);
    let per_send = (b1 - b0) / (tx1 - tx0).max(1);
    let per_frame = bytes_per_frame_sent(&to_b0, &to_b1);
    eprintln!("A to B: {bytes} bytes; {per_send} bytes per underlay packet; {per_frame} bytes per frame to hb");
    assert!(
        per_send > 3_000,
        "UDP GSO: {per_send} bytes per underlay packet\n{}",
        logs()
    );
    assert!(
        per_frame > 3_000,
        "joined: {per_frame} bytes per frame to the host\n{}",
        logs()
    );

    // B to A (iperf3 -R): B's daemon sends, A joins.
    let to_a0 = port_stats(da, pa);
    iperf3(Some(ha), Some(hb), over_b, true).unwrap_or_else(|e| panic!("{e}\n{}", logs()));
    let to_a1 = port_stats(da, pa);
    let per_frame = bytes_per_frame_sent(&to_a0, &to_a1);
    eprintln!("B to A: {per_frame} bytes per frame to ha");
    assert!(
        per_frame > 3_000,
        "joined: {per_frame} bytes per frame to the host\n{}",
        logs()
    );

    for h in [ha, hb] {
        assert_eq!(tcp_csum_errors(h), 0, "TCP checksum errors in {}", h.0);
    }

    // 1500-byte IP packets from ha (MTU 1500) for hb's port (MTU 1400):
    // dropped at B's port and counted, none delivered cut short.
    let before = port_stats(db, pb);
    let out = ha.exec(&[
        "ping", "-c", "3", "-i", "0.2", "-W", "1", "-M", "do", "-s", "1472", over_b,
    ]);
    assert!(
        !out.status.success(),
        "1500-byte pings through a 1400 MTU port"
    );
    let after = port_stats(db, pb);
    assert_eq!(
        after["tx_errors"] - before["tx_errors"],
        3,
        "the three frames counted as too big: {before:?} -> {after:?}\n{}",
        logs()
    );
    assert!(ha.ping(over_b, 2), "small frames still pass");
}

/// Hosts left at MTU 1500 over an underlay of MTU 1500, as users often
/// leave them: a full-size inner frame makes a 1550-byte outer datagram,
/// which the kernel fragments (as Linux's own vxlan does with its default
/// `df unset`). TSO frames into the tunnel too: the UDP GSO send the route
/// refuses (EMSGSIZE) goes out datagram by datagram; it was lost whole,
/// and TCP crawled at 150 kbit/s.
#[test]
fn vxlan_hosts_at_mtu_1500_over_a_1500_underlay_get_through_fragmented() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ss", have("ss")) {
        return;
    }
    let pair = VxlanPair::new(173, 248, 1500, 1500, 1500);
    let (ha, hb, over_b) = (&pair.ha, &pair.hb, &pair.over_b);
    let logs = || pair.logs();
    let out = ha.exec(&["ping", "-c", "2", "-M", "do", "-s", "1472", over_b]);
    assert!(
        out.status.success(),
        "1500-byte IP packets through the tunnel\n{}",
        logs()
    );
    for reverse in [false, true] {
        let (bytes, rate) = iperf3(Some(ha), Some(hb), over_b, reverse)
            .unwrap_or_else(|e| panic!("{e}\n{}", logs()));
        eprintln!("MTU 1500 over 1500 (reverse: {reverse}): {bytes} bytes, {rate}");
        assert!(
            bytes > 5_000_000,
            "TCP (reverse: {reverse}) moved only {bytes} bytes in 2 s\n{}",
            logs()
        );
    }
}

/// Our switch with a Linux vxlan device at the other end, hosts with
/// their default offloads: TCP both ways with every checksum right at the
/// receiving stacks (the kernel cuts our GSO sends into datagrams for its
/// device; its datagrams are joined for our host).
#[test]
fn vxlan_with_a_linux_vxlan_device_keeps_checksums_right_both_ways() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ss", have("ss")) {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (over_a, over_b) = (format!("192.171.{n}.1"), format!("192.171.{n}.2"));
    let under = Underlay::new(246, 1600);
    let udp_port = free_port().to_string();
    // B: a vxlan device on a Linux bridge with a host namespace's veth.
    let hb = Netns::new(&unique("n"));
    let (vb, vh) = (unique("h"), unique("h"));
    let ns = &under.ns.0;
    under.linux_vxlan(&udp_port, None);
    sh(&["ip", "-n", ns, "link", "add", "br0", "type", "bridge"]);
    sh(&[
        "ip", "-n", ns, "link", "add", &vb, "type", "veth", "peer", "name", &vh,
    ]);
    sh(&["ip", "-n", ns, "link", "set", &vh, "netns", &hb.0]);
    sh(&[
        "ip",
        "-n",
        &hb.0,
        "addr",
        "add",
        &format!("{over_b}/24"),
        "dev",
        &vh,
    ]);
    sh(&["ip", "-n", &hb.0, "link", "set", &vh, "up"]);
    for dev in ["vx0", vb.as_str()] {
        sh(&["ip", "-n", ns, "link", "set", dev, "master", "br0"]);
        sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    sh(&["ip", "-n", ns, "link", "set", "br0", "up"]);

    let da = Daemon::start(&[]);
    let (_br, ha, pa) = vxlan_bridge(&da, &over_a, 1500, &under.b, &udp_port);
    wait_for("ping over VXLAN", Duration::from_secs(10), || {
        ha.ping(&over_b, 1)
    });
    iperf3(Some(&ha), Some(&hb), &over_b, false).unwrap_or_else(|e| panic!("{e}\n{}", da.log()));
    // B to A: the kernel's vxlan (default offloads) hands its TSO frames
    // through the underlay whole; they reach ha whole too, cut by ha's
    // kernel only if at all, never segment by segment by the switch.
    let to_a0 = port_stats(&da, &pa);
    iperf3(Some(&ha), Some(&hb), &over_b, true).unwrap_or_else(|e| panic!("{e}\n{}", da.log()));
    let to_a1 = port_stats(&da, &pa);
    let per_frame = bytes_per_frame_sent(&to_a0, &to_a1);
    eprintln!("Linux vxlan to A: {per_frame} bytes per frame to ha");
    assert!(
        per_frame > 3_000,
        "TSO frames whole: {per_frame} bytes per frame to the host\n{}",
        da.log()
    );
    for h in [&ha, &hb] {
        assert_eq!(tcp_csum_errors(h), 0, "TCP checksum errors in {}", h.0);
    }
}

/// What reaches a VXLAN socket and no port takes is counted where a user
/// looks: a malformed datagram from a port's peer is an `rx_errors` of
/// that port, a VNI it does not carry an `rx_dropped` (and a warning);
/// a datagram from an address no port peers with (a wrong `remote_ip` on
/// one end) is named in the log; the tunnel keeps working.
#[test]
fn vxlan_datagrams_no_port_takes_are_counted_and_named() {
    if !require_root() || !require("python3", have("python3")) {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let (over_a, over_b) = (format!("192.172.{n}.1"), format!("192.172.{n}.2"));
    let under = Underlay::new(247, 1500);
    let udp_port = free_port().to_string();
    let ns = &under.ns.0;
    under.linux_vxlan(&udp_port, Some(&over_b));
    let stranger = format!("10.247.{n}.3");
    sh(&[
        "ip",
        "-n",
        ns,
        "addr",
        "add",
        &format!("{stranger}/24"),
        "dev",
        &under.b_dev,
    ]);

    let d = Daemon::start(&[]);
    let (br, ha, pa) = vxlan_bridge(&d, &over_a, 1400, &under.b, &udp_port);
    let ports = d.vsctl(&["list-ports", &br]);
    let vx = ports
        .lines()
        .find(|p| *p != pa)
        .unwrap_or_else(|| panic!("no VXLAN port in {ports:?}"))
        .to_string();
    wait_for("ping over VXLAN", Duration::from_secs(10), || {
        ha.ping(&over_b, 1)
    });

    // From B with Python's UDP socket: (source address, payload).
    let frame = "bytes.fromhex('ffffffffffff020000000001080045000014000000004011000000000000ffffffff') + bytes(30)";
    let send = |src: &str, payload: &str| {
        let script = format!(
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('{src}', 0))\ns.sendto({payload}, ('{}', {udp_port}))\n",
            under.a
        );
        let out = under.ns.exec(&["python3", "-c", &script]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let before = port_stats(&d, &vx);
    send(&under.b, "b'\\x08' + bytes(7)"); // a VXLAN header and nothing inside
    send(&under.b, "b'\\x00' * 8 + bytes(40)"); // no VNI flag
    send(
        &under.b,
        &format!("bytes([8, 0, 0, 0, 0, 0, 43, 0]) + {frame}"),
    ); // VNI 43
    send(
        &stranger,
        &format!("bytes([8, 0, 0, 0, 0, 0, 42, 0]) + {frame}"),
    ); // not a peer
    let mut after = before.clone();
    wait_for("the datagrams counted", Duration::from_secs(5), || {
        after = port_stats(&d, &vx);
        after["rx_errors"] >= before["rx_errors"] + 2 && after["rx_dropped"] > before["rx_dropped"]
    });
    assert_eq!(after["rx_errors"] - before["rx_errors"], 2, "{after:?}");
    assert_eq!(after["rx_dropped"] - before["rx_dropped"], 1, "{after:?}");
    wait_for(
        "the log names both mistakes",
        Duration::from_secs(5),
        || {
            let log = d.log();
            log.contains(&format!("a packet with key 43 from {}", under.b))
                && log.contains(&format!("no port has remote_ip={stranger}"))
        },
    );
    assert!(ha.ping(&over_b, 1), "the tunnel still works\n{}", d.log());
}
