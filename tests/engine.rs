//! The engine's behavioural battery, run against every storage backend: tables, keys, indexes,
//! transactions, errors, the row cache, garbage collection, and recovery after reopening.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ops::Bound;

use common::*;
use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Value};
use omendb::{Database, Direction, RowKey, Transaction};

fn ids(
    rows: impl IntoIterator<Item = omendb::Result<(RowKey, omendb::types::SharedRow)>>,
) -> Vec<i64> {
    rows.into_iter().map(|r| int(&r.unwrap().1, 0)).collect()
}

fn insert_accounts(db: &Database, n: i64) {
    db.session()
        .autocommit(|txn| {
            for id in 1..=n {
                txn.insert("accounts", account(id, &format!("owner{id}"), id * 10))?;
            }
            Ok(())
        })
        .unwrap();
}

fn crud_and_reopen(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(kind, dir.path());
        create_accounts(&db);
        insert_accounts(&db, 5);
        let session = db.session();
        session
            .autocommit(|txn| {
                let key = txn.key("accounts", &[Value::Int(2)])?;
                assert!(txn.update("accounts", &key, account(2, "owner2", 99))?);
                let key = txn.key("accounts", &[Value::Int(3)])?;
                assert!(txn.delete("accounts", &key)?);
                assert!(!txn.delete("accounts", &key)?, "already deleted");
                Ok(())
            })
            .unwrap();
        let txn = session.begin_read_only().unwrap();
        let two = txn.get("accounts", &RowKey::Int(2)).unwrap().unwrap();
        assert_eq!(int(&two, 2), 99);
        assert!(txn.get("accounts", &RowKey::Int(3)).unwrap().is_none());
        assert_eq!(
            ids(txn.scan("accounts", .., Direction::Forward).unwrap()),
            [1, 2, 4, 5]
        );
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    let txn = db.session().begin_read_only().unwrap();
    assert_eq!(
        ids(txn.scan("accounts", .., Direction::Forward).unwrap()),
        [1, 2, 4, 5]
    );
    let two = txn.get("accounts", &RowKey::Int(2)).unwrap().unwrap();
    assert_eq!(int(&two, 2), 99);
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
    let balances: Vec<i64> = by_balance.iter().map(|(_, r)| int(r, 2)).collect();
    assert_eq!(balances, [10, 40, 50, 99]);
    // The recovered unique index still guards owners.
    let mut txn = db.session().begin().unwrap();
    assert_eq!(
        sqlstate(txn.insert("accounts", account(9, "owner4", 0))),
        "23505"
    );
    txn.insert("accounts", account(9, "owner3", 0)).unwrap();
    txn.commit().unwrap();
}

fn own_writes_and_rollback(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    insert_accounts(&db, 3);
    let session = db.session();
    let mut txn = session.begin().unwrap();
    txn.insert("accounts", account(10, "ten", 1)).unwrap();
    txn.delete("accounts", &RowKey::Int(1)).unwrap();
    txn.update("accounts", &RowKey::Int(2), account(2, "two", 7))
        .unwrap();
    assert_eq!(
        ids(txn.scan("accounts", .., Direction::Forward).unwrap()),
        [2, 3, 10]
    );
    assert_eq!(
        ids(txn.scan("accounts", .., Direction::Backward).unwrap()),
        [10, 3, 2]
    );
    let low = txn
        .scan_index(
            "accounts",
            "accounts_balance",
            Bound::Unbounded,
            Bound::Included(&[Value::Int(7)][..]),
            Direction::Forward,
        )
        .unwrap()
        .collect::<omendb::Result<Vec<_>>>()
        .unwrap();
    assert_eq!(
        low.iter().map(|(_, r)| int(r, 0)).collect::<Vec<_>>(),
        [10, 2]
    );
    // Others see none of it.
    let other = session.begin_read_only().unwrap();
    assert_eq!(
        ids(other.scan("accounts", .., Direction::Forward).unwrap()),
        [1, 2, 3]
    );
    txn.rollback();
    let after = session.begin_read_only().unwrap();
    assert_eq!(
        ids(after.scan("accounts", .., Direction::Forward).unwrap()),
        [1, 2, 3]
    );
    let two = after.get("accounts", &RowKey::Int(2)).unwrap().unwrap();
    assert_eq!(row_owner(&two), "owner2");
}

fn row_owner(row: &[Value]) -> &str {
    match &row[1] {
        Value::Text(s) => s,
        other => panic!("owner {other:?}"),
    }
}

fn ranges_both_directions(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    // Enough rows for several scan batches, with gaps.
    db.session()
        .autocommit(|txn| {
            for id in (0..5000).map(|i| i * 3) {
                txn.insert("accounts", account(id, &format!("o{id}"), id % 7))?;
            }
            Ok(())
        })
        .unwrap();
    let txn = db.session().begin_read_only().unwrap();
    let expected: Vec<i64> = (0..5000)
        .map(|i| i * 3)
        .filter(|&id| (100..=9000).contains(&id))
        .collect();
    let range = RowKey::Int(100)..=RowKey::Int(9000);
    assert_eq!(
        ids(txn
            .scan("accounts", range.clone(), Direction::Forward)
            .unwrap()),
        expected
    );
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(
        ids(txn.scan("accounts", range, Direction::Backward).unwrap()),
        reversed
    );
    let all = ids(txn.scan("accounts", .., Direction::Forward).unwrap());
    assert_eq!(all.len(), 5000);
    assert!(
        ids(txn
            .scan(
                "accounts",
                RowKey::Int(50)..RowKey::Int(10),
                Direction::Forward
            )
            .unwrap())
        .is_empty()
    );
    // Index scan with a value range, ties in primary-key order.
    let sixes = txn
        .scan_index(
            "accounts",
            "accounts_balance",
            Bound::Included(&[Value::Int(6)][..]),
            Bound::Included(&[Value::Int(6)][..]),
            Direction::Forward,
        )
        .unwrap()
        .collect::<omendb::Result<Vec<_>>>()
        .unwrap();
    let expected: Vec<i64> = (0..5000).map(|i| i * 3).filter(|id| id % 7 == 6).collect();
    assert_eq!(
        sixes.iter().map(|(_, r)| int(r, 0)).collect::<Vec<_>>(),
        expected
    );
    let above = txn
        .scan_index(
            "accounts",
            "accounts_balance",
            Bound::Excluded(&[Value::Int(5)][..]),
            Bound::Unbounded,
            Direction::Backward,
        )
        .unwrap()
        .collect::<omendb::Result<Vec<_>>>()
        .unwrap();
    assert_eq!(above.len(), expected.len());
    assert_eq!(int(&above[0].1, 0), *expected.last().unwrap());
}

