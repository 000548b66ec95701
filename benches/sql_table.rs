//! OmenDB through SQL against SQLite (`rusqlite`, bundled, WAL), both with prepared
//! statements, side by side in one run, printed as a Markdown table: the SQL issue's targets.
//!
//! ```sh
//! cargo bench --bench sql_table                     # 1M rows (joined with 100K), 3 repetitions
//! cargo bench --bench sql_table -- --rows 10000000 --reps 1
//! cargo bench --bench sql_table -- --quick          # a fast smoke run (10K rows)
//! ```
//!
//! Tables `t(id BIGINT PRIMARY KEY, name TEXT, balance BIGINT, grp INTEGER, ref BIGINT)` with
//! uniformly random keys, loaded in key order, and `u(id BIGINT PRIMARY KEY, weight BIGINT)`
//! with a tenth as many rows; `t.ref` names a row of `u`. SQLite's tables are rowid tables.
//! Commits are durable on both (OmenDB `synchronous_commit = on`, SQLite `synchronous = FULL`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{Args, Results, compare, sample, sorted_keys};
use omendb::storage::StorageKind;
use omendb::types::Value;
use omendb::{Database, DatabaseConfig, Session};
use rusqlite::{Connection, params};

struct Options {
    rows: usize,
    reps: usize,
    /// Point selects and updates per measurement.
    points: usize,
    /// Range selects per measurement, each of `range` rows.
    ranges: usize,
    range: usize,
    /// GROUP BY and join queries per measurement.
    scans: usize,
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

/// One row of `t` for key `k`, the `i`th in key order.
fn row(k: i64, i: usize, joined: usize) -> (i64, String, i64, i64, i64) {
    let name = format!("user-{:012}", k % 1_000_000_000_000);
    (
        k,
        name,
        k % 1000,
        (i % 1000) as i64,
        (k as u64 % joined as u64) as i64,
    )
}

/// `count` existing keys in random order.
fn hits(keys: &[i64], count: usize, seed: u64) -> Vec<i64> {
    let unsigned: Vec<u64> = keys.iter().map(|&k| k as u64).collect();
    sample(&unsigned, count, seed)
        .into_iter()
        .map(|k| k as i64)
        .collect()
}

/// Range bounds covering `len` consecutive keys, at random places.
fn ranges(keys: &[i64], count: usize, len: usize, seed: u64) -> Vec<(i64, i64)> {
    let len = len.min(keys.len() - 1);
    let last = (keys.len() - len) as u64;
    let starts = sample(&(0..last).collect::<Vec<u64>>(), count, seed);
    starts
        .into_iter()
        .map(|s| (keys[s as usize], keys[s as usize + len]))
        .collect()
}

// ---- OmenDB -------------------------------------------------------------------------------

fn exec(session: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    session.execute(sql).unwrap().pop().unwrap().rows
}

fn run_omendb(keys: &[i64], opts: &Options, seed: u64) -> Results {
    let dir = tempfile::tempdir().unwrap();
    let mut config = DatabaseConfig::new(StorageKind::default_for_build(), Some(dir.path().into()));
    config.cache_bytes = 8 << 30;
    let db = Database::open(config).unwrap();
    let mut s = db.session();
    let mut out = Vec::new();
    let joined = (keys.len() / 10).max(1);
    exec(
        &mut s,
        "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, balance BIGINT, grp INTEGER, ref BIGINT)",
    );
    exec(
        &mut s,
        "CREATE TABLE u (id BIGINT PRIMARY KEY, weight BIGINT)",
    );

    let insert = s
        .prepare("INSERT INTO t VALUES ($1, $2, $3, $4, $5)")
        .unwrap();
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for (i, &k) in keys.iter().enumerate() {
        let (id, name, balance, grp, reference) = row(k, i, joined);
        let values = [
            id.into(),
            name.into(),
            balance.into(),
            grp.into(),
            reference.into(),
        ];
        s.execute_prepared(&insert, &values).unwrap();
    }
    exec(&mut s, "COMMIT");
    out.push((
        "INSERT, all rows in one transaction (per row)",
        per_op(start, keys.len()),
    ));
    let insert_u = s.prepare("INSERT INTO u VALUES ($1, $2)").unwrap();
    exec(&mut s, "BEGIN");
    for i in 0..joined as i64 {
        s.execute_prepared(&insert_u, &[i.into(), (i % 7).into()])
            .unwrap();
    }
    exec(&mut s, "COMMIT");

    // Warm: every row read once.
    black_box(exec(&mut s, "SELECT sum(balance) FROM t"));
    let hits = hits(keys, opts.points, seed);

    let point = s
        .prepare("SELECT id, name, balance FROM t WHERE id = $1")
        .unwrap();
    exec(&mut s, "BEGIN READ ONLY");
    let start = Instant::now();
    let mut sum = 0i64;
    for &k in &hits {
        let result = s.execute_prepared(&point, &[Value::Int(k)]).unwrap();
        if let Value::Int(b) = result.rows[0][2] {
            sum += b;
        }
    }
    out.push(("point SELECT by key, warm", per_op(start, hits.len())));
    black_box(sum);

    let range = s
        .prepare("SELECT id, name, balance FROM t WHERE id >= $1 AND id < $2")
        .unwrap();
    let bounds = ranges(keys, opts.ranges, opts.range, seed + 1);
    let start = Instant::now();
    let mut count = 0;
    for &(lo, hi) in &bounds {
        count += s
            .execute_prepared(&range, &[Value::Int(lo), Value::Int(hi)])
            .unwrap()
            .rows
            .len();
    }
    out.push((
        "range SELECT of 10,000 rows (per query)",
        per_op(start, bounds.len()),
    ));
    assert_eq!(count, bounds.len() * opts.range.min(keys.len() - 1));

    let start = Instant::now();
    for _ in 0..opts.scans {
        let groups = exec(
            &mut s,
            "SELECT grp, count(*), sum(balance) FROM t GROUP BY grp",
        );
        assert_eq!(groups.len(), keys.len().min(1000));
    }
    out.push((
        "GROUP BY aggregate over the table (per query)",
        per_op(start, opts.scans),
    ));

    let start = Instant::now();
    for _ in 0..opts.scans {
        let joined_rows = exec(
            &mut s,
            "SELECT count(*), sum(u.weight) FROM t JOIN u ON t.ref = u.id",
        );
        assert_eq!(joined_rows[0][0], Value::Int(keys.len() as i64));
    }
    out.push((
        "hash join t × u with an aggregate (per query)",
        per_op(start, opts.scans),
    ));
    exec(&mut s, "COMMIT");

    let update = s
        .prepare("UPDATE t SET balance = balance + 1 WHERE id = $1")
        .unwrap();
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for &k in &hits {
        s.execute_prepared(&update, &[Value::Int(k)]).unwrap();
    }
    exec(&mut s, "COMMIT");
    out.push((
        "UPDATE by key, one transaction (per row)",
        per_op(start, hits.len()),
    ));
    out
}

// ---- SQLite -------------------------------------------------------------------------------

fn run_sqlite(keys: &[i64], opts: &Options, seed: u64) -> Results {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = Connection::open(dir.path().join("bench.sqlite")).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -1048576;
         CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER, grp INTEGER, ref INTEGER);
         CREATE TABLE u (id INTEGER PRIMARY KEY, weight INTEGER);",
    )
    .unwrap();
    let mut out = Vec::new();
    let joined = (keys.len() / 10).max(1);

    let start = Instant::now();
    let txn = conn.transaction().unwrap();
    {
        let mut insert = txn
            .prepare_cached("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)")
            .unwrap();
        for (i, &k) in keys.iter().enumerate() {
            let (id, name, balance, grp, reference) = row(k, i, joined);
            insert
                .execute(params![id, name, balance, grp, reference])
                .unwrap();
        }
    }
    txn.commit().unwrap();
    out.push((
        "INSERT, all rows in one transaction (per row)",
        per_op(start, keys.len()),
    ));
    let txn = conn.transaction().unwrap();
    {
        let mut insert = txn.prepare_cached("INSERT INTO u VALUES (?1, ?2)").unwrap();
        for i in 0..joined as i64 {
            insert.execute(params![i, i % 7]).unwrap();
        }
    }
    txn.commit().unwrap();

    let sum: i64 = conn
        .query_row("SELECT sum(balance) FROM t", [], |r| r.get(0))
        .unwrap();
    black_box(sum);
    let hits = hits(keys, opts.points, seed);

    let txn = conn.transaction().unwrap();
    {
        let mut point = txn
            .prepare_cached("SELECT id, name, balance FROM t WHERE id = ?1")
            .unwrap();
        let start = Instant::now();
        let mut sum = 0i64;
        for &k in &hits {
            let (_, _, b): (i64, String, i64) = point
                .query_row([k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap();
            sum += b;
        }
        out.push(("point SELECT by key, warm", per_op(start, hits.len())));
        black_box(sum);

        let mut range = txn
            .prepare_cached("SELECT id, name, balance FROM t WHERE id >= ?1 AND id < ?2")
            .unwrap();
        let bounds = ranges(keys, opts.ranges, opts.range, seed + 1);
        let start = Instant::now();
        let mut count = 0;
        for &(lo, hi) in &bounds {
            let mut rows = range.query(params![lo, hi]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let _: (i64, String, i64) = (
                    row.get(0).unwrap(),
                    row.get(1).unwrap(),
                    row.get(2).unwrap(),
                );
                count += 1;
            }
        }
        out.push((
            "range SELECT of 10,000 rows (per query)",
            per_op(start, bounds.len()),
        ));
        assert_eq!(count, bounds.len() * opts.range.min(keys.len() - 1));

        let mut group = txn
            .prepare_cached("SELECT grp, count(*), sum(balance) FROM t GROUP BY grp")
            .unwrap();
        let start = Instant::now();
        for _ in 0..opts.scans {
            let groups: Vec<(i64, i64, i64)> = group
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(groups.len(), keys.len().min(1000));
        }
        out.push((
            "GROUP BY aggregate over the table (per query)",
            per_op(start, opts.scans),
        ));

        let mut join = txn
            .prepare_cached("SELECT count(*), sum(u.weight) FROM t JOIN u ON t.ref = u.id")
            .unwrap();
        let start = Instant::now();
        for _ in 0..opts.scans {
            let (count, _): (i64, i64) =
                join.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
            assert_eq!(count, keys.len() as i64);
        }
        out.push((
            "hash join t × u with an aggregate (per query)",
            per_op(start, opts.scans),
        ));
    }
    txn.commit().unwrap();

    let start = Instant::now();
    let txn = conn.transaction().unwrap();
    {
        let mut update = txn
            .prepare_cached("UPDATE t SET balance = balance + 1 WHERE id = ?1")
            .unwrap();
        for &k in &hits {
            update.execute([k]).unwrap();
        }
    }
    txn.commit().unwrap();
    out.push((
        "UPDATE by key, one transaction (per row)",
        per_op(start, hits.len()),
    ));
    out
}

fn main() {
    let args = Args::from_env();
    let quick = args.quick();
    let rows = args.number("--rows", 1_000_000, 10_000);
    let opts = Options {
        rows,
        reps: args.number("--reps", 3, 1),
        points: rows.min(200_000),
        ranges: if quick { 5 } else { 100 },
        range: 10_000,
        scans: if quick { 1 } else { 3 },
    };
    let keys: Vec<i64> = sorted_keys(opts.rows, 42)
        .into_iter()
        .map(|k| (k >> 1) as i64)
        .collect();
    let title = format!(
        "{} rows (joined with {}), OmenDB SQL ({}) vs SQLite {} (WAL)",
        opts.rows,
        (opts.rows / 10).max(1),
        StorageKind::default_for_build(),
        rusqlite::version()
    );
    compare(
        &title,
        opts.reps,
        |seed| run_omendb(&keys, &opts, seed),
        |seed| run_sqlite(&keys, &opts, seed),
    );
}
