//! Packet layer costs: parsing a frame into a flow key, and the two kinds
//! of edits (in place with incremental checksums; structural with a
//! re-parse). Run with `cargo bench -p ofswitch --bench packet`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use ofswitch::flow_key::FlowKey;
use ofswitch::packet::{apply, parse};
use openflow::action::Action;
use openflow::oxm::Oxm;
use std::net::Ipv4Addr;

const SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// 64 bytes: Ethernet, IPv4, TCP, 10 bytes of data.
fn tcp4() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(1234, 80, 1, 1000);
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789").unwrap();
    assert_eq!(v.len(), 64);
    v
}

/// VLAN 100, IPv4, UDP, 18 bytes of data (64 bytes).
fn udp4_vlan() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .single_vlan(100.try_into().unwrap())
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(5353, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[0u8; 14]).unwrap();
    v
}

/// IPv6 TCP (74 bytes + data).
fn tcp6() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC, DST)
        .ipv6([1; 16], [2; 16], 64)
        .tcp(1234, 80, 1, 1000);
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789").unwrap();
    v
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    for (name, f) in [
        ("tcp4_64B", tcp4()),
        ("vlan_udp4_64B", udp4_vlan()),
        ("tcp6", tcp6()),
    ] {
        g.bench_function(name, |b| {
            let mut k = FlowKey::ZERO;
            b.iter(|| parse(black_box(&f), &mut k))
        });
    }
    g.finish();
}

fn bench_apply(c: &mut Criterion) {
    let mut g = c.benchmark_group("apply");
    g.throughput(Throughput::Elements(2));
    let pairs: [(&str, Vec<u8>, Action, Action); 5] = [
        (
            "set_ipv4_dst_x2",
            tcp4(),
            Action::SetField(Oxm::Ipv4Dst(Ipv4Addr::new(192, 168, 1, 1), None)),
            Action::SetField(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)),
        ),
        (
            "set_tcp_dst_x2",
            tcp4(),
            Action::SetField(Oxm::TcpDst(8080, None)),
            Action::SetField(Oxm::TcpDst(80, None)),
        ),
        (
            "set_dec_nw_ttl",
            tcp4(),
            Action::SetNwTtl(64),
            Action::DecNwTtl,
        ),
        (
            "push_pop_vlan",
            tcp4(),
            Action::PushVlan(0x8100),
            Action::PopVlan,
        ),
        (
            "push_pop_mpls",
            tcp4(),
            Action::PushMpls(0x8847),
            Action::PopMpls(0x0800),
        ),
    ];
    for (name, f, a, b2) in pairs {
        g.bench_function(name, |b| {
            let mut f = f.clone();
            f.reserve(64);
            let mut k = FlowKey::ZERO;
            let mut l = parse(&f, &mut k);
            b.iter(|| {
                let _ = apply(&mut f, &mut k, &mut l, black_box(&a));
                let _ = apply(&mut f, &mut k, &mut l, black_box(&b2));
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_parse, bench_apply);
criterion_main!(benches);
