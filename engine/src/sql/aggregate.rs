//! Aggregate functions: COUNT, SUM, AVG, MIN, MAX, BOOL_AND, BOOL_OR, STRING_AGG, each
//! optionally over DISTINCT values, and their accumulators.

use std::collections::BTreeSet;

use super::executor::compare_sort_keys;
use super::expr::{BoundExpr, compare};
use super::operators;
use super::planner::SortKey;
use crate::encoding::encode_values;
use crate::types::{DataType, Decimal, Value};
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
    /// `array_agg(x)`: the values (NULLs too) as an array; NULL without rows.
    ArrayAgg,
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
            ("array_agg", false) => AggregateFunc::ArrayAgg,
            _ => return None,
        })
    }

    /// The result type for an argument of type `arg` (PostgreSQL's: SUM of small integers is
    /// BIGINT, of BIGINT and NUMERIC NUMERIC; AVG of integers and NUMERIC is NUMERIC).
    pub fn result_type(self, arg: Option<DataType>) -> Result<DataType> {
        use DataType::{BigInt, Double, Interval, Numeric, Real};
        let arg = arg.map(DataType::unconstrained);
        Ok(match (self, arg) {
            (AggregateFunc::CountRows | AggregateFunc::Count, _) => BigInt,
            (AggregateFunc::Sum, Some(t)) if t.is_integer() && t != BigInt => BigInt,
            (AggregateFunc::Sum | AggregateFunc::Avg, Some(t)) if t.is_integer() => Numeric(None),
            (AggregateFunc::Sum | AggregateFunc::Avg, Some(t @ (Numeric(_) | Interval))) => t,
            (AggregateFunc::Sum, Some(t @ (Real | Double))) => t,
            (AggregateFunc::Avg, Some(Real | Double)) => Double,
            (AggregateFunc::Min | AggregateFunc::Max, Some(t)) => t,
            (AggregateFunc::BoolAnd | AggregateFunc::BoolOr, Some(DataType::Boolean)) => {
                DataType::Boolean
            }
            (AggregateFunc::StringAgg, Some(DataType::Text)) => DataType::Text,
            (AggregateFunc::ArrayAgg, arg) => {
                let element = arg.unwrap_or(DataType::Text);
                DataType::array_of(element).ok_or_else(|| {
                    Error::NotSupported(format!("array_agg of {}", element.name()))
                })?
            }
            (AggregateFunc::Min | AggregateFunc::Max, None) => DataType::Text,
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
            AggregateFunc::ArrayAgg => "array_agg",
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
    /// The result type ([`AggregateFunc::result_type`] of the argument's).
    pub ty: DataType,
    /// `agg(x ORDER BY …)`: the order the values are taken in (it matters to ARRAY_AGG and
    /// STRING_AGG only).
    pub order_by: Vec<SortKey>,
}

/// The running state of one aggregate over one group.
#[derive(Debug, Clone)]
pub struct Accumulator {
    count: i64,
    value: Option<Value>,
    /// SUM and AVG of integers: exact, wide enough for any number of BIGINTs in practice.
    int_sum: i128,
    float_sum: f64,
    seen: Option<BTreeSet<Vec<u8>>>,
    /// For an ordered aggregate: each input's sort keys, value and separator, taken in order
    /// when the aggregate finishes.
    pending: Vec<(Vec<Value>, Value, Value)>,
    /// STRING_AGG's text so far.
    text: Option<String>,
}

impl Accumulator {
    pub fn new(aggregate: &Aggregate) -> Self {
        Self {
            count: 0,
            value: None,
            int_sum: 0,
            float_sum: 0.0,
            seen: aggregate.distinct.then(BTreeSet::new),
            pending: Vec::new(),
            text: None,
        }
    }

    /// Whether the order of the inputs changes the result.
    fn ordered(aggregate: &Aggregate) -> bool {
        !aggregate.order_by.is_empty()
            && matches!(
                aggregate.func,
                AggregateFunc::ArrayAgg | AggregateFunc::StringAgg
            )
    }

    pub fn add(&mut self, aggregate: &Aggregate, row: &[Value]) -> Result<()> {
        let Some(arg) = &aggregate.arg else {
            self.count += 1;
            return Ok(());
        };
        let value = arg.eval(row)?;
        if value.is_null() && aggregate.func != AggregateFunc::ArrayAgg {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            if !seen.insert(encode_values(std::slice::from_ref(&value))) {
                return Ok(());
            }
        }
        let separator = match &aggregate.separator {
            Some(sep) => sep.eval(row)?,
            None => Value::Null,
        };
        if Self::ordered(aggregate) {
            let keys = aggregate
                .order_by
                .iter()
                .map(|k| k.expr.eval(row))
                .collect::<Result<Vec<_>>>()?;
            self.pending.push((keys, value, separator));
            return Ok(());
        }
        self.add_value(aggregate, value, separator)
    }

    /// Adds one input value (not NULL, except for ARRAY_AGG) that DISTINCT let through.
    fn add_value(&mut self, aggregate: &Aggregate, value: Value, separator: Value) -> Result<()> {
        self.count += 1;
        match aggregate.func {
            AggregateFunc::CountRows | AggregateFunc::Count => {}
            AggregateFunc::Sum | AggregateFunc::Avg => match value {
                Value::Int(i) => {
                    self.int_sum = self.int_sum.checked_add(i128::from(i)).ok_or_else(|| {
                        Error::NumericOutOfRange("value overflows numeric format".into())
                    })?;
                }
                Value::Float(f) => self.float_sum += f,
                value => {
                    self.value = Some(match self.value.take() {
                        None => value,
                        Some(sum) => operators::binary(
                            super::parser::ast::BinaryOp::Add,
                            sum,
                            value,
                            DataType::Numeric(None),
                        )?,
                    });
                }
            },
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
            AggregateFunc::ArrayAgg => match &mut self.value {
                Some(Value::Array(items)) => items.push(value),
                _ => self.value = Some(Value::Array(vec![value])),
            },
            AggregateFunc::StringAgg => {
                let separator = match separator {
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let value = value.to_string();
                match &mut self.text {
                    Some(text) => {
                        text.push_str(&separator);
                        text.push_str(&value);
                    }
                    None => self.text = Some(value),
                }
            }
        }
        Ok(())
    }

    pub fn finish(mut self, aggregate: &Aggregate) -> Result<Value> {
        if !self.pending.is_empty() {
            let mut pending = std::mem::take(&mut self.pending);
            let mut failure = None;
            pending.sort_by(|(a, ..), (b, ..)| {
                compare_sort_keys(a, b, &aggregate.order_by).unwrap_or_else(|e| {
                    failure.get_or_insert(e);
                    std::cmp::Ordering::Equal
                })
            });
            if let Some(e) = failure {
                return Err(e);
            }
            for (_, value, separator) in pending {
                self.add_value(aggregate, value, separator)?;
            }
        }
        let (func, ty) = (aggregate.func, aggregate.ty);
        Ok(match func {
            AggregateFunc::CountRows | AggregateFunc::Count => Value::Int(self.count),
            AggregateFunc::Sum | AggregateFunc::Avg if self.count == 0 => Value::Null,
            AggregateFunc::Sum | AggregateFunc::Avg => {
                let sum = match (ty, self.value) {
                    (DataType::Real | DataType::Double, _) => Value::Float(self.float_sum),
                    (DataType::BigInt, _) => Value::Int(
                        i64::try_from(self.int_sum)
                            .map_err(|_| Error::NumericOutOfRange("bigint out of range".into()))?,
                    ),
                    (_, Some(sum)) => sum,
                    (_, None) => {
                        Value::Numeric(Decimal::try_from_i128_with_scale(self.int_sum, 0).map_err(
                            |_| Error::NumericOutOfRange("value overflows numeric format".into()),
                        )?)
                    }
                };
                if func == AggregateFunc::Sum {
                    sum
                } else {
                    let count = Value::Int(self.count);
                    match sum {
                        Value::Interval(i) => Value::Interval(i.scale(1.0 / self.count as f64)?),
                        sum => {
                            operators::binary(super::parser::ast::BinaryOp::Divide, sum, count, ty)?
                        }
                    }
                }
            }
            AggregateFunc::StringAgg => self.text.map_or(Value::Null, |t| Value::Text(t.into())),
            _ => self.value.unwrap_or(Value::Null),
        })
    }
}
