//! The database view of the model for vsctl's generic commands (`list`,
//! `get`, `set`, `clear`, `add`, `remove`, `find`): the `Bridge`, `Port`,
//! `Interface` and `Controller` tables with the OVS column names scripts
//! use, each column typed so one code path parses, validates and prints
//! them all.
//!
//! A `Controller` record is named as ovs-vsctl names it, by its bridge
//! (`set controller br0 controller_rate_limit=1000`), which works when the
//! bridge has exactly one controller; as an extension it may also be named
//! by its target (`get controller tcp:10.0.0.1:6653 role`) when one
//! bridge only has that target.

use crate::config::model::{
    check_controller_burst_limit, check_controller_rate_limit, check_mtu, check_ofport_range,
    check_vlan, format_mac, parse_datapath_id, parse_mac, parse_uint, validate_controller_target,
    Config, FailMode, InterfaceType, PortVlanMode,
};
use crate::config::runtime::RuntimeInfo;
use crate::config::syntax::{
    fmt_map, fmt_num_map, fmt_num_set, fmt_str_set, parse_map, parse_set, quote, unquote, ColumnArg,
};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;

/// The bridge's own interface's `ofport` as Open vSwitch's database shows
/// it: OpenFlow 1.0's OFPP_LOCAL (65534), not 1.3's 0xfffffffe, so that
/// scripts reading `get interface BR ofport` see what they see on OVS.
const LOCAL_OFPORT: u64 = 65534;

/// A table of the database view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Bridge,
    Port,
    Interface,
    Controller,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Bridge => "Bridge",
            Table::Port => "Port",
            Table::Interface => "Interface",
            Table::Controller => "Controller",
        }
    }

    /// Columns, sorted as `list` prints them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Bridge => &[
                "controller",
                "datapath_id",
                "datapath_type",
                "external_ids",
                "fail_mode",
                "name",
                "other_config",
                "ports",
                "protocols",
                "statistics",
                "status",
                "stp_enable",
            ],
            Table::Port => &[
                "external_ids",
                "interfaces",
                "name",
                "netns",
                "other_config",
                "status",
                "tag",
                "trunks",
                "vlan_mode",
            ],
            Table::Interface => &[
                "error",
                "external_ids",
                "link_state",
                "mac",
                "mac_in_use",
                "mtu",
                "mtu_request",
                "name",
                "ofport",
                "ofport_request",
                "options",
                "statistics",
                "type",
            ],
            Table::Controller => &[
                "controller_burst_limit",
                "controller_rate_limit",
                "is_connected",
                "role",
                "status",
                "target",
            ],
        }
    }

    /// Resolves a column name as ovs-vsctl does: `-` and `_` alike, exact
    /// name or unique prefix.
    pub fn column(self, name: &str) -> Result<&'static str, String> {
        let want = name.replace('-', "_");
        let cols = self.columns();
        if let Some(c) = cols.iter().find(|c| **c == want) {
            return Ok(c);
        }
        let mut matches = cols.iter().filter(|c| c.starts_with(&want));
        match (matches.next(), matches.next()) {
            (Some(c), None) if !want.is_empty() => Ok(c),
            _ => Err(format!(
                "{} does not contain a column whose name matches \"{name}\"",
                self.name()
            )),
        }
    }
}

/// Resolves a table name: case-insensitive, exact or unique prefix.
pub fn parse_table(name: &str) -> Result<Table, String> {
    let lower = name.to_ascii_lowercase();
    let tables = [
        Table::Bridge,
        Table::Port,
        Table::Interface,
        Table::Controller,
    ];
    if let Some(t) = tables
        .iter()
        .find(|t| t.name().to_ascii_lowercase() == lower)
    {
        return Ok(*t);
    }
    let matches: Vec<Table> = tables
        .into_iter()
        .filter(|t| !lower.is_empty() && t.name().to_ascii_lowercase().starts_with(&lower))
        .collect();
    if let [t] = matches[..] {
        return Ok(t);
    }
    const OVS_ONLY: &[&str] = &[
        "open_vswitch",
        "manager",
        "mirror",
        "netflow",
        "sflow",
        "ipfix",
        "qos",
        "queue",
        "ssl",
        "flow_table",
    ];
    if OVS_ONLY.contains(&lower.as_str()) {
        Err(format!(
            "table {name} is not supported by ofswitch (tables: Bridge, Port, Interface, Controller)"
        ))
    } else {
        Err(format!("unknown table \"{name}\""))
    }
}

