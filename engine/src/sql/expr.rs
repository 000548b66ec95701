//! Bound expressions: columns resolved to positions, literals typed, implicit casts made
//! explicit — and their evaluation with SQL's three-valued logic.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

pub use super::functions::ScalarFunc;
use super::operators::{binary, negate};
pub use super::operators::{compare, numeric_result};
use super::parser::ast::BinaryOp;
use super::system::Lookup;
use crate::types::{DataType, Value};
pub use crate::types::{cast, out_of_range};
use crate::{Error, Result};

/// The type of an expression: a column type, or unknown (a NULL or quoted literal whose type
/// the context decides, as in PostgreSQL).
pub type SqlType = Option<DataType>;

thread_local! {
    /// The running statement's parameter values (`$1` first), set by the session.
    static PARAMETERS: RefCell<Vec<Value>> = const { RefCell::new(Vec::new()) };
}

/// The running statement's parameter values.
pub fn parameters() -> Vec<Value> {
    PARAMETERS.with(|p| p.borrow().clone())
}

/// The parameter `expr` reads, bare or under a cast, with the cast's type (`None`: bare):
/// the shape of a prepared statement's key expressions.
pub fn parameter_of(expr: &BoundExpr) -> Option<(usize, Option<DataType>)> {
    match expr {
        BoundExpr::Parameter(i) => Some((*i, None)),
        BoundExpr::Cast { expr, to } => match **expr {
            BoundExpr::Parameter(i) => Some((i, Some(*to))),
            _ => None,
        },
        _ => None,
    }
}

/// The integer `expr` evaluates to when it is a parameter holding one, bare or cast to an
/// integer type it fits (the cast would return it unchanged), read without evaluating
/// anything: for a primary-key lookup's key, the most frequent expression there is.
pub fn integer_parameter(expr: &BoundExpr) -> Option<i64> {
    let (index, to) = parameter_of(expr)?;
    let value = PARAMETERS.with(|p| p.borrow().get(index)?.as_int())?;
    match to {
        None => Some(value),
        Some(ty) if ty.is_integer() && crate::types::fits(value, ty) => Some(value),
        Some(_) => None,
    }
}

/// The running statement's parameter `index`, cast to `to`. The value is cloned straight
/// into the result when it needs no conversion: a prepared INSERT's or lookup's parameters
/// are most often of their column's type already.
fn parameter(index: usize, to: Option<DataType>) -> Result<Value> {
    PARAMETERS.with(|p| match (p.borrow().get(index), to) {
        (None, _) => Err(Error::UndefinedParameter(index + 1)),
        (Some(value), None) => Ok(value.clone()),
        (Some(value), Some(to)) if to.holds(value) => Ok(value.clone()),
        (Some(value), Some(to)) => cast(value.clone(), to),
    })
}

/// Runs `f` with `values` as the parameters of the statement it executes on this thread
/// (statements do not nest: there is one set of values at a time).
pub fn with_parameters<T>(values: &[Value], f: impl FnOnce() -> T) -> T {
    /// Forgets the values when `f` is done, even if it unwinds.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            PARAMETERS.with(|p| p.borrow_mut().clear());
        }
    }
    PARAMETERS.with(|p| {
        let mut p = p.borrow_mut();
        p.clear();
        p.extend_from_slice(values);
    });
    let _clear = Clear;
    f()
}

