//! `ofswitch daemon`: the switch process.
//!
//! - [`run`]: start-up, the management socket (vsctl requests), applying
//!   configuration changes, shutdown on SIGTERM.
//! - [`bridge`]: one task per bridge owning its pipeline, OpenFlow
//!   channels (through the sans-IO [`crate::agent`]) and ports; publishes
//!   pipeline snapshots to the forwarding tasks; fail modes. The bridge
//!   reads its ports' configuration and asks [`crate::datapath::port`]
//!   for each; the devices are the datapath's.
//! - [`target`]: OpenFlow connection targets in Open vSwitch syntax.
//! - [`channel`]: sockets as byte pipes to a bridge's control task, with
//!   reconnection for active targets.
//! - [`tls`]: TLS for `ssl:`/`pssl:` channels (rustls), from the
//!   `set-ssl` files.
//! - [`process`]: logging, pid file, `--detach`.

pub mod bridge;
pub mod channel;
pub mod process;
pub mod run;
pub mod target;
pub mod tls;
