//! Differential test of the SQL layer against SQLite (`rusqlite`): random data and random
//! queries from templates where PostgreSQL and SQLite agree (three-valued logic, joins,
//! grouping, explicit NULLS LAST, uncorrelated subqueries, set operations), run on both; the
//! results must be equal. Secondary indexes make many of the predicates index scans.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omendb::types::Value;
use omendb::{Database, DatabaseConfig};
use proptest::prelude::*;
use rusqlite::types::ValueRef;

#[derive(Debug, Clone)]
struct Data {
    t1: Vec<(Option<i64>, Option<&'static str>)>,
    t2: Vec<(i64, Option<i64>)>,
}

fn data() -> impl Strategy<Value = Data> {
    let t1 = proptest::collection::vec(
        (
            proptest::option::weighted(0.8, -3i64..4),
            proptest::option::weighted(0.8, prop_oneof![Just("x"), Just("y"), Just("z")]),
        ),
        0..25,
    );
    let t2 =
        proptest::collection::vec((0i64..30, proptest::option::weighted(0.8, -2i64..6)), 0..25);
    (t1, t2).prop_map(|(t1, t2)| Data { t1, t2 })
}

fn predicate() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        (-3i64..4).prop_map(|v| format!("t1.a < {v}")),
        (-3i64..4).prop_map(|v| format!("t1.a = {v}")),
        (-3i64..4).prop_map(|v| format!("t1.a <> {v}")),
        (-3i64..4, -3i64..4).prop_map(|(x, y)| format!("t1.a BETWEEN {x} AND {y}")),
        (-3i64..4).prop_map(|v| format!("t1.a >= {v}")),
        (0i64..25).prop_map(|v| format!("t1.id >= {v}")),
        (0i64..25, 0i64..25).prop_map(|(x, y)| format!("t1.id BETWEEN {x} AND {y}")),
        prop_oneof![Just("x"), Just("y")].prop_map(|v| format!("t1.b = '{v}'")),
        Just("t1.a IS NULL".to_string()),
        Just("t1.b IS NOT NULL".to_string()),
        (-3i64..4, -3i64..4).prop_map(|(x, y)| format!("t1.a IN ({x}, {y})")),
        (0i64..25, 0i64..25).prop_map(|(x, y)| format!("t1.id IN ({x}, {y}, NULL)")),
        (-3i64..4).prop_map(|x| format!("t1.a NOT IN ({x}, NULL)")),
        (-3i64..4).prop_map(|x| format!("t1.a + t1.id > {x}")),
        (-3i64..4).prop_map(|x| format!("CASE WHEN t1.a > {x} THEN t1.b = 'x' ELSE t1.id < 5 END")),
        (-3i64..4).prop_map(|x| format!("t1.a IS DISTINCT FROM {x}")),
        Just("t1.a IN (SELECT t2.d FROM t2)".to_string()),
        Just("t1.a NOT IN (SELECT t2.d FROM t2 WHERE t2.d IS NOT NULL)".to_string()),
        (-2i64..6).prop_map(|x| format!("EXISTS (SELECT 1 FROM t2 WHERE t2.d > {x})")),
        Just("t1.id < (SELECT count(*) FROM t2)".to_string()),
    ];
    atom.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} AND {r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} OR {r})")),
            inner.prop_map(|p| format!("NOT ({p})")),
        ]
    })
}

