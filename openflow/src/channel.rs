//! The client (controller) side of an OpenFlow 1.3 channel, sans-IO.
//!
//! One implementation for every program that talks *to* a switch: the
//! blocking `ofswitch ofctl` client, the benchmark tools built on it, and
//! the tokio controller. Each of them is a thin driver that moves bytes and
//! time; everything with a protocol meaning happens here, without sockets,
//! clocks, threads or async, so it is tested by feeding bytes and reading
//! events (as quinn and boringtun test their cores, and as the switch's own
//! side, `ofswitch`'s `agent::Connection`, is shaped).
//!
//! The driver's loop:
//!
//! 1. write what [`Channel::take_output`] returns (our HELLO is queued by
//!    [`Channel::new`]; echo replies, probes and requests follow);
//! 2. wait for bytes or until [`Channel::poll_timeout`] (a monotonic time in
//!    ns, on the same clock as every `now` passed in);
//! 3. pass bytes to [`Channel::receive`], or call
//!    [`Channel::handle_timeout`] when the time has come;
//! 4. drain [`Channel::poll_event`] and act on the [`Event`]s.
//!
//! What the channel does:
//!
//! - HELLO (spec 6.3.1): ours offers only 1.3 with a version bitmap. The
//!   peer's must come first and accept 1.3 (bitmap bit 4, or a header
//!   version of at least 4 without a bitmap); otherwise the peer is sent
//!   OFPET_HELLO_FAILED (as Open vSwitch and our switch do) and the channel
//!   closes with a [`ChannelError`] saying why. An OFPT_ERROR instead of a
//!   HELLO is the peer refusing us. ECHO_REQUESTs are answered even before
//!   the HELLO, as they cost nothing.
//! - Echo both ways: ECHO_REQUESTs are answered at once, with their xid and
//!   data. The inactivity probe ([`crate::probe`]) sends an ECHO_REQUEST
//!   after a probe interval without input and declares the peer dead after
//!   one more.
//! - Requests: [`Channel::request`] allocates an xid and tracks it; the
//!   reply comes back as one [`Event::Reply`] with every part of a
//!   multipart reply (OFPMPF_REPLY_MORE) in order, an OFPT_ERROR answering
//!   it as [`Event::Error`], a reply that does not decode as
//!   [`Event::BadReply`], and no answer within the request timeout as
//!   [`Event::TimedOut`]. Each part received restarts the timeout, so a long
//!   dump is bounded per part, not as a whole. Parts are held without a
//!   size bound: the caller asked for them. A request too big for one
//!   message (a TABLE_FEATURES set) goes out in parts sharing one xid,
//!   OFPMPF_REQ_MORE on all but the last ([`Channel::request_parts`]), and
//!   is answered once.
//! - Modifications: [`Channel::send_mod`] sends a message that has no reply
//!   (FLOW_MOD, GROUP_MOD, ...) and remembers its xid; [`Channel::barrier`]
//!   closes the batch of mods sent since the previous barrier. Errors for the
//!   mods are collected, and the BARRIER_REPLY (which the switch sends only
//!   after processing everything before it, spec 6.2) completes the batch
//!   as one [`Event::Barrier`] listing them. Each error restarts the
//!   barrier's timeout, since a large batch may bring many errors first.
//!   Mods are written straight into the output, so a driver can flush
//!   every few KiB while a large batch is still being encoded.
//! - Everything else (PACKET_IN, PORT_STATUS, FLOW_REMOVED, an ERROR or a
//!   reply whose xid we are not waiting for, replies to [`Channel::send`])
//!   is [`Event::Unsolicited`]; an unsolicited message that does not decode
//!   is [`Event::Undecodable`]. Neither closes the channel: only a broken
//!   stream (a header length the [`Framer`] cannot follow), a failed
//!   handshake or a dead peer does, as [`Event::Closed`].
//!
//! Nothing received from the peer can make this code panic: every message
//! goes through [`Framer`] and [`Message::decode`], and every outcome is an
//! event.

use crate::error::OfError;
use crate::message::{msg_type, Body, Header, Message, MAX_MESSAGE_LEN};
use crate::messages::{ErrorMsg, Hello};
use crate::multipart::{MultipartReply, MORE};
use crate::probe::{Probe, ProbeAction};
use crate::types::OFP_VERSION;
use crate::{DecodeError, FrameError, Framer};
use bytes::BytesMut;
use std::collections::{HashMap, VecDeque};

/// Nanoseconds in a second, for configuring intervals.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// Timers of a channel, in ns on the caller's monotonic clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Inactivity probe interval; `None` disables echo probing.
    pub probe_interval: Option<u64>,
    /// How long a request, a barrier, or the peer's HELLO may take (each
    /// reply part or mod error restarts it); `None` waits forever.
    pub request_timeout: Option<u64>,
}

impl Default for ChannelConfig {
    /// Open vSwitch's defaults: a 5 s probe; 10 s for a reply, as ovs-ofctl.
    fn default() -> Self {
        ChannelConfig {
            probe_interval: Some(5 * NS_PER_SEC),
            request_timeout: Some(10 * NS_PER_SEC),
        }
    }
}

/// Why the channel closed. After it, the driver writes what
/// [`Channel::take_output`] still holds (an OFPT_ERROR telling the peer why,
/// if any) and closes the socket.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The peer's HELLO does not accept OpenFlow 1.3.
    #[error("does not speak OpenFlow 1.3 (version 0x04); it offers {}", offered_text(*.version, .offered))]
    Incompatible {
        /// The version in the HELLO's header.
        version: u8,
        /// The versions in its bitmap, if it has one.
        offered: Option<Vec<u8>>,
    },
    /// The peer answered our HELLO with an OFPT_ERROR (`None` when the
    /// error is in a version we cannot decode).
    #[error("refused the connection ({})", refusal_text(*.version, .error))]
    Refused {
        version: u8,
        error: Option<ErrorMsg>,
    },
    /// The peer's first message was not a HELLO.
    #[error("sent {} before HELLO", msg_type::name(*.msg_type))]
    NoHello { msg_type: u8 },
    /// The peer's HELLO does not decode.
    #[error("sent a malformed HELLO: {0}")]
    BadHello(DecodeError),
    /// No HELLO within the request timeout.
    #[error("sent no HELLO in time")]
    HelloTimeout,
    /// The byte stream cannot be framed any more.
    #[error("sent a broken stream: {0}")]
    BadFraming(FrameError),
    /// Nothing received for two probe intervals, an echo request unanswered.
    #[error("did not answer an echo request")]
    Inactive,
}

