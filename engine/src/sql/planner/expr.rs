//! Binding expressions: names to column positions, literals to types, implicit casts made
//! explicit, constants folded.

use std::cell::RefCell;
use std::sync::Arc;

use super::super::aggregate::{Aggregate, AggregateFunc};
use super::super::expr::{BoundExpr, ScalarFunc, SqlType, SubqueryKind};
use super::super::functions::{Param, Returns};
use super::super::operators::{
    arithmetic_type, comparison_type, json_operator_type, no_operator, numeric_result,
    unknown_operand_type,
};
use super::super::parser::ast::{
    BinaryOp, Expr, ExprKind, Literal, OrderItem, RegType, Select, UnaryOp, WindowCall,
};
use super::super::system::LookupKind;
use super::super::window::{WindowFunc, WindowPlan};
use super::{Catalog, SortKey};
use crate::catalog::TableSchema;
use crate::types::{DataType, Value};
use crate::{Error, Result};

/// A table of the FROM clause as expressions see it: by its alias (or name), its columns
/// starting at `offset` in the joined row.
#[derive(Debug, Clone)]
pub struct Relation {
    pub name: String,
    pub schema: Arc<TableSchema>,
    pub offset: usize,
}

impl Relation {
    /// A table by its own name, alone in its FROM clause.
    pub fn whole(schema: &Arc<TableSchema>) -> Self {
        Self {
            name: schema.name.clone(),
            schema: schema.clone(),
            offset: 0,
        }
    }
}

/// The columns an expression may name: those of the FROM clause's tables — or, above a GROUP
/// BY, the group keys and the aggregates over each group.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub relations: &'a [Relation],
    pub grouping: Option<&'a Grouping>,
    /// For planning subqueries; without it they are refused.
    pub catalog: Option<&'a dyn Catalog>,
    /// Where window function calls are allowed (the select list and ORDER BY), the calls
    /// found while binding.
    pub windows: Option<&'a RefCell<Vec<WindowPlan>>>,
    /// In a subquery, the enclosing query's tables: names found there are outer references.
    pub outer: Option<&'a [Relation]>,
}

impl std::fmt::Debug for dyn Catalog + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

impl<'a> Scope<'a> {
    pub fn new(relations: &'a [Relation]) -> Self {
        Self {
            relations,
            grouping: None,
            catalog: None,
            windows: None,
            outer: None,
        }
    }

