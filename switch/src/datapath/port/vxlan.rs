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
//! The fast path, as the kernel's own vxlan device works:
//! - Send: a TSO super-segment is cut into MSS-sized inner segments, each
//!   behind its VXLAN header, written back to back into the forwarding
//!   thread's send batch and handed to the kernel as one UDP GSO message
//!   (`UDP_SEGMENT`): one system call per TSO frame, or per batch of small
//!   frames (`sendmmsg` with an address per message), and the outer UDP
//!   checksum left to the kernel. Equal datagrams of successive frames to
//!   one peer (small frames, or MSS-sized segments from a host without
//!   TSO) share one GSO message too ([`txbatch`]), which the peer's socket
//!   takes whole with `UDP_GRO`. A route that cannot take UDP GSO (no
//!   checksum offload on its device) gets the datagrams one by one, and
//!   one whose MTU a GSO message overruns gets them one by one to
//!   fragment.
//! - Receive: `UDP_GRO` on the socket and `recvmmsg`, so a train of
//!   datagrams arrives in one call; the inner TCP segments of one
//!   connection are joined back into one super-segment
//!   ([`crate::datapath::tcp_join`]) that leaves its port with a GSO
//!   header.
//! - The ports of a socket are found through a snapshot published when a
//!   port comes or goes (as flows are): no lock per datagram.
//!
//! Frames arriving from a tunnel end on this same machine may carry an
//! unfinished inner checksum (the kernel never computed it): those, and
//! only those, are finished on receive (or joined, and left to offload).
//!
//! As a port kind ([`super`]): [`open`] parses the port's options and
//! attaches it to the socket of its UDP port; removing the port detaches
//! it, and the socket closes with its last port.

use super::tunnel::{self, RefusalLog, Undelivered};
use super::{unregister, OpenedPort, PortContext, PortSpec};
use crate::datapath::forward::{Forwarder, PortSink};
use crate::datapath::mmsg::{self, RecvMmsg};
use crate::datapath::txbatch::{self, Dest};
use crate::datapath::vnet;
use crate::datapath::workers::{ForwardingThreads, RxRegistration, RxSource, Scratch};
use crate::pipeline::ports::PortCounters;
use crate::pipeline::MicroflowCache;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// Receive and send buffer of a tunnel socket, in bytes.
pub const TUNNEL_SOCKET_BUFFER: libc::c_int = 8 << 20;

/// The IANA VXLAN port.
pub const VXLAN_PORT: u16 = 4789;
const HDR: usize = 8;
const FLAG_VNI: u8 = 0x08;

/// Opens VXLAN port `spec` on the daemon's socket for its UDP port
/// (`options:dst_port`, 4789 by default), to `options:remote_ip` with
/// `options:key`; the error is what the port's status shows.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> Result<OpenedPort, String> {
    let remote = spec
        .option("remote_ip")
        .and_then(|r| r.parse::<IpAddr>().ok());
    let key = TunnelKey::parse(spec.option("key"));
    let udp_port = match spec.option("dst_port").map(|v| v.parse::<u16>()) {
        None => Ok(VXLAN_PORT),
        Some(Ok(n)) => Ok(n),
        Some(Err(_)) => Err("bad options:dst_port".to_string()),
    };
    let (remote, key, udp_port) = match (remote, key, udp_port) {
        (None, _, _) => return Err("options:remote_ip must be an IP address".to_string()),
        (_, Err(e), _) | (_, _, Err(e)) => return Err(e),
        (Some(remote), Ok(key), Ok(udp_port)) => (remote, key, udp_port),
    };
    let vxlan = &ctx.registry.vxlan;
    let sink = vxlan
        .attach(
            &spec.name,
            udp_port,
            remote,
            key,
            spec.ofport,
            ctx.fwd.clone(),
            &ctx.registry.threads,
            ctx.counters.clone(),
        )
        .map_err(|e| {
            // What the attachment registered before it failed.
            vxlan.detach(&spec.name);
            e.to_string()
        })?;
    Ok(OpenedPort {
        detach: Some(unregister(spec, ctx, |r, name| r.vxlan.detach(name))),
        ..OpenedPort::deviceless(spec, Arc::new(sink), true)
    })
}

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
    /// The port's counters, for what arrives and no port takes.
    counters: Arc<PortCounters>,
}

/// A UDP socket shared by the VXLAN ports on one destination port.
pub struct VxlanSocket {
    sock: UdpSocket,
    /// The ports by name (changed under the registry's lock) ...
    endpoints: Mutex<HashMap<String, Endpoint>>,
    /// ... and as the receive side reads them: by remote address.
    by_remote: ArcSwap<HashMap<IpAddr, Vec<Endpoint>>>,
    /// Whether the kernel takes UDP GSO sends on this socket.
    gso_ok: Arc<AtomicBool>,
}

impl VxlanSocket {
    /// Publishes the endpoints for the receive side.
    fn publish(&self, eps: &HashMap<String, Endpoint>) {
        let mut by_remote: HashMap<IpAddr, Vec<Endpoint>> = HashMap::new();
        for e in eps.values() {
            by_remote
                .entry(unmap(e.remote))
                .or_default()
                .push(e.clone());
        }
        self.by_remote.store(Arc::new(by_remote));
    }
}

