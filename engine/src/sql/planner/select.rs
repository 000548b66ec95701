//! SELECT: the projection and its column names, the filter, grouping and aggregates, the
//! access path, and the order — a sort, unless the primary-key scan already delivers it.

use std::cell::RefCell;
use std::sync::Arc;

use super::super::expr::BoundExpr;
use super::super::parser::ast::{Expr, ExprKind, Literal, Select, SelectItem};
use super::expr::{Grouping, Relation, Scope, bind, coerce, has_aggregate};
use super::join::{self, FromTree, all_inner, from_tree};
use super::{
    Access, Catalog, GroupPlan, OutputColumn, SelectPlan, SetOp, SetPart, SetPlan, SortKey, Source,
    TableSource, access_path, covered_by_key, key_order, ordered_index, range_residual,
    where_clause,
};
use crate::mvcc::Direction;
use crate::types::DataType;
use crate::{Error, Result};

pub fn select(select: &Select, catalog: &dyn Catalog) -> Result<SelectPlan> {
    subquery_select(select, catalog, None)
}

/// A query that may name the columns of `outer`, the enclosing query's tables (a correlated
/// subquery): they bind as [`BoundExpr::Outer`] references.
pub fn subquery_select(
    select: &Select,
    catalog: &dyn Catalog,
    outer: Option<&[Relation]>,
) -> Result<SelectPlan> {
    if !select.compound.is_empty() {
        return set_operation(select, catalog, outer);
    }
    let mut relations = Vec::new();
    let tree = select
        .from
        .as_ref()
        .map(|from| from_tree(from, catalog, &mut relations, outer))
        .transpose()?;
    let input = Scope {
        outer,
        ..Scope::new(&relations).with_catalog(catalog)
    };
    let mut filter = where_clause(select.filter.as_ref(), input)?;

    // Grouping applies when there is a GROUP BY or any aggregate above the WHERE clause.
    let grouped = !select.group_by.is_empty()
        || select.having.is_some()
        || select
            .items
            .iter()
            .any(|i| matches!(i, SelectItem::Expr { expr, .. } if has_aggregate(expr)))
        || select.order_by.iter().any(|o| has_aggregate(&o.expr));
    let mut grouping = Grouping::default();
    if grouped {
        for key in &select.group_by {
            let key = group_key(key, select)?;
            if has_aggregate(key) {
                return Err(Error::Grouping(
                    "aggregate functions are not allowed in GROUP BY".into(),
                )
                .at(key.position));
            }
            grouping.keys.push(bind(key, input)?);
        }
    }
    let scope = if grouped {
        Scope {
            relations: &relations,
            grouping: Some(&grouping),
            catalog: Some(catalog),
            windows: None,
            outer,
        }
    } else {
        input
    };
    // Window calls are allowed in the select list and ORDER BY only.
    let windows = RefCell::new(Vec::new());
    let windowed = Scope {
        windows: Some(&windows),
        ..scope
    };

    let (mut projection, columns) = bind_items(&select.items, &relations, windowed, grouped)?;

    let having = select
        .having
        .as_ref()
        .map(|h| {
            let (bound, ty) = bind(h, scope)?;
            coerce(bound, ty, DataType::Boolean).map_err(|_| {
                Error::Datatype(format!(
                    "argument of HAVING must be type boolean, not type {}",
                    ty.map_or("unknown", DataType::name)
                ))
                .at(h.position)
            })
        })
        .transpose()?;

    let mut order = Vec::new();
    for item in &select.order_by {
        let expr = order_expr(&item.expr, &projection, &columns, windowed)?;
        order.push(SortKey {
            expr,
            descending: item.descending,
            // PostgreSQL: NULLs are larger than every value.
            nulls_first: item.nulls_first.unwrap_or(item.descending),
        });
    }

    // DISTINCT ON keeps the first row of each group in ORDER BY order, so ORDER BY must
    // start with its expressions (in any order), as PostgreSQL requires.
    let mut distinct_on = Vec::with_capacity(select.distinct_on.len());
    for expr in &select.distinct_on {
        distinct_on.push(order_expr(expr, &projection, &columns, windowed)?);
    }
    if !order.is_empty() {
        let leading: Vec<&BoundExpr> = order
            .iter()
            .take(distinct_on.len())
            .map(|k| &k.expr)
            .collect();
        if order.len() < distinct_on.len() || distinct_on.iter().any(|d| !leading.contains(&d)) {
            let at = select.distinct_on.first().map_or(0, |e| e.position);
            return Err(Error::InvalidColumnReference(
                "SELECT DISTINCT ON expressions must match initial ORDER BY expressions".into(),
            )
            .at(at));
        }
    }

    let limit = row_count(&select.limit)?;
    let offset = row_count(&select.offset)?;

    // Window values follow the row they are computed over: a source row, or a group's keys
    // and aggregates.
    let windows = windows.into_inner();
    if !windows.is_empty() {
        let width = if grouped {
            grouping.keys.len() + grouping.aggregates.borrow().len()
        } else {
            relations.iter().map(|r| r.schema.columns.len()).sum()
        };
        let mut place = |e: &mut BoundExpr| {
            if let BoundExpr::WindowResult(k) = e {
                *e = BoundExpr::Column(width + *k);
            }
        };
        projection.iter_mut().for_each(|e| e.visit_mut(&mut place));
        order.iter_mut().for_each(|k| k.expr.visit_mut(&mut place));
        distinct_on.iter_mut().for_each(|e| e.visit_mut(&mut place));
    }

    let source = match &tree {
        None => None,
        Some(FromTree::Table(_)) => {
            let schema = &relations[0].schema;
            let mut access = access_path(schema, filter.as_ref());
            filter = covered_by_key(filter, schema, &access);
            let mut direction = Direction::Forward;
            // ORDER BY the primary key's columns: the scan delivers that order.
            if let (false, Some(ordered)) = (grouped, key_order(schema, &access, &order)) {
                direction = ordered;
                order.clear();
            }
            let single_key = match order.as_slice() {
                [key] if !grouped => Some(key.clone()),
                _ => None,
            };
            if let Some(key) = &single_key {
                let ordered = if key.descending {
                    Direction::Backward
                } else {
                    Direction::Forward
                };
                // ORDER BY an index's leading column with a LIMIT, when the filter gives no
                // path: the index delivers the order (NULLs last ascending, first descending,
                // as its encoding sorts them) and reading stops after the limit.
                if let (Some(index), Access::Full, true) = (
                    ordered_index(schema, key),
                    &access,
                    limit.is_some() && !order.is_empty(),
                ) {
                    access = Access::Index(index);
                    direction = ordered;
                    order.clear();
                }
            }
            let residual = range_residual(filter.as_ref(), schema, &access);
            let mut table = TableSource::new(schema, access, direction);
            table.residual = residual;
            Some(Source::Table(table))
        }
        Some(tree) => Some(join::source(
            tree,
            &relations,
            filter.as_ref(),
            all_inner(tree),
        )),
    };
    let grouping = grouped.then(|| GroupPlan {
        keys: grouping.keys.iter().map(|(k, _)| k.clone()).collect(),
        aggregates: grouping
            .aggregates
            .borrow()
            .iter()
            .map(|(a, _)| a.clone())
            .collect(),
        having,
    });
    let mut source = source;
    if let Some(Source::Join(join)) = &mut source {
        join.needed = needed_columns(
            &relations,
            [filter.as_ref(), join.on.as_ref()]
                .into_iter()
                .flatten()
                .chain(&projection)
                .chain(order.iter().map(|k| &k.expr))
                .chain(&distinct_on)
                .chain(grouping.iter().flat_map(|g| {
                    g.keys.iter().chain(
                        g.aggregates
                            .iter()
                            .flat_map(|a| a.arg.iter().chain(a.separator.iter())),
                    )
                }))
                .chain(windows.iter().filter(|_| !grouped).flat_map(|w| {
                    let aggregate = match &w.func {
                        super::super::window::WindowFunc::Aggregate(a) => a.arg.as_ref(),
                        _ => None,
                    };
                    w.args
                        .iter()
                        .chain(&w.partition_by)
                        .chain(w.order_by.iter().map(|k| &k.expr))
                        .chain(aggregate)
                })),
        );
    }
    let mut plan = SelectPlan {
        source,
        filter,
        order,
        offset,
        limit,
        grouping,
        set: None,
        distinct: select.distinct,
        distinct_on,
        windows,
        point: false,
        scan_only: false,
        projection,
        columns: columns.into(),
        expand: Vec::new(),
    };
    plan.expand = set_returning_columns(&plan)?;
    plan.point = is_point(&plan);
    plan.scan_only = is_scan_only(&plan);
    Ok(plan)
}

