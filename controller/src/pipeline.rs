//! The flow tables the controller programs, and the flows a switch's ports need.
//!
//! Four tables, after Faucet's layout (vlan → eth_src → eth_dst → flood),
//! without its ACL, routing and stacking tables:
//!
//! | table | name | holds |
//! |---|---|---|
//! | 0 | `vlan` | ingress: access port, untagged → push its VLAN; trunk → its allowed tags only; tunnel, untagged, by tunnel id → push that VLAN and mark "from a tunnel" in metadata bit 0; everything else (a tagged frame from an access port: forged or double tags) is dropped by the table miss |
//! | 1 | `eth_src` | learned `in_port, vlan, eth_src` → go on; multicast sources dropped; miss: to the controller (first 128 bytes) *and* go on, so an unknown or moved source is learned while its frame is still delivered |
//! | 2 | `eth_dst` | learned `vlan, eth_dst` → out of the host's port (pop the tag on access ports; set the tunnel id and pop on tunnels; keep it on trunks); for hosts behind a tunnel, a higher-priority drop for frames that came from a tunnel; miss → flood |
//! | 3 | `flood` | per VLAN and in_port: every other port of the VLAN; from a tunnel, no tunnel (split horizon) |
//!
//! Why this shape: the VLAN is decided once, at ingress, and carried as a
//! real 802.1Q tag through the later tables, so every later match includes
//! it and no table can mix VLANs. Dropping whatever table 0 does not know
//! is what keeps forged and double tags out. Because the table-1 miss both
//! reports and continues, the controller never has to send the packet
//! itself (no PACKET_OUT), and once sources are learned nothing reaches it.
//! Split horizon is enforced twice: flood flows of a tunnel in_port leave
//! the tunnels out, and unicast between two tunnels is dropped, so a full
//! mesh of tunnels has neither a broadcast loop nor a unicast ping-pong
//! between two switches with stale tables.
//!
//! Cookies name the app: the bytes of `"ofc:vlan"` for the pipeline (the
//! `vlans` app) and `"ofc:lrn\0"` for learned flows (the `learning` app), so
//! `dump-flows` shows whose flow it is and a delete can target one app.
//!
//! A reload or a port change computes the whole pipeline for the old and the
//! new [`View`] and sends only the difference ([`diff`]): a flow present
//! only in the old set is deleted (strictly), a new or changed one added.

use crate::policy::{PortRole, Vid, View};
use openflow::action::Action;
use openflow::group::GroupMod;
use openflow::instruction::Instruction;
use openflow::messages::{flow_mod_command, FlowMod};
use openflow::oxm::{Match, Oxm};
use openflow::types::{eth_type, port_no, table_no, vlan};
use std::collections::BTreeMap;

/// Table ids.
pub mod table {
    pub const VLAN: u8 = 0;
    pub const ETH_SRC: u8 = 1;
    pub const ETH_DST: u8 = 2;
    pub const FLOOD: u8 = 3;
    /// Names, as in Faucet, for logs and `dump-flows` readers.
    pub const NAMES: [&str; 4] = ["vlan", "eth_src", "eth_dst", "flood"];
    /// Each table with its name, as the controller names them on the switch
    /// (see [`crate::tables`]).
    pub const NAMED: [(u8, &str); 4] = [
        (VLAN, NAMES[0]),
        (ETH_SRC, NAMES[1]),
        (ETH_DST, NAMES[2]),
        (FLOOD, NAMES[3]),
    ];
}

/// Cookies naming the app that owns a flow.
pub mod cookie {
    /// The `vlans` app: the pipeline itself.
    pub const VLANS: u64 = u64::from_be_bytes(*b"ofc:vlan");
    /// The `learning` app: learned MACs.
    pub const LEARNING: u64 = u64::from_be_bytes(*b"ofc:lrn\0");
}

/// Priorities.
pub mod prio {
    pub const MISS: u16 = 0;
    pub const PORT: u16 = 100;
    /// Above [`PORT`]: a drop that must beat the port's own flow.
    pub const DROP: u16 = 110;
    pub const LEARNED: u16 = 100;
    pub const SPLIT_HORIZON: u16 = 110;
    pub const SRC_MULTICAST: u16 = 200;
}

