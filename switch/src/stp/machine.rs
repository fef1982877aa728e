//! The 802.1D-1998 spanning tree state machine of one bridge (clause 8's
//! procedures, in the order and under the names the standard gives them,
//! so the code can be read against it).
//!
//! Sans-IO: every entry point takes the time, `now` in nanoseconds of any
//! monotonic clock, and what the bridge must do comes out of
//! [`Stp::take_outputs`]: BPDU frames for ports, port state changes, and
//! the MAC aging time to use. Timers are start stamps checked by
//! [`Stp::tick`], so the caller only has to tick often (the daemon does
//! every 100 ms); a late tick delays a timer, it never loses one.

use super::bpdu::{Bpdu, BpduError, Config, FLAG_TC, FLAG_TCA};
use super::port::{PortConfig, PortState, PortStatus, Role};
use std::collections::BTreeMap;

/// The least time between two configuration BPDUs on one port (802.1D
/// Hold Time).
const HOLD_TIME_MS: u64 = 1000;
/// What a bridge adds to the message age of the root's information.
const MESSAGE_AGE_INCREMENT_MS: u32 = 1000;
/// Default bridge priority.
pub const DEFAULT_PRIORITY: u16 = 0x8000;

/// A bridge's own spanning tree settings (times in milliseconds), from
/// `Bridge.other_config` keys named as Open vSwitch names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// `stp-system-id`'s default: the bridge's MAC address.
    pub mac: [u8; 6],
    /// `stp-priority`.
    pub priority: u16,
    /// `stp-hello-time` (1 to 10 s).
    pub hello_time: u32,
    /// `stp-max-age` (6 to 40 s).
    pub max_age: u32,
    /// `stp-forward-delay` (4 to 30 s).
    pub forward_delay: u32,
}

impl BridgeConfig {
    pub fn new(mac: [u8; 6]) -> BridgeConfig {
        BridgeConfig {
            mac,
            priority: DEFAULT_PRIORITY,
            hello_time: 2000,
            max_age: 20_000,
            forward_delay: 15_000,
        }
    }

    /// Reads `stp-priority`, `stp-hello-time`, `stp-max-age` and
    /// `stp-forward-delay` (seconds, as OVS); a missing or out-of-range
    /// value keeps the default, as OVS does.
    pub fn from_other_config(mac: [u8; 6], m: &BTreeMap<String, String>) -> BridgeConfig {
        let d = BridgeConfig::new(mac);
        let secs = |key: &str, range: std::ops::RangeInclusive<u32>, default: u32| {
            m.get(key)
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|v| range.contains(v))
                .map_or(default, |v| v * 1000)
        };
        BridgeConfig {
            mac,
            priority: m
                .get("stp-priority")
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.priority),
            hello_time: secs("stp-hello-time", 1..=10, d.hello_time),
            max_age: secs("stp-max-age", 6..=40, d.max_age),
            forward_delay: secs("stp-forward-delay", 4..=30, d.forward_delay),
        }
    }

    /// The bridge identifier: priority, then MAC address.
    pub fn bridge_id(&self) -> u64 {
        self.mac
            .iter()
            .fold(u64::from(self.priority), |id, &b| (id << 8) | u64::from(b))
    }
}

/// Something the bridge must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this frame out of this port.
    Send { port: u32, frame: Vec<u8> },
    /// The port's state changed.
    State { port: u32, state: PortState },
    /// Age learned addresses out after this long (ms): the forward delay
    /// while a topology change is under way (802.1D 8.3.5), `None` for the
    /// normal aging time.
    Aging(Option<u32>),
}

/// A timer: when it was started, if it runs.
type Timer = Option<u64>;

fn expired(t: Timer, now: u64, after: u64) -> bool {
    t.is_some_and(|s| now.saturating_sub(s) >= after)
}

