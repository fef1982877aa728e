//! Matching on every OpenFlow 1.3 OXM basic field the switch supports
//! (spec 1.3.5 section 7.2.3.7, table 12), with real frames.
//!
//! The core is one table of [`Case`]s: a match in `ovs-ofctl` syntax
//! installed as `priority=100,<match>,actions=output:2` on a bridge with no
//! table-miss entry, frames that must leave by port 2, and frames that must
//! be dropped. The misses differ from the hits only in the field under test
//! (or, for prerequisites, only in the protocol), so a case fails if the
//! field is ignored, read from the wrong place, or masked wrongly. Every
//! failing case is reported, by name, in one assertion.
//!
//! Frames are described by [`Pkt`], a small builder over etherparse headers
//! whose every matchable field can be overridden, and sent with the
//! pipeline metadata (`in_port`, `in_phy_port`, `tunnel_id`) of [`In`].
//!
//! Around the table: priorities, a match on many fields at once, IP
//! fragments, and truncated or malformed frames ("the packet matches on what
//! could be parsed", as Open vSwitch's `flow_extract` does).

use super::frames;
use super::harness::*;
use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, Icmpv4Header, Icmpv4Type,
    Icmpv6Header, Icmpv6Type, IpAuthHeader, IpDscp, IpEcn, IpFragOffset, IpNumber, Ipv4Header,
    Ipv6FlowLabel, Ipv6FragmentHeader, Ipv6Header, Ipv6RawExtHeader, SingleVlanHeader, TcpHeader,
    UdpHeader, VlanId, VlanPcp,
};
use ofswitch::pipeline::PacketMeta;
use openflow::messages::flow_mod_command;
use openflow::oxm::{Match, Oxm};
use std::net::Ipv6Addr;

// ---------------------------------------------------------------------------
// Frame builder
// ---------------------------------------------------------------------------

const SRC_MAC: [u8; 6] = frames::SRC_MAC;
const DST_MAC: [u8; 6] = frames::DST_MAC;
const IP4_SRC: [u8; 4] = frames::IP4_SRC;
const IP4_DST: [u8; 4] = frames::IP4_DST;
const IP6_SRC: [u8; 16] = frames::IP6_SRC;
const IP6_DST: [u8; 16] = frames::IP6_DST;
const ND_TARGET: [u8; 16] = frames::ND_TARGET;
const ND_LL: [u8; 6] = frames::ND_LL;
const PAYLOAD: &[u8] = b"payload!";

fn ip6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>()
        .unwrap_or_else(|_| panic!("test IPv6 address {s:?}"))
        .octets()
}

/// A frame in terms of its fields, every one of which a case may change.
#[derive(Clone, Debug)]
struct Pkt {
    meta: PacketMeta,
    dst: [u8; 6],
    src: [u8; 6],
    /// VLAN tags, outermost first: (TPID, TCI).
    tags: Vec<(u16, u16)>,
    net: Net,
}

#[derive(Clone, Debug)]
enum Net {
    Ip4(Ip4, L4),
    Ip6(Ip6, L4),
    Arp(Arp),
    /// Label stack entries (label, TC), top first; BoS is set on the last.
    /// The Ethertype (0x8847 or 0x8848), then the stack over [`frames::tcp4`]'s
    /// IP datagram.
    Mpls(u16, Vec<(u32, u8)>),
    /// I-SID of the I-TAG, customer frame [`frames::tcp4`].
    Pbb(u32),
    /// Any Ethertype (or 802.3 length) and payload.
    Raw(u16, Vec<u8>),
}

#[derive(Clone, Debug)]
struct Ip4 {
    src: [u8; 4],
    dst: [u8; 4],
    dscp: u8,
    ecn: u8,
    /// Fragment offset in units of 8 bytes.
    frag_offset: u16,
    more_frags: bool,
    options: Vec<u8>,
}

#[derive(Clone, Debug)]
struct Ip6 {
    src: [u8; 16],
    dst: [u8; 16],
    dscp: u8,
    ecn: u8,
    flabel: u32,
    exts: Vec<Ext>,
}

/// IPv6 extension headers.
#[derive(Clone, Copy, Debug)]
enum Ext {
    Hop,
    Dest,
    /// Routing header, segments left 0.
    Routing,
    Frag {
        offset: u16,
        more: bool,
    },
    Auth,
    /// ESP: what follows is opaque.
    Esp,
    /// "No next header": nothing follows.
    NoNext,
}

impl Ext {
    fn number(self) -> u8 {
        match self {
            Ext::Hop => 0,
            Ext::Dest => 60,
            Ext::Routing => 43,
            Ext::Frag { .. } => 44,
            Ext::Auth => 51,
            Ext::Esp => 50,
            Ext::NoNext => 59,
        }
    }
}

#[derive(Clone, Debug)]
enum L4 {
    Tcp(u16, u16),
    Udp(u16, u16),
    Sctp(u16, u16),
    Icmp4(u8, u8),
    Icmp6(u8, u8),
    /// Neighbour solicitation (135) or advertisement (136).
    Nd {
        typ: u8,
        code: u8,
        target: [u8; 16],
        /// A nonce option before the link-layer address option.
        nonce: bool,
        /// The SLL (NS) or TLL (NA) option.
        ll: Option<[u8; 6]>,
    },
    /// Any other IP protocol with this payload.
    Other(u8, Vec<u8>),
}

#[derive(Clone, Debug)]
struct Arp {
    op: u16,
    sha: [u8; 6],
    spa: [u8; 4],
    tha: [u8; 6],
    tpa: [u8; 4],
}

enum Pseudo {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

impl Default for Ip4 {
    /// Like [`frames::tcp4`]: 10.0.0.1 → 10.0.0.2, DSCP 10, ECN 1.
    fn default() -> Self {
        Ip4 {
            src: IP4_SRC,
            dst: IP4_DST,
            dscp: 10,
            ecn: 1,
            frag_offset: 0,
            more_frags: false,
            options: Vec::new(),
        }
    }
}

impl Default for Ip6 {
    /// Like [`frames::tcp6`]: DSCP 46, ECN 2, flow label 0x12345.
    fn default() -> Self {
        Ip6 {
            src: IP6_SRC,
            dst: IP6_DST,
            dscp: 46,
            ecn: 2,
            flabel: 0x12345,
            exts: Vec::new(),
        }
    }
}

impl L4 {
    /// IP protocol number and bytes.
    fn bytes(&self, ps: &Pseudo) -> (u8, Vec<u8>) {
        match self {
            L4::Tcp(s, d) => {
                let mut t = TcpHeader::new(*s, *d, 0x0102_0304, 1000);
                t.syn = true;
                t.checksum = match ps {
                    Pseudo::V4(a, b) => t.calc_checksum_ipv4_raw(*a, *b, PAYLOAD),
                    Pseudo::V6(a, b) => t.calc_checksum_ipv6_raw(*a, *b, PAYLOAD),
                }
                .expect("TCP checksum");
                let mut v = t.to_bytes().to_vec();
                v.extend_from_slice(PAYLOAD);
                (6, v)
            }
            L4::Udp(s, d) => {
                let mut u = UdpHeader {
                    source_port: *s,
                    destination_port: *d,
                    length: (8 + PAYLOAD.len()) as u16,
                    checksum: 0,
                };
                u.checksum = match ps {
                    Pseudo::V4(a, b) => u.calc_checksum_ipv4_raw(*a, *b, PAYLOAD),
                    Pseudo::V6(a, b) => u.calc_checksum_ipv6_raw(*a, *b, PAYLOAD),
                }
                .expect("UDP checksum");
                let mut v = u.to_bytes().to_vec();
                v.extend_from_slice(PAYLOAD);
                (17, v)
            }
            L4::Sctp(s, d) => (132, frames::sctp_segment(*s, *d)),
            L4::Icmp4(t, c) => {
                let typ = Icmpv4Type::Unknown {
                    type_u8: *t,
                    code_u8: *c,
                    bytes5to8: [0, 7, 0, 9],
                };
                let h = Icmpv4Header::with_checksum(typ, PAYLOAD);
                let mut v = h.to_bytes().to_vec();
                v.extend_from_slice(PAYLOAD);
                (1, v)
            }
            L4::Icmp6(t, c) => {
                let typ = Icmpv6Type::Unknown {
                    type_u8: *t,
                    code_u8: *c,
                    bytes5to8: [0, 1, 0, 2],
                };
                let mut v = icmp6_header(typ, ps, PAYLOAD);
                v.extend_from_slice(PAYLOAD);
                (58, v)
            }
            L4::Nd {
                typ,
                code,
                target,
                nonce,
                ll,
            } => {
                let mut body = target.to_vec();
                if *nonce {
                    body.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
                }
                if let Some(mac) = ll {
                    body.push(if *typ == 135 { 1 } else { 2 });
                    body.push(1);
                    body.extend_from_slice(mac);
                }
                let flags = if *typ == 136 { 0x60 } else { 0 };
                let h = Icmpv6Type::Unknown {
                    type_u8: *typ,
                    code_u8: *code,
                    bytes5to8: [flags, 0, 0, 0],
                };
                let mut v = icmp6_header(h, ps, &body);
                v.extend_from_slice(&body);
                (58, v)
            }
            L4::Other(p, b) => (*p, b.clone()),
        }
    }
}

fn icmp6_header(typ: Icmpv6Type, ps: &Pseudo, body: &[u8]) -> Vec<u8> {
    let (s, d) = match ps {
        Pseudo::V6(s, d) => (*s, *d),
        Pseudo::V4(..) => ([0; 16], [0; 16]),
    };
    Icmpv6Header::with_checksum(typ, s, d, body)
        .expect("ICMPv6 checksum")
        .to_bytes()
        .to_vec()
}

impl Pkt {
    fn new(net: Net) -> Pkt {
        Pkt {
            meta: PacketMeta::port(1),
            dst: DST_MAC,
            src: SRC_MAC,
            tags: Vec::new(),
            net,
        }
    }

    fn ip4(l4: L4) -> Pkt {
        Pkt::new(Net::Ip4(Ip4::default(), l4))
    }

    fn ip6(l4: L4) -> Pkt {
        Pkt::new(Net::Ip6(Ip6::default(), l4))
    }

    /// TCP 1234 → 80 over IPv4.
    fn tcp4() -> Pkt {
        Pkt::ip4(L4::Tcp(1234, 80))
    }

    /// UDP 5353 → 53 over IPv4.
    fn udp4() -> Pkt {
        Pkt::ip4(L4::Udp(5353, 53))
    }

    /// SCTP 2905 → 2944 over IPv4.
    fn sctp4() -> Pkt {
        Pkt::ip4(L4::Sctp(2905, 2944))
    }

    fn icmp4(typ: u8, code: u8) -> Pkt {
        Pkt::ip4(L4::Icmp4(typ, code))
    }

    /// TCP 40000 → 443 over IPv6.
    fn tcp6() -> Pkt {
        Pkt::ip6(L4::Tcp(40000, 443))
    }

    /// UDP 546 → 547 over IPv6.
    fn udp6() -> Pkt {
        Pkt::ip6(L4::Udp(546, 547))
    }

    fn sctp6() -> Pkt {
        Pkt::ip6(L4::Sctp(2905, 2944))
    }

    fn icmp6(typ: u8, code: u8) -> Pkt {
        Pkt::ip6(L4::Icmp6(typ, code))
    }

    /// Neighbour solicitation for [`ND_TARGET`] with SLL [`ND_LL`].
    fn ns() -> Pkt {
        Pkt::ip6(L4::Nd {
            typ: 135,
            code: 0,
            target: ND_TARGET,
            nonce: false,
            ll: Some(ND_LL),
        })
    }

