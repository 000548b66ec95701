//! `omendb-bench embedded`: OmenDB's engine through SQL against SQLite (`rusqlite`, bundled, WAL),
//! in one process on the same data, both with prepared statements.
//!
//! Tables `t(id BIGINT PRIMARY KEY, name TEXT, balance BIGINT, grp INTEGER, ref BIGINT)` and
//! `u(id BIGINT PRIMARY KEY, weight BIGINT)` with a tenth as many rows (`t.ref` names a row of
//! `u`). Sequential keys are 1…n inserted in order; random keys are distinct uniform 63-bit keys
//! inserted in random order. Durability is matched: `synchronous_commit` on ↔ SQLite
//! `synchronous = FULL`, off ↔ `NORMAL` (both WAL).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use omendb::storage::StorageKind;
use omendb::types::Value;
use omendb::{Database, DatabaseConfig, Session};
use rusqlite::{Connection, params};

use crate::common::{SplitMix, sorted_keys};
use crate::report::{Better, Figures};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keys {
    Sequential,
    Random,
}

/// One configuration's sizes.
#[derive(Debug, Clone)]
pub struct Config {
    pub rows: usize,
    pub keys: Keys,
    /// Durable commits (OmenDB `synchronous_commit = on`, SQLite `synchronous = FULL`).
    pub sync: bool,
    /// Point selects (hits, and as many misses) per measurement.
    pub points: usize,
    /// Range selects of 100 rows, and of 10,000 rows, per measurement.
    pub short_ranges: usize,
    pub long_ranges: usize,
    /// GROUP BY and join queries per measurement.
    pub scans: usize,
    /// Single-statement transactions for each of update, delete and the mixed workload.
    pub writes: usize,
    /// Rows inserted in one transaction by the workloads whose per-statement cost must not
    /// grow with the transaction: a savepoint around each insert (what JDBC's
    /// `autosave=always` and psql's `ON_ERROR_ROLLBACK` do), and "get or create" (a lookup by
    /// a secondary index before each insert).
    pub big_txn_rows: usize,
    /// OmenDB's `omendb.analytics` (`auto`: analytical queries run on DataFusion).
    pub analytics: &'static str,
}

impl Config {
    pub fn new(rows: usize, keys: Keys, sync: bool, quick: bool) -> Self {
        let scale = |full: usize, fast: usize| if quick { fast } else { full };
        Config {
            rows,
            keys,
            sync,
            points: rows.min(scale(100_000, 500)),
            short_ranges: scale(1_000, 20),
            long_ranges: scale(20, 2),
            scans: scale(3, 1),
            // A durable commit waits for the disk: fewer of them, or a run takes hours.
            writes: (rows / 4).min(if sync {
                scale(1_000, 50)
            } else {
                scale(20_000, 200)
            }),
            big_txn_rows: rows.min(scale(20_000, 200)),
            analytics: "auto",
        }
    }

    pub fn title(&self) -> String {
        format!(
            "{} rows, {} keys, synchronous commit {}{}",
            self.rows,
            match self.keys {
                Keys::Sequential => "sequential",
                Keys::Random => "random",
            },
            if self.sync {
                "on (SQLite FULL)"
            } else {
                "off (SQLite NORMAL)"
            },
            match self.analytics {
                "auto" => String::new(),
                mode => format!(", omendb.analytics {mode}"),
            }
        )
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> Vec<i64> {
        match self.keys {
            Keys::Sequential => (1..=self.rows as i64).collect(),
            Keys::Random => {
                let mut keys: Vec<i64> = sorted_keys(self.rows, 42)
                    .into_iter()
                    .map(|k| (k >> 1) as i64)
                    .collect();
                let mut rng = SplitMix(7);
                for i in (1..keys.len()).rev() {
                    keys.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
                }
                keys
            }
        }
    }
}

/// `[lo, hi)` bounds and the number of keys between them.
type Range = (i64, i64, usize);

/// The keys that exist, in order, and draws from them.
struct Workload {
    sorted: Vec<i64>,
}

impl Workload {
    fn new(keys: &[i64]) -> Self {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        Workload { sorted }
    }

    fn hits(&self, count: usize, seed: u64) -> Vec<i64> {
        let mut rng = SplitMix(seed);
        (0..count)
            .map(|_| self.sorted[(rng.next_u64() % self.sorted.len() as u64) as usize])
            .collect()
    }

