//! Software GRO for frames that come out of a tunnel: consecutive TCP
//! segments of one connection, decapsulated from one receive batch, are
//! joined back into one super-segment that leaves with a
//! `virtio_net_hdr` (GSO), the way the kernel's GRO hands its stack one
//! large packet.
//!
//! Why: a sender's TSO frame crosses the tunnel as some 40 datagrams (cut
//! by our UDP GSO send or by the kernel's vxlan device), and the receiving
//! tunnel socket gets them in one go (UDP GRO or `recvmmsg`). Forwarded
//! one by one they cost a pipeline pass and a send each; joined, one of
//! each, and the receiving host's stack takes one large segment.
//!
//! What is joined is deliberately narrow, so that joining changes nothing
//! a receiver could see: untagged Ethernet, IPv4 without options or
//! fragments, or IPv6 with TCP as the next header; ACK (and PSH on the last
//! one) as the only flags; every header byte equal but the lengths, the
//! IPv4 id and checksums, and the sequence number, which must follow on;
//! every segment but the last of the same size. Each segment's checksum is
//! verified before it is joined (or was left unfinished on this machine:
//! it never crossed a wire), so the joined frame's partial checksum,
//! finished by whoever sends it, hides no damage. Anything else passes
//! through untouched and in order.

use super::vnet::{RxOffload, GSO_TCPV4, GSO_TCPV6};
use crate::packet::csum::{fold, sum};

const ETH: usize = 14;
const TCP: u8 = 6;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
/// The largest joined frame: its IP length field is 16 bits.
const MAX_FRAME: usize = ETH + 65_535 - 40;

/// Where a joinable TCP segment's headers are.
#[derive(Clone, Copy)]
struct Segment {
    v4: bool,
    l4: usize,
    /// End of the TCP header (start of the payload).
    hdr: usize,
    /// End of the IP datagram (Ethernet padding excluded).
    end: usize,
    seq: u32,
    flags: u8,
    /// Its checksum was left unfinished on this machine (see
    /// [`checksum_state`]).
    partial: bool,
}

impl Segment {
    fn payload(&self) -> usize {
        self.end - self.hdr
    }
}

/// The segment layout of `f`, if it is one that may be joined.
fn segment(f: &[u8]) -> Option<Segment> {
    let be16 = |at: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *f.get(at)?,
            *f.get(at + 1)?,
        ])))
    };
    let (v4, l4, end) = match be16(12)? {
        0x0800 => {
            let frag = be16(ETH + 6)? & 0x3fff;
            if *f.get(ETH)? != 0x45 || frag != 0 || *f.get(ETH + 9)? != TCP {
                return None;
            }
            (true, ETH + 20, ETH + be16(ETH + 2)?)
        }
        0x86dd => {
            if *f.get(ETH + 6)? != TCP {
                return None;
            }
            (false, ETH + 40, ETH + 40 + be16(ETH + 4)?)
        }
        _ => return None,
    };
    let hdr = l4 + usize::from(*f.get(l4 + 12)? >> 4) * 4;
    let flags = *f.get(l4 + 13)?;
    if end > f.len() || hdr < l4 + 20 || hdr >= end || flags & !PSH != ACK {
        return None;
    }
    let seq = u32::from_be_bytes([f[l4 + 4], f[l4 + 5], f[l4 + 6], f[l4 + 7]]);
    Some(Segment {
        v4,
        l4,
        hdr,
        end,
        seq,
        flags,
        partial: false,
    })
}

/// The TCP pseudo-header sum of `f` for a TCP length of `tcp_len`.
fn pseudo(f: &[u8], s: &Segment, tcp_len: usize) -> u64 {
    let addrs = if s.v4 {
        sum(&f[ETH + 12..ETH + 20])
    } else {
        sum(&f[ETH + 8..ETH + 40])
    };
    addrs + u64::from(TCP) + tcp_len as u64
}

