//! Tuple-space search: one hash table per distinct mask ("subtable"),
//! subtables visited in order of the highest priority they hold, stopping as
//! soon as no remaining subtable can beat the best match found.
//!
//! Why this shape: a linear scan costs O(rules) per packet; here a lookup
//! costs one hash probe per subtable, and real pipelines have few distinct
//! masks (Faucet's has about ten). Each subtable hashes only the key words
//! its mask uses.
//!
//! Subtables sit behind `Arc` so that a published snapshot of the
//! classifier shares them: an insert clones (`Arc::make_mut`) just the one
//! subtable it changes while a snapshot still holds it, so the forwarding
//! threads keep reading the old version without any lock.

use crate::flow_key::{FlowKey, WORDS};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The hash is computed by [`hash_words`]; the map only passes it through.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Map<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    let x = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

/// One rule's place in a subtable.
#[derive(Clone, Debug)]
struct Entry<R> {
    /// The rule's masked key, only the words the subtable's mask uses.
    values: Box<[u64]>,
    priority: u16,
    rule: R,
}

/// All rules sharing one mask.
#[derive(Clone, Debug)]
struct Subtable<R> {
    mask: FlowKey,
    /// Indices of the mask's non-zero words.
    words: Box<[u8]>,
    /// The mask's non-zero words, in `words` order.
    mask_words: Box<[u64]>,
    /// Hash of the masked words -> entries, highest priority first.
    map: Map<Vec<Entry<R>>>,
    max_priority: u16,
    len: usize,
}

impl<R> Subtable<R> {
    fn new(mask: &FlowKey) -> Self {
        let words: Vec<u8> = (0..WORDS)
            .filter(|&i| mask.word(i) != 0)
            .map(|i| i as u8)
            .collect();
        let mask_words = words.iter().map(|&i| mask.word(usize::from(i))).collect();
        Subtable {
            mask: *mask,
            words: words.into(),
            mask_words,
            map: Map::default(),
            max_priority: 0,
            len: 0,
        }
    }

    /// Masked words of `key` and their hash.
    #[inline]
    fn project(&self, key: &FlowKey, out: &mut [u64; WORDS]) -> u64 {
        let mut h = self.words.len() as u64;
        for (j, (&i, &m)) in self.words.iter().zip(self.mask_words.iter()).enumerate() {
            let v = key.word(usize::from(i)) & m;
            out[j] = v;
            h = mix(h, v);
        }
        h
    }

    fn recompute_max(&mut self) {
        self.max_priority = self
            .map
            .values()
            .filter_map(|b| b.first().map(|e| e.priority))
            .max()
            .unwrap_or(0);
    }
}

/// A priority classifier over flow keys.
#[derive(Clone, Debug)]
pub struct Classifier<R> {
    /// Sorted by `max_priority`, highest first.
    subtables: Vec<Arc<Subtable<R>>>,
    len: usize,
}

impl<R> Default for Classifier<R> {
    fn default() -> Self {
        Classifier {
            subtables: Vec::new(),
            len: 0,
        }
    }
}

