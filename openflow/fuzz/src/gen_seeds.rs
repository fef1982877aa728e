//! Writes the seed corpora for the fuzz targets from `openflow::samples`:
//! one file per sample message / match / action / instruction, under
//! `<dir>/<target>/seed-*` (default dir: `corpus/` next to this crate's
//! Cargo.toml). Existing seed files are overwritten; inputs libFuzzer has
//! added to the corpus are left alone.
//!
//! Usage: cargo run --example gen_seeds [-- DIR]

use openflow::message::msg_type;
use openflow::samples;
use openflow::{Action, Instruction};
use std::path::{Path, PathBuf};
use std::{env, fs, io};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join(name), bytes)
}

/// Flows in the ovs-ofctl syntax: seeds for `flow_text`.
const FLOWS: &[&str] = &[
    "priority=10,ip,nw_dst=10.0.0.2,actions=output:2",
    "table=1,priority=100,in_port=2,dl_vlan=10,dl_src=02:00:00:00:00:11 actions=goto_table:2",
    "cookie=0x5adc15c0,idle_timeout=300,priority=8192,dl_vlan=100,dl_dst=0e:00:00:00:00:01 actions=pop_vlan,output:1",
    "in_port=1,vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,set_field:4196->vlan_vid,goto_table:1",
    "tcp,tp_dst=80,nw_src=192.168.0.0/16 actions=mod_nw_tos:4,set_field:10.0.0.1->ip_dst,output:LOCAL",
    "ipv6,ipv6_src=2001:db8::/32,icmp_type=135 actions=CONTROLLER:128,NORMAL",
    "arp,arp_tpa=10.0.0.1,arp_op=1 actions=load:0x2->NXM_OF_ARP_OP[],move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],IN_PORT",
    "mpls,mpls_label=17,mpls_bos=1 actions=pop_mpls:0x0800,dec_ttl,group:1",
    "tun_id=0x3f2,metadata=0x1/0x1 actions=write_metadata:0x2/0x2,meter:1,clear_actions,write_actions(output:3)",
    "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop",
    "sctp,sctp_src=5000,udp actions=set_queue:1,push_mpls:0x8847,set_mpls_ttl:9",
];

/// The frames `packet_actions` starts from: `icmp` (Ethernet, IPv4,
/// ICMP), the same with an 802.1Q tag, under an MPLS label, an ARP
/// request, and IPv6 with TCP.
fn seed_frames(icmp: &[u8]) -> Vec<Vec<u8>> {
    let tagged = [&icmp[..12], &[0x81, 0x00, 0x00, 0x0a][..], &icmp[12..]].concat();
    let mpls = [
        &icmp[..12],
        &[0x88, 0x47, 0x00, 0x01, 0x11, 0x40][..],
        &icmp[14..],
    ]
    .concat();
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
    arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    let mut v6 = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    v6.extend_from_slice(&[0x60, 0, 0, 0, 0, 20, 6, 64]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(&[0x13, 0x88, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff]);
    v6.extend_from_slice(&[0, 0, 0, 0]);
    vec![icmp.to_vec(), tagged, mpls, arp, v6]
}

fn main() -> io::Result<()> {
    let root = env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let mut counts = Vec::new();

    // decode_message: every message type and every multipart body.
    let msgs: Vec<Vec<u8>> = samples::all_messages()
        .iter()
        .map(|m| m.to_bytes())
        .collect();
    let dir = root.join("decode_message");
    for (i, b) in msgs.iter().enumerate() {
        let name = msg_type::name(b[1])
            .trim_start_matches("OFPT_")
            .to_lowercase();
        write(&dir, &format!("seed-{i:03}-{name}"), b)?;
    }
    counts.push(("decode_message", msgs.len()));

    // framer: [limit selector, chunk seed] + stream. Each message alone, a
    // few back to back, and the whole sample set as one stream.
    let dir = root.join("framer");
    let mut n = 0;
    for (i, b) in msgs.iter().enumerate() {
        write(
            &dir,
            &format!("seed-{i:03}"),
            &[&[0u8, i as u8][..], b].concat(),
        )?;
        n += 1;
    }
    for (i, w) in msgs.windows(3).enumerate().step_by(5) {
        write(
            &dir,
            &format!("seed-run-{i:03}"),
            &[&[0u8, 7][..], &w.concat()].concat(),
        )?;
        n += 1;
    }
    write(&dir, "seed-all", &[&[0u8, 3][..], &msgs.concat()].concat())?;
    // A too-short length and a length above a small limit.
    write(&dir, "seed-short", &[0, 1, 4, 0, 0, 7, 0, 0, 0, 0])?;
    write(&dir, "seed-limit", &[1, 1, 4, 0, 0, 200, 0, 0, 0, 0])?;
    counts.push(("framer", n + 3));

    // decode_match: every sample match.
    let dir = root.join("decode_match");
    let matches = samples::matches();
    for (i, m) in matches.iter().enumerate() {
        let mut b = Vec::new();
        m.encode(&mut b);
        write(&dir, &format!("seed-{i:03}"), &b)?;
    }
    counts.push(("decode_match", matches.len()));

    // decode_actions: byte 0 even = action list, odd = instruction list.
    let dir = root.join("decode_actions");
    let actions = samples::actions();
    let instructions = samples::instructions();
    for (i, a) in actions.iter().enumerate() {
        let mut b = vec![0u8];
        a.encode(&mut b);
        write(&dir, &format!("seed-action-{i:03}"), &b)?;
    }
    let mut b = vec![0u8];
    Action::encode_list(&actions, &mut b);
    write(&dir, "seed-action-all", &b)?;
    for (i, ins) in instructions.iter().enumerate() {
        let mut b = vec![1u8];
        ins.encode(&mut b);
        write(&dir, &format!("seed-instruction-{i:03}"), &b)?;
    }
    let mut b = vec![1u8];
    Instruction::encode_list(&instructions, &mut b);
    write(&dir, "seed-instruction-all", &b)?;
    counts.push(("decode_actions", actions.len() + instructions.len() + 2));

    // packet_actions: [action list length / 8] + actions + frame. Each
    // sample action alone on a few frames (ICMP, the same tagged, MPLS,
    // ARP, IPv6/TCP), and all of them on the ICMP frame.
    let dir = root.join("packet_actions");
    let icmp = samples::icmp_frame();
    let frames = seed_frames(&icmp);
    let mut n = 0;
    for (i, a) in actions.iter().enumerate() {
        let mut list = Vec::new();
        a.encode(&mut list);
        for (j, f) in frames.iter().enumerate() {
            let len = u8::try_from(list.len() / 8).unwrap_or(u8::MAX);
            write(
                &dir,
                &format!("seed-{i:03}-{j}"),
                &[&[len][..], &list, f].concat(),
            )?;
            n += 1;
        }
    }
    for (j, f) in frames.iter().enumerate() {
        write(&dir, &format!("seed-frame-{j}"), &[&[0u8][..], f].concat())?;
        n += 1;
    }
    counts.push(("packet_actions", n));

    // flow_text: flows as ovs-ofctl users write them.
    let dir = root.join("flow_text");
    for (i, f) in FLOWS.iter().enumerate() {
        write(&dir, &format!("seed-{i:03}"), f.as_bytes())?;
    }
    counts.push(("flow_text", FLOWS.len()));

    for (t, n) in counts {
        println!("{n:4} seeds -> {}", root.join(t).display());
    }
    Ok(())
}
