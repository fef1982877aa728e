//! System ports: a Linux interface (veth, NIC, a VM's tap) the switch did
//! not create, through our `AF_PACKET` socket ([`crate::datapath::afpacket`]),
//! or through pnet with `options:backend=pnet` ([`crate::datapath::pnet`],
//! a baseline to measure against).
//!
//! A namespace port (`add-netns-port`) is a veth pair made here through
//! rtnetlink ([`crate::datapath::link`]), as `ovs-docker add-port` does:
//! the host end is the port, the pair is deleted with it.
//!
//! The interface can vanish and come back under the same name: the bridge
//! then closes the device and opens it again ([`reopen`]), with the same
//! counters. The receive side grows a ring only on a port busy enough to
//! use it, and reads the kernel's drop count now and then.

use super::{too_big, with_offload, Detach, Ingress, OpenedPort, PortContext, PortSpec};
use crate::config::model::{self, NetnsAttachment};
use crate::datapath::afpacket::{PacketSocket, RECV_BATCH};
use crate::datapath::forward::PortSink;
use crate::datapath::pnet::PnetPort;
use crate::datapath::workers::{RxRegistration, RxSource, Scratch};
use crate::datapath::{link, sys, vnet};
use crate::pipeline::ports::PortCounters;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Opens system port `spec`: for a namespace port the veth pair first
/// (else the MTU asked for is set on the interface), then the device. The
/// error is what the port's status shows; a veth pair made for a device
/// that then cannot be opened is deleted again.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> Result<OpenedPort, String> {
    let name = spec.name.as_str();
    let mut veth = false;
    if let Some((ns, att)) = &spec.netns {
        create_netns_veth(name, ns, att, spec.mtu_request)?;
        veth = true;
    } else if let Some(mtu) = spec.mtu_request {
        let _ = sys::set_mtu(name, mtu);
    }
    let (sink, rx) = match reopen(spec, ctx) {
        Ok(device) => device,
        Err(e) => {
            if veth {
                delete_veth(name);
            }
            return Err(e.to_string());
        }
    };
    let detach = veth.then(|| {
        let name = name.to_string();
        Box::new(move || delete_veth(&name)) as Detach
    });
    Ok(OpenedPort {
        sink,
        rx: Some(rx),
        mac: sys::mac_address(name).unwrap_or(model::default_bridge_mac(name)),
        up: sys::is_running(name).unwrap_or(false),
        own_device: false,
        detach,
    })
}

/// Opens the interface of system port `spec` with its back-end
/// (`options:backend`: our own `AF_PACKET` code, or pnet) and starts
/// receiving on it: the sink and the receiver. Also how the bridge opens
/// an interface again that was deleted and created anew (same name, new
/// ifindex): the veth pair and MTU are the port's, not the device's.
pub fn reopen(
    spec: &PortSpec,
    ctx: &PortContext,
) -> io::Result<(Arc<dyn PortSink>, RxRegistration)> {
    let mtu = sys::mtu(&spec.name).unwrap_or(1500);
    let counters = ctx.counters.clone();
    let port = Ingress::new(spec, ctx);
    let threads = &ctx.registry.threads;
    if spec.option("backend") == Some("pnet") {
        let dev = Arc::new(PnetPort::open(&spec.name)?);
        let sink = PnetSink {
            port: dev.clone(),
            mtu,
            counters,
        };
        let rx = threads.add(Box::new(PnetRx { dev, port }));
        Ok((Arc::new(sink), rx))
    } else {
        let sock = Arc::new(PacketSocket::open(&spec.name)?);
        let sink = PacketSink {
            sock: sock.clone(),
            mtu,
            counters,
        };
        let rx = threads.add(Box::new(PacketRx {
            sock,
            port,
            calls: 0,
            full_batches: 0,
        }));
        Ok((Arc::new(sink), rx))
    }
}

/// A system port's sink; `mtu` is read when the port is opened.
pub struct PacketSink {
    pub sock: Arc<PacketSocket>,
    pub mtu: u32,
    pub counters: Arc<PortCounters>,
}

impl PortSink for PacketSink {
    fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
        with_offload(frame, self.mtu, &self.counters, |hdr, f, flip| {
            self.sock.send_frame(hdr, f, flip, &self.counters)
        })
    }
}

/// The receiving side of an `AF_PACKET` port, on a forwarding thread.
struct PacketRx {
    sock: Arc<PacketSocket>,
    port: Ingress,
    /// Receive calls since the kernel's drop count was last read.
    calls: u32,
    /// Full receive batches in a row, without a ring (see [`GROW_AFTER`]).
    full_batches: u32,
}

/// A port without a receive ring gets one after this many full
/// `recvmmsg` batches in a row: busy enough that a ring saves a system
/// call per batch, while a quiet port keeps no ring memory (4 MiB).
const GROW_AFTER: u32 = 8;

/// How many receive calls pass between two reads of an AF_PACKET
/// socket's drop counter (drops only happen under load, when calls are
/// frequent).
const DROP_CHECK_EVERY: u32 = 16;

impl RxSource for PacketRx {
    fn fd(&self) -> RawFd {
        self.sock.fd()
    }

