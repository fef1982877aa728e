//! Frame → flow key.
//!
//! [`parse`] fills every packet-derived field of a [`FlowKey`] and returns
//! the [`Layout`] the editor needs. It keeps the caller's `in_port`,
//! `in_phy_port`, `metadata` and `tunnel_id` and clears everything else
//! first, so re-parsing after an edit leaves no stale field behind.
//!
//! What is parsed, and how far (Open vSwitch's `flow_extract` is the model):
//!
//! - Ethernet addresses; VLAN tags (TPID 0x8100 or 0x88a8, any number,
//!   the outermost one in the key with `OFPVID_PRESENT`); the Ethertype after
//!   the tags, 802.3 length values becoming `0x05ff` (LLC/SNAP is not looked
//!   into). A TPID whose tag is cut off is taken as the Ethertype, as OVS does.
//! - MPLS (0x8847/0x8848): label, TC and BoS of the top entry; nothing under
//!   the label stack goes into the key (L3 fields need an IP Ethertype), but
//!   [`Layout::l3`] points after the bottom of the stack for the TTL copies.
//! - PBB (0x88e7): the I-SID of the I-TAG; the customer frame is not parsed.
//! - ARP for Ethernet/IPv4 only (hardware type 1, protocol 0x0800, lengths
//!   6 and 4): opcode, SPA/TPA (in NW_SRC/NW_DST), SHA/THA (DL_SHA/DL_THA).
//! - IPv4 (version 4, IHL ≥ 5 and complete): DSCP, ECN, protocol, addresses;
//!   the total length bounds L4 (Ethernet padding excluded) when it is
//!   consistent, else the frame's end does; no L4 in non-first fragments.
//! - IPv6: DSCP, ECN, flow label, addresses, the extension header chain with
//!   the `IPV6_EXTHDR` flags, and `ip_proto` = the header after the chain.
//! - TCP (complete header, data offset valid), UDP, SCTP ports; ICMPv4 and
//!   ICMPv6 type and code (4 bytes); for neighbour solicitations and
//!   advertisements with code 0 the target and the source (NS) or target
//!   (NA) link-layer address option.

use super::bytes::{arr, be16};
use crate::flow_key::{exthdr, off, FlowKey, KEY_LEN};
use openflow::types::eth_type;

/// Frames are parsed up to this many bytes (the largest an IP total length
/// or payload length can describe); the rest is payload.
pub const MAX_FRAME: usize = u16::MAX as usize;

/// Ethertype given to 802.3 frames (a length, not a type), as in OVS.
pub const ETH_TYPE_NONE: u16 = 0x05ff;

/// Whether the IP datagram is a fragment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Frag {
    /// Not a fragment.
    #[default]
    No,
    /// The first fragment (offset 0, more fragments): L4 is parsed.
    First,
    /// A later fragment: no L4 header in it.
    Later,
}

/// Where the headers of a parsed frame are: byte offsets from the start.
///
/// An offset is `Some` only when the header is complete in the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The outermost VLAN tag (its TPID; always 12 with Ethernet).
    pub vlan: Option<u16>,
    /// How many VLAN tags precede the Ethertype (saturating).
    pub vlan_tags: u8,
    /// The Ethertype after the VLAN tags, i.e. the key's `eth_type`
    /// (`None` for a frame shorter than 14 bytes). MPLS is pushed after it.
    pub eth_type: Option<u16>,
    /// The PBB I-TAG TCI (4 bytes after the 0x88e7 Ethertype).
    pub pbb: Option<u16>,
    /// The top MPLS label stack entry.
    pub mpls: Option<u16>,
    /// The byte holding the key's `ip_proto`: the IPv4 protocol field, or
    /// the IPv6 next-header field that names the header after the extension
    /// header chain (set_field ip_proto rewrites it).
    pub nw_proto: Option<u16>,
    /// The network header: IPv4, IPv6 or ARP when parsed into the key; for
    /// MPLS, the first byte after the bottom of the label stack (not parsed).
    pub l3: Option<u16>,
    /// The TCP, UDP, SCTP, ICMPv4 or ICMPv6 header, when parsed into the key.
    pub l4: Option<u16>,
    /// What follows the L4 header (TCP options included in the header; for
    /// ICMP the message body after type, code and checksum).
    pub payload: Option<u16>,
    /// End of the IP datagram (total/payload length when consistent with the
    /// frame), else of the parsed frame.
    pub end: u16,
    /// Fragment status of the IP datagram.
    pub frag: Frag,
    /// IPv6 with a routing header that has segments left: the L4
    /// pseudo-header uses the final destination, not the IPv6 destination.
    pub ipv6_routed: bool,
    /// ND target address (ICMPv6 NS or NA with code 0).
    pub nd_target: Option<u16>,
    /// The 6-byte address of the ND source (NS) or target (NA) link-layer
    /// address option, the one in the key.
    pub nd_lladdr: Option<u16>,
}

