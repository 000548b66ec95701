//! What the index can say about itself: statistics, memory accounting, a node-by-node view, and
//! the structural invariants that tests check after every operation.

use std::mem::size_of;

use super::data_node::{NIL, Slot};
use super::key::ModelKey;
use super::map::{AlexEvents, AlexMap, Child, Node};

/// Bytes held by an [`AlexMap`], in three parts that add up to the total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Keys and values of the entries (including heap bytes the keys own).
    pub payload: usize,
    /// Key and value slots left empty for future inserts (gaps), and spare vector capacity.
    pub gaps: usize,
    /// Everything else: models, bitmaps, child pointers, node headers, free lists.
    pub structure: usize,
}

impl MemoryUsage {
    pub fn total(&self) -> usize {
        self.payload + self.gaps + self.structure
    }
}

/// Fanout of the inner nodes at one depth (the root is depth 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelFanout {
    pub depth: usize,
    pub inner_nodes: usize,
    pub min: usize,
    pub max: usize,
    pub mean: f64,
}

/// A snapshot of the index's shape and history.
#[derive(Debug, Clone, PartialEq)]
pub struct AlexStats {
    pub len: usize,
    /// Levels from the root to the deepest data node (a lone data node is depth 1).
    pub depth: usize,
    pub inner_nodes: usize,
    pub data_nodes: usize,
    pub fanout_by_depth: Vec<LevelFanout>,
    /// Entries over slots, across all data nodes.
    pub avg_density: f64,
    /// Distance in slots from each key's predicted slot to its actual slot.
    pub model_error_mean: f64,
    pub model_error_max: usize,
    /// Slots shifted per insert of a new key, since creation.
    pub shifts_per_insert: f64,
    /// Inserts, expansions, splits, merges and the rest, counted since creation.
    pub events: AlexEvents,
    pub memory: MemoryUsage,
}

/// The kind of a node in [`AlexMap::inspect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Inner,
    Data,
}

/// One node as the visualiser draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo<K> {
    /// Stable within one snapshot; data and inner nodes are numbered separately.
    pub id: u32,
    pub kind: NodeKind,
    pub depth: usize,
    /// The parent's id, `None` for the root.
    pub parent: Option<u32>,
    /// Smallest and largest key held in the subtree, if any.
    pub min_key: Option<K>,
    pub max_key: Option<K>,
    pub slope: f64,
    pub intercept: f64,
    /// Slots (data node) or child slots (inner node).
    pub capacity: usize,
    /// Keys held (data node) or distinct children (inner node).
    pub fill: usize,
    /// How a data node's keys sit in its slots; `None` for inner nodes.
    pub layout: Option<DataLayout>,
}

/// Slots a data node's occupancy profile is summarised into.
pub const OCCUPANCY_BUCKETS: usize = 32;
/// Keys sampled from a data node to draw against its model.
pub const SAMPLED_KEYS: usize = 48;

/// Where a data node's keys are against where its model predicts them: enough to draw the
/// model line over the keys, the gaps, and the error, without copying every key.
#[derive(Debug, Clone, PartialEq)]
pub struct DataLayout {
    /// Mean and largest distance in slots from a key's predicted slot to its actual slot.
    pub error_mean: f64,
    pub error_max: usize,
    /// Occupied slots in each of [`OCCUPANCY_BUCKETS`] equal runs of slots (fewer when the node
    /// has fewer slots); the rest of each run is gaps.
    pub occupancy: Vec<u32>,
    /// About [`SAMPLED_KEYS`] keys spread evenly over the node (the first and last always), as (model input, actual slot); the
    /// model predicts slot `slope * input + intercept`.
    pub points: Vec<(f64, usize)>,
}

