//! MAC learning: one table per switch, per VLAN, filled from packet-ins.
//!
//! The switch reports a frame only when table 1 (`eth_src`) does not know
//! its source on its port (see [`crate::pipeline`]); the frame itself goes on
//! through the switch's tables, so learning never sends a PACKET_OUT. What
//! a packet-in changes is returned as [`Changes`]:
//!
//! - a new source: an `eth_src` flow (hard timeout: the source is re-learned
//!   periodically, which is how the controller sees hosts that stay) and an
//!   `eth_dst` flow (idle timeout) out of the host's port; for a host behind
//!   a tunnel, also a drop of frames to it that came from another tunnel;
//! - a source seen on another port (it moved): the old flows are deleted
//!   first, at once, then the new ones added;
//! - a source beyond the VLAN's `max_hosts`: a short-lived drop flow for it,
//!   so it neither gets through nor floods the controller;
//! - a new source while the switch already has `max_macs` MACs (all VLANs;
//!   [`crate::policy::DEFAULT_MAX_MACS`] without a policy): not learned,
//!   but a short-lived flow lets its frames on to the eth_dst table
//!   unreported, so they are still forwarded (flooded to it, since nothing
//!   learned its port) and do not flood the controller. This is the bound
//!   on the controller's memory that holds whatever the policy says.
//!
//! A port that goes down or changes role loses its MACs ([`MacTable::forget_ports`]),
//! and entries not refreshed for longer than the eth_src timeout age out
//! ([`MacTable::expire`]). Time is seconds on a clock the caller supplies.

use crate::pipeline::{cookie, output_actions, prio, table, Changes, FROM_TUNNEL};
use crate::policy::{PortRole, Vid, View};
use openflow::instruction::Instruction;
use openflow::messages::{flow_mod_command, FlowMod, PacketIn};
use openflow::oxm::{Match, Oxm, OxmField};
use openflow::types::{eth_type, vlan};
use openflow::MacAddr;
use std::collections::BTreeMap;

/// What a packet-in says, once parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    pub in_port: u32,
    pub vid: Vid,
    pub eth_src: MacAddr,
    pub eth_dst: MacAddr,
}

/// Reads in_port from the packet-in's match and the VLAN from the frame's
/// 802.1Q tag (pushed by table 0), or from the match if the frame has none.
/// `None` for anything too short or untagged: nothing to learn.
pub fn parse_packet_in(pi: &PacketIn) -> Option<PacketInfo> {
    let in_port = match pi.match_.get(OxmField::InPort) {
        Some(Oxm::InPort(p)) => *p,
        _ => return None,
    };
    let d = &pi.data;
    let mac = |at: usize| -> Option<MacAddr> {
        let b = d.get(at..at + 6)?;
        let mut a = [0u8; 6];
        a.copy_from_slice(b);
        Some(MacAddr(a))
    };
    let eth_dst = mac(0)?;
    let eth_src = mac(6)?;
    let tpid = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
    let vid = if tpid == eth_type::VLAN {
        u16::from_be_bytes([*d.get(14)?, *d.get(15)?]) & 0x0fff
    } else {
        match pi.match_.get(OxmField::VlanVid) {
            Some(Oxm::VlanVid(v, None)) if v & vlan::PRESENT != 0 => v & 0x0fff,
            _ => return None,
        }
    };
    if !(1..=4094).contains(&vid) {
        return None;
    }
    Some(PacketInfo {
        in_port,
        vid,
        eth_src,
        eth_dst,
    })
}

/// Timeouts, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Hard timeout of eth_src flows and idle timeout of eth_dst flows;
    /// entries not refreshed for this long (plus [`Timeouts::grace`]) age out.
    pub learn: u16,
    /// Slack before the controller forgets a MAC the switch stopped reporting.
    pub grace: u16,
    /// How long a source over a MAC limit is held (dropped over `max_hosts`,
    /// passed unlearned over `max_macs`) before it is reported again.
    pub limit_hold: u16,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            learn: 300,
            grace: 30,
            limit_hold: 60,
        }
    }
}

/// One learned MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub port: u32,
    /// When it was last (re)learned, in the caller's seconds.
    pub learned_at: u64,
}

