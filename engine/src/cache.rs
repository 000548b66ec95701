//! The row cache: decoded rows of the newest committed versions, kept in the primary index's
//! own entries, so that a hot point read costs one learned-index lookup and a reference-count
//! increment — no storage read, no decode, no second hash lookup.
//!
//! # Design
//! ```text
//!   primary index (ALEX)                       RowCache
//!   key ─► RowEntry { ts, cached: Some(row) ◄──── lru: (table, key) → bytes   (lru crate)
//!                    referenced: bool }          bytes ≤ capacity
//! ```
//! - **Where rows live.** `RowEntry::cached` holds the row of the entry's newest committed
//!   version. Only a holder of the table's *write* latch changes it, so readers (under the read
//!   latch) can use it without further locking.
//! - **Order and bound.** The `lru` crate keeps the cached keys in admission order with their
//!   sizes; the total is kept under the configured capacity in bytes. A hit does not touch the
//!   LRU (that would cost a hash lookup and a list splice on every read); it sets the entry's
//!   `referenced` bit, and eviction gives a referenced key a second chance — moved to the fresh
//!   end, bit cleared — before evicting it (LRU with second chance, a CLOCK approximation).
//! - **Misses.** A reader that misses reads storage under its read latch, returns the row, and
//!   queues it for admission on the table (`PendingCache`). Admissions are applied by whoever
//!   next holds the table's write latch: the reader itself right after its read (with a
//!   non-blocking `try_write`, so it never waits), or the next commit on the table. An admission
//!   whose entry changed meanwhile is dropped.
//! - **Commits** replace the cached row of every key they update and drop it for deletions,
//!   under the write latch; new keys are cached when first read. The entry's timestamp is part
//!   of the admission, so a stale row is never installed. Neither touches the LRU's order: an
//!   update sets the referenced bit (and corrects the recorded size if the row's changed); a
//!   deletion frees the row but leaves its LRU record, *dead*, for eviction to reach (an
//!   unlink is a hash lookup and a list splice: several cache misses per deleted row). A dead
//!   record keeps its bytes in the account until it goes, so the bound holds; the table
//!   counts its dead records (`DeadRecords`) so that the statistics report live rows only.
//! - **Evicting another table's row** needs that table's write latch, which the evicting thread
//!   does not hold: the key is queued on that table and cleared as soon as its latch is free
//!   (immediately, in the common case). Its bytes leave the account at once.
//!
//! Sizes are estimates: the decoded row's heap bytes plus a fixed per-entry overhead.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use lru::LruCache;

use crate::catalog::ObjectId;
use crate::database::Shared;
use crate::mvcc::RowEntry;
use crate::sync::lock;
use crate::table::{Primary, RowKey, Table, TableState};
use crate::types::{SharedRow, Value, row_memory_size};

/// LRU node, hash slot and key bookkeeping per cached row, beyond the row itself.
const ENTRY_OVERHEAD: usize = 96;
/// Second chances granted per eviction pass, so a cache of only referenced rows still evicts.
const SECOND_CHANCES: usize = 64;
/// Admissions a table queues at most while its write latch is busy; later misses are not cached.
/// Room for several scan batches (2,048 rows each): parallel scans of one table (the
/// analytics engine's partitions, which also apply the queue after each batch of theirs) keep
/// each other from the latch between batches.
const MAX_PENDING: usize = 1 << 15;

#[derive(Debug)]
pub(crate) struct RowCache {
    capacity: usize,
    state: Mutex<CacheState>,
    hits: Counter,
    misses: Counter,
}

#[derive(Debug)]
struct CacheState {
    lru: LruCache<(ObjectId, RowKey), Record>,
    bytes: usize,
    /// The number the next admission's record gets (0 is "none").
    next_record: u32,
}

/// An LRU record: the cached row's size in the account, and its number (kept in the
/// entry as `RowEntry::cache_record`).
#[derive(Debug, Clone, Copy)]
struct Record {
    size: usize,
    number: u32,
}

/// Cache work for one table that waits for its write latch.
#[derive(Debug, Default)]
pub(crate) struct PendingCache {
    admissions: Vec<Admission>,
    /// Keys whose LRU records another table's eviction removed.
    evictions: Vec<(RowKey, Record)>,
}

/// A table's LRU records whose rows are gone (deleted, or dropped on their way out), and
/// their recorded bytes: kept in the table's state, changed under its write latch.
///
/// Every record is either live — its entry caches the row, and the record holds the row's
/// size — or dead, counted here with the size it was recorded with, until it is removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadRecords {
    pub records: usize,
    pub bytes: usize,
}

