use std::ops::Bound;

use super::expr::BoundExpr;
use super::planner::{Access, Plan};
use super::*;
use crate::mvcc::Direction;
use crate::types::{DataType, Value};
use crate::{Database, DatabaseConfig};

fn db() -> Database {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    db.session()
        .execute("CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, score DOUBLE PRECISION)")
        .unwrap();
    db
}

fn select_plan(db: &Database, sql: &str) -> planner::SelectPlan {
    match plan_sql(db, sql).unwrap().remove(0) {
        Plan::Select(select) => *select,
        other => panic!("not a query: {other:?}"),
    }
}

#[test]
fn secondary_indexes_are_chosen_by_their_leading_columns() {
    let db = db();
    let mut s = db.session();
    s.execute("ALTER TABLE t ADD COLUMN city TEXT").unwrap();
    s.execute("ALTER TABLE t ADD COLUMN code CHAR(3)").unwrap();
    s.execute("CREATE INDEX t_city_name ON t (city, name)")
        .unwrap();
    s.execute("CREATE INDEX t_score ON t (score)").unwrap();
    s.execute("CREATE INDEX t_code ON t (code)").unwrap();
    let access = |sql| match select_plan(&db, sql).source {
        Some(planner::Source::Table(table)) => table.access,
        other => panic!("not a table scan: {other:?}"),
    };
    let text = |v: &str| BoundExpr::Constant(Value::Text(v.into()));
    let index = |prefix: Vec<BoundExpr>, lower, upper| {
        Access::Index(planner::IndexAccess {
            index: "t_city_name".into(),
            columns: vec![3, 1],
            prefix,
            any: Vec::new(),
            lower,
            upper,
        })
    };
    assert_eq!(
        access("SELECT * FROM t WHERE city = 'Oslo'"),
        index(vec![text("Oslo")], Bound::Unbounded, Bound::Unbounded)
    );
    assert_eq!(
        access("SELECT * FROM t WHERE name >= 'k' AND city = 'Oslo' AND id > 3"),
        index(
            vec![text("Oslo")],
            Bound::Included(text("k")),
            Bound::Unbounded
        )
    );
    assert_eq!(
        access("SELECT * FROM t WHERE city < 'M'"),
        index(vec![], Bound::Unbounded, Bound::Excluded(text("M")))
    );
    // A key range beats an index range; a point lookup beats everything.
    assert!(matches!(
        access("SELECT * FROM t WHERE city < 'M' AND id > 3"),
        Access::Range(..)
    ));
    assert!(matches!(
        access("SELECT * FROM t WHERE city = 'Oslo' AND id = 3"),
        Access::Key(_)
    ));
    // Only the index's leading column starts a scan.
    assert_eq!(access("SELECT * FROM t WHERE name = 'x'"), Access::Full);
    // Types whose equality an encoding cannot decide are not looked up: floating point,
    // CHAR's padding.
    assert_eq!(access("SELECT * FROM t WHERE score = 1.5"), Access::Full);
    assert_eq!(access("SELECT * FROM t WHERE code = 'ab'"), Access::Full);
    // IN lists: one lookup per value, on the key or through an index.
    assert_eq!(
        access("SELECT * FROM t WHERE id IN (3, 1) AND city = 'Oslo'"),
        Access::Keys(vec![
            BoundExpr::Constant(Value::Int(3)),
            BoundExpr::Constant(Value::Int(1))
        ])
    );
    match access("SELECT * FROM t WHERE city = 'Oslo' AND name IN ('a', 'b')") {
        Access::Index(index) => {
            assert_eq!((index.prefix.len(), index.any.len()), (1, 2));
        }
        other => panic!("not an index scan: {other:?}"),
    }
    assert_eq!(
        access("SELECT * FROM t WHERE id NOT IN (1, 2)"),
        Access::Full
    );
    // Rows come in index order: ORDER BY the key still sorts.
    let ordered = select_plan(&db, "SELECT id FROM t WHERE city = 'Oslo' ORDER BY id");
    assert_eq!(ordered.order.len(), 1);
}