/// The result columns that are set-returning calls. They may stand only at the top of a
/// select-list item (or in FROM), not under GROUP BY or window functions: 0A000 otherwise.
fn set_returning_columns(plan: &SelectPlan) -> Result<Vec<usize>> {
    let misplaced = |what: &str| {
        Err(Error::NotSupported(format!(
            "set-returning functions {what} (they may stand at the top of a select-list item \
             or in FROM)"
        )))
    };
    let mut expand = Vec::new();
    for (i, expr) in plan.projection.iter().enumerate() {
        match expr {
            BoundExpr::Call { func, args } if func.returns_set() => {
                if args.iter().any(returns_set) {
                    return misplaced("nested in one another");
                }
                expand.push(i);
            }
            other if returns_set(other) => return misplaced("inside expressions"),
            _ => {}
        }
    }
    let elsewhere = plan
        .filter
        .iter()
        .chain(plan.order.iter().map(|k| &k.expr))
        .chain(&plan.distinct_on)
        .any(returns_set);
    if elsewhere {
        return misplaced("in WHERE, ORDER BY or DISTINCT ON");
    }
    if !expand.is_empty() && (plan.grouping.is_some() || !plan.windows.is_empty()) {
        return misplaced("with GROUP BY, aggregates or window functions");
    }
    Ok(expand)
}

