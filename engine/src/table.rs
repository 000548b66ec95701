//! A table in memory: its learned primary index (key → `RowEntry`) and its secondary indexes,
//! behind one read/write latch. Rows themselves live in storage (and, decoded, in the row
//! cache's slots in the primary index's entries).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::alex::{
    AlexMap, AlexStats, INLINE_KEY_BYTES, InlineBytes, MemoryUsage, NodeInfo, Place,
    prefetch_address,
};
use crate::cache::{DeadRecords, PendingCache};
use crate::catalog::{IndexSchema, ObjectId, TableSchema};
use crate::encoding::{decode_value, encode_value};
use crate::mvcc::RowEntry;
use crate::row_addresses::RowAddresses;
use crate::storage::{KeyPrefix, Storage, scan_prefix};
use crate::types::{DataType, SharedRow, Value};
use crate::{Error, Result};

/// A row's primary key as the primary index holds it: the integer itself for tables keyed by
/// one integer column (or the hidden row id), else the memcomparable encoding of the key
/// columns. Ordering matches the SQL order of the key values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowKey {
    Int(i64),
    Bytes(Vec<u8>),
}

impl RowKey {
    /// The memcomparable encoding, as used in storage keys.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            RowKey::Int(i) => encode_value(out, &Value::Int(*i)),
            RowKey::Bytes(b) => out.extend_from_slice(b),
        }
    }

    /// The storage key of this row of `table` ([`crate::storage::Key::Row`]).
    pub(crate) fn storage_key(&self, table: ObjectId) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.storage_key_into(table, &mut out);
        out
    }

    /// Appends [`RowKey::storage_key`] to `out`.
    pub(crate) fn storage_key_into(&self, table: ObjectId, out: &mut Vec<u8>) {
        KeyPrefix::Rows(table).encode_into(out);
        self.encode_into(out);
    }

    fn decode(bytes: &[u8], integer: bool) -> Result<Self> {
        if !integer {
            return Ok(RowKey::Bytes(bytes.to_vec()));
        }
        let mut input = bytes;
        match decode_value(&mut input)? {
            Value::Int(i) if input.is_empty() => Ok(RowKey::Int(i)),
            _ => Err(Error::Corrupt("integer primary key".into())),
        }
    }

    /// The integer the key starts with: the key itself, or a composite key's leading integer
    /// column (`None` when the first column is not an integer).
    pub fn leading_integer(&self) -> Option<i64> {
        match self {
            RowKey::Int(i) => Some(*i),
            RowKey::Bytes(b) => leading_integer(b),
        }
    }

    /// The smallest key that starts with `value`: the integer key itself, or for a composite key
    /// the encoded prefix, which sorts before every key that extends it.
    pub fn starting_at(value: i64, composite: bool) -> RowKey {
        if composite {
            let mut prefix = Vec::with_capacity(9);
            encode_value(&mut prefix, &Value::Int(value));
            RowKey::Bytes(prefix)
        } else {
            RowKey::Int(value)
        }
    }

    pub(crate) fn memory_size(&self) -> usize {
        size_of::<Self>()
            + match self {
                RowKey::Int(_) => 0,
                RowKey::Bytes(b) => b.capacity(),
            }
    }
}

fn leading_integer(encoded: &[u8]) -> Option<i64> {
    match decode_value(&mut &encoded[..]) {
        Ok(Value::Int(i)) => Some(i),
        _ => None,
    }
}

/// The primary index: ALEX keyed by `i64` where the key is one integer, else by encoded bytes
/// (short ones inside the slots: [`InlineBytes`]).
#[derive(Debug)]
pub(crate) enum Primary {
    Int(AlexMap<i64, RowEntry>),
    Bytes(AlexMap<InlineBytes, RowEntry>),
}

/// The key `encode` writes, encoded in a buffer kept for the next key and then copied into
/// the key (in place when short): no allocation, growth or free per key.
fn scratch_key(encode: impl FnOnce(&mut Vec<u8>)) -> IndexKey {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|key| {
        key.clear();
        encode(key);
        IndexKey::from_slice(key)
    })
}

/// A row key's bytes as the primary index holds them.
fn inline(key: &[u8]) -> InlineBytes {
    InlineBytes::from_slice(key)
}

