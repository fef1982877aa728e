//! `ofswitch`: an OpenFlow 1.3 software switch.
//!
//! - [`flow_key`]: every match field of a packet in a fixed word layout.
//! - [`packet`]: parsing frames into flow keys and rewriting headers.
//! - [`pipeline`]: flow tables, classifier, groups, meters, action execution
//!   (sans-IO and deterministic).

pub mod flow_key;
pub mod packet;
pub mod pipeline;