#[inline(always)]
fn o16(x: usize) -> u16 {
    u16::try_from(x).unwrap_or(u16::MAX)
}

#[inline(always)]
fn put<const N: usize>(k: &mut [u8; KEY_LEN], at: usize, v: &[u8; N]) {
    if let Some(d) = super::bytes::arr_mut::<N>(k, at) {
        *d = *v;
    }
}

/// Clears the packet-derived fields of `key`, keeping `in_port`,
/// `in_phy_port`, `metadata` and `tunnel_id`.
#[inline]
pub fn clear_packet_fields(key: &mut FlowKey) {
    let k = key.as_bytes_mut();
    let in_port = arr::<4>(k, off::IN_PORT).copied();
    // METADATA, TUNNEL_ID and IN_PHY_PORT are contiguous: 40..60.
    let meta = arr::<20>(k, off::METADATA).copied();
    *k = [0; KEY_LEN];
    if let Some(v) = in_port {
        put(k, off::IN_PORT, &v);
    }
    if let Some(v) = meta {
        put(k, off::METADATA, &v);
    }
}

/// Parses `frame` into `key` (every packet-derived field; the caller's
/// `in_port`, `in_phy_port`, `metadata` and `tunnel_id` are kept) and
/// returns where the headers are. Never panics; what does not fit is left
/// zero in the key and `None` in the layout.
pub fn parse(frame: &[u8], key: &mut FlowKey) -> Layout {
    let frame = frame.get(..MAX_FRAME).unwrap_or(frame);
    clear_packet_fields(key);
    let k = key.as_bytes_mut();
    let mut lay = Layout {
        end: o16(frame.len()),
        ..Layout::default()
    };

    if let Some(d) = arr::<6>(frame, 0) {
        put(k, off::ETH_DST, d);
    }
    if let Some(s) = arr::<6>(frame, 6) {
        put(k, off::ETH_SRC, s);
    }

    // VLAN tags: `p` is the position of the next type field.
    let mut p = 12;
    let typ = loop {
        let Some(t) = be16(frame, p) else {
            return lay;
        };
        if (t == eth_type::VLAN || t == eth_type::QINQ) && frame.len() >= p + 6 {
            if lay.vlan.is_none() {
                let tci = be16(frame, p + 2).unwrap_or(0);
                lay.vlan = Some(o16(p));
                put(k, off::VLAN_VID, &((tci & 0x0fff) | 0x1000).to_be_bytes());
                put(k, off::VLAN_PCP, &[(tci >> 13) as u8]);
            }
            lay.vlan_tags = lay.vlan_tags.saturating_add(1);
            p += 4;
            continue;
        }
        break t;
    };
    let typ = if typ < 0x0600 { ETH_TYPE_NONE } else { typ };
    put(k, off::ETH_TYPE, &typ.to_be_bytes());
    lay.eth_type = Some(o16(p));
    let l3 = p + 2;

    match typ {
        eth_type::IPV4 => parse_ipv4(frame, l3, k, &mut lay),
        eth_type::IPV6 => parse_ipv6(frame, l3, k, &mut lay),
        eth_type::ARP => parse_arp(frame, l3, k, &mut lay),
        eth_type::MPLS | eth_type::MPLS_MCAST => parse_mpls(frame, l3, k, &mut lay),
        eth_type::PBB => {
            if let Some(t) = arr::<4>(frame, l3) {
                put(k, off::PBB_ISID, &[0, t[1], t[2], t[3]]);
                lay.pbb = Some(o16(l3));
            }
        }
        _ => {}
    }
    lay
}

fn parse_arp(frame: &[u8], l3: usize, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let Some(h) = arr::<28>(frame, l3) else {
        return;
    };
    if h[0..6] != [0, 1, 0x08, 0x00, 6, 4] {
        return;
    }
    put(k, off::ARP_OP, &[h[6], h[7]]);
    put(k, off::DL_SHA, &[h[8], h[9], h[10], h[11], h[12], h[13]]);
    put(k, off::NW_SRC, &[h[14], h[15], h[16], h[17]]);
    put(k, off::DL_THA, &[h[18], h[19], h[20], h[21], h[22], h[23]]);
    put(k, off::NW_DST, &[h[24], h[25], h[26], h[27]]);
    lay.l3 = Some(o16(l3));
}

