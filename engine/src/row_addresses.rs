//! Where a table's cached rows are, learned from where they were put: a second model beside
//! the learned index, so that a point lookup can ask for its row's memory at the same time as
//! for its index slot.
//!
//! A cache hit waits for two memory loads one after the other: the index slot (which holds the
//! row's pointer), then the row. Rows cached together — a scan, which admits its rows in key
//! order, or a sequential load — are allocated one after another, so within a run of keys a
//! row's address is the previous key's plus a constant stride. A lookup predicts its row's
//! address and prefetches it together with the slot: where the prediction is right the two
//! loads overlap; where it is wrong (rows cached in no order, rows replaced since, an index
//! node reshaped since) the cost is a wasted prefetch. Predictions are only hints — nothing
//! is ever read from a predicted address.
//!
//! Two models learn from the same admissions:
//! - by key ([`KeyBlocks`]): for every block of [`BLOCK`] consecutive integer keys, the
//!   address its first key's row would have and the stride. Arithmetic on the key and one
//!   small array: the cheapest prediction, for tables whose integer keys are dense (ids,
//!   sequences), which are the ones it can hold.
//! - by place ([`PlaceGroups`]): the learned index knows from its models and bitmaps alone
//!   where a key probably sits — its [`Place`]: data node, group of 64 slots, rank in the
//!   group — and keys next to each other in key order have places next to each other,
//!   however sparse or whatever their type. For every group, the address its first key's
//!   row would have and the stride. A lookup offers the few places its key may have (a key
//!   sits at its predicted slot or just after it), and prefetches a row for each. It helps
//!   as far as the index's models fit the keys: random integers and bytes well, text whose
//!   first bytes are a shared prefix or only digits hardly at all (see `alex::key`).
//!
//! The place model reads an anchor and a bitmap word before it can prefetch: it is kept
//! only while its anchors stay small enough to stay cached ([`MAX_ANCHOR_BYTES`], about
//! two million rows).
//!
//! Measured with a scratch driver on a million cached rows (point lookups in random order,
//! alternating builds): dense keys 500 → 370 ns with the key model; random 63-bit keys
//! 600 → 460 ns with the place model, where the key model holds nothing. The place model
//! is the general one, but for dense keys the key model predicts better (its blocks do not
//! depend on guessing the slot) and costs less (30 ns per lookup), so it goes first.

use crate::alex::Place;
use crate::table::RowKey;

/// The largest distance between consecutive keys' rows taken as a stride: further apart,
/// rows were not allocated together.
const MAX_STRIDE: usize = 4096;

/// Predicted row addresses of a table's keys (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct RowAddresses {
    keys: KeyBlocks,
    places: PlaceGroups,
}

impl RowAddresses {
    /// Makes room in the key model for integer keys `first..=last` of a table of `len` rows
    /// (see [`KeyBlocks::fit`]).
    pub fn fit(&mut self, first: i64, last: i64, len: usize) {
        self.keys.fit(first, last, len);
    }

    /// Learns from a row admitted to the cache: `key`'s row, at `address`; the key is at
    /// `place` in the index.
    pub fn learn(&mut self, key: &RowKey, place: Place, address: usize) {
        if let RowKey::Int(key) = key {
            self.keys.learn(*key, address);
        }
        self.places.learn(place, address);
    }

    /// Forgets what was learned about the rows cached with `key`'s (at `place`): it left
    /// the cache.
    pub fn forget(&mut self, key: &RowKey, place: Place) {
        if let RowKey::Int(key) = key {
            self.keys.forget(*key);
        }
        self.places.forget(place);
    }

    /// Whether the key model covers `key` (a lookup then asks it, and not the place model).
    #[inline]
    pub fn keyed(&self, key: &RowKey) -> bool {
        matches!(key, RowKey::Int(_)) && !self.keys.blocks.is_empty()
    }

    /// Where `key`'s row probably is, if the key model knows.
    #[inline]
    pub fn by_key(&self, key: &RowKey) -> Option<usize> {
        match key {
            RowKey::Int(key) => self.keys.predict(*key),
            RowKey::Bytes(_) => None,
        }
    }

