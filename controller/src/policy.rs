//! The VLAN policy: which port of which switch is in which VLAN.
//!
//! A policy file is TOML (see `examples/policy.toml` for a commented one):
//!
//! ```toml
//! max_macs = 100000    # optional: MACs learned per switch, all VLANs together
//!
//! [vlans.office]
//! vid = 100
//! tunnel_id = 5100     # optional: the VNI/GRE key on tunnels (default: the vid)
//! max_hosts = 64       # optional: MACs learned per switch in this VLAN
//!
//! [switches.sw1]
//! dpid = 0x10          # or "00:00:00:00:00:00:00:10"
//! [switches.sw1.ports]
//! 1 = { access = "office" }          # a port number ...
//! h2 = { access = 100 }              # ... or a port name (as PORT_DESC reports it)
//! 3 = { trunk = ["office", 200] }    # tagged frames of these VLANs only
//! vx1 = { tunnel = true }            # VXLAN/GRE: tunnel id <-> VLAN
//! ```
//!
//! Why these rules:
//! - Every table refuses unknown keys and every VLAN reference must name a
//!   declared VLAN (by name or vid): a typo must fail loudly, because a
//!   silently ignored or invented VLAN is an isolation hole.
//! - Tunnel ids must be unique across VLANs: two VLANs sharing one id would
//!   merge on the far side of every tunnel.
//! - Errors are one line, `line N: key.path: what`, so `ofcontroller check`
//!   can print them as `FILE:N: ...` like a compiler.
//!
//! Without a policy file ([`Policy::learning_only`], the `learning` app alone)
//! every port of every switch is an access port of VLAN 1, except ports whose
//! name starts with `vxlan`, `vx`, `gre` or `geneve`, which are tunnel ports
//! (tunnel id 1). OpenFlow does not say which ports are tunnels, and those
//! are the names `ofswitch` and Open vSwitch setups use; a policy file says it
//! explicitly instead.
//!
//! With a policy file, a switch the file does not name, and a port of a named
//! switch that the file does not name, get no flows: their frames are dropped.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// An 802.1Q VLAN id, 1..=4094.
pub type Vid = u16;

/// The VLAN of the no-policy default.
pub const DEFAULT_VID: Vid = 1;

/// Port-name prefixes taken for tunnel ports when there is no policy.
pub const TUNNEL_NAME_PREFIXES: &[&str] = &["vxlan", "vx", "gre", "geneve"];

/// How many MACs one switch learns, all VLANs together, unless the policy
/// says `max_macs`. The bound that holds without any policy: it keeps the
/// controller's memory (about 100 bytes per MAC, BENCHMARKS.md) and the
/// switch's flow table (two flows per MAC) finite when a port floods
/// random source MACs. 100,000 is more hosts than one L2 switch serves in
/// practice (hardware MAC tables hold 16k to 128k) and costs about 10 MB
/// per switch at most.
pub const DEFAULT_MAX_MACS: usize = 100_000;

/// The largest tunnel id: a VXLAN VNI has 24 bits (a GRE key 32).
pub const MAX_TUNNEL_ID: u64 = 0xff_ffff;

/// What a port is (in `ofcontroller status --json`: `{"access": 10}`,
/// `{"trunk": [10, 20]}`, `"tunnel"`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PortRole {
    /// Untagged hosts of one VLAN; tagged frames are refused.
    Access(Vid),
    /// Tagged frames of these VLANs (sorted, no duplicates).
    Trunk(Vec<Vid>),
    /// A VXLAN/GRE port: the tunnel id says the VLAN, frames inside are untagged.
    Tunnel,
}

/// One VLAN of the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vlan {
    pub name: String,
    pub vid: Vid,
    pub tunnel_id: u64,
    /// How many MACs one switch learns in this VLAN; `None`: no limit.
    pub max_hosts: Option<usize>,
}

/// Which port a policy entry names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortKey {
    Number(u32),
    Name(String),
}

