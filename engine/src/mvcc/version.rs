//! What the primary index maps each key to: the newest committed version's timestamp, and the
//! older versions that some snapshot may still read.

use std::sync::atomic::{AtomicBool, Ordering};

use thin_vec::ThinVec;

use crate::types::{SharedRow, row_memory_size};

/// The entry of one primary key. The newest committed version's row lives in storage (and
/// perhaps the row cache); older versions live here, newest first, until garbage collection.
#[derive(Debug, Default)]
pub(crate) struct RowEntry {
    /// Commit timestamp of the newest committed version.
    pub ts: u64,
    /// Whether the newest committed version is a deletion.
    pub deleted: bool,
    /// Older versions, newest first; empty (and unallocated) until an update or delete
    /// creates one. One word: the primary index holds an entry in every slot, gaps included,
    /// and a boxed slice's second word made each slot 56 bytes instead of 48.
    pub chain: ThinVec<Version>,
    /// The row cache's copy of the newest committed version (see `crate::cache`).
    pub cached: Option<SharedRow>,
    /// Set by cache hits; cleared when eviction gives the row a second chance.
    referenced: AtomicBool,
    /// Which of the row cache's LRU records holds `cached` (see `crate::cache`): a number
    /// given at admission, so that a queued eviction knows whether it removed this row's
    /// record or an older one of the same key. In the entry's padding: no extra bytes.
    pub cache_record: u32,
}

/// A superseded version: the row as of `ts` (`None`: the key was deleted at `ts`).
#[derive(Debug)]
pub(crate) struct Version {
    pub ts: u64,
    pub row: Option<SharedRow>,
}

/// Which version of a key a snapshot sees.
#[derive(Debug)]
pub(crate) enum Visibility {
    /// No version: inserted after the snapshot, or deleted at or before it.
    Absent,
    /// The newest committed version, with that timestamp: read it from the cache or storage.
    Current(u64),
    /// An older version, held in memory.
    Old(SharedRow),
}

impl Visibility {
    pub fn is_present(&self) -> bool {
        !matches!(self, Visibility::Absent)
    }
}

/// Versions and bytes that garbage collection released.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Released {
    pub versions: usize,
    pub bytes: usize,
}

impl RowEntry {
    pub fn live(ts: u64) -> Self {
        Self {
            ts,
            ..Self::default()
        }
    }

    pub fn mark_referenced(&self) {
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    pub fn take_referenced(&mut self) -> bool {
        std::mem::take(self.referenced.get_mut())
    }

    /// The version a snapshot taken at `snapshot` sees: the newest with `ts <= snapshot`.
    pub fn visible(&self, snapshot: u64) -> Visibility {
        if self.ts <= snapshot {
            return if self.deleted {
                Visibility::Absent
            } else {
                Visibility::Current(self.ts)
            };
        }
        match self.chain.iter().find(|v| v.ts <= snapshot) {
            Some(Version { row: Some(row), .. }) => Visibility::Old(row.clone()),
            _ => Visibility::Absent,
        }
    }

    /// Whether the newest committed version is a live row.
    pub fn is_live(&self) -> bool {
        !self.deleted
    }

    /// Makes a new committed version current, keeping the previous one (`previous` is its row,
    /// `None` if it was a deletion) for older snapshots. Returns the bytes retained.
    pub fn supersede(&mut self, ts: u64, deleted: bool, previous: Option<SharedRow>) -> usize {
        let bytes = previous.as_deref().map_or(0, row_memory_size);
        let version = Version {
            ts: self.ts,
            row: previous,
        };
        self.chain.insert(0, version);
        self.ts = ts;
        self.deleted = deleted;
        bytes
    }

    /// Drops every version no snapshot at or after `watermark` can read. Returns what was
    /// released and whether the whole entry can go (a deletion older than every snapshot).
    pub fn prune(&mut self, watermark: u64) -> (Released, bool) {
        let mut released = Released::default();
        let keep = if self.ts <= watermark {
            0
        } else {
            // Keep every version newer than the watermark and the one the watermark reads.
            let chain = &self.chain;
            chain
                .iter()
                .position(|v| v.ts <= watermark)
                .map_or(chain.len(), |i| i + 1)
        };
        if keep < self.chain.len() {
            for version in self.chain.drain(keep..) {
                released.versions += 1;
                released.bytes += version.row.as_deref().map_or(0, row_memory_size);
            }
            if self.chain.is_empty() {
                // Frees the allocation, which an emptied vector keeps.
                self.chain = ThinVec::new();
            }
        }
        let gone = self.deleted && self.ts <= watermark && self.chain.is_empty();
        (released, gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Value;

    fn row(v: i64) -> Option<SharedRow> {
        Some(SharedRow::from(vec![Value::Int(v)]))
    }

    fn seen(entry: &RowEntry, snapshot: u64) -> Option<i64> {
        match entry.visible(snapshot) {
            Visibility::Absent => None,
            Visibility::Current(_) => Some(-1),
            Visibility::Old(row) => match row[0] {
                Value::Int(v) => Some(v),
                _ => None,
            },
        }
    }

    #[test]
    fn snapshots_see_the_newest_version_at_or_before_them() {
        let mut entry = RowEntry::live(2); // inserted at 2 with value 20
        entry.supersede(5, false, row(20)); // updated at 5
        entry.supersede(8, true, row(50)); // deleted at 8
        assert_eq!(seen(&entry, 1), None);
        assert_eq!(seen(&entry, 2), Some(20));
        assert_eq!(seen(&entry, 4), Some(20));
        assert_eq!(seen(&entry, 5), Some(50));
        assert_eq!(seen(&entry, 8), None);
        assert!(matches!(entry.visible(9), Visibility::Absent));

        // A snapshot at 6 still needs the version of 5; nothing older.
        let (released, gone) = entry.prune(6);
        assert_eq!((released.versions, gone), (1, false));
        assert_eq!(seen(&entry, 6), Some(50));
        let (released, gone) = entry.prune(8);
        assert_eq!((released.versions, gone), (1, true));
    }

    #[test]
    fn an_entry_is_five_words() {
        // The primary index holds one per key, next to the key, with gaps: every word counts.
        assert_eq!(std::mem::size_of::<RowEntry>(), 40);
    }

    #[test]
    fn current_versions_are_read_from_storage() {
        let mut entry = RowEntry::live(3);
        entry.supersede(4, false, row(30));
        assert!(matches!(entry.visible(4), Visibility::Current(4)));
        assert_eq!(entry.prune(4).0.versions, 1);
        assert!(entry.chain.is_empty());
    }
}
