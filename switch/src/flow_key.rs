//! The flow key: every OpenFlow 1.3 match field of one packet, in a fixed
//! 144-byte layout of 18 machine words.
//!
//! Why words: the classifier hashes and compares keys under masks, and a
//! rule's mask usually touches only a few words (in_port, eth_type and VLAN
//! share word 0). A subtable remembers which words its mask uses and hashes
//! just those. Values are stored in network byte order at fixed offsets, so
//! an OXM value or mask is copied in byte for byte.
//!
//! Some fields share storage the way Open vSwitch's `struct flow` does,
//! which is safe because OpenFlow prerequisites make them exclusive: ARP's
//! SPA/TPA live in the IPv4 source/destination slots (eth_type tells them
//! apart), ARP SHA/THA in the ND SLL/TLL slots, ICMPv4 and ICMPv6 type/code
//! in one pair (ip_proto tells them apart); TCP, UDP and SCTP ports share
//! `tp_src`/`tp_dst`.

use openflow::oxm::{Oxm, OxmField};
use openflow::Match;

/// Number of 64-bit words in a key.
pub const WORDS: usize = 18;
/// Size of a key in bytes.
pub const KEY_LEN: usize = WORDS * 8;

/// Byte offsets of the fields inside a key.
pub mod off {
    pub const IN_PORT: usize = 0; // 4
    pub const ETH_TYPE: usize = 4; // 2
    pub const VLAN_VID: usize = 6; // 2, with OFPVID_PRESENT (0x1000) when tagged
    pub const ETH_DST: usize = 8; // 6
    pub const VLAN_PCP: usize = 14; // 1
    pub const IP_PROTO: usize = 15; // 1
    pub const ETH_SRC: usize = 16; // 6
    pub const IP_DSCP: usize = 22; // 1
    pub const IP_ECN: usize = 23; // 1
    pub const NW_SRC: usize = 24; // 4: IPv4 source or ARP SPA
    pub const NW_DST: usize = 28; // 4: IPv4 destination or ARP TPA
    pub const TP_SRC: usize = 32; // 2: TCP/UDP/SCTP source port
    pub const TP_DST: usize = 34; // 2
    pub const ARP_OP: usize = 36; // 2
    pub const IPV6_EXTHDR: usize = 38; // 2
    pub const METADATA: usize = 40; // 8
    pub const TUNNEL_ID: usize = 48; // 8
    pub const IN_PHY_PORT: usize = 56; // 4
    pub const MPLS_LABEL: usize = 60; // 4 (20 bits used)
    pub const ICMP_TYPE: usize = 64; // 1: ICMPv4 or ICMPv6 type
    pub const ICMP_CODE: usize = 65; // 1
    pub const MPLS_TC: usize = 66; // 1
    pub const MPLS_BOS: usize = 67; // 1
    pub const PBB_ISID: usize = 68; // 4 (24 bits used: the first byte is 0)
    pub const IPV6_FLABEL: usize = 72; // 4 (20 bits used)
    pub const IPV6_SRC: usize = 80; // 16
    pub const IPV6_DST: usize = 96; // 16
    pub const ND_TARGET: usize = 112; // 16
    pub const DL_SHA: usize = 128; // 6: ARP SHA or ND SLL
    pub const DL_THA: usize = 136; // 6: ARP THA or ND TLL
}