fn index_scans_merge_own_writes_across_batches(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    db.session()
        .autocommit(|txn| {
            for id in 0..3000 {
                txn.insert("accounts", account(id, &format!("o{id}"), id % 5))?;
            }
            Ok(())
        })
        .unwrap();
    let mut txn = db.session().begin().unwrap();
    // Move every tenth row to balance 3, delete every seventh, add some rows.
    let mut expected: std::collections::BTreeMap<i64, i64> =
        (0..3000).map(|id| (id, id % 5)).collect();
    for id in (0..3000).step_by(10) {
        txn.update(
            "accounts",
            &RowKey::Int(id),
            account(id, &format!("o{id}"), 3),
        )
        .unwrap();
        expected.insert(id, 3);
    }
    for id in (0..3000).step_by(7) {
        txn.delete("accounts", &RowKey::Int(id)).unwrap();
        expected.remove(&id);
    }
    for id in 5000..5100 {
        txn.insert("accounts", account(id, &format!("o{id}"), 3))
            .unwrap();
        expected.insert(id, 3);
    }
    let mut want: Vec<(i64, i64)> = expected
        .iter()
        .filter(|(_, b)| (2..=3).contains(*b))
        .map(|(&id, &b)| (b, id))
        .collect();
    want.sort();
    let bounds = ([Value::Int(2)], [Value::Int(3)]);
    for direction in [Direction::Forward, Direction::Backward] {
        let got: Vec<(i64, i64)> = txn
            .scan_index(
                "accounts",
                "accounts_balance",
                Bound::Included(&bounds.0[..]),
                Bound::Included(&bounds.1[..]),
                direction,
            )
            .unwrap()
            .map(|r| {
                let row = r.unwrap().1;
                (int(&row, 2), int(&row, 0))
            })
            .collect();
        let mut want = want.clone();
        if direction == Direction::Backward {
            want.reverse();
        }
        assert_eq!(got, want, "{direction:?}");
    }
    // Scans are lazy: taking a few rows reads a batch, not the range.
    let first: Vec<_> = txn
        .scan_index(
            "accounts",
            "accounts_balance",
            Bound::Unbounded,
            Bound::Unbounded,
            Direction::Forward,
        )
        .unwrap()
        .take(3)
        .collect::<omendb::Result<Vec<_>>>()
        .unwrap();
    assert_eq!(first.len(), 3);
}

