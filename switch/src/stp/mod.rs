//! IEEE 802.1D spanning tree for bridges in standalone mode, as Open
//! vSwitch runs it with `stp_enable=true`: the loop a GRE mesh or a ring
//! of bridges makes is cut by blocking ports, and healed when a link
//! goes away.
//!
//! Sans-IO like the pipeline: [`Stp`] takes received BPDUs as bytes, link
//! changes and the time, and returns what to do ([`Output`]: frames to
//! send, port state changes, the MAC aging time). The daemon
//! (`crate::daemon::bridge`'s `stp` module) moves frames and publishes
//! each port's state in the pipeline snapshot, where the NORMAL action
//! reads it ([`crate::pipeline::ports::StpGate`]).
//!
//! - [`bpdu`]: the wire format (configuration and TCN BPDUs).
//! - [`port`]: port states, roles, per-port settings and status.
//! - [`machine`]: the 802.1D state machine of one bridge.
//!
//! Only 802.1D: RSTP and MSTP BPDUs are counted as errors and dropped,
//! the way a legacy bridge ignores them (a Linux bridge with
//! `stp_state 1` runs the same protocol).

pub mod bpdu;
pub mod machine;
pub mod port;
#[cfg(test)]
mod tests;

pub use bpdu::{is_bpdu_frame, Bpdu, BpduError};
pub use machine::{format_id, BridgeConfig, Output, Stp};
pub use port::{PortConfig, PortState, PortStatus, Role};
