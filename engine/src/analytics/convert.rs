//! PostgreSQL types ↔ Arrow: the schema a table shows DataFusion, rows into record batches,
//! and DataFusion's result values back into OmenDB values of the planned column types.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{
    DataType as ArrowType, Field, IntervalMonthDayNano, Schema, SchemaRef, TimeUnit,
};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::ScalarValue;
use rust_decimal::Decimal;

use crate::catalog::TableSchema;
use crate::types::{DataType, Interval, Value};
use crate::{Error, Result};

/// Arrow's widest Decimal128 precision.
const MAX_PRECISION: u8 = 38;

/// The Arrow type a column of `ty` is shown as, or why it cannot be.
pub fn arrow_type(ty: DataType) -> std::result::Result<ArrowType, String> {
    Ok(match ty {
        DataType::Boolean => ArrowType::Boolean,
        DataType::SmallInt => ArrowType::Int16,
        DataType::Integer => ArrowType::Int32,
        DataType::BigInt => ArrowType::Int64,
        DataType::Real => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Json
        | DataType::Jsonb
        | DataType::Uuid => ArrowType::Utf8,
        DataType::Bytea => ArrowType::Binary,
        DataType::Numeric(Some((precision, scale))) => {
            let scale = i8::try_from(scale).map_err(|_| format!("NUMERIC scale {scale}"))?;
            let precision = u8::try_from(precision)
                .ok()
                .filter(|p| *p <= MAX_PRECISION)
                .ok_or_else(|| format!("NUMERIC precision {precision} (Arrow's limit is 38)"))?;
            ArrowType::Decimal128(precision, scale)
        }
        // Each value of an unconstrained NUMERIC keeps its own scale (2.50 stays 2.50), which
        // one Arrow decimal type cannot: such columns are not shown to DataFusion.
        DataType::Numeric(None) => {
            return Err("unconstrained NUMERIC columns (each value keeps its own scale)".into());
        }
        DataType::Date => ArrowType::Date32,
        DataType::Time => ArrowType::Time64(TimeUnit::Microsecond),
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Microsecond, None),
        DataType::TimestampTz => ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Interval => {
            ArrowType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano)
        }
        other => return Err(format!("columns of type {}", other.name())),
    })
}

/// The Arrow schema of `schema`'s visible columns, and their positions in stored rows.
pub fn table_schema(schema: &TableSchema) -> std::result::Result<(SchemaRef, Vec<usize>), String> {
    let mut fields = Vec::new();
    let mut positions = Vec::new();
    for (i, column) in schema.columns.iter().enumerate() {
        if column.dropped {
            continue;
        }
        let ty = arrow_type(column.data_type)
            .map_err(|what| format!("table \"{}\" has {what}", schema.name))?;
        fields.push(Field::new(&column.name, ty, column.nullable));
        positions.push(i);
    }
    Ok((Arc::new(Schema::new(fields)), positions))
}

/// Builds one Arrow column from values of one OmenDB type.
pub struct ColumnBuilder {
    ty: DataType,
    builder: Box<dyn ArrayBuilder>,
}

impl std::fmt::Debug for ColumnBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnBuilder")
            .field("ty", &self.ty)
            .finish()
    }
}

fn unexpected(value: &Value, ty: DataType) -> Error {
    Error::Corrupt(format!("a {} column holds {value:?}", ty.name()))
}