/// What a packet-in did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Learned,
    /// Known on the same port: flows reinstalled, age reset.
    Refreshed,
    Moved {
        from: u32,
    },
    /// The VLAN already has `max_hosts` MACs: the source is dropped for a while.
    LimitReached,
    /// The switch already has `max_macs` MACs: the source is not learned,
    /// its frames pass unreported for a while.
    TableFull,
    /// Not learnable: the port does not carry the VLAN, or a multicast or zero source.
    Ignored,
}

/// One switch's MAC tables, per VLAN.
#[derive(Clone, Debug, Default)]
pub struct MacTable {
    vlans: BTreeMap<Vid, BTreeMap<MacAddr, Entry>>,
    pub timeouts: Timeouts,
}

fn vid_match(vid: Vid) -> Oxm {
    Oxm::VlanVid(vlan::PRESENT | vid, None)
}

fn learned(table_id: u8, priority: u16, match_: Match, instructions: Vec<Instruction>) -> FlowMod {
    FlowMod {
        cookie: cookie::LEARNING,
        table_id,
        priority,
        match_,
        instructions,
        ..FlowMod::default()
    }
}

/// Non-strict deletes of every learned flow of `mac` in `vid`, whatever its port.
fn delete_mac(vid: Vid, mac: MacAddr) -> Vec<FlowMod> {
    let del = |table_id, field| FlowMod {
        cookie: cookie::LEARNING,
        cookie_mask: u64::MAX,
        table_id,
        command: flow_mod_command::DELETE,
        match_: Match::new().with(vid_match(vid)).with(field),
        ..FlowMod::default()
    };
    vec![
        del(table::ETH_SRC, Oxm::EthSrc(mac, None)),
        del(table::ETH_DST, Oxm::EthDst(mac, None)),
    ]
}

impl MacTable {
    pub fn new(timeouts: Timeouts) -> MacTable {
        MacTable {
            vlans: BTreeMap::new(),
            timeouts,
        }
    }

    pub fn lookup(&self, vid: Vid, mac: MacAddr) -> Option<&Entry> {
        self.vlans.get(&vid)?.get(&mac)
    }

