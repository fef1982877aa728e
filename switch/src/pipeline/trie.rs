//! A persistent hash trie: the map behind each classifier subtable.
//!
//! Why persistent: the control plane publishes a snapshot of the pipeline
//! after every batch of channel input, and a controller may send one
//! FLOW_MOD and one BARRIER at a time (a learning controller does, for
//! hours), so almost every change follows a publish. Whatever the snapshot
//! shares with the control copy has to be copied before it is changed. With
//! one hash map per subtable that copy was the whole subtable: adding
//! 100,000 flows through the daemon was quadratic. Here a change copies only
//! the path from the root to one leaf, at most [`MAX_DEPTH`] branches of at
//! most 64 child pointers and one leaf of about [`LEAF_MAX`] items, however
//! large the table. Forwarding threads keep reading the root they loaded
//! and never wait.
//!
//! Shape: the key is the 64-bit hash the subtable computes from a rule's
//! masked words. A branch takes the next 6 bits of the hash (from the top)
//! and keeps only the children present, behind a 64-bit bitmap (as in a
//! HAMT), so a sparse branch costs one pointer per child, not 64. A leaf
//! holds up to [`LEAF_MAX`] items sorted by hash, in two parallel arrays: a
//! lookup searches the hashes (two cache lines) before it touches an item.
//! Items with the same hash (one match at several priorities, or a rare
//! collision) sit next to each other in the order the caller keeps, which
//! for the classifier is highest priority first. A leaf splits into a
//! branch when it grows past [`LEAF_MAX`], unless all its items share one
//! hash; a branch left with a single leaf becomes that leaf again.
//!
//! Every node knows the highest priority below it (a branch keeps its
//! children's maxima in an array), so the subtable's maximum priority, which
//! orders the tuple-space search, stays exact after a removal without a
//! scan of the subtable.
//!
//! Why not a crate (`im`, `rpds`): their persistent maps would need a `Vec`
//! per hash for the several priorities of one match (one more allocation
//! and pointer per flow), and cannot keep the maximum priority.

use std::sync::Arc;

/// What the trie needs to know of an item.
pub trait Prioritized {
    fn priority(&self) -> u16;
}

/// Bits of the hash a branch consumes.
const BITS: u32 = 6;
/// Branch levels: 10 levels use 60 of the 64 bits; a leaf below them
/// never splits.
pub const MAX_DEPTH: u32 = 64 / BITS;
/// Items a leaf holds before it splits.
pub const LEAF_MAX: usize = 16;

/// The child index of `hash` at `depth`.
#[inline]
fn chunk(hash: u64, depth: u32) -> u32 {
    ((hash >> (64 - BITS * (depth + 1))) & ((1 << BITS) - 1)) as u32
}

#[derive(Clone)]
enum Node<T> {
    Branch(Branch<T>),
    Leaf(Leaf<T>),
}

#[derive(Clone)]
struct Branch<T> {
    /// Bit `c` is set when the child for chunk `c` exists.
    bitmap: u64,
    /// The children present, in chunk order.
    children: Vec<Arc<Node<T>>>,
    /// Each child's highest priority, in the same order.
    child_max: Vec<u16>,
    max: u16,
}

#[derive(Clone)]
struct Leaf<T> {
    /// Sorted; equal hashes are adjacent.
    hashes: Vec<u64>,
    items: Vec<T>,
}

impl<T: Prioritized> Node<T> {
    fn max(&self) -> u16 {
        match self {
            Node::Branch(b) => b.max,
            Node::Leaf(l) => l.items.iter().map(T::priority).max().unwrap_or(0),
        }
    }
}

impl<T> Branch<T> {
    /// Position in `children` of the child for `hash` at `depth`, and
    /// whether it exists.
    #[inline]
    fn slot(&self, hash: u64, depth: u32) -> (usize, bool) {
        let bit = 1u64 << chunk(hash, depth);
        (
            (self.bitmap & (bit - 1)).count_ones() as usize,
            self.bitmap & bit != 0,
        )
    }

    fn recompute_max(&mut self) {
        self.max = self.child_max.iter().copied().max().unwrap_or(0);
    }
}

impl<T> Leaf<T> {
    /// The index range of the items with hash `hash`.
    #[inline]
    fn range(&self, hash: u64) -> std::ops::Range<usize> {
        // A leaf is small (at most LEAF_MAX hashes, two cache lines): a
        // linear scan beats a binary search's unpredictable branches.
        let lo = self
            .hashes
            .iter()
            .position(|&h| h >= hash)
            .unwrap_or(self.hashes.len());
        let n = self.hashes[lo..].iter().take_while(|&&h| h == hash).count();
        lo..lo + n
    }
}