    /// Whether the place model holds anything (a lookup then offers it its key's places).
    #[inline]
    pub fn placed(&self) -> bool {
        !self.places.nodes.is_empty()
    }

    /// Where the row of the key at `place` probably is, if the place model knows.
    #[inline]
    pub fn at(&self, place: Place) -> Option<usize> {
        self.places.predict(place)
    }
}

/// Keys per block (a power of two).
const BLOCK_BITS: u32 = 8;
const BLOCK: i64 = 1 << BLOCK_BITS;
/// The most blocks a table gets: one per `SPARSEST` rows (so at least one key in 16 of the
/// range is present), or `MIN_BLOCKS` for small tables.
const SPARSEST: usize = 16;
const MIN_BLOCKS: usize = 1024;

/// Row addresses by integer key, in blocks of [`BLOCK`] keys (see the module's
/// documentation).
#[derive(Debug, Default)]
struct KeyBlocks {
    /// The first key of block 0.
    base: i64,
    /// Per block: where its first key's row would be and the stride (0: not known).
    blocks: Vec<Block>,
    run: Run<i64>,
}

/// A block's model: where its first key's row would be, the stride, and the length of the
/// run of rows it was learned from — the longest run seen in the block wins, since rows
/// in a fragmented heap come in short runs of reused memory between long fresh ones.
#[derive(Debug, Default, Clone, Copy)]
struct Block {
    address: usize,
    stride: u32,
    run: u32,
}

impl KeyBlocks {
    /// Makes room for keys `first..=last` of a table of `len` rows: blocks are added at the
    /// end (keeping what was learned) and start over only if keys appear below them; no
    /// blocks at all for keys too sparse for them.
    fn fit(&mut self, first: i64, last: i64, len: usize) {
        let limit = (len / SPARSEST).max(MIN_BLOCKS) as i128;
        let blocks_to = |base: i64| ((i128::from(last) - i128::from(base)) >> BLOCK_BITS) + 1;
        if self.blocks.is_empty() || first < self.base {
            let base = first & !(BLOCK - 1);
            let needed = blocks_to(base);
            self.blocks = Vec::new();
            if needed <= limit {
                self.base = base;
                self.blocks.resize(needed as usize, Block::default());
            }
            return;
        }
        let needed = blocks_to(self.base);
        if needed > self.blocks.len() as i128 {
            if needed <= limit {
                self.blocks.resize(needed as usize, Block::default());
            } else {
                self.blocks = Vec::new();
            }
        }
    }

    /// Learns from a row admitted to the cache: `key`'s row, at `address`. Rows admitted
    /// one after another for consecutive keys, at a constant distance, form a run.
    fn learn(&mut self, key: i64, address: usize) {
        let follows = |before: i64, key: i64| before.checked_add(1) == Some(key);
        let Some((stride, rows)) = self.run.admit(key, address, follows, true) else {
            return;
        };
        let Some((block, position)) = self.locate(key) else {
            return;
        };
        let anchor = &mut self.blocks[block];
        if rows >= anchor.run {
            *anchor = Block {
                address: address.wrapping_sub(position.wrapping_mul(stride)),
                stride: stride as u32,
                run: rows,
            };
        }
    }

    /// Forgets what was learned about `key`'s block: its row left the cache, and so,
    /// probably, did the rest of the run it was cached with (the cache evicts in admission
    /// order). The block learns again from the next run admitted into it.
    fn forget(&mut self, key: i64) {
        if let Some((block, _)) = self.locate(key) {
            self.blocks[block] = Block::default();
        }
    }

    /// Where `key`'s row probably is, if anything was learned about its block.
    #[inline]
    fn predict(&self, key: i64) -> Option<usize> {
        let (block, position) = self.locate(key)?;
        let anchor = self.blocks[block];
        (anchor.stride != 0).then(|| {
            anchor
                .address
                .wrapping_add(position.wrapping_mul(anchor.stride as usize))
        })
    }

