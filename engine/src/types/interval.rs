//! INTERVAL: months, days and microseconds kept apart, as in PostgreSQL (a month is not a fixed
//! number of days, nor a day of hours across a DST change), with its input units and its
//! `postgres` output style (`1 year 2 mons -3 days +04:05:06.5`).

use std::cmp::Ordering;
use std::fmt;

use chrono::Months;
use serde::{Deserialize, Serialize};

use super::datetime::{DAY_MICROS, format_time, from_naive_datetime, to_naive_datetime};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

fn out_of_range() -> Error {
    Error::DatetimeOutOfRange("interval out of range".into())
}

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Self {
        Self {
            months,
            days,
            micros,
        }
    }

    /// The value intervals are compared by: months of 30 days, days of 24 hours.
    pub fn comparable(self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(DAY_MICROS)
            + i128::from(self.micros)
    }

    /// Parses PostgreSQL interval input: `1 year 2 months`, `3 days 04:05:06`, `-1.5 hours`,
    /// `10` (seconds), `@ 2 days ago`.
    pub fn parse(text: &str) -> Result<Interval> {
        let invalid = || {
            Error::InvalidDatetime(format!(
                "invalid input syntax for type interval: \"{text}\""
            ))
        };
        let lower = text.trim().to_ascii_lowercase();
        let mut tokens: Vec<&str> = lower.split_whitespace().collect();
        if tokens.first() == Some(&"@") {
            tokens.remove(0);
        }
        let ago = tokens.last() == Some(&"ago");
        if ago {
            tokens.pop();
        }
        if tokens.is_empty() {
            return Err(invalid());
        }
        let mut total = Accumulator::default();
        let mut i = 0;
        while i < tokens.len() {
            let token = tokens[i];
            i += 1;
            if token.contains(':') {
                total.micros += clock(token).ok_or_else(invalid)?;
                continue;
            }
            let split = token
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+')))
                .unwrap_or(token.len());
            let (number, mut unit) = token.split_at(split);
            let number: f64 = number.parse().map_err(|_| invalid())?;
            if unit.is_empty() {
                match tokens.get(i) {
                    Some(next) if next.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                        unit = next;
                        i += 1;
                    }
                    _ => unit = "second",
                }
            }
            total
                .add(number, unit.trim_end_matches(','))
                .ok_or_else(invalid)?;
        }
        let interval = total.finish().ok_or_else(out_of_range)?;
        Ok(if ago { interval.negate()? } else { interval })
    }

    pub fn negate(self) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(out_of_range)?,
            days: self.days.checked_neg().ok_or_else(out_of_range)?,
            micros: self.micros.checked_neg().ok_or_else(out_of_range)?,
        })
    }

    pub fn checked_add(self, other: Interval) -> Result<Interval> {
        Ok(Interval {
            months: self
                .months
                .checked_add(other.months)
                .ok_or_else(out_of_range)?,
            days: self.days.checked_add(other.days).ok_or_else(out_of_range)?,
            micros: self
                .micros
                .checked_add(other.micros)
                .ok_or_else(out_of_range)?,
        })
    }

    pub fn checked_sub(self, other: Interval) -> Result<Interval> {
        self.checked_add(other.negate()?)
    }

    /// The interval scaled by `factor`; fractions of months become days (of 30) and
    /// fractions of days become time, as PostgreSQL's `interval_mul`.
    pub fn scale(self, factor: f64) -> Result<Interval> {
        if !factor.is_finite() {
            return Err(out_of_range());
        }
        let months = f64::from(self.months) * factor;
        let whole_months = months.trunc();
        let days = f64::from(self.days) * factor + (months - whole_months) * 30.0;
        let whole_days = days.trunc();
        let micros = self.micros as f64 * factor + (days - whole_days) * DAY_MICROS as f64;
        let fits = |v: f64, max: f64| v.abs() <= max;
        if !fits(whole_months, f64::from(i32::MAX))
            || !fits(whole_days, f64::from(i32::MAX))
            || !fits(micros.round(), i64::MAX as f64)
        {
            return Err(out_of_range());
        }
        Ok(Interval {
            months: whole_months as i32,
            days: whole_days as i32,
            micros: micros.round() as i64,
        })
    }

    /// `micros` (a timestamp) moved by this interval: months first (clamped to the month's
    /// end, as `2024-01-31 + 1 month` is `2024-02-29`), then days, then time.
    pub fn add_to_timestamp(self, micros: i64) -> Result<i64> {
        let range = || Error::DatetimeOutOfRange("timestamp out of range".into());
        let mut datetime = to_naive_datetime(micros).ok_or_else(range)?;
        if self.months != 0 {
            let months = Months::new(self.months.unsigned_abs());
            datetime = if self.months > 0 {
                datetime.checked_add_months(months)
            } else {
                datetime.checked_sub_months(months)
            }
            .ok_or_else(range)?;
        }
        let shifted = from_naive_datetime(datetime)?;
        i64::from(self.days)
            .checked_mul(DAY_MICROS)
            .and_then(|d| shifted.checked_add(d))
            .and_then(|t| t.checked_add(self.micros))
            .ok_or_else(range)
    }

    /// The interval from `b` to `a` (two timestamps): whole days and the remaining time.
    pub fn between(a: i64, b: i64) -> Result<Interval> {
        let diff = a.checked_sub(b).ok_or_else(out_of_range)?;
        Ok(Interval {
            months: 0,
            days: i32::try_from(diff / DAY_MICROS).map_err(|_| out_of_range())?,
            micros: diff % DAY_MICROS,
        })
    }
}

/// Interval input summed field by field, fractions carried down.
#[derive(Default)]
struct Accumulator {
    months: f64,
    days: f64,
    micros: i64,
}

