//! `ofcontroller run` driving a real `ofswitch` bridge: four namespace
//! hosts, two VLANs by policy.
//!
//! Checks what the controller is for: hosts of one VLAN reach each other,
//! hosts of different VLANs do not (not even an ARP answer crosses), known
//! hosts talk without packet-ins once learned (the flows carry them), a
//! killed controller that comes back resynchronises the switch with no
//! manual step, SIGHUP reloads the policy (a bad file is refused and the
//! running policy kept; an unrelated ping loses nothing across a reload),
//! and a restarted switch daemon or a host moved to another port recover
//! by themselves.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn controller_isolates_vlans_learns_and_resyncs() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let ip = |i: usize| format!("10.237.0.{}", i + 1);
    let hosts: Vec<(String, String)> = (0..4)
        .map(|i| {
            (
                format!("{}/24", ip(i)),
                format!("02:00:00:23:70:0{}", i + 1),
            )
        })
        .collect();
    let (ns, ports) = d.netns_hosts(&br, &hosts);
    let dpid = d.datapath_id(&br);

    let file = d.dir().join("policy.toml");
    std::fs::write(&file, two_vlans_policy(dpid, &ports, "b")).expect("write policy");
    let t0 = Instant::now();
    let (mut ctl, port) = Controller::start_for(&d, &br, &file, "controller.log");
    let ctx = |ctl: &Controller, what: &str| ctl.context(&d, what);
    eprintln!(
        "switch resynced {:?} after the controller's start",
        t0.elapsed()
    );
    let log = ctl.log();
    assert!(
        log.contains(&format!("switch {dpid:016x} connected")),
        "{}",
        ctx(&ctl, "connect line")
    );
    table_names_show(&d, &br, &ctl);

    // Same VLAN: 1 <-> 2 (VLAN 10), 3 <-> 4 (VLAN 20); across: nothing.
    let hosts = FourHosts {
        ns: &ns,
        subnet: "10.237.0",
    };
    hosts.same_vlan_pings(&|w| ctx(&ctl, w));
    hosts.isolated(&|w| ctx(&ctl, w));
    hosts.warm_without_packet_ins(&mut || packet_ins(&d, &br), &|w| ctx(&ctl, w));

    // Kill the controller and start it again: the switch reconnects, is
    // resynchronised (its flows deleted and reinstalled), and hosts relearn.
    ctl.kill();
    let ctl = Controller::start(port, &file, d.dir().join("controller2.log"));
    let t2 = Instant::now();
    wait_for(
        "the new controller to resync the switch",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    hosts.pings_recover(&|w| ctx(&ctl, w));
    eprintln!("pings recovered {:?} after the restart", t2.elapsed());
    hosts.reloads(&ctl, &file, &two_vlans_policy(dpid, &ports, "a"), &|w| {
        ctx(&ctl, w)
    });
    eprintln!("--- controller log\n{}", ctl.log());
}

