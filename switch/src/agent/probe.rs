//! The inactivity probe, shared with the client side of a channel: see
//! [`openflow::probe`].

pub use openflow::probe::{Probe, ProbeAction};
