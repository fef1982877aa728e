//! The exact-match microflow cache: flow key → translated [`Program`].
//!
//! One cache per forwarding thread, so a hit takes no lock and touches no
//! shared memory but the program's counters. Entries are valid for one
//! pipeline generation: the first lookup after any change to tables,
//! groups, meters or ports empties the cache (the same rule as Open
//! vSwitch's microflow cache, which is flushed on every revalidation).

use super::state::Pipeline;
use super::xlate::Program;
use crate::flow_key::{FlowKey, KEY_LEN};
use crate::packet::Layout;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Entries kept before the cache is emptied and refilled (bounds memory
/// under a flood of distinct flows).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// Hashes a flow key eight bytes at a time.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        let h = self.0;
        (h ^ (h >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (h >> 29)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_ne_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        self.0 = h;
    }
}

type KeyMap<V> = HashMap<FlowKey, V, BuildHasherDefault<KeyHasher>>;

const _: () = assert!(KEY_LEN.is_multiple_of(8));

/// A per-thread microflow cache.
#[derive(Debug)]
pub struct MicroflowCache {
    generation: u64,
    capacity: usize,
    map: KeyMap<Arc<Program>>,
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
    ) -> Arc<Program> {
        if self.generation != p.generation {
            self.map.clear();
            self.generation = p.generation;
        }
        if let Some(prog) = self.map.get(key) {
            self.hits += 1;
            return prog.clone();
        }
        self.misses += 1;
        let prog = Arc::new(p.translate(frame, key, layout, 0, now));
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(*key, prog.clone());
        prog
    }
}
