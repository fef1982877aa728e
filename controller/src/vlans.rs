//! The bundled app: L2 learning isolated by VLAN, one [`Session`] per
//! switch, under the policy the controller was started with (or the one
//! SIGHUP loaded since).
//!
//! Why it sends as it does: a [`Session`] returns its messages with
//! [`Out::Barrier`] where the order matters (deletes before the adds that
//! follow them); each batch up to a barrier goes out as
//! [`Switch::mods`], which waits for the barrier's reply before the next
//! batch is sent. Messages after the last barrier (the two flows a
//! packet-in teaches) are sent without waiting, so a switch's packet-ins
//! do not each cost a round trip; their errors, if any, reach
//! [`App::error`] and are logged.
//!
//! After the pipeline is in place, the switch's tables are named after it
//! (`vlan`, `eth_src`, `eth_dst`, `flood`; [`crate::tables`]) before the
//! switch counts as resynced; a switch that refuses keeps its names, and
//! the resync is complete all the same.

use crate::app::{App, Switch};
use crate::learning::Timeouts;
use crate::net::driver::RequestError;
use crate::pipeline;
use crate::policy::Policy;
use crate::session::{Out, Session};
use crate::status::{Status, SwitchStatus};
use crate::tables::{self, Naming, NamingError};
use openflow::message::Body;
use openflow::messages::{ErrorMsg, PacketIn};
use openflow::port::PortStatus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Learning and VLANs for every switch that connects.
pub struct VlanApp {
    policy: Mutex<Arc<Policy>>,
    /// By datapath id.
    sessions: Mutex<HashMap<u64, Connected>>,
    timeouts: Timeouts,
    epoch: Instant,
}

/// A connected switch: its connection, and its session.
struct Connected {
    /// The connection's number ([`Switch::conn`]).
    conn: u64,
    peer: String,
    /// When it came up, on [`VlanApp::now`]'s clock.
    since: u64,
    session: Session,
}

impl VlanApp {
    pub fn new(policy: Policy, timeouts: Timeouts) -> VlanApp {
        VlanApp {
            policy: Mutex::new(Arc::new(policy)),
            sessions: Mutex::new(HashMap::new()),
            timeouts,
            epoch: Instant::now(),
        }
    }

    /// Replaces the policy; each switch applies it on
    /// [`App::reconfigured`].
    pub fn set_policy(&self, policy: Policy) {
        *lock(&self.policy) = Arc::new(policy);
    }

    pub fn policy(&self) -> Arc<Policy> {
        lock(&self.policy).clone()
    }

    /// Seconds since start, the learning tables' clock.
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_secs()
    }

    /// Runs `f` on the switch's session, if it has one.
    fn with_session<T>(&self, dpid: u64, f: impl FnOnce(&mut Session) -> T) -> Option<T> {
        lock(&self.sessions)
            .get_mut(&dpid)
            .map(|c| f(&mut c.session))
    }

    /// What it knows right now: every connected switch with its ports,
    /// VLANs and learned MACs, by datapath id. A copy: no lock is held
    /// once it returns.
    pub fn status(&self) -> Status {
        let now = self.now();
        let policy = self.policy();
        let mut switches: Vec<SwitchStatus> = lock(&self.sessions)
            .values()
            .map(|c| {
                let up = now.saturating_sub(c.since);
                SwitchStatus::of(&c.session, &policy, &c.peer, up, now)
            })
            .collect();
        switches.sort_by_key(|s| s.dpid);
        Status {
            uptime: now,
            switches,
        }
    }
}

/// A poisoned lock still holds consistent data here (every critical
/// section is a plain computation), so it is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Sends a session's messages in order, waiting for each barrier.
async fn apply(sw: &Switch, outs: Vec<Out>) {
    let mut batch = Vec::new();
    for o in outs {
        match o {
            Out::Flow(f) => batch.push(Body::FlowMod(f)),
            Out::Group(g) => batch.push(Body::GroupMod(g)),
            Out::Barrier => match sw.mods(std::mem::take(&mut batch)).await {
                Ok(r) => {
                    for e in r.errors {
                        tracing::warn!("switch {:016x} refused a mod: {:?}", sw.dpid, e.error);
                    }
                }
                Err(e) => {
                    tracing::warn!("switch {:016x}: batch failed: {e}", sw.dpid);
                    return;
                }
            },
        }
    }
    // A closed connection needs no word: the switch goes down next.
    let _ = sw.send_all(batch).await;
}