/// One switch of the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub name: String,
    pub dpid: u64,
    pub ports: BTreeMap<PortKey, PortRole>,
}

/// What a switch or port the policy does not name gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// No flows: frames are dropped.
    Drop,
    /// Access port of this VLAN, or a tunnel if the name looks like one.
    Learning(Vid),
}

/// A validated policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub vlans: BTreeMap<Vid, Vlan>,
    pub switches: Vec<Switch>,
    pub fallback: Fallback,
    /// How many MACs one switch learns, all VLANs together.
    pub max_macs: usize,
}

/// A policy that does not hold: one line, naming the key and the line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line in the file, if known.
    pub line: Option<usize>,
    /// Dotted key path (`switches.sw1.ports.3`), empty if none.
    pub key: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.line {
            write!(f, "line {l}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        // toml's messages may span lines; keep ours on one.
        let msg: Vec<&str> = self.message.lines().map(str::trim).collect();
        write!(f, "{}", msg.join(" "))
    }
}

impl std::error::Error for PolicyError {}

// ---- the file's shape (serde) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    max_macs: Option<Spanned<i64>>,
    #[serde(default)]
    vlans: BTreeMap<Spanned<String>, Spanned<RawVlan>>,
    #[serde(default)]
    switches: BTreeMap<Spanned<String>, Spanned<RawSwitch>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVlan {
    vid: Spanned<i64>,
    tunnel_id: Option<Spanned<i64>>,
    max_hosts: Option<Spanned<i64>>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSwitch {
    dpid: Spanned<toml::Value>,
    #[serde(default)]
    ports: BTreeMap<Spanned<String>, Spanned<RawPort>>,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    access: Option<Spanned<toml::Value>>,
    trunk: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    tunnel: Option<Spanned<bool>>,
    #[allow(dead_code)]
    description: Option<String>,
}

/// Maps byte offsets to line numbers.
struct Src<'a>(&'a str);

impl Src<'_> {
    fn line(&self, offset: usize) -> usize {
        let upto = self.0.get(..offset).unwrap_or(self.0);
        upto.matches('\n').count() + 1
    }

    /// The dotted key a line sets, from the nearest `[table]` header above it
    /// and the line's own `key =`: for toml's own errors, which carry a span
    /// but no path.
    fn key_at(&self, line: usize) -> String {
        let lines: Vec<&str> = self.0.lines().take(line).collect();
        let own = lines
            .last()
            .map(|l| l.trim())
            .filter(|l| !l.starts_with('['))
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| k.trim().to_string());
        let header = lines
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        match (header, own) {
            (Some(h), Some(k)) => format!("{h}.{k}"),
            (Some(h), None) => h,
            (None, Some(k)) => k,
            (None, None) => String::new(),
        }
    }

    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) -> Result<T, PolicyError> {
        Err(PolicyError {
            line: Some(self.line(span.start)),
            key: key.into(),
            message: msg.into(),
        })
    }
}

impl Policy {
    /// The `learning` app alone: every port an access port of VLAN 1,
    /// tunnel-named ports tunnels.
    pub fn learning_only() -> Policy {
        let mut vlans = BTreeMap::new();
        vlans.insert(
            DEFAULT_VID,
            Vlan {
                name: "default".into(),
                vid: DEFAULT_VID,
                tunnel_id: u64::from(DEFAULT_VID),
                max_hosts: None,
            },
        );
        Policy {
            vlans,
            switches: Vec::new(),
            fallback: Fallback::Learning(DEFAULT_VID),
            max_macs: DEFAULT_MAX_MACS,
        }
    }

