//! Ordered, byte-level key-value storage: the narrow trait the engine is built on, and its
//! backends. Which backends exist is decided per target by `cfg-if`: RocksDB natively (feature
//! `rocksdb`), redb and the in-memory map everywhere, WebAssembly included.

mod config;
mod key;
mod memory;
mod redb;
#[cfg(test)]
mod tests;

use std::ops::Bound;

use crate::Result;

pub use self::config::{RocksDbOptions, StorageConfig, StorageKind};
pub use self::key::{Key, KeyPrefix};
pub use self::memory::MemoryStorage;
pub use self::redb::RedbStorage;

cfg_if::cfg_if! {
    if #[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))] {
        mod rocksdb;
        pub use self::rocksdb::RocksDbStorage;
    }
}

/// A key-value pair as stored.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An ordered scan: entries in ascending key order.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<Entry>> + 'a>;

/// Ordered key-value storage. Keys compare as byte strings (memcomparable).
///
/// Implementations make each [`Storage::write`] atomic: after a crash either every operation of
/// a batch is present or none is. With `sync` set, the batch is durable when `write` returns.
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// A short name for logs and errors ("rocksdb", "redb", "memory").
    fn name(&self) -> &'static str;

    /// The value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Applies every operation of `batch` atomically, in order; durable on return when `sync`.
    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()>;

    /// The entries whose keys fall in `[start, end)` bounds, in ascending key order.
    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Scan<'_>>;

    /// Makes every completed write durable.
    fn sync(&self) -> Result<()>;
}

/// One operation of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}

/// Puts and deletes applied together by [`Storage::write`]; later operations on the same key win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Put {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    pub fn delete(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(WriteOp::Delete { key: key.into() });
        self
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    pub fn into_ops(self) -> Vec<WriteOp> {
        self.ops
    }
}

/// Every entry whose key starts with `prefix`, in key order.
pub fn scan_prefix<'a>(storage: &'a dyn Storage, prefix: &[u8]) -> Result<Scan<'a>> {
    let end = crate::encoding::prefix_end(prefix);
    let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    storage.scan(Bound::Included(prefix), end)
}

/// Converts borrowed bounds into owned ones (for backends whose iterators must own them).
fn owned_bound(bound: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(key) => Bound::Included(key.to_vec()),
        Bound::Excluded(key) => Bound::Excluded(key.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}
