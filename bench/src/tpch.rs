//! `omendb-bench tpch`: TPC-H-style data and six of its queries (Q1, Q3, Q5, Q6, Q10, Q12) on
//! OmenDB with `omendb.analytics` on and off, SQLite and PostgreSQL, side by side in one run.
//!
//! The data follows TPC-H's schema and dbgen's distributions where the queries' selectivities
//! depend on them (order dates over 1992–1998, one to seven lines per order, ship, commit and
//! receipt dates, return flags, discounts, market segments, …), generated here
//! deterministically; only the tables the six queries read are built. It is TPC-H-style data,
//! not an audited TPC-H result. The queries are in `bench/tpch/`, in PostgreSQL's dialect: OmenDB
//! and PostgreSQL run that text, SQLite a translation (dates as ISO text, `date()` for interval
//! arithmetic; its tables hold NUMERIC as REAL).
//!
//! Before anything is timed, the answers are compared: OmenDB on each engine and PostgreSQL must
//! return the same rows to the last digit (as PostgreSQL's text), SQLite the same number of rows.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use omendb::storage::StorageKind;
use omendb::types::{Decimal, Value, format_date, parse_date};
use omendb::{Database, DatabaseConfig, Session};

use crate::common::SplitMix;
use crate::server;

/// One of the benchmark's queries, in PostgreSQL's dialect.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub name: &'static str,
    pub postgres: &'static str,
}

/// A query's text for SQLite, where dates are ISO text and interval arithmetic is `date()`'s:
/// `date '1994-01-01' + interval '1 year'` becomes `date('1994-01-01', '+1 year')` and
/// `date '1995-03-15'` becomes `'1995-03-15'`.
pub fn sqlite_dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find("date '") {
        out.push_str(&rest[..at]);
        let literal = &rest[at + "date '".len()..];
        let close = literal.find('\'').expect("a closed date literal");
        let day = &literal[..close];
        rest = &literal[close + 1..];
        let mut modifier = None;
        for (operator, sign) in [(" + interval '", '+'), (" - interval '", '-')] {
            if let Some(interval) = rest.strip_prefix(operator) {
                let close = interval.find('\'').expect("a closed interval literal");
                modifier = Some(format!("{sign}{}", &interval[..close]));
                rest = &interval[close + 1..];
                break;
            }
        }
        match modifier {
            Some(m) => out.push_str(&format!("date('{day}', '{m}')")),
            None => out.push_str(&format!("'{day}'")),
        }
    }
    out.push_str(rest);
    out
}

pub const QUERIES: [Query; 6] = [
    Query {
        name: "Q1",
        postgres: include_str!("../tpch/q1.sql"),
    },
    Query {
        name: "Q3",
        postgres: include_str!("../tpch/q3.sql"),
    },
    Query {
        name: "Q5",
        postgres: include_str!("../tpch/q5.sql"),
    },
    Query {
        name: "Q6",
        postgres: include_str!("../tpch/q6.sql"),
    },
    Query {
        name: "Q10",
        postgres: include_str!("../tpch/q10.sql"),
    },
    Query {
        name: "Q12",
        postgres: include_str!("../tpch/q12.sql"),
    },
];

const SCHEMA: &str = include_str!("../tpch/schema.sql");

/// The schema's statements; SQLite's types when `sqlite`.
fn schema(sqlite: bool) -> Vec<String> {
    let text: String = SCHEMA
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = if sqlite {
        text.replace("NUMERIC(15,2)", "REAL")
            .replace(" DATE ", " TEXT ")
    } else {
        text
    };
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The tables, in load order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Region,
    Nation,
    Supplier,
    Customer,
    Orders,
    Lineitem,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Region,
        Table::Nation,
        Table::Supplier,
        Table::Customer,
        Table::Orders,
        Table::Lineitem,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Region => "region",
            Table::Nation => "nation",
            Table::Supplier => "supplier",
            Table::Customer => "customer",
            Table::Orders => "orders",
            Table::Lineitem => "lineitem",
        }
    }

    fn columns(self) -> usize {
        match self {
            Table::Region => 3,
            Table::Nation => 4,
            Table::Supplier => 7,
            Table::Customer => 8,
            Table::Orders => 9,
            Table::Lineitem => 16,
        }
    }
}

