//! The SQL data types a column can have and the values the engine stores.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A column's declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Text,
    Bytea,
}

impl DataType {
    /// The PostgreSQL name of the type, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Boolean => "boolean",
            DataType::SmallInt => "smallint",
            DataType::Integer => "integer",
            DataType::BigInt => "bigint",
            DataType::Real => "real",
            DataType::Double => "double precision",
            DataType::Text => "text",
            DataType::Bytea => "bytea",
        }
    }

    /// Whether values of this type are integers (the primary-index fast path).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::SmallInt | DataType::Integer | DataType::BigInt
        )
    }

    /// Checks that `value` fits this type, narrowing it where the storage width is smaller
    /// (REAL keeps single precision). NULL fits every type; nullability is checked elsewhere.
    pub fn admit(self, column: &str, value: Value) -> Result<Value> {
        let mismatch = |value: &Value| Error::TypeMismatch {
            column: column.to_string(),
            expected: self.name(),
            found: value.type_name(),
        };
        match (self, value) {
            (_, Value::Null) => Ok(Value::Null),
            (DataType::Boolean, v @ Value::Boolean(_)) => Ok(v),
            (DataType::SmallInt, Value::Int(i)) => match i16::try_from(i) {
                Ok(_) => Ok(Value::Int(i)),
                Err(_) => Err(Error::NumericOutOfRange("smallint out of range".into())),
            },
            (DataType::Integer, Value::Int(i)) => match i32::try_from(i) {
                Ok(_) => Ok(Value::Int(i)),
                Err(_) => Err(Error::NumericOutOfRange("integer out of range".into())),
            },
            (DataType::BigInt, v @ Value::Int(_)) => Ok(v),
            (DataType::Real, Value::Float(f)) => {
                let narrowed = f as f32;
                if narrowed.is_infinite() && f.is_finite() {
                    return Err(Error::NumericOutOfRange(
                        "value out of range: overflow for type real".into(),
                    ));
                }
                Ok(Value::Float(f64::from(narrowed)))
            }
            (DataType::Double, v @ Value::Float(_)) => Ok(v),
            (DataType::Text, v @ Value::Text(_)) => Ok(v),
            (DataType::Bytea, v @ Value::Bytes(_)) => Ok(v),
            (_, value) => Err(mismatch(&value)),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of some column. Integers of every width are `Int`, floats of both widths `Float`;
/// the column's [`DataType`] says how wide it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// A short name of the value's kind, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "double precision",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytea",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Bytes this value occupies in memory, heap included (for cache accounting).
    pub fn memory_size(&self) -> usize {
        size_of::<Value>()
            + match self {
                Value::Text(s) => s.capacity(),
                Value::Bytes(b) => b.capacity(),
                _ => 0,
            }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

/// A table row: one value per column, in column order.
pub type Row = Vec<Value>;

/// Bytes a row occupies in memory, heap included.
pub fn row_memory_size(row: &Row) -> usize {
    size_of::<Row>() + row.iter().map(Value::memory_size).sum::<usize>()
}

impl fmt::Display for Value {
    /// PostgreSQL's text output for the value (as in error details).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Boolean(b) => f.write_str(if *b { "t" } else { "f" }),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) if x.is_nan() => f.write_str("NaN"),
            Value::Float(x) if x.is_infinite() => {
                f.write_str(if *x > 0.0 { "Infinity" } else { "-Infinity" })
            }
            Value::Float(x) => f.write_str(&format_float(*x)),
            Value::Text(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("\\x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

/// PostgreSQL's `float8out`: the shortest text that reads back as the same number, in
/// exponential form when the decimal exponent is below -4 or at least 15 (`1e+15`, `1e-05`).
fn format_float(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let scientific = format!("{x:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return format!("{x}");
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..15).contains(&exponent) {
        format!("{x}")
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_postgres_does() {
        let cases = [
            (0.1, "0.1"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-300, "-2.5e-300"),
            (-0.0, "-0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (x, want) in cases {
            assert_eq!(Value::Float(x).to_string(), want);
        }
    }
}
