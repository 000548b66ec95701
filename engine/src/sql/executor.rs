//! The executor: runs plans against a transaction and produces result sets.
//!
//! Step one of the SQL layer materialises each query's rows (filter, then sort, then
//! offset/limit, then projection); a query without ORDER BY stops reading as soon as its
//! LIMIT is reached, and `ORDER BY pk` is delivered by the primary-index scan itself.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use super::aggregate::Accumulator;
use super::explain::Measured;
use super::expr::{BoundExpr, SubqueryKind, compare, integer_parameter};
use super::interrupt;
use super::planner::{
    Access, CheckPlan, ConflictPlan, FunctionSource, GroupPlan, IndexAccess, InsertRows, JoinKind,
    JoinPlan, JoinedTarget, OutputColumn, Plan, RecursiveSource, Returning, SelectPlan,
    SetFunction, SetOp, SetPlan, SortKey, Source, TableSource, ValuesSource,
};
use super::rows::Rows;
use crate::encoding::{encode_value, encode_values};
use crate::mvcc::{Direction, Locked, RowScan};
use crate::table::RowKey;
use crate::types::{Row, SharedRow, Value};
use crate::{Error, Result, Transaction};

/// The outcome of one statement: rows (for queries) and PostgreSQL's command tag.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Arc<[OutputColumn]>,
    pub rows: Rows,
    /// `SELECT 3`, `INSERT 0 2`, `UPDATE 1`, `CREATE TABLE`, …
    pub tag: Cow<'static, str>,
}

impl QueryResult {
    pub fn command(tag: impl Into<Cow<'static, str>>) -> Self {
        Self {
            columns: Arc::from([]),
            rows: Rows::default(),
            tag: tag.into(),
        }
    }
}

/// Runs a data statement (query, INSERT, UPDATE, DELETE) in `txn`.
pub fn execute(plan: &Plan, txn: &mut Transaction) -> Result<QueryResult> {
    with_subqueries(plan, txn, &mut Measured::default())
}

/// [`execute`] for a plan known to have no subqueries (saves looking for them).
pub fn execute_flat(plan: &Plan, txn: &mut Transaction) -> Result<QueryResult> {
    run(plan, txn, &mut Measured::default())
}

/// [`execute`], also counting rows per operator and timing them (EXPLAIN ANALYZE).
pub fn execute_measured(plan: &Plan, txn: &mut Transaction) -> Result<(QueryResult, Measured)> {
    let mut measured = Measured {
        timing: true,
        ..Measured::default()
    };
    let result = with_subqueries(plan, txn, &mut measured)?;
    Ok((result, measured))
}

