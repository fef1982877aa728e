//! Spanning tree end to end, against the Linux bridge's own 802.1D STP.
//!
//! In a namespace of its own (`world`, so nothing touches the host's
//! network) a daemon runs one ofswitch bridge `ob` with `stp_enable=true`,
//! and two Linux bridges `lb1`, `lb2` run with `stp_state 1`; veth pairs
//! wire the three in a triangle. Hosts in their own namespaces hang off
//! each bridge: h1 off lb1, h2 off lb2, h3 off ob. Timers are the shortest
//! Linux allows (hello 1 s, max age 6 s, forward delay 2 s); lb1 has the
//! best priority (root), ob the worst, so ob's port towards lb2 is the one
//! the loop blocks.
//!
//! (a) converges with exactly one blocking port in the loop (read from
//!     sysfs for the Linux ports, `Port.status` for ob's), pings pass
//!     through ob, and a broadcast does not storm (ob's receive counters
//!     stay small).
//! (b) with the lb1-lb2 link down, lb2 hears the root only through ob:
//!     ob's blocked port must become forwarding (within max age + 2
//!     forward delays) and h1 reaches h2 across ob.
//!
//! And the GRE mesh the tutorials build: three daemons, each with a host,
//! joined by GRE tunnels two by two. Spanning tree blocks one tunnel end,
//! and when the root's switch goes away the blocked end takes over once
//! the root's information ages out (tunnels have no carrier to lose).

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Max age + 2 forward delays of the Linux timers, plus margin for the
/// one-second hello and the daemon's 100 ms tick.
const HEAL: Duration = Duration::from_secs(6 + 2 * 2 + 4);

struct World {
    // Fields drop in order: the daemon stops before the namespaces go.
    d: Daemon,
    hosts: Vec<Netns>,
    ns: Netns,
    ob: String,
    lb1: String,
    lb2: String,
    /// ob's ports: towards lb1, towards lb2.
    ob_lb1: String,
    ob_lb2: String,
    /// lb1's and lb2's ends of the lb1-lb2 link, and their ends of the
    /// links to ob.
    lb1_lb2: String,
    lb2_lb1: String,
    lb1_ob: String,
    lb2_ob: String,
}

fn ip_w(ns: &Netns, args: &[&str]) -> String {
    let mut all = vec!["ip", "-n", &ns.0];
    all.extend_from_slice(args);
    sh(&all)
}

/// A veth pair inside `ns`, both ends up.
fn veth(ns: &Netns) -> (String, String) {
    let (a, b) = (unique("v"), unique("w"));
    ip_w(ns, &["link", "add", &a, "type", "veth", "peer", "name", &b]);
    for dev in [&a, &b] {
        ip_w(ns, &["link", "set", dev, "up"]);
    }
    (a, b)
}

/// A Linux bridge in `ns` with kernel STP and the shortest timers.
fn linux_bridge(ns: &Netns, priority: &str) -> String {
    let br = unique("lb");
    ip_w(
        ns,
        &[
            "link",
            "add",
            &br,
            "type",
            "bridge",
            "stp_state",
            "1",
            "forward_delay",
            "200",
            "hello_time",
            "100",
            "max_age",
            "600",
            "priority",
            priority,
        ],
    );
    ip_w(ns, &["link", "set", &br, "up"]);
    br
}

fn enslave(ns: &Netns, dev: &str, br: &str) {
    ip_w(ns, &["link", "set", dev, "master", br]);
}

/// A new namespace with `cidr` on one end of a veth pair whose other end
/// (returned) stays in `ns`.
fn attached_ns(ns: &Netns, prefix: &str, cidr: &str) -> (Netns, String) {
    let h = Netns::new(&unique(prefix));
    let (here, there) = veth(ns);
    ip_w(ns, &["link", "set", &there, "netns", &h.0]);
    sh(&["ip", "-n", &h.0, "addr", "add", cidr, "dev", &there]);
    sh(&["ip", "-n", &h.0, "link", "set", &there, "up"]);
    sh(&["ip", "-n", &h.0, "link", "set", "lo", "up"]);
    (h, here)
}

/// A host namespace with address 10.77.0.`i`/24, hanging off `ns`.
fn host(ns: &Netns, i: u8) -> (Netns, String) {
    attached_ns(ns, "h", &format!("10.77.0.{i}/24"))
}