/// Metadata bit 0: the frame came in from a tunnel.
pub const FROM_TUNNEL: u64 = 1;

/// How many bytes of a frame the table-1 miss sends to the controller:
/// enough for two tags and the Ethernet header.
pub const PACKET_IN_BYTES: u16 = 128;

/// The flows to send, in two steps: the deletes, a barrier, then the adds
/// (OpenFlow lets a switch reorder messages between barriers, and a
/// non-strict delete could otherwise remove a flow added after it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub delete: Vec<FlowMod>,
    pub add: Vec<FlowMod>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.add.is_empty()
    }

    pub fn extend(&mut self, other: Changes) {
        self.delete.extend(other.delete);
        self.add.extend(other.add);
    }
}

fn vid_present(vid: Vid) -> Oxm {
    Oxm::VlanVid(vlan::PRESENT | vid, None)
}

fn flow(
    table_id: u8,
    priority: u16,
    cookie: u64,
    match_: Match,
    instructions: Vec<Instruction>,
) -> FlowMod {
    FlowMod {
        cookie,
        table_id,
        priority,
        match_,
        instructions,
        ..FlowMod::default()
    }
}

/// Deletes every flow in every table (sent on connect, before
/// [`switch_flows`]; groups are deleted with a GROUP_MOD DELETE of
/// OFPG_ALL, and a barrier follows).
pub fn delete_all() -> FlowMod {
    FlowMod {
        table_id: table_no::ALL,
        command: flow_mod_command::DELETE,
        ..FlowMod::default()
    }
}

/// The table misses and fixed flows, the same on every switch.
pub fn base_flows() -> Vec<FlowMod> {
    let multicast = openflow::MacAddr([1, 0, 0, 0, 0, 0]);
    vec![
        // vlan: what no port flow accepts is dropped.
        flow(table::VLAN, prio::MISS, cookie::VLANS, Match::new(), vec![]),
        // eth_src: a multicast source is never learned nor forwarded.
        flow(
            table::ETH_SRC,
            prio::SRC_MULTICAST,
            cookie::VLANS,
            Match::new().with(Oxm::EthSrc(multicast, Some(multicast))),
            vec![],
        ),
        // eth_src miss: tell the controller, and go on.
        flow(
            table::ETH_SRC,
            prio::MISS,
            cookie::VLANS,
            Match::new(),
            vec![
                Instruction::ApplyActions(vec![Action::Output {
                    port: port_no::CONTROLLER,
                    max_len: PACKET_IN_BYTES,
                }]),
                Instruction::GotoTable(table::ETH_DST),
            ],
        ),
        // eth_dst miss: flood.
        flow(
            table::ETH_DST,
            prio::MISS,
            cookie::VLANS,
            Match::new(),
            vec![Instruction::GotoTable(table::FLOOD)],
        ),
        // flood miss: drop.
        flow(
            table::FLOOD,
            prio::MISS,
            cookie::VLANS,
            Match::new(),
            vec![],
        ),
    ]
}

