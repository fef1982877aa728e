//! proptest strategies for every OpenFlow 1.3 value the crate models.
//!
//! Every generator produces values in the wire format's *canonical form*, the
//! form in which `decode(encode(v)) == v` holds. The places where the wire
//! format cannot carry an arbitrary Rust value are:
//!
//! - Experimenter action and instruction payloads are padded to 8 bytes on
//!   the wire and the padding comes back as payload, so payload lengths are
//!   multiples of 8 (8 + len ≡ 0 mod 8). Experimenter meter bands have no
//!   padding of their own but band lengths must be multiples of 8, so their
//!   payloads are multiples of 8 too.
//! - Fixed-size strings end with a NUL and are cut at the first one: port
//!   names hold at most 15 bytes, table names 31, descriptions 255, serial
//!   numbers 31, and no string contains a NUL. Strings are valid UTF-8 (the
//!   decoder is lossy), and may contain multi-byte characters.
//! - `Oxm::Other` keeps a raw TLV: its body is at most 255 bytes (the length
//!   is one byte), its field id fits 7 bits, an OpenFlow-basic class only
//!   carries an id this crate does not know (40..=127; a known id decodes as
//!   the typed variant), and the experimenter class carries at least the
//!   4-byte experimenter id.
//! - A set_field action carries no mask (a masked OXM there is an error).
//! - An `OxmId` of the experimenter class (0xffff) carries an experimenter
//!   id, and no other class does.
//! - Unknown HELLO elements and table-feature properties use a type the
//!   crate does not know (not OFPHET_VERSIONBITMAP; not a defined property
//!   type), or they decode as the typed variant.
//! - `ErrorMsg::Standard` never uses type 0xffff (that is `Experimenter`).
//! - Only HELLO may carry a version other than 0x04.
//! - Sizes are kept small enough that a message stays below 64 KiB.

use openflow::action::Action;
use openflow::error::OfError;
use openflow::group::{Bucket, GroupMod};
use openflow::instruction::Instruction;
use openflow::message::{Body, Message};
use openflow::messages::{
    AsyncConfig, ErrorMsg, Experimenter, FlowMod, FlowRemoved, Hello, HelloElement, PacketIn,
    PacketOut, PacketQueue, QueueGetConfigReply, QueueProperty, RoleMsg, SwitchConfig,
    SwitchFeatures, TableMod,
};
use openflow::meter::{MeterBand, MeterMod};
use openflow::multipart::{
    AggregateStats, BandStats, BucketCounter, Desc, FlowStats, FlowStatsRequest, GroupDesc,
    GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats, MultipartReply,
    MultipartReplyBody, MultipartRequest, MultipartRequestBody, PortStats, QueueStats, TableStats,
};
use openflow::oxm::{Match, Oxm, RawOxm, U24};
use openflow::port::{Port, PortMod, PortStatus};
use openflow::table_features::{OxmId, TableFeatureProp, TableFeatures, TlvId};
use openflow::types::MacAddr;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use std::net::{Ipv4Addr, Ipv6Addr};

// ---------------------------------------------------------------- scalars

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(any::<u8>(), 0..=max)
}

/// A byte vector whose length is a multiple of 8, at most `max_words` words.
pub fn bytes8(max_words: usize) -> impl Strategy<Value = Vec<u8>> + Clone {
    vec(any::<[u8; 8]>(), 0..=max_words).prop_map(|w| w.concat())
}

pub fn mac() -> impl Strategy<Value = MacAddr> + Clone {
    any::<[u8; 6]>().prop_map(MacAddr)
}

pub fn ipv4() -> impl Strategy<Value = Ipv4Addr> + Clone {
    any::<u32>().prop_map(Ipv4Addr::from)
}

pub fn ipv6() -> impl Strategy<Value = Ipv6Addr> + Clone {
    any::<u128>().prop_map(Ipv6Addr::from)
}

pub fn u24() -> impl Strategy<Value = U24> + Clone {
    (0u32..=0xff_ffff).prop_map(U24)
}

/// A string of at most `max` UTF-8 bytes without NUL: what a fixed-size,
/// NUL-terminated field of `max + 1` bytes carries unchanged.
pub fn fixed_string(max: usize) -> impl Strategy<Value = String> + Clone {
    let printable = vec(proptest::char::range(' ', '~'), 0..=max);
    let any_chars = vec(any::<char>(), 0..=max);
    prop_oneof![printable, any_chars].prop_map(move |cs| {
        let mut s = String::new();
        for c in cs.into_iter().filter(|&c| c != '\0') {
            if s.len() + c.len_utf8() > max {
                break;
            }
            s.push(c);
        }
        s
    })
}

