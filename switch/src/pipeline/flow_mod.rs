//! Changing the pipeline: FLOW_MOD (spec 6.4), GROUP_MOD, METER_MOD, and
//! flow expiry. Every change bumps [`Pipeline::generation`] so cached
//! translations are dropped.
//!
//! Semantics, as OpenFlow 1.3.5 and Open vSwitch agree on them:
//! - ADD replaces an entry with an identical match and priority (its
//!   counters carry over unless OFPFF_RESET_COUNTS; no FLOW_REMOVED), fails
//!   with OFPFMFC_OVERLAP under OFPFF_CHECK_OVERLAP when a same-priority
//!   entry could match the same packet, and with OFPFMFC_TABLE_FULL when
//!   the table is at capacity.
//! - MODIFY / MODIFY_STRICT change the instructions of the entries selected
//!   (non-strict: every entry at least as specific as the match; strict:
//!   identical match and priority), filtered by cookie/cookie_mask; no match
//!   is not an error and adds nothing.
//! - DELETE / DELETE_STRICT select the same way, plus out_port and
//!   out_group filters, in one table or all (OFPTT_ALL), and report
//!   FLOW_REMOVED (reason DELETE) for entries that asked for it.

use super::flow_entry::{Counters, FlowEntry};
use super::state::{Event, Pipeline};
use super::table::{FlowTable, N_TABLES};
use crate::flow_key::{FlowKey, WORDS};
use openflow::group::GroupMod;
use openflow::messages::{
    flow_mod_command as cmd, flow_mod_flags, flow_removed_reason, FlowMod, FlowRemoved,
};
use openflow::meter::MeterMod;
use openflow::types::{group_no, port_no, table_no, NO_BUFFER};
use openflow::OfError;
use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

const KNOWN_FLAGS: u16 = flow_mod_flags::SEND_FLOW_REM
    | flow_mod_flags::CHECK_OVERLAP
    | flow_mod_flags::RESET_COUNTS
    | flow_mod_flags::NO_PKT_COUNTS
    | flow_mod_flags::NO_BYT_COUNTS;

/// Whether an entry (key `k`, mask `m`) is selected by a non-strict
/// request (`rk`, `rm`): the entry matches at least what the request does.
pub(super) fn covered_by(k: &FlowKey, m: &FlowKey, rk: &FlowKey, rm: &FlowKey) -> bool {
    (0..WORDS).all(|i| {
        let (mw, rmw) = (m.word(i), rm.word(i));
        mw & rmw == rmw && (k.word(i) ^ rk.word(i)) & rmw == 0
    })
}

/// Whether two entries could match the same packet.
fn overlaps(k1: &FlowKey, m1: &FlowKey, k2: &FlowKey, m2: &FlowKey) -> bool {
    (0..WORDS).all(|i| (k1.word(i) ^ k2.word(i)) & m1.word(i) & m2.word(i) == 0)
}

/// The FLOW_REMOVED an entry produces.
pub fn flow_removed(e: &FlowEntry, reason: u8, now: u64) -> FlowRemoved {
    let (duration_sec, duration_nsec) = e.duration(now);
    FlowRemoved {
        cookie: e.cookie,
        priority: e.priority,
        reason,
        table_id: e.table_id,
        duration_sec,
        duration_nsec,
        idle_timeout: e.idle_timeout,
        hard_timeout: e.hard_timeout,
        packet_count: e.packets(),
        byte_count: e.bytes(),
        match_: e.match_.clone(),
    }
}

/// Which entries a MODIFY or DELETE selects.
struct Selector<'a> {
    key: FlowKey,
    mask: FlowKey,
    priority: u16,
    strict: bool,
    cookie: u64,
    cookie_mask: u64,
    out_port: u32,
    out_group: u32,
    _fm: &'a FlowMod,
}

