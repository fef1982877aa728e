//! OpenFlow connection targets, in Open vSwitch's syntax: active
//! `tcp:IP[:PORT]` and `ssl:IP[:PORT]` (the switch connects to a
//! controller), passive `ptcp:[PORT][:IP]`, `pssl:[PORT][:IP]` and
//! `punix:PATH` (the switch listens, for ovs-ofctl and friends). IPv6
//! addresses go in brackets (`tcp:[::1]:6653`). The default port is 6653,
//! the IANA OpenFlow port. `ssl:` and `pssl:` use the switch's TLS
//! identity (`vsctl set-ssl`, see [`super::tls`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// The IANA-assigned OpenFlow port.
pub const OPENFLOW_PORT: u16 = 6653;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Tcp(SocketAddr),
    Ssl(SocketAddr),
    Ptcp(SocketAddr),
    /// Like `Ptcp`, with TLS and client certificates.
    Pssl(SocketAddr),
    Punix(PathBuf),
}

impl Target {
    /// Whether the switch connects out (as opposed to listening).
    pub fn is_active(&self) -> bool {
        matches!(self, Target::Tcp(_) | Target::Ssl(_))
    }

    pub fn parse(s: &str) -> Result<Target, String> {
        let bad = |why: &str| Err(format!("bad OpenFlow target {s:?}: {why}"));
        let Some((kind, rest)) = s.split_once(':') else {
            return bad(
                "expected tcp:IP[:PORT], ssl:IP[:PORT], ptcp:[PORT][:IP], pssl:[PORT][:IP] or punix:PATH",
            );
        };
        match kind {
            "tcp" | "ssl" => {
                let addr = match parse_host_port(rest) {
                    Ok((Some(ip), port)) => SocketAddr::new(ip, port.unwrap_or(OPENFLOW_PORT)),
                    Ok((None, _)) => return bad("missing the controller's IP address"),
                    Err(e) => return bad(&e),
                };
                Ok(if kind == "tcp" {
                    Target::Tcp(addr)
                } else {
                    Target::Ssl(addr)
                })
            }
            "ptcp" | "pssl" => {
                // ptcp:[PORT][:IP]: port first, as in Open vSwitch.
                let (port, ip) = match rest.split_once(':') {
                    Some((p, ip)) => (p, Some(ip)),
                    None => (rest, None),
                };
                let port = if port.is_empty() {
                    OPENFLOW_PORT
                } else {
                    match port.parse::<u16>() {
                        Ok(p) => p,
                        Err(_) => return bad("the port is not a number from 0 to 65535"),
                    }
                };
                let ip = match ip {
                    None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    Some(ip) => match ip.trim_matches(|c| c == '[' || c == ']').parse() {
                        Ok(ip) => ip,
                        Err(_) => return bad("the listening address is not an IP address"),
                    },
                };
                let addr = SocketAddr::new(ip, port);
                Ok(if kind == "ptcp" {
                    Target::Ptcp(addr)
                } else {
                    Target::Pssl(addr)
                })
            }
            "punix" => {
                if rest.is_empty() {
                    return bad("missing the socket path");
                }
                Ok(Target::Punix(PathBuf::from(rest)))
            }
            _ => bad("unknown kind (use tcp:, ssl:, ptcp:, pssl: or punix:)"),
        }
    }
}

/// `IP[:PORT]`, `[IPv6][:PORT]`, or a bare IPv6 address.
fn parse_host_port(s: &str) -> Result<(Option<IpAddr>, Option<u16>), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| "the port is not a number from 0 to 65535".to_string())
    };
    if s.is_empty() {
        return Ok((None, None));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else {
            return Err("unclosed '[' in the address".into());
        };
        let ip: IpAddr = ip.parse().map_err(|_| "not an IP address".to_string())?;
        let p = match after.strip_prefix(':') {
            Some(p) => Some(port(p)?),
            None if after.is_empty() => None,
            None => return Err("unexpected text after ']'".into()),
        };
        return Ok((Some(ip), p));
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok((Some(ip), None));
    }
    match s.rsplit_once(':') {
        Some((ip, p)) => {
            let ip: IpAddr = ip.parse().map_err(|_| "not an IP address".to_string())?;
            Ok((Some(ip), Some(port(p)?)))
        }
        None => Err("not an IP address".into()),
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hp = |a: &SocketAddr| match a.ip() {
            IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
            IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
        };
        match self {
            Target::Tcp(a) => write!(f, "tcp:{}", hp(a)),
            Target::Ssl(a) => write!(f, "ssl:{}", hp(a)),
            Target::Ptcp(a) => write!(f, "ptcp:{}:{}", a.port(), a.ip()),
            Target::Pssl(a) => write!(f, "pssl:{}:{}", a.port(), a.ip()),
            Target::Punix(p) => write!(f, "punix:{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_ovs_accepts() {
        let ok = [
            ("tcp:127.0.0.1", "tcp:127.0.0.1:6653"),
            ("tcp:10.0.0.1:6633", "tcp:10.0.0.1:6633"),
            ("tcp:[::1]:6653", "tcp:[::1]:6653"),
            ("tcp:::1", "tcp:[::1]:6653"),
            ("ssl:192.0.2.1:6653", "ssl:192.0.2.1:6653"),
            ("ptcp:", "ptcp:6653:0.0.0.0"),
            ("ptcp:6634", "ptcp:6634:0.0.0.0"),
            ("ptcp:6634:127.0.0.1", "ptcp:6634:127.0.0.1"),
            ("ptcp:0:127.0.0.1", "ptcp:0:127.0.0.1"),
            ("punix:/run/x.sock", "punix:/run/x.sock"),
            ("pssl:", "pssl:6653:0.0.0.0"),
            ("pssl:6634", "pssl:6634:0.0.0.0"),
            ("pssl:6634:127.0.0.1", "pssl:6634:127.0.0.1"),
            ("pssl:6634:[::1]", "pssl:6634:::1"),
        ];
        for (s, want) in ok {
            let t = Target::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(t.to_string(), want, "{s}");
        }
        assert!(Target::parse("tcp:1.2.3.4")
            .map(|t| t.is_active())
            .unwrap_or(false));
        assert!(!Target::parse("ptcp:")
            .map(|t| t.is_active())
            .unwrap_or(true));
        assert_eq!(
            Target::parse("pssl:6634:127.0.0.1"),
            Ok(Target::Pssl(SocketAddr::from(([127, 0, 0, 1], 6634))))
        );
        assert!(Target::parse("ssl:127.0.0.1")
            .map(|t| t.is_active())
            .unwrap_or(false));
        assert!(!Target::parse("pssl:")
            .map(|t| t.is_active())
            .unwrap_or(true));
    }

    #[test]
    fn bad_targets_name_the_problem() {
        for (s, why) in [
            ("6653", "expected tcp:"),
            ("tcp:", "missing the controller's IP"),
            ("tcp:host:6653", "not an IP address"),
            ("tcp:1.2.3.4:99999", "port is not a number"),
            ("ptcp:abc", "port is not a number"),
            ("ptcp:6653:nowhere", "listening address"),
            ("pssl:x", "port is not a number"),
            ("pssl:6653:nowhere", "listening address"),
            ("ssl:", "missing the controller's IP"),
            ("punix:", "missing the socket path"),
            ("udp:1.2.3.4", "unknown kind"),
            ("tcp:[::1", "unclosed"),
        ] {
            let e = Target::parse(s).expect_err(s);
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
