//! NUMERIC: exact decimals on `rust_decimal` (a 96-bit mantissa and a scale of up to 28), with
//! PostgreSQL's rules for the scale of results, rounding (half away from zero) and modifiers.
//!
//! PostgreSQL's NUMERIC has up to 131072 digits; here a value has at most 28–29 significant
//! digits, and anything larger is 22003 ("value overflows numeric format") rather than a
//! silently rounded result.

pub use rust_decimal::Decimal;
use rust_decimal::RoundingStrategy;

use crate::{Error, Result};

/// The largest scale a value can have.
const MAX_SCALE: u32 = 28;

pub(super) fn overflow() -> Error {
    Error::NumericOutOfRange("value overflows numeric format".into())
}

/// Parses NUMERIC input: `12`, `-1.50`, `1e-3`, surrounded by blanks.
pub fn parse_numeric(text: &str) -> Result<Decimal> {
    let t = text.trim();
    let invalid =
        || Error::InvalidText(format!("invalid input syntax for type numeric: \"{text}\""));
    let well_formed = !t.is_empty()
        && t.trim_start_matches(['+', '-'])
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && t.chars().any(|c| c.is_ascii_digit());
    if !well_formed {
        if matches!(
            t.to_ascii_lowercase().as_str(),
            "nan" | "infinity" | "-infinity" | "inf" | "-inf"
        ) {
            return Err(Error::NotSupported(format!(
                "the special NUMERIC value \"{t}\""
            )));
        }
        return Err(invalid());
    }
    let parsed = if t.contains(['e', 'E']) {
        Decimal::from_scientific(t)
    } else {
        Decimal::from_str_exact(t)
    };
    match parsed {
        Ok(d) => Ok(normal_zero(d)),
        // Too many digits after the point: round them away, as a NUMERIC(…, 28) would.
        Err(_) if !t.contains(['e', 'E']) && digits_before_point(t) <= 28 => {
            t.parse::<Decimal>().map(normal_zero).map_err(|_| invalid())
        }
        Err(rust_decimal::Error::ExceedsMaximumPossibleValue)
        | Err(rust_decimal::Error::LessThanMinimumPossibleValue) => Err(overflow()),
        Err(_) if digits_before_point(t) > 28 => Err(overflow()),
        Err(_) => Err(invalid()),
    }
}

fn digits_before_point(t: &str) -> usize {
    t.trim_start_matches(['+', '-'])
        .split('.')
        .next()
        .unwrap_or("")
        .trim_start_matches('0')
        .len()
}

/// Zero without a sign (`-0.0` prints as `0.0`).
fn normal_zero(mut d: Decimal) -> Decimal {
    if d.is_zero() {
        d.set_sign_positive(true);
    }
    d
}

/// A double converted to NUMERIC as PostgreSQL does: through its shortest decimal text (15
/// significant digits), so `0.1::float8::numeric` is `0.1`.
pub fn numeric_from_f64(f: f64) -> Result<Decimal> {
    if !f.is_finite() {
        return Err(Error::NotSupported(
            "converting NaN or infinity to numeric".into(),
        ));
    }
    let text = format!("{:.*e}", 14, f);
    let d = Decimal::from_scientific(&text).map_err(|_| overflow())?;
    Ok(normal_zero(d.normalize()))
}

/// Applies a `NUMERIC(precision, scale)` modifier: rounds to the scale and refuses values
/// with more integer digits than `precision - scale` allows.
pub(super) fn apply_modifier(d: Decimal, modifier: Option<(u16, u16)>) -> Result<Decimal> {
    let Some((precision, scale)) = modifier else {
        return Ok(d);
    };
    let scale = u32::from(scale).min(MAX_SCALE);
    let mut rounded = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(scale);
    let integer_digits = u32::from(precision).saturating_sub(scale);
    let limit = Decimal::from_i128_with_scale(10i128.pow(integer_digits.min(28)), 0);
    if integer_digits < 29 && rounded.abs() >= limit {
        return Err(Error::NumericOutOfRange(format!(
            "numeric field overflow: a field with precision {precision}, scale {scale} must \
             round to an absolute value less than 10^{integer_digits}"
        )));
    }
    Ok(normal_zero(rounded))
}