/// Runs the plan's (uncorrelated) subqueries first, in the same transaction, and puts their
/// results in their places: a scalar subquery becomes its value, EXISTS a boolean, IN a list.
fn with_subqueries(
    plan: &Plan,
    txn: &mut Transaction,
    measured: &mut Measured,
) -> Result<QueryResult> {
    if !plan.has_subqueries() {
        return run(plan, txn, measured);
    }
    let mut resolved = plan.clone();
    let mut failure = None;
    resolved.visit_exprs_mut(&mut |e| {
        if failure.is_some() {
            return;
        }
        if let BoundExpr::Subquery {
            plan,
            kind,
            correlated: false,
        } = e
        {
            match subquery_value(plan, kind, txn) {
                Ok(value) => *e = value,
                Err(err) => failure = Some(err),
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => run(&resolved, txn, measured),
    }
}

/// Whether `expr` has correlated subqueries (to run for each row it is evaluated on).
fn is_correlated(expr: &BoundExpr) -> bool {
    expr.any(&mut |e| {
        matches!(
            e,
            BoundExpr::Subquery {
                correlated: true,
                ..
            }
        )
    })
}

/// Each of `exprs` evaluated on `row`, into a row of exactly their number (collecting the
/// results would not know it and grow the row as it fills).
fn eval_all(exprs: &[BoundExpr], row: &[Value]) -> Result<Row> {
    let mut out = Vec::with_capacity(exprs.len());
    for e in exprs {
        out.push(e.eval(row)?);
    }
    Ok(out)
}

/// [`eval_all`] into a shared row, allocated once at its exact size (collecting into a `Vec`
/// and converting would allocate again and copy: the shared row has its reference counts in
/// front). Evaluation stops at the first error, as `eval_all`'s does.
fn eval_shared(exprs: &[BoundExpr], row: &[Value]) -> Result<SharedRow> {
    let mut failure = None;
    // An iterator of known length (unlike one of `Result`s) is collected without a `Vec`.
    let values: SharedRow = exprs
        .iter()
        .map(|e| match failure {
            Some(_) => Value::Null,
            None => e.eval(row).unwrap_or_else(|error| {
                failure = Some(error);
                Value::Null
            }),
        })
        .collect();
    match failure {
        Some(error) => Err(error),
        None => Ok(values),
    }
}

/// Evaluates `expr` on `row`; `correlated` (from [`is_correlated`]) says whether its
/// correlated subqueries must first run for this row, their outer references reading it.
fn eval_row(expr: &BoundExpr, row: &[Value], txn: &Transaction, correlated: bool) -> Result<Value> {
    if !correlated {
        return expr.eval(row);
    }
    let mut resolved = expr.clone();
    let mut failure = None;
    resolved.visit_mut(&mut |e| {
        let BoundExpr::Subquery {
            plan,
            kind,
            correlated: true,
        } = e
        else {
            return;
        };
        if failure.is_some() {
            return;
        }
        let mut bound = Plan::Select(plan.clone());
        bound.visit_exprs_mut(&mut |inner| {
            if let BoundExpr::Outer(i, _) = inner {
                *inner = BoundExpr::Constant(row.get(*i).cloned().unwrap_or(Value::Null));
            }
        });
        if let Plan::Select(plan) = bound {
            match subquery_value(&plan, kind, txn) {
                Ok(value) => *e = value,
                Err(err) => failure = Some(err),
            }
        }
    });
    match failure {
        Some(e) => Err(e),
        None => resolved.eval(row),
    }
}

fn subquery_value(plan: &SelectPlan, kind: &SubqueryKind, txn: &Transaction) -> Result<BoundExpr> {
    let rows = query(plan, txn, &mut Measured::default())?.rows.into_rows();
    Ok(match kind {
        SubqueryKind::Scalar => match rows.as_slice() {
            [] => BoundExpr::Constant(Value::Null),
            [row] => BoundExpr::Constant(row[0].clone()),
            _ => return Err(Error::CardinalityViolation),
        },
        SubqueryKind::Exists { negated } => {
            BoundExpr::Constant(Value::Boolean(rows.is_empty() == *negated))
        }
        SubqueryKind::In { expr, negated } => {
            let values: Vec<Value> = rows.into_iter().map(|mut row| row.swap_remove(0)).collect();
            in_set(expr, values, *negated)
        }
        SubqueryKind::Array => BoundExpr::Constant(Value::Array(
            rows.into_iter().map(|mut row| row.swap_remove(0)).collect(),
        )),
    })
}

/// `expr IN (values)` for a subquery's values: sorted for binary search (a membership test per
/// row then costs a logarithm, not the list's length), or, if some values cannot be ordered
/// against each other, the list as it came.
fn in_set(expr: &BoundExpr, mut values: Vec<Value>, negated: bool) -> BoundExpr {
    let before = values.len();
    values.retain(|v| !v.is_null());
    let has_null = values.len() < before;
    let mut comparable = true;
    values.sort_by(|a, b| match compare(a, b) {
        Ok(Some(order)) => order,
        _ => {
            comparable = false;
            std::cmp::Ordering::Equal
        }
    });
    if !comparable {
        let mut list: Vec<BoundExpr> = values.into_iter().map(BoundExpr::Constant).collect();
        if has_null {
            list.push(BoundExpr::Constant(Value::Null));
        }
        return BoundExpr::InList {
            expr: Box::new(expr.clone()),
            list,
            negated,
        };
    }
    values.dedup_by(|a, b| matches!(compare(a, b), Ok(Some(std::cmp::Ordering::Equal))));
    BoundExpr::InSet {
        expr: Box::new(expr.clone()),
        values: values.into(),
        has_null,
        negated,
    }
}

/// Runs a data statement, counting (and, if `measured.timing`, timing) into `measured`.
/// (The counts are written in place: returned with the result, they made every statement's
/// result a copy through `memcpy`.)
fn run(plan: &Plan, txn: &mut Transaction, measured: &mut Measured) -> Result<QueryResult> {
    let started = Clock::start(measured.timing);
    let result = match plan {
        Plan::Select(select) => query(select, txn, measured)?,
        Plan::Insert {
            table,
            source,
            serial,
            checks,
            on_conflict,
            returning,
        } => {
            // The rows are kept only for RETURNING or ON CONFLICT; else they move into the
            // transaction.
            let keep = returning.is_some() || on_conflict.is_some();
            let mut written = Vec::new();
            let mut count = 0;
            let mut put = |mut row: SharedRow, txn: &mut Transaction| -> Result<()> {
                interrupt::check()?;
                if !serial.is_empty() {
                    let values = Arc::make_mut(&mut row);
                    for &column in serial {
                        values[column] = Value::Int(txn.next_serial(table, column)?);
                    }
                }
                check_row(checks, table, &row)?;
                count += 1;
                if !keep {
                    txn.insert_shared(table, row)?;
                    return Ok(());
                }
                match txn.insert_shared(table, row.clone()) {
                    Ok(_) => written.push(row.to_vec()),
                    Err(e) => match on_conflict {
                        Some(conflict) if handles(conflict, &e) => {
                            let row = row.to_vec();
                            let resolved = resolve_conflict(conflict, checks, table, row, txn)?;
                            written.extend(resolved);
                        }
                        _ => return Err(e),
                    },
                }
                Ok(())
            };
            match source {
                // Each row is inserted as soon as it is evaluated, as PostgreSQL does.
                InsertRows::Values(rows) => {
                    for exprs in rows {
                        put(eval_shared(exprs, &[])?, txn)?;
                    }
                }
                // The query reads the table as it was before the statement: all of it first.
                InsertRows::Query { query: q, row } => {
                    let result = query(q, txn, &mut Measured::default())?;
                    for out in result.rows.iter() {
                        put(eval_shared(row, out)?, txn)?;
                    }
                }
            }
            let count = if keep { written.len() } else { count };
            measured.returned = count;
            returned(returning, &written, count_tag("INSERT 0", count))?
        }
        Plan::Update {
            source,
            joined,
            filter,
            assignments,
            checks,
            returning,
        } => {
            let targets = targets(source, joined.as_deref(), filter.as_ref(), txn, measured)?;
            let width = joined.as_ref().map_or(usize::MAX, |j| j.width);
            let correlated: Vec<bool> = assignments.iter().map(|(_, e)| is_correlated(e)).collect();
            let mut written = Vec::with_capacity(targets.len());
            for (key, row) in &targets {
                let Some(row) =
                    locked_target(txn, source, joined.is_some(), filter.as_ref(), key, row)?
                else {
                    continue;
                };
                let mut new: Row = row.iter().take(width).cloned().collect();
                for ((column, expr), &c) in assignments.iter().zip(&correlated) {
                    new[*column] = eval_row(expr, &row, txn, c)?;
                }
                check_row(checks, &source.table, &new)?;
                txn.update(&source.table, key, new.clone())?;
                // RETURNING reads the new row, followed by the FROM tables' columns.
                new.extend(row.iter().skip(new.len()).cloned());
                written.push(new);
            }
            measured.returned = written.len();
            returned(returning, &written, count_tag("UPDATE", written.len()))?
        }
        Plan::Delete {
            source,
            joined,
            filter,
            returning,
        } => {
            let targets = targets(source, joined.as_deref(), filter.as_ref(), txn, measured)?;
            let mut deleted: Vec<Row> = Vec::with_capacity(targets.len());
            for (key, row) in &targets {
                let Some(row) =
                    locked_target(txn, source, joined.is_some(), filter.as_ref(), key, row)?
                else {
                    continue;
                };
                if txn.delete(&source.table, key)? {
                    deleted.push(row.to_vec());
                }
            }
            measured.returned = deleted.len();
            returned(returning, &deleted, count_tag("DELETE", deleted.len()))?
        }
        Plan::Truncate(deletes) => {
            for delete in deletes {
                run(delete, txn, &mut Measured::default())?;
            }
            QueryResult::command("TRUNCATE TABLE")
        }
        other => {
            return Err(Error::NotSupported(format!(
                "{other:?} is not a data statement"
            )));
        }
    };
    measured.total_ms = started.elapsed_ms();
    Ok(result)
}

/// Wall-clock timing where the platform has a clock (not in WebAssembly without WASI).
struct Clock(Option<std::time::Instant>);

impl Clock {
    fn start(timing: bool) -> Self {
        Clock(if cfg!(target_arch = "wasm32") || !timing {
            None
        } else {
            Some(std::time::Instant::now())
        })
    }

    fn elapsed_ms(&self) -> Option<f64> {
        self.0.map(|t| t.elapsed().as_secs_f64() * 1000.0)
    }
}

fn query(plan: &SelectPlan, txn: &Transaction, measured: &mut Measured) -> Result<QueryResult> {
    if let (true, Some(Source::Table(table))) = (plan.point, &plan.source) {
        if let Some(key) = looked_up_key(table, txn)? {
            return point_query(plan, table, key, txn, measured);
        }
    }
    let limit = count(plan.limit.as_ref(), Error::NegativeLimit)?;
    let offset = count(plan.offset.as_ref(), Error::NegativeOffset)?.unwrap_or(0);
    if let Some(Source::Table(table)) = &plan.source {
        if plan.scan_only {
            return scan_query(plan, table, (offset, limit), txn, measured);
        }
    }
    let mut rows: Vec<SharedRow> = match &plan.source {
        None if plan.set.is_some() => match &plan.set {
            Some(set) => combine(set, txn)?,
            None => Vec::new(),
        },
        None => {
            let passes = match &plan.filter {
                Some(filter) => filter.eval(&[])? == Value::Boolean(true),
                None => true,
            };
            if passes {
                vec![SharedRow::from([])]
            } else {
                Vec::new()
            }
        }
        Some(source) => {
            // Rows arrive in their final order when nothing sorts, groups or dedupes them:
            // reading can stop once offset + limit rows have passed.
            let streaming = plan.order.is_empty()
                && plan.expand.is_empty()
                && plan.grouping.is_none()
                && !plan.distinct
                && plan.distinct_on.is_empty()
                && plan.windows.is_empty();
            let stop = match (streaming, limit) {
                (true, Some(limit)) => Some(offset.saturating_add(limit)),
                _ => None,
            };
            match source {
                Source::Table(table) => {
                    let filters = (plan.filter.as_ref(), table.residual.as_ref());
                    matching(table, filters, txn, stop, measured)?
                }
                .into_iter()
                .map(|(_, row)| row)
                .collect(),
                other => {
                    let mut rows = source_rows(other, txn, measured)?;
                    if let Some(filter) = &plan.filter {
                        let correlated = is_correlated(filter);
                        let mut kept = Vec::with_capacity(rows.len());
                        for row in rows {
                            if eval_row(filter, &row, txn, correlated)? == Value::Boolean(true) {
                                kept.push(row);
                            }
                        }
                        rows = kept;
                    }
                    measured.filtered = rows.len();
                    if let Some(stop) = stop {
                        rows.truncate(usize::try_from(stop).unwrap_or(usize::MAX));
                    }
                    rows
                }
            }
        }
    };
    if let Some(grouping) = &plan.grouping {
        rows = group(rows, grouping)?;
    }
    if !plan.windows.is_empty() {
        rows = super::window::apply(rows, &plan.windows)?;
    }
    if !plan.order.is_empty() {
        rows = sort(rows, &plan.order)?;
    }
    if !plan.distinct_on.is_empty() {
        let mut seen = BTreeSet::new();
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            let key = plan
                .distinct_on
                .iter()
                .map(|e| e.eval(&row))
                .collect::<Result<Vec<_>>>()?;
            if seen.insert(encode_values(&key)) {
                kept.push(row);
            }
        }
        rows = kept;
    }
    let correlated: Vec<bool> = plan.projection.iter().map(is_correlated).collect();
    let mut projected = rows
        .iter()
        .map(|row| {
            plan.projection
                .iter()
                .zip(&correlated)
                .map(|(e, &c)| eval_row(e, row, txn, c))
                .collect()
        })
        .collect::<Result<Vec<Row>>>()?;
    if !plan.expand.is_empty() {
        projected = expand_sets(projected, &plan.expand);
    }
    if plan.distinct {
        let mut seen = BTreeSet::new();
        projected.retain(|row| seen.insert(encode_values(row)));
    }
    let rows = Rows::from_rows(
        plan.projection.len(),
        projected
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX))),
    );
    Ok(selected(plan, rows, measured))
}

