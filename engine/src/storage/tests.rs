//! Every backend run in lockstep with `MemoryStorage` on random operation sequences.

use std::ops::Bound;

use proptest::prelude::*;

use super::{MemoryStorage, RedbStorage, Storage, WriteBatch, WriteOp};

#[derive(Debug, Clone)]
enum Change {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// `[start, end)`; nothing when `start >= end`.
    DeleteRange(Vec<u8>, Vec<u8>),
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<Change>),
    Get(Vec<u8>),
    Scan(Bound<Vec<u8>>, Bound<Vec<u8>>),
}

/// Short keys over a small alphabet, so that operations collide and prefixes nest.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..4, 0..4)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    crate::test_strategies::bound(key)
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (key(), key()).prop_map(|(k, v)| Change::Put(k, v)),
        2 => key().prop_map(Change::Delete),
        1 => (key(), key()).prop_map(|(start, end)| Change::DeleteRange(start, end)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::collection::vec(change(), 1..6).prop_map(Op::Write),
        1 => key().prop_map(Op::Get),
        1 => (bound(), bound()).prop_map(|(s, e)| Op::Scan(s, e)),
    ]
}

fn as_ref(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// An empty range (start after end) must scan nothing rather than panic.
fn is_valid_range(start: &Bound<Vec<u8>>, end: &Bound<Vec<u8>>) -> bool {
    match (start, end) {
        (Bound::Included(s), Bound::Included(e)) => s <= e,
        (Bound::Included(s) | Bound::Excluded(s), Bound::Excluded(e))
        | (Bound::Excluded(s), Bound::Included(e)) => s < e,
        _ => true,
    }
}

fn check_mirror(backend: &dyn Storage, ops: &[Op]) -> Result<(), TestCaseError> {
    let model = MemoryStorage::new();
    for op in ops {
        match op {
            Op::Write(writes) => {
                let mut batch = WriteBatch::new();
                for change in writes {
                    match change {
                        Change::Put(k, v) => batch.put(k, v),
                        Change::Delete(k) => batch.delete(k),
                        Change::DeleteRange(start, end) => batch.delete_range(start, end),
                    };
                }
                model.write(batch.clone(), false).unwrap();
                backend.write(batch, false).unwrap();
            }
            Op::Get(k) => prop_assert_eq!(backend.get(k).unwrap(), model.get(k).unwrap()),
            Op::Scan(start, end) => {
                if !is_valid_range(start, end) {
                    continue;
                }
                let got: Vec<_> = backend
                    .scan(as_ref(start), as_ref(end))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let want: Vec<_> = model
                    .scan(as_ref(start), as_ref(end))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                prop_assert_eq!(got, want);
            }
        }
    }
    prop_assert_eq!(everything(backend), everything(&model));
    Ok(())
}

/// Every entry `storage` holds, in key order.
fn everything(storage: &dyn Storage) -> Vec<(Vec<u8>, Vec<u8>)> {
    storage
        .scan(Bound::Unbounded, Bound::Unbounded)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn redb_in_memory_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        check_mirror(&RedbStorage::in_memory().unwrap(), &ops)?;
    }

    #[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
    #[test]
    fn rocksdb_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let db = super::RocksDbStorage::open(dir.path(), &Default::default()).unwrap();
        check_mirror(&db, &ops)?;
    }

    /// Every write without a range deletion made into table files (three, for three ops or
    /// more) and ingested: colliding keys within a batch, deletes, and ingestions interleaved
    /// with writes through the log.
    #[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
    #[test]
    fn rocksdb_ingesting_every_write_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let options = super::RocksDbOptions {
            ingest_from_bytes: 0,
            ingest_writers: 3,
            ..Default::default()
        };
        let db = super::RocksDbStorage::open(dir.path(), &options).unwrap();
        check_mirror(&db, &ops)?;
        let before = everything(&db);
        drop(db);
        let db = super::RocksDbStorage::open(dir.path(), &options).unwrap();
        prop_assert_eq!(everything(&db), before);
    }
}

