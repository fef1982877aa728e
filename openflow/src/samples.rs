//! One representative message of every type, with every multipart body,
//! action, instruction, OXM field and table-feature property in use.
//!
//! Used by tests that check the encoder against outside tools (tshark's
//! OpenFlow dissector, Open vSwitch), by benchmarks, and as examples of how
//! to build messages. Every message here is valid per the spec.

use crate::action::Action;
use crate::group::{self, Bucket, GroupMod};
use crate::instruction::Instruction;
use crate::messages::*;
use crate::meter::{self, MeterBand, MeterMod};
use crate::multipart::*;
use crate::oxm::{Match, Oxm, U24};
use crate::port::{self, Port, PortMod, PortStatus};
use crate::table_features::{OxmId, TableFeatureProp, TableFeatures, TlvId};
use crate::types::{port_no, MacAddr, NO_BUFFER};
use crate::{Body, Message, OfError};
use std::net::{Ipv4Addr, Ipv6Addr};

const MAC1: MacAddr = MacAddr([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
const MAC2: MacAddr = MacAddr([0x0e, 0x00, 0x00, 0x00, 0x00, 0x02]);

/// A match using every OpenFlow-basic field once, in groups whose
/// prerequisites hold (one match cannot be IPv4, IPv6, ARP and MPLS at once,
/// so several matches are returned).
pub fn matches() -> Vec<Match> {
    let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED);
    vec![
        Match::new(),
        Match::new().with(Oxm::InPort(1)),
        Match::new()
            .with(Oxm::InPort(1))
            .with(Oxm::InPhyPort(1))
            .with(Oxm::Metadata(0x1, Some(0xff)))
            .with(Oxm::EthDst(MAC1, None))
            .with(Oxm::EthSrc(
                MAC2,
                Some(MacAddr([0xff, 0xff, 0xff, 0, 0, 0])),
            ))
            .with(Oxm::EthType(0x0800))
            .with(Oxm::VlanVid(0x1000 | 10, None))
            .with(Oxm::VlanPcp(3))
            .with(Oxm::IpDscp(46))
            .with(Oxm::IpEcn(1))
            .with(Oxm::IpProto(6))
            .with(Oxm::Ipv4Src(Ipv4Addr::new(10, 0, 0, 1), None))
            .with(Oxm::Ipv4Dst(
                Ipv4Addr::new(10, 0, 0, 0),
                Some(Ipv4Addr::new(255, 255, 255, 0)),
            ))
            .with(Oxm::TcpSrc(12345, None))
            .with(Oxm::TcpDst(80, None))
            .with(Oxm::TunnelId(5, Some(0xff))),
        Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::IpProto(17))
            .with(Oxm::UdpSrc(68, None))
            .with(Oxm::UdpDst(67, None)),
        Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::IpProto(132))
            .with(Oxm::SctpSrc(1, None))
            .with(Oxm::SctpDst(2, None)),
        Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::IpProto(1))
            .with(Oxm::Icmpv4Type(8))
            .with(Oxm::Icmpv4Code(0)),
        Match::new()
            .with(Oxm::EthType(0x0806))
            .with(Oxm::ArpOp(1))
            .with(Oxm::ArpSpa(Ipv4Addr::new(10, 0, 0, 1), None))
            .with(Oxm::ArpTpa(Ipv4Addr::new(10, 0, 0, 2), None))
            .with(Oxm::ArpSha(MAC1, None))
            .with(Oxm::ArpTha(MacAddr::ZERO, None)),
        Match::new()
            .with(Oxm::EthType(0x86dd))
            .with(Oxm::Ipv6Src(
                v6("fe80::1"),
                Some(v6("ffff:ffff:ffff:ffff::")),
            ))
            .with(Oxm::Ipv6Dst(v6("2001:db8::2"), None))
            .with(Oxm::Ipv6Flabel(0x12345, None))
            .with(Oxm::Ipv6Exthdr(0x1, Some(0x1)))
            .with(Oxm::IpProto(58))
            .with(Oxm::Icmpv6Type(135))
            .with(Oxm::Icmpv6Code(0))
            .with(Oxm::Ipv6NdTarget(v6("2001:db8::3"), None))
            .with(Oxm::Ipv6NdSll(MAC1, None)),
        Match::new()
            .with(Oxm::EthType(0x86dd))
            .with(Oxm::IpProto(58))
            .with(Oxm::Icmpv6Type(136))
            .with(Oxm::Ipv6NdTll(MAC2, None)),
        Match::new()
            .with(Oxm::EthType(0x8847))
            .with(Oxm::MplsLabel(100))
            .with(Oxm::MplsTc(5))
            .with(Oxm::MplsBos(1)),
        Match::new()
            .with(Oxm::EthType(0x88e7))
            .with(Oxm::PbbIsid(U24(0x1234), None)),
    ]
}