    /// Keys between existing ones (or past the end): never present.
    fn misses(&self, count: usize, seed: u64) -> Vec<i64> {
        self.hits(count, seed)
            .into_iter()
            .map(|k| match self.sorted.binary_search(&(k + 1)) {
                Ok(_) => -k - 1,
                Err(_) => k + 1,
            })
            .collect()
    }

    /// The keys of the hit and the miss measurements.
    fn point_probes(&self, count: usize, seed: u64) -> [(&'static str, Vec<i64>); 2] {
        [
            (HIT, self.hits(count, seed)),
            (MISS, self.misses(count, seed + 1)),
        ]
    }

    /// The bounds of the short and the long range measurements.
    fn range_probes(&self, cfg: &Config, seed: u64) -> [(&'static str, Vec<Range>); 2] {
        [
            (RANGE_100, self.ranges(cfg.short_ranges, 100, seed + 2)),
            (RANGE_10K, self.ranges(cfg.long_ranges, 10_000, seed + 2)),
        ]
    }

    /// `[lo, hi)` bounds holding exactly `len` keys (fewer near the end).
    fn ranges(&self, count: usize, len: usize, seed: u64) -> Vec<Range> {
        let n = self.sorted.len();
        let len = len.min(n - 1);
        let mut rng = SplitMix(seed);
        (0..count)
            .map(|_| {
                let i = (rng.next_u64() % (n - len) as u64) as usize;
                (self.sorted[i], self.sorted[i + len], len)
            })
            .collect()
    }
}

/// Row `i` of `t` for key `k`.
fn row(k: i64, i: usize, joined: usize) -> (i64, String, i64, i64, i64) {
    (
        k,
        format!("user-{:012}", k.rem_euclid(1_000_000_000_000)),
        k.rem_euclid(1000),
        (i % 1000) as i64,
        (i % joined) as i64,
    )
}

/// A workload running on its own thread until [`Alongside::finish`] (at least one round).
pub struct Alongside {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// Starts `work` on another thread and returns once it has begun.
pub fn alongside(work: impl FnOnce(&AtomicBool) + Send + 'static) -> Alongside {
    let stop = Arc::new(AtomicBool::new(false));
    let (started, begun) = std::sync::mpsc::channel();
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        started.send(()).expect("the measuring thread waits");
        work(&flag);
    });
    begun.recv().expect("the workload thread started");
    Alongside { stop, thread }
}

impl Alongside {
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the workload thread");
    }
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

fn push(out: &mut Figures, name: &str, value: f64) {
    out.push((name.to_string(), "ns/op", Better::Lower, value));
}

const INSERT: &str = "bulk insert, one transaction (per row)";
const HIT: &str = "point select, hit";
const MISS: &str = "point select, miss";
const IN_LIST: &str = "select of 10 keys with IN (per query)";
/// `SELECT id, name, balance FROM t WHERE id IN (…)` with ten parameters, in each dialect.
fn in_list_sql(mark: char) -> String {
    let marks: Vec<String> = (1..=10).map(|i| format!("{mark}{i}")).collect();
    format!(
        "SELECT id, name, balance FROM t WHERE id IN ({})",
        marks.join(", ")
    )
}
const HIT_BUSY: &str = "point select, hit, while another session runs the GROUP BY";
const GROUP_BY_SQL: &str = "SELECT grp, count(*), sum(balance) FROM t GROUP BY grp";
const RANGE_100: &str = "range select, 100 rows (per query)";
const RANGE_10K: &str = "range select, 10,000 rows (per query)";
const GROUP_BY: &str = "GROUP BY aggregate (per query)";
const JOIN: &str = "2-table join with an aggregate (per query)";
const UPDATE: &str = "update by key, a transaction each";
const DELETE: &str = "delete by key, a transaction each";
const MIXED: &str = "mixed 80% point select / 20% update, a transaction each";
const SAVEPOINTS: &str = "insert with a savepoint per row, one transaction (per row)";
const SAVEPOINT_TABLE: &str = "CREATE TABLE s (id BIGINT PRIMARY KEY, v BIGINT)";
const GET_OR_CREATE: &str = "look up by a secondary index, then insert, one transaction (per row)";
const GET_OR_CREATE_TABLES: &str =
    "CREATE TABLE g (id BIGINT PRIMARY KEY, code BIGINT); CREATE INDEX g_code ON g (code)";

/// Keys of other shapes, on the same key values: a TEXT key (`'user-0000000000000123456'`,
/// the number zero-padded behind a shared prefix, as order numbers and user names are), and a
/// composite key `(tenant, id)` with a hundred tenants.
const SHAPED_TABLES: &str = "CREATE TABLE k (code TEXT PRIMARY KEY, v BIGINT); \
     CREATE TABLE c (tenant BIGINT, id BIGINT, v BIGINT, PRIMARY KEY (tenant, id))";
const TEXT_INSERT: &str = "bulk insert, TEXT key, one transaction (per row)";
const TEXT_HIT: &str = "point select by TEXT key, hit";
const COMPOSITE_INSERT: &str = "bulk insert, composite key, one transaction (per row)";
const COMPOSITE_HIT: &str = "point select by composite key, hit";

/// Key `k` as a TEXT key.
fn code(k: i64) -> String {
    format!("user-{k:019}")
}

/// Key `k` as a composite key.
fn tenant_key(k: i64) -> (i64, i64) {
    (k.rem_euclid(100), k)
}

fn exec(session: &mut Session, sql: &str) -> omendb::Rows {
    session
        .execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .pop()
        .map(|r| r.rows)
        .unwrap_or_default()
}

/// Opens OmenDB (the native default storage) in `dir`.
pub fn open_omendb(dir: &Path, sync: bool) -> Database {
    let mut config = DatabaseConfig::new(StorageKind::default_for_build(), Some(dir.into()));
    config.cache_bytes = 8 << 30;
    config.synchronous_commit = sync;
    Database::open(config).expect("open OmenDB")
}

/// Creates and fills the tables; the nanoseconds per inserted row of `t`.
pub fn load_omendb(s: &mut Session, keys: &[i64]) -> f64 {
    let joined = (keys.len() / 10).max(1);
    exec(
        s,
        "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, balance BIGINT, grp INTEGER, ref BIGINT)",
    );
    exec(s, "CREATE TABLE u (id BIGINT PRIMARY KEY, weight BIGINT)");
    let insert = s
        .prepare("INSERT INTO t VALUES ($1, $2, $3, $4, $5)")
        .expect("prepare");
    let start = Instant::now();
    exec(s, "BEGIN");
    for (i, &k) in keys.iter().enumerate() {
        let (id, name, balance, grp, reference) = row(k, i, joined);
        let values = [
            id.into(),
            name.into(),
            balance.into(),
            grp.into(),
            reference.into(),
        ];
        s.execute_prepared(&insert, &values).expect("insert");
    }
    exec(s, "COMMIT");
    let insert_ns = per_op(start, keys.len());
    let insert_u = s.prepare("INSERT INTO u VALUES ($1, $2)").expect("prepare");
    exec(s, "BEGIN");
    for i in 0..joined as i64 {
        s.execute_prepared(&insert_u, &[i.into(), (i % 7).into()])
            .expect("insert");
    }
    exec(s, "COMMIT");
    insert_ns
}

pub fn run_omendb(cfg: &Config, seed: u64) -> Figures {
    let keys = cfg.keys();
    let work = Workload::new(&keys);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = open_omendb(dir.path(), cfg.sync);
    let mut s = db.session();
    exec(&mut s, &format!("SET omendb.analytics = {}", cfg.analytics));
    let mut out = Figures::new();
    push(&mut out, INSERT, load_omendb(&mut s, &keys));

    black_box(exec(&mut s, "SELECT sum(balance) FROM t")); // warm: every row read once
    exec(&mut s, "BEGIN READ ONLY");
    let point = s
        .prepare("SELECT id, name, balance FROM t WHERE id = $1")
        .expect("prepare");
    for (name, probe) in work.point_probes(cfg.points, seed) {
        let start = Instant::now();
        let mut found = 0;
        for &k in &probe {
            found += s
                .execute_prepared(&point, &[Value::Int(k)])
                .expect("select")
                .rows
                .len();
        }
        push(&mut out, name, per_op(start, probe.len()));
        assert_eq!(found, if name == HIT { probe.len() } else { 0 }, "{name}");
    }
    let batches = work.hits(cfg.points / 10 * 10, seed ^ 0x1157);
    let in_list = s.prepare(&in_list_sql('$')).expect("prepare");
    let start = Instant::now();
    let mut found = 0;
    for batch in batches.chunks(10) {
        let params: Vec<Value> = batch.iter().map(|&k| Value::Int(k)).collect();
        found += s
            .execute_prepared(&in_list, &params)
            .expect("select")
            .rows
            .len();
    }
    push(&mut out, IN_LIST, per_op(start, batches.len() / 10));
    assert!(found > 0 && found <= batches.len());
    // The same lookups while another session runs the GROUP BY over and over (HTAP: how
    // much an analytical query costs the transactional load beside it).
    let probe = work.hits(cfg.points, seed ^ 0x5eed);
    let (other_db, analytics) = (db.clone(), cfg.analytics);
    let busy = alongside(move |stop| {
        let mut other = other_db.session();
        exec(&mut other, &format!("SET omendb.analytics = {analytics}"));
        let mut scans = 0;
        while scans == 0 || !stop.load(Ordering::Relaxed) {
            black_box(exec(&mut other, GROUP_BY_SQL));
            scans += 1;
        }
    });
    let start = Instant::now();
    for &k in &probe {
        let rows = s
            .execute_prepared(&point, &[Value::Int(k)])
            .expect("select");
        assert_eq!(rows.rows.len(), 1);
    }
    push(&mut out, HIT_BUSY, per_op(start, probe.len()));
    busy.finish();
    let range = s
        .prepare("SELECT id, name, balance FROM t WHERE id >= $1 AND id < $2")
        .expect("prepare");
    for (name, bounds) in work.range_probes(cfg, seed) {
        let start = Instant::now();
        for &(lo, hi, expected) in &bounds {
            let rows = s
                .execute_prepared(&range, &[Value::Int(lo), Value::Int(hi)])
                .expect("range");
            assert_eq!(rows.rows.len(), expected);
        }
        push(&mut out, name, per_op(start, bounds.len()));
    }
    let start = Instant::now();
    for _ in 0..cfg.scans {
        let groups = exec(
            &mut s,
            "SELECT grp, count(*), sum(balance) FROM t GROUP BY grp",
        );
        assert_eq!(groups.len(), keys.len().min(1000));
    }
    push(&mut out, GROUP_BY, per_op(start, cfg.scans));
    let start = Instant::now();
    for _ in 0..cfg.scans {
        let joined = exec(
            &mut s,
            "SELECT count(*), sum(u.weight) FROM t JOIN u ON t.ref = u.id",
        );
        assert_eq!(joined[0][0], Value::Int(keys.len() as i64));
    }
    push(&mut out, JOIN, per_op(start, cfg.scans));
    exec(&mut s, "COMMIT");

    let update = s
        .prepare("UPDATE t SET balance = balance + 1 WHERE id = $1")
        .expect("prepare");
    let targets = work.hits(cfg.writes, seed + 3);
    let start = Instant::now();
    for &k in &targets {
        s.execute_prepared(&update, &[Value::Int(k)])
            .expect("update");
    }
    push(&mut out, UPDATE, per_op(start, targets.len()));

    let mut rng = SplitMix(seed + 4);
    let start = Instant::now();
    for (i, &k) in targets.iter().enumerate() {
        if rng.next_u64() % 5 == 0 {
            s.execute_prepared(&update, &[Value::Int(k)])
                .expect("update");
        } else {
            black_box(
                s.execute_prepared(&point, &[Value::Int(targets[(i * 7) % targets.len()])])
                    .expect("select"),
            );
        }
    }
    push(&mut out, MIXED, per_op(start, targets.len()));

    let delete = s.prepare("DELETE FROM t WHERE id = $1").expect("prepare");
    let mut victims = targets;
    victims.sort_unstable();
    victims.dedup();
    let start = Instant::now();
    for &k in &victims {
        let result = s
            .execute_prepared(&delete, &[Value::Int(k)])
            .expect("delete");
        assert_eq!(result.tag, "DELETE 1");
    }
    push(&mut out, DELETE, per_op(start, victims.len()));

    exec(&mut s, SAVEPOINT_TABLE);
    let [savepoint, insert, release] = [
        "SAVEPOINT each_row",
        "INSERT INTO s VALUES ($1, $2)",
        "RELEASE each_row",
    ]
    .map(|sql| s.prepare(sql).expect("prepare"));
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for i in 0..cfg.big_txn_rows as i64 {
        s.execute_prepared(&savepoint, &[]).expect("savepoint");
        s.execute_prepared(&insert, &[Value::Int(i), Value::Int(i)])
            .expect("insert");
        s.execute_prepared(&release, &[]).expect("release");
    }
    exec(&mut s, "COMMIT");
    push(&mut out, SAVEPOINTS, per_op(start, cfg.big_txn_rows));

    // "Get or create": each new row is looked for first, by a secondary index, in the same
    // transaction that inserts the rows before it.
    for sql in GET_OR_CREATE_TABLES.split("; ") {
        exec(&mut s, sql);
    }
    let lookup = s
        .prepare("SELECT id FROM g WHERE code = $1")
        .expect("prepare");
    let insert = s.prepare("INSERT INTO g VALUES ($1, $2)").expect("prepare");
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for i in 0..cfg.big_txn_rows as i64 {
        let found = s
            .execute_prepared(&lookup, &[Value::Int(i * 7)])
            .expect("lookup");
        assert!(found.rows.is_empty());
        s.execute_prepared(&insert, &[Value::Int(i), Value::Int(i * 7)])
            .expect("insert");
    }
    exec(&mut s, "COMMIT");
    push(&mut out, GET_OR_CREATE, per_op(start, cfg.big_txn_rows));

    for sql in SHAPED_TABLES.split("; ") {
        exec(&mut s, sql);
    }
    let probes = work.hits(cfg.points, seed + 5);
    let insert = s.prepare("INSERT INTO k VALUES ($1, $2)").expect("prepare");
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for &k in &keys {
        s.execute_prepared(&insert, &[code(k).into(), k.into()])
            .expect("insert");
    }
    exec(&mut s, "COMMIT");
    push(&mut out, TEXT_INSERT, per_op(start, keys.len()));
    black_box(exec(&mut s, "SELECT max(v) FROM k")); // warm, as `t` is
    let point = s
        .prepare("SELECT v FROM k WHERE code = $1")
        .expect("prepare");
    let codes: Vec<Value> = probes.iter().map(|&k| code(k).into()).collect();
    let start = Instant::now();
    for (code, &k) in codes.iter().zip(&probes) {
        let rows = s
            .execute_prepared(&point, std::slice::from_ref(code))
            .expect("select")
            .rows;
        assert_eq!(rows, vec![vec![Value::Int(k)]]);
    }
    push(&mut out, TEXT_HIT, per_op(start, probes.len()));

    let insert = s
        .prepare("INSERT INTO c VALUES ($1, $2, $3)")
        .expect("prepare");
    let start = Instant::now();
    exec(&mut s, "BEGIN");
    for &k in &keys {
        let (tenant, id) = tenant_key(k);
        s.execute_prepared(&insert, &[tenant.into(), id.into(), k.into()])
            .expect("insert");
    }
    exec(&mut s, "COMMIT");
    push(&mut out, COMPOSITE_INSERT, per_op(start, keys.len()));
    black_box(exec(&mut s, "SELECT max(v) FROM c"));
    let point = s
        .prepare("SELECT v FROM c WHERE tenant = $1 AND id = $2")
        .expect("prepare");
    let start = Instant::now();
    for &k in &probes {
        let (tenant, id) = tenant_key(k);
        let rows = s
            .execute_prepared(&point, &[tenant.into(), id.into()])
            .expect("select")
            .rows;
        assert_eq!(rows, vec![vec![Value::Int(k)]]);
    }
    push(&mut out, COMPOSITE_HIT, per_op(start, probes.len()));
    out
}

/// Reads every `(id, name, balance)` row of a SQLite result; how many there were.
fn read_accounts(mut rows: rusqlite::Rows<'_>) -> usize {
    let mut count = 0;
    while let Some(r) = rows.next().expect("row") {
        let _: (i64, String, i64) = (
            r.get(0).expect("id"),
            r.get(1).expect("name"),
            r.get(2).expect("balance"),
        );
        count += 1;
    }
    count
}

/// Opens SQLite in `dir` with the matching durability.
pub fn open_sqlite(dir: &Path, sync: bool) -> Connection {
    let conn = Connection::open(dir.join("bench.sqlite")).expect("open SQLite");
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA cache_size = -1048576;",
        if sync { "FULL" } else { "NORMAL" }
    ))
    .expect("configure SQLite");
    conn
}

