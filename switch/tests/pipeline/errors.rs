//! Errors (spec 6.4, 7.4.4): each refused FLOW_MOD gets the error type and
//! code the spec names, and changes nothing: the flows already installed
//! keep forwarding. FLOW_MODs that ovs-ofctl would refuse to send are built
//! by hand, as a buggy or hostile controller would send them.

use super::frames;
use super::harness::*;
use openflow::instruction::Instruction;
use openflow::messages::{flow_mod_command, FlowMod};
use openflow::oxm::{Oxm, RawOxm};
use openflow::types::{eth_type, port_no};
use openflow::{Action, Match, OfError};
use std::net::Ipv4Addr;
use std::sync::Arc;

fn apply(actions: Vec<Action>) -> Vec<Instruction> {
    vec![Instruction::ApplyActions(actions)]
}

fn flow(fields: Vec<Oxm>, instructions: Vec<Instruction>) -> FlowMod {
    FlowMod {
        priority: 100,
        match_: Match { fields },
        instructions,
        ..FlowMod::default()
    }
}

fn out(port: u32) -> Vec<Instruction> {
    apply(vec![Action::output(port)])
}

fn cases() -> Vec<(&'static str, FlowMod, OfError)> {
    let ip = || Oxm::EthType(eth_type::IPV4);
    vec![
        (
            "ipv4_dst without eth_type",
            flow(vec![Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2), None)], out(2)),
            OfError::BMC_BAD_PREREQ,
        ),
        (
            "tcp_dst without ip_proto",
            flow(vec![ip(), Oxm::TcpDst(80, None)], out(2)),
            OfError::BMC_BAD_PREREQ,
        ),
        (
            "vlan_pcp without a VLAN",
            flow(vec![Oxm::VlanPcp(3)], out(2)),
            OfError::BMC_BAD_PREREQ,
        ),
        (
            "the same field twice",
            flow(vec![Oxm::InPort(1), Oxm::InPort(2)], out(2)),
            OfError::BMC_DUP_FIELD,
        ),
        (
            "an unknown OXM field",
            flow(
                vec![Oxm::Other(RawOxm {
                    class: 0x8000,
                    field: 120,
                    hasmask: false,
                    body: vec![0; 4],
                })],
                out(2),
            ),
            OfError::BMC_BAD_FIELD,
        ),
        (
            "vlan_pcp above 7",
            flow(vec![Oxm::VlanVid(0x1005, None), Oxm::VlanPcp(8)], out(2)),
            OfError::BMC_BAD_VALUE,
        ),
        (
            "goto an earlier table",
            FlowMod {
                table_id: 2,
                ..flow(vec![], vec![Instruction::GotoTable(1)])
            },
            OfError::BIC_BAD_TABLE_ID,
        ),
        (
            "goto beyond the last table",
            flow(vec![], vec![Instruction::GotoTable(255)]),
            OfError::BIC_BAD_TABLE_ID,
        ),
        (
            "two apply_actions",
            flow(
                vec![],
                vec![
                    Instruction::ApplyActions(vec![]),
                    Instruction::ApplyActions(vec![]),
                ],
            ),
            OfError::BIC_UNSUP_INST,
        ),
        (
            "an experimenter instruction",
            flow(
                vec![],
                vec![Instruction::Experimenter {
                    experimenter: 0x2320,
                    data: vec![0; 4],
                }],
            ),
            OfError::BIC_BAD_EXPERIMENTER,
        ),
        (
            "output to a port that does not exist",
            flow(vec![], out(99)),
            OfError::BAC_BAD_OUT_PORT,
        ),
        (
            "output to port 0",
            flow(vec![], out(0)),
            OfError::BAC_BAD_OUT_PORT,
        ),
        (
            "output to TABLE from a flow",
            flow(vec![], out(port_no::TABLE)),
            OfError::BAC_BAD_OUT_PORT,
        ),
        (
            "output to ANY",
            flow(vec![], out(port_no::ANY)),
            OfError::BAC_BAD_OUT_PORT,
        ),
        (
            "write_actions output to a missing port",
            flow(
                vec![],
                vec![Instruction::WriteActions(vec![Action::output(77)])],
            ),
            OfError::BAC_BAD_OUT_PORT,
        ),
        (
            "a group that does not exist",
            flow(vec![], apply(vec![Action::Group(5)])),
            OfError::BAC_BAD_OUT_GROUP,
        ),
        (
            "set_field vlan_pcp out of range",
            flow(
                vec![Oxm::VlanVid(0x1005, None)],
                apply(vec![Action::SetField(Oxm::VlanPcp(9))]),
            ),
            OfError::BAC_BAD_SET_ARGUMENT,
        ),
        (
            "set_field vlan_vid out of range",
            flow(
                vec![Oxm::VlanVid(0x1005, None)],
                apply(vec![Action::SetField(Oxm::VlanVid(0x2000, None))]),
            ),
            OfError::BAC_BAD_SET_ARGUMENT,
        ),
        (
            "set_field ip_dscp out of range",
            flow(vec![ip()], apply(vec![Action::SetField(Oxm::IpDscp(64))])),
            OfError::BAC_BAD_SET_ARGUMENT,
        ),
        (
            "set_field in_port",
            flow(vec![], apply(vec![Action::SetField(Oxm::InPort(3))])),
            OfError::BAC_BAD_SET_TYPE,
        ),
        (
            "set_field ipv4_dst on a non-IP match",
            flow(
                vec![],
                apply(vec![Action::SetField(Oxm::Ipv4Dst(
                    Ipv4Addr::new(1, 2, 3, 4),
                    None,
                ))]),
            ),
            OfError::BAC_MATCH_INCONSISTENT,
        ),
        (
            "push_vlan with a non-VLAN ethertype",
            flow(vec![], apply(vec![Action::PushVlan(0x0800)])),
            OfError::BAC_BAD_ARGUMENT,
        ),
        (
            "push_mpls with a non-MPLS ethertype",
            flow(vec![], apply(vec![Action::PushMpls(0x8100)])),
            OfError::BAC_BAD_ARGUMENT,
        ),
        (
            "controller max_len in the reserved range",
            flow(
                vec![],
                apply(vec![Action::Output {
                    port: port_no::CONTROLLER,
                    max_len: 0xfff0,
                }]),
            ),
            OfError::BAC_BAD_ARGUMENT,
        ),
        (
            "an experimenter action",
            flow(
                vec![],
                apply(vec![Action::Experimenter {
                    experimenter: 0x2320,
                    data: vec![0; 12],
                }]),
            ),
            OfError::BAC_BAD_EXPERIMENTER,
        ),
        (
            "a meter that does not exist",
            flow(vec![], vec![Instruction::Meter(9)]),
            OfError::MMFC_UNKNOWN_METER,
        ),
        (
            "an unknown command",
            FlowMod {
                command: 7,
                ..flow(vec![], out(2))
            },
            OfError::FMFC_BAD_COMMAND,
        ),
        (
            "ADD to table ALL",
            FlowMod {
                table_id: 0xff,
                ..flow(vec![], out(2))
            },
            OfError::FMFC_BAD_TABLE_ID,
        ),
        (
            "a buffer id (the switch keeps no buffers)",
            FlowMod {
                buffer_id: 3,
                ..flow(vec![], out(2))
            },
            OfError::BRC_BUFFER_UNKNOWN,
        ),
        (
            "unknown flags",
            FlowMod {
                flags: 0x8000,
                ..flow(vec![], out(2))
            },
            OfError::FMFC_BAD_FLAGS,
        ),
    ]
}

