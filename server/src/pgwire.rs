//! The PostgreSQL wire protocol front end (the `pgwire` crate over tokio).
//!
//! Each connection gets its own engine [`Session`] and is served by one of the connection
//! threads' event loops ([`crate::loops`]); simple queries (`Query`) and the extended protocol
//! (Parse/Bind/Describe/Execute) run in the session — brief statements right on the loop,
//! the others on its blocking pool — and results go out in the format each client asks for
//! (text, or binary for the types below).
//!
//! Every column type goes out with its own OID, in text or binary ([`crate::wire`]). A client's
//! CancelRequest stops the running statement (57014), as does `SET statement_timeout`.
//! A query that is one `COPY … FROM STDIN` / `TO STDOUT` runs the copy sub-protocol
//! (text and CSV; [`omendb_engine::sql::copy_run`]).
//! Clients authenticate with SCRAM-SHA-256 (or not at all under `--auth trust`):
//! [`crate::auth`].

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, Sink, SinkExt};
use omendb_engine::sql::OutputColumn;
use omendb_engine::sql::Prepared;
use omendb_engine::sql::copy_run::{CopyIn, CopyStream};
use omendb_engine::sql::interrupt::CancelHandle;
use omendb_engine::types::{DataType, Value, format_vector};
use omendb_engine::{Error, QueryResult, Session};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    CopyResponse, DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldFormat,
    FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{NoopQueryParser, StoredStatement};
use pgwire::api::{ClientInfo, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{DataRow, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
};
use tokio::net::{TcpListener, TcpStream};

use crate::Shared;
use crate::auth::{Auth, LogAuthFailures};
use crate::loops::Loops;
use crate::wire::{self, Encoded, wire_type};

/// Accepts connections until the listener fails; each connection runs in its own task with
/// its own session.
pub async fn serve(
    listener: TcpListener,
    loops: Loops,
    shared: Arc<Shared>,
    auth: Arc<Auth>,
    tls: Option<pgwire::tokio::TlsAcceptor>,
) -> std::io::Result<()> {
    let lifecycle = shared.lifecycle.clone();
    let parser = Arc::new(NoopQueryParser::new());
    // Knows every connection's key, so a CancelRequest reaches the right one.
    let manager = Arc::new(ConnectionManager::new());
    loop {
        let (socket, peer) = listener.accept().await?;
        let slot = lifecycle.connect();
        let session = shared.session();
        let connection = Arc::new(Connection {
            refuse: slot.is_none(),
            idle: Arc::default(),
            shared: shared.clone(),
            auth: auth.clone(),
            copy: Arc::default(),
            cancel: session.cancel_handle(),
            session: Arc::new(Mutex::new(session)),
            parser: parser.clone(),
            manager: manager.clone(),
            plans: Arc::default(),
        });
        let tls = tls.clone();
        // Moved to its connection thread's event loop (registered there when it starts).
        let socket = match socket.into_std() {
            Ok(socket) => socket,
            Err(e) => {
                tracing::warn!(%peer, "could not serve a connection: {e}");
                continue;
            }
        };
        let core = crate::loops::incoming_core(&socket);
        loops.run(core, async move {
            let socket = match TcpStream::from_std(socket) {
                Ok(socket) => socket,
                Err(e) => return tracing::warn!(%peer, "could not serve a connection: {e}"),
            };
            // A malformed message can panic pgwire's decoder (0.42 does on some truncated
            // Bind bodies): that ends this connection only, with a log line.
            let serving = pgwire::tokio::process_socket(socket, tls, connection);
            match std::panic::AssertUnwindSafe(serving).catch_unwind().await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, "connection ended with an error: {e}"),
                Err(_) => {
                    tracing::warn!(%peer, "closed a connection whose message crashed the protocol decoder")
                }
            }
            drop(slot);
        });
    }
}

/// One client connection: its session and the protocol handlers over it.
#[derive(Debug)]
struct Connection {
    /// Over `--max-connections`: the startup is answered with 53300.
    refuse: bool,
    idle: Arc<IdleWatch>,
    shared: Arc<Shared>,
    auth: Arc<Auth>,
    session: Arc<Mutex<Session>>,
    /// The COPY FROM STDIN the client is sending data for.
    copy: Arc<Mutex<Option<Box<CopyIn>>>>,
    /// Stops the session's running statement (taken before the session is locked by it).
    cancel: CancelHandle,
    parser: Arc<NoopQueryParser>,
    manager: Arc<ConnectionManager>,
    /// Plans of the extended protocol's statements, by their SQL.
    plans: Arc<Mutex<HashMap<String, Arc<Prepared>>>>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(self.clone_handle())
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(self.clone_handle())
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::new(
            self.auth
                .startup(self.session.clone(), self.manager.clone(), self.refuse),
        )
    }

    fn error_handler(&self) -> Arc<impl pgwire::api::ErrorHandler> {
        Arc::new(LogAuthFailures)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::new(DefaultCancelHandler::new(self.manager.clone()))
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        Arc::new(self.clone_handle())
    }
}