fn query() -> impl Strategy<Value = String> {
    predicate().prop_flat_map(|p| {
        prop_oneof![
            Just(format!("SELECT id, a, b FROM t1 WHERE {p} ORDER BY id")),
            Just(format!(
                "SELECT count(*), count(a), sum(a), min(a), max(b) FROM t1 WHERE {p}"
            )),
            Just(format!(
                "SELECT b, count(*), sum(a), max(id) FROM t1 WHERE {p} GROUP BY b ORDER BY b NULLS LAST"
            )),
            Just(format!(
                "SELECT t1.id, t2.id, t2.d FROM t1 JOIN t2 ON t2.t1_id = t1.id WHERE {p} ORDER BY t1.id, t2.id"
            )),
            Just(format!(
                "SELECT t1.id, t2.id FROM t1 LEFT JOIN t2 ON t2.t1_id = t1.id AND t2.d > 0 WHERE {p} ORDER BY t1.id, t2.id NULLS LAST"
            )),
            Just(format!(
                "SELECT DISTINCT a FROM t1 WHERE {p} ORDER BY a NULLS LAST LIMIT 3"
            )),
            Just(format!(
                "SELECT t1.a FROM t1 WHERE {p} UNION SELECT t2.d FROM t2 ORDER BY 1 NULLS LAST"
            )),
            Just(format!(
                "SELECT t1.a FROM t1 WHERE {p} EXCEPT SELECT t2.d FROM t2 ORDER BY 1 NULLS LAST"
            )),
            Just(format!(
                "SELECT t1.a FROM t1 WHERE {p} INTERSECT SELECT t2.d FROM t2 ORDER BY 1 NULLS LAST"
            )),
            Just(format!(
                "SELECT t1.id FROM t1 WHERE {p} UNION ALL SELECT t2.id FROM t2 ORDER BY 1"
            )),
            Just(format!(
                "WITH w AS (SELECT t1.b, count(*) AS n FROM t1 WHERE {p} GROUP BY t1.b) SELECT w.b, w.n FROM w ORDER BY w.b NULLS LAST"
            )),
            Just(format!(
                "SELECT d.a, t2.id FROM (SELECT t1.id, t1.a FROM t1 WHERE {p}) AS d JOIN t2 ON t2.t1_id = d.id ORDER BY d.id, t2.id"
            )),
        ]
    })
}