const REGIONS: [&str; 5] = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"];
/// TPC-H's nations and their regions.
const NATIONS: [(&str, i64); 25] = [
    ("ALGERIA", 0),
    ("ARGENTINA", 1),
    ("BRAZIL", 1),
    ("CANADA", 1),
    ("EGYPT", 4),
    ("ETHIOPIA", 0),
    ("FRANCE", 3),
    ("GERMANY", 3),
    ("INDIA", 2),
    ("INDONESIA", 2),
    ("IRAN", 4),
    ("IRAQ", 4),
    ("JAPAN", 2),
    ("JORDAN", 4),
    ("KENYA", 0),
    ("MOROCCO", 0),
    ("MOZAMBIQUE", 0),
    ("PERU", 1),
    ("CHINA", 2),
    ("ROMANIA", 3),
    ("SAUDI ARABIA", 4),
    ("VIETNAM", 2),
    ("RUSSIA", 3),
    ("UNITED KINGDOM", 3),
    ("UNITED STATES", 1),
];
const SEGMENTS: [&str; 5] = [
    "AUTOMOBILE",
    "BUILDING",
    "FURNITURE",
    "MACHINERY",
    "HOUSEHOLD",
];
const PRIORITIES: [&str; 5] = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"];
const INSTRUCTIONS: [&str; 4] = [
    "DELIVER IN PERSON",
    "COLLECT COD",
    "NONE",
    "TAKE BACK RETURN",
];
const MODES: [&str; 7] = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const WORDS: [&str; 24] = [
    "furiously",
    "quickly",
    "carefully",
    "blithely",
    "slyly",
    "final",
    "regular",
    "special",
    "pending",
    "express",
    "ironic",
    "bold",
    "deposits",
    "requests",
    "packages",
    "accounts",
    "instructions",
    "theodolites",
    "foxes",
    "pinto",
    "beans",
    "asymptotes",
    "dependencies",
    "platelets",
];

struct Random(SplitMix);

impl Random {
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.0.next_u64() % (hi - lo + 1) as u64) as i64
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.range(0, from.len() as i64 - 1) as usize]
    }

    /// dbgen-like comment text of `min..=max` characters.
    fn comment(&mut self, min: i64, max: i64) -> String {
        let len = self.range(min, max) as usize;
        let mut text = String::with_capacity(len + 16);
        while text.len() < len {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(self.pick(&WORDS));
        }
        text.truncate(len);
        text.trim_end().to_string()
    }

    fn address(&mut self) -> String {
        let len = self.range(10, 40) as usize;
        (0..len)
            .map(|_| {
                let c = self.range(0, 61) as u8;
                match c {
                    0..=9 => (b'0' + c) as char,
                    10..=35 => (b'a' + c - 10) as char,
                    _ => (b'A' + c - 36) as char,
                }
            })
            .collect()
    }

    fn phone(&mut self, nation: i64) -> String {
        format!(
            "{}-{}-{}-{}",
            nation + 10,
            self.range(100, 999),
            self.range(100, 999),
            self.range(1000, 9999)
        )
    }

    /// An account balance: -999.99 … 9999.99.
    fn balance(&mut self) -> Decimal {
        Decimal::new(self.range(-99_999, 999_999), 2)
    }
}

fn text(s: impl Into<String>) -> Value {
    Value::from(s.into())
}

fn cents(c: i64) -> Value {
    Value::Numeric(Decimal::new(c, 2))
}

/// The data of one scale factor.
#[derive(Debug, Clone, Copy)]
pub struct Generator {
    pub sf: f64,
}

impl Generator {
    fn count(&self, at_sf_1: usize) -> i64 {
        ((at_sf_1 as f64 * self.sf).round() as i64).max(1)
    }

