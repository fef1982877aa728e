//! Whole OpenFlow messages: the 8-byte header, [`Message`] with one variant
//! per message type, and `decode`/`encode` of a complete message.

use crate::error::{bad, DecodeError, OfError};
use crate::group::GroupMod;
use crate::messages::*;
use crate::meter::MeterMod;
use crate::multipart::{MultipartReply, MultipartRequest};
use crate::port::{PortMod, PortStatus};
use crate::types::OFP_VERSION;
use crate::wire::{patch_u16, put_zeros, Reader};
use bytes::{BufMut, BytesMut};

/// Length of `ofp_header`.
pub const HEADER_LEN: usize = 8;
/// Largest message: the header's length is 16 bits.
pub const MAX_MESSAGE_LEN: usize = 65535;

/// `ofp_type` values.
pub mod msg_type {
    pub const HELLO: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const ECHO_REQUEST: u8 = 2;
    pub const ECHO_REPLY: u8 = 3;
    pub const EXPERIMENTER: u8 = 4;
    pub const FEATURES_REQUEST: u8 = 5;
    pub const FEATURES_REPLY: u8 = 6;
    pub const GET_CONFIG_REQUEST: u8 = 7;
    pub const GET_CONFIG_REPLY: u8 = 8;
    pub const SET_CONFIG: u8 = 9;
    pub const PACKET_IN: u8 = 10;
    pub const FLOW_REMOVED: u8 = 11;
    pub const PORT_STATUS: u8 = 12;
    pub const PACKET_OUT: u8 = 13;
    pub const FLOW_MOD: u8 = 14;
    pub const GROUP_MOD: u8 = 15;
    pub const PORT_MOD: u8 = 16;
    pub const TABLE_MOD: u8 = 17;
    pub const MULTIPART_REQUEST: u8 = 18;
    pub const MULTIPART_REPLY: u8 = 19;
    pub const BARRIER_REQUEST: u8 = 20;
    pub const BARRIER_REPLY: u8 = 21;
    pub const QUEUE_GET_CONFIG_REQUEST: u8 = 22;
    pub const QUEUE_GET_CONFIG_REPLY: u8 = 23;
    pub const ROLE_REQUEST: u8 = 24;
    pub const ROLE_REPLY: u8 = 25;
    pub const GET_ASYNC_REQUEST: u8 = 26;
    pub const GET_ASYNC_REPLY: u8 = 27;
    pub const SET_ASYNC: u8 = 28;
    pub const METER_MOD: u8 = 29;

    /// The spec's name of a message type.
    pub fn name(t: u8) -> &'static str {
        const NAMES: [&str; 30] = [
            "OFPT_HELLO",
            "OFPT_ERROR",
            "OFPT_ECHO_REQUEST",
            "OFPT_ECHO_REPLY",
            "OFPT_EXPERIMENTER",
            "OFPT_FEATURES_REQUEST",
            "OFPT_FEATURES_REPLY",
            "OFPT_GET_CONFIG_REQUEST",
            "OFPT_GET_CONFIG_REPLY",
            "OFPT_SET_CONFIG",
            "OFPT_PACKET_IN",
            "OFPT_FLOW_REMOVED",
            "OFPT_PORT_STATUS",
            "OFPT_PACKET_OUT",
            "OFPT_FLOW_MOD",
            "OFPT_GROUP_MOD",
            "OFPT_PORT_MOD",
            "OFPT_TABLE_MOD",
            "OFPT_MULTIPART_REQUEST",
            "OFPT_MULTIPART_REPLY",
            "OFPT_BARRIER_REQUEST",
            "OFPT_BARRIER_REPLY",
            "OFPT_QUEUE_GET_CONFIG_REQUEST",
            "OFPT_QUEUE_GET_CONFIG_REPLY",
            "OFPT_ROLE_REQUEST",
            "OFPT_ROLE_REPLY",
            "OFPT_GET_ASYNC_REQUEST",
            "OFPT_GET_ASYNC_REPLY",
            "OFPT_SET_ASYNC",
            "OFPT_METER_MOD",
        ];
        NAMES.get(usize::from(t)).copied().unwrap_or("OFPT_UNKNOWN")
    }
}

