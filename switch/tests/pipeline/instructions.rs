//! Instructions (spec 5.9) and the action set (5.10): goto_table,
//! write_metadata, write_actions, apply_actions, clear_actions, the
//! pipeline's end, and the order in which the action set runs.

use super::frames;
use super::harness::*;
use etherparse::{NetSlice, SlicedPacket};
use ofswitch::pipeline::Outcome;
use openflow::instruction::Instruction;
use openflow::messages::{flow_mod_command, FlowMod};

/// The VLAN ids of a frame's tags, outermost first, and its IPv4 TTL.
fn tags_and_ttl(frame: &[u8]) -> (Vec<u16>, Option<u8>) {
    let p = SlicedPacket::from_ethernet(frame).expect("output frame parses");
    let vids = match &p.link_exts.first() {
        Some(etherparse::LinkExtSlice::Vlan(_)) => p
            .link_exts
            .iter()
            .filter_map(|e| match e {
                etherparse::LinkExtSlice::Vlan(v) => Some(v.vlan_identifier().value()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let ttl = match &p.net {
        Some(NetSlice::Ipv4(ip)) => Some(ip.header().ttl()),
        _ => None,
    };
    (vids, ttl)
}

/// A pipeline, a frame sent on port 1, and the ports it must leave by.
struct Case {
    name: &'static str,
    flows: &'static [&'static str],
    expect: &'static [u32],
}

const CASES: &[Case] = &[
    Case {
        name: "goto_table continues in the later table",
        flows: &[
            "table=0,priority=1,actions=goto_table:3",
            "table=3,priority=1,actions=output:2",
        ],
        expect: &[2],
    },
    Case {
        name: "apply_actions runs at once, the later table adds its own",
        flows: &[
            "table=0,priority=1,actions=output:2,goto_table:1",
            "table=1,priority=1,actions=output:3",
        ],
        expect: &[2, 3],
    },
    Case {
        name: "a miss in a later table with no table-miss flow drops the packet and its action set",
        flows: &[
            "table=0,priority=1,actions=output:2,write_actions(output:3),goto_table:1",
            "table=1,priority=1,in_port=4,actions=output:4",
        ],
        // The apply-action already ran; the action set is discarded.
        expect: &[2],
    },
    Case {
        name: "write_actions runs at the end of the pipeline",
        flows: &[
            "table=0,priority=1,actions=write_actions(output:3),goto_table:1",
            "table=1,priority=1,actions=output:2",
        ],
        expect: &[2, 3],
    },
    Case {
        name: "a later write_actions replaces the action of the same type",
        flows: &[
            "table=0,priority=1,actions=write_actions(output:3),goto_table:1",
            "table=1,priority=1,actions=write_actions(output:4)",
        ],
        expect: &[4],
    },
    Case {
        name: "clear_actions empties the action set",
        flows: &[
            "table=0,priority=1,actions=write_actions(output:3),goto_table:1",
            "table=1,priority=1,actions=clear_actions",
        ],
        expect: &[],
    },
    Case {
        name: "clear_actions then write_actions in one flow keeps the new set",
        flows: &[
            "table=0,priority=1,actions=write_actions(output:3),goto_table:1",
            "table=1,priority=1,actions=clear_actions,write_actions(output:2)",
        ],
        expect: &[2],
    },
    Case {
        name: "group in the action set wins over output",
        flows: &["table=0,priority=1,actions=write_actions(output:3,group:1)"],
        expect: &[4],
    },
    Case {
        name: "an empty instruction list drops",
        flows: &["table=0,priority=1,actions=drop"],
        expect: &[],
    },
    Case {
        name: "no flow at all drops",
        flows: &[],
        expect: &[],
    },
    Case {
        name: "table-miss flow sends on",
        flows: &[
            "table=0,priority=10,in_port=4,actions=output:4",
            "table=0,priority=0,actions=goto_table:7",
            "table=7,priority=0,actions=output:3",
        ],
        expect: &[3],
    },
];

#[test]
fn instruction_table() {
    let mut failures = Vec::new();
    for c in CASES {
        let mut b = Bridge::new(4);
        b.group("group_id=1,type=indirect,bucket=actions=output:4");
        for f in c.flows {
            b.add(f);
        }
        let got = b.ports(1, &frames::tcp4());
        if got != c.expect {
            failures.push(format!("{}: ports {got:?}, want {:?}", c.name, c.expect));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn write_metadata_with_mask_reaches_later_tables() {
    let mut b = Bridge::new(4);
    b.add("table=0,priority=1,actions=write_metadata:0xab00/0xff00,goto_table:1");
    // Only the masked bits change: a second write keeps the first's bits.
    b.add("table=1,priority=1,actions=write_metadata:0x0012/0x00ff,goto_table:2");
    b.add("table=2,priority=2,metadata=0xab12,actions=output:2");
    b.add("table=2,priority=1,actions=output:3");
    assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    // Metadata starts at zero for every packet.
    b.add("table=0,priority=5,in_port=2,actions=goto_table:2");
    assert_eq!(b.ports(2, &frames::tcp4()), vec![3]);
}

/// ovs-ofctl refuses these itself, so the FLOW_MODs are built by hand.
#[test]
fn goto_table_backwards_or_out_of_range_is_refused() {
    let mut b = Bridge::new(2);
    let goto = |table: u8, to: u8| FlowMod {
        table_id: table,
        instructions: vec![Instruction::GotoTable(to)],
        ..FlowMod::default()
    };
    for (table, to, want) in [
        (3, 3, "OFPBIC_BAD_TABLE_ID"),
        (3, 1, "OFPBIC_BAD_TABLE_ID"),
        (254, 255, "OFPBIC_BAD_TABLE_ID"),
        (0, 255, "OFPBIC_BAD_TABLE_ID"),
        (253, 254, "ok"),
    ] {
        assert_eq!(
            err_name(b.raw_flow_mod(&goto(table, to))),
            want,
            "goto_table:{to} in table {table}"
        );
    }
}

/// The action set runs in the spec's order (5.10), not the order it was
/// written: push_vlan before set_field, dec_ttl before output, whatever
/// order write_actions listed them in.
#[test]
fn action_set_runs_in_spec_order() {
    let mut b = Bridge::new(4);
    let mut fm = parse_flow(
        flow_mod_command::ADD,
        "table=0,priority=1,ip,actions=write_actions(push_vlan:0x8100,set_field:0x1005->vlan_vid,dec_ttl,output:2)",
    );
    // Listed backwards: the action set must still run them in spec order.
    match fm.instructions.as_mut_slice() {
        [Instruction::WriteActions(acts)] => acts.reverse(),
        other => panic!("unexpected instructions {other:?}"),
    }
    b.raw_flow_mod(&fm).expect("flow accepted");
    let (port, frame) = only_output(&b.send(1, &frames::tcp4()));
    assert_eq!(port, 2);
    let (vids, ttl) = tags_and_ttl(&frame);
    assert_eq!(vids, vec![5], "tag pushed, then its VID set");
    assert_eq!(ttl, Some(63), "TTL decremented before output");
    frames::verify_checksums(&frame);
}

/// Apply-actions run in list order: an output before a set_field sends
/// the unchanged frame, one after it the changed frame.
#[test]
fn apply_actions_run_in_list_order() {
    let mut b = Bridge::new(4);
    b.add("table=0,priority=1,ip,actions=output:2,dec_ttl,output:3");
    let out = outputs(&b.send(1, &frames::tcp4()));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].0, 2);
    assert_eq!(tags_and_ttl(&out[0].1).1, Some(64));
    assert_eq!(out[1].0, 3);
    assert_eq!(tags_and_ttl(&out[1].1).1, Some(63));
}

/// Apply-actions change the packet seen by later tables' matches and by
/// the action set.
#[test]
fn later_tables_match_the_changed_packet() {
    let mut b = Bridge::new(4);
    b.add("table=0,priority=1,actions=push_vlan:0x8100,set_field:0x1063->vlan_vid,goto_table:1");
    b.add("table=1,priority=2,dl_vlan=99,actions=output:2");
    b.add("table=1,priority=1,actions=output:3");
    let (port, frame) = only_output(&b.send(1, &frames::tcp4()));
    assert_eq!(port, 2);
    assert_eq!(tags_and_ttl(&frame).0, vec![99]);
}

/// The meter instruction runs before the apply-actions of its flow: a
/// meter that drops stops the flow's outputs.
#[test]
fn meter_instruction_comes_first() {
    let mut b = Bridge::new(4);
    b.meter("meter=1,pktps,band=type=drop,rate=1");
    b.add("table=0,priority=1,actions=meter:1,output:2");
    let passed: usize = (0..20)
        .map(|_| {
            b.send(1, &frames::tcp4())
                .iter()
                .filter(|o| matches!(o, Outcome::Output { .. }))
                .count()
        })
        .sum();
    assert!(passed < 20, "the meter dropped some: {passed} of 20 passed");
    assert!(passed >= 1, "the first packet passes");
}