/// An error code: mostly named ones, sometimes codes this crate does not name.
pub fn of_error() -> impl Strategy<Value = OfError> + Clone {
    let named: Vec<OfError> = OfError::all().collect();
    prop_oneof![
        3 => proptest::sample::select(named),
        1 => (0u16..0xffff, any::<u16>()).prop_map(|(t, c)| OfError::new(t, c)),
    ]
}

// ---------------------------------------------------------------- OXM

fn exact<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
    f: fn(T) -> Oxm,
) -> BoxedStrategy<Oxm> {
    s.prop_map(f).boxed()
}

fn masked<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + Clone + 'static,
    f: fn(T, Option<T>) -> Oxm,
) -> BoxedStrategy<Oxm> {
    (s.clone(), proptest::option::of(s))
        .prop_map(move |(v, m)| f(v, m))
        .boxed()
}

/// `Oxm::Other` in canonical form: unknown basic fields, experimenter
/// fields (with their 4-byte id), and fields of NXM and other classes.
pub fn raw_oxm() -> BoxedStrategy<Oxm> {
    let basic_unknown =
        (40u8..=127, any::<bool>(), bytes(32)).prop_map(|(field, hasmask, body)| RawOxm {
            class: openflow::oxm::OFPXMC_OPENFLOW_BASIC,
            field,
            hasmask,
            body,
        });
    let experimenter = (0u8..=127, any::<bool>(), any::<u32>(), bytes(24)).prop_map(
        |(field, hasmask, exp, rest)| {
            let mut body = exp.to_be_bytes().to_vec();
            body.extend(rest);
            RawOxm {
                class: openflow::oxm::OFPXMC_EXPERIMENTER,
                field,
                hasmask,
                body,
            }
        },
    );
    let other_class = (
        prop_oneof![
            Just(openflow::oxm::OFPXMC_NXM_0),
            Just(openflow::oxm::OFPXMC_NXM_1),
            1u16..0x8000,
            0x8001u16..0xffff
        ],
        0u8..=127,
        any::<bool>(),
        bytes(255),
    )
        .prop_map(|(class, field, hasmask, body)| RawOxm {
            class,
            field,
            hasmask,
            body,
        });
    prop_oneof![basic_unknown, experimenter, other_class]
        .prop_map(Oxm::Other)
        .boxed()
}

/// One strategy per OXM variant: the 40 OpenFlow-basic fields in id order,
/// then `Oxm::Other`. Maskable fields come with and without a mask.
pub fn oxm_strategies() -> Vec<BoxedStrategy<Oxm>> {
    vec![
        exact(any::<u32>(), Oxm::InPort),
        exact(any::<u32>(), Oxm::InPhyPort),
        masked(any::<u64>(), Oxm::Metadata),
        masked(mac(), Oxm::EthDst),
        masked(mac(), Oxm::EthSrc),
        exact(any::<u16>(), Oxm::EthType),
        masked(any::<u16>(), Oxm::VlanVid),
        exact(any::<u8>(), Oxm::VlanPcp),
        exact(any::<u8>(), Oxm::IpDscp),
        exact(any::<u8>(), Oxm::IpEcn),
        exact(any::<u8>(), Oxm::IpProto),
        masked(ipv4(), Oxm::Ipv4Src),
        masked(ipv4(), Oxm::Ipv4Dst),
        masked(any::<u16>(), Oxm::TcpSrc),
        masked(any::<u16>(), Oxm::TcpDst),
        masked(any::<u16>(), Oxm::UdpSrc),
        masked(any::<u16>(), Oxm::UdpDst),
        masked(any::<u16>(), Oxm::SctpSrc),
        masked(any::<u16>(), Oxm::SctpDst),
        exact(any::<u8>(), Oxm::Icmpv4Type),
        exact(any::<u8>(), Oxm::Icmpv4Code),
        exact(any::<u16>(), Oxm::ArpOp),
        masked(ipv4(), Oxm::ArpSpa),
        masked(ipv4(), Oxm::ArpTpa),
        masked(mac(), Oxm::ArpSha),
        masked(mac(), Oxm::ArpTha),
        masked(ipv6(), Oxm::Ipv6Src),
        masked(ipv6(), Oxm::Ipv6Dst),
        masked(any::<u32>(), Oxm::Ipv6Flabel),
        exact(any::<u8>(), Oxm::Icmpv6Type),
        exact(any::<u8>(), Oxm::Icmpv6Code),
        masked(ipv6(), Oxm::Ipv6NdTarget),
        masked(mac(), Oxm::Ipv6NdSll),
        masked(mac(), Oxm::Ipv6NdTll),
        exact(any::<u32>(), Oxm::MplsLabel),
        exact(any::<u8>(), Oxm::MplsTc),
        exact(any::<u8>(), Oxm::MplsBos),
        masked(u24(), Oxm::PbbIsid),
        masked(any::<u64>(), Oxm::TunnelId),
        masked(any::<u16>(), Oxm::Ipv6Exthdr),
        raw_oxm(),
    ]
}

