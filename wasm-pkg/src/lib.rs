//! OmenDB's engine as a JavaScript package: a `Database` that runs SQL in the page (or in Node),
//! keeps its data in memory, and can save itself to IndexedDB, export and import.
//!
//! The wrappers marshal values and errors ([`values`]) and know nothing of how the engine works
//! inside. Rust callers (the web console) use the same `Database` through its Rust methods, which
//! answer with the JSON documents of [`omendb_engine::json`], as the server's HTTP API does.

mod persist;
mod values;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::{Array, Object, Promise, Uint8Array};
use omendb_engine::sql::Prepared;
use omendb_engine::storage::StorageKind;
use omendb_engine::{DatabaseConfig, Error, Session};
use serde_json::Value as JsonValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

/// The engine's version.
#[wasm_bindgen(js_name = engineVersion)]
pub fn engine_version() -> String {
    omendb_engine::VERSION.to_string()
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** Options of `Database.open`. */
export interface OpenOptions {
  /** "redb" (the default: redb's in-memory backend) or "memory". */
  backend?: "redb" | "memory";
  /** Save every committed change to IndexedDB under this name, and load it on open (browsers). */
  persist?: string;
}
export interface Column { name: string; type: string; }
/** One statement's result. */
export interface QueryResult {
  columns: Column[];
  /** number (SMALLINT, INTEGER, REAL, DOUBLE), bigint (BIGINT), string (NUMERIC, text, JSON,
   *  TIME, INTERVAL, UUID), Date (DATE, TIMESTAMP, TIMESTAMPTZ), Uint8Array (BYTEA), boolean,
   *  arrays of those, or null. */
  rows: any[][];
  /** The command tag: "SELECT 3", "INSERT 0 2", "CREATE TABLE". */
  command: string;
  /** The count in the tag, or null when it has none. */
  rowCount: number | null;
}
/** What every method throws on a database error. */
export interface OmenDbError extends Error {
  name: "OmenDbError";
  /** The PostgreSQL SQLSTATE, e.g. "42601". */
  sqlstate: string;
  /** 1-based character position in the statement, when known. */
  position?: number;
  detail?: string;
  /** For `execute`: the results of the statements that ran before the one that failed. */
  results?: QueryResult[];
}
"#;

/// Installs the browser's (or Node's) clock and random source for `now()` and
/// `gen_random_uuid()`; the engine has no other way to reach them in WebAssembly.
fn install_host() {
    fn now_micros() -> i64 {
        (js_sys::Date::now() * 1000.0) as i64
    }
    fn fill_random(buffer: &mut [u8]) {
        let crypto = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"));
        let get = crypto.as_ref().ok().and_then(|c| {
            js_sys::Reflect::get(c, &JsValue::from_str("getRandomValues"))
                .ok()?
                .dyn_into::<js_sys::Function>()
                .ok()
        });
        let (Ok(crypto), Some(get)) = (crypto, get) else {
            buffer.fill(0);
            return;
        };
        // getRandomValues fills at most 65,536 bytes a call.
        for chunk in buffer.chunks_mut(65_536) {
            let array = Uint8Array::new_with_length(chunk.len() as u32);
            let _ = get.call1(&crypto, &array);
            array.copy_to(chunk);
        }
    }
    omendb_engine::host::set_host(omendb_engine::host::Host {
        now_micros,
        fill_random,
    });
}

/// A millisecond clock with sub-millisecond resolution where the host has `performance.now()`.
pub fn now_ms() -> f64 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("performance"))
        .ok()
        .and_then(|p| {
            let now = js_sys::Reflect::get(&p, &JsValue::from_str("now")).ok()?;
            now.dyn_into::<js_sys::Function>()
                .ok()?
                .call0(&p)
                .ok()?
                .as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// How a database is opened (see the `OpenOptions` type).
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub backend: Option<String>,
    pub persist: Option<String>,
}

impl OpenOptions {
    fn from_js(options: Option<Object>) -> Result<Self, JsValue> {
        let Some(options) = options else {
            return Ok(Self::default());
        };
        let field = |name: &str| -> Result<Option<String>, JsValue> {
            let value = js_sys::Reflect::get(&options, &JsValue::from_str(name))?;
            if value.is_undefined() || value.is_null() {
                return Ok(None);
            }
            value
                .as_string()
                .map(Some)
                .ok_or_else(|| js_sys::TypeError::new(&format!("`{name}` must be a string")).into())
        };
        Ok(Self {
            backend: field("backend")?,
            persist: field("persist")?,
        })
    }

    fn config(&self) -> Result<DatabaseConfig, Error> {
        let kind = match &self.backend {
            Some(name) => name.parse()?,
            None => StorageKind::Redb,
        };
        if kind == StorageKind::RocksDb {
            return Err(Error::Config(
                "in WebAssembly the backends are redb (in memory) and memory".into(),
            ));
        }
        Ok(DatabaseConfig::new(kind, None))
    }
}

/// Where a persisted database is saved, and how far.
struct Persisted {
    name: String,
    /// The change stamp of the last export handed to IndexedDB.
    saved: Cell<(u64, u64)>,
    /// The newest save, chained after the ones before it.
    last_save: RefCell<Promise>,
}

struct Inner {
    db: omendb_engine::Database,
    session: RefCell<Session>,
    persisted: Option<Persisted>,
}

impl Inner {
    /// After a statement: when the database changed and no transaction is open, saves it.
    fn after_statement(&self) {
        let Some(persisted) = &self.persisted else {
            return;
        };
        let stamp = self.db.change_stamp();
        if stamp == persisted.saved.get() || self.session.borrow().in_transaction_block() {
            return;
        }
        persisted.saved.set(stamp);
        let bytes = self.db.export();
        let previous = JsFuture::from(persisted.last_save.borrow().clone());
        let name = persisted.name.clone();
        let save = future_to_promise(async move {
            // One save at a time, in order; an earlier failure does not stop later saves.
            let _ = previous.await;
            let bytes = bytes.map_err(|e| values::error(&e))?;
            persist::save(&name, &bytes).await?;
            Ok(JsValue::UNDEFINED)
        });
        *persisted.last_save.borrow_mut() = save;
    }
}

/// An OmenDB database in WebAssembly, with one session.
#[wasm_bindgen]
pub struct Database {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("storage", &self.inner.db.storage_name())
            .field(
                "persist",
                &self.inner.persisted.as_ref().map(|p| p.name.as_str()),
            )
            .finish()
    }
}