impl<'a> Selector<'a> {
    fn new(fm: &'a FlowMod, strict: bool, filter_outputs: bool) -> Self {
        let (key, mask) = FlowKey::from_match(&fm.match_);
        Selector {
            key,
            mask,
            priority: fm.priority,
            strict,
            cookie: fm.cookie,
            cookie_mask: fm.cookie_mask,
            out_port: if filter_outputs {
                fm.out_port
            } else {
                port_no::ANY
            },
            out_group: if filter_outputs {
                fm.out_group
            } else {
                group_no::ANY
            },
            _fm: fm,
        }
    }

    /// Whether the entry `e` (key `k`, mask `m`) is selected.
    fn selects(&self, k: &FlowKey, m: &FlowKey, e: &FlowEntry) -> bool {
        let shape = if self.strict {
            e.priority == self.priority && *m == self.mask && *k == self.key
        } else {
            covered_by(k, m, &self.key, &self.mask)
        };
        shape
            && (e.cookie ^ self.cookie) & self.cookie_mask == 0
            && (self.out_port == port_no::ANY || e.outputs_to(self.out_port))
            && (self.out_group == group_no::ANY || e.uses_group(self.out_group))
    }
}

/// A selected entry: its masked key, mask and the entry.
type Selected = (FlowKey, FlowKey, Arc<FlowEntry>);

impl Selector<'_> {
    /// Whether every entry is selected (`del-flows` with no argument).
    fn selects_all(&self) -> bool {
        !self.strict
            && self.mask == FlowKey::ZERO
            && self.cookie_mask == 0
            && self.out_port == port_no::ANY
            && self.out_group == group_no::ANY
    }

    /// The entries of `table` this selector picks. A strict request is one
    /// exact lookup; a non-strict one visits only the classifier's
    /// candidates for its match.
    fn select(&self, table: &FlowTable) -> Vec<Selected> {
        if self.strict {
            return table
                .classifier
                .get_strict(&self.key, &self.mask, self.priority)
                .filter(|e| self.selects(&self.key, &self.mask, e))
                .map(|e| (self.key, self.mask, e.clone()))
                .into_iter()
                .collect();
        }
        table
            .classifier
            .candidates(&self.key, &self.mask)
            .filter(|(k, m, _, e)| self.selects(k, m, e))
            .map(|(k, m, _, e)| (k, *m, e.clone()))
            .collect()
    }
}

impl Pipeline {
    /// Applies a FLOW_MOD at time `now` (ns). On success returns the events
    /// it caused (FLOW_REMOVED for deleted entries that asked for it).
    pub fn flow_mod(&mut self, fm: &FlowMod, now: u64) -> Result<Vec<Event>, OfError> {
        if fm.flags & !KNOWN_FLAGS != 0 {
            return Err(OfError::FMFC_BAD_FLAGS);
        }
        match fm.command {
            cmd::ADD | cmd::MODIFY | cmd::MODIFY_STRICT => {
                if usize::from(fm.table_id) >= N_TABLES {
                    return Err(OfError::FMFC_BAD_TABLE_ID);
                }
                fm.match_.validate()?;
                self.validate_instructions(fm.table_id, &fm.instructions, &fm.match_)?;
                if fm.buffer_id != NO_BUFFER {
                    return Err(OfError::BRC_BUFFER_UNKNOWN);
                }
                if fm.command == cmd::ADD {
                    self.add_flow(fm, now)?;
                } else {
                    self.modify_flows(fm, fm.command == cmd::MODIFY_STRICT);
                }
                Ok(Vec::new())
            }
            cmd::DELETE | cmd::DELETE_STRICT => {
                if usize::from(fm.table_id) >= N_TABLES && fm.table_id != table_no::ALL {
                    return Err(OfError::FMFC_BAD_TABLE_ID);
                }
                fm.match_.validate()?;
                let sel = Selector::new(fm, fm.command == cmd::DELETE_STRICT, true);
                let tables: Vec<u8> = if fm.table_id == table_no::ALL {
                    (0..N_TABLES as u8).collect()
                } else {
                    vec![fm.table_id]
                };
                let mut events = Vec::new();
                for t in tables {
                    let Some(table) = self.table(t) else { continue };
                    if table.is_empty() {
                        continue;
                    }
                    if sel.selects_all() {
                        self.clear_table(t, now, &mut events);
                        continue;
                    }
                    let doomed = sel.select(table);
                    self.remove_flows(t, flow_removed_reason::DELETE, now, &mut events, doomed);
                }
                Ok(events)
            }
            _ => Err(OfError::FMFC_BAD_COMMAND),
        }
    }

