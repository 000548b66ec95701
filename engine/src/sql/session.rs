//! SQL sessions: statements executed one by one, in autocommit mode or inside a transaction
//! block (`BEGIN` … `COMMIT`/`ROLLBACK`), with PostgreSQL's aborted-block state.

use std::borrow::Cow;
use std::sync::Arc;

use super::executor::{self, QueryResult};
use super::explain::explain;
use super::expr::{self, BoundExpr};
use super::interrupt::{self, CancelHandle};
use super::parser::ast::Statement;
use super::parser::parse;
use super::planner::OutputColumn;
use super::planner::{Catalog, Plan, PlanFacts, plan};
use super::rows::Rows;
use super::settings::{Isolation, Settings};
use crate::table::RowKey;
use crate::types::{DataType, Value};
use crate::{Database, Error, Result, Session};

impl Session {
    /// Executes every statement of `sql` in order and returns their results. The first error
    /// stops the rest. Outside a transaction block each statement commits on its own; inside
    /// one, an error aborts the block (25P02 for everything but `ROLLBACK`/`COMMIT`, which
    /// both roll back), as in PostgreSQL. DDL takes effect at once, even inside a block.
    ///
    /// ```
    /// use omendb_engine::types::Value;
    /// use omendb_engine::{Database, DatabaseConfig};
    ///
    /// let db = Database::open(DatabaseConfig::memory())?;
    /// let mut session = db.session();
    /// session.execute("CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")?;
    /// session.execute("INSERT INTO users VALUES (1, 'ada'), (2, 'grace')")?;
    /// let by_id = session.prepare("SELECT name FROM users WHERE id = $1")?;
    /// let result = session.execute_prepared(&by_id, &[Value::Int(2)])?;
    /// assert_eq!(result.rows, vec![vec![Value::from("grace")]]);
    /// assert_eq!(result.columns[0].name, "name");
    /// # Ok::<(), omendb_engine::Error>(())
    /// ```
    pub fn execute(&mut self, sql: &str) -> Result<Vec<QueryResult>> {
        let (results, error) = self.execute_until_error(sql);
        match error {
            Some(e) => Err(e),
            None => Ok(results),
        }
    }

    /// [`Session::execute`], also giving the results of the statements that ran before the
    /// one that failed — what PostgreSQL's simple query protocol sends a client.
    pub fn execute_until_error(&mut self, sql: &str) -> (Vec<QueryResult>, Option<Error>) {
        let statements = match parse(sql) {
            Ok(statements) => statements,
            Err(e) => {
                self.fail();
                return (Vec::new(), Some(e));
            }
        };
        let mut results = Vec::with_capacity(statements.len());
        for statement in &statements {
            let result = self.run_statement(statement, |session| {
                let plan = session.plan(statement)?;
                let facts = plan.facts();
                Ok((Cow::Owned(plan), facts))
            });
            match result {
                Ok(result) => results.push(result),
                Err(e) => return (results, Some(e)),
            }
        }
        (results, None)
    }

