//! Ports by kind: one module per kind of port, each owning how its port
//! is opened, its receive side on the forwarding threads, its send side
//! ([`PortSink`]) and what it counts.
//!
//! The bridge only reads its configuration: it turns a port into a
//! [`PortSpec`] and asks [`open`] for a port of that kind, with the
//! [`PortContext`] the port needs (its bridge's forwarder, the daemon-wide
//! [`PortRegistry`], its counters). What it gets back, an [`OpenedPort`],
//! is all it keeps: the sink, the receiver, the MAC and link state to
//! describe, and what removing the port undoes. A new kind (Geneve,
//! AF_XDP) is one more module here and one more arm in [`open`].
//!
//! - [`system`]: a Linux interface through `AF_PACKET`, or through pnet
//!   with `options:backend=pnet` (a namespace port's veth pair is made
//!   there too).
//! - [`internal`]: a TAP device named after the port (and the bridge's
//!   LOCAL port), as Open vSwitch's internal ports.
//! - [`patch`]: frames handed to the peer's bridge on the same thread.
//! - [`vxlan`], [`gre`]: tunnels on sockets shared by the daemon's ports;
//!   [`tunnel`]: their shared receive side (decapsulated frames, TCP
//!   segments joined, into their port's pipeline).
//! - `dummy` ports, and ports whose device cannot be opened, have no
//!   device: [`NullSink`]; the bridge shows the latter link-down with the
//!   error in their interface status.
//!
//! What several kinds share stays here: a received frame's way into the
//! bridge (`Ingress`) and the MTU checks of the device sinks
//! (`with_offload`, `too_big`).

pub mod gre;
pub mod internal;
pub mod patch;
pub mod system;
pub mod tunnel;
pub mod vxlan;

use super::forward::{Forwarder, PortSink};
use super::vnet;
use super::workers::{ForwardingThreads, RxRegistration};
use crate::config::model::{self, InterfaceType, NetnsAttachment};
use crate::pipeline::ports::PortCounters;
use crate::pipeline::{MicroflowCache, Outcome, PacketMeta};
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// What ports of different bridges share, daemon-wide: the forwarding
/// threads, patch ports by name, and the tunnel sockets.
pub struct PortRegistry {
    pub threads: ForwardingThreads,
    pub patches: patch::PatchPeers,
    pub vxlan: vxlan::VxlanRegistry,
    pub gre: gre::GreRegistry,
}

impl PortRegistry {
    pub fn new(threads: ForwardingThreads) -> PortRegistry {
        PortRegistry {
            threads,
            patches: Default::default(),
            vxlan: Default::default(),
            gre: Default::default(),
        }
    }
}

/// A port as the datapath needs to know it, from the bridge's
/// configuration ([`PortSpec::from_config`]).
#[derive(Clone, Debug, Default)]
pub struct PortSpec {
    pub name: String,
    pub ofport: u32,
    pub kind: InterfaceType,
    /// Kind-specific settings (`peer`, `remote_ip`, `key`, `backend`...).
    pub options: BTreeMap<String, String>,
    pub mtu_request: Option<u32>,
    /// The MAC asked for (a MAC that does not parse counts as none).
    pub mac: Option<[u8; 6]>,
    /// The network namespace a system port's veth pair goes into, and how
    /// it is set up there (`add-netns-port`).
    pub netns: Option<(String, NetnsAttachment)>,
}

impl PortSpec {
    pub fn from_config(p: &model::Port) -> PortSpec {
        PortSpec {
            name: p.name.clone(),
            ofport: p.ofport,
            kind: p.interface.kind,
            options: p.interface.options.clone(),
            mtu_request: p.interface.mtu_request,
            mac: p
                .interface
                .mac
                .as_deref()
                .and_then(|m| model::parse_mac(m).ok()),
            netns: p.netns.clone().map(|ns| (ns, p.netns_attachment())),
        }
    }

    fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }

    /// The MAC asked for, else the one derived from the name.
    fn mac_or_default(&self) -> [u8; 6] {
        self.mac
            .unwrap_or_else(|| model::default_bridge_mac(&self.name))
    }
}

/// What opening a port needs from the bridge and the daemon.
pub struct PortContext<'a> {
    /// The bridge's forwarder: where the port's frames go in.
    pub fwd: &'a Arc<Forwarder>,
    pub registry: &'a Arc<PortRegistry>,
    /// The port's counters (the pipeline's, so they carry on across a
    /// reopen).
    pub counters: Arc<PortCounters>,
}

/// What removing a port undoes besides closing its device (a veth pair
/// deleted, a tunnel or patch name unregistered).
pub type Detach = Box<dyn FnOnce() + Send>;

/// A [`Detach`] that calls `f` with the daemon's registry and the port's
/// name (to take the name out of what the registry shares).
fn unregister(spec: &PortSpec, ctx: &PortContext, f: fn(&PortRegistry, &str)) -> Detach {
    let (registry, name) = (ctx.registry.clone(), spec.name.clone());
    Box::new(move || f(&registry, &name))
}

