//! The server as clients meet it: PostgreSQL clients (tokio-postgres, psql) run queries over
//! pgwire, and the HTTP side serves its health endpoint and the console.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::{Server, http_post};

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[tokio::test]
async fn tokio_postgres_runs_queries_in_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut client = server.connect().await;

    // The simple protocol: several statements in one message.
    client
        .batch_execute(
            "CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner TEXT NOT NULL, \
             balance INTEGER, rate DOUBLE PRECISION, active BOOLEAN, note VARCHAR(10), \
             opened DATE); \
             INSERT INTO accounts VALUES (1, 'ada', 100, 0.5, true, 'x', '2024-01-02'), \
             (2, 'grace', -7, NULL, false, NULL, NULL)",
        )
        .await
        .unwrap();
    let rows = client
        .simple_query("SELECT owner FROM accounts ORDER BY id")
        .await
        .unwrap();
    let owners: Vec<&str> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0),
            _ => None,
        })
        .collect();
    assert_eq!(owners, ["ada", "grace"]);

    // The extended protocol, binary results, typed parameters (their types inferred).
    let row = client
        .query_one(
            "SELECT id, owner, balance, rate, active, note, opened FROM accounts WHERE id = $1",
            &[&1i64],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, &str>(1), "ada");
    assert_eq!(row.get::<_, i32>(2), 100);
    assert_eq!(row.get::<_, f64>(3), 0.5);
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, &str>(5), "x");
    assert_eq!(
        row.get::<_, chrono::NaiveDate>(6),
        chrono::NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()
    );
    let statement = client
        .prepare("UPDATE accounts SET balance = balance + $1 WHERE owner = $2")
        .await
        .unwrap();
    let params = statement.params();
    assert_eq!(
        params,
        [
            tokio_postgres::types::Type::INT4,
            tokio_postgres::types::Type::TEXT
        ]
    );
    assert_eq!(
        client
            .execute(&statement, &[&5i32, &"grace"])
            .await
            .unwrap(),
        1
    );
    let balance: i32 = client
        .query_one("SELECT balance FROM accounts WHERE id = 2", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(balance, -2);

    // A failing statement in a multi-statement query: the ones before it ran and answered.
    let messages = client
        .simple_query("SELECT 1; SELECT 2 / 0; SELECT 3")
        .await;
    assert_eq!(
        messages.unwrap_err().code(),
        Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO)
    );

    // Errors carry their SQLSTATE and position; the session goes on.
    let err = client
        .simple_query("SELECT nope FROM accounts")
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(
        db.code(),
        &tokio_postgres::error::SqlState::UNDEFINED_COLUMN
    );
    assert_eq!(
        db.position(),
        Some(&tokio_postgres::error::ErrorPosition::Original(8))
    );
    let err = client
        .execute(
            "INSERT INTO accounts (id, owner) VALUES ($1, $2)",
            &[&1i64, &"dup"],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );

    // A transaction block, an error inside it, and the aborted state until ROLLBACK.
    client.batch_execute("BEGIN").await.unwrap();
    client
        .batch_execute("UPDATE accounts SET balance = 0 WHERE id = 1")
        .await
        .unwrap();
    assert!(client.batch_execute("SELECT 1 / 0").await.is_err());
    let err = client.batch_execute("SELECT 1").await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    client.batch_execute("ROLLBACK").await.unwrap();
    let balance: i32 = client
        .query_one("SELECT balance FROM accounts WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(balance, 100, "the rolled-back update is gone");

    // A portal read a few rows at a time (Execute with a row limit, PortalSuspended).
    let transaction = client.transaction().await.unwrap();
    let portal = transaction
        .bind("SELECT id FROM accounts ORDER BY id", &[])
        .await
        .unwrap();
    let first = transaction.query_portal(&portal, 1).await.unwrap();
    let rest = transaction.query_portal(&portal, 5).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].get::<_, i64>(0), 1);
    assert_eq!(
        rest.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
        [2]
    );
    transaction.commit().await.unwrap();

    // A second connection sees committed data only, in its own session.
    let other = server.connect().await;
    let count: i64 = other
        .query_one("SELECT count(*) FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2);
}

