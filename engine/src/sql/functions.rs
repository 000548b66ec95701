//! Scalar functions: their names, signatures (how arguments are converted, what they return)
//! and implementations. NULL in, NULL out, unless a function says otherwise (COALESCE,
//! CONCAT, GREATEST/LEAST skip NULLs).

use std::cmp::Ordering;

use super::expr::{BoundExpr, compare, out_of_range};
use crate::types::{DataType, Value};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarFunc {
    Coalesce,
    NullIf,
    Greatest,
    Least,
    Abs,
    Round,
    Ceil,
    Floor,
    Sqrt,
    Power,
    Exp,
    Ln,
    Log10,
    Mod,
    Sign,
    Pi,
    Lower,
    Upper,
    Length,
    Trim,
    LTrim,
    RTrim,
    Substr,
    Replace,
    Left,
    Right,
    Repeat,
    Reverse,
    StrPos,
    SplitPart,
    Concat,
    ConcatWs,
}

/// How an argument is converted before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    Text,
    Integer,
    Double,
    /// Every argument converted to one common type (COALESCE, GREATEST, …).
    Common,
    /// Anything, as it is (CONCAT).
    Any,
}

/// A function's signature: fixed parameters, then optional ones, then a repeatable one.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub required: &'static [Param],
    pub optional: &'static [Param],
    pub repeated: Option<Param>,
    /// The result type; `None`: the common type of the arguments (or the first one's).
    pub result: Option<DataType>,
}

const fn sig(
    required: &'static [Param],
    optional: &'static [Param],
    repeated: Option<Param>,
    result: Option<DataType>,
) -> Signature {
    Signature {
        required,
        optional,
        repeated,
        result,
    }
}

