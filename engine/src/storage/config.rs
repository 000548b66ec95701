use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use super::{MemoryStorage, RedbStorage, Storage};
use crate::{Error, Result};

/// The storage backends a user can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// RocksDB in a directory: the native default (feature `rocksdb`).
    RocksDb,
    /// redb in one file, or in memory when no data directory is given.
    Redb,
    /// A `BTreeMap`: nothing is written anywhere.
    Memory,
}

impl StorageKind {
    /// The backend used when the user names none: RocksDB where it is compiled in, else redb.
    pub fn default_for_build() -> Self {
        if cfg!(all(feature = "rocksdb", not(target_arch = "wasm32"))) {
            StorageKind::RocksDb
        } else {
            StorageKind::Redb
        }
    }
}

impl fmt::Display for StorageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageKind::RocksDb => "rocksdb",
            StorageKind::Redb => "redb",
            StorageKind::Memory => "memory",
        })
    }
}

impl FromStr for StorageKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rocksdb" => Ok(StorageKind::RocksDb),
            "redb" => Ok(StorageKind::Redb),
            "memory" => Ok(StorageKind::Memory),
            other => Err(Error::Config(format!(
                "unknown storage backend {other:?}: expected rocksdb, redb or memory"
            ))),
        }
    }
}

/// RocksDB tuning, with defaults sized for a small server.
#[derive(Debug, Clone)]
pub struct RocksDbOptions {
    /// Shared block cache for data, index and filter blocks, in bytes.
    pub block_cache_bytes: usize,
    /// Memtable size before a flush, in bytes. Small: every write inserts into the memtable's
    /// skip list, whose search misses the CPU cache at each level once the list outgrows it
    /// (4 MiB instead of 16 MiB: a 1M-row table's updates by random key 5.4 → 4.9 µs and
    /// deletes 4.9 → 4.6 µs each, bulk-load commits ~7% faster; scratch driver, side by side).
    pub write_buffer_bytes: usize,
    /// Bloom filter bits per key (point lookups skip files that cannot hold the key).
    pub bloom_bits_per_key: f64,
    /// Old write-ahead log files kept to be overwritten by new logs instead of deleted.
    /// An fdatasync after an append to a fresh file must also journal the inode's new size
    /// and extents, which doubled the cost of a synchronous commit here (an 8 KiB synchronous
    /// write: 213 µs appending, 95 µs overwriting; PostgreSQL recycles its WAL segments for
    /// the same reason); but each kept file holds the space of the log it was, a large
    /// transaction's included. `None`: 2 for a database whose commits sync by default, else 0
    /// (see `Database::open`).
    pub recycled_log_files: Option<usize>,
    /// Background flush and compaction threads.
    pub background_jobs: i32,
    /// A write of at least this many bytes (a bulk load's commit) becomes a table file that
    /// RocksDB takes in whole, instead of passing through the write-ahead log and the memtable
    /// and being written again by a flush.
    pub ingest_from_bytes: usize,
    /// Threads that write one ingestion's table files, each file a slice of its keys (and
    /// of at least `ingest_from_bytes`). One writer left a bulk load's commit waiting for
    /// it: the file's compression and index building took longer than every in-memory
    /// install beside it.
    pub ingest_writers: usize,
}

impl Default for RocksDbOptions {
    fn default() -> Self {
        Self {
            block_cache_bytes: 128 << 20,
            write_buffer_bytes: 4 << 20,
            bloom_bits_per_key: 10.0,
            recycled_log_files: None,
            background_jobs: 2,
            ingest_from_bytes: 16 << 20,
            ingest_writers: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
        }
    }
}

/// Where and how to open storage.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub kind: StorageKind,
    /// The data directory; `None` keeps redb in memory. Required for RocksDB.
    pub data_dir: Option<PathBuf>,
    /// RocksDB's tuning (ignored by the other backends).
    pub rocksdb: RocksDbOptions,
}

impl StorageConfig {
    /// The given backend in `data_dir`, with default tuning.
    pub fn new(kind: StorageKind, data_dir: Option<PathBuf>) -> Self {
        Self {
            kind,
            data_dir,
            rocksdb: RocksDbOptions::default(),
        }
    }
}

impl StorageConfig {
    /// Opens the configured backend, creating the data directory if needed.
    pub fn open(&self) -> Result<Arc<dyn Storage>> {
        if let Some(dir) = &self.data_dir {
            create_dir(dir)?;
        }
        match (self.kind, &self.data_dir) {
            (StorageKind::Memory, _) => Ok(Arc::new(MemoryStorage::new())),
            (StorageKind::Redb, None) => Ok(Arc::new(RedbStorage::in_memory()?)),
            (StorageKind::Redb, Some(dir)) => {
                Ok(Arc::new(RedbStorage::open(dir.join("omendb.redb"))?))
            }
            (StorageKind::RocksDb, dir) => open_rocksdb(dir.as_deref(), &self.rocksdb),
        }
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Config(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

cfg_if::cfg_if! {
    if #[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))] {
        fn open_rocksdb(dir: Option<&Path>, options: &RocksDbOptions) -> Result<Arc<dyn Storage>> {
            let dir = dir.ok_or_else(|| {
                Error::Config("the rocksdb backend needs a data directory".into())
            })?;
            Ok(Arc::new(super::RocksDbStorage::open(dir.join("rocksdb"), options)?))
        }
    } else {
        fn open_rocksdb(_dir: Option<&Path>, _options: &RocksDbOptions) -> Result<Arc<dyn Storage>> {
            Err(Error::NotSupported(
                "this build of OmenDB has no RocksDB backend (feature `rocksdb`)".into(),
            ))
        }
    }
}
