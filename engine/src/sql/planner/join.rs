//! The FROM clause: tables with their aliases, joins with their ON conditions, hash-join keys,
//! and WHERE conjuncts pushed down to the tables they read (enabling learned-index access
//! paths below a join).

use std::sync::Arc;

use super::super::expr::BoundExpr;
use super::super::expr::numeric_result;
use super::super::parser::ast::{
    BinaryOp, Expr, FromItem, Ident, JoinKind, RecursiveQuery, Statement,
};
use super::expr::{Relation, Scope, bind, coerce};
use super::{
    Catalog, DerivedSource, FunctionSource, JoinPlan, OutputColumn, RecursiveSource, SelectPlan,
    SetFunction, Source, TableSource, ValuesSource, WorkTableSource, access_path, conjuncts, table,
};
use crate::catalog::{Column, TableSchema, ViewDef};
use crate::mvcc::Direction;
use crate::sql::system::{SystemCatalog, is_system_relation};
use crate::types::DataType;
use crate::{Error, Result};

/// A FROM clause with names resolved: the tables are `relations[i]`.
#[derive(Debug)]
pub enum FromTree {
    Table(usize),
    /// A VALUES list; its columns are `relations[i]`'s.
    Values(usize, Vec<Vec<BoundExpr>>),
    /// A subquery in FROM; its columns are `relations[i]`'s.
    Derived(usize, Box<SelectPlan>),
    /// A recursive query's work table; its columns are `relations[i]`'s.
    WorkTable(usize),
    /// A set-returning function; its column is `relations[i]`'s.
    Function(usize, SetFunction, Vec<BoundExpr>),
    Join {
        left: Box<FromTree>,
        right: Box<FromTree>,
        kind: JoinKind,
        on: Option<BoundExpr>,
    },
}

/// Resolves a FROM item, appending its tables to `relations` (left to right).
pub fn from_tree(
    item: &FromItem,
    catalog: &dyn Catalog,
    relations: &mut Vec<Relation>,
    outer: Option<&[Relation]>,
) -> Result<FromTree> {
    match item {
        FromItem::Table { name, alias } if is_system_relation(&name.name) => {
            let system = catalog
                .system()
                .ok_or_else(|| Error::NotSupported("the system catalogs here".into()))?;
            let relation = system
                .relation(&name.name)
                .ok_or_else(|| Error::UndefinedTable(name.name.clone()).at(name.position))?;
            let shown = alias.clone().unwrap_or_else(|| Ident {
                // `information_schema.tables` is `tables` to its columns.
                name: name
                    .name
                    .rsplit('.')
                    .next()
                    .unwrap_or(&name.name)
                    .to_string(),
                ..name.clone()
            });
            let types = relation
                .columns
                .iter()
                .map(|(n, t)| (n.to_string(), *t))
                .collect();
            let index = derived(relations, &shown, &[], types)?;
            let rows = relation
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(BoundExpr::Constant).collect())
                .collect();
            Ok(FromTree::Values(index, rows))
        }
        FromItem::Function {
            name,
            args,
            alias,
            column,
        } => {
            let scope = Scope {
                outer,
                ..Scope::new(&[]).with_catalog(catalog)
            };
            let (function, args, ty) = set_function(name, args, scope)?;
            let column_name = column.as_ref().unwrap_or(alias).name.clone();
            let index = derived(relations, alias, &[], vec![(column_name, ty)])?;
            Ok(FromTree::Function(index, function, args))
        }
        FromItem::Table { name, alias } => {
            // A view is its query, planned here as a subquery under the view's name.
            if let Some(view) = catalog.view(&name.name) {
                let query = match super::super::parser::parse(&view.query)?.pop() {
                    Some(Statement::Select(query, _)) => query,
                    _ => return Err(Error::Corrupt(format!("view \"{}\"", view.name))),
                };
                let plan =
                    super::select::select(&query, catalog).map_err(|e| e.at(name.position))?;
                let types = plan
                    .columns
                    .iter()
                    .zip(&view.columns)
                    .map(|(c, n)| (n.clone(), c.data_type))
                    .collect();
                let index = derived(relations, alias.as_ref().unwrap_or(name), &[], types)?;
                return Ok(FromTree::Derived(index, Box::new(plan)));
            }
            let schema = table(catalog, name)?;
            let shown = alias.as_ref().unwrap_or(name);
            if relations.iter().any(|r| r.name == shown.name) {
                return Err(Error::DuplicateAlias(shown.name.clone()).at(shown.position));
            }
            let offset = relations.iter().map(|r| r.schema.columns.len()).sum();
            relations.push(Relation {
                name: shown.name.clone(),
                schema,
                offset,
            });
            Ok(FromTree::Table(relations.len() - 1))
        }
        FromItem::Subquery {
            query,
            alias,
            columns,
        } => {
            let plan = super::select::select(query, catalog)?;
            let types: Vec<(String, DataType)> = plan
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type))
                .collect();
            let index = derived(relations, alias, columns, types)?;
            Ok(FromTree::Derived(index, Box::new(plan)))
        }
        FromItem::Values {
            rows,
            alias,
            columns,
        } => {
            let (rows, types) = values(rows)?;
            let types = types
                .into_iter()
                .enumerate()
                .map(|(i, ty)| (format!("column{}", i + 1), ty))
                .collect();
            let index = derived(relations, alias, columns, types)?;
            Ok(FromTree::Values(index, rows))
        }
        FromItem::Recursive { query, alias } => {
            let plan = recursive(query, catalog)?;
            let types = plan
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type))
                .collect();
            let index = derived(relations, alias, &[], types)?;
            Ok(FromTree::Derived(index, Box::new(plan)))
        }
        FromItem::WorkTable { name, alias } => {
            let schema = catalog
                .work_table(&name.name)
                .ok_or_else(|| Error::UndefinedTable(name.name.clone()).at(name.position))?;
            let shown = alias.as_ref().unwrap_or(name);
            let columns = schema
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type))
                .collect();
            let index = derived(relations, shown, &[], columns)?;
            Ok(FromTree::WorkTable(index))
        }
        FromItem::Join {
            left,
            right,
            kind,
            on,
        } => {
            let left = from_tree(left, catalog, relations, outer)?;
            let right = from_tree(right, catalog, relations, outer)?;
            let on = on
                .as_ref()
                .map(|on| {
                    let (bound, ty) = bind(on, Scope::new(relations).with_catalog(catalog))?;
                    coerce(bound, ty, DataType::Boolean).map_err(|_| {
                        Error::Datatype(format!(
                            "argument of JOIN/ON must be type boolean, not type {}",
                            ty.map_or("unknown", DataType::name)
                        ))
                        .at(on.position)
                    })
                })
                .transpose()?;
            Ok(FromTree::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind: *kind,
                on,
            })
        }
    }
}

