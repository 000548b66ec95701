//! The planner: binds a parsed statement against the catalog and picks how to execute it —
//! in particular the access path into the learned primary index (point lookup, range scan, or
//! full scan).

mod ddl;
mod expr;
mod join;
mod modify;
mod select;

use std::ops::Bound;
use std::sync::Arc;

pub use self::expr::Scope;
use super::aggregate::Aggregate;
use super::copy::CopyFormat;
use super::expr::BoundExpr;
use super::parser::ast::{BinaryOp, Copy, RoleOptions, Statement};
pub use super::parser::ast::{JoinKind, SetOp};
use super::settings::Isolation;
use super::system::SystemCatalog;
use crate::catalog::{IndexSchema, TableDef, TableSchema, ViewDef};
use crate::mvcc::Direction;
use crate::types::{DataType, Value};
use crate::{Database, Error, Result, Transaction};

/// What the planner needs to know about tables.
pub trait Catalog {
    fn table(&self, name: &str) -> Result<Arc<TableSchema>>;

    fn view(&self, name: &str) -> Option<Arc<ViewDef>>;

    /// Inside a recursive WITH query's recursive part, the work table of that name.
    fn work_table(&self, _name: &str) -> Option<Arc<TableSchema>> {
        None
    }

    /// The system catalogs (`pg_class`, …), where this catalog can show them.
    fn system(&self) -> Option<Arc<SystemCatalog>> {
        None
    }
}

impl Catalog for Database {
    fn table(&self, name: &str) -> Result<Arc<TableSchema>> {
        self.table_schema(name)
    }

    fn view(&self, name: &str) -> Option<Arc<ViewDef>> {
        Database::view(self, name)
    }

    fn system(&self) -> Option<Arc<SystemCatalog>> {
        Some(self.system_catalog())
    }
}

impl Catalog for Transaction {
    fn table(&self, name: &str) -> Result<Arc<TableSchema>> {
        self.table_schema(name)
    }

    fn view(&self, name: &str) -> Option<Arc<ViewDef>> {
        Transaction::view(self, name)
    }

    fn system(&self) -> Option<Arc<SystemCatalog>> {
        Some(self.database().system_catalog())
    }
}

/// A catalog without the system catalogs: what views are typed against while the system
/// catalogs are made (a view over `pg_class` cannot be typed then; its columns show as text).
struct WithoutSystem<'a>(&'a Database);

impl Catalog for WithoutSystem<'_> {
    fn table(&self, name: &str) -> Result<Arc<TableSchema>> {
        self.0.table_schema(name)
    }

    fn view(&self, name: &str) -> Option<Arc<ViewDef>> {
        self.0.view(name)
    }
}

/// The types of a view's columns, found by planning its query (text where it cannot be).
pub fn view_column_types(db: &Database, view: &ViewDef) -> Vec<DataType> {
    let planned =
        super::parser::parse(&view.query).and_then(|mut statements| match statements.pop() {
            Some(Statement::Select(query, _)) => select::select(&query, &WithoutSystem(db)),
            _ => Err(Error::Corrupt(format!("view \"{}\"", view.name))),
        });
    match planned {
        Ok(plan) => plan.columns.iter().map(|c| c.data_type).collect(),
        Err(_) => vec![DataType::Text; view.columns.len()],
    }
}

/// Facts about a plan, found once when it is made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanFacts {
    /// It has subqueries to run before it.
    pub subqueries: bool,
    /// It reads the transaction's or statement's clock (`now()` and friends).
    pub clock: bool,
}

/// An executable plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    CreateTable {
        def: TableDef,
        if_not_exists: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
    CreateIndex {
        name: String,
        table: String,
        columns: Vec<String>,
        unique: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    AlterTable {
        table: String,
        change: crate::TableChange,
        /// ADD COLUMN IF NOT EXISTS.
        if_not_exists: bool,
    },
    Begin {
        read_only: bool,
        isolation: Option<Isolation>,
    },
    SetTransaction {
        read_only: Option<bool>,
        isolation: Option<Isolation>,
        /// The session's default rather than the running transaction's.
        session: bool,
    },
    Set {
        name: String,
        value: Option<String>,
    },
    ResetAll,
    Show(String),
    Commit,
    Rollback,
    Savepoint(String),
    RollbackTo(String),
    Release(String),
    Insert {
        table: String,
        source: InsertRows,
        /// SERIAL columns the rows leave to their counters.
        serial: Vec<usize>,
        checks: Vec<CheckPlan>,
        on_conflict: Option<ConflictPlan>,
        returning: Option<Returning>,
    },
    Select(Box<SelectPlan>),
    Update {
        source: TableSource,
        /// UPDATE … FROM: the target joined with the FROM tables (then `source` is unused).
        joined: Option<Box<JoinedTarget>>,
        filter: Option<BoundExpr>,
        /// Column position → new value (evaluated on the old row).
        assignments: Vec<(usize, BoundExpr)>,
        checks: Vec<CheckPlan>,
        returning: Option<Returning>,
    },
    Delete {
        source: TableSource,
        /// DELETE … USING: the target joined with the USING tables.
        joined: Option<Box<JoinedTarget>>,
        filter: Option<BoundExpr>,
        returning: Option<Returning>,
    },
    CreateView {
        view: ViewDef,
        replace: bool,
    },
    DropView {
        names: Vec<String>,
        if_exists: bool,
    },
    /// A statement with nothing left to do (`… IF EXISTS` of something absent): its tag.
    Nothing(&'static str),
    /// TRUNCATE: one DELETE of every row per table.
    Truncate(Vec<Plan>),
    /// DISCARD: outside a transaction block only; ALL resets the settings.
    Discard(bool),
    /// Role management, run by the session (which checks the privilege).
    CreateRole {
        name: String,
        if_not_exists: bool,
        options: RoleOptions,
    },
    AlterRole {
        name: String,
        options: RoleOptions,
    },
    DropRole {
        names: Vec<String>,
        if_exists: bool,
    },
    /// VACUUM or ANALYZE (`vacuum` false): nothing to do once the tables are checked, since
    /// old row versions are reclaimed as soon as no snapshot reads them (at every commit)
    /// and the planner keeps no statistics.
    Maintenance {
        vacuum: bool,
    },
    /// COPY, run by [`Session::start_copy`](crate::Session::start_copy) with the data the
    /// client streams (or receives).
    Copy(Box<CopyPlan>),
    /// The plan of a statement, printed (and with ANALYZE, run and measured).
    Explain {
        analyze: bool,
        timing: bool,
        plan: Box<Plan>,
    },
}

/// The target of UPDATE … FROM / DELETE … USING joined with the other tables: rows are the
/// target's row (its first `width` columns) followed by the others'. The filter, assignments
/// and RETURNING are bound over such rows.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedTarget {
    pub source: Source,
    pub width: usize,
}