fn offered_text(version: u8, offered: &Option<Vec<u8>>) -> String {
    match offered {
        Some(v) if v.is_empty() => "no version".to_string(),
        Some(v) => v
            .iter()
            .map(|v| format!("0x{v:02x}"))
            .collect::<Vec<_>>()
            .join(", "),
        None => format!("up to 0x{version:02x}"),
    }
}

fn refusal_text(version: u8, error: &Option<ErrorMsg>) -> String {
    match error {
        Some(ErrorMsg::Standard { error, .. }) => match error.name() {
            Some(n) => n.to_string(),
            None => error.to_string(),
        },
        Some(ErrorMsg::Experimenter {
            exp_type,
            experimenter,
            ..
        }) => format!("experimenter error 0x{experimenter:08x} type {exp_type}"),
        None => format!("OpenFlow version 0x{version:02x} error"),
    }
}

/// Why a message could not be queued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("message of {0} bytes exceeds OpenFlow's 65535-byte limit")]
    TooLong(usize),
    #[error("the channel is closed: {0}")]
    Closed(ChannelError),
    /// [`Channel::request_parts`] with no part: nothing to wait for.
    #[error("a request needs at least one message")]
    NoParts,
}

/// An OFPT_ERROR the switch returned for one mod of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModError {
    /// The xid [`Channel::send_mod`] returned for the mod.
    pub xid: u32,
    pub error: ErrorMsg,
}

/// What happened on the channel, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The HELLO exchange succeeded: OpenFlow 1.3 it is.
    Ready,
    /// The reply to request `xid`: one message, or every part of a
    /// multipart reply in order.
    Reply { xid: u32, messages: Vec<Message> },
    /// The peer answered request `xid` with an OFPT_ERROR.
    Error { xid: u32, error: ErrorMsg },
    /// The answer to request (or barrier) `xid` does not decode.
    BadReply { xid: u32, error: DecodeError },
    /// The BARRIER_REPLY for barrier `xid` came: every mod before it is
    /// done, and `errors` are those the peer raised for them, in order of
    /// arrival. `refused` is set if the barrier itself was answered by an
    /// OFPT_ERROR instead (the mods' errors are still listed).
    Barrier {
        xid: u32,
        errors: Vec<ModError>,
        refused: Option<ErrorMsg>,
    },
    /// Request (or barrier) `xid` got no answer within the request timeout;
    /// it is forgotten, and a late answer will be [`Event::Unsolicited`].
    TimedOut { xid: u32 },
    /// A message nobody waits for: PACKET_IN, PORT_STATUS, FLOW_REMOVED,
    /// an ERROR with an unknown xid, a reply to [`Channel::send`].
    Unsolicited(Message),
    /// A message that does not decode and answers nothing we wait for.
    Undecodable { header: Header, error: DecodeError },
    /// The channel is closed; nothing more will happen.
    Closed(ChannelError),
}

/// An xid we wait on.
#[derive(Debug)]
enum Pending {
    Request {
        parts: Vec<Message>,
        deadline: Option<u64>,
    },
    Barrier {
        mods: Vec<u32>,
        errors: Vec<ModError>,
        deadline: Option<u64>,
    },
}

impl Pending {
    fn deadline(&self) -> Option<u64> {
        match self {
            Pending::Request { deadline, .. } | Pending::Barrier { deadline, .. } => *deadline,
        }
    }
}

/// Which batch a mod belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Batch {
    /// Not yet followed by a barrier.
    Open,
    /// Followed by the barrier with this xid.
    Barrier(u32),
}

/// The client side of one OpenFlow channel. See the module docs.
#[derive(Debug)]
pub struct Channel {
    config: ChannelConfig,
    framer: Framer,
    out: BytesMut,
    events: VecDeque<Event>,
    ready: bool,
    closed: Option<ChannelError>,
    /// When the peer's HELLO is due (while not ready).
    hello_deadline: Option<u64>,
    probe: Probe,
    /// The xid of our outstanding probe ECHO_REQUEST.
    probe_xid: Option<u32>,
    next_xid: u32,
    /// Requests and barriers; few at a time, so scanning them for the
    /// next deadline is cheap.
    pending: HashMap<u32, Pending>,
    /// Mods awaiting their barrier's reply; may be many, and have no
    /// deadline of their own.
    mods: HashMap<u32, Batch>,
    /// Mods sent since the last barrier, and their errors so far.
    open_mods: Vec<u32>,
    open_errors: Vec<ModError>,
}

impl Channel {
    /// A new channel at time `now`, our HELLO queued.
    pub fn new(config: ChannelConfig, now: u64) -> Channel {
        let mut c = Channel {
            config,
            framer: Framer::new(),
            out: BytesMut::with_capacity(4096),
            events: VecDeque::new(),
            ready: false,
            closed: None,
            hello_deadline: config.request_timeout.map(|t| now.saturating_add(t)),
            probe: Probe::new(config.probe_interval, now),
            probe_xid: None,
            next_xid: 1,
            pending: HashMap::new(),
            mods: HashMap::new(),
            open_mods: Vec::new(),
            open_errors: Vec::new(),
        };
        let xid = c.next_xid();
        c.push(&Message::new(
            xid,
            Body::Hello(Hello::with_versions(&[OFP_VERSION])),
        ));
        c
    }

    /// The HELLO exchange succeeded and the channel is open.
    pub fn is_ready(&self) -> bool {
        self.ready && self.closed.is_none()
    }

    /// Why the channel closed, once it has.
    pub fn error(&self) -> Option<&ChannelError> {
        self.closed.as_ref()
    }

    /// Bytes to write to the peer, emptying the output.
    pub fn take_output(&mut self) -> BytesMut {
        self.out.split()
    }

