//! JSON and JSONB, stored as text. JSON keeps its input as written (validated); JSONB is
//! normalised as PostgreSQL prints it: object keys sorted (shorter first, then bytewise), the
//! last of duplicate keys kept, `", "` and `": "` between items.

use serde_json::Value as Document;

use super::Value;
use crate::{Error, Result};

fn parse(text: &str, ty: &str) -> Result<Document> {
    serde_json::from_str(text)
        .map_err(|e| Error::InvalidText(format!("invalid input syntax for type {ty}: {e}")))
}

/// JSON input: the text itself, once it is known to be JSON.
pub fn json_validate(text: &str) -> Result<()> {
    parse(text, "json").map(|_| ())
}

/// JSONB input: the normalised text.
pub fn json_normalize(text: &str) -> Result<String> {
    Ok(render(&parse(text, "json")?))
}

/// The text PostgreSQL's `jsonb_out` would give.
fn render(document: &Document) -> String {
    let mut out = String::new();
    write(document, &mut out);
    out
}

fn write(document: &Document, out: &mut String) {
    match document {
        Document::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Document::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Document::String(key.clone()).to_string());
                out.push_str(": ");
                write(value, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `doc -> key` (`as_text`: `doc ->> key`): an object's field by name or an array's element by
/// position (negative counts from the end). NULL when there is no such field.
pub fn json_get(text: &str, key: &Value, as_text: bool) -> Result<Value> {
    let document = parse(text, "json")?;
    let found = match (&document, key) {
        (Document::Object(map), Value::Text(name)) => map.get(name.as_str()),
        (Document::Array(items), Value::Int(i)) => {
            let index = if *i < 0 {
                i64::try_from(items.len())
                    .ok()
                    .and_then(|n| usize::try_from(n + i).ok())
            } else {
                usize::try_from(*i).ok()
            };
            index.and_then(|i| items.get(i))
        }
        _ => None,
    };
    Ok(match found {
        None => Value::Null,
        Some(Document::Null) if as_text => Value::Null,
        Some(Document::String(s)) if as_text => Value::Text(s.into()),
        Some(found) if as_text => Value::Text(render(found).into()),
        Some(found) => Value::Json(render(found)),
    })
}

/// `json_typeof`: `object`, `array`, `string`, `number`, `boolean` or `null`.
pub fn json_typeof(text: &str) -> Result<&'static str> {
    Ok(match parse(text, "json")? {
        Document::Object(_) => "object",
        Document::Array(_) => "array",
        Document::String(_) => "string",
        Document::Number(_) => "number",
        Document::Bool(_) => "boolean",
        Document::Null => "null",
    })
}

/// `a @> b`: whether `a` contains `b` (PostgreSQL's jsonb containment: objects contain objects
/// with a subset of their pairs, arrays contain arrays whose elements they all contain).
pub fn json_contains(a: &str, b: &str) -> Result<bool> {
    Ok(contains(&parse(a, "jsonb")?, &parse(b, "jsonb")?))
}

fn contains(a: &Document, b: &Document) -> bool {
    match (a, b) {
        (Document::Object(a), Document::Object(b)) => b
            .iter()
            .all(|(key, value)| a.get(key).is_some_and(|mine| contains(mine, value))),
        (Document::Array(a), Document::Array(b)) => b
            .iter()
            .all(|wanted| a.iter().any(|item| contains(item, wanted))),
        // A top-level array contains a scalar it has as an element.
        (Document::Array(a), scalar) if !scalar.is_object() => a.contains(scalar),
        (a, b) => numbers_equal(a, b).unwrap_or(a == b),
    }
}

/// Numbers compare by value (`1.0` contains `1`).
fn numbers_equal(a: &Document, b: &Document) -> Option<bool> {
    let (a, b) = (a.as_number()?, b.as_number()?);
    let parse = |n: &serde_json::Number| super::parse_numeric(&n.to_string()).ok();
    Some(parse(a)? == parse(b)?)
}

/// `doc ? key`: whether an object has the key (or an array the string element).
pub fn json_has_key(text: &str, key: &str) -> Result<bool> {
    Ok(match parse(text, "jsonb")? {
        Document::Object(map) => map.contains_key(key),
        Document::Array(items) => items.iter().any(|i| i.as_str() == Some(key)),
        Document::String(s) => s == key,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_output_is_normalised_like_postgres() {
        assert_eq!(
            json_normalize(r#"{"bb":1,"a":[1, 2.50,{"z":null}],"bb":true}"#).unwrap(),
            r#"{"a": [1, 2.50, {"z": null}], "bb": true}"#
        );
        assert_eq!(json_normalize(" \"x\" ").unwrap(), r#""x""#);
        assert_eq!(json_validate("{").unwrap_err().sqlstate(), "22P02");
    }

    #[test]
    fn field_access_and_containment() {
        let doc = r#"{"a": {"b": [10, "x", null]}, "n": 1}"#;
        assert_eq!(
            json_get(doc, &Value::from("a"), false).unwrap(),
            Value::Json(r#"{"b": [10, "x", null]}"#.into())
        );
        let list = r#"[10, "x", null]"#;
        assert_eq!(
            json_get(list, &Value::Int(1), true).unwrap(),
            Value::from("x")
        );
        assert_eq!(
            json_get(list, &Value::Int(-3), true).unwrap(),
            Value::from("10")
        );
        assert_eq!(json_get(list, &Value::Int(2), true).unwrap(), Value::Null);
        assert_eq!(
            json_get(doc, &Value::from("zz"), false).unwrap(),
            Value::Null
        );
        assert!(json_contains(doc, r#"{"a": {"b": [null]}}"#).unwrap());
        assert!(!json_contains(doc, r#"{"n": 2}"#).unwrap());
        assert!(json_contains(doc, r#"{"n": 1.0}"#).unwrap());
        assert!(json_has_key(doc, "n").unwrap());
        assert_eq!(json_typeof(list).unwrap(), "array");
    }
}
