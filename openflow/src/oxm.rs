//! OXM match fields (spec 7.2.3) and `ofp_match`.
//!
//! Every OpenFlow-basic field of 1.3.5 is a typed variant of [`Oxm`]; maskable
//! ones carry `Option<mask>`. Which fields are maskable follows the spec plus
//! what Open vSwitch accepts (masked L4 ports and ND fields), so matches that
//! `ovs-ofctl` sends decode. Fields of any other class (NXM, experimenter) and
//! unknown basic fields are kept as [`RawOxm`] so they survive a round trip;
//! a switch rejects them with OFPBMC_BAD_FIELD in [`Match::validate`], not here.
//!
//! Decoding is structural (lengths, masks allowed); [`Match::validate`] adds
//! what a switch must check before accepting a flow: duplicate fields, value
//! ranges and prerequisites (spec 7.2.3.6).

use crate::error::{bad, DecodeError, OfError};
use crate::types::MacAddr;
use crate::wire::{len16, pad8, put_zeros, Reader};
use bytes::BufMut;
use std::net::{Ipv4Addr, Ipv6Addr};

/// OXM class of the OpenFlow-basic fields.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// OXM class of experimenter fields (followed by a 32-bit experimenter id).
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;
/// Open vSwitch's NXM_0 and NXM_1 classes.
pub const OFPXMC_NXM_0: u16 = 0x0000;
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// `ofp_match_type` OFPMT_OXM.
pub const OFPMT_OXM: u16 = 1;

/// A value type an OXM field carries, with its fixed wire length.
pub trait OxmValue: Copy + PartialEq {
    const LEN: usize;
    /// Reads from exactly `LEN` bytes.
    fn read(b: &[u8]) -> Self;
    fn put(&self, out: &mut impl BufMut);
}

impl OxmValue for u8 {
    const LEN: usize = 1;
    fn read(b: &[u8]) -> Self {
        b[0]
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_u8(*self)
    }
}
impl OxmValue for u16 {
    const LEN: usize = 2;
    fn read(b: &[u8]) -> Self {
        u16::from_be_bytes([b[0], b[1]])
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_u16(*self)
    }
}
impl OxmValue for u32 {
    const LEN: usize = 4;
    fn read(b: &[u8]) -> Self {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_u32(*self)
    }
}
impl OxmValue for u64 {
    const LEN: usize = 8;
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        u64::from_be_bytes(a)
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_u64(*self)
    }
}
impl OxmValue for MacAddr {
    const LEN: usize = 6;
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        MacAddr(a)
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_slice(&self.0)
    }
}
impl OxmValue for Ipv4Addr {
    const LEN: usize = 4;
    fn read(b: &[u8]) -> Self {
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_slice(&self.octets())
    }
}
impl OxmValue for Ipv6Addr {
    const LEN: usize = 16;
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(&b[..16]);
        Ipv6Addr::from(a)
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_slice(&self.octets())
    }
}

/// A 24-bit value (PBB I-SID), three bytes on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct U24(pub u32);

impl OxmValue for U24 {
    const LEN: usize = 3;
    fn read(b: &[u8]) -> Self {
        U24(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }
    fn put(&self, out: &mut impl BufMut) {
        out.put_slice(&self.0.to_be_bytes()[1..])
    }
}

/// An OXM field that is not OpenFlow-basic, or a basic one this crate does
/// not know: the 4-byte header's parts and the payload after it, verbatim
/// (for the experimenter class the payload starts with the experimenter id).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RawOxm {
    pub class: u16,
    pub field: u8,
    pub hasmask: bool,
    pub body: Vec<u8>,
}