    /// Neighbour advertisement for [`ND_TARGET`] with TLL [`ND_LL`].
    fn na() -> Pkt {
        Pkt::ip6(L4::Nd {
            typ: 136,
            code: 0,
            target: ND_TARGET,
            nonce: false,
            ll: Some(ND_LL),
        })
    }

    /// ARP request from SRC_MAC/10.0.0.1 for 10.0.0.2, broadcast.
    fn arp() -> Pkt {
        Pkt {
            dst: [0xff; 6],
            ..Pkt::new(Net::Arp(Arp {
                op: 1,
                sha: SRC_MAC,
                spa: IP4_SRC,
                tha: [0; 6],
                tpa: IP4_DST,
            }))
        }
    }

    /// ARP reply from 02:00:00:00:00:02/10.0.0.2 to SRC_MAC/10.0.0.1.
    fn arp_reply() -> Pkt {
        Pkt::new(Net::Arp(Arp {
            op: 2,
            sha: DST_MAC,
            spa: IP4_DST,
            tha: SRC_MAC,
            tpa: IP4_SRC,
        }))
        .dl_src(DST_MAC)
        .dl_dst(SRC_MAC)
    }

    fn mpls(labels: &[(u32, u8)]) -> Pkt {
        Pkt::new(Net::Mpls(0x8847, labels.to_vec()))
    }

    fn pbb(isid: u32) -> Pkt {
        Pkt::new(Net::Pbb(isid))
    }

    /// A frame with this Ethertype and 46 bytes of payload.
    fn ether(t: u16) -> Pkt {
        Pkt::new(Net::Raw(t, vec![0x5a; 46]))
    }

    fn dl_src(mut self, mac: [u8; 6]) -> Pkt {
        self.src = mac;
        self
    }

    fn dl_dst(mut self, mac: [u8; 6]) -> Pkt {
        self.dst = mac;
        self
    }

    /// Adds an 802.1Q tag inside the existing ones.
    fn vlan(self, vid: u16, pcp: u8) -> Pkt {
        self.tag(0x8100, (u16::from(pcp) << 13) | vid)
    }

    /// Adds a tag with this TPID and TCI inside the existing ones.
    fn tag(mut self, tpid: u16, tci: u16) -> Pkt {
        self.tags.push((tpid, tci));
        self
    }

    /// Received on this port.
    fn on(mut self, port: u32) -> Pkt {
        self.meta = PacketMeta::port(port);
        self
    }

    fn meta(mut self, in_port: u32, in_phy_port: u32, tunnel_id: u64) -> Pkt {
        self.meta = PacketMeta {
            in_port,
            in_phy_port,
            tunnel_id,
        };
        self
    }

    fn tunnel(self, tunnel_id: u64) -> Pkt {
        self.meta(1, 1, tunnel_id)
    }

    fn v4(mut self, f: impl FnOnce(&mut Ip4)) -> Pkt {
        match &mut self.net {
            Net::Ip4(h, _) => f(h),
            other => panic!("test frame is not IPv4: {other:?}"),
        }
        self
    }

    fn v6(mut self, f: impl FnOnce(&mut Ip6)) -> Pkt {
        match &mut self.net {
            Net::Ip6(h, _) => f(h),
            other => panic!("test frame is not IPv6: {other:?}"),
        }
        self
    }

    fn exts(self, exts: &[Ext]) -> Pkt {
        self.v6(|h| h.exts = exts.to_vec())
    }

    /// Replaces the L4 header.
    fn l4(mut self, new: L4) -> Pkt {
        match &mut self.net {
            Net::Ip4(_, l4) | Net::Ip6(_, l4) => *l4 = new,
            other => panic!("test frame is not IP: {other:?}"),
        }
        self
    }

    /// Same protocol, other ports.
    fn ports(mut self, s: u16, d: u16) -> Pkt {
        match &mut self.net {
            Net::Ip4(_, l4) | Net::Ip6(_, l4) => match l4 {
                L4::Tcp(a, b) | L4::Udp(a, b) | L4::Sctp(a, b) => (*a, *b) = (s, d),
                other => panic!("test frame has no ports: {other:?}"),
            },
            other => panic!("test frame is not IP: {other:?}"),
        }
        self
    }

    fn nd_target(mut self, t: [u8; 16]) -> Pkt {
        match &mut self.net {
            Net::Ip6(_, L4::Nd { target, .. }) => *target = t,
            other => panic!("test frame is not ND: {other:?}"),
        }
        self
    }

    fn nd_ll(mut self, mac: Option<[u8; 6]>) -> Pkt {
        match &mut self.net {
            Net::Ip6(_, L4::Nd { ll, .. }) => *ll = mac,
            other => panic!("test frame is not ND: {other:?}"),
        }
        self
    }

    fn nd_nonce(mut self) -> Pkt {
        match &mut self.net {
            Net::Ip6(_, L4::Nd { nonce, .. }) => *nonce = true,
            other => panic!("test frame is not ND: {other:?}"),
        }
        self
    }

    fn nd_code(mut self, c: u8) -> Pkt {
        match &mut self.net {
            Net::Ip6(_, L4::Nd { code, .. }) => *code = c,
            other => panic!("test frame is not ND: {other:?}"),
        }
        self
    }

    fn arp_with(mut self, f: impl FnOnce(&mut Arp)) -> Pkt {
        match &mut self.net {
            Net::Arp(a) => f(a),
            other => panic!("test frame is not ARP: {other:?}"),
        }
        self
    }

    /// The Ethertype and what follows it.
    fn l3(&self) -> (u16, Vec<u8>) {
        match &self.net {
            Net::Ip4(h, l4) => {
                let (proto, l4) = l4.bytes(&Pseudo::V4(h.src, h.dst));
                let mut ip =
                    Ipv4Header::new(0, 64, IpNumber(proto), h.src, h.dst).expect("IPv4 header");
                ip.options = h.options.as_slice().try_into().expect("IPv4 options");
                ip.set_payload_len(l4.len()).expect("IPv4 length");
                ip.identification = 0x4242;
                ip.dscp = IpDscp::try_new(h.dscp).expect("DSCP");
                ip.ecn = IpEcn::try_new(h.ecn).expect("ECN");
                ip.fragment_offset = IpFragOffset::try_new(h.frag_offset).expect("offset");
                ip.more_fragments = h.more_frags;
                ip.dont_fragment = h.frag_offset == 0 && !h.more_frags;
                ip.header_checksum = ip.calc_header_checksum();
                let mut v = ip.to_bytes().to_vec();
                v.extend(l4);
                (0x0800, v)
            }
            Net::Ip6(h, l4) => {
                let (proto, l4) = l4.bytes(&Pseudo::V6(h.src, h.dst));
                let (first, payload) = ipv6_chain(&h.exts, proto, &l4);
                let ip = Ipv6Header {
                    traffic_class: (h.dscp << 2) | h.ecn,
                    flow_label: Ipv6FlowLabel::try_new(h.flabel).expect("flow label"),
                    payload_length: payload.len() as u16,
                    next_header: IpNumber(first),
                    hop_limit: 64,
                    source: h.src,
                    destination: h.dst,
                };
                let mut v = ip.to_bytes().to_vec();
                v.extend(payload);
                (0x86dd, v)
            }
            Net::Arp(a) => {
                let p = ArpPacket::new(
                    ArpHardwareId::ETHERNET,
                    EtherType::IPV4,
                    ArpOperation(a.op),
                    &a.sha,
                    &a.spa,
                    &a.tha,
                    &a.tpa,
                )
                .expect("ARP packet");
                (0x0806, p.to_bytes().to_vec())
            }
            Net::Mpls(t, labels) => {
                let mut v = Vec::new();
                for (i, &(label, tc)) in labels.iter().enumerate() {
                    let bos = u32::from(i + 1 == labels.len());
                    let lse = (label << 12) | (u32::from(tc) << 9) | (bos << 8) | 64;
                    v.extend_from_slice(&lse.to_be_bytes());
                }
                v.extend_from_slice(&frames::tcp4()[14..]);
                (*t, v)
            }
            Net::Pbb(isid) => {
                let mut v = vec![3 << 5];
                v.extend_from_slice(&isid.to_be_bytes()[1..]);
                v.extend(frames::tcp4());
                (0x88e7, v)
            }
            Net::Raw(t, b) => (*t, b.clone()),
        }
    }

    fn build(&self) -> Vec<u8> {
        let (ethertype, l3) = self.l3();
        // The type field after each header: the next tag's TPID, finally
        // the Ethertype.
        let mut types: Vec<u16> = self.tags.iter().map(|&(tpid, _)| tpid).collect();
        types.push(ethertype);
        let mut v = Ethernet2Header {
            source: self.src,
            destination: self.dst,
            ether_type: EtherType(types[0]),
        }
        .to_bytes()
        .to_vec();
        for (i, &(_, tci)) in self.tags.iter().enumerate() {
            let tag = SingleVlanHeader {
                pcp: VlanPcp::try_new((tci >> 13) as u8).expect("PCP"),
                drop_eligible_indicator: tci & 0x1000 != 0,
                vlan_id: VlanId::try_new(tci & 0x0fff).expect("VID"),
                ether_type: EtherType(types[i + 1]),
            };
            v.extend_from_slice(&tag.to_bytes());
        }
        v.extend(l3);
        v
    }
}

/// The IPv6 payload: the extension headers, then the L4 bytes. Returns the
/// Next Header value for the IPv6 header.
fn ipv6_chain(exts: &[Ext], proto: u8, l4: &[u8]) -> (u8, Vec<u8>) {
    let first = exts.first().map_or(proto, |e| e.number());
    let mut v = Vec::new();
    for (i, e) in exts.iter().enumerate() {
        let next = IpNumber(exts.get(i + 1).map_or(proto, |n| n.number()));
        match *e {
            Ext::Hop | Ext::Dest | Ext::Routing => v.extend_from_slice(
                &Ipv6RawExtHeader::new_raw(next, &[0; 6])
                    .expect("extension header")
                    .to_bytes(),
            ),
            Ext::Frag { offset, more } => v.extend_from_slice(
                &Ipv6FragmentHeader::new(
                    next,
                    IpFragOffset::try_new(offset).expect("offset"),
                    more,
                    77,
                )
                .to_bytes(),
            ),
            Ext::Auth => v.extend_from_slice(
                &IpAuthHeader::new(next, 1, 2, &[0; 4])
                    .expect("AH")
                    .to_bytes(),
            ),
            Ext::Esp => {
                // SPI and sequence number, then ciphertext.
                v.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 1]);
                v.extend_from_slice(l4);
                return (first, v);
            }
            Ext::NoNext => return (first, v),
        }
    }
    v.extend_from_slice(l4);
    (first, v)
}