/// Each row as many rows as the longest array among its set-returning `columns` has
/// elements: the i-th row takes each one's i-th element (NULL past its end), the other columns
/// as they are. A row whose arrays are all empty or NULL is gone, as in PostgreSQL.
fn expand_sets(rows: Vec<Row>, columns: &[usize]) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let length = |value: &Value| match value {
            Value::Array(items) => items.len(),
            _ => 0,
        };
        let count = columns.iter().map(|&c| length(&row[c])).max().unwrap_or(0);
        for i in 0..count {
            let mut expanded = row.clone();
            for &c in columns {
                expanded[c] = match &row[c] {
                    Value::Array(items) => items.get(i).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
            }
            out.push(expanded);
        }
    }
    out
}

/// A query that only filters and projects a table's rows (optionally paged): each row is
/// filtered and projected as the scan delivers it, nothing materialised in between.
fn scan_query(
    plan: &SelectPlan,
    table: &TableSource,
    (offset, limit): (u64, Option<u64>),
    txn: &Transaction,
    measured: &mut Measured,
) -> Result<QueryResult> {
    let started = Clock::start(measured.timing);
    let limit = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let mut skip = offset;
    let mut rows = Rows::new(plan.projection.len());
    if limit > 0 {
        let (scanned, exact) = scan_exact(table, txn)?;
        // Rows found by key are counted already: the result is allocated once.
        if let Scan::Rows(found) = &scanned {
            rows = Rows::with_capacity(plan.projection.len(), found.size_hint().0.min(limit));
        }
        let residual = match exact {
            true => table.residual.as_ref(),
            false => plan.filter.as_ref(),
        };
        scanned.for_each(|row| {
            if measured.scanned % 64 == 0 {
                interrupt::check()?;
            }
            measured.scanned += 1;
            if let Some(filter) = residual {
                if filter.eval(row)? != Value::Boolean(true) {
                    return Ok(true);
                }
            }
            measured.filtered += 1;
            if skip > 0 {
                skip -= 1;
                return Ok(true);
            }
            rows.push_with(|out| project_into(plan, row, out))?;
            Ok(rows.len() < limit)
        })?;
    }
    measured.scan_ms = started.elapsed_ms();
    Ok(selected(plan, rows, measured))
}

/// Appends the query's result row for a row of its source to `out`.
fn project_into(plan: &SelectPlan, row: &[Value], out: &mut Vec<Value>) -> Result<()> {
    for expr in &plan.projection {
        // A plain column, the common case, is copied here rather than through `eval`'s call.
        out.push(match expr {
            BoundExpr::Column(i) => row[*i].clone(),
            expr => expr.eval(row)?,
        });
    }
    Ok(())
}

/// A query's result, counted.
fn selected(plan: &SelectPlan, rows: Rows, measured: &mut Measured) -> QueryResult {
    measured.returned = rows.len();
    QueryResult {
        // The common counts of point queries need no formatting or allocation.
        tag: match rows.len() {
            0 => Cow::Borrowed("SELECT 0"),
            1 => Cow::Borrowed("SELECT 1"),
            n => Cow::Owned(format!("SELECT {n}")),
        },
        columns: plan.columns.clone(),
        rows,
    }
}

/// The primary key a point query looks up (`None`: the access is not a point lookup). A
/// key no row can have (NULL, out of its column's range) is the error that says so.
fn looked_up_key(table: &TableSource, txn: &Transaction) -> Result<Option<Result<RowKey>>> {
    Ok(Some(match &table.access {
        Access::Key(key) => match integer_parameter(key) {
            Some(i) if table.integer_key => Ok(RowKey::Int(i)),
            _ => match key.eval(&[])? {
                // An integer is the row key itself (one out of the column's range finds no
                // row).
                Value::Int(i) if table.integer_key => Ok(RowKey::Int(i)),
                value => txn.key(&table.table, std::slice::from_ref(&value)),
            },
        },
        Access::CompositeKey(columns) => {
            let values = columns
                .iter()
                .map(|(_, e)| e.eval(&[]))
                .collect::<Result<Vec<_>>>()?;
            txn.key(&table.table, &values)
        }
        _ => return Ok(None),
    }))
}