/// An open port, as the bridge keeps it.
pub struct OpenedPort {
    pub sink: Arc<dyn PortSink>,
    /// The receiver on a forwarding thread (device-backed ports); dropping
    /// it stops receiving.
    pub rx: Option<RxRegistration>,
    pub mac: [u8; 6],
    /// Whether the link is up.
    pub up: bool,
    /// The device is the switch's own (a TAP): OpenFlow's `PORT_DOWN`
    /// sets its link down.
    pub own_device: bool,
    /// Run when the port is removed.
    pub detach: Option<Detach>,
}

impl OpenedPort {
    /// A port with no device or receiver of its own (a tunnel, a dummy, a
    /// placeholder) that sends into `sink`, with the MAC derived from its
    /// name.
    pub fn deviceless(spec: &PortSpec, sink: Arc<dyn PortSink>, up: bool) -> OpenedPort {
        OpenedPort {
            sink,
            rx: None,
            mac: model::default_bridge_mac(&spec.name),
            up,
            own_device: false,
            detach: None,
        }
    }

    /// The stand-in for a port whose device cannot be opened: link down,
    /// frames sent to it dropped.
    pub fn placeholder(spec: &PortSpec) -> OpenedPort {
        OpenedPort::deviceless(spec, Arc::new(NullSink), false)
    }
}

/// Opens port `spec` with the device of its kind. The error is what the
/// port's interface status shows.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> Result<OpenedPort, String> {
    match spec.kind {
        InterfaceType::System => system::open(spec, ctx),
        InterfaceType::Internal => internal::open(spec, ctx),
        InterfaceType::Patch => Ok(patch::open(spec, ctx)),
        InterfaceType::Vxlan => vxlan::open(spec, ctx),
        InterfaceType::Gre => gre::open(spec, ctx),
        InterfaceType::Dummy => Ok(OpenedPort::deviceless(spec, Arc::new(NullSink), true)),
    }
}

/// A port without a device: frames sent to it are dropped.
pub struct NullSink;

impl PortSink for NullSink {
    fn send(&self, _: Vec<u8>, _: u64) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::NotConnected, "no device"))
    }
}

/// A device port's way into its bridge, on a forwarding thread: frames
/// into the bridge's pipeline with the port's own microflow cache.
struct Ingress {
    name: String,
    ofport: u32,
    fwd: Arc<Forwarder>,
    counters: Arc<PortCounters>,
    cache: MicroflowCache,
    out: Vec<Outcome>,
}

impl Ingress {
    fn new(spec: &PortSpec, ctx: &PortContext) -> Ingress {
        Ingress {
            name: spec.name.clone(),
            ofport: spec.ofport,
            fwd: ctx.fwd.clone(),
            counters: ctx.counters.clone(),
            cache: MicroflowCache::default(),
            out: Vec::new(),
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
/// copy: see `vnet::tx_offload`). A TCP frame too large for the port
/// leaves as a TSO frame the kernel cuts to the MTU
/// (`vnet::tso_for_mtu`); any other frame too large for the port (and not
/// GSO already) is counted in `tx_errors` and not sent: never truncated.
fn with_offload(
    mut frame: Vec<u8>,
    mtu: u32,
    counters: &PortCounters,
    send: impl Fn(&[u8; vnet::VNET_HDR_LEN], Vec<u8>, Option<usize>) -> io::Result<()>,
) -> io::Result<()> {
    let mut o = vnet::current();
    if too_big(&frame, mtu) {
        match vnet::tso_for_mtu(&mut frame, o, mtu) {
            Some(tso) => o = tso,
            None if !o.is_gso() => {
                counters.tx_errors.fetch_add(1, Relaxed);
                return Ok(());
            }
            None => {}
        }
    }
    let (hdr, flip) = vnet::tx_offload(&frame, o);
    send(&hdr, frame, flip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_tags_add_to_what_the_mtu_allows() {
        let plain = vec![0u8; 1514];
        assert!(!too_big(&plain, 1500));
        assert!(too_big(&[0u8; 1515], 1500));
        let mut tagged = vec![0u8; 1518];
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        assert!(!too_big(&tagged, 1500));
        tagged.push(0);
        assert!(too_big(&tagged, 1500));
    }

    #[test]
    fn a_spec_reads_the_configured_port() {
        let p: model::Port = serde_json::from_str(
            r#"{"name":"p1","ofport":3,"interface":{"type":"patch",
                "options":{"peer":"p2"},"mac":"02:00:00:00:00:07","mtu_request":1400}}"#,
        )
        .expect("port");
        let spec = PortSpec::from_config(&p);
        assert_eq!((spec.name.as_str(), spec.ofport), ("p1", 3));
        assert_eq!(spec.kind, InterfaceType::Patch);
        assert_eq!(spec.option("peer"), Some("p2"));
        assert_eq!(spec.mtu_request, Some(1400));
        assert_eq!(spec.mac_or_default(), [2, 0, 0, 0, 0, 7]);
        assert!(spec.netns.is_none());
        let unnamed = PortSpec {
            name: "p1".into(),
            ..PortSpec::default()
        };
        assert_eq!(unnamed.mac_or_default(), model::default_bridge_mac("p1"));
    }
}
