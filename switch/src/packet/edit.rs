//! Packet-changing actions.
//!
//! [`apply`] executes one action on a frame whose [`Layout`] and key came
//! from [`parse`] (or from earlier `apply` calls) and leaves key and layout
//! describing the new bytes: `parse(frame)` after `apply` gives the same key
//! (with the caller's pipeline fields) and layout — the tests check exactly
//! that on arbitrary frames and actions.
//!
//! Two paths:
//!
//! - **In place** (set_field of any header field, TTL actions): the bytes,
//!   the checksums (incrementally, see the [module docs](super)) and the
//!   key's slot are updated; the layout does not move. This is the common,
//!   cheap case.
//! - **Structural** (push/pop of VLAN, MPLS, PBB, and set_field of the MPLS
//!   BoS bit or of the ICMPv6 type/code, which change how the rest is
//!   parsed): the frame is edited and then re-parsed, which costs one
//!   [`parse`] (tens of nanoseconds; see `benches/packet.rs`).
//!
//! Semantics chosen where the spec leaves room:
//!
//! - A set_field whose header is absent (prerequisite unmet, header
//!   truncated, ND option missing, no VLAN tag for VLAN_VID/PCP) is a no-op;
//!   the pipeline rejects such actions at flow_mod time the way OVS does
//!   (OFPBAC_MATCH_INCONSISTENT; OVS also requires a VLAN tag, from the
//!   match or an earlier push_vlan, for set_field vlan_vid — at run time its
//!   datapath would set the "present" bit and so add a tag, a path its
//!   validation makes unreachable).
//! - ETH_TYPE rewrites the Ethertype the key's `eth_type` comes from (after
//!   the VLAN tags) and IP_PROTO the byte the key's `ip_proto` comes from
//!   (IPv4 protocol, or the last IPv6 next-header field); the rest of the
//!   frame is kept byte for byte and re-parsed under its new type. Open
//!   vSwitch refuses both (read-only fields, OFPBAC_BAD_SET_TYPE), but the
//!   spec lists them as settable and the Ryu conformance suite
//!   (`action/25_SET_FIELD/05_ETH_TYPE`, `10_IP_PROTO_*`) expects the
//!   rewrite; accepting and then ignoring them, as this switch once did, is
//!   the one wrong answer. The protocol number is in the IPv4 header
//!   checksum and in the L4 pseudo-header: both checksums are adjusted, the
//!   L4 one where the old protocol keeps it (its header is still there: a
//!   TCP segment relabelled UDP keeps a TCP checksum valid for protocol 17),
//!   as the suite's expected packets have it.
//!   IPV6_EXTHDR is not settable (refused at flow_mod time).
//!   IN_PORT, IN_PHY_PORT, METADATA and TUNNEL_ID change only the key.
//!   A mask on a set_field OXM (not allowed in 1.3) is ignored.
//! - push_vlan: the new tag is outermost and copies VID and PCP from the
//!   old outer tag, else zero (spec table "push tag field values"); DEI is 0.
//! - push_mpls: inserted after the VLAN tags (before the network header), as
//!   OVS and Linux do; copies label, TC and TTL of an existing top entry
//!   (BoS 0), else label 0, TC 0, BoS 1 and the IP TTL, 0 when there is no
//!   IP header (spec 5.12.1: a field with no existing field to copy from is
//!   0; Open vSwitch's `flow_push_mpls` uses 64, the Ryu suite expects 0).
//!   Not applied to 802.3 (length) frames.
//! - pop_mpls: removes the top entry and writes the given Ethertype.
//! - A pop (VLAN, MPLS, PBB) never leaves a frame shorter than the Ethernet
//!   minimum of 60 bytes (without FCS) when it was at least that long: the
//!   frame is padded with zeros, as a NIC pads what it transmits (veth and
//!   AF_PACKET do not, and Open vSwitch's `pop_mpls` does not either, so
//!   without this a minimum-size MPLS frame would leave as 60 - 4 = 56
//!   bytes, a runt on real Ethernet). A frame that came in shorter than 60 bytes
//!   (from a TAP or a test) is left as short as it is.
//! - push_pbb: the frame from its addresses on becomes the customer frame
//!   (C-DA, C-SA copied from the Ethernet addresses, tags included); the
//!   I-TAG copies the I-SID of an existing PBB header and the PCP of the outer
//!   VLAN tag, else zero. pop_pbb removes everything before the customer
//!   addresses.
//! - Pushes with an Ethertype the action does not allow (validated at
//!   flow_mod time) and actions on frames without a complete Ethernet header
//!   are no-ops.
//! - dec_nw_ttl / dec_mpls_ttl on a TTL of 0 or 1 return
//!   [`EditError::InvalidTtl`] with the frame unchanged: the caller drops the
//!   packet or sends it to the controller with OFPR_INVALID_TTL. TTL actions
//!   on a packet without that header are no-ops.
//! - copy_ttl_out/in work between the top two MPLS entries, or between a
//!   bottom-of-stack entry and the IPv4/IPv6 header under it; IP-in-IP is
//!   not handled (no-op).

use super::bytes::{arr, arr_mut, be16, be32};
use super::csum;
use super::parse::{parse, Frag, Layout, ETH_TYPE_NONE};
use crate::flow_key::{off, FlowKey};
use openflow::action::Action;
use openflow::oxm::Oxm;
use openflow::types::eth_type;

/// Why an action could not be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditError {
    /// dec_nw_ttl or dec_mpls_ttl on a TTL of 0 or 1 (OFPR_INVALID_TTL).
    InvalidTtl,
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::InvalidTtl => f.write_str("TTL would expire (OFPR_INVALID_TTL)"),
        }
    }
}

impl std::error::Error for EditError {}

/// Applies one action to `frame`, keeping `key` and `layout` in step with
/// the new bytes. Actions that do not change the packet (output, group,
/// set_queue, experimenter) return `Ok(())` and touch nothing.
pub fn apply(
    frame: &mut Vec<u8>,
    key: &mut FlowKey,
    layout: &mut Layout,
    action: &Action,
) -> Result<(), EditError> {
    let lay = *layout;
    let reparse = match action {
        Action::Output { .. }
        | Action::Group(_)
        | Action::SetQueue(_)
        | Action::Experimenter { .. } => false,
        Action::PushVlan(t) => push_vlan(frame, &lay, *t),
        Action::PopVlan => {
            let old = frame.len();
            lay.vlan.is_some_and(|p| remove(frame, usize::from(p), 4)) && pad_after_pop(frame, old)
        }
        Action::PushMpls(t) => push_mpls(frame, key, &lay, *t),
        Action::PopMpls(t) => {
            let old = frame.len();
            pop_mpls(frame, &lay, *t) && pad_after_pop(frame, old)
        }
        Action::PushPbb(t) => push_pbb(frame, &lay, *t),
        Action::PopPbb => {
            let old = frame.len();
            lay.pbb
                .is_some_and(|p| remove(frame, 0, usize::from(p) + 4))
                && pad_after_pop(frame, old)
        }
        Action::SetField(o) => set_field(frame, key, &lay, o),
        Action::SetNwTtl(t) => {
            nw_ttl(frame, key, &lay, |_| Ok(*t))?;
            false
        }
        Action::DecNwTtl => {
            nw_ttl(frame, key, &lay, dec)?;
            false
        }
        Action::SetMplsTtl(t) => {
            mpls_ttl(frame, &lay, |_| Ok(*t))?;
            false
        }
        Action::DecMplsTtl => {
            mpls_ttl(frame, &lay, dec)?;
            false
        }
        Action::CopyTtlOut => {
            copy_ttl(frame, &lay, true);
            false
        }
        Action::CopyTtlIn => {
            copy_ttl(frame, &lay, false);
            false
        }
    };
    if reparse {
        *layout = parse(frame, key);
    }
    Ok(())
}

/// The shortest Ethernet frame without its FCS.
pub const ETH_MIN_FRAME: usize = 60;

/// Pads a frame a pop shortened below [`ETH_MIN_FRAME`] bytes back to that
/// length, if it was at least that long before. Always returns true (the
/// frame changed).
fn pad_after_pop(frame: &mut Vec<u8>, old_len: usize) -> bool {
    if old_len >= ETH_MIN_FRAME && frame.len() < ETH_MIN_FRAME {
        frame.resize(ETH_MIN_FRAME, 0);
    }
    true
}

fn dec(t: u8) -> Result<u8, EditError> {
    if t <= 1 {
        Err(EditError::InvalidTtl)
    } else {
        Ok(t - 1)
    }
}

fn insert(frame: &mut Vec<u8>, at: usize, bytes: &[u8]) -> bool {
    if at > frame.len() {
        return false;
    }
    frame.splice(at..at, bytes.iter().copied());
    true
}