    /// Bytes queued for the peer.
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A fresh xid: never 0, never one we are still waiting on.
    pub fn next_xid(&mut self) -> u32 {
        loop {
            let x = self.next_xid;
            self.next_xid = self.next_xid.wrapping_add(1).max(1);
            if !self.pending.contains_key(&x) && !self.mods.contains_key(&x) {
                return x;
            }
        }
    }

    /// Sends `body` with a fresh xid, untracked: whatever answers it is
    /// [`Event::Unsolicited`]. For messages without a reply (PACKET_OUT) or
    /// replies the caller matches itself.
    pub fn send(&mut self, body: Body) -> Result<u32, SendError> {
        let xid = self.next_xid();
        self.send_with_xid(xid, body)?;
        Ok(xid)
    }

    /// Sends `body` with the caller's xid, untracked.
    pub fn send_with_xid(&mut self, xid: u32, body: Body) -> Result<(), SendError> {
        if let Some(e) = &self.closed {
            return Err(SendError::Closed(e.clone()));
        }
        let start = self.out.len();
        let len = Message::new(xid, body).encode(&mut self.out);
        if len > MAX_MESSAGE_LEN {
            self.out.truncate(start);
            return Err(SendError::TooLong(len));
        }
        Ok(())
    }

    /// Sends a request whose answer is awaited: [`Event::Reply`],
    /// [`Event::Error`], [`Event::BadReply`] or [`Event::TimedOut`] with the
    /// returned xid. Requests may be sent before the HELLO exchange ends
    /// (they follow our HELLO on the wire).
    pub fn request(&mut self, body: Body, now: u64) -> Result<u32, SendError> {
        self.request_parts([body], now)
    }

    /// Sends one request in several messages under one xid, awaited like
    /// [`Channel::request`]: a multipart request too big for one message
    /// (a TABLE_FEATURES set), each part but the last flagged
    /// OFPMPF_REQ_MORE by the caller. The switch reassembles the parts and
    /// answers once. All parts are queued or none is (a part over the size
    /// limit leaves nothing half-sent for the peer to wait on).
    pub fn request_parts(
        &mut self,
        parts: impl IntoIterator<Item = Body>,
        now: u64,
    ) -> Result<u32, SendError> {
        if let Some(e) = &self.closed {
            return Err(SendError::Closed(e.clone()));
        }
        let xid = self.next_xid();
        let start = self.out.len();
        let mut n = 0;
        for body in parts {
            if let Err(e) = self.send_with_xid(xid, body) {
                self.out.truncate(start);
                return Err(e);
            }
            n += 1;
        }
        if n == 0 {
            return Err(SendError::NoParts);
        }
        let deadline = self.deadline_from(now);
        self.pending.insert(
            xid,
            Pending::Request {
                parts: Vec::new(),
                deadline,
            },
        );
        Ok(xid)
    }

    /// Sends a modification (a message without a reply) as part of the
    /// current batch; its errors are reported by the [`Event::Barrier`] of
    /// the next [`Channel::barrier`].
    pub fn send_mod(&mut self, body: Body) -> Result<u32, SendError> {
        let xid = self.send(body)?;
        self.mods.insert(xid, Batch::Open);
        self.open_mods.push(xid);
        Ok(xid)
    }

    /// Sends a BARRIER_REQUEST closing the current batch; its reply is one
    /// [`Event::Barrier`] (or [`Event::TimedOut`]) with the returned xid.
    pub fn barrier(&mut self, now: u64) -> Result<u32, SendError> {
        let xid = self.send(Body::BarrierRequest)?;
        let mods = std::mem::take(&mut self.open_mods);
        for m in &mods {
            self.mods.insert(*m, Batch::Barrier(xid));
        }
        let deadline = self.deadline_from(now);
        self.pending.insert(
            xid,
            Pending::Barrier {
                mods,
                errors: std::mem::take(&mut self.open_errors),
                deadline,
            },
        );
        Ok(xid)
    }

    /// Sends `mods` then a barrier: the barrier's xid and each mod's xid.
    pub fn send_batch(
        &mut self,
        mods: impl IntoIterator<Item = Body>,
        now: u64,
    ) -> Result<(u32, Vec<u32>), SendError> {
        let xids = mods
            .into_iter()
            .map(|b| self.send_mod(b))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((self.barrier(now)?, xids))
    }

    /// Feeds bytes received at `now`; events follow from
    /// [`Channel::poll_event`], answers (echo replies) from
    /// [`Channel::take_output`].
    pub fn receive(&mut self, bytes: &[u8], now: u64) {
        if self.closed.is_some() {
            return;
        }
        if !bytes.is_empty() {
            self.probe.received(now);
        }
        self.framer.push(bytes);
        while self.closed.is_none() {
            match self.framer.next_message() {
                Ok(Some(raw)) => self.handle_message(&raw, now),
                Ok(None) => break,
                Err(e) => self.close(ChannelError::BadFraming(e)),
            }
        }
    }