impl Primary {
    /// Starts bringing `key`'s index slot into the cache (see [`AlexMap::prefetch`]).
    pub fn prefetch(&self, key: &RowKey) {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => map.prefetch(k),
            (Primary::Bytes(map), RowKey::Bytes(k)) => map.prefetch(&inline(k)),
            _ => {}
        }
    }

    /// [`prefetch`](Self::prefetch), calling `each` with the key's probable places in the
    /// index (see [`AlexMap::prefetch_places`]).
    #[inline]
    pub fn prefetch_places(&self, key: &RowKey, each: impl FnMut(Place)) {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => map.prefetch_places(k, each),
            (Primary::Bytes(map), RowKey::Bytes(k)) => map.prefetch_places(&inline(k), each),
            _ => {}
        }
    }

    /// [`get_mut`](Self::get_mut), with the key's place in the index.
    pub fn get_mut_placed(&mut self, key: &RowKey) -> Option<(Place, &mut RowEntry)> {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => map.get_mut_placed(k),
            (Primary::Bytes(map), RowKey::Bytes(k)) => map.get_mut_placed(&inline(k)),
            _ => None,
        }
    }

    pub fn get(&self, key: &RowKey) -> Option<&RowEntry> {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => map.get(k),
            (Primary::Bytes(map), RowKey::Bytes(k)) => map.get(&inline(k)),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &RowKey) -> Option<&mut RowEntry> {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => map.get_mut(k),
            (Primary::Bytes(map), RowKey::Bytes(k)) => map.get_mut(&inline(k)),
            _ => None,
        }
    }

    /// Inserts new keys given in key order, as one batch (see [`AlexMap::insert_sorted`]).
    pub fn insert_sorted(&mut self, entries: Vec<(RowKey, RowEntry)>) {
        /// The entries with the index's kind of key (keys are checked against the table
        /// before they reach the index, so there are no others).
        fn typed<K>(
            entries: Vec<(RowKey, RowEntry)>,
            key: impl Fn(RowKey) -> Option<K>,
        ) -> Vec<(K, RowEntry)> {
            let len = entries.len();
            let typed: Vec<_> = entries
                .into_iter()
                .filter_map(|(k, entry)| Some((key(k)?, entry)))
                .collect();
            debug_assert_eq!(typed.len(), len, "row keys of the wrong kind");
            typed
        }
        match self {
            Primary::Int(map) => map.insert_sorted(typed(entries, |key| match key {
                RowKey::Int(k) => Some(k),
                RowKey::Bytes(_) => None,
            })),
            Primary::Bytes(map) => map.insert_sorted(typed(entries, |key| match key {
                RowKey::Bytes(k) => Some(inline(&k)),
                RowKey::Int(_) => None,
            })),
        }
    }

    pub fn remove(&mut self, key: &RowKey) {
        match (self, key) {
            (Primary::Int(map), RowKey::Int(k)) => {
                map.remove(k);
            }
            (Primary::Bytes(map), RowKey::Bytes(k)) => {
                map.remove(&inline(k));
            }
            _ => {}
        }
    }

    /// The smallest and largest leading integer of the keys (see [`RowKey::leading_integer`]):
    /// `None` when the index is empty or its keys do not start with an integer.
    pub fn leading_integer_span(&self) -> Option<(i64, i64)> {
        match self {
            Primary::Int(map) => Some((*map.first()?.0, *map.last()?.0)),
            Primary::Bytes(map) => Some((
                leading_integer(map.first()?.0)?,
                leading_integer(map.last()?.0)?,
            )),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Primary::Int(map) => map.len(),
            Primary::Bytes(map) => map.len(),
        }
    }

    /// Calls `visit` on the entries in `(lower, upper)` in key order (descending when
    /// `reverse`) until it returns false.
    pub fn visit_range(
        &self,
        lower: Bound<&RowKey>,
        upper: Bound<&RowKey>,
        reverse: bool,
        mut visit: impl FnMut(RowKey, &RowEntry) -> bool,
    ) {
        fn walk<'a, K: 'a>(
            iter: impl DoubleEndedIterator<Item = (&'a K, &'a RowEntry)> + Clone,
            reverse: bool,
            wrap: impl Fn(&K) -> RowKey,
            visit: &mut impl FnMut(RowKey, &RowEntry) -> bool,
        ) {
            if reverse {
                drive(iter.clone().rev(), iter.rev(), wrap, visit);
            } else {
                drive(iter.clone(), iter, wrap, visit);
            }
        }
        /// Visits `iter`'s entries, asking for the cached rows of those `ROW_PREFETCH`
        /// entries further on (`ahead`, a copy of `iter`, runs that far in front): each row
        /// is an allocation of its own, and a scan would otherwise wait for each one's cache
        /// miss in turn.
        fn drive<'a, K: 'a>(
            iter: impl Iterator<Item = (&'a K, &'a RowEntry)>,
            mut ahead: impl Iterator<Item = (&'a K, &'a RowEntry)>,
            wrap: impl Fn(&K) -> RowKey,
            visit: &mut impl FnMut(RowKey, &RowEntry) -> bool,
        ) {
            const ROW_PREFETCH: usize = 12;
            for (_, entry) in ahead.by_ref().take(ROW_PREFETCH) {
                prefetch_row(entry);
            }
            for (k, e) in iter {
                if let Some((_, entry)) = ahead.next() {
                    prefetch_row(entry);
                }
                if !visit(wrap(k), e) {
                    return;
                }
            }
        }
        fn prefetch_row(entry: &RowEntry) {
            if let Some(row) = entry.cached.as_deref() {
                // A scan mostly reads a row's first values.
                crate::alex::prefetch_values(row, 2);
            }
        }
        match self {
            Primary::Int(map) => {
                let (Some(lower), Some(upper)) = (int_bound(lower), int_bound(upper)) else {
                    return;
                };
                walk(
                    map.range((lower, upper)),
                    reverse,
                    |k| RowKey::Int(*k),
                    &mut visit,
                );
            }
            Primary::Bytes(map) => {
                let (Some(lower), Some(upper)) = (bytes_bound(lower), bytes_bound(upper)) else {
                    return;
                };
                let range = map.range::<(Bound<InlineBytes>, Bound<InlineBytes>)>((lower, upper));
                walk(range, reverse, |k| RowKey::Bytes(k.to_vec()), &mut visit);
            }
        }
    }

    pub fn stats(&self) -> (AlexStats, MemoryUsage) {
        match self {
            Primary::Int(map) => (map.stats(), map.memory_usage()),
            Primary::Bytes(map) => (map.stats(), map.memory_usage()),
        }
    }

    /// Every node of the learned index, as the visualiser draws it.
    pub fn inspect(&self) -> Vec<NodeInfo<RowKey>> {
        fn keyed<K>(node: NodeInfo<K>, key: impl Fn(K) -> RowKey) -> NodeInfo<RowKey> {
            NodeInfo {
                id: node.id,
                kind: node.kind,
                depth: node.depth,
                parent: node.parent,
                min_key: node.min_key.map(&key),
                max_key: node.max_key.map(&key),
                slope: node.slope,
                intercept: node.intercept,
                capacity: node.capacity,
                fill: node.fill,
                layout: node.layout,
            }
        }
        match self {
            Primary::Int(map) => map
                .inspect()
                .into_iter()
                .map(|n| keyed(n, RowKey::Int))
                .collect(),
            Primary::Bytes(map) => map
                .inspect()
                .into_iter()
                .map(|n| keyed(n, |k| RowKey::Bytes(k.to_vec())))
                .collect(),
        }
    }

    fn max_int(&self) -> Option<i64> {
        match self {
            Primary::Int(map) => map.last().map(|(k, _)| *k),
            Primary::Bytes(_) => None,
        }
    }
}

