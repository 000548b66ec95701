//! OmenDB's engine API (no SQL) against SQLite (`rusqlite`, bundled, WAL, prepared statements),
//! side by side in one run, printed as a Markdown table.
//!
//! ```sh
//! cargo bench --bench engine_table                        # 1M rows, 3 repetitions
//! cargo bench --bench engine_table -- --rows 10000000 --reps 1
//! cargo bench --bench engine_table -- --storage redb      # another OmenDB backend
//! cargo bench --bench engine_table -- --quick             # a fast smoke run (10K rows)
//! ```
//!
//! Table `t(id BIGINT PRIMARY KEY, name TEXT, balance BIGINT)` with uniformly random keys.
//! SQLite's table is a rowid table (`id INTEGER PRIMARY KEY`), its fastest layout. Both use
//! temporary directories on the same disk. Durable commits are OmenDB `synchronous_commit = on`
//! vs SQLite `synchronous = FULL`; non-durable are `off` vs WAL's `synchronous = NORMAL`.
//! "Warm" reads run with caches holding the whole table (OmenDB's row cache, SQLite's page
//! cache); "10% cache" reopens both with caches a tenth of the table's size.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use common::{Args, Results, SplitMix, compare, sorted_keys};
use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Value};
use omendb::{Database, DatabaseConfig, Direction, RowKey};
use rusqlite::{Connection, params};

const BATCH: usize = 1000;

