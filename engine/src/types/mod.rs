//! The SQL data types a column can have and the values the engine stores: numbers, text,
//! NUMERIC, dates and times, intervals, UUIDs and JSON, with PostgreSQL's text forms and casts.

mod array;
mod cast;
mod datetime;
mod interval;
mod json;
mod numeric;

use std::fmt;

use serde::{Deserialize, Serialize};
pub use smol_str::SmolStr;

use crate::{Error, Result};

pub use array::{format_array, format_vector, parse_array};
pub use cast::{cast, fits, out_of_range, parse_bytea};
pub use datetime::{
    DAY_MICROS, date_of_timestamp, format_date, format_time, format_timestamp, format_timestamptz,
    parse_date, parse_time, parse_timestamp, parse_timestamptz,
};
pub use interval::Interval;
pub use json::{json_contains, json_get, json_has_key, json_normalize, json_typeof, json_validate};
pub use numeric::{Decimal, numeric_divide, numeric_from_f64, parse_numeric};

/// A column's declared type. Types with a modifier (`VARCHAR(n)`, `NUMERIC(p, s)`) carry it;
/// expressions compute in the unconstrained type ([`DataType::unconstrained`]) and the
/// modifier is applied when a value is stored ([`DataType::admit`]).
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
    /// `NUMERIC(precision, scale)`, or unconstrained NUMERIC without a modifier.
    Numeric(Option<(u16, u16)>),
    /// `VARCHAR(n)`; `VARCHAR` without a length is text that keeps its type name.
    Varchar(Option<u32>),
    /// `CHAR(n)`: padded with spaces to `n` characters.
    Char(u32),
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    /// A one-dimensional array of the (unconstrained, non-array) element type. Arrays are
    /// values of expressions and of the system catalogs; tables cannot store them, so the
    /// variant is never written to the catalog.
    #[serde(skip)]
    Array(&'static DataType),
    /// The catalog's `int2vector` (`pg_index.indkey`): an array of SMALLINT whose text form is
    /// its elements separated by spaces (`1 3`).
    #[serde(skip)]
    Int2Vector,
}

/// Every type without modifiers but arrays (CHAR as CHAR(1)).
pub static SCALAR_TYPES: [DataType; 19] = [
    DataType::Boolean,
    DataType::Bytea,
    DataType::BigInt,
    DataType::SmallInt,
    DataType::Integer,
    DataType::Text,
    DataType::Json,
    DataType::Real,
    DataType::Double,
    DataType::Char(1),
    DataType::Varchar(None),
    DataType::Date,
    DataType::Time,
    DataType::Timestamp,
    DataType::TimestampTz,
    DataType::Interval,
    DataType::Numeric(None),
    DataType::Uuid,
    DataType::Jsonb,
];

impl DataType {
    /// The array type whose elements are of type `element` (modifiers dropped), if there is
    /// one: arrays of arrays are not supported.
    pub fn array_of(element: DataType) -> Option<DataType> {
        let element = match element.unconstrained() {
            DataType::Char(_) => DataType::Text,
            other => other,
        };
        SCALAR_TYPES
            .iter()
            .find(|e| **e == element)
            .map(DataType::Array)
    }