impl ColumnBuilder {
    pub fn new(ty: DataType, arrow: &ArrowType, capacity: usize) -> Self {
        let builder: Box<dyn ArrayBuilder> = match arrow {
            ArrowType::Boolean => Box::new(BooleanBuilder::with_capacity(capacity)),
            ArrowType::Int16 => Box::new(Int16Builder::with_capacity(capacity)),
            ArrowType::Int32 => Box::new(Int32Builder::with_capacity(capacity)),
            ArrowType::Int64 => Box::new(Int64Builder::with_capacity(capacity)),
            ArrowType::Float32 => Box::new(Float32Builder::with_capacity(capacity)),
            ArrowType::Float64 => Box::new(Float64Builder::with_capacity(capacity)),
            ArrowType::Binary => Box::new(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            ArrowType::Decimal128(p, s) => Box::new(
                Decimal128Builder::with_capacity(capacity)
                    .with_data_type(ArrowType::Decimal128(*p, *s)),
            ),
            ArrowType::Date32 => Box::new(Date32Builder::with_capacity(capacity)),
            ArrowType::Time64(_) => Box::new(Time64MicrosecondBuilder::with_capacity(capacity)),
            ArrowType::Timestamp(_, tz) => Box::new(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone_opt(tz.clone()),
            ),
            ArrowType::Interval(_) => {
                Box::new(IntervalMonthDayNanoBuilder::with_capacity(capacity))
            }
            _ => Box::new(StringBuilder::with_capacity(capacity, capacity * 16)),
        };
        Self { ty, builder }
    }

    /// Appends one value (of the column's type, or NULL).
    pub fn push(&mut self, value: &Value) -> Result<()> {
        let any = self.builder.as_any_mut();
        macro_rules! put {
            ($builder:ty, $value:expr) => {
                match any.downcast_mut::<$builder>() {
                    Some(b) => match value {
                        Value::Null => b.append_null(),
                        _ => b.append_value($value),
                    },
                    None => return Err(Error::Corrupt("an Arrow builder of another type".into())),
                }
            };
        }
        let ty = self.ty;
        match ty {
            DataType::Boolean => put!(
                BooleanBuilder,
                match value {
                    Value::Boolean(b) => *b,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::SmallInt => put!(
                Int16Builder,
                match value {
                    Value::Int(i) => i16::try_from(*i).map_err(|_| unexpected(value, ty))?,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Integer => put!(
                Int32Builder,
                match value {
                    Value::Int(i) => i32::try_from(*i).map_err(|_| unexpected(value, ty))?,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::BigInt => put!(
                Int64Builder,
                match value {
                    Value::Int(i) => *i,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Real => put!(
                Float32Builder,
                match value {
                    Value::Float(f) => *f as f32,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Double => put!(
                Float64Builder,
                match value {
                    Value::Float(f) => *f,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Bytea => put!(
                BinaryBuilder,
                match value {
                    Value::Bytes(b) => b.as_slice(),
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Numeric(declared) => {
                let scale = declared.map_or(0, |(_, s)| u32::from(s));
                put!(
                    Decimal128Builder,
                    match value {
                        Value::Numeric(d) => scaled(*d, scale)?,
                        other => return Err(unexpected(other, ty)),
                    }
                )
            }
            DataType::Date => put!(
                Date32Builder,
                match value {
                    Value::Date(d) => *d,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Time => put!(
                Time64MicrosecondBuilder,
                match value {
                    Value::Time(t) => *t,
                    other => return Err(unexpected(other, ty)),
                }
            ),
            DataType::Timestamp | DataType::TimestampTz => {
                put!(
                    TimestampMicrosecondBuilder,
                    match value {
                        Value::Timestamp(t) | Value::TimestampTz(t) => *t,
                        other => return Err(unexpected(other, ty)),
                    }
                )
            }
            DataType::Interval => put!(
                IntervalMonthDayNanoBuilder,
                match value {
                    Value::Interval(i) => IntervalMonthDayNano::new(
                        i.months,
                        i.days,
                        i.micros
                            .checked_mul(1000)
                            .ok_or_else(|| unexpected(value, ty))?,
                    ),
                    other => return Err(unexpected(other, ty)),
                }
            ),
            // CHAR(n)'s padding is not part of its value (PostgreSQL drops it when comparing
            // or converting to text); the result is padded again as the planned type.
            DataType::Char(_) => put!(
                StringBuilder,
                match value {
                    Value::Text(s) => s.trim_end_matches(' '),
                    other => return Err(unexpected(other, ty)),
                }
            ),
            _ => put!(
                StringBuilder,
                match value {
                    Value::Text(s) => s.to_string(),
                    Value::Json(s) => s.clone(),
                    Value::Uuid(u) => u.hyphenated().to_string(),
                    other => return Err(unexpected(other, ty)),
                }
            ),
        }
        Ok(())
    }

    pub fn finish(&mut self) -> ArrayRef {
        self.builder.finish()
    }
}

/// `d` as an Arrow decimal's integer at `scale`; a value with more decimal places than that
/// cannot be shown exactly (the query then runs natively).
fn scaled(d: Decimal, scale: u32) -> Result<i128> {
    let have = d.scale();
    if have > scale {
        let trimmed = d.normalize();
        if trimmed.scale() > scale {
            return Err(Error::NotSupported(format!(
                "the analytics engine: NUMERIC value {d} has more than {scale} decimal places"
            )));
        }
        return scaled(trimmed, scale);
    }
    10i128
        .checked_pow(scale - have)
        .and_then(|f| d.mantissa().checked_mul(f))
        .ok_or_else(|| Error::NumericOutOfRange("numeric field overflow".into()))
}

/// Rows (stored rows: every column, dropped ones too) as a record batch of `columns`.
pub fn batch(
    schema: &SchemaRef,
    types: &[DataType],
    columns: &[usize],
    rows: &[crate::types::SharedRow],
) -> Result<RecordBatch> {
    let mut builders: Vec<ColumnBuilder> = schema
        .fields()
        .iter()
        .zip(types)
        .map(|(field, ty)| ColumnBuilder::new(*ty, field.data_type(), rows.len()))
        .collect();
    for row in rows {
        for (builder, &column) in builders.iter_mut().zip(columns) {
            builder.push(row.get(column).unwrap_or(&Value::Null))?;
        }
    }
    let arrays = builders.iter_mut().map(ColumnBuilder::finish).collect();
    // A scan that reads no column (`count(*)`) still has its rows.
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        .map_err(|e| Error::Corrupt(format!("a record batch: {e}")))
}

/// Whether DataFusion's result type `arrow` can stand for PostgreSQL's `planned` type
/// exactly (DataFusion computing AVG of integers as a float where PostgreSQL gives NUMERIC
/// would show other digits: such a query runs natively).
pub fn compatible(arrow: &ArrowType, planned: DataType) -> bool {
    use ArrowType as A;
    let integer = matches!(
        arrow,
        A::Int8 | A::Int16 | A::Int32 | A::Int64 | A::UInt8 | A::UInt16 | A::UInt32 | A::UInt64
    );
    let decimal = matches!(
        arrow,
        A::Decimal32(..) | A::Decimal64(..) | A::Decimal128(..) | A::Decimal256(..)
    );
    let text = matches!(arrow, A::Utf8 | A::LargeUtf8 | A::Utf8View);
    match arrow {
        A::Null => return true,
        A::Dictionary(_, value) => return compatible(value, planned),
        _ => {}
    }
    match planned {
        DataType::Boolean => matches!(arrow, A::Boolean),
        DataType::SmallInt | DataType::Integer | DataType::BigInt => integer,
        DataType::Real | DataType::Double => {
            matches!(arrow, A::Float16 | A::Float32 | A::Float64)
        }
        DataType::Numeric(_) => integer || decimal,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Json
        | DataType::Jsonb
        | DataType::Uuid => text,
        DataType::Bytea => matches!(arrow, A::Binary | A::LargeBinary | A::BinaryView),
        DataType::Date => matches!(arrow, A::Date32 | A::Date64),
        DataType::Time => matches!(arrow, A::Time32(_) | A::Time64(_)),
        DataType::Timestamp => matches!(arrow, A::Timestamp(_, None)),
        DataType::TimestampTz => matches!(arrow, A::Timestamp(_, Some(_))),
        DataType::Interval => matches!(arrow, A::Interval(_) | A::Duration(_)),
        _ => false,
    }
}

/// One result value from DataFusion as an OmenDB value of the planned type.
pub fn value(scalar: ScalarValue, planned: DataType) -> Result<Value> {
    use ScalarValue as S;
    let value = match scalar {
        S::Null => Value::Null,
        S::Boolean(v) => v.map_or(Value::Null, Value::Boolean),
        S::Int8(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::Int16(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::Int32(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::Int64(v) => v.map_or(Value::Null, Value::Int),
        S::UInt8(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::UInt16(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::UInt32(v) => v.map_or(Value::Null, |i| Value::Int(i.into())),
        S::UInt64(v) => match v {
            None => Value::Null,
            Some(i) => match i64::try_from(i) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Numeric(Decimal::from(i)),
            },
        },
        S::Float32(v) => v.map_or(Value::Null, |f| Value::Float(f.into())),
        S::Float64(v) => v.map_or(Value::Null, Value::Float),
        S::Decimal128(v, _, scale) => match v {
            None => Value::Null,
            Some(v) => Value::Numeric(decimal(v, scale)?),
        },
        S::Decimal32(v, _, scale) => match v {
            None => Value::Null,
            Some(v) => Value::Numeric(decimal(v.into(), scale)?),
        },
        S::Decimal64(v, _, scale) => match v {
            None => Value::Null,
            Some(v) => Value::Numeric(decimal(v.into(), scale)?),
        },
        S::Utf8(v) | S::Utf8View(v) | S::LargeUtf8(v) => {
            v.map_or(Value::Null, |v| Value::Text(v.into()))
        }
        S::Binary(v) | S::BinaryView(v) | S::LargeBinary(v) | S::FixedSizeBinary(_, v) => {
            v.map_or(Value::Null, Value::Bytes)
        }
        S::Date32(v) => v.map_or(Value::Null, Value::Date),
        S::Date64(v) => match v {
            None => Value::Null,
            Some(ms) => Value::Date(
                i32::try_from(ms.div_euclid(86_400_000))
                    .map_err(|_| Error::DatetimeOutOfRange("date out of range".into()))?,
            ),
        },
        S::Time32Second(v) => v.map_or(Value::Null, |s| Value::Time(i64::from(s) * 1_000_000)),
        S::Time32Millisecond(v) => v.map_or(Value::Null, |s| Value::Time(i64::from(s) * 1000)),
        S::Time64Microsecond(v) => v.map_or(Value::Null, Value::Time),
        S::Time64Nanosecond(v) => v.map_or(Value::Null, |n| Value::Time(n.div_euclid(1000))),
        S::TimestampSecond(v, tz) => timestamp(v.and_then(|s| s.checked_mul(1_000_000)), tz),
        S::TimestampMillisecond(v, tz) => timestamp(v.and_then(|s| s.checked_mul(1000)), tz),
        S::TimestampMicrosecond(v, tz) => timestamp(v, tz),
        S::TimestampNanosecond(v, tz) => timestamp(v.map(|n| n.div_euclid(1000)), tz),
        S::IntervalYearMonth(v) => v.map_or(Value::Null, |months| {
            Value::Interval(Interval {
                months,
                days: 0,
                micros: 0,
            })
        }),
        S::IntervalDayTime(v) => v.map_or(Value::Null, |i| {
            Value::Interval(Interval {
                months: 0,
                days: i.days,
                micros: i64::from(i.milliseconds) * 1000,
            })
        }),
        S::IntervalMonthDayNano(v) => v.map_or(Value::Null, |i| {
            Value::Interval(Interval {
                months: i.months,
                days: i.days,
                micros: i.nanoseconds.div_euclid(1000),
            })
        }),
        S::DurationSecond(v) => duration(v.and_then(|s| s.checked_mul(1_000_000))),
        S::DurationMillisecond(v) => duration(v.and_then(|s| s.checked_mul(1000))),
        S::DurationMicrosecond(v) => duration(v),
        S::DurationNanosecond(v) => duration(v.map(|n| n.div_euclid(1000))),
        other => {
            return Err(Error::NotSupported(format!(
                "the analytics engine returned a value of type {}",
                other.data_type()
            )));
        }
    };
    if value.is_null() {
        return Ok(value);
    }
    crate::types::cast(value, planned)
}

fn decimal(v: i128, scale: i8) -> Result<Decimal> {
    let out_of_range = || Error::NumericOutOfRange("numeric field overflow".into());
    if scale < 0 {
        let factor = 10i128
            .checked_pow(u32::from(scale.unsigned_abs()))
            .ok_or_else(out_of_range)?;
        return decimal(v.checked_mul(factor).ok_or_else(out_of_range)?, 0);
    }
    Decimal::try_from_i128_with_scale(v, scale.unsigned_abs().into()).map_err(|_| out_of_range())
}

fn timestamp(micros: Option<i64>, tz: Option<Arc<str>>) -> Value {
    match (micros, tz) {
        (None, _) => Value::Null,
        (Some(t), Some(_)) => Value::TimestampTz(t),
        (Some(t), None) => Value::Timestamp(t),
    }
}

fn duration(micros: Option<i64>) -> Value {
    micros.map_or(Value::Null, |micros| {
        Value::Interval(Interval {
            months: 0,
            days: 0,
            micros,
        })
    })
}

/// A parameter value for DataFusion, of its planned type.
pub fn scalar(value: &Value, ty: DataType) -> Result<ScalarValue> {
    let arrow = arrow_type(ty).map_err(|what| {
        Error::NotSupported(format!("the analytics engine: parameters of {what}"))
    })?;
    let mut builder = ColumnBuilder::new(ty, &arrow, 1);
    builder.push(value)?;
    let array = builder.finish();
    ScalarValue::try_from_array(&array, 0)
        .map_err(|e| Error::Corrupt(format!("a parameter value: {e}")))
}
