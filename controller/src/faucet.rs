//! Reading Faucet's `faucet.yaml`, for the subset that means the same here.
//!
//! Understood: `vlans` (`vid`, `max_hosts`, `description`, and a numeric key
//! standing for its own vid) and `dps` (`dp_id`, `hardware`, `description`,
//! `interfaces` keyed by port number, or by name with a `number`) whose
//! interfaces are `native_vlan` (an access port) or `tagged_vlans` (a trunk),
//! with optional `name` and `description`. Anything else (ACLs, routing,
//! stacking, a port with both `native_vlan` and `tagged_vlans`) is refused
//! by name rather than ignored, because ignoring it would forward traffic
//! the operator meant to filter or separate.
//!
//! Faucet has no tunnel ports; VLANs get their vid as tunnel id, so a TOML
//! policy is the way to add tunnels.

use crate::policy::{Fallback, Policy, PolicyError, PortKey, PortRole, Switch, Vid, Vlan};
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;

/// Finds the line of a nested key: each needle is searched from the line
/// the previous one was found on. Best effort, for error messages.
fn find_line(text: &str, needles: &[String]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut at = 0;
    for n in needles {
        at += lines
            .get(at..)?
            .iter()
            .position(|l| l.contains(n.as_str()))?;
    }
    Some(at + 1)
}

