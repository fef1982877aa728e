//! Spanning tree in the bridge task: moves BPDUs between the datapath and
//! the sans-IO [`crate::stp::Stp`], and publishes what it decides.
//!
//! - BPDUs arrive as upcalls (the pipeline hands frames for the bridge
//!   group address over while [`Pipeline::stp`] is on) and leave straight
//!   through the port's sink, untouched by the flow tables, as OVS sends
//!   them.
//! - Each port's state reaches forwarding as its [`StpGate`] in the
//!   published port snapshot, so the hot path reads one more field it
//!   already has in cache. The gates are reconciled with the state machine
//!   after every call into it rather than only on state-change outputs,
//!   so that a port re-created by a reconfiguration (whose gate starts
//!   `Off`) is gated again at once.
//! - A port that stops learning forgets its addresses; a topology change
//!   shortens MAC aging to the forward delay (802.1D's short aging).
//! - Spanning tree runs on every port numbered 1 to 255 (tunnels and
//!   patch ports included) unless its `other_config:stp-enable` is
//!   false; never on LOCAL, which always forwards (as in OVS).
//! - The ports follow their link (`PortInfo::is_live`, kept by the `link`
//!   module) on every tick.
//!
//! [`Pipeline::stp`]: crate::pipeline::Pipeline::stp

use super::Bridge;
use crate::log_limit::LogLimiter;
use crate::pipeline::ports::StpGate;
use crate::stp::{BridgeConfig, Output, PortConfig, PortState, Stp};
use openflow::types::port_no;
use std::collections::{BTreeMap, HashMap};

/// Spanning tree's run-time state in a bridge.
pub(super) struct StpRt {
    stp: Stp,
    /// The settings each port was added with.
    ports: HashMap<u32, PortConfig>,
    /// Malformed BPDUs: one log line per interval.
    bad: LogLimiter,
}

fn gate(state: PortState) -> StpGate {
    match state {
        PortState::Forwarding => StpGate::Forward,
        PortState::Learning => StpGate::Learn,
        _ => StpGate::Discard,
    }
}

impl Bridge {
    /// The bridge's own spanning tree settings: its LOCAL port's address
    /// and the `stp-*` keys of its `other_config`.
    fn stp_bridge_config(&self) -> BridgeConfig {
        let mac = self
            .info
            .ports
            .get(&port_no::LOCAL)
            .map(|d| d.hw_addr.0)
            .unwrap_or_else(|| crate::config::model::default_bridge_mac(&self.name));
        BridgeConfig::from_other_config(mac, &self.cfg.other_config)
    }

    /// Starts, reconfigures or stops spanning tree as `stp_enable` says,
    /// and brings its ports in line with the bridge's. Called after every
    /// reconfiguration and tick.
    pub(super) fn stp_sync(&mut self) {
        let now = self.now();
        if !self.cfg.stp_enable {
            if self.stp.take().is_some() {
                tracing::info!("{}: spanning tree off", self.name);
                self.pipeline.set_stp(false);
                self.pipeline.mac_table.set_aging(None);
                self.stp_reconcile();
            }
            return;
        }
        let cfg = self.stp_bridge_config();
        let rt = self.stp.get_or_insert_with(|| {
            tracing::info!("{}: spanning tree on", self.name);
            StpRt {
                stp: Stp::new(cfg, now),
                ports: HashMap::new(),
                bad: LogLimiter::default(),
            }
        });
        self.pipeline.set_stp(true);
        if *rt.stp.config() != cfg {
            rt.stp.reconfigure(cfg, now);
        }
        // Ports wanted, with their settings, address and link.
        let mut wanted = BTreeMap::new();
        for (&n, info) in self.pipeline.ports.iter() {
            if !Stp::supports_port(n) {
                continue;
            }
            let pcfg = self
                .cfg
                .port_by_ofport(n)
                .map(|p| PortConfig::from_other_config(&p.other_config))
                .unwrap_or_default();
            if !pcfg.enabled {
                continue;
            }
            let mac = self
                .info
                .ports
                .get(&n)
                .map(|d| d.hw_addr.0)
                .unwrap_or([0; 6]);
            wanted.insert(n, (pcfg, mac, info.is_live()));
        }
        let gone: Vec<u32> = rt
            .ports
            .keys()
            .filter(|n| !wanted.contains_key(n))
            .copied()
            .collect();
        for n in gone {
            rt.stp.remove_port(n, now);
            rt.ports.remove(&n);
        }
        for (n, (pcfg, mac, up)) in wanted {
            match rt.ports.get(&n) {
                None => rt.stp.add_port(n, mac, pcfg, up, now),
                Some(old) => {
                    if *old != pcfg {
                        rt.stp.set_port_config(n, pcfg, now);
                    }
                    rt.stp.set_port_up(n, up, now);
                }
            }
            rt.ports.insert(n, pcfg);
        }
        self.stp_outputs();
    }

