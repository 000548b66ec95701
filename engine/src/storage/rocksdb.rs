use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ::rocksdb::{
    BlockBasedOptions, Cache, DB, DataBlockIndexType, Direction, FlushOptions,
    IngestExternalFileOptions, IteratorMode, Options, ReadOptions, SstFileWriter, WriteOptions,
};

use super::{RocksDbOptions, Scan, Storage, WriteBatch, WriteOp};
use crate::{Error, Result};

/// How far a scan reads ahead of its position in a table file: 2 MiB requests instead of one
/// per block.
const SCAN_READAHEAD: usize = 2 << 20;

/// The directory, inside the database's, where a large write's table file is made before
/// RocksDB takes it in (see [`RocksDbStorage::ingest`]). RocksDB ignores what it did not name.
pub(super) const INGEST_DIR: &str = "omendb-ingest";

/// One operation of a write made into a table file: a key, and its value or `None` to delete.
type FileOp<'a> = (&'a [u8], Option<&'a [u8]>);

/// Storage in a RocksDB directory (native builds with the `rocksdb` feature).
pub struct RocksDbStorage {
    db: DB,
    /// The options the database was opened with; a table file made for ingestion is built
    /// with the same (filters, block format, compression).
    options: Options,
    /// The memtable's size before a flush ([`RocksDbOptions::write_buffer_bytes`]).
    write_buffer_bytes: usize,
    /// [`RocksDbOptions::ingest_from_bytes`].
    ingest_from_bytes: usize,
    /// Threads writing one ingestion's files (see [`RocksDbOptions::ingest_writers`]).
    ingest_writers: usize,
    /// Where table files for ingestion are made, and how many ingestions have been.
    ingest_dir: PathBuf,
    ingested: AtomicU64,
    #[cfg(test)]
    files_ingested: AtomicU64,
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
        let db = DB::open(&opts, path.as_ref()).map_err(storage_error)?;
        // A file left by a crash before its ingestion was never part of the database.
        let ingest_dir = path.as_ref().join(INGEST_DIR);
        let io_error = |e: std::io::Error| Error::Storage {
            backend: "rocksdb",
            message: format!("{}: {e}", ingest_dir.display()),
        };
        match std::fs::remove_dir_all(&ingest_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_error(e)),
            _ => {}
        }
        std::fs::create_dir(&ingest_dir).map_err(io_error)?;
        Ok(Self {
            db,
            options: opts,
            write_buffer_bytes: options.write_buffer_bytes,
            ingest_from_bytes: options.ingest_from_bytes,
            ingest_dir,
            ingest_writers: options.ingest_writers.max(1),
            ingested: AtomicU64::new(0),
            #[cfg(test)]
            files_ingested: AtomicU64::new(0),
        })
    }

    /// Writes `batch` as one table file that RocksDB then takes in whole ("ingests"), instead
    /// of appending it to the write-ahead log, inserting it into the memtable and writing it
    /// again when the memtable is flushed: a bulk load's rows are written (and compressed)
    /// once, and stay out of the memtable, the log and the next start's log replay.
    ///
    /// An ingestion is atomic, and durable once it returns (the file is synced before RocksDB
    /// records it in its manifest). The log is synced first, so that every write acknowledged
    /// before this one survives a crash this one survives, as with a write through the log.
    ///
    /// `false`, with nothing written, for an empty batch and for one with a range deletion:
    /// one file cannot hold both a range deletion and the puts after it in the batch that it
    /// must not delete.
    fn ingest(&self, batch: &WriteBatch) -> Result<bool> {
        let mut ops: Vec<FileOp<'_>> = Vec::with_capacity(batch.len());
        let mut ascending = true;
        for op in batch.ops() {
            let op = match op {
                WriteOp::Put { key, value } => (key, Some(value)),
                WriteOp::Delete { key } => (key, None),
                WriteOp::DeleteRange { .. } => return Ok(false),
            };
            ascending &= ops.last().is_none_or(|last| last.0 < op.0);
            ops.push(op);
        }
        if ops.is_empty() {
            return Ok(false);
        }
        if !ascending {
            // A file's keys ascend, each once. Of one key's operations the batch's last is the
            // one that counts: reversed, then sorted stably, it is the first of its key's run.
            ops.reverse();
            ops.sort_by(|a, b| a.0.cmp(b.0));
            ops.dedup_by(|later, first| later.0 == first.0);
        }
        // Files of consecutive key ranges, written side by side and ingested together (one
        // ingestion of several files is as atomic as of one).
        let files = (batch.bytes() / self.ingest_from_bytes.max(1)).clamp(1, self.ingest_writers);
        let n = self.ingested.fetch_add(1, Ordering::Relaxed);
        let parts: Vec<(&[FileOp<'_>], PathBuf)> = ops
            .chunks(ops.len().div_ceil(files))
            .enumerate()
            .map(|(i, part)| (part, self.ingest_dir.join(format!("{n}-{i}.sst"))))
            .collect();
        let ingested = self.write_and_ingest(&parts);
        // Moved into the database by a successful ingestion; a failed one leaves them.
        for (_, file) in &parts {
            let _ = std::fs::remove_file(file);
        }
        ingested.map_err(storage_error)?;
        #[cfg(test)]
        self.files_ingested
            .fetch_add(parts.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    /// Writes each part into its file — the first on this thread, the others each on one of
    /// its own — then syncs the log and ingests the files.
    fn write_and_ingest(&self, parts: &[(&[FileOp<'_>], PathBuf)]) -> Result<(), ::rocksdb::Error> {
        std::thread::scope(|scope| {
            let mut others = Vec::with_capacity(parts.len());
            for (part, file) in parts.iter().skip(1) {
                let spawned = std::thread::Builder::new()
                    .name("omendb-ingest".into())
                    .spawn_scoped(scope, move || self.write_file(part, file));
                // Without a thread, the part is written on this one, after the first.
                others.push(spawned.map_err(|_| (part, file)));
            }
            let mut written = parts
                .first()
                .map_or(Ok(()), |(part, file)| self.write_file(part, file));
            for other in others {
                let result = match other {
                    Ok(writer) => writer
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                    Err((part, file)) => self.write_file(part, file),
                };
                written = written.and(result);
            }
            written
        })?;
        self.db.flush_wal(true)?;
        let mut ingest = IngestExternalFileOptions::default();
        ingest.set_move_files(true);
        let files: Vec<&Path> = parts.iter().map(|(_, file)| file.as_path()).collect();
        self.db.ingest_external_file_opts(&ingest, files)
    }

    /// Writes `ops` (ascending keys, each once) as the table file `file`.
    fn write_file(&self, ops: &[FileOp<'_>], file: &Path) -> Result<(), ::rocksdb::Error> {
        let mut writer = SstFileWriter::create(&self.options);
        writer.open(file)?;
        for &(key, value) in ops {
            match value {
                Some(value) => writer.put(key, value)?,
                None => writer.delete(key)?,
            }
        }
        writer.finish()
    }

    /// Table files ingested so far (for tests).
    #[cfg(test)]
    pub(crate) fn files_ingested(&self) -> u64 {
        self.files_ingested.load(Ordering::Relaxed)
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
        if bytes >= self.ingest_from_bytes && self.ingest(&batch)? {
            return Ok(());
        }
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
