//! GRE tunnel ports carrying Ethernet (protocol 0x6558, "gretap"), over
//! the kernel's own IPv4 stack through one raw IPPROTO_GRE socket shared
//! by every GRE port of the daemon. Wire-compatible with Linux `gretap`
//! devices and Open vSwitch's `gre` ports: the key (when present) is the
//! packet's `tunnel_id` in, and the port's key (or the packet's
//! `tunnel_id` with `key=flow`) out.
//!
//! A raw socket receives every GRE packet of the namespace: a datagram
//! belongs to the port whose `remote_ip` sent it and whose key matches.
//! As for VXLAN, frames leave finished (checksums, TSO cut in software)
//! and unfinished inner checksums from a local tunnel end are finished on
//! the way in.

use super::forward::{Forwarder, PortSink};
use super::vnet;
use super::vxlan::TunnelKey;
use super::workers::{ForwardingThreads, RxRegistration, RxSource, Scratch};
use crate::pipeline::{MicroflowCache, PacketMeta};
use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

const IPPROTO_GRE: libc::c_int = 47;
const PROTO_TEB: u16 = 0x6558;
const F_CSUM: u16 = 0x8000;
const F_KEY: u16 = 0x2000;
const F_SEQ: u16 = 0x1000;

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
}

struct Shared {
    fd: OwnedFd,
    endpoints: Mutex<HashMap<String, Endpoint>>,
}

/// The daemon's GRE socket; opened with the first GRE port.
#[derive(Default)]
pub struct GreRegistry {
    shared: Mutex<Option<(Arc<Shared>, RxRegistration)>>,
}

impl GreRegistry {
    pub fn attach(
        &self,
        name: &str,
        remote: Ipv4Addr,
        key: Option<TunnelKey>,
        ofport: u32,
        fwd: Arc<Forwarder>,
        threads: &ForwardingThreads,
    ) -> io::Result<GreSink> {
        let mut slot = self
            .shared
            .lock()
            .map_err(|_| io::Error::other("GRE registry poisoned"))?;
        if slot.is_none() {
            let s = Arc::new(open()?);
            let rx = threads.add(Box::new(GreRx {
                s: s.clone(),
                caches: HashMap::new(),
                out: Vec::new(),
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
                },
            );
        }
        Ok(GreSink {
            shared: s.clone(),
            remote,
            key,
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
                    eps.remove(name);
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

fn open() -> io::Result<Shared> {
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
    Ok(Shared {
        fd,
        endpoints: Mutex::new(HashMap::new()),
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

/// The GRE header for an Ethernet payload, with `key` if any.
pub fn header(key: Option<u32>) -> Vec<u8> {
    let mut h = Vec::with_capacity(8);
    let flags = if key.is_some() { F_KEY } else { 0 };
    h.extend_from_slice(&flags.to_be_bytes());
    h.extend_from_slice(&PROTO_TEB.to_be_bytes());
    if let Some(k) = key {
        h.extend_from_slice(&k.to_be_bytes());
    }
    h
}

/// The receiving side of the GRE socket, on a forwarding thread.
struct GreRx {
    s: Arc<Shared>,
    caches: HashMap<u32, MicroflowCache>,
    out: Vec<crate::pipeline::Outcome>,
}

impl RxSource for GreRx {
    fn fd(&self) -> RawFd {
        self.s.fd.as_raw_fd()
    }

    fn name(&self) -> &str {
        "GRE socket"
    }

    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let buf = &mut scratch.buf;
        let mut k = 0;
        while k < budget {
            // SAFETY: recv(2) into a live buffer of the given length.
            let n = unsafe {
                libc::recv(
                    self.s.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::WouldBlock {
                    break;
                }
                return Err(e);
            }
            k += 1;
            let Some((src, key, inner)) = decap(&buf[..n as usize]) else {
                continue;
            };
            let ep = self.s.endpoints.lock().ok().and_then(|eps| {
                eps.values()
                    .find(|e| {
                        e.remote == src
                            && match (e.key, key) {
                                (None, None) => true,
                                (Some(TunnelKey::Flow), _) => true,
                                (Some(TunnelKey::Fixed(a)), Some(b)) => a == b,
                                _ => false,
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
                tunnel_id: u64::from(key.unwrap_or(0)),
            };
            let mut frame = inner.to_vec();
            crate::packet::finish_if_partial(&mut frame);
            let cache = self.caches.entry(ep.ofport).or_default();
            let out = &mut self.out;
            vnet::with_rx(vnet::RxOffload::default(), || {
                ep.fwd.handle(cache, meta, frame, out)
            });
        }
        Ok(k)
    }
}

/// Sends into one GRE tunnel.
pub struct GreSink {
    shared: Arc<Shared>,
    remote: Ipv4Addr,
    key: Option<TunnelKey>,
}

impl PortSink for GreSink {
    fn send(&self, frame: &[u8], tunnel_id: u64) -> io::Result<()> {
        let key = match self.key {
            None => None,
            Some(TunnelKey::Fixed(k)) => Some(k),
            Some(TunnelKey::Flow) => Some(tunnel_id as u32),
        };
        // SAFETY: an all-zero sockaddr_in is valid to fill in.
        let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_addr.s_addr = u32::from_ne_bytes(self.remote.octets());
        for seg in vnet::finished_segments(frame, vnet::current()) {
            let mut d = header(key);
            d.extend_from_slice(&seg);
            // SAFETY: sendto(2) from a live buffer to a valid sockaddr_in.
            let n = unsafe {
                libc::sendto(
                    self.shared.fd.as_raw_fd(),
                    d.as_ptr().cast(),
                    d.len(),
                    0,
                    (&sin as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
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
        pkt.extend(header(Some(42)));
        pkt.extend([0xab; 60]);
        let (src, key, inner) = decap(&pkt).expect("gre");
        assert_eq!(
            (src, key, inner.len()),
            (Ipv4Addr::new(10, 0, 0, 2), Some(42), 60)
        );
        let mut nokey = pkt[..20].to_vec();
        nokey.extend(header(None));
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
