//! COPY's data formats: PostgreSQL's text format (tab-separated, backslash escapes, `\N` for
//! NULL) and CSV (quoted fields, an unquoted empty field for NULL), read as a stream of
//! chunks that need not end on a line, and written one row at a time.
//!
//! The CSV reader is our own rather than the `csv` crate's because PostgreSQL's CSV tells a
//! NULL (an unquoted field equal to the NULL string) from an empty string (`""`), which needs
//! to know whether a field was quoted — something general CSV readers do not report.
//!
//! [`Session::start_copy`](crate::Session::start_copy) runs the statement; this module only
//! turns bytes into fields and values into bytes.

use crate::types::Value;
use crate::{Error, Result};

/// The options of a COPY statement that shape its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFormat {
    pub csv: bool,
    pub delimiter: u8,
    /// The field text that stands for NULL.
    pub null: String,
    /// CSV: the first line holds column names (skipped on input, written on output).
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

/// The options as a COPY statement gives them, before defaults and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// `FORMAT text | csv`.
    pub format: Option<String>,
    pub delimiter: Option<char>,
    pub null: Option<String>,
    pub header: Option<bool>,
    pub quote: Option<char>,
    pub escape: Option<char>,
}

impl CopyOptions {
    /// The format these options describe, with PostgreSQL's defaults and checks.
    pub fn format(&self) -> Result<CopyFormat> {
        let csv = match self
            .format
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("text") => false,
            Some("csv") => true,
            Some("binary") => {
                return Err(Error::NotSupported("COPY in the binary format".into()));
            }
            Some(other) => {
                return Err(Error::InvalidParameterValue(format!(
                    "COPY format \"{other}\" not recognized"
                )));
            }
        };
        let byte = |c: char, what: &str| -> Result<u8> {
            u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
                Error::NotSupported(format!("COPY {what} must be a single one-byte character"))
            })
        };
        let delimiter = byte(
            self.delimiter.unwrap_or(if csv { ',' } else { '\t' }),
            "delimiter",
        )?;
        if matches!(delimiter, b'\n' | b'\r') {
            return Err(Error::InvalidParameterValue(
                "COPY delimiter cannot be newline or carriage return".into(),
            ));
        }
        if !csv && delimiter == b'\\' {
            return Err(Error::InvalidParameterValue(
                "COPY delimiter cannot be backslash".into(),
            ));
        }
        if !csv && (self.quote.is_some() || self.escape.is_some()) {
            return Err(Error::NotSupported(
                "COPY QUOTE and ESCAPE are available only in CSV mode".into(),
            ));
        }
        if !csv && self.header == Some(true) {
            return Err(Error::NotSupported(
                "COPY HEADER is available only in CSV mode".into(),
            ));
        }
        let quote = byte(self.quote.unwrap_or('"'), "quote")?;
        let escape = byte(self.escape.unwrap_or(self.quote.unwrap_or('"')), "escape")?;
        if csv && delimiter == quote {
            return Err(Error::InvalidParameterValue(
                "COPY delimiter and quote must be different".into(),
            ));
        }
        let null = self
            .null
            .clone()
            .unwrap_or_else(|| if csv { String::new() } else { "\\N".into() });
        if null.contains(['\n', '\r']) {
            return Err(Error::InvalidParameterValue(
                "COPY null representation cannot use newline or carriage return".into(),
            ));
        }
        Ok(CopyFormat {
            csv,
            delimiter,
            null,
            header: self.header.unwrap_or(false),
            quote,
            escape,
        })
    }
}

/// Turns a stream of COPY data into records of fields (`None` for NULL), keeping an
/// incomplete last line until more data (or the end) arrives.
#[derive(Debug)]
pub struct RecordReader {
    format: CopyFormat,
    pending: Vec<u8>,
    /// The 1-based number of the line the next record starts on.
    line: u64,
    /// Still to skip the CSV header line.
    skip_header: bool,
    /// `\.` was seen: everything after it is ignored.
    ended: bool,
}

/// One record: its fields and the line it started on (for error messages).
pub type Record = (Vec<Option<String>>, u64);

