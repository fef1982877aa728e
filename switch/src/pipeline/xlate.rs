//! Translation: running a packet through the flow tables once and writing
//! down what must happen to every packet of the same microflow as a
//! [`Program`] of simple operations.
//!
//! Why: a packet's path through the tables (which entries match, which
//! group buckets are chosen, where outputs go) depends only on its flow key
//! and on the pipeline version, so it can be worked out once per microflow
//! and replayed for the following packets ([`super::cache`]). What depends
//! on the packet or on time stays in the program as operations run per
//! packet: header edits (TTLs, checksums), meters, NORMAL's MAC learning and
//! lookup, counters.
//!
//! Header edits are also applied during translation to a working copy of
//! the first packet, so that later tables match on the modified fields as
//! the spec requires (apply-actions changes are visible to the next table).

use super::flow_entry::FlowEntry;
use super::group::Group;
use super::meter::Meter;
use super::state::Pipeline;
use super::table::TableCounters;
use crate::flow_key::{off, FlowKey};
use crate::packet::{self, Layout};
use openflow::group::group_type;
use openflow::instruction::Instruction;
use openflow::messages::packet_in_reason;
use openflow::oxm::Oxm;
use openflow::types::{port_no, vlan::PRESENT as OFPVID_PRESENT, MacAddr};
use openflow::{Action, Match};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Deepest nesting of groups and TABLE outputs followed.
const MAX_DEPTH: u32 = 32;
/// Most operations in one program (a runaway FLOOD-into-ALL-groups guard).
const MAX_OPS: usize = 4096;

/// One step of a [`Program`].
#[derive(Clone, Debug)]
pub enum Op {
    /// A table was looked up (and matched or not).
    Table {
        table_id: u8,
        counters: Arc<TableCounters>,
        matched: bool,
    },
    /// A flow entry matched: count the packet.
    Flow(Arc<FlowEntry>),
    /// A meter: the packet may be dropped here.
    Meter(Arc<Meter>),
    /// A group processed the packet (group counters; the bucket taken, if
    /// any, is counted by [`Op::Bucket`]).
    Group(Arc<Group>, Option<usize>),
    /// A group bucket ran on (a copy of) the packet (bucket counters).
    Bucket(Arc<Group>, usize),
    /// A header edit.
    Edit(Action),
    /// Send the packet as it is now.
    Output { port: u32, tunnel_id: u64 },
    /// Send to the controller.
    Controller(ControllerOp),
    /// NORMAL forwarding, decided per packet from the MAC table.
    Normal {
        in_port: u32,
        src: MacAddr,
        dst: MacAddr,
        vid: Option<u16>,
        tunnel_id: u64,
    },
    /// Set the queue of later outputs.
    Queue(u32),
    /// Run these on a copy of the packet (group buckets).
    Fork(Vec<Op>),
}

/// A packet-in to produce.
#[derive(Clone, Debug)]
pub struct ControllerOp {
    pub max_len: u16,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    /// Pipeline fields of the packet-in match (in_port, metadata, tunnel).
    pub match_: Match,
}

/// What happens to every packet of one microflow.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub ops: Vec<Op>,
}

/// Where a packet came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    pub in_port: u32,
    pub in_phy_port: u32,
    pub tunnel_id: u64,
}

impl PacketMeta {
    pub fn port(in_port: u32) -> PacketMeta {
        PacketMeta {
            in_port,
            in_phy_port: in_port,
            tunnel_id: 0,
        }
    }
}

/// Builds the flow key of a frame, and its header layout.
#[inline]
pub fn extract(frame: &[u8], meta: PacketMeta) -> (FlowKey, Layout) {
    let mut key = FlowKey::ZERO;
    let layout = extract_into(frame, meta, &mut key);
    (key, layout)
}

/// [`extract`] into a key the caller owns (whatever it held before), so
/// the per-packet path does not copy the 144-byte key around.
#[inline]
pub fn extract_into(frame: &[u8], meta: PacketMeta, key: &mut FlowKey) -> Layout {
    key.set_u32(off::IN_PORT, meta.in_port);
    key.set_u32(off::IN_PHY_PORT, meta.in_phy_port);
    key.set_u64(off::TUNNEL_ID, meta.tunnel_id);
    key.set_u64(off::METADATA, 0);
    packet::parse(frame, key)
}