impl<R: Clone> Classifier<R> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct masks.
    pub fn subtable_count(&self) -> usize {
        self.subtables.len()
    }

    fn find_subtable(&self, mask: &FlowKey) -> Option<usize> {
        self.subtables.iter().position(|s| s.mask == *mask)
    }

    fn resort(&mut self) {
        self.subtables
            .sort_by_key(|s| std::cmp::Reverse(s.max_priority));
    }

    /// Adds a rule; a rule with the same match and priority is replaced and
    /// returned. `key` need not be masked already.
    pub fn insert(&mut self, key: &FlowKey, mask: &FlowKey, priority: u16, rule: R) -> Option<R> {
        let idx = match self.find_subtable(mask) {
            Some(i) => i,
            None => {
                self.subtables.push(Arc::new(Subtable::new(mask)));
                self.subtables.len() - 1
            }
        };
        let st = Arc::make_mut(&mut self.subtables[idx]);
        let mut vals = [0u64; WORDS];
        let h = st.project(key, &mut vals);
        let values = &vals[..st.words.len()];
        let bucket = st.map.entry(h).or_default();
        let replaced = if let Some(e) = bucket
            .iter_mut()
            .find(|e| e.priority == priority && &*e.values == values)
        {
            Some(std::mem::replace(&mut e.rule, rule))
        } else {
            let pos = bucket
                .iter()
                .position(|e| e.priority < priority)
                .unwrap_or(bucket.len());
            // Most buckets hold one entry: grow one at a time instead of
            // Vec's default first allocation of four (96 bytes per flow).
            bucket.reserve_exact(1);
            bucket.insert(
                pos,
                Entry {
                    values: values.into(),
                    priority,
                    rule,
                },
            );
            st.len += 1;
            self.len += 1;
            None
        };
        if priority > st.max_priority || st.len == 1 {
            st.max_priority = st.max_priority.max(priority);
            self.resort();
        }
        replaced
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, key: &FlowKey, mask: &FlowKey, priority: u16) -> Option<R> {
        let idx = self.find_subtable(mask)?;
        let st = Arc::make_mut(&mut self.subtables[idx]);
        let mut vals = [0u64; WORDS];
        let h = st.project(key, &mut vals);
        let values = &vals[..st.words.len()];
        let bucket = st.map.get_mut(&h)?;
        let pos = bucket
            .iter()
            .position(|e| e.priority == priority && &*e.values == values)?;
        let e = bucket.remove(pos);
        if bucket.is_empty() {
            st.map.remove(&h);
        }
        st.len -= 1;
        self.len -= 1;
        if st.len == 0 {
            self.subtables.remove(idx);
        } else if priority == st.max_priority {
            st.recompute_max();
            self.resort();
        }
        Some(e.rule)
    }

    /// The rule with exactly this match and priority.
    pub fn get_strict(&self, key: &FlowKey, mask: &FlowKey, priority: u16) -> Option<&R> {
        let st = &self.subtables[self.find_subtable(mask)?];
        let mut vals = [0u64; WORDS];
        let h = st.project(key, &mut vals);
        let values = &vals[..st.words.len()];
        st.map
            .get(&h)?
            .iter()
            .find(|e| e.priority == priority && &*e.values == values)
            .map(|e| &e.rule)
    }

    /// The highest-priority rule matching a packet's key.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<(&R, u16)> {
        let mut best: Option<(&R, u16)> = None;
        let mut vals = [0u64; WORDS];
        for st in &self.subtables {
            if let Some((_, p)) = best {
                if st.max_priority <= p {
                    break;
                }
            }
            let h = st.project(key, &mut vals);
            let values = &vals[..st.words.len()];
            if let Some(bucket) = st.map.get(&h) {
                if let Some(e) = bucket.iter().find(|e| &*e.values == values) {
                    if best.is_none_or(|(_, p)| e.priority > p) {
                        best = Some((&e.rule, e.priority));
                    }
                }
            }
        }
        best
    }

    /// Every rule with its masked key, mask and priority (no order).
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, &FlowKey, u16, &R)> + '_ {
        self.subtables.iter().flat_map(|st| {
            st.map.values().flatten().map(move |e| {
                let mut k = FlowKey::ZERO;
                for (&i, &v) in st.words.iter().zip(e.values.iter()) {
                    k.set_word(usize::from(i), v);
                }
                (k, &st.mask, e.priority, &e.rule)
            })
        })
    }

    /// Removes every rule for which `f` is true, returning them.
    pub fn remove_where(
        &mut self,
        mut f: impl FnMut(&FlowKey, &FlowKey, u16, &R) -> bool,
    ) -> Vec<R> {
        let doomed: Vec<(FlowKey, FlowKey, u16)> = self
            .iter()
            .filter(|(k, m, p, r)| f(k, m, *p, r))
            .map(|(k, m, p, _)| (k, *m, p))
            .collect();
        doomed
            .iter()
            .filter_map(|(k, m, p)| self.remove(k, m, *p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow_key::off;

    fn key(in_port: u32, eth_type: u16, nw_dst: u32) -> FlowKey {
        let mut k = FlowKey::ZERO;
        k.set_u32(off::IN_PORT, in_port);
        k.set_u16(off::ETH_TYPE, eth_type);
        k.set_u32(off::NW_DST, nw_dst);
        k
    }

    #[test]
    fn priorities_and_masks() {
        let mut c: Classifier<&str> = Classifier::new();
        let any = FlowKey::ZERO;
        let port_mask = key(u32::MAX, 0, 0);
        let dst24 = key(0, 0xffff, 0xffff_ff00);
        assert!(c.insert(&any, &any, 0, "miss").is_none());
        c.insert(&key(1, 0, 0), &port_mask, 100, "port1");
        c.insert(&key(0, 0x0800, 0x0a00_0000), &dst24, 200, "net10");
        assert_eq!(c.len(), 3);
        assert_eq!(c.subtable_count(), 3);
        assert_eq!(c.lookup(&key(1, 0x0800, 0x0a00_0005)).unwrap().0, &"net10");
        assert_eq!(c.lookup(&key(1, 0x0806, 0x0a00_0005)).unwrap().0, &"port1");
        assert_eq!(c.lookup(&key(2, 0x0806, 0)).unwrap().0, &"miss");
        // same match and priority replaces
        assert_eq!(
            c.insert(&key(1, 0, 0), &port_mask, 100, "port1b"),
            Some("port1")
        );
        assert_eq!(c.len(), 3);
        // same match, other priority coexists
        c.insert(&key(1, 0, 0), &port_mask, 300, "port1-high");
        assert_eq!(
            c.lookup(&key(1, 0x0800, 0x0a00_0005)).unwrap().0,
            &"port1-high"
        );
        assert_eq!(c.remove(&key(1, 0, 0), &port_mask, 300), Some("port1-high"));
        assert_eq!(c.lookup(&key(1, 0x0800, 0x0a00_0005)).unwrap().0, &"net10");
        assert_eq!(
            c.get_strict(&key(1, 0, 0), &port_mask, 100),
            Some(&"port1b")
        );
        assert_eq!(c.remove_where(|_, _, p, _| p == 0), vec!["miss"]);
        assert!(c.lookup(&key(2, 0, 0)).is_none());
        assert_eq!(c.subtable_count(), 2);
    }

    #[test]
    fn snapshot_is_unaffected_by_later_changes() {
        let mut c: Classifier<u32> = Classifier::new();
        let m = key(u32::MAX, 0, 0);
        c.insert(&key(1, 0, 0), &m, 10, 1);
        let snap = c.clone();
        c.insert(&key(2, 0, 0), &m, 10, 2);
        c.remove(&key(1, 0, 0), &m, 10);
        assert_eq!(snap.lookup(&key(1, 0, 0)).map(|r| *r.0), Some(1));
        assert!(snap.lookup(&key(2, 0, 0)).is_none());
        assert_eq!(c.lookup(&key(2, 0, 0)).map(|r| *r.0), Some(2));
    }

    #[test]
    fn agrees_with_linear_scan() {
        // Pseudo-random rules over 4 masks, checked against a brute force.
        let masks = [
            key(u32::MAX, 0, 0),
            key(0, 0xffff, 0xffff_ff00),
            key(u32::MAX, 0xffff, 0xffff_ffff),
            key(0, 0, 0xff00_0000),
        ];
        let mut c: Classifier<usize> = Classifier::new();
        let mut rules: Vec<(FlowKey, FlowKey, u16)> = Vec::new();
        let mut x: u64 = 42;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..500 {
            let m = masks[(rnd() % 4) as usize];
            let k = key(
                (rnd() % 4) as u32,
                [0x0800, 0x0806][(rnd() % 2) as usize],
                rnd() as u32 % 8 * 0x0100_0000 + (rnd() as u32 % 4),
            )
            .masked(&m);
            let p = (rnd() % 50) as u16;
            if rules
                .iter()
                .any(|(rk, rm, rp)| *rk == k && *rm == m && *rp == p)
            {
                continue;
            }
            c.insert(&k, &m, p, rules.len());
            rules.push((k, m, p));
        }
        for _ in 0..2000 {
            let pk = key(
                (rnd() % 4) as u32,
                [0x0800, 0x0806][(rnd() % 2) as usize],
                rnd() as u32 % 8 * 0x0100_0000 + (rnd() as u32 % 4),
            );
            let best = rules
                .iter()
                .filter(|(k, m, _)| pk.masked(m) == *k)
                .map(|(_, _, p)| *p)
                .max();
            assert_eq!(c.lookup(&pk).map(|(_, p)| p), best);
        }
    }
}