macro_rules! oxm_fields {
    (
        exact { $($ev:ident = $eid:literal, $et:ty, $ename:literal;)* }
        masked { $($mv:ident = $mid:literal, $mt:ty, $mname:literal;)* }
    ) => {
        /// The OpenFlow-basic OXM field ids (`oxm_ofb_match_fields`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum OxmField {
            $($ev = $eid,)*
            $($mv = $mid,)*
        }

        impl OxmField {
            /// Every basic field, in id order.
            pub const ALL: &'static [OxmField] = &{
                let mut all = [OxmField::InPort; 40];
                $(all[$eid] = OxmField::$ev;)*
                $(all[$mid] = OxmField::$mv;)*
                all
            };

            pub fn from_id(id: u8) -> Option<OxmField> {
                match id {
                    $($eid => Some(OxmField::$ev),)*
                    $($mid => Some(OxmField::$mv),)*
                    _ => None,
                }
            }

            pub fn id(self) -> u8 {
                self as u8
            }

            /// Length of the field's value in bytes (a mask doubles it).
            pub fn value_len(self) -> usize {
                match self {
                    $(OxmField::$ev => <$et as OxmValue>::LEN,)*
                    $(OxmField::$mv => <$mt as OxmValue>::LEN,)*
                }
            }

            /// Whether the field may carry a mask.
            pub fn maskable(self) -> bool {
                match self {
                    $(OxmField::$ev => false,)*
                    $(OxmField::$mv => true,)*
                }
            }

            /// The spec's name in lower case without prefix, e.g. `ipv4_src`.
            pub fn name(self) -> &'static str {
                match self {
                    $(OxmField::$ev => $ename,)*
                    $(OxmField::$mv => $mname,)*
                }
            }

            pub fn from_name(name: &str) -> Option<OxmField> {
                match name {
                    $($ename => Some(OxmField::$ev),)*
                    $($mname => Some(OxmField::$mv),)*
                    _ => None,
                }
            }

            /// The 32-bit OXM header of this field (class OpenFlow-basic).
            pub fn header(self, hasmask: bool) -> u32 {
                let len = self.value_len() * if hasmask { 2 } else { 1 };
                (u32::from(OFPXMC_OPENFLOW_BASIC) << 16)
                    | (u32::from(self.id()) << 9)
                    | (u32::from(hasmask) << 8)
                    | len as u32
            }
        }

        /// One OXM TLV of a match or a set_field action.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Oxm {
            $($ev($et),)*
            $($mv($mt, Option<$mt>),)*
            /// Any other class, or an unknown basic field, kept verbatim.
            Other(RawOxm),
        }

        impl Oxm {
            /// The basic field this is, or `None` for [`Oxm::Other`].
            pub fn field(&self) -> Option<OxmField> {
                match self {
                    $(Oxm::$ev(..) => Some(OxmField::$ev),)*
                    $(Oxm::$mv(..) => Some(OxmField::$mv),)*
                    Oxm::Other(_) => None,
                }
            }

            /// Whether a mask is present.
            pub fn has_mask(&self) -> bool {
                match self {
                    $(Oxm::$ev(..) => false,)*
                    $(Oxm::$mv(_, m) => m.is_some(),)*
                    Oxm::Other(r) => r.hasmask,
                }
            }

            /// Drops the mask (set_field actions carry none).
            pub fn without_mask(&self) -> Oxm {
                match self {
                    $(Oxm::$mv(v, Some(_)) => Oxm::$mv(*v, None),)*
                    other => other.clone(),
                }
            }

            /// Encoded length including the 4-byte header.
            pub fn wire_len(&self) -> usize {
                match self {
                    Oxm::Other(r) => 4 + r.body.len(),
                    o => {
                        let f = o.field().map_or(0, OxmField::value_len);
                        4 + if o.has_mask() { 2 * f } else { f }
                    }
                }
            }

            pub fn encode(&self, out: &mut impl BufMut) {
                match self {
                    $(Oxm::$ev(v) => {
                        out.put_u32(OxmField::$ev.header(false));
                        v.put(out);
                    })*
                    $(Oxm::$mv(v, m) => {
                        out.put_u32(OxmField::$mv.header(m.is_some()));
                        v.put(out);
                        if let Some(m) = m {
                            m.put(out);
                        }
                    })*
                    Oxm::Other(r) => {
                        let len = u8::try_from(r.body.len()).unwrap_or(u8::MAX);
                        out.put_u16(r.class);
                        out.put_u8((r.field << 1) | u8::from(r.hasmask));
                        out.put_u8(len);
                        out.put_slice(&r.body[..usize::from(len)]);
                    }
                }
            }

            /// Decodes a basic field's body and pushes it onto `out`.
            ///
            /// Pushing in place, rather than returning the value: moving the
            /// 40-byte `Result<Oxm>` back through the stack made the caller
            /// re-read it with loads that straddle this function's smaller
            /// stores, a store-forwarding stall that cost a third of
            /// `Match::decode`.
            fn decode_basic_into<S: OxmSink>(
                field: OxmField,
                hasmask: bool,
                body: &[u8],
                out: &mut S,
            ) -> Result<(), DecodeError> {
                let n = field.value_len();
                let want = if hasmask { 2 * n } else { n };
                if body.len() != want {
                    return bad(OfError::BMC_BAD_LEN, "OXM field length does not match its type");
                }
                match field {
                    $(OxmField::$ev => {
                        if hasmask {
                            return bad(OfError::BMC_BAD_MASK, "mask on a field that takes none");
                        }
                        out.push(Oxm::$ev(<$et>::read(body)));
                    })*
                    $(OxmField::$mv => out.push(Oxm::$mv(
                        <$mt>::read(body),
                        if hasmask { Some(<$mt>::read(&body[n..])) } else { None },
                    )),)*
                }
                Ok(())
            }
        }
    };
}

