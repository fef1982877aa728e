//! One connected switch, sans-IO: OpenFlow events in, messages to send out.
//!
//! This is the seam for the networked part. A connection task owns one
//! [`Session`] per switch, feeds it what the switch says (its ports after
//! FEATURES/PORT_DESC, PACKET_IN, PORT_STATUS), a reload, and a clock tick,
//! and sends the returned [`Out`] messages in order. Nothing here knows
//! about sockets, so the whole sequence is tested in memory.
//!
//! Ordering: where a step both deletes and adds, an [`Out::Barrier`] sits
//! between them (a switch may reorder messages between barriers, and a
//! non-strict delete must not remove a flow added after it).

use crate::learning::{parse_packet_in, MacTable, Timeouts, Verdict};
use crate::pipeline::{self, Changes};
use crate::policy::{Policy, View};
use openflow::group::GroupMod;
use openflow::messages::{FlowMod, PacketIn};
use openflow::port::{config, reason, state, Port, PortStatus};
use std::collections::BTreeMap;

/// A message for the switch.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    Flow(FlowMod),
    Group(GroupMod),
    Barrier,
}

/// Whether a port takes part: administratively up and with a link.
pub fn is_live(p: &Port) -> bool {
    p.config & config::PORT_DOWN == 0 && p.state & state::LINK_DOWN == 0
}

/// Deletes, a barrier if needed, then adds.
pub fn sequence(ch: Changes) -> Vec<Out> {
    let mut out: Vec<Out> = ch.delete.into_iter().map(Out::Flow).collect();
    if !out.is_empty() && !ch.add.is_empty() {
        out.push(Out::Barrier);
    }
    out.extend(ch.add.into_iter().map(Out::Flow));
    out
}

/// The controller's state for one switch.
#[derive(Clone, Debug)]
pub struct Session {
    pub dpid: u64,
    /// Every port the switch reported, live or not.
    ports: BTreeMap<u32, Port>,
    view: View,
    macs: MacTable,
    refused: RefusedLog,
}

/// How often at most a switch logs the sources a MAC limit refused.
pub const REFUSED_LOG_EVERY: u64 = 60;

/// The sources a limit (`max_hosts`, `max_macs`) kept from being learned
/// since the last log line: one line per [`REFUSED_LOG_EVERY`] seconds, so
/// a port flooding random MACs does not flood the log as well.
#[derive(Clone, Debug, Default)]
struct RefusedLog {
    count: u64,
    logged_at: Option<u64>,
}

impl RefusedLog {
    /// Counts one; if a line is due now, the count since the last one
    /// (which then starts again).
    fn refuse(&mut self, now: u64) -> Option<u64> {
        self.count += 1;
        if self
            .logged_at
            .is_some_and(|t| now.saturating_sub(t) < REFUSED_LOG_EVERY)
        {
            return None;
        }
        self.logged_at = Some(now);
        Some(std::mem::take(&mut self.count))
    }
}

