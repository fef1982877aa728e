//! Controller roles end to end (OpenFlow 1.3 spec 6.3.5): two controllers
//! written here with the `openflow` crate, both configured on one bridge.
//!
//! - Both start EQUAL and both get packet-ins.
//! - A asks MASTER (generation 1): B stays EQUAL (only masters are
//!   demoted). B asks MASTER (generation 2): A becomes SLAVE.
//! - The slave's FLOW_MOD fails with OFPBRC_IS_SLAVE, its session stays up
//!   (ECHO), and a request with a stale generation id fails with
//!   OFPRRFC_STALE.
//! - Packet-ins (from traffic and from PACKET_OUT to CONTROLLER) go to the
//!   master and to equals, never to the slave; PORT_STATUS goes to all.

mod common;
mod ofclient;

use common::*;
use ofclient::{arp_request, Listener, Session};
use openflow::messages::{packet_in_reason, role};
use openflow::types::port_no;
use openflow::{Action, Body, Message, OfError, PacketOut};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);
/// How long to wait for a message that must not come.
const QUIET: Duration = Duration::from_millis(1500);

/// A PACKET_IN whose frame is `frame`.
fn is_packet_in_of(m: &Message, frame: &[u8], reason: u8) -> bool {
    matches!(&m.body, Body::PacketIn(pi) if pi.reason == reason && pi.data.starts_with(frame))
}

/// A PACKET_IN of an ARP request for `tpa` (what a ping to an absent
/// address sends), from any port.
fn is_arp_for(m: &Message, tpa: [u8; 4]) -> bool {
    matches!(&m.body, Body::PacketIn(pi)
        if pi.data.len() >= 42 && pi.data[12..14] == [0x08, 0x06] && pi.data[38..42] == tpa)
}

/// Sends a PACKET_OUT of `frame` to CONTROLLER from `s`.
fn packet_out_to_controller(s: &mut Session, frame: &[u8]) -> u32 {
    s.send(Body::PacketOut(PacketOut::new(
        port_no::CONTROLLER,
        vec![Action::Output {
            port: port_no::CONTROLLER,
            max_len: 0xffff,
        }],
        frame.to_vec(),
    )))
}

