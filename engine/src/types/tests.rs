use super::*;

#[test]
fn floats_print_as_postgres_does() {
    let cases = [
        (0.1, "0.1"),
        (1e15, "1e+15"),
        (123456789012345.0, "123456789012345"),
        (1234567890123456.0, "1.234567890123456e+15"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-300, "-2.5e-300"),
        (-0.0, "-0"),
        (f64::NAN, "NaN"),
        (f64::NEG_INFINITY, "-Infinity"),
    ];
    for (x, want) in cases {
        assert_eq!(Value::Float(x).to_string(), want);
    }
}

#[test]
fn character_types_pad_cut_and_refuse() {
    let admit = |ty: DataType, s: &str| ty.admit("c", Value::from(s));
    assert_eq!(admit(DataType::Char(4), "ab").unwrap(), Value::from("ab  "));
    assert_eq!(
        admit(DataType::Varchar(Some(3)), "abc   ").unwrap(),
        Value::from("abc")
    );
    let e = admit(DataType::Varchar(Some(3)), "abcd").unwrap_err();
    assert_eq!(e.sqlstate(), "22001");
    assert_eq!(
        e.to_string(),
        "value too long for type character varying(3)"
    );
    // An explicit cast cuts instead.
    assert_eq!(
        cast(Value::from("abcd"), DataType::Varchar(Some(2))).unwrap(),
        Value::from("ab")
    );
}

#[test]
fn casts_between_the_new_types() {
    let ts = cast(Value::from("2024-05-06 07:08:09"), DataType::Timestamp).unwrap();
    assert_eq!(
        cast(ts.clone(), DataType::Date).unwrap().to_string(),
        "2024-05-06"
    );
    assert_eq!(cast(ts, DataType::Time).unwrap().to_string(), "07:08:09");
    let n = cast(Value::from("2.5"), DataType::Numeric(None)).unwrap();
    assert_eq!(cast(n.clone(), DataType::Integer).unwrap(), Value::Int(3));
    assert_eq!(cast(n, DataType::Double).unwrap(), Value::Float(2.5));
    assert_eq!(
        cast(Value::Float(0.1), DataType::Numeric(Some((5, 3))))
            .unwrap()
            .to_string(),
        "0.100"
    );
    let u = cast(
        Value::from("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
        DataType::Uuid,
    )
    .unwrap();
    assert_eq!(u.to_string(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(
        cast(Value::from("not-a-uuid"), DataType::Uuid)
            .unwrap_err()
            .sqlstate(),
        "22P02"
    );
    assert_eq!(
        cast(Value::from(r#"{"b":1, "a":2}"#), DataType::Jsonb)
            .unwrap()
            .to_string(),
        r#"{"a": 2, "b": 1}"#
    );
    assert_eq!(
        cast(Value::from(r#"{"b":1, "a":2}"#), DataType::Json)
            .unwrap()
            .to_string(),
        r#"{"b":1, "a":2}"#
    );
    assert_eq!(
        cast(Value::Date(0), DataType::Uuid).unwrap_err().sqlstate(),
        "42846"
    );
}

mod holds {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            prop_oneof![
                any::<i64>(),
                Just(i64::from(i16::MAX)),
                Just(i64::from(i16::MIN) - 1),
                Just(i64::from(i32::MAX) + 1),
                -3..3i64,
            ]
            .prop_map(Value::Int),
            (-1e300..1e300f64).prop_map(Value::Float),
            "[a é ]{0,6}".prop_map(|s| Value::Text(s.into())),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
            (-1000..1000i64).prop_map(|d| Value::Numeric(d.into())),
            any::<i32>().prop_map(Value::Date),
            (0..86_400_000_000i64).prop_map(Value::Time),
            any::<i32>().prop_map(|t| Value::Timestamp(t.into())),
            any::<i32>().prop_map(|t| Value::TimestampTz(t.into())),
            (any::<i16>(), any::<i16>(), any::<i32>()).prop_map(|(m, d, us)| Value::Interval(
                Interval::new(m.into(), d.into(), us.into())
            )),
            any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
            Just(Value::Json("{\"a\": 1}".into())),
        ]
    }

    /// Every scalar type, and the modified ones in a few sizes.
    fn data_types() -> Vec<DataType> {
        let mut types = SCALAR_TYPES.to_vec();
        for n in 0..4 {
            types.push(DataType::Varchar(Some(n)));
            types.push(DataType::Char(n + 1));
        }
        types.push(DataType::Numeric(Some((5, 2))));
        types
    }

    proptest! {
        /// The shortcut of admitting and casting is only taken where the full conversion
        /// would return the value unchanged.
        #[test]
        fn a_held_value_is_admitted_and_cast_unchanged(v in value()) {
            for ty in data_types() {
                if ty.holds(&v) {
                    let admitted = ty.admit_converting("c", v.clone()).ok();
                    prop_assert_eq!(admitted, Some(v.clone()), "admitting to {:?}", ty);
                    let cast = cast::cast_converting(v.clone(), ty).ok();
                    prop_assert_eq!(cast, Some(v.clone()), "casting to {:?}", ty);
                }
            }
        }
    }

    #[test]
    fn the_common_shapes_are_held() {
        assert!(DataType::BigInt.holds(&Value::Int(i64::MIN)));
        assert!(DataType::SmallInt.holds(&Value::Int(-32768)));
        assert!(!DataType::SmallInt.holds(&Value::Int(32768)));
        assert!(DataType::Varchar(Some(2)).holds(&Value::from("é")));
        assert!(!DataType::Varchar(Some(2)).holds(&Value::from("abc")));
        assert!(!DataType::Char(3).holds(&Value::from("ab")));
        assert!(DataType::Text.holds(&Value::Null));
    }
}
