//! The configuration model: bridges, their ports and interfaces, their
//! controllers, as plain serde types.
//!
//! This is what `ofswitch vsctl` edits and what the daemon persists and
//! applies. It mirrors the subset of Open vSwitch's database (`Bridge`,
//! `Port`, `Interface` tables) the switch implements, flattened because a
//! port here has exactly one interface (no bonds).
//!
//! Decisions, following OVS where it has an answer:
//!
//! - Every bridge has an implicit LOCAL port named like the bridge, of type
//!   `internal`, OpenFlow number [`OFPP_LOCAL`]. It is not stored in
//!   [`Bridge::ports`]; its name is reserved like any port name.
//! - A port name is unique across all bridges (a port belongs to one bridge).
//! - Port numbers (`ofport`) are assigned when a transaction commits
//!   ([`Bridge::assign_ofports`]): `ofport_request` is honoured, otherwise the
//!   lowest free number ≥ 1. Once assigned, a number is stored and never
//!   changes on its own, so it survives restarts and other ports' churn.
//! - `fail_mode` unset behaves as `standalone`, as ovs-vswitchd does; `get`
//!   distinguishes unset from an explicit value.
//! - The datapath id defaults to a value derived from the bridge name: a
//!   locally administered MAC address ([`default_bridge_mac`]) in the low 48
//!   bits, as OVS derives it from the bridge's MAC. `other_config:datapath-id`
//!   (16 hex digits) overrides it.
//! - Tunnel `remote_ip` must be an IP literal (no `flow`); `key` may be a
//!   number or `flow`.
//! - Controllers are their target strings ([`Bridge::controllers`]); the
//!   few columns of OVS's `Controller` table the switch implements
//!   (`controller_rate_limit`, `controller_burst_limit`) are kept beside
//!   them by target ([`Bridge::controller_settings`]). As in OVS, where
//!   `set-controller` makes new `Controller` rows, setting the targets
//!   again forgets those settings.

use crate::pipeline::ports::VlanMode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// OpenFlow 1.3 number of a bridge's LOCAL port.
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
/// Highest number a port may be given (as in OVS: `1..=0xfeff`).
pub const OFPORT_MAX: u32 = 0xfeff;
/// Longest port or bridge name (Linux `IFNAMSIZ - 1`, and what fits an
/// OpenFlow port description).
pub const MAX_NAME_LEN: usize = 15;

/// A configuration problem, as one line naming it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub bridges: BTreeMap<String, Bridge>,
    /// Key, certificate and CA certificate for `ssl:` and `pssl:`
    /// OpenFlow targets (`vsctl set-ssl`), as Open vSwitch's SSL table.
    /// Absent from files written before TLS support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<SslConfig>,
}

/// The files of the switch's TLS identity, in PEM, as absolute paths. They
/// are read when a TLS connection is made (not when set), so replacing a
/// file takes effect at the next connection, as in Open vSwitch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SslConfig {
    /// The switch's private key.
    pub private_key: PathBuf,
    /// The switch's certificate (chain), presented to controllers and to
    /// `pssl:` clients.
    pub certificate: PathBuf,
    /// The CA certificate(s) that peers' certificates must be signed by.
    pub ca_cert: PathBuf,
}

/// What a port name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRef<'a> {
    /// The implicit LOCAL port of this bridge.
    Local(&'a Bridge),
    /// A configured port of a bridge.
    Port(&'a Bridge, &'a Port),
}

impl<'a> PortRef<'a> {
    pub fn bridge(&self) -> &'a Bridge {
        match self {
            PortRef::Local(b) | PortRef::Port(b, _) => b,
        }
    }
}

impl Config {
    /// The bridge owning port `name`, its LOCAL port included.
    pub fn find_port(&self, name: &str) -> Option<PortRef<'_>> {
        if let Some(b) = self.bridges.get(name) {
            return Some(PortRef::Local(b));
        }
        self.bridges
            .values()
            .find_map(|b| b.ports.get(name).map(|p| PortRef::Port(b, p)))
    }

    /// Name of the bridge owning configured port `name` (not LOCAL ports).
    pub fn port_bridge(&self, name: &str) -> Option<&str> {
        self.bridges
            .values()
            .find(|b| b.ports.contains_key(name))
            .map(|b| b.name.as_str())
    }

    /// A configured port, mutable.
    pub fn port_mut(&mut self, name: &str) -> Option<&mut Port> {
        self.bridges
            .values_mut()
            .find_map(|b| b.ports.get_mut(name))
    }

    /// Gives every port without a number one (see [`Bridge::assign_ofports`]).
    pub fn assign_ofports(&mut self) -> Result<(), ConfigError> {
        self.bridges
            .values_mut()
            .try_for_each(Bridge::assign_ofports)
    }

    /// Checks everything: names, uniqueness, ranges, interface options.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
        for (key, b) in &self.bridges {
            if *key != b.name {
                return err(format!("bridge {} is stored under the name {key}", b.name));
            }
            owners.insert(&b.name, &b.name);
        }
        for b in self.bridges.values() {
            b.validate()?;
            for p in b.ports.values() {
                if let Some(other) = owners.insert(&p.name, &b.name) {
                    return if self.bridges.contains_key(&p.name) {
                        err(format!(
                            "port {} of bridge {} has the name of bridge {}",
                            p.name, b.name, p.name
                        ))
                    } else {
                        err(format!(
                            "port {} is on both bridge {other} and bridge {}",
                            p.name, b.name
                        ))
                    };
                }
            }
        }
        Ok(())
    }
}

/// OpenFlow fail mode: what the bridge does without a controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Flows are left alone; no controller means no new flows.
    Secure,
    /// Acts as a learning switch while no controller is connected.
    Standalone,
}

impl FailMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Secure => "secure",
            FailMode::Standalone => "standalone",
        }
    }
}