/// A CHECK constraint bound over the table's row.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckPlan {
    pub name: String,
    pub expr: BoundExpr,
}

/// What COPY does.
#[derive(Debug, Clone, PartialEq)]
pub enum CopyPlan {
    /// Rows from the client into a table, in batches of INSERTs.
    From {
        target: InsertTarget,
        format: CopyFormat,
    },
    /// A query's rows to the client.
    To {
        query: Box<SelectPlan>,
        format: CopyFormat,
    },
}

/// An INSERT without its rows: the table, the columns each input row fills (with their
/// names and types) and what the other columns get.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertTarget {
    pub table: String,
    pub columns: Vec<(usize, String, DataType)>,
    /// A whole row of defaults, into which each input row's values go.
    pub defaults: Vec<BoundExpr>,
    pub serial: Vec<usize>,
    pub checks: Vec<CheckPlan>,
}

/// The rows an INSERT writes, each a whole row in table column order.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertRows {
    Values(Vec<Vec<BoundExpr>>),
    /// A query's rows, each mapped to a table row by `row` (over the query's output row).
    Query {
        query: Box<SelectPlan>,
        row: Vec<BoundExpr>,
    },
}

/// ON CONFLICT: which unique constraint it handles, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictPlan {
    /// The constraint's name (`t_pkey` or a unique index's name); `None` handles any.
    pub constraint: Option<String>,
    /// The constraint's columns, to find the conflicting row.
    pub columns: Vec<usize>,
    /// DO UPDATE; `None` is DO NOTHING.
    pub update: Option<ConflictUpdatePlan>,
}

/// DO UPDATE: assignments and WHERE over the existing row followed by the proposed one
/// (`excluded`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictUpdatePlan {
    pub assignments: Vec<(usize, BoundExpr)>,
    pub filter: Option<BoundExpr>,
}

/// RETURNING: expressions over the written rows (new rows; deleted rows for DELETE).
#[derive(Debug, Clone, PartialEq)]
pub struct Returning {
    pub projection: Vec<BoundExpr>,
    pub columns: Arc<[OutputColumn]>,
}

/// A query over at most one table.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectPlan {
    /// `None`: one row with no columns (`SELECT 1`).
    pub source: Option<Source>,
    pub filter: Option<BoundExpr>,
    /// Sort keys, on the source row; empty when the scan already delivers the order.
    pub order: Vec<SortKey>,
    pub offset: Option<BoundExpr>,
    pub limit: Option<BoundExpr>,
    /// GROUP BY / aggregates: rows become groups before ORDER BY and the projection.
    pub grouping: Option<GroupPlan>,
    /// UNION/INTERSECT/EXCEPT: the rows come from combining queries (then `source` is none).
    pub set: Option<Box<SetPlan>>,
    /// SELECT DISTINCT: duplicate result rows are dropped.
    pub distinct: bool,
    /// SELECT DISTINCT ON: of the (sorted) rows with equal values of these, the first stays.
    pub distinct_on: Vec<BoundExpr>,
    /// Window function calls: their values are appended to each row (after grouping) for
    /// ORDER BY and the projection to read.
    pub windows: Vec<super::window::WindowPlan>,
    /// A point query: a primary-key lookup with only a filter and a projection (no grouping,
    /// windows, sorting, deduplication, paging or correlated subqueries) — run straight.
    pub point: bool,
    /// A scan of one table that only filters, projects and pages its rows — run streaming.
    pub scan_only: bool,
    pub projection: Vec<BoundExpr>,
    pub columns: Arc<[OutputColumn]>,
    /// The result columns that are set-returning calls (`unnest(a)`): each projected row
    /// becomes as many rows as the longest of their arrays, the shorter ones padded with NULL.
    pub expand: Vec<usize>,
}

/// Set operations over queries' result rows, left to right.
#[derive(Debug, Clone, PartialEq)]
pub struct SetPlan {
    pub head: SelectPlan,
    pub parts: Vec<SetPart>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SetPart {
    pub op: SetOp,
    pub all: bool,
    pub query: SelectPlan,
}

/// Grouping: each group's row is its key values followed by its aggregates' results, and
/// HAVING, ORDER BY and the projection are bound over such rows.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    pub keys: Vec<BoundExpr>,
    pub aggregates: Vec<Aggregate>,
    pub having: Option<BoundExpr>,
}