/// Every action type once.
pub fn actions() -> Vec<Action> {
    vec![
        Action::output(2),
        Action::Output {
            port: port_no::CONTROLLER,
            max_len: 128,
        },
        Action::CopyTtlOut,
        Action::CopyTtlIn,
        Action::SetMplsTtl(64),
        Action::DecMplsTtl,
        Action::PushVlan(0x8100),
        Action::PopVlan,
        Action::PushMpls(0x8847),
        Action::PopMpls(0x0800),
        Action::SetQueue(1),
        Action::Group(1),
        Action::SetNwTtl(32),
        Action::DecNwTtl,
        Action::SetField(Oxm::VlanVid(0x1000 | 20, None)),
        Action::SetField(Oxm::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 9), None)),
        Action::SetField(Oxm::EthSrc(MAC2, None)),
        Action::SetField(Oxm::TunnelId(42, None)),
        Action::PushPbb(0x88e7),
        Action::PopPbb,
    ]
}

/// Every instruction type once.
pub fn instructions() -> Vec<Instruction> {
    vec![
        Instruction::Meter(1),
        Instruction::ApplyActions(vec![Action::PushVlan(0x8100), Action::output(1)]),
        Instruction::ClearActions,
        Instruction::WriteActions(vec![Action::Group(1)]),
        Instruction::WriteMetadata {
            metadata: 0x2,
            mask: 0x2,
        },
        Instruction::GotoTable(2),
    ]
}

fn port(n: u32, name: &str) -> Port {
    Port {
        port_no: n,
        hw_addr: MacAddr([0x02, 0, 0, 0, 0, n as u8]),
        name: name.to_string(),
        config: 0,
        state: port::state::LIVE,
        curr: port::features::F_10GB_FD | port::features::COPPER,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
    }
}

fn table_features() -> TableFeatures {
    use crate::oxm::OxmField;
    let oxms: Vec<OxmId> = [OxmField::InPort, OxmField::EthDst, OxmField::VlanVid]
        .iter()
        .map(|f| OxmId::basic(*f, f.maskable()))
        .collect();
    let ins: Vec<TlvId> = crate::instruction::instruction_type::ALL
        .iter()
        .map(|t| TlvId::new(*t))
        .collect();
    let acts: Vec<TlvId> = crate::action::action_type::ALL
        .iter()
        .map(|t| TlvId::new(*t))
        .collect();
    TableFeatures {
        table_id: 0,
        name: "classifier".into(),
        metadata_match: u64::MAX,
        metadata_write: u64::MAX,
        config: 0,
        max_entries: 1_000_000,
        properties: vec![
            TableFeatureProp::Instructions {
                miss: false,
                ids: ins.clone(),
            },
            TableFeatureProp::Instructions {
                miss: true,
                ids: ins,
            },
            TableFeatureProp::NextTables {
                miss: false,
                tables: (1..=3).collect(),
            },
            TableFeatureProp::NextTables {
                miss: true,
                tables: (1..=3).collect(),
            },
            TableFeatureProp::WriteActions {
                miss: false,
                ids: acts.clone(),
            },
            TableFeatureProp::WriteActions {
                miss: true,
                ids: acts.clone(),
            },
            TableFeatureProp::ApplyActions {
                miss: false,
                ids: acts.clone(),
            },
            TableFeatureProp::ApplyActions {
                miss: true,
                ids: acts,
            },
            TableFeatureProp::Match(oxms.clone()),
            TableFeatureProp::Wildcards(oxms.clone()),
            TableFeatureProp::WriteSetfield {
                miss: false,
                ids: oxms.clone(),
            },
            TableFeatureProp::WriteSetfield {
                miss: true,
                ids: oxms.clone(),
            },
            TableFeatureProp::ApplySetfield {
                miss: false,
                ids: oxms.clone(),
            },
            TableFeatureProp::ApplySetfield {
                miss: true,
                ids: oxms,
            },
        ],
    }
}

