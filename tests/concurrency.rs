//! Concurrency: bank transfers from several threads keep the total balance invariant in every
//! snapshot, and concurrent durable commits share storage syncs (group commit).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};

use common::*;
use omendb::storage::{MemoryStorage, Scan, Storage, StorageKind, WriteBatch};
use omendb::types::Value;
use omendb::{Database, DatabaseConfig, Direction, RowKey};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const ACCOUNTS: i64 = 16;
const START: i64 = 1_000;

fn total(db: &Database) -> i64 {
    let txn = db.session().begin_read_only().unwrap();
    txn.scan("accounts", .., Direction::Forward)
        .unwrap()
        .map(|r| int(&r.unwrap().1, 2))
        .sum()
}

fn bank_transfers(kind: StorageKind, synchronous: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(kind, dir.path());
    config.synchronous_commit = synchronous;
    let db = Database::open(config).unwrap();
    create_accounts(&db);
    db.session()
        .autocommit(|txn| {
            for id in 0..ACCOUNTS {
                txn.insert("accounts", account(id, &format!("a{id}"), START))?;
            }
            Ok(())
        })
        .unwrap();
    let writers_done = Arc::new(AtomicBool::new(false));
    let retries = Arc::new(AtomicUsize::new(0));
    let checker = {
        let (db, done) = (db.clone(), writers_done.clone());
        std::thread::spawn(move || {
            let mut checks = 0;
            while !done.load(Ordering::Acquire) || checks < 10 {
                assert_eq!(
                    total(&db),
                    ACCOUNTS * START,
                    "a snapshot saw a partial transfer"
                );
                // The secondary index gives the same total at the same snapshot.
                let txn = db.session().begin_read_only().unwrap();
                let by_balance = txn
                    .scan_index(
                        "accounts",
                        "accounts_balance",
                        Bound::Unbounded,
                        Bound::Unbounded,
                        Direction::Forward,
                    )
                    .unwrap()
                    .collect::<omendb::Result<Vec<_>>>()
                    .unwrap();
                let sum: i64 = by_balance.iter().map(|(_, r)| int(r, 2)).sum();
                assert_eq!(sum, ACCOUNTS * START);
                checks += 1;
            }
            checks
        })
    };
    let writers: Vec<_> = (0..4u64)
        .map(|seed| {
            let (db, retries) = (db.clone(), retries.clone());
            std::thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed);
                let session = db.session();
                for _ in 0..150 {
                    let from = rng.random_range(0..ACCOUNTS);
                    let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                    let amount = rng.random_range(1..100);
                    loop {
                        let result = session.autocommit(|txn| {
                            for (id, delta) in [(from, -amount), (to, amount)] {
                                let key = RowKey::Int(id);
                                let mut row = txn.get("accounts", &key)?.unwrap().to_vec();
                                row[2] = Value::Int(int(&row, 2) + delta);
                                txn.update("accounts", &key, row)?;
                            }
                            Ok(())
                        });
                        match result {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => {
                                retries.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => panic!("transfer failed: {e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    writers_done.store(true, Ordering::Release);
    let checks = checker.join().unwrap();
    assert!(checks >= 10);
    assert_eq!(total(&db), ACCOUNTS * START);
    let stats = db.stats();
    assert_eq!(
        stats.mvcc.commits,
        1 + 4 * 150,
        "every transfer committed once"
    );
    assert_eq!(stats.mvcc.retained_versions, 0);
    drop(db);
    if kind != StorageKind::Memory {
        let db = open(kind, dir.path());
        assert_eq!(total(&db), ACCOUNTS * START, "after reopening");
    }
}

#[test]
fn bank_transfers_memory() {
    bank_transfers(StorageKind::Memory, false);
}

#[test]
fn bank_transfers_redb_durable() {
    bank_transfers(StorageKind::Redb, true);
}

#[cfg(feature = "rocksdb")]
#[test]
fn bank_transfers_rocksdb_durable() {
    bank_transfers(StorageKind::RocksDb, true);
}

/// Memory storage whose syncs are counted and, while the gate is closed, wait for it to open.
#[derive(Debug)]
struct GatedStorage {
    inner: MemoryStorage,
    syncs: AtomicUsize,
    gate: Mutex<bool>,
    opened: Condvar,
    entered: Barrier,
}

impl Storage for GatedStorage {
    fn name(&self) -> &'static str {
        "gated"
    }
    fn get(&self, key: &[u8]) -> omendb::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn write(&self, batch: WriteBatch, sync: bool) -> omendb::Result<()> {
        self.inner.write(batch, sync)
    }
    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> omendb::Result<Scan<'_>> {
        self.inner.scan(start, end)
    }
    fn sync(&self) -> omendb::Result<()> {
        if self.syncs.fetch_add(1, Ordering::SeqCst) == 0 {
            self.entered.wait();
            let mut open = self.gate.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
        }
        Ok(())
    }
}

/// While one commit's sync is in flight, two more commits arrive; when it completes, one of
/// them syncs for both: three durable commits, two syncs.
#[test]
fn group_commit_shares_one_sync_between_waiting_commits() {
    let storage = Arc::new(GatedStorage {
        inner: MemoryStorage::new(),
        syncs: AtomicUsize::new(0),
        gate: Mutex::new(false),
        opened: Condvar::new(),
        entered: Barrier::new(2),
    });
    let db = Database::open_storage(storage.clone(), &DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    let commit = |id: i64| {
        let db = db.clone();
        std::thread::spawn(move || {
            db.session()
                .autocommit(|txn| txn.insert("accounts", account(id, &format!("a{id}"), 0)))
                .unwrap();
        })
    };
    let first = commit(1);
    storage.entered.wait(); // the first commit is inside its sync
    let others = [commit(2), commit(3)];
    while db.stats().mvcc.last_written < 3 {
        std::thread::yield_now(); // until both later commits have written their batches
    }
    *storage.gate.lock().unwrap() = true;
    storage.opened.notify_all();
    first.join().unwrap();
    for other in others {
        other.join().unwrap();
    }
    let stats = db.stats().mvcc;
    assert_eq!(stats.commits, 3);
    assert_eq!((stats.last_written, stats.last_durable), (3, 3));
    assert_eq!(stats.syncs, 2, "{stats:?}");
    assert_eq!(storage.syncs.load(Ordering::SeqCst), 2);
    assert_eq!(total(&db), 0);
}

/// Memory storage that fails on demand: every sync, or every write batch of at least a
/// given number of operations.
#[derive(Debug, Default)]
struct Failing {
    inner: MemoryStorage,
    syncs: bool,
    writes_of: Option<usize>,
}

fn io_error(what: &str) -> omendb::Error {
    omendb::Error::Storage {
        backend: "failing",
        message: format!("{what}: input/output error"),
    }
}

impl Storage for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }
    fn get(&self, key: &[u8]) -> omendb::Result<Option<Vec<u8>>> {
        self.inner.get(key)
    }
    fn write(&self, batch: WriteBatch, sync: bool) -> omendb::Result<()> {
        match self.writes_of {
            Some(ops) if batch.len() >= ops => Err(io_error("write")),
            _ => self.inner.write(batch, sync),
        }
    }
    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> omendb::Result<Scan<'_>> {
        self.inner.scan(start, end)
    }
    fn sync(&self) -> omendb::Result<()> {
        match self.syncs {
            true => Err(io_error("fsync")),
            false => self.inner.sync(),
        }
    }
}

/// A failed sync fails the commit waiting for it, and every later commit, since storage can
/// no longer promise durability.
#[test]
fn a_failed_sync_fails_the_commit_and_stops_later_ones() {
    let storage = Arc::new(Failing {
        syncs: true,
        ..Failing::default()
    });
    let db = Database::open_storage(storage, &DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    let session = db.session();
    let err = session
        .autocommit(|txn| txn.insert("accounts", account(1, "a", 0)))
        .unwrap_err();
    assert_eq!(err.sqlstate(), "58030", "{err}");
    assert!(err.to_string().contains("input/output error"));
    assert_eq!(sqlstate(session.begin()), "58030");
    let mut relaxed = db.session();
    relaxed.set_synchronous_commit(false);
    assert_eq!(sqlstate(relaxed.begin()), "58030");
}

/// Inserts accounts `ids` in one transaction: three storage writes each (the row and its
/// entries in the indexes on `owner` and `balance`).
fn insert_accounts(db: &Database, ids: std::ops::Range<i64>) -> omendb::Result<()> {
    let mut session = db.session();
    session.set_synchronous_commit(false);
    session.autocommit(|txn| {
        for id in ids {
            txn.insert("accounts", account(id, &format!("o{id}"), 1))?;
        }
        Ok(())
    })
}

/// A failed storage write fails its commit and leaves nothing of it behind. A small commit is
/// written before its versions are installed, so the database goes on; a large one is written
/// while they are installed, so its failure stops later transactions as a failed sync does —
/// and the snapshots already open still see only what was committed before it.
#[test]
fn a_failed_write_fails_its_commit_and_a_large_one_stops_later_commits() {
    let storage = Arc::new(Failing {
        writes_of: Some(10_000),
        ..Failing::default()
    });
    let db = Database::open_storage(storage, &DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    insert_accounts(&db, 0..100).unwrap();
    let before = db.session().begin_read_only().unwrap();

    // 12,000 rows (index entries are not stored): over the storage's limit, under the
    // overlap's.
    assert_eq!(sqlstate(insert_accounts(&db, 100..12_100)), "58030");
    insert_accounts(&db, 100..200).unwrap();
    assert_eq!(total(&db), 200);
    let last = db.session().begin_read_only().unwrap();

    // 20,000 rows: written on a second thread while installed.
    let err = insert_accounts(&db, 1_000..21_000).unwrap_err();
    assert_eq!(err.sqlstate(), "58030", "{err}");
    assert!(err.to_string().contains("input/output error"), "{err}");
    assert_eq!(sqlstate(insert_accounts(&db, 200..201)), "58030");
    assert_eq!(sqlstate(db.session().begin_read_only()), "58030");
    let seen = |txn: &omendb::Transaction| {
        txn.scan("accounts", .., Direction::Forward)
            .unwrap()
            .map(|r| int(&r.unwrap().1, 0))
            .collect::<Vec<_>>()
    };
    assert_eq!(seen(&before), (0..100).collect::<Vec<_>>());
    assert_eq!(seen(&last), (0..200).collect::<Vec<_>>());
    assert!(last.get("accounts", &RowKey::Int(5_000)).unwrap().is_none());
}

#[test]
fn dropping_a_table_fails_transactions_that_wrote_to_it() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    let session = db.session();
    let mut txn = session.begin().unwrap();
    txn.insert("accounts", account(1, "a", 0)).unwrap();
    db.drop_table("accounts").unwrap();
    assert_eq!(sqlstate(txn.commit()), "42P01");
    create_accounts(&db);
    assert_eq!(total(&db), 0, "nothing of the failed transaction landed");
}

#[test]
fn a_unique_index_created_under_a_writer_is_checked_at_its_commit() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    let session = db.session();
    session
        .autocommit(|txn| txn.insert("accounts", account(1, "a", 7)))
        .unwrap();
    let mut txn = session.begin().unwrap();
    txn.insert("accounts", account(2, "b", 7)).unwrap();
    txn.insert("accounts", account(3, "c", 8)).unwrap();
    txn.insert("accounts", account(4, "d", 8)).unwrap();
    // Existing rows have distinct balances, so the index builds; the writer's rows clash.
    db.create_index("accounts", "accounts_balance_key", &["balance"], true)
        .unwrap();
    let err = txn.commit().unwrap_err();
    assert_eq!(err.sqlstate(), "23505", "{err}");
    assert_eq!(total(&db), 7);
}

#[test]
fn a_scan_of_a_dropped_table_stops_with_42p01() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    create_accounts(&db);
    let session = db.session();
    session
        .autocommit(|txn| {
            for id in 0..1000 {
                txn.insert("accounts", account(id, &format!("a{id}"), 1))?;
            }
            Ok(())
        })
        .unwrap();
    let txn = session.begin_read_only().unwrap();
    let mut scan = txn.scan("accounts", .., Direction::Forward).unwrap();
    assert!(scan.next().unwrap().is_ok());
    db.drop_table("accounts").unwrap();
    let rest: Vec<_> = scan.collect();
    let err = rest
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("an error once dropped");
    assert_eq!(err.sqlstate(), "42P01");
    assert!(rest.len() < 1000, "the scan stopped");
}

#[test]
fn handles_move_between_threads() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Database>();
    send::<omendb::Session>();
    send::<omendb::Transaction>();
    send::<omendb::RowScan>();
}

