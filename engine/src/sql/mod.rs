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
//!    the index scan's direction instead of a sort. On a composite key, equalities (and `IN`
//!    lists) on every key column are lookups, equalities on leading key columns and a range on
//!    the next one a [`planner::Access::KeyRange`], and an ORDER BY of the key's columns in
//!    the key's order (skipping those an equality fixes) needs no sort either. Equalities on a
//!    secondary index's leading columns (and a range on the next one) become
//!    [`planner::Access::Index`].
//! 3. [`executor::execute`] runs the plan in the session's transaction. A point query takes
//!    the straight path: the key evaluated, `Transaction::get` (ALEX lookup, visibility check,
//!    the row from the cache or storage), the projection evaluated; no filter is left, since
//!    the lookup decided `id = 42`. A [`executor::QueryResult`] with column names, types and
//!    the command tag comes back. Scans that only filter and project stream the same way;
//!    grouping, windows, sorting and joins materialise their input.
//!
//! Outside `BEGIN` … `COMMIT` each statement runs in its own transaction (autocommit). A
//! prepared statement's plan is run as it is: its `$n` read the values the session sets for
//! the statement ([`expr::with_parameters`]), as `now()` reads the statement's clock and the
//! executor's loops check for cancellation and the statement timeout ([`interrupt`]).
//!
//! # What is here
//! - Statements: CREATE/DROP TABLE (PRIMARY KEY, UNIQUE, NOT NULL, DEFAULT expressions,
//!   CHECK, SERIAL and identity columns), ALTER TABLE (ADD/DROP/RENAME COLUMN, RENAME TO),
//!   CREATE \[UNIQUE\]/DROP INDEX, CREATE \[OR REPLACE\]/DROP VIEW, INSERT (VALUES or a query,
//!   ON CONFLICT DO NOTHING/DO UPDATE, RETURNING), SELECT, UPDATE … \[FROM\] and DELETE …
//!   \[USING\] (RETURNING), TRUNCATE, BEGIN/COMMIT/ROLLBACK with isolation levels (REPEATABLE
//!   READ = snapshot isolation, READ COMMITTED = a snapshot per statement),
//!   SAVEPOINT/ROLLBACK TO/RELEASE, SET/SHOW/RESET, EXPLAIN \[ANALYZE\], COPY FROM STDIN /
//!   TO STDOUT in text and CSV ([`copy`], run by a protocol adapter through [`copy_run`]).
//! - Queries: joins (inner, left, right, full, cross; hash joins on equality keys of ON or
//!   WHERE, nested loops otherwise), WHERE (conjuncts pushed below inner joins), GROUP BY and
//!   HAVING with COUNT/SUM/AVG/MIN/MAX/BOOL_AND/BOOL_OR/STRING_AGG (also DISTINCT), window
//!   functions ([`window`]), SELECT DISTINCT \[ON\], ORDER BY (NULLS FIRST/LAST, by position or
//!   alias), LIMIT/OFFSET; subqueries (scalar, IN, EXISTS; uncorrelated ones run once before
//!   their statement, correlated ones per outer row); UNION/INTERSECT/EXCEPT \[ALL\]; subqueries
//!   in FROM, WITH and WITH RECURSIVE, views; VALUES lists as queries and tables.
//! - Types ([`crate::types`]): integers, REAL/DOUBLE PRECISION, NUMERIC, TEXT/VARCHAR/CHAR,
//!   BOOLEAN, BYTEA, DATE/TIME/TIMESTAMP/TIMESTAMPTZ/INTERVAL, UUID, JSON/JSONB, with
//!   PostgreSQL's input and output forms, casts and errors; operators in [`operators`],
//!   functions in [`functions`] and [`temporal`].
//! - One-dimensional arrays as values (`ARRAY[…]`, `ARRAY(subquery)`, `a[i]`, `= ANY/ALL`,
//!   `'{…}'` literals, `array_to_string` and friends, `unnest`/`generate_series` in FROM) and
//!   regular expressions (`~`, `~*`, `!~`, `!~*`).
//! - The system catalogs clients read ([`system`]): `pg_catalog` and `information_schema`
//!   relations computed from the catalog at plan time, `::regclass`-style casts and the catalog
//!   functions psql's describe commands call.
//! - Parameters `$n` with inferred types and prepared statements whose plans are reused until
//!   DDL changes the catalog ([`Session::prepare`](crate::Session::prepare)).
//!
//! Not yet: a correlated subquery inside another or above a GROUP BY, GROUPS frames and
//! RANGE offsets, writable views, SERIALIZABLE, time zones other than UTC, NUMERIC beyond
//! 28 significant digits.

pub mod aggregate;
pub mod copy;
pub mod copy_run;
pub mod executor;
pub mod explain;
pub mod expr;
pub mod functions;
pub mod interrupt;
pub mod operators;
pub mod parser;
pub mod planner;
pub mod rows;
mod session;
pub mod settings;
pub mod system;
pub mod temporal;
#[cfg(test)]
mod tests;
pub mod window;

pub use self::executor::QueryResult;
pub use self::parser::{StatementText, split_statements, tokens_with_offsets};
pub use self::planner::OutputColumn;
pub use self::rows::Rows;
pub use self::session::{Prepared, SessionState, plan_sql};
