//! The database: opening storage and recovering the catalog and indexes, sessions, DDL,
//! garbage collection and statistics.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::alex::{AlexStats, MemoryUsage};
use crate::auth::Role;
use crate::cache::{CacheStats, DeadRecords, RowCache};
use crate::catalog::{self, NEXT_OBJECT_ID, ObjectId, TableDef, TableSchema, ViewDef};
use crate::encoding::decode_row;
use crate::mvcc::{Clock, RowEntry, TableHandles, Transaction};
use crate::sql::system::SystemCatalog;
use crate::storage::{
    Key, KeyPrefix, Storage, StorageConfig, StorageKind, WriteBatch, scan_prefix,
};
use crate::sync::{lock, read, write};
use crate::table::{IndexKey, IndexMark, RowKey, SecondaryIndex, Table, TableBuilder, TableState};
use crate::types::{Row, SharedRow, Value};
use crate::{Error, Result};

/// A change [`Database::alter_table`] makes.
#[derive(Debug, Clone, PartialEq)]
pub enum TableChange {
    AddColumn(crate::catalog::Column),
    /// Drops a column (not the primary key's) with the indexes that include it and the
    /// named CHECK constraints (those that read it).
    DropColumn {
        name: String,
        checks: Vec<String>,
    },
    RenameColumn {
        from: String,
        to: String,
    },
    RenameTo(String),
    /// Gives a table that has a hidden row id a primary key on these columns: the table is
    /// rebuilt under a new id with its rows keyed (and its learned index trained) on them.
    AddPrimaryKey(Vec<String>),
}

/// How to open a database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub storage: StorageConfig,
    /// Bytes of decoded rows the row cache may hold.
    pub cache_bytes: usize,
    /// Whether commits are synced to stable storage before they return (sessions can override).
    pub synchronous_commit: bool,
    /// Bytes the analytics engine may use for one query's operators (53200 beyond).
    pub analytics_memory: usize,
    /// Bytes of converted (Arrow) columns the analytics engine keeps for later queries over
    /// unchanged tables (0: none kept).
    pub analytics_cache: usize,
}

impl DatabaseConfig {
    /// The given backend in `data_dir` (`None`: redb in memory), with default settings.
    pub fn new(kind: StorageKind, data_dir: Option<std::path::PathBuf>) -> Self {
        Self {
            storage: StorageConfig::new(kind, data_dir),
            cache_bytes: 64 << 20,
            synchronous_commit: true,
            analytics_memory: 1 << 30,
            analytics_cache: 1 << 30,
        }
    }

    /// A database that lives in memory only.
    pub fn memory() -> Self {
        Self::new(StorageKind::Memory, None)
    }
}

/// An open database. Cheap to clone; every clone is the same database.
///
/// ```
/// use omendb_engine::catalog::{Column, TableDef};
/// use omendb_engine::types::{DataType, Value};
/// use omendb_engine::{Database, DatabaseConfig, Direction, RowKey};
///
/// let db = Database::open(DatabaseConfig::memory())?;
/// db.create_table(
///     TableDef::new("users")
///         .column(Column::new("id", DataType::BigInt))
///         .column(Column::new("name", DataType::Text).not_null())
///         .primary_key(&["id"]),
/// )?;
/// let session = db.session();
/// session.autocommit(|txn| {
///     txn.insert("users", vec![Value::Int(2), Value::from("grace")])?;
///     txn.insert("users", vec![Value::Int(1), Value::from("ada")])?;
///     Ok(())
/// })?;
///
/// let txn = session.begin_read_only()?;
/// let ada = txn.get("users", &RowKey::Int(1))?.expect("row 1");
/// assert_eq!(ada[1], Value::from("ada"));
/// let names: Vec<Value> = txn
///     .scan("users", .., Direction::Backward)?
///     .map(|item| item.map(|(_, row)| row[1].clone()))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(names, [Value::from("grace"), Value::from("ada")]);
/// # Ok::<(), omendb_engine::Error>(())
/// ```
/// The first bytes of [`Database::export`]'s output; the last byte is the format's version.
const EXPORT_MAGIC: [u8; 8] = *b"OMENDB\0\x01";

#[derive(Debug, Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

/// State shared by the database, its sessions and their transactions.
#[derive(Debug)]
pub(crate) struct Shared {
    pub storage: Arc<dyn Storage>,
    pub clock: Clock,
    pub cache: RowCache,
    /// Serialises commit validation, storage writes and index installation, and DDL.
    pub commit_lock: Mutex<()>,
    pub tables: RwLock<Tables>,
    /// Superseded versions and index entries, in commit order, awaiting the GC watermark.
    pub gc: Mutex<VecDeque<GcItem>>,
    pub retained_versions: AtomicUsize,
    pub retained_bytes: AtomicUsize,
    /// Bumped by every DDL statement, so transactions know when cached table handles expire.
    catalog_version: AtomicU64,
    pub synchronous_commit: bool,
    pub analytics_memory: usize,
    /// Arrow columns of unchanged tables, reused by analytical queries.
    #[cfg(feature = "analytics")]
    pub columnar: crate::analytics::ColumnarCache,
    /// Row locks of UPDATE and DELETE.
    pub locks: crate::mvcc::RowLocks,
    /// The system catalogs' view of the catalog, and the catalog version it was made at.
    system: Mutex<Option<(u64, Arc<SystemCatalog>)>>,
}

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub by_name: HashMap<String, Arc<Table>, foldhash::fast::RandomState>,
    pub views: BTreeMap<String, Arc<ViewDef>>,
    pub roles: BTreeMap<String, Role>,
    next_id: ObjectId,
}

