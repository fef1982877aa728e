//! [`Pipeline`]: the whole forwarding state of one bridge (flow tables,
//! groups, meters, ports), and [`Event`]s it reports to the control plane.
//!
//! A `Pipeline` value is cheap to clone: tables, groups and meters sit
//! behind `Arc`s and a change copies only what it touches. The control
//! plane keeps one mutable `Pipeline`, applies FLOW_MODs and friends to it,
//! and publishes clones as immutable snapshots ([`super::snapshot`]) that
//! forwarding threads read without locks. Counters are atomics shared by
//! every version, and so is the bookkeeping only the control copy uses
//! (`ControlOnly`: the expiry queue and the instruction interner).

use super::expiry::ExpiryQueue;
use super::group::GroupTable;
use super::interner::InstructionInterner;
use super::meter::MeterTable;
use super::normal::MacTable;
use super::ports::{PortInfo, Ports};
use super::table::{FlowTable, N_TABLES};
use openflow::messages::FlowRemoved;
use std::sync::{Arc, Mutex, MutexGuard};

/// Something the pipeline tells the control plane.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A flow entry with OFPFF_SEND_FLOW_REM was removed.
    FlowRemoved(FlowRemoved),
}

/// The forwarding state of one bridge.
#[derive(Clone, Debug)]
pub struct Pipeline {
    pub tables: Vec<Arc<FlowTable>>,
    pub groups: Arc<GroupTable>,
    pub meters: Arc<MeterTable>,
    pub ports: Arc<Ports>,
    /// MAC learning state of the NORMAL action (shared by all versions).
    pub mac_table: Arc<MacTable>,
    /// Bytes of a table-miss packet sent to the controller (SET_CONFIG).
    pub miss_send_len: u16,
    /// OFPC_INVALID_TTL_TO_CONTROLLER (SET_CONFIG): packets whose TTL
    /// cannot be decremented go to the controller instead of being dropped.
    pub invalid_ttl_to_controller: bool,
    /// Standalone fail mode with the controllers gone: every packet is
    /// forwarded by NORMAL, whatever the flow tables say (the tables are
    /// kept for when a controller comes back).
    pub fail_open: bool,
    /// Spanning tree runs on the bridge: frames to the bridge group
    /// address are handed to it ([`super::Outcome::Bpdu`]) before any
    /// table sees them, as Open vSwitch's `process_special` does.
    pub stp: bool,
    /// Bumped on every change; caches keyed on an older value are stale.
    pub generation: u64,
    /// Shared by every version rather than copied into each snapshot:
    /// only the control copy, the one that applies changes and expires
    /// flows, reads or changes it.
    control: Arc<Mutex<ControlOnly>>,
}

/// What the control plane keeps beside the tables and snapshots never read.
#[derive(Debug, Default)]
pub(crate) struct ControlOnly {
    /// The entries with timeouts, by deadline.
    pub expiry: ExpiryQueue,
    /// Instruction lists shared between entries.
    pub instructions: InstructionInterner,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    pub fn new() -> Pipeline {
        Pipeline {
            tables: (0..N_TABLES)
                .map(|i| Arc::new(FlowTable::new(i as u8)))
                .collect(),
            groups: Arc::default(),
            meters: Arc::default(),
            ports: Arc::default(),
            mac_table: Arc::default(),
            miss_send_len: 128,
            invalid_ttl_to_controller: false,
            fail_open: false,
            stp: false,
            generation: 0,
            control: Arc::default(),
        }
    }

    /// The control plane's bookkeeping (a poisoned lock is still usable:
    /// neither part holds an invariant a panic could break beyond a stale
    /// item).
    pub(crate) fn control(&self) -> MutexGuard<'_, ControlOnly> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn table(&self, id: u8) -> Option<&FlowTable> {
        self.tables.get(usize::from(id)).map(|t| &**t)
    }

    pub(crate) fn table_mut(&mut self, id: u8) -> Option<&mut FlowTable> {
        self.tables.get_mut(usize::from(id)).map(Arc::make_mut)
    }

    /// Number of flow entries in all tables.
    pub fn flow_count(&self) -> usize {
        self.tables.iter().map(|t| t.len()).sum()
    }

    /// Adds or replaces a port. A replaced port keeps its counters and
    /// creation time.
    pub fn set_port(&mut self, mut p: PortInfo) {
        if let Some(old) = self.ports.get(&p.port_no) {
            p.counters = old.counters.clone();
            p.created = old.created;
        }
        Arc::make_mut(&mut self.ports).insert(p.port_no, p);
        self.generation += 1;
    }

    /// Removes a port; NORMAL forgets what it learned there.
    pub fn remove_port(&mut self, port_no: u32) {
        Arc::make_mut(&mut self.ports).remove(&port_no);
        self.mac_table.forget_port(port_no);
        self.generation += 1;
    }

    /// Enters or leaves fail-open forwarding (see [`Pipeline::fail_open`]).
    pub fn set_fail_open(&mut self, on: bool) {
        if self.fail_open != on {
            self.fail_open = on;
            self.generation += 1;
        }
    }

    /// Turns the hand-off of BPDUs to spanning tree on or off.
    pub fn set_stp(&mut self, on: bool) {
        if self.stp != on {
            self.stp = on;
            self.generation += 1;
        }
    }

    pub fn port(&self, port_no: u32) -> Option<&PortInfo> {
        self.ports.get(&port_no)
    }
}
