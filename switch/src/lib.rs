//! `ofswitch`: an OpenFlow 1.3 software switch.
//!
//! - [`flow_key`]: every match field of a packet in a fixed word layout.
//! - [`packet`]: parsing frames into flow keys and rewriting headers.
//! - [`pipeline`]: flow tables, classifier, groups, meters, action execution
//!   (sans-IO and deterministic).
//! - [`agent`]: the switch side of OpenFlow channels (sans-IO).
//! - [`config`]: bridges, ports, controllers; persistence; vsctl verbs.
//! - [`datapath`]: real ports (TAP) and the forwarding loop.
//! - [`daemon`]: the switch process: channels, bridges, management.
//! - [`ofctl`]: ovs-ofctl-like verbs, an OpenFlow client.
//! - [`stp`]: 802.1D spanning tree for standalone bridges (sans-IO).
//! - [`log_limit`]: warnings that cannot flood the log (one per interval,
//!   with a count of the ones held back); it lives in `openflow`, which
//!   the controller shares.

pub mod agent;
pub mod appctl;
pub mod config;
pub mod daemon;
pub mod datapath;
pub mod flow_key;
pub use openflow::log_limit;
pub mod ofctl;
pub mod packet;
pub mod pipeline;
pub mod stp;
