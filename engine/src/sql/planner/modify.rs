//! INSERT, UPDATE and DELETE.

use super::super::expr::BoundExpr;
use super::super::parser::ast::{Delete, Insert, Update};
use super::expr::{Relation, Scope, assign, bind};
use super::{Catalog, Plan, TableSource, access_path, table, where_clause};
use crate::mvcc::Direction;
use crate::{Error, Result};

pub fn insert(insert: &Insert, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &insert.table)?;
    let targets: Vec<usize> = if insert.columns.is_empty() {
        (0..schema.columns.len()).collect()
    } else {
        let mut targets = Vec::with_capacity(insert.columns.len());
        for column in &insert.columns {
            let position = schema
                .column_position(&column.name)
                .map_err(|e| e.at(column.position))?;
            if targets.contains(&position) {
                return Err(Error::DuplicateColumn(column.name.clone()).at(column.position));
            }
            targets.push(position);
        }
        targets
    };
    let defaults: Vec<BoundExpr> = schema
        .default_row()
        .into_iter()
        .map(BoundExpr::Constant)
        .collect();
    let mut rows = Vec::with_capacity(insert.rows.len());
    for values in &insert.rows {
        if values.len() > targets.len() {
            return Err(
                Error::Syntax("INSERT has more expressions than target columns".into())
                    .at(values[targets.len()].position),
            );
        }
        if values.len() < targets.len() {
            let at = values.last().map_or(insert.table.position, |v| v.position);
            return Err(
                Error::Syntax("INSERT has more target columns than expressions".into()).at(at),
            );
        }
        let mut row = defaults.clone();
        for (&target, value) in targets.iter().zip(values) {
            let column = &schema.columns[target];
            let (bound, ty) = bind(value, Scope::new(&[]))?;
            row[target] = assign(bound, ty, column.data_type, &column.name)
                .map_err(|e| e.at(value.position))?;
        }
        rows.push(row);
    }
    Ok(Plan::Insert {
        table: schema.name.clone(),
        rows,
    })
}

pub fn update(update: &Update, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &update.table)?;
    let relations = [Relation {
        name: schema.name.clone(),
        schema: schema.clone(),
        offset: 0,
    }];
    let scope = Scope::new(&relations);
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
    Ok(Plan::Update {
        source: TableSource {
            table: schema.name.as_str().into(),
            column_names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            access: access_path(&schema, filter.as_ref()),
            pushed: None,
            direction: Direction::Forward,
        },
        filter,
        assignments,
    })
}

pub fn delete(delete: &Delete, catalog: &dyn Catalog) -> Result<Plan> {
    let schema = table(catalog, &delete.table)?;
    let relations = [Relation {
        name: schema.name.clone(),
        schema: schema.clone(),
        offset: 0,
    }];
    let scope = Scope::new(&relations);
    let filter = where_clause(delete.filter.as_ref(), scope)?;
    Ok(Plan::Delete {
        source: TableSource {
            table: schema.name.as_str().into(),
            column_names: schema.columns.iter().map(|c| c.name.clone()).collect(),
            access: access_path(&schema, filter.as_ref()),
            pushed: None,
            direction: Direction::Forward,
        },
        filter,
    })
}