/// Something garbage collection may release once no snapshot older than `ts` remains.
#[derive(Debug)]
pub(crate) struct GcItem {
    pub ts: u64,
    pub table: ObjectId,
    pub target: GcTarget,
}

#[derive(Debug)]
pub(crate) enum GcTarget {
    /// Older versions in a row entry's chain (and the entry itself if it is a deletion).
    Row(RowKey),
    /// A secondary-index entry removed from the newest versions at `ts`.
    IndexEntry { index: ObjectId, key: IndexKey },
}

/// A connection's view of the database: settings, the transactions it begins, and (for SQL,
/// see [`Session::execute`]) its open transaction block.
#[derive(Debug)]
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    synchronous_commit: bool,
    /// The transaction opened by SQL `BEGIN`, if any.
    pub(crate) block: Option<Transaction>,
    /// Whether a statement failed inside the block: only ROLLBACK (or COMMIT) is accepted.
    pub(crate) failed: bool,
    /// The block's savepoints, oldest first.
    pub(crate) savepoints: Vec<(String, crate::mvcc::Savepoint)>,
    /// When the block began (host clock, microseconds): what `now()` returns inside it.
    pub(crate) block_started: i64,
    /// Settings, the block's isolation level, cancellation.
    pub(crate) sql: crate::sql::SessionState,
    /// The table handles the last autocommit transaction took, lent to the next one (each
    /// would otherwise look its tables up in the catalog again, under its lock).
    handles: RefCell<TableHandles>,
}

/// A snapshot of the database's counters.
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    pub storage: &'static str,
    pub cache: CacheStats,
    pub mvcc: MvccStats,
    pub tables: Vec<TableStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MvccStats {
    pub active_transactions: usize,
    pub last_commit: u64,
    /// The newest commit written to storage, and the newest known to be synced: between them
    /// are commits waiting for a group sync.
    pub last_written: u64,
    pub last_durable: u64,
    pub commits: u64,
    /// Storage syncs; fewer than durable commits when group commit combined them.
    pub syncs: u64,
    /// Commits refused with a serialization failure.
    pub conflicts: u64,
    /// Superseded row versions held in memory for older snapshots.
    pub retained_versions: usize,
    pub retained_bytes: usize,
    /// Versions and index entries waiting for old snapshots to finish.
    pub pending_gc: usize,
    /// Row locks held by UPDATE and DELETE of open transactions.
    pub row_locks: usize,
    /// Transactions waiting for a row lock another holds.
    pub lock_waiters: usize,
}

#[derive(Debug, Clone)]
pub struct TableStats {
    pub name: String,
    /// Primary-index entries (live rows, plus deletions old snapshots may still see).
    pub entries: usize,
    pub index: AlexStats,
    pub index_memory: MemoryUsage,
    /// Entries over all secondary indexes.
    pub secondary_entries: usize,
}

/// One table's statistics.
fn table_stats(state: &TableState) -> TableStats {
    let (index, index_memory) = state.primary.stats();
    TableStats {
        name: state.schema.name.clone(),
        entries: state.primary.len(),
        index,
        index_memory,
        secondary_entries: state.indexes.iter().map(|i| i.entries.len()).sum(),
    }
}

impl Database {
    /// Opens the configured storage and recovers the catalog and every table's indexes.
    pub fn open(mut config: DatabaseConfig) -> Result<Self> {
        // Recycled log files make synchronous commits cheaper; without them there is nothing
        // to gain for the disk space they hold.
        let recycled = &mut config.storage.rocksdb.recycled_log_files;
        recycled.get_or_insert(if config.synchronous_commit { 2 } else { 0 });
        let storage = config.storage.open()?;
        Self::open_storage(storage, &config)
    }