    /// Parses and plans one statement for repeated execution with parameters (`$1`, `$2`, …,
    /// their types inferred from where they are used).
    ///
    /// A failure leaves the session as it was (callers may plan speculatively); see
    /// [`Session::prepare_or_abort`] for PostgreSQL's Parse-message behaviour.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        let mut statements = parse(sql)?;
        let statement = match statements.len() {
            1 => statements.remove(0),
            0 => return Err(Error::Syntax("cannot prepare an empty statement".into())),
            _ => {
                return Err(Error::Syntax(
                    "cannot insert multiple commands into a prepared statement".into(),
                ));
            }
        };
        let catalog_version = self.shared.catalog_version();
        let plan = self.plan(&statement)?;
        Ok(Prepared {
            parameter_types: plan.parameter_types(),
            columns: result_columns(&plan),
            facts: plan.facts(),
            statement,
            plan,
            catalog_version,
        })
    }

    /// [`Session::prepare`] as PostgreSQL treats a statement a client sends: one that fails to
    /// parse or plan inside a transaction block aborts the block (25P02 until ROLLBACK).
    pub fn prepare_or_abort(&mut self, sql: &str) -> Result<Prepared> {
        let prepared = self.prepare(sql);
        if prepared.is_err() {
            self.fail();
        }
        prepared
    }

    /// Executes a prepared statement with parameter values (converted to the parameters'
    /// types as a cast would). The plan is reused unless DDL ran since it was made.
    pub fn execute_prepared(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
    ) -> Result<QueryResult> {
        // A lookup by primary key starts loading its index slot now, to arrive while the
        // statement is set up rather than be waited for when it is read.
        if let Some((table, key)) = prepared.point_key(params) {
            match &self.block {
                Some(txn) => txn.prefetch(table, &key),
                None => self.prefetch_autocommit(table, &key),
            }
        } else if let (Some((table, values)), Some(txn)) = (prepared.inserted_row(), &self.block) {
            txn.prefetch_insert(table, |column| match values.get(column)? {
                BoundExpr::Constant(value) => value.as_int(),
                value => params.get(expr::parameter_of(value)?.0)?.as_int(),
            });
        }
        // The plan is used as it is: its parameters read the values from the statement's
        // context, so nothing is cloned per execution.
        expr::with_parameters(params, || {
            self.run_statement(&prepared.statement, |session| {
                let expected = prepared.parameter_types.len();
                if params.len() != expected {
                    return Err(Error::ParameterCount {
                        expected,
                        given: params.len(),
                    });
                }
                if prepared.catalog_version == session.shared.catalog_version() {
                    return Ok((Cow::Borrowed(&prepared.plan), prepared.facts));
                }
                let plan = session.plan(&prepared.statement)?;
                let facts = plan.facts();
                Ok((Cow::Owned(plan), facts))
            })
        })
    }

    /// [`Session::execute_prepared`] for a caller that must not block (a server's network
    /// thread), inside a transaction block: a statement that would wait for a row lock another
    /// transaction holds is undone instead, and `Ok(None)` says to run it again with
    /// `execute_prepared`, where waiting is allowed; the block is left as it was (not failed).
    /// Outside a block (where the statement would commit) it returns `Ok(None)` at once.
    pub fn execute_prepared_without_waiting(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
    ) -> Result<Option<QueryResult>> {
        let Some(txn) = self.block.as_mut() else {
            return Ok(None);
        };
        let attempt = txn.start_attempt();
        let result = self.execute_prepared(prepared, params);
        let would_wait = matches!(result, Err(Error::WouldWait));
        if let Some(txn) = self.block.as_mut() {
            txn.end_attempt(attempt, would_wait);
        }
        if would_wait {
            // The block was fine before (a failed one refuses statements before any lock).
            self.failed = false;
            return Ok(None);
        }
        result.map(Some)
    }

    /// Arms the statement timeout and cancellation for a statement run outside
    /// `run_statement` (COPY).
    pub(super) fn watch_statement(&self) -> interrupt::Armed {
        interrupt::watch(&self.sql.cancel, self.sql.settings.statement_timeout)
    }

    /// The prepared plan, or a new one if DDL ran since it was made.
    pub(super) fn current_plan(&self, prepared: &Prepared) -> Result<Plan> {
        if prepared.catalog_version == self.shared.catalog_version() {
            Ok(prepared.plan.clone())
        } else {
            self.plan(&prepared.statement)
        }
    }

    pub(super) fn plan(&self, statement: &Statement) -> Result<Plan> {
        match &self.block {
            Some(txn) => plan(statement, txn as &dyn Catalog),
            None => plan(statement, &self.database() as &dyn Catalog),
        }
    }

    /// Plans (with `make_plan`) and runs one statement, keeping the block's state: a failed
    /// block accepts only its end, and an error inside a block fails it.
    fn run_statement<'p>(
        &mut self,
        statement: &Statement,
        make_plan: impl FnOnce(&Self) -> Result<(Cow<'p, Plan>, PlanFacts)>,
    ) -> Result<QueryResult> {
        let ends_failure = matches!(
            statement,
            Statement::Commit | Statement::Rollback | Statement::RollbackTo(_)
        );
        if self.failed && !ends_failure {
            return Err(Error::InFailedTransaction);
        }
        let _armed = interrupt::watch(&self.sql.cancel, self.sql.settings.statement_timeout);
        super::functions::set_session_user(self.sql.user.as_ref());
        let result = make_plan(self).and_then(|(plan, facts)| {
            // The clock is read only for statements that use it. Without a host clock (a
            // wasm host that installed none) the clock functions fail when called.
            if facts.clock {
                if let Ok(now) = crate::host::now_micros() {
                    if self.block.is_none() {
                        self.block_started = now;
                    }
                    super::temporal::set_statement_clock(self.block_started, now);
                }
            }
            self.run_routed(statement, &plan, facts.subqueries)
        });
        if result.is_err() {
            self.fail();
        }
        result
    }
}

/// Why a primary-key lookup runs natively.
#[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
const POINT_QUERY: &str = "a primary-key access path";

