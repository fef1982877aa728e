//! What the pipeline knows about the switch's ports: numbers for validating
//! output actions, liveness for fast-failover groups, OpenFlow port config
//! bits, the VLAN role and spanning tree state NORMAL forwarding gives each
//! port, and the port's packet counters.

use openflow::port::config;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// What the pipeline counts for a port. Shared by every pipeline version
/// (atomics), so counts survive table changes and port reconfiguration.
/// The datapath adds what only it can see (transmit failures, frames it
/// could not use or send) through [`PortCounters::tx_dropped`],
/// [`PortCounters::rx_errors`] and [`PortCounters::tx_errors`].
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// Received while the port has OFPPC_NO_RECV or is down, or lost in
    /// the kernel before the datapath could take them (socket buffer full).
    pub rx_dropped: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    pub tx_dropped: AtomicU64,
    /// Received frames the datapath could not use (runts, truncated).
    pub rx_errors: AtomicU64,
    /// Frames not sent because they were larger than the port's MTU.
    pub tx_errors: AtomicU64,
}

impl PortCounters {
    #[inline]
    pub fn rx(&self, bytes: usize) {
        self.rx_packets.fetch_add(1, Relaxed);
        self.rx_bytes.fetch_add(bytes as u64, Relaxed);
    }

    #[inline]
    pub fn tx(&self, bytes: usize) {
        self.tx_packets.fetch_add(1, Relaxed);
        self.tx_bytes.fetch_add(bytes as u64, Relaxed);
    }
}

/// A port's VLAN role for the NORMAL action, as Open vSwitch's `tag` and
/// `trunks` columns define it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum VlanMode {
    /// Carries every VLAN tagged, and untagged traffic as VLAN 0; `None`
    /// trunks all VLANs, `Some(list)` only those.
    #[default]
    TrunkAll,
    Trunks(Vec<u16>),
    /// Untagged on the wire, member of this VLAN inside the bridge.
    Access(u16),
}

impl VlanMode {
    /// Whether the port carries VLAN `vid` (0 = untagged native traffic).
    pub fn carries(&self, vid: u16) -> bool {
        match self {
            VlanMode::TrunkAll => true,
            VlanMode::Trunks(list) => vid == 0 || list.contains(&vid),
            VlanMode::Access(tag) => *tag == vid,
        }
    }
}

/// What spanning tree lets NORMAL do on a port: published with the port
/// so that forwarding reads it with the rest of the port, without asking
/// the control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StpGate {
    /// Spanning tree does not run on the port: it learns and forwards.
    #[default]
    Off,
    /// Disabled, blocking or listening: no learning, no forwarding.
    Discard,
    /// Learning: addresses are learned, frames are not forwarded.
    Learn,
    /// Forwarding.
    Forward,
}

impl StpGate {
    pub fn learns(self) -> bool {
        self != StpGate::Discard
    }

    pub fn forwards(self) -> bool {
        matches!(self, StpGate::Off | StpGate::Forward)
    }
}

/// One port as the pipeline sees it.
#[derive(Clone, Debug)]
pub struct PortInfo {
    pub port_no: u32,
    /// Link up and not administratively down.
    pub live: bool,
    /// `ofp_port_config` bits (NO_RECV, NO_FWD, NO_PACKET_IN, PORT_DOWN).
    pub config: u32,
    pub vlan: VlanMode,
    /// Spanning tree's verdict for NORMAL.
    pub stp: StpGate,
    /// When the port was added (ns, the pipeline's clock), for the
    /// duration in port statistics.
    pub created: u64,
    pub counters: Arc<PortCounters>,
}

/// Two `PortInfo`s are equal when they configure the port alike; the
/// counters are not configuration.
impl PartialEq for PortInfo {
    fn eq(&self, other: &Self) -> bool {
        (self.port_no, self.live, self.config, &self.vlan, self.stp)
            == (
                other.port_no,
                other.live,
                other.config,
                &other.vlan,
                other.stp,
            )
    }
}

impl Eq for PortInfo {}

impl PortInfo {
    pub fn new(port_no: u32) -> PortInfo {
        PortInfo {
            port_no,
            live: true,
            config: 0,
            vlan: VlanMode::default(),
            stp: StpGate::Off,
            created: 0,
            counters: Arc::default(),
        }
    }

    /// Whether frames may leave by the port: not OFPPC_NO_FWD, not down,
    /// and forwarding if spanning tree runs on it (Open vSwitch drops
    /// every output to a port spanning tree does not let forward).
    pub fn can_forward(&self) -> bool {
        self.config & (config::NO_FWD | config::PORT_DOWN) == 0 && self.stp.forwards()
    }

    pub fn can_receive(&self) -> bool {
        self.config & (config::NO_RECV | config::PORT_DOWN) == 0
    }

    pub fn is_live(&self) -> bool {
        self.live && self.config & config::PORT_DOWN == 0
    }
}

/// The port set, ordered by number (FLOOD and ALL output in that order).
pub type Ports = BTreeMap<u32, PortInfo>;
