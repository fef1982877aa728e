//! The switch side of OpenFlow channels, sans-IO.
//!
//! Everything a switch does on an OpenFlow 1.3 channel short of moving
//! bytes and keeping time: version negotiation, the inactivity probe, every
//! controller-to-switch request, roles and asynchronous-message filtering,
//! multipart reassembly and splitting. No sockets, threads or clock reads:
//! the daemon feeds received bytes and the current time (u64 nanoseconds,
//! the pipeline's clock) in, and gets bytes to send, a deadline, and
//! effects out. That keeps the protocol logic deterministic and testable
//! with plain byte vectors (see `switch/tests/agent.rs`).
//!
//! # Pieces
//!
//! - [`Connection`] ([`connection`]): one channel. Framing, HELLO, errors,
//!   probe; requests in `requests`, multipart replies in `replies`.
//! - [`Controllers`] ([`controllers`]): all channels of a bridge, their
//!   roles (one generation id per switch, master demotion), async masks,
//!   and the fan-out of PACKET_IN / FLOW_REMOVED / PORT_STATUS.
//! - [`SwitchState`] / [`BridgeInfo`] ([`bridge`]): what a call works on,
//!   lent by the daemon: the [`Pipeline`](crate::pipeline::Pipeline), the
//!   bridge's datapath id, description and port descriptions, and the
//!   [`Controllers`].
//! - [`features`]: the capabilities advertised (FEATURES_REPLY, table,
//!   group and meter features), derived from what the pipeline implements.
//! - [`multipart`]: request reassembly (REQ_MORE) and reply splitting
//!   (REPLY_MORE, every message at most 65535 bytes).
//! - [`probe`]: the inactivity-probe timer arithmetic.
//!
//! # How the daemon drives it
//!
//! Per bridge the daemon owns a `Pipeline`, a [`BridgeInfo`] and a
//! [`Controllers`]; per socket a [`Connection`]:
//!
//! 1. On connect: `Connection::new(config, &mut controllers, now)`, then send
//!    `take_output()` (our HELLO).
//! 2. On bytes received: `let fx = conn.receive(&bytes, now, &mut
//!    SwitchState::new(&mut pipeline, &mut bridge, &mut controllers));`
//!    send `conn.take_output()`, then act on each [`Effect`]:
//!    `Send { conn, bytes }` → `other.deliver(&bytes)` and flush it;
//!    `Output` → transmit the frame on the port; `PipelineChanged` →
//!    publish a snapshot (`SharedPipeline::publish`); `PortConfig` → apply
//!    OFPPC_PORT_DOWN to the device if wanted.
//! 3. Timers: sleep until the earliest `poll_timeout()`; call
//!    `on_timer(now)` and flush. Flow expiry is the daemon's:
//!    `pipeline.expire(now)` → `controllers.events(&events)` → `deliver`.
//! 4. Packet-ins from forwarding: `controllers.packet_in(&pi)`; port
//!    changes: update `bridge.ports` and send `controllers.port_status(..)`.
//! 5. When `close_reason()` is `Some`, flush the output, close the socket and
//!    call `conn.shutdown(&mut controllers, &mut pipeline)` (also on EOF).
//!
//! BARRIER_REQUEST is answered at once: processing is synchronous, so
//! everything before it is done and its effects returned by then; the
//! daemon must act on the effects of a `receive` call before the next one.

pub mod bridge;
pub mod connection;
pub mod controllers;
pub mod features;
pub mod multipart;
pub mod probe;
mod replies;
mod requests;

pub use bridge::{BridgeInfo, SwitchState};
pub use connection::{CloseReason, ConnConfig, Connection, Effect, DEFAULT_PROBE_INTERVAL_NS};
pub use controllers::{AsyncKind, Channel, ConnId, ConnKind, Controllers, Outgoing, Role};
