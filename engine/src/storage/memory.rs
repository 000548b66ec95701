use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::{Entry, Scan, Storage, WriteBatch, WriteOp, owned_bound};
use crate::{Error, Result};

/// Entries copied out per lock acquisition while scanning.
const SCAN_CHUNK: usize = 256;

/// Storage in a `BTreeMap`: nothing survives the process. The reference model that the other
/// backends are tested against, and a backend for tests and throwaway databases.
#[derive(Default, Clone)]
pub struct MemoryStorage {
    map: Arc<RwLock<BTreeMap<Vec<u8>, Vec<u8>>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn poisoned() -> Error {
        Error::Storage {
            backend: "memory",
            message: "a writer panicked while holding the map lock".into(),
        }
    }
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.map.read().map(|map| map.len()).ok();
        f.debug_struct("MemoryStorage")
            .field("entries", &entries)
            .finish()
    }
}

impl Storage for MemoryStorage {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let map = self.map.read().map_err(|_| Self::poisoned())?;
        Ok(map.get(key).cloned())
    }

    fn write(&self, batch: WriteBatch, _sync: bool) -> Result<()> {
        let mut map = self.map.write().map_err(|_| Self::poisoned())?;
        for op in batch.ops() {
            match op {
                WriteOp::Put { key, value } => {
                    map.insert(key.to_vec(), value.to_vec());
                }
                WriteOp::Delete { key } => {
                    map.remove(key);
                }
                WriteOp::DeleteRange { start, end } => {
                    let doomed: Vec<Vec<u8>> = map
                        .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)))
                        .map(|(key, _)| key.clone())
                        .collect();
                    for key in doomed {
                        map.remove(&key);
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Scan<'_>> {
        Ok(Box::new(MemoryScan {
            storage: self,
            next: owned_bound(start),
            end: owned_bound(end),
            buffer: Vec::new().into_iter(),
            done: false,
        }))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }
}

/// Scans in chunks so that writers are never blocked for the length of a whole scan. Each chunk
/// is consistent; a scan as a whole sees writes that land between chunks (the MVCC layer above
/// decides visibility).
struct MemoryScan<'a> {
    storage: &'a MemoryStorage,
    next: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    buffer: std::vec::IntoIter<Entry>,
    done: bool,
}

impl MemoryScan<'_> {
    fn refill(&mut self) -> Result<()> {
        let map = self
            .storage
            .map
            .read()
            .map_err(|_| MemoryStorage::poisoned())?;
        let chunk: Vec<Entry> = map
            .range::<Vec<u8>, _>((self.next.clone(), self.end.clone()))
            .take(SCAN_CHUNK)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.done = chunk.len() < SCAN_CHUNK;
        if let Some((last, _)) = chunk.last() {
            self.next = Bound::Excluded(last.clone());
        }
        self.buffer = chunk.into_iter();
        Ok(())
    }
}

impl Iterator for MemoryScan<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.buffer.next() {
                return Some(Ok(entry));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.refill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}