/// Rust's view, for the web console: the same database answering with JSON documents.
impl Database {
    /// Opens a database (loading the saved copy when `persist` names one).
    pub async fn open_with(options: OpenOptions) -> Result<Database, JsValue> {
        install_host();
        let config = options.config().map_err(|e| values::error(&e))?;
        let saved = match &options.persist {
            Some(name) => persist::load(name).await?,
            None => None,
        };
        let db = match &saved {
            Some(bytes) => omendb_engine::Database::import(bytes, &config),
            None => omendb_engine::Database::open(config),
        }
        .map_err(|e| values::error(&e))?;
        Ok(Self::wrap(db, options.persist))
    }

    fn wrap(db: omendb_engine::Database, persist: Option<String>) -> Self {
        let persisted = persist.map(|name| Persisted {
            name,
            saved: Cell::new(db.change_stamp()),
            last_save: RefCell::new(Promise::resolve(&JsValue::UNDEFINED)),
        });
        Database {
            inner: Rc::new(Inner {
                session: RefCell::new(db.session()),
                db,
                persisted,
            }),
        }
    }

    /// Runs the statements in `sql` one by one: the result documents of those that ran (each
    /// with its `elapsed_ms`) and, if one failed, its error document — as the HTTP API answers.
    pub fn run_documents(&self, sql: &str) -> (Vec<JsonValue>, Option<JsonValue>) {
        let outcome = {
            let mut session = self.inner.session.borrow_mut();
            omendb_engine::json::run_script(&mut session, sql, now_ms)
        };
        self.inner.after_statement();
        outcome
    }

    /// The schema document.
    pub fn schema_document(&self) -> JsonValue {
        omendb_engine::json::schema(&self.inner.db)
    }