    /// `key`'s block and its position in it.
    #[inline]
    fn locate(&self, key: i64) -> Option<(usize, usize)> {
        let offset = key.checked_sub(self.base).filter(|o| *o >= 0)?;
        let block = (offset >> BLOCK_BITS) as usize;
        (block < self.blocks.len()).then_some((block, (offset & (BLOCK - 1)) as usize))
    }
}

/// The most memory the place model's anchors may take. A lookup reads an anchor and a
/// bitmap word before it can prefetch anything: cached, that is cheap; from DRAM, it
/// delays the lookup by more than the prefetch saves. Measured with a scratch driver on
/// random 63-bit keys, alternating builds: at a million rows (0.5 MB of anchors, 0.2 MB of
/// bitmap) hits 600 → 460 ns, misses unchanged; at ten million (5.4 MB and 1.8 MB) hits
/// 891 → 810 ns but misses 360 → 691 ns. The limit is this machine's per-core L2 cache.
const MAX_ANCHOR_BYTES: usize = 1 << 20;

/// Row addresses by place in the index, in groups of 64 slots (see the module's
/// documentation).
#[derive(Debug, Default)]
struct PlaceGroups {
    /// Per data node (by id), per group: where its first key's row would be.
    nodes: Vec<Vec<Anchor>>,
    /// How many anchors `nodes` holds, and whether they outgrew [`MAX_ANCHOR_BYTES`] (the
    /// model then stays empty).
    anchors: usize,
    too_large: bool,
    run: Run<Place>,
}

/// A group's model: where its first key's row would be, and the stride, learned from the
/// last run of rows admitted from its first key on; and the same from the last run that
/// started inside the group, for its keys from that run's first on. Rows admitted in key
/// order are allocated in a few long runs, broken where the allocator reused memory: two
/// segments cover a group across one break.
#[derive(Debug, Default, Clone, Copy)]
struct Anchor {
    /// Where the group's rank-0 row would be, per segment.
    low: usize,
    high: usize,
    /// The segments' strides (0: nothing learned).
    low_stride: u16,
    high_stride: u16,
    /// The first rank `high` covers (0: `high` is unused).
    high_from: u16,
}

impl Anchor {
    /// The segment (its rank-0 address and stride) that covers `rank`.
    #[inline]
    fn segment(&self, rank: u32) -> (usize, u16) {
        if self.high_from != 0 && rank >= u32::from(self.high_from) {
            (self.high, self.high_stride)
        } else {
            (self.low, self.low_stride)
        }
    }
}

impl PlaceGroups {
    /// Learns from a row admitted to the cache: the row of the key at `place`, at
    /// `address`. Rows admitted one after another for consecutive keys, at a constant
    /// distance, form a run.
    fn learn(&mut self, place: Place, address: usize) {
        // The next key in key order is the next rank in the group, or the first of a later
        // group (of this node or a later one: the stride decides).
        let follows = |before: Place, place: Place| {
            if place.rank == 0 {
                (place.node, place.group) != (before.node, before.group)
            } else {
                (place.node, place.group) == (before.node, before.group)
                    && before.rank.checked_add(1) == Some(place.rank)
            }
        };
        // A new group's first key continues a run but starts none: it may not follow the
        // last admission in key order.
        let admitted = self.run.admit(place, address, follows, place.rank != 0);
        let Some((stride, rows)) = admitted.filter(|_| !self.too_large) else {
            return;
        };
        let groups = grown(&mut self.nodes, place.node as usize, Vec::new);
        let group = place.group as usize;
        if group >= groups.len() {
            self.anchors += group + 1 - groups.len();
            if self.anchors * size_of::<Anchor>() > MAX_ANCHOR_BYTES {
                *self = PlaceGroups {
                    too_large: true,
                    ..PlaceGroups::default()
                };
                return;
            }
        }
        let anchor = grown(groups, group, Anchor::default);
        let start = address.wrapping_sub((place.rank as usize).wrapping_mul(stride));
        // The strides fit: at most `MAX_STRIDE`; so do ranks, below 64.
        let stride = stride as u16;
        // The rank of the run's first row in this group.
        let from = (place.rank + 1).saturating_sub(rows) as u16;
        if from == 0 {
            (anchor.low, anchor.low_stride) = (start, stride);
            if u32::from(anchor.high_from) <= place.rank {
                anchor.high_from = 0;
            }
        } else {
            (anchor.high, anchor.high_stride, anchor.high_from) = (start, stride, from);
        }
    }