fn int_bound(bound: Bound<&RowKey>) -> Option<Bound<i64>> {
    match bound {
        Bound::Included(RowKey::Int(k)) => Some(Bound::Included(*k)),
        Bound::Excluded(RowKey::Int(k)) => Some(Bound::Excluded(*k)),
        Bound::Unbounded => Some(Bound::Unbounded),
        _ => None,
    }
}

fn bytes_bound(bound: Bound<&RowKey>) -> Option<Bound<InlineBytes>> {
    match bound {
        Bound::Included(RowKey::Bytes(k)) => Some(Bound::Included(inline(k))),
        Bound::Excluded(RowKey::Bytes(k)) => Some(Bound::Excluded(inline(k))),
        Bound::Unbounded => Some(Bound::Unbounded),
        _ => None,
    }
}

/// A secondary index in memory. Its keys are the encoded indexed values followed by the
/// encoded primary key; it holds the entries of the newest committed versions (as storage
/// does) and, until garbage collection, those of older versions that snapshots may still read,
/// marked with the commit that removed them. Readers re-check every candidate against the
/// version they see.
#[derive(Debug)]
pub(crate) struct SecondaryIndex {
    pub schema: IndexSchema,
    /// Snapshots older than this cannot use the index (it has no entries for versions that
    /// were already superseded when it was built).
    pub created_at: u64,
    pub entries: BTreeMap<IndexKey, IndexMark>,
}