fn errors_carry_sqlstates(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    insert_accounts(&db, 2);
    let mut txn = db.session().begin().unwrap();
    assert_eq!(
        sqlstate(txn.insert("accounts", account(1, "new", 0))),
        "23505"
    );
    assert_eq!(
        sqlstate(txn.insert("accounts", account(3, "owner1", 0))),
        "23505"
    );
    let mut null_owner = account(4, "x", 0);
    null_owner[1] = Value::Null;
    assert_eq!(sqlstate(txn.insert("accounts", null_owner)), "23502");
    let mut bad_type = account(4, "x", 0);
    bad_type[2] = Value::Text("lots".into());
    assert_eq!(sqlstate(txn.insert("accounts", bad_type)), "42804");
    assert_eq!(
        sqlstate(txn.insert("accounts", vec![Value::Int(4)])),
        "42601"
    );
    assert_eq!(sqlstate(txn.insert("nope", account(4, "x", 0))), "42P01");
    assert_eq!(sqlstate(txn.get("nope", &RowKey::Int(1))), "42P01");
    let err = txn.insert("accounts", account(5, "owner2", 0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate key value violates unique constraint \"accounts_owner_key\""
    );
    assert_eq!(err.detail(), Some("Key (owner)=(owner2) already exists."));
    // Statement errors leave the transaction usable.
    txn.insert("accounts", account(4, "four", 0)).unwrap();
    txn.commit().unwrap();
    assert_eq!(
        sqlstate(
            db.create_table(TableDef::new("accounts").column(Column::new("a", DataType::Integer)))
        ),
        "42P07"
    );
    assert_eq!(
        sqlstate(db.create_index("accounts", "i", &["missing"], false)),
        "42703"
    );
    assert_eq!(sqlstate(db.drop_index("missing")), "42704");
    assert_eq!(sqlstate(db.drop_table("missing")), "42P01");

    db.create_table(
        TableDef::new("small")
            .column(Column::new("a", DataType::SmallInt))
            .column(Column::new("r", DataType::Real)),
    )
    .unwrap();
    let mut txn = db.session().begin().unwrap();
    assert_eq!(
        sqlstate(txn.insert("small", vec![Value::Int(40_000), Value::Null])),
        "22003"
    );
    assert_eq!(
        sqlstate(txn.insert("small", vec![Value::Null, Value::Float(1e300)])),
        "22003"
    );
    let ro = db.session().begin_read_only().unwrap();
    drop(txn);
    let mut ro = ro;
    assert_eq!(
        sqlstate(ro.insert("small", vec![Value::Int(1), Value::Null])),
        "25006"
    );
}

/// (balance, id) of the rows a balance-index scan over `low..=high` returns, in index order.
fn by_balance(txn: &Transaction, low: i64, high: i64) -> Vec<(i64, i64)> {
    let bounds = ([Value::Int(low)], [Value::Int(high)]);
    txn.scan_index(
        "accounts",
        "accounts_balance",
        Bound::Included(&bounds.0[..]),
        Bound::Included(&bounds.1[..]),
        Direction::Forward,
    )
    .unwrap()
    .map(|r| {
        let row = r.unwrap().1;
        (int(&row, 2), int(&row, 0))
    })
    .collect()
}

/// An index scan after earlier ones in the same transaction sees the rows it wrote as they are
/// now: rewritten twice, deleted, inserted, and put back by ROLLBACK TO.
fn index_scans_follow_own_rewrites(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    let mut txn = db.session().begin().unwrap();
    txn.insert("accounts", account(1, "a", 10)).unwrap();
    txn.insert("accounts", account(2, "b", 20)).unwrap();
    assert_eq!(by_balance(&txn, 0, 100), [(10, 1), (20, 2)]);
    txn.update("accounts", &RowKey::Int(1), account(1, "a", 30))
        .unwrap();
    txn.delete("accounts", &RowKey::Int(2)).unwrap();
    txn.insert("accounts", account(3, "c", 15)).unwrap();
    assert_eq!(by_balance(&txn, 0, 100), [(15, 3), (30, 1)]);
    assert_eq!(by_balance(&txn, 10, 10), []);
    let savepoint = txn.savepoint();
    txn.update("accounts", &RowKey::Int(3), account(3, "c", 40))
        .unwrap();
    assert_eq!(by_balance(&txn, 0, 100), [(30, 1), (40, 3)]);
    txn.rollback_to(&savepoint);
    assert_eq!(by_balance(&txn, 0, 100), [(15, 3), (30, 1)]);
    txn.commit().unwrap();
    let txn = db.session().begin().unwrap();
    assert_eq!(by_balance(&txn, 0, 100), [(15, 3), (30, 1)]);
}

fn first_committer_wins(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    insert_accounts(&db, 2);
    let session = db.session();
    let mut a = session.begin().unwrap();
    let mut b = session.begin().unwrap();
    a.update("accounts", &RowKey::Int(1), account(1, "owner1", 11))
        .unwrap();
    b.update("accounts", &RowKey::Int(1), account(1, "owner1", 12))
        .unwrap();
    a.commit().unwrap();
    let err = b.commit().unwrap_err();
    assert_eq!(err.sqlstate(), "40001");
    assert!(err.is_retryable());
    // A transaction that starts after the first commit fails at once when it writes the key.
    let mut c = session.begin().unwrap();
    let mut d = session.begin().unwrap();
    c.delete("accounts", &RowKey::Int(2)).unwrap();
    c.commit().unwrap();
    assert_eq!(
        sqlstate(d.update("accounts", &RowKey::Int(2), account(2, "owner2", 0))),
        "40001"
    );
    // Concurrent inserts of one key: the second gets a unique violation.
    let mut e = session.begin().unwrap();
    let mut f = session.begin().unwrap();
    e.insert("accounts", account(7, "e", 0)).unwrap();
    f.insert("accounts", account(7, "f", 0)).unwrap();
    e.commit().unwrap();
    assert_eq!(sqlstate(f.commit()), "23505");
    // Concurrent inserts of one unique value.
    let mut g = session.begin().unwrap();
    let mut h = session.begin().unwrap();
    g.insert("accounts", account(8, "same", 0)).unwrap();
    h.insert("accounts", account(9, "same", 0)).unwrap();
    g.commit().unwrap();
    assert_eq!(sqlstate(h.commit()), "23505");
    assert!(db.stats().mvcc.conflicts >= 2);
}

fn hidden_row_ids_and_composite_keys(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(kind, dir.path());
        db.create_table(TableDef::new("log").column(Column::new("msg", DataType::Text)))
            .unwrap();
        db.create_table(
            TableDef::new("pairs")
                .column(Column::new("a", DataType::Text))
                .column(Column::new("b", DataType::Integer))
                .column(Column::new("v", DataType::Double))
                .primary_key(&["a", "b"]),
        )
        .unwrap();
        let session = db.session();
        session
            .autocommit(|txn| {
                let first = txn.insert("log", vec![Value::from("one")])?;
                let second = txn.insert("log", vec![Value::from("one")])?;
                assert!(first < second, "row ids ascend");
                for (a, b) in [("b", 2), ("a", 10), ("a", -1), ("ab", 0), ("", 5)] {
                    txn.insert("pairs", vec![a.into(), b.into(), Value::Float(0.5)])?;
                }
                Ok(())
            })
            .unwrap();
        let txn = session.begin_read_only().unwrap();
        let keys: Vec<(String, i64)> = txn
            .scan("pairs", .., Direction::Forward)
            .unwrap()
            .map(|r| {
                let row = r.unwrap().1;
                (
                    row_owner(&[Value::Null, row[0].clone()]).to_string(),
                    int(&row, 1),
                )
            })
            .collect();
        let expected = [("", 5), ("a", -1), ("a", 10), ("ab", 0), ("b", 2)];
        assert_eq!(keys, expected.map(|(a, b)| (a.to_string(), b)));
        let key = txn.key("pairs", &["a".into(), 10.into()]).unwrap();
        assert!(txn.get("pairs", &key).unwrap().is_some());
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    let mut txn = db.session().begin().unwrap();
    let third = txn.insert("log", vec![Value::from("three")]).unwrap();
    assert_eq!(third, RowKey::Int(3), "row ids continue after reopening");
    assert_eq!(ids_of_len(&txn, "log"), 3);
}

fn ids_of_len(txn: &omendb::Transaction, table: &str) -> usize {
    txn.scan(table, .., Direction::Forward).unwrap().count()
}

fn tables_larger_than_the_cache(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(kind, dir.path());
    config.cache_bytes = 64 << 10;
    let db = Database::open(config).unwrap();
    create_accounts(&db);
    insert_accounts(&db, 5000);
    let txn = db.session().begin_read_only().unwrap();
    for id in 1..=5000 {
        let row = txn.get("accounts", &RowKey::Int(id)).unwrap().unwrap();
        assert_eq!(int(&row, 2), id * 10);
    }
    let stats = db.stats().cache;
    assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
    assert!(
        stats.misses > 4000,
        "most reads miss a cache this small: {stats:?}"
    );
    // A hot key hits.
    let before = db.stats().cache.hits;
    for _ in 0..10 {
        txn.get("accounts", &RowKey::Int(4999)).unwrap().unwrap();
    }
    assert!(db.stats().cache.hits >= before + 9);
}

/// A database with a row cache of `cache_bytes` and two tables of 2,000 rows: `accounts`
/// (ids 1–2000) and `other (id BIGINT PRIMARY KEY, payload TEXT)` (ids 0–1999, each payload
/// `payload` bytes long).
fn two_tables(
    kind: StorageKind,
    dir: &std::path::Path,
    cache_bytes: usize,
    payload: usize,
) -> Database {
    let mut config = config(kind, dir);
    config.cache_bytes = cache_bytes;
    let db = Database::open(config).unwrap();
    create_accounts(&db);
    db.create_table(
        TableDef::new("other")
            .column(Column::new("id", DataType::BigInt))
            .column(Column::new("payload", DataType::Text))
            .primary_key(&["id"]),
    )
    .unwrap();
    insert_accounts(&db, 2000);
    db.session()
        .autocommit(|txn| {
            for id in 0..2000 {
                txn.insert(
                    "other",
                    vec![Value::Int(id), Value::from("x".repeat(payload))],
                )?;
            }
            Ok(())
        })
        .unwrap();
    db
}

fn cache_is_shared_by_tables_and_bounded(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = two_tables(kind, dir.path(), 200 << 10, 100);
    let session = db.session();
    let txn = session.begin_read_only().unwrap();
    let bounded = |db: &Database| {
        let stats = db.stats().cache;
        assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
        stats
    };
    // Fill the cache from one table, then from the other: the first one's rows make room.
    for id in 1..=2000 {
        txn.get("accounts", &RowKey::Int(id)).unwrap().unwrap();
    }
    let after_accounts = bounded(&db);
    assert!(after_accounts.entries > 300, "{after_accounts:?}");
    for id in 0..2000 {
        txn.get("other", &RowKey::Int(id)).unwrap().unwrap();
    }
    bounded(&db);
    let misses = db.stats().cache.misses;
    for id in 1..=100 {
        let row = txn.get("accounts", &RowKey::Int(id)).unwrap().unwrap();
        assert_eq!(int(&row, 2), id * 10);
    }
    assert!(
        db.stats().cache.misses >= misses + 90,
        "evicted rows are read again"
    );
    // Updates replace cached rows; readers never see a stale one.
    drop(txn);
    for round in 0..3 {
        session
            .autocommit(|txn| {
                for id in 1..=100 {
                    txn.update(
                        "accounts",
                        &RowKey::Int(id),
                        account(id, &format!("owner{id}"), round),
                    )?;
                }
                Ok(())
            })
            .unwrap();
        let txn = session.begin_read_only().unwrap();
        for id in 1..=100 {
            assert_eq!(
                int(&txn.get("accounts", &RowKey::Int(id)).unwrap().unwrap(), 2),
                round
            );
        }
        bounded(&db);
    }
    db.drop_table("other").unwrap();
    let stats = bounded(&db);
    assert!(
        stats.entries <= 2000,
        "the dropped table's rows left the cache: {stats:?}"
    );
}

/// The cache's byte account follows its rows exactly: updates that keep a row's size, grow
/// it and shrink it back, then deletes.
fn cache_accounts_updated_and_deleted_rows(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    insert_accounts(&db, 10);
    let session = db.session();
    let read_all = || {
        let txn = session.begin_read_only().unwrap();
        for id in 1..=10 {
            txn.get("accounts", &RowKey::Int(id)).unwrap().unwrap();
        }
    };
    let update_all = |note: &str, balance: i64| {
        session
            .autocommit(|txn| {
                for id in 1..=10 {
                    let mut row = account(id, &format!("owner{id}"), balance);
                    row[3] = Value::from(note);
                    txn.update("accounts", &RowKey::Int(id), row)?;
                }
                Ok(())
            })
            .unwrap();
    };
    update_all("short", 1);
    read_all();
    let cached = db.stats().cache;
    assert_eq!(cached.entries, 10, "{cached:?}");
    update_all("short", 2);
    let same = db.stats().cache;
    assert_eq!(
        (same.bytes, same.entries),
        (cached.bytes, 10),
        "same sizes, same account"
    );
    let long = "x".repeat(200);
    update_all(&long, 3);
    let grown = db.stats().cache;
    assert!(
        grown.bytes >= cached.bytes + 10 * 200,
        "{grown:?} after {cached:?}"
    );
    assert_eq!(grown.entries, 10);
    read_all();
    assert_eq!(
        db.stats().cache.bytes,
        grown.bytes,
        "updated rows stay cached"
    );
    update_all("short", 4);
    assert_eq!(db.stats().cache.bytes, cached.bytes, "shrunk back");
    delete_accounts(&session, 1..=5);
    let after = db.stats().cache;
    assert_eq!(after.entries, 5, "{after:?}");
    assert_eq!(after.bytes, cached.bytes / 2, "{after:?}");
    // The deleted keys come back and are read: cached again, in place of their old records.
    session
        .autocommit(|txn| {
            for id in 1..=5 {
                let mut row = account(id, &format!("owner{id}"), 4);
                row[3] = Value::from("short");
                txn.insert("accounts", row)?;
            }
            Ok(())
        })
        .unwrap();
    read_all();
    let back = db.stats().cache;
    assert_eq!((back.entries, back.bytes), (10, cached.bytes), "{back:?}");
}

/// Deletes the accounts `ids`, in one transaction.
fn delete_accounts(session: &omendb::Session, ids: std::ops::RangeInclusive<i64>) {
    session
        .autocommit(|txn| {
            for id in ids {
                txn.delete("accounts", &RowKey::Int(id))?;
            }
            Ok(())
        })
        .unwrap();
}

/// Deleted rows' cache records are evicted like the others — by their own table's reads and
/// by another table's — and the account stays within its bound and of live rows only.
fn cache_evicts_deleted_rows_records(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = two_tables(kind, dir.path(), 64 << 10, 0);
    let session = db.session();
    let read = |table: &str, ids: std::ops::Range<i64>| {
        let txn = session.begin_read_only().unwrap();
        for id in ids {
            txn.get(table, &RowKey::Int(id)).unwrap().unwrap();
        }
    };
    let bounded = |db: &Database| {
        let stats = db.stats().cache;
        assert!(stats.bytes <= stats.capacity_bytes, "{stats:?}");
        assert!(stats.entries <= 4000, "{stats:?}");
        stats
    };
    read("accounts", 1..2001);
    let full = bounded(&db);
    // Delete the most recently cached accounts: their records are the last to be evicted.
    delete_accounts(&session, 1001..=2000);
    let deleted = bounded(&db);
    assert!(deleted.entries < full.entries, "{deleted:?} after {full:?}");
    // The same table's reads push the deleted rows' records out; then delete the newest
    // again, and another table's reads push out every record of this one.
    read("accounts", 1..1001);
    bounded(&db);
    delete_accounts(&session, 901..=1000);
    read("other", 0..2000);
    read("other", 0..2000);
    let other = bounded(&db);
    read("other", 1800..2000);
    assert_eq!(
        db.stats().cache.hits,
        other.hits + 200,
        "the newest rows are cached"
    );
    // No record of `accounts` is left, live or dead: dropping it changes nothing.
    let before = db.stats().cache;
    drop(session);
    db.drop_table("accounts").unwrap();
    let after = db.stats().cache;
    assert_eq!((after.entries, after.bytes), (before.entries, before.bytes));
    db.drop_table("other").unwrap();
    let empty = db.stats().cache;
    assert_eq!((empty.entries, empty.bytes), (0, 0), "{empty:?}");
}

fn altered_tables_survive_reopen(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(kind, dir.path());
        create_accounts(&db);
        insert_accounts(&db, 3);
        db.alter_table(
            "accounts",
            omendb::TableChange::AddColumn(Column::new("tier", DataType::Integer).default(2)),
        )
        .unwrap();
        db.alter_table(
            "accounts",
            omendb::TableChange::RenameColumn {
                from: "note".into(),
                to: "memo".into(),
            },
        )
        .unwrap();
        db.alter_table("accounts", omendb::TableChange::RenameTo("clients".into()))
            .unwrap();
        let mut txn = db.session().begin().unwrap();
        let mut row = account(4, "four", 40);
        row.push(Value::Int(7));
        txn.insert("clients", row).unwrap();
        txn.commit().unwrap();
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    assert_eq!(db.table_names(), ["clients"]);
    let schema = db.table_schema("clients").unwrap();
    assert_eq!(schema.columns[3].name, "memo");
    let txn = db.session().begin_read_only().unwrap();
    let tiers: Vec<i64> = txn
        .scan("clients", .., Direction::Forward)
        .unwrap()
        .map(|r| int(&r.unwrap().1, 4))
        .collect();
    assert_eq!(
        tiers,
        [2, 2, 2, 7],
        "old rows read the added column's default"
    );
    // The unique index on owner still works under the new name.
    let mut txn = db.session().begin().unwrap();
    let mut dup = account(5, "owner1", 0);
    dup.push(Value::Null);
    assert_eq!(sqlstate(txn.insert("clients", dup)), "23505");
}

/// What SQL DDL leaves in the catalog — SERIAL counters, CHECK constraints, expression
/// defaults, dropped columns, views — is there after reopening.
fn sql_catalog_objects_survive_reopen(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let run = |db: &Database, sql: &str| -> Vec<Vec<Value>> {
        db.session()
            .execute(sql)
            .unwrap()
            .pop()
            .unwrap()
            .rows
            .into_rows()
    };
    {
        let db = open(kind, dir.path());
        for sql in [
            "CREATE TABLE t (id SERIAL PRIMARY KEY, n INTEGER CHECK (n > 0), gone TEXT, \
             at TIMESTAMPTZ DEFAULT now())",
            "INSERT INTO t (n, gone) VALUES (1, 'x'), (2, 'y')",
            "ALTER TABLE t DROP COLUMN gone",
            "CREATE VIEW doubled AS SELECT id, n * 2 AS twice FROM t",
            "CREATE TABLE keyed (k INT, v TEXT)",
            "CREATE INDEX keyed_v ON keyed (v)",
            "INSERT INTO keyed VALUES (20, 'b'), (10, 'a')",
            "ALTER TABLE keyed ADD PRIMARY KEY (k)",
            "CREATE USER kept WITH PASSWORD 'pw'",
        ] {
            db.session().execute(sql).unwrap();
        }
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    run(&db, "INSERT INTO t (n) VALUES (3)");
    assert_eq!(
        run(&db, "SELECT * FROM doubled ORDER BY id"),
        [1, 2, 3].map(|i| vec![Value::Int(i), Value::Int(2 * i)]),
        "the view, and the serial continuing after the largest id"
    );
    let error = db
        .session()
        .execute("INSERT INTO t (n) VALUES (0)")
        .unwrap_err();
    assert_eq!(error.sqlstate(), "23514");
    let columns = db
        .session()
        .execute("SELECT * FROM t")
        .unwrap()
        .remove(0)
        .columns;
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "n", "at"]);
    let stamped = run(&db, "SELECT count(*) FROM t WHERE at IS NOT NULL");
    assert_eq!(stamped, [vec![Value::Int(3)]]);
    // The primary key added by ALTER TABLE, and the index rebuilt with it.
    assert_eq!(
        run(&db, "SELECT v FROM keyed WHERE k = 20"),
        [vec![Value::from("b")]]
    );
    assert_eq!(
        run(&db, "SELECT k FROM keyed WHERE v = 'a'"),
        [vec![Value::Int(10)]]
    );
    let error = db
        .session()
        .execute("INSERT INTO keyed VALUES (10, 'c')")
        .unwrap_err();
    assert_eq!(error.sqlstate(), "23505");
    let role = db.role("kept").unwrap();
    assert!(role.login && !role.superuser);
    let verifier = omendb::auth::ScramVerifier::parse(&role.verifier.unwrap()).unwrap();
    assert!(verifier.verify("pw"));
}