impl Session {
    /// Runs a planned statement: a query on the engine `omendb.analytics` chooses for it, the
    /// rest natively.
    fn run_routed(
        &mut self,
        statement: &Statement,
        plan: &Plan,
        subqueries: bool,
    ) -> Result<QueryResult> {
        #[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
        if let Some(result) = self.run_analytics(statement, plan, subqueries)? {
            return Ok(result);
        }
        #[cfg(not(all(feature = "analytics", not(target_arch = "wasm32"))))]
        let _ = statement;
        self.run(plan, subqueries)
    }

    /// `SET omendb.analytics` without a statement (tests compare the engines with it).
    pub fn set_analytics(&mut self, mode: super::settings::AnalyticsMode) {
        self.sql.settings.analytics = mode;
    }

    /// The engine that ran (or, for EXPLAIN, would run) the last query — `"datafusion"` or
    /// `"native"` — and why; `None` before any query over tables.
    pub fn last_query_engine(&self) -> Option<(&'static str, &str)> {
        self.sql
            .last_engine
            .as_ref()
            .map(|(engine, why)| (*engine, why.as_ref()))
    }

    /// A query DataFusion should run, run there: `None` when it runs natively after all.
    #[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
    fn run_analytics(
        &mut self,
        statement: &Statement,
        plan: &Plan,
        subqueries: bool,
    ) -> Result<Option<QueryResult>> {
        use crate::analytics::{self, Decision, Outcome, Query};
        let (explain, sql, select) = match (statement, plan) {
            // Under `auto` a primary-key lookup is never analytical: it goes straight on.
            (Statement::Select(..), Plan::Select(select))
                if select.point
                    && self.sql.settings.analytics == super::settings::AnalyticsMode::Auto =>
            {
                self.sql.last_engine = Some(("native", Cow::Borrowed(POINT_QUERY)));
                return Ok(None);
            }
            (Statement::Select(_, sql), Plan::Select(select)) => (None, sql, select),
            (
                Statement::Explain {
                    statement: inner, ..
                },
                Plan::Explain {
                    analyze,
                    plan: inner_plan,
                    ..
                },
            ) => match (inner.as_ref(), inner_plan.as_ref()) {
                (Statement::Select(_, sql), Plan::Select(select)) => (Some(*analyze), sql, select),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let decision = analytics::decide(select, self.sql.settings.analytics, &self.database());
        let reason = match decision {
            Decision::Native(reason) => {
                return self.native_route(reason, explain.map(|_| (plan, subqueries)));
            }
            Decision::Analytics(reason) => reason,
        };
        self.before_query();
        let parameters = expr::parameters();
        let parameter_types = if parameters.is_empty() {
            Vec::new()
        } else {
            plan.parameter_types()
        };
        let query = Query {
            sql,
            plan: select,
            parameters: &parameters,
            parameter_types: &parameter_types,
        };
        let read_committed = self.sql.settings.default_isolation == Isolation::ReadCommitted;
        let outcome = match explain {
            Some(analyze) => {
                let lines = match self.block.as_ref() {
                    Some(txn) => analytics::explain(&query, txn, &reason, analyze)?,
                    None => self.autocommit(|txn| {
                        txn.set_read_committed(read_committed);
                        analytics::explain(&query, txn, &reason, analyze)
                    })?,
                };
                match lines {
                    Outcome::Ran(result) => {
                        self.sql.last_engine = Some(("datafusion", reason.into()));
                        return Ok(Some(result));
                    }
                    Outcome::Refused(why) => {
                        return self.native_route(why.into(), Some((plan, subqueries)));
                    }
                }
            }
            None => match self.block.as_ref() {
                Some(txn) => analytics::run(&query, txn)?,
                None => self.autocommit(|txn| {
                    txn.set_read_committed(read_committed);
                    analytics::run(&query, txn)
                })?,
            },
        };
        match outcome {
            Outcome::Ran(result) => {
                self.sql.last_engine = Some(("datafusion", reason.into()));
                Ok(Some(result))
            }
            Outcome::Refused(why) => self.native_route(why.into(), None),
        }
    }

    /// Notes that a query runs natively, and why; for EXPLAIN (`explain`: its plan), runs it
    /// with that reason as the plan's last line.
    #[cfg(all(feature = "analytics", not(target_arch = "wasm32")))]
    fn native_route(
        &mut self,
        reason: Cow<'static, str>,
        explain: Option<(&Plan, bool)>,
    ) -> Result<Option<QueryResult>> {
        let Some((plan, subqueries)) = explain else {
            self.sql.last_engine = Some(("native", reason));
            return Ok(None);
        };
        let line = format!("Engine: native ({reason})");
        self.sql.last_engine = Some(("native", reason));
        let mut result = self.run(plan, subqueries)?;
        result.rows.push(vec![Value::Text(line.into())]);
        Ok(Some(result))
    }

    /// Sets the role this session runs as (the server does, after authenticating it): what
    /// `current_user` returns, and whose privileges role management checks.
    pub fn set_user(&mut self, name: &str) {
        self.sql.user = Some(Arc::from(name));
        self.sql.trusted = false;
    }

    /// [`Session::set_user`] for a trusted connection (the server's `--auth trust`): a name
    /// that is no role in the catalog has a superuser's privileges.
    pub fn set_trusted_user(&mut self, name: &str) {
        self.sql.user = Some(Arc::from(name));
        self.sql.trusted = true;
    }

    /// `idle_in_transaction_session_timeout`: how long the session may sit in an open
    /// transaction block between statements (the server enforces it).
    pub fn idle_in_transaction_timeout(&self) -> Option<std::time::Duration> {
        self.sql.settings.idle_in_transaction_timeout
    }

    /// The role this session runs as, if one was set.
    pub fn user(&self) -> Option<&str> {
        self.sql.user.as_deref()
    }

    /// Role management needs a superuser (or a session with no role: the embedded engine).
    fn check_role_admin(&self, what: &str) -> Result<()> {
        let Some(user) = self.sql.user.as_deref() else {
            return Ok(());
        };
        match self.database().role(user) {
            Some(role) if role.superuser => Ok(()),
            None if self.sql.trusted => Ok(()),
            _ => Err(Error::InsufficientPrivilege(format!(
                "only superusers may {what}"
            ))),
        }
    }

    /// A handle that cancels this session's running statement from another thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.sql.cancel.clone()
    }

    /// Before a query in a block: its first query, and every query under READ COMMITTED,
    /// reads a fresh snapshot (as in PostgreSQL, the snapshot is not taken at BEGIN).
    pub(super) fn before_query(&mut self) {
        if let Some(txn) = self.block.as_mut() {
            if !self.sql.queried || self.sql.isolation == Isolation::ReadCommitted {
                txn.refresh_snapshot();
            }
            self.sql.queried = true;
        }
    }

    /// `SET TRANSACTION`: in a block, before its first query (25001).
    fn set_transaction(
        &mut self,
        read_only: Option<bool>,
        isolation: Option<Isolation>,
    ) -> Result<()> {
        // Outside a block it has no effect (PostgreSQL warns and goes on).
        let Some(txn) = self.block.as_mut() else {
            return Ok(());
        };
        if self.sql.queried {
            return Err(Error::ActiveTransaction(
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        if let Some(read_only) = read_only {
            txn.set_read_only(read_only);
        }
        if let Some(isolation) = isolation {
            self.sql.isolation = isolation;
            txn.set_read_committed(isolation == Isolation::ReadCommitted);
        }
        Ok(())
    }

    /// Whether a transaction block is open (PostgreSQL's transaction status `T`, or `E` when
    /// it has failed).
    pub fn in_transaction_block(&self) -> bool {
        self.block.is_some()
    }

    /// Whether the open block has failed and awaits ROLLBACK.
    pub fn transaction_failed(&self) -> bool {
        self.failed
    }

    /// An error inside a block aborts it; outside, nothing is left to abort.
    pub(super) fn fail(&mut self) {
        if self.block.is_some() {
            self.failed = true;
        }
    }

    /// Runs a planned statement; `subqueries` says whether it has any to run first.
    pub(super) fn run(&mut self, plan: &Plan, subqueries: bool) -> Result<QueryResult> {
        match plan {
            Plan::Begin {
                read_only,
                isolation,
            } => {
                if self.block.is_none() {
                    self.block = Some(if *read_only {
                        self.begin_read_only()?
                    } else {
                        self.begin()?
                    });
                    // now() inside the block is the time it began.
                    self.block_started = crate::host::now_micros().unwrap_or(0);
                    self.sql.isolation = isolation.unwrap_or(self.sql.settings.default_isolation);
                    self.sql.queried = false;
                    let read_committed = self.sql.isolation == Isolation::ReadCommitted;
                    if let Some(txn) = self.block.as_mut() {
                        txn.set_read_committed(read_committed);
                    }
                }
                Ok(QueryResult::command("BEGIN"))
            }
            Plan::SetTransaction {
                read_only,
                isolation,
                session: true,
            } => {
                if read_only == &Some(true) {
                    return Err(Error::NotSupported(
                        "read-only as the session's default; use BEGIN READ ONLY".into(),
                    ));
                }
                if let Some(isolation) = isolation {
                    self.sql.settings.default_isolation = *isolation;
                }
                Ok(QueryResult::command("SET"))
            }
            Plan::SetTransaction {
                read_only,
                isolation,
                session: false,
            } => {
                self.set_transaction(*read_only, *isolation)?;
                Ok(QueryResult::command("SET"))
            }
            Plan::Set { name, value } if name.eq_ignore_ascii_case("transaction_isolation") => {
                let isolation = value.as_deref().map(Isolation::parse).transpose()?;
                self.set_transaction(None, isolation)?;
                Ok(QueryResult::command("SET"))
            }
            Plan::Set { name, value } => {
                self.sql.settings.set(name, value.as_deref())?;
                Ok(QueryResult::command(if value.is_some() {
                    "SET"
                } else {
                    "RESET"
                }))
            }
            Plan::Nothing(tag) => Ok(QueryResult::command(*tag)),
            Plan::CreateRole {
                name,
                if_not_exists,
                options,
            } => {
                self.check_role_admin("create role")?;
                if *if_not_exists && self.database().role(name).is_some() {
                    return Ok(QueryResult::command("CREATE ROLE"));
                }
                let verifier = match &options.password {
                    Some(Some(password)) => Some(crate::auth::verifier_for(password)?),
                    _ => None,
                };
                self.database().create_role(crate::auth::Role {
                    name: name.clone(),
                    login: options.login.unwrap_or(false),
                    superuser: options.superuser.unwrap_or(false),
                    verifier,
                })?;
                Ok(QueryResult::command("CREATE ROLE"))
            }
            Plan::AlterRole { name, options } => {
                // Anyone may change their own password; the rest is for superusers.
                let own_password = self.sql.user.as_deref() == Some(name.as_str())
                    && options.login.is_none()
                    && options.superuser.is_none();
                if !own_password {
                    self.check_role_admin("alter role")?;
                }
                let verifier = match &options.password {
                    Some(Some(password)) => Some(Some(crate::auth::verifier_for(password)?)),
                    Some(None) => Some(None),
                    None => None,
                };
                self.database().alter_role(name, |role| {
                    if let Some(login) = options.login {
                        role.login = login;
                    }
                    if let Some(superuser) = options.superuser {
                        role.superuser = superuser;
                    }
                    if let Some(verifier) = verifier {
                        role.verifier = verifier;
                    }
                })?;
                Ok(QueryResult::command("ALTER ROLE"))
            }
            Plan::DropRole { names, if_exists } => {
                self.check_role_admin("drop role")?;
                for name in names {
                    if self.sql.user.as_deref() == Some(name.as_str()) {
                        return Err(Error::ObjectInUse("current user cannot be dropped".into()));
                    }
                    match self.database().drop_role(name) {
                        Err(Error::UndefinedRole(_)) if *if_exists => {}
                        other => other?,
                    }
                }
                Ok(QueryResult::command("DROP ROLE"))
            }
            Plan::Discard(_) if self.block.is_some() => Err(Error::ActiveTransaction(
                "DISCARD ALL cannot run inside a transaction block",
            )),
            Plan::Discard(all) => {
                if *all {
                    self.sql.settings = Settings::default();
                }
                Ok(QueryResult::command(if *all {
                    "DISCARD ALL"
                } else {
                    "DISCARD"
                }))
            }
            Plan::Maintenance { vacuum: true } if self.block.is_some() => Err(
                Error::ActiveTransaction("VACUUM cannot run inside a transaction block"),
            ),
            Plan::Maintenance { vacuum } => Ok(QueryResult::command(if *vacuum {
                "VACUUM"
            } else {
                "ANALYZE"
            })),
            Plan::Copy(_) => Err(Error::NotSupported(
                "COPY FROM STDIN and TO STDOUT need a client's copy protocol (psql's \\copy, \
                 a driver's copy API) and must be the only statement of their query"
                    .into(),
            )),
            Plan::CreateView { view, replace } => {
                self.database().create_view(view.clone(), *replace)?;
                Ok(QueryResult::command("CREATE VIEW"))
            }
            Plan::DropView { names, if_exists } => {
                for name in names {
                    match self.database().drop_view(name) {
                        Err(e) if *if_exists && e.sqlstate() == "42P01" => {}
                        other => other?,
                    }
                }
                Ok(QueryResult::command("DROP VIEW"))
            }
            Plan::ResetAll => {
                self.sql.settings = Settings::default();
                Ok(QueryResult::command("RESET"))
            }
            Plan::Show(name) => {
                let isolation = match self.block {
                    Some(_) => self.sql.isolation,
                    None => self.sql.settings.default_isolation,
                };
                let value = self.sql.settings.show(name, isolation)?;
                Ok(QueryResult {
                    columns: Arc::from([OutputColumn {
                        name: name.to_ascii_lowercase(),
                        data_type: DataType::Text,
                    }]),
                    rows: Rows::from_rows(1, [vec![Value::Text(value.into())]]),
                    tag: "SHOW".into(),
                })
            }
            Plan::Savepoint(name) => {
                let txn = self.block.as_mut().ok_or(Error::NoActiveTransaction(
                    "SAVEPOINT can only be used in transaction blocks",
                ))?;
                let savepoint = txn.savepoint();
                self.savepoints.push((name.clone(), savepoint));
                Ok(QueryResult::command("SAVEPOINT"))
            }
            Plan::RollbackTo(name) | Plan::Release(name) => {
                let release = matches!(plan, Plan::Release(_));
                if self.block.is_none() {
                    return Err(Error::NoActiveTransaction(if release {
                        "RELEASE SAVEPOINT can only be used in transaction blocks"
                    } else {
                        "ROLLBACK TO SAVEPOINT can only be used in transaction blocks"
                    }));
                }
                // The newest savepoint of that name; later ones are discarded.
                let index = self
                    .savepoints
                    .iter()
                    .rposition(|(n, _)| n == name)
                    .ok_or_else(|| Error::UndefinedSavepoint(name.clone()))?;
                if release {
                    self.savepoints.truncate(index);
                    if self.savepoints.is_empty() {
                        if let Some(txn) = self.block.as_mut() {
                            txn.release_savepoints();
                        }
                    }
                    return Ok(QueryResult::command("RELEASE"));
                }
                self.savepoints.truncate(index + 1);
                let savepoint = &self.savepoints[index].1;
                if let Some(txn) = self.block.as_mut() {
                    txn.rollback_to(savepoint);
                }
                self.failed = false;
                Ok(QueryResult::command("ROLLBACK"))
            }
            Plan::Commit => {
                self.savepoints.clear();
                let failed = std::mem::take(&mut self.failed);
                match self.block.take() {
                    Some(txn) if failed => {
                        txn.rollback();
                        Ok(QueryResult::command("ROLLBACK"))
                    }
                    Some(txn) => txn.commit().map(|()| QueryResult::command("COMMIT")),
                    None => Ok(QueryResult::command("COMMIT")),
                }
            }
            Plan::Rollback => {
                self.savepoints.clear();
                self.failed = false;
                if let Some(txn) = self.block.take() {
                    txn.rollback();
                }
                Ok(QueryResult::command("ROLLBACK"))
            }
            Plan::CreateTable { def, if_not_exists } => {
                if *if_not_exists && self.database().table_schema(&def.name).is_ok() {
                    return Ok(QueryResult::command("CREATE TABLE"));
                }
                self.database().create_table(def.clone())?;
                Ok(QueryResult::command("CREATE TABLE"))
            }
            Plan::DropTable { names, if_exists } => {
                for name in names {
                    match self.database().drop_table(name) {
                        Err(e) if *if_exists && e.sqlstate() == "42P01" => {}
                        other => other?,
                    }
                }
                Ok(QueryResult::command("DROP TABLE"))
            }
            Plan::CreateIndex {
                name,
                table,
                columns,
                unique,
                if_not_exists,
            } => {
                let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
                match self.database().create_index(table, name, &columns, *unique) {
                    Err(e) if *if_not_exists && e.sqlstate() == "42P07" => {}
                    other => other?,
                }
                Ok(QueryResult::command("CREATE INDEX"))
            }
            Plan::AlterTable {
                table,
                change,
                if_not_exists,
            } => {
                match self.database().alter_table(table, change.clone()) {
                    Err(e) if *if_not_exists && e.sqlstate() == "42701" => {}
                    other => other?,
                }
                Ok(QueryResult::command("ALTER TABLE"))
            }
            Plan::DropIndex { names, if_exists } => {
                for name in names {
                    match self.database().drop_index(name) {
                        Err(e) if *if_exists && e.sqlstate() == "42704" => {}
                        other => other?,
                    }
                }
                Ok(QueryResult::command("DROP INDEX"))
            }
            Plan::Explain {
                analyze,
                timing,
                plan,
            } => {
                self.before_query();
                let measured = if *analyze {
                    let run = |txn: &mut crate::Transaction| executor::execute_measured(plan, txn);
                    let (_, mut measured) = match self.block.as_mut() {
                        Some(txn) => run(txn)?,
                        None => self.autocommit(run)?,
                    };
                    if !timing {
                        measured.scan_ms = None;
                        measured.total_ms = None;
                    }
                    Some(measured)
                } else {
                    None
                };
                Ok(QueryResult {
                    columns: Arc::from([OutputColumn {
                        name: "QUERY PLAN".into(),
                        data_type: DataType::Text,
                    }]),
                    rows: Rows::from_rows(
                        1,
                        explain(plan, measured.as_ref())
                            .into_iter()
                            .map(|line| vec![Value::Text(line.into())]),
                    ),
                    tag: "EXPLAIN".into(),
                })
            }
            data => {
                self.before_query();
                let execute = if subqueries {
                    executor::execute
                } else {
                    executor::execute_flat
                };
                let read_committed =
                    self.sql.settings.default_isolation == Isolation::ReadCommitted;
                match self.block.as_mut() {
                    Some(txn) => execute(data, txn),
                    None => self.autocommit(|txn| {
                        txn.set_read_committed(read_committed);
                        execute(data, txn)
                    }),
                }
            }
        }
    }
}

/// Plans `sql`'s statements against `db` without running them (for tests and EXPLAIN-like
/// inspection).
pub fn plan_sql(db: &Database, sql: &str) -> Result<Vec<Plan>> {
    parse(sql)?
        .iter()
        .map(|s| plan(s, db as &dyn Catalog))
        .collect()
}

/// The most keys a range read may span and still be brief (see [`Prepared::is_brief_with`]):
/// about 0.1 ms of reading from the row cache.
pub const BRIEF_RANGE_KEYS: i64 = 1024;

/// A statement planned once for repeated execution (see [`Session::prepare`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    statement: Statement,
    pub(super) plan: Plan,
    catalog_version: u64,
    /// The parameters' types, `$1` first.
    pub parameter_types: Vec<DataType>,
    /// The result columns (empty for statements that return no rows).
    pub columns: Arc<[OutputColumn]>,
    facts: PlanFacts,
}

impl Prepared {
    /// The catalog version the plan was made at ([`crate::Database::catalog_version`]).
    pub fn catalog_version(&self) -> u64 {
        self.catalog_version
    }

    /// Whether running the statement takes a moment and never waits: a read of one row by its
    /// primary key (or a query without tables) with no subquery, or a statement that only
    /// changes session state (BEGIN, SET, SHOW, SAVEPOINT, RELEASE) — no lock, no I/O, no
    /// commit. A server may run such statements on its network threads instead of handing
    /// them off.
    pub fn is_brief(&self) -> bool {
        match &self.plan {
            Plan::Select(select) => {
                !self.facts.subqueries
                    && (select.point || select.source.is_none() && select.set.is_none())
            }
            Plan::Begin { .. }
            | Plan::SetTransaction { .. }
            | Plan::Set { .. }
            | Plan::ResetAll
            | Plan::Show(_)
            | Plan::Savepoint(_)
            | Plan::Release(_) => true,
            _ => false,
        }
    }

    /// For a read of one row by primary key given in parameters (and constants): the table
    /// and the key that `params` look up. A hint, not the key itself: a value is taken as it
    /// is, where the lookup first converts it to its column's type (an integer out of the
    /// key's range finds nothing either way; a value that converts differently makes the hint
    /// point elsewhere, at the cost of a wasted prefetch).
    pub(super) fn point_key<'a>(&'a self, params: &[Value]) -> Option<(&'a str, RowKey)> {
        use super::planner::{Access, Source};
        let Plan::Select(select) = &self.plan else {
            return None;
        };
        let Some(Source::Table(source)) = select.source.as_ref().filter(|_| select.point) else {
            return None;
        };
        let value = |expr: &'a BoundExpr| -> Option<&Value> {
            match expr {
                BoundExpr::Constant(value) => Some(value),
                expr => params.get(expr::parameter_of(expr)?.0),
            }
        };
        // A byte-string key (text, composite) is its values' encodings, as stored.
        let encoded = |exprs: &mut dyn Iterator<Item = &'a BoundExpr>| -> Option<RowKey> {
            let mut encoded = Vec::with_capacity(crate::alex::INLINE_KEY_BYTES);
            for expr in exprs {
                match value(expr)? {
                    Value::Null => return None,
                    value => crate::encoding::encode_value(&mut encoded, value),
                }
            }
            Some(RowKey::Bytes(encoded))
        };
        let key = match &source.access {
            Access::Key(key) => match value(key)? {
                Value::Int(key) if source.integer_key => RowKey::Int(*key),
                Value::Text(_) if !source.integer_key => encoded(&mut std::iter::once(key))?,
                _ => return None,
            },
            Access::CompositeKey(columns) => encoded(&mut columns.iter().map(|(_, e)| e))?,
            _ => return None,
        };
        Some((&source.table, key))
    }

