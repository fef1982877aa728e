//! `ofcontroller run` driving a real Open vSwitch (3.x, userspace datapath,
//! `scripts/ovs-userspace.sh`): the two-VLAN test of `tests/controller.rs`
//! with OVS as the switch.
//!
//! Four namespace hosts, VLAN 10 (hosts 1, 2) and VLAN 20 (hosts 3, 4) by
//! port name. Same-VLAN pings pass; cross-VLAN pings fail and their ARP
//! stays unresolved; warm pings cost no packet-in; every flow OVS holds is
//! in tables 0-3 with one of the controller's cookies; OVS refused nothing
//! (no OFPT_ERROR in the controller's log, no warning or error in
//! ovs-vswitchd's); a killed controller that comes back resyncs OVS; SIGHUP
//! with a broken policy keeps the running one, and one that moves host 3
//! into VLAN 10 takes effect (strict deletes, forgotten MACs, new flows).
//!
//! OVS runs in its own network namespace (see tests/common/ovs.rs), and so
//! do the controller and `ovs-ofctl`: parallel runs cannot collide.
//!
//! Packet-ins are counted by OVS itself: `n_packets` of the table-1 miss
//! flow, the only flow with an output to the controller, so every packet
//! it counts is one packet-in (OVS has no controller rate limit unless
//! one is configured). Datapath flows credit OpenFlow counters only when a
//! revalidator runs, so `ovs-appctl revalidator/wait` comes before each
//! read; the controller's log has no per-packet-in line to count.

mod common;

use common::*;
use ofcontroller::pipeline::{cookie, table};
use std::time::{Duration, Instant};

const SUBNET: &str = "10.239.0";

/// Packets that reached the controller: `n_packets` of the table-1 miss
/// (the only flow that outputs to it), with the counters brought up to
/// date first.
fn packet_ins(ovs: &Ovs) -> u64 {
    ovs.appctl(&["revalidator/wait"]);
    let flows = parse_flows(&ovs.ofctl("dump-flows", &[&format!("table={}", table::ETH_SRC)]));
    let miss: Vec<&DumpedFlow> = flows
        .iter()
        .filter(|f| f.priority == 0 && f.line.contains("CONTROLLER"))
        .collect();
    assert_eq!(
        miss.len(),
        1,
        "one table-1 miss flow to the controller: {flows:#?}"
    );
    miss[0].n_packets
}

/// Controller errors the log would show: a refused mod, an OFPT_ERROR for
/// a message sent without waiting, a batch cut short.
fn controller_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            ["refused a mod", "error for xid", "batch failed"]
                .iter()
                .any(|k| l.contains(k))
        })
        .collect()
}

/// OVS refused nothing the controller sent (no OFPT_ERROR in its log) and
/// ovs-vswitchd logged no warning or error.
fn nothing_refused(ovs: &Ovs, ctl: &Controller, ctx: &dyn Fn(&str) -> String) {
    let log = ctl.log();
    let errors = controller_errors(&log);
    assert!(
        errors.is_empty(),
        "{}",
        ctx("OVS refused a controller message")
    );
    let alarms = ovs.alarms();
    assert!(
        alarms.is_empty(),
        "ovs-vswitchd warned:\n{}",
        alarms.join("\n")
    );
}

