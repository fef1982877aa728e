//! Pipeline benchmarks: lookup cost per packet with 1, 1,000 and 100,000
//! flows spread over 4 tables and 10 distinct masks (microflow cache hit,
//! and a miss that runs the classifiers), FLOW_MOD insert rate, and memory
//! per flow (measured with a counting allocator, printed before the
//! criterion runs).
//!
//! Run: `cargo bench -p ofswitch --bench pipeline`.

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use ofswitch::flow_key::FlowKey;
use ofswitch::pipeline::ports::PortInfo;
use ofswitch::pipeline::xlate::{extract, extract_into};
use ofswitch::pipeline::{MicroflowCache, PacketMeta, Pipeline, SharedPipeline};
use openflow::instruction::Instruction;
use openflow::messages::FlowMod;
use openflow::types::{eth_type, MacAddr};
use openflow::{Action, Match, Oxm};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

/// Counts live heap bytes.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn out(port: u32) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(vec![Action::Output {
        port,
        max_len: 0,
    }])]
}

fn ip(a: u32) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

/// The i-th flow: table, priority, match and instructions, cycling through
/// 10 match shapes (distinct masks) over tables 0..4.
fn flow(i: u32) -> FlowMod {
    let v = i / 10;
    let ipv4 = Oxm::EthType(eth_type::IPV4);
    let (table, fields, instructions): (u8, Vec<Oxm>, Vec<Instruction>) = match i % 10 {
        0 => (
            0,
            vec![Oxm::InPort(1000 + v)],
            vec![Instruction::GotoTable(1)],
        ),
        1 => (
            0,
            vec![
                Oxm::InPort(1000 + v),
                Oxm::VlanVid(0x1000 | (v % 4000) as u16, None),
            ],
            vec![Instruction::GotoTable(1)],
        ),
        2 => (
            1,
            vec![Oxm::EthDst(mac(v), None)],
            vec![Instruction::GotoTable(2)],
        ),
        3 => (
            1,
            vec![
                Oxm::VlanVid(0x1000 | (v % 4000) as u16, None),
                Oxm::EthDst(mac(v), None),
            ],
            vec![Instruction::GotoTable(2)],
        ),
        4 => (
            2,
            vec![ipv4.clone(), Oxm::Ipv4Dst(ip(0x0a00_0000 + v), None)],
            vec![Instruction::GotoTable(3)],
        ),
        5 => (
            2,
            vec![
                ipv4.clone(),
                Oxm::Ipv4Dst(ip(0x0b00_0000 + (v << 8)), Some(ip(0xffff_ff00))),
            ],
            vec![Instruction::GotoTable(3)],
        ),
        6 => (
            2,
            vec![
                ipv4.clone(),
                Oxm::Ipv4Src(ip(0x0c00_0000 + (v << 16)), Some(ip(0xffff_0000))),
            ],
            vec![Instruction::GotoTable(3)],
        ),
        7 => (
            3,
            vec![ipv4.clone(), Oxm::IpProto(6), Oxm::TcpDst(v as u16, None)],
            out(2),
        ),
        8 => (
            3,
            vec![ipv4.clone(), Oxm::IpProto(17), Oxm::UdpDst(v as u16, None)],
            out(2),
        ),
        _ => (
            3,
            vec![Oxm::TunnelId(u64::from(v), None), Oxm::EthDst(mac(v), None)],
            out(3),
        ),
    };
    FlowMod {
        table_id: table,
        priority: 100 + (i % 10) as u16,
        match_: Match { fields },
        instructions,
        ..FlowMod::default()
    }
}

