//! Differential test: random interleavings of concurrent transactions run in lockstep on every
//! storage backend and on a small model of snapshot isolation (a `BTreeMap` per snapshot), and
//! every result — rows, booleans and SQLSTATEs — must agree. Savepoints too: the model keeps a
//! copy of the write set per savepoint, the engine an undo log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Value};
use omendb::{Database, DatabaseConfig, Direction, RowKey, Savepoint, Transaction};
use proptest::prelude::*;

const SLOTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, i64, i64),
    Update(usize, i64, i64),
    Delete(usize, i64),
    Get(usize, i64),
    Scan(usize, i64, i64, bool),
    ByValue(usize, i64, i64),
    Commit(usize),
    Rollback(usize),
    /// SAVEPOINT; ROLLBACK TO and RELEASE of the newest one.
    Savepoint(usize),
    RollbackTo(usize),
    Release(usize),
}

fn op() -> impl Strategy<Value = Op> {
    op_in(SLOTS, 12)
}

/// Operations on the first `slots` transaction slots and keys below `keys`.
fn op_in(slots: usize, keys: i64) -> impl Strategy<Value = Op> {
    let slot = 0..slots;
    let key = 0..keys;
    let value = 0..6i64;
    prop_oneof![
        4 => (slot.clone(), key.clone(), value.clone()).prop_map(|(s, k, v)| Op::Insert(s, k, v)),
        3 => (slot.clone(), key.clone(), value.clone()).prop_map(|(s, k, v)| Op::Update(s, k, v)),
        2 => (slot.clone(), key.clone()).prop_map(|(s, k)| Op::Delete(s, k)),
        2 => (slot.clone(), key.clone()).prop_map(|(s, k)| Op::Get(s, k)),
        1 => (slot.clone(), key.clone(), key.clone(), any::<bool>()).prop_map(|(s, a, b, r)| Op::Scan(s, a, b, r)),
        1 => (slot.clone(), value.clone(), value.clone()).prop_map(|(s, a, b)| Op::ByValue(s, a, b)),
        // One value: the look-up of equal values, which takes its own path.
        1 => (slot.clone(), value).prop_map(|(s, v)| Op::ByValue(s, v, v)),
        3 => slot.clone().prop_map(Op::Commit),
        1 => slot.clone().prop_map(Op::Rollback),
        2 => slot.clone().prop_map(Op::Savepoint),
        2 => slot.clone().prop_map(Op::RollbackTo),
        1 => slot.prop_map(Op::Release),
    ]
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Done,
    Changed(bool),
    Row(Option<i64>),
    Rows(Vec<(i64, i64)>),
    Failed(&'static str),
}

// ---- the model ----------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Model {
    committed: BTreeMap<i64, i64>,
    last_write: HashMap<i64, u64>,
    version: u64,
    slots: [Option<ModelTxn>; SLOTS],
}

#[derive(Debug, Clone)]
struct ModelTxn {
    snapshot: BTreeMap<i64, i64>,
    at: u64,
    writes: BTreeMap<i64, (Option<i64>, bool)>,
    /// The write set as each open savepoint found it, oldest first.
    saved: Vec<BTreeMap<i64, (Option<i64>, bool)>>,
}

impl Model {
    fn txn(&mut self, slot: usize) -> &mut ModelTxn {
        let (committed, version) = (self.committed.clone(), self.version);
        self.slots[slot].get_or_insert_with(|| ModelTxn {
            snapshot: committed,
            at: version,
            writes: BTreeMap::new(),
            saved: Vec::new(),
        })
    }