    /// When [`Channel::handle_timeout`] must run next (`None`: only input
    /// matters).
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.closed.is_some() {
            return None;
        }
        let hello = if self.ready {
            None
        } else {
            self.hello_deadline
        };
        [hello, self.probe.deadline()]
            .into_iter()
            .chain(self.pending.values().map(Pending::deadline))
            .flatten()
            .min()
    }

    /// Runs the timers at `now`: the HELLO deadline, the probe, request
    /// timeouts.
    pub fn handle_timeout(&mut self, now: u64) {
        if self.closed.is_some() {
            return;
        }
        if !self.ready && self.hello_deadline.is_some_and(|d| now >= d) {
            self.close(ChannelError::HelloTimeout);
            return;
        }
        match self.probe.fire(now, self.ready) {
            ProbeAction::Nothing => {}
            ProbeAction::SendEcho => {
                let xid = self.next_xid();
                self.push(&Message::new(xid, Body::EchoRequest(Vec::new())));
                self.probe_xid = Some(xid);
            }
            ProbeAction::Dead => {
                self.close(ChannelError::Inactive);
                return;
            }
        }
        let mut expired: Vec<u32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline().is_some_and(|d| now >= d))
            .map(|(x, _)| *x)
            .collect();
        expired.sort_unstable();
        for xid in expired {
            self.forget(xid);
            self.events.push_back(Event::TimedOut { xid });
        }
    }

    fn deadline_from(&self, now: u64) -> Option<u64> {
        self.config.request_timeout.map(|t| now.saturating_add(t))
    }

    fn push(&mut self, m: &Message) {
        m.encode(&mut self.out);
    }

    fn close(&mut self, why: ChannelError) {
        if self.closed.is_none() {
            self.closed = Some(why.clone());
            self.events.push_back(Event::Closed(why));
        }
    }

    /// Stops waiting on `xid`, and on the mods of a barrier.
    fn forget(&mut self, xid: u32) -> Option<Pending> {
        let p = self.pending.remove(&xid)?;
        if let Pending::Barrier { mods, .. } = &p {
            for m in mods {
                self.mods.remove(m);
            }
        }
        Some(p)
    }

    fn handle_message(&mut self, raw: &[u8], now: u64) {
        // The framer only yields whole messages of at least 8 bytes.
        let Some(header) = Header::parse(raw) else {
            return;
        };
        if !self.ready {
            self.handshake(header, raw, now);
            return;
        }
        let msg = match Message::decode(raw) {
            Ok(m) => m,
            Err(error) => {
                let xid = header.xid;
                if self.forget(xid).is_some() {
                    self.events.push_back(Event::BadReply { xid, error });
                } else {
                    self.events.push_back(Event::Undecodable { header, error });
                }
                return;
            }
        };
        let xid = msg.xid;
        match msg.body {
            Body::EchoRequest(data) => {
                self.push(&Message::new(xid, Body::EchoReply(data)));
                return;
            }
            Body::EchoReply(_)
                if self.probe_xid == Some(xid) && !self.pending.contains_key(&xid) =>
            {
                self.probe_xid = None;
                return;
            }
            _ => {}
        }
        if let Body::Error(error) = &msg.body {
            if let Some(batch) = self.mods.remove(&xid) {
                let e = ModError {
                    xid,
                    error: error.clone(),
                };
                match batch {
                    Batch::Open => self.open_errors.push(e),
                    Batch::Barrier(b) => {
                        let deadline = self.deadline_from(now);
                        if let Some(Pending::Barrier {
                            errors,
                            deadline: d,
                            ..
                        }) = self.pending.get_mut(&b)
                        {
                            errors.push(e);
                            *d = deadline;
                        }
                    }
                }
                return;
            }
        }
        match self.pending.get_mut(&xid) {
            None => self.events.push_back(Event::Unsolicited(msg)),
            Some(Pending::Request { parts, deadline }) => match msg.body {
                Body::Error(error) => {
                    self.forget(xid);
                    self.events.push_back(Event::Error { xid, error });
                }
                Body::MultipartReply(MultipartReply { flags, .. }) if flags & MORE != 0 => {
                    parts.push(msg);
                    *deadline = self.config.request_timeout.map(|t| now.saturating_add(t));
                }
                _ => {
                    parts.push(msg);
                    if let Some(Pending::Request { parts, .. }) = self.forget(xid) {
                        self.events.push_back(Event::Reply {
                            xid,
                            messages: parts,
                        });
                    }
                }
            },
            Some(Pending::Barrier { .. }) => {
                let refused = match msg.body {
                    Body::BarrierReply => None,
                    Body::Error(e) => Some(e),
                    _ => {
                        self.events.push_back(Event::Unsolicited(msg));
                        return;
                    }
                };
                if let Some(Pending::Barrier { errors, .. }) = self.forget(xid) {
                    self.events.push_back(Event::Barrier {
                        xid,
                        errors,
                        refused,
                    });
                }
            }
        }
    }

    /// Expects the peer's HELLO.
    fn handshake(&mut self, header: Header, raw: &[u8], _now: u64) {
        match Message::decode(raw) {
            Ok(Message {
                version,
                body: Body::Hello(h),
                ..
            }) => {
                if h.accepts(version, OFP_VERSION) {
                    self.ready = true;
                    self.events.push_back(Event::Ready);
                    return;
                }
                let offered = h.versions();
                let text = format!(
                    "We support version 0x04 (OpenFlow 1.3), you support {}, no common versions.",
                    offered_text(version, &offered)
                );
                // In the peer's own version so that it can read it (the
                // HELLO_FAILED type and code are the same in every version).
                self.push(&Message {
                    version: version.min(OFP_VERSION),
                    xid: header.xid,
                    body: Body::Error(ErrorMsg::Standard {
                        error: OfError::HFC_INCOMPATIBLE,
                        data: text.into_bytes(),
                    }),
                });
                self.close(ChannelError::Incompatible { version, offered });
            }
            Ok(Message {
                version,
                body: Body::Error(e),
                ..
            }) => self.close(ChannelError::Refused {
                version,
                error: Some(e),
            }),
            Ok(Message {
                xid,
                body: Body::EchoRequest(data),
                ..
            }) => self.push(&Message::new(xid, Body::EchoReply(data))),
            Err(_) if header.msg_type == msg_type::ERROR => self.close(ChannelError::Refused {
                version: header.version,
                error: None,
            }),
            Err(e) if header.msg_type == msg_type::HELLO => {
                self.push_error(header, OfError::HFC_EPERM, raw);
                self.close(ChannelError::BadHello(e));
            }
            _ => {
                self.push_error(header, OfError::HFC_EPERM, raw);
                self.close(ChannelError::NoHello {
                    msg_type: header.msg_type,
                });
            }
        }
    }

    /// Queues the OFPT_ERROR answering `raw`: its xid, its first 64 bytes.
    fn push_error(&mut self, header: Header, error: OfError, raw: &[u8]) {
        self.push(&Message::new(
            header.xid,
            Body::Error(ErrorMsg::reply_to(error, raw)),
        ));
    }
}

#[cfg(test)]
mod tests {
    //! Whole conversations without sockets: the peer is a byte vector.
    use super::*;
    use crate::multipart::{
        AggregateStats, MultipartReplyBody, MultipartRequest, MultipartRequestBody,
    };
    use crate::samples;

