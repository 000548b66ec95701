//! Crash recovery: a child process commits transactions and reports each commit as it returns;
//! the parent kills it with SIGKILL at a random moment, reopens the database, and checks that
//! every acknowledged commit is there and that no transaction is partly visible. Repeated on the
//! same data directory, so recovery runs on top of earlier recoveries.
//!
//! Each transaction `n` inserts `ledger(n, 7n)` and `mirror(n, -7n)`, sets `counter.n = n`, and
//! when `n % 5 == 0` deletes ledger and mirror rows `n - 3`: whatever survives a crash must be
//! exactly the effect of transactions `1..=counter.n`.
//!
//! RocksDB runs a second campaign with 64 KiB memtables and 16 KiB of padding in each
//! transaction, so that its write-ahead log rolls over every few commits and old log files are
//! recycled (overwritten in place): a kill then often lands in a recycled file, whose tail
//! still holds the old file's records.
//!
//! A third RocksDB campaign pads every other transaction past the size from which a write is
//! made into a table file and ingested: commits alternate between the log and ingestion.
//!
//! `cargo test --release --test crash` runs 30 kill cycles per campaign;
//! `OMENDB_CRASH_CYCLES=500` runs a longer campaign. (A plain `main`: the test spawns itself as
//! the child with `child <dir> <backend> [rolling-log|ingest]`.)
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

/// How a campaign's database is set up.
#[derive(Debug, Clone, Copy)]
struct Setup {
    kind: StorageKind,
    /// Small memtables and padded transactions: RocksDB's log rolls over every few commits.
    rolling_log: bool,
    /// Every other transaction padded past RocksDB's size for ingesting a write.
    ingest: bool,
}

impl Setup {
    fn parse(args: &[String]) -> Self {
        Setup {
            kind: args[0].parse().unwrap(),
            rolling_log: args.get(1).is_some_and(|a| a == "rolling-log"),
            ingest: args.get(1).is_some_and(|a| a == "ingest"),
        }
    }

    /// Whether transaction `n` inserts a padding row.
    fn padded(self, n: i64) -> bool {
        self.rolling_log || (self.ingest && n % 2 == 1)
    }

    fn args(self) -> Vec<String> {
        let mut args = vec![self.kind.to_string()];
        if self.rolling_log {
            args.push("rolling-log".into());
        }
        if self.ingest {
            args.push("ingest".into());
        }
        args
    }
}

/// Bytes of padding each transaction writes in a rolling-log campaign.
const PADDING: usize = 16 << 10;

fn open(setup: Setup, dir: &Path) -> Database {
    let mut config = DatabaseConfig::new(setup.kind, Some(dir.to_path_buf()));
    if setup.rolling_log {
        config.storage.rocksdb.write_buffer_bytes = 64 << 10;
    }
    if setup.ingest {
        // The smallest padding row is 4 KiB (`"1"` repeated), every other commit ~100 bytes.
        config.storage.rocksdb.ingest_from_bytes = 2 << 10;
    }
    let db = Database::open(config).unwrap();
    if db.table_names().is_empty() {
        db.create_table(
            TableDef::new("padding")
                .column(Column::new("id", DataType::BigInt))
                .column(Column::new("fill", DataType::Text))
                .primary_key(&["id"]),
        )
        .unwrap();
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
fn child(setup: Setup, dir: &Path) {
    let db = open(setup, dir);
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
                if setup.padded(n) {
                    let fill = Value::from(format!("{n:x}").repeat(PADDING / 4).as_str());
                    txn.insert("padding", vec![Value::Int(n), fill])?;
                }
                Ok(())
            })
            .unwrap();
        writeln!(stdout, "ack {n}").unwrap();
        stdout.flush().unwrap();
    }
}

/// Checks the recovered state against the transactions the counter says committed.
fn verify(setup: Setup, dir: &Path, acknowledged: i64) -> i64 {
    let kind = setup.kind;
    let db = open(setup, dir);
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
    if setup.rolling_log || setup.ingest {
        let padded = txn.scan("padding", .., Direction::Forward).unwrap().count();
        assert_eq!(
            padded as i64,
            (1..=committed).filter(|&n| setup.padded(n)).count() as i64,
            "{kind}: padding after commit {committed}"
        );
    }
    committed
}

fn campaign(setup: Setup, cycles: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut acknowledged = 0;
    let mut committed = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("child")
            .arg(dir.path())
            .args(setup.args())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of acknowledgements: the child is by then somewhere in
        // the middle of a later commit (or its sync).
        // A rolling log needs two rollovers in one run before a file is recycled.
        let wait_for = if setup.rolling_log {
            rng.random_range(8..=24)
        } else {
            rng.random_range(1..=8)
        };
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
        committed = verify(setup, dir.path(), acknowledged);
        assert!(committed >= cycle as i64);
    }
    println!(
        "{setup:?}: {cycles} kill cycles, {committed} transactions committed, all acknowledged ones present"
    );
}

/// A fixed seed: the moments vary with scheduling anyway, the count of acks waited for does not.
const SEED: u64 = 0x5eed;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        child(Setup::parse(&args[3..]), Path::new(&args[2]));
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
    let plain = |kind| Setup {
        kind,
        rolling_log: false,
        ingest: false,
    };
    campaign(plain(StorageKind::Redb), cycles);
    #[cfg(feature = "rocksdb")]
    {
        campaign(plain(StorageKind::RocksDb), cycles);
        let rolling_log = Setup {
            rolling_log: true,
            ..plain(StorageKind::RocksDb)
        };
        campaign(rolling_log, cycles);
        let ingest = Setup {
            ingest: true,
            ..plain(StorageKind::RocksDb)
        };
        campaign(ingest, cycles);
    }
}
