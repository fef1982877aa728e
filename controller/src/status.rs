//! What the bundled app knows right now, as plain data: the connected
//! switches, their ports, VLANs and learned MACs.
//!
//! [`crate::vlans::VlanApp::status`] copies it out under its locks (no lock
//! is held once it returns), the control socket ([`crate::control`]) sends
//! it as JSON, and `ofcontroller status` prints it with [`render`] as
//! tables, the learned MACs like `ovs-appctl fdb/show` (`port VLAN MAC Age`).

use crate::policy::{Policy, PortRole, Vid};
use crate::session::{is_live, Session};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The whole controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Seconds since the controller started.
    pub uptime: u64,
    /// By datapath id.
    pub switches: Vec<SwitchStatus>,
}

/// One connected switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchStatus {
    /// 16 hex digits in JSON, as `ovs-vsctl get bridge BR datapath_id`.
    #[serde(with = "hex_dpid")]
    pub dpid: u64,
    /// The switch's address.
    pub peer: String,
    /// Seconds since it connected (and was resynchronised).
    pub connected: u64,
    /// Every port it reported, live or not, by number.
    pub ports: Vec<PortInfo>,
    /// The VLANs it carries (those with a live non-tunnel port), by vid.
    pub vlans: Vec<VlanStatus>,
    /// By VLAN, then MAC.
    pub macs: Vec<MacStatus>,
}

/// One port of a switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    pub number: u32,
    pub name: String,
    /// Administratively up and with a link; a port that is not has no flows.
    pub live: bool,
    /// What the policy makes of it; `None`: no flows (not in the policy).
    pub role: Option<PortRole>,
}

/// One VLAN on a switch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VlanStatus {
    pub name: String,
    pub vid: Vid,
    pub tunnel_id: u64,
    /// MACs learned in it on this switch.
    pub macs: usize,
    /// The policy's `max_hosts`; `None`: no limit.
    pub max_hosts: Option<usize>,
}

/// One learned MAC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacStatus {
    pub port: u32,
    pub vlan: Vid,
    /// `02:00:00:00:00:01`.
    pub mac: String,
    /// Seconds since it was last (re)learned.
    pub age: u64,
}

impl SwitchStatus {
    /// One switch's session, read at `now` (the learning tables' clock);
    /// down ports get the role the policy would give them.
    pub fn of(s: &Session, policy: &Policy, peer: &str, connected: u64, now: u64) -> SwitchStatus {
        let view = s.view();
        let ports = s
            .ports()
            .map(|p| PortInfo {
                number: p.port_no,
                name: p.name.clone(),
                live: is_live(p),
                role: policy.port_role(s.dpid, p.port_no, &p.name),
            })
            .collect();
        let vlans = view
            .local_vlans()
            .into_iter()
            .filter_map(|vid| {
                let v = policy.vlans.get(&vid)?;
                Some(VlanStatus {
                    name: v.name.clone(),
                    vid,
                    tunnel_id: v.tunnel_id,
                    macs: s.macs().len(vid),
                    max_hosts: v.max_hosts,
                })
            })
            .collect();
        let macs = s
            .macs()
            .entries()
            .map(|(vlan, mac, e)| MacStatus {
                port: e.port,
                vlan,
                mac: mac.to_string(),
                age: now.saturating_sub(e.learned_at),
            })
            .collect();
        SwitchStatus {
            dpid: s.dpid,
            peer: peer.to_string(),
            connected,
            ports,
            vlans,
            macs,
        }
    }
}

/// `access 10`, `trunk 10,20`, `tunnel`, `-` (no flows).
pub fn role_text(role: Option<&PortRole>) -> String {
    match role {
        Some(PortRole::Access(v)) => format!("access {v}"),
        Some(PortRole::Trunk(vs)) => {
            let vs: Vec<String> = vs.iter().map(u16::to_string).collect();
            format!("trunk {}", vs.join(","))
        }
        Some(PortRole::Tunnel) => "tunnel".into(),
        None => "-".into(),
    }
}

/// The status as `ofcontroller status` prints it: per switch a line, then
/// its ports, VLANs and learned MACs as tables.
pub fn render(st: &Status) -> String {
    let mut out = String::new();
    if st.switches.is_empty() {
        let _ = writeln!(out, "no switch connected (up {} s)", st.uptime);
    }
    for (i, sw) in st.switches.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "switch {:016x} at {}, connected {} s",
            sw.dpid, sw.peer, sw.connected
        );
        let ports = sw.ports.iter().map(|p| {
            let state = if p.live { "up" } else { "down" };
            let role = role_text(p.role.as_ref());
            vec![port_text(p.number), p.name.clone(), state.into(), role]
        });
        let cols = [("port", R), ("name", L), ("state", L), ("role", L)];
        table(&mut out, &cols, ports);
        let vlans = sw.vlans.iter().map(|v| {
            let limit = v.max_hosts.map_or("-".into(), |m| m.to_string());
            let macs = format!("{}/{limit}", v.macs);
            vec![
                v.vid.to_string(),
                v.name.clone(),
                v.tunnel_id.to_string(),
                macs,
            ]
        });
        let cols = [("VLAN", R), ("name", L), ("tunnel", R), ("MACs/max", L)];
        table(&mut out, &cols, vlans);
        let macs = sw.macs.iter().map(|m| {
            let (port, vlan, age) = (port_text(m.port), m.vlan.to_string(), m.age.to_string());
            vec![port, vlan, m.mac.clone(), age]
        });
        let cols = [("port", R), ("VLAN", R), ("MAC", L), ("Age", R)];
        table(&mut out, &cols, macs);
    }
    out
}