/// A secondary index's key for an entry: held in the tree's nodes, not on the heap, up to 32
/// bytes (two BIGINTs and a BIGINT key take 27).
pub(crate) type IndexKey = InlineBytes;

/// The entries of `map` between `lower` and `upper`, ascending (`forward`) or descending,
/// found with one search: for the bound the walk starts from, while the other ends the walk.
/// (A `BTreeMap` range searches for both of its ends before it yields anything: twice the
/// comparisons for the short ranges most index lookups are.)
pub(crate) fn walk_between<'a, V>(
    map: &'a BTreeMap<IndexKey, V>,
    lower: Bound<&'a [u8]>,
    upper: Bound<&'a [u8]>,
    forward: bool,
) -> Box<dyn Iterator<Item = (&'a IndexKey, &'a V)> + 'a> {
    let below_upper = move |key: &&IndexKey| match upper {
        Bound::Included(upper) => key.as_slice() <= upper,
        Bound::Excluded(upper) => key.as_slice() < upper,
        Bound::Unbounded => true,
    };
    let above_lower = move |key: &&IndexKey| match lower {
        Bound::Included(lower) => key.as_slice() >= lower,
        Bound::Excluded(lower) => key.as_slice() > lower,
        Bound::Unbounded => true,
    };
    if forward {
        let from = map.range::<[u8], _>((lower, Bound::Unbounded));
        Box::new(from.take_while(move |(key, _)| below_upper(key)))
    } else {
        let from = map.range::<[u8], _>((Bound::Unbounded, upper));
        Box::new(from.rev().take_while(move |(key, _)| above_lower(key)))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct IndexMark {
    pub pk: RowKey,
    /// The commit that removed this entry from the newest versions, if one did.
    pub dead_since: Option<u64>,
}

impl SecondaryIndex {
    /// The index `schema` without entries, usable by snapshots from `created_at` on.
    pub fn empty(schema: IndexSchema, created_at: u64) -> Self {
        Self {
            schema,
            created_at,
            entries: BTreeMap::new(),
        }
    }

    /// The indexed values of `row`, encoded (the prefix of its index key).
    pub fn values_key(&self, row: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_values_into(row, &mut out);
        out
    }

    fn encode_values_into(&self, row: &[Value], out: &mut Vec<u8>) {
        for &column in &self.schema.columns {
            encode_value(out, &row[column]);
        }
    }

    /// The full index key of `row` stored under `pk`.
    pub fn entry_key(&self, row: &[Value], pk: &RowKey) -> IndexKey {
        scratch_key(|key| {
            self.encode_values_into(row, key);
            pk.encode_into(key);
        })
    }

    /// [`values_key`](Self::values_key) as an [`IndexKey`] (in place when short).
    pub fn values_index_key(&self, row: &[Value]) -> IndexKey {
        scratch_key(|key| self.encode_values_into(row, key))
    }

    /// Whether `row` takes part in uniqueness: SQL NULLs are distinct from each other.
    pub fn enforces(&self, row: &[Value]) -> bool {
        self.schema.unique && self.schema.columns.iter().all(|&c| !row[c].is_null())
    }

    /// Live entries (in the newest committed versions) whose values equal `values_key`.
    pub fn live_with_values<'a>(
        &'a self,
        values_key: &'a [u8],
    ) -> impl Iterator<Item = &'a RowKey> {
        self.entries
            .range::<[u8], _>((Bound::Included(values_key), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(values_key))
            .filter(|(_, mark)| mark.dead_since.is_none())
            .map(|(_, mark)| &mark.pk)
    }
}