struct Ctx<'a> {
    text: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, path: &[String], msg: impl Into<String>) -> Result<T, PolicyError> {
        let needles: Vec<String> = path
            .iter()
            .enumerate()
            .map(|(i, k)| {
                if i + 1 < path.len() {
                    format!("{k}:")
                } else {
                    k.clone()
                }
            })
            .collect();
        Err(PolicyError {
            line: find_line(self.text, &needles),
            key: path.join("."),
            message: msg.into(),
        })
    }

    fn check_keys(
        &self,
        path: &[String],
        m: &Mapping,
        allowed: &[&str],
    ) -> Result<(), PolicyError> {
        for k in m.keys() {
            let name = key_str(k);
            if !allowed.contains(&name.as_str()) {
                let mut p = path.to_vec();
                p.push(name.clone());
                return self.err(
                    &p,
                    format!(
                        "`{name}` is not supported (understood: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Ok(())
    }

    fn map<'v>(&self, path: &[String], v: &'v Value) -> Result<&'v Mapping, PolicyError> {
        match v {
            Value::Mapping(m) => Ok(m),
            _ => self.err(path, "expected a mapping"),
        }
    }
}

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".into(),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x") {
                Some(h) => i64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    }
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Parses a Faucet configuration into a [`Policy`].
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let cx = Ctx { text };
    let root: Value = serde_yaml::from_str(text).map_err(|e| PolicyError {
        line: e.location().map(|l| l.line()),
        key: String::new(),
        message: e.to_string(),
    })?;
    let root = cx.map(&[], &root)?;
    cx.check_keys(&[], root, &["vlans", "dps"])?;

    let mut vlans: BTreeMap<Vid, Vlan> = BTreeMap::new();
    let mut by_name: BTreeMap<String, Vid> = BTreeMap::new();
    if let Some(vs) = root.get("vlans") {
        for (k, v) in cx.map(&path(&["vlans"]), vs)? {
            let name = key_str(k);
            let p = path(&["vlans", &name]);
            let m = cx.map(&p, v)?;
            cx.check_keys(&p, m, &["vid", "description", "max_hosts", "name"])?;
            let vid = match m.get("vid").map(int).unwrap_or_else(|| int(k)) {
                Some(v) if (1..=4094).contains(&v) => v as Vid,
                Some(v) => {
                    return cx.err(
                        &[p, path(&["vid"])].concat(),
                        format!("VLAN id {v} is outside 1..4094"),
                    )
                }
                None => return cx.err(&p, "no vid"),
            };
            if let Some(other) = vlans.get(&vid) {
                return cx.err(
                    &[p, path(&["vid"])].concat(),
                    format!("VLAN id {vid} is already VLAN {:?}", other.name),
                );
            }
            let max_hosts = match m.get("max_hosts").map(int) {
                None => None,
                Some(Some(n)) if n >= 1 => Some(n as usize),
                Some(_) => {
                    return cx.err(
                        &[p, path(&["max_hosts"])].concat(),
                        "max_hosts must be at least 1",
                    )
                }
            };
            by_name.insert(name.clone(), vid);
            vlans.insert(
                vid,
                Vlan {
                    name,
                    vid,
                    tunnel_id: u64::from(vid),
                    max_hosts,
                },
            );
        }
    }

    let vlan_ref = |p: &[String], v: &Value| -> Result<Vid, PolicyError> {
        if let Value::String(s) = v {
            if let Some(vid) = by_name.get(s) {
                return Ok(*vid);
            }
        }
        match int(v).and_then(|i| Vid::try_from(i).ok()) {
            Some(vid) if vlans.contains_key(&vid) => Ok(vid),
            _ => cx.err(p, format!("VLAN {} is not declared in vlans", key_str(v))),
        }
    };

    let mut switches: Vec<Switch> = Vec::new();
    if let Some(dps) = root.get("dps") {
        for (k, v) in cx.map(&path(&["dps"]), dps)? {
            let name = key_str(k);
            let p = path(&["dps", &name]);
            let m = cx.map(&p, v)?;
            cx.check_keys(&p, m, &["dp_id", "hardware", "description", "interfaces"])?;
            let dpid = match m.get("dp_id").map(int) {
                Some(Some(d)) if d >= 0 => d as u64,
                _ => {
                    return cx.err(
                        &[p, path(&["dp_id"])].concat(),
                        "dp_id must be a non-negative integer",
                    )
                }
            };
            if let Some(other) = switches.iter().find(|s| s.dpid == dpid) {
                return cx.err(
                    &[p, path(&["dp_id"])].concat(),
                    format!("datapath id {dpid:#x} is already switch {:?}'s", other.name),
                );
            }
            let mut ports = BTreeMap::new();
            if let Some(ifs) = m.get("interfaces") {
                let ip = [p.clone(), path(&["interfaces"])].concat();
                for (pk, pv) in cx.map(&ip, ifs)? {
                    let pname = key_str(pk);
                    let pp = [ip.clone(), vec![pname.clone()]].concat();
                    let pm = cx.map(&pp, pv)?;
                    cx.check_keys(
                        &pp,
                        pm,
                        &[
                            "name",
                            "description",
                            "number",
                            "native_vlan",
                            "tagged_vlans",
                        ],
                    )?;
                    let number = pm.get("number").map(int).unwrap_or_else(|| int(pk));
                    let key = match number {
                        Some(n) if n >= 1 && n <= i64::from(openflow::types::port_no::MAX) => {
                            PortKey::Number(n as u32)
                        }
                        Some(_) => return cx.err(&pp, "not a port number"),
                        None => PortKey::Name(pname.clone()),
                    };
                    let role = match (pm.get("native_vlan"), pm.get("tagged_vlans")) {
                        (Some(v), None) => PortRole::Access(vlan_ref(
                            &[pp.clone(), path(&["native_vlan"])].concat(),
                            v,
                        )?),
                        (None, Some(Value::Sequence(vs))) if !vs.is_empty() => {
                            let tp = [pp.clone(), path(&["tagged_vlans"])].concat();
                            let mut vids = Vec::new();
                            for v in vs {
                                let vid = vlan_ref(&tp, v)?;
                                if !vids.contains(&vid) {
                                    vids.push(vid);
                                }
                            }
                            vids.sort_unstable();
                            PortRole::Trunk(vids)
                        }
                        (None, Some(_)) => {
                            return cx.err(
                                &[pp, path(&["tagged_vlans"])].concat(),
                                "tagged_vlans is a non-empty list",
                            )
                        }
                        (Some(_), Some(_)) => {
                            return cx.err(
                                &pp,
                                "native_vlan together with tagged_vlans is not supported",
                            )
                        }
                        (None, None) => return cx.err(&pp, "needs native_vlan or tagged_vlans"),
                    };
                    if ports.insert(key, role).is_some() {
                        return cx.err(&pp, "port given twice");
                    }
                }
            }
            switches.push(Switch { name, dpid, ports });
        }
    }
    Ok(Policy {
        vlans,
        switches,
        fallback: Fallback::Drop,
        max_macs: crate::policy::DEFAULT_MAX_MACS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_two_vlan_anchor() {
        let text = "\
vlans:
  office:
    vid: 100
    description: \"hosts 1-2\"
  guest:
    vid: 200
dps:
  sw1:
    dp_id: 0x10
    hardware: \"Open vSwitch\"
    interfaces:
      1: {name: h1, native_vlan: office}
      2: {name: h2, native_vlan: office}
      3: {name: h3, native_vlan: guest}
      4: {name: h4, native_vlan: 200}
      uplink: {number: 5, tagged_vlans: [office, guest]}
";
        let p = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.switch(0x10).map(|s| s.ports.len()), Some(5));
        assert_eq!(p.port_role(0x10, 1, ""), Some(PortRole::Access(100)));
        assert_eq!(p.port_role(0x10, 4, ""), Some(PortRole::Access(200)));
        assert_eq!(
            p.port_role(0x10, 5, ""),
            Some(PortRole::Trunk(vec![100, 200]))
        );
        assert_eq!(p.port_role(0x10, 6, ""), None);
    }

    #[test]
    fn refuses_what_it_does_not_implement_by_name_and_line() {
        let e = parse("vlans:\n  a: {vid: 5}\ndps:\n  s:\n    dp_id: 1\n    interfaces:\n      1: {native_vlan: a, acls_in: [x]}\n")
            .expect_err("acls refused")
            .to_string();
        assert!(e.starts_with("line 7: dps.s.interfaces.1.acls_in: "), "{e}");
        let e = parse("vlans:\n  a: {vid: 5}\ndps:\n  s:\n    dp_id: 1\n    interfaces:\n      1: {native_vlan: b}\n")
            .expect_err("undeclared VLAN")
            .to_string();
        assert!(
            e.starts_with("line 7: dps.s.interfaces.1.native_vlan: "),
            "{e}"
        );
        assert!(parse("routers: {}\n").is_err());
        assert!(parse("vlans:\n  a: {vid: 5000}\n").is_err());
        assert!(parse("vlans: [\n").expect_err("yaml").line.is_some());
        let e = parse("dps:\n  a: {dp_id: 1}\n  b: {dp_id: 1}\n")
            .expect_err("dup")
            .to_string();
        assert!(e.contains("dps.b.dp_id"), "{e}");
    }

    #[test]
    fn the_shared_anchor_file_if_present() {
        // The Faucet anchor the project's interop notes use; optional here.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/anchors/faucet-two-vlans.yaml"
        );
        if let Ok(text) = std::fs::read_to_string(path) {
            let p = parse(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(p.switch(0x10).map(|s| s.ports.len()), Some(4));
        }
    }
}