impl DeadRecords {
    fn add(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes;
    }

    fn remove(&mut self, bytes: usize) {
        self.records -= 1;
        self.bytes -= bytes;
    }
}

#[derive(Debug)]
struct Admission {
    key: RowKey,
    ts: u64,
    row: SharedRow,
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

fn entry_size(key: &RowKey, row: &[Value]) -> usize {
    ENTRY_OVERHEAD + key.memory_size() + row_memory_size(row)
}

impl RowCache {
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            capacity: capacity_bytes,
            state: Mutex::new(CacheState {
                lru: LruCache::unbounded(),
                bytes: 0,
                next_record: 1,
            }),
            hits: Counter::default(),
            misses: Counter::default(),
        }
    }

    /// The cached row of `entry`, if any (marking it recently used).
    pub fn get<'e>(&self, entry: &'e RowEntry) -> Option<&'e SharedRow> {
        let row = entry.cached.as_ref();
        match row {
            Some(_) => {
                entry.mark_referenced();
                self.hits.add();
            }
            None => self.misses.add(),
        }
        row
    }

    /// Queues `row`, just read from storage as the version of `key` committed at `ts`, for
    /// admission once the table's write latch is free.
    /// Whether the cache holds less than its capacity: rows a scan reads are admitted while
    /// there is room (a scan never evicts to make room, so it cannot flush the hot rows).
    pub fn has_room(&self) -> bool {
        lock(&self.state).bytes < self.capacity
    }

    /// Queues several rows a scan read, as [`RowCache::queue`] does one.
    pub fn queue_all(&self, table: &Table, rows: Vec<(RowKey, u64, SharedRow)>) {
        if rows.is_empty() {
            return;
        }
        let mut pending = lock(&table.cache_pending);
        let room = MAX_PENDING.saturating_sub(pending.admissions.len());
        pending.admissions.extend(
            rows.into_iter()
                .take(room)
                .filter(|(key, _, row)| entry_size(key, row) <= self.capacity)
                .map(|(key, ts, row)| Admission { key, ts, row }),
        );
        table.cache_has_pending.store(true, Ordering::Release);
    }

    pub fn queue(&self, table: &Table, key: RowKey, ts: u64, row: SharedRow) {
        if entry_size(&key, &row) > self.capacity {
            return;
        }
        let mut pending = lock(&table.cache_pending);
        if pending.admissions.len() < MAX_PENDING {
            pending.admissions.push(Admission { key, ts, row });
            table.cache_has_pending.store(true, Ordering::Release);
        }
    }

    /// A commit replaced the newest version of `key` in `entry` with `row` (`None`: deleted):
    /// keeps a cached row current. The caller holds the table's write latch; `dead` is its
    /// table's count of dead records.
    pub fn replace(
        &self,
        table: ObjectId,
        key: &RowKey,
        entry: &mut RowEntry,
        row: Option<SharedRow>,
        dead: &mut DeadRecords,
    ) {
        let Some(old) = entry.cached.take() else {
            return;
        };
        let recorded = entry_size(key, &old);
        let Some(row) = row else {
            // Deleted: the record stays, dead, until eviction or a new admission of the key
            // reaches it.
            dead.add(recorded);
            return;
        };
        // An update is a use: like a hit, it earns the row a second chance instead of a move
        // in the LRU order. The account changes only with the row's size.
        let size = entry_size(key, &row);
        entry.mark_referenced();
        if size == recorded {
            entry.cached = Some(row);
            return;
        }
        let mut state = lock(&self.state);
        match state.lru.peek_mut(&(table, key.clone())) {
            Some(record) => {
                record.size = size;
                state.bytes = state.bytes - recorded + size;
                entry.cached = Some(row);
            }
            // Another table's eviction took the record: the row goes too, and the eviction
            // queued for this table will find its record dead.
            None => dead.add(recorded),
        }
    }

    /// Applies the table's queued admissions and evictions and evicts down to the capacity.
    /// The caller holds the table's write latch (as `state`).
    pub fn apply(&self, db: &Shared, table: &Table, state: &mut TableState) {
        let pending = {
            let mut pending = lock(&table.cache_pending);
            table.cache_has_pending.store(false, Ordering::Release);
            std::mem::take(&mut *pending)
        };
        evict_queued(state, pending.evictions);
        let mut elsewhere = Vec::new();
        if let (Primary::Int(map), false) = (&state.primary, pending.admissions.is_empty()) {
            if let (Some((first, _)), Some((last, _))) = (map.first(), map.last()) {
                state.row_addresses.fit(*first, *last, map.len());
            }
        }
        {
            let mut cache = lock(&self.state);
            for Admission { key, ts, row } in pending.admissions {
                let Some((place, entry)) = state.primary.get_mut_placed(&key) else {
                    continue;
                };
                if entry.ts != ts || entry.deleted || entry.cached.is_some() {
                    continue;
                }
                // Rows read in key order (a scan) were allocated one after another: the
                // row-address model learns where they are.
                state
                    .row_addresses
                    .learn(&key, place, row.as_ptr() as usize);
                let size = entry_size(&key, &row);
                let number = cache.next_record;
                cache.next_record = cache.next_record.checked_add(1).unwrap_or(1);
                entry.cached = Some(row);
                entry.cache_record = number;
                // A record of a key without a cached row is dead.
                if let Some(old) = cache.lru.put((table.id, key), Record { size, number }) {
                    cache.bytes -= old.size;
                    state.dead_records.remove(old.size);
                }
                cache.bytes += size;
            }
            let mut chances = 0;
            while cache.bytes > self.capacity {
                let Some(((owner, key), record)) = cache.lru.pop_lru() else {
                    break;
                };
                if owner == table.id {
                    match state.primary.get_mut_placed(&key) {
                        Some((place, entry)) if entry.cached.is_some() => {
                            if entry.take_referenced() && chances < SECOND_CHANCES {
                                chances += 1;
                                cache.lru.put((owner, key), record);
                                continue;
                            }
                            entry.cached = None;
                            state.row_addresses.forget(&key, place);
                        }
                        _ => state.dead_records.remove(record.size),
                    }
                } else {
                    elsewhere.push((owner, key, record));
                }
                cache.bytes -= record.size;
            }
        }
        // Other tables' rows: queue the eviction, and apply it now if their latch is free.
        for (owner, key, record) in elsewhere {
            if let Some(other) = db.table_by_id(owner) {
                lock(&other.cache_pending).evictions.push((key, record));
                other.cache_has_pending.store(true, Ordering::Release);
                if let Ok(mut other_state) = other.state.try_write() {
                    let evictions = std::mem::take(&mut lock(&other.cache_pending).evictions);
                    evict_queued(&mut other_state, evictions);
                }
            }
        }
    }

    /// Whether the table may have admissions or evictions waiting.
    pub fn has_pending(&self, table: &Table) -> bool {
        table.cache_has_pending.load(Ordering::Acquire)
    }

    /// Forgets every row of a dropped table.
    pub fn forget_table(&self, table: ObjectId) {
        let mut state = lock(&self.state);
        let keys: Vec<(ObjectId, RowKey)> = state
            .lru
            .iter()
            .filter(|((owner, _), _)| *owner == table)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(record) = state.lru.pop(&key) {
                state.bytes -= record.size;
            }
        }
    }

    /// The counters, of live rows only: `dead` is every table's dead records.
    pub fn stats(&self, dead: DeadRecords) -> CacheStats {
        let state = lock(&self.state);
        CacheStats {
            hits: self.hits.sum(),
            misses: self.misses.sum(),
            entries: state.lru.len() - dead.records,
            bytes: state.bytes - dead.bytes,
            capacity_bytes: self.capacity,
        }
    }
}

/// Applies evictions of a table's rows that another table's eviction queued: their records
/// are gone (and their bytes left the account). The row cached under the removed record is
/// dropped; a record that no longer matches its entry's (its row deleted or dropped since,
/// perhaps re-admitted under a new record) was dead, and leaves the table's count.
fn evict_queued(state: &mut TableState, evictions: Vec<(RowKey, Record)>) {
    for (key, record) in evictions {
        match state.primary.get_mut_placed(&key) {
            Some((place, entry))
                if entry.cached.is_some() && entry.cache_record == record.number =>
            {
                entry.cached = None;
                state.row_addresses.forget(&key, place);
            }
            _ => state.dead_records.remove(record.size),
        }
    }
}

/// A counter split into cache-line-sized slots by thread, so that readers on different cores
/// do not contend on one line.
#[derive(Debug, Default)]
struct Counter {
    slots: [Slot; 8],
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot(AtomicU64);

impl Counter {
    fn add(&self) {
        self.slots[thread_slot()].0.fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: Cell<usize> = Cell::new(NEXT.fetch_add(1, Ordering::Relaxed) % 8);
    }
    SLOT.with(Cell::get)
}
