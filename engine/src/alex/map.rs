//! `AlexMap`: the tree of inner and data nodes, and the operations that reshape it.

use std::fmt;
use std::mem;
use std::ops::{Bound, RangeBounds};

use super::arena::Arena;
use super::data_node::{
    DataNode, EXPANDED_DENSITY, INIT_DENSITY, Inserted, Layout, MIN_CAPACITY, MIN_DENSITY, NIL,
};
use super::iter::Range;
use super::key::ModelKey;
use super::model::LinearModel;

/// The most children an inner node routes to.
pub(super) const MAX_FANOUT: usize = 1 << 16;
/// Keys per data node that bulk loading and splits aim for.
pub(super) const TARGET_KEYS: usize = 4096;
/// A data node holding this many keys splits rather than expands.
pub(super) const MAX_DATA_KEYS: usize = 1 << 15;
/// Nodes smaller than this never split for cost reasons (only for size).
const MIN_SPLIT_KEYS: usize = 256;
/// A node this small tries to merge with its buddy; merged nodes stay at most `MERGE_MAX_KEYS`.
const MERGE_BELOW_KEYS: usize = TARGET_KEYS / 8;
const MERGE_MAX_KEYS: usize = TARGET_KEYS / 2;

/// A child pointer: a data node or an inner node, packed in 32 bits (top bit: inner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Child(u32);

const INNER_BIT: u32 = 1 << 31;

pub(super) enum Node {
    Inner(u32),
    Data(u32),
}

impl Child {
    pub fn data(id: u32) -> Self {
        Child(id)
    }

    pub fn inner(id: u32) -> Self {
        Child(id | INNER_BIT)
    }

    #[inline]
    pub fn node(self) -> Node {
        if self.0 & INNER_BIT != 0 {
            Node::Inner(self.0 & !INNER_BIT)
        } else {
            Node::Data(self.0)
        }
    }
}

#[derive(Debug)]
pub(super) struct InnerNode<F> {
    pub model: LinearModel,
    /// What the model measures keys in (see [`ModelKey::frame`]).
    pub frame: F,
    /// A power-of-two number of slots; each child covers an aligned power-of-two block of them.
    pub children: Vec<Child>,
    /// log2 of the number of parent slots that point to this node.
    pub dup: u8,
}

/// Where a key sits in an [`AlexMap`]'s layout: its data node, the group of 64 slots holding
/// its slot in that node, and how many keys precede it in the group. Keys next to each other
/// in key order have places next to each other (the next rank, or rank 0 of a later group),
/// and a place stays the key's until its node changes (an insert or removal shifting its
/// slots, a rebuild): enough for a caller to attach hints to keys by place (see
/// `crate::row_addresses`), never enough to rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub node: u32,
    pub group: u32,
    pub rank: u32,
}

/// What has happened to an [`AlexMap`]'s structure since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlexEvents {
    /// Inserts of new keys (not replacements).
    pub inserts: u64,
    /// Slots shifted by those inserts.
    pub shifts: u64,
    pub expansions: u64,
    pub contractions: u64,
    pub splits_sideways: u64,
    pub splits_down: u64,
    pub merges: u64,
    pub root_expansions: u64,
}

/// An ordered map on a multi-level ALEX learned index. See the [module docs](super).
pub struct AlexMap<K: ModelKey, V> {
    pub(super) root: Child,
    pub(super) inner: Arena<InnerNode<K::Frame>>,
    pub(super) data: Arena<DataNode<K, V>>,
    len: usize,
    /// The first and last data nodes of the leaf chain.
    pub(super) head: u32,
    pub(super) tail: u32,
    /// Scratch: `(inner node, slot)` from the root down to the last data node reached.
    pub(super) path: Vec<(u32, usize)>,
    pub(super) counters: AlexEvents,
}

impl<K: ModelKey, V: Default> Default for AlexMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

/// [`AlexMap::insert_sorted`] rebuilds the map for a batch of at least this many keys that
/// is at least a quarter of the map's size (below that, inserting key by key costs less than
/// rebuilding).
const BATCH_REBUILD_MIN: usize = 1024;
const BATCH_REBUILD_RATIO: usize = 4;

/// Keys whose ranks a straight line through the first and the last predicts to within this
/// many positions on average count as evenly spaced (see [`evenly_spaced`]).
const EVEN_SPACING_ERROR: f64 = 4.0;

