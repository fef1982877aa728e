//! VXLAN tunnel ports over the kernel's own UDP stack (RFC 7348).
//!
//! One UDP socket per destination port (4789 by default) serves every VXLAN
//! port of the daemon that uses that UDP port, as Open vSwitch's single
//! `vxlan_sys_4789` does: a received datagram belongs to the tunnel port
//! whose `remote_ip` sent it and whose key matches its VNI (or that takes
//! any key, `key=flow`). The VNI becomes the packet's `tunnel_id`; on
//! send, the VNI is the port's key, or the packet's `tunnel_id` with
//! `key=flow`.
//!
//! Frames leave finished: a partial checksum is completed and a TSO
//! super-segment is cut into MSS-sized segments in software, since the
//! encapsulated frame crosses a UDP socket that knows nothing of offloads.
//! Frames arriving from a tunnel end on this same machine may carry an
//! unfinished inner checksum (the kernel never computed it): those, and
//! only those, are finished on receive.

use super::forward::{Forwarder, PortSink};
use super::vnet;
use super::workers::{ForwardingThreads, RxRegistration, RxSource, Scratch};
use crate::pipeline::{MicroflowCache, PacketMeta};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};

/// The IANA VXLAN port.
pub const VXLAN_PORT: u16 = 4789;
const HDR: usize = 8;
const FLAG_VNI: u8 = 0x08;

/// Which VNIs a tunnel port carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TunnelKey {
    /// This VNI only, both ways.
    Fixed(u32),
    /// Any VNI in (as `tunnel_id`); out, the packet's `tunnel_id`.
    Flow,
}

impl TunnelKey {
    /// `options:key`: absent means 0, `flow` means any.
    pub fn parse(s: Option<&str>) -> Result<TunnelKey, String> {
        match s {
            None => Ok(TunnelKey::Fixed(0)),
            Some(v) => TunnelKey::parse_value(v, 0x00ff_ffff)
                .ok_or_else(|| format!("bad VXLAN key {v:?} (0 to 16777215, or flow)")),
        }
    }

    /// `flow`, or a decimal or `0x` hexadecimal key of at most `max`
    /// (VXLAN and GRE keys differ only in width).
    pub fn parse_value(v: &str, max: u32) -> Option<TunnelKey> {
        if v == "flow" {
            return Some(TunnelKey::Flow);
        }
        let n = match v.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => v.parse(),
        };
        n.ok().filter(|n| *n <= max).map(TunnelKey::Fixed)
    }
}

/// One VXLAN port as the receive side sees it.
#[derive(Clone)]
struct Endpoint {
    remote: IpAddr,
    key: TunnelKey,
    ofport: u32,
    fwd: Arc<Forwarder>,
}

/// A UDP socket shared by the VXLAN ports on one destination port.
pub struct VxlanSocket {
    sock: UdpSocket,
    endpoints: Mutex<HashMap<String, Endpoint>>,
}

/// The daemon's VXLAN sockets by UDP port, each with its receiver on a
/// forwarding thread; a socket lives while a port uses it.
#[derive(Default)]
pub struct VxlanRegistry {
    sockets: Mutex<HashMap<u16, (Arc<VxlanSocket>, RxRegistration)>>,
}

impl VxlanRegistry {
    /// Adds VXLAN port `name`; returns its sink.
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        &self,
        name: &str,
        udp_port: u16,
        remote: IpAddr,
        key: TunnelKey,
        ofport: u32,
        fwd: Arc<Forwarder>,
        threads: &ForwardingThreads,
    ) -> io::Result<VxlanSink> {
        let sock = {
            let mut map = self
                .sockets
                .lock()
                .map_err(|_| io::Error::other("VXLAN registry poisoned"))?;
            match map.get(&udp_port) {
                Some((s, _)) => s.clone(),
                None => {
                    let s = Arc::new(open_socket(udp_port)?);
                    let rx = threads.add(Box::new(VxlanRx {
                        s: s.clone(),
                        name: format!("VXLAN UDP port {udp_port}"),
                        caches: HashMap::new(),
                        out: Vec::new(),
                    }));
                    map.insert(udp_port, (s.clone(), rx));
                    s
                }
            }
        };
        if let Ok(mut eps) = sock.endpoints.lock() {
            eps.insert(
                name.to_string(),
                Endpoint {
                    remote,
                    key,
                    ofport,
                    fwd,
                },
            );
        }
        // An IPv6 (dual-stack) socket sends to IPv4 peers through mapped
        // addresses; decided once here, not per frame.
        let dst = match (remote, sock.sock.local_addr()?) {
            (IpAddr::V4(v4), SocketAddr::V6(_)) => IpAddr::V6(v4.to_ipv6_mapped()),
            _ => remote,
        };
        Ok(VxlanSink {
            sock,
            remote: SocketAddr::new(dst, udp_port),
            key,
        })
    }

    /// Removes VXLAN port `name`; the socket closes with its last port.
    pub fn detach(&self, name: &str) {
        let Ok(mut map) = self.sockets.lock() else {
            return;
        };
        let mut empty = Vec::new();
        for (port, (s, _)) in map.iter() {
            if let Ok(mut eps) = s.endpoints.lock() {
                eps.remove(name);
                if eps.is_empty() {
                    empty.push(*port);
                }
            }
        }
        for p in empty {
            map.remove(&p);
        }
    }
}