    /// The type's name in `pg_type` (PostgreSQL's internal name: `int4`, `_text`).
    pub fn internal_name(self) -> &'static str {
        match self {
            DataType::Boolean => "bool",
            DataType::SmallInt => "int2",
            DataType::Integer => "int4",
            DataType::BigInt => "int8",
            DataType::Real => "float4",
            DataType::Double => "float8",
            DataType::Text => "text",
            DataType::Bytea => "bytea",
            DataType::Numeric(_) => "numeric",
            DataType::Varchar(_) => "varchar",
            DataType::Char(_) => "bpchar",
            DataType::Date => "date",
            DataType::Time => "time",
            DataType::Timestamp => "timestamp",
            DataType::TimestampTz => "timestamptz",
            DataType::Interval => "interval",
            DataType::Uuid => "uuid",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            DataType::Int2Vector => "int2vector",
            DataType::Array(element) => match element {
                DataType::Boolean => "_bool",
                DataType::SmallInt => "_int2",
                DataType::Integer => "_int4",
                DataType::BigInt => "_int8",
                DataType::Real => "_float4",
                DataType::Double => "_float8",
                DataType::Bytea => "_bytea",
                DataType::Numeric(_) => "_numeric",
                DataType::Date => "_date",
                DataType::Time => "_time",
                DataType::Timestamp => "_timestamp",
                DataType::TimestampTz => "_timestamptz",
                DataType::Interval => "_interval",
                DataType::Uuid => "_uuid",
                DataType::Json => "_json",
                DataType::Jsonb => "_jsonb",
                _ => "_text",
            },
        }
    }

    /// The type's object id in PostgreSQL's `pg_type`, which clients see on the wire.
    pub fn oid(self) -> u32 {
        match self {
            DataType::Boolean => 16,
            DataType::Bytea => 17,
            DataType::BigInt => 20,
            DataType::SmallInt => 21,
            DataType::Integer => 23,
            DataType::Text => 25,
            DataType::Json => 114,
            DataType::Real => 700,
            DataType::Double => 701,
            DataType::Char(_) => 1042,
            DataType::Varchar(_) => 1043,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Numeric(_) => 1700,
            DataType::Uuid => 2950,
            DataType::Jsonb => 3802,
            DataType::Int2Vector => 22,
            DataType::Array(element) => match element {
                DataType::Boolean => 1000,
                DataType::Bytea => 1001,
                DataType::SmallInt => 1005,
                DataType::Integer => 1007,
                DataType::BigInt => 1016,
                DataType::Real => 1021,
                DataType::Double => 1022,
                DataType::Timestamp => 1115,
                DataType::Date => 1182,
                DataType::Time => 1183,
                DataType::TimestampTz => 1185,
                DataType::Interval => 1187,
                DataType::Numeric(_) => 1231,
                DataType::Uuid => 2951,
                DataType::Json => 199,
                DataType::Jsonb => 3807,
                _ => 1009,
            },
        }
    }

    /// PostgreSQL's type modifier (`atttypmod`): length + 4 for VARCHAR(n)/CHAR(n),
    /// `(precision << 16 | scale) + 4` for NUMERIC(p,s), -1 without one.
    pub fn typmod(self) -> i32 {
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(n) => n as i32 + 4,
            DataType::Numeric(Some((p, s))) => ((i32::from(p) << 16) | i32::from(s)) + 4,
            _ => -1,
        }
    }

    /// An array type's element type.
    pub fn element(self) -> Option<DataType> {
        match self {
            DataType::Array(element) => Some(*element),
            DataType::Int2Vector => Some(DataType::SmallInt),
            _ => None,
        }
    }

    /// The PostgreSQL name of the type, without modifiers, as used in error messages.
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
            DataType::Numeric(_) => "numeric",
            DataType::Varchar(_) => "character varying",
            DataType::Char(_) => "character",
            DataType::Date => "date",
            DataType::Time => "time without time zone",
            DataType::Timestamp => "timestamp without time zone",
            DataType::TimestampTz => "timestamp with time zone",
            DataType::Interval => "interval",
            DataType::Uuid => "uuid",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            DataType::Array(element) => array_name(*element),
            DataType::Int2Vector => "int2vector",
        }
    }

    /// Whether values of this type are integers (the primary-index fast path).
    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DataType::SmallInt | DataType::Integer | DataType::BigInt
        )
    }

    /// Whether this is a number type (integers, NUMERIC, floats).
    pub fn is_numeric(self) -> bool {
        self.is_integer()
            || matches!(
                self,
                DataType::Numeric(_) | DataType::Real | DataType::Double
            )
    }

    /// Whether values of this type are character strings.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_)
        )
    }

    /// The type expressions compute in: character types are text, NUMERIC loses its modifier.
    pub fn unconstrained(self) -> DataType {
        match self {
            DataType::Varchar(_) | DataType::Char(_) => DataType::Text,
            DataType::Numeric(_) => DataType::Numeric(None),
            other => other,
        }
    }

    /// Whether `value` is already a stored value of this type: admitting it or casting it to
    /// this type returns it unchanged. Answers only the common cases (exact kinds, integers
    /// in range, strings within a VARCHAR's length); `false` means "not known", and the full
    /// conversion decides.
    #[inline]
    pub fn holds(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null)
            | (DataType::Boolean, Value::Boolean(_))
            | (DataType::BigInt, Value::Int(_))
            | (DataType::Double, Value::Float(_))
            | (DataType::Text | DataType::Varchar(None), Value::Text(_))
            | (DataType::Bytea, Value::Bytes(_))
            | (DataType::Date, Value::Date(_))
            | (DataType::Time, Value::Time(_))
            | (DataType::Timestamp, Value::Timestamp(_))
            | (DataType::TimestampTz, Value::TimestampTz(_))
            | (DataType::Interval, Value::Interval(_))
            | (DataType::Uuid, Value::Uuid(_)) => true,
            (DataType::SmallInt | DataType::Integer, Value::Int(i)) => cast::fits(*i, self),
            // Bytes bound characters: a string of at most `n` bytes has at most `n` of them.
            (DataType::Varchar(Some(n)), Value::Text(s)) => s.len() <= n as usize,
            _ => false,
        }
    }

    /// Checks that `value` fits this type, narrowing it where the storage width is smaller
    /// (REAL keeps single precision) and applying modifiers: NUMERIC rounds to its scale,
    /// CHAR pads, VARCHAR and CHAR refuse longer strings (22001). NULL fits every type;
    /// nullability is checked elsewhere.
    pub fn admit(self, column: &str, value: Value) -> Result<Value> {
        if self.holds(&value) {
            Ok(value)
        } else {
            self.admit_converting(column, value)
        }
    }

    /// [`DataType::admit`] without its shortcut for values the type already holds.
    fn admit_converting(self, column: &str, value: Value) -> Result<Value> {
        let mismatch = |value: &Value| Error::TypeMismatch {
            column: column.to_string(),
            expected: self.name(),
            found: value.type_name(),
        };
        match (self, value) {
            (_, Value::Null) => Ok(Value::Null),
            (DataType::Boolean, v @ Value::Boolean(_)) => Ok(v),
            (ty, Value::Int(i)) if ty.is_integer() => {
                if fits(i, ty) {
                    Ok(Value::Int(i))
                } else {
                    Err(out_of_range(ty))
                }
            }
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
            (DataType::Numeric(modifier), Value::Numeric(d)) => {
                numeric::apply_modifier(d, modifier).map(Value::Numeric)
            }
            (DataType::Text | DataType::Varchar(None), v @ Value::Text(_)) => Ok(v),
            (DataType::Varchar(Some(n)), Value::Text(s)) => {
                limit_length(s, n, false).map(Value::Text)
            }
            (DataType::Char(n), Value::Text(s)) => limit_length(s, n, true).map(Value::Text),
            (DataType::Bytea, v @ Value::Bytes(_)) => Ok(v),
            (DataType::Date, v @ Value::Date(_)) => Ok(v),
            (DataType::Time, v @ Value::Time(_)) => Ok(v),
            (DataType::Timestamp, v @ Value::Timestamp(_)) => Ok(v),
            (DataType::TimestampTz, v @ Value::TimestampTz(_)) => Ok(v),
            (DataType::Interval, v @ Value::Interval(_)) => Ok(v),
            (DataType::Uuid, v @ Value::Uuid(_)) => Ok(v),
            (DataType::Json, v @ Value::Json(_)) => Ok(v),
            (DataType::Jsonb, Value::Json(text)) => json_normalize(&text).map(Value::Json),
            (ty @ (DataType::Array(_) | DataType::Int2Vector), Value::Array(items)) => {
                let element = ty.element().unwrap_or(DataType::Text);
                items
                    .into_iter()
                    .map(|item| element.admit(column, item))
                    .collect::<Result<_>>()
                    .map(Value::Array)
            }
            (_, value) => Err(mismatch(&value)),
        }
    }
}

