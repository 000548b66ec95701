//! Running the server: the connection limit (53300), /metrics, the index endpoint, and a
//! graceful shutdown that keeps every commit and no uncommitted write.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use common::{Server, http_get_as};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--storage", "memory", "--max-connections", "2"],
    );
    let first = server.connect().await;
    let second = server.connect().await;
    let config = format!("host=127.0.0.1 port={} user=alice", server.pg.port());
    let err = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .err()
        .expect("a third connection is refused");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code(), &SqlState::TOO_MANY_CONNECTIONS);
    assert_eq!(db.message(), "sorry, too many clients already");
    for client in [&first, &second] {
        let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
        assert_eq!(one, 1);
    }
}

#[tokio::test]
async fn metrics_and_the_index_endpoint_describe_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT); \
             INSERT INTO t SELECT i, 'v' FROM (VALUES (1), (2), (3)) AS s(i)",
        )
        .await
        .unwrap();
    for id in 1..=3i64 {
        client
            .query_one("SELECT v FROM t WHERE id = $1", &[&id])
            .await
            .unwrap();
    }
    assert!(client.batch_execute("SELECT 1 / 0").await.is_err());

    let (status, text) = http_get_as(server.http, "/metrics", None);
    assert_eq!(status, 200);
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
    };
    assert_eq!(sample("omendb_connections"), 1.0);
    assert_eq!(
        sample("omendb_statement_seconds_count{kind=\"select\"}"),
        3.0
    );
    assert_eq!(
        sample("omendb_statement_seconds_count{kind=\"insert\"}"),
        1.0
    );
    assert_eq!(sample("omendb_statement_errors_total"), 1.0);
    assert_eq!(sample("omendb_table_rows{table=\"t\"}"), 3.0);
    assert!(sample("omendb_alex_data_nodes{table=\"t\"}") >= 1.0);
    assert!(sample("omendb_commits_total") >= 1.0);

    let (status, body) = http_get_as(server.http, "/api/tables/t/index", None);
    assert_eq!(status, 200, "{body}");
    let index: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(index["stats"]["keys"], 3);
    let nodes = index["nodes"].as_array().unwrap();
    let data: Vec<&serde_json::Value> = nodes.iter().filter(|n| n["kind"] == "data").collect();
    assert!(!data.is_empty());
    let fill: u64 = data.iter().map(|n| n["fill"].as_u64().unwrap()).sum();
    assert_eq!(fill, 3, "every key is in one data node");
    assert_eq!(
        data.iter()
            .map(|n| &n["min_key"])
            .min_by_key(|k| k.as_i64()),
        Some(&serde_json::json!(1))
    );
    let (status, body) = http_get_as(server.http, "/api/tables/nope/index", None);
    assert_eq!(status, 404);
    assert!(body.contains("42P01"), "{body}");
}

#[tokio::test]
async fn shutdown_keeps_commits_and_drops_open_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--storage", "redb", "--shutdown-grace", "0"]);
    let committed = server.connect().await;
    committed
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let open = server.connect().await;
    open.batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .await
        .unwrap();
    // A long statement: cancelled (or refused, if it has not started) by the shutdown.
    let busy = server.connect().await;
    let long = tokio::spawn(async move {
        busy.query_one(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) \
             SELECT count(*) FROM n",
            &[],
        )
        .await
    });
    let status = server.terminate();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(long.await.unwrap().is_err());
    drop((committed, open));

    let server = Server::start(dir.path(), &["--storage", "redb"]);
    let client = server.connect().await;
    let ids: Vec<i32> = client
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        [1],
        "the commit survived; the open transaction did not"
    );
}

#[tokio::test]
async fn options_come_from_a_toml_file_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("omendb.toml");
    std::fs::write(
        &config,
        "storage = \"memory\"\nmax_connections = 1\nstatement-timeout = \"5s\"\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let server = Server::start(dir.path(), &["--config", path]);
    let client = server.connect().await;
    let timeout: String = client
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "5s");
    let refused = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=alice", server.pg.port()),
        tokio_postgres::NoTls,
    )
    .await;
    assert!(refused.is_err(), "max_connections = 1 from the file");
    drop((client, server));

    let server = Server::start(dir.path(), &["--config", path, "--max-connections", "2"]);
    let _first = server.connect().await;
    let _second = server.connect().await;

    std::fs::write(&config, "no_such_option = 1\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_omendb-server"))
        .args(["--config", path])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-option"), "{stderr}");
    assert!(stderr.contains("omendb.toml"), "{stderr}");
}

#[tokio::test]
async fn a_session_idle_in_a_transaction_is_ended_and_its_locks_released() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let idle = server.connect().await;
    idle.batch_execute(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0); \
         SET idle_in_transaction_session_timeout = '100ms'; \
         BEGIN; UPDATE t SET v = 1 WHERE id = 1",
    )
    .await
    .unwrap();
    // This update waits for the idle transaction's row lock, which its end releases.
    let other = server.connect().await;
    let updated = other
        .execute("UPDATE t SET v = v + 10 WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let v: i32 = other
        .query_one("SELECT v FROM t WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 10, "the idle transaction's update was rolled back");
    let err = idle.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::IDLE_IN_TRANSACTION_SESSION_TIMEOUT),
        "{err}"
    );
}