struct Options {
    rows: usize,
    reps: usize,
    reads: usize,
    single_off: usize,
    single_on: usize,
    storage: StorageKind,
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

fn name_of(key: u64) -> String {
    format!("user-{:012}", key % 1_000_000_000_000)
}

fn keys_as_i64(keys: &[u64]) -> Vec<i64> {
    keys.iter().map(|&k| (k >> 1) as i64).collect()
}

// ---- OmenDB -------------------------------------------------------------------------------

fn omendb_config(dir: &Path, storage: StorageKind, cache_bytes: usize) -> DatabaseConfig {
    let data_dir = (storage != StorageKind::Memory).then(|| dir.to_path_buf());
    let mut config = DatabaseConfig::new(storage, data_dir);
    config.cache_bytes = cache_bytes;
    config
}

fn run_omendb(keys: &[i64], opts: &Options, seed: u64) -> Results {
    let dir = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let warm_cache = 8 << 30;
    let db = Database::open(omendb_config(dir.path(), opts.storage, warm_cache)).unwrap();
    db.create_table(
        TableDef::new("t")
            .column(Column::new("id", DataType::BigInt))
            .column(Column::new("name", DataType::Text))
            .column(Column::new("balance", DataType::BigInt))
            .primary_key(&["id"]),
    )
    .unwrap();
    let session = db.session();
    let start = Instant::now();
    for chunk in keys.chunks(BATCH) {
        session
            .autocommit(|txn| {
                for &k in chunk {
                    let row = vec![
                        Value::Int(k),
                        Value::from(name_of(k as u64)),
                        Value::Int(k % 1000),
                    ];
                    txn.insert("t", row)?;
                }
                Ok(())
            })
            .unwrap();
    }
    out.push((
        "insert, batches of 1,000 (durable)",
        per_op(start, keys.len()),
    ));

    let hits = sample_i64(keys, opts.reads, seed);
    let txn = session.begin_read_only().unwrap();
    // Warm: one pass over every row (new rows are cached when first read).
    for &k in keys {
        black_box(txn.get("t", &RowKey::Int(k)).unwrap());
    }
    let start = Instant::now();
    let mut sum = 0i64;
    for &k in &hits {
        let row = txn.get("t", &RowKey::Int(k)).unwrap().unwrap();
        if let Value::Int(b) = row[2] {
            sum += b;
        }
    }
    out.push(("point read, warm cache", per_op(start, hits.len())));
    black_box(sum);

    // The same reads through SQL: a prepared statement in a read-only transaction block.
    let mut sql = db.session();
    sql.execute("BEGIN READ ONLY").unwrap();
    let point = sql
        .prepare("SELECT id, name, balance FROM t WHERE id = $1")
        .unwrap();
    let start = Instant::now();
    let mut sum = 0i64;
    for &k in &hits {
        let result = sql.execute_prepared(&point, &[Value::Int(k)]).unwrap();
        if let Value::Int(b) = result.rows[0][2] {
            sum += b;
        }
    }
    out.push((
        "point select via SQL, prepared, warm",
        per_op(start, hits.len()),
    ));
    black_box(sum);
    sql.execute("COMMIT").unwrap();
    drop(sql);

    let start = Instant::now();
    let mut sum = 0i64;
    let mut count = 0;
    for item in txn.scan("t", .., Direction::Forward).unwrap() {
        let (_, row) = item.unwrap();
        if let Value::Int(b) = row[2] {
            sum += b;
        }
        count += 1;
    }
    assert_eq!(count, keys.len());
    out.push(("full ordered scan (per row)", per_op(start, count)));
    black_box(sum);
    drop(txn);

    let mut rng = SplitMix(seed + 7);
    for (name, synchronous, n) in [
        ("single-row insert, sync off", false, opts.single_off),
        ("single-row insert, sync on", true, opts.single_on),
    ] {
        let mut session = db.session();
        session.set_synchronous_commit(synchronous);
        let fresh: Vec<i64> = (0..n).map(|_| (rng.next_u64() >> 1) as i64 | 1).collect();
        let start = Instant::now();
        for &k in &fresh {
            session
                .autocommit(|txn| {
                    txn.insert(
                        "t",
                        vec![Value::Int(k), Value::from(name_of(k as u64)), Value::Int(1)],
                    )
                })
                .unwrap();
        }
        out.push((name, per_op(start, n)));
    }
    let table_bytes = db.stats().cache.bytes;
    drop(session);
    drop(db);

    let start = Instant::now();
    let db = Database::open(omendb_config(dir.path(), opts.storage, table_bytes / 10)).unwrap();
    out.push(("reopen (recovery), per row", per_op(start, keys.len())));
    if opts.storage != StorageKind::Memory {
        let txn = db.session().begin_read_only().unwrap();
        // Fill the cache with a random tenth first.
        for &k in &sample_i64(keys, keys.len() / 10, seed + 3) {
            black_box(txn.get("t", &RowKey::Int(k)).unwrap());
        }
        let start = Instant::now();
        for &k in &hits {
            black_box(txn.get("t", &RowKey::Int(k)).unwrap().unwrap());
        }
        out.push(("point read, 10% cache", per_op(start, hits.len())));
    }
    out
}

fn sample_i64(keys: &[i64], n: usize, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| keys[(rng.next_u64() % keys.len() as u64) as usize])
        .collect()
}

// ---- SQLite -------------------------------------------------------------------------------

fn sqlite_open(path: &Path, cache_kib: i64) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -{cache_kib};"
    ))
    .unwrap();
    conn
}

