//! Operators on values: their result types (for the binder) and their evaluation — arithmetic
//! on integers, NUMERIC, floats, dates, times, timestamps and intervals, comparison, `||`
//! and the JSON operators.

use std::cmp::Ordering;

use rust_decimal::prelude::ToPrimitive;

use super::parser::ast::BinaryOp;
use crate::types::{
    DAY_MICROS, DataType, Decimal, Interval, Value, fits, json_contains, json_get, json_has_key,
    numeric_divide, out_of_range,
};
use crate::{Error, Result};

/// The result type of arithmetic on two numeric types (PostgreSQL's: the wider integer, then
/// NUMERIC, then double precision once a float is involved; REAL with REAL stays REAL).
pub fn numeric_result(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    let rank = |t: DataType| match t {
        SmallInt => Some(0),
        Integer => Some(1),
        BigInt => Some(2),
        Numeric(_) => Some(3),
        Real => Some(4),
        Double => Some(5),
        _ => None,
    };
    let (ra, rb) = (rank(a)?, rank(b)?);
    Some(match ra.max(rb) {
        0 => SmallInt,
        1 => Integer,
        2 => BigInt,
        3 => Numeric(None),
        4 if ra == 4 && rb == 4 => Real,
        _ => Double,
    })
}

/// The result type of `a op b` for an arithmetic operator, or `None` if there is no such
/// operator. Types are the operands' unconstrained types.
pub fn arithmetic_type(op: BinaryOp, a: DataType, b: DataType) -> Option<DataType> {
    use BinaryOp::{Add, Divide, Multiply, Subtract};
    use DataType::*;
    if let Some(t) = numeric_result(a, b) {
        return Some(t);
    }
    let timestamp = |t: DataType| matches!(t, Timestamp | TimestampTz);
    Some(match (op, a, b) {
        (Add, Date, i) | (Add, i, Date) | (Subtract, Date, i) if i.is_integer() => Date,
        (Subtract, Date, Date) => Integer,
        (Add, Date, Interval) | (Add, Interval, Date) | (Subtract, Date, Interval) => Timestamp,
        (Add, Date, Time) | (Add, Time, Date) => Timestamp,
        (Add, t, Interval) | (Subtract, t, Interval) if timestamp(t) => t,
        (Add, Interval, t) if timestamp(t) => t,
        (Subtract, t, u) if timestamp(t) && t == u => Interval,
        (Add, Time, Interval) | (Add, Interval, Time) | (Subtract, Time, Interval) => Time,
        (Subtract, Time, Time) => Interval,
        (Add | Subtract, Interval, Interval) => Interval,
        (Multiply, Interval, n) | (Multiply, n, Interval) | (Divide, Interval, n)
            if n.is_numeric() =>
        {
            Interval
        }
        _ => return None,
    })
}

/// The type an operand of unknown type (a quoted literal) takes opposite one of type `known`:
/// the same type when `known op known` exists (as PostgreSQL prefers), else the one operand
/// type that makes the operator exist (`timestamp + '1 day'` reads an interval).
pub fn unknown_operand_type(op: BinaryOp, known: DataType) -> DataType {
    if arithmetic_type(op, known, known).is_some() {
        return known;
    }
    match (op, known) {
        (BinaryOp::Multiply | BinaryOp::Divide, DataType::Interval) => DataType::Double,
        (_, DataType::Interval) => DataType::Timestamp,
        _ => DataType::Interval,
    }
}

/// The type two known operand types compare in, if they compare at all.
pub fn comparison_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    let (a, b) = (a.unconstrained(), b.unconstrained());
    if a == b {
        return Some(a);
    }
    if let Some(t) = numeric_result(a, b) {
        return Some(t);
    }
    Some(match (a, b) {
        (Date | Timestamp, Date | Timestamp) => Timestamp,
        (Date | Timestamp | TimestampTz, Date | Timestamp | TimestampTz) => TimestampTz,
        (Json | Jsonb, Json | Jsonb) => Jsonb,
        _ => return None,
    })
}