impl Connection {
    fn clone_handle(&self) -> Connection {
        Connection {
            refuse: self.refuse,
            idle: self.idle.clone(),
            shared: self.shared.clone(),
            auth: self.auth.clone(),
            session: self.session.clone(),
            copy: self.copy.clone(),
            cancel: self.cancel.clone(),
            parser: self.parser.clone(),
            manager: self.manager.clone(),
            plans: self.plans.clone(),
        }
    }

    /// Runs `f` on the session on tokio's blocking pool (the engine is synchronous).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Session) -> omendb_engine::Result<T> + Send + 'static,
    ) -> PgWireResult<T> {
        self.run_where(false, f).await
    }

    /// Runs `f` on the session: right here when `brief` (it takes microseconds and never
    /// waits — see `Prepared::is_brief`; handing it to another thread would cost more than
    /// running it), else on tokio's blocking pool.
    async fn run_where<T: Send + 'static>(
        &self,
        brief: bool,
        f: impl FnOnce(&mut Session) -> omendb_engine::Result<T> + Send + 'static,
    ) -> PgWireResult<T> {
        /// A query the client cancelled (pgwire drops its future) must also stop in the
        /// engine, which runs on another thread: it fails there with 57014.
        struct CancelOnDrop(Option<CancelHandle>);
        impl Drop for CancelOnDrop {
            fn drop(&mut self) {
                if let Some(handle) = self.0.take() {
                    handle.cancel();
                }
            }
        }
        let generation = self.idle.generation.fetch_add(1, Ordering::AcqRel) + 1;
        if self.idle.ended.load(Ordering::Acquire) {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "25P03".to_owned(),
                "terminating connection due to idle-in-transaction timeout".to_owned(),
            ))));
        }
        let Some(_running) = self.shared.lifecycle.start_statement(&self.cancel) else {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "57P01".to_owned(),
                "terminating connection due to administrator command".to_owned(),
            ))));
        };
        let mut guard = CancelOnDrop(Some(self.cancel.clone()));
        let session = self.session.clone();
        let work = move || {
            let mut session = session.lock().map_err(|_| {
                Error::NotSupported("a session whose previous statement panicked".into())
            })?;
            let result = f(&mut session);
            let idle_limit = session
                .in_transaction_block()
                .then(|| session.idle_in_transaction_timeout())
                .flatten();
            Ok((result, idle_limit))
        };
        let joined = if brief {
            Ok(work())
        } else {
            tokio::task::spawn_blocking(work).await
        };
        guard.0 = None;
        match joined {
            Ok(Ok((result, idle_limit))) => {
                if let Some(limit) = idle_limit {
                    self.watch_idle(generation + 1, limit);
                }
                self.idle.generation.fetch_add(1, Ordering::AcqRel);
                result.map_err(error)
            }
            Ok(Err(e)) => Err(error(e)),
            Err(e) => Err(PgWireError::ApiError(Box::new(e))),
        }
    }
}

/// How many prepared plans a connection keeps for the extended protocol's statements.
const PLANS_KEPT: usize = 256;

impl Connection {
    /// The plan of an extended-protocol statement: made on first use, then kept until DDL
    /// changes the catalog.
    async fn prepared(&self, sql: &str) -> PgWireResult<Arc<Prepared>> {
        let current = self.shared.db.catalog_version();
        if let Some(prepared) = lock(&self.plans).get(sql) {
            if prepared.catalog_version() == current {
                return Ok(prepared.clone());
            }
        }
        let text = sql.to_owned();
        let prepared = Arc::new(self.run(move |session| session.prepare(&text)).await?);
        let mut plans = lock(&self.plans);
        if plans.len() >= PLANS_KEPT {
            plans.clear();
        }
        plans.insert(sql.to_owned(), prepared.clone());
        Ok(prepared)
    }