/// A string for a `VARCHAR(n)` (`pad`: `CHAR(n)`) column. As in PostgreSQL, trailing spaces
/// beyond the length are cut silently; anything else too long is 22001.
fn limit_length(s: SmolStr, n: u32, pad: bool) -> Result<SmolStr> {
    let n = n as usize;
    let count = s.chars().count();
    if count > n {
        let (cut, _) = s.char_indices().nth(n).unwrap_or((s.len(), ' '));
        if s[cut..].chars().any(|c| c != ' ') {
            let ty = if pad {
                "character"
            } else {
                "character varying"
            };
            return Err(Error::StringTooLong(format!("{ty}({n})")));
        }
        return Ok(SmolStr::new(&s[..cut]));
    }
    if pad && count < n {
        let mut padded = String::from(s.as_str());
        padded.extend(std::iter::repeat_n(' ', n - count));
        return Ok(padded.into());
    }
    Ok(s)
}

impl fmt::Display for DataType {
    /// The type as PostgreSQL's `format_type` writes it, modifiers included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Numeric(Some((p, s))) => write!(f, "numeric({p},{s})"),
            DataType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            DataType::Char(n) => write!(f, "character({n})"),
            other => f.write_str(other.name()),
        }
    }
}

/// A value of some column. Integers of every width are `Int`, floats of both widths `Float`,
/// every character type `Text` and both JSON types `Json`; the column's [`DataType`] says how
/// it is stored. Dates and times count from the Unix epoch: `Date` in days, `Timestamp` and
/// `TimestampTz` in microseconds (the latter in UTC), `Time` in microseconds since midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Text(SmolStr),
    Bytes(Vec<u8>),
    Numeric(Decimal),
    Date(i32),
    Time(i64),
    Timestamp(i64),
    TimestampTz(i64),
    Interval(Interval),
    Uuid(uuid::Uuid),
    Json(String),
    /// A one-dimensional array (1-based in SQL), of the values of its element type.
    Array(Vec<Value>),
}