pub fn oxm() -> BoxedStrategy<Oxm> {
    Union::new(oxm_strategies()).boxed()
}

/// An OXM as a set_field action carries it: no mask.
pub fn set_field_oxm() -> BoxedStrategy<Oxm> {
    oxm()
        .prop_map(|o| match o {
            Oxm::Other(mut r) => {
                r.hasmask = false;
                Oxm::Other(r)
            }
            o => o.without_mask(),
        })
        .boxed()
}

pub fn match_() -> BoxedStrategy<Match> {
    vec(oxm(), 0..6).prop_map(|fields| Match { fields }).boxed()
}

// ---------------------------------------------------------------- actions

/// One strategy per action type: the 16 standard ones in numeric order, then
/// experimenter.
pub fn action_strategies() -> Vec<BoxedStrategy<Action>> {
    vec![
        (any::<u32>(), any::<u16>())
            .prop_map(|(port, max_len)| Action::Output { port, max_len })
            .boxed(),
        Just(Action::CopyTtlOut).boxed(),
        Just(Action::CopyTtlIn).boxed(),
        any::<u8>().prop_map(Action::SetMplsTtl).boxed(),
        Just(Action::DecMplsTtl).boxed(),
        any::<u16>().prop_map(Action::PushVlan).boxed(),
        Just(Action::PopVlan).boxed(),
        any::<u16>().prop_map(Action::PushMpls).boxed(),
        any::<u16>().prop_map(Action::PopMpls).boxed(),
        any::<u32>().prop_map(Action::SetQueue).boxed(),
        any::<u32>().prop_map(Action::Group).boxed(),
        any::<u8>().prop_map(Action::SetNwTtl).boxed(),
        Just(Action::DecNwTtl).boxed(),
        set_field_oxm().prop_map(Action::SetField).boxed(),
        any::<u16>().prop_map(Action::PushPbb).boxed(),
        Just(Action::PopPbb).boxed(),
        (any::<u32>(), bytes8(4))
            .prop_map(|(experimenter, data)| Action::Experimenter { experimenter, data })
            .boxed(),
    ]
}

pub fn action() -> BoxedStrategy<Action> {
    Union::new(action_strategies()).boxed()
}

pub fn actions(max: usize) -> BoxedStrategy<Vec<Action>> {
    vec(action(), 0..=max).boxed()
}

// ---------------------------------------------------------------- instructions

/// One strategy per instruction type, in numeric order, then experimenter.
pub fn instruction_strategies() -> Vec<BoxedStrategy<Instruction>> {
    vec![
        any::<u8>().prop_map(Instruction::GotoTable).boxed(),
        (any::<u64>(), any::<u64>())
            .prop_map(|(metadata, mask)| Instruction::WriteMetadata { metadata, mask })
            .boxed(),
        actions(4).prop_map(Instruction::WriteActions).boxed(),
        actions(4).prop_map(Instruction::ApplyActions).boxed(),
        Just(Instruction::ClearActions).boxed(),
        any::<u32>().prop_map(Instruction::Meter).boxed(),
        (any::<u32>(), bytes8(4))
            .prop_map(|(experimenter, data)| Instruction::Experimenter { experimenter, data })
            .boxed(),
    ]
}

pub fn instruction() -> BoxedStrategy<Instruction> {
    Union::new(instruction_strategies()).boxed()
}

pub fn instructions() -> BoxedStrategy<Vec<Instruction>> {
    vec(instruction(), 0..4).boxed()
}

// ---------------------------------------------------------------- groups, meters, ports

pub fn bucket() -> BoxedStrategy<Bucket> {
    (any::<u16>(), any::<u32>(), any::<u32>(), actions(4))
        .prop_map(|(weight, watch_port, watch_group, actions)| Bucket {
            weight,
            watch_port,
            watch_group,
            actions,
        })
        .boxed()
}

pub fn buckets() -> BoxedStrategy<Vec<Bucket>> {
    vec(bucket(), 0..4).boxed()
}

/// One strategy per meter band type: drop, dscp_remark, experimenter.
pub fn meter_band_strategies() -> Vec<BoxedStrategy<MeterBand>> {
    vec![
        (any::<u32>(), any::<u32>())
            .prop_map(|(rate, burst_size)| MeterBand::Drop { rate, burst_size })
            .boxed(),
        (any::<u32>(), any::<u32>(), any::<u8>())
            .prop_map(|(rate, burst_size, prec_level)| MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level,
            })
            .boxed(),
        (any::<u32>(), any::<u32>(), any::<u32>(), bytes8(3))
            .prop_map(
                |(rate, burst_size, experimenter, data)| MeterBand::Experimenter {
                    rate,
                    burst_size,
                    experimenter,
                    data,
                },
            )
            .boxed(),
    ]
}