/// Whether `pairs` (sorted by key) are spaced evenly enough that appending them packs them
/// where the nodes' models predict (sequences, timestamps): judged on up to 256 keys spread
/// over the batch.
fn evenly_spaced<K: ModelKey, V>(pairs: &[(K, V)]) -> bool {
    let (Some((first, _)), Some((last, _))) = (pairs.first(), pairs.last()) else {
        return true;
    };
    let step = (pairs.len() / 256).max(1);
    let frame = K::frame(first, last, pairs.iter().step_by(step).map(|(k, _)| k));
    let (lo, hi) = (first.model_input(&frame), last.model_input(&frame));
    let span = hi - lo;
    if pairs.len() < 2 || !span.is_finite() || span <= 0.0 {
        return true;
    }
    let ranks = (pairs.len() - 1) as f64;
    let (mut error, mut samples) = (0.0, 0.0);
    for (rank, (key, _)) in pairs.iter().enumerate().step_by(step) {
        error += ((key.model_input(&frame) - lo) / span * ranks - rank as f64).abs();
        samples += 1.0;
    }
    error / samples <= EVEN_SPACING_ERROR
}

impl<K: ModelKey, V: Default> AlexMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        let mut map = AlexMap {
            root: Child::data(0),
            inner: Arena::new(),
            data: Arena::new(),
            len: 0,
            head: 0,
            tail: 0,
            path: Vec::new(),
            counters: AlexEvents::default(),
        };
        let id = map.alloc_data(DataNode::empty(K::Frame::default(), 0.0, 0.0, 0));
        map.root = Child::data(id);
        map.head = id;
        map.tail = id;
        map
    }

    /// Builds a map from pairs. Sorted input with distinct keys is loaded directly; anything
    /// else is sorted first, and for repeated keys the last value wins (as with `BTreeMap`).
    pub fn bulk_load(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut pairs: Vec<(K, V)> = pairs.into_iter().collect();
        if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            pairs.reverse(); // so that the stable sort keeps the last of equal keys first
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        let mut map = Self::new();
        if pairs.is_empty() {
            return map;
        }
        map.data = Arena::new();
        map.len = pairs.len();
        let mut leaves = Vec::new();
        map.root = map.build_subtree(&mut pairs, 0, Layout::Spread, &mut leaves, false);
        map.link_between(NIL, &leaves, NIL);
        map
    }

    /// Takes the pairs out in key order, a data node at a time (each node's pairs are moved
    /// out when the iteration reaches it).
    pub fn into_sorted(mut self) -> impl Iterator<Item = (K, V)> {
        let mut next = self.head;
        std::iter::from_fn(move || {
            if next == NIL {
                return None;
            }
            let node = &mut self.data[next as usize];
            next = node.next;
            Some(node.drain())
        })
        .flatten()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry and releases the nodes' memory.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// The data node whose key range covers `key`, by routing through the models.
    #[inline]
    pub(super) fn leaf_for(&self, key: &K) -> u32 {
        let mut child = self.root;
        loop {
            match child.node() {
                Node::Data(id) => return id,
                Node::Inner(id) => {
                    let node = &self.inner[id as usize];
                    child = node.children[node.route(key)];
                }
            }
        }
    }

    /// Like `leaf_for`, recording the path in `self.path`.
    fn descend(&mut self, key: &K) -> u32 {
        self.path.clear();
        let mut child = self.root;
        loop {
            match child.node() {
                Node::Data(id) => return id,
                Node::Inner(id) => {
                    let node = &self.inner[id as usize];
                    let slot = node.route(key);
                    self.path.push((id, slot));
                    child = node.children[slot];
                }
            }
        }
    }

    /// Starts bringing the slot the model predicts for `key` into the CPU cache, without
    /// waiting for it: a later lookup of `key` then finds it there (or on its way). The
    /// prediction needs no memory beyond the models, so prefetching a batch of keys first
    /// lets their memory accesses overlap, and prefetching one key early lets its access
    /// overlap other work, instead of each lookup waiting for its own.
    pub fn prefetch(&self, key: &K) {
        let leaf = &self.data[self.leaf_for(key) as usize];
        leaf.prefetch(key);
    }

    /// [`prefetch`](Self::prefetch), calling `each` with the [`Place`]s `key` probably has,
    /// most likely first: the slot the model predicts and the next ones up to the first
    /// gap, where keys pushed right by their predecessors sit. A guess from the models and
    /// one bitmap word, made without waiting for the slots.
    #[inline]
    pub fn prefetch_places(&self, key: &K, mut each: impl FnMut(Place)) {
        let node = self.leaf_for(key);
        self.data[node as usize].prefetch_places(key, |group, rank| {
            each(Place {
                node,
                group: group as u32,
                rank,
            })
        });
    }

    /// [`get_mut`](Self::get_mut), with the key's [`Place`].
    pub fn get_mut_placed(&mut self, key: &K) -> Option<(Place, &mut V)> {
        let node = self.leaf_for(key);
        let leaf = &mut self.data[node as usize];
        let slot = leaf.find(key)?;
        let place = Place {
            node,
            group: (slot / 64) as u32,
            rank: leaf.rank_in_group(slot),
        };
        Some((place, &mut leaf.slots[slot].value))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let leaf = &self.data[self.leaf_for(key) as usize];
        leaf.find(key).map(|slot| &leaf.slots[slot].value)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let id = self.leaf_for(key);
        let leaf = &mut self.data[id as usize];
        leaf.find(key).map(|slot| &mut leaf.slots[slot].value)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `key`, returning the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        loop {
            let id = self.leaf_for(&key);
            let leaf = &mut self.data[id as usize];
            if (leaf.has_room() && !leaf.edge_blocked(&key)) || leaf.find(&key).is_some() {
                return match leaf.insert(key, value) {
                    Inserted::Replaced(old) => Some(old),
                    Inserted::New { shifts } => {
                        self.len += 1;
                        self.counters.inserts += 1;
                        self.counters.shifts += shifts as u64;
                        None
                    }
                };
            }
            self.make_room(id, &key);
        }
    }

    /// Inserts `pairs`, which are sorted by key, distinct and not in the map, as one batch. A
    /// batch that is large next to the map and lands among its keys rebuilds it by bulk load
    /// from the merged pairs — one linear pass whose models fit every key — instead of
    /// inserting key by key, each insert shifting slots and the nodes expanding and splitting
    /// as they fill. A small batch is inserted key by key, and so is a batch of keys beyond
    /// the map's last (ascending keys): those are appends, cheap one by one, and they leave
    /// the keys packed with room at the right for more appends — a rebuild would spread them
    /// out for random inserts, and range scans would read 10% more slots (measured side by
    /// side). Except in an empty map when the keys are not evenly spaced (random keys): packed
    /// in arrival order, they sit off their models' predictions, and every lookup searches
    /// around the predicted slot; a bulk load places them where predicted.
    pub fn insert_sorted(&mut self, pairs: Vec<(K, V)>) {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        let appends = match (self.last(), pairs.first()) {
            (Some((last, _)), Some((first, _))) => first > last,
            _ => true,
        };
        let load = self.len == 0 && !evenly_spaced(&pairs);
        if (appends && !load)
            || pairs.len() < BATCH_REBUILD_MIN
            || pairs.len() * BATCH_REBUILD_RATIO < self.len
        {
            for (key, value) in pairs {
                self.insert(key, value);
            }
            return;
        }
        let counters = AlexEvents {
            inserts: self.counters.inserts + pairs.len() as u64,
            ..self.counters
        };
        let existing = self.drain();
        let mut merged = Vec::with_capacity(existing.len() + pairs.len());
        let mut existing = existing.into_iter().peekable();
        for pair in pairs {
            while let Some(older) = existing.next_if(|(key, _)| *key < pair.0) {
                merged.push(older);
            }
            merged.push(pair);
        }
        merged.extend(existing);
        *self = Self::bulk_load(merged);
        self.counters = counters;
    }

    /// Takes every pair out, in key order, leaving the map empty.
    fn drain(&mut self) -> Vec<(K, V)> {
        let mut pairs = Vec::with_capacity(self.len);
        let mut id = self.head;
        while id != NIL {
            let leaf = &mut self.data[id as usize];
            pairs.extend(leaf.drain());
            id = leaf.next;
        }
        self.clear();
        pairs
    }

    /// Removes `key`, returning its value, if present.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let id = self.descend(key);
        let leaf = &mut self.data[id as usize];
        let slot = leaf.find(key)?;
        let value = leaf.remove_at(slot);
        self.len -= 1;
        self.shrink_after_remove(id);
        Some(value)
    }

    /// The entries with keys in `range`, in ascending order (and descending with `.rev()`).
    /// An empty or inverted range yields nothing.
    pub fn range<R: RangeBounds<K>>(&self, range: R) -> Range<'_, K, V> {
        Range::new(self, range.start_bound(), range.end_bound())
    }

    /// All entries in ascending key order.
    pub fn iter(&self) -> Range<'_, K, V> {
        Range::new(self, Bound::Unbounded, Bound::Unbounded)
    }

    /// The first entry whose key is `>= key`.
    pub fn lower_bound(&self, key: &K) -> Option<(&K, &V)> {
        self.range((Bound::Included(key), Bound::Unbounded)).next()
    }

    pub fn first(&self) -> Option<(&K, &V)> {
        self.iter().next()
    }

    pub fn last(&self) -> Option<(&K, &V)> {
        self.iter().next_back()
    }

    // -----------------------------------------------------------------------------------------
    // Node allocation and the leaf chain

    fn alloc_data(&mut self, node: DataNode<K, V>) -> u32 {
        self.data.alloc(node)
    }

    fn free_data_node(&mut self, id: u32) {
        self.data
            .free(id, DataNode::empty(K::Frame::default(), 0.0, 0.0, 0));
    }

    fn alloc_inner(&mut self, node: InnerNode<K::Frame>) -> u32 {
        self.inner.alloc(node)
    }

    fn free_inner_node(&mut self, id: u32) {
        let placeholder = InnerNode {
            model: LinearModel::default(),
            frame: K::Frame::default(),
            children: Vec::new(),
            dup: 0,
        };
        self.inner.free(id, placeholder);
    }

    /// Links `leaves` (in key order) into the chain between `prev` and `next`.
    fn link_between(&mut self, prev: u32, leaves: &[u32], next: u32) {
        let mut before = prev;
        for &id in leaves {
            self.data[id as usize].prev = before;
            match before {
                NIL => self.head = id,
                b => self.data[b as usize].next = id,
            }
            before = id;
        }
        self.data[before as usize].next = next;
        match next {
            NIL => self.tail = before,
            n => self.data[n as usize].prev = before,
        }
    }

    fn set_dup(&mut self, child: Child, dup: u8) {
        match child.node() {
            Node::Data(id) => self.data[id as usize].dup = dup,
            Node::Inner(id) => self.inner[id as usize].dup = dup,
        }
    }

    pub(super) fn dup_of(&self, child: Child) -> u8 {
        match child.node() {
            Node::Data(id) => self.data[id as usize].dup,
            Node::Inner(id) => self.inner[id as usize].dup,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Building subtrees (bulk load, splits)

    /// A subtree holding `pairs` (sorted, distinct): a data node when the model cannot tell
    /// them apart, or when they are few and no split is demanded (`must_split`, for a node that
    /// must split although it holds fewer than `TARGET_KEYS`); else an inner node whose model
    /// spans their model inputs.
    fn build_subtree(
        &mut self,
        pairs: &mut [(K, V)],
        dup: u8,
        layout: Layout,
        leaves: &mut Vec<u32>,
        must_split: bool,
    ) -> Child {
        let (frame, lo, hi) = input_span(pairs);
        let few = pairs.len() <= TARGET_KEYS;
        if lo >= hi || (few && !must_split) {
            let id = self.alloc_data(DataNode::build(pairs, INIT_DENSITY, layout, dup));
            leaves.push(id);
            return Child::data(id);
        }
        let (fanout, max_keys) = if few {
            (2, (pairs.len() / 2).max(1))
        } else {
            let fanout = pairs.len().div_ceil(TARGET_KEYS).next_power_of_two();
            (fanout.clamp(2, MAX_FANOUT), TARGET_KEYS)
        };
        let model = LinearModel::spanning(lo, hi, fanout);
        let mut children = vec![Child::data(0); fanout];
        self.build_block(
            &model,
            &frame,
            &mut children,
            0,
            fanout,
            pairs,
            max_keys,
            layout,
            leaves,
        );
        Child::inner(self.alloc_inner(InnerNode {
            model,
            frame,
            children,
            dup,
        }))
    }

    /// Fills `children[start..start + size]` (slots of a node with model `model` measuring
    /// keys in `frame`) with nodes holding `pairs`, halving the block while a half holds more
    /// than `max_keys`. Every key is placed where `model` routes it, which keeps routing exact.
    #[allow(clippy::too_many_arguments)]
    fn build_block(
        &mut self,
        model: &LinearModel,
        frame: &K::Frame,
        children: &mut [Child],
        start: usize,
        size: usize,
        pairs: &mut [(K, V)],
        max_keys: usize,
        layout: Layout,
        leaves: &mut Vec<u32>,
    ) {
        let dup = size.trailing_zeros() as u8;
        let child = if pairs.len() <= max_keys {
            let node = if pairs.is_empty() {
                DataNode::empty(
                    frame.clone(),
                    model.slot_start(start),
                    model.slot_start(start + size),
                    dup,
                )
            } else {
                DataNode::build(pairs, INIT_DENSITY, layout, dup)
            };
            let id = self.alloc_data(node);
            leaves.push(id);
            Child::data(id)
        } else if size == 1 && pairs.len() <= MAX_DATA_KEYS / 2 {
            // One slot with a few more keys than the target: a bigger data node beats a level.
            let id = self.alloc_data(DataNode::build(pairs, INIT_DENSITY, layout, dup));
            leaves.push(id);
            Child::data(id)
        } else if size == 1 {
            self.build_subtree(pairs, dup, layout, leaves, false)
        } else {
            let half = size / 2;
            let fanout = children.len();
            let cut = pairs
                .partition_point(|(k, _)| model.slot(k.model_input(frame), fanout) < start + half);
            let (pairs, right) = pairs.split_at_mut(cut);
            // Room for appends goes to the node that will hold the largest (smallest) key.
            let (left_layout, right_layout) = match layout {
                Layout::RoomRight if right.is_empty() => (Layout::RoomRight, Layout::Spread),
                Layout::RoomRight => (Layout::Spread, Layout::RoomRight),
                Layout::RoomLeft if pairs.is_empty() => (Layout::Spread, Layout::RoomLeft),
                Layout::RoomLeft => (Layout::RoomLeft, Layout::Spread),
                Layout::Spread => (Layout::Spread, Layout::Spread),
            };
            self.build_block(
                model,
                frame,
                children,
                start,
                half,
                pairs,
                max_keys,
                left_layout,
                leaves,
            );
            self.build_block(
                model,
                frame,
                children,
                start + half,
                half,
                right,
                max_keys,
                right_layout,
                leaves,
            );
            return;
        };
        children[start..start + size].fill(child);
    }

    // -----------------------------------------------------------------------------------------
    // Growing: expansion, splits, root expansion

    /// Called when data node `id` (reached through `self.path`) is full.
    fn make_room(&mut self, id: u32, key: &K) {
        if self.expand_root_for(key) {
            return;
        }
        self.descend(key);
        let leaf = &self.data[id as usize];
        let splittable = leaf.input_range().is_some_and(|(lo, hi)| lo < hi);
        // Appending nodes split at half the size: growing would take them past it.
        let appending = leaf.built_for_appends && leaf.preferred_layout() == Layout::RoomRight;
        let too_big = leaf.len >= MAX_DATA_KEYS || (appending && leaf.len * 2 > MAX_DATA_KEYS);
        let costly = leaf.len >= MIN_SPLIT_KEYS
            && leaf.counters.inserts >= 64
            && (leaf.measured_cost() > 20f64.max(1.5 * leaf.expected_cost())
                || leaf.counters.shifts > 100 * u64::from(leaf.counters.inserts));
        if splittable && (too_big || costly) {
            self.split(id);
        } else if appending {
            // Ascending appends: the model already extrapolates to the new slots, so the node
            // grows at its end without being rebuilt.
            self.data[id as usize].grow_right();
            self.counters.expansions += 1;
        } else {
            self.expand(id);
        }
    }

    /// Rebuilds a data node at the expanded density, retraining its model.
    fn expand(&mut self, id: u32) {
        self.rebuild(id, EXPANDED_DENSITY);
        self.counters.expansions += 1;
    }

    fn rebuild(&mut self, id: u32, density: f64) {
        let leaf = &mut self.data[id as usize];
        let layout = leaf.preferred_layout();
        let (prev, next, dup, model) = (leaf.prev, leaf.next, leaf.dup, leaf.model);
        let frame = mem::take(&mut leaf.frame);
        let mut pairs = leaf.drain();
        let mut fresh = if pairs.is_empty() {
            let mut empty = DataNode::empty(frame, 0.0, 0.0, dup);
            empty.model = model;
            empty
        } else {
            DataNode::build(&mut pairs, density, layout, dup)
        };
        fresh.prev = prev;
        fresh.next = next;
        self.data[id as usize] = fresh;
    }

    /// Splits data node `id`: sideways into its parent's slots when it covers several (doubling
    /// the parent's fanout if it covers one and the parent may grow), else downward into a new
    /// inner node.
    fn split(&mut self, id: u32) {
        let Some(&(parent, slot)) = self.path.last() else {
            // The root is a data node: grow a level.
            let leaf = &mut self.data[id as usize];
            let layout = leaf.preferred_layout();
            let mut pairs = leaf.drain();
            self.free_data_node(id);
            let mut leaves = Vec::new();
            self.root = self.build_subtree(&mut pairs, 0, layout, &mut leaves, true);
            self.link_between(NIL, &leaves, NIL);
            self.counters.splits_down += 1;
            return;
        };
        let mut dup = self.data[id as usize].dup;
        let mut slot = slot;
        // A parent whose frame gives all the node's keys one input can never route them apart
        // (they share more than it looks at): they get a subtree of their own, with its frame.
        let separable = {
            let (leaf, node) = (&self.data[id as usize], &self.inner[parent as usize]);
            let input = |s| leaf.key(s).model_input(&node.frame);
            input(leaf.min_slot) < input(leaf.max_slot)
        };
        if dup == 0 && separable && self.inner[parent as usize].children.len() < MAX_FANOUT {
            self.double_fanout(parent);
            slot *= 2;
            dup = 1;
        }
        let size = 1usize << dup;
        let start = slot & !(size - 1);
        if size > 1 && self.data[id as usize].built_for_appends {
            self.split_appending(id, parent, start, size);
            return;
        }
        let leaf = &mut self.data[id as usize];
        let (prev, next, layout) = (leaf.prev, leaf.next, leaf.preferred_layout());
        let mut pairs = leaf.drain();
        let n = pairs.len();
        self.free_data_node(id);

        let node = &mut self.inner[parent as usize];
        let (model, frame) = (node.model, node.frame.clone());
        let mut children = mem::take(&mut node.children);
        let mut leaves = Vec::new();
        if size == 1 || !separable {
            // The parent is at its maximum fanout, or cannot tell the keys apart: split downward.
            let subtree = self.build_subtree(&mut pairs, dup, layout, &mut leaves, true);
            children[start..start + size].fill(subtree);
            self.counters.splits_down += 1;
        } else {
            self.build_block(
                &model,
                &frame,
                &mut children,
                start,
                size,
                &mut pairs,
                (n / 2).max(1),
                layout,
                &mut leaves,
            );
            self.counters.splits_sideways += 1;
        }
        self.inner[parent as usize].children = children;
        self.link_between(prev, &leaves, next);
    }

    /// Splits an append-mostly data node sideways without rebuilding its left half: the keys
    /// that route to the right half of its block move to a new node packed for more appends,
    /// and the rest keep their slots, whose model and positions are still right. A run of
    /// appends then moves each key once rather than rebuilding both halves at every split.
    fn split_appending(&mut self, id: u32, parent: u32, start: usize, size: usize) {
        let node = &self.inner[parent as usize];
        let (model, frame, fanout) = (node.model, node.frame.clone(), node.children.len());
        let mid = start + size / 2;
        let leaf = &mut self.data[id as usize];
        let mut moved = leaf.split_off(|k| model.slot(k.model_input(&frame), fanout) >= mid);
        leaf.dup -= 1;
        let (dup, next) = (leaf.dup, leaf.next);
        let fresh = if moved.is_empty() {
            DataNode::empty(
                frame,
                model.slot_start(mid),
                model.slot_start(start + size),
                dup,
            )
        } else {
            DataNode::build(&mut moved, INIT_DENSITY, Layout::RoomRight, dup)
        };
        let right = self.alloc_data(fresh);
        self.link_between(id, &[right], next);
        self.inner[parent as usize].children[mid..start + size].fill(Child::data(right));
        self.counters.splits_sideways += 1;
    }

    /// Doubles an inner node's slots: every child now covers twice as many.
    fn double_fanout(&mut self, id: u32) {
        let node = &mut self.inner[id as usize];
        let old = mem::take(&mut node.children);
        node.children = old.iter().flat_map(|&c| [c, c]).collect();
        node.model = node.model.doubled();
        let mut slot = 0;
        while slot < old.len() {
            let dup = self.dup_of(old[slot]);
            self.set_dup(old[slot], dup + 1);
            slot += 1 << dup;
        }
    }

    /// When `x` lies outside the root's key domain but within one domain width of it, extends the
    /// domain (doubling the root's fanout, or adding a level above it) so that long runs of
    /// ascending or descending keys get fresh data nodes instead of piling into the edge node.
    /// Keys farther out are outliers: the edge data node keeps them.
    fn expand_root_for(&mut self, key: &K) -> bool {
        let Node::Inner(root) = self.root.node() else {
            return false;
        };
        let node = &self.inner[root as usize];
        let fanout = node.children.len();
        let p = node.model.position(key.model_input(&node.frame));
        let f = fanout as f64;
        let grow_right = p >= f && p < 2.0 * f;
        let grow_left = p < 0.0 && p >= -f;
        if !(grow_right || grow_left) || node.model.slope <= 0.0 {
            return false;
        }
        if fanout * 2 > MAX_FANOUT && !node.model.can_group(fanout) {
            // The domain has grown by 2^40 already: treat farther keys as outliers.
            return false;
        }
        let (model, frame) = (node.model, node.frame.clone());
        let (lo, hi) = if grow_right {
            (model.slot_start(fanout), model.slot_start(2 * fanout))
        } else {
            (
                model.slot_start(0) - (model.slot_start(fanout) - model.slot_start(0)),
                model.slot_start(0),
            )
        };
        let fresh_id;
        if fanout * 2 <= MAX_FANOUT {
            let dup = fanout.trailing_zeros() as u8;
            fresh_id = self.alloc_data(DataNode::empty(frame, lo, hi, dup));
            let fresh = Child::data(fresh_id);
            let node = &mut self.inner[root as usize];
            if grow_right {
                node.children.resize(2 * fanout, fresh);
            } else {
                let mut children = vec![fresh; fanout];
                children.append(&mut node.children);
                node.children = children;
                node.model = node.model.prepended(fanout);
            }
        } else {
            fresh_id = self.alloc_data(DataNode::empty(frame.clone(), lo, hi, 0));
            let fresh = Child::data(fresh_id);
            let top = model.grouped(fanout, grow_left);
            let children = if grow_right {
                vec![self.root, fresh]
            } else {
                vec![fresh, self.root]
            };
            self.set_dup(self.root, 0);
            self.root = Child::inner(self.alloc_inner(InnerNode {
                model: top,
                frame,
                children,
                dup: 0,
            }));
        }
        self.counters.root_expansions += 1;
        // Link the new node at its end of the chain and move over the edge node's outliers
        // that now route to it.
        let edge = if grow_right { self.tail } else { self.head };
        if grow_right {
            self.link_between(edge, &[fresh_id], NIL);
        } else {
            self.link_between(NIL, &[fresh_id], edge);
        }
        let layout = if grow_right {
            Layout::RoomRight
        } else {
            Layout::RoomLeft
        };
        self.reroute_edge(edge, fresh_id, layout);
        true
    }

    /// Moves every key of data node `edge` that no longer routes to it into the new, empty data
    /// node `fresh` (after a root expansion only `fresh` can have taken them). The moved keys
    /// are built into `fresh` directly rather than inserted one by one, which would also teach
    /// its counters a direction of insertion that the workload never had.
    fn reroute_edge(&mut self, edge: u32, fresh: u32, layout: Layout) {
        let mut movers = Vec::new();
        let mut slot = self.data[edge as usize].next_occupied(0);
        while let Some(s) = slot {
            let leaf = &self.data[edge as usize];
            if self.leaf_for(leaf.key(s)) != edge {
                movers.push(s);
            }
            slot = leaf.next_occupied(s + 1);
        }
        if movers.is_empty() {
            return;
        }
        // The movers are the node's last keys (or its first): take them from the end inward, so
        // that no removal refills the gaps the earlier ones left (which costs a key copy per gap,
        // quadratic in the movers).
        let from_end = movers.last() == Some(&self.data[edge as usize].max_slot);
        if from_end {
            movers.reverse();
        }
        let mut moved = Vec::with_capacity(movers.len());
        for s in movers {
            let leaf = &mut self.data[edge as usize];
            let key = leaf.key(s).clone();
            moved.push((key, leaf.remove_at(s)));
        }
        if from_end {
            moved.reverse();
        }
        debug_assert!(moved.iter().all(|(k, _)| self.leaf_for(k) == fresh));
        let old = &self.data[fresh as usize];
        let (prev, next, dup) = (old.prev, old.next, old.dup);
        let mut node = DataNode::build(&mut moved, INIT_DENSITY, layout, dup);
        node.prev = prev;
        node.next = next;
        self.data[fresh as usize] = node;
    }

    // -----------------------------------------------------------------------------------------
    // Shrinking: contraction and merges

    fn shrink_after_remove(&mut self, id: u32) {
        let leaf = &self.data[id as usize];
        if leaf.len == 0 && leaf.capacity() > 0 {
            self.rebuild(id, EXPANDED_DENSITY); // releases the slots
        } else if leaf.capacity() > MIN_CAPACITY * 4
            && (leaf.len as f64) < leaf.capacity() as f64 * MIN_DENSITY
        {
            self.rebuild(id, EXPANDED_DENSITY);
            self.counters.contractions += 1;
        }
        if self.data[id as usize].len < MERGE_BELOW_KEYS {
            self.merge_with_buddy(id);
        }
    }

    /// Merges a small data node with the data node covering the other half of their common
    /// parent block, if that one is small too; collapses a parent left with a single child.
    fn merge_with_buddy(&mut self, id: u32) {
        let Some(&(parent, slot)) = self.path.last() else {
            return;
        };
        let dup = self.data[id as usize].dup;
        let size = 1usize << dup;
        let fanout = self.inner[parent as usize].children.len();
        if size >= fanout {
            return;
        }
        let start = slot & !(size - 1);
        let buddy_start = start ^ size;
        let Node::Data(buddy) = self.inner[parent as usize].children[buddy_start].node() else {
            return;
        };
        let b = &self.data[buddy as usize];
        if b.dup != dup || b.len + self.data[id as usize].len > MERGE_MAX_KEYS {
            return;
        }
        let (left, right) = if start < buddy_start {
            (id, buddy)
        } else {
            (buddy, id)
        };
        let (prev, next) = (
            self.data[left as usize].prev,
            self.data[right as usize].next,
        );
        let mut pairs = self.data[left as usize].drain();
        pairs.append(&mut self.data[right as usize].drain());
        let block = start.min(buddy_start);
        let (model, frame) = {
            let node = &self.inner[parent as usize];
            (node.model, node.frame.clone())
        };
        let node = if pairs.is_empty() {
            DataNode::empty(
                frame,
                model.slot_start(block),
                model.slot_start(block + 2 * size),
                dup + 1,
            )
        } else {
            DataNode::build(&mut pairs, INIT_DENSITY, Layout::Spread, dup + 1)
        };
        self.data[left as usize] = node;
        self.free_data_node(right);
        self.link_between(prev, &[left], next);
        self.inner[parent as usize].children[block..block + 2 * size].fill(Child::data(left));
        self.counters.merges += 1;

        if 2 * size == fanout {
            self.collapse(parent, Child::data(left));
        }
    }

    /// Replaces inner node `parent`, whose every slot points to `only`, by `only`.
    fn collapse(&mut self, parent: u32, only: Child) {
        let dup = self.inner[parent as usize].dup;
        self.set_dup(only, dup);
        let depth = self.path.len();
        if depth >= 2 {
            let (grand, slot) = self.path[depth - 2];
            let size = 1usize << dup;
            let start = slot & !(size - 1);
            self.inner[grand as usize].children[start..start + size].fill(only);
        } else {
            self.root = only;
        }
        self.free_inner_node(parent);
        self.path.pop();
    }
}

/// The frame spanning sorted `pairs`, and the model inputs of the first and last in it (a
/// default frame and zeros when empty).
fn input_span<K: ModelKey, V>(pairs: &[(K, V)]) -> (K::Frame, f64, f64) {
    match (pairs.first(), pairs.last()) {
        (Some((first, _)), Some((last, _))) => {
            let frame = K::frame(first, last, pairs.iter().map(|(k, _)| k));
            let (lo, hi) = (first.model_input(&frame), last.model_input(&frame));
            (frame, lo, hi)
        }
        _ => (K::Frame::default(), 0.0, 0.0),
    }
}

impl<F> InnerNode<F> {
    /// The child slot `key` routes to.
    #[inline]
    pub(super) fn route<K: ModelKey<Frame = F>>(&self, key: &K) -> usize {
        self.model
            .slot(key.model_input(&self.frame), self.children.len())
    }
}

impl<K: ModelKey + fmt::Debug, V: Default + fmt::Debug> fmt::Debug for AlexMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A copy, bulk loaded from this map's pairs (its layout and counters start afresh).
impl<K: ModelKey, V: Default + Clone> Clone for AlexMap<K, V> {
    fn clone(&self) -> Self {
        Self::bulk_load(self.iter().map(|(k, v)| (k.clone(), v.clone())))
    }
}

impl<K: ModelKey, V: Default> FromIterator<(K, V)> for AlexMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::bulk_load(iter)
    }
}

impl<K: ModelKey, V: Default> Extend<(K, V)> for AlexMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}
