//! FLOW_MOD semantics (spec 6.4) seen through packets: what ADD, MODIFY,
//! MODIFY_STRICT, DELETE and DELETE_STRICT do to the traffic, with their
//! cookie, out_port, out_group and table filters. Every step sends a packet
//! through the microflow cache, so a cache that kept a stale decision
//! after a change would fail here.

use super::frames;
use super::harness::*;
use openflow::messages::flow_mod_command::{DELETE, DELETE_STRICT, MODIFY, MODIFY_STRICT};
use openflow::multipart::FlowStatsRequest;

fn flows(b: &Bridge) -> Vec<(u8, u16, u64)> {
    let mut v: Vec<_> =
        b.p.select_flows(&FlowStatsRequest::default())
            .expect("all flows")
            .iter()
            .map(|e| (e.table_id, e.priority, e.cookie))
            .collect();
    v.sort();
    v
}

#[test]
fn add_of_identical_match_and_priority_replaces_and_keeps_counters() {
    let mut b = Bridge::new(4);
    b.add("priority=5,tcp,actions=output:2");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    b.add("priority=5,tcp,actions=output:3");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
    assert_eq!(b.p.flow_count(), 1);
    let e = b.p.tables[0].entries().next().expect("flow").clone();
    assert_eq!(e.packets(), 2, "counters survive a replacing ADD");
    b.add("priority=5,tcp,reset_counts,actions=output:3");
    let e = b.p.tables[0].entries().next().expect("flow").clone();
    assert_eq!(e.packets(), 0, "OFPFF_RESET_COUNTS");
}

#[test]
fn same_match_at_another_priority_is_another_flow() {
    let mut b = Bridge::new(4);
    b.add("priority=5,tcp,actions=output:2");
    b.add("priority=6,tcp,actions=output:3");
    assert_eq!(b.p.flow_count(), 2);
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
    b.add("priority=7,ip,actions=output:4");
    assert_eq!(
        b.ports(1, &frames::tcp4()),
        vec![4],
        "wider but higher wins"
    );
}

#[test]
fn check_overlap_refuses_and_changes_nothing() {
    let mut b = Bridge::new(4);
    b.add("priority=5,ip,nw_dst=10.0.0.0/8,actions=output:2");
    assert_eq!(
        err_name(b.try_add("priority=5,ip,nw_dst=10.0.0.2,check_overlap,actions=output:3")),
        "OFPFMFC_OVERLAP"
    );
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    // Disjoint, or at another priority: no overlap.
    b.add("priority=5,ip,nw_dst=11.0.0.0/8,check_overlap,actions=output:3");
    b.add("priority=6,ip,nw_dst=10.0.0.2,check_overlap,actions=output:4");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![4]);
}

#[test]
fn modify_changes_instructions_of_every_covered_flow_and_keeps_counters() {
    let mut b = Bridge::new(4);
    b.add("priority=5,tcp,actions=output:2");
    b.add("priority=6,udp,actions=output:2");
    b.add("priority=7,arp,actions=output:2");
    b.ports(1, &frames::tcp4());
    // Non-strict: every flow whose match is within `ip`, any priority.
    b.flow_mod(MODIFY, "ip,actions=output:3").expect("modify");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
    assert_eq!(b.ports(1, &frames::udp4_vlan()), vec![3]);
    assert_eq!(b.ports(1, &frames::arp()), vec![2], "arp is outside ip");
    let tcp = b.p.tables[0]
        .entries()
        .find(|e| e.priority == 5)
        .expect("tcp flow")
        .clone();
    assert_eq!(tcp.packets(), 2, "MODIFY keeps counters");
    b.flow_mod(MODIFY, "ip,reset_counts,actions=output:3")
        .expect("modify");
    let tcp = b.p.tables[0]
        .entries()
        .find(|e| e.priority == 5)
        .expect("tcp flow")
        .clone();
    assert_eq!(tcp.packets(), 0, "MODIFY with OFPFF_RESET_COUNTS");
    // OpenFlow 1.3: a MODIFY that matches nothing adds nothing.
    b.flow_mod(MODIFY, "ipv6,actions=output:4").expect("modify");
    assert_eq!(b.p.flow_count(), 3);
}

#[test]
fn modify_strict_touches_only_the_exact_match_and_priority() {
    let mut b = Bridge::new(4);
    b.add("priority=5,tcp,actions=output:2");
    b.add("priority=6,tcp,actions=output:2");
    b.flow_mod(MODIFY_STRICT, "priority=5,tcp,actions=output:3")
        .expect("modify");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2], "priority 6 unchanged");
    b.flow_mod(MODIFY_STRICT, "priority=6,ip,actions=output:3")
        .expect("modify");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2], "ip is not tcp");
    b.flow_mod(MODIFY_STRICT, "priority=6,tcp,actions=output:4")
        .expect("modify");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![4]);
}

