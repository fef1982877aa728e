//! Counters (spec 5.8, 7.3.5): per flow (packets, bytes, duration), per
//! table (active entries, lookups, matches), aggregate, and their
//! agreement with the packets actually sent. Groups and meters have their
//! own modules.

use super::frames;
use super::harness::*;
use openflow::multipart::FlowStatsRequest;

#[test]
fn flow_counters_and_duration() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,actions=output:2");
    b.add("priority=5,udp,actions=output:2");
    b.advance(SEC / 2);
    let (tcp, udp) = (frames::tcp4(), frames::udp4_vlan());
    for _ in 0..7 {
        b.send(1, &tcp);
    }
    for _ in 0..3 {
        b.send(1, &udp);
    }
    b.advance(2 * SEC);
    let stats =
        b.p.flow_stats(&FlowStatsRequest::default(), b.now)
            .expect("flow stats");
    assert_eq!(stats.len(), 2);
    let (t, u) = (&stats[0], &stats[1]);
    assert_eq!(
        (t.priority, t.packet_count, t.byte_count),
        (10, 7, 7 * tcp.len() as u64)
    );
    assert_eq!(
        (u.priority, u.packet_count, u.byte_count),
        (5, 3, 3 * udp.len() as u64)
    );
    assert_eq!((t.duration_sec, t.duration_nsec), (2, 500_000_000));
    let agg =
        b.p.aggregate_stats(&FlowStatsRequest::default())
            .expect("aggregate");
    assert_eq!(agg.flow_count, 2);
    assert_eq!(agg.packet_count, 10);
    assert_eq!(agg.byte_count, 7 * tcp.len() as u64 + 3 * udp.len() as u64);
}

#[test]
fn flow_stats_request_filters() {
    let mut b = Bridge::new(4);
    b.add("table=0,cookie=0x1,priority=10,tcp,actions=output:2,goto_table:1");
    b.add("table=1,cookie=0x2,priority=10,actions=output:3");
    b.add("table=1,cookie=0x3,priority=20,udp,actions=output:4");
    let req = |text: &str| {
        let fm = parse_flow(openflow::messages::flow_mod_command::DELETE, text);
        FlowStatsRequest {
            table_id: fm.table_id,
            out_port: fm.out_port,
            out_group: fm.out_group,
            cookie: fm.cookie,
            cookie_mask: fm.cookie_mask,
            match_: fm.match_,
        }
    };
    let cookies = |b: &Bridge, text: &str| -> Vec<u64> {
        b.p.flow_stats(&req(text), b.now)
            .expect("stats")
            .iter()
            .map(|s| s.cookie)
            .collect()
    };
    assert_eq!(cookies(&b, ""), vec![1, 3, 2], "by table, then priority");
    assert_eq!(cookies(&b, "table=1"), vec![3, 2]);
    assert_eq!(cookies(&b, "out_port=3"), vec![2]);
    assert_eq!(cookies(&b, "udp"), vec![3]);
    assert_eq!(cookies(&b, "cookie=0x2/0x2"), vec![3, 2]);
}

#[test]
fn table_counters_count_lookups_and_matches() {
    let mut b = Bridge::new(4);
    b.add("table=0,priority=10,tcp,actions=goto_table:1");
    b.add("table=0,priority=5,udp,actions=output:2");
    b.add("table=1,priority=10,in_port=3,actions=output:2");
    let (tcp, udp, arp) = (frames::tcp4(), frames::udp4_vlan(), frames::arp());
    for _ in 0..4 {
        b.send(1, &tcp); // table 0 hit, table 1 miss
    }
    for _ in 0..3 {
        b.send(1, &udp); // table 0 hit
    }
    for _ in 0..2 {
        b.send(1, &arp); // table 0 miss
    }
    b.send(3, &tcp); // table 0 hit, table 1 hit
    let stats = b.p.table_stats();
    let t0 = stats[0];
    let t1 = stats[1];
    assert_eq!(
        (t0.active_count, t0.lookup_count, t0.matched_count),
        (2, 10, 8)
    );
    assert_eq!(
        (t1.active_count, t1.lookup_count, t1.matched_count),
        (1, 5, 1)
    );
    assert!(stats[2..]
        .iter()
        .all(|t| t.lookup_count == 0 && t.active_count == 0));
}

#[test]
fn counters_survive_cache_hits() {
    // The microflow cache serves the second and later packets; their
    // counts must still reach the flow and the tables.
    let mut b = Bridge::new(4);
    b.add("table=0,priority=1,actions=goto_table:2");
    b.add("table=2,priority=1,actions=output:2");
    for _ in 0..100 {
        b.send(1, &frames::tcp4());
    }
    let flows =
        b.p.flow_stats(&FlowStatsRequest::default(), b.now)
            .expect("stats");
    assert!(flows.iter().all(|f| f.packet_count == 100), "{flows:?}");
    let t = b.p.table_stats();
    assert_eq!((t[0].lookup_count, t[2].matched_count), (100, 100));
}

#[test]
fn port_counters() {
    use openflow::port::config;
    let mut b = Bridge::new(4);
    b.add("priority=1,in_port=1,actions=output:2,output:3");
    b.add("priority=1,in_port=2,actions=FLOOD");
    let f = frames::tcp4();
    let n = f.len() as u64;
    for _ in 0..3 {
        b.send(1, &f);
    }
    b.send(2, &f); // floods to 1, 3, 4
    b.port(4, |p| p.config |= config::NO_RECV);
    b.send(4, &f); // dropped on receive
    b.advance(2 * SEC);
    let s = b.p.port_stats(openflow::types::port_no::ANY, b.now);
    let by_port = |p: u32| *s.iter().find(|x| x.port_no == p).expect("port");
    let p1 = by_port(1);
    assert_eq!((p1.rx_packets, p1.rx_bytes, p1.tx_packets), (3, 3 * n, 1));
    let p2 = by_port(2);
    assert_eq!((p2.rx_packets, p2.tx_packets, p2.tx_bytes), (1, 3, 3 * n));
    let p3 = by_port(3);
    assert_eq!((p3.rx_packets, p3.tx_packets), (0, 4));
    let p4 = by_port(4);
    assert_eq!((p4.rx_packets, p4.rx_dropped, p4.tx_packets), (0, 1, 1));
    assert_eq!(p4.duration_sec, 2, "ports were created at 1 s, now is 3 s");
    assert_eq!(b.p.port_stats(3, b.now).len(), 1);
    assert!(b.p.port_stats(99, b.now).is_empty());
}
