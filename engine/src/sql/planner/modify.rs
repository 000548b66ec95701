//! INSERT, UPDATE and DELETE.

use super::super::expr::BoundExpr;
use std::sync::Arc;

use super::super::parser::ast::{
    Delete, FromItem, Ident, Insert, InsertSource, JoinKind, OnConflict, SelectItem, Update,
};
use super::super::parser::parse_expr;
use super::CheckPlan;
use super::expr::{Relation, Scope, assign, bind};
use super::join::{FromTree, all_inner, from_tree, source as join_source};
use super::select::bind_items;
use super::{
    Catalog, ConflictPlan, ConflictUpdatePlan, InsertRows, InsertTarget, JoinedTarget, Plan,
    Returning, TableSource, access_path, covered_by_key, table, where_clause,
};
use crate::catalog::{Generated, TableSchema};
use crate::mvcc::Direction;
use crate::types::Value;
use crate::{Error, Result};

/// The columns an INSERT's (or COPY's) rows fill: those named, or all in table order.
fn target_columns(schema: &TableSchema, columns: &[Ident]) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..schema.columns.len())
            .filter(|&i| !schema.columns[i].dropped)
            .collect());
    }
    let mut targets = Vec::with_capacity(columns.len());
    for column in columns {
        let position = schema
            .column_position(&column.name)
            .map_err(|e| e.at(column.position))?;
        if targets.contains(&position) {
            return Err(Error::DuplicateColumn(column.name.clone()).at(column.position));
        }
        targets.push(position);
    }
    Ok(targets)
}

/// COPY FROM's target: an INSERT into `columns` of `table` whose rows come later.
pub fn insert_target(
    table_name: &Ident,
    columns: &[Ident],
    catalog: &dyn Catalog,
) -> Result<InsertTarget> {
    let schema = table(catalog, table_name)?;
    let targets = target_columns(&schema, columns)?;
    let (defaults, mut serial) = defaults(&schema)?;
    serial.retain(|c| !targets.contains(c));
    Ok(InsertTarget {
        table: schema.name.clone(),
        columns: targets
            .iter()
            .map(|&i| {
                let column = &schema.columns[i];
                (i, column.name.clone(), column.data_type)
            })
            .collect(),
        defaults,
        serial,
        checks: checks(&schema)?,
    })
}

pub fn insert(insert: &Insert, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &insert.table)?;
    let targets = target_columns(&schema, &insert.columns)?;
    let mut query = match &insert.source {
        InsertSource::Query(select) => Some(super::select::select(select, catalog)?),
        InsertSource::Values(_) | InsertSource::DefaultValues => None,
    };
    // Without a column list, fewer values than columns fill the first ones (the rest take
    // their defaults), as in PostgreSQL; VALUES rows must all be as long as the first.
    let mut targets = targets;
    if insert.columns.is_empty() {
        let given = match (&insert.source, &query) {
            (_, Some(query)) => query.columns.len(),
            (InsertSource::Values(values), None) => {
                let width = values.first().map_or(0, Vec::len);
                if let Some(row) = values.iter().find(|row| row.len() != width) {
                    let at = row.first().map_or(insert.table.position, |v| v.position);
                    return Err(
                        Error::Syntax("VALUES lists must all be the same length".into()).at(at),
                    );
                }
                width
            }
            (InsertSource::DefaultValues, None) => 0,
            (InsertSource::Query(_), None) => targets.len(),
        };
        targets.truncate(given);
    }
    let (defaults, mut serial) = defaults(&schema)?;
    serial.retain(|c| !targets.contains(c));
    let source = match &insert.source {
        InsertSource::DefaultValues if insert.columns.is_empty() => {
            InsertRows::Values(vec![defaults.clone()])
        }
        InsertSource::DefaultValues => {
            return Err(Error::Syntax(
                "syntax error at or near \"DEFAULT\": DEFAULT VALUES takes no column list".into(),
            )
            .at(insert.table.position));
        }
        InsertSource::Values(values) => {
            let mut rows = Vec::with_capacity(values.len());
            for values in values {
                if values.len() > targets.len() {
                    return Err(Error::Syntax(
                        "INSERT has more expressions than target columns".into(),
                    )
                    .at(values[targets.len()].position));
                }
                if values.len() < targets.len() {
                    let at = values.last().map_or(insert.table.position, |v| v.position);
                    return Err(Error::Syntax(
                        "INSERT has more target columns than expressions".into(),
                    )
                    .at(at));
                }
                let mut row = defaults.clone();
                for (&target, value) in targets.iter().zip(values) {
                    let column = &schema.columns[target];
                    let (bound, ty) = bind(value, Scope::new(&[]).with_catalog(catalog))?;
                    row[target] = assign(bound, ty, column.data_type, &column.name)
                        .map_err(|e| e.at(value.position))?;
                }
                rows.push(row);
            }
            InsertRows::Values(rows)
        }
        InsertSource::Query(_) => {
            let Some(query) = query.take() else {
                return Err(Error::NotSupported("INSERT without a source query".into()));
            };
            if query.columns.len() != targets.len() {
                let message = if query.columns.len() > targets.len() {
                    "INSERT has more expressions than target columns"
                } else {
                    "INSERT has more target columns than expressions"
                };
                return Err(Error::Syntax(message.into()).at(insert.table.position));
            }
            let mut row = defaults.clone();
            for (j, &target) in targets.iter().enumerate() {
                let column = &schema.columns[target];
                row[target] = assign(
                    BoundExpr::Column(j),
                    Some(query.columns[j].data_type),
                    column.data_type,
                    &column.name,
                )?;
            }
            InsertRows::Query {
                query: Box::new(query),
                row,
            }
        }
    };
    let on_conflict = insert
        .on_conflict
        .as_ref()
        .map(|conflict| on_conflict(conflict, &schema, &insert.table))
        .transpose()?;
    Ok(Plan::Insert {
        table: schema.name.clone(),
        source,
        serial,
        checks: checks(&schema)?,
        on_conflict,
        returning: returning(&insert.returning, &[Relation::whole(&schema)])?,
    })
}