    fn newer(&self, key: i64, at: u64) -> bool {
        self.last_write.get(&key).is_some_and(|&v| v > at)
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        match *op {
            Op::Insert(s, k, v) => {
                self.txn(s);
                let t = self.slots[s].clone().unwrap();
                let fresh = match t.writes.get(&k) {
                    Some((Some(_), _)) => return Outcome::Failed("23505"),
                    Some((None, _)) => false,
                    None if t.snapshot.contains_key(&k) => return Outcome::Failed("23505"),
                    None if self.newer(k, t.at) && self.committed.contains_key(&k) => {
                        return Outcome::Failed("23505");
                    }
                    None if self.newer(k, t.at) => return Outcome::Failed("40001"),
                    None => true,
                };
                self.txn(s).writes.insert(k, (Some(v), fresh));
                Outcome::Done
            }
            Op::Update(s, k, _) | Op::Delete(s, k) => {
                let delete = matches!(op, Op::Delete(..));
                self.txn(s);
                let t = self.slots[s].clone().unwrap();
                let fresh = match t.writes.get(&k) {
                    Some((None, _)) => return Outcome::Changed(false),
                    Some((Some(_), fresh)) => *fresh,
                    None if !t.snapshot.contains_key(&k) => return Outcome::Changed(false),
                    None if self.newer(k, t.at) => return Outcome::Failed("40001"),
                    None => false,
                };
                let writes = &mut self.txn(s).writes;
                match (delete, fresh) {
                    (true, true) => {
                        writes.remove(&k);
                    }
                    (true, false) => {
                        writes.insert(k, (None, false));
                    }
                    (false, _) => {
                        writes.insert(k, (v_of(op), fresh));
                    }
                }
                Outcome::Changed(true)
            }
            Op::Get(s, k) => Outcome::Row(self.txn(s).view().get(&k).copied()),
            Op::Scan(s, a, b, reverse) => {
                let view = self.txn(s).view();
                let mut rows: Vec<(i64, i64)> = if a <= b {
                    view.range(a..=b).map(|(&k, &v)| (k, v)).collect()
                } else {
                    Vec::new()
                };
                if reverse {
                    rows.reverse();
                }
                Outcome::Rows(rows)
            }
            Op::ByValue(s, a, b) => {
                let view = self.txn(s).view();
                let mut rows: Vec<(i64, i64)> = view
                    .into_iter()
                    .filter(|(_, v)| (a..=b).contains(v))
                    .collect();
                rows.sort_by_key(|&(k, v)| (v, k));
                Outcome::Rows(rows)
            }
            Op::Commit(s) => {
                let Some(t) = self.slots[s].take() else {
                    return Outcome::Done;
                };
                if t.writes.is_empty() {
                    return Outcome::Done;
                }
                for (&k, &(row, fresh)) in &t.writes {
                    if fresh && row.is_some() && self.committed.contains_key(&k) {
                        return Outcome::Failed("23505");
                    }
                    if self.newer(k, t.at) {
                        return Outcome::Failed("40001");
                    }
                }
                self.version += 1;
                for (k, (row, _)) in t.writes {
                    match row {
                        Some(v) => self.committed.insert(k, v),
                        None => self.committed.remove(&k),
                    };
                    self.last_write.insert(k, self.version);
                }
                Outcome::Done
            }
            Op::Rollback(s) => {
                self.slots[s] = None;
                Outcome::Done
            }
            Op::Savepoint(s) => {
                let t = self.txn(s);
                t.saved.push(t.writes.clone());
                Outcome::Done
            }
            Op::RollbackTo(s) => {
                if let Some(t) = &mut self.slots[s] {
                    if let Some(saved) = t.saved.last() {
                        t.writes = saved.clone();
                    }
                }
                Outcome::Done
            }
            Op::Release(s) => {
                if let Some(t) = &mut self.slots[s] {
                    t.saved.pop();
                }
                Outcome::Done
            }
        }
    }
}

fn v_of(op: &Op) -> Option<i64> {
    match op {
        Op::Update(_, _, v) => Some(*v),
        _ => None,
    }
}

impl ModelTxn {
    fn view(&self) -> BTreeMap<i64, i64> {
        let mut view = self.snapshot.clone();
        for (&k, &(row, _)) in &self.writes {
            match row {
                Some(v) => view.insert(k, v),
                None => view.remove(&k),
            };
        }
        view
    }
}

// ---- the engine ---------------------------------------------------------------------------

struct Engine {
    db: Database,
    slots: [Option<Transaction>; SLOTS],
    savepoints: [Vec<Savepoint>; SLOTS],
    _dir: tempfile::TempDir,
}

fn row(k: i64, v: i64) -> Vec<Value> {
    vec![Value::Int(k), Value::Int(v)]
}

fn pair(row: &[Value]) -> (i64, i64) {
    match row {
        [Value::Int(k), Value::Int(v)] => (*k, *v),
        other => panic!("unexpected row {other:?}"),
    }
}

impl Engine {
    fn open(kind: StorageKind) -> Self {
        Self::with_config(kind, |_| {})
    }

    fn with_cache(kind: StorageKind, cache_bytes: usize) -> Self {
        Self::with_config(kind, |config| config.cache_bytes = cache_bytes)
    }