    fn name(&self) -> &str {
        &self.port.name
    }

    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        self.calls += 1;
        if self.calls >= DROP_CHECK_EVERY {
            self.calls = 0;
            // Frames the kernel could not queue for us: rx_dropped.
            let drops = self.sock.take_drops();
            if drops > 0 {
                self.port
                    .counters
                    .rx_dropped
                    .fetch_add(u64::from(drops), Relaxed);
            }
        }
        let mut k = 0;
        while k < budget {
            let n = self.sock.recv_batch(&mut scratch.batch)?;
            let full = n == RECV_BATCH;
            for i in 0..n {
                match scratch.batch.take(i) {
                    Some((frame, o)) => self.port.forward(frame, o),
                    // A runt (or a frame we could not take whole).
                    None => {
                        self.port.counters.rx_errors.fetch_add(1, Relaxed);
                    }
                }
            }
            k += n;
            if !self.sock.has_ring() {
                // Busy for a while: a ring, set up right after a batch
                // that emptied the queue (the kernel drops what is queued
                // then), or after a bound on a port that never catches up.
                if full {
                    self.full_batches += 1;
                }
                let busy = self.full_batches >= GROW_AFTER;
                if (busy && !full) || self.full_batches >= 8 * GROW_AFTER {
                    self.sock.grow_ring();
                }
                if !full {
                    self.full_batches = 0;
                }
            }
            if !full {
                break;
            }
        }
        Ok(k)
    }
}

/// A system port's sink through pnet (`options:backend=pnet`): no
/// offload metadata, so frames leave finished.
pub struct PnetSink {
    pub port: Arc<PnetPort>,
    pub mtu: u32,
    pub counters: Arc<PortCounters>,
}

impl PortSink for PnetSink {
    fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
        for seg in vnet::finished_segments(&frame, vnet::current()) {
            if too_big(&seg, self.mtu) {
                self.counters.tx_errors.fetch_add(1, Relaxed);
                continue;
            }
            self.port.send(&seg)?;
        }
        Ok(())
    }
}

/// The receiving side of a pnet port: one frame per call, no offload.
struct PnetRx {
    dev: Arc<PnetPort>,
    port: Ingress,
}

impl RxSource for PnetRx {
    fn fd(&self) -> RawFd {
        self.dev.fd()
    }

    fn name(&self) -> &str {
        &self.port.name
    }

    fn receive(&mut self, _scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let mut k = 0;
        while k < budget {
            let port = &mut self.port;
            let got = self.dev.try_recv(|frame| {
                port.forward(frame.to_vec(), vnet::RxOffload::default());
            })?;
            if !got {
                break;
            }
            k += 1;
        }
        Ok(k)
    }
}

/// Attaches a network namespace the way `ovs-docker add-port` does: a veth
/// pair whose host end is the port and whose other end is created inside
/// the namespace (named `ifname`, default `eth0`) with the requested MAC,
/// MTU, address and default route, then the links up. Through rtnetlink
/// ([`link`]); on failure the host end (so the pair) is deleted again.
pub fn create_netns_veth(
    port: &str,
    netns: &str,
    att: &NetnsAttachment,
    mtu: Option<u32>,
) -> Result<(), String> {
    let ns = link::Netns::open(netns)?;
    let mut host = link::Rtnl::new()?;
    // A pair left over from an earlier run (or an interface in the way).
    let _ = host.delete_link(port);
    let mac = att
        .mac_address
        .as_deref()
        .map(model::parse_mac)
        .transpose()
        .map_err(|e| format!("{port}: {e}"))?;
    let addr = att
        .ip_address
        .as_deref()
        .map(link::parse_prefix)
        .transpose()
        .map_err(|e| format!("{port}: ip_address {e}"))?;
    let gateway = att
        .gateway
        .as_deref()
        .map(|g| {
            g.trim()
                .parse::<std::net::IpAddr>()
                .map_err(|_| format!("{port}: gateway \"{g}\" is not an IP address"))
        })
        .transpose()?;
    let ifname = att.ifname.as_str();
    host.add_veth(port, ifname, Some(&ns))?;
    let rest = (|| {
        let mut inner = link::Rtnl::in_netns(&ns)?;
        if let Some(mac) = mac {
            inner.set_mac(ifname, mac)?;
        }
        if let Some(mtu) = mtu {
            inner.set_mtu(ifname, mtu)?;
            host.set_mtu(port, mtu)?;
        }
        if let Some((addr, len)) = addr {
            inner.add_address(ifname, addr, len)?;
        }
        inner.set_up(ifname)?;
        inner.set_up("lo")?;
        if let Some(gw) = gateway {
            inner.add_default_route(gw)?;
        }
        host.set_up(port)
    })();
    if rest.is_err() {
        let _ = host.delete_link(port);
    }
    rest
}

/// Removes the veth pair of a namespace port (deleting one end deletes
/// both); nothing to do when it is already gone.
pub fn delete_veth(port: &str) {
    if let Ok(mut host) = link::Rtnl::new() {
        let _ = host.delete_link(port);
    }
}
