//! One bridge at run time: a tokio task that owns the control copy of the
//! pipeline and every OpenFlow channel of the bridge, and publishes
//! pipeline snapshots to the forwarding tasks.
//!
//! Everything that changes the bridge goes through this one task, in
//! order: bytes from controllers (through the sans-IO [`agent`]), packet-ins
//! from forwarding, flow expiry, reconfiguration from the management
//! socket. No locks around the pipeline: the task owns it, and the
//! forwarding tasks read the published snapshots. After each batch of work
//! the task publishes a new snapshot if anything changed.
//!
//! Packet-ins reach controllers at each controller's pace (the `packet_in`
//! submodule says where they are bounded and why); ports follow their
//! interfaces (`link`, `reopen`); spanning tree runs here too (`stp`).
//!
//! [`agent`]: crate::agent

mod link;
mod packet_in;
mod reopen;
mod stp;

use super::channel::{self, ChannelEvent, ConnIds, Outbox};
use super::target::Target;
use super::tls::SslSource;
use crate::agent::{
    BridgeInfo, ConnConfig, ConnKind, Connection, Controllers, Effect, Role, SwitchState,
};
use crate::config::model::{self, InterfaceType};
use crate::config::runtime::{ControllerStatus, InterfaceStatus};
use crate::datapath::forward::{Clock, Forwarder, PortSink, Upcall};
use crate::datapath::port::{
    internal, open as open_port, system, Detach, NullSink, OpenedPort, PortContext, PortRegistry,
    PortSpec,
};
use crate::datapath::sys;
use crate::datapath::workers::RxRegistration;
use crate::log_limit::LogLimiter;
use crate::pipeline::ports::{PortCounters, PortInfo};
use crate::pipeline::{Outcome, Pipeline, SharedPipeline};
use openflow::messages::flow_mod_command;
use openflow::port::{self, Port, PortStatus};
use openflow::types::{port_no, MacAddr};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How often the bridge expires flows and checks probes and fail-open.
const TICK: Duration = Duration::from_millis(100);

/// Packet-ins the forwarding threads may queue for the bridge task before
/// they drop more (the datapath's only packet-in bound, see the
/// `packet_in` submodule): room for a thousand hosts starting at once, while the
/// task drains tens of thousands a second.
pub const UPCALL_QUEUE: usize = 1024;

/// Packet-ins the bridge task takes from the queue per wakeup before it
/// looks at its other work again, so that a flood cannot starve timers,
/// commands and controller messages.
pub const UPCALL_BATCH: usize = 256;

/// How often at most the log says how many packet-ins were dropped.
const DROPS_LOG_INTERVAL: u64 = 10_000_000_000;

/// Settings shared by every bridge of the daemon.
#[derive(Clone, Debug)]
pub struct BridgeSettings {
    pub state_dir: PathBuf,
    /// Inactivity probe interval for controller connections.
    pub probe_interval: Duration,
    /// The daemon's SSL settings (`set-ssl`), for `ssl:` and `pssl:`
    /// targets; shared, so changes reach running bridges without a
    /// reconfiguration.
    pub ssl: SslSource,
}

/// What the management side asks a bridge to do.
#[derive(Debug)]
pub enum BridgeCmd {
    /// The bridge's configuration changed; answered once it is applied
    /// (ports open, controllers started), so that `vsctl` returns when the
    /// change is in effect, as ovs-vsctl waits for ovs-vswitchd.
    Reconfigure(Box<model::Bridge>, Option<oneshot::Sender<()>>),
    /// Stop: close channels, remove devices, then answer.
    Shutdown(oneshot::Sender<()>),
    /// `ofctl trace`: what the pipeline would do with the packet a flow
    /// description stands for.
    Trace(String, oneshot::Sender<Result<String, String>>),
    /// `appctl fdb/show` (`false`) or `fdb/flush` (`true`): the MAC
    /// learning table listed (answered with the listing) or emptied
    /// (answered with nothing).
    Fdb(bool, oneshot::Sender<String>),
}

/// What the management side can read about a running bridge.
#[derive(Clone, Debug, Default)]
pub struct BridgeStatus {
    /// By configured target.
    pub controllers: HashMap<String, ControllerStatus>,
    /// By interface name (the bridge's own name for LOCAL).
    pub interfaces: HashMap<String, InterfaceStatus>,
    /// OpenFlow port number of each interface.
    pub ofports: HashMap<String, u32>,
    /// Spanning tree's `Bridge.status` keys (empty when it is off).
    pub stp_bridge: BTreeMap<String, String>,
    /// Spanning tree's `Port.status` keys, by port name.
    pub stp_ports: HashMap<String, BTreeMap<String, String>>,
}

/// The management side's handle on a running bridge.
pub struct BridgeHandle {
    pub name: String,
    pub cmd: mpsc::Sender<BridgeCmd>,
    pub shared: Arc<SharedPipeline>,
    pub status: Arc<Mutex<BridgeStatus>>,
    pub task: JoinHandle<()>,
    /// The forwarding side's counters.
    fwd: Arc<Forwarder>,
    /// Packet-ins the bridge task withheld from controllers.
    packet_ins: Arc<packet_in::Totals>,
}

