use std::ops::Bound;
use std::path::Path;

use ::rocksdb::{
    BlockBasedOptions, Cache, DB, DataBlockIndexType, Direction, FlushOptions, IteratorMode,
    Options, ReadOptions, WriteOptions,
};

use super::{RocksDbOptions, Scan, Storage, WriteBatch, WriteOp};
use crate::{Error, Result};

/// How far a scan reads ahead of its position in a table file: 2 MiB requests instead of one
/// per block.
const SCAN_READAHEAD: usize = 2 << 20;

/// Storage in a RocksDB directory (native builds with the `rocksdb` feature).
pub struct RocksDbStorage {
    db: DB,
    /// The memtable's size before a flush ([`RocksDbOptions::write_buffer_bytes`]).
    write_buffer_bytes: usize,
}

impl std::fmt::Debug for RocksDbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbStorage")
            .field("path", &self.db.path())
            .finish()
    }
}

fn storage_error(e: ::rocksdb::Error) -> Error {
    Error::Storage {
        backend: "rocksdb",
        message: e.into_string(),
    }
}

impl RocksDbStorage {
    /// Opens (creating if needed) the database directory at `path`; recovery from the WAL is
    /// automatic.
    pub fn open(path: impl AsRef<Path>, options: &RocksDbOptions) -> Result<Self> {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&Cache::new_lru_cache(options.block_cache_bytes));
        table.set_bloom_filter(options.bloom_bits_per_key, false);
        // Index and filter blocks stay with their open table, outside the block cache: in it, a
        // table's one large filter block (1.25 bytes a key) was evicted by data blocks and read
        // back, with its checksum, on nearly every point read that missed the row cache.
        table.set_cache_index_and_filter_blocks(false);
        // A hash index inside data blocks: point reads skip the binary search.
        table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
        table.set_data_block_hash_ratio(0.75);

        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_size(options.write_buffer_bytes);
        opts.set_max_background_jobs(options.background_jobs);
        opts.set_level_compaction_dynamic_level_bytes(true);
        opts.set_compression_type(::rocksdb::DBCompressionType::Lz4);
        // A bloom filter over the memtable: most point reads miss it, and then skip searching
        // its skiplist.
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.1);
        // Compatible with the default point-in-time recovery since RocksDB 9 (see
        // facebook/rocksdb#13819).
        opts.set_recycle_log_file_num(options.recycled_log_files.unwrap_or(0));
        let db = DB::open(&opts, path).map_err(storage_error)?;
        Ok(Self {
            db,
            write_buffer_bytes: options.write_buffer_bytes,
        })
    }

    /// After a write larger than the memtable's size: starts flushing the memtable, without
    /// waiting for it. RocksDB switches a full memtable only when the *next* write comes; after
    /// a bulk load that may be never, and the whole load then stayed in the memtable (10M
    /// pgbench rows: 0.8 GB of memory, point reads searching a 10M-entry skip list) and in
    /// the write-ahead log (1.2 GB replayed by the next start). Skipped while an earlier flush
    /// is still pending: RocksDB would make this call wait for it (a write stall), and the
    /// next write switches the memtable anyway. A failure is not the write's: the rows stay
    /// in the memtable, as they would have without this call.
    fn flush_after_large_write(&self) {
        let pending = self
            .db
            .property_int_value("rocksdb.num-immutable-mem-table");
        if !matches!(pending, Ok(Some(0))) {
            return;
        }
        let mut flush = FlushOptions::default();
        flush.set_wait(false);
        let _ = self.db.flush_opt(&flush);
    }

    /// Entries in the memtable that takes writes (for tests).
    #[cfg(test)]
    pub(crate) fn active_memtable_entries(&self) -> u64 {
        let entries = self
            .db
            .property_int_value("rocksdb.num-entries-active-mem-table");
        entries.ok().flatten().unwrap_or(0)
    }

    /// Bytes the block cache holds (for tests).
    #[cfg(test)]
    pub(crate) fn block_cache_bytes(&self) -> u64 {
        let bytes = self.db.property_int_value("rocksdb.block-cache-usage");
        bytes.ok().flatten().unwrap_or(0)
    }
}

impl Storage for RocksDbStorage {
    fn name(&self) -> &'static str {
        "rocksdb"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(key).map_err(storage_error)
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        // Sized once: a bulk load's batch is hundreds of megabytes, and growing it by
        // doubling copied it over and over. RocksDB's encoding of an operation is no longer
        // than ours (a type byte and varint lengths where ours has 8-byte lengths), plus a
        // 12-byte header.
        let bytes = batch.bytes();
        let mut rocks = ::rocksdb::WriteBatch::with_capacity_bytes(12 + bytes);
        for op in batch.ops() {
            match op {
                WriteOp::Put { key, value } => rocks.put(key, value),
                WriteOp::Delete { key } => rocks.delete(key),
                WriteOp::DeleteRange { start, end } => rocks.delete_range(start, end),
            }
        }
        // Ours is no longer needed: freed before RocksDB copies the operations into its
        // memtable, so that a bulk load holds two copies of its rows' encodings at most.
        drop(batch);
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(rocks, &opts).map_err(storage_error)?;
        if bytes > self.write_buffer_bytes {
            self.flush_after_large_write();
        }
        Ok(())
    }

    fn scan(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Result<Scan<'_>> {
        let mut read = ReadOptions::default();
        // Every scan of storage is one pass over many rows (a table's load at open, a
        // rewrite, the catalog): its blocks would only push the point reads' hot blocks out
        // of the block cache, and it reads ahead in large requests rather than a `pread` per
        // 4 KiB block.
        read.fill_cache(false);
        read.set_readahead_size(SCAN_READAHEAD);
        // RocksDB's upper bound is exclusive; an inclusive end is checked below instead.
        if let Bound::Excluded(end) = end {
            read.set_iterate_upper_bound(end.to_vec());
        }
        let mode = match start {
            Bound::Included(key) | Bound::Excluded(key) => {
                IteratorMode::From(key, Direction::Forward)
            }
            Bound::Unbounded => IteratorMode::Start,
        };
        let skip = match start {
            Bound::Excluded(key) => Some(key.to_vec()),
            _ => None,
        };
        let inclusive_end = match end {
            Bound::Included(key) => Some(key.to_vec()),
            _ => None,
        };
        let iter = self
            .db
            .iterator_opt(mode, read)
            .map(|item| {
                item.map(|(k, v)| (k.into_vec(), v.into_vec()))
                    .map_err(storage_error)
            })
            .skip_while(move |item| matches!((item, &skip), (Ok((k, _)), Some(s)) if k == s))
            .take_while(move |item| match (item, &inclusive_end) {
                (Ok((k, _)), Some(end)) => k <= end,
                _ => true,
            });
        Ok(Box::new(iter))
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(storage_error)
    }
}