#[test]
fn key_predicates_choose_learned_index_paths() {
    let db = db();
    let table = |sql| match select_plan(&db, sql).source {
        Some(planner::Source::Table(table)) => table,
        other => panic!("not a table scan: {other:?}"),
    };
    let access = |sql| table(sql).access;
    assert_eq!(
        access("SELECT * FROM t WHERE id = 5"),
        Access::Key(BoundExpr::Constant(Value::Int(5)))
    );
    assert_eq!(
        access("SELECT * FROM t WHERE 5 = id AND name = 'x'"),
        Access::Key(BoundExpr::Constant(Value::Int(5)))
    );
    assert_eq!(
        access("SELECT * FROM t WHERE id > 5 AND id <= 9"),
        Access::Range(
            Bound::Excluded(BoundExpr::Constant(Value::Int(5))),
            Bound::Included(BoundExpr::Constant(Value::Int(9)))
        )
    );
    assert_eq!(
        access("SELECT * FROM t WHERE id BETWEEN 1 AND 3"),
        Access::Range(
            Bound::Included(BoundExpr::Constant(Value::Int(1))),
            Bound::Included(BoundExpr::Constant(Value::Int(3)))
        )
    );
    assert_eq!(access("SELECT * FROM t WHERE name = 'x'"), Access::Full);
    // Integer arithmetic on a parameter bounds a range too (pgbench's range scripts).
    assert!(matches!(
        access("SELECT * FROM t WHERE id BETWEEN $1 AND $1 + 99"),
        Access::Range(
            Bound::Included(_),
            Bound::Included(BoundExpr::Binary { .. })
        )
    ));
    // Not when the arithmetic reads the row, or is not on integers.
    assert_eq!(access("SELECT * FROM t WHERE id < id + 1"), Access::Full);
    assert_eq!(
        access("SELECT * FROM t WHERE id = 5 OR id = 6"),
        Access::Full
    );
    // A float constant cannot be looked up in an integer key; the filter decides.
    assert_eq!(access("SELECT * FROM t WHERE id = 1.5"), Access::Full);

    let ordered = select_plan(&db, "SELECT id FROM t ORDER BY id DESC LIMIT 3");
    assert!(
        ordered.order.is_empty(),
        "the index scan delivers the order"
    );
    match ordered.source {
        Some(planner::Source::Table(table)) => assert_eq!(table.direction, Direction::Backward),
        other => panic!("not a table scan: {other:?}"),
    }
    let sorted = select_plan(&db, "SELECT id FROM t ORDER BY name");
    assert_eq!(sorted.order.len(), 1);
}

#[test]
fn result_columns_are_named_and_typed_like_postgres() {
    let db = db();
    let plan = select_plan(
        &db,
        "SELECT id, name AS n, 1 + 1, 'a', id::text, score * 2 FROM t",
    );
    let columns: Vec<(&str, DataType)> = plan
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.data_type))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", DataType::BigInt),
            ("n", DataType::Text),
            ("?column?", DataType::Integer),
            ("?column?", DataType::Text),
            ("id", DataType::Text),
            ("?column?", DataType::Double),
        ]
    );
}

#[test]
fn errors_point_into_the_statement() {
    let db = db();
    let mut session = db.session();
    let err = session.execute("SELECT nosuch FROM t").unwrap_err();
    assert_eq!((err.sqlstate(), err.position()), ("42703", Some(8)));
    assert_eq!(err.to_string(), "column \"nosuch\" does not exist");
    let err = session.execute("SELECT * FROM missing").unwrap_err();
    assert_eq!((err.sqlstate(), err.position()), ("42P01", Some(15)));
    let err = session.execute("SELECT 1 +").unwrap_err();
    assert_eq!(err.sqlstate(), "42601");
    assert!(err.position().is_some(), "{err:?}");
    let err = session
        .execute("INSERT INTO t VALUES (1, 'a', 'x')")
        .unwrap_err();
    assert_eq!((err.sqlstate(), err.position()), ("22P02", Some(31)));
    let err = session
        .execute("SELECT id FROM t\n  WHERE name + 1 = 2")
        .unwrap_err();
    assert_eq!(err.sqlstate(), "42883");
    assert_eq!(err.position(), Some(26));
}

#[test]
fn statements_run_in_order_and_autocommit() {
    let db = db();
    let mut session = db.session();
    let results = session
        .execute(
            "INSERT INTO t VALUES (2, 'b', 0.5), (1, 'a', NULL); SELECT name FROM t ORDER BY id",
        )
        .unwrap();
    assert_eq!(results[0].tag, "INSERT 0 2");
    assert_eq!(results[1].tag, "SELECT 2");
    assert_eq!(
        results[1].rows,
        vec![vec![Value::from("a")], vec![Value::from("b")]]
    );
    // Another session sees the committed rows.
    let other = db.session().execute("SELECT count_me FROM t");
    assert_eq!(other.unwrap_err().sqlstate(), "42703");
    let seen = db
        .session()
        .execute("SELECT id FROM t WHERE id = 2")
        .unwrap();
    assert_eq!(seen[0].rows, vec![vec![Value::Int(2)]]);
}

#[test]
fn a_failed_statement_aborts_the_block_until_rollback() {
    let db = db();
    let mut session = db.session();
    session
        .execute("BEGIN; INSERT INTO t VALUES (1, 'a', 1)")
        .unwrap();
    assert!(session.in_transaction_block());
    assert_eq!(
        session.execute("SELECT 1/0").unwrap_err().sqlstate(),
        "22012"
    );
    assert!(session.transaction_failed());
    assert_eq!(session.execute("SELECT 1").unwrap_err().sqlstate(), "25P02");
    let done = session.execute("COMMIT").unwrap();
    assert_eq!(
        done[0].tag, "ROLLBACK",
        "COMMIT of a failed block rolls back"
    );
    assert!(!session.in_transaction_block());
    let rows = session.execute("SELECT * FROM t").unwrap();
    assert!(rows[0].rows.is_empty());
}