/// Division with PostgreSQL's result scale (`select_div_scale`): at least 16 significant
/// digits, and no fewer decimals than either operand has.
pub fn numeric_divide(a: Decimal, b: Decimal) -> Result<Decimal> {
    if b.is_zero() {
        return Err(Error::DivisionByZero);
    }
    let (weight_a, first_a) = base_10000_head(a);
    let (weight_b, first_b) = base_10000_head(b);
    let mut quotient_weight = weight_a - weight_b;
    if first_a <= first_b {
        quotient_weight -= 1;
    }
    let scale = (16 - quotient_weight * 4)
        .max(a.scale() as i64)
        .max(b.scale() as i64)
        .clamp(0, i64::from(MAX_SCALE)) as u32;
    let quotient = a.checked_div(b).ok_or_else(overflow)?;
    Ok(normal_zero(with_scale(quotient, scale)))
}

/// `d` rounded or padded to `scale` decimals (fewer if the mantissa cannot hold them).
pub(super) fn with_scale(d: Decimal, scale: u32) -> Decimal {
    let mut d = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(scale);
    d
}

/// The weight and first digit of `d` written in base 10000 (PostgreSQL's internal form):
/// `12345.6` is `1 2345 . 6000`, weight 1, first digit 1. Zero is weight 0, digit 0.
fn base_10000_head(d: Decimal) -> (i64, u128) {
    let mantissa = d.mantissa().unsigned_abs();
    if mantissa == 0 {
        return (0, 0);
    }
    let digits = mantissa.ilog10() as i64 + 1;
    // The decimal exponent of the leading digit.
    let exponent = digits - 1 - i64::from(d.scale());
    let weight = exponent.div_euclid(4);
    // Leading digits that fall into the first base-10000 digit.
    let lead = exponent - weight * 4 + 1;
    // The top `lead` digits of the mantissa, zeros filling in where it has fewer (0.2 is
    // the base-10000 digit 2000).
    let first = if digits >= lead {
        mantissa / 10u128.pow((digits - lead) as u32)
    } else {
        mantissa * 10u128.pow((lead - digits) as u32)
    };
    (weight, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Decimal {
        parse_numeric(text).unwrap()
    }

    #[test]
    fn division_scale_matches_postgres() {
        let cases = [
            ("10", "4", "2.5000000000000000"),
            ("1", "3", "0.33333333333333333333"),
            ("1", "30000", "0.000033333333333333333333"),
            ("100", "7", "14.2857142857142857"),
            ("2.50", "2", "1.25000000000000000000"),
            ("-7", "2", "-3.5000000000000000"),
            ("0.2", "3", "0.06666666666666666667"),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                numeric_divide(n(a), n(b)).unwrap().to_string(),
                want,
                "{a}/{b}"
            );
        }
        assert_eq!(
            numeric_divide(n("1"), n("0")).unwrap_err().sqlstate(),
            "22012"
        );
    }

    #[test]
    fn modifiers_round_and_check_precision() {
        assert_eq!(
            apply_modifier(n("1.005"), Some((5, 2)))
                .unwrap()
                .to_string(),
            "1.01"
        );
        assert_eq!(
            apply_modifier(n("-2.5"), Some((3, 0))).unwrap().to_string(),
            "-3"
        );
        assert_eq!(
            apply_modifier(n("7"), Some((4, 2))).unwrap().to_string(),
            "7.00"
        );
        let e = apply_modifier(n("123.4"), Some((4, 2))).unwrap_err();
        assert_eq!(e.sqlstate(), "22003");
        assert_eq!(
            apply_modifier(n("99.995"), Some((4, 2)))
                .unwrap_err()
                .sqlstate(),
            "22003"
        );
    }

    #[test]
    fn input_is_exact_and_errors_are_postgres_codes() {
        assert_eq!(n(" 1.50 ").to_string(), "1.50");
        assert_eq!(n("1e3").to_string(), "1000");
        assert_eq!(n("-0.0").to_string(), "0.0");
        assert_eq!(parse_numeric("1.2.3").unwrap_err().sqlstate(), "22P02");
        assert_eq!(parse_numeric("abc").unwrap_err().sqlstate(), "22P02");
        assert_eq!(
            parse_numeric("1234567890123456789012345678901234")
                .unwrap_err()
                .sqlstate(),
            "22003"
        );
        assert_eq!(numeric_from_f64(0.1).unwrap().to_string(), "0.1");
    }
}
