//! `ofswitch ofctl trace BRIDGE FLOW`: what the pipeline would do with a
//! packet, table by table, like Open vSwitch's `ofproto/trace`.
//!
//! The packet is built from the flow description (`in_port=1,tcp,nw_dst=...`,
//! the same syntax as a match): a frame of the right protocols with every
//! given field written into it by the same header editor the `set_field`
//! action uses, so the trace runs on real bytes through the real
//! translation. Nothing is counted and nothing is sent: translation only
//! builds the program, and the trace reads it.

use super::state::Pipeline;
use super::xlate::{extract, Op, PacketMeta};
use crate::packet;
use crate::packet::csum;
use openflow::ofctl::format::{actions_to_string, match_to_string};
use openflow::ofctl::parse::parse_match;
use openflow::oxm::{Oxm, OxmField};
use openflow::types::{eth_type, port_no};

/// IP protocol numbers the test frames know.
mod ip_proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}
use openflow::Action;
use std::fmt::Write;

/// Builds the test frame a flow description stands for; returns it with
/// its input port and tunnel id.
pub fn packet_from_flow(text: &str) -> Result<(Vec<u8>, PacketMeta), String> {
    let m = parse_match(text).map_err(|e| e.message)?;
    let mut in_port = None;
    let mut tunnel_id = 0;
    let (mut et, mut proto, mut vlan) = (None, None, None);
    for f in &m.fields {
        match f {
            Oxm::InPort(p) => in_port = Some(*p),
            Oxm::TunnelId(v, _) => tunnel_id = *v,
            Oxm::EthType(t) => et = Some(*t),
            Oxm::IpProto(p) => proto = Some(*p),
            Oxm::VlanVid(v, _) if v & 0x1000 != 0 => vlan = Some(*v),
            _ => {}
        }
    }
    let in_port = in_port.ok_or("the flow to trace needs in_port=N")?;
    let mut frame = base_frame(et.unwrap_or(eth_type::IPV4), proto);
    if et.is_none() {
        // No eth_type given: an Ethernet frame of an unused type.
        frame.truncate(14);
        frame[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
        frame.resize(60, 0);
    }
    let meta = PacketMeta {
        in_port,
        in_phy_port: in_port,
        tunnel_id,
    };
    let (mut key, mut layout) = extract(&frame, meta);
    if let Some(v) = vlan {
        let push = Action::PushVlan(eth_type::VLAN);
        let _ = packet::apply(&mut frame, &mut key, &mut layout, &push);
        let _ = packet::apply(
            &mut frame,
            &mut key,
            &mut layout,
            &Action::SetField(Oxm::VlanVid(v, None)),
        );
    }
    for f in &m.fields {
        let skip = matches!(
            f.field(),
            Some(
                OxmField::InPort
                    | OxmField::InPhyPort
                    | OxmField::Metadata
                    | OxmField::TunnelId
                    | OxmField::EthType
                    | OxmField::IpProto
                    | OxmField::VlanVid
                    | OxmField::Ipv6Exthdr
            )
        );
        if skip {
            continue;
        }
        let _ = packet::apply(
            &mut frame,
            &mut key,
            &mut layout,
            &Action::SetField(unmasked(f)),
        );
    }
    Ok((frame, meta))
}

/// The field with its mask dropped (the value is what the packet carries).
fn unmasked(f: &Oxm) -> Oxm {
    use Oxm::*;
    match f.clone() {
        Metadata(v, _) => Metadata(v, None),
        TunnelId(v, _) => TunnelId(v, None),
        EthDst(v, _) => EthDst(v, None),
        EthSrc(v, _) => EthSrc(v, None),
        VlanVid(v, _) => VlanVid(v, None),
        Ipv4Src(v, _) => Ipv4Src(v, None),
        Ipv4Dst(v, _) => Ipv4Dst(v, None),
        ArpSpa(v, _) => ArpSpa(v, None),
        ArpTpa(v, _) => ArpTpa(v, None),
        ArpSha(v, _) => ArpSha(v, None),
        ArpTha(v, _) => ArpTha(v, None),
        Ipv6Src(v, _) => Ipv6Src(v, None),
        Ipv6Dst(v, _) => Ipv6Dst(v, None),
        Ipv6Flabel(v, _) => Ipv6Flabel(v, None),
        TcpSrc(v, _) => TcpSrc(v, None),
        TcpDst(v, _) => TcpDst(v, None),
        UdpSrc(v, _) => UdpSrc(v, None),
        UdpDst(v, _) => UdpDst(v, None),
        SctpSrc(v, _) => SctpSrc(v, None),
        SctpDst(v, _) => SctpDst(v, None),
        PbbIsid(v, _) => PbbIsid(v, None),
        other => other,
    }
}

/// A 64-byte frame of this Ethernet type and IP protocol with neutral
/// addresses (02:00:00:00:00:01 → 02:00:00:00:00:02, 10.0.0.1 → 10.0.0.2,
/// fe80::1 → fe80::2), TTL 64.
fn base_frame(et: u16, proto: Option<u8>) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend(et.to_be_bytes());
    let l4 = |p: Option<u8>| -> Vec<u8> {
        match p {
            Some(ip_proto::TCP) => {
                let mut t = vec![0u8; 20];
                t[12] = 0x50;
                t
            }
            Some(ip_proto::UDP) => vec![0, 0, 0, 0, 0, 8, 0, 0],
            Some(ip_proto::SCTP) => vec![0u8; 12],
            Some(ip_proto::ICMP) | Some(ip_proto::ICMPV6) => vec![8, 0, 0, 0, 0, 0, 0, 0],
            _ => Vec::new(),
        }
    };
    match et {
        eth_type::IPV4 => {
            let body = l4(proto);
            let total = (20 + body.len()) as u16;
            f.extend([0x45, 0]);
            f.extend(total.to_be_bytes());
            f.extend([0, 0, 0x40, 0, 64, proto.unwrap_or(0xfd), 0, 0]);
            f.extend([10, 0, 0, 1, 10, 0, 0, 2]);
            let sum = !csum::fold(csum::sum(&f[14..34]));
            f[24..26].copy_from_slice(&sum.to_be_bytes());
            f.extend(body);
        }
        eth_type::IPV6 => {
            let body = l4(proto);
            f.extend([0x60, 0, 0, 0]);
            f.extend((body.len() as u16).to_be_bytes());
            f.extend([proto.unwrap_or(59), 64]);
            let mut a = [0u8; 16];
            a[0] = 0xfe;
            a[1] = 0x80;
            a[15] = 1;
            f.extend(a);
            a[15] = 2;
            f.extend(a);
            f.extend(body);
        }
        eth_type::ARP => {
            f.extend([0, 1, 8, 0, 6, 4, 0, 1]);
            f.extend([2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
            f.extend([0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
        }
        _ => {}
    }
    if f.len() < 60 {
        f.resize(60, 0);
    }
    f
}

fn port_name(p: u32) -> String {
    match p {
        port_no::IN_PORT => "IN_PORT".into(),
        port_no::TABLE => "TABLE".into(),
        port_no::NORMAL => "NORMAL".into(),
        port_no::FLOOD => "FLOOD".into(),
        port_no::ALL => "ALL".into(),
        port_no::CONTROLLER => "CONTROLLER".into(),
        port_no::LOCAL => "LOCAL".into(),
        n => n.to_string(),
    }
}

impl Pipeline {
    /// The trace of `frame` arriving with `meta`, as text.
    pub fn trace(&self, frame: &[u8], meta: PacketMeta, now: u64) -> String {
        let (key, layout) = extract(frame, meta);
        let prog = self.translate(frame, &key, &layout, 0, now);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Packet: {} bytes in on port {}",
            frame.len(),
            port_name(meta.in_port)
        );
        let _ = writeln!(out);
        let mut finals = Vec::new();
        render(&prog.ops, 0, &mut out, &mut finals);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Final actions: {}",
            if finals.is_empty() {
                "drop".to_string()
            } else {
                finals.join(",")
            }
        );
        out
    }
}

fn render(ops: &[Op], depth: usize, out: &mut String, finals: &mut Vec<String>) {
    let pad = "    ".repeat(depth);
    for op in ops {
        match op {
            Op::Table {
                table_id, matched, ..
            } => {
                if !matched {
                    let _ = writeln!(out, "{pad}{table_id}. No match: drop");
                }
            }
            Op::Flow(e) if e.table_id == 0xff => {}
            Op::Flow(e) => {
                let m = match_to_string(&e.match_);
                let m = if m.is_empty() {
                    String::new()
                } else {
                    format!(",{m}")
                };
                let _ = writeln!(
                    out,
                    "{pad}{}. priority={}{m}, cookie={:#x}\n{pad}    actions={}",
                    e.table_id,
                    e.priority,
                    e.cookie,
                    actions_to_string(&e.instructions)
                );
            }
            Op::Meter(m) => {
                let _ = writeln!(out, "{pad}    meter {} (may drop)", m.id);
            }
            Op::Group(g, _) => {
                let _ = writeln!(out, "{pad}    group {}", g.id);
            }
            Op::Bucket(_, i) => {
                let _ = writeln!(out, "{pad}    bucket {i}");
            }
            Op::Edit(a) => {
                let s =
                    actions_to_string(&[openflow::instruction::Instruction::ApplyActions(vec![
                        a.clone()
                    ])]);
                let _ = writeln!(out, "{pad}    {s}");
                finals.push(s);
            }
            Op::Output { port, .. } => {
                let _ = writeln!(out, "{pad}    -> output to port {}", port_name(*port));
                finals.push(format!("output:{}", port_name(*port)));
            }
            Op::Controller(c) => {
                let _ = writeln!(out, "{pad}    -> to the controller (reason {})", c.reason);
                finals.push("CONTROLLER".into());
            }
            Op::Normal { vid, .. } => {
                let v = vid.map(|v| format!(" in VLAN {v}")).unwrap_or_default();
                let _ = writeln!(out, "{pad}    -> NORMAL (MAC learning){v}");
                finals.push("NORMAL".into());
            }
            Op::Queue(q) => {
                let _ = writeln!(out, "{pad}    set_queue:{q}");
            }
            Op::Fork(ops) => {
                let mut sub = Vec::new();
                render(ops, depth + 1, out, &mut sub);
                if !sub.is_empty() {
                    finals.push(format!("[{}]", sub.join(",")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ports::PortInfo;
    use openflow::messages::flow_mod_command;
    use openflow::ofctl::parse::parse_flow_mod;

    #[test]
    fn traces_tables_matches_and_actions() {
        let mut p = Pipeline::new();
        for n in 1..=3 {
            p.set_port(PortInfo::new(n));
        }
        for f in [
            "table=0,priority=10,tcp,tp_dst=80,actions=dec_ttl,goto_table:1",
            "table=1,priority=5,ip,nw_dst=10.0.0.9,actions=output:3",
            "table=1,priority=1,actions=output:2",
        ] {
            let fm = parse_flow_mod(f, flow_mod_command::ADD).expect("flow");
            p.flow_mod(&fm, 0).expect("add");
        }
        let (frame, meta) =
            packet_from_flow("in_port=1,tcp,nw_dst=10.0.0.9,tp_dst=80").expect("packet");
        let t = p.trace(&frame, meta, 0);
        assert!(t.contains("0. priority=10,tcp,tp_dst=80"), "{t}");
        assert!(t.contains("1. priority=5,ip,nw_dst=10.0.0.9"), "{t}");
        assert!(t.contains("Final actions: dec_ttl,output:3"), "{t}");
        // Nothing was counted.
        assert!(p.tables[0].entries().all(|e| e.packets() == 0));

        let (frame, meta) = packet_from_flow("in_port=2,udp").expect("packet");
        let t = p.trace(&frame, meta, 0);
        assert!(t.contains("0. No match: drop"), "{t}");
        assert!(t.contains("Final actions: drop"), "{t}");
        assert!(packet_from_flow("tcp").is_err(), "in_port is required");
        assert!(packet_from_flow("in_port=1,bogus=1").is_err());
    }
}
