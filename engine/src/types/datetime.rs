//! DATE, TIME, TIMESTAMP and TIMESTAMPTZ: PostgreSQL's ISO input and output, on `chrono`'s
//! calendar. Values count from the Unix epoch (days for dates, microseconds otherwise);
//! TIMESTAMPTZ is stored in UTC and shown in UTC (`+00`), the only session time zone there is.
//!
//! Accepted input: `YYYY-MM-DD`, optionally followed by a time (after a blank or `T`)
//! `HH:MM[:SS[.ffffff]]` and a zone (`Z`, `UTC`, `GMT`, `+HH`, `+HH:MM`, `+HHMM`), plus the
//! words `epoch`, `now`, `today`, `tomorrow` and `yesterday`. Other styles (`01/02/2024`,
//! month names, BC years, `infinity`) are refused with 22007.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::{Error, Result};

pub const DAY_MICROS: i64 = 86_400_000_000;

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The calendar date of `days` since the epoch.
pub(super) fn to_naive_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

pub(super) fn from_naive_date(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

pub(super) fn to_naive_datetime(micros: i64) -> Option<NaiveDateTime> {
    let days = i32::try_from(micros.div_euclid(DAY_MICROS)).ok()?;
    let time = micros.rem_euclid(DAY_MICROS);
    let date = to_naive_date(days)?;
    let seconds = u32::try_from(time / 1_000_000).ok()?;
    let nanos = u32::try_from(time % 1_000_000 * 1000).ok()?;
    Some(date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(
        seconds, nanos,
    )?))
}

pub(super) fn from_naive_datetime(datetime: NaiveDateTime) -> Result<i64> {
    let days = i64::from(from_naive_date(datetime.date()));
    days.checked_mul(DAY_MICROS)
        .and_then(|d| d.checked_add(time_micros(datetime.time())))
        .ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))
}

fn time_micros(time: NaiveTime) -> i64 {
    i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(time.nanosecond() / 1000)
}

/// The date a timestamp (in microseconds) falls on.
pub fn date_of_timestamp(micros: i64) -> Result<i32> {
    i32::try_from(micros.div_euclid(DAY_MICROS))
        .map_err(|_| Error::DatetimeOutOfRange("date out of range for timestamp".into()))
}

/// The parts of date/time input.
struct Parsed {
    date: Option<i32>,
    time: Option<i64>,
    /// The zone's offset east of UTC, in seconds.
    offset: Option<i32>,
}

fn invalid(ty: &str, text: &str) -> Error {
    Error::InvalidDatetime(format!("invalid input syntax for type {ty}: \"{text}\""))
}

fn out_of_range(text: &str) -> Error {
    Error::DatetimeOutOfRange(format!("date/time field value out of range: \"{text}\""))
}

/// Splits date/time input into its date, time and zone; `ty` names the type in errors.
fn parse_parts(text: &str, ty: &str) -> Result<Parsed> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let special = |days: i64| -> Result<Parsed> {
        let today = crate::host::now_micros()?.div_euclid(DAY_MICROS) + days;
        Ok(Parsed {
            date: Some(i32::try_from(today).map_err(|_| out_of_range(text))?),
            time: Some(0),
            offset: Some(0),
        })
    };
    match lower.as_str() {
        "epoch" => {
            return Ok(Parsed {
                date: Some(0),
                time: Some(0),
                offset: Some(0),
            });
        }
        "today" => return special(0),
        "tomorrow" => return special(1),
        "yesterday" => return special(-1),
        "now" => {
            let now = crate::host::now_micros()?;
            return Ok(Parsed {
                date: Some(date_of_timestamp(now)?),
                time: Some(now.rem_euclid(DAY_MICROS)),
                offset: Some(0),
            });
        }
        _ => {}
    }
    let mut rest = t;
    let mut parsed = Parsed {
        date: None,
        time: None,
        offset: None,
    };
    // The date: digits '-' digits '-' digits.
    if let Some((date, after)) = split_date(rest) {
        let mut fields = date.split('-');
        let mut field = || -> Result<i64> {
            fields
                .next()
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| invalid(ty, text))
        };
        let (year, month, day) = (field()?, field()?, field()?);
        let date = i32::try_from(year)
            .ok()
            .zip(u32::try_from(month).ok())
            .zip(u32::try_from(day).ok())
            .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
            .ok_or_else(|| out_of_range(text))?;
        parsed.date = Some(from_naive_date(date));
        rest = after
            .strip_prefix(['T', 't', ' '])
            .unwrap_or(after)
            .trim_start();
    }
    // The time: H:M[:S[.f]].
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
            .unwrap_or(rest.len());
        parsed.time = Some(parse_clock(&rest[..end]).ok_or_else(|| {
            if rest[..end].contains(':') {
                out_of_range(text)
            } else {
                invalid(ty, text)
            }
        })?);
        rest = rest[end..].trim_start();
    }
    if !rest.is_empty() {
        parsed.offset = Some(parse_zone(rest).ok_or_else(|| invalid(ty, text))?);
    }
    if parsed.date.is_none() && parsed.time.is_none() {
        return Err(invalid(ty, text));
    }
    Ok(parsed)
}

