//! A bridge under test: a [`Pipeline`] with numbered ports, flows, groups
//! and meters written in `ovs-ofctl` syntax, a clock, and helpers to send
//! real frames and read what comes out.

use ofswitch::pipeline::ports::{PortInfo, VlanMode};
use ofswitch::pipeline::{Event, MicroflowCache, Outcome, PacketMeta, Pipeline};
use openflow::group::command as group_mod_command;
use openflow::messages::{flow_mod_command, FlowMod, PacketIn};
use openflow::meter::command as meter_mod_command;
use openflow::ofctl::parse::{parse_flow_mod, parse_group_mod, parse_meter_mod};
use openflow::OfError;

/// One second of the pipeline's clock (nanoseconds).
pub const SEC: u64 = 1_000_000_000;

pub struct Bridge {
    pub p: Pipeline,
    /// The pipeline's clock, in ns; starts at 1 s.
    pub now: u64,
    /// FLOW_REMOVED and other events, in order.
    pub events: Vec<Event>,
    cache: MicroflowCache,
}

impl Bridge {
    /// A bridge with ports 1..=n, all up, trunking every VLAN.
    pub fn new(n: u32) -> Bridge {
        let mut p = Pipeline::new();
        for i in 1..=n {
            let mut info = PortInfo::new(i);
            info.created = SEC;
            p.set_port(info);
        }
        Bridge {
            p,
            now: SEC,
            events: Vec::new(),
            cache: MicroflowCache::default(),
        }
    }

    /// Sets a port's VLAN role for NORMAL.
    pub fn vlan(&mut self, port: u32, mode: VlanMode) {
        let mut info = self.p.port(port).cloned().unwrap_or(PortInfo::new(port));
        info.vlan = mode;
        self.p.set_port(info);
    }

    /// Changes a port (liveness, config bits).
    pub fn port(&mut self, port: u32, f: impl FnOnce(&mut PortInfo)) {
        let mut info = self.p.port(port).cloned().unwrap_or(PortInfo::new(port));
        f(&mut info);
        self.p.set_port(info);
    }

    /// Runs one flow_mod given in ovs-ofctl syntax (`command` from
    /// [`flow_mod_command`]).
    pub fn flow_mod(&mut self, command: u8, text: &str) -> Result<(), OfError> {
        self.raw_flow_mod(&parse_flow(command, text))
    }

    /// Runs a FLOW_MOD built by hand (for what ovs-ofctl refuses to send).
    pub fn raw_flow_mod(&mut self, fm: &FlowMod) -> Result<(), OfError> {
        let events = self.p.flow_mod(fm, self.now)?;
        self.events.extend(events);
        Ok(())
    }

    /// `add-flow`, expecting success.
    pub fn add(&mut self, text: &str) {
        if let Err(e) = self.flow_mod(flow_mod_command::ADD, text) {
            panic!("add-flow {text:?} failed: {:?}", e.name());
        }
    }

    pub fn try_add(&mut self, text: &str) -> Result<(), OfError> {
        self.flow_mod(flow_mod_command::ADD, text)
    }

    /// `add-group`, expecting success.
    pub fn group(&mut self, text: &str) {
        if let Err(e) = self.group_mod(group_mod_command::ADD, text) {
            panic!("add-group {text:?} failed: {:?}", e.name());
        }
    }

    pub fn group_mod(&mut self, command: u16, text: &str) -> Result<(), OfError> {
        let gm = parse_group_mod(text, command)
            .unwrap_or_else(|e| panic!("test group {text:?} does not parse: {}", e.message));
        let events = self.p.group_mod(&gm, self.now)?;
        self.events.extend(events);
        Ok(())
    }

    /// `add-meter`, expecting success.
    pub fn meter(&mut self, text: &str) {
        if let Err(e) = self.meter_mod(meter_mod_command::ADD, text) {
            panic!("add-meter {text:?} failed: {:?}", e.name());
        }
    }

    pub fn meter_mod(&mut self, command: u16, text: &str) -> Result<(), OfError> {
        let mm = parse_meter_mod(text, command)
            .unwrap_or_else(|e| panic!("test meter {text:?} does not parse: {}", e.message));
        let events = self.p.meter_mod(&mm, self.now)?;
        self.events.extend(events);
        Ok(())
    }

    /// Sends a frame in on `in_port` through the microflow cache (the path
    /// the datapath takes) and returns what came out.
    pub fn send(&mut self, in_port: u32, frame: &[u8]) -> Vec<Outcome> {
        self.send_meta(PacketMeta::port(in_port), frame)
    }

    pub fn send_meta(&mut self, meta: PacketMeta, frame: &[u8]) -> Vec<Outcome> {
        let mut out = Vec::new();
        self.p
            .process(&mut self.cache, frame.to_vec(), meta, self.now, &mut out);
        out
    }

    /// The ports a frame leaves by, in order.
    pub fn ports(&mut self, in_port: u32, frame: &[u8]) -> Vec<u32> {
        outputs(&self.send(in_port, frame))
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// Moves the clock on and expires flows; returns the new events.
    pub fn advance(&mut self, ns: u64) -> Vec<Event> {
        self.now += ns;
        let events = self.p.expire(self.now);
        self.events.extend(events.iter().cloned());
        events
    }
}

/// Parses a flow in ovs-ofctl syntax, panicking on a test typo.
pub fn parse_flow(command: u8, text: &str) -> FlowMod {
    parse_flow_mod(text, command)
        .unwrap_or_else(|e| panic!("test flow {text:?} does not parse: {}", e.message))
}

/// The (port, frame) outputs of an outcome list.
pub fn outputs(out: &[Outcome]) -> Vec<(u32, Vec<u8>)> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::Output { port, frame, .. } => Some((*port, frame.clone())),
            Outcome::PacketIn(_) | Outcome::Bpdu { .. } => None,
        })
        .collect()
}

/// The packet-ins of an outcome list.
pub fn packet_ins(out: &[Outcome]) -> Vec<PacketIn> {
    out.iter()
        .filter_map(|o| match o {
            Outcome::PacketIn(p) => Some(p.clone()),
            Outcome::Output { .. } | Outcome::Bpdu { .. } => None,
        })
        .collect()
}

/// The single output frame, failing with the whole outcome otherwise.
pub fn only_output(out: &[Outcome]) -> (u32, Vec<u8>) {
    let o = outputs(out);
    assert_eq!(o.len(), 1, "expected one output, got {out:?}");
    o.into_iter().next().expect("one output")
}

/// The error name for assertion messages.
pub fn err_name(r: Result<(), OfError>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(e) => e.name().unwrap_or("unknown error"),
    }
}
