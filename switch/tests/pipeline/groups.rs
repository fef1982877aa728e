//! The group table (spec 5.6, 6.7, 7.3.4.2): what ALL, SELECT, INDIRECT and
//! FAST_FAILOVER groups do to real frames, GROUP_MOD add / modify / delete
//! (and what deleting does to the flows that use a group), chaining and
//! loop detection, the errors, and the group counters.
//!
//! Every packet goes through the microflow cache, so a group change or a
//! port liveness change that the cache did not see would fail here.

use super::frames;
use super::harness::*;
use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use ofswitch::pipeline::Event;
use openflow::group::{command as gc, group_type, Bucket, GroupMod};
use openflow::messages::flow_removed_reason;
use openflow::multipart::GroupStats;
use openflow::types::group_no;
use openflow::Action;
use std::collections::BTreeMap;

const MAC_AA: [u8; 6] = [0, 0, 0, 0, 0, 0xaa];
const MAC_BB: [u8; 6] = [0, 0, 0, 0, 0, 0xbb];

/// A TCP/IPv4 frame like [`frames::tcp4`] but from TCP source port `sport`:
/// another microflow, hashed separately by SELECT groups.
fn tcp4_sport(sport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(frames::SRC_MAC, frames::DST_MAC)
        .ipv4(frames::IP4_SRC, frames::IP4_DST, 64)
        .tcp(sport, 80, 1, 1000);
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789").expect("frame");
    v
}

fn eth_dst(frame: &[u8]) -> [u8; 6] {
    frame[..6].try_into().expect("ethernet header")
}

fn tcp_src(frame: &[u8]) -> u16 {
    let p = SlicedPacket::from_ethernet(frame).expect("frame parses");
    match p.transport {
        Some(TransportSlice::Tcp(t)) => t.source_port(),
        other => panic!("not TCP: {other:?}"),
    }
}

fn stats(b: &Bridge, id: u32) -> GroupStats {
    let mut s = b.p.group_stats(id, b.now);
    assert_eq!(s.len(), 1, "group {id} stats: {s:?}");
    s.remove(0)
}

fn group_ids(b: &Bridge) -> Vec<u32> {
    b.p.group_descs().iter().map(|d| d.group_id).collect()
}

fn removed(events: &[Event]) -> Vec<(u64, u8)> {
    events
        .iter()
        .map(|e| {
            let Event::FlowRemoved(fr) = e;
            (fr.cookie, fr.reason)
        })
        .collect()
}

/// Sends one frame per TCP source port in `sports` and returns, per
/// source port, the ports it left by.
fn spread(b: &mut Bridge, sports: impl Iterator<Item = u16>) -> BTreeMap<u16, Vec<u32>> {
    sports.map(|s| (s, b.ports(1, &tcp4_sport(s)))).collect()
}

// ---------------------------------------------------------------------------
// ALL
// ---------------------------------------------------------------------------

#[test]
fn all_group_sends_one_copy_per_bucket_each_edited_by_its_own_bucket() {
    let mut b = Bridge::new(5);
    b.group(
        "group_id=1,type=all,\
         bucket=set_field:00:00:00:00:00:aa->eth_dst,output:2,\
         bucket=set_field:8080->tcp_src,output:3,\
         bucket=output:4",
    );
    // Actions after the group see the packet as it was before the group:
    // bucket edits are made on the bucket's copy only.
    b.add("priority=1,in_port=1,actions=group:1,output:5");
    for round in ["first packet (translation)", "second packet (cache hit)"] {
        let out = outputs(&b.send(1, &frames::tcp4()));
        let got: Vec<(u32, [u8; 6], u16)> = out
            .iter()
            .map(|(p, f)| (*p, eth_dst(f), tcp_src(f)))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, MAC_AA, 1234),
                (3, frames::DST_MAC, 8080),
                (4, frames::DST_MAC, 1234),
                (5, frames::DST_MAC, 1234),
            ],
            "{round}"
        );
        for (p, f) in &out {
            assert_eq!(frames::verify_checksums(f), 2, "{round}: port {p}");
        }
        assert_eq!(out[2].1, frames::tcp4(), "{round}: untouched bucket");
        assert_eq!(out[3].1, frames::tcp4(), "{round}: after the group");
    }
}