/// Where a query's rows come from: a table, or a join of two sources. Rows of a join are the
/// left row's columns followed by the right row's.
// A table is the common source; the others are boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Table(TableSource),
    Join(Box<JoinPlan>),
    /// A subquery in FROM.
    Derived(Box<DerivedSource>),
    /// A VALUES list.
    Values(Box<ValuesSource>),
    /// A `WITH RECURSIVE` query: its base rows, then its step's rows until a step adds none.
    Recursive(Box<RecursiveSource>),
    /// The rows of the recursive query's previous step (inside its step only).
    WorkTable(Box<WorkTableSource>),
    /// A set-returning function in FROM.
    Function(Box<FunctionSource>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSource {
    pub name: String,
    pub column_names: Arc<[String]>,
    pub function: SetFunction,
    pub args: Vec<BoundExpr>,
}

/// The set-returning functions FROM can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetFunction {
    /// `generate_series(start, stop [, step])` over integers (arguments as BIGINT).
    GenerateSeries,
    /// `unnest(array)`: a row per element.
    Unnest,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecursiveSource {
    pub name: String,
    pub column_names: Arc<[String]>,
    pub base: SelectPlan,
    pub step: SelectPlan,
    pub all: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkTableSource {
    pub name: String,
    pub column_names: Arc<[String]>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValuesSource {
    pub name: String,
    pub column_names: Arc<[String]>,
    pub rows: Vec<Vec<BoundExpr>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DerivedSource {
    pub name: String,
    pub column_names: Arc<[String]>,
    pub query: SelectPlan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinPlan {
    pub left: Source,
    pub right: Source,
    pub kind: JoinKind,
    /// The ON condition over the joined row.
    pub on: Option<BoundExpr>,
    /// Equality conjuncts of ON usable as hash keys: each pair's left expression reads the
    /// left row, the right one the right row (columns counted from the right row's start).
    pub equi: Vec<(BoundExpr, BoundExpr)>,
    pub left_width: usize,
    pub right_width: usize,
    /// The joined row's columns the query reads (`None`: all). The others are left NULL in
    /// joined rows rather than copied.
    pub needed: Option<Arc<[bool]>>,
}

/// Rows of a table, read through one access path, in one direction of key order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSource {
    pub table: Arc<str>,
    /// The table's column names, for printing plans.
    pub column_names: Arc<[String]>,
    pub access: Access,
    /// A filter on this table's own columns pushed below a join (the query's WHERE still
    /// applies above it).
    pub pushed: Option<BoundExpr>,
    pub direction: Direction,
    /// The table's primary index is keyed by one integer (a key value is its row key).
    pub integer_key: bool,
    /// For a range access: the query's filter without the conjuncts the range decides, to
    /// apply instead of the filter when the range bounds are keys.
    pub residual: Option<BoundExpr>,
}

impl TableSource {
    /// Every row of `schema`'s table matching `access`, in `direction`.
    pub fn new(schema: &TableSchema, access: Access, direction: Direction) -> Self {
        Self {
            table: schema.name.as_str().into(),
            column_names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            access,
            pushed: None,
            direction,
            integer_key: schema.has_integer_key(),
            residual: None,
        }
    }
}

/// How rows are found: in the primary index, or through a secondary one.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Every row, in key order.
    Full,
    /// The row with this primary key (a one-column key): a constant or a parameter.
    Key(BoundExpr),
    /// The row with this composite primary key: each key column (its position in the table)
    /// with a constant or a parameter, in the key's column order.
    CompositeKey(Vec<(usize, BoundExpr)>),
    /// The rows with any of these composite primary keys (each like [`Access::CompositeKey`]):
    /// equalities and `IN` lists on every key column, one lookup per combination.
    CompositeKeys(Vec<Vec<(usize, BoundExpr)>>),
    /// The rows whose composite primary key starts with these leading columns' values (each
    /// key column with a constant or a parameter, in the key's column order): a key range.
    KeyPrefix(Vec<(usize, BoundExpr)>),
    /// Rows whose one-column primary key lies in a range.
    Range(Bound<BoundExpr>, Bound<BoundExpr>),
    /// The rows whose composite primary key starts with equal leading columns (perhaps none)
    /// and whose next key column lies in a range: one key range.
    KeyRange(KeyRange),
    /// The rows with any of these primary keys (`pk IN (…)`): one lookup each.
    Keys(Vec<BoundExpr>),
    /// Rows found through a secondary index (in its order, not the key's).
    Index(IndexAccess),
}

/// A range of a composite primary key: leading key columns equal to constants or parameters
/// (each with its position in the table, in the key's order), then the next key column between
/// two bounds (at least one bounded).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRange {
    pub prefix: Vec<(usize, BoundExpr)>,
    pub column: usize,
    pub lower: Bound<BoundExpr>,
    pub upper: Bound<BoundExpr>,
}

/// A secondary-index scan: the rows whose leading indexed columns equal `prefix`, and whose
/// next indexed column equals one of `any` (when it is not empty) or else lies between
/// `lower` and `upper`.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexAccess {
    pub index: String,
    /// The indexed columns' positions in the table, for printing plans.
    pub columns: Vec<usize>,
    pub prefix: Vec<BoundExpr>,
    pub any: Vec<BoundExpr>,
    pub lower: Bound<BoundExpr>,
    pub upper: Bound<BoundExpr>,
}

impl IndexAccess {
    /// All of `index`, in its order.
    fn whole(index: &IndexSchema) -> Self {
        Self {
            index: index.name.clone(),
            columns: index.columns.clone(),
            prefix: Vec::new(),
            any: Vec::new(),
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub expr: BoundExpr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A result column: its name (PostgreSQL's: the column name, the alias, or `?column?`) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    pub name: String,
    pub data_type: DataType,
}

/// Plans one statement.
pub fn plan(statement: &Statement, catalog: &dyn Catalog) -> Result<Plan> {
    match statement {
        Statement::CreateTable(create) => ddl::create_table(create),
        Statement::DropTable { names, if_exists } => Ok(Plan::DropTable {
            names: names.iter().map(|n| n.name.clone()).collect(),
            if_exists: *if_exists,
        }),
        Statement::CreateIndex {
            name,
            table,
            columns,
            unique,
            if_not_exists,
        } => Ok(Plan::CreateIndex {
            name: name.name.clone(),
            table: table.name.clone(),
            columns: columns.iter().map(|c| c.name.clone()).collect(),
            unique: *unique,
            if_not_exists: *if_not_exists,
        }),
        Statement::DropIndex { names, if_exists } => Ok(Plan::DropIndex {
            names: names.iter().map(|n| n.name.clone()).collect(),
            if_exists: *if_exists,
        }),
        Statement::Begin {
            read_only,
            isolation,
        } => Ok(Plan::Begin {
            read_only: *read_only,
            isolation: isolation.as_deref().map(Isolation::parse).transpose()?,
        }),
        Statement::SetTransaction {
            read_only,
            isolation,
            session,
        } => Ok(Plan::SetTransaction {
            read_only: *read_only,
            isolation: isolation.as_deref().map(Isolation::parse).transpose()?,
            session: *session,
        }),
        Statement::Set { name, value } => Ok(Plan::Set {
            name: name.clone(),
            value: value.clone(),
        }),
        Statement::ResetAll => Ok(Plan::ResetAll),
        Statement::Show(name) => Ok(Plan::Show(name.clone())),
        Statement::AlterTable { table, change } => ddl::alter_table(table, change, catalog),
        Statement::CreateView {
            name,
            columns,
            query,
            sql,
            replace,
            if_not_exists,
        } => {
            if *if_not_exists && catalog.view(&name.name).is_some() {
                return Ok(Plan::Nothing("CREATE VIEW"));
            }
            // The query must plan now; its result columns name the view's, unless renamed.
            let plan = select::select(query, catalog)?;
            if columns.len() > plan.columns.len() {
                return Err(crate::Error::Syntax(
                    "CREATE VIEW specifies more column names than columns".into(),
                )
                .at(name.position));
            }
            let names: Vec<String> = plan
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    columns
                        .get(i)
                        .map_or_else(|| c.name.clone(), |n| n.name.clone())
                })
                .collect();
            if let Some(twice) = names
                .iter()
                .enumerate()
                .find(|(i, n)| names[..*i].contains(n))
            {
                return Err(crate::Error::DuplicateColumn(twice.1.clone()).at(name.position));
            }
            Ok(Plan::CreateView {
                view: ViewDef {
                    name: name.name.clone(),
                    columns: names,
                    query: sql.clone(),
                },
                replace: *replace,
            })
        }
        Statement::DropView { names, if_exists } => Ok(Plan::DropView {
            names: names.iter().map(|n| n.name.clone()).collect(),
            if_exists: *if_exists,
        }),
        Statement::Commit => Ok(Plan::Commit),
        Statement::Rollback => Ok(Plan::Rollback),
        Statement::Savepoint(name) => Ok(Plan::Savepoint(name.clone())),
        Statement::RollbackTo(name) => Ok(Plan::RollbackTo(name.clone())),
        Statement::Release(name) => Ok(Plan::Release(name.clone())),
        // TRUNCATE is a DELETE of every row: transactional, as in PostgreSQL.
        Statement::Truncate(tables) => {
            let mut plans = Vec::with_capacity(tables.len());
            for name in tables {
                let schema = table(catalog, name)?;
                plans.push(Plan::Delete {
                    source: TableSource::new(&schema, Access::Full, Direction::Forward),
                    joined: None,
                    filter: None,
                    returning: None,
                });
            }
            Ok(Plan::Truncate(plans))
        }
        Statement::Insert(insert) => modify::insert(insert, catalog),
        Statement::CreateRole {
            name,
            if_not_exists,
            options,
        } => Ok(Plan::CreateRole {
            name: name.name.clone(),
            if_not_exists: *if_not_exists,
            options: options.clone(),
        }),
        Statement::AlterRole { name, options } => Ok(Plan::AlterRole {
            name: name.name.clone(),
            options: options.clone(),
        }),
        Statement::DropRole { names, if_exists } => Ok(Plan::DropRole {
            names: names.iter().map(|n| n.name.clone()).collect(),
            if_exists: *if_exists,
        }),
        Statement::Nothing(tag) => Ok(Plan::Nothing(tag)),
        Statement::Discard(all) => Ok(Plan::Discard(*all)),
        Statement::Maintenance { vacuum, tables } => {
            for name in tables {
                table(catalog, name)?;
            }
            Ok(Plan::Maintenance { vacuum: *vacuum })
        }
        Statement::Copy(Copy::From {
            table,
            columns,
            options,
        }) => Ok(Plan::Copy(Box::new(CopyPlan::From {
            target: modify::insert_target(table, columns, catalog)?,
            format: options.format()?,
        }))),
        Statement::Copy(Copy::To { query, options }) => Ok(Plan::Copy(Box::new(CopyPlan::To {
            query: Box::new(select::select(query, catalog)?),
            format: options.format()?,
        }))),
        Statement::Select(select, _) => {
            select::select(select, catalog).map(|p| Plan::Select(Box::new(p)))
        }
        Statement::Update(update) => modify::update(update, catalog),
        Statement::Delete(delete) => modify::delete(delete, catalog),
        Statement::Explain {
            analyze,
            timing,
            statement,
        } => Ok(Plan::Explain {
            analyze: *analyze,
            timing: *timing,
            plan: Box::new(plan(statement, catalog)?),
        }),
    }
}

/// Looks a table up, pointing errors at its name.
fn table(catalog: &dyn Catalog, name: &super::parser::ast::Ident) -> Result<Arc<TableSchema>> {
    if catalog.view(&name.name).is_some() {
        return Err(crate::Error::NotSupported(format!(
            "writing to view \"{}\": views are read-only",
            name.name
        ))
        .at(name.position));
    }
    catalog.table(&name.name).map_err(|e| e.at(name.position))
}

/// The access path a filter allows. On a one-column primary key `pk = c` is a point lookup,
/// `pk IN (…)` one lookup per value, and comparisons with constants bound a range scan; on a
/// composite primary key, an equality on every key column is a point lookup and equalities
/// on its leading columns a key range (weighed like an index scan with as many), narrowed by
/// comparisons on the next key column; on a
/// secondary index, equalities (or an `IN` list) on its leading columns, and comparisons on the
/// next, bound an index scan. A point lookup wins, then key lookups, then the index scan with
/// the most equalities, then a key range, then an index range. The filter is still applied to
/// every row read, so the path only needs to cover the matching rows.
fn access_path(schema: &TableSchema, filter: Option<&BoundExpr>) -> Access {
    let Some(filter) = filter else {
        return Access::Full;
    };
    let conjuncts = conjuncts(filter);
    let primary = match schema.primary_key.as_slice() {
        [pk] => {
            let found = constraint(&conjuncts, *pk, schema.columns[*pk].data_type);
            match found {
                Constraint::Equal(value) => return Access::Key(value),
                Constraint::Any(values) => return Access::Keys(values),
                Constraint::Range(Bound::Unbounded, Bound::Unbounded) => None,
                Constraint::Range(lower, upper) => Some(Access::Range(lower, upper)),
            }
        }
        [] => None,
        columns => {
            if let Some(keys) = composite_keys(schema, columns, &conjuncts) {
                return keys;
            }
            // Every column of a composite key equal to a constant: one lookup.
            let leading: Vec<(usize, BoundExpr)> = columns
                .iter()
                .map_while(|&column| {
                    match constraint(&conjuncts, column, schema.columns[column].data_type) {
                        Constraint::Equal(value) => Some((column, value)),
                        _ => None,
                    }
                })
                .collect();
            if leading.len() == columns.len() {
                return Access::CompositeKey(leading);
            }
            // Then comparisons on the next key column: a range within that prefix.
            let next = columns[leading.len()];
            match constraint(&conjuncts, next, schema.columns[next].data_type) {
                Constraint::Range(lower, upper)
                    if lower != Bound::Unbounded || upper != Bound::Unbounded =>
                {
                    Some(Access::KeyRange(KeyRange {
                        prefix: leading,
                        column: next,
                        lower,
                        upper,
                    }))
                }
                // Equalities on leading key columns: the key range they start.
                _ => (!leading.is_empty()).then_some(Access::KeyPrefix(leading)),
            }
        }
    };
    let index = schema
        .indexes
        .iter()
        .filter_map(|index| index_access(schema, index, &conjuncts))
        .max_by_key(|a| {
            (
                a.prefix.len(),
                !a.any.is_empty(),
                a.lower != Bound::Unbounded || a.upper != Bound::Unbounded,
            )
        });
    match (primary, index) {
        // A key prefix against an index scan: the one with more equalities.
        (Some(Access::KeyPrefix(key)), index)
            if index.as_ref().is_none_or(|i| i.prefix.len() <= key.len()) =>
        {
            Access::KeyPrefix(key)
        }
        // A key range against an index scan: the index needs more equalities, or as many and
        // an `IN` list.
        (Some(Access::KeyRange(range)), index)
            if index.as_ref().is_none_or(|i| {
                i.prefix.len() < range.prefix.len()
                    || (i.prefix.len() == range.prefix.len() && i.any.is_empty())
            }) =>
        {
            Access::KeyRange(range)
        }
        (_, Some(index)) if !index.prefix.is_empty() || !index.any.is_empty() => {
            Access::Index(index)
        }
        (Some(range), _) => range,
        (None, Some(index)) => Access::Index(index),
        (None, None) => Access::Full,
    }
}

/// Most combinations of `IN` lists on a composite key's columns looked up one by one.
const MAX_KEY_COMBINATIONS: usize = 1024;

/// The point lookups of a composite key whose every column is equal to a value or to one of
/// an `IN` list's (at least one list, at most [`MAX_KEY_COMBINATIONS`] combinations).
fn composite_keys(
    schema: &TableSchema,
    columns: &[usize],
    conjuncts: &[&BoundExpr],
) -> Option<Access> {
    let mut choices = Vec::with_capacity(columns.len());
    for &column in columns {
        match constraint(conjuncts, column, schema.columns[column].data_type) {
            Constraint::Equal(value) => choices.push(vec![value]),
            Constraint::Any(values) => choices.push(values),
            Constraint::Range(..) => return None,
        }
    }
    let combinations = choices
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len()))?;
    if combinations <= 1 || combinations > MAX_KEY_COMBINATIONS {
        return None;
    }
    let mut keys: Vec<Vec<(usize, BoundExpr)>> = vec![Vec::new()];
    for (&column, values) in columns.iter().zip(&choices) {
        keys = keys
            .iter()
            .flat_map(|key| {
                values.iter().map(move |value| {
                    let mut key = key.clone();
                    key.push((column, value.clone()));
                    key
                })
            })
            .collect();
    }
    Some(Access::CompositeKeys(keys))
}

