//! The stored form of a row, driven by the table's column types:
//!
//! ```text
//! varint column count │ null bitmap (1 bit per column) │ non-null values, in column order
//! ```
//!
//! Booleans take one byte, SMALLINT/INTEGER/BIGINT 2/4/8 bytes, REAL/DOUBLE 4/8 bytes (all
//! little-endian), TEXT, BYTEA and JSON a varint length and the bytes, NUMERIC 16 bytes
//! (`rust_decimal`'s own form), DATE 4 bytes, TIME and TIMESTAMP(TZ) 8, INTERVAL 16 (months,
//! days, microseconds) and UUID 16. The count lets a row written
//! before a column was added decode with that column's value for such rows (its default).

use super::{put_varint, take, take_array, take_varint};
use crate::types::{DataType, Decimal, Interval, Row, Value};
use crate::{Error, Result};

/// Encodes `row`, whose values have already been admitted by `types` (see [`DataType::admit`]).
pub fn encode_row(types: &[DataType], row: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + row.len() * 8);
    encode_row_into(types, row, &mut out);
    out
}

/// Appends [`encode_row`]'s encoding of `row` to `out`.
pub fn encode_row_into(types: &[DataType], row: &[Value], out: &mut Vec<u8>) {
    put_varint(out, row.len() as u64);
    let bitmap_at = out.len();
    out.resize(bitmap_at + row.len().div_ceil(8), 0);
    for (i, (ty, value)) in types.iter().zip(row).enumerate() {
        match (ty, value) {
            (_, Value::Null) => out[bitmap_at + i / 8] |= 1 << (i % 8),
            (_, Value::Boolean(b)) => out.push(u8::from(*b)),
            (DataType::SmallInt, Value::Int(v)) => out.extend((*v as i16).to_le_bytes()),
            (DataType::Integer, Value::Int(v)) => out.extend((*v as i32).to_le_bytes()),
            (_, Value::Int(v)) => out.extend(v.to_le_bytes()),
            (DataType::Real, Value::Float(v)) => out.extend((*v as f32).to_le_bytes()),
            (_, Value::Float(v)) => out.extend(v.to_le_bytes()),
            (_, Value::Text(s)) => put_bytes(out, s.as_bytes()),
            (_, Value::Bytes(b)) => put_bytes(out, b),
            (_, Value::Json(s)) => put_bytes(out, s.as_bytes()),
            (_, Value::Numeric(d)) => out.extend(d.serialize()),
            (_, Value::Date(d)) => out.extend(d.to_le_bytes()),
            (_, Value::Time(t) | Value::Timestamp(t) | Value::TimestampTz(t)) => {
                out.extend(t.to_le_bytes());
            }
            (_, Value::Interval(i)) => {
                out.extend(i.months.to_le_bytes());
                out.extend(i.days.to_le_bytes());
                out.extend(i.micros.to_le_bytes());
            }
            (_, Value::Uuid(u)) => out.extend(u.as_bytes()),
            (ty, Value::Array(items)) => {
                // Elements as a row of their own, of the element type (text if untyped).
                let element = ty.element().unwrap_or(DataType::Text);
                put_bytes(out, &encode_row(&vec![element; items.len()], items));
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Decodes a row stored by [`encode_row`] for a table whose columns now have `types`. Columns
/// added after the row was written take their value from `missing` (NULL beyond it).
pub fn decode_row(types: &[DataType], missing: &[Value], mut input: &[u8]) -> Result<Row> {
    let corrupt = || Error::Corrupt("malformed row".into());
    let input = &mut input;
    let count = take_varint(input).ok_or_else(corrupt)? as usize;
    if count > types.len() {
        return Err(Error::Corrupt(format!(
            "row has {count} columns, table has {}",
            types.len()
        )));
    }
    let bitmap = take(input, count.div_ceil(8)).ok_or_else(corrupt)?;
    let mut row = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        if i >= count {
            row.push(missing.get(i).cloned().unwrap_or(Value::Null));
            continue;
        }
        if bitmap[i / 8] & (1 << (i % 8)) != 0 {
            row.push(Value::Null);
            continue;
        }
        let value = match ty {
            DataType::Boolean => Value::Boolean(take(input, 1).ok_or_else(corrupt)?[0] != 0),
            DataType::SmallInt => {
                Value::Int(i16::from_le_bytes(take_array(input).ok_or_else(corrupt)?).into())
            }
            DataType::Integer => {
                Value::Int(i32::from_le_bytes(take_array(input).ok_or_else(corrupt)?).into())
            }
            DataType::BigInt => {
                Value::Int(i64::from_le_bytes(take_array(input).ok_or_else(corrupt)?))
            }
            DataType::Real => {
                Value::Float(f32::from_le_bytes(take_array(input).ok_or_else(corrupt)?).into())
            }
            DataType::Double => {
                Value::Float(f64::from_le_bytes(take_array(input).ok_or_else(corrupt)?))
            }
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
                let bytes = take_bytes(input).ok_or_else(corrupt)?;
                Value::Text(std::str::from_utf8(bytes).map_err(|_| corrupt())?.into())
            }
            DataType::Json | DataType::Jsonb => {
                let bytes = take_bytes(input).ok_or_else(corrupt)?;
                Value::Json(String::from_utf8(bytes.to_vec()).map_err(|_| corrupt())?)
            }
            DataType::Bytea => Value::Bytes(take_bytes(input).ok_or_else(corrupt)?.to_vec()),
            DataType::Numeric(_) => {
                Value::Numeric(Decimal::deserialize(take_array(input).ok_or_else(corrupt)?))
            }
            DataType::Date => {
                Value::Date(i32::from_le_bytes(take_array(input).ok_or_else(corrupt)?))
            }
            DataType::Time | DataType::Timestamp | DataType::TimestampTz => {
                let v = i64::from_le_bytes(take_array(input).ok_or_else(corrupt)?);
                match ty {
                    DataType::Time => Value::Time(v),
                    DataType::Timestamp => Value::Timestamp(v),
                    _ => Value::TimestampTz(v),
                }
            }
            DataType::Interval => {
                let months = i32::from_le_bytes(take_array(input).ok_or_else(corrupt)?);
                let days = i32::from_le_bytes(take_array(input).ok_or_else(corrupt)?);
                let micros = i64::from_le_bytes(take_array(input).ok_or_else(corrupt)?);
                Value::Interval(Interval::new(months, days, micros))
            }
            DataType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(
                take_array(input).ok_or_else(corrupt)?,
            )),
            DataType::Array(_) | DataType::Int2Vector => {
                let element = ty.element().unwrap_or(DataType::Text);
                let bytes = take_bytes(input).ok_or_else(corrupt)?;
                let count = take_varint(&mut &bytes[..]).ok_or_else(corrupt)? as usize;
                if count > bytes.len() * 8 {
                    return Err(corrupt());
                }
                Value::Array(decode_row(&vec![element; count], &[], bytes)?)
            }
        };
        row.push(value);
    }
    Ok(row)
}

fn take_bytes<'a>(input: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(take_varint(input)?).ok()?;
    take(input, len)
}