impl<K: ModelKey, V: Default> AlexMap<K, V> {
    /// Shape, model quality, structural history and memory of the index.
    pub fn stats(&self) -> AlexStats {
        let mut stats = AlexStats {
            len: self.len(),
            depth: 0,
            inner_nodes: 0,
            data_nodes: 0,
            fanout_by_depth: Vec::new(),
            avg_density: 0.0,
            model_error_mean: 0.0,
            model_error_max: 0,
            shifts_per_insert: self.counters.shifts as f64 / self.counters.inserts.max(1) as f64,
            events: self.counters,
            memory: self.memory_usage(),
        };
        let (mut slots, mut error_sum) = (0usize, 0usize);
        self.walk(|child, depth, _| match child.node() {
            Node::Inner(id) => {
                let fanout = self.inner[id as usize].children.len();
                stats.inner_nodes += 1;
                if stats.fanout_by_depth.len() <= depth {
                    stats.fanout_by_depth.push(LevelFanout {
                        depth,
                        inner_nodes: 0,
                        min: usize::MAX,
                        max: 0,
                        mean: 0.0,
                    });
                }
                let level = &mut stats.fanout_by_depth[depth];
                level.inner_nodes += 1;
                level.min = level.min.min(fanout);
                level.max = level.max.max(fanout);
                level.mean += fanout as f64;
            }
            Node::Data(id) => {
                let leaf = &self.data[id as usize];
                stats.data_nodes += 1;
                stats.depth = stats.depth.max(depth + 1);
                slots += leaf.capacity();
                let mut slot = leaf.next_occupied(0);
                while let Some(s) = slot {
                    let predicted = leaf.model.slot(leaf.input(leaf.key(s)), leaf.capacity());
                    let error = predicted.abs_diff(s);
                    error_sum += error;
                    stats.model_error_max = stats.model_error_max.max(error);
                    slot = leaf.next_occupied(s + 1);
                }
            }
        });
        for level in &mut stats.fanout_by_depth {
            level.mean /= level.inner_nodes as f64;
        }
        stats.avg_density = if slots > 0 {
            self.len() as f64 / slots as f64
        } else {
            0.0
        };
        stats.model_error_mean = error_sum as f64 / self.len().max(1) as f64;
        stats
    }

    /// Bytes held by the index, split into payload, gaps and structure.
    pub fn memory_usage(&self) -> MemoryUsage {
        let mut usage = MemoryUsage {
            structure: size_of::<Self>()
                + self.data.heap_bytes()
                + self.inner.heap_bytes()
                + self.path.capacity() * size_of::<(u32, usize)>(),
            ..MemoryUsage::default()
        };
        for node in self.inner.iter() {
            usage.structure += node.children.capacity() * size_of::<Child>();
        }
        for leaf in self.data.iter() {
            usage.structure += leaf.bitmap.capacity() * size_of::<u64>();
            usage.gaps += (leaf.slots.capacity() - leaf.len) * size_of::<Slot<K, V>>();
            usage.payload += leaf.len * size_of::<Slot<K, V>>();
            for (slot, s) in leaf.slots.iter().enumerate() {
                if leaf.is_occupied(slot) {
                    usage.payload += s.key.heap_bytes();
                } else {
                    usage.gaps += s.key.heap_bytes();
                }
            }
        }
        usage
    }

    fn layout(leaf: &super::data_node::DataNode<K, V>) -> DataLayout {
        let capacity = leaf.capacity();
        let buckets = OCCUPANCY_BUCKETS.min(capacity.max(1));
        let mut layout = DataLayout {
            error_mean: 0.0,
            error_max: 0,
            occupancy: vec![0; buckets],
            points: Vec::with_capacity(SAMPLED_KEYS.min(leaf.len)),
        };
        let every = leaf.len.div_ceil(SAMPLED_KEYS).max(1);
        let (mut error_sum, mut seen) = (0usize, 0usize);
        let mut slot = leaf.next_occupied(0);
        while let Some(s) = slot {
            let input = leaf.input(leaf.key(s));
            let error = leaf.model.slot(input, capacity).abs_diff(s);
            error_sum += error;
            layout.error_max = layout.error_max.max(error);
            layout.occupancy[s * buckets / capacity.max(1)] += 1;
            if seen % every == 0 || seen + 1 == leaf.len {
                layout.points.push((input, s));
            }
            seen += 1;
            slot = leaf.next_occupied(s + 1);
        }
        layout.error_mean = error_sum as f64 / leaf.len.max(1) as f64;
        layout
    }