    /// A simple query that is one statement of a kind that can run here, planned here once,
    /// with where it runs; `None` for anything else, which then runs as usual (and reports
    /// its own errors).
    fn plan_simple(&self, sql: &str) -> Option<(Prepared, Placement)> {
        // A first look at the first word: other statements go the usual way.
        const BRIEF_STARTS: [&str; 14] = [
            "select",
            "begin",
            "start",
            "commit",
            "end",
            "rollback",
            "abort",
            "set",
            "show",
            "savepoint",
            "release",
            "insert",
            "update",
            "delete",
        ];
        let first = sql.split_whitespace().next()?;
        let first = first.trim_end_matches(';');
        if !BRIEF_STARTS.iter().any(|w| first.eq_ignore_ascii_case(w)) {
            return None;
        }
        let mut session = self.session.try_lock().ok()?;
        let prepared = session.prepare(sql).ok()?;
        if !prepared.parameter_types.is_empty() {
            return None;
        }
        let placement = Placement::of(&prepared, &[], session.in_transaction_block());
        Some((prepared, placement))
    }

    /// Runs a planned statement where `placement` says; the engine's error is the inner one.
    async fn execute(
        &self,
        prepared: Arc<Prepared>,
        params: Vec<Value>,
        placement: Placement,
    ) -> PgWireResult<omendb_engine::Result<QueryResult>> {
        if placement == Placement::HereIfAlone {
            if let Some(_busy) = crate::loops::alone() {
                return self
                    .run_where(true, move |session| {
                        Ok(session.execute_prepared(&prepared, &params))
                    })
                    .await;
            }
        }
        if placement == Placement::HereUnlessWaiting {
            let (attempt, values) = (prepared.clone(), params.clone());
            let tried = self
                .run_where(true, move |session| {
                    Ok(session.execute_prepared_without_waiting(&attempt, &values))
                })
                .await?;
            match tried {
                Ok(Some(result)) => return Ok(Ok(result)),
                Err(e) => return Ok(Err(e)),
                // It would wait for a row lock: on the blocking pool, where it may.
                Ok(None) => {}
            }
        }
        self.run_where(placement == Placement::Here, move |session| {
            Ok(session.execute_prepared(&prepared, &params))
        })
        .await
    }
}

/// The client pgwire hands an extended-query handler's methods (their common bounds).
pub trait WireClient:
    ClientInfo + pgwire::api::ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync
{
}

impl<C> WireClient for C where
    C: ClientInfo
        + pgwire::api::ClientPortalStore
        + Sink<PgWireBackendMessage>
        + Unpin
        + Send
        + Sync
{
}

/// Where a planned statement runs: on the connection's task or tokio's blocking pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Brief (see `Prepared::is_brief`): here.
    Here,
    /// Here unless it would wait for a row lock (see `Prepared::is_point_write`).
    HereUnlessWaiting,
    /// Here if the connection is alone on its event loop (see `loops::alone`): it takes no
    /// row lock but may block for a while — the commit lock, a storage sync.
    HereIfAlone,
    /// On the blocking pool: it may take long, wait or commit.
    Pool,
}

impl Placement {
    fn of(prepared: &Prepared, params: &[Value], in_block: bool) -> Self {
        if prepared.is_brief_with(params) || in_block && prepared.is_brief_in_block() {
            Self::Here
        } else if in_block && prepared.is_point_write() {
            Self::HereUnlessWaiting
        } else if prepared.ends_transaction() || !in_block && prepared.is_brief_in_block() {
            // COMMIT, ROLLBACK, or an INSERT of VALUES that commits (it takes no lock).
            Self::HereIfAlone
        } else {
            Self::Pool
        }
    }
}

/// What ends a session left idle inside a transaction block.
#[derive(Debug, Default)]
struct IdleWatch {
    /// Bumped when a statement starts and when it ends: a watchdog whose generation is
    /// still current knows nothing ran since it was set.
    generation: AtomicU64,
    /// The session was ended: its next statement gets 25P03.
    ended: AtomicBool,
}

impl Connection {
    /// After a statement that left a transaction block open: if nothing else runs within
    /// `limit`, the block is rolled back (releasing its locks and snapshot) and the session
    /// ended.
    fn watch_idle(&self, generation: u64, limit: std::time::Duration) {
        let idle = self.idle.clone();
        let session = self.session.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            if idle.generation.load(Ordering::Acquire) != generation {
                return;
            }
            idle.ended.store(true, Ordering::Release);
            let rolled_back = tokio::task::spawn_blocking(move || {
                let mut session = lock(&session);
                session.execute("ROLLBACK").is_ok()
            })
            .await;
            tracing::info!(
                rolled_back = rolled_back.unwrap_or(false),
                "ended a session idle in a transaction past idle_in_transaction_session_timeout"
            );
        });
    }
}

