//! Packet-ins at a controller's pace, end to end: a controller written
//! here with the `openflow` crate installs only a table-miss flow to
//! CONTROLLER, and frames from many source MACs (hosts starting at once)
//! are sent into a veth port of the bridge.
//!
//! - With `controller_rate_limit=100 controller_burst_limit=25` (set with
//!   `vsctl set controller BR ...`, applied to the connection already up)
//!   the controller receives at most the burst plus the rate over the time
//!   it took, and the rest is counted as rate-limited, per controller
//!   (`list controller` status) and per bridge (`get bridge statistics`).
//! - With the limit cleared (the default, as Open vSwitch), nothing is
//!   rate-limited and the controller receives more than the fixed
//!   5,000/s (burst 5,000) the switch used to allow per bridge.
//! - The setting survives a restart of the daemon (conf.json).
//! - A TCP stream from a host with TSO, through a hub controller (every
//!   frame a packet-in, sent back with PACKET_OUT FLOOD), completes: the
//!   host's super-segments reach the controller as the segments they stand
//!   for, none longer than a wire frame.
//!
//! The assertions are on counts with generous bounds, so that a busy
//! 2-core machine does not make them flaky: the upper bound of the limited
//! phase is measured against the time the test saw pass, which only
//! loosens it. The unlimited phase sends 40,000 frames as fast as the
//! switch takes them (at most 1,000 not yet seen as packet-ins, so that
//! the kernel drops none) and compares what arrived with what the old
//! limit would have let through over the whole time the flood took: that
//! fails only if the switch delivers fewer than about 5,700 packet-ins a
//! second (a debug build delivered 20,000-36,000 a second on this 2-core
//! machine, also with both cores kept busy by other processes).

mod common;
mod ofclient;

use common::*;
use ofclient::{arp_request, Listener, Session};
use openflow::messages::PacketOut;
use openflow::types::port_no;
use openflow::{Action, Body};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

/// A broadcast ARP request from host `i` (its own MAC and address).
fn host_frame(i: u32) -> Vec<u8> {
    let [a, b, c, d] = i.to_be_bytes();
    arp_request([0x02, 0x42, a, b, c, d], [10, b, c, d], [10, 255, 255, 254])
}

/// Packet-ins received until none has come for `quiet`; returns how many
/// and when the last one came.
fn count_packet_ins(c: &mut Session, quiet: Duration) -> (u64, Instant) {
    let (mut n, mut last) = (0, Instant::now());
    while c
        .wait(quiet, |m| matches!(m.body, Body::PacketIn(_)))
        .is_some()
    {
        n += 1;
        last = Instant::now();
    }
    (n, last)
}

/// Frames from hosts `first..first + n`, sent out of `dev` as fast as
/// the switch takes them: a chunk at a time, with at most [`IN_FLIGHT`]
/// frames not yet seen as packet-ins (more would overflow the port's
/// receive ring, and the kernel would drop what the switch never saw).
/// Returns the frames sent, the packet-ins received (until none came for
/// a second) and when the last one came.
fn flood(c: &mut Session, dev: &str, first: u32, n: u32) -> (u64, u64, Instant) {
    const CHUNK: u32 = 500;
    const IN_FLIGHT: u64 = 1000;
    let is_packet_in = |m: &openflow::Message| matches!(m.body, Body::PacketIn(_));
    let (mut sent, mut got, mut last) = (0u64, 0u64, Instant::now());
    for start in (first..first + n).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(first + n);
        inject(None, dev, (start..end).map(host_frame).collect());
        sent += u64::from(end - start);
        // A frame the kernel dropped never comes: wait a little, not for
        // ever.
        while got + IN_FLIGHT < sent && c.wait(Duration::from_millis(200), is_packet_in).is_some() {
            got += 1;
            last = Instant::now();
        }
    }
    let (rest, rest_last) = count_packet_ins(c, Duration::from_secs(1));
    if rest > 0 {
        (got, last) = (got + rest, rest_last);
    }
    (sent, got, last)
}

