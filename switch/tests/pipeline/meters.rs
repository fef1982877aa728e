//! Meters (spec 5.7, 7.3.4.4): token-bucket rate limiting of real frames
//! through the `meter` instruction, in packets or kilobits per second, with
//! and without burst; several bands (the band with the highest rate below
//! the measured rate applies); DSCP remarking; METER_MOD add / modify /
//! delete (and what deleting does to the flows that use a meter); errors;
//! meter statistics and configuration.
//!
//! Token-bucket semantics tested (those of Open vSwitch's userspace
//! datapath): each band has a bucket of `burst_size` (packets, or kilobits
//! = 1000 bits) when the meter has OFPMF_BURST, else of one second of its
//! rate; the bucket starts full and refills continuously at the band's
//! rate. A packet exceeds a band when the band's bucket holds less than the
//! packet's cost (1 packet, or its frame length in bits).
//!
//! Tolerance: bursts sent at a single instant must give exact counts.
//! Traffic spread over time may differ by 2% (at least one packet) from the
//! ideal count, for the rounding of partial tokens.

use super::frames;
use super::harness::*;
use etherparse::{IpHeaders, IpNumber, Ipv4Header, PacketBuilder};
use ofswitch::pipeline::Event;
use openflow::messages::flow_removed_reason;
use openflow::meter::{command as mc, flags, MeterBand, MeterMod};
use openflow::multipart::MeterStats;
use openflow::types::meter_no;

const MS: u64 = SEC / 1000;

/// A TCP/IPv4 frame of exactly `len` bytes (DSCP 10, as [`frames::tcp4`]).
fn tcp4_len(len: usize) -> Vec<u8> {
    let mut ip =
        Ipv4Header::new(0, 64, IpNumber::TCP, frames::IP4_SRC, frames::IP4_DST).expect("header");
    ip.dscp = 10.try_into().expect("dscp");
    let b = PacketBuilder::ethernet2(frames::SRC_MAC, frames::DST_MAC)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .tcp(1234, 80, 1, 1000);
    let payload = vec![0x5a; len - 54];
    let mut v = Vec::new();
    b.write(&mut v, &payload).expect("frame");
    assert_eq!(v.len(), len);
    v
}

/// [`frames::tcp6`] with its DSCP set to `dscp` (ECN kept). The traffic
/// class is in no checksum.
fn tcp6_dscp(dscp: u8) -> Vec<u8> {
    let mut f = frames::tcp6();
    let tc = (dscp << 2) | (ip6_tc(&f) & 3);
    f[14] = 0x60 | (tc >> 4);
    f[15] = (tc << 4) | (f[15] & 0x0f);
    f
}

fn ip6_tc(f: &[u8]) -> u8 {
    ((f[14] & 0x0f) << 4) | (f[15] >> 4)
}

/// (DSCP, ECN) of an IPv4 or IPv6 frame (untagged).
fn dscp_ecn(f: &[u8]) -> (u8, u8) {
    match u16::from_be_bytes([f[12], f[13]]) {
        0x0800 => (f[15] >> 2, f[15] & 3),
        0x86dd => (ip6_tc(f) >> 2, ip6_tc(f) & 3),
        t => panic!("not IP: ethertype {t:#06x}"),
    }
}

fn stats(b: &Bridge, id: u32) -> MeterStats {
    let mut s = b.p.meter_stats(id, b.now);
    assert_eq!(s.len(), 1, "meter {id} stats: {s:?}");
    s.remove(0)
}

fn removed(events: &[Event]) -> Vec<(u64, u8)> {
    let mut v: Vec<(u64, u8)> = events
        .iter()
        .map(|e| {
            let Event::FlowRemoved(fr) = e;
            (fr.cookie, fr.reason)
        })
        .collect();
    v.sort();
    v
}

/// Sends `n` copies of `frame` on port 1, `gap` ns apart (0: all at the
/// same instant), and returns how many came out.
fn offer(b: &mut Bridge, frame: &[u8], n: u32, gap: u64) -> u32 {
    let mut passed = 0;
    for i in 0..n {
        if i > 0 && gap > 0 {
            b.advance(gap);
        }
        if !outputs(&b.send(1, frame)).is_empty() {
            passed += 1;
        }
    }
    passed
}

