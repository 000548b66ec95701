//! Binding expressions: names to column positions, literals to types, implicit casts made
//! explicit, constants folded.

use super::super::expr::{BoundExpr, SqlType, numeric_result};
use super::super::parser::ast::{BinaryOp, Expr, ExprKind, Literal, UnaryOp};
use crate::catalog::TableSchema;
use crate::types::{DataType, Value};
use crate::{Error, Result};

/// The columns an expression may name: those of (at most) one table.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub table: Option<&'a TableSchema>,
}

/// Binds `expr`; the result's type is `None` while still unknown (NULL, a quoted literal).
pub fn bind(expr: &Expr, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    bind_inner(expr, scope).map_err(|e| e.at(expr.position))
}

fn bind_inner(expr: &Expr, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    let (bound, ty) = match &expr.kind {
        ExprKind::Literal(literal) => literal_value(literal)?,
        ExprKind::Column { table, name } => {
            let schema = scope
                .table
                .filter(|s| table.as_ref().is_none_or(|t| *t == s.name))
                .ok_or_else(|| match table {
                    Some(t) => Error::UndefinedTable(t.clone()),
                    None => Error::UnknownColumn(name.clone()),
                })?;
            let position = schema
                .columns
                .iter()
                .position(|c| c.name == *name)
                .ok_or_else(|| Error::UnknownColumn(name.clone()))?;
            (
                BoundExpr::Column(position),
                Some(schema.columns[position].data_type),
            )
        }
        ExprKind::Unary { op, expr: inner } => {
            let (inner, ty) = bind(inner, scope)?;
            match op {
                UnaryOp::Plus | UnaryOp::Minus => {
                    let ty = match ty {
                        Some(t) if numeric_result(t, t).is_some() => t,
                        None => DataType::Double,
                        Some(t) => {
                            return Err(Error::UndefinedFunction(format!(
                                "operator does not exist: - {}",
                                t.name()
                            )));
                        }
                    };
                    let inner = coerce(inner, None, ty)?;
                    let bound = if *op == UnaryOp::Minus {
                        BoundExpr::Negate(Box::new(inner))
                    } else {
                        inner
                    };
                    (bound, Some(ty))
                }
                UnaryOp::Not => (
                    BoundExpr::Not(Box::new(coerce(inner, ty, DataType::Boolean)?)),
                    Some(DataType::Boolean),
                ),
            }
        }
        ExprKind::Binary { op, left, right } => {
            let (l, lt) = bind(left, scope)?;
            let (r, rt) = bind(right, scope)?;
            binary(*op, (l, lt), (r, rt))?
        }
        ExprKind::IsNull {
            expr: inner,
            negated,
        } => (
            BoundExpr::IsNull {
                expr: Box::new(bind(inner, scope)?.0),
                negated: *negated,
            },
            Some(DataType::Boolean),
        ),
        ExprKind::Between {
            expr: inner,
            low,
            high,
            negated,
        } => {
            let value = bind(inner, scope)?;
            let low = binary(BinaryOp::GtEq, value.clone(), bind(low, scope)?)?;
            let high = binary(BinaryOp::LtEq, value, bind(high, scope)?)?;
            let both = binary(BinaryOp::And, low, high)?;
            if *negated {
                (BoundExpr::Not(Box::new(both.0)), Some(DataType::Boolean))
            } else {
                both
            }
        }
        ExprKind::InList {
            expr: inner,
            list,
            negated,
        } => {
            let (value, ty) = bind(inner, scope)?;
            let items = list
                .iter()
                .map(|item| bind(item, scope))
                .collect::<Result<Vec<_>>>()?;
            // The common type: the first known one among the value and the items.
            let common = ty.or_else(|| items.iter().find_map(|(_, t)| *t));
            let (value, list) = match common {
                Some(common) => (
                    coerce(value, ty, common)?,
                    items
                        .into_iter()
                        .map(|(e, t)| comparable(e, t, common))
                        .collect::<Result<_>>()?,
                ),
                None => (value, items.into_iter().map(|(e, _)| e).collect()),
            };
            (
                BoundExpr::InList {
                    expr: Box::new(value),
                    list,
                    negated: *negated,
                },
                Some(DataType::Boolean),
            )
        }
        ExprKind::Cast { expr: inner, to } => {
            let (inner, _) = bind(inner, scope)?;
            (
                BoundExpr::Cast {
                    expr: Box::new(inner),
                    to: *to,
                },
                Some(*to),
            )
        }
    };
    Ok((fold(bound)?, ty))
}

fn literal_value(literal: &Literal) -> Result<(BoundExpr, SqlType)> {
    Ok(match literal {
        Literal::Null => (BoundExpr::Constant(Value::Null), None),
        Literal::Boolean(b) => (
            BoundExpr::Constant(Value::Boolean(*b)),
            Some(DataType::Boolean),
        ),
        Literal::Integer(i) => {
            let ty = if i32::try_from(*i).is_ok() {
                DataType::Integer
            } else {
                DataType::BigInt
            };
            (BoundExpr::Constant(Value::Int(*i)), Some(ty))
        }
        // NUMERIC is not there yet: other numeric literals are double precision.
        Literal::Number(text) => {
            let v: f64 = text.parse().map_err(|_| {
                Error::InvalidText(format!("invalid input syntax for type numeric: \"{text}\""))
            })?;
            (BoundExpr::Constant(Value::Float(v)), Some(DataType::Double))
        }
        Literal::String(s) => (BoundExpr::Constant(Value::Text(s.clone())), None),
    })
}

