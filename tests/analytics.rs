//! The analytics engine (DataFusion) against the native executor: every query of the SQL
//! corpus that DataFusion runs must give the native answer; the ones it refuses are listed,
//! with reasons, in `tests/analytics/refused.txt` (`OMENDB_BLESS=1` rewrites it). Plus
//! snapshot consistency under concurrent writers, a transaction's own rows, the memory limit
//! and cancellation.
#![cfg(feature = "analytics")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use omendb::sql::QueryResult;
use omendb::sql::settings::AnalyticsMode;
use omendb::types::Value;
use omendb::{Database, DatabaseConfig, Error, Session};
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

mod common;

/// What DataFusion did with the corpus's queries.
#[derive(Default)]
struct Record {
    ran: usize,
    refused: BTreeSet<String>,
    mismatches: Vec<String>,
}

struct Differential {
    session: Session,
    file: String,
    record: Arc<Mutex<Record>>,
}

/// Queries whose answer changes from one run to the next: they cannot be compared.
fn volatile(sql: &str) -> bool {
    let lower = sql.to_lowercase();
    [
        "random(",
        "now()",
        "clock_timestamp",
        "gen_random_uuid",
        "current_time",
        "localtime",
    ]
    .iter()
    .any(|f| lower.contains(f))
}

fn rendered(result: &QueryResult) -> Vec<Vec<String>> {
    result
        .rows
        .iter()
        .map(|row| row.iter().map(common::slt_value).collect())
        .collect()
}

impl Differential {
    fn compare(&mut self, sql: &str, native: &QueryResult) {
        self.session.set_analytics(AnalyticsMode::On);
        let analytic = self.session.execute(sql);
        let engine = self
            .session
            .last_query_engine()
            .map(|(e, why)| (e, why.to_string()));
        self.session.set_analytics(AnalyticsMode::Auto);
        let mut record = self.record.lock().unwrap();
        let first_line = sql.lines().next().unwrap_or_default().trim();
        match (engine, analytic) {
            (Some(("datafusion", _)), Ok(mut results)) => {
                record.ran += 1;
                let Some(result) = results.pop() else { return };
                let (mut a, mut b) = (rendered(native), rendered(&result));
                if !sql.to_lowercase().contains("order by") {
                    a.sort();
                    b.sort();
                }
                let names = |r: &QueryResult| -> Vec<String> {
                    r.columns
                        .iter()
                        .map(|c| format!("{}:{:?}", c.name, c.data_type))
                        .collect()
                };
                if a != b || names(native) != names(&result) {
                    record.mismatches.push(format!(
                        "{}: {sql}\n  native:     {:?} {a:?}\n  DataFusion: {:?} {b:?}",
                        self.file,
                        names(native),
                        names(&result)
                    ));
                }
            }
            (Some(("native", why)), _) if why == "no table to scan" => {}
            (Some(("native", why)), _) => {
                let why: String = why.chars().take(160).collect();
                record
                    .refused
                    .insert(format!("{}: {first_line}\n    {why}", self.file));
            }
            (_, Err(e)) => record.mismatches.push(format!(
                "{}: {sql}\n  native ran it, DataFusion failed: {e} ({})",
                self.file,
                e.sqlstate()
            )),
            _ => {}
        }
    }
}

impl sqllogictest::DB for Differential {
    type Error = Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Error> {
        // The corpus's tables are small: under `auto` its queries run natively.
        self.session.set_analytics(AnalyticsMode::Auto);
        let mut results = self.session.execute(sql)?;
        let Some(last) = results.pop() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        let is_query = sql.trim_start().to_lowercase().starts_with("select")
            || sql.trim_start().to_lowercase().starts_with("with");
        if last.columns.is_empty() {
            let count = last.tag.rsplit(' ').next().and_then(|n| n.parse().ok());
            return Ok(DBOutput::StatementComplete(count.unwrap_or(0)));
        }
        if is_query && results.is_empty() && !volatile(sql) {
            self.compare(sql, &last);
        }
        // The native result goes back to the runner, so the file runs on as in the corpus test.
        Ok(common::slt_rows(&last))
    }

    fn error_sql_state(err: &Error) -> Option<String> {
        Some(err.sqlstate().to_string())
    }
}

