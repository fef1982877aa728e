//! Patch ports: a frame sent to one enters its peer's bridge (`options:peer`)
//! on the same forwarding thread, as Open vSwitch's patch ports, with no
//! device and no receiver of their own.
//!
//! The peer is looked up by name on every frame ([`PatchPeers`]), so the
//! two ends may come and go in any order (a missing peer is an error on
//! send). A loop of patch ports would recurse on the thread's stack: a
//! frame takes at most `MAX_PATCH_HOPS` hops.

use super::{unregister, OpenedPort, PortContext, PortRegistry, PortSpec};
use crate::datapath::forward::{Forwarder, PortSink};
use crate::pipeline::{MicroflowCache, PacketMeta};
use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};

/// The daemon's patch ports by name: where a frame sent to a patch port
/// enters (its peer's bridge and OpenFlow port number).
#[derive(Default)]
pub struct PatchPeers {
    ports: RwLock<HashMap<String, (Arc<Forwarder>, u32)>>,
}

impl PatchPeers {
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

/// Registers patch port `spec` under its name and returns it, sending to
/// its peer; always up.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> OpenedPort {
    let peer = spec.option("peer").unwrap_or_default();
    let sink = Arc::new(PatchSink::new(peer, ctx.registry.clone()));
    ctx.registry
        .patches
        .insert(&spec.name, ctx.fwd.clone(), spec.ofport);
    OpenedPort {
        sink,
        rx: None,
        mac: spec.mac_or_default(),
        up: true,
        own_device: false,
        detach: Some(unregister(spec, ctx, |r, name| r.patches.remove(name))),
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
        let Some((fwd, ofport)) = self.registry.patches.get(&self.peer) else {
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
