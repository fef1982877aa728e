//! One OpenFlow channel, sans-IO: bytes in, bytes out, effects on the
//! switch, and one timer.
//!
//! The connection frames the received byte stream, negotiates the version
//! with HELLO, answers requests (`super::requests`), and runs the
//! inactivity probe ([`super::probe`]). It never touches a socket or a
//! clock: the daemon passes received bytes and the current time in, sends
//! what [`Connection::take_output`] returns, sleeps until
//! [`Connection::poll_timeout`], and acts on the returned [`Effect`]s.
//!
//! Version negotiation (spec 6.3.1): our HELLO offering only 1.3 (wire
//! 0x04) is queued at creation. The peer's HELLO is accepted if its version
//! bitmap has bit 4, or, without a bitmap, if its header version is at least
//! 4. Otherwise, and also when anything but HELLO comes first, the peer gets
//! OFPET_HELLO_FAILED (OFPHFC_INCOMPATIBLE, with an ASCII explanation as
//! the spec asks, or OFPHFC_EPERM carrying the first 64 bytes of the
//! premature message) and the connection is to be closed once the output
//! is flushed ([`Connection::close_reason`]). Open vSwitch closes in both
//! cases too.
//!
//! Errors: every message that fails (decoding, validation, the pipeline)
//! is answered by an OFPT_ERROR with the same xid carrying the first 64
//! bytes of the message, and the connection goes on. Only a broken stream
//! (a header length below 8) is fatal, since framing is lost.

use super::controllers::{ConnId, ConnKind, Controllers};
use super::multipart::Assembler;
use super::probe::{Probe, ProbeAction};
use super::SwitchState;
use crate::pipeline::Pipeline;
use openflow::message::{msg_type, Header};
use openflow::messages::{ErrorMsg, Hello};
use openflow::types::OFP_VERSION;
use openflow::{Body, FrameError, Framer, Message, OfError};

/// Default inactivity probe interval, as Open vSwitch (5 s).
pub const DEFAULT_PROBE_INTERVAL_NS: u64 = 5_000_000_000;

/// How a connection behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnConfig {
    pub kind: ConnKind,
    /// Inactivity probe interval in ns; `None` disables the probe.
    pub probe_interval: Option<u64>,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            kind: ConnKind::Controller,
            probe_interval: Some(DEFAULT_PROBE_INTERVAL_NS),
        }
    }
}

/// Why the connection must be closed (after sending what is queued).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer does not speak OpenFlow 1.3.
    HelloFailed,
    /// The peer sent another message before its HELLO.
    NoHello,
    /// The byte stream cannot be framed any more.
    BadFraming(FrameError),
    /// Nothing received for two probe intervals.
    Inactive,
}

/// Something the daemon must do besides sending this connection's output.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Send `bytes` (one or more encoded messages) on another connection,
    /// with [`Connection::deliver`]: asynchronous messages for it.
    Send { conn: ConnId, bytes: Vec<u8> },
    /// A PACKET_OUT sent a frame to a port.
    Output {
        port: u32,
        queue: Option<u32>,
        tunnel_id: u64,
        frame: Vec<u8>,
    },
    /// Flow tables, groups, meters or port config changed: publish a new
    /// pipeline snapshot to the forwarding threads.
    PipelineChanged,
    /// A PORT_MOD changed a port's `ofp_port_config` bits (the daemon may
    /// bring the device administratively up or down on OFPPC_PORT_DOWN).
    PortConfig { port_no: u32, old: u32, new: u32 },
}

/// The switch side of one OpenFlow channel.
#[derive(Debug)]
pub struct Connection {
    pub(super) id: ConnId,
    framer: Framer,
    hello_done: bool,
    close: Option<CloseReason>,
    pub(super) outbox: Vec<u8>,
    probe: Probe,
    pub(super) assembler: Assembler,
    next_xid: u32,
}