impl FromStr for FailMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<FailMode, ConfigError> {
        match s {
            "secure" => Ok(FailMode::Secure),
            "standalone" => Ok(FailMode::Standalone),
            _ => err("fail-mode must be \"standalone\" or \"secure\""),
        }
    }
}

/// One bridge: an OpenFlow switch instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bridge {
    pub name: String,
    /// The OpenFlow datapath id; see [`default_datapath_id`].
    pub datapath_id: u64,
    /// Unset means standalone ([`Bridge::effective_fail_mode`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_mode: Option<FailMode>,
    /// Controller targets, validated by [`validate_controller_target`].
    #[serde(default)]
    pub controllers: Vec<String>,
    #[serde(default)]
    pub ports: BTreeMap<String, Port>,
    /// Free-form settings; `datapath-id` is interpreted.
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    /// Requested MTU of the LOCAL port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_mtu_request: Option<u32>,
    /// Settings of some of the `controllers`, by target; a target without
    /// an entry has the defaults. Absent from files written before
    /// controllers had settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub controller_settings: BTreeMap<String, ControllerSettings>,
    /// 802.1D spanning tree on the bridge's ports (`stp_enable`); tuned by
    /// the `stp-*` keys of `other_config` here and on ports.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stp_enable: bool,
    /// OpenFlow versions the bridge may speak (`protocols`, as OVS's
    /// column; empty: the default). Only OpenFlow 1.3 is spoken, so a set
    /// must name it ([`PROTOCOLS`]); kept because scripts written for OVS
    /// set it (`set bridge br0 protocols=OpenFlow13`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub protocols: Vec<String>,
    /// `datapath_type`, as OVS's column: `netdev` (OVS's userspace
    /// datapath, which this switch stands in for), `system` or empty.
    /// There is one datapath here; kept for scripts written for OVS.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub datapath_type: String,
    /// For the user and the tools above the switch, as OVS's Bridge
    /// `external_ids` (`br-set-external-id`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
}

/// The values OVS's `protocols` column takes.
pub const PROTOCOLS: &[&str] = &[
    "OpenFlow10",
    "OpenFlow11",
    "OpenFlow12",
    "OpenFlow13",
    "OpenFlow14",
    "OpenFlow15",
];

/// The values OVS's `datapath_type` column takes that mean something here
/// (one datapath either way).
pub const DATAPATH_TYPES: &[&str] = &["", "system", "netdev"];

/// The settings of one controller, as the columns of Open vSwitch's
/// `Controller` table of the same names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerSettings {
    /// Packet-ins per second the switch sends this controller at most
    /// (at least [`MIN_CONTROLLER_RATE_LIMIT`]); unset: no limit, as in
    /// OVS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_rate_limit: Option<u32>,
    /// Packet-ins that may go above the rate in a burst (at least
    /// [`MIN_CONTROLLER_BURST_LIMIT`]); unset: a quarter of the rate, as
    /// in OVS. Without a rate it has no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_burst_limit: Option<u32>,
}

/// Smallest `controller_rate_limit` (OVS's schema minimum).
pub const MIN_CONTROLLER_RATE_LIMIT: u32 = 100;
/// Smallest `controller_burst_limit` (OVS's schema minimum).
pub const MIN_CONTROLLER_BURST_LIMIT: u32 = 25;

impl ControllerSettings {
    /// The packet-in limit these settings ask for: `(rate, burst)` in
    /// packets per second and packets, or `None` for no limit.
    pub fn packet_in_limit(&self) -> Option<(u32, u32)> {
        let rate = self.controller_rate_limit?;
        let burst = self.controller_burst_limit.unwrap_or(rate / 4).max(1);
        Some((rate, burst))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(n) = self.controller_rate_limit {
            check_controller_rate_limit(u64::from(n))?;
        }
        if let Some(n) = self.controller_burst_limit {
            check_controller_burst_limit(u64::from(n))?;
        }
        Ok(())
    }
}

/// Checks a `controller_rate_limit` (100 and up).
pub fn check_controller_rate_limit(n: u64) -> Result<u32, ConfigError> {
    check_at_least("controller_rate_limit", n, MIN_CONTROLLER_RATE_LIMIT)
}

/// Checks a `controller_burst_limit` (25 and up).
pub fn check_controller_burst_limit(n: u64) -> Result<u32, ConfigError> {
    check_at_least("controller_burst_limit", n, MIN_CONTROLLER_BURST_LIMIT)
}

/// `n` as a u32 no smaller than `min`, or an error naming `key`.
fn check_at_least(key: &str, n: u64, min: u32) -> Result<u32, ConfigError> {
    match u32::try_from(n) {
        Ok(v) if v >= min => Ok(v),
        _ => err(format!(
            "{key}: constraint violation: {n} is not in the valid range {min} to {} (inclusive)",
            u32::MAX
        )),
    }
}

impl Bridge {
    /// A new bridge without ports, with the default datapath id.
    pub fn new(name: &str) -> Bridge {
        Bridge {
            name: name.to_string(),
            datapath_id: default_datapath_id(name),
            fail_mode: None,
            controllers: Vec::new(),
            ports: BTreeMap::new(),
            other_config: BTreeMap::new(),
            local_mtu_request: None,
            controller_settings: BTreeMap::new(),
            stp_enable: false,
            protocols: Vec::new(),
            datapath_type: String::new(),
            external_ids: BTreeMap::new(),
        }
    }

    pub fn effective_fail_mode(&self) -> FailMode {
        self.fail_mode.unwrap_or(FailMode::Standalone)
    }

    /// The configured port numbered `ofport`.
    pub fn port_by_ofport(&self, ofport: u32) -> Option<&Port> {
        self.ports.values().find(|p| p.ofport == ofport)
    }

