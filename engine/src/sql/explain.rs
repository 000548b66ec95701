//! EXPLAIN: plans printed as trees, PostgreSQL-style, naming the learned-index access path;
//! EXPLAIN ANALYZE runs the statement and adds rows and time per operator.

use std::fmt::Write;
use std::ops::Bound;

use super::expr::{BoundExpr, SubqueryKind};
use super::parser::ast::BinaryOp;
use super::planner::{
    Access, InsertRows, JoinKind, Plan, SelectPlan, SetFunction, Source, TableSource,
};
use super::window::{WindowFunc, WindowPlan};
use crate::mvcc::Direction;
use crate::types::Value;

/// Per-operator measurements of one execution (EXPLAIN ANALYZE).
#[derive(Debug, Default, Clone, Copy)]
pub struct Measured {
    /// Rows the access path produced.
    pub scanned: usize,
    /// Rows that passed the filter.
    pub filtered: usize,
    /// Rows returned (or written).
    pub returned: usize,
    /// Milliseconds in the scan and filter, and in total (absent where there is no clock).
    pub scan_ms: Option<f64>,
    pub total_ms: Option<f64>,
    /// Whether times are taken at all (only EXPLAIN ANALYZE asks).
    pub timing: bool,
}

/// The plan's lines, indented as a tree (the `QUERY PLAN` column).
pub fn explain(plan: &Plan, measured: Option<&Measured>) -> Vec<String> {
    let mut lines = Vec::new();
    let actual = |rows: usize, ms: Option<f64>| match (measured, ms) {
        (Some(_), Some(ms)) => format!(" (actual rows={rows} time={ms:.3} ms)"),
        (Some(_), None) => format!(" (actual rows={rows})"),
        (None, _) => String::new(),
    };
    let m = measured.copied().unwrap_or_default();
    match plan {
        Plan::Select(select) => {
            let mut depth = 0;
            let mut push = |text: String| {
                lines.push(format!("{}{}", "  ".repeat(depth), text));
                depth += 1;
            };
            if select.limit.is_some() || select.offset.is_some() {
                push(format!("Limit{}", actual(m.returned, m.total_ms)));
            }
            if select.distinct {
                push("Unique".to_string());
            }
            if !select.distinct_on.is_empty() {
                let names = sort_names(select);
                let keys: Vec<String> = select
                    .distinct_on
                    .iter()
                    .map(|e| render(e, &names))
                    .collect();
                push(format!("Unique (on {})", keys.join(", ")));
            }
            if !select.order.is_empty() {
                let keys: Vec<String> = select
                    .order
                    .iter()
                    .map(|k| {
                        let names = sort_names(select);
                        let mut key = render(&k.expr, &names);
                        if k.descending {
                            key.push_str(" DESC");
                        }
                        // PostgreSQL's default: NULLs last ascending, first descending.
                        if k.nulls_first != k.descending {
                            key.push_str(if k.nulls_first {
                                " NULLS FIRST"
                            } else {
                                " NULLS LAST"
                            });
                        }
                        key
                    })
                    .collect();
                push(format!(
                    "Sort (key: {}){}",
                    keys.join(", "),
                    actual(m.filtered, None)
                ));
            }
            if !select.windows.is_empty() {
                let names = sort_names(select);
                let calls: Vec<String> = select
                    .windows
                    .iter()
                    .map(|w| window_text(w, &names))
                    .collect();
                push(format!("WindowAgg ({})", calls.join(", ")));
            }
            if let Some(grouping) = &select.grouping {
                let keys: Vec<String> = grouping
                    .keys
                    .iter()
                    .map(|k| render(k, &names_of(select)))
                    .collect();
                let kind = if keys.is_empty() {
                    "Aggregate".to_string()
                } else {
                    format!("Group Aggregate (key: {})", keys.join(", "))
                };
                push(kind);
            }
            match &select.source {
                None => push(format!("Result{}", actual(m.returned, m.total_ms))),
                Some(Source::Table(source)) => {
                    if let Some(filter) = &select.filter {
                        push(format!(
                            "Filter ({}){}",
                            render(filter, &source.column_names),
                            actual(m.filtered, m.scan_ms)
                        ));
                    }
                    push(format!("{}{}", scan_line(source), actual(m.scanned, None)));
                }
                Some(source) => {
                    let names = source_names(source);
                    if let Some(filter) = &select.filter {
                        push(format!(
                            "Filter ({}){}",
                            render(filter, &names),
                            actual(m.filtered, m.scan_ms)
                        ));
                    }
                    source_lines(source, depth, &mut lines);
                }
            }
        }
        Plan::Update {
            source,
            joined,
            filter,
            ..
        }
        | Plan::Delete {
            source,
            joined,
            filter,
            ..
        } => {
            let verb = if matches!(plan, Plan::Update { .. }) {
                "Update"
            } else {
                "Delete"
            };
            lines.push(format!(
                "{verb} on {}{}",
                source.table,
                actual(m.returned, m.total_ms)
            ));
            let names = match joined {
                Some(joined) => source_names(&joined.source),
                None => source.column_names.to_vec(),
            };
            let mut depth = 1;
            if let Some(filter) = filter {
                lines.push(format!(
                    "  Filter ({}){}",
                    render(filter, &names),
                    actual(m.filtered, m.scan_ms)
                ));
                depth = 2;
            }
            match joined {
                Some(joined) => source_lines(&joined.source, depth, &mut lines),
                None => lines.push(format!(
                    "{}{}{}",
                    "  ".repeat(depth),
                    scan_line(source),
                    actual(m.scanned, None)
                )),
            }
        }
        Plan::Insert { table, source, .. } => {
            let from = match source {
                InsertRows::Values(rows) => format!("{} rows", rows.len()),
                InsertRows::Query { .. } => "from a query".to_string(),
            };
            lines.push(format!(
                "Insert on {table} ({from}){}",
                actual(m.returned, m.total_ms)
            ));
        }
        other => lines.push(format!("Utility statement: {}", utility_name(other))),
    }
    lines
}