    fn add_flow(&mut self, fm: &FlowMod, now: u64) -> Result<(), OfError> {
        let (key, mask) = FlowKey::from_match(&fm.match_);
        let instructions = self.control().instructions.intern(&fm.instructions);
        let Some(table) = self.table_mut(fm.table_id) else {
            return Err(OfError::FMFC_BAD_TABLE_ID);
        };
        let old = table
            .classifier
            .get_strict(&key, &mask, fm.priority)
            .cloned();
        if old.is_none() {
            if fm.flags & flow_mod_flags::CHECK_OVERLAP != 0
                && table
                    .classifier
                    .iter()
                    .any(|(k, m, p, _)| p == fm.priority && overlaps(&k, m, &key, &mask))
            {
                return Err(OfError::FMFC_OVERLAP);
            }
            if table.len() >= table.max_entries as usize {
                return Err(OfError::FMFC_TABLE_FULL);
            }
        }
        let counters = Counters::default();
        if let Some(old) = &old {
            if fm.flags & flow_mod_flags::RESET_COUNTS == 0 {
                counters.packets.store(old.packets(), Relaxed);
                counters.bytes.store(old.bytes(), Relaxed);
            }
        }
        let entry = FlowEntry {
            table_id: fm.table_id,
            priority: fm.priority,
            match_: fm.match_.clone(),
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            flags: fm.flags,
            instructions,
            created: now,
            counters,
        };
        let entry = Arc::new(entry);
        table
            .classifier
            .insert(&key, &mask, fm.priority, entry.clone());
        self.generation += 1;
        if entry.deadline().is_some() {
            // Counting the flows walks the 255 tables: only for timed entries.
            let live = self.flow_count();
            self.control().expiry.watch(&entry, live);
        }
        Ok(())
    }

    fn modify_flows(&mut self, fm: &FlowMod, strict: bool) {
        let sel = Selector::new(fm, strict, false);
        let Some(table) = self.table(fm.table_id) else {
            return;
        };
        let chosen = sel.select(table);
        if chosen.is_empty() {
            return;
        }
        let instructions = self.control().instructions.intern(&fm.instructions);
        let Some(table) = self.table_mut(fm.table_id) else {
            return;
        };
        let mut changed = Vec::with_capacity(chosen.len());
        for (key, mask, old) in chosen {
            let counters = Counters::default();
            if fm.flags & flow_mod_flags::RESET_COUNTS == 0 {
                counters.packets.store(old.packets(), Relaxed);
                counters.bytes.store(old.bytes(), Relaxed);
            }
            counters
                .last_used
                .store(old.counters.last_used.load(Relaxed), Relaxed);
            let entry = Arc::new(FlowEntry {
                table_id: old.table_id,
                priority: old.priority,
                match_: old.match_.clone(),
                cookie: old.cookie,
                idle_timeout: old.idle_timeout,
                hard_timeout: old.hard_timeout,
                flags: old.flags,
                instructions: instructions.clone(),
                created: old.created,
                counters,
            });
            table
                .classifier
                .insert(&key, &mask, old.priority, entry.clone());
            changed.push(entry);
        }
        self.generation += 1;
        if changed.iter().any(|e| e.deadline().is_some()) {
            let live = self.flow_count();
            let mut control = self.control();
            for e in &changed {
                control.expiry.watch(e, live);
            }
        }
    }

