//! The OmenDB engine: everything below the wire, synchronous and free of any async runtime, so the
//! same code runs in the native server and in WebAssembly. (The native `analytics` feature runs
//! DataFusion on a runtime of its own; callers still see synchronous calls.)
//!
//! Each module's documentation says what it holds and how it fits: start with [`database`]
//! (opening a database, sessions, the API the SQL layer calls) and [`sql`] (one query, end to
//! end), then [`mvcc`], [`table`], [`alex`] and [`storage`] on the way down to the bytes.

pub mod alex;
#[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
pub mod analytics;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod database;
pub mod encoding;
/// The engine's one public error type, with PostgreSQL SQLSTATE codes.
pub mod error;
pub mod host;
pub mod json;
pub mod mvcc;
pub(crate) mod row_addresses;
pub mod sql;
pub mod storage;
mod sync;
pub mod table;
#[cfg(test)]
mod test_strategies;
pub mod types;

pub use database::{Database, DatabaseConfig, DatabaseStats, Session, TableChange};
pub use error::{Error, Result};
pub use mvcc::{Attempt, Direction, IndexScan, RowScan, Savepoint, Transaction};
pub use sql::{QueryResult, Rows};
pub use table::RowKey;

/// The engine's version, as reported to clients (e.g. in `version()`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
