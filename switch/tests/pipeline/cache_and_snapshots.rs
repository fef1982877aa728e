//! The fast path's two promises: the microflow cache never changes what
//! happens to a packet (only how fast), and forwarding threads read
//! published snapshots while the control plane changes the tables, without
//! waiting and without seeing half a change.

use super::frames;
use super::harness::*;
use ofswitch::pipeline::{MicroflowCache, PacketMeta, Pipeline, SharedPipeline};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Variants of the test frames that differ in ports and addresses.
fn traffic() -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    for (i, (_, f)) in frames::all_frames().into_iter().enumerate() {
        let port = (i % 4) as u32 + 1;
        v.push((port, f.clone()));
        // Same frame, another source MAC and another port.
        let mut g = f;
        if g.len() > 11 {
            g[11] ^= 0x5a;
        }
        v.push((port % 4 + 1, g));
    }
    v
}

const FLOWS: &[&str] = &[
    "table=0,priority=100,tcp,tp_dst=80,actions=set_field:10.9.9.9->ip_dst,goto_table:1",
    "table=0,priority=90,ip,nw_src=10.0.0.0/8,actions=dec_ttl,goto_table:1",
    "table=0,priority=80,ipv6,actions=group:1",
    "table=0,priority=70,arp,actions=NORMAL",
    "table=0,priority=60,dl_vlan=100,actions=pop_vlan,output:3",
    "table=0,priority=0,actions=CONTROLLER:64",
    "table=1,priority=10,in_port=1,actions=output:2",
    "table=1,priority=5,actions=write_actions(output:4),goto_table:2",
    "table=2,priority=1,actions=push_vlan:0x8100,set_field:0x1007->vlan_vid",
];

fn bridge() -> Bridge {
    let mut b = Bridge::new(4);
    b.group("group_id=1,type=select,bucket=output:1,bucket=output:2,bucket=output:3");
    for f in FLOWS {
        b.add(f);
    }
    b
}

#[test]
fn cached_and_uncached_processing_agree() {
    let mut b = bridge();
    for round in 0..3 {
        for (port, frame) in traffic() {
            let cached = b.send(port, &frame);
            let uncached =
                b.p.process_uncached(frame.clone(), PacketMeta::port(port), b.now);
            assert_eq!(
                cached, uncached,
                "round {round}, port {port}, frame {frame:02x?}"
            );
        }
    }
}

#[test]
fn every_kind_of_change_invalidates_the_cache() {
    let mut b = Bridge::new(4);
    let f = frames::tcp4();
    b.group("group_id=1,type=ff,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3");
    b.add("priority=1,tcp,actions=group:1");
    assert_eq!(b.ports(1, &f), vec![2]);
    assert_eq!(b.ports(1, &f), vec![2], "now from the cache");
    // A port going down.
    b.port(2, |p| p.live = false);
    assert_eq!(b.ports(1, &f), vec![3]);
    // A group change.
    b.group_mod(
        openflow::group::command::MODIFY,
        "group_id=1,type=ff,bucket=watch_port:4,output:4",
    )
    .expect("modify group");
    assert_eq!(b.ports(1, &f), vec![4]);
    // A flow added above.
    b.add("priority=2,tcp,actions=output:1");
    assert_eq!(b.ports(2, &f), vec![1]);
    // A flow expiring.
    b.add("priority=3,tcp,hard_timeout=1,actions=output:3");
    assert_eq!(b.ports(2, &f), vec![3]);
    b.advance(SEC);
    assert_eq!(b.ports(2, &f), vec![1]);
    // A port removed.
    b.p.remove_port(1);
    assert_eq!(b.ports(2, &f), Vec::<u32>::new());
}

/// Ports 1 and 2, one flow sending everything to 2.
fn everything_to_port_2() -> Pipeline {
    let mut p = Pipeline::new();
    p.set_port(ofswitch::pipeline::ports::PortInfo::new(1));
    p.set_port(ofswitch::pipeline::ports::PortInfo::new(2));
    let fm = parse_flow(0, "priority=1,actions=output:2");
    p.flow_mod(&fm, 0).expect("flow");
    p
}

#[test]
fn the_cache_stays_bounded() {
    let p = everything_to_port_2();
    let mut cache = MicroflowCache::with_capacity(100);
    let mut out = Vec::new();
    for i in 0..1000u16 {
        let mut f = frames::tcp4();
        f[34..36].copy_from_slice(&i.to_be_bytes()); // TCP source port
        p.process(&mut cache, f, PacketMeta::port(1), 0, &mut out);
        assert!(cache.len() <= 100);
    }
    assert_eq!(out.len(), 1000);
    assert_eq!(cache.misses, 1000);
}