    /// Parses and validates a policy file's text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let src = Src(text);
        let raw: RawPolicy = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| src.line(s.start));
            PolicyError {
                line,
                key: line.map(|l| src.key_at(l)).unwrap_or_default(),
                message: e.message().to_string(),
            }
        })?;

        let max_macs = match &raw.max_macs {
            None => DEFAULT_MAX_MACS,
            Some(m) if *m.get_ref() >= 1 => *m.get_ref() as usize,
            Some(m) => return src.err(m.span(), "max_macs", "max_macs must be at least 1"),
        };
        let mut vlans: BTreeMap<Vid, Vlan> = BTreeMap::new();
        let mut by_name: BTreeMap<String, Vid> = BTreeMap::new();
        let mut tunnel_ids: BTreeMap<u64, String> = BTreeMap::new();
        for (name, v) in &raw.vlans {
            let key = format!("vlans.{}", name.get_ref());
            let v = v.get_ref();
            let vid = *v.vid.get_ref();
            if !(1..=4094).contains(&vid) {
                return src.err(
                    v.vid.span(),
                    format!("{key}.vid"),
                    format!("VLAN id {vid} is outside 1..4094"),
                );
            }
            let vid = vid as Vid;
            if let Some(other) = vlans.get(&vid) {
                return src.err(
                    v.vid.span(),
                    format!("{key}.vid"),
                    format!("VLAN id {vid} is already VLAN {:?}", other.name),
                );
            }
            let tunnel_id = match &v.tunnel_id {
                None => u64::from(vid),
                Some(t) => {
                    let id = *t.get_ref();
                    if id < 1 || id as u64 > MAX_TUNNEL_ID {
                        return src.err(
                            t.span(),
                            format!("{key}.tunnel_id"),
                            format!("tunnel id {id} is outside 1..{MAX_TUNNEL_ID}"),
                        );
                    }
                    id as u64
                }
            };
            if let Some(other) = tunnel_ids.get(&tunnel_id) {
                let span = v.tunnel_id.as_ref().map_or(v.vid.span(), |t| t.span());
                return src.err(
                    span,
                    format!("{key}.tunnel_id"),
                    format!("tunnel id {tunnel_id} is already VLAN {other:?}'s"),
                );
            }
            let max_hosts = match &v.max_hosts {
                None => None,
                Some(m) if *m.get_ref() >= 1 => Some(*m.get_ref() as usize),
                Some(m) => {
                    return src.err(
                        m.span(),
                        format!("{key}.max_hosts"),
                        "max_hosts must be at least 1",
                    )
                }
            };
            tunnel_ids.insert(tunnel_id, name.get_ref().clone());
            by_name.insert(name.get_ref().clone(), vid);
            vlans.insert(
                vid,
                Vlan {
                    name: name.get_ref().clone(),
                    vid,
                    tunnel_id,
                    max_hosts,
                },
            );
        }

        let vlan_ref = |v: &Spanned<toml::Value>, key: &str| -> Result<Vid, PolicyError> {
            match v.get_ref() {
                toml::Value::Integer(i) => match Vid::try_from(*i) {
                    Ok(vid) if vlans.contains_key(&vid) => Ok(vid),
                    _ => src.err(
                        v.span(),
                        key,
                        format!("VLAN {i} is not declared in [vlans]"),
                    ),
                },
                toml::Value::String(s) => match by_name.get(s) {
                    Some(vid) => Ok(*vid),
                    None => src.err(
                        v.span(),
                        key,
                        format!("VLAN {s:?} is not declared in [vlans]"),
                    ),
                },
                other => src.err(
                    v.span(),
                    key,
                    format!("a VLAN is a vid or a name, not a {}", other.type_str()),
                ),
            }
        };

        let mut switches: Vec<Switch> = Vec::new();
        for (name, sw) in &raw.switches {
            let key = format!("switches.{}", name.get_ref());
            let sw = sw.get_ref();
            let dpid = match parse_dpid(sw.dpid.get_ref()) {
                Some(d) => d,
                None => {
                    return src.err(
                        sw.dpid.span(),
                        format!("{key}.dpid"),
                        "a datapath id is an integer (0x10) or a string of hex (\"00:00:00:00:00:00:00:10\")",
                    )
                }
            };
            if let Some(other) = switches.iter().find(|s| s.dpid == dpid) {
                return src.err(
                    sw.dpid.span(),
                    format!("{key}.dpid"),
                    format!("datapath id {dpid:#x} is already switch {:?}'s", other.name),
                );
            }
            let mut ports = BTreeMap::new();
            for (pname, p) in &sw.ports {
                let pkey = format!("{key}.ports.{}", pname.get_ref());
                let port_key = match pname.get_ref().parse::<u32>() {
                    Ok(0) => {
                        return src.err(pname.span(), pkey, "port numbers start at 1");
                    }
                    Ok(n) if n <= openflow::types::port_no::MAX => PortKey::Number(n),
                    Ok(n) => {
                        return src.err(pname.span(), pkey, format!("{n} is a reserved port"));
                    }
                    Err(_) if pname.get_ref().is_empty() => {
                        return src.err(pname.span(), pkey, "empty port name");
                    }
                    Err(_) => PortKey::Name(pname.get_ref().clone()),
                };
                let raw = p.get_ref();
                let role = match (&raw.access, &raw.trunk, &raw.tunnel) {
                    (Some(a), None, None) => {
                        PortRole::Access(vlan_ref(a, &format!("{pkey}.access"))?)
                    }
                    (None, Some(t), None) => {
                        let tkey = format!("{pkey}.trunk");
                        if t.get_ref().is_empty() {
                            return src.err(t.span(), tkey, "a trunk needs at least one VLAN");
                        }
                        let mut vids = Vec::new();
                        for v in t.get_ref() {
                            let vid = vlan_ref(v, &tkey)?;
                            if vids.contains(&vid) {
                                return src.err(
                                    v.span(),
                                    tkey,
                                    format!("VLAN {vid} is listed twice"),
                                );
                            }
                            vids.push(vid);
                        }
                        vids.sort_unstable();
                        PortRole::Trunk(vids)
                    }
                    (None, None, Some(t)) if *t.get_ref() => PortRole::Tunnel,
                    (None, None, Some(t)) => {
                        return src.err(
                            t.span(),
                            format!("{pkey}.tunnel"),
                            "tunnel = false is not a role; leave the port out",
                        )
                    }
                    _ => {
                        return src.err(
                            p.span(),
                            pkey,
                            "a port takes exactly one of access, trunk or tunnel",
                        )
                    }
                };
                ports.insert(port_key, role);
            }
            switches.push(Switch {
                name: name.get_ref().clone(),
                dpid,
                ports,
            });
        }
        Ok(Policy {
            vlans,
            switches,
            fallback: Fallback::Drop,
            max_macs,
        })
    }

    /// The switch with this datapath id.
    pub fn switch(&self, dpid: u64) -> Option<&Switch> {
        self.switches.iter().find(|s| s.dpid == dpid)
    }

    /// What one port of a switch is, by number then by name; `None`: the
    /// port gets no flows.
    pub fn port_role(&self, dpid: u64, port_no: u32, name: &str) -> Option<PortRole> {
        if let Some(sw) = self.switch(dpid) {
            return sw
                .ports
                .get(&PortKey::Number(port_no))
                .or_else(|| sw.ports.get(&PortKey::Name(name.to_string())))
                .cloned();
        }
        match self.fallback {
            Fallback::Drop => None,
            Fallback::Learning(vid) => {
                if TUNNEL_NAME_PREFIXES.iter().any(|p| name.starts_with(p)) {
                    Some(PortRole::Tunnel)
                } else {
                    Some(PortRole::Access(vid))
                }
            }
        }
    }

    /// The resolved view of one switch: its ports' roles and the VLANs'
    /// tunnel ids and limits, what the pipeline and learning work from.
    /// `ports` are (number, name) pairs from PORT_DESC (live ports only).
    pub fn view<'a>(&self, dpid: u64, ports: impl IntoIterator<Item = (u32, &'a str)>) -> View {
        let mut view = View {
            max_macs: self.max_macs,
            ..View::default()
        };
        for (no, name) in ports {
            if let Some(role) = self.port_role(dpid, no, name) {
                view.ports.insert(no, role);
            }
        }
        for v in self.vlans.values() {
            view.vlans.insert(
                v.vid,
                VlanInfo {
                    tunnel_id: v.tunnel_id,
                    max_hosts: v.max_hosts,
                },
            );
        }
        view
    }
}