fn flow_stats(m: Match) -> FlowStats {
    FlowStats {
        table_id: 0,
        duration_sec: 12,
        duration_nsec: 345_000_000,
        priority: 100,
        idle_timeout: 60,
        hard_timeout: 0,
        flags: flow_mod_flags::SEND_FLOW_REM,
        cookie: 0x5adc15c0,
        packet_count: 3,
        byte_count: 294,
        match_: m,
        instructions: instructions(),
    }
}

/// Every multipart request body once.
pub fn multipart_requests() -> Vec<MultipartRequestBody> {
    use MultipartRequestBody as B;
    vec![
        B::Desc,
        B::Flow(FlowStatsRequest::default()),
        B::Aggregate(FlowStatsRequest {
            table_id: 0,
            match_: Match::new().with(Oxm::InPort(1)),
            ..FlowStatsRequest::default()
        }),
        B::Table,
        B::PortStats {
            port_no: port_no::ANY,
        },
        B::Queue {
            port_no: port_no::ANY,
            queue_id: 0xffff_ffff,
        },
        B::Group {
            group_id: crate::types::group_no::ALL,
        },
        B::GroupDesc,
        B::GroupFeatures,
        B::Meter {
            meter_id: crate::types::meter_no::ALL,
        },
        B::MeterConfig {
            meter_id: crate::types::meter_no::ALL,
        },
        B::MeterFeatures,
        B::TableFeatures(vec![]),
        B::PortDesc,
        B::Experimenter(Experimenter {
            experimenter: 0x0000_2320,
            exp_type: 0,
            data: vec![0; 8],
        }),
    ]
}

/// Every multipart reply body once.
pub fn multipart_replies() -> Vec<MultipartReplyBody> {
    use MultipartReplyBody as B;
    vec![
        B::Desc(Desc {
            mfr_desc: "The ofswitch authors".into(),
            hw_desc: "ofswitch".into(),
            sw_desc: "0.1.0".into(),
            serial_num: "None".into(),
            dp_desc: "br0".into(),
        }),
        B::Flow(matches().into_iter().map(flow_stats).collect()),
        B::Aggregate(AggregateStats {
            packet_count: 10,
            byte_count: 980,
            flow_count: 3,
        }),
        B::Table(vec![TableStats {
            table_id: 0,
            active_count: 3,
            lookup_count: 100,
            matched_count: 90,
        }]),
        B::PortStats(vec![PortStats {
            port_no: 1,
            rx_packets: 5,
            tx_packets: 6,
            rx_bytes: 500,
            tx_bytes: 600,
            duration_sec: 9,
            ..PortStats::default()
        }]),
        B::Queue(vec![QueueStats {
            port_no: 1,
            queue_id: 0,
            tx_bytes: 100,
            tx_packets: 1,
            tx_errors: 0,
            duration_sec: 1,
            duration_nsec: 0,
        }]),
        B::Group(vec![GroupStats {
            group_id: 1,
            ref_count: 1,
            packet_count: 4,
            byte_count: 400,
            duration_sec: 3,
            duration_nsec: 0,
            bucket_stats: vec![
                BucketCounter {
                    packet_count: 4,
                    byte_count: 400,
                };
                2
            ],
        }]),
        B::GroupDesc(vec![GroupDesc {
            group_type: group::group_type::SELECT,
            group_id: 1,
            buckets: buckets(),
        }]),
        B::GroupFeatures(GroupFeatures {
            types: 0xf,
            capabilities: group_capabilities::SELECT_WEIGHT | group_capabilities::CHAINING,
            max_groups: [65535; 4],
            actions: [0x0fff_f801; 4],
        }),
        B::Meter(vec![MeterStats {
            meter_id: 1,
            flow_count: 1,
            packet_in_count: 10,
            byte_in_count: 1000,
            duration_sec: 5,
            duration_nsec: 0,
            band_stats: vec![BandStats {
                packet_band_count: 2,
                byte_band_count: 200,
            }],
        }]),
        B::MeterConfig(vec![MeterConfig {
            flags: meter::flags::KBPS | meter::flags::BURST | meter::flags::STATS,
            meter_id: 1,
            bands: bands(),
        }]),
        B::MeterFeatures(MeterFeatures {
            max_meter: 1024,
            band_types: 0b110,
            capabilities: 0xf,
            max_bands: 8,
            max_color: 0,
        }),
        B::TableFeatures(vec![table_features()]),
        B::PortDesc(vec![
            port(1, "veth1"),
            port(2, "veth2"),
            port(port_no::LOCAL, "br0"),
        ]),
        B::Experimenter(Experimenter {
            experimenter: 0x0000_2320,
            exp_type: 0,
            data: vec![],
        }),
    ]
}