oxm_fields! {
    exact {
        InPort = 0, u32, "in_port";
        InPhyPort = 1, u32, "in_phy_port";
        EthType = 5, u16, "eth_type";
        VlanPcp = 7, u8, "vlan_pcp";
        IpDscp = 8, u8, "ip_dscp";
        IpEcn = 9, u8, "ip_ecn";
        IpProto = 10, u8, "ip_proto";
        Icmpv4Type = 19, u8, "icmpv4_type";
        Icmpv4Code = 20, u8, "icmpv4_code";
        ArpOp = 21, u16, "arp_op";
        Icmpv6Type = 29, u8, "icmpv6_type";
        Icmpv6Code = 30, u8, "icmpv6_code";
        MplsLabel = 34, u32, "mpls_label";
        MplsTc = 35, u8, "mpls_tc";
        MplsBos = 36, u8, "mpls_bos";
    }
    masked {
        Metadata = 2, u64, "metadata";
        EthDst = 3, MacAddr, "eth_dst";
        EthSrc = 4, MacAddr, "eth_src";
        VlanVid = 6, u16, "vlan_vid";
        Ipv4Src = 11, Ipv4Addr, "ipv4_src";
        Ipv4Dst = 12, Ipv4Addr, "ipv4_dst";
        TcpSrc = 13, u16, "tcp_src";
        TcpDst = 14, u16, "tcp_dst";
        UdpSrc = 15, u16, "udp_src";
        UdpDst = 16, u16, "udp_dst";
        SctpSrc = 17, u16, "sctp_src";
        SctpDst = 18, u16, "sctp_dst";
        ArpSpa = 22, Ipv4Addr, "arp_spa";
        ArpTpa = 23, Ipv4Addr, "arp_tpa";
        ArpSha = 24, MacAddr, "arp_sha";
        ArpTha = 25, MacAddr, "arp_tha";
        Ipv6Src = 26, Ipv6Addr, "ipv6_src";
        Ipv6Dst = 27, Ipv6Addr, "ipv6_dst";
        Ipv6Flabel = 28, u32, "ipv6_flabel";
        Ipv6NdTarget = 31, Ipv6Addr, "ipv6_nd_target";
        Ipv6NdSll = 32, MacAddr, "ipv6_nd_sll";
        Ipv6NdTll = 33, MacAddr, "ipv6_nd_tll";
        PbbIsid = 37, U24, "pbb_isid";
        TunnelId = 38, u64, "tunnel_id";
        Ipv6Exthdr = 39, u16, "ipv6_exthdr";
    }
}