#[test]
fn controller_drives_open_vswitch_with_two_vlans() {
    if !require_root() || !require("ping", have("ping")) || !require_ovs() {
        return;
    }
    let dpid = 0x0fc0_0000_0000 + u64::from(std::process::id());
    let ovs = Ovs::new(dpid);
    let names: Vec<String> = (0..4).map(|_| unique("h")).collect();
    let file = ovs.path("policy.toml");
    std::fs::write(&file, two_vlans_policy(dpid, &names, "b")).expect("write policy");

    // The controller first: OVS retries an absent one only every 8 s.
    let port = free_port();
    let target = format!("tcp:127.0.0.1:{port}");
    let start = |log: &str| Controller::start_in(&ovs.ns, "127.0.0.1", port, &file, ovs.path(log));
    let mut ctl = start("controller.log");
    let t0 = Instant::now();
    ovs.up(&target);
    let ns: Vec<Netns> = (0..4)
        .map(|i| ovs.addhost(&names[i], &format!("{SUBNET}.{}/24", i + 1)))
        .collect();
    let ctx = |ctl: &Controller, what: &str| {
        format!(
            "{what}\n--- controller\n{}\n--- ovs-vswitchd.log\n{}\n--- flows\n{}",
            ctl.log(),
            ovs.log(),
            ovs.ofctl("dump-flows", &[])
        )
    };
    wait_for(
        "the controller to resync OVS",
        Duration::from_secs(30),
        || ctl.log().contains("resynced"),
    );
    eprintln!("OVS resynced {:?} after up", t0.elapsed());
    assert!(
        ctl.log().contains(&format!("switch {dpid:016x} connected")),
        "{}",
        ctx(&ctl, "connect line")
    );

    // Same VLAN: 1 <-> 2 (VLAN 10), 3 <-> 4 (VLAN 20); across: nothing.
    // The ports may come after the resync: their flows follow their
    // PORT_STATUS.
    let hosts = FourHosts {
        ns: &ns,
        subnet: SUBNET,
    };
    hosts.same_vlan_pings(&|w| ctx(&ctl, w));
    hosts.isolated(&|w| ctx(&ctl, w));
    // The counter is live: learning the four hosts took packet-ins.
    assert!(
        packet_ins(&ovs) >= 4,
        "{}",
        ctx(&ctl, "no packet-in counted")
    );
    hosts.warm_without_packet_ins(&mut || packet_ins(&ovs), &|w| ctx(&ctl, w));

    // What OVS holds: tables 0-3 only, the controller's cookies only, and
    // the whole pipeline (per port: the access flow and the 802.1ad drop;
    // per port: a flood flow; the misses).
    let dump = ovs.ofctl("dump-flows", &[]);
    let flows = parse_flows(&dump);
    let mut per_table = [0usize; table::NAMES.len()];
    for f in &flows {
        assert!(
            usize::from(f.table) < per_table.len(),
            "flow outside tables 0-3: {}",
            f.line
        );
        assert!(
            f.cookie == cookie::VLANS || f.cookie == cookie::LEARNING,
            "flow without the controller's cookie: {}",
            f.line
        );
        per_table[usize::from(f.table)] += 1;
    }
    eprintln!("OVS flows per table 0-3: {per_table:?}\n{dump}");
    let learned = flows
        .iter()
        .filter(|f| f.cookie == cookie::LEARNING)
        .count();
    assert_eq!(
        per_table[usize::from(table::VLAN)],
        4 * 2 + 1,
        "table 0\n{dump}"
    );
    assert_eq!(
        per_table[usize::from(table::FLOOD)],
        4 + 1,
        "table 3\n{dump}"
    );
    assert!(
        learned >= 8,
        "4 hosts learned (eth_src and eth_dst)\n{dump}"
    );

    nothing_refused(&ovs, &ctl, &|w| ctx(&ctl, w));

    // OVS took the controller's table names (a TABLE_FEATURES set).
    let named = ovs.ofctl("dump-flows", &["--names", "--no-stats"]);
    for name in table::NAMES {
        assert!(
            named.contains(&format!("table={name},"))
                || named.contains(&format!("table=\"{name}\",")),
            "table {name} not named in OVS's dump\n{named}"
        );
    }

    // Kill the controller and start it again: OVS reconnects (its backoff
    // may take up to 8 s), is resynced, and the hosts relearn.
    ctl.kill();
    let t2 = Instant::now();
    let ctl = start("controller2.log");
    wait_for(
        "the new controller to resync OVS",
        Duration::from_secs(40),
        || ctl.log().contains("resynced"),
    );
    eprintln!("OVS resynced {:?} after the restart", t2.elapsed());
    hosts.pings_recover(&|w| ctx(&ctl, w));
    eprintln!("pings recovered {:?} after the restart", t2.elapsed());
    hosts.isolated(&|w| ctx(&ctl, w));
    nothing_refused(&ovs, &ctl, &|w| ctx(&ctl, w));

    // SIGHUP: a broken policy is refused; host 3 moved to VLAN 10 gets
    // there (strict deletes, its MACs forgotten, new flows).
    hosts.reloads(&ctl, &file, &two_vlans_policy(dpid, &names, "a"), &|w| {
        ctx(&ctl, w)
    });
    nothing_refused(&ovs, &ctl, &|w| ctx(&ctl, w));
    eprintln!(
        "after the reload:\n{}\n--- controller log\n{}",
        ovs.ofctl("dump-flows", &[]),
        ctl.log()
    );
}