/// The action set (spec 5.10): at most one action of each kind, one
/// set_field per field, applied in the spec's order at the end.
#[derive(Clone, Debug, Default)]
struct ActionSet {
    copy_ttl_in: bool,
    pop: Option<Action>,
    push_mpls: Option<Action>,
    push_pbb: Option<Action>,
    push_vlan: Option<Action>,
    copy_ttl_out: bool,
    dec_ttl: Vec<Action>,
    set: BTreeMap<u16, Action>,
    queue: Option<u32>,
    group: Option<u32>,
    output: Option<Action>,
}

impl ActionSet {
    fn write(&mut self, a: &Action) {
        match a {
            Action::CopyTtlIn => self.copy_ttl_in = true,
            Action::CopyTtlOut => self.copy_ttl_out = true,
            Action::PopVlan | Action::PopMpls(_) | Action::PopPbb => self.pop = Some(a.clone()),
            Action::PushMpls(_) => self.push_mpls = Some(a.clone()),
            Action::PushPbb(_) => self.push_pbb = Some(a.clone()),
            Action::PushVlan(_) => self.push_vlan = Some(a.clone()),
            Action::DecMplsTtl | Action::DecNwTtl => {
                self.dec_ttl.retain(|x| x != a);
                self.dec_ttl.push(a.clone());
            }
            // One entry per set_field field, and one each for the TTL sets.
            Action::SetField(oxm) => {
                let slot = oxm.field().map_or(0xffff, |f| f as u16);
                self.set.insert(slot, a.clone());
            }
            Action::SetMplsTtl(_) => {
                self.set.insert(0x1_00, a.clone());
            }
            Action::SetNwTtl(_) => {
                self.set.insert(0x1_01, a.clone());
            }
            Action::SetQueue(q) => self.queue = Some(*q),
            Action::Group(g) => self.group = Some(*g),
            Action::Output { .. } => self.output = Some(a.clone()),
            Action::Experimenter { .. } => {}
        }
    }

    /// The actions in execution order.
    fn ordered(&self) -> Vec<Action> {
        let mut v = Vec::new();
        if self.copy_ttl_in {
            v.push(Action::CopyTtlIn);
        }
        v.extend(self.pop.clone());
        v.extend(self.push_mpls.clone());
        v.extend(self.push_pbb.clone());
        v.extend(self.push_vlan.clone());
        if self.copy_ttl_out {
            v.push(Action::CopyTtlOut);
        }
        v.extend(self.dec_ttl.iter().cloned());
        v.extend(self.set.values().cloned());
        if let Some(q) = self.queue {
            v.push(Action::SetQueue(q));
        }
        // With a group, the output action is ignored (spec 5.10).
        if let Some(g) = self.group {
            v.push(Action::Group(g));
        } else {
            v.extend(self.output.clone());
        }
        v
    }
}

/// Rank of an instruction in the spec's execution order (5.9).
fn instruction_rank(i: &Instruction) -> u8 {
    match i {
        Instruction::Meter(_) => 0,
        Instruction::ApplyActions(_) => 1,
        Instruction::ClearActions => 2,
        Instruction::WriteActions(_) => 3,
        Instruction::WriteMetadata { .. } => 4,
        Instruction::GotoTable(_) => 5,
        Instruction::Experimenter { .. } => 6,
    }
}

/// Translation state: the working copy of the packet and the program so far.
struct Xlate<'p> {
    p: &'p Pipeline,
    frame: Vec<u8>,
    key: FlowKey,
    layout: Layout,
    in_port: u32,
    now: u64,
    depth: u32,
}

/// A flow-key hash for SELECT groups: the fields that identify a
/// connection (addresses, protocol, ports), so one connection sticks to one
/// bucket.
fn select_hash(key: &FlowKey) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (o, n) in [
        (off::ETH_SRC, 6),
        (off::ETH_DST, 6),
        (off::ETH_TYPE, 2),
        (off::VLAN_VID, 2),
        (off::IP_PROTO, 1),
        (off::NW_SRC, 8),
        (off::TP_SRC, 4),
        (off::IPV6_SRC, 32),
    ] {
        for &b in key.bytes_at(o, n) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h ^ (h >> 29)
}