    /// Re-derives `datapath_id` from `other_config:datapath-id`, or from the
    /// name when that key is absent.
    pub fn sync_datapath_id(&mut self) -> Result<(), ConfigError> {
        self.datapath_id = match self.other_config.get("datapath-id") {
            Some(hex) => parse_datapath_id(hex)?,
            None => default_datapath_id(&self.name),
        };
        Ok(())
    }

    /// Numbers the ports: `ofport_request` first (two ports requesting the
    /// same number, or a request colliding with another port's number, is
    /// an error: numbers never move silently), then every port still
    /// without a number (0) gets the lowest free number ≥ 1. Ports that
    /// already have a number and no request keep it.
    pub fn assign_ofports(&mut self) -> Result<(), ConfigError> {
        let mut requested: BTreeMap<u32, &str> = BTreeMap::new();
        for p in self.ports.values() {
            if let Some(r) = p.interface.ofport_request {
                check_ofport_range(r)?;
                if let Some(other) = requested.insert(r, &p.name) {
                    return err(format!(
                        "interfaces {other} and {} of bridge {} both request ofport {r}",
                        p.name, self.name
                    ));
                }
            }
        }
        for p in self.ports.values() {
            if p.interface.ofport_request.is_none() && p.ofport != 0 {
                if let Some(claimer) = requested.get(&p.ofport) {
                    return err(format!(
                        "ofport_request {} of interface {claimer} is in use by interface {} of bridge {}",
                        p.ofport, p.name, self.name
                    ));
                }
            }
        }
        let mut used: BTreeSet<u32> = BTreeSet::new();
        for p in self.ports.values_mut() {
            if let Some(r) = p.interface.ofport_request {
                p.ofport = r;
            }
            if p.ofport != 0 {
                used.insert(p.ofport);
            }
        }
        let mut next = 1;
        for p in self.ports.values_mut().filter(|p| p.ofport == 0) {
            while used.contains(&next) {
                next += 1;
            }
            if next > OFPORT_MAX {
                return err(format!("bridge {} has no free port number", self.name));
            }
            p.ofport = next;
            used.insert(next);
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        validate_name("bridge", &self.name)?;
        for target in &self.controllers {
            validate_controller_target(target)?;
        }
        if let Some(bad) = self
            .protocols
            .iter()
            .find(|p| !PROTOCOLS.contains(&p.as_str()))
        {
            return err(format!(
                "bridge {}: unknown protocol \"{bad}\" (known: {})",
                self.name,
                PROTOCOLS.join(", ")
            ));
        }
        if !self.protocols.is_empty() && !self.protocols.iter().any(|p| p == "OpenFlow13") {
            return err(format!(
                "bridge {}: protocols {} leave out OpenFlow13, the only version this switch speaks",
                self.name,
                self.protocols.join(",")
            ));
        }
        if !DATAPATH_TYPES.contains(&self.datapath_type.as_str()) {
            return err(format!(
                "bridge {}: unknown datapath_type \"{}\" (netdev or system; there is one datapath)",
                self.name, self.datapath_type
            ));
        }
        for (target, settings) in &self.controller_settings {
            if !self.controllers.contains(target) {
                return err(format!(
                    "bridge {}: settings for controller {target}, which is not one of its controllers",
                    self.name
                ));
            }
            settings
                .validate()
                .map_err(|e| ConfigError(format!("controller {target}: {e}")))?;
        }
        if let Some(hex) = self.other_config.get("datapath-id") {
            if parse_datapath_id(hex)? != self.datapath_id {
                return err(format!(
                    "bridge {}: datapath_id {:016x} differs from other_config:datapath-id {hex}",
                    self.name, self.datapath_id
                ));
            }
        }
        if let Some(mtu) = self.local_mtu_request {
            check_mtu(mtu)?;
        }
        let mut numbers: BTreeMap<u32, &str> = BTreeMap::new();
        for (key, p) in &self.ports {
            if *key != p.name {
                return err(format!("port {} is stored under the name {key}", p.name));
            }
            p.validate()
                .map_err(|e| ConfigError(format!("port {}: {e}", p.name)))?;
            if p.ofport == 0 {
                return err(format!("port {} has no ofport", p.name));
            }
            check_ofport_range(p.ofport)?;
            if let Some(other) = numbers.insert(p.ofport, &p.name) {
                return err(format!(
                    "ports {other} and {} of bridge {} both have ofport {}",
                    p.name, self.name, p.ofport
                ));
            }
        }
        Ok(())
    }
}

/// A port's VLAN mode, as OVS's `Port.vlan_mode` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortVlanMode {
    Access,
    Trunk,
    NativeTagged,
    NativeUntagged,
}

impl PortVlanMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PortVlanMode::Access => "access",
            PortVlanMode::Trunk => "trunk",
            PortVlanMode::NativeTagged => "native-tagged",
            PortVlanMode::NativeUntagged => "native-untagged",
        }
    }
}

impl FromStr for PortVlanMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<PortVlanMode, ConfigError> {
        match s {
            "access" => Ok(PortVlanMode::Access),
            "trunk" => Ok(PortVlanMode::Trunk),
            "native-tagged" => Ok(PortVlanMode::NativeTagged),
            "native-untagged" => Ok(PortVlanMode::NativeUntagged),
            _ => err(format!(
                "constraint violation: {s} is not one of the allowed values \
                 ([access, native-tagged, native-untagged, trunk])"
            )),
        }
    }
}

/// One port of a bridge, with its single interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    pub name: String,
    /// OpenFlow port number; 0 only inside a transaction, before
    /// [`Bridge::assign_ofports`].
    pub ofport: u32,
    /// Access VLAN (1..=4095).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<u16>,
    /// Trunked VLANs (1..=4095), sorted, no duplicates; empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trunks: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_mode: Option<PortVlanMode>,
    pub interface: Interface,
    /// Network namespace the interface is moved into (ovs-docker-like
    /// attachment; see `add-netns-port`). Only for `system` interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Free-form settings. Before `external_ids`, `add-netns-port`
    /// recorded `ip_address`, `mac_address`, `gateway` and `ifname` here;
    /// they are still read from here when `external_ids` lacks them.
    #[serde(default)]
    pub other_config: BTreeMap<String, String>,
    /// For the user and the tools above the switch, as OVS's Port
    /// `external_ids`. Versions before the Interface had its own held
    /// `add-netns-port`'s attachment here; it is still read from here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
}