/// Whether the segment's checksum is right (`Some(false)`), or was left
/// for offload on this machine (`Some(true)`: the field holds exactly the
/// pseudo-header sum); `None` when it is wrong.
fn checksum_state(f: &[u8], s: &Segment) -> Option<bool> {
    let p = pseudo(f, s, s.end - s.l4);
    if fold(p + sum(&f[s.l4..s.end])) == 0xffff {
        return Some(false);
    }
    (u16::from_be_bytes([f[s.l4 + 16], f[s.l4 + 17]]) == fold(p)).then_some(true)
}

/// Whether `b`'s headers equal `a`'s in every byte a join keeps.
fn same_flow(a: &[u8], sa: &Segment, b: &[u8], sb: &Segment) -> bool {
    if sa.v4 != sb.v4 || sa.hdr != sb.hdr || a[..ETH] != b[..ETH] {
        return false;
    }
    let ip_same = if sa.v4 {
        // Version, TOS; flags, TTL, protocol; addresses.
        a[ETH..ETH + 2] == b[ETH..ETH + 2]
            && a[ETH + 6..ETH + 10] == b[ETH + 6..ETH + 10]
            && a[ETH + 12..ETH + 20] == b[ETH + 12..ETH + 20]
    } else {
        // Version, class, flow label; next header, hop limit, addresses.
        a[ETH..ETH + 4] == b[ETH..ETH + 4] && a[ETH + 6..ETH + 40] == b[ETH + 6..ETH + 40]
    };
    let l4 = sa.l4;
    // Ports; acknowledgment, data offset; window; options.
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 20..sa.hdr] == b[l4 + 20..sb.hdr]
}

/// A frame to forward, with the offload state it goes with.
pub type Joined = (Vec<u8>, RxOffload);

/// Joins the frames of one receive batch, in order; each input frame is
/// tagged by its source (a tunnel port and key), frames of different tags
/// are never joined, and each frame comes out with its tag.
pub struct TcpJoiner<T> {
    /// The frame being built: the first segment, payloads appended.
    frame: Vec<u8>,
    at: Option<Pending<T>>,
}

impl<T> Default for TcpJoiner<T> {
    fn default() -> Self {
        TcpJoiner {
            frame: Vec::new(),
            at: None,
        }
    }
}

struct Pending<T> {
    tag: T,
    seg: Segment,
    mss: usize,
    count: usize,
    next_seq: u32,
    /// Whether the last segment joined had the full size (only then may
    /// another follow) and no PSH.
    open: bool,
}

impl<T: PartialEq> TcpJoiner<T> {
    /// Takes the next frame of the batch; `emit` gets every frame that is
    /// complete (a joined one, or one that cannot be joined), in order.
    pub fn push(&mut self, tag: T, f: &[u8], emit: &mut impl FnMut(T, Joined)) {
        let seg = segment(f).and_then(|s| {
            let partial = checksum_state(f, &s)?;
            Some(Segment { partial, ..s })
        });
        if let (Some(s), Some(p)) = (seg, self.at.as_mut()) {
            let fits = p.open
                && p.tag == tag
                && s.seq == p.next_seq
                && s.payload() <= p.mss
                && self.frame.len() + s.payload() <= MAX_FRAME
                && same_flow(&self.frame, &p.seg, f, &s);
            if fits {
                if p.count == 1 {
                    // Joining begins: room for the largest frame (and a
                    // VLAN tag pushed later) at once, instead of a
                    // reallocation, and a copy, each time it doubles.
                    let room = MAX_FRAME + 4 - self.frame.len();
                    self.frame.reserve_exact(room);
                }
                self.frame.extend_from_slice(&f[s.hdr..s.end]);
                p.count += 1;
                p.next_seq = s.seq.wrapping_add(s.payload() as u32);
                p.open = s.payload() == p.mss && s.flags & PSH == 0;
                if s.flags & PSH != 0 {
                    self.frame[p.seg.l4 + 13] |= PSH;
                }
                return;
            }
        }
        self.flush(emit);
        match seg {
            Some(s) => {
                self.frame.clear();
                self.frame.extend_from_slice(&f[..s.end]);
                self.at = Some(Pending {
                    tag,
                    seg: s,
                    mss: s.payload(),
                    count: 1,
                    next_seq: s.seq.wrapping_add(s.payload() as u32),
                    open: s.flags & PSH == 0,
                });
            }
            None => {
                // As it came, its checksum finished if it was left
                // unfinished here.
                let mut f = f.to_vec();
                crate::packet::finish_if_partial(&mut f);
                emit(tag, (f, RxOffload::default()))
            }
        }
    }