/// Fields the spec (1.3.5, table 12) lets carry a mask; the others that
/// [`OxmField::maskable`] allows are Open vSwitch extensions.
pub fn spec_maskable(f: OxmField) -> bool {
    use OxmField::*;
    matches!(
        f,
        Metadata
            | EthDst
            | EthSrc
            | VlanVid
            | Ipv4Src
            | Ipv4Dst
            | ArpSpa
            | ArpTpa
            | ArpSha
            | ArpTha
            | Ipv6Src
            | Ipv6Dst
            | Ipv6Flabel
            | PbbIsid
            | TunnelId
            | Ipv6Exthdr
    )
}

/// What must also be in a match for a field to be allowed (spec table 12).
/// Requirements chain: TCP_SRC needs IP_PROTO=6, which needs ETH_TYPE IPv4 or
/// IPv6; [`Prereq::parent`] walks that chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prereq {
    None,
    /// IN_PHY_PORT needs IN_PORT.
    InPort,
    /// VLAN_PCP needs VLAN_VID != NONE.
    VlanPresent,
    /// ETH_TYPE must be one of these.
    EthType(&'static [u16]),
    /// IP_PROTO must equal this (ETH_TYPE IPv4 or IPv6 as well).
    IpProto(u8),
    /// IP_PROTO 1 with ETH_TYPE IPv4 (ICMPv4).
    Icmpv4,
    /// IP_PROTO 58 with ETH_TYPE IPv6 (ICMPv6).
    Icmpv6,
    /// ICMPV6_TYPE must be one of these (ND fields).
    Icmpv6Type(&'static [u8]),
}

const IP_ANY: &[u16] = &[0x0800, 0x86dd];
const IPV4: &[u16] = &[0x0800];
const IPV6: &[u16] = &[0x86dd];

impl OxmField {
    /// The direct prerequisite of this field.
    pub fn prereq(self) -> Prereq {
        use OxmField::*;
        match self {
            InPhyPort => Prereq::InPort,
            VlanPcp => Prereq::VlanPresent,
            IpDscp | IpEcn | IpProto => Prereq::EthType(IP_ANY),
            Ipv4Src | Ipv4Dst => Prereq::EthType(IPV4),
            TcpSrc | TcpDst => Prereq::IpProto(6),
            UdpSrc | UdpDst => Prereq::IpProto(17),
            SctpSrc | SctpDst => Prereq::IpProto(132),
            Icmpv4Type | Icmpv4Code => Prereq::Icmpv4,
            ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => Prereq::EthType(&[0x0806]),
            Ipv6Src | Ipv6Dst | Ipv6Flabel | Ipv6Exthdr => Prereq::EthType(IPV6),
            Icmpv6Type | Icmpv6Code => Prereq::Icmpv6,
            Ipv6NdTarget => Prereq::Icmpv6Type(&[135, 136]),
            Ipv6NdSll => Prereq::Icmpv6Type(&[135]),
            Ipv6NdTll => Prereq::Icmpv6Type(&[136]),
            MplsLabel | MplsTc | MplsBos => Prereq::EthType(&[0x8847, 0x8848]),
            PbbIsid => Prereq::EthType(&[0x88e7]),
            InPort | Metadata | EthDst | EthSrc | EthType | VlanVid | TunnelId => Prereq::None,
        }
    }

    /// The largest value the field can hold (values are stored in wider
    /// integers; e.g. VLAN_VID has 13 bits including OFPVID_PRESENT).
    pub fn max_value(self) -> Option<u64> {
        use OxmField::*;
        Some(match self {
            VlanVid => 0x1fff,
            VlanPcp => 7,
            IpDscp => 63,
            IpEcn => 3,
            Ipv6Flabel => 0xf_ffff,
            MplsLabel => 0xf_ffff,
            MplsTc => 7,
            MplsBos => 1,
            Ipv6Exthdr => 0x1ff,
            _ => return None,
        })
    }
}

impl Prereq {
    /// The requirement the requirement itself has.
    pub fn parent(self) -> Prereq {
        match self {
            Prereq::IpProto(_) => Prereq::EthType(IP_ANY),
            Prereq::Icmpv4 => Prereq::EthType(IPV4),
            Prereq::Icmpv6 => Prereq::EthType(IPV6),
            Prereq::Icmpv6Type(_) => Prereq::Icmpv6,
            _ => Prereq::None,
        }
    }
}

/// Where [`Oxm::decode_into`] puts a decoded field: a match's list, or a
/// single slot (set_field).
pub trait OxmSink {
    fn push(&mut self, oxm: Oxm);
}

impl OxmSink for Vec<Oxm> {
    #[inline(always)]
    fn push(&mut self, oxm: Oxm) {
        Vec::push(self, oxm);
    }
}

impl OxmSink for Option<Oxm> {
    #[inline(always)]
    fn push(&mut self, oxm: Oxm) {
        *self = Some(oxm);
    }
}

impl Oxm {
    /// Decodes one TLV at the reader's position.
    pub fn decode(r: &mut Reader<'_>) -> Result<Oxm, DecodeError> {
        let mut one = None;
        Oxm::decode_into(r, &mut one)?;
        one.ok_or_else(|| DecodeError::new(OfError::BMC_BAD_LEN, "OXM field"))
    }

    /// Decodes one TLV at the reader's position and pushes it onto `out`
    /// (what [`Match::decode`] uses: no intermediate copy of the value).
    #[inline]
    pub fn decode_into<S: OxmSink>(r: &mut Reader<'_>, out: &mut S) -> Result<(), DecodeError> {
        let hdr = r.u32("OXM header")?;
        let class = (hdr >> 16) as u16;
        let field = ((hdr >> 9) & 0x7f) as u8;
        let hasmask = hdr & 0x100 != 0;
        let len = (hdr & 0xff) as usize;
        let body = r.bytes(len, "OXM field body")?;
        if class == OFPXMC_OPENFLOW_BASIC {
            if let Some(f) = OxmField::from_id(field) {
                return Oxm::decode_basic_into(f, hasmask, body, out);
            }
        }
        if class == OFPXMC_EXPERIMENTER && len < 4 {
            return bad(OfError::BMC_BAD_LEN, "experimenter OXM shorter than its id");
        }
        out.push(Oxm::Other(RawOxm {
            class,
            field,
            hasmask,
            body: body.to_vec(),
        }));
        Ok(())
    }

    /// The value as an unsigned integer, for fields up to 64 bits.
    pub fn value_u64(&self) -> Option<u64> {
        self.value_and_mask_u64().map(|(v, _)| v)
    }

    /// Value and mask as integers (the mask all ones when absent), for
    /// fields up to 64 bits; `None` for IPv6 addresses and raw fields.
    pub fn value_and_mask_u64(&self) -> Option<(u64, u64)> {
        fn ones(bytes: usize) -> u64 {
            if bytes >= 8 {
                u64::MAX
            } else {
                (1u64 << (8 * bytes)) - 1
            }
        }
        use Oxm::*;
        let (v, m, w): (u64, Option<u64>, usize) = match self {
            InPort(v) | InPhyPort(v) | MplsLabel(v) => (u64::from(*v), None, 4),
            EthType(v) | ArpOp(v) => (u64::from(*v), None, 2),
            VlanPcp(v) | IpDscp(v) | IpEcn(v) | IpProto(v) | Icmpv4Type(v) | Icmpv4Code(v)
            | Icmpv6Type(v) | Icmpv6Code(v) | MplsTc(v) | MplsBos(v) => (u64::from(*v), None, 1),
            Metadata(v, m) | TunnelId(v, m) => (*v, *m, 8),
            EthDst(v, m)
            | EthSrc(v, m)
            | ArpSha(v, m)
            | ArpTha(v, m)
            | Ipv6NdSll(v, m)
            | Ipv6NdTll(v, m) => (v.to_u64(), m.map(|m| m.to_u64()), 6),
            VlanVid(v, m)
            | TcpSrc(v, m)
            | TcpDst(v, m)
            | UdpSrc(v, m)
            | UdpDst(v, m)
            | SctpSrc(v, m)
            | SctpDst(v, m)
            | Ipv6Exthdr(v, m) => (u64::from(*v), m.map(u64::from), 2),
            Ipv4Src(v, m) | Ipv4Dst(v, m) | ArpSpa(v, m) | ArpTpa(v, m) => (
                u64::from(u32::from(*v)),
                m.map(|m| u64::from(u32::from(m))),
                4,
            ),
            Ipv6Flabel(v, m) => (u64::from(*v), m.map(u64::from), 4),
            PbbIsid(v, m) => (u64::from(v.0), m.map(|m| u64::from(m.0)), 3),
            Ipv6Src(..) | Ipv6Dst(..) | Ipv6NdTarget(..) | Other(_) => return None,
        };
        Some((v, m.unwrap_or(ones(w))))
    }
}

/// An `ofp_match` of type OXM: an ordered list of fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Match {
    pub fields: Vec<Oxm>,
}