    /// For an INSERT of one row of VALUES: the table and the row's expressions, by column.
    pub(super) fn inserted_row(&self) -> Option<(&str, &[BoundExpr])> {
        match &self.plan {
            Plan::Insert {
                table,
                source: super::planner::InsertRows::Values(rows),
                ..
            } => match rows.as_slice() {
                [row] => Some((table.as_str(), row.as_slice())),
                _ => None,
            },
            _ => None,
        }
    }

    /// [`Prepared::is_brief`] for these parameter values: also a query of one table, without
    /// subqueries, whose range on an integer primary key is bounded on both sides and spans at
    /// most `BRIEF_RANGE_KEYS` keys — it reads at most that many rows, whatever it then does
    /// with them (aggregates, sorts).
    pub fn is_brief_with(&self, params: &[Value]) -> bool {
        use super::planner::{Access, Source};
        use std::ops::Bound;
        if self.is_brief() {
            return true;
        }
        let Plan::Select(select) = &self.plan else {
            return false;
        };
        if self.facts.subqueries || select.set.is_some() {
            return false;
        }
        let Some(Source::Table(table)) = &select.source else {
            return false;
        };
        let (Access::Range(lower, upper), true) = (&table.access, table.integer_key) else {
            return false;
        };
        let bound = |bound: &Bound<expr::BoundExpr>| match bound {
            Bound::Included(e) | Bound::Excluded(e) => {
                expr::with_parameters(params, || e.eval(&[])).ok()
            }
            Bound::Unbounded => None,
        };
        match (bound(lower), bound(upper)) {
            (Some(Value::Int(low)), Some(Value::Int(high))) => {
                high.saturating_sub(low) <= BRIEF_RANGE_KEYS
            }
            _ => false,
        }
    }