/// The ingress (table 0) flows of one port.
pub fn ingress_flows(view: &View, port: u32, role: &PortRole) -> Vec<FlowMod> {
    let in_port = Oxm::InPort(port);
    let goto = Instruction::GotoTable(table::ETH_SRC);
    let push = |vid: Vid| {
        Instruction::ApplyActions(vec![
            Action::PushVlan(eth_type::VLAN),
            Action::SetField(vid_present(vid)),
        ])
    };
    let mut out = Vec::new();
    match role {
        PortRole::Access(vid) => {
            if !view.vlans.contains_key(vid) {
                return out;
            }
            // An 802.1ad outer tag is not a VLAN tag to OpenFlow's vlan_vid:
            // drop it explicitly, as table 0 drops 802.1Q-tagged frames.
            out.push(flow(
                table::VLAN,
                prio::DROP,
                cookie::VLANS,
                Match::new()
                    .with(in_port.clone())
                    .with(Oxm::VlanVid(vlan::NONE, None))
                    .with(Oxm::EthType(eth_type::QINQ)),
                vec![],
            ));
            out.push(flow(
                table::VLAN,
                prio::PORT,
                cookie::VLANS,
                Match::new()
                    .with(in_port)
                    .with(Oxm::VlanVid(vlan::NONE, None)),
                vec![push(*vid), goto],
            ));
        }
        PortRole::Trunk(vids) => {
            for vid in vids.iter().filter(|v| view.vlans.contains_key(v)) {
                out.push(flow(
                    table::VLAN,
                    prio::PORT,
                    cookie::VLANS,
                    Match::new().with(in_port.clone()).with(vid_present(*vid)),
                    vec![goto.clone()],
                ));
            }
        }
        PortRole::Tunnel => {
            for vid in view.local_vlans() {
                let Some(tid) = view.tunnel_id(vid) else {
                    continue;
                };
                out.push(flow(
                    table::VLAN,
                    prio::PORT,
                    cookie::VLANS,
                    Match::new()
                        .with(in_port.clone())
                        .with(Oxm::TunnelId(tid, None))
                        .with(Oxm::VlanVid(vlan::NONE, None)),
                    vec![
                        push(vid),
                        Instruction::WriteMetadata {
                            metadata: FROM_TUNNEL,
                            mask: FROM_TUNNEL,
                        },
                        goto.clone(),
                    ],
                ));
            }
        }
    }
    out
}

/// The actions that send a frame tagged `vid` out of `ports` (all of which
/// carry `vid`), each in the form its role wants: trunks first while the
/// tag is on, then pop it for access ports, then set the tunnel id for tunnels.
pub fn output_actions(view: &View, vid: Vid, ports: &[u32]) -> Vec<Action> {
    let (mut trunks, mut access, mut tunnels) = (Vec::new(), Vec::new(), Vec::new());
    for p in ports {
        match view.ports.get(p) {
            Some(PortRole::Trunk(_)) => trunks.push(*p),
            Some(PortRole::Access(_)) => access.push(*p),
            Some(PortRole::Tunnel) => tunnels.push(*p),
            None => {}
        }
    }
    let mut acts: Vec<Action> = trunks.into_iter().map(Action::output).collect();
    if !access.is_empty() || !tunnels.is_empty() {
        acts.push(Action::PopVlan);
    }
    acts.extend(access.into_iter().map(Action::output));
    if !tunnels.is_empty() {
        if let Some(tid) = view.tunnel_id(vid) {
            acts.push(Action::SetField(Oxm::TunnelId(tid, None)));
            acts.extend(tunnels.into_iter().map(Action::output));
        }
    }
    acts
}

/// The flood flows (table 3) of one VLAN: one per member in_port, to every
/// other member, never from a tunnel into a tunnel.
pub fn flood_flows(view: &View, vid: Vid) -> Vec<FlowMod> {
    let members = view.members(vid);
    let is_tunnel = |p: &u32| view.ports.get(p) == Some(&PortRole::Tunnel);
    let mut out = Vec::new();
    for &in_port in &members {
        let from_tunnel = is_tunnel(&in_port);
        let to: Vec<u32> = members
            .iter()
            .copied()
            .filter(|p| *p != in_port && !(from_tunnel && is_tunnel(p)))
            .collect();
        if to.is_empty() {
            continue;
        }
        out.push(flow(
            table::FLOOD,
            prio::PORT,
            cookie::VLANS,
            Match::new()
                .with(Oxm::InPort(in_port))
                .with(vid_present(vid)),
            vec![Instruction::ApplyActions(output_actions(view, vid, &to))],
        ));
    }
    out
}

/// Every pipeline flow a switch needs (after [`delete_all`]).
pub fn switch_flows(view: &View) -> Vec<FlowMod> {
    let mut out = base_flows();
    for (port, role) in &view.ports {
        out.extend(ingress_flows(view, *port, role));
    }
    let mut vids: Vec<Vid> = view.vlans.keys().copied().collect();
    vids.sort_unstable();
    for vid in vids {
        out.extend(flood_flows(view, vid));
    }
    out
}

