//! Authentication: SCRAM-SHA-256 against the catalog's roles (the default), the first user's
//! bootstrap, failures that all look alike (28P01), and trust mode kept to loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::process::Command;

use common::Server;
use tokio_postgres::error::SqlState;

async fn connect(
    server: &Server,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let config = format!(
        "host=127.0.0.1 port={} user={user} password='{password}' dbname=omendb",
        server.pg.port()
    );
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn current_user(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn scram_logins_with_catalog_roles() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", "s3cret!")],
    );
    let admin = connect(&server, "omendb", "s3cret!").await.unwrap();
    assert_eq!(current_user(&admin).await, "omendb");

    // A wrong password and an unknown user get the same error.
    for (user, password) in [("omendb", "wrong"), ("nobody", "s3cret!")] {
        let err = connect(&server, user, password).await.err().unwrap();
        let db = err.as_db_error().expect("a server error");
        assert_eq!(db.code(), &SqlState::INVALID_PASSWORD, "{user}");
        assert_eq!(
            db.message(),
            format!("password authentication failed for user \"{user}\"")
        );
    }

    admin
        .batch_execute(
            "CREATE USER alice WITH PASSWORD 'wonderland'; CREATE ROLE nologin PASSWORD 'x'",
        )
        .await
        .unwrap();
    let alice = connect(&server, "alice", "wonderland").await.unwrap();
    assert_eq!(current_user(&alice).await, "alice");
    // A role without LOGIN cannot log in, whatever its password.
    let err = connect(&server, "nologin", "x").await.err().unwrap();
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));
    // Alice is no superuser, but she may change her own password.
    let err = alice
        .batch_execute("CREATE ROLE mallory")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    alice
        .batch_execute("ALTER USER alice PASSWORD 'looking glass'")
        .await
        .unwrap();
    assert!(connect(&server, "alice", "wonderland").await.is_err());
    let again = connect(&server, "alice", "looking glass").await.unwrap();
    assert_eq!(current_user(&again).await, "alice");
    // Verifiers, not passwords, are what the catalog keeps; dropped roles cannot log in.
    admin.batch_execute("DROP USER alice").await.unwrap();
    assert!(connect(&server, "alice", "looking glass").await.is_err());
}

#[tokio::test]
async fn the_first_start_creates_an_admin_with_a_generated_password() {
    let dir = tempfile::tempdir().unwrap();
    let password = {
        let server = Server::start(dir.path(), &["--storage", "redb", "--auth", "scram"]);
        let file = dir.path().join("initial-admin-password");
        let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
        assert!(password.len() >= 20, "a long random password");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let admin = connect(&server, "omendb", &password).await.unwrap();
        assert_eq!(current_user(&admin).await, "omendb");
        password
    };
    // The role is in the catalog: after a restart the same password works.
    let server = Server::start(dir.path(), &["--storage", "redb", "--auth", "scram"]);
    connect(&server, "omendb", &password).await.unwrap();
}

#[test]
fn psql_logs_in_with_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", "pw for psql")],
    );
    let psql = |password: &str| {
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string()])
            .args(["-U", "omendb", "-d", "omendb", "-X", "-A", "-t", "-w"])
            .args(["-c", "SELECT current_user"])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql is installed by scripts/dev.sh setup")
    };
    let ok = psql("pw for psql");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "omendb");
    let bad = psql("nope");
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("authentication failed"), "{stderr}");
}

#[test]
fn trust_mode_is_refused_off_loopback() {
    let output = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
        .args(["--storage", "memory", "--auth", "trust"])
        .args(["--listen", "0.0.0.0:0", "--http-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth trust"), "{stderr}");
}

#[test]
fn the_http_api_takes_basic_credentials() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", "http pw")],
    );
    let basic = |user: &str, password: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}")
    };
    let body = r#"{"sql": "SELECT current_user"}"#;
    let (status, answer) = common::http_post_as(server.http, "/api/query", body, None);
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["sqlstate"], "28000");
    let wrong = basic("omendb", "nope");
    let (status, answer) = common::http_post_as(server.http, "/api/query", body, Some(&wrong));
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["sqlstate"], "28P01");
    let right = basic("omendb", "http pw");
    let (status, answer) = common::http_post_as(server.http, "/api/query", body, Some(&right));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["rows"][0][0], "omendb");
}

