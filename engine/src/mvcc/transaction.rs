//! Transactions: snapshot reads merged with the transaction's own writes, and the commit.

use std::cell::{Ref, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::clock::Clock;
use super::index_scan::{IndexScan, IndexScanStart};
use super::scan::{Direction, RowScan};
use super::version::{RowEntry, Visibility};
use super::write_set::{WriteMap, is_empty};
use crate::catalog::{ObjectId, TableSchema};
use crate::database::{GcItem, GcTarget, Shared, unique_violation};
use crate::encoding::{encode_row_into, encode_values, prefix_end};
use crate::storage::{Storage, WriteBatch};
use crate::sync::{lock, read, write};
use crate::table::{
    IndexKey, IndexMark, Primary, RowKey, SecondaryIndex, Table, TableState, complete_row,
};
use crate::types::{Row, SharedRow, Value};
use crate::{Error, Result};

/// A transaction under snapshot isolation. It reads the database as of its snapshot plus its own
/// writes, which nobody else sees until [`Transaction::commit`]. Dropping it rolls it back.
#[derive(Debug)]
pub struct Transaction {
    db: Arc<Shared>,
    snapshot: u64,
    read_only: bool,
    synchronous_commit: bool,
    writes: BTreeMap<ObjectId, TableWrites>,
    tables: RefCell<TableHandles>,
    finished: bool,
    /// This transaction's identity for row locks, and the locks it holds.
    owner: super::locks::Owner,
    locked: Vec<(ObjectId, RowKey)>,
    /// READ COMMITTED: a row a concurrent transaction changed is re-read rather than a
    /// conflict ([`Transaction::lock_row`]).
    read_committed: bool,
    /// Rows re-read that way: the commit timestamp of the version read, which later writes
    /// of the row build on instead of the snapshot.
    rebased: HashMap<(ObjectId, RowKey), u64>,
    /// While a savepoint is open: how to undo each change to the write set since the oldest
    /// one, in order (`None` when no savepoint is open, so a plain transaction pays nothing).
    undo: Option<Vec<Undo>>,
    /// A row lock another transaction holds fails with [`Error::WouldWait`] instead of being
    /// waited for (see [`Transaction::start_attempt`]).
    no_wait: bool,
}

/// The state of one write-set slot of `table` before a change, to restore on ROLLBACK TO.
#[derive(Debug)]
struct Undo {
    table: ObjectId,
    slot: UndoSlot,
}

#[derive(Debug)]
enum UndoSlot {
    /// A row's write (`None`: the key had none).
    Row(RowKey, Option<Write>),
    /// A unique value's holder (`None`: it had none).
    Unique((ObjectId, Vec<u8>), Option<RowKey>),
}

/// Own writes of one table (`None`: deleted), in key order.
type OwnRows = Arc<Vec<(RowKey, Option<SharedRow>)>>;

/// A transaction's snapshot of some tables, readable from any thread (see
/// [`Transaction::snapshot_reader`]).
#[derive(Debug, Clone)]
pub struct SnapshotReader {
    db: Arc<Shared>,
    snapshot: u64,
    tables: Arc<[(String, Arc<Table>, OwnRows)]>,
}

/// The version of a table's rows that every snapshot at or after `commit` (without writes of
/// its own to the table) sees; see [`SnapshotReader::shared_version`].
#[derive(Debug, Clone)]
pub struct SharedVersion {
    pub table: ObjectId,
    pub schema: Arc<TableSchema>,
    pub commit: u64,
}

impl SharedVersion {
    /// Whether `other` names the same rows.
    pub fn same(&self, other: &SharedVersion) -> bool {
        self.table == other.table
            && self.commit == other.commit
            && Arc::ptr_eq(&self.schema, &other.schema)
    }
}

impl SnapshotReader {
    /// Rows of `table` with keys in `range`, in key order, as the snapshot sees them.
    pub fn scan(&self, table: &str, range: (Bound<RowKey>, Bound<RowKey>)) -> Result<RowScan> {
        let (_, handle, own) = self
            .tables
            .iter()
            .find(|(name, _, _)| name == table)
            .ok_or_else(|| Error::UndefinedTable(table.to_string()))?;
        let inside = |key: &RowKey| range.contains(key);
        let own = own.iter().filter(|(key, _)| inside(key)).cloned().collect();
        Ok(RowScan::new(
            self.db.clone(),
            handle.clone(),
            self.snapshot,
            range,
            Direction::Forward,
            own,
        ))
    }

    /// Applies the cache admissions `table`'s scans queued, waiting for the table's write
    /// latch if need be: what a scan that runs beside others of the same table (whose read
    /// latches keep its non-blocking attempts from succeeding) does after each batch, so
    /// that one analytical scan warms the cache as a native one does. Queues fill only while
    /// the cache has room, so a warm cache costs no wait.
    pub fn admit_scanned(&self, table: &str) {
        if let Some((_, handle, _)) = self.tables.iter().find(|(name, _, _)| name == table) {
            if !self.db.cache.has_pending(handle) {
                return;
            }
            let mut state = write(&handle.state);
            self.db.cache.apply(&self.db, handle, &mut state);
        }
    }

    /// The database's columnar cache.
    #[cfg(feature = "analytics")]
    pub fn columnar(&self) -> &crate::analytics::ColumnarCache {
        &self.db.columnar
    }

    /// What identifies the rows of `table` this reader sees, when other readers can share
    /// them: the table, its schema and its newest commit, provided the snapshot sees that commit
    /// and the transaction has not written to the table itself. `None` otherwise.
    pub fn shared_version(&self, table: &str) -> Option<SharedVersion> {
        let (_, handle, own) = self.tables.iter().find(|(name, _, _)| name == table)?;
        if !own.is_empty() {
            return None;
        }
        let state = read(&handle.state);
        (state.last_commit <= self.snapshot).then(|| SharedVersion {
            table: handle.id,
            schema: state.schema.clone(),
            commit: state.last_commit,
        })
    }

    /// The smallest and largest leading integer of the primary keys `table` holds (committed
    /// or not, live or not; the key itself or a composite key's first column), and whether the
    /// key is composite: where the analytics engine splits a scan into partitions. `None` for
    /// tables whose key does not start with an integer, and for empty ones.
    pub fn integer_key_span(&self, table: &str) -> Option<(i64, i64, bool)> {
        let (_, handle, own) = self.tables.iter().find(|(name, _, _)| name == table)?;
        let state = read(&handle.state);
        let composite = matches!(state.primary, Primary::Bytes(_));
        let (mut low, mut high) = match state.primary.leading_integer_span() {
            Some(span) => span,
            None if state.primary.len() == 0 => (i64::MAX, i64::MIN),
            None => return None,
        };
        for (key, _) in own.iter() {
            let k = key.leading_integer()?;
            low = low.min(k);
            high = high.max(k);
        }
        (low <= high).then_some((low, high, composite))
    }
}

/// What [`Transaction::lock_row`] found once it held the lock.
#[derive(Debug)]
pub enum Locked {
    /// The row is as the transaction's snapshot saw it.
    Unchanged,
    /// READ COMMITTED only: a concurrent transaction committed a newer version (`None`: it
    /// deleted the row), which the caller should re-check and build on.
    Changed(Option<SharedRow>),
}

/// Tables a transaction looked up by name, valid while the catalog version is unchanged.
#[derive(Debug, Default)]
pub(crate) struct TableHandles {
    version: u64,
    by_name: Vec<(String, Arc<Table>)>,
}

impl TableHandles {
    /// The handle of table `name`, if held and the catalog is still at `version`.
    pub fn current(&self, name: &str, version: u64) -> Option<&Arc<Table>> {
        if self.version != version {
            return None;
        }
        self.by_name.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// A moment in a transaction to return to (SQL SAVEPOINT): a position in its undo log, so
/// taking one costs nothing however many rows the transaction has written.
#[derive(Debug, Clone, Copy)]
pub struct Savepoint {
    undo_len: usize,
}

/// A statement run without waiting for row locks (see [`Transaction::start_attempt`]).
#[derive(Debug)]
#[must_use = "an attempt ends with Transaction::end_attempt"]
pub struct Attempt {
    savepoint: Savepoint,
    /// Whether the undo log was kept before (for open savepoints).
    logging: bool,
}

/// A transaction's writes to one table by key, shared with the index scans that need to know
/// which keys it wrote (a write while such a scan is open copies it).
pub(crate) type WriteSet = Arc<WriteMap<Write>>;

/// The writes of one transaction to one table.
#[derive(Debug)]
struct TableWrites {
    table: Arc<Table>,
    rows: WriteSet,
    /// Unique-index values (index id, encoded values) this transaction's rows hold → their key.
    unique: BTreeMap<(ObjectId, Vec<u8>), RowKey>,
    /// Index entries of the transaction's live rows, for each secondary index it has
    /// scanned: built by the first scan, then kept up to date by every write, so that an index
    /// scan finds its own rows without visiting every row written.
    entries: RefCell<HashMap<ObjectId, OwnEntries>>,
}

/// A transaction's own entries for one secondary index.
#[derive(Debug, Default)]
struct OwnEntries {
    /// Row keys by the encoding of their indexed values: a look-up of equal values in every
    /// column of the index is one hash probe. (A `BTreeMap` of entry keys, searched by every
    /// such look-up and updated by every insert, was a quarter of the statements' time when
    /// each row inserted is looked up first.)
    by_values: HashMap<IndexKey, OwnKeys, foldhash::fast::RandomState>,
    /// The entry keys in order, for other scans: built by the first one.
    ordered: Option<BTreeMap<IndexKey, RowKey>>,
}

/// The transaction's rows holding one set of indexed values: nearly always one.
#[derive(Debug)]
enum OwnKeys {
    One(RowKey),
    Many(BTreeSet<RowKey>),
}

impl OwnEntries {
    /// The entries of the live rows in `rows`.
    fn new(index: &SecondaryIndex, rows: &WriteSet) -> Self {
        let mut own = Self::default();
        for (key, write) in rows.iter() {
            if let Some(row) = write.row.as_deref() {
                own.insert(index, row, key);
            }
        }
        own
    }

    /// The entries in entry-key order (built from `rows` on first use).
    fn ordered(&mut self, index: &SecondaryIndex, rows: &WriteSet) -> &BTreeMap<IndexKey, RowKey> {
        self.ordered.get_or_insert_with(|| {
            let live = rows.iter();
            live.filter_map(|(key, w)| Some((index.entry_key(w.row.as_deref()?, &key), key)))
                .collect()
        })
    }

    /// The keys of the rows whose indexed values encode to `values`, in key order.
    fn with_values(&self, values: &IndexKey) -> Vec<&RowKey> {
        match self.by_values.get(values) {
            None => Vec::new(),
            Some(OwnKeys::One(key)) => vec![key],
            Some(OwnKeys::Many(keys)) => keys.iter().collect(),
        }
    }

    fn insert(&mut self, index: &SecondaryIndex, row: &[Value], key: RowKey) {
        if let Some(ordered) = &mut self.ordered {
            ordered.insert(index.entry_key(row, &key), key.clone());
        }
        match self.by_values.entry(index.values_index_key(row)) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(OwnKeys::One(key));
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => match slot.get_mut() {
                OwnKeys::One(first) if *first == key => {}
                OwnKeys::One(first) => {
                    let first = first.clone();
                    slot.insert(OwnKeys::Many(BTreeSet::from([first, key])));
                }
                OwnKeys::Many(keys) => {
                    keys.insert(key);
                }
            },
        }
    }

    fn remove(&mut self, index: &SecondaryIndex, row: &[Value], key: &RowKey) {
        if let Some(ordered) = &mut self.ordered {
            ordered.remove(&index.entry_key(row, key));
        }
        let values = index.values_index_key(row);
        let emptied = match self.by_values.get_mut(&values) {
            Some(OwnKeys::One(only)) => only == key,
            Some(OwnKeys::Many(keys)) => {
                keys.remove(key);
                keys.is_empty()
            }
            None => false,
        };
        if emptied {
            self.by_values.remove(&values);
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Write {
    /// The new row; `None` deletes.
    row: Option<SharedRow>,
    /// An insert of a key with no committed live version: if one appears by commit time, the
    /// error is a unique violation rather than a serialization failure.
    fresh: bool,
    /// The snapshot the key was first written under: a version committed after it conflicts
    /// (under READ COMMITTED the transaction's snapshot moves on; this does not).
    base: u64,
}

/// One row write prepared under the commit lock, installed after storage accepted the batch.
struct Install {
    key: RowKey,
    row: Option<SharedRow>,
    previous: Option<SharedRow>,
    existed: bool,
    /// How many of the table's [`Installs::index_changes`] are this write's (the next ones
    /// after the previous writes').
    index_changes: u32,
}

/// One table's prepared writes, in key order, and their index changes, in the same order:
/// one list for all of them rather than a vector per write (an allocation per row of a bulk
/// load into an indexed table).
struct Installs {
    writes: Vec<Install>,
    index_changes: Vec<IndexChange>,
    /// The keys new to the primary index, in key order, with their entries (their timestamp
    /// set at installation). A new row without index changes — every row of a bulk load into
    /// a table without secondary indexes — has no [`Install`]: its key goes here and its row
    /// to `released`, so that a 10M-row commit does not also write 10M installs (their
    /// first-touch page faults were a sixth of its time).
    new_keys: Vec<(RowKey, RowEntry)>,
    /// Rows of `new_keys` without an install, to drop once installed.
    released: Vec<SharedRow>,
}

/// A secondary-index entry replaced by a write (either side `None` when there is none).
struct IndexChange {
    index: ObjectId,
    removed: Option<IndexKey>,
    added: Option<IndexKey>,
}

impl Transaction {
    pub(crate) fn begin(
        db: Arc<Shared>,
        read_only: bool,
        synchronous_commit: bool,
    ) -> Result<Self> {
        Self::begin_with(db, read_only, synchronous_commit, TableHandles::default())
    }

    /// [`Transaction::begin`], starting with the table handles an earlier transaction took
    /// (see [`Transaction::take_handles`]); those the catalog changed since are not used.
    pub(crate) fn begin_with(
        db: Arc<Shared>,
        read_only: bool,
        synchronous_commit: bool,
        handles: TableHandles,
    ) -> Result<Self> {
        db.clock.check_healthy()?;
        let snapshot = db.clock.begin();
        Ok(Self {
            snapshot,
            read_only,
            synchronous_commit,
            writes: BTreeMap::new(),
            tables: RefCell::new(handles),
            finished: false,
            owner: db.locks.owner(),
            locked: Vec::new(),
            read_committed: false,
            rebased: HashMap::new(),
            undo: None,
            no_wait: false,
            db,
        })
    }

    /// The table handles this transaction took, for a later one to start with.
    pub(crate) fn take_handles(&mut self) -> TableHandles {
        std::mem::take(self.tables.get_mut())
    }

    /// Whether rows a concurrent transaction changed are re-read (READ COMMITTED) rather
    /// than conflicts (REPEATABLE READ, the engine's default).
    pub fn set_read_committed(&mut self, read_committed: bool) {
        self.read_committed = read_committed;
    }

    /// The timestamp a write of `key` conflicts after: the snapshot, or a newer version this
    /// transaction re-read under READ COMMITTED.
    fn base(&self, table: ObjectId, key: &RowKey) -> u64 {
        if self.rebased.is_empty() {
            return self.snapshot;
        }
        self.rebased
            .get(&(table, key.clone()))
            .map_or(self.snapshot, |&ts| ts.max(self.snapshot))
    }

    /// Takes the row lock on `key`, waiting while another transaction holds it.
    fn lock(&mut self, table: &Table, key: &RowKey) -> Result<()> {
        let taken = self.db.locks.acquire(
            self.owner,
            table.id,
            key,
            !self.no_wait,
            crate::sql::interrupt::check,
        )?;
        if taken {
            self.locked.push((table.id, key.clone()));
        }
        Ok(())
    }

    /// Locks the row under `key` for an update or delete (waiting for a transaction that holds
    /// it) and says whether it changed since the snapshot. SQL's UPDATE and DELETE call it
    /// before [`Transaction::update`]/[`Transaction::delete`]; those alone take no lock (two
    /// transactions of one thread could never wait for each other), and then the first
    /// committer wins at commit. A change fails with 40001 under
    /// REPEATABLE READ; under READ COMMITTED the newest version is returned, and later writes
    /// of the row in this transaction build on it.
    pub fn lock_row(&mut self, table: &str, key: &RowKey) -> Result<Locked> {
        let table = self.table(table)?;
        if self
            .writes
            .get(&table.id)
            .is_some_and(|w| w.rows.contains_key(key))
        {
            return Ok(Locked::Unchanged);
        }
        self.lock(&table, key)?;
        let state = read(&table.state);
        let Some(entry) = state.primary.get(key) else {
            return Ok(Locked::Unchanged);
        };
        if entry.ts <= self.base(table.id, key) {
            return Ok(Locked::Unchanged);
        }
        if !self.read_committed {
            return Err(self.conflict());
        }
        let latest = match entry.visible(u64::MAX) {
            Visibility::Absent => None,
            Visibility::Old(row) => Some(row),
            Visibility::Current(_) => {
                Some(
                    self.db
                        .read_current(&table, &state, key, entry, SharedRow::clone)?,
                )
            }
        };
        self.rebased.insert((table.id, key.clone()), entry.ts);
        Ok(Locked::Changed(latest))
    }

    /// The table named `name`, without taking the catalog's lock when this transaction has
    /// looked it up before and no DDL ran since.
    fn table(&self, name: &str) -> Result<Arc<Table>> {
        if let Some(table) = self.held(name, Arc::clone) {
            return Ok(table);
        }
        let version = self.db.catalog_version();
        let mut handles = self.tables.borrow_mut();
        if handles.version != version {
            *handles = TableHandles {
                version,
                by_name: Vec::new(),
            };
        }
        let table = self.db.table(name)?;
        handles.by_name.push((name.to_string(), table.clone()));
        Ok(table)
    }

    /// `f` of the handle of table `name` this transaction already holds (one taken since the
    /// catalog last changed), if any.
    fn held<R>(&self, name: &str, f: impl FnOnce(&Arc<Table>) -> R) -> Option<R> {
        self.held_handle(name).map(|table| f(&table))
    }

    /// The handle of table `name` this transaction already holds, borrowed: no other table
    /// can be taken (`Transaction::table`) while it is.
    fn held_handle(&self, name: &str) -> Option<Ref<'_, Arc<Table>>> {
        let version = self.db.catalog_version();
        Ref::filter_map(self.tables.borrow(), |handles| {
            handles.current(name, version)
        })
        .ok()
    }

    /// The commit timestamp this transaction reads at.
    pub fn snapshot(&self) -> u64 {
        self.snapshot
    }

    /// Takes a new snapshot (READ COMMITTED, before each statement): later reads see every
    /// commit made since, plus this transaction's own writes. A write still conflicts with
    /// versions committed after the snapshot it was made under.
    pub fn refresh_snapshot(&mut self) {
        self.snapshot = self.db.clock.refresh(self.snapshot);
    }

    /// Makes the transaction read-only or read-write (SQL `SET TRANSACTION READ ONLY`).
    pub fn set_read_only(&mut self, read_only: bool) {
        self.read_only = read_only;
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The database this transaction runs in.
    pub fn database(&self) -> crate::Database {
        crate::Database::from_shared(self.db.clone())
    }

    /// The view named `name`, if there is one.
    pub fn view(&self, name: &str) -> Option<Arc<crate::catalog::ViewDef>> {
        read(&self.db.tables).views.get(name).cloned()
    }

    /// The schema of a table.
    pub fn table_schema(&self, table: &str) -> Result<Arc<TableSchema>> {
        let table = self.table(table)?;
        let schema = read(&table.state).schema.clone();
        Ok(schema)
    }

    /// The row key of a table's primary-key values (for a table without a primary key: its
    /// row id).
    pub fn key(&self, table: &str, values: &[Value]) -> Result<RowKey> {
        read(&self.table(table)?.state).key_from_values(values)
    }

    /// The encoded leading columns of a composite key (see `TableState::key_prefix`).
    pub fn key_prefix(&self, table: &str, values: &[Value]) -> Result<Vec<u8>> {
        read(&self.table(table)?.state).key_prefix(values)
    }

    /// The row stored under `key`, as this transaction sees it.
    pub fn get(&self, table: &str, key: &RowKey) -> Result<Option<SharedRow>> {
        self.read_with(table, key, |row| row.cloned())
    }

    /// Calls `f` with the row stored under `key` as this transaction sees it (`None`: no such
    /// row), read in place under the table's latch: a caller that takes a few of its values
    /// neither counts a reference to the row nor waits for that count's memory to arrive (a
    /// point lookup's costliest miss) before it reads them. `f` runs with the latch held: it
    /// must not use the database, and should be brief (a writer of the table waits for it).
    pub fn read_with<R>(
        &self,
        table: &str,
        key: &RowKey,
        f: impl FnOnce(Option<&SharedRow>) -> R,
    ) -> Result<R> {
        // The handle this transaction already holds is borrowed, not cloned: a point read
        // then counts no reference (an atomic increment and decrement per lookup).
        let held = self.held_handle(table);
        let taken;
        let table = match &held {
            Some(table) => &**table,
            None => {
                taken = self.table(table)?;
                &taken
            }
        };
        let state = read(&table.state);
        let result = self.visit_row(table, &state, key, |row| match row {
            Some(row) if row.len() < state.missing.len() => {
                f(Some(&complete_row(row.clone(), &state.missing)))
            }
            row => f(row),
        });
        drop(state);
        self.db.admit_pending(table);
        result
    }

    /// Starts bringing `key`'s primary-index slot in `table` into the CPU cache, for a lookup
    /// that follows after other work (see `crate::database::Shared::prefetch`).
    ///
    /// Only a table this transaction has already used is prefetched from (its handle is at
    /// hand, without the catalog's lock or a reference count); the lookup finds the others.
    pub fn prefetch(&self, table: &str, key: &RowKey) {
        self.held(table, |table| table.prefetch(key));
    }

    /// For an INSERT into `table` about to run: starts loading the primary index's slot its
    /// integer key will be looked up in, so that the statement's setup overlaps the cache
    /// miss. `column` gives the value the row will have in a column, if known. A hint: it
    /// never waits for a latch.
    pub fn prefetch_insert(&self, table: &str, column: impl Fn(usize) -> Option<i64>) {
        self.held(table, |table| {
            let Ok(state) = table.state.try_read() else {
                return;
            };
            let ([key_column], Primary::Int(primary)) =
                (state.schema.primary_key.as_slice(), &state.primary)
            else {
                return;
            };
            let Some(key) = column(*key_column) else {
                return;
            };
            primary.prefetch(&key);
        });
    }

    /// The rows stored under `keys`, as this transaction sees them, in the keys' order. The
    /// lookups run in three passes under one latch: every key's index slot is prefetched,
    /// then every cached row, then the rows are read — so that the keys' memory accesses
    /// overlap instead of each lookup waiting for its own (the learned index predicts a key's
    /// slot without reading anything but its model).
    pub fn get_many(&self, table: &str, keys: &[RowKey]) -> Result<Vec<Option<SharedRow>>> {
        let table = self.table(table)?;
        let state = read(&table.state);
        for key in keys {
            state.primary.prefetch(key);
        }
        for key in keys {
            if let Some(row) = state.primary.get(key).and_then(|e| e.cached.as_deref()) {
                crate::alex::prefetch(row);
            }
        }
        let rows = keys
            .iter()
            .map(|key| self.read_row(&table, &state, key))
            .collect();
        drop(state);
        self.db.admit_pending(&table);
        rows
    }

    /// [`Transaction::visible_row`] as readers receive it: as wide as the table is now.
    fn read_row(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
    ) -> Result<Option<SharedRow>> {
        let row = self.visible_row(table, state, key)?;
        Ok(row.map(|row| complete_row(row, &state.missing)))
    }

    /// The version of `key` this transaction sees. The caller holds the table's latch.
    fn visible_row(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
    ) -> Result<Option<SharedRow>> {
        self.visit_row(table, state, key, |row| row.cloned())
    }

    /// Calls `f` with the version of `key` this transaction sees, borrowed where it is kept
    /// (own write, row cache) when it can be. The caller holds the table's latch.
    fn visit_row<R>(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
        f: impl FnOnce(Option<&SharedRow>) -> R,
    ) -> Result<R> {
        if let Some(write) = self.writes.get(&table.id).and_then(|w| w.rows.get(key)) {
            return Ok(f(write.row.as_ref()));
        }
        let Some(entry) = state.primary.get(key) else {
            return Ok(f(None));
        };
        Ok(match entry.visible(self.base(table.id, key)) {
            Visibility::Absent => f(None),
            Visibility::Old(row) => f(Some(&row)),
            Visibility::Current(_) => self
                .db
                .read_current(table, state, key, entry, |row| f(Some(row)))?,
        })
    }

    /// Rows with keys in `range`, in key order (`Direction::Backward`: descending).
    pub fn scan(
        &self,
        table: &str,
        range: impl RangeBounds<RowKey>,
        direction: Direction,
    ) -> Result<RowScan> {
        let table = self.table(table)?;
        let lower = range.start_bound().cloned();
        let upper = range.end_bound().cloned();
        let own: Vec<(RowKey, Option<SharedRow>)> = match self.writes.get(&table.id) {
            Some(_) if is_empty(lower.as_ref(), upper.as_ref()) => Vec::new(),
            Some(writes) => writes
                .rows
                .range((lower.clone(), upper.clone()))
                .map(|(k, w)| (k, w.row.clone()))
                .collect(),
            None => Vec::new(),
        };
        Ok(RowScan::new(
            self.db.clone(),
            table,
            self.snapshot,
            (lower, upper),
            direction,
            own,
        ))
    }

    /// An owned reader of this transaction's snapshot of `tables`, its own writes to them
    /// included, for threads that cannot borrow the transaction (the analytics engine's
    /// workers). Its scans see what [`Transaction::scan`] sees at this moment; the snapshot's
    /// versions stay readable while the transaction is open, which the caller ensures.
    pub fn snapshot_reader(&self, tables: &[&str]) -> Result<SnapshotReader> {
        let mut readable = Vec::with_capacity(tables.len());
        for &name in tables {
            let table = self.table(name)?;
            let own = match self.writes.get(&table.id) {
                Some(writes) => writes
                    .rows
                    .iter()
                    .map(|(k, w)| (k, w.row.clone()))
                    .collect(),
                None => Vec::new(),
            };
            readable.push((name.to_string(), table, Arc::new(own)));
        }
        Ok(SnapshotReader {
            db: self.db.clone(),
            snapshot: self.snapshot,
            tables: readable.into(),
        })
    }

    /// Rows whose values in the index's columns fall between `lower` and `upper`, in index
    /// order (ties in primary-key order). Bounds may name a prefix of the index's columns.
    pub fn scan_index(
        &self,
        table: &str,
        index: &str,
        lower: Bound<&[Value]>,
        upper: Bound<&[Value]>,
        direction: Direction,
    ) -> Result<IndexScan> {
        let name = table;
        let table = self.table(table)?;
        let state = read(&table.state);
        let index = state
            .indexes
            .iter()
            .find(|i| i.schema.name == index)
            .ok_or_else(|| Error::UndefinedObject(format!("index \"{index}\"")))?;
        let range = index_range(lower, upper);
        let start = IndexScanStart {
            db: self.db.clone(),
            table: table.clone(),
            index: index.schema.id,
            snapshot: self.snapshot,
            range: range
                .clone()
                .map_or((Bound::Unbounded, Bound::Unbounded), |r| (r.0, r.1)),
            direction,
            own: Vec::new(),
            written: None,
        };
        let Some(range) = range else {
            return Ok(IndexScan::materialized(start, Vec::new()));
        };
        if index.created_at > self.snapshot {
            // The index lacks entries for versions superseded before it was built: find this
            // snapshot's rows with a table scan.
            let index = SecondaryIndex::empty(index.schema.clone(), index.created_at);
            drop(state);
            let mut rows = Vec::new();
            for item in self.scan(name, .., Direction::Forward)? {
                let (key, row) = item?;
                let entry_key = index.entry_key(&row, &key);
                if range.contains(entry_key.as_slice()) {
                    rows.push((entry_key, key, row));
                }
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(IndexScan::materialized(start, rows));
        }
        let mut own = Vec::new();
        let mut written = None;
        if let Some(writes) = self.writes.get(&table.id) {
            let mut entries = writes.entries.borrow_mut();
            let entries = entries
                .entry(index.schema.id)
                .or_insert_with(|| OwnEntries::new(index, &writes.rows));
            let columns = index.schema.columns.len();
            let equal_values = match (lower, upper) {
                (Bound::Included(low), Bound::Included(high))
                    if low.len() == columns && high.len() == columns =>
                {
                    let values = encode_values(low);
                    (values == encode_values(high)).then(|| IndexKey::from_slice(&values))
                }
                _ => None,
            };
            match equal_values {
                // Equal values in every column: their rows by hash, then in entry-key order.
                Some(values) => {
                    for key in entries.with_values(&values) {
                        if let Some(row) = writes.rows.get(key).and_then(|w| w.row.clone()) {
                            own.push((index.entry_key(&row, key), key.clone(), row));
                        }
                    }
                    own.sort_by(|a, b| a.0.cmp(&b.0));
                }
                None => {
                    let ordered = entries.ordered(index, &writes.rows);
                    let (lower, upper) = (range.start_bound(), range.end_bound());
                    for (entry_key, key) in crate::table::walk_between(ordered, lower, upper, true)
                    {
                        if let Some(row) = writes.rows.get(key).and_then(|w| w.row.clone()) {
                            own.push((entry_key.clone(), key.clone(), row));
                        }
                    }
                }
            }
            written = Some(writes.rows.clone());
        }
        drop(state);
        Ok(IndexScan::new(IndexScanStart {
            own,
            written,
            ..start
        }))
    }

    fn check_writable(&self, what: &'static str) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnlyTransaction(what));
        }
        Ok(())
    }

    /// The next value of SERIAL column `column` of `table` (not transactional: a rolled-back
    /// insert leaves a gap, as a PostgreSQL sequence does).
    pub fn next_serial(&self, table: &str, column: usize) -> Result<i64> {
        let handle = self.table(table)?;
        handle.next_serial(column).ok_or_else(|| {
            Error::InvalidDefinition(format!(
                "column {} of table \"{table}\" is not a serial column",
                column + 1
            ))
        })
    }

    /// Inserts a row; returns its key. Fails with 23505 if the key or a unique value exists.
    pub fn insert(&mut self, table: &str, row: Row) -> Result<RowKey> {
        self.insert_shared(table, SharedRow::from(row))
    }

    /// [`Transaction::insert`] of a row already shared: it is stored as it is (converted in
    /// place if a value needs converting to its column's type, copied first only if the row
    /// has other holders).
    pub fn insert_shared(&mut self, table: &str, mut row: SharedRow) -> Result<RowKey> {
        self.check_writable("INSERT")?;
        let table = self.table(table)?;
        let state = read(&table.state);
        state.schema.admit_values(&mut row)?;
        for column in state.schema.serial_columns() {
            if let Value::Int(v) = row[column] {
                table.observe_serial(column, v);
            }
        }
        let key = if state.schema.has_hidden_key() {
            RowKey::Int(table.next_rowid())
        } else {
            state.key_of(&row)
        };
        let fresh = self.insertable(&table, &state, &key, &row)?;
        self.record(&table, &state, key.clone(), None, Some(row), fresh)?;
        Ok(key)
    }

    /// Whether `row` may be written under `key` as a new row: fails with 23505 if this
    /// transaction sees the key taken; else says whether the insert is fresh (no committed
    /// live version it replaces).
    fn insertable(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
        row: &[Value],
    ) -> Result<bool> {
        match self.writes.get(&table.id).and_then(|w| w.rows.get(key)) {
            Some(Write { row: Some(_), .. }) => Err(unique_violation(
                &state.schema,
                &state.schema.primary_key,
                row,
            )),
            Some(Write { row: None, .. }) => Ok(false),
            None => match state.primary.get(key) {
                None => Ok(true),
                Some(entry) => self.check_insertable(state, entry, row),
            },
        }
    }

    /// For an insert over an existing primary-index entry: fails if the key is taken, else
    /// says whether the insert is fresh (no committed live version).
    fn check_insertable(
        &self,
        state: &TableState,
        entry: &RowEntry,
        row: &[Value],
    ) -> Result<bool> {
        match entry.visible(self.snapshot) {
            Visibility::Current(_) | Visibility::Old(_) => Err(unique_violation(
                &state.schema,
                &state.schema.primary_key,
                row,
            )),
            Visibility::Absent if entry.ts > self.snapshot && entry.is_live() => Err(
                unique_violation(&state.schema, &state.schema.primary_key, row),
            ),
            Visibility::Absent if entry.ts > self.snapshot => Err(self.conflict()),
            Visibility::Absent => Ok(true),
        }
    }

    /// Replaces the row under `key`; returns false if this transaction sees no such row. A row
    /// whose primary key changes moves to its new key.
    pub fn update(&mut self, table: &str, key: &RowKey, row: Row) -> Result<bool> {
        self.check_writable("UPDATE")?;
        let table = self.table(table)?;
        let state = read(&table.state);
        state.check_key(key)?;
        let Some(old) = self.visible_for_write(&table, &state, key)? else {
            return Ok(false);
        };
        let row = state.schema.admit_row(row)?;
        let new_key = if state.schema.has_hidden_key() {
            key.clone()
        } else {
            state.key_of(&row)
        };
        if new_key == *key {
            self.record(
                &table,
                &state,
                key.clone(),
                Some(old),
                Some(SharedRow::from(row)),
                false,
            )?;
            return Ok(true);
        }
        self.record(&table, &state, key.clone(), Some(old), None, false)?;
        let fresh = self.insertable(&table, &state, &new_key, &row)?;
        self.record(
            &table,
            &state,
            new_key,
            None,
            Some(SharedRow::from(row)),
            fresh,
        )?;
        Ok(true)
    }

    /// Deletes the row under `key`; returns false if this transaction sees no such row.
    pub fn delete(&mut self, table: &str, key: &RowKey) -> Result<bool> {
        self.check_writable("DELETE")?;
        let table = self.table(table)?;
        let state = read(&table.state);
        state.check_key(key)?;
        let Some(old) = self.visible_for_write(&table, &state, key)? else {
            return Ok(false);
        };
        self.record(&table, &state, key.clone(), Some(old), None, false)?;
        Ok(true)
    }

    /// The row under `key` that an update or delete would replace. Fails at once with 40001 if
    /// a concurrent transaction already committed a newer version: this one could never commit.
    fn visible_for_write(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
    ) -> Result<Option<SharedRow>> {
        let own = self.writes.get(&table.id).and_then(|w| w.rows.get(key));
        if own.is_none() {
            if let Some(entry) = state.primary.get(key) {
                let base = self.base(table.id, key);
                if entry.ts > base && entry.visible(base).is_present() {
                    return Err(self.conflict());
                }
            }
        }
        self.visible_row(table, state, key)
    }

    fn conflict(&self) -> Error {
        self.db.clock.conflicts.fetch_add(1, Ordering::Relaxed);
        Error::SerializationFailure("concurrent update".into())
    }

    /// Records a write of `key` (`old`: the row it replaces as this transaction sees it),
    /// keeping the transaction's unique values up to date and checking them.
    fn record(
        &mut self,
        table: &Arc<Table>,
        state: &TableState,
        key: RowKey,
        old: Option<SharedRow>,
        row: Option<SharedRow>,
        fresh: bool,
    ) -> Result<()> {
        let first_base = self.base(table.id, &key);
        let writes = self.writes.entry(table.id).or_insert_with(|| TableWrites {
            table: table.clone(),
            rows: Arc::default(),
            unique: BTreeMap::new(),
            entries: RefCell::default(),
        });
        for index in state.indexes.iter().filter(|i| i.schema.unique) {
            if let Some(old) = old.as_deref().filter(|r| index.enforces(r)) {
                let slot = (index.schema.id, index.values_key(old));
                if writes.unique.get(&slot) == Some(&key) {
                    writes.unique.remove(&slot);
                    if let Some(undo) = &mut self.undo {
                        undo.push(Undo {
                            table: table.id,
                            slot: UndoSlot::Unique(slot, Some(key.clone())),
                        });
                    }
                }
            }
        }
        for index in state.indexes.iter().filter(|i| i.schema.unique) {
            let Some(new) = row.as_deref().filter(|r| index.enforces(r)) else {
                continue;
            };
            let values = index.values_key(new);
            let taken_here = writes
                .unique
                .get(&(index.schema.id, values.clone()))
                .is_some_and(|other| *other != key);
            let taken_committed = index
                .live_with_values(&values)
                .any(|other| *other != key && !writes.rows.contains_key(other));
            if taken_here || taken_committed {
                return Err(unique_violation(&state.schema, &index.schema.columns, new));
            }
            let slot = (index.schema.id, values);
            if let Some(undo) = &mut self.undo {
                let previous = writes.unique.get(&slot).cloned();
                undo.push(Undo {
                    table: table.id,
                    slot: UndoSlot::Unique(slot.clone(), previous),
                });
            }
            writes.unique.insert(slot, key.clone());
        }
        let rows = Arc::make_mut(&mut writes.rows);
        if let Some(undo) = &mut self.undo {
            let previous = rows.get(&key).cloned();
            undo.push(Undo {
                table: table.id,
                slot: UndoSlot::Row(key.clone(), previous),
            });
        }
        let entries = writes.entries.get_mut();
        if !entries.is_empty() {
            let previous = rows.get(&key).and_then(|w| w.row.as_deref());
            for index in &state.indexes {
                let Some(own) = entries.get_mut(&index.schema.id) else {
                    continue;
                };
                if let Some(previous) = previous {
                    own.remove(index, previous, &key);
                }
                if let Some(new) = row.as_deref() {
                    own.insert(index, new, key.clone());
                }
            }
        }
        match rows.get_mut(&key) {
            // Deleting a row this transaction inserted leaves nothing to write.
            Some(write) if write.fresh && row.is_none() => {
                rows.remove(&key);
            }
            Some(write) => {
                // A key this transaction inserted stays fresh: no committed version to replace.
                write.fresh |= fresh;
                write.row = row;
            }
            None => {
                rows.insert(
                    key,
                    Write {
                        row,
                        fresh,
                        base: first_base,
                    },
                );
            }
        }
        Ok(())
    }

    /// The transaction's writes so far, to return to with [`Transaction::rollback_to`]. From
    /// the first savepoint on, changes to the write set are logged so they can be undone.
    pub fn savepoint(&mut self) -> Savepoint {
        Savepoint {
            undo_len: self.undo.get_or_insert_with(Vec::new).len(),
        }
    }

    /// Undoes every write made since `savepoint` was taken (the snapshot is unchanged). The
    /// savepoint stays valid, as in SQL.
    pub fn rollback_to(&mut self, savepoint: &Savepoint) {
        let Some(undo) = &mut self.undo else {
            return;
        };
        let undone = undo.split_off(savepoint.undo_len.min(undo.len()));
        if undone.is_empty() {
            return;
        }
        for Undo { table, slot } in undone.into_iter().rev() {
            let Some(writes) = self.writes.get_mut(&table) else {
                continue;
            };
            match slot {
                UndoSlot::Row(key, previous) => {
                    let rows = Arc::make_mut(&mut writes.rows);
                    match previous {
                        Some(write) => rows.insert(key, write),
                        None => rows.remove(&key),
                    };
                }
                UndoSlot::Unique(slot, previous) => restore(&mut writes.unique, slot, previous),
            }
        }
        // Index scans rebuild their own entries from the restored rows when next needed.
        for writes in self.writes.values_mut() {
            writes.entries.get_mut().clear();
        }
    }

    /// Starts an attempt at work that must not wait: until [`Transaction::end_attempt`], taking
    /// a row lock another transaction holds fails with [`Error::WouldWait`] rather than waiting
    /// (a server runs a statement this way on a thread that must not block, and moves it
    /// elsewhere if it would).
    pub fn start_attempt(&mut self) -> Attempt {
        let logging = self.undo.is_some();
        let savepoint = self.savepoint();
        self.no_wait = true;
        Attempt { savepoint, logging }
    }

    /// Ends an attempt; `undo` rolls back the writes made during it (row locks it took stay
    /// held, as after ROLLBACK TO).
    pub fn end_attempt(&mut self, attempt: Attempt, undo: bool) {
        self.no_wait = false;
        if undo {
            self.rollback_to(&attempt.savepoint);
        }
        if !attempt.logging {
            self.undo = None;
        }
    }

    /// No savepoint is open any more (all released): stops logging changes for them.
    pub fn release_savepoints(&mut self) {
        self.undo = None;
    }

    /// Discards the transaction's writes.
    pub fn rollback(mut self) {
        self.finish();
    }

    /// Commits: checks for conflicts (first committer wins; the loser gets 40001), writes every
    /// change in one atomic storage batch, waits for it to be durable when synchronous commit
    /// is on, then makes it visible to new snapshots.
    pub fn commit(mut self) -> Result<()> {
        let result = self.commit_writes();
        self.finish();
        result
    }

    fn commit_writes(&mut self) -> Result<()> {
        if self.writes.values().all(|w| w.rows.is_empty()) {
            return Ok(());
        }
        let db = self.db.clone();
        let commit_lock = lock(&db.commit_lock);
        db.clock.check_healthy()?;
        // The write set is consumed: its rows move into the installs (a commit ends the
        // transaction whether it succeeds or not).
        let all: Vec<TableWrites> = std::mem::take(&mut self.writes)
            .into_values()
            .filter(|w| !w.rows.is_empty())
            .collect();
        let tables: Vec<Arc<Table>> = all.iter().map(|w| w.table.clone()).collect();
        // Latch every written table, in id order (the map's order).
        let mut latched = Vec::with_capacity(tables.len());
        for table in &tables {
            if !db.is_current(table) {
                return Err(Error::UndefinedTable(table_name(table)));
            }
            latched.push(write(&table.state));
        }
        // Room for a few rows: a one-row commit's batch grew four or five times.
        let mut batch = WriteBatch::with_capacity(COMMIT_BATCH_BYTES);
        let mut installs = Vec::with_capacity(latched.len());
        for (writes, state) in all.into_iter().zip(&latched) {
            self.validate_unique(&writes, state)?;
            installs.push(self.prepare(writes, state, &mut batch)?);
        }
        let ts = db.clock.next_commit();
        let install = || {
            let mut gc = lock(&db.gc);
            for ((table, state), installs) in tables.iter().zip(latched.iter_mut()).zip(installs) {
                // New keys go into the primary index together, in key order (the write set's).
                let Installs {
                    writes,
                    index_changes,
                    mut new_keys,
                    mut released,
                } = installs;
                released.reserve(writes.len());
                let mut index_changes = index_changes.into_iter();
                for install in writes {
                    let changes = index_changes.by_ref().take(install.index_changes as usize);
                    Self::install_index_changes(
                        table.id,
                        state,
                        &install.key,
                        changes,
                        ts,
                        &mut gc,
                    );
                    released.extend(self.install(table.id, state, install, ts, &mut gc));
                }
                for (_, entry) in &mut new_keys {
                    entry.ts = ts;
                }
                // Before the index grows: a bulk load's peak memory holds its rows or its new
                // index nodes, not both.
                release_in_address_order(released);
                state.primary.insert_sorted(new_keys);
                state.last_commit = ts;
                #[cfg(feature = "analytics")]
                db.columnar.forget(table.id);
                db.cache.apply(&db, table, state);
            }
        };
        write_and_install(&*db.storage, &db.clock, batch, install)?;
        db.clock.written(ts);
        drop(latched);
        drop(commit_lock);

        if self.synchronous_commit {
            db.clock.wait_durable(ts, &*db.storage)?;
        }
        db.clock.publish(ts);
        db.clock.commits.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Re-checks the written rows against every unique index as it is now: values committed
    /// since the snapshot count, and so do unique indexes created since the writes were made.
    fn validate_unique(&self, writes: &TableWrites, state: &TableState) -> Result<()> {
        for index in state.indexes.iter().filter(|i| i.schema.unique) {
            let mut ours: HashMap<Vec<u8>, RowKey> = HashMap::new();
            for (key, write) in writes.rows.iter() {
                let Some(row) = write.row.as_deref().filter(|r| index.enforces(r)) else {
                    continue;
                };
                let values = index.values_key(row);
                let taken_here = ours.get(&values).is_some_and(|other| *other != key);
                let taken = taken_here
                    || index
                        .live_with_values(&values)
                        .any(|other| *other != key && !writes.rows.contains_key(other));
                if taken {
                    return Err(unique_violation(&state.schema, &index.schema.columns, row));
                }
                ours.insert(values, key);
            }
        }
        Ok(())
    }

    /// Checks one table's writes for conflicts — first committer wins: a key with a version
    /// committed after our snapshot fails the commit — and builds their storage writes and
    /// what to install once they are stored.
    fn prepare(
        &self,
        writes: TableWrites,
        state: &TableState,
        batch: &mut WriteBatch,
    ) -> Result<Installs> {
        let db = &self.db;
        let table = writes.table.id;
        let rows = Arc::try_unwrap(writes.rows).unwrap_or_else(|shared| (*shared).clone());
        let count = rows.len();
        let (mut installs, mut new_keys, mut released) = (Vec::new(), Vec::new(), Vec::new());
        // Only the rows are stored: secondary indexes are derived from them (built from the
        // rows when a table is loaded), so their changes are made in memory alone.
        let mut all_index_changes = Vec::new();
        // In key order, the rows (allocated in the order they were written) are scattered:
        // each one's lines are asked for a few writes ahead of its encoding.
        let rows = crate::alex::hinted(rows.into_sorted(), 8, |(_, write)| {
            if let Some(row) = write.row.as_deref() {
                crate::alex::prefetch_values(row, 4);
            }
        });
        for (owned_key, write) in rows {
            let key = &owned_key;
            let entry = state.primary.get(key);
            if let Some(entry) = entry {
                if write.fresh && entry.is_live() {
                    if let Some(row) = &write.row {
                        return Err(unique_violation(
                            &state.schema,
                            &state.schema.primary_key,
                            row,
                        ));
                    }
                }
                if entry.ts > write.base {
                    return Err(self.conflict());
                }
            }
            let previous = match entry {
                Some(entry) if entry.is_live() => match &entry.cached {
                    Some(row) => Some(row.clone()),
                    None => Some(SharedRow::from(db.read_stored(table, state, key)?)),
                },
                _ => None,
            };
            match &write.row {
                Some(row) => batch.put_encoded(
                    |out| key.storage_key_into(table, out),
                    |out| encode_row_into(&state.types, row, out),
                ),
                None => batch.delete(key.storage_key(table)),
            };
            let changes_before = all_index_changes.len();
            for index in &state.indexes {
                let removed = previous.as_deref().map(|r| index.entry_key(r, key));
                let added = write.row.as_deref().map(|r| index.entry_key(r, key));
                if removed == added {
                    continue;
                }
                all_index_changes.push(IndexChange {
                    index: index.schema.id,
                    removed,
                    added,
                });
            }
            // At most one per index of the table.
            let index_changes = (all_index_changes.len() - changes_before) as u32;
            let new_key = entry.is_none() && write.row.is_some();
            match write.row {
                Some(row) if new_key && index_changes == 0 => {
                    push_sized(&mut new_keys, count, (owned_key, RowEntry::live(0)));
                    push_sized(&mut released, count, row);
                }
                row => {
                    if new_key {
                        push_sized(&mut new_keys, count, (owned_key.clone(), RowEntry::live(0)));
                    }
                    let install = Install {
                        key: owned_key,
                        row,
                        previous,
                        existed: entry.is_some(),
                        index_changes,
                    };
                    push_sized(&mut installs, count, install);
                }
            }
        }
        Ok(Installs {
            writes: installs,
            index_changes: all_index_changes,
            new_keys,
            released,
        })
    }

    /// Applies one prepared write to an existing key's entry and the cache (a new key is
    /// inserted with the others of [`Installs::new_keys`]). Gives back the written row, for
    /// the caller to release.
    fn install(
        &self,
        table: ObjectId,
        state: &mut TableState,
        install: Install,
        ts: u64,
        gc: &mut std::collections::VecDeque<GcItem>,
    ) -> Option<SharedRow> {
        let db = &self.db;
        if install.existed {
            if let Some(entry) = state.primary.get_mut(&install.key) {
                let bytes = entry.supersede(ts, install.row.is_none(), install.previous);
                let dead = &mut state.dead_records;
                db.cache
                    .replace(table, &install.key, entry, install.row.clone(), dead);
                db.retained_versions.fetch_add(1, Ordering::Relaxed);
                db.retained_bytes.fetch_add(bytes, Ordering::Relaxed);
                gc.push_back(GcItem {
                    ts,
                    table,
                    target: GcTarget::Row(install.key),
                });
            }
        }
        // A new key is already in the installs' `new_keys`.
        install.row
    }

    /// Applies one prepared write's changes to the table's secondary indexes (`key`: the
    /// written row's primary key).
    fn install_index_changes(
        table: ObjectId,
        state: &mut TableState,
        key: &RowKey,
        changes: impl Iterator<Item = IndexChange>,
        ts: u64,
        gc: &mut std::collections::VecDeque<GcItem>,
    ) {
        for IndexChange {
            index: index_id,
            removed,
            added,
        } in changes
        {
            let Some(index) = state.indexes.iter_mut().find(|i| i.schema.id == index_id) else {
                continue;
            };
            if let Some(removed) = removed {
                if let Some(mark) = index.entries.get_mut(&removed) {
                    mark.dead_since = Some(ts);
                    gc.push_back(GcItem {
                        ts,
                        table,
                        target: GcTarget::IndexEntry {
                            index: index_id,
                            key: removed,
                        },
                    });
                }
            }
            if let Some(added) = added {
                index.entries.insert(
                    added,
                    IndexMark {
                        pk: key.clone(),
                        dead_since: None,
                    },
                );
            }
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.writes.clear();
            // After the commit is visible: waiters then read the new versions.
            self.db.locks.release(self.owner, &self.locked);
            self.locked.clear();
            let watermark = self.db.clock.end(self.snapshot);
            self.db.collect_garbage_upto(watermark);
        }
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The bytes a commit's storage batch starts with room for.
const COMMIT_BATCH_BYTES: usize = 512;

/// Commits with at least this many storage operations write them on a second thread while
/// their versions are installed in memory. Below it a thread costs more than it saves.
/// (WebAssembly has no threads: every batch is written first there.)
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
const OVERLAPPED_WRITE_OPS: usize = 16 * 1024;

/// Writes a commit's `batch` to storage (unsynced) and runs `install`, which puts the
/// commit's versions into the in-memory indexes under its timestamp — not yet visible: that
/// waits for the timestamp's publication, after this returns.
///
/// A small batch is written first, and on failure nothing is installed: the commit fails
/// cleanly. A large one (a bulk load: RocksDB's WAL append and memtable inserts were a third
/// of its commit, the installs another) is written on a scoped thread while this one
/// installs. If that write fails the versions are already in memory under a timestamp that
/// must never be published, so the clock is failed as after a lost sync: nothing more
/// commits (as PostgreSQL stops on a failed WAL write), while reads stay correct — the
/// installed versions are newer than every snapshot that can still be taken.
fn write_and_install(
    storage: &dyn Storage,
    #[cfg_attr(target_arch = "wasm32", allow(unused_variables))] clock: &Clock,
    batch: WriteBatch,
    install: impl FnOnce(),
) -> Result<()> {
    #[cfg(not(target_arch = "wasm32"))]
    if batch.len() >= OVERLAPPED_WRITE_OPS {
        return std::thread::scope(|scope| {
            let writer = std::thread::Builder::new()
                .name("omendb-commit-write".into())
                .spawn_scoped(scope, move || storage.write(batch, false))
                // Nothing written, nothing installed: the commit fails cleanly.
                .map_err(|e| Error::OutOfMemory(format!("cannot start a commit writer: {e}")))?;
            install();
            let written = writer.join().unwrap_or_else(|_| {
                Err(Error::Storage {
                    backend: storage.name(),
                    message: "the commit's storage write panicked".into(),
                })
            });
            if let Err(e) = &written {
                clock.fail(e.clone());
            }
            written
        });
    }
    storage.write(batch, false)?;
    install();
    Ok(())
}

/// Drops the written rows (most are their last reference, the cache holding no new row) in
/// the order of their addresses. They were allocated in the order they were written, and
/// freeing them in key order instead made the allocator merge each with neighbours freed long
/// before — a cache miss or more per row, a tenth of a random-key bulk load's time.
fn release_in_address_order(mut rows: Vec<SharedRow>) {
    rows.sort_unstable_by_key(|row| row.as_ptr() as usize);
    drop(rows);
}

/// Pushes `item`, sizing `list` for `all` items at its first: a commit's lists are sized once
/// for all its writes, and a list it does not use is never allocated.
fn push_sized<T>(list: &mut Vec<T>, all: usize, item: T) {
    if list.capacity() == 0 {
        list.reserve_exact(all);
    }
    list.push(item);
}

/// Puts `key`'s entry in `map` back to `previous` (`None`: absent).
fn restore<K: Ord, V>(map: &mut BTreeMap<K, V>, key: K, previous: Option<V>) {
    match previous {
        Some(value) => map.insert(key, value),
        None => map.remove(&key),
    };
}

fn table_name(table: &Table) -> String {
    read(&table.state).schema.name.clone()
}

/// A byte range of index keys from bounds on (a prefix of) the indexed values; `None` if the
/// range is empty.
#[derive(Debug, Clone)]
struct IndexRange(Bound<Vec<u8>>, Bound<Vec<u8>>);

impl RangeBounds<[u8]> for IndexRange {
    fn start_bound(&self) -> Bound<&[u8]> {
        self.0.as_ref().map(Vec::as_slice)
    }
    fn end_bound(&self) -> Bound<&[u8]> {
        self.1.as_ref().map(Vec::as_slice)
    }
}

fn index_range(lower: Bound<&[Value]>, upper: Bound<&[Value]>) -> Option<IndexRange> {
    let lower = match lower {
        Bound::Included(v) => Bound::Included(encode_values(v)),
        Bound::Excluded(v) => Bound::Included(prefix_end(&encode_values(v))?),
        Bound::Unbounded => Bound::Unbounded,
    };
    let upper = match upper {
        Bound::Included(v) => {
            prefix_end(&encode_values(v)).map_or(Bound::Unbounded, Bound::Excluded)
        }
        Bound::Excluded(v) => Bound::Excluded(encode_values(v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    if is_empty(lower.as_ref(), upper.as_ref()) {
        return None;
    }
    Some(IndexRange(lower, upper))
}