fn buckets() -> Vec<Bucket> {
    vec![
        Bucket {
            weight: 10,
            watch_port: port_no::ANY,
            watch_group: crate::types::group_no::ANY,
            actions: vec![Action::output(1)],
        },
        Bucket {
            weight: 20,
            watch_port: port_no::ANY,
            watch_group: crate::types::group_no::ANY,
            actions: vec![Action::SetField(Oxm::EthDst(MAC2, None)), Action::output(2)],
        },
    ]
}

fn bands() -> Vec<MeterBand> {
    vec![
        MeterBand::Drop {
            rate: 1000,
            burst_size: 100,
        },
        MeterBand::DscpRemark {
            rate: 2000,
            burst_size: 200,
            prec_level: 1,
        },
    ]
}

/// A small Ethernet frame (an ICMP echo request from 10.0.0.1 to 10.0.0.2).
pub fn icmp_frame() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&MAC2.0);
    f.extend_from_slice(&MAC1.0);
    f.extend_from_slice(&[0x08, 0x00]);
    // IPv4 header (20 bytes) and ICMP echo request id 1 seq 1 (8 bytes)
    let mut ip = [
        0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    let c = inet_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut icmp = [8, 0, 0, 0, 0, 1, 0, 1];
    let c = inet_checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&icmp);
    f
}

fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One message of every `ofp_type`, and one per multipart body type.
pub fn all_messages() -> Vec<Message> {
    let mut v: Vec<Body> = vec![
        Body::Hello(Hello::with_versions(&[4])),
        Body::Error(ErrorMsg::reply_to(
            OfError::BRC_BAD_TYPE,
            &[4, 99, 0, 8, 0, 0, 0, 1],
        )),
        Body::Error(ErrorMsg::Experimenter {
            exp_type: 1,
            experimenter: 0x0000_2320,
            data: vec![4, 0, 0, 8, 0, 0, 0, 1],
        }),
        Body::EchoRequest(vec![]),
        Body::EchoReply(b"ping".to_vec()),
        Body::Experimenter(Experimenter {
            experimenter: 0x0000_2320,
            exp_type: 20,
            data: vec![0; 8],
        }),
        Body::FeaturesRequest,
        Body::FeaturesReply(SwitchFeatures {
            datapath_id: 0x10,
            n_buffers: 0,
            n_tables: 254,
            auxiliary_id: 0,
            capabilities: capabilities::FLOW_STATS
                | capabilities::TABLE_STATS
                | capabilities::PORT_STATS
                | capabilities::GROUP_STATS
                | capabilities::QUEUE_STATS,
            reserved: 0,
        }),
        Body::GetConfigRequest,
        Body::GetConfigReply(SwitchConfig::default()),
        Body::SetConfig(SwitchConfig {
            flags: 0,
            miss_send_len: 0xffff,
        }),
        Body::PacketIn(PacketIn {
            buffer_id: NO_BUFFER,
            total_len: icmp_frame().len() as u16,
            reason: packet_in_reason::ACTION,
            table_id: 1,
            cookie: 0x5adc15c0,
            match_: Match::new().with(Oxm::InPort(1)),
            data: icmp_frame(),
        }),
        Body::FlowRemoved(FlowRemoved {
            cookie: 1,
            priority: 100,
            reason: flow_removed_reason::IDLE_TIMEOUT,
            table_id: 0,
            duration_sec: 30,
            duration_nsec: 0,
            idle_timeout: 30,
            hard_timeout: 0,
            packet_count: 3,
            byte_count: 294,
            match_: Match::new().with(Oxm::InPort(2)),
        }),
        Body::PortStatus(PortStatus {
            reason: port::reason::ADD,
            desc: port(3, "veth3"),
        }),
        Body::PacketOut(PacketOut::new(
            port_no::CONTROLLER,
            vec![Action::output(port_no::FLOOD)],
            icmp_frame(),
        )),
        Body::GroupMod(GroupMod {
            command: group::command::ADD,
            group_type: group::group_type::SELECT,
            group_id: 1,
            buckets: buckets(),
        }),
        Body::GroupMod(GroupMod {
            command: group::command::ADD,
            group_type: group::group_type::FF,
            group_id: 2,
            buckets: vec![Bucket {
                weight: 0,
                watch_port: 1,
                watch_group: crate::types::group_no::ANY,
                actions: vec![Action::output(1)],
            }],
        }),
        Body::PortMod(PortMod {
            port_no: 1,
            hw_addr: MacAddr([0x02, 0, 0, 0, 0, 1]),
            config: port::config::NO_PACKET_IN,
            mask: port::config::NO_PACKET_IN,
            advertise: 0,
        }),
        Body::TableMod(TableMod {
            table_id: 0,
            config: 0,
        }),
        Body::BarrierRequest,
        Body::BarrierReply,
        Body::QueueGetConfigRequest { port: 1 },
        Body::QueueGetConfigReply(QueueGetConfigReply {
            port: 1,
            queues: vec![PacketQueue {
                queue_id: 0,
                port: 1,
                properties: vec![QueueProperty::MinRate(100), QueueProperty::MaxRate(1000)],
            }],
        }),
        Body::RoleRequest(RoleMsg {
            role: role::MASTER,
            generation_id: 1,
        }),
        Body::RoleReply(RoleMsg {
            role: role::MASTER,
            generation_id: 1,
        }),
        Body::GetAsyncRequest,
        Body::GetAsyncReply(AsyncConfig::default()),
        Body::SetAsync(AsyncConfig {
            packet_in_mask: [0x6, 0x6],
            port_status_mask: [0x7, 0x7],
            flow_removed_mask: [0, 0],
        }),
        Body::MeterMod(MeterMod {
            command: meter::command::ADD,
            flags: meter::flags::KBPS | meter::flags::BURST | meter::flags::STATS,
            meter_id: 1,
            bands: bands(),
        }),
    ];
    for (i, m) in matches().into_iter().enumerate() {
        v.push(Body::FlowMod(FlowMod {
            table_id: 0,
            priority: 100 + i as u16,
            cookie: i as u64,
            match_: m,
            instructions: instructions(),
            flags: flow_mod_flags::SEND_FLOW_REM,
            ..FlowMod::default()
        }));
    }
    v.push(Body::FlowMod(FlowMod {
        match_: Match::new().with(Oxm::InPort(1)),
        instructions: vec![Instruction::ApplyActions(actions())],
        ..FlowMod::default()
    }));
    v.push(Body::FlowMod(FlowMod {
        command: flow_mod_command::DELETE,
        table_id: crate::types::table_no::ALL,
        ..FlowMod::default()
    }));
    v.extend(
        multipart_requests()
            .into_iter()
            .map(|b| Body::MultipartRequest(MultipartRequest::new(b))),
    );
    v.extend(
        multipart_replies()
            .into_iter()
            .map(|b| Body::MultipartReply(MultipartReply::new(b))),
    );
    v.into_iter()
        .enumerate()
        .map(|(i, b)| Message::new(i as u32 + 1, b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_roundtrip_and_validate() {
        let all = all_messages();
        let mut types = std::collections::BTreeSet::new();
        for m in &all {
            types.insert(m.body.msg_type());
            let b = m.to_bytes();
            assert_eq!(Message::decode(&b).as_ref(), Ok(m), "{m:?}");
            if let Body::FlowMod(f) = &m.body {
                assert_eq!(f.match_.validate(), Ok(()), "{:?}", f.match_);
            }
        }
        assert_eq!(types.len(), 30);
        for m in matches() {
            assert_eq!(m.validate(), Ok(()), "{m:?}");
        }
        let fields: std::collections::BTreeSet<_> = matches()
            .iter()
            .flat_map(|m| m.fields.iter().filter_map(|f| f.field()))
            .collect();
        assert_eq!(fields.len(), 40);
    }
}
