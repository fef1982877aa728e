//! GRE tunnel ports carrying Ethernet (protocol 0x6558, "gretap"), over
//! the kernel's own IPv4 stack through one raw IPPROTO_GRE socket shared
//! by every GRE port of the daemon. Wire-compatible with Linux `gretap`
//! devices and Open vSwitch's `gre` ports: the key (when present) is the
//! packet's `tunnel_id` in, and the port's key (or the packet's
//! `tunnel_id` with `key=flow`) out.
//!
//! A raw socket receives every GRE packet of the namespace: a datagram
//! belongs to the port whose `remote_ip` sent it and whose key matches
//! (found through a snapshot published when ports come and go, no lock
//! per packet). Raw sockets have no GSO, so frames leave finished
//! (checksums, TSO cut in software), but batched: the segments are
//! written straight into the forwarding thread's send batch and leave
//! with one `sendmmsg` per batch. Packets are received with `recvmmsg`,
//! and the TCP segments of one connection are joined back into a
//! super-segment for the receiving port
//! ([`crate::datapath::tcp_join`]), as for VXLAN; unfinished inner
//! checksums from a local tunnel end are finished on the way in (or
//! joined and left to offload).
//!
//! As a port kind ([`super`]): [`open`] parses the port's options and
//! attaches it to the shared socket; removing the port detaches it.

use super::tunnel::{self, RefusalLog, Undelivered};
use super::vxlan::TunnelKey;
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
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

const IPPROTO_GRE: libc::c_int = 47;
const PROTO_TEB: u16 = 0x6558;
const F_CSUM: u16 = 0x8000;
const F_KEY: u16 = 0x2000;
const F_SEQ: u16 = 0x1000;

/// Opens GRE port `spec` on the daemon's GRE socket, to
/// `options:remote_ip` with `options:key`; the error is what the port's
/// status shows.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> Result<OpenedPort, String> {
    let remote = spec
        .option("remote_ip")
        .and_then(|r| r.parse::<Ipv4Addr>().ok());
    let key = parse_key(spec.option("key"));
    let (remote, key) = match (remote, key) {
        (None, _) => return Err("options:remote_ip must be an IPv4 address".to_string()),
        (_, Err(e)) => return Err(e),
        (Some(remote), Ok(key)) => (remote, key),
    };
    let sink = ctx
        .registry
        .gre
        .attach(
            &spec.name,
            remote,
            key,
            spec.ofport,
            ctx.fwd.clone(),
            &ctx.registry.threads,
            ctx.counters.clone(),
        )
        .map_err(|e| e.to_string())?;
    Ok(OpenedPort {
        detach: Some(unregister(spec, ctx, |r, name| r.gre.detach(name))),
        ..OpenedPort::deviceless(spec, Arc::new(sink), true)
    })
}

/// `options:key` of a GRE port: 32 bits, or `flow`.
pub fn parse_key(s: Option<&str>) -> Result<Option<TunnelKey>, String> {
    match s {
        None => Ok(None),
        Some(v) => TunnelKey::parse_value(v, u32::MAX)
            .map(Some)
            .ok_or_else(|| format!("bad GRE key {v:?} (0 to 4294967295, or flow)")),
    }
}

#[derive(Clone)]
struct Endpoint {
    remote: Ipv4Addr,
    /// `None`: no key on the wire.
    key: Option<TunnelKey>,
    ofport: u32,
    fwd: Arc<Forwarder>,
    /// The port's counters, for what arrives and no port takes.
    counters: Arc<PortCounters>,
}

struct Shared {
    fd: OwnedFd,
    /// The ports by name (changed under the registry's lock) ...
    endpoints: Mutex<HashMap<String, Endpoint>>,
    /// ... and as the receive side reads them: by remote address.
    by_remote: ArcSwap<HashMap<Ipv4Addr, Vec<Endpoint>>>,
}

impl Shared {
    /// Publishes the endpoints for the receive side.
    fn publish(&self, eps: &HashMap<String, Endpoint>) {
        let mut by_remote: HashMap<Ipv4Addr, Vec<Endpoint>> = HashMap::new();
        for e in eps.values() {
            by_remote.entry(e.remote).or_default().push(e.clone());
        }
        self.by_remote.store(Arc::new(by_remote));
    }
}

/// The daemon's GRE socket; opened with the first GRE port.
#[derive(Default)]
pub struct GreRegistry {
    shared: Mutex<Option<(Arc<Shared>, RxRegistration)>>,
}