#[test]
fn explain_analyze_measures_rows_and_time() {
    let db = db();
    let mut session = db.session();
    session
        .execute("INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)")
        .unwrap();
    let result = session
        .execute("EXPLAIN ANALYZE SELECT * FROM t WHERE id >= 2")
        .unwrap()
        .remove(0);
    assert_eq!(result.columns[0].name, "QUERY PLAN");
    let lines: Vec<String> = result.rows.iter().map(|r| r[0].to_string()).collect();
    assert!(
        lines[0].starts_with("Filter (id >= 2) (actual rows=2 time="),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "  ALEX Range Scan on t (key >= 2) (actual rows=2)"
    );
    // EXPLAIN ANALYZE runs the statement: an UPDATE updates.
    session
        .execute("EXPLAIN ANALYZE UPDATE t SET name = 'z'")
        .unwrap();
    let rows = session.execute("SELECT name FROM t WHERE id = 1").unwrap();
    assert_eq!(rows[0].rows, vec![vec![Value::from("z")]]);
}

#[test]
fn prepared_statements_infer_parameter_types_and_reuse_their_plan() {
    let db = db();
    let mut session = db.session();
    let insert = session
        .prepare("INSERT INTO t VALUES ($1, $2, $3)")
        .unwrap();
    assert_eq!(
        insert.parameter_types,
        [DataType::BigInt, DataType::Text, DataType::Double]
    );
    for i in 0..10 {
        session
            .execute_prepared(
                &insert,
                &[
                    Value::Int(i),
                    Value::Text(format!("n{i}").into()),
                    Value::Float(i as f64 / 2.0),
                ],
            )
            .unwrap();
    }
    let point = session
        .prepare("SELECT name, score FROM t WHERE id = $1")
        .unwrap();
    assert_eq!(point.parameter_types, [DataType::BigInt]);
    assert_eq!(point.columns.len(), 2);
    // Text parameters convert as a cast would (as text-format wire parameters arrive).
    let found = session
        .execute_prepared(&point, &[Value::Text("7".into())])
        .unwrap();
    assert_eq!(found.rows, vec![vec![Value::from("n7"), Value::Float(3.5)]]);
    let missing = session.execute_prepared(&point, &[Value::Int(99)]).unwrap();
    assert!(missing.rows.is_empty());
    let err = session.execute_prepared(&point, &[]).unwrap_err();
    assert_eq!(err.sqlstate(), "08P01");
    let err = session
        .execute_prepared(&point, &[Value::Text("x".into())])
        .unwrap_err();
    assert_eq!(err.sqlstate(), "22P02");

    // The point query's plan is an ALEX point lookup on the parameter: one generic plan,
    // reused for every value.
    let plan = session
        .prepare("EXPLAIN SELECT name FROM t WHERE id = $1")
        .unwrap();
    let text = session.execute_prepared(&plan, &[Value::Int(1)]).unwrap();
    assert_eq!(
        text.rows[0],
        [Value::from("ALEX Point Lookup on t (key = $1::bigint)")]
    );
    // With the analytics engine built in, the plan ends by naming the engine.
    if cfg!(feature = "analytics") {
        assert_eq!(
            text.rows.iter().skip(1).collect::<Vec<_>>(),
            [[Value::from("Engine: native (a primary-key access path)")]]
        );
    } else {
        assert_eq!(text.rows.len(), 1);
    }

    // After DDL the statement is planned again: a new column shows up in SELECT *.
    let all = session.prepare("SELECT * FROM t WHERE id = $1").unwrap();
    session
        .execute("DROP TABLE t; CREATE TABLE t (id BIGINT PRIMARY KEY, extra TEXT)")
        .unwrap();
    session.execute("INSERT INTO t VALUES (1, 'x')").unwrap();
    let row = session.execute_prepared(&all, &[Value::Int(1)]).unwrap();
    assert_eq!(row.rows, vec![vec![Value::Int(1), Value::from("x")]]);

    let range = session
        .prepare("SELECT id FROM t WHERE id >= $1 AND id < $2 LIMIT $3")
        .unwrap();
    assert_eq!(
        range.parameter_types,
        [DataType::BigInt, DataType::BigInt, DataType::BigInt]
    );
    assert_eq!(
        session
            .prepare("SELECT 1; SELECT 2")
            .unwrap_err()
            .sqlstate(),
        "42601"
    );
}