/// The controller of bridge `br`, written here: set with set-controller,
/// connected, and with one flow, a table miss to CONTROLLER.
fn table_miss_controller(d: &Daemon, br: &str) -> Session {
    let l = Listener::on(free_listener());
    d.vsctl(&["set-controller", br, &format!("tcp:127.0.0.1:{}", l.port)]);
    let mut c = l
        .accept(T)
        .unwrap_or_else(|| panic!("the switch did not connect\n{}", d.log()));
    c.handshake();
    c.add_flow_ok("priority=0,actions=CONTROLLER:65535");
    c
}

fn bridge_stats(d: &Daemon, br: &str) -> BTreeMap<String, u64> {
    vsctl_map(&d.vsctl(&["get", "bridge", br, "statistics"]))
}

fn controller_status(d: &Daemon, br: &str) -> BTreeMap<String, u64> {
    vsctl_map(&d.vsctl(&["get", "controller", br, "status"]))
}

fn stat(m: &BTreeMap<String, u64>, key: &str) -> u64 {
    m.get(key).copied().unwrap_or(0)
}

#[test]
fn controller_rate_limit_caps_packet_ins_and_none_by_default() {
    if !require_root() {
        return;
    }
    let mut d = Daemon::start(&[]);
    let br = d.secure_bridge();
    // The host sends IPv6 router solicitations and MLD reports out of the
    // bridge's LOCAL port now and then: packet-ins this test did not ask
    // for, which would throw its counts off.
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{br}/disable_ipv6"), "1");
    let v = Veth::new().quiet();
    sh(&["ip", "link", "set", &v.peer, "up"]);
    d.vsctl(&["add-port", &br, &v.end]);
    let mut c = table_miss_controller(&d, &br);
    wait_for("the port's link up", T, || {
        d.vsctl(&["get", "interface", &v.end, "link_state"]).trim() == "up"
    });

    // Limited: 100/s, a burst of 25, on the connection already up.
    let set_at = Instant::now();
    d.vsctl(&[
        "set",
        "controller",
        &br,
        "controller_rate_limit=100",
        "controller_burst_limit=25",
    ]);
    let listed = d.vsctl(&["list", "controller"]);
    assert!(listed.contains("controller_rate_limit: 100\n"), "{listed}");
    assert!(listed.contains("is_connected        : true\n"), "{listed}");
    let before = bridge_stats(&d, &br);
    inject(None, &v.peer, (0..2000).map(host_frame).collect());
    let (got, last) = count_packet_ins(&mut c, Duration::from_secs(1));
    let allowed = 25 + (100.0 * last.duration_since(set_at).as_secs_f64()).ceil() as u64;
    eprintln!("limited: {got} packet-ins received, at most {allowed} allowed");
    assert!(got >= 25, "the burst passes: {got}\n{}", d.log());
    assert!(got <= allowed, "{got} packet-ins > {allowed}");
    // Every packet-in the datapath passed on was either sent or counted as
    // rate-limited, per controller (since the limit was set) and per
    // bridge.
    wait_for("the counters to agree", T, || {
        let (st, now) = (controller_status(&d, &br), bridge_stats(&d, &br));
        let passed_on = stat(&now, "packet_in_sent") - stat(&before, "packet_in_sent");
        let limited =
            stat(&now, "packet_in_rate_limited") - stat(&before, "packet_in_rate_limited");
        stat(&st, "packet_in_sent") == got
            && stat(&st, "packet_in_rate_limited") == limited
            && got + limited == passed_on
    });
    let st = controller_status(&d, &br);
    assert!(stat(&st, "packet_in_rate_limited") > 1000, "{st:?}");

    // Unlimited (the default): clear the limit; far more than the old
    // 5,000/s per bridge reach the controller.
    d.vsctl(&[
        "clear",
        "controller",
        &br,
        "controller_rate_limit",
        "controller_burst_limit",
    ]);
    let before = bridge_stats(&d, &br);
    let t0 = Instant::now();
    let (n, got, last) = flood(&mut c, &v.peer, 2000, 40_000);
    let took = last.duration_since(t0).as_secs_f64();
    let old_limit = 5000 + (5000.0 * took) as u64;
    let after = bridge_stats(&d, &br);
    eprintln!(
        "unlimited: {n} frames sent, {got} packet-ins received in {took:.2} s ({:.0}/s; \
         the old limit would have passed at most {old_limit}); bridge statistics {after:?}",
        got as f64 / took
    );
    assert_eq!(
        stat(&after, "packet_in_rate_limited"),
        stat(&before, "packet_in_rate_limited"),
        "nothing rate-limited without a limit"
    );
    assert!(
        got > old_limit,
        "{got} packet-ins in {took:.2} s: no more than the old 5,000/s limit\n{after:?}"
    );
    let t1 = Instant::now();
    loop {
        let st = controller_status(&d, &br);
        if stat(&st, "packet_in_rate_limited") == 0 && stat(&st, "packet_in_sent") == got {
            break;
        }
        assert!(
            t1.elapsed() < T,
            "the controller's counters: {st:?}, received {got}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The setting is kept in conf.json like the rest.
    d.vsctl(&["set", "controller", &br, "controller_rate_limit=2000"]);
    d.restart();
    assert_eq!(
        d.vsctl(&[
            "get",
            "controller",
            &br,
            "controller_rate_limit",
            "controller_burst_limit"
        ]),
        "2000\n[]\n"
    );
}

/// A host with TSO on (veth's default) sends TCP through a bridge whose
/// only flow sends every frame to the controller, and the controller here
/// sends each back out with PACKET_OUT FLOOD (a hub): the transfer
/// completes, every packet-in is a frame a wire could carry (the host's
/// 64 KiB super-segments arrive as the MSS-sized segments they stand for,
/// as the kernel's Open vSwitch datapath sends them up), and no port
/// counts a frame too big to send. A super-segment sent up whole came back
/// in a PACKET_OUT no port could send (tx_errors), and the stream stalled.
#[test]
fn a_tso_stream_through_a_hub_controller_reaches_it_as_segments() {
    if !require_root() || !require("iperf3", have("iperf3")) {
        return;
    }
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let hosts = [
        ("10.9.0.1/24".to_string(), "02:00:00:00:09:01".to_string()),
        ("10.9.0.2/24".to_string(), "02:00:00:00:09:02".to_string()),
    ];
    let (ns, ports) = d.netns_hosts(&br, &hosts);
    let mut c = table_miss_controller(&d, &br);

    let stop = Arc::new(AtomicBool::new(false));
    let hub = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut count, mut longest) = (0u64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let Some(m) = c.wait(Duration::from_millis(100), |m| {
                    matches!(m.body, Body::PacketIn(_))
                }) else {
                    continue;
                };
                let Body::PacketIn(pi) = m.body else {
                    continue;
                };
                count += 1;
                longest = longest.max(pi.data.len());
                let in_port = pi.in_port().unwrap_or(port_no::CONTROLLER);
                let flood = vec![Action::Output {
                    port: port_no::FLOOD,
                    max_len: 0,
                }];
                c.send(Body::PacketOut(PacketOut::new(in_port, flood, pi.data)));
            }
            (count, longest)
        })
    };
    let sent = iperf3(Some(&ns[0]), Some(&ns[1]), "10.9.0.2", false);
    stop.store(true, Ordering::Relaxed);
    let (count, longest) = hub.join().expect("the hub thread");
    eprintln!("hub: {count} packet-ins, the longest {longest} bytes");
    if let Err(e) = sent {
        panic!("{e}\n{}", d.log());
    }
    assert!(
        longest <= 1514,
        "a packet-in of {longest} bytes: a super-segment went up whole"
    );
    for port in &ports {
        let st = vsctl_map(&d.vsctl(&["get", "interface", port, "statistics"]));
        assert_eq!(stat(&st, "tx_errors"), 0, "{port}: {st:?}");
    }
}
