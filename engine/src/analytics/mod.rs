//! The analytical half of HTAP: queries that scan, aggregate and join large tables run on
//! Apache DataFusion, over the same MVCC snapshot the rest of their transaction sees.
//!
//! ```text
//!   SELECT … ──► planner (names, types, errors as always) ──► decide ──► native executor
//!                                                               │
//!                                                               ▼
//!   DataFusion SQL ◄── SnapshotTable per table ◄── SnapshotReader (the transaction's snapshot)
//!        │              (key-range partitions → Arrow batches, only the columns read)
//!        ▼
//!   record batches ──► values of the planned column types ──► the usual QueryResult
//! ```
//!
//! - **What runs where** ([`decide`]): `SET omendb.analytics = off` keeps everything native;
//!   `on` sends every query over tables that DataFusion can answer as PostgreSQL would; `auto`
//!   (the default) only analytical ones — aggregation, joins or window functions over
//!   [`AUTO_MIN_ROWS`] rows or more, with no primary-key or secondary-index access path.
//! - **PostgreSQL's answers, always.** OmenDB's planner still plans every query, so names,
//!   types and errors are those of PostgreSQL. DataFusion runs it only when the type of each
//!   result column it computes can carry PostgreSQL's value exactly ([`convert::compatible`]);
//!   a query DataFusion cannot plan, or one that fails in it for any reason but cancellation or
//!   memory, runs natively instead — it never gets a different answer.
//! - **Snapshot.** Each table is read through [`crate::mvcc::SnapshotReader`]: the
//!   transaction's snapshot and its own writes; writers are never blocked and later commits are
//!   not seen.
//! - **Threads.** DataFusion is async: it runs on a runtime owned by this module (one worker
//!   per core), while the session's thread waits for the result — the rest of the engine
//!   stays synchronous.
//! - **Scans** (`provider.rs`): one partition per primary-key range; comparisons of the key's
//!   first integer column with constants narrow the ranges ALEX scans. A full scan keeps the
//!   Arrow arrays it converted in the columnar cache (`cache.rs`) for later queries whose
//!   snapshot sees the same version of the table (a commit to it drops them).
//! - **AVG** of integers and NUMERIC has PostgreSQL's digits (`average.rs`) where it is a whole
//!   result column; anywhere else such an AVG runs natively.
//! - **Limits.** The operators' memory comes from a pool of the database's
//!   `analytics_memory` bytes (53200 beyond it); cancellation and the statement timeout are
//!   checked for every batch a scan produces and every batch of the result.

mod average;
mod cache;
mod convert;
mod provider;

pub use cache::ColumnarCache;

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::datatypes::DataType as ArrowType;
use datafusion::common::DataFusionError;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{ExecutionPlan, displayable, execute_stream};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

use crate::sql::expr::BoundExpr;
use crate::sql::interrupt::{self, Remote};
use crate::sql::planner::{Access, SelectPlan, Source};
use crate::sql::settings::AnalyticsMode;
use crate::sql::{OutputColumn, QueryResult, Rows, aggregate::AggregateFunc};
use crate::types::{DataType, Value};
use crate::{Database, Error, Result, Transaction};

/// Under `omendb.analytics = auto`, the fewest rows (in all the tables a query reads) that
/// make a query analytical.
pub const AUTO_MIN_ROWS: usize = 100_000;

/// Which engine runs a query, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Analytics(String),
    /// Most reasons are fixed words: no allocation for the queries that stay native.
    Native(Cow<'static, str>),
}

/// What a query reads and does, as far as choosing an engine goes.
#[derive(Debug, Default)]
struct Shape {
    tables: Vec<Arc<str>>,
    key_access: bool,
    index_access: bool,
    joins: bool,
    aggregation: bool,
    windows: bool,
}

