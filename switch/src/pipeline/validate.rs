//! The checks a FLOW_MOD, GROUP_MOD or PACKET_OUT must pass before the
//! pipeline accepts it, each failing with the OpenFlow error the spec names
//! (7.4.4): unknown ports and groups, bad goto targets, unsettable or
//! out-of-range set_field values, actions inconsistent with the match.

use super::state::Pipeline;
use super::table::N_TABLES;
use openflow::instruction::{instruction_type, Instruction};
use openflow::oxm::{OxmField, Prereq};
use openflow::types::{eth_type, port_no};
use openflow::{Action, Match, OfError};

/// Where an action list appears: what is allowed differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionContext {
    /// In a flow entry of this table.
    Flow,
    /// In a group bucket.
    Group,
    /// In a PACKET_OUT (output to TABLE allowed).
    PacketOut,
}

/// Largest max_len of an output to CONTROLLER short of "no buffer".
const OFPCML_MAX: u16 = 0xffe5;

/// Fields set_field may not change.
fn settable(f: OxmField) -> bool {
    !matches!(
        f,
        OxmField::InPort | OxmField::InPhyPort | OxmField::Ipv6Exthdr
    )
}

impl Pipeline {
    /// Whether `port` is a valid output port in this context.
    pub fn valid_out_port(&self, port: u32, ctx: ActionContext) -> bool {
        match port {
            port_no::IN_PORT
            | port_no::NORMAL
            | port_no::FLOOD
            | port_no::ALL
            | port_no::CONTROLLER
            | port_no::LOCAL => true,
            port_no::TABLE => ctx == ActionContext::PacketOut,
            port_no::ANY => false,
            0 => false,
            p if p <= port_no::MAX => self.ports.contains_key(&p),
            _ => false,
        }
    }

    /// Checks an action list. `m` is the match it runs under (for
    /// prerequisite consistency; `None` for group buckets and packet-outs,
    /// where any packet may arrive).
    pub fn validate_actions(
        &self,
        actions: &[Action],
        ctx: ActionContext,
        m: Option<&Match>,
    ) -> Result<(), OfError> {
        let mut vlan_pushed = false;
        let mut mpls_pushed = false;
        for a in actions {
            match a {
                Action::Output { port, max_len } => {
                    if !self.valid_out_port(*port, ctx) {
                        return Err(OfError::BAC_BAD_OUT_PORT);
                    }
                    if *port == port_no::CONTROLLER
                        && *max_len > OFPCML_MAX
                        && *max_len != openflow::types::CONTROLLER_NO_BUFFER
                    {
                        return Err(OfError::BAC_BAD_ARGUMENT);
                    }
                }
                Action::Group(g) => {
                    if !self.groups.contains(*g) {
                        return Err(OfError::BAC_BAD_OUT_GROUP);
                    }
                }
                Action::PushVlan(t) => {
                    if *t != eth_type::VLAN && *t != eth_type::QINQ {
                        return Err(OfError::BAC_BAD_ARGUMENT);
                    }
                    vlan_pushed = true;
                }
                Action::PushMpls(t) => {
                    if *t != eth_type::MPLS && *t != eth_type::MPLS_MCAST {
                        return Err(OfError::BAC_BAD_ARGUMENT);
                    }
                    mpls_pushed = true;
                }
                Action::PushPbb(t) => {
                    if *t != eth_type::PBB {
                        return Err(OfError::BAC_BAD_ARGUMENT);
                    }
                }
                Action::SetField(oxm) => {
                    let Some(f) = oxm.field() else {
                        return Err(OfError::BAC_BAD_SET_TYPE);
                    };
                    if !settable(f) {
                        return Err(OfError::BAC_BAD_SET_TYPE);
                    }
                    if let (Some(max), Some(v)) = (f.max_value(), oxm.value_u64()) {
                        if v > max {
                            return Err(OfError::BAC_BAD_SET_ARGUMENT);
                        }
                    }
                    if let Some(m) = m {
                        let mut p = f.prereq();
                        while p != Prereq::None {
                            let ok = match p {
                                Prereq::VlanPresent => vlan_pushed || m.satisfies(p),
                                Prereq::EthType(types)
                                    if mpls_pushed && types.contains(&eth_type::MPLS) =>
                                {
                                    true
                                }
                                _ => m.satisfies(p),
                            };
                            if !ok {
                                return Err(OfError::BAC_MATCH_INCONSISTENT);
                            }
                            p = p.parent();
                        }
                        if f == OxmField::VlanVid || f == OxmField::VlanPcp {
                            let untagged = matches!(
                                m.get(OxmField::VlanVid),
                                Some(openflow::Oxm::VlanVid(0, None))
                            );
                            if untagged && !vlan_pushed {
                                return Err(OfError::BAC_MATCH_INCONSISTENT);
                            }
                        }
                    }
                }
                Action::Experimenter { .. } => return Err(OfError::BAC_BAD_EXPERIMENTER),
                Action::CopyTtlOut
                | Action::CopyTtlIn
                | Action::SetMplsTtl(_)
                | Action::DecMplsTtl
                | Action::PopVlan
                | Action::PopMpls(_)
                | Action::SetQueue(_)
                | Action::SetNwTtl(_)
                | Action::DecNwTtl
                | Action::PopPbb => {}
            }
        }
        Ok(())
    }

    /// Checks the instructions of a flow entry for `table_id`.
    pub fn validate_instructions(
        &self,
        table_id: u8,
        instructions: &[Instruction],
        m: &Match,
    ) -> Result<(), OfError> {
        let mut seen = 0u32;
        for i in instructions {
            let t = i.instruction_type();
            if t != instruction_type::EXPERIMENTER {
                let bit = 1u32 << t;
                if seen & bit != 0 {
                    return Err(OfError::BIC_UNSUP_INST);
                }
                seen |= bit;
            }
            match i {
                Instruction::GotoTable(next) => {
                    if *next <= table_id || usize::from(*next) >= N_TABLES {
                        return Err(OfError::BIC_BAD_TABLE_ID);
                    }
                }
                Instruction::Meter(id) => {
                    if !self.meters.contains(*id) {
                        return Err(OfError::MMFC_UNKNOWN_METER);
                    }
                }
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                    self.validate_actions(a, ActionContext::Flow, Some(m))?;
                }
                Instruction::WriteMetadata { .. } | Instruction::ClearActions => {}
                Instruction::Experimenter { .. } => return Err(OfError::BIC_BAD_EXPERIMENTER),
            }
        }
        Ok(())
    }
}