pub fn meter_bands() -> BoxedStrategy<Vec<MeterBand>> {
    vec(Union::new(meter_band_strategies()), 0..4).boxed()
}

pub fn port() -> BoxedStrategy<Port> {
    (any::<u32>(), mac(), fixed_string(15), any::<[u32; 8]>())
        .prop_map(|(port_no, hw_addr, name, v)| Port {
            port_no,
            hw_addr,
            name,
            config: v[0],
            state: v[1],
            curr: v[2],
            advertised: v[3],
            supported: v[4],
            peer: v[5],
            curr_speed: v[6],
            max_speed: v[7],
        })
        .boxed()
}

// ---------------------------------------------------------------- table features

/// Instruction or action ids: standard ones are 4 bytes; experimenter ones
/// carry an experimenter id (and possibly more).
fn tlv_id() -> impl Strategy<Value = TlvId> + Clone {
    prop_oneof![
        (0u16..30).prop_map(TlvId::new),
        (any::<u32>(), bytes(8)).prop_map(|(e, rest)| {
            let mut data = e.to_be_bytes().to_vec();
            data.extend(rest);
            TlvId { typ: 0xffff, data }
        }),
        (any::<u16>(), bytes(12)).prop_map(|(typ, data)| TlvId { typ, data }),
    ]
}

fn oxm_id() -> impl Strategy<Value = OxmId> + Clone {
    prop_oneof![
        (0usize..40, any::<bool>())
            .prop_map(|(i, m)| OxmId::basic(openflow::oxm::OxmField::ALL[i], m)),
        any::<u32>().prop_map(|h| {
            let h = if h >> 16 == 0xffff {
                h & 0x7fff_ffff
            } else {
                h
            };
            OxmId {
                header: h,
                experimenter: None,
            }
        }),
        (any::<u16>(), any::<u32>()).prop_map(|(low, e)| OxmId {
            header: 0xffff_0000 | u32::from(low),
            experimenter: Some(e),
        }),
    ]
}

/// One strategy per table feature property type: the 14 defined types in
/// numeric order (instructions, instructions_miss, next_tables, ...,
/// apply_setfield_miss), experimenter, experimenter_miss, and an unknown type.
pub fn table_feature_prop_strategies() -> Vec<BoxedStrategy<TableFeatureProp>> {
    let tlvs = || vec(tlv_id(), 0..8);
    let oxms = || vec(oxm_id(), 0..10);
    let mut v = Vec::new();
    for miss in [false, true] {
        v.push(
            tlvs()
                .prop_map(move |ids| TableFeatureProp::Instructions { miss, ids })
                .boxed(),
        );
    }
    for miss in [false, true] {
        v.push(
            bytes(40)
                .prop_map(move |tables| TableFeatureProp::NextTables { miss, tables })
                .boxed(),
        );
    }
    for miss in [false, true] {
        v.push(
            tlvs()
                .prop_map(move |ids| TableFeatureProp::WriteActions { miss, ids })
                .boxed(),
        );
    }
    for miss in [false, true] {
        v.push(
            tlvs()
                .prop_map(move |ids| TableFeatureProp::ApplyActions { miss, ids })
                .boxed(),
        );
    }
    v.push(oxms().prop_map(TableFeatureProp::Match).boxed());
    v.push(oxms().prop_map(TableFeatureProp::Wildcards).boxed());
    for miss in [false, true] {
        v.push(
            oxms()
                .prop_map(move |ids| TableFeatureProp::WriteSetfield { miss, ids })
                .boxed(),
        );
    }
    for miss in [false, true] {
        v.push(
            oxms()
                .prop_map(move |ids| TableFeatureProp::ApplySetfield { miss, ids })
                .boxed(),
        );
    }
    for miss in [false, true] {
        v.push(
            (any::<u32>(), any::<u32>(), bytes(20))
                .prop_map(
                    move |(experimenter, exp_type, data)| TableFeatureProp::Experimenter {
                        miss,
                        experimenter,
                        exp_type,
                        data,
                    },
                )
                .boxed(),
        );
    }
    v.push(
        (
            prop_oneof![Just(9u16), Just(11u16), 16u16..0xfffe],
            bytes(20),
        )
            .prop_map(|(typ, data)| TableFeatureProp::Unknown { typ, data })
            .boxed(),
    );
    v
}