    /// A table's index document, or the error document.
    pub fn index_document(&self, table: &str) -> Result<JsonValue, JsonValue> {
        omendb_engine::json::index(&self.inner.db, table)
            .map_err(|e| omendb_engine::json::error(&e))
    }

    /// Resolves once every change so far is saved (at once when nothing is persisted).
    pub async fn wait_persisted(&self) -> Result<(), JsValue> {
        let promise = self
            .inner
            .persisted
            .as_ref()
            .map(|p| p.last_save.borrow().clone());
        if let Some(promise) = promise {
            JsFuture::from(promise).await?;
        }
        Ok(())
    }
}

#[wasm_bindgen]
impl Database {
    /// Opens a database: `Database.open({ backend, persist })`. With `persist`, the database
    /// saved under that name in IndexedDB is loaded (or a new one started), and every committed
    /// change is saved again.
    #[wasm_bindgen(js_name = open, unchecked_return_type = "Promise<Database>")]
    pub fn open(
        #[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: Option<Object>,
    ) -> Promise {
        let options = OpenOptions::from_js(options);
        future_to_promise(async move {
            let db = Database::open_with(options?).await?;
            Ok(db.into())
        })
    }

    /// Opens a database from the bytes of `exportBytes()`; with `options.persist`, it is saved
    /// under that name at once (replacing what was there).
    #[wasm_bindgen(js_name = importBytes, unchecked_return_type = "Promise<Database>")]
    pub fn import_bytes(
        bytes: &[u8],
        #[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: Option<Object>,
    ) -> Promise {
        install_host();
        let bytes = bytes.to_vec();
        let options = OpenOptions::from_js(options);
        future_to_promise(async move {
            let options = options?;
            let config = options.config().map_err(|e| values::error(&e))?;
            let db =
                omendb_engine::Database::import(&bytes, &config).map_err(|e| values::error(&e))?;
            if let Some(name) = &options.persist {
                persist::save(name, &bytes).await?;
            }
            Ok(Database::wrap(db, options.persist).into())
        })
    }