    /// Every row of every table, table by table except that each order's lines follow it.
    pub fn generate(&self, sink: &mut dyn FnMut(Table, Vec<Value>)) {
        let (suppliers, customers, orders, parts) = (
            self.count(10_000),
            self.count(150_000),
            self.count(1_500_000),
            self.count(200_000),
        );
        let clerks = self.count(1_000);
        let mut rng = Random(SplitMix(0x7c_9e));
        for (key, name) in REGIONS.iter().enumerate() {
            let comment = rng.comment(31, 115);
            sink(
                Table::Region,
                vec![Value::Int(key as i64), text(*name), text(comment)],
            );
        }
        for (key, (name, region)) in NATIONS.iter().enumerate() {
            let comment = rng.comment(31, 114);
            sink(
                Table::Nation,
                vec![
                    Value::Int(key as i64),
                    text(*name),
                    Value::Int(*region),
                    text(comment),
                ],
            );
        }
        for key in 1..=suppliers {
            let nation = rng.range(0, 24);
            sink(
                Table::Supplier,
                vec![
                    Value::Int(key),
                    text(format!("Supplier#{key:09}")),
                    text(rng.address()),
                    Value::Int(nation),
                    text(rng.phone(nation)),
                    Value::Numeric(rng.balance()),
                    text(rng.comment(25, 100)),
                ],
            );
        }
        for key in 1..=customers {
            let nation = rng.range(0, 24);
            sink(
                Table::Customer,
                vec![
                    Value::Int(key),
                    text(format!("Customer#{key:09}")),
                    text(rng.address()),
                    Value::Int(nation),
                    text(rng.phone(nation)),
                    Value::Numeric(rng.balance()),
                    text(rng.pick(&SEGMENTS)),
                    text(rng.comment(29, 116)),
                ],
            );
        }
        let start = parse_date("1992-01-01").expect("a date");
        let current = parse_date("1995-06-17").expect("a date");
        let last_order = parse_date("1998-08-02").expect("a date");
        for i in 0..orders {
            // dbgen's sparse keys: 8 of every 32.
            let key = (i / 8) * 32 + i % 8 + 1;
            // dbgen leaves every third customer without orders.
            let customer = loop {
                let c = rng.range(1, customers);
                if c % 3 != 0 || customers < 3 {
                    break c;
                }
            };
            let ordered = rng.range(i64::from(start), i64::from(last_order)) as i32;
            let lines = rng.range(1, 7);
            let mut total = Decimal::ZERO;
            let (mut shipped, mut open) = (0, 0);
            let mut rows = Vec::with_capacity(lines as usize);
            for line in 1..=lines {
                let part = rng.range(1, parts);
                let retail = 90_000 + (part / 10) % 20_001 + 100 * (part % 1_000);
                let quantity = rng.range(1, 50);
                let (discount, tax) = (rng.range(0, 10), rng.range(0, 8));
                let price = Decimal::new(retail * quantity, 2);
                total += price
                    * (Decimal::ONE + Decimal::new(tax, 2))
                    * (Decimal::ONE - Decimal::new(discount, 2));
                let ship = ordered + rng.range(1, 121) as i32;
                let commit = ordered + rng.range(30, 90) as i32;
                let receipt = ship + rng.range(1, 30) as i32;
                let flag = if receipt <= current {
                    rng.pick(&["R", "A"])
                } else {
                    "N"
                };
                let status = if ship > current { "O" } else { "F" };
                if status == "O" {
                    open += 1;
                } else {
                    shipped += 1;
                }
                rows.push(vec![
                    Value::Int(key),
                    Value::Int(part),
                    Value::Int(rng.range(1, suppliers)),
                    Value::Int(line),
                    cents(quantity * 100),
                    Value::Numeric(price),
                    cents(discount),
                    cents(tax),
                    text(flag),
                    text(status),
                    Value::Date(ship),
                    Value::Date(commit),
                    Value::Date(receipt),
                    text(rng.pick(&INSTRUCTIONS)),
                    text(rng.pick(&MODES)),
                    text(rng.comment(10, 43)),
                ]);
            }
            let status = match (shipped, open) {
                (_, 0) => "F",
                (0, _) => "O",
                _ => "P",
            };
            sink(
                Table::Orders,
                vec![
                    Value::Int(key),
                    Value::Int(customer),
                    text(status),
                    Value::Numeric(total.round_dp(2)),
                    Value::Date(ordered),
                    text(rng.pick(&PRIORITIES)),
                    text(format!("Clerk#{:09}", rng.range(1, clerks))),
                    Value::Int(0),
                    text(rng.comment(19, 78)),
                ],
            );
            for row in rows {
                sink(Table::Lineitem, row);
            }
        }
    }
}