/// ON CONFLICT: the unique constraint its columns name, and the DO UPDATE assignments bound
/// over the existing row followed by the proposed one (`excluded`).
fn on_conflict(
    conflict: &OnConflict,
    schema: &Arc<TableSchema>,
    table: &Ident,
) -> Result<ConflictPlan> {
    let names: Vec<String> = conflict.target.iter().map(|c| c.name.clone()).collect();
    let positions = schema.column_positions(&names)?;
    let same = |a: &[usize], b: &[usize]| {
        let (mut a, mut b) = (a.to_vec(), b.to_vec());
        a.sort_unstable();
        b.sort_unstable();
        a == b
    };
    let (constraint, columns) = if positions.is_empty() {
        if conflict.update.is_some() {
            return Err(Error::Syntax(
                "ON CONFLICT DO UPDATE requires inference specification or constraint name".into(),
            )
            .at(table.position));
        }
        (None, schema.primary_key.clone())
    } else if same(&positions, &schema.primary_key) {
        (
            Some(format!("{}_pkey", schema.name)),
            schema.primary_key.clone(),
        )
    } else if let Some(index) = schema
        .indexes
        .iter()
        .find(|i| i.unique && same(&i.columns, &positions))
    {
        (Some(index.name.clone()), index.columns.clone())
    } else {
        return Err(Error::InvalidColumnReference(
            "there is no unique or exclusion constraint matching the ON CONFLICT specification"
                .into(),
        )
        .at(table.position));
    };
    let update = match &conflict.update {
        None => None,
        Some(update) => {
            let relations = [
                Relation::whole(schema),
                Relation {
                    name: "excluded".into(),
                    schema: schema.clone(),
                    offset: schema.columns.len(),
                },
            ];
            let scope = Scope::new(&relations);
            let mut bound = Vec::with_capacity(update.assignments.len());
            for (column, value) in &update.assignments {
                let position = schema
                    .column_position(&column.name)
                    .map_err(|e| e.at(column.position))?;
                let target = &schema.columns[position];
                let (expr, ty) = bind(value, scope)?;
                bound.push((
                    position,
                    assign(expr, ty, target.data_type, &target.name)
                        .map_err(|e| e.at(value.position))?,
                ));
            }
            let filter = where_clause(update.filter.as_ref(), scope)?;
            Some(ConflictUpdatePlan {
                assignments: bound,
                filter,
            })
        }
    };
    Ok(ConflictPlan {
        constraint,
        columns,
        update,
    })
}

/// RETURNING items, bound over the table's rows.
/// What an INSERT stores in columns it does not name: each column's default (a constant, or
/// its expression bound), and which columns take their SERIAL counter's next value.
fn defaults(schema: &TableSchema) -> Result<(Vec<BoundExpr>, Vec<usize>)> {
    let mut serial = Vec::new();
    let mut row = Vec::with_capacity(schema.columns.len());
    for (i, column) in schema.columns.iter().enumerate() {
        row.push(match &column.generated {
            Some(Generated::Serial) => {
                serial.push(i);
                BoundExpr::Constant(Value::Null)
            }
            Some(Generated::Expression(sql)) => {
                let expr = parse_expr(sql)?;
                let (bound, ty) = bind(&expr, Scope::new(&[]))?;
                assign(bound, ty, column.data_type, &column.name)?
            }
            None => BoundExpr::Constant(column.default.clone().unwrap_or(Value::Null)),
        });
    }
    Ok((row, serial))
}

