//! A bridge's ports at run time: the device behind each configured port,
//! the receiver that runs its frames on a forwarding thread ([`PortRx`]),
//! and the sink the forwarder sends to.
//!
//! - `internal` ports (and the bridge's LOCAL port) are TAP devices named
//!   after the port, so the host (or a namespace the device is moved into)
//!   can use them, as Open vSwitch's internal ports;
//! - `patch` ports hand frames to their peer's bridge, on the same thread,
//!   with a hop limit so that a loop of patch ports cannot recurse forever;
//! - `system` ports are Linux interfaces through AF_PACKET (or pnet with
//!   `options:backend=pnet`); a namespace port's veth pair is made here;
//! - `vxlan` and `gre` ports live in `datapath::vxlan` / `datapath::gre`;
//! - `dummy` ports have no device (tests and placeholders); a port whose
//!   device cannot be opened is numbered and shown link-down, with the
//!   error in its interface status.

use crate::datapath::afpacket::PacketSocket;
use crate::datapath::forward::{Forwarder, PortSink};
use crate::datapath::link;
use crate::datapath::tap::Tap;
use crate::datapath::vnet;
use crate::datapath::workers::{ForwardingThreads, RxSource, Scratch};
use crate::pipeline::ports::PortCounters;
use crate::pipeline::{MicroflowCache, Outcome, PacketMeta};
use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, RwLock};

/// What ports of different bridges share, daemon-wide: the forwarding
/// threads, patch ports by name (where a frame sent to a patch port
/// enters: its peer's bridge and OpenFlow port number), and the tunnel
/// sockets.
pub struct PortRegistry {
    ports: RwLock<HashMap<String, (Arc<Forwarder>, u32)>>,
    pub threads: ForwardingThreads,
    pub vxlan: crate::datapath::vxlan::VxlanRegistry,
    pub gre: crate::datapath::gre::GreRegistry,
}

impl PortRegistry {
    pub fn new(threads: ForwardingThreads) -> PortRegistry {
        PortRegistry {
            ports: RwLock::default(),
            threads,
            vxlan: Default::default(),
            gre: Default::default(),
        }
    }

    pub fn insert(&self, name: &str, fwd: Arc<Forwarder>, ofport: u32) {
        if let Ok(mut m) = self.ports.write() {
            m.insert(name.to_string(), (fwd, ofport));
        }
    }

    pub fn remove(&self, name: &str) {
        if let Ok(mut m) = self.ports.write() {
            m.remove(name);
        }
    }

    fn get(&self, name: &str) -> Option<(Arc<Forwarder>, u32)> {
        self.ports.read().ok()?.get(name).cloned()
    }
}

/// Most patch hops one frame may take (a loop of patch ports ends here).
const MAX_PATCH_HOPS: u8 = 8;

thread_local! {
    static PATCH_HOPS: Cell<u8> = const { Cell::new(0) };
}

/// Sends into the peer of a patch port.
pub struct PatchSink {
    pub peer: String,
    pub registry: Arc<PortRegistry>,
    /// The cache for frames entering the peer's bridge from this patch.
    cache: Mutex<MicroflowCache>,
}

impl PatchSink {
    pub fn new(peer: &str, registry: Arc<PortRegistry>) -> PatchSink {
        PatchSink {
            peer: peer.to_string(),
            registry,
            cache: Mutex::new(MicroflowCache::with_capacity(4096)),
        }
    }
}

