//! `ofswitch ofctl`: ovs-ofctl-like verbs, as a plain OpenFlow 1.3 client.
//!
//! The verbs speak only standard OpenFlow 1.3, so they work against any
//! OpenFlow 1.3 switch: ours through a bridge's management socket
//! (`<state_dir>/<bridge>.mgmt`), Open vSwitch or any other through
//! `tcp:IP:PORT` or `unix:PATH`. Their output is ovs-ofctl 3.1's
//! (`-O OpenFlow13`) text, so scripts and habits carry over.
//!
//! - [`cli`]: options and arguments, one-line errors, exit status.
//! - [`verbs`]: what each verb sends and prints.
//! - [`client`]: the connection (HELLO, echo, xids, multipart, barrier).
//! - [`output`]: ovs-ofctl's printing of replies and async messages.
//! - [`flow_diff`]: flow sets compared (`replace-flows`, `diff-flows`).

pub mod cli;
pub mod client;
pub mod flow_diff;
pub mod output;
pub mod verbs;
