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
use std::cell::Cell;

/// Size of `struct virtio_net_hdr` (no `num_buffers`).
pub const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
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
    let mut h = [0u8; VNET_HDR_LEN];
    if !o.needs_csum {
        return h;
    }
    let Some((at, l4, proto)) = l4_checksum(frame) else {
        return h;
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
    h
}

/// A frame that leaves where no header can be passed (a packet-in): its
/// checksum finished in software. GSO super-segments stay whole.
pub fn finish(frame: &mut [u8], o: RxOffload) {
    if o.needs_csum {
        packet::fill_l4_checksum(frame);
    }
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
}
