//! The catalog: table and index schemas, persisted in storage under [`Key::Table`] entries (one
//! per table, its indexes included), serialized with `postcard`.

use serde::{Deserialize, Serialize};

use crate::storage::{Key, KeyPrefix, Storage, scan_prefix};
use crate::types::{DataType, Row, SharedRow, Value};
use crate::{Error, Result};

/// Identifies a table or an index. Ids are never reused, so stale cache entries or storage keys
/// of a dropped object can never be mistaken for a new one's.
pub type ObjectId = u32;

/// The meta key holding the next unused [`ObjectId`].
pub(crate) const NEXT_OBJECT_ID: &str = "next_object_id";

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
    pub nullable: bool,
    /// The value an INSERT that omits the column stores.
    pub default: Option<Value>,
    /// A default computed for each row instead of `default`.
    pub generated: Option<Generated>,
    /// Dropped by ALTER TABLE … DROP COLUMN: rows still hold a value for it (it is not
    /// rewritten), SQL no longer sees it, new rows store NULL.
    pub dropped: bool,
}

/// A per-row default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Generated {
    /// An expression without column references (`now()`, `gen_random_uuid()`), as SQL text.
    Expression(String),
    /// The next value of the column's counter (SERIAL, identity columns): one more than the
    /// largest value the column has held, so values are unique but may have gaps.
    Serial,
}

/// A CHECK constraint: a boolean expression over the row, as SQL text. A row for which it is
/// false (not NULL) is refused with 23514.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub expr: String,
}

impl Column {
    /// A nullable column without a default.
    pub fn new(name: impl Into<String>, data_type: DataType) -> Self {
        Self {
            name: name.into(),
            data_type,
            nullable: true,
            default: None,
            generated: None,
            dropped: false,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    pub fn default(mut self, value: impl Into<Value>) -> Self {
        self.default = Some(value.into());
        self
    }

    /// A SERIAL column: NOT NULL, values from its counter when an INSERT omits it.
    pub fn serial(mut self) -> Self {
        self.generated = Some(Generated::Serial);
        self.nullable = false;
        self
    }
}

/// A secondary index over some columns of a table. Unique constraints are unique indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSchema {
    pub id: ObjectId,
    pub name: String,
    /// Positions of the indexed columns in the table.
    pub columns: Vec<usize>,
    pub unique: bool,
}

/// A table's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub id: ObjectId,
    pub name: String,
    pub columns: Vec<Column>,
    /// Positions of the primary-key columns; empty means a hidden sequential row id.
    pub primary_key: Vec<usize>,
    pub indexes: Vec<IndexSchema>,
    pub checks: Vec<Check>,
}

/// What a caller gives to create a table; ids are assigned by the database.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<Column>,
    /// Names of the primary-key columns; empty for a hidden row id.
    pub primary_key: Vec<String>,
    /// Unique constraints as lists of column names; each becomes a unique index.
    pub unique: Vec<Vec<String>>,
    pub checks: Vec<Check>,
}

impl TableDef {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            checks: Vec::new(),
        }
    }

    pub fn column(mut self, column: Column) -> Self {
        self.columns.push(column);
        self
    }

    pub fn primary_key(mut self, columns: &[&str]) -> Self {
        self.primary_key = columns.iter().map(|c| c.to_string()).collect();
        self
    }

    pub fn unique(mut self, columns: &[&str]) -> Self {
        self.unique
            .push(columns.iter().map(|c| c.to_string()).collect());
        self
    }
}

impl TableSchema {
    /// Validates `def` and gives it ids: `id` for the table, the following ids for the unique
    /// constraints' indexes.
    pub(crate) fn from_def(def: TableDef, id: ObjectId) -> Result<Self> {
        if def.columns.is_empty() {
            return Err(Error::InvalidDefinition(format!(
                "table \"{}\" must have at least one column",
                def.name
            )));
        }
        for (i, column) in def.columns.iter().enumerate() {
            if def.columns[..i].iter().any(|c| c.name == column.name) {
                return Err(Error::DuplicateColumn(column.name.clone()));
            }
            if column.generated == Some(Generated::Serial) && !column.data_type.is_integer() {
                return Err(Error::InvalidParameterValue(format!(
                    "identity column type must be smallint, integer, or bigint (column \"{}\")",
                    column.name
                )));
            }
            if let Some(default) = &column.default {
                let admitted = column.data_type.admit(&column.name, default.clone())?;
                if admitted.is_null() && !column.nullable {
                    return Err(Error::InvalidDefinition(format!(
                        "column \"{}\" is NOT NULL but defaults to NULL",
                        column.name
                    )));
                }
            }
        }
        let mut schema = TableSchema {
            id,
            name: def.name,
            columns: def.columns,
            primary_key: Vec::new(),
            indexes: Vec::new(),
            checks: def.checks,
        };
        schema.primary_key = schema.column_positions(&def.primary_key)?;
        for &pk in &schema.primary_key {
            schema.columns[pk].nullable = false;
        }
        for (n, columns) in def.unique.iter().enumerate() {
            let positions = schema.column_positions(columns)?;
            let name = format!("{}_{}_key", schema.name, columns.join("_"));
            schema.add_index(name, positions, true, id + 1 + n as ObjectId)?;
        }
        Ok(schema)
    }

