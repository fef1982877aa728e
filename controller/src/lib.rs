//! `ofcontroller` as a library: the decisions of an OpenFlow 1.3 controller
//! that turns switches joined by VXLAN/GRE tunnels into one L2 network,
//! isolated by VLAN.
//!
//! Shaped like the switch: everything here is plain functions over the
//! policy and the learned state, returning the FLOW_MODs to send, so it is
//! tested without sockets (and, in the tests, by running the flows through
//! `ofswitch`'s own pipeline). The networked part only moves messages.
//!
//! - [`policy`]: the TOML policy, its validation, and the per-switch [`policy::View`].
//! - [`pipeline`]: the table layout and the flows a switch needs for its ports.
//! - [`learning`]: per-switch, per-VLAN MAC tables and what a packet-in,
//!   a port going down or aging changes.
//! - [`faucet`]: the same policy read from Faucet's `faucet.yaml` (a subset).
//! - [`session`]: one connected switch as a state machine: events in,
//!   FLOW_MODs, GROUP_MODs and barriers out, in the order to send them.
//! - [`net`]: the tokio side: listening for and connecting to switches, one
//!   task per connection driving [`openflow::channel::Channel`].
//! - [`app`]: the [`app::App`] trait apps implement, and the per-switch task
//!   that calls them.
//! - [`vlans`]: the bundled app, learning + VLANs over [`session::Session`].
//! - [`tables`]: naming the pipeline's tables on the switch (a
//!   TABLE_FEATURES set), so `dump-flows --names` shows `vlan`, `eth_src`, ...
//! - [`status`]: what the bundled app knows right now (switches, ports,
//!   VLANs, learned MACs) as plain data, and its tables.
//! - [`control`]: the unix socket `ofcontroller status` and `reload` use.

pub mod app;
pub mod control;
pub mod faucet;
pub mod learning;
pub mod net;
pub mod pipeline;
pub mod policy;
pub mod session;
pub mod status;
pub mod tables;
pub mod vlans;