/// `ofp_header`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub msg_type: u8,
    pub length: u16,
    pub xid: u32,
}

impl Header {
    /// Parses the first 8 bytes; `None` if fewer are given.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let h: &[u8; 8] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            version: h[0],
            msg_type: h[1],
            length: u16::from_be_bytes([h[2], h[3]]),
            xid: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        })
    }
}

/// The body of a message, one variant per `ofp_type`.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Hello(Hello),
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter(Experimenter),
    FeaturesRequest,
    FeaturesReply(SwitchFeatures),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    QueueGetConfigRequest { port: u32 },
    QueueGetConfigReply(QueueGetConfigReply),
    RoleRequest(RoleMsg),
    RoleReply(RoleMsg),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
}

impl Body {
    /// The `ofp_type` of this body.
    pub fn msg_type(&self) -> u8 {
        use msg_type::*;
        match self {
            Body::Hello(_) => HELLO,
            Body::Error(_) => ERROR,
            Body::EchoRequest(_) => ECHO_REQUEST,
            Body::EchoReply(_) => ECHO_REPLY,
            Body::Experimenter(_) => EXPERIMENTER,
            Body::FeaturesRequest => FEATURES_REQUEST,
            Body::FeaturesReply(_) => FEATURES_REPLY,
            Body::GetConfigRequest => GET_CONFIG_REQUEST,
            Body::GetConfigReply(_) => GET_CONFIG_REPLY,
            Body::SetConfig(_) => SET_CONFIG,
            Body::PacketIn(_) => PACKET_IN,
            Body::FlowRemoved(_) => FLOW_REMOVED,
            Body::PortStatus(_) => PORT_STATUS,
            Body::PacketOut(_) => PACKET_OUT,
            Body::FlowMod(_) => FLOW_MOD,
            Body::GroupMod(_) => GROUP_MOD,
            Body::PortMod(_) => PORT_MOD,
            Body::TableMod(_) => TABLE_MOD,
            Body::MultipartRequest(_) => MULTIPART_REQUEST,
            Body::MultipartReply(_) => MULTIPART_REPLY,
            Body::BarrierRequest => BARRIER_REQUEST,
            Body::BarrierReply => BARRIER_REPLY,
            Body::QueueGetConfigRequest { .. } => QUEUE_GET_CONFIG_REQUEST,
            Body::QueueGetConfigReply(_) => QUEUE_GET_CONFIG_REPLY,
            Body::RoleRequest(_) => ROLE_REQUEST,
            Body::RoleReply(_) => ROLE_REPLY,
            Body::GetAsyncRequest => GET_ASYNC_REQUEST,
            Body::GetAsyncReply(_) => GET_ASYNC_REPLY,
            Body::SetAsync(_) => SET_ASYNC,
            Body::MeterMod(_) => METER_MOD,
        }
    }

    fn encode(&self, out: &mut impl BufMut) {
        match self {
            Body::Hello(h) => h.encode(out),
            Body::Error(e) => e.encode(out),
            Body::EchoRequest(d) | Body::EchoReply(d) => out.put_slice(d),
            Body::Experimenter(e) => e.encode(out),
            Body::FeaturesRequest
            | Body::GetConfigRequest
            | Body::BarrierRequest
            | Body::BarrierReply
            | Body::GetAsyncRequest => {}
            Body::FeaturesReply(f) => f.encode(out),
            Body::GetConfigReply(c) | Body::SetConfig(c) => c.encode(out),
            Body::PacketIn(p) => p.encode(out),
            Body::FlowRemoved(f) => f.encode(out),
            Body::PortStatus(p) => p.encode(out),
            Body::PacketOut(p) => p.encode(out),
            Body::FlowMod(f) => f.encode(out),
            Body::GroupMod(g) => g.encode(out),
            Body::PortMod(p) => p.encode(out),
            Body::TableMod(t) => t.encode(out),
            Body::MultipartRequest(m) => m.encode(out),
            Body::MultipartReply(m) => m.encode(out),
            Body::QueueGetConfigRequest { port } => {
                out.put_u32(*port);
                put_zeros(out, 4);
            }
            Body::QueueGetConfigReply(q) => q.encode(out),
            Body::RoleRequest(r) | Body::RoleReply(r) => r.encode(out),
            Body::GetAsyncReply(a) | Body::SetAsync(a) => a.encode(out),
            Body::MeterMod(m) => m.encode(out),
        }
    }