#[test]
fn corpus_queries_give_the_native_answers_on_datafusion() {
    let record = Arc::new(Mutex::new(Record::default()));
    for file in common::slt_files() {
        let db = Database::open(DatabaseConfig::memory()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let shared = record.clone();
        let mut runner = Runner::new(move || {
            std::future::ready(Ok::<_, Error>(Differential {
                session: db.session(),
                file: name.clone(),
                record: shared.clone(),
            }))
        });
        // The file must run to its end (the corpus test checks its expectations).
        runner
            .run_file(&file)
            .unwrap_or_else(|e| panic!("{}: {}", file.display(), e.display(true)));
    }
    let record = record.lock().unwrap();
    assert!(
        record.mismatches.is_empty(),
        "{} queries differ between the engines:\n{}",
        record.mismatches.len(),
        record.mismatches.join("\n")
    );
    let listed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/analytics/refused.txt");
    let header = "# Queries of tests/slt that DataFusion does not run (they run natively), with the \
                  reason.\n# Written by tests/analytics.rs with OMENDB_BLESS=1; checked by it \
                  otherwise.\n";
    let actual = format!(
        "{header}# DataFusion ran {} queries.\n{}\n",
        record.ran,
        record
            .refused
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    if std::env::var_os("OMENDB_BLESS").is_some() {
        std::fs::write(&listed, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&listed).unwrap_or_default();
    assert!(
        expected == actual,
        "tests/analytics/refused.txt is out of date (rerun with OMENDB_BLESS=1 and review):\n{actual}"
    );
    assert!(
        record.ran >= 100,
        "DataFusion ran only {} queries",
        record.ran
    );
}

fn accounts(rows: i64) -> Database {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE accounts (id BIGINT PRIMARY KEY, branch INTEGER, balance BIGINT)")
        .unwrap();
    s.execute(&format!(
        "INSERT INTO accounts SELECT i, i % 10, 100 FROM generate_series(1, {rows}) AS g(i)"
    ))
    .unwrap();
    db
}

fn engine(s: &Session) -> &'static str {
    s.last_query_engine().map(|(e, _)| e).unwrap_or("none")
}

#[test]
fn an_analytical_query_sees_one_snapshot_while_transfers_commit() {
    let rows = 120_000;
    let db = accounts(rows);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut s = db.session();
            let mut transfers = 0u64;
            let mut i = 0i64;
            // At least 200 transfers, and on until the reader is done.
            while transfers < 200 || !stop.load(Ordering::Relaxed) {
                let (from, to) = (1 + (i * 7919) % rows, 1 + (i * 104_729) % rows);
                i += 1;
                s.execute(&format!(
                    "BEGIN; UPDATE accounts SET balance = balance - 5 WHERE id = {from}; \
                     UPDATE accounts SET balance = balance + 5 WHERE id = {to}; COMMIT"
                ))
                .unwrap();
                transfers += 1;
            }
            transfers
        })
    };
    let mut s = db.session();
    for _ in 0..10 {
        let result = s
            .execute("SELECT branch, sum(balance), count(*) FROM accounts GROUP BY branch")
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(engine(&s), "datafusion", "{:?}", s.last_query_engine());
        let total: i64 = result
            .rows
            .iter()
            .map(|r| match &r[1] {
                Value::Numeric(d) => i64::try_from(*d).unwrap(),
                Value::Int(i) => *i,
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(total, rows * 100);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() >= 200);
}

#[test]
fn a_query_in_a_transaction_sees_its_own_writes_and_not_later_commits() {
    let db = accounts(110_000);
    let mut s = db.session();
    let mut other = db.session();
    s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    s.execute("INSERT INTO accounts VALUES (200001, 3, 1000), (200002, 4, 1000)")
        .unwrap();
    s.execute("DELETE FROM accounts WHERE id <= 10").unwrap();
    let sum = "SELECT count(*), sum(balance) FROM accounts WHERE branch >= 0";
    let first = s.execute(sum).unwrap().pop().unwrap();
    assert_eq!(engine(&s), "datafusion");
    assert_eq!(first.rows[0][0], Value::Int(110_000 + 2 - 10));
    other
        .execute("INSERT INTO accounts VALUES (300000, 1, 5)")
        .unwrap();
    let second = s.execute(sum).unwrap().pop().unwrap();
    assert_eq!(
        second.rows, first.rows,
        "a later commit leaked into the snapshot"
    );
    s.execute("ROLLBACK").unwrap();
    let after = s.execute(sum).unwrap().pop().unwrap();
    assert_eq!(after.rows[0][0], Value::Int(110_001));
}

#[test]
fn auto_routes_large_analytical_queries_and_explain_says_so() {
    let db = accounts(110_000);
    let mut s = db.session();
    let explain = |s: &mut Session, sql: &str| -> Vec<String> {
        s.execute(&format!("EXPLAIN {sql}")).unwrap()[0]
            .rows
            .iter()
            .map(|r| r[0].to_string())
            .collect()
    };
    let plan = explain(
        &mut s,
        "SELECT branch, count(*) FROM accounts GROUP BY branch",
    );
    assert!(
        plan[0].starts_with("Engine: DataFusion (aggregation over about"),
        "{plan:?}"
    );
    assert!(plan.iter().any(|l| l.contains("AggregateExec")), "{plan:?}");
    let point = explain(&mut s, "SELECT balance FROM accounts WHERE id = 5");
    assert_eq!(
        point.last().unwrap(),
        "Engine: native (a primary-key access path)"
    );
    let scan = explain(&mut s, "SELECT * FROM accounts WHERE balance > 5");
    assert_eq!(
        scan.last().unwrap(),
        "Engine: native (no aggregation, join or window function)"
    );
    s.execute("SET omendb.analytics = off").unwrap();
    let off = explain(
        &mut s,
        "SELECT branch, count(*) FROM accounts GROUP BY branch",
    );
    assert_eq!(
        off.last().unwrap(),
        "Engine: native (omendb.analytics is off)"
    );
    assert_eq!(
        s.execute("SHOW omendb.analytics").unwrap()[0].rows,
        vec![vec![Value::from("off")]]
    );
    let err = s.execute("SET omendb.analytics = sometimes").unwrap_err();
    assert_eq!(err.sqlstate(), "22023");
    s.execute("RESET omendb.analytics").unwrap();
    let analyzed = explain(
        &mut s,
        "ANALYZE SELECT branch, count(*) FROM accounts GROUP BY branch",
    );
    assert!(
        analyzed[1].starts_with("Execution: 10 rows in"),
        "{analyzed:?}"
    );
    assert!(
        analyzed.iter().any(|l| l.contains("output_rows=")),
        "{analyzed:?}"
    );
}

#[test]
fn a_query_over_the_memory_limit_fails_with_53200_and_others_go_on() {
    let mut config = DatabaseConfig::memory();
    config.analytics_memory = 256 << 10;
    let db = Database::open(config).unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE big (id BIGINT PRIMARY KEY, label TEXT)")
        .unwrap();
    s.execute(
        "INSERT INTO big SELECT i, 'label number ' || i FROM generate_series(1, 150000) AS g(i)",
    )
    .unwrap();
    let err = s
        .execute("SELECT label, count(*) FROM big GROUP BY label ORDER BY count(*) DESC LIMIT 1")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "53200", "{err}");
    let small = s
        .execute("SELECT count(*) FROM big WHERE id > 0")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(small.rows, vec![vec![Value::Int(150_000)]]);
}