impl BridgeHandle {
    /// Interface status with fresh counters from the pipeline.
    pub fn interface(&self, iface: &str) -> Option<InterfaceStatus> {
        let status = self.status.lock().ok()?;
        let mut st = status.interfaces.get(iface).cloned()?;
        if let Some(&ofport) = status.ofports.get(iface) {
            let p = self.shared.load();
            if let Some(s) = p.port_stats(ofport, 0).first() {
                let mut m = BTreeMap::new();
                m.insert("rx_packets".to_string(), s.rx_packets);
                m.insert("rx_bytes".to_string(), s.rx_bytes);
                m.insert("rx_dropped".to_string(), s.rx_dropped);
                m.insert("rx_errors".to_string(), s.rx_errors);
                m.insert("tx_packets".to_string(), s.tx_packets);
                m.insert("tx_bytes".to_string(), s.tx_bytes);
                m.insert("tx_dropped".to_string(), s.tx_dropped);
                m.insert("tx_errors".to_string(), s.tx_errors);
                st.statistics = Some(m);
            }
        }
        Some(st)
    }

    /// The interfaces that could not be set up, with why.
    pub fn interface_errors(&self) -> Vec<(String, String)> {
        let Ok(status) = self.status.lock() else {
            return Vec::new();
        };
        status
            .interfaces
            .iter()
            .filter_map(|(name, st)| Some((name.clone(), st.error.clone()?)))
            .collect()
    }

    /// The bridge's own counters since it started: packet-ins the
    /// datapath passed to the bridge task (`packet_in_sent`) and dropped
    /// because the task was behind (`packet_in_dropped`), and those the
    /// task then withheld from a controller, over its
    /// `controller_rate_limit` (`packet_in_rate_limited`) or because it
    /// read too slowly (`packet_in_backlog_dropped`), counted once per
    /// controller.
    pub fn statistics(&self) -> BTreeMap<String, u64> {
        use std::sync::atomic::Ordering::Relaxed;
        [
            ("packet_in_sent", &self.fwd.upcalls_sent),
            ("packet_in_dropped", &self.fwd.upcalls_dropped),
            ("packet_in_rate_limited", &self.packet_ins.rate_limited),
            (
                "packet_in_backlog_dropped",
                &self.packet_ins.backlog_dropped,
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.load(Relaxed)))
        .collect()
    }

    pub fn controller(&self, target: &str) -> Option<ControllerStatus> {
        self.status.lock().ok()?.controllers.get(target).cloned()
    }

    /// The `Bridge.status` column (spanning tree).
    pub fn bridge_status(&self) -> Option<BTreeMap<String, String>> {
        Some(self.status.lock().ok()?.stp_bridge.clone())
    }

    /// The `Port.status` column of port `port` (spanning tree).
    pub fn port_status(&self, port: &str) -> Option<BTreeMap<String, String>> {
        self.status.lock().ok()?.stp_ports.get(port).cloned()
    }
}

/// A port's run-time pieces (what [`open_port`] gave).
struct PortRt {
    name: String,
    kind: InterfaceType,
    /// The receiver on a forwarding thread (device-backed ports); dropping
    /// it stops receiving.
    rx: Option<RxRegistration>,
    /// The device is the switch's own (a TAP): `PORT_DOWN` sets it down.
    own_device: bool,
    /// What removing the port undoes (a veth pair, a registered name).
    detach: Option<Detach>,
}

/// One OpenFlow channel as the bridge task sees it.
struct Chan {
    conn: Connection,
    outbox: Outbox,
    target: String,
    /// Its packet-in rate limit and counters.
    packet_ins: packet_in::Gate,
}

/// The bridge task's state.
struct Bridge {
    name: String,
    cfg: model::Bridge,
    settings: BridgeSettings,
    pipeline: Pipeline,
    shared: Arc<SharedPipeline>,
    published: u64,
    info: BridgeInfo,
    controllers: Controllers,
    fwd: Arc<Forwarder>,
    sinks: HashMap<u32, Arc<dyn PortSink>>,
    ports: HashMap<u32, PortRt>,
    chans: HashMap<u64, Chan>,
    targets: HashMap<String, JoinHandle<()>>,
    conn_ids: Arc<ConnIds>,
    events_tx: mpsc::Sender<ChannelEvent>,
    status: Arc<Mutex<BridgeStatus>>,
    /// What the daemon's ports share (forwarding threads, patch peers,
    /// tunnel sockets).
    registry: Arc<PortRegistry>,
    clock: Clock,
    /// When a controller channel was last ready (for fail-open).
    last_controller: u64,
    /// The configuration names a controller the switch connects to (set
    /// on reconfiguration, read by the fail-open check every tick).
    has_active_controller: bool,
    /// Follows the ports' link states (every tick).
    links: link::LinkMonitor,
    /// Packet-ins withheld from controllers (shared with the handle).
    packet_ins: Arc<packet_in::Totals>,
    /// Packet-in drops already reported in the log, and when.
    drops_logged: packet_in::Drops,
    /// Channels closed for not reading: one warning per interval.
    stuck_warnings: LogLimiter,
    /// Spanning tree, while `stp_enable` is on.
    stp: Option<stp::StpRt>,
}

