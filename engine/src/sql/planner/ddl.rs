//! CREATE TABLE: column definitions and constraints into a [`TableDef`].

use std::collections::BTreeSet;

use std::sync::Arc;

use super::super::expr::BoundExpr;
use super::super::parser::ast::{AlterTable, ColumnDef, CreateTable, Ident};
use super::super::parser::parse_expr;
use super::expr::{Relation, Scope, assign, bind, coerce};
use super::{Catalog, Plan};
use crate::TableChange;
use crate::catalog::{Check, Column, Generated, TableDef, TableSchema};
use crate::types::{DataType, Value};
use crate::{Error, Result};

pub fn create_table(create: &CreateTable) -> Result<Plan> {
    let table = &create.name.name;
    let mut def = TableDef::new(table.clone());
    let mut seen = BTreeSet::new();
    let mut primary_key: Option<Vec<String>> = None;
    let mut unique = Vec::new();
    let mut checks = Vec::new();
    for column in &create.columns {
        if !seen.insert(column.name.name.clone()) {
            return Err(Error::DuplicateColumn(column.name.name.clone()).at(column.name.position));
        }
        let def_column = column_def(column)?;
        if column.primary_key {
            if primary_key.is_some() {
                return Err(multiple_keys(table).at(column.name.position));
            }
            primary_key = Some(vec![column.name.name.clone()]);
        }
        if column.unique {
            unique.push(vec![column.name.name.clone()]);
        }
        for check in &column.checks {
            checks.push((check, format!("{table}_{}_check", column.name.name)));
        }
        def = def.column(def_column);
    }
    if let Some(columns) = &create.primary_key {
        if primary_key.is_some() {
            return Err(multiple_keys(table).at(create.name.position));
        }
        primary_key = Some(columns.iter().map(|c| c.name.clone()).collect());
    }
    unique.extend(
        create
            .unique
            .iter()
            .map(|cols| cols.iter().map(|c| c.name.clone()).collect()),
    );
    checks.extend(create.checks.iter().map(|c| (c, format!("{table}_check"))));
    def.primary_key = primary_key.unwrap_or_default();
    def.unique = unique;
    // Each CHECK must be a boolean over the table's own columns; unnamed ones are named as
    // PostgreSQL names them, numbered when a name is taken.
    let columns = Relation::whole(&Arc::new(TableSchema {
        id: 0,
        name: table.clone(),
        columns: def.columns.clone(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
    }));
    for (check, default_name) in checks {
        let (bound, ty) = bind(&check.expr, Scope::new(std::slice::from_ref(&columns)))?;
        coerce(bound, ty, DataType::Boolean).map_err(|_| {
            Error::Datatype(format!(
                "argument of CHECK must be type boolean, not type {}",
                ty.map_or("unknown", DataType::name)
            ))
            .at(check.expr.position)
        })?;
        let mut name = check.name.clone().unwrap_or(default_name.clone());
        let mut n = 0;
        while def.checks.iter().any(|c: &Check| c.name == name) {
            n += 1;
            name = format!("{default_name}{n}");
        }
        def.checks.push(Check {
            name,
            expr: check.sql.clone(),
        });
    }
    Ok(Plan::CreateTable {
        def,
        if_not_exists: create.if_not_exists,
    })
}

/// A column definition as the catalog holds it: type, nullability, and its default — a
/// constant, an expression evaluated per row, or a SERIAL counter.
fn column_def(column: &ColumnDef) -> Result<Column> {
    let mut def = Column::new(column.name.name.clone(), column.data_type);
    def.nullable = !column.not_null;
    if column.serial {
        def.generated = Some(Generated::Serial);
    }
    if let Some((default, sql)) = &column.default {
        if column.serial {
            return Err(Error::Syntax(format!(
                "both default and identity specified for column \"{}\"",
                column.name.name
            ))
            .at(default.position));
        }
        let (bound, ty) = bind(default, Scope::new(&[]))?;
        let bound = assign(bound, ty, column.data_type, &column.name.name)
            .map_err(|e| e.at(default.position))?;
        match bound.constant() {
            Some(Value::Null) => {}
            Some(value) => def.default = Some(value.clone()),
            None => def.generated = Some(Generated::Expression(sql.clone())),
        }
    }
    Ok(def)
}

/// ALTER TABLE: one change.
pub fn alter_table(table: &Ident, change: &AlterTable, catalog: &dyn Catalog) -> Result<Plan> {
    let change = match change {
        AlterTable::AddPrimaryKey(columns) | AlterTable::AddUnique { columns, .. } => {
            let schema = catalog
                .table(&table.name)
                .map_err(|e| e.at(table.position))?;
            for column in columns {
                schema
                    .column_position(&column.name)
                    .map_err(|e| e.at(column.position))?;
            }
            let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
            if let AlterTable::AddUnique { name, .. } = change {
                // PostgreSQL's name for an unnamed constraint: table_columns_key.
                let name = name.as_ref().map_or_else(
                    || format!("{}_{}_key", schema.name, names.join("_")),
                    |n| n.name.clone(),
                );
                return Ok(Plan::CreateIndex {
                    name,
                    table: schema.name.clone(),
                    columns: names,
                    unique: true,
                    if_not_exists: false,
                });
            }
            if !schema.primary_key.is_empty() {
                return Err(multiple_keys(&schema.name).at(table.position));
            }
            TableChange::AddPrimaryKey(names)
        }
        AlterTable::DropColumn { name, if_exists } => {
            let schema = catalog
                .table(&table.name)
                .map_err(|e| e.at(table.position))?;
            let Ok(position) = schema.column_position(&name.name) else {
                if *if_exists {
                    return Ok(Plan::Nothing("ALTER TABLE"));
                }
                return Err(Error::UndefinedColumn {
                    table: table.name.clone(),
                    column: name.name.clone(),
                }
                .at(name.position));
            };
            // The CHECK constraints that read the column go with it.
            let mut without = TableSchema::clone(&schema);
            without.columns[position].name = String::new();
            let relations = [Relation::whole(&Arc::new(without))];
            let checks = schema
                .checks
                .iter()
                .filter(|check| {
                    parse_expr(&check.expr)
                        .and_then(|e| bind(&e, Scope::new(&relations)))
                        .is_err()
                })
                .map(|check| check.name.clone())
                .collect();
            TableChange::DropColumn {
                name: name.name.clone(),
                checks,
            }
        }
        AlterTable::AddColumn {
            column,
            if_not_exists,
        } => {
            if column.primary_key || column.unique {
                return Err(
                    Error::NotSupported("PRIMARY KEY or UNIQUE on an added column".into())
                        .at(column.name.position),
                );
            }
            let mut added = column_def(column)?;
            if !column.checks.is_empty() {
                return Err(
                    Error::NotSupported("CHECK on an added column".into()).at(column.name.position)
                );
            }
            // Rows already there read the default as of now; a per-row default would need
            // the table rewritten.
            match &added.generated {
                Some(Generated::Serial) => {
                    return Err(Error::NotSupported(
                        "adding a SERIAL or identity column to a table".into(),
                    )
                    .at(column.name.position));
                }
                Some(Generated::Expression(_)) => {
                    let Some((default, _)) = &column.default else {
                        return Err(Error::NotSupported("this default".into()));
                    };
                    let (bound, ty) = bind(default, Scope::new(&[]))?;
                    let mut per_call = false;
                    let mut probe = bound.clone();
                    probe.visit_mut(&mut |e| {
                        if let BoundExpr::Call { func, .. } = e {
                            per_call |= func.varies_per_call();
                        }
                    });
                    if per_call {
                        return Err(Error::NotSupported(
                            "adding a column whose default differs per row (it would need \
                             the table rewritten)"
                                .into(),
                        )
                        .at(default.position));
                    }
                    let bound = assign(bound, ty, column.data_type, &column.name.name)?;
                    added.default = Some(bound.eval(&[])?).filter(|v| !v.is_null());
                }
                None => {}
            }
            return Ok(Plan::AlterTable {
                table: table.name.clone(),
                change: TableChange::AddColumn(added),
                if_not_exists: *if_not_exists,
            });
        }
        AlterTable::RenameColumn { from, to } => TableChange::RenameColumn {
            from: from.name.clone(),
            to: to.name.clone(),
        },
        AlterTable::RenameTo(name) => TableChange::RenameTo(name.name.clone()),
    };
    Ok(Plan::AlterTable {
        table: table.name.clone(),
        change,
        if_not_exists: false,
    })
}

fn multiple_keys(table: &str) -> Error {
    Error::InvalidDefinition(format!(
        "multiple primary keys for table \"{table}\" are not allowed"
    ))
}
