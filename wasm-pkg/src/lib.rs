//! OmenDB's engine as a JavaScript package: wasm-bindgen wrappers that marshal values and errors
//! and know nothing of how the engine works inside.
//!
//! Until the SQL layer lands (issue #5) the package exposes the engine's ordered storage, so that
//! pages and Node programs can already read and write through the real engine.

use std::ops::Bound;
use std::sync::Arc;

use omendb_engine::storage::{Storage, StorageConfig, StorageKind, WriteBatch};
use wasm_bindgen::prelude::*;

/// The engine's version.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    omendb_engine::VERSION.to_string()
}

/// Converts an engine error into a JavaScript `Error` carrying its SQLSTATE in `code`.
fn js_error(e: omendb_engine::Error) -> JsError {
    JsError::new(&format!("{} (SQLSTATE {})", e, e.sqlstate()))
}

/// An ordered key-value store backed by the engine's storage layer (redb in memory by default).
#[wasm_bindgen]
pub struct KvStore {
    storage: Arc<dyn Storage>,
}

impl std::fmt::Debug for KvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore")
            .field("backend", &self.storage.name())
            .finish()
    }
}

#[wasm_bindgen]
impl KvStore {
    /// Opens an empty store; `backend` is "redb" (the default) or "memory".
    #[wasm_bindgen(constructor)]
    pub fn new(backend: Option<String>) -> Result<KvStore, JsError> {
        let kind = match backend {
            Some(name) => name.parse().map_err(js_error)?,
            None => StorageKind::Redb,
        };
        let storage = StorageConfig::new(kind, None).open().map_err(js_error)?;
        Ok(KvStore { storage })
    }

    /// The name of the storage backend in use.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.storage.name().to_string()
    }

    /// Stores `value` under `key`, replacing any earlier value.
    pub fn put(&self, key: &str, value: &str) -> Result<(), JsError> {
        let mut batch = WriteBatch::new();
        batch.put(key.as_bytes(), value.as_bytes());
        self.storage.write(batch, false).map_err(js_error)
    }

    /// Removes `key` if present.
    pub fn delete(&self, key: &str) -> Result<(), JsError> {
        let mut batch = WriteBatch::new();
        batch.delete(key.as_bytes());
        self.storage.write(batch, false).map_err(js_error)
    }

    /// The value under `key`, or `undefined`.
    pub fn get(&self, key: &str) -> Result<Option<String>, JsError> {
        let value = self.storage.get(key.as_bytes()).map_err(js_error)?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// The keys in `[start, end)` in ascending order (an absent bound is unbounded).
    pub fn keys(&self, start: Option<String>, end: Option<String>) -> Result<Vec<String>, JsError> {
        let start = start
            .as_deref()
            .map_or(Bound::Unbounded, |s| Bound::Included(s.as_bytes()));
        let end = end
            .as_deref()
            .map_or(Bound::Unbounded, |e| Bound::Excluded(e.as_bytes()));
        if let (Bound::Included(s), Bound::Excluded(e)) = (start, end) {
            if s >= e {
                return Ok(Vec::new());
            }
        }
        self.storage
            .scan(start, end)
            .map_err(js_error)?
            .map(|entry| {
                entry
                    .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
                    .map_err(js_error)
            })
            .collect()
    }
}
