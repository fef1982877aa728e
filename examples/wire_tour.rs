//! A short tour of the `openflow` crate: build a FLOW_MOD, put it on the
//! wire, cut a byte stream into messages, answer a malformed message with
//! the OFPT_ERROR a switch owes its controller, and read and print flows in
//! `ovs-ofctl` syntax.
//!
//! Run with `cargo run --example wire_tour`.

use openflow::action::Action;
use openflow::framer::Framer;
use openflow::instruction::Instruction;
use openflow::message::{msg_type, Body, Message};
use openflow::messages::{ErrorMsg, FlowMod};
use openflow::oxm::{Match, Oxm};
use openflow::samples::all_messages;
use openflow::types::eth_type;
use std::net::Ipv4Addr;

fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n    ")
}

fn main() {
    println!("== 1. A FLOW_MOD: ip,nw_dst=10.0.0.0/8 actions=output:2, goto_table:1");
    let flow_mod = FlowMod {
        priority: 100,
        match_: Match {
            fields: vec![
                Oxm::EthType(eth_type::IPV4),
                Oxm::Ipv4Dst(
                    Ipv4Addr::new(10, 0, 0, 0),
                    Some(Ipv4Addr::new(255, 0, 0, 0)),
                ),
            ],
        },
        instructions: vec![
            Instruction::ApplyActions(vec![Action::Output {
                port: 2,
                max_len: 0,
            }]),
            Instruction::GotoTable(1),
        ],
        ..FlowMod::default()
    };
    let msg = Message::new(7, Body::FlowMod(flow_mod));
    let bytes = msg.to_bytes();
    println!("  {} bytes on the wire:\n    {}", bytes.len(), hex(&bytes));
    match Message::decode(&bytes) {
        Ok(back) => println!("  decodes back to the same message: {}", back == msg),
        Err(e) => println!("  decode failed: {e:?}"),
    }

    println!("\n== 2. Framing: every message type in one stream, fed 5 bytes at a time");
    let samples = all_messages();
    let stream: Vec<u8> = samples.iter().flat_map(|m| m.to_bytes()).collect();
    let mut framer = Framer::new();
    let mut decoded = 0usize;
    let mut types = std::collections::BTreeSet::new();
    for chunk in stream.chunks(5) {
        framer.push(chunk);
        while let Ok(Some(frame)) = framer.next_message() {
            if let Ok(m) = Message::decode(&frame) {
                decoded += 1;
                types.insert(m.body.msg_type());
            }
        }
    }
    println!(
        "  {} bytes -> {decoded} of {} messages decoded, {} message types",
        stream.len(),
        samples.len(),
        types.len()
    );

    println!("\n== 3. A malformed message and the error a switch answers with");
    let mut bad = bytes.clone();
    bad[1] = 99; // an unknown message type
    match Message::decode(&bad) {
        Ok(_) => println!("  unexpectedly decoded"),
        Err(e) => {
            let reply = Message::new(7, Body::Error(ErrorMsg::reply_to(e.error, &bad)));
            println!(
                "  type 99 -> {} ({}): {}",
                e.error.name().unwrap_or("?"),
                e.what,
                msg_type::name(reply.body.msg_type())
            );
            println!("    {}", hex(&reply.to_bytes()[..24]));
        }
    }
    let mut short = bytes.clone();
    short.truncate(40);
    short[2..4].copy_from_slice(&40u16.to_be_bytes());
    if let Err(e) = Message::decode(&short) {
        println!(
            "  FLOW_MOD cut to 40 bytes -> {} ({})",
            e.error.name().unwrap_or("?"),
            e.what
        );
    }

    println!("\n== 4. ovs-ofctl syntax: add-flow text in, dump-flows line out");
    let text = "table=0,priority=100,cookie=0x1f,idle_timeout=30,tcp,nw_src=10.1.0.0/16,tp_dst=443,actions=push_vlan:0x8100,set_field:0x1064->vlan_vid,output:3,goto_table:2";
    println!("  ovs-ofctl -O OpenFlow13 add-flow br0 \"{text}\"");
    match openflow::ofctl::parse::parse_flow_mod(text, openflow::messages::flow_mod_command::ADD) {
        Ok(fm) => {
            let msg = Message::new(7, Body::FlowMod(fm.clone()));
            println!(
                "  -> FLOW_MOD of {} bytes (the bytes ovs-ofctl sends)",
                msg.to_bytes().len()
            );
            let stats = openflow::multipart::FlowStats {
                table_id: fm.table_id,
                duration_sec: 42,
                duration_nsec: 500_000_000,
                priority: fm.priority,
                idle_timeout: fm.idle_timeout,
                hard_timeout: fm.hard_timeout,
                flags: fm.flags,
                cookie: fm.cookie,
                packet_count: 1234,
                byte_count: 98_765,
                match_: fm.match_,
                instructions: fm.instructions,
            };
            println!("  as ovs-ofctl dump-flows prints it once installed:");
            println!("{}", openflow::ofctl::format::flow_stats_line(&stats));
        }
        Err(e) => println!("  refused: {}", e.message),
    }
    let bad = "tcp,tp_dst=80,actions=output:2,bogus_action";
    match openflow::ofctl::parse::parse_flow_mod(bad, openflow::messages::flow_mod_command::ADD) {
        Ok(_) => println!("  unexpectedly accepted {bad:?}"),
        Err(e) => println!("  {bad:?} -> error: {}", e.message),
    }
}
