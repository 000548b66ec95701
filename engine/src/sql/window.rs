//! Window functions: `ROW_NUMBER`, `RANK`, `DENSE_RANK`, `PERCENT_RANK`, `CUME_DIST`, `NTILE`,
//! `LAG`, `LEAD`, `FIRST_VALUE`, `LAST_VALUE`, `NTH_VALUE`, and every aggregate `OVER` a window.
//!
//! A query's window calls run after WHERE, GROUP BY and HAVING and before DISTINCT, ORDER BY
//! and LIMIT, as in PostgreSQL. Each call sorts the row positions by its partition and order
//! keys, walks the partitions, and appends one value to every row; the projection and ORDER BY
//! read those values as extra columns after the row's own.
//!
//! Frames: with ORDER BY the default is `RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`
//! (the current row and its peers), without it the whole partition. `ROWS` frames may use
//! constant offsets. A frame that starts at the partition's start is aggregated incrementally;
//! other frames are aggregated row by row.

use std::cmp::Ordering;

use super::aggregate::{Accumulator, Aggregate};
use super::executor::compare_sort_keys;
use super::expr::BoundExpr;
use super::parser::ast::{Frame, FrameBound};
use super::planner::SortKey;
use crate::encoding::encode_values;
use crate::types::{DataType, SharedRow, Value};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    Aggregate(Aggregate),
}

impl WindowFunc {
    /// The window-only function a name denotes (aggregates are found as aggregates).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "row_number" => WindowFunc::RowNumber,
            "rank" => WindowFunc::Rank,
            "dense_rank" => WindowFunc::DenseRank,
            "percent_rank" => WindowFunc::PercentRank,
            "cume_dist" => WindowFunc::CumeDist,
            "ntile" => WindowFunc::Ntile,
            "lag" => WindowFunc::Lag,
            "lead" => WindowFunc::Lead,
            "first_value" => WindowFunc::FirstValue,
            "last_value" => WindowFunc::LastValue,
            "nth_value" => WindowFunc::NthValue,
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            WindowFunc::RowNumber => "row_number",
            WindowFunc::Rank => "rank",
            WindowFunc::DenseRank => "dense_rank",
            WindowFunc::PercentRank => "percent_rank",
            WindowFunc::CumeDist => "cume_dist",
            WindowFunc::Ntile => "ntile",
            WindowFunc::Lag => "lag",
            WindowFunc::Lead => "lead",
            WindowFunc::FirstValue => "first_value",
            WindowFunc::LastValue => "last_value",
            WindowFunc::NthValue => "nth_value",
            WindowFunc::Aggregate(a) => a.func.name(),
        }
    }

    /// Argument counts: (required, optional).
    pub fn arity(&self) -> (usize, usize) {
        match self {
            WindowFunc::RowNumber
            | WindowFunc::Rank
            | WindowFunc::DenseRank
            | WindowFunc::PercentRank
            | WindowFunc::CumeDist => (0, 0),
            WindowFunc::Ntile | WindowFunc::FirstValue | WindowFunc::LastValue => (1, 0),
            WindowFunc::Lag | WindowFunc::Lead => (1, 2),
            WindowFunc::NthValue => (2, 0),
            WindowFunc::Aggregate(_) => (0, 0),
        }
    }

    /// The result type, given the first argument's.
    pub fn result_type(&self, arg: Option<DataType>) -> DataType {
        match self {
            WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank => DataType::BigInt,
            WindowFunc::Ntile => DataType::Integer,
            WindowFunc::PercentRank | WindowFunc::CumeDist => DataType::Double,
            WindowFunc::Aggregate(aggregate) => aggregate.ty,
            _ => arg.unwrap_or(DataType::Text),
        }
    }
}

/// One window function call of a query, bound over the query's rows (the source rows, or the
/// groups when the query groups).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowPlan {
    pub func: WindowFunc,
    pub args: Vec<BoundExpr>,
    pub partition_by: Vec<BoundExpr>,
    pub order_by: Vec<SortKey>,
    pub frame: Frame,
    pub ty: DataType,
}

impl WindowPlan {
    /// The frame a call without one gets: peers included with ORDER BY, else everything.
    pub fn default_frame(ordered: bool) -> Frame {
        Frame {
            rows: false,
            start: FrameBound::UnboundedPreceding,
            end: if ordered {
                FrameBound::CurrentRow
            } else {
                FrameBound::UnboundedFollowing
            },
        }
    }
}