#[test]
fn cancelling_stops_a_datafusion_query() {
    let db = accounts(110_000);
    let mut s = db.session();
    let sql = "SELECT branch, count(*) FROM accounts GROUP BY branch";
    s.execute(sql).unwrap();
    assert_eq!(engine(&s), "datafusion");
    // A cancel request made between statements stops the next one.
    s.cancel_handle().cancel();
    let err = s.execute(sql).unwrap_err();
    assert_eq!(err.sqlstate(), "57014", "{err}");
    assert!(s.execute(sql).is_ok());
    // The statement timeout stops a query while DataFusion is still joining (a billion rows
    // before its first result batch), and the session goes on.
    s.execute("SET statement_timeout = 200").unwrap();
    let err = s
        .execute("SELECT count(*) FROM accounts a JOIN accounts b ON a.branch = b.branch")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "57014", "{err}");
    assert_eq!(engine(&s), "datafusion");
    s.execute("RESET statement_timeout").unwrap();
    assert!(s.execute(sql).is_ok());
}

/// The columnar cache: a repeated query reuses the columns the first one converted; a commit to
/// the table drops them; a snapshot from before that commit, or a transaction with writes of
/// its own to the table, never gets columns of another version; a changed schema never gets
/// columns of the old one.
#[test]
fn the_columnar_cache_serves_each_snapshot_only_the_version_it_sees() {
    let db = accounts(120_000);
    let on = |db: &Database| {
        let mut s = db.session();
        s.execute("SET omendb.analytics = on").unwrap();
        s
    };
    let run = |s: &mut Session, sql: &str| {
        let rows = s.execute(sql).unwrap().pop().unwrap().rows;
        assert_eq!(engine(s), "datafusion", "{sql}");
        rows
    };
    let sums = "SELECT branch, sum(balance), count(*) FROM accounts GROUP BY branch ORDER BY 1";
    let mut s = on(&db);
    assert_eq!(db.analytics_cache_bytes(), 0);
    let first = run(&mut s, sums);
    let held = db.analytics_cache_bytes();
    assert!(held > 0, "a full scan keeps the columns it converted");
    assert_eq!(run(&mut s, sums), first);
    assert_eq!(
        db.analytics_cache_bytes(),
        held,
        "the second scan reused them"
    );

    let mut old = on(&db);
    old.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .unwrap();
    assert_eq!(run(&mut old, sums), first);
    s.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 5")
        .unwrap();
    assert_eq!(db.analytics_cache_bytes(), 0, "a commit drops the columns");
    let after = run(&mut s, sums);
    assert_ne!(after, first);
    assert!(db.analytics_cache_bytes() > 0, "the new version is kept");
    assert_eq!(
        run(&mut old, sums),
        first,
        "an older snapshot reads its own version"
    );
    old.execute("COMMIT").unwrap();

    s.execute("BEGIN").unwrap();
    s.execute("INSERT INTO accounts VALUES (999999, 1, 1000)")
        .unwrap();
    let own = run(&mut s, sums);
    assert_eq!(own[1][2], Value::Int(12_001), "its own row: {own:?}");
    s.execute("ROLLBACK").unwrap();
    assert_eq!(run(&mut s, sums), after);

    assert!(db.analytics_cache_bytes() > 0);
    s.execute("ALTER TABLE accounts ADD COLUMN bonus BIGINT DEFAULT 7")
        .unwrap();
    assert_eq!(
        db.analytics_cache_bytes(),
        0,
        "ALTER TABLE drops the columns"
    );
    let bonus = run(
        &mut s,
        "SELECT branch, sum(bonus) FROM accounts GROUP BY branch ORDER BY 1",
    );
    assert!(
        bonus.iter().all(|r| r[1] == run_value(12_000 * 7)),
        "{bonus:?}"
    );
    s.execute("ALTER TABLE accounts RENAME COLUMN balance TO amount")
        .unwrap();
    let renamed = run(
        &mut s,
        "SELECT branch, sum(amount), count(*) FROM accounts GROUP BY branch ORDER BY 1",
    );
    assert_eq!(renamed, after);
    assert!(db.analytics_cache_bytes() > 0);
    s.execute("DROP TABLE accounts").unwrap();
    assert_eq!(
        db.analytics_cache_bytes(),
        0,
        "DROP TABLE drops the columns"
    );
}