/// A record: a bridge, a configured port (with its interface), a
/// bridge's LOCAL port (with its interface), or a controller of a bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rec {
    Bridge(String),
    Port { bridge: String, port: String },
    Local(String),
    Controller { bridge: String, target: String },
}

impl Rec {
    pub fn name(&self) -> &str {
        match self {
            Rec::Bridge(n) | Rec::Local(n) | Rec::Port { port: n, .. } => n,
            Rec::Controller { target, .. } => target,
        }
    }
}

/// The record of `table` named `name`.
pub fn find_rec(cfg: &Config, table: Table, name: &str) -> Option<Rec> {
    match table {
        Table::Bridge => cfg
            .bridges
            .contains_key(name)
            .then(|| Rec::Bridge(name.into())),
        Table::Port | Table::Interface => {
            if cfg.bridges.contains_key(name) {
                return Some(Rec::Local(name.into()));
            }
            cfg.port_bridge(name).map(|b| Rec::Port {
                bridge: b.into(),
                port: name.into(),
            })
        }
        Table::Controller => {
            let rec = |bridge: &str, target: &str| Rec::Controller {
                bridge: bridge.into(),
                target: target.into(),
            };
            if let Some(b) = cfg.bridges.get(name) {
                return match &b.controllers[..] {
                    [target] => Some(rec(name, target)),
                    _ => None,
                };
            }
            let mut owners = cfg
                .bridges
                .values()
                .filter(|b| b.controllers.iter().any(|t| t == name));
            match (owners.next(), owners.next()) {
                (Some(b), None) => Some(rec(&b.name, name)),
                _ => None,
            }
        }
    }
}

/// Why `name` names no `Controller` record, when the plain "no row" says
/// too little: a bridge with several controllers, or a target on several
/// bridges.
pub fn controller_lookup_hint(cfg: &Config, name: &str) -> Option<String> {
    if let Some(b) = cfg.bridges.get(name) {
        return (b.controllers.len() > 1).then(|| {
            format!(
                "bridge {name} has {} controllers; name one by its target ({})",
                b.controllers.len(),
                b.controllers.join(", ")
            )
        });
    }
    let owners: Vec<&str> = cfg
        .bridges
        .values()
        .filter(|b| b.controllers.iter().any(|t| t == name))
        .map(|b| b.name.as_str())
        .collect();
    (owners.len() > 1).then(|| {
        format!(
            "controller {name} is on bridges {}; name it by its bridge",
            owners.join(", ")
        )
    })
}

/// Every record of `table`, by name.
pub fn all_recs(cfg: &Config, table: Table) -> Vec<Rec> {
    let mut recs: Vec<Rec> = match table {
        Table::Bridge => cfg.bridges.keys().map(|b| Rec::Bridge(b.clone())).collect(),
        Table::Port | Table::Interface => cfg
            .bridges
            .values()
            .flat_map(|b| {
                std::iter::once(Rec::Local(b.name.clone())).chain(b.ports.keys().map(|p| {
                    Rec::Port {
                        bridge: b.name.clone(),
                        port: p.clone(),
                    }
                }))
            })
            .collect(),
        Table::Controller => cfg
            .bridges
            .values()
            .flat_map(|b| {
                b.controllers.iter().map(|t| Rec::Controller {
                    bridge: b.name.clone(),
                    target: t.clone(),
                })
            })
            .collect(),
    };
    recs.sort_by(|a, b| a.name().cmp(b.name()));
    recs
}

