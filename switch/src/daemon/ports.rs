//! A bridge's ports at run time: the device behind each configured port,
//! the task that receives its frames, and the sink the forwarder sends to.
//!
//! - `internal` ports (and the bridge's LOCAL port) are TAP devices named
//!   after the port, so the host (or a namespace the device is moved into)
//!   can use them, as Open vSwitch's internal ports;
//! - `patch` ports hand frames to their peer's bridge, on the same thread,
//!   with a hop limit so that a loop of patch ports cannot recurse forever;
//! - `dummy` ports have no device (tests and placeholders);
//! - `system`, `vxlan` and `gre` ports need the datapath of issue 6: they
//!   get their OpenFlow number and appear in PORT_DESC as link-down, with
//!   an error the interface status shows.

use crate::datapath::forward::{Forwarder, PortSink};
use crate::datapath::tap::Tap;
use crate::datapath::vnet;
use crate::pipeline::{MicroflowCache, PacketMeta};
use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};
use tokio::task::JoinHandle;

/// What ports of different bridges share, daemon-wide: patch ports by
/// name (where a frame sent to a patch port enters: its peer's bridge and
/// OpenFlow port number), and the VXLAN sockets.
#[derive(Default)]
pub struct PortRegistry {
    ports: RwLock<HashMap<String, (Arc<Forwarder>, u32)>>,
    pub vxlan: crate::datapath::vxlan::VxlanRegistry,
    pub gre: crate::datapath::gre::GreRegistry,
}

impl PortRegistry {
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
    fn send(&self, frame: &[u8], _tunnel_id: u64) -> io::Result<()> {
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
            Ok(mut cache) => fwd.handle(
                &mut cache,
                PacketMeta::port(ofport),
                frame.to_vec(),
                &mut out,
            ),
            Err(_) => {
                let mut cache = MicroflowCache::with_capacity(16);
                fwd.handle(
                    &mut cache,
                    PacketMeta::port(ofport),
                    frame.to_vec(),
                    &mut out,
                )
            }
        }
        PATCH_HOPS.with(|h| h.set(hops));
        Ok(())
    }
}

/// A TAP port's sink; `mtu` is read when the port is opened.
pub struct TapSink(pub Arc<Tap>, pub u32);

impl PortSink for TapSink {
    fn send(&self, frame: &[u8], _tunnel_id: u64) -> io::Result<()> {
        with_offload(frame, self.1, |hdr, f| self.0.send(hdr, f))
    }
}

/// Calls `send` with the frame as it must leave (partial checksum back in
/// place) and its `virtio_net_hdr`, from the offload state of the frame
/// being forwarded on this thread.
fn with_offload(
    frame: &[u8],
    mtu: u32,
    send: impl Fn(&[u8; vnet::VNET_HDR_LEN], &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let o = vnet::current();
    if !o.needs_csum {
        // A plain TCP super-segment (from a local tunnel end) too big for
        // this port: cut to the MTU.
        if let Some(segs) = vnet::fit_to_mtu(frame, mtu) {
            for s in segs {
                send(&[0; vnet::VNET_HDR_LEN], &s)?;
            }
            return Ok(());
        }
        return send(&[0; vnet::VNET_HDR_LEN], frame);
    }
    let mut f = frame.to_vec();
    vnet::from_complemented(&mut f, o);
    let hdr = vnet::tx_header(&f, o);
    send(&hdr, &f)
}

/// A port without a device: frames sent to it are dropped.
pub struct NullSink;

impl PortSink for NullSink {
    fn send(&self, _: &[u8], _: u64) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::NotConnected, "no device"))
    }
}

