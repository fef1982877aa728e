//! What cbench puts on the wire and how it reads the answers: the
//! packet-in of each emulated host, and FLOW_MOD / PACKET_OUT classified by
//! offset (the module doc of [`super`] says why not with `Message::decode`).

use super::Args;
use openflow::message::{Body, Message};
use openflow::messages::PacketIn;
use openflow::oxm::{Match, Oxm};
use openflow::MacAddr;

/// `02:cb:SS:SS:HH:HH`.
pub fn host_mac(switch: u32, host: u32) -> MacAddr {
    let s = (switch as u16).to_be_bytes();
    let h = (host as u16).to_be_bytes();
    MacAddr([0x02, 0xcb, s[0], s[1], h[0], h[1]])
}

pub fn mac_key(b: &[u8]) -> Option<u64> {
    let b = b.get(..6)?;
    Some(b.iter().fold(0u64, |k, x| k << 8 | u64::from(*x)))
}

/// The packet-in of host `h` of switch `s`, encoded.
pub fn packet_in(args: &Args, s: u32, h: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&host_mac(s, (h + 1) % args.hosts).0);
    data.extend_from_slice(&host_mac(s, h).0);
    if args.vlan != 0 {
        data.extend_from_slice(&[0x81, 0x00]);
        data.extend_from_slice(&(args.vlan & 0x0fff).to_be_bytes());
    }
    // IPv4 header, protocol 253 (experimental), 10.S.H.H -> 10.S.H+1.
    let hb = (h as u16).to_be_bytes();
    let hd = (((h + 1) % args.hosts) as u16).to_be_bytes();
    data.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 253, 0, 0]);
    data.extend_from_slice(&[10, s as u8, hb[0], hb[1], 10, s as u8, hd[0], hd[1]]);
    data.resize(60, 0);
    let pi = PacketIn {
        buffer_id: openflow::types::NO_BUFFER,
        total_len: data.len() as u16,
        reason: 0,
        table_id: args.table,
        cookie: 0,
        match_: Match::new().with(Oxm::InPort(1 + h % args.ports)),
        data,
    };
    Message::new(0, Body::PacketIn(pi)).to_bytes()
}

/// What a message from the controller refers to.
pub enum Seen {
    /// A FLOW_MOD, with the eth_src or else eth_dst of its match.
    FlowMod(Option<u64>),
    /// A PACKET_OUT, with its frame's source.
    PacketOut(Option<u64>),
    GroupMod,
    Other,
}

/// FLOW_MOD and PACKET_OUT by offset (see the module doc).
pub fn classify(raw: &[u8]) -> Seen {
    match raw.get(1) {
        Some(14) => {
            // ofp_flow_mod: the match at 48: type, length, OXMs.
            let len = raw
                .get(50..52)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
            let end = (48 + len).min(raw.len());
            let mut at = 52;
            let (mut src, mut dst) = (None, None);
            while at + 4 <= end {
                let class = u16::from_be_bytes([raw[at], raw[at + 1]]);
                let field = raw[at + 2] >> 1;
                let olen = raw[at + 3] as usize;
                if class == 0x8000 && olen >= 6 {
                    match field {
                        3 => dst = raw.get(at + 4..at + 10).and_then(mac_key),
                        4 => src = raw.get(at + 4..at + 10).and_then(mac_key),
                        _ => {}
                    }
                }
                at += 4 + olen;
            }
            Seen::FlowMod(src.or(dst))
        }
        Some(13) => {
            // ofp_packet_out: actions_len at 16, the actions at 24, then the frame.
            let alen = raw
                .get(16..18)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
            Seen::PacketOut(raw.get(24 + alen + 6..).and_then(mac_key))
        }
        Some(15) => Seen::GroupMod,
        _ => Seen::Other,
    }
}
