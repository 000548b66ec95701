//! A data node: keys and values in gapped arrays, a bitmap of occupied slots, a linear model.

use std::mem;

use super::key::ModelKey;
use super::model::LinearModel;

/// No node: the end of the leaf chain.
pub(super) const NIL: u32 = u32::MAX;

/// Densities: after bulk load, after an expansion, the most a node holds before it must grow,
/// and the least before it shrinks.
pub(super) const INIT_DENSITY: f64 = 0.7;
pub(super) const EXPANDED_DENSITY: f64 = 0.6;
pub(super) const MAX_DENSITY: f64 = 0.8;
pub(super) const MIN_DENSITY: f64 = 0.2;
/// How many slots from the predicted one on [`DataNode::prefetch_places`] offers: a key sits
/// at its predicted slot or, pushed right by keys before it when its node was built, in the
/// run of occupied slots after it — measured on a million random keys, 43% at the predicted
/// slot, 70% within two slots, 84% within three.
const GUESSES: usize = 3;
/// The smallest capacity a non-empty node is given.
pub(super) const MIN_CAPACITY: usize = 16;

/// Per-node counters since the node was last (re)built, for the cost model.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NodeCounters {
    pub inserts: u32,
    pub shifts: u64,
    pub search_steps: u64,
    pub right_appends: u32,
    pub left_appends: u32,
}

/// Where a rebuilt node should leave its free space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Gaps spread evenly between keys: random inserts.
    Spread,
    /// Keys packed to the left, free room at the right: ascending appends.
    RoomRight,
    /// Keys packed to the right, free room at the left: descending inserts.
    RoomLeft,
}

#[derive(Debug)]
pub(super) struct DataNode<K: ModelKey, V> {
    pub model: LinearModel,
    /// What the model measures keys in: chosen from the keys the node was built with, or
    /// its parent's for a node built empty (whose model then continues the parent's).
    pub frame: K::Frame,
    /// Keys with their values, interleaved so that a lookup touches one cache line. Inside the
    /// window `min_slot..=max_slot` a gap holds a copy of the next occupied key (and
    /// `V::default()`), so the window is sorted and searchable without consulting the bitmap.
    /// Outside the window slot contents are meaningless.
    pub slots: Vec<Slot<K, V>>,
    /// Bit `i` set when slot `i` holds a key.
    pub bitmap: Vec<u64>,
    pub len: usize,
    pub min_slot: usize,
    pub max_slot: usize,
    /// Neighbours in key order (the leaf chain), or `NIL`.
    pub prev: u32,
    pub next: u32,
    /// log2 of the number of parent slots that point to this node.
    pub dup: u8,
    /// Built with room at the right whose slots its model already predicts for appends.
    pub built_for_appends: bool,
    /// Mean exponential-search steps the model promised when the node was built.
    pub expected_steps: f64,
    pub counters: NodeCounters,
}

/// One slot of a data node's gapped array.
#[derive(Debug, Clone)]
pub(super) struct Slot<K, V> {
    pub key: K,
    pub value: V,
}

/// The outcome of inserting into a node with room.
pub(super) enum Inserted<V> {
    Replaced(V),
    New { shifts: usize },
}

#[inline]
fn bit(bitmap: &[u64], i: usize) -> bool {
    bitmap[i / 64] & (1 << (i % 64)) != 0
}

impl<K: ModelKey, V: Default> DataNode<K, V> {
    /// An empty node whose model covers `[lo, hi]` in `frame`, so that its first keys land
    /// spread out.
    pub fn empty(frame: K::Frame, lo: f64, hi: f64, dup: u8) -> Self {
        DataNode {
            model: LinearModel::spanning(lo, hi, MIN_CAPACITY),
            frame,
            slots: Vec::new(),
            bitmap: Vec::new(),
            len: 0,
            min_slot: 0,
            max_slot: 0,
            prev: NIL,
            next: NIL,
            dup,
            built_for_appends: false,
            expected_steps: 0.0,
            counters: NodeCounters::default(),
        }
    }

