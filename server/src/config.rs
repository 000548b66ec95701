use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use omendb_engine::storage::{StorageConfig, StorageKind};

/// OmenDB: a PostgreSQL-compatible database with a learned primary index.
#[derive(Debug, Parser)]
#[command(name = "omendb-server", version, about)]
pub struct Args {
    /// Address for PostgreSQL clients (pgwire).
    #[arg(long, default_value = "127.0.0.1:5433", env = "OMENDB_LISTEN")]
    pub listen: SocketAddr,

    /// Address for the HTTP API and the web console.
    #[arg(long, default_value = "127.0.0.1:8080", env = "OMENDB_HTTP_LISTEN")]
    pub http_listen: SocketAddr,

    /// Directory holding the database files (created if missing).
    #[arg(long, default_value = "./omendb-data", env = "OMENDB_DATA_DIR")]
    pub data_dir: PathBuf,

    /// Storage backend: rocksdb (native default), redb or memory (nothing is kept).
    #[arg(long, env = "OMENDB_STORAGE")]
    pub storage: Option<String>,

    /// Directory of the built web console, served at `/`.
    #[arg(long, default_value = "web-console/dist", env = "OMENDB_CONSOLE_DIR")]
    pub console_dir: PathBuf,

    /// Log filter, e.g. `info`, `debug`, `omendb_server=trace`.
    #[arg(long, default_value = "info", env = "OMENDB_LOG")]
    pub log_level: String,
}

impl Args {
    pub fn storage_config(&self) -> omendb_engine::Result<StorageConfig> {
        let kind = match &self.storage {
            Some(name) => name.parse()?,
            None => StorageKind::default_for_build(),
        };
        let data_dir = (kind != StorageKind::Memory).then(|| self.data_dir.clone());
        Ok(StorageConfig::new(kind, data_dir))
    }
}