/// The rows with every window call's value appended, in their original order.
pub fn apply(rows: Vec<SharedRow>, windows: &[WindowPlan]) -> Result<Vec<SharedRow>> {
    let mut results: Vec<Vec<Value>> = Vec::with_capacity(windows.len());
    for window in windows {
        results.push(evaluate(&rows, window)?);
    }
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let mut extended = Vec::with_capacity(row.len() + windows.len());
            extended.extend(row.iter().cloned());
            extended.extend(
                results
                    .iter_mut()
                    .map(|r| std::mem::replace(&mut r[i], Value::Null)),
            );
            SharedRow::from(extended)
        })
        .collect())
}

/// One window call's value for every row.
fn evaluate(rows: &[SharedRow], window: &WindowPlan) -> Result<Vec<Value>> {
    let mut keyed = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        super::interrupt::check()?;
        let partition = window
            .partition_by
            .iter()
            .map(|e| e.eval(row))
            .collect::<Result<Vec<_>>>()?;
        let order = window
            .order_by
            .iter()
            .map(|k| k.expr.eval(row))
            .collect::<Result<Vec<_>>>()?;
        keyed.push((encode_values(&partition), order, i));
    }
    let mut failure = None;
    keyed.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            compare_sort_keys(&a.1, &b.1, &window.order_by).unwrap_or_else(|e| {
                failure.get_or_insert(e);
                Ordering::Equal
            })
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let mut out = vec![Value::Null; rows.len()];
    let mut start = 0;
    while start < keyed.len() {
        let end = keyed[start..]
            .iter()
            .position(|k| k.0 != keyed[start].0)
            .map_or(keyed.len(), |n| start + n);
        let partition = Partition {
            rows,
            members: &keyed[start..end],
            window,
        };
        for (position, value) in partition.values()?.into_iter().enumerate() {
            out[keyed[start + position].2] = value;
        }
        start = end;
    }
    Ok(out)
}

/// One partition: its rows' positions in window order, with their order-key values.
struct Partition<'a> {
    rows: &'a [SharedRow],
    members: &'a [(Vec<u8>, Vec<Value>, usize)],
    window: &'a WindowPlan,
}