/// A CancelRequest from the client stops a statement that would never finish.
#[tokio::test]
async fn cancel_requests_stop_the_running_statement() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    let token = client.cancel_token();
    let forever = client.simple_query(
        "WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n FROM forever) \
         SELECT count(*) FROM forever",
    );
    tokio::pin!(forever);
    // Keep asking until the query has stopped: it cannot end on its own.
    let result = loop {
        tokio::select! {
            result = &mut forever => break result,
            cancelled = token.cancel_query(tokio_postgres::NoTls) => cancelled.unwrap(),
        }
        tokio::task::yield_now().await;
    };
    let err = result.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
    // The connection goes on. (A cancel request still in flight may hit the next statement,
    // as in PostgreSQL: run it again until it is not cancelled.)
    let rows = loop {
        match client.simple_query("SELECT 1").await {
            Ok(rows) => break rows,
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(rows.len(), 3, "{rows:?}");
}

/// The types a client decodes from binary results and sends as binary parameters.
#[tokio::test]
async fn binary_values_of_every_kind_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE v (id INTEGER PRIMARY KEY, n NUMERIC(12, 4), d DATE, \
             ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSONB)",
        )
        .await
        .unwrap();
    let n: rust_decimal::Decimal = "-12345.0675".parse().unwrap();
    let d = chrono::NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    let ts = d.and_hms_micro_opt(23, 59, 58, 250_000).unwrap();
    let tz = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(ts, chrono::Utc);
    let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let j = serde_json::json!({"b": [1, 2], "a": null});
    client
        .execute(
            "INSERT INTO v VALUES (1, $1, $2, $3, $4, $5, $6)",
            &[&n, &d, &ts, &tz, &u, &j],
        )
        .await
        .unwrap();
    // RETURNING rows through the extended protocol.
    let returned = client
        .query_one(
            "UPDATE v SET n = n + 1 WHERE id = 1 RETURNING id, n - 1 AS before",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(returned.get::<_, i32>(0), 1);
    assert_eq!(returned.get::<_, rust_decimal::Decimal>(1), n);
    client
        .execute("UPDATE v SET n = n - 1 WHERE id = 1", &[])
        .await
        .unwrap();
    let row = client
        .query_one("SELECT n, d, ts, tz, u, j, n * 2 FROM v WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, rust_decimal::Decimal>(0), n);
    assert_eq!(row.get::<_, chrono::NaiveDate>(1), d);
    assert_eq!(row.get::<_, chrono::NaiveDateTime>(2), ts);
    assert_eq!(row.get::<_, chrono::DateTime<chrono::Utc>>(3), tz);
    assert_eq!(row.get::<_, uuid::Uuid>(4), u);
    assert_eq!(row.get::<_, serde_json::Value>(5), j);
    assert_eq!(
        row.get::<_, rust_decimal::Decimal>(6).to_string(),
        "-24690.1350"
    );
    // The same values in text, as psql would see them.
    let text = client
        .simple_query("SELECT n, d, ts, tz, u, j FROM v")
        .await
        .unwrap();
    let tokio_postgres::SimpleQueryMessage::Row(row) = &text[1] else {
        panic!("{text:?}");
    };
    let values: Vec<&str> = (0..6).map(|i| row.get(i).unwrap()).collect();
    assert_eq!(
        values,
        [
            "-12345.0675",
            "1999-12-31",
            "1999-12-31 23:59:58.25",
            "1999-12-31 23:59:58.25+00",
            "01234567-89ab-cdef-0123-456789abcdef",
            r#"{"a": null, "b": [1, 2]}"#,
        ]
    );
}

#[test]
fn psql_runs_a_query() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "redb"]);
    let psql = |sql: &str| {
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string()])
            .args([
                "-U",
                "bob",
                "-d",
                "omendb",
                "-X",
                "-A",
                "-t",
                "-v",
                "VERBOSITY=verbose",
            ])
            .args(["-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql is installed by scripts/dev.sh setup")
    };
    let output = psql("CREATE TABLE t (id INTEGER PRIMARY KEY, v NUMERIC(5, 2))");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = psql("INSERT INTO t VALUES (1, 2.5), (2, 3); SELECT sum(v) FROM t");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "INSERT 0 2\n5.50");
    // The statement before the failing one answers, as from PostgreSQL.
    let output = psql("SELECT 7; SELECT 1 / 0");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("22012: division by zero"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "7");
}

