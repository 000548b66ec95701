//! Memcomparable encoding of values: comparing encodings as byte strings gives the values' order,
//! so storage keys and index keys sort like the SQL values they hold.
//!
//! Each value is a tag byte followed by its payload:
//!
//! | value        | tag  | payload                                                        |
//! |--------------|------|----------------------------------------------------------------|
//! | `false/true` | 0x10 | one byte, 0 or 1                                               |
//! | integer      | 0x20 | 8 bytes big-endian with the sign bit flipped                   |
//! | float        | 0x30 | IEEE bits, all flipped when negative, else the sign flipped    |
//! | numeric < 0  | 0x24 | the encoding of its absolute value as for > 0, every bit flipped |
//! | numeric 0    | 0x25 | none                                                           |
//! | numeric > 0  | 0x26 | exponent byte (+128), then digits as 1..=10, ended by 0x00     |
//! | text, bytea  | 0x40 | bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00        |
//! | json         | 0x42 | as text                                                        |
//! | date         | 0x50 | 4 bytes big-endian (days since 1970), sign flipped             |
//! | time, timestamp(tz) | 0x51–0x53 | 8 bytes big-endian microseconds, sign flipped    |
//! | interval     | 0x54 | 16 bytes of its comparable span, then months and days          |
//! | uuid         | 0x58 | its 16 bytes                                                   |
//! | NULL         | 0xFF | none: sorts after every value, as PostgreSQL's NULLS LAST      |
//!
//! Floats are normalised first: -0.0 becomes 0.0 and every NaN the one NaN that PostgreSQL sorts
//! above +infinity. NUMERIC is normalised too (`1.50` = `1.5`, as PostgreSQL compares them): a
//! value `0.d1d2… × 10^e` is written as `e` and its digits without trailing zeros, so a key
//! decodes to the normalised value. A tuple is the concatenation of its values' encodings; the
//! escaping keeps a shorter string before its extensions.

use super::{take, take_array};
use crate::types::{Decimal, Interval, Value};
use crate::{Error, Result};

const TAG_BOOL: u8 = 0x10;
const TAG_INT: u8 = 0x20;
const TAG_FLOAT: u8 = 0x30;
const TAG_NUMERIC_NEGATIVE: u8 = 0x24;
const TAG_NUMERIC_ZERO: u8 = 0x25;
const TAG_NUMERIC_POSITIVE: u8 = 0x26;
const TAG_TEXT: u8 = 0x40;
const TAG_BYTES: u8 = 0x41;
const TAG_JSON: u8 = 0x42;
const TAG_DATE: u8 = 0x50;
const TAG_TIME: u8 = 0x51;
const TAG_TIMESTAMP: u8 = 0x52;
const TAG_TIMESTAMPTZ: u8 = 0x53;
const TAG_INTERVAL: u8 = 0x54;
const TAG_UUID: u8 = 0x58;
/// An array: its elements' encodings, then [`ARRAY_END`] (below every tag, so a prefix of
/// an array sorts before it).
const TAG_ARRAY: u8 = 0x60;
const ARRAY_END: u8 = 0x00;
const TAG_NULL: u8 = 0xFF;

/// Appends the memcomparable encoding of `value` to `out`.
pub fn encode_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Boolean(b) => out.extend([TAG_BOOL, u8::from(*b)]),
        Value::Int(i) => {
            out.push(TAG_INT);
            out.extend(((*i as u64) ^ (1 << 63)).to_be_bytes());
        }
        Value::Float(f) => {
            out.push(TAG_FLOAT);
            out.extend(float_bits(*f).to_be_bytes());
        }
        Value::Text(s) => encode_bytes(out, TAG_TEXT, s.as_bytes()),
        Value::Bytes(b) => encode_bytes(out, TAG_BYTES, b),
        Value::Json(s) => encode_bytes(out, TAG_JSON, s.as_bytes()),
        Value::Numeric(d) => encode_numeric(out, *d),
        Value::Date(d) => {
            out.push(TAG_DATE);
            out.extend(((*d as u32) ^ (1 << 31)).to_be_bytes());
        }
        Value::Time(t) => encode_i64(out, TAG_TIME, *t),
        Value::Timestamp(t) => encode_i64(out, TAG_TIMESTAMP, *t),
        Value::TimestampTz(t) => encode_i64(out, TAG_TIMESTAMPTZ, *t),
        Value::Interval(i) => {
            out.push(TAG_INTERVAL);
            out.extend(((i.comparable() as u128) ^ (1 << 127)).to_be_bytes());
            out.extend(((i.months as u32) ^ (1 << 31)).to_be_bytes());
            out.extend(((i.days as u32) ^ (1 << 31)).to_be_bytes());
        }
        Value::Uuid(u) => {
            out.push(TAG_UUID);
            out.extend(u.as_bytes());
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            items.iter().for_each(|item| encode_value(out, item));
            out.push(ARRAY_END);
        }
    }
}

