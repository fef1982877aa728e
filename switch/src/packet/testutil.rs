//! Test frames built with etherparse, and reference checksum checks that
//! do not share code with the module under test.

use etherparse::{
    ArpHardwareId, ArpOperation, ArpPacket, EtherType, Ethernet2Header, IcmpEchoHeader, Icmpv6Type,
    IpAuthHeader, IpHeaders, IpNumber, Ipv4Header, Ipv6Extensions, Ipv6FragmentHeader, Ipv6Header,
    Ipv6RawExtHeader, Ipv6RoutingExtensions, NetSlice, PacketBuilder, SlicedPacket,
};

pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
pub const IP4_SRC: [u8; 4] = [10, 0, 0, 1];
pub const IP4_DST: [u8; 4] = [10, 0, 0, 2];
pub const IP6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const IP6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// 64 bytes: Ethernet, IPv4 (TTL 64, DSCP 10, ECN 1), TCP 1234 → 80, 10
/// bytes of data.
pub fn tcp4() -> Vec<u8> {
    let mut ip = Ipv4Header::new(0, 64, IpNumber::TCP, IP4_SRC, IP4_DST).unwrap();
    ip.dscp = 10.try_into().unwrap();
    ip.ecn = 1.try_into().unwrap();
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ip(IpHeaders::Ipv4(ip, Default::default()))
        .tcp(1234, 80, 0x0102_0304, 1000)
        .syn();
    let mut v = Vec::new();
    b.write(&mut v, b"0123456789").unwrap();
    v
}

/// VLAN 100 (PCP 5) tagged UDP 5353 → 53 over IPv4.
pub fn udp4_vlan() -> Vec<u8> {
    let vlan = etherparse::VlanHeader::Single(etherparse::SingleVlanHeader {
        pcp: 5.try_into().unwrap(),
        drop_eligible_indicator: false,
        vlan_id: 100.try_into().unwrap(),
        ether_type: EtherType(0),
    });
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .vlan(vlan)
        .ipv4(IP4_SRC, IP4_DST, 17)
        .udp(5353, 53);
    let mut v = Vec::new();
    b.write(&mut v, b"some udp payload").unwrap();
    v
}

/// Outer 0x88a8 tag VID 10, inner 0x8100 VID 20, UDP over IPv4.
pub fn udp4_qinq() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .double_vlan(10.try_into().unwrap(), 20.try_into().unwrap())
        .ipv4(IP4_SRC, IP4_DST, 5)
        .udp(1, 2);
    let mut v = Vec::new();
    b.write(&mut v, b"qinq").unwrap();
    v
}

/// ICMPv4 echo request.
pub fn icmp4() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv4(IP4_SRC, IP4_DST, 64)
        .icmpv4_echo_request(7, 9);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

/// ARP request (op 1), SHA SRC_MAC, SPA 10.0.0.1, THA 0, TPA 10.0.0.2.
pub fn arp() -> Vec<u8> {
    let a = ArpPacket::new(
        ArpHardwareId::ETHERNET,
        EtherType::IPV4,
        ArpOperation::REQUEST,
        &SRC_MAC,
        &IP4_SRC,
        &[0; 6],
        &IP4_DST,
    )
    .unwrap();
    let b = PacketBuilder::ethernet2(SRC_MAC, [0xff; 6]).arp(a);
    let mut v = Vec::new();
    b.write(&mut v).unwrap();
    v
}

/// TCP over IPv6 (traffic class DSCP 46 ECN 2, flow label 0x12345).
pub fn tcp6() -> Vec<u8> {
    let ip = Ipv6Header {
        traffic_class: (46 << 2) | 2,
        flow_label: 0x12345.try_into().unwrap(),
        payload_length: 0,
        next_header: IpNumber::TCP,
        hop_limit: 33,
        source: IP6_SRC,
        destination: IP6_DST,
    };
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ip(IpHeaders::Ipv6(ip, Default::default()))
        .tcp(40000, 443, 1, 100);
    let mut v = Vec::new();
    b.write(&mut v, b"hello v6").unwrap();
    v
}

/// UDP over IPv6.
pub fn udp6() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6(IP6_SRC, IP6_DST, 64)
        .udp(546, 547);
    let mut v = Vec::new();
    b.write(&mut v, b"dhcpv6").unwrap();
    v
}

