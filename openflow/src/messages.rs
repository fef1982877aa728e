//! Bodies of the non-multipart messages (spec 7.3 - 7.5).

use crate::action::Action;
use crate::error::{bad, DecodeError, OfError};
use crate::instruction::Instruction;
use crate::oxm::Match;
use crate::types::{group_no, port_no, NO_BUFFER};
use crate::wire::{len16, pad8, put_zeros, Reader};
use bytes::BufMut;

/// OFPT_HELLO: the elements it carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hello {
    pub elements: Vec<HelloElement>,
}

/// A HELLO element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelloElement {
    /// OFPHET_VERSIONBITMAP: bit N of word W set means version 32*W+N.
    VersionBitmap(Vec<u32>),
    /// Any other element type, its payload verbatim.
    Unknown { typ: u16, data: Vec<u8> },
}

pub const OFPHET_VERSIONBITMAP: u16 = 1;

impl Hello {
    /// A HELLO offering exactly the versions in `versions`.
    pub fn with_versions(versions: &[u8]) -> Hello {
        let words = versions
            .iter()
            .map(|v| usize::from(*v) / 32 + 1)
            .max()
            .unwrap_or(1);
        let mut bm = vec![0u32; words];
        for &v in versions {
            bm[usize::from(v) / 32] |= 1 << (v % 32);
        }
        Hello {
            elements: vec![HelloElement::VersionBitmap(bm)],
        }
    }

    /// The versions the bitmap offers, if there is a bitmap.
    pub fn versions(&self) -> Option<Vec<u8>> {
        self.elements.iter().find_map(|e| match e {
            HelloElement::VersionBitmap(bm) => Some(
                (0..bm.len() * 32)
                    .filter(|i| bm[i / 32] & (1 << (i % 32)) != 0)
                    .filter_map(|i| u8::try_from(i).ok())
                    .collect(),
            ),
            _ => None,
        })
    }

    /// Whether a peer that sent this HELLO with header `version` accepts
    /// `ours` (spec 6.3.1: with a bitmap, the bit decides; without one, the
    /// header version must be at least ours).
    pub fn accepts(&self, version: u8, ours: u8) -> bool {
        match self.versions() {
            Some(v) => v.contains(&ours),
            None => version >= ours,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        for e in &self.elements {
            let (typ, len) = match e {
                HelloElement::VersionBitmap(bm) => (OFPHET_VERSIONBITMAP, 4 + 4 * bm.len()),
                HelloElement::Unknown { typ, data } => (*typ, 4 + data.len()),
            };
            out.put_u16(typ);
            out.put_u16(len16(len));
            match e {
                HelloElement::VersionBitmap(bm) => bm.iter().for_each(|w| out.put_u32(*w)),
                HelloElement::Unknown { data, .. } => out.put_slice(data),
            }
            put_zeros(out, pad8(len));
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut elements = Vec::new();
        // Trailing bytes too short for an element header are ignored, as the
        // spec asks implementations to ignore what they do not understand.
        while r.remaining() >= 4 {
            let typ = r.u16("element type")?;
            let len = usize::from(r.u16("element length")?);
            if len < 4 {
                return bad(OfError::BRC_BAD_LEN, "hello element length below 4");
            }
            let mut b = r.sub(len - 4, "hello element")?;
            let pad = pad8(len).min(r.remaining());
            r.skip(pad, "pad")?;
            elements.push(if typ == OFPHET_VERSIONBITMAP {
                let mut bm = Vec::with_capacity(b.remaining() / 4);
                while b.remaining() >= 4 {
                    bm.push(b.u32("bitmap")?);
                }
                HelloElement::VersionBitmap(bm)
            } else {
                HelloElement::Unknown {
                    typ,
                    data: b.rest_vec(),
                }
            });
        }
        Ok(Hello { elements })
    }
}

/// OFPT_ERROR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorMsg {
    /// A standard error: type, code, and (usually) the first 64 bytes of the
    /// message that caused it.
    Standard { error: OfError, data: Vec<u8> },
    /// OFPET_EXPERIMENTER.
    Experimenter {
        exp_type: u16,
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl ErrorMsg {
    /// An error answering `offending`, carrying at most its first 64 bytes.
    pub fn reply_to(error: OfError, offending: &[u8]) -> ErrorMsg {
        ErrorMsg::Standard {
            error,
            data: offending[..offending.len().min(64)].to_vec(),
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            ErrorMsg::Standard { error, data } => {
                out.put_u16(error.typ);
                out.put_u16(error.code);
                out.put_slice(data);
            }
            ErrorMsg::Experimenter {
                exp_type,
                experimenter,
                data,
            } => {
                out.put_u16(crate::error::error_type::EXPERIMENTER);
                out.put_u16(*exp_type);
                out.put_u32(*experimenter);
                out.put_slice(data);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let typ = r.u16("error type")?;
        let code = r.u16("error code")?;
        if typ == crate::error::error_type::EXPERIMENTER {
            return Ok(ErrorMsg::Experimenter {
                exp_type: code,
                experimenter: r.u32("experimenter")?,
                data: r.rest_vec(),
            });
        }
        Ok(ErrorMsg::Standard {
            error: OfError::new(typ, code),
            data: r.rest_vec(),
        })
    }
}

/// OFPT_EXPERIMENTER (and the experimenter multipart body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Experimenter {
    pub experimenter: u32,
    pub exp_type: u32,
    pub data: Vec<u8>,
}

impl Experimenter {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.experimenter);
        out.put_u32(self.exp_type);
        out.put_slice(&self.data);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Experimenter {
            experimenter: r.u32("experimenter")?,
            exp_type: r.u32("exp_type")?,
            data: r.rest_vec(),
        })
    }
}

/// `ofp_capabilities` bits of FEATURES_REPLY.
pub mod capabilities {
    pub const FLOW_STATS: u32 = 1 << 0;
    pub const TABLE_STATS: u32 = 1 << 1;
    pub const PORT_STATS: u32 = 1 << 2;
    pub const GROUP_STATS: u32 = 1 << 3;
    pub const IP_REASM: u32 = 1 << 5;
    pub const QUEUE_STATS: u32 = 1 << 6;
    pub const PORT_BLOCKED: u32 = 1 << 8;
}

/// OFPT_FEATURES_REPLY.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwitchFeatures {
    pub datapath_id: u64,
    pub n_buffers: u32,
    pub n_tables: u8,
    pub auxiliary_id: u8,
    pub capabilities: u32,
    pub reserved: u32,
}