/// Builds the node holding `hashes`/`items` (sorted by hash) at `depth`:
/// a leaf if they fit or cannot be told apart, else a branch.
fn build<T: Prioritized>(hashes: Vec<u64>, items: Vec<T>, depth: u32) -> Node<T> {
    let same_hash = hashes.first() == hashes.last();
    if hashes.len() <= LEAF_MAX || depth >= MAX_DEPTH || same_hash {
        return Node::Leaf(Leaf { hashes, items });
    }
    // Sorted by hash means sorted by this level's chunk too: each child's
    // items are one run.
    let mut branch = Branch {
        bitmap: 0,
        children: Vec::new(),
        child_max: Vec::new(),
        max: 0,
    };
    let mut hashes = hashes.into_iter().peekable();
    let mut items = items.into_iter();
    while let Some(&first) = hashes.peek() {
        let c = chunk(first, depth);
        let mut run_hashes = Vec::new();
        let mut run_items = Vec::new();
        while let Some(h) = hashes.next_if(|&h| chunk(h, depth) == c) {
            run_hashes.push(h);
            if let Some(item) = items.next() {
                run_items.push(item);
            }
        }
        let child = build(run_hashes, run_items, depth + 1);
        branch.bitmap |= 1 << c;
        branch.child_max.push(child.max());
        branch.children.push(Arc::new(child));
    }
    branch.recompute_max();
    Node::Branch(branch)
}

/// A persistent map from 64-bit hashes to groups of items. Cloning it is
/// one reference count; a change copies one root-to-leaf path of nodes
/// still shared with a clone.
pub struct HashTrie<T> {
    root: Option<Arc<Node<T>>>,
    len: usize,
}

impl<T> Clone for HashTrie<T> {
    fn clone(&self) -> Self {
        HashTrie {
            root: self.root.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for HashTrie<T> {
    fn default() -> Self {
        HashTrie { root: None, len: 0 }
    }
}

impl<T> std::fmt::Debug for HashTrie<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashTrie").field("len", &self.len).finish()
    }
}

impl<T: Prioritized + Clone> HashTrie<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The highest priority of any item (0 when empty).
    pub fn max_priority(&self) -> u16 {
        self.root.as_ref().map_or(0, |r| r.max())
    }

    /// The items with hash `hash`, in the order they were placed.
    #[inline]
    pub fn group(&self, hash: u64) -> &[T] {
        let Some(mut node) = self.root.as_deref() else {
            return &[];
        };
        let mut depth = 0;
        loop {
            match node {
                Node::Branch(b) => {
                    let (i, present) = b.slot(hash, depth);
                    if !present {
                        return &[];
                    }
                    node = &b.children[i];
                    depth += 1;
                }
                Node::Leaf(l) => return &l.items[l.range(hash)],
            }
        }
    }

    /// Inserts `item` with hash `hash` at position `at` of its group (as
    /// [`HashTrie::group`] showed it; `at` past the end appends).
    pub fn insert(&mut self, hash: u64, at: usize, item: T) {
        match &mut self.root {
            None => {
                self.root = Some(Arc::new(Node::Leaf(Leaf {
                    hashes: vec![hash],
                    items: vec![item],
                })))
            }
            Some(root) => insert_in(root, 0, hash, at, item),
        }
        self.len += 1;
    }

    /// Replaces the item at position `at` of the group of `hash`, returning
    /// the old one; `None` (and nothing changed) if there is no such item.
    pub fn replace(&mut self, hash: u64, at: usize, item: T) -> Option<T> {
        if at >= self.group(hash).len() {
            return None;
        }
        self.root
            .as_mut()
            .map(|root| replace_in(root, 0, hash, at, item))
    }

    /// Removes the item at position `at` of the group of `hash`; `None` (and
    /// nothing changed) if there is no such item.
    pub fn remove(&mut self, hash: u64, at: usize) -> Option<T> {
        if at >= self.group(hash).len() {
            return None;
        }
        let root = self.root.as_mut()?;
        let (item, empty) = remove_in(root, 0, hash, at);
        if empty {
            self.root = None;
        }
        self.len -= 1;
        Some(item)
    }

    /// Every item, grouped by hash, in hash order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            stack: self.root.as_deref().map(|r| (r, 0)).into_iter().collect(),
        }
    }
}