fn names_of(select: &SelectPlan) -> Vec<String> {
    select.source.as_ref().map(source_names).unwrap_or_default()
}

/// The column names of a source's rows (a join's: the left's, then the right's).
fn source_names(source: &Source) -> Vec<String> {
    match source {
        Source::Table(table) => table.column_names.to_vec(),
        Source::Derived(derived) => derived.column_names.to_vec(),
        Source::Values(values) => values.column_names.to_vec(),
        Source::Function(function) => function.column_names.to_vec(),
        Source::Recursive(recursive) => recursive.column_names.to_vec(),
        Source::WorkTable(work) => work.column_names.to_vec(),
        Source::Join(join) => {
            let mut names = source_names(&join.left);
            names.extend(source_names(&join.right));
            names
        }
    }
}

/// A source as plan lines, indented from `depth`.
fn source_lines(source: &Source, depth: usize, lines: &mut Vec<String>) {
    let indent = "  ".repeat(depth);
    match source {
        Source::Table(table) => {
            let mut depth = depth;
            if let Some(pushed) = &table.pushed {
                lines.push(format!(
                    "{indent}Filter ({})",
                    render(pushed, &table.column_names)
                ));
                depth += 1;
            }
            lines.push(format!("{}{}", "  ".repeat(depth), scan_line(table)));
        }
        Source::Derived(derived) => {
            lines.push(format!("{indent}Subquery Scan on {}", derived.name));
        }
        Source::Recursive(recursive) => {
            lines.push(format!(
                "{indent}Recursive Union{} on {}",
                if recursive.all { " All" } else { "" },
                recursive.name
            ));
        }
        Source::WorkTable(work) => {
            lines.push(format!("{indent}WorkTable Scan on {}", work.name));
        }
        Source::Function(function) => {
            let name = match function.function {
                SetFunction::GenerateSeries => "generate_series",
                SetFunction::Unnest => "unnest",
            };
            lines.push(format!("{indent}Function Scan on {name} {}", function.name));
        }
        Source::Values(values) => {
            lines.push(format!(
                "{indent}Values Scan on {} ({} rows)",
                values.name,
                values.rows.len()
            ));
        }
        Source::Join(join) => {
            let method = if join.equi.is_empty() {
                "Nested Loop"
            } else {
                "Hash Join"
            };
            let kind = match join.kind {
                JoinKind::Inner => "Inner",
                JoinKind::Left => "Left",
                JoinKind::Right => "Right",
                JoinKind::Full => "Full",
                // A cross join hashed on WHERE's equalities is an inner join.
                JoinKind::Cross if !join.equi.is_empty() => "Inner",
                JoinKind::Cross => "Cross",
            };
            let on = match &join.on {
                Some(on) => format!(" ({})", render(on, &source_names(source))),
                None if !join.equi.is_empty() => {
                    let (left, right) = (source_names(&join.left), source_names(&join.right));
                    let keys: Vec<String> = join
                        .equi
                        .iter()
                        .map(|(l, r)| format!("{} = {}", render(l, &left), render(r, &right)))
                        .collect();
                    format!(" (hash: {})", keys.join(" AND "))
                }
                None => String::new(),
            };
            lines.push(format!("{indent}{method} ({kind}){on}"));
            source_lines(&join.left, depth + 1, lines);
            source_lines(&join.right, depth + 1, lines);
        }
    }
}