fn open_socket(port: u16) -> io::Result<VxlanSocket> {
    // Dual-stack: IPv6 socket accepting IPv4-mapped peers.
    let sock = UdpSocket::bind(("::", port))
        .or_else(|_| UdpSocket::bind(("0.0.0.0", port)))
        .map_err(|e| io::Error::new(e.kind(), format!("VXLAN UDP port {port}: {e}")))?;
    sock.set_nonblocking(true)?;
    Ok(VxlanSocket {
        sock,
        endpoints: Mutex::new(HashMap::new()),
    })
}

fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The receiving side of one VXLAN socket, on a forwarding thread.
struct VxlanRx {
    s: Arc<VxlanSocket>,
    name: String,
    caches: HashMap<u32, MicroflowCache>,
    out: Vec<crate::pipeline::Outcome>,
}

impl RxSource for VxlanRx {
    fn fd(&self) -> RawFd {
        self.s.sock.as_raw_fd()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let buf = &mut scratch.buf;
        let mut k = 0;
        while k < budget {
            let (n, from) = match self.s.sock.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            k += 1;
            let Some((vni, inner)) = decap(&buf[..n]) else {
                continue;
            };
            let from = unmap(from.ip());
            let ep = self.s.endpoints.lock().ok().and_then(|eps| {
                eps.values()
                    .find(|e| {
                        unmap(e.remote) == from
                            && match e.key {
                                TunnelKey::Fixed(k) => k == vni,
                                TunnelKey::Flow => true,
                            }
                    })
                    .cloned()
            });
            let Some(ep) = ep else {
                continue;
            };
            let meta = PacketMeta {
                in_port: ep.ofport,
                in_phy_port: ep.ofport,
                tunnel_id: u64::from(vni),
            };
            let cache = self.caches.entry(ep.ofport).or_default();
            let mut frame = inner.to_vec();
            crate::packet::finish_if_partial(&mut frame);
            let out = &mut self.out;
            vnet::with_rx(vnet::RxOffload::default(), || {
                ep.fwd.handle(cache, meta, frame, out)
            });
        }
        Ok(k)
    }
}

/// The VNI and inner frame of a VXLAN datagram, if it is one.
pub fn decap(d: &[u8]) -> Option<(u32, &[u8])> {
    if d.len() < HDR + 14 || d[0] & FLAG_VNI == 0 {
        return None;
    }
    let vni = u32::from_be_bytes([0, d[4], d[5], d[6]]);
    Some((vni, &d[HDR..]))
}

/// The VXLAN header for `vni`.
pub fn header(vni: u32) -> [u8; HDR] {
    let v = (vni & 0x00ff_ffff) << 8;
    let b = v.to_be_bytes();
    [FLAG_VNI, 0, 0, 0, b[0], b[1], b[2], b[3]]
}

/// Sends into one VXLAN tunnel.
pub struct VxlanSink {
    sock: Arc<VxlanSocket>,
    /// The peer, in the socket's address family.
    remote: SocketAddr,
    key: TunnelKey,
}

impl PortSink for VxlanSink {
    fn send(&self, frame: &[u8], tunnel_id: u64) -> io::Result<()> {
        let vni = match self.key {
            TunnelKey::Fixed(k) => k,
            TunnelKey::Flow => (tunnel_id & 0x00ff_ffff) as u32,
        };
        for seg in vnet::finished_segments(frame, vnet::current()) {
            let mut d = Vec::with_capacity(HDR + seg.len());
            d.extend_from_slice(&header(vni));
            d.extend_from_slice(&seg);
            self.sock.sock.send_to(&d, self.remote)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_decap_round_trip() {
        let h = header(0x12_3456);
        assert_eq!(h, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0]);
        let mut d = h.to_vec();
        d.extend_from_slice(&[0xab; 60]);
        let (vni, inner) = decap(&d).expect("vxlan");
        assert_eq!((vni, inner.len()), (0x12_3456, 60));
        assert!(decap(&[0u8; 70]).is_none(), "I flag missing");
        assert!(decap(&h).is_none(), "no inner frame");
    }

    #[test]
    fn keys() {
        assert_eq!(TunnelKey::parse(None), Ok(TunnelKey::Fixed(0)));
        assert_eq!(TunnelKey::parse(Some("flow")), Ok(TunnelKey::Flow));
        assert_eq!(TunnelKey::parse(Some("42")), Ok(TunnelKey::Fixed(42)));
        assert_eq!(TunnelKey::parse(Some("0x2a")), Ok(TunnelKey::Fixed(42)));
        assert!(TunnelKey::parse(Some("16777216")).is_err());
        assert!(TunnelKey::parse(Some("x")).is_err());
    }
}
