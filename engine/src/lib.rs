//! The OmenDB engine: everything below the wire, synchronous and free of any async runtime, so the
//! same code runs in the native server and in WebAssembly.
//!
//! Modules in pipeline order, from the data structures up to the public error type:

/// The multi-level ALEX learned index, the primary index of every table.
pub mod alex;
/// The engine's one public error type, with PostgreSQL SQLSTATE codes.
pub mod error;
/// Ordered byte-level key-value storage and its backends (RocksDB, redb, memory).
pub mod storage;

pub use error::{Error, Result};

/// The engine's version, as reported to clients (e.g. in `version()`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
