//! Expected encoded sizes computed from the OpenFlow 1.3.5 structure layouts
//! (`openflow.h` sizes and the OFP_ASSERTs of the spec), independently of
//! the crate's own `wire_len` functions, so a length bug in the crate does
//! not hide behind the same arithmetic in the test.

use openflow::action::Action;
use openflow::instruction::Instruction;
use openflow::message::{Body, Message};
use openflow::messages::{ErrorMsg, HelloElement, QueueProperty};
use openflow::meter::MeterBand;
use openflow::multipart::{MultipartReplyBody, MultipartRequestBody};
use openflow::oxm::{Match, Oxm};
use openflow::table_features::{TableFeatureProp, TableFeatures};

/// Rounds up to a multiple of 8 (OpenFlow's 64-bit alignment).
pub fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Payload size of an OXM (spec 7.2.3.7, table 13), without a mask.
fn oxm_value_size(o: &Oxm) -> usize {
    use Oxm::*;
    match o {
        InPort(_) | InPhyPort(_) => 4,
        Metadata(..) => 8,
        EthDst(..) | EthSrc(..) => 6,
        EthType(_) => 2,
        VlanVid(..) => 2,
        VlanPcp(_) | IpDscp(_) | IpEcn(_) | IpProto(_) => 1,
        Ipv4Src(..) | Ipv4Dst(..) => 4,
        TcpSrc(..) | TcpDst(..) | UdpSrc(..) | UdpDst(..) | SctpSrc(..) | SctpDst(..) => 2,
        Icmpv4Type(_) | Icmpv4Code(_) => 1,
        ArpOp(_) => 2,
        ArpSpa(..) | ArpTpa(..) => 4,
        ArpSha(..) | ArpTha(..) => 6,
        Ipv6Src(..) | Ipv6Dst(..) => 16,
        Ipv6Flabel(..) => 4,
        Icmpv6Type(_) | Icmpv6Code(_) => 1,
        Ipv6NdTarget(..) => 16,
        Ipv6NdSll(..) | Ipv6NdTll(..) => 6,
        MplsLabel(_) => 4,
        MplsTc(_) | MplsBos(_) => 1,
        PbbIsid(..) => 3,
        TunnelId(..) => 8,
        Ipv6Exthdr(..) => 2,
        Other(r) => r.body.len(),
    }
}

/// OXM TLV size: 4-byte header + value (+ mask of the same size).
pub fn oxm_size(o: &Oxm) -> usize {
    let v = oxm_value_size(o);
    match o {
        Oxm::Other(_) => 4 + v,
        _ if o.has_mask() => 4 + 2 * v,
        _ => 4 + v,
    }
}

/// `ofp_match` size without padding (its `length` field).
pub fn match_unpadded(m: &Match) -> usize {
    4 + m.fields.iter().map(oxm_size).sum::<usize>()
}

/// `ofp_match` size with padding to 8.
pub fn match_size(m: &Match) -> usize {
    align8(match_unpadded(m))
}

pub fn action_size(a: &Action) -> usize {
    match a {
        Action::Output { .. } => 16, // ofp_action_output
        Action::SetField(o) => align8(4 + oxm_size(o)),
        Action::Experimenter { data, .. } => align8(8 + data.len()),
        _ => 8, // ofp_action_generic / mpls_ttl / push / pop_mpls / set_queue / group / nw_ttl
    }
}

pub fn actions_size(a: &[Action]) -> usize {
    a.iter().map(action_size).sum()
}

pub fn instruction_size(i: &Instruction) -> usize {
    match i {
        Instruction::GotoTable(_) | Instruction::ClearActions | Instruction::Meter(_) => 8,
        Instruction::WriteMetadata { .. } => 24,
        Instruction::WriteActions(a) | Instruction::ApplyActions(a) => 8 + actions_size(a),
        Instruction::Experimenter { data, .. } => align8(8 + data.len()),
    }
}

pub fn instructions_size(i: &[Instruction]) -> usize {
    i.iter().map(instruction_size).sum()
}