#[derive(Clone, Debug)]
struct Port {
    mac: [u8; 6],
    port_id: u16,
    path_cost: u32,
    state: PortState,
    designated_root: u64,
    designated_cost: u32,
    designated_bridge: u64,
    designated_port: u16,
    topology_change_ack: bool,
    config_pending: bool,
    message_age_timer: Timer,
    forward_delay_timer: Timer,
    hold_timer: Timer,
    state_since: u64,
    tx_count: u64,
    rx_count: u64,
    error_count: u64,
}

/// One bridge's spanning tree.
#[derive(Clone, Debug)]
pub struct Stp {
    cfg: BridgeConfig,
    bridge_id: u64,
    designated_root: u64,
    root_path_cost: u32,
    root_port: Option<u32>,
    /// Times in use: the root's, learned from its BPDUs (ms).
    max_age: u32,
    hello_time: u32,
    forward_delay: u32,
    topology_change_detected: bool,
    topology_change: bool,
    hello_timer: Timer,
    tcn_timer: Timer,
    topology_change_timer: Timer,
    ports: BTreeMap<u32, Port>,
    /// The aging last announced, to announce changes only.
    aging: Option<u32>,
    /// The time of the call being handled (ms).
    now: u64,
    out: Vec<Output>,
}

fn port_id(priority: u8, port_no: u32) -> u16 {
    (u16::from(priority) << 8) | (port_no & 0xff) as u16
}

impl Stp {
    /// A bridge with no ports, root of its own tree.
    pub fn new(cfg: BridgeConfig, now: u64) -> Stp {
        let id = cfg.bridge_id();
        let mut s = Stp {
            cfg,
            bridge_id: id,
            designated_root: id,
            root_path_cost: 0,
            root_port: None,
            max_age: cfg.max_age,
            hello_time: cfg.hello_time,
            forward_delay: cfg.forward_delay,
            topology_change_detected: false,
            topology_change: false,
            hello_timer: None,
            tcn_timer: None,
            topology_change_timer: None,
            ports: BTreeMap::new(),
            aging: None,
            now: now / 1_000_000,
            out: Vec::new(),
        };
        s.initialization();
        s
    }

    /// The port numbers spanning tree can run on: 802.1D port ids hold
    /// eight bits of port number (as in Open vSwitch, 1 to 255).
    pub fn supports_port(port_no: u32) -> bool {
        (1..=255).contains(&port_no)
    }

    fn at(&mut self, now: u64) {
        self.now = now / 1_000_000;
    }

