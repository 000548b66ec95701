//! Through the public API: every durable backend keeps what it acknowledged across a reopen, and
//! scans come back in byte order.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

use std::ops::Bound;

use omendb::storage::{StorageConfig, StorageKind, WriteBatch};

fn key(i: u32) -> Vec<u8> {
    // Big-endian so that byte order is numeric order.
    i.to_be_bytes().to_vec()
}

#[test]
fn durable_backends_survive_reopen() {
    for kind in [StorageKind::default_for_build(), StorageKind::Redb] {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig::new(kind, Some(dir.path().to_path_buf()));
        {
            let storage = config.open().unwrap();
            // Scrambled insertion order, several batches, some deletes.
            for chunk in 0..10u32 {
                let mut batch = WriteBatch::new();
                for j in 0..1000u32 {
                    let i = (chunk * 1000 + j) * 7919 % 10_000; // 7919 is coprime with 10,000: a permutation
                    batch.put(key(i), i.to_le_bytes());
                }
                storage.write(batch, true).unwrap();
            }
            let mut deletes = WriteBatch::new();
            for i in (0..10_000).step_by(10) {
                deletes.delete(key(i));
            }
            storage.write(deletes, true).unwrap();
        }
        let storage = config.open().unwrap();
        let keys: Vec<u32> = storage
            .scan(Bound::Unbounded, Bound::Unbounded)
            .unwrap()
            .map(|entry| {
                let (k, v) = entry.unwrap();
                let i = u32::from_be_bytes(k.try_into().unwrap());
                assert_eq!(v, i.to_le_bytes(), "{kind}: value of {i}");
                i
            })
            .collect();
        let expected: Vec<u32> = (0..10_000).filter(|i| i % 10 != 0).collect();
        assert_eq!(keys, expected, "{kind}");
    }
}