/// `YYYY-MM-DD` at the start of `s`, and what follows it.
fn split_date(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut dashes = 0;
    let mut end = 0;
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' => {}
            b'-' if end > 0 && dashes < 2 => dashes += 1,
            _ => break,
        }
        end += 1;
    }
    (dashes == 2 && bytes[end - 1].is_ascii_digit()).then(|| s.split_at(end))
}

/// `HH:MM[:SS[.ffffff]]` as microseconds since midnight (24:00:00 allowed, as in PostgreSQL).
fn parse_clock(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds = parts.next().unwrap_or("0");
    if parts.next().is_some() || !(0..60).contains(&minutes) {
        return None;
    }
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let whole: i64 = whole.parse().ok()?;
    if !(0..=60).contains(&whole) || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Round the fraction to microseconds.
    let mut digits: String = fraction.chars().take(7).collect();
    while digits.len() < 7 {
        digits.push('0');
    }
    let tenths_of_micros: i64 = digits.parse().ok()?;
    let micros = (tenths_of_micros + 5) / 10;
    if !(0..=24).contains(&hours) {
        return None;
    }
    let total = ((hours * 60 + minutes) * 60 + whole) * 1_000_000 + micros;
    (total <= DAY_MICROS).then_some(total)
}

/// A zone suffix: its offset east of UTC in seconds.
fn parse_zone(s: &str) -> Option<i32> {
    let s = s.trim();
    if ["z", "utc", "gmt", "zulu"].contains(&s.to_ascii_lowercase().as_str()) {
        return Some(0);
    }
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None => (digits, "0"),
    };
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    (hours <= 15 && minutes < 60 && !digits.is_empty())
        .then_some(sign * (hours * 3600 + minutes * 60))
}

pub fn parse_date(text: &str) -> Result<i32> {
    let parsed = parse_parts(text, "date")?;
    parsed.date.ok_or_else(|| invalid("date", text))
}

pub fn parse_time(text: &str) -> Result<i64> {
    let parsed = parse_parts(text, "time")?;
    parsed.time.ok_or_else(|| invalid("time", text))
}

/// TIMESTAMP input; a zone in the text is ignored, as PostgreSQL does.
pub fn parse_timestamp(text: &str) -> Result<i64> {
    let parsed = parse_parts(text, "timestamp")?;
    combine(&parsed, text, "timestamp")
}

/// TIMESTAMPTZ input; without a zone the time is UTC (the session's zone).
pub fn parse_timestamptz(text: &str) -> Result<i64> {
    let parsed = parse_parts(text, "timestamp with time zone")?;
    let local = combine(&parsed, text, "timestamp with time zone")?;
    let offset = i64::from(parsed.offset.unwrap_or(0)) * 1_000_000;
    local
        .checked_sub(offset)
        .ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))
}