fn insert_in<T: Prioritized + Clone>(
    node: &mut Arc<Node<T>>,
    depth: u32,
    hash: u64,
    at: usize,
    item: T,
) {
    match Arc::make_mut(node) {
        Node::Branch(b) => {
            let (i, present) = b.slot(hash, depth);
            if present {
                insert_in(&mut b.children[i], depth + 1, hash, at, item);
                b.child_max[i] = b.children[i].max();
            } else {
                b.bitmap |= 1 << chunk(hash, depth);
                b.child_max.insert(i, item.priority());
                let leaf = Node::Leaf(Leaf {
                    hashes: vec![hash],
                    items: vec![item],
                });
                b.children.insert(i, Arc::new(leaf));
            }
            b.recompute_max();
        }
        Node::Leaf(l) => {
            let r = l.range(hash);
            let pos = r.start + at.min(r.len());
            l.hashes.insert(pos, hash);
            l.items.insert(pos, item);
            if l.hashes.len() > LEAF_MAX && depth < MAX_DEPTH {
                let hashes = std::mem::take(&mut l.hashes);
                let items = std::mem::take(&mut l.items);
                *Arc::make_mut(node) = build(hashes, items, depth);
            }
        }
    }
}

fn replace_in<T: Prioritized + Clone>(
    node: &mut Arc<Node<T>>,
    depth: u32,
    hash: u64,
    at: usize,
    item: T,
) -> T {
    match Arc::make_mut(node) {
        Node::Branch(b) => {
            // The caller checked that the item exists.
            let (i, _) = b.slot(hash, depth);
            let old = replace_in(&mut b.children[i], depth + 1, hash, at, item);
            b.child_max[i] = b.children[i].max();
            b.recompute_max();
            old
        }
        Node::Leaf(l) => {
            let pos = l.range(hash).start + at;
            std::mem::replace(&mut l.items[pos], item)
        }
    }
}

/// Removes an item known to exist; says whether `node` is now empty.
fn remove_in<T: Prioritized + Clone>(
    node: &mut Arc<Node<T>>,
    depth: u32,
    hash: u64,
    at: usize,
) -> (T, bool) {
    let n = Arc::make_mut(node);
    match n {
        Node::Branch(b) => {
            let (i, _) = b.slot(hash, depth);
            let (item, child_empty) = remove_in(&mut b.children[i], depth + 1, hash, at);
            if child_empty {
                b.bitmap &= !(1 << chunk(hash, depth));
                b.children.remove(i);
                b.child_max.remove(i);
            } else {
                b.child_max[i] = b.children[i].max();
            }
            b.recompute_max();
            let empty = b.children.is_empty();
            // A branch down to one leaf becomes that leaf: lookups take one
            // hop less, and the leaf still holds only hashes of this path.
            if b.children.len() == 1 && matches!(*b.children[0], Node::Leaf(_)) {
                let only = b.children[0].clone();
                *node = only;
            }
            (item, empty)
        }
        Node::Leaf(l) => {
            let pos = l.range(hash).start + at;
            l.hashes.remove(pos);
            let item = l.items.remove(pos);
            (item, l.items.is_empty())
        }
    }
}