/// Starts a bridge. Fails (and leaves nothing behind) when its LOCAL port
/// or its management socket cannot be created.
pub fn spawn(
    cfg: model::Bridge,
    settings: BridgeSettings,
    registry: Arc<PortRegistry>,
    clock: Clock,
) -> std::io::Result<BridgeHandle> {
    let name = cfg.name.clone();
    let mut pipeline = Pipeline::new();
    let shared = Arc::new(SharedPipeline::new(&pipeline));
    let (up_tx, up_rx) = mpsc::channel::<Upcall>(UPCALL_QUEUE);
    let fwd = Arc::new(Forwarder::new(shared.clone(), clock, up_tx));
    let (events_tx, events_rx) = mpsc::channel::<ChannelEvent>(1024);
    let (cmd_tx, cmd_rx) = mpsc::channel::<BridgeCmd>(16);
    let status = Arc::new(Mutex::new(BridgeStatus::default()));
    let conn_ids = Arc::new(ConnIds::default());

    // Standalone with no controller: a learning switch from the start, with
    // the flow Open vSwitch shows in that case.
    if cfg.controllers.is_empty() && cfg.effective_fail_mode() == model::FailMode::Standalone {
        add_normal_flow(&mut pipeline);
    }

    let mut b = Bridge {
        name: name.clone(),
        cfg: model::Bridge::new(&name),
        settings: settings.clone(),
        pipeline,
        shared: shared.clone(),
        published: u64::MAX,
        info: BridgeInfo::new(cfg.datapath_id),
        controllers: Controllers::new(),
        fwd: fwd.clone(),
        sinks: HashMap::new(),
        ports: HashMap::new(),
        chans: HashMap::new(),
        targets: HashMap::new(),
        conn_ids,
        events_tx,
        status: status.clone(),
        registry,
        clock,
        last_controller: 0,
        has_active_controller: false,
        links: link::LinkMonitor::default(),
        packet_ins: Arc::default(),
        drops_logged: packet_in::Drops::default(),
        stuck_warnings: LogLimiter::default(),
        stp: None,
    };
    let packet_ins = b.packet_ins.clone();
    // The management socket for ovs-ofctl-like tools, as OVS's BR.mgmt.
    let mgmt = settings.state_dir.join(format!("{name}.mgmt"));
    let t = Target::Punix(mgmt);
    let label = t.to_string();
    let h = channel::start(
        t,
        &label,
        b.conn_ids.clone(),
        b.events_tx.clone(),
        &b.settings.ssl,
    )?;
    b.targets.insert(label, h);
    b.add_local_port()?;
    b.reconfigure(cfg);
    b.publish();
    let task = tokio::spawn(b.run(cmd_rx, events_rx, up_rx));
    Ok(BridgeHandle {
        name,
        cmd: cmd_tx,
        shared,
        status,
        task,
        fwd,
        packet_ins,
    })
}

/// Deletes every flow, group and meter, as Open vSwitch's
/// `ofproto_flush_flows` does when the fail mode changes with no controller
/// configured. Nothing tells controllers: there are none.
fn flush_tables(p: &mut Pipeline) {
    use openflow::types::{group_no, meter_no, table_no};
    let flows = openflow::messages::FlowMod {
        command: flow_mod_command::DELETE,
        table_id: table_no::ALL,
        ..Default::default()
    };
    let groups = openflow::group::GroupMod {
        command: openflow::group::command::DELETE,
        group_type: 0,
        group_id: group_no::ALL,
        buckets: Vec::new(),
    };
    let meters = openflow::meter::MeterMod {
        command: openflow::meter::command::DELETE,
        flags: 0,
        meter_id: meter_no::ALL,
        bands: Vec::new(),
    };
    let results = [
        p.flow_mod(&flows, 0).map(drop),
        p.group_mod(&groups, 0).map(drop),
        p.meter_mod(&meters, 0).map(drop),
    ];
    for r in results {
        if let Err(e) = r {
            tracing::warn!("cannot flush the tables: {:?}", e.name());
        }
    }
}

fn add_normal_flow(p: &mut Pipeline) {
    let fm = openflow::messages::FlowMod {
        command: flow_mod_command::ADD,
        priority: 0,
        instructions: vec![openflow::instruction::Instruction::ApplyActions(vec![
            openflow::Action::output(port_no::NORMAL),
        ])],
        ..Default::default()
    };
    if let Err(e) = p.flow_mod(&fm, 0) {
        tracing::warn!("cannot add the NORMAL flow: {:?}", e.name());
    }
}

