//! The engine's values in PostgreSQL's wire formats: type OIDs, binary encodings of results,
//! and decoding of parameters (text parameters go to the engine as text, which casts them as
//! it would a literal; binary ones are decoded by their type).

use std::error::Error as StdError;

use bytes::BytesMut;
use omendb_engine::types::{DataType, Decimal, Interval, Value};
use omendb_engine::{Error, Result};
use pgwire::api::Type;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, to_sql_checked};

/// Microseconds from 1970-01-01 (the engine's epoch) to 2000-01-01 (PostgreSQL's).
const EPOCH_2000_MICROS: i64 = 946_684_800_000_000;
const EPOCH_2000_DAYS: i32 = 10_957;

/// The wire type of a column or parameter type.
pub fn wire_type(ty: DataType) -> Type {
    match ty {
        DataType::Boolean => Type::BOOL,
        DataType::SmallInt => Type::INT2,
        DataType::Integer => Type::INT4,
        DataType::BigInt => Type::INT8,
        DataType::Real => Type::FLOAT4,
        DataType::Double => Type::FLOAT8,
        DataType::Text => Type::TEXT,
        DataType::Varchar(_) => Type::VARCHAR,
        DataType::Char(_) => Type::BPCHAR,
        DataType::Bytea => Type::BYTEA,
        DataType::Numeric(_) => Type::NUMERIC,
        DataType::Date => Type::DATE,
        DataType::Time => Type::TIME,
        DataType::Timestamp => Type::TIMESTAMP,
        DataType::TimestampTz => Type::TIMESTAMPTZ,
        DataType::Interval => Type::INTERVAL,
        DataType::Uuid => Type::UUID,
        DataType::Json => Type::JSON,
        DataType::Jsonb => Type::JSONB,
        DataType::Array(_) => Type::from_oid(ty.oid()).unwrap_or(Type::TEXT_ARRAY),
        DataType::Int2Vector => Type::INT2_VECTOR,
    }
}

/// A value already encoded for the wire: its binary bytes and its text form.
#[derive(Debug)]
pub struct Encoded {
    pub binary: Vec<u8>,
    pub text: String,
}

impl ToSql for Encoded {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(&self.binary);
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl ToSqlText for Encoded {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _options: &FormatOptions,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(self.text.as_bytes());
        Ok(IsNull::No)
    }
}

/// The binary form of a non-NULL value of column type `ty`, as PostgreSQL sends it.
pub fn binary(value: &Value, ty: DataType) -> Vec<u8> {
    match (value, ty) {
        (Value::Boolean(b), _) => vec![u8::from(*b)],
        (Value::Int(i), DataType::SmallInt) => (*i as i16).to_be_bytes().to_vec(),
        (Value::Int(i), DataType::Integer) => (*i as i32).to_be_bytes().to_vec(),
        (Value::Int(i), _) => i.to_be_bytes().to_vec(),
        (Value::Float(f), DataType::Real) => (*f as f32).to_be_bytes().to_vec(),
        (Value::Float(f), _) => f.to_be_bytes().to_vec(),
        (Value::Bytes(b), _) => b.clone(),
        (Value::Numeric(d), _) => numeric(*d),
        (Value::Date(days), _) => (days - EPOCH_2000_DAYS).to_be_bytes().to_vec(),
        (Value::Time(t), _) => t.to_be_bytes().to_vec(),
        (Value::Timestamp(t) | Value::TimestampTz(t), _) => {
            (t - EPOCH_2000_MICROS).to_be_bytes().to_vec()
        }
        (Value::Interval(i), _) => {
            let mut out = i.micros.to_be_bytes().to_vec();
            out.extend(i.days.to_be_bytes());
            out.extend(i.months.to_be_bytes());
            out
        }
        (Value::Uuid(u), _) => u.as_bytes().to_vec(),
        (Value::Json(s), DataType::Jsonb) => {
            let mut out = vec![1];
            out.extend(s.as_bytes());
            out
        }
        (Value::Array(items), DataType::Array(element)) => array(items, *element),
        (Value::Array(items), DataType::Int2Vector) => array(items, DataType::SmallInt),
        (other, _) => other.to_string().into_bytes(),
    }
}

