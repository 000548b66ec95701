//! CREATE TABLE: column definitions and constraints into a [`TableDef`].

use std::collections::BTreeSet;

use super::super::parser::ast::{AlterTable, ColumnDef, CreateTable, Ident};
use super::Plan;
use super::expr::{Scope, assign, bind};
use crate::TableChange;
use crate::catalog::{Column, TableDef};
use crate::types::Value;
use crate::{Error, Result};

pub fn create_table(create: &CreateTable) -> Result<Plan> {
    let mut def = TableDef::new(create.name.name.clone());
    let mut seen = BTreeSet::new();
    let mut primary_key: Option<Vec<String>> = None;
    let mut unique = Vec::new();
    for column in &create.columns {
        if !seen.insert(column.name.name.clone()) {
            return Err(Error::DuplicateColumn(column.name.name.clone()).at(column.name.position));
        }
        let def_column = column_def(column)?;
        if column.primary_key {
            if primary_key.is_some() {
                return Err(multiple_keys(&create.name.name).at(column.name.position));
            }
            primary_key = Some(vec![column.name.name.clone()]);
        }
        if column.unique {
            unique.push(vec![column.name.name.clone()]);
        }
        def = def.column(def_column);
    }
    if let Some(columns) = &create.primary_key {
        if primary_key.is_some() {
            return Err(multiple_keys(&create.name.name).at(create.name.position));
        }
        primary_key = Some(columns.iter().map(|c| c.name.clone()).collect());
    }
    unique.extend(
        create
            .unique
            .iter()
            .map(|cols| cols.iter().map(|c| c.name.clone()).collect()),
    );
    def.primary_key = primary_key.unwrap_or_default();
    def.unique = unique;
    Ok(Plan::CreateTable {
        def,
        if_not_exists: create.if_not_exists,
    })
}

/// A column definition as the catalog holds it: type, nullability, constant default.
fn column_def(column: &ColumnDef) -> Result<Column> {
    let mut def = Column::new(column.name.name.clone(), column.data_type);
    def.nullable = !column.not_null;
    if let Some(default) = &column.default {
        let (bound, ty) = bind(default, Scope::new(&[]))?;
        let bound = assign(bound, ty, column.data_type, &column.name.name)
            .map_err(|e| e.at(default.position))?;
        let Some(value) = bound.constant() else {
            return Err(
                Error::NotSupported("non-constant DEFAULT expressions".into()).at(default.position),
            );
        };
        if *value != Value::Null {
            def.default = Some(value.clone());
        }
    }
    Ok(def)
}

/// ALTER TABLE: one change.
pub fn alter_table(table: &Ident, change: &AlterTable) -> Result<Plan> {
    let change = match change {
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
            return Ok(Plan::AlterTable {
                table: table.name.clone(),
                change: TableChange::AddColumn(column_def(column)?),
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
