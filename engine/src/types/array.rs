//! One-dimensional arrays in PostgreSQL's text form: `{1,2,NULL}`, `{"a b","c\"d"}`.

use super::{DataType, Value, cast};
use crate::{Error, Result};

/// PostgreSQL's `array_out`: elements in their text forms, double-quoted when empty, `NULL`
/// or holding a delimiter, brace, quote, backslash or white space.
pub fn format_array(items: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if item.is_null() {
            out.push_str("NULL");
            continue;
        }
        let text = item.to_string();
        let quote = text.is_empty()
            || text.eq_ignore_ascii_case("null")
            || text
                .chars()
                .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
        if quote {
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&text);
        }
    }
    out.push('}');
    out
}

/// The text form of an `int2vector`: the elements separated by spaces.
pub fn format_vector(items: &[Value]) -> String {
    items
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// PostgreSQL's `array_in` for one dimension: each element read as text and cast to
/// `element`; an unquoted `NULL` is NULL.
pub fn parse_array(text: &str, element: DataType) -> Result<Vec<Value>> {
    let malformed = |detail: &str| {
        Error::InvalidText(format!("malformed array literal: \"{text}\" ({detail})"))
    };
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| malformed("array value must start with \"{\" and end with \"}\""))?;
    let mut items = Vec::new();
    if inner.trim().is_empty() {
        return Ok(items);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut item = String::new();
        let mut quoted = false;
        let mut trailing = 0;
        while let Some(&c) = chars.peek() {
            match c {
                ',' => break,
                '{' | '}' => {
                    return Err(Error::NotSupported(format!(
                        "multidimensional arrays (in \"{text}\")"
                    )));
                }
                '"' => {
                    chars.next();
                    quoted = true;
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('\\') => {
                                item.push(chars.next().ok_or_else(|| malformed("unexpected end"))?)
                            }
                            Some(c) => item.push(c),
                            None => return Err(malformed("unterminated quoted element")),
                        }
                    }
                    trailing = 0;
                }
                '\\' => {
                    chars.next();
                    item.push(chars.next().ok_or_else(|| malformed("unexpected end"))?);
                    trailing = 0;
                }
                c => {
                    chars.next();
                    item.push(c);
                    trailing = if c.is_whitespace() { trailing + 1 } else { 0 };
                }
            }
        }
        item.truncate(item.len() - trailing);
        if !quoted && item.is_empty() {
            return Err(malformed("unexpected \",\" or end"));
        }
        items.push(if !quoted && item.eq_ignore_ascii_case("null") {
            Value::Null
        } else {
            cast(Value::Text(item.into()), element)?
        });
        match chars.next() {
            Some(',') => {}
            None => return Ok(items),
            Some(_) => return Err(malformed("junk after element")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_round_trip() {
        let items = vec![
            Value::Text("a".into()),
            Value::Text("".into()),
            Value::Null,
            Value::Text("NULL".into()),
            Value::Text("x \"y\" \\z".into()),
            Value::Text("{,}".into()),
        ];
        let text = format_array(&items);
        assert_eq!(text, r#"{a,"",NULL,"NULL","x \"y\" \\z","{,}"}"#);
        assert_eq!(parse_array(&text, DataType::Text).unwrap(), items);
        assert_eq!(
            parse_array(" { 1 , 2,NULL } ", DataType::Integer).unwrap(),
            vec![Value::Int(1), Value::Int(2), Value::Null]
        );
        assert_eq!(parse_array("{}", DataType::Integer).unwrap(), vec![]);
        assert_eq!(format_array(&[]), "{}");
    }

    #[test]
    fn malformed_literals_are_errors() {
        for bad in ["1,2", "{1,,2}", "{1,2", "{\"a}", "{1} x"] {
            let err = parse_array(bad, DataType::Integer).unwrap_err();
            assert_eq!(err.sqlstate(), "22P02", "{bad}");
        }
        assert_eq!(
            parse_array("{{1},{2}}", DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            "0A000"
        );
        assert_eq!(
            parse_array("{x}", DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            "22P02"
        );
    }
}