    /// Opens a database on storage that is already open (`config.storage` is ignored).
    pub fn open_storage(storage: Arc<dyn Storage>, config: &DatabaseConfig) -> Result<Self> {
        let (schemas, next_id) = catalog::load(&*storage)?;
        let mut tables = Tables {
            by_name: HashMap::default(),
            views: catalog::load_views(&*storage)?
                .into_iter()
                .map(|view| (view.name.clone(), Arc::new(view)))
                .collect(),
            roles: scan_prefix(&*storage, &KeyPrefix::Roles.encode())?
                .map(|entry| {
                    let role = Role::decode(&entry?.1)?;
                    Ok((role.name.clone(), role))
                })
                .collect::<Result<_>>()?,
            next_id,
        };
        for schema in schemas {
            let name = schema.name.clone();
            let table = Table::load(&*storage, schema)?;
            tables.by_name.insert(name, Arc::new(table));
        }
        Ok(Self {
            shared: Arc::new(Shared {
                storage,
                clock: Clock::new(),
                cache: RowCache::new(config.cache_bytes),
                commit_lock: Mutex::new(()),
                tables: RwLock::new(tables),
                gc: Mutex::new(VecDeque::new()),
                retained_versions: AtomicUsize::new(0),
                retained_bytes: AtomicUsize::new(0),
                catalog_version: AtomicU64::new(1),
                synchronous_commit: config.synchronous_commit,
                analytics_memory: config.analytics_memory,
                #[cfg(feature = "analytics")]
                columnar: crate::analytics::ColumnarCache::new(config.analytics_cache),
                locks: crate::mvcc::RowLocks::default(),
                system: Mutex::new(None),
            }),
        })
    }

    pub fn session(&self) -> Session {
        Session {
            shared: self.shared.clone(),
            synchronous_commit: self.shared.synchronous_commit,
            block: None,
            failed: false,
            savepoints: Vec::new(),
            block_started: 0,
            sql: crate::sql::SessionState::default(),
            handles: Default::default(),
        }
    }