    /// Removes the `doomed` entries of table `t` (as selected from it just
    /// before), pushing FLOW_REMOVED events for those that asked for one.
    fn remove_flows(
        &mut self,
        t: u8,
        reason: u8,
        now: u64,
        events: &mut Vec<Event>,
        doomed: Vec<Selected>,
    ) {
        if doomed.is_empty() {
            return;
        }
        let Some(table) = self.table_mut(t) else {
            return;
        };
        for (k, m, e) in doomed {
            if table.classifier.remove(&k, &m, e.priority).is_some() && e.send_flow_rem() {
                events.push(Event::FlowRemoved(flow_removed(&e, reason, now)));
            }
        }
        self.generation += 1;
    }

    /// Empties table `t` in one step (no removal one entry at a time),
    /// reporting FLOW_REMOVED for the entries that asked for it.
    fn clear_table(&mut self, t: u8, now: u64, events: &mut Vec<Event>) {
        let Some(table) = self.table_mut(t) else {
            return;
        };
        let old = std::mem::take(&mut table.classifier);
        events.extend(
            old.iter()
                .filter(|(_, _, _, e)| e.send_flow_rem())
                .map(|(_, _, _, e)| {
                    Event::FlowRemoved(flow_removed(e, flow_removed_reason::DELETE, now))
                }),
        );
        self.generation += 1;
    }

    /// The entries of table `t` for which `pick` is true (a scan of the
    /// table, for the rare requests no match narrows: deleting a group or a
    /// meter).
    fn scan(&self, t: u8, pick: impl Fn(&FlowEntry) -> bool) -> Vec<Selected> {
        self.table(t).map_or_else(Vec::new, |table| {
            table
                .classifier
                .iter()
                .filter(|(_, _, _, e)| pick(e))
                .map(|(k, m, _, e)| (k, *m, e.clone()))
                .collect()
        })
    }

    /// Removes entries whose idle or hard timeout has passed at `now`.
    /// Only the entries the expiry queue says may be due are looked at
    /// ([`super::expiry`]).
    pub fn expire(&mut self, now: u64) -> Vec<Event> {
        let due = self.control().expiry.take_due(now);
        let mut events = Vec::new();
        let mut live_on = Vec::new();
        for e in due {
            let (key, mask) = FlowKey::from_match(&e.match_);
            let installed = self
                .table(e.table_id)
                .and_then(|t| t.classifier.get_strict(&key, &mask, e.priority))
                .is_some_and(|cur| Arc::ptr_eq(cur, &e));
            if !installed {
                continue;
            }
            let Some(reason) = e.expired(now) else {
                live_on.push(e);
                continue;
            };
            let Some(table) = self.table_mut(e.table_id) else {
                continue;
            };
            table.classifier.remove(&key, &mask, e.priority);
            self.generation += 1;
            if e.send_flow_rem() {
                events.push(Event::FlowRemoved(flow_removed(&e, reason, now)));
            }
        }
        let live = self.flow_count();
        let mut control = self.control();
        for e in &live_on {
            control.expiry.watch(e, live);
        }
        events
    }

    /// Whether any entry has a timeout (the caller can skip expiry when
    /// none has).
    pub fn has_timeouts(&self) -> bool {
        !self.control().expiry.is_empty()
    }

