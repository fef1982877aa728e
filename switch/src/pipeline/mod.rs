//! The OpenFlow pipeline: flow tables, classifier, groups, meters and
//! action execution, without I/O.

pub mod cache;
pub mod classifier;
pub mod execute;
pub mod expiry;
pub mod flow_entry;
pub mod flow_mod;
pub mod group;
pub mod interner;
pub mod meter;
pub mod normal;
pub mod ports;
pub mod snapshot;
pub mod state;
pub mod stats;
pub mod table;
pub mod trace;
pub mod trie;
pub mod validate;
pub mod xlate;

pub use cache::MicroflowCache;
pub use execute::Outcome;
pub use snapshot::SharedPipeline;
pub use state::{Event, Pipeline};
pub use xlate::{PacketMeta, Program};