/// A point query, straight: one key lookup, the filter, the projection.
fn point_query(
    plan: &SelectPlan,
    table: &TableSource,
    key: Result<RowKey>,
    txn: &Transaction,
    measured: &mut Measured,
) -> Result<QueryResult> {
    let mut rows = Rows::new(plan.projection.len());
    // Without a filter the projected values are copied from where the row is kept, under the
    // table's latch (see `Transaction::read_with`); a filter, whose expressions may take
    // long, runs on a counted reference to the row after the latch is released.
    let mut found = false;
    let to_filter = match key {
        Ok(key) => txn.read_with(&table.table, &key, |row| -> Result<Option<SharedRow>> {
            let Some(row) = row else {
                return Ok(None);
            };
            found = true;
            if plan.filter.is_some() {
                return Ok(Some(row.clone()));
            }
            rows.push_with(|out| project_into(plan, row, out))?;
            Ok(None)
        })??,
        // A NULL or out-of-range key matches no row.
        Err(e) if matches!(e.sqlstate(), "22003" | "23502") => None,
        Err(e) => return Err(e),
    };
    if let (Some(row), Some(filter)) = (to_filter, &plan.filter) {
        if filter.eval(&row)? == Value::Boolean(true) {
            rows.push_with(|out| project_into(plan, &row, out))?;
        }
    }
    measured.scanned = usize::from(found);
    measured.filtered = rows.len();
    Ok(selected(plan, rows, measured))
}

/// The rows of a chain of set operations. Rows compare as wholes, NULLs equal, as in
/// PostgreSQL; without ALL the result has no duplicates, with ALL multiplicities count.
fn combine(set: &SetPlan, txn: &Transaction) -> Result<Vec<SharedRow>> {
    let key = |row: &[Value]| encode_values(row);
    let distinct = |rows: Vec<Row>| -> Vec<Row> {
        let mut seen = BTreeSet::new();
        rows.into_iter().filter(|r| seen.insert(key(r))).collect()
    };
    let mut rows = query(&set.head, txn, &mut Measured::default())?
        .rows
        .into_rows();
    for part in &set.parts {
        let right = query(&part.query, txn, &mut Measured::default())?
            .rows
            .into_rows();
        let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
        if part.op != SetOp::Union {
            for row in &right {
                *counts.entry(key(row)).or_default() += 1;
            }
        }
        rows = match (part.op, part.all) {
            (SetOp::Union, true) => rows.into_iter().chain(right).collect(),
            (SetOp::Union, false) => distinct(rows.into_iter().chain(right).collect()),
            (SetOp::Intersect, all) => {
                let mut kept = Vec::new();
                for row in if all { rows } else { distinct(rows) } {
                    if let Some(n) = counts.get_mut(&key(&row)).filter(|n| **n > 0) {
                        if all {
                            *n -= 1;
                        }
                        kept.push(row);
                    }
                }
                kept
            }
            (SetOp::Except, all) => {
                let mut kept = Vec::new();
                for row in if all { rows } else { distinct(rows) } {
                    match counts.get_mut(&key(&row)) {
                        Some(n) if *n > 0 => {
                            if all {
                                *n -= 1;
                            }
                        }
                        _ => kept.push(row),
                    }
                }
                kept
            }
        };
    }
    Ok(rows.into_iter().map(SharedRow::from).collect())
}

/// Groups rows by the key values (NULLs form one group, as in PostgreSQL) and aggregates each
/// group; without GROUP BY there is exactly one group, even over no rows.
fn group(rows: Vec<SharedRow>, plan: &GroupPlan) -> Result<Vec<SharedRow>> {
    if plan.keys.is_empty() {
        return aggregate_all(&rows, plan);
    }
    // Groups by the encoding of their key values, hashed; a key's bytes are only copied
    // for its first row. Groups come out in key order, so results are deterministic.
    let mut groups: HashMap<Vec<u8>, usize, foldhash::fast::RandomState> = HashMap::default();
    let mut states: Vec<(Vec<u8>, Vec<Value>, Vec<Accumulator>)> = Vec::new();
    let mut encoded = Vec::new();
    let mut keys = Vec::with_capacity(plan.keys.len());
    for row in &rows {
        interrupt::check()?;
        keys.clear();
        encoded.clear();
        for key in &plan.keys {
            let value = key.eval(row)?;
            encode_value(&mut encoded, &value);
            keys.push(value);
        }
        let index = match groups.get(encoded.as_slice()) {
            Some(&i) => i,
            None => {
                groups.insert(encoded.clone(), states.len());
                let accumulators = plan.aggregates.iter().map(Accumulator::new).collect();
                states.push((encoded.clone(), keys.clone(), accumulators));
                states.len() - 1
            }
        };
        let accumulators = &mut states[index].2;
        for (accumulator, aggregate) in accumulators.iter_mut().zip(&plan.aggregates) {
            accumulator.add(aggregate, row)?;
        }
    }
    states.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(states.len());
    for (_, values, accumulators) in states {
        out.extend(finish_group(plan, values, accumulators)?);
    }
    Ok(out)
}

/// A group's result row — its key values, then its aggregates' — unless HAVING rejects it.
fn finish_group(
    plan: &GroupPlan,
    mut values: Vec<Value>,
    accumulators: Vec<Accumulator>,
) -> Result<Option<SharedRow>> {
    for (accumulator, aggregate) in accumulators.into_iter().zip(&plan.aggregates) {
        values.push(accumulator.finish(aggregate)?);
    }
    if let Some(having) = &plan.having {
        if having.eval(&values)? != Value::Boolean(true) {
            return Ok(None);
        }
    }
    Ok(Some(SharedRow::from(values)))
}

/// Aggregates without GROUP BY: one group of every row (also of none), then HAVING.
fn aggregate_all(rows: &[SharedRow], plan: &GroupPlan) -> Result<Vec<SharedRow>> {
    let mut accumulators: Vec<Accumulator> = plan.aggregates.iter().map(Accumulator::new).collect();
    for row in rows {
        interrupt::check()?;
        for (accumulator, aggregate) in accumulators.iter_mut().zip(&plan.aggregates) {
            accumulator.add(aggregate, row)?;
        }
    }
    Ok(finish_group(plan, Vec::new(), accumulators)?
        .into_iter()
        .collect())
}