/// The controller named the pipeline's tables (a TABLE_FEATURES set)
/// before it logged the resync: `ofctl --names dump-flows` shows them as
/// ovs-ofctl 3.1 does (quoted where a name is not plain letters and
/// digits, table 0 included, no reply headers), plain `dump-flows` to a
/// pipe keeps numbers and headers, a flow filter may name a table, and real
/// ovs-ofctl gets the same names from the switch.
fn table_names_show(d: &Daemon, br: &str, ctl: &Controller) {
    let ofctl = |args: &[&str]| {
        let mut all = vec!["ofctl"];
        all.extend_from_slice(args);
        let o = d.run(&all);
        assert!(
            o.status.success(),
            "ofctl {args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            ctl.context(d, "ofctl")
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let named = ofctl(&["--names", "dump-flows", br]);
    eprintln!("--- ofctl --names dump-flows\n{named}");
    for want in [
        "table=vlan, ",
        "table=\"eth_src\", ",
        "table=\"eth_dst\", ",
        "table=flood, ",
        "goto_table:\"eth_src\"",
        "goto_table:flood",
    ] {
        assert!(named.contains(want), "{want} in\n{named}");
    }
    assert!(
        named.lines().all(|l| l.starts_with(" cookie=")),
        "flow lines only:\n{named}"
    );
    let plain = ofctl(&["dump-flows", br]);
    assert!(
        plain.starts_with("OFPST_FLOW reply (OF1.3)")
            && plain.contains(" table=1, ")
            && !plain.contains("eth_src\","),
        "{plain}"
    );
    let flood = ofctl(&["--names", "--no-stats", "dump-flows", br, "table=flood"]);
    assert!(
        !flood.is_empty() && flood.lines().all(|l| l.contains(" table=flood, ")),
        "{flood}"
    );
    // The controller's own flows (its cookie, "ofc:vlan"), as ovs-ofctl
    // prints them with names: the same lines.
    if require("ovs-ofctl", have("ovs-ofctl")) {
        let pipeline = |text: &str| -> Vec<String> {
            let mut v: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with(" cookie=0x6f66633a766c616e, "))
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        let o = std::process::Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "--names", "--no-stats", "dump-flows"])
            .arg(d.mgmt(br))
            .output()
            .expect("run ovs-ofctl");
        let theirs = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "ovs-ofctl: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let ours = ofctl(&["--names", "--no-stats", "dump-flows", br]);
        assert!(!pipeline(&ours).is_empty(), "{ours}");
        assert_eq!(
            pipeline(&theirs),
            pipeline(&ours),
            "ovs-ofctl:\n{theirs}\nours:\n{ours}"
        );
    }
}

/// The other direction: the bridge listens (`ptcp:`) and the controller,
/// started first, connects out and retries until the bridge is there. No
/// policy: learning only, every port in VLAN 1.
#[test]
fn controller_connects_out_to_a_passive_switch() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let port = free_port();
    let (br, ctl, _hosts) = connects_out(
        &d,
        &["--connect", &format!("tcp:127.0.0.1:{port}")],
        &format!("ptcp:{port}:127.0.0.1"),
        "10.238.0",
    );

    // The bridge stops listening: one line, and the controller retries.
    d.vsctl(&["del-controller", &br]);
    wait_for("the disconnect line", Duration::from_secs(20), || {
        ctl.log().contains("disconnected")
    });
}

