//! Flow expiry without scanning the tables.
//!
//! Why: the bridge expires flows on every tick (100 ms). Scanning every
//! entry for timeouts there costs a tenth of a core at 100,000 flows, all
//! the time, for the few entries due. Instead every entry with a timeout
//! has an item in a min-heap, keyed by the earliest time it can expire;
//! a tick pops only what is due.
//!
//! A hard timeout is a fixed deadline. An idle deadline moves whenever a
//! packet hits the entry, which the forwarding threads record in the
//! entry's counters without telling the control plane. So a popped item is
//! a *candidate*: [`super::Pipeline::expire`] checks the entry, removes it
//! if its timeout really passed, and otherwise puts it back with its new
//! deadline (one heap operation per idle period of a busy flow).
//!
//! Items hold a `Weak` reference: an entry deleted, replaced or modified
//! (a modified entry is a new `FlowEntry` with its own item) leaves a stale
//! item behind, skipped when popped. When stale items could outnumber live
//! ones the heap is rebuilt without them, so it stays proportional to the
//! flows installed.

use super::flow_entry::FlowEntry;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Weak};

/// Below this many items the heap is never rebuilt.
const COMPACT_FLOOR: usize = 1024;

/// One entry's earliest possible expiry.
#[derive(Debug)]
struct Due {
    at: u64,
    entry: Weak<FlowEntry>,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// The entries with timeouts, by earliest expiry.
#[derive(Debug, Default)]
pub struct ExpiryQueue {
    heap: BinaryHeap<Reverse<Due>>,
}

impl ExpiryQueue {
    /// Whether no entry with a timeout is watched.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Items in the heap, stale ones included.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Watches `entry` if it has a timeout. `live` is the number of flows
    /// installed, which bounds how many items are not stale.
    pub fn watch(&mut self, entry: &Arc<FlowEntry>, live: usize) {
        let Some(at) = entry.deadline() else {
            return;
        };
        if self.heap.len() >= COMPACT_FLOOR.max(2 * live) {
            self.heap.retain(|Reverse(d)| d.entry.strong_count() > 0);
        }
        self.heap.push(Reverse(Due {
            at,
            entry: Arc::downgrade(entry),
        }));
    }

    /// Takes out every item due at `now` whose entry still exists: the
    /// candidates for expiry. The caller checks each and watches again the
    /// ones that live on.
    pub fn take_due(&mut self, now: u64) -> Vec<Arc<FlowEntry>> {
        let mut due = Vec::new();
        while self.heap.peek().is_some_and(|Reverse(d)| d.at <= now) {
            if let Some(Reverse(d)) = self.heap.pop() {
                if let Some(e) = d.entry.upgrade() {
                    due.push(e);
                }
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(idle: u16, hard: u16, created: u64) -> Arc<FlowEntry> {
        let mut e = FlowEntry::pseudo(0);
        e.idle_timeout = idle;
        e.hard_timeout = hard;
        e.created = created;
        Arc::new(e)
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn pops_only_what_is_due_in_deadline_order() {
        let mut q = ExpiryQueue::default();
        let a = entry(0, 5, 0);
        let b = entry(2, 0, 0);
        let forever = entry(0, 0, 0);
        q.watch(&a, 3);
        q.watch(&b, 3);
        q.watch(&forever, 3);
        assert_eq!(q.len(), 2, "an entry without timeouts is not watched");
        assert!(q.take_due(S).is_empty());
        let due = q.take_due(3 * S);
        assert_eq!(due.len(), 1);
        assert!(Arc::ptr_eq(&due[0], &b));
        assert!(Arc::ptr_eq(&q.take_due(5 * S)[0], &a));
        assert!(q.is_empty());
    }

    #[test]
    fn dropped_entries_are_skipped_and_compacted() {
        let mut q = ExpiryQueue::default();
        for _ in 0..3 * COMPACT_FLOOR {
            q.watch(&entry(0, 1, 0), 0);
        }
        // Every entry was dropped at once: the heap was rebuilt along the
        // way instead of growing to 3,072 items.
        assert!(q.len() <= COMPACT_FLOOR + 1, "{}", q.len());
        assert!(q.take_due(2 * S).is_empty());
        assert!(q.is_empty());
    }
}
