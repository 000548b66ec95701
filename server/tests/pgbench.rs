//! pgbench, unmodified: it initialises its schema (CREATE TABLE … WITH (fillfactor), COPY,
//! VACUUM, ALTER TABLE … ADD PRIMARY KEY) and runs its TPC-B-like script from several
//! clients. Under READ COMMITTED the concurrent balance updates wait for each other's row
//! locks instead of failing, so no transaction fails, and the balances add up afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::process::Command;

use common::Server;

fn pgbench(server: &Server, args: &[&str]) -> String {
    let output = Command::new("pgbench")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &server.pg.port().to_string(),
            "-U",
            "bench",
        ])
        .args(args)
        .arg("omendb")
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("pgbench is installed by scripts/dev.sh setup");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "pgbench {args:?}: {stdout}{stderr}"
    );
    stdout
}

#[tokio::test]
async fn pgbench_initialises_and_runs_tpcb_without_failures() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "redb"]);
    pgbench(&server, &["-i", "-s", "1", "-q"]);
    // 4 clients × 150 transactions of the built-in TPC-B-like script; one branch row, so
    // every transaction contends for it.
    let report = pgbench(&server, &["-c", "4", "-j", "2", "-t", "150"]);
    assert!(
        report.contains("number of transactions actually processed: 600/600"),
        "{report}"
    );
    assert!(
        report.contains("number of failed transactions: 0 "),
        "{report}"
    );

    let client = server.connect().await;
    let sum = |sql: &'static str| {
        let client = &client;
        async move {
            let row = client.query_one(sql, &[]).await.unwrap();
            row.get::<_, Option<i64>>(0).unwrap_or(0)
        }
    };
    let history = sum("SELECT sum(delta)::bigint FROM pgbench_history").await;
    assert_eq!(sum("SELECT count(*) FROM pgbench_history").await, 600);
    assert_eq!(
        sum("SELECT sum(abalance)::bigint FROM pgbench_accounts").await,
        history
    );
    assert_eq!(
        sum("SELECT sum(tbalance)::bigint FROM pgbench_tellers").await,
        history
    );
    assert_eq!(
        sum("SELECT sum(bbalance)::bigint FROM pgbench_branches").await,
        history
    );
    assert_eq!(sum("SELECT count(*) FROM pgbench_accounts").await, 100_000);
}