    pub fn with_catalog(mut self, catalog: &'a dyn Catalog) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The same tables, below any grouping: the scope of aggregates' arguments.
    fn input(self) -> Self {
        Scope {
            grouping: None,
            windows: None,
            ..self
        }
    }

    /// The same scope where window functions are not allowed (their own arguments).
    fn without_windows(self) -> Self {
        Scope {
            windows: None,
            ..self
        }
    }
}

/// Rows after GROUP BY: each is the group keys' values followed by the aggregates' results.
#[derive(Debug, Default)]
pub struct Grouping {
    pub keys: Vec<(BoundExpr, SqlType)>,
    /// Aggregates found while binding, with their result types.
    pub aggregates: RefCell<Vec<(Aggregate, DataType)>>,
}

/// Whether an expression contains an aggregate call.
pub fn has_aggregate(expr: &Expr) -> bool {
    match &expr.kind {
        ExprKind::Function {
            name, args, star, ..
        } => AggregateFunc::from_name(name, *star).is_some() || args.iter().any(has_aggregate),
        ExprKind::Literal(_) | ExprKind::Parameter(_) | ExprKind::Column { .. } => false,
        ExprKind::Unary { expr, .. }
        | ExprKind::IsNull { expr, .. }
        | ExprKind::Cast { expr, .. } => has_aggregate(expr),
        ExprKind::Binary { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        ExprKind::Between {
            expr, low, high, ..
        } => has_aggregate(expr) || has_aggregate(low) || has_aggregate(high),
        ExprKind::InList { expr, list, .. } => {
            has_aggregate(expr) || list.iter().any(has_aggregate)
        }
        ExprKind::Case {
            operand,
            branches,
            otherwise,
        } => {
            operand.as_deref().is_some_and(has_aggregate)
                || branches
                    .iter()
                    .any(|(c, r)| has_aggregate(c) || has_aggregate(r))
                || otherwise.as_deref().is_some_and(has_aggregate)
        }
        ExprKind::Like { expr, pattern, .. } => has_aggregate(expr) || has_aggregate(pattern),
        ExprKind::IsDistinctFrom { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        // A subquery's aggregates are its own.
        ExprKind::Subquery(_) | ExprKind::Exists { .. } | ExprKind::ArraySubquery(_) => false,
        ExprKind::Array(items) => items.iter().any(has_aggregate),
        ExprKind::OrderedAggregate { call, .. } => has_aggregate(call),
        ExprKind::RegCast { expr, .. } => has_aggregate(expr),
        ExprKind::Subscript {
            expr: left,
            index: right,
        }
        | ExprKind::AnyAll { left, right, .. } => has_aggregate(left) || has_aggregate(right),
        ExprKind::InSubquery { expr, .. } => has_aggregate(expr),
        // A window call is no aggregate, but aggregates may be inside it.
        ExprKind::Window(call) => {
            call.args.iter().any(has_aggregate)
                || call.partition_by.iter().any(has_aggregate)
                || call.order_by.iter().any(|o| has_aggregate(&o.expr))
        }
    }
}

/// Whether an expression contains a window function call.
pub fn has_window(expr: &Expr) -> bool {
    let mut found = false;
    expr.walk(&mut |e| found |= matches!(e.kind, ExprKind::Window(_)));
    found
}

/// Binds `expr`; the result's type is `None` while still unknown (NULL, a quoted literal).
pub fn bind(expr: &Expr, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    bind_inner(expr, scope).map_err(|e| e.at(expr.position))
}

fn bind_inner(expr: &Expr, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    if let Some(grouping) = scope.grouping {
        // Above a GROUP BY, an expression equal to a group key reads that key.
        if !has_aggregate(expr) && !has_window(expr) {
            if let Ok((bound, ty)) = bind(expr, scope.input()) {
                if let Some(k) = grouping.keys.iter().position(|(key, _)| *key == bound) {
                    return Ok((BoundExpr::Column(k), grouping.keys[k].1));
                }
                if !reads_columns(&bound) {
                    return Ok((bound, ty));
                }
            }
        }
    }
    let (bound, ty) = match &expr.kind {
        ExprKind::Literal(literal) => literal_value(literal)?,
        // Like a quoted literal, a parameter's type comes from its context.
        ExprKind::Parameter(i) => (BoundExpr::Parameter(*i), None),
        ExprKind::Column { table, name } if scope.grouping.is_some() => {
            let qualified = match table {
                Some(t) => format!("{t}.{name}"),
                None => name.clone(),
            };
            return Err(Error::Grouping(format!(
                "column \"{qualified}\" must appear in the GROUP BY clause or be used in an aggregate function"
            )));
        }
        ExprKind::Column { table, name } => match resolve(scope.relations, table, name)? {
            Some((i, ty)) => (BoundExpr::Column(i), Some(ty)),
            None => match scope
                .outer
                .map(|outer| resolve(outer, table, name))
                .transpose()?
            {
                Some(Some((i, ty))) => (BoundExpr::Outer(i, ty), Some(ty)),
                _ => match table {
                    Some(t)
                        if !scope.relations.iter().any(|r| r.name == *t)
                            && !scope.outer.is_some_and(|o| o.iter().any(|r| r.name == *t)) =>
                    {
                        return Err(Error::MissingFromEntry(t.clone()));
                    }
                    Some(t) => return Err(Error::UnknownColumn(format!("{t}.{name}"))),
                    None => return Err(Error::UnknownColumn(name.clone())),
                },
            },
        },
        ExprKind::Unary { op, expr: inner } => {
            let (inner, ty) = bind(inner, scope)?;
            match op {
                UnaryOp::Plus | UnaryOp::Minus => {
                    let ty = match ty.map(DataType::unconstrained) {
                        Some(t) if t.is_numeric() || t == DataType::Interval => t,
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
        ExprKind::Function {
            name,
            args,
            distinct,
            star,
        } => function(name, args, *distinct, *star, &[], scope)?,
        ExprKind::Case {
            operand,
            branches,
            otherwise,
        } => case(operand.as_deref(), branches, otherwise.as_deref(), scope)?,
        ExprKind::Subquery(query) => {
            let (plan, correlated) = subquery(query, scope)?;
            let ty = match plan.columns.as_ref() {
                [column] => column.data_type,
                _ => {
                    return Err(Error::Syntax("subquery must return only one column".into()));
                }
            };
            (
                BoundExpr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::Scalar,
                    correlated,
                },
                Some(ty),
            )
        }
        ExprKind::Exists { query, negated } => {
            let (plan, correlated) = subquery(query, scope)?;
            (
                BoundExpr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::Exists { negated: *negated },
                    correlated,
                },
                Some(DataType::Boolean),
            )
        }
        ExprKind::InSubquery {
            expr: inner,
            query,
            negated,
        } => {
            let (value, ty) = bind(inner, scope)?;
            let (plan, correlated) = subquery(query, scope)?;
            let column = match plan.columns.as_ref() {
                [column] => column.data_type,
                _ => {
                    return Err(Error::Syntax("subquery has too many columns".into()));
                }
            };
            let value = match ty {
                Some(t) => {
                    comparable_type(BinaryOp::Eq, t, column)?;
                    value
                }
                None => coerce(value, None, column)?,
            };
            (
                BoundExpr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::In {
                        expr: Box::new(value),
                        negated: *negated,
                    },
                    correlated,
                },
                Some(DataType::Boolean),
            )
        }
        ExprKind::Like {
            expr: inner,
            pattern,
            negated,
            case_insensitive,
        } => {
            let (value, vt) = bind(inner, scope)?;
            let (pattern, pt) = bind(pattern, scope)?;
            let text = |e, t: SqlType| {
                coerce(e, t, DataType::Text).map_err(|_| {
                    Error::UndefinedFunction(format!(
                        "operator does not exist: {} ~~ text",
                        t.map_or("unknown", DataType::name)
                    ))
                })
            };
            (
                BoundExpr::Like {
                    expr: Box::new(text(value, vt)?),
                    pattern: Box::new(text(pattern, pt)?),
                    negated: *negated,
                    case_insensitive: *case_insensitive,
                },
                Some(DataType::Boolean),
            )
        }
        ExprKind::IsDistinctFrom {
            left,
            right,
            negated,
        } => {
            let (l, lt) = bind(left, scope)?;
            let (r, rt) = bind(right, scope)?;
            let common = match (lt, rt) {
                (Some(a), Some(b)) => comparable_type(BinaryOp::Eq, a, b)?,
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => DataType::Text,
            };
            (
                BoundExpr::Distinct {
                    left: Box::new(comparable(l, lt, common)?),
                    right: Box::new(comparable(r, rt, common)?),
                    negated: *negated,
                },
                Some(DataType::Boolean),
            )
        }
        ExprKind::Window(call) => window(call, scope)?,
        ExprKind::Array(items) => array_constructor(items, scope)?,
        ExprKind::OrderedAggregate { call, order_by } => match &call.kind {
            ExprKind::Function {
                name,
                args,
                distinct,
                star,
            } if AggregateFunc::from_name(name, *star).is_some() => {
                function(name, args, *distinct, *star, order_by, scope)?
            }
            ExprKind::Function { name, .. } => {
                return Err(Error::WrongObjectType(format!(
                    "ORDER BY specified, but {name} is not an aggregate function"
                )));
            }
            _ => return Err(Error::NotSupported("this ORDER BY in a call".into())),
        },
        ExprKind::ArraySubquery(query) => {
            let (plan, correlated) = subquery(query, scope)?;
            let ty = match plan.columns.as_ref() {
                [column] => column.data_type,
                _ => {
                    return Err(Error::Syntax("subquery must return only one column".into()));
                }
            };
            let array = DataType::array_of(ty)
                .ok_or_else(|| Error::NotSupported(format!("arrays of type {}", ty.name())))?;
            (
                BoundExpr::Subquery {
                    plan: Box::new(plan),
                    kind: SubqueryKind::Array,
                    correlated,
                },
                Some(array),
            )
        }
        ExprKind::Subscript { expr: inner, index } => {
            let (array, ty) = bind(inner, scope)?;
            let element = match ty {
                Some(ty) if ty.element().is_some() => ty.element().unwrap_or(DataType::Text),
                other => {
                    return Err(Error::Datatype(format!(
                        "cannot subscript type {} because it does not support subscripting",
                        other.map_or("unknown", DataType::name)
                    )));
                }
            };
            let (index, index_type) = bind(index, scope)?;
            if index_type.is_some_and(|t| !t.is_integer()) {
                return Err(Error::Datatype(
                    "array subscript must have type integer".into(),
                ));
            }
            let index = coerce(index, index_type, DataType::BigInt)?;
            (
                BoundExpr::Call {
                    func: ScalarFunc::ArrayElement,
                    args: vec![array, index],
                },
                Some(element),
            )
        }
        ExprKind::AnyAll {
            left,
            op,
            right,
            all,
        } => any_all(left, *op, right, *all, scope)?,
        ExprKind::RegCast { expr: inner, to } => reg_cast(inner, *to, scope)?,
        // `'t'::regclass::text` is the relation's name as the catalog spells it (as a regclass
        // shows as its name); without the cast to text a regclass by name is the object id.
        ExprKind::Cast { expr: inner, to } if to.is_text() && is_reg_cast_by_name(inner, scope) => {
            let ExprKind::RegCast { to: reg, .. } = &inner.kind else {
                unreachable!("checked by is_reg_cast_by_name")
            };
            let (oid, _) = bind(inner, scope)?;
            let back = match reg {
                RegType::Class => LookupKind::RelationName,
                RegType::Namespace => LookupKind::NamespaceName,
                RegType::Role => LookupKind::RoleName,
                RegType::Type => {
                    let name = BoundExpr::Call {
                        func: ScalarFunc::FormatType,
                        args: vec![oid, BoundExpr::Constant(Value::Null)],
                    };
                    return Ok((fold(name)?, Some(DataType::Text)));
                }
            };
            lookup(oid, back, scope)?
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

/// The position and type of column `name` (of table `table`, if given) among `relations`.
fn resolve(
    relations: &[Relation],
    table: &Option<String>,
    name: &str,
) -> Result<Option<(usize, DataType)>> {
    let mut found = None;
    for relation in relations {
        if table.as_ref().is_some_and(|t| *t != relation.name) {
            continue;
        }
        if let Some(i) = relation.schema.columns.iter().position(|c| c.name == name) {
            if found.is_some() {
                return Err(Error::AmbiguousColumn(name.to_string()));
            }
            found = Some((relation.offset + i, relation.schema.columns[i].data_type));
        }
    }
    Ok(found)
}

/// Binds a function call: an aggregate (above a GROUP BY, or making the query one) or a
/// scalar function.
fn function(
    name: &str,
    args: &[Expr],
    distinct: bool,
    star: bool,
    order_by: &[OrderItem],
    scope: Scope<'_>,
) -> Result<(BoundExpr, SqlType)> {
    if let Some(func) = AggregateFunc::from_name(name, star) {
        let Some(grouping) = scope.grouping else {
            return Err(Error::Grouping(
                "aggregate functions are not allowed here".into(),
            ));
        };
        let mut aggregate = aggregate_call(func, name, args, distinct, scope.input(), false)?;
        for item in order_by {
            let (expr, _) = bind(&item.expr, scope.input())?;
            aggregate.order_by.push(SortKey {
                expr,
                descending: item.descending,
                nulls_first: item.nulls_first.unwrap_or(item.descending),
            });
        }
        let ty = aggregate.ty;
        let mut aggregates = grouping.aggregates.borrow_mut();
        let index = match aggregates.iter().position(|(a, _)| *a == aggregate) {
            Some(i) => i,
            None => {
                aggregates.push((aggregate, ty));
                aggregates.len() - 1
            }
        };
        return Ok((BoundExpr::Column(grouping.keys.len() + index), Some(ty)));
    }
    if let Some(kind) = catalog_lookup(name, args.len()) {
        let (key, _) = bind(&args[0], scope)?;
        return lookup(key, kind, scope);
    }
    let func = ScalarFunc::from_name(name).ok_or_else(|| no_function(name, args.len()))?;
    if distinct || star {
        return Err(Error::Syntax(format!(
            "DISTINCT or * specified, but {name} is not an aggregate function"
        )));
    }
    let bound = args
        .iter()
        .map(|a| bind(a, scope))
        .collect::<Result<Vec<_>>>()?;
    let signature = func.signature();
    let (min, max) = (
        signature.required.len(),
        signature.required.len() + signature.optional.len(),
    );
    if bound.len() < min || (signature.repeated.is_none() && bound.len() > max) {
        return Err(no_function(name, args.len()));
    }
    let param = |i: usize| {
        signature
            .required
            .iter()
            .chain(signature.optional)
            .nth(i)
            .copied()
            .or(signature.repeated)
            .unwrap_or(Param::Any)
    };
    // The common type of the `Common` arguments: the first known one, numbers widened.
    let mut common: Option<DataType> = None;
    for (i, (_, t)) in bound.iter().enumerate() {
        if let (Param::Common, Some(t)) = (param(i), t) {
            common = Some(match common {
                None => t.unconstrained(),
                Some(c) => comparison_type(c, *t).ok_or_else(|| {
                    Error::Datatype(format!(
                        "{} types {} and {} cannot be matched",
                        name.to_uppercase(),
                        c.name(),
                        t.name()
                    ))
                })?,
            });
        }
    }
    let mut converted = Vec::with_capacity(bound.len());
    let mut converted_types = Vec::with_capacity(bound.len());
    for (i, (e, t)) in bound.into_iter().enumerate() {
        let kept = |t: SqlType, keep: fn(DataType) -> bool, otherwise: DataType| match t {
            Some(t) if keep(t) => None,
            _ => Some(otherwise),
        };
        let target = match param(i) {
            Param::Text => Some(DataType::Text),
            Param::Integer => Some(DataType::BigInt),
            Param::Double => Some(DataType::Double),
            Param::Common => common,
            Param::Any => None,
            Param::Number => kept(
                t,
                |t| matches!(t, DataType::Numeric(_) | DataType::Real | DataType::Double),
                DataType::Double,
            ),
            Param::Temporal => kept(
                t,
                |t| {
                    matches!(
                        t,
                        DataType::Date
                            | DataType::Time
                            | DataType::Timestamp
                            | DataType::TimestampTz
                            | DataType::Interval
                    )
                },
                DataType::Timestamp,
            ),
            Param::Timestamp => match t {
                Some(DataType::Timestamp | DataType::TimestampTz) => None,
                Some(DataType::Date) => Some(DataType::TimestampTz),
                _ => Some(DataType::Timestamp),
            },
            Param::Json => kept(
                t,
                |t| matches!(t, DataType::Json | DataType::Jsonb),
                DataType::Json,
            ),
        };
        converted_types.push(target.or(t));
        converted.push(match (target, t) {
            (None, _) => e,
            (Some(to), Some(from))
                if from.unconstrained() == to.unconstrained() && !is_char(from) =>
            {
                e
            }
            (Some(to), from) => {
                let numeric = |d: DataType| numeric_result(d, d).is_some();
                match from {
                    // Numbers convert among themselves, except floats where an integer is due.
                    Some(f)
                        if numeric(f) && numeric(to) && (f.is_integer() || !to.is_integer()) =>
                    {
                        BoundExpr::Cast {
                            expr: Box::new(e),
                            to,
                        }
                    }
                    _ => coerce(e, from, to)
                        .map_err(|_| no_function_for(name, from.unwrap_or(DataType::Text)))?,
                }
            }
        });
    }
    let ty = match signature.result {
        // `unnest(array)` stands for its elements.
        Returns::Arg(0) if func == ScalarFunc::SetUnnest => match converted_types[0] {
            Some(ty) if ty.element().is_some() => ty.element(),
            _ => return Err(no_function(name, args.len())),
        },
        Returns::Fixed(t) => Some(t),
        Returns::Common => common,
        Returns::Arg(i) => converted_types.get(i).copied().flatten(),
    };
    let args = converted;
    Ok((BoundExpr::Call { func, args }, ty))
}

/// The catalog lookup a function call is, by its name and number of arguments (the extra
/// arguments of `pg_get_indexdef(oid, column, pretty)` and the like change nothing here).
fn catalog_lookup(name: &str, args: usize) -> Option<LookupKind> {
    Some(match (name, args) {
        ("pg_get_userbyid", 1) => LookupKind::RoleName,
        ("pg_get_indexdef", 1..=3) => LookupKind::IndexDef,
        ("pg_get_constraintdef", 1..=2) => LookupKind::ConstraintDef,
        ("pg_get_viewdef", 1..=2) => LookupKind::ViewDef,
        ("to_regclass", 1) => LookupKind::RelationOid { strict: false },
        _ => return None,
    })
}

/// `key` looked up in the system catalogs' table of `kind`.
fn lookup(key: BoundExpr, kind: LookupKind, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    let system = scope
        .catalog
        .and_then(|c| c.system())
        .ok_or_else(|| Error::NotSupported("catalog functions here".into()))?;
    let ty = match kind {
        LookupKind::RoleOid
        | LookupKind::RelationOid { .. }
        | LookupKind::NamespaceOid
        | LookupKind::TypeOid => DataType::Integer,
        _ => DataType::Text,
    };
    let bound = BoundExpr::Lookup {
        key: Box::new(key),
        table: Arc::new(system.lookup(kind)),
    };
    Ok((fold(bound)?, Some(ty)))
}

/// `expr::regclass` (and regtype, regnamespace, regrole): a name becomes the object's id, an
/// id the object's name. The result is an integer or text, not a type of its own.
fn reg_cast(expr: &Expr, to: RegType, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    let (value, ty) = bind(expr, scope)?;
    let by_name = match ty {
        None => true,
        Some(t) if t.is_text() => true,
        Some(t) if t.is_integer() => false,
        Some(t) => {
            return Err(Error::CannotCast(format!(
                "cannot cast type {} to an object identifier type",
                t.name()
            )));
        }
    };
    if to == RegType::Type && !by_name {
        let name = BoundExpr::Call {
            func: ScalarFunc::FormatType,
            args: vec![value, BoundExpr::Constant(Value::Null)],
        };
        return Ok((name, Some(DataType::Text)));
    }
    let kind = match (to, by_name) {
        (RegType::Class, true) => LookupKind::RelationOid { strict: true },
        (RegType::Class, false) => LookupKind::RelationName,
        (RegType::Namespace, true) => LookupKind::NamespaceOid,
        (RegType::Namespace, false) => LookupKind::NamespaceName,
        (RegType::Role, true) => LookupKind::RoleOid,
        (RegType::Type, true) => LookupKind::TypeOid,
        (_, false) => LookupKind::RoleName,
    };
    lookup(value, kind, scope)
}

/// Whether `expr` is a `::regclass`-style cast of a name (not of an object id).
fn is_reg_cast_by_name(expr: &Expr, scope: Scope<'_>) -> bool {
    match &expr.kind {
        ExprKind::RegCast { expr: inner, .. } => {
            matches!(bind(inner, scope), Ok((_, t)) if t.is_none_or(DataType::is_text))
        }
        _ => false,
    }
}

/// `ARRAY[a, b, …]`: the elements converted to their common type (text if all are unknown).
fn array_constructor(items: &[Expr], scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    let bound = items
        .iter()
        .map(|item| bind(item, scope))
        .collect::<Result<Vec<_>>>()?;
    let mut common: Option<DataType> = None;
    for (_, t) in &bound {
        if let Some(t) = t {
            common = Some(match common {
                None => t.unconstrained(),
                Some(c) => comparison_type(c, *t).ok_or_else(|| {
                    Error::Datatype(format!(
                        "ARRAY types {} and {} cannot be matched",
                        c.name(),
                        t.name()
                    ))
                })?,
            });
        }
    }
    let element = common.unwrap_or(DataType::Text);
    let array = DataType::array_of(element)
        .ok_or_else(|| Error::NotSupported(format!("arrays of type {}", element.name())))?;
    let element = array.element().unwrap_or(element);
    let args = bound
        .into_iter()
        .map(|(e, t)| match t {
            Some(t) if t.unconstrained() != element => Ok(BoundExpr::Cast {
                expr: Box::new(e),
                to: element,
            }),
            Some(_) => Ok(e),
            None => coerce(e, None, element),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        fold(BoundExpr::Call {
            func: ScalarFunc::MakeArray,
            args,
        })?,
        Some(array),
    ))
}

/// `left op ANY (array)` / `ALL`: the left operand and the elements compared as `op` would
/// compare them; an unknown right operand is an array literal of the left's type.
fn any_all(
    left: &Expr,
    op: BinaryOp,
    right: &Expr,
    all: bool,
    scope: Scope<'_>,
) -> Result<(BoundExpr, SqlType)> {
    let (l, lt) = bind(left, scope)?;
    let (r, rt) = bind(right, scope)?;
    let (r, element) = match rt {
        Some(ty) if ty.element().is_some() => (r, ty.element().unwrap_or(DataType::Text)),
        None => {
            let element = lt.map_or(DataType::Text, DataType::unconstrained);
            let array = DataType::array_of(element)
                .ok_or_else(|| Error::NotSupported(format!("arrays of type {}", element.name())))?;
            (coerce(r, None, array)?, array.element().unwrap_or(element))
        }
        Some(other) => {
            return Err(Error::WrongObjectType(format!(
                "op ANY/ALL (array) requires array on right side, not {}",
                other.name()
            )));
        }
    };
    let l = if matches!(op, BinaryOp::Regex { .. }) {
        if lt.is_some_and(|t| !t.is_text()) || !element.is_text() {
            return Err(no_operator(
                op,
                lt.map_or("unknown", DataType::name),
                element.name(),
            ));
        }
        coerce(l, lt, DataType::Text)?
    } else {
        let common = match lt {
            Some(t) => comparable_type(op, t, element)?,
            None => element,
        };
        comparable(l, lt, common)?
    };
    Ok((
        BoundExpr::Call {
            func: ScalarFunc::AnyAll { op, all },
            args: vec![l, r],
        },
        Some(DataType::Boolean),
    ))
}

/// An aggregate call's arguments bound in `scope` (the rows it aggregates); `nested` allows
/// aggregates inside them (a window aggregate over groups).
fn aggregate_call(
    func: AggregateFunc,
    name: &str,
    args: &[Expr],
    distinct: bool,
    scope: Scope<'_>,
    nested: bool,
) -> Result<Aggregate> {
    let expected = match func {
        AggregateFunc::CountRows => 0,
        AggregateFunc::StringAgg => 2,
        _ => 1,
    };
    if args.len() != expected {
        return Err(no_function(name, args.len()));
    }
    let mut bound_args = Vec::with_capacity(args.len());
    for arg in args {
        if !nested && has_aggregate(arg) {
            return Err(Error::Grouping(
                "aggregate function calls cannot be nested".into(),
            ));
        }
        bound_args.push(bind(arg, scope)?);
    }
    let mut bound_args = bound_args.into_iter();
    let (arg, arg_type) = match bound_args.next() {
        Some((e, None)) => (Some(coerce(e, None, DataType::Text)?), Some(DataType::Text)),
        Some((e, t)) => (Some(e), t),
        None => (None, None),
    };
    let separator = bound_args
        .next()
        .map(|(e, t)| coerce(e, t, DataType::Text))
        .transpose()?;
    Ok(Aggregate {
        func,
        arg,
        separator,
        distinct,
        ty: func.result_type(arg_type)?,
        order_by: Vec::new(),
    })
}

/// Binds a window function call: registers it with the scope and reads its value, which the
/// executor appends to each row.
fn window(call: &WindowCall, scope: Scope<'_>) -> Result<(BoundExpr, SqlType)> {
    let Some(windows) = scope.windows else {
        return Err(Error::Windowing(
            "window functions are not allowed here".into(),
        ));
    };
    let inner = scope.without_windows();
    let (func, args, arg_type) = match AggregateFunc::from_name(&call.name, call.star) {
        Some(func) => {
            let aggregate = aggregate_call(func, &call.name, &call.args, false, inner, true)?;
            (WindowFunc::Aggregate(aggregate), Vec::new(), None)
        }
        None => {
            let func = WindowFunc::from_name(&call.name).ok_or_else(
                || match ScalarFunc::from_name(&call.name) {
                    Some(_) => Error::WrongObjectType(format!(
                        "OVER specified, but {} is not a window function nor an aggregate function",
                        call.name
                    )),
                    None => no_function(&call.name, call.args.len()),
                },
            )?;
            let (required, optional) = func.arity();
            if call.star || call.args.len() < required || call.args.len() > required + optional {
                return Err(no_function(&call.name, call.args.len()));
            }
            let mut bound = Vec::with_capacity(call.args.len());
            let mut value_type = None;
            for (i, arg) in call.args.iter().enumerate() {
                let (e, t) = bind(arg, inner)?;
                let e = match (&func, i) {
                    // NTILE's bucket count, the LAG/LEAD offset, NTH_VALUE's position.
                    (WindowFunc::Ntile, 0) | (WindowFunc::NthValue, 1) | (_, 1) => {
                        coerce(e, t, DataType::BigInt)?
                    }
                    // LAG/LEAD's default: the value's type.
                    (_, 2) => match value_type {
                        Some(ty) => coerce(e, t, ty)?,
                        None => e,
                    },
                    _ => {
                        value_type = t;
                        e
                    }
                };
                bound.push(e);
            }
            let arg_type = if func == WindowFunc::Ntile {
                None
            } else {
                value_type
            };
            (func, bound, arg_type)
        }
    };
    let partition_by = call
        .partition_by
        .iter()
        .map(|e| bind(e, inner).map(|(b, _)| b))
        .collect::<Result<Vec<_>>>()?;
    let order_by = call
        .order_by
        .iter()
        .map(|o| {
            Ok(super::SortKey {
                expr: bind(&o.expr, inner)?.0,
                descending: o.descending,
                nulls_first: o.nulls_first.unwrap_or(o.descending),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ty = func.result_type(arg_type);
    let frame = call
        .frame
        .unwrap_or_else(|| WindowPlan::default_frame(!order_by.is_empty()));
    let mut windows = windows.borrow_mut();
    windows.push(WindowPlan {
        func,
        args,
        partition_by,
        order_by,
        frame,
        ty,
    });
    Ok((BoundExpr::WindowResult(windows.len() - 1), Some(ty)))
}

fn no_function(name: &str, arity: usize) -> Error {
    Error::UndefinedFunction(format!(
        "function {name} with {arity} argument{} does not exist",
        if arity == 1 { "" } else { "s" }
    ))
}

fn no_function_for(name: &str, ty: DataType) -> Error {
    Error::UndefinedFunction(format!("function {name}({}) does not exist", ty.name()))
}

/// Plans an uncorrelated subquery. A name it cannot resolve that the enclosing query could
/// means a correlated subquery, which is not supported yet.
fn subquery(query: &Select, scope: Scope<'_>) -> Result<(super::SelectPlan, bool)> {
    let catalog = scope
        .catalog
        .ok_or_else(|| Error::NotSupported("subqueries here".into()))?;
    // The enclosing query's columns are visible, except above its GROUP BY.
    let outer =
        (scope.grouping.is_none() && !scope.relations.is_empty()).then_some(scope.relations);
    let plan = super::select::subquery_select(query, catalog, outer).map_err(|e| {
        // A name the subquery cannot resolve that a query further out could.
        let further_out = |relations: &[Relation]| match &e {
            Error::At { error, .. } => match &**error {
                Error::MissingFromEntry(t) => relations.iter().any(|r| r.name == *t),
                Error::UnknownColumn(name) => {
                    let (table, column) = match name.split_once('.') {
                        Some((t, c)) => (Some(t.to_string()), c),
                        None => (None, name.as_str()),
                    };
                    matches!(resolve(relations, &table, column), Ok(Some(_)))
                }
                _ => false,
            },
            _ => false,
        };
        if outer.is_none() && further_out(scope.relations) {
            Error::NotSupported("a subquery that names a column of a grouped outer query".into())
        } else if scope.outer.is_some_and(further_out) {
            Error::NotSupported("a subquery that names a column of a query two levels out".into())
        } else {
            e
        }
    })?;
    let mut correlated = false;
    let mut nested = false;
    let mut probe = super::Plan::Select(Box::new(plan.clone()));
    probe.visit_exprs_mut(&mut |e| match e {
        BoundExpr::Outer(..) => correlated = true,
        BoundExpr::Subquery {
            correlated: true, ..
        } => nested = true,
        _ => {}
    });
    if nested {
        return Err(Error::NotSupported(
            "a correlated subquery inside a correlated subquery".into(),
        ));
    }
    Ok((plan, correlated))
}

/// CASE: the simple form (`CASE x WHEN v …`) compares the operand with each value; the
/// results share one type (the first known one; numbers widen).
fn case(
    operand: Option<&Expr>,
    branches: &[(Expr, Expr)],
    otherwise: Option<&Expr>,
    scope: Scope<'_>,
) -> Result<(BoundExpr, SqlType)> {
    let operand = operand.map(|o| bind(o, scope)).transpose()?;
    let mut conditions = Vec::with_capacity(branches.len());
    let mut results = Vec::with_capacity(branches.len() + 1);
    for (when, then) in branches {
        let condition = match &operand {
            Some(operand) => binary(BinaryOp::Eq, operand.clone(), bind(when, scope)?)?,
            None => bind(when, scope)?,
        };
        conditions.push(coerce(condition.0, condition.1, DataType::Boolean)?);
        results.push(bind(then, scope)?);
    }
    let otherwise = otherwise.map(|e| bind(e, scope)).transpose()?;
    let known = results
        .iter()
        .chain(otherwise.iter())
        .filter_map(|(_, t)| *t);
    let mut ty: Option<DataType> = None;
    for t in known {
        ty = Some(match ty {
            None => t,
            Some(current) if current == t => t,
            Some(current) => comparison_type(current, t).ok_or_else(|| {
                Error::Datatype(format!(
                    "CASE types {} and {} cannot be matched",
                    current.name(),
                    t.name()
                ))
            })?,
        });
    }
    let ty = ty.unwrap_or(DataType::Text);
    let convert = |(e, t): (BoundExpr, SqlType)| match t {
        Some(t) if t != ty => coerce(e, Some(t), ty),
        None => coerce(e, None, ty),
        _ => Ok(e),
    };
    let branches = conditions
        .into_iter()
        .zip(results)
        .map(|(c, r)| Ok((c, convert(r)?)))
        .collect::<Result<Vec<_>>>()?;
    let otherwise = otherwise.map(convert).transpose()?.map(Box::new);
    Ok((
        BoundExpr::Case {
            branches,
            otherwise,
        },
        Some(ty),
    ))
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
        // Other numeric literals are NUMERIC, as in PostgreSQL.
        Literal::Number(text) => (
            BoundExpr::Constant(Value::Numeric(crate::types::parse_numeric(text)?)),
            Some(DataType::Numeric(None)),
        ),
        Literal::String(s) => (BoundExpr::Constant(Value::Text(s.into())), None),
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
        BinaryOp::Concat => {
            // CHAR(n) operands lose their padding, as when read as text.
            let text = |e, t: SqlType| match t {
                Some(t) if is_char(t) => coerce(e, Some(t), DataType::Text),
                _ => Ok(e),
            };
            Ok(make(
                text(l, lt)?,
                text(r, rt)?,
                DataType::Text,
                DataType::Text,
            ))
        }
        op if op.is_json() => {
            let doc = lt.unwrap_or(DataType::Json);
            let ty = json_operator_type(op, doc.unconstrained())
                .ok_or_else(|| no_operator(op, doc.name(), rt.map_or("unknown", DataType::name)))?;
            let l = coerce(l, lt, doc)?;
            let r = match (op, rt) {
                (BinaryOp::JsonGet | BinaryOp::JsonGetText, Some(t)) if t.is_integer() => r,
                (BinaryOp::JsonGet | BinaryOp::JsonGetText | BinaryOp::JsonHasKey, t) => {
                    coerce(r, t, DataType::Text)?
                }
                (_, t) => coerce(r, t, DataType::Jsonb)?,
            };
            Ok(make(l, r, ty, ty))
        }
        BinaryOp::Regex { .. } => {
            for t in [lt, rt].into_iter().flatten() {
                if !t.is_text() {
                    return Err(no_operator(
                        op,
                        lt.map_or("unknown", DataType::name),
                        rt.map_or("unknown", DataType::name),
                    ));
                }
            }
            Ok(make(
                coerce(l, lt, DataType::Text)?,
                coerce(r, rt, DataType::Text)?,
                DataType::Text,
                DataType::Boolean,
            ))
        }
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
            let (a, b) = match (
                lt.map(DataType::unconstrained),
                rt.map(DataType::unconstrained),
            ) {
                (Some(a), Some(b)) => (a, b),
                (Some(t), None) => (t, unknown_operand_type(op, t)),
                (None, Some(t)) => (unknown_operand_type(op, t), t),
                (None, None) => (DataType::Double, DataType::Double),
            };
            let ty =
                arithmetic_type(op, a, b).ok_or_else(|| no_operator(op, a.name(), b.name()))?;
            if op == BinaryOp::Modulo
                && !(a.is_numeric()
                    && b.is_numeric()
                    && ty != DataType::Double
                    && ty != DataType::Real)
            {
                return Err(no_operator(op, a.name(), b.name()));
            }
            // Unknown operands read as their chosen type; numbers of different widths mix.
            let numbers = a.is_numeric() && b.is_numeric();
            let l = coerce(l, lt, if lt.is_some() || !numbers { a } else { ty })?;
            let r = coerce(r, rt, if rt.is_some() || !numbers { b } else { ty })?;
            Ok(make(l, r, ty, ty))
        }
    }
}

/// The type two known operand types compare in, or 42883.
fn comparable_type(op: BinaryOp, a: DataType, b: DataType) -> Result<DataType> {
    comparison_type(a, b).ok_or_else(|| no_operator(op, a.name(), b.name()))
}

/// Makes an operand comparable in type `common`: unknown literals are cast; numbers compare
/// by value whatever their width, so they are left alone.
fn comparable(expr: BoundExpr, ty: SqlType, common: DataType) -> Result<BoundExpr> {
    match ty {
        Some(t) if numeric_result(t, common).is_some() => Ok(expr),
        // Dates, timestamps and timestamptz compare among themselves by value.
        Some(t) if comparison_type(t, common) == Some(common.unconstrained()) && !is_char(t) => {
            Ok(expr)
        }
        _ => coerce(expr, ty, common),
    }
}

fn is_char(t: DataType) -> bool {
    matches!(t, DataType::Char(_))
}

/// Converts `expr` of type `from` to `to` where PostgreSQL does so implicitly: unknown
/// literals to anything, integers to wider numbers. Anything else is 42804.
pub fn coerce(expr: BoundExpr, from: SqlType, to: DataType) -> Result<BoundExpr> {
    let cast = |expr: BoundExpr| {
        fold(BoundExpr::Cast {
            expr: Box::new(expr),
            to,
        })
    };
    let Some(from) = from else {
        return cast(expr);
    };
    use DataType::*;
    match (from.unconstrained(), to.unconstrained()) {
        // CHAR(n) read as text loses its padding, as in PostgreSQL.
        (Text, Text) if is_char(from) && !is_char(to) => Ok(BoundExpr::Call {
            func: ScalarFunc::RTrim,
            args: vec![expr],
        }),
        (f, t) if f == t => Ok(expr),
        (Real, Double) => Ok(expr),
        (f, t) if f.is_integer() && t.is_numeric() => cast(expr),
        (Numeric(_), Real | Double) => cast(expr),
        (Date, Timestamp | TimestampTz) | (Timestamp, TimestampTz) => cast(expr),
        _ => Err(Error::Datatype(format!(
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
        // Not a column, but not known before execution either: never folded.
        BoundExpr::Column(_)
        | BoundExpr::Parameter(_)
        | BoundExpr::WindowResult(_)
        | BoundExpr::Outer(..) => true,
        BoundExpr::Negate(e) | BoundExpr::Not(e) => reads_columns(e),
        BoundExpr::Cast { expr, .. }
        | BoundExpr::IsNull { expr, .. }
        | BoundExpr::InSet { expr, .. } => reads_columns(expr),
        BoundExpr::Binary { left, right, .. } => reads_columns(left) || reads_columns(right),
        BoundExpr::InList { expr, list, .. } => {
            reads_columns(expr) || list.iter().any(reads_columns)
        }
        // A set-returning call stays one, for the select list to expand.
        BoundExpr::Call { func, args } => {
            func.is_volatile() || func.returns_set() || args.iter().any(reads_columns)
        }
        BoundExpr::Case {
            branches,
            otherwise,
        } => {
            branches
                .iter()
                .any(|(c, r)| reads_columns(c) || reads_columns(r))
                || otherwise.as_deref().is_some_and(reads_columns)
        }
        BoundExpr::Like { expr, pattern, .. } => reads_columns(expr) || reads_columns(pattern),
        BoundExpr::Distinct { left, right, .. } => reads_columns(left) || reads_columns(right),
        BoundExpr::Lookup { key, .. } => reads_columns(key),
        // Not a column, but only the executor can run it: never folded.
        BoundExpr::Subquery { .. } => true,
    }
}

/// A value for a column of type `to` from an expression of type `from` (assignment: INSERT
/// values, UPDATE SET, defaults). Numbers convert to any numeric column (rounding, with range
/// checks), unknown literals are parsed; anything else is 42804.
pub fn assign(expr: BoundExpr, from: SqlType, to: DataType, column: &str) -> Result<BoundExpr> {
    use DataType::*;
    let assignable = |from: DataType| match (from.unconstrained(), to.unconstrained()) {
        (f, t) if f == t => true,
        (f, t) if f.is_numeric() && t.is_numeric() => true,
        // Anything can be stored as text (its text form), as PostgreSQL's assignment casts.
        (_, Text) => true,
        (Date | Timestamp | TimestampTz, Date | Timestamp | TimestampTz) => true,
        (Json | Jsonb, Json | Jsonb) => true,
        _ => false,
    };
    let expr = match from {
        Some(from) if from == to => expr,
        Some(from) if !assignable(from) => {
            return Err(Error::TypeMismatch {
                column: column.to_string(),
                expected: to.name(),
                found: from.name(),
            });
        }
        // The column's modifiers (length, scale) are applied when the row is stored, where
        // too long a string is an error rather than cut as a cast would.
        _ => BoundExpr::Cast {
            expr: Box::new(expr),
            to: to.unconstrained(),
        },
    };
    fold(expr)
}