/// An UPDATE by key inside a block runs on the connection's task unless another transaction
/// holds the row's lock: then it waits on the blocking pool — in both protocols, two waiters at
/// once (as many as the machine has connection threads here), while the holder's COMMIT still
/// gets through.
#[tokio::test]
async fn point_updates_wait_for_a_held_row_lock_off_the_network_threads() {
    updates_wait_for_a_held_row_lock_off_the_loops(&[]).await;
}

/// The same with every connection on one event loop: a waiter that blocked the loop would
/// block the holder's connection too.
#[tokio::test]
async fn point_updates_wait_off_a_single_connection_thread() {
    updates_wait_for_a_held_row_lock_off_the_loops(&["--connection-threads", "1"]).await;
}

async fn updates_wait_for_a_held_row_lock_off_the_loops(args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[&["--storage", "memory"], args].concat());
    let holder = server.connect().await;
    holder
        .batch_execute(
            "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 0), (2, 0); \
             BEGIN; UPDATE t SET v = v + 1 WHERE id = 1",
        )
        .await
        .unwrap();
    let simple = server.connect().await;
    simple
        .batch_execute(
            "BEGIN ISOLATION LEVEL READ COMMITTED; UPDATE t SET v = v + 100 WHERE id = 2",
        )
        .await
        .unwrap();
    let extended = server.connect().await;
    extended
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .unwrap();
    let simple = tokio::spawn(async move {
        simple
            .batch_execute("UPDATE t SET v = v + 10 WHERE id = 1")
            .await?;
        simple.batch_execute("COMMIT").await
    });
    let extended = tokio::spawn(async move {
        let updated = extended
            .execute("UPDATE t SET v = v + $1 WHERE id = 1", &[&1000i32])
            .await?;
        extended.batch_execute("COMMIT").await?;
        Ok::<_, tokio_postgres::Error>(updated)
    });
    // Both wait for the lock (each moved off its network thread) before the holder commits.
    let http = server.http;
    loop {
        let metrics = tokio::task::spawn_blocking(move || http_get_as(http, "/metrics", None).1)
            .await
            .unwrap();
        if metrics.lines().any(|l| l == "omendb_row_lock_waiters 2") {
            break;
        }
        tokio::task::yield_now().await;
    }
    // A waiter blocking a network thread would keep this COMMIT from ever being read: fail
    // rather than hang.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        holder.batch_execute("COMMIT"),
    )
    .await
    .expect("the holder's COMMIT got through while two updates waited")
    .unwrap();
    simple.await.unwrap().unwrap();
    assert_eq!(extended.await.unwrap().unwrap(), 1);
    let rows = holder
        .query("SELECT v FROM t ORDER BY id", &[])
        .await
        .unwrap();
    let v: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(v, [1011, 100]);
}

/// An analytical query runs on DataFusion through pgwire in both protocols — also a brief
/// statement (a primary-key lookup, which the server runs on its network thread) under
/// `omendb.analytics = on`, which must not block that thread on DataFusion's runtime.
#[tokio::test]
async fn analytical_queries_run_on_datafusion_over_pgwire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE big (id BIGINT PRIMARY KEY, g INTEGER);
             INSERT INTO big SELECT i, i % 7 FROM generate_series(1, 120000) AS s(i)",
        )
        .await
        .unwrap();
    let plan = client
        .query("EXPLAIN SELECT g, count(*) FROM big GROUP BY g", &[])
        .await
        .unwrap();
    let first: String = plan[0].get(0);
    assert!(first.starts_with("Engine: DataFusion"), "{first}");
    let groups = client
        .query("SELECT g, count(*) FROM big GROUP BY g ORDER BY g", &[])
        .await
        .unwrap();
    assert_eq!(groups.len(), 7);
    assert_eq!(groups[0].get::<_, i64>(1), 17_142);
    // The scan's columns are kept for the next query, and /metrics says how much they take.
    let (status, text) = http_get_as(server.http, "/metrics", None);
    assert_eq!(status, 200);
    let held: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("omendb_analytics_cache_bytes ")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no omendb_analytics_cache_bytes in\n{text}"));
    assert!(held > 0.0, "{text}");
    client
        .batch_execute("SET omendb.analytics = on")
        .await
        .unwrap();
    let point = client
        .prepare("SELECT g FROM big WHERE id = $1")
        .await
        .unwrap();
    for id in [5_i64, 6, 700] {
        let row = client.query_one(&point, &[&id]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), (id % 7) as i32);
    }
    let simple = client
        .simple_query("SELECT g FROM big WHERE id = 9")
        .await
        .unwrap();
    assert!(!simple.is_empty());
    assert_eq!(
        client
            .query_one("SELECT 1::int", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
    // A CancelRequest stops a DataFusion query in the middle of its join (two billion joined
    // rows before the count), and the connection goes on.
    let token = client.cancel_token();
    let join = client.simple_query("SELECT count(*) FROM big a JOIN big b ON a.g = b.g");
    tokio::pin!(join);
    let result = loop {
        tokio::select! {
            result = &mut join => break result,
            cancelled = token.cancel_query(tokio_postgres::NoTls) => cancelled.unwrap(),
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(result.unwrap_err().code(), Some(&SqlState::QUERY_CANCELED));
    let rows = loop {
        match client.simple_query("SELECT count(*) FROM big").await {
            Ok(rows) => break rows,
            Err(e) if e.code() == Some(&SqlState::QUERY_CANCELED) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert!(!rows.is_empty());
}