/// Names the pipeline's tables on the switch; a refusal is one log line
/// and nothing more (see [`crate::tables`]).
async fn name_tables(sw: &Switch) {
    match tables::name_tables(sw, &pipeline::table::NAMED).await {
        Ok(Naming::Named { parts }) => tracing::debug!(
            "switch {:016x}: tables named ({parts} TABLE_FEATURES messages)",
            sw.dpid
        ),
        Ok(Naming::Unchanged) => {
            tracing::debug!("switch {:016x}: tables already named", sw.dpid)
        }
        Err(NamingError::Request(RequestError::Closed)) => {}
        Err(NamingError::Request(RequestError::Refused(e))) => tracing::info!(
            "switch {:016x} keeps its table names: it refused TABLE_FEATURES ({})",
            sw.dpid,
            error_name(&e)
        ),
        Err(e) => tracing::info!("switch {:016x}: tables not named: {e}", sw.dpid),
    }
}

/// An OFPT_ERROR as its OpenFlow name where it has one (OFPTFFC_EPERM).
fn error_name(e: &ErrorMsg) -> String {
    match e {
        ErrorMsg::Standard { error, .. } => error
            .name()
            .map_or_else(|| error.to_string(), str::to_string),
        ErrorMsg::Experimenter {
            exp_type,
            experimenter,
            ..
        } => format!("experimenter 0x{experimenter:08x} error {exp_type}"),
    }
}

impl App for VlanApp {
    async fn switch_up(&self, sw: &Switch) {
        let policy = self.policy();
        let mut s = Session::new(sw.dpid, self.timeouts);
        let outs = s.connect(&policy, &sw.ports);
        // A switch that reconnects replaces its old session.
        let c = Connected {
            conn: sw.conn,
            peer: sw.peer.clone(),
            since: self.now(),
            session: s,
        };
        lock(&self.sessions).insert(sw.dpid, c);
        apply(sw, outs).await;
        name_tables(sw).await;
        tracing::info!("switch {:016x} resynced", sw.dpid);
    }

    async fn switch_down(&self, sw: &Switch) {
        // Only this connection's: the switch may already be back on a new one.
        let mut sessions = lock(&self.sessions);
        if sessions.get(&sw.dpid).is_some_and(|c| c.conn == sw.conn) {
            sessions.remove(&sw.dpid);
        }
    }

    async fn packet_in(&self, sw: &Switch, pi: &PacketIn) {
        let now = self.now();
        let outs = self.with_session(sw.dpid, |s| s.packet_in(pi, now).1);
        if let Some(outs) = outs {
            apply(sw, outs).await;
        }
    }

    async fn port_status(&self, sw: &Switch, ps: &PortStatus) {
        let policy = self.policy();
        if let Some(outs) = self.with_session(sw.dpid, |s| s.port_status(&policy, ps)) {
            apply(sw, outs).await;
        }
    }

    async fn error(&self, sw: &Switch, xid: u32, e: &ErrorMsg) {
        tracing::warn!("switch {:016x}: error for xid {xid}: {e:?}", sw.dpid);
    }

    async fn reconfigured(&self, sw: &Switch) {
        let policy = self.policy();
        if let Some(outs) = self.with_session(sw.dpid, |s| s.reload(&policy)) {
            let n = outs.len();
            apply(sw, outs).await;
            tracing::info!("switch {:016x}: policy reloaded, {n} messages", sw.dpid);
        }
    }

    async fn tick(&self, sw: &Switch) {
        let now = self.now();
        if let Some(outs) = self.with_session(sw.dpid, |s| s.tick(now)) {
            apply(sw, outs).await;
        }
    }
}