/// How a namespace port's interface is set up inside its namespace, from
/// the port's `external_ids` (or, for a configuration written before them,
/// its `other_config`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetnsAttachment {
    /// The interface's name in the namespace (default `eth0`).
    pub ifname: String,
    pub ip_address: Option<String>,
    pub mac_address: Option<String>,
    pub gateway: Option<String>,
}

impl Port {
    /// A new port with a `system` interface and no number yet.
    pub fn new(name: &str) -> Port {
        Port {
            name: name.to_string(),
            ofport: 0,
            tag: None,
            trunks: Vec::new(),
            vlan_mode: None,
            interface: Interface::default(),
            netns: None,
            other_config: BTreeMap::new(),
            external_ids: BTreeMap::new(),
        }
    }

    /// The namespace attachment recorded by `add-netns-port`: the
    /// interface's `external_ids` first, then where older versions wrote
    /// it (the port's `external_ids`, then its `other_config`, with
    /// `ifname` for `container_iface`).
    pub fn netns_attachment(&self) -> NetnsAttachment {
        let get = |ext: &str, old: &str| {
            self.interface
                .external_ids
                .get(ext)
                .or_else(|| self.external_ids.get(ext))
                .or_else(|| self.other_config.get(old))
                .cloned()
        };
        NetnsAttachment {
            ifname: get("container_iface", "ifname").unwrap_or_else(|| "eth0".into()),
            ip_address: get("ip_address", "ip_address"),
            mac_address: get("mac_address", "mac_address"),
            gateway: get("gateway", "gateway"),
        }
    }

    /// The VLAN mode in effect: explicit, else as OVS derives it (a tag
    /// makes an access port, or native-tagged with trunks; otherwise trunk).
    pub fn effective_vlan_mode(&self) -> PortVlanMode {
        match (self.vlan_mode, self.tag) {
            (Some(m), _) => m,
            (None, Some(_)) if !self.trunks.is_empty() => PortVlanMode::NativeTagged,
            (None, Some(_)) => PortVlanMode::Access,
            (None, None) => PortVlanMode::Trunk,
        }
    }

    /// The pipeline's view of the port's VLAN role.
    ///
    /// The pipeline has no native VLAN: native-tagged and native-untagged
    /// ports map to trunks whose list also holds the native VLAN (untagged
    /// frames stay VLAN 0 inside the bridge). An access port without a tag
    /// carries only untagged traffic (`Access(0)`).
    pub fn pipeline_vlan_mode(&self) -> VlanMode {
        match self.effective_vlan_mode() {
            PortVlanMode::Access => VlanMode::Access(self.tag.unwrap_or(0)),
            PortVlanMode::Trunk => trunks_mode(&self.trunks, None),
            PortVlanMode::NativeTagged | PortVlanMode::NativeUntagged => {
                trunks_mode(&self.trunks, self.tag)
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        validate_name("port", &self.name)?;
        if let Some(tag) = self.tag {
            check_vlan(u64::from(tag))?;
        }
        for &vid in &self.trunks {
            check_vlan(u64::from(vid))?;
        }
        if self.vlan_mode == Some(PortVlanMode::Access) && !self.trunks.is_empty() {
            return err("vlan_mode access does not allow trunks");
        }
        if let Some(ns) = &self.netns {
            if self.interface.kind != InterfaceType::System {
                return err("only a system interface can be put in a network namespace");
            }
            validate_netns(ns)?;
        }
        self.interface.validate(&self.name)
    }
}

fn trunks_mode(trunks: &[u16], native: Option<u16>) -> VlanMode {
    if trunks.is_empty() {
        return VlanMode::TrunkAll;
    }
    let mut list = trunks.to_vec();
    list.extend(native);
    list.sort_unstable();
    list.dedup();
    VlanMode::Trunks(list)
}

/// Kind of an interface, as OVS's `Interface.type` column (`""` = system).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InterfaceType {
    /// An existing network device of the host.
    #[default]
    System,
    /// A device the switch creates (a tap), like the LOCAL port.
    Internal,
    /// Connects two bridges; needs `options:peer`.
    Patch,
    /// VXLAN tunnel; needs `options:remote_ip`.
    Vxlan,
    /// GRE tunnel; needs `options:remote_ip`.
    Gre,
    /// No device: for tests feeding the pipeline directly.
    Dummy,
}

impl InterfaceType {
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceType::System => "system",
            InterfaceType::Internal => "internal",
            InterfaceType::Patch => "patch",
            InterfaceType::Vxlan => "vxlan",
            InterfaceType::Gre => "gre",
            InterfaceType::Dummy => "dummy",
        }
    }

    /// The options this type accepts (`None`: any).
    fn known_options(self) -> Option<&'static [&'static str]> {
        const TUNNEL: &[&str] = &[
            "remote_ip",
            "local_ip",
            "key",
            "in_key",
            "out_key",
            "dst_port",
            "tos",
            "ttl",
            "df_default",
            "csum",
        ];
        match self {
            // backend=native|pnet: how a system port reaches its interface.
            InterfaceType::System => Some(&["backend"]),
            InterfaceType::Internal => Some(&[]),
            InterfaceType::Patch => Some(&["peer"]),
            InterfaceType::Vxlan | InterfaceType::Gre => Some(TUNNEL),
            InterfaceType::Dummy => None,
        }
    }
}