    /// Forgets what was learned about the group of `place`: its key's row left the cache,
    /// and so, probably, did the rest of the run it was cached with (the cache evicts in
    /// admission order). The group learns again from the next run admitted into it.
    fn forget(&mut self, place: Place) {
        if let Some(anchor) = self
            .nodes
            .get_mut(place.node as usize)
            .and_then(|groups| groups.get_mut(place.group as usize))
        {
            *anchor = Anchor::default();
        }
    }

    /// Where the row of the key at `place` probably is, if anything was learned about its
    /// group.
    #[inline]
    fn predict(&self, place: Place) -> Option<usize> {
        let anchor = self
            .nodes
            .get(place.node as usize)?
            .get(place.group as usize)?;
        let (start, stride) = anchor.segment(place.rank);
        (stride != 0).then(|| start.wrapping_add(place.rank as usize * usize::from(stride)))
    }
}

/// The run of admissions a model learns from: rows of consecutive keys admitted one after
/// another at a constant distance.
#[derive(Debug)]
struct Run<P> {
    /// The last admission: its key's position and its row's address.
    last: Option<(P, usize)>,
    /// The run it ended: the stride and how many rows (0: none).
    stride: usize,
    rows: u32,
}

impl<P> Default for Run<P> {
    fn default() -> Self {
        Run {
            last: None,
            stride: 0,
            rows: 0,
        }
    }
}

impl<P: Copy> Run<P> {
    /// Takes the admission of the row of the key at `position`, at `address`: it continues
    /// the run if `follows(previous, position)` and its row is the run's stride further, or
    /// starts a run of two (where `may_start`) at a new stride. The run's stride and length,
    /// if it is in one.
    fn admit(
        &mut self,
        position: P,
        address: usize,
        follows: impl Fn(P, P) -> bool,
        may_start: bool,
    ) -> Option<(usize, u32)> {
        let (before, before_address) = self.last.replace((position, address))?;
        let stride = address.wrapping_sub(before_address);
        let fits = follows(before, position) && stride != 0 && stride <= MAX_STRIDE;
        (self.stride, self.rows) = match (fits, self.rows) {
            (true, rows) if rows > 0 && self.stride == stride => (stride, rows.saturating_add(1)),
            (true, _) if may_start => (stride, 2),
            _ => (0, 0),
        };
        (self.rows > 0).then_some((self.stride, self.rows))
    }
}