    /// Every live node, parents before children, in key order within a depth.
    pub fn inspect(&self) -> Vec<NodeInfo<K>> {
        let mut nodes = Vec::new();
        let mut parents: Vec<u32> = Vec::new();
        self.walk(|child, depth, _| {
            parents.truncate(depth);
            let parent = parents.last().copied();
            let info = match child.node() {
                Node::Inner(id) => {
                    parents.push(id);
                    let node = &self.inner[id as usize];
                    let (min_key, max_key) = self.subtree_bounds(child);
                    NodeInfo {
                        id,
                        kind: NodeKind::Inner,
                        depth,
                        parent,
                        min_key,
                        max_key,
                        slope: node.model.line().0,
                        intercept: node.model.line().1,
                        capacity: node.children.len(),
                        fill: distinct_children(&node.children),
                        layout: None,
                    }
                }
                Node::Data(id) => {
                    let leaf = &self.data[id as usize];
                    let (min_key, max_key) = self.subtree_bounds(child);
                    NodeInfo {
                        id,
                        kind: NodeKind::Data,
                        depth,
                        parent,
                        min_key,
                        max_key,
                        slope: leaf.model.line().0,
                        intercept: leaf.model.line().1,
                        capacity: leaf.capacity(),
                        fill: leaf.len,
                        layout: Some(Self::layout(leaf)),
                    }
                }
            };
            nodes.push(info);
        });
        nodes
    }

    /// Visits every node depth-first, each distinct child once, left to right.
    fn walk(&self, mut visit: impl FnMut(Child, usize, Option<u32>)) {
        let mut stack = vec![(self.root, 0usize, None)];
        while let Some((child, depth, parent)) = stack.pop() {
            visit(child, depth, parent);
            if let Node::Inner(id) = child.node() {
                let children = &self.inner[id as usize].children;
                let mut distinct = Vec::new();
                let mut slot = 0;
                while slot < children.len() {
                    distinct.push(children[slot]);
                    slot += 1 << self.dup_of(children[slot]);
                }
                for c in distinct.into_iter().rev() {
                    stack.push((c, depth + 1, Some(id)));
                }
            }
        }
    }

    /// The smallest and largest keys under `child`.
    fn subtree_bounds(&self, child: Child) -> (Option<K>, Option<K>) {
        let (first, last) = (self.leftmost(child), self.rightmost(child));
        let mut min = None;
        let mut id = first;
        while id != NIL {
            let leaf = &self.data[id as usize];
            if leaf.len > 0 {
                min = Some(leaf.key(leaf.min_slot).clone());
                break;
            }
            if id == last {
                break;
            }
            id = leaf.next;
        }
        let mut max = None;
        let mut id = last;
        while id != NIL {
            let leaf = &self.data[id as usize];
            if leaf.len > 0 {
                max = Some(leaf.key(leaf.max_slot).clone());
                break;
            }
            if id == first {
                break;
            }
            id = leaf.prev;
        }
        (min, max)
    }

    fn leftmost(&self, mut child: Child) -> u32 {
        loop {
            match child.node() {
                Node::Data(id) => return id,
                Node::Inner(id) => child = self.inner[id as usize].children[0],
            }
        }
    }

    fn rightmost(&self, mut child: Child) -> u32 {
        loop {
            match child.node() {
                Node::Data(id) => return id,
                Node::Inner(id) => {
                    let children = &self.inner[id as usize].children;
                    child = children[children.len() - 1];
                }
            }
        }
    }

