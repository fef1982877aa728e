//! The datapath end to end, port type by port type: ping and a short
//! iperf3 TCP run both ways (the hosts keep their default offloads:
//! checksum offload and TSO on) across system ports, internal ports, a
//! patch pair, and VXLAN and GRE tunnels between two of our daemons; VLAN
//! tags as they really are on the wire (tcpdump on the hosts' veths),
//! from NORMAL's access and trunk ports and from OpenFlow VLAN actions;
//! the bridge's LOCAL port as the host's own interface; and what a fail
//! mode change does to the flow table (the default NORMAL flow).
//!
//! Already covered elsewhere and not repeated here: iperf3 one way between
//! `add-netns-port` namespaces (netns_ports.rs); VXLAN against a Linux
//! vxlan device, and GRE with a key between two daemons, ping only
//! (tunnels.rs).
//!
//! iperf3 runs are functional checks (the transfer completes, the
//! receiver got bytes), never speed tests; the rate and retransmissions
//! are printed for the record. Addresses in the root namespace are
//! 10.245-10.248.N.0/24 with N derived from the pid, apart from the other
//! test files' ranges; everything else lives in namespaces.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a child process when dropped.
/// This test binary's third address octet, 20..=219.
fn net() -> u8 {
    (std::process::id() % 200) as u8 + 20
}

/// A veth pair: the first end stays in the root namespace, up, to become a
/// system port; the second goes into `ns`, up, with `cidr` when given.
fn veth_into(ns: &Netns, cidr: Option<&str>) -> (String, String, Veth) {
    let v = Veth::new();
    let (here, there) = (v.end.clone(), v.peer.clone());
    match cidr {
        Some(cidr) => ns.take(&there, cidr),
        None => {
            sh(&["ip", "link", "set", &there, "netns", &ns.0]);
            sh(&["ip", "-n", &ns.0, "link", "set", &there, "up"]);
            sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        }
    }
    sh(&["ip", "link", "set", &here, "up"]);
    (here, there, v)
}