/// Overwrites bytes of a built frame (for malformed headers).
fn patch(mut frame: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    frame[at..at + bytes.len()].copy_from_slice(bytes);
    frame
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// A packet as it enters the pipeline.
#[derive(Clone, Debug)]
struct In {
    meta: PacketMeta,
    frame: Vec<u8>,
}

impl From<Pkt> for In {
    fn from(p: Pkt) -> In {
        In {
            meta: p.meta,
            frame: p.build(),
        }
    }
}

impl From<Vec<u8>> for In {
    /// Raw bytes, received on port 1.
    fn from(frame: Vec<u8>) -> In {
        In {
            meta: PacketMeta::port(1),
            frame,
        }
    }
}

macro_rules! ins {
    ($($x:expr),* $(,)?) => { vec![$(In::from($x)),*] };
}

struct Case {
    name: &'static str,
    /// Installed as `priority=100,<flow_match>,actions=output:2`.
    flow_match: &'static str,
    /// Flows added before (e.g. table 0 flows writing metadata).
    setup: Vec<&'static str>,
    /// Must leave by port 2.
    hits: Vec<In>,
    /// Must be dropped.
    misses: Vec<In>,
}

fn case(name: &'static str, flow_match: &'static str, hits: Vec<In>, misses: Vec<In>) -> Case {
    Case {
        name,
        flow_match,
        setup: Vec::new(),
        hits,
        misses,
    }
}

impl Case {
    fn setup(mut self, flows: &[&'static str]) -> Case {
        self.setup = flows.to_vec();
        self
    }
}

/// Table 0 flows giving TCP packets metadata by destination port (80, 81,
/// 82; anything else keeps metadata 0), then going to table 1.
const METADATA_SETUP: &[&str] = &[
    "priority=10,tcp,tp_dst=80,actions=write_metadata:0x1234567890abcdef,goto_table:1",
    "priority=10,tcp,tp_dst=81,actions=write_metadata:0x1234567890abcdee,goto_table:1",
    "priority=10,tcp,tp_dst=82,actions=write_metadata:0x0000567890abcdef,goto_table:1",
    "priority=10,tcp,tp_dst=83,actions=write_metadata:0xff00/0xff00,goto_table:1",
    "priority=5,actions=goto_table:1",
];

fn port_level_cases() -> Vec<Case> {
    let tcp = Pkt::tcp4;
    vec![
        case(
            "in_port",
            "in_port=1",
            ins![tcp(), Pkt::arp(), frames::icmp6()],
            ins![tcp().on(3), Pkt::arp().on(3)],
        ),
        case(
            "in_phy_port",
            "in_port=1,in_phy_port=7",
            ins![tcp().meta(1, 7, 0)],
            ins![
                tcp().meta(1, 8, 0),
                tcp().meta(1, 1, 0),
                tcp().meta(3, 7, 0)
            ],
        ),
        case(
            "metadata exact (written by table 0)",
            "table=1,metadata=0x1234567890abcdef",
            ins![tcp()],
            ins![
                tcp().ports(1234, 81),
                tcp().ports(1234, 82),
                tcp().ports(1234, 99)
            ],
        )
        .setup(METADATA_SETUP),
        case(
            "metadata masked",
            "table=1,metadata=0x1234000000000000/0xffff000000000000",
            ins![tcp(), tcp().ports(1234, 81)],
            ins![tcp().ports(1234, 82), tcp().ports(1234, 99)],
        )
        .setup(METADATA_SETUP),
        case(
            "metadata written with a mask",
            "table=1,metadata=0xff00",
            ins![tcp().ports(1234, 83)],
            ins![tcp(), tcp().ports(1234, 99)],
        )
        .setup(METADATA_SETUP),
        case(
            "metadata 0 when never written",
            "table=1,metadata=0",
            ins![tcp().ports(1234, 99), Pkt::udp4()],
            ins![tcp(), tcp().ports(1234, 83)],
        )
        .setup(METADATA_SETUP),
        case(
            "tunnel_id exact (tun_id)",
            "tun_id=0x5",
            ins![tcp().tunnel(5), Pkt::arp().tunnel(5)],
            ins![tcp().tunnel(6), tcp(), tcp().tunnel(0x1_0000_0005)],
        ),
        case(
            "tunnel_id 64-bit (tunnel_id)",
            "tunnel_id=0xfedcba9876543210",
            ins![tcp().tunnel(0xfedc_ba98_7654_3210)],
            ins![tcp().tunnel(0x7edc_ba98_7654_3210), tcp().tunnel(0x3210)],
        ),
        case(
            "tunnel_id masked",
            "tun_id=0x1200/0xff00",
            ins![tcp().tunnel(0x1234), tcp().tunnel(0xff_12ff)],
            ins![tcp().tunnel(0x1334), tcp()],
        ),
        case(
            "tunnel_id 0 means no tunnel",
            "tun_id=0",
            ins![tcp()],
            ins![tcp().tunnel(1)],
        ),
    ]
}

fn ethernet_cases() -> Vec<Case> {
    let tcp = Pkt::tcp4;
    vec![
        case(
            "eth_dst exact",
            "dl_dst=02:00:00:00:00:02",
            ins![tcp(), frames::tcp6(), Pkt::ether(0x88cc)],
            ins![
                tcp().dl_dst([2, 0, 0, 0, 0, 3]),
                tcp().dl_dst([0x82, 0, 0, 0, 0, 2])
            ],
        ),
        case(
            "eth_dst multicast bit mask",
            "dl_dst=01:00:00:00:00:00/01:00:00:00:00:00",
            ins![
                tcp().dl_dst([0xff; 6]),
                tcp().dl_dst([1, 0, 0x5e, 0, 0, 1]),
                Pkt::arp()
            ],
            ins![tcp(), tcp().dl_dst([0xfe; 6])],
        ),
        case(
            "eth_dst OUI mask (eth_dst)",
            "eth_dst=02:00:00:00:00:00/ff:ff:ff:00:00:00",
            ins![tcp(), tcp().dl_dst([2, 0, 0, 0x12, 0x34, 0x56])],
            ins![
                tcp().dl_dst([2, 0, 1, 0, 0, 2]),
                tcp().dl_dst([3, 0, 0, 0, 0, 2])
            ],
        ),
        case(
            "eth_src exact",
            "dl_src=02:00:00:00:00:01",
            ins![tcp(), Pkt::arp(), frames::icmp6()],
            ins![
                tcp().dl_src([2, 0, 0, 0, 0, 2]),
                tcp().dl_src([0, 0, 0, 0, 0, 1])
            ],
        ),
        case(
            "eth_src arbitrary mask (eth_src)",
            "eth_src=00:00:00:00:00:01/00:00:00:00:00:0f",
            ins![tcp(), tcp().dl_src([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf1])],
            ins![
                tcp().dl_src([2, 0, 0, 0, 0, 2]),
                tcp().dl_src([2, 0, 0, 0, 0, 0x10])
            ],
        ),
        case(
            "eth_type IPv4",
            "dl_type=0x0800",
            ins![
                tcp(),
                Pkt::udp4(),
                tcp().vlan(100, 0),
                frames::udp4_qinq(),
                // The Ethertype after any number of tags.
                tcp().tag(0x88a8, 1).vlan(2, 0).vlan(3, 0)
            ],
            ins![
                Pkt::arp(),
                Pkt::tcp6(),
                Pkt::ether(0x88cc),
                Pkt::mpls(&[(5, 0)])
            ],
        ),
        case(
            "eth_type IPv6 (eth_type)",
            "eth_type=0x86dd",
            ins![Pkt::tcp6(), frames::nd(true, true), Pkt::udp6().vlan(7, 1)],
            ins![tcp(), Pkt::arp()],
        ),
        case(
            "eth_type ARP",
            "dl_type=0x0806",
            ins![
                Pkt::arp(),
                Pkt::arp_reply(),
                // Not Ethernet/IPv4 ARP: the fields are not parsed but the
                // Ethertype still is.
                patch(Pkt::arp().build(), 15, &[6])
            ],
            ins![tcp(), Pkt::ether(0x8035)],
        ),
        case(
            "eth_type other (LLDP)",
            "dl_type=0x88cc",
            ins![Pkt::ether(0x88cc), Pkt::ether(0x88cc).vlan(3, 0)],
            ins![Pkt::ether(0x88cd), tcp()],
        ),
        case(
            "eth_type of an 802.3 frame is 0x05ff (OVS)",
            "dl_type=0x05ff",
            ins![Pkt::ether(0x002e), Pkt::ether(0x05dc)],
            ins![Pkt::ether(0x0600), tcp()],
        ),
    ]
}

fn vlan_cases() -> Vec<Case> {
    let tcp = Pkt::tcp4;
    vec![
        case(
            "vlan_vid untagged (OFPVID_NONE)",
            "vlan_tci=0x0000/0x1fff",
            ins![tcp(), Pkt::arp()],
            ins![tcp().vlan(100, 0), tcp().vlan(0, 3), tcp().tag(0x88a8, 5)],
        ),
        case(
            "vlan_vid untagged (OFPVID_PRESENT clear, VID bits wild)",
            "vlan_tci=0x0000/0x1000",
            ins![tcp(), Pkt::udp6()],
            ins![tcp().vlan(100, 0), tcp().vlan(0, 0)],
        ),
        case(
            "vlan_vid untagged (dl_vlan=0xffff)",
            "dl_vlan=0xffff",
            ins![tcp()],
            ins![tcp().vlan(100, 0), tcp().vlan(0, 0)],
        ),
        case(
            "vlan_vid any tag (OFPVID_PRESENT/OFPVID_PRESENT)",
            "vlan_tci=0x1000/0x1000",
            ins![
                tcp().vlan(100, 0),
                tcp().vlan(0, 0),
                tcp().vlan(4095, 7),
                tcp().tag(0x88a8, 10),
                frames::udp4_qinq()
            ],
            ins![tcp(), Pkt::arp()],
        ),
        case(
            "vlan_vid any tag (vlan_vid=0x1000/0x1000)",
            "vlan_vid=0x1000/0x1000",
            ins![tcp().vlan(1, 0), frames::udp4_vlan()],
            ins![tcp()],
        ),
        case(
            "vlan_vid specific (dl_vlan)",
            "dl_vlan=100",
            ins![
                tcp().vlan(100, 0),
                tcp().vlan(100, 5),
                // The DEI bit is not part of the VID.
                tcp().tag(0x8100, 0x1000 | 100),
                frames::udp4_vlan()
            ],
            ins![
                tcp().vlan(101, 0),
                tcp().vlan(0, 0),
                tcp(),
                tcp().vlan(100 | 0x800, 0)
            ],
        ),
        case(
            "vlan_vid specific (vlan_vid with OFPVID_PRESENT)",
            "vlan_vid=0x1064",
            ins![tcp().vlan(100, 2)],
            ins![tcp().vlan(101, 2), tcp()],
        ),
        case(
            "vlan_vid 0: priority-tagged frames",
            "dl_vlan=0",
            ins![tcp().vlan(0, 3), tcp().vlan(0, 0)],
            ins![tcp(), tcp().vlan(1, 3)],
        ),
        case(
            "vlan_vid masked",
            "vlan_tci=0x1060/0x1ff0",
            ins![tcp().vlan(96, 0), tcp().vlan(111, 7)],
            ins![tcp().vlan(112, 0), tcp().vlan(95, 0), tcp()],
        ),
        case(
            "vlan_tci exact (PCP, CFI = present, VID)",
            "vlan_tci=0xb064",
            ins![tcp().vlan(100, 5)],
            ins![tcp().vlan(100, 4), tcp().vlan(101, 5), tcp()],
        ),
        case(
            "vlan_pcp (dl_vlan_pcp)",
            "dl_vlan_pcp=5",
            ins![tcp().vlan(100, 5), tcp().vlan(0, 5), frames::udp4_vlan()],
            ins![tcp().vlan(100, 4), tcp().vlan(100, 0), tcp()],
        ),
        case(
            "vlan_pcp with any VID",
            "vlan_tci=0x1000/0x1000,vlan_pcp=0",
            ins![tcp().vlan(100, 0), tcp().vlan(0, 0)],
            ins![tcp().vlan(100, 1), tcp()],
        ),
        case(
            "vlan_pcp with VID",
            "dl_vlan=7,vlan_pcp=7",
            ins![tcp().vlan(7, 7)],
            ins![tcp().vlan(7, 6), tcp().vlan(8, 7)],
        ),
        case(
            "Q-in-Q: the outer 0x88a8 tag is matched",
            "dl_vlan=10",
            ins![
                frames::udp4_qinq(),
                Pkt::udp4().tag(0x88a8, 10).tag(0x8100, 20),
                Pkt::udp4().vlan(10, 0).vlan(20, 0),
                Pkt::udp4().vlan(10, 0).vlan(20, 0).vlan(30, 0)
            ],
            ins![
                Pkt::udp4().tag(0x88a8, 20).tag(0x8100, 10),
                Pkt::udp4().vlan(20, 0).vlan(10, 0)
            ],
        ),
        case(
            "Q-in-Q: the inner tag is not matched",
            "dl_vlan=20",
            ins![Pkt::udp4().tag(0x88a8, 20).tag(0x8100, 10)],
            ins![
                frames::udp4_qinq(),
                Pkt::udp4().tag(0x88a8, 10).tag(0x8100, 20)
            ],
        ),
        case(
            "Q-in-Q: outer PCP",
            "dl_vlan_pcp=6",
            ins![Pkt::udp4().tag(0x88a8, (6 << 13) | 10).tag(0x8100, 20)],
            ins![Pkt::udp4().tag(0x88a8, 10).tag(0x8100, (6 << 13) | 20)],
        ),
        case(
            "Q-in-Q: L3/L4 under both tags",
            "udp,nw_dst=10.0.0.2,tp_dst=53",
            ins![Pkt::udp4().tag(0x88a8, 10).tag(0x8100, 20)],
            ins![Pkt::udp4().ports(5353, 54).tag(0x88a8, 10).tag(0x8100, 20)],
        ),
    ]
}

fn ip_cases() -> Vec<Case> {
    let tcp = Pkt::tcp4;
    vec![
        case(
            "ip_dscp IPv4",
            "ip,ip_dscp=10",
            ins![tcp(), tcp().v4(|h| h.ecn = 0), Pkt::udp4()],
            ins![
                tcp().v4(|h| h.dscp = 11),
                tcp().v4(|h| h.dscp = 0),
                Pkt::tcp6().v6(|h| h.dscp = 10)
            ],
        ),
        case(
            "ip_dscp IPv6",
            "ipv6,ip_dscp=46",
            ins![Pkt::tcp6(), Pkt::udp6().v6(|h| h.ecn = 0)],
            ins![Pkt::tcp6().v6(|h| h.dscp = 47), tcp().v4(|h| h.dscp = 46)],
        ),
        case(
            "ip_dscp via nw_tos",
            "ip,nw_tos=40",
            ins![tcp()],
            ins![tcp().v4(|h| h.dscp = 11)],
        ),
        case(
            "ip_ecn IPv4",
            "ip,ip_ecn=1",
            ins![tcp(), tcp().v4(|h| h.dscp = 0)],
            ins![tcp().v4(|h| h.ecn = 0), tcp().v4(|h| h.ecn = 3)],
        ),
        case(
            "ip_ecn IPv6 (nw_ecn)",
            "ipv6,nw_ecn=2",
            ins![Pkt::tcp6(), Pkt::udp6()],
            ins![Pkt::tcp6().v6(|h| h.ecn = 3), Pkt::tcp6().v6(|h| h.ecn = 0)],
        ),
        case(
            "ip_proto IPv4",
            "ip,nw_proto=6",
            ins![tcp(), tcp().l4(L4::Other(6, vec![1, 2, 3]))],
            ins![Pkt::udp4(), Pkt::icmp4(8, 0), Pkt::sctp4(), Pkt::tcp6()],
        ),
        case(
            "ip_proto IPv4 other (GRE)",
            "ip,ip_proto=47",
            ins![tcp().l4(L4::Other(47, vec![0; 8]))],
            ins![tcp().l4(L4::Other(48, vec![0; 8]))],
        ),
        case(
            "ip_proto IPv6 (after the extension headers)",
            "ipv6,ip_proto=17",
            ins![Pkt::udp6(), frames::ipv6_exts()],
            ins![
                Pkt::tcp6(),
                Pkt::udp4(),
                Pkt::udp6().exts(&[Ext::Hop, Ext::NoNext])
            ],
        ),
        case(
            "ipv4_src exact (nw_src)",
            "ip,nw_src=10.0.0.1",
            ins![tcp(), Pkt::udp4(), Pkt::icmp4(8, 0)],
            ins![
                tcp().v4(|h| h.src = [10, 0, 0, 3]),
                tcp().v4(|h| h.src = IP4_DST)
            ],
        ),
        case(
            "ipv4_src CIDR",
            "ip,nw_src=10.0.0.0/24",
            ins![tcp(), tcp().v4(|h| h.src = [10, 0, 0, 254])],
            ins![
                tcp().v4(|h| h.src = [10, 0, 1, 1]),
                tcp().v4(|h| h.src = [11, 0, 0, 1])
            ],
        ),
        case(
            "ipv4_src arbitrary mask (ipv4_src)",
            "ip,ipv4_src=10.0.0.1/255.0.255.255",
            ins![tcp(), tcp().v4(|h| h.src = [10, 77, 0, 1])],
            ins![
                tcp().v4(|h| h.src = [10, 77, 0, 2]),
                tcp().v4(|h| h.src = [11, 0, 0, 1])
            ],
        ),
        case(
            "ipv4_dst exact (nw_dst)",
            "ip,nw_dst=10.0.0.2",
            ins![tcp(), Pkt::sctp4()],
            ins![tcp().v4(|h| h.dst = [10, 0, 0, 3]), Pkt::arp()],
        ),
        case(
            "ipv4_dst CIDR (ipv4_dst)",
            "ip,ipv4_dst=10.0.0.0/8",
            ins![tcp(), tcp().v4(|h| h.dst = [10, 255, 255, 255])],
            ins![tcp().v4(|h| h.dst = [192, 168, 0, 2])],
        ),
        case(
            "ipv4_dst arbitrary mask",
            "ip,nw_dst=0.0.0.2/0.0.0.255",
            ins![tcp(), tcp().v4(|h| h.dst = [192, 168, 7, 2])],
            ins![tcp().v4(|h| h.dst = [10, 0, 0, 3])],
        ),
    ]
}

fn l4_cases() -> Vec<Case> {
    let tcp = Pkt::tcp4;
    let udp = Pkt::udp4;
    let sctp = Pkt::sctp4;
    vec![
        case(
            "tcp_src (tp_src)",
            "tcp,tp_src=1234",
            ins![tcp(), tcp().ports(1234, 1)],
            ins![
                tcp().ports(1235, 80),
                udp().ports(1234, 80),
                sctp().ports(1234, 80)
            ],
        ),
        case(
            "tcp_dst (tcp_dst)",
            "tcp,tcp_dst=80",
            ins![tcp(), tcp().ports(1, 80)],
            ins![
                tcp().ports(1234, 81),
                udp().ports(1234, 80),
                sctp().ports(1234, 80)
            ],
        ),
        case(
            "tcp_dst masked",
            "tcp,tp_dst=0x0050/0xfff0",
            ins![tcp(), tcp().ports(1, 0x5f)],
            ins![tcp().ports(1234, 0x60), tcp().ports(1234, 0x4f)],
        ),
        case(
            "tcp_src masked (tcp_src)",
            "tcp,tcp_src=0x1000/0x1000",
            ins![tcp().ports(0x1234, 80), tcp().ports(0xffff, 80)],
            ins![tcp().ports(0x0234, 80), tcp().ports(0xefff, 80)],
        ),
        case(
            "tcp over IPv6",
            "tcp6,tp_dst=443",
            ins![Pkt::tcp6()],
            ins![Pkt::tcp6().ports(40000, 444), tcp().ports(40000, 443)],
        ),
        case(
            "udp_src",
            "udp,udp_src=5353",
            ins![udp(), udp().ports(5353, 1)],
            ins![udp().ports(5354, 53), tcp().ports(5353, 53)],
        ),
        case(
            "udp_dst (tp_dst)",
            "udp,tp_dst=53",
            ins![udp(), frames::udp4_vlan()],
            ins![udp().ports(5353, 54), tcp().ports(5353, 53)],
        ),
        case(
            "udp_dst masked",
            "udp,udp_dst=0x35/0xff",
            ins![udp(), udp().ports(1, 0xab35)],
            ins![udp().ports(5353, 0x36)],
        ),
        case(
            "udp over IPv6",
            "udp6,udp_dst=547,udp_src=546",
            ins![Pkt::udp6(), frames::udp6()],
            ins![Pkt::udp6().ports(546, 548), Pkt::udp6().ports(547, 547)],
        ),
        case(
            "sctp_src",
            "sctp,sctp_src=2905",
            ins![sctp(), frames::sctp4()],
            ins![sctp().ports(2906, 2944), udp().ports(2905, 2944)],
        ),
        case(
            "sctp_dst",
            "sctp,sctp_dst=2944",
            ins![sctp()],
            ins![sctp().ports(2905, 2945), tcp().ports(2905, 2944)],
        ),
        case(
            "sctp_dst masked",
            "sctp,tp_dst=0x0b00/0xff00",
            ins![sctp(), sctp().ports(1, 0x0bff)],
            ins![sctp().ports(1, 0x0c00)],
        ),
        case(
            "sctp over IPv6",
            "sctp6,sctp_src=2905",
            ins![Pkt::sctp6()],
            ins![Pkt::sctp6().ports(1, 2944), sctp()],
        ),
        case(
            "icmpv4_type",
            "icmp,icmp_type=8",
            ins![Pkt::icmp4(8, 0), frames::icmp4()],
            ins![
                Pkt::icmp4(0, 0),
                Pkt::icmp6(8, 0),
                tcp().l4(L4::Other(1, vec![0; 3]))
            ],
        ),
        case(
            "icmpv4_type and code",
            "icmp,icmp_type=3,icmp_code=1",
            ins![Pkt::icmp4(3, 1)],
            ins![Pkt::icmp4(3, 3), Pkt::icmp4(4, 1)],
        ),
        case(
            "icmpv4_code (OpenFlow names)",
            "icmp,icmpv4_type=11,icmpv4_code=1",
            ins![Pkt::icmp4(11, 1)],
            ins![Pkt::icmp4(11, 0)],
        ),
        case(
            "icmpv4_type via tp_src",
            "icmp,tp_src=0",
            ins![Pkt::icmp4(0, 5)],
            ins![Pkt::icmp4(8, 0)],
        ),
        case(
            "icmpv6_type",
            "icmp6,icmp_type=128",
            ins![Pkt::icmp6(128, 0), frames::icmp6()],
            ins![Pkt::icmp6(129, 0), Pkt::icmp4(128, 0)],
        ),
        case(
            "icmpv6_type and code (OpenFlow names)",
            "icmp6,icmpv6_type=1,icmpv6_code=4",
            ins![Pkt::icmp6(1, 4)],
            ins![Pkt::icmp6(1, 3), Pkt::icmp6(2, 4)],
        ),
    ]
}

fn arp_cases() -> Vec<Case> {
    let arp = Pkt::arp;
    let not_eth_ipv4 = |p: Pkt| patch(p.build(), 15, &[6]);
    vec![
        case(
            "arp_op request",
            "arp,arp_op=1",
            ins![arp(), arp().vlan(5, 0)],
            ins![
                Pkt::arp_reply(),
                arp().arp_with(|a| a.op = 3),
                not_eth_ipv4(arp())
            ],
        ),
        case(
            "arp_op reply (nw_proto)",
            "arp,nw_proto=2",
            ins![Pkt::arp_reply()],
            ins![arp()],
        ),
        case(
            "arp_spa exact",
            "arp,arp_spa=10.0.0.1",
            ins![arp()],
            ins![arp().arp_with(|a| a.spa = [10, 0, 0, 9]), Pkt::arp_reply()],
        ),
        case(
            "arp_spa CIDR (nw_src)",
            "arp,nw_src=10.0.0.0/24",
            ins![arp(), Pkt::arp_reply()],
            ins![arp().arp_with(|a| a.spa = [10, 0, 1, 1])],
        ),
        case(
            "arp_spa arbitrary mask",
            "arp,arp_spa=10.0.0.1/255.255.0.255",
            ins![arp(), arp().arp_with(|a| a.spa = [10, 0, 99, 1])],
            ins![arp().arp_with(|a| a.spa = [10, 0, 99, 2])],
        ),
        case(
            "arp_tpa exact",
            "arp,arp_tpa=10.0.0.2",
            ins![arp()],
            ins![arp().arp_with(|a| a.tpa = [10, 0, 0, 3]), Pkt::arp_reply()],
        ),
        case(
            "arp_tpa CIDR (nw_dst)",
            "arp,nw_dst=10.0.0.0/30",
            ins![arp(), arp().arp_with(|a| a.tpa = [10, 0, 0, 3])],
            ins![arp().arp_with(|a| a.tpa = [10, 0, 0, 4])],
        ),
        case(
            "arp_tpa arbitrary mask",
            "arp,arp_tpa=0.0.0.2/0.0.0.255",
            ins![arp(), arp().arp_with(|a| a.tpa = [192, 168, 1, 2])],
            ins![Pkt::arp_reply()],
        ),
        case(
            "arp_sha exact",
            "arp,arp_sha=02:00:00:00:00:01",
            // SHA is read from the ARP body, not from the Ethernet source.
            ins![arp(), arp().dl_src([2, 0, 0, 0, 0, 9])],
            ins![
                arp().arp_with(|a| a.sha = [2, 0, 0, 0, 0, 9]),
                Pkt::arp_reply()
            ],
        ),
        case(
            "arp_sha masked",
            "arp,arp_sha=02:00:00:00:00:00/ff:ff:ff:00:00:00",
            ins![arp(), Pkt::arp_reply()],
            ins![arp().arp_with(|a| a.sha = [2, 0, 1, 0, 0, 1])],
        ),
        case(
            "arp_tha exact zero (request)",
            "arp,arp_tha=00:00:00:00:00:00",
            ins![arp()],
            ins![Pkt::arp_reply(), arp().arp_with(|a| a.tha = [0xff; 6])],
        ),
        case(
            "arp_tha exact (reply)",
            "arp,arp_tha=02:00:00:00:00:01",
            ins![Pkt::arp_reply()],
            ins![
                arp(),
                Pkt::arp_reply().arp_with(|a| a.tha = [2, 0, 0, 0, 0, 2])
            ],
        ),
        case(
            "arp_tha masked",
            "arp,arp_tha=00:00:00:00:00:01/00:00:00:00:00:ff",
            ins![
                Pkt::arp_reply(),
                arp().arp_with(|a| a.tha = [9, 9, 9, 9, 9, 1])
            ],
            ins![arp()],
        ),
    ]
}

fn ipv6_cases() -> Vec<Case> {
    let tcp6 = Pkt::tcp6;
    vec![
        case(
            "ipv6_src exact",
            "ipv6,ipv6_src=2001:db8::1",
            ins![tcp6(), Pkt::udp6(), frames::nd(true, false)],
            ins![tcp6().v6(|h| h.src = ip6("2001:db8::2")), Pkt::tcp4()],
        ),
        case(
            "ipv6_src prefix",
            "ipv6,ipv6_src=2001:db8::/32",
            ins![tcp6(), tcp6().v6(|h| h.src = ip6("2001:db8:ffff::7"))],
            ins![tcp6().v6(|h| h.src = ip6("2001:db9::1"))],
        ),
        case(
            "ipv6_src arbitrary mask",
            "ipv6,ipv6_src=2001:db8::1/ffff:ffff::ffff",
            ins![tcp6(), tcp6().v6(|h| h.src = ip6("2001:db8:5:6:7::1"))],
            ins![tcp6().v6(|h| h.src = ip6("2001:db8:5:6:7::2"))],
        ),
        case(
            "ipv6_dst exact",
            "ipv6,ipv6_dst=2001:db8::2",
            ins![tcp6(), frames::ipv6_exts()],
            ins![
                tcp6().v6(|h| h.dst = ip6("2001:db8::3")),
                tcp6().v6(|h| h.dst = IP6_SRC)
            ],
        ),
        case(
            "ipv6_dst prefix",
            "ipv6,ipv6_dst=2001:db8::/64",
            ins![tcp6(), tcp6().v6(|h| h.dst = ip6("2001:db8::abcd:1"))],
            ins![tcp6().v6(|h| h.dst = ip6("2001:db8:0:1::2"))],
        ),
        case(
            "ipv6_dst /128 and /0 bits",
            "ipv6,ipv6_dst=::2/::ffff",
            ins![tcp6(), tcp6().v6(|h| h.dst = ip6("fe80::2"))],
            ins![tcp6().v6(|h| h.dst = ip6("2001:db8::1:3"))],
        ),
        case(
            "ipv6_flabel exact (ipv6_label)",
            "ipv6,ipv6_label=0x12345",
            ins![tcp6(), Pkt::udp6().v6(|h| h.flabel = 0x12345)],
            ins![
                tcp6().v6(|h| h.flabel = 0x12346),
                tcp6().v6(|h| h.flabel = 0)
            ],
        ),
        case(
            "ipv6_flabel masked",
            "ipv6,ipv6_label=0x12300/0xfff00",
            ins![tcp6(), tcp6().v6(|h| h.flabel = 0x123ff)],
            ins![
                tcp6().v6(|h| h.flabel = 0x12400),
                tcp6().v6(|h| h.flabel = 0x2345)
            ],
        ),
        case(
            "ipv6_flabel zero (ipv6_flabel)",
            "ipv6,ipv6_flabel=0",
            ins![frames::udp6()],
            ins![tcp6()],
        ),
        case(
            "ipv6_nd_target (NS)",
            "icmp6,icmp_type=135,nd_target=fe80::abcd",
            ins![
                Pkt::ns(),
                Pkt::ns().nd_ll(None),
                Pkt::ns().nd_nonce(),
                frames::nd(true, true),
                // After a hop-by-hop header.
                Pkt::ns().exts(&[Ext::Hop])
            ],
            ins![
                Pkt::ns().nd_target(ip6("fe80::abce")),
                // ND fields are parsed only with ICMPv6 code 0.
                Pkt::ns().nd_code(1)
            ],
        ),
        case(
            "ipv6_nd_target prefix (NA)",
            "icmp6,icmp_type=136,ipv6_nd_target=fe80::/64",
            ins![Pkt::na(), Pkt::na().nd_target(ip6("fe80::1"))],
            ins![Pkt::na().nd_target(ip6("2001:db8::1")), Pkt::ns()],
        ),
        case(
            "ipv6_nd_sll",
            "icmp6,icmp_type=135,nd_sll=0a:0b:0c:0d:0e:0f",
            ins![Pkt::ns(), Pkt::ns().nd_nonce(), frames::nd(true, true)],
            ins![
                Pkt::ns().nd_ll(Some([0xa, 0xb, 0xc, 0xd, 0xe, 0xe])),
                Pkt::ns().nd_ll(None)
            ],
        ),
        case(
            "ipv6_nd_sll absent is zero",
            "icmp6,icmp_type=135,ipv6_nd_sll=00:00:00:00:00:00",
            ins![Pkt::ns().nd_ll(None)],
            ins![Pkt::ns()],
        ),
        case(
            "ipv6_nd_sll masked",
            "icmp6,icmp_type=135,ipv6_nd_sll=0a:0b:0c:00:00:00/ff:ff:ff:00:00:00",
            ins![Pkt::ns(), Pkt::ns().nd_ll(Some([0xa, 0xb, 0xc, 1, 2, 3]))],
            ins![Pkt::ns().nd_ll(Some([0xa, 0xb, 0xd, 0xd, 0xe, 0xf]))],
        ),
        case(
            "ipv6_nd_tll",
            "icmp6,icmp_type=136,nd_tll=0a:0b:0c:0d:0e:0f",
            ins![Pkt::na(), frames::nd(false, false)],
            ins![
                Pkt::na().nd_ll(Some([1, 2, 3, 4, 5, 6])),
                Pkt::na().nd_ll(None)
            ],
        ),
        case(
            "ipv6_nd_tll masked",
            "icmp6,icmp_type=136,ipv6_nd_tll=00:00:00:00:00:0f/00:00:00:00:00:ff",
            ins![Pkt::na()],
            ins![Pkt::na().nd_ll(Some([0xa, 0xb, 0xc, 0xd, 0xe, 0xe]))],
        ),
    ]
}

fn exthdr_cases() -> Vec<Case> {
    use Ext::*;
    let udp6 = Pkt::udp6;
    let frag = Frag {
        offset: 0,
        more: true,
    };
    vec![
        case(
            "ipv6_exthdr none",
            "ipv6,ipv6_exthdr=0",
            ins![udp6(), Pkt::tcp6()],
            ins![udp6().exts(&[Hop]), udp6().exts(&[frag])],
        ),
        case(
            "ipv6_exthdr hop-by-hop present",
            "ipv6,ipv6_exthdr=0x40/0x40",
            ins![udp6().exts(&[Hop]), frames::ipv6_exts()],
            ins![udp6(), udp6().exts(&[Dest])],
        ),
        case(
            "ipv6_exthdr exact chain HOP|DEST|ROUTER|FRAG|AUTH",
            "ipv6,ipv6_exthdr=0x7c",
            ins![
                frames::ipv6_exts(),
                udp6().exts(&[Hop, Dest, Routing, frag, Auth])
            ],
            ins![udp6().exts(&[Hop, Dest, Routing, frag]), udp6()],
        ),
        case(
            "ipv6_exthdr fragment",
            "ipv6,ipv6_exthdr=0x10/0x10",
            ins![udp6().exts(&[frag])],
            ins![udp6(), udp6().exts(&[Routing])],
        ),
        case(
            "ipv6_exthdr ESP",
            "ipv6,ipv6_exthdr=0x02/0x02",
            ins![udp6().exts(&[Esp]), udp6().exts(&[Hop, Esp])],
            ins![udp6().exts(&[Auth])],
        ),
        case(
            "ipv6_exthdr AUTH",
            "ipv6,ipv6_exthdr=0x04/0x04",
            ins![udp6().exts(&[Auth])],
            ins![udp6().exts(&[Esp])],
        ),
        case(
            "ipv6_exthdr no next header",
            "ipv6,ipv6_exthdr=0x01/0x01",
            ins![udp6().exts(&[NoNext]), udp6().exts(&[Hop, NoNext])],
            ins![udp6(), udp6().exts(&[Hop])],
        ),
        case(
            "ipv6_exthdr two destination options around routing are in order",
            "ipv6,ipv6_exthdr=0x68",
            ins![udp6().exts(&[Hop, Dest, Routing, Dest])],
            ins![udp6().exts(&[Hop, Dest, Dest, Routing])],
        ),
        case(
            // ([Dest, Dest, Routing] is ambiguous: a repeat, or the final
            // destination options out of sequence. The switch says UNSEQ.)
            "ipv6_exthdr unexpected repeat",
            "ipv6,ipv6_exthdr=0x80/0x80",
            ins![
                udp6().exts(&[Hop, Hop]),
                udp6().exts(&[Routing, Dest, Dest]),
                udp6().exts(&[frag, frag])
            ],
            ins![
                udp6().exts(&[Hop, Dest, Routing, Dest]),
                udp6().exts(&[Hop])
            ],
        ),
        case(
            "ipv6_exthdr unexpected sequence",
            "ipv6,ipv6_exthdr=0x100/0x100",
            ins![udp6().exts(&[Routing, Hop]), udp6().exts(&[frag, Routing])],
            ins![udp6().exts(&[Hop, Routing, frag]), frames::ipv6_exts()],
        ),
        case(
            "L4 after the extension headers",
            "udp6,tp_dst=547",
            ins![udp6().exts(&[Hop, Dest, Routing, frag, Auth]), udp6()],
            ins![udp6().exts(&[Esp]), udp6().exts(&[Hop]).ports(546, 548)],
        ),
    ]
}

fn mpls_pbb_cases() -> Vec<Case> {
    vec![
        case(
            "mpls_label",
            "mpls,mpls_label=1000",
            ins![Pkt::mpls(&[(1000, 5)]), frames::mpls(&[(1000, 5, 40)])],
            ins![Pkt::mpls(&[(1001, 5)]), Pkt::mpls(&[(7, 0), (1000, 5)])],
        ),
        case(
            "mpls_label of the top entry",
            "mpls,mpls_label=16",
            ins![Pkt::mpls(&[(16, 1), (17, 2)])],
            ins![Pkt::mpls(&[(17, 2), (16, 1)])],
        ),
        case(
            "mpls_label multicast Ethertype",
            "mplsm,mpls_label=1000",
            ins![Pkt::new(Net::Mpls(0x8848, vec![(1000, 0)]))],
            ins![Pkt::mpls(&[(1000, 0)])],
        ),
        case(
            "mpls_tc",
            "mpls,mpls_tc=5",
            ins![Pkt::mpls(&[(1000, 5)]), Pkt::mpls(&[(1, 5), (2, 0)])],
            ins![Pkt::mpls(&[(1000, 4)]), Pkt::mpls(&[(1, 0), (2, 5)])],
        ),
        case(
            "mpls_bos 1",
            "mpls,mpls_bos=1",
            ins![Pkt::mpls(&[(1000, 5)])],
            ins![Pkt::mpls(&[(16, 1), (17, 2)])],
        ),
        case(
            "mpls_bos 0",
            "mpls,mpls_bos=0",
            ins![Pkt::mpls(&[(16, 1), (17, 2)])],
            ins![Pkt::mpls(&[(1000, 5)])],
        ),
        case(
            "no IP fields under MPLS",
            "ip",
            ins![Pkt::tcp4()],
            ins![Pkt::mpls(&[(1000, 5)])],
        ),
        case(
            "pbb_isid",
            "dl_type=0x88e7,pbb_isid=0xabcdef",
            ins![Pkt::pbb(0xabcdef), frames::pbb()],
            ins![Pkt::pbb(0xabcdee), Pkt::pbb(0)],
        ),
        case(
            "pbb_isid masked",
            "dl_type=0x88e7,pbb_isid=0xab0000/0xff0000",
            ins![Pkt::pbb(0xab1234), Pkt::pbb(0xabffff)],
            ins![Pkt::pbb(0xac0000), Pkt::pbb(0x001234)],
        ),
        case(
            "no customer fields under PBB",
            "ip",
            ins![Pkt::tcp4()],
            ins![Pkt::pbb(0xabcdef)],
        ),
    ]
}

fn fragment_cases() -> Vec<Case> {
    let first = |p: Pkt| p.v4(|h| h.more_frags = true);
    let later = |p: Pkt| {
        p.v4(|h| {
            h.frag_offset = 185;
            h.more_frags = true;
        })
    };
    let last = |p: Pkt| p.v4(|h| h.frag_offset = 185);
    let v6_later = |p: Pkt| {
        p.exts(&[Ext::Frag {
            offset: 100,
            more: false,
        }])
    };
    vec![
        case(
            "IPv4 first fragment has L4 ports",
            "tcp,tp_dst=80",
            ins![first(Pkt::tcp4()), Pkt::tcp4()],
            // A later fragment carrying bytes that look like a TCP header
            // with port 80: they are not a TCP header.
            ins![later(Pkt::tcp4()), last(Pkt::tcp4())],
        ),
        case(
            "IPv4 later fragment still matches L3",
            "tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2",
            ins![later(Pkt::tcp4()), last(Pkt::tcp4()), first(Pkt::tcp4())],
            ins![later(Pkt::tcp4()).v4(|h| h.src = [10, 0, 0, 9])],
        ),
        case(
            "IPv4 later fragment has ports 0 (OVS)",
            "tcp,tp_src=0,tp_dst=0",
            ins![later(Pkt::tcp4()), last(Pkt::tcp4())],
            ins![first(Pkt::tcp4()), Pkt::tcp4()],
        ),
        case(
            "IPv4 later fragment has no UDP ports",
            "udp,udp_dst=53",
            ins![first(Pkt::udp4())],
            ins![later(Pkt::udp4())],
        ),
        case(
            "IPv4 later fragment has no ICMP type",
            "icmp,icmp_type=8",
            ins![first(Pkt::icmp4(8, 0))],
            ins![later(Pkt::icmp4(8, 0))],
        ),
        case(
            "IPv6 later fragment has no L4 ports",
            "udp6,tp_dst=547",
            ins![Pkt::udp6().exts(&[Ext::Frag {
                offset: 0,
                more: true
            }])],
            ins![v6_later(Pkt::udp6())],
        ),
        case(
            "IPv6 later fragment: ip_proto from the fragment header",
            "udp6,ipv6_exthdr=0x10/0x10",
            ins![v6_later(Pkt::udp6())],
            ins![v6_later(Pkt::tcp6()), Pkt::udp6()],
        ),
    ]
}

fn malformed_cases() -> Vec<Case> {
    let tcp = || Pkt::tcp4().build();
    // Byte offsets in an untagged IPv4 frame.
    const IP: usize = 14;
    const TCP: usize = 34;
    let mut padded_udp = Pkt::udp4().build();
    padded_udp.resize(80, 0);
    vec![
        case(
            "match everything",
            "",
            frames::all_frames()
                .into_iter()
                .map(|(_, f)| In::from(f))
                .chain(ins![Pkt::ether(0x0042), vec![], vec![0xff; 13]])
                .collect(),
            ins![],
        ),
        case(
            "IPv4 options: L4 after the options",
            "tcp,tp_dst=80",
            ins![Pkt::tcp4().v4(|h| h.options = vec![1, 1, 1, 0])],
            ins![Pkt::tcp4()
                .v4(|h| h.options = vec![1, 1, 1, 0])
                .ports(1, 81)],
        ),
        case(
            "IPv4 with Ethernet padding",
            "udp,nw_src=10.0.0.1,tp_dst=53",
            ins![padded_udp],
            ins![],
        ),
        case(
            "IPv4 bad version: Ethertype only",
            "ip",
            ins![patch(tcp(), IP, &[0x65])],
            ins![],
        ),
        case(
            "IPv4 bad version: no IP fields",
            "ip,nw_src=10.0.0.1",
            ins![tcp()],
            ins![patch(tcp(), IP, &[0x65])],
        ),
        case(
            "IPv4 IHL < 5: no IP fields",
            "ip,nw_proto=6",
            ins![tcp()],
            ins![patch(tcp(), IP, &[0x44]), patch(tcp(), IP, &[0x40])],
        ),
        case(
            "IPv4 IHL beyond the frame: no IP fields",
            "ip,nw_dst=10.0.0.2",
            ins![tcp()],
            ins![patch(tcp(), IP, &[0x4f])],
        ),
        case(
            "IPv4 total length beyond the frame: parsed to the frame's end",
            "tcp,tp_dst=80",
            ins![patch(tcp(), IP + 2, &[0x05, 0xdc])],
            ins![],
        ),
        case(
            "IPv4 total length cuts the TCP header: no ports",
            "tcp,tp_dst=80",
            ins![tcp()],
            // 20 + 10: the TCP header is past the datagram's end.
            ins![patch(tcp(), IP + 2, &[0, 30])],
        ),
        case(
            "IPv4 total length cuts the TCP header: L3 still parsed",
            "tcp,nw_src=10.0.0.1",
            ins![patch(tcp(), IP + 2, &[0, 30])],
            ins![],
        ),
        case(
            "TCP data offset < 5: no ports",
            "tcp,tp_src=1234",
            ins![tcp()],
            ins![
                patch(tcp(), TCP + 12, &[0x40]),
                patch(tcp(), TCP + 12, &[0x00])
            ],
        ),
        case(
            "TCP data offset beyond the frame: no ports",
            "tcp,tp_src=1234",
            ins![tcp()],
            ins![patch(tcp(), TCP + 12, &[0xf0])],
        ),
        case(
            "IPv6 bad version: Ethertype only",
            "ipv6",
            ins![patch(Pkt::tcp6().build(), IP, &[0x4b])],
            ins![],
        ),
        case(
            "IPv6 bad version: no IPv6 fields",
            "ipv6,ipv6_src=2001:db8::1",
            ins![Pkt::tcp6()],
            ins![patch(Pkt::tcp6().build(), IP, &[0x4b])],
        ),
        case(
            "ARP not Ethernet/IPv4: no ARP fields",
            "arp,arp_spa=10.0.0.1",
            ins![Pkt::arp()],
            ins![
                patch(Pkt::arp().build(), 15, &[6]),
                patch(Pkt::arp().build(), IP + 3, &[0xdd]),
                patch(Pkt::arp().build(), IP + 4, &[8])
            ],
        ),
        case(
            "VLAN TPID with the tag cut off is the Ethertype (OVS)",
            "dl_type=0x8100",
            ins![
                frames::udp4_vlan()[..14].to_vec(),
                frames::udp4_vlan()[..17].to_vec()
            ],
            ins![frames::udp4_vlan()[..18].to_vec(), frames::udp4_vlan()],
        ),
    ]
}

fn all_cases() -> Vec<Case> {
    [
        port_level_cases(),
        ethernet_cases(),
        vlan_cases(),
        ip_cases(),
        l4_cases(),
        arp_cases(),
        ipv6_cases(),
        exthdr_cases(),
        mpls_pbb_cases(),
        fragment_cases(),
        malformed_cases(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn flow_text(flow_match: &str, actions: &str) -> String {
    if flow_match.is_empty() {
        format!("priority=100,actions={actions}")
    } else {
        format!("priority=100,{flow_match},actions={actions}")
    }
}

/// Runs one case on a fresh bridge; returns what went wrong.
fn run_case(c: &Case) -> Vec<String> {
    let mut errors = Vec::new();
    let mut b = Bridge::new(3);
    for f in &c.setup {
        b.add(f);
    }
    let text = flow_text(c.flow_match, "output:2");
    if let Err(e) = b.try_add(&text) {
        return vec![format!("flow {text:?} refused: {:?}", e.name())];
    }
    for (what, list, want) in [("hit", &c.hits, vec![2]), ("miss", &c.misses, vec![])] {
        for (i, p) in list.iter().enumerate() {
            let out = b.send_meta(p.meta, &p.frame);
            let ports: Vec<u32> = outputs(&out).into_iter().map(|(p, _)| p).collect();
            if ports != want || !packet_ins(&out).is_empty() {
                errors.push(format!(
                    "{what} #{i} ({} bytes, in_port {}): went to {ports:?}, expected {want:?}",
                    p.frame.len(),
                    p.meta.in_port
                ));
            }
        }
    }
    errors
}

#[test]
fn every_field_matches_its_hits_and_only_them() {
    let cases = all_cases();
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {:?}", c.name);
        assert!(!c.hits.is_empty(), "case {:?} has no hits", c.name);
    }
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            run_case(c)
                .into_iter()
                .map(move |e| format!("  {} [{}]: {e}", c.name, c.flow_match))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Every OpenFlow 1.3 basic field is the subject of at least one case.
#[test]
fn the_table_covers_every_basic_field() {
    use openflow::oxm::OxmField;
    let cases = all_cases();
    let mut covered = std::collections::HashSet::new();
    for c in &cases {
        let fm = parse_flow(flow_mod_command::ADD, &flow_text(c.flow_match, "output:2"));
        covered.extend(fm.match_.fields.iter().filter_map(|o| o.field()));
    }
    let missing: Vec<&str> = OxmField::ALL
        .iter()
        .filter(|f| !covered.contains(f))
        .map(|f| f.name())
        .collect();
    assert!(missing.is_empty(), "fields without a case: {missing:?}");
}

// ---------------------------------------------------------------------------
// Priorities and combinations
// ---------------------------------------------------------------------------

#[test]
fn the_highest_priority_matching_entry_wins() {
    let mut b = Bridge::new(4);
    b.add("priority=100,ip,actions=output:2");
    b.add("priority=200,tcp,actions=output:3");
    b.add("priority=300,tcp,tp_dst=22,actions=output:4");
    b.add("priority=0,actions=drop");
    assert_eq!(b.ports(1, &Pkt::tcp4().build()), vec![3], "tcp beats ip");
    assert_eq!(b.ports(1, &Pkt::udp4().build()), vec![2], "udp: only ip");
    assert_eq!(
        b.ports(1, &Pkt::tcp4().ports(1, 22).build()),
        vec![4],
        "tcp/22 beats tcp"
    );
    assert!(
        b.ports(1, &Pkt::arp().build()).is_empty(),
        "catch-all drops"
    );

    // A more specific match at a lower priority never wins.
    let mut b = Bridge::new(3);
    b.add("priority=10,tcp,nw_src=10.0.0.1,tp_dst=80,actions=output:3");
    b.add("priority=20,ip,actions=output:2");
    assert_eq!(b.ports(1, &Pkt::tcp4().build()), vec![2]);

    // Priority 0 and the maximum.
    let mut b = Bridge::new(3);
    b.add("priority=0,actions=output:3");
    b.add("priority=65535,dl_dst=02:00:00:00:00:02,actions=output:2");
    assert_eq!(b.ports(1, &Pkt::tcp4().build()), vec![2]);
    assert_eq!(b.ports(1, &Pkt::arp().build()), vec![3]);
}

#[test]
fn equal_priority_overlapping_entries_pick_exactly_one() {
    // The spec leaves the choice undefined, but exactly one entry applies.
    let mut b = Bridge::new(3);
    b.add("priority=100,ip,nw_src=10.0.0.1,actions=output:2");
    b.add("priority=100,tcp,tp_dst=80,actions=output:3");
    let tcp = Pkt::tcp4().build();
    let first = b.ports(1, &tcp);
    assert!(
        first == vec![2] || first == vec![3],
        "exactly one entry: {first:?}"
    );
    // And the same one every time.
    for _ in 0..3 {
        assert_eq!(b.ports(1, &tcp), first);
    }
    // Each still matches alone what only it covers.
    assert_eq!(
        b.ports(1, &Pkt::udp4().build()),
        vec![2],
        "udp from 10.0.0.1"
    );
    assert_eq!(
        b.ports(1, &Pkt::tcp4().v4(|h| h.src = [1, 1, 1, 1]).build()),
        vec![3]
    );
    // check_overlap refuses the second of two overlapping entries.
    let r = b.try_add("priority=100,check_overlap,tcp,actions=output:2");
    assert_eq!(err_name(r), "OFPFMFC_OVERLAP");
}

#[test]
fn a_match_on_many_fields_needs_every_one() {
    let flow = "in_port=1,dl_src=02:00:00:00:00:01,dl_dst=02:00:00:00:00:02,dl_vlan=100,\
                dl_vlan_pcp=5,tcp,nw_src=10.0.0.0/24,nw_dst=10.0.0.2,ip_dscp=10,ip_ecn=1,\
                tp_src=1234,tp_dst=0x50/0xfff0";
    let mut b = Bridge::new(3);
    b.add(&format!("priority=100,{flow},actions=output:2"));
    let base = || Pkt::tcp4().vlan(100, 5);
    assert_eq!(b.ports(1, &base().build()), vec![2], "all fields match");
    assert_eq!(
        b.ports(1, &base().ports(1234, 0x5f).build()),
        vec![2],
        "masked port"
    );
    let variants: Vec<(&str, Pkt)> = vec![
        ("in_port", base().on(3)),
        ("dl_src", base().dl_src([2, 0, 0, 0, 0, 9])),
        ("dl_dst", base().dl_dst([2, 0, 0, 0, 0, 9])),
        ("vlan vid", Pkt::tcp4().vlan(101, 5)),
        ("vlan pcp", Pkt::tcp4().vlan(100, 4)),
        ("untagged", Pkt::tcp4()),
        ("ip_proto", Pkt::udp4().ports(1234, 80).vlan(100, 5)),
        ("nw_src", base().v4(|h| h.src = [10, 0, 1, 1])),
        ("nw_dst", base().v4(|h| h.dst = [10, 0, 0, 3])),
        ("dscp", base().v4(|h| h.dscp = 11)),
        ("ecn", base().v4(|h| h.ecn = 2)),
        ("tp_src", base().ports(1235, 80)),
        ("tp_dst", base().ports(1234, 0x60)),
        ("IPv6", Pkt::tcp6().ports(1234, 80).vlan(100, 5)),
    ];
    let wrong: Vec<&str> = variants
        .iter()
        .filter(|(_, p)| !b.send_meta(p.meta, &p.build()).is_empty())
        .map(|(n, _)| *n)
        .collect();
    assert!(wrong.is_empty(), "matched although these differ: {wrong:?}");
}

#[test]
fn a_match_built_with_oxms_equals_the_ofctl_one() {
    // ipv6_exthdr and in_phy_port are not OVS fields; the FLOW_MOD built
    // from OXMs directly behaves as the ofctl extension does.
    let mut fm = parse_flow(flow_mod_command::ADD, "priority=100,actions=output:2");
    fm.match_ = Match {
        fields: vec![
            Oxm::InPort(1),
            Oxm::InPhyPort(9),
            Oxm::EthType(0x86dd),
            Oxm::Ipv6Exthdr(0x40, Some(0x40)),
        ],
    };
    let mut b = Bridge::new(3);
    b.raw_flow_mod(&fm).expect("raw FLOW_MOD accepted");
    let phy9 = PacketMeta {
        in_port: 1,
        in_phy_port: 9,
        tunnel_id: 0,
    };
    let hop = Pkt::udp6().exts(&[Ext::Hop]).build();
    assert_eq!(outputs(&b.send_meta(phy9, &hop)).len(), 1);
    assert!(b.send_meta(PacketMeta::port(1), &hop).is_empty());
    assert!(b.send_meta(phy9, &Pkt::udp6().build()).is_empty());
}

#[test]
fn ovs_only_match_fields_are_refused() {
    // nw_frag, nw_ttl and tcp_flags are NXM/ONF fields OVS sends in an
    // OpenFlow 1.3 match; this switch matches OpenFlow basic fields only.
    let mut b = Bridge::new(3);
    for m in ["ip,nw_frag=later", "ip,nw_ttl=64", "tcp,tcp_flags=+syn"] {
        let r = b.try_add(&flow_text(m, "output:2"));
        assert_eq!(err_name(r), "OFPBMC_BAD_FIELD", "{m}");
    }
}

// ---------------------------------------------------------------------------
// Truncated frames
// ---------------------------------------------------------------------------

/// A frame, a match, and the frame lengths it must match at (inclusive).
struct Cut {
    frame: Vec<u8>,
    flow_match: &'static str,
    from: usize,
    to: usize,
}

fn cut(frame: &[u8], flow_match: &'static str, from: usize, to: Option<usize>) -> Cut {
    Cut {
        frame: frame.to_vec(),
        flow_match,
        from,
        to: to.unwrap_or(frame.len()),
    }
}

#[test]
fn a_truncated_frame_matches_on_the_headers_it_has_complete() {
    let tcp4 = Pkt::tcp4().build();
    let tcp6 = Pkt::tcp6().build();
    let vlan = frames::udp4_vlan();
    let arp = Pkt::arp().build();
    let ns = Pkt::ns().build();
    let icmp4 = Pkt::icmp4(8, 0).build();
    let sctp4 = Pkt::sctp4().build();
    let mpls = Pkt::mpls(&[(1000, 5)]).build();
    let pbb = Pkt::pbb(0xabcdef).build();
    let hop = Pkt::udp6().exts(&[Ext::Hop]).build();
    assert_eq!(tcp4.len(), 14 + 20 + 20 + PAYLOAD.len());
    let cuts = vec![
        cut(&tcp4, "", 0, None),
        cut(&tcp4, "dl_dst=02:00:00:00:00:02", 6, None),
        cut(&tcp4, "dl_src=02:00:00:00:00:01", 12, None),
        cut(&tcp4, "dl_type=0x0800", 14, None),
        cut(&tcp4, "ip,nw_src=10.0.0.1", 34, None),
        cut(&tcp4, "ip,nw_dst=10.0.0.2", 34, None),
        cut(&tcp4, "ip,ip_dscp=10,ip_ecn=1", 34, None),
        cut(&tcp4, "ip,nw_proto=6", 34, None),
        cut(&tcp4, "tcp,tp_src=1234", 54, None),
        cut(&tcp4, "tcp,tp_dst=80", 54, None),
        // What could not be parsed is zero, as in OVS.
        cut(&tcp4, "tcp,tp_src=0,tp_dst=0", 34, Some(53)),
        cut(&tcp6, "ipv6,ipv6_src=2001:db8::1", 54, None),
        cut(&tcp6, "ipv6,ipv6_label=0x12345", 54, None),
        cut(&tcp6, "tcp6,tp_dst=443", 74, None),
        cut(&vlan, "dl_vlan=100", 18, None),
        cut(&vlan, "vlan_tci=0x0000/0x1fff", 0, Some(17)),
        cut(&vlan, "dl_type=0x8100", 14, Some(17)),
        cut(&vlan, "ip,nw_src=10.0.0.1", 38, None),
        cut(&vlan, "udp,tp_dst=53", 46, None),
        cut(&arp, "arp,arp_op=1", 42, None),
        cut(&arp, "arp,arp_tpa=10.0.0.2", 42, None),
        cut(&ns, "icmp6,icmp_type=135", 58, None),
        cut(&icmp4, "icmp,icmp_type=8,icmp_code=0", 38, None),
        cut(&sctp4, "sctp,sctp_dst=2944", 46, None),
        cut(&mpls, "mpls,mpls_label=1000,mpls_tc=5,mpls_bos=1", 18, None),
        cut(&pbb, "dl_type=0x88e7,pbb_isid=0xabcdef", 18, None),
        cut(&hop, "udp6,tp_dst=547", 70, None),
        cut(&ns, "icmp6,icmp_type=135,nd_target=fe80::abcd", 78, None),
        cut(
            &ns,
            "icmp6,icmp_type=135,nd_sll=0a:0b:0c:0d:0e:0f",
            86,
            None,
        ),
    ];
    let mut failures = Vec::new();
    for c in &cuts {
        let mut b = Bridge::new(3);
        b.add(&flow_text(c.flow_match, "output:2"));
        let wrong: Vec<usize> = (0..=c.frame.len())
            .filter(|&n| {
                let hit = b.ports(1, &c.frame[..n]) == vec![2];
                hit != (c.from..=c.to).contains(&n)
            })
            .collect();
        if !wrong.is_empty() {
            failures.push(format!(
                "  [{}] expected to match at lengths {}..={} of {}, wrong at {wrong:?}",
                c.flow_match,
                c.from,
                c.to,
                c.frame.len()
            ));
        }
    }
    assert!(failures.is_empty(), "truncation:\n{}", failures.join("\n"));
}

#[test]
fn truncated_and_corrupted_frames_never_panic() {
    // Flows on every layer, so that every parser path is looked up.
    let mut b = Bridge::new(3);
    for (i, c) in all_cases().iter().enumerate() {
        if !c.setup.is_empty() || c.flow_match.is_empty() {
            continue;
        }
        let port = 2 + (i % 2) as u32;
        let text = format!(
            "priority={},{},actions=output:{port}",
            100 + i,
            c.flow_match
        );
        b.add(&text);
    }
    let mut all: Vec<Vec<u8>> = frames::all_frames().into_iter().map(|(_, f)| f).collect();
    all.extend([
        Pkt::ns().nd_nonce().build(),
        Pkt::udp6()
            .exts(&[Ext::Hop, Ext::Dest, Ext::Routing, Ext::Auth])
            .build(),
        Pkt::udp6().exts(&[Ext::Esp]).build(),
        Pkt::tcp4().v4(|h| h.options = vec![1; 8]).build(),
        Pkt::sctp6().build(),
        Pkt::arp().vlan(1, 0).vlan(2, 0).build(),
    ]);
    let mut sent = 0usize;
    for f in &all {
        for n in 0..=f.len() {
            let _ = b.send(1, &f[..n]);
            sent += 1;
        }
        // Every byte flipped to 0x00 and to 0xff, one at a time.
        for i in 0..f.len() {
            for v in [0x00, 0xff] {
                let mut g = f.clone();
                g[i] = v;
                let _ = b.send(1, &g);
                sent += 1;
            }
        }
    }
    // Longer than any IP datagram: parsed up to 65 535 bytes, no panic, and
    // the headers at the front still match.
    let mut jumbo = Pkt::tcp4().build();
    jumbo.resize(70_000, 0xee);
    let out = b.send(1, &jumbo);
    assert!(!outputs(&out).is_empty(), "a 70 000-byte TCP frame matches");
    assert!(sent > 1000);
}

// ---------------------------------------------------------------------------
// The builder itself
// ---------------------------------------------------------------------------

/// The frames the cases are built from say what the builder was told, read
/// back with etherparse (so a case cannot pass because a setter did nothing).
#[test]
fn the_frame_builder_writes_what_it_is_told() {
    use etherparse::{LinkExtHeader, NetHeaders, PacketHeaders, TransportHeader};
    let parse = |p: &Pkt| {
        let f = p.build();
        let h = PacketHeaders::from_ethernet_slice(&f)
            .unwrap_or_else(|e| panic!("etherparse rejects {p:?}: {e:?}"))
            .clone();
        (
            h.link_exts.to_vec(),
            h.net.clone(),
            h.transport.clone(),
            frames::verify_checksums(&f),
        )
    };

    let (tags, net, l4, sums) = parse(&Pkt::tcp4().vlan(100, 5).dl_src([2, 0, 0, 0, 0, 9]));
    let LinkExtHeader::Vlan(t) = &tags[0] else {
        panic!("no VLAN tag")
    };
    assert_eq!((t.vlan_id.value(), t.pcp.value()), (100, 5));
    let Some(NetHeaders::Ipv4(ip, _)) = net else {
        panic!("not IPv4")
    };
    assert_eq!((ip.dscp.value(), ip.ecn.value()), (10, 1));
    assert_eq!(ip.source, IP4_SRC);
    let Some(TransportHeader::Tcp(tcp)) = l4 else {
        panic!("not TCP")
    };
    assert_eq!((tcp.source_port, tcp.destination_port), (1234, 80));
    assert_eq!(sums, 2, "IPv4 and TCP checksums");

    let (tags, ..) = parse(&Pkt::udp4().tag(0x88a8, 10).tag(0x8100, (6 << 13) | 20));
    let vids: Vec<(u16, u8)> = tags
        .iter()
        .filter_map(|t| match t {
            LinkExtHeader::Vlan(v) => Some((v.vlan_id.value(), v.pcp.value())),
            _ => None,
        })
        .collect();
    assert_eq!(vids, vec![(10, 0), (20, 6)]);
    assert_eq!(
        &Pkt::udp4().tag(0x88a8, 10).build()[12..14],
        &[0x88, 0xa8],
        "outer TPID"
    );

    let later = Pkt::tcp4().v4(|h| {
        h.frag_offset = 185;
        h.more_frags = true;
    });
    let f = later.build();
    assert_eq!(&f[20..22], &[0x20, 185], "MF and offset");

    let (_, net, l4, sums) =
        parse(&Pkt::udp6().exts(&[Ext::Hop, Ext::Dest, Ext::Routing, Ext::Auth]));
    let Some(NetHeaders::Ipv6(ip, exts)) = net else {
        panic!("not IPv6")
    };
    assert_eq!(
        (ip.traffic_class, ip.flow_label.value()),
        ((46 << 2) | 2, 0x12345)
    );
    assert!(exts.hop_by_hop_options.is_some() && exts.routing.is_some() && exts.auth.is_some());
    let Some(TransportHeader::Udp(udp)) = l4 else {
        panic!("not UDP after the extension headers")
    };
    assert_eq!(udp.destination_port, 547);
    assert_eq!(sums, 1, "UDP checksum");

    let (_, _, l4, sums) = parse(&Pkt::ns().nd_nonce());
    let Some(TransportHeader::Icmpv6(icmp)) = l4 else {
        panic!("not ICMPv6")
    };
    assert_eq!(icmp.icmp_type.type_u8(), 135);
    assert_eq!(sums, 1, "ICMPv6 checksum");
    let f = Pkt::ns().nd_nonce().build();
    assert_eq!(&f[62..78], &ND_TARGET);
    assert_eq!(&f[86..88], &[1, 1], "SLL option after the nonce");
    assert_eq!(&f[88..94], &ND_LL);

    let (_, _, l4, _) = parse(&Pkt::icmp4(3, 1));
    let Some(TransportHeader::Icmpv4(icmp)) = l4 else {
        panic!("not ICMPv4")
    };
    assert_eq!(icmp.to_bytes()[..2], [3, 1]);

    let (_, net, ..) = parse(&Pkt::arp_reply());
    let Some(NetHeaders::Arp(arp)) = net else {
        panic!("not ARP")
    };
    assert_eq!(arp.operation.0, 2);
    assert_eq!(arp.sender_hw_addr(), &DST_MAC);
    assert_eq!(arp.target_protocol_addr(), &IP4_SRC);

    assert_eq!(
        frames::verify_checksums(&Pkt::sctp4().build()),
        2,
        "SCTP CRC"
    );
    assert_eq!(
        Pkt::mpls(&[(16, 1), (17, 2)]).build()[14..22],
        [0, 1, 0x02, 64, 0, 1, 0x15, 64],
        "label stack"
    );
    assert_eq!(Pkt::pbb(0xabcdef).build()[14..18], [0x60, 0xab, 0xcd, 0xef]);
}

// ---------------------------------------------------------------------------
// Priorities against a reference
// ---------------------------------------------------------------------------

/// A flow of the randomized priority test, and its own matching logic.
#[derive(Clone, Debug)]
struct RefFlow {
    priority: u16,
    in_port: Option<u32>,
    /// `Some(None)`: untagged only.
    vlan: Option<Option<u16>>,
    /// Last byte of 10.0.0.x and prefix length.
    nw_src: Option<(u8, u32)>,
    tp_dst: Option<(u16, u16)>,
    out: u32,
}

impl RefFlow {
    fn text(&self) -> String {
        let mut t = format!("priority={},tcp", self.priority);
        if let Some(p) = self.in_port {
            t += &format!(",in_port={p}");
        }
        match self.vlan {
            Some(Some(v)) => t += &format!(",dl_vlan={v}"),
            Some(None) => t += ",vlan_tci=0x0000/0x1fff",
            None => {}
        }
        if let Some((x, bits)) = self.nw_src {
            t += &format!(",nw_src=10.0.0.{x}/{bits}");
        }
        if let Some((v, m)) = self.tp_dst {
            t += &format!(",tp_dst=0x{v:x}/0x{m:x}");
        }
        t
    }

    fn matches(&self, in_port: u32, vlan: Option<u16>, src: u8, dst: u16) -> bool {
        let ip = |x: u8| u32::from_be_bytes([10, 0, 0, x]);
        self.in_port.is_none_or(|p| p == in_port)
            && self.vlan.is_none_or(|v| v == vlan)
            && self.nw_src.is_none_or(|(x, bits)| {
                let m = u32::MAX << (32 - bits);
                ip(x) & m == ip(src) & m
            })
            && self.tp_dst.is_none_or(|(v, m)| dst & m == v & m)
    }
}

#[test]
fn the_highest_priority_match_wins_among_many_masks() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let n_flows = 60u32;
    let mut b = Bridge::new(n_flows + 2);
    let mut flows: Vec<RefFlow> = Vec::new();
    let mut used = std::collections::HashSet::new();
    for i in 0..n_flows {
        let priority = loop {
            let p = 1 + rnd(2000) as u16;
            if used.insert(p) {
                break p;
            }
        };
        let f = RefFlow {
            priority,
            in_port: (rnd(3) == 0).then(|| 1 + rnd(2) as u32),
            vlan: match rnd(4) {
                0 => Some(None),
                1 => Some(Some(10 + 10 * rnd(2) as u16)),
                _ => None,
            },
            nw_src: (rnd(2) == 0).then(|| (rnd(8) as u8, [24, 30, 31, 32][rnd(4) as usize])),
            tp_dst: (rnd(2) == 0).then(|| {
                (
                    0x50 + rnd(8) as u16,
                    [0xffff, 0xfffc, 0xfff8, 0xfffe][rnd(4) as usize],
                )
            }),
            out: i + 3,
        };
        b.add(&format!("{},actions=output:{}", f.text(), f.out));
        flows.push(f);
    }
    let check = |b: &mut Bridge, flows: &[RefFlow], round: &str| {
        let mut wrong = Vec::new();
        let mut outs = std::collections::HashSet::new();
        for in_port in 1..=2 {
            for vlan in [None, Some(10), Some(20)] {
                for src in 0..8u8 {
                    for dst in 0x50..0x58u16 {
                        let want: Vec<u32> = flows
                            .iter()
                            .filter(|f| f.matches(in_port, vlan, src, dst))
                            .max_by_key(|f| f.priority)
                            .map(|f| f.out)
                            .into_iter()
                            .collect();
                        let mut p = Pkt::tcp4()
                            .on(in_port)
                            .v4(|h| h.src = [10, 0, 0, src])
                            .ports(1234, dst);
                        if let Some(v) = vlan {
                            p = p.vlan(v, 0);
                        }
                        let got = b.ports(in_port, &p.build());
                        outs.extend(got.iter().copied());
                        if got != want {
                            wrong.push(format!(
                                "in_port {in_port} vlan {vlan:?} src .{src} dst {dst:#x}: {got:?}, want {want:?}"
                            ));
                        }
                    }
                }
            }
        }
        assert!(
            outs.len() >= 10,
            "{round}: too few flows ever win: {outs:?}"
        );
        assert!(
            wrong.is_empty(),
            "{round}: {} wrong, e.g.\n{}",
            wrong.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
    };
    check(&mut b, &flows, "after adding");
    // Deleting entries (the highest-priority ones among them) must let the
    // next ones win.
    let mut by_prio = flows.clone();
    by_prio.sort_by_key(|f| std::cmp::Reverse(f.priority));
    for f in by_prio.iter().step_by(3).take(12) {
        b.flow_mod(flow_mod_command::DELETE_STRICT, &f.text())
            .expect("del-flows --strict");
        flows.retain(|g| g.priority != f.priority);
    }
    check(&mut b, &flows, "after deleting");
}