impl SwitchFeatures {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u64(self.datapath_id);
        out.put_u32(self.n_buffers);
        out.put_u8(self.n_tables);
        out.put_u8(self.auxiliary_id);
        put_zeros(out, 2);
        out.put_u32(self.capabilities);
        out.put_u32(self.reserved);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let datapath_id = r.u64("datapath_id")?;
        let n_buffers = r.u32("n_buffers")?;
        let n_tables = r.u8("n_tables")?;
        let auxiliary_id = r.u8("auxiliary_id")?;
        r.skip(2, "pad")?;
        Ok(SwitchFeatures {
            datapath_id,
            n_buffers,
            n_tables,
            auxiliary_id,
            capabilities: r.u32("capabilities")?,
            reserved: r.u32("reserved")?,
        })
    }
}

/// `ofp_config_flags`.
pub mod config_flags {
    pub const FRAG_NORMAL: u16 = 0;
    pub const FRAG_DROP: u16 = 1;
    pub const FRAG_REASM: u16 = 2;
    pub const FRAG_MASK: u16 = 3;
}

/// GET_CONFIG_REPLY and SET_CONFIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwitchConfig {
    pub flags: u16,
    pub miss_send_len: u16,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            flags: 0,
            miss_send_len: 128,
        }
    }
}

impl SwitchConfig {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.flags);
        out.put_u16(self.miss_send_len);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SwitchConfig {
            flags: r.u16("flags")?,
            miss_send_len: r.u16("miss_send_len")?,
        })
    }
}

/// `ofp_packet_in_reason`.
pub mod packet_in_reason {
    pub const NO_MATCH: u8 = 0;
    pub const ACTION: u8 = 1;
    pub const INVALID_TTL: u8 = 2;
}

/// OFPT_PACKET_IN.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketIn {
    pub buffer_id: u32,
    pub total_len: u16,
    pub reason: u8,
    pub table_id: u8,
    pub cookie: u64,
    pub match_: Match,
    pub data: Vec<u8>,
}

