//! How to write a controller app with the `ofcontroller` library: this one
//! counts the packet-ins each switch sends and prints the counts every five
//! seconds. It runs next to the bundled learning app (no policy: every port
//! in one VLAN), so the network keeps working while it counts.
//!
//! ```text
//! cargo run --example packet_in_counter -- [tcp:IP:PORT]   (default tcp:127.0.0.1:6653)
//! ofswitch vsctl set-controller br0 tcp:127.0.0.1:6653
//! ```
//!
//! The shape of an app:
//! - implement [`App`] for a type, only the events you care about: every
//!   method has a default that does nothing;
//! - state shared by switches sits behind a lock held only to compute,
//!   never across an `.await` (each switch runs on its own task);
//! - to act, use the [`Switch`] handle: `send` a message, `request` and
//!   await the reply, or `mods` a batch and await its barrier;
//! - compose apps as a tuple: `(A, B)` hands every event to `A`, then `B`.

use ofcontroller::app::{App, Switch};
use ofcontroller::learning::Timeouts;
use ofcontroller::net::{self, Shared, Target};
use ofcontroller::policy::Policy;
use ofcontroller::vlans::VlanApp;
use openflow::channel::ChannelConfig;
use openflow::messages::PacketIn;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Packet-ins per datapath id. Cloning shares the counts, so `main` keeps
/// a handle to print them while the app runs.
#[derive(Clone, Default)]
struct PacketInCounter {
    counts: Arc<Mutex<BTreeMap<u64, u64>>>,
}

impl PacketInCounter {
    fn add(&self, dpid: u64, n: u64) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(dpid).or_default() += n;
        }
    }

    fn snapshot(&self) -> BTreeMap<u64, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl App for PacketInCounter {
    async fn switch_up(&self, sw: &Switch) {
        println!(
            "switch {:016x} up from {} with {} ports",
            sw.dpid,
            sw.peer,
            sw.ports.len()
        );
        self.add(sw.dpid, 0);
    }

    async fn packet_in(&self, sw: &Switch, _pi: &PacketIn) {
        self.add(sw.dpid, 1);
    }

    async fn switch_down(&self, sw: &Switch) {
        println!("switch {:016x} down", sw.dpid);
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    let target: Target = match arg.as_deref().unwrap_or("tcp:127.0.0.1:6653").parse() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("packet_in_counter: {e}");
            return ExitCode::from(2);
        }
    };
    let counter = PacketInCounter::default();
    let learning = VlanApp::new(Policy::learning_only(), Timeouts::default());
    let shared = Shared::new(
        Arc::new((learning, counter.clone())),
        ChannelConfig::default(),
    );
    let listener = match net::bind(&target, None).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("packet_in_counter: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {target}");
    tokio::spawn(net::accept(shared, listener));
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.tick().await;
    loop {
        every.tick().await;
        for (dpid, n) in counter.snapshot() {
            println!("switch {dpid:016x}: {n} packet-ins");
        }
    }
}