    /// Every learned MAC, by VLAN then MAC.
    pub fn entries(&self) -> impl Iterator<Item = (Vid, MacAddr, &Entry)> + '_ {
        self.vlans
            .iter()
            .flat_map(|(vid, t)| t.iter().map(|(mac, e)| (*vid, *mac, e)))
    }

    /// How many MACs are learned, all VLANs together.
    pub fn total(&self) -> usize {
        self.vlans.values().map(BTreeMap::len).sum()
    }

    /// How many MACs are learned in `vid`.
    pub fn len(&self, vid: Vid) -> usize {
        self.vlans.get(&vid).map_or(0, BTreeMap::len)
    }

    pub fn is_empty(&self) -> bool {
        self.vlans.values().all(BTreeMap::is_empty)
    }

    /// The flows that forward to a MAC learned on `port` in `vid`.
    pub fn mac_flows(&self, view: &View, vid: Vid, mac: MacAddr, port: u32) -> Vec<FlowMod> {
        let t = self.timeouts.learn;
        let mut src = learned(
            table::ETH_SRC,
            prio::LEARNED,
            Match::new()
                .with(Oxm::InPort(port))
                .with(vid_match(vid))
                .with(Oxm::EthSrc(mac, None)),
            vec![Instruction::GotoTable(table::ETH_DST)],
        );
        src.hard_timeout = t;
        let mut dst = learned(
            table::ETH_DST,
            prio::LEARNED,
            Match::new()
                .with(vid_match(vid))
                .with(Oxm::EthDst(mac, None)),
            vec![Instruction::ApplyActions(output_actions(
                view,
                vid,
                &[port],
            ))],
        );
        dst.idle_timeout = t;
        let mut out = vec![src, dst];
        if view.ports.get(&port) == Some(&PortRole::Tunnel) {
            // Split horizon for unicast: never from one tunnel into another.
            out.push(learned(
                table::ETH_DST,
                prio::SPLIT_HORIZON,
                Match::new()
                    .with(Oxm::Metadata(FROM_TUNNEL, Some(FROM_TUNNEL)))
                    .with(vid_match(vid))
                    .with(Oxm::EthDst(mac, None)),
                vec![],
            ));
        }
        out
    }

    /// Decides what a packet-in changes.
    pub fn packet_in(&mut self, view: &View, pkt: &PacketInfo, now: u64) -> (Verdict, Changes) {
        let mut ch = Changes::default();
        let src = pkt.eth_src;
        if src.is_multicast() || src == MacAddr::ZERO || !view.carries(pkt.in_port, pkt.vid) {
            return (Verdict::Ignored, ch);
        }
        let limit = view.vlans.get(&pkt.vid).and_then(|v| v.max_hosts);
        let total = self.total();
        let macs = self.vlans.entry(pkt.vid).or_default();
        let verdict = match macs.get(&src) {
            Some(e) if e.port == pkt.in_port => Verdict::Refreshed,
            Some(e) => {
                let from = e.port;
                ch.delete.extend(delete_mac(pkt.vid, src));
                Verdict::Moved { from }
            }
            None if limit.is_some_and(|l| macs.len() >= l) => {
                ch.add.push(self.hold(pkt, vec![]));
                return (Verdict::LimitReached, ch);
            }
            None if total >= view.max_macs => {
                let on = vec![Instruction::GotoTable(table::ETH_DST)];
                ch.add.push(self.hold(pkt, on));
                return (Verdict::TableFull, ch);
            }
            None => Verdict::Learned,
        };
        macs.insert(
            src,
            Entry {
                port: pkt.in_port,
                learned_at: now,
            },
        );
        ch.add
            .extend(self.mac_flows(view, pkt.vid, src, pkt.in_port));
        (verdict, ch)
    }

    /// A flow for a source that is not learned (over a limit): its frames
    /// from its port get `instructions` (none: dropped) instead of a
    /// packet-in, for `limit_hold` seconds.
    fn hold(&self, pkt: &PacketInfo, instructions: Vec<Instruction>) -> FlowMod {
        let mut f = learned(
            table::ETH_SRC,
            prio::LEARNED,
            Match::new()
                .with(Oxm::InPort(pkt.in_port))
                .with(vid_match(pkt.vid))
                .with(Oxm::EthSrc(pkt.eth_src, None)),
            instructions,
        );
        f.hard_timeout = self.timeouts.limit_hold;
        f
    }

    /// Forgets every MAC on these ports (gone down, removed, changed role)
    /// and deletes their flows.
    pub fn forget_ports(&mut self, ports: &[u32]) -> Changes {
        let mut ch = Changes::default();
        for (vid, macs) in &mut self.vlans {
            macs.retain(|mac, e| {
                if ports.contains(&e.port) {
                    ch.delete.extend(delete_mac(*vid, *mac));
                    false
                } else {
                    true
                }
            });
        }
        // Also any over-limit drops on these ports.
        for p in ports {
            ch.delete.push(FlowMod {
                cookie: cookie::LEARNING,
                cookie_mask: u64::MAX,
                table_id: table::ETH_SRC,
                command: flow_mod_command::DELETE,
                match_: Match::new().with(Oxm::InPort(*p)),
                ..FlowMod::default()
            });
        }
        ch
    }

    /// Ages out MACs not re-learned within the eth_src timeout plus grace.
    pub fn expire(&mut self, now: u64) -> Changes {
        let max_age = u64::from(self.timeouts.learn) + u64::from(self.timeouts.grace);
        let mut ch = Changes::default();
        for (vid, macs) in &mut self.vlans {
            macs.retain(|mac, e| {
                if now.saturating_sub(e.learned_at) >= max_age {
                    ch.delete.extend(delete_mac(*vid, *mac));
                    false
                } else {
                    true
                }
            });
        }
        ch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::VlanInfo;
    use openflow::action::Action;

    fn view(limit: Option<usize>) -> View {
        let mut v = View::default();
        v.ports.insert(1, PortRole::Access(10));
        v.ports.insert(2, PortRole::Access(10));
        v.ports.insert(3, PortRole::Trunk(vec![10, 20]));
        v.ports.insert(4, PortRole::Tunnel);
        for vid in [10, 20] {
            v.vlans.insert(
                vid,
                VlanInfo {
                    tunnel_id: 7000 + u64::from(vid),
                    max_hosts: limit,
                },
            );
        }
        v
    }

    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    fn pkt(in_port: u32, vid: Vid, src: u8) -> PacketInfo {
        PacketInfo {
            in_port,
            vid,
            eth_src: mac(src),
            eth_dst: MacAddr::BROADCAST,
        }
    }

    fn dst_actions(ch: &Changes) -> Vec<Action> {
        ch.add
            .iter()
            .filter(|f| f.table_id == table::ETH_DST && f.priority == prio::LEARNED)
            .flat_map(|f| f.instructions.iter())
            .flat_map(|i| match i {
                Instruction::ApplyActions(a) => a.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn parses_tagged_packet_ins() {
        let mut data = vec![0xff; 6];
        data.extend([2, 0, 0, 0, 0, 9, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x06]);
        let pi = PacketIn {
            buffer_id: openflow::types::NO_BUFFER,
            total_len: data.len() as u16,
            reason: 0,
            table_id: 1,
            cookie: 0,
            match_: Match::new().with(Oxm::InPort(3)),
            data,
        };
        let p = parse_packet_in(&pi).expect("parses");
        assert_eq!((p.in_port, p.vid, p.eth_src), (3, 10, mac(9)));
        assert!(p.eth_dst.is_multicast());
        // Truncated, untagged or without in_port: nothing.
        let mut short = pi.clone();
        short.data.truncate(13);
        assert_eq!(parse_packet_in(&short), None);
        let mut untagged = pi.clone();
        untagged.data[12] = 0x08;
        assert_eq!(parse_packet_in(&untagged), None);
        let mut no_port = pi;
        no_port.match_ = Match::new();
        assert_eq!(parse_packet_in(&no_port), None);
    }

    #[test]
    fn learns_with_the_right_egress_per_role() {
        let v = view(None);
        let mut t = MacTable::default();
        let (verdict, ch) = t.packet_in(&v, &pkt(1, 10, 1), 5);
        assert_eq!(verdict, Verdict::Learned);
        assert!(ch.delete.is_empty());
        assert_eq!(dst_actions(&ch), vec![Action::PopVlan, Action::output(1)]);
        let src = &ch.add[0];
        assert_eq!(
            (src.table_id, src.hard_timeout, src.cookie),
            (table::ETH_SRC, 300, cookie::LEARNING)
        );
        assert_eq!(ch.add[1].idle_timeout, 300);
        // Trunk: tag kept.
        let (_, ch) = t.packet_in(&v, &pkt(3, 20, 2), 5);
        assert_eq!(dst_actions(&ch), vec![Action::output(3)]);
        // Tunnel: pop, tunnel id, plus the split-horizon drop.
        let (_, ch) = t.packet_in(&v, &pkt(4, 10, 3), 5);
        assert_eq!(
            dst_actions(&ch),
            vec![
                Action::PopVlan,
                Action::SetField(Oxm::TunnelId(7010, None)),
                Action::output(4)
            ]
        );
        assert!(ch
            .add
            .iter()
            .any(|f| f.priority == prio::SPLIT_HORIZON && f.instructions.is_empty()));
        assert_eq!(t.len(10), 2);
        assert_eq!(t.len(20), 1);
    }

    #[test]
    fn ignores_what_it_must_not_learn() {
        let v = view(None);
        let mut t = MacTable::default();
        // Port 1 is not in VLAN 20.
        assert_eq!(t.packet_in(&v, &pkt(1, 20, 1), 0).0, Verdict::Ignored);
        // Unknown port.
        assert_eq!(t.packet_in(&v, &pkt(9, 10, 1), 0).0, Verdict::Ignored);
        let mut p = pkt(1, 10, 1);
        p.eth_src = MacAddr::BROADCAST;
        assert_eq!(t.packet_in(&v, &p, 0).0, Verdict::Ignored);
        p.eth_src = MacAddr::ZERO;
        assert_eq!(t.packet_in(&v, &p, 0).0, Verdict::Ignored);
        assert!(t.is_empty());
    }

    #[test]
    fn a_moved_mac_loses_its_old_flows_first() {
        let v = view(None);
        let mut t = MacTable::default();
        t.packet_in(&v, &pkt(1, 10, 1), 0);
        let (verdict, ch) = t.packet_in(&v, &pkt(2, 10, 1), 1);
        assert_eq!(verdict, Verdict::Moved { from: 1 });
        assert_eq!(ch.delete.len(), 2);
        assert!(ch
            .delete
            .iter()
            .all(|f| f.command == flow_mod_command::DELETE
                && f.cookie_mask == u64::MAX
                && f.match_.get(OxmField::VlanVid) == Some(&vid_match(10))));
        assert_eq!(dst_actions(&ch), vec![Action::PopVlan, Action::output(2)]);
        assert_eq!(t.lookup(10, mac(1)).map(|e| e.port), Some(2));
        // Same port again: a refresh, no deletes.
        let (verdict, ch) = t.packet_in(&v, &pkt(2, 10, 1), 9);
        assert_eq!(verdict, Verdict::Refreshed);
        assert!(ch.delete.is_empty());
        assert_eq!(t.lookup(10, mac(1)).map(|e| e.learned_at), Some(9));
    }

    #[test]
    fn mac_limit_per_vlan() {
        let v = view(Some(2));
        let mut t = MacTable::default();
        assert_eq!(t.packet_in(&v, &pkt(1, 10, 1), 0).0, Verdict::Learned);
        assert_eq!(t.packet_in(&v, &pkt(2, 10, 2), 0).0, Verdict::Learned);
        let (verdict, ch) = t.packet_in(&v, &pkt(2, 10, 3), 0);
        assert_eq!(verdict, Verdict::LimitReached);
        assert_eq!(ch.add.len(), 1);
        assert!(ch.add[0].instructions.is_empty());
        assert_eq!(ch.add[0].hard_timeout, 60);
        assert_eq!(t.len(10), 2);
        // Another VLAN has its own count; a known MAC may still move.
        assert_eq!(t.packet_in(&v, &pkt(3, 20, 3), 0).0, Verdict::Learned);
        assert_eq!(
            t.packet_in(&v, &pkt(3, 10, 1), 0).0,
            Verdict::Moved { from: 1 }
        );
    }

    #[test]
    fn mac_limit_per_switch() {
        let v = View {
            max_macs: 2,
            ..view(None)
        };
        let mut t = MacTable::default();
        assert_eq!(t.packet_in(&v, &pkt(1, 10, 1), 0).0, Verdict::Learned);
        assert_eq!(t.packet_in(&v, &pkt(3, 20, 2), 0).0, Verdict::Learned);
        // Full over both VLANs: not learned, passed on unreported for a while.
        let (verdict, ch) = t.packet_in(&v, &pkt(2, 10, 3), 0);
        assert_eq!(verdict, Verdict::TableFull);
        assert_eq!(ch.add.len(), 1);
        assert_eq!(
            ch.add[0].instructions,
            vec![Instruction::GotoTable(table::ETH_DST)]
        );
        assert_eq!(ch.add[0].hard_timeout, 60);
        assert_eq!((t.total(), t.lookup(10, mac(3))), (2, None));
        // Known MACs are still refreshed and may move.
        assert_eq!(t.packet_in(&v, &pkt(1, 10, 1), 5).0, Verdict::Refreshed);
        assert_eq!(
            t.packet_in(&v, &pkt(2, 10, 1), 5).0,
            Verdict::Moved { from: 1 }
        );
        // Room again once one ages out.
        t.expire(334);
        assert_eq!(t.total(), 1);
        assert_eq!(t.packet_in(&v, &pkt(2, 10, 3), 334).0, Verdict::Learned);
    }

    #[test]
    fn port_down_and_aging_forget() {
        let v = view(None);
        let mut t = MacTable::default();
        t.packet_in(&v, &pkt(1, 10, 1), 0);
        t.packet_in(&v, &pkt(3, 10, 2), 0);
        t.packet_in(&v, &pkt(3, 20, 3), 100);
        let ch = t.forget_ports(&[3]);
        assert!(ch.add.is_empty());
        // Two MACs x (eth_src, eth_dst) + the port's over-limit drops.
        assert_eq!(ch.delete.len(), 5);
        assert_eq!(t.len(10), 1);
        assert_eq!(t.len(20), 0);
        assert!(t.expire(329).is_empty());
        let ch = t.expire(330);
        assert_eq!(ch.delete.len(), 2);
        assert!(t.is_empty());
    }
}
