//! Starts `omendb-server` on free loopback ports for a test and stops it when dropped.
#![allow(dead_code)] // each test file uses a part of it

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub pg: SocketAddr,
    pub http: SocketAddr,
}

impl Server {
    /// Starts the server with its data in `data_dir`; port 0 lets the OS pick free ports, which
    /// the server prints before serving.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Server {
        Self::start_with_env(data_dir, extra_args, &[])
    }

    /// [`Server::start`] with environment variables. Without an `--auth` argument the server
    /// trusts every (loopback) client, so tests need no passwords unless they test them.
    pub fn start_with_env(data_dir: &Path, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let trust: &[&str] = if extra_args.contains(&"--auth") {
            &[]
        } else {
            &["--auth", "trust"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
            .env_remove("OMENDB_ADMIN_PASSWORD")
            .envs(env.iter().copied())
            .args(trust)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(["--log-level", "warn"])
            .args(extra_args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn omendb-server");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut addr_after = |prefix: &str| -> SocketAddr {
            let line = lines
                .next()
                .expect("server exited before printing its addresses")
                .expect("read server stdout");
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("unexpected server output {line:?}"))
                .parse()
                .expect("socket address")
        };
        let pg = addr_after("pgwire listening on ");
        let http = addr_after("http listening on ");
        Server { child, pg, http }
    }
}

impl Server {
    /// A tokio-postgres client on the server (its connection driven by a spawned task).
    pub async fn connect(&self) -> tokio_postgres::Client {
        let config = format!("host=127.0.0.1 port={} user=alice", self.pg.port());
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .expect("connect to omendb-server");
        tokio::spawn(connection);
        client
    }
}

impl Server {
    /// SIGKILL: the server stops at once, as in a crash.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for the server to exit; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        self.child.wait().expect("wait for the server")
    }
}

/// One HTTP/1.1 request: the status, the response's head (status line and headers) and body.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the HTTP port");
    let headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response[9..12].parse().expect("a status code");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_owned(), body.to_owned())
}

/// A GET (with an Authorization header, if given): the status and the body.
pub fn http_get_as(addr: SocketAddr, path: &str, authorization: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    let (status, _, body) = http_request(addr, "GET", path, &headers, "");
    (status, body)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A POST with a JSON body (and an Authorization header, if given): the status and the
/// JSON answer.
pub fn http_post_as(
    addr: SocketAddr,
    path: &str,
    body: &str,
    authorization: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(authorization.map(|a| ("Authorization", a)));
    let (status, _, body) = http_request(addr, "POST", path, &headers, body);
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

/// [`http_post_as`] without credentials.
pub fn http_post(addr: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    http_post_as(addr, path, body, None)
}

/// Runs psql (no ~/.psqlrc, stop at the first error) as `user` on the server with `script` on
/// its standard input and `args` added; returns its output.
pub fn psql(
    server: &Server,
    user: &str,
    password: Option<&str>,
    args: &[&str],
    script: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut command = Command::new("psql");
    command
        .args(["-h", "127.0.0.1", "-p", &server.pg.port().to_string()])
        .args([
            "-U",
            user,
            "-d",
            "omendb",
            "-X",
            "-w",
            "-v",
            "ON_ERROR_STOP=1",
        ])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    command
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("piped stdin")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("psql is installed by scripts/dev.sh setup")
}
