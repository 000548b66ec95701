//! Session settings: `SET`, `SHOW` and `RESET` of the run-time parameters a session has, and
//! the transaction isolation levels.
//!
//! Parameters OmenDB acts on: `statement_timeout`, `idle_in_transaction_session_timeout`
//! (enforced by the server), `default_transaction_isolation` and `transaction_isolation`. The ones clients set on connecting are accepted and shown with
//! the values OmenDB works with (UTF8, ISO dates, UTC, on); others are 42704.

use std::time::Duration;

use crate::{Error, Result};

/// A transaction isolation level, as in PostgreSQL. READ COMMITTED (the default) takes a new
/// snapshot for every statement and re-reads a row a concurrent transaction changed before
/// writing it; REPEATABLE READ is snapshot isolation, where such a row is a serialization
/// failure (40001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    #[default]
    ReadCommitted,
    RepeatableRead,
}

impl Isolation {
    pub fn name(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "read committed",
            Isolation::RepeatableRead => "repeatable read",
        }
    }

    /// A level by its SQL name; SERIALIZABLE is refused (0A000), READ UNCOMMITTED is READ
    /// COMMITTED, as in PostgreSQL.
    pub fn parse(text: &str) -> Result<Isolation> {
        match text.trim().to_ascii_lowercase().as_str() {
            "read committed" | "read uncommitted" => Ok(Isolation::ReadCommitted),
            "repeatable read" => Ok(Isolation::RepeatableRead),
            "serializable" => Err(Error::NotSupported(
                "SERIALIZABLE isolation: OmenDB offers snapshot isolation (REPEATABLE READ) and \
                 READ COMMITTED"
                    .into(),
            )),
            other => Err(Error::InvalidParameterValue(format!(
                "invalid value for parameter \"transaction_isolation\": \"{other}\""
            ))),
        }
    }
}

/// `omendb.analytics`: which engine runs a query. `auto` sends analytical queries (large scans
/// with aggregation, joins or window functions, no key access) to DataFusion and the rest to
/// the native executor; `on` sends every query DataFusion can answer as PostgreSQL would;
/// `off` keeps every query native.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalyticsMode {
    #[default]
    Auto,
    On,
    Off,
}

impl AnalyticsMode {
    pub fn name(self) -> &'static str {
        match self {
            AnalyticsMode::Auto => "auto",
            AnalyticsMode::On => "on",
            AnalyticsMode::Off => "off",
        }
    }

    fn parse(name: &str, text: &str) -> Result<AnalyticsMode> {
        let mode = match text.trim().to_ascii_lowercase().as_str() {
            "auto" => AnalyticsMode::Auto,
            "on" | "true" | "1" => AnalyticsMode::On,
            "off" | "false" | "0" => AnalyticsMode::Off,
            _ => return Err(invalid(name, text)),
        };
        if mode == AnalyticsMode::On
            && !cfg!(all(feature = "analytics", not(target_arch = "wasm32")))
        {
            return Err(Error::NotSupported(
                "omendb.analytics = on: this build of OmenDB has no analytics engine".into(),
            ));
        }
        Ok(mode)
    }
}

/// The settings of one session.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub statement_timeout: Option<Duration>,
    pub analytics: AnalyticsMode,
    pub idle_in_transaction_timeout: Option<Duration>,
    pub default_isolation: Isolation,
    application_name: String,
    extra_float_digits: i32,
}

/// Parameters accepted with exactly one value (what OmenDB does), and that value.
const FIXED: &[(&str, &[&str], &str)] = &[
    ("client_encoding", &["utf8", "utf-8", "unicode"], "UTF8"),
    ("server_encoding", &["utf8"], "UTF8"),
    (
        "datestyle",
        &["iso", "iso, mdy", "iso,mdy", "iso, ymd", "iso, dmy"],
        "ISO, MDY",
    ),
    ("intervalstyle", &["postgres"], "postgres"),
    (
        "timezone",
        &["utc", "gmt", "etc/utc", "z", "+00", "0", "+00:00"],
        "UTC",
    ),
    ("standard_conforming_strings", &["on", "true", "1"], "on"),
    (
        "search_path",
        &[
            "public",
            "\"$user\", public",
            "$user, public",
            "pg_catalog, public",
        ],
        "\"$user\", public",
    ),
    (
        "client_min_messages",
        &["notice", "warning", "error", "log", "debug", "info"],
        "notice",
    ),
];

