//! CREATE TABLE: column definitions and constraints into a [`TableDef`].

use std::collections::BTreeSet;

use super::super::parser::ast::CreateTable;
use super::Plan;
use super::expr::{Scope, assign, bind};
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
        let mut def_column = Column::new(column.name.name.clone(), column.data_type);
        def_column.nullable = !column.not_null;
        if let Some(default) = &column.default {
            let (bound, ty) = bind(default, Scope::new(&[]))?;
            let bound = assign(bound, ty, column.data_type, &column.name.name)
                .map_err(|e| e.at(default.position))?;
            let Some(value) = bound.constant() else {
                return Err(
                    Error::NotSupported("non-constant DEFAULT expressions".into())
                        .at(default.position),
                );
            };
            if *value != Value::Null {
                def_column.default = Some(value.clone());
            }
        }
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

fn multiple_keys(table: &str) -> Error {
    Error::InvalidDefinition(format!(
        "multiple primary keys for table \"{table}\" are not allowed"
    ))
}