/// A datapath id: a TOML integer, or a string of hex with or without
/// colons or a `0x` prefix.
fn parse_dpid(v: &toml::Value) -> Option<u64> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Some(*i as u64),
        toml::Value::String(s) => {
            let s = s.trim();
            let hex: String = s
                .strip_prefix("0x")
                .unwrap_or(s)
                .chars()
                .filter(|c| *c != ':')
                .collect();
            if hex.is_empty() || hex.len() > 16 {
                return None;
            }
            u64::from_str_radix(&hex, 16).ok()
        }
        _ => None,
    }
}

/// Per-VLAN facts the flows need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VlanInfo {
    pub tunnel_id: u64,
    pub max_hosts: Option<usize>,
}

/// One switch as the flows see it: the roles of its (live) ports and the
/// VLANs' tunnel ids. Built by [`Policy::view`]; plain data, so tests build
/// it by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub ports: BTreeMap<u32, PortRole>,
    pub vlans: BTreeMap<Vid, VlanInfo>,
    /// MACs this switch learns at most, all VLANs together.
    pub max_macs: usize,
}

impl Default for View {
    fn default() -> View {
        View {
            ports: BTreeMap::new(),
            vlans: BTreeMap::new(),
            max_macs: DEFAULT_MAX_MACS,
        }
    }
}

