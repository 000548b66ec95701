//! The OmenDB engine: everything below the wire, synchronous and free of any async runtime, so the
//! same code runs in the native server and in WebAssembly. (The native `analytics` feature runs
//! DataFusion on a runtime of its own; callers still see synchronous calls.)
//!
//! Modules in pipeline order, from the public entry point down to the bytes:

/// The multi-level ALEX learned index, the primary index of every table.
pub mod alex;
/// Analytical queries through Apache DataFusion over a transaction's MVCC snapshot.
#[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
pub mod analytics;
/// Roles and SCRAM-SHA-256 password verifiers.
pub mod auth;
/// The LRU cache of decoded rows.
pub mod cache;
/// Table and index schemas, persisted in storage.
pub mod catalog;
/// Opening a database, sessions, DDL and statistics: the API the SQL layer calls.
pub mod database;
/// Memcomparable key encoding and the compact row format.
pub mod encoding;
/// The engine's one public error type, with PostgreSQL SQLSTATE codes.
pub mod error;
/// The platform's clock and randomness (the OS natively; installed by a WebAssembly host).
pub mod host;
/// The JSON documents of the HTTP API and the WebAssembly package: results, errors, schema, index.
pub mod json;
/// Snapshot-isolation transactions, version chains, group commit and garbage collection.
pub mod mvcc;
/// Where cached rows are in memory, learned, for point lookups to prefetch.
pub(crate) mod row_addresses;
/// SQL: parser, planner and executor over the engine API.
pub mod sql;
/// Ordered byte-level key-value storage and its backends (RocksDB, redb, memory).
pub mod storage;
mod sync;
/// A table in memory: the learned primary index and the secondary indexes.
pub mod table;
#[cfg(test)]
mod test_strategies;
/// SQL data types and values.
pub mod types;

pub use database::{Database, DatabaseConfig, DatabaseStats, Session, TableChange};
pub use error::{Error, Result};
pub use mvcc::{Attempt, Direction, IndexScan, RowScan, Savepoint, Transaction};
pub use sql::{QueryResult, Rows};
pub use table::RowKey;

/// The engine's version, as reported to clients (e.g. in `version()`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