    /// Checks every structural invariant, describing the first one broken. Used by tests after
    /// every operation; it walks the whole index.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut leaves_in_tree = Vec::new();
        let mut problem = None;
        self.walk(|child, _, _| {
            if problem.is_some() {
                return;
            }
            match child.node() {
                Node::Inner(id) => {
                    let node = &self.inner[id as usize];
                    let n = node.children.len();
                    if !n.is_power_of_two() {
                        problem = Some(format!("inner {id}: fanout {n} is not a power of two"));
                    }
                    let mut slot = 0;
                    while slot < n && problem.is_none() {
                        let c = node.children[slot];
                        let size = 1usize << self.dup_of(c);
                        if slot % size != 0 || slot + size > n || node.children[slot..slot + size].iter().any(|&o| o != c) {
                            problem = Some(format!("inner {id}: child at slot {slot} does not cover an aligned block of {size}"));
                        }
                        slot += size;
                    }
                }
                Node::Data(id) => {
                    leaves_in_tree.push(id);
                    if let Err(e) = self.check_leaf(id) {
                        problem = Some(e);
                    }
                }
            }
        });
        if let Some(problem) = problem {
            return Err(problem);
        }
        // The chain visits exactly the tree's leaves, in the same order, with keys ascending.
        let mut chain = Vec::new();
        let mut id = self.head;
        let mut prev = NIL;
        while id != NIL {
            if self.data[id as usize].prev != prev {
                return Err(format!(
                    "leaf {id}: prev link is {} not {prev}",
                    self.data[id as usize].prev
                ));
            }
            chain.push(id);
            prev = id;
            id = self.data[id as usize].next;
            if chain.len() > self.data.len() {
                return Err("leaf chain has a cycle".into());
            }
        }
        if self.tail != prev {
            return Err(format!(
                "tail is {} but the chain ends at {prev}",
                self.tail
            ));
        }
        if chain != leaves_in_tree {
            return Err(format!(
                "leaf chain {chain:?} differs from tree order {leaves_in_tree:?}"
            ));
        }
        let mut count = 0;
        let mut last: Option<&K> = None;
        for (k, _) in self.iter() {
            if last.is_some_and(|l| l >= k) {
                return Err("keys are not strictly ascending across the chain".into());
            }
            if self.data[self.leaf_for(k) as usize].find(k).is_none() {
                return Err("a key is not found where the models route it".into());
            }
            last = Some(k);
            count += 1;
        }
        if count != self.len() {
            return Err(format!(
                "len is {} but {count} keys are reachable",
                self.len()
            ));
        }
        Ok(())
    }

    fn check_leaf(&self, id: u32) -> Result<(), String> {
        let leaf = &self.data[id as usize];
        let cap = leaf.capacity();
        if leaf.bitmap.len() != cap.div_ceil(64) {
            return Err(format!("leaf {id}: arrays disagree on capacity {cap}"));
        }
        let occupied: Vec<usize> = (0..cap).filter(|&s| leaf.is_occupied(s)).collect();
        if occupied.len() != leaf.len {
            return Err(format!(
                "leaf {id}: bitmap has {} keys, len says {}",
                occupied.len(),
                leaf.len
            ));
        }
        if cap > 0
            && leaf
                .bitmap
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>()
                != leaf.len
        {
            return Err(format!("leaf {id}: bits set beyond capacity"));
        }
        let (Some(&first), Some(&last)) = (occupied.first(), occupied.last()) else {
            return Ok(());
        };
        if (first, last) != (leaf.min_slot, leaf.max_slot) {
            return Err(format!(
                "leaf {id}: window {}..={} but keys span {first}..={last}",
                leaf.min_slot, leaf.max_slot
            ));
        }
        // Inside the window every gap holds a copy of the next key.
        let mut next_key = leaf.key(last);
        for slot in (first..=last).rev() {
            if leaf.is_occupied(slot) {
                if slot != last && leaf.key(slot) >= next_key {
                    return Err(format!("leaf {id}: keys out of order at slot {slot}"));
                }
                next_key = leaf.key(slot);
            } else if leaf.key(slot) != next_key {
                return Err(format!("leaf {id}: gap {slot} does not hold the next key"));
            }
        }
        Ok(())
    }
}

fn distinct_children(children: &[Child]) -> usize {
    1 + children.windows(2).filter(|w| w[0] != w[1]).count()
}