fn band_size(b: &MeterBand) -> usize {
    match b {
        MeterBand::Experimenter { data, .. } => 16 + data.len(),
        _ => 16,
    }
}

fn bucket_size(b: &openflow::Bucket) -> usize {
    16 + actions_size(&b.actions)
}

fn prop_size(p: &TableFeatureProp) -> usize {
    let body = match p {
        TableFeatureProp::Instructions { ids, .. }
        | TableFeatureProp::WriteActions { ids, .. }
        | TableFeatureProp::ApplyActions { ids, .. } => {
            ids.iter().map(|i| 4 + i.data.len()).sum::<usize>()
        }
        TableFeatureProp::NextTables { tables, .. } => tables.len(),
        TableFeatureProp::Match(ids)
        | TableFeatureProp::Wildcards(ids)
        | TableFeatureProp::WriteSetfield { ids, .. }
        | TableFeatureProp::ApplySetfield { ids, .. } => ids
            .iter()
            .map(|i| if i.header >> 16 == 0xffff { 8 } else { 4 })
            .sum(),
        TableFeatureProp::Experimenter { data, .. } => 8 + data.len(),
        TableFeatureProp::Unknown { data, .. } => data.len(),
    };
    align8(4 + body)
}

pub fn table_features_size(t: &TableFeatures) -> usize {
    64 + t.properties.iter().map(prop_size).sum::<usize>()
}

fn mp_request_body_size(b: &MultipartRequestBody) -> usize {
    use MultipartRequestBody as B;
    match b {
        B::Desc | B::Table | B::GroupDesc | B::GroupFeatures | B::MeterFeatures | B::PortDesc => 0,
        B::Flow(f) | B::Aggregate(f) => 32 + match_size(&f.match_),
        B::PortStats { .. }
        | B::Queue { .. }
        | B::Group { .. }
        | B::Meter { .. }
        | B::MeterConfig { .. } => 8,
        B::TableFeatures(v) => v.iter().map(table_features_size).sum(),
        B::Experimenter(e) => 8 + e.data.len(),
    }
}

fn mp_reply_body_size(b: &MultipartReplyBody) -> usize {
    use MultipartReplyBody as B;
    match b {
        B::Desc(_) => 1056,
        B::Flow(v) => v
            .iter()
            .map(|f| 48 + match_size(&f.match_) + instructions_size(&f.instructions))
            .sum(),
        B::Aggregate(_) => 24,
        B::Table(v) => 24 * v.len(),
        B::PortStats(v) => 112 * v.len(),
        B::Queue(v) => 40 * v.len(),
        B::Group(v) => v.iter().map(|g| 40 + 16 * g.bucket_stats.len()).sum(),
        B::GroupDesc(v) => v
            .iter()
            .map(|g| 8 + g.buckets.iter().map(bucket_size).sum::<usize>())
            .sum(),
        B::GroupFeatures(_) => 40,
        B::Meter(v) => v.iter().map(|m| 40 + 16 * m.band_stats.len()).sum(),
        B::MeterConfig(v) => v
            .iter()
            .map(|m| 8 + m.bands.iter().map(band_size).sum::<usize>())
            .sum(),
        B::MeterFeatures(_) => 16,
        B::TableFeatures(v) => v.iter().map(table_features_size).sum(),
        B::PortDesc(v) => 64 * v.len(),
        B::Experimenter(e) => 8 + e.data.len(),
    }
}