/// The result type of a JSON operator on a document of type `doc`.
pub fn json_operator_type(op: BinaryOp, doc: DataType) -> Option<DataType> {
    match (op, doc) {
        (BinaryOp::JsonGet, DataType::Json | DataType::Jsonb) => Some(doc),
        (BinaryOp::JsonGetText, DataType::Json | DataType::Jsonb) => Some(DataType::Text),
        (
            BinaryOp::JsonContains | BinaryOp::JsonContainedBy | BinaryOp::JsonHasKey,
            DataType::Jsonb,
        ) => Some(DataType::Boolean),
        _ => None,
    }
}

pub fn no_operator(op: BinaryOp, a: &str, b: &str) -> Error {
    Error::UndefinedFunction(format!("operator does not exist: {a} {} {b}", op.symbol()))
}

fn numeric_overflow() -> Error {
    Error::NumericOutOfRange("value overflows numeric format".into())
}

fn timestamp_range() -> Error {
    Error::DatetimeOutOfRange("timestamp out of range".into())
}

/// `-value`.
pub fn negate(value: Value) -> Result<Value> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Int(i) => i
            .checked_neg()
            .map(Value::Int)
            .ok_or_else(|| out_of_range(DataType::BigInt)),
        Value::Float(f) => Ok(Value::Float(-f)),
        Value::Numeric(d) => Ok(Value::Numeric(if d.is_zero() { d } else { -d })),
        Value::Interval(i) => Ok(Value::Interval(i.negate()?)),
        other => Err(Error::UndefinedFunction(format!(
            "operator does not exist: - {}",
            other.type_name()
        ))),
    }
}

/// `l op r` for a non-logical operator; `ty` is the type integer results must fit.
pub fn binary(op: BinaryOp, l: Value, r: Value, ty: DataType) -> Result<Value> {
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    if op.is_comparison() {
        let ordering = compare(&l, &r)?;
        return Ok(match ordering {
            None => Value::Null,
            Some(o) => Value::Boolean(match op {
                BinaryOp::Eq => o == Ordering::Equal,
                BinaryOp::NotEq => o != Ordering::Equal,
                BinaryOp::Lt => o == Ordering::Less,
                BinaryOp::LtEq => o != Ordering::Greater,
                BinaryOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }),
        });
    }
    if op.is_json() {
        return json(op, l, r);
    }
    if let BinaryOp::Regex {
        negated,
        case_insensitive,
    } = op
    {
        let found = regex_matches(&l.to_string(), &r.to_string(), case_insensitive)?;
        return Ok(Value::Boolean(found != negated));
    }
    match (op, l, r) {
        (BinaryOp::Concat, l, r) => Ok(Value::Text(smol_str::format_smolstr!("{l}{r}"))),
        (op, Value::Int(a), Value::Int(b)) => {
            let result = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Subtract => a.checked_sub(b),
                BinaryOp::Multiply => a.checked_mul(b),
                BinaryOp::Divide | BinaryOp::Modulo if b == 0 => {
                    return Err(Error::DivisionByZero);
                }
                BinaryOp::Divide => a.checked_div(b),
                BinaryOp::Modulo => Some(a.wrapping_rem(b)),
                _ => None,
            };
            match result {
                Some(v) if fits(v, ty) => Ok(Value::Int(v)),
                _ => Err(out_of_range(ty)),
            }
        }
        (op, l @ (Value::Int(_) | Value::Numeric(_)), r @ (Value::Int(_) | Value::Numeric(_))) => {
            decimal(op, as_decimal(&l), as_decimal(&r)).map(Value::Numeric)
        }
        (op, l @ (Value::Int(_) | Value::Float(_) | Value::Numeric(_)), r)
            if matches!(r, Value::Int(_) | Value::Float(_) | Value::Numeric(_)) =>
        {
            float(op, as_f64(&l), as_f64(&r))
        }
        (op, l, r) => temporal(op, &l, &r)
            .unwrap_or_else(|| Err(no_operator(op, l.type_name(), r.type_name()))),
    }
}

fn decimal(op: BinaryOp, a: Decimal, b: Decimal) -> Result<Decimal> {
    let result = match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Subtract => a.checked_sub(b),
        BinaryOp::Multiply => a.checked_mul(b),
        BinaryOp::Divide => return numeric_divide(a, b),
        BinaryOp::Modulo if b.is_zero() => return Err(Error::DivisionByZero),
        BinaryOp::Modulo => a.checked_rem(b),
        _ => return Err(no_operator(op, "numeric", "numeric")),
    };
    let mut d = result.ok_or_else(numeric_overflow)?;
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    Ok(d)
}