    fn decode(t: u8, r: &mut Reader<'_>) -> Result<Body, DecodeError> {
        use msg_type::*;
        Ok(match t {
            HELLO => Body::Hello(Hello::decode(r)?),
            ERROR => Body::Error(ErrorMsg::decode(r)?),
            ECHO_REQUEST => Body::EchoRequest(r.rest_vec()),
            ECHO_REPLY => Body::EchoReply(r.rest_vec()),
            EXPERIMENTER => Body::Experimenter(Experimenter::decode(r)?),
            FEATURES_REQUEST => Body::FeaturesRequest,
            FEATURES_REPLY => Body::FeaturesReply(SwitchFeatures::decode(r)?),
            GET_CONFIG_REQUEST => Body::GetConfigRequest,
            GET_CONFIG_REPLY => Body::GetConfigReply(SwitchConfig::decode(r)?),
            SET_CONFIG => Body::SetConfig(SwitchConfig::decode(r)?),
            PACKET_IN => Body::PacketIn(PacketIn::decode(r)?),
            FLOW_REMOVED => Body::FlowRemoved(FlowRemoved::decode(r)?),
            PORT_STATUS => Body::PortStatus(PortStatus::decode(r)?),
            PACKET_OUT => Body::PacketOut(PacketOut::decode(r)?),
            FLOW_MOD => Body::FlowMod(FlowMod::decode(r)?),
            GROUP_MOD => Body::GroupMod(GroupMod::decode(r)?),
            PORT_MOD => Body::PortMod(PortMod::decode(r)?),
            TABLE_MOD => Body::TableMod(TableMod::decode(r)?),
            MULTIPART_REQUEST => Body::MultipartRequest(MultipartRequest::decode(r)?),
            MULTIPART_REPLY => Body::MultipartReply(MultipartReply::decode(r)?),
            BARRIER_REQUEST => Body::BarrierRequest,
            BARRIER_REPLY => Body::BarrierReply,
            QUEUE_GET_CONFIG_REQUEST => {
                let port = r.u32("port")?;
                r.skip(4, "pad")?;
                Body::QueueGetConfigRequest { port }
            }
            QUEUE_GET_CONFIG_REPLY => Body::QueueGetConfigReply(QueueGetConfigReply::decode(r)?),
            ROLE_REQUEST => Body::RoleRequest(RoleMsg::decode(r)?),
            ROLE_REPLY => Body::RoleReply(RoleMsg::decode(r)?),
            GET_ASYNC_REQUEST => Body::GetAsyncRequest,
            GET_ASYNC_REPLY => Body::GetAsyncReply(AsyncConfig::decode(r)?),
            SET_ASYNC => Body::SetAsync(AsyncConfig::decode(r)?),
            METER_MOD => Body::MeterMod(MeterMod::decode(r)?),
            _ => return bad(OfError::BRC_BAD_TYPE, "unknown message type"),
        })
    }
}

/// A whole OpenFlow message.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// The header's version: 0x04 except in a HELLO from a peer of another version.
    pub version: u8,
    pub xid: u32,
    pub body: Body,
}

impl Message {
    /// A version 1.3 message.
    pub fn new(xid: u32, body: Body) -> Message {
        Message {
            version: OFP_VERSION,
            xid,
            body,
        }
    }

