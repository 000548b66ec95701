//! Real drivers, unmodified, each running a small CRUD + transaction + prepared-statement
//! scenario (tests/drivers/) against a server with SCRAM authentication: psycopg 3 and
//! SQLAlchemy 2 (PyPI), node-postgres (npm) and pgjdbc (Debian's libpostgresql-jdbc-java). `scripts/dev.sh setup`
//! installs them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::Server;

const PASSWORD: &str = "driver scenario";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("OMENDB_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/omendb"))
}

fn server(dir: &std::path::Path) -> Server {
    Server::start_with_env(
        dir,
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", PASSWORD)],
    )
}

fn run(mut command: Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what} could not start ({e}): run scripts/dev.sh setup"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(stdout.trim(), "done", "{what}:\n{stdout}\n{stderr}");
}

/// Runs a Python scenario of `tests/drivers/` in the virtualenv the setup made.
fn python_scenario(script: &str, what: &str) {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let mut command = Command::new(cache_dir().join("venv/bin/python"));
    command
        .arg(repo().join("tests/drivers").join(script))
        .arg(server.pg.port().to_string())
        .arg(PASSWORD);
    run(command, what);
}

#[test]
fn psycopg() {
    python_scenario("psycopg_scenario.py", "psycopg");
}

#[test]
fn sqlalchemy() {
    python_scenario("sqlalchemy_scenario.py", "sqlalchemy");
}

#[test]
fn node_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let mut command = Command::new("node");
    command
        .current_dir(repo().join("tests/drivers/node"))
        .arg("scenario.js")
        .arg(server.pg.port().to_string())
        .arg(PASSWORD);
    run(command, "node-postgres");
}

#[test]
fn pgjdbc() {
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(repo().join("tests/drivers/jdbc/Scenario.java"))
        .output()
        .expect("javac is installed by scripts/dev.sh setup");
    assert!(
        javac.status.success(),
        "{}",
        String::from_utf8_lossy(&javac.stderr)
    );
    let server = server(dir.path());
    let mut command = Command::new("java");
    command
        .arg("-cp")
        .arg(format!(
            "/usr/share/java/postgresql.jar:{}",
            classes.display()
        ))
        .arg("Scenario")
        .arg(server.pg.port().to_string())
        .arg(PASSWORD);
    run(command, "pgjdbc");
}