/// Walks a query's sources; `Err` names what DataFusion cannot run as PostgreSQL would.
/// `top`: the statement's own query (not a subquery, a derived table or a set operand).
fn shape(plan: &SelectPlan, out: &mut Shape, top: bool) -> std::result::Result<(), String> {
    if let Some(source) = &plan.source {
        source_shape(source, out)?;
    }
    if let Some(set) = &plan.set {
        shape(&set.head, out, false)?;
        for part in &set.parts {
            shape(&part.query, out, false)?;
        }
    }
    if let Some(grouping) = &plan.grouping {
        out.aggregation = true;
        if grouping
            .aggregates
            .iter()
            .any(|a| a.func == AggregateFunc::ArrayAgg)
        {
            return Err("ARRAY_AGG (arrays)".into());
        }
        let averages = exact_averages(plan)?;
        if !top && !averages.is_empty() {
            return Err("AVG of integers or NUMERIC in a subquery".into());
        }
    }
    out.windows |= !plan.windows.is_empty();
    if !plan.expand.is_empty() {
        return Err("set-returning functions in the select list".into());
    }
    Ok(())
}

fn source_shape(source: &Source, out: &mut Shape) -> std::result::Result<(), String> {
    match source {
        Source::Table(table) => {
            match table.access {
                Access::Full => {}
                Access::Index(_) => out.index_access = true,
                Access::Key(_)
                | Access::CompositeKey(_)
                | Access::KeyPrefix(_)
                | Access::KeyRange(_)
                | Access::CompositeKeys(_)
                | Access::Keys(_)
                | Access::Range(..) => out.key_access = true,
            }
            if !out.tables.contains(&table.table) {
                out.tables.push(table.table.clone());
            }
            Ok(())
        }
        Source::Join(join) => {
            out.joins = true;
            source_shape(&join.left, out)?;
            source_shape(&join.right, out)
        }
        Source::Derived(derived) => shape(&derived.query, out, false),
        Source::Values(_) => Err("a VALUES list in FROM".into()),
        Source::Recursive(_) | Source::WorkTable(_) => Err("WITH RECURSIVE".into()),
        Source::Function(_) => Err("a set-returning function in FROM".into()),
    }
}

/// The result columns that are AVG of integers or NUMERIC: DataFusion computes them as text
/// ([`average`]), which only stands for PostgreSQL's NUMERIC as a value returned, so `Err` if
/// such an AVG is also compared, sorted, grouped, deduplicated or computed with.
fn exact_averages(plan: &SelectPlan) -> std::result::Result<Vec<usize>, String> {
    let Some(grouping) = &plan.grouping else {
        return Ok(Vec::new());
    };
    let refused = |why: &str| Err(format!("AVG of integers or NUMERIC {why}"));
    let mut columns = Vec::new();
    for (j, aggregate) in grouping.aggregates.iter().enumerate() {
        if aggregate.func != AggregateFunc::Avg || aggregate.ty == DataType::Double {
            continue;
        }
        if aggregate.ty == DataType::Interval {
            return Err("AVG of intervals".into());
        }
        if aggregate.distinct {
            return refused("with DISTINCT");
        }
        let column = grouping.keys.len() + j;
        let mut reads = |e: &BoundExpr| {
            e.any(&mut |x| {
                matches!(x, BoundExpr::Column(c) if *c == column)
                    || matches!(x, BoundExpr::Subquery { .. })
            })
        };
        if plan.distinct || !plan.distinct_on.is_empty() {
            return refused("under DISTINCT");
        }
        if grouping.having.as_ref().is_some_and(&mut reads)
            || plan.order.iter().any(|k| reads(&k.expr))
        {
            return refused("in HAVING or ORDER BY");
        }
        if plan.windows.iter().any(|w| {
            w.args.iter().any(&mut reads)
                || w.partition_by.iter().any(&mut reads)
                || w.order_by.iter().any(|k| reads(&k.expr))
        }) {
            return refused("in a window");
        }
        for (i, item) in plan.projection.iter().enumerate() {
            if *item == BoundExpr::Column(column) {
                columns.push(i);
            } else if reads(item) {
                return refused("inside an expression");
            }
        }
    }
    Ok(columns)
}

