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