/// What the conjuncts say about one column, from comparisons with values of a type the
/// column's index can look up as they are.
enum Constraint {
    /// `column = value`.
    Equal(BoundExpr),
    /// `column IN (values…)`.
    Any(Vec<BoundExpr>),
    /// The bounds of its range (both unbounded: nothing known).
    Range(Bound<BoundExpr>, Bound<BoundExpr>),
}

fn constraint(conjuncts: &[&BoundExpr], column: usize, column_type: DataType) -> Constraint {
    let mut lower = Bound::Unbounded;
    let mut upper = Bound::Unbounded;
    let mut any = None;
    for conjunct in conjuncts {
        let (op, value) = match conjunct {
            BoundExpr::Binary {
                op, left, right, ..
            } => match (left.as_ref(), right.as_ref()) {
                (BoundExpr::Column(c), v) if *c == column => (*op, v),
                (v, BoundExpr::Column(c)) if *c == column => (flip(*op), v),
                _ => continue,
            },
            BoundExpr::InList {
                expr,
                list,
                negated: false,
            } if **expr == BoundExpr::Column(column)
                && !list.is_empty()
                && list.iter().all(|v| key_compatible(column_type, v)) =>
            {
                any = Some(list.clone());
                continue;
            }
            _ => continue,
        };
        if !key_compatible(column_type, value) {
            continue;
        }
        let value = value.clone();
        match op {
            BinaryOp::Eq => return Constraint::Equal(value),
            BinaryOp::Gt => lower = Bound::Excluded(value),
            BinaryOp::GtEq => lower = Bound::Included(value),
            BinaryOp::Lt => upper = Bound::Excluded(value),
            BinaryOp::LtEq => upper = Bound::Included(value),
            _ => {}
        }
    }
    match any {
        Some(values) => Constraint::Any(values),
        None => Constraint::Range(lower, upper),
    }
}