/// PostgreSQL's binary array: dimensions, a has-NULLs flag, the element type, the length and
/// lower bound (1) of the one dimension, then each element's length (-1: NULL) and bytes.
fn array(items: &[Value], element: DataType) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(i32::from(!items.is_empty()).to_be_bytes());
    out.extend(i32::from(items.iter().any(Value::is_null)).to_be_bytes());
    out.extend(element.oid().to_be_bytes());
    if !items.is_empty() {
        out.extend((items.len() as i32).to_be_bytes());
        out.extend(1i32.to_be_bytes());
    }
    for item in items {
        if item.is_null() {
            out.extend((-1i32).to_be_bytes());
        } else {
            let bytes = binary(item, element);
            out.extend((bytes.len() as i32).to_be_bytes());
            out.extend(bytes);
        }
    }
    out
}

/// PostgreSQL's binary NUMERIC: digit count, weight, sign and display scale, then the digits
/// in base 10000 (the integer part's groups end at the decimal point).
fn numeric(d: Decimal) -> Vec<u8> {
    let scale = d.scale() as usize;
    let digits = d.mantissa().unsigned_abs().to_string();
    let (whole, fraction) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("", digits.as_str())
    };
    let fraction = format!("{fraction:0>scale$}");
    let mut groups: Vec<i16> = Vec::new();
    // The integer part, padded on the left to whole groups of four.
    let pad = (4 - whole.len() % 4) % 4;
    let whole = format!("{}{whole}", "0".repeat(pad));
    for chunk in whole.as_bytes().chunks(4) {
        groups.push(group(chunk));
    }
    let mut weight = groups.len() as i16 - 1;
    // The fraction, padded on the right.
    let pad = (4 - fraction.len() % 4) % 4;
    let fraction = format!("{fraction}{}", "0".repeat(pad));
    for chunk in fraction.as_bytes().chunks(4) {
        groups.push(group(chunk));
    }
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if d.is_sign_negative() && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend((groups.len() as i16).to_be_bytes());
    out.extend(weight.to_be_bytes());
    out.extend(sign.to_be_bytes());
    out.extend((scale as u16).to_be_bytes());
    for g in groups {
        out.extend(g.to_be_bytes());
    }
    out
}

fn group(ascii: &[u8]) -> i16 {
    ascii
        .iter()
        .fold(0i16, |n, &c| n * 10 + i16::from(c.saturating_sub(b'0')))
}

/// A parameter sent in binary format, decoded by its wire type.
pub fn from_binary(bytes: &[u8], ty: &Type) -> Result<Value> {
    let bad = || Error::InvalidText(format!("malformed binary parameter of type {}", ty.name()));
    let array = |n: usize| -> Result<&[u8]> { bytes.get(..n).ok_or_else(bad) };
    let int = |n: usize| -> Result<i64> {
        let b = array(n)?;
        Ok(b.iter()
            .fold(if b[0] & 0x80 != 0 { -1i64 } else { 0 }, |acc, &x| {
                (acc << 8) | i64::from(x)
            }))
    };
    let text = || String::from_utf8(bytes.to_vec()).map_err(|_| bad());
    Ok(match *ty {
        Type::BOOL => Value::Boolean(array(1)?[0] != 0),
        Type::INT2 => Value::Int(int(2)?),
        Type::INT4 => Value::Int(int(4)?),
        Type::INT8 => Value::Int(int(8)?),
        Type::FLOAT4 => Value::Float(f32::from_bits(int(4)? as u32).into()),
        Type::FLOAT8 => Value::Float(f64::from_bits(int(8)? as u64)),
        Type::BYTEA => Value::Bytes(bytes.to_vec()),
        Type::DATE => Value::Date(int(4)? as i32 + EPOCH_2000_DAYS),
        Type::TIME => Value::Time(int(8)?),
        Type::TIMESTAMP => Value::Timestamp(int(8)? + EPOCH_2000_MICROS),
        Type::TIMESTAMPTZ => Value::TimestampTz(int(8)? + EPOCH_2000_MICROS),
        Type::INTERVAL => {
            let micros = int(8)?;
            let rest = bytes.get(8..16).ok_or_else(bad)?;
            let days = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let months = i32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
            Value::Interval(Interval::new(months, days, micros))
        }
        Type::UUID => Value::Uuid(uuid::Uuid::from_slice(array(16)?).map_err(|_| bad())?),
        Type::JSONB => {
            Value::from(std::str::from_utf8(bytes.get(1..).ok_or_else(bad)?).map_err(|_| bad())?)
        }
        Type::NUMERIC => Value::from(numeric_text(bytes).ok_or_else(bad)?),
        _ => Value::from(text()?),
    })
}