impl fmt::Display for InterfaceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InterfaceType {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<InterfaceType, ConfigError> {
        Ok(match s {
            "" | "system" => InterfaceType::System,
            "internal" => InterfaceType::Internal,
            "patch" => InterfaceType::Patch,
            "vxlan" => InterfaceType::Vxlan,
            "gre" => InterfaceType::Gre,
            "dummy" => InterfaceType::Dummy,
            _ => {
                return err(format!(
                    "unsupported interface type \"{s}\" (supported: system, internal, patch, vxlan, gre, dummy)"
                ))
            }
        })
    }
}

/// The interface of a port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    #[serde(rename = "type", default)]
    pub kind: InterfaceType,
    /// Type-specific settings: `peer` (patch); `remote_ip`, `local_ip`,
    /// `key`, `dst_port`... (tunnels).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_request: Option<u32>,
    /// Requested MAC address (lower-case `xx:xx:xx:xx:xx:xx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Requested OpenFlow port number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ofport_request: Option<u32>,
    /// For the user and the tools above the switch, as OVS's Interface
    /// `external_ids`; `add-netns-port` records the attachment here, where
    /// `ovs-docker` does (and where it looks for it with `find interface
    /// external_ids:container_id=...`): `container_id` (the namespace),
    /// `container_iface`, `ip_address`, `mac_address` and `gateway`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub external_ids: BTreeMap<String, String>,
}

impl Interface {
    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        if let Some(known) = self.kind.known_options() {
            if let Some(bad) = self.options.keys().find(|k| !known.contains(&k.as_str())) {
                return if known.is_empty() {
                    err(format!(
                        "interface type {} takes no options (got options:{bad})",
                        self.kind
                    ))
                } else {
                    err(format!(
                        "unknown option \"{bad}\" for interface type {} (known: {})",
                        self.kind,
                        known.join(", ")
                    ))
                };
            }
        }
        match self.kind {
            InterfaceType::Patch => match self.options.get("peer") {
                None => return err("a patch interface needs options:peer"),
                Some(p) if p == name => return err("a patch interface cannot be its own peer"),
                Some(p) => validate_name("peer", p)?,
            },
            InterfaceType::Vxlan | InterfaceType::Gre => self.validate_tunnel()?,
            InterfaceType::System => match self.options.get("backend").map(String::as_str) {
                None | Some("native") | Some("pnet") => {}
                Some(other) => {
                    return err(format!(
                        "options:backend must be native or pnet, not \"{other}\""
                    ))
                }
            },
            _ => {}
        }
        if let Some(mtu) = self.mtu_request {
            check_mtu(mtu)?;
        }
        if let Some(mac) = &self.mac {
            parse_mac(mac)?;
        }
        if let Some(r) = self.ofport_request {
            check_ofport_range(r)?;
        }
        Ok(())
    }

    fn validate_tunnel(&self) -> Result<(), ConfigError> {
        let kind = self.kind;
        match self.options.get("remote_ip") {
            None => return err(format!("a {kind} interface needs options:remote_ip")),
            Some(ip) => check_ip("remote_ip", ip)?,
        }
        if let Some(ip) = self.options.get("local_ip") {
            check_ip("local_ip", ip)?;
        }
        let key_max = if kind == InterfaceType::Vxlan {
            0xff_ffff
        } else {
            u64::from(u32::MAX)
        };
        for k in ["key", "in_key", "out_key"] {
            if let Some(v) = self.options.get(k) {
                if v != "flow" && parse_uint(v).is_none_or(|n| n > key_max) {
                    return err(format!(
                        "options:{k} of a {kind} interface must be \"flow\" or a number from 0 to {key_max} (got \"{v}\")"
                    ));
                }
            }
        }
        if let Some(v) = self.options.get("dst_port") {
            if !matches!(parse_uint(v), Some(1..=65535)) {
                return err(format!(
                    "options:dst_port must be a UDP port from 1 to 65535 (got \"{v}\")"
                ));
            }
        }
        for k in ["tos", "ttl"] {
            if let Some(v) = self.options.get(k) {
                if v != "inherit" && !matches!(parse_uint(v), Some(0..=255)) {
                    return err(format!(
                        "options:{k} must be \"inherit\" or a number from 0 to 255 (got \"{v}\")"
                    ));
                }
            }
        }
        for k in ["df_default", "csum"] {
            if let Some(v) = self.options.get(k) {
                if v != "true" && v != "false" {
                    return err(format!("options:{k} must be true or false (got \"{v}\")"));
                }
            }
        }
        Ok(())
    }
}

/// A decimal or `0x` hexadecimal unsigned number.
pub fn parse_uint(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

fn check_ip(what: &str, s: &str) -> Result<(), ConfigError> {
    s.parse::<IpAddr>().map(drop).map_err(|_| {
        ConfigError(format!(
            "options:{what} must be an IPv4 or IPv6 address (got \"{s}\")"
        ))
    })
}

/// Checks a VLAN id (1..=4095).
pub fn check_vlan(vid: u64) -> Result<u16, ConfigError> {
    match u16::try_from(vid) {
        Ok(v @ 1..=4095) => Ok(v),
        _ => err(format!(
            "constraint violation: {vid} is not in the valid range 1 to 4095 (inclusive)"
        )),
    }
}

/// Checks an `ofport_request` (1..=0xfeff).
pub fn check_ofport_range(n: u32) -> Result<u32, ConfigError> {
    if (1..=OFPORT_MAX).contains(&n) {
        Ok(n)
    } else {
        err(format!(
            "constraint violation: {n} is not in the valid range 1 to {OFPORT_MAX} (inclusive)"
        ))
    }
}

/// Checks an MTU request (68..=65535).
pub fn check_mtu(mtu: u32) -> Result<u32, ConfigError> {
    if (68..=65535).contains(&mtu) {
        Ok(mtu)
    } else {
        err(format!(
            "constraint violation: {mtu} is not in the valid range 68 to 65535 (inclusive)"
        ))
    }
}

/// Checks a bridge, port or interface name: 1 to 15 bytes, no `/`, no
/// whitespace or control characters (what Linux accepts for a device).
pub fn validate_name(what: &str, name: &str) -> Result<(), ConfigError> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > MAX_NAME_LEN {
        "it is longer than 15 bytes"
    } else if name == "." || name == ".." {
        "it is reserved"
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        "it contains '/', ':', a space or a control character"
    } else {
        return Ok(());
    };
    err(format!("invalid {what} name \"{name}\": {why}"))
}