/// The scan of `index` the conjuncts allow, if they constrain its first column.
fn index_access(
    schema: &TableSchema,
    index: &IndexSchema,
    conjuncts: &[&BoundExpr],
) -> Option<IndexAccess> {
    let mut access = IndexAccess::whole(index);
    for &column in &index.columns {
        let data_type = schema.columns[column].data_type;
        if !index_lookup_type(data_type) {
            break;
        }
        match constraint(conjuncts, column, data_type) {
            Constraint::Equal(value) => access.prefix.push(value),
            Constraint::Any(values) => {
                access.any = values;
                break;
            }
            Constraint::Range(lower, upper) => {
                (access.lower, access.upper) = (lower, upper);
                break;
            }
        }
    }
    let bounded = access.lower != Bound::Unbounded || access.upper != Bound::Unbounded;
    (!access.prefix.is_empty() || !access.any.is_empty() || bounded).then_some(access)
}

/// The direction in which a scan of `access` delivers the ORDER BY `order`, if it does. Rows
/// come in primary-key order, so an ORDER BY of the key's columns in the key's order — those an
/// equality of the access fixes may appear anywhere, and anything after the whole key is
/// already decided — all ascending or all descending needs no sort. Key columns are never
/// NULL: NULLS FIRST or LAST changes nothing.
fn key_order(schema: &TableSchema, access: &Access, order: &[SortKey]) -> Option<Direction> {
    let fixed: &[(usize, BoundExpr)] = match access {
        Access::Full | Access::Range(..) => &[],
        Access::KeyPrefix(prefix) => prefix,
        Access::KeyRange(range) => &range.prefix,
        _ => return None,
    };
    if order.is_empty() || schema.primary_key.is_empty() {
        return None;
    }
    let is_fixed = |column: usize| fixed.iter().any(|(c, _)| *c == column);
    let mut rest = schema
        .primary_key
        .iter()
        .filter(|&&c| !is_fixed(c))
        .peekable();
    let mut direction = None;
    for key in order {
        if rest.peek().is_none() {
            break;
        }
        let BoundExpr::Column(column) = key.expr else {
            return None;
        };
        if is_fixed(column) {
            continue;
        }
        if rest.next() != Some(&column) {
            return None;
        }
        let this = match key.descending {
            true => Direction::Backward,
            false => Direction::Forward,
        };
        if direction.replace(this).is_some_and(|d| d != this) {
            return None;
        }
    }
    Some(direction.unwrap_or(Direction::Forward))
}