/// Chooses the engine for a query under `mode`.
pub fn decide(plan: &SelectPlan, mode: AnalyticsMode, db: &Database) -> Decision {
    if mode == AnalyticsMode::Off {
        return Decision::Native(Cow::Borrowed("omendb.analytics is off"));
    }
    let mut found = Shape::default();
    if let Err(what) = shape(plan, &mut found, true) {
        return Decision::Native(format!("DataFusion does not run {what}").into());
    }
    if found.tables.is_empty() {
        return Decision::Native(Cow::Borrowed("no table to scan"));
    }
    if mode == AnalyticsMode::On {
        return Decision::Analytics("omendb.analytics is on".into());
    }
    if found.key_access {
        return Decision::Native(Cow::Borrowed("a primary-key access path"));
    }
    if found.index_access {
        return Decision::Native(Cow::Borrowed("a secondary-index access path"));
    }
    let work: Vec<&str> = [
        (found.aggregation, "aggregation"),
        (found.joins, "a join"),
        (found.windows, "window functions"),
    ]
    .into_iter()
    .filter_map(|(present, what)| present.then_some(what))
    .collect();
    if work.is_empty() {
        return Decision::Native(Cow::Borrowed("no aggregation, join or window function"));
    }
    let rows: usize = found
        .tables
        .iter()
        .filter_map(|t| db.estimated_rows(t))
        .sum();
    if rows < AUTO_MIN_ROWS {
        return Decision::Native(
            format!("about {rows} rows to scan, analytical from {AUTO_MIN_ROWS}").into(),
        );
    }
    Decision::Analytics(format!("{} over about {rows} rows", work.join(", ")))
}

/// The runtime DataFusion's tasks run on: one worker per core, made on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("omendb-analytics")
                .on_thread_start(yield_to_transactions)
                .enable_time()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Config(format!("the analytics runtime: {e}")))
}

/// How much lower than other threads the analytics workers run (a nice value).
const WORKER_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority, so that an analytical query uses the CPU
/// time transactions leave and the sessions beside it keep their throughput: the analytical
/// half of HTAP yields to the transactional half. On an idle machine it changes nothing.
fn yield_to_transactions() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments. On Linux the nice value is per
    // thread, and `who` = 0 with PRIO_PROCESS names the calling thread; raising one's own nice
    // value needs no privilege, and a failure leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICENESS);
    }
}

/// Runs `future` on the analytics runtime and waits for it. A thread that drives another
/// tokio runtime's tasks (a server's network thread running a brief statement) must not block
/// on a runtime: there, a helper thread waits instead.
fn block_on<F>(future: F) -> Result<F::Output>
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    let runtime = runtime()?;
    if tokio::runtime::Handle::try_current().is_err() {
        return Ok(runtime.block_on(future));
    }
    std::thread::scope(
        |scope| match scope.spawn(|| runtime.block_on(future)).join() {
            Ok(output) => Ok(output),
            Err(panic) => std::panic::resume_unwind(panic),
        },
    )
}

fn partitions() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A query handed to DataFusion: its text, its plan (for the result's names and types) and
/// its parameters.
#[derive(Debug)]
pub struct Query<'a> {
    pub sql: &'a str,
    pub plan: &'a SelectPlan,
    pub parameters: &'a [Value],
    pub parameter_types: &'a [DataType],
}

/// How a query fared in DataFusion.
#[derive(Debug)]
pub enum Outcome {
    Ran(QueryResult),
    /// DataFusion could not give PostgreSQL's answer: run the query natively.
    Refused(String),
}