fn float(op: BinaryOp, a: f64, b: f64) -> Result<Value> {
    let v = match op {
        BinaryOp::Add => a + b,
        BinaryOp::Subtract => a - b,
        BinaryOp::Multiply => a * b,
        BinaryOp::Divide if b == 0.0 => return Err(Error::DivisionByZero),
        BinaryOp::Divide => a / b,
        _ => return Err(no_operator(op, "double precision", "double precision")),
    };
    if v.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(Error::NumericOutOfRange(
            "value out of range: overflow".into(),
        ));
    }
    Ok(Value::Float(v))
}

/// Date, time, timestamp and interval arithmetic; `None` if the operator does not exist.
fn temporal(op: BinaryOp, l: &Value, r: &Value) -> Option<Result<Value>> {
    use BinaryOp::{Add, Divide, Multiply, Subtract};
    use Value::{Date, Interval as Span, Time, Timestamp, TimestampTz};
    let day_range = || Error::DatetimeOutOfRange("date out of range".into());
    let midnight = |d: i32| i64::from(d) * DAY_MICROS;
    let shift = |t: i64, i: Interval, minus: bool| -> Result<i64> {
        let i = if minus { i.negate()? } else { i };
        i.add_to_timestamp(t)
    };
    let time_of_day = |t: i64| Time(t.rem_euclid(DAY_MICROS));
    Some(match (op, l, r) {
        (Add, Date(d), Value::Int(n)) | (Add, Value::Int(n), Date(d)) => i32::try_from(*n)
            .ok()
            .and_then(|n| d.checked_add(n))
            .map(Date)
            .ok_or_else(day_range),
        (Subtract, Date(d), Value::Int(n)) => i32::try_from(*n)
            .ok()
            .and_then(|n| d.checked_sub(n))
            .map(Date)
            .ok_or_else(day_range),
        (Subtract, Date(a), Date(b)) => Ok(Value::Int(i64::from(*a) - i64::from(*b))),
        (Add, Date(d), Span(i)) | (Add, Span(i), Date(d)) => {
            shift(midnight(*d), *i, false).map(Timestamp)
        }
        (Subtract, Date(d), Span(i)) => shift(midnight(*d), *i, true).map(Timestamp),
        (Add, Date(d), Time(t)) | (Add, Time(t), Date(d)) => midnight(*d)
            .checked_add(*t)
            .map(Timestamp)
            .ok_or_else(timestamp_range),
        (Add, Timestamp(t), Span(i)) | (Add, Span(i), Timestamp(t)) => {
            shift(*t, *i, false).map(Timestamp)
        }
        (Subtract, Timestamp(t), Span(i)) => shift(*t, *i, true).map(Timestamp),
        (Add, TimestampTz(t), Span(i)) | (Add, Span(i), TimestampTz(t)) => {
            shift(*t, *i, false).map(TimestampTz)
        }
        (Subtract, TimestampTz(t), Span(i)) => shift(*t, *i, true).map(TimestampTz),
        (Subtract, Timestamp(a), Timestamp(b)) | (Subtract, TimestampTz(a), TimestampTz(b)) => {
            Interval::between(*a, *b).map(Span)
        }
        (Add, Time(t), Span(i)) | (Add, Span(i), Time(t)) => Ok(time_of_day(t + i.micros)),
        (Subtract, Time(t), Span(i)) => Ok(time_of_day(t - i.micros)),
        (Subtract, Time(a), Time(b)) => Ok(Span(Interval::new(0, 0, a - b))),
        (Add, Span(a), Span(b)) => a.checked_add(*b).map(Span),
        (Subtract, Span(a), Span(b)) => a.checked_sub(*b).map(Span),
        (Multiply, Span(i), n) | (Multiply, n, Span(i)) if is_number(n) => {
            i.scale(as_f64(n)).map(Span)
        }
        (Divide, Span(_), n) if is_number(n) && as_f64(n) == 0.0 => Err(Error::DivisionByZero),
        (Divide, Span(i), n) if is_number(n) => i.scale(1.0 / as_f64(n)).map(Span),
        _ => return None,
    })
}