/// Whether `expr` calls a set-returning function anywhere.
pub fn returns_set(expr: &BoundExpr) -> bool {
    expr.any(&mut |e| matches!(e, BoundExpr::Call { func, .. } if func.returns_set()))
}

/// Which columns of the joined rows `exprs` read, or `None` when that cannot be told (a
/// subquery may read the outer row's columns).
fn needed_columns<'e>(
    relations: &[Relation],
    exprs: impl Iterator<Item = &'e BoundExpr>,
) -> Option<Arc<[bool]>> {
    let width: usize = relations.iter().map(|r| r.schema.columns.len()).sum();
    let mut needed = vec![false; width];
    for expr in exprs {
        if expr.any(&mut |e| matches!(e, BoundExpr::Subquery { .. } | BoundExpr::WindowResult(_))) {
            return None;
        }
        let mut columns = Vec::new();
        expr.any(&mut |e| {
            if let BoundExpr::Column(i) = e {
                columns.push(*i);
            }
            false
        });
        for i in columns {
            *needed.get_mut(i)? = true;
        }
    }
    Some(needed.into())
}

/// Whether the query is a primary-key lookup with nothing but a filter and a projection.
fn is_point(plan: &SelectPlan) -> bool {
    matches!(
        &plan.source,
        Some(Source::Table(TableSource {
            access: Access::Key(_) | Access::CompositeKey(_),
            ..
        }))
    ) && is_scan_only(plan)
        && plan.limit.is_none()
        && plan.offset.is_none()
}

/// Whether the query reads one table and only filters, projects and pages its rows.
fn is_scan_only(plan: &SelectPlan) -> bool {
    let correlated = |e: &BoundExpr| {
        e.any(&mut |e| {
            matches!(
                e,
                BoundExpr::Subquery {
                    correlated: true,
                    ..
                }
            )
        })
    };
    matches!(&plan.source, Some(Source::Table(_)))
        && plan.expand.is_empty()
        && plan.grouping.is_none()
        && plan.windows.is_empty()
        && plan.order.is_empty()
        && !plan.distinct
        && plan.distinct_on.is_empty()
        && !plan.filter.as_ref().is_some_and(correlated)
        && !plan.projection.iter().any(correlated)
}

