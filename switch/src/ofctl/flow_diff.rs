//! `replace-flows` and `diff-flows`: two sets of flows compared as
//! ovs-ofctl compares them, so that a flow table can be kept as a text file
//! (the switch made to hold exactly the file's flows, touching only those
//! that differ) and checked against it.
//!
//! A flow's identity is its table, priority and match; the match is taken
//! by its ovs-ofctl text, which lists the fields in one fixed order, so the
//! order the OXM fields came in (a parsed file, a switch's reply) does not
//! matter. Two flows with one identity are the same when their cookie,
//! timeouts and instructions agree, as in ovs-ofctl (`fte_version_equals`;
//! counters and flags aside). One difference from ovs-ofctl: its identity
//! leaves out the table, so a file with one match at one priority in two
//! tables keeps only one of them; here both are kept.

use openflow::messages::{flow_mod_command, FlowMod};
use openflow::multipart::FlowStats;
use openflow::ofctl::format::{actions_to_string, match_with_priority};
use openflow::types::{group_no, port_no};
use openflow::{Instruction, Match};
use std::cmp::Reverse;
use std::collections::BTreeMap;

/// One flow of a set: what identifies it and what a comparison looks at.
#[derive(Clone, Debug)]
pub struct Flow {
    pub table_id: u8,
    pub priority: u16,
    pub match_: Match,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub instructions: Vec<Instruction>,
    /// For a flow read from a file: the FLOW_MOD that adds it (with its
    /// flags) and where it was (`FILE:LINE`), for error messages.
    pub add: Option<(FlowMod, String)>,
}

/// Flows by identity: table, then priority from the highest, then match.
/// A later flow with an identity already present replaces it, as a
/// FLOW_MOD ADD does on a switch.
pub type FlowSet = BTreeMap<(u8, Reverse<u16>, String), Flow>;

impl Flow {
    fn key(&self) -> (u8, Reverse<u16>, String) {
        (
            self.table_id,
            Reverse(self.priority),
            match_with_priority(&self.match_, self.priority),
        )
    }

    /// Whether `o` is the same version of this flow.
    fn same(&self, o: &Flow) -> bool {
        self.cookie == o.cookie
            && self.idle_timeout == o.idle_timeout
            && self.hard_timeout == o.hard_timeout
            && actions_to_string(&self.instructions) == actions_to_string(&o.instructions)
    }

    /// The flow as `ovs-ofctl diff-flows` prints it:
    /// `table=N priority=P,MATCH cookie=C idle_timeout=I hard_timeout=H actions=A`,
    /// each part only when it is not the default.
    pub fn line(&self) -> String {
        let mut s = String::new();
        if self.table_id != 0 {
            s.push_str(&format!("table={} ", self.table_id));
        }
        s.push_str(&match_with_priority(&self.match_, self.priority));
        if self.cookie != 0 {
            s.push_str(&format!(" cookie={:#x}", self.cookie));
        }
        if self.idle_timeout != 0 {
            s.push_str(&format!(" idle_timeout={}", self.idle_timeout));
        }
        if self.hard_timeout != 0 {
            s.push_str(&format!(" hard_timeout={}", self.hard_timeout));
        }
        s.push_str(" actions=");
        s.push_str(&actions_to_string(&self.instructions));
        s
    }

    /// A DELETE_STRICT of exactly this flow.
    fn delete_strict(&self) -> FlowMod {
        FlowMod {
            command: flow_mod_command::DELETE_STRICT,
            table_id: self.table_id,
            priority: self.priority,
            match_: self.match_.clone(),
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            ..FlowMod::default()
        }
    }
}

/// The flows of a file: each line's FLOW_MOD ADD, with its label.
pub fn from_flow_mods(mods: Vec<(FlowMod, String)>) -> FlowSet {
    let mut set = FlowSet::new();
    for (fm, label) in mods {
        let flow = Flow {
            table_id: fm.table_id,
            priority: fm.priority,
            match_: fm.match_.clone(),
            cookie: fm.cookie,
            idle_timeout: fm.idle_timeout,
            hard_timeout: fm.hard_timeout,
            instructions: fm.instructions.clone(),
            add: Some((fm, label)),
        };
        set.insert(flow.key(), flow);
    }
    set
}

/// The flows a switch reported.
pub fn from_flow_stats<'a>(stats: impl IntoIterator<Item = &'a FlowStats>) -> FlowSet {
    let mut set = FlowSet::new();
    for fs in stats {
        let flow = Flow {
            table_id: fs.table_id,
            priority: fs.priority,
            match_: fs.match_.clone(),
            cookie: fs.cookie,
            idle_timeout: fs.idle_timeout,
            hard_timeout: fs.hard_timeout,
            instructions: fs.instructions.clone(),
            add: None,
        };
        set.insert(flow.key(), flow);
    }
    set
}

/// What `diff-flows A B` prints: `-` and a flow only in `a` or different
/// there, `+` and a flow only in `b` or different there; in the sets'
/// order, a changed flow's two lines together. Empty when they agree.
pub fn diff(a: &FlowSet, b: &FlowSet) -> Vec<String> {
    let mut keys: Vec<_> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x.same(y) => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push(format!("-{}", x.line()));
                }
                if let Some(y) = y {
                    out.push(format!("+{}", y.line()));
                }
            }
        }
    }
    out
}

