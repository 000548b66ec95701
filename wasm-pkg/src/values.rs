//! Engine values and errors as JavaScript values, and JavaScript parameters as engine values.
//!
//! Results: `null`, booleans, numbers for SMALLINT, INTEGER, REAL and DOUBLE PRECISION, `BigInt`
//! for BIGINT (64 bits do not fit a number), strings for NUMERIC (exact), text, JSON, TIME,
//! INTERVAL and UUID, `Date` for DATE (midnight UTC), TIMESTAMP (read as UTC) and TIMESTAMPTZ,
//! `Uint8Array` for BYTEA, and arrays of those for arrays.

use js_sys::{Array, BigInt, Object, Reflect, Uint8Array};
use omendb_engine::sql::OutputColumn;
use omendb_engine::types::{DataType, Value};
use omendb_engine::{Error, QueryResult};
use wasm_bindgen::{JsCast, JsValue};

/// Sets a property on a plain object (never fails on objects made here).
pub fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &JsValue::from_str(key), &value.into());
}

/// One result: `{ columns: [{name, type}], rows: [[…]], command, rowCount }`.
pub fn result(result: &QueryResult) -> JsValue {
    result_with_columns(result, &columns(&result.columns))
}

/// [`result`] with the `columns` array already made (a prepared statement makes it once).
pub fn result_with_columns(result: &QueryResult, columns: &Array) -> JsValue {
    let object = Object::new();
    set(&object, "columns", columns);
    let rows = Array::new_with_length(result.rows.len() as u32);
    for (i, row) in result.rows.iter().enumerate() {
        let values = Array::new_with_length(row.len() as u32);
        for (j, v) in row.iter().enumerate() {
            let ty = result.columns.get(j).map(|c| c.data_type);
            values.set(j as u32, value(v, ty));
        }
        rows.set(i as u32, values.into());
    }
    set(&object, "rows", rows);
    set(&object, "command", &*result.tag);
    let count = result
        .tag
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse::<f64>().ok());
    set(
        &object,
        "rowCount",
        count.map_or(JsValue::NULL, JsValue::from),
    );
    object.into()
}

/// `[{name, type}]` for result columns, frozen (results of a prepared statement share it).
pub fn columns(columns: &[OutputColumn]) -> Array {
    let array: Array = columns
        .iter()
        .map(|c| {
            let column = Object::new();
            set(&column, "name", c.name.as_str());
            set(&column, "type", c.data_type.to_string());
            Object::freeze(&column);
            JsValue::from(column)
        })
        .collect();
    Object::freeze(&array);
    array
}

const MICROS_PER_MS: f64 = 1000.0;
const MS_PER_DAY: f64 = 86_400_000.0;

/// A value of a column of type `ty` (when known) as JavaScript.
pub fn value(value: &Value, ty: Option<DataType>) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Boolean(b) => JsValue::from(*b),
        Value::Int(i) if matches!(ty, Some(DataType::BigInt) | None) => BigInt::from(*i).into(),
        Value::Int(i) => JsValue::from(*i as f64),
        Value::Float(f) => JsValue::from(*f),
        Value::Bytes(b) => Uint8Array::from(b.as_slice()).into(),
        Value::Date(days) => date(f64::from(*days) * MS_PER_DAY),
        Value::Timestamp(us) | Value::TimestampTz(us) => date(*us as f64 / MICROS_PER_MS),
        Value::Array(items) => {
            let element = match ty {
                Some(DataType::Array(element)) => Some(*element),
                _ => None,
            };
            items
                .iter()
                .map(|v| self::value(v, element))
                .collect::<Array>()
                .into()
        }
        Value::Text(s) => JsValue::from_str(s),
        Value::Json(s) => JsValue::from_str(s),
        other => JsValue::from_str(&other.to_string()),
    }
}

fn date(ms: f64) -> JsValue {
    js_sys::Date::new(&JsValue::from(ms)).into()
}

/// A JavaScript parameter as an engine value, converted to the parameter's type by the statement
/// as a cast would: whole numbers and BigInts are integers, other numbers floats, strings text,
/// `Date`s their ISO text, `Uint8Array`s bytes, `null`/`undefined` NULL, anything else its JSON.
pub fn parameter(js: &JsValue) -> Result<Value, Error> {
    // The common kinds first: each test is a call into JavaScript.
    if let Some(f) = js.as_f64() {
        return Ok(if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            Value::Int(f as i64)
        } else {
            Value::Float(f)
        });
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::from(s));
    }
    if js.is_null() || js.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Boolean(b));
    }
    if js.is_bigint() {
        let text = String::from(BigInt::from(js.clone()).to_string(10).unwrap_or_default());
        return text
            .parse()
            .map(Value::Int)
            .map_err(|_| Error::NumericOutOfRange(format!("bigint {text} is out of range")));
    }
    if let Some(d) = js.dyn_ref::<js_sys::Date>() {
        return Ok(Value::from(String::from(d.to_iso_string())));
    }
    if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    js_sys::JSON::stringify(js)
        .ok()
        .and_then(|s| s.as_string())
        .map(Value::from)
        .ok_or_else(|| Error::InvalidParameterValue("a parameter cannot be converted".into()))
}

/// An engine error as a JavaScript `Error` named `OmenDbError` with `sqlstate`, `position`
/// (1-based, when the statement text locates it) and `detail`.
pub fn error(e: &Error) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    error.set_name("OmenDbError");
    set(&error, "sqlstate", e.sqlstate());
    if let Some(position) = e.position() {
        set(&error, "position", position as f64);
    }
    if let Some(detail) = e.detail() {
        set(&error, "detail", detail);
    }
    error.into()
}

/// A JSON document (from [`omendb_engine::json`]) as a JavaScript value.
pub fn document(doc: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&doc.to_string()).unwrap_or(JsValue::NULL)
}