/// A catalog that also knows a recursive query's work table (while its step is planned).
struct WithWorkTable<'a> {
    inner: &'a dyn Catalog,
    schema: Arc<TableSchema>,
}

impl Catalog for WithWorkTable<'_> {
    fn table(&self, name: &str) -> Result<Arc<TableSchema>> {
        self.inner.table(name)
    }

    fn view(&self, name: &str) -> Option<Arc<ViewDef>> {
        self.inner.view(name)
    }

    fn work_table(&self, name: &str) -> Option<Arc<TableSchema>> {
        (name == self.schema.name).then(|| self.schema.clone())
    }

    fn system(&self) -> Option<Arc<SystemCatalog>> {
        self.inner.system()
    }
}

/// Plans `WITH RECURSIVE name (columns) AS (base UNION [ALL] step)` as a query reading the
/// recursive source: columns named by the list (else the base's), typed by the base.
fn recursive(query: &RecursiveQuery, catalog: &dyn Catalog) -> Result<SelectPlan> {
    let base = super::select::select(&query.base, catalog)?;
    if query.columns.len() > base.columns.len() {
        return Err(Error::InvalidColumnReference(format!(
            "WITH query \"{}\" has {} columns available but {} columns specified",
            query.name,
            base.columns.len(),
            query.columns.len()
        )));
    }
    let columns: Vec<OutputColumn> = base
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| OutputColumn {
            name: query
                .columns
                .get(i)
                .map_or_else(|| c.name.clone(), |n| n.name.clone()),
            data_type: c.data_type,
        })
        .collect();
    let schema = Arc::new(TableSchema {
        id: 0,
        name: query.name.clone(),
        columns: columns
            .iter()
            .map(|c| Column::new(c.name.clone(), c.data_type))
            .collect(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
    });
    let step = super::select::select(
        &query.step,
        &WithWorkTable {
            inner: catalog,
            schema,
        },
    )?;
    if step.columns.len() != columns.len() {
        return Err(Error::Syntax(
            "each UNION query must have the same number of columns".into(),
        ));
    }
    for (i, (base, step)) in columns.iter().zip(step.columns.iter()).enumerate() {
        if base.data_type.unconstrained() != step.data_type.unconstrained() {
            return Err(Error::Datatype(format!(
                "recursive query \"{}\" column {} has type {} in non-recursive term but type {} overall",
                query.name,
                i + 1,
                base.data_type,
                step.data_type
            )));
        }
    }
    let column_names: Arc<[String]> = columns.iter().map(|c| c.name.clone()).collect();
    Ok(SelectPlan {
        source: Some(Source::Recursive(Box::new(RecursiveSource {
            name: query.name.clone(),
            column_names,
            base,
            step,
            all: query.all,
        }))),
        filter: None,
        order: Vec::new(),
        offset: None,
        limit: None,
        grouping: None,
        set: None,
        distinct: false,
        distinct_on: Vec::new(),
        windows: Vec::new(),
        point: false,
        scan_only: false,
        projection: (0..columns.len()).map(BoundExpr::Column).collect(),
        columns: columns.into(),
        expand: Vec::new(),
    })
}