/// A port description for PORT_DESC and PORT_STATUS.
fn port_desc(port_no: u32, name: &str, mac: [u8; 6], up: bool) -> Port {
    use openflow::port::features;
    Port {
        port_no,
        hw_addr: MacAddr(mac),
        name: name.to_string(),
        config: 0,
        state: if up {
            port::state::LIVE
        } else {
            port::state::LINK_DOWN
        },
        curr: features::F_10GB_FD | features::COPPER,
        advertised: 0,
        supported: 0,
        peer: 0,
        curr_speed: 10_000_000,
        max_speed: 0,
    }
}

impl Bridge {
    async fn run(
        mut self,
        mut cmd_rx: mpsc::Receiver<BridgeCmd>,
        mut events_rx: mpsc::Receiver<ChannelEvent>,
        mut up_rx: mpsc::Receiver<Upcall>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = cmd_rx.recv() => match cmd {
                    Some(BridgeCmd::Reconfigure(cfg, done)) => {
                        self.reconfigure(*cfg);
                        self.publish();
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                    Some(BridgeCmd::Trace(flow, reply)) => {
                        let r = crate::pipeline::trace::packet_from_flow(&flow).map(|(frame, meta)| {
                            format!("Flow: {flow}\n{}", self.pipeline.trace(&frame, meta, self.clock.now()))
                        });
                        let _ = reply.send(r);
                    }
                    Some(BridgeCmd::Fdb(flush, reply)) => {
                        let _ = reply.send(self.fdb(flush));
                    }
                    Some(BridgeCmd::Shutdown(done)) => {
                        self.shutdown();
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.shutdown();
                        return;
                    }
                },
                Some(ev) = events_rx.recv() => self.channel_event(ev),
                Some(up) = up_rx.recv() => {
                    self.upcall(up);
                    // Take what else is queued, up to a batch, before
                    // flushing: the rest waits for the next turn.
                    for _ in 1..UPCALL_BATCH {
                        let Ok(up) = up_rx.try_recv() else {
                            break;
                        };
                        self.upcall(up);
                    }
                }
                _ = tick.tick() => self.on_tick(),
            }
            self.flush();
            self.publish();
        }
    }

    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn publish(&mut self) {
        if self.pipeline.generation != self.published {
            self.shared.publish(&self.pipeline);
            self.published = self.pipeline.generation;
        }
    }

    fn channel_event(&mut self, ev: ChannelEvent) {
        match ev {
            ChannelEvent::Connected {
                id,
                peer,
                target,
                outbox,
            } => {
                let active = Target::parse(&target)
                    .map(|t| t.is_active())
                    .unwrap_or(false);
                let kind = if active {
                    ConnKind::Controller
                } else {
                    ConnKind::Service
                };
                let probe = active.then_some(self.settings.probe_interval.as_nanos() as u64);
                let now = self.now();
                let conn = Connection::new(
                    ConnConfig {
                        kind,
                        probe_interval: probe,
                    },
                    &mut self.controllers,
                    now,
                );
                tracing::debug!("{}: channel {id} from {peer} ({target})", self.name);
                let packet_ins = packet_in::Gate::new(self.packet_in_limit(&target), now);
                self.chans.insert(
                    id,
                    Chan {
                        conn,
                        outbox,
                        target,
                        packet_ins,
                    },
                );
            }
            ChannelEvent::Data { id, bytes } => {
                let now = self.now();
                let Some(ch) = self.chans.get_mut(&id) else {
                    return;
                };
                let mut sw =
                    SwitchState::new(&mut self.pipeline, &mut self.info, &mut self.controllers);
                let effects = ch.conn.receive(&bytes, now, &mut sw);
                // Act on the effects before the next receive (BARRIER).
                self.flush_one(id);
                for fx in effects {
                    self.effect(fx);
                }
                let closing = self
                    .chans
                    .get(&id)
                    .is_some_and(|c| c.conn.close_reason().is_some());
                if closing {
                    self.close(id);
                }
            }
            ChannelEvent::Closed { id } => self.close(id),
        }
        self.update_controller_status();
    }

    fn effect(&mut self, fx: Effect) {
        match fx {
            Effect::Send { conn, bytes } => {
                if let Some(c) = self.chans.values_mut().find(|c| c.conn.id() == conn) {
                    c.conn.deliver(&bytes);
                }
            }
            Effect::Output {
                port,
                queue,
                tunnel_id,
                frame,
            } => {
                let mut out = vec![Outcome::Output {
                    port,
                    queue,
                    tunnel_id,
                    frame,
                }];
                let p = self.shared.load();
                self.fwd.deliver(&p, &mut out);
            }
            Effect::PipelineChanged => {}
            Effect::PortConfig { port_no, new, .. } => {
                let down = new & port::config::PORT_DOWN != 0;
                if let Some(rt) = self.ports.get(&port_no) {
                    if rt.own_device {
                        let _ = sys::set_up(&rt.name, !down);
                    }
                }
            }
        }
    }

    fn close(&mut self, id: u64) {
        if let Some(ch) = self.chans.remove(&id) {
            let mut conn = ch.conn;
            if conn.has_output() {
                ch.outbox.try_send(conn.take_output());
            }
            conn.shutdown(&mut self.controllers, &mut self.pipeline);
            // Dropping the outbox ends the writer, which closes the socket.
        }
    }

    /// The packet-in limit configured for controller `target` (none for
    /// the management socket and unconfigured targets).
    fn packet_in_limit(&self, target: &str) -> Option<(u32, u32)> {
        self.cfg
            .controller_settings
            .get(target)
            .and_then(|s| s.packet_in_limit())
    }

    /// Sends a packet-in from the datapath to the controllers that want it
    /// and whose gate lets it through (see [`packet_in`]).
    fn upcall(&mut self, up: Upcall) {
        let packet_in = match up {
            Upcall::PacketIn(p) => p,
            Upcall::Bpdu { port, frame } => return self.stp_bpdu(port, &frame),
        };
        let now = self.now();
        let reason = packet_in.reason;
        let Bridge {
            controllers,
            chans,
            packet_ins,
            ..
        } = self;
        let out = controllers.packet_in_where(packet_in, |conn| {
            let Some(c) = chans.values_mut().find(|c| c.conn.id() == conn) else {
                return false;
            };
            let verdict = c.packet_ins.admit(reason, now, c.outbox.unwritten());
            packet_ins.count(verdict);
            verdict == packet_in::Verdict::Send
        });
        for (conn, bytes) in out {
            if let Some(c) = chans.values_mut().find(|c| c.conn.id() == conn) {
                c.conn.deliver(&bytes);
            }
        }
    }

    /// Says in the log, at most every 10 s, how many packet-ins were
    /// dropped and why (as Open vSwitch rate-limits its upcall warnings);
    /// the totals are in `vsctl get bridge BR statistics`.
    fn log_packet_in_drops(&mut self, now: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        if now.saturating_sub(self.drops_logged.at) < DROPS_LOG_INTERVAL {
            return;
        }
        let cur = packet_in::Drops {
            at: now,
            datapath: self.fwd.upcalls_dropped.load(Relaxed),
            rate_limited: self.packet_ins.rate_limited.load(Relaxed),
            backlog: self.packet_ins.backlog_dropped.load(Relaxed),
        };
        match cur.since(&self.drops_logged) {
            Some((true, line)) => tracing::warn!("{}: {line}", self.name),
            Some((false, line)) => tracing::info!("{}: {line}", self.name),
            None => {}
        }
        self.drops_logged = cur;
    }

    fn on_tick(&mut self) {
        let now = self.now();
        self.log_packet_in_drops(now);
        if self.pipeline.has_timeouts() {
            let events = self.pipeline.expire(now);
            for (conn, bytes) in self.controllers.events(&events) {
                if let Some(c) = self.chans.values_mut().find(|c| c.conn.id() == conn) {
                    c.conn.deliver(&bytes);
                }
            }
        }
        let mut dead = Vec::new();
        for (id, ch) in self.chans.iter_mut() {
            if ch.conn.poll_timeout().is_some_and(|t| t <= now) {
                ch.conn.on_timer(now);
            }
            if ch.conn.close_reason().is_some() {
                dead.push(*id);
            }
        }
        for id in dead {
            tracing::info!("{}: closing an inactive channel", self.name);
            self.close(id);
        }
        self.fail_open_check(now);
        self.poll_links();
        self.stp_sync();
        self.stp_tick();
        self.update_controller_status();
    }

    /// Standalone fail mode: after three probe intervals without a ready
    /// controller, forward everything with NORMAL until one is back.
    fn fail_open_check(&mut self, now: u64) {
        let has_active = self.has_active_controller;
        let standalone = self.cfg.effective_fail_mode() == model::FailMode::Standalone;
        let connected = self.controllers.ids().any(|id| {
            self.controllers
                .get(id)
                .is_some_and(|c| c.ready && c.kind == ConnKind::Controller)
        });
        if connected || self.last_controller == 0 {
            self.last_controller = now.max(1);
        }
        let grace = 3 * self.settings.probe_interval.as_nanos() as u64;
        let open = standalone && has_active && !connected && now - self.last_controller > grace;
        if open != self.pipeline.fail_open {
            tracing::info!(
                "{}: {} fail-open mode",
                self.name,
                if open { "entering" } else { "leaving" }
            );
            self.pipeline.set_fail_open(open);
        }
    }

    /// Sends what the connections have queued.
    fn flush(&mut self) {
        let ids: Vec<u64> = self.chans.keys().copied().collect();
        for id in ids {
            self.flush_one(id);
        }
    }

    fn flush_one(&mut self, id: u64) {
        let stuck = match self.chans.get_mut(&id) {
            Some(c) if c.conn.has_output() => {
                let bytes = c.conn.take_output();
                (!c.outbox.try_send(bytes)).then(|| c.target.clone())
            }
            _ => None,
        };
        if let Some(target) = stuck {
            if let Some(suppressed) = self.stuck_warnings.allow() {
                tracing::warn!(
                    "{}: a channel of {target} stopped reading; closing it{suppressed}",
                    self.name
                );
            }
            self.close(id);
        }
    }

    fn update_controller_status(&mut self) {
        let mut map = HashMap::new();
        for t in &self.cfg.controllers {
            map.insert(t.clone(), ControllerStatus::default());
        }
        let mut counts: HashMap<&str, packet_in::Counts> = HashMap::new();
        for ch in self.chans.values() {
            if let Some(st) = map.get_mut(&ch.target) {
                counts
                    .entry(&ch.target)
                    .or_default()
                    .add(&ch.packet_ins.counts);
                if let Some(c) = self.controllers.get(ch.conn.id()) {
                    if c.ready {
                        st.is_connected = true;
                        st.role = Some(
                            match c.role {
                                Role::Master => "master",
                                Role::Slave => "slave",
                                Role::Equal => "other",
                            }
                            .to_string(),
                        );
                    }
                }
            }
        }
        for (target, c) in counts {
            if let Some(st) = map.get_mut(target) {
                st.status = c.status();
            }
        }
        if let Ok(mut s) = self.status.lock() {
            s.controllers = map;
        }
    }

    /// The bridge's LOCAL port: an internal port named after the bridge,
    /// with a MAC that does not change across restarts (hosts cache it).
    fn add_local_port(&mut self) -> std::io::Result<()> {
        let spec = PortSpec {
            name: self.name.clone(),
            ofport: port_no::LOCAL,
            kind: InterfaceType::Internal,
            ..PortSpec::default()
        };
        let counters = self.counters(spec.ofport);
        let opened = internal::open_tap(&spec, &self.port_context(&counters))?;
        self.attach(&spec, opened, None, counters);
        Ok(())
    }

    /// What opening port `ofport` needs from the bridge and the daemon.
    fn port_context(&self, counters: &Arc<PortCounters>) -> PortContext<'_> {
        PortContext {
            fwd: &self.fwd,
            registry: &self.registry,
            counters: counters.clone(),
        }
    }

    /// The counters of port `ofport`: the pipeline's when it has the port,
    /// else new ones (which [`Self::port_up`] then gives the pipeline).
    fn counters(&self, ofport: u32) -> Arc<PortCounters> {
        self.pipeline
            .port(ofport)
            .map(|p| p.counters.clone())
            .unwrap_or_default()
    }

    /// Records a new port, whose datapath side counts into `counters`,
    /// everywhere it is known and tells controllers.
    fn port_up(
        &mut self,
        ofport: u32,
        name: &str,
        mac: [u8; 6],
        up: bool,
        error: Option<String>,
        counters: Arc<PortCounters>,
    ) {
        let mut info = PortInfo::new(ofport);
        info.counters = counters;
        info.created = self.now();
        info.live = up;
        if let Some(p) = self.cfg.ports.get(name) {
            info.vlan = p.pipeline_vlan_mode();
        }
        self.pipeline.set_port(info);
        let desc = port_desc(ofport, name, mac, up);
        self.info.set_port(desc.clone());
        self.port_status(port::reason::ADD, desc);
        if let Ok(mut s) = self.status.lock() {
            s.ofports.insert(name.to_string(), ofport);
            s.interfaces.insert(
                name.to_string(),
                InterfaceStatus {
                    link_up: Some(up),
                    mac_in_use: Some(model::format_mac(mac)),
                    mtu: sys::mtu(name).ok(),
                    error,
                    statistics: None,
                },
            );
        }
    }

    fn port_status(&mut self, reason: u8, desc: Port) {
        let ps = PortStatus { reason, desc };
        for (conn, bytes) in self.controllers.port_status(&ps, None) {
            if let Some(c) = self.chans.values_mut().find(|c| c.conn.id() == conn) {
                c.conn.deliver(&bytes);
            }
        }
    }

    /// `fdb/show` as ovs-appctl prints it (port, VLAN, MAC, age in
    /// seconds), or with `flush`, the table emptied (and nothing to print).
    fn fdb(&mut self, flush: bool) -> String {
        let macs = &self.pipeline.mac_table;
        if flush {
            macs.flush();
            return String::new();
        }
        let mut out = String::from(" port  VLAN  MAC                Age\n");
        for (vlan, mac, port, age) in macs.entries(self.clock.now()) {
            let port = if port == port_no::LOCAL {
                "LOCAL".to_string()
            } else {
                port.to_string()
            };
            out.push_str(&format!("{port:>5}  {vlan:>4}  {mac}  {age:>3}\n"));
        }
        out
    }

    /// Sets the MTU of port `ofport`'s device to `mtu` without opening
    /// the port again; false where that cannot be done (the sink does not
    /// follow, or the device is not in this namespace).
    fn resize_in_place(&mut self, ofport: u32, mtu: u32) -> bool {
        let (Some(rt), Some(sink)) = (self.ports.get(&ofport), self.sinks.get(&ofport)) else {
            return false;
        };
        if !rt.own_device {
            return false;
        }
        let Ok(now) = sys::set_mtu(&rt.name, mtu).and_then(|()| sys::mtu(&rt.name)) else {
            return false;
        };
        if !sink.follow_mtu(now) {
            return false;
        }
        if let Ok(mut s) = self.status.lock() {
            if let Some(i) = s.interfaces.get_mut(&rt.name) {
                i.mtu = Some(now);
            }
        }
        true
    }

    fn remove_port(&mut self, ofport: u32) {
        let Some(rt) = self.ports.remove(&ofport) else {
            return;
        };
        if let Some(detach) = rt.detach {
            detach();
        }
        self.sinks.remove(&ofport);
        self.pipeline.remove_port(ofport);
        if let Some(desc) = self.info.ports.remove(&ofport) {
            self.port_status(port::reason::DELETE, desc);
        }
        if let Ok(mut s) = self.status.lock() {
            s.ofports.remove(&rt.name);
            s.interfaces.remove(&rt.name);
        }
    }

    /// Opens configured port `p` with the datapath's device of its kind;
    /// one that cannot be opened is numbered and shown link-down, with
    /// the error in its interface status.
    fn add_port(&mut self, p: &model::Port) {
        let spec = PortSpec::from_config(p);
        let counters = self.counters(p.ofport);
        match open_port(&spec, &self.port_context(&counters)) {
            Ok(opened) => self.attach(&spec, opened, None, counters),
            Err(e) => {
                tracing::warn!("{}: port {}: {e}", self.name, p.name);
                self.attach(&spec, OpenedPort::placeholder(&spec), Some(e), counters);
            }
        }
    }

    /// Records opened port `spec` (its sink, receiver and what removing it
    /// undoes) and announces it.
    fn attach(
        &mut self,
        spec: &PortSpec,
        opened: OpenedPort,
        error: Option<String>,
        counters: Arc<PortCounters>,
    ) {
        self.sinks.insert(spec.ofport, opened.sink);
        self.ports.insert(
            spec.ofport,
            PortRt {
                name: spec.name.clone(),
                kind: spec.kind,
                rx: opened.rx,
                own_device: opened.own_device,
                detach: opened.detach,
            },
        );
        self.port_up(
            spec.ofport,
            &spec.name,
            opened.mac,
            opened.up,
            error,
            counters,
        );
    }

    /// Closes the device of system port `ofport` (its interface is gone):
    /// the receiver stops and frames for the port are dropped (counted in
    /// `tx_dropped`) until [`Self::reopen_system_port`] succeeds.
    pub(super) fn close_system_device(&mut self, ofport: u32) {
        if let Some(rt) = self.ports.get_mut(&ofport) {
            rt.rx = None;
            self.sinks.insert(ofport, Arc::new(NullSink));
            self.fwd.ports.store(Arc::new(self.sinks.clone()));
        }
    }

    /// Opens the device of system port `ofport` again: its interface was
    /// deleted and created anew (same name, new ifindex), and the old
    /// socket is bound to the interface that is gone. Counters carry on.
    /// The caller logs ([`reopen`] says what and when).
    pub(super) fn reopen_system_port(&mut self, ofport: u32) -> std::io::Result<()> {
        let Some(p) = self.cfg.ports.values().find(|p| p.ofport == ofport) else {
            return Ok(());
        };
        let spec = PortSpec::from_config(p);
        if !self.ports.contains_key(&ofport) {
            return Ok(());
        }
        // The old receiver goes first (its socket closes).
        self.close_system_device(ofport);
        let counters = self.counters(ofport);
        let (sink, rx) = system::reopen(&spec, &self.port_context(&counters))?;
        if let Some(rt) = self.ports.get_mut(&ofport) {
            rt.rx = Some(rx);
        }
        self.sinks.insert(ofport, sink);
        self.fwd.ports.store(Arc::new(self.sinks.clone()));
        Ok(())
    }

    /// Brings ports, controllers and settings in line with `cfg`.
    fn reconfigure(&mut self, cfg: model::Bridge) {
        let old = std::mem::replace(&mut self.cfg, cfg);
        self.info.datapath_id = self.cfg.datapath_id;
        // Ports: remove what went or changed kind/number, add what is new,
        // update VLAN roles in place.
        let wanted: HashMap<u32, &model::Port> =
            self.cfg.ports.values().map(|p| (p.ofport, p)).collect();
        let mut resized = Vec::new();
        let mut stale: Vec<u32> = self
            .ports
            .iter()
            .filter(|(n, _)| **n != port_no::LOCAL)
            .filter(|(n, rt)| {
                wanted.get(n).is_none_or(|p| {
                    let was = old.ports.get(&p.name).map(|o| &o.interface);
                    if p.name != rt.name || p.interface.kind != rt.kind {
                        return true;
                    }
                    if was == Some(&p.interface) {
                        return false;
                    }
                    match (was, p.interface.mtu_request) {
                        (Some(w), Some(mtu)) if only_mtu_differs(w, &p.interface) => {
                            resized.push((**n, mtu));
                            false
                        }
                        _ => true,
                    }
                })
            })
            .map(|(n, _)| *n)
            .collect();
        // A new MTU alone is set on the device where the port's sink can
        // follow it (an internal port's TAP keeps its addresses); the
        // others are opened again.
        for (n, mtu) in resized {
            if !self.resize_in_place(n, mtu) {
                stale.push(n);
            }
        }
        if !stale.is_empty() {
            for n in stale {
                self.remove_port(n);
            }
            // The forwarding threads' map lets go of the removed sinks now,
            // before anything is opened: a port opened again on the same
            // device (a changed ofport_request, options or MTU) would find
            // it still held (a TAP: EBUSY), and lose it when the old map
            // went.
            self.fwd.ports.store(Arc::new(self.sinks.clone()));
        }
        let new_ports: Vec<model::Port> = self
            .cfg
            .ports
            .values()
            .filter(|p| !self.ports.contains_key(&p.ofport))
            .cloned()
            .collect();
        for p in &new_ports {
            self.add_port(p);
        }
        for p in self.cfg.ports.values() {
            if let Some(info) = self.pipeline.port(p.ofport) {
                let vlan = p.pipeline_vlan_mode();
                if info.vlan != vlan {
                    let mut info = info.clone();
                    info.vlan = vlan;
                    self.pipeline.set_port(info);
                }
            }
        }
        self.fwd.ports.store(Arc::new(self.sinks.clone()));
        // Controllers.
        let keep = |t: &String| t.ends_with(".mgmt");
        let gone: Vec<String> = self
            .targets
            .keys()
            .filter(|t| !keep(t) && !self.cfg.controllers.contains(t))
            .cloned()
            .collect();
        for t in gone {
            if let Some(h) = self.targets.remove(&t) {
                h.abort();
            }
            let ids: Vec<u64> = self
                .chans
                .iter()
                .filter(|(_, c)| c.target == t)
                .map(|(id, _)| *id)
                .collect();
            for id in ids {
                self.close(id);
            }
        }
        let new_targets: Vec<String> = self
            .cfg
            .controllers
            .iter()
            .filter(|t| !self.targets.contains_key(*t))
            .cloned()
            .collect();
        for t in new_targets {
            match Target::parse(&t) {
                Ok(target) => {
                    // Connections are registered under the configured text.
                    match channel::start(
                        target,
                        &t,
                        self.conn_ids.clone(),
                        self.events_tx.clone(),
                        &self.settings.ssl,
                    ) {
                        Ok(h) => {
                            self.targets.insert(t, h);
                        }
                        Err(e) => tracing::warn!("{}: controller {t}: {e}", self.name),
                    }
                }
                Err(e) => tracing::warn!("{}: {e}", self.name),
            }
        }
        // Rate limits, on the connections already up too.
        let now = self.now();
        let limits: Vec<(u64, Option<(u32, u32)>)> = self
            .chans
            .iter()
            .map(|(id, c)| (*id, self.packet_in_limit(&c.target)))
            .collect();
        for (id, limit) in limits {
            if let Some(c) = self.chans.get_mut(&id) {
                c.packet_ins.configure(limit, now);
            }
        }
        self.has_active_controller = self
            .cfg
            .controllers
            .iter()
            .any(|t| Target::parse(t).map(|t| t.is_active()).unwrap_or(false));
        // A new fail mode with no controller configured starts from empty
        // tables, plus the NORMAL flow in standalone mode (as Open vSwitch's
        // connmgr_set_fail_mode and connmgr_flushed).
        let mode = self.cfg.effective_fail_mode();
        if mode != old.effective_fail_mode() && self.cfg.controllers.is_empty() {
            flush_tables(&mut self.pipeline);
            if mode == model::FailMode::Standalone {
                add_normal_flow(&mut self.pipeline);
            }
        }
        // Secure mode never forwards on its own.
        if self.cfg.effective_fail_mode() == model::FailMode::Secure {
            self.pipeline.set_fail_open(false);
        }
        self.stp_sync();
        self.update_controller_status();
    }

    fn shutdown(&mut self) {
        for (_, h) in self.targets.drain() {
            h.abort();
        }
        let ids: Vec<u64> = self.chans.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
        let ports: Vec<u32> = self.ports.keys().copied().collect();
        for n in ports {
            self.remove_port(n);
        }
        let _ = std::fs::remove_file(self.settings.state_dir.join(format!("{}.mgmt", self.name)));
    }
}

/// Whether interface settings `a` and `b` differ at most in their
/// `mtu_request`.
fn only_mtu_differs(a: &model::Interface, b: &model::Interface) -> bool {
    let mut a = a.clone();
    a.mtu_request = b.mtu_request;
    a == *b
}