    /// What the calls so far asked for, oldest first.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    pub fn config(&self) -> &BridgeConfig {
        &self.cfg
    }

    // ----- Management (802.1D 8.8) -----

    /// Applies new bridge settings: a new priority or address re-runs the
    /// election (Set Bridge Priority); new times apply now if this bridge
    /// is the root, else when it becomes root.
    pub fn reconfigure(&mut self, cfg: BridgeConfig, now: u64) {
        self.at(now);
        let old = std::mem::replace(&mut self.cfg, cfg);
        if self.root_bridge() {
            self.max_age = cfg.max_age;
            self.hello_time = cfg.hello_time;
            self.forward_delay = cfg.forward_delay;
        }
        if old.bridge_id() != cfg.bridge_id() {
            self.set_bridge_priority(cfg.bridge_id());
        }
        self.update_aging();
    }

    /// Adds a port (`up`: its link is up); it starts blocking.
    pub fn add_port(&mut self, port_no: u32, mac: [u8; 6], cfg: PortConfig, up: bool, now: u64) {
        self.at(now);
        if !Stp::supports_port(port_no) {
            return;
        }
        let id = port_id(cfg.priority, port_no);
        self.ports.insert(
            port_no,
            Port {
                mac,
                port_id: id,
                path_cost: cfg.path_cost,
                state: PortState::Disabled,
                designated_root: self.designated_root,
                designated_cost: self.root_path_cost,
                designated_bridge: self.bridge_id,
                designated_port: id,
                topology_change_ack: false,
                config_pending: false,
                message_age_timer: None,
                forward_delay_timer: None,
                hold_timer: None,
                state_since: self.now,
                tx_count: 0,
                rx_count: 0,
                error_count: 0,
            },
        );
        self.out.push(Output::State {
            port: port_no,
            state: PortState::Disabled,
        });
        if up {
            self.enable_port(port_no);
        }
    }

    /// Removes a port as if its link went down first.
    pub fn remove_port(&mut self, port_no: u32, now: u64) {
        self.set_port_up(port_no, false, now);
        self.ports.remove(&port_no);
    }

    /// Follows a port's link (or administrative) state.
    pub fn set_port_up(&mut self, port_no: u32, up: bool, now: u64) {
        self.at(now);
        let Some(p) = self.ports.get(&port_no) else {
            return;
        };
        match (p.state == PortState::Disabled, up) {
            (true, true) => self.enable_port(port_no),
            (false, false) => self.disable_port(port_no),
            _ => {}
        }
    }

    /// Applies new port settings (Set Port Priority, Set Path Cost).
    pub fn set_port_config(&mut self, port_no: u32, cfg: PortConfig, now: u64) {
        self.at(now);
        let Some(p) = self.ports.get(&port_no) else {
            return;
        };
        let id = port_id(cfg.priority, port_no);
        if p.port_id != id {
            self.set_port_priority(port_no, id);
        }
        if self
            .ports
            .get(&port_no)
            .is_some_and(|p| p.path_cost != cfg.path_cost)
        {
            self.set_path_cost(port_no, cfg.path_cost);
        }
    }

    /// Takes a frame received on `port_no` (sent to the bridge group
    /// address). A frame that is no usable BPDU is counted on the port and
    /// returned as the error.
    pub fn receive(&mut self, port_no: u32, frame: &[u8], now: u64) -> Result<(), BpduError> {
        self.at(now);
        let Some(p) = self.ports.get_mut(&port_no) else {
            return Ok(());
        };
        let bpdu = match Bpdu::decode(frame) {
            Ok(b) => b,
            Err(e) => {
                p.error_count += 1;
                return Err(e);
            }
        };
        p.rx_count += 1;
        if p.state == PortState::Disabled {
            return Ok(());
        }
        match bpdu {
            Bpdu::Config(c) => self.received_config_bpdu(port_no, &c),
            Bpdu::Tcn => self.received_tcn_bpdu(port_no),
        }
        self.update_aging();
        Ok(())
    }

    /// Runs the timers that are due.
    pub fn tick(&mut self, now: u64) {
        self.at(now);
        let now = self.now;
        if expired(self.hello_timer, now, u64::from(self.cfg.hello_time)) {
            self.hello_timer = None;
            self.hello_timer_expiry();
        }
        if expired(self.tcn_timer, now, u64::from(self.cfg.hello_time)) {
            self.tcn_timer = None;
            self.tcn_timer_expiry();
        }
        let tc_time = u64::from(self.cfg.max_age) + u64::from(self.cfg.forward_delay);
        if expired(self.topology_change_timer, now, tc_time) {
            self.topology_change_timer = None;
            self.topology_change_timer_expiry();
        }
        let ports: Vec<u32> = self.ports.keys().copied().collect();
        for n in ports {
            // Each timer is read afresh: an expiry may restart another.
            let timer = |s: &Stp, f: fn(&Port) -> Timer| s.ports.get(&n).and_then(f);
            if expired(
                timer(self, |p| p.message_age_timer),
                now,
                u64::from(self.max_age),
            ) {
                self.port(n).message_age_timer = None;
                self.message_age_timer_expiry(n);
            }
            let delay = u64::from(self.forward_delay);
            if expired(timer(self, |p| p.forward_delay_timer), now, delay) {
                self.port(n).forward_delay_timer = None;
                self.forward_delay_timer_expiry(n);
            }
            if expired(timer(self, |p| p.hold_timer), now, HOLD_TIME_MS) {
                self.port(n).hold_timer = None;
                self.hold_timer_expiry(n);
            }
        }
        self.update_aging();
    }

    // ----- Status -----

    /// `stp_bridge_id`, `stp_designated_root`, `stp_root_path_cost` as
    /// OVS's `Bridge.status` shows them.
    pub fn bridge_status(&self) -> BTreeMap<String, String> {
        [
            ("stp_bridge_id", format_id(self.bridge_id)),
            ("stp_designated_root", format_id(self.designated_root)),
            ("stp_root_path_cost", self.root_path_cost.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    pub fn is_root(&self) -> bool {
        self.root_bridge()
    }

    pub fn root_port(&self) -> Option<u32> {
        self.root_port
    }

    pub fn designated_root(&self) -> u64 {
        self.designated_root
    }

    pub fn port_state(&self, port_no: u32) -> Option<PortState> {
        self.ports.get(&port_no).map(|p| p.state)
    }

    pub fn port_role(&self, port_no: u32) -> Option<Role> {
        let p = self.ports.get(&port_no)?;
        Some(if p.state == PortState::Disabled {
            Role::Disabled
        } else if self.root_port == Some(port_no) {
            Role::Root
        } else if self.designated_port(port_no) {
            Role::Designated
        } else {
            Role::Alternate
        })
    }

    pub fn port_status(&self, port_no: u32, now: u64) -> Option<PortStatus> {
        let p = self.ports.get(&port_no)?;
        Some(PortStatus {
            port_id: p.port_id,
            state: p.state,
            role: self.port_role(port_no)?,
            sec_in_state: (now / 1_000_000).saturating_sub(p.state_since) / 1000,
            tx_count: p.tx_count,
            rx_count: p.rx_count,
            error_count: p.error_count,
        })
    }

    /// Whether a topology change is under way (BPDUs carry the TC flag).
    pub fn topology_change(&self) -> bool {
        self.topology_change
    }

    // ----- Helpers -----

    /// A port known to exist (callers look it up first).
    fn port(&mut self, n: u32) -> &mut Port {
        self.ports.get_mut(&n).expect("port exists")
    }

    fn enabled_ports(&self) -> Vec<u32> {
        self.ports
            .iter()
            .filter(|(_, p)| p.state != PortState::Disabled)
            .map(|(n, _)| *n)
            .collect()
    }

    fn root_bridge(&self) -> bool {
        self.designated_root == self.bridge_id
    }

    fn designated_port(&self, n: u32) -> bool {
        self.ports.get(&n).is_some_and(|p| {
            p.designated_bridge == self.bridge_id && p.designated_port == p.port_id
        })
    }

    fn set_state(&mut self, n: u32, state: PortState) {
        let now = self.now;
        let p = self.port(n);
        if p.state != state {
            p.state = state;
            p.state_since = now;
            self.out.push(Output::State { port: n, state });
        }
    }

    fn update_aging(&mut self) {
        let want = self.topology_change.then_some(self.forward_delay);
        if want != self.aging {
            self.aging = want;
            self.out.push(Output::Aging(want));
        }
    }

    // ----- 802.1D 8.6: elements of procedure -----

    fn transmit_config(&mut self, n: u32) {
        let now = self.now;
        let root = self.root_bridge();
        let message_age = match self.root_port.and_then(|r| self.ports.get(&r)) {
            Some(rp) if !root => rp
                .message_age_timer
                .map_or(0, |s| {
                    u32::try_from(now.saturating_sub(s)).unwrap_or(u32::MAX)
                })
                .saturating_add(MESSAGE_AGE_INCREMENT_MS),
            _ => 0,
        };
        let (designated_root, root_path_cost, bridge_id) =
            (self.designated_root, self.root_path_cost, self.bridge_id);
        let (max_age, hello_time, forward_delay) =
            (self.max_age, self.hello_time, self.forward_delay);
        let tc = self.topology_change;
        let p = self.port(n);
        if p.hold_timer.is_some() {
            p.config_pending = true;
            return;
        }
        if message_age >= max_age {
            return;
        }
        let mut flags = 0;
        if p.topology_change_ack {
            flags |= FLAG_TCA;
        }
        if tc {
            flags |= FLAG_TC;
        }
        let frame = Bpdu::Config(Config {
            flags,
            root: designated_root,
            root_path_cost,
            bridge: bridge_id,
            port: p.port_id,
            message_age,
            max_age,
            hello_time,
            forward_delay,
        })
        .encode(p.mac);
        p.topology_change_ack = false;
        p.config_pending = false;
        p.hold_timer = Some(now);
        p.tx_count += 1;
        self.out.push(Output::Send { port: n, frame });
    }

    /// Whether `c` is better information than what port `n` holds.
    fn supersedes_port_info(&self, n: u32, c: &Config) -> bool {
        let Some(p) = self.ports.get(&n) else {
            return false;
        };
        (c.root, c.root_path_cost, c.bridge)
            < (p.designated_root, p.designated_cost, p.designated_bridge)
            || ((c.root, c.root_path_cost, c.bridge)
                == (p.designated_root, p.designated_cost, p.designated_bridge)
                && (c.bridge != self.bridge_id || c.port <= p.designated_port))
    }

    fn record_config_information(&mut self, n: u32, c: &Config) {
        let now = self.now;
        let p = self.port(n);
        p.designated_root = c.root;
        p.designated_cost = c.root_path_cost;
        p.designated_bridge = c.bridge;
        p.designated_port = c.port;
        p.message_age_timer = Some(now.saturating_sub(u64::from(c.message_age)));
    }

    fn record_config_timeout_values(&mut self, c: &Config) {
        self.max_age = c.max_age;
        self.hello_time = c.hello_time;
        self.forward_delay = c.forward_delay;
        self.topology_change = c.flags & FLAG_TC != 0;
    }

    fn config_bpdu_generation(&mut self) {
        for n in self.enabled_ports() {
            if self.designated_port(n) {
                self.transmit_config(n);
            }
        }
    }

    fn transmit_tcn(&mut self) {
        let Some(r) = self.root_port else {
            return;
        };
        let p = self.port(r);
        let frame = Bpdu::Tcn.encode(p.mac);
        p.tx_count += 1;
        self.out.push(Output::Send { port: r, frame });
    }

    fn configuration_update(&mut self) {
        self.root_selection();
        self.designated_port_selection();
    }

    fn root_selection(&mut self) {
        let mut best: Option<(u64, u32, u64, u16, u16, u32)> = None;
        for n in self.enabled_ports() {
            if self.designated_port(n) {
                continue;
            }
            let p = &self.ports[&n];
            if p.designated_root >= self.bridge_id {
                continue;
            }
            let key = (
                p.designated_root,
                p.designated_cost.saturating_add(p.path_cost),
                p.designated_bridge,
                p.designated_port,
                p.port_id,
                n,
            );
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        match best {
            None => {
                self.root_port = None;
                self.designated_root = self.bridge_id;
                self.root_path_cost = 0;
            }
            Some((root, cost, .., n)) => {
                self.root_port = Some(n);
                self.designated_root = root;
                self.root_path_cost = cost;
            }
        }
    }

    fn designated_port_selection(&mut self) {
        for n in self.enabled_ports() {
            let p = &self.ports[&n];
            if self.designated_port(n)
                || p.designated_root != self.designated_root
                || self.root_path_cost < p.designated_cost
                || (self.root_path_cost == p.designated_cost
                    && (self.bridge_id < p.designated_bridge
                        || (self.bridge_id == p.designated_bridge
                            && p.port_id <= p.designated_port)))
            {
                self.become_designated_port(n);
            }
        }
    }

    fn become_designated_port(&mut self, n: u32) {
        let (root, cost, id) = (self.designated_root, self.root_path_cost, self.bridge_id);
        let p = self.port(n);
        p.designated_root = root;
        p.designated_cost = cost;
        p.designated_bridge = id;
        p.designated_port = p.port_id;
    }

    fn port_state_selection(&mut self) {
        for n in self.enabled_ports() {
            if self.root_port == Some(n) {
                let p = self.port(n);
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_forwarding(n);
            } else if self.designated_port(n) {
                self.port(n).message_age_timer = None;
                self.make_forwarding(n);
            } else {
                let p = self.port(n);
                p.config_pending = false;
                p.topology_change_ack = false;
                self.make_blocking(n);
            }
        }
    }

    fn make_forwarding(&mut self, n: u32) {
        if self.ports[&n].state == PortState::Blocking {
            self.set_state(n, PortState::Listening);
            let now = self.now;
            self.port(n).forward_delay_timer = Some(now);
        }
    }

    fn make_blocking(&mut self, n: u32) {
        let state = self.ports[&n].state;
        if !matches!(state, PortState::Disabled | PortState::Blocking) {
            if matches!(state, PortState::Forwarding | PortState::Learning) {
                self.topology_change_detection();
            }
            self.set_state(n, PortState::Blocking);
            self.port(n).forward_delay_timer = None;
        }
    }

    fn topology_change_detection(&mut self) {
        if self.root_bridge() {
            self.topology_change = true;
            self.topology_change_timer = Some(self.now);
        } else if !self.topology_change_detected {
            self.transmit_tcn();
            self.tcn_timer = Some(self.now);
        }
        self.topology_change_detected = true;
    }

    fn topology_change_acknowledged(&mut self) {
        self.topology_change_detected = false;
        self.tcn_timer = None;
    }

    fn acknowledge_topology_change(&mut self, n: u32) {
        self.port(n).topology_change_ack = true;
        self.transmit_config(n);
    }

    // ----- 802.1D 8.7: operation of the protocol -----

    fn received_config_bpdu(&mut self, n: u32, c: &Config) {
        let was_root = self.root_bridge();
        if self.supersedes_port_info(n, c) {
            self.record_config_information(n, c);
            self.configuration_update();
            self.port_state_selection();
            if was_root && !self.root_bridge() {
                self.hello_timer = None;
                if self.topology_change_detected {
                    self.topology_change_timer = None;
                    self.transmit_tcn();
                    self.tcn_timer = Some(self.now);
                }
            }
            if self.root_port == Some(n) {
                self.record_config_timeout_values(c);
                self.config_bpdu_generation();
                if c.flags & FLAG_TCA != 0 {
                    self.topology_change_acknowledged();
                }
            }
        } else if self.designated_port(n) {
            self.transmit_config(n);
        }
    }

    fn received_tcn_bpdu(&mut self, n: u32) {
        if self.designated_port(n) {
            self.topology_change_detection();
            self.acknowledge_topology_change(n);
        }
    }

    fn hello_timer_expiry(&mut self) {
        self.config_bpdu_generation();
        self.hello_timer = Some(self.now);
    }

    /// This bridge just became the root: it uses its own times again and
    /// tells everyone (8.7.6).
    fn became_root(&mut self) {
        self.max_age = self.cfg.max_age;
        self.hello_time = self.cfg.hello_time;
        self.forward_delay = self.cfg.forward_delay;
        self.topology_change_detection();
        self.tcn_timer = None;
        self.config_bpdu_generation();
        self.hello_timer = Some(self.now);
    }

    fn message_age_timer_expiry(&mut self, n: u32) {
        let was_root = self.root_bridge();
        self.become_designated_port(n);
        self.configuration_update();
        self.port_state_selection();
        if self.root_bridge() && !was_root {
            self.became_root();
        }
    }

    fn forward_delay_timer_expiry(&mut self, n: u32) {
        match self.ports[&n].state {
            PortState::Listening => {
                self.set_state(n, PortState::Learning);
                self.port(n).forward_delay_timer = Some(self.now);
            }
            PortState::Learning => {
                self.set_state(n, PortState::Forwarding);
                if self.designated_for_some_port() {
                    self.topology_change_detection();
                }
            }
            _ => {}
        }
    }

    fn designated_for_some_port(&self) -> bool {
        self.ports
            .values()
            .any(|p| p.state != PortState::Disabled && p.designated_bridge == self.bridge_id)
    }

    fn tcn_timer_expiry(&mut self) {
        self.transmit_tcn();
        self.tcn_timer = Some(self.now);
    }

    fn topology_change_timer_expiry(&mut self) {
        self.topology_change_detected = false;
        self.topology_change = false;
    }

    fn hold_timer_expiry(&mut self, n: u32) {
        if self.ports[&n].config_pending {
            self.transmit_config(n);
        }
    }

    // ----- 802.1D 8.8: management -----

    fn initialization(&mut self) {
        self.designated_root = self.bridge_id;
        self.root_path_cost = 0;
        self.root_port = None;
        self.max_age = self.cfg.max_age;
        self.hello_time = self.cfg.hello_time;
        self.forward_delay = self.cfg.forward_delay;
        self.topology_change_detected = false;
        self.topology_change = false;
        self.tcn_timer = None;
        self.topology_change_timer = None;
        for n in self.enabled_ports() {
            self.initialize_port(n);
        }
        self.port_state_selection();
        self.config_bpdu_generation();
        self.hello_timer = Some(self.now);
    }

    /// What Initialize Port and Disable Port share: the port becomes
    /// designated in `state`, with its flags and timers cleared.
    fn reset_port(&mut self, n: u32, state: PortState) {
        self.become_designated_port(n);
        self.set_state(n, state);
        let p = self.port(n);
        p.topology_change_ack = false;
        p.config_pending = false;
        p.message_age_timer = None;
        p.forward_delay_timer = None;
    }

    fn initialize_port(&mut self, n: u32) {
        self.reset_port(n, PortState::Blocking);
        self.port(n).hold_timer = None;
    }

    fn enable_port(&mut self, n: u32) {
        self.initialize_port(n);
        self.port_state_selection();
    }

    fn disable_port(&mut self, n: u32) {
        let was_root = self.root_bridge();
        self.reset_port(n, PortState::Disabled);
        self.configuration_update();
        self.port_state_selection();
        if self.root_bridge() && !was_root {
            self.became_root();
        }
    }

    fn set_bridge_priority(&mut self, new_id: u64) {
        let was_root = self.root_bridge();
        for n in self.enabled_ports() {
            if self.designated_port(n) {
                self.port(n).designated_bridge = new_id;
            }
        }
        self.bridge_id = new_id;
        self.configuration_update();
        self.port_state_selection();
        if self.root_bridge() && !was_root {
            self.became_root();
        }
    }

    fn set_port_priority(&mut self, n: u32, new_id: u16) {
        if self.designated_port(n) {
            self.port(n).designated_port = new_id;
        }
        let id = self.bridge_id;
        let p = self.port(n);
        p.port_id = new_id;
        if p.designated_bridge == id && p.port_id < p.designated_port {
            self.become_designated_port(n);
            self.port_state_selection();
        }
    }

    fn set_path_cost(&mut self, n: u32, cost: u32) {
        self.port(n).path_cost = cost;
        self.configuration_update();
        self.port_state_selection();
    }
}

/// A bridge id as OVS prints it: priority, a dot, the address.
pub fn format_id(id: u64) -> String {
    format!("{:04x}.{:012x}", id >> 48, id & 0xffff_ffff_ffff)
}