    /// Emits the frame being built, if any (at the end of a batch).
    pub fn flush(&mut self, emit: &mut impl FnMut(T, Joined)) {
        let Some(p) = self.at.take() else {
            return;
        };
        let mut f = std::mem::take(&mut self.frame);
        if p.count == 1 {
            // Alone: as it came. A checksum left unfinished here stays so,
            // for whoever sends the frame to finish (a host's port, with
            // the offload header; the kernel's vxlan hands over a whole
            // TSO frame this way, which then leaves as one).
            if !p.seg.partial {
                return emit(p.tag, (f, RxOffload::default()));
            }
            let o = RxOffload {
                needs_csum: true,
                ..RxOffload::default()
            };
            crate::datapath::vnet::to_complemented(&mut f, o);
            return emit(p.tag, (f, o));
        }
        let s = p.seg;
        if s.v4 {
            let total = (f.len() - ETH) as u16;
            f[ETH + 2..ETH + 4].copy_from_slice(&total.to_be_bytes());
            f[ETH + 10..ETH + 12].copy_from_slice(&[0, 0]);
            let c = !fold(sum(&f[ETH..ETH + 20]));
            f[ETH + 10..ETH + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let plen = (f.len() - ETH - 40) as u16;
            f[ETH + 4..ETH + 6].copy_from_slice(&plen.to_be_bytes());
        }
        // A partial checksum (the pseudo-header sum), stored complemented
        // as the pipeline keeps partial checksums (see `vnet`).
        let partial = fold(pseudo(&f, &s, f.len() - s.l4));
        f[s.l4 + 16..s.l4 + 18].copy_from_slice(&(!partial).to_be_bytes());
        let o = RxOffload {
            needs_csum: true,
            gso_type: if s.v4 { GSO_TCPV4 } else { GSO_TCPV6 },
            gso_size: p.mss as u16,
        };
        emit(p.tag, (f, o));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::datapath::vnet;
    use crate::packet;

    /// A TCP/IPv4 super-segment of `len` payload bytes from `seq`, with a
    /// partial checksum as a host with TSO sends it, and its offload.
    pub(crate) fn tso_frame(len: usize, seq: u32, mss: u16) -> (Vec<u8>, RxOffload) {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let total = (20 + 32 + len) as u16;
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
        f.extend([0x04, 0xd2, 0, 80]);
        f.extend(seq.to_be_bytes());
        f.extend([0, 0, 0, 7, 0x80, 0x10, 0x01, 0xf5, 0, 0, 0, 0]);
        // Timestamps, as Linux sends them.
        f.extend([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        f.extend((0..len).map(|i| (i * 7) as u8));
        let o = RxOffload {
            needs_csum: true,
            gso_type: GSO_TCPV4,
            gso_size: mss,
        };
        // The complemented partial checksum the receive path keeps.
        let mut full = f.clone();
        packet::fill_l4_checksum(&mut full);
        let s = segment(&full).expect("segment");
        let partial = fold(pseudo(&full, &s, full.len() - s.l4));
        f[s.l4 + 16..s.l4 + 18].copy_from_slice(&(!partial).to_be_bytes());
        (f, o)
    }

    fn join_all(frames: &[Vec<u8>]) -> Vec<Joined> {
        let mut j = TcpJoiner::default();
        let mut out = Vec::new();
        for f in frames {
            j.push(7, f, &mut |_, x| out.push(x));
        }
        j.flush(&mut |_, x| out.push(x));
        out
    }

    #[test]
    fn segments_of_a_tso_frame_join_back_into_it() {
        let (tso, o) = tso_frame(4000, 1000, 1448);
        let segs = vnet::finished_segments(&tso, o);
        assert_eq!(segs.len(), 3);
        let out = join_all(&segs);
        assert_eq!(out.len(), 1, "one frame");
        let (f, jo) = &out[0];
        assert_eq!(*jo, o, "the same offload");
        // Cut again, the joined frame gives the same segments.
        assert_eq!(vnet::finished_segments(f, *jo), segs);
    }

    #[test]
    fn what_cannot_be_joined_passes_in_order() {
        let (a, o) = tso_frame(3000, 1000, 1000);
        let sa = vnet::finished_segments(&a, o);
        // A gap in the sequence: the next batch starts anew.
        let (b, _) = tso_frame(2000, 1000 + 3000 + 1, 1000);
        let sb = vnet::finished_segments(&b, o);
        let mut damaged = sb[1].clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        let arp = vec![0xff; 42];
        let frames = vec![
            sa[0].clone(),
            sa[1].clone(),
            sa[2].clone(),
            sb[0].clone(),
            damaged.clone(),
            arp.clone(),
        ];
        let out = join_all(&frames);
        let lens: Vec<usize> = out.iter().map(|(f, _)| f.len()).collect();
        assert_eq!(lens, vec![66 + 3000, 66 + 1000, 66 + 1000, 42]);
        assert!(out[0].1.is_gso());
        assert!(!out[1].1.needs_csum, "a single segment stays as it came");
        assert_eq!(out[1].0, sb[0]);
        assert_eq!(out[2].0, damaged, "a damaged segment is not joined");
        assert_eq!(out[3].0, arp);
    }

    #[test]
    fn a_short_segment_ends_the_join_and_tags_keep_sources_apart() {
        let (a, o) = tso_frame(2500, 1, 1000);
        let s = vnet::finished_segments(&a, o);
        assert_eq!(s.len(), 3);
        let mut j = TcpJoiner::default();
        let mut out = Vec::new();
        j.push(1, &s[0], &mut |t, _| out.push(t));
        j.push(2, &s[1], &mut |t, _| out.push(t));
        j.flush(&mut |t, _| out.push(t));
        assert_eq!(out, vec![1, 2], "different tags, each frame with its own");
        // 1000 + 500 then 1000: the short one closes the frame.
        let (b, _) = tso_frame(1500, 1, 1000);
        let mut frames = vnet::finished_segments(&b, o);
        let (mut c, _) = tso_frame(1000, 1501, 1000);
        packet::fill_l4_checksum(&mut c);
        frames.push(c);
        let out = join_all(&frames);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0.len(), 66 + 1500);
    }

    #[test]
    fn a_whole_tso_frame_left_unfinished_here_stays_unfinished() {
        // What the kernel's vxlan device hands over whole: a 64 KiB TSO
        // frame whose checksum holds only the pseudo-header sum.
        let (mut tso, o) = tso_frame(60_000, 5, 1448);
        vnet::from_complemented(&mut tso, o);
        let out = join_all(std::slice::from_ref(&tso));
        assert_eq!(out.len(), 1);
        let (f, got) = &out[0];
        assert!(got.needs_csum && !got.is_gso(), "{got:?}");
        // Kept partial (complemented, as the pipeline keeps it): finished
        // on the way out, it is the right checksum.
        let mut fin = f.clone();
        vnet::finish(&mut fin, *got);
        let mut want = tso.clone();
        packet::fill_l4_checksum(&mut want);
        assert_eq!(fin, want);
        // A finished one passes as it is.
        let out = join_all(std::slice::from_ref(&want));
        assert_eq!(out[0], (want.clone(), RxOffload::default()));
    }
}