/// A sum of BIGINT, as PostgreSQL types it (NUMERIC).
fn run_value(n: i64) -> Value {
    Value::Numeric(n.into())
}

/// AVG of integers and NUMERIC on DataFusion has PostgreSQL's digits (a NUMERIC of at least 16
/// significant digits, its scale depending on the value), group by group, NULLs and empty
/// input included; AVG of doubles is a double.
#[test]
fn avg_on_datafusion_gives_postgresql_digits() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE m (id INTEGER PRIMARY KEY, g INTEGER, i INTEGER, b BIGINT, \
         n NUMERIC(12,3), f DOUBLE PRECISION)",
    )
    .unwrap();
    s.execute(
        "INSERT INTO m SELECT x, x % 5, x % 7 - 3, x::bigint * 1000003 % 99991, \
         CASE WHEN x % 11 = 0 THEN NULL ELSE (x % 1000) / 7.0 END, (x % 9) * 0.5 \
         FROM generate_series(1, 5000) AS t(x)",
    )
    .unwrap();
    s.execute("INSERT INTO m VALUES (6000, 9, NULL, NULL, NULL, NULL)")
        .unwrap();
    s.execute("INSERT INTO m VALUES (6001, 10, 1, 1, 0.001, 1), (6002, 10, 2, 2, 0.002, 2)")
        .unwrap();
    let queries = [
        "SELECT g, avg(i), avg(b) AS mean_b, avg(n), avg(f), count(*) FROM m GROUP BY g ORDER BY g",
        "SELECT avg(n), avg(i) FROM m WHERE id < 0",
        "SELECT avg(i) FROM m",
    ];
    for sql in queries {
        same_on_datafusion(&mut s, sql);
    }
    let pair = s
        .execute("SELECT avg(i), avg(n) FROM m WHERE g = 10")
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(engine(&s), "datafusion");
    assert_eq!(
        rendered(&pair),
        [["1.5000000000000000", "0.00150000000000000000"]]
    );
    // Compared or sorted, its text would not behave as a number: natively.
    s.execute("SELECT g FROM m GROUP BY g HAVING avg(i) > 0 ORDER BY g")
        .unwrap();
    assert_eq!(engine(&s), "native");
    s.execute("SELECT g, avg(i) FROM m GROUP BY g ORDER BY 2")
        .unwrap();
    assert_eq!(engine(&s), "native");
}

