//! TLS: with a certificate and key the server negotiates TLS with psql (`sslmode=require`),
//! still takes plain connections unless `--require-tls`, and refuses bad key files at start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::path::Path;
use std::process::Command;

use common::Server;

/// A self-signed certificate for localhost (openssl is installed by scripts/dev.sh setup).
fn certificate(dir: &Path) -> (String, String) {
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed by scripts/dev.sh setup");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    (
        cert.to_str().unwrap().to_owned(),
        key.to_str().unwrap().to_owned(),
    )
}

fn psql(server: &Server, sslmode: &str) -> std::process::Output {
    Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={} user=alice dbname=omendb sslmode={sslmode}",
            server.pg.port()
        ))
        .args(["-X", "-A", "-t", "-c", "SELECT 1"])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed by scripts/dev.sh setup")
}

#[test]
fn psql_negotiates_tls_and_plain_connections_are_optional() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(dir.path());
    let server = Server::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    );
    for sslmode in ["require", "disable"] {
        let out = psql(&server, sslmode);
        assert!(
            out.status.success(),
            "{sslmode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    }
    drop(server);

    let server = Server::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--require-tls",
        ],
    );
    let out = psql(&server, "require");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = psql(&server, "disable");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only TLS connections"), "{stderr}");
}

#[test]
fn a_bad_key_file_fails_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = certificate(dir.path());
    let bogus = dir.path().join("bogus.key");
    std::fs::write(&bogus, "not a key").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
        .args([
            "--storage",
            "memory",
            "--auth",
            "trust",
            "--tls-cert",
            &cert,
            "--tls-key",
        ])
        .arg(&bogus)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bogus.key"), "{stderr}");
}