/// A table: its schema, indexes and row-id counter.
#[derive(Debug)]
pub(crate) struct Table {
    pub id: ObjectId,
    pub state: RwLock<TableState>,
    /// Row-cache admissions and evictions waiting for the write latch.
    pub cache_pending: Mutex<PendingCache>,
    /// Whether `cache_pending` may hold work (read without locking on every access).
    pub cache_has_pending: AtomicBool,
    /// Set (under the write latch) when the table is dropped: scans still holding it stop.
    pub dropped: AtomicBool,
    next_rowid: AtomicI64,
    /// SERIAL columns (by position) and their next values.
    serials: Vec<(usize, AtomicI64)>,
}

#[derive(Debug)]
pub(crate) struct TableState {
    pub schema: Arc<TableSchema>,
    pub types: Arc<[DataType]>,
    /// Per column, the value of rows written before the column existed (its default).
    pub missing: Arc<[Value]>,
    pub primary: Primary,
    pub indexes: Vec<SecondaryIndex>,
    /// The timestamp of the newest commit that wrote to the table (0: none since it was
    /// opened): a snapshot at or after it with no writes of its own sees the same rows as
    /// every other such snapshot, which is what lets analytics reuse columns it converted.
    pub last_commit: u64,
    /// The row cache's records of this table whose rows are gone (see `crate::cache`).
    pub dead_records: DeadRecords,
    /// Where the cached rows probably are, by key (see `crate::row_addresses`).
    pub row_addresses: RowAddresses,
}

impl TableState {
    /// Lets go of the rows and index entries of a table just dropped (or replaced): a
    /// transaction or session may still hold the table's handle — until it next looks at
    /// the catalog, where the table is gone — and must not keep its memory alive that long.
    pub fn retire(&mut self) {
        self.primary = match self.primary {
            Primary::Int(_) => Primary::Int(AlexMap::new()),
            Primary::Bytes(_) => Primary::Bytes(AlexMap::new()),
        };
        for index in &mut self.indexes {
            index.entries = BTreeMap::new();
        }
        self.row_addresses = RowAddresses::default();
    }
}

/// Deletes the entries stored for `schema`'s secondary indexes, if there are any: earlier
/// versions wrote them (see `crate::storage::key`); nothing reads them now, and they would
/// only take space.
fn drop_stored_index_entries(storage: &dyn Storage, schema: &TableSchema) -> Result<()> {
    let mut batch = crate::storage::WriteBatch::new();
    for index in &schema.indexes {
        let prefix = KeyPrefix::IndexEntries(index.id);
        if scan_prefix(storage, &prefix.encode())?.next().is_some() {
            batch.delete_prefix(&prefix);
        }
    }
    if !batch.is_empty() {
        storage.write(batch, true)?;
    }
    Ok(())
}

impl Table {
    /// Starts bringing `key`'s primary-index slot into the CPU cache (see
    /// [`AlexMap::prefetch`]), and its cached row where the table's row-address model
    /// predicts it (see `crate::row_addresses`), unless a writer holds the table: a hint
    /// never waits.
    pub fn prefetch(&self, key: &RowKey) {
        if let Ok(state) = self.state.try_read() {
            let row = |address: usize| {
                prefetch_address(address);
                prefetch_address(address.wrapping_add(64));
            };
            if state.row_addresses.keyed(key) {
                state.primary.prefetch(key);
                state.row_addresses.by_key(key).map(row);
            } else if state.row_addresses.placed() {
                state.primary.prefetch_places(key, |place| {
                    state.row_addresses.at(place).map(row);
                });
            } else {
                state.primary.prefetch(key);
            }
        }
    }

    /// A new, empty table.
    pub fn create(schema: TableSchema, created_at: u64) -> Self {
        let primary = if schema.has_integer_key() {
            Primary::Int(AlexMap::new())
        } else {
            Primary::Bytes(AlexMap::new())
        };
        let indexes = schema
            .indexes
            .iter()
            .map(|index| SecondaryIndex::empty(index.clone(), created_at))
            .collect();
        Self::assemble(schema, primary, indexes, Vec::new())
    }

    /// Loads a table from its stored rows: its primary index and secondary indexes (bulk
    /// loads, in key order). Loaded versions have timestamp 0: older than every snapshot.
    pub fn load(storage: &dyn Storage, schema: TableSchema) -> Result<Self> {
        let prefix = KeyPrefix::Rows(schema.id).encode();
        drop_stored_index_entries(storage, &schema)?;
        let mut builder = TableBuilder::new(schema);
        for entry in scan_prefix(storage, &prefix)? {
            let (key, value) = entry?;
            let key = RowKey::decode(&key[prefix.len()..], builder.integer)?;
            builder.add_stored_row(key, &value)?;
        }
        builder
            .build()
            .map_err(|_| Error::Corrupt("a primary key stored twice".into()))
    }

