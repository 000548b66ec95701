//! Where a table's cached rows are, learned from where they were put: a second model beside
//! the learned index, so that a point lookup can ask for its row's memory at the same time as
//! for its index slot.
//!
//! A cache hit waits for two memory loads one after the other: the index slot (which holds the
//! row's pointer), then the row. Rows cached together — a scan, which admits its rows in key
//! order, or a sequential load — are allocated one after another, so within a run of keys a
//! row's address is the previous key's plus a constant stride. This model keeps, for every
//! block of [`BLOCK`] consecutive integer keys, the address the block's first key's row would
//! have and the stride, learned from the admissions of consecutive keys. A lookup predicts its
//! row's address from the key alone and prefetches it together with the slot: where the
//! prediction is right the two loads overlap; where it is wrong (rows cached in no order,
//! rows replaced since) the cost is one wasted prefetch. Predictions are only hints — nothing
//! is ever read from a predicted address.
//!
//! Only tables with integer keys are modelled, and only while their keys are dense enough
//! for the blocks to stay small (see [`RowAddresses::fit`]).

/// Keys per block (a power of two).
const BLOCK_BITS: u32 = 8;
const BLOCK: i64 = 1 << BLOCK_BITS;
/// The largest distance between consecutive keys' rows taken as a stride: further apart,
/// rows were not allocated together.
const MAX_STRIDE: usize = 4096;
/// The most blocks a table gets: one per `SPARSEST` rows (so at least one key in 16 of the
/// range is present), or `MIN_BLOCKS` for small tables.
const SPARSEST: usize = 16;
const MIN_BLOCKS: usize = 1024;

/// Predicted row addresses of a table's integer keys (see the module's documentation).
#[derive(Debug, Default)]
pub(crate) struct RowAddresses {
    /// The first key of block 0.
    base: i64,
    /// Per block: where its first key's row would be and the stride (0: not known).
    blocks: Vec<Anchor>,
    /// The last admission (key and row address), and the run of admissions of consecutive
    /// keys at one stride it ended: its stride and how many rows it has.
    last: Option<(i64, usize)>,
    run: (usize, u32),
}

/// A block's model: where its first key's row would be, the stride, and the length of the
/// run of rows it was learned from — the longest run seen in the block wins, since rows
/// in a fragmented heap come in short runs of reused memory between long fresh ones.
#[derive(Debug, Default, Clone, Copy)]
struct Anchor {
    address: usize,
    stride: u32,
    run: u32,
}

impl RowAddresses {
    /// Makes room for keys `first..=last` of a table of `len` rows: blocks are added at the
    /// end (keeping what was learned) and start over only if keys appear below them; no
    /// blocks at all for keys too sparse for them.
    pub fn fit(&mut self, first: i64, last: i64, len: usize) {
        let limit = (len / SPARSEST).max(MIN_BLOCKS) as i128;
        let blocks_to = |base: i64| ((i128::from(last) - i128::from(base)) >> BLOCK_BITS) + 1;
        if self.blocks.is_empty() || first < self.base {
            let base = first & !(BLOCK - 1);
            let needed = blocks_to(base);
            self.blocks = Vec::new();
            if needed <= limit {
                self.base = base;
                self.blocks.resize(needed as usize, Anchor::default());
            }
            return;
        }
        let needed = blocks_to(self.base);
        if needed > self.blocks.len() as i128 {
            if needed <= limit {
                self.blocks.resize(needed as usize, Anchor::default());
            } else {
                self.blocks = Vec::new();
            }
        }
    }

    /// Learns from a row admitted to the cache: `key`'s row, at `address`. Rows admitted
    /// one after another for consecutive keys, at a constant distance, form a run.
    pub fn learn(&mut self, key: i64, address: usize) {
        let previous = self.last.replace((key, address));
        let Some((before, before_address)) = previous else {
            return;
        };
        let stride = address.wrapping_sub(before_address);
        if before.checked_add(1) != Some(key) || stride == 0 || stride > MAX_STRIDE {
            self.run = (0, 0);
            return;
        }
        self.run = match self.run {
            (run_stride, rows) if run_stride == stride => (stride, rows.saturating_add(1)),
            _ => (stride, 2),
        };
        let Some((block, position)) = self.locate(key) else {
            return;
        };
        let anchor = &mut self.blocks[block];
        if self.run.1 >= anchor.run {
            *anchor = Anchor {
                address: address.wrapping_sub(position.wrapping_mul(stride)),
                stride: stride as u32,
                run: self.run.1,
            };
        }
    }

    /// Forgets what was learned about `key`'s block: its row left the cache, and so,
    /// probably, did the rest of the run it was cached with (the cache evicts in admission
    /// order). The block learns again from the next run admitted into it.
    pub fn forget(&mut self, key: i64) {
        if let Some((block, _)) = self.locate(key) {
            self.blocks[block] = Anchor::default();
        }
    }

    /// Where `key`'s row probably is, if anything was learned about its block.
    #[inline]
    pub fn predict(&self, key: i64) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Admits `keys` in order, their rows at `address(key)`.
    fn learned(
        keys: impl IntoIterator<Item = i64>,
        address: impl Fn(i64) -> usize,
    ) -> RowAddresses {
        let keys: Vec<i64> = keys.into_iter().collect();
        let mut model = RowAddresses::default();
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
        let mut model = RowAddresses::default();
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

    /// End to end: a scan admits the rows it reads in key order, and the table's model then
    /// predicts where many of them are (how many depends on the allocator, which hands a
    /// scan's rows out one after another except where it reuses freed memory).
    #[test]
    fn a_scan_teaches_the_table_where_its_rows_are() {
        let db = crate::Database::open(crate::DatabaseConfig::memory()).unwrap();
        let mut session = db.session();
        session
            .execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT)")
            .unwrap();
        let values: Vec<String> = (1..=5000).map(|i| format!("({i}, 'row {i}')")).collect();
        session
            .execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
            .unwrap();
        let unread = session.shared.table("t").unwrap();
        assert_eq!(
            crate::sync::read(&unread.state).row_addresses.predict(100),
            None
        );
        let rows = session.execute("SELECT id, v FROM t").unwrap();
        assert_eq!(rows[0].rows.len(), 5000);
        let table = session.shared.table("t").unwrap();
        let state = crate::sync::read(&table.state);
        let crate::table::Primary::Int(map) = &state.primary else {
            panic!("an integer key");
        };
        let right = (1..=5000)
            .filter(|key| {
                let cached = map.get(key).and_then(|entry| entry.cached.as_ref());
                let actual = cached.map(|row| row.as_ptr() as usize);
                actual.is_some() && state.row_addresses.predict(*key) == actual
            })
            .count();
        // Here (rows reusing the memory the INSERT's statement freed) about half; the bound
        // only says the model learns from the cache's admissions at all.
        assert!(right >= 500, "{right} of 5000 rows where predicted");
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