impl Session {
    pub fn new(dpid: u64, timeouts: Timeouts) -> Session {
        Session {
            dpid,
            ports: BTreeMap::new(),
            view: View::default(),
            macs: MacTable::new(timeouts),
            refused: RefusedLog::default(),
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    pub fn macs(&self) -> &MacTable {
        &self.macs
    }

    /// Every port the switch reported, live or not, by number.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.values()
    }

    fn compute_view(&self, policy: &Policy) -> View {
        policy.view(
            self.dpid,
            self.ports
                .values()
                .filter(|p| is_live(p))
                .map(|p| (p.port_no, p.name.as_str())),
        )
    }

    /// On connect (after FEATURES and PORT_DESC): delete every flow and
    /// group, barrier, install the pipeline, barrier. Learned state starts
    /// afresh, since the switch's flows are gone.
    pub fn connect(&mut self, policy: &Policy, ports: &[Port]) -> Vec<Out> {
        self.ports = ports.iter().map(|p| (p.port_no, p.clone())).collect();
        self.view = self.compute_view(policy);
        self.macs = MacTable::new(self.macs.timeouts);
        let mut out = vec![
            Out::Flow(pipeline::delete_all()),
            Out::Group(pipeline::delete_all_groups()),
            Out::Barrier,
        ];
        out.extend(
            pipeline::switch_flows(&self.view)
                .into_iter()
                .map(Out::Flow),
        );
        out.push(Out::Barrier);
        out
    }

    /// A new policy (SIGHUP, `ofcontroller reload`): only the flows the
    /// change concerns.
    pub fn reload(&mut self, policy: &Policy) -> Vec<Out> {
        let new = self.compute_view(policy);
        self.move_to(new)
    }

    /// A port added, removed or changed (a port that goes down loses its
    /// flows and MACs; one that comes up gets its flows).
    pub fn port_status(&mut self, policy: &Policy, ps: &PortStatus) -> Vec<Out> {
        match ps.reason {
            reason::DELETE => {
                self.ports.remove(&ps.desc.port_no);
            }
            _ => {
                self.ports.insert(ps.desc.port_no, ps.desc.clone());
            }
        }
        let new = self.compute_view(policy);
        self.move_to(new)
    }

    fn move_to(&mut self, new: View) -> Vec<Out> {
        let mut forget = self
            .macs
            .forget_ports(&pipeline::ports_to_forget(&self.view, &new));
        let diff = pipeline::diff(&self.view, &new);
        self.view = new;
        // MAC deletes are non-strict: they go before the pipeline's adds.
        forget.extend(diff);
        sequence(forget)
    }

    /// A packet-in: what it taught, and the flows to send. `None` for a
    /// packet-in that is not ours to read (no in_port, untagged, short).
    pub fn packet_in(&mut self, pi: &PacketIn, now: u64) -> (Option<Verdict>, Vec<Out>) {
        match parse_packet_in(pi) {
            Some(info) => {
                let (v, ch) = self.macs.packet_in(&self.view, &info, now);
                let why = match v {
                    Verdict::LimitReached => Some("its VLAN has max_hosts MACs"),
                    Verdict::TableFull => Some("the switch has max_macs MACs"),
                    _ => None,
                };
                if let Some(why) = why {
                    if let Some(n) = self.refused.refuse(now) {
                        tracing::warn!(
                            "switch {:016x}: {n} new source MAC(s) not learned since the last such line \
                             (latest {} on port {}, VLAN {}): {why} (max_macs {})",
                            self.dpid,
                            info.eth_src,
                            info.in_port,
                            info.vid,
                            self.view.max_macs
                        );
                    }
                }
                (Some(v), sequence(ch))
            }
            None => (None, Vec::new()),
        }
    }

    /// Aging, once in a while (every few seconds is plenty).
    pub fn tick(&mut self, now: u64) -> Vec<Out> {
        sequence(self.macs.expire(now))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openflow::messages::flow_mod_command;
    use openflow::oxm::{Match, Oxm};
    use openflow::MacAddr;

    pub(crate) fn port(no: u32, name: &str) -> Port {
        Port {
            port_no: no,
            hw_addr: MacAddr([0, 0, 0, 0, 0, no as u8]),
            name: name.into(),
            ..Port::default()
        }
    }

    pub(crate) const POLICY: &str = r#"
[vlans.a]
vid = 10
[vlans.b]
vid = 20
[switches.s]
dpid = 1
[switches.s.ports]
1 = { access = "a" }
2 = { access = "a" }
3 = { access = "b" }
"#;

    /// A tagged broadcast from `02:00:00:00:00:SRC`.
    pub(crate) fn packet_in(in_port: u32, vid: u16, src: u8) -> PacketIn {
        let mut data = vec![0xff; 6];
        data.extend([2, 0, 0, 0, 0, src, 0x81, 0]);
        data.extend(vid.to_be_bytes());
        data.extend([0x08, 0x00]);
        PacketIn {
            buffer_id: openflow::types::NO_BUFFER,
            total_len: data.len() as u16,
            reason: 0,
            table_id: 1,
            cookie: 0,
            match_: Match::new().with(Oxm::InPort(in_port)),
            data,
        }
    }

    #[test]
    fn connect_clears_then_installs_then_barriers() {
        let policy = Policy::parse(POLICY).expect("valid");
        let mut s = Session::new(1, Timeouts::default());
        let out = s.connect(&policy, &[port(1, "p1"), port(2, "p2"), port(3, "p3")]);
        assert_eq!(out[0], Out::Flow(pipeline::delete_all()));
        assert!(matches!(&out[1], Out::Group(g) if g.command == openflow::group::command::DELETE));
        assert_eq!(out[2], Out::Barrier);
        assert_eq!(out.last(), Some(&Out::Barrier));
        assert_eq!(out.len(), 4 + pipeline::switch_flows(s.view()).len());
    }

    #[test]
    fn port_down_loses_flows_and_macs_and_up_brings_them_back() {
        let policy = Policy::parse(POLICY).expect("valid");
        let mut s = Session::new(1, Timeouts::default());
        s.connect(&policy, &[port(1, "p1"), port(2, "p2"), port(3, "p3")]);
        let (v, out) = s.packet_in(&packet_in(2, 10, 7), 0);
        assert_eq!(v, Some(Verdict::Learned));
        assert_eq!(out.len(), 2);
        let mut down = port(2, "p2");
        down.state = state::LINK_DOWN;
        let out = s.port_status(
            &policy,
            &PortStatus {
                reason: reason::MODIFY,
                desc: down,
            },
        );
        assert!(s.macs().is_empty());
        // Deletes (MACs non-strict, pipeline strict) all come before any add.
        let is_add = |o: &Out| matches!(o, Out::Flow(f) if f.command == flow_mod_command::ADD);
        let first_add = out.iter().position(is_add).unwrap_or(out.len());
        assert!(out[first_add..]
            .iter()
            .all(|o| is_add(o) || *o == Out::Barrier));
        assert!(out[..first_add].iter().any(|o| matches!(o, Out::Flow(f)
            if f.command == flow_mod_command::DELETE
                && f.match_.get(openflow::OxmField::EthDst).is_some())));
        assert!(!s.view().ports.contains_key(&2));
        let out = s.port_status(
            &policy,
            &PortStatus {
                reason: reason::MODIFY,
                desc: port(2, "p2"),
            },
        );
        assert!(out
            .iter()
            .all(|o| matches!(o, Out::Flow(f) if f.command == flow_mod_command::ADD)));
        assert!(s.view().ports.contains_key(&2));
        // A packet-in we cannot read changes nothing.
        let mut junk = packet_in(1, 10, 1);
        junk.data.truncate(10);
        assert_eq!(s.packet_in(&junk, 0), (None, Vec::new()));
    }

    #[test]
    fn reload_sends_only_the_difference() {
        let policy = Policy::parse(POLICY).expect("valid");
        let mut s = Session::new(1, Timeouts::default());
        s.connect(&policy, &[port(1, "p1"), port(2, "p2"), port(3, "p3")]);
        assert!(s.reload(&policy).is_empty());
        s.packet_in(&packet_in(1, 10, 1), 0);
        let changed =
            Policy::parse(&POLICY.replace("3 = { access = \"b\" }", "3 = { access = \"a\" }"))
                .expect("valid");
        let out = s.reload(&changed);
        assert!(!out.is_empty());
        // Port 1's MAC survives; nothing deletes it.
        assert_eq!(s.macs().len(10), 1);
        assert!(out.iter().all(|o| match o {
            Out::Flow(f) =>
                f.match_.get(openflow::OxmField::EthSrc).is_none()
                    && f.match_.get(openflow::OxmField::EthDst).is_none(),
            _ => true,
        }));
        // Aging.
        assert!(s.tick(10).is_empty());
        assert_eq!(s.tick(1000).len(), 2);
    }
}