/// A flow's identity in OpenFlow: table, priority and match.
fn flow_key(f: &FlowMod) -> (u8, u16, Vec<u8>) {
    let mut m = Vec::new();
    f.match_.encode(&mut m);
    (f.table_id, f.priority, m)
}

/// What turns the pipeline of `old` into that of `new`: strict deletes of
/// the flows that are gone, adds of the new and changed ones. Untouched
/// flows (and their counters) stay.
pub fn diff(old: &View, new: &View) -> Changes {
    let old_flows: BTreeMap<_, FlowMod> = switch_flows(old)
        .into_iter()
        .map(|f| (flow_key(&f), f))
        .collect();
    let new_flows: BTreeMap<_, FlowMod> = switch_flows(new)
        .into_iter()
        .map(|f| (flow_key(&f), f))
        .collect();
    let mut ch = Changes::default();
    for (k, f) in &old_flows {
        if !new_flows.contains_key(k) {
            ch.delete.push(FlowMod {
                command: flow_mod_command::DELETE_STRICT,
                instructions: Vec::new(),
                ..f.clone()
            });
        }
    }
    for (k, f) in new_flows {
        if old_flows.get(&k) != Some(&f) {
            ch.add.push(f);
        }
    }
    ch
}

/// The ports whose learned MACs a change from `old` to `new` invalidates:
/// gone, changed role, a VLAN they carry gone, or (tunnels) a VLAN they
/// carry with another tunnel id. Their eth_dst flows would be stale.
pub fn ports_to_forget(old: &View, new: &View) -> Vec<u32> {
    let signature = |v: &View, p: u32| {
        v.ports.get(&p).map(|r| {
            let tunnel = *r == PortRole::Tunnel;
            let carried: Vec<(Vid, Option<u64>)> = v
                .vlans
                .iter()
                .filter(|(vid, _)| v.carries(p, **vid))
                .map(|(vid, i)| (*vid, tunnel.then_some(i.tunnel_id)))
                .collect();
            (r.clone(), carried)
        })
    };
    old.ports
        .keys()
        .copied()
        .filter(|p| signature(old, *p) != signature(new, *p))
        .collect()
}

