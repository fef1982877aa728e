//! Publishing the pipeline to forwarding threads without locks.
//!
//! The control plane owns one mutable [`Pipeline`] and applies FLOW_MODs,
//! GROUP_MODs, port changes and timeouts to it. Forwarding threads never
//! see that value: they read the latest *published* version through
//! [`SharedPipeline::load`], an `arc-swap` load that takes no lock and
//! never waits for the writer, even while a big batch of changes is being
//! applied.
//!
//! Publishing clones the `Pipeline`, which is cheap by construction: tables,
//! subtables, groups, meters and ports sit behind `Arc`s, so a clone copies
//! pointers. The cost moves to the *next* change of a shared part, which
//! copies that part once (`Arc::make_mut`). For flow tables that part is
//! small whatever the table's size: a subtable's rules live in a persistent
//! hash trie ([`super::trie`]), so the first change after a publish copies
//! one root-to-leaf path of it (a few hundred bytes), not the subtable. The
//! daemon can therefore publish after every read of a controller's socket,
//! even when the controller sends one FLOW_MOD and a BARRIER at a time;
//! batching what is queued before publishing only saves the small copies.
//!
//! Counters (flows, tables, groups, meters) are atomics shared by every
//! version, so a packet counted through an old snapshot still shows in the
//! statistics of the new one.

use super::state::Pipeline;
use arc_swap::{ArcSwap, Guard};
use std::sync::Arc;

/// The published, immutable pipeline the forwarding threads read.
#[derive(Debug)]
pub struct SharedPipeline {
    current: ArcSwap<Pipeline>,
}

impl SharedPipeline {
    /// Starts with `initial` published.
    pub fn new(initial: &Pipeline) -> SharedPipeline {
        SharedPipeline {
            current: ArcSwap::from_pointee(initial.clone()),
        }
    }

    /// The latest published version; lock-free and wait-free for readers.
    /// Hold the guard for one packet or one batch of packets, not longer:
    /// an old version stays alive while a guard holds it.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Pipeline>> {
        self.current.load()
    }

    /// A counted reference to the latest version, for holders that keep it
    /// across many batches.
    pub fn load_full(&self) -> Arc<Pipeline> {
        self.current.load_full()
    }

    /// Makes `p` the version new loads see. Packets already being processed
    /// finish on the version they started with.
    pub fn publish(&self, p: &Pipeline) {
        self.current.store(Arc::new(p.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::messages::{flow_mod_command, FlowMod};
    use openflow::oxm::Oxm;
    use openflow::Match;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn add(p: &mut Pipeline, i: u16) {
        let fm = FlowMod {
            command: flow_mod_command::ADD,
            priority: i,
            match_: Match {
                fields: vec![Oxm::InPort(u32::from(i) + 1)],
            },
            ..FlowMod::default()
        };
        p.flow_mod(&fm, 0).expect("flow_mod");
    }

    #[test]
    fn readers_see_whole_batches_and_never_go_back() {
        let mut control = Pipeline::new();
        let shared = Arc::new(SharedPipeline::new(&control));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut last, mut loads) = (0usize, 0u64);
                // Load at least once more after the writer stopped, however
                // the two threads were scheduled.
                loop {
                    let stopped = stop.load(Ordering::Relaxed);
                    let n = shared.load().flow_count();
                    assert!(n >= last, "went back from {last} to {n}");
                    assert_eq!(n % 10, 0, "saw half a batch: {n}");
                    last = n;
                    loads += 1;
                    if stopped {
                        break;
                    }
                }
                (last, loads)
            })
        };
        for batch in 0..50u16 {
            for i in 0..10 {
                add(&mut control, batch * 10 + i);
            }
            shared.publish(&control);
        }
        stop.store(true, Ordering::Relaxed);
        let (last, loads) = reader.join().expect("reader");
        assert!(last == 500 && loads > 0);
        assert_eq!(shared.load().flow_count(), 500);
    }

    #[test]
    fn old_snapshot_is_unchanged_and_shares_counters() {
        let mut control = Pipeline::new();
        add(&mut control, 1);
        let shared = SharedPipeline::new(&control);
        let old = shared.load_full();
        add(&mut control, 2);
        shared.publish(&control);
        assert_eq!(old.flow_count(), 1);
        assert_eq!(shared.load().flow_count(), 2);
        let e_old = old.tables[0].entries().next().cloned().expect("entry");
        e_old.counters.hit(100, 1);
        let now = shared.load();
        let same = now.tables[0]
            .entries()
            .find(|e| e.priority == 1)
            .expect("entry");
        assert_eq!(same.packets(), 1);
    }
}
