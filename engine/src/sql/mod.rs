//! SQL: PostgreSQL-dialect statements executed against the engine.
//!
//! # One query, end to end
//! `session.execute("SELECT name FROM users WHERE id = 42")`:
//!
//! 1. [`parser::parse`] runs `sqlparser` (PostgreSQL dialect) and translates its tree at once
//!    into ours ([`parser::ast`]): names case-folded, positions kept, anything unsupported
//!    refused with 0A000.
//! 2. [`planner::plan`] binds the statement against a [`planner::Catalog`] (the transaction's
//!    view of the schemas): `name` becomes column 1, `42` an `integer` constant, the filter a
//!    [`expr::BoundExpr`]. `id` is the one-column primary key, so the access path is
//!    [`planner::Access::Key`]: one learned-index lookup instead of a scan. Range predicates
//!    on the key become [`planner::Access::Range`], and `ORDER BY id [DESC]` is delivered by
//!    the index scan's direction instead of a sort.
//! 3. [`executor::execute`] runs the plan in the session's transaction: `Transaction::get`
//!    (ALEX lookup, visibility check, the row from the cache or storage), the filter
//!    re-checked, the projection evaluated, a [`executor::QueryResult`] with column names,
//!    types and the command tag returned.
//!
//! Outside `BEGIN` … `COMMIT` each statement runs in its own transaction (autocommit).
//!
//! # What is here so far (step one)
//! CREATE/DROP TABLE, CREATE [UNIQUE]/DROP INDEX, INSERT … VALUES, single-table SELECT
//! (WHERE, ORDER BY with NULLS FIRST/LAST, by position or alias, LIMIT/OFFSET), UPDATE,
//! DELETE, BEGIN [READ ONLY]/COMMIT/ROLLBACK, EXPLAIN [ANALYZE]; expressions with three-valued logic, arithmetic
//! with overflow and division-by-zero errors, comparisons, IN, BETWEEN, IS NULL, `||`, casts.
//! Non-integer numeric literals are double precision until NUMERIC exists.

pub mod aggregate;
pub mod executor;
pub mod explain;
pub mod expr;
pub mod parser;
pub mod planner;
mod session;
#[cfg(test)]
mod tests;

pub use self::executor::QueryResult;
pub use self::planner::OutputColumn;
pub use self::session::{Prepared, plan_sql};
