//! Crash recovery: a child process commits transactions and reports each commit as it returns;
//! the parent kills it with SIGKILL at a random moment, reopens the database, and checks that
//! every acknowledged commit is there and that no transaction is partly visible. Repeated on the
//! same data directory, so recovery runs on top of earlier recoveries.
//!
//! Each transaction `n` inserts `ledger(n, 7n)` and `mirror(n, -7n)`, sets `counter.n = n`, and
//! when `n % 5 == 0` deletes ledger and mirror rows `n - 3`: whatever survives a crash must be
//! exactly the effect of transactions `1..=counter.n`.
//!
//! `cargo test --release --test crash` runs 30 kill cycles per durable backend;
//! `OMENDB_CRASH_CYCLES=500` runs a longer campaign. (A plain `main`: the test spawns itself as
//! the child with `child <backend> <dir>`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Value};
use omendb::{Database, DatabaseConfig, Direction, RowKey, Transaction};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn open(kind: StorageKind, dir: &Path) -> Database {
    let db = Database::open(DatabaseConfig::new(kind, Some(dir.to_path_buf()))).unwrap();
    if db.table_names().is_empty() {
        for name in ["ledger", "mirror", "counter"] {
            db.create_table(
                TableDef::new(name)
                    .column(Column::new("id", DataType::BigInt))
                    .column(Column::new("amount", DataType::BigInt).not_null())
                    .primary_key(&["id"]),
            )
            .unwrap();
        }
    }
    db
}

fn counter(txn: &Transaction) -> i64 {
    match txn.get("counter", &RowKey::Int(0)).unwrap() {
        Some(row) => int(&row[1]),
        None => 0,
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(i) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// Commits transactions until killed, printing `ack n` after each commit returns.
fn child(kind: StorageKind, dir: &Path) {
    let db = open(kind, dir);
    let session = db.session();
    let mut n = counter(&session.begin_read_only().unwrap());
    let mut stdout = std::io::stdout().lock();
    loop {
        n += 1;
        session
            .autocommit(|txn| {
                txn.insert("ledger", vec![Value::Int(n), Value::Int(7 * n)])?;
                txn.insert("mirror", vec![Value::Int(n), Value::Int(-7 * n)])?;
                if n % 5 == 0 {
                    txn.delete("ledger", &RowKey::Int(n - 3))?;
                    txn.delete("mirror", &RowKey::Int(n - 3))?;
                }
                let row = vec![Value::Int(0), Value::Int(n)];
                if !txn.update("counter", &RowKey::Int(0), row.clone())? {
                    txn.insert("counter", row)?;
                }
                Ok(())
            })
            .unwrap();
        writeln!(stdout, "ack {n}").unwrap();
        stdout.flush().unwrap();
    }
}

/// Checks the recovered state against the transactions the counter says committed.
fn verify(kind: StorageKind, dir: &Path, acknowledged: i64) -> i64 {
    let db = open(kind, dir);
    let txn = db.session().begin_read_only().unwrap();
    let committed = counter(&txn);
    assert!(
        committed >= acknowledged,
        "{kind}: commit {acknowledged} was acknowledged but only {committed} survived"
    );
    let expected: BTreeSet<i64> = (1..=committed)
        .filter(|&id| !(id + 3 <= committed && (id + 3) % 5 == 0))
        .collect();
    for (table, sign) in [("ledger", 1), ("mirror", -1)] {
        let mut found = BTreeSet::new();
        for item in txn.scan(table, .., Direction::Forward).unwrap() {
            let (_, row) = item.unwrap();
            let id = int(&row[0]);
            assert_eq!(int(&row[1]), sign * 7 * id, "{kind}: {table} row {id}");
            found.insert(id);
        }
        assert_eq!(found, expected, "{kind}: {table} after commit {committed}");
    }
    committed
}

fn campaign(kind: StorageKind, cycles: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut acknowledged = 0;
    let mut committed = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["child", &kind.to_string()])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledgements: the child is by then somewhere in
        // the middle of a later commit (or its sync).
        let wait_for = rng.random_range(1..=8);
        for _ in 0..wait_for {
            let line = lines.next().expect("the child died on its own").unwrap();
            let n: i64 = line.strip_prefix("ack ").unwrap().parse().unwrap();
            acknowledged = acknowledged.max(n);
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Acknowledgements printed before the kill count too.
        for line in lines {
            if let Some(n) = line.unwrap().strip_prefix("ack ") {
                acknowledged = acknowledged.max(n.parse().unwrap());
            }
        }
        committed = verify(kind, dir.path(), acknowledged);
        assert!(committed >= cycle as i64);
    }
    println!(
        "{kind}: {cycles} kill cycles, {committed} transactions committed, all acknowledged ones present"
    );
}

/// A fixed seed: the moments vary with scheduling anyway, the count of acks waited for does not.
const SEED: u64 = 0x5eed;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        let kind: StorageKind = args[2].parse().unwrap();
        child(kind, Path::new(&args[3]));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        println!("crash: test");
        return;
    }
    let cycles = std::env::var("OMENDB_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(30);
    campaign(StorageKind::Redb, cycles);
    #[cfg(feature = "rocksdb")]
    campaign(StorageKind::RocksDb, cycles);
}