/// The rows of one side of a join: a table's (through its access path and pushed-down
/// filter), or a nested join's.
fn source_rows(
    source: &Source,
    txn: &Transaction,
    measured: &mut Measured,
) -> Result<Vec<SharedRow>> {
    match source {
        Source::Table(table) => {
            let pushed = table.pushed.as_ref();
            Ok(matching(table, (pushed, pushed), txn, None, measured)?
                .into_iter()
                .map(|(_, row)| row)
                .collect())
        }
        Source::Join(join) => join_rows(join, txn, measured),
        Source::Values(values) => values
            .rows
            .iter()
            .map(|row| eval_all(row, &[]).map(SharedRow::from))
            .collect(),
        Source::Derived(derived) => Ok(query(&derived.query, txn, &mut Measured::default())?
            .rows
            .iter()
            .map(SharedRow::from)
            .collect()),
        Source::Recursive(recursive) => recursive_rows(recursive, txn),
        Source::Function(function) => function_rows(function),
        Source::WorkTable(work) => Err(Error::NotSupported(format!(
            "a reference to the work table \"{}\" outside its recursive query",
            work.name
        ))),
    }
}

/// The most rows `generate_series` may produce (54000 beyond), so that a typo cannot exhaust
/// memory.
const SERIES_ROW_LIMIT: i64 = 10_000_000;

/// The rows of a set-returning function in FROM.
fn function_rows(function: &FunctionSource) -> Result<Vec<SharedRow>> {
    let values = function
        .args
        .iter()
        .map(|e| e.eval(&[]))
        .collect::<Result<Vec<_>>>()?;
    match function.function {
        SetFunction::GenerateSeries => series_rows(&values),
        // `unnest(array)`: a row per element; none for NULL.
        SetFunction::Unnest => Ok(match values.into_iter().next() {
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| SharedRow::from(vec![v]))
                .collect(),
            _ => Vec::new(),
        }),
    }
}

/// `generate_series(start, stop [, step])`: start, start + step, … while not past stop; no
/// rows when any argument is NULL; a zero step is 22023.
fn series_rows(values: &[Value]) -> Result<Vec<SharedRow>> {
    let int = |v: Option<&Value>| match v {
        None => Ok(Some(1)),
        Some(Value::Null) => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(Error::Datatype(format!(
            "generate_series argument of type {}",
            other.type_name()
        ))),
    };
    let (Some(start), Some(stop), Some(step)) = (
        int(values.first())?,
        int(values.get(1))?,
        int(values.get(2))?,
    ) else {
        return Ok(Vec::new());
    };
    if step == 0 {
        return Err(Error::InvalidParameterValue(
            "step size cannot equal zero".into(),
        ));
    }
    let count = (i128::from(stop) - i128::from(start)) / i128::from(step) + 1;
    if count > i128::from(SERIES_ROW_LIMIT) {
        return Err(Error::ProgramLimitExceeded(format!(
            "generate_series would produce more than {SERIES_ROW_LIMIT} rows"
        )));
    }
    let mut rows = Vec::with_capacity(count.max(0) as usize);
    let mut current = i128::from(start);
    while (step > 0 && current <= i128::from(stop)) || (step < 0 && current >= i128::from(stop)) {
        if rows.len() % 4096 == 0 {
            interrupt::check()?;
        }
        rows.push(SharedRow::from(vec![Value::Int(current as i64)]));
        current += i128::from(step);
    }
    Ok(rows)
}

/// The most rows a recursive query may produce before it is stopped (54000), so that a
/// recursion without end fails instead of exhausting memory.
const RECURSIVE_ROW_LIMIT: usize = 10_000_000;

/// `WITH RECURSIVE`: the base rows, then each step run over the rows the previous one added
/// (its work table) until a step adds none. Without ALL, rows seen before are not added again.
fn recursive_rows(recursive: &RecursiveSource, txn: &Transaction) -> Result<Vec<SharedRow>> {
    let mut seen = BTreeSet::new();
    let mut fresh = |rows: Vec<Row>| -> Vec<Row> {
        if recursive.all {
            rows
        } else {
            rows.into_iter()
                .filter(|row| seen.insert(encode_values(row)))
                .collect()
        }
    };
    let mut work = fresh(
        query(&recursive.base, txn, &mut Measured::default())?
            .rows
            .into_rows(),
    );
    let mut all: Vec<SharedRow> = work.iter().cloned().map(SharedRow::from).collect();
    while !work.is_empty() {
        interrupt::check()?;
        let mut step = recursive.step.clone();
        fill_work_table(&mut step, &work);
        work = fresh(
            query(&step, txn, &mut Measured::default())?
                .rows
                .into_rows(),
        );
        all.extend(work.iter().cloned().map(SharedRow::from));
        if all.len() > RECURSIVE_ROW_LIMIT {
            return Err(Error::ProgramLimitExceeded(format!(
                "recursive query \"{}\" produced more than {RECURSIVE_ROW_LIMIT} rows",
                recursive.name
            )));
        }
    }
    Ok(all)
}

/// Puts `rows` where the step reads its work table.
fn fill_work_table(plan: &mut SelectPlan, rows: &[Row]) {
    fn fill(source: &mut Source, rows: &[Row]) {
        match source {
            Source::WorkTable(work) => {
                *source = Source::Values(Box::new(ValuesSource {
                    name: work.name.clone(),
                    column_names: work.column_names.clone(),
                    rows: rows
                        .iter()
                        .map(|row| row.iter().cloned().map(BoundExpr::Constant).collect())
                        .collect(),
                }));
            }
            Source::Join(join) => {
                fill(&mut join.left, rows);
                fill(&mut join.right, rows);
            }
            Source::Derived(derived) => fill_work_table(&mut derived.query, rows),
            Source::Table(_) | Source::Values(_) | Source::Recursive(_) | Source::Function(_) => {}
        }
    }
    if let Some(s) = &mut plan.source {
        fill(s, rows);
    }
    if let Some(set) = &mut plan.set {
        fill_work_table(&mut set.head, rows);
        for part in &mut set.parts {
            fill_work_table(&mut part.query, rows);
        }
    }
}