#[test]
fn group_in_the_action_set_runs_and_the_set_output_is_ignored() {
    // Spec 5.10: with a group action in the action set, the output action
    // of the set is ignored.
    let mut b = Bridge::new(5);
    b.group("group_id=1,type=all,bucket=output:2,bucket=output:3");
    b.add("priority=1,in_port=1,actions=write_actions(output:5,group:1)");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2, 3]);
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2, 3], "cached");
}

// ---------------------------------------------------------------------------
// SELECT
// ---------------------------------------------------------------------------

#[test]
fn select_group_splits_distinct_flows_by_weight() {
    struct Case {
        name: &'static str,
        weights: &'static [u16],
        /// Expected share of each bucket, in percent.
        share: &'static [f64],
    }
    const FLOWS: u16 = 2000;
    /// Allowed deviation of a bucket's share, in percentage points.
    const TOLERANCE: f64 = 7.0;
    let cases = [
        Case {
            name: "1:3",
            weights: &[1, 3],
            share: &[25.0, 75.0],
        },
        Case {
            name: "1:1",
            weights: &[1, 1],
            share: &[50.0, 50.0],
        },
        Case {
            name: "10:10:20",
            weights: &[10, 10, 20],
            share: &[25.0, 25.0, 50.0],
        },
        Case {
            name: "1:2:3",
            weights: &[1, 2, 3],
            share: &[100.0 / 6.0, 200.0 / 6.0, 50.0],
        },
        Case {
            name: "weight 0 is never chosen",
            weights: &[0, 1, 1],
            share: &[0.0, 50.0, 50.0],
        },
        Case {
            name: "one weighted bucket among weight 0 ones takes everything",
            weights: &[0, 5, 0],
            share: &[0.0, 100.0, 0.0],
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(5);
        let buckets: Vec<String> = c
            .weights
            .iter()
            .enumerate()
            .map(|(i, w)| format!("bucket=weight:{w},output:{}", i + 2))
            .collect();
        b.group(&format!("group_id=1,type=select,{}", buckets.join(",")));
        b.add("priority=1,in_port=1,actions=group:1");
        let first = spread(&mut b, 1..=FLOWS);
        let mut count = vec![0u32; c.weights.len()];
        for (s, ports) in &first {
            match ports.as_slice() {
                [p] => count[(*p - 2) as usize] += 1,
                _ => failures.push(format!("{}: sport {s} went to {ports:?}", c.name)),
            }
        }
        for (i, (want, got)) in c.share.iter().zip(&count).enumerate() {
            let pct = f64::from(*got) * 100.0 / f64::from(FLOWS);
            let exact = *want == 0.0 || *want == 100.0;
            if (exact && pct != *want) || (pct - want).abs() > TOLERANCE {
                failures.push(format!(
                    "{}: bucket {i} (weight {}) got {pct:.1}%, want {want:.1}%",
                    c.name, c.weights[i]
                ));
            }
        }
        // The same flow always takes the same bucket, the cache being warm
        // or not.
        let again = spread(&mut b, 1..=FLOWS);
        if again != first {
            failures.push(format!("{}: a flow changed bucket", c.name));
        }
        // Bucket counters agree with what was seen.
        let st = stats(&b, 1);
        let per_bucket: Vec<u64> = st.bucket_stats.iter().map(|c| c.packet_count).collect();
        let want: Vec<u64> = count.iter().map(|n| u64::from(*n) * 2).collect();
        if per_bucket != want || st.packet_count != u64::from(FLOWS) * 2 {
            failures.push(format!(
                "{}: counters {} {per_bucket:?}, want {} {want:?}",
                c.name,
                st.packet_count,
                u64::from(FLOWS) * 2
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every bucket of weight 0: no bucket is live, the packet is dropped (as
/// Open vSwitch: `bucket_is_alive` treats weight 0 as dead in SELECT
/// groups). The group is accepted and counts the packet; no bucket does.
#[test]
fn select_group_whose_buckets_all_weigh_zero_drops() {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=select,bucket=weight:0,output:2,bucket=weight:0,output:3");
    b.add("priority=1,in_port=1,actions=group:1");
    let dropped = spread(&mut b, 1..=50);
    assert!(dropped.values().all(|p| p.is_empty()), "{dropped:?}");
    let st = stats(&b, 1);
    assert_eq!(st.packet_count, 50);
    assert!(st.bucket_stats.iter().all(|c| c.packet_count == 0));
    // Giving a bucket a weight brings the group back.
    b.group_mod(
        gc::MODIFY,
        "group_id=1,type=select,bucket=weight:0,output:2,bucket=weight:1,output:3",
    )
    .expect("mod-group");
    assert!(spread(&mut b, 1..=50).values().all(|p| *p == vec![3]));
}

#[test]
fn select_group_skips_buckets_whose_watch_port_is_down() {
    let mut b = Bridge::new(4);
    b.group(
        "group_id=1,type=select,\
         bucket=weight:1,watch_port:2,output:2,\
         bucket=weight:1,watch_port:3,output:3",
    );
    b.add("priority=1,in_port=1,actions=group:1");
    let before = spread(&mut b, 1..=200);
    let used: std::collections::BTreeSet<_> = before.values().cloned().collect();
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        vec![vec![2], vec![3]],
        "both buckets in use"
    );
    b.port(2, |p| p.live = false);
    let down = spread(&mut b, 1..=200);
    assert!(
        down.values().all(|p| *p == vec![3]),
        "port 2 down: every flow on bucket 3: {down:?}"
    );
    b.port(2, |p| p.live = true);
    assert_eq!(spread(&mut b, 1..=200), before, "port 2 back: same split");
    b.port(2, |p| p.live = false);
    b.port(3, |p| p.live = false);
    let none = spread(&mut b, 1..=50);
    assert!(
        none.values().all(|p| p.is_empty()),
        "no live bucket: drop: {none:?}"
    );
}

// ---------------------------------------------------------------------------
// INDIRECT
// ---------------------------------------------------------------------------

#[test]
fn indirect_group_runs_its_one_bucket_for_every_flow_that_uses_it() {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=indirect,bucket=set_field:00:00:00:00:00:aa->eth_dst,output:2");
    b.add("priority=2,tcp,actions=group:1");
    b.add("priority=1,udp,actions=group:1");
    for f in [frames::tcp4(), frames::udp4_vlan()] {
        let (p, out) = only_output(&b.send(1, &f));
        assert_eq!((p, eth_dst(&out)), (2, MAC_AA));
        assert_eq!(frames::verify_checksums(&out), 2);
    }
    // One group change moves every flow (what INDIRECT is for).
    b.group_mod(gc::MODIFY, "group_id=1,type=indirect,bucket=output:3")
        .expect("mod-group");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
    assert_eq!(b.ports(1, &frames::udp4_vlan()), vec![3]);
    let st = stats(&b, 1);
    assert_eq!((st.packet_count, st.ref_count), (2, 2));
}

// ---------------------------------------------------------------------------
// FAST_FAILOVER
// ---------------------------------------------------------------------------

#[test]
fn fast_failover_takes_the_first_live_bucket() {
    struct Step {
        name: &'static str,
        /// (port, live) changes before sending.
        set: &'static [(u32, bool)],
        want: &'static [u32],
    }
    let steps = [
        Step {
            name: "all up: first bucket",
            set: &[],
            want: &[2],
        },
        Step {
            name: "port 2 down: second bucket",
            set: &[(2, false)],
            want: &[3],
        },
        Step {
            name: "ports 2, 3 down: third bucket (watches 5, outputs 4)",
            set: &[(3, false)],
            want: &[4],
        },
        Step {
            name: "port 4 down does not matter: bucket 3 watches port 5",
            set: &[(4, false)],
            want: &[4],
        },
        Step {
            name: "no live bucket: drop",
            set: &[(5, false)],
            want: &[],
        },
        Step {
            name: "port 3 up: second bucket",
            set: &[(3, true)],
            want: &[3],
        },
        Step {
            name: "port 2 up: back to the first bucket",
            set: &[(2, true)],
            want: &[2],
        },
    ];
    let mut b = Bridge::new(5);
    b.group(
        "group_id=1,type=ff,\
         bucket=watch_port:2,output:2,\
         bucket=watch_port:3,output:3,\
         bucket=watch_port:5,output:4",
    );
    b.add("priority=1,in_port=1,actions=group:1");
    let mut failures = Vec::new();
    for s in &steps {
        for &(port, live) in s.set {
            b.port(port, |p| p.live = live);
        }
        // Twice: translation, then the cached program.
        for _ in 0..2 {
            let got = b.ports(1, &frames::tcp4());
            if got != s.want {
                failures.push(format!("{}: got {got:?}, want {:?}", s.name, s.want));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fast_failover_watch_group_follows_the_watched_groups_liveness() {
    let mut b = Bridge::new(4);
    b.group("group_id=2,type=ff,bucket=watch_port:2,output:2");
    b.group(
        "group_id=1,type=ff,\
         bucket=watch_group:2,group:2,\
         bucket=watch_port:3,output:3",
    );
    b.add("priority=1,in_port=1,actions=group:1");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    b.port(2, |p| p.live = false);
    assert_eq!(
        b.ports(1, &frames::tcp4()),
        vec![3],
        "group 2 has no live bucket, so group 1's first bucket is dead"
    );
    b.port(2, |p| p.live = true);
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
}

#[test]
fn port_down_by_config_is_not_live_either() {
    let mut b = Bridge::new(3);
    b.group("group_id=1,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3");
    b.add("priority=1,in_port=1,actions=group:1");
    b.port(2, |p| p.config |= openflow::port::config::PORT_DOWN);
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
}

// ---------------------------------------------------------------------------
// Modify, delete
// ---------------------------------------------------------------------------

#[test]
fn modify_changes_the_next_packet() {
    struct Case {
        name: &'static str,
        before: &'static str,
        after: &'static str,
        want_before: &'static [u32],
        want_after: &'static [u32],
    }
    let cases = [
        Case {
            name: "all: new bucket list",
            before: "group_id=1,type=all,bucket=output:2,bucket=output:3",
            after: "group_id=1,type=all,bucket=output:4",
            want_before: &[2, 3],
            want_after: &[4],
        },
        Case {
            name: "select: weights moved to the other bucket",
            before: "group_id=1,type=select,bucket=weight:1,output:2,bucket=weight:0,output:3",
            after: "group_id=1,type=select,bucket=weight:0,output:2,bucket=weight:1,output:3",
            want_before: &[2],
            want_after: &[3],
        },
        Case {
            name: "ff: bucket order",
            before: "group_id=1,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3",
            after: "group_id=1,type=ff,bucket=watch_port:3,output:3,bucket=watch_port:2,output:2",
            want_before: &[2],
            want_after: &[3],
        },
        Case {
            name: "type change: all to indirect",
            before: "group_id=1,type=all,bucket=output:2,bucket=output:3",
            after: "group_id=1,type=indirect,bucket=output:4",
            want_before: &[2, 3],
            want_after: &[4],
        },
        Case {
            name: "type change: indirect to select",
            before: "group_id=1,type=indirect,bucket=output:2",
            after: "group_id=1,type=select,bucket=output:3",
            want_before: &[2],
            want_after: &[3],
        },
        Case {
            name: "to no buckets: drop",
            before: "group_id=1,type=all,bucket=output:2",
            after: "group_id=1,type=all",
            want_before: &[2],
            want_after: &[],
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(4);
        b.group(c.before);
        b.add("priority=1,in_port=1,actions=group:1");
        for _ in 0..2 {
            let got = b.ports(1, &frames::tcp4());
            if got != c.want_before {
                failures.push(format!("{}: before: {got:?}", c.name));
            }
        }
        if let Err(e) = b.group_mod(gc::MODIFY, c.after) {
            failures.push(format!("{}: mod-group failed: {:?}", c.name, e.name()));
            continue;
        }
        let got = b.ports(1, &frames::tcp4());
        if got != c.want_after {
            failures.push(format!(
                "{}: after: {got:?}, want {:?}",
                c.name, c.want_after
            ));
        }
        let want = openflow::ofctl::parse::parse_group_mod(c.after, gc::MODIFY).expect("parses");
        let desc = b.p.group_descs();
        if desc.len() != 1
            || desc[0].group_type != want.group_type
            || desc[0].buckets != want.buckets
        {
            failures.push(format!("{}: group desc {desc:?}", c.name));
        }
        if b.p.flow_count() != 1 {
            failures.push(format!("{}: the flow using the group must stay", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn deleting_a_group_removes_the_flows_that_use_it() {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=all,bucket=output:2");
    b.group("group_id=2,type=all,bucket=output:3");
    b.add("cookie=0xa,priority=10,tcp,send_flow_rem,actions=group:1");
    b.add("cookie=0xb,priority=9,udp,actions=write_actions(group:1)");
    b.add("cookie=0xc,table=3,priority=9,send_flow_rem,actions=output:4,group:1");
    b.add("cookie=0xd,priority=8,arp,send_flow_rem,actions=group:2");
    b.add("cookie=0xe,priority=7,icmp,send_flow_rem,actions=output:4");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    b.events.clear();
    b.group_mod(gc::DELETE, "group_id=1").expect("del-groups");
    let mut got = removed(&b.events);
    got.sort();
    assert_eq!(
        got,
        vec![
            (0xa, flow_removed_reason::GROUP_DELETE),
            (0xc, flow_removed_reason::GROUP_DELETE)
        ],
        "FLOW_REMOVED (reason GROUP_DELETE) for the flows that asked; 0xb \
         goes silently"
    );
    let mut left: Vec<u64> =
        b.p.tables
            .iter()
            .flat_map(|t| t.entries())
            .map(|e| e.cookie)
            .collect();
    left.sort();
    assert_eq!(left, vec![0xd, 0xe]);
    assert_eq!(group_ids(&b), vec![2]);
    assert!(b.p.group_stats(1, b.now).is_empty());
    assert!(b.send(1, &frames::tcp4()).is_empty(), "its flow is gone");
    assert_eq!(b.ports(1, &frames::arp()), vec![3]);
    // Deleting a group that does not exist is not an error (spec 6.7).
    b.events.clear();
    b.group_mod(gc::DELETE, "group_id=1")
        .expect("del-groups again");
    b.group_mod(gc::DELETE, "group_id=77")
        .expect("del-groups unknown");
    assert!(b.events.is_empty());
    // A new group 1 does not bring the flows back.
    b.group("group_id=1,type=all,bucket=output:2");
    assert!(b.send(1, &frames::tcp4()).is_empty());
    assert_eq!(stats(&b, 1).ref_count, 0);
}

#[test]
fn deleting_all_groups_removes_every_group_and_every_flow_using_one() {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=all,bucket=output:2");
    b.group("group_id=2,type=all,bucket=group:1,bucket=output:3");
    b.group("group_id=3,type=indirect,bucket=group:2");
    b.add("cookie=1,priority=10,tcp,send_flow_rem,actions=group:3");
    b.add("cookie=2,priority=9,udp,send_flow_rem,actions=group:1");
    b.add("cookie=3,priority=8,arp,send_flow_rem,actions=output:4");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2, 3]);
    b.events.clear();
    // `del-groups` with no argument is group_id=all (OFPG_ALL); chains
    // among the deleted groups are no obstacle.
    b.group_mod(gc::DELETE, "").expect("del-groups");
    let mut got = removed(&b.events);
    got.sort();
    assert_eq!(
        got,
        vec![
            (1, flow_removed_reason::GROUP_DELETE),
            (2, flow_removed_reason::GROUP_DELETE)
        ]
    );
    assert!(group_ids(&b).is_empty());
    assert_eq!(b.p.flow_count(), 1);
    assert!(b.send(1, &frames::tcp4()).is_empty());
    assert_eq!(b.ports(1, &frames::arp()), vec![4]);
    // The explicit spelling does the same.
    b.group("group_id=5,type=all,bucket=output:2");
    b.group_mod(gc::DELETE, "group_id=all")
        .expect("del-groups all");
    assert!(group_ids(&b).is_empty());
}

// ---------------------------------------------------------------------------
// Chaining and loops
// ---------------------------------------------------------------------------

#[test]
fn a_bucket_can_send_to_another_group() {
    let mut b = Bridge::new(5);
    b.group("group_id=3,type=indirect,bucket=set_field:00:00:00:00:00:bb->eth_dst,output:4");
    b.group("group_id=2,type=ff,bucket=watch_port:5,output:5,bucket=watch_port:4,group:3");
    b.group(
        "group_id=1,type=all,\
         bucket=set_field:00:00:00:00:00:aa->eth_dst,output:2,\
         bucket=group:2",
    );
    b.add("priority=1,in_port=1,actions=group:1");
    let got = |b: &mut Bridge| -> Vec<(u32, [u8; 6])> {
        outputs(&b.send(1, &frames::tcp4()))
            .iter()
            .map(|(p, f)| (*p, eth_dst(f)))
            .collect()
    };
    assert_eq!(got(&mut b), vec![(2, MAC_AA), (5, frames::DST_MAC)]);
    b.port(5, |p| p.live = false);
    assert_eq!(
        got(&mut b),
        vec![(2, MAC_AA), (4, MAC_BB)],
        "group 2 fails over to group 3, which edits its own copy"
    );
    for (id, packets, refs) in [(1, 2, 1), (2, 2, 1), (3, 1, 1)] {
        let st = stats(&b, id);
        assert_eq!(
            (st.packet_count, st.ref_count),
            (packets, refs),
            "group {id}: packets and ref_count (flows and groups that use it)"
        );
    }
}

#[test]
fn group_loops_are_refused() {
    struct Case {
        name: &'static str,
        setup: &'static [&'static str],
        command: u16,
        text: &'static str,
    }
    let cases = [
        Case {
            name: "add: a group whose bucket sends to itself",
            setup: &[],
            command: gc::ADD,
            text: "group_id=1,type=all,bucket=group:1",
        },
        Case {
            name: "modify: a group to send to itself",
            setup: &["group_id=1,type=all,bucket=output:2"],
            command: gc::MODIFY,
            text: "group_id=1,type=indirect,bucket=group:1",
        },
        Case {
            name: "modify: 1 -> 2 -> 1",
            setup: &[
                "group_id=1,type=all,bucket=output:2",
                "group_id=2,type=all,bucket=group:1",
            ],
            command: gc::MODIFY,
            text: "group_id=1,type=all,bucket=output:3,bucket=group:2",
        },
        Case {
            name: "modify: 1 -> 3 -> 2 -> 1",
            setup: &[
                "group_id=1,type=all,bucket=output:2",
                "group_id=2,type=indirect,bucket=group:1",
                "group_id=3,type=select,bucket=group:2",
            ],
            command: gc::MODIFY,
            text: "group_id=1,type=ff,bucket=watch_port:2,group:3",
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(3);
        for g in c.setup {
            b.group(g);
        }
        b.add("priority=1,in_port=1,actions=output:3");
        let before = b.p.group_descs();
        let got = err_name(b.group_mod(c.command, c.text));
        if got != "OFPGMFC_LOOP" {
            failures.push(format!("{}: got {got}", c.name));
        }
        if b.p.group_descs() != before {
            failures.push(format!(
                "{}: a refused GROUP_MOD changed the groups",
                c.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A GROUP_MOD: ovs-ofctl text, or a message ovs-ofctl would refuse to
/// build.
enum Req {
    Text(u16, &'static str),
    Raw(GroupMod),
}

fn raw(command: u16, group_type: u8, group_id: u32, buckets: Vec<Bucket>) -> Req {
    Req::Raw(GroupMod {
        command,
        group_type,
        group_id,
        buckets,
    })
}

fn out_bucket(port: u32) -> Bucket {
    Bucket::new(vec![Action::output(port)])
}

#[test]
fn group_mod_errors() {
    struct Case {
        name: &'static str,
        req: Req,
        want: &'static str,
    }
    let weighted = Bucket {
        weight: 3,
        ..out_bucket(2)
    };
    let cases = vec![
        Case {
            name: "add an existing group",
            req: Req::Text(gc::ADD, "group_id=1,type=all,bucket=output:3"),
            want: "OFPGMFC_GROUP_EXISTS",
        },
        Case {
            name: "modify a group that does not exist",
            req: Req::Text(gc::MODIFY, "group_id=9,type=all,bucket=output:3"),
            want: "OFPGMFC_UNKNOWN_GROUP",
        },
        Case {
            name: "add group_id=all (OFPG_ALL)",
            req: Req::Text(gc::ADD, "group_id=all,type=all,bucket=output:3"),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "add a group id above OFPG_MAX",
            req: raw(
                gc::ADD,
                group_type::ALL,
                group_no::MAX + 1,
                vec![out_bucket(2)],
            ),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "add OFPG_ANY",
            req: raw(gc::ADD, group_type::ALL, group_no::ANY, vec![out_bucket(2)]),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "indirect with two buckets",
            req: raw(
                gc::ADD,
                group_type::INDIRECT,
                5,
                vec![out_bucket(2), out_bucket(3)],
            ),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "indirect with no bucket",
            req: Req::Text(gc::ADD, "group_id=5,type=indirect"),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "modify to indirect with two buckets",
            req: raw(
                gc::MODIFY,
                group_type::INDIRECT,
                1,
                vec![out_bucket(2), out_bucket(3)],
            ),
            want: "OFPGMFC_INVALID_GROUP",
        },
        Case {
            name: "unknown group type",
            req: raw(gc::ADD, 7, 5, vec![out_bucket(2)]),
            want: "OFPGMFC_BAD_TYPE",
        },
        Case {
            name: "unknown command",
            req: raw(9, group_type::ALL, 5, vec![out_bucket(2)]),
            want: "OFPGMFC_BAD_COMMAND",
        },
        Case {
            name: "weight in an ALL group",
            req: raw(gc::ADD, group_type::ALL, 5, vec![weighted.clone()]),
            want: "OFPGMFC_BAD_BUCKET",
        },
        Case {
            name: "weight in a FAST_FAILOVER group",
            req: raw(
                gc::ADD,
                group_type::FF,
                5,
                vec![Bucket {
                    watch_port: 2,
                    ..weighted.clone()
                }],
            ),
            want: "OFPGMFC_BAD_BUCKET",
        },
        Case {
            name: "fast failover bucket without watch_port or watch_group",
            req: raw(gc::ADD, group_type::FF, 5, vec![out_bucket(2)]),
            want: "OFPGMFC_BAD_WATCH",
        },
        Case {
            name: "fast failover watching a group that does not exist",
            req: Req::Text(gc::ADD, "group_id=5,type=ff,bucket=watch_group:9,output:2"),
            want: "OFPGMFC_BAD_WATCH",
        },
        Case {
            name: "bucket sends to a group that does not exist",
            req: Req::Text(gc::ADD, "group_id=5,type=all,bucket=group:9"),
            want: "OFPBAC_BAD_OUT_GROUP",
        },
        Case {
            name: "bucket outputs to a port that does not exist",
            req: Req::Text(gc::ADD, "group_id=5,type=all,bucket=output:99"),
            want: "OFPBAC_BAD_OUT_PORT",
        },
        Case {
            name: "delete a group another group chains to",
            req: Req::Text(gc::DELETE, "group_id=1"),
            want: "OFPGMFC_CHAINED_GROUP",
        },
        Case {
            name: "group 0 is a valid id",
            req: Req::Text(gc::ADD, "group_id=0,type=all,bucket=output:2"),
            want: "ok",
        },
        Case {
            name: "OFPG_MAX is a valid id",
            req: Req::Text(gc::ADD, "group_id=4294967040,type=all,bucket=output:2"),
            want: "ok",
        },
        Case {
            name: "an empty ALL group is valid",
            req: Req::Text(gc::ADD, "group_id=5,type=all"),
            want: "ok",
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(3);
        b.group("group_id=1,type=all,bucket=output:2");
        b.group("group_id=2,type=indirect,bucket=group:1");
        b.add("priority=1,in_port=1,actions=group:1");
        let before = b.p.group_descs();
        let r = match &c.req {
            Req::Text(cmd, text) => b.group_mod(*cmd, text),
            Req::Raw(gm) => b.p.group_mod(gm, b.now).map(|_| ()),
        };
        let got = err_name(r);
        if got != c.want {
            failures.push(format!("{}: got {got}, want {}", c.name, c.want));
        }
        if c.want != "ok" {
            if b.p.group_descs() != before || b.p.flow_count() != 1 {
                failures.push(format!("{}: a refused GROUP_MOD changed state", c.name));
            }
            if b.ports(1, &frames::tcp4()) != vec![2] {
                failures.push(format!("{}: forwarding changed", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn flows_may_not_reference_a_missing_group() {
    let mut b = Bridge::new(3);
    b.group("group_id=1,type=all,bucket=output:2");
    let mut failures = Vec::new();
    for flow in [
        "priority=1,actions=group:2",
        "priority=1,actions=write_actions(group:2)",
        "priority=1,actions=output:3,group:2",
    ] {
        let got = err_name(b.try_add(flow));
        if got != "OFPBAC_BAD_OUT_GROUP" {
            failures.push(format!("{flow}: got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(b.p.flow_count(), 0);
    b.add("priority=1,actions=group:1");
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

#[test]
fn group_and_bucket_counters() {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=all,bucket=output:2,bucket=output:3");
    b.group("group_id=2,type=indirect,bucket=group:1");
    b.group("group_id=3,type=ff,bucket=watch_port:4,output:4,bucket=watch_port:3,output:3");
    b.add("priority=3,tcp,actions=group:1");
    b.add("priority=2,udp,actions=group:2");
    b.add("priority=1,arp,actions=group:3");
    b.add("priority=0,icmp,actions=group:1");
    let created = b.now;
    let (tcp, udp, arp) = (frames::tcp4(), frames::udp4_vlan(), frames::arp());
    for _ in 0..3 {
        b.send(1, &tcp);
    }
    for _ in 0..2 {
        b.send(1, &udp);
    }
    b.send(1, &arp);
    b.port(4, |p| p.live = false);
    b.send(1, &arp);
    b.advance(2 * SEC + 5);

    let (t, u, a) = (tcp.len() as u64, udp.len() as u64, arp.len() as u64);
    let g1 = stats(&b, 1);
    // Spec 7.3.5.9: ref_count counts flows and groups that forward to it.
    assert_eq!(g1.ref_count, 3, "two flows and group 2");
    assert_eq!(
        (g1.packet_count, g1.byte_count),
        (5, 3 * t + 2 * u),
        "an ALL group counts each packet once, however many buckets"
    );
    let buckets: Vec<(u64, u64)> = g1
        .bucket_stats
        .iter()
        .map(|c| (c.packet_count, c.byte_count))
        .collect();
    assert_eq!(
        buckets,
        vec![(5, 3 * t + 2 * u); 2],
        "each bucket saw each packet"
    );
    // Millisecond granularity, as Open vSwitch: 2 s + 5 ns reads 2.000 s.
    assert_eq!((g1.duration_sec, g1.duration_nsec), (2, 0));
    assert_eq!(b.now - created, 2 * SEC + 5);

    let g2 = stats(&b, 2);
    assert_eq!(
        (g2.ref_count, g2.packet_count, g2.byte_count),
        (1, 2, 2 * u)
    );
    let g3 = stats(&b, 3);
    let buckets: Vec<u64> = g3.bucket_stats.iter().map(|c| c.packet_count).collect();
    assert_eq!((g3.packet_count, g3.byte_count), (2, 2 * a));
    assert_eq!(buckets, vec![1, 1], "failover moved the second packet");

    let all: Vec<u32> =
        b.p.group_stats(group_no::ALL, b.now)
            .iter()
            .map(|s| s.group_id)
            .collect();
    assert_eq!(all, vec![1, 2, 3]);

    let desc = b.p.group_descs();
    let d3 = desc.iter().find(|d| d.group_id == 3).expect("group 3 desc");
    assert_eq!(d3.group_type, group_type::FF);
    let watched: Vec<(u32, u32)> = d3
        .buckets
        .iter()
        .map(|x| (x.watch_port, x.watch_group))
        .collect();
    assert_eq!(watched, vec![(4, group_no::ANY), (3, group_no::ANY)]);
    assert_eq!(d3.buckets[0].actions, vec![Action::output(4)]);

    // ref_count follows flow deletion.
    b.flow_mod(openflow::messages::flow_mod_command::DELETE, "icmp")
        .expect("del-flows");
    assert_eq!(stats(&b, 1).ref_count, 2);
}
