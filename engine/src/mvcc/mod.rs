//! Multi-version concurrency control: snapshot isolation over the latest-committed state that
//! storage holds.
//!
//! # Timestamps and snapshots
//! One counter orders commits. A transaction reads at a *snapshot*: the newest commit visible
//! when it began. It sees every version committed at or before its snapshot, plus its own
//! writes, which live only in the transaction until it commits.
//!
//! # Where versions live
//! Storage holds only the newest committed version of each row. The table's learned primary
//! index maps each key to a `RowEntry`: that version's commit timestamp, whether it is a
//! deletion, a chain of older versions kept in memory for snapshots that still need them, and
//! the row cache's copy of the newest version (see `crate::cache`).
//!
//! ```text
//!  key 42 ─► RowEntry { ts: 9, deleted: false, chain: [ (ts 5, row v2), (ts 2, row v1) ] }
//!               │
//!               └─ row v3 (committed at 9) in storage / the row cache
//!
//!  snapshot 9+ reads v3 from storage · snapshot 5..8 reads v2 · snapshot 2..4 reads v1
//!  snapshot 0..1 sees no row
//! ```
//!
//! # Commit
//! Under the commit lock, with the written tables' latches held: validate (first committer
//! wins: a key with a version committed after our snapshot fails with 40001; unique values are
//! re-checked against everything committed since), take the commit timestamp, write rows, index
//! entries and deletions in one atomic storage batch, then install the versions in the primary
//! index (the replaced version moves into the chain), the secondary indexes and the row cache.
//! New keys are inserted into the primary index; their rows are cached when first read.
//! A large batch (a bulk load) is written on a second thread while the versions are installed
//! — still invisible, under a timestamp not yet published — and if that write fails, the
//! database stops committing and starting transactions, as after a failed sync (a small
//! batch's failure only fails its commit: it is written before anything is installed).
//! Outside the lock the commit waits for durability — concurrent committers share one storage
//! sync (group commit) — and only then becomes visible to new snapshots. A crash before the
//! sync loses the commit entirely; storage's atomic batch means it never half-applies.
//!
//! # Garbage collection
//! Each superseded version is queued with the timestamp that superseded it. Once the oldest
//! active snapshot (the watermark; with none active, the newest visible commit) has reached that
//! timestamp, no one can read the version: the chain is trimmed, an entry whose newest version
//! is an old deletion leaves the index, and dead secondary-index entries go. This runs after
//! every commit and whenever a transaction ends, so memory returns to its baseline as soon as
//! long-running readers finish.
//!
//! # Row locks
//! SQL's UPDATE and DELETE lock each row they change until the transaction ends (`locks`);
//! a second writer waits (the lower-level `Transaction::update`/`delete` alone take no locks:
//! for them the first committer wins at commit). When the first commits a new version, the second fails with 40001
//! under REPEATABLE READ, and under READ COMMITTED re-reads the newest version, re-checks the
//! statement's WHERE on it and writes from it ([`Transaction::lock_row`]) — PostgreSQL's
//! behaviour, so concurrent increments neither fail nor lose updates. INSERTs take no locks:
//! a duplicate key is found at commit (23505).
//!
//! # Simplifications
//! - Commits are serialised by one lock (validation, the non-synced storage write and the
//!   in-memory install are short; the sync is outside it).
//! - With `synchronous_commit` off, a commit is visible at once; if an earlier synchronous commit
//!   is still waiting for its sync, it becomes visible a little before it is durable.
//! - The catalog is not versioned: DDL takes effect at once for every transaction. An index
//!   built after a snapshot was taken is not used by that snapshot (it falls back to a scan).
//! - Timestamps restart at zero when the database opens: everything recovered is older than
//!   every snapshot, and no versions survive a restart.

mod clock;
mod index_scan;
mod locks;
mod scan;
mod transaction;
mod version;
mod write_set;

pub(crate) use self::clock::Clock;
pub use self::index_scan::IndexScan;
pub(crate) use self::locks::RowLocks;
pub use self::scan::{Direction, RowScan};
pub(crate) use self::transaction::TableHandles;
pub use self::transaction::{
    Attempt, Locked, Savepoint, SharedVersion, SnapshotReader, Transaction,
};
pub(crate) use self::version::{RowEntry, Visibility};