fn validate_netns(ns: &str) -> Result<(), ConfigError> {
    if ns.is_empty() || ns.contains('/') && !ns.starts_with('/') || ns.chars().any(char::is_control)
    {
        return err(format!(
            "invalid network namespace \"{ns}\": give a name under /run/netns or an absolute path"
        ));
    }
    Ok(())
}

/// Parses a MAC address `xx:xx:xx:xx:xx:xx`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], ConfigError> {
    let bad = || {
        ConfigError(format!(
            "\"{s}\" is not a valid MAC address (want xx:xx:xx:xx:xx:xx)"
        ))
    };
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let part = parts.next().ok_or_else(bad)?;
        if part.is_empty() || part.len() > 2 {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

/// Formats a MAC address in lower case.
pub fn format_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

/// A stable, locally administered unicast MAC address derived from a
/// bridge name (FNV-1a), for the LOCAL port and the default datapath id.
pub fn default_bridge_mac(name: &str) -> [u8; 6] {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let b = h.to_be_bytes();
    [(b[2] & 0xfe) | 0x02, b[3], b[4], b[5], b[6], b[7]]
}

/// The default datapath id: 16 zero bits then [`default_bridge_mac`].
pub fn default_datapath_id(name: &str) -> u64 {
    default_bridge_mac(name)
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// Parses a datapath id: 1 to 16 hex digits, optional `0x`.
pub fn parse_datapath_id(s: &str) -> Result<u64, ConfigError> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return err(format!(
            "\"{s}\" is not a valid datapath id (want up to 16 hex digits)"
        ));
    }
    u64::from_str_radix(hex, 16)
        .map_err(|_| ConfigError(format!("\"{s}\" is not a valid datapath id")))
}

/// Checks a controller target: `tcp:IP[:PORT]`, `ssl:IP[:PORT]`,
/// `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]`, `unix:PATH`, `punix:PATH`.
/// IPv6 addresses go in brackets: `tcp:[::1]:6653`.
pub fn validate_controller_target(target: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError(format!("invalid controller target \"{target}\": {why}"));
    let (method, rest) = target.split_once(':').ok_or_else(|| {
        bad("want tcp:IP[:PORT], ssl:IP[:PORT], ptcp:[PORT][:IP], unix:PATH or punix:PATH")
    })?;
    match method {
        "tcp" | "ssl" => {
            let (ip, port) = split_host_port(rest).ok_or_else(|| bad("want an IP address"))?;
            check_target_ip(ip).ok_or_else(|| bad("want an IP address"))?;
            check_target_port(port).ok_or_else(|| bad("bad port number"))?;
        }
        "ptcp" | "pssl" => {
            let (port, ip) = match rest.split_once(':') {
                Some((port, ip)) => (port, Some(ip)),
                None => (rest, None),
            };
            check_target_port((!port.is_empty()).then_some(port))
                .ok_or_else(|| bad("bad port number"))?;
            if let Some(ip) = ip {
                check_target_ip(ip).ok_or_else(|| bad("want an IP address to listen on"))?;
            }
        }
        "unix" | "punix" => {
            if rest.is_empty() {
                return Err(bad("want a socket path"));
            }
        }
        _ => {
            return Err(bad(
                "unknown method (want tcp:, ssl:, ptcp:, pssl:, unix: or punix:)",
            ))
        }
    }
    Ok(())
}

/// Splits `IP[:PORT]` or `[IP6][:PORT]`.
fn split_host_port(s: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        return match after {
            "" => Some((ip, None)),
            _ => Some((ip, Some(after.strip_prefix(':')?))),
        };
    }
    match s.rsplit_once(':') {
        // An unbracketed IPv6 address without a port.
        Some(_) if s.matches(':').count() > 1 => Some((s, None)),
        Some((ip, port)) => Some((ip, Some(port))),
        None => Some((s, None)),
    }
}

fn check_target_ip(ip: &str) -> Option<()> {
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(ip);
    ip.parse::<IpAddr>().ok().map(drop)
}

