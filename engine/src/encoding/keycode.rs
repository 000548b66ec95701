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
//! | text, bytea  | 0x40 | bytes with 0x00 escaped as 0x00 0xFF, ended by 0x00 0x00        |
//! | NULL         | 0xFF | none: sorts after every value, as PostgreSQL's NULLS LAST      |
//!
//! Floats are normalised first: -0.0 becomes 0.0 and every NaN the one NaN that PostgreSQL sorts
//! above +infinity. A tuple is the concatenation of its values' encodings; the escaping keeps a
//! shorter string before its extensions.

use super::{take, take_array};
use crate::types::Value;
use crate::{Error, Result};

const TAG_BOOL: u8 = 0x10;
const TAG_INT: u8 = 0x20;
const TAG_FLOAT: u8 = 0x30;
const TAG_TEXT: u8 = 0x40;
const TAG_BYTES: u8 = 0x41;
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
    }
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
            Value::Text(String::from_utf8(bytes).map_err(|_| corrupt())?)
        }
        TAG_BYTES => Value::Bytes(decode_bytes(input).ok_or_else(corrupt)?),
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