/// Joins two sources: a hash join on the ON condition's equality keys (built on the right
/// side), or a nested loop when there are none; outer joins pad the unmatched side with NULLs.
fn join_rows(
    join: &JoinPlan,
    txn: &Transaction,
    measured: &mut Measured,
) -> Result<Vec<SharedRow>> {
    let left = source_rows(&join.left, txn, measured)?;
    let right = source_rows(&join.right, txn, measured)?;
    let keep_left = matches!(join.kind, JoinKind::Left | JoinKind::Full);
    let keep_right = matches!(join.kind, JoinKind::Right | JoinKind::Full);
    // Columns the query does not read stay NULL instead of being copied into joined rows.
    let joined = |l: &[Value], r: &[Value]| -> Row {
        match &join.needed {
            None => l.iter().chain(r.iter()).cloned().collect(),
            Some(needed) => l
                .iter()
                .chain(r.iter())
                .zip(needed.iter())
                .map(|(v, &keep)| if keep { v.clone() } else { Value::Null })
                .collect(),
        }
    };
    let nulls = |n: usize| -> Row { vec![Value::Null; n] };
    let passes = |row: &[Value]| -> Result<bool> {
        Ok(match &join.on {
            Some(on) => on.eval(row)? == Value::Boolean(true),
            None => true,
        })
    };
    // A row's key values, encoded into `out`; false if one is NULL (NULLs never match, so
    // they are not hashed).
    let key = |exprs: &mut dyn Iterator<Item = &BoundExpr>, row: &[Value], out: &mut Vec<u8>| {
        out.clear();
        for e in exprs {
            let v = e.eval(row)?;
            if v.is_null() {
                return Ok(false);
            }
            encode_value(out, &v);
        }
        Ok::<_, Error>(true)
    };
    // A hash join probes the right rows sharing the left row's keys; a nested loop tries all.
    let mut encoded = Vec::new();
    let mut hashed: Option<HashMap<Vec<u8>, Vec<usize>, foldhash::fast::RandomState>> = None;
    if !join.equi.is_empty() {
        let mut table: HashMap<Vec<u8>, Vec<usize>, _> = HashMap::default();
        for (i, r) in right.iter().enumerate() {
            if key(&mut join.equi.iter().map(|(_, r)| r), r, &mut encoded)? {
                table.entry(encoded.clone()).or_default().push(i);
            }
        }
        hashed = Some(table);
    }
    let mut right_matched = vec![false; right.len()];
    let mut out = Vec::new();
    let every: Vec<usize> = if hashed.is_none() {
        (0..right.len()).collect()
    } else {
        Vec::new()
    };
    for l in &left {
        let candidates: &[usize] = match &hashed {
            None => &every,
            Some(table) => match key(&mut join.equi.iter().map(|(l, _)| l), l, &mut encoded)? {
                true => table.get(encoded.as_slice()).map_or(&[], Vec::as_slice),
                false => &[],
            },
        };
        let mut matched = false;
        for &i in candidates {
            interrupt::check()?;
            let row = joined(l, &right[i]);
            if passes(&row)? {
                matched = true;
                right_matched[i] = true;
                out.push(SharedRow::from(row));
            }
        }
        if !matched && keep_left {
            out.push(SharedRow::from(joined(l, &nulls(join.right_width))));
        }
    }
    if keep_right {
        for (r, matched) in right.iter().zip(right_matched) {
            if !matched {
                out.push(SharedRow::from(joined(&nulls(join.left_width), r)));
            }
        }
    }
    measured.scanned = out.len();
    Ok(out)
}

/// A command's result: its tag, plus the RETURNING rows if it has that clause.
fn returned(
    returning: &Option<Returning>,
    rows: &[Row],
    tag: Cow<'static, str>,
) -> Result<QueryResult> {
    let Some(returning) = returning else {
        return Ok(QueryResult::command(tag));
    };
    let mut out = Rows::with_capacity(returning.projection.len(), rows.len());
    for row in rows {
        out.push_with(|values| {
            for e in &returning.projection {
                values.push(e.eval(row)?);
            }
            Ok(())
        })?;
    }
    let rows = out;
    Ok(QueryResult {
        columns: returning.columns.clone(),
        rows,
        tag,
    })
}

/// A command tag `"{verb} {count}"` (INSERT's has the `0` OID before it): static for the
/// one-row statements that run by the million, formatted otherwise.
fn count_tag(verb: &'static str, count: usize) -> Cow<'static, str> {
    match (verb, count) {
        ("INSERT 0", 1) => Cow::Borrowed("INSERT 0 1"),
        ("UPDATE", 1) => Cow::Borrowed("UPDATE 1"),
        ("DELETE", 1) => Cow::Borrowed("DELETE 1"),
        _ => Cow::Owned(format!("{verb} {count}")),
    }
}

/// Whether an insert's error is a unique violation this ON CONFLICT clause handles.
fn handles(conflict: &ConflictPlan, error: &Error) -> bool {
    let error = match error {
        Error::At { error, .. } => error,
        other => other,
    };
    match (error, &conflict.constraint) {
        (Error::UniqueViolation { .. }, None) => true,
        (Error::UniqueViolation { constraint, .. }, Some(wanted)) => constraint == wanted,
        _ => false,
    }
}

/// ON CONFLICT for one proposed row: nothing (DO NOTHING, or DO UPDATE whose WHERE fails), or
/// the conflicting row updated; returns the row written, if any.
/// The rows an UPDATE or DELETE changes, with their keys: the target's rows that pass the
/// filter or, with FROM/USING, the joined rows that do (each target row once, with its first
/// match, as in PostgreSQL), the target's columns first.
fn targets(
    source: &TableSource,
    joined: Option<&JoinedTarget>,
    filter: Option<&BoundExpr>,
    txn: &Transaction,
    measured: &mut Measured,
) -> Result<Vec<(RowKey, SharedRow)>> {
    let Some(joined) = joined else {
        return matching(source, (filter, filter), txn, None, measured);
    };
    let schema = txn.table_schema(&source.table)?;
    let correlated = filter.is_some_and(is_correlated);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for row in source_rows(&joined.source, txn, measured)? {
        interrupt::check()?;
        if let Some(filter) = filter {
            if eval_row(filter, &row, txn, correlated)? != Value::Boolean(true) {
                continue;
            }
        }
        let values: Vec<Value> = schema.primary_key.iter().map(|&c| row[c].clone()).collect();
        let key = txn.key(&source.table, &values)?;
        if seen.insert(key.clone()) {
            out.push((key, row));
        }
    }
    measured.filtered = out.len();
    Ok(out)
}

/// Locks a row an UPDATE or DELETE found, waiting for a transaction that holds it. The row
/// to write from: as found; under READ COMMITTED the newest version if a concurrent
/// transaction changed it and it still matches the WHERE (PostgreSQL's re-check), `None` if
/// it no longer does or is gone. A joined target's re-check would need the join again: that
/// case is a serialization failure instead.
fn locked_target(
    txn: &mut Transaction,
    source: &TableSource,
    joined: bool,
    filter: Option<&BoundExpr>,
    key: &RowKey,
    row: &SharedRow,
) -> Result<Option<SharedRow>> {
    match txn.lock_row(&source.table, key)? {
        Locked::Unchanged => Ok(Some(row.clone())),
        Locked::Changed(None) => Ok(None),
        Locked::Changed(Some(_)) if joined => Err(Error::SerializationFailure(
            "concurrent update of a row UPDATE … FROM or DELETE … USING joined".into(),
        )),
        Locked::Changed(Some(latest)) => {
            let matches = match filter {
                Some(filter) => {
                    eval_row(filter, &latest, txn, is_correlated(filter))? == Value::Boolean(true)
                }
                None => true,
            };
            Ok(matches.then_some(latest))
        }
    }
}

/// Fails with 23514 if `row` makes a CHECK constraint false (NULL passes, as in SQL).
fn check_row(checks: &[CheckPlan], table: &str, row: &[Value]) -> Result<()> {
    for check in checks {
        if check.expr.eval(row)? == Value::Boolean(false) {
            return Err(Error::CheckViolation {
                table: table.to_string(),
                constraint: check.name.clone(),
            });
        }
    }
    Ok(())
}

fn resolve_conflict(
    conflict: &ConflictPlan,
    checks: &[CheckPlan],
    table: &str,
    proposed: Row,
    txn: &mut Transaction,
) -> Result<Option<Row>> {
    let Some(update) = &conflict.update else {
        return Ok(None);
    };
    let values: Vec<Value> = conflict
        .columns
        .iter()
        .map(|&c| proposed[c].clone())
        .collect();
    let by_key = txn.table_schema(table)?.primary_key == conflict.columns;
    let existing = match &conflict.constraint {
        Some(index) if !by_key => {
            let bound = Bound::Included(values.as_slice());
            txn.scan_index(table, index, bound, bound, crate::mvcc::Direction::Forward)?
                .next()
                .transpose()?
        }
        _ => {
            let key = txn.key(table, &values)?;
            txn.get(table, &key)?.map(|row| (key, row))
        }
    };
    let Some((key, row)) = existing else {
        return Ok(None);
    };
    let mut combined = row.to_vec();
    combined.extend(proposed);
    if let Some(filter) = &update.filter {
        if filter.eval(&combined)? != Value::Boolean(true) {
            return Ok(None);
        }
    }
    let mut new = row.to_vec();
    for (column, expr) in &update.assignments {
        new[*column] = expr.eval(&combined)?;
    }
    check_row(checks, table, &new)?;
    txn.update(table, &key, new.clone())?;
    Ok(Some(new))
}

/// LIMIT/OFFSET values: NULL means none; negative ones are errors.
fn count(expr: Option<&BoundExpr>, negative: Error) -> Result<Option<u64>> {
    match expr.map(|e| e.eval(&[])).transpose()? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(n)) => u64::try_from(n).map(Some).map_err(|_| negative),
        Some(other) => Err(Error::Datatype(format!(
            "argument of LIMIT must be type bigint, not type {}",
            other.type_name()
        ))),
    }
}