/// Receives frames from a TAP forever and runs them through the bridge.
pub fn spawn_tap_rx(tap: Arc<Tap>, ofport: u32, fwd: Arc<Forwarder>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut cache = MicroflowCache::default();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            match tap.recv(&mut buf).await {
                Ok((n, o)) => {
                    vnet::with_rx(o, || {
                        fwd.handle(
                            &mut cache,
                            PacketMeta::port(ofport),
                            buf[..n].to_vec(),
                            &mut out,
                        )
                    });
                }
                Err(e) => {
                    tracing::warn!("{}: receive failed: {e}", tap.name());
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// A system port's sink; `mtu` is read when the port is opened.
pub struct PacketSink(pub Arc<crate::datapath::afpacket::PacketSocket>, pub u32);

impl PortSink for PacketSink {
    fn send(&self, frame: &[u8], _tunnel_id: u64) -> io::Result<()> {
        with_offload(frame, self.1, |hdr, f| self.0.send(hdr, f))
    }
}

/// Receives frames from an `AF_PACKET` socket forever.
pub fn spawn_packet_rx(
    sock: Arc<crate::datapath::afpacket::PacketSocket>,
    ofport: u32,
    fwd: Arc<Forwarder>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut cache = MicroflowCache::default();
        let mut out = Vec::new();
        let mut buf = Vec::with_capacity(65_540);
        loop {
            match sock.recv(&mut buf).await {
                Ok((n, o)) => {
                    vnet::with_rx(o, || {
                        fwd.handle(
                            &mut cache,
                            PacketMeta::port(ofport),
                            buf[..n].to_vec(),
                            &mut out,
                        )
                    });
                }
                Err(e) => {
                    tracing::warn!("{}: receive failed: {e}", sock.name());
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    })
}

/// Attaches a network namespace the way `ovs-docker add-port` does: a veth
/// pair whose host end is the port and whose other end is moved into the
/// namespace (named `ifname`, default `eth0`) with the requested MAC, MTU,
/// address and default route. Uses iproute2's `ip`.
pub fn create_netns_veth(
    port: &str,
    netns: &str,
    other: &std::collections::BTreeMap<String, String>,
    mtu: Option<u32>,
) -> Result<(), String> {
    let ip = |args: &[&str]| -> Result<(), String> {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let ns_path = std::path::Path::new("/var/run/netns").join(netns);
    if !ns_path.exists() {
        return Err(format!("no network namespace named {netns}"));
    }
    let ifname = other.get("ifname").map(String::as_str).unwrap_or("eth0");
    // A temporary peer name unlikely to clash in the host namespace.
    let tmp = format!("t{}", &port.chars().rev().take(13).collect::<String>());
    let _ = ip(&["link", "del", port]);
    ip(&["link", "add", port, "type", "veth", "peer", "name", &tmp])?;
    let rest = (|| {
        ip(&["link", "set", &tmp, "netns", netns])?;
        ip(&["-n", netns, "link", "set", &tmp, "name", ifname])?;
        if let Some(mac) = other.get("mac_address") {
            ip(&["-n", netns, "link", "set", ifname, "address", mac])?;
        }
        if let Some(mtu) = mtu {
            let m = mtu.to_string();
            ip(&["-n", netns, "link", "set", ifname, "mtu", &m])?;
            ip(&["link", "set", port, "mtu", &m])?;
        }
        if let Some(addr) = other.get("ip_address") {
            ip(&["-n", netns, "addr", "add", addr, "dev", ifname])?;
        }
        ip(&["-n", netns, "link", "set", ifname, "up"])?;
        ip(&["-n", netns, "link", "set", "lo", "up"])?;
        if let Some(gw) = other.get("gateway") {
            ip(&["-n", netns, "route", "add", "default", "via", gw])?;
        }
        ip(&["link", "set", port, "up"])
    })();
    if rest.is_err() {
        let _ = ip(&["link", "del", port]);
    }
    rest
}

/// Removes the veth pair of a namespace port (deleting one end deletes
/// both).
pub fn delete_veth(port: &str) {
    let _ = std::process::Command::new("ip")
        .args(["link", "del", port])
        .output();
}