impl PacketIn {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.buffer_id);
        out.put_u16(self.total_len);
        out.put_u8(self.reason);
        out.put_u8(self.table_id);
        out.put_u64(self.cookie);
        self.match_.encode(out);
        put_zeros(out, 2);
        out.put_slice(&self.data);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let buffer_id = r.u32("buffer_id")?;
        let total_len = r.u16("total_len")?;
        let reason = r.u8("reason")?;
        let table_id = r.u8("table_id")?;
        let cookie = r.u64("cookie")?;
        let match_ = Match::decode(r)?;
        r.skip(2, "pad")?;
        Ok(PacketIn {
            buffer_id,
            total_len,
            reason,
            table_id,
            cookie,
            match_,
            data: r.rest_vec(),
        })
    }

    /// The ingress port from the match (OXM IN_PORT), if present.
    pub fn in_port(&self) -> Option<u32> {
        self.match_.fields.iter().find_map(|f| match f {
            crate::oxm::Oxm::InPort(p) => Some(*p),
            _ => None,
        })
    }
}

/// `ofp_flow_removed_reason`.
pub mod flow_removed_reason {
    pub const IDLE_TIMEOUT: u8 = 0;
    pub const HARD_TIMEOUT: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const GROUP_DELETE: u8 = 3;
    pub const METER_DELETE: u8 = 4;
}

/// OFPT_FLOW_REMOVED.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRemoved {
    pub cookie: u64,
    pub priority: u16,
    pub reason: u8,
    pub table_id: u8,
    pub duration_sec: u32,
    pub duration_nsec: u32,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub packet_count: u64,
    pub byte_count: u64,
    pub match_: Match,
}

impl FlowRemoved {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u64(self.cookie);
        out.put_u16(self.priority);
        out.put_u8(self.reason);
        out.put_u8(self.table_id);
        out.put_u32(self.duration_sec);
        out.put_u32(self.duration_nsec);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u64(self.packet_count);
        out.put_u64(self.byte_count);
        self.match_.encode(out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(FlowRemoved {
            cookie: r.u64("cookie")?,
            priority: r.u16("priority")?,
            reason: r.u8("reason")?,
            table_id: r.u8("table_id")?,
            duration_sec: r.u32("duration_sec")?,
            duration_nsec: r.u32("duration_nsec")?,
            idle_timeout: r.u16("idle_timeout")?,
            hard_timeout: r.u16("hard_timeout")?,
            packet_count: r.u64("packet_count")?,
            byte_count: r.u64("byte_count")?,
            match_: Match::decode(r)?,
        })
    }
}

/// OFPT_PACKET_OUT.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketOut {
    pub buffer_id: u32,
    pub in_port: u32,
    pub actions: Vec<Action>,
    pub data: Vec<u8>,
}

impl PacketOut {
    pub fn new(in_port: u32, actions: Vec<Action>, data: Vec<u8>) -> PacketOut {
        PacketOut {
            buffer_id: NO_BUFFER,
            in_port,
            actions,
            data,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.buffer_id);
        out.put_u32(self.in_port);
        out.put_u16(len16(Action::list_len(&self.actions)));
        put_zeros(out, 6);
        Action::encode_list(&self.actions, out);
        out.put_slice(&self.data);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let buffer_id = r.u32("buffer_id")?;
        let in_port = r.u32("in_port")?;
        let actions_len = usize::from(r.u16("actions_len")?);
        r.skip(6, "pad")?;
        let mut acts = Reader::new(r.bytes(actions_len, "actions")?, OfError::BAC_BAD_LEN);
        let actions = Action::decode_list(&mut acts)?;
        Ok(PacketOut {
            buffer_id,
            in_port,
            actions,
            data: r.rest_vec(),
        })
    }
}

/// `ofp_flow_mod_command`.
pub mod flow_mod_command {
    pub const ADD: u8 = 0;
    pub const MODIFY: u8 = 1;
    pub const MODIFY_STRICT: u8 = 2;
    pub const DELETE: u8 = 3;
    pub const DELETE_STRICT: u8 = 4;
}

/// `ofp_flow_mod_flags`.
pub mod flow_mod_flags {
    pub const SEND_FLOW_REM: u16 = 1 << 0;
    pub const CHECK_OVERLAP: u16 = 1 << 1;
    pub const RESET_COUNTS: u16 = 1 << 2;
    pub const NO_PKT_COUNTS: u16 = 1 << 3;
    pub const NO_BYT_COUNTS: u16 = 1 << 4;
}

