//! Date and time functions: the transaction's clock (`now()` and friends), `extract` and
//! `date_part`, `date_trunc`, `age`, the `make_*` constructors and `to_timestamp`.
//!
//! `now()` is the time the transaction began and `statement_timestamp()` the time the
//! statement began, as in PostgreSQL: the session sets both on the executing thread before it
//! runs a statement ([`set_statement_clock`]); `clock_timestamp()` reads the host clock.

use std::cell::Cell;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::prelude::FromPrimitive;

use super::functions::ScalarFunc;
use crate::types::{DAY_MICROS, Decimal, Interval, Value, date_of_timestamp};
use crate::{Error, Result, host};

thread_local! {
    /// (transaction start, statement start), microseconds since the epoch.
    static CLOCK: Cell<Option<(i64, i64)>> = const { Cell::new(None) };
}

/// Sets the clock `now()` and `statement_timestamp()` read on this thread.
pub fn set_statement_clock(transaction_start: i64, statement_start: i64) {
    CLOCK.with(|c| c.set(Some((transaction_start, statement_start))));
}

fn clock() -> Result<(i64, i64)> {
    match CLOCK.with(Cell::get) {
        Some(times) => Ok(times),
        None => {
            let now = host::now_micros()?;
            Ok((now, now))
        }
    }
}

fn invalid_unit(unit: &str, ty: &str) -> Error {
    Error::InvalidArgument(format!("unit \"{unit}\" not supported for type {ty}"))
}

pub fn call(func: ScalarFunc, values: &[Value]) -> Result<Value> {
    use ScalarFunc::*;
    let int = |i: usize| match values.get(i) {
        Some(Value::Int(n)) => *n,
        _ => 0,
    };
    let float = |i: usize| match values.get(i) {
        Some(Value::Float(f)) => *f,
        Some(Value::Int(n)) => *n as f64,
        _ => f64::NAN,
    };
    Ok(match func {
        Now => Value::TimestampTz(clock()?.0),
        StatementTimestamp => Value::TimestampTz(clock()?.1),
        ClockTimestamp => Value::TimestampTz(host::now_micros()?),
        CurrentDate => Value::Date(date_of_timestamp(clock()?.0)?),
        CurrentTime => Value::Time(clock()?.0.rem_euclid(DAY_MICROS)),
        LocalTimestamp => Value::Timestamp(clock()?.0),
        Extract | DatePart => {
            let field = values[0].to_string().to_ascii_lowercase();
            let value = extract(&field, &values[1])?;
            if func == DatePart {
                Value::Float(rust_decimal::prelude::ToPrimitive::to_f64(&value).unwrap_or(0.0))
            } else {
                Value::Numeric(value)
            }
        }
        DateTrunc => {
            let field = values[0].to_string().to_ascii_lowercase();
            match &values[1] {
                Value::Timestamp(t) => Value::Timestamp(truncate(&field, *t, "timestamp")?),
                Value::TimestampTz(t) => {
                    Value::TimestampTz(truncate(&field, *t, "timestamp with time zone")?)
                }
                other => {
                    return Err(Error::UndefinedFunction(format!(
                        "function date_trunc(text, {}) does not exist",
                        other.type_name()
                    )));
                }
            }
        }
        Age => {
            let start_of_today = clock()?.0.div_euclid(DAY_MICROS) * DAY_MICROS;
            let (a, b) = match values {
                [b] => (start_of_today, micros_of(b)?),
                [a, b, ..] => (micros_of(a)?, micros_of(b)?),
                [] => return Ok(Value::Null),
            };
            Value::Interval(age(a, b)?)
        }
        MakeDate => Value::Date(make_date(int(0), int(1), int(2))?),
        MakeTime => Value::Time(make_time(int(0), int(1), float(2))?),
        MakeTimestamp => {
            let date = make_date(int(0), int(1), int(2))?;
            let time = make_time(int(3), int(4), float(5))?;
            Value::Timestamp(i64::from(date) * DAY_MICROS + time)
        }
        ToTimestamp => {
            let seconds = float(0);
            if !seconds.is_finite() || seconds.abs() > 9.2e12 {
                return Err(Error::DatetimeOutOfRange("timestamp out of range".into()));
            }
            Value::TimestampTz((seconds * 1e6).round() as i64)
        }
        other => {
            return Err(Error::UndefinedFunction(format!(
                "{} is not a date/time function",
                other.name()
            )));
        }
    })
}

fn micros_of(value: &Value) -> Result<i64> {
    match value {
        Value::Timestamp(t) | Value::TimestampTz(t) => Ok(*t),
        Value::Date(d) => Ok(i64::from(*d) * DAY_MICROS),
        other => Err(Error::UndefinedFunction(format!(
            "function age({}) does not exist",
            other.type_name()
        ))),
    }
}