    /// The storage backend's name.
    pub fn storage_name(&self) -> &'static str {
        self.shared.storage.name()
    }

    /// Creates a table (and the indexes of its unique constraints), durably.
    pub fn create_table(&self, def: TableDef) -> Result<Arc<TableSchema>> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if relation_exists(&tables, &def.name) {
            return Err(Error::DuplicateTable(def.name));
        }
        let id = tables.next_id;
        let schema = TableSchema::from_def(def, id)?;
        let next_id = id + 1 + schema.indexes.len() as ObjectId;
        let mut batch = WriteBatch::new();
        batch.put(Key::Table(id).encode(), schema.encode()?);
        batch.put(Key::Meta(NEXT_OBJECT_ID).encode(), next_id.to_be_bytes());
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.next_id = next_id;
        let table = Arc::new(Table::create(schema, 0));
        let schema = read(&table.state).schema.clone();
        tables.by_name.insert(schema.name.clone(), table);
        Ok(schema)
    }

    /// Creates a view (`replace`: or replaces the one of that name), durably.
    pub fn create_view(&self, view: ViewDef, replace: bool) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        let replacing = replace && tables.views.contains_key(&view.name);
        if !replacing && relation_exists(&tables, &view.name) {
            return Err(Error::DuplicateTable(view.name));
        }
        let mut batch = WriteBatch::new();
        batch.put(Key::View(&view.name).encode(), view.encode()?);
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.views.insert(view.name.clone(), Arc::new(view));
        Ok(())
    }

    /// Drops a view, durably.
    pub fn drop_view(&self, name: &str) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if !tables.views.contains_key(name) {
            return Err(if tables.by_name.contains_key(name) {
                Error::WrongObjectType(format!("\"{name}\" is not a view"))
            } else {
                Error::UndefinedTable(name.to_string())
            });
        }
        let mut batch = WriteBatch::new();
        batch.delete(Key::View(name).encode());
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.views.remove(name);
        Ok(())
    }

    /// The view named `name`, if there is one.
    pub fn view(&self, name: &str) -> Option<Arc<ViewDef>> {
        read(&self.shared.tables).views.get(name).cloned()
    }

    /// Bumped by every change of the catalog (DDL, roles): plans made before are stale.
    pub fn catalog_version(&self) -> u64 {
        self.shared.catalog_version()
    }

    pub(crate) fn from_shared(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// What the system catalogs (`pg_class`, `information_schema.columns`, …) show, made
    /// again only after the catalog changes.
    pub fn system_catalog(&self) -> Arc<SystemCatalog> {
        let version = self.shared.catalog_version();
        if let Some((made_at, catalog)) = lock(&self.shared.system).as_ref() {
            if *made_at == version {
                return catalog.clone();
            }
        }
        let (tables, views, roles) = {
            let tables = read(&self.shared.tables);
            (
                tables
                    .by_name
                    .values()
                    .map(|t| read(&t.state).schema.clone())
                    .collect::<Vec<_>>(),
                tables.views.values().cloned().collect::<Vec<_>>(),
                tables.roles.values().cloned().collect::<Vec<_>>(),
            )
        };
        let views = views
            .into_iter()
            .map(|view| {
                let types = crate::sql::planner::view_column_types(self, &view);
                (view, types)
            })
            .collect();
        let catalog = Arc::new(SystemCatalog::new(tables, views, roles));
        *lock(&self.shared.system) = Some((version, catalog.clone()));
        catalog
    }

    /// The names of all views, sorted.
    pub fn view_names(&self) -> Vec<String> {
        read(&self.shared.tables).views.keys().cloned().collect()
    }

    /// Drops a table with its rows and indexes, durably, in one atomic write.
    pub fn drop_table(&self, name: &str) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if tables.views.contains_key(name) {
            return Err(Error::WrongObjectType(format!("\"{name}\" is not a table")));
        }
        let table = tables
            .by_name
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(name.to_string()))?;
        // Waits for readers in the middle of a batch; later batches see the table dropped.
        let mut state = write(&table.state);
        let mut batch = WriteBatch::new();
        batch.delete(Key::Table(table.id).encode());
        batch.delete_prefix(&KeyPrefix::Rows(table.id));
        shared.storage.write(batch, true)?;
        table.dropped.store(true, Ordering::Release);
        state.retire();
        drop(state);
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.by_name.remove(name);
        shared.cache.forget_table(table.id);
        #[cfg(feature = "analytics")]
        shared.columnar.forget(table.id);
        Ok(())
    }

    /// Builds a secondary index over the current rows of `table`, durably. A unique index
    /// fails with 23505 if two rows already share values.
    pub fn create_index(
        &self,
        table: &str,
        name: &str,
        columns: &[&str],
        unique: bool,
    ) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if relation_exists(&tables, name) {
            return Err(Error::DuplicateObject(name.to_string()));
        }
        let table = tables
            .by_name
            .get(table)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(table.to_string()))?;
        let mut state = write(&table.state);
        let mut schema = TableSchema::clone(&state.schema);
        let names: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let positions = schema.column_positions(&names)?;
        let id = tables.next_id;
        schema.add_index(name.to_string(), positions, unique, id)?;
        let mut index = SecondaryIndex::empty(
            schema.indexes[schema.indexes.len() - 1].clone(),
            shared.clock.last_commit(),
        );
        // In the rows' order, then sorted and built bottom-up (`BTreeMap`'s `FromIterator`),
        // as a table's load builds its indexes: not inserted one by one at random places.
        let mut entries = Vec::new();
        let mut batch = WriteBatch::new();
        let mut seen: HashMap<Vec<u8>, Row> = HashMap::new();
        let prefix = KeyPrefix::Rows(table.id).encode();
        for entry in scan_prefix(&*shared.storage, &prefix)? {
            let (key, value) = entry?;
            let row = decode_row(&state.types, &state.missing, &value)?;
            let pk = state.key_of(&row);
            if index.enforces(&row) {
                let values = index.values_key(&row);
                if let Some(other) = seen.get(&values) {
                    return Err(unique_violation(&schema, &index.schema.columns, other));
                }
                seen.insert(values, row.clone());
            }
            debug_assert_eq!(&key[prefix.len()..], pk.encode().as_slice());
            let entry_key = index.entry_key(&row, &pk);
            let mark = IndexMark {
                pk,
                dead_since: None,
            };
            entries.push((entry_key, mark));
        }
        index.entries = entries.into_iter().collect();
        batch.put(Key::Table(table.id).encode(), schema.encode()?);
        batch.put(Key::Meta(NEXT_OBJECT_ID).encode(), (id + 1).to_be_bytes());
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.next_id = id + 1;
        state.set_schema(schema);
        state.indexes.push(index);
        Ok(())
    }

    /// Changes a table's definition, durably: adds a column (rows written before read as its
    /// default, without being rewritten), drops one (it stays in stored rows, unseen), renames
    /// a column, or renames the table.
    pub fn alter_table(&self, table: &str, change: TableChange) -> Result<()> {
        if let TableChange::AddPrimaryKey(columns) = &change {
            return self.add_primary_key(table, columns);
        }
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        let handle = tables
            .by_name
            .get(table)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(table.to_string()))?;
        // Before taking the table's latch: the name check reads every table's indexes.
        if let TableChange::RenameTo(name) = &change {
            if relation_exists(&tables, name) {
                return Err(Error::DuplicateTable(name.clone()));
            }
        }
        let mut state = write(&handle.state);
        let mut schema = TableSchema::clone(&state.schema);
        let mut dropped_indexes = Vec::new();
        match &change {
            TableChange::AddColumn(column) => {
                if schema.columns.iter().any(|c| c.name == column.name) {
                    return Err(Error::DuplicateColumn(column.name.clone()));
                }
                let mut column = column.clone();
                if let Some(default) = &column.default {
                    column.default = Some(column.data_type.admit(&column.name, default.clone())?);
                }
                // Existing rows read as the default: a NOT NULL column needs one.
                if !column.nullable && column.default.is_none() && state.primary.len() > 0 {
                    return Err(Error::NotNullViolation {
                        table: schema.name.clone(),
                        column: column.name.clone(),
                    });
                }
                schema.columns.push(column);
            }
            TableChange::RenameColumn { from, to } => {
                if schema.columns.iter().any(|c| c.name == *to) {
                    return Err(Error::DuplicateColumn(to.clone()));
                }
                let position = schema.column_position(from)?;
                schema.columns[position].name = to.clone();
            }
            TableChange::RenameTo(name) => schema.name = name.clone(),
            TableChange::AddPrimaryKey(_) => unreachable!("handled by add_primary_key"),
            TableChange::DropColumn { name, checks } => {
                let position = schema.column_position(name)?;
                if schema.primary_key.contains(&position) {
                    return Err(Error::NotSupported(format!(
                        "dropping column \"{name}\" of the primary key"
                    )));
                }
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut schema.indexes)
                    .into_iter()
                    .partition(|index| index.columns.contains(&position));
                schema.indexes = kept;
                dropped_indexes = gone.into_iter().map(|index| index.id).collect();
                schema.checks.retain(|c| !checks.contains(&c.name));
                let column = &mut schema.columns[position];
                column.name = format!("........pg.dropped.{}........", position + 1);
                column.dropped = true;
                column.nullable = true;
                column.default = None;
                column.generated = None;
            }
        }
        let mut batch = WriteBatch::new();
        batch.put(Key::Table(handle.id).encode(), schema.encode()?);
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        // Columns converted under the old schema can no longer be served: free them now.
        #[cfg(feature = "analytics")]
        shared.columnar.forget(handle.id);
        if let TableChange::RenameTo(name) = &change {
            tables.by_name.remove(table);
            tables.by_name.insert(name.clone(), handle.clone());
        }
        state.set_schema(schema);
        state
            .indexes
            .retain(|i| !dropped_indexes.contains(&i.schema.id));
        Ok(())
    }

    /// `ALTER TABLE … ADD PRIMARY KEY`: rewrites the table (rows and secondary-index entries)
    /// under new object ids in one storage batch, then loads it like a table at open.
    /// Transactions that still read or write the old table meet it dropped (42P01), as after
    /// DROP TABLE. Fails with 23502 for a NULL and 23505 for a duplicate in the key columns.
    fn add_primary_key(&self, table: &str, columns: &[String]) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        let old = tables
            .by_name
            .get(table)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(table.to_string()))?;
        let mut state = write(&old.state);
        let mut schema = TableSchema::clone(&state.schema);
        if !schema.primary_key.is_empty() {
            return Err(Error::InvalidDefinition(format!(
                "multiple primary keys for table \"{table}\" are not allowed"
            )));
        }
        let positions = schema.column_positions(columns)?;
        let id = tables.next_id;
        schema.id = id;
        for (k, index) in schema.indexes.iter_mut().enumerate() {
            index.id = id + 1 + k as ObjectId;
        }
        let next_id = id + 1 + schema.indexes.len() as ObjectId;
        for &position in &positions {
            schema.columns[position].nullable = false;
        }
        schema.primary_key = positions.clone();
        // An empty table of the new shape computes the new keys.
        let shape = Table::create(schema.clone(), 0);
        let new_state = read(&shape.state);
        let mut batch = WriteBatch::new();
        batch.delete(Key::Table(old.id).encode());
        batch.delete_prefix(&KeyPrefix::Rows(old.id));
        // The new table is built from the rows as they are rewritten (not read back from
        // storage), and its keys, sorted for its primary index, show any duplicate.
        let mut builder = TableBuilder::new(schema.clone());
        let old_rows = || scan_prefix(&*shared.storage, &KeyPrefix::Rows(old.id).encode());
        for entry in old_rows()? {
            let (_, value) = entry?;
            let row = decode_row(&state.types, &state.missing, &value)?;
            if let Some(&column) = positions.iter().find(|&&c| row[c].is_null()) {
                return Err(Error::NotNullViolation {
                    table: schema.name.clone(),
                    column: schema.columns[column].name.clone(),
                });
            }
            let pk = new_state.key_of(&row);
            batch.put(Key::Row(id, &pk.encode()).encode(), value);
            builder.add_row(&row, pk)?;
        }
        // As in PostgreSQL, a NULL anywhere is reported before a duplicate; the duplicate's
        // row is found again for the message.
        let rebuilt = match builder.build() {
            Ok(table) => table,
            Err(duplicate) => {
                for entry in old_rows()? {
                    let row = decode_row(&state.types, &state.missing, &entry?.1)?;
                    if new_state.key_of(&row) == duplicate {
                        return Err(unique_violation(&schema, &positions, &row));
                    }
                }
                return Err(Error::Corrupt("a duplicate key without its row".into()));
            }
        };
        batch.put(Key::Table(id).encode(), schema.encode()?);
        batch.put(Key::Meta(NEXT_OBJECT_ID).encode(), next_id.to_be_bytes());
        drop(new_state);
        shared.storage.write(batch, true)?;
        old.dropped.store(true, Ordering::Release);
        state.retire();
        drop(state);
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.next_id = next_id;
        shared.cache.forget_table(old.id);
        #[cfg(feature = "analytics")]
        shared.columnar.forget(old.id);
        tables.by_name.insert(table.to_string(), Arc::new(rebuilt));
        Ok(())
    }

    /// Drops a secondary index, durably.
    pub fn drop_index(&self, name: &str) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let tables = read(&shared.tables);
        let table = index_owner(&tables, name)
            .ok_or_else(|| Error::UndefinedObject(format!("index \"{name}\"")))?;
        let mut state = write(&table.state);
        let mut schema = TableSchema::clone(&state.schema);
        let position = schema
            .indexes
            .iter()
            .position(|i| i.name == name)
            .ok_or_else(|| Error::UndefinedObject(format!("index \"{name}\"")))?;
        let index = schema.indexes.remove(position);
        let mut batch = WriteBatch::new();
        batch.put(Key::Table(table.id).encode(), schema.encode()?);
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        state.set_schema(schema);
        state.indexes.retain(|i| i.schema.id != index.id);
        Ok(())
    }

    /// The schema of a table.
    pub fn table_schema(&self, name: &str) -> Result<Arc<TableSchema>> {
        let table = self.shared.table(name)?;
        let schema = read(&table.state).schema.clone();
        Ok(schema)
    }

    /// Creates a role, durably (42710 if one of that name exists).
    pub fn create_role(&self, role: Role) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if tables.roles.contains_key(&role.name) {
            return Err(Error::DuplicateRole(role.name));
        }
        let mut batch = WriteBatch::new();
        batch.put(Key::Role(&role.name).encode(), role.encode()?);
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.roles.insert(role.name.clone(), role);
        Ok(())
    }

    /// Changes a role with `change`, durably (42704 if there is none of that name).
    pub fn alter_role(&self, name: &str, change: impl FnOnce(&mut Role)) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        let mut role = tables
            .roles
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UndefinedRole(name.to_string()))?;
        change(&mut role);
        role.name = name.to_string();
        let mut batch = WriteBatch::new();
        batch.put(Key::Role(name).encode(), role.encode()?);
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.roles.insert(name.to_string(), role);
        Ok(())
    }

    /// Drops a role, durably.
    pub fn drop_role(&self, name: &str) -> Result<()> {
        let shared = &*self.shared;
        let _commit = lock(&shared.commit_lock);
        shared.clock.check_healthy()?;
        let mut tables = write(&shared.tables);
        if !tables.roles.contains_key(name) {
            return Err(Error::UndefinedRole(name.to_string()));
        }
        let mut batch = WriteBatch::new();
        batch.delete(Key::Role(name).encode());
        shared.storage.write(batch, true)?;
        shared.catalog_version.fetch_add(1, Ordering::Release);
        tables.roles.remove(name);
        Ok(())
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<Role> {
        read(&self.shared.tables).roles.get(name).cloned()
    }

    /// Every role, by name.
    pub fn roles(&self) -> Vec<Role> {
        read(&self.shared.tables).roles.values().cloned().collect()
    }

    /// Rows `table`'s primary index holds (versions not yet collected included): what the
    /// planner weighs a scan by. `None` if there is no such table.
    pub fn estimated_rows(&self, table: &str) -> Option<usize> {
        let table = self.shared.table(table).ok()?;
        Some(read(&table.state).primary.len())
    }

    /// Bytes the analytics engine may use for one query's operators.
    pub fn analytics_memory(&self) -> usize {
        self.shared.analytics_memory
    }

    /// Bytes of Arrow columns the analytics engine holds for later queries.
    #[cfg(feature = "analytics")]
    pub fn analytics_cache_bytes(&self) -> usize {
        self.shared.columnar.bytes()
    }

    /// The names of all tables, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = read(&self.shared.tables).by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// Releases versions no snapshot can read any more. Runs after every commit and
    /// transaction end; exposed for tests and maintenance.
    pub fn collect_garbage(&self) {
        self.shared.collect_garbage();
    }

    /// Makes every commit so far durable (also those made with `synchronous_commit` off).
    pub fn sync(&self) -> Result<()> {
        self.shared.storage.sync()
    }

    /// A stamp that changes whenever committed data or the catalog does (the newest commit and
    /// the catalog version): cheap to read, for callers that save or refresh after changes.
    pub fn change_stamp(&self) -> (u64, u64) {
        (self.shared.clock.last_commit(), self.catalog_version())
    }

    /// Every committed change so far as one self-contained byte string (a versioned header, then
    /// every storage entry), which [`Database::import`] opens again, e.g. in another process or
    /// a browser's next visit. Transactions still open contribute nothing: their writes are not
    /// in storage until they commit.
    pub fn export(&self) -> Result<Vec<u8>> {
        let entries = {
            let _commits = lock(&self.shared.commit_lock);
            self.shared
                .storage
                .scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)?
                .collect::<Result<Vec<_>>>()?
        };
        postcard::to_extend(&entries, EXPORT_MAGIC.to_vec())
            .map_err(|e| Error::Corrupt(format!("cannot encode the export: {e}")))
    }

    /// Opens a database from the bytes of [`Database::export`], in the configured storage, which
    /// must be empty. Bytes that are not an export fail with 22P03 and leave nothing behind.
    pub fn import(bytes: &[u8], config: &DatabaseConfig) -> Result<Self> {
        let not_an_export =
            |why: &str| Error::InvalidBinary(format!("the bytes are not an OmenDB export: {why}"));
        let body = bytes
            .strip_prefix(EXPORT_MAGIC.as_slice())
            .ok_or_else(|| not_an_export("the header is missing or of another version"))?;
        let entries: Vec<(Vec<u8>, Vec<u8>)> =
            postcard::from_bytes(body).map_err(|e| not_an_export(&e.to_string()))?;
        let storage = config.storage.open()?;
        if storage
            .scan(std::ops::Bound::Unbounded, std::ops::Bound::Unbounded)?
            .next()
            .is_some()
        {
            return Err(Error::Config(
                "an export can only be imported into empty storage".into(),
            ));
        }
        let mut batch = WriteBatch::new();
        for (key, value) in entries {
            batch.put(key, value);
        }
        storage.write(batch, true)?;
        Self::open_storage(storage, config)
    }

    /// A table's learned primary index as one consistent picture: its statistics and every
    /// node (levels, key ranges, models, fill), read under one lock.
    pub fn index_view(
        &self,
        table: &str,
    ) -> Result<(TableStats, Vec<crate::alex::NodeInfo<RowKey>>)> {
        let table = self.shared.table(table)?;
        let state = read(&table.state);
        Ok((table_stats(&state), state.primary.inspect()))
    }

    pub fn stats(&self) -> DatabaseStats {
        let shared = &*self.shared;
        let clock = &shared.clock;
        let mut dead = DeadRecords::default();
        let mut tables: Vec<TableStats> = read(&shared.tables)
            .by_name
            .values()
            .map(|table| {
                let state = read(&table.state);
                dead.records += state.dead_records.records;
                dead.bytes += state.dead_records.bytes;
                table_stats(&state)
            })
            .collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        DatabaseStats {
            storage: shared.storage.name(),
            cache: shared.cache.stats(dead),
            mvcc: MvccStats {
                active_transactions: clock.active_transactions(),
                last_commit: clock.last_commit(),
                last_written: clock.last_written(),
                last_durable: clock.last_durable(),
                commits: clock.commits.load(Ordering::Relaxed),
                syncs: clock.syncs.load(Ordering::Relaxed),
                conflicts: clock.conflicts.load(Ordering::Relaxed),
                retained_versions: shared.retained_versions.load(Ordering::Relaxed),
                retained_bytes: shared.retained_bytes.load(Ordering::Relaxed),
                pending_gc: lock(&shared.gc).len(),
                row_locks: shared.locks.held(),
                lock_waiters: shared.locks.waiters(),
            },
            tables,
        }
    }
}

