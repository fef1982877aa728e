//! One flow table: its classifier and its counters.

use super::classifier::Classifier;
use super::flow_entry::FlowEntry;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Number of flow tables, as in Open vSwitch (0..=254).
pub const N_TABLES: usize = 255;
/// Default capacity of a table.
pub const DEFAULT_MAX_ENTRIES: u32 = 1_000_000;

/// Lookup counters, shared by every snapshot of the table.
#[derive(Debug, Default)]
pub struct TableCounters {
    pub lookups: AtomicU64,
    pub matched: AtomicU64,
}

/// A flow table.
#[derive(Clone, Debug)]
pub struct FlowTable {
    pub id: u8,
    /// Empty (no name) until a controller names the table with a
    /// TABLE_FEATURES set, as in Open vSwitch: `ovs-ofctl --names` then
    /// shows the number, not a made-up name like `table3`.
    pub name: String,
    pub max_entries: u32,
    pub classifier: Classifier<Arc<FlowEntry>>,
    pub counters: Arc<TableCounters>,
}

impl FlowTable {
    pub fn new(id: u8) -> FlowTable {
        FlowTable {
            id,
            name: String::new(),
            max_entries: DEFAULT_MAX_ENTRIES,
            classifier: Classifier::new(),
            counters: Arc::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.classifier.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classifier.is_empty()
    }

    /// Looks a packet up, counting the lookup and, on a hit, the match.
    #[inline]
    pub fn lookup(&self, key: &crate::flow_key::FlowKey) -> Option<&Arc<FlowEntry>> {
        self.counters.lookups.fetch_add(1, Relaxed);
        let hit = self.classifier.lookup(key).map(|(r, _)| r);
        if hit.is_some() {
            self.counters.matched.fetch_add(1, Relaxed);
        }
        hit
    }

    pub fn entries(&self) -> impl Iterator<Item = &Arc<FlowEntry>> {
        self.classifier.iter().map(|(_, _, _, r)| r)
    }
}