/// What `replace-flows` sends to make a switch holding `switch` hold
/// `file`: a DELETE_STRICT for every flow only on the switch, then an ADD
/// for every flow of the file the switch lacks or holds in another version
/// (every one with `readd`), each with its label; unchanged flows are not
/// touched (their counters go on).
pub fn replace(switch: &FlowSet, file: &FlowSet, readd: bool) -> Vec<(FlowMod, String)> {
    let mut mods: Vec<(FlowMod, String)> = switch
        .iter()
        .filter(|(k, _)| !file.contains_key(*k))
        .map(|(_, f)| (f.delete_strict(), String::new()))
        .collect();
    for (k, f) in file {
        let unchanged = switch.get(k).is_some_and(|s| s.same(f));
        if readd || !unchanged {
            if let Some(add) = &f.add {
                mods.push(add.clone());
            }
        }
    }
    mods
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::ofctl::parse::parse_flow_mod;

    fn file(lines: &[&str]) -> FlowSet {
        from_flow_mods(
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let fm = parse_flow_mod(l, flow_mod_command::ADD).expect("flow");
                    (fm, format!("f:{}", i + 1))
                })
                .collect(),
        )
    }

    /// The flows as a switch would report them (with counters, which the
    /// comparison ignores).
    fn switch(lines: &[&str]) -> FlowSet {
        let stats: Vec<FlowStats> = file(lines)
            .into_values()
            .map(|f| FlowStats {
                table_id: f.table_id,
                duration_sec: 5,
                duration_nsec: 0,
                priority: f.priority,
                idle_timeout: f.idle_timeout,
                hard_timeout: f.hard_timeout,
                flags: 0,
                cookie: f.cookie,
                packet_count: 7,
                byte_count: 700,
                match_: f.match_,
                instructions: f.instructions,
            })
            .collect();
        from_flow_stats(&stats)
    }

    #[test]
    fn lines_print_as_ovs_ofctl_diff_flows_prints_them() {
        let set = file(&[
            "actions=drop",
            "table=1,actions=drop",
            "table=2,priority=5,cookie=0x7,tcp,tp_dst=80,idle_timeout=30,hard_timeout=60,actions=drop",
            "priority=10,ip,nw_dst=10.0.0.1,actions=output:1",
        ]);
        let lines: Vec<String> = set.values().map(Flow::line).collect();
        assert_eq!(
            lines,
            [
                " actions=drop",
                "priority=10,ip,nw_dst=10.0.0.1 actions=output:1",
                "table=1  actions=drop",
                "table=2 priority=5,tcp,tp_dst=80 cookie=0x7 idle_timeout=30 hard_timeout=60 actions=drop",
            ]
        );
    }

    #[test]
    fn diff_names_what_differs_and_nothing_else() {
        let a = file(&[
            "priority=10,ip,nw_dst=10.0.0.1,actions=output:1",
            "table=2,priority=5,cookie=0x7,tcp,tp_dst=80,actions=drop",
            "arp,actions=NORMAL",
        ]);
        // The same flows with their fields in another order, one changed,
        // one gone, one new.
        let b = switch(&[
            "priority=10,nw_dst=10.0.0.1,ip,actions=output:2",
            "table=2,priority=5,tp_dst=80,tcp,cookie=0x7,actions=drop",
            "priority=0,actions=CONTROLLER:65535",
        ]);
        assert_eq!(
            diff(&a, &b),
            [
                "-arp actions=NORMAL",
                "-priority=10,ip,nw_dst=10.0.0.1 actions=output:1",
                "+priority=10,ip,nw_dst=10.0.0.1 actions=output:2",
                "+priority=0 actions=CONTROLLER:65535",
            ]
        );
        assert!(diff(&a, &a).is_empty());
        // Counters and durations are no difference.
        let a = file(&["ip,actions=output:1"]);
        assert!(diff(&a, &switch(&["ip,actions=output:1"])).is_empty());
    }

    #[test]
    fn one_match_in_two_tables_is_two_flows() {
        let a = file(&["table=1,ip,actions=drop", "table=2,ip,actions=drop"]);
        assert_eq!(a.len(), 2);
        // A later line for the same flow replaces the earlier one.
        let a = file(&["ip,actions=drop", "ip,actions=output:1"]);
        assert_eq!(a.len(), 1);
        assert_eq!(
            a.values().next().map(Flow::line).as_deref(),
            Some("ip actions=output:1")
        );
    }

    #[test]
    fn replace_deletes_what_the_file_lacks_and_adds_only_what_differs() {
        let sw = switch(&[
            "priority=10,ip,actions=output:1",
            "priority=5,arp,actions=NORMAL",
            "table=3,tcp,actions=drop",
        ]);
        let f = file(&[
            "priority=10,ip,actions=output:1",
            "priority=5,arp,actions=drop",
            "priority=1,actions=CONTROLLER:65535",
        ]);
        let mods = replace(&sw, &f, false);
        let what: Vec<(u8, u8, u16, String)> = mods
            .iter()
            .map(|(m, label)| (m.command, m.table_id, m.priority, label.clone()))
            .collect();
        assert_eq!(
            what,
            [
                (flow_mod_command::DELETE_STRICT, 3, 0x8000, String::new()),
                (flow_mod_command::ADD, 0, 5, "f:2".to_string()),
                (flow_mod_command::ADD, 0, 1, "f:3".to_string()),
            ]
        );
        // --readd: every flow of the file is added again.
        assert_eq!(replace(&sw, &f, true).len(), 4);
        // Nothing to do when they agree.
        assert!(replace(
            &switch(&["ip,actions=drop"]),
            &file(&["ip,actions=drop"]),
            false
        )
        .is_empty());
    }
}
