//! The exact-match microflow cache: flow key → translated [`Program`].
//!
//! One cache per forwarding thread, so a hit takes no lock and touches no
//! shared memory but the program's counters. Entries are valid for one
//! pipeline generation: the first lookup after any change to tables,
//! groups, meters or ports empties the cache (the same rule as Open
//! vSwitch's microflow cache, which is flushed on every revalidation).
//!
//! Under a flood of distinct flows (a table-miss storm with random
//! addresses) inserting every miss would fill the cache with entries used
//! once, and empty it every few seconds: dropping tens of thousands of
//! programs at once stalls the thread for milliseconds, and the churn
//! evicts the CPU caches' copy of the entries that matter. So once the
//! cache is half full, a miss is inserted only one time in
//! [`INSERT_INV_PROB`] (Open vSwitch's EMC does the same with
//! `emc-insert-inv-prob`, default 100): a long-lived flow still gets in
//! after a few dozen packets, a one-packet flow almost never does.

use super::state::Pipeline;
use super::xlate::Program;
use crate::flow_key::FlowKey;
use crate::packet::Layout;
use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Entries kept before the cache is emptied and refilled (bounds memory
/// under a flood of distinct flows).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Above half the capacity, one miss in this many is inserted.
pub const INSERT_INV_PROB: u32 = 32;

/// Passes [`FlowKey::hash64`] through (the key hashes itself with one
/// `write_u64`).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for FlowKey; a plain fold for anything else.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type KeyMap<V> = HashMap<FlowKey, V, BuildHasherDefault<KeyHasher>>;

/// A per-thread microflow cache.
#[derive(Debug)]
pub struct MicroflowCache {
    generation: u64,
    capacity: usize,
    map: KeyMap<Program>,
    /// The program of the last miss that was not inserted.
    uncached: Program,
    /// xorshift32 state for the insertion draw.
    draw: u32,
    pub hits: u64,
    pub misses: u64,
}

impl Default for MicroflowCache {
    fn default() -> Self {
        MicroflowCache::with_capacity(DEFAULT_CAPACITY)
    }
}

impl MicroflowCache {
    pub fn with_capacity(capacity: usize) -> MicroflowCache {
        MicroflowCache {
            generation: u64::MAX,
            capacity: capacity.max(1),
            map: KeyMap::default(),
            uncached: Program { ops: Vec::new() },
            draw: 0x9e37_79b9,
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The program for `key` under pipeline `p`, translating `frame` on a
    /// miss.
    #[inline]
    pub fn get_or_translate(
        &mut self,
        p: &Pipeline,
        frame: &[u8],
        key: &FlowKey,
        layout: &Layout,
        now: u64,
    ) -> &Program {
        if self.generation != p.generation || self.map.len() >= self.capacity {
            self.map.clear();
            self.generation = p.generation;
        }
        let crowded = self.map.len() >= self.capacity / 2;
        // entry_ref: the 144-byte key is copied only when inserted.
        match self.map.entry_ref(key) {
            EntryRef::Occupied(e) => {
                self.hits += 1;
                e.into_mut()
            }
            EntryRef::Vacant(v) => {
                self.misses += 1;
                let program = p.translate(frame, key, layout, 0, now);
                if !crowded || next_draw(&mut self.draw).is_multiple_of(INSERT_INV_PROB) {
                    v.insert(program)
                } else {
                    self.uncached = program;
                    &self.uncached
                }
            }
        }
    }
}

/// One step of xorshift32 (Marsaglia): cheap, and good enough to decide
/// insertions.
fn next_draw(state: &mut u32) -> u32 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    x
}