/// Turns spanning tree on for `br` with priority `prio` and the shortest
/// timers (OVS's minimum forward delay is 4 s; the Linux root's 2 s rule
/// while it is root).
fn enable_stp(d: &Daemon, br: &str, prio: &str) {
    d.vsctl(&[
        "set",
        "bridge",
        br,
        &format!("other_config:stp-priority={prio}"),
        "other_config:stp-hello-time=1",
        "other_config:stp-max-age=6",
        "other_config:stp-forward-delay=4",
        "stp_enable=true",
    ]);
}

fn setup() -> World {
    let ns = Netns::new(&unique("W"));
    sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
    let lb1 = linux_bridge(&ns, "4096");
    let lb2 = linux_bridge(&ns, "32768");
    let d = Daemon::start_in(&ns.0, &[]);
    let ob = unique("ob");
    d.vsctl(&["add-br", &ob]);
    enable_stp(&d, &ob, "36864");
    let (lb1_lb2, lb2_lb1) = veth(&ns);
    enslave(&ns, &lb1_lb2, &lb1);
    enslave(&ns, &lb2_lb1, &lb2);
    let (ob_lb1, lb1_ob) = veth(&ns);
    enslave(&ns, &lb1_ob, &lb1);
    let (ob_lb2, lb2_ob) = veth(&ns);
    enslave(&ns, &lb2_ob, &lb2);
    d.vsctl(&["add-port", &ob, &ob_lb1]);
    d.vsctl(&["add-port", &ob, &ob_lb2]);
    let (h1, p1) = host(&ns, 1);
    enslave(&ns, &p1, &lb1);
    let (h2, p2) = host(&ns, 2);
    enslave(&ns, &p2, &lb2);
    let (h3, p3) = host(&ns, 3);
    d.vsctl(&["add-port", &ob, &p3]);
    World {
        ns,
        hosts: vec![h1, h2, h3],
        d,
        ob,
        lb1,
        lb2,
        ob_lb1,
        ob_lb2,
        lb1_lb2,
        lb2_lb1,
        lb1_ob,
        lb2_ob,
    }
}

impl World {
    /// A Linux bridge port's state from sysfs (as `bridge link` shows it).
    fn linux_state(&self, dev: &str) -> String {
        let path = format!("/sys/class/net/{dev}/brport/state");
        let out = self.ns.exec(&["cat", &path]);
        match String::from_utf8_lossy(&out.stdout).trim() {
            "0" => "disabled",
            "1" => "listening",
            "2" => "learning",
            "3" => "forwarding",
            "4" => "blocking",
            _ => "unknown",
        }
        .to_string()
    }