fn remove(frame: &mut Vec<u8>, at: usize, n: usize) -> bool {
    match at.checked_add(n) {
        Some(end) if end <= frame.len() => {
            frame.drain(at..end);
            true
        }
        _ => false,
    }
}

/// Writes `v` at `at` if it fits.
#[inline]
fn put<const N: usize>(frame: &mut [u8], at: usize, v: &[u8; N]) -> bool {
    match arr_mut::<N>(frame, at) {
        Some(d) => {
            *d = *v;
            true
        }
        None => false,
    }
}

/// A checksum to adjust when bytes it covers change.
#[derive(Clone, Copy)]
enum Sum {
    /// Internet checksum stored at this offset.
    Inet(usize),
    /// UDP checksum at this offset (zero stays zero).
    Udp(usize),
}

/// Writes `new` (starting on a 16-bit boundary of the data each checksum
/// covers) at `at` and adjusts `sums`. Returns whether it fit.
#[inline(always)]
fn write_csum<const N: usize>(
    frame: &mut [u8],
    at: usize,
    new: &[u8; N],
    sums: [Option<Sum>; 2],
) -> bool {
    let Some(dst) = arr_mut::<N>(frame, at) else {
        return false;
    };
    let old = std::mem::replace(dst, *new);
    for s in sums.into_iter().flatten() {
        match s {
            Sum::Inet(p) => csum::patch(frame, p, &old, new),
            Sum::Udp(p) => csum::patch_udp(frame, p, &old, new),
        }
    }
    true
}

/// The L4 checksum that covers the IP pseudo-header.
fn pseudo_sum(key: &FlowKey, lay: &Layout) -> Option<Sum> {
    let l4 = usize::from(lay.l4?);
    match key.ip_proto() {
        6 => Some(Sum::Inet(l4 + 16)),
        17 => Some(Sum::Udp(l4 + 6)),
        58 if key.eth_type() == eth_type::IPV6 => Some(Sum::Inet(l4 + 2)),
        _ => None,
    }
}

fn push_vlan(frame: &mut Vec<u8>, lay: &Layout, tpid: u16) -> bool {
    if (tpid != eth_type::VLAN && tpid != eth_type::QINQ) || lay.eth_type.is_none() {
        return false;
    }
    let tci = lay
        .vlan
        .and_then(|p| be16(frame, usize::from(p) + 2))
        .map_or(0, |t| t & 0xefff);
    let [a, b] = tpid.to_be_bytes();
    let [c, d] = tci.to_be_bytes();
    insert(frame, 12, &[a, b, c, d])
}

/// The IP TTL (hop limit) offset, and whether it is IPv4.
fn ip_ttl_at(key: &FlowKey, lay: &Layout) -> Option<(usize, bool)> {
    let l3 = usize::from(lay.l3?);
    match key.eth_type() {
        eth_type::IPV4 => Some((l3 + 8, true)),
        eth_type::IPV6 => Some((l3 + 7, false)),
        _ => None,
    }
}

fn push_mpls(frame: &mut Vec<u8>, key: &FlowKey, lay: &Layout, et: u16) -> bool {
    if et != eth_type::MPLS && et != eth_type::MPLS_MCAST || key.eth_type() == ETH_TYPE_NONE {
        return false;
    }
    let Some(p) = lay.eth_type.map(usize::from) else {
        return false;
    };
    let lse = match lay.mpls.and_then(|m| be32(frame, usize::from(m))) {
        Some(top) => top & !0x100,
        None => {
            let ttl = ip_ttl_at(key, lay)
                .and_then(|(at, _)| arr::<1>(frame, at))
                .map_or(0, |t| t[0]);
            0x100 | u32::from(ttl)
        }
    };
    put(frame, p, &et.to_be_bytes()) && insert(frame, p + 2, &lse.to_be_bytes())
}

fn pop_mpls(frame: &mut Vec<u8>, lay: &Layout, et: u16) -> bool {
    let (Some(m), Some(p)) = (lay.mpls, lay.eth_type) else {
        return false;
    };
    put(frame, usize::from(p), &et.to_be_bytes()) && remove(frame, usize::from(m), 4)
}

fn push_pbb(frame: &mut Vec<u8>, lay: &Layout, et: u16) -> bool {
    if et != eth_type::PBB || lay.eth_type.is_none() {
        return false;
    }
    let Some(&addrs) = arr::<12>(frame, 0) else {
        return false;
    };
    let isid = lay
        .pbb
        .and_then(|p| arr::<4>(frame, usize::from(p)))
        .map_or([0; 3], |t| [t[1], t[2], t[3]]);
    let pcp = lay
        .vlan
        .and_then(|p| arr::<1>(frame, usize::from(p) + 2))
        .map_or(0, |b| b[0] & 0xe0);
    let mut h = [0u8; 18];
    let [e0, e1] = et.to_be_bytes();
    let head = [e0, e1, pcp, isid[0], isid[1], isid[2]];
    if let Some(d) = arr_mut::<6>(&mut h, 0) {
        *d = head;
    }
    if let Some(d) = arr_mut::<12>(&mut h, 6) {
        *d = addrs;
    }
    insert(frame, 12, &h)
}

fn nw_ttl(
    frame: &mut [u8],
    key: &FlowKey,
    lay: &Layout,
    f: impl FnOnce(u8) -> Result<u8, EditError>,
) -> Result<(), EditError> {
    match ip_ttl_at(key, lay) {
        Some((at, true)) => {
            if let Some(&[ttl, proto]) = arr::<2>(frame, at) {
                let n = f(ttl)?;
                write_csum(frame, at, &[n, proto], [Some(Sum::Inet(at + 2)), None]);
            }
        }
        Some((at, false)) => {
            if let Some(b) = arr_mut::<1>(frame, at) {
                b[0] = f(b[0])?;
            }
        }
        None => {}
    }
    Ok(())
}

fn mpls_ttl(
    frame: &mut [u8],
    lay: &Layout,
    f: impl FnOnce(u8) -> Result<u8, EditError>,
) -> Result<(), EditError> {
    if let Some(b) = lay
        .mpls
        .and_then(|m| arr_mut::<1>(frame, usize::from(m) + 3))
    {
        b[0] = f(b[0])?;
    }
    Ok(())
}

/// copy_ttl_out (`out`: inner TTL to the outermost) or copy_ttl_in.
fn copy_ttl(frame: &mut [u8], lay: &Layout, out: bool) {
    let Some(m) = lay.mpls.map(usize::from) else {
        return;
    };
    let Some(&top) = arr::<4>(frame, m) else {
        return;
    };
    // The next-to-outermost TTL: (offset, value, IPv4 header offset).
    let inner = if top[2] & 1 == 0 {
        arr::<4>(frame, m + 4).map(|e| (m + 7, e[3], None))
    } else {
        let Some(q) = lay.l3.map(usize::from) else {
            return;
        };
        match arr::<1>(frame, q).map(|b| b[0] >> 4) {
            Some(4) => arr::<20>(frame, q).map(|h| (q + 8, h[8], Some(q))),
            Some(6) => arr::<40>(frame, q).map(|h| (q + 7, h[7], None)),
            _ => None,
        }
    };
    let Some((at, ttl, ip4)) = inner else {
        return;
    };
    if out {
        put(frame, m + 3, &[ttl]);
    } else if let Some(q) = ip4 {
        if let Some(&[_, proto]) = arr::<2>(frame, at) {
            write_csum(frame, at, &[top[3], proto], [Some(Sum::Inet(q + 10)), None]);
        }
    } else {
        put(frame, at, &[top[3]]);
    }
}

/// DSCP/ECN: replace the traffic-class bits in `mask` with `bits`.
fn set_tos(frame: &mut [u8], key: &mut FlowKey, lay: &Layout, mask: u8, bits: u8) {
    let Some(l3) = lay.l3.map(usize::from) else {
        return;
    };
    let Some(&[b0, b1]) = arr::<2>(frame, l3) else {
        return;
    };
    let tc = match key.eth_type() {
        eth_type::IPV4 => {
            let tos = (b1 & !mask) | bits;
            write_csum(frame, l3, &[b0, tos], [Some(Sum::Inet(l3 + 10)), None]);
            tos
        }
        eth_type::IPV6 => {
            let tc = (((b0 << 4) | (b1 >> 4)) & !mask) | bits;
            put(
                frame,
                l3,
                &[(b0 & 0xf0) | (tc >> 4), (b1 & 0x0f) | (tc << 4)],
            );
            tc
        }
        _ => return,
    };
    key.set_u8(off::IP_DSCP, tc >> 2);
    key.set_u8(off::IP_ECN, tc & 3);
}