/// A flood of one-packet flows fills only half the cache at full rate; after
/// that most misses are not inserted, so the cache is emptied far less
/// often, and a flow that keeps sending still gets in and hits.
#[test]
fn a_flood_of_new_flows_is_mostly_not_cached() {
    let p = everything_to_port_2();
    let mut cache = MicroflowCache::with_capacity(1000);
    let mut out = Vec::new();
    let flood = |i: u16| {
        let mut f = frames::tcp4();
        f[34..36].copy_from_slice(&i.to_be_bytes()); // TCP source port
        f
    };
    for i in 0..500u16 {
        p.process(&mut cache, flood(i), PacketMeta::port(1), 0, &mut out);
    }
    assert_eq!(
        cache.len(),
        500,
        "below half the capacity every miss is cached"
    );
    for i in 500..10_500u16 {
        p.process(&mut cache, flood(i), PacketMeta::port(1), 0, &mut out);
    }
    let inserted = cache.len() - 500;
    assert!(
        (100..=600).contains(&inserted),
        "about one in {} of 10,000 misses inserted, not {inserted}",
        ofswitch::pipeline::cache::INSERT_INV_PROB
    );
    // Every packet was still translated and sent.
    assert_eq!(out.len(), 10_500);
    // A flow that keeps sending gets in.
    let steady = flood(60_000);
    let misses = cache.misses;
    for _ in 0..1000 {
        p.process(&mut cache, steady.clone(), PacketMeta::port(1), 0, &mut out);
    }
    assert!(cache.misses - misses < 500, "the steady flow was cached");
    assert_eq!(out.len(), 11_500);
}

/// A forwarding thread keeps sending packets through the latest snapshot
/// while the control plane moves a flow between ports in batches. Every
/// packet goes out exactly one of the two ports, and once a batch is
/// published the forwarding thread follows it.
#[test]
fn forwarding_reads_snapshots_while_tables_change() {
    let mut control = bridge().p;
    // Before the first batch the frame would go to the select group (ports
    // 1-3): start from a published version where it already goes to 2.
    let first = parse_flow(0, "table=0,priority=199,ipv6,actions=output:2");
    control.flow_mod(&first, 0).expect("flow_mod");
    let shared = Arc::new(SharedPipeline::new(&control));
    let stop = Arc::new(AtomicBool::new(false));
    let forwarder = {
        let (shared, stop) = (shared.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut cache = MicroflowCache::default();
            let mut out = Vec::new();
            let mut seen = [0u64; 5];
            let frame = frames::udp6();
            while !stop.load(Ordering::Relaxed) {
                out.clear();
                let p = shared.load();
                p.process(&mut cache, frame.clone(), PacketMeta::port(4), 0, &mut out);
                let ports = harness_ports(&out);
                assert_eq!(ports.len(), 1, "exactly one output, got {out:?}");
                seen[ports[0] as usize] += 1;
            }
            seen
        })
    };
    for i in 0..200u32 {
        let port = if i % 2 == 0 { 2 } else { 3 };
        for prio in 0..5 {
            // Several flow_mods per batch; only the last one's port counts.
            let fm = parse_flow(
                0,
                &format!("table=0,priority={},ipv6,actions=output:{port}", 200 + prio),
            );
            control.flow_mod(&fm, 0).expect("flow_mod");
        }
        shared.publish(&control);
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let seen = forwarder.join().expect("forwarder thread");
    assert_eq!(seen[1] + seen[4], 0, "{seen:?}");
    assert!(seen[2] + seen[3] > 0, "{seen:?}");
    let mut cache = MicroflowCache::default();
    let mut out = Vec::new();
    shared
        .load()
        .process(&mut cache, frames::udp6(), PacketMeta::port(4), 0, &mut out);
    assert_eq!(harness_ports(&out), vec![3], "the last batch wins");
}

fn harness_ports(out: &[ofswitch::pipeline::Outcome]) -> Vec<u32> {
    outputs(out).into_iter().map(|(p, _)| p).collect()
}

/// Standalone fail mode: with the controller gone, NORMAL forwards
/// everything, whatever the tables say; leaving fail-open restores them.
#[test]
fn fail_open_forwards_by_normal_and_back() {
    let mut b = Bridge::new(3);
    b.add("priority=100,actions=drop");
    assert!(b.ports(1, &frames::tcp4()).is_empty());
    b.p.set_fail_open(true);
    // Unknown destination: NORMAL floods.
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2, 3]);
    b.p.set_fail_open(false);
    assert!(b.ports(1, &frames::tcp4()).is_empty());
}
