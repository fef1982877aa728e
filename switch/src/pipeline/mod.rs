//! The OpenFlow pipeline: flow tables, classifier, groups, meters and
//! action execution, without I/O.

pub mod classifier;
pub mod flow_entry;
pub mod group;
pub mod meter;
pub mod ports;
pub mod table;