    /// Applies a GROUP_MOD; deleting a group removes the flows that use it.
    pub fn group_mod(&mut self, gm: &GroupMod, now: u64) -> Result<Vec<Event>, OfError> {
        for b in &gm.buckets {
            // A bucket that sends to its own group is a loop, not a
            // reference to an unknown group (the group being added does not
            // exist yet).
            if b.actions
                .iter()
                .any(|a| matches!(a, openflow::Action::Group(g) if *g == gm.group_id))
            {
                return Err(OfError::GMFC_LOOP);
            }
            self.validate_actions(&b.actions, super::validate::ActionContext::Group, None)?;
        }
        let ports = self.ports.clone();
        let deleted = Arc::make_mut(&mut self.groups).apply(gm, now, &ports)?;
        self.generation += 1;
        let mut events = Vec::new();
        // One scan of the tables for all the deleted groups, not one per
        // group (deleting every group of a big pipeline).
        let deleted: HashSet<u32> = deleted.into_iter().collect();
        if !deleted.is_empty() {
            for t in 0..N_TABLES as u8 {
                let doomed = self.scan(t, |e| e.groups().any(|g| deleted.contains(&g)));
                self.remove_flows(
                    t,
                    flow_removed_reason::GROUP_DELETE,
                    now,
                    &mut events,
                    doomed,
                );
            }
        }
        Ok(events)
    }

