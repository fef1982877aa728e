//! Controller applications: what a switch coming and going, its packet-ins,
//! port changes, removed flows and errors mean, written against a
//! [`Switch`] handle that sends messages and awaits their replies.
//!
//! Why a trait rather than a callback per event: the bundled behaviour
//! (learning + VLANs, [`crate::vlans::VlanApp`]) is one app among possible
//! others (a monitor, a static-flow pusher), and apps compose: a tuple
//! `(A, B)` is an app that hands every event to `A`, then to `B`.
//!
//! How it runs: one task per connected switch ([`run_switch`]) calls the
//! app's methods for that switch one at a time, in the order the switch
//! sent the events, so an app needs no ordering of its own; different
//! switches run concurrently, so an app's shared state sits behind a lock
//! held only for computing, never across an `.await`. While a method awaits
//! a reply, the connection keeps answering echoes and queues further
//! events (see [`crate::net::driver`]).
//!
//! Before [`App::switch_up`], the runner asks the switch for its features
//! (datapath id) and ports (PORT_DESC) and sets `miss_send_len` to 128, so
//! every app starts from the same description of the switch.

use crate::net::driver::{BatchResult, Command, Incoming, RequestError};
use openflow::message::{Body, Message};
use openflow::messages::{ErrorMsg, FlowRemoved, PacketIn, SwitchConfig, SwitchFeatures};
use openflow::multipart::{MultipartReplyBody, MultipartRequest, MultipartRequestBody};
use openflow::port::{Port, PortStatus};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Bytes of a missed frame the switch sends up (OFPCML: 128, as Faucet).
pub const MISS_SEND_LEN: u16 = 128;

/// One connected switch, as an app sees it: what it said when it connected,
/// and the way to talk to it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Switch {
    pub dpid: u64,
    /// This connection's number, unique in the process: a switch that
    /// reconnects is the same dpid on a new connection.
    pub conn: u64,
    /// The peer's address, for logs.
    pub peer: String,
    pub features: SwitchFeatures,
    /// The ports PORT_DESC reported at connection time.
    pub ports: Vec<Port>,
    commands: mpsc::Sender<Command>,
}

impl Switch {
    /// Sends a request and waits for its reply (every part of a multipart
    /// reply).
    pub async fn request(&self, body: Body) -> Result<Vec<Message>, RequestError> {
        self.request_parts(vec![body]).await
    }

    /// Sends one multipart request in several messages under one xid (each
    /// part but the last flagged OFPMPF_REQ_MORE, e.g. from
    /// `MultipartRequest::table_features_set`) and waits for its reply.
    pub async fn request_parts(&self, parts: Vec<Body>) -> Result<Vec<Message>, RequestError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Request { parts, reply: tx })
            .await
            .map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::Closed)?
    }

    /// Sends `bodies` then a barrier, and waits for the barrier's reply: the
    /// switch has then processed all of them; the errors it raised are in
    /// the result.
    pub async fn mods(&self, bodies: Vec<Body>) -> Result<BatchResult, RequestError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Mods { bodies, reply: tx })
            .await
            .map_err(|_| RequestError::Closed)?;
        rx.await.map_err(|_| RequestError::Closed)?
    }

    /// Sends a message without waiting for anything; an error it causes
    /// comes to [`App::error`].
    pub async fn send(&self, body: Body) -> Result<(), RequestError> {
        self.send_all(vec![body]).await
    }

    /// Sends messages in order without waiting for anything, as one
    /// command to the connection; errors they cause come to [`App::error`].
    pub async fn send_all(&self, bodies: Vec<Body>) -> Result<(), RequestError> {
        if bodies.is_empty() {
            return Ok(());
        }
        self.commands
            .send(Command::Send(bodies))
            .await
            .map_err(|_| RequestError::Closed)
    }
}

/// A controller application. Every method has a default that does nothing,
/// so an app implements only what it needs.
pub trait App: Send + Sync + 'static {
    /// The switch connected and was described (features, ports).
    fn switch_up(&self, _sw: &Switch) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// The switch's connection closed; `sw` can no longer be used.
    fn switch_down(&self, _sw: &Switch) -> impl Future<Output = ()> + Send {
        async {}
    }
    fn packet_in(&self, _sw: &Switch, _pi: &PacketIn) -> impl Future<Output = ()> + Send {
        async {}
    }
    fn port_status(&self, _sw: &Switch, _ps: &PortStatus) -> impl Future<Output = ()> + Send {
        async {}
    }
    fn flow_removed(&self, _sw: &Switch, _fr: &FlowRemoved) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// An OFPT_ERROR for a message nobody waited for (one sent with
    /// [`Switch::send`]).
    fn error(&self, _sw: &Switch, _xid: u32, _e: &ErrorMsg) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// The configuration changed (SIGHUP, `ofcontroller reload`); called
    /// for every switch.
    fn reconfigured(&self, _sw: &Switch) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Every [`TICK`], for aging.
    fn tick(&self, _sw: &Switch) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How often [`App::tick`] runs.
pub const TICK: Duration = Duration::from_secs(5);