pub fn table_feature_prop() -> BoxedStrategy<TableFeatureProp> {
    Union::new(table_feature_prop_strategies()).boxed()
}

pub fn table_features() -> BoxedStrategy<TableFeatures> {
    (
        any::<u8>(),
        fixed_string(31),
        any::<u64>(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        vec(table_feature_prop(), 0..8),
    )
        .prop_map(
            |(table_id, name, metadata_match, metadata_write, config, max_entries, properties)| {
                TableFeatures {
                    table_id,
                    name,
                    metadata_match,
                    metadata_write,
                    config,
                    max_entries,
                    properties,
                }
            },
        )
        .boxed()
}

// ---------------------------------------------------------------- multipart

pub fn flow_stats_request() -> BoxedStrategy<FlowStatsRequest> {
    (
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        match_(),
    )
        .prop_map(
            |(table_id, out_port, out_group, cookie, cookie_mask, match_)| FlowStatsRequest {
                table_id,
                out_port,
                out_group,
                cookie,
                cookie_mask,
                match_,
            },
        )
        .boxed()
}

pub fn experimenter() -> BoxedStrategy<Experimenter> {
    (any::<u32>(), any::<u32>(), bytes(64))
        .prop_map(|(experimenter, exp_type, data)| Experimenter {
            experimenter,
            exp_type,
            data,
        })
        .boxed()
}

/// One strategy per multipart type (request side), in numeric order with
/// experimenter last.
pub fn mp_request_strategies() -> Vec<BoxedStrategy<MultipartRequestBody>> {
    use MultipartRequestBody as B;
    vec![
        Just(B::Desc).boxed(),
        flow_stats_request().prop_map(B::Flow).boxed(),
        flow_stats_request().prop_map(B::Aggregate).boxed(),
        Just(B::Table).boxed(),
        any::<u32>()
            .prop_map(|port_no| B::PortStats { port_no })
            .boxed(),
        (any::<u32>(), any::<u32>())
            .prop_map(|(port_no, queue_id)| B::Queue { port_no, queue_id })
            .boxed(),
        any::<u32>()
            .prop_map(|group_id| B::Group { group_id })
            .boxed(),
        Just(B::GroupDesc).boxed(),
        Just(B::GroupFeatures).boxed(),
        any::<u32>()
            .prop_map(|meter_id| B::Meter { meter_id })
            .boxed(),
        any::<u32>()
            .prop_map(|meter_id| B::MeterConfig { meter_id })
            .boxed(),
        Just(B::MeterFeatures).boxed(),
        vec(table_features(), 0..3)
            .prop_map(B::TableFeatures)
            .boxed(),
        Just(B::PortDesc).boxed(),
        experimenter().prop_map(B::Experimenter).boxed(),
    ]
}

pub fn flow_stats() -> BoxedStrategy<FlowStats> {
    (
        (any::<u8>(), any::<u32>(), any::<u32>(), any::<u16>()),
        (any::<u16>(), any::<u16>(), any::<u16>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
        match_(),
        instructions(),
    )
        .prop_map(
            |(
                (table_id, duration_sec, duration_nsec, priority),
                (idle_timeout, hard_timeout, flags),
                (cookie, packet_count, byte_count),
                match_,
                instructions,
            )| FlowStats {
                table_id,
                duration_sec,
                duration_nsec,
                priority,
                idle_timeout,
                hard_timeout,
                flags,
                cookie,
                packet_count,
                byte_count,
                match_,
                instructions,
            },
        )
        .boxed()
}

fn port_stats() -> impl Strategy<Value = PortStats> {
    (any::<u32>(), any::<[u64; 12]>(), any::<u32>(), any::<u32>()).prop_map(
        |(port_no, c, s, ns)| PortStats {
            port_no,
            rx_packets: c[0],
            tx_packets: c[1],
            rx_bytes: c[2],
            tx_bytes: c[3],
            rx_dropped: c[4],
            tx_dropped: c[5],
            rx_errors: c[6],
            tx_errors: c[7],
            rx_frame_err: c[8],
            rx_over_err: c[9],
            rx_crc_err: c[10],
            collisions: c[11],
            duration_sec: s,
            duration_nsec: ns,
        },
    )
}

/// One strategy per multipart type (reply side), in numeric order with
/// experimenter last.
pub fn mp_reply_strategies() -> Vec<BoxedStrategy<MultipartReplyBody>> {
    use MultipartReplyBody as B;
    vec![
        (
            fixed_string(255),
            fixed_string(255),
            fixed_string(255),
            fixed_string(31),
            fixed_string(255),
        )
            .prop_map(|(mfr_desc, hw_desc, sw_desc, serial_num, dp_desc)| {
                B::Desc(Desc {
                    mfr_desc,
                    hw_desc,
                    sw_desc,
                    serial_num,
                    dp_desc,
                })
            })
            .boxed(),
        vec(flow_stats(), 0..4).prop_map(B::Flow).boxed(),
        (any::<u64>(), any::<u64>(), any::<u32>())
            .prop_map(|(packet_count, byte_count, flow_count)| {
                B::Aggregate(AggregateStats {
                    packet_count,
                    byte_count,
                    flow_count,
                })
            })
            .boxed(),
        vec(
            (any::<u8>(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
                |(table_id, active_count, lookup_count, matched_count)| TableStats {
                    table_id,
                    active_count,
                    lookup_count,
                    matched_count,
                },
            ),
            0..6,
        )
        .prop_map(B::Table)
        .boxed(),
        vec(port_stats(), 0..5).prop_map(B::PortStats).boxed(),
        vec(
            (
                any::<u32>(),
                any::<u32>(),
                any::<[u64; 3]>(),
                any::<u32>(),
                any::<u32>(),
            )
                .prop_map(|(port_no, queue_id, c, s, ns)| QueueStats {
                    port_no,
                    queue_id,
                    tx_bytes: c[0],
                    tx_packets: c[1],
                    tx_errors: c[2],
                    duration_sec: s,
                    duration_nsec: ns,
                }),
            0..5,
        )
        .prop_map(B::Queue)
        .boxed(),
        vec(
            (
                any::<[u32; 4]>(),
                any::<[u64; 2]>(),
                vec(
                    any::<[u64; 2]>().prop_map(|c| BucketCounter {
                        packet_count: c[0],
                        byte_count: c[1],
                    }),
                    0..4,
                ),
            )
                .prop_map(|(a, c, bucket_stats)| GroupStats {
                    group_id: a[0],
                    ref_count: a[1],
                    packet_count: c[0],
                    byte_count: c[1],
                    duration_sec: a[2],
                    duration_nsec: a[3],
                    bucket_stats,
                }),
            0..4,
        )
        .prop_map(B::Group)
        .boxed(),
        vec(
            (any::<u8>(), any::<u32>(), buckets()).prop_map(|(group_type, group_id, buckets)| {
                GroupDesc {
                    group_type,
                    group_id,
                    buckets,
                }
            }),
            0..3,
        )
        .prop_map(B::GroupDesc)
        .boxed(),
        (
            any::<u32>(),
            any::<u32>(),
            any::<[u32; 4]>(),
            any::<[u32; 4]>(),
        )
            .prop_map(|(types, capabilities, max_groups, actions)| {
                B::GroupFeatures(GroupFeatures {
                    types,
                    capabilities,
                    max_groups,
                    actions,
                })
            })
            .boxed(),
        vec(
            (
                any::<[u32; 4]>(),
                any::<[u64; 2]>(),
                vec(
                    any::<[u64; 2]>().prop_map(|c| BandStats {
                        packet_band_count: c[0],
                        byte_band_count: c[1],
                    }),
                    0..4,
                ),
            )
                .prop_map(|(a, c, band_stats)| MeterStats {
                    meter_id: a[0],
                    flow_count: a[1],
                    packet_in_count: c[0],
                    byte_in_count: c[1],
                    duration_sec: a[2],
                    duration_nsec: a[3],
                    band_stats,
                }),
            0..4,
        )
        .prop_map(B::Meter)
        .boxed(),
        vec(
            (any::<u16>(), any::<u32>(), meter_bands()).prop_map(|(flags, meter_id, bands)| {
                MeterConfig {
                    flags,
                    meter_id,
                    bands,
                }
            }),
            0..4,
        )
        .prop_map(B::MeterConfig)
        .boxed(),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
        )
            .prop_map(
                |(max_meter, band_types, capabilities, max_bands, max_color)| {
                    B::MeterFeatures(MeterFeatures {
                        max_meter,
                        band_types,
                        capabilities,
                        max_bands,
                        max_color,
                    })
                },
            )
            .boxed(),
        vec(table_features(), 0..3)
            .prop_map(B::TableFeatures)
            .boxed(),
        vec(port(), 0..6).prop_map(B::PortDesc).boxed(),
        experimenter().prop_map(B::Experimenter).boxed(),
    ]
}

pub fn mp_request() -> BoxedStrategy<MultipartRequest> {
    (any::<u16>(), Union::new(mp_request_strategies()))
        .prop_map(|(flags, body)| MultipartRequest { flags, body })
        .boxed()
}

pub fn mp_reply() -> BoxedStrategy<MultipartReply> {
    (any::<u16>(), Union::new(mp_reply_strategies()))
        .prop_map(|(flags, body)| MultipartReply { flags, body })
        .boxed()
}

// ---------------------------------------------------------------- simple messages

/// HELLO elements: version bitmaps (including empty and multi-word ones) and
/// elements of unknown types.
pub fn hello_element_strategies() -> Vec<BoxedStrategy<HelloElement>> {
    vec![
        vec(any::<u32>(), 0..4)
            .prop_map(HelloElement::VersionBitmap)
            .boxed(),
        (
            any::<u16>().prop_filter("not a version bitmap", |t| *t != 1),
            bytes(20),
        )
            .prop_map(|(typ, data)| HelloElement::Unknown { typ, data })
            .boxed(),
    ]
}

pub fn hello() -> BoxedStrategy<Hello> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..6).prop_map(|v| Hello::with_versions(&v)),
        3 => vec(Union::new(hello_element_strategies()), 0..4)
            .prop_map(|elements| Hello { elements }),
    ]
    .boxed()
}