/// Recovery with no manual step: the switch daemon restarts (the bridge
/// reconnects and is resynchronised), and a host moves to another port
/// (its MAC and address reappear on a new port while the old port stays
/// up, as a migrated VM's do): the first frame it sends from there moves
/// its flows, and traffic to it follows. No policy: learning only.
#[test]
fn controller_recovers_a_restarted_switch_and_a_moved_host() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let mut d = Daemon::start(&[]);
    let br = d.secure_bridge();
    // Hosts 0 and 1 have addresses; host 2 is where host 1 moves to.
    let ns: Vec<Netns> = (0..3).map(|_| Netns::new(&unique("n"))).collect();
    let ip = |i: usize| format!("10.239.0.{}", i + 1);
    let mac = |i: usize| format!("02:00:00:23:90:0{}", i + 1);
    for (i, n) in ns.iter().enumerate() {
        let mut args = vec![
            "add-netns-port".to_string(),
            br.clone(),
            unique("p"),
            n.0.clone(),
            "--ifname=eth0".into(),
            format!("--macaddress={}", mac(i)),
        ];
        if i < 2 {
            args.push(format!("--ipaddress={}/24", ip(i)));
        }
        d.vsctl(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let port = free_port();
    let ctl = Controller::spawn(
        &["run", "--listen", &format!("tcp:127.0.0.1:{port}")],
        d.dir().join("controller.log"),
    );
    wait_for("the controller to listen", Duration::from_secs(20), || {
        tcp_listening(port)
    });
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{port}")]);
    let resyncs = |ctl: &Controller| ctl.log().matches("resynced").count();
    wait_for("the first resync", Duration::from_secs(30), || {
        resyncs(&ctl) >= 1
    });
    let ping_within = |from: &Netns, to: &str, limit: Duration| {
        let t = Instant::now();
        while t.elapsed() < limit {
            if from.ping(to, 1) {
                return Some(t.elapsed());
            }
        }
        None
    };
    let ctx = |what: &str, d: &Daemon| {
        format!(
            "{what}\n--- controller\n{}\n--- daemon\n{}",
            ctl.log(),
            d.log()
        )
    };
    assert!(
        ping_within(&ns[0], &ip(1), Duration::from_secs(15)).is_some(),
        "{}",
        ctx("first ping", &d)
    );

    // The switch daemon restarts: the same bridge reconnects with its
    // flows gone, the controller resyncs it, hosts are relearned.
    let t0 = Instant::now();
    d.restart();
    wait_for(
        "the resync after the restart",
        Duration::from_secs(30),
        || resyncs(&ctl) >= 2,
    );
    let back = ping_within(&ns[0], &ip(1), Duration::from_secs(15));
    assert!(
        back.is_some(),
        "{}",
        ctx("ping after the switch restart", &d)
    );
    eprintln!("switch restart: pings back {:?} after it", t0.elapsed());

    // Host 1 moves to host 2's port: the old interface gets another MAC
    // and loses its address (its port stays up), the new one takes both.
    ns[1].exec(&["ip", "addr", "flush", "dev", "eth0"]);
    ns[1].exec(&["ip", "link", "set", "eth0", "address", "02:00:00:23:90:99"]);
    ns[2].exec(&["ip", "link", "set", "eth0", "address", &mac(1)]);
    ns[2].exec(&["ip", "addr", "add", &format!("{}/24", ip(1)), "dev", "eth0"]);
    // Host 0 still knows host 1's MAC: its frames follow the old flow to the
    // old port, where nobody answers any more.
    assert!(
        !ns[0].ping(&ip(1), 1),
        "{}",
        ctx("reached the moved address before it spoke", &d)
    );
    // The moved host speaks (a migrated VM announces itself the same way):
    // its first frame from the new port moves its flows.
    let t1 = Instant::now();
    let moved = ping_within(&ns[2], &ip(0), Duration::from_secs(10));
    assert!(moved.is_some(), "{}", ctx("ping from the moved host", &d));
    assert!(
        ping_within(&ns[0], &ip(1), Duration::from_secs(5)).is_some(),
        "{}",
        ctx("ping to the moved host", &d)
    );
    eprintln!("moved host reachable {:?} after it spoke", t1.elapsed());
}

/// The custom app of examples/packet_in_counter.rs (a packet-in counter
/// composed with the bundled learning app) drives a real bridge: hosts
/// ping, and it prints the switch's packet-ins.
#[test]
fn the_custom_app_example_counts_packet_ins_and_learns() {
    if !require_root() || !require("ping", have("ping")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let hosts: Vec<(String, String)> = (1..=2)
        .map(|i| (format!("10.240.0.{i}/24"), format!("02:00:00:24:00:0{i}")))
        .collect();
    let (ns, _) = d.netns_hosts(&br, &hosts);
    let port = free_port();
    let log = d.dir().join("counter.log");
    let out = std::fs::File::create(&log).expect("log file");
    let child = std::process::Command::new(example_bin("packet_in_counter"))
        .arg(format!("tcp:127.0.0.1:{port}"))
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the example");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the example to listen", Duration::from_secs(20), || {
        tcp_listening(port)
    });
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{port}")]);
    wait_for("the switch up line", Duration::from_secs(20), || {
        read().contains(" up from ")
    });
    let ok = (0..20).any(|_| ns[0].ping("10.240.0.2", 1));
    assert!(ok, "ping through the example's learning\n{}", read());
    let counted = |text: &str| {
        text.lines().any(|l| {
            l.strip_suffix(" packet-ins")
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
    };
    wait_for("a count above zero", Duration::from_secs(15), || {
        counted(&read())
    });
    eprintln!("{}", read());
}
