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

/// Recomputes the TCP or UDP checksum of an Ethernet frame from scratch
/// (IPv4 or IPv6, VLAN tags allowed). Other frames, fragments and frames
/// whose headers do not parse are left alone.
pub fn fill_l4_checksum(frame: &mut [u8]) {
    let mut key = FlowKey::ZERO;
    let lay = parse(frame, &mut key);
    let (Some(l3), Some(l4)) = (lay.l3, lay.l4) else {
        return;
    };
    if lay.frag != super::Frag::No {
        return;
    }
    let proto = key.u8_at(off::IP_PROTO);
    let csum_at = match proto {
        TCP => 16,
        UDP => 6,
        _ => return,
    };
    let (l3, l4, end) = (usize::from(l3), usize::from(l4), usize::from(lay.end));
    if end > frame.len() || l4 + csum_at + 2 > end {
        return;
    }
    let l4_len = end - l4;
    let mut s = match key.eth_type() {
        eth_type::IPV4 => sum(&frame[l3 + 12..l3 + 20]),
        eth_type::IPV6 => sum(&frame[l3 + 8..l3 + 40]),
        _ => return,
    };
    s += u64::from(proto) + l4_len as u64;
    frame[l4 + csum_at..l4 + csum_at + 2].copy_from_slice(&[0, 0]);
    s += sum(&frame[l4..end]);
    let mut c = !fold(s);
    if proto == UDP && c == 0 {
        c = 0xffff;
    }
    frame[l4 + csum_at..l4 + csum_at + 2].copy_from_slice(&c.to_be_bytes());
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
        }
    }
}