impl RecordReader {
    pub fn new(format: CopyFormat) -> Self {
        Self {
            skip_header: format.csv && format.header,
            format,
            pending: Vec::new(),
            line: 1,
            ended: false,
        }
    }

    /// Adds `data` and calls `f` with every record it completes.
    pub fn feed(&mut self, data: &[u8], f: impl FnMut(Record) -> Result<()>) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        self.drain(false, f)
    }

    /// The end of the data: the last line counts even without a newline.
    pub fn finish(&mut self, f: impl FnMut(Record) -> Result<()>) -> Result<()> {
        self.drain(true, f)
    }

    fn drain(&mut self, eof: bool, mut f: impl FnMut(Record) -> Result<()>) -> Result<()> {
        let mut start = 0;
        let result = loop {
            if self.ended || start == self.pending.len() {
                break Ok(());
            }
            let parsed = if self.format.csv {
                self.csv_record(&self.pending[start..], eof)
            } else {
                self.text_record(&self.pending[start..], eof)
            };
            let (fields, consumed, lines) = match parsed {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break Ok(()),
                Err(e) => break Err(self.context(e)),
            };
            start += consumed;
            let line = self.line;
            self.line += lines;
            match fields {
                Fields::EndMarker => self.ended = true,
                Fields::Record(_) if self.skip_header => self.skip_header = false,
                Fields::Record(fields) => {
                    if let Err(e) = f((fields, line)) {
                        break Err(e);
                    }
                }
            }
        };
        self.pending.drain(..start);
        result
    }

    fn context(&self, error: Error) -> Error {
        Error::Copy {
            context: format!("line {}", self.line),
            error: Box::new(error),
        }
    }

    /// The text format's next line: `(fields, bytes consumed, lines consumed)`, or `None` if
    /// it is not complete yet.
    fn text_record(&self, data: &[u8], eof: bool) -> Result<Option<(Fields, usize, u64)>> {
        let (line, consumed) = match data.iter().position(|&b| b == b'\n') {
            Some(end) => (&data[..end], end + 1),
            None if eof => (data, data.len()),
            None => return Ok(None),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"\\." {
            return Ok(Some((Fields::EndMarker, consumed, 1)));
        }
        let mut fields = Vec::new();
        let mut raw_start = 0;
        let mut field = Vec::new();
        let mut i = 0;
        loop {
            let at_end = i == line.len();
            if at_end || line[i] == self.format.delimiter {
                let raw = &line[raw_start..i];
                fields.push(if raw == self.format.null.as_bytes() {
                    None
                } else {
                    Some(utf8(std::mem::take(&mut field))?)
                });
                field.clear();
                if at_end {
                    break;
                }
                i += 1;
                raw_start = i;
                continue;
            }
            if line[i] != b'\\' || i + 1 == line.len() {
                field.push(line[i]);
                i += 1;
                continue;
            }
            i += 1;
            let c = line[i];
            i += 1;
            match c {
                b'b' => field.push(8),
                b'f' => field.push(12),
                b'n' => field.push(b'\n'),
                b'r' => field.push(b'\r'),
                b't' => field.push(b'\t'),
                b'v' => field.push(11),
                b'0'..=b'7' => {
                    let mut value = u32::from(c - b'0');
                    for _ in 0..2 {
                        match line.get(i) {
                            Some(&d @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    field.push(value as u8);
                }
                b'x' if line.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                    let mut value = 0u8;
                    for _ in 0..2 {
                        match line.get(i).and_then(|d| (*d as char).to_digit(16)) {
                            Some(d) => {
                                value = value * 16 + d as u8;
                                i += 1;
                            }
                            None => break,
                        }
                    }
                    field.push(value);
                }
                other => field.push(other),
            }
        }
        Ok(Some((Fields::Record(fields), consumed, 1)))
    }

    /// The CSV format's next record (quoted fields may span lines).
    fn csv_record(&self, data: &[u8], eof: bool) -> Result<Option<(Fields, usize, u64)>> {
        let CopyFormat {
            delimiter,
            quote,
            escape,
            ..
        } = self.format;
        let mut fields = Vec::new();
        let mut field = Vec::new();
        let mut quoted = false;
        let mut in_quotes = false;
        let mut lines = 1;
        let mut i = 0;
        let end = loop {
            let Some(&b) = data.get(i) else {
                if !eof {
                    return Ok(None);
                }
                if in_quotes {
                    return Err(Error::BadCopyData("unterminated CSV quoted field".into()));
                }
                break i;
            };
            if in_quotes {
                // The escape character makes a following quote (or escape) data.
                if b == escape && data.get(i + 1).is_some_and(|&n| n == quote || n == escape) {
                    field.push(data[i + 1]);
                    i += 2;
                    continue;
                }
                if b == quote {
                    in_quotes = false;
                } else {
                    if b == b'\n' {
                        lines += 1;
                    }
                    field.push(b);
                }
                i += 1;
                continue;
            }
            match b {
                b'\n' => break i,
                b if b == quote => {
                    in_quotes = true;
                    quoted = true;
                }
                b if b == delimiter => {
                    fields.push(self.csv_field(std::mem::take(&mut field), quoted)?);
                    quoted = false;
                }
                b => field.push(b),
            }
            i += 1;
        };
        let consumed = (end + 1).min(data.len());
        if !quoted && field.last() == Some(&b'\r') {
            field.pop();
        }
        if fields.is_empty() && !quoted && field == b"\\." {
            return Ok(Some((Fields::EndMarker, consumed, lines)));
        }
        fields.push(self.csv_field(field, quoted)?);
        Ok(Some((Fields::Record(fields), consumed, lines)))
    }

    fn csv_field(&self, field: Vec<u8>, quoted: bool) -> Result<Option<String>> {
        if !quoted && field == self.format.null.as_bytes() {
            return Ok(None);
        }
        utf8(field).map(Some)
    }
}

enum Fields {
    Record(Vec<Option<String>>),
    /// The `\.` line.
    EndMarker,
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.as_bytes()[e.utf8_error().valid_up_to()];
        Error::InvalidEncoding(format!(
            "invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"
        ))
    })
}

