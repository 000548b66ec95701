//! Conversions between types (`CAST`, `::`, and the implicit ones the binder inserts), with
//! PostgreSQL's errors: 22P02/22007 for bad input, 22003/22008 for values out of range, 42846
//! for conversions that do not exist.

use rust_decimal::prelude::ToPrimitive;

use super::datetime::{DAY_MICROS, date_of_timestamp};
use super::numeric::overflow;
use super::{
    DataType, Decimal, Interval, SmolStr, Value, json_validate, numeric_from_f64, parse_array,
    parse_date, parse_numeric, parse_time, parse_timestamp, parse_timestamptz,
};
use crate::{Error, Result};

pub fn out_of_range(ty: DataType) -> Error {
    Error::NumericOutOfRange(format!("{} out of range", ty.name()))
}

/// Whether `v` fits the integer type `ty`.
pub fn fits(v: i64, ty: DataType) -> bool {
    match ty {
        DataType::SmallInt => i16::try_from(v).is_ok(),
        DataType::Integer => i32::try_from(v).is_ok(),
        _ => true,
    }
}

/// Converts `value` to type `to` as an explicit cast does: modifiers apply (NUMERIC rounds,
/// VARCHAR/CHAR cut to their length), REAL narrows to single precision.
pub fn cast(value: Value, to: DataType) -> Result<Value> {
    if to.holds(&value) {
        Ok(value)
    } else {
        cast_converting(value, to)
    }
}