/// An array type's name, as PostgreSQL spells it (`integer[]`).
fn array_name(element: DataType) -> &'static str {
    match element {
        DataType::Boolean => "boolean[]",
        DataType::SmallInt => "smallint[]",
        DataType::Integer => "integer[]",
        DataType::BigInt => "bigint[]",
        DataType::Real => "real[]",
        DataType::Double => "double precision[]",
        DataType::Bytea => "bytea[]",
        DataType::Numeric(_) => "numeric[]",
        DataType::Date => "date[]",
        DataType::Time => "time without time zone[]",
        DataType::Timestamp => "timestamp without time zone[]",
        DataType::TimestampTz => "timestamp with time zone[]",
        DataType::Interval => "interval[]",
        DataType::Uuid => "uuid[]",
        DataType::Json => "json[]",
        DataType::Jsonb => "jsonb[]",
        _ => "text[]",
    }
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
            Value::Numeric(_) => "numeric",
            Value::Date(_) => "date",
            Value::Time(_) => "time without time zone",
            Value::Timestamp(_) => "timestamp without time zone",
            Value::TimestampTz(_) => "timestamp with time zone",
            Value::Interval(_) => "interval",
            Value::Uuid(_) => "uuid",
            Value::Json(_) => "json",
            Value::Array(_) => "array",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Bytes this value occupies in memory, heap included (for cache accounting).
    pub fn memory_size(&self) -> usize {
        size_of::<Value>()
            + match self {
                // Up to 23 bytes sit inline; a longer text is one shared allocation.
                Value::Text(s) if s.is_heap_allocated() => 16 + s.len(),
                Value::Text(_) => 0,
                Value::Json(s) => s.capacity(),
                Value::Bytes(b) => b.capacity(),
                Value::Array(items) => items.iter().map(Value::memory_size).sum(),
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
        Value::Text(v.into())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v.into())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Numeric(v)
    }
}

/// A table row: one value per column, in column order.
pub type Row = Vec<Value>;

/// A row shared between the row cache, versions, transactions and results: the values sit
/// right after the reference count, one allocation, so reading a cached row costs one memory
/// access fewer than an `SharedRow` (whose values are a second allocation).
pub type SharedRow = std::sync::Arc<[Value]>;

/// Bytes a row occupies in memory, heap included.
pub fn row_memory_size(row: &[Value]) -> usize {
    size_of::<SharedRow>() + row.iter().map(Value::memory_size).sum::<usize>()
}

impl fmt::Display for Value {
    /// PostgreSQL's text output for the value (timestamps with time zone in UTC).
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
            Value::Json(s) => f.write_str(s),
            Value::Bytes(b) => {
                f.write_str("\\x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Value::Numeric(d) => write!(f, "{d}"),
            Value::Date(days) => f.write_str(&format_date(*days)),
            Value::Time(micros) => f.write_str(&format_time(*micros)),
            Value::Timestamp(micros) => f.write_str(&format_timestamp(*micros)),
            Value::TimestampTz(micros) => f.write_str(&format_timestamptz(*micros)),
            Value::Interval(interval) => write!(f, "{interval}"),
            Value::Uuid(uuid) => write!(f, "{}", uuid.hyphenated()),
            Value::Array(items) => f.write_str(&format_array(items)),
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
mod tests;