/// The daemon's VXLAN sockets by UDP port, each with its receiver on a
/// forwarding thread; a socket lives while a port uses it.
#[derive(Default)]
pub struct VxlanRegistry {
    sockets: Mutex<HashMap<u16, (Arc<VxlanSocket>, RxRegistration)>>,
}

impl VxlanRegistry {
    /// Adds VXLAN port `name`; returns its sink, which counts refused
    /// sends in `counters`.
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
        counters: Arc<PortCounters>,
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
                        batch: RecvMmsg::new(),
                        refused: RefusalLog::default(),
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
                    counters: counters.clone(),
                },
            );
            sock.publish(&eps);
        }
        // An IPv6 (dual-stack) socket sends to IPv4 peers through mapped
        // addresses; decided once here, not per frame.
        let dst = match (remote, sock.sock.local_addr()?) {
            (IpAddr::V4(v4), SocketAddr::V6(_)) => IpAddr::V6(v4.to_ipv6_mapped()),
            _ => remote,
        };
        let to = SocketAddr::new(dst, udp_port);
        Ok(VxlanSink {
            dest: Dest::new(to, sock.gso_ok.clone()),
            sock,
            key,
            counters,
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
                if eps.remove(name).is_some() {
                    s.publish(&eps);
                }
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
    // Room for bursts: a GRO message is up to 64 KiB, and the default
    // buffer (about 200 KiB) overflows within one TSO window.
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        crate::datapath::sys::set_socket_buffer(&sock, force, plain, TUNNEL_SOCKET_BUFFER);
    }
    if let Err(e) = mmsg::enable_udp_gro(sock.as_raw_fd()) {
        tracing::debug!("VXLAN UDP port {port}: no UDP GRO ({e}); one datagram per message");
    }
    Ok(VxlanSocket {
        sock,
        endpoints: Mutex::new(HashMap::new()),
        by_remote: ArcSwap::from_pointee(HashMap::new()),
        gso_ok: Arc::new(AtomicBool::new(true)),
    })
}

/// An IPv4-mapped IPv6 address as IPv4 (how a dual-stack socket names
/// IPv4 peers).
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
    batch: RecvMmsg,
    /// Warnings about datagrams no port takes.
    refused: RefusalLog,
}

/// The port a datagram from `from` with `vni` belongs to.
fn endpoint(eps: &HashMap<IpAddr, Vec<Endpoint>>, from: IpAddr, vni: u32) -> Option<&Endpoint> {
    eps.get(&from)?.iter().find(|e| match e.key {
        TunnelKey::Fixed(k) => k == vni,
        TunnelKey::Flow => true,
    })
}

impl RxSource for VxlanRx {
    fn fd(&self) -> RawFd {
        self.s.sock.as_raw_fd()
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn receive(&mut self, _scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let want = budget.min(mmsg::RECV_MSGS);
        let n = self.batch.recv(self.s.sock.as_raw_fd(), want)?;
        let eps = self.s.by_remote.load();
        let mut delivery = tunnel::Delivery::new(&mut self.caches, &mut self.out);
        let mut datagrams = 0;
        for i in 0..n {
            let Some(from) = self.batch.from(i) else {
                continue;
            };
            for d in self.batch.datagrams(i) {
                datagrams += 1;
                let delivered =
                    decap(d).map(|(vni, inner)| (vni, inner, endpoint(&eps, from, vni)));
                let (vni, inner, ep) = match delivered {
                    Some((vni, inner, Some(ep))) => (vni, inner, ep),
                    refused => {
                        let why = match refused {
                            Some((vni, ..)) => Undelivered::Key(Some(vni)),
                            None => Undelivered::Malformed,
                        };
                        let peer = eps.get(&from).and_then(|e| e.first());
                        tunnel::undelivered(
                            &self.name,
                            &self.refused,
                            from,
                            peer.map(|e| &*e.counters),
                            why,
                        );
                        continue;
                    }
                };
                let src = tunnel::Source {
                    fwd: &ep.fwd,
                    ofport: ep.ofport,
                    tunnel_id: u64::from(vni),
                };
                delivery.push(src, inner);
            }
        }
        delivery.finish();
        // A full batch means more may be waiting, however few datagrams
        // it held.
        Ok(if n == want {
            datagrams.max(budget)
        } else {
            datagrams.min(budget - 1)
        })
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
    dest: Dest,
    key: TunnelKey,
    counters: Arc<PortCounters>,
}

impl PortSink for VxlanSink {
    fn send(&self, frame: Vec<u8>, tunnel_id: u64) -> io::Result<()> {
        let vni = match self.key {
            TunnelKey::Fixed(k) => k,
            TunnelKey::Flow => (tunnel_id & 0x00ff_ffff) as u32,
        };
        let hdr = header(vni);
        let o = vnet::current();
        txbatch::queue_datagrams(
            self.sock.sock.as_raw_fd(),
            &self.dest,
            &self.counters,
            |out| vnet::append_finished_segments(&frame, o, &hdr, out),
        )
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