    const S: u64 = NS_PER_SEC;

    fn config() -> ChannelConfig {
        ChannelConfig {
            probe_interval: Some(5 * S),
            request_timeout: Some(10 * S),
        }
    }

    fn bytes(m: &Message) -> Vec<u8> {
        m.to_bytes()
    }

    /// Every message in `out`, which must frame and decode cleanly.
    fn sent(out: &[u8]) -> Vec<Message> {
        let mut f = Framer::new();
        f.push(out);
        let mut v = Vec::new();
        while let Some(raw) = f.next_message().expect("framing") {
            v.push(Message::decode(&raw).expect("decodes"));
        }
        assert_eq!(f.pending(), 0);
        v
    }

    fn events(c: &mut Channel) -> Vec<Event> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    fn hello(version: u8, versions: &[u8]) -> Vec<u8> {
        let h = if versions.is_empty() {
            Hello::default()
        } else {
            Hello::with_versions(versions)
        };
        bytes(&Message {
            version,
            xid: 7,
            body: Body::Hello(h),
        })
    }

    /// A channel past the HELLO exchange at time 0, output and events drained.
    fn ready() -> Channel {
        let mut c = Channel::new(config(), 0);
        c.receive(&hello(4, &[1, 4]), 0);
        assert_eq!(events(&mut c), [Event::Ready]);
        c.take_output();
        c
    }

