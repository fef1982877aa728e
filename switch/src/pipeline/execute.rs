//! Running a [`Program`] on one packet: header edits, meters, counters,
//! NORMAL decisions, and the resulting outputs and packet-ins.

use super::cache::MicroflowCache;
use super::meter::MeterVerdict;
use super::normal::normal;
use super::ports::StpGate;
use super::state::Pipeline;
use super::xlate::{extract, extract_into, ControllerOp, Op, PacketMeta, Program};
use crate::flow_key::{off, FlowKey};
use crate::packet::{self, EditError, Layout};
use openflow::messages::{packet_in_reason, PacketIn};
use openflow::oxm::Oxm;
use openflow::types::{eth_type, vlan, NO_BUFFER};
use openflow::{Action, Match};
use std::sync::atomic::Ordering::Relaxed;

/// The most packet bytes a PACKET_IN can carry and stay under the 64 KiB
/// message limit with room for its header and match.
pub const MAX_PACKET_IN_DATA: usize = 65_535 - 1024;

/// Cuts a packet-in's data to what one OpenFlow message holds
/// ([`MAX_PACKET_IN_DATA`]); `total_len` keeps the frame's length.
pub fn clip_packet_in(pi: &mut PacketIn) {
    pi.data.truncate(MAX_PACKET_IN_DATA);
}

/// What the pipeline does with a packet: each output is a frame for a port
/// (or a tunnel), each packet-in a message for the controllers.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Output {
        port: u32,
        /// The queue set by set_queue, if any.
        queue: Option<u32>,
        /// The tunnel id for tunnel ports (set_field tunnel_id).
        tunnel_id: u64,
        frame: Vec<u8>,
    },
    PacketIn(PacketIn),
    /// A frame for spanning tree (sent to the bridge group address while
    /// [`Pipeline::stp`] is on), received on `port`.
    Bpdu {
        port: u32,
        frame: Vec<u8>,
    },
}

/// Whether processing goes on after an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// One packet being run.
struct Run<'a> {
    p: &'a Pipeline,
    now: u64,
    out: &'a mut Vec<Outcome>,
    /// Table id and cookie of the flow entry whose actions are running
    /// (for OFPR_INVALID_TTL packet-ins); none for packet-out actions.
    flow: Option<(u8, u64)>,
}

/// The packet state a program works on.
#[derive(Clone)]
struct PacketState {
    frame: Vec<u8>,
    key: FlowKey,
    layout: Layout,
    queue: Option<u32>,
}

impl PacketState {
    /// The packet, its frame taken (for the last op that uses it).
    fn take(&mut self) -> PacketState {
        PacketState {
            frame: std::mem::take(&mut self.frame),
            ..*self
        }
    }
}