fn parse_mpls(frame: &[u8], at: usize, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let Some(&top) = arr::<4>(frame, at) else {
        return;
    };
    let lse = u32::from_be_bytes(top);
    put(k, off::MPLS_LABEL, &(lse >> 12).to_be_bytes());
    put(k, off::MPLS_TC, &[((lse >> 9) & 7) as u8]);
    put(k, off::MPLS_BOS, &[((lse >> 8) & 1) as u8]);
    lay.mpls = Some(o16(at));
    let mut q = at;
    while let Some(e) = arr::<4>(frame, q) {
        q += 4;
        if e[2] & 1 != 0 {
            lay.l3 = Some(o16(q));
            break;
        }
    }
}

fn parse_ipv4(frame: &[u8], l3: usize, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let Some(h) = arr::<20>(frame, l3) else {
        return;
    };
    let ihl = usize::from(h[0] & 0x0f) * 4;
    if h[0] >> 4 != 4 || ihl < 20 || frame.len() < l3 + ihl {
        return;
    }
    let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let end = if total >= ihl && l3 + total <= frame.len() {
        l3 + total
    } else {
        frame.len()
    };
    lay.l3 = Some(o16(l3));
    lay.end = o16(end);
    put(k, off::IP_DSCP, &[h[1] >> 2]);
    put(k, off::IP_ECN, &[h[1] & 3]);
    put(k, off::IP_PROTO, &[h[9]]);
    lay.nw_proto = Some(o16(l3 + 9));
    put(k, off::NW_SRC, &[h[12], h[13], h[14], h[15]]);
    put(k, off::NW_DST, &[h[16], h[17], h[18], h[19]]);
    let frag = u16::from_be_bytes([h[6], h[7]]);
    if frag & 0x1fff != 0 {
        lay.frag = Frag::Later;
        return;
    }
    if frag & 0x2000 != 0 {
        lay.frag = Frag::First;
    }
    let seg = frame.get(..end).unwrap_or(frame);
    parse_l4(seg, l3 + ihl, h[9], false, k, lay);
}

/// Order of the extension headers RFC 8200 section 4.1 recommends.
fn ext_rank(nh: u8, last: u8) -> Option<(u16, u8)> {
    Some(match nh {
        0 => (exthdr::HOP, 1),
        // A destination options header before the routing header, or the
        // final one before the upper layer.
        60 => (exthdr::DEST, if last <= 1 { 2 } else { 7 }),
        43 => (exthdr::ROUTER, 3),
        44 => (exthdr::FRAG, 4),
        51 => (exthdr::AUTH, 5),
        50 => (exthdr::ESP, 6),
        59 => (exthdr::NONEXT, 8),
        _ => return None,
    })
}

fn parse_ipv6(frame: &[u8], l3: usize, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let Some(h) = arr::<40>(frame, l3) else {
        return;
    };
    if h[0] >> 4 != 6 {
        return;
    }
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = if plen != 0 && l3 + 40 + plen <= frame.len() {
        l3 + 40 + plen
    } else {
        frame.len()
    };
    lay.l3 = Some(o16(l3));
    lay.end = o16(end);
    let tc = (h[0] << 4) | (h[1] >> 4);
    put(k, off::IP_DSCP, &[tc >> 2]);
    put(k, off::IP_ECN, &[tc & 3]);
    put(k, off::IPV6_FLABEL, &[0, h[1] & 0x0f, h[2], h[3]]);
    if let (Some(s), Some(d)) = (arr::<16>(h, 8), arr::<16>(h, 24)) {
        put(k, off::IPV6_SRC, s);
        put(k, off::IPV6_DST, d);
    }
    let seg = frame.get(..end).unwrap_or(frame);

    // The extension header chain.
    let mut nh = h[6];
    // Where `nh` was read from.
    let mut nh_at = l3 + 6;
    let mut p = l3 + 40;
    let mut flags = 0u16;
    let mut last = 0u8;
    let mut dest_ranks = 0u8;
    while let Some((flag, rank)) = ext_rank(nh, last) {
        let repeat = if nh == 60 {
            let bit = if rank == 2 { 1 } else { 2 };
            let seen = dest_ranks & bit != 0;
            dest_ranks |= bit;
            seen
        } else {
            flags & flag != 0
        };
        if repeat {
            flags |= exthdr::UNREP;
        }
        if rank < last {
            flags |= exthdr::UNSEQ;
        }
        last = last.max(rank);
        flags |= flag;
        match nh {
            // ESP hides what follows; "no next header" has nothing.
            50 | 59 => break,
            44 => {
                let Some(f) = arr::<8>(seg, p) else {
                    break;
                };
                let fo = u16::from_be_bytes([f[2], f[3]]);
                nh = f[0];
                nh_at = p;
                p += 8;
                if fo & 0xfff8 != 0 {
                    lay.frag = Frag::Later;
                    break;
                }
                if fo & 1 != 0 {
                    lay.frag = Frag::First;
                }
            }
            _ => {
                let Some(e) = arr::<4>(seg, p) else {
                    break;
                };
                let len = if nh == 51 {
                    (usize::from(e[1]) + 2) * 4
                } else {
                    (usize::from(e[1]) + 1) * 8
                };
                if p + len > seg.len() {
                    break;
                }
                if nh == 43 && e[3] != 0 {
                    lay.ipv6_routed = true;
                }
                nh = e[0];
                nh_at = p;
                p += len;
            }
        }
    }
    put(k, off::IP_PROTO, &[nh]);
    lay.nw_proto = Some(o16(nh_at));
    put(k, off::IPV6_EXTHDR, &flags.to_be_bytes());
    if lay.frag != Frag::Later {
        parse_l4(seg, p, nh, true, k, lay);
    }
}