impl Partition<'_> {
    fn row(&self, position: usize) -> &[Value] {
        &self.rows[self.members[position].2]
    }

    fn peers(&self, a: usize, b: usize) -> bool {
        compare_sort_keys(
            &self.members[a].1,
            &self.members[b].1,
            &self.window.order_by,
        )
        .is_ok_and(|o| o == Ordering::Equal)
    }

    /// The first and last positions of the peer group of `position`.
    fn peer_group(&self, position: usize) -> (usize, usize) {
        let mut first = position;
        while first > 0 && self.peers(first - 1, position) {
            first -= 1;
        }
        let mut last = position;
        while last + 1 < self.members.len() && self.peers(last + 1, position) {
            last += 1;
        }
        (first, last)
    }

    /// The positions of `position`'s frame, `start..end` (empty when `start >= end`).
    fn frame(&self, position: usize) -> (usize, usize) {
        let n = self.members.len();
        let frame = self.window.frame;
        let (peer_first, peer_last) = if frame.rows {
            (position, position)
        } else {
            self.peer_group(position)
        };
        let offset = |k: u64| usize::try_from(k).unwrap_or(usize::MAX);
        let start = match frame.start {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(k) => position.saturating_sub(offset(k)),
            FrameBound::CurrentRow => peer_first,
            FrameBound::Following(k) => position.saturating_add(offset(k)).min(n),
            FrameBound::UnboundedFollowing => n,
        };
        let end = match frame.end {
            FrameBound::UnboundedPreceding => 0,
            FrameBound::Preceding(k) => (position + 1).saturating_sub(offset(k)),
            FrameBound::CurrentRow => peer_last + 1,
            FrameBound::Following(k) => position.saturating_add(offset(k)).saturating_add(1),
            FrameBound::UnboundedFollowing => n,
        };
        (start, end.min(n))
    }

    fn arg(&self, i: usize, position: usize) -> Result<Value> {
        match self.window.args.get(i) {
            Some(e) => e.eval(self.row(position)),
            None => Ok(Value::Null),
        }
    }

    fn values(&self) -> Result<Vec<Value>> {
        let n = self.members.len();
        let mut out = Vec::with_capacity(n);
        match &self.window.func {
            WindowFunc::RowNumber => out.extend((1..=n).map(|i| Value::Int(i as i64))),
            WindowFunc::Rank | WindowFunc::DenseRank | WindowFunc::PercentRank => {
                let (mut rank, mut dense) = (1, 1);
                for position in 0..n {
                    if position > 0 && !self.peers(position - 1, position) {
                        rank = position + 1;
                        dense += 1;
                    }
                    out.push(match self.window.func {
                        WindowFunc::Rank => Value::Int(rank as i64),
                        WindowFunc::DenseRank => Value::Int(dense as i64),
                        _ if n == 1 => Value::Float(0.0),
                        _ => Value::Float((rank - 1) as f64 / (n - 1) as f64),
                    });
                }
            }
            WindowFunc::CumeDist => {
                for position in 0..n {
                    let (_, last) = self.peer_group(position);
                    out.push(Value::Float((last + 1) as f64 / n as f64));
                }
            }
            WindowFunc::Ntile => {
                let buckets = match self.arg(0, 0)? {
                    Value::Int(b) if b > 0 => usize::try_from(b).unwrap_or(usize::MAX),
                    Value::Null => return Ok(vec![Value::Null; n]),
                    _ => {
                        return Err(Error::InvalidArgument(
                            "argument of ntile must be greater than zero".into(),
                        ));
                    }
                };
                // Buckets differ in size by at most one, the larger ones first.
                let (size, larger) = (n / buckets, n % buckets);
                for position in 0..n {
                    let bucket = if position < larger * (size + 1) {
                        position / (size + 1)
                    } else {
                        larger + (position - larger * (size + 1)) / size.max(1)
                    };
                    out.push(Value::Int(bucket as i64 + 1));
                }
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                for position in 0..n {
                    let offset = match self.arg(1, position)? {
                        Value::Int(k) => k,
                        Value::Null if self.window.args.len() > 1 => {
                            out.push(Value::Null);
                            continue;
                        }
                        _ => 1,
                    };
                    let offset = if self.window.func == WindowFunc::Lag {
                        -offset
                    } else {
                        offset
                    };
                    let target = i64::try_from(position)
                        .ok()
                        .and_then(|p| p.checked_add(offset))
                        .and_then(|t| usize::try_from(t).ok())
                        .filter(|t| *t < n);
                    out.push(match target {
                        Some(t) => self.arg(0, t)?,
                        None => self.arg(2, position)?,
                    });
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                for position in 0..n {
                    let (start, end) = self.frame(position);
                    let nth = match self.window.func {
                        WindowFunc::FirstValue => Some(0),
                        WindowFunc::LastValue => end.checked_sub(start + 1),
                        _ => match self.arg(1, position)? {
                            Value::Int(k) if k > 0 => usize::try_from(k - 1).ok(),
                            Value::Null => None,
                            _ => {
                                return Err(Error::InvalidArgument(
                                    "argument of nth_value must be greater than zero".into(),
                                ));
                            }
                        },
                    };
                    out.push(match nth.map(|k| start + k).filter(|t| *t < end) {
                        Some(t) => self.arg(0, t)?,
                        None => Value::Null,
                    });
                }
            }
            WindowFunc::Aggregate(aggregate) => self.aggregate(aggregate, &mut out)?,
        }
        Ok(out)
    }

    /// An aggregate over each row's frame: a running accumulator while frames only grow at
    /// the end (frames from the partition's start), else one accumulator per row.
    fn aggregate(&self, aggregate: &Aggregate, out: &mut Vec<Value>) -> Result<()> {
        let n = self.members.len();
        let running = self.window.frame.start == FrameBound::UnboundedPreceding;
        let mut accumulator = Accumulator::new(aggregate);
        let mut added = 0;
        for position in 0..n {
            let (start, end) = self.frame(position);
            if running {
                while added < end {
                    accumulator.add(aggregate, self.row(added))?;
                    added += 1;
                }
                out.push(accumulator.clone().finish(aggregate)?);
            } else {
                let mut fresh = Accumulator::new(aggregate);
                for member in start..end.max(start) {
                    fresh.add(aggregate, self.row(member))?;
                }
                out.push(fresh.finish(aggregate)?);
            }
        }
        Ok(())
    }
}