impl Xlate<'_> {
    /// Runs the tables from `table_id`, appending to `ops`.
    fn run_tables(&mut self, mut table_id: u8, ops: &mut Vec<Op>) {
        let mut set = ActionSet::default();
        loop {
            let Some(table) = self.p.tables.get(usize::from(table_id)) else {
                return;
            };
            let entry = table.classifier.lookup(&self.key).map(|(e, _)| e.clone());
            ops.push(Op::Table {
                table_id,
                counters: table.counters.clone(),
                matched: entry.is_some(),
            });
            // No entry, not even a table-miss one: drop (spec 5.4).
            let Some(entry) = entry else {
                return;
            };
            ops.push(Op::Flow(entry.clone()));
            let is_table_miss = entry.is_table_miss();
            let mut instructions: Vec<&Instruction> = entry.instructions.iter().collect();
            instructions.sort_by_key(|i| instruction_rank(i));
            let mut next = None;
            for i in instructions {
                match i {
                    Instruction::Meter(id) => {
                        if let Some(m) = self.p.meters.get(*id) {
                            ops.push(Op::Meter(m.clone()));
                        }
                    }
                    Instruction::ApplyActions(actions) => {
                        for a in actions {
                            self.action(a, &entry, is_table_miss, ops);
                        }
                    }
                    Instruction::ClearActions => set = ActionSet::default(),
                    Instruction::WriteActions(actions) => {
                        for a in actions {
                            set.write(a);
                        }
                    }
                    Instruction::WriteMetadata { metadata, mask } => {
                        let md = (self.key.metadata() & !mask) | (metadata & mask);
                        self.key.set_u64(off::METADATA, md);
                    }
                    Instruction::GotoTable(t) => next = Some(*t),
                    Instruction::Experimenter { .. } => {}
                }
            }
            match next {
                Some(t) if t > table_id => table_id = t,
                _ => {
                    for a in set.ordered() {
                        self.action(&a, &entry, is_table_miss, ops);
                    }
                    return;
                }
            }
        }
    }

    fn output_op(&self, port: u32) -> Op {
        Op::Output {
            port,
            tunnel_id: self.key.tunnel_id(),
        }
    }

    /// Translates one action.
    fn action(&mut self, a: &Action, entry: &FlowEntry, table_miss: bool, ops: &mut Vec<Op>) {
        if ops.len() >= MAX_OPS {
            return;
        }
        match a {
            Action::Output { port, max_len } => {
                self.output(*port, *max_len, entry, table_miss, ops)
            }
            Action::Group(g) => self.group(*g, entry, table_miss, ops),
            Action::SetQueue(q) => ops.push(Op::Queue(*q)),
            Action::Experimenter { .. } => {}
            edit => {
                // Keep the working copy (and so the key later tables see)
                // up to date; an invalid TTL is decided per packet at run
                // time.
                let _ = packet::apply(&mut self.frame, &mut self.key, &mut self.layout, edit);
                ops.push(Op::Edit(edit.clone()));
            }
        }
    }

    fn output(
        &mut self,
        port: u32,
        max_len: u16,
        entry: &FlowEntry,
        table_miss: bool,
        ops: &mut Vec<Op>,
    ) {
        let ports = &self.p.ports;
        match port {
            port_no::IN_PORT => ops.push(self.output_op(self.in_port)),
            // Both skip the input port and ports configured OFPPC_NO_FWD
            // or down (spec 4.5: ALL excludes OFPPC_NO_FWD ports; Open
            // vSwitch drops every output to a NO_FWD port).
            port_no::FLOOD | port_no::ALL => {
                for (no, info) in ports.iter() {
                    if *no != self.in_port && info.can_forward() {
                        ops.push(self.output_op(*no));
                    }
                }
            }
            port_no::CONTROLLER => {
                // OFPPC_NO_PACKET_IN: "Do not send packet-in msgs for port"
                // (spec 7.2.1), whatever sent the packet to the controller:
                // a table-miss entry or any other output:CONTROLLER. Open
                // vSwitch honours the bit only for its OpenFlow 1.0-style
                // table-miss rule (`rule_dpif_lookup_from_table` in
                // ofproto/ofproto-dpif.c) and sends explicit
                // output:CONTROLLER packet-ins regardless; the spec does not
                // make that exception, so neither does this switch.
                let no_packet_in = ports
                    .get(&self.in_port)
                    .is_some_and(|i| i.config & openflow::port::config::NO_PACKET_IN != 0);
                if no_packet_in {
                    return;
                }
                let mut m = Match::default();
                m.fields.push(Oxm::InPort(self.in_port));
                let phy = self.key.u32_at(off::IN_PHY_PORT);
                if phy != self.in_port {
                    m.fields.push(Oxm::InPhyPort(phy));
                }
                if self.key.metadata() != 0 {
                    m.fields.push(Oxm::Metadata(self.key.metadata(), None));
                }
                if self.key.tunnel_id() != 0 {
                    m.fields.push(Oxm::TunnelId(self.key.tunnel_id(), None));
                }
                ops.push(Op::Controller(ControllerOp {
                    max_len,
                    reason: if table_miss {
                        packet_in_reason::NO_MATCH
                    } else {
                        packet_in_reason::ACTION
                    },
                    table_id: entry.table_id,
                    cookie: entry.cookie,
                    match_: m,
                }));
            }
            port_no::NORMAL => {
                let vid = self.key.vlan_vid();
                ops.push(Op::Normal {
                    in_port: self.in_port,
                    src: mac_at(&self.key, off::ETH_SRC),
                    dst: mac_at(&self.key, off::ETH_DST),
                    vid: (vid & OFPVID_PRESENT != 0).then_some(vid & 0x0fff),
                    tunnel_id: self.key.tunnel_id(),
                });
            }
            port_no::TABLE if self.depth < MAX_DEPTH => {
                self.depth += 1;
                self.run_tables(0, ops);
                self.depth -= 1;
            }
            port_no::LOCAL if self.in_port != port_no::LOCAL => {
                ops.push(self.output_op(port_no::LOCAL));
            }
            // Output to the input port by number is dropped, as in Open
            // vSwitch: IN_PORT must be used for that.
            p if p <= port_no::MAX
                && p != self.in_port
                && ports.get(&p).is_some_and(|i| i.can_forward()) =>
            {
                ops.push(self.output_op(p));
            }
            _ => {}
        }
    }

    fn group(&mut self, id: u32, entry: &FlowEntry, table_miss: bool, ops: &mut Vec<Op>) {
        let Some(g) = self.p.groups.get(id).cloned() else {
            return;
        };
        if self.depth >= MAX_DEPTH {
            return;
        }
        let buckets: Vec<usize> = match g.group_type {
            group_type::ALL => (0..g.buckets.len()).collect(),
            group_type::INDIRECT => (0..g.buckets.len().min(1)).collect(),
            group_type::SELECT => self
                .p
                .groups
                .select_bucket(&g, select_hash(&self.key), &self.p.ports)
                .map(|(i, _)| i)
                .into_iter()
                .collect(),
            group_type::FF => g
                .buckets
                .iter()
                .position(|b| g.bucket_live(b, &self.p.ports, &self.p.groups, 0))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        // The group counts each packet once, however many buckets run
        // (an ALL group's copies are not packets the group received).
        ops.push(Op::Group(g.clone(), None));
        for i in buckets {
            ops.push(Op::Bucket(g.clone(), i));
            // Each bucket works on its own copy of the packet.
            let saved = (self.frame.clone(), self.key, self.layout);
            let mut sub = Vec::new();
            self.depth += 1;
            for a in &g.buckets[i].actions {
                self.action(a, entry, table_miss, &mut sub);
            }
            self.depth -= 1;
            (self.frame, self.key, self.layout) = saved;
            ops.push(Op::Fork(sub));
        }
    }
}