impl Connection {
    /// A query that is one COPY statement starts the copy sub-protocol; anything else
    /// (`None`) runs as usual.
    async fn start_copy(&self, query: &str) -> PgWireResult<Option<Response>> {
        let first_word = query.split_whitespace().next().unwrap_or("");
        if !first_word.eq_ignore_ascii_case("copy") {
            return Ok(None);
        }
        let sql = query.to_owned();
        // Not one preparable statement: the normal path reports what is wrong.
        let Ok(prepared) = self.run(move |session| session.prepare(&sql)).await else {
            return Ok(None);
        };
        if !prepared.is_copy() {
            return Ok(None);
        }
        self.copy_response(prepared).await.map(Some)
    }

    /// Runs a prepared COPY: COPY FROM waits for the client's data (kept for the copy
    /// handler), COPY TO sends its rows.
    async fn copy_response(&self, prepared: Prepared) -> PgWireResult<Response> {
        let stream = self
            .run(move |session| session.start_copy(&prepared))
            .await?;
        Ok(match stream {
            CopyStream::In(copy) => {
                let columns = copy.columns();
                *lock(&self.copy) = Some(copy);
                Response::CopyIn(CopyResponse::new(0, columns, futures::stream::empty()))
            }
            CopyStream::Out(out) => {
                let chunks = out
                    .chunks
                    .into_iter()
                    .map(|chunk| Ok(CopyData::new(Bytes::from(chunk))));
                Response::CopyOut(CopyResponse::new(
                    0,
                    out.columns.len(),
                    futures::stream::iter(chunks.collect::<Vec<_>>()),
                ))
            }
        })
    }

    /// The COPY FROM in progress, taken out (a protocol error if there is none).
    fn take_copy(&self) -> PgWireResult<Box<CopyIn>> {
        lock(&self.copy).take().ok_or_else(|| {
            error(Error::NotSupported(
                "COPY data without a COPY FROM STDIN in progress".into(),
            ))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut copy = self.take_copy()?;
        let copy_slot = self.copy.clone();
        // Brief: the rows only go into the transaction's write set (no lock, no commit), and a
        // client sends a CopyData per row or two — a thread hop each would cost more.
        self.run_where(true, move |session| {
            session.copy_data(&mut copy, &copy_data.data);
            *lock(&copy_slot) = Some(copy);
            Ok(())
        })
        .await
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let copy = self.take_copy()?;
        let rows = self.run(move |session| session.copy_done(copy)).await?;
        let tag = Tag::new("COPY").with_rows(rows as usize);
        client
            .send(PgWireBackendMessage::CommandComplete(tag.into()))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Ok(copy) = self.take_copy() else {
            return error(Error::CopyFailed(fail.message));
        };
        let message = fail.message;
        match self
            .run(move |session| Err::<(), _>(session.copy_fail(copy, &message)))
            .await
        {
            Err(e) => e,
            Ok(()) => unreachable!("copy_fail always fails"),
        }
    }
}

/// An engine error as the client sees it: SQLSTATE, message, position, detail, context.
fn error(e: Error) -> PgWireError {
    let mut info = ErrorInfo::new("ERROR".to_owned(), e.sqlstate().to_owned(), e.to_string());
    info.position = e.position().map(|p| p.to_string());
    info.detail = e.detail().map(str::to_owned);
    info.where_context = e.context().map(str::to_owned);
    PgWireError::UserError(Box::new(info))
}

fn fields(columns: &[OutputColumn], format: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            FieldInfo::new(
                c.name.clone(),
                None,
                None,
                wire_type(c.data_type),
                format.format_for(i),
            )
        })
        .collect()
}

