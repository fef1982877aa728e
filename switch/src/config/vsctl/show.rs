//! `show`: the overview of every bridge, laid out as `ovs-vsctl show` does
//! (same indentation, same `key: value` lines, same quoting) so eyes and
//! greps trained on OVS work, plus each interface's OpenFlow port number
//! (`ofport: 3`), which OVS's show leaves out. There is no leading
//! Open_vSwitch UUID line: the switch has no such record.
//!
//! The JSON form is a plain document for scripts, not OVSDB's. It also
//! carries the SSL settings, which the text leaves out as ovs-vsctl's
//! `show` does (checked against Open vSwitch 3.1; `get-ssl` prints them).

use crate::config::model::{Bridge, Config, Port, OFPP_LOCAL};
use crate::config::runtime::RuntimeInfo;
use crate::config::syntax::{fmt_map, fmt_num_set, quote};
use serde_json::{json, Value as Json};
use std::fmt::Write;

/// `show` as text.
pub fn text(cfg: &Config, rt: &dyn RuntimeInfo) -> String {
    let mut out = String::new();
    for b in cfg.bridges.values() {
        bridge_text(&mut out, b, rt);
    }
    out
}

fn bridge_text(out: &mut String, b: &Bridge, rt: &dyn RuntimeInfo) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "    Bridge {}", quote(&b.name));
    for target in &b.controllers {
        let _ = writeln!(out, "        Controller {}", quote(target));
        if let Some(st) = rt.controller(&b.name, target) {
            if st.is_connected {
                let _ = writeln!(out, "            is_connected: true");
            }
            if let Some(role) = st.role {
                let _ = writeln!(out, "            role: {}", quote(&role));
            }
        }
    }
    if let Some(mode) = b.fail_mode {
        let _ = writeln!(out, "        fail_mode: {}", mode.as_str());
    }
    let mut names: Vec<&str> = b.ports.keys().map(String::as_str).collect();
    names.push(&b.name);
    names.sort_unstable();
    for name in names {
        match b.ports.get(name) {
            Some(p) => port_text(out, b, p, rt),
            None => {
                let _ = writeln!(out, "        Port {}", quote(&b.name));
                let _ = writeln!(out, "            Interface {}", quote(&b.name));
                let _ = writeln!(out, "                type: internal");
                let _ = writeln!(out, "                ofport: LOCAL");
                iface_error(out, b, &b.name, rt);
            }
        }
    }
}

fn port_text(out: &mut String, b: &Bridge, p: &Port, rt: &dyn RuntimeInfo) {
    let _ = writeln!(out, "        Port {}", quote(&p.name));
    if let Some(tag) = p.tag {
        let _ = writeln!(out, "            tag: {tag}");
    }
    if !p.trunks.is_empty() {
        let _ = writeln!(out, "            trunks: {}", fmt_num_set(&p.trunks));
    }
    if let Some(mode) = p.vlan_mode {
        let _ = writeln!(out, "            vlan_mode: {}", mode.as_str());
    }
    if let Some(ns) = &p.netns {
        let _ = writeln!(out, "            netns: {}", quote(ns));
    }
    let i = &p.interface;
    let _ = writeln!(out, "            Interface {}", quote(&p.name));
    if i.kind != crate::config::model::InterfaceType::System {
        let _ = writeln!(out, "                type: {}", i.kind);
    }
    if !i.options.is_empty() {
        let _ = writeln!(out, "                options: {}", fmt_map(&i.options));
    }
    let _ = writeln!(out, "                ofport: {}", p.ofport);
    iface_error(out, b, &p.name, rt);
}

fn iface_error(out: &mut String, b: &Bridge, iface: &str, rt: &dyn RuntimeInfo) {
    if let Some(e) = rt.interface(&b.name, iface).and_then(|s| s.error) {
        let _ = writeln!(out, "                error: {}", quote(&e));
    }
}

/// `show` as JSON: `{"bridges": [{name, datapath_id, fail_mode,
/// controllers: [{target, is_connected, role}], ports: [{name, ofport,
/// tag, trunks, vlan_mode, netns, interface: {name, type, options,
/// mtu_request, link_state, mac_in_use, error}}]}], "ssl": {private_key,
/// certificate, ca_cert}}`; unknowns (and an unset ssl) are `null`.
pub fn json(cfg: &Config, rt: &dyn RuntimeInfo) -> Json {
    let bridges: Vec<Json> = cfg
        .bridges
        .values()
        .map(|b| {
            let controllers: Vec<Json> = b
                .controllers
                .iter()
                .map(|t| {
                    let st = rt.controller(&b.name, t);
                    json!({
                        "target": t,
                        "is_connected": st.as_ref().map(|s| s.is_connected),
                        "role": st.and_then(|s| s.role),
                    })
                })
                .collect();
            let mut ports = vec![port_json(
                rt,
                &b.name,
                &b.name,
                OFPP_LOCAL,
                json!({"type": "internal", "options": {}, "mtu_request": b.local_mtu_request}),
                json!({"tag": null, "trunks": [], "vlan_mode": null, "netns": null}),
            )];
            ports.extend(b.ports.values().map(|p| {
                port_json(
                    rt,
                    &b.name,
                    &p.name,
                    p.ofport,
                    json!({
                        "type": p.interface.kind.as_str(),
                        "options": p.interface.options,
                        "mtu_request": p.interface.mtu_request,
                    }),
                    json!({
                        "tag": p.tag,
                        "trunks": p.trunks,
                        "vlan_mode": p.vlan_mode.map(|m| m.as_str()),
                        "netns": p.netns,
                    }),
                )
            }));
            ports.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            json!({
                "name": b.name,
                "datapath_id": format!("{:016x}", b.datapath_id),
                "fail_mode": b.fail_mode.map(|m| m.as_str()),
                "controllers": controllers,
                "ports": ports,
            })
        })
        .collect();
    let ssl = cfg.ssl.as_ref().map(|s| {
        json!({
            "private_key": s.private_key,
            "certificate": s.certificate,
            "ca_cert": s.ca_cert,
        })
    });
    json!({ "bridges": bridges, "ssl": ssl })
}

fn port_json(
    rt: &dyn RuntimeInfo,
    bridge: &str,
    name: &str,
    ofport: u32,
    iface: Json,
    port: Json,
) -> Json {
    let st = rt.interface(bridge, name).unwrap_or_default();
    let mut iface = iface;
    iface["name"] = json!(name);
    iface["link_state"] = json!(st.link_up.map(|up| if up { "up" } else { "down" }));
    iface["mac_in_use"] = json!(st.mac_in_use);
    iface["error"] = json!(st.error);
    let mut port = port;
    port["name"] = json!(name);
    port["ofport"] = json!(ofport);
    port["interface"] = iface;
    port
}
