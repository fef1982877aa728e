//! `ofswitch daemon`: the switch process (being written, issue 5).
//!
//! - [`target`]: OpenFlow connection targets in Open vSwitch syntax.
//! - [`channel`]: sockets as byte pipes to a bridge's control task, with
//!   reconnection for active targets.
//! - [`process`]: logging, pid file, `--detach`.

pub mod channel;
pub mod process;
pub mod target;