    /// Positions of the named columns; errors on unknown or repeated names.
    pub fn column_positions(&self, names: &[String]) -> Result<Vec<usize>> {
        let mut positions = Vec::with_capacity(names.len());
        for name in names {
            let position = self.column_position(name)?;
            if positions.contains(&position) {
                return Err(Error::DuplicateColumn(name.clone()));
            }
            positions.push(position);
        }
        Ok(positions)
    }

    pub fn column_position(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::UndefinedColumn {
                table: self.name.clone(),
                column: name.to_string(),
            })
    }

    pub(crate) fn add_index(
        &mut self,
        name: String,
        columns: Vec<usize>,
        unique: bool,
        id: ObjectId,
    ) -> Result<()> {
        if columns.is_empty() {
            return Err(Error::InvalidDefinition(format!(
                "index \"{name}\" has no columns"
            )));
        }
        if self.indexes.iter().any(|i| i.name == name) {
            return Err(Error::DuplicateObject(name));
        }
        self.indexes.push(IndexSchema {
            id,
            name,
            columns,
            unique,
        });
        Ok(())
    }

    pub fn index(&self, name: &str) -> Result<&IndexSchema> {
        self.indexes
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::UndefinedObject(format!("index \"{name}\"")))
    }

    /// Whether rows are keyed by a hidden row id rather than declared columns.
    pub fn has_hidden_key(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// Whether the primary key is one integer column (or the hidden row id): such tables key
    /// their learned index by `i64` directly.
    pub fn has_integer_key(&self) -> bool {
        match self.primary_key.as_slice() {
            [] => true,
            [column] => self.columns[*column].data_type.is_integer(),
            _ => false,
        }
    }

    pub fn types(&self) -> Vec<DataType> {
        self.columns.iter().map(|c| c.data_type).collect()
    }

    /// Checks a row against the columns' types and nullability, narrowing values to the
    /// stored widths.
    pub fn admit_row(&self, mut row: Row) -> Result<Row> {
        self.admit_in_place(&mut row)?;
        Ok(row)
    }

    /// [`TableSchema::admit_row`] of a shared row: converted in place when it has no other
    /// holder and a value needs converting (or a NULL fails its NOT NULL), untouched when
    /// every value is already stored as its column's type.
    pub fn admit_values(&self, row: &mut SharedRow) -> Result<()> {
        if row.len() == self.columns.len()
            && self.columns.iter().zip(row.iter()).all(|(column, value)| {
                (column.nullable || !value.is_null()) && column.data_type.holds(value)
            })
        {
            return Ok(());
        }
        self.admit_in_place(std::sync::Arc::make_mut(row))
    }

    fn admit_in_place(&self, row: &mut [Value]) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(Error::WrongColumnCount {
                table: self.name.clone(),
                expected: self.columns.len(),
                found: row.len(),
            });
        }
        for (column, value) in self.columns.iter().zip(row.iter_mut()) {
            *value = column
                .data_type
                .admit(&column.name, std::mem::replace(value, Value::Null))?;
            if value.is_null() && !column.nullable {
                return Err(Error::NotNullViolation {
                    table: self.name.clone(),
                    column: column.name.clone(),
                });
            }
        }
        Ok(())
    }

    /// Positions of the SERIAL (identity) columns.
    pub fn serial_columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.generated == Some(Generated::Serial))
            .map(|(i, _)| i)
    }

    /// A row of the columns' defaults (NULL where there is none), for callers that fill in
    /// some columns.
    pub fn default_row(&self) -> Row {
        self.columns
            .iter()
            .map(|c| c.default.clone().unwrap_or(Value::Null))
            .collect()
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| Error::Corrupt(format!("catalog encoding: {e}")))
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| Error::Corrupt(format!("catalog entry: {e}")))
    }
}

/// A view: a named query, kept as SQL text and planned where it is used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: String,
    /// The names of its columns.
    pub columns: Vec<String>,
    /// The query, as SQL.
    pub query: String,
}

impl ViewDef {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        postcard::to_allocvec(self).map_err(|e| Error::Corrupt(format!("view encoding: {e}")))
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| Error::Corrupt(format!("view entry: {e}")))
    }
}

/// Reads every view definition from storage.
pub(crate) fn load_views(storage: &dyn Storage) -> Result<Vec<ViewDef>> {
    scan_prefix(storage, &KeyPrefix::Views.encode())?
        .map(|entry| ViewDef::decode(&entry?.1))
        .collect()
}

/// Reads every table schema from storage, and the next free object id.
pub(crate) fn load(storage: &dyn Storage) -> Result<(Vec<TableSchema>, ObjectId)> {
    let mut tables = Vec::new();
    for entry in scan_prefix(storage, &KeyPrefix::Tables.encode())? {
        let (_, value) = entry?;
        tables.push(TableSchema::decode(&value)?);
    }
    let next_id = match storage.get(&Key::Meta(NEXT_OBJECT_ID).encode())? {
        Some(bytes) => {
            let bytes: [u8; 4] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt("next object id".into()))?;
            ObjectId::from_be_bytes(bytes)
        }
        None => 1,
    };
    Ok((tables, next_id))
}