/// `items[index]`, growing `items` with `fill` to reach it.
fn grown<T>(items: &mut Vec<T>, index: usize, fill: impl FnMut() -> T) -> &mut T {
    if items.len() <= index {
        items.resize_with(index + 1, fill);
    }
    &mut items[index]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Primary;

    /// End to end: a scan admits the rows it reads in key order, and the table's model then
    /// predicts where many of them are (how many depends on the allocator, which hands a
    /// scan's rows out one after another except where it reuses freed memory) — for keys
    /// dense or sparse, integer or text.
    #[test]
    fn a_scan_teaches_the_table_where_its_rows_are() {
        for (key_type, key) in [
            ("BIGINT", (|i: u64| i.to_string()) as fn(u64) -> String),
            ("BIGINT", |i| {
                (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 2).to_string()
            }),
            // Random bytes: keys whose prefixes the index's models fit (text keys fit only
            // as well as their first bytes spread, see `alex::key`).
            ("BYTEA", |i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i << 7);
                let x = x.rotate_left(17).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                format!("'\\x{x:016x}'::bytea")
            }),
        ] {
            let db = crate::Database::open(crate::DatabaseConfig::memory()).unwrap();
            let mut session = db.session();
            session
                .execute(&format!(
                    "CREATE TABLE t (id {key_type} PRIMARY KEY, v TEXT)"
                ))
                .unwrap();
            let values: Vec<String> = (1..=5000)
                .map(|i| format!("({}, 'row {i}')", key(i)))
                .collect();
            session
                .execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
                .unwrap();
            session.execute("SELECT id, v FROM t").unwrap();
            let table = session.shared.table("t").unwrap();
            let mut state = crate::sync::write(&table.state);
            let keys: Vec<RowKey> = match &state.primary {
                Primary::Int(map) => map.iter().map(|(k, _)| RowKey::Int(*k)).collect(),
                Primary::Bytes(map) => map.iter().map(|(k, _)| RowKey::Bytes(k.to_vec())).collect(),
            };
            assert_eq!(keys.len(), 5000);
            let mut right = 0;
            for key in &keys {
                // As a lookup's prefetch asks: by key, else by the places the key may have.
                let mut predicted: Vec<usize> =
                    state.row_addresses.by_key(key).into_iter().collect();
                if predicted.is_empty() {
                    state.primary.prefetch_places(key, |place| {
                        predicted.extend(state.row_addresses.at(place));
                    });
                }
                let (_, entry) = state.primary.get_mut_placed(key).unwrap();
                let actual = entry.cached.as_ref().map(|row| row.as_ptr() as usize);
                right += usize::from(actual.is_some_and(|row| predicted.contains(&row)));
            }
            // Here (rows reusing the memory the INSERT's statement freed) about half; the
            // bound only says the model learns from the cache's admissions at all.
            assert!(
                right >= 500,
                "{key_type}: {right} of 5000 rows where predicted"
            );
        }
    }

    mod by_key {
        use super::super::*;

        /// Admits `keys` in order, their rows at `address(key)`.
        fn learned(
            keys: impl IntoIterator<Item = i64>,
            address: impl Fn(i64) -> usize,
        ) -> KeyBlocks {
            let keys: Vec<i64> = keys.into_iter().collect();
            let mut model = KeyBlocks::default();
            let (first, last) = (keys.iter().min().copied(), keys.iter().max().copied());
            if let (Some(first), Some(last)) = (first, last) {
                model.fit(first, last, keys.len());
            }
            for key in keys {
                model.learn(key, address(key));
            }
            model
        }

        #[test]
        fn rows_admitted_in_key_order_are_predicted_exactly() {
            let address = |k: i64| 0x10_0000 + (k as usize - 1000) * 192;
            let model = learned(1000..5000, address);
            for key in 1000..5000 {
                assert_eq!(model.predict(key), Some(address(key)), "key {key}");
            }
            // Keys of no block, or of a block nothing was learned for, have no prediction.
            assert_eq!(model.predict(999_999), None);
            assert_eq!(model.predict(-5), None);
        }

        #[test]
        fn each_block_learns_its_own_run() {
            // Two runs of allocations far apart: each block follows the run its keys were in.
            let address = |k: i64| {
                if k < 512 {
                    0x100_0000 + k as usize * 144
                } else {
                    0x900_0000 + k as usize * 208
                }
            };
            let model = learned(0..1024, address);
            for key in [0, 1, 255, 256, 511, 512, 513, 1023] {
                assert_eq!(model.predict(key), Some(address(key)), "key {key}");
            }
        }

        #[test]
        fn rows_admitted_out_of_order_teach_nothing() {
            let keys = [7, 3, 9, 1, 8, 2];
            let model = learned(keys, |k| 0x1000 + k as usize * 64);
            for key in keys {
                assert_eq!(model.predict(key), None);
            }
            // Consecutive keys whose rows are far apart or in reverse order: no stride either.
            let model = learned([10, 11, 12], |k| 0x10_0000 - k as usize * 64);
            assert_eq!(model.predict(11), None);
            let model = learned([10, 11], |k| k as usize * 1_000_000);
            assert_eq!(model.predict(11), None);
        }

        #[test]
        fn sparse_keys_are_not_modelled() {
            let mut model = KeyBlocks::default();
            model.fit(0, i64::MAX, 1_000_000);
            assert!(model.blocks.is_empty());
            model.learn(5, 100);
            model.learn(6, 200);
            assert_eq!(model.predict(6), None);
            // Extremes of the key type do not overflow.
            model.fit(i64::MIN, i64::MIN + 10, 11);
            model.learn(i64::MIN, 64);
            model.learn(i64::MIN + 1, 128);
            assert_eq!(model.predict(i64::MIN + 2), Some(192));
            assert_eq!(model.predict(i64::MAX), None);
        }

        #[test]
        fn evicted_blocks_learn_again_from_shorter_runs() {
            let old = |k: i64| 0x100_0000 + k as usize * 128;
            let mut model = learned(0..256, old);
            assert_eq!(model.predict(100), Some(old(100)));
            // A shorter run elsewhere does not displace the block's longest one...
            let new = |k: i64| 0x800_0000 + k as usize * 160;
            for key in 10..20 {
                model.learn(key, new(key));
            }
            assert_eq!(model.predict(100), Some(old(100)));
            // ...until the block's rows leave the cache.
            model.forget(3);
            assert_eq!(model.predict(100), None);
            for key in 10..20 {
                model.learn(key, new(key));
            }
            assert_eq!(model.predict(100), Some(new(100)));
            // Forgetting a key of no block is nothing.
            model.forget(-1);
            model.forget(1 << 40);
        }

        #[test]
        fn growing_key_ranges_refit() {
            let mut model = learned(0..300, |k| 4096 + k as usize * 100);
            assert_eq!(model.predict(299), Some(4096 + 299 * 100));
            // Keys beyond the blocks: the model makes room and keeps what it learned.
            model.fit(0, 10_000, 10_000);
            assert_eq!(model.predict(299), Some(4096 + 299 * 100));
            assert_eq!(model.predict(9_999), None);
            model.learn(9_998, 50_000);
            model.learn(9_999, 50_100);
            assert_eq!(model.predict(9_999), Some(50_100));
            assert_eq!(model.predict(9_990), Some(50_100 - 900));
            // Keys below them: it starts over from the new first key.
            model.fit(-1_000, 10_000, 11_000);
            assert_eq!(model.predict(299), None);
            assert_eq!(model.predict(-1_000), None);
        }
    }

    mod by_place {
        use super::super::*;

        /// The places of `n` consecutive keys in one data node, `per_group` to a group.
        fn places(node: u32, n: u32, per_group: u32) -> Vec<Place> {
            (0..n)
                .map(|i| Place {
                    node,
                    group: i / per_group,
                    rank: i % per_group,
                })
                .collect()
        }

        /// Admits the keys at `places` in order, the `i`-th one's row at `address(i)`.
        fn learned(places: &[Place], address: impl Fn(usize) -> usize) -> PlaceGroups {
            let mut model = PlaceGroups::default();
            admit(&mut model, places, 0..places.len(), address);
            model
        }

        #[test]
        fn rows_admitted_in_key_order_are_predicted_exactly() {
            let address = |i: usize| 0x10_0000 + i * 192;
            // Groups of 45 keys (a node at 70% density), then a second node.
            let mut keys = places(3, 4000, 45);
            keys.extend(places(0, 500, 40));
            let model = learned(&keys, address);
            for (i, place) in keys.iter().enumerate() {
                assert_eq!(model.predict(*place), Some(address(i)), "{place:?}");
            }
            // Places of no group, or of a group nothing was learned for, have no prediction.
            let elsewhere = Place {
                node: 1,
                group: 0,
                rank: 0,
            };
            assert_eq!(model.predict(elsewhere), None);
            let beyond = Place {
                node: 3,
                group: 10_000,
                rank: 2,
            };
            assert_eq!(model.predict(beyond), None);
        }

        #[test]
        fn a_group_follows_a_run_that_breaks_inside_it() {
            // Two runs of allocations far apart, the second starting inside group 4 (keys
            // 256..320): the group's keys before the break follow the first run, the rest
            // the second.
            let keys = places(0, 640, 64);
            let address = |i: usize| {
                if i < 300 {
                    0x100_0000 + i * 144
                } else {
                    0x900_0000 + i * 208
                }
            };
            let model = learned(&keys, address);
            for (i, place) in keys.iter().enumerate() {
                assert_eq!(model.predict(*place), Some(address(i)), "key {i}");
            }
        }

        #[test]
        fn rows_admitted_out_of_order_teach_nothing() {
            let keys = places(0, 10, 64);
            let order = [7, 3, 9, 1, 8, 2];
            let mut model = PlaceGroups::default();
            for i in order {
                model.learn(keys[i], 0x1000 + i * 64);
            }
            for i in order {
                assert_eq!(model.predict(keys[i]), None);
            }
            // Consecutive keys whose rows are far apart or in reverse order: no stride either.
            let model = learned(&keys[..3], |i| 0x10_0000 - i * 64);
            assert_eq!(model.predict(keys[1]), None);
            let model = learned(&keys[..2], |i| i * 1_000_000);
            assert_eq!(model.predict(keys[1]), None);
            // A group's first key after a break in the run starts nothing on its own (it may not
            // follow the last admission), but with the key after it does.
            let mut model = PlaceGroups::default();
            let node = places(0, 128, 64);
            model.learn(node[10], 0x5000);
            model.learn(node[64], 0x9000);
            assert_eq!(model.predict(node[64]), None);
            model.learn(node[65], 0x9000 + 96);
            assert_eq!(model.predict(node[70]), Some(0x9000 + 6 * 96));
        }

        #[test]
        fn a_model_too_large_to_stay_cached_gives_up() {
            let groups = MAX_ANCHOR_BYTES / size_of::<Anchor>();
            let keys = places(0, (groups as u32 + 1) * 8, 8);
            let mut model = learned(&keys[..groups * 8], |i| 0x100_0000 + i * 64);
            assert_eq!(model.predict(keys[100]), Some(0x100_0000 + 100 * 64));
            // One group more: the model empties, and learns nothing more.
            admit(&mut model, &keys, groups * 8..keys.len(), |i| {
                0x100_0000 + i * 64
            });
            assert!(model.nodes.is_empty());
            assert_eq!(model.predict(keys[100]), None);
            admit(&mut model, &keys, 0..16, |i| 0x900_0000 + i * 64);
            assert_eq!(model.predict(keys[10]), None);
        }

        /// Admits the keys at `places[range]` in order, the `i`-th one's row at `address(i)`.
        fn admit(
            model: &mut PlaceGroups,
            places: &[Place],
            range: std::ops::Range<usize>,
            address: impl Fn(usize) -> usize,
        ) {
            for i in range {
                model.learn(places[i], address(i));
            }
        }

        #[test]
        fn later_runs_take_over_and_evicted_groups_learn_again() {
            let keys = places(0, 256, 64);
            let old = |i: usize| 0x100_0000 + i * 128;
            let mut model = learned(&keys, old);
            assert_eq!(model.predict(keys[100]), Some(old(100)));
            // Rows cached again from key 70 on: group 1 (keys 64..128) follows them from
            // there; its keys before 70, and the other groups, keep what they had.
            let new = |i: usize| 0x800_0000 + i * 160;
            admit(&mut model, &keys, 70..80, new);
            assert_eq!(model.predict(keys[75]), Some(new(75)));
            assert_eq!(model.predict(keys[66]), Some(old(66)));
            assert_eq!(model.predict(keys[10]), Some(old(10)));
            assert_eq!(model.predict(keys[130]), Some(old(130)));
            // A run from the group's first key replaces both segments as far as it goes.
            admit(&mut model, &keys, 60..72, new);
            assert_eq!(model.predict(keys[66]), Some(new(66)));
            // The group's rows leave the cache: it knows nothing until it learns again.
            model.forget(keys[65]);
            assert_eq!(model.predict(keys[100]), None);
            assert_eq!(model.predict(keys[10]), Some(old(10)));
            admit(&mut model, &keys, 64..80, new);
            assert_eq!(model.predict(keys[100]), Some(new(100)));
            // Forgetting a place of no group is nothing.
            model.forget(Place {
                node: 99,
                group: 0,
                rank: 0,
            });
        }
    }
}