/// Rows commit in transactions of this many while loading OmenDB.
const LOAD_BATCH: usize = 50_000;

/// Creates and fills OmenDB's tables in `dir`; the database and the seconds it took.
pub fn load_omendb(dir: &Path, data: Generator) -> (Database, f64) {
    let mut config = DatabaseConfig::new(StorageKind::default_for_build(), Some(dir.into()));
    config.cache_bytes = 12 << 30;
    config.analytics_cache = 4 << 30;
    config.synchronous_commit = false;
    let db = Database::open(config).expect("open OmenDB");
    let mut s = db.session();
    let started = Instant::now();
    for statement in schema(false) {
        s.execute(&statement).expect("create a table");
    }
    let inserts: HashMap<Table, _> = Table::ALL
        .iter()
        .map(|&t| {
            let params: Vec<String> = (1..=t.columns()).map(|i| format!("${i}")).collect();
            let sql = format!("INSERT INTO {} VALUES ({})", t.name(), params.join(", "));
            (t, s.prepare(&sql).expect("prepare an insert"))
        })
        .collect();
    s.execute("BEGIN").expect("begin");
    let mut pending = 0;
    data.generate(&mut |table, row| {
        s.execute_prepared(&inserts[&table], &row)
            .unwrap_or_else(|e| panic!("insert into {}: {e}", table.name()));
        pending += 1;
        if pending == LOAD_BATCH {
            s.execute("COMMIT; BEGIN").expect("commit");
            pending = 0;
        }
    });
    s.execute("COMMIT").expect("commit");
    (db, started.elapsed().as_secs_f64())
}

/// Creates and fills SQLite's tables in `dir` (WAL, synchronous NORMAL, a page cache large
/// enough for the data); the connection and the seconds it took.
pub fn load_sqlite(dir: &Path, data: Generator) -> (rusqlite::Connection, f64) {
    use rusqlite::types::Value as Lite;
    let conn = rusqlite::Connection::open(dir.join("tpch.sqlite")).expect("open SQLite");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8000000;",
    )
    .expect("SQLite pragmas");
    let started = Instant::now();
    for statement in schema(true) {
        conn.execute(&statement, []).expect("create a table");
    }
    conn.execute_batch("BEGIN").expect("begin");
    {
        let mut inserts: HashMap<Table, rusqlite::Statement<'_>> = Table::ALL
            .iter()
            .map(|&t| {
                let params: Vec<String> = (1..=t.columns()).map(|i| format!("?{i}")).collect();
                let sql = format!("INSERT INTO {} VALUES ({})", t.name(), params.join(", "));
                (t, conn.prepare(&sql).expect("prepare an insert"))
            })
            .collect();
        data.generate(&mut |table, row| {
            let values = row.into_iter().map(|v| match v {
                Value::Int(i) => Lite::Integer(i),
                Value::Numeric(d) => Lite::Real(d.to_string().parse().expect("a number")),
                Value::Date(days) => Lite::Text(format_date(days)),
                other => Lite::Text(other.to_string()),
            });
            inserts
                .get_mut(&table)
                .expect("a statement per table")
                .execute(rusqlite::params_from_iter(values))
                .expect("insert");
        });
    }
    conn.execute_batch("COMMIT; ANALYZE").expect("commit");
    (conn, started.elapsed().as_secs_f64())
}

/// PostgreSQL's settings for the run: memory for sorts and hashes comparable to what
/// DataFusion gets, a buffer cache that holds the data.
pub const POSTGRES_SETTINGS: [&str; 4] = [
    "shared_buffers=4GB",
    "work_mem=256MB",
    "effective_cache_size=8GB",
    "synchronous_commit=off",
];

