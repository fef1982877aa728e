//! `ofswitch ofctl`: ovs-ofctl-like verbs, as a plain OpenFlow 1.3 client
//! (being written).
pub mod cli;
