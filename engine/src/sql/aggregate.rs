//! Aggregate functions: COUNT, SUM, AVG, MIN, MAX, BOOL_AND, BOOL_OR, STRING_AGG, each
//! optionally over DISTINCT values, and their accumulators.

use std::collections::BTreeSet;

use super::expr::{BoundExpr, compare};
use crate::encoding::encode_values;
use crate::types::{DataType, Value};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateFunc {
    /// `count(*)`: rows, NULLs included.
    CountRows,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
}

impl AggregateFunc {
    /// The aggregate a function name denotes, if it is one.
    pub fn from_name(name: &str, star: bool) -> Option<Self> {
        Some(match (name, star) {
            ("count", true) => AggregateFunc::CountRows,
            ("count", false) => AggregateFunc::Count,
            ("sum", false) => AggregateFunc::Sum,
            ("avg", false) => AggregateFunc::Avg,
            ("min", false) => AggregateFunc::Min,
            ("max", false) => AggregateFunc::Max,
            ("bool_and", false) | ("every", false) => AggregateFunc::BoolAnd,
            ("bool_or", false) => AggregateFunc::BoolOr,
            ("string_agg", false) => AggregateFunc::StringAgg,
            _ => return None,
        })
    }

    /// The result type for an argument of type `arg` (PostgreSQL's, except that SUM of
    /// BIGINT and AVG of integers give BIGINT and DOUBLE PRECISION until NUMERIC exists).
    pub fn result_type(self, arg: Option<DataType>) -> Result<DataType> {
        let numeric = |t: DataType| {
            matches!(
                t,
                DataType::SmallInt
                    | DataType::Integer
                    | DataType::BigInt
                    | DataType::Real
                    | DataType::Double
            )
        };
        Ok(match (self, arg) {
            (AggregateFunc::CountRows | AggregateFunc::Count, _) => DataType::BigInt,
            (AggregateFunc::Sum, Some(t)) if t.is_integer() => DataType::BigInt,
            (AggregateFunc::Sum, Some(t)) if numeric(t) => t,
            (AggregateFunc::Avg, Some(t)) if numeric(t) => DataType::Double,
            (AggregateFunc::Min | AggregateFunc::Max, Some(t)) => t,
            (AggregateFunc::BoolAnd | AggregateFunc::BoolOr, Some(DataType::Boolean)) => {
                DataType::Boolean
            }
            (AggregateFunc::StringAgg, Some(DataType::Text)) => DataType::Text,
            (func, arg) => {
                return Err(Error::UndefinedFunction(format!(
                    "function {}({}) does not exist",
                    func.name(),
                    arg.map_or("unknown", DataType::name)
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AggregateFunc::CountRows | AggregateFunc::Count => "count",
            AggregateFunc::Sum => "sum",
            AggregateFunc::Avg => "avg",
            AggregateFunc::Min => "min",
            AggregateFunc::Max => "max",
            AggregateFunc::BoolAnd => "bool_and",
            AggregateFunc::BoolOr => "bool_or",
            AggregateFunc::StringAgg => "string_agg",
        }
    }
}

/// One aggregate call of a query, bound over the input rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub func: AggregateFunc,
    /// The argument (none for `count(*)`).
    pub arg: Option<BoundExpr>,
    /// STRING_AGG's separator.
    pub separator: Option<BoundExpr>,
    pub distinct: bool,
}

/// The running state of one aggregate over one group.
#[derive(Debug, Clone)]
pub struct Accumulator {
    count: i64,
    value: Option<Value>,
    float_sum: f64,
    seen: Option<BTreeSet<Vec<u8>>>,
}

impl Accumulator {
    pub fn new(aggregate: &Aggregate) -> Self {
        Self {
            count: 0,
            value: None,
            float_sum: 0.0,
            seen: aggregate.distinct.then(BTreeSet::new),
        }
    }

    pub fn add(&mut self, aggregate: &Aggregate, row: &[Value]) -> Result<()> {
        let Some(arg) = &aggregate.arg else {
            self.count += 1;
            return Ok(());
        };
        let value = arg.eval(row)?;
        if value.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            if !seen.insert(encode_values(std::slice::from_ref(&value))) {
                return Ok(());
            }
        }
        self.count += 1;
        match aggregate.func {
            AggregateFunc::CountRows | AggregateFunc::Count => {}
            AggregateFunc::Sum => {
                self.value = Some(match (self.value.take(), value) {
                    (None, v) => v,
                    (Some(Value::Int(a)), Value::Int(b)) => {
                        Value::Int(a.checked_add(b).ok_or_else(|| {
                            Error::NumericOutOfRange("bigint out of range".into())
                        })?)
                    }
                    (Some(Value::Float(a)), Value::Float(b)) => Value::Float(a + b),
                    (Some(a), b) => {
                        return Err(Error::Datatype(format!(
                            "cannot sum {} and {}",
                            a.type_name(),
                            b.type_name()
                        )));
                    }
                });
            }
            AggregateFunc::Avg => {
                self.float_sum += match value {
                    Value::Int(i) => i as f64,
                    Value::Float(f) => f,
                    _ => 0.0,
                };
            }
            AggregateFunc::Min | AggregateFunc::Max => {
                let replace = match &self.value {
                    None => true,
                    Some(current) => {
                        let ordering = compare(&value, current)?;
                        match aggregate.func {
                            AggregateFunc::Min => ordering == Some(std::cmp::Ordering::Less),
                            _ => ordering == Some(std::cmp::Ordering::Greater),
                        }
                    }
                };
                if replace {
                    self.value = Some(value);
                }
            }
            AggregateFunc::BoolAnd | AggregateFunc::BoolOr => {
                let b = matches!(value, Value::Boolean(true));
                let current = match &self.value {
                    Some(Value::Boolean(c)) => Some(*c),
                    _ => None,
                };
                let next = match (aggregate.func, current) {
                    (_, None) => b,
                    (AggregateFunc::BoolAnd, Some(c)) => c && b,
                    (_, Some(c)) => c || b,
                };
                self.value = Some(Value::Boolean(next));
            }
            AggregateFunc::StringAgg => {
                let separator = match &aggregate.separator {
                    Some(sep) => match sep.eval(row)? {
                        Value::Null => String::new(),
                        other => other.to_string(),
                    },
                    None => String::new(),
                };
                let text = value.to_string();
                self.value = Some(Value::Text(match self.value.take() {
                    Some(Value::Text(mut acc)) => {
                        acc.push_str(&separator);
                        acc.push_str(&text);
                        acc
                    }
                    _ => text,
                }));
            }
        }
        Ok(())
    }

    pub fn finish(self, aggregate: &Aggregate) -> Value {
        match aggregate.func {
            AggregateFunc::CountRows | AggregateFunc::Count => Value::Int(self.count),
            AggregateFunc::Avg if self.count == 0 => Value::Null,
            AggregateFunc::Avg => Value::Float(self.float_sum / self.count as f64),
            _ => self.value.unwrap_or(Value::Null),
        }
    }
}