/// Comparisons of the primary key's first column with constants become key ranges that ALEX
/// scans (EXPLAIN says so), for a one-column key and a composite one; the answers are the
/// native ones, at the ends of ranges and for ranges that hold nothing too.
#[test]
fn key_ranges_in_the_where_clause_are_scanned_through_alex() {
    let db = accounts(120_000);
    let mut s = db.session();
    s.execute("CREATE TABLE lines (o BIGINT, n INTEGER, qty INTEGER, PRIMARY KEY (o, n))")
        .unwrap();
    s.execute(
        "INSERT INTO lines SELECT x / 4 * 3, x % 4, x % 50 FROM generate_series(1, 120000) AS t(x)",
    )
    .unwrap();
    let queries = [
        "SELECT count(*), sum(balance) FROM accounts WHERE id BETWEEN 1000 AND 1999",
        "SELECT count(*), min(id), max(id) FROM accounts WHERE id > 119990",
        "SELECT count(*), min(id), max(id) FROM accounts WHERE id >= 5 AND id < 10 AND branch = 7",
        "SELECT count(*) FROM accounts WHERE 50 >= id",
        "SELECT count(*), sum(balance) FROM accounts WHERE id = 77",
        "SELECT count(*) FROM accounts WHERE id > 200000",
        "SELECT count(*) FROM accounts WHERE id < 10 AND id > 20",
        "SELECT branch, count(*) FROM accounts WHERE id <= 60000 GROUP BY branch ORDER BY branch",
        "SELECT count(*), sum(qty) FROM lines WHERE o BETWEEN 300 AND 3000",
        "SELECT count(*), sum(qty), min(o), max(o) FROM lines WHERE o > 89000",
        "SELECT n, count(*), sum(qty) FROM lines GROUP BY n ORDER BY n",
    ];
    for sql in queries {
        same_on_datafusion(&mut s, sql);
    }
    let explain = |s: &mut Session, sql: &str| -> String {
        let result = s.execute(&format!("EXPLAIN {sql}")).unwrap().pop().unwrap();
        rendered(&result)
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")
    };
    let plan = explain(
        &mut s,
        "SELECT count(*), sum(balance) FROM accounts WHERE id BETWEEN 1000 AND 1999",
    );
    assert!(
        plan.contains("accounts: primary-key range 1000 to 1999 through ALEX"),
        "{plan}"
    );
    let plan = explain(
        &mut s,
        "SELECT count(*) FROM lines WHERE o >= 300 AND o < 3000",
    );
    assert!(
        plan.contains("lines: primary-key range 300 to 2999 through ALEX"),
        "{plan}"
    );
    let plan = explain(&mut s, "SELECT count(*) FROM accounts WHERE branch = 3");
    assert!(plan.contains("accounts: full scan"), "{plan}");
}

/// Runs `sql` natively and on DataFusion (which must take it): the same columns and rows.
fn same_on_datafusion(s: &mut Session, sql: &str) {
    s.execute("SET omendb.analytics = off").unwrap();
    let native = s.execute(sql).unwrap().pop().unwrap();
    s.execute("SET omendb.analytics = on").unwrap();
    let analytics = s.execute(sql).unwrap().pop().unwrap();
    assert_eq!(
        engine(s),
        "datafusion",
        "{sql}: {:?}",
        s.last_query_engine()
    );
    assert_eq!(rendered(&analytics), rendered(&native), "{sql}");
    assert_eq!(analytics.columns, native.columns, "{sql}");
}