/// A scan of the whole of an index whose first column is `key`'s column, when the index's
/// order is `key`'s: ascending with NULLs last or descending with NULLs first.
fn ordered_index(schema: &TableSchema, key: &SortKey) -> Option<IndexAccess> {
    let BoundExpr::Column(column) = key.expr else {
        return None;
    };
    if key.nulls_first != key.descending || !index_lookup_type(schema.columns[column].data_type) {
        return None;
    }
    let index = schema
        .indexes
        .iter()
        .find(|i| i.columns.first() == Some(&column))?;
    Some(IndexAccess::whole(index))
}

/// Whether values of this type are equal exactly when their index encodings are: not for
/// types whose equality ignores some differences (NUMERIC's scale, CHAR's padding, an
/// INTERVAL's units, floating point's signed zeros and NaN).
fn index_lookup_type(data_type: DataType) -> bool {
    !matches!(data_type, DataType::Char(_))
        && matches!(
            data_type.unconstrained(),
            DataType::SmallInt
                | DataType::Integer
                | DataType::BigInt
                | DataType::Text
                | DataType::Boolean
                | DataType::Bytea
                | DataType::Date
                | DataType::Time
                | DataType::Timestamp
                | DataType::TimestampTz
                | DataType::Uuid
        )
}

/// Whether `expr` (a constant, or a parameter cast to the key's type) can be looked up in a
/// key of type `key_type` as it is.
fn key_compatible(key_type: DataType, expr: &BoundExpr) -> bool {
    let key_type = key_type.unconstrained();
    let same_kind =
        |t: DataType| t.unconstrained() == key_type || (t.is_integer() && key_type.is_integer());
    match expr {
        BoundExpr::Constant(value) => match (key_type, value) {
            (t, Value::Int(_)) => t.is_integer(),
            (DataType::Text, Value::Text(_))
            | (DataType::Boolean, Value::Boolean(_))
            | (DataType::Bytea, Value::Bytes(_))
            | (DataType::Numeric(_), Value::Numeric(_))
            | (DataType::Date, Value::Date(_))
            | (DataType::Time, Value::Time(_))
            | (DataType::Timestamp, Value::Timestamp(_))
            | (DataType::TimestampTz, Value::TimestampTz(_))
            | (DataType::Interval, Value::Interval(_))
            | (DataType::Uuid, Value::Uuid(_)) => true,
            _ => false,
        },
        BoundExpr::Cast { expr, to } => matches!(**expr, BoundExpr::Parameter(_)) && same_kind(*to),
        // The outer row's value, known before a correlated subquery runs.
        BoundExpr::Outer(_, ty) => same_kind(*ty),
        // Integer arithmetic on those (`id BETWEEN $1 AND $1 + 99`): exact, and the same for
        // every row. (An overflow while computing the bound falls back to a full scan.)
        BoundExpr::Binary {
            op: BinaryOp::Add | BinaryOp::Subtract | BinaryOp::Multiply,
            left,
            right,
            ty,
        } => {
            key_type.is_integer()
                && ty.is_integer()
                && key_compatible(key_type, left)
                && key_compatible(key_type, right)
        }
        _ => false,
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        other => other,
    }
}

/// The filter without the conjuncts the key lookups decide: `pk = k` when the access path is
/// a point lookup of `k`, `pk IN (list)` when it is one lookup per value of `list` (the values
/// are key-compatible, so a converted key matches exactly the rows the comparison would; one
/// that cannot be a key, NULL or out of range, matches no row either way).
fn covered_by_key(
    filter: Option<BoundExpr>,
    schema: &TableSchema,
    access: &Access,
) -> Option<BoundExpr> {
    let ([pk], Access::Key(_) | Access::Keys(_)) = (schema.primary_key.as_slice(), access) else {
        return filter;
    };
    let column = BoundExpr::Column(*pk);
    let decided = |c: &BoundExpr| match (c, access) {
        (
            BoundExpr::Binary {
                op: BinaryOp::Eq,
                left,
                right,
                ..
            },
            Access::Key(key),
        ) => (**left == column && **right == *key) || (**right == column && **left == *key),
        (
            BoundExpr::InList {
                expr,
                list,
                negated: false,
            },
            Access::Keys(keys),
        ) => **expr == column && list == keys,
        _ => false,
    };
    let filter = filter?;
    conjuncts(&filter)
        .into_iter()
        .filter(|c| !decided(c))
        .cloned()
        .reduce(join::and)
}