/// A point lookup's integer parameter is the key as it is when it fits the key column's
/// type, and out of that type's range it fails as the cast would (22003), as in PostgreSQL.
#[test]
fn point_lookup_parameters_keep_their_range_checks() {
    let db = db();
    let mut session = db.session();
    session
        .execute("CREATE TABLE small (id SMALLINT PRIMARY KEY, v TEXT); INSERT INTO small VALUES (7, 'seven'), (-32768, 'min')")
        .unwrap();
    let point = session
        .prepare("SELECT v FROM small WHERE id = $1")
        .unwrap();
    assert_eq!(point.parameter_types, [DataType::SmallInt]);
    for (key, found) in [(7, Some("seven")), (-32768, Some("min")), (8, None)] {
        let rows = session
            .execute_prepared(&point, &[Value::Int(key)])
            .unwrap()
            .rows;
        let expected: Vec<Vec<Value>> = found.into_iter().map(|v| vec![Value::from(v)]).collect();
        assert_eq!(rows, expected, "key {key}");
    }
    for key in [32768, -32769, 1 << 40] {
        let err = session
            .execute_prepared(&point, &[Value::Int(key)])
            .unwrap_err();
        assert_eq!(err.sqlstate(), "22003", "key {key}");
    }
}

#[test]
fn another_thread_cancels_a_running_statement() {
    let db = db();
    let mut session = db.session();
    let handle = session.cancel_handle();
    let (done, finished) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        let result = session.execute(
            "WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n FROM forever) \
             SELECT count(*) FROM forever",
        );
        done.send(()).unwrap();
        (result, session)
    });
    // Keep asking until the statement has stopped: it cannot finish on its own.
    while finished.try_recv().is_err() {
        handle.cancel();
        std::thread::yield_now();
    }
    let (result, mut session) = runner.join().unwrap();
    let error = result.unwrap_err();
    assert_eq!(error.sqlstate(), "57014");
    assert_eq!(error.to_string(), "canceling statement due to user request");
    // The session goes on. (A request sent after the statement ended stops the next one,
    // once: run it again.)
    let rows = match session.execute("SELECT 1") {
        Ok(results) => results,
        Err(e) if e.sqlstate() == "57014" => session.execute("SELECT 1").unwrap(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(rows[0].rows, vec![vec![Value::Int(1)]]);
}

/// Only reads that take a moment and never wait are brief (a server may run them inline).
#[test]
fn brief_statements_are_point_reads_and_session_changes() {
    let db = db();
    let mut session = db.session();
    let mut prepare = |sql: &str| session.prepare(sql).unwrap();
    assert!(prepare("SELECT name FROM t WHERE id = 5").is_brief());
    assert!(prepare("SELECT name FROM t WHERE id = $1").is_brief());
    assert!(prepare("SELECT 1, now()").is_brief());
    assert!(!prepare("SELECT name FROM t WHERE id > 5").is_brief());
    assert!(!prepare("SELECT name FROM t").is_brief());
    assert!(!prepare("SELECT (SELECT count(*) FROM t)").is_brief());
    assert!(!prepare("SELECT name FROM t WHERE id = (SELECT max(id) FROM t)").is_brief());
    assert!(!prepare("SELECT 1 UNION SELECT 2").is_brief());
    assert!(!prepare("UPDATE t SET name = 'x' WHERE id = 5").is_brief());
    assert!(!prepare("INSERT INTO t VALUES (1, 'a', 1.0)").is_brief());
    assert!(prepare("BEGIN").is_brief());
    assert!(prepare("SET statement_timeout = '1s'").is_brief());
    assert!(!prepare("COMMIT").is_brief());
    assert!(!prepare("CREATE TABLE u (a INT)").is_brief());
    assert!(prepare("INSERT INTO t VALUES (1, 'a', 1.0), (2, 'b', 2.0)").is_brief_in_block());
    assert!(!prepare("INSERT INTO t SELECT * FROM t").is_brief_in_block());
    assert!(
        !prepare("INSERT INTO t VALUES (1, 'a', 1.0) ON CONFLICT (id) DO UPDATE SET name = 'b'")
            .is_brief_in_block()
    );
    assert!(
        !prepare("INSERT INTO t VALUES ((SELECT max(id) FROM t), 'a', 1.0)").is_brief_in_block()
    );
    assert!(!prepare("UPDATE t SET name = 'x' WHERE id = 5").is_brief_in_block());
    // A read of a short key range is brief for the values it runs with.
    let range = prepare("SELECT sum(score) FROM t WHERE id BETWEEN $1 AND $2");
    assert!(!range.is_brief());
    let width = |w: i64| range.is_brief_with(&[Value::Int(10), Value::Int(10 + w)]);
    assert!(width(0) && width(super::session::BRIEF_RANGE_KEYS));
    assert!(!width(super::session::BRIEF_RANGE_KEYS + 1));
    assert!(!range.is_brief_with(&[Value::Int(10), Value::Null]));
    assert!(prepare("SELECT * FROM t WHERE id > 5 AND id < 100 ORDER BY name").is_brief_with(&[]));
    assert!(!prepare("SELECT * FROM t WHERE id > 5").is_brief_with(&[]));
    assert!(
        !prepare("SELECT * FROM t WHERE id > 5 AND id < 100 AND name IN (SELECT name FROM t)")
            .is_brief_with(&[])
    );
    assert!(!prepare("UPDATE t SET name = 'x' WHERE id > 5 AND id < 9").is_brief_with(&[]));
    assert!(prepare("UPDATE t SET name = 'x' WHERE id = 5").is_point_write());
    assert!(prepare("UPDATE t SET name = name || 'x' WHERE id = $1 RETURNING id").is_point_write());
    assert!(prepare("DELETE FROM t WHERE id = $1").is_point_write());
    assert!(!prepare("UPDATE t SET name = 'x' WHERE id > 5").is_point_write());
    assert!(!prepare("DELETE FROM t WHERE name = 'x'").is_point_write());
    assert!(
        !prepare("UPDATE t SET name = 'x' WHERE id = (SELECT max(id) FROM t)").is_point_write()
    );
    assert!(!prepare("SELECT name FROM t WHERE id = 5").is_point_write());
}

/// A statement run without waiting gives way to a row lock another transaction holds: it is
/// undone and reported, the block goes on (its writes and savepoints intact), and run again
/// with waiting it completes once the holder ends.
#[test]
fn a_point_write_without_waiting_gives_way_to_a_held_row_lock() {
    let db = db();
    let mut holder = db.session();
    let mut other = db.session();
    holder
        .execute("INSERT INTO t VALUES (1, 'a', 1.0), (2, 'b', 2.0)")
        .unwrap();
    let update = other
        .prepare("UPDATE t SET name = name || '+' WHERE id = $1 RETURNING name")
        .unwrap();
    let one = [Value::Int(1)];
    // Outside a block the statement would commit: it is not run.
    assert!(
        other
            .execute_prepared_without_waiting(&update, &one)
            .unwrap()
            .is_none()
    );
    holder.execute("BEGIN").unwrap();
    holder
        .execute("UPDATE t SET name = 'held' WHERE id = 1")
        .unwrap();

    other
        .execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .unwrap();
    other.execute("INSERT INTO t VALUES (3, 'c', 3.0)").unwrap();
    other.execute("SAVEPOINT s").unwrap();
    other.execute("INSERT INTO t VALUES (4, 'd', 4.0)").unwrap();
    assert!(
        other
            .execute_prepared_without_waiting(&update, &one)
            .unwrap()
            .is_none()
    );
    // A row nobody holds is written at once.
    let two = other
        .execute_prepared_without_waiting(&update, &[Value::Int(2)])
        .unwrap()
        .expect("no lock to wait for");
    assert_eq!(two.rows, vec![vec![Value::Text("b+".into())]]);
    assert!(!other.transaction_failed());
    other.execute("ROLLBACK TO s").unwrap();
    let names = |session: &mut crate::Session| {
        session
            .execute("SELECT id, name FROM t ORDER BY id")
            .unwrap()[0]
            .rows
            .iter()
            .map(|r| format!("{:?}={:?}", r[0], r[1]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        names(&mut other),
        "Int(1)=Text(\"a\") Int(2)=Text(\"b\") Int(3)=Text(\"c\")"
    );

    // With waiting, the update completes when the holder commits, on the row it wrote.
    let waiter = std::thread::spawn(move || {
        let result = other.execute_prepared(&update, &one).map(|r| r.rows);
        other.execute("COMMIT").unwrap();
        result
    });
    holder.execute("COMMIT").unwrap();
    assert_eq!(
        waiter.join().unwrap().unwrap(),
        vec![vec![Value::Text("held+".into())]]
    );
    assert_eq!(
        names(&mut holder),
        "Int(1)=Text(\"held+\") Int(2)=Text(\"b\") Int(3)=Text(\"c\")"
    );
}

/// Range scans lend cached rows to the query without copying them out first; a row that is
/// not cached, an older version a snapshot reads, the transaction's own writes and rows from
/// before an added column all hand over to the copying scan. Each mix gives the model's rows.
#[test]
fn range_scans_over_cached_and_uncached_rows_match_a_model() {
    let db = db();
    let mut s = db.session();
    let mut model = std::collections::BTreeMap::new();
    s.execute("BEGIN").unwrap();
    let insert = s.prepare("INSERT INTO t VALUES ($1, $2, $3)").unwrap();
    for id in 0..3000_i64 {
        let name = format!("name-{id}");
        s.execute_prepared(
            &insert,
            &[Value::Int(id), name.clone().into(), Value::Float(0.5)],
        )
        .unwrap();
        model.insert(id, name);
    }
    s.execute("COMMIT").unwrap();
    // Every third row cached by a point read; the rest only in storage.
    let point = s.prepare("SELECT name FROM t WHERE id = $1").unwrap();
    for id in (0..3000).step_by(3) {
        assert_eq!(
            s.execute_prepared(&point, &[Value::Int(id)])
                .unwrap()
                .rows
                .len(),
            1
        );
    }
    let ids = |rows: &Rows| -> Vec<i64> {
        rows.iter()
            .map(|r| match r[0] {
                Value::Int(i) => i,
                ref other => panic!("{other:?}"),
            })
            .collect()
    };
    let range = s
        .prepare("SELECT id, name FROM t WHERE id >= $1 AND id < $2")
        .unwrap();
    let descending = s
        .prepare("SELECT id, name FROM t WHERE id < $1 ORDER BY id DESC LIMIT 50")
        .unwrap();
    let check = |s: &mut crate::Session, model: &std::collections::BTreeMap<i64, String>| {
        for (lo, hi) in [(0, 3000), (5, 6), (100, 2900), (2990, 4000)] {
            let got = s
                .execute_prepared(&range, &[Value::Int(lo), Value::Int(hi)])
                .unwrap()
                .rows;
            let want: Vec<Vec<Value>> = model
                .range(lo..hi)
                .map(|(&id, name)| vec![Value::Int(id), name.as_str().into()])
                .collect();
            assert_eq!(got, want, "[{lo}, {hi})");
        }
        let got = s
            .execute_prepared(&descending, &[Value::Int(2000)])
            .unwrap()
            .rows;
        let want: Vec<i64> = model
            .range(..2000)
            .rev()
            .take(50)
            .map(|(&id, _)| id)
            .collect();
        assert_eq!(ids(&got), want);
    };
    check(&mut s, &model);
    // Now every row is cached (the scans warmed the rest).
    check(&mut s, &model);

    // A snapshot reading older versions while another session changes rows.
    s.execute("BEGIN ISOLATION LEVEL REPEATABLE READ").unwrap();
    check(&mut s, &model);
    let mut other = db.session();
    other
        .execute("UPDATE t SET name = 'changed' WHERE id % 7 = 0; DELETE FROM t WHERE id % 11 = 0")
        .unwrap();
    check(&mut s, &model);
    s.execute("COMMIT").unwrap();
    for (id, name) in model.iter_mut() {
        if id % 7 == 0 {
            *name = "changed".into();
        }
    }
    model.retain(|id, _| id % 11 != 0);
    check(&mut s, &model);

    // The transaction's own writes, merged into the scan.
    s.execute("BEGIN").unwrap();
    s.execute("UPDATE t SET name = 'mine' WHERE id % 5 = 0; DELETE FROM t WHERE id % 13 = 0")
        .unwrap();
    let mut mine = model.clone();
    for (id, name) in mine.iter_mut() {
        if id % 5 == 0 {
            *name = "mine".into();
        }
    }
    mine.retain(|id, _| id % 13 != 0);
    check(&mut s, &mine);
    s.execute("ROLLBACK").unwrap();
    check(&mut s, &model);

    // Rows cached before a column was added are completed with its default.
    s.execute("ALTER TABLE t ADD COLUMN extra INTEGER DEFAULT 7")
        .unwrap();
    let extra = s
        .execute("SELECT extra FROM t WHERE id >= 0 AND id < 3000")
        .unwrap()
        .remove(0)
        .rows;
    assert_eq!(extra.len(), model.len());
    assert!(extra.iter().all(|r| r[0] == Value::Int(7)));
}

/// An `IN` list of primary keys reads its rows in one batch ([`crate::Transaction::get_many`]):
/// cached and uncached rows, missing keys, duplicates, and the transaction's own inserts,
/// updates and deletes all come out as single lookups would find them.
#[test]
fn key_lists_read_in_one_batch_see_what_single_lookups_see() {
    let db = db();
    let mut s = db.session();
    s.execute("BEGIN").unwrap();
    let insert = s.prepare("INSERT INTO t VALUES ($1, $2, 1.0)").unwrap();
    for id in 0..200_i64 {
        s.execute_prepared(&insert, &[Value::Int(id), format!("n{id}").into()])
            .unwrap();
    }
    s.execute("COMMIT").unwrap();
    // Half the rows cached by a read.
    s.execute("SELECT count(name) FROM t WHERE id < 100")
        .unwrap();
    let names = |s: &mut crate::Session, sql: &str| -> Vec<String> {
        let result = s.execute(sql).unwrap().remove(0);
        result.rows.iter().map(|r| r[0].to_string()).collect()
    };
    let list = "SELECT name FROM t WHERE id IN (150, 3, 3, 999, 42, 120, -1) ORDER BY id";
    assert_eq!(names(&mut s, list), ["n3", "n42", "n120", "n150"]);
    s.execute("BEGIN").unwrap();
    s.execute("UPDATE t SET name = 'mine' WHERE id IN (42, 150)")
        .unwrap();
    s.execute("DELETE FROM t WHERE id = 3").unwrap();
    s.execute("INSERT INTO t VALUES (999, 'new', 2.0)").unwrap();
    assert_eq!(names(&mut s, list), ["mine", "n120", "mine", "new"]);
    s.execute("ROLLBACK").unwrap();
    assert_eq!(names(&mut s, list), ["n3", "n42", "n120", "n150"]);
}

/// A prepared lookup by primary key names the key its parameters look up, so that the
/// session can start loading the key's index slot before it sets the statement up; other
/// statements name none.
#[test]
fn prepared_key_lookups_name_the_key_to_prefetch() {
    use crate::table::RowKey;
    let db = db();
    db.session()
        .execute(
            "CREATE TABLE named (code TEXT PRIMARY KEY, n INTEGER); \
             CREATE TABLE pair (a INTEGER, b TEXT, v INTEGER, PRIMARY KEY (a, b))",
        )
        .unwrap();
    let mut s = db.session();
    let mut key = |sql: &str, params: &[Value]| {
        let prepared = s.prepare(sql).unwrap();
        prepared
            .point_key(params)
            .map(|(table, key)| (table.to_owned(), key))
    };
    let point = "SELECT name FROM t WHERE id = $1";
    assert_eq!(
        key(point, &[Value::Int(7)]),
        Some(("t".to_owned(), RowKey::Int(7)))
    );
    assert_eq!(
        key("SELECT * FROM t WHERE id = $1::integer", &[Value::Int(-3)]),
        Some(("t".to_owned(), RowKey::Int(-3)))
    );
    assert_eq!(key(point, &[Value::Null]), None);
    assert_eq!(
        key("SELECT name FROM t WHERE id = 7", &[]),
        Some(("t".to_owned(), RowKey::Int(7)))
    );
    assert_eq!(
        key("SELECT name FROM t WHERE id > $1", &[Value::Int(7)]),
        None
    );
    // Byte-string keys (text, composite) are named by their encoding, as stored.
    let encoded = |values: &[Value]| RowKey::Bytes(crate::encoding::encode_values(values));
    assert_eq!(
        key("SELECT n FROM named WHERE code = $1", &["a".into()]),
        Some(("named".to_owned(), encoded(&["a".into()])))
    );
    assert_eq!(
        key("SELECT n FROM named WHERE code = $1", &[Value::Int(1)]),
        None
    );
    assert_eq!(
        key(
            "SELECT v FROM pair WHERE b = $2 AND a = $1",
            &[Value::Int(4), "x".into()]
        ),
        Some(("pair".to_owned(), encoded(&[Value::Int(4), "x".into()])))
    );
    assert_eq!(
        key("SELECT v FROM pair WHERE a = 4 AND b = $1", &["x".into()]),
        Some(("pair".to_owned(), encoded(&[Value::Int(4), "x".into()])))
    );
    assert_eq!(
        key(
            "SELECT v FROM pair WHERE a = $1 AND b = $2",
            &[Value::Null, "x".into()]
        ),
        None
    );
    assert_eq!(key("DELETE FROM t WHERE id = $1", &[Value::Int(7)]), None);
}

/// Prepared lookups by a text or composite primary key find what the same lookups with
/// constants find, whatever form the parameters arrive in (converted to the key columns'
/// types: padded to a CHAR's length, text for an integer), inside a transaction that wrote
/// the rows too; a key value no row can have finds nothing.
#[test]
fn prepared_byte_key_lookups_find_what_constants_find() {
    let db = db();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE codes (code CHAR(4) PRIMARY KEY, n INTEGER); \
         CREATE TABLE stock (warehouse SMALLINT, item VARCHAR(8), qty INTEGER, \
         PRIMARY KEY (warehouse, item)); \
         INSERT INTO codes VALUES ('ab', 1), ('abcd', 2); \
         INSERT INTO stock VALUES (1, 'bolt', 10), (2, 'nut', 20)",
    )
    .unwrap();
    let code = s.prepare("SELECT n FROM codes WHERE code = $1").unwrap();
    let stock = s
        .prepare("SELECT qty FROM stock WHERE item = $2 AND warehouse = $1")
        .unwrap();
    // Each prepared lookup against the same lookup with constants.
    let cases: [(&str, &crate::sql::Prepared, Vec<Value>); 8] = [
        (
            "SELECT n FROM codes WHERE code = 'ab'",
            &code,
            vec!["ab".into()],
        ),
        (
            "SELECT n FROM codes WHERE code = 'ab  '",
            &code,
            vec!["ab  ".into()],
        ),
        (
            "SELECT n FROM codes WHERE code = 'x'",
            &code,
            vec!["x".into()],
        ),
        (
            "SELECT n FROM codes WHERE code = 'zz'",
            &code,
            vec!["zz".into()],
        ),
        (
            "SELECT qty FROM stock WHERE warehouse = 1 AND item = 'bolt'",
            &stock,
            vec![Value::Int(1), "bolt".into()],
        ),
        (
            "SELECT qty FROM stock WHERE warehouse = 2 AND item = 'nut'",
            &stock,
            vec!["2".into(), "nut".into()],
        ),
        (
            "SELECT qty FROM stock WHERE warehouse = 3 AND item = 'gear'",
            &stock,
            vec![Value::Int(3), "gear".into()],
        ),
        (
            "SELECT qty FROM stock WHERE warehouse = 1 AND item = 'nut'",
            &stock,
            vec![Value::Int(1), "nut".into()],
        ),
    ];
    for in_block in [false, true] {
        if in_block {
            s.execute("BEGIN; INSERT INTO codes VALUES ('x', 3); INSERT INTO stock VALUES (3, 'gear', 30)")
                .unwrap();
        }
        let mut found = 0;
        for (with_constants, prepared, params) in &cases {
            let expected = s.execute(with_constants).unwrap().remove(0).rows;
            let rows = s.execute_prepared(prepared, params).unwrap().rows;
            assert_eq!(rows, expected, "{with_constants}");
            found += rows.len();
        }
        assert_eq!(found, if in_block { 6 } else { 4 });
        for params in [[Value::Null, "bolt".into()], [Value::Int(1), Value::Null]] {
            let rows = s.execute_prepared(&stock, &params).unwrap().rows;
            assert!(rows.is_empty(), "{params:?}");
        }
    }
    s.execute("COMMIT").unwrap();
    // A parameter out of its column's range fails as its cast would, as in PostgreSQL.
    let err = s
        .execute_prepared(&stock, &[Value::Int(1 << 20), "bolt".into()])
        .unwrap_err();
    assert_eq!(err.sqlstate(), "22003");
}

/// A composite primary key equal to constants or parameters in every column is one lookup,
/// in the key's column order whatever the filter's; equalities on leading columns are a key
/// range; a later column alone, or a column type whose equality the key encoding cannot
/// decide, leaves a full scan. Prepared, the lookup takes its parameters as the key.
#[test]
fn composite_keys_are_looked_up_with_every_column() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    let mut session = db.session();
    session
        .execute(
            "CREATE TABLE stock (warehouse INTEGER, item TEXT, qty BIGINT, \
             PRIMARY KEY (warehouse, item)); \
             CREATE TABLE readings (sensor INTEGER, value DOUBLE PRECISION, \
             PRIMARY KEY (sensor, value))",
        )
        .unwrap();
    let access = |sql| match select_plan(&db, sql).source {
        Some(planner::Source::Table(table)) => table.access,
        other => panic!("not a table scan: {other:?}"),
    };
    assert_eq!(
        access("SELECT qty FROM stock WHERE item = 'nut' AND warehouse = 2"),
        Access::CompositeKey(vec![
            (0, BoundExpr::Constant(Value::Int(2))),
            (1, BoundExpr::Constant(Value::from("nut"))),
        ])
    );
    assert_eq!(
        access("SELECT qty FROM stock WHERE warehouse = 2 AND qty > 1"),
        Access::KeyPrefix(vec![(0, BoundExpr::Constant(Value::Int(2)))])
    );
    assert_eq!(
        access("SELECT qty FROM stock WHERE item = 'nut'"),
        Access::Full
    );
    assert_eq!(
        access("SELECT qty FROM stock WHERE warehouse = 2 OR item = 'nut'"),
        Access::Full
    );
    assert_eq!(
        access("SELECT * FROM readings WHERE sensor = 1 AND value = 0.5"),
        Access::KeyPrefix(vec![(0, BoundExpr::Constant(Value::Int(1)))])
    );
    // An index with more equalities than the key's leading columns wins; with as many, the key.
    session
        .execute("CREATE INDEX stock_qty ON stock (warehouse, qty)")
        .unwrap();
    assert!(matches!(
        access("SELECT item FROM stock WHERE warehouse = 2 AND qty = 5"),
        Access::Index(_)
    ));
    assert!(matches!(
        access("SELECT item FROM stock WHERE warehouse = 2"),
        Access::KeyPrefix(_)
    ));

    session
        .execute("INSERT INTO stock SELECT i % 50, 'item ' || (i / 50), i FROM generate_series(0, 4999) AS g(i)")
        .unwrap();
    let lookup = session
        .prepare("SELECT qty FROM stock WHERE warehouse = $1 AND item = $2")
        .unwrap();
    for i in [0i64, 1, 49, 50, 4999] {
        let found = session
            .execute_prepared(
                &lookup,
                &[Value::Int(i % 50), Value::from(format!("item {}", i / 50))],
            )
            .unwrap();
        assert_eq!(found.rows, vec![vec![Value::Int(i)]], "row {i}");
    }
    let range = session
        .prepare("SELECT count(*), min(qty), max(qty) FROM stock WHERE warehouse = $1")
        .unwrap();
    let found = session.execute_prepared(&range, &[Value::Int(7)]).unwrap();
    assert_eq!(
        found.rows,
        vec![vec![Value::Int(100), Value::Int(7), Value::Int(4957)]]
    );
    for missing in [
        [Value::Int(50), Value::from("item 0")],
        [Value::Int(0), Value::from("item 100")],
        [Value::Null, Value::from("item 0")],
    ] {
        let found = session.execute_prepared(&lookup, &missing).unwrap();
        assert!(found.rows.is_empty(), "{missing:?}");
    }
}