fn datetime(micros: i64) -> Result<NaiveDateTime> {
    let date = NaiveDate::from_num_days_from_ce_opt(
        i32::try_from(micros.div_euclid(DAY_MICROS) + 719_163)
            .map_err(|_| Error::DatetimeOutOfRange("timestamp out of range".into()))?,
    )
    .ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))?;
    let time = micros.rem_euclid(DAY_MICROS);
    let seconds = u32::try_from(time / 1_000_000).unwrap_or(0);
    let nanos = u32::try_from(time % 1_000_000 * 1000).unwrap_or(0);
    date.and_hms_nano_opt(seconds / 3600, seconds / 60 % 60, seconds % 60, nanos)
        .ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))
}

fn decimal(micros_or_units: i64, scale: u32) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(micros_or_units), scale)
}

/// `extract(field from value)`, exact.
fn extract(field: &str, value: &Value) -> Result<Decimal> {
    let micros = match value {
        Value::Interval(i) => return extract_interval(field, *i),
        Value::Time(t) => {
            return Ok(match field {
                "hour" => Decimal::from(t / 3_600_000_000),
                "minute" => Decimal::from(t / 60_000_000 % 60),
                "second" => decimal(t % 60_000_000, 6),
                "millisecond" | "milliseconds" => decimal(t % 60_000_000, 3),
                "microsecond" | "microseconds" => Decimal::from(t % 60_000_000),
                "epoch" => decimal(*t, 6),
                _ => return Err(invalid_unit(field, "time without time zone")),
            });
        }
        Value::Date(d) => i64::from(*d) * DAY_MICROS,
        Value::Timestamp(t) | Value::TimestampTz(t) => *t,
        other => {
            return Err(Error::UndefinedFunction(format!(
                "function extract(unknown, {}) does not exist",
                other.type_name()
            )));
        }
    };
    let dt = datetime(micros)?;
    let second_micros = i64::from(dt.second()) * 1_000_000 + i64::from(dt.nanosecond() / 1000);
    let year = i64::from(dt.year());
    Ok(match field {
        "year" | "years" => Decimal::from(year),
        "month" | "months" | "mon" => Decimal::from(dt.month()),
        "day" | "days" => Decimal::from(dt.day()),
        "hour" | "hours" => Decimal::from(dt.hour()),
        "minute" | "minutes" => Decimal::from(dt.minute()),
        "second" | "seconds" => decimal(second_micros, 6),
        "millisecond" | "milliseconds" => decimal(second_micros, 3),
        "microsecond" | "microseconds" => Decimal::from(second_micros),
        "dow" => Decimal::from(dt.weekday().num_days_from_sunday()),
        "isodow" => Decimal::from(dt.weekday().number_from_monday()),
        "doy" => Decimal::from(dt.ordinal()),
        "week" => Decimal::from(dt.iso_week().week()),
        "isoyear" => Decimal::from(dt.iso_week().year()),
        "quarter" => Decimal::from((dt.month() - 1) / 3 + 1),
        "decade" => Decimal::from(year.div_euclid(10)),
        "century" => Decimal::from(if year > 0 {
            (year + 99) / 100
        } else {
            (year - 99) / 100
        }),
        "millennium" => Decimal::from(if year > 0 {
            (year + 999) / 1000
        } else {
            (year - 999) / 1000
        }),
        "epoch" => decimal(micros, 6),
        "julian" => Decimal::from(micros.div_euclid(DAY_MICROS) + 2_440_588),
        _ => return Err(invalid_unit(field, value.type_name())),
    })
}

fn extract_interval(field: &str, i: Interval) -> Result<Decimal> {
    let months = i64::from(i.months);
    Ok(match field {
        "year" | "years" => Decimal::from(months / 12),
        "month" | "months" | "mon" => Decimal::from(months % 12),
        "day" | "days" => Decimal::from(i.days),
        "hour" | "hours" => Decimal::from(i.micros / 3_600_000_000),
        "minute" | "minutes" => Decimal::from(i.micros / 60_000_000 % 60),
        "second" | "seconds" => decimal(i.micros % 60_000_000, 6),
        "millisecond" | "milliseconds" => decimal(i.micros % 60_000_000, 3),
        "microsecond" | "microseconds" => Decimal::from(i.micros % 60_000_000),
        "epoch" => {
            // PostgreSQL: a year is 365.25 days, a month 30 days.
            let days = Decimal::from(months / 12) * Decimal::from_f64(365.25).unwrap_or_default()
                + Decimal::from(months % 12 * 30 + i64::from(i.days));
            days * Decimal::from(86_400) + decimal(i.micros, 6)
        }
        _ => return Err(invalid_unit(field, "interval")),
    })
}