impl ScalarFunc {
    pub fn from_name(name: &str) -> Option<Self> {
        use ScalarFunc::*;
        Some(match name {
            "coalesce" => Coalesce,
            "nullif" => NullIf,
            "greatest" => Greatest,
            "least" => Least,
            "abs" => Abs,
            "round" => Round,
            "ceil" | "ceiling" => Ceil,
            "floor" => Floor,
            "sqrt" => Sqrt,
            "power" | "pow" => Power,
            "exp" => Exp,
            "ln" => Ln,
            "log" | "log10" => Log10,
            "mod" => Mod,
            "sign" => Sign,
            "pi" => Pi,
            "lower" => Lower,
            "upper" => Upper,
            "length" | "char_length" | "character_length" => Length,
            "trim" | "btrim" => Trim,
            "ltrim" => LTrim,
            "rtrim" => RTrim,
            "substr" | "substring" => Substr,
            "replace" => Replace,
            "left" => Left,
            "right" => Right,
            "repeat" => Repeat,
            "reverse" => Reverse,
            "strpos" => StrPos,
            "split_part" => SplitPart,
            "concat" => Concat,
            "concat_ws" => ConcatWs,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use ScalarFunc::*;
        match self {
            Coalesce => "coalesce",
            NullIf => "nullif",
            Greatest => "greatest",
            Least => "least",
            Abs => "abs",
            Round => "round",
            Ceil => "ceil",
            Floor => "floor",
            Sqrt => "sqrt",
            Power => "power",
            Exp => "exp",
            Ln => "ln",
            Log10 => "log",
            Mod => "mod",
            Sign => "sign",
            Pi => "pi",
            Lower => "lower",
            Upper => "upper",
            Length => "length",
            Trim => "btrim",
            LTrim => "ltrim",
            RTrim => "rtrim",
            Substr => "substr",
            Replace => "replace",
            Left => "left",
            Right => "right",
            Repeat => "repeat",
            Reverse => "reverse",
            StrPos => "strpos",
            SplitPart => "split_part",
            Concat => "concat",
            ConcatWs => "concat_ws",
        }
    }

    pub fn signature(self) -> Signature {
        use DataType as T;
        use Param::*;
        use ScalarFunc::*;
        match self {
            Coalesce => sig(&[Common], &[], Some(Common), None),
            NullIf => sig(&[Common, Common], &[], None, None),
            Greatest | Least => sig(&[Common], &[], Some(Common), None),
            Abs => sig(&[Common], &[], None, None),
            Round => sig(&[Double], &[Integer], None, Some(T::Double)),
            Ceil | Floor | Sqrt | Exp | Ln | Log10 | Sign => {
                sig(&[Double], &[], None, Some(T::Double))
            }
            Power => sig(&[Double, Double], &[], None, Some(T::Double)),
            Mod => sig(&[Integer, Integer], &[], None, Some(T::BigInt)),
            Pi => sig(&[], &[], None, Some(T::Double)),
            Lower | Upper | Reverse => sig(&[Text], &[], None, Some(T::Text)),
            Length => sig(&[Text], &[], None, Some(T::Integer)),
            Trim | LTrim | RTrim => sig(&[Text], &[Text], None, Some(T::Text)),
            Substr => sig(&[Text, Integer], &[Integer], None, Some(T::Text)),
            Replace => sig(&[Text, Text, Text], &[], None, Some(T::Text)),
            Left | Right | Repeat => sig(&[Text, Integer], &[], None, Some(T::Text)),
            StrPos => sig(&[Text, Text], &[], None, Some(T::Integer)),
            SplitPart => sig(&[Text, Text, Integer], &[], None, Some(T::Text)),
            Concat => sig(&[], &[], Some(Any), Some(T::Text)),
            ConcatWs => sig(&[Text], &[], Some(Any), Some(T::Text)),
        }
    }

    pub fn call(self, args: &[BoundExpr], row: &[Value]) -> Result<Value> {
        use ScalarFunc::*;
        // The functions that look at NULLs themselves.
        match self {
            Coalesce => {
                for arg in args {
                    let value = arg.eval(row)?;
                    if !value.is_null() {
                        return Ok(value);
                    }
                }
                return Ok(Value::Null);
            }
            Greatest | Least => {
                let mut best: Option<Value> = None;
                for arg in args {
                    let value = arg.eval(row)?;
                    if value.is_null() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some(b) => {
                            let o = compare(&value, b)?;
                            if self == Greatest {
                                o == Some(Ordering::Greater)
                            } else {
                                o == Some(Ordering::Less)
                            }
                        }
                    };
                    if better {
                        best = Some(value);
                    }
                }
                return Ok(best.unwrap_or(Value::Null));
            }
            Concat | ConcatWs => {
                let values = args
                    .iter()
                    .map(|a| a.eval(row))
                    .collect::<Result<Vec<_>>>()?;
                let (separator, values) = match self {
                    ConcatWs => match values.split_first() {
                        Some((Value::Null, _)) => return Ok(Value::Null),
                        Some((sep, rest)) => (sep.to_string(), rest),
                        None => (String::new(), &values[..]),
                    },
                    _ => (String::new(), &values[..]),
                };
                let parts: Vec<String> = values
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(Value::to_string)
                    .collect();
                return Ok(Value::Text(parts.join(&separator)));
            }
            NullIf => {
                let a = args[0].eval(row)?;
                let b = args[1].eval(row)?;
                return Ok(match compare(&a, &b)? {
                    Some(Ordering::Equal) => Value::Null,
                    _ => a,
                });
            }
            Pi => return Ok(Value::Float(std::f64::consts::PI)),
            _ => {}
        }
        let values = args
            .iter()
            .map(|a| a.eval(row))
            .collect::<Result<Vec<_>>>()?;
        if values.iter().any(Value::is_null) {
            return Ok(Value::Null);
        }
        let text = |i: usize| values[i].to_string();
        let int = |i: usize| match values[i] {
            Value::Int(n) => n,
            _ => 0,
        };
        let float = |i: usize| match values[i] {
            Value::Float(f) => f,
            Value::Int(n) => n as f64,
            _ => f64::NAN,
        };
        Ok(match self {
            Abs => match &values[0] {
                Value::Int(i) => Value::Int(
                    i.checked_abs()
                        .ok_or_else(|| out_of_range(DataType::BigInt))?,
                ),
                Value::Float(f) => Value::Float(f.abs()),
                other => other.clone(),
            },
            Round => {
                let digits = if values.len() > 1 { int(1) } else { 0 };
                let scale = 10f64.powi(i32::try_from(digits).unwrap_or(0));
                // PostgreSQL's numeric round: half away from zero.
                Value::Float((float(0) * scale).round() / scale)
            }
            Ceil => Value::Float(float(0).ceil()),
            Floor => Value::Float(float(0).floor()),
            Sqrt if float(0) < 0.0 => {
                return Err(Error::InvalidArgument(
                    "cannot take square root of a negative number".into(),
                ));
            }
            Sqrt => Value::Float(float(0).sqrt()),
            Power => Value::Float(float(0).powf(float(1))),
            Exp => Value::Float(float(0).exp()),
            Ln | Log10 if float(0) <= 0.0 => {
                return Err(Error::InvalidArgument(if float(0) == 0.0 {
                    "cannot take logarithm of zero".into()
                } else {
                    "cannot take logarithm of a negative number".into()
                }));
            }
            Ln => Value::Float(float(0).ln()),
            Log10 => Value::Float(float(0).log10()),
            Mod if int(1) == 0 => return Err(Error::DivisionByZero),
            Mod => Value::Int(int(0).wrapping_rem(int(1))),
            Sign => Value::Float(if float(0) > 0.0 {
                1.0
            } else if float(0) < 0.0 {
                -1.0
            } else {
                0.0
            }),
            Lower => Value::Text(text(0).to_lowercase()),
            Upper => Value::Text(text(0).to_uppercase()),
            Reverse => Value::Text(text(0).chars().rev().collect()),
            Length => Value::Int(text(0).chars().count() as i64),
            Trim | LTrim | RTrim => {
                let set: Vec<char> = if values.len() > 1 {
                    text(1).chars().collect()
                } else {
                    vec![' ']
                };
                let s = text(0);
                let trimmed = match self {
                    LTrim => s.trim_start_matches(set.as_slice()),
                    RTrim => s.trim_end_matches(set.as_slice()),
                    _ => s.trim_matches(set.as_slice()),
                };
                Value::Text(trimmed.to_string())
            }
            Substr => {
                let chars: Vec<char> = text(0).chars().collect();
                // 1-based start; characters before position 1 count against the length.
                let start = int(1);
                let end = if values.len() > 2 {
                    if int(2) < 0 {
                        return Err(Error::InvalidArgument(
                            "negative substring length not allowed".into(),
                        ));
                    }
                    start.saturating_add(int(2))
                } else {
                    i64::MAX
                };
                let from = usize::try_from(start.max(1) - 1)
                    .unwrap_or(0)
                    .min(chars.len());
                let to = usize::try_from((end - 1).max(0))
                    .unwrap_or(usize::MAX)
                    .min(chars.len());
                Value::Text(chars[from..to.max(from)].iter().collect())
            }
            Replace => Value::Text(text(0).replace(&text(1), &text(2))),
            Left | Right => {
                let chars: Vec<char> = text(0).chars().collect();
                let n = int(1);
                let count = if n >= 0 {
                    usize::try_from(n).unwrap_or(usize::MAX).min(chars.len())
                } else {
                    chars
                        .len()
                        .saturating_sub(usize::try_from(-n).unwrap_or(usize::MAX))
                };
                Value::Text(if self == Left {
                    chars[..count].iter().collect()
                } else {
                    chars[chars.len() - count..].iter().collect()
                })
            }
            Repeat => {
                let n = usize::try_from(int(1)).unwrap_or(0);
                if text(0).len().saturating_mul(n) > 1 << 30 {
                    return Err(Error::InvalidArgument("requested length too large".into()));
                }
                Value::Text(text(0).repeat(n))
            }
            StrPos => Value::Int(match text(0).find(&text(1)) {
                Some(byte) => text(0)[..byte].chars().count() as i64 + 1,
                None => 0,
            }),
            SplitPart => {
                let n = int(2);
                if n == 0 {
                    return Err(Error::InvalidArgument(
                        "field position must not be zero".into(),
                    ));
                }
                let s = text(0);
                let delimiter = text(1);
                let parts: Vec<&str> = if delimiter.is_empty() {
                    vec![s.as_str()]
                } else {
                    s.split(delimiter.as_str()).collect()
                };
                let index = if n > 0 {
                    usize::try_from(n - 1).ok()
                } else {
                    parts
                        .len()
                        .checked_sub(usize::try_from(-n).unwrap_or(usize::MAX))
                };
                Value::Text(
                    index
                        .and_then(|i| parts.get(i))
                        .copied()
                        .unwrap_or("")
                        .to_string(),
                )
            }
            Coalesce | NullIf | Greatest | Least | Concat | ConcatWs | Pi => Value::Null,
        })
    }
}