/// Whether a table, view or index already has the name (they share one namespace).
fn relation_exists(tables: &Tables, name: &str) -> bool {
    tables.by_name.contains_key(name)
        || tables.views.contains_key(name)
        || index_owner(tables, name).is_some()
}

fn index_owner(tables: &Tables, index: &str) -> Option<Arc<Table>> {
    tables
        .by_name
        .values()
        .find(|t| {
            read(&t.state)
                .indexes
                .iter()
                .any(|i| i.schema.name == index)
        })
        .cloned()
}

/// The 23505 error for `row` clashing on `columns` of `schema` (constraint named after them).
pub(crate) fn unique_violation(schema: &TableSchema, columns: &[usize], row: &[Value]) -> Error {
    let constraint = if columns == schema.primary_key.as_slice() {
        format!("{}_pkey", schema.name)
    } else {
        schema
            .indexes
            .iter()
            .find(|i| i.columns == columns)
            .map_or_else(|| format!("{}_key", schema.name), |i| i.name.clone())
    };
    let names: Vec<&str> = columns
        .iter()
        .map(|&c| schema.columns[c].name.as_str())
        .collect();
    let values: Vec<String> = columns.iter().map(|&c| row[c].to_string()).collect();
    Error::UniqueViolation {
        constraint,
        detail: format!(
            "Key ({})=({}) already exists.",
            names.join(", "),
            values.join(", ")
        ),
    }
}

