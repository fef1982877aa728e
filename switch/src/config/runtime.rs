//! What only the running daemon knows about the configured objects (link
//! state, addresses in use, counters, controller connections), behind a
//! trait so the vsctl verbs stay pure and testable: the daemon implements
//! [`RuntimeInfo`] over its datapath, tests and offline tools use
//! [`NoRuntime`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Live state of one interface.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceStatus {
    /// Link up (`true`) or down.
    pub link_up: Option<bool>,
    /// MAC address in use, `xx:xx:xx:xx:xx:xx`.
    pub mac_in_use: Option<String>,
    /// MTU in use.
    pub mtu: Option<u32>,
    /// Why the interface could not be set up, if it could not.
    pub error: Option<String>,
    /// Counters, named as OVS's `Interface.statistics` keys (`rx_packets`,
    /// `rx_bytes`, `rx_dropped`, `rx_errors`, `tx_packets`, ...).
    pub statistics: Option<BTreeMap<String, u64>>,
}

/// Live state of one controller (of all the connections of its target,
/// for a listener).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerStatus {
    pub is_connected: bool,
    /// OpenFlow role: `master`, `slave` or `equal` (`other` in OVS terms).
    pub role: Option<String>,
    /// The `Controller.status` column: packet-in counters of the current
    /// connections (`packet_in_sent`, `packet_in_rate_limited`,
    /// `packet_in_backlog_dropped`), as strings like OVS's status keys.
    #[serde(default)]
    pub status: BTreeMap<String, String>,
}

/// Queries answered by the running daemon; `None` when unknown.
pub trait RuntimeInfo {
    /// State of interface `iface` of bridge `bridge` (the bridge's own name
    /// for its LOCAL port).
    fn interface(&self, bridge: &str, iface: &str) -> Option<InterfaceStatus>;
    /// State of the connection to `target` of bridge `bridge`.
    fn controller(&self, bridge: &str, target: &str) -> Option<ControllerStatus>;
    /// Counters of bridge `bridge` as a whole (`packet_in_sent`,
    /// `packet_in_dropped`, ...).
    fn bridge_statistics(&self, _bridge: &str) -> Option<BTreeMap<String, u64>> {
        None
    }
    /// The `Bridge.status` column: spanning tree's view of the bridge
    /// (`stp_bridge_id`, `stp_designated_root`, `stp_root_path_cost`).
    fn bridge_status(&self, _bridge: &str) -> Option<BTreeMap<String, String>> {
        None
    }
    /// The `Port.status` column: spanning tree's view of port `port`
    /// (`stp_state`, `stp_role`, `stp_port_id`, ...).
    fn port_status(&self, _bridge: &str, _port: &str) -> Option<BTreeMap<String, String>> {
        None
    }
}

/// Knows nothing: for offline use and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRuntime;

impl RuntimeInfo for NoRuntime {
    fn interface(&self, _: &str, _: &str) -> Option<InterfaceStatus> {
        None
    }
    fn controller(&self, _: &str, _: &str) -> Option<ControllerStatus> {
        None
    }
}
