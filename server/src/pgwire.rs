//! The PostgreSQL wire protocol front end (the `pgwire` crate over tokio).
//!
//! The SQL layer does not exist yet, so a connection completes SSL negotiation and reads the
//! startup packet, then gets a FATAL `0A000 feature_not_supported` error that says so plainly,
//! rather than a session that pretends to work.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures_sink::Sink;
use pgwire::api::auth::StartupHandler;
use pgwire::api::{ClientInfo, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::TcpListener;

use crate::Shared;

/// Accepts connections until the listener fails; each connection runs in its own task.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers {
        startup: Arc::new(Startup { shared }),
    });
    loop {
        let (socket, peer) = listener.accept().await?;
        let handlers = handlers.clone();
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, handlers).await {
                tracing::debug!(%peer, "connection ended with an error: {e}");
            }
        });
    }
}

#[derive(Debug)]
struct Handlers {
    startup: Arc<Startup>,
}

impl PgWireServerHandlers for Handlers {
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }
}

#[derive(Debug)]
struct Startup {
    shared: Arc<Shared>,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(startup) = message else {
            return Ok(());
        };
        let user = startup.parameters.get("user").map_or("", String::as_str);
        tracing::info!(peer = %client.socket_addr(), user, "refusing session: SQL not implemented yet");
        let mut info = ErrorInfo::new(
            "FATAL".to_owned(),
            "0A000".to_owned(),
            format!(
                "OmenDB {} ({} storage) accepts connections but does not execute SQL yet: \
                 query support is not implemented",
                omendb_engine::VERSION,
                self.shared.storage.name(),
            ),
        );
        info.hint = Some("The SQL layer is in progress; see the project's issue tracker.".into());
        Err(PgWireError::UserError(Box::new(info)))
    }
}