    /// Runs spanning tree's timers (every tick).
    pub(super) fn stp_tick(&mut self) {
        let now = self.now();
        if let Some(rt) = &mut self.stp {
            rt.stp.tick(now);
            self.stp_outputs();
        }
    }

    /// A frame for spanning tree received on `port`.
    pub(super) fn stp_bpdu(&mut self, port: u32, frame: &[u8]) {
        let now = self.now();
        let Some(rt) = &mut self.stp else {
            return;
        };
        if let Err(e) = rt.stp.receive(port, frame, now) {
            if let Some(suppressed) = rt.bad.allow() {
                tracing::warn!(
                    "{}: port {port}: dropped a BPDU: {e}{suppressed}",
                    self.name
                );
            }
        }
        self.stp_outputs();
    }

    /// Carries out what spanning tree asked for, then publishes the gates
    /// and the status.
    fn stp_outputs(&mut self) {
        let Some(rt) = &mut self.stp else {
            return;
        };
        for o in rt.stp.take_outputs() {
            match o {
                Output::Send { port, frame } => {
                    if let Some(sink) = self.sinks.get(&port) {
                        let _ = sink.send(frame, 0);
                    }
                }
                Output::State { port, state } => {
                    tracing::info!("{}: port {port}: STP state {}", self.name, state.as_str());
                    if !state.learns() {
                        self.pipeline.mac_table.forget_port(port);
                    }
                }
                Output::Aging(ms) => {
                    let ns = ms.map(|ms| u64::from(ms) * 1_000_000);
                    self.pipeline.mac_table.set_aging(ns);
                }
            }
        }
        self.stp_reconcile();
    }

    /// Sets every port's gate to what spanning tree says (`Off` for ports
    /// it does not run on) and refreshes the status `vsctl` reads.
    fn stp_reconcile(&mut self) {
        let now = self.now();
        let want = |n: u32| {
            self.stp
                .as_ref()
                .and_then(|rt| rt.stp.port_state(n))
                .map_or(StpGate::Off, gate)
        };
        let changed: Vec<_> = self
            .pipeline
            .ports
            .values()
            .filter(|p| p.stp != want(p.port_no))
            .map(|p| {
                let mut p = p.clone();
                p.stp = want(p.port_no);
                p
            })
            .collect();
        for p in changed {
            self.pipeline.set_port(p);
        }
        let (bridge, ports) = match &self.stp {
            None => (BTreeMap::new(), HashMap::new()),
            Some(rt) => {
                let ports = self
                    .ports
                    .iter()
                    .filter_map(|(&n, prt)| {
                        let st = rt.stp.port_status(n, now)?;
                        Some((prt.name.clone(), st.to_map()))
                    })
                    .collect();
                (rt.stp.bridge_status(), ports)
            }
        };
        if let Ok(mut s) = self.status.lock() {
            s.stp_bridge = bridge;
            s.stp_ports = ports;
        }
    }
}
