//! The row cache: decoded rows of the newest committed versions, so that a hot point read costs
//! an index lookup and a hash probe instead of a storage read and a decode.
//!
//! # Design
//! An LRU (`lru` crate) bounded in bytes, split into shards by key hash so that concurrent
//! readers rarely meet on one mutex. Each entry carries the commit timestamp of the version it
//! holds; a lookup names the timestamp the primary index says is current, so an entry left from
//! an older version is a miss, never a wrong answer. Commits replace or drop the entries of the
//! keys they write while holding the table's write latch, and readers fill misses while holding
//! its read latch, so a fill can never overwrite a newer version with an older one.
//!
//! Object ids are never reused, so entries of a dropped table simply age out.
//!
//! Sizes are estimates (the decoded row's heap bytes plus a fixed per-entry overhead).

use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::Mutex;

use foldhash::fast::RandomState;
use lru::LruCache;

use crate::catalog::ObjectId;
use crate::sync::lock;
use crate::table::RowKey;
use crate::types::{Row, row_memory_size};

const SHARDS: usize = 16;
/// LRU node, hash slot and key bookkeeping per entry, beyond the row itself.
const ENTRY_OVERHEAD: usize = 96;

type CacheKey = (ObjectId, RowKey);

#[derive(Debug)]
pub(crate) struct RowCache {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    shard_capacity: usize,
}

#[derive(Debug)]
struct Shard {
    lru: LruCache<CacheKey, Cached>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

#[derive(Debug)]
struct Cached {
    ts: u64,
    row: Arc<Row>,
    size: usize,
}

/// The cache's counters, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub entries: usize,
    pub bytes: usize,
    pub capacity_bytes: usize,
}

impl RowCache {
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        lru: LruCache::unbounded(),
                        bytes: 0,
                        hits: 0,
                        misses: 0,
                    })
                })
                .collect(),
            hasher: RandomState::default(),
            shard_capacity: capacity_bytes / SHARDS,
        }
    }

    fn shard(&self, key: &CacheKey) -> &Mutex<Shard> {
        let hash = self.hasher.hash_one(key) as usize;
        &self.shards[hash % SHARDS]
    }

    /// The cached row of `key` if it is the version committed at `ts`.
    pub fn get(&self, table: ObjectId, key: &RowKey, ts: u64) -> Option<Arc<Row>> {
        let cache_key = (table, key.clone());
        let mut shard = lock(self.shard(&cache_key));
        let found = shard
            .lru
            .get(&cache_key)
            .filter(|c| c.ts == ts)
            .map(|c| c.row.clone());
        // Counted under the shard's lock: no shared counter for every reader to contend on.
        if found.is_some() {
            shard.hits += 1;
        } else {
            shard.misses += 1;
        }
        found
    }

    /// Caches `row` as the version of `key` committed at `ts`.
    pub fn put(&self, table: ObjectId, key: RowKey, ts: u64, row: Arc<Row>) {
        let size = ENTRY_OVERHEAD + key.memory_size() + row_memory_size(&row);
        if size > self.shard_capacity {
            return;
        }
        let cache_key = (table, key);
        let mut shard = lock(self.shard(&cache_key));
        if let Some(old) = shard.lru.put(cache_key, Cached { ts, row, size }) {
            shard.bytes -= old.size;
        }
        shard.bytes += size;
        while shard.bytes > self.shard_capacity {
            match shard.lru.pop_lru() {
                Some((_, evicted)) => shard.bytes -= evicted.size,
                None => break,
            }
        }
    }

    /// Forgets `key` (its newest version is a deletion).
    pub fn remove(&self, table: ObjectId, key: &RowKey) {
        let cache_key = (table, key.clone());
        let mut shard = lock(self.shard(&cache_key));
        if let Some(old) = shard.lru.pop(&cache_key) {
            shard.bytes -= old.size;
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (mut entries, mut bytes, mut hits, mut misses) = (0, 0, 0, 0);
        for shard in &self.shards {
            let shard = lock(shard);
            entries += shard.lru.len();
            bytes += shard.bytes;
            hits += shard.hits;
            misses += shard.misses;
        }
        CacheStats {
            hits,
            misses,
            entries,
            bytes,
            capacity_bytes: self.shard_capacity * SHARDS,
        }
    }
}
