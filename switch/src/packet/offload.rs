//! Completing what a sender left to the hardware: a frame a local host
//! sent with checksum offload on carries an unfinished TCP/UDP checksum
//! (the pseudo-header sum only). Whoever receives it through a raw socket
//! must finish it before the frame leaves on another port.

use super::csum::{fold, sum};
use super::parse::parse;
use crate::flow_key::{off, FlowKey};
use openflow::types::eth_type;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// Where a frame's TCP or UDP checksum lives and what covers it.
struct L4Sum {
    proto: u8,
    /// Start of the L4 header and end of the datagram.
    l4: usize,
    end: usize,
    /// Offset of the checksum field.
    at: usize,
    /// The pseudo-header sum (not folded).
    pseudo: u64,
}

/// Finds the TCP/UDP checksum of an Ethernet frame (IPv4 or IPv6, VLAN
/// tags allowed); `None` for other frames, fragments and frames whose
/// headers do not parse.
fn locate(frame: &[u8]) -> Option<L4Sum> {
    let mut key = FlowKey::ZERO;
    let lay = parse(frame, &mut key);
    let (l3, l4) = (usize::from(lay.l3?), usize::from(lay.l4?));
    if lay.frag != super::Frag::No {
        return None;
    }
    let proto = key.u8_at(off::IP_PROTO);
    let at = l4
        + match proto {
            TCP => 16,
            UDP => 6,
            _ => return None,
        };
    let end = usize::from(lay.end);
    if end > frame.len() || at + 2 > end {
        return None;
    }
    let addrs = match key.eth_type() {
        eth_type::IPV4 => sum(frame.get(l3 + 12..l3 + 20)?),
        eth_type::IPV6 => sum(frame.get(l3 + 8..l3 + 40)?),
        _ => return None,
    };
    Some(L4Sum {
        proto,
        l4,
        end,
        at,
        pseudo: addrs + u64::from(proto) + (end - l4) as u64,
    })
}

/// Recomputes the TCP or UDP checksum of an Ethernet frame from scratch
/// (IPv4 or IPv6, VLAN tags allowed). Other frames, fragments and frames
/// whose headers do not parse are left alone.
pub fn fill_l4_checksum(frame: &mut [u8]) {
    let Some(c) = locate(frame) else {
        return;
    };
    frame[c.at..c.at + 2].copy_from_slice(&[0, 0]);
    let mut sum16 = !fold(c.pseudo + sum(&frame[c.l4..c.end]));
    if c.proto == UDP && sum16 == 0 {
        sum16 = 0xffff;
    }
    frame[c.at..c.at + 2].copy_from_slice(&sum16.to_be_bytes());
}

/// Leaves the TCP/UDP checksum of an Ethernet frame unfinished: the field
/// gets the pseudo-header sum, what a sender with checksum offload leaves
/// for the hardware (or the kernel's GSO) to finish. False, and the frame
/// untouched, for frames [`fill_l4_checksum`] leaves alone.
pub fn leave_l4_checksum_partial(frame: &mut [u8]) -> bool {
    let Some(c) = locate(frame) else {
        return false;
    };
    frame[c.at..c.at + 2].copy_from_slice(&fold(c.pseudo).to_be_bytes());
    true
}

/// Finishes the TCP/UDP checksum of a frame only when it was left
/// unfinished: the field holds exactly the pseudo-header sum (what a
/// sender with checksum offload leaves) and the full checksum does not
/// verify. A frame decapsulated from a tunnel that never left this machine
/// arrives like that (the kernel delivers the encapsulating datagram to
/// our socket before any device computed the inner checksum); a frame
/// damaged on the way keeps its wrong checksum.
pub fn finish_if_partial(frame: &mut [u8]) {
    let Some(c) = locate(frame) else {
        return;
    };
    let field = u16::from_be_bytes([frame[c.at], frame[c.at + 1]]);
    if c.proto == UDP && field == 0 {
        return;
    }
    let verifies = fold(c.pseudo + sum(&frame[c.l4..c.end])) == 0xffff;
    if !verifies && field == fold(c.pseudo) {
        fill_l4_checksum(frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::testutil;

    #[test]
    fn refills_tcp_and_udp_checksums() {
        for (name, good) in [
            ("tcp4", testutil::tcp4()),
            ("udp4_vlan", testutil::udp4_vlan()),
            ("tcp6", testutil::tcp6()),
            ("udp6", testutil::udp6()),
        ] {
            let mut f = good.clone();
            // What a sender with offload leaves: some other value.
            let l4_csum = match name {
                "tcp4" => 14 + 20 + 16,
                "udp4_vlan" => 18 + 20 + 6,
                "tcp6" => 14 + 40 + 16,
                _ => 14 + 40 + 6,
            };
            f[l4_csum] ^= 0x5a;
            f[l4_csum + 1] ^= 0xa5;
            fill_l4_checksum(&mut f);
            assert_eq!(f, good, "{name}");
            assert!(testutil::verify_checksums(&f) >= 1, "{name}");
        }
        // Not TCP/UDP, or too short: untouched, no panic.
        let mut icmp = testutil::icmp4();
        let before = icmp.clone();
        fill_l4_checksum(&mut icmp);
        assert_eq!(icmp, before);
        for n in 0..40 {
            let mut t = testutil::tcp4()[..n].to_vec();
            fill_l4_checksum(&mut t);
            finish_if_partial(&mut t);
        }
    }

    #[test]
    fn finishes_partial_checksums_only() {
        let good = testutil::tcp4();
        // A partial checksum: the folded pseudo-header sum.
        let mut partial = good.clone();
        let pseudo = fold(sum(&good[26..34]) + 6 + (good.len() - 34) as u64);
        partial[50..52].copy_from_slice(&pseudo.to_be_bytes());
        finish_if_partial(&mut partial);
        assert_eq!(partial, good);
        // A good checksum is left alone, and so is a damaged one.
        let mut same = good.clone();
        finish_if_partial(&mut same);
        assert_eq!(same, good);
        let mut damaged = good.clone();
        damaged[60] ^= 0xff;
        let before = damaged.clone();
        finish_if_partial(&mut damaged);
        assert_eq!(damaged, before);
    }
}