    /// A node holding `pairs` (sorted, distinct keys) at the given density and layout. Values
    /// are taken out of `pairs` (left as `V::default()`), keys cloned.
    pub fn build(pairs: &mut [(K, V)], density: f64, layout: Layout, dup: u8) -> Self {
        let n = pairs.len();
        if n == 0 {
            return Self::empty(K::Frame::default(), 0.0, 0.0, dup);
        }
        let mut capacity = ((n as f64 / density).ceil() as usize)
            .max(MIN_CAPACITY)
            .max(n + 1);
        // The keys occupy `span` slots starting at `offset`; the rest is room for appends, as
        // much again as the node holds, so that a run of appends rebuilds it only every doubling.
        let packed = n as f64 / MAX_DENSITY;
        let (offset, span) = match layout {
            Layout::Spread => (0.0, capacity as f64),
            Layout::RoomRight => {
                capacity = capacity.max((packed as usize + n).max(MIN_CAPACITY));
                (0.0, packed)
            }
            Layout::RoomLeft => {
                capacity = capacity.max((packed as usize + n).max(MIN_CAPACITY));
                (capacity as f64 - packed, packed)
            }
        };
        let step = span / n as f64;
        let frame = K::frame(&pairs[0].0, &pairs[n - 1].0, pairs.iter().map(|(k, _)| k));
        let inputs: Vec<f64> = pairs.iter().map(|(k, _)| k.model_input(&frame)).collect();
        let mut model = LinearModel::fit(
            inputs
                .iter()
                .enumerate()
                .map(|(i, &x)| (x, offset + i as f64 * step)),
        );
        if model.slope == 0.0 {
            // All keys share one model input: centre the prediction in the occupied span.
            model.intercept = offset + span / 2.0;
        }

        let mut bitmap = vec![0u64; capacity.div_ceil(64)];
        let mut slots = Vec::with_capacity(capacity);
        let mut steps = 0.0;
        let mut first_slot = 0;
        for (i, ((key, value), &x)) in pairs.iter_mut().zip(&inputs).enumerate() {
            // Place each key at its predicted slot, or right after its predecessor, leaving
            // enough room for the keys still to come.
            let predicted = model.slot(x, capacity);
            let slot = predicted.max(slots.len()).min(capacity - (n - i));
            if i == 0 {
                first_slot = slot;
            }
            // Gaps before a key hold a copy of it.
            while slots.len() < slot {
                slots.push(Slot {
                    key: key.clone(),
                    value: V::default(),
                });
            }
            // Exponential search needs about log2(error) + 1 steps: the error's bit length.
            steps += f64::from(usize::BITS - predicted.abs_diff(slot).leading_zeros());
            bitmap[slot / 64] |= 1 << (slot % 64);
            slots.push(Slot {
                key: key.clone(),
                value: mem::take(value),
            });
        }
        let max_slot = slots.len() - 1;
        // Slots after the last key lie outside the window; any key will do.
        let last = slots[max_slot].key.clone();
        slots.resize_with(capacity, || Slot {
            key: last.clone(),
            value: V::default(),
        });
        DataNode {
            model,
            frame,
            slots,
            bitmap,
            len: n,
            min_slot: first_slot,
            max_slot,
            prev: NIL,
            next: NIL,
            dup,
            // A model fitted to one key (or to keys sharing one input) cannot extrapolate.
            built_for_appends: layout == Layout::RoomRight && model.slope > 0.0,
            expected_steps: steps / n as f64,
            counters: NodeCounters::default(),
        }
    }

    #[inline]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// `key`'s model input in this node's frame.
    #[inline]
    pub fn input(&self, key: &K) -> f64 {
        key.model_input(&self.frame)
    }

    #[inline]
    pub fn key(&self, slot: usize) -> &K {
        &self.slots[slot].key
    }

    /// Whether one more key fits without passing the maximum density.
    #[inline]
    pub fn has_room(&self) -> bool {
        self.len == 0 || (self.len + 1) as f64 <= self.capacity() as f64 * MAX_DENSITY
    }

