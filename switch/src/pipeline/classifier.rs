//! Tuple-space search: one hash table per distinct mask ("subtable"),
//! subtables visited in order of the highest priority they hold, stopping as
//! soon as no remaining subtable can beat the best match found.
//!
//! Why this shape: a linear scan costs O(rules) per packet; here a lookup
//! costs one hash probe per subtable, and real pipelines have few distinct
//! masks (Faucet's has about ten). Each subtable hashes only the key words
//! its mask uses.
//!
//! Each subtable's rules live in a persistent hash trie ([`super::trie`]),
//! so a published snapshot of the classifier shares them and a change after
//! a publish copies one path of the trie, never the subtable: FLOW_MODs cost
//! the same with 1,000 or 100,000 flows installed, even when every one is
//! published on its own. The forwarding threads keep reading the old
//! version without any lock.
//!
//! Requests that select rules by match (MODIFY, DELETE, flow stats) visit
//! only the subtables whose mask covers the request's, and in the subtable
//! whose mask is the request's own only the one hash group
//! ([`Classifier::candidates`]): deleting one learned MAC is a lookup, not a
//! scan of the table.

use super::trie::{HashTrie, Prioritized};
use crate::flow_key::{FlowKey, WORDS};
use std::sync::Arc;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    let x = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^ (x >> 32)
}

/// Whether every bit of `inner` is set in `outer`.
fn mask_covers(outer: &FlowKey, inner: &FlowKey) -> bool {
    (0..WORDS).all(|i| outer.word(i) & inner.word(i) == inner.word(i))
}

/// One rule's place in a subtable.
#[derive(Clone, Debug)]
struct Entry<R> {
    /// The rule's masked key, only the words the subtable's mask uses.
    values: Box<[u64]>,
    priority: u16,
    rule: R,
}

impl<R> Prioritized for Entry<R> {
    fn priority(&self) -> u16 {
        self.priority
    }
}

/// All rules sharing one mask.
#[derive(Clone, Debug)]
struct Subtable<R> {
    mask: FlowKey,
    /// Indices of the mask's non-zero words.
    words: Box<[u8]>,
    /// The mask's non-zero words, in `words` order.
    mask_words: Box<[u64]>,
    /// Hash of the masked words -> entries, highest priority first within
    /// one hash.
    entries: HashTrie<Entry<R>>,
    /// The highest priority in `entries` (kept here: the search reads it
    /// for every subtable it passes).
    max_priority: u16,
}

impl<R: Clone> Subtable<R> {
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
            entries: HashTrie::default(),
            max_priority: 0,
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

    /// The full (masked) key of an entry.
    fn key_of(&self, e: &Entry<R>) -> FlowKey {
        let mut k = FlowKey::ZERO;
        for (&i, &v) in self.words.iter().zip(e.values.iter()) {
            k.set_word(usize::from(i), v);
        }
        k
    }

    /// The rule with these values and priority, and where it is in its
    /// group.
    fn find(&self, h: u64, values: &[u64], priority: u16) -> Option<(usize, &Entry<R>)> {
        self.entries
            .group(h)
            .iter()
            .enumerate()
            .find(|(_, e)| e.priority == priority && &*e.values == values)
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

    /// Refreshes subtable `idx`'s maximum priority after a change, and the
    /// search order if it moved.
    fn refresh_max(&mut self, idx: usize) {
        let st = &self.subtables[idx];
        let max = st.entries.max_priority();
        if max != st.max_priority {
            Arc::make_mut(&mut self.subtables[idx]).max_priority = max;
            self.resort();
        }
    }

    /// Adds a rule; a rule with the same match and priority is replaced and
    /// returned. `key` need not be masked already.
    pub fn insert(&mut self, key: &FlowKey, mask: &FlowKey, priority: u16, rule: R) -> Option<R> {
        let idx = match self.find_subtable(mask) {
            Some(i) => i,
            None => {
                // A new subtable goes last, where its empty maximum
                // belongs; refresh_max moves it.
                self.subtables.push(Arc::new(Subtable::new(mask)));
                self.subtables.len() - 1
            }
        };
        let st = Arc::make_mut(&mut self.subtables[idx]);
        let mut vals = [0u64; WORDS];
        let h = st.project(key, &mut vals);
        let values = &vals[..st.words.len()];
        let entry = Entry {
            values: values.into(),
            priority,
            rule,
        };
        // One pass over the group: the same rule to replace, or where the
        // new one goes (before the first lower priority).
        let mut place = Err(usize::MAX);
        for (i, e) in st.entries.group(h).iter().enumerate() {
            if e.priority == priority && &*e.values == values {
                place = Ok(i);
                break;
            }
            if e.priority < priority && place == Err(usize::MAX) {
                place = Err(i);
            }
        }
        let at = match place {
            Ok(at) => return st.entries.replace(h, at, entry).map(|e| e.rule),
            Err(at) => at,
        };
        st.entries.insert(h, at, entry);
        self.len += 1;
        self.refresh_max(idx);
        None
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, key: &FlowKey, mask: &FlowKey, priority: u16) -> Option<R> {
        let idx = self.find_subtable(mask)?;
        let mut vals = [0u64; WORDS];
        let h = self.subtables[idx].project(key, &mut vals);
        let values = &vals[..self.subtables[idx].words.len()];
        let (at, _) = self.subtables[idx].find(h, values, priority)?;
        let st = Arc::make_mut(&mut self.subtables[idx]);
        let e = st.entries.remove(h, at)?;
        self.len -= 1;
        if st.entries.is_empty() {
            self.subtables.remove(idx);
        } else {
            self.refresh_max(idx);
        }
        Some(e.rule)
    }

    /// The rule with exactly this match and priority.
    pub fn get_strict(&self, key: &FlowKey, mask: &FlowKey, priority: u16) -> Option<&R> {
        let st = &self.subtables[self.find_subtable(mask)?];
        let mut vals = [0u64; WORDS];
        let h = st.project(key, &mut vals);
        st.find(h, &vals[..st.words.len()], priority)
            .map(|(_, e)| &e.rule)
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
            if let Some(e) = st.entries.group(h).iter().find(|e| &*e.values == values) {
                if best.is_none_or(|(_, p)| e.priority > p) {
                    best = Some((&e.rule, e.priority));
                }
            }
        }
        best
    }