impl Run<'_> {
    /// Runs `ops` on `pkt`, which nothing reads afterwards: the last op
    /// that uses the frame may take it (an output hands the frame itself
    /// to its port instead of a copy: a TSO frame is 64 KiB).
    fn run(&mut self, ops: &[Op], pkt: &mut PacketState) -> Flow {
        let last_use = ops.iter().rposition(uses_frame);
        for (i, op) in ops.iter().enumerate() {
            if self.step(op, pkt, Some(i) == last_use) == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// One op; `last`: no later op uses the frame, so it may be taken.
    fn step(&mut self, op: &Op, pkt: &mut PacketState, last: bool) -> Flow {
        match op {
            Op::Table {
                counters, matched, ..
            } => {
                counters.lookups.fetch_add(1, Relaxed);
                if *matched {
                    counters.matched.fetch_add(1, Relaxed);
                }
            }
            Op::Flow(e) => {
                self.flow = Some((e.table_id, e.cookie));
                e.counters.hit(pkt.frame.len(), self.now)
            }
            Op::Meter(m) => match m.apply(pkt.frame.len(), self.now) {
                MeterVerdict::Pass => {}
                MeterVerdict::Drop => return Flow::Stop,
                MeterVerdict::Remark(levels) => remark_dscp(pkt, levels),
            },
            Op::Group(g, bucket) => {
                g.counters.hit(pkt.frame.len(), self.now);
                if let Some(c) = bucket.and_then(|i| g.bucket_counters.get(i)) {
                    c.hit(pkt.frame.len(), self.now);
                }
            }
            Op::Bucket(g, i) => {
                if let Some(c) = g.bucket_counters.get(*i) {
                    c.hit(pkt.frame.len(), self.now);
                }
            }
            Op::Edit(a) => match packet::apply(&mut pkt.frame, &mut pkt.key, &mut pkt.layout, a) {
                Ok(()) => {}
                Err(EditError::InvalidTtl) => {
                    // OFPPC_NO_PACKET_IN on the input port silences this
                    // packet-in too, as it does output:CONTROLLER (xlate).
                    let no_packet_in = self
                        .p
                        .ports
                        .get(&pkt.key.in_port())
                        .is_some_and(|i| i.config & openflow::port::config::NO_PACKET_IN != 0);
                    if self.p.invalid_ttl_to_controller && !no_packet_in {
                        // The entry whose action found the TTL expired
                        // (spec 7.4.1; Open vSwitch reports it too).
                        let (table_id, cookie) = self.flow.unwrap_or((0xff, u64::MAX));
                        self.packet_in(
                            pkt,
                            &ControllerOp {
                                max_len: self.p.miss_send_len,
                                reason: packet_in_reason::INVALID_TTL,
                                table_id,
                                cookie,
                                match_: Match {
                                    fields: vec![Oxm::InPort(pkt.key.in_port())],
                                },
                            },
                        );
                    }
                    return Flow::Stop;
                }
            },
            Op::Output { port, tunnel_id } => {
                self.count_tx(*port, pkt.frame.len());
                let frame = if last {
                    std::mem::take(&mut pkt.frame)
                } else {
                    pkt.frame.clone()
                };
                self.out.push(Outcome::Output {
                    port: *port,
                    queue: pkt.queue,
                    tunnel_id: *tunnel_id,
                    frame,
                })
            }
            Op::Controller(c) => self.packet_in(pkt, c),
            Op::Normal {
                in_port,
                src,
                dst,
                vid,
                tunnel_id,
            } => {
                let outs = normal(
                    &self.p.ports,
                    &self.p.mac_table,
                    *in_port,
                    *src,
                    *dst,
                    *vid,
                    self.now,
                );
                let n = outs.len();
                for (i, o) in outs.into_iter().enumerate() {
                    let mut copy = if last && i + 1 == n {
                        pkt.take()
                    } else {
                        pkt.clone()
                    };
                    retag(&mut copy, o.vlan);
                    self.count_tx(o.port, copy.frame.len());
                    self.out.push(Outcome::Output {
                        port: o.port,
                        queue: copy.queue,
                        tunnel_id: *tunnel_id,
                        frame: copy.frame,
                    });
                }
            }
            Op::Queue(q) => pkt.queue = Some(*q),
            Op::Fork(ops) => {
                let mut copy = if last { pkt.take() } else { pkt.clone() };
                if self.run(ops, &mut copy) == Flow::Stop {
                    // A bucket that dropped its copy does not stop the
                    // other buckets or the original packet.
                }
            }
        }
        Flow::Continue
    }

    fn count_tx(&self, port: u32, bytes: usize) {
        if let Some(p) = self.p.ports.get(&port) {
            p.counters.tx(bytes);
        }
    }

    /// A packet-in carries the whole packet, whatever max_len or
    /// miss_send_len say: the switch buffers nothing (buffer_id is always
    /// OFP_NO_BUFFER), and an unbuffered packet-in carries the entire
    /// packet. Open vSwitch 3.1 does the same (a `CONTROLLER:64` flow
    /// gets the full frame; see the packet_in fixtures of the openflow
    /// crate). The frame stays whole here, even past what one OpenFlow
    /// message holds: a GSO super-segment is cut into the segments it
    /// stands for on its way out of the datapath, and only a frame still
    /// too big is clipped, where the message is made ([`clip_packet_in`]).
    fn packet_in(&mut self, pkt: &PacketState, c: &ControllerOp) {
        self.out.push(Outcome::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: pkt.frame.len().min(usize::from(u16::MAX)) as u16,
            reason: c.reason,
            table_id: c.table_id,
            cookie: c.cookie,
            match_: c.match_.clone(),
            data: pkt.frame.clone(),
        }));
    }
}

/// Whether an op reads the packet's frame (its bytes or its length):
/// after the last one that does, the frame may be taken.
fn uses_frame(op: &Op) -> bool {
    !matches!(op, Op::Table { .. } | Op::Queue(_))
}