/// Creates and fills PostgreSQL's tables (COPY from files written in `dir`, then ANALYZE);
/// the seconds the COPY and ANALYZE took.
pub fn load_postgres(pg: &server::Server, dir: &Path, data: Generator) -> Result<f64, String> {
    let mut files: HashMap<Table, std::io::BufWriter<std::fs::File>> = HashMap::new();
    for table in Table::ALL {
        let file = std::fs::File::create(dir.join(format!("{}.tsv", table.name())))
            .map_err(|e| e.to_string())?;
        files.insert(table, std::io::BufWriter::new(file));
    }
    let mut failed = None;
    data.generate(&mut |table, row| {
        let line: Vec<String> = row.iter().map(Value::to_string).collect();
        if let Err(e) = writeln!(
            files.get_mut(&table).expect("a file"),
            "{}",
            line.join("\t")
        ) {
            failed.get_or_insert(e.to_string());
        }
    });
    for (_, mut file) in files {
        file.flush().map_err(|e| e.to_string())?;
    }
    if let Some(e) = failed {
        return Err(e);
    }
    let mut script: Vec<String> = schema(false);
    for table in Table::ALL {
        let path = dir.join(format!("{}.tsv", table.name()));
        script.push(format!("\\copy {} FROM '{}'", table.name(), path.display()));
    }
    script.push("ANALYZE".into());
    let started = Instant::now();
    server::psql(pg, &script)?;
    for table in Table::ALL {
        let _ = std::fs::remove_file(dir.join(format!("{}.tsv", table.name())));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// A query's answer, each row as PostgreSQL prints it unaligned (`|` between values, NULL
/// empty).
pub type Answer = Vec<String>;

fn row_text(row: &[Value]) -> String {
    row.iter()
        .map(|v| match v {
            Value::Null => String::new(),
            v => v.to_string(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs `query` in OmenDB's `session`: milliseconds, the answer, and the engine that ran it.
pub fn run_omendb(session: &mut Session, query: &Query) -> (f64, Answer, String) {
    let started = Instant::now();
    let result = session
        .execute(query.postgres)
        .unwrap_or_else(|e| panic!("{}: {e}", query.name))
        .pop()
        .expect("a result");
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let engine = session
        .last_query_engine()
        .map_or_else(|| "native".to_string(), |(engine, _)| engine.to_string());
    (ms, result.rows.iter().map(row_text).collect(), engine)
}

/// Runs `query` in SQLite: milliseconds and the answer (values as SQLite gives them).
pub fn run_sqlite(conn: &rusqlite::Connection, query: &Query) -> (f64, Answer) {
    let started = Instant::now();
    let mut statement = conn
        .prepare_cached(&sqlite_dialect(query.postgres))
        .expect("prepare");
    let columns = statement.column_count();
    let rows: Answer = statement
        .query_map([], |row| {
            (0..columns)
                .map(|i| {
                    row.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                        rusqlite::types::Value::Null => String::new(),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Real(x) => x.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map(|values| values.join("|"))
        })
        .expect("run")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    (started.elapsed().as_secs_f64() * 1e3, rows)
}

/// Runs `query` in PostgreSQL through psql: milliseconds (psql's `\timing`: sent to received)
/// and the answer.
pub fn run_postgres(pg: &server::Server, query: &Query) -> Result<(f64, Answer), String> {
    let out = server::psql(pg, &["\\timing on".into(), query.postgres.trim().into()])?;
    let mut rows = Vec::new();
    let mut ms = None;
    for line in out.lines() {
        if let Some(time) = line.strip_prefix("Time: ") {
            ms = time.split_whitespace().next().and_then(|t| t.parse().ok());
        } else if !line.starts_with("Timing is") {
            rows.push(line.to_string());
        }
    }
    let ms = ms.ok_or_else(|| format!("no timing in psql's output:\n{out}"))?;
    Ok((ms, rows))
}

/// Nanoseconds per point select by `o_orderkey` (a prepared statement, `lookups` existing keys
/// drawn with `seed`), with the six queries running over and over in another session
/// (`omendb.analytics = on`) when `beside`.
pub fn point_selects(
    db: &Database,
    data: Generator,
    lookups: usize,
    seed: u64,
    beside: bool,
) -> f64 {
    let orders = data.count(1_500_000);
    let mut rng = Random(SplitMix(seed));
    let keys: Vec<Value> = (0..lookups)
        .map(|_| {
            let i = rng.range(0, orders - 1);
            Value::Int((i / 8) * 32 + i % 8 + 1)
        })
        .collect();
    let busy = beside.then(|| {
        let db = db.clone();
        crate::embedded::alongside(move |stop| {
            let mut s = db.session();
            s.execute("SET omendb.analytics = on").expect("set");
            let mut rounds = 0;
            while rounds == 0 || !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for query in &QUERIES {
                    s.execute(query.postgres).expect("a query");
                }
                rounds += 1;
            }
        })
    });
    let mut s = db.session();
    let select = s
        .prepare("SELECT o_totalprice FROM orders WHERE o_orderkey = $1")
        .expect("prepare");
    let started = Instant::now();
    for key in &keys {
        let found = s
            .execute_prepared(&select, std::slice::from_ref(key))
            .expect("select");
        assert_eq!(found.rows.len(), 1, "order {key:?}");
    }
    let ns = started.elapsed().as_nanos() as f64 / lookups.max(1) as f64;
    if let Some(busy) = busy {
        busy.finish();
    }
    ns
}

/// Why two answers differ, if they do.
pub fn difference(query: &str, ours: &Answer, theirs: &Answer, peer: &str) -> Option<String> {
    if ours == theirs {
        return None;
    }
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    Some(format!(
        "{query}: OmenDB and {peer} disagree at row {at} ({} and {} rows):\n  OmenDB: {:?}\n  {peer}: {:?}",
        ours.len(),
        theirs.len(),
        ours.get(at),
        theirs.get(at)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_deterministic_and_has_the_shape_of_tpc_h() {
        let data = Generator { sf: 0.001 };
        let mut counts: HashMap<Table, usize> = HashMap::new();
        let mut first = Vec::new();
        let mut statuses = std::collections::BTreeSet::new();
        data.generate(&mut |table, row| {
            assert_eq!(row.len(), table.columns(), "{}", table.name());
            *counts.entry(table).or_default() += 1;
            if table == Table::Orders {
                statuses.insert(row[2].to_string());
            }
            if first.len() < 40 {
                first.push(row_text(&row));
            }
        });
        assert_eq!(counts[&Table::Region], 5);
        assert_eq!(counts[&Table::Nation], 25);
        assert_eq!(counts[&Table::Customer], 150);
        assert_eq!(counts[&Table::Orders], 1_500);
        let lines = counts[&Table::Lineitem];
        assert!((4_500..7_500).contains(&lines), "{lines} lines");
        assert_eq!(
            statuses.into_iter().collect::<Vec<_>>(),
            ["F", "O", "P"],
            "orders open, shipped and partly shipped"
        );
        let mut again = Vec::new();
        data.generate(&mut |_, row| {
            if again.len() < 40 {
                again.push(row_text(&row));
            }
        });
        assert_eq!(first, again);
    }

    #[test]
    fn sqlite_gets_dates_as_text_and_date_arithmetic() {
        let q1 = sqlite_dialect(QUERIES[0].postgres);
        assert!(
            q1.contains("l_shipdate <= date('1998-12-01', '-90 days')"),
            "{q1}"
        );
        let q10 = sqlite_dialect(QUERIES[4].postgres);
        assert!(q10.contains("o_orderdate >= '1993-10-01'"), "{q10}");
        assert!(
            q10.contains("o_orderdate < date('1993-10-01', '+3 months')"),
            "{q10}"
        );
        assert!(!q10.contains("interval"), "{q10}");
    }

    #[test]
    fn sqlite_reads_the_schema_with_its_own_types() {
        let statements = schema(true);
        assert_eq!(statements.len(), 6);
        assert!(statements[5].contains("l_shipdate TEXT NOT NULL"));
        assert!(statements[5].contains("l_quantity REAL NOT NULL"));
        assert!(schema(false)[5].contains("l_shipdate DATE NOT NULL"));
    }
}
