//! Syntax highlighting for the editor: sqlparser's PostgreSQL tokenizer classifies the text,
//! which comes back as HTML spans; the character an error points at is marked.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Whitespace};

/// HTML-escapes `text` onto `out`.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn class(token: &Token) -> Option<&'static str> {
    Some(match token {
        Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::NoKeyword => "kw",
        Token::Word(w) if w.quote_style.is_some() => "ident",
        Token::Number(..) => "num",
        Token::SingleQuotedString(_)
        | Token::EscapedStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_) => "str",
        Token::Whitespace(Whitespace::SingleLineComment { .. })
        | Token::Whitespace(Whitespace::MultiLineComment(_)) => "comment",
        Token::Placeholder(_) => "param",
        _ => return None,
    })
}

/// Byte ranges and classes of the tokens of `sql`; `None` when it does not tokenize.
fn tokens(sql: &str) -> Option<Vec<(Option<&'static str>, usize, usize)>> {
    let tokens = omendb_engine::sql::tokens_with_offsets(sql)?;
    Some(
        tokens
            .iter()
            .filter(|(token, _)| *token != Token::EOF)
            .map(|(token, range)| (class(token), range.start, range.end))
            .collect(),
    )
}

/// The editor's text as highlighted HTML; `error_at` (a 0-based character index) marks the
/// token there, or the end of the text.
pub fn highlight(sql: &str, error_at: Option<usize>) -> String {
    let error_byte = error_at.map(|c| sql.char_indices().nth(c).map_or(sql.len(), |(i, _)| i));
    let mut html = String::with_capacity(sql.len() * 2);
    let pieces = tokens(sql).unwrap_or_else(|| vec![(None, 0, sql.len())]);
    let mut marked = false;
    let mut cursor = 0;
    // Whatever the tokens do not cover (nothing, in practice) is kept as plain text.
    let rest = (None, sql.len(), sql.len());
    for (class, start, end) in pieces.into_iter().chain(std::iter::once(rest)) {
        if start > cursor {
            escape_into(&mut html, &sql[cursor..start]);
        }
        cursor = cursor.max(end);
        let text = &sql[start..end];
        let mark = !marked && error_byte.is_some_and(|b| b >= start && b < end);
        if mark {
            html.push_str("<mark class=\"error-at\">");
            marked = true;
        }
        match class {
            Some(class) => {
                html.push_str("<span class=\"");
                html.push_str(class);
                html.push_str("\">");
                escape_into(&mut html, text);
                html.push_str("</span>");
            }
            None => escape_into(&mut html, text),
        }
        if mark {
            html.push_str("</mark>");
        }
    }
    if !marked && error_byte.is_some() {
        html.push_str("<mark class=\"error-at\"> </mark>");
    }
    // A trailing newline needs a character after it to take up a line in a <pre>.
    html.push('\n');
    html
}

#[cfg(test)]
mod tests {
    use super::highlight;

    #[test]
    fn keywords_strings_numbers_and_comments_get_classes() {
        assert_eq!(
            highlight("SELECT 'a<b', 42 -- hi", None),
            "<span class=\"kw\">SELECT</span> <span class=\"str\">'a&lt;b'</span>, \
             <span class=\"num\">42</span> <span class=\"comment\">-- hi</span>\n"
        );
    }

    #[test]
    fn the_error_position_is_marked_and_text_is_kept_when_it_does_not_tokenize() {
        assert_eq!(
            highlight("SELECT * FRM t", Some(9)),
            "<span class=\"kw\">SELECT</span> * <mark class=\"error-at\">FRM</mark> t\n"
        );
        assert_eq!(
            highlight("SELECT 'open", Some(12)),
            "SELECT 'open<mark class=\"error-at\"> </mark>\n"
        );
    }
}