/// UNION/INTERSECT/EXCEPT: each query planned on its own; result columns named by the first,
/// typed by all (numbers widen); ORDER BY may name result columns or their positions.
fn set_operation(
    select: &Select,
    catalog: &dyn Catalog,
    outer: Option<&[Relation]>,
) -> Result<SelectPlan> {
    let first = Select {
        compound: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        ..select.clone()
    };
    let head = subquery_select(&first, catalog, outer)?;
    let mut types: Vec<DataType> = head.columns.iter().map(|c| c.data_type).collect();
    let mut parts = Vec::with_capacity(select.compound.len());
    for compound in &select.compound {
        let name = match compound.op {
            SetOp::Union => "UNION",
            SetOp::Intersect => "INTERSECT",
            SetOp::Except => "EXCEPT",
        };
        let query = subquery_select(&compound.select, catalog, outer)?;
        if query.columns.len() != types.len() {
            return Err(Error::Syntax(format!(
                "each {name} query must have the same number of columns"
            )));
        }
        for (ty, column) in types.iter_mut().zip(query.columns.iter()) {
            if *ty != column.data_type {
                *ty = super::super::operators::comparison_type(*ty, column.data_type).ok_or_else(
                    || {
                        Error::Datatype(format!(
                            "{name} types {} and {} cannot be matched",
                            ty.name(),
                            column.data_type.name()
                        ))
                    },
                )?;
            }
        }
        parts.push(SetPart {
            op: compound.op,
            all: compound.all,
            query,
        });
    }
    let columns: Vec<OutputColumn> = head
        .columns
        .iter()
        .zip(&types)
        .map(|(c, ty)| OutputColumn {
            name: c.name.clone(),
            data_type: *ty,
        })
        .collect();
    // Result rows are the combined queries' rows; numbers take the common type.
    let projection: Vec<BoundExpr> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| BoundExpr::Cast {
            expr: Box::new(BoundExpr::Column(i)),
            to: *ty,
        })
        .collect();
    let mut order = Vec::with_capacity(select.order_by.len());
    for item in &select.order_by {
        let index = match &item.expr.kind {
            ExprKind::Literal(Literal::Integer(n)) => usize::try_from(*n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .filter(|&i| i < columns.len()),
            ExprKind::Column { table: None, name } => columns.iter().position(|c| c.name == *name),
            _ => None,
        }
        .ok_or_else(|| {
            Error::NotSupported(
                "ORDER BY on a set operation must name a result column or its position".into(),
            )
            .at(item.expr.position)
        })?;
        order.push(SortKey {
            expr: BoundExpr::Column(index),
            descending: item.descending,
            nulls_first: item.nulls_first.unwrap_or(item.descending),
        });
    }
    Ok(SelectPlan {
        source: None,
        filter: None,
        order,
        offset: row_count(&select.offset)?,
        limit: row_count(&select.limit)?,
        grouping: None,
        set: Some(Box::new(SetPlan { head, parts })),
        distinct: false,
        distinct_on: Vec::new(),
        windows: Vec::new(),
        point: false,
        scan_only: false,
        projection,
        columns: columns.into(),
        expand: Vec::new(),
    })
}

/// Binds select-list (or RETURNING) items: the expressions and the result columns.
pub fn bind_items(
    items: &[SelectItem],
    relations: &[Relation],
    scope: Scope<'_>,
    grouped: bool,
) -> Result<(Vec<BoundExpr>, Vec<OutputColumn>)> {
    let mut projection = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        match item {
            SelectItem::Wildcard(position) => {
                if relations.is_empty() {
                    return Err(Error::Syntax(
                        "SELECT * with no tables specified is not valid".into(),
                    )
                    .at(*position));
                }
                for relation in relations {
                    expand(
                        relation,
                        *position,
                        scope,
                        grouped,
                        &mut projection,
                        &mut columns,
                    )?;
                }
            }
            SelectItem::QualifiedWildcard(name) => {
                let relation = relations
                    .iter()
                    .find(|r| r.name == name.name)
                    .ok_or_else(|| Error::MissingFromEntry(name.name.clone()).at(name.position))?;
                expand(
                    relation,
                    name.position,
                    scope,
                    grouped,
                    &mut projection,
                    &mut columns,
                )?;
            }
            SelectItem::Expr { expr, alias } => {
                let (bound, ty) = bind(expr, scope)?;
                // An unknown literal is text in a result, as in PostgreSQL.
                let (bound, ty) = match ty {
                    Some(ty) => (bound, ty),
                    None => (coerce(bound, None, DataType::Text)?, DataType::Text),
                };
                projection.push(bound);
                columns.push(OutputColumn {
                    name: alias.clone().unwrap_or_else(|| default_name(expr)),
                    data_type: ty,
                });
            }
        }
    }
    Ok((projection, columns))
}