fn combine(parsed: &Parsed, text: &str, ty: &str) -> Result<i64> {
    let date = parsed.date.ok_or_else(|| invalid(ty, text))?;
    i64::from(date)
        .checked_mul(DAY_MICROS)
        .and_then(|d| d.checked_add(parsed.time.unwrap_or(0)))
        .ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))
}

pub fn format_date(days: i32) -> String {
    match to_naive_date(days) {
        Some(date) => format_ymd(date),
        None => format!("{days} days after 1970-01-01"),
    }
}

fn format_ymd(date: NaiveDate) -> String {
    let year = date.year();
    if year <= 0 {
        format!("{:04}-{:02}-{:02} BC", 1 - year, date.month(), date.day())
    } else {
        format!("{year:04}-{:02}-{:02}", date.month(), date.day())
    }
}

/// `HH:MM:SS`, with the fraction of a second when there is one (trailing zeros cut).
pub fn format_time(micros: i64) -> String {
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction != 0 {
        let digits = format!("{fraction:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

pub fn format_timestamp(micros: i64) -> String {
    match to_naive_datetime(micros) {
        Some(datetime) => {
            let date = format_ymd(datetime.date());
            let time = format_time(time_micros(datetime.time()));
            match date.strip_suffix(" BC") {
                Some(date) => format!("{date} {time} BC"),
                None => format!("{date} {time}"),
            }
        }
        None => format!("{micros} microseconds after 1970-01-01"),
    }
}

pub fn format_timestamptz(micros: i64) -> String {
    let text = format_timestamp(micros);
    match text.strip_suffix(" BC") {
        Some(text) => format!("{text}+00 BC"),
        None => format!("{text}+00"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_input_round_trips() {
        let ts = parse_timestamp("2024-02-29 13:45:06.5").unwrap();
        assert_eq!(format_timestamp(ts), "2024-02-29 13:45:06.5");
        assert_eq!(
            format_timestamp(parse_timestamp("2024-01-01T00:00:00").unwrap()),
            "2024-01-01 00:00:00"
        );
        assert_eq!(format_date(parse_date("1999-12-31").unwrap()), "1999-12-31");
        assert_eq!(
            format_date(parse_date("2024-03-01 10:00").unwrap()),
            "2024-03-01"
        );
        assert_eq!(format_time(parse_time("04:05").unwrap()), "04:05:00");
        assert_eq!(
            format_time(parse_time("23:59:59.1234567").unwrap()),
            "23:59:59.123457"
        );
        assert_eq!(format_date(parse_date("epoch").unwrap()), "1970-01-01");
        assert_eq!(format_date(parse_date("1969-12-31").unwrap()), "1969-12-31");
        let tz = parse_timestamptz("2024-06-01 12:00:00+02").unwrap();
        assert_eq!(format_timestamptz(tz), "2024-06-01 10:00:00+00");
        let tz = parse_timestamptz("2024-06-01T12:00:00-05:30").unwrap();
        assert_eq!(format_timestamptz(tz), "2024-06-01 17:30:00+00");
        assert_eq!(
            format_timestamptz(parse_timestamptz("2024-06-01 12:00Z").unwrap()),
            "2024-06-01 12:00:00+00"
        );
    }

    #[test]
    fn bad_input_is_22007_and_bad_fields_22008() {
        assert_eq!(parse_date("yesterday-ish").unwrap_err().sqlstate(), "22007");
        assert_eq!(parse_date("2024/01/01").unwrap_err().sqlstate(), "22007");
        assert_eq!(parse_date("2024-13-01").unwrap_err().sqlstate(), "22008");
        assert_eq!(parse_date("2023-02-29").unwrap_err().sqlstate(), "22008");
        assert_eq!(parse_time("25:00").unwrap_err().sqlstate(), "22008");
        assert_eq!(
            parse_timestamp("2024-01-01 12:00 nowhere")
                .unwrap_err()
                .sqlstate(),
            "22007"
        );
        assert_eq!(parse_time("").unwrap_err().sqlstate(), "22007");
    }
}