/// Adds a derived table (subquery or VALUES) with the given columns, renamed by `aliases`.
fn derived(
    relations: &mut Vec<Relation>,
    alias: &Ident,
    aliases: &[Ident],
    columns: Vec<(String, DataType)>,
) -> Result<usize> {
    if relations.iter().any(|r| r.name == alias.name) {
        return Err(Error::DuplicateAlias(alias.name.clone()).at(alias.position));
    }
    if aliases.len() > columns.len() {
        return Err(Error::InvalidColumnReference(format!(
            "table \"{}\" has {} columns available but {} columns specified",
            alias.name,
            columns.len(),
            aliases.len()
        ))
        .at(alias.position));
    }
    let schema = TableSchema {
        id: 0,
        name: alias.name.clone(),
        columns: columns
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty))| {
                let name = aliases.get(i).map_or(name, |a| a.name.clone());
                Column::new(name, ty)
            })
            .collect(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
    };
    let offset = relations.iter().map(|r| r.schema.columns.len()).sum();
    relations.push(Relation {
        name: alias.name.clone(),
        schema: Arc::new(schema),
        offset,
    });
    Ok(relations.len() - 1)
}

/// A VALUES list's rows, bound, with each column's type (the first known one, numbers
/// widened; unknown literals are text) and every value converted to it.
fn values(rows: &[Vec<Expr>]) -> Result<(Vec<Vec<BoundExpr>>, Vec<DataType>)> {
    let width = rows.first().map_or(0, Vec::len);
    let mut bound = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() != width {
            let at = row.first().map_or(0, |e| e.position);
            return Err(Error::Syntax("VALUES lists must all be the same length".into()).at(at));
        }
        bound.push(
            row.iter()
                .map(|e| bind(e, Scope::new(&[])))
                .collect::<Result<Vec<_>>>()?,
        );
    }
    let mut types = vec![None; width];
    for row in &bound {
        for (ty, (_, t)) in types.iter_mut().zip(row) {
            *ty = match (*ty, *t) {
                (None, t) => t,
                (Some(a), Some(b)) if a != b => Some(numeric_result(a, b).ok_or_else(|| {
                    Error::Datatype(format!(
                        "VALUES types {} and {} cannot be matched",
                        a.name(),
                        b.name()
                    ))
                })?),
                (a, _) => a,
            };
        }
    }
    let types: Vec<DataType> = types
        .into_iter()
        .map(|t| t.unwrap_or(DataType::Text))
        .collect();
    let rows = bound
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&types)
                .map(|((e, t), &to)| match t {
                    Some(from) if from == to => Ok(e),
                    Some(_) => Ok(BoundExpr::Cast {
                        expr: Box::new(e),
                        to,
                    }),
                    None => coerce(e, None, to),
                })
                .collect()
        })
        .collect::<Result<_>>()?;
    Ok((rows, types))
}