/// The names of the columns sort keys read: the table's, or above a GROUP BY the group keys
/// and aggregates.
fn sort_names(select: &SelectPlan) -> Vec<String> {
    let input = names_of(select);
    let mut names = match &select.grouping {
        None => input.clone(),
        Some(grouping) => grouping
            .keys
            .iter()
            .map(|k| render(k, &input))
            .chain(grouping.aggregates.iter().map(|a| {
                let arg = a
                    .arg
                    .as_ref()
                    .map_or("*".to_string(), |e| render(e, &input));
                format!("{}({arg})", a.func.name())
            }))
            .collect(),
    };
    let below = names.clone();
    names.extend(select.windows.iter().map(|w| window_text(w, &below)));
    names
}

/// A window call as SQL: `rank() OVER (PARTITION BY … ORDER BY …)`.
fn window_text(window: &WindowPlan, names: &[String]) -> String {
    let args: Vec<String> = match &window.func {
        WindowFunc::Aggregate(a) => {
            vec![a.arg.as_ref().map_or("*".to_string(), |e| render(e, names))]
        }
        _ => window.args.iter().map(|e| render(e, names)).collect(),
    };
    let mut over = Vec::new();
    if !window.partition_by.is_empty() {
        let keys: Vec<String> = window
            .partition_by
            .iter()
            .map(|e| render(e, names))
            .collect();
        over.push(format!("PARTITION BY {}", keys.join(", ")));
    }
    if !window.order_by.is_empty() {
        let keys: Vec<String> = window
            .order_by
            .iter()
            .map(|k| {
                let key = render(&k.expr, names);
                if k.descending {
                    format!("{key} DESC")
                } else {
                    key
                }
            })
            .collect();
        over.push(format!("ORDER BY {}", keys.join(", ")));
    }
    format!(
        "{}({}) OVER ({})",
        window.func.name(),
        args.join(", "),
        over.join(" ")
    )
}

fn utility_name(plan: &Plan) -> &'static str {
    match plan {
        Plan::CreateTable { .. } => "CREATE TABLE",
        Plan::DropTable { .. } => "DROP TABLE",
        Plan::CreateIndex { .. } => "CREATE INDEX",
        Plan::DropIndex { .. } => "DROP INDEX",
        Plan::AlterTable { .. } => "ALTER TABLE",
        Plan::Begin { .. } => "BEGIN",
        Plan::Commit => "COMMIT",
        Plan::Rollback => "ROLLBACK",
        Plan::Savepoint(_) => "SAVEPOINT",
        Plan::RollbackTo(_) => "ROLLBACK TO SAVEPOINT",
        Plan::Release(_) => "RELEASE SAVEPOINT",
        Plan::Truncate(_) => "TRUNCATE",
        Plan::Copy(_) => "COPY",
        Plan::Discard(_) => "DISCARD",
        Plan::CreateRole { .. } => "CREATE ROLE",
        Plan::AlterRole { .. } => "ALTER ROLE",
        Plan::DropRole { .. } => "DROP ROLE",
        Plan::Maintenance { vacuum: true } => "VACUUM",
        Plan::Maintenance { vacuum: false } => "ANALYZE",
        Plan::Nothing(tag) => tag,
        _ => "EXPLAIN",
    }
}