/// OFPT_FLOW_MOD.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowMod {
    pub cookie: u64,
    pub cookie_mask: u64,
    pub table_id: u8,
    pub command: u8,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub priority: u16,
    pub buffer_id: u32,
    pub out_port: u32,
    pub out_group: u32,
    pub flags: u16,
    pub match_: Match,
    pub instructions: Vec<Instruction>,
}

impl Default for FlowMod {
    /// An ADD to table 0 at the default priority 0x8000, matching everything,
    /// with no instructions (drop).
    fn default() -> Self {
        FlowMod {
            cookie: 0,
            cookie_mask: 0,
            table_id: 0,
            command: flow_mod_command::ADD,
            idle_timeout: 0,
            hard_timeout: 0,
            priority: 0x8000,
            buffer_id: NO_BUFFER,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            flags: 0,
            match_: Match::new(),
            instructions: Vec::new(),
        }
    }
}

impl FlowMod {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u64(self.cookie);
        out.put_u64(self.cookie_mask);
        out.put_u8(self.table_id);
        out.put_u8(self.command);
        out.put_u16(self.idle_timeout);
        out.put_u16(self.hard_timeout);
        out.put_u16(self.priority);
        out.put_u32(self.buffer_id);
        out.put_u32(self.out_port);
        out.put_u32(self.out_group);
        out.put_u16(self.flags);
        put_zeros(out, 2);
        self.match_.encode(out);
        Instruction::encode_list(&self.instructions, out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let cookie = r.u64("cookie")?;
        let cookie_mask = r.u64("cookie_mask")?;
        let table_id = r.u8("table_id")?;
        let command = r.u8("command")?;
        let idle_timeout = r.u16("idle_timeout")?;
        let hard_timeout = r.u16("hard_timeout")?;
        let priority = r.u16("priority")?;
        let buffer_id = r.u32("buffer_id")?;
        let out_port = r.u32("out_port")?;
        let out_group = r.u32("out_group")?;
        let flags = r.u16("flags")?;
        r.skip(2, "pad")?;
        let match_ = Match::decode(r)?;
        let mut ins = Reader::new(r.rest(), OfError::BIC_BAD_LEN);
        let instructions = Instruction::decode_list(&mut ins)?;
        r.skip(r.remaining(), "instructions")?;
        Ok(FlowMod {
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
        })
    }
}

/// OFPT_TABLE_MOD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableMod {
    pub table_id: u8,
    pub config: u32,
}

impl TableMod {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(self.table_id);
        put_zeros(out, 3);
        out.put_u32(self.config);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let table_id = r.u8("table_id")?;
        r.skip(3, "pad")?;
        Ok(TableMod {
            table_id,
            config: r.u32("config")?,
        })
    }
}

/// `ofp_controller_role`.
pub mod role {
    pub const NOCHANGE: u32 = 0;
    pub const EQUAL: u32 = 1;
    pub const MASTER: u32 = 2;
    pub const SLAVE: u32 = 3;
}

/// ROLE_REQUEST and ROLE_REPLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleMsg {
    pub role: u32,
    pub generation_id: u64,
}

impl RoleMsg {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.role);
        put_zeros(out, 4);
        out.put_u64(self.generation_id);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let role = r.u32("role")?;
        r.skip(4, "pad")?;
        Ok(RoleMsg {
            role,
            generation_id: r.u64("generation_id")?,
        })
    }
}

/// GET_ASYNC_REPLY and SET_ASYNC: which asynchronous messages a connection
/// wants, as reason bitmasks; index 0 applies in the MASTER or EQUAL role,
/// index 1 in the SLAVE role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncConfig {
    pub packet_in_mask: [u32; 2],
    pub port_status_mask: [u32; 2],
    pub flow_removed_mask: [u32; 2],
}

impl Default for AsyncConfig {
    /// The defaults of spec 6.1.1: masters get all packet-ins (no-match and
    /// action), port status and flow removed; slaves get only port status.
    fn default() -> Self {
        AsyncConfig {
            packet_in_mask: [0b11, 0],
            port_status_mask: [0b111, 0b111],
            flow_removed_mask: [0b1111, 0],
        }
    }
}