/// The text of a binary NUMERIC (which the engine then parses exactly).
fn numeric_text(bytes: &[u8]) -> Option<String> {
    let word = |i: usize| -> Option<i16> {
        Some(i16::from_be_bytes([
            *bytes.get(2 * i)?,
            *bytes.get(2 * i + 1)?,
        ]))
    };
    let (count, weight, sign, scale) = (word(0)?, word(1)?, word(2)? as u16, word(3)?);
    if sign == 0xC000 {
        return Some("NaN".into());
    }
    let mut whole = String::new();
    let mut fraction = String::new();
    for i in 0..i64::from(count) {
        let digit = word(4 + i as usize)?;
        let position = i64::from(weight) - i;
        if position >= 0 {
            whole.push_str(&format!("{digit:04}"));
        } else {
            // Groups between the point and this one are zeros.
            while (fraction.len() as i64) < (-position - 1) * 4 {
                fraction.push_str("0000");
            }
            fraction.push_str(&format!("{digit:04}"));
        }
    }
    // Integer groups below the last given digit are zeros.
    let last = i64::from(weight) - i64::from(count) + 1;
    for _ in 0..last.max(0) {
        whole.push_str("0000");
    }
    let whole = whole.trim_start_matches('0');
    let scale = usize::try_from(scale).ok()?;
    let fraction = format!("{fraction:0<scale$}");
    let mut out = String::new();
    if sign == 0x4000 {
        out.push('-');
    }
    out.push_str(if whole.is_empty() { "0" } else { whole });
    if scale > 0 {
        out.push('.');
        out.push_str(&fraction[..scale]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) {
        let d: Decimal = text.parse().unwrap();
        let bytes = numeric(d);
        assert_eq!(numeric_text(&bytes).unwrap(), text, "{text}");
    }

    /// The catalog's type ids (`pg_type`, `atttypid`) are the ones the wire announces.
    #[test]
    fn type_ids_match_the_wire_types() {
        for ty in omendb_engine::types::SCALAR_TYPES {
            assert_eq!(wire_type(ty).oid(), ty.oid(), "{}", ty.name());
            let array = DataType::array_of(ty).unwrap();
            assert_eq!(wire_type(array).oid(), array.oid(), "{}", array.name());
        }
    }

    /// PostgreSQL's binary array: one dimension, lower bound 1, -1 for a NULL element.
    #[test]
    fn arrays_have_postgresql_binary_form() {
        let array = DataType::array_of(DataType::Integer).unwrap();
        let bytes = binary(&Value::Array(vec![Value::Int(7), Value::Null]), array);
        let words: Vec<i32> = bytes[..20]
            .chunks(4)
            .map(|c| i32::from_be_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(words, [1, 1, 23, 2, 1]);
        assert_eq!(&bytes[20..], [0, 0, 0, 4, 0, 0, 0, 7, 255, 255, 255, 255]);
        let empty = binary(&Value::Array(Vec::new()), array);
        assert_eq!(empty, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23]);
    }

    #[test]
    fn numerics_round_trip_through_the_binary_form() {
        for text in [
            "0",
            "1",
            "-1",
            "1.50",
            "12345.6789",
            "0.0001",
            "-0.00012",
            "10000",
            "99999999.99",
            "123456789012345678.000123",
        ] {
            round_trip(text);
        }
        // 12345.6 is 1 2345 . 6000: weight 1, first digit 1, scale 1.
        let bytes = numeric("12345.6".parse().unwrap());
        assert_eq!(&bytes[..8], &[0, 3, 0, 1, 0, 0, 0, 1]);
    }
}