/// A set-returning function call in FROM: which one, its arguments converted, and the type
/// of its column.
fn set_function(
    name: &Ident,
    args: &[Expr],
    scope: Scope<'_>,
) -> Result<(SetFunction, Vec<BoundExpr>, DataType)> {
    let bound = args
        .iter()
        .map(|a| bind(a, scope))
        .collect::<Result<Vec<_>>>()?;
    let undefined = |what: &str| {
        Err(
            Error::UndefinedFunction(format!("function {}({what}) does not exist", name.name))
                .at(name.position),
        )
    };
    match name.name.as_str() {
        "generate_series" => {
            if !(2..=3).contains(&bound.len())
                || bound
                    .iter()
                    .any(|(_, t)| t.is_some_and(|t| !t.is_integer()))
            {
                return undefined("of these arguments; OmenDB has the integer forms");
            }
            let ty = if bound
                .iter()
                .all(|(_, t)| matches!(t, Some(DataType::Integer | DataType::SmallInt)))
            {
                DataType::Integer
            } else {
                DataType::BigInt
            };
            let args = bound
                .into_iter()
                .map(|(e, t)| coerce(e, t, DataType::BigInt))
                .collect::<Result<Vec<_>>>()?;
            Ok((SetFunction::GenerateSeries, args, ty))
        }
        "unnest" => match bound.as_slice() {
            [(e, Some(ty))] if ty.element().is_some() => Ok((
                SetFunction::Unnest,
                vec![e.clone()],
                ty.element().unwrap_or(DataType::Text),
            )),
            _ => undefined("of anything but one array"),
        },
        _ => undefined("as a table"),
    }
}

/// Whether every join in the tree is inner (WHERE conjuncts may then move below them).
pub fn all_inner(tree: &FromTree) -> bool {
    match tree {
        FromTree::Table(_)
        | FromTree::Derived(..)
        | FromTree::Values(..)
        | FromTree::Function(..)
        | FromTree::WorkTable(_) => true,
        FromTree::Join {
            left, right, kind, ..
        } => {
            matches!(kind, JoinKind::Inner | JoinKind::Cross) && all_inner(left) && all_inner(right)
        }
    }
}

/// The executable source of a FROM tree with more than one table. `filter` is the query's
/// WHERE; where `push` allows, its conjuncts over one table are also applied at that table.
pub fn source(
    tree: &FromTree,
    relations: &[Relation],
    filter: Option<&BoundExpr>,
    push: bool,
) -> Source {
    match tree {
        FromTree::Values(i, rows) => Source::Values(Box::new(ValuesSource {
            name: relations[*i].name.clone(),
            column_names: qualified_names(&relations[*i]),
            rows: rows.clone(),
        })),
        FromTree::Function(i, function, args) => Source::Function(Box::new(FunctionSource {
            name: relations[*i].name.clone(),
            column_names: qualified_names(&relations[*i]),
            function: *function,
            args: args.clone(),
        })),
        FromTree::WorkTable(i) => Source::WorkTable(Box::new(WorkTableSource {
            name: relations[*i].name.clone(),
            column_names: qualified_names(&relations[*i]),
        })),
        FromTree::Derived(i, plan) => {
            let relation = &relations[*i];
            Source::Derived(Box::new(DerivedSource {
                name: relation.name.clone(),
                column_names: qualified_names(relation),
                query: (**plan).clone(),
            }))
        }
        FromTree::Table(i) => {
            let relation = &relations[*i];
            let width = relation.schema.columns.len();
            let pushed = if push {
                filter
                    .map(conjuncts)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|c| within(c, relation.offset, width))
                    .map(|c| shift(c.clone(), relation.offset))
                    .reduce(and)
            } else {
                None
            };
            Source::Table(TableSource {
                table: Arc::from(relation.schema.name.as_str()),
                column_names: qualified_names(relation),
                access: access_path(&relation.schema, pushed.as_ref()),
                pushed,
                direction: Direction::Forward,
                integer_key: relation.schema.has_integer_key(),
                residual: None,
            })
        }
        FromTree::Join {
            left,
            right,
            kind,
            on,
        } => {
            let (left_start, left_width) = span(left, relations);
            let (right_start, right_width) = span(right, relations);
            debug_assert_eq!(left_start + left_width, right_start);
            // Equalities between the sides hash the join: ON's, and under inner joins WHERE's
            // too (`FROM a, b WHERE a.x = b.y`), which still filters the joined rows.
            let condition = match (on, filter.filter(|_| push)) {
                (Some(on), Some(filter)) => Some(and(on.clone(), filter.clone())),
                (Some(c), None) | (None, Some(c)) => Some(c.clone()),
                (None, None) => None,
            };
            let equi = condition
                .as_ref()
                .map(|c| equi_keys(c, relations, left_start, left_width, right_width))
                .unwrap_or_default();
            Source::Join(Box::new(JoinPlan {
                left: source(left, relations, filter, push),
                right: source(right, relations, filter, push),
                kind: *kind,
                // The ON condition is evaluated on the joined row, whose columns start at the
                // left side's first table.
                on: on.as_ref().map(|on| shift(on.clone(), left_start)),
                equi,
                left_width,
                right_width,
                needed: None,
            }))
        }
    }
}