impl AsyncConfig {
    pub fn encode(&self, out: &mut impl BufMut) {
        for m in [
            self.packet_in_mask,
            self.port_status_mask,
            self.flow_removed_mask,
        ] {
            out.put_u32(m[0]);
            out.put_u32(m[1]);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut m = [[0u32; 2]; 3];
        for pair in m.iter_mut() {
            pair[0] = r.u32("mask")?;
            pair[1] = r.u32("mask")?;
        }
        Ok(AsyncConfig {
            packet_in_mask: m[0],
            port_status_mask: m[1],
            flow_removed_mask: m[2],
        })
    }
}

/// `ofp_queue_properties`.
pub mod queue_property {
    pub const MIN_RATE: u16 = 1;
    pub const MAX_RATE: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// A property of a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueProperty {
    /// In 1/10 of a percent; > 1000 means disabled.
    MinRate(u16),
    MaxRate(u16),
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl QueueProperty {
    fn wire_len(&self) -> usize {
        match self {
            QueueProperty::Experimenter { data, .. } => 16 + data.len(),
            _ => 16,
        }
    }

    fn encode(&self, out: &mut impl BufMut) {
        let typ = match self {
            QueueProperty::MinRate(_) => queue_property::MIN_RATE,
            QueueProperty::MaxRate(_) => queue_property::MAX_RATE,
            QueueProperty::Experimenter { .. } => queue_property::EXPERIMENTER,
        };
        out.put_u16(typ);
        out.put_u16(len16(self.wire_len()));
        put_zeros(out, 4);
        match self {
            QueueProperty::MinRate(r) | QueueProperty::MaxRate(r) => {
                out.put_u16(*r);
                put_zeros(out, 6);
            }
            QueueProperty::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                put_zeros(out, 4);
                out.put_slice(data);
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut h = Reader::new(r.rest(), OfError::BRC_BAD_LEN);
        let typ = h.u16("property")?;
        let len = usize::from(h.u16("property len")?);
        if len < 16 {
            return bad(OfError::BRC_BAD_LEN, "queue property length below 16");
        }
        let mut b = r.sub(len, "queue property")?;
        b.skip(8, "property header")?;
        Ok(match typ {
            queue_property::MIN_RATE => QueueProperty::MinRate(b.u16("rate")?),
            queue_property::MAX_RATE => QueueProperty::MaxRate(b.u16("rate")?),
            queue_property::EXPERIMENTER => {
                let experimenter = b.u32("experimenter")?;
                b.skip(4, "pad")?;
                QueueProperty::Experimenter {
                    experimenter,
                    data: b.rest_vec(),
                }
            }
            _ => return bad(OfError::BRC_BAD_TYPE, "unknown queue property"),
        })
    }
}

/// `ofp_packet_queue`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketQueue {
    pub queue_id: u32,
    pub port: u32,
    pub properties: Vec<QueueProperty>,
}

impl PacketQueue {
    fn wire_len(&self) -> usize {
        16 + self
            .properties
            .iter()
            .map(QueueProperty::wire_len)
            .sum::<usize>()
    }
}

/// QUEUE_GET_CONFIG_REPLY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueGetConfigReply {
    pub port: u32,
    pub queues: Vec<PacketQueue>,
}

impl QueueGetConfigReply {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.port);
        put_zeros(out, 4);
        for q in &self.queues {
            out.put_u32(q.queue_id);
            out.put_u32(q.port);
            out.put_u16(len16(q.wire_len()));
            put_zeros(out, 6);
            for p in &q.properties {
                p.encode(out);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port = r.u32("port")?;
        r.skip(4, "pad")?;
        let mut queues = Vec::new();
        while !r.is_empty() {
            let queue_id = r.u32("queue_id")?;
            let qport = r.u32("port")?;
            let len = usize::from(r.u16("len")?);
            r.skip(6, "pad")?;
            if len < 16 {
                return bad(OfError::BRC_BAD_LEN, "queue length below 16");
            }
            let mut props = r.sub(len - 16, "queue properties")?;
            let mut properties = Vec::new();
            while !props.is_empty() {
                properties.push(QueueProperty::decode(&mut props)?);
            }
            queues.push(PacketQueue {
                queue_id,
                port: qport,
                properties,
            });
        }
        Ok(QueueGetConfigReply { port, queues })
    }
}
