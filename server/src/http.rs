//! The HTTP side: a small JSON API under `/api` and the built web console at `/`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json};
use axum::routing::get;
use tower_http::services::ServeDir;

use crate::Shared;

pub fn router(shared: Arc<Shared>, console_dir: PathBuf) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .with_state(shared);
    let router = Router::new().nest("/api", api);
    if console_dir.join("index.html").is_file() {
        router.fallback_service(ServeDir::new(console_dir))
    } else {
        tracing::warn!(dir = %console_dir.display(), "web console not built; serving a notice");
        router.fallback(get(console_missing))
    }
}

/// Liveness plus what the server runs on: version and storage backend.
async fn health(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(serde_json::json!({
        "status": "ok",
        "version": omendb_engine::VERSION,
        "storage": shared.storage.name(),
    }))
}

async fn console_missing() -> impl IntoResponse {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            "<!doctype html><title>OmenDB</title><h1>OmenDB</h1>\
             <p>The web console has not been built. Run <code>scripts/dev.sh run</code>, \
             or pass <code>--console-dir</code> pointing at a built console.</p>",
        ),
    )
}