fn mac(v: u32) -> MacAddr {
    let b = v.to_be_bytes();
    MacAddr([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// A pipeline with `n` flows plus a table-miss entry in each of the 4
/// tables (miss → next table, last table → output 1).
fn pipeline(n: u32) -> Pipeline {
    let mut p = Pipeline::new();
    for port in [1, 2, 3] {
        p.set_port(PortInfo::new(port));
    }
    for t in 0..4u8 {
        let instructions = if t < 3 {
            vec![Instruction::GotoTable(t + 1)]
        } else {
            out(1)
        };
        let fm = FlowMod {
            table_id: t,
            priority: 0,
            instructions,
            ..FlowMod::default()
        };
        p.flow_mod(&fm, 0).expect("table-miss flow");
    }
    for i in 0..n.saturating_sub(4) {
        p.flow_mod(&flow(i), 0).expect("bench flow");
    }
    p
}

/// A 64-byte TCP/IPv4 frame from port 1 that walks all four tables.
fn frame(i: u16) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 7, 0x02, 0, 0, 0, 0, 9, 0x08, 0x00, // Ethernet
        0x45, 0, 0, 50, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
    ];
    f.extend(i.to_be_bytes());
    f.extend([
        0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f.resize(64, 0);
    f
}

fn memory_per_flow() {
    let n = 100_000u32;
    let before = LIVE.load(Relaxed);
    let p = pipeline(n);
    let after = LIVE.load(Relaxed);
    let per = (after - before) as f64 / f64::from(n);
    println!(
        "memory: {n} flows over 4 tables, {} subtables in table 3: {:.0} bytes per flow (target <= 400)",
        p.tables[3].classifier.subtable_count(),
        per
    );
    black_box(p);
}

fn lookups(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    for n in [1u32, 1_000, 100_000] {
        let p = pipeline(n.max(4));
        let meta = PacketMeta::port(1);
        let pkts: Vec<Vec<u8>> = (0..256).map(frame).collect();

        // Hit: parse + exact-match cache lookup of a packet seen before.
        let mut cache = MicroflowCache::default();
        for f in &pkts {
            let (k, l) = extract(f, meta);
            cache.get_or_translate(&p, f, &k, &l, 0);
        }
        let mut i = 0usize;
        let mut key = FlowKey::ZERO;
        g.bench_with_input(BenchmarkId::new("cache_hit", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 255;
                let f = &pkts[i];
                let l = extract_into(f, meta, &mut key);
                black_box(cache.get_or_translate(&p, f, &key, &l, 0));
            })
        });

        // Miss: parse + the classifiers of all 4 tables + building the
        // program (what a new microflow costs).
        g.bench_with_input(BenchmarkId::new("cache_miss", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 255;
                let f = &pkts[i];
                let (k, l) = extract(f, meta);
                black_box(p.translate(f, &k, &l, 0, 0));
            })
        });

        // The whole per-packet path on a hit: parse, cache, counters,
        // output frame.
        let mut outs = Vec::with_capacity(4);
        g.bench_with_input(BenchmarkId::new("process_hit", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 255;
                outs.clear();
                p.process(&mut cache, pkts[i].clone(), meta, 0, &mut outs);
                black_box(&outs);
            })
        });
    }
    g.finish();
}

fn inserts(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_mod");
    let n = 10_000u32;
    g.throughput(Throughput::Elements(u64::from(n)));
    g.sample_size(10);
    let flows: Vec<FlowMod> = (0..n).map(flow).collect();
    g.bench_function("insert_10k", |b| {
        b.iter_batched(
            || pipeline(4),
            |mut p| {
                for fm in &flows {
                    let _ = p.flow_mod(fm, 0);
                }
                p
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// What a learning controller does through the daemon: one FLOW_MOD, then
/// a publish (the daemon publishes after each read of the channel, and the
/// controller waits for a BARRIER before it sends more). Each iteration
/// adds one flow and publishes, then deletes it strictly and publishes, so
/// the table keeps its size; the time should not depend on that size.
fn published_changes(c: &mut Criterion) {
    let mut g = c.benchmark_group("flow_mod_published");
    g.throughput(Throughput::Elements(2));
    for n in [1_000u32, 100_000] {
        let mut p = pipeline(n);
        let shared = SharedPipeline::new(&p);
        let extra: Vec<(FlowMod, FlowMod)> = (n..n + 1_000)
            .map(|i| {
                let add = flow(i);
                let mut del = add.clone();
                del.command = openflow::messages::flow_mod_command::DELETE_STRICT;
                (add, del)
            })
            .collect();
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("add_then_delete", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) % extra.len();
                let (add, del) = &extra[i];
                let _ = p.flow_mod(add, 0);
                shared.publish(&p);
                let _ = p.flow_mod(del, 0);
                shared.publish(&p);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, lookups, inserts, published_changes);

fn main() {
    memory_per_flow();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