/// Iterator over a trie's items (depth first, in hash order).
pub struct Iter<'a, T> {
    /// Nodes being walked, with the next child or item to visit.
    stack: Vec<(&'a Node<T>, usize)>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            let (node, i) = self.stack.last_mut()?;
            match node {
                Node::Leaf(l) => {
                    if let Some(item) = l.items.get(*i) {
                        *i += 1;
                        return Some(item);
                    }
                    self.stack.pop();
                }
                Node::Branch(b) => {
                    if let Some(child) = b.children.get(*i) {
                        *i += 1;
                        self.stack.push((child, 0));
                    } else {
                        self.stack.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug, PartialEq)]
    struct Item {
        prio: u16,
        id: u32,
    }

    impl Prioritized for Item {
        fn priority(&self) -> u16 {
            self.prio
        }
    }

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Random inserts and removes, checked against a BTreeMap model, with
    /// hashes from a small space (so groups and same-hash leaves happen)
    /// and from the whole space (so the trie grows deep).
    fn against_model(hash_space: u64, ops: usize, seed: u64) {
        let mut rnd = rng(seed);
        let mut t: HashTrie<Item> = HashTrie::default();
        let mut model: BTreeMap<u64, Vec<Item>> = BTreeMap::new();
        let mut id = 0;
        for step in 0..ops {
            let h = rnd() % hash_space;
            let h = h.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let group = model.entry(h).or_default();
            if rnd().is_multiple_of(3) && !group.is_empty() {
                let at = (rnd() as usize) % group.len();
                let want = group.remove(at);
                assert_eq!(t.remove(h, at), Some(want));
            } else if rnd().is_multiple_of(5) && !group.is_empty() {
                let at = (rnd() as usize) % group.len();
                id += 1;
                let item = Item {
                    prio: group[at].prio,
                    id,
                };
                let want = std::mem::replace(&mut group[at], item.clone());
                assert_eq!(t.replace(h, at, item), Some(want));
            } else {
                let at = (rnd() as usize) % (group.len() + 1);
                id += 1;
                let item = Item {
                    prio: (rnd() % 1000) as u16,
                    id,
                };
                group.insert(at, item.clone());
                t.insert(h, at, item);
            }
            if model.get(&h).is_some_and(|g| g.is_empty()) {
                model.remove(&h);
            }
            if step % 97 == 0 || step + 1 == ops {
                let n: usize = model.values().map(Vec::len).sum();
                assert_eq!(t.len(), n);
                let max = model.values().flatten().map(|i| i.prio).max().unwrap_or(0);
                assert_eq!(t.max_priority(), max, "step {step}");
                for (h, g) in &model {
                    assert_eq!(t.group(*h), &g[..]);
                }
                let all: Vec<&Item> = model.values().flatten().collect();
                let walked: Vec<&Item> = t.iter().collect();
                assert_eq!(walked, all);
            }
        }
    }

    #[test]
    fn agrees_with_a_model() {
        against_model(50, 5_000, 1);
        against_model(u64::MAX, 20_000, 2);
        against_model(3_000, 20_000, 3);
    }

    #[test]
    fn many_items_with_one_hash_stay_in_one_leaf() {
        let mut t: HashTrie<Item> = HashTrie::default();
        for id in 0..100 {
            t.insert(7, 0, Item { prio: 1, id });
        }
        assert_eq!(t.group(7).len(), 100);
        assert_eq!(t.group(7)[0].id, 99);
        for _ in 0..100 {
            assert!(t.remove(7, 0).is_some());
        }
        assert!(t.is_empty() && t.root.is_none());
        assert_eq!(t.remove(7, 0), None);
    }

    #[test]
    fn a_clone_is_unaffected_by_later_changes() {
        let mut t: HashTrie<Item> = HashTrie::default();
        let mut rnd = rng(9);
        let hashes: Vec<u64> = (0..5_000).map(|_| rnd()).collect();
        for (id, &h) in hashes.iter().enumerate() {
            t.insert(
                h,
                0,
                Item {
                    prio: 5,
                    id: id as u32,
                },
            );
        }
        let snap = t.clone();
        for &h in &hashes[..2_500] {
            t.remove(h, 0);
        }
        t.insert(1, 0, Item { prio: 9, id: 0 });
        assert_eq!(snap.len(), 5_000);
        assert_eq!(snap.max_priority(), 5);
        assert!(hashes.iter().all(|&h| snap.group(h).len() == 1));
        assert_eq!(t.len(), 2_501);
        assert_eq!(t.max_priority(), 9);
        assert!(hashes[..2_500].iter().all(|&h| t.group(h).is_empty()));
    }

    /// The point of the structure: a change after a clone copies a bounded
    /// number of nodes, whatever the size.
    #[test]
    fn a_change_after_a_clone_copies_one_path() {
        let mut t: HashTrie<Item> = HashTrie::default();
        let mut rnd = rng(5);
        for id in 0..100_000 {
            t.insert(rnd(), 0, Item { prio: 1, id });
        }
        let snap = t.clone();
        t.insert(rnd(), 0, Item { prio: 1, id: 0 });
        // Count the nodes of the new version that the snapshot lacks.
        fn walk<T>(n: &Arc<Node<T>>, out: &mut Vec<*const Node<T>>) {
            out.push(Arc::as_ptr(n));
            if let Node::Branch(b) = &**n {
                b.children.iter().for_each(|c| walk(c, out));
            }
        }
        let (Some(a), Some(b)) = (&t.root, &snap.root) else {
            panic!("empty trie");
        };
        let (mut new, mut old) = (Vec::new(), Vec::new());
        walk(a, &mut new);
        walk(b, &mut old);
        let old: std::collections::HashSet<_> = old.into_iter().collect();
        let copied = new.iter().filter(|p| !old.contains(p)).count();
        assert!(copied <= MAX_DEPTH as usize + 1, "{copied} nodes copied");
    }
}