impl GreRegistry {
    /// Adds GRE port `name`; returns its sink, which counts refused sends
    /// in `counters`.
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        &self,
        name: &str,
        remote: Ipv4Addr,
        key: Option<TunnelKey>,
        ofport: u32,
        fwd: Arc<Forwarder>,
        threads: &ForwardingThreads,
        counters: Arc<PortCounters>,
    ) -> io::Result<GreSink> {
        let mut slot = self
            .shared
            .lock()
            .map_err(|_| io::Error::other("GRE registry poisoned"))?;
        if slot.is_none() {
            let s = Arc::new(open_socket()?);
            let rx = threads.add(Box::new(GreRx {
                s: s.clone(),
                caches: HashMap::new(),
                out: Vec::new(),
                batch: RecvMmsg::new(),
                refused: RefusalLog::default(),
            }));
            *slot = Some((s, rx));
        }
        let Some((s, _)) = slot.as_ref() else {
            return Err(io::Error::other("GRE socket missing"));
        };
        if let Ok(mut eps) = s.endpoints.lock() {
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
            s.publish(&eps);
        }
        // Raw sockets take no UDP GSO: one datagram per message.
        let no_gso = Arc::new(AtomicBool::new(false));
        Ok(GreSink {
            shared: s.clone(),
            dest: Dest::new(SocketAddr::new(IpAddr::V4(remote), 0), no_gso),
            key,
            counters,
        })
    }

    pub fn detach(&self, name: &str) {
        let Ok(mut slot) = self.shared.lock() else {
            return;
        };
        let empty = match slot.as_ref() {
            Some((s, _)) => s
                .endpoints
                .lock()
                .map(|mut eps| {
                    if eps.remove(name).is_some() {
                        s.publish(&eps);
                    }
                    eps.is_empty()
                })
                .unwrap_or(false),
            None => false,
        };
        if empty {
            // Stops the receiver; the socket closes with the last sink.
            *slot = None;
        }
    }
}

fn open_socket() -> io::Result<Shared> {
    // SAFETY: plain socket(2); checked and owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            IPPROTO_GRE,
        )
    };
    if raw < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("GRE raw socket: {e}")));
    }
    // SAFETY: fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        crate::datapath::sys::set_socket_buffer(
            &fd,
            force,
            plain,
            super::vxlan::TUNNEL_SOCKET_BUFFER,
        );
    }
    Ok(Shared {
        fd,
        endpoints: Mutex::new(HashMap::new()),
        by_remote: ArcSwap::from_pointee(HashMap::new()),
    })
}

/// Source address, key and inner frame of an IPv4 GRE packet carrying
/// Ethernet, if it is one.
pub fn decap(pkt: &[u8]) -> Option<(Ipv4Addr, Option<u32>, &[u8])> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if ihl < 20 || pkt.len() < ihl + 4 {
        return None;
    }
    let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
    let g = &pkt[ihl..];
    let flags = u16::from_be_bytes([g[0], g[1]]);
    if flags & 0x0007 != 0 || u16::from_be_bytes([g[2], g[3]]) != PROTO_TEB {
        return None; // version != 0, or not Ethernet
    }
    let mut at = 4;
    if flags & F_CSUM != 0 {
        at += 4;
    }
    let key = if flags & F_KEY != 0 {
        let k = g.get(at..at + 4)?;
        at += 4;
        Some(u32::from_be_bytes([k[0], k[1], k[2], k[3]]))
    } else {
        None
    };
    if flags & F_SEQ != 0 {
        at += 4;
    }
    let inner = g.get(at..)?;
    (inner.len() >= 14).then_some((src, key, inner))
}

/// The GRE header for an Ethernet payload, with `key` if any: 4 or 8
/// bytes.
pub fn header(key: Option<u32>) -> GreHeader {
    let mut h = GreHeader([0; 8], 4);
    let flags = if key.is_some() { F_KEY } else { 0 };
    h.0[..2].copy_from_slice(&flags.to_be_bytes());
    h.0[2..4].copy_from_slice(&PROTO_TEB.to_be_bytes());
    if let Some(k) = key {
        h.0[4..].copy_from_slice(&k.to_be_bytes());
        h.1 = 8;
    }
    h
}

/// A GRE header's bytes and length.
pub struct GreHeader([u8; 8], usize);