    fn with_config(kind: StorageKind, tune: impl FnOnce(&mut DatabaseConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = (kind != StorageKind::Memory).then(|| dir.path().to_path_buf());
        let mut config = DatabaseConfig::new(kind, data_dir);
        config.synchronous_commit = false;
        config.cache_bytes = 4 << 10;
        tune(&mut config);
        let db = Database::open(config).unwrap();
        db.create_table(
            TableDef::new("kv")
                .column(Column::new("k", DataType::BigInt))
                .column(Column::new("v", DataType::BigInt).not_null())
                .primary_key(&["k"]),
        )
        .unwrap();
        db.create_index("kv", "kv_v", &["v"], false).unwrap();
        Self {
            db,
            slots: Default::default(),
            savepoints: Default::default(),
            _dir: dir,
        }
    }

    fn txn(&mut self, slot: usize) -> &mut Transaction {
        let db = &self.db;
        self.slots[slot].get_or_insert_with(|| db.session().begin().unwrap())
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let result = match *op {
            Op::Insert(s, k, v) => self.txn(s).insert("kv", row(k, v)).map(|_| Outcome::Done),
            Op::Update(s, k, v) => self
                .txn(s)
                .update("kv", &RowKey::Int(k), row(k, v))
                .map(Outcome::Changed),
            Op::Delete(s, k) => self
                .txn(s)
                .delete("kv", &RowKey::Int(k))
                .map(Outcome::Changed),
            Op::Get(s, k) => self
                .txn(s)
                .get("kv", &RowKey::Int(k))
                .map(|r| Outcome::Row(r.map(|r| pair(&r).1))),
            Op::Scan(s, a, b, reverse) => {
                let direction = if reverse {
                    Direction::Backward
                } else {
                    Direction::Forward
                };
                let range = (
                    Bound::Included(RowKey::Int(a)),
                    Bound::Included(RowKey::Int(b)),
                );
                self.txn(s).scan("kv", range, direction).and_then(|scan| {
                    scan.map(|r| r.map(|(_, row)| pair(&row)))
                        .collect::<omendb::Result<Vec<_>>>()
                        .map(Outcome::Rows)
                })
            }
            Op::ByValue(s, a, b) => self
                .txn(s)
                .scan_index(
                    "kv",
                    "kv_v",
                    Bound::Included(&[Value::Int(a)][..]),
                    Bound::Included(&[Value::Int(b)][..]),
                    Direction::Forward,
                )
                .and_then(|scan| {
                    scan.map(|r| r.map(|(_, row)| pair(&row)))
                        .collect::<omendb::Result<Vec<_>>>()
                        .map(Outcome::Rows)
                }),
            Op::Commit(s) => {
                self.savepoints[s].clear();
                match self.slots[s].take() {
                    Some(txn) => txn.commit().map(|()| Outcome::Done),
                    None => Ok(Outcome::Done),
                }
            }
            Op::Rollback(s) => {
                self.savepoints[s].clear();
                if let Some(txn) = self.slots[s].take() {
                    txn.rollback();
                }
                Ok(Outcome::Done)
            }
            Op::Savepoint(s) => {
                let savepoint = self.txn(s).savepoint();
                self.savepoints[s].push(savepoint);
                Ok(Outcome::Done)
            }
            Op::RollbackTo(s) => {
                if let (Some(txn), Some(savepoint)) =
                    (&mut self.slots[s], self.savepoints[s].last())
                {
                    txn.rollback_to(savepoint);
                }
                Ok(Outcome::Done)
            }
            Op::Release(s) => {
                self.savepoints[s].pop();
                if let (Some(txn), true) = (&mut self.slots[s], self.savepoints[s].is_empty()) {
                    txn.release_savepoints();
                }
                Ok(Outcome::Done)
            }
        };
        result.unwrap_or_else(|e| Outcome::Failed(e.sqlstate()))
    }
}

fn backends() -> Vec<StorageKind> {
    let mut kinds = vec![StorageKind::Memory, StorageKind::Redb];
    if cfg!(feature = "rocksdb") {
        kinds.push(StorageKind::RocksDb);
    }
    kinds
}

/// Runs `ops` on the model and on every backend, comparing every outcome and the end state.
fn agree(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    let mut engines: Vec<(StorageKind, Engine)> = backends()
        .into_iter()
        .map(|k| (k, Engine::open(k)))
        .collect();
    // A cache too small for a handful of rows: constant admission and eviction.
    engines.push((
        StorageKind::Memory,
        Engine::with_cache(StorageKind::Memory, 600),
    ));
    // Every commit's write made into a table file that RocksDB ingests.
    if cfg!(feature = "rocksdb") {
        engines.push((
            StorageKind::RocksDb,
            Engine::with_config(StorageKind::RocksDb, |config| {
                config.storage.rocksdb.ingest_from_bytes = 0;
            }),
        ));
    }
    for (step, op) in ops.iter().enumerate() {
        let expected = model.apply(op);
        for (kind, engine) in &mut engines {
            let got = engine.apply(op);
            prop_assert_eq!(&got, &expected, "step {} {:?} on {}", step, op, kind);
        }
    }
    for (_, engine) in &mut engines {
        engine.slots = Default::default();
        let stats = engine.db.stats();
        prop_assert_eq!(stats.mvcc.retained_versions, 0);
        prop_assert_eq!(stats.mvcc.active_transactions, 0);
        prop_assert_eq!(stats.tables[0].entries, model.committed.len());
        prop_assert_eq!(stats.tables[0].secondary_entries, model.committed.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn backends_agree_with_the_model(ops in proptest::collection::vec(op(), 1..80)) {
        agree(&ops)?;
    }

    /// One transaction at a time over four keys: rewrites of the same key around savepoints.
    #[test]
    fn savepoints_agree_with_the_model(ops in proptest::collection::vec(op_in(1, 4), 1..60)) {
        agree(&ops)?;
    }
}