fn encode_i64(out: &mut Vec<u8>, tag: u8, v: i64) {
    out.push(tag);
    out.extend(((v as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_numeric(out: &mut Vec<u8>, d: Decimal) {
    let d = d.normalize();
    let mantissa = d.mantissa().unsigned_abs();
    if mantissa == 0 {
        out.push(TAG_NUMERIC_ZERO);
        return;
    }
    let digits = mantissa.to_string();
    let exponent = digits.len() as i64 - i64::from(d.scale());
    let start = out.len();
    out.push(TAG_NUMERIC_POSITIVE);
    out.push((exponent + 128) as u8);
    out.extend(digits.bytes().map(|b| b - b'0' + 1));
    out.push(0);
    if d.is_sign_negative() {
        out[start] = TAG_NUMERIC_NEGATIVE;
        out[start + 1..].iter_mut().for_each(|b| *b = !*b);
    }
}

fn decode_numeric(input: &mut &[u8], negative: bool) -> Option<Decimal> {
    let flip = |b: u8| if negative { !b } else { b };
    let [exponent] = take_array::<1>(input)?;
    let exponent = i64::from(flip(exponent)) - 128;
    let mut mantissa: i128 = 0;
    let mut count = 0i64;
    loop {
        let [b] = take_array::<1>(input)?;
        match flip(b) {
            0 => break,
            digit @ 1..=10 => {
                mantissa = mantissa
                    .checked_mul(10)?
                    .checked_add(i128::from(digit - 1))?;
                count += 1;
            }
            _ => return None,
        }
    }
    let scale = count - exponent;
    if scale < 0 {
        mantissa = mantissa.checked_mul(10i128.checked_pow(u32::try_from(-scale).ok()?)?)?;
    }
    let mut d =
        Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale.max(0)).ok()?).ok()?;
    d.set_sign_negative(negative);
    Some(d)
}

/// The memcomparable encoding of a tuple of values.
pub fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 9);
    for value in values {
        encode_value(&mut out, value);
    }
    out
}

fn float_bits(f: f64) -> u64 {
    let f = if f.is_nan() {
        f64::NAN
    } else if f == 0.0 {
        0.0
    } else {
        f
    };
    let bits = f.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits ^ (1 << 63)
    }
}

fn encode_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.reserve(bytes.len() + 3);
    out.push(tag);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend([0, 0]);
}

/// Decodes one value from the front of `input`, advancing it past the value.
pub fn decode_value(input: &mut &[u8]) -> Result<Value> {
    let corrupt = || Error::Corrupt("truncated or malformed key".into());
    let (&tag, rest) = input.split_first().ok_or_else(corrupt)?;
    *input = rest;
    Ok(match tag {
        TAG_NULL => Value::Null,
        TAG_BOOL => Value::Boolean(take(input, 1).ok_or_else(corrupt)?[0] != 0),
        TAG_INT => {
            let bits = u64::from_be_bytes(take_array(input).ok_or_else(corrupt)?);
            Value::Int((bits ^ (1 << 63)) as i64)
        }
        TAG_FLOAT => {
            let bits = u64::from_be_bytes(take_array(input).ok_or_else(corrupt)?);
            let bits = if bits >> 63 == 1 {
                bits ^ (1 << 63)
            } else {
                !bits
            };
            Value::Float(f64::from_bits(bits))
        }
        TAG_TEXT => {
            let bytes = decode_bytes(input).ok_or_else(corrupt)?;
            Value::Text(String::from_utf8(bytes).map_err(|_| corrupt())?.into())
        }
        TAG_BYTES => Value::Bytes(decode_bytes(input).ok_or_else(corrupt)?),
        TAG_JSON => {
            let bytes = decode_bytes(input).ok_or_else(corrupt)?;
            Value::Json(String::from_utf8(bytes).map_err(|_| corrupt())?)
        }
        TAG_NUMERIC_ZERO => Value::Numeric(Decimal::ZERO),
        TAG_NUMERIC_NEGATIVE | TAG_NUMERIC_POSITIVE => {
            Value::Numeric(decode_numeric(input, tag == TAG_NUMERIC_NEGATIVE).ok_or_else(corrupt)?)
        }
        TAG_DATE => {
            let bits = u32::from_be_bytes(take_array(input).ok_or_else(corrupt)?);
            Value::Date((bits ^ (1 << 31)) as i32)
        }
        TAG_TIME | TAG_TIMESTAMP | TAG_TIMESTAMPTZ => {
            let bits = u64::from_be_bytes(take_array(input).ok_or_else(corrupt)?);
            let v = (bits ^ (1 << 63)) as i64;
            match tag {
                TAG_TIME => Value::Time(v),
                TAG_TIMESTAMP => Value::Timestamp(v),
                _ => Value::TimestampTz(v),
            }
        }
        TAG_INTERVAL => {
            let span = u128::from_be_bytes(take_array(input).ok_or_else(corrupt)?);
            let span = (span ^ (1 << 127)) as i128;
            let months =
                (u32::from_be_bytes(take_array(input).ok_or_else(corrupt)?) ^ (1 << 31)) as i32;
            let days =
                (u32::from_be_bytes(take_array(input).ok_or_else(corrupt)?) ^ (1 << 31)) as i32;
            let whole = Interval::new(months, days, 0).comparable();
            let micros = i64::try_from(span - whole).map_err(|_| corrupt())?;
            Value::Interval(Interval::new(months, days, micros))
        }
        TAG_UUID => Value::Uuid(uuid::Uuid::from_bytes(
            take_array(input).ok_or_else(corrupt)?,
        )),
        TAG_ARRAY => {
            let mut items = Vec::new();
            while input.first().ok_or_else(corrupt)? != &ARRAY_END {
                items.push(decode_value(input)?);
            }
            *input = &input[1..];
            Value::Array(items)
        }
        _ => return Err(corrupt()),
    })
}

fn decode_bytes(input: &mut &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let [b] = take_array::<1>(input)?;
        if b != 0 {
            out.push(b);
            continue;
        }
        match take_array::<1>(input)? {
            [0xFF] => out.push(0),
            [0] => return Some(out),
            _ => return None,
        }
    }
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None` if
/// there is none (the prefix is all 0xFF).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=last].to_vec();
    end[last] += 1;
    Some(end)
}