/// The filter without the conjuncts a range access decides (`pk > c` giving the range's
/// exclusive lower bound `c`, and so on), for [`TableSource::residual`].
fn range_residual(
    filter: Option<&BoundExpr>,
    schema: &TableSchema,
    access: &Access,
) -> Option<BoundExpr> {
    let (Access::Range(lower, upper), [pk]) = (access, schema.primary_key.as_slice()) else {
        return filter.cloned();
    };
    let filter = filter?;
    let column = BoundExpr::Column(*pk);
    let decided = |c: &BoundExpr| {
        let BoundExpr::Binary {
            op, left, right, ..
        } = c
        else {
            return false;
        };
        let (op, value) = match (**left == column, **right == column) {
            (true, false) => (*op, &**right),
            (false, true) => (flip(*op), &**left),
            _ => return false,
        };
        match op {
            BinaryOp::Gt => *lower == Bound::Excluded(value.clone()),
            BinaryOp::GtEq => *lower == Bound::Included(value.clone()),
            BinaryOp::Lt => *upper == Bound::Excluded(value.clone()),
            BinaryOp::LtEq => *upper == Bound::Included(value.clone()),
            _ => false,
        }
    };
    conjuncts(filter)
        .into_iter()
        .filter(|c| !decided(c))
        .cloned()
        .reduce(join::and)
}

/// The AND-ed parts of a filter.
fn conjuncts(expr: &BoundExpr) -> Vec<&BoundExpr> {
    match expr {
        BoundExpr::Binary {
            op: BinaryOp::And,
            left,
            right,
            ..
        } => {
            let mut parts = conjuncts(left);
            parts.extend(conjuncts(right));
            parts
        }
        other => vec![other],
    }
}

/// A WHERE clause: bound, required to be boolean; a constant TRUE is no filter at all.
fn where_clause(
    filter: Option<&super::parser::ast::Expr>,
    scope: Scope<'_>,
) -> Result<Option<BoundExpr>> {
    let Some(filter) = filter else {
        return Ok(None);
    };
    if expr::has_aggregate(filter) {
        return Err(
            crate::Error::Grouping("aggregate functions are not allowed in WHERE".into())
                .at(filter.position),
        );
    }
    let (bound, ty) = expr::bind(filter, scope)?;
    let bound = expr::coerce(bound, ty, DataType::Boolean).map_err(|_| {
        crate::Error::Datatype(format!(
            "argument of WHERE must be type boolean, not type {}",
            ty.map_or("unknown", DataType::name)
        ))
        .at(filter.position)
    })?;
    Ok(Some(bound).filter(|f| *f != BoundExpr::Constant(Value::Boolean(true))))
}

/// Calls `f` on every expression of a table access (and every subexpression).
fn table_source(source: &mut TableSource, f: &mut impl FnMut(&mut BoundExpr)) {
    source.pushed.iter_mut().for_each(|e| e.visit_mut(f));
    source.residual.iter_mut().for_each(|e| e.visit_mut(f));
    match &mut source.access {
        Access::Full => {}
        Access::Key(e) => e.visit_mut(f),
        Access::Keys(keys) => keys.iter_mut().for_each(|e| e.visit_mut(f)),
        Access::CompositeKey(key) | Access::KeyPrefix(key) => {
            key.iter_mut().for_each(|(_, e)| e.visit_mut(f))
        }
        Access::Index(index) => {
            index.prefix.iter_mut().for_each(|e| e.visit_mut(f));
            index.any.iter_mut().for_each(|e| e.visit_mut(f));
            for bound in [&mut index.lower, &mut index.upper] {
                if let Bound::Included(e) | Bound::Excluded(e) = bound {
                    e.visit_mut(f);
                }
            }
        }
        Access::Range(lower, upper) => {
            for bound in [lower, upper] {
                if let Bound::Included(e) | Bound::Excluded(e) = bound {
                    e.visit_mut(f);
                }
            }
        }
        Access::CompositeKeys(keys) => keys.iter_mut().flatten().for_each(|(_, e)| e.visit_mut(f)),
        Access::KeyRange(range) => {
            range.prefix.iter_mut().for_each(|(_, e)| e.visit_mut(f));
            for bound in [&mut range.lower, &mut range.upper] {
                if let Bound::Included(e) | Bound::Excluded(e) = bound {
                    e.visit_mut(f);
                }
            }
        }
    }
}

/// Calls `f` on every expression of a source (and every subexpression).
fn sources(s: &mut Source, f: &mut impl FnMut(&mut BoundExpr)) {
    match s {
        Source::Table(t) => {
            table_source(t, f);
        }
        Source::Values(v) => {
            v.rows.iter_mut().flatten().for_each(|e| e.visit_mut(f));
        }
        Source::Function(s) => s.args.iter_mut().for_each(|e| e.visit_mut(f)),
        Source::Derived(d) => visit_select(&mut d.query, f),
        Source::Recursive(r) => {
            visit_select(&mut r.base, f);
            visit_select(&mut r.step, f);
        }
        Source::WorkTable(_) => {}
        Source::Join(j) => {
            sources(&mut j.left, f);
            sources(&mut j.right, f);
            j.on.iter_mut().for_each(|e| e.visit_mut(f));
            for (l, r) in &mut j.equi {
                l.visit_mut(f);
                r.visit_mut(f);
            }
        }
    }
}

/// Calls `f` on every expression of a query (and every subexpression).
fn visit_select(select: &mut SelectPlan, f: &mut impl FnMut(&mut BoundExpr)) {
    let mut nested = Plan::Select(Box::new(select.clone()));
    nested.visit_exprs_mut(f);
    if let Plan::Select(inner) = nested {
        *select = *inner;
    }
}