/// Two apps as one: every event to the first, then to the second.
impl<A: App, B: App> App for (A, B) {
    async fn switch_up(&self, sw: &Switch) {
        self.0.switch_up(sw).await;
        self.1.switch_up(sw).await;
    }
    async fn switch_down(&self, sw: &Switch) {
        self.0.switch_down(sw).await;
        self.1.switch_down(sw).await;
    }
    async fn packet_in(&self, sw: &Switch, pi: &PacketIn) {
        self.0.packet_in(sw, pi).await;
        self.1.packet_in(sw, pi).await;
    }
    async fn port_status(&self, sw: &Switch, ps: &PortStatus) {
        self.0.port_status(sw, ps).await;
        self.1.port_status(sw, ps).await;
    }
    async fn flow_removed(&self, sw: &Switch, fr: &FlowRemoved) {
        self.0.flow_removed(sw, fr).await;
        self.1.flow_removed(sw, fr).await;
    }
    async fn error(&self, sw: &Switch, xid: u32, e: &ErrorMsg) {
        self.0.error(sw, xid, e).await;
        self.1.error(sw, xid, e).await;
    }
    async fn reconfigured(&self, sw: &Switch) {
        self.0.reconfigured(sw).await;
        self.1.reconfigured(sw).await;
    }
    async fn tick(&self, sw: &Switch) {
        self.0.tick(sw).await;
        self.1.tick(sw).await;
    }
}

/// Signals for every switch task at once (the policy was reloaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broadcast {
    Reconfigured,
}

/// Asks the switch what it is: features, then ports, then sets the miss
/// length.
async fn describe(
    commands: mpsc::Sender<Command>,
    conn: u64,
    peer: &str,
) -> Result<Switch, RequestError> {
    let mut sw = Switch {
        dpid: 0,
        conn,
        peer: peer.to_string(),
        features: SwitchFeatures {
            datapath_id: 0,
            n_buffers: 0,
            n_tables: 0,
            auxiliary_id: 0,
            capabilities: 0,
            reserved: 0,
        },
        ports: Vec::new(),
        commands,
    };
    let reply = sw.request(Body::FeaturesRequest).await?;
    match reply.into_iter().next().map(|m| m.body) {
        Some(Body::FeaturesReply(f)) => {
            sw.dpid = f.datapath_id;
            sw.features = f;
        }
        _ => {
            return Err(RequestError::Send(
                "FEATURES_REQUEST not answered by FEATURES_REPLY".into(),
            ))
        }
    }
    let reply = sw
        .request(Body::MultipartRequest(MultipartRequest::new(
            MultipartRequestBody::PortDesc,
        )))
        .await?;
    for m in reply {
        if let Body::MultipartReply(r) = m.body {
            if let MultipartReplyBody::PortDesc(ports) = r.body {
                sw.ports.extend(ports);
            }
        }
    }
    sw.send(Body::SetConfig(SwitchConfig {
        flags: 0,
        miss_send_len: MISS_SEND_LEN,
    }))
    .await?;
    Ok(sw)
}

/// How many queued events one wake-up of a switch's app task handles
/// before it looks at its timer and broadcasts again.
const EVENT_BURST: usize = 64;

/// Hands one event from the switch to the app.
async fn deliver<A: App>(app: &A, sw: &Switch, ev: Incoming) {
    match ev {
        Incoming::Message(m) => match m.body {
            Body::PacketIn(pi) => app.packet_in(sw, &pi).await,
            Body::PortStatus(ps) => app.port_status(sw, &ps).await,
            Body::FlowRemoved(fr) => app.flow_removed(sw, &fr).await,
            Body::Error(e) => app.error(sw, m.xid, &e).await,
            _ => {}
        },
        Incoming::Undecodable { header, error } => tracing::debug!(
            "switch {:016x}: undecodable message type {}: {error}",
            sw.dpid,
            header.msg_type
        ),
        Incoming::Ready => {}
    }
}

/// The app side of one connection: waits for the HELLO, describes the
/// switch, then calls the app for each event until the connection closes.
pub async fn run_switch<A: App>(
    app: Arc<A>,
    conn: u64,
    peer: String,
    mut events: mpsc::Receiver<Incoming>,
    commands: mpsc::Sender<Command>,
    mut broadcast: tokio::sync::broadcast::Receiver<Broadcast>,
) -> Option<u64> {
    // Until the HELLO exchange, nothing else can come.
    match events.recv().await {
        Some(Incoming::Ready) => {}
        _ => return None,
    }
    let sw = match describe(commands, conn, &peer).await {
        Ok(sw) => sw,
        Err(e) => {
            tracing::warn!("switch at {peer}: cannot read its description: {e}");
            return None;
        }
    };
    tracing::info!(
        "switch {:016x} connected from {peer}: {} ports, resyncing",
        sw.dpid,
        sw.ports.len()
    );
    app.switch_up(&sw).await;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(first) => {
                    // What else is queued is handled now, up to a bound,
                    // rather than one event per turn of this select (whose
                    // other branches cost a poll each time).
                    deliver(&*app, &sw, first).await;
                    for _ in 1..EVENT_BURST {
                        match events.try_recv() {
                            Ok(next) => deliver(&*app, &sw, next).await,
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
            b = broadcast.recv() => match b {
                Ok(Broadcast::Reconfigured) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    app.reconfigured(&sw).await
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            _ = tick.tick() => app.tick(&sw).await,
        }
    }
    app.switch_down(&sw).await;
    Some(sw.dpid)
}