/// The MAC address of `dev` in `ns`.
fn mac_of(ns: &Netns, dev: &str) -> [u8; 6] {
    let out = ns.exec(&["cat", &format!("/sys/class/net/{dev}/address")]);
    let text = String::from_utf8_lossy(&out.stdout);
    parse_mac(text.trim()).unwrap_or_else(|| panic!("MAC of {dev} in {}: {text:?}", ns.0))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A permanent neighbour entry in `ns`: `ip` is at `mac` on `dev` (the
/// host sends to it without ARP, which nobody would answer).
fn static_neigh(ns: &Netns, dev: &str, ip: &str, mac: [u8; 6]) {
    sh(&[
        "ip",
        "-n",
        &ns.0,
        "neigh",
        "replace",
        ip,
        "lladdr",
        &mac_str(mac),
        "dev",
        dev,
        "nud",
        "permanent",
    ]);
}

fn csum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>()
        .expect("IPv4 address")
        .octets()
}

/// An Ethernet frame carrying an ICMP echo `request` (or reply) from
/// `src` to `dst`, with an 802.1Q tag `vid` (PCP 0) in the frame when
/// given.
fn icmp_frame(
    vid: Option<u16>,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: &str,
    dst: &str,
    request: bool,
) -> Vec<u8> {
    let mut icmp = vec![if request { 8 } else { 0 }, 0, 0, 0, 0x12, 0x34, 0, 1];
    icmp.extend((0u8..32).map(|i| b'a' + i % 26));
    let c = csum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let total = (20 + icmp.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend(total.to_be_bytes());
    ip.extend([0, 1, 0x40, 0, 64, 1, 0, 0]);
    ip.extend(ipv4(src));
    ip.extend(ipv4(dst));
    let c = csum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend(dst_mac);
    f.extend(src_mac);
    if let Some(vid) = vid {
        f.extend(0x8100u16.to_be_bytes());
        f.extend(vid.to_be_bytes());
    }
    f.extend(0x0800u16.to_be_bytes());
    f.extend(ip);
    f.extend(icmp);
    f
}

/// Whether one `ping -c 1` from `ns` to `ip` is answered within `secs`.
fn ping(ns: Option<&Netns>, ip: &str, secs: u32) -> bool {
    in_ns(ns, "ping")
        .args(["-c", "1", "-W", &secs.to_string(), ip])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether `ip` answers a ping from `ns` within about `secs` seconds
/// (the first may wait for ARP and MAC learning).
fn pings_within(ns: Option<&Netns>, ip: &str, secs: u32) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs.into()) {
        if ping(ns, ip, 1) {
            return true;
        }
    }
    false
}

/// The logs of `daemons`, for failure messages.
fn logs(daemons: &[&Daemon]) -> String {
    daemons
        .iter()
        .enumerate()
        .map(|(i, d)| format!("--- daemon {i} log ---\n{}", d.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// iperf3 both ways between `a` (the client) and the server `b` at
/// `b_ip`; fails the test, with the daemons' logs, when either fails.
fn iperf3_both_ways(a: Option<&Netns>, b: Option<&Netns>, b_ip: &str, daemons: &[&Daemon]) {
    for reverse in [false, true] {
        if let Err(e) = iperf3(a, b, b_ip, reverse) {
            panic!("{e}\n{}", logs(daemons));
        }
    }
}

/// `ofswitch ofctl add-flow BR FLOW`, which must succeed.
fn add_flow(d: &Daemon, br: &str, flow: &str) {
    let out = d.run(&["ofctl", "add-flow", br, flow]);
    assert!(
        out.status.success(),
        "add-flow {flow}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dump_flows(d: &Daemon, br: &str) -> String {
    let out = d.run(&["ofctl", "dump-flows", br]);
    assert!(
        out.status.success(),
        "dump-flows: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A running `tcpdump -e -nn` on one interface of a namespace, its text
/// output collected in a file; stopped (SIGINT) when dropped.
struct Capture {
    child: Option<Child>,
    out: PathBuf,
    what: String,
    _dir: tempfile::TempDir,
}

impl Capture {
    /// Starts the capture and waits until tcpdump listens.
    fn start(ns: &Netns, dev: &str) -> Capture {
        let dir = tempfile::Builder::new()
            .prefix("ofswitch-e2e-cap")
            .tempdir()
            .expect("capture dir");
        let out = dir.path().join("out.txt");
        let err = dir.path().join("err.txt");
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.0, "tcpdump", "-i", dev])
            // Link-level headers (the 802.1Q tag), no name lookups, each
            // packet as soon as it is captured, line-buffered, and only
            // what arrives on `dev` (what the switch sent).
            .args(["-e", "-nn", "--immediate-mode", "-l", "-Q", "in"])
            .stdout(std::fs::File::create(&out).expect("capture output"))
            .stderr(std::fs::File::create(&err).expect("capture errors"))
            .spawn()
            .expect("start tcpdump");
        let mut cap = Capture {
            child: Some(child),
            out,
            what: format!("tcpdump -i {dev} in {}", ns.0),
            _dir: dir,
        };
        let t0 = Instant::now();
        loop {
            let e = std::fs::read_to_string(&err).unwrap_or_default();
            if e.contains("listening on") {
                break;
            }
            let exited = cap.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || t0.elapsed() > Duration::from_secs(10) {
                panic!("{} did not start ({exited:?}): {e}", cap.what);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cap
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Waits (up to 5 s) until a captured line satisfies `pred`; returns
    /// that line.
    fn wait_line(&self, pred: impl Fn(&str) -> bool) -> Option<String> {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Some(l) = self.text().lines().find(|l| pred(l)) {
                return Some(l.to_string());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stops tcpdump and returns everything it printed.
    fn stop(&mut self) -> String {
        if let Some(c) = self.child.take() {
            // `ip netns exec` execs tcpdump, so the child is tcpdump.
            stop_child(c, libc::SIGINT);
        }
        self.text()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The captured ICMP echo requests (or replies) from `src` to `dst`.
fn echo_lines<'a>(text: &'a str, src: &str, dst: &str, kind: &str) -> Vec<&'a str> {
    let needle = format!(" {src} > {dst}: ICMP echo {kind}");
    text.lines().filter(|l| l.contains(&needle)).collect()
}

/// Whether a `tcpdump -e` line shows exactly one 802.1Q tag `vid` in
/// front of IPv4.
fn tagged_once(line: &str, vid: u16) -> bool {
    line.contains("ethertype 802.1Q (0x8100)")
        && line.contains(&format!(": vlan {vid}, p 0, ethertype IPv4"))
}

/// Whether a `tcpdump -e` line shows an untagged IPv4 frame.
fn untagged(line: &str) -> bool {
    !line.contains("802.1Q") && !line.contains("vlan ") && line.contains("ethertype IPv4")
}

// ---------------------------------------------------------------------
// iperf3 across each port type
// ---------------------------------------------------------------------

/// System ports on veth pairs made by hand (`add-port BR VETH`, the
/// AF_PACKET path without add-netns-port), TCP both ways.
#[test]
fn iperf3_across_system_ports() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    d.vsctl(&["add-br", &br]);
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let (p1, _, _l1) = veth_into(&ns1, Some("10.250.1.1/24"));
    let (p2, _, _l2) = veth_into(&ns2, Some("10.250.1.2/24"));
    d.vsctl(&["add-port", &br, &p1]);
    d.vsctl(&["add-port", &br, &p2]);
    assert!(
        pings_within(Some(&ns1), "10.250.1.2", 10),
        "ping across system ports\n{}",
        d.log()
    );
    assert!(ping(Some(&ns2), "10.250.1.1", 2), "and back\n{}", d.log());
    iperf3_both_ways(Some(&ns1), Some(&ns2), "10.250.1.2", &[&d]);
}

/// Two `type=internal` ports (TAP devices) moved into two namespaces: the
/// TAP path both ways, its virtio_net_hdr offloads in and out.
#[test]
fn iperf3_across_internal_ports() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (p1, p2) = (unique("i"), unique("i"));
    d.vsctl(&[
        "add-br",
        &br,
        "--",
        "add-port",
        &br,
        &p1,
        "--",
        "set",
        "interface",
        &p1,
        "type=internal",
        "--",
        "add-port",
        &br,
        &p2,
        "--",
        "set",
        "interface",
        &p2,
        "type=internal",
    ]);
    for p in [&p1, &p2] {
        wait_for(
            &format!("the internal port {p}"),
            Duration::from_secs(5),
            || {
                Command::new("ip")
                    .args(["link", "show", p])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
            },
        );
    }
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    ns1.take(&p1, "10.250.2.1/24");
    ns2.take(&p2, "10.250.2.2/24");
    assert!(
        pings_within(Some(&ns1), "10.250.2.2", 10),
        "ping across internal ports\n{}",
        d.log()
    );
    assert!(ping(Some(&ns2), "10.250.2.1", 2), "and back\n{}", d.log());
    iperf3_both_ways(Some(&ns1), Some(&ns2), "10.250.2.2", &[&d]);
}

/// An internal port whose interface settings change comes back with them
/// and no error: a new MTU is set on its TAP in place (the address the
/// host gave it stays, as on Open vSwitch), a new OpenFlow number opens it
/// again on a new TAP. (The old TAP was still held by the forwarding
/// threads when the new one was created: EBUSY, and the device vanished
/// when the old one closed.)
#[test]
fn an_internal_port_renumbered_or_resized_comes_back() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let p = unique("i");
    d.vsctl(&["add-br", &br]);
    d.add_port_of_type(&br, &p, "internal");
    let link = |p: &str| {
        Command::new("ip")
            .args(["-o", "link", "show", p])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    wait_for("the internal port", Duration::from_secs(5), || {
        !link(&p).is_empty()
    });
    let addr = format!("10.248.{}.1/24", net());
    let has_addr = || {
        Command::new("ip")
            .args(["-o", "addr", "show", "dev", &p])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains(&addr))
            .unwrap_or(false)
    };
    for (setting, want_ofport, want_mtu) in [
        ("ofport_request=7", "7", "1500"),
        ("mtu_request=1400", "7", "1400"),
        ("mtu_request=1300", "7", "1300"),
        ("ofport_request=9", "9", "1300"),
    ] {
        if setting == "mtu_request=1400" {
            sh(&["ip", "addr", "add", &addr, "dev", &p]);
        }
        let out = d.run(&["vsctl", "set", "interface", &p, setting]);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{setting}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            d.log()
        );
        let got = d.vsctl(&["get", "interface", &p, "ofport", "error", "mtu"]);
        assert_eq!(
            got,
            format!("{want_ofport}\n[]\n{want_mtu}\n"),
            "{setting}\n{}",
            d.log()
        );
        let l = link(&p);
        assert!(l.contains(&format!(" mtu {want_mtu} ")), "{setting}: {l}");
        if setting.starts_with("mtu_request") {
            assert!(has_addr(), "{setting}: the TAP lost its address {addr}");
        }
    }
}

/// Two bridges joined by a patch pair, a namespace on each (system ports
/// by add-netns-port): frames cross bridges inside the daemon.
#[test]
fn iperf3_across_patch_ports() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let (br1, br2) = (unique("br"), unique("br"));
    let (pa, pb) = (unique("pa"), unique("pb"));
    d.vsctl(&[
        "add-br",
        &br1,
        "--",
        "add-br",
        &br2,
        "--",
        "add-port",
        &br1,
        &pa,
        "--",
        "set",
        "interface",
        &pa,
        "type=patch",
        &format!("options:peer={pb}"),
        "--",
        "add-port",
        &br2,
        &pb,
        "--",
        "set",
        "interface",
        &pb,
        "type=patch",
        &format!("options:peer={pa}"),
    ]);
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let (h1, h2) = (unique("h"), unique("h"));
    d.vsctl(&[
        "add-netns-port",
        &br1,
        &h1,
        &ns1.0,
        "--ipaddress=10.250.3.1/24",
    ]);
    d.vsctl(&[
        "add-netns-port",
        &br2,
        &h2,
        &ns2.0,
        "--ipaddress=10.250.3.2/24",
    ]);
    assert!(
        pings_within(Some(&ns1), "10.250.3.2", 10),
        "ping across the patch pair\n{}",
        d.log()
    );
    assert!(ping(Some(&ns2), "10.250.3.1", 2), "and back\n{}", d.log());
    iperf3_both_ways(Some(&ns1), Some(&ns2), "10.250.3.2", &[&d]);
}

/// Which tunnel joins the two daemons.
#[derive(Clone, Copy, PartialEq)]
enum Tunnel {
    Vxlan,
    Gre,
}

/// Two of our daemons, A in the root namespace and B in namespace `B`,
/// joined by a tunnel over a veth underlay (root <-> B), each with a host
/// namespace behind it (MTU 1400, room for the encapsulation): ping and
/// iperf3 both ways between the hosts.
fn tunnel_between_two_daemons(kind: Tunnel) {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ping", have("ping")) {
        return;
    }
    let n = net();
    let octet = if kind == Tunnel::Vxlan { 246 } else { 247 };
    let (under_a, under_b) = (format!("10.{octet}.{n}.1"), format!("10.{octet}.{n}.2"));
    let (over_a, over_b) = (format!("10.250.{octet}.1"), format!("10.250.{octet}.2"));

    let ns_b = Netns::new(&unique("n"));
    let under = Veth::new();
    sh(&[
        "ip",
        "addr",
        "add",
        &format!("{under_a}/24"),
        "dev",
        &under.end,
    ]);
    sh(&["ip", "link", "set", &under.end, "up"]);
    ns_b.take(&under.peer, &format!("{under_b}/24"));

    let (ha, hb) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let da = Daemon::start(&[]);
    let db = Daemon::start_in(&ns_b.0, &[]);
    let udp_port = free_port().to_string();
    for (d, host, addr, remote) in [(&da, &ha, &over_a, &under_b), (&db, &hb, &over_b, &under_a)] {
        let br = unique("br");
        let (p, t) = (unique("p"), unique("t"));
        d.vsctl(&["add-br", &br]);
        d.vsctl(&[
            "add-netns-port",
            &br,
            &p,
            &host.0,
            &format!("--ipaddress={addr}/24"),
            "--mtu=1400",
        ]);
        let remote = format!("options:remote_ip={remote}");
        let dst_port = format!("options:dst_port={udp_port}");
        let mut args = vec![
            "add-port",
            br.as_str(),
            t.as_str(),
            "--",
            "set",
            "interface",
            t.as_str(),
            remote.as_str(),
        ];
        match kind {
            // A VNI, on a UDP port of this test's own.
            Tunnel::Vxlan => {
                args.extend(["type=vxlan", "options:key=5000", dst_port.as_str()]);
            }
            // No key at all (tunnels.rs covers GRE with a key).
            Tunnel::Gre => args.push("type=gre"),
        }
        d.vsctl(&args);
    }
    let what = if kind == Tunnel::Vxlan {
        "VXLAN"
    } else {
        "GRE"
    };
    assert!(
        pings_within(Some(&ha), &over_b, 10),
        "ping over {what}\n{}",
        logs(&[&da, &db])
    );
    assert!(
        ping(Some(&hb), &over_a, 2),
        "and back over {what}\n{}",
        logs(&[&da, &db])
    );
    iperf3_both_ways(Some(&ha), Some(&hb), &over_b, &[&da, &db]);
}

#[test]
fn iperf3_over_vxlan_between_two_switches() {
    tunnel_between_two_daemons(Tunnel::Vxlan);
}

#[test]
fn iperf3_over_gre_between_two_switches() {
    tunnel_between_two_daemons(Tunnel::Gre);
}

// ---------------------------------------------------------------------
// VLAN tags on the wire
// ---------------------------------------------------------------------
//
// This kernel has no 8021q module, so no host here can have a VLAN
// device: a trunk's far end is a namespace whose veth end the test
// injects tagged frames into (`inject`) and reads with tcpdump (`-Q in`:
// only what the switch sent). Access hosts are ordinary namespaces
// sending to a static neighbour entry (nobody answers ARP on the trunk);
// their pings go unanswered, their frames are what is checked.

/// The Ethernet address the test's frames on trunk `n` come from.
fn trunk_mac(n: u8) -> [u8; 6] {
    [0x02, 0xe2, 0xe2, 0, 0, n]
}

/// One `ping -c 1 -W 1` from `ns` to `ip`, answered or not.
fn ping_once(ns: &Netns, ip: &str) {
    let _ = ns.exec(&["ping", "-c", "1", "-W", "1", ip]);
}

/// NORMAL with VLANs: access ports tag=10, tag=20 and tag=30, one host
/// namespace each, and a trunk port with trunks=10,20.
///
/// - access -> trunk: each access host pings 10.250.VID.2, which it
///   believes is at the trunk host's MAC (unknown to the bridge, so the
///   frame floods its VLAN): on the trunk's wire the tag=10 host's frames
///   carry exactly tag 10, the tag=20 host's tag 20, and nothing of VLAN
///   30 (not trunked) appears;
/// - trunk -> access: frames sent into the trunk tagged 10 and 20 (the
///   kernel strips the tag into auxdata, the switch puts it back) reach
///   the tag=10 and tag=20 hosts untagged; a broadcast tagged 30 reaches
///   nobody.
#[test]
fn vlan_tags_on_the_wire_access_and_trunk_ports() {
    if !require_root() || !require("tcpdump", have("tcpdump")) || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    d.vsctl(&["add-br", &br]);
    let mac_t = trunk_mac(1);
    // (vid, namespace, its device, the veth's guard)
    let mut hosts = Vec::new();
    for vid in [10u16, 20, 30] {
        let ns = Netns::new(&unique("n"));
        let (p, inner, link) = veth_into(&ns, Some(&format!("10.250.{vid}.1/24")));
        d.vsctl(&["add-port", &br, &p, &format!("tag={vid}")]);
        static_neigh(&ns, &inner, &format!("10.250.{vid}.2"), mac_t);
        hosts.push((vid, ns, inner, link));
    }
    let nt = Netns::new(&unique("n"));
    let (t, t_in, _lt) = veth_into(&nt, None);
    d.vsctl(&["add-port", &br, &t, "trunks=10,20"]);

    let mut on_trunk = Capture::start(&nt, &t_in);
    let mut on_host: Vec<Capture> = hosts
        .iter()
        .map(|(_, ns, inner, _)| Capture::start(ns, inner))
        .collect();

    // Access -> trunk; VLAN 30 first, so that anything of it would be on
    // the trunk's capture by the time VLANs 10 and 20 are.
    for (vid, ns, _, _) in hosts.iter().rev() {
        let to = format!("10.250.{vid}.2");
        let req = format!("10.250.{vid}.1 > {to}: ICMP echo request");
        let t0 = Instant::now();
        loop {
            ping_once(ns, &to);
            if *vid == 30 || on_trunk.text().contains(&req) {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no echo request from the tag={vid} port on the trunk:\n{}\n{}",
                on_trunk.text(),
                d.log()
            );
        }
    }

    // Trunk -> access: VLAN 30 first again.
    let macs: Vec<[u8; 6]> = hosts
        .iter()
        .map(|(_, ns, inner, _)| mac_of(ns, inner))
        .collect();
    let frames = vec![
        icmp_frame(
            Some(30),
            mac_t,
            [0xff; 6],
            "10.250.30.2",
            "10.250.30.1",
            false,
        ),
        icmp_frame(
            Some(10),
            mac_t,
            macs[0],
            "10.250.10.2",
            "10.250.10.1",
            false,
        ),
        icmp_frame(
            Some(20),
            mac_t,
            macs[1],
            "10.250.20.2",
            "10.250.20.1",
            false,
        ),
    ];
    inject(Some(&nt), &t_in, frames);
    for (i, vid) in [10, 20].into_iter().enumerate() {
        let rep = format!("10.250.{vid}.2 > 10.250.{vid}.1: ICMP echo reply");
        assert!(
            on_host[i].wait_line(|l| l.contains(&rep)).is_some(),
            "a frame tagged {vid} into the trunk did not reach the tag={vid} host:\n{}\n{}",
            on_host[i].text(),
            d.log()
        );
    }

    let trunk = on_trunk.stop();
    let at_host: Vec<String> = on_host.iter_mut().map(|c| c.stop()).collect();
    for vid in [10u16, 20] {
        let (src, dst) = (format!("10.250.{vid}.1"), format!("10.250.{vid}.2"));
        let req = echo_lines(&trunk, &src, &dst, "request");
        assert!(!req.is_empty(), "no echo request on the trunk:\n{trunk}");
        for l in req {
            assert!(
                tagged_once(l, vid),
                "from the tag={vid} port, on the trunk, want exactly tag {vid}: {l}\n{trunk}"
            );
        }
    }
    assert!(
        !trunk.contains("vlan 30") && !trunk.contains("10.250.30."),
        "VLAN 30 left on a trunks=10,20 port:\n{trunk}"
    );
    for (i, vid) in [10u16, 20].into_iter().enumerate() {
        let text = &at_host[i];
        let rep = echo_lines(
            text,
            &format!("10.250.{vid}.2"),
            &format!("10.250.{vid}.1"),
            "reply",
        );
        assert!(!rep.is_empty(), "{text}");
        for l in rep {
            assert!(
                untagged(l),
                "on the tag={vid} access port, want untagged: {l}"
            );
        }
    }
    assert!(
        !at_host[2].contains("10.250.30.2 >"),
        "a frame tagged 30 crossed a trunk without VLAN 30:\n{}",
        at_host[2]
    );
    assert!(
        !at_host[0].contains("10.250.20.") && !at_host[1].contains("10.250.10."),
        "VLANs 10 and 20 leaked into each other:\n{}\n{}",
        at_host[0],
        at_host[1]
    );
}

/// A secure bridge whose flows set the VLAN, between untagged hosts H1
/// (port 1) and H2 (port 4) and trunks T1 (port 2) and T2 (port 3):
///
/// - H1 -> T1: `push_vlan:0x8100,set_field:4116->vlan_vid` (OpenFlow 1.3
///   syntax) puts exactly tag 20 on T1's wire; T1 -> H1: `dl_vlan=20`,
///   `pop_vlan`: untagged at H1;
/// - T1 -> T2: `dl_vlan=30`, `mod_vlan_vid:31` rewrites the tag to 31;
///   T2 -> T1: `dl_vlan=31`, `set_field:4126->vlan_vid` back to 30;
/// - H2 -> T2: `mod_vlan_vid:50` on an untagged frame pushes tag 50;
///   T2 -> H2: `dl_vlan=50`, `strip_vlan`: untagged at H2;
/// - a frame tagged 99 into T1 matches no flow and goes nowhere.
///
/// The frames into T1 and T2 arrive with their tag in auxdata; they reach
/// their destination only if the switch put it back and the `dl_vlan=`
/// flow matched, and those flows' counters move.
#[test]
fn vlan_tags_on_the_wire_set_by_flows() {
    if !require_root() || !require("tcpdump", have("tcpdump")) || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    // Secure from the start: no NORMAL flow, only the test's flows forward
    // (see fail_mode_change_without_a_controller_resets_the_flow_table
    // for the two-step version).
    d.vsctl(&["add-br", &br, "--", "set-fail-mode", &br, "secure"]);
    let flows = dump_flows(&d, &br);
    assert!(
        !flows.contains("NORMAL"),
        "a secure bridge's flows:\n{flows}"
    );
    let (nh1, nt1, nt2, nh2) = (
        Netns::new(&unique("n")),
        Netns::new(&unique("n")),
        Netns::new(&unique("n")),
        Netns::new(&unique("n")),
    );
    let (h1, h1_in, _l1) = veth_into(&nh1, Some("10.250.20.1/24"));
    let (t1, t1_in, _l2) = veth_into(&nt1, None);
    let (t2, t2_in, _l3) = veth_into(&nt2, None);
    let (h2, h2_in, _l4) = veth_into(&nh2, Some("10.250.50.1/24"));
    let (mac_t1, mac_t2) = (trunk_mac(1), trunk_mac(2));
    static_neigh(&nh1, &h1_in, "10.250.20.2", mac_t1);
    static_neigh(&nh2, &h2_in, "10.250.50.2", mac_t2);
    for (p, n) in [(&h1, "1"), (&t1, "2"), (&t2, "3"), (&h2, "4")] {
        d.vsctl(&["add-port", &br, p, &format!("ofport_request={n}")]);
    }
    for f in [
        "priority=10,in_port=1,actions=push_vlan:0x8100,set_field:4116->vlan_vid,output:2",
        "priority=10,in_port=2,dl_vlan=20,actions=pop_vlan,output:1",
        "priority=10,in_port=2,dl_vlan=30,actions=mod_vlan_vid:31,output:3",
        "priority=10,in_port=3,dl_vlan=31,actions=set_field:4126->vlan_vid,output:2",
        "priority=10,in_port=4,actions=mod_vlan_vid:50,output:3",
        "priority=10,in_port=3,dl_vlan=50,actions=strip_vlan,output:4",
    ] {
        add_flow(&d, &br, f);
    }

    let mut caps = [
        Capture::start(&nh1, &h1_in),
        Capture::start(&nt1, &t1_in),
        Capture::start(&nt2, &t2_in),
        Capture::start(&nh2, &h2_in),
    ];
    // The untagged hosts send.
    for (ns, to, cap) in [(&nh1, "10.250.20.2", 1), (&nh2, "10.250.50.2", 2)] {
        let t0 = Instant::now();
        loop {
            ping_once(ns, to);
            if caps[cap]
                .text()
                .contains(&format!("> {to}: ICMP echo request"))
            {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{} -> {to}: nothing on the trunk\n{}\n{}",
                ns.0,
                dump_flows(&d, &br),
                d.log()
            );
        }
    }
    // The trunks send; the unmatched VLAN 99 first.
    let (mac_h1, mac_h2) = (mac_of(&nh1, &h1_in), mac_of(&nh2, &h2_in));
    inject(
        Some(&nt1),
        &t1_in,
        vec![
            icmp_frame(
                Some(99),
                mac_t1,
                [0xff; 6],
                "10.250.99.2",
                "10.250.99.1",
                false,
            ),
            icmp_frame(
                Some(20),
                mac_t1,
                mac_h1,
                "10.250.20.2",
                "10.250.20.1",
                false,
            ),
            icmp_frame(Some(30), mac_t1, mac_t2, "10.250.30.1", "10.250.30.2", true),
        ],
    );
    inject(
        Some(&nt2),
        &t2_in,
        vec![
            icmp_frame(
                Some(31),
                mac_t2,
                mac_t1,
                "10.250.30.2",
                "10.250.30.1",
                false,
            ),
            icmp_frame(
                Some(50),
                mac_t2,
                mac_h2,
                "10.250.50.2",
                "10.250.50.1",
                false,
            ),
        ],
    );
    for (cap, line) in [
        (0, "10.250.20.2 > 10.250.20.1: ICMP echo reply"),
        (2, "10.250.30.1 > 10.250.30.2: ICMP echo request"),
        (1, "10.250.30.2 > 10.250.30.1: ICMP echo reply"),
        (3, "10.250.50.2 > 10.250.50.1: ICMP echo reply"),
    ] {
        assert!(
            caps[cap].wait_line(|l| l.contains(line)).is_some(),
            "never captured {line}:\n{}\n{}\n{}",
            caps[cap].text(),
            dump_flows(&d, &br),
            d.log()
        );
    }
    let [c_h1, c_t1, c_t2, c_h2] = caps.each_mut().map(|c| c.stop());

    let check = |text: &str, src: &str, dst: &str, kind: &str, vid: Option<u16>, on: &str| {
        let lines = echo_lines(text, src, dst, kind);
        assert!(
            !lines.is_empty(),
            "no echo {kind} {src} > {dst} on {on}:\n{text}"
        );
        for l in lines {
            match vid {
                Some(vid) => assert!(
                    tagged_once(l, vid),
                    "{src} > {dst} on {on}: want exactly tag {vid}: {l}\n{text}"
                ),
                None => assert!(untagged(l), "{src} > {dst} on {on}: want untagged: {l}"),
            }
        }
    };
    check(
        &c_t1,
        "10.250.20.1",
        "10.250.20.2",
        "request",
        Some(20),
        "T1",
    );
    check(&c_h1, "10.250.20.2", "10.250.20.1", "reply", None, "H1");
    check(
        &c_t2,
        "10.250.30.1",
        "10.250.30.2",
        "request",
        Some(31),
        "T2",
    );
    check(&c_t1, "10.250.30.2", "10.250.30.1", "reply", Some(30), "T1");
    check(
        &c_t2,
        "10.250.50.1",
        "10.250.50.2",
        "request",
        Some(50),
        "T2",
    );
    check(&c_h2, "10.250.50.2", "10.250.50.1", "reply", None, "H2");
    for (text, on) in [(&c_h1, "H1"), (&c_t1, "T1"), (&c_t2, "T2"), (&c_h2, "H2")] {
        assert!(
            !text.contains("10.250.99."),
            "VLAN 99 matched no flow but left on {on}:\n{text}"
        );
    }

    // The dl_vlan flows counted the frames that entered the trunks.
    let flows = dump_flows(&d, &br);
    for vid in [20, 30, 31, 50] {
        let line = flows
            .lines()
            .find(|l| {
                l.contains(&format!("dl_vlan={vid},")) || l.contains(&format!("dl_vlan={vid} "))
            })
            .unwrap_or_else(|| panic!("no dl_vlan={vid} flow in\n{flows}"));
        assert!(
            !line.contains("n_packets=0,"),
            "dl_vlan={vid} matched nothing: {line}"
        );
    }
}

// ---------------------------------------------------------------------
// The LOCAL port as the host's interface
// ---------------------------------------------------------------------

/// The bridge's LOCAL port (the TAP named after the bridge) gets an
/// address in the root namespace, as a host's OVS bridge does; a
/// namespace on a system port of the bridge, in the same subnet, pings it
/// and is pinged by it, and TCP (iperf3) works both ways: TAP <-> AF_PACKET
/// with the offloads of both.
#[test]
fn internal_port_with_an_ip_reaches_a_host() {
    if !require_root() || !require("iperf3", have("iperf3")) || !require("ping", have("ping")) {
        return;
    }
    let n = net();
    let (local_ip, host_ip) = (format!("10.245.{n}.1"), format!("10.245.{n}.2"));
    let d = Daemon::start(&[]);
    let br = unique("br");
    d.vsctl(&["add-br", &br]);
    wait_for("the LOCAL port's TAP", Duration::from_secs(5), || {
        Command::new("ip")
            .args(["link", "show", &br])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    sh(&["ip", "addr", "add", &format!("{local_ip}/24"), "dev", &br]);
    sh(&["ip", "link", "set", &br, "up"]);
    let ns = Netns::new(&unique("n"));
    let (p, _, _l) = veth_into(&ns, Some(&format!("{host_ip}/24")));
    d.vsctl(&["add-port", &br, &p]);

    assert!(
        pings_within(Some(&ns), &local_ip, 10),
        "the namespace pings the LOCAL port's address\n{}",
        d.log()
    );
    assert!(
        ping(None, &host_ip, 2),
        "the root namespace pings the namespace through LOCAL\n{}",
        d.log()
    );
    // TCP: server on the LOCAL address, client in the namespace (both
    // directions of data), then the other way round.
    iperf3_both_ways(Some(&ns), None, &local_ip, &[&d]);
    iperf3_both_ways(None, Some(&ns), &host_ip, &[&d]);
}

// ---------------------------------------------------------------------
// Fail mode and the default flow
// ---------------------------------------------------------------------

/// Changing the fail mode of a bridge without controllers starts it over,
/// as ovs-vswitchd does (`connmgr_set_fail_mode` flushes the flow table
/// when no controller is configured, and a standalone bridge then gets
/// its `priority=0 actions=NORMAL` flow back): `add-br` then
/// `set-fail-mode secure` (two transactions, the way most scripts do it)
/// leaves nothing forwarding on its own, and back to standalone the
/// bridge is a learning switch again.
#[test]
fn fail_mode_change_without_a_controller_resets_the_flow_table() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    d.vsctl(&["add-br", &br]);
    let (ns1, ns2) = (Netns::new(&unique("n")), Netns::new(&unique("n")));
    let (p1, p2) = (unique("p"), unique("p"));
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p1,
        &ns1.0,
        "--ipaddress=10.250.4.1/24",
    ]);
    d.vsctl(&[
        "add-netns-port",
        &br,
        &p2,
        &ns2.0,
        "--ipaddress=10.250.4.2/24",
    ]);
    assert!(
        pings_within(Some(&ns1), "10.250.4.2", 10),
        "standalone forwards\n{}",
        d.log()
    );

    d.vsctl(&["set-fail-mode", &br, "secure"]);
    let flows = dump_flows(&d, &br);
    assert!(
        !flows.contains("actions=NORMAL"),
        "set-fail-mode secure (no controller) kept the standalone NORMAL flow:\n{flows}"
    );
    // Forget the neighbours learned so far: secure must not forward ARP.
    for ns in [&ns1, &ns2] {
        let _ = ns.exec(&["ip", "neigh", "flush", "all"]);
    }
    assert!(
        !ping(Some(&ns1), "10.250.4.2", 1),
        "a secure bridge without flows forwarded:\n{flows}"
    );

    d.vsctl(&["set-fail-mode", &br, "standalone"]);
    let flows = dump_flows(&d, &br);
    assert!(
        flows.contains("priority=0 actions=NORMAL"),
        "back to standalone (no controller), no NORMAL flow:\n{flows}"
    );
    assert!(
        pings_within(Some(&ns1), "10.250.4.2", 10),
        "standalone again forwards\n{flows}\n{}",
        d.log()
    );
}