/// A context whose catalog is every table of the transaction's snapshot that DataFusion can
/// read, with the database's memory pool.
fn context(txn: &Transaction, watch: &Remote) -> Result<Context> {
    let db = txn.database();
    let names = db.table_names();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let reader = txn.snapshot_reader(&refs)?;
    let mut config = SessionConfig::new()
        .with_target_partitions(partitions())
        .with_batch_size(8192)
        .with_information_schema(false);
    let options = config.options_mut();
    options.sql_parser.dialect = datafusion::common::config::Dialect::PostgreSQL;
    options.sql_parser.enable_ident_normalization = true;
    options.sql_parser.default_null_ordering = "nulls_max".into();
    // Operators stay within the pool rather than spill to disk: past it the query fails.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(db.analytics_memory(), 1.0)
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .map_err(|e| Error::Config(format!("the analytics memory pool: {e}")))?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    ctx.deregister_udaf("avg");
    ctx.register_udaf(average::udaf());
    let mut left_out = Vec::new();
    let notes = Arc::new(Mutex::new(Vec::new()));
    for name in names {
        let Ok(schema) = db.table_schema(&name) else {
            continue;
        };
        // Tables with columns Arrow cannot carry are left out: queries over them run natively.
        let (arrow, positions) = match convert::table_schema(&schema) {
            Ok(converted) => converted,
            Err(why) => {
                left_out.push((name, why));
                continue;
            }
        };
        let types = positions
            .iter()
            .map(|&i| schema.columns[i].data_type)
            .collect();
        let key_column = schema
            .primary_key
            .first()
            .map(|&k| &schema.columns[k])
            .filter(|c| c.data_type.is_integer())
            .map(|c| c.name.clone());
        let table = provider::SnapshotTable {
            name: name.clone(),
            reader: reader.clone(),
            schema: arrow,
            types,
            positions,
            partitions: partitions(),
            watch: watch.clone(),
            key_column,
            notes: notes.clone(),
        };
        ctx.register_table(name.as_str(), Arc::new(table))
            .map_err(|e| Error::Config(format!("registering \"{name}\": {e}")))?;
    }
    Ok(Context {
        ctx,
        left_out,
        notes,
    })
}

/// A DataFusion context over a snapshot, and the tables it leaves out (with why).
struct Context {
    ctx: SessionContext,
    left_out: Vec<(String, String)>,
    /// What each table scan reads (a key range, the columnar cache, …), for EXPLAIN.
    notes: Arc<Mutex<Vec<String>>>,
}

/// DataFusion's physical plan for `query`, or why it cannot give PostgreSQL's answer.
async fn physical(
    context: &Context,
    query: &Query<'_>,
) -> std::result::Result<Arc<dyn ExecutionPlan>, String> {
    let mut frame = context.ctx.sql(query.sql).await.map_err(|e| {
        let missing = e.strip_backtrace();
        // A table left out is "not found" to DataFusion: say why it was left out.
        match context
            .left_out
            .iter()
            .find(|(name, _)| missing.contains(&format!("{name}' not found")))
        {
            Some((_, why)) => format!("DataFusion is not shown {why}"),
            None => refusal(e),
        }
    })?;
    if !query.parameters.is_empty() {
        let values = query
            .parameters
            .iter()
            .zip(query.parameter_types)
            .map(|(v, ty)| convert::scalar(v, *ty))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| format!("a parameter: {e}"))?;
        frame = frame.with_param_values(values).map_err(refusal)?;
    }
    let fields = frame.schema().fields();
    if fields.len() != query.plan.columns.len() {
        return Err("a different number of result columns".into());
    }
    let averages = exact_averages(query.plan)?;
    for (i, (field, column)) in fields.iter().zip(query.plan.columns.iter()).enumerate() {
        let exact_average = averages.contains(&i) && field.data_type() == &ArrowType::Utf8;
        if !exact_average && !convert::compatible(field.data_type(), column.data_type) {
            return Err(format!(
                "column \"{}\": DataFusion computes {}, PostgreSQL {}",
                column.name,
                field.data_type(),
                column.data_type.name()
            ));
        }
    }
    frame.create_physical_plan().await.map_err(refusal)
}

fn refusal(e: DataFusionError) -> String {
    let message = e.strip_backtrace();
    let first = message.lines().next().unwrap_or_default();
    format!("DataFusion: {first}")
}

/// Runs `query` on DataFusion inside `txn` (its snapshot, its own writes).
pub fn run(query: &Query<'_>, txn: &Transaction) -> Result<Outcome> {
    let watch = interrupt::remote();
    let context = context(txn, &watch)?;
    let columns = query.plan.columns.clone();
    block_on(async {
        let plan = match physical(&context, query).await {
            Ok(plan) => plan,
            Err(reason) => return Ok(Outcome::Refused(reason)),
        };
        let mut stream = match execute_stream(plan, context.ctx.task_ctx()) {
            Ok(stream) => stream,
            Err(e) => return settle(e),
        };
        let mut rows = Rows::new(columns.len());
        while let Some(batch) = watched(stream.next(), &watch).await? {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => return settle(e),
            };
            if let Err(e) = result_rows(&batch, &columns, &mut rows) {
                return Ok(Outcome::Refused(format!("a result value: {e}")));
            }
        }
        Ok(Outcome::Ran(QueryResult {
            tag: format!("SELECT {}", rows.len()).into(),
            columns,
            rows,
        }))
    })?
}