/// The type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    OptInt,
    Str,
    OptStr,
    IntSet,
    StrSet,
    Map,
    NumMap,
}

fn kind(table: Table, col: &str) -> Kind {
    match (table, col) {
        (Table::Bridge, "controller" | "ports" | "protocols") => Kind::StrSet,
        (Table::Bridge, "fail_mode") => Kind::OptStr,
        (_, "other_config" | "options" | "external_ids") => Kind::Map,
        (Table::Port, "interfaces") => Kind::StrSet,
        (Table::Port, "tag") => Kind::OptInt,
        (Table::Port, "trunks") => Kind::IntSet,
        (Table::Port, "vlan_mode" | "netns") => Kind::OptStr,
        (Table::Interface, "ofport") => Kind::Int,
        (Table::Interface, "mtu" | "mtu_request" | "ofport_request") => Kind::OptInt,
        (Table::Interface, "error" | "link_state" | "mac" | "mac_in_use") => Kind::OptStr,
        (Table::Controller, "controller_burst_limit" | "controller_rate_limit") => Kind::OptInt,
        (Table::Controller, "is_connected") => Kind::Bool,
        (Table::Controller, "role") => Kind::OptStr,
        (Table::Controller | Table::Bridge | Table::Port, "status") => Kind::Map,
        (Table::Bridge, "stp_enable") => Kind::Bool,
        (_, "statistics") => Kind::NumMap,
        _ => Kind::Str,
    }
}

/// A column's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    Bool(bool),
    Int(u64),
    OptInt(Option<u64>),
    Str(String),
    OptStr(Option<String>),
    IntSet(Vec<u64>),
    StrSet(Vec<String>),
    Map(BTreeMap<String, String>),
    NumMap(BTreeMap<String, u64>),
}