#[test]
fn modify_with_cookie_mask_selects_by_cookie() {
    let mut b = Bridge::new(4);
    b.add("cookie=0x11,priority=5,tcp,actions=output:2");
    b.add("cookie=0x21,priority=6,udp,actions=output:2");
    b.flow_mod(MODIFY, "cookie=0x20/0xf0,actions=output:3")
        .expect("modify");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    assert_eq!(b.ports(1, &frames::udp4_vlan()), vec![3]);
}

/// (name, DELETE command, del-flows text, flows left as (table, priority, cookie)).
type DeleteCase<'a> = (&'a str, u8, &'a str, Vec<(u8, u16, u64)>);

#[test]
fn delete_filters() {
    let setup = [
        "table=0,cookie=0x1,priority=10,tcp,actions=output:2",
        "table=0,cookie=0x2,priority=20,udp,actions=output:3",
        "table=0,cookie=0x3,priority=30,ip,actions=group:1",
        "table=1,cookie=0x4,priority=10,tcp,actions=output:2",
        "table=1,cookie=0x14,priority=40,arp,actions=output:4",
    ];
    let all: [(u8, u16, u64); 5] = [
        (0, 10, 1),
        (0, 20, 2),
        (0, 30, 3),
        (1, 10, 4),
        (1, 40, 0x14),
    ];
    let cases: Vec<DeleteCase> = vec![
        ("everything", DELETE, "", vec![]),
        ("one table", DELETE, "table=1", vec![all[0], all[1], all[2]]),
        ("covered by ip in every table", DELETE, "ip", vec![all[4]]),
        (
            "covered by tcp",
            DELETE,
            "tcp",
            vec![all[1], all[2], all[4]],
        ),
        (
            "out_port",
            DELETE,
            "out_port=2",
            vec![all[1], all[2], all[4]],
        ),
        (
            "out_group",
            DELETE,
            "out_group=1",
            vec![all[0], all[1], all[3], all[4]],
        ),
        (
            "cookie/mask",
            DELETE,
            "cookie=0x4/0xf",
            vec![all[0], all[1], all[2]],
        ),
        (
            "cookie/mask exact",
            DELETE,
            "cookie=0x14/-1",
            vec![all[0], all[1], all[2], all[3]],
        ),
        (
            "strict needs priority",
            DELETE_STRICT,
            "table=0,priority=11,tcp",
            all.to_vec(),
        ),
        (
            "strict",
            DELETE_STRICT,
            "table=0,priority=10,tcp",
            all[1..].to_vec(),
        ),
        (
            "strict wider match is not the flow",
            DELETE_STRICT,
            "table=0,priority=30",
            all.to_vec(),
        ),
        (
            "strict with out_port that does not match",
            DELETE_STRICT,
            "table=0,priority=10,tcp,out_port=3",
            all.to_vec(),
        ),
        ("nothing matches", DELETE, "ipv6", all.to_vec()),
    ];
    let mut failures = Vec::new();
    for (name, cmd, text, left) in &cases {
        let mut b = Bridge::new(4);
        b.group("group_id=1,type=all,bucket=output:4");
        for f in setup {
            b.add(f);
        }
        if let Err(e) = b.flow_mod(*cmd, text) {
            failures.push(format!("{name}: error {:?}", e.name()));
            continue;
        }
        let got = flows(&b);
        if got != *left {
            failures.push(format!("{name}: left {got:x?}, want {left:x?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deleted_flows_stop_forwarding_at_once() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,actions=output:2");
    b.add("priority=0,actions=output:3");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    b.flow_mod(DELETE, "tcp").expect("delete");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3], "falls to table-miss");
    b.flow_mod(DELETE, "").expect("delete all");
    assert_eq!(b.ports(1, &frames::tcp4()), Vec::<u32>::new());
}

#[test]
fn flow_removed_on_delete_only_with_send_flow_rem() {
    let mut b = Bridge::new(4);
    b.add("cookie=0x7,priority=10,tcp,send_flow_rem,actions=output:2");
    b.add("priority=11,udp,actions=output:2");
    b.ports(1, &frames::tcp4());
    b.advance(3 * SEC);
    b.flow_mod(DELETE, "").expect("delete");
    assert_eq!(b.events.len(), 1, "{:?}", b.events);
    let ofswitch::pipeline::Event::FlowRemoved(fr) = &b.events[0];
    assert_eq!(fr.reason, openflow::messages::flow_removed_reason::DELETE);
    assert_eq!((fr.cookie, fr.priority, fr.table_id), (7, 10, 0));
    assert_eq!((fr.packet_count, fr.duration_sec), (1, 3));
    assert!(fr.byte_count > 0);
}