/// Where a field lives: byte offset and width in the key. The OXM value is
/// right-aligned in that slot (PBB_ISID's 3 bytes go in the last 3 of 4).
pub fn field_slot(f: OxmField) -> (usize, usize) {
    use OxmField::*;
    match f {
        InPort => (off::IN_PORT, 4),
        InPhyPort => (off::IN_PHY_PORT, 4),
        Metadata => (off::METADATA, 8),
        EthDst => (off::ETH_DST, 6),
        EthSrc => (off::ETH_SRC, 6),
        EthType => (off::ETH_TYPE, 2),
        VlanVid => (off::VLAN_VID, 2),
        VlanPcp => (off::VLAN_PCP, 1),
        IpDscp => (off::IP_DSCP, 1),
        IpEcn => (off::IP_ECN, 1),
        IpProto => (off::IP_PROTO, 1),
        Ipv4Src | ArpSpa => (off::NW_SRC, 4),
        Ipv4Dst | ArpTpa => (off::NW_DST, 4),
        TcpSrc | UdpSrc | SctpSrc => (off::TP_SRC, 2),
        TcpDst | UdpDst | SctpDst => (off::TP_DST, 2),
        Icmpv4Type | Icmpv6Type => (off::ICMP_TYPE, 1),
        Icmpv4Code | Icmpv6Code => (off::ICMP_CODE, 1),
        ArpOp => (off::ARP_OP, 2),
        ArpSha | Ipv6NdSll => (off::DL_SHA, 6),
        ArpTha | Ipv6NdTll => (off::DL_THA, 6),
        Ipv6Src => (off::IPV6_SRC, 16),
        Ipv6Dst => (off::IPV6_DST, 16),
        Ipv6Flabel => (off::IPV6_FLABEL, 4),
        Ipv6NdTarget => (off::ND_TARGET, 16),
        MplsLabel => (off::MPLS_LABEL, 4),
        MplsTc => (off::MPLS_TC, 1),
        MplsBos => (off::MPLS_BOS, 1),
        PbbIsid => (off::PBB_ISID, 4),
        TunnelId => (off::TUNNEL_ID, 8),
        Ipv6Exthdr => (off::IPV6_EXTHDR, 2),
    }
}

/// Flags of the IPV6_EXTHDR pseudo-field (`ofp_ipv6exthdr_flags`).
pub mod exthdr {
    pub const NONEXT: u16 = 1 << 0;
    pub const ESP: u16 = 1 << 1;
    pub const AUTH: u16 = 1 << 2;
    pub const DEST: u16 = 1 << 3;
    pub const FRAG: u16 = 1 << 4;
    pub const ROUTER: u16 = 1 << 5;
    pub const HOP: u16 = 1 << 6;
    pub const UNREP: u16 = 1 << 7;
    pub const UNSEQ: u16 = 1 << 8;
}

/// Every match field of one packet (or a mask over them).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
pub struct FlowKey {
    bytes: [u8; KEY_LEN],
}

/// Word by word and branch-free: the compiler turns this into a few
/// vector compares instead of a call to `memcmp` (the microflow cache
/// compares a whole key on every hit).
impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        (0..WORDS).fold(0u64, |acc, i| acc | (self.word(i) ^ other.word(i))) == 0
    }
}

impl Eq for FlowKey {}

impl From<&FlowKey> for FlowKey {
    fn from(k: &FlowKey) -> FlowKey {
        *k
    }
}

/// Hashes through [`FlowKey::hash64`]: one `write_u64` per key.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

/// The 64x64→128-bit multiply folded to 64 bits: mixes every input bit into
/// every output bit in one multiply (the core of foldhash and aHash).
#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey::ZERO
    }
}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("FlowKey");
        for fld in OxmField::ALL {
            let v = self.field_bytes(*fld);
            if v.iter().any(|&b| b != 0) {
                d.field(fld.name(), &format_args!("{:02x?}", v));
            }
        }
        d.finish()
    }
}

