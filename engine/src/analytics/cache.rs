//! The columnar cache: a table's columns as Arrow arrays, kept after an analytical query
//! converted them from rows, and reused by later queries whose snapshot sees the same version
//! of the table — so a repeated query skips the row → Arrow conversion that dominates a scan.
//!
//! A version is the table's newest commit ([`SharedVersion`]): every snapshot at or after it,
//! in a transaction that has not written to the table, sees exactly the same rows. A commit to
//! the table drops what is held for it at once ([`ColumnarCache::forget`]); a query whose
//! snapshot predates the newest commit, or that wrote to the table itself, converts rows as
//! before. Columns are kept one by one as queries read them, all in the same key ranges and
//! batches, within a byte budget; the least recently used tables go first.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::ArrayRef;

use crate::catalog::ObjectId;
use crate::mvcc::SharedVersion;
use crate::sync::lock;
use crate::table::RowKey;

/// A primary-key range: one partition of a scan.
pub type KeyRange = (Bound<RowKey>, Bound<RowKey>);

/// Arrays of one column: per key range, per batch.
pub type ColumnArrays = Arc<[Vec<ArrayRef>]>;

/// Converted columns of one version of one table.
#[derive(Debug)]
pub struct TableColumns {
    pub version: SharedVersion,
    /// The key ranges the rows were read in, each a partition of later scans.
    pub ranges: Arc<[KeyRange]>,
    /// Rows in each batch of each range.
    pub batch_rows: Arc<[Vec<usize>]>,
    /// Column (its position in the table's Arrow schema) → its arrays.
    pub columns: HashMap<usize, ColumnArrays>,
    pub bytes: usize,
}

impl TableColumns {
    pub fn new(
        version: SharedVersion,
        ranges: Arc<[KeyRange]>,
        batch_rows: Arc<[Vec<usize>]>,
        columns: HashMap<usize, ColumnArrays>,
    ) -> Self {
        let bytes = columns
            .values()
            .flat_map(|ranges| ranges.iter().flatten())
            .map(|array| array.get_array_memory_size())
            .sum();
        TableColumns {
            version,
            ranges,
            batch_rows,
            columns,
            bytes,
        }
    }

    /// Whether every one of `columns` is held.
    pub fn has_all(&self, columns: &[usize]) -> bool {
        columns.iter().all(|c| self.columns.contains_key(c))
    }
}

/// The cache of a database: converted columns per table, within a byte budget.
#[derive(Debug)]
pub struct ColumnarCache {
    budget: usize,
    /// Tables held, read without the lock so that commits skip it while nothing is cached.
    held: AtomicUsize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Table → its columns and when they were last used.
    tables: HashMap<ObjectId, (Arc<TableColumns>, u64)>,
    bytes: usize,
    tick: u64,
}

impl Inner {
    fn remove(&mut self, table: ObjectId) {
        if let Some((old, _)) = self.tables.remove(&table) {
            self.bytes -= old.bytes;
        }
    }
}

impl ColumnarCache {
    pub fn new(budget: usize) -> Self {
        ColumnarCache {
            budget,
            held: AtomicUsize::new(0),
            inner: Mutex::default(),
        }
    }

    /// Whether the cache may hold anything (a budget of 0 turns it off).
    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// What is held for the table's `version`, if anything.
    pub fn get(&self, version: &SharedVersion) -> Option<Arc<TableColumns>> {
        if self.held.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut inner = lock(&self.inner);
        inner.tick += 1;
        let tick = inner.tick;
        let (columns, used) = inner.tables.get_mut(&version.table)?;
        if !columns.version.same(version) {
            return None;
        }
        *used = tick;
        Some(columns.clone())
    }

    /// Keeps `columns` in place of what is held for their table (unless that is of a newer
    /// version), making room by dropping the least recently used tables. Columns larger than
    /// the whole budget are not kept.
    pub fn put(&self, columns: TableColumns) {
        if columns.bytes > self.budget {
            return;
        }
        let table = columns.version.table;
        let mut inner = lock(&self.inner);
        if let Some((held, _)) = inner.tables.get(&table) {
            if held.version.commit > columns.version.commit {
                return;
            }
        }
        inner.remove(table);
        while inner.bytes + columns.bytes > self.budget {
            let oldest = inner
                .tables
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => inner.remove(id),
                None => break,
            }
        }
        inner.tick += 1;
        let tick = inner.tick;
        inner.bytes += columns.bytes;
        inner.tables.insert(table, (Arc::new(columns), tick));
        self.held.store(inner.tables.len(), Ordering::Release);
    }

    /// Drops what is held for `table`: a commit changed its rows.
    pub fn forget(&self, table: ObjectId) {
        if self.held.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut inner = lock(&self.inner);
        inner.remove(table);
        self.held.store(inner.tables.len(), Ordering::Release);
    }

    /// Bytes of arrays held.
    pub fn bytes(&self) -> usize {
        lock(&self.inner).bytes
    }
}