/// Creates and fills the tables; the nanoseconds per inserted row of `t`.
pub fn load_sqlite(conn: &mut Connection, keys: &[i64]) -> f64 {
    let joined = (keys.len() / 10).max(1);
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, balance INTEGER, grp INTEGER, ref INTEGER);
         CREATE TABLE u (id INTEGER PRIMARY KEY, weight INTEGER);",
    )
    .expect("create");
    let start = Instant::now();
    let txn = conn.transaction().expect("begin");
    {
        let mut insert = txn
            .prepare_cached("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)")
            .expect("prepare");
        for (i, &k) in keys.iter().enumerate() {
            let (id, name, balance, grp, reference) = row(k, i, joined);
            insert
                .execute(params![id, name, balance, grp, reference])
                .expect("insert");
        }
    }
    txn.commit().expect("commit");
    let insert_ns = per_op(start, keys.len());
    let txn = conn.transaction().expect("begin");
    {
        let mut insert = txn
            .prepare_cached("INSERT INTO u VALUES (?1, ?2)")
            .expect("prepare");
        for i in 0..joined as i64 {
            insert.execute(params![i, i % 7]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    insert_ns
}

pub fn run_sqlite(cfg: &Config, seed: u64) -> Figures {
    let keys = cfg.keys();
    let work = Workload::new(&keys);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut conn = open_sqlite(dir.path(), cfg.sync);
    let mut out = Figures::new();
    push(&mut out, INSERT, load_sqlite(&mut conn, &keys));
    let sum: i64 = conn
        .query_row("SELECT sum(balance) FROM t", [], |r| r.get(0))
        .expect("warm");
    black_box(sum);

    let txn = conn.transaction().expect("begin");
    {
        let mut point = txn
            .prepare_cached("SELECT id, name, balance FROM t WHERE id = ?1")
            .expect("prepare");
        for (name, probe) in work.point_probes(cfg.points, seed) {
            let start = Instant::now();
            let mut found = 0;
            for &k in &probe {
                found += read_accounts(point.query([k]).expect("select"));
            }
            push(&mut out, name, per_op(start, probe.len()));
            assert_eq!(found, if name == HIT { probe.len() } else { 0 }, "{name}");
        }
        let batches = work.hits(cfg.points / 10 * 10, seed ^ 0x1157);
        let mut in_list = txn.prepare_cached(&in_list_sql('?')).expect("prepare");
        let start = Instant::now();
        let mut found = 0;
        for batch in batches.chunks(10) {
            found += read_accounts(
                in_list
                    .query(rusqlite::params_from_iter(batch))
                    .expect("select"),
            );
        }
        push(&mut out, IN_LIST, per_op(start, batches.len() / 10));
        assert!(found > 0 && found <= batches.len());
        drop(in_list);
        let probe = work.hits(cfg.points, seed ^ 0x5eed);
        let (path, sync) = (dir.path().to_path_buf(), cfg.sync);
        let busy = alongside(move |stop| {
            let other = open_sqlite(&path, sync);
            let mut group = other.prepare(GROUP_BY_SQL).expect("prepare");
            let mut scans = 0;
            while scans == 0 || !stop.load(Ordering::Relaxed) {
                let mut rows = group.query([]).expect("group");
                while let Some(row) = rows.next().expect("row") {
                    black_box(row.get::<_, i64>(1).expect("count"));
                }
                scans += 1;
            }
        });
        let start = Instant::now();
        for &k in &probe {
            let mut rows = point.query([k]).expect("select");
            let row = rows.next().expect("row").expect("a hit");
            black_box(row.get::<_, String>(1).expect("name"));
        }
        push(&mut out, HIT_BUSY, per_op(start, probe.len()));
        busy.finish();
        let mut range = txn
            .prepare_cached("SELECT id, name, balance FROM t WHERE id >= ?1 AND id < ?2")
            .expect("prepare");
        for (name, bounds) in work.range_probes(cfg, seed) {
            let start = Instant::now();
            for &(lo, hi, expected) in &bounds {
                let n = read_accounts(range.query(params![lo, hi]).expect("range"));
                assert_eq!(n, expected);
            }
            push(&mut out, name, per_op(start, bounds.len()));
        }
        let mut group = txn
            .prepare_cached("SELECT grp, count(*), sum(balance) FROM t GROUP BY grp")
            .expect("prepare");
        let start = Instant::now();
        for _ in 0..cfg.scans {
            let groups: Vec<(i64, i64, i64)> = group
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("group")
                .collect::<Result<_, _>>()
                .expect("rows");
            assert_eq!(groups.len(), keys.len().min(1000));
        }
        push(&mut out, GROUP_BY, per_op(start, cfg.scans));
        let mut join = txn
            .prepare_cached("SELECT count(*), sum(u.weight) FROM t JOIN u ON t.ref = u.id")
            .expect("prepare");
        let start = Instant::now();
        for _ in 0..cfg.scans {
            let (count, _): (i64, i64) = join
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
                .expect("join");
            assert_eq!(count, keys.len() as i64);
        }
        push(&mut out, JOIN, per_op(start, cfg.scans));
    }
    txn.commit().expect("commit");

    let targets = work.hits(cfg.writes, seed + 3);
    let mut update = conn
        .prepare_cached("UPDATE t SET balance = balance + 1 WHERE id = ?1")
        .expect("prepare");
    let start = Instant::now();
    for &k in &targets {
        update.execute([k]).expect("update");
    }
    push(&mut out, UPDATE, per_op(start, targets.len()));
    let mut point = conn
        .prepare_cached("SELECT id, name, balance FROM t WHERE id = ?1")
        .expect("prepare");
    let mut rng = SplitMix(seed + 4);
    let start = Instant::now();
    for (i, &k) in targets.iter().enumerate() {
        if rng.next_u64() % 5 == 0 {
            update.execute([k]).expect("update");
        } else {
            let k = targets[(i * 7) % targets.len()];
            let r: (i64, String, i64) = point
                .query_row([k], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("select");
            black_box(r);
        }
    }
    push(&mut out, MIXED, per_op(start, targets.len()));
    drop((update, point));
    let mut delete = conn
        .prepare_cached("DELETE FROM t WHERE id = ?1")
        .expect("prepare");
    let mut victims = targets;
    victims.sort_unstable();
    victims.dedup();
    let start = Instant::now();
    for &k in &victims {
        assert_eq!(delete.execute([k]).expect("delete"), 1);
    }
    push(&mut out, DELETE, per_op(start, victims.len()));
    drop(delete);

    conn.execute_batch(SAVEPOINT_TABLE).expect("create");
    let start = Instant::now();
    let txn = conn.transaction().expect("begin");
    {
        let mut savepoint = txn.prepare_cached("SAVEPOINT each_row").expect("prepare");
        let mut insert = txn
            .prepare_cached("INSERT INTO s VALUES (?1, ?2)")
            .expect("prepare");
        let mut release = txn.prepare_cached("RELEASE each_row").expect("prepare");
        for i in 0..cfg.big_txn_rows as i64 {
            savepoint.execute([]).expect("savepoint");
            insert.execute([i, i]).expect("insert");
            release.execute([]).expect("release");
        }
    }
    txn.commit().expect("commit");
    push(&mut out, SAVEPOINTS, per_op(start, cfg.big_txn_rows));

    conn.execute_batch(GET_OR_CREATE_TABLES).expect("create");
    let start = Instant::now();
    let txn = conn.transaction().expect("begin");
    {
        let mut lookup = txn
            .prepare_cached("SELECT id FROM g WHERE code = ?1")
            .expect("prepare");
        let mut insert = txn
            .prepare_cached("INSERT INTO g VALUES (?1, ?2)")
            .expect("prepare");
        for i in 0..cfg.big_txn_rows as i64 {
            let found = lookup
                .query([i * 7])
                .expect("lookup")
                .next()
                .expect("row")
                .is_some();
            assert!(!found);
            insert.execute([i, i * 7]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    push(&mut out, GET_OR_CREATE, per_op(start, cfg.big_txn_rows));

    conn.execute_batch(SHAPED_TABLES).expect("create");
    let probes = work.hits(cfg.points, seed + 5);
    let start = Instant::now();
    let txn = conn.transaction().expect("begin");
    {
        let mut insert = txn
            .prepare_cached("INSERT INTO k VALUES (?1, ?2)")
            .expect("prepare");
        for &k in &keys {
            insert.execute(params![code(k), k]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    push(&mut out, TEXT_INSERT, per_op(start, keys.len()));
    warm_sqlite(&conn, "SELECT max(v) FROM k");
    {
        let mut point = conn
            .prepare_cached("SELECT v FROM k WHERE code = ?1")
            .expect("prepare");
        let codes: Vec<String> = probes.iter().map(|&k| code(k)).collect();
        let start = Instant::now();
        for (code, &k) in codes.iter().zip(&probes) {
            let v: i64 = point.query_row([code], |r| r.get(0)).expect("select");
            assert_eq!(v, k);
        }
        push(&mut out, TEXT_HIT, per_op(start, probes.len()));
    }

    let start = Instant::now();
    let txn = conn.transaction().expect("begin");
    {
        let mut insert = txn
            .prepare_cached("INSERT INTO c VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for &k in &keys {
            let (tenant, id) = tenant_key(k);
            insert.execute([tenant, id, k]).expect("insert");
        }
    }
    txn.commit().expect("commit");
    push(&mut out, COMPOSITE_INSERT, per_op(start, keys.len()));
    warm_sqlite(&conn, "SELECT max(v) FROM c");
    {
        let mut point = conn
            .prepare_cached("SELECT v FROM c WHERE tenant = ?1 AND id = ?2")
            .expect("prepare");
        let start = Instant::now();
        for &k in &probes {
            let (tenant, id) = tenant_key(k);
            let v: i64 = point.query_row([tenant, id], |r| r.get(0)).expect("select");
            assert_eq!(v, k);
        }
        push(&mut out, COMPOSITE_HIT, per_op(start, probes.len()));
    }
    out
}

/// Runs an aggregate that reads every row of a table, as the OmenDB side does before measuring.
fn warm_sqlite(conn: &Connection, sql: &str) {
    let sum: i64 = conn.query_row(sql, [], |r| r.get(0)).expect("warm");
    black_box(sum);
}

/// Bytes of every file under `dir`.
pub fn disk_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A kilobyte figure from `/proc/self/status` (`VmRSS`, `VmHWM`).
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// What one engine's process used to hold the loaded tables: `omendb-bench embedded-footprint`
/// runs this alone in a fresh process, so the peak RSS is that engine's.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Footprint {
    /// Peak resident memory above the process's resident memory before loading, per row of `t`.
    pub rss_bytes_per_row: f64,
    /// The data directory's size after loading and closing, per row of `t`.
    pub disk_bytes_per_row: f64,
}

pub fn footprint(engine: &str, cfg: &Config) -> Footprint {
    let keys = cfg.keys();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let before = status_kib("VmRSS");
    match engine {
        "omendb" => {
            let db = open_omendb(dir.path(), cfg.sync);
            load_omendb(&mut db.session(), &keys);
            black_box(exec(&mut db.session(), "SELECT sum(balance) FROM t"));
            db.sync().expect("sync");
        }
        _ => {
            let mut conn = open_sqlite(dir.path(), cfg.sync);
            load_sqlite(&mut conn, &keys);
            let sum: i64 = conn
                .query_row("SELECT sum(balance) FROM t", [], |r| r.get(0))
                .expect("scan");
            black_box(sum);
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                .expect("checkpoint");
        }
    }
    let peak = status_kib("VmHWM");
    let rows = keys.len() as f64;
    Footprint {
        rss_bytes_per_row: peak.saturating_sub(before) as f64 * 1024.0 / rows,
        disk_bytes_per_row: disk_bytes(dir.path()) as f64 / rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_misses_and_ranges_are_what_they_claim() {
        for keys in [Keys::Sequential, Keys::Random] {
            let cfg = Config::new(5_000, keys, false, true);
            let all = cfg.keys();
            let work = Workload::new(&all);
            assert_eq!(work.sorted.windows(2).filter(|w| w[0] == w[1]).count(), 0);
            assert!(
                work.misses(300, 1)
                    .iter()
                    .all(|k| work.sorted.binary_search(k).is_err())
            );
            for (lo, hi, n) in work.ranges(50, 100, 2) {
                assert_eq!(
                    work.sorted.iter().filter(|&&k| k >= lo && k < hi).count(),
                    n
                );
            }
        }
    }
}