/// [`cast`] without its shortcut for values the type already holds.
pub(super) fn cast_converting(value: Value, to: DataType) -> Result<Value> {
    let invalid = |text: &str| {
        Error::InvalidText(format!(
            "invalid input syntax for type {}: \"{text}\"",
            to.name()
        ))
    };
    let value = match (value, to) {
        (Value::Null, _) => return Ok(Value::Null),
        (Value::Text(s), ty) if ty.is_text() => Value::Text(s),
        (v, ty) if ty.is_text() => Value::Text(v.to_string().into()),
        (Value::Text(s), ty) if ty.is_integer() => {
            let v: i64 = s.trim().parse().map_err(|_| invalid(&s))?;
            if !fits(v, ty) {
                return Err(out_of_range(ty));
            }
            Value::Int(v)
        }
        (Value::Text(s), DataType::Real | DataType::Double) => {
            let t = s.trim();
            let v = match t.to_ascii_lowercase().as_str() {
                "nan" => f64::NAN,
                "infinity" | "inf" | "+infinity" => f64::INFINITY,
                "-infinity" | "-inf" => f64::NEG_INFINITY,
                _ => t.parse().map_err(|_| invalid(&s))?,
            };
            Value::Float(v)
        }
        (Value::Text(s), DataType::Numeric(_)) => Value::Numeric(parse_numeric(&s)?),
        (Value::Text(s), DataType::Boolean) => match s.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Value::Boolean(true),
            "f" | "false" | "no" | "n" | "off" | "0" => Value::Boolean(false),
            _ => return Err(invalid(&s)),
        },
        (Value::Text(s), DataType::Bytea) => {
            Value::Bytes(parse_bytea(&s).ok_or_else(|| invalid(&s))?)
        }
        (Value::Text(s), DataType::Date) => Value::Date(parse_date(&s)?),
        (Value::Text(s), DataType::Time) => Value::Time(parse_time(&s)?),
        (Value::Text(s), DataType::Timestamp) => Value::Timestamp(parse_timestamp(&s)?),
        (Value::Text(s), DataType::TimestampTz) => Value::TimestampTz(parse_timestamptz(&s)?),
        (Value::Text(s), DataType::Interval) => Value::Interval(Interval::parse(&s)?),
        (Value::Text(s), DataType::Uuid) => {
            Value::Uuid(uuid::Uuid::try_parse(s.trim()).map_err(|_| invalid(&s))?)
        }
        (Value::Text(s), DataType::Json | DataType::Jsonb) => {
            json_validate(&s)?;
            Value::Json(s.into())
        }
        (Value::Json(s), DataType::Json | DataType::Jsonb) => {
            json_validate(&s)?;
            Value::Json(s)
        }
        (Value::Int(i), ty) if ty.is_integer() => {
            if !fits(i, ty) {
                return Err(out_of_range(ty));
            }
            Value::Int(i)
        }
        (Value::Int(i), DataType::Real | DataType::Double) => Value::Float(i as f64),
        (Value::Int(i), DataType::Numeric(_)) => Value::Numeric(Decimal::from(i)),
        (Value::Float(f), ty) if ty.is_integer() => {
            // PostgreSQL rounds with rint(): half to even.
            let r = f.round_ties_even();
            if !f.is_finite() || r < i64::MIN as f64 || r >= i64::MAX as f64 || !fits(r as i64, ty)
            {
                return Err(out_of_range(ty));
            }
            Value::Int(r as i64)
        }
        (Value::Float(f), DataType::Real | DataType::Double) => Value::Float(f),
        (Value::Float(f), DataType::Numeric(_)) => Value::Numeric(numeric_from_f64(f)?),
        (Value::Numeric(d), ty) if ty.is_integer() => {
            // NUMERIC to integer rounds half away from zero.
            let rounded =
                d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            match rounded.to_i64() {
                Some(v) if fits(v, ty) => Value::Int(v),
                _ => return Err(out_of_range(ty)),
            }
        }
        (Value::Numeric(d), DataType::Real | DataType::Double) => {
            Value::Float(d.to_f64().ok_or_else(overflow)?)
        }
        (Value::Numeric(d), DataType::Numeric(_)) => Value::Numeric(d),
        (Value::Int(i), DataType::Boolean) => Value::Boolean(i != 0),
        (Value::Boolean(b), DataType::Boolean) => Value::Boolean(b),
        (Value::Boolean(b), DataType::Integer) => Value::Int(i64::from(b)),
        (Value::Bytes(b), DataType::Bytea) => Value::Bytes(b),
        (Value::Date(d), DataType::Date) => Value::Date(d),
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(i64::from(d) * DAY_MICROS),
        (Value::Date(d), DataType::TimestampTz) => Value::TimestampTz(i64::from(d) * DAY_MICROS),
        (Value::Timestamp(t) | Value::TimestampTz(t), DataType::Date) => {
            Value::Date(date_of_timestamp(t)?)
        }
        (Value::Timestamp(t) | Value::TimestampTz(t), DataType::Time) => {
            Value::Time(t.rem_euclid(DAY_MICROS))
        }
        (Value::Timestamp(t) | Value::TimestampTz(t), DataType::Timestamp) => Value::Timestamp(t),
        (Value::Timestamp(t) | Value::TimestampTz(t), DataType::TimestampTz) => {
            Value::TimestampTz(t)
        }
        (Value::Time(t), DataType::Time) => Value::Time(t),
        (Value::Time(t), DataType::Interval) => Value::Interval(Interval::new(0, 0, t)),
        (Value::Interval(i), DataType::Interval) => Value::Interval(i),
        (Value::Interval(i), DataType::Time) => Value::Time(i.micros.rem_euclid(DAY_MICROS)),
        (Value::Uuid(u), DataType::Uuid) => Value::Uuid(u),
        (Value::Text(s), DataType::Array(element)) => Value::Array(parse_array(&s, *element)?),
        (Value::Text(s), DataType::Int2Vector) => Value::Array(
            s.split_whitespace()
                .map(|item| cast(Value::Text(item.into()), DataType::SmallInt))
                .collect::<Result<_>>()?,
        ),
        (Value::Array(items), ty @ (DataType::Array(_) | DataType::Int2Vector)) => {
            let element = ty.element().unwrap_or(DataType::Text);
            Value::Array(
                items
                    .into_iter()
                    .map(|item| cast(item, element))
                    .collect::<Result<_>>()?,
            )
        }
        (v, to) => {
            return Err(Error::CannotCast(format!(
                "cannot cast type {} to {}",
                v.type_name(),
                to.name()
            )));
        }
    };
    match (to, value) {
        // An explicit cast cuts strings to the type's length (assignment would refuse them).
        (DataType::Varchar(Some(n)) | DataType::Char(n), Value::Text(s)) => {
            let s = match s.char_indices().nth(n as usize) {
                Some((cut, _)) => SmolStr::new(&s[..cut]),
                None => s,
            };
            to.admit("?column?", Value::Text(s))
        }
        (to, value) => to.admit("?column?", value),
    }
}

/// PostgreSQL's hex bytea input (`\x0102…`), or the text's bytes.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    match s.strip_prefix("\\x") {
        Some(hex) if hex.len() % 2 == 0 => (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect(),
        Some(_) => None,
        None => Some(s.as_bytes().to_vec()),
    }
}