fn check_target_port(port: Option<&str>) -> Option<()> {
    match port {
        None => Some(()),
        Some(p) => p.parse::<u16>().ok().filter(|&n| n != 0).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(name: &str) -> Port {
        Port::new(name)
    }

    #[test]
    fn netns_attachment_reads_external_ids_then_old_other_config() {
        // A conf.json written before external_ids: the keys in other_config.
        let old: Port = serde_json::from_str(
            r#"{"name":"c1","ofport":1,"interface":{"kind":"system"},"netns":"ns1",
                "other_config":{"ip_address":"10.0.0.5/24","mac_address":"02:00:00:00:00:05",
                "gateway":"10.0.0.1","ifname":"eth1"}}"#,
        )
        .unwrap();
        assert!(old.external_ids.is_empty());
        let want = NetnsAttachment {
            ifname: "eth1".into(),
            ip_address: Some("10.0.0.5/24".into()),
            mac_address: Some("02:00:00:00:00:05".into()),
            gateway: Some("10.0.0.1".into()),
        };
        assert_eq!(old.netns_attachment(), want);
        // external_ids win over other_config.
        let mut p = old.clone();
        p.external_ids
            .insert("container_iface".into(), "eth0".into());
        p.external_ids
            .insert("ip_address".into(), "10.0.0.6/24".into());
        let a = p.netns_attachment();
        assert_eq!(
            (a.ifname.as_str(), a.ip_address.as_deref()),
            ("eth0", Some("10.0.0.6/24"))
        );
        assert_eq!(a.gateway.as_deref(), Some("10.0.0.1"));
        // Nothing recorded: eth0, no address.
        let bare = Port::new("c2").netns_attachment();
        assert_eq!((bare.ifname.as_str(), bare.ip_address), ("eth0", None));
        // external_ids round-trip through JSON, and are left out when empty.
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Port>(&json).unwrap(), p);
        assert!(!serde_json::to_string(&Port::new("c3"))
            .unwrap()
            .contains("external_ids"));
    }

    #[test]
    fn datapath_id_is_stable_and_local_mac() {
        let a = default_datapath_id("br0");
        assert_eq!(a, default_datapath_id("br0"));
        assert_ne!(a, default_datapath_id("br1"));
        assert_eq!(a >> 48, 0);
        let mac = default_bridge_mac("br0");
        assert_eq!(mac[0] & 0x03, 0x02, "locally administered unicast");
        assert_eq!(parse_datapath_id("0000000000000001"), Ok(1));
        assert_eq!(parse_datapath_id("0xabc"), Ok(0xabc));
        assert!(parse_datapath_id("00000000000000001").is_err());
        assert!(parse_datapath_id("xyz").is_err());
    }

    #[test]
    fn ofports_lowest_free_and_requests() {
        let mut b = Bridge::new("br0");
        for n in ["a", "b", "c"] {
            b.ports.insert(n.into(), port(n));
        }
        b.assign_ofports().unwrap();
        assert_eq!(
            [
                b.ports["a"].ofport,
                b.ports["b"].ofport,
                b.ports["c"].ofport
            ],
            [1, 2, 3]
        );
        b.ports.remove("b");
        let mut d = port("d");
        d.interface.ofport_request = Some(10);
        b.ports.insert("d".into(), d);
        b.ports.insert("e".into(), port("e"));
        b.assign_ofports().unwrap();
        assert_eq!(b.ports["a"].ofport, 1);
        assert_eq!(b.ports["c"].ofport, 3);
        assert_eq!(b.ports["d"].ofport, 10);
        assert_eq!(b.ports["e"].ofport, 2, "reuses the freed number");
        // A request colliding with another port's number is refused.
        b.ports.get_mut("e").unwrap().interface.ofport_request = Some(3);
        let e = b.clone().assign_ofports().unwrap_err();
        assert!(e.0.contains("in use by interface c"), "{e}");
        // Unless that port moves away in the same transaction.
        b.ports.get_mut("c").unwrap().interface.ofport_request = Some(20);
        b.assign_ofports().unwrap();
        assert_eq!((b.ports["c"].ofport, b.ports["e"].ofport), (20, 3));
        // Clearing a request keeps the number.
        b.ports.get_mut("c").unwrap().interface.ofport_request = None;
        b.assign_ofports().unwrap();
        assert_eq!(b.ports["c"].ofport, 20);
    }

    #[test]
    fn duplicate_requests_refused() {
        let mut b = Bridge::new("br0");
        for n in ["a", "b"] {
            let mut p = port(n);
            p.interface.ofport_request = Some(5);
            b.ports.insert(n.into(), p);
        }
        assert!(b
            .assign_ofports()
            .unwrap_err()
            .0
            .contains("both request ofport 5"));
    }

    fn valid_config(p: Port) -> Result<(), ConfigError> {
        let mut c = Config::default();
        let mut b = Bridge::new("br0");
        b.ports.insert(p.name.clone(), p);
        b.assign_ofports()?;
        c.bridges.insert("br0".into(), b);
        c.validate()
    }

    #[test]
    fn interface_validation() {
        let mut p = port("patch0");
        p.interface.kind = InterfaceType::Patch;
        assert!(valid_config(p.clone())
            .unwrap_err()
            .0
            .contains("needs options:peer"));
        p.interface.options.insert("peer".into(), "patch1".into());
        valid_config(p).unwrap();

        let mut v = port("vx1");
        v.interface.kind = InterfaceType::Vxlan;
        assert!(valid_config(v.clone())
            .unwrap_err()
            .0
            .contains("needs options:remote_ip"));
        v.interface
            .options
            .insert("remote_ip".into(), "10.0.0.300".into());
        assert!(valid_config(v.clone())
            .unwrap_err()
            .0
            .contains("IPv4 or IPv6"));
        v.interface
            .options
            .insert("remote_ip".into(), "fe80::1".into());
        v.interface.options.insert("key".into(), "flow".into());
        valid_config(v.clone()).unwrap();
        v.interface.options.insert("key".into(), "16777216".into());
        assert!(valid_config(v.clone())
            .unwrap_err()
            .0
            .contains("options:key"));
        v.interface.options.insert("key".into(), "5".into());
        v.interface.options.insert("bogus".into(), "1".into());
        assert!(valid_config(v)
            .unwrap_err()
            .0
            .contains("unknown option \"bogus\""));

        let mut s = port("eth1");
        s.interface.options.insert("x".into(), "1".into());
        assert!(valid_config(s)
            .unwrap_err()
            .0
            .contains("unknown option \"x\" for interface type system (known: backend)"));
        let mut s = port("eth1");
        s.interface.options.insert("backend".into(), "pnet".into());
        assert!(valid_config(s).is_ok());
        let mut s = port("eth1");
        s.interface.options.insert("backend".into(), "dpdk".into());
        assert!(valid_config(s)
            .unwrap_err()
            .0
            .contains("options:backend must be native or pnet"));
        let mut s = port("eth1");
        s.interface.kind = InterfaceType::Internal;
        s.interface.options.insert("x".into(), "1".into());
        assert!(valid_config(s).unwrap_err().0.contains("takes no options"));
        let mut s = port("eth1");
        s.interface.mac = Some("zz".into());
        assert!(valid_config(s).is_err());
        let mut s = port("eth1");
        s.tag = Some(4096);
        assert!(valid_config(s).unwrap_err().0.contains("1 to 4095"));
        assert!(valid_config(port("a-very-long-port-name")).is_err());
        assert!(valid_config(port("a b")).is_err());
    }

    #[test]
    fn port_names_unique_across_bridges() {
        let mut c = Config::default();
        for br in ["br0", "br1"] {
            let mut b = Bridge::new(br);
            b.ports.insert("p1".into(), port("p1"));
            b.assign_ofports().unwrap();
            c.bridges.insert(br.into(), b);
        }
        assert!(c
            .validate()
            .unwrap_err()
            .0
            .contains("on both bridge br0 and bridge br1"));
        c.bridges.get_mut("br1").unwrap().ports.clear();
        c.validate().unwrap();
        let mut p = port("br1");
        p.ofport = 7;
        c.bridges
            .get_mut("br0")
            .unwrap()
            .ports
            .insert("br1".into(), p);
        assert!(c.validate().is_err());
    }

    #[test]
    fn vlan_mapping() {
        let mut p = port("p");
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::TrunkAll);
        p.trunks = vec![10, 20];
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::Trunks(vec![10, 20]));
        p.tag = Some(5);
        assert_eq!(p.effective_vlan_mode(), PortVlanMode::NativeTagged);
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::Trunks(vec![5, 10, 20]));
        p.trunks.clear();
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::Access(5));
        p.vlan_mode = Some(PortVlanMode::Trunk);
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::TrunkAll);
        p.vlan_mode = Some(PortVlanMode::Access);
        p.tag = None;
        assert_eq!(p.pipeline_vlan_mode(), VlanMode::Access(0));
    }

    #[test]
    fn controller_targets() {
        for ok in [
            "tcp:127.0.0.1:6653",
            "tcp:10.0.0.1",
            "tcp:[::1]:6653",
            "ssl:192.168.1.1:6653",
            "ptcp:6653",
            "ptcp:",
            "ptcp:6653:127.0.0.1",
            "pssl:6653",
            "punix:/run/ofswitch/br0.mgmt",
            "unix:/tmp/x",
        ] {
            validate_controller_target(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "foo:1",
            "tcp:",
            "tcp:host.example:6653",
            "tcp:1.2.3.4:99999",
            "ptcp:x",
            "punix:",
            "6653",
        ] {
            let e = validate_controller_target(bad).unwrap_err();
            assert!(
                e.0.starts_with(&format!("invalid controller target \"{bad}\"")),
                "{e}"
            );
        }
    }

    #[test]
    fn controller_settings_limits_and_validation() {
        let s = ControllerSettings::default();
        assert_eq!(s.packet_in_limit(), None, "no limit by default, as OVS");
        let s = ControllerSettings {
            controller_rate_limit: Some(1000),
            controller_burst_limit: None,
        };
        assert_eq!(s.packet_in_limit(), Some((1000, 250)), "burst: rate / 4");
        let s = ControllerSettings {
            controller_rate_limit: Some(100),
            controller_burst_limit: Some(40),
        };
        assert_eq!(s.packet_in_limit(), Some((100, 40)));
        let s = ControllerSettings {
            controller_rate_limit: None,
            controller_burst_limit: Some(40),
        };
        assert_eq!(s.packet_in_limit(), None, "a burst without a rate");

        assert_eq!(check_controller_rate_limit(100), Ok(100));
        assert_eq!(check_controller_burst_limit(25), Ok(25));
        for (key, e) in [
            ("controller_rate_limit", check_controller_rate_limit(99)),
            (
                "controller_rate_limit",
                check_controller_rate_limit(1 << 40),
            ),
            ("controller_burst_limit", check_controller_burst_limit(24)),
        ] {
            let e = e.expect_err("out of range").0;
            assert!(e.starts_with(&format!("{key}: ")), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }

        // Settings only for configured targets, and valid.
        let mut b = Bridge::new("br0");
        b.controllers.push("tcp:127.0.0.1:6653".into());
        b.controller_settings.insert("tcp:127.0.0.1:6653".into(), s);
        b.validate().expect("valid");
        b.controller_settings
            .insert("tcp:127.0.0.1:6654".into(), ControllerSettings::default());
        assert!(b.validate().is_err(), "settings for no controller");
        b.controller_settings.remove("tcp:127.0.0.1:6654");
        b.controller_settings.insert(
            "tcp:127.0.0.1:6653".into(),
            ControllerSettings {
                controller_rate_limit: Some(5),
                controller_burst_limit: None,
            },
        );
        let e = b.validate().expect_err("rate below 100").0;
        assert!(e.contains("controller_rate_limit"), "{e}");
    }

    #[test]
    fn serde_round_trip_and_defaults() {
        let mut c = Config::default();
        let mut b = Bridge::new("br0");
        let mut p = port("vx1");
        p.interface.kind = InterfaceType::Vxlan;
        p.interface
            .options
            .insert("remote_ip".into(), "10.0.0.2".into());
        p.vlan_mode = Some(PortVlanMode::NativeUntagged);
        b.ports.insert("vx1".into(), p);
        b.assign_ofports().unwrap();
        c.bridges.insert("br0".into(), b);
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("controller_settings"), "{json}");
        assert!(json.contains("\"type\":\"vxlan\""), "{json}");
        assert!(json.contains("\"vlan_mode\":\"native-untagged\""), "{json}");
        let back: Config = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let minimal: Config = serde_json::from_str(
            r#"{"bridges":{"b":{"name":"b","datapath_id":1,"ports":{"p":{"name":"p","ofport":1,"interface":{}}}}}}"#,
        )
        .unwrap();
        minimal.validate().unwrap();
        assert_eq!(
            minimal.bridges["b"].effective_fail_mode(),
            FailMode::Standalone
        );
    }
}
