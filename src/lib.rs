//! OmenDB: a PostgreSQL-compatible database whose primary index is a learned index.
//!
//! This package re-exports [`omendb_engine`] so that the repository's root `tests/` and `benches/`
//! exercise the engine exactly as an embedding application would.

pub use omendb_engine::*;