#[test]
fn http_api_runs_queries_and_describes_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let (status, body) = http_post(
        server.http,
        "/api/query",
        r#"{"sql": "CREATE TABLE p (id INT PRIMARY KEY, price NUMERIC(6,2), ok BOOLEAN); INSERT INTO p VALUES (1, 9.5, true), (2, NULL, false); SELECT id, price, ok FROM p ORDER BY id"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["affected"], 2);
    assert_eq!(results[2]["columns"][1]["type"], "numeric(6,2)");
    assert_eq!(
        results[2]["rows"],
        serde_json::json!([[1, "9.50", true], [2, null, false]])
    );
    assert!(body["elapsed_ms"].as_f64().unwrap() >= 0.0);

    let (status, body) = http_post(
        server.http,
        "/api/query",
        r#"{"sql": "SELECT price FROM p WHERE id = $1", "params": [1]}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["rows"], serde_json::json!([["9.50"]]));

    let (status, body) = http_post(
        server.http,
        "/api/query",
        r#"{"sql": "SELECT nope FROM p"}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"]["sqlstate"], "42703");
    assert_eq!(body["error"]["position"], 8);
    assert!(results[0]["elapsed_ms"].as_f64().unwrap() >= 0.0);

    // Statements run one by one: those before a failure have run and answer; the error's
    // position counts from the start of the script.
    let (status, body) = http_post(
        server.http,
        "/api/query",
        r#"{"sql": "INSERT INTO p VALUES (3, 1, true);\n  SELECT nope FROM p; INSERT INTO p VALUES (4, 1, true)"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["results"][0]["tag"], "INSERT 0 1");
    assert_eq!(body["error"]["position"], 45);
    let (_, body) = http_post(
        server.http,
        "/api/query",
        r#"{"sql": "SELECT max(id) FROM p"}"#,
    );
    assert_eq!(body["results"][0]["rows"], serde_json::json!([[3]]));

    let schema = http_get(server.http, "/api/schema");
    let json: serde_json::Value =
        serde_json::from_str(schema.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["tables"][0]["name"], "p");
    assert_eq!(json["tables"][0]["primary_key"], serde_json::json!(["id"]));
    assert_eq!(json["tables"][0]["columns"][2]["type"], "boolean");
}

#[test]
fn http_serves_health_and_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let console = tempfile::tempdir().unwrap();
    std::fs::write(
        console.path().join("index.html"),
        "<h1>console under test</h1>",
    )
    .unwrap();
    let console_arg = console.path().to_str().unwrap();
    let server = Server::start(
        dir.path(),
        &["--storage", "memory", "--console-dir", console_arg],
    );

    let health = http_get(server.http, "/api/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = health.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["storage"], "memory");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));

    let index = http_get(server.http, "/");
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("console under test"), "{index}");
}

#[test]
fn bad_storage_name_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--storage",
            "oracle",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown storage backend \"oracle\""),
        "{stderr}"
    );
}

#[test]
fn bad_settings_fail_at_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, message) in [
        ("--cache-size", "lots", "not a size"),
        ("--synchronous-commit", "maybe", "expected on or off"),
        ("--statement-timeout", "soon", "invalid --statement-timeout"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
            .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .args(["--storage", "memory", flag, value])
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(!output.status.success(), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{flag}: {stderr}");
    }
}

#[tokio::test]
async fn sessions_start_with_the_server_settings() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--statement-timeout",
            "250ms",
            "--cache-size",
            "1GiB",
            "--synchronous-commit",
            "off",
        ],
    );
    let client = server.connect().await;
    let timeout: String = client
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(timeout, "250ms");
    let err = client
        .simple_query(
            "WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n FROM forever) \
             SELECT count(*) FROM forever",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
    );
}

/// Point reads run on the connection's own thread and plans of the extended protocol are
/// kept per connection: neither may change what a client sees — an aborted block still
/// refuses them, and DDL still shows in the next Describe and Execute.
#[tokio::test]
async fn kept_plans_and_inline_reads_behave_like_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE kv (k INT PRIMARY KEY, v TEXT); INSERT INTO kv VALUES (1, 'one')",
        )
        .await
        .unwrap();

    // A point read by the simple protocol, inside an aborted block: 25P02, then fine again.
    client.batch_execute("BEGIN").await.unwrap();
    let err = client.batch_execute("SELECT 1 / 0").await.unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22012");
    let err = client
        .simple_query("SELECT v FROM kv WHERE k = 1")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "25P02");
    client.batch_execute("ROLLBACK").await.unwrap();
    let rows = client
        .simple_query("SELECT v FROM kv WHERE k = 1")
        .await
        .unwrap();
    assert!(rows.iter().any(
        |m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("one"))
    ));

    // The same SQL prepared again after DDL describes and returns the new columns.
    let sql = "SELECT * FROM kv WHERE k = $1";
    let before = client.prepare(sql).await.unwrap();
    assert_eq!(before.columns().len(), 2);
    let row = client.query_one(&before, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, String>(1), "one");
    client
        .batch_execute("ALTER TABLE kv ADD COLUMN extra INT DEFAULT 7")
        .await
        .unwrap();
    let after = client.prepare(sql).await.unwrap();
    assert_eq!(after.columns().len(), 3);
    let row = client.query_one(&after, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(2), 7);
    // A row that is not there is no row, by either protocol.
    assert!(client.query_opt(&after, &[&2i32]).await.unwrap().is_none());
}