impl FlowKey {
    pub const ZERO: FlowKey = FlowKey {
        bytes: [0; KEY_LEN],
    };

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8; KEY_LEN] {
        &mut self.bytes
    }

    /// Word `i` (native endianness: only used for hashing and masking).
    #[inline]
    pub fn word(&self, i: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[i * 8..i * 8 + 8]);
        u64::from_ne_bytes(w)
    }

    /// A fast hash of the whole key, for the exact-match microflow cache.
    /// Each pair of words goes through one folded multiply with its own
    /// constants, and the products are only XORed together: the nine
    /// multiplies do not wait for each other, so the CPU runs them side by
    /// side (the shape of foldhash and wyhash).
    #[inline]
    pub fn hash64(&self) -> u64 {
        const PAIRS: usize = WORDS / 2;
        const _: () = assert!(WORDS.is_multiple_of(2), "hash64 takes words in pairs");
        const K: [u64; 2 * PAIRS] = {
            // Odd constants from a SplitMix64 sequence, distinct per word
            // position so that moving a value to another field changes the
            // hash.
            let mut k = [0u64; 2 * PAIRS];
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut i = 0;
            while i < 2 * PAIRS {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                k[i] = (z ^ (z >> 31)) | 1;
                i += 1;
            }
            k
        };
        let mut h = 0u64;
        for i in 0..PAIRS {
            h ^= folded_multiply(
                self.word(2 * i) ^ K[2 * i],
                self.word(2 * i + 1) ^ K[2 * i + 1],
            );
        }
        folded_multiply(h ^ 0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344)
    }

    #[inline]
    pub fn set_word(&mut self, i: usize, v: u64) {
        self.bytes[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }

    /// This key with `mask` applied.
    pub fn masked(&self, mask: &FlowKey) -> FlowKey {
        let mut out = FlowKey::ZERO;
        for i in 0..WORDS {
            out.set_word(i, self.word(i) & mask.word(i));
        }
        out
    }

    /// Bitmap of the words that are not zero (for a mask: the words it uses).
    pub fn nonzero_words(&self) -> u32 {
        (0..WORDS)
            .filter(|&i| self.word(i) != 0)
            .fold(0, |m, i| m | 1 << i)
    }

    pub fn bytes_at(&self, offset: usize, len: usize) -> &[u8] {
        &self.bytes[offset..offset + len]
    }

    pub fn set_bytes(&mut self, offset: usize, v: &[u8]) {
        self.bytes[offset..offset + v.len()].copy_from_slice(v);
    }

    /// The slot of an OXM field.
    pub fn field_bytes(&self, f: OxmField) -> &[u8] {
        let (o, n) = field_slot(f);
        &self.bytes[o..o + n]
    }

    pub fn u8_at(&self, o: usize) -> u8 {
        self.bytes[o]
    }
    pub fn u16_at(&self, o: usize) -> u16 {
        u16::from_be_bytes([self.bytes[o], self.bytes[o + 1]])
    }
    pub fn u32_at(&self, o: usize) -> u32 {
        let b = &self.bytes;
        u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }
    pub fn u64_at(&self, o: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[o..o + 8]);
        u64::from_be_bytes(w)
    }
    pub fn set_u8(&mut self, o: usize, v: u8) {
        self.bytes[o] = v;
    }
    pub fn set_u16(&mut self, o: usize, v: u16) {
        self.set_bytes(o, &v.to_be_bytes());
    }
    pub fn set_u32(&mut self, o: usize, v: u32) {
        self.set_bytes(o, &v.to_be_bytes());
    }
    pub fn set_u64(&mut self, o: usize, v: u64) {
        self.set_bytes(o, &v.to_be_bytes());
    }

    pub fn in_port(&self) -> u32 {
        self.u32_at(off::IN_PORT)
    }
    pub fn eth_type(&self) -> u16 {
        self.u16_at(off::ETH_TYPE)
    }
    pub fn vlan_vid(&self) -> u16 {
        self.u16_at(off::VLAN_VID)
    }
    pub fn ip_proto(&self) -> u8 {
        self.u8_at(off::IP_PROTO)
    }
    pub fn metadata(&self) -> u64 {
        self.u64_at(off::METADATA)
    }
    pub fn tunnel_id(&self) -> u64 {
        self.u64_at(off::TUNNEL_ID)
    }

    /// Writes an OXM value (and its mask into `mask`, all-ones when the
    /// field has none) into the field's slot. Returns `false` for fields
    /// that are not OpenFlow-basic.
    pub fn set_oxm(&mut self, oxm: &Oxm, mask: Option<&mut FlowKey>) -> bool {
        let Some(f) = oxm.field() else {
            return false;
        };
        let (o, n) = field_slot(f);
        let wl = f.value_len();
        let mut buf = [0u8; 40];
        let mut enc = &mut buf[..];
        oxm.encode(&mut enc);
        let value = &buf[4..4 + wl];
        let at = o + n - wl;
        self.bytes[o..o + n].fill(0);
        self.bytes[at..at + wl].copy_from_slice(value);
        if let Some(m) = mask {
            m.bytes[o..o + n].fill(0);
            if oxm.has_mask() {
                m.bytes[at..at + wl].copy_from_slice(&buf[4 + wl..4 + 2 * wl]);
            } else {
                m.bytes[at..at + wl].fill(0xff);
            }
            for i in 0..n {
                self.bytes[o + i] &= m.bytes[o + i];
            }
        }
        true
    }

    /// Reads a field back as an OXM (no mask).
    pub fn get_oxm(&self, f: OxmField) -> Option<Oxm> {
        let (o, n) = field_slot(f);
        let wl = f.value_len();
        let mut tlv = Vec::with_capacity(4 + wl);
        tlv.extend_from_slice(&f.header(false).to_be_bytes());
        tlv.extend_from_slice(&self.bytes[o + n - wl..o + n]);
        let mut r = openflow::wire::Reader::new(&tlv, openflow::OfError::BMC_BAD_LEN);
        Oxm::decode(&mut r).ok()
    }

    /// The (value, mask) pair of a match: value already masked.
    pub fn from_match(m: &Match) -> (FlowKey, FlowKey) {
        let mut key = FlowKey::ZERO;
        let mut mask = FlowKey::ZERO;
        for f in &m.fields {
            key.set_oxm(f, Some(&mut mask));
        }
        (key, mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::oxm::U24;
    use std::net::Ipv4Addr;

    #[test]
    fn slots_do_not_overlap_except_shared() {
        let mut owner = [None::<OxmField>; KEY_LEN];
        let shared = |a: OxmField, b: OxmField| field_slot(a) == field_slot(b);
        for f in OxmField::ALL {
            let (o, n) = field_slot(*f);
            assert!(o + n <= KEY_LEN);
            for slot in owner.iter_mut().skip(o).take(n) {
                if let Some(g) = *slot {
                    assert!(shared(g, *f), "{g:?} overlaps {f:?}");
                }
                *slot = Some(*f);
            }
        }
    }

    #[test]
    fn match_to_key_and_mask() {
        let m = Match::new()
            .with(Oxm::InPort(7))
            .with(Oxm::EthType(0x0800))
            .with(Oxm::Ipv4Src(
                Ipv4Addr::new(10, 1, 2, 3),
                Some(Ipv4Addr::new(255, 255, 0, 0)),
            ))
            .with(Oxm::PbbIsid(U24(0xabcdef), None));
        let (k, mask) = FlowKey::from_match(&m);
        assert_eq!(k.in_port(), 7);
        assert_eq!(k.eth_type(), 0x0800);
        assert_eq!(k.u32_at(off::NW_SRC), 0x0a01_0000);
        assert_eq!(mask.u32_at(off::NW_SRC), 0xffff_0000);
        assert_eq!(k.u32_at(off::PBB_ISID), 0x00ab_cdef);
        assert_eq!(mask.u32_at(off::PBB_ISID), 0x00ff_ffff);
        assert_eq!(mask.nonzero_words(), 1 | 1 << 3 | 1 << 8);
        assert_eq!(k.get_oxm(OxmField::InPort), Some(Oxm::InPort(7)));
        assert_eq!(
            k.get_oxm(OxmField::PbbIsid),
            Some(Oxm::PbbIsid(U24(0xabcdef), None))
        );
    }
}