/// The table's CHECK constraints, bound over its rows.
pub fn checks(schema: &Arc<TableSchema>) -> Result<Vec<CheckPlan>> {
    let relations = [Relation::whole(schema)];
    schema
        .checks
        .iter()
        .map(|check| {
            let (expr, _) = bind(&parse_expr(&check.expr)?, Scope::new(&relations))?;
            Ok(CheckPlan {
                name: check.name.clone(),
                expr,
            })
        })
        .collect()
}

fn returning(items: &[SelectItem], relations: &[Relation]) -> Result<Option<Returning>> {
    if items.is_empty() {
        return Ok(None);
    }
    let (projection, columns) = bind_items(items, relations, Scope::new(relations), false)?;
    if projection.iter().any(super::select::returns_set) {
        return Err(Error::NotSupported(
            "set-returning functions in RETURNING".into(),
        ));
    }
    Ok(Some(Returning {
        projection,
        columns: columns.into(),
    }))
}

/// The relations an UPDATE or DELETE binds over: the target (under its alias), then those of
/// FROM/USING; with FROM/USING, also the source that joins them.
fn target(
    schema: &Arc<TableSchema>,
    alias: Option<&Ident>,
    from: Option<&FromItem>,
    catalog: &dyn Catalog,
) -> Result<(Vec<Relation>, Option<FromTree>)> {
    let mut relations = vec![Relation {
        name: alias.map_or_else(|| schema.name.clone(), |a| a.name.clone()),
        schema: schema.clone(),
        offset: 0,
    }];
    let Some(from) = from else {
        return Ok((relations, None));
    };
    if schema.primary_key.is_empty() {
        return Err(Error::NotSupported(format!(
            "UPDATE … FROM or DELETE … USING on \"{}\", a table without a primary key",
            schema.name
        )));
    }
    let tree = from_tree(from, catalog, &mut relations, None)?;
    Ok((
        relations,
        Some(FromTree::Join {
            left: Box::new(FromTree::Table(0)),
            right: Box::new(tree),
            kind: JoinKind::Cross,
            on: None,
        }),
    ))
}

/// The joined source of an UPDATE … FROM or DELETE … USING.
fn joined(
    tree: Option<FromTree>,
    relations: &[Relation],
    filter: Option<&BoundExpr>,
) -> Option<Box<JoinedTarget>> {
    let tree = tree?;
    Some(Box::new(JoinedTarget {
        source: join_source(&tree, relations, filter, all_inner(&tree)),
        width: relations[0].schema.columns.len(),
    }))
}

pub fn update(update: &Update, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &update.table)?;
    let (relations, tree) = target(
        &schema,
        update.alias.as_ref(),
        update.from.as_ref(),
        catalog,
    )?;
    let scope = Scope::new(&relations).with_catalog(catalog);
    let mut assignments = Vec::with_capacity(update.assignments.len());
    for (column, value) in &update.assignments {
        let position = schema
            .column_position(&column.name)
            .map_err(|e| e.at(column.position))?;
        if assignments.iter().any(|(p, _)| *p == position) {
            return Err(Error::Syntax(format!(
                "multiple assignments to same column \"{}\"",
                column.name
            ))
            .at(column.position));
        }
        let target = &schema.columns[position];
        let (bound, ty) = bind(value, scope)?;
        let bound =
            assign(bound, ty, target.data_type, &target.name).map_err(|e| e.at(value.position))?;
        assignments.push((position, bound));
    }
    let filter = where_clause(update.filter.as_ref(), scope)?;
    let access = access_path(&schema, filter.as_ref());
    let joined = joined(tree, &relations, filter.as_ref());
    let filter = match joined {
        Some(_) => filter,
        None => covered_by_key(filter, &schema, &access),
    };
    Ok(Plan::Update {
        source: TableSource::new(&schema, access, Direction::Forward),
        joined,
        filter,
        assignments,
        checks: checks(&schema)?,
        returning: returning(&update.returning, &relations)?,
    })
}

pub fn delete(delete: &Delete, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &delete.table)?;
    let (relations, tree) = target(
        &schema,
        delete.alias.as_ref(),
        delete.using.as_ref(),
        catalog,
    )?;
    let scope = Scope::new(&relations).with_catalog(catalog);
    let filter = where_clause(delete.filter.as_ref(), scope)?;
    let access = access_path(&schema, filter.as_ref());
    let joined = joined(tree, &relations, filter.as_ref());
    let filter = match joined {
        Some(_) => filter,
        None => covered_by_key(filter, &schema, &access),
    };
    Ok(Plan::Delete {
        source: TableSource::new(&schema, access, Direction::Forward),
        joined,
        filter,
        returning: returning(&delete.returning, &relations)?,
    })
}