    /// Deletes the database saved under `name` in IndexedDB.
    #[wasm_bindgen(js_name = forget, unchecked_return_type = "Promise<void>")]
    pub fn forget(name: String) -> Promise {
        future_to_promise(async move {
            persist::forget(&name).await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Runs one statement with parameters `$1, $2, …` bound to `params`.
    #[wasm_bindgen(unchecked_return_type = "QueryResult")]
    pub fn query(
        &self,
        sql: &str,
        #[wasm_bindgen(unchecked_param_type = "any[] | undefined")] params: Option<Array>,
    ) -> Result<JsValue, JsValue> {
        let params = parameters(params)?;
        let outcome = {
            let mut session = self.inner.session.borrow_mut();
            session
                .prepare_or_abort(sql)
                .and_then(|prepared| session.execute_prepared(&prepared, &params))
        };
        self.inner.after_statement();
        outcome
            .map(|r| values::result(&r))
            .map_err(|e| values::error(&e))
    }

    /// Runs every statement in `sql` (no parameters), returning one result per statement. On an
    /// error, the thrown error's `results` holds the results of the statements before it.
    #[wasm_bindgen(unchecked_return_type = "QueryResult[]")]
    pub fn execute(&self, sql: &str) -> Result<JsValue, JsValue> {
        let (results, error) = self.inner.session.borrow_mut().execute_until_error(sql);
        self.inner.after_statement();
        let results: Array = results.iter().map(values::result).collect();
        match error {
            None => Ok(results.into()),
            Some(e) => {
                let error = values::error(&e);
                values::set(error.unchecked_ref::<Object>(), "results", results);
                Err(error)
            }
        }
    }

    /// Plans one statement for repeated execution.
    pub fn prepare(&self, sql: &str) -> Result<PreparedStatement, JsValue> {
        let prepared = self
            .inner
            .session
            .borrow_mut()
            .prepare_or_abort(sql)
            .map_err(|e| values::error(&e))?;
        Ok(PreparedStatement {
            inner: self.inner.clone(),
            columns: values::columns(&prepared.columns),
            prepared,
        })
    }

    /// Whether a transaction block (BEGIN …) is open.
    #[wasm_bindgen(getter, js_name = inTransaction)]
    pub fn in_transaction(&self) -> bool {
        self.inner.session.borrow().in_transaction_block()
    }

    /// The storage backend's name.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.inner.db.storage_name().to_string()
    }

    /// Tables (columns, primary key, indexes, checks) and views.
    pub fn schema(&self) -> JsValue {
        values::document(&self.schema_document())
    }

    /// The table's learned index in numbers: keys, depth, node counts, density, model error,
    /// inserts, expansions, splits, memory.
    #[wasm_bindgen(js_name = indexStats)]
    pub fn index_stats(&self, table: &str) -> Result<JsValue, JsValue> {
        let doc =
            omendb_engine::json::index(&self.inner.db, table).map_err(|e| values::error(&e))?;
        Ok(values::document(&doc["stats"]))
    }

    /// The table's learned index node by node, parents first: kind, depth, parent, key range,
    /// model (slope, intercept), capacity and fill; data nodes also their model error, an
    /// occupancy profile and sampled keys as `[input, slot]`.
    #[wasm_bindgen(js_name = indexInspect)]
    pub fn index_inspect(&self, table: &str) -> Result<JsValue, JsValue> {
        let doc =
            omendb_engine::json::index(&self.inner.db, table).map_err(|e| values::error(&e))?;
        Ok(values::document(&doc["nodes"]))
    }

    /// Every committed change as bytes, for `Database.importBytes`.
    #[wasm_bindgen(js_name = exportBytes)]
    pub fn export_bytes(&self) -> Result<Vec<u8>, JsValue> {
        self.inner.db.export().map_err(|e| values::error(&e))
    }

    /// Resolves once every committed change so far is saved to IndexedDB (at once without
    /// `persist`); rejects if a save failed.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn persisted(&self) -> Promise {
        match &self.inner.persisted {
            Some(p) => p.last_save.borrow().clone(),
            None => Promise::resolve(&JsValue::UNDEFINED),
        }
    }
}

fn parameters(params: Option<Array>) -> Result<Vec<omendb_engine::types::Value>, JsValue> {
    params
        .map(|a| a.iter().map(|p| values::parameter(&p)).collect())
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| values::error(&e))
}

/// A statement planned once (`db.prepare(sql)`), run with `query(params)`.
#[wasm_bindgen]
pub struct PreparedStatement {
    inner: Rc<Inner>,
    prepared: Prepared,
    /// The result columns as JavaScript, made once.
    columns: Array,
}

impl std::fmt::Debug for PreparedStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedStatement")
            .field("parameters", &self.prepared.parameter_types)
            .finish()
    }
}

#[wasm_bindgen]
impl PreparedStatement {
    /// The parameters' types as inferred from the statement, `$1` first.
    #[wasm_bindgen(getter, js_name = parameterTypes)]
    pub fn parameter_types(&self) -> Vec<String> {
        self.prepared
            .parameter_types
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The result's columns (empty for statements without rows).
    #[wasm_bindgen(getter, unchecked_return_type = "Column[]")]
    pub fn columns(&self) -> JsValue {
        self.columns.clone().into()
    }

    /// Runs the statement with `params`.
    #[wasm_bindgen(unchecked_return_type = "QueryResult")]
    pub fn query(
        &self,
        #[wasm_bindgen(unchecked_param_type = "any[] | undefined")] params: Option<Array>,
    ) -> Result<JsValue, JsValue> {
        let params = parameters(params)?;
        let outcome = self
            .inner
            .session
            .borrow_mut()
            .execute_prepared(&self.prepared, &params);
        self.inner.after_statement();
        let result = outcome.map_err(|e| values::error(&e))?;
        // Unless DDL changed the statement's columns since it was prepared, they are the ones
        // made at prepare time.
        if result.columns.len() == self.prepared.columns.len()
            && result
                .columns
                .iter()
                .zip(self.prepared.columns.iter())
                .all(|(a, b)| a == b)
        {
            Ok(values::result_with_columns(&result, &self.columns))
        } else {
            Ok(values::result(&result))
        }
    }
}
