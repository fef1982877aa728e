//! The switch's configuration: bridges, ports, interfaces, controllers.
//!
//! Split so everything but the socket is testable without a daemon:
//!
//! - [`model`]: the serde types and their validation, port numbering, the
//!   mapping to the pipeline's VLAN roles;
//! - [`store`]: `<state_dir>/conf.json`, written atomically;
//! - [`vsctl`]: the ovs-vsctl verbs as a pure function over the model;
//! - [`runtime`]: what only the running daemon knows (link state,
//!   counters, controller connections), as a trait;
//! - [`protocol`]: JSON lines over `<state_dir>/ofswitch.ctl` between the
//!   CLI and the daemon;
//! - [`cli`]: `ofswitch vsctl`, the client;
//! - [`syntax`]: ovs-vsctl's value syntax (quoting, sets, maps).
//!
//! The daemon's loop for a management request is:
//!
//! ```no_run
//! # use ofswitch::config::{model::Config, protocol::{Request, Response}, runtime::NoRuntime, store, vsctl};
//! # fn f(state_dir: &std::path::Path, current: &mut Config, req: Request) -> Response {
//! let mut next = current.clone();
//! let result = vsctl::execute_with_format(&mut next, &req.argv, req.format, &NoRuntime);
//! if let Ok(out) = &result {
//!     if out.changed {
//!         if let Err(e) = store::save(state_dir, &next) {
//!             return Response::error(e.to_string());
//!         }
//!         *current = next; // then apply it to the datapath
//!     }
//! }
//! Response::from_result(&result)
//! # }
//! ```

pub mod cli;
pub mod model;
pub mod protocol;
pub mod runtime;
pub mod store;
pub mod syntax;
pub mod vsctl;