impl Val {
    /// As ovs-vsctl prints it.
    pub fn text(&self) -> String {
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(n) | Val::OptInt(Some(n)) => n.to_string(),
            Val::OptInt(None) | Val::OptStr(None) => "[]".into(),
            Val::Str(s) | Val::OptStr(Some(s)) => quote(s),
            Val::IntSet(v) => fmt_num_set(v),
            Val::StrSet(v) => fmt_str_set(v),
            Val::Map(m) => fmt_map(m),
            Val::NumMap(m) => fmt_num_map(m),
        }
    }

    /// As ovs-vsctl's `--data=bare` prints it: strings without quotes,
    /// sets and maps as space-separated items (`k=v`), nothing for an
    /// empty optional value.
    pub fn bare(&self) -> String {
        let join = |items: Vec<String>| items.join(" ");
        match self {
            Val::Bool(b) => b.to_string(),
            Val::Int(n) | Val::OptInt(Some(n)) => n.to_string(),
            Val::OptInt(None) | Val::OptStr(None) => String::new(),
            Val::Str(s) | Val::OptStr(Some(s)) => s.clone(),
            Val::IntSet(v) => join(v.iter().map(u64::to_string).collect()),
            Val::StrSet(v) => join(v.clone()),
            Val::Map(m) => join(m.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            Val::NumMap(m) => join(m.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        }
    }

    /// As JSON for scripts: numbers, strings, `null`, arrays, objects.
    pub fn json(&self) -> Json {
        match self {
            Val::Bool(b) => json!(b),
            Val::Int(n) | Val::OptInt(Some(n)) => json!(n),
            Val::OptInt(None) | Val::OptStr(None) => Json::Null,
            Val::Str(s) | Val::OptStr(Some(s)) => json!(s),
            Val::IntSet(v) => json!(v),
            Val::StrSet(v) => json!(v),
            Val::Map(m) => json!(m),
            Val::NumMap(m) => json!(m),
        }
    }

    /// The value of `key` in a map column.
    pub fn key(&self, key: &str) -> Option<Val> {
        match self {
            Val::Map(m) => m.get(key).map(|v| Val::Str(v.clone())),
            Val::NumMap(m) => m.get(key).map(|v| Val::Int(*v)),
            _ => None,
        }
    }
}

fn parse_int(s: &str) -> Result<u64, String> {
    let s = unquote(s)?;
    parse_uint(&s).ok_or_else(|| format!("\"{s}\" is not a valid integer"))
}

/// Parses user text into a value of `kind`.
fn parse_val(kind: Kind, raw: &str) -> Result<Val, String> {
    let empty = raw.trim() == "[]";
    Ok(match kind {
        Kind::Bool => match unquote(raw)?.as_str() {
            "true" => Val::Bool(true),
            "false" => Val::Bool(false),
            s => {
                return Err(format!(
                    "\"{s}\" is not a valid boolean (use true or false)"
                ))
            }
        },
        Kind::Int => Val::Int(parse_int(raw)?),
        Kind::OptInt if empty => Val::OptInt(None),
        Kind::OptInt => Val::OptInt(Some(parse_int(raw)?)),
        Kind::Str => Val::Str(unquote(raw)?),
        Kind::OptStr if empty => Val::OptStr(None),
        Kind::OptStr => Val::OptStr(Some(unquote(raw)?)),
        Kind::IntSet => {
            let mut v = parse_set(raw)?
                .iter()
                .map(|s| parse_int(s))
                .collect::<Result<Vec<_>, _>>()?;
            v.sort_unstable();
            v.dedup();
            Val::IntSet(v)
        }
        Kind::StrSet => {
            let mut v = parse_set(raw)?;
            v.sort();
            v.dedup();
            Val::StrSet(v)
        }
        Kind::Map => Val::Map(parse_map(raw)?),
        Kind::NumMap => {
            let m = parse_map(raw)?;
            Val::NumMap(
                m.into_iter()
                    .map(|(k, v)| parse_int(&v).map(|n| (k, n)))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// Reads column `col` of `rec`.
pub fn get(cfg: &Config, rt: &dyn RuntimeInfo, table: Table, rec: &Rec, col: &str) -> Val {
    match rec {
        Rec::Bridge(name) => {
            let Some(b) = cfg.bridges.get(name) else {
                return Val::OptStr(None);
            };
            match col {
                "controller" => Val::StrSet(b.controllers.clone()),
                "datapath_id" => Val::Str(format!("{:016x}", b.datapath_id)),
                "fail_mode" => Val::OptStr(b.fail_mode.map(|m| m.as_str().into())),
                "name" => Val::Str(b.name.clone()),
                "other_config" => Val::Map(b.other_config.clone()),
                "statistics" => Val::NumMap(rt.bridge_statistics(name).unwrap_or_default()),
                "status" => Val::Map(rt.bridge_status(name).unwrap_or_default()),
                "stp_enable" => Val::Bool(b.stp_enable),
                "protocols" => Val::StrSet(b.protocols.clone()),
                "datapath_type" => Val::Str(b.datapath_type.clone()),
                "external_ids" => Val::Map(b.external_ids.clone()),
                _ => {
                    let mut ports: Vec<String> = b.ports.keys().cloned().collect();
                    ports.push(b.name.clone());
                    ports.sort();
                    Val::StrSet(ports)
                }
            }
        }
        Rec::Local(bridge) => {
            let mtu_request = cfg.bridges.get(bridge).and_then(|b| b.local_mtu_request);
            match (table, col) {
                (_, "name") => Val::Str(bridge.clone()),
                (Table::Port, "interfaces") => Val::StrSet(vec![bridge.clone()]),
                (_, "other_config" | "options" | "external_ids") => Val::Map(BTreeMap::new()),
                (Table::Port, "trunks") => Val::IntSet(Vec::new()),
                (Table::Port, _) => empty(kind(table, col)),
                (_, "type") => Val::Str("internal".into()),
                (_, "ofport") => Val::Int(LOCAL_OFPORT),
                (_, "mtu_request") => Val::OptInt(mtu_request.map(u64::from)),
                (_, "mac") => Val::OptStr(None),
                (_, "ofport_request") => Val::OptInt(None),
                _ => runtime_col(rt, bridge, bridge, col),
            }
        }
        Rec::Port { bridge, port } => {
            let Some(p) = cfg.bridges.get(bridge).and_then(|b| b.ports.get(port)) else {
                return Val::OptStr(None);
            };
            let i = &p.interface;
            match (table, col) {
                (_, "name") => Val::Str(p.name.clone()),
                (Table::Port, "interfaces") => Val::StrSet(vec![p.name.clone()]),
                (Table::Port, "netns") => Val::OptStr(p.netns.clone()),
                (Table::Port, "other_config") => Val::Map(p.other_config.clone()),
                (Table::Port, "status") => {
                    Val::Map(rt.port_status(bridge, port).unwrap_or_default())
                }
                (Table::Port, "external_ids") => Val::Map(p.external_ids.clone()),
                (Table::Interface, "external_ids") => Val::Map(i.external_ids.clone()),
                (Table::Port, "tag") => Val::OptInt(p.tag.map(u64::from)),
                (Table::Port, "trunks") => {
                    Val::IntSet(p.trunks.iter().map(|&t| u64::from(t)).collect())
                }
                (Table::Port, _) => Val::OptStr(p.vlan_mode.map(|m| m.as_str().into())),
                (_, "mac") => Val::OptStr(i.mac.clone()),
                (_, "mtu_request") => Val::OptInt(i.mtu_request.map(u64::from)),
                (_, "ofport") => Val::Int(u64::from(p.ofport)),
                (_, "ofport_request") => Val::OptInt(i.ofport_request.map(u64::from)),
                (_, "options") => Val::Map(i.options.clone()),
                (_, "type") => Val::Str(i.kind.as_str().into()),
                _ => runtime_col(rt, bridge, port, col),
            }
        }
        Rec::Controller { bridge, target } => {
            let settings = cfg
                .bridges
                .get(bridge)
                .and_then(|b| b.controller_settings.get(target))
                .copied()
                .unwrap_or_default();
            let st = rt.controller(bridge, target).unwrap_or_default();
            match col {
                "controller_burst_limit" => {
                    Val::OptInt(settings.controller_burst_limit.map(u64::from))
                }
                "controller_rate_limit" => {
                    Val::OptInt(settings.controller_rate_limit.map(u64::from))
                }
                "is_connected" => Val::Bool(st.is_connected),
                "role" => Val::OptStr(st.role),
                "status" => Val::Map(st.status),
                _ => Val::Str(target.clone()),
            }
        }
    }
}

fn empty(kind: Kind) -> Val {
    match kind {
        Kind::Bool => Val::Bool(false),
        Kind::Int => Val::Int(0),
        Kind::OptInt => Val::OptInt(None),
        Kind::Str => Val::Str(String::new()),
        Kind::OptStr => Val::OptStr(None),
        Kind::IntSet => Val::IntSet(Vec::new()),
        Kind::StrSet => Val::StrSet(Vec::new()),
        Kind::Map => Val::Map(BTreeMap::new()),
        Kind::NumMap => Val::NumMap(BTreeMap::new()),
    }
}

fn runtime_col(rt: &dyn RuntimeInfo, bridge: &str, iface: &str, col: &str) -> Val {
    let st = rt.interface(bridge, iface).unwrap_or_default();
    match col {
        "error" => Val::OptStr(st.error),
        "link_state" => Val::OptStr(st.link_up.map(|up| if up { "up" } else { "down" }.into())),
        "mac_in_use" => Val::OptStr(st.mac_in_use),
        "mtu" => Val::OptInt(st.mtu.map(u64::from)),
        _ => Val::NumMap(st.statistics.unwrap_or_default()),
    }
}

/// Whether `col` of `rec` equals the user's `COLUMN[:KEY]=VALUE`.
pub fn matches(
    cfg: &Config,
    rt: &dyn RuntimeInfo,
    table: Table,
    rec: &Rec,
    arg: &ColumnArg,
) -> Result<bool, String> {
    let col = table.column(&arg.column)?;
    let raw = arg
        .value
        .as_deref()
        .ok_or_else(|| format!("{}: missing value (want COLUMN[:KEY]=VALUE)", arg.column))?;
    let cur = get(cfg, rt, table, rec, col);
    match &arg.key {
        Some(key) => {
            let want = parse_val(
                if kind(table, col) == Kind::NumMap {
                    Kind::Int
                } else {
                    Kind::Str
                },
                raw,
            )?;
            Ok(cur.key(key) == Some(want))
        }
        None => Ok(cur == parse_val(kind(table, col), raw)?),
    }
}

/// `set TABLE REC COLUMN[:KEY]=VALUE`.
pub fn set(cfg: &mut Config, table: Table, rec: &Rec, arg: &ColumnArg) -> Result<(), String> {
    let col = table.column(&arg.column)?;
    let raw = arg
        .value
        .as_deref()
        .ok_or_else(|| format!("{}: missing value (want COLUMN[:KEY]=VALUE)", arg.column))?;
    let k = kind(table, col);
    let new = match &arg.key {
        // The newer columns name themselves in their errors.
        None if table == Table::Controller => {
            parse_val(k, raw).map_err(|e| format!("{col}: {e}"))?
        }
        None => parse_val(k, raw)?,
        Some(key) => match get(cfg, &crate::config::runtime::NoRuntime, table, rec, col) {
            Val::Map(mut m) => {
                m.insert(key.clone(), unquote(raw)?);
                Val::Map(m)
            }
            _ => {
                return Err(format!(
                    "cannot specify key to set for non-map column {col}"
                ))
            }
        },
    };
    put(cfg, table, rec, col, new)
}

/// `clear TABLE REC COLUMN`.
pub fn clear(cfg: &mut Config, table: Table, rec: &Rec, col: &str) -> Result<(), String> {
    let col = table.column(col)?;
    put(cfg, table, rec, col, empty(kind(table, col)))
}

/// `add TABLE REC COLUMN VALUE...`: adds set elements or map entries.
pub fn add(
    cfg: &mut Config,
    table: Table,
    rec: &Rec,
    col: &str,
    values: &[String],
) -> Result<(), String> {
    let col = table.column(col)?;
    let k = kind(table, col);
    let mut cur = get(cfg, &crate::config::runtime::NoRuntime, table, rec, col);
    for raw in values {
        match (&mut cur, parse_val(k, raw)?) {
            (Val::IntSet(v), Val::IntSet(add)) => v.extend(add),
            (Val::StrSet(v), Val::StrSet(add)) => v.extend(add),
            (Val::Map(m), Val::Map(add)) => {
                for (key, val) in add {
                    m.entry(key).or_insert(val);
                }
            }
            (Val::OptInt(v @ None), Val::OptInt(n)) => *v = n,
            (Val::OptStr(v @ None), Val::OptStr(s)) => *v = s,
            _ => {
                return Err(format!(
                    "cannot add to column {col}: it already has a value"
                ))
            }
        }
    }
    normalize(&mut cur);
    put(cfg, table, rec, col, cur)
}

/// `remove TABLE REC COLUMN VALUE...`: removes set elements, map keys (or
/// `key=value` pairs), or an optional value equal to VALUE.
pub fn remove(
    cfg: &mut Config,
    table: Table,
    rec: &Rec,
    col: &str,
    values: &[String],
) -> Result<(), String> {
    let col = table.column(col)?;
    let k = kind(table, col);
    let mut cur = get(cfg, &crate::config::runtime::NoRuntime, table, rec, col);
    for raw in values {
        match &mut cur {
            Val::Map(m) => {
                for item in crate::config::syntax::split_list(raw)? {
                    match crate::config::syntax::find_unquoted(&item, '=') {
                        Some(i) => {
                            let key = unquote(&item[..i])?;
                            if m.get(&key) == Some(&unquote(&item[i + 1..])?) {
                                m.remove(&key);
                            }
                        }
                        None => {
                            m.remove(&unquote(&item)?);
                        }
                    }
                }
            }
            _ => match (&mut cur, parse_val(k, raw)?) {
                (Val::IntSet(v), Val::IntSet(del)) => v.retain(|x| !del.contains(x)),
                (Val::StrSet(v), Val::StrSet(del)) => v.retain(|x| !del.contains(x)),
                (Val::OptInt(v), Val::OptInt(del)) if *v == del => *v = None,
                (Val::OptStr(v), Val::OptStr(del)) if *v == del => *v = None,
                (Val::OptInt(_) | Val::OptStr(_), _) => {}
                _ => return Err(format!("cannot remove values from required column {col}")),
            },
        }
    }
    put(cfg, table, rec, col, cur)
}

fn normalize(v: &mut Val) {
    match v {
        Val::IntSet(v) => {
            v.sort_unstable();
            v.dedup();
        }
        Val::StrSet(v) => {
            v.sort();
            v.dedup();
        }
        _ => {}
    }
}

fn opt_u32(
    v: Option<u64>,
    check: fn(u32) -> Result<u32, crate::config::model::ConfigError>,
) -> Result<Option<u32>, String> {
    v.map(|n| {
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        check(n32).map_err(|e| {
            // Report the number the user gave, not the clamped one.
            e.0.replace(&n32.to_string(), &n.to_string())
        })
    })
    .transpose()
}

/// An optional limit checked by `check` (whose error names the column).
fn opt_limit(
    v: Option<u64>,
    check: fn(u64) -> Result<u32, crate::config::model::ConfigError>,
) -> Result<Option<u32>, String> {
    v.map(check).transpose().map_err(|e| e.0)
}

fn read_only(table: Table, col: &str) -> String {
    format!(
        "cannot modify read-only column {col} in table {}",
        table.name()
    )
}

/// Writes a whole column value, validating it.
fn put(cfg: &mut Config, table: Table, rec: &Rec, col: &str, val: Val) -> Result<(), String> {
    match rec {
        Rec::Bridge(name) => {
            let b = cfg
                .bridges
                .get_mut(name)
                .ok_or_else(|| format!("no row \"{name}\" in table Bridge"))?;
            match (col, val) {
                ("controller", Val::StrSet(targets)) => {
                    for t in &targets {
                        validate_controller_target(t).map_err(|e| e.0)?;
                    }
                    b.controller_settings.retain(|t, _| targets.contains(t));
                    b.controllers = targets;
                }
                ("datapath_id", Val::Str(s)) => {
                    if s.is_empty() {
                        b.other_config.remove("datapath-id");
                    } else {
                        let dpid = parse_datapath_id(&s).map_err(|e| e.0)?;
                        b.other_config
                            .insert("datapath-id".into(), format!("{dpid:016x}"));
                    }
                    b.sync_datapath_id().map_err(|e| e.0)?;
                }
                ("stp_enable", Val::Bool(on)) => b.stp_enable = on,
                ("protocols", Val::StrSet(p)) => b.protocols = p,
                ("datapath_type", Val::Str(t)) => b.datapath_type = t,
                ("external_ids", Val::Map(m)) => b.external_ids = m,
                ("fail_mode", Val::OptStr(m)) => {
                    b.fail_mode = m
                        .map(|m| m.parse::<FailMode>())
                        .transpose()
                        .map_err(|e| e.0)?;
                }
                ("other_config", Val::Map(m)) => {
                    let old = std::mem::replace(&mut b.other_config, m);
                    if let Err(e) = b.sync_datapath_id() {
                        b.other_config = old;
                        return Err(e.0);
                    }
                }
                _ => return Err(read_only(table, col)),
            }
        }
        Rec::Local(bridge) => {
            let b = cfg
                .bridges
                .get_mut(bridge)
                .ok_or_else(|| format!("no row \"{bridge}\" in table {}", table.name()))?;
            match (table, col, val) {
                (Table::Interface, "mtu_request", Val::OptInt(v)) => {
                    b.local_mtu_request = opt_u32(v, check_mtu)?;
                }
                (_, "name" | "ofport" | "interfaces" | "type", _) => return Err(read_only(table, col)),
                _ => {
                    return Err(format!(
                        "cannot modify column {col} of {bridge}: it is the local port of bridge {bridge} \
                         (only Interface mtu_request can be set on it)"
                    ))
                }
            }
        }
        Rec::Port { bridge, port } => {
            let p = cfg
                .bridges
                .get_mut(bridge)
                .and_then(|b| b.ports.get_mut(port))
                .ok_or_else(|| format!("no row \"{port}\" in table {}", table.name()))?;
            match (table, col, val) {
                (Table::Port, "tag", Val::OptInt(v)) => {
                    p.tag = v.map(check_vlan).transpose().map_err(|e| e.0)?;
                }
                (Table::Port, "trunks", Val::IntSet(v)) => {
                    p.trunks = v
                        .into_iter()
                        .map(check_vlan)
                        .collect::<Result<_, _>>()
                        .map_err(|e| e.0)?;
                }
                (Table::Port, "vlan_mode", Val::OptStr(m)) => {
                    p.vlan_mode = m
                        .map(|m| m.parse::<PortVlanMode>())
                        .transpose()
                        .map_err(|e| e.0)?;
                }
                (Table::Port, "netns", Val::OptStr(ns)) => p.netns = ns.filter(|s| !s.is_empty()),
                (Table::Port, "other_config", Val::Map(m)) => p.other_config = m,
                (Table::Port, "external_ids", Val::Map(m)) => p.external_ids = m,
                (Table::Interface, "external_ids", Val::Map(m)) => p.interface.external_ids = m,
                (Table::Interface, "type", Val::Str(t)) => {
                    p.interface.kind = t.parse::<InterfaceType>().map_err(|e| e.0)?;
                }
                (Table::Interface, "options", Val::Map(m)) => p.interface.options = m,
                (Table::Interface, "mtu_request", Val::OptInt(v)) => {
                    p.interface.mtu_request = opt_u32(v, check_mtu)?;
                }
                (Table::Interface, "ofport_request", Val::OptInt(v)) => {
                    p.interface.ofport_request = opt_u32(v, check_ofport_range)?;
                }
                (Table::Interface, "mac", Val::OptStr(m)) => {
                    p.interface.mac = m
                        .map(|m| parse_mac(&m).map(format_mac))
                        .transpose()
                        .map_err(|e| e.0)?;
                }
                (Table::Interface, "ofport", _) => {
                    return Err(format!(
                        "{} (ofport is assigned by the switch; set ofport_request instead)",
                        read_only(table, col)
                    ))
                }
                _ => return Err(read_only(table, col)),
            }
        }
        Rec::Controller { bridge, target } => {
            let b = cfg
                .bridges
                .get_mut(bridge)
                .ok_or_else(|| format!("no row \"{target}\" in table Controller"))?;
            let mut settings = b
                .controller_settings
                .get(target)
                .copied()
                .unwrap_or_default();
            match (col, val) {
                ("controller_rate_limit", Val::OptInt(v)) => {
                    settings.controller_rate_limit = opt_limit(v, check_controller_rate_limit)?;
                }
                ("controller_burst_limit", Val::OptInt(v)) => {
                    settings.controller_burst_limit = opt_limit(v, check_controller_burst_limit)?;
                }
                _ => return Err(read_only(table, col)),
            }
            if settings == Default::default() {
                b.controller_settings.remove(target);
            } else {
                b.controller_settings.insert(target.clone(), settings);
            }
        }
    }
    Ok(())
}