/// Gives a frame the outer VLAN tag NORMAL chose for a port (`None`:
/// untagged).
fn retag(pkt: &mut PacketState, want: Option<u16>) {
    let vid = pkt.key.vlan_vid();
    let tagged = vid & vlan::PRESENT != 0;
    let edits: Vec<Action> = match (tagged, want) {
        (true, None) => vec![Action::PopVlan],
        (false, Some(v)) => vec![
            Action::PushVlan(eth_type::VLAN),
            Action::SetField(Oxm::VlanVid(v | vlan::PRESENT, None)),
        ],
        (true, Some(v)) if vid & 0x0fff != v => {
            vec![Action::SetField(Oxm::VlanVid(v | vlan::PRESENT, None))]
        }
        _ => Vec::new(),
    };
    for a in &edits {
        let _ = packet::apply(&mut pkt.frame, &mut pkt.key, &mut pkt.layout, a);
    }
}

/// A DSCP remark meter band: raise the drop precedence (the middle bits of
/// an AF class) by `levels`, as RFC 2597 and Open vSwitch do.
fn remark_dscp(pkt: &mut PacketState, levels: u8) {
    let et = pkt.key.eth_type();
    if et != eth_type::IPV4 && et != eth_type::IPV6 {
        return;
    }
    let dscp = pkt.key.u8_at(off::IP_DSCP);
    let prec = (dscp >> 1) & 0x3;
    let new_prec = (prec + levels).min(3);
    let new = (dscp & !0x6) | (new_prec << 1);
    let a = Action::SetField(Oxm::IpDscp(new));
    let _ = packet::apply(&mut pkt.frame, &mut pkt.key, &mut pkt.layout, &a);
}

impl Pipeline {
    /// Runs a translated program on a packet, appending what results.
    pub fn execute(
        &self,
        prog: &Program,
        frame: Vec<u8>,
        key: FlowKey,
        layout: Layout,
        now: u64,
        out: &mut Vec<Outcome>,
    ) {
        let mut pkt = PacketState {
            frame,
            key,
            layout,
            queue: None,
        };
        let mut run = Run {
            p: self,
            now,
            out,
            flow: None,
        };
        run.run(&prog.ops, &mut pkt);
    }

    /// Processes a packet received on a port: looks its microflow up in
    /// `cache` (translating on a miss) and runs the program.
    pub fn process(
        &self,
        cache: &mut MicroflowCache,
        frame: Vec<u8>,
        meta: PacketMeta,
        now: u64,
        out: &mut Vec<Outcome>,
    ) {
        let mut gate = StpGate::Off;
        if let Some(p) = self.ports.get(&meta.in_port) {
            if !p.can_receive() {
                p.counters.rx_dropped.fetch_add(1, Relaxed);
                return;
            }
            p.counters.rx(frame.len());
            gate = p.stp;
        }
        if self.stp && crate::stp::is_bpdu_frame(&frame) {
            out.push(Outcome::Bpdu {
                port: meta.in_port,
                frame,
            });
            return;
        }
        // Spanning tree: a port that does not learn takes nothing in; a
        // learning port lets the tables (NORMAL) learn, and its packet goes
        // nowhere (as Open vSwitch cancels the actions).
        if !gate.learns() {
            return;
        }
        let mut key = FlowKey::ZERO;
        let layout = extract_into(&frame, meta, &mut key);
        let prog = cache.get_or_translate(self, &frame, &key, &layout, now);
        if gate.forwards() {
            self.execute(prog, frame, key, layout, now, out);
        } else {
            self.execute(prog, frame, key, layout, now, &mut Vec::new());
        }
    }

    /// Processes a packet without a cache (packet-outs, tests).
    pub fn process_uncached(&self, frame: Vec<u8>, meta: PacketMeta, now: u64) -> Vec<Outcome> {
        let (key, layout) = extract(&frame, meta);
        let prog = self.translate(&frame, &key, &layout, 0, now);
        let mut out = Vec::new();
        self.execute(&prog, frame, key, layout, now, &mut out);
        out
    }

    /// Runs a PACKET_OUT's actions on `frame` as if it came from `in_port`.
    pub fn packet_out(
        &self,
        frame: Vec<u8>,
        in_port: u32,
        actions: &[Action],
        now: u64,
    ) -> Vec<Outcome> {
        let prog = self.translate_actions(&frame, in_port, actions, now);
        let (key, layout) = extract(&frame, PacketMeta::port(in_port));
        let mut out = Vec::new();
        self.execute(&prog, frame, key, layout, now, &mut out);
        out
    }
}