#[derive(Debug, Clone, PartialEq)]
pub enum BoundExpr {
    Constant(Value),
    /// A column of the input row, by position.
    Column(usize),
    /// A statement parameter (`$1` is 0), replaced by its value before execution.
    Parameter(usize),
    /// In a correlated subquery, a column of the enclosing query's row (by position, with its
    /// type); replaced by that row's value before the subquery runs.
    Outer(usize, DataType),
    /// The value of the query's `n`th window function call; the planner turns it into the
    /// column the executor appends for it once the row's width is known.
    WindowResult(usize),
    Negate(Box<BoundExpr>),
    Not(Box<BoundExpr>),
    Binary {
        op: BinaryOp,
        left: Box<BoundExpr>,
        right: Box<BoundExpr>,
        /// The type arithmetic is checked against (overflow errors name it).
        ty: DataType,
    },
    IsNull {
        expr: Box<BoundExpr>,
        negated: bool,
    },
    InList {
        expr: Box<BoundExpr>,
        list: Vec<BoundExpr>,
        negated: bool,
    },
    /// `expr IN (subquery)` once the subquery has run: its non-NULL values sorted (by
    /// [`compare`]) for binary search, and whether it also returned NULL. Made by the
    /// executor, never by the planner.
    InSet {
        expr: Box<BoundExpr>,
        values: Arc<[Value]>,
        has_null: bool,
        negated: bool,
    },
    Cast {
        expr: Box<BoundExpr>,
        to: DataType,
    },
    /// A scalar function call.
    Call {
        func: ScalarFunc,
        args: Vec<BoundExpr>,
    },
    /// The result of the first branch whose condition is true, else `otherwise` (or NULL).
    Case {
        branches: Vec<(BoundExpr, BoundExpr)>,
        otherwise: Option<Box<BoundExpr>>,
    },
    /// `expr [NOT] LIKE/ILIKE pattern` (`%` any string, `_` any character, `\` escapes).
    Like {
        expr: Box<BoundExpr>,
        pattern: Box<BoundExpr>,
        negated: bool,
        case_insensitive: bool,
    },
    /// A subquery. The executor runs an uncorrelated one once, before the statement, and
    /// puts its result in its place; a correlated one (reading [`BoundExpr::Outer`] columns)
    /// runs for each row that needs it.
    Subquery {
        plan: Box<crate::sql::planner::SelectPlan>,
        kind: SubqueryKind,
        correlated: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`: equality where NULL equals NULL; never NULL itself.
    Distinct {
        left: Box<BoundExpr>,
        right: Box<BoundExpr>,
        negated: bool,
    },
    /// `key` looked up in a table of the system catalogs made when the statement was
    /// planned (`pg_get_indexdef(oid)`, `'t'::regclass`, …).
    Lookup {
        key: Box<BoundExpr>,
        table: Arc<Lookup>,
    },
}

/// What a subquery stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum SubqueryKind {
    /// Its single value (NULL without rows; more than one row is an error).
    Scalar,
    /// Whether it returns any row (negated: none).
    Exists { negated: bool },
    /// `expr [NOT] IN (subquery)`.
    In { expr: Box<BoundExpr>, negated: bool },
    /// `ARRAY(subquery)`: its rows' single column as an array.
    Array,
}

impl BoundExpr {
    pub fn eval(&self, row: &[Value]) -> Result<Value> {
        match self {
            BoundExpr::Constant(value) => Ok(value.clone()),
            BoundExpr::Column(i) => Ok(row[*i].clone()),
            BoundExpr::Parameter(i) => parameter(*i, None),
            BoundExpr::Outer(..) => Err(Error::NotSupported(
                "an outer reference evaluated outside its subquery".into(),
            )),
            BoundExpr::WindowResult(_) => Err(Error::Windowing(
                "a window function outside its query".into(),
            )),
            BoundExpr::Negate(expr) => negate(expr.eval(row)?),
            BoundExpr::Not(expr) => match expr.eval(row)? {
                Value::Null => Ok(Value::Null),
                Value::Boolean(b) => Ok(Value::Boolean(!b)),
                other => Err(not_boolean("NOT", &other)),
            },
            BoundExpr::Binary {
                op,
                left,
                right,
                ty,
            } => match op {
                BinaryOp::And | BinaryOp::Or => {
                    let l = truth(left.eval(row)?, op.symbol())?;
                    // Short-circuit where the result is already decided.
                    match (op, l) {
                        (BinaryOp::And, Some(false)) => return Ok(Value::Boolean(false)),
                        (BinaryOp::Or, Some(true)) => return Ok(Value::Boolean(true)),
                        _ => {}
                    }
                    let r = truth(right.eval(row)?, op.symbol())?;
                    Ok(match (op, l, r) {
                        (BinaryOp::And, _, Some(false)) => Value::Boolean(false),
                        (BinaryOp::And, Some(true), Some(true)) => Value::Boolean(true),
                        (BinaryOp::Or, _, Some(true)) => Value::Boolean(true),
                        (BinaryOp::Or, Some(false), Some(false)) => Value::Boolean(false),
                        _ => Value::Null,
                    })
                }
                _ => binary(*op, left.eval(row)?, right.eval(row)?, *ty),
            },
            BoundExpr::IsNull { expr, negated } => {
                Ok(Value::Boolean(expr.eval(row)?.is_null() != *negated))
            }
            BoundExpr::InList {
                expr,
                list,
                negated,
            } => {
                let value = expr.eval(row)?;
                // Nothing is in an empty set, not even NULL (an empty subquery result).
                if list.is_empty() {
                    return Ok(Value::Boolean(*negated));
                }
                if value.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let item = item.eval(row)?;
                    match compare(&value, &item)? {
                        Some(Ordering::Equal) => return Ok(Value::Boolean(!negated)),
                        Some(_) => {}
                        None => saw_null = true,
                    }
                }
                Ok(if saw_null {
                    Value::Null
                } else {
                    Value::Boolean(*negated)
                })
            }
            BoundExpr::InSet {
                expr,
                values,
                has_null,
                negated,
            } => {
                let value = expr.eval(row)?;
                if values.is_empty() && !has_null {
                    return Ok(Value::Boolean(*negated));
                }
                if value.is_null() {
                    return Ok(Value::Null);
                }
                let mut failure = None;
                let found = values
                    .binary_search_by(|item| match compare(item, &value) {
                        Ok(order) => order.unwrap_or(Ordering::Less),
                        Err(e) => {
                            failure.get_or_insert(e);
                            Ordering::Less
                        }
                    })
                    .is_ok();
                if let Some(e) = failure {
                    return Err(e);
                }
                Ok(match (found, has_null) {
                    (true, _) => Value::Boolean(!negated),
                    (false, true) => Value::Null,
                    (false, false) => Value::Boolean(*negated),
                })
            }
            BoundExpr::Cast { expr, to } => match **expr {
                BoundExpr::Parameter(i) => parameter(i, Some(*to)),
                _ => cast(expr.eval(row)?, *to),
            },
            BoundExpr::Call { func, args } => func.call(args, row),
            BoundExpr::Case {
                branches,
                otherwise,
            } => {
                for (condition, result) in branches {
                    if condition.eval(row)? == Value::Boolean(true) {
                        return result.eval(row);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(row),
                    None => Ok(Value::Null),
                }
            }
            BoundExpr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => match (expr.eval(row)?, pattern.eval(row)?) {
                (Value::Null, _) | (_, Value::Null) => Ok(Value::Null),
                (value, pattern) => {
                    let (mut text, mut pattern) = (value.to_string(), pattern.to_string());
                    if *case_insensitive {
                        text = text.to_lowercase();
                        pattern = pattern.to_lowercase();
                    }
                    Ok(Value::Boolean(like(&text, &pattern)? != *negated))
                }
            },
            BoundExpr::Subquery { .. } => Err(Error::NotSupported(
                "a subquery that was not run before its statement".into(),
            )),
            BoundExpr::Distinct {
                left,
                right,
                negated,
            } => {
                let (l, r) = (left.eval(row)?, right.eval(row)?);
                let distinct = match (l.is_null(), r.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => compare(&l, &r)? != Some(Ordering::Equal),
                };
                Ok(Value::Boolean(distinct != *negated))
            }
            BoundExpr::Lookup { key, table } => table.get(&key.eval(row)?),
        }
    }

    /// Whether `f` holds for this expression or a subexpression, not looking into subqueries'
    /// own plans.
    pub fn any(&self, f: &mut impl FnMut(&BoundExpr) -> bool) -> bool {
        if f(self) {
            return true;
        }
        match self {
            BoundExpr::Constant(_)
            | BoundExpr::Column(_)
            | BoundExpr::Parameter(_)
            | BoundExpr::Outer(..)
            | BoundExpr::WindowResult(_) => false,
            BoundExpr::Negate(e) | BoundExpr::Not(e) => e.any(f),
            BoundExpr::Cast { expr, .. }
            | BoundExpr::IsNull { expr, .. }
            | BoundExpr::InSet { expr, .. } => expr.any(f),
            BoundExpr::Lookup { key, .. } => key.any(f),
            BoundExpr::Binary { left, right, .. } | BoundExpr::Distinct { left, right, .. } => {
                left.any(f) || right.any(f)
            }
            BoundExpr::InList { expr, list, .. } => expr.any(f) || list.iter().any(|e| e.any(f)),
            BoundExpr::Call { args, .. } => args.iter().any(|e| e.any(f)),
            BoundExpr::Case {
                branches,
                otherwise,
            } => {
                branches.iter().any(|(c, r)| c.any(f) || r.any(f))
                    || otherwise.as_deref().is_some_and(|e| e.any(f))
            }
            BoundExpr::Like { expr, pattern, .. } => expr.any(f) || pattern.any(f),
            BoundExpr::Subquery { kind, .. } => match kind {
                SubqueryKind::In { expr, .. } => expr.any(f),
                _ => false,
            },
        }
    }

    /// Calls `f` on every subexpression, children before parents.
    pub fn visit_mut(&mut self, f: &mut impl FnMut(&mut BoundExpr)) {
        match self {
            BoundExpr::Constant(_)
            | BoundExpr::Column(_)
            | BoundExpr::Parameter(_)
            | BoundExpr::Outer(..)
            | BoundExpr::WindowResult(_) => {}
            BoundExpr::Negate(e) | BoundExpr::Not(e) => e.visit_mut(f),
            BoundExpr::Cast { expr, .. }
            | BoundExpr::IsNull { expr, .. }
            | BoundExpr::InSet { expr, .. } => expr.visit_mut(f),
            BoundExpr::Lookup { key, .. } => key.visit_mut(f),
            BoundExpr::Binary { left, right, .. } => {
                left.visit_mut(f);
                right.visit_mut(f);
            }
            BoundExpr::InList { expr, list, .. } => {
                expr.visit_mut(f);
                list.iter_mut().for_each(|e| e.visit_mut(f));
            }
            BoundExpr::Call { args, .. } => args.iter_mut().for_each(|e| e.visit_mut(f)),
            BoundExpr::Case {
                branches,
                otherwise,
            } => {
                for (condition, result) in branches {
                    condition.visit_mut(f);
                    result.visit_mut(f);
                }
                if let Some(e) = otherwise {
                    e.visit_mut(f);
                }
            }
            BoundExpr::Like { expr, pattern, .. } => {
                expr.visit_mut(f);
                pattern.visit_mut(f);
            }
            BoundExpr::Distinct { left, right, .. } => {
                left.visit_mut(f);
                right.visit_mut(f);
            }
            BoundExpr::Subquery { plan, kind, .. } => {
                if let SubqueryKind::In { expr, .. } = kind {
                    expr.visit_mut(f);
                }
                // Into the subquery's own expressions too (parameters live there as well).
                let mut nested = crate::sql::planner::Plan::Select(plan.clone());
                nested.visit_exprs_mut(f);
                if let crate::sql::planner::Plan::Select(inner) = nested {
                    *plan = inner;
                }
            }
        }
        f(self);
    }

    /// Whether the expression is a constant (its value then does not depend on the row).
    pub fn constant(&self) -> Option<&Value> {
        match self {
            BoundExpr::Constant(value) => Some(value),
            _ => None,
        }
    }
}

/// SQL LIKE: `%` matches any string, `_` any one character, `\\` escapes the next one.
fn like(text: &str, pattern: &str) -> Result<bool> {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(chars.next().ok_or_else(|| {
                Error::InvalidText("LIKE pattern must not end with escape character".into())
            })?),
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    // Greedy matching with backtracking to the last `%`: linear in practice.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::One) => {
                t += 1;
                p += 1;
            }
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Any) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return Ok(false),
            },
        }
    }
    Ok(tokens[p..].iter().all(|t| *t == Token::Any))
}

fn truth(value: Value, op: &str) -> Result<Option<bool>> {
    match value {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(b)),
        other => Err(not_boolean(op, &other)),
    }
}

fn not_boolean(op: &str, value: &Value) -> Error {
    Error::Datatype(format!(
        "argument of {op} must be type boolean, not type {}",
        value.type_name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin(op: BinaryOp, l: Value, r: Value, ty: DataType) -> Result<Value> {
        BoundExpr::Binary {
            op,
            left: Box::new(BoundExpr::Constant(l)),
            right: Box::new(BoundExpr::Constant(r)),
            ty,
        }
        .eval(&[])
    }

    #[test]
    fn three_valued_logic() {
        use Value::{Boolean as B, Null as N};
        let cases = [
            (BinaryOp::And, B(true), N, N),
            (BinaryOp::And, B(false), N, B(false)),
            (BinaryOp::And, N, B(false), B(false)),
            (BinaryOp::Or, B(true), N, B(true)),
            (BinaryOp::Or, N, B(false), N),
            (BinaryOp::Or, N, N, N),
        ];
        for (op, l, r, want) in cases {
            assert_eq!(bin(op, l, r, DataType::Boolean).unwrap(), want);
        }
    }

    #[test]
    fn integer_arithmetic_checks_its_type() {
        let v = bin(
            BinaryOp::Add,
            Value::Int(i32::MAX.into()),
            Value::Int(1),
            DataType::Integer,
        );
        assert_eq!(v.unwrap_err().to_string(), "integer out of range");
        let v = bin(
            BinaryOp::Divide,
            Value::Int(7),
            Value::Int(-2),
            DataType::Integer,
        );
        assert_eq!(v.unwrap(), Value::Int(-3));
        let v = bin(
            BinaryOp::Modulo,
            Value::Int(-7),
            Value::Int(2),
            DataType::Integer,
        );
        assert_eq!(v.unwrap(), Value::Int(-1));
        let v = bin(
            BinaryOp::Divide,
            Value::Int(1),
            Value::Int(0),
            DataType::Integer,
        );
        assert_eq!(v.unwrap_err().sqlstate(), "22012");
        let v = bin(
            BinaryOp::Divide,
            Value::Int(i64::MIN),
            Value::Int(-1),
            DataType::BigInt,
        );
        assert_eq!(v.unwrap_err().sqlstate(), "22003");
    }

    #[test]
    fn casts_match_postgres() {
        assert_eq!(
            cast(Value::Text(" 42 ".into()), DataType::Integer).unwrap(),
            Value::Int(42)
        );
        assert_eq!(
            cast(Value::Text("4x".into()), DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            "22P02"
        );
        assert_eq!(
            cast(Value::Int(70000), DataType::SmallInt)
                .unwrap_err()
                .sqlstate(),
            "22003"
        );
        assert_eq!(
            cast(Value::Float(2.5), DataType::Integer).unwrap(),
            Value::Int(2)
        );
        assert_eq!(
            cast(Value::Float(3.5), DataType::Integer).unwrap(),
            Value::Int(4)
        );
        assert_eq!(
            cast(Value::Text("yes".into()), DataType::Boolean).unwrap(),
            Value::Boolean(true)
        );
        assert_eq!(
            cast(Value::Boolean(true), DataType::Text).unwrap(),
            Value::Text("t".into())
        );
        assert_eq!(
            cast(Value::Text("\\x0aff".into()), DataType::Bytea).unwrap(),
            Value::Bytes(vec![10, 255])
        );
        assert_eq!(
            cast(Value::Bytes(vec![1]), DataType::Integer)
                .unwrap_err()
                .sqlstate(),
            "42846"
        );
    }

    #[test]
    fn in_lists_follow_null_semantics() {
        let list = |negated| BoundExpr::InList {
            expr: Box::new(BoundExpr::Constant(Value::Int(1))),
            list: vec![
                BoundExpr::Constant(Value::Int(2)),
                BoundExpr::Constant(Value::Null),
            ],
            negated,
        };
        assert_eq!(list(false).eval(&[]).unwrap(), Value::Null);
        assert_eq!(list(true).eval(&[]).unwrap(), Value::Null);
    }
}