/// Deletes every group (sent on connect with [`delete_all`]).
pub fn delete_all_groups() -> GroupMod {
    GroupMod {
        command: openflow::group::command::DELETE,
        group_type: 0,
        group_id: openflow::types::group_no::ALL,
        buckets: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::VlanInfo;

    pub fn view(ports: &[(u32, PortRole)], vids: &[Vid]) -> View {
        let mut v = View::default();
        for (p, r) in ports {
            v.ports.insert(*p, r.clone());
        }
        for vid in vids {
            v.vlans.insert(
                *vid,
                VlanInfo {
                    tunnel_id: u64::from(*vid) + 5000,
                    max_hosts: None,
                },
            );
        }
        v
    }

    fn outputs(f: &FlowMod) -> Vec<u32> {
        let mut out = Vec::new();
        for i in &f.instructions {
            if let Instruction::ApplyActions(a) = i {
                for a in a {
                    if let Action::Output { port, .. } = a {
                        out.push(*port);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn cookies_name_the_apps() {
        assert_eq!(cookie::VLANS.to_be_bytes(), *b"ofc:vlan");
        assert_eq!(&cookie::LEARNING.to_be_bytes()[..7], b"ofc:lrn");
    }

    #[test]
    fn flood_sets_never_mix_vlans_and_respect_split_horizon() {
        let v = view(
            &[
                (1, PortRole::Access(10)),
                (2, PortRole::Access(20)),
                (3, PortRole::Trunk(vec![10])),
                (4, PortRole::Tunnel),
                (5, PortRole::Tunnel),
                (6, PortRole::Access(10)),
            ],
            &[10, 20],
        );
        let floods = flood_flows(&v, 10);
        for f in &floods {
            let in_port = match f.match_.get(openflow::OxmField::InPort) {
                Some(Oxm::InPort(p)) => *p,
                other => panic!("flood flow without in_port: {other:?}"),
            };
            let outs = outputs(f);
            assert!(!outs.contains(&in_port));
            assert!(!outs.contains(&2), "VLAN 20's port in VLAN 10's flood");
            if in_port == 4 || in_port == 5 {
                assert!(!outs.contains(&4) && !outs.contains(&5), "{f:?}");
            }
        }
        assert_eq!(floods.len(), 5);
        // VLAN 20: port 2 and both tunnels.
        let floods = flood_flows(&v, 20);
        assert!(floods
            .iter()
            .all(|f| outputs(f).iter().all(|p| [2, 4, 5].contains(p))));
    }

    #[test]
    fn the_bridge_local_port_is_an_access_port_without_a_policy() {
        // The internal port carrying a host's management IP (ofport LOCAL,
        // named like the bridge) must be in VLAN 1 like any other port.
        let p = crate::policy::Policy::learning_only();
        let v = p.view(1, [(1, "c1"), (port_no::LOCAL, "br0"), (2, "gre0")]);
        assert_eq!(v.ports.get(&port_no::LOCAL), Some(&PortRole::Access(1)));
        let flows = switch_flows(&v);
        assert!(flows.iter().any(|f| f.table_id == table::VLAN
            && f.match_.get(openflow::OxmField::InPort) == Some(&Oxm::InPort(port_no::LOCAL))));
        let floods = flood_flows(&v, 1);
        let from_c1 = floods
            .iter()
            .find(|f| f.match_.get(openflow::OxmField::InPort) == Some(&Oxm::InPort(1)))
            .expect("a flood flow for port 1");
        assert!(outputs(from_c1).contains(&port_no::LOCAL));
        let from_gre = floods
            .iter()
            .find(|f| f.match_.get(openflow::OxmField::InPort) == Some(&Oxm::InPort(2)))
            .expect("a flood flow for the tunnel");
        assert_eq!(outputs(from_gre), vec![1, port_no::LOCAL]);
    }

    #[test]
    fn diff_touches_only_what_changed() {
        let old = view(
            &[
                (1, PortRole::Access(10)),
                (2, PortRole::Access(10)),
                (3, PortRole::Access(20)),
            ],
            &[10, 20],
        );
        assert!(diff(&old, &old).is_empty());
        let mut new = old.clone();
        new.ports.insert(3, PortRole::Access(10));
        let ch = diff(&old, &new);
        // Port 3's ingress flow changes (replaced by an add), VLAN 20 loses
        // nothing else, VLAN 10's flood flows all change.
        assert!(ch
            .add
            .iter()
            .all(|f| f.table_id == table::VLAN || f.table_id == table::FLOOD));
        assert!(ch
            .add
            .iter()
            .filter(|f| f.table_id == table::VLAN)
            .all(|f| f.match_.get(openflow::OxmField::InPort) == Some(&Oxm::InPort(3))));
        assert_eq!(ports_to_forget(&old, &new), vec![3]);
        // Removing a port deletes its flows strictly.
        let mut gone = old.clone();
        gone.ports.remove(&2);
        let ch = diff(&old, &gone);
        assert!(ch
            .delete
            .iter()
            .all(|f| f.command == flow_mod_command::DELETE_STRICT));
        assert!(ch.delete.iter().any(|f| f.table_id == table::VLAN
            && f.match_.get(openflow::OxmField::InPort) == Some(&Oxm::InPort(2))));
        assert_eq!(ports_to_forget(&old, &gone), vec![2]);
        // A VLAN leaving the policy forgets its ports' MACs; a tunnel id
        // change forgets the tunnels' only.
        let mut t = old.clone();
        t.ports.insert(4, PortRole::Tunnel);
        let mut no20 = t.clone();
        no20.vlans.remove(&20);
        assert_eq!(ports_to_forget(&t, &no20), vec![3, 4]);
        let mut retid = t.clone();
        if let Some(i) = retid.vlans.get_mut(&10) {
            i.tunnel_id = 42;
        }
        assert_eq!(ports_to_forget(&t, &retid), vec![4]);
    }
}
