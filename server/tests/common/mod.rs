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
        let mut child = Command::new(env!("CARGO_BIN_EXE_omendb-server"))
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
