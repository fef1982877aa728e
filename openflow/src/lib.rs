//! OpenFlow 1.3 (wire version 0x04) without I/O.
//!
//! - [`Message::decode`] turns one complete message into typed values and
//!   [`Message::encode`] does the reverse; [`Framer`] cuts a TCP byte stream
//!   into messages. Nothing here opens a socket or spawns a task, so the
//!   switch, the controller, the command-line tools and the tests share it.
//! - Decoding never panics and never trusts a length it has not checked:
//!   every read goes through the bounds-checked [`wire::Reader`]. A bad
//!   message yields a [`DecodeError`] whose [`OfError`] is the OFPT_ERROR
//!   type and code a switch answers with (spec 7.4.4).
//! - Unknown or experimenter parts (OXM classes, actions, instructions,
//!   table-feature properties, hello elements) are kept as raw bytes, so a
//!   message that carries them round-trips unchanged.
//! - [`Channel`] is the client (controller) side of a channel: HELLO,
//!   echo and the inactivity [`probe`], xids, requests matched to their
//!   replies (multipart parts reassembled), barriers. Bytes and time in,
//!   bytes and events out; `ofswitch ofctl` drives it with blocking
//!   sockets, a controller with tokio.
//! - [`ofctl`] holds the `ovs-ofctl` text syntax: parsing `add-flow` strings
//!   and printing `dump-flows` lines exactly as ovs-ofctl does.
//!
//! - [`log_limit`]: warnings that cannot flood the log, for the daemons
//!   on both ends (the switch and the controller).
//! - `tls` (feature `tls`, off by default): rustls configurations from
//!   PEM files for `ssl:`/`pssl:` channels, shared by switch and controller.
//!
//! Module map: [`message`] (header, [`Message`], [`Body`]), [`messages`]
//! (bodies of the simple messages), [`multipart`], [`table_features`],
//! [`oxm`] (match fields), [`action`], [`instruction`], [`group`], [`meter`],
//! [`port`], [`error`], [`types`], [`channel`], [`probe`].

pub mod action;
pub mod channel;
pub mod error;
pub mod framer;
pub mod group;
pub mod instruction;
pub mod log_limit;
pub mod message;
pub mod messages;
pub mod meter;
pub mod multipart;
pub mod oxm;
pub mod port;
pub mod probe;
pub mod table_features;
#[cfg(feature = "tls")]
pub mod tls;
pub mod types;
pub mod wire;

pub use action::Action;
pub use channel::{Channel, ChannelConfig, ChannelError, Event};
pub use error::{DecodeError, OfError};
pub use framer::{FrameError, Framer};
pub use group::{Bucket, GroupMod};
pub use instruction::Instruction;
pub use message::{Body, Header, Message};
pub use messages::*;
pub use meter::{MeterBand, MeterMod};
pub use multipart::{MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody};
pub use oxm::{Match, Oxm, OxmField};
pub use port::{Port, PortMod, PortStatus};
pub use table_features::{TableFeatureProp, TableFeatures};
pub use types::MacAddr;
pub mod ofctl;
pub mod samples;