/// The access path: which learned-index operation reads the table.
fn scan_line(source: &TableSource) -> String {
    let backward = if source.direction == Direction::Backward {
        " Backward"
    } else {
        ""
    };
    match &source.access {
        Access::Full => format!("ALEX Full Scan{backward} on {}", source.table),
        Access::Key(value) => format!(
            "ALEX Point Lookup on {} (key = {})",
            source.table,
            render(value, &source.column_names)
        ),
        Access::CompositeKey(key) | Access::KeyPrefix(key) => {
            let parts: Vec<String> = key
                .iter()
                .map(|(c, e)| {
                    let value = render(e, &source.column_names);
                    format!("{} = {value}", source.column_names[*c])
                })
                .collect();
            let operation = match &source.access {
                Access::CompositeKey(_) => "Point Lookup",
                _ => "Range Scan",
            };
            format!(
                "ALEX {operation}{backward} on {} ({})",
                source.table,
                parts.join(", ")
            )
        }
        Access::CompositeKeys(keys) => {
            let columns: Vec<&str> = keys
                .first()
                .into_iter()
                .flatten()
                .map(|(c, _)| source.column_names[*c].as_str())
                .collect();
            let keys: Vec<String> = keys
                .iter()
                .map(|key| {
                    let values: Vec<String> = key
                        .iter()
                        .map(|(_, e)| render(e, &source.column_names))
                        .collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            format!(
                "ALEX Point Lookups on {} (({}) IN ({}))",
                source.table,
                columns.join(", "),
                keys.join(", ")
            )
        }
        Access::Keys(values) => {
            let values: Vec<String> = values
                .iter()
                .map(|v| render(v, &source.column_names))
                .collect();
            format!(
                "ALEX Point Lookups on {} (key IN ({}))",
                source.table,
                values.join(", ")
            )
        }
        Access::Index(index) => {
            let name = |c: usize| source.column_names[c].as_str();
            let value = |e: &BoundExpr| render(e, &source.column_names);
            let mut parts: Vec<String> = index
                .columns
                .iter()
                .zip(&index.prefix)
                .map(|(&c, e)| format!("{} = {}", name(c), value(e)))
                .collect();
            if let Some(&next) = index.columns.get(index.prefix.len()) {
                if !index.any.is_empty() {
                    let values: Vec<String> = index.any.iter().map(value).collect();
                    parts.push(format!("{} IN ({})", name(next), values.join(", ")));
                }
                parts.extend(bounds(name(next), &index.lower, &index.upper, value));
            }
            let condition = if parts.is_empty() {
                String::new()
            } else {
                format!(" ({})", parts.join(" AND "))
            };
            format!(
                "Index Scan{backward} using {} on {}{condition}",
                index.index, source.table
            )
        }
        Access::Range(lower, upper) => {
            let value = |e: &BoundExpr| render(e, &source.column_names);
            format!(
                "ALEX Range Scan{backward} on {} ({})",
                source.table,
                bounds("key", lower, upper, value).join(" AND ")
            )
        }
        Access::KeyRange(range) => {
            let name = |c: usize| source.column_names[c].as_str();
            let value = |e: &BoundExpr| render(e, &source.column_names);
            let mut parts: Vec<String> = range
                .prefix
                .iter()
                .map(|(c, e)| format!("{} = {}", name(*c), value(e)))
                .collect();
            parts.extend(bounds(
                name(range.column),
                &range.lower,
                &range.upper,
                value,
            ));
            format!(
                "ALEX Range Scan{backward} on {} ({})",
                source.table,
                parts.join(", ")
            )
        }
    }
}

/// `name >= lower`, `name < upper` and so on, for the bounded ends of a range.
fn bounds(
    name: &str,
    lower: &Bound<BoundExpr>,
    upper: &Bound<BoundExpr>,
    value: impl Fn(&BoundExpr) -> String,
) -> Vec<String> {
    [(lower, ">=", ">"), (upper, "<=", "<")]
        .into_iter()
        .filter_map(|(bound, inclusive, exclusive)| match bound {
            Bound::Included(e) => Some(format!("{name} {inclusive} {}", value(e))),
            Bound::Excluded(e) => Some(format!("{name} {exclusive} {}", value(e))),
            Bound::Unbounded => None,
        })
        .collect()
}

fn literal(value: &Value) -> String {
    match value {
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

/// An expression as SQL text, with column names.
pub fn render(expr: &BoundExpr, names: &[String]) -> String {
    let mut out = String::new();
    write_expr(&mut out, expr, names);
    out
}

fn write_expr(out: &mut String, expr: &BoundExpr, names: &[String]) {
    match expr {
        BoundExpr::Constant(v) => out.push_str(&literal(v)),
        BoundExpr::Column(i) => out.push_str(names.get(*i).map_or("?", String::as_str)),
        BoundExpr::Parameter(i) => {
            let _ = write!(out, "${}", i + 1);
        }
        BoundExpr::Outer(i, _) => {
            let _ = write!(out, "outer.${}", i + 1);
        }
        BoundExpr::WindowResult(i) => {
            let _ = write!(out, "window{}", i + 1);
        }
        BoundExpr::Negate(e) => {
            out.push('-');
            write_expr(out, e, names);
        }
        BoundExpr::Not(e) => {
            out.push_str("NOT ");
            write_expr(out, e, names);
        }
        BoundExpr::Binary {
            op, left, right, ..
        } => {
            let parens = matches!(op, BinaryOp::And | BinaryOp::Or);
            if parens {
                out.push('(');
            }
            write_expr(out, left, names);
            let _ = write!(out, " {} ", op.symbol());
            write_expr(out, right, names);
            if parens {
                out.push(')');
            }
        }
        BoundExpr::IsNull { expr, negated } => {
            write_expr(out, expr, names);
            out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        BoundExpr::InList {
            expr,
            list,
            negated,
        } => {
            write_expr(out, expr, names);
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, item, names);
            }
            out.push(')');
        }
        BoundExpr::InSet {
            expr,
            values,
            has_null,
            negated,
        } => {
            write_expr(out, expr, names);
            let count = values.len() + usize::from(*has_null);
            let _ = write!(
                out,
                "{} ({count} values)",
                if *negated { " NOT IN" } else { " IN" }
            );
        }
        BoundExpr::Cast { expr, to } => {
            write_expr(out, expr, names);
            let _ = write!(out, "::{}", to.name());
        }
        BoundExpr::Case {
            branches,
            otherwise,
        } => {
            out.push_str("CASE");
            for (condition, result) in branches {
                out.push_str(" WHEN ");
                write_expr(out, condition, names);
                out.push_str(" THEN ");
                write_expr(out, result, names);
            }
            if let Some(e) = otherwise {
                out.push_str(" ELSE ");
                write_expr(out, e, names);
            }
            out.push_str(" END");
        }
        BoundExpr::Like {
            expr,
            pattern,
            negated,
            case_insensitive,
        } => {
            write_expr(out, expr, names);
            out.push_str(match (negated, case_insensitive) {
                (false, false) => " LIKE ",
                (true, false) => " NOT LIKE ",
                (false, true) => " ILIKE ",
                (true, true) => " NOT ILIKE ",
            });
            write_expr(out, pattern, names);
        }
        BoundExpr::Lookup { key, .. } => {
            out.push_str("catalog_lookup(");
            write_expr(out, key, names);
            out.push(')');
        }
        BoundExpr::Subquery { kind, .. } => match kind {
            SubqueryKind::Scalar => out.push_str("(SubPlan)"),
            SubqueryKind::Array => out.push_str("ARRAY(SubPlan)"),
            SubqueryKind::Exists { negated } => out.push_str(if *negated {
                "NOT EXISTS (SubPlan)"
            } else {
                "EXISTS (SubPlan)"
            }),
            SubqueryKind::In { expr, negated } => {
                write_expr(out, expr, names);
                out.push_str(if *negated {
                    " NOT IN (SubPlan)"
                } else {
                    " IN (SubPlan)"
                });
            }
        },
        BoundExpr::Distinct {
            left,
            right,
            negated,
        } => {
            write_expr(out, left, names);
            out.push_str(if *negated {
                " IS NOT DISTINCT FROM "
            } else {
                " IS DISTINCT FROM "
            });
            write_expr(out, right, names);
        }
        BoundExpr::Call { func, args } => {
            out.push_str(func.name());
            out.push('(');
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_expr(out, arg, names);
            }
            out.push(')');
        }
    }
}