    /// A key of an ofswitch port's `status` column.
    fn ob_status(&self, port: &str, key: &str) -> String {
        let out = self
            .d
            .run(&["vsctl", "get", "port", port, &format!("status:{key}")]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_matches('"')
            .to_string()
    }

    /// Every port of the loop with its state.
    fn loop_states(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> =
            [&self.lb1_lb2, &self.lb2_lb1, &self.lb1_ob, &self.lb2_ob]
                .iter()
                .map(|d| (d.to_string(), self.linux_state(d)))
                .collect();
        for p in [&self.ob_lb1, &self.ob_lb2] {
            v.push((p.to_string(), self.ob_status(p, "stp_state")));
        }
        v
    }

    fn converged(&self) -> bool {
        let s = self.loop_states();
        let fwd = s.iter().filter(|(_, st)| st == "forwarding").count();
        let blk = s.iter().filter(|(_, st)| st == "blocking").count();
        fwd == s.len() - 1 && blk == 1
    }

    fn rx_packets(&self, port: &str) -> u64 {
        vsctl_map(&self.d.vsctl(&["get", "interface", port, "statistics"]))
            .get("rx_packets")
            .copied()
            .unwrap_or(0)
    }

    fn context(&self) -> String {
        format!(
            "loop: {:?}\nob status: {}\nlog:\n{}",
            self.loop_states(),
            self.d.vsctl(&["get", "bridge", &self.ob, "status"]),
            self.d.log()
        )
    }
}

#[test]
fn interoperates_with_linux_stp_and_heals() {
    if !require_root() {
        return;
    }
    let w = setup();
    let t0 = Instant::now();
    // (a) Convergence: two forward delays after the root is known.
    let deadline = Duration::from_secs(20);
    while !w.converged() {
        assert!(t0.elapsed() < deadline, "no convergence\n{}", w.context());
        std::thread::sleep(Duration::from_millis(200));
    }
    let converged = t0.elapsed();
    eprintln!("converged after {converged:?}: {:?}", w.loop_states());
    // lb1 is root: ob's port to lb1 is its root port, its port to lb2
    // (the worst bridge's side of the lb2-ob segment) is blocked.
    assert_eq!(
        w.ob_status(&w.ob_lb2, "stp_state"),
        "blocking",
        "{}",
        w.context()
    );
    assert_eq!(w.ob_status(&w.ob_lb2, "stp_role"), "alternate");
    assert_eq!(w.ob_status(&w.ob_lb1, "stp_role"), "root");
    let bridge_status = w.d.vsctl(&["get", "bridge", &w.ob, "status"]);
    assert!(
        bridge_status.contains("stp_designated_root=\"1000.")
            || bridge_status.contains("stp_designated_root=1000."),
        "{bridge_status}"
    );
    assert!(
        bridge_status.contains("stp_bridge_id=\"9000.")
            || bridge_status.contains("stp_bridge_id=9000.")
    );
    let [h1, h2, h3] = [&w.hosts[0], &w.hosts[1], &w.hosts[2]];
    // Host ports listen and learn too.
    let t = ping_until(h3, "10.77.0.1", Duration::from_secs(10));
    assert!(t.is_some(), "h3 -> h1 through ob\n{}", w.context());
    assert!(
        ping_until(h3, "10.77.0.2", Duration::from_secs(5)).is_some(),
        "h3 -> h2"
    );
    assert!(
        ping_until(h1, "10.77.0.2", Duration::from_secs(5)).is_some(),
        "h1 -> h2"
    );
    // No storm: a broadcast (ARP after flushing the neighbour cache) goes
    // round once; ob sees a few frames a second (BPDUs, the pings), not
    // thousands.
    let before = w.rx_packets(&w.ob_lb1) + w.rx_packets(&w.ob_lb2);
    sh(&["ip", "-n", &h1.0, "neigh", "flush", "all"]);
    assert!(h1.ping("10.77.0.3", 2));
    std::thread::sleep(Duration::from_secs(2));
    let after = w.rx_packets(&w.ob_lb1) + w.rx_packets(&w.ob_lb2);
    assert!(
        after - before < 100,
        "{} frames in 2 s: a storm",
        after - before
    );

    // (b) Heal: the lb1-lb2 link goes down. lb2 claims to be root towards
    // ob, whose blocked port holds better information: it waits for that
    // to age out, then takes over.
    let t1 = Instant::now();
    ip_w(&w.ns, &["link", "set", &w.lb1_lb2, "down"]);
    while w.ob_status(&w.ob_lb2, "stp_state") != "forwarding" {
        assert!(t1.elapsed() < HEAL, "not healed\n{}", w.context());
        std::thread::sleep(Duration::from_millis(100));
    }
    let healed = t1.elapsed();
    assert_eq!(w.ob_status(&w.ob_lb2, "stp_role"), "designated");
    let t = ping_until(h1, "10.77.0.2", HEAL);
    assert!(
        t.is_some(),
        "h1 -> h2 across ob after the heal\n{}",
        w.context()
    );
    eprintln!(
        "healed after {healed:?}; h1 reached h2 {:?} later; lb2-ob on lb2: {}",
        t,
        w.linux_state(&w.lb2_ob)
    );
    assert!(h2.ping("10.77.0.3", 2), "h2 -> h3");
    let _ = (&w.lb1, &w.lb2);
}

#[test]
fn stp_off_keeps_dropping_bpdus() {
    if !require_root() {
        return;
    }
    // Without stp_enable nothing changes: no status, and BPDUs a Linux
    // bridge sends are neither forwarded nor answered.
    let ns = Netns::new(&unique("W"));
    let lb = linux_bridge(&ns, "4096");
    let d = Daemon::start_in(&ns.0, &[]);
    let ob = unique("ob");
    d.vsctl(&["add-br", &ob]);
    let (a, b) = veth(&ns);
    enslave(&ns, &b, &lb);
    d.vsctl(&["add-port", &ob, &a]);
    std::thread::sleep(Duration::from_secs(3));
    let st = d.vsctl(&["get", "port", &a, "status"]);
    assert_eq!(st.trim(), "{}");
    assert_eq!(
        d.vsctl(&["get", "bridge", &ob, "stp_enable"]).trim(),
        "false"
    );
    // Turned on, then off again: the status comes and goes.
    d.vsctl(&["set", "bridge", &ob, "stp_enable=true"]);
    wait_for("an STP port status", Duration::from_secs(5), || {
        d.vsctl(&["get", "port", &a, "status"])
            .contains("stp_state")
    });
    d.vsctl(&["set", "bridge", &ob, "stp_enable=false"]);
    wait_for("no STP port status", Duration::from_secs(5), || {
        d.vsctl(&["get", "port", &a, "status"]).trim() == "{}"
    });
}

/// One switch of the GRE mesh: its namespace, daemon and bridge, its
/// underlay address, its host.
struct Node {
    d: Daemon,
    host: Netns,
    ns: Netns,
    br: String,
    /// Tunnel port to each other node, by node index.
    gre: Vec<(usize, String)>,
}

#[test]
fn gre_mesh_cuts_the_loop_and_heals_when_a_switch_goes_down() {
    if !require_root() {
        return;
    }
    let n = (std::process::id() % 200) as u8 + 20;
    let under = |i: usize| format!("10.244.{n}.{}", i + 1);
    let over = |i: usize| format!("192.170.{n}.{}", i + 1);
    // Underlay: a plain Linux bridge (no STP) in a namespace of its own,
    // one veth to each node's namespace.
    let world = Netns::new(&unique("W"));
    let sw = unique("ub");
    ip_w(&world, &["link", "add", &sw, "type", "bridge"]);
    ip_w(&world, &["link", "set", &sw, "up"]);
    let priorities = ["4096", "8192", "32768"];
    let mut nodes: Vec<Node> = Vec::new();
    for (i, prio) in priorities.iter().enumerate() {
        let (ns, here) = attached_ns(&world, "N", &format!("{}/24", under(i)));
        enslave(&world, &here, &sw);
        let host = Netns::new(&unique("h"));
        let d = Daemon::start_in(&ns.0, &[]);
        let br = unique("br");
        d.vsctl(&["add-br", &br]);
        enable_stp(&d, &br, prio);
        let p = unique("p");
        d.vsctl(&[
            "add-netns-port",
            &br,
            &p,
            &host.0,
            &format!("--ipaddress={}/24", over(i)),
            "--mtu=1400",
        ]);
        nodes.push(Node {
            d,
            host,
            ns,
            br,
            gre: Vec::new(),
        });
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        for j in (0..3).filter(|&j| j != i) {
            let g = unique("g");
            node.d.add_gre(&node.br, &g, &under(j), None);
            node.gre.push((j, g));
        }
    }
    let state = |node: &Node, port: &str| {
        let out = node
            .d
            .run(&["vsctl", "get", "port", port, "status:stp_state"]);
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_matches('"')
            .to_string()
    };
    let states = |nodes: &[Node]| -> Vec<(usize, usize, String)> {
        let mut v = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for (j, g) in &node.gre {
                v.push((i, *j, state(node, g)));
            }
        }
        v
    };
    let logs = |nodes: &[Node]| -> String { nodes.iter().map(|n| n.d.log()).collect() };
    let t0 = Instant::now();
    loop {
        let s = states(&nodes);
        let blocking: Vec<_> = s.iter().filter(|x| x.2 == "blocking").collect();
        let forwarding = s.iter().filter(|x| x.2 == "forwarding").count();
        if forwarding == 5 && blocking.len() == 1 {
            // Node 0 is root; 1 beats 2 on their tunnel, so 2 blocks it.
            assert_eq!((blocking[0].0, blocking[0].1), (2, 1), "{s:?}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(25),
            "no convergence: {s:?}\n{}",
            logs(&nodes)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("mesh converged after {:?}", t0.elapsed());
    let ok = ping_until(&nodes[1].host, &over(2), Duration::from_secs(10));
    assert!(ok.is_some(), "h1 -> h2 through the root\n{}", logs(&nodes));
    assert!(ping_until(&nodes[0].host, &over(1), Duration::from_secs(5)).is_some());

    // The root's switch goes away. 1 and 2 hear nothing on their tunnels
    // to it; after max age 1 becomes root and 2's blocked tunnel end
    // takes over.
    let t1 = Instant::now();
    let gone = nodes.remove(0);
    drop(gone);
    while state(&nodes[1], &nodes[1].gre[1].1) != "forwarding" {
        assert!(
            t1.elapsed() < HEAL + Duration::from_secs(4),
            "not healed: {:?}\n{}",
            states(&nodes),
            logs(&nodes)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let healed = t1.elapsed();
    let t = ping_until(&nodes[0].host, &over(2), Duration::from_secs(10));
    assert!(t.is_some(), "h1 -> h2 directly\n{}", logs(&nodes));
    eprintln!("mesh healed after {healed:?}, then pinged in {t:?}");
    let _ = (&world, &nodes[0].ns);
}