/// OFPT_ERROR: standard errors (named and unnamed codes) and experimenter ones.
pub fn error_msg_strategies() -> Vec<BoxedStrategy<ErrorMsg>> {
    vec![
        (of_error(), bytes(80))
            .prop_map(|(error, data)| ErrorMsg::Standard { error, data })
            .boxed(),
        (any::<u16>(), any::<u32>(), bytes(80))
            .prop_map(|(exp_type, experimenter, data)| ErrorMsg::Experimenter {
                exp_type,
                experimenter,
                data,
            })
            .boxed(),
    ]
}

pub fn queue_property_strategies() -> Vec<BoxedStrategy<QueueProperty>> {
    vec![
        any::<u16>().prop_map(QueueProperty::MinRate).boxed(),
        any::<u16>().prop_map(QueueProperty::MaxRate).boxed(),
        (any::<u32>(), bytes(24))
            .prop_map(|(experimenter, data)| QueueProperty::Experimenter { experimenter, data })
            .boxed(),
    ]
}

pub fn queue_get_config_reply() -> BoxedStrategy<QueueGetConfigReply> {
    let queue = (
        any::<u32>(),
        any::<u32>(),
        vec(Union::new(queue_property_strategies()), 0..4),
    )
        .prop_map(|(queue_id, port, properties)| PacketQueue {
            queue_id,
            port,
            properties,
        });
    (any::<u32>(), vec(queue, 0..4))
        .prop_map(|(port, queues)| QueueGetConfigReply { port, queues })
        .boxed()
}