    /// Applies a METER_MOD; deleting a meter removes the flows that use it.
    pub fn meter_mod(&mut self, mm: &MeterMod, now: u64) -> Result<Vec<Event>, OfError> {
        let deleted = Arc::make_mut(&mut self.meters).apply(mm, now)?;
        self.generation += 1;
        let mut events = Vec::new();
        let deleted: HashSet<u32> = deleted.into_iter().collect();
        if !deleted.is_empty() {
            for t in 0..N_TABLES as u8 {
                let doomed = self.scan(t, |e| e.meters().any(|m| deleted.contains(&m)));
                self.remove_flows(
                    t,
                    flow_removed_reason::METER_DELETE,
                    now,
                    &mut events,
                    doomed,
                );
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::instruction::Instruction;
    use openflow::messages::flow_mod_flags as ff;
    use openflow::multipart::FlowStatsRequest;
    use openflow::types::eth_type;
    use openflow::{Action, Match, Oxm};
    use std::net::Ipv4Addr;

    fn m(fields: Vec<Oxm>) -> Match {
        Match { fields }
    }

    fn out(port: u32) -> Vec<Instruction> {
        vec![Instruction::ApplyActions(vec![Action::Output {
            port,
            max_len: 0,
        }])]
    }

    fn add(
        p: &mut Pipeline,
        table: u8,
        prio: u16,
        fields: Vec<Oxm>,
        port: u32,
    ) -> Result<(), OfError> {
        let fm = FlowMod {
            table_id: table,
            priority: prio,
            match_: m(fields),
            instructions: out(port),
            ..FlowMod::default()
        };
        p.flow_mod(&fm, 0).map(|_| ())
    }

    fn pipeline() -> Pipeline {
        let mut p = Pipeline::new();
        for n in 1..=4 {
            p.set_port(super::super::ports::PortInfo::new(n));
        }
        p
    }

    fn ip(dst: [u8; 4], mask: Option<[u8; 4]>) -> Vec<Oxm> {
        vec![
            Oxm::EthType(eth_type::IPV4),
            Oxm::Ipv4Dst(Ipv4Addr::from(dst), mask.map(Ipv4Addr::from)),
        ]
    }

    fn all_flows(p: &Pipeline) -> Vec<(u8, u16)> {
        p.select_flows(&FlowStatsRequest::default())
            .unwrap_or_default()
            .iter()
            .map(|e| (e.table_id, e.priority))
            .collect()
    }

    #[test]
    fn add_replaces_identical_and_keeps_counters_unless_reset() {
        let mut p = pipeline();
        add(&mut p, 0, 10, ip([10, 0, 0, 1], None), 1).unwrap();
        let e = p.tables[0].entries().next().unwrap().clone();
        e.counters.hit(100, 5);
        add(&mut p, 0, 10, ip([10, 0, 0, 1], None), 2).unwrap();
        assert_eq!(p.flow_count(), 1);
        let e2 = p.tables[0].entries().next().unwrap().clone();
        assert_eq!(e2.packets(), 1);
        assert_eq!(&*e2.instructions, &out(2)[..]);
        let fm = FlowMod {
            priority: 10,
            match_: m(ip([10, 0, 0, 1], None)),
            flags: ff::RESET_COUNTS,
            instructions: out(3),
            ..FlowMod::default()
        };
        p.flow_mod(&fm, 0).unwrap();
        assert_eq!(p.tables[0].entries().next().unwrap().packets(), 0);
    }

    #[test]
    fn check_overlap() {
        let mut p = pipeline();
        add(&mut p, 0, 10, ip([10, 0, 0, 0], Some([255, 0, 0, 0])), 1).unwrap();
        let over = FlowMod {
            priority: 10,
            match_: m(ip([10, 1, 0, 0], Some([255, 255, 0, 0]))),
            flags: ff::CHECK_OVERLAP,
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&over, 0), Err(OfError::FMFC_OVERLAP));
        // Another priority, or disjoint at the same priority, is fine.
        let mut other = over.clone();
        other.priority = 11;
        assert!(p.flow_mod(&other, 0).is_ok());
        let mut disjoint = over.clone();
        disjoint.match_ = m(ip([11, 0, 0, 0], Some([255, 0, 0, 0])));
        assert!(p.flow_mod(&disjoint, 0).is_ok());
    }

    #[test]
    fn errors() {
        let mut p = pipeline();
        // Prerequisite missing: ipv4_dst without eth_type.
        let bad = FlowMod {
            match_: m(vec![Oxm::Ipv4Dst(Ipv4Addr::new(1, 2, 3, 4), None)]),
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&bad, 0), Err(OfError::BMC_BAD_PREREQ));
        // Goto an earlier table or the same one.
        let back = FlowMod {
            table_id: 3,
            instructions: vec![Instruction::GotoTable(2)],
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&back, 0), Err(OfError::BIC_BAD_TABLE_ID));
        // Unknown output port and group.
        assert_eq!(
            add(&mut p, 0, 1, vec![], 99),
            Err(OfError::BAC_BAD_OUT_PORT)
        );
        let grp = FlowMod {
            instructions: vec![Instruction::ApplyActions(vec![Action::Group(7)])],
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&grp, 0), Err(OfError::BAC_BAD_OUT_GROUP));
        // set_field with a value too big for the field.
        let set = FlowMod {
            match_: m(vec![Oxm::VlanVid(0x1005, None)]),
            instructions: vec![Instruction::ApplyActions(vec![Action::SetField(
                Oxm::VlanPcp(9),
            )])],
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&set, 0), Err(OfError::BAC_BAD_SET_ARGUMENT));
        // Table full.
        Arc::make_mut(&mut p.tables[5]).max_entries = 1;
        add(&mut p, 5, 1, vec![], 1).unwrap();
        assert_eq!(add(&mut p, 5, 2, vec![], 1), Err(OfError::FMFC_TABLE_FULL));
        // Bad command, bad table.
        let cmd = FlowMod {
            command: 9,
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&cmd, 0), Err(OfError::FMFC_BAD_COMMAND));
        let all = FlowMod {
            table_id: 0xff,
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&all, 0), Err(OfError::FMFC_BAD_TABLE_ID));
        // Buffers are not kept.
        let buf = FlowMod {
            buffer_id: 5,
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&buf, 0), Err(OfError::BRC_BUFFER_UNKNOWN));
    }

    #[test]
    fn modify_and_delete_selection() {
        let mut p = pipeline();
        add(&mut p, 0, 10, ip([10, 0, 0, 1], None), 1).unwrap();
        add(&mut p, 0, 20, ip([10, 0, 0, 2], None), 2).unwrap();
        add(&mut p, 1, 10, vec![Oxm::InPort(1)], 3).unwrap();
        // Non-strict modify of every IPv4 flow in table 0.
        let modi = FlowMod {
            command: cmd::MODIFY,
            match_: m(vec![Oxm::EthType(eth_type::IPV4)]),
            instructions: out(4),
            ..FlowMod::default()
        };
        p.flow_mod(&modi, 0).unwrap();
        assert!(p.tables[0].entries().all(|e| *e.instructions == out(4)[..]));
        assert_eq!(
            *p.tables[1].entries().next().unwrap().instructions,
            out(3)[..]
        );
        // Strict delete needs the exact priority.
        let mut del = FlowMod {
            command: cmd::DELETE_STRICT,
            priority: 11,
            match_: m(ip([10, 0, 0, 1], None)),
            ..FlowMod::default()
        };
        p.flow_mod(&del, 0).unwrap();
        assert_eq!(p.flow_count(), 3);
        del.priority = 10;
        p.flow_mod(&del, 0).unwrap();
        assert_eq!(all_flows(&p), vec![(0, 20), (1, 10)]);
        // Delete everywhere with out_port filter.
        let del_out = FlowMod {
            command: cmd::DELETE,
            table_id: 0xff,
            out_port: 3,
            ..FlowMod::default()
        };
        p.flow_mod(&del_out, 0).unwrap();
        assert_eq!(all_flows(&p), vec![(0, 20)]);
    }

    #[test]
    fn cookie_filters_and_flow_removed() {
        let mut p = pipeline();
        for (c, prio) in [(0x10, 1), (0x11, 2), (0x20, 3)] {
            let fm = FlowMod {
                cookie: c,
                priority: prio,
                flags: ff::SEND_FLOW_REM,
                instructions: out(1),
                match_: m(vec![Oxm::InPort(u32::from(prio))]),
                ..FlowMod::default()
            };
            p.flow_mod(&fm, 0).unwrap();
        }
        let del = FlowMod {
            command: cmd::DELETE,
            table_id: 0xff,
            cookie: 0x10,
            cookie_mask: 0xf0,
            ..FlowMod::default()
        };
        let ev = p.flow_mod(&del, 2_500_000_000).unwrap();
        assert_eq!(ev.len(), 2);
        for e in ev {
            let Event::FlowRemoved(fr) = e;
            assert_eq!(fr.reason, flow_removed_reason::DELETE);
            assert_eq!(fr.duration_sec, 2);
            assert!(fr.cookie & 0xf0 == 0x10);
        }
        assert_eq!(all_flows(&p), vec![(0, 3)]);
    }

    #[test]
    fn timeouts() {
        let s = 1_000_000_000u64;
        let mut p = pipeline();
        let idle = FlowMod {
            priority: 1,
            idle_timeout: 5,
            flags: ff::SEND_FLOW_REM,
            match_: m(vec![Oxm::InPort(1)]),
            ..FlowMod::default()
        };
        let hard = FlowMod {
            priority: 2,
            hard_timeout: 10,
            flags: ff::SEND_FLOW_REM,
            match_: m(vec![Oxm::InPort(2)]),
            ..FlowMod::default()
        };
        p.flow_mod(&idle, 0).unwrap();
        p.flow_mod(&hard, 0).unwrap();
        // Traffic keeps the idle entry alive.
        let e = p.tables[0]
            .entries()
            .find(|e| e.priority == 1)
            .unwrap()
            .clone();
        e.counters.hit(60, 4 * s);
        assert!(p.expire(8 * s).is_empty());
        let ev = p.expire(9 * s);
        assert_eq!(ev.len(), 1);
        let Event::FlowRemoved(fr) = &ev[0];
        assert_eq!(
            (fr.priority, fr.reason),
            (1, flow_removed_reason::IDLE_TIMEOUT)
        );
        let ev = p.expire(10 * s);
        let Event::FlowRemoved(fr) = &ev[0];
        assert_eq!(
            (fr.priority, fr.reason),
            (2, flow_removed_reason::HARD_TIMEOUT)
        );
        assert_eq!(p.flow_count(), 0);
        assert!(!p.has_timeouts());
    }

    #[test]
    fn replaced_and_modified_entries_keep_their_own_deadlines() {
        let s = 1_000_000_000u64;
        let mut p = pipeline();
        let fm = FlowMod {
            priority: 1,
            hard_timeout: 5,
            flags: ff::SEND_FLOW_REM,
            match_: m(vec![Oxm::InPort(1)]),
            instructions: out(2),
            ..FlowMod::default()
        };
        p.flow_mod(&fm, 0).unwrap();
        // Re-adding at 3 s restarts the hard timeout: the first entry's
        // deadline (5 s) must not remove the second one.
        p.flow_mod(&fm, 3 * s).unwrap();
        assert!(p.expire(6 * s).is_empty());
        assert_eq!(p.flow_count(), 1);
        // MODIFY keeps the timeouts and the creation time (OpenFlow 1.3).
        let modi = FlowMod {
            command: cmd::MODIFY_STRICT,
            priority: 1,
            match_: m(vec![Oxm::InPort(1)]),
            instructions: out(3),
            ..FlowMod::default()
        };
        p.flow_mod(&modi, 7 * s).unwrap();
        let ev = p.expire(8 * s);
        assert_eq!(ev.len(), 1);
        assert_eq!(p.flow_count(), 0);
        // A deleted entry's item is dropped without effect.
        p.flow_mod(&fm, 10 * s).unwrap();
        let del = FlowMod {
            command: cmd::DELETE,
            table_id: 0xff,
            ..FlowMod::default()
        };
        assert_eq!(p.flow_mod(&del, 11 * s).unwrap().len(), 1);
        assert!(p.expire(20 * s).is_empty());
        assert!(!p.has_timeouts());
    }

    #[test]
    fn strict_and_narrowed_selections_in_a_big_table() {
        // One match shape, as a learning controller installs: deleting one
        // entry strictly or by its exact match finds it without a scan, and
        // a broader match still finds every covered entry.
        let mut p = pipeline();
        for i in 0..2_000u32 {
            let fm = FlowMod {
                priority: 100,
                cookie: u64::from(i % 2),
                match_: m(vec![
                    Oxm::VlanVid(0x1000 | (i % 4) as u16, None),
                    Oxm::EthDst(
                        openflow::types::MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
                        None,
                    ),
                ]),
                instructions: out(1),
                ..FlowMod::default()
            };
            p.flow_mod(&fm, 0).unwrap();
        }
        let one = |vlan: u16, i: u32| {
            m(vec![
                Oxm::VlanVid(0x1000 | vlan, None),
                Oxm::EthDst(
                    openflow::types::MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
                    None,
                ),
            ])
        };
        let del_strict = FlowMod {
            command: cmd::DELETE_STRICT,
            priority: 100,
            match_: one(1, 5),
            ..FlowMod::default()
        };
        p.flow_mod(&del_strict, 0).unwrap();
        assert_eq!(p.flow_count(), 1_999);
        let del_exact = FlowMod {
            command: cmd::DELETE,
            match_: one(2, 6),
            ..FlowMod::default()
        };
        p.flow_mod(&del_exact, 0).unwrap();
        assert_eq!(p.flow_count(), 1_998);
        let del_vlan = FlowMod {
            command: cmd::DELETE,
            match_: m(vec![Oxm::VlanVid(0x1003, None)]),
            ..FlowMod::default()
        };
        p.flow_mod(&del_vlan, 0).unwrap();
        assert_eq!(p.flow_count(), 1_498);
        let del_cookie = FlowMod {
            command: cmd::DELETE,
            table_id: 0xff,
            cookie: 1,
            cookie_mask: u64::MAX,
            ..FlowMod::default()
        };
        p.flow_mod(&del_cookie, 0).unwrap();
        // Odd i had cookie 1; VLAN 3 (i % 4 == 3) was odd and is gone, so
        // 500 of VLAN 1 remain minus the one deleted strictly (i = 5).
        assert_eq!(p.flow_count(), 1_498 - 499);
    }
}
