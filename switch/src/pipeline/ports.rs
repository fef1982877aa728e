//! What the pipeline knows about the switch's ports: numbers for validating
//! output actions, liveness for fast-failover groups, OpenFlow port config
//! bits, and the VLAN role NORMAL forwarding gives each port.

use openflow::port::config;
use std::collections::BTreeMap;

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

/// One port as the pipeline sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    pub port_no: u32,
    /// Link up and not administratively down.
    pub live: bool,
    /// `ofp_port_config` bits (NO_RECV, NO_FWD, NO_PACKET_IN, PORT_DOWN).
    pub config: u32,
    pub vlan: VlanMode,
}

impl PortInfo {
    pub fn new(port_no: u32) -> PortInfo {
        PortInfo {
            port_no,
            live: true,
            config: 0,
            vlan: VlanMode::default(),
        }
    }

    pub fn can_forward(&self) -> bool {
        self.config & (config::NO_FWD | config::PORT_DOWN) == 0
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
