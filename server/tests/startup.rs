//! The server as clients meet it today: it listens on both ports, answers pgwire startup with a
//! clear "not implemented" error, and serves its health endpoint and the console.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use common::Server;

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
async fn pgwire_startup_gets_a_clear_not_implemented_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let config = format!(
        "host=127.0.0.1 port={} user=alice dbname=omendb",
        server.pg.port()
    );
    let err = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .err()
        .expect("the server must refuse the session");
    let db = err
        .as_db_error()
        .expect("a server-side error, not a dropped connection");
    assert_eq!(
        db.code(),
        &tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED
    );
    assert_eq!(db.severity(), "FATAL");
    assert!(
        db.message().contains("does not execute SQL yet"),
        "{}",
        db.message()
    );
    assert!(db.message().contains("rocksdb storage"), "{}", db.message());

    // The server keeps serving after refusing a session.
    let again = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .err()
        .unwrap();
    assert!(again.as_db_error().is_some(), "{again}");
}

#[test]
fn psql_reports_the_error_and_its_sqlstate() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "redb"]);
    let output = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string()])
        .args([
            "-U",
            "bob",
            "-d",
            "omendb",
            "-v",
            "VERBOSITY=verbose",
            "-c",
            "SELECT 1",
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed by scripts/dev.sh setup");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does not execute SQL yet"), "{stderr}");
    assert!(stderr.contains("redb storage"), "{stderr}");
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