    /// Whether the statement is brief (see [`Prepared::is_brief`]) when it runs inside a
    /// transaction block, where writing only adds to the block's write set: an INSERT of
    /// VALUES without ON CONFLICT or subqueries (INSERT takes no row locks; a duplicate key is
    /// found at commit). Outside a block the same statement commits, so it is not brief.
    pub fn is_brief_in_block(&self) -> bool {
        matches!(
            &self.plan,
            Plan::Insert {
                source: super::planner::InsertRows::Values(_),
                on_conflict: None,
                ..
            }
        ) && !self.facts.subqueries
    }

    /// Whether the statement ends a transaction block (COMMIT or ROLLBACK): it takes no row
    /// lock, but a COMMIT waits for the commit lock and for its storage sync.
    pub fn ends_transaction(&self) -> bool {
        matches!(&self.plan, Plan::Commit | Plan::Rollback)
    }

    /// Whether the statement is an UPDATE or DELETE of at most one row by its primary key,
    /// without subqueries: brief inside a transaction block unless another transaction holds
    /// the row's lock — run it with [`Session::execute_prepared_without_waiting`] first.
    pub fn is_point_write(&self) -> bool {
        let source = match &self.plan {
            Plan::Update {
                source,
                joined: None,
                ..
            }
            | Plan::Delete {
                source,
                joined: None,
                ..
            } => source,
            _ => return false,
        };
        matches!(source.access, super::planner::Access::Key(_)) && !self.facts.subqueries
    }
}