impl Plan {
    /// Calls `f` on every expression of the plan (and every subexpression).
    pub fn visit_exprs_mut(&mut self, f: &mut impl FnMut(&mut BoundExpr)) {
        match self {
            Plan::Insert {
                source: rows,
                on_conflict,
                returning,
                checks,
                ..
            } => {
                checks.iter_mut().for_each(|c| c.expr.visit_mut(f));
                match rows {
                    InsertRows::Values(rows) => {
                        rows.iter_mut().flatten().for_each(|e| e.visit_mut(f));
                    }
                    InsertRows::Query { query, row } => {
                        let mut nested = Plan::Select(query.clone());
                        nested.visit_exprs_mut(f);
                        if let Plan::Select(q) = nested {
                            *query = q;
                        }
                        row.iter_mut().for_each(|e| e.visit_mut(f));
                    }
                }
                if let Some(update) = on_conflict.as_mut().and_then(|c| c.update.as_mut()) {
                    update
                        .assignments
                        .iter_mut()
                        .for_each(|(_, e)| e.visit_mut(f));
                    update.filter.iter_mut().for_each(|e| e.visit_mut(f));
                }
                if let Some(r) = returning {
                    r.projection.iter_mut().for_each(|e| e.visit_mut(f));
                }
            }
            Plan::Select(select) => {
                if let Some(s) = &mut select.source {
                    sources(s, f);
                }
                let optional = [&mut select.filter, &mut select.offset, &mut select.limit];
                optional.into_iter().flatten().for_each(|e| e.visit_mut(f));
                select.order.iter_mut().for_each(|k| k.expr.visit_mut(f));
                select.distinct_on.iter_mut().for_each(|e| e.visit_mut(f));
                select.projection.iter_mut().for_each(|e| e.visit_mut(f));
                for window in &mut select.windows {
                    window.args.iter_mut().for_each(|e| e.visit_mut(f));
                    window.partition_by.iter_mut().for_each(|e| e.visit_mut(f));
                    window.order_by.iter_mut().for_each(|k| k.expr.visit_mut(f));
                    if let super::window::WindowFunc::Aggregate(a) = &mut window.func {
                        let args = [&mut a.arg, &mut a.separator];
                        args.into_iter().flatten().for_each(|e| e.visit_mut(f));
                    }
                }
                if let Some(set) = &mut select.set {
                    for part in std::iter::once(&mut set.head)
                        .chain(set.parts.iter_mut().map(|p| &mut p.query))
                    {
                        let mut nested = Plan::Select(Box::new(part.clone()));
                        nested.visit_exprs_mut(f);
                        if let Plan::Select(inner) = nested {
                            *part = *inner;
                        }
                    }
                }
                if let Some(grouping) = &mut select.grouping {
                    grouping.keys.iter_mut().for_each(|e| e.visit_mut(f));
                    for aggregate in &mut grouping.aggregates {
                        let args = [&mut aggregate.arg, &mut aggregate.separator];
                        args.into_iter().flatten().for_each(|e| e.visit_mut(f));
                    }
                    if let Some(having) = &mut grouping.having {
                        having.visit_mut(f);
                    }
                }
            }
            Plan::Update {
                source: s,
                joined,
                filter,
                assignments,
                checks,
                returning,
            } => {
                checks.iter_mut().for_each(|c| c.expr.visit_mut(f));
                if let Some(j) = joined {
                    sources(&mut j.source, f);
                }
                table_source(s, f);
                filter.iter_mut().for_each(|e| e.visit_mut(f));
                assignments.iter_mut().for_each(|(_, e)| e.visit_mut(f));
                if let Some(r) = returning {
                    r.projection.iter_mut().for_each(|e| e.visit_mut(f));
                }
            }
            Plan::Delete {
                source: s,
                joined,
                filter,
                returning,
            } => {
                if let Some(j) = joined {
                    sources(&mut j.source, f);
                }
                table_source(s, f);
                filter.iter_mut().for_each(|e| e.visit_mut(f));
                if let Some(r) = returning {
                    r.projection.iter_mut().for_each(|e| e.visit_mut(f));
                }
            }
            Plan::Explain { plan, .. } => plan.visit_exprs_mut(f),
            Plan::Copy(copy) => match &mut **copy {
                CopyPlan::From { target, .. } => {
                    target.defaults.iter_mut().for_each(|e| e.visit_mut(f));
                    target.checks.iter_mut().for_each(|c| c.expr.visit_mut(f));
                }
                CopyPlan::To { query, .. } => {
                    let mut nested = Plan::Select(query.clone());
                    nested.visit_exprs_mut(f);
                    if let Plan::Select(q) = nested {
                        *query = q;
                    }
                }
            },
            _ => {}
        }
    }

    /// Whether the plan has subqueries to run before it.
    pub fn has_subqueries(&self) -> bool {
        self.facts().subqueries
    }

    /// What the session needs to know before running the plan.
    pub fn facts(&self) -> PlanFacts {
        let mut facts = PlanFacts::default();
        let mut probe = self.clone();
        probe.visit_exprs_mut(&mut |e| match e {
            BoundExpr::Subquery { .. } => facts.subqueries = true,
            BoundExpr::Call { func, .. } if func.reads_statement_clock() => facts.clock = true,
            _ => {}
        });
        facts
    }

    /// The types of the plan's parameters, inferred from where they are used (a parameter
    /// used only where any type fits is text, as PostgreSQL's unknown).
    pub fn parameter_types(&self) -> Vec<DataType> {
        let mut types: Vec<Option<DataType>> = Vec::new();
        let mut plan = self.clone();
        plan.visit_exprs_mut(&mut |e| {
            let (index, ty) = match e {
                BoundExpr::Parameter(i) => (*i, None),
                BoundExpr::Cast { expr, to } => match **expr {
                    BoundExpr::Parameter(i) => (i, Some(*to)),
                    _ => return,
                },
                _ => return,
            };
            if types.len() <= index {
                types.resize(index + 1, None);
            }
            if ty.is_some() && types[index].is_none() {
                types[index] = ty;
            }
        });
        types
            .into_iter()
            .map(|t| t.unwrap_or(DataType::Text))
            .collect()
    }
}