impl PortSink for PatchSink {
    fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
        let Some((fwd, ofport)) = self.registry.get(&self.peer) else {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("patch peer {} does not exist", self.peer),
            ));
        };
        let hops = PATCH_HOPS.with(|h| h.get());
        if hops >= MAX_PATCH_HOPS {
            return Err(io::Error::other("patch port loop"));
        }
        PATCH_HOPS.with(|h| h.set(hops + 1));
        let mut out = Vec::new();
        // The peer may be this same bridge's other patch end on this very
        // thread: never wait for the lock, use a one-off cache instead.
        match self.cache.try_lock() {
            Ok(mut cache) => fwd.handle(&mut cache, PacketMeta::port(ofport), frame, &mut out),
            Err(_) => {
                let mut cache = MicroflowCache::with_capacity(16);
                fwd.handle(&mut cache, PacketMeta::port(ofport), frame, &mut out)
            }
        }
        PATCH_HOPS.with(|h| h.set(hops));
        Ok(())
    }
}

/// A TAP port's sink; `mtu` is read when the port is opened.
pub struct TapSink {
    pub tap: Arc<Tap>,
    pub mtu: u32,
    pub counters: Arc<PortCounters>,
}

impl PortSink for TapSink {
    fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
        with_offload(frame, self.mtu, &self.counters, |hdr, mut f, flip| {
            vnet::flip_checksum(&mut f, flip);
            self.tap.send(hdr, &f)
        })
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

/// Whether `frame` is longer than a port with this MTU carries (the MTU
/// counts from the end of the Ethernet header; each VLAN tag adds 4).
fn too_big(frame: &[u8], mtu: u32) -> bool {
    let mut allowed = mtu as usize + 14;
    let mut at = 12;
    while frame.len() >= at + 4 && matches!([frame[at], frame[at + 1]], [0x81, 0x00] | [0x88, 0xa8])
    {
        allowed += 4;
        at += 4;
    }
    frame.len() > allowed
}

/// Calls `send` with the frame, its `virtio_net_hdr` from the offload
/// state of the frame being forwarded on this thread, and where its
/// complemented partial checksum is (the sender turns it back in its own
/// copy: see `vnet::tx_offload`). A frame too large for the port (and not
/// one the port can cut: TSO) is counted in `tx_errors` and not sent:
/// never truncated.
fn with_offload(
    frame: Vec<u8>,
    mtu: u32,
    counters: &PortCounters,
    send: impl Fn(&[u8; vnet::VNET_HDR_LEN], Vec<u8>, Option<usize>) -> io::Result<()>,
) -> io::Result<()> {
    let o = vnet::current();
    if !o.needs_csum {
        // A plain TCP super-segment (from a local tunnel end) too big for
        // this port: cut to the MTU.
        if let Some(segs) = vnet::fit_to_mtu(&frame, mtu) {
            for s in segs {
                send(&[0; vnet::VNET_HDR_LEN], s, None)?;
            }
            return Ok(());
        }
        if too_big(&frame, mtu) {
            counters.tx_errors.fetch_add(1, Relaxed);
            return Ok(());
        }
        return send(&[0; vnet::VNET_HDR_LEN], frame, None);
    }
    if !o.is_gso() && too_big(&frame, mtu) {
        counters.tx_errors.fetch_add(1, Relaxed);
        return Ok(());
    }
    let (hdr, flip) = vnet::tx_offload(&frame, o);
    send(&hdr, frame, flip)
}

/// A port without a device: frames sent to it are dropped.
pub struct NullSink;

impl PortSink for NullSink {
    fn send(&self, _: Vec<u8>, _: u64) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::NotConnected, "no device"))
    }
}

/// A system port's sink through pnet (`options:backend=pnet`): no
/// offload metadata, so frames leave finished.
pub struct PnetSink {
    pub port: Arc<crate::datapath::pnet::PnetPort>,
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

/// A device frames arrive on: an `AF_PACKET` socket, the same through
/// pnet, or a TAP.
pub enum Device {
    Packet(Arc<PacketSocket>),
    Pnet(Arc<crate::datapath::pnet::PnetPort>),
    Tap(Arc<Tap>),
}

/// The receiving side of one device-backed port, run by a forwarding
/// thread: frames into the port's bridge, with the port's own microflow
/// cache.
pub struct PortRx {
    name: String,
    dev: Device,
    ofport: u32,
    fwd: Arc<Forwarder>,
    counters: Arc<PortCounters>,
    cache: MicroflowCache,
    out: Vec<Outcome>,
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

impl PortRx {
    pub fn new(
        name: &str,
        dev: Device,
        ofport: u32,
        fwd: Arc<Forwarder>,
        counters: Arc<PortCounters>,
    ) -> PortRx {
        PortRx {
            name: name.to_string(),
            dev,
            ofport,
            fwd,
            counters,
            cache: MicroflowCache::default(),
            out: Vec::new(),
            calls: 0,
            full_batches: 0,
        }
    }

