//! Helpers shared by the engine's integration tests: opening a database on each backend.
#![allow(dead_code)]

use std::path::Path;

use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Row, Value};
use omendb::{Database, DatabaseConfig, Error};

/// The backends a durable test can reopen, by name.
pub fn config(kind: StorageKind, dir: &Path) -> DatabaseConfig {
    let data_dir = match kind {
        StorageKind::Memory => None,
        _ => Some(dir.to_path_buf()),
    };
    DatabaseConfig::new(kind, data_dir)
}

pub fn open(kind: StorageKind, dir: &Path) -> Database {
    Database::open(config(kind, dir)).unwrap()
}

/// `accounts(id BIGINT PRIMARY KEY, owner TEXT NOT NULL UNIQUE, balance BIGINT NOT NULL,
/// note TEXT)` with a secondary index on balance.
pub fn create_accounts(db: &Database) {
    db.create_table(
        TableDef::new("accounts")
            .column(Column::new("id", DataType::BigInt))
            .column(Column::new("owner", DataType::Text).not_null())
            .column(
                Column::new("balance", DataType::BigInt)
                    .not_null()
                    .default(0),
            )
            .column(Column::new("note", DataType::Text))
            .primary_key(&["id"])
            .unique(&["owner"]),
    )
    .unwrap();
    db.create_index("accounts", "accounts_balance", &["balance"], false)
        .unwrap();
}

pub fn account(id: i64, owner: &str, balance: i64) -> Row {
    vec![
        Value::Int(id),
        Value::Text(owner.into()),
        Value::Int(balance),
        Value::Null,
    ]
}

pub fn int(row: &[Value], column: usize) -> i64 {
    match row[column] {
        Value::Int(i) => i,
        ref other => panic!("expected an integer, got {other:?}"),
    }
}

pub fn sqlstate<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.expect_err("expected an error").sqlstate()
}

/// The SQL corpus's files, `tests/slt/*.slt`, sorted.
pub fn slt_files() -> Vec<std::path::PathBuf> {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

/// A query's result as sqllogictest compares it: column kinds, and values as psql shows them
/// (NULL spelled out, an empty string as `(empty)`).
pub fn slt_rows(
    result: &omendb::QueryResult,
) -> sqllogictest::DBOutput<sqllogictest::DefaultColumnType> {
    use sqllogictest::DefaultColumnType;
    let types = result
        .columns
        .iter()
        .map(|c| match c.data_type {
            DataType::SmallInt | DataType::Integer | DataType::BigInt => DefaultColumnType::Integer,
            DataType::Real | DataType::Double => DefaultColumnType::FloatingPoint,
            _ => DefaultColumnType::Text,
        })
        .collect();
    let rows = result
        .rows
        .iter()
        .map(|row| row.iter().map(slt_value).collect())
        .collect();
    sqllogictest::DBOutput::Rows { types, rows }
}

pub fn slt_value(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Text(s) if s.is_empty() => "(empty)".into(),
        other => other.to_string(),
    }
}
