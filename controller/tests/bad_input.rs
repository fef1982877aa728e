//! A switch that misbehaves must not slow the others: over real TCP, one
//! switch sends garbage, one stops reading while it keeps sending
//! packet-ins, and one floods packet-ins as fast as it can, while a
//! well-behaved switch's packet-ins are each answered with their flows.
//!
//! What it checks is behaviour, not speed (the machine is shared): every
//! packet-in of the good switch is answered, the garbage sender and the
//! stalled switch are disconnected, and the flooder stays connected. The
//! latencies the good switch saw are printed.

mod common;

use common::{packet_in, port, FakeSwitch};
use ofcontroller::learning::Timeouts;
use ofcontroller::net::{self, driver, Shared};
use ofcontroller::policy::Policy;
use ofcontroller::vlans::VlanApp;
use openflow::channel::ChannelConfig;
use openflow::message::Body;
use openflow::MacAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn mac(switch: u8, n: u32) -> MacAddr {
    let b = n.to_be_bytes();
    MacAddr([2, switch, b[0], b[1], b[2], b[3]])
}

async fn connect(addr: std::net::SocketAddr, rcvbuf: Option<u32>) -> FakeSwitch<TcpStream> {
    let sock = TcpSocket::new_v4().expect("socket");
    if let Some(size) = rcvbuf {
        sock.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    FakeSwitch::new(sock.connect(addr).await.expect("connect"))
}

/// Enough packet-ins that the flows they teach (about 200 bytes each)
/// overflow the kernel's send buffer (which may grow to 4 MiB on loopback)
/// and the controller's own 1 MiB, even if many are dropped.
const STALLED_BURST: u32 = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_stalled_or_flooding_switch_does_not_slow_the_others() {
    let app = Arc::new(VlanApp::new(Policy::learning_only(), Timeouts::default()));
    let shared = Shared::new(app, ChannelConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(net::accept(shared, net::Listener::Tcp(listener)));

    // Garbage: not OpenFlow at all. The controller hangs up.
    let mut garbage = connect(addr, None).await;
    garbage.io.write_all(&[0xff; 256]).await.expect("write");

    // Stalled: a small receive buffer, and it never reads after the
    // handshake while it sends packet-ins whose flows it never takes.
    let mut stalled = connect(addr, Some(4096)).await;
    stalled.handshake(0x5a, vec![port(1), port(2)]).await;
    // Paced, so that the app learns most of them rather than dropping
    // them for being busy (a busy machine must not make this flaky).
    for n in 0..STALLED_BURST {
        stalled
            .send(0, Body::PacketIn(packet_in(1, mac(0x5a, n))))
            .await;
        if n % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let stall_started = Instant::now();
    // It goes on sending now and then, so it never looks idle to the echo
    // probe: only the bytes it does not take can tell it is stuck. Its
    // writes fail once the controller has hung up.
    let stalled_cut = tokio::spawn(async move {
        for n in STALLED_BURST.. {
            let pi = Body::PacketIn(packet_in(1, mac(0x5a, n)));
            let bytes = openflow::Message::new(0, pi).to_bytes();
            if stalled.io.write_all(&bytes).await.is_err() {
                return Some(stall_started.elapsed());
            }
            if stall_started.elapsed() > driver::WRITE_STALL + Duration::from_secs(20) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    });

    // Flooding: packet-ins as fast as it can write, reading (and dropping)
    // what comes back on another task.
    let mut flooder = connect(addr, None).await;
    flooder.handshake(0xf1, vec![port(1), port(2)]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicU64::new(0));
    let (mut rd, mut wr) = flooder.io.into_split();
    let drain = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        // True if the controller closed the connection.
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    });
    let flood = {
        let (stop, flooded) = (stop.clone(), flooded.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let mut batch = Vec::new();
                for _ in 0..64 {
                    let pi = packet_in(1 + n % 2, mac(0xf1, n % 50_000));
                    batch.extend(openflow::Message::new(0, Body::PacketIn(pi)).to_bytes());
                    n += 1;
                }
                if wr.write_all(&batch).await.is_err() {
                    break;
                }
                flooded.fetch_add(64, Ordering::Relaxed);
            }
            wr
        })
    };

    // The good switch: each packet-in answered by its two flows.
    let mut good = connect(addr, None).await;
    good.handshake(0x600d, vec![port(1), port(2)]).await;
    let mut latencies = Vec::new();
    for n in 0..300 {
        let t = Instant::now();
        good.send(0, Body::PacketIn(packet_in(1, mac(0x60, n))))
            .await;
        let mut flows = 0;
        while flows < 2 {
            let m = good
                .recv_within(Duration::from_secs(10))
                .await
                .unwrap_or_else(|| panic!("packet-in {n} of the good switch not answered"));
            match m.body {
                Body::FlowMod(_) => flows += 1,
                Body::EchoRequest(d) => good.send(m.xid, Body::EchoReply(d)).await,
                _ => {}
            }
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();
    eprintln!(
        "good switch, 300 packet-ins during the flood ({} flooded so far): p50 {:?}, max {:?}",
        flooded.load(Ordering::Relaxed),
        latencies[150],
        latencies[299]
    );

    assert!(
        garbage.closed_within(Duration::from_secs(10)).await,
        "the garbage sender is still connected"
    );
    // The stalled switch is cut once its bytes have waited WRITE_STALL.
    let cut = stalled_cut.await.expect("stalled switch task");
    let cut = cut.expect("the stalled switch is still connected");
    eprintln!("stalled switch disconnected {cut:?} after its burst");
    stop.store(true, Ordering::Relaxed);
    let _wr = flood.await.expect("flood task");
    assert!(!drain.is_finished(), "the flooder was disconnected");
}