    /// Whether `key` would land beyond a packed edge (no free slot past the first or last key)
    /// of a node whose inserts keep arriving at that edge. Inserting would shift the whole
    /// packed run; growing the node, or rebuilding it with room on that side, is cheaper.
    #[inline]
    pub fn edge_blocked(&self, key: &K) -> bool {
        if self.len == 0 {
            return false;
        }
        // The slot checks are cheap and usually false; the layout (two divisions) comes last.
        if self.max_slot + 1 == self.capacity() && *key > self.slots[self.max_slot].key {
            self.preferred_layout() == Layout::RoomRight
        } else if self.min_slot == 0 && *key < self.slots[self.min_slot].key {
            self.preferred_layout() == Layout::RoomLeft
        } else {
            false
        }
    }

    #[inline]
    pub fn is_occupied(&self, slot: usize) -> bool {
        bit(&self.bitmap, slot)
    }

    /// The first occupied slot at or after `from`.
    #[inline]
    pub fn next_occupied(&self, from: usize) -> Option<usize> {
        self.scan_forward(from, 0)
    }

    /// The last occupied slot at or before `from`.
    #[inline]
    pub fn prev_occupied(&self, from: usize) -> Option<usize> {
        self.scan_backward(from, 0)
    }

    /// The first gap at or after `from`.
    fn next_gap(&self, from: usize) -> Option<usize> {
        self.scan_forward(from, u64::MAX)
    }

    /// The last gap at or before `from`.
    fn prev_gap(&self, from: usize) -> Option<usize> {
        self.scan_backward(from, u64::MAX)
    }

