//! Decode and encode cost of the messages a switch and controller handle most:
//! FLOW_MOD, PACKET_IN, and a flow stats reply of 10,000 entries (split into
//! messages below the 64 KiB limit, as a switch must send it).
//!
//! Run: `cargo bench -p openflow --bench codec`. Figures: BENCHMARKS.md.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use openflow::instruction::Instruction;
use openflow::messages::{packet_in_reason, FlowMod, PacketIn};
use openflow::multipart::{FlowStats, MultipartReply, MultipartReplyBody, MORE};
use openflow::{Action, Body, Match, Message, Oxm};
use std::hint::black_box;
use std::net::Ipv4Addr;

/// A FLOW_MOD like the ones learning switches and Faucet send: five match
/// fields, an apply-actions list with a set_field and an output, a goto.
fn typical_flow_mod(i: u32) -> Message {
    let m = Match::new()
        .with(Oxm::InPort(1 + i % 48))
        .with(Oxm::EthDst(
            openflow::MacAddr([0, 0, 0, 0, (i >> 8) as u8, i as u8]),
            None,
        ))
        .with(Oxm::EthType(0x0800))
        .with(Oxm::IpProto(6))
        .with(Oxm::Ipv4Dst(
            Ipv4Addr::from(0x0a00_0000 | i),
            Some(Ipv4Addr::new(255, 255, 255, 0)),
        ))
        .with(Oxm::TcpDst(80, None));
    Message::new(
        i,
        Body::FlowMod(FlowMod {
            table_id: 1,
            priority: 100,
            idle_timeout: 60,
            match_: m,
            instructions: vec![
                Instruction::ApplyActions(vec![
                    Action::SetField(Oxm::VlanVid(0x1000 | 10, None)),
                    Action::output(2),
                ]),
                Instruction::GotoTable(2),
            ],
            ..FlowMod::default()
        }),
    )
}

fn packet_in(len: usize) -> Message {
    Message::new(
        7,
        Body::PacketIn(PacketIn {
            buffer_id: openflow::types::NO_BUFFER,
            total_len: len as u16,
            reason: packet_in_reason::NO_MATCH,
            table_id: 0,
            cookie: 0,
            match_: Match::new().with(Oxm::InPort(3)),
            data: vec![0xab; len],
        }),
    )
}

/// The flow stats reply for `n` flows, cut into messages below 64 KiB.
fn flow_stats_reply(n: u32) -> Vec<u8> {
    let entries: Vec<FlowStats> = (0..n)
        .map(|i| {
            let Body::FlowMod(fm) = typical_flow_mod(i).body else {
                unreachable!()
            };
            FlowStats {
                table_id: fm.table_id,
                duration_sec: i,
                duration_nsec: 0,
                priority: fm.priority,
                idle_timeout: fm.idle_timeout,
                hard_timeout: 0,
                flags: 0,
                cookie: u64::from(i),
                packet_count: 10,
                byte_count: 1000,
                match_: fm.match_,
                instructions: fm.instructions,
            }
        })
        .collect();
    let mut out = BytesMut::new();
    let mut part = Vec::new();
    let mut part_len = 16;
    for (i, e) in entries.iter().enumerate() {
        part_len += e.wire_len();
        part.push(e.clone());
        let last = i + 1 == entries.len();
        if part_len > 60_000 || last {
            let reply = MultipartReply {
                flags: if last { 0 } else { MORE },
                body: MultipartReplyBody::Flow(std::mem::take(&mut part)),
            };
            Message::new(1, Body::MultipartReply(reply)).encode(&mut out);
            part_len = 16;
        }
    }
    out.to_vec()
}

fn split(stream: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    let mut rest = stream;
    while rest.len() >= 8 {
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        v.push(&rest[..len]);
        rest = &rest[len..];
    }
    v
}

fn bench(c: &mut Criterion) {
    let fm = typical_flow_mod(42);
    let fm_bytes = fm.to_bytes();
    let mut g = c.benchmark_group("flow_mod");
    g.throughput(Throughput::Bytes(fm_bytes.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&fm_bytes)))
    });
    let mut buf = BytesMut::with_capacity(4096);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&fm).encode(&mut buf)
        })
    });
    g.finish();

    let pi = packet_in(128);
    let pi_bytes = pi.to_bytes();
    let mut g = c.benchmark_group("packet_in_128B");
    g.throughput(Throughput::Bytes(pi_bytes.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&pi_bytes)))
    });
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(&pi).encode(&mut buf)
        })
    });
    g.finish();

    let stream = flow_stats_reply(10_000);
    let parts = split(&stream);
    let decoded: Vec<Message> = parts
        .iter()
        .filter_map(|p| Message::decode(p).ok())
        .collect();
    assert_eq!(decoded.len(), parts.len());
    let mut g = c.benchmark_group("flow_stats_reply_10000");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| {
            for p in &parts {
                black_box(Message::decode(p).ok());
            }
        })
    });
    let mut big = BytesMut::with_capacity(stream.len() + 1024);
    g.bench_function("encode", |b| {
        b.iter(|| {
            big.clear();
            for m in &decoded {
                m.encode(&mut big);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