/// The size of a whole message per the spec's structure layouts.
pub fn message_size(m: &Message) -> usize {
    match &m.body {
        Body::Hello(h) => {
            8 + h
                .elements
                .iter()
                .map(|e| match e {
                    HelloElement::VersionBitmap(bm) => align8(4 + 4 * bm.len()),
                    HelloElement::Unknown { data, .. } => align8(4 + data.len()),
                })
                .sum::<usize>()
        }
        Body::Error(ErrorMsg::Standard { data, .. }) => 12 + data.len(),
        Body::Error(ErrorMsg::Experimenter { data, .. }) => 16 + data.len(),
        Body::EchoRequest(d) | Body::EchoReply(d) => 8 + d.len(),
        Body::Experimenter(e) => 16 + e.data.len(),
        Body::FeaturesRequest
        | Body::GetConfigRequest
        | Body::BarrierRequest
        | Body::BarrierReply
        | Body::GetAsyncRequest => 8,
        Body::FeaturesReply(_) => 32,
        Body::GetConfigReply(_) | Body::SetConfig(_) => 12,
        // ofp_packet_in is 32 bytes with an empty 8-byte match, + 2 pad
        Body::PacketIn(p) => 24 + match_size(&p.match_) + 2 + p.data.len(),
        // ofp_flow_removed is 56 bytes with an empty 8-byte match
        Body::FlowRemoved(f) => 48 + match_size(&f.match_),
        Body::PortStatus(_) => 80,
        Body::PacketOut(p) => 24 + actions_size(&p.actions) + p.data.len(),
        // ofp_flow_mod is 56 bytes with an empty 8-byte match
        Body::FlowMod(f) => 48 + match_size(&f.match_) + instructions_size(&f.instructions),
        Body::GroupMod(g) => 16 + g.buckets.iter().map(bucket_size).sum::<usize>(),
        Body::PortMod(_) => 40,
        Body::TableMod(_) => 16,
        Body::MultipartRequest(r) => 16 + mp_request_body_size(&r.body),
        Body::MultipartReply(r) => 16 + mp_reply_body_size(&r.body),
        Body::QueueGetConfigRequest { .. } => 16,
        Body::QueueGetConfigReply(q) => {
            16 + q
                .queues
                .iter()
                .map(|q| {
                    16 + q
                        .properties
                        .iter()
                        .map(|p| match p {
                            QueueProperty::Experimenter { data, .. } => 16 + data.len(),
                            _ => 16,
                        })
                        .sum::<usize>()
                })
                .sum::<usize>()
        }
        Body::RoleRequest(_) | Body::RoleReply(_) => 24,
        Body::GetAsyncReply(_) | Body::SetAsync(_) => 32,
        Body::MeterMod(mm) => 16 + mm.bands.iter().map(band_size).sum::<usize>(),
    }
}

/// Big-endian u16 at `at`.
pub fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Checks fields at fixed offsets of the encoding against the value: the
/// header, the multipart type, and where an `ofp_match` sits. Returns a
/// description of the first mismatch.
pub fn check_offsets(m: &Message, b: &[u8]) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{what} wrong in {b:02x?}"));
    if b[0] != m.version || b[1] != m.body.msg_type() {
        return fail("header version/type");
    }
    if usize::from(be16(b, 2)) != b.len() {
        return fail("header length");
    }
    if u32::from_be_bytes([b[4], b[5], b[6], b[7]]) != m.xid {
        return fail("xid");
    }
    let match_at = |off: usize, mt: &Match| -> Result<(), String> {
        if be16(b, off) != 1 || usize::from(be16(b, off + 2)) != match_unpadded(mt) {
            return Err(format!("ofp_match at offset {off} wrong in {b:02x?}"));
        }
        Ok(())
    };
    match &m.body {
        Body::MultipartRequest(r) => {
            if be16(b, 8) != r.mp_type() || be16(b, 10) != r.flags {
                return fail("multipart type/flags");
            }
            if let MultipartRequestBody::Flow(f) | MultipartRequestBody::Aggregate(f) = &r.body {
                match_at(48, &f.match_)?;
            }
        }
        Body::MultipartReply(r) if be16(b, 8) != r.mp_type() || be16(b, 10) != r.flags => {
            return fail("multipart type/flags");
        }
        Body::FlowMod(f) => match_at(48, &f.match_)?,
        Body::FlowRemoved(f) => match_at(48, &f.match_)?,
        Body::PacketIn(p) => match_at(24, &p.match_)?,
        Body::PacketOut(p) if usize::from(be16(b, 16)) != actions_size(&p.actions) => {
            return fail("packet_out actions_len");
        }
        _ => {}
    }
    Ok(())
}