/// SCTP port: the CRC32c is recomputed before and after and the stored
/// value moved by the difference (a wrong CRC stays wrong). Fragments keep
/// their CRC: the SCTP packet is not all there.
fn sctp_port(frame: &mut [u8], lay: &Layout, rel: usize, port: u16) -> bool {
    let Some(l4) = lay.l4.map(usize::from) else {
        return false;
    };
    let end = usize::from(lay.end);
    if lay.frag != Frag::No {
        return put(frame, l4 + rel, &port.to_be_bytes());
    }
    let Some(seg) = frame.get_mut(l4..end) else {
        return false;
    };
    let Some(stored) = arr_mut::<4>(seg, 8).map(std::mem::take) else {
        return false;
    };
    let before = csum::crc32c(seg);
    if !put(seg, rel, &port.to_be_bytes()) {
        return false;
    }
    let after = csum::crc32c(seg);
    let fix = (before ^ after).to_le_bytes();
    if let Some(c) = arr_mut::<4>(seg, 8) {
        *c = [
            stored[0] ^ fix[0],
            stored[1] ^ fix[1],
            stored[2] ^ fix[2],
            stored[3] ^ fix[3],
        ];
    }
    true
}

/// set_field: returns whether the frame must be re-parsed.
fn set_field(frame: &mut [u8], key: &mut FlowKey, lay: &Layout, oxm: &Oxm) -> bool {
    use Oxm::*;
    let et = key.eth_type();
    let proto = key.ip_proto();
    let l3 = lay.l3.map(usize::from);
    let l4 = lay.l4.map(usize::from);
    let ip4 = l3.filter(|_| et == eth_type::IPV4);
    let ip6 = l3.filter(|_| et == eth_type::IPV6);
    let arp = l3.filter(|_| et == eth_type::ARP);
    // L4 of this protocol, when parsed.
    let l4_of = |p: u8| l4.filter(|_| proto == p);
    let icmp4 = l4_of(1).filter(|_| et == eth_type::IPV4);
    let icmp6 = l4_of(58).filter(|_| et == eth_type::IPV6);
    match oxm {
        InPort(v) => key.set_u32(off::IN_PORT, *v),
        InPhyPort(v) => key.set_u32(off::IN_PHY_PORT, *v),
        Metadata(v, _) => key.set_u64(off::METADATA, *v),
        TunnelId(v, _) => key.set_u64(off::TUNNEL_ID, *v),
        EthDst(m, _) => {
            if put(frame, 0, &m.0) {
                key.set_bytes(off::ETH_DST, &m.0);
            }
        }
        EthSrc(m, _) => {
            if put(frame, 6, &m.0) {
                key.set_bytes(off::ETH_SRC, &m.0);
            }
        }
        VlanVid(v, _) => {
            let vid = v & 0x0fff;
            if let Some(t) = lay
                .vlan
                .and_then(|p| arr_mut::<2>(frame, usize::from(p) + 2))
            {
                *t = ((u16::from_be_bytes(*t) & 0xf000) | vid).to_be_bytes();
                key.set_u16(off::VLAN_VID, 0x1000 | vid);
            }
        }
        VlanPcp(v) => {
            let pcp = v & 7;
            if let Some(t) = lay
                .vlan
                .and_then(|p| arr_mut::<1>(frame, usize::from(p) + 2))
            {
                t[0] = (t[0] & 0x1f) | (pcp << 5);
                key.set_u8(off::VLAN_PCP, pcp);
            }
        }
        IpDscp(v) => set_tos(frame, key, lay, 0xfc, (v & 0x3f) << 2),
        IpEcn(v) => set_tos(frame, key, lay, 0x03, v & 3),
        Ipv4Src(a, _) | Ipv4Dst(a, _) => {
            if let Some(l3) = ip4 {
                let (at, slot) = match oxm {
                    Ipv4Src(..) => (l3 + 12, off::NW_SRC),
                    _ => (l3 + 16, off::NW_DST),
                };
                let sums = [Some(Sum::Inet(l3 + 10)), pseudo_sum(key, lay)];
                if write_csum(frame, at, &a.octets(), sums) {
                    key.set_bytes(slot, &a.octets());
                }
            }
        }
        Ipv6Src(a, _) | Ipv6Dst(a, _) => {
            if let Some(l3) = ip6 {
                let (at, slot, sum) = match oxm {
                    Ipv6Src(..) => (l3 + 8, off::IPV6_SRC, pseudo_sum(key, lay)),
                    // With segments left, the pseudo-header has the final
                    // destination from the routing header.
                    _ => (
                        l3 + 24,
                        off::IPV6_DST,
                        pseudo_sum(key, lay).filter(|_| !lay.ipv6_routed),
                    ),
                };
                if write_csum(frame, at, &a.octets(), [sum, None]) {
                    key.set_bytes(slot, &a.octets());
                }
            }
        }
        Ipv6Flabel(v, _) => {
            if let Some(b) = ip6.and_then(|l3| arr_mut::<3>(frame, l3 + 1)) {
                let [_, x, y, z] = (v & 0xf_ffff).to_be_bytes();
                *b = [(b[0] & 0xf0) | x, y, z];
                key.set_u32(off::IPV6_FLABEL, v & 0xf_ffff);
            }
        }
        TcpSrc(p, _) | TcpDst(p, _) | UdpSrc(p, _) | UdpDst(p, _) => {
            let (want, src) = match oxm {
                TcpSrc(..) => (6, true),
                TcpDst(..) => (6, false),
                UdpSrc(..) => (17, true),
                _ => (17, false),
            };
            if let Some(l4) = l4_of(want) {
                let at = if src { l4 } else { l4 + 2 };
                let sum = if want == 6 {
                    Sum::Inet(l4 + 16)
                } else {
                    Sum::Udp(l4 + 6)
                };
                if write_csum(frame, at, &p.to_be_bytes(), [Some(sum), None]) {
                    key.set_u16(if src { off::TP_SRC } else { off::TP_DST }, *p);
                }
            }
        }
        SctpSrc(p, _) | SctpDst(p, _) => {
            if l4_of(132).is_some() {
                let src = matches!(oxm, SctpSrc(..));
                if sctp_port(frame, lay, if src { 0 } else { 2 }, *p) {
                    key.set_u16(if src { off::TP_SRC } else { off::TP_DST }, *p);
                }
            }
        }
        Icmpv4Type(v) | Icmpv4Code(v) | Icmpv6Type(v) | Icmpv6Code(v) => {
            let (l4, is_type, v6) = match oxm {
                Icmpv4Type(_) => (icmp4, true, false),
                Icmpv4Code(_) => (icmp4, false, false),
                Icmpv6Type(_) => (icmp6, true, true),
                _ => (icmp6, false, true),
            };
            if let Some(l4) = l4 {
                if let Some(&[t, c]) = arr::<2>(frame, l4) {
                    let new = if is_type { [*v, c] } else { [t, *v] };
                    write_csum(frame, l4, &new, [Some(Sum::Inet(l4 + 2)), None]);
                    key.set_bytes(off::ICMP_TYPE, &new);
                    // The type and code decide whether ND fields exist.
                    return v6;
                }
            }
        }
        ArpOp(v) => {
            if arp.is_some_and(|l3| put(frame, l3 + 6, &v.to_be_bytes())) {
                key.set_u16(off::ARP_OP, *v);
            }
        }
        ArpSha(m, _) | ArpTha(m, _) => {
            let (d, slot) = match oxm {
                ArpSha(..) => (8, off::DL_SHA),
                _ => (18, off::DL_THA),
            };
            if arp.is_some_and(|l3| put(frame, l3 + d, &m.0)) {
                key.set_bytes(slot, &m.0);
            }
        }
        ArpSpa(a, _) | ArpTpa(a, _) => {
            let (d, slot) = match oxm {
                ArpSpa(..) => (14, off::NW_SRC),
                _ => (24, off::NW_DST),
            };
            if arp.is_some_and(|l3| put(frame, l3 + d, &a.octets())) {
                key.set_bytes(slot, &a.octets());
            }
        }
        Ipv6NdTarget(a, _) => {
            if let (Some(l4), Some(t)) = (icmp6, lay.nd_target) {
                let sum = [Some(Sum::Inet(l4 + 2)), None];
                if write_csum(frame, usize::from(t), &a.octets(), sum) {
                    key.set_bytes(off::ND_TARGET, &a.octets());
                }
            }
        }
        Ipv6NdSll(m, _) | Ipv6NdTll(m, _) => {
            let (want, slot) = match oxm {
                Ipv6NdSll(..) => (135, off::DL_SHA),
                _ => (136, off::DL_THA),
            };
            let ty = key.u8_at(off::ICMP_TYPE);
            if let (Some(l4), Some(p), true) = (icmp6, lay.nd_lladdr, ty == want) {
                let sum = [Some(Sum::Inet(l4 + 2)), None];
                if write_csum(frame, usize::from(p), &m.0, sum) {
                    key.set_bytes(slot, &m.0);
                }
            }
        }
        MplsLabel(_) | MplsTc(_) | MplsBos(_) => {
            let Some(e) = lay.mpls.and_then(|m| arr_mut::<4>(frame, usize::from(m))) else {
                return false;
            };
            let lse = u32::from_be_bytes(*e);
            let (lse, bos) = match oxm {
                MplsLabel(v) => {
                    key.set_u32(off::MPLS_LABEL, v & 0xf_ffff);
                    ((lse & 0xfff) | ((v & 0xf_ffff) << 12), false)
                }
                MplsTc(v) => {
                    key.set_u8(off::MPLS_TC, v & 7);
                    ((lse & !(7 << 9)) | (u32::from(v & 7) << 9), false)
                }
                MplsBos(v) => ((lse & !(1 << 8)) | (u32::from(v & 1) << 8), true),
                _ => (lse, false),
            };
            *e = lse.to_be_bytes();
            // BoS moves the end of the label stack.
            return bos;
        }
        PbbIsid(v, _) => {
            if let Some(t) = lay
                .pbb
                .and_then(|p| arr_mut::<3>(frame, usize::from(p) + 1))
            {
                let [_, a, b, c] = (v.0 & 0xff_ffff).to_be_bytes();
                *t = [a, b, c];
                key.set_u32(off::PBB_ISID, v.0 & 0xff_ffff);
            }
        }
        EthType(v) => {
            // The frame is the same bytes under another type: re-parse.
            return lay
                .eth_type
                .is_some_and(|p| put(frame, usize::from(p), &v.to_be_bytes()));
        }
        IpProto(v) => return set_ip_proto(frame, key, lay, *v),
        // Not settable (refused at flow_mod time), or not an OpenFlow-basic
        // field.
        Ipv6Exthdr(..) | Other(_) => {}
    }
    false
}