    /// The table from its parts; `largest` holds the largest values found in SERIAL columns
    /// other than an integer key (whose largest value is the index's).
    fn assemble(
        schema: TableSchema,
        primary: Primary,
        indexes: Vec<SecondaryIndex>,
        largest: Vec<(usize, i64)>,
    ) -> Self {
        let next_rowid = primary.max_int().map_or(1, |max| max.saturating_add(1));
        let serials = schema
            .serial_columns()
            .map(|column| {
                let max = largest
                    .iter()
                    .find(|(c, _)| *c == column)
                    .map(|(_, max)| *max)
                    .or_else(|| primary.max_int())
                    .unwrap_or(0);
                (column, AtomicI64::new(max.max(0).saturating_add(1)))
            })
            .collect();
        Self {
            id: schema.id,
            next_rowid: AtomicI64::new(next_rowid),
            serials,
            cache_pending: Mutex::default(),
            cache_has_pending: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            state: RwLock::new(TableState {
                types: schema.types().into(),
                missing: schema.default_row().into(),
                schema: Arc::new(schema),
                primary,
                indexes,
                last_commit: 0,
                dead_records: DeadRecords::default(),
                row_addresses: RowAddresses::default(),
            }),
        }
    }

    /// Fails with 42P01 once the table has been dropped. Callers hold its latch.
    pub fn check_exists(&self, state: &TableState) -> Result<()> {
        if self.dropped.load(Ordering::Acquire) {
            return Err(Error::UndefinedTable(state.schema.name.clone()));
        }
        Ok(())
    }

    /// A fresh hidden row id.
    pub fn next_rowid(&self) -> i64 {
        self.next_rowid.fetch_add(1, Ordering::Relaxed)
    }

    /// The next value of SERIAL column `column`, if it is one.
    pub fn next_serial(&self, column: usize) -> Option<i64> {
        let (_, next) = self.serials.iter().find(|(c, _)| *c == column)?;
        Some(next.fetch_add(1, Ordering::Relaxed))
    }

    /// Notes a value written into a SERIAL column, so the counter never hands it out again.
    pub fn observe_serial(&self, column: usize, value: i64) {
        if let Some((_, next)) = self.serials.iter().find(|(c, _)| *c == column) {
            next.fetch_max(value.saturating_add(1), Ordering::Relaxed);
        }
    }
}

/// A table's in-memory parts gathered row by row — at open, from storage; for ADD PRIMARY
/// KEY, from the rewritten rows — then built into a [`Table`] without another pass over
/// storage.
pub(crate) struct TableBuilder {
    schema: TableSchema,
    /// Whether the primary index is keyed by integers.
    pub integer: bool,
    /// The primary index's pairs as they come (the index's own input: no second vector).
    ints: Vec<(i64, RowEntry)>,
    bytes: Vec<(InlineBytes, RowEntry)>,
    /// SERIAL columns other than an integer key, with the largest value seen in each.
    largest: Vec<(usize, i64)>,
    types: Vec<DataType>,
    missing: Vec<Value>,
    /// The secondary indexes, in the schema's order (their entries are filled in by
    /// [`TableBuilder::build`]), and the entries added so far for each: in the rows' order,
    /// to be sorted once rather than inserted into a tree one by one at random places.
    indexes: Vec<SecondaryIndex>,
    entries: Vec<Vec<(IndexKey, IndexMark)>>,
}

impl TableBuilder {
    pub fn new(schema: TableSchema) -> Self {
        let integer = schema.has_integer_key();
        let largest = schema
            .serial_columns()
            .filter(|c| !(integer && schema.primary_key == [*c]))
            .map(|c| (c, 0))
            .collect();
        Self {
            integer,
            ints: Vec::new(),
            bytes: Vec::new(),
            largest,
            types: schema.types(),
            missing: schema.default_row(),
            indexes: schema
                .indexes
                .iter()
                .map(|index| SecondaryIndex::empty(index.clone(), 0))
                .collect(),
            entries: schema.indexes.iter().map(|_| Vec::new()).collect(),
            schema,
        }
    }