/// Binds a binary operation on two bound operands.
fn binary(
    op: BinaryOp,
    (l, lt): (BoundExpr, SqlType),
    (r, rt): (BoundExpr, SqlType),
) -> Result<(BoundExpr, SqlType)> {
    let make = |left, right, ty: DataType, result: DataType| {
        (
            BoundExpr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                ty,
            },
            Some(result),
        )
    };
    match op {
        BinaryOp::And | BinaryOp::Or => Ok(make(
            coerce(l, lt, DataType::Boolean)?,
            coerce(r, rt, DataType::Boolean)?,
            DataType::Boolean,
            DataType::Boolean,
        )),
        BinaryOp::Concat => Ok(make(l, r, DataType::Text, DataType::Text)),
        op if op.is_comparison() => {
            // An unknown operand takes the other's type; with both unknown, text.
            let common = match (lt, rt) {
                (Some(a), Some(b)) => comparable_type(op, a, b)?,
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => DataType::Text,
            };
            Ok(make(
                comparable(l, lt, common)?,
                comparable(r, rt, common)?,
                common,
                DataType::Boolean,
            ))
        }
        op => {
            let (a, b) = match (lt, rt) {
                (Some(a), Some(b)) => (a, b),
                (Some(t), None) | (None, Some(t)) => (t, t),
                (None, None) => (DataType::Double, DataType::Double),
            };
            let ty = numeric_result(a, b).ok_or_else(|| {
                Error::UndefinedFunction(format!(
                    "operator does not exist: {} {} {}",
                    a.name(),
                    op.symbol(),
                    b.name()
                ))
            })?;
            let l = coerce(l, lt, if lt.is_some() { a } else { ty })?;
            let r = coerce(r, rt, if rt.is_some() { b } else { ty })?;
            Ok(make(l, r, ty, ty))
        }
    }
}

/// The type two known operand types compare in, or 42883.
fn comparable_type(op: BinaryOp, a: DataType, b: DataType) -> Result<DataType> {
    if a == b {
        return Ok(a);
    }
    numeric_result(a, b).ok_or_else(|| {
        Error::UndefinedFunction(format!(
            "operator does not exist: {} {} {}",
            a.name(),
            op.symbol(),
            b.name()
        ))
    })
}

/// Makes an operand comparable in type `common`: unknown literals are cast; numbers compare
/// by value whatever their width, so they are left alone.
fn comparable(expr: BoundExpr, ty: SqlType, common: DataType) -> Result<BoundExpr> {
    match ty {
        Some(t) if numeric_result(t, common).is_some() => Ok(expr),
        _ => coerce(expr, ty, common),
    }
}

/// Converts `expr` of type `from` to `to` where PostgreSQL does so implicitly: unknown
/// literals to anything, integers to wider numbers. Anything else is 42804.
pub fn coerce(expr: BoundExpr, from: SqlType, to: DataType) -> Result<BoundExpr> {
    match from {
        Some(from) if from == to => Ok(expr),
        None => fold(BoundExpr::Cast {
            expr: Box::new(expr),
            to,
        }),
        Some(from)
            if from.is_integer()
                && (to.is_integer() || matches!(to, DataType::Real | DataType::Double)) =>
        {
            fold(BoundExpr::Cast {
                expr: Box::new(expr),
                to,
            })
        }
        Some(DataType::Real) if to == DataType::Double => Ok(expr),
        Some(from) => Err(Error::Datatype(format!(
            "expected type {}, found type {}",
            to.name(),
            from.name()
        ))),
    }
}

/// Evaluates an expression that reads no column.
fn fold(expr: BoundExpr) -> Result<BoundExpr> {
    if reads_columns(&expr) {
        return Ok(expr);
    }
    Ok(BoundExpr::Constant(expr.eval(&[])?))
}

fn reads_columns(expr: &BoundExpr) -> bool {
    match expr {
        BoundExpr::Constant(_) => false,
        BoundExpr::Column(_) => true,
        BoundExpr::Negate(e) | BoundExpr::Not(e) => reads_columns(e),
        BoundExpr::Cast { expr, .. } | BoundExpr::IsNull { expr, .. } => reads_columns(expr),
        BoundExpr::Binary { left, right, .. } => reads_columns(left) || reads_columns(right),
        BoundExpr::InList { expr, list, .. } => {
            reads_columns(expr) || list.iter().any(reads_columns)
        }
    }
}

/// A value for a column of type `to` from an expression of type `from` (assignment: INSERT
/// values, UPDATE SET, defaults). Numbers convert to any numeric column (rounding, with range
/// checks), unknown literals are parsed; anything else is 42804.
pub fn assign(expr: BoundExpr, from: SqlType, to: DataType, column: &str) -> Result<BoundExpr> {
    let numeric = |t: DataType| numeric_result(t, t).is_some();
    let expr = match from {
        Some(from) if from == to => expr,
        Some(from) if !(numeric(from) && numeric(to)) => {
            return Err(Error::TypeMismatch {
                column: column.to_string(),
                expected: to.name(),
                found: from.name(),
            });
        }
        _ => BoundExpr::Cast {
            expr: Box::new(expr),
            to,
        },
    };
    fold(expr)
}