impl std::ops::Deref for GreHeader {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

/// The receiving side of the GRE socket, on a forwarding thread.
struct GreRx {
    s: Arc<Shared>,
    caches: HashMap<u32, MicroflowCache>,
    out: Vec<crate::pipeline::Outcome>,
    batch: RecvMmsg,
    /// Warnings about packets no port takes.
    refused: RefusalLog,
}

/// The port a packet from `src` with `key` belongs to.
fn endpoint(
    eps: &HashMap<Ipv4Addr, Vec<Endpoint>>,
    src: Ipv4Addr,
    key: Option<u32>,
) -> Option<&Endpoint> {
    eps.get(&src)?.iter().find(|e| match (e.key, key) {
        (None, None) => true,
        (Some(TunnelKey::Flow), _) => true,
        (Some(TunnelKey::Fixed(a)), Some(b)) => a == b,
        _ => false,
    })
}

impl RxSource for GreRx {
    fn fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }

    fn name(&self) -> &str {
        "GRE socket"
    }

    fn receive(&mut self, _scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let want = budget.min(mmsg::RECV_MSGS);
        let n = self.batch.recv(self.s.fd.as_raw_fd(), want)?;
        let eps = self.s.by_remote.load();
        let mut delivery = tunnel::Delivery::new(&mut self.caches, &mut self.out);
        for i in 0..n {
            let pkt = self.batch.data(i);
            let (ep, key, inner) = match decap(pkt) {
                Some((src, key, inner)) => match endpoint(&eps, src, key) {
                    Some(ep) => (ep, key, inner),
                    None => {
                        refuse(&self.refused, &eps, src, Undelivered::Key(key));
                        continue;
                    }
                },
                None => {
                    // The socket sees every GRE packet of the namespace:
                    // one that is not Ethernet over GRE is an error only
                    // from a peer of ours.
                    if let Some(src) = source(pkt).filter(|s| eps.contains_key(s)) {
                        refuse(&self.refused, &eps, src, Undelivered::Malformed);
                    }
                    continue;
                }
            };
            let src = tunnel::Source {
                fwd: &ep.fwd,
                ofport: ep.ofport,
                tunnel_id: u64::from(key.unwrap_or(0)),
            };
            delivery.push(src, inner);
        }
        delivery.finish();
        Ok(n)
    }
}

/// Counts and reports a packet from `src` that no port takes.
fn refuse(
    log: &RefusalLog,
    eps: &HashMap<Ipv4Addr, Vec<Endpoint>>,
    src: Ipv4Addr,
    why: Undelivered,
) {
    let peer = eps.get(&src).and_then(|e| e.first());
    tunnel::undelivered(
        "GRE socket",
        log,
        IpAddr::V4(src),
        peer.map(|e| &*e.counters),
        why,
    );
}

/// The IPv4 source address of a packet the raw socket received.
fn source(pkt: &[u8]) -> Option<Ipv4Addr> {
    let a = pkt.get(12..16)?;
    Some(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
}

/// Sends into one GRE tunnel.
pub struct GreSink {
    shared: Arc<Shared>,
    /// The remote end (the raw socket takes no port).
    dest: Dest,
    key: Option<TunnelKey>,
    counters: Arc<PortCounters>,
}

impl PortSink for GreSink {
    fn send(&self, frame: Vec<u8>, tunnel_id: u64) -> io::Result<()> {
        let key = match self.key {
            None => None,
            Some(TunnelKey::Fixed(k)) => Some(k),
            Some(TunnelKey::Flow) => Some(tunnel_id as u32),
        };
        let hdr = header(key);
        let o = vnet::current();
        txbatch::queue_datagrams(
            self.shared.fd.as_raw_fd(),
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
    fn header_and_decap() {
        let mut pkt = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 47, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        pkt.extend_from_slice(&header(Some(42)));
        pkt.extend([0xab; 60]);
        let (src, key, inner) = decap(&pkt).expect("gre");
        assert_eq!(
            (src, key, inner.len()),
            (Ipv4Addr::new(10, 0, 0, 2), Some(42), 60)
        );
        let mut nokey = pkt[..20].to_vec();
        nokey.extend_from_slice(&header(None));
        nokey.extend([0xab; 60]);
        assert_eq!(decap(&nokey).map(|d| d.1), Some(None));
        let mut ip_in_gre = nokey.clone();
        ip_in_gre[22..24].copy_from_slice(&0x0800u16.to_be_bytes());
        assert!(decap(&ip_in_gre).is_none(), "not Ethernet");
        assert!(decap(&[0x45]).is_none());
        assert_eq!(parse_key(Some("flow")), Ok(Some(TunnelKey::Flow)));
        assert_eq!(
            parse_key(Some("4294967295")),
            Ok(Some(TunnelKey::Fixed(u32::MAX)))
        );
        assert!(parse_key(Some("-1")).is_err());
    }
}
