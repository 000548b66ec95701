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

/// One operation of a [`WriteBatch`], borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp<'a> {
    Put {
        key: &'a [u8],
        value: &'a [u8],
    },
    Delete {
        key: &'a [u8],
    },
    /// Deletes every key in `[start, end)` (`start < end`).
    DeleteRange {
        start: &'a [u8],
        end: &'a [u8],
    },
}

/// Puts and deletes applied together by [`Storage::write`]; later operations on the same key win.
///
/// The operations are laid out one after another in one buffer — a tag byte, then the key and
/// (for a put) the value, each after its length — so that a batch of a million rows is one
/// allocation rather than two per row, and a row can be encoded straight into it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    data: Vec<u8>,
    len: usize,
}

const PUT: u8 = 1;
const DELETE: u8 = 0;
const DELETE_RANGE: u8 = 2;
const LENGTH: usize = std::mem::size_of::<u64>();

impl WriteBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `bytes` of encoded operations.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            data: Vec::with_capacity(bytes),
            len: 0,
        }
    }

    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.put_encoded(
            |out| out.extend_from_slice(key.as_ref()),
            |out| out.extend_from_slice(value.as_ref()),
        )
    }

    /// A put whose key and value `key` and `value` append to the buffer they are given.
    pub fn put_encoded(
        &mut self,
        key: impl FnOnce(&mut Vec<u8>),
        value: impl FnOnce(&mut Vec<u8>),
    ) -> &mut Self {
        self.data.push(PUT);
        self.append(key);
        self.append(value);
        self.len += 1;
        self
    }

    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.data.push(DELETE);
        self.append(|out| out.extend_from_slice(key.as_ref()));
        self.len += 1;
        self
    }

    /// Deletes every key with `prefix`, as one operation: a table's rows or an index's
    /// entries dropped without reading them first (RocksDB stores one range tombstone
    /// instead of one per key).
    pub fn delete_prefix(&mut self, prefix: &KeyPrefix) -> &mut Self {
        let (start, end) = prefix.range();
        self.delete_range(&start, &end)
    }

    /// Deletes every key in `[start, end)`; nothing if `start >= end`.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> &mut Self {
        if start < end {
            self.data.push(DELETE_RANGE);
            self.append(|out| out.extend_from_slice(start));
            self.append(|out| out.extend_from_slice(end));
            self.len += 1;
        }
        self
    }

    /// Appends what `write` writes, after its length.
    fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let at = self.data.len();
        self.data.extend_from_slice(&[0; LENGTH]);
        write(&mut self.data);
        let written = (self.data.len() - at - LENGTH) as u64;
        self.data[at..at + LENGTH].copy_from_slice(&written.to_le_bytes());
    }

    /// Appends `other`'s operations after this batch's.
    pub fn extend(&mut self, other: &WriteBatch) -> &mut Self {
        self.data.extend_from_slice(&other.data);
        self.len += other.len;
        self
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of every key and value in the batch (and a few per operation).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The operations, in the order they were added.
    pub fn ops(&self) -> impl Iterator<Item = WriteOp<'_>> + '_ {
        let mut rest = self.data.as_slice();
        std::iter::from_fn(move || {
            let (&tag, after) = rest.split_first()?;
            rest = after;
            let key = take(&mut rest);
            Some(match tag {
                PUT => WriteOp::Put {
                    key,
                    value: take(&mut rest),
                },
                DELETE_RANGE => WriteOp::DeleteRange {
                    start: key,
                    end: take(&mut rest),
                },
                _ => WriteOp::Delete { key },
            })
        })
    }
}

/// The next length-prefixed part of a batch's buffer (which only `WriteBatch` writes).
fn take<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let (length, after) = rest.split_at(LENGTH);
    let mut bytes = [0; LENGTH];
    bytes.copy_from_slice(length);
    let (part, after) = after.split_at(u64::from_le_bytes(bytes) as usize);
    *rest = after;
    part
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