    /// Appends the encoded message to `out` and returns its length.
    pub fn encode(&self, out: &mut BytesMut) -> usize {
        let start = out.len();
        out.put_u8(self.version);
        out.put_u8(self.body.msg_type());
        out.put_u16(0);
        out.put_u32(self.xid);
        self.body.encode(out);
        let len = out.len() - start;
        patch_u16(&mut out[start..], 2, crate::wire::len16(len));
        len
    }

    /// Encodes into a fresh vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = BytesMut::with_capacity(64);
        self.encode(&mut b);
        b.to_vec()
    }

    /// Decodes exactly one message from `buf`, which must hold the whole
    /// message and nothing after it (a [`crate::Framer`] cuts a stream into such
    /// slices).
    ///
    /// Messages other than HELLO must be version 1.3; HELLO of any version
    /// decodes so that version negotiation can answer it. Bytes left over
    /// after a fixed-size body are an OFPBRC_BAD_LEN.
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let Some(h) = Header::parse(buf) else {
            return bad(OfError::BRC_BAD_LEN, "message shorter than its header");
        };
        if usize::from(h.length) != buf.len() || buf.len() < HEADER_LEN {
            return bad(
                OfError::BRC_BAD_LEN,
                "header length differs from message length",
            );
        }
        if h.version != OFP_VERSION && h.msg_type != msg_type::HELLO {
            return bad(
                OfError::BRC_BAD_VERSION,
                "message version is not OpenFlow 1.3",
            );
        }
        let mut r = Reader::new(&buf[HEADER_LEN..], OfError::BRC_BAD_LEN);
        let body = Body::decode(h.msg_type, &mut r)?;
        if !r.is_empty() {
            return bad(OfError::BRC_BAD_LEN, "trailing bytes after message body");
        }
        Ok(Message {
            version: h.version,
            xid: h.xid,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_bytes() {
        // What Open vSwitch sends: HELLO with a bitmap offering only 1.3.
        let m = Message::new(1, Body::Hello(Hello::with_versions(&[4])));
        let b = m.to_bytes();
        assert_eq!(b, [4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x10]);
        assert_eq!(Message::decode(&b).unwrap(), m);
    }

    #[test]
    fn header_errors() {
        assert_eq!(
            Message::decode(&[4, 0, 0]).unwrap_err().error,
            OfError::BRC_BAD_LEN
        );
        assert_eq!(
            Message::decode(&[4, 5, 0, 9, 0, 0, 0, 0])
                .unwrap_err()
                .error,
            OfError::BRC_BAD_LEN
        );
        assert_eq!(
            Message::decode(&[1, 5, 0, 8, 0, 0, 0, 0])
                .unwrap_err()
                .error,
            OfError::BRC_BAD_VERSION
        );
        assert_eq!(
            Message::decode(&[4, 99, 0, 8, 0, 0, 0, 0])
                .unwrap_err()
                .error,
            OfError::BRC_BAD_TYPE
        );
        // a barrier request with a trailing byte
        assert_eq!(
            Message::decode(&[4, 20, 0, 9, 0, 0, 0, 0, 0])
                .unwrap_err()
                .error,
            OfError::BRC_BAD_LEN
        );
        // HELLO from an OpenFlow 1.0 peer still decodes
        let h = Message::decode(&[1, 0, 0, 8, 0, 0, 0, 7]).unwrap();
        assert_eq!(h.version, 1);
    }

    #[test]
    fn hello_negotiation() {
        let h = Hello::with_versions(&[1, 4, 5, 6]);
        assert_eq!(h.versions(), Some(vec![1, 4, 5, 6]));
        assert!(h.accepts(6, 4));
        assert!(!Hello::with_versions(&[1]).accepts(1, 4));
        assert!(Hello::default().accepts(5, 4));
        assert!(!Hello::default().accepts(1, 4));
    }
}
