//! Byte encodings: memcomparable keys (byte order = value order) and the compact row format.

mod keycode;
mod row;
#[cfg(test)]
mod tests;

pub use self::keycode::{decode_value, encode_value, encode_values, prefix_end};
pub use self::row::{decode_row, encode_row, encode_row_into};

/// Appends `n` as a LEB128 varint.
fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a LEB128 varint from the front of `input`, advancing it.
fn take_varint(input: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Splits `n` bytes off the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if input.len() < n {
        return None;
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Some(head)
}

/// Splits a fixed-size array off the front of `input`.
fn take_array<const N: usize>(input: &mut &[u8]) -> Option<[u8; N]> {
    take(input, N).and_then(|bytes| bytes.try_into().ok())
}