impl View {
    /// The VLANs with a non-tunnel port here: what this switch's tunnels carry.
    pub fn local_vlans(&self) -> Vec<Vid> {
        let mut out: Vec<Vid> = Vec::new();
        for role in self.ports.values() {
            match role {
                PortRole::Access(v) => out.push(*v),
                PortRole::Trunk(vs) => out.extend(vs),
                PortRole::Tunnel => {}
            }
        }
        out.retain(|v| self.vlans.contains_key(v));
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether `port` carries `vid` (tunnels carry every local VLAN).
    pub fn carries(&self, port: u32, vid: Vid) -> bool {
        match self.ports.get(&port) {
            Some(PortRole::Access(v)) => *v == vid,
            Some(PortRole::Trunk(vs)) => vs.contains(&vid),
            Some(PortRole::Tunnel) => self.local_vlans().contains(&vid),
            None => false,
        }
    }

    /// The ports carrying `vid`, in port order.
    pub fn members(&self, vid: Vid) -> Vec<u32> {
        let local = self.local_vlans().contains(&vid);
        self.ports
            .iter()
            .filter(|(_, r)| match r {
                PortRole::Access(v) => *v == vid,
                PortRole::Trunk(vs) => vs.contains(&vid),
                PortRole::Tunnel => local,
            })
            .map(|(p, _)| *p)
            .collect()
    }

    pub fn tunnel_id(&self, vid: Vid) -> Option<u64> {
        self.vlans.get(&vid).map(|v| v.tunnel_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[vlans.office]
vid = 100
tunnel_id = 5100
max_hosts = 2

[vlans.guest]
vid = 200

[switches.sw1]
dpid = 0x10
[switches.sw1.ports]
1 = { access = "office" }
h2 = { access = 100 }
3 = { trunk = ["guest", "office"] }
vx1 = { tunnel = true }

[switches.sw2]
dpid = "00:00:00:00:00:00:00:20"
ports = { 1 = { access = "guest" } }
"#;

    fn err(text: &str) -> String {
        match Policy::parse(text) {
            Ok(p) => panic!("accepted: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_the_example_shape() {
        let p = Policy::parse(GOOD).expect("valid");
        assert_eq!(p.vlans[&100].tunnel_id, 5100);
        assert_eq!(p.vlans[&100].max_hosts, Some(2));
        assert_eq!(p.vlans[&200].tunnel_id, 200);
        assert_eq!(p.max_macs, DEFAULT_MAX_MACS);
        assert_eq!(p.view(0x10, [(1, "x")]).max_macs, DEFAULT_MAX_MACS);
        let small = Policy::parse("max_macs = 500\n[vlans.a]\nvid = 5\n").expect("valid");
        assert_eq!(small.view(0x10, [(1, "x")]).max_macs, 500);
        assert_eq!(p.switch(0x20).map(|s| s.name.as_str()), Some("sw2"));
        assert_eq!(p.port_role(0x10, 1, "x"), Some(PortRole::Access(100)));
        assert_eq!(p.port_role(0x10, 7, "h2"), Some(PortRole::Access(100)));
        assert_eq!(
            p.port_role(0x10, 3, "t"),
            Some(PortRole::Trunk(vec![100, 200]))
        );
        assert_eq!(p.port_role(0x10, 9, "vx1"), Some(PortRole::Tunnel));
        // Unnamed port of a named switch, and an unnamed switch: no flows.
        assert_eq!(p.port_role(0x10, 5, "eth5"), None);
        assert_eq!(p.port_role(0x99, 1, "p1"), None);
        let v = p.view(0x10, [(1, "p1"), (2, "h2"), (3, "t"), (4, "vx1"), (5, "x")]);
        assert_eq!(v.ports.len(), 4);
        assert_eq!(v.members(100), vec![1, 2, 3, 4]);
        assert_eq!(v.members(200), vec![3, 4]);
        assert!(!v.carries(1, 200));
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../examples/policy.toml");
        let p = Policy::parse(text).unwrap_or_else(|e| panic!("examples/policy.toml: {e}"));
        assert!(!p.switches.is_empty());
    }

    #[test]
    fn number_wins_over_name() {
        let p = Policy::parse(
            "[vlans.a]\nvid = 1\n[vlans.b]\nvid = 2\n[switches.s]\ndpid = 1\n\
             [switches.s.ports]\n1 = { access = 1 }\np1 = { access = 2 }\n",
        )
        .expect("valid");
        assert_eq!(p.port_role(1, 1, "p1"), Some(PortRole::Access(1)));
        assert_eq!(p.port_role(1, 2, "p1"), Some(PortRole::Access(2)));
    }

    #[test]
    fn learning_default_finds_tunnels_by_name() {
        let p = Policy::learning_only();
        assert_eq!(p.port_role(7, 1, "p1"), Some(PortRole::Access(1)));
        assert_eq!(p.port_role(7, 2, "vxlan0"), Some(PortRole::Tunnel));
        assert_eq!(p.port_role(7, 3, "gre1"), Some(PortRole::Tunnel));
        let v = p.view(7, [(1, "p1"), (2, "vx1")]);
        assert_eq!(v.members(1), vec![1, 2]);
        assert_eq!(v.tunnel_id(1), Some(1));
        // A switch with only tunnels carries nothing.
        let v = p.view(7, [(2, "vx1"), (3, "vx2")]);
        assert!(v.members(1).is_empty());
    }

    #[test]
    fn typos_and_bad_values_are_refused_with_key_and_line() {
        // Unknown key (typo), with its line.
        let e = err("[vlans.a]\nvid = 1\ntunel_id = 3\n");
        assert!(e.starts_with("line 3: "), "{e}");
        assert!(e.contains("tunel_id"), "{e}");
        assert!(e.starts_with("line 3: vlans.a.tunel_id: "), "{e}");
        let e = err("[vlans.a]\nvid = \"x\"\n");
        assert!(e.starts_with("line 2: vlans.a.vid: "), "{e}");
        let e = err("[vlans.a]\nvid = 1\n[switches.s]\ndpid = 1\nports = { 1 = { acess = 1 } }\n");
        assert!(e.contains("line 5") && e.contains("acess"), "{e}");
        let e = err("[vlan.a]\nvid = 1\n");
        assert!(e.contains("line 1") && e.contains("vlan"), "{e}");
        // VLAN ids.
        let e = err("[vlans.a]\nvid = 4095\n");
        assert_eq!(e, "line 2: vlans.a.vid: VLAN id 4095 is outside 1..4094");
        assert!(err("[vlans.a]\nvid = 0\n").contains("outside"));
        let e = err("[vlans.a]\nvid = 5\n[vlans.b]\nvid = 5\n");
        assert!(e.starts_with("line 4: vlans.b.vid: "), "{e}");
        // Tunnel ids.
        let e = err("[vlans.a]\nvid = 5\n[vlans.b]\nvid = 6\ntunnel_id = 5\n");
        assert!(e.starts_with("line 5: vlans.b.tunnel_id: "), "{e}");
        assert!(err("[vlans.a]\nvid = 5\ntunnel_id = 16777216\n").contains("outside"));
        assert!(err("[vlans.a]\nvid = 5\nmax_hosts = 0\n").contains("max_hosts"));
        let e = err("max_macs = 0\n[vlans.a]\nvid = 5\n");
        assert_eq!(e, "line 1: max_macs: max_macs must be at least 1");
        // Undeclared VLANs.
        let e = err(
            "[vlans.a]\nvid = 5\n[switches.s]\ndpid = 1\n[switches.s.ports]\n1 = { access = 50 }\n",
        );
        assert_eq!(
            e,
            "line 6: switches.s.ports.1.access: VLAN 50 is not declared in [vlans]"
        );
        let e = err("[vlans.a]\nvid = 5\n[switches.s]\ndpid = 1\n[switches.s.ports]\n1 = { trunk = [5, \"b\"] }\n");
        assert!(e.starts_with("line 6: switches.s.ports.1.trunk: "), "{e}");
        // A port in two roles, or none.
        let e = err("[vlans.a]\nvid = 5\n[switches.s]\ndpid = 1\n[switches.s.ports]\n1 = { access = 5, tunnel = true }\n");
        assert!(e.contains("exactly one"), "{e}");
        assert!(err("[switches.s]\ndpid = 1\n[switches.s.ports]\n1 = {}\n").contains("exactly one"));
        assert!(err(
            "[vlans.a]\nvid = 5\n[switches.s]\ndpid = 1\nports = { 1 = { trunk = [] } }\n"
        )
        .contains("at least one"));
        assert!(err(
            "[vlans.a]\nvid = 5\n[switches.s]\ndpid = 1\nports = { 1 = { trunk = [5, 5] } }\n"
        )
        .contains("twice"));
        assert!(
            err("[switches.s]\ndpid = 1\nports = { 0 = { tunnel = true } }\n")
                .contains("start at 1")
        );
        // Duplicate switches.
        let e = err("[switches.a]\ndpid = 1\n[switches.b]\ndpid = \"0x1\"\n");
        assert!(e.starts_with("line 4: switches.b.dpid: "), "{e}");
        assert!(err("[switches.a]\ndpid = \"zz\"\n").contains("datapath id"));
        assert!(err("[switches.a]\n").contains("dpid"));
        // Broken TOML.
        assert!(err("[vlans.a\n").starts_with("line 1"));
        // Every error is one line.
        for bad in [
            "[vlans.a]\nvid = \"x\"\n",
            "x = ",
            "[vlans.a]\nvid = 1\nvid = 2\n",
        ] {
            let e = err(bad);
            assert!(!e.contains('\n'), "{e}");
            assert!(e.starts_with("line "), "{e}");
        }
    }
}