proptest! {
    /// The reference backend's range delete removes exactly the keys in `[start, end)`, as
    /// `BTreeMap::retain` with that predicate does, and later operations of the same batch
    /// apply after it.
    #[test]
    fn memory_range_delete_matches_retain(
        keys in prop::collection::btree_set(key(), 0..30),
        start in key(),
        end in key(),
        after in key(),
    ) {
        let storage = MemoryStorage::new();
        let mut batch = WriteBatch::new();
        let mut model = std::collections::BTreeMap::new();
        for k in &keys {
            batch.put(k, k);
            model.insert(k.clone(), k.clone());
        }
        batch.delete_range(&start, &end).put(&after, b"later");
        model.retain(|k, _| !(start <= *k && *k < end));
        model.insert(after.clone(), b"later".to_vec());
        storage.write(batch, false).unwrap();
        prop_assert_eq!(everything(&storage), model.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn deleting_a_prefix_leaves_its_neighbours() {
    use super::{Key, KeyPrefix};
    let storage = MemoryStorage::new();
    let mut batch = WriteBatch::new();
    for table in [6, 7, 8] {
        for row in [0u8, 0xFF] {
            batch.put(Key::Row(table, &[row, row]).encode(), []);
        }
    }
    storage.write(batch, false).unwrap();
    let mut batch = WriteBatch::new();
    batch.delete_prefix(&KeyPrefix::Rows(7));
    storage.write(batch, false).unwrap();
    let left: Vec<Vec<u8>> = everything(&storage).into_iter().map(|(k, _)| k).collect();
    let expected: Vec<Vec<u8>> = [6, 8]
        .iter()
        .flat_map(|&t| [0u8, 0xFF].map(|r| Key::Row(t, &[r, r]).encode()))
        .collect();
    assert_eq!(left, expected);
}

#[test]
fn memory_scan_crosses_chunk_boundaries() {
    let storage = MemoryStorage::new();
    let mut batch = WriteBatch::new();
    for i in 0u32..1000 {
        batch.put(i.to_be_bytes(), i.to_le_bytes());
    }
    storage.write(batch, false).unwrap();
    let keys: Vec<u32> = storage
        .scan(
            Bound::Excluded(&10u32.to_be_bytes()),
            Bound::Included(&900u32.to_be_bytes()),
        )
        .unwrap()
        .map(|e| u32::from_be_bytes(e.unwrap().0.try_into().unwrap()))
        .collect();
    assert_eq!(keys, (11..=900).collect::<Vec<_>>());
}

#[test]
fn redb_file_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.redb");
    {
        let db = RedbStorage::open(&path).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v");
        db.write(batch, true).unwrap();
    }
    let db = RedbStorage::open(&path).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
#[test]
fn rocksdb_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = super::RocksDbStorage::open(dir.path(), &Default::default()).unwrap();
        let mut batch = WriteBatch::new();
        batch.put(b"k", b"v").delete(b"gone");
        db.write(batch, true).unwrap();
    }
    let db = super::RocksDbStorage::open(dir.path(), &Default::default()).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}

#[test]
fn config_opens_each_backend_and_rejects_unknown_names() {
    use super::{StorageConfig, StorageKind};
    let dir = tempfile::tempdir().unwrap();
    for kind in [
        StorageKind::Memory,
        StorageKind::Redb,
        StorageKind::default_for_build(),
    ] {
        let config = StorageConfig::new(kind, Some(dir.path().join(kind.to_string())));
        let storage = config.open().unwrap();
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1");
        storage.write(batch, true).unwrap();
        assert_eq!(storage.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(kind.to_string().parse::<StorageKind>().unwrap(), kind);
    }
    let err = "postgres".parse::<StorageKind>().unwrap_err();
    assert_eq!(err.sqlstate(), "F0000");
    assert!(err.to_string().contains("postgres"), "{err}");
}

proptest! {
    /// A batch hands back exactly the operations put into it, in order — empty keys and
    /// values, parts written in place, and a second batch's operations appended to it
    /// (from `split` on) included.
    #[test]
    fn batches_keep_their_operations_in_order(
        ops in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..40), prop::option::of(prop::collection::vec(any::<u8>(), 0..300))), 0..60),
        split in 0..70usize,
    ) {
        // Every third operation without a value is a range delete from its key to the key
        // with one more byte (never empty).
        let end = |key: &[u8]| [key, &[0]].concat();
        let ends: Vec<Vec<u8>> = ops.iter().map(|(key, _)| end(key)).collect();
        let (mut batch, mut tail) = (WriteBatch::new(), WriteBatch::new());
        for (i, (key, value)) in ops.iter().enumerate() {
            let target = if i < split { &mut batch } else { &mut tail };
            match value {
                None if i % 3 == 0 => target.delete_range(key, &ends[i]),
                None => target.delete(key),
                Some(value) if i % 2 == 0 => target.put(key, value),
                Some(value) => target.put_encoded(
                    |out| out.extend_from_slice(key),
                    |out| out.extend_from_slice(value),
                ),
            };
        }
        batch.extend(&tail);
        prop_assert_eq!(batch.len(), ops.len());
        prop_assert_eq!(batch.is_empty(), ops.is_empty());
        let expected: Vec<WriteOp<'_>> = ops
            .iter()
            .zip(&ends)
            .enumerate()
            .map(|(i, ((key, value), end))| match value {
                Some(value) => WriteOp::Put { key, value },
                None if i % 3 == 0 => WriteOp::DeleteRange { start: key, end },
                None => WriteOp::Delete { key },
            })
            .collect();
        prop_assert_eq!(batch.ops().collect::<Vec<_>>(), expected);
    }
}