    /// Adds `row`, stored under `key`, in any order: its key, its secondary-index entries
    /// and its SERIAL values (so that the table's counters start past them).
    pub fn add_row(&mut self, row: &[Value], key: RowKey) -> Result<()> {
        for (column, max) in &mut self.largest {
            if let Value::Int(v) = row[*column] {
                *max = (*max).max(v);
            }
        }
        for (index, entries) in self.indexes.iter().zip(&mut self.entries) {
            let mark = IndexMark {
                pk: key.clone(),
                dead_since: None,
            };
            entries.push((index.entry_key(row, &key), mark));
        }
        self.add_key(key)
    }

    /// [`TableBuilder::add_row`] for a row as stored, decoded only if an index or a SERIAL
    /// column needs its values.
    pub fn add_stored_row(&mut self, key: RowKey, value: &[u8]) -> Result<()> {
        if self.largest.is_empty() && self.indexes.is_empty() {
            return self.add_key(key);
        }
        let row = crate::encoding::decode_row(&self.types, &self.missing, value)?;
        self.add_row(&row, key)
    }

    /// Adds a row's primary key, in any order.
    fn add_key(&mut self, key: RowKey) -> Result<()> {
        match (self.integer, key) {
            (true, RowKey::Int(k)) => self.ints.push((k, RowEntry::default())),
            (false, RowKey::Bytes(k)) => self.bytes.push((inline(&k), RowEntry::default())),
            _ => return Err(Error::Corrupt("a primary key of the wrong kind".into())),
        }
        Ok(())
    }

    /// The table, with its primary index loaded from the keys in order; a key added twice
    /// instead, if there is one.
    pub fn build(mut self) -> std::result::Result<Table, RowKey> {
        /// Sorts `pairs` by key (linear when they come sorted, as from storage); the first key
        /// found twice, if any.
        fn sorted_distinct<K: Ord + Clone>(
            pairs: &mut [(K, RowEntry)],
        ) -> std::result::Result<(), K> {
            pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            match pairs.windows(2).find(|pair| pair[0].0 == pair[1].0) {
                Some(pair) => Err(pair[0].0.clone()),
                None => Ok(()),
            }
        }
        let primary = if self.integer {
            sorted_distinct(&mut self.ints).map_err(RowKey::Int)?;
            Primary::Int(AlexMap::bulk_load(std::mem::take(&mut self.ints)))
        } else {
            sorted_distinct(&mut self.bytes).map_err(|k| RowKey::Bytes(k.to_vec()))?;
            Primary::Bytes(AlexMap::bulk_load(std::mem::take(&mut self.bytes)))
        };
        for (index, entries) in self.indexes.iter_mut().zip(self.entries) {
            // Sorted, then built bottom-up (`BTreeMap`'s `FromIterator`).
            index.entries = entries.into_iter().collect();
        }
        Ok(Table::assemble(
            self.schema,
            primary,
            self.indexes,
            self.largest,
        ))
    }
}

/// `row` widened with `missing`'s values for the columns added after it was made (rows
/// cached or versioned before an ADD COLUMN).
pub fn complete_row(row: SharedRow, missing: &[Value]) -> SharedRow {
    if row.len() >= missing.len() {
        return row;
    }
    let mut wide = row.to_vec();
    wide.extend_from_slice(&missing[row.len()..]);
    SharedRow::from(wide)
}

impl TableState {
    /// The primary key of `row`, a row of this table that was admitted by its schema.
    pub fn key_of(&self, row: &[Value]) -> RowKey {
        let pk = &self.schema.primary_key;
        match (pk.as_slice(), &self.primary) {
            ([column], Primary::Int(_)) => match row[*column] {
                Value::Int(i) => RowKey::Int(i),
                // Admitted rows hold integers in integer key columns.
                _ => RowKey::Int(0),
            },
            _ => {
                let mut out = Vec::with_capacity(INLINE_KEY_BYTES);
                for &column in pk {
                    encode_value(&mut out, &row[column]);
                }
                RowKey::Bytes(out)
            }
        }
    }

