//! Running received frames through the published pipeline and delivering
//! the results: frames to ports, packet-ins to the control plane.
//!
//! Each port's receiver (on a forwarding thread) owns a
//! [`MicroflowCache`] and loads the latest pipeline snapshot per frame (a
//! lock-free `arc-swap` load), so table changes never stall forwarding.
//! Output never blocks either: a port that cannot take a frame drops it
//! and counts `tx_dropped`; a control plane that falls behind loses
//! packet-ins (counted), not forwarding.
//!
//! Packet-ins go to the bridge's control task through a bounded queue with
//! `try_send`, and that is their only bound here: no rate limit on this
//! side. The limits a controller asks for (`controller_rate_limit`) apply
//! per connection in the control task, and the queue keeps a flood from
//! costing forwarding more than one failed atomic per packet-in
//! (`crate::daemon::bridge`'s `packet_in` module says why there).

use crate::pipeline::{MicroflowCache, Outcome, PacketMeta, SharedPipeline};
use arc_swap::ArcSwap;
use openflow::messages::PacketIn;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Somewhere frames can be sent: a TAP, a socket, a tunnel, a patch peer.
pub trait PortSink: Send + Sync {
    /// Sends one frame without blocking; an error means it was dropped.
    /// The frame is handed over: a sink that queues it keeps it as it is,
    /// with no copy of its own.
    fn send(&self, frame: Vec<u8>, tunnel_id: u64) -> io::Result<()>;

    /// The bridge changed the MTU of this port's device in place: whether
    /// this sink now sends with `mtu` (otherwise the port is opened again).
    fn follow_mtu(&self, _mtu: u32) -> bool {
        false
    }
}

/// The pipeline's clock: nanoseconds since the daemon started, monotonic.
#[derive(Clone, Copy, Debug)]
pub struct Clock(Instant);

impl Default for Clock {
    fn default() -> Self {
        Clock(Instant::now())
    }
}

impl Clock {
    pub fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// What the data path hands the bridge's control task.
#[derive(Debug)]
pub enum Upcall {
    /// A packet-in for the controllers.
    PacketIn(PacketIn),
    /// A frame for spanning tree, received on `port`. It shares the
    /// packet-in queue: a bridge running spanning tree is standalone,
    /// where packet-ins are few.
    Bpdu { port: u32, frame: Vec<u8> },
}

/// The forwarding state one bridge's port receivers share.
pub struct Forwarder {
    pub pipeline: Arc<SharedPipeline>,
    /// Where each OpenFlow port number sends; replaced as a whole when
    /// ports come and go.
    pub ports: ArcSwap<HashMap<u32, Arc<dyn PortSink>>>,
    upcalls: mpsc::Sender<Upcall>,
    pub clock: Clock,
    /// Packet-ins dropped because the control plane was behind (its
    /// queue full).
    pub upcalls_dropped: AtomicU64,
    /// Packet-ins handed to the control plane.
    pub upcalls_sent: AtomicU64,
}

impl Forwarder {
    pub fn new(
        pipeline: Arc<SharedPipeline>,
        clock: Clock,
        upcalls: mpsc::Sender<Upcall>,
    ) -> Forwarder {
        Forwarder {
            pipeline,
            ports: ArcSwap::from_pointee(HashMap::new()),
            upcalls,
            clock,
            upcalls_dropped: AtomicU64::new(0),
            upcalls_sent: AtomicU64::new(0),
        }
    }

    /// Runs one received frame through the pipeline and delivers what
    /// comes out. `out` is scratch space the caller keeps between frames.
    pub fn handle(
        &self,
        cache: &mut MicroflowCache,
        meta: PacketMeta,
        frame: Vec<u8>,
        out: &mut Vec<Outcome>,
    ) {
        let p = self.pipeline.load();
        out.clear();
        p.process(cache, frame, meta, self.clock.now(), out);
        self.deliver(&p, out);
    }

    /// Delivers outcomes (also used for PACKET_OUT results).
    pub fn deliver(&self, p: &crate::pipeline::Pipeline, out: &mut Vec<Outcome>) {
        if out.is_empty() {
            return;
        }
        let ports = self.ports.load();
        for o in out.drain(..) {
            match o {
                Outcome::Output {
                    port,
                    frame,
                    tunnel_id,
                    ..
                } => {
                    let sent = ports
                        .get(&port)
                        .map(|s| s.send(frame, tunnel_id).is_ok())
                        .unwrap_or(false);
                    if !sent {
                        if let Some(info) = p.port(port) {
                            info.counters.tx_dropped.fetch_add(1, Relaxed);
                        }
                    }
                }
                Outcome::PacketIn(mut packet_in) => {
                    // The controller gets finished frames, as they would be
                    // on a wire: a GSO super-segment (a TSO frame from a
                    // host) goes up as the segments it stands for, one
                    // packet-in each, as the kernel's Open vSwitch datapath
                    // does (`queue_gso_packets`). Whole, it would be no
                    // frame any port carries, and a PACKET_OUT of it would
                    // be refused as too big.
                    let rx = super::vnet::current();
                    if rx.is_gso() {
                        for segment in super::vnet::finished_segments(&packet_in.data, rx) {
                            self.upcall(PacketIn {
                                total_len: segment.len().min(usize::from(u16::MAX)) as u16,
                                data: segment,
                                match_: packet_in.match_.clone(),
                                ..packet_in
                            });
                        }
                    } else {
                        super::vnet::finish(&mut packet_in.data, rx);
                        self.upcall(packet_in);
                    }
                }
                Outcome::Bpdu { port, frame } => {
                    // A lost BPDU is one of many (one per hello time).
                    let _ = self.upcalls.try_send(Upcall::Bpdu { port, frame });
                }
            }
        }
    }