/// The L4 header at `at`; `seg` ends where the IP datagram ends.
fn parse_l4(seg: &[u8], at: usize, proto: u8, v6: bool, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let hl = match proto {
        6 => {
            let Some(h) = arr::<20>(seg, at) else {
                return;
            };
            let doff = usize::from(h[12] >> 4) * 4;
            if doff < 20 || at + doff > seg.len() {
                return;
            }
            put(k, off::TP_SRC, &[h[0], h[1], h[2], h[3]]);
            doff
        }
        17 | 132 => {
            let hl = if proto == 17 { 8 } else { 12 };
            if seg.len() < at + hl {
                return;
            }
            let Some(h) = arr::<4>(seg, at) else {
                return;
            };
            put(k, off::TP_SRC, h);
            hl
        }
        1 if !v6 => {
            let Some(h) = arr::<4>(seg, at) else {
                return;
            };
            put(k, off::ICMP_TYPE, &[h[0], h[1]]);
            4
        }
        58 if v6 => {
            let Some(h) = arr::<4>(seg, at) else {
                return;
            };
            put(k, off::ICMP_TYPE, &[h[0], h[1]]);
            if h[1] == 0 && (h[0] == 135 || h[0] == 136) {
                parse_nd(seg, at, h[0], k, lay);
            }
            4
        }
        _ => return,
    };
    lay.l4 = Some(o16(at));
    lay.payload = Some(o16(at + hl));
}