/// Concurrent `UPDATE … SET n = n + 1` of one row: under READ COMMITTED each waits for the
/// row lock and re-reads the row, so none fails and none is lost; under REPEATABLE READ the
/// losers fail with 40001 and a retry loop still loses nothing.
fn concurrent_increments(isolation: &str) -> (i64, usize) {
    const THREADS: usize = 4;
    const EACH: usize = 50;
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    db.session()
        .execute("CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT); INSERT INTO counter VALUES (1, 0)")
        .unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let retries = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (db, start, retries) = (db.clone(), start.clone(), retries.clone());
            let isolation = isolation.to_owned();
            std::thread::spawn(move || {
                let mut session = db.session();
                session
                    .execute(&format!(
                        "SET default_transaction_isolation = '{isolation}'"
                    ))
                    .unwrap();
                start.wait();
                for _ in 0..EACH {
                    loop {
                        session.execute("BEGIN").unwrap();
                        let done = session
                            .execute("UPDATE counter SET n = n + 1 WHERE id = 1")
                            .and_then(|_| session.execute("COMMIT"));
                        match done {
                            Ok(_) => break,
                            Err(e) => {
                                assert_eq!(e.sqlstate(), "40001", "{e}");
                                session.execute("ROLLBACK").unwrap();
                                retries.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let n = db.session().execute("SELECT n FROM counter").unwrap()[0].rows[0][0].clone();
    let Value::Int(n) = n else { panic!("{n:?}") };
    assert_eq!(db.stats().mvcc.row_locks, 0, "every lock released");
    (n, retries.load(Ordering::Relaxed))
}

#[test]
fn read_committed_increments_wait_and_never_fail() {
    let (n, retries) = concurrent_increments("read committed");
    assert_eq!(n, 200);
    assert_eq!(retries, 0);
}

#[test]
fn repeatable_read_increments_fail_and_retry_without_losing_any() {
    let (n, _) = concurrent_increments("repeatable read");
    assert_eq!(n, 200);
}

/// Two transactions that each hold a row and want the other's: one fails with 40P01, and
/// once it rolls back the other finishes.
#[test]
fn crossed_row_locks_are_a_deadlock() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    db.session()
        .execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0), (2, 0)")
        .unwrap();
    let mut first = db.session();
    let mut second = db.session();
    first
        .execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .unwrap();
    second
        .execute("BEGIN; UPDATE t SET v = 2 WHERE id = 2")
        .unwrap();
    let other = std::thread::spawn(move || {
        let result = first.execute("UPDATE t SET v = 1 WHERE id = 2");
        let failed = result.as_ref().err().map(|e| e.sqlstate());
        first
            .execute(if failed.is_some() {
                "ROLLBACK"
            } else {
                "COMMIT"
            })
            .unwrap();
        failed
    });
    let result = second.execute("UPDATE t SET v = 2 WHERE id = 1");
    let here = result.as_ref().err().map(|e| e.sqlstate());
    second
        .execute(if here.is_some() { "ROLLBACK" } else { "COMMIT" })
        .unwrap();
    let there = other.join().unwrap();
    let failures: Vec<&str> = [here, there].into_iter().flatten().collect();
    assert_eq!(
        failures,
        ["40P01"],
        "exactly one side is the deadlock victim"
    );
    assert_eq!(db.stats().mvcc.row_locks, 0);
}