/// Waits for `future` (the next batch of a result), checking the statement's cancellation
/// and timeout first and every few milliseconds meanwhile: an operator such as a join's build
/// side may run a long time before the first batch.
async fn watched<F: std::future::Future>(future: F, watch: &Remote) -> Result<F::Output> {
    watch.check()?;
    let mut future = std::pin::pin!(future);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
    loop {
        tokio::select! {
            output = &mut future => return Ok(output),
            _ = tick.tick() => watch.check()?,
        }
    }
}

/// An error from DataFusion's execution: cancellation, the timeout and the memory limit are
/// the statement's errors; anything else sends the query to the native executor, whose
/// answer (or error) is PostgreSQL's.
fn settle(e: DataFusionError) -> Result<Outcome> {
    match e.find_root() {
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(Error::QueryCanceled(why)) => Err(Error::QueryCanceled(why)),
            _ => Ok(Outcome::Refused(refusal(e))),
        },
        DataFusionError::ResourcesExhausted(what) => Err(Error::OutOfMemory(format!(
            "the analytics engine's memory limit: {}",
            what.lines().next().unwrap_or_default()
        ))),
        _ => Ok(Outcome::Refused(refusal(e))),
    }
}

/// Appends the rows of `batch` to `rows`.
fn result_rows(
    batch: &datafusion::arrow::record_batch::RecordBatch,
    columns: &[OutputColumn],
    rows: &mut Rows,
) -> Result<()> {
    for i in 0..batch.num_rows() {
        rows.push_with(|row| {
            for (array, column) in batch.columns().iter().zip(columns) {
                let scalar = datafusion::common::ScalarValue::try_from_array(array, i)
                    .map_err(|e| Error::Corrupt(format!("a result value: {e}")))?;
                row.push(convert::value(scalar, column.data_type)?);
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// EXPLAIN for a query DataFusion runs: the engine and why, then DataFusion's physical
/// plan; with ANALYZE the query runs and each operator shows its metrics (rows, time).
/// `Refused` when DataFusion cannot run it after all.
pub fn explain(
    query: &Query<'_>,
    txn: &Transaction,
    reason: &str,
    analyze: bool,
) -> Result<Outcome> {
    let watch = interrupt::remote();
    let context = context(txn, &watch)?;
    block_on(async {
        let plan = match physical(&context, query).await {
            Ok(plan) => plan,
            Err(refused) => return Ok(Outcome::Refused(refused)),
        };
        let mut lines = vec![format!("Engine: DataFusion ({reason})")];
        let text = if analyze {
            let started = std::time::Instant::now();
            let mut stream = match execute_stream(plan.clone(), context.ctx.task_ctx()) {
                Ok(stream) => stream,
                Err(e) => return settle(e),
            };
            let mut rows = 0;
            while let Some(batch) = watched(stream.next(), &watch).await? {
                match batch {
                    Ok(batch) => rows += batch.num_rows(),
                    Err(e) => return settle(e),
                }
            }
            lines.push(format!(
                "Execution: {rows} rows in {:.3} ms",
                started.elapsed().as_secs_f64() * 1e3
            ));
            DisplayableExecutionPlan::with_metrics(plan.as_ref())
                .indent(true)
                .to_string()
        } else {
            displayable(plan.as_ref()).indent(true).to_string()
        };
        lines.extend(text.lines().map(|l| format!("  {l}")));
        lines.push("Scans:".into());
        lines.extend(
            crate::sync::lock(&context.notes)
                .iter()
                .map(|n| format!("  {n}")),
        );
        Ok(Outcome::Ran(QueryResult {
            columns: Arc::from([OutputColumn {
                name: "QUERY PLAN".into(),
                data_type: DataType::Text,
            }]),
            rows: Rows::from_rows(1, lines.into_iter().map(|l| vec![Value::Text(l.into())])),
            tag: "EXPLAIN".into(),
        }))
    })?
}