fn run_sqlite(keys: &[i64], opts: &Options, seed: u64) -> Results {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite");
    let mut out = Vec::new();
    let mut conn = sqlite_open(&path, 1 << 20);
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER)")
        .unwrap();
    let start = Instant::now();
    for chunk in keys.chunks(BATCH) {
        let txn = conn.transaction().unwrap();
        {
            let mut insert = txn
                .prepare_cached("INSERT INTO t VALUES (?1, ?2, ?3)")
                .unwrap();
            for &k in chunk {
                insert
                    .execute(params![k, name_of(k as u64), k % 1000])
                    .unwrap();
            }
        }
        txn.commit().unwrap();
    }
    out.push((
        "insert, batches of 1,000 (durable)",
        per_op(start, keys.len()),
    ));

    let hits = sample_i64(keys, opts.reads, seed);
    let read = |conn: &mut Connection, hits: &[i64]| -> f64 {
        let txn = conn.transaction().unwrap();
        let start = Instant::now();
        {
            let mut get = txn
                .prepare_cached("SELECT id, name, balance FROM t WHERE id = ?1")
                .unwrap();
            let mut sum = 0i64;
            for &k in hits {
                let (_, _, b): (i64, String, i64) = get
                    .query_row([k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap();
                sum += b;
            }
            black_box(sum);
        }
        let elapsed = per_op(start, hits.len());
        txn.commit().unwrap();
        elapsed
    };
    read(&mut conn, keys);
    let warm = read(&mut conn, &hits);
    out.push(("point read, warm cache", warm));
    // SQLite's reads above already go through SQL and a prepared statement.
    out.push(("point select via SQL, prepared, warm", warm));

    {
        let txn = conn.transaction().unwrap();
        let start = Instant::now();
        let mut scan = txn
            .prepare_cached("SELECT id, name, balance FROM t ORDER BY id")
            .unwrap();
        let mut rows = scan.query([]).unwrap();
        let (mut sum, mut count) = (0i64, 0usize);
        while let Some(row) = rows.next().unwrap() {
            let _id: i64 = row.get(0).unwrap();
            let _name: String = row.get(1).unwrap();
            let balance: i64 = row.get(2).unwrap();
            sum += balance;
            count += 1;
        }
        assert_eq!(count, keys.len());
        out.push(("full ordered scan (per row)", per_op(start, count)));
        black_box(sum);
        drop(rows);
        drop(scan);
        txn.commit().unwrap();
    }

    let mut rng = SplitMix(seed + 7);
    for (name, synchronous, n) in [
        ("single-row insert, sync off", "NORMAL", opts.single_off),
        ("single-row insert, sync on", "FULL", opts.single_on),
    ] {
        conn.execute_batch(&format!("PRAGMA synchronous = {synchronous}"))
            .unwrap();
        let fresh: Vec<i64> = (0..n).map(|_| (rng.next_u64() >> 1) as i64 | 1).collect();
        let mut insert = conn
            .prepare_cached("INSERT INTO t VALUES (?1, ?2, ?3)")
            .unwrap();
        let start = Instant::now();
        for &k in &fresh {
            insert.execute(params![k, name_of(k as u64), 1]).unwrap();
        }
        out.push((name, per_op(start, n)));
    }
    drop(conn);
    let file_kib = (std::fs::metadata(&path).unwrap().len() / 1024) as i64;

    let start = Instant::now();
    let mut conn = sqlite_open(&path, (file_kib / 10).max(64));
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap();
    out.push(("reopen (recovery), per row", per_op(start, keys.len())));
    let warmup = sample_i64(keys, keys.len() / 10, seed + 3);
    read(&mut conn, &warmup);
    out.push(("point read, 10% cache", read(&mut conn, &hits)));
    out
}

fn main() {
    let args = Args::from_env();
    let quick = args.quick();
    let rows = args.number("--rows", 1_000_000, 10_000);
    let opts = Options {
        rows,
        reps: args.number("--reps", 3, 1),
        reads: rows.min(1_000_000),
        single_off: (rows / 10).min(100_000),
        single_on: if quick { 20 } else { 500 },
        storage: args
            .value("--storage")
            .map(|s| s.parse().unwrap())
            .unwrap_or_else(StorageKind::default_for_build),
    };
    let keys = keys_as_i64(&sorted_keys(opts.rows, 42));
    let title = format!(
        "{} rows, OmenDB ({}) vs SQLite {} (WAL)",
        opts.rows,
        opts.storage,
        rusqlite::version()
    );
    compare(
        &title,
        opts.reps,
        |seed| run_omendb(&keys, &opts, seed),
        |seed| run_sqlite(&keys, &opts, seed),
    );
}