/// The rows of `source` that pass `filter`, with their keys; at most `stop` of them. When
/// the scan delivers exactly a key range's rows, `residual` is applied instead: `filter`
/// without the conjuncts the range decides ([`TableSource::residual`], for the query's own
/// filter; a caller with another filter passes it twice).
fn matching(
    source: &TableSource,
    (filter, residual): (Option<&BoundExpr>, Option<&BoundExpr>),
    txn: &Transaction,
    stop: Option<u64>,
    measured: &mut Measured,
) -> Result<Vec<(RowKey, SharedRow)>> {
    let started = Clock::start(measured.timing);
    let mut out = Vec::new();
    let limit = stop.map_or(usize::MAX, |s| usize::try_from(s).unwrap_or(usize::MAX));
    if limit == 0 {
        return Ok(out);
    }
    let (rows, exact) = scan_exact(source, txn)?;
    let filter = if exact { residual } else { filter };
    let correlated = filter.is_some_and(is_correlated);
    for item in rows {
        let (key, row) = item?;
        interrupt::check()?;
        measured.scanned += 1;
        let passes = match filter {
            Some(filter) => eval_row(filter, &row, txn, correlated)? == Value::Boolean(true),
            None => true,
        };
        if passes {
            out.push((key, row));
            if out.len() >= limit {
                break;
            }
        }
    }
    measured.filtered = out.len();
    measured.scan_ms = started.elapsed_ms();
    Ok(out)
}

type Scanned<'t> = Box<dyn Iterator<Item = Result<(RowKey, SharedRow)>> + 't>;

/// A table's rows through an access path: a scan of the primary index, which can lend its
/// cached rows ([`RowScan::visit`]), or any other source of rows.
enum Scan<'t> {
    Table(RowScan),
    Rows(Scanned<'t>),
}

