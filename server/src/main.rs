//! `omendb-server`: OmenDB's native face. PostgreSQL clients connect over pgwire (default
//! 127.0.0.1:5433); browsers reach the web console and the HTTP API (default 127.0.0.1:8080).
//! The server only adapts protocols: everything else happens in `omendb-engine`.

/// mimalloc: the server allocates small, short-lived buffers per message and statement, which
/// it serves with less locking and fragmentation than glibc's malloc under many connections.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod auth;
mod batch;
mod config;
mod http;
mod lifecycle;
mod loops;
mod metrics;
mod pgwire;
mod tls;
mod tokens;
mod wire;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::config::Args;

/// What every connection handler shares.
#[derive(Debug)]
pub struct Shared {
    pub storage: Arc<dyn omendb_engine::storage::Storage>,
    pub db: omendb_engine::Database,
    /// `--statement-timeout` and `--idle-in-transaction-timeout`, set in every new session.
    pub statement_timeout: String,
    pub idle_in_transaction_timeout: String,
    /// `--auth`: how pgwire and HTTP clients authenticate.
    pub auth: auth::AuthMode,
    /// Connection limit and shutdown.
    pub lifecycle: Arc<lifecycle::Lifecycle>,
    pub metrics: metrics::Metrics,
    /// The HTTP API's bearer tokens.
    pub tokens: tokens::Tokens,
}

impl Shared {
    /// A session with the server's defaults.
    pub fn session(&self) -> omendb_engine::Session {
        let mut session = self.db.session();
        // Validated at start.
        let _ = session.execute(&format!(
            "SET statement_timeout = '{}'; SET idle_in_transaction_session_timeout = '{}'",
            self.statement_timeout, self.idle_in_transaction_timeout
        ));
        session
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::load()?;
    // Logs go to stderr: stdout carries only the listening addresses, for scripts and tests.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log_level).context("invalid --log-level")?)
        .with_writer(std::io::stderr)
        .init();
    // Panics (contained per connection or request) are logged like everything else.
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));

    let storage_config = args.storage_config()?;
    let storage = storage_config
        .open()
        .with_context(|| format!("opening {} storage", storage_config.kind))?;
    tracing::info!(
        storage = storage.name(),
        data_dir = ?storage_config.data_dir,
        "storage opened"
    );
    let db = omendb_engine::Database::open_storage(
        storage.clone(),
        &omendb_engine::DatabaseConfig {
            storage: storage_config.clone(),
            cache_bytes: args.cache_size,
            synchronous_commit: args.synchronous_commit,
            analytics_memory: args.analytics_memory,
            analytics_cache: args.analytics_cache,
        },
    )
    .context("opening the database")?;
    if args.auth == auth::AuthMode::Trust
        && !(args.listen.ip().is_loopback() && args.http_listen.ip().is_loopback())
    {
        anyhow::bail!(
            "--auth trust accepts anyone who connects: it is allowed only when both listen \
             addresses are loopback"
        );
    }
    // Checked now, so a bad value fails at start rather than at every connection.
    db.session()
        .execute(&format!(
            "SET statement_timeout = '{}'",
            args.statement_timeout.replace('\'', "")
        ))
        .context("invalid --statement-timeout")?;
    db.session()
        .execute(&format!(
            "SET idle_in_transaction_session_timeout = '{}'",
            args.idle_in_transaction_timeout.replace('\'', "")
        ))
        .context("invalid --idle-in-transaction-timeout")?;
    let shared = Arc::new(Shared {
        storage,
        db,
        statement_timeout: args.statement_timeout.replace('\'', ""),
        idle_in_transaction_timeout: args.idle_in_transaction_timeout.replace('\'', ""),
        auth: args.auth,
        lifecycle: Arc::new(lifecycle::Lifecycle::new(args.max_connections)),
        metrics: metrics::Metrics::default(),
        tokens: tokens::Tokens::new(args.token_ttl),
    });

    auth::bootstrap(
        &shared,
        args.auth,
        &args.admin_user,
        storage_config.data_dir.as_deref(),
    )
    .context("creating the first user")?;
    let auth = Arc::new(auth::Auth::new(args.auth, &shared, args.require_tls));
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        _ => None,
    };

    let pg_listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding pgwire to {}", args.listen))?;
    let http_listener = TcpListener::bind(args.http_listen)
        .await
        .with_context(|| format!("binding HTTP to {}", args.http_listen))?;
    // Tests and scripts read these two lines to learn the ports (the listeners may use port 0).
    // Whoever started us may close the pipe once it has read what it needs: that is no reason
    // to stop serving, so a failed write is ignored (println! would panic).
    {
        use std::io::Write;
        let text = format!(
            "pgwire listening on {}\nhttp listening on {}\n",
            pg_listener.local_addr()?,
            http_listener.local_addr()?
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    let threads = match args.connection_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let loops = loops::Loops::start(threads).context("starting the connection threads")?;
    let lifecycle = shared.lifecycle.clone();
    let router = http::router(shared.clone(), args.console_dir.clone(), &args.cors_origin);
    tokio::select! {
        result = pgwire::serve(pg_listener, loops, shared.clone(), auth, tls) => {
            result.context("pgwire server")?;
        }
        result = axum::serve(http_listener, router) => result.context("HTTP server")?,
        _ = shutdown_signal() => {
            tracing::info!("shutting down: no new connections or statements");
            lifecycle.shut_down(args.shutdown_grace).await;
        }
    }
    shared
        .storage
        .sync()
        .context("syncing storage at shutdown")?;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