/// A statement's result as pgwire responses: rows, or a command tag (BEGIN/COMMIT/ROLLBACK
/// also move the connection's transaction status).
fn response(result: QueryResult, format: &Format) -> PgWireResult<Response> {
    if result.columns.is_empty() {
        let tag = Tag::new(&result.tag);
        return Ok(match &*result.tag {
            "BEGIN" => Response::TransactionStart(tag),
            "COMMIT" | "ROLLBACK" => Response::TransactionEnd(tag),
            _ => Response::Execution(tag),
        });
    }
    let schema = Arc::new(fields(&result.columns, format));
    let binary: Vec<bool> = schema
        .iter()
        .map(|f| f.format() == FieldFormat::Binary)
        .collect();
    let mut encoder = DataRowEncoder::new(schema.clone());
    let mut rows: Vec<PgWireResult<DataRow>> = Vec::with_capacity(result.rows.len());
    for row in &result.rows {
        for ((value, column), &binary) in row.iter().zip(result.columns.iter()).zip(&binary) {
            if value.is_null() {
                encoder.encode_field(&None::<&str>)?;
            } else if binary {
                encoder.encode_field(&Encoded {
                    binary: wire::binary(value, column.data_type),
                    text: String::new(),
                })?;
            } else if let Value::Array(items) = value {
                // As it is: pgwire would quote a string sent for an array type.
                let text = match column.data_type {
                    DataType::Int2Vector => format_vector(items),
                    _ => value.to_string(),
                };
                encoder.encode_field(&Encoded {
                    binary: Vec::new(),
                    text,
                })?;
            } else {
                // PostgreSQL's text forms are the engine's (`3` for a float 3, `t`, `\x…`).
                encoder.encode_field(&value.to_string())?;
            }
        }
        rows.push(Ok(encoder.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(
        schema,
        futures::stream::iter(rows),
    )))
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(copy) = self.start_copy(query).await? {
            return Ok(vec![copy]);
        }
        // The statements before a failing one keep their results, then comes the error.
        let sql = query.to_owned();
        let started = std::time::Instant::now();
        // Planned once: run where it belongs (a statement that is not brief is not planned
        // again on the blocking pool).
        let (results, failure) = match self.plan_simple(query) {
            Some((prepared, placement)) => {
                match self
                    .execute(Arc::new(prepared), Vec::new(), placement)
                    .await?
                {
                    Ok(result) => (vec![result], None),
                    Err(e) => (Vec::new(), Some(e)),
                }
            }
            None => {
                self.run(move |session| Ok(session.execute_until_error(&sql)))
                    .await?
            }
        };
        let metrics = &self.shared.metrics;
        let elapsed = started.elapsed() / u32::try_from(results.len().max(1)).unwrap_or(1);
        for result in &results {
            metrics.record(&result.tag, elapsed);
        }
        if failure.is_some() {
            metrics.record_error();
        }
        let mut responses = results
            .into_iter()
            .map(|r| response(r, &Format::UnifiedText))
            .collect::<PgWireResult<Vec<_>>>()?;
        if let Some(e) = failure {
            match error(e) {
                PgWireError::UserError(info) => responses.push(Response::Error(info)),
                other => return Err(other),
            }
        }
        Ok(responses)
    }
}