/// set_field ip_proto: rewrites the protocol byte and the checksums that
/// cover it (IPv4 header; the old L4 protocol's checksum over the
/// pseudo-header, whose protocol word is `[0, proto]`). The L4 bytes stay
/// as they are; the frame is re-parsed under the new protocol.
fn set_ip_proto(frame: &mut [u8], key: &FlowKey, lay: &Layout, v: u8) -> bool {
    let Some(at) = lay.nw_proto.map(usize::from) else {
        return false;
    };
    let Some(&[old]) = arr::<1>(frame, at) else {
        return false;
    };
    let pseudo = pseudo_sum(key, lay);
    let ip4 = lay
        .l3
        .map(usize::from)
        .filter(|_| key.eth_type() == eth_type::IPV4);
    let done = if let Some(l3) = ip4 {
        // TTL and protocol are one 16-bit word of the IPv4 header.
        match arr::<2>(frame, l3 + 8) {
            Some(&[ttl, _]) => {
                write_csum(frame, l3 + 8, &[ttl, v], [Some(Sum::Inet(l3 + 10)), None])
            }
            None => false,
        }
    } else {
        put(frame, at, &[v])
    };
    if done {
        match pseudo {
            Some(Sum::Inet(p)) => csum::patch(frame, p, &[0, old], &[0, v]),
            Some(Sum::Udp(p)) => csum::patch_udp(frame, p, &[0, old], &[0, v]),
            None => {}
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil::*;
    use etherparse::{LinkExtHeader, NetHeaders, PacketHeaders, TransportHeader};
    use openflow::oxm::U24;
    use openflow::types::MacAddr;
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Parses, applies `actions` one by one (each must succeed), checks after
    /// each that key and layout equal a fresh parse of the new bytes.
    fn run(frame: Vec<u8>, actions: &[Action]) -> (Vec<u8>, FlowKey, Layout) {
        let mut f = frame;
        let mut k = FlowKey::ZERO;
        k.set_u32(off::IN_PORT, 3);
        let mut l = parse(&f, &mut k);
        for a in actions {
            apply(&mut f, &mut k, &mut l, a).unwrap_or_else(|e| panic!("{a:?}: {e}"));
            consistent(&f, &k, &l);
        }
        (f, k, l)
    }

    fn consistent(f: &[u8], k: &FlowKey, l: &Layout) {
        let mut k2 = *k;
        let l2 = parse(f, &mut k2);
        assert_eq!(k2, *k, "key after edit differs from a re-parse");
        assert_eq!(l2, *l, "layout after edit differs from a re-parse");
    }

    fn headers(f: &[u8]) -> PacketHeaders<'_> {
        PacketHeaders::from_ethernet_slice(f).expect("etherparse parses the edited frame")
    }

    fn sf(o: Oxm) -> Action {
        Action::SetField(o)
    }

    fn ipv4(h: &PacketHeaders<'_>) -> etherparse::Ipv4Header {
        match &h.net {
            Some(NetHeaders::Ipv4(ip, _)) => ip.clone(),
            other => panic!("not IPv4: {other:?}"),
        }
    }

    fn ipv6(h: &PacketHeaders<'_>) -> etherparse::Ipv6Header {
        match &h.net {
            Some(NetHeaders::Ipv6(ip, _)) => ip.clone(),
            other => panic!("not IPv6: {other:?}"),
        }
    }

    fn vlans(h: &PacketHeaders<'_>) -> Vec<(u16, u8)> {
        h.link_exts
            .iter()
            .filter_map(|e| match e {
                LinkExtHeader::Vlan(v) => Some((v.vlan_id.value(), v.pcp.value())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn non_packet_actions_change_nothing() {
        let f0 = tcp4();
        let acts = [
            Action::output(1),
            Action::Group(7),
            Action::SetQueue(2),
            Action::Experimenter {
                experimenter: 0x2320,
                data: vec![1, 2, 3],
            },
        ];
        let (f, k, _) = run(f0.clone(), &acts);
        assert_eq!(f, f0);
        assert_eq!(k.in_port(), 3);
    }

    #[test]
    fn ethernet_addresses() {
        let a = MacAddr([0x0a, 1, 2, 3, 4, 5]);
        let b = MacAddr([0x0b, 6, 7, 8, 9, 10]);
        let (f, k, _) = run(
            tcp4(),
            &[sf(Oxm::EthDst(a, None)), sf(Oxm::EthSrc(b, None))],
        );
        let h = headers(&f);
        let eth = h.link.unwrap().ethernet2().unwrap();
        assert_eq!((eth.destination, eth.source), (a.0, b.0));
        assert_eq!(k.bytes_at(off::ETH_DST, 6), a.0);
        verify_checksums(&f);
    }

    #[test]
    fn push_set_pop_vlan() {
        let f0 = tcp4();
        let (f, k, l) = run(f0.clone(), &[Action::PushVlan(0x8100)]);
        assert_eq!(vlans(&headers(&f)), [(0, 0)]);
        assert_eq!(k.vlan_vid(), 0x1000);
        assert_eq!(l.vlan, Some(12));
        let (f, k, _) = run(
            f,
            &[sf(Oxm::VlanVid(0x1000 | 42, None)), sf(Oxm::VlanPcp(3))],
        );
        assert_eq!(vlans(&headers(&f)), [(42, 3)]);
        assert_eq!((k.vlan_vid(), k.u8_at(off::VLAN_PCP)), (0x1000 | 42, 3));
        assert_eq!(verify_checksums(&f), 2);
        // A second, outer tag copies VID and PCP.
        let (f, k, l) = run(f, &[Action::PushVlan(0x88a8)]);
        assert_eq!(f[12..14], [0x88, 0xa8]);
        assert_eq!(vlans(&headers(&f)), [(42, 3), (42, 3)]);
        assert_eq!((k.vlan_vid(), l.vlan_tags), (0x1000 | 42, 2));
        let (f, _, _) = run(f, &[sf(Oxm::VlanVid(0x1000 | 7, None))]);
        assert_eq!(vlans(&headers(&f)), [(7, 3), (42, 3)]);
        let (f, k, l) = run(f, &[Action::PopVlan, Action::PopVlan]);
        assert_eq!(f, f0);
        assert_eq!((k.vlan_vid(), l.vlan), (0, None));
        // Popping without a tag, setting a VID without one: no-ops.
        let (f, k, _) = run(
            f,
            &[
                Action::PopVlan,
                sf(Oxm::VlanVid(0x1005, None)),
                sf(Oxm::VlanPcp(1)),
            ],
        );
        assert_eq!(f, f0);
        assert_eq!(k.vlan_vid(), 0);
        // Only 0x8100/0x88a8 are pushed; short frames are left alone.
        let (f, _, _) = run(f, &[Action::PushVlan(0x0800)]);
        assert_eq!(f, f0);
        let (f, _, _) = run(
            vec![1, 2, 3],
            &[Action::PushVlan(0x8100), Action::PushPbb(0x88e7)],
        );
        assert_eq!(f, [1, 2, 3]);
    }

    #[test]
    fn push_vlan_keeps_pcp_of_qinq_and_vid_of_tagged() {
        let (f, k, _) = run(udp4_vlan(), &[Action::PushVlan(0x8100)]);
        assert_eq!(vlans(&headers(&f)), [(100, 5), (100, 5)]);
        assert_eq!(k.u8_at(off::VLAN_PCP), 5);
        verify_checksums(&f);
    }

    #[test]
    fn dscp_ecn_v4_v6() {
        let (f, k, _) = run(tcp4(), &[sf(Oxm::IpDscp(46)), sf(Oxm::IpEcn(3))]);
        let ip = ipv4(&headers(&f));
        assert_eq!((ip.dscp.value(), ip.ecn.value()), (46, 3));
        assert_eq!((k.u8_at(off::IP_DSCP), k.u8_at(off::IP_ECN)), (46, 3));
        assert_eq!(verify_checksums(&f), 2);
        // Out-of-range values are masked to the field.
        let (f, k, _) = run(tcp6(), &[sf(Oxm::IpDscp(0xff)), sf(Oxm::IpEcn(0))]);
        let ip = ipv6(&headers(&f));
        assert_eq!(ip.traffic_class, 0xfc);
        assert_eq!(ip.flow_label.value(), 0x12345, "flow label untouched");
        assert_eq!((k.u8_at(off::IP_DSCP), k.u8_at(off::IP_ECN)), (63, 0));
        verify_checksums(&f);
    }

    #[test]
    fn ipv4_addresses_fix_l4_checksums() {
        let s = Ipv4Addr::new(192, 168, 200, 17);
        let d = Ipv4Addr::new(172, 16, 0, 255);
        let acts = [sf(Oxm::Ipv4Src(s, None)), sf(Oxm::Ipv4Dst(d, None))];
        for f0 in [tcp4(), udp4_vlan(), udp4_qinq(), icmp4(), sctp4()] {
            let (f, k, _) = run(f0, &acts);
            let ip = ipv4(&headers(&f));
            assert_eq!((ip.source, ip.destination), (s.octets(), d.octets()));
            assert_eq!(k.bytes_at(off::NW_SRC, 4), s.octets());
            assert_eq!(verify_checksums(&f), 2);
        }
        // UDP without checksum keeps none.
        let mut f0 = udp4_vlan();
        let ck = 18 + 20 + 6;
        f0[ck] = 0;
        f0[ck + 1] = 0;
        let (f, _, _) = run(f0, &acts);
        assert_eq!(f[ck..ck + 2], [0, 0]);
        assert_eq!(verify_checksums(&f), 1);
    }

    #[test]
    fn ipv6_fields_fix_l4_checksums() {
        let s: Ipv6Addr = "fe80::1234:5678:9abc:def0".parse().unwrap();
        let d: Ipv6Addr = "2001:db8:ffff::ffff".parse().unwrap();
        let acts = [
            sf(Oxm::Ipv6Src(s, None)),
            sf(Oxm::Ipv6Dst(d, None)),
            sf(Oxm::Ipv6Flabel(0xabcde, None)),
        ];
        for f0 in [tcp6(), udp6(), icmp6(), nd(true, true), ipv6_exts()] {
            let (f, k, _) = run(f0, &acts);
            let ip = ipv6(&headers(&f));
            assert_eq!((ip.source, ip.destination), (s.octets(), d.octets()));
            assert_eq!(ip.flow_label.value(), 0xabcde);
            assert_eq!(k.bytes_at(off::IPV6_DST, 16), d.octets());
            assert_eq!(k.u32_at(off::IPV6_FLABEL), 0xabcde);
            verify_checksums(&f);
        }
        assert_eq!(verify_checksums(&run(tcp6(), &acts).0), 1);
    }

    #[test]
    fn ipv6_dst_with_segments_left_keeps_l4_checksum() {
        // Routing header (type 0, segments left 1, one address), then UDP.
        let mut f = eth(0x86dd);
        let mut rh = vec![17, 2, 0, 1, 0, 0, 0, 0];
        rh.extend_from_slice(&IP6_DST);
        let udp = [0, 1, 0, 2, 0, 8, 0x12, 0x34];
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&((rh.len() + udp.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[43, 64]);
        f.extend_from_slice(&IP6_SRC);
        f.extend_from_slice(&IP6_SRC);
        f.extend(rh);
        f.extend_from_slice(&udp);
        let (f2, _, l) = run(f.clone(), &[sf(Oxm::Ipv6Dst(Ipv6Addr::LOCALHOST, None))]);
        assert!(l.ipv6_routed);
        assert_eq!(f2[f2.len() - 2..], [0x12, 0x34]);
        let (f3, _, _) = run(f, &[sf(Oxm::Ipv6Src(Ipv6Addr::LOCALHOST, None))]);
        assert_ne!(f3[f3.len() - 2..], [0x12, 0x34]);
    }

    #[test]
    fn transport_ports() {
        let (f, k, _) = run(
            tcp4(),
            &[sf(Oxm::TcpSrc(1, None)), sf(Oxm::TcpDst(65535, None))],
        );
        match headers(&f).transport {
            Some(TransportHeader::Tcp(t)) => {
                assert_eq!((t.source_port, t.destination_port), (1, 65535))
            }
            t => panic!("{t:?}"),
        }
        assert_eq!((k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)), (1, 65535));
        assert_eq!(verify_checksums(&f), 2);

        for f0 in [udp4_vlan(), udp6()] {
            let (f, k, _) = run(f0, &[sf(Oxm::UdpSrc(999, None)), sf(Oxm::UdpDst(0, None))]);
            match headers(&f).transport {
                Some(TransportHeader::Udp(u)) => {
                    assert_eq!((u.source_port, u.destination_port), (999, 0))
                }
                t => panic!("{t:?}"),
            }
            assert_eq!(k.u16_at(off::TP_SRC), 999);
            verify_checksums(&f);
        }

        let (f, k, _) = run(
            sctp4(),
            &[sf(Oxm::SctpSrc(7, None)), sf(Oxm::SctpDst(8, None))],
        );
        assert_eq!(f[34..38], [0, 7, 0, 8]);
        assert_eq!((k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)), (7, 8));
        assert_eq!(verify_checksums(&f), 2);
        // A wrong CRC stays exactly as wrong.
        let mut bad = sctp4();
        bad[34 + 8] ^= 0x5a;
        let (f, _, _) = run(bad, &[sf(Oxm::SctpSrc(7, None))]);
        let mut z = f[34..].to_vec();
        z[8..12].fill(0);
        let good = ref_crc32c(&z).to_le_bytes();
        assert_eq!(f[34 + 8] ^ good[0], 0x5a);
        assert_eq!(f[35 + 8..34 + 12], good[1..]);
    }

    #[test]
    fn prerequisites_unmet_are_noops() {
        let cases: Vec<(Vec<u8>, Oxm)> = vec![
            (udp4_vlan(), Oxm::TcpSrc(1, None)),
            (tcp4(), Oxm::UdpDst(1, None)),
            (tcp4(), Oxm::SctpDst(1, None)),
            (tcp6(), Oxm::Ipv4Src(Ipv4Addr::LOCALHOST, None)),
            (tcp4(), Oxm::Ipv6Src(Ipv6Addr::LOCALHOST, None)),
            (tcp4(), Oxm::ArpOp(2)),
            (arp(), Oxm::Ipv4Dst(Ipv4Addr::LOCALHOST, None)),
            (arp(), Oxm::IpDscp(3)),
            (icmp4(), Oxm::Icmpv6Type(1)),
            (icmp6(), Oxm::Icmpv4Code(1)),
            (icmp6(), Oxm::Ipv6NdTarget(Ipv6Addr::LOCALHOST, None)),
            (nd(false, false), Oxm::Ipv6NdSll(MacAddr([1; 6]), None)),
            (nd(true, false), Oxm::Ipv6NdTll(MacAddr([1; 6]), None)),
            (tcp4(), Oxm::MplsLabel(5)),
            (tcp4(), Oxm::PbbIsid(U24(5), None)),
            (arp(), Oxm::IpProto(17)),
            (tcp6(), Oxm::Ipv6Exthdr(1, None)),
            // A later fragment has no ports to set.
            (
                {
                    let mut f = tcp4();
                    f[14 + 7] = 1;
                    let c = 14 + 10;
                    let h = etherparse::Ipv4HeaderSlice::from_slice(&f[14..34])
                        .unwrap()
                        .to_header();
                    f[c..c + 2].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
                    f
                },
                Oxm::TcpDst(9, None),
            ),
        ];
        for (f0, o) in cases {
            let (f, _, _) = run(f0.clone(), &[sf(o.clone())]);
            assert_eq!(f, f0, "{o:?}");
        }
        // A truncated TCP header: IP fields settable, ports not.
        let f0 = tcp4()[..40].to_vec();
        let (f, k, _) = run(f0.clone(), &[sf(Oxm::TcpSrc(9, None))]);
        assert_eq!((f, k.u16_at(off::TP_SRC)), (f0.clone(), 0));
        let (f, _, _) = run(f0.clone(), &[sf(Oxm::IpDscp(9))]);
        assert_ne!(f, f0);
    }

    #[test]
    fn pipeline_fields_change_only_the_key() {
        let f0 = tcp4();
        let (f, k, _) = run(
            f0.clone(),
            &[
                sf(Oxm::InPort(9)),
                sf(Oxm::InPhyPort(10)),
                sf(Oxm::Metadata(11, None)),
                sf(Oxm::TunnelId(12, None)),
            ],
        );
        assert_eq!(f, f0);
        assert_eq!((k.in_port(), k.u32_at(off::IN_PHY_PORT)), (9, 10));
        assert_eq!((k.metadata(), k.tunnel_id()), (11, 12));
    }

    #[test]
    fn icmp_type_code() {
        let (f, k, _) = run(icmp4(), &[sf(Oxm::Icmpv4Type(0)), sf(Oxm::Icmpv4Code(3))]);
        match headers(&f).transport {
            Some(TransportHeader::Icmpv4(_)) => assert_eq!(f[34..36], [0, 3]),
            t => panic!("{t:?}"),
        }
        assert_eq!((k.u8_at(off::ICMP_TYPE), k.u8_at(off::ICMP_CODE)), (0, 3));
        assert_eq!(verify_checksums(&f), 2);

        let (f, k, _) = run(icmp6(), &[sf(Oxm::Icmpv6Type(129)), sf(Oxm::Icmpv6Code(4))]);
        match headers(&f).transport {
            Some(TransportHeader::Icmpv6(i)) => {
                assert_eq!((i.icmp_type.type_u8(), i.icmp_type.code_u8()), (129, 4))
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(k.u8_at(off::ICMP_TYPE), 129);
        assert_eq!(verify_checksums(&f), 1);

        // Turning an NS into something else drops its ND fields, and back.
        let (f, k, l) = run(nd(true, false), &[sf(Oxm::Icmpv6Type(128))]);
        assert_eq!((k.u128_nd_target(), l.nd_target), (0, None));
        let (f, k, l) = run(f, &[sf(Oxm::Icmpv6Type(135))]);
        assert_eq!(k.bytes_at(off::ND_TARGET, 16), ND_TARGET);
        assert!(l.nd_lladdr.is_some());
        verify_checksums(&f);
    }

    #[test]
    fn set_field_eth_type_rewrites_the_ethertype_and_nothing_else() {
        // (frame, where the Ethertype after the VLAN tags is)
        for (f0, at) in [(tcp4(), 12), (tcp6(), 12), (arp(), 12), (udp4_vlan(), 16)] {
            let (f, k, l) = run(f0.clone(), &[sf(Oxm::EthType(0x8848))]);
            assert_eq!(f[at..at + 2], [0x88, 0x48]);
            let mut back = f.clone();
            back[at..at + 2].copy_from_slice(&f0[at..at + 2]);
            assert_eq!(back, f0, "only the Ethertype changed");
            // The same bytes, now read as an MPLS frame.
            assert_eq!((k.eth_type(), l.eth_type), (0x8848, Some(at as u16)));
            assert!(l.mpls.is_some() && l.l4.is_none());
            // And back: the original frame.
            let et = u16::from_be_bytes([f0[at], f0[at + 1]]);
            let (f2, k2, _) = run(f, &[sf(Oxm::EthType(et))]);
            assert_eq!((f2, k2.eth_type()), (f0, et));
        }
    }

    #[test]
    fn set_field_ip_proto_rewrites_the_protocol_and_its_checksums() {
        // IPv4: protocol byte 23, header checksum 24..26, TCP checksum 50..52.
        let f0 = tcp4();
        let (f, k, l) = run(f0.clone(), &[sf(Oxm::IpProto(17))]);
        assert_eq!((f[23], k.ip_proto(), l.nw_proto), (17, 17, Some(23)));
        let changed: Vec<usize> = (0..f.len()).filter(|&i| f[i] != f0[i]).collect();
        assert!(
            changed.iter().all(|i| [23, 24, 25, 50, 51].contains(i)),
            "{changed:?}"
        );
        assert_eq!(ones(&f[14..34]), 0xffff, "IPv4 header checksum");
        // The TCP checksum is right for a pseudo-header naming protocol 17.
        let mut ps = f[26..34].to_vec();
        ps.extend_from_slice(&[0, 17, 0, (f.len() - 34) as u8]);
        ps.extend_from_slice(&f[34..]);
        assert_eq!(ones(&ps), 0xffff, "TCP checksum under protocol 17");
        // Parsed as UDP now: same ports.
        assert_eq!((k.u16_at(off::TP_SRC), k.u16_at(off::TP_DST)), (1234, 80));

        // IPv6 without extension headers: the next header at 20.
        let f0 = tcp6();
        let (f, k, l) = run(f0.clone(), &[sf(Oxm::IpProto(17))]);
        assert_eq!((f[20], k.ip_proto(), l.nw_proto), (17, 17, Some(20)));
        let mut ps = f[22..54].to_vec();
        ps.extend_from_slice(&((f.len() - 54) as u32).to_be_bytes());
        ps.extend_from_slice(&[0, 0, 0, 17]);
        ps.extend_from_slice(&f[54..]);
        assert_eq!(ones(&ps), 0xffff, "TCP checksum under next header 17");

        // With extension headers the last next-header field changes, not
        // the IPv6 header's.
        let f0 = ipv6_exts();
        let mut k0 = FlowKey::ZERO;
        let l0 = parse(&f0, &mut k0);
        let at = usize::from(l0.nw_proto.expect("next header found"));
        assert!(at > 20 && f0[at] == k0.ip_proto());
        let (f, k, _) = run(f0.clone(), &[sf(Oxm::IpProto(59))]);
        assert_eq!((f[20], f[at], k.ip_proto()), (f0[20], 59, 59));

        // ICMPv4 has no pseudo-header: only the IP checksum moves.
        let f0 = icmp4();
        let (f, k, _) = run(f0.clone(), &[sf(Oxm::IpProto(2))]);
        assert_eq!((f[23], k.ip_proto()), (2, 2));
        assert_eq!(f[34..], f0[34..]);
        assert_eq!(ones(&f[14..34]), 0xffff);
    }

    #[test]
    fn pops_pad_to_the_ethernet_minimum() {
        // 64-byte MPLS frame carrying a 60-byte ARP frame's payload: the pop
        // leaves 60 bytes, not 56 (the 4 bytes become zero padding).
        let mut f0 = arp();
        f0.truncate(42);
        let mut m = f0[..12].to_vec();
        m.extend_from_slice(&[0x88, 0x47, 0x00, 0x06, 0x41, 0x40]);
        m.extend_from_slice(&f0[14..]);
        m.resize(60, 0);
        let (f, k, _) = run(m.clone(), &[Action::PopMpls(0x0806)]);
        assert_eq!(f.len(), 60);
        assert_eq!(f[..42], f0[..42]);
        assert!(f[42..].iter().all(|&b| b == 0));
        assert_eq!(k.eth_type(), 0x0806);
        // pop_vlan on a 60-byte tagged frame, and pop_pbb.
        let mut v = arp();
        v.truncate(42);
        v.splice(12..12, [0x81, 0x00, 0x00, 0x0a]);
        v.resize(60, 0);
        let (f, _, _) = run(v, &[Action::PopVlan]);
        assert_eq!(f.len(), 60);
        let (f, _, _) = run(pbb(), &[Action::PopPbb]);
        assert!(f.len() >= 60);
        // A frame that arrived short is not padded.
        let (f, _, _) = run(m[..50].to_vec(), &[Action::PopMpls(0x0806)]);
        assert_eq!(f.len(), 46);
        // Longer frames just shrink.
        let mut big = m.clone();
        big.resize(100, 0);
        let (f, _, _) = run(big, &[Action::PopMpls(0x0806)]);
        assert_eq!(f.len(), 96);
    }

    #[test]
    fn push_mpls_ttl_is_the_ip_ttl_or_zero() {
        let (f, _, _) = run(tcp4(), &[Action::PushMpls(0x8847)]);
        assert_eq!(f[14..18], [0, 0, 1, 64], "IPv4 TTL 64");
        let (f, _, _) = run(tcp6(), &[Action::PushMpls(0x8847)]);
        assert_eq!(f[14..18], [0, 0, 1, 33], "IPv6 hop limit 33");
        // ARP has no TTL to copy: 0 (spec 5.12.1), not OVS's 64.
        let (f, _, _) = run(arp(), &[Action::PushMpls(0x8847)]);
        assert_eq!(f[14..18], [0, 0, 1, 0]);
    }

    trait NdTarget {
        fn u128_nd_target(&self) -> u128;
    }
    impl NdTarget for FlowKey {
        fn u128_nd_target(&self) -> u128 {
            let mut b = [0; 16];
            b.copy_from_slice(self.bytes_at(off::ND_TARGET, 16));
            u128::from_be_bytes(b)
        }
    }

    #[test]
    fn arp_fields() {
        let sha = MacAddr([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        let tha = MacAddr([1, 2, 3, 4, 5, 6]);
        let spa = Ipv4Addr::new(1, 1, 1, 1);
        let tpa = Ipv4Addr::new(2, 2, 2, 2);
        let (f, k, _) = run(
            arp(),
            &[
                sf(Oxm::ArpOp(2)),
                sf(Oxm::ArpSha(sha, None)),
                sf(Oxm::ArpTha(tha, None)),
                sf(Oxm::ArpSpa(spa, None)),
                sf(Oxm::ArpTpa(tpa, None)),
            ],
        );
        let a = match headers(&f).net {
            Some(NetHeaders::Arp(a)) => a.try_eth_ipv4().unwrap(),
            n => panic!("{n:?}"),
        };
        assert_eq!(a.operation, etherparse::ArpOperation::REPLY);
        assert_eq!((a.sender_mac, a.target_mac), (sha.0, tha.0));
        assert_eq!((a.sender_ipv4, a.target_ipv4), (spa.octets(), tpa.octets()));
        assert_eq!(k.u16_at(off::ARP_OP), 2);
        assert_eq!(k.bytes_at(off::DL_THA, 6), tha.0);
    }

    #[test]
    fn nd_fields() {
        let t: Ipv6Addr = "fe80::99".parse().unwrap();
        let ll = MacAddr([0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc]);
        let (f, k, l) = run(
            nd(true, true),
            &[sf(Oxm::Ipv6NdTarget(t, None)), sf(Oxm::Ipv6NdSll(ll, None))],
        );
        assert_eq!(k.bytes_at(off::ND_TARGET, 16), t.octets());
        assert_eq!(k.bytes_at(off::DL_SHA, 6), ll.0);
        let at = usize::from(l.nd_lladdr.unwrap());
        assert_eq!(f[at..at + 6], ll.0);
        assert_eq!(verify_checksums(&f), 1);

        let (f, k, _) = run(
            nd(false, false),
            &[sf(Oxm::Ipv6NdTarget(t, None)), sf(Oxm::Ipv6NdTll(ll, None))],
        );
        assert_eq!(k.bytes_at(off::DL_THA, 6), ll.0);
        assert_eq!(verify_checksums(&f), 1);
        // No option to rewrite: no-op.
        let mut f0 = nd(true, false);
        f0.truncate(f0.len() - 8);
        let (f, _, _) = run(f0.clone(), &[sf(Oxm::Ipv6NdSll(ll, None))]);
        assert_eq!(f, f0);
    }

    fn lse(f: &[u8], at: usize) -> (u32, u8, u8, u8) {
        let v = u32::from_be_bytes([f[at], f[at + 1], f[at + 2], f[at + 3]]);
        (v >> 12, ((v >> 9) & 7) as u8, ((v >> 8) & 1) as u8, v as u8)
    }

    #[test]
    fn push_pop_mpls() {
        let f0 = tcp4();
        let (f, k, l) = run(f0.clone(), &[Action::PushMpls(0x8847)]);
        assert_eq!(f[12..14], [0x88, 0x47]);
        assert_eq!(lse(&f, 14), (0, 0, 1, 64), "TTL from IPv4");
        assert_eq!(f[18..], f0[14..]);
        assert_eq!(
            (k.eth_type(), k.u8_at(off::MPLS_BOS), k.ip_proto()),
            (0x8847, 1, 0)
        );
        assert_eq!((l.mpls, l.l3), (Some(14), Some(18)));
        // A second label copies the first, BoS 0.
        let (f, k, _) = run(
            f,
            &[
                sf(Oxm::MplsLabel(0xfffff)),
                sf(Oxm::MplsTc(6)),
                Action::PushMpls(0x8848),
            ],
        );
        assert_eq!(lse(&f, 14), (0xfffff, 6, 0, 64));
        assert_eq!(lse(&f, 18), (0xfffff, 6, 1, 64));
        assert_eq!((k.eth_type(), k.u8_at(off::MPLS_BOS)), (0x8848, 0));
        let (f, k, _) = run(f, &[Action::PopMpls(0x8847)]);
        assert_eq!((k.eth_type(), k.u32_at(off::MPLS_LABEL)), (0x8847, 0xfffff));
        let (f, k, _) = run(f, &[Action::PopMpls(0x0800)]);
        assert_eq!(f, f0);
        assert_eq!(k.u16_at(off::TP_DST), 80);
        // Under a VLAN tag: the label goes after the tag; IPv6 hop limit.
        let f0 = udp4_vlan();
        let (f, k, _) = run(f0.clone(), &[Action::PushMpls(0x8847)]);
        assert_eq!(f[16..18], [0x88, 0x47]);
        assert_eq!(lse(&f, 18), (0, 0, 1, 17));
        assert_eq!(k.vlan_vid(), 0x1000 | 100);
        let (f, _, _) = run(tcp6(), &[Action::PushMpls(0x8847)]);
        assert_eq!(lse(&f, 14).3, 33);
        let (f, _, _) = run(arp(), &[Action::PushMpls(0x8847)]);
        assert_eq!(lse(&f, 14).3, 0, "not IP: 0 (spec 5.12.1; OVS uses 64)");
        // Bad Ethertypes and missing labels: no-ops.
        let (f, _, _) = run(
            f0.clone(),
            &[Action::PushMpls(0x0800), Action::PopMpls(0x0800)],
        );
        assert_eq!(f, f0);
    }

    #[test]
    fn mpls_fields_and_ttls() {
        let f0 = mpls(&[(16, 1, 10), (17, 2, 20)]);
        let (f, k, l) = run(f0.clone(), &[sf(Oxm::MplsBos(1))]);
        assert_eq!(lse(&f, 14), (16, 1, 1, 10));
        assert_eq!((k.u8_at(off::MPLS_BOS), l.l3), (1, Some(18)));
        let (f, _, l) = run(f, &[sf(Oxm::MplsBos(0))]);
        assert_eq!((f.clone(), l.l3), (f0.clone(), Some(22)));

        let (f, _, _) = run(f, &[Action::SetMplsTtl(2), Action::DecMplsTtl]);
        assert_eq!(lse(&f, 14).3, 1);
        let mut k = FlowKey::ZERO;
        let mut l = parse(&f, &mut k);
        let mut g = f.clone();
        assert_eq!(
            apply(&mut g, &mut k, &mut l, &Action::DecMplsTtl),
            Err(EditError::InvalidTtl)
        );
        assert_eq!(g, f, "unchanged on error");

        // copy_ttl between labels.
        let (f, _, _) = run(f0.clone(), &[Action::CopyTtlOut]);
        assert_eq!((lse(&f, 14).3, lse(&f, 18).3), (20, 20));
        let (f, _, _) = run(f0, &[Action::CopyTtlIn]);
        assert_eq!((lse(&f, 14).3, lse(&f, 18).3), (10, 10));

        // copy_ttl between the label and IPv4 under it.
        let (f, _, _) = run(
            mpls(&[(5, 0, 7)]),
            &[Action::CopyTtlIn, Action::PopMpls(0x0800)],
        );
        let ip = ipv4(&headers(&f));
        assert_eq!(ip.time_to_live, 7);
        assert_eq!(verify_checksums(&f), 2);
        let (f, _, _) = run(mpls(&[(5, 0, 7)]), &[Action::CopyTtlOut]);
        assert_eq!(lse(&f, 14).3, 64);
        // ...and IPv6.
        let (f, _, _) = run(
            tcp6(),
            &[
                Action::PushMpls(0x8847),
                Action::SetMplsTtl(99),
                Action::CopyTtlIn,
            ],
        );
        assert_eq!(f[18 + 7], 99);
        // Without MPLS: no-ops.
        let f0 = tcp4();
        let (f, _, _) = run(
            f0.clone(),
            &[
                Action::CopyTtlIn,
                Action::CopyTtlOut,
                Action::SetMplsTtl(1),
                Action::DecMplsTtl,
            ],
        );
        assert_eq!(f, f0);
    }

    #[test]
    fn nw_ttl() {
        let (f, _, _) = run(tcp4(), &[Action::SetNwTtl(200), Action::DecNwTtl]);
        assert_eq!(ipv4(&headers(&f)).time_to_live, 199);
        assert_eq!(verify_checksums(&f), 2);
        let (f, _, _) = run(tcp6(), &[Action::SetNwTtl(2), Action::DecNwTtl]);
        assert_eq!(ipv6(&headers(&f)).hop_limit, 1);
        for f0 in [
            f,
            run(tcp4(), &[Action::SetNwTtl(1)]).0,
            run(tcp4(), &[Action::SetNwTtl(0)]).0,
        ] {
            let mut k = FlowKey::ZERO;
            let mut l = parse(&f0, &mut k);
            let mut g = f0.clone();
            assert_eq!(
                apply(&mut g, &mut k, &mut l, &Action::DecNwTtl),
                Err(EditError::InvalidTtl)
            );
            assert_eq!(g, f0);
        }
        // Not IP (ARP, MPLS): no-op.
        for f0 in [arp(), mpls(&[(1, 1, 1)])] {
            let (f, _, _) = run(f0.clone(), &[Action::DecNwTtl, Action::SetNwTtl(9)]);
            assert_eq!(f, f0);
        }
    }

    #[test]
    fn pbb_push_pop() {
        let f0 = tcp4();
        let (f, k, l) = run(f0.clone(), &[Action::PushPbb(0x88e7)]);
        assert_eq!(f[12..18], [0x88, 0xe7, 0, 0, 0, 0]);
        assert_eq!(f[18..], f0[..]);
        assert_eq!(
            (k.eth_type(), k.u32_at(off::PBB_ISID), l.pbb),
            (0x88e7, 0, Some(14))
        );
        let (f, k, _) = run(f, &[sf(Oxm::PbbIsid(U24(0x123456), None))]);
        assert_eq!(f[15..18], [0x12, 0x34, 0x56]);
        assert_eq!(k.u32_at(off::PBB_ISID), 0x123456);
        // Pushing again copies the I-SID; popping twice restores the frame.
        let (f, _, _) = run(f, &[Action::PushPbb(0x88e7)]);
        assert_eq!(f[15..18], [0x12, 0x34, 0x56]);
        let (f, k, _) = run(f, &[Action::PopPbb, Action::PopPbb]);
        assert_eq!(f, f0);
        assert_eq!(k.eth_type(), 0x0800);
        // The PCP of an outer VLAN tag goes into the I-TAG.
        let (f, _, _) = run(udp4_vlan(), &[Action::PushPbb(0x88e7)]);
        assert_eq!(f[14] >> 5, 5);
        let (f, _, _) = run(pbb(), &[Action::PopPbb]);
        assert_eq!(f, tcp4());
        let (f, _, _) = run(f0.clone(), &[Action::PopPbb, Action::PushPbb(0x8100)]);
        assert_eq!(f, f0);
    }

    #[test]
    fn every_action_on_every_frame_and_every_truncation() {
        let mac = MacAddr([2, 4, 6, 8, 10, 12]);
        let a4 = Ipv4Addr::new(9, 8, 7, 6);
        let a6: Ipv6Addr = "1:2:3:4:5:6:7:8".parse().unwrap();
        let acts = vec![
            Action::PushVlan(0x8100),
            Action::PopVlan,
            Action::PushMpls(0x8847),
            Action::PopMpls(0x0800),
            Action::PushPbb(0x88e7),
            Action::PopPbb,
            Action::SetNwTtl(9),
            Action::DecNwTtl,
            Action::SetMplsTtl(9),
            Action::DecMplsTtl,
            Action::CopyTtlIn,
            Action::CopyTtlOut,
            sf(Oxm::EthDst(mac, None)),
            sf(Oxm::VlanVid(0x1123, None)),
            sf(Oxm::VlanPcp(7)),
            sf(Oxm::IpDscp(1)),
            sf(Oxm::IpEcn(1)),
            sf(Oxm::Ipv4Src(a4, None)),
            sf(Oxm::Ipv4Dst(a4, None)),
            sf(Oxm::Ipv6Src(a6, None)),
            sf(Oxm::Ipv6Dst(a6, None)),
            sf(Oxm::Ipv6Flabel(5, None)),
            sf(Oxm::TcpSrc(5, None)),
            sf(Oxm::UdpDst(5, None)),
            sf(Oxm::SctpSrc(5, None)),
            sf(Oxm::Icmpv4Type(5)),
            sf(Oxm::Icmpv6Code(5)),
            sf(Oxm::ArpSha(mac, None)),
            sf(Oxm::ArpTpa(a4, None)),
            sf(Oxm::Ipv6NdTarget(a6, None)),
            sf(Oxm::Ipv6NdSll(mac, None)),
            sf(Oxm::Ipv6NdTll(mac, None)),
            sf(Oxm::MplsLabel(5)),
            sf(Oxm::MplsTc(5)),
            sf(Oxm::MplsBos(0)),
            sf(Oxm::PbbIsid(U24(5), None)),
        ];
        for (name, f0) in all_frames() {
            for n in 0..=f0.len() {
                for a in &acts {
                    let mut f = f0[..n].to_vec();
                    let mut k = FlowKey::ZERO;
                    let mut l = parse(&f, &mut k);
                    let before = f.clone();
                    match apply(&mut f, &mut k, &mut l, a) {
                        Ok(()) => consistent(&f, &k, &l),
                        Err(EditError::InvalidTtl) => assert_eq!(f, before, "{name}/{n} {a:?}"),
                    }
                    // Full frames that etherparse reads keep valid checksums
                    // (TTL copies into IP under MPLS are checked elsewhere).
                    if n == f0.len() && SlicedPacket_ok(&f) && !name.starts_with("mpls") {
                        verify_checksums(&f);
                    }
                }
            }
        }
    }

    #[allow(non_snake_case)]
    fn SlicedPacket_ok(f: &[u8]) -> bool {
        etherparse::SlicedPacket::from_ethernet(f).is_ok()
    }

    mod props {
        use super::*;
        use openflow::wire::Reader;
        use proptest::prelude::*;

        /// Any basic OXM built from a field id and random value bytes.
        fn any_oxm() -> impl Strategy<Value = Oxm> {
            (0u8..40, proptest::array::uniform16(any::<u8>())).prop_filter_map(
                "decodable",
                |(id, v)| {
                    let f = openflow::oxm::OxmField::from_id(id)?;
                    let mut tlv = f.header(false).to_be_bytes().to_vec();
                    tlv.extend_from_slice(&v[..f.value_len()]);
                    let mut r = Reader::new(&tlv, openflow::OfError::BMC_BAD_LEN);
                    Oxm::decode(&mut r).ok()
                },
            )
        }

        fn any_action() -> impl Strategy<Value = Action> {
            let et = prop_oneof![
                Just(0x8100u16),
                Just(0x88a8),
                Just(0x8847),
                Just(0x8848),
                Just(0x88e7),
                Just(0x0800),
                Just(0x86dd),
                any::<u16>()
            ];
            prop_oneof![
                4 => any_oxm().prop_map(Action::SetField),
                1 => et.clone().prop_map(Action::PushVlan),
                1 => Just(Action::PopVlan),
                1 => et.clone().prop_map(Action::PushMpls),
                1 => et.clone().prop_map(Action::PopMpls),
                1 => et.prop_map(Action::PushPbb),
                1 => Just(Action::PopPbb),
                1 => any::<u8>().prop_map(Action::SetNwTtl),
                1 => Just(Action::DecNwTtl),
                1 => any::<u8>().prop_map(Action::SetMplsTtl),
                1 => Just(Action::DecMplsTtl),
                1 => Just(Action::CopyTtlIn),
                1 => Just(Action::CopyTtlOut),
                1 => Just(Action::output(1)),
            ]
        }

        /// A test frame, cut and with a few bytes changed, or random bytes.
        fn any_frame() -> impl Strategy<Value = Vec<u8>> {
            let n = all_frames().len();
            prop_oneof![
                (
                    0..n,
                    any::<prop::sample::Index>(),
                    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
                )
                    .prop_map(|(i, cut, muts)| {
                        let mut f = all_frames().swap_remove(i).1;
                        let len = cut.index(f.len() + 1);
                        f.truncate(len.max(f.len() * 3 / 4));
                        for (at, v) in muts {
                            if !f.is_empty() {
                                let i = at.index(f.len());
                                f[i] = v;
                            }
                        }
                        f
                    }),
                prop::collection::vec(any::<u8>(), 0..200),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3000))]
            #[test]
            fn parse_and_apply_never_panic(
                frame in any_frame(),
                actions in prop::collection::vec(any_action(), 1..8),
            ) {
                let mut f = frame;
                let mut k = FlowKey::ZERO;
                k.set_u32(off::IN_PORT, 1);
                let mut l = parse(&f, &mut k);
                for a in &actions {
                    let before = f.clone();
                    match apply(&mut f, &mut k, &mut l, a) {
                        Ok(()) => consistent(&f, &k, &l),
                        Err(EditError::InvalidTtl) => prop_assert_eq!(&f, &before),
                    }
                }
            }
        }
    }
}