// ---------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------

#[test]
fn drop_band_token_bucket() {
    struct Case {
        name: &'static str,
        meter: &'static str,
        frame_len: usize,
        /// Traffic phases: wait `after` ns, then send `n` frames `gap` ns
        /// apart.
        phases: &'static [(u64, u32, u64)],
        /// Frames that should pass (ideal count).
        want: u32,
        /// Whether timing makes the count approximate (see the module
        /// comment for the tolerance).
        spread: bool,
    }
    let cases = [
        Case {
            name: "pktps burst: 20 at one instant, burst_size 5 pass",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=5",
            frame_len: 64,
            phases: &[(0, 20, 0)],
            want: 5,
            spread: false,
        },
        Case {
            name: "pktps burst: after 1 s idle the bucket is full again, not fuller",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=5",
            frame_len: 64,
            phases: &[(0, 20, 0), (SEC, 20, 0)],
            want: 10,
            spread: false,
        },
        Case {
            name: "pktps burst: 100 ms at 10 pps refill one packet",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=5",
            frame_len: 64,
            phases: &[(0, 20, 0), (100 * MS, 5, 0)],
            want: 6,
            spread: false,
        },
        Case {
            name: "pktps burst: 20 pps offered for 5 s to a 10 pps meter",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=5",
            frame_len: 64,
            phases: &[(0, 20, 0), (50 * MS, 100, 50 * MS)],
            want: 5 + 50,
            spread: true,
        },
        Case {
            name: "pktps burst: 1000 pps offered for 1 s to a 100 pps meter",
            meter: "meter=1,pktps,burst,band=type=drop,rate=100,burst_size=10",
            frame_len: 64,
            phases: &[(0, 1000, MS)],
            want: 10 + 100,
            spread: true,
        },
        Case {
            name: "pktps: traffic below the rate is never dropped",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=1",
            frame_len: 64,
            phases: &[(0, 50, 200 * MS)],
            want: 50,
            spread: false,
        },
        Case {
            name: "pktps without burst flag: the bucket holds one second of rate",
            meter: "meter=1,pktps,band=type=drop,rate=10",
            frame_len: 64,
            phases: &[(0, 20, 0)],
            want: 10,
            spread: false,
        },
        Case {
            name: "pktps: the frame size does not matter",
            meter: "meter=1,pktps,burst,band=type=drop,rate=10,burst_size=5",
            frame_len: 1500,
            phases: &[(0, 20, 0)],
            want: 5,
            spread: false,
        },
        Case {
            name: "kbps burst: 64 kbit bucket, 64-byte frames (512 bits): 125",
            meter: "meter=1,kbps,burst,band=type=drop,rate=64,burst_size=64",
            frame_len: 64,
            phases: &[(0, 200, 0)],
            want: 125,
            spread: false,
        },
        Case {
            name: "kbps burst: 64 kbit bucket, 1000-byte frames (8000 bits): 8",
            meter: "meter=1,kbps,burst,band=type=drop,rate=64,burst_size=64",
            frame_len: 1000,
            phases: &[(0, 200, 0)],
            want: 8,
            spread: false,
        },
        Case {
            name: "kbps burst: 1 s refill of 64 kbit, 1000-byte frames",
            meter: "meter=1,kbps,burst,band=type=drop,rate=64,burst_size=64",
            frame_len: 1000,
            phases: &[(0, 20, 0), (SEC, 20, 0)],
            want: 16,
            spread: false,
        },
        Case {
            name: "kbps burst: 1000 pps of 64 bytes for 1 s to 64 kbps, 8 kbit burst",
            meter: "meter=1,kbps,burst,band=type=drop,rate=64,burst_size=8",
            frame_len: 64,
            // (8000 + 64000 * 0.999) / 512 = 140.5
            phases: &[(0, 1000, MS)],
            want: 140,
            spread: true,
        },
        Case {
            name: "kbps without burst flag: one second of rate (512 kbit / 512 bits)",
            meter: "meter=1,kbps,band=type=drop,rate=512",
            frame_len: 64,
            phases: &[(0, 1500, 0)],
            want: 1000,
            spread: false,
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(2);
        b.meter(c.meter);
        b.add("priority=1,in_port=1,actions=meter:1,output:2");
        let frame = tcp4_len(c.frame_len);
        let mut passed = 0;
        let mut offered = 0;
        for &(after, n, gap) in c.phases {
            if after > 0 {
                b.advance(after);
            }
            passed += offer(&mut b, &frame, n, gap);
            offered += n;
        }
        let slack = if c.spread { (c.want / 50).max(1) } else { 0 };
        if passed.abs_diff(c.want) > slack {
            failures.push(format!(
                "{}: {passed} of {offered} passed, want {}±{slack}",
                c.name, c.want
            ));
            continue;
        }
        // The band counts what it dropped; the meter counts everything.
        let st = stats(&b, 1);
        let dropped = u64::from(offered - passed);
        let len = c.frame_len as u64;
        let got = (
            st.packet_in_count,
            st.byte_in_count,
            st.band_stats[0].packet_band_count,
            st.band_stats[0].byte_band_count,
        );
        let want = (
            u64::from(offered),
            u64::from(offered) * len,
            dropped,
            dropped * len,
        );
        if got != want {
            failures.push(format!("{}: stats {got:?}, want {want:?}", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn flows_sharing_a_meter_share_its_rate() {
    let mut b = Bridge::new(3);
    b.meter("meter=1,pktps,burst,band=type=drop,rate=10,burst_size=4");
    b.add("priority=2,tcp,actions=meter:1,output:2");
    b.add("priority=1,udp,actions=meter:1,output:3");
    let mut out = Vec::new();
    for _ in 0..3 {
        out.extend(b.ports(1, &frames::tcp4()));
        out.extend(b.ports(1, &frames::udp4_vlan()));
    }
    assert_eq!(out, vec![2, 3, 2, 3], "one bucket of 4 for both flows");
    let st = stats(&b, 1);
    assert_eq!((st.flow_count, st.packet_in_count), (2, 6));
}

#[test]
fn a_meter_before_goto_table_stops_dropped_packets_there() {
    let mut b = Bridge::new(3);
    b.meter("meter=1,pktps,burst,band=type=drop,rate=10,burst_size=2");
    b.add("table=0,priority=1,actions=meter:1,goto_table:1");
    b.add("table=1,priority=1,actions=output:2");
    assert_eq!(offer(&mut b, &frames::tcp4(), 5, 0), 2);
    let t1 = b.p.tables[1]
        .entries()
        .next()
        .expect("table 1 flow")
        .clone();
    assert_eq!(t1.packets(), 2, "dropped packets never reach table 1");
}

// ---------------------------------------------------------------------------
// Bands
// ---------------------------------------------------------------------------

#[test]
fn of_the_bands_exceeded_the_one_with_the_highest_rate_applies() {
    struct Case {
        name: &'static str,
        meter: &'static str,
        /// Per packet sent at one instant: None = dropped, Some(dscp).
        want: &'static [Option<u8>],
        /// Packets counted per band, in band order.
        band_counts: &'static [u64],
    }
    // tcp4 has DSCP 10 (AF11); one level more drop precedence is 12 (AF12).
    let cases = [
        Case {
            name: "drop 100 (burst 3) over remark 10 (burst 1)",
            meter: "meter=1,pktps,burst,\
                    band=type=drop,rate=100,burst_size=3,\
                    type=dscp_remark,rate=10,burst_size=1,prec_level=1",
            // 1: within both. 2, 3: over 10 only: remarked. 4, 5: over both:
            // the drop band (100) applies.
            want: &[Some(10), Some(12), Some(12), None, None],
            band_counts: &[2, 2],
        },
        Case {
            name: "the same bands listed the other way round",
            meter: "meter=1,pktps,burst,\
                    band=type=dscp_remark,rate=10,burst_size=1,prec_level=1,\
                    type=drop,rate=100,burst_size=3",
            want: &[Some(10), Some(12), Some(12), None, None],
            band_counts: &[2, 2],
        },
        Case {
            name: "remark 100 (burst 1) over drop 10 (burst 3)",
            meter: "meter=1,pktps,burst,\
                    band=type=drop,rate=10,burst_size=3,\
                    type=dscp_remark,rate=100,burst_size=1,prec_level=1",
            // Over 100 is over 10 as well: the remark band, whose rate is
            // the highest exceeded, applies and nothing is dropped.
            want: &[Some(10), Some(12), Some(12), Some(12), Some(12)],
            band_counts: &[0, 4],
        },
        Case {
            name: "two drop bands",
            meter: "meter=1,pktps,burst,\
                    band=type=drop,rate=10,burst_size=2,\
                    type=drop,rate=20,burst_size=3",
            want: &[Some(10), Some(10), None, None, None],
            band_counts: &[1, 2],
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(2);
        b.meter(c.meter);
        b.add("priority=1,in_port=1,actions=meter:1,output:2");
        let got: Vec<Option<u8>> = (0..c.want.len())
            .map(|_| {
                let out = outputs(&b.send(1, &frames::tcp4()));
                out.first().map(|(_, f)| {
                    assert_eq!(frames::verify_checksums(f), 2, "{}", c.name);
                    assert_eq!(dscp_ecn(f).1, 1, "{}: ECN kept", c.name);
                    dscp_ecn(f).0
                })
            })
            .collect();
        if got != c.want {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
        let counts: Vec<u64> = stats(&b, 1)
            .band_stats
            .iter()
            .map(|s| s.packet_band_count)
            .collect();
        if counts != c.band_counts {
            failures.push(format!(
                "{}: band counts {counts:?}, want {:?}",
                c.name, c.band_counts
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dscp_remark_raises_the_drop_precedence() {
    struct Case {
        name: &'static str,
        frame: fn() -> Vec<u8>,
        prec_level: u8,
        /// DSCP of the remarked packet (None: not IP, left as is).
        want: Option<u8>,
    }
    let cases = [
        Case {
            name: "IPv4 AF11 +1 = AF12",
            frame: frames::tcp4,
            prec_level: 1,
            want: Some(12),
        },
        Case {
            name: "IPv4 AF11 +2 = AF13",
            frame: frames::tcp4,
            prec_level: 2,
            want: Some(14),
        },
        Case {
            name: "IPv4 AF11 +3 stops at AF13",
            frame: frames::tcp4,
            prec_level: 3,
            want: Some(14),
        },
        Case {
            name: "IPv6 AF21 +1 = AF22",
            frame: || tcp6_dscp(18),
            prec_level: 1,
            want: Some(20),
        },
        Case {
            name: "IPv6 AF43 already at the highest drop precedence",
            frame: || tcp6_dscp(38),
            prec_level: 1,
            want: Some(38),
        },
        Case {
            name: "ARP: nothing to remark, forwarded unchanged",
            frame: frames::arp,
            prec_level: 1,
            want: None,
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(2);
        b.meter(&format!(
            "meter=1,pktps,burst,band=type=dscp_remark,rate=10,burst_size=1,prec_level={}",
            c.prec_level
        ));
        b.add("priority=1,in_port=1,actions=meter:1,output:2");
        let frame = (c.frame)();
        let first = outputs(&b.send(1, &frame));
        let second = outputs(&b.send(1, &frame));
        if first.len() != 1 || second.len() != 1 {
            failures.push(format!("{}: outputs {first:?} {second:?}", c.name));
            continue;
        }
        if first[0].1 != frame {
            failures.push(format!("{}: the packet within the rate changed", c.name));
        }
        let out = &second[0].1;
        match c.want {
            None => {
                if *out != frame {
                    failures.push(format!("{}: changed", c.name));
                }
            }
            Some(want) => {
                let (dscp, ecn) = dscp_ecn(out);
                if (dscp, ecn) != (want, dscp_ecn(&frame).1) {
                    failures.push(format!("{}: DSCP {dscp} ECN {ecn}, want {want}", c.name));
                }
                // IPv4 header and TCP checksums; TCP only over IPv6.
                let n = frames::verify_checksums(out);
                if n != frames::verify_checksums(&frame) {
                    failures.push(format!("{}: only {n} checksums checked", c.name));
                }
                let mut rest = out.clone();
                rest[14..16].copy_from_slice(&frame[14..16]);
                if frame[12..14] == [0x08, 0x00] {
                    rest[24..26].copy_from_slice(&frame[24..26]);
                }
                if rest != frame {
                    failures.push(format!("{}: more than the DSCP changed", c.name));
                }
            }
        }
        let st = stats(&b, 1);
        if st.band_stats[0].packet_band_count != 1 {
            failures.push(format!("{}: band stats {:?}", c.name, st.band_stats));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Statistics and configuration
// ---------------------------------------------------------------------------

#[test]
fn meter_stats_and_config() {
    let mut b = Bridge::new(3);
    b.meter("meter=1,pktps,burst,stats,band=type=drop,rate=10,burst_size=3");
    b.meter("meter=2,kbps,band=type=drop,rate=1000,type=dscp_remark,rate=500,prec_level=2");
    b.add("priority=2,tcp,actions=meter:1,output:2");
    b.add("priority=1,udp,actions=meter:1,output:3");
    b.add("priority=0,arp,actions=meter:2,output:3");
    b.advance(SEC / 2);
    let (tcp, udp) = (frames::tcp4(), frames::udp4_vlan());
    for _ in 0..3 {
        b.send(1, &tcp);
        b.send(1, &udp);
    }
    b.advance(SEC + 250);
    let st = stats(&b, 1);
    let (t, u) = (tcp.len() as u64, udp.len() as u64);
    assert_eq!(st.meter_id, 1);
    assert_eq!(st.flow_count, 2);
    assert_eq!((st.packet_in_count, st.byte_in_count), (6, 3 * t + 3 * u));
    assert_eq!(
        (st.duration_sec, st.duration_nsec),
        // Millisecond granularity, as Open vSwitch.
        (1, SEC as u32 / 2)
    );
    // Sent at one instant: tcp, udp, tcp pass; udp, tcp, udp are dropped.
    assert_eq!(
        (
            st.band_stats[0].packet_band_count,
            st.band_stats[0].byte_band_count
        ),
        (3, t + 2 * u)
    );
    let st2 = stats(&b, 2);
    assert_eq!((st2.flow_count, st2.packet_in_count), (1, 0));
    assert_eq!(st2.band_stats.len(), 2);
    let ids: Vec<u32> =
        b.p.meter_stats(meter_no::ALL, b.now)
            .iter()
            .map(|s| s.meter_id)
            .collect();
    assert_eq!(ids, vec![1, 2]);
    assert!(b.p.meter_stats(3, b.now).is_empty());

    let cfg = b.p.meter_configs(meter_no::ALL);
    assert_eq!(cfg.len(), 2);
    assert_eq!(
        (cfg[0].meter_id, cfg[0].flags),
        (1, flags::PKTPS | flags::BURST | flags::STATS)
    );
    assert_eq!(
        cfg[0].bands,
        vec![MeterBand::Drop {
            rate: 10,
            burst_size: 3
        }]
    );
    assert_eq!((cfg[1].meter_id, cfg[1].flags), (2, flags::KBPS));
    assert_eq!(
        cfg[1].bands,
        vec![
            MeterBand::Drop {
                rate: 1000,
                burst_size: 0
            },
            MeterBand::DscpRemark {
                rate: 500,
                burst_size: 0,
                prec_level: 2
            }
        ]
    );
    assert_eq!(b.p.meter_configs(2), cfg[1..].to_vec());
}

// ---------------------------------------------------------------------------
// Modify, delete
// ---------------------------------------------------------------------------

#[test]
fn modify_applies_the_new_rate_to_the_next_packet() {
    let mut b = Bridge::new(2);
    b.meter("meter=1,pktps,burst,band=type=drop,rate=10,burst_size=2");
    b.add("priority=1,in_port=1,actions=meter:1,output:2");
    let f = frames::tcp4();
    assert_eq!(offer(&mut b, &f, 5, 0), 2);
    b.meter_mod(
        mc::MODIFY,
        "meter=1,pktps,burst,band=type=drop,rate=100,burst_size=50",
    )
    .expect("mod-meter");
    assert_eq!(offer(&mut b, &f, 60, 0), 50, "bucket of the new burst size");
    b.meter_mod(mc::MODIFY, "meter=1,pktps,band=type=drop,rate=3")
        .expect("mod-meter");
    assert_eq!(
        offer(&mut b, &f, 10, 0),
        3,
        "no burst flag: one second of 3 pps"
    );
    b.advance(SEC);
    assert_eq!(offer(&mut b, &f, 10, 0), 3);
    b.meter_mod(
        mc::MODIFY,
        "meter=1,kbps,burst,band=type=drop,rate=1,burst_size=1",
    )
    .expect("mod-meter");
    assert_eq!(offer(&mut b, &f, 10, 0), 1, "now 1 kbit: one 512-bit frame");
    assert_eq!(b.p.flow_count(), 1, "the flow keeps using the meter");
    let cfg = b.p.meter_configs(1);
    assert_eq!(cfg[0].flags, flags::KBPS | flags::BURST);
    assert_eq!(stats(&b, 1).flow_count, 1);
}

#[test]
fn deleting_a_meter_removes_the_flows_that_use_it() {
    let mut b = Bridge::new(3);
    b.meter("meter=1,pktps,band=type=drop,rate=100");
    b.meter("meter=2,pktps,band=type=drop,rate=100");
    b.add("cookie=0xa,priority=5,tcp,send_flow_rem,actions=meter:1,output:2");
    b.add("cookie=0xb,priority=4,udp,actions=meter:1,output:2");
    b.add("cookie=0xc,table=2,priority=4,send_flow_rem,actions=meter:1,output:2");
    b.add("cookie=0xd,priority=3,arp,send_flow_rem,actions=meter:2,output:3");
    b.add("cookie=0xe,priority=2,icmp,send_flow_rem,actions=output:3");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    b.events.clear();
    b.meter_mod(mc::DELETE, "meter=1").expect("del-meter");
    assert_eq!(
        removed(&b.events),
        vec![
            (0xa, flow_removed_reason::METER_DELETE),
            (0xc, flow_removed_reason::METER_DELETE)
        ],
        "FLOW_REMOVED (reason METER_DELETE) for flows that asked; 0xb goes silently"
    );
    let mut left: Vec<u64> =
        b.p.tables
            .iter()
            .flat_map(|t| t.entries())
            .map(|e| e.cookie)
            .collect();
    left.sort();
    assert_eq!(left, vec![0xd, 0xe]);
    assert!(b.send(1, &frames::tcp4()).is_empty(), "its flow is gone");
    assert!(b.p.meter_configs(1).is_empty());
    assert_eq!(b.ports(1, &frames::arp()), vec![3]);
    // Spec 6.6: deleting a meter that does not exist is not an error.
    b.events.clear();
    b.meter_mod(mc::DELETE, "meter=1").expect("del-meter again");
    assert!(b.events.is_empty());
    // A new meter 1 does not bring the flows back.
    b.meter("meter=1,pktps,band=type=drop,rate=100");
    assert!(b.send(1, &frames::tcp4()).is_empty());
    // del-meters: every meter (OFPM_ALL), and the flows that use one.
    b.meter_mod(mc::DELETE, "").expect("del-meters");
    assert_eq!(
        removed(&b.events),
        vec![(0xd, flow_removed_reason::METER_DELETE)]
    );
    assert!(b.p.meter_configs(meter_no::ALL).is_empty());
    assert_eq!(b.p.flow_count(), 1);
    assert_eq!(b.ports(1, &frames::icmp4()), vec![3]);
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// A METER_MOD: ovs-ofctl text, or a message ovs-ofctl would refuse to
/// build.
enum Req {
    Text(u16, &'static str),
    Raw(MeterMod),
}

fn raw(command: u16, fl: u16, meter_id: u32, bands: Vec<MeterBand>) -> Req {
    Req::Raw(MeterMod {
        command,
        flags: fl,
        meter_id,
        bands,
    })
}

fn drop_band(rate: u32, burst_size: u32) -> MeterBand {
    MeterBand::Drop { rate, burst_size }
}

#[test]
fn meter_mod_errors() {
    struct Case {
        name: &'static str,
        req: Req,
        want: &'static str,
    }
    let seventeen_bands = format!(
        "meter=5,pktps,band={}",
        (1..=17)
            .map(|r| format!("type=drop,rate={r}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let seventeen: &'static str = Box::leak(seventeen_bands.into_boxed_str());
    let cases = vec![
        Case {
            name: "add an existing meter",
            req: Req::Text(mc::ADD, "meter=1,pktps,band=type=drop,rate=5"),
            want: "OFPMMFC_METER_EXISTS",
        },
        Case {
            name: "modify a meter that does not exist",
            req: Req::Text(mc::MODIFY, "meter=9,pktps,band=type=drop,rate=5"),
            want: "OFPMMFC_UNKNOWN_METER",
        },
        Case {
            name: "delete a meter that does not exist: no error (spec 6.6, OVS)",
            req: Req::Text(mc::DELETE, "meter=9"),
            want: "ok",
        },
        Case {
            name: "meter id 0",
            req: raw(mc::ADD, flags::PKTPS, 0, vec![drop_band(5, 0)]),
            want: "OFPMMFC_INVALID_METER",
        },
        Case {
            name: "meter id above OFPM_MAX",
            req: raw(
                mc::ADD,
                flags::PKTPS,
                meter_no::MAX + 1,
                vec![drop_band(5, 0)],
            ),
            want: "OFPMMFC_INVALID_METER",
        },
        Case {
            name: "virtual meter OFPM_CONTROLLER",
            req: Req::Text(mc::ADD, "meter=controller,pktps,band=type=drop,rate=5"),
            want: "OFPMMFC_INVALID_METER",
        },
        Case {
            name: "virtual meter OFPM_SLOWPATH",
            req: Req::Text(mc::ADD, "meter=slowpath,pktps,band=type=drop,rate=5"),
            want: "OFPMMFC_INVALID_METER",
        },
        Case {
            name: "OFPM_MAX is a valid id",
            req: Req::Text(mc::ADD, "meter=4294901760,pktps,band=type=drop,rate=5"),
            want: "ok",
        },
        Case {
            name: "band rate 0",
            req: raw(mc::ADD, flags::PKTPS, 5, vec![drop_band(0, 0)]),
            want: "OFPMMFC_BAD_RATE",
        },
        Case {
            name: "modify to band rate 0",
            req: raw(mc::MODIFY, flags::PKTPS, 1, vec![drop_band(0, 0)]),
            want: "OFPMMFC_BAD_RATE",
        },
        Case {
            name: "both kbps and pktps",
            req: Req::Text(mc::ADD, "meter=5,kbps,pktps,band=type=drop,rate=5"),
            want: "OFPMMFC_BAD_FLAGS",
        },
        Case {
            name: "neither kbps nor pktps",
            req: Req::Text(mc::ADD, "meter=5,stats,band=type=drop,rate=5"),
            want: "OFPMMFC_BAD_FLAGS",
        },
        Case {
            name: "unknown flag bit",
            req: raw(mc::ADD, flags::PKTPS | 0x10, 5, vec![drop_band(5, 0)]),
            want: "OFPMMFC_BAD_FLAGS",
        },
        Case {
            name: "burst flag with burst_size 0",
            req: raw(
                mc::ADD,
                flags::PKTPS | flags::BURST,
                5,
                vec![drop_band(5, 0)],
            ),
            want: "OFPMMFC_BAD_BURST",
        },
        Case {
            name: "dscp_remark with prec_level 0",
            req: raw(
                mc::ADD,
                flags::PKTPS,
                5,
                vec![MeterBand::DscpRemark {
                    rate: 5,
                    burst_size: 0,
                    prec_level: 0,
                }],
            ),
            want: "OFPMMFC_BAD_BAND_VALUE",
        },
        Case {
            name: "experimenter band",
            req: raw(
                mc::ADD,
                flags::PKTPS,
                5,
                vec![MeterBand::Experimenter {
                    rate: 5,
                    burst_size: 0,
                    experimenter: 0x2320,
                    data: vec![],
                }],
            ),
            want: "OFPMMFC_BAD_BAND",
        },
        Case {
            name: "17 bands (16 supported)",
            req: Req::Text(mc::ADD, seventeen),
            want: "OFPMMFC_OUT_OF_BANDS",
        },
        Case {
            name: "unknown command",
            req: raw(7, flags::PKTPS, 5, vec![drop_band(5, 0)]),
            want: "OFPMMFC_BAD_COMMAND",
        },
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let mut b = Bridge::new(2);
        b.meter("meter=1,pktps,burst,band=type=drop,rate=10,burst_size=2");
        b.add("priority=1,in_port=1,actions=meter:1,output:2");
        let before = b.p.meter_configs(meter_no::ALL);
        let r = match &c.req {
            Req::Text(cmd, text) => b.meter_mod(*cmd, text),
            Req::Raw(mm) => b.p.meter_mod(mm, b.now).map(|_| ()),
        };
        let got = err_name(r);
        if got != c.want {
            failures.push(format!("{}: got {got}, want {}", c.name, c.want));
        }
        if c.want != "ok" {
            if b.p.meter_configs(meter_no::ALL) != before || b.p.flow_count() != 1 {
                failures.push(format!("{}: a refused METER_MOD changed state", c.name));
            }
            if offer(&mut b, &frames::tcp4(), 4, 0) != 2 {
                failures.push(format!("{}: metering changed", c.name));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A METER_MOD with no bands is accepted, and the meter passes and counts
/// every packet. The spec (7.3.4.4: the band list "can contain any number
/// of bands"; OFPMMFC_OUT_OF_BANDS is for more bands than supported) does
/// not forbid it, and Open vSwitch accepts it: `handle_meter_mod` in
/// `ofproto/ofproto.c` only refuses `n_bands > max_bands`,
/// `ofputil_pull_bands` (lib/ofp-meter.c) takes an empty list and
/// `dpif_netdev_meter_set` sets up a meter of zero bands. (Only the
/// ovs-ofctl text parser refuses one: "meter must have bands".)
#[test]
fn a_meter_with_no_bands_is_accepted_and_never_drops() {
    let mut b = Bridge::new(2);
    b.p.meter_mod(
        &MeterMod {
            command: mc::ADD,
            flags: flags::PKTPS | flags::STATS,
            meter_id: 3,
            bands: vec![],
        },
        b.now,
    )
    .expect("a band-less meter is accepted");
    b.add("priority=1,in_port=1,actions=meter:3,output:2");
    assert_eq!(offer(&mut b, &frames::tcp4(), 100, 0), 100);
    let st = stats(&b, 3);
    assert_eq!((st.packet_in_count, st.band_stats.len()), (100, 0));
}

#[test]
fn flows_may_not_reference_a_missing_meter() {
    // Spec 6.4 / 7.3.4.4: OFPET_METER_MOD_FAILED, OFPMMFC_UNKNOWN_METER.
    let mut b = Bridge::new(2);
    b.meter("meter=1,pktps,band=type=drop,rate=10");
    assert_eq!(
        err_name(b.try_add("priority=1,actions=meter:2,output:2")),
        "OFPMMFC_UNKNOWN_METER"
    );
    assert_eq!(b.p.flow_count(), 0);
    b.add("priority=1,actions=meter:1,output:2");
    // MODIFY to an unknown meter is refused too and changes nothing.
    assert_eq!(
        err_name(b.flow_mod(
            openflow::messages::flow_mod_command::MODIFY,
            "actions=meter:3,output:2"
        )),
        "OFPMMFC_UNKNOWN_METER"
    );
    assert_eq!(stats(&b, 1).flow_count, 1);
}
