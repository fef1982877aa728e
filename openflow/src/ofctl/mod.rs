//! The `ovs-ofctl` flow text syntax: parsing `add-flow` strings and printing
//! `dump-flows` lines exactly as `ovs-ofctl -O OpenFlow13` does.

pub mod format;
pub mod names;
pub mod parse;
