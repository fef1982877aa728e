//! Offloads across the switch: `virtio_net_hdr` in, `virtio_net_hdr` out.
//!
//! Hosts and containers send with checksum offload and TSO on by default.
//! Their frames reach a raw socket unfinished: the TCP/UDP checksum field
//! holds only the pseudo-header sum (`NEEDS_CSUM`), and a TCP "frame" may
//! be a 64 KiB super-segment (GSO) that the kernel was to cut later. With
//! `PACKET_VNET_HDR` (AF_PACKET) and `IFF_VNET_HDR` (TAP) the kernel tells
//! us so in a 10-byte header before each frame, and takes the same header
//! on send, finishing the job (checksums, segmentation) on the way out.
//! So the switch forwards super-segments whole, the way Open vSwitch's
//! userspace TSO support does, instead of breaking TCP.
//!
//! Two details:
//! - The pipeline edits checksums incrementally, which assumes the field
//!   holds a complemented checksum. A partial checksum is the plain
//!   pseudo-header sum, so it is complemented on receive
//!   ([`to_complemented`]) and back on send ([`from_complemented`]); edits
//!   in between (addresses, ports) then update it correctly.
//! - Headers may move (a VLAN tag pushed or popped), so the offsets of the
//!   outgoing header are recomputed from the outgoing frame.
//!
//! The offload state of the frame being forwarded travels in a
//! thread-local ([`with_rx`]): forwarding is synchronous on the receiving
//! thread, so the sinks that send the outputs see the state of the frame
//! they came from without threading it through the pipeline.

use crate::flow_key::{off, FlowKey};
use crate::packet;
use crate::packet::csum;
use std::cell::Cell;

/// Size of `struct virtio_net_hdr` (no `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
/// UDP GSO (`UDP_SEGMENT`, QUIC's way of sending): datagrams of
/// `gso_size` bytes of payload, each with its own UDP header.
pub const GSO_UDP_L4: u8 = 5;
pub const GSO_ECN: u8 = 0x80;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// What a received frame's `virtio_net_hdr` said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxOffload {
    /// The L4 checksum is partial (complemented on receive, see module).
    pub needs_csum: bool,
    pub gso_type: u8,
    pub gso_size: u16,
}

impl RxOffload {
    /// Reads a received header.
    pub fn from_header(h: &[u8; VNET_HDR_LEN]) -> RxOffload {
        RxOffload {
            needs_csum: h[0] & F_NEEDS_CSUM != 0,
            gso_type: h[1],
            gso_size: u16::from_ne_bytes([h[4], h[5]]),
        }
    }

    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }
}

thread_local! {
    static CURRENT: Cell<RxOffload> = const {
        Cell::new(RxOffload { needs_csum: false, gso_type: 0, gso_size: 0 })
    };
}

/// Runs `f` with `o` as the offload state of the frame being forwarded.
pub fn with_rx<R>(o: RxOffload, f: impl FnOnce() -> R) -> R {
    let prev = CURRENT.with(|c| c.replace(o));
    let r = f();
    CURRENT.with(|c| c.set(prev));
    r
}

/// The offload state of the frame being forwarded on this thread.
pub fn current() -> RxOffload {
    CURRENT.with(|c| c.get())
}

/// Where the TCP/UDP checksum field of `frame` is, with the L4 offset and
/// protocol.
fn l4_checksum(frame: &[u8]) -> Option<(usize, usize, u8)> {
    let mut key = FlowKey::ZERO;
    let lay = packet::parse(frame, &mut key);
    let l4 = usize::from(lay.l4?);
    let proto = key.u8_at(off::IP_PROTO);
    let at = match proto {
        TCP => l4 + 16,
        UDP => l4 + 6,
        _ => return None,
    };
    (at + 2 <= frame.len()).then_some((at, l4, proto))
}