/// Writes rows in a COPY format.
#[derive(Debug, Clone)]
pub struct RowWriter {
    format: CopyFormat,
}

impl RowWriter {
    pub fn new(format: CopyFormat) -> Self {
        Self { format }
    }

    /// The CSV header line (column names), if the format has one.
    pub fn header<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<Vec<u8>> {
        if !(self.format.csv && self.format.header) {
            return None;
        }
        let mut out = Vec::new();
        for (i, name) in names.into_iter().enumerate() {
            if i > 0 {
                out.push(self.format.delimiter);
            }
            self.csv_value(name, &mut out);
        }
        out.push(b'\n');
        Some(out)
    }

    /// One row, ending with a newline.
    pub fn row(&self, row: &[Value], out: &mut Vec<u8>) {
        for (i, value) in row.iter().enumerate() {
            if i > 0 {
                out.push(self.format.delimiter);
            }
            if value.is_null() {
                out.extend_from_slice(self.format.null.as_bytes());
                continue;
            }
            let text = value.to_string();
            if self.format.csv {
                self.csv_value(&text, out);
            } else {
                self.text_value(&text, out);
            }
        }
        out.push(b'\n');
    }

    fn text_value(&self, text: &str, out: &mut Vec<u8>) {
        for &b in text.as_bytes() {
            let escaped = match b {
                b'\\' => b'\\',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' if self.format.delimiter == b'\t' => b't',
                8 => b'b',
                12 => b'f',
                11 => b'v',
                b if b == self.format.delimiter => b,
                _ => {
                    out.push(b);
                    continue;
                }
            };
            out.extend_from_slice(&[b'\\', escaped]);
        }
    }