    fn mp_request() -> Body {
        Body::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Aggregate(
            Default::default(),
        )))
    }

    fn mp_part(xid: u32, flags: u16, packets: u64) -> Message {
        Message::new(
            xid,
            Body::MultipartReply(MultipartReply {
                flags,
                body: MultipartReplyBody::Aggregate(AggregateStats {
                    packet_count: packets,
                    ..Default::default()
                }),
            }),
        )
    }

    fn error_for(xid: u32, error: OfError) -> Message {
        Message::new(xid, Body::Error(ErrorMsg::reply_to(error, &[4, 14, 0, 8])))
    }

    fn err_body(error: OfError) -> ErrorMsg {
        ErrorMsg::reply_to(error, &[4, 14, 0, 8])
    }

    fn flow_mod() -> Body {
        samples::all_messages()
            .into_iter()
            .find_map(|m| matches!(m.body, Body::FlowMod(_)).then_some(m.body))
            .expect("a sample FLOW_MOD")
    }

    #[test]
    fn hello_offers_only_1_3_with_a_bitmap() {
        let mut c = Channel::new(config(), 0);
        assert!(!c.is_ready());
        assert_eq!(
            &c.take_output()[..],
            [4, 0, 0, 16, 0, 0, 0, 1, 0, 1, 0, 8, 0, 0, 0, 0x10]
        );
        // The peer's HELLO may come in pieces.
        let h = hello(6, &[1, 4, 6]);
        c.receive(&h[..3], 0);
        assert_eq!(c.poll_event(), None);
        c.receive(&h[3..], 0);
        assert_eq!(events(&mut c), [Event::Ready]);
        assert!(c.is_ready());
        assert!(c.take_output().is_empty());
    }

    #[test]
    fn hello_without_bitmap_goes_by_header_version() {
        let mut c = Channel::new(config(), 0);
        c.receive(&hello(5, &[]), 0);
        assert_eq!(events(&mut c), [Event::Ready]);

        let mut c = Channel::new(config(), 0);
        c.take_output();
        c.receive(&hello(1, &[]), 0);
        let e = ChannelError::Incompatible {
            version: 1,
            offered: None,
        };
        assert_eq!(events(&mut c), [Event::Closed(e.clone())]);
        assert_eq!(
            e.to_string(),
            "does not speak OpenFlow 1.3 (version 0x04); it offers up to 0x01"
        );
    }

    #[test]
    fn version_mismatch_is_a_clear_error_and_tells_the_peer() {
        let mut c = Channel::new(config(), 0);
        c.take_output();
        c.receive(&hello(3, &[1, 2, 3]), 0);
        let e = ChannelError::Incompatible {
            version: 3,
            offered: Some(vec![1, 2, 3]),
        };
        assert_eq!(events(&mut c), [Event::Closed(e.clone())]);
        assert_eq!(
            e.to_string(),
            "does not speak OpenFlow 1.3 (version 0x04); it offers 0x01, 0x02, 0x03"
        );
        assert_eq!(c.error(), Some(&e));
        assert!(!c.is_ready());
        // OFPT_ERROR HELLO_FAILED/INCOMPATIBLE in the peer's version 3, with
        // the peer's xid and an ASCII explanation.
        let out = c.take_output();
        let h = Header::parse(&out).expect("header");
        assert_eq!((h.version, h.msg_type, h.xid), (3, msg_type::ERROR, 7));
        assert_eq!(usize::from(h.length), out.len());
        assert_eq!(&out[8..12], [0, 0, 0, 0]);
        assert!(std::str::from_utf8(&out[12..])
            .expect("ascii")
            .contains("no common versions"));
        // Closed means closed: no timers, no more events, no sends.
        assert_eq!(c.poll_timeout(), None);
        c.receive(&hello(4, &[4]), 1);
        c.handle_timeout(100 * S);
        assert_eq!(c.poll_event(), None);
        assert_eq!(
            c.send(Body::BarrierRequest),
            Err(SendError::Closed(e.clone()))
        );
        assert!(c.take_output().is_empty());
    }

    #[test]
    fn garbage_instead_of_hello() {
        // A header length below 8: the stream cannot be framed.
        let mut c = Channel::new(config(), 0);
        c.receive(&[4, 0, 0, 4, 0, 0, 0, 1, 9, 9], 0);
        assert_eq!(
            events(&mut c),
            [Event::Closed(ChannelError::BadFraming(
                FrameError::TooShort(4)
            ))]
        );

        // Another message first: NoHello, and OFPHFC_EPERM to the peer.
        for first in [
            vec![4, 99, 0, 8, 0, 0, 0, 5],
            bytes(&Message::new(5, Body::FeaturesRequest)),
        ] {
            let mut c = Channel::new(config(), 0);
            c.take_output();
            c.receive(&first, 0);
            let t = first[1];
            assert_eq!(
                events(&mut c),
                [Event::Closed(ChannelError::NoHello { msg_type: t })]
            );
            let out = sent(&c.take_output());
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].xid, 5);
            assert!(matches!(
                &out[0].body,
                Body::Error(ErrorMsg::Standard { error, data })
                    if *error == OfError::HFC_EPERM && data[..] == first[..]
            ));
        }

        // A HELLO whose element length is below 4.
        let mut c = Channel::new(config(), 0);
        c.receive(&[4, 0, 0, 12, 0, 0, 0, 1, 0, 1, 0, 2], 0);
        assert!(matches!(
            events(&mut c)[..],
            [Event::Closed(ChannelError::BadHello(_))]
        ));
    }

    #[test]
    fn an_error_instead_of_hello_is_a_refusal() {
        let mut c = Channel::new(config(), 0);
        c.receive(&bytes(&error_for(1, OfError::HFC_EPERM)), 0);
        let e = ChannelError::Refused {
            version: 4,
            error: Some(err_body(OfError::HFC_EPERM)),
        };
        assert_eq!(events(&mut c), [Event::Closed(e.clone())]);
        assert_eq!(e.to_string(), "refused the connection (OFPHFC_EPERM)");

        // An OpenFlow 1.0 error does not decode, but is still a refusal.
        let mut c = Channel::new(config(), 0);
        c.receive(&[1, 1, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0], 0);
        let e = ChannelError::Refused {
            version: 1,
            error: None,
        };
        assert_eq!(events(&mut c), [Event::Closed(e.clone())]);
        assert_eq!(
            e.to_string(),
            "refused the connection (OpenFlow version 0x01 error)"
        );
    }

    #[test]
    fn echo_requests_are_answered_before_and_after_hello() {
        let mut c = Channel::new(config(), 0);
        c.take_output();
        c.receive(&bytes(&Message::new(40, Body::EchoRequest(vec![9]))), 0);
        assert_eq!(
            sent(&c.take_output()),
            [Message::new(40, Body::EchoReply(vec![9]))]
        );
        assert_eq!(c.poll_event(), None);
        c.receive(&hello(4, &[4]), 0);
        assert_eq!(events(&mut c), [Event::Ready]);
        let req = Message::new(41, Body::EchoRequest(b"ping".to_vec()));
        c.receive(&bytes(&req), 1);
        assert_eq!(
            sent(&c.take_output()),
            [Message::new(41, Body::EchoReply(b"ping".to_vec()))]
        );
        assert_eq!(c.poll_event(), None);
    }

    #[test]
    fn probe_echoes_when_idle_and_declares_the_peer_dead() {
        let mut c = ready();
        assert_eq!(c.poll_timeout(), Some(5 * S));
        c.handle_timeout(4 * S);
        assert!(c.take_output().is_empty());
        c.handle_timeout(5 * S);
        let out = sent(&c.take_output());
        assert!(matches!(
            out[..],
            [Message {
                body: Body::EchoRequest(_),
                ..
            }]
        ));
        // The answer is swallowed and restarts the interval.
        let reply = Message::new(out[0].xid, Body::EchoReply(Vec::new()));
        c.receive(&bytes(&reply), 6 * S);
        assert_eq!(c.poll_event(), None);
        assert_eq!(c.poll_timeout(), Some(11 * S));
        // Unanswered this time: dead one interval later.
        c.handle_timeout(11 * S);
        assert_eq!(sent(&c.take_output()).len(), 1);
        assert_eq!(c.poll_timeout(), Some(16 * S));
        c.handle_timeout(16 * S);
        assert_eq!(events(&mut c), [Event::Closed(ChannelError::Inactive)]);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn probe_off_and_hello_timeout() {
        let cfg = ChannelConfig {
            probe_interval: None,
            request_timeout: Some(S),
        };
        let mut c = Channel::new(cfg, 0);
        assert_eq!(c.poll_timeout(), Some(S));
        c.handle_timeout(S - 1);
        assert_eq!(c.poll_event(), None);
        c.handle_timeout(S);
        assert_eq!(events(&mut c), [Event::Closed(ChannelError::HelloTimeout)]);

        // No timers at all: nothing to wake up for once ready.
        let none = ChannelConfig {
            probe_interval: None,
            request_timeout: None,
        };
        let mut c = Channel::new(none, 0);
        assert_eq!(c.poll_timeout(), None);
        c.receive(&hello(4, &[4]), 0);
        c.request(Body::FeaturesRequest, 0).expect("send");
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn replies_are_matched_by_xid() {
        let mut c = ready();
        let a = c.request(Body::FeaturesRequest, 0).expect("a");
        let b = c.request(Body::GetConfigRequest, 0).expect("b");
        assert_ne!(a, b);
        let out = sent(&c.take_output());
        assert_eq!(out.iter().map(|m| m.xid).collect::<Vec<_>>(), [a, b]);
        let features = samples::all_messages()
            .into_iter()
            .find(|m| matches!(m.body, Body::FeaturesReply(_)))
            .expect("sample");
        let config = samples::all_messages()
            .into_iter()
            .find(|m| matches!(m.body, Body::GetConfigReply(_)))
            .expect("sample");
        let rb = Message::new(b, config.body);
        let ra = Message::new(a, features.body);
        let stray = Message::new(999, Body::BarrierReply);
        let stream = [bytes(&rb), bytes(&stray), bytes(&ra)].concat();
        c.receive(&stream, S);
        assert_eq!(
            events(&mut c),
            [
                Event::Reply {
                    xid: b,
                    messages: vec![rb]
                },
                Event::Unsolicited(stray),
                Event::Reply {
                    xid: a,
                    messages: vec![ra.clone()]
                },
            ]
        );
        // Answered requests are forgotten: a second reply is unsolicited.
        c.receive(&bytes(&ra), 2 * S);
        assert_eq!(events(&mut c), [Event::Unsolicited(ra)]);
        assert_eq!(c.poll_timeout(), Some(7 * S));
    }

    #[test]
    fn multipart_parts_are_reassembled() {
        let mut c = ready();
        let x = c.request(mp_request(), 0).expect("send");
        let other = c.request(mp_request(), 0).expect("send");
        let parts = [mp_part(x, MORE, 1), mp_part(x, MORE, 2), mp_part(x, 0, 3)];
        // Interleaved with an unrelated part, in 7-byte pieces.
        let stream = [
            bytes(&parts[0]),
            bytes(&mp_part(other, MORE, 9)),
            bytes(&parts[1]),
            bytes(&parts[2]),
        ]
        .concat();
        for piece in stream.chunks(7) {
            c.receive(piece, 1);
        }
        assert_eq!(
            events(&mut c),
            [Event::Reply {
                xid: x,
                messages: parts.to_vec()
            }]
        );
        c.receive(&bytes(&mp_part(other, 0, 10)), 2);
        assert!(matches!(
            &events(&mut c)[..],
            [Event::Reply { xid, messages }] if *xid == other && messages.len() == 2
        ));
    }

    #[test]
    fn an_error_answers_a_request() {
        let mut c = ready();
        let x = c.request(mp_request(), 0).expect("send");
        c.receive(&bytes(&mp_part(x, MORE, 1)), 1);
        c.receive(&bytes(&error_for(x, OfError::BRC_BAD_TABLE_ID)), 1);
        assert_eq!(
            events(&mut c),
            [Event::Error {
                xid: x,
                error: err_body(OfError::BRC_BAD_TABLE_ID)
            }]
        );
        // Parts after the error are nobody's.
        let late = mp_part(x, 0, 2);
        c.receive(&bytes(&late), 2);
        assert_eq!(events(&mut c), [Event::Unsolicited(late)]);
    }

    #[test]
    fn malformed_messages_are_events_not_panics() {
        let mut c = ready();
        let x = c.request(Body::FeaturesRequest, 0).expect("send");
        // A FEATURES_REPLY with a 2-byte body answering x.
        let mut bad = vec![4, 6, 0, 10];
        bad.extend_from_slice(&x.to_be_bytes());
        bad.extend_from_slice(&[0, 0]);
        c.receive(&bad, 1);
        assert!(matches!(
            &events(&mut c)[..],
            [Event::BadReply { xid, error }] if *xid == x && error.error == OfError::BRC_BAD_LEN
        ));
        // The same for nobody, and an unknown type.
        c.receive(&bad, 1);
        c.receive(&[4, 99, 0, 8, 0, 0, 0, 3], 1);
        // A version 1.0 message after the handshake.
        c.receive(&[1, 2, 0, 8, 0, 0, 0, 4], 1);
        let ev = events(&mut c);
        assert_eq!(ev.len(), 3);
        assert!(
            ev.iter().all(|e| matches!(e, Event::Undecodable { .. })),
            "{ev:?}"
        );
        assert!(c.is_ready());
    }

    #[test]
    fn unsolicited_messages_are_handed_back() {
        let mut c = ready();
        let x = c.request(Body::FeaturesRequest, 0).expect("send");
        let asyncs: Vec<Message> = samples::all_messages()
            .into_iter()
            .filter(|m| {
                matches!(
                    m.body,
                    Body::PacketIn(_) | Body::PortStatus(_) | Body::FlowRemoved(_)
                )
            })
            .chain([error_for(x + 100, OfError::BRC_BAD_TYPE)])
            .collect();
        assert_eq!(asyncs.len(), 4);
        let stream: Vec<u8> = asyncs.iter().flat_map(bytes).collect();
        c.receive(&stream, S);
        let want: Vec<Event> = asyncs.into_iter().map(Event::Unsolicited).collect();
        assert_eq!(events(&mut c), want);
        // The request is still pending (the probe comes first).
        assert_eq!(c.poll_timeout(), Some(6 * S));
        c.handle_timeout(10 * S);
        assert!(events(&mut c).contains(&Event::TimedOut { xid: x }));
    }

    #[test]
    fn a_barrier_completes_a_batch_with_errors_for_some_mods() {
        let mut c = ready();
        let early = c.send_mod(flow_mod()).expect("mod");
        // An error for a mod before its barrier is even sent.
        c.receive(&bytes(&error_for(early, OfError::FMFC_BAD_TABLE_ID)), 0);
        assert_eq!(c.poll_event(), None);
        let (barrier, xids) = c
            .send_batch([flow_mod(), flow_mod(), flow_mod()], 0)
            .expect("batch");
        let out = sent(&c.take_output());
        assert_eq!(out.len(), 5);
        assert_eq!(out[4].body, Body::BarrierRequest);
        assert_eq!(out[4].xid, barrier);
        assert_eq!(
            out.iter().map(|m| m.xid).collect::<Vec<_>>(),
            [early, xids[0], xids[1], xids[2], barrier]
        );
        let stream = [
            bytes(&error_for(xids[2], OfError::BAC_BAD_OUT_PORT)),
            bytes(&error_for(xids[0], OfError::FMFC_OVERLAP)),
            bytes(&Message::new(barrier, Body::BarrierReply)),
        ]
        .concat();
        c.receive(&stream, 1);
        assert_eq!(
            events(&mut c),
            [Event::Barrier {
                xid: barrier,
                errors: vec![
                    ModError {
                        xid: early,
                        error: err_body(OfError::FMFC_BAD_TABLE_ID)
                    },
                    ModError {
                        xid: xids[2],
                        error: err_body(OfError::BAC_BAD_OUT_PORT)
                    },
                    ModError {
                        xid: xids[0],
                        error: err_body(OfError::FMFC_OVERLAP)
                    },
                ],
                refused: None,
            }]
        );
        // The batch is done: a late error for one of its mods is unsolicited.
        let late = error_for(xids[1], OfError::FMFC_OVERLAP);
        c.receive(&bytes(&late), 2);
        assert_eq!(events(&mut c), [Event::Unsolicited(late)]);

        // A clean batch, and an empty one.
        let (b, _) = c.send_batch([flow_mod()], 3).expect("batch");
        let (b2, none) = c.send_batch([], 3).expect("batch");
        assert!(none.is_empty());
        let stream = [
            bytes(&Message::new(b, Body::BarrierReply)),
            bytes(&Message::new(b2, Body::BarrierReply)),
        ]
        .concat();
        c.receive(&stream, 4);
        assert_eq!(
            events(&mut c),
            [
                Event::Barrier {
                    xid: b,
                    errors: vec![],
                    refused: None
                },
                Event::Barrier {
                    xid: b2,
                    errors: vec![],
                    refused: None
                }
            ]
        );
    }

    #[test]
    fn a_refused_barrier_still_reports_its_mods() {
        let mut c = ready();
        let (b, xids) = c.send_batch([flow_mod()], 0).expect("batch");
        c.receive(&bytes(&error_for(xids[0], OfError::FMFC_OVERLAP)), 1);
        c.receive(&bytes(&error_for(b, OfError::BRC_BAD_TYPE)), 1);
        assert_eq!(
            events(&mut c),
            [Event::Barrier {
                xid: b,
                errors: vec![ModError {
                    xid: xids[0],
                    error: err_body(OfError::FMFC_OVERLAP)
                }],
                refused: Some(err_body(OfError::BRC_BAD_TYPE)),
            }]
        );
    }

    #[test]
    fn progress_restarts_timeouts() {
        let cfg = ChannelConfig {
            probe_interval: None,
            request_timeout: Some(10 * S),
        };
        let mut c = Channel::new(cfg, 0);
        c.receive(&hello(4, &[4]), 0);
        events(&mut c);
        let x = c.request(mp_request(), 0).expect("send");
        let (b, xids) = c.send_batch([flow_mod()], 2 * S).expect("batch");
        assert_eq!(c.poll_timeout(), Some(10 * S));
        c.receive(&bytes(&mp_part(x, MORE, 1)), 5 * S);
        c.receive(&bytes(&error_for(xids[0], OfError::FMFC_OVERLAP)), 6 * S);
        assert_eq!(c.poll_timeout(), Some(15 * S));
        c.handle_timeout(14 * S);
        assert_eq!(c.poll_event(), None);
        c.handle_timeout(16 * S);
        assert_eq!(
            events(&mut c),
            [Event::TimedOut { xid: x }, Event::TimedOut { xid: b }]
        );
        assert_eq!(c.poll_timeout(), None);
        // Late answers are nobody's.
        let late = Message::new(b, Body::BarrierReply);
        c.receive(&bytes(&late), 17 * S);
        assert_eq!(events(&mut c), [Event::Unsolicited(late)]);
    }

    #[test]
    fn xids_skip_zero_and_pending_ones() {
        let mut c = ready();
        c.next_xid = u32::MAX;
        let x = c.request(Body::FeaturesRequest, 0).expect("send");
        assert_eq!(x, u32::MAX);
        assert_eq!(c.next_xid(), 1);
        c.next_xid = u32::MAX;
        assert_eq!(c.next_xid(), 1, "skips the pending u32::MAX and 0");
    }

    #[test]
    fn a_request_in_parts_shares_one_xid_and_one_reply() {
        let mut c = ready();
        let part = |flags| {
            Body::MultipartRequest(MultipartRequest {
                flags,
                body: MultipartRequestBody::PortDesc,
            })
        };
        let x = c
            .request_parts([part(MORE), part(MORE), part(0)], 0)
            .expect("send");
        let out = sent(&c.take_output());
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|m| m.xid == x));
        let reply = Message::new(x, Body::BarrierReply);
        c.receive(&bytes(&reply), 1);
        assert_eq!(
            events(&mut c),
            [Event::Reply {
                xid: x,
                messages: vec![reply]
            }]
        );
        // One part too big: nothing at all is queued or awaited.
        let r = c.request_parts([part(MORE), Body::EchoRequest(vec![0; MAX_MESSAGE_LEN])], 2);
        assert_eq!(r, Err(SendError::TooLong(MAX_MESSAGE_LEN + 8)));
        assert_eq!(c.output_len(), 0);
        assert_eq!(c.request_parts([], 2), Err(SendError::NoParts));
        assert!(c.pending.is_empty());
    }

    #[test]
    fn oversized_messages_are_refused_and_not_queued() {
        let mut c = ready();
        let r = c.send(Body::EchoRequest(vec![0; MAX_MESSAGE_LEN]));
        assert_eq!(r, Err(SendError::TooLong(MAX_MESSAGE_LEN + 8)));
        assert_eq!(c.output_len(), 0);
        let r = c.send_mod(Body::EchoRequest(vec![0; MAX_MESSAGE_LEN]));
        assert!(r.is_err());
        let (b, xids) = c.send_batch([], 0).expect("barrier");
        assert!(xids.is_empty());
        c.receive(&bytes(&Message::new(b, Body::BarrierReply)), 1);
        assert!(
            matches!(&events(&mut c)[..], [Event::Barrier { errors, .. }] if errors.is_empty())
        );
    }

    /// Any bytes, cut anywhere, before or after the handshake: events, never
    /// a panic.
    #[test]
    fn arbitrary_input_never_panics() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(
                    any::<bool>(),
                    proptest::collection::vec(any::<u8>(), 0..400),
                    1usize..50,
                ),
                |(after_hello, data, cut)| {
                    let mut c = if after_hello {
                        ready()
                    } else {
                        Channel::new(config(), 0)
                    };
                    let _ = c.request(mp_request(), 0);
                    // Valid headers with random bodies reach the decoder.
                    let mut stream = Vec::new();
                    for (i, chunk) in data.chunks(13).enumerate() {
                        let len = (8 + chunk.len()) as u16;
                        let t = chunk.first().copied().unwrap_or(0) % 32;
                        stream.extend_from_slice(&[4, t]);
                        stream.extend_from_slice(&len.to_be_bytes());
                        stream.extend_from_slice(&(i as u32 % 3).to_be_bytes());
                        stream.extend_from_slice(chunk);
                    }
                    stream.extend_from_slice(&data);
                    for piece in stream.chunks(cut) {
                        c.receive(piece, 1);
                        while c.poll_event().is_some() {}
                    }
                    c.handle_timeout(u64::MAX);
                    while c.poll_event().is_some() {}
                    c.take_output();
                    Ok(())
                },
            )
            .expect("no panic");
    }
}
