//! What the tunnel ports (VXLAN, GRE) share on the receive side: the
//! frames decapsulated from one receive batch go, in order, into the
//! pipeline of the port they belong to, with that port's microflow cache
//! and the tunnel id they carried, the TCP segments of one connection
//! joined back into one super-segment on the way ([`crate::datapath::tcp_join`]).
//! Each tunnel module only finds the port a datagram belongs to.

use crate::datapath::forward::Forwarder;
use crate::datapath::tcp_join::{Joined, TcpJoiner};
use crate::datapath::vnet;
use crate::pipeline::{MicroflowCache, Outcome, PacketMeta};
use std::collections::HashMap;

/// Where a decapsulated frame came from: its port and the tunnel id
/// (VNI or key) it carried. Frames join only with frames of the same
/// source.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub fwd: &'a Forwarder,
    pub ofport: u32,
    pub tunnel_id: u64,
}

impl PartialEq for Source<'_> {
    fn eq(&self, o: &Self) -> bool {
        std::ptr::eq(self.fwd, o.fwd) && self.ofport == o.ofport && self.tunnel_id == o.tunnel_id
    }
}

/// One receive batch's frames on their way into the pipelines; dropped
/// (or [`Delivery::finish`]ed) at the end of the batch, which sends the
/// frame still being joined.
pub struct Delivery<'a> {
    caches: &'a mut HashMap<u32, MicroflowCache>,
    out: &'a mut Vec<Outcome>,
    joiner: TcpJoiner<Source<'a>>,
}

impl<'a> Delivery<'a> {
    /// `caches`: the receiver's microflow caches by port; `out`: its
    /// scratch space for the pipeline's outcomes.
    pub fn new(caches: &'a mut HashMap<u32, MicroflowCache>, out: &'a mut Vec<Outcome>) -> Self {
        Delivery {
            caches,
            out,
            joiner: TcpJoiner::default(),
        }
    }

    /// The next decapsulated frame of the batch.
    pub fn push(&mut self, src: Source<'a>, inner: &[u8]) {
        let (caches, out) = (&mut *self.caches, &mut *self.out);
        self.joiner
            .push(src, inner, &mut |s, j| forward(caches, out, s, j));
    }

    /// Sends what is still being joined (also done when dropped).
    pub fn finish(self) {}
}

impl Drop for Delivery<'_> {
    fn drop(&mut self) {
        let (caches, out) = (&mut *self.caches, &mut *self.out);
        self.joiner.flush(&mut |s, j| forward(caches, out, s, j));
    }
}

/// One frame into its port's pipeline.
fn forward(
    caches: &mut HashMap<u32, MicroflowCache>,
    out: &mut Vec<Outcome>,
    src: Source<'_>,
    (frame, offload): Joined,
) {
    let meta = PacketMeta {
        in_port: src.ofport,
        in_phy_port: src.ofport,
        tunnel_id: src.tunnel_id,
    };
    let cache = caches.entry(src.ofport).or_default();
    vnet::with_rx(offload, || src.fwd.handle(cache, meta, frame, out));
}