/// `alias.column` names, so that printed join plans say which table a column is from.
fn qualified_names(relation: &Relation) -> Arc<[String]> {
    relation
        .schema
        .columns
        .iter()
        .map(|c| format!("{}.{}", relation.name, c.name))
        .collect()
}

/// The first column and the width of a subtree's rows, in the full FROM row.
fn span(tree: &FromTree, relations: &[Relation]) -> (usize, usize) {
    match tree {
        FromTree::Table(i)
        | FromTree::Derived(i, _)
        | FromTree::Values(i, _)
        | FromTree::Function(i, ..)
        | FromTree::WorkTable(i) => (relations[*i].offset, relations[*i].schema.columns.len()),
        FromTree::Join { left, right, .. } => {
            let (start, l) = span(left, relations);
            let (_, r) = span(right, relations);
            (start, l + r)
        }
    }
}

/// Conjuncts `a = b` of ON with `a` over the left rows and `b` over the right ones (or the other
/// way round), of the same type family, so that hashing their values finds the matches.
fn equi_keys(
    on: &BoundExpr,
    relations: &[Relation],
    left_start: usize,
    left_width: usize,
    right_width: usize,
) -> Vec<(BoundExpr, BoundExpr)> {
    let right_start = left_start + left_width;
    let mut keys = Vec::new();
    for conjunct in conjuncts(on) {
        let BoundExpr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
            ..
        } = conjunct
        else {
            continue;
        };
        let sides = if within(left, left_start, left_width)
            && within(right, right_start, right_width)
        {
            (left, right)
        } else if within(right, left_start, left_width) && within(left, right_start, right_width) {
            (right, left)
        } else {
            continue;
        };
        if family(sides.0, relations) != family(sides.1, relations)
            || family(sides.0, relations).is_none()
        {
            continue;
        }
        keys.push((
            shift((**sides.0).clone(), left_start),
            shift((**sides.1).clone(), right_start),
        ));
    }
    keys
}

/// The hash-compatible kind of a column expression's values, if it is a plain column.
fn family(expr: &BoundExpr, relations: &[Relation]) -> Option<u8> {
    let BoundExpr::Column(i) = expr else {
        return None;
    };
    let relation = relations.iter().rev().find(|r| r.offset <= *i)?;
    let ty = relation.schema.columns.get(i - relation.offset)?.data_type;
    Some(match ty {
        t if t.is_integer() => 0,
        DataType::Real | DataType::Double => 1,
        DataType::Text => 2,
        DataType::Boolean => 3,
        DataType::Bytea => 4,
        _ => 5,
    })
}

/// Whether every column `expr` reads lies in `start..start + width` (and it reads some).
fn within(expr: &BoundExpr, start: usize, width: usize) -> bool {
    let mut reads = false;
    let mut inside = true;
    let mut probe = expr.clone();
    probe.visit_mut(&mut |e| match e {
        // A correlated subquery runs per joined row: it stays above the join.
        BoundExpr::Subquery {
            correlated: true, ..
        } => inside = false,
        BoundExpr::Column(i) => {
            reads = true;
            inside &= *i >= start && *i < start + width;
        }
        BoundExpr::Parameter(_) => {}
        _ => {}
    });
    reads && inside
}

/// `expr` with every column index lowered by `by`.
fn shift(mut expr: BoundExpr, by: usize) -> BoundExpr {
    expr.visit_mut(&mut |e| {
        if let BoundExpr::Column(i) = e {
            *i -= by;
        }
    });
    expr
}

pub(super) fn and(a: BoundExpr, b: BoundExpr) -> BoundExpr {
    BoundExpr::Binary {
        op: BinaryOp::And,
        left: Box::new(a),
        right: Box::new(b),
        ty: DataType::Boolean,
    }
}