#[test]
fn refused_flow_mods_get_the_right_error_and_change_nothing() {
    let mut failures = Vec::new();
    for (name, fm, want) in cases() {
        let mut b = Bridge::new(3);
        b.add("priority=1,actions=output:3");
        b.add("table=2,priority=1,actions=output:3");
        let got = b.raw_flow_mod(&fm);
        if got != Err(want) {
            failures.push(format!(
                "{name}: got {}, want {}",
                err_name(got),
                want.name().unwrap_or("?")
            ));
            continue;
        }
        if b.p.flow_count() != 2 || b.ports(1, &frames::tcp4()) != vec![3] {
            failures.push(format!("{name}: the installed flows changed"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn table_full() {
    let mut b = Bridge::new(3);
    Arc::make_mut(&mut b.p.tables[4]).max_entries = 3;
    for i in 0..3 {
        b.add(&format!("table=4,priority={i},actions=output:2"));
    }
    assert_eq!(
        err_name(b.try_add("table=4,priority=9,actions=output:2")),
        "OFPFMFC_TABLE_FULL"
    );
    // Replacing an existing entry is not an addition.
    b.add("table=4,priority=1,actions=output:3");
    // Other tables are not full.
    b.add("table=5,priority=9,actions=output:2");
    assert_eq!(b.p.table(4).map(|t| t.len()), Some(3));
}

/// MODIFY and DELETE validate their instructions too, and a refused MODIFY
/// leaves the old instructions in place.
#[test]
fn refused_modify_keeps_old_instructions() {
    let mut b = Bridge::new(3);
    b.add("priority=1,actions=output:3");
    let bad = FlowMod {
        command: flow_mod_command::MODIFY,
        ..flow(vec![], out(42))
    };
    assert_eq!(b.raw_flow_mod(&bad), Err(OfError::BAC_BAD_OUT_PORT));
    assert_eq!(b.ports(1, &frames::tcp4()), vec![3]);
}