fn json(op: BinaryOp, l: Value, r: Value) -> Result<Value> {
    let (Value::Json(doc), key) = (&l, &r) else {
        return Err(no_operator(op, l.type_name(), r.type_name()));
    };
    match (op, key) {
        (BinaryOp::JsonGet | BinaryOp::JsonGetText, key) => {
            json_get(doc, key, op == BinaryOp::JsonGetText)
        }
        (BinaryOp::JsonContains, Value::Json(other)) => {
            json_contains(doc, other).map(Value::Boolean)
        }
        (BinaryOp::JsonContainedBy, Value::Json(other)) => {
            json_contains(other, doc).map(Value::Boolean)
        }
        (BinaryOp::JsonHasKey, Value::Text(key)) => json_has_key(doc, key).map(Value::Boolean),
        _ => Err(no_operator(op, l.type_name(), r.type_name())),
    }
}

fn is_number(value: &Value) -> bool {
    matches!(value, Value::Int(_) | Value::Float(_) | Value::Numeric(_))
}

pub fn as_f64(value: &Value) -> f64 {
    match value {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Numeric(d) => d.to_f64().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn as_decimal(value: &Value) -> Decimal {
    match value {
        Value::Int(i) => Decimal::from(*i),
        Value::Numeric(d) => *d,
        _ => Decimal::ZERO,
    }
}

/// SQL comparison of two values (`None` if either is NULL). Numbers compare by value across
/// integer, NUMERIC and float; NaN is equal to itself and above every number, as in
/// PostgreSQL. Dates compare with timestamps as their midnight.
pub fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>> {
    use Value::*;
    Ok(Some(match (a, b) {
        (Null, _) | (_, Null) => return Ok(None),
        (Int(x), Int(y)) => x.cmp(y),
        (Int(_) | Numeric(_), Int(_) | Numeric(_)) => as_decimal(a).cmp(&as_decimal(b)),
        (Int(_) | Float(_) | Numeric(_), Int(_) | Float(_) | Numeric(_)) => {
            let (x, y) = (as_f64(a), as_f64(b));
            match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            }
        }
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Json(x), Json(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Boolean(x), Boolean(y)) => x.cmp(y),
        (Bytes(x), Bytes(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (Timestamp(x) | TimestampTz(x), Timestamp(y) | TimestampTz(y)) => x.cmp(y),
        (Date(d), Timestamp(t) | TimestampTz(t)) => (i64::from(*d) * DAY_MICROS).cmp(t),
        (Timestamp(t) | TimestampTz(t), Date(d)) => t.cmp(&(i64::from(*d) * DAY_MICROS)),
        (Interval(x), Interval(y)) => x.comparable().cmp(&y.comparable()),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        // Arrays compare element by element (NULL elements equal each other and sort last),
        // then by length.
        (Array(x), Array(y)) => {
            for (a, b) in x.iter().zip(y) {
                let order = match (a.is_null(), b.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => compare(a, b)?.unwrap_or(Ordering::Equal),
                };
                if order != Ordering::Equal {
                    return Ok(Some(order));
                }
            }
            x.len().cmp(&y.len())
        }
        (x, y) => {
            return Err(no_operator(BinaryOp::Eq, x.type_name(), y.type_name()));
        }
    }))
}

/// Whether `pattern`, a regular expression, matches somewhere in `text` (`~`, `~*`).
/// Patterns are compiled once per thread and kept (a bounded number of them).
pub fn regex_matches(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const KEPT: usize = 64;
    thread_local! {
        static COMPILED: RefCell<HashMap<(String, bool), regex::Regex>> =
            RefCell::new(HashMap::new());
    }
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        let key = (pattern.to_string(), case_insensitive);
        if !compiled.contains_key(&key) {
            let regex = regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| Error::InvalidRegex(e.to_string()))?;
            if compiled.len() >= KEPT {
                compiled.clear();
            }
            compiled.insert(key.clone(), regex);
        }
        Ok(compiled[&key].is_match(text))
    })
}
