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
//! # What is here so far
//! - Statements: CREATE/DROP TABLE, ALTER TABLE (ADD COLUMN, RENAME COLUMN, RENAME TO),
//!   CREATE [UNIQUE]/DROP INDEX, INSERT (VALUES or a query,
//!   ON CONFLICT DO NOTHING/DO UPDATE, RETURNING), SELECT, UPDATE and DELETE (RETURNING),
//!   TRUNCATE, BEGIN [READ ONLY]/COMMIT/ROLLBACK, SAVEPOINT/ROLLBACK TO/RELEASE,
//!   EXPLAIN [ANALYZE].
//! - Queries: joins (inner, left, right, full, cross; hash joins on equality keys, nested
//!   loops otherwise) with aliases, WHERE (conjuncts pushed below inner joins), GROUP BY and
//!   HAVING with COUNT/SUM/AVG/MIN/MAX/BOOL_AND/BOOL_OR/STRING_AGG (also DISTINCT), SELECT
//!   DISTINCT, ORDER BY (NULLS FIRST/LAST, by position or alias), LIMIT/OFFSET; uncorrelated
//!   subqueries (scalar, IN, EXISTS), run before their statement in the same transaction;
//!   UNION/INTERSECT/EXCEPT [ALL]; subqueries in FROM (with column aliases) and WITH queries
//!   (inlined where named); VALUES lists as queries and tables.
//! - Expressions: three-valued logic, arithmetic with overflow and division-by-zero errors,
//!   comparisons, IN, BETWEEN, IS [NOT] NULL, IS [NOT] DISTINCT FROM, LIKE/ILIKE, CASE, `||`,
//!   casts; scalar functions (`functions.rs`: string, math, COALESCE/NULLIF/GREATEST/LEAST,
//!   CONCAT), SUBSTRING/POSITION/TRIM/CEIL/FLOOR syntax.
//! - Parameters `$n` with inferred types and prepared statements whose plans are reused until
//!   DDL changes the catalog ([`Session::prepare`](crate::Session::prepare)).
//!
//! Not yet (the SQL issue lists them): NUMERIC, date/time, UUID and JSON types; correlated
//! subqueries, WITH RECURSIVE, window functions; DROP/ALTER COLUMN, views, CHECK;
//! UPDATE … FROM / DELETE … USING; READ COMMITTED. Non-integer numeric literals are double
//! precision until NUMERIC exists.

pub mod aggregate;
pub mod executor;
pub mod explain;
pub mod expr;
pub mod functions;
pub mod interrupt;
pub mod operators;
pub mod parser;
pub mod planner;
mod session;
pub mod settings;
pub mod temporal;
#[cfg(test)]
mod tests;
pub mod window;

pub use self::executor::QueryResult;
pub use self::planner::OutputColumn;
pub use self::session::{Prepared, SessionState, plan_sql};