impl Shared {
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version.load(Ordering::Acquire)
    }

    pub fn table(&self, name: &str) -> Result<Arc<Table>> {
        read(&self.tables)
            .by_name
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UndefinedTable(name.to_string()))
    }

    /// Starts bringing `key`'s primary-index slot in table `name` into the CPU cache, so that
    /// a lookup of it after other work (a statement's set-up) finds it there instead of
    /// waiting for memory. A hint: an unknown table is left for the lookup to report, and a
    /// table being written is skipped rather than waited for.
    pub fn prefetch(&self, name: &str, key: &RowKey) {
        if let Some(table) = read(&self.tables).by_name.get(name) {
            table.prefetch(key);
        }
    }

    /// Whether `table` is still the table registered under its name (not dropped).
    pub fn is_current(&self, table: &Arc<Table>) -> bool {
        read(&self.tables)
            .by_name
            .values()
            .any(|t| Arc::ptr_eq(t, table))
    }

    /// The table with id `id`, if it still exists.
    pub fn table_by_id(&self, id: ObjectId) -> Option<Arc<Table>> {
        read(&self.tables)
            .by_name
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// Calls `f` with the newest committed version of the row under `key` (whose entry is
    /// `entry`): borrowed from the row cache, else read from storage (then queued for the
    /// cache). Callers hold the table's latch, so storage holds that version; a caller that
    /// keeps the row passes `SharedRow::clone`.
    pub fn read_current<R>(
        &self,
        table: &Table,
        state: &TableState,
        key: &RowKey,
        entry: &RowEntry,
        f: impl FnOnce(&SharedRow) -> R,
    ) -> Result<R> {
        if let Some(row) = self.cache.get(entry) {
            return Ok(f(row));
        }
        let row = SharedRow::from(self.read_stored(table.id, state, key)?);
        self.cache.queue(table, key.clone(), entry.ts, row.clone());
        Ok(f(&row))
    }

    /// The row stored under `key`, bypassing the cache.
    pub fn read_stored(&self, table: ObjectId, state: &TableState, key: &RowKey) -> Result<Row> {
        let bytes = self
            .storage
            .get(&key.storage_key(table))?
            .ok_or_else(|| Error::Corrupt(format!("row {key:?} of table {table} is missing")))?;
        decode_row(&state.types, &state.missing, &bytes)
    }

    /// Applies the table's queued cache admissions if its write latch is free right now.
    /// Called after a reader released its read latch; never waits.
    pub fn admit_pending(&self, table: &Table) {
        if !self.cache.has_pending(table) {
            return;
        }
        if let Ok(mut state) = table.state.try_write() {
            self.cache.apply(self, table, &mut state);
        }
    }

    pub fn collect_garbage(&self) {
        self.collect_garbage_upto(self.clock.watermark());
    }

    /// Releases what no snapshot at or after `watermark` (the clock's) can read.
    pub fn collect_garbage_upto(&self, watermark: u64) {
        let mut items: Vec<GcItem> = {
            let mut queue = lock(&self.gc);
            let ready = queue.iter().take_while(|i| i.ts <= watermark).count();
            queue.drain(..ready).collect()
        };
        if items.is_empty() {
            return;
        }
        items.sort_by_key(|i| i.table);
        let tables: HashMap<ObjectId, Arc<Table>> = read(&self.tables)
            .by_name
            .values()
            .map(|t| (t.id, t.clone()))
            .collect();
        for group in items.chunk_by(|a, b| a.table == b.table) {
            let Some(table) = tables.get(&group[0].table) else {
                continue;
            };
            let mut state = write(&table.state);
            for item in group {
                match &item.target {
                    GcTarget::Row(key) => {
                        let Some(entry) = state.primary.get_mut(key) else {
                            continue;
                        };
                        let (released, gone) = entry.prune(watermark);
                        self.retained_versions
                            .fetch_sub(released.versions, Ordering::Relaxed);
                        self.retained_bytes
                            .fetch_sub(released.bytes, Ordering::Relaxed);
                        if gone {
                            state.primary.remove(key);
                        }
                    }
                    GcTarget::IndexEntry { index, key } => {
                        let Some(index) = state.indexes.iter_mut().find(|i| i.schema.id == *index)
                        else {
                            continue;
                        };
                        let dead = index.entries.get(key).and_then(|m| m.dead_since);
                        if dead.is_some_and(|ts| ts <= watermark) {
                            index.entries.remove(key);
                        }
                    }
                }
            }
        }
    }
}

