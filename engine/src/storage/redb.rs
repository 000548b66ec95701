use std::ops::Bound;
use std::path::Path;

use ::redb::backends::InMemoryBackend;
use ::redb::{Database, Durability, TableDefinition};

use super::{Scan, Storage, WriteBatch, WriteOp};
use crate::{Error, Result};

/// All of OmenDB's keys live in one redb table; the key layout keeps them apart.
const DATA: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("omendb");

/// Storage in a redb database: a single file natively, or redb's in-memory backend (the
/// WebAssembly default, where there is no file system).
#[derive(Debug)]
pub struct RedbStorage {
    db: Database,
}

fn storage_error(e: impl std::fmt::Display) -> Error {
    Error::Storage {
        backend: "redb",
        message: e.to_string(),
    }
}

impl RedbStorage {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::init(Database::create(path).map_err(storage_error)?)
    }

    /// A fresh database held in memory.
    pub fn in_memory() -> Result<Self> {
        let db = Database::builder()
            .create_with_backend(InMemoryBackend::new())
            .map_err(storage_error)?;
        Self::init(db)
    }

    /// Creates the data table, so that readers never meet a missing table.
    fn init(db: Database) -> Result<Self> {
        let txn = db.begin_write().map_err(storage_error)?;
        txn.open_table(DATA).map_err(storage_error)?;
        txn.commit().map_err(storage_error)?;
        Ok(Self { db })
    }
}

impl Storage for RedbStorage {
    fn name(&self) -> &'static str {
        "redb"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(DATA).map_err(storage_error)?;
        let value = table.get(key).map_err(storage_error)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(storage_error)?;
        // Eventual durability still commits atomically; it only skips the fsync.
        txn.set_durability(if sync {
            Durability::Immediate
        } else {
            Durability::Eventual
        });
        {
            let mut table = txn.open_table(DATA).map_err(storage_error)?;
            for op in batch.ops() {
                match op {
                    WriteOp::Put { key, value } => {
                        table.insert(key, value).map_err(storage_error)?;
                    }
                    WriteOp::Delete { key } => {
                        table.remove(key).map_err(storage_error)?;
                    }
                    WriteOp::DeleteRange { start, end } => {
                        table
                            .retain_in(start..end, |_, _| false)
                            .map_err(storage_error)?;
                    }
                }
            }
        }
        txn.commit().map_err(storage_error)
    }

    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Scan<'_>> {
        let txn = self.db.begin_read().map_err(storage_error)?;
        let table = txn.open_table(DATA).map_err(storage_error)?;
        // A reference-counted range: it keeps its read transaction (a snapshot) alive.
        let range = table.range::<&[u8]>((start, end)).map_err(storage_error)?;
        Ok(Box::new(range.map(|item| {
            item.map(|(k, v)| (k.value().to_vec(), v.value().to_vec()))
                .map_err(storage_error)
        })))
    }

    fn sync(&self) -> Result<()> {
        // An empty immediate-durability commit flushes every earlier eventual commit.
        self.write(WriteBatch::new(), true)
    }
}