    /// Hands a packet-in to the control plane, or counts it dropped when
    /// the control plane is behind.
    fn upcall(&self, packet_in: PacketIn) {
        if self.upcalls.try_send(Upcall::PacketIn(packet_in)).is_err() {
            self.upcalls_dropped.fetch_add(1, Relaxed);
        } else {
            self.upcalls_sent.fetch_add(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pipeline::ports::PortInfo;
    use crate::pipeline::Pipeline;
    use openflow::messages::{flow_mod_command, FlowMod};
    use openflow::ofctl::parse::parse_flow_mod;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<u8>>>);
    impl PortSink for Recorder {
        fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
            self.0.lock().expect("lock").push(frame);
            Ok(())
        }
    }

    struct Full;
    impl PortSink for Full {
        fn send(&self, _: Vec<u8>, _: u64) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::WouldBlock))
        }
    }

    fn flow(p: &mut Pipeline, text: &str) {
        let fm: FlowMod = parse_flow_mod(text, flow_mod_command::ADD).expect("flow");
        p.flow_mod(&fm, 0).expect("flow_mod");
    }

    #[test]
    fn outputs_reach_ports_and_packet_ins_the_control_plane() {
        let mut p = Pipeline::new();
        for n in 1..=3 {
            p.set_port(PortInfo::new(n));
        }
        flow(&mut p, "priority=2,in_port=1,actions=output:2,output:3");
        flow(&mut p, "priority=1,actions=CONTROLLER:65535");
        let shared = Arc::new(SharedPipeline::new(&p));
        let (tx, mut rx) = mpsc::channel(1);
        let fwd = Forwarder::new(shared, Clock::default(), tx);
        let rec = Arc::new(Recorder::default());
        let mut map: HashMap<u32, Arc<dyn PortSink>> = HashMap::new();
        map.insert(2, rec.clone());
        map.insert(3, Arc::new(Full));
        fwd.ports.store(Arc::new(map));
        let mut cache = MicroflowCache::default();
        let mut out = Vec::new();
        let frame = vec![0xff; 60];
        fwd.handle(&mut cache, PacketMeta::port(1), frame.clone(), &mut out);
        assert_eq!(rec.0.lock().expect("lock").len(), 1);
        let p = fwd.pipeline.load();
        assert_eq!(
            p.port(3).map(|i| i.counters.tx_dropped.load(Relaxed)),
            Some(1)
        );
        // Two packet-ins with room for one: the second is dropped, counted.
        fwd.handle(&mut cache, PacketMeta::port(2), frame.clone(), &mut out);
        fwd.handle(&mut cache, PacketMeta::port(2), frame, &mut out);
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err());
        assert_eq!(fwd.upcalls_dropped.load(Relaxed), 1);
    }

    #[test]
    fn a_gso_frame_goes_to_the_controller_as_the_segments_it_stands_for() {
        let mut p = Pipeline::new();
        p.set_port(PortInfo::new(1));
        flow(&mut p, "actions=CONTROLLER:65535");
        let shared = Arc::new(SharedPipeline::new(&p));
        let (tx, mut rx) = mpsc::channel(64);
        let fwd = Forwarder::new(shared, Clock::default(), tx);
        let mut cache = MicroflowCache::default();
        let mut out = Vec::new();
        // A TSO frame of 3,000 payload bytes, MSS 1,000, partial checksum.
        let (frame, o) = crate::datapath::tcp_join::tests::tso_frame(3000, 1, 1000);
        crate::datapath::vnet::with_rx(o, || {
            fwd.handle(&mut cache, PacketMeta::port(1), frame, &mut out)
        });
        let mut seqs = Vec::new();
        while let Ok(up) = rx.try_recv() {
            let Upcall::PacketIn(pi) = up else {
                panic!("not a packet-in: {up:?}");
            };
            // A frame a wire could carry: its own IP length, a finished
            // checksum, and total_len saying it is whole.
            assert_eq!(pi.data.len(), 14 + 20 + 32 + 1000);
            assert_eq!(usize::from(pi.total_len), pi.data.len());
            assert_eq!(
                u16::from_be_bytes([pi.data[16], pi.data[17]]),
                20 + 32 + 1000
            );
            let mut finished = pi.data.clone();
            crate::packet::fill_l4_checksum(&mut finished);
            assert_eq!(pi.data, finished, "checksum not finished");
            seqs.push(u32::from_be_bytes([
                pi.data[38],
                pi.data[39],
                pi.data[40],
                pi.data[41],
            ]));
        }
        assert_eq!(seqs, [1, 1001, 2001]);
        assert_eq!(fwd.upcalls_sent.load(Relaxed), 3);
    }
}