/// `date_trunc(field, t)`.
fn truncate(field: &str, micros: i64, ty: &str) -> Result<i64> {
    let dt = datetime(micros)?;
    let date = dt.date();
    let day_start = micros.div_euclid(DAY_MICROS) * DAY_MICROS;
    let of_date = |d: Option<NaiveDate>| -> Result<i64> {
        let d = d.ok_or_else(|| Error::DatetimeOutOfRange("timestamp out of range".into()))?;
        Ok(i64::from(d.num_days_from_ce() - 719_163) * DAY_MICROS)
    };
    let year = date.year();
    Ok(match field {
        "microseconds" | "microsecond" => micros,
        "milliseconds" | "millisecond" => micros.div_euclid(1000) * 1000,
        "second" | "seconds" => micros.div_euclid(1_000_000) * 1_000_000,
        "minute" | "minutes" => micros.div_euclid(60_000_000) * 60_000_000,
        "hour" | "hours" => micros.div_euclid(3_600_000_000) * 3_600_000_000,
        "day" | "days" => day_start,
        "week" | "weeks" => {
            day_start - i64::from(date.weekday().num_days_from_monday()) * DAY_MICROS
        }
        "month" | "months" => of_date(NaiveDate::from_ymd_opt(year, date.month(), 1))?,
        "quarter" => of_date(NaiveDate::from_ymd_opt(
            year,
            (date.month() - 1) / 3 * 3 + 1,
            1,
        ))?,
        "year" | "years" => of_date(NaiveDate::from_ymd_opt(year, 1, 1))?,
        "decade" => of_date(NaiveDate::from_ymd_opt(year.div_euclid(10) * 10, 1, 1))?,
        "century" => of_date(NaiveDate::from_ymd_opt(
            (year - 1).div_euclid(100) * 100 + 1,
            1,
            1,
        ))?,
        "millennium" => of_date(NaiveDate::from_ymd_opt(
            (year - 1).div_euclid(1000) * 1000 + 1,
            1,
            1,
        ))?,
        _ => return Err(invalid_unit(field, ty)),
    })
}

/// PostgreSQL's `age(a, b)`: the difference in years, months and days (field by field, with
/// borrowing), then time.
fn age(a: i64, b: i64) -> Result<Interval> {
    let (x, y, negate) = if a >= b { (a, b, false) } else { (b, a, true) };
    let (dx, dy) = (datetime(x)?, datetime(y)?);
    let mut micros = x.rem_euclid(DAY_MICROS) - y.rem_euclid(DAY_MICROS);
    let mut days = i64::from(dx.day()) - i64::from(dy.day());
    let mut months = i64::from(dx.month()) - i64::from(dy.month());
    let mut years = i64::from(dx.year()) - i64::from(dy.year());
    if micros < 0 {
        micros += DAY_MICROS;
        days -= 1;
    }
    while days < 0 {
        // Borrow the length of the earlier timestamp's month, as PostgreSQL does.
        days += days_in_month(dy.year(), dy.month());
        months -= 1;
    }
    if months < 0 {
        months += 12;
        years -= 1;
    }
    let range = || Error::DatetimeOutOfRange("interval out of range".into());
    let interval = Interval::new(
        i32::try_from(years * 12 + months).map_err(|_| range())?,
        i32::try_from(days).map_err(|_| range())?,
        micros,
    );
    if negate {
        interval.negate()
    } else {
        Ok(interval)
    }
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days(),
        _ => 30,
    }
}

fn make_date(year: i64, month: i64, day: i64) -> Result<i32> {
    let out_of_range = || {
        Error::DatetimeOutOfRange(format!(
            "date field value out of range: {year}-{month:02}-{day:02}"
        ))
    };
    let date = i32::try_from(year)
        .ok()
        .zip(u32::try_from(month).ok())
        .zip(u32::try_from(day).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(out_of_range)?;
    Ok(date.num_days_from_ce() - 719_163)
}

fn make_time(hour: i64, minute: i64, second: f64) -> Result<i64> {
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) || !(0.0..60.0).contains(&second) {
        return Err(Error::DatetimeOutOfRange(format!(
            "time field value out of range: {hour}:{minute:02}:{second:02}"
        )));
    }
    Ok((hour * 60 + minute) * 60_000_000 + (second * 1e6).round() as i64)
}

pub fn json_array_length(text: &str) -> Result<Value> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => Ok(Value::Int(items.len() as i64)),
        Ok(_) => Err(Error::InvalidArgument(
            "cannot get array length of a non-array".into(),
        )),
        Err(e) => Err(Error::InvalidText(format!(
            "invalid input syntax for type json: {e}"
        ))),
    }
}