impl Scan<'_> {
    /// Calls `visit` with each row until it returns false.
    fn for_each(self, mut visit: impl FnMut(&[Value]) -> Result<bool>) -> Result<()> {
        match self {
            Scan::Table(scan) => scan.visit(visit),
            Scan::Rows(rows) => {
                for item in rows {
                    let (_, row) = item?;
                    if !visit(&row)? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Iterator for Scan<'_> {
    type Item = Result<(RowKey, SharedRow)>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Scan::Table(scan) => scan.next(),
            Scan::Rows(rows) => rows.next(),
        }
    }
}

/// Reads a table through the planned access path, also saying whether the rows are exactly
/// the access path's (a range whose bounds became keys), so that the filter's conjuncts that
/// made the range need no check. A key constant the key column cannot hold (e.g. out of a
/// SMALLINT's range) matches no row; for a range it widens to a full scan (the filter still
/// decides).
fn scan_exact<'t>(source: &TableSource, txn: &'t Transaction) -> Result<(Scan<'t>, bool)> {
    let table: &str = &source.table;
    let full = |txn: &'t Transaction| -> Result<Scan<'t>> {
        Ok(Scan::Table(txn.scan(table, .., source.direction)?))
    };
    let key = |expr: &BoundExpr| -> Result<RowKey> {
        let value = expr.eval(&[])?;
        txn.key(table, std::slice::from_ref(&value))
    };
    // A key value no key can hold (NULL, out of its column's range) matches no row.
    let unkeyable = |e: &Error| matches!(e.sqlstate(), "22003" | "23502");
    let nothing =
        || -> Result<(Scan<'t>, bool)> { Ok((Scan::Rows(Box::new(std::iter::empty())), false)) };
    let point = |key: Result<RowKey>| -> Result<(Scan<'t>, bool)> {
        match key {
            Ok(key) => {
                let row = txn.get(table, &key)?;
                let rows = Box::new(row.map(|row| Ok((key, row))).into_iter());
                Ok((Scan::Rows(rows), false))
            }
            Err(e) if unkeyable(&e) => nothing(),
            Err(e) => Err(e),
        }
    };
    let values = |columns: &[(usize, BoundExpr)]| -> Result<Vec<Value>> {
        columns.iter().map(|(_, e)| e.eval(&[])).collect()
    };
    // One lookup per key, in key order, each key once.
    let lookups = |found: &mut dyn Iterator<Item = Result<RowKey>>| {
        let mut keys = Vec::new();
        for key in found {
            match key {
                Ok(key) => keys.push(key),
                Err(e) if unkeyable(&e) => {}
                Err(e) => return Err(e),
            }
        }
        keys.sort();
        keys.dedup();
        let found = txn.get_many(table, &keys)?;
        let rows: Vec<_> = keys
            .into_iter()
            .zip(found)
            .filter_map(|(key, row)| row.map(|row| Ok((key, row))))
            .collect();
        Ok((Scan::Rows(Box::new(rows.into_iter())), false))
    };
    // Key columns are never NULL, so no encoded column starts with 0xFF (NULL's tag): a key
    // with these bytes and then 0xFF follows every key they start.
    let after = |mut key: Vec<u8>| {
        key.push(0xFF);
        RowKey::Bytes(key)
    };
    match &source.access {
        Access::Full => Ok((full(txn)?, false)),
        Access::Key(expr) => point(key(expr)),
        Access::CompositeKey(columns) => point(txn.key(table, &values(columns)?)),
        Access::KeyPrefix(columns) => match txn.key_prefix(table, &values(columns)?) {
            Ok(prefix) => {
                let range = (
                    Bound::Included(RowKey::Bytes(prefix.clone())),
                    Bound::Excluded(after(prefix)),
                );
                Ok((
                    Scan::Table(txn.scan(table, range, source.direction)?),
                    false,
                ))
            }
            Err(e) if unkeyable(&e) => nothing(),
            Err(e) => Err(e),
        },
        Access::KeyRange(range) => {
            let mut values = values(&range.prefix)?;
            let prefix = match txn.key_prefix(table, &values) {
                Ok(prefix) => prefix,
                Err(e) if unkeyable(&e) => return nothing(),
                Err(e) => return Err(e),
            };
            // The keys starting with the prefix and then the bound's value; a bound no key
            // can hold (NULL, out of the column's range) is dropped, and the filter decides.
            let mut bound_key = |bound: &BoundExpr| -> Result<Option<Vec<u8>>> {
                values.push(bound.eval(&[])?);
                let key = txn.key_prefix(table, &values);
                values.pop();
                match key {
                    Ok(key) => Ok(Some(key)),
                    Err(e) if unkeyable(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            };
            let lower = match &range.lower {
                Bound::Included(e) => bound_key(e)?.map(|k| Bound::Included(RowKey::Bytes(k))),
                Bound::Excluded(e) => bound_key(e)?.map(|k| Bound::Included(after(k))),
                Bound::Unbounded => None,
            };
            let upper = match &range.upper {
                Bound::Included(e) => bound_key(e)?.map(|k| Bound::Excluded(after(k))),
                Bound::Excluded(e) => bound_key(e)?.map(|k| Bound::Excluded(RowKey::Bytes(k))),
                Bound::Unbounded => None,
            };
            let whole = !prefix.is_empty();
            let lower = lower.unwrap_or_else(|| match whole {
                true => Bound::Included(RowKey::Bytes(prefix.clone())),
                false => Bound::Unbounded,
            });
            let upper = upper.unwrap_or_else(|| match whole {
                true => Bound::Excluded(after(prefix)),
                false => Bound::Unbounded,
            });
            Ok((
                Scan::Table(txn.scan(table, (lower, upper), source.direction)?),
                false,
            ))
        }
        Access::Keys(exprs) => lookups(&mut exprs.iter().map(key)),
        Access::CompositeKeys(keys) => {
            lookups(&mut keys.iter().map(|columns| txn.key(table, &values(columns)?)))
        }
        Access::Index(access) => {
            let rows = index_scan(table, access, source.direction, txn)?;
            Ok((Scan::Rows(rows), false))
        }
        Access::Range(lower, upper) => {
            let bound = |b: &Bound<BoundExpr>| -> Result<Bound<RowKey>> {
                Ok(match b {
                    Bound::Included(e) => Bound::Included(key(e)?),
                    Bound::Excluded(e) => Bound::Excluded(key(e)?),
                    Bound::Unbounded => Bound::Unbounded,
                })
            };
            match (bound(lower), bound(upper)) {
                (Ok(lower), Ok(upper)) => Ok((
                    Scan::Table(txn.scan(table, (lower, upper), source.direction)?),
                    true,
                )),
                _ => Ok((full(txn)?, false)),
            }
        }
    }
}

/// The rows a secondary-index access finds (in index order): one scan, or one per distinct
/// value of an `IN` list. A NULL among the values matches nothing: every comparison with it is
/// unknown.
fn index_scan<'t>(
    table: &str,
    access: &IndexAccess,
    direction: Direction,
    txn: &'t Transaction,
) -> Result<Scanned<'t>> {
    let prefix = eval_all(&access.prefix, &[])?;
    if prefix.iter().any(Value::is_null) {
        return Ok(Box::new(std::iter::empty()));
    }
    let with = |value: Value| (!value.is_null()).then(|| [prefix.as_slice(), &[value]].concat());
    let bound = |b: &Bound<BoundExpr>| -> Result<Option<Bound<Vec<Value>>>> {
        Ok(match b {
            Bound::Included(e) => with(e.eval(&[])?).map(Bound::Included),
            Bound::Excluded(e) => with(e.eval(&[])?).map(Bound::Excluded),
            Bound::Unbounded if prefix.is_empty() => Some(Bound::Unbounded),
            Bound::Unbounded => Some(Bound::Included(prefix.clone())),
        })
    };
    let mut ranges = Vec::new();
    if access.any.is_empty() {
        if let (Some(lower), Some(upper)) = (bound(&access.lower)?, bound(&access.upper)?) {
            ranges.push((lower, upper));
        }
    } else {
        // Distinct values in the index's order.
        let mut values = std::collections::BTreeMap::new();
        for e in &access.any {
            if let Some(values_key) = with(e.eval(&[])?) {
                values.insert(encode_values(&values_key), values_key);
            }
        }
        ranges.extend(
            values
                .into_values()
                .map(|v| (Bound::Included(v.clone()), Bound::Included(v))),
        );
        if direction == Direction::Backward {
            ranges.reverse();
        }
    }
    let mut rows: Scanned<'t> = Box::new(std::iter::empty());
    for (lower, upper) in ranges {
        let scan = txn.scan_index(
            table,
            &access.index,
            lower.as_ref().map(Vec::as_slice),
            upper.as_ref().map(Vec::as_slice),
            direction,
        )?;
        rows = Box::new(rows.chain(scan));
    }
    Ok(rows)
}

/// Orders two rows' sort-key values by `keys` (direction, NULLs first or last).
pub fn compare_sort_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Result<Ordering> {
    for ((x, y), key) in a.iter().zip(b).zip(keys) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) if key.nulls_first => Ordering::Less,
            (true, false) => Ordering::Greater,
            (false, true) if key.nulls_first => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let o = compare(x, y)?.unwrap_or(Ordering::Equal);
                if key.descending { o.reverse() } else { o }
            }
        };
        if ordering != Ordering::Equal {
            return Ok(ordering);
        }
    }
    Ok(Ordering::Equal)
}

fn sort(rows: Vec<SharedRow>, keys: &[SortKey]) -> Result<Vec<SharedRow>> {
    let mut keyed = rows
        .into_iter()
        .map(|row| {
            let values = keys
                .iter()
                .map(|k| k.expr.eval(&row))
                .collect::<Result<Vec<Value>>>()?;
            Ok((values, row))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut failure = None;
    keyed.sort_by(|(a, _), (b, _)| {
        compare_sort_keys(a, b, keys).unwrap_or_else(|e| {
            failure.get_or_insert(e);
            Ordering::Equal
        })
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(keyed.into_iter().map(|(_, row)| row).collect()),
    }
}
