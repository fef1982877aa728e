//! Flow expiry (spec 5.5, 6.5): idle and hard timeouts with a clock the
//! test moves, traffic keeping idle flows alive, and FLOW_REMOVED with the
//! right reason, counters, duration and match, sent only with
//! OFPFF_SEND_FLOW_REM.

use super::frames;
use super::harness::*;
use ofswitch::pipeline::Event;
use openflow::messages::{flow_removed_reason, FlowRemoved};

fn removed(events: &[Event]) -> Vec<FlowRemoved> {
    events
        .iter()
        .map(|e| match e {
            Event::FlowRemoved(fr) => fr.clone(),
        })
        .collect()
}

#[test]
fn idle_timeout_expires_after_silence_only() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,idle_timeout=5,send_flow_rem,actions=output:2");
    // A packet every 4 s keeps it alive well past 5 s.
    for _ in 0..5 {
        assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
        assert!(b.advance(4 * SEC).is_empty(), "expired while in use");
    }
    // 4 s after the last packet: still there; 5 s: gone.
    let ev = removed(&b.advance(SEC + 1));
    assert_eq!(ev.len(), 1);
    let fr = &ev[0];
    assert_eq!(fr.reason, flow_removed_reason::IDLE_TIMEOUT);
    assert_eq!((fr.idle_timeout, fr.hard_timeout, fr.priority), (5, 0, 10));
    assert_eq!(fr.packet_count, 5);
    assert_eq!(fr.byte_count, 5 * frames::tcp4().len() as u64);
    assert_eq!(fr.duration_sec, 21);
    assert_eq!(
        fr.match_,
        parse_flow(0, "tcp,actions=drop").match_,
        "FLOW_REMOVED carries the flow's match"
    );
    assert!(b.ports(1, &frames::tcp4()).is_empty(), "no longer forwards");
}

#[test]
fn hard_timeout_expires_despite_traffic() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,hard_timeout=3,send_flow_rem,actions=output:2");
    b.add("priority=0,actions=output:3");
    for _ in 0..2 {
        assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
        assert!(b.advance(SEC).is_empty());
    }
    let ev = removed(&b.advance(SEC));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].reason, flow_removed_reason::HARD_TIMEOUT);
    assert_eq!(ev[0].duration_sec, 3);
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3], "table-miss now");
}

#[test]
fn the_earlier_of_idle_and_hard_wins() {
    let mut b = Bridge::new(4);
    b.add("priority=1,in_port=1,idle_timeout=2,hard_timeout=10,send_flow_rem,actions=output:2");
    b.add("priority=2,in_port=2,idle_timeout=10,hard_timeout=2,send_flow_rem,actions=output:1");
    let ev = removed(&b.advance(2 * SEC));
    let mut reasons: Vec<(u16, u8)> = ev.iter().map(|f| (f.priority, f.reason)).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (1, flow_removed_reason::IDLE_TIMEOUT),
            (2, flow_removed_reason::HARD_TIMEOUT)
        ]
    );
}

#[test]
fn expiry_without_send_flow_rem_is_silent() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,idle_timeout=1,actions=output:2");
    b.add("table=3,priority=10,hard_timeout=1,actions=output:2");
    assert!(b.advance(2 * SEC).is_empty());
    assert_eq!(b.p.flow_count(), 0, "both removed");
}

#[test]
fn permanent_flows_never_expire() {
    let mut b = Bridge::new(4);
    b.add("priority=10,tcp,send_flow_rem,actions=output:2");
    assert!(!b.p.has_timeouts());
    assert!(b.advance(1_000_000 * SEC).is_empty());
    assert_eq!(b.p.flow_count(), 1);
}

#[test]
fn timeouts_in_many_tables_and_counts() {
    let mut b = Bridge::new(4);
    for t in 0..20 {
        b.add(&format!(
            "table={t},priority=1,idle_timeout={},send_flow_rem,actions=drop",
            t + 1
        ));
    }
    assert!(b.p.has_timeouts());
    let mut seen = 0;
    for s in 1..=20 {
        let ev = removed(&b.advance(SEC));
        assert_eq!(ev.len(), 1, "one flow expires at {s} s");
        assert_eq!(ev[0].table_id, (s - 1) as u8);
        seen += ev.len();
    }
    assert_eq!(seen, 20);
    assert_eq!(b.p.flow_count(), 0);
}