    /// The first slot at or after `from` whose bit, XORed with `flip`'s, is set: occupied slots
    /// with `flip == 0`, gaps with `flip == !0`.
    #[inline]
    fn scan_forward(&self, from: usize, flip: u64) -> Option<usize> {
        let cap = self.capacity();
        let mut word = from / 64;
        if word >= self.bitmap.len() {
            return None;
        }
        let mut bits = (self.bitmap[word] ^ flip) & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                let slot = word * 64 + bits.trailing_zeros() as usize;
                return (slot < cap).then_some(slot);
            }
            word += 1;
            if word >= self.bitmap.len() {
                return None;
            }
            bits = self.bitmap[word] ^ flip;
        }
    }

    /// The last slot at or before `from` whose bit, XORed with `flip`'s, is set.
    #[inline]
    fn scan_backward(&self, from: usize, flip: u64) -> Option<usize> {
        let mut word = from / 64;
        let shift = 63 - (from % 64);
        let mut bits = ((self.bitmap[word] ^ flip) << shift) >> shift;
        loop {
            if bits != 0 {
                return Some(word * 64 + 63 - bits.leading_zeros() as usize);
            }
            if word == 0 {
                return None;
            }
            word -= 1;
            bits = self.bitmap[word] ^ flip;
        }
    }

    /// The first slot in the window whose key is `>= key`, or `max_slot + 1` if every key is
    /// smaller, with the number of exponential-search steps taken. The node must not be empty.
    #[inline]
    pub fn lower_bound(&self, key: &K) -> (usize, u32) {
        self.search(key, |k| k < key)
    }

    /// The first slot in the window whose key is `> key` (or `max_slot + 1`).
    #[inline]
    fn upper_bound(&self, key: &K) -> usize {
        self.search(key, |k| k <= key).0
    }

    /// The first slot in the window where `before` turns false (it must be monotone over the
    /// window). Exponential search from the model's prediction for `key`, then binary search.
    #[inline]
    fn search(&self, key: &K, before: impl Fn(&K) -> bool) -> (usize, u32) {
        // No look at the last key first: it is one more cache miss per search (two for keys
        // on the heap), and a key beyond it predicts the last slot, where the search ends at
        // once.
        let (lo, hi) = (self.min_slot, self.max_slot);
        let slots = &self.slots;
        let p = self.predicted(key);
        let mut steps = 0;
        if before(&slots[p].key) {
            // Answer in (p, hi]: find a bound with !before(p + bound).
            let mut bound = 1;
            while p + bound < hi && before(&slots[p + bound].key) {
                bound *= 2;
                steps += 1;
            }
            let start = p + bound / 2 + 1;
            let end = (p + bound).min(hi);
            (
                start + slots[start..=end].partition_point(|s| before(&s.key)),
                steps,
            )
        } else {
            // Answer in [lo, p]: find a bound with before(p - bound).
            let mut bound = 1;
            while p >= lo + bound && !before(&slots[p - bound].key) {
                bound *= 2;
                steps += 1;
            }
            let start = if p >= lo + bound { p - bound + 1 } else { lo };
            let end = p - bound / 2;
            (
                start + slots[start..end].partition_point(|s| before(&s.key)),
                steps,
            )
        }
    }

    /// The slot in the window the model predicts for `key`.
    #[inline]
    fn predicted(&self, key: &K) -> usize {
        self.model
            .slot(self.input(key), self.capacity())
            .clamp(self.min_slot, self.max_slot)
    }

    /// Starts loading the slot the model predicts for `key` (see `AlexMap::prefetch`).
    #[inline]
    pub fn prefetch(&self, key: &K) {
        if self.len > 0 {
            super::prefetch(&self.slots[self.predicted(key)]);
        }
    }

    /// Starts loading the slots where `key` probably is, and calls `each` with the group
    /// and rank of each occupied one, most likely first (see `AlexMap::prefetch_places`):
    /// from the predicted slot (or, if it is a gap, the next key's, which the gap copies) up
    /// to the end of the run of keys there.
    #[inline]
    pub fn prefetch_places(&self, key: &K, mut each: impl FnMut(usize, u32)) {
        if self.len == 0 {
            return;
        }
        let p = self.predicted(key);
        let mut guesses = GUESSES;
        let last = (p + GUESSES).min(self.max_slot);
        super::prefetch(&self.slots[p]);
        super::prefetch(&self.slots[last]);
        let mut rank = self.rank_in_group(p);
        for slot in p..=last {
            if slot % 64 == 0 {
                rank = 0;
            }
            if self.is_occupied(slot) {
                each(slot / 64, rank);
                rank += 1;
                guesses -= 1;
                if guesses == 0 {
                    break;
                }
            } else if slot != p {
                break;
            }
        }
    }

    /// How many occupied slots precede `slot` in its group of 64 (its bitmap word).
    #[inline]
    pub fn rank_in_group(&self, slot: usize) -> u32 {
        let below = (1u64 << (slot % 64)) - 1;
        (self.bitmap[slot / 64] & below).count_ones()
    }

    /// The slot holding `key`, if present.
    #[inline]
    pub fn find(&self, key: &K) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        // Most keys sit where the model predicts them. An occupied slot is the key's own (a
        // gap only copies a key): one bit, in a bitmap small enough to stay cached, instead of
        // reading the next slot, most often on the next cache line.
        let p = self.predicted(key);
        if self.slots[p].key == *key {
            // A gap holding the key holds a copy of it: the key itself is in the next
            // occupied slot.
            return if self.is_occupied(p) {
                Some(p)
            } else {
                self.next_occupied(p)
            };
        }
        // Gaps before a key hold copies of it, gaps after it the next key: the key itself is
        // the last slot holding it, just before the upper bound. No bitmap access needed.
        let i = self.upper_bound(key);
        (i > self.min_slot && self.slots[i - 1].key == *key).then(|| i - 1)
    }

    /// The first occupied slot whose key is `>= key` (`inclusive`) or `> key`.
    pub fn seek(&self, key: &K, inclusive: bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let (i, _) = self.lower_bound(key);
        let slot = self.next_occupied(i)?;
        if !inclusive && self.slots[slot].key == *key {
            self.next_occupied(slot + 1)
        } else {
            Some(slot)
        }
    }

    /// The last occupied slot whose key is `<= key` (`inclusive`) or `< key`.
    pub fn seek_back(&self, key: &K, inclusive: bool) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let (i, _) = self.lower_bound(key);
        if inclusive && i <= self.max_slot && self.slots[i].key == *key {
            return self.next_occupied(i);
        }
        if i == 0 {
            return None;
        }
        self.prev_occupied(i - 1)
    }

    /// Inserts `key`; the node must have room. Replaces the value if the key is present.
    pub fn insert(&mut self, key: K, value: V) -> Inserted<V> {
        if self.len == 0 {
            self.insert_first(key, value);
            return Inserted::New { shifts: 0 };
        }
        let cap = self.capacity();
        let predicted = self.model.slot(self.input(&key), cap);
        let (i, steps) = self.lower_bound(&key);
        self.counters.search_steps += u64::from(steps);
        if i <= self.max_slot && self.slots[i].key == key {
            let slot = self.next_occupied(i).unwrap_or(i);
            return Inserted::Replaced(mem::replace(&mut self.slots[slot].value, value));
        }
        self.counters.inserts += 1;
        let shifts = if i > self.max_slot {
            self.counters.right_appends += 1;
            self.insert_after_all(predicted, key, value)
        } else if i <= self.min_slot {
            self.counters.left_appends += 1;
            self.insert_before_all(predicted, key, value)
        } else {
            // `m` holds the smallest key above ours, `l` the largest below; gaps between them
            // are free and must end up holding our key (the gaps before it) or keys[m].
            let m = self.next_occupied(i).unwrap_or(self.max_slot);
            let l = self.prev_occupied(m - 1).unwrap_or(self.min_slot);
            if m > l + 1 {
                let pos = predicted.clamp(l + 1, m - 1);
                self.put(pos, key, value);
                self.fill(l + 1, pos);
                0
            } else {
                self.shift_in(l, m, key, value)
            }
        };
        self.counters.shifts += shifts as u64;
        self.len += 1;
        Inserted::New { shifts }
    }

    /// Inserts into an empty node, allocating its slots if it has none.
    fn insert_first(&mut self, key: K, value: V) {
        let cap = self.capacity().max(MIN_CAPACITY);
        self.slots.clear();
        self.slots.resize_with(cap, || Slot {
            key: key.clone(),
            value: V::default(),
        });
        self.bitmap.clear();
        self.bitmap.resize(cap.div_ceil(64), 0);
        let slot = self.model.slot(self.input(&key), cap);
        self.counters.inserts += 1;
        self.put(slot, key, value);
        self.min_slot = slot;
        self.max_slot = slot;
        self.len = 1;
    }

    /// Writes a key into a gap and marks it occupied.
    #[inline]
    fn put(&mut self, slot: usize, key: K, value: V) {
        self.slots[slot] = Slot { key, value };
        self.bitmap[slot / 64] |= 1 << (slot % 64);
    }

    /// Copies the key at `to` into the gaps `from..to`.
    fn fill(&mut self, from: usize, to: usize) {
        for slot in from..to {
            self.slots[slot].key = self.slots[to].key.clone();
        }
    }

    fn insert_after_all(&mut self, predicted: usize, key: K, value: V) -> usize {
        let cap = self.capacity();
        if self.max_slot + 1 < cap {
            // A prediction past the end (an append the model has not seen yet) takes the next
            // slot, keeping the room beyond for the appends that usually follow.
            let pos = if predicted >= cap - 1 {
                self.max_slot + 1
            } else {
                predicted.max(self.max_slot + 1)
            };
            let old_max = self.max_slot;
            self.put(pos, key, value);
            self.max_slot = pos;
            self.fill(old_max + 1, pos);
            0
        } else {
            // No room at the end: make room by shifting left into the nearest gap.
            let (l, m) = (self.max_slot, self.max_slot + 1);
            self.shift_in(l, m, key, value)
        }
    }

    fn insert_before_all(&mut self, predicted: usize, key: K, value: V) -> usize {
        if self.min_slot > 0 {
            let pos = if predicted == 0 {
                self.min_slot - 1
            } else {
                predicted.min(self.min_slot - 1)
            };
            let old_min = self.min_slot;
            self.put(pos, key, value);
            self.min_slot = pos;
            // The gaps between us and the old first key were outside the window.
            self.fill(pos + 1, old_min);
            0
        } else {
            // Slot 0 is taken: shift right into the nearest gap; our key goes to slot 0.
            self.shift_right_into(0, key, value)
        }
    }

    /// Inserts between occupied neighbours `l` and `m = l + 1` (or after the last key when
    /// `m == max_slot + 1`) by shifting toward the nearer gap.
    fn shift_in(&mut self, l: usize, m: usize, key: K, value: V) -> usize {
        let right = if m < self.capacity() {
            self.next_gap(m)
        } else {
            None
        };
        let left = self.prev_gap(l);
        match (left, right) {
            (Some(g), Some(r)) if l - g <= r - m => self.shift_left_into(g, l, key, value),
            (_, Some(_)) => self.shift_right_into(m, key, value),
            (Some(g), None) => self.shift_left_into(g, l, key, value),
            (None, None) => unreachable_full(),
        }
    }

    /// Shifts `m..gap` one slot right (into the first gap after `m`) and puts the key at `m`.
    fn shift_right_into(&mut self, m: usize, key: K, value: V) -> usize {
        let Some(gap) = self.next_gap(m) else {
            unreachable_full()
        };
        self.slots[m..=gap].rotate_right(1);
        self.bitmap[gap / 64] |= 1 << (gap % 64);
        self.slots[m] = Slot { key, value };
        self.max_slot = self.max_slot.max(gap);
        self.min_slot = self.min_slot.min(m);
        gap - m
    }

    /// Shifts `gap+1..=l` one slot left (into the gap) and puts the key at `l`.
    fn shift_left_into(&mut self, gap: usize, l: usize, key: K, value: V) -> usize {
        self.slots[gap..=l].rotate_left(1);
        self.bitmap[gap / 64] |= 1 << (gap % 64);
        self.slots[l] = Slot { key, value };
        self.min_slot = self.min_slot.min(gap);
        self.max_slot = self.max_slot.max(l);
        l - gap
    }

    /// Adds as many free slots at the end as the node holds keys (at least `MIN_CAPACITY`),
    /// keeping every key where it is: for nodes that only receive ascending appends.
    pub fn grow_right(&mut self) {
        let extra = self.len.max(MIN_CAPACITY);
        let capacity = self.capacity() + extra;
        let last = self.slots[self.max_slot].key.clone();
        // Exactly: the vector's own doubling would leave up to half its memory unused.
        self.slots.reserve_exact(extra);
        self.slots.resize_with(capacity, || Slot {
            key: last.clone(),
            value: V::default(),
        });
        self.bitmap.resize(capacity.div_ceil(64), 0);
        // Appends beyond the model's range were packed after the last key; refit the model to
        // where the keys now are, so that lookups of them (and its extrapolation for the appends
        // to come) are accurate again, in a frame spanning them all (appends may have left the
        // old one). Linear in the node's size, once per doubling.
        let frame = K::frame(
            &self.slots[self.min_slot].key,
            &self.slots[self.max_slot].key,
            (self.min_slot..=self.max_slot)
                .filter(|&slot| self.is_occupied(slot))
                .map(|slot| &self.slots[slot].key),
        );
        let fitted = LinearModel::fit(
            (self.min_slot..=self.max_slot)
                .filter(|&slot| self.is_occupied(slot))
                .map(|slot| (self.slots[slot].key.model_input(&frame), slot as f64)),
        );
        if fitted.slope > 0.0 {
            self.model = fitted;
            self.frame = frame;
        }
    }

    /// Takes out every pair from the first key for which `moves` holds (it must be false, then
    /// true, over the keys in order), in key order. The keys that stay keep their slots; the
    /// array is cut a little past the last of them.
    pub fn split_off(&mut self, moves: impl Fn(&K) -> bool) -> Vec<(K, V)> {
        if self.len == 0 {
            return Vec::new();
        }
        let window = &self.slots[self.min_slot..=self.max_slot];
        let cut = self.min_slot + window.partition_point(|s| !moves(&s.key));
        let mut moved = Vec::new();
        let mut slot = self.next_occupied(cut);
        while let Some(s) = slot {
            moved.push((
                self.slots[s].key.clone(),
                mem::take(&mut self.slots[s].value),
            ));
            self.bitmap[s / 64] &= !(1 << (s % 64));
            slot = self.next_occupied(s + 1);
        }
        self.len -= moved.len();
        match cut
            .checked_sub(1)
            .and_then(|before| self.prev_occupied(before))
        {
            Some(last) => {
                self.max_slot = last;
                // Keep a little room for stray inserts; release the rest.
                let keep = (last + 1 + self.len / 8).clamp(MIN_CAPACITY, self.capacity());
                self.slots.truncate(keep);
                self.slots.shrink_to_fit();
                self.bitmap.truncate(keep.div_ceil(64));
                if keep % 64 != 0 {
                    let last_word = self.bitmap.len() - 1;
                    self.bitmap[last_word] &= (1u64 << (keep % 64)) - 1;
                }
            }
            None => {
                self.slots = Vec::new();
                self.bitmap = Vec::new();
                self.min_slot = 0;
                self.max_slot = 0;
            }
        }
        moved
    }

    /// Removes the key at an occupied `slot`, returning its value.
    pub fn remove_at(&mut self, slot: usize) -> V {
        let value = mem::take(&mut self.slots[slot].value);
        self.bitmap[slot / 64] &= !(1 << (slot % 64));
        self.len -= 1;
        if self.len == 0 {
            self.min_slot = 0;
            self.max_slot = 0;
        } else if slot == self.max_slot {
            self.max_slot = self.prev_occupied(slot).unwrap_or(0);
        } else if slot == self.min_slot {
            self.min_slot = self.next_occupied(slot).unwrap_or(0);
        } else if let (Some(next), Some(prev)) =
            (self.next_occupied(slot), self.prev_occupied(slot))
        {
            self.fill(prev + 1, next);
        }
        value
    }

    /// Takes every pair out, in key order, leaving the node empty.
    pub fn drain(&mut self) -> Vec<(K, V)> {
        let mut pairs = Vec::with_capacity(self.len);
        let mut slot = self.next_occupied(0);
        while let Some(s) = slot {
            pairs.push((
                self.slots[s].key.clone(),
                mem::take(&mut self.slots[s].value),
            ));
            slot = self.next_occupied(s + 1);
        }
        self.slots = Vec::new();
        self.bitmap = Vec::new();
        self.len = 0;
        self.min_slot = 0;
        self.max_slot = 0;
        pairs
    }

    /// The layout a rebuild should use, judged by where inserts have been landing.
    pub fn preferred_layout(&self) -> Layout {
        let c = &self.counters;
        let inserts = f64::from(c.inserts.max(1));
        if c.inserts >= 8 && f64::from(c.right_appends) / inserts > 0.9 {
            Layout::RoomRight
        } else if c.inserts >= 8 && f64::from(c.left_appends) / inserts > 0.9 {
            Layout::RoomLeft
        } else {
            Layout::Spread
        }
    }

    /// ALEX's intra-node cost: 20 per search step plus 0.5 per shifted slot, per insert.
    pub fn measured_cost(&self) -> f64 {
        let c = &self.counters;
        let inserts = f64::from(c.inserts.max(1));
        20.0 * c.search_steps as f64 / inserts + 0.5 * c.shifts as f64 / inserts
    }

    pub fn expected_cost(&self) -> f64 {
        20.0 * self.expected_steps
    }

    /// The smallest and largest model inputs held, if any.
    pub fn input_range(&self) -> Option<(f64, f64)> {
        (self.len > 0).then(|| {
            (
                self.input(&self.slots[self.min_slot].key),
                self.input(&self.slots[self.max_slot].key),
            )
        })
    }
}

#[cold]
fn unreachable_full() -> ! {
    // `insert` is only called on nodes with room (`has_room`), which always have a gap.
    panic!("ALEX invariant broken: insert into a data node without a gap")
}