/// Neighbour solicitation (135) or advertisement (136) at `at`.
fn parse_nd(seg: &[u8], at: usize, typ: u8, k: &mut [u8; KEY_LEN], lay: &mut Layout) {
    let Some(t) = arr::<16>(seg, at + 8) else {
        return;
    };
    put(k, off::ND_TARGET, t);
    lay.nd_target = Some(o16(at + 8));
    // Options: type, length in units of 8 bytes, value.
    let want = if typ == 135 { 1 } else { 2 };
    let mut o = at + 24;
    while let Some(&[ot, ol]) = arr::<2>(seg, o) {
        let n = usize::from(ol) * 8;
        if n == 0 || o + n > seg.len() {
            break;
        }
        if ot == want && ol == 1 {
            if let Some(mac) = arr::<6>(seg, o + 2) {
                let slot = if typ == 135 { off::DL_SHA } else { off::DL_THA };
                put(k, slot, mac);
                lay.nd_lladdr = Some(o16(o + 2));
            }
            break;
        }
        o += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::*;
    use openflow::oxm::OxmField;

    fn parsed(frame: &[u8]) -> (FlowKey, Layout) {
        let mut k = FlowKey::ZERO;
        let l = parse(frame, &mut k);
        (k, l)
    }

    fn mac(k: &FlowKey, o: usize) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(k.bytes_at(o, 6));
        m
    }

    fn v6(k: &FlowKey, o: usize) -> [u8; 16] {
        let mut m = [0; 16];
        m.copy_from_slice(k.bytes_at(o, 16));
        m
    }

    #[test]
    fn tcp_ipv4() {
        let f = tcp4();
        assert_eq!(f.len(), 64);
        let (k, l) = parsed(&f);
        assert_eq!(mac(&k, off::ETH_DST), DST_MAC);
        assert_eq!(mac(&k, off::ETH_SRC), SRC_MAC);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.vlan_vid(), 0);
        assert_eq!(k.u8_at(off::IP_DSCP), 10);
        assert_eq!(k.u8_at(off::IP_ECN), 1);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.bytes_at(off::NW_SRC, 4), IP4_SRC);
        assert_eq!(k.bytes_at(off::NW_DST, 4), IP4_DST);
        assert_eq!(k.u16_at(off::TP_SRC), 1234);
        assert_eq!(k.u16_at(off::TP_DST), 80);
        assert_eq!(
            l,
            Layout {
                eth_type: Some(12),
                nw_proto: Some(23),
                l3: Some(14),
                l4: Some(34),
                payload: Some(54),
                end: 64,
                ..Layout::default()
            }
        );
    }

    #[test]
    fn vlan_and_qinq() {
        let (k, l) = parsed(&udp4_vlan());
        assert_eq!(k.vlan_vid(), 0x1000 | 100);
        assert_eq!(k.u8_at(off::VLAN_PCP), 5);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.ip_proto(), 17);
        assert_eq!(k.u16_at(off::TP_SRC), 5353);
        assert_eq!(k.u16_at(off::TP_DST), 53);
        assert_eq!(
            (l.vlan, l.vlan_tags, l.eth_type, l.l3),
            (Some(12), 1, Some(16), Some(18))
        );

        let f = udp4_qinq();
        assert_eq!(f[12..14], [0x88, 0xa8]);
        let (k, l) = parsed(&f);
        assert_eq!(k.vlan_vid(), 0x1000 | 10, "outer tag");
        assert_eq!(k.eth_type(), 0x0800, "Ethertype after both tags");
        assert_eq!(k.u16_at(off::TP_DST), 2);
        assert_eq!(
            (l.vlan, l.vlan_tags, l.eth_type, l.l3),
            (Some(12), 2, Some(20), Some(22))
        );
    }

    #[test]
    fn vid_zero_tag_is_present() {
        let mut f = udp4_vlan();
        f[14] = 0;
        f[15] = 0;
        let (k, _) = parsed(&f);
        assert_eq!(k.vlan_vid(), 0x1000);
    }

    #[test]
    fn arp_fields() {
        let (k, l) = parsed(&arp());
        assert_eq!(k.eth_type(), 0x0806);
        assert_eq!(k.u16_at(off::ARP_OP), 1);
        assert_eq!(k.bytes_at(off::NW_SRC, 4), IP4_SRC);
        assert_eq!(k.bytes_at(off::NW_DST, 4), IP4_DST);
        assert_eq!(mac(&k, off::DL_SHA), SRC_MAC);
        assert_eq!(mac(&k, off::DL_THA), [0; 6]);
        assert_eq!(l.l3, Some(14));
        // Not Ethernet/IPv4 ARP: only the Ethertype.
        let mut f = arp();
        f[15] = 6;
        let (k, l) = parsed(&f);
        assert_eq!(k.eth_type(), 0x0806);
        assert_eq!(k.u16_at(off::ARP_OP), 0);
        assert_eq!(k.u32_at(off::NW_SRC), 0);
        assert_eq!(l.l3, None);
    }

    #[test]
    fn icmpv4() {
        let (k, l) = parsed(&icmp4());
        assert_eq!(k.ip_proto(), 1);
        assert_eq!(k.u8_at(off::ICMP_TYPE), 8);
        assert_eq!(k.u8_at(off::ICMP_CODE), 0);
        assert_eq!((l.l4, l.payload), (Some(34), Some(38)));
    }

    #[test]
    fn ipv6_tcp_udp_icmp() {
        let (k, l) = parsed(&tcp6());
        assert_eq!(k.eth_type(), 0x86dd);
        assert_eq!(k.u8_at(off::IP_DSCP), 46);
        assert_eq!(k.u8_at(off::IP_ECN), 2);
        assert_eq!(k.u32_at(off::IPV6_FLABEL), 0x12345);
        assert_eq!(v6(&k, off::IPV6_SRC), IP6_SRC);
        assert_eq!(v6(&k, off::IPV6_DST), IP6_DST);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.u16_at(off::IPV6_EXTHDR), 0);
        assert_eq!(k.u16_at(off::TP_SRC), 40000);
        assert_eq!(k.u16_at(off::TP_DST), 443);
        assert_eq!((l.l3, l.l4), (Some(14), Some(54)));

        let (k, _) = parsed(&udp6());
        assert_eq!(
            (k.ip_proto(), k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)),
            (17, 546, 547)
        );

        let (k, l) = parsed(&icmp6());
        assert_eq!(k.ip_proto(), 58);
        assert_eq!((k.u8_at(off::ICMP_TYPE), k.u8_at(off::ICMP_CODE)), (128, 0));
        assert_eq!(l.nd_target, None);
    }

    #[test]
    fn neighbour_discovery() {
        let f = nd(true, true);
        let (k, l) = parsed(&f);
        assert_eq!((k.u8_at(off::ICMP_TYPE), k.u8_at(off::ICMP_CODE)), (135, 0));
        assert_eq!(v6(&k, off::ND_TARGET), ND_TARGET);
        assert_eq!(mac(&k, off::DL_SHA), ND_LL);
        assert_eq!(mac(&k, off::DL_THA), [0; 6]);
        assert_eq!(l.nd_target, Some(62));
        // Target (16) and the nonce option (8), then type and length.
        assert_eq!(l.nd_lladdr, Some(62 + 16 + 8 + 2));

        let (k, l) = parsed(&nd(false, false));
        assert_eq!(k.u8_at(off::ICMP_TYPE), 136);
        assert_eq!(v6(&k, off::ND_TARGET), ND_TARGET);
        assert_eq!(mac(&k, off::DL_THA), ND_LL);
        assert_eq!(mac(&k, off::DL_SHA), [0; 6]);
        assert_eq!(l.nd_lladdr, Some(62 + 16 + 2));

        // A zero-length option ends option parsing without panicking.
        let mut f = nd(true, true);
        f[62 + 16 + 1] = 0;
        let (k, l) = parsed(&f);
        assert_eq!(v6(&k, off::ND_TARGET), ND_TARGET);
        assert_eq!((mac(&k, off::DL_SHA), l.nd_lladdr), ([0; 6], None));
    }

    #[test]
    fn sctp() {
        let (k, l) = parsed(&sctp4());
        assert_eq!(k.ip_proto(), 132);
        assert_eq!((k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)), (2905, 2944));
        assert_eq!(l.payload, Some(34 + 12));
    }

    #[test]
    fn mpls_stack() {
        let (k, l) = parsed(&mpls(&[(1000, 5, 40)]));
        assert_eq!(k.eth_type(), 0x8847);
        assert_eq!(k.u32_at(off::MPLS_LABEL), 1000);
        assert_eq!(k.u8_at(off::MPLS_TC), 5);
        assert_eq!(k.u8_at(off::MPLS_BOS), 1);
        assert_eq!(k.ip_proto(), 0, "nothing under MPLS is in the key");
        assert_eq!(k.u32_at(off::NW_SRC), 0);
        assert_eq!((l.mpls, l.l3, l.l4), (Some(14), Some(18), None));

        let (k, l) = parsed(&mpls(&[(16, 1, 10), (17, 2, 20)]));
        assert_eq!(k.u32_at(off::MPLS_LABEL), 16);
        assert_eq!(k.u8_at(off::MPLS_TC), 1);
        assert_eq!(k.u8_at(off::MPLS_BOS), 0);
        assert_eq!((l.mpls, l.l3), (Some(14), Some(22)));
    }

    #[test]
    fn pbb_isid() {
        let (k, l) = parsed(&pbb());
        assert_eq!(k.eth_type(), 0x88e7);
        assert_eq!(k.u32_at(off::PBB_ISID), 0xabcdef);
        assert_eq!(l.pbb, Some(14));
        assert_eq!(k.ip_proto(), 0);
    }

    #[test]
    fn ieee_802_3_length_frame() {
        let mut f = eth(0x0040);
        f.extend_from_slice(&[0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
        let (k, l) = parsed(&f);
        assert_eq!(k.eth_type(), ETH_TYPE_NONE);
        assert_eq!(l.l3, None);
    }

    #[test]
    fn ipv4_fragments_and_padding() {
        // A later fragment: protocol but no ports.
        let mut f = tcp4();
        f[14 + 6] = 0x00;
        f[14 + 7] = 0x10;
        let (k, l) = parsed(&f);
        assert_eq!(k.ip_proto(), 6);
        assert_eq!(k.u16_at(off::TP_SRC), 0);
        assert_eq!((l.frag, l.l4), (Frag::Later, None));
        // The first fragment still has them.
        f[14 + 6] = 0x20;
        f[14 + 7] = 0x00;
        let (k, l) = parsed(&f);
        assert_eq!(k.u16_at(off::TP_SRC), 1234);
        assert_eq!(l.frag, Frag::First);
        // Ethernet padding after a short datagram is not part of it.
        let mut f = icmp4();
        let ip_end = f.len();
        f.resize(80, 0);
        let (_, l) = parsed(&f);
        assert_eq!(usize::from(l.end), ip_end);
    }

    #[test]
    fn bad_ip_headers_give_only_eth_type() {
        for (at, v) in [(14, 0x55), (14, 0x44), (14, 0x4f)] {
            let mut f = tcp4();
            f[at] = v;
            let (k, l) = parsed(&f);
            assert_eq!(k.eth_type(), 0x0800);
            // 0x4f: IHL 60 fits the 64-byte frame... but not with TCP after it.
            if v != 0x4f {
                assert_eq!((k.ip_proto(), l.l3), (0, None), "{v:#x}");
            }
        }
        let mut f = tcp6();
        f[14] = 0x45;
        let (k, l) = parsed(&f);
        assert_eq!((k.eth_type(), k.ip_proto(), l.l3), (0x86dd, 0, None));
    }

    /// Raw IPv6 frame: `chain` is (header type, bytes) in order; the last
    /// entry's type is the upper layer.
    fn v6_chain(chain: &[(u8, Vec<u8>)], upper: u8, l4: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (i, (_, h)) in chain.iter().enumerate() {
            let next = chain.get(i + 1).map_or(upper, |c| c.0);
            let mut h = h.clone();
            h[0] = next;
            body.extend(h);
        }
        body.extend_from_slice(l4);
        let mut f = eth(0x86dd);
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&(body.len() as u16).to_be_bytes());
        f.push(chain.first().map_or(upper, |c| c.0));
        f.push(64);
        f.extend_from_slice(&IP6_SRC);
        f.extend_from_slice(&IP6_DST);
        f.extend(body);
        f
    }

    fn opt8() -> Vec<u8> {
        vec![0, 0, 1, 4, 0, 0, 0, 0]
    }

    #[test]
    fn ipv6_extension_flags() {
        use crate::flow_key::exthdr::*;
        let (k, l) = parsed(&ipv6_exts());
        assert_eq!(
            k.u16_at(off::IPV6_EXTHDR),
            HOP | DEST | ROUTER | FRAG | AUTH
        );
        assert_eq!(k.ip_proto(), 17);
        assert_eq!((k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)), (1000, 2000));
        assert_eq!((l.frag, l.ipv6_routed), (Frag::First, false));

        let udp = [0, 1, 0, 2, 0, 8, 0, 0];
        let frag = |off: u16| {
            let o = off.to_be_bytes();
            vec![0, 0, o[0], o[1], 0, 0, 0, 1]
        };
        // (chain, upper layer, flags, ip_proto, L4 parsed)
        type Case = (Vec<(u8, Vec<u8>)>, u8, u16, u8, bool);
        let cases: Vec<Case> = vec![
            // No next header.
            (vec![(0, opt8())], 59, HOP | NONEXT, 59, false),
            // Hop-by-hop not first: unexpected sequencing.
            (
                vec![(60, opt8()), (0, opt8())],
                17,
                DEST | HOP | UNSEQ,
                17,
                true,
            ),
            // Two hop-by-hop headers: unexpected repeat (and sequence).
            (vec![(0, opt8()), (0, opt8())], 17, HOP | UNREP, 17, true),
            // Destination options before the routing header and final: fine.
            (
                vec![
                    (60, opt8()),
                    (43, vec![0, 0, 0, 0, 0, 0, 0, 0]),
                    (60, opt8()),
                ],
                17,
                DEST | ROUTER,
                17,
                true,
            ),
            // Routing after fragment: out of order.
            (
                vec![(44, frag(1)), (43, vec![0, 0, 0, 0, 0, 0, 0, 0])],
                17,
                FRAG | ROUTER | UNSEQ,
                17,
                true,
            ),
            // ESP: the walk stops, ip_proto is ESP.
            (vec![(50, vec![0; 8])], 17, ESP, 50, false),
            // Authentication header (length in 4-byte units minus 2).
            (
                vec![(51, vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])],
                17,
                AUTH,
                17,
                true,
            ),
            // A later fragment: no L4.
            (vec![(44, frag(8))], 17, FRAG, 17, false),
        ];
        for (chain, upper, flags, proto, ports) in cases {
            let f = v6_chain(&chain, upper, &udp);
            let (k, l) = parsed(&f);
            assert_eq!(k.u16_at(off::IPV6_EXTHDR), flags, "{chain:?}");
            assert_eq!(k.ip_proto(), proto, "{chain:?}");
            assert_eq!(l.l4.is_some(), ports, "{chain:?}");
            if ports {
                assert_eq!(k.u16_at(off::TP_DST), 2);
            }
        }
        // Segments left in a routing header.
        let f = v6_chain(
            &[(
                43,
                vec![
                    0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
            )],
            17,
            &udp,
        );
        let (k, l) = parsed(&f);
        assert!(l.ipv6_routed);
        assert_eq!(k.u16_at(off::TP_SRC), 1);
    }

    #[test]
    fn keeps_pipeline_fields_clears_the_rest() {
        let mut k = FlowKey::ZERO;
        k.as_bytes_mut().fill(0xee);
        k.set_u32(off::IN_PORT, 7);
        k.set_u32(off::IN_PHY_PORT, 8);
        k.set_u64(off::METADATA, 9);
        k.set_u64(off::TUNNEL_ID, 10);
        parse(&arp(), &mut k);
        assert_eq!(k.in_port(), 7);
        assert_eq!(k.u32_at(off::IN_PHY_PORT), 8);
        assert_eq!(k.metadata(), 9);
        assert_eq!(k.tunnel_id(), 10);
        let mut fresh = FlowKey::ZERO;
        parse(&arp(), &mut fresh);
        for f in OxmField::ALL {
            if !matches!(
                f,
                OxmField::InPort | OxmField::InPhyPort | OxmField::Metadata | OxmField::TunnelId
            ) {
                assert_eq!(k.field_bytes(*f), fresh.field_bytes(*f), "{f:?}");
            }
        }
        // Nothing outside the field slots either (bytes 60..64 hold the label).
        let mut k2 = k;
        for f in [
            OxmField::InPort,
            OxmField::InPhyPort,
            OxmField::Metadata,
            OxmField::TunnelId,
        ] {
            let (o, n) = crate::flow_key::field_slot(f);
            k2.as_bytes_mut()[o..o + n].fill(0);
        }
        assert_eq!(k2, fresh);
    }

    #[test]
    fn truncation_at_every_offset_keeps_earlier_fields() {
        for (name, f) in all_frames() {
            let (full, fl) = parsed(&f);
            for n in 0..=f.len() {
                let (k, l) = parsed(&f[..n]);
                for fld in OxmField::ALL {
                    let t = k.field_bytes(*fld);
                    let w = full.field_bytes(*fld);
                    let ok = t == w
                        || t.iter().all(|&b| b == 0)
                        // Cut inside a VLAN tag: the TPID is the Ethertype.
                        || (*fld == OxmField::EthType && (t == [0x81, 0] || t == [0x88, 0xa8]))
                        // Cut inside the IPv6 extension chain.
                        || (*fld == OxmField::IpProto && name == "ipv6_exts")
                        || (*fld == OxmField::Ipv6Exthdr
                            && k.u16_at(off::IPV6_EXTHDR) & !full.u16_at(off::IPV6_EXTHDR) == 0);
                    assert!(ok, "{name} cut at {n}: {fld:?} {t:02x?} vs {w:02x?}");
                }
                // Whole layers before the cut are all there.
                if n >= 14 + 4 * usize::from(fl.vlan_tags) {
                    assert_eq!(k.eth_type(), full.eth_type(), "{name} cut at {n}");
                }
                if let Some(p) = fl.payload {
                    if n >= usize::from(p) && name != "ns" && name != "na" {
                        assert_eq!(k, full, "{name} cut at {n}");
                    }
                }
                if let (Some(l3), Some(f3)) = (l.l3, fl.l3) {
                    assert_eq!(l3, f3);
                }
                assert!(usize::from(l.end) <= n);
            }
        }
    }

    #[test]
    fn garbage_and_huge_frames_do_not_panic() {
        let mut k = FlowKey::ZERO;
        // Endless VLAN tags.
        let mut f = eth(0x8100);
        for _ in 0..20_000 {
            f.extend_from_slice(&[0, 1, 0x81, 0x00]);
        }
        let l = parse(&f, &mut k);
        assert_eq!(k.vlan_vid(), 0x1001);
        assert!(l.vlan_tags == u8::MAX);
        // An endless MPLS stack.
        let mut f = eth(0x8847);
        f.resize(70_000, 0);
        let l = parse(&f, &mut k);
        assert_eq!((l.mpls, l.l3), (Some(14), None));
        // An IPv6 chain of maximal hop-by-hop headers.
        let mut f = tcp6();
        f[14 + 6] = 0;
        f.resize(70_000, 0xff);
        let l = parse(&f, &mut k);
        assert_eq!(
            k.u16_at(off::IPV6_EXTHDR) & crate::flow_key::exthdr::HOP,
            1 << 6
        );
        assert!(l.l4.is_none());
    }
}