fn mac_at(key: &FlowKey, o: usize) -> MacAddr {
    let b = key.bytes_at(o, 6);
    let mut m = [0u8; 6];
    m.copy_from_slice(b);
    MacAddr(m)
}

impl Pipeline {
    /// Translates the packet `frame` (key `key`, layout `layout`) arriving
    /// on `in_port`, starting at `table_id`.
    pub fn translate(
        &self,
        frame: &[u8],
        key: &FlowKey,
        layout: &Layout,
        table_id: u8,
        now: u64,
    ) -> Program {
        let mut x = Xlate {
            p: self,
            frame: frame.to_vec(),
            key: *key,
            layout: *layout,
            in_port: key.in_port(),
            now,
            depth: 0,
        };
        let _ = x.now;
        let mut ops = Vec::new();
        if self.fail_open {
            // Standalone fail mode without a controller: every packet takes
            // NORMAL, above every flow (Open vSwitch's fail-open rule).
            x.output(port_no::NORMAL, 0, &FlowEntry::pseudo(0), false, &mut ops);
        } else {
            x.run_tables(table_id, &mut ops);
        }
        Program { ops }
    }

    /// Translates a PACKET_OUT's action list for `frame` from `in_port`.
    pub fn translate_actions(
        &self,
        frame: &[u8],
        in_port: u32,
        actions: &[Action],
        now: u64,
    ) -> Program {
        let (key, layout) = extract(frame, PacketMeta::port(in_port));
        let mut x = Xlate {
            p: self,
            frame: frame.to_vec(),
            key,
            layout,
            in_port,
            now,
            depth: 0,
        };
        // Packet-outs are not flows: report packet-ins as from table 0xff
        // with reason ACTION, cookie all-ones, as Open vSwitch does.
        let pseudo = FlowEntry::pseudo(0xff);
        let mut ops = Vec::new();
        for a in actions {
            x.action(a, &pseudo, false, &mut ops);
        }
        Program { ops }
    }
}
