//! What the tunnel ports (VXLAN, GRE) share on the receive side: the
//! frames decapsulated from one receive batch go, in order, into the
//! pipeline of the port they belong to, with that port's microflow cache
//! and the tunnel id they carried, the TCP segments of one connection
//! joined back into one super-segment on the way ([`crate::datapath::tcp_join`]).
//! Each tunnel module only finds the port a datagram belongs to.
//!
//! A datagram that no port takes is counted where a user looks for it
//! ([`Undelivered`]): on the port that peers with its sender, or, when no
//! port has that `remote_ip` (the usual sign of a wrong address on one
//! end), in a rate-limited warning that names the sender.

use crate::datapath::forward::Forwarder;
use crate::datapath::tcp_join::{Joined, TcpJoiner};
use crate::datapath::vnet;
use crate::log_limit::LogLimiter;
use crate::pipeline::ports::PortCounters;
use crate::pipeline::{MicroflowCache, Outcome, PacketMeta};
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::Ordering::Relaxed;

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

/// Why a datagram a tunnel socket received reached no port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undelivered {
    /// Not a packet of this tunnel kind (too short, wrong flags, not
    /// Ethernet inside).
    Malformed,
    /// A well-formed packet with this key (VNI), which no port to its
    /// sender carries; `None`: no key on the wire.
    Key(Option<u32>),
}

impl fmt::Display for Undelivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undelivered::Malformed => write!(f, "a malformed packet"),
            Undelivered::Key(Some(k)) => write!(f, "a packet with key {k}"),
            Undelivered::Key(None) => write!(f, "a packet with no key"),
        }
    }
}

/// The warnings of one tunnel socket about packets no port takes, one
/// limiter per kind so that a stranger cannot hide a key mismatch.
#[derive(Debug, Default)]
pub struct RefusalLog {
    wrong_key: LogLimiter,
    stranger: LogLimiter,
}

/// Counts and reports a datagram from `from` that socket `socket` (its
/// name for the log) could give to no port: `peer` is the counters of a
/// port whose `remote_ip` is `from`, if there is one. A malformed packet
/// from a peer is an `rx_errors` of that port, a key no port carries an
/// `rx_dropped`; a packet from an address no port peers with has no port
/// to count it and is logged, as is a key mismatch (both are mistakes in
/// the configuration of one end or the other), each at most once per
/// [`LogLimiter::INTERVAL`] per socket.
pub fn undelivered(
    socket: &str,
    log: &RefusalLog,
    from: IpAddr,
    peer: Option<&PortCounters>,
    why: Undelivered,
) {
    match (peer, why) {
        (Some(c), Undelivered::Malformed) => {
            c.rx_errors.fetch_add(1, Relaxed);
        }
        (Some(c), Undelivered::Key(_)) => {
            c.rx_dropped.fetch_add(1, Relaxed);
            if let Some(s) = log.wrong_key.allow() {
                tracing::warn!(
                    "{socket}: {why} from {from}, but no port with remote_ip={from} \
                     carries that key; dropped{s}"
                );
            }
        }
        (None, _) => {
            if let Some(s) = log.stranger.allow() {
                tracing::warn!(
                    "{socket}: {why} from {from}, and no port has remote_ip={from}; \
                     dropped{s}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_packets_are_counted_on_the_peer_port() {
        let (c, log) = (PortCounters::default(), RefusalLog::default());
        let from = IpAddr::from([10, 0, 0, 2]);
        undelivered("t", &log, from, Some(&c), Undelivered::Malformed);
        undelivered("t", &log, from, Some(&c), Undelivered::Key(Some(43)));
        undelivered("t", &log, from, Some(&c), Undelivered::Key(None));
        undelivered("t", &log, from, None, Undelivered::Key(Some(42)));
        assert_eq!(c.rx_errors.load(Relaxed), 1);
        assert_eq!(c.rx_dropped.load(Relaxed), 2);
        assert_eq!(Undelivered::Key(None).to_string(), "a packet with no key");
    }
}