fn invert_checksum(frame: &mut [u8]) {
    if let Some((at, _, _)) = l4_checksum(frame) {
        let c = !u16::from_be_bytes([frame[at], frame[at + 1]]);
        frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// On receive: a partial checksum becomes a complemented one, so the
/// pipeline's incremental updates apply to it.
pub fn to_complemented(frame: &mut [u8], o: RxOffload) {
    if o.needs_csum {
        invert_checksum(frame);
    }
}

/// On send: back to a partial checksum (the inverse of
/// [`to_complemented`]), for a frame whose header says `NEEDS_CSUM`.
pub fn from_complemented(frame: &mut [u8], o: RxOffload) {
    if o.needs_csum {
        invert_checksum(frame);
    }
}

/// The `virtio_net_hdr` to send `frame` with, given the offload state of
/// the frame it came from. A frame whose checksum was finished, or that
/// has no TCP/UDP header any more, gets an all-zero header.
pub fn tx_header(frame: &[u8], o: RxOffload) -> [u8; VNET_HDR_LEN] {
    tx_offload(frame, o).0
}

/// [`tx_header`], and where the frame's partial checksum is, which the
/// sender must turn back from complemented (see [`from_complemented`])
/// in its own copy of the frame: the pipeline's frame goes out as it is,
/// with no copy of its own and one parse.
pub fn tx_offload(frame: &[u8], o: RxOffload) -> ([u8; VNET_HDR_LEN], Option<usize>) {
    let mut h = [0u8; VNET_HDR_LEN];
    if !o.needs_csum {
        return (h, None);
    }
    let Some((at, l4, proto)) = l4_checksum(frame) else {
        return (h, None);
    };
    h[0] = F_NEEDS_CSUM;
    let csum_start = l4 as u16;
    let csum_offset = (at - l4) as u16;
    h[6..8].copy_from_slice(&csum_start.to_ne_bytes());
    h[8..10].copy_from_slice(&csum_offset.to_ne_bytes());
    if o.is_gso() {
        let l4_hdr = if proto == TCP {
            usize::from(frame.get(l4 + 12).copied().unwrap_or(0x50) >> 4) * 4
        } else {
            8
        };
        let hdr_len = (l4 + l4_hdr) as u16;
        h[1] = o.gso_type;
        h[2..4].copy_from_slice(&hdr_len.to_ne_bytes());
        h[4..6].copy_from_slice(&o.gso_size.to_ne_bytes());
    }
    (h, Some(at))
}

/// Turns the 16-bit checksum at `at` (from [`tx_offload`]) back into a
/// partial one, in a copy of the frame on its way out.
pub fn flip_checksum(frame: &mut [u8], at: Option<usize>) {
    if let Some(at) = at.filter(|a| a + 2 <= frame.len()) {
        let c = !u16::from_be_bytes([frame[at], frame[at + 1]]);
        frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
}

/// A frame that leaves where no header can be passed (a packet-in): its
/// checksum finished in software. GSO super-segments stay whole.
pub fn finish(frame: &mut [u8], o: RxOffload) {
    if o.needs_csum {
        packet::fill_l4_checksum(frame);
    }
}

/// The frames to put on a wire that takes no offload header (a tunnel):
/// a partial checksum finished, a TCP super-segment cut into `gso_size`
/// segments with their own lengths, IPv4 ids, sequence numbers, flags and
/// checksums, a UDP GSO frame into its datagrams with their own lengths,
/// IPv4 ids and checksums (what the kernel's GSO would have done).
pub fn finished_segments(frame: &[u8], o: RxOffload) -> Vec<Vec<u8>> {
    let mut all = Vec::with_capacity(frame.len() + 64);
    let stride = append_finished_segments(frame, o, &[], &mut all);
    if stride == 0 || stride >= all.len() {
        return vec![all];
    }
    all.chunks(stride).map(<[u8]>::to_vec).collect()
}

/// [`finished_segments`] written back to back at the end of `out`, each
/// after a copy of `prefix` (a tunnel header): no buffer per segment, and
/// ready for one UDP GSO send. Returns the size of each (prefix +
/// segment) but the last, which may be shorter; 0 when there is one.
pub fn append_finished_segments(
    frame: &[u8],
    o: RxOffload,
    prefix: &[u8],
    out: &mut Vec<u8>,
) -> usize {
    let whole = |out: &mut Vec<u8>| {
        out.extend_from_slice(prefix);
        let at = out.len();
        out.extend_from_slice(frame);
        if o.needs_csum {
            from_complemented(&mut out[at..], o);
            packet::fill_l4_checksum(&mut out[at..]);
        }
        0
    };
    let tcp = match o.gso_type & !GSO_ECN {
        GSO_TCPV4 | GSO_TCPV6 => true,
        GSO_UDP_L4 => false,
        _ => return whole(out),
    };
    if !o.needs_csum || o.gso_size == 0 {
        return whole(out);
    }
    let mut key = FlowKey::ZERO;
    let lay = packet::parse(frame, &mut key);
    let (Some(l3), Some(l4)) = (lay.l3, lay.l4) else {
        return whole(out);
    };
    let (l3, l4) = (usize::from(l3), usize::from(l4));
    if key.u8_at(off::IP_PROTO) != if tcp { TCP } else { UDP } {
        return whole(out);
    }
    let hdr_end = match frame.get(l4 + 12) {
        Some(&doff) if tcp => l4 + usize::from(doff >> 4) * 4,
        _ if tcp => return whole(out),
        _ => l4 + 8,
    };
    let end = usize::from(lay.end).min(frame.len());
    if hdr_end > end {
        return whole(out);
    }
    let v4 = key.eth_type() == openflow::types::eth_type::IPV4;
    let mss = usize::from(o.gso_size);
    let payload = &frame[hdr_end..end];
    // TCP's sequence number and flags (a UDP header is 8 bytes: unused).
    let seq0 = u32::from_be_bytes([frame[l4 + 4], frame[l4 + 5], frame[l4 + 6], frame[l4 + 7]]);
    let flags0 = if tcp { frame[l4 + 13] } else { 0 };
    let id0 = u16::from_be_bytes([frame[l3 + 4], frame[l3 + 5]]);
    let n = payload.len().div_ceil(mss).max(1);
    out.reserve(n * (prefix.len() + hdr_end) + payload.len());
    for i in 0..n {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        out.extend_from_slice(prefix);
        let at = out.len();
        out.extend_from_slice(&frame[..hdr_end]);
        out.extend_from_slice(chunk);
        let seg = &mut out[at..];
        if tcp {
            let seq = seq0.wrapping_add((i * mss) as u32);
            seg[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
            let mut flags = flags0;
            if i + 1 < n {
                flags &= !(0x01 | 0x08); // FIN, PSH only on the last
            }
            if i > 0 {
                flags &= !0x80; // CWR only on the first
            }
            seg[l4 + 13] = flags;
        } else {
            let udp_len = (seg.len() - l4) as u16;
            seg[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
        }
        if v4 {
            let total = (seg.len() - l3) as u16;
            seg[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            seg[l3 + 4..l3 + 6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            seg[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let ihl = usize::from(seg[l3] & 0x0f) * 4;
            let c = !csum::fold(csum::sum(&seg[l3..l3 + ihl]));
            seg[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let plen = (seg.len() - l3 - 40) as u16;
            seg[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        }
        packet::fill_l4_checksum(seg);
    }
    if n > 1 {
        prefix.len() + hdr_end + mss
    } else {
        0
    }
}

/// The offload to send a TCP frame with that is too big for an egress
/// MTU and came without GSO: a super-segment from a tunnel end on this
/// machine (the kernel's vxlan device hands a whole TSO frame through
/// its socket) or one joined from another switch's segments. It leaves
/// as a TSO frame, cut by the kernel to MSS-sized segments that fit
/// `mtu`, rather than cut here and sent segment by segment. A finished
/// checksum is made partial again (the pseudo-header sum, complemented as
/// the pipeline keeps partial ones): the kernel finishes each segment's.
/// `None` when the frame is not TCP with a payload, or is GSO already.
pub fn tso_for_mtu(frame: &mut [u8], o: RxOffload, mtu: u32) -> Option<RxOffload> {
    if o.is_gso() {
        return None;
    }
    let mtu = usize::try_from(mtu).ok().filter(|m| *m >= 576)?;
    let mut key = FlowKey::ZERO;
    let lay = packet::parse(frame, &mut key);
    let (l3, l4) = (usize::from(lay.l3?), usize::from(lay.l4?));
    let end = usize::from(lay.end).min(frame.len());
    if key.u8_at(off::IP_PROTO) != TCP {
        return None;
    }
    let doff = usize::from(frame.get(l4 + 12)? >> 4) * 4;
    let mss = mtu.checked_sub(l4 - l3 + doff).filter(|m| *m > 0)?;
    if end <= l4 + doff {
        return None;
    }
    let tso = RxOffload {
        needs_csum: true,
        gso_type: if key.eth_type() == openflow::types::eth_type::IPV4 {
            GSO_TCPV4
        } else {
            GSO_TCPV6
        },
        gso_size: u16::try_from(mss).ok()?,
    };
    if !o.needs_csum {
        if !packet::leave_l4_checksum_partial(frame) {
            return None;
        }
        // Complemented, as the pipeline keeps a partial checksum.
        flip_checksum(frame, Some(l4 + 16));
    }
    Some(tso)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP/IPv4 frame with a partial checksum (what a host with offload
    /// sends): the field holds the folded pseudo-header sum.
    fn partial_tcp4() -> (Vec<u8>, Vec<u8>) {
        let mut full = vec![
            2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, // eth
            0x45, 0, 0, 44, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // ip
            0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0,
            0, // tcp
            1, 2, 3, 4, // payload
        ];
        packet::fill_l4_checksum(&mut full);
        // Pseudo-header sum: 10.0.0.1 + 10.0.0.2 + 6 + 24.
        let s: u32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 6 + 24;
        let mut partial = full.clone();
        partial[50..52].copy_from_slice(&(s as u16).to_be_bytes());
        (partial, full)
    }

    #[test]
    fn partial_checksums_survive_edits_and_are_finished_on_the_way_out() {
        let (mut f, _) = partial_tcp4();
        let o = RxOffload {
            needs_csum: true,
            gso_type: GSO_TCPV4,
            gso_size: 1448,
        };
        to_complemented(&mut f, o);
        // An address edit, as the pipeline does it.
        let mut key = FlowKey::ZERO;
        let mut lay = packet::parse(&f, &mut key);
        let a = openflow::Action::SetField(openflow::Oxm::Ipv4Dst(
            std::net::Ipv4Addr::new(10, 0, 0, 9),
            None,
        ));
        packet::apply(&mut f, &mut key, &mut lay, &a).expect("edit");
        let mut sent = f.clone();
        from_complemented(&mut sent, o);
        // The same, as a sink does it: in its copy, at the offset found.
        let (h, at) = tx_offload(&f, o);
        let mut flipped = f.clone();
        flip_checksum(&mut flipped, at);
        assert_eq!(flipped, sent);
        assert_eq!(h, tx_header(&sent, o));
        // The partial sum now covers the new address.
        let s: u32 = 0x0a00 + 0x0001 + 0x0a00 + 0x0009 + 6 + 24;
        assert_eq!(u16::from_be_bytes([sent[50], sent[51]]), s as u16);
        let h = tx_header(&sent, o);
        assert_eq!(h[0], F_NEEDS_CSUM);
        assert_eq!(h[1], GSO_TCPV4);
        assert_eq!(u16::from_ne_bytes([h[2], h[3]]), 14 + 20 + 20);
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 1448);
        assert_eq!(u16::from_ne_bytes([h[6], h[7]]), 34);
        assert_eq!(u16::from_ne_bytes([h[8], h[9]]), 16);
        // Finished in software, it is the full checksum of the edited frame.
        let mut fin = sent.clone();
        finish(&mut fin, o);
        let mut want = fin.clone();
        packet::fill_l4_checksum(&mut want);
        assert_eq!(fin, want);
    }

    #[test]
    fn tso_super_segments_are_cut_like_gso() {
        // 14 + 20 + 20 header bytes and 3000 bytes of payload, MSS 1000.
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 20 + 3000) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0x12,
            0x34,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend([10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend([
            0x04, 0xd2, 0, 80, 0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x19, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        f.extend((0..3000).map(|i| i as u8));
        let o = RxOffload {
            needs_csum: true,
            gso_type: GSO_TCPV4,
            gso_size: 1000,
        };
        // Received: partial checksum, complemented by the receive path.
        to_complemented(&mut f, o);
        let segs = finished_segments(&f, o);
        assert_eq!(segs.len(), 3);
        for (i, s) in segs.iter().enumerate() {
            assert_eq!(s.len(), 54 + 1000);
            assert_eq!(
                u16::from_be_bytes([s[16], s[17]]),
                1040,
                "IPv4 total length"
            );
            assert_eq!(
                u16::from_be_bytes([s[18], s[19]]),
                0x1234 + i as u16,
                "IPv4 id"
            );
            let seq = u32::from_be_bytes([s[38], s[39], s[40], s[41]]);
            assert_eq!(seq, 0x1000 + 1000 * i as u32);
            let fin_psh = s[47] & 0x09;
            assert_eq!(fin_psh != 0, i == 2, "FIN/PSH only on the last");
            assert_eq!(&s[54..56], &[(1000 * i) as u8, (1000 * i + 1) as u8]);
            let mut check = s.clone();
            packet::fill_l4_checksum(&mut check);
            assert_eq!(&check, s, "TCP checksum of segment {i}");
            assert_eq!(
                csum::fold(csum::sum(&s[14..34])),
                0xffff,
                "IPv4 header checksum"
            );
        }
    }

    #[test]
    fn udp_gso_frames_are_cut_into_their_datagrams() {
        // UDP_SEGMENT 1000 over IPv6: 2500 bytes of payload -> 1000, 1000, 500.
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
        let plen = (8 + 2500) as u16;
        f.extend([0x60, 0, 0, 0, (plen >> 8) as u8, plen as u8, 17, 64]);
        f.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend([0x30, 0x39, 0x01, 0xbb, (plen >> 8) as u8, plen as u8, 0, 0]);
        f.extend((0..2500).map(|i| (i * 7) as u8));
        let o = RxOffload {
            needs_csum: true,
            gso_type: GSO_UDP_L4,
            gso_size: 1000,
        };
        assert!(packet::leave_l4_checksum_partial(&mut f));
        to_complemented(&mut f, o);
        let segs = finished_segments(&f, o);
        let sizes: Vec<usize> = segs.iter().map(|s| s.len() - 62).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        for (i, s) in segs.iter().enumerate() {
            let len = sizes[i] as u16 + 8;
            assert_eq!(
                u16::from_be_bytes([s[18], s[19]]),
                len,
                "IPv6 payload length"
            );
            assert_eq!(u16::from_be_bytes([s[58], s[59]]), len, "UDP length");
            assert_eq!(&s[54..58], &[0x30, 0x39, 0x01, 0xbb], "ports");
            assert_eq!(s[62], ((1000 * i) * 7) as u8, "payload in order");
            let mut check = s.clone();
            packet::fill_l4_checksum(&mut check);
            assert_eq!(&check, s, "UDP checksum of datagram {i}");
            assert_ne!(&s[60..62], &[0, 0]);
        }
    }

    #[test]
    fn plain_frames_get_a_zero_header() {
        let (_, full) = partial_tcp4();
        assert_eq!(tx_header(&full, RxOffload::default()), [0; VNET_HDR_LEN]);
        let h = [1, 4, 0, 0, 0xa8, 5, 54, 0, 16, 0];
        let o = RxOffload::from_header(&h);
        assert!(o.needs_csum && o.is_gso());
        assert_eq!(o.gso_type, GSO_TCPV6);
        assert_eq!(o.gso_size, u16::from_ne_bytes([0xa8, 5]));
        with_rx(o, || assert_eq!(current(), o));
        assert_eq!(current(), RxOffload::default());
    }

    #[test]
    fn a_tcp_frame_too_big_for_the_mtu_leaves_as_tso() {
        // A finished 3000-byte TCP/IPv4 frame (20 + 20 header bytes).
        let (_, full) = partial_tcp4();
        let mut f = full[..54].to_vec();
        f.extend((0..3000).map(|i| i as u8));
        let total = (f.len() - 14) as u16;
        f[16..18].copy_from_slice(&total.to_be_bytes());
        f[24..26].copy_from_slice(&[0, 0]);
        let c = !csum::fold(csum::sum(&f[14..34]));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        packet::fill_l4_checksum(&mut f);
        let finished = f.clone();
        let o = tso_for_mtu(&mut f, RxOffload::default(), 1500).expect("TCP");
        assert_eq!(
            o,
            RxOffload {
                needs_csum: true,
                gso_type: GSO_TCPV4,
                gso_size: 1460,
            }
        );
        // Its checksum is now the partial one, complemented; finished
        // again it is what it was.
        let mut again = f.clone();
        finish(&mut again, o);
        assert_eq!(again, finished);
        let h = tx_header(&f, o);
        assert_eq!((h[0], h[1]), (1, GSO_TCPV4));
        assert_eq!(u16::from_ne_bytes([h[4], h[5]]), 1460);
        // Not TCP, or GSO already: nothing to do.
        let mut udp = finished.clone();
        udp[23] = 17;
        assert_eq!(tso_for_mtu(&mut udp, RxOffload::default(), 1500), None);
        let gso = RxOffload {
            needs_csum: true,
            gso_type: GSO_TCPV4,
            gso_size: 1000,
        };
        assert_eq!(tso_for_mtu(&mut f, gso, 1500), None);
    }
}