#[test]
fn the_http_api_trades_a_password_for_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_env(
        dir.path(),
        &["--storage", "memory", "--auth", "scram"],
        &[("OMENDB_ADMIN_PASSWORD", "token pw")],
    );
    let login = |user: &str, password: &str| {
        let body = serde_json::json!({"user": user, "password": password}).to_string();
        common::http_post(server.http, "/api/login", &body)
    };
    let (status, answer) = login("omendb", "nope");
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["sqlstate"], "28P01");
    let (status, answer) = login("nobody", "token pw");
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["sqlstate"], "28P01");

    let (status, answer) = login("omendb", "token pw");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["expires_in"], 12 * 3600);
    let bearer = format!("Bearer {}", answer["token"].as_str().unwrap());
    let query = |sql: &str, authorization: &str| {
        let body = serde_json::json!({ "sql": sql }).to_string();
        common::http_post_as(server.http, "/api/query", &body, Some(authorization))
    };
    let (status, answer) = query("SELECT current_user", &bearer);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["results"][0]["rows"][0][0], "omendb");
    let (status, _) = common::http_get_as(server.http, "/metrics", Some(&bearer));
    assert_eq!(status, 200);

    // A forged token is refused like a missing one.
    let (status, answer) = query("SELECT 1", "Bearer AAAA");
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["sqlstate"], "28000");

    // Only refusals of Basic (or no) credentials challenge: a browser meets a challenge with its
    // own password dialog, which a page logging in or holding a token must never trigger.
    let challenged = |path: &str, headers: &[(&str, &str)], body: &str| {
        let (status, head, _) = common::http_request(server.http, "POST", path, headers, body);
        assert_eq!(status, 401, "{head}");
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic")
    };
    let json = ("Content-Type", "application/json");
    let wrong_login = r#"{"user": "omendb", "password": "nope"}"#;
    assert!(!challenged("/api/login", &[json], wrong_login));
    assert!(!challenged(
        "/api/query",
        &[json, ("Authorization", "Bearer AAAA")],
        "{}"
    ));
    assert!(challenged("/api/query", &[json], r#"{"sql": "SELECT 1"}"#));

    // Logging out ends the token.
    let (status, _, _) = common::http_request(
        server.http,
        "POST",
        "/api/logout",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 204);
    let (status, _) = query("SELECT 1", &bearer);
    assert_eq!(status, 401);

    // So does a new password.
    let (_, answer) = login("omendb", "token pw");
    let bearer = format!("Bearer {}", answer["token"].as_str().unwrap());
    let (status, answer) = query("ALTER USER omendb PASSWORD 'changed'", &bearer);
    assert_eq!(status, 200, "{answer}");
    let (status, _) = query("SELECT 1", &bearer);
    assert_eq!(status, 401);
    let (status, _) = login("omendb", "changed");
    assert_eq!(status, 200);
}

#[test]
fn other_origins_may_call_the_api_only_when_allowed() {
    let preflight = |server: &Server, origin: &str| {
        let (status, head, _) = common::http_request(
            server.http,
            "OPTIONS",
            "/api/query",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
            "",
        );
        let allowed = head.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("access-control-allow-origin: ")
                .map(str::to_owned)
        });
        (status, allowed)
    };
    let dir = tempfile::tempdir().unwrap();
    let closed = Server::start(dir.path(), &["--storage", "memory"]);
    assert_eq!(preflight(&closed, "http://console.example").1, None);

    let dir = tempfile::tempdir().unwrap();
    let open = Server::start(
        dir.path(),
        &[
            "--storage",
            "memory",
            "--cors-origin",
            "http://console.example,http://other.example",
        ],
    );
    let (status, allowed) = preflight(&open, "http://console.example");
    assert_eq!(status, 200);
    assert_eq!(allowed.as_deref(), Some("http://console.example"));
    assert_eq!(preflight(&open, "http://evil.example").1, None);
    // The answer itself carries the header for an allowed origin.
    let (status, head, _) = common::http_request(
        open.http,
        "POST",
        "/api/query",
        &[
            ("Origin", "http://other.example"),
            ("Content-Type", "application/json"),
        ],
        r#"{"sql": "SELECT 1"}"#,
    );
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: http://other.example"),
        "{head}"
    );
}