/// A session's SQL state beyond its transaction: settings, the block's isolation level, and
/// the handle that cancels its statements.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    settings: Settings,
    isolation: Isolation,
    /// Whether the open block has run a query (its snapshot is then fixed under REPEATABLE READ).
    queried: bool,
    cancel: CancelHandle,
    /// The role the session runs as (`current_user`).
    user: Option<Arc<str>>,
    /// The user came through trust authentication (see `set_trusted_user`).
    trusted: bool,
    /// The engine of the last query over tables, and why (see `Session::last_query_engine`).
    last_engine: Option<(&'static str, Cow<'static, str>)>,
}

fn result_columns(plan: &Plan) -> Arc<[OutputColumn]> {
    match plan {
        Plan::Select(select) => select.columns.clone(),
        Plan::Explain { .. } => Arc::from([OutputColumn {
            name: "QUERY PLAN".into(),
            data_type: DataType::Text,
        }]),
        Plan::Show(name) => Arc::from([OutputColumn {
            name: name.to_ascii_lowercase(),
            data_type: DataType::Text,
        }]),
        // RETURNING's rows.
        Plan::Insert {
            returning: Some(r), ..
        }
        | Plan::Update {
            returning: Some(r), ..
        }
        | Plan::Delete {
            returning: Some(r), ..
        } => r.columns.clone(),
        _ => Arc::from([]),
    }
}