/// ICMPv6 echo request.
pub fn icmp6() -> Vec<u8> {
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6(IP6_SRC, IP6_DST, 64)
        .icmpv6(Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }));
    let mut v = Vec::new();
    b.write(&mut v, b"ping6").unwrap();
    v
}

pub const ND_TARGET: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd];
pub const ND_LL: [u8; 6] = [0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f];

/// Neighbour solicitation (with a nonce option before the SLL option when
/// `nonce`) or advertisement with a TLL option.
pub fn nd(solicit: bool, nonce: bool) -> Vec<u8> {
    let mut body = ND_TARGET.to_vec();
    if nonce {
        // Nonce option (type 14), 8 bytes.
        body.extend_from_slice(&[14, 1, 1, 2, 3, 4, 5, 6]);
    }
    body.push(if solicit { 1 } else { 2 });
    body.push(1);
    body.extend_from_slice(&ND_LL);
    let t = if solicit {
        Icmpv6Type::NeighborSolicitation
    } else {
        Icmpv6Type::NeighborAdvertisement(etherparse::icmpv6::NeighborAdvertisementHeader {
            router: false,
            solicited: true,
            r#override: true,
        })
    };
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ipv6(IP6_SRC, IP6_DST, 255)
        .icmpv6(t);
    let mut v = Vec::new();
    b.write(&mut v, &body).unwrap();
    v
}

/// IPv6 with hop-by-hop, destination options, routing (segments left 0),
/// fragment (offset 0, more fragments), AH, then UDP.
pub fn ipv6_exts() -> Vec<u8> {
    let raw = |n: IpNumber| Ipv6RawExtHeader::new_raw(n, &[0; 6]).unwrap();
    let exts = Ipv6Extensions {
        hop_by_hop_options: Some(raw(IpNumber::UDP)),
        destination_options: Some(raw(IpNumber::UDP)),
        routing: Some(Ipv6RoutingExtensions {
            routing: Ipv6RawExtHeader::new_raw(IpNumber::UDP, &[0, 0, 0, 0, 0, 0]).unwrap(),
            final_destination_options: None,
        }),
        fragment: Some(Ipv6FragmentHeader::new(
            IpNumber::UDP,
            0.try_into().unwrap(),
            true,
            77,
        )),
        auth: Some(IpAuthHeader::new(IpNumber::UDP, 1, 2, &[0; 4]).unwrap()),
    };
    let ip = Ipv6Header {
        traffic_class: 0,
        flow_label: Default::default(),
        payload_length: 0,
        next_header: IpNumber::UDP,
        hop_limit: 9,
        source: IP6_SRC,
        destination: IP6_DST,
    };
    let b = PacketBuilder::ethernet2(SRC_MAC, DST_MAC)
        .ip(IpHeaders::Ipv6(ip, exts))
        .udp(1000, 2000);
    let mut v = Vec::new();
    b.write(&mut v, b"exts").unwrap();
    v
}

/// An IPv4 datagram (no Ethernet) carrying `proto` with `l4` as payload.
pub fn ip4_datagram(proto: u8, ttl: u8, l4: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(IP4_SRC, IP4_DST, ttl);
    let mut v = Vec::new();
    b.write(&mut v, IpNumber(proto), l4).unwrap();
    v
}

/// Ethernet header with this Ethertype.
pub fn eth(ether_type: u16) -> Vec<u8> {
    Ethernet2Header {
        source: SRC_MAC,
        destination: DST_MAC,
        ether_type: EtherType(ether_type),
    }
    .to_bytes()
    .to_vec()
}

/// An SCTP packet (common header and one DATA-ish chunk) with a valid CRC.
pub fn sctp_segment(src: u16, dst: u16) -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(&src.to_be_bytes());
    s.extend_from_slice(&dst.to_be_bytes());
    s.extend_from_slice(&0xdead_beefu32.to_be_bytes());
    s.extend_from_slice(&[0; 4]);
    s.extend_from_slice(&[
        0, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    ]);
    let c = ref_crc32c(&s);
    s[8..12].copy_from_slice(&c.to_le_bytes());
    s
}

/// Ethernet / IPv4 / SCTP 2905 → 2944.
pub fn sctp4() -> Vec<u8> {
    let mut v = eth(0x0800);
    v.extend(ip4_datagram(132, 64, &sctp_segment(2905, 2944)));
    v
}