    /// The key of the given primary-key values, checked against the key columns' types.
    pub fn key_from_values(&self, values: &[Value]) -> Result<RowKey> {
        let schema = &self.schema;
        if schema.has_hidden_key() {
            return match values {
                [Value::Int(i)] => Ok(RowKey::Int(*i)),
                _ => Err(Error::InvalidDefinition(format!(
                    "table \"{}\" has no primary key: rows are addressed by their row id",
                    schema.name
                ))),
            };
        }
        if values.len() != schema.primary_key.len() {
            return Err(Error::InvalidDefinition(format!(
                "primary key of \"{}\" has {} columns, {} values given",
                schema.name,
                schema.primary_key.len(),
                values.len()
            )));
        }
        // The common case, one integer key column: no row to assemble.
        if let ([column], [value], Primary::Int(_)) =
            (schema.primary_key.as_slice(), values, &self.primary)
        {
            let column_def = &schema.columns[*column];
            return match column_def
                .data_type
                .admit(&column_def.name, value.clone())?
            {
                Value::Int(i) => Ok(RowKey::Int(i)),
                _ => Err(Error::NotNullViolation {
                    table: schema.name.clone(),
                    column: column_def.name.clone(),
                }),
            };
        }
        // Every other key is its columns' encoded values (as `key_of` encodes them).
        self.key_prefix(values).map(RowKey::Bytes)
    }

    /// The encoded leading columns of a byte-string key (all of them: the key), from their
    /// values (checked against the columns' types): every key that starts with them sorts
    /// from it to before it with `0xFF` appended (no encoded value starts with that byte).
    pub fn key_prefix(&self, values: &[Value]) -> Result<Vec<u8>> {
        let schema = &self.schema;
        let mut out = Vec::with_capacity(INLINE_KEY_BYTES);
        for (&column, value) in schema.primary_key.iter().zip(values) {
            let column_def = &schema.columns[column];
            let value = column_def
                .data_type
                .admit(&column_def.name, value.clone())?;
            if value.is_null() {
                return Err(Error::NotNullViolation {
                    table: schema.name.clone(),
                    column: column_def.name.clone(),
                });
            }
            encode_value(&mut out, &value);
        }
        Ok(out)
    }

    /// Installs a changed schema (same columns, plus any added at the end).
    pub fn set_schema(&mut self, schema: TableSchema) {
        self.types = schema.types().into();
        self.missing = schema.default_row().into();
        self.schema = Arc::new(schema);
    }

    /// Whether `key` is of the kind this table's index holds.
    pub fn check_key(&self, key: &RowKey) -> Result<()> {
        match (&self.primary, key) {
            (Primary::Int(_), RowKey::Int(_)) | (Primary::Bytes(_), RowKey::Bytes(_)) => Ok(()),
            _ => Err(Error::InvalidDefinition(format!(
                "a key of the wrong kind for table \"{}\"",
                self.schema.name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::ops::{Bound, RangeBounds};

    use proptest::prelude::*;

    use super::{IndexKey, walk_between};

    fn bound(kind: u8, key: &[u8]) -> Bound<&[u8]> {
        match kind % 3 {
            0 => Bound::Included(key),
            1 => Bound::Excluded(key),
            _ => Bound::Unbounded,
        }
    }

    proptest! {
        /// One search and a stopping walk yield what a `BTreeMap` range yields, both ways,
        /// empty and inverted ranges included.
        #[test]
        fn walking_between_bounds_is_a_range(
            keys in prop::collection::btree_set(prop::collection::vec(0u8..4, 0..4), 0..40),
            lower in prop::collection::vec(0u8..4, 0..4),
            upper in prop::collection::vec(0u8..4, 0..4),
            kinds in (any::<u8>(), any::<u8>()),
        ) {
            let map: BTreeMap<IndexKey, usize> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (IndexKey::from_slice(k), i))
                .collect();
            let (lower, upper) = (bound(kinds.0, &lower), bound(kinds.1, &upper));
            let expected: Vec<_> = map
                .iter()
                .filter(|(k, _)| RangeBounds::<[u8]>::contains(&(lower, upper), k.as_slice()))
                .collect();
            let forward: Vec<_> = walk_between(&map, lower, upper, true).collect();
            prop_assert_eq!(&forward, &expected);
            let mut backward: Vec<_> = walk_between(&map, lower, upper, false).collect();
            backward.reverse();
            prop_assert_eq!(&backward, &expected);
        }
    }
}