    /// Every rule with its masked key, mask and priority (no order).
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, &FlowKey, u16, &R)> + '_ {
        self.subtables.iter().flat_map(|st| {
            st.entries
                .iter()
                .map(move |e| (st.key_of(e), &st.mask, e.priority, &e.rule))
        })
    }

    /// A superset of the rules at least as specific as the match (`key`,
    /// `mask`), those a non-strict MODIFY, DELETE or flow stats request
    /// selects: every rule of the subtables whose mask covers `mask`, except
    /// in the subtable whose mask is `mask` itself, where only the rules
    /// with the same masked key can be selected. The caller still checks
    /// each candidate. A match-all request visits every rule.
    pub fn candidates<'a>(
        &'a self,
        key: &FlowKey,
        mask: &FlowKey,
    ) -> impl Iterator<Item = (FlowKey, &'a FlowKey, u16, &'a R)> + 'a {
        let (key, mask) = (key.masked(mask), *mask);
        self.subtables
            .iter()
            .filter(move |st| mask_covers(&st.mask, &mask))
            .flat_map(move |st| {
                let entries: Box<dyn Iterator<Item = &Entry<R>>> = if st.mask == mask {
                    let mut vals = [0u64; WORDS];
                    let h = st.project(&key, &mut vals);
                    Box::new(st.entries.group(h).iter())
                } else {
                    Box::new(st.entries.iter())
                };
                entries.map(move |e| (st.key_of(e), &st.mask, e.priority, &e.rule))
            })
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
        assert_eq!(c.remove(&any, &any, 0), Some("miss"));
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
    fn candidates_hold_every_covered_rule() {
        let masks = [
            key(u32::MAX, 0, 0),
            key(u32::MAX, 0xffff, 0),
            key(u32::MAX, 0xffff, 0xffff_ffff),
            key(0, 0xffff, 0xffff_ff00),
        ];
        let mut c: Classifier<usize> = Classifier::new();
        let mut n = 0;
        for port in 0..6u32 {
            for dst in 0..6u32 {
                for (mi, m) in masks.iter().enumerate() {
                    let k = key(port, 0x0800, 0x0a00_0000 | dst << 8 | dst).masked(m);
                    c.insert(&k, m, (port + dst) as u16 + mi as u16, n);
                    n += 1;
                }
            }
        }
        let covered = |rk: &FlowKey, rm: &FlowKey| -> Vec<usize> {
            let mut v: Vec<usize> = c
                .iter()
                .filter(|(k, m, _, _)| super::super::flow_mod::covered_by(k, m, rk, rm))
                .map(|(_, _, _, r)| *r)
                .collect();
            v.sort();
            v
        };
        let requests = [
            (FlowKey::ZERO, FlowKey::ZERO),
            (key(3, 0, 0), masks[0]),
            (key(3, 0x0800, 0), masks[1]),
            (key(3, 0x0800, 0x0a00_0303), masks[2]),
            (key(0, 0x0800, 0x0a00_0200), masks[3]),
            (key(0, 0x0800, 0x0a00_0000), key(0, 0xffff, 0xff00_0000)),
        ];
        for (rk, rm) in requests {
            let mut got: Vec<usize> = c
                .candidates(&rk, &rm)
                .filter(|(k, m, _, _)| super::super::flow_mod::covered_by(k, m, &rk, &rm))
                .map(|(_, _, _, r)| *r)
                .collect();
            got.sort();
            assert_eq!(got, covered(&rk, &rm));
        }
        // A request with the exact mask of a subtable looks at one group
        // there, not at the whole subtable.
        let (rk, rm) = (key(3, 0x0800, 0x0a00_0303), masks[2]);
        assert_eq!(c.candidates(&rk, &rm).count(), 1);
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