impl Connection {
    /// A new channel registered in `controllers`, with our HELLO queued.
    pub fn new(config: ConnConfig, controllers: &mut Controllers, now: u64) -> Connection {
        let id = controllers.register(config.kind);
        let mut c = Connection {
            id,
            framer: Framer::new(),
            hello_done: false,
            close: None,
            outbox: Vec::with_capacity(4096),
            probe: Probe::new(config.probe_interval, now),
            assembler: Assembler::default(),
            next_xid: 1,
        };
        let xid = c.alloc_xid();
        c.push(&Message::new(
            xid,
            Body::Hello(Hello::with_versions(&[OFP_VERSION])),
        ));
        c
    }

    pub fn id(&self) -> ConnId {
        self.id
    }

    /// The HELLO exchange succeeded.
    pub fn is_ready(&self) -> bool {
        self.hello_done && self.close.is_none()
    }

    /// `Some` once the connection must be closed; the daemon sends what
    /// [`Connection::take_output`] still returns, then closes the socket and
    /// calls [`Connection::shutdown`].
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.close.as_ref()
    }

    /// Feeds received bytes; replies accumulate in the output, and what
    /// else must happen is returned.
    pub fn receive(&mut self, bytes: &[u8], now: u64, sw: &mut SwitchState<'_>) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.close.is_some() {
            return effects;
        }
        if !bytes.is_empty() {
            self.probe.received(now);
        }
        self.framer.push(bytes);
        while self.close.is_none() {
            match self.framer.next_message() {
                Ok(Some(raw)) => self.handle_message(&raw, now, sw, &mut effects),
                Ok(None) => break,
                Err(e) => self.close = Some(CloseReason::BadFraming(e)),
            }
        }
        effects
    }

    /// Handles one complete message (as a [`Framer`] cuts them).
    pub fn handle_message(
        &mut self,
        raw: &[u8],
        now: u64,
        sw: &mut SwitchState<'_>,
        effects: &mut Vec<Effect>,
    ) {
        if self.close.is_some() {
            return;
        }
        if !self.hello_done {
            self.handshake(raw, sw);
            return;
        }
        if let Some(err) = self.slave_refusal(raw, sw) {
            self.send_error(err, raw);
            return;
        }
        // A type only a switch sends is OFPBRC_BAD_TYPE whatever its body,
        // as in Open vSwitch, which looks at the type before the body.
        if Header::parse(raw).is_some_and(|h| h.version == OFP_VERSION && switch_only(h.msg_type)) {
            self.send_error(OfError::BRC_BAD_TYPE, raw);
            return;
        }
        match Message::decode(raw) {
            Ok(msg) => self.dispatch(raw, msg, now, sw, effects),
            Err(e) => self.send_error(e.error, raw),
        }
    }

    /// Expects the peer's HELLO.
    fn handshake(&mut self, raw: &[u8], sw: &mut SwitchState<'_>) {
        let hdr = Header::parse(raw);
        let hello = match Message::decode(raw) {
            Ok(Message {
                version,
                body: Body::Hello(h),
                ..
            }) => Some((version, h)),
            _ => None,
        };
        let xid = hdr.map_or(0, |h| h.xid);
        match hello {
            Some((version, h)) if h.accepts(version, OFP_VERSION) => {
                self.hello_done = true;
                if let Some(ch) = sw.controllers.get_mut(self.id) {
                    ch.ready = true;
                }
            }
            Some((version, h)) => {
                let theirs = match h.versions() {
                    Some(v) => format!("versions {v:?}"),
                    None => format!("version {version} and earlier"),
                };
                let text = format!(
                    "We support version 0x04 (OpenFlow 1.3), you support {theirs}, no common versions."
                );
                let err = ErrorMsg::Standard {
                    error: OfError::HFC_INCOMPATIBLE,
                    data: text.into_bytes(),
                };
                // In the peer's own version so that it can read it (the
                // HELLO_FAILED type and code are the same in every version).
                let msg = Message {
                    version: version.min(OFP_VERSION),
                    xid,
                    body: Body::Error(err),
                };
                self.push(&msg);
                self.close = Some(CloseReason::HelloFailed);
            }
            None if hdr.is_some_and(|h| h.msg_type == msg_type::HELLO) => {
                // A HELLO too malformed to decode.
                self.send_error(OfError::BRC_BAD_LEN, raw);
                self.close = Some(CloseReason::HelloFailed);
            }
            None => {
                self.send_error(OfError::HFC_EPERM, raw);
                self.close = Some(CloseReason::NoHello);
            }
        }
    }

    /// Messages a SLAVE may not send (spec 6.3.5; METER_MOD too, as Open
    /// vSwitch), refused before decoding as Open vSwitch does.
    fn slave_refusal(&self, raw: &[u8], sw: &SwitchState<'_>) -> Option<OfError> {
        let h = Header::parse(raw)?;
        let writes = matches!(
            h.msg_type,
            msg_type::FLOW_MOD
                | msg_type::GROUP_MOD
                | msg_type::PORT_MOD
                | msg_type::TABLE_MOD
                | msg_type::METER_MOD
                | msg_type::PACKET_OUT
        );
        (writes && h.version == OFP_VERSION && sw.controllers.role(self.id) == super::Role::Slave)
            .then_some(OfError::BRC_IS_SLAVE)
    }

    /// Queues an encoded message.
    pub(super) fn push(&mut self, m: &Message) {
        self.outbox.extend_from_slice(&m.to_bytes());
    }

    /// Queues a reply with the request's xid.
    pub(super) fn reply(&mut self, xid: u32, body: Body) {
        self.push(&Message::new(xid, body));
    }

    /// Queues the OFPT_ERROR answering `raw`: same xid, its first 64 bytes.
    pub(super) fn send_error(&mut self, error: OfError, raw: &[u8]) {
        let xid = Header::parse(raw).map_or(0, |h| h.xid);
        self.reply(xid, Body::Error(ErrorMsg::reply_to(error, raw)));
    }

    fn alloc_xid(&mut self) -> u32 {
        let x = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        x
    }

    /// Bytes to send, emptying the output.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outbox)
    }

    pub fn has_output(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Queues asynchronous messages another connection's call produced for
    /// this one ([`Effect::Send`]) or that the daemon built with
    /// [`Controllers`] (packet-ins, flow expiry, port changes). Dropped
    /// before the HELLO exchange and after close.
    pub fn deliver(&mut self, bytes: &[u8]) {
        if self.is_ready() {
            self.outbox.extend_from_slice(bytes);
        }
    }

    /// When [`Connection::on_timer`] must run next.
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.close.is_some() {
            return None;
        }
        self.probe.deadline()
    }

    /// Runs the inactivity probe at `now`.
    pub fn on_timer(&mut self, now: u64) {
        if self.close.is_some() {
            return;
        }
        match self.probe.fire(now, self.hello_done) {
            ProbeAction::Nothing => {}
            ProbeAction::SendEcho => {
                let xid = self.alloc_xid();
                self.push(&Message::new(xid, Body::EchoRequest(Vec::new())));
            }
            ProbeAction::Dead => self.close = Some(CloseReason::Inactive),
        }
    }

    /// Removes the channel from the set once its socket is closed.
    pub fn shutdown(self, controllers: &mut Controllers, pipeline: &mut Pipeline) {
        controllers.unregister(self.id);
        controllers.sync_pipeline(pipeline);
    }
}

/// Message types only a switch sends (answered OFPBRC_BAD_TYPE).
fn switch_only(t: u8) -> bool {
    matches!(
        t,
        msg_type::FEATURES_REPLY
            | msg_type::GET_CONFIG_REPLY
            | msg_type::PACKET_IN
            | msg_type::FLOW_REMOVED
            | msg_type::PORT_STATUS
            | msg_type::MULTIPART_REPLY
            | msg_type::BARRIER_REPLY
            | msg_type::QUEUE_GET_CONFIG_REPLY
            | msg_type::ROLE_REPLY
            | msg_type::GET_ASYNC_REPLY
    )
}