fn async_config() -> impl Strategy<Value = AsyncConfig> {
    any::<[u32; 6]>().prop_map(|m| AsyncConfig {
        packet_in_mask: [m[0], m[1]],
        port_status_mask: [m[2], m[3]],
        flow_removed_mask: [m[4], m[5]],
    })
}

fn role_msg() -> impl Strategy<Value = RoleMsg> {
    (any::<u32>(), any::<u64>()).prop_map(|(role, generation_id)| RoleMsg {
        role,
        generation_id,
    })
}

fn switch_config() -> impl Strategy<Value = SwitchConfig> {
    (any::<u16>(), any::<u16>()).prop_map(|(flags, miss_send_len)| SwitchConfig {
        flags,
        miss_send_len,
    })
}

pub fn flow_mod() -> BoxedStrategy<FlowMod> {
    (
        (any::<u64>(), any::<u64>(), any::<u8>(), any::<u8>()),
        (any::<u16>(), any::<u16>(), any::<u16>()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u16>()),
        match_(),
        instructions(),
    )
        .prop_map(
            |(
                (cookie, cookie_mask, table_id, command),
                (idle_timeout, hard_timeout, priority),
                (buffer_id, out_port, out_group, flags),
                match_,
                instructions,
            )| FlowMod {
                cookie,
                cookie_mask,
                table_id,
                command,
                idle_timeout,
                hard_timeout,
                priority,
                buffer_id,
                out_port,
                out_group,
                flags,
                match_,
                instructions,
            },
        )
        .boxed()
}

