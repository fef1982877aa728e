//! MULTIPART_REQUEST and MULTIPART_REPLY (spec 7.3.5) with every body type.
//!
//! A reply that does not fit one message is split by the sender into several,
//! all but the last with OFPMPF_REPLY_MORE; [`MultipartReply::flags`] carries
//! that bit and callers join the parts.

use crate::error::{bad, DecodeError, OfError};
use crate::group::Bucket;
use crate::instruction::Instruction;
use crate::messages::Experimenter;
use crate::meter::MeterBand;
use crate::oxm::Match;
use crate::port::Port;
use crate::table_features::TableFeatures;
use crate::types::{group_no, port_no, table_no};
use crate::wire::{len16, put_string, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_multipart_type`.
pub mod mp_type {
    pub const DESC: u16 = 0;
    pub const FLOW: u16 = 1;
    pub const AGGREGATE: u16 = 2;
    pub const TABLE: u16 = 3;
    pub const PORT_STATS: u16 = 4;
    pub const QUEUE: u16 = 5;
    pub const GROUP: u16 = 6;
    pub const GROUP_DESC: u16 = 7;
    pub const GROUP_FEATURES: u16 = 8;
    pub const METER: u16 = 9;
    pub const METER_CONFIG: u16 = 10;
    pub const METER_FEATURES: u16 = 11;
    pub const TABLE_FEATURES: u16 = 12;
    pub const PORT_DESC: u16 = 13;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// OFPMPF_REQ_MORE / OFPMPF_REPLY_MORE.
pub const MORE: u16 = 1;

/// Body of OFPMP_FLOW and OFPMP_AGGREGATE requests.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowStatsRequest {
    pub table_id: u8,
    pub out_port: u32,
    pub out_group: u32,
    pub cookie: u64,
    pub cookie_mask: u64,
    pub match_: Match,
}

impl Default for FlowStatsRequest {
    /// All flows of all tables.
    fn default() -> Self {
        FlowStatsRequest {
            table_id: table_no::ALL,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Match::new(),
        }
    }
}

impl FlowStatsRequest {
    fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(self.table_id);
        put_zeros(out, 3);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        put_zeros(out, 4);
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        self.match_.encode(out);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table_id = r.u8("table_id")?;
        r.skip(3, "pad")?;
        let out_port = r.u32("out_port")?;
        let out_group = r.u32("out_group")?;
        r.skip(4, "pad")?;
        Ok(FlowStatsRequest {
            table_id,
            out_port,
            out_group,
            cookie: r.u64("cookie")?,
            cookie_mask: r.u64("cookie_mask")?,
            match_: Match::decode(r)?,
        })
    }
}

/// The body of a multipart request.
#[derive(Clone, Debug, PartialEq)]
pub enum MultipartRequestBody {
    Desc,
    Flow(FlowStatsRequest),
    Aggregate(FlowStatsRequest),
    Table,
    PortStats {
        port_no: u32,
    },
    Queue {
        port_no: u32,
        queue_id: u32,
    },
    Group {
        group_id: u32,
    },
    GroupDesc,
    GroupFeatures,
    Meter {
        meter_id: u32,
    },
    MeterConfig {
        meter_id: u32,
    },
    MeterFeatures,
    /// Empty to ask; non-empty to set the tables' features.
    TableFeatures(Vec<TableFeatures>),
    PortDesc,
    Experimenter(Experimenter),
}

/// OFPT_MULTIPART_REQUEST.
#[derive(Clone, Debug, PartialEq)]
pub struct MultipartRequest {
    pub flags: u16,
    pub body: MultipartRequestBody,
}

impl MultipartRequest {
    pub fn new(body: MultipartRequestBody) -> Self {
        MultipartRequest { flags: 0, body }
    }

    /// A TABLE_FEATURES "set" as the request parts that carry it (one xid
    /// for all, see `Channel::request_parts`): as many whole tables in each
    /// message as fit in `max_len` bytes (at most 65535), every part but the
    /// last flagged OFPMPF_REQ_MORE. A switch's full list does not fit one
    /// message (Open vSwitch's 254 tables take about 1.3 MB). `None` if one
    /// table alone does not fit, or `tables` is empty (an empty body asks
    /// rather than sets).
    pub fn table_features_set(tables: Vec<TableFeatures>, max_len: usize) -> Option<Vec<Self>> {
        // The OpenFlow header and the multipart header.
        const OVERHEAD: usize = crate::message::HEADER_LEN + 8;
        let room = max_len
            .min(crate::message::MAX_MESSAGE_LEN)
            .checked_sub(OVERHEAD)?;
        let mut parts: Vec<Vec<TableFeatures>> = Vec::new();
        let mut used = 0;
        for t in tables {
            let n = t.wire_len();
            if n > room {
                return None;
            }
            match parts.last_mut() {
                Some(last) if used + n <= room => last.push(t),
                _ => {
                    parts.push(vec![t]);
                    used = 0;
                }
            }
            used += n;
        }
        if parts.is_empty() {
            return None;
        }
        let last = parts.len() - 1;
        Some(
            parts
                .into_iter()
                .enumerate()
                .map(|(i, t)| MultipartRequest {
                    flags: if i < last { MORE } else { 0 },
                    body: MultipartRequestBody::TableFeatures(t),
                })
                .collect(),
        )
    }

    pub fn mp_type(&self) -> u16 {
        use MultipartRequestBody as B;
        match &self.body {
            B::Desc => mp_type::DESC,
            B::Flow(_) => mp_type::FLOW,
            B::Aggregate(_) => mp_type::AGGREGATE,
            B::Table => mp_type::TABLE,
            B::PortStats { .. } => mp_type::PORT_STATS,
            B::Queue { .. } => mp_type::QUEUE,
            B::Group { .. } => mp_type::GROUP,
            B::GroupDesc => mp_type::GROUP_DESC,
            B::GroupFeatures => mp_type::GROUP_FEATURES,
            B::Meter { .. } => mp_type::METER,
            B::MeterConfig { .. } => mp_type::METER_CONFIG,
            B::MeterFeatures => mp_type::METER_FEATURES,
            B::TableFeatures(_) => mp_type::TABLE_FEATURES,
            B::PortDesc => mp_type::PORT_DESC,
            B::Experimenter(_) => mp_type::EXPERIMENTER,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        use MultipartRequestBody as B;
        out.put_u16(self.mp_type());
        out.put_u16(self.flags);
        put_zeros(out, 4);
        match &self.body {
            B::Desc
            | B::Table
            | B::GroupDesc
            | B::GroupFeatures
            | B::MeterFeatures
            | B::PortDesc => {}
            B::Flow(f) | B::Aggregate(f) => f.encode(out),
            B::PortStats { port_no } => {
                out.put_u32(*port_no);
                put_zeros(out, 4);
            }
            B::Queue { port_no, queue_id } => {
                out.put_u32(*port_no);
                out.put_u32(*queue_id);
            }
            B::Group { group_id: id }
            | B::Meter { meter_id: id }
            | B::MeterConfig { meter_id: id } => {
                out.put_u32(*id);
                put_zeros(out, 4);
            }
            B::TableFeatures(t) => t.iter().for_each(|t| t.encode(out)),
            B::Experimenter(e) => e.encode(out),
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use MultipartRequestBody as B;
        let typ = r.u16("multipart type")?;
        let flags = r.u16("flags")?;
        r.skip(4, "pad")?;
        let id_pad = |r: &mut Reader<'_>| -> Result<u32, DecodeError> {
            let id = r.u32("id")?;
            r.skip(4, "pad")?;
            Ok(id)
        };
        let body = match typ {
            mp_type::DESC => B::Desc,
            mp_type::FLOW => B::Flow(FlowStatsRequest::decode(r)?),
            mp_type::AGGREGATE => B::Aggregate(FlowStatsRequest::decode(r)?),
            mp_type::TABLE => B::Table,
            mp_type::PORT_STATS => B::PortStats {
                port_no: id_pad(r)?,
            },
            mp_type::QUEUE => B::Queue {
                port_no: r.u32("port_no")?,
                queue_id: r.u32("queue_id")?,
            },
            mp_type::GROUP => B::Group {
                group_id: id_pad(r)?,
            },
            mp_type::GROUP_DESC => B::GroupDesc,
            mp_type::GROUP_FEATURES => B::GroupFeatures,
            mp_type::METER => B::Meter {
                meter_id: id_pad(r)?,
            },
            mp_type::METER_CONFIG => B::MeterConfig {
                meter_id: id_pad(r)?,
            },
            mp_type::METER_FEATURES => B::MeterFeatures,
            mp_type::TABLE_FEATURES => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    v.push(TableFeatures::decode(r)?);
                }
                B::TableFeatures(v)
            }
            mp_type::PORT_DESC => B::PortDesc,
            mp_type::EXPERIMENTER => B::Experimenter(Experimenter::decode(r)?),
            _ => return bad(OfError::BRC_BAD_MULTIPART, "unknown multipart type"),
        };
        if !r.is_empty() && !matches!(typ, mp_type::EXPERIMENTER | mp_type::TABLE_FEATURES) {
            return bad(
                OfError::BRC_BAD_LEN,
                "trailing bytes after multipart request body",
            );
        }
        Ok(MultipartRequest { flags, body })
    }
}

/// OFPMP_DESC reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desc {
    pub mfr_desc: String,
    pub hw_desc: String,
    pub sw_desc: String,
    pub serial_num: String,
    pub dp_desc: String,
}

pub const DESC_STR_LEN: usize = 256;
pub const SERIAL_NUM_LEN: usize = 32;

/// One entry of an OFPMP_FLOW reply.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowStats {
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub priority: u16,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub cookie: u64,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl FlowStats {
    pub fn wire_len(&self) -> usize {
        48 + self.match_.wire_len() + Instruction::list_len(&self.instructions)
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(len16(self.wire_len()));
        out.put_u8(self.table_id);
        put_zeros(out, 1);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.priority);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.flags);
        put_zeros(out, 4);
        out.put_u64(self.cookie);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        self.match_.encode(out);
        Instruction::encode_list(&self.instructions, out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut h = Reader::new(r.rest(), OfError::BRC_BAD_LEN);
        let len = usize::from(h.u16("flow stats length")?);
        if len < 56 {
            return bad(OfError::BRC_BAD_LEN, "flow stats entry below 56 bytes");
        }
        let mut b = r.sub(len, "flow stats entry")?;
        b.skip(2, "length")?;
        let table_id = b.u8("table_id")?;
        b.skip(1, "pad")?;
        let duration_sec = b.u32("duration_sec")?;
        let duration_nsec = b.u32("duration_nsec")?;
        let priority = b.u16("priority")?;
        let idle_timeout = b.u16("idle_timeout")?;
        let hard_timeout = b.u16("hard_timeout")?;
        let flags = b.u16("flags")?;
        b.skip(4, "pad")?;
        let cookie = b.u64("cookie")?;
        let packet_count = b.u64("packet_count")?;
        let byte_count = b.u64("byte_count")?;
        let match_ = Match::decode(&mut b)?;
        let mut ins = Reader::new(b.rest(), OfError::BIC_BAD_LEN);
        Ok(FlowStats {
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
            instructions: Instruction::decode_list(&mut ins)?,
        })
    }
}

/// OFPMP_AGGREGATE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AggregateStats {
    pub packet_count: u64,
    pub byte_count: u64,
    pub flow_count: u32,
}

/// One entry of an OFPMP_TABLE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    pub table_id: u8,
    pub active_count: u32,
    pub lookup_count: u64,
    pub matched_count: u64,
}

/// One entry of an OFPMP_PORT_STATS reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub port_no: u32,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_frame_err: u64,
    pub rx_over_err: u64,
    pub rx_crc_err: u64,
    pub collisions: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// One entry of an OFPMP_QUEUE reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub port_no: u32,
    pub queue_id: u32,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
}

/// Packet and byte counters of one bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketCounter {
    pub packet_count: u64,
    pub byte_count: u64,
}

/// One entry of an OFPMP_GROUP reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    pub group_id: u32,
    pub ref_count: u32,
    pub packet_count: u64,
    pub byte_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub bucket_stats: Vec<BucketCounter>,
}

/// One entry of an OFPMP_GROUP_DESC reply.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupDesc {
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

/// OFPMP_GROUP_FEATURES reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupFeatures {
    pub types: u32,
    pub capabilities: u32,
    pub max_groups: [u32; 4],
    pub actions: [u32; 4],
}

/// `ofp_group_capabilities`.
pub mod group_capabilities {
    pub const SELECT_WEIGHT: u32 = 1 << 0;
    pub const SELECT_LIVENESS: u32 = 1 << 1;
    pub const CHAINING: u32 = 1 << 2;
    pub const CHAINING_CHECKS: u32 = 1 << 3;
}

/// Packet and byte counters of one meter band.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BandStats {
    pub packet_band_count: u64,
    pub byte_band_count: u64,
}

/// One entry of an OFPMP_METER reply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeterStats {
    pub meter_id: u32,
    pub flow_count: u32,
    pub packet_in_count: u64,
    pub byte_in_count: u64,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub band_stats: Vec<BandStats>,
}

/// One entry of an OFPMP_METER_CONFIG reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterConfig {
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

/// OFPMP_METER_FEATURES reply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MeterFeatures {
    pub max_meter: u32,
    pub band_types: u32,
    pub capabilities: u32,
    pub max_bands: u8,
    pub max_color: u8,
}

/// The body of a multipart reply.
#[derive(Clone, Debug, PartialEq)]
pub enum MultipartReplyBody {
    Desc(Desc),
    Flow(Vec<FlowStats>),
    Aggregate(AggregateStats),
    Table(Vec<TableStats>),
    PortStats(Vec<PortStats>),
    Queue(Vec<QueueStats>),
    Group(Vec<GroupStats>),
    GroupDesc(Vec<GroupDesc>),
    GroupFeatures(GroupFeatures),
    Meter(Vec<MeterStats>),
    MeterConfig(Vec<MeterConfig>),
    MeterFeatures(MeterFeatures),
    TableFeatures(Vec<TableFeatures>),
    PortDesc(Vec<Port>),
    Experimenter(Experimenter),
}

/// OFPT_MULTIPART_REPLY.
#[derive(Clone, Debug, PartialEq)]
pub struct MultipartReply {
    pub flags: u16,
    pub body: MultipartReplyBody,
}

fn list<T>(
    r: &mut Reader<'_>,
    mut one: impl FnMut(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push(one(r)?);
    }
    Ok(v)
}

/// Reads a sub-structure whose first u16 is its own length, at least `min`.
fn sized<'a>(
    r: &mut Reader<'a>,
    min: usize,
    what: &'static str,
) -> Result<Reader<'a>, DecodeError> {
    let mut h = Reader::new(r.rest(), OfError::BRC_BAD_LEN);
    let len = usize::from(h.u16(what)?);
    if len < min {
        return bad(OfError::BRC_BAD_LEN, what);
    }
    r.sub(len, what)
}

impl MultipartReply {
    pub fn new(body: MultipartReplyBody) -> Self {
        MultipartReply { flags: 0, body }
    }

    pub fn mp_type(&self) -> u16 {
        use MultipartReplyBody as B;
        match &self.body {
            B::Desc(_) => mp_type::DESC,
            B::Flow(_) => mp_type::FLOW,
            B::Aggregate(_) => mp_type::AGGREGATE,
            B::Table(_) => mp_type::TABLE,
            B::PortStats(_) => mp_type::PORT_STATS,
            B::Queue(_) => mp_type::QUEUE,
            B::Group(_) => mp_type::GROUP,
            B::GroupDesc(_) => mp_type::GROUP_DESC,
            B::GroupFeatures(_) => mp_type::GROUP_FEATURES,
            B::Meter(_) => mp_type::METER,
            B::MeterConfig(_) => mp_type::METER_CONFIG,
            B::MeterFeatures(_) => mp_type::METER_FEATURES,
            B::TableFeatures(_) => mp_type::TABLE_FEATURES,
            B::PortDesc(_) => mp_type::PORT_DESC,
            B::Experimenter(_) => mp_type::EXPERIMENTER,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        use MultipartReplyBody as B;
        out.put_u16(self.mp_type());
        out.put_u16(self.flags);
        put_zeros(out, 4);
        match &self.body {
            B::Desc(d) => {
                put_string(out, &d.mfr_desc, DESC_STR_LEN);
                put_string(out, &d.hw_desc, DESC_STR_LEN);
                put_string(out, &d.sw_desc, DESC_STR_LEN);
                put_string(out, &d.serial_num, SERIAL_NUM_LEN);
                put_string(out, &d.dp_desc, DESC_STR_LEN);
            }
            B::Flow(v) => v.iter().for_each(|f| f.encode(out)),
            B::Aggregate(a) => {
                out.put_u64(a.packet_count);
                out.put_u64(a.byte_count);
                out.put_u32(a.flow_count);
                put_zeros(out, 4);
            }
            B::Table(v) => {
                for t in v {
                    out.put_u8(t.table_id);
                    put_zeros(out, 3);
                    out.put_u32(t.active_count);
                    out.put_u64(t.lookup_count);
                    out.put_u64(t.matched_count);
                }
            }
            B::PortStats(v) => {
                for p in v {
                    out.put_u32(p.port_no);
                    put_zeros(out, 4);
                    for c in [
                        p.rx_packets,
                        p.tx_packets,
                        p.rx_bytes,
                        p.tx_bytes,
                        p.rx_dropped,
                        p.tx_dropped,
                        p.rx_errors,
                        p.tx_errors,
                        p.rx_frame_err,
                        p.rx_over_err,
                        p.rx_crc_err,
                        p.collisions,
                    ] {
                        out.put_u64(c);
                    }
                    out.put_u32(p.duration_sec);
                    out.put_u32(p.duration_nsec);
                }
            }
            B::Queue(v) => {
                for q in v {
                    out.put_u32(q.port_no);
                    out.put_u32(q.queue_id);
                    out.put_u64(q.tx_bytes);
                    out.put_u64(q.tx_packets);
                    out.put_u64(q.tx_errors);
                    out.put_u32(q.duration_sec);
                    out.put_u32(q.duration_nsec);
                }
            }
            B::Group(v) => {
                for g in v {
                    out.put_u16(len16(40 + 16 * g.bucket_stats.len()));
                    put_zeros(out, 2);
                    out.put_u32(g.group_id);
                    out.put_u32(g.ref_count);
                    put_zeros(out, 4);
                    out.put_u64(g.packet_count);
                    out.put_u64(g.byte_count);
                    out.put_u32(g.duration_sec);
                    out.put_u32(g.duration_nsec);
                    for b in &g.bucket_stats {
                        out.put_u64(b.packet_count);
                        out.put_u64(b.byte_count);
                    }
                }
            }
            B::GroupDesc(v) => {
                for g in v {
                    let len = 8 + g.buckets.iter().map(Bucket::wire_len).sum::<usize>();
                    out.put_u16(len16(len));
                    out.put_u8(g.group_type);
                    put_zeros(out, 1);
                    out.put_u32(g.group_id);
                    g.buckets.iter().for_each(|b| b.encode(out));
                }
            }
            B::GroupFeatures(g) => {
                out.put_u32(g.types);
                out.put_u32(g.capabilities);
                g.max_groups.iter().for_each(|x| out.put_u32(*x));
                g.actions.iter().for_each(|x| out.put_u32(*x));
            }
            B::Meter(v) => {
                for m in v {
                    out.put_u32(m.meter_id);
                    out.put_u16(len16(40 + 16 * m.band_stats.len()));
                    put_zeros(out, 6);
                    out.put_u32(m.flow_count);
                    out.put_u64(m.packet_in_count);
                    out.put_u64(m.byte_in_count);
                    out.put_u32(m.duration_sec);
                    out.put_u32(m.duration_nsec);
                    for b in &m.band_stats {
                        out.put_u64(b.packet_band_count);
                        out.put_u64(b.byte_band_count);
                    }
                }
            }
            B::MeterConfig(v) => {
                for m in v {
                    let len = 8 + m.bands.iter().map(MeterBand::wire_len).sum::<usize>();
                    out.put_u16(len16(len));
                    out.put_u16(m.flags);
                    out.put_u32(m.meter_id);
                    m.bands.iter().for_each(|b| b.encode(out));
                }
            }
            B::MeterFeatures(m) => {
                out.put_u32(m.max_meter);
                out.put_u32(m.band_types);
                out.put_u32(m.capabilities);
                out.put_u8(m.max_bands);
                out.put_u8(m.max_color);
                put_zeros(out, 2);
            }
            B::TableFeatures(v) => v.iter().for_each(|t| t.encode(out)),
            B::PortDesc(v) => v.iter().for_each(|p| p.encode(out)),
            B::Experimenter(e) => e.encode(out),
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use MultipartReplyBody as B;
        let typ = r.u16("multipart type")?;
        let flags = r.u16("flags")?;
        r.skip(4, "pad")?;
        let body = match typ {
            mp_type::DESC => B::Desc(Desc {
                mfr_desc: r.string(DESC_STR_LEN, "mfr_desc")?,
                hw_desc: r.string(DESC_STR_LEN, "hw_desc")?,
                sw_desc: r.string(DESC_STR_LEN, "sw_desc")?,
                serial_num: r.string(SERIAL_NUM_LEN, "serial_num")?,
                dp_desc: r.string(DESC_STR_LEN, "dp_desc")?,
            }),
            mp_type::FLOW => B::Flow(list(r, FlowStats::decode)?),
            mp_type::AGGREGATE => {
                let a = AggregateStats {
                    packet_count: r.u64("packet_count")?,
                    byte_count: r.u64("byte_count")?,
                    flow_count: r.u32("flow_count")?,
                };
                r.skip(4, "pad")?;
                B::Aggregate(a)
            }
            mp_type::TABLE => B::Table(list(r, |r| {
                let table_id = r.u8("table_id")?;
                r.skip(3, "pad")?;
                Ok(TableStats {
                    table_id,
                    active_count: r.u32("active_count")?,
                    lookup_count: r.u64("lookup_count")?,
                    matched_count: r.u64("matched_count")?,
                })
            })?),
            mp_type::PORT_STATS => B::PortStats(list(r, |r| {
                let port_no = r.u32("port_no")?;
                r.skip(4, "pad")?;
                let mut c = [0u64; 12];
                for x in c.iter_mut() {
                    *x = r.u64("counter")?;
                }
                Ok(PortStats {
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
                    duration_sec: r.u32("duration_sec")?,
                    duration_nsec: r.u32("duration_nsec")?,
                })
            })?),
            mp_type::QUEUE => B::Queue(list(r, |r| {
                Ok(QueueStats {
                    port_no: r.u32("port_no")?,
                    queue_id: r.u32("queue_id")?,
                    tx_bytes: r.u64("tx_bytes")?,
                    tx_packets: r.u64("tx_packets")?,
                    tx_errors: r.u64("tx_errors")?,
                    duration_sec: r.u32("duration_sec")?,
                    duration_nsec: r.u32("duration_nsec")?,
                })
            })?),
            mp_type::GROUP => B::Group(list(r, |r| {
                let mut b = sized(r, 40, "group stats length")?;
                b.skip(4, "length, pad")?;
                let group_id = b.u32("group_id")?;
                let ref_count = b.u32("ref_count")?;
                b.skip(4, "pad")?;
                let packet_count = b.u64("packet_count")?;
                let byte_count = b.u64("byte_count")?;
                let duration_sec = b.u32("duration_sec")?;
                let duration_nsec = b.u32("duration_nsec")?;
                let bucket_stats = list(&mut b, |b| {
                    Ok(BucketCounter {
                        packet_count: b.u64("packet_count")?,
                        byte_count: b.u64("byte_count")?,
                    })
                })?;
                Ok(GroupStats {
                    group_id,
                    ref_count,
                    packet_count,
                    byte_count,
                    duration_sec,
                    duration_nsec,
                    bucket_stats,
                })
            })?),
            mp_type::GROUP_DESC => B::GroupDesc(list(r, |r| {
                let mut b = sized(r, 8, "group desc length")?;
                b.skip(2, "length")?;
                let group_type = b.u8("type")?;
                b.skip(1, "pad")?;
                let group_id = b.u32("group_id")?;
                Ok(GroupDesc {
                    group_type,
                    group_id,
                    buckets: Bucket::decode_list(&mut b)?,
                })
            })?),
            mp_type::GROUP_FEATURES => {
                let types = r.u32("types")?;
                let capabilities = r.u32("capabilities")?;
                let mut max_groups = [0u32; 4];
                let mut actions = [0u32; 4];
                for x in max_groups.iter_mut().chain(actions.iter_mut()) {
                    *x = r.u32("group features")?;
                }
                B::GroupFeatures(GroupFeatures {
                    types,
                    capabilities,
                    max_groups,
                    actions,
                })
            }
            mp_type::METER => B::Meter(list(r, |r| {
                let meter_id = r.u32("meter_id")?;
                let len = usize::from(r.u16("len")?);
                if len < 40 {
                    return bad(OfError::BRC_BAD_LEN, "meter stats length below 40");
                }
                let mut b = r.sub(len - 6, "meter stats")?;
                b.skip(6, "pad")?;
                let flow_count = b.u32("flow_count")?;
                let packet_in_count = b.u64("packet_in_count")?;
                let byte_in_count = b.u64("byte_in_count")?;
                let duration_sec = b.u32("duration_sec")?;
                let duration_nsec = b.u32("duration_nsec")?;
                let band_stats = list(&mut b, |b| {
                    Ok(BandStats {
                        packet_band_count: b.u64("packet_band_count")?,
                        byte_band_count: b.u64("byte_band_count")?,
                    })
                })?;
                Ok(MeterStats {
                    meter_id,
                    flow_count,
                    packet_in_count,
                    byte_in_count,
                    duration_sec,
                    duration_nsec,
                    band_stats,
                })
            })?),
            mp_type::METER_CONFIG => B::MeterConfig(list(r, |r| {
                let mut b = sized(r, 8, "meter config length")?;
                b.skip(2, "length")?;
                let flags = b.u16("flags")?;
                let meter_id = b.u32("meter_id")?;
                Ok(MeterConfig {
                    flags,
                    meter_id,
                    bands: MeterBand::decode_list(&mut b)?,
                })
            })?),
            mp_type::METER_FEATURES => {
                let m = MeterFeatures {
                    max_meter: r.u32("max_meter")?,
                    band_types: r.u32("band_types")?,
                    capabilities: r.u32("capabilities")?,
                    max_bands: r.u8("max_bands")?,
                    max_color: r.u8("max_color")?,
                };
                r.skip(2, "pad")?;
                B::MeterFeatures(m)
            }
            mp_type::TABLE_FEATURES => B::TableFeatures(list(r, TableFeatures::decode)?),
            mp_type::PORT_DESC => B::PortDesc(list(r, Port::decode)?),
            mp_type::EXPERIMENTER => B::Experimenter(Experimenter::decode(r)?),
            _ => return bad(OfError::BRC_BAD_MULTIPART, "unknown multipart type"),
        };
        if !r.is_empty() && typ != mp_type::EXPERIMENTER {
            return bad(
                OfError::BRC_BAD_LEN,
                "trailing bytes after multipart reply body",
            );
        }
        Ok(MultipartReply { flags, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Body, Message, MAX_MESSAGE_LEN};
    use crate::table_features::TableFeatureProp;

    fn table(id: u8) -> TableFeatures {
        TableFeatures {
            table_id: id,
            name: format!("t{id}"),
            metadata_match: 0,
            metadata_write: 0,
            config: 0,
            max_entries: 1000,
            properties: vec![
                TableFeatureProp::NextTables {
                    miss: false,
                    tables: (id.saturating_add(1)..=254).collect(),
                },
                TableFeatureProp::Unknown {
                    typ: 0x7fff,
                    data: vec![id; 300],
                },
            ],
        }
    }

    #[test]
    fn a_table_features_set_splits_into_parts_that_fit() {
        let all: Vec<TableFeatures> = (0..=254).map(table).collect();
        let parts = MultipartRequest::table_features_set(all.clone(), MAX_MESSAGE_LEN)
            .expect("every table fits");
        assert!(parts.len() > 1);
        let mut back = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(p.flags & MORE != 0, i + 1 < parts.len());
            let m = Message::new(9, Body::MultipartRequest(p.clone()));
            let bytes = m.to_bytes();
            assert!(bytes.len() <= MAX_MESSAGE_LEN);
            let Ok(Message {
                body: Body::MultipartRequest(d),
                ..
            }) = Message::decode(&bytes)
            else {
                panic!("part {i} decodes")
            };
            let MultipartRequestBody::TableFeatures(t) = d.body else {
                panic!("table features")
            };
            back.extend(t);
        }
        assert_eq!(back, all);
        // A small limit still keeps whole tables; one that fits none fails.
        let one = MultipartRequest::table_features_set(all[..3].to_vec(), 16 + 700)
            .expect("one table a part");
        assert_eq!(one.len(), 3);
        assert_eq!(MultipartRequest::table_features_set(all.clone(), 100), None);
        assert_eq!(MultipartRequest::table_features_set(Vec::new(), 1000), None);
    }
}