/// RocksDB options with a 64 KiB memtable, which a write of a few hundred rows outgrows.
#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
fn small_memtable() -> super::RocksDbOptions {
    super::RocksDbOptions {
        write_buffer_bytes: 64 << 10,
        ..Default::default()
    }
}

/// Writes keys `0..count` (big-endian), each with 100 bytes of value, in one batch.
#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
fn write_rows(db: &super::RocksDbStorage, count: u32) {
    let mut batch = WriteBatch::new();
    for i in 0..count {
        batch.put(i.to_be_bytes(), [7; 100]);
    }
    db.write(batch, false).unwrap();
}

#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
#[test]
fn rocksdb_flushes_after_a_write_larger_than_its_memtable() {
    let dir = tempfile::tempdir().unwrap();
    let db = super::RocksDbStorage::open(dir.path(), &small_memtable()).unwrap();
    write_rows(&db, 10);
    assert_eq!(db.active_memtable_entries(), 10, "a small write stays");
    write_rows(&db, 2_000);
    assert_eq!(db.active_memtable_entries(), 0, "a large write is flushed");
    assert_eq!(db.get(&1999u32.to_be_bytes()).unwrap(), Some(vec![7; 100]));
}

#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
#[test]
fn rocksdb_ingests_a_large_write_as_a_table_file() {
    let dir = tempfile::tempdir().unwrap();
    let options = super::RocksDbOptions {
        ingest_from_bytes: 64 << 10,
        ingest_writers: 4,
        ..Default::default()
    };
    let db = super::RocksDbStorage::open(dir.path(), &options).unwrap();
    write_rows(&db, 100);
    assert_eq!(
        db.active_memtable_entries(),
        100,
        "a small write goes through the log"
    );
    // Keys out of order, one key written twice and one deleted after its put, a row of the
    // earlier write deleted and another overwritten.
    let mut batch = WriteBatch::new();
    for i in (50..2_000u32).rev() {
        batch.put(i.to_be_bytes(), i.to_le_bytes().repeat(25));
    }
    batch.put(1500u32.to_be_bytes(), b"twice");
    batch.delete(1600u32.to_be_bytes());
    batch.delete(7u32.to_be_bytes());
    db.write(batch, false).unwrap();
    // Through the log it would have stayed in the memtable (smaller than 4 MiB); ingested,
    // it is not there, and neither are the earlier rows, flushed first as the file overlaps.
    assert_eq!(
        db.active_memtable_entries(),
        0,
        "the large write was ingested"
    );
    // ~200 KB: three files of at least 64 KiB, written side by side (a fourth writer had
    // less than that to write).
    assert_eq!(db.files_ingested(), 3);
    let check = |db: &super::RocksDbStorage| {
        let rows = everything(db);
        assert_eq!(rows.len(), 1_998);
        let get = |i: u32| db.get(&i.to_be_bytes()).unwrap();
        assert_eq!(get(6), Some(vec![7; 100]));
        assert_eq!(get(7), None);
        assert_eq!(get(50), Some(50u32.to_le_bytes().repeat(25)));
        assert_eq!(get(1500), Some(b"twice".to_vec()));
        assert_eq!(get(1600), None);
    };
    check(&db);
    let ingest_dir = dir.path().join(super::rocksdb::INGEST_DIR);
    assert_eq!(std::fs::read_dir(&ingest_dir).unwrap().count(), 0);
    drop(db);
    // A file a crash left before its ingestion is removed, never read.
    std::fs::write(ingest_dir.join("9.sst"), b"half a file").unwrap();
    let db = super::RocksDbStorage::open(dir.path(), &options).unwrap();
    check(&db);
    assert_eq!(std::fs::read_dir(&ingest_dir).unwrap().count(), 0);
}

#[cfg(all(feature = "rocksdb", not(target_arch = "wasm32")))]
#[test]
fn rocksdb_scans_leave_the_block_cache_to_point_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = super::RocksDbStorage::open(dir.path(), &small_memtable()).unwrap();
    // Larger than the memtable: flushed into a table file, whose blocks reads then load.
    write_rows(&db, 20_000);
    drop(db);
    let db = super::RocksDbStorage::open(dir.path(), &small_memtable()).unwrap();
    let scanned = db.scan(Bound::Unbounded, Bound::Unbounded).unwrap();
    assert_eq!(scanned.count(), 20_000);
    let after_scan = db.block_cache_bytes();
    for i in (0..20_000u32).step_by(100) {
        assert!(db.get(&i.to_be_bytes()).unwrap().is_some());
    }
    let after_reads = db.block_cache_bytes();
    // The reads cached their ~200 blocks (of ~2 MB of rows); the scan cached none.
    assert!(
        after_reads > 100 << 10,
        "point reads fill the cache: {after_reads}"
    );
    assert!(
        after_scan < after_reads / 10,
        "the scan kept {after_scan} bytes of blocks (reads: {after_reads})"
    );
}