impl Accumulator {
    fn add(&mut self, number: f64, unit: &str) -> Option<()> {
        let micros = |scale: f64, total: &mut Accumulator| {
            total.micros = total.micros.checked_add((number * scale).round() as i64)?;
            Some(())
        };
        match unit {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => micros(1.0, self)?,
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => micros(1e3, self)?,
            "second" | "seconds" | "s" | "sec" | "secs" => micros(1e6, self)?,
            "minute" | "minutes" | "m" | "min" | "mins" => micros(6e7, self)?,
            "hour" | "hours" | "h" | "hr" | "hrs" => micros(3.6e9, self)?,
            "day" | "days" | "d" => self.days += number,
            "week" | "weeks" | "w" => self.days += number * 7.0,
            "month" | "months" | "mon" | "mons" => self.months += number,
            "year" | "years" | "y" | "yr" | "yrs" => self.months += number * 12.0,
            "decade" | "decades" => self.months += number * 120.0,
            "century" | "centuries" => self.months += number * 1200.0,
            "millennium" | "millennia" | "millenniums" => self.months += number * 12000.0,
            _ => return None,
        }
        Some(())
    }

    fn finish(self) -> Option<Interval> {
        let months = self.months.trunc();
        let days = self.days + (self.months - months) * 30.0;
        let whole_days = days.trunc();
        let micros = self
            .micros
            .checked_add(((days - whole_days) * DAY_MICROS as f64).round() as i64)?;
        if months.abs() > f64::from(i32::MAX) || whole_days.abs() > f64::from(i32::MAX) {
            return None;
        }
        Some(Interval {
            months: months as i32,
            days: whole_days as i32,
            micros,
        })
    }
}

/// `[-]H:M[:S[.f]]` as signed microseconds.
fn clock(token: &str) -> Option<i64> {
    let (sign, rest) = match token.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, token.strip_prefix('+').unwrap_or(token)),
    };
    let mut parts = rest.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next().map_or(Some(0.0), |s| s.parse().ok())?;
    if parts.next().is_some() || minutes >= 60 || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let micros = hours
        .checked_mul(3_600_000_000)?
        .checked_add(minutes * 60_000_000)?
        .checked_add((seconds * 1e6).round() as i64)?;
    Some(sign * micros)
}

impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Interval {
    /// PostgreSQL's order: by [`Interval::comparable`]; equal spans (`1 mon`, `30 days`) are
    /// then told apart by their fields so that the order is total.
    fn cmp(&self, other: &Self) -> Ordering {
        self.comparable()
            .cmp(&other.comparable())
            .then_with(|| (self.months, self.days).cmp(&(other.months, other.days)))
    }
}

impl fmt::Display for Interval {
    /// PostgreSQL's `postgres` interval style.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let mut before_negative = false;
        let mut part = |value: i64, unit: &str, out: &mut String| {
            if value == 0 {
                return;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            if before_negative && value > 0 {
                out.push('+');
            }
            out.push_str(&format!(
                "{value} {unit}{}",
                if value == 1 { "" } else { "s" }
            ));
            before_negative = value < 0;
        };
        let months = i64::from(self.months);
        part(months / 12, "year", &mut out);
        part(months % 12, "mon", &mut out);
        part(i64::from(self.days), "day", &mut out);
        if out.is_empty() || self.micros != 0 {
            let sign = if self.micros < 0 {
                "-"
            } else if before_negative {
                "+"
            } else {
                ""
            };
            let micros = self.micros.unsigned_abs();
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(sign);
            out.push_str(&format_time(i64::try_from(micros).unwrap_or(i64::MAX)));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(text: &str) -> String {
        Interval::parse(text).unwrap().to_string()
    }

    #[test]
    fn input_and_output_match_postgres() {
        let cases = [
            (
                "1 year 2 months 3 days 4 hours 5 minutes 6 seconds",
                "1 year 2 mons 3 days 04:05:06",
            ),
            ("-1 day", "-1 days"),
            ("-1 day 2 hours", "-1 days +02:00:00"),
            ("1 day -1 hour", "1 day -01:00:00"),
            ("-14 months", "-1 years -2 mons"),
            ("1.5 days", "1 day 12:00:00"),
            ("1.5 months", "1 mon 15 days"),
            ("90 minutes", "01:30:00"),
            ("10", "00:00:10"),
            ("0", "00:00:00"),
            ("@ 2 days ago", "-2 days"),
            ("3 days 04:05:06.25", "3 days 04:05:06.25"),
            ("2 weeks", "14 days"),
            ("1 ms", "00:00:00.001"),
        ];
        for (input, want) in cases {
            assert_eq!(show(input), want, "{input}");
        }
        assert_eq!(
            Interval::parse("1 fortnight").unwrap_err().sqlstate(),
            "22007"
        );
        assert_eq!(Interval::parse("").unwrap_err().sqlstate(), "22007");
    }

    #[test]
    fn arithmetic_and_order() {
        let month = Interval::parse("1 month").unwrap();
        let thirty = Interval::parse("30 days").unwrap();
        assert_eq!(month.comparable(), thirty.comparable());
        assert_eq!(show("1 day").parse::<String>().unwrap(), "1 day");
        assert_eq!(month.scale(1.5).unwrap().to_string(), "1 mon 15 days");
        assert_eq!(
            Interval::parse("1 hour")
                .unwrap()
                .scale(0.5)
                .unwrap()
                .to_string(),
            "00:30:00"
        );
        let jan31 = super::super::parse_timestamp("2024-01-31").unwrap();
        let feb = month.add_to_timestamp(jan31).unwrap();
        assert_eq!(super::super::format_timestamp(feb), "2024-02-29 00:00:00");
        let between = Interval::between(feb, jan31).unwrap();
        assert_eq!(between.to_string(), "29 days");
    }
}