/// A parameter's value from the client: text as it is (the statement casts it as it would a
/// literal), binary decoded by its wire type.
fn parameter(portal: &Portal<String>, i: usize, ty: &Type) -> PgWireResult<Value> {
    let Some(bytes) = portal.parameters.get(i).cloned().flatten() else {
        return Ok(Value::Null);
    };
    if portal.parameter_format.is_binary(i) {
        wire::from_binary(&bytes, ty).map_err(error)
    } else {
        std::str::from_utf8(&bytes)
            .map(Value::from)
            .map_err(|_| error(Error::InvalidText("a parameter that is not UTF-8".into())))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let sql = portal.statement.statement.clone();
        let prepared = self.prepared(&sql).await?;
        if prepared.is_copy() {
            return self.copy_response((*prepared).clone()).await;
        }
        let mut params = Vec::with_capacity(prepared.parameter_types.len());
        for (i, ours) in prepared.parameter_types.iter().enumerate() {
            let declared = portal
                .statement
                .parameter_types
                .get(i)
                .cloned()
                .flatten()
                .filter(|t| *t != Type::UNKNOWN);
            params.push(parameter(portal, i, &declared.unwrap_or(wire_type(*ours)))?);
        }
        let format = portal.result_column_format.clone();
        let started = std::time::Instant::now();
        let in_block = self
            .session
            .try_lock()
            .is_ok_and(|session| session.in_transaction_block());
        let placement = Placement::of(&prepared, &params, in_block);
        let result = self
            .execute(prepared, params, placement)
            .await
            .and_then(|result| result.map_err(error));
        match &result {
            Ok(result) => self.shared.metrics.record(&result.tag, started.elapsed()),
            Err(_) => self.shared.metrics.record_error(),
        }
        response(result?, &format)
    }

    /// Parse as pgwire does it, but ParseComplete waits in the write buffer for the Sync (see
    /// `batch`): drivers that do not name their statements (psycopg, pgjdbc) send Parse, Bind,
    /// Describe, Execute and Sync for every query.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: WireClient,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use pgwire::api::store::PortalStore;
        let parsed = StoredStatement::parse(client, &message, self.query_parser()).await?;
        match parsed {
            Some(statement) => client.portal_store().put_statement(Arc::new(statement)),
            None => {
                let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
                client.portal_store().put_empty_statement(name);
            }
        }
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// Close as pgwire does it, but CloseComplete waits in the write buffer for the Sync (see
    /// `batch`).
    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: WireClient,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use pgwire::api::store::PortalStore;
        use pgwire::messages::extendedquery::{
            TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
        };
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => client.portal_store().rm_statement(name),
            TARGET_TYPE_BYTE_PORTAL => client.portal_store().rm_portal(name),
            _ => {}
        }
        client
            .feed(PgWireBackendMessage::CloseComplete(CloseComplete::new()))
            .await?;
        Ok(())
    }

    /// Bind as pgwire does it, but BindComplete waits in the write buffer for the Sync (see
    /// `batch`).
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: WireClient,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use pgwire::api::store::{Entry, PortalStore};
        let statement_name = message
            .statement_name
            .as_deref()
            .unwrap_or(pgwire::api::DEFAULT_NAME);
        let portal_name = message
            .portal_name
            .as_deref()
            .unwrap_or(pgwire::api::DEFAULT_NAME);
        match client.portal_store().get_statement(statement_name) {
            Some(Entry::Value(statement)) => {
                let portal = Portal::try_new(&message, statement)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                client.portal_store().put_empty_portal(portal_name);
            }
            Some(Entry::Empty) => {
                return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_owned(),
                    "08P01".to_owned(),
                    format!(
                        "bind message supplies {} parameters, but prepared statement \
                         \"{statement_name}\" requires 0",
                        message.parameters.len()
                    ),
                ))));
            }
            None => return Err(PgWireError::StatementNotFound(statement_name.to_owned())),
        }
        client
            .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    /// Execute as pgwire does it, its answer left in the write buffer for the Sync (see
    /// `batch`) — except COPY, whose CopyInResponse the client waits for.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: WireClient,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use pgwire::api::store::{Entry, PortalStore};
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        let copy = match client.portal_store().get_portal(name) {
            Some(Entry::Value(portal)) => portal
                .statement
                .statement
                .split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case("copy")),
            _ => false,
        };
        if copy {
            self._on_execute(client, message).await
        } else {
            self._on_execute(&mut crate::batch::Unflushed(client), message)
                .await
        }
    }

    /// Describe of a statement that returns no rows answers NoData after its parameters.
    /// pgwire 0.42 sends an empty RowDescription when such a statement has parameters, which
    /// makes drivers (pgjdbc) expect a result set from an INSERT. The answer waits in the
    /// write buffer for the Sync (see `batch`).
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: WireClient,
        C::PortalStore: pgwire::api::store::PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use pgwire::api::ClientPortalStore;
        use pgwire::api::store::{Entry, PortalStore};
        let client = &mut crate::batch::Unflushed(client);
        if message.target_type == pgwire::messages::extendedquery::TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
            if let Some(Entry::Value(statement)) = client.portal_store().get_statement(name) {
                let described = self.do_describe_statement(client, &statement).await?;
                let oids = described.parameters.iter().map(Type::oid).collect();
                client
                    .feed(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(oids),
                    ))
                    .await?;
                let answer = if described.fields.is_empty() {
                    PgWireBackendMessage::NoData(NoData::new())
                } else {
                    PgWireBackendMessage::RowDescription(RowDescription::new(
                        described.fields.iter().map(Into::into).collect(),
                    ))
                };
                client.feed(answer).await?;
                return Ok(());
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        statement: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let prepared = self.prepared(&statement.statement).await?;
        let parameters = prepared
            .parameter_types
            .iter()
            .enumerate()
            .map(|(i, ours)| {
                statement
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .filter(|t| *t != Type::UNKNOWN)
                    .unwrap_or(wire_type(*ours))
            })
            .collect();
        Ok(DescribeStatementResponse::new(
            parameters,
            fields(&prepared.columns, &Format::UnifiedBinary),
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let prepared = self.prepared(&portal.statement.statement).await?;
        Ok(DescribePortalResponse::new(fields(
            &prepared.columns,
            &portal.result_column_format,
        )))
    }
}
