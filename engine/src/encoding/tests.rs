use proptest::prelude::*;

use super::*;
use crate::types::{DataType, Value};

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Int),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY)
        ]
        .prop_map(Value::Float),
        ".{0,6}".prop_map(Value::from),
        proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFF), any::<u8>()], 0..6)
            .prop_map(Value::Bytes),
    ]
}

/// PostgreSQL's order for values of one kind: NULL last, NaN above every float, -0 = 0.
fn sql_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    Some(match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
        (Value::Int(a), Value::Int(b)) => a.cmp(b),
        (Value::Float(a), Value::Float(b)) => match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => a.partial_cmp(b)?,
        },
        (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
        _ => return None,
    })
}

proptest! {
    #[test]
    fn key_encoding_preserves_order(a in value(), b in value()) {
        if let Some(expected) = sql_cmp(&a, &b) {
            let (ea, eb) = (encode_values(std::slice::from_ref(&a)), encode_values(std::slice::from_ref(&b)));
            prop_assert_eq!(ea.cmp(&eb), expected, "{:?} vs {:?}", a, b);
        }
    }

    #[test]
    fn tuple_encoding_preserves_order(a in proptest::collection::vec(any::<i16>(), 0..3),
                                      b in proptest::collection::vec(any::<i16>(), 0..3)) {
        let tuple = |v: &[i16]| encode_values(&v.iter().map(|&i| Value::Int(i.into())).collect::<Vec<_>>());
        prop_assert_eq!(tuple(&a).cmp(&tuple(&b)), a.cmp(&b));
    }

    #[test]
    fn text_tuples_keep_lexicographic_order(a in proptest::collection::vec("[a\\x00b]{0,3}", 2),
                                            b in proptest::collection::vec("[a\\x00b]{0,3}", 2)) {
        let tuple = |v: &[String]| encode_values(&v.iter().cloned().map(Value::from).collect::<Vec<_>>());
        let expected = a.iter().map(String::as_bytes).cmp(b.iter().map(String::as_bytes));
        prop_assert_eq!(tuple(&a).cmp(&tuple(&b)), expected);
    }

    #[test]
    fn keys_round_trip(values in proptest::collection::vec(value(), 0..4)) {
        let encoded = encode_values(&values);
        let mut input = encoded.as_slice();
        for value in &values {
            let decoded = decode_value(&mut input).unwrap();
            match (value, &decoded) {
                (Value::Float(a), Value::Float(b)) if a.is_nan() => prop_assert!(b.is_nan()),
                (Value::Float(a), Value::Float(b)) if *a == 0.0 => prop_assert_eq!(*b, 0.0),
                _ => prop_assert_eq!(value, &decoded),
            }
        }
        prop_assert!(input.is_empty());
    }

    #[test]
    fn rows_round_trip(ints in proptest::collection::vec(any::<Option<i16>>(), 1..20),
                       text in proptest::option::of(".{0,40}"),
                       real in any::<f32>()) {
        let mut types = vec![DataType::SmallInt; ints.len()];
        let mut row: Vec<Value> = ints.iter().map(|i| i.map_or(Value::Null, |i| Value::Int(i.into()))).collect();
        types.extend([DataType::Text, DataType::Real, DataType::BigInt, DataType::Boolean, DataType::Bytea]);
        row.extend([
            text.map_or(Value::Null, Value::from),
            Value::Float(real.into()),
            Value::Int(i64::MIN),
            Value::Boolean(true),
            Value::Bytes(vec![0, 1, 2]),
        ]);
        let decoded = decode_row(&types, &[], &encode_row(&types, &row)).unwrap();
        if real.is_nan() {
            prop_assert!(matches!(decoded[ints.len() + 1], Value::Float(f) if f.is_nan()));
            row[ints.len() + 1] = decoded[ints.len() + 1].clone();
        }
        prop_assert_eq!(decoded, row);
    }
}

#[test]
fn rows_from_before_an_added_column_decode_with_null() {
    let old = encode_row(&[DataType::Integer], &[Value::Int(7)]);
    let row = decode_row(&[DataType::Integer, DataType::Text], &[], &old).unwrap();
    assert_eq!(row, vec![Value::Int(7), Value::Null]);
    let filled = [Value::Null, Value::Text("d".into())];
    let row = decode_row(&[DataType::Integer, DataType::Text], &filled, &old).unwrap();
    assert_eq!(row, vec![Value::Int(7), Value::Text("d".into())]);
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    assert!(decode_row(&[DataType::BigInt], &[], &[1, 0, 1, 2]).is_err());
    assert!(decode_row(&[DataType::Text], &[], &[1, 0, 200]).is_err());
    assert!(decode_value(&mut &[0x40, b'a', 0][..]).is_err());
    assert!(decode_value(&mut &[0x20, 1][..]).is_err());
    assert!(decode_value(&mut &[][..]).is_err());
}

#[test]
fn prefix_end_bounds_every_extension() {
    assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
    assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
    assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
}