fn garbage_is_collected(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    create_accounts(&db);
    insert_accounts(&db, 100);
    let session = db.session();
    let baseline = db.stats();
    let reader = session.begin_read_only().unwrap();
    for round in 1..=5 {
        session
            .autocommit(|txn| {
                for id in 1..=100 {
                    txn.update(
                        "accounts",
                        &RowKey::Int(id),
                        account(id, &format!("owner{id}"), round),
                    )?;
                }
                for id in 1..=10 {
                    txn.delete("accounts", &RowKey::Int(id + round * 10))?;
                    txn.insert(
                        "accounts",
                        account(1000 * round + id, &format!("new{round}.{id}"), round),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    let during = db.stats();
    assert!(during.mvcc.retained_versions >= 300, "{:?}", during.mvcc);
    // The reader still sees the world as it was.
    assert_eq!(
        ids(reader.scan("accounts", .., Direction::Forward).unwrap()),
        (1..=100).collect::<Vec<_>>()
    );
    let old = reader.get("accounts", &RowKey::Int(1)).unwrap().unwrap();
    assert_eq!(int(&old, 2), 10);
    drop(reader);
    let after = db.stats();
    assert_eq!(after.mvcc.retained_versions, 0, "{:?}", after.mvcc);
    assert_eq!(after.mvcc.retained_bytes, 0);
    assert_eq!(after.mvcc.pending_gc, 0);
    let table = &after.tables[0];
    let live = ids(session
        .begin_read_only()
        .unwrap()
        .scan("accounts", .., Direction::Forward)
        .unwrap())
    .len();
    assert_eq!(table.entries, live, "deleted entries left the index");
    assert_eq!(
        table.secondary_entries,
        live * 2,
        "dead index entries are gone"
    );
    assert_eq!(baseline.mvcc.retained_versions, 0);
}

fn indexes_built_later_and_dropped(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(kind, dir.path());
        create_accounts(&db);
        insert_accounts(&db, 20);
        let session = db.session();
        let old_reader = session.begin_read_only().unwrap();
        session
            .autocommit(|txn| txn.update("accounts", &RowKey::Int(1), account(1, "owner1", 5)))
            .unwrap();
        db.create_index("accounts", "accounts_note", &["owner", "balance"], false)
            .unwrap();
        // A snapshot older than the index still finds the version it sees.
        let found = old_reader
            .scan_index(
                "accounts",
                "accounts_note",
                Bound::Included(&[Value::from("owner1")][..]),
                Bound::Included(&[Value::from("owner1")][..]),
                Direction::Forward,
            )
            .unwrap()
            .collect::<omendb::Result<Vec<_>>>()
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(int(&found[0].1, 2), 10);
        session
            .autocommit(|txn| txn.update("accounts", &RowKey::Int(2), account(2, "owner2", 5)))
            .unwrap();
        assert_eq!(
            sqlstate(db.create_index("accounts", "dup", &["balance"], true)),
            "23505"
        );
        // NULLs never clash.
        db.create_index("accounts", "accounts_note_key", &["note"], true)
            .unwrap();
        db.create_index("accounts", "accounts_id_balance", &["id", "balance"], true)
            .unwrap();
        db.drop_index("accounts_balance").unwrap();
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    let schema = db.table_schema("accounts").unwrap();
    let names: Vec<&str> = schema.indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "accounts_owner_key",
            "accounts_note",
            "accounts_note_key",
            "accounts_id_balance"
        ]
    );
    let txn = db.session().begin_read_only().unwrap();
    let found = txn
        .scan_index(
            "accounts",
            "accounts_note",
            Bound::Included(&[Value::from("owner1"), Value::Int(5)][..]),
            Bound::Included(&[Value::from("owner1"), Value::Int(5)][..]),
            Direction::Forward,
        )
        .unwrap()
        .collect::<omendb::Result<Vec<_>>>()
        .unwrap();
    assert_eq!(found.len(), 1);
    db.drop_table("accounts").unwrap();
    drop(txn);
    drop(db);
    let db = open(kind, dir.path());
    assert!(db.table_names().is_empty());
    create_accounts(&db);
    let txn = db.session().begin_read_only().unwrap();
    assert_eq!(
        ids_of_len(&txn, "accounts"),
        0,
        "a recreated table starts empty"
    );
}

/// Autocommit statements of a session reuse the table handles its previous statement took;
/// another session's DROP TABLE, TRUNCATE or re-creation must still be seen at once.
fn sessions_see_tables_other_sessions_replace(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let db = open(kind, dir.path());
    let (mut reader, mut other) = (db.session(), db.session());
    let found = |s: &mut omendb::Session, id: i64| {
        s.execute(&format!("SELECT id FROM t WHERE id = {id}"))
            .map(|mut results| results.pop().unwrap().rows.len())
    };
    other
        .execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')")
        .unwrap();
    assert_eq!(found(&mut reader, 1).unwrap(), 1);
    other.execute("DROP TABLE t").unwrap();
    assert_eq!(sqlstate(found(&mut reader, 1)), "42P01");
    other
        .execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (7, 'b')")
        .unwrap();
    assert_eq!(found(&mut reader, 1).unwrap(), 0);
    assert_eq!(found(&mut reader, 7).unwrap(), 1);
    other.execute("TRUNCATE t").unwrap();
    assert_eq!(found(&mut reader, 7).unwrap(), 0);
    // Inside a block, too: the dropped table is gone for the block's next statement.
    other.execute("INSERT INTO t VALUES (8, 'c')").unwrap();
    reader.execute("BEGIN").unwrap();
    assert_eq!(found(&mut reader, 8).unwrap(), 1);
    other.execute("DROP TABLE t").unwrap();
    assert_eq!(sqlstate(found(&mut reader, 8)), "42P01");
    reader.execute("ROLLBACK").unwrap();
    assert_eq!(sqlstate(found(&mut reader, 8)), "42P01");
}

/// ALTER TABLE … ADD PRIMARY KEY builds the new table from the rows it rewrites: keys of every
/// kind, index entries, SERIAL counters that continue past the largest value, the duplicate
/// named in the error, and the same table after a reopen.
fn add_primary_key_rebuilds_the_table(kind: StorageKind) {
    let dir = tempfile::tempdir().unwrap();
    let rows = |db: &Database, sql: &str| {
        db.session()
            .execute(sql)
            .unwrap()
            .remove(0)
            .rows
            .into_rows()
    };
    {
        let db = open(kind, dir.path());
        let mut s = db.session();
        s.execute(
            "CREATE TABLE i (n SERIAL, k INT NOT NULL, v TEXT); CREATE INDEX i_v ON i (v); \
             CREATE TABLE t (code TEXT, v INT); \
             CREATE TABLE c (a INT, b TEXT, v INT); \
             INSERT INTO i (k, v) SELECT 1000 - g, 'v' || (g % 7) FROM generate_series(1, 500) g; \
             INSERT INTO t SELECT 'code-' || g, g FROM generate_series(1, 300) g; \
             INSERT INTO c SELECT g % 10, 'b' || g, g FROM generate_series(1, 300) g; \
             INSERT INTO c VALUES (3, 'b13', 0)",
        )
        .unwrap();
        let duplicate = s
            .execute("ALTER TABLE c ADD PRIMARY KEY (a, b)")
            .unwrap_err();
        assert_eq!(duplicate.sqlstate(), "23505");
        assert_eq!(
            duplicate.detail(),
            Some("Key (a, b)=(3, b13) already exists.")
        );
        s.execute("DELETE FROM c WHERE v = 0").unwrap();
        for sql in [
            "ALTER TABLE i ADD PRIMARY KEY (k)",
            "ALTER TABLE t ADD PRIMARY KEY (code)",
            "ALTER TABLE c ADD PRIMARY KEY (a, b)",
            "INSERT INTO i (k, v) VALUES (1, 'new')",
        ] {
            s.execute(sql).unwrap();
        }
        assert_eq!(
            rows(&db, "SELECT n FROM i WHERE k = 1"),
            [vec![Value::Int(501)]]
        );
    }
    if kind == StorageKind::Memory {
        return;
    }
    let db = open(kind, dir.path());
    assert_eq!(
        rows(&db, "SELECT n, v FROM i WHERE k = 900"),
        [vec![Value::Int(100), Value::Text("v2".into())]]
    );
    assert_eq!(
        rows(&db, "SELECT count(*) FROM i WHERE v = 'v3'"),
        [vec![Value::Int(72)]]
    );
    assert_eq!(
        rows(&db, "SELECT v FROM t WHERE code = 'code-77'"),
        [vec![Value::Int(77)]]
    );
    assert_eq!(
        rows(&db, "SELECT v FROM c WHERE a = 3 AND b = 'b13'"),
        [vec![Value::Int(13)]]
    );
    let keys = rows(&db, "SELECT k FROM i ORDER BY k LIMIT 2");
    assert_eq!(keys, [vec![Value::Int(1)], vec![Value::Int(500)]]);
    db.session()
        .execute("INSERT INTO i (k, v) VALUES (2, 'after')")
        .unwrap();
    assert_eq!(
        rows(&db, "SELECT n FROM i WHERE k = 2"),
        [vec![Value::Int(502)]]
    );
}

/// Secondary indexes are derived from the rows: no commit stores index entries, a load builds
/// them from the rows alone, and entries an earlier version stored are deleted at the load.
fn indexes_are_derived_from_rows(kind: StorageKind) {
    use omendb::storage::{Key, KeyPrefix, WriteBatch, scan_prefix};
    let dir = tempfile::tempdir().unwrap();
    let config = config(kind, dir.path());
    let storage = config.storage.open().unwrap();
    let stored_entries = |index: u32| {
        let prefix = KeyPrefix::IndexEntries(index).encode();
        scan_prefix(&*storage, &prefix).unwrap().count()
    };
    let query = |db: &Database, sql: &str| {
        let result = db.session().execute(sql).unwrap().remove(0);
        result.rows.into_rows()
    };
    const QUERIES: [&str; 4] = [
        "SELECT id FROM t WHERE v = 'v3' ORDER BY id",
        "SELECT id, v FROM t WHERE v >= 'v5' AND v < 'v7' ORDER BY v, id",
        "SELECT id FROM t WHERE code = 'c41'",
        "SELECT count(*) FROM t WHERE v = 'moved'",
    ];
    let (indexes, before) = {
        let db = Database::open_storage(storage.clone(), &config).unwrap();
        db.session()
            .execute(
                "CREATE TABLE t (id INT PRIMARY KEY, code TEXT UNIQUE, v TEXT); \
                 CREATE INDEX t_v ON t (v); \
                 INSERT INTO t SELECT g, 'c' || g, 'v' || (g % 10) FROM generate_series(1, 200) g; \
                 UPDATE t SET v = 'moved' WHERE id % 4 = 0; \
                 DELETE FROM t WHERE id % 7 = 0",
            )
            .unwrap();
        let schema = db.table_schema("t").unwrap();
        // The unique constraint's index, then `t_v`.
        let names: Vec<&str> = schema.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["t_code_key", "t_v"]);
        let indexes: Vec<u32> = schema.indexes.iter().map(|i| i.id).collect();
        let before: Vec<_> = QUERIES.iter().map(|sql| query(&db, sql)).collect();
        (indexes, before)
    };
    assert_eq!(indexes.len(), 2);
    for &index in &indexes {
        assert_eq!(stored_entries(index), 0, "index {index} has stored entries");
    }
    // An entry as earlier versions stored them, for a row that no longer has that value.
    let mut stale = omendb::encoding::encode_values(&["v3".into()]);
    RowKey::Int(8).encode_into(&mut stale);
    let mut batch = WriteBatch::new();
    batch.put(Key::IndexEntry(indexes[1], &stale).encode(), Vec::new());
    storage.write(batch, true).unwrap();
    assert_eq!(stored_entries(indexes[1]), 1);

    let db = Database::open_storage(storage.clone(), &config).unwrap();
    assert_eq!(stored_entries(indexes[1]), 0, "the old entry is deleted");
    let after: Vec<_> = QUERIES.iter().map(|sql| query(&db, sql)).collect();
    assert_eq!(after, before);
    assert_eq!(after[2], [vec![Value::Int(41)]]);
    assert_eq!(after[3], [vec![Value::Int(43)]]);
    assert!(after[0].contains(&vec![Value::Int(13)]));
    assert!(!after[0].contains(&vec![Value::Int(8)]));
    let duplicate = db
        .session()
        .execute("INSERT INTO t VALUES (1000, 'c41', 'x')")
        .unwrap_err();
    assert_eq!(duplicate.sqlstate(), "23505");
}

macro_rules! battery {
    ($($backend:ident => $kind:expr),* $(,)?) => {$(
        mod $backend {
            use super::*;
            #[test] fn crud_and_reopen() { super::crud_and_reopen($kind) }
            #[test] fn own_writes_and_rollback() { super::own_writes_and_rollback($kind) }
            #[test] fn ranges_both_directions() { super::ranges_both_directions($kind) }
            #[test] fn errors_carry_sqlstates() { super::errors_carry_sqlstates($kind) }
            #[test] fn index_scans_merge_own_writes_across_batches() { super::index_scans_merge_own_writes_across_batches($kind) }
            #[test] fn index_scans_follow_own_rewrites() { super::index_scans_follow_own_rewrites($kind) }
            #[test] fn first_committer_wins() { super::first_committer_wins($kind) }
            #[test] fn hidden_row_ids_and_composite_keys() { super::hidden_row_ids_and_composite_keys($kind) }
            #[test] fn tables_larger_than_the_cache() { super::tables_larger_than_the_cache($kind) }
            #[test] fn garbage_is_collected() { super::garbage_is_collected($kind) }
            #[test] fn altered_tables_survive_reopen() { super::altered_tables_survive_reopen($kind) }
            #[test] fn sql_catalog_objects_survive_reopen() { super::sql_catalog_objects_survive_reopen($kind) }
            #[test] fn cache_is_shared_by_tables_and_bounded() { super::cache_is_shared_by_tables_and_bounded($kind) }
            #[test] fn cache_accounts_updated_and_deleted_rows() { super::cache_accounts_updated_and_deleted_rows($kind) }
            #[test] fn cache_evicts_deleted_rows_records() { super::cache_evicts_deleted_rows_records($kind) }
            #[test] fn indexes_built_later_and_dropped() { super::indexes_built_later_and_dropped($kind) }
            #[test] fn sessions_see_tables_other_sessions_replace() { super::sessions_see_tables_other_sessions_replace($kind) }
            #[test] fn add_primary_key_rebuilds_the_table() { super::add_primary_key_rebuilds_the_table($kind) }
            #[test] fn indexes_are_derived_from_rows() { super::indexes_are_derived_from_rows($kind) }
        }
    )*};
}

battery! {
    memory => StorageKind::Memory,
    redb => StorageKind::Redb,
}

#[cfg(feature = "rocksdb")]
battery! {
    rocksdb => StorageKind::RocksDb,
}