    fn forward(&mut self, frame: Vec<u8>, o: vnet::RxOffload) {
        if frame.len() < 14 {
            // A runt (or a frame we could not take whole): dropped, counted.
            self.counters.rx_errors.fetch_add(1, Relaxed);
            return;
        }
        let (fwd, cache, out) = (&self.fwd, &mut self.cache, &mut self.out);
        vnet::with_rx(o, || {
            fwd.handle(cache, PacketMeta::port(self.ofport), frame, out)
        });
    }
}

impl RxSource for PortRx {
    fn fd(&self) -> RawFd {
        match &self.dev {
            Device::Packet(s) => s.fd(),
            Device::Pnet(p) => p.fd(),
            Device::Tap(t) => t.fd(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        self.calls += 1;
        if self.calls >= DROP_CHECK_EVERY {
            self.calls = 0;
            if let Device::Packet(s) = &self.dev {
                // Frames the kernel could not queue for us: rx_dropped.
                let drops = s.take_drops();
                if drops > 0 {
                    self.counters
                        .rx_dropped
                        .fetch_add(u64::from(drops), Relaxed);
                }
            }
        }
        let mut k = 0;
        while k < budget {
            match &self.dev {
                Device::Packet(s) => {
                    let s = s.clone();
                    let n = s.recv_batch(&mut scratch.batch)?;
                    let full = n == crate::datapath::afpacket::RECV_BATCH;
                    for i in 0..n {
                        match scratch.batch.take(i) {
                            Some((frame, o)) => self.forward(frame, o),
                            // A runt (or a frame we could not take whole).
                            None => {
                                self.counters.rx_errors.fetch_add(1, Relaxed);
                            }
                        }
                    }
                    k += n;
                    if !s.has_ring() {
                        // Busy for a while: a ring, set up right after a
                        // batch that emptied the queue (the kernel drops
                        // what is queued then), or after a bound on a port
                        // that never catches up.
                        if full {
                            self.full_batches += 1;
                        }
                        let busy = self.full_batches >= GROW_AFTER;
                        if (busy && !full) || self.full_batches >= 8 * GROW_AFTER {
                            s.grow_ring();
                        }
                        if !full {
                            self.full_batches = 0;
                        }
                    }
                    if !full {
                        break;
                    }
                }
                Device::Pnet(p) => {
                    let p = p.clone();
                    let got = p.try_recv(|frame| {
                        self.forward(frame.to_vec(), vnet::RxOffload::default());
                    })?;
                    if !got {
                        break;
                    }
                    k += 1;
                }
                Device::Tap(t) => {
                    let t = t.clone();
                    match t.try_recv(&mut scratch.buf)? {
                        Some((n, o)) => {
                            self.forward(scratch.buf[..n].to_vec(), o);
                            k += 1;
                        }
                        None => break,
                    }
                }
            }
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
    att: &crate::config::model::NetnsAttachment,
    mtu: Option<u32>,
) -> Result<(), String> {
    let ns = link::Netns::open(netns)?;
    let mut host = link::Rtnl::new()?;
    // A pair left over from an earlier run (or an interface in the way).
    let _ = host.delete_link(port);
    let mac = att
        .mac_address
        .as_deref()
        .map(crate::config::model::parse_mac)
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