impl Settings {
    /// `SET name = value` (`None`: `SET name TO DEFAULT` or `RESET name`).
    pub fn set(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        let name = name.to_ascii_lowercase();
        match (name.as_str(), value) {
            ("statement_timeout", None) => self.statement_timeout = None,
            ("statement_timeout", Some(v)) => {
                let ms = parse_milliseconds(&name, v)?;
                self.statement_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            ("idle_in_transaction_session_timeout", None) => {
                self.idle_in_transaction_timeout = None;
            }
            ("idle_in_transaction_session_timeout", Some(v)) => {
                let ms = parse_milliseconds(&name, v)?;
                self.idle_in_transaction_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            ("default_transaction_isolation", None) => {
                self.default_isolation = Isolation::default();
            }
            ("default_transaction_isolation", Some(v)) => {
                self.default_isolation = Isolation::parse(v)?;
            }
            ("omendb.analytics", None) => self.analytics = AnalyticsMode::default(),
            ("omendb.analytics", Some(v)) => self.analytics = AnalyticsMode::parse(&name, v)?,
            ("application_name", v) => self.application_name = v.unwrap_or_default().to_string(),
            ("extra_float_digits", None) => self.extra_float_digits = 0,
            ("extra_float_digits", Some(v)) => {
                self.extra_float_digits = v
                    .trim()
                    .parse()
                    .ok()
                    .filter(|d| (-15..=3).contains(d))
                    .ok_or_else(|| invalid(&name, v))?;
            }
            (name, value) => {
                let (_, accepted, _) = FIXED
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .ok_or_else(|| unrecognized(name))?;
                if let Some(v) = value {
                    if !accepted.contains(&v.trim().to_ascii_lowercase().as_str()) {
                        return Err(invalid(name, v));
                    }
                }
            }
        }
        Ok(())
    }

    /// `SHOW name`; `isolation` is the running transaction's level.
    pub fn show(&self, name: &str, isolation: Isolation) -> Result<String> {
        let name = name.to_ascii_lowercase();
        Ok(match name.as_str() {
            "statement_timeout" => show_duration(self.statement_timeout),
            "idle_in_transaction_session_timeout" => {
                show_duration(self.idle_in_transaction_timeout)
            }
            "default_transaction_isolation" => self.default_isolation.name().into(),
            "transaction_isolation" => isolation.name().into(),
            "application_name" => self.application_name.clone(),
            "omendb.analytics" => self.analytics.name().into(),
            "extra_float_digits" => self.extra_float_digits.to_string(),
            "server_version" => "16.0".into(),
            other => FIXED
                .iter()
                .find(|(n, _, _)| *n == other)
                .map(|(_, _, shown)| shown.to_string())
                .ok_or_else(|| unrecognized(other))?,
        })
    }
}

fn show_duration(duration: Option<Duration>) -> String {
    match duration {
        None => "0".into(),
        Some(d) if d.as_millis() % 1000 == 0 => format!("{}s", d.as_secs()),
        Some(d) => format!("{}ms", d.as_millis()),
    }
}

fn unrecognized(name: &str) -> Error {
    Error::UnrecognizedParameter(name.to_string())
}

fn invalid(name: &str, value: &str) -> Error {
    Error::InvalidParameterValue(format!(
        "invalid value for parameter \"{name}\": \"{value}\""
    ))
}

/// A duration setting: a number of milliseconds, or a number with a unit (`ms`, `s`, `min`,
/// `h`, `d`).
fn parse_milliseconds(name: &str, text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid(name, text))?;
    let scale = match unit.trim() {
        "" | "ms" => 1.0,
        "s" => 1e3,
        "min" => 6e4,
        "h" => 3.6e6,
        "d" => 8.64e7,
        _ => return Err(invalid(name, text)),
    };
    let ms = (number * scale).round();
    if !(0.0..=f64::from(i32::MAX)).contains(&ms) {
        return Err(invalid(name, text));
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_postgres() {
        let mut s = Settings::default();
        s.set("statement_timeout", Some("1500")).unwrap();
        assert_eq!(
            s.show("statement_timeout", Isolation::default()).unwrap(),
            "1500ms"
        );
        s.set("statement_timeout", Some("2s")).unwrap();
        assert_eq!(
            s.show("STATEMENT_TIMEOUT", Isolation::default()).unwrap(),
            "2s"
        );
        s.set("statement_timeout", Some("0")).unwrap();
        assert_eq!(s.statement_timeout, None);
        assert_eq!(
            s.set("statement_timeout", Some("soon"))
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
        assert_eq!(s.set("no_such", Some("1")).unwrap_err().sqlstate(), "42704");
        assert_eq!(
            s.set("client_encoding", Some("LATIN1"))
                .unwrap_err()
                .sqlstate(),
            "22023"
        );
        s.set("TimeZone", Some("UTC")).unwrap();
        assert_eq!(
            Isolation::parse("SERIALIZABLE").unwrap_err().sqlstate(),
            "0A000"
        );
    }
}