/// One strategy per message type, in `ofp_type` order (index == type).
pub fn body_strategies() -> Vec<BoxedStrategy<Body>> {
    vec![
        hello().prop_map(Body::Hello).boxed(),
        Union::new(error_msg_strategies())
            .prop_map(Body::Error)
            .boxed(),
        bytes(64).prop_map(Body::EchoRequest).boxed(),
        bytes(64).prop_map(Body::EchoReply).boxed(),
        experimenter().prop_map(Body::Experimenter).boxed(),
        Just(Body::FeaturesRequest).boxed(),
        (
            any::<u64>(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(
                |(datapath_id, n_buffers, n_tables, auxiliary_id, capabilities, reserved)| {
                    Body::FeaturesReply(SwitchFeatures {
                        datapath_id,
                        n_buffers,
                        n_tables,
                        auxiliary_id,
                        capabilities,
                        reserved,
                    })
                },
            )
            .boxed(),
        Just(Body::GetConfigRequest).boxed(),
        switch_config().prop_map(Body::GetConfigReply).boxed(),
        switch_config().prop_map(Body::SetConfig).boxed(),
        (
            any::<u32>(),
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<u64>(),
            match_(),
            bytes(128),
        )
            .prop_map(
                |(buffer_id, total_len, reason, table_id, cookie, match_, data)| {
                    Body::PacketIn(PacketIn {
                        buffer_id,
                        total_len,
                        reason,
                        table_id,
                        cookie,
                        match_,
                        data,
                    })
                },
            )
            .boxed(),
        (
            (any::<u64>(), any::<u16>(), any::<u8>(), any::<u8>()),
            (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()),
            (any::<u64>(), any::<u64>()),
            match_(),
        )
            .prop_map(
                |(
                    (cookie, priority, reason, table_id),
                    (duration_sec, duration_nsec, idle_timeout, hard_timeout),
                    (packet_count, byte_count),
                    match_,
                )| {
                    Body::FlowRemoved(FlowRemoved {
                        cookie,
                        priority,
                        reason,
                        table_id,
                        duration_sec,
                        duration_nsec,
                        idle_timeout,
                        hard_timeout,
                        packet_count,
                        byte_count,
                        match_,
                    })
                },
            )
            .boxed(),
        (any::<u8>(), port())
            .prop_map(|(reason, desc)| Body::PortStatus(PortStatus { reason, desc }))
            .boxed(),
        (any::<u32>(), any::<u32>(), actions(6), bytes(128))
            .prop_map(|(buffer_id, in_port, actions, data)| {
                Body::PacketOut(PacketOut {
                    buffer_id,
                    in_port,
                    actions,
                    data,
                })
            })
            .boxed(),
        flow_mod().prop_map(Body::FlowMod).boxed(),
        (any::<u16>(), any::<u8>(), any::<u32>(), buckets())
            .prop_map(|(command, group_type, group_id, buckets)| {
                Body::GroupMod(GroupMod {
                    command,
                    group_type,
                    group_id,
                    buckets,
                })
            })
            .boxed(),
        (
            any::<u32>(),
            mac(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(port_no, hw_addr, config, mask, advertise)| {
                Body::PortMod(PortMod {
                    port_no,
                    hw_addr,
                    config,
                    mask,
                    advertise,
                })
            })
            .boxed(),
        (any::<u8>(), any::<u32>())
            .prop_map(|(table_id, config)| Body::TableMod(TableMod { table_id, config }))
            .boxed(),
        mp_request().prop_map(Body::MultipartRequest).boxed(),
        mp_reply().prop_map(Body::MultipartReply).boxed(),
        Just(Body::BarrierRequest).boxed(),
        Just(Body::BarrierReply).boxed(),
        any::<u32>()
            .prop_map(|port| Body::QueueGetConfigRequest { port })
            .boxed(),
        queue_get_config_reply()
            .prop_map(Body::QueueGetConfigReply)
            .boxed(),
        role_msg().prop_map(Body::RoleRequest).boxed(),
        role_msg().prop_map(Body::RoleReply).boxed(),
        Just(Body::GetAsyncRequest).boxed(),
        async_config().prop_map(Body::GetAsyncReply).boxed(),
        async_config().prop_map(Body::SetAsync).boxed(),
        (any::<u16>(), any::<u16>(), any::<u32>(), meter_bands())
            .prop_map(|(command, flags, meter_id, bands)| {
                Body::MeterMod(MeterMod {
                    command,
                    flags,
                    meter_id,
                    bands,
                })
            })
            .boxed(),
    ]
}

pub fn body() -> BoxedStrategy<Body> {
    Union::new(body_strategies()).boxed()
}

/// A whole message: version 0x04, except that a HELLO may carry any version.
pub fn message() -> BoxedStrategy<Message> {
    (any::<u32>(), any::<u8>(), body())
        .prop_map(|(xid, v, body)| {
            let mut m = Message::new(xid, body);
            if matches!(m.body, Body::Hello(_)) && v % 2 == 0 {
                m.version = v;
            }
            m
        })
        .boxed()
}

/// A message of one given `ofp_type`.
pub fn message_of_type(t: u8) -> BoxedStrategy<Message> {
    let s = body_strategies().swap_remove(usize::from(t));
    (any::<u32>(), s)
        .prop_map(|(xid, body)| Message::new(xid, body))
        .boxed()
}
