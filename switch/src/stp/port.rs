//! What spanning tree says about one port: its state (what the data path
//! may do with frames there), its role (why), and its settings.

use std::collections::BTreeMap;

/// An 802.1D port state. The data path reads it through
/// [`crate::pipeline::ports::StpGate`]: only `Learning` and `Forwarding`
/// learn addresses, only `Forwarding` passes frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortState {
    Disabled,
    Blocking,
    Listening,
    Learning,
    Forwarding,
}

impl PortState {
    /// The name Open vSwitch's `stp_state` status key uses.
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Disabled => "disabled",
            PortState::Blocking => "blocking",
            PortState::Listening => "listening",
            PortState::Learning => "learning",
            PortState::Forwarding => "forwarding",
        }
    }

    pub fn learns(self) -> bool {
        matches!(self, PortState::Learning | PortState::Forwarding)
    }

    pub fn forwards(self) -> bool {
        self == PortState::Forwarding
    }
}

/// A port's role in the tree, as `stp_role` shows it (OVS names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Towards the root bridge.
    Root,
    /// Serves its segment.
    Designated,
    /// Neither: kept blocking so that the tree has no loop.
    Alternate,
    Disabled,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Designated => "designated",
            Role::Alternate => "alternate",
            Role::Disabled => "disabled",
        }
    }
}

/// Path cost of a port whose speed says nothing else: the 802.1D-1998
/// cost of 10 Gb/s, the speed every port of this switch reports.
pub const DEFAULT_PATH_COST: u32 = 2;
/// Default port priority (the high byte of the port id).
pub const DEFAULT_PORT_PRIORITY: u8 = 128;

/// A port's spanning tree settings, from `Port.other_config` keys named
/// as Open vSwitch names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// `stp-enable` (default true): false keeps the port out of spanning
    /// tree; it then forwards as without STP.
    pub enabled: bool,
    /// `stp-port-priority`, 0 to 255.
    pub priority: u8,
    /// `stp-path-cost`, 1 to 65535.
    pub path_cost: u32,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            enabled: true,
            priority: DEFAULT_PORT_PRIORITY,
            path_cost: DEFAULT_PATH_COST,
        }
    }
}

impl PortConfig {
    /// Reads the keys of a port's `other_config`; an unusable value keeps
    /// the default (vsctl validates them before they get here).
    pub fn from_other_config(m: &BTreeMap<String, String>) -> PortConfig {
        let d = PortConfig::default();
        PortConfig {
            enabled: m.get("stp-enable").map(String::as_str) != Some("false"),
            priority: m
                .get("stp-port-priority")
                .and_then(|v| v.parse().ok())
                .unwrap_or(d.priority),
            path_cost: m
                .get("stp-path-cost")
                .and_then(|v| v.parse::<u32>().ok())
                .filter(|c| (1..=65_535).contains(c))
                .unwrap_or(d.path_cost),
        }
    }
}

/// What `vsctl get port P status` shows for a port under spanning tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    pub port_id: u16,
    pub state: PortState,
    pub role: Role,
    /// Seconds since the state last changed.
    pub sec_in_state: u64,
    pub tx_count: u64,
    pub rx_count: u64,
    /// BPDUs received that could not be used (malformed, unsupported).
    pub error_count: u64,
}

impl PortStatus {
    /// As OVS's `Port.status` keys.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        [
            ("stp_port_id", format!("{:04x}", self.port_id)),
            ("stp_state", self.state.as_str().to_string()),
            ("stp_role", self.role.as_str().to_string()),
            ("stp_sec_in_state", self.sec_in_state.to_string()),
            ("stp_tx_count", self.tx_count.to_string()),
            ("stp_rx_count", self.rx_count.to_string()),
            ("stp_error_count", self.error_count.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_config_keys() {
        let m: BTreeMap<String, String> = [
            ("stp-port-priority", "16"),
            ("stp-path-cost", "100"),
            ("stp-enable", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let c = PortConfig::from_other_config(&m);
        assert_eq!(
            c,
            PortConfig {
                enabled: false,
                priority: 16,
                path_cost: 100
            }
        );
        let mut bad = m.clone();
        bad.insert("stp-path-cost".into(), "0".into());
        bad.insert("stp-port-priority".into(), "300".into());
        let c = PortConfig::from_other_config(&bad);
        assert_eq!((c.priority, c.path_cost), (128, 2));
    }
}