/// A port number, or its name if reserved (`LOCAL`), as ovs-ofctl prints it.
fn port_text(no: u32) -> String {
    openflow::types::port_no::reserved_name(no).map_or_else(|| no.to_string(), str::to_string)
}

/// Column alignments for [`table`]: left, right (numbers).
const L: bool = false;
const R: bool = true;

/// A table indented by two spaces, columns two spaces apart, each
/// `(header, right-aligned)` (its header too); nothing but the header if
/// empty.
fn table(out: &mut String, cols: &[(&str, bool)], rows: impl Iterator<Item = Vec<String>>) {
    let mut rows: Vec<Vec<String>> = rows.collect();
    rows.insert(0, cols.iter().map(|(h, _)| h.to_string()).collect());
    let widths: Vec<usize> = (0..cols.len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        let mut line = String::from(" ");
        for ((cell, w), (_, right)) in r.iter().zip(&widths).zip(cols) {
            if *right {
                let _ = write!(line, " {cell:>w$} ");
            } else {
                let _ = write!(line, " {cell:<w$} ");
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// A datapath id as 16 hex digits in JSON.
mod hex_dpid {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(dpid: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{dpid:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(|e| D::Error::custom(format!("dpid {text:?}: {e}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Status {
        Status {
            uptime: 60,
            switches: vec![SwitchStatus {
                dpid: 0xabc,
                peer: "127.0.0.1:40000".into(),
                connected: 42,
                ports: vec![
                    PortInfo {
                        number: 1,
                        name: "h1".into(),
                        live: true,
                        role: Some(PortRole::Access(10)),
                    },
                    PortInfo {
                        number: 12,
                        name: "uplink".into(),
                        live: false,
                        role: Some(PortRole::Trunk(vec![10, 20])),
                    },
                    PortInfo {
                        number: 3,
                        name: "vx0".into(),
                        live: true,
                        role: Some(PortRole::Tunnel),
                    },
                    PortInfo {
                        number: openflow::types::port_no::LOCAL,
                        name: "br0".into(),
                        live: true,
                        role: None,
                    },
                ],
                vlans: vec![VlanStatus {
                    name: "office".into(),
                    vid: 10,
                    tunnel_id: 5010,
                    macs: 1,
                    max_hosts: Some(100),
                }],
                macs: vec![MacStatus {
                    port: 1,
                    vlan: 10,
                    mac: "02:00:00:00:00:01".into(),
                    age: 7,
                }],
            }],
        }
    }

    #[test]
    fn renders_tables() {
        let text = render(&sample());
        let want = "\
switch 0000000000000abc at 127.0.0.1:40000, connected 42 s
   port  name    state  role
      1  h1      up     access 10
     12  uplink  down   trunk 10,20
      3  vx0     up     tunnel
  LOCAL  br0     up     -
  VLAN  name    tunnel  MACs/max
    10  office    5010  1/100
  port  VLAN  MAC                Age
     1    10  02:00:00:00:00:01    7
";
        assert_eq!(text, want, "\n{text}");
        assert_eq!(render(&Status::default()), "no switch connected (up 0 s)\n");
    }

    #[test]
    fn a_session_with_a_down_port_and_a_learned_mac() {
        use crate::learning::Timeouts;
        use crate::session::tests::{packet_in, port, POLICY};
        let policy = Policy::parse(POLICY).expect("valid");
        let mut s = Session::new(1, Timeouts::default());
        let mut down = port(3, "p3");
        down.state = openflow::port::state::LINK_DOWN;
        s.connect(&policy, &[port(1, "p1"), port(2, "p2"), down]);
        s.packet_in(&packet_in(2, 10, 7), 100);
        let st = SwitchStatus::of(&s, &policy, "peer", 5, 103);
        assert_eq!((st.dpid, st.peer.as_str(), st.connected), (1, "peer", 5));
        let ports: Vec<_> = st
            .ports
            .iter()
            .map(|p| (p.number, p.live, role_text(p.role.as_ref())))
            .collect();
        assert_eq!(
            ports,
            [
                (1, true, "access 10".into()),
                (2, true, "access 10".into()),
                (3, false, "access 20".into())
            ]
        );
        // VLAN b's only port is down: not carried.
        let vlans: Vec<_> = st
            .vlans
            .iter()
            .map(|v| (v.name.as_str(), v.vid, v.macs))
            .collect();
        assert_eq!(vlans, [("a", 10, 1)]);
        let mac = MacStatus {
            port: 2,
            vlan: 10,
            mac: "02:00:00:00:00:07".into(),
            age: 3,
        };
        assert_eq!(st.macs, [mac]);
    }

    #[test]
    fn json_round_trips_with_a_hex_dpid() {
        let st = sample();
        let json = serde_json::to_string(&st).expect("serializes");
        assert!(json.contains(r#""dpid":"0000000000000abc""#), "{json}");
        assert!(json.contains(r#""role":{"access":10}"#), "{json}");
        assert!(json.contains(r#""role":"tunnel""#), "{json}");
        let back: Status = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, st);
        assert!(serde_json::from_str::<Status>(&json.replace("0abc", "0xyz")).is_err());
    }
}