impl Match {
    pub fn new() -> Self {
        Match { fields: Vec::new() }
    }

    pub fn with(mut self, f: Oxm) -> Self {
        self.fields.push(f);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The first field with this id.
    pub fn get(&self, f: OxmField) -> Option<&Oxm> {
        self.fields.iter().find(|o| o.field() == Some(f))
    }

    /// Length of the `ofp_match` without its trailing padding.
    pub fn unpadded_len(&self) -> usize {
        4 + self.fields.iter().map(Oxm::wire_len).sum::<usize>()
    }

    /// Length on the wire including the padding to 8 bytes.
    pub fn wire_len(&self) -> usize {
        let n = self.unpadded_len();
        n + pad8(n)
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        let n = self.unpadded_len();
        out.put_u16(OFPMT_OXM);
        out.put_u16(len16(n));
        for f in &self.fields {
            f.encode(out);
        }
        put_zeros(out, pad8(n));
    }

    /// Decodes an `ofp_match` and its padding.
    pub fn decode(r: &mut Reader<'_>) -> Result<Match, DecodeError> {
        let mut r2 = Reader::new(r.rest(), OfError::BMC_BAD_LEN);
        let typ = r2.u16("match type")?;
        let len = usize::from(r2.u16("match length")?);
        if typ != OFPMT_OXM {
            return bad(OfError::BMC_BAD_TYPE, "match type is not OFPMT_OXM");
        }
        if len < 4 {
            return bad(OfError::BMC_BAD_LEN, "match length below 4");
        }
        let mut body = r2.sub(len - 4, "match fields")?;
        r2.skip(pad8(len), "match padding")?;
        let mut fields = Vec::with_capacity(body.remaining() / 8 + 1);
        while !body.is_empty() {
            Oxm::decode_into(&mut body, &mut fields)?;
        }
        r.skip(r2.position(), "match")?;
        Ok(Match { fields })
    }

    /// Checks what a switch must before accepting this match: known fields,
    /// no duplicates, masks only where allowed, values in range, and every
    /// field's prerequisites present (spec 7.2.3.6).
    pub fn validate(&self) -> Result<(), OfError> {
        let mut seen = 0u64;
        for f in &self.fields {
            let Some(id) = f.field() else {
                return Err(OfError::BMC_BAD_FIELD);
            };
            let bit = 1u64 << id.id();
            if seen & bit != 0 {
                return Err(OfError::BMC_DUP_FIELD);
            }
            seen |= bit;
            if let (Some(max), Some((v, _))) = (id.max_value(), f.value_and_mask_u64()) {
                if v > max {
                    return Err(OfError::BMC_BAD_VALUE);
                }
            }
        }
        for f in &self.fields {
            if let Some(id) = f.field() {
                let mut p = id.prereq();
                while p != Prereq::None {
                    if !self.satisfies(p) {
                        return Err(OfError::BMC_BAD_PREREQ);
                    }
                    p = p.parent();
                }
            }
        }
        Ok(())
    }

    /// Whether this match pins down what `p` requires with exact values.
    pub fn satisfies(&self, p: Prereq) -> bool {
        let exact = |f: OxmField| -> Option<u64> {
            let o = self.get(f)?;
            let (v, m) = o.value_and_mask_u64()?;
            let full = match f.value_len() {
                n if n >= 8 => u64::MAX,
                n => (1u64 << (8 * n)) - 1,
            };
            (m == full).then_some(v)
        };
        match p {
            Prereq::None => true,
            Prereq::InPort => self.get(OxmField::InPort).is_some(),
            Prereq::VlanPresent => match self.get(OxmField::VlanVid) {
                Some(Oxm::VlanVid(v, m)) => {
                    let m = m.unwrap_or(0x1fff);
                    m & 0x1000 != 0 && v & 0x1000 != 0
                }
                _ => false,
            },
            Prereq::EthType(types) => {
                exact(OxmField::EthType).is_some_and(|t| types.iter().any(|&x| u64::from(x) == t))
            }
            Prereq::IpProto(p) => exact(OxmField::IpProto) == Some(u64::from(p)),
            Prereq::Icmpv4 => exact(OxmField::IpProto) == Some(1),
            Prereq::Icmpv6 => exact(OxmField::IpProto) == Some(58),
            Prereq::Icmpv6Type(types) => exact(OxmField::Icmpv6Type)
                .is_some_and(|t| types.iter().any(|&x| u64::from(x) == t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn roundtrip(m: &Match) -> Vec<u8> {
        let mut b = BytesMut::new();
        m.encode(&mut b);
        assert_eq!(b.len(), m.wire_len());
        assert_eq!(b.len() % 8, 0);
        let mut r = Reader::new(&b, OfError::BMC_BAD_LEN);
        let back = Match::decode(&mut r).unwrap();
        assert!(r.is_empty());
        assert_eq!(&back, m);
        b.to_vec()
    }

    #[test]
    fn in_port_match_bytes() {
        // ovs-ofctl add-flow in_port=1: 00 01 00 0c 80 00 00 04 00 00 00 01 + 4 pad
        let m = Match::new().with(Oxm::InPort(1));
        assert_eq!(
            roundtrip(&m),
            [0, 1, 0, 12, 0x80, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn empty_match_is_eight_bytes() {
        assert_eq!(roundtrip(&Match::new()), [0, 1, 0, 4, 0, 0, 0, 0]);
    }

    #[test]
    fn masked_and_raw_fields_roundtrip() {
        let m = Match::new()
            .with(Oxm::EthDst(
                "01:00:00:00:00:00".parse().unwrap(),
                Some("01:00:00:00:00:00".parse().unwrap()),
            ))
            .with(Oxm::VlanVid(0x1000 | 10, None))
            .with(Oxm::TunnelId(5, Some(0xff)))
            .with(Oxm::PbbIsid(U24(0xabcdef), None))
            .with(Oxm::Other(RawOxm {
                class: OFPXMC_EXPERIMENTER,
                field: 3,
                hasmask: false,
                body: vec![0, 0, 0x23, 0x20, 1, 2],
            }));
        let b = roundtrip(&m);
        // VLAN_VID header: class 0x8000, field 6 << 1, len 2
        assert!(b.windows(4).any(|w| w == [0x80, 0x00, 0x0c, 0x02]));
    }

    #[test]
    fn bad_lengths_and_types() {
        let e = |b: &[u8]| Match::decode(&mut Reader::new(b, OfError::BMC_BAD_LEN)).unwrap_err();
        assert_eq!(e(&[0, 0, 0, 4, 0, 0, 0, 0]).error, OfError::BMC_BAD_TYPE);
        assert_eq!(e(&[0, 1, 0, 2, 0, 0, 0, 0]).error, OfError::BMC_BAD_LEN);
        // IN_PORT with length 3
        assert_eq!(
            e(&[0, 1, 0, 11, 0x80, 0, 0, 3, 0, 0, 1, 0]).error,
            OfError::BMC_BAD_LEN
        );
        // IN_PORT with a mask
        assert_eq!(
            e(&[0, 1, 0, 16, 0x80, 0, 1, 8, 0, 0, 0, 1, 0, 0, 0, 1]).error,
            OfError::BMC_BAD_MASK
        );
        // declared length beyond the buffer
        assert_eq!(e(&[0, 1, 0, 40, 0, 0, 0, 0]).error, OfError::BMC_BAD_LEN);
    }

    #[test]
    fn prerequisites() {
        let tcp = Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::IpProto(6))
            .with(Oxm::TcpDst(80, None));
        assert_eq!(tcp.validate(), Ok(()));
        let no_proto = Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::TcpDst(80, None));
        assert_eq!(no_proto.validate(), Err(OfError::BMC_BAD_PREREQ));
        let no_eth = Match::new()
            .with(Oxm::IpProto(6))
            .with(Oxm::TcpDst(80, None));
        assert_eq!(no_eth.validate(), Err(OfError::BMC_BAD_PREREQ));
        let pcp = Match::new().with(Oxm::VlanPcp(3));
        assert_eq!(pcp.validate(), Err(OfError::BMC_BAD_PREREQ));
        let pcp_ok = Match::new()
            .with(Oxm::VlanVid(0x1000, Some(0x1000)))
            .with(Oxm::VlanPcp(3));
        assert_eq!(pcp_ok.validate(), Ok(()));
        let nd = Match::new()
            .with(Oxm::EthType(0x86dd))
            .with(Oxm::IpProto(58))
            .with(Oxm::Icmpv6Type(136))
            .with(Oxm::Ipv6NdTll(MacAddr::BROADCAST, None));
        assert_eq!(nd.validate(), Ok(()));
        let nd_bad = Match::new()
            .with(Oxm::EthType(0x86dd))
            .with(Oxm::IpProto(58))
            .with(Oxm::Icmpv6Type(135))
            .with(Oxm::Ipv6NdTll(MacAddr::BROADCAST, None));
        assert_eq!(nd_bad.validate(), Err(OfError::BMC_BAD_PREREQ));
        let dup = Match::new().with(Oxm::InPort(1)).with(Oxm::InPort(2));
        assert_eq!(dup.validate(), Err(OfError::BMC_DUP_FIELD));
        let range = Match::new().with(Oxm::VlanVid(0x2000, None));
        assert_eq!(range.validate(), Err(OfError::BMC_BAD_VALUE));
        let raw = Match::new().with(Oxm::Other(RawOxm {
            class: 1,
            field: 0,
            hasmask: false,
            body: vec![0; 4],
        }));
        assert_eq!(raw.validate(), Err(OfError::BMC_BAD_FIELD));
    }

    #[test]
    fn field_table() {
        assert_eq!(OxmField::ALL.len(), 40);
        for (i, f) in OxmField::ALL.iter().enumerate() {
            assert_eq!(f.id() as usize, i);
            assert_eq!(OxmField::from_name(f.name()), Some(*f));
        }
        assert_eq!(OxmField::VlanVid.header(false), 0x8000_0c02);
        assert_eq!(OxmField::Ipv6Src.header(true), 0x8000_3520);
    }
}