/// A LIMIT or OFFSET expression: a constant or parameter, as a bigint.
fn row_count(expr: &Option<Expr>) -> Result<Option<BoundExpr>> {
    expr.as_ref()
        .map(|e| {
            let (bound, ty) = bind(e, Scope::new(&[]))?;
            coerce(bound, ty, DataType::BigInt).map_err(|err| err.at(e.position))
        })
        .transpose()
}

/// The columns of one FROM table, for `*` or `t.*`.
fn expand(
    relation: &Relation,
    position: usize,
    scope: Scope<'_>,
    grouped: bool,
    projection: &mut Vec<BoundExpr>,
    columns: &mut Vec<OutputColumn>,
) -> Result<()> {
    for (i, column) in relation.schema.columns.iter().enumerate() {
        if column.dropped {
            continue;
        }
        let expr = if grouped {
            let name = Expr {
                kind: ExprKind::Column {
                    table: Some(relation.name.clone()),
                    name: column.name.clone(),
                },
                position,
            };
            bind(&name, scope)?.0
        } else {
            BoundExpr::Column(relation.offset + i)
        };
        projection.push(expr);
        columns.push(OutputColumn {
            name: column.name.clone(),
            data_type: column.data_type,
        });
    }
    Ok(())
}

/// A GROUP BY item: `GROUP BY 2` means the second select item.
fn group_key<'s>(key: &'s Expr, select: &'s Select) -> Result<&'s Expr> {
    match &key.kind {
        ExprKind::Literal(Literal::Integer(n)) => usize::try_from(*n)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| select.items.get(i))
            .and_then(|item| match item {
                SelectItem::Expr { expr, .. } => Some(expr),
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(_) => None,
            })
            .ok_or_else(|| {
                Error::UnknownColumn(format!("GROUP BY position {n} is not in select list"))
                    .at(key.position)
            }),
        _ => Ok(key),
    }
}

/// An ORDER BY item: an output column by position (`ORDER BY 2`) or by name/alias, else an
/// expression over the table.
fn order_expr(
    expr: &Expr,
    projection: &[BoundExpr],
    columns: &[OutputColumn],
    scope: Scope<'_>,
) -> Result<BoundExpr> {
    match &expr.kind {
        ExprKind::Literal(Literal::Integer(n)) => {
            let index = usize::try_from(*n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .filter(|&i| i < projection.len())
                .ok_or_else(|| {
                    Error::UnknownColumn(format!("ORDER BY position {n} is not in select list"))
                        .at(expr.position)
                })?;
            Ok(projection[index].clone())
        }
        ExprKind::Column { table: None, name } => {
            let mut matches = columns
                .iter()
                .zip(projection)
                .filter(|(c, _)| c.name == *name);
            match (matches.next(), matches.next()) {
                (Some((_, e)), None) => Ok(e.clone()),
                (Some(_), Some(_)) => {
                    Err(Error::Datatype(format!("ORDER BY \"{name}\" is ambiguous"))
                        .at(expr.position))
                }
                (None, _) => bind(expr, scope).map(|(b, _)| b),
            }
        }
        _ => bind(expr, scope).map(|(b, _)| b),
    }
}

/// PostgreSQL's name for an unnamed result column: the column's or function's name, a cast's
/// type's name, else `?column?`.
fn default_name(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Column { name, .. } => name.clone(),
        ExprKind::Function { name, .. } => name.clone(),
        ExprKind::Cast { expr, to } => match &expr.kind {
            ExprKind::Column { name, .. } => name.clone(),
            _ => to.internal_name().to_string(),
        },
        ExprKind::Literal(Literal::Boolean(_)) => "bool".into(),
        _ => "?column?".into(),
    }
}