fn render(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Text(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

fn sqlite_render(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        other => format!("{other:?}"),
    }
}

fn sql_literal<T: ToString>(v: Option<T>, quote: bool) -> String {
    match v {
        None => "NULL".into(),
        Some(v) if quote => format!("'{}'", v.to_string()),
        Some(v) => v.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn sql_agrees_with_sqlite(data in data(), queries in proptest::collection::vec(query(), 1..6)) {
        let db = Database::open(DatabaseConfig::memory()).unwrap();
        let mut ours = db.session();
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        // The secondary indexes give the predicates on a, b and d index scans to choose.
        let ddl = "CREATE TABLE t1 (id INTEGER PRIMARY KEY, a INTEGER, b TEXT); \
                   CREATE TABLE t2 (id INTEGER PRIMARY KEY, t1_id INTEGER, d INTEGER); \
                   CREATE INDEX t1_a ON t1 (a); CREATE INDEX t1_b_a ON t1 (b, a); \
                   CREATE INDEX t2_d ON t2 (d)";
        ours.execute(ddl).unwrap();
        lite.execute_batch(ddl).unwrap();
        let mut inserts = Vec::new();
        for (id, (a, b)) in data.t1.iter().enumerate() {
            inserts.push(format!("INSERT INTO t1 VALUES ({id}, {}, {})", sql_literal(*a, false), sql_literal(*b, true)));
        }
        for (id, (t1_id, d)) in data.t2.iter().enumerate() {
            inserts.push(format!("INSERT INTO t2 VALUES ({id}, {t1_id}, {})", sql_literal(*d, false)));
        }
        for insert in &inserts {
            ours.execute(insert).unwrap();
            lite.execute_batch(insert).unwrap();
        }
        for sql in &queries {
            let got: Vec<Vec<String>> = ours.execute(sql).unwrap().remove(0).rows
                .iter().map(|row| row.iter().map(render).collect()).collect();
            let mut statement = lite.prepare(sql).unwrap();
            let width = statement.column_count();
            let want: Vec<Vec<String>> = statement
                .query_map([], |row| Ok((0..width).map(|i| sqlite_render(row.get_ref(i).unwrap())).collect()))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(got, want, "{}", sql);
        }
    }
}

/// Rows of a table with a three-column primary key `(a, b, c)`: few distinct values per
/// column, so that ranges within a prefix matter.
fn keyed_rows() -> impl Strategy<Value = Vec<(i64, i64, &'static str, i64)>> {
    proptest::collection::vec(
        (
            -2i64..3,
            -3i64..4,
            prop_oneof![Just(""), Just("a"), Just("ab"), Just("b")],
            -5i64..5,
        ),
        0..40,
    )
}

/// A conjunction of comparisons and `IN` lists on the key's columns (ranges within a prefix,
/// ranges on the leading column, bounds on both sides, contradictions, key combinations),
/// ordered by a permutation of the key's
/// columns with mixed directions (a total order, so LIMIT is deterministic).
fn keyed_query() -> impl Strategy<Value = String> {
    let int_atom = |column: &'static str| {
        (
            prop_oneof![Just("="), Just("<"), Just("<="), Just(">"), Just(">=")],
            -4i64..5,
        )
            .prop_map(move |(op, v)| format!("{column} {op} {v}"))
    };
    let text_atom = (
        prop_oneof![Just("="), Just("<"), Just("<="), Just(">"), Just(">=")],
        prop_oneof![Just("''"), Just("'a'"), Just("'aa'"), Just("'b'")],
    )
        .prop_map(|(op, v)| format!("c {op} {v}"));
    let atom = prop_oneof![
        int_atom("a"),
        int_atom("b"),
        text_atom,
        (-4i64..5, -4i64..5).prop_map(|(x, y)| format!("b BETWEEN {x} AND {y}")),
        (-3i64..4, -3i64..4).prop_map(|(x, y)| format!("a IN ({x}, {y})")),
        (-4i64..5, -4i64..5).prop_map(|(x, y)| format!("b IN ({x}, {y}, NULL)")),
        Just("c IN ('a', 'b')".to_string()),
        (-5i64..5).prop_map(|v| format!("v > {v}")),
    ];
    let order = (
        Just(["a", "b", "c"]).prop_shuffle(),
        proptest::collection::vec(any::<bool>(), 3),
        proptest::option::of(1usize..6),
    )
        .prop_map(|(columns, descending, limit)| {
            let keys: Vec<String> = columns
                .iter()
                .zip(descending)
                .map(|(c, d)| format!("{c}{}", if d { " DESC" } else { "" }))
                .collect();
            let limit = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
            format!("ORDER BY {}{limit}", keys.join(", "))
        });
    (proptest::collection::vec(atom, 0..4), order).prop_map(|(atoms, order)| {
        let filter = match atoms.is_empty() {
            true => String::new(),
            false => format!(" WHERE {}", atoms.join(" AND ")),
        };
        format!("SELECT a, b, c, v FROM k{filter} {order}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Composite primary keys: equalities on leading key columns and comparisons on the next
    /// read one key range, `IN` lists on every key column one lookup per key, and ORDER BY the key's columns is read in key order (either way):
    /// both must give SQLite's rows.
    #[test]
    fn composite_key_ranges_agree_with_sqlite(
        rows in keyed_rows(),
        queries in proptest::collection::vec(keyed_query(), 1..8),
    ) {
        let db = Database::open(DatabaseConfig::memory()).unwrap();
        let mut ours = db.session();
        let lite = rusqlite::Connection::open_in_memory().unwrap();
        let ddl = "CREATE TABLE k (a INTEGER, b INTEGER, c TEXT, v INTEGER, PRIMARY KEY (a, b, c))";
        ours.execute(ddl).unwrap();
        lite.execute_batch(ddl).unwrap();
        let mut seen = std::collections::HashSet::new();
        for (a, b, c, v) in rows.into_iter().filter(|r| seen.insert((r.0, r.1, r.2))) {
            let insert = format!("INSERT INTO k VALUES ({a}, {b}, '{c}', {v})");
            ours.execute(&insert).unwrap();
            lite.execute_batch(&insert).unwrap();
        }
        for sql in &queries {
            let got: Vec<Vec<String>> = ours.execute(sql).unwrap().remove(0).rows
                .iter().map(|row| row.iter().map(render).collect()).collect();
            let mut statement = lite.prepare(sql).unwrap();
            let want: Vec<Vec<String>> = statement
                .query_map([], |row| Ok((0..4).map(|i| sqlite_render(row.get_ref(i).unwrap())).collect()))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(got, want, "{}", sql);
        }
    }
}