#[test]
fn master_slave_equal_roles() {
    if !require_root() {
        return;
    }
    let d = Daemon::start(&[]);
    let br = unique("br");
    let (p1, p2) = (unique("p"), unique("p"));
    d.vsctl(&["add-br", &br]);
    d.vsctl(&["set-fail-mode", &br, "secure"]);
    d.add_port_of_type(&br, &p1, "internal");
    let ns1 = Netns::new(&unique("n"));
    ns1.take(&p1, "10.233.0.1/24");

    let (la, lb) = (Listener::on(free_listener()), Listener::on(free_listener()));
    d.vsctl(&[
        "set-controller",
        &br,
        &format!("tcp:127.0.0.1:{}", la.port),
        &format!("tcp:127.0.0.1:{}", lb.port),
    ]);
    let mut a = la.accept(T).expect("the switch connects to A");
    let mut b = lb.accept(T).expect("the switch connects to B");
    let dpid = a.handshake();
    assert_eq!(b.handshake(), dpid, "one switch, one datapath id");

    // Both EQUAL; no generation id known yet (all-ones, as OVS).
    for s in [&mut a, &mut b] {
        let r = s.role(role::NOCHANGE, 0).expect("NOCHANGE");
        assert_eq!((r.role, r.generation_id), (role::EQUAL, u64::MAX));
    }

    // A table-miss flow to the controller; traffic reaches both.
    a.add_flow_ok("priority=0,actions=CONTROLLER:65535");
    let miss = [10, 233, 0, 99];
    ns1.ping("10.233.0.99", 1);
    assert!(
        a.wait(T, |m| is_arp_for(m, miss)).is_some(),
        "EQUAL A gets the packet-in\n{}",
        d.log()
    );
    assert!(
        b.wait(T, |m| is_arp_for(m, miss)).is_some(),
        "EQUAL B gets it"
    );

    // A becomes MASTER; B stays EQUAL.
    let r = a.role(role::MASTER, 1).expect("A MASTER gen 1");
    assert_eq!((r.role, r.generation_id), (role::MASTER, 1));
    assert_eq!(b.current_role(), role::EQUAL, "an EQUAL is not demoted");
    // Master and equal both get packet-ins.
    let f1 = arp_request([0x02, 0, 0, 0, 0xa1, 1], [10, 233, 0, 50], [10, 233, 0, 51]);
    packet_out_to_controller(&mut a, &f1);
    assert!(a
        .wait(T, |m| is_packet_in_of(m, &f1, packet_in_reason::ACTION))
        .is_some());
    assert!(b
        .wait(T, |m| is_packet_in_of(m, &f1, packet_in_reason::ACTION))
        .is_some());

    // B becomes MASTER with a newer generation: A is demoted.
    let r = b.role(role::MASTER, 2).expect("B MASTER gen 2");
    assert_eq!((r.role, r.generation_id), (role::MASTER, 2));
    let r = a.role(role::NOCHANGE, 0).expect("A NOCHANGE");
    assert_eq!(
        (r.role, r.generation_id),
        (role::SLAVE, 2),
        "A is SLAVE now"
    );

    // The slave cannot change the switch, but keeps its session.
    let xid = a.add_flow("priority=5,ip,actions=drop");
    let m = a.reply(xid);
    match m.body {
        Body::Error(openflow::messages::ErrorMsg::Standard { error, .. }) => {
            assert_eq!(error, OfError::BRC_IS_SLAVE);
            assert_eq!((error.typ, error.code), (1, 10));
        }
        b => panic!("expected OFPBRC_IS_SLAVE, got {b:?}"),
    }
    assert!(a.echo(), "the slave's session stays up");
    // A stale generation id.
    assert_eq!(a.role(role::MASTER, 1), Err(OfError::RRFC_STALE));
    assert_eq!(a.current_role(), role::SLAVE);
    let flows = d.run(&["ofctl", "dump-flows", &br]);
    let flows = String::from_utf8_lossy(&flows.stdout);
    assert!(
        !flows.contains("priority=5"),
        "the slave's flow is not there:\n{flows}"
    );

    // Packet-ins: to the master, not to the slave.
    let f2 = arp_request([0x02, 0, 0, 0, 0xb2, 2], [10, 233, 0, 60], [10, 233, 0, 61]);
    packet_out_to_controller(&mut b, &f2);
    assert!(
        b.wait(T, |m| is_packet_in_of(m, &f2, packet_in_reason::ACTION))
            .is_some(),
        "the master gets the packet-in from its PACKET_OUT"
    );
    let miss2 = [10, 233, 0, 98];
    ns1.ping("10.233.0.98", 1);
    assert!(
        b.wait(T, |m| is_arp_for(m, miss2)).is_some(),
        "the master gets table-miss packet-ins"
    );
    assert!(
        a.wait(QUIET, |m| is_packet_in_of(m, &f2, packet_in_reason::ACTION)
            || is_arp_for(m, miss2))
            .is_none(),
        "the slave gets no packet-ins"
    );

    // PORT_STATUS goes to master and slave alike.
    d.add_port_of_type(&br, &p2, "internal");
    let ps = |m: &Message| matches!(&m.body, Body::PortStatus(ps) if ps.desc.name == p2);
    assert!(a.wait(T, ps).is_some(), "the slave gets PORT_STATUS");
    assert!(b.wait(T, ps).is_some(), "the master gets PORT_STATUS");

    // Back to EQUAL: A gets packet-ins again, beside the master.
    let r = a.role(role::EQUAL, 0).expect("A EQUAL");
    assert_eq!((r.role, r.generation_id), (role::EQUAL, 2));
    let f3 = arp_request([0x02, 0, 0, 0, 0xc3, 3], [10, 233, 0, 70], [10, 233, 0, 71]);
    packet_out_to_controller(&mut b, &f3);
    assert!(a
        .wait(T, |m| is_packet_in_of(m, &f3, packet_in_reason::ACTION))
        .is_some());
    assert!(b
        .wait(T, |m| is_packet_in_of(m, &f3, packet_in_reason::ACTION))
        .is_some());

    // vsctl show reports both connected, with their roles.
    let show = d.vsctl(&["show"]);
    assert_eq!(show.matches("is_connected: true").count(), 2, "{show}");
    assert!(
        show.contains("role: master") && show.contains("role: other"),
        "{show}"
    );
}