    /// A CSV value, quoted when it must be: it holds a delimiter, quote, or line break, is
    /// empty or equals the NULL string (so it is not read back as NULL), or is `\.`.
    fn csv_value(&self, text: &str, out: &mut Vec<u8>) {
        let CopyFormat {
            delimiter,
            quote,
            escape,
            ..
        } = self.format;
        let needs_quotes = text.is_empty()
            || text == self.format.null
            || text == "\\."
            || text
                .bytes()
                .any(|b| b == delimiter || b == quote || b == b'\n' || b == b'\r');
        if !needs_quotes {
            out.extend_from_slice(text.as_bytes());
            return;
        }
        out.push(quote);
        for b in text.bytes() {
            if b == quote || b == escape {
                out.push(escape);
            }
            out.push(b);
        }
        out.push(quote);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(csv: bool) -> CopyFormat {
        CopyOptions {
            format: Some(if csv { "csv" } else { "text" }.into()),
            ..CopyOptions::default()
        }
        .format()
        .unwrap()
    }

    /// Every record of `data` fed in chunks of `chunk` bytes.
    fn read(format: CopyFormat, data: &[u8], chunk: usize) -> Result<Vec<Vec<Option<String>>>> {
        let mut reader = RecordReader::new(format);
        let mut records = Vec::new();
        for piece in data.chunks(chunk.max(1)) {
            reader.feed(piece, |(r, _)| {
                records.push(r);
                Ok(())
            })?;
        }
        reader.finish(|(r, _)| {
            records.push(r);
            Ok(())
        })?;
        Ok(records)
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn text_format_escapes_nulls_and_end_marker() {
        let data = b"1\tab\\tc\t\\N\n2\t\\\\x\\101\\x41\t\r\n\\.\nignored\n";
        for chunk in [1, 2, 3, 7, 100] {
            let records = read(format(false), data, chunk).unwrap();
            assert_eq!(
                records,
                vec![
                    vec![s("1"), s("ab\tc"), None],
                    vec![s("2"), s("\\xAA"), s("")],
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn csv_format_quotes_and_nulls() {
        let mut f = format(true);
        f.header = true;
        let data = b"id,name\n1,\"a,b\"\n2,\n3,\"\"\n4,\"line\nbreak \"\"q\"\"\"\n5,x\r\n";
        for chunk in [1, 4, 100] {
            let records = read(f.clone(), data, chunk).unwrap();
            assert_eq!(
                records,
                vec![
                    vec![s("1"), s("a,b")],
                    vec![s("2"), None],
                    vec![s("3"), s("")],
                    vec![s("4"), s("line\nbreak \"q\"")],
                    vec![s("5"), s("x")],
                ],
                "chunk {chunk}"
            );
        }
        let err = read(format(true), b"1,\"open\n", 100).unwrap_err();
        assert_eq!(err.sqlstate(), "22P04");
    }

    #[test]
    fn written_rows_read_back() {
        let rows = vec![
            vec![Value::Int(1), Value::from("tab\there"), Value::Null],
            vec![Value::Int(2), Value::from(""), Value::from("a,\"b\"\nc\\d")],
            vec![Value::Int(3), Value::from("\\N"), Value::from("\\.")],
        ];
        for csv in [false, true] {
            let writer = RowWriter::new(format(csv));
            let mut out = Vec::new();
            for row in &rows {
                writer.row(row, &mut out);
            }
            let back = read(format(csv), &out, 5).unwrap();
            let expected: Vec<Vec<Option<String>>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| (!v.is_null()).then(|| v.to_string()))
                        .collect()
                })
                .collect();
            assert_eq!(back, expected, "csv: {csv}");
        }
    }

    #[test]
    fn options_are_checked() {
        let bad = |o: CopyOptions| o.format().unwrap_err().sqlstate();
        assert_eq!(
            bad(CopyOptions {
                format: Some("binary".into()),
                ..Default::default()
            }),
            "0A000"
        );
        assert_eq!(
            bad(CopyOptions {
                format: Some("xml".into()),
                ..Default::default()
            }),
            "22023"
        );
        assert_eq!(
            bad(CopyOptions {
                delimiter: Some('\n'),
                ..Default::default()
            }),
            "22023"
        );
        assert_eq!(
            bad(CopyOptions {
                format: Some("csv".into()),
                delimiter: Some('"'),
                ..Default::default()
            }),
            "22023"
        );
    }
}