/// MPLS label stack (label, tc, ttl) over the IPv4/TCP datagram of [`tcp4`].
pub fn mpls(labels: &[(u32, u8, u8)]) -> Vec<u8> {
    let mut v = eth(0x8847);
    for (i, &(label, tc, ttl)) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        let lse = (label << 12) | (u32::from(tc) << 9) | (bos << 8) | u32::from(ttl);
        v.extend_from_slice(&lse.to_be_bytes());
    }
    v.extend_from_slice(&tcp4()[14..]);
    v
}

/// PBB: B-DA/B-SA, 0x88e7, I-TAG (PCP 3, I-SID 0xabcdef), customer frame
/// = [`tcp4`].
pub fn pbb() -> Vec<u8> {
    let mut v = eth(0x88e7);
    v.extend_from_slice(&[3 << 5, 0xab, 0xcd, 0xef]);
    v.extend(tcp4());
    v
}

/// Bitwise CRC32c, independent of the table-driven one.
pub fn ref_crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// One's-complement sum of `data` as 16-bit words, computed from scratch
/// (0xffff when a checksum over it is right).
pub fn ones(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u32::from(u16::from_be_bytes([c[0], c[1]]))
        } else {
            u32::from(c[0]) << 8
        };
        s += w;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Checks every checksum of an Ethernet frame from scratch, finding the
/// headers with etherparse: the IPv4 header checksum, TCP/UDP/ICMPv6 with
/// their pseudo-header, ICMPv4, SCTP's CRC32c. Returns how many were checked.
pub fn verify_checksums(frame: &[u8]) -> usize {
    let p = SlicedPacket::from_ethernet(frame).expect("etherparse parses the frame");
    let mut n = 0;
    let (pseudo, payload) = match &p.net {
        Some(NetSlice::Ipv4(ip)) => {
            let h = ip.header().to_header();
            assert_eq!(
                h.header_checksum,
                h.calc_header_checksum(),
                "IPv4 header checksum"
            );
            n += 1;
            let pl = ip.payload();
            let mut ps = Vec::new();
            ps.extend_from_slice(&ip.header().source());
            ps.extend_from_slice(&ip.header().destination());
            ps.extend_from_slice(&[0, pl.ip_number.0]);
            ps.extend_from_slice(&(pl.payload.len() as u16).to_be_bytes());
            (Some((ps, false)), Some(pl.clone()))
        }
        Some(NetSlice::Ipv6(ip)) => {
            let pl = ip.payload();
            let mut ps = Vec::new();
            ps.extend_from_slice(&ip.header().source());
            ps.extend_from_slice(&ip.header().destination());
            ps.extend_from_slice(&(pl.payload.len() as u32).to_be_bytes());
            ps.extend_from_slice(&[0, 0, 0, pl.ip_number.0]);
            (Some((ps, true)), Some(pl.clone()))
        }
        _ => (None, None),
    };
    if let (Some((ps, v6)), Some(pl)) = (pseudo, payload) {
        if pl.fragmented {
            return n;
        }
        let seg = pl.payload;
        let mut all = ps.clone();
        all.extend_from_slice(seg);
        match pl.ip_number.0 {
            6 | 58 => {
                assert_eq!(ones(&all), 0xffff, "L4 checksum (proto {})", pl.ip_number.0);
                n += 1;
            }
            17 if v6 || seg[6..8] != [0, 0] => {
                assert_eq!(ones(&all), 0xffff, "UDP checksum");
                n += 1;
            }
            1 => {
                assert_eq!(ones(seg), 0xffff, "ICMPv4 checksum");
                n += 1;
            }
            132 => {
                let mut z = seg.to_vec();
                z[8..12].fill(0);
                assert_eq!(ref_crc32c(&z).to_le_bytes(), seg[8..12], "SCTP CRC32c");
                n += 1;
            }
            _ => {}
        }
    }
    n
}

/// Every test frame, by name.
pub fn all_frames() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("tcp4", tcp4()),
        ("udp4_vlan", udp4_vlan()),
        ("udp4_qinq", udp4_qinq()),
        ("icmp4", icmp4()),
        ("arp", arp()),
        ("tcp6", tcp6()),
        ("udp6", udp6()),
        ("icmp6", icmp6()),
        ("ns", nd(true, true)),
        ("na", nd(false, false)),
        ("ipv6_exts", ipv6_exts()),
        ("sctp4", sctp4()),
        ("mpls1", mpls(&[(1000, 5, 40)])),
        ("mpls2", mpls(&[(16, 1, 10), (17, 2, 20)])),
        ("pbb", pbb()),
    ]
}