impl Session {
    /// The database this session belongs to.
    pub fn database(&self) -> Database {
        Database {
            shared: self.shared.clone(),
        }
    }

    /// Begins a read-write transaction at a snapshot of everything committed so far.
    pub fn begin(&self) -> Result<Transaction> {
        Transaction::begin(self.shared.clone(), false, self.synchronous_commit)
    }

    /// Begins a read-only transaction: writes fail with 25006.
    pub fn begin_read_only(&self) -> Result<Transaction> {
        Transaction::begin(self.shared.clone(), true, self.synchronous_commit)
    }

    /// [`Shared::prefetch`] for the next autocommit statement, through the table handle the
    /// session's last one took if it is still current (no catalog lock, no name lookup).
    pub(crate) fn prefetch_autocommit(&self, table: &str, key: &RowKey) {
        let handles = self.handles.borrow();
        match handles.current(table, self.shared.catalog_version()) {
            Some(handle) => handle.prefetch(key),
            None => self.shared.prefetch(table, key),
        }
    }

    /// Runs `f` in its own transaction and commits it (rolls back if `f` fails).
    pub fn autocommit<T>(&self, f: impl FnOnce(&mut Transaction) -> Result<T>) -> Result<T> {
        let handles = self.handles.take();
        let mut txn =
            Transaction::begin_with(self.shared.clone(), false, self.synchronous_commit, handles)?;
        let value = f(&mut txn);
        self.handles.replace(txn.take_handles());
        let value = value?;
        txn.commit()?;
        Ok(value)
    }

    /// Whether this session's commits wait for a storage sync (PostgreSQL's
    /// `synchronous_commit`).
    pub fn set_synchronous_commit(&mut self, on: bool) {
        self.synchronous_commit = on;
    }

    pub fn synchronous_commit(&self) -> bool {
        self.synchronous_commit
    }
}
