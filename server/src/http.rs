//! The HTTP side: a JSON API under `/api` and the built web console at `/`.
//!
//! - `GET /api/health`: liveness, version, storage.
//! - `POST /api/query` with `{"sql": "...", "params": [...]}`: runs the statements one after
//!   another in a new session (so `BEGIN … COMMIT` inside one request works; like psql, the
//!   statements before a failing one have run) and answers
//!   `{"results": [{"columns": [{"name", "type"}], "rows": [[…]], "tag", "affected",
//!   "elapsed_ms"}], "elapsed_ms"}`, or an error `{"error": {"sqlstate", "message", "position",
//!   "detail"}, "results": [those before it]}` (400, or 500 for server-side failures; the
//!   position counts characters from the start of `sql`). Integers, floats and booleans are JSON values; NUMERIC and every
//!   other type is its PostgreSQL text form (exact). Parameters bind `$1`, `$2`, … (one
//!   statement only).
//! - `GET /api/schema`: tables (columns, primary key, indexes, checks) and views.
//! - `GET /api/tables/{name}/index`: the table's learned index, node by node.
//! - `GET /health` (as `/api/health`) and `GET /metrics` (Prometheus text).
//!
//! - `POST /api/login` with `{"user", "password"}`: `{"token", "user", "expires_in"}`, a bearer
//!   token for the other endpoints (see [`crate::tokens`]); `POST /api/logout` ends it.
//!
//! `/api/query`, `/api/schema`, `/api/tables/…` and `/metrics` authenticate with
//! `Authorization: Bearer <token>` or HTTP Basic (a role's name and password, checked against
//! its SCRAM verifier) unless the server runs with `--auth trust`; failures answer 401 with the
//! SQLSTATE pgwire would send (28000 no or bad credentials, 28P01 wrong password). Other
//! origins may call the API only as `--cors-origin` allows.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Json};
use axum::routing::{get, post};
use omendb_engine::Error;
use omendb_engine::types::Value;
use serde_json::{Value as JsonValue, json};
use tower_http::services::ServeDir;

use crate::Shared;
use crate::auth::AuthMode;
use omendb_engine::auth::ScramVerifier;

pub fn router(shared: Arc<Shared>, console_dir: PathBuf, cors_origins: &[String]) -> Router {
    let api = Router::new()
        .route("/health", get(health))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/query", post(query))
        .route("/schema", get(schema))
        .route("/tables/{name}/index", get(index))
        .with_state(shared.clone());
    let router = Router::new()
        .nest("/api", api)
        .route("/health", get(health).with_state(shared.clone()))
        .route("/metrics", get(metrics).with_state(shared));
    let router = if console_dir.join("index.html").is_file() {
        router.fallback_service(ServeDir::new(console_dir))
    } else {
        tracing::warn!(dir = %console_dir.display(), "web console not built; serving a notice");
        router.fallback(get(console_missing))
    };
    match cors(cors_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// `--cors-origin`: the other origins whose pages may call the API (`*`: any). Without one,
/// browsers keep the API to the console the server itself serves.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    )
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

#[derive(Debug, serde::Deserialize)]
struct QueryRequest {
    sql: String,
    #[serde(default)]
    params: Vec<JsonValue>,
}

/// The role a request runs as: from its Basic credentials, verified under SCRAM; under trust,
/// the name given (if any) with a trusted session's privileges.
struct User(Option<String>);

/// A refused request: 401 with a JSON error.
fn unauthorized(sqlstate: &str, message: String) -> axum::response::Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"sqlstate": sqlstate, "message": message}})),
    )
        .into_response()
}

/// Adds the Basic challenge, for refusals of requests that came with Basic credentials or
/// none. (Never for a login or a bearer token: a browser would answer the challenge with its own
/// password dialog instead of letting the page see the error.)
fn with_challenge(mut response: axum::response::Response) -> axum::response::Response {
    response.headers_mut().insert(
        axum::http::header::WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Basic realm=\"OmenDB\", charset=\"UTF-8\""),
    );
    response
}

impl axum::extract::FromRequestParts<Arc<Shared>> for User {
    type Rejection = axum::response::Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok());
        if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
            return match check_token(shared, token.trim()) {
                Some(user) => Ok(User(Some(user))),
                None => Err(unauthorized(
                    "28000",
                    "invalid or expired token: log in again at /api/login".into(),
                )),
            };
        }
        let credentials = authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .and_then(basic_credentials);
        if shared.auth == AuthMode::Trust {
            return Ok(User(credentials.map(|(user, _)| user)));
        }
        let Some((user, password)) = credentials else {
            return Err(with_challenge(unauthorized(
                "28000",
                "authentication required: send HTTP Basic credentials of a role or a token \
                 from /api/login"
                    .into(),
            )));
        };
        match verify_password(shared, &user, password).await {
            Some(_) => Ok(User(Some(user))),
            None => Err(with_challenge(password_failed(&user))),
        }
    }
}

/// The user and password of `Authorization: Basic …`.
fn basic_credentials(encoded: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn password_failed(user: &str) -> axum::response::Response {
    tracing::warn!(%user, "HTTP password authentication failed");
    unauthorized(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

/// Checks `password` against the role's SCRAM verifier (off the async threads: PBKDF2 takes
/// milliseconds); the verifier when it matches and the role may log in.
async fn verify_password(shared: &Arc<Shared>, user: &str, password: String) -> Option<String> {
    let shared = shared.clone();
    let name = user.to_owned();
    tokio::task::spawn_blocking(move || {
        let text = shared
            .db
            .role(&name)
            .filter(|role| role.login)
            .and_then(|role| role.verifier)?;
        ScramVerifier::parse(&text)
            .is_some_and(|verifier| verifier.verify(&password))
            .then_some(text)
    })
    .await
    .unwrap_or(None)
}

/// The verifier a token is bound to: the role's (under trust, a fixed one: no passwords).
fn current_verifier(shared: &Shared, user: &str) -> Option<String> {
    match shared.auth {
        AuthMode::Trust => Some(String::new()),
        AuthMode::Scram => shared
            .db
            .role(user)
            .filter(|role| role.login)
            .and_then(|role| role.verifier),
    }
}

fn check_token(shared: &Shared, token: &str) -> Option<String> {
    shared
        .tokens
        .check(token, |user| current_verifier(shared, user))
}

#[derive(Debug, serde::Deserialize)]
struct LoginRequest {
    user: String,
    #[serde(default)]
    password: String,
}

/// `POST /api/login` with `{"user", "password"}`: a bearer token for later requests, or 401.
async fn login(
    State(shared): State<Arc<Shared>>,
    Json(request): Json<LoginRequest>,
) -> axum::response::Response {
    let verifier = match shared.auth {
        AuthMode::Trust => Some(String::new()),
        AuthMode::Scram => verify_password(&shared, &request.user, request.password).await,
    };
    let Some(verifier) = verifier else {
        return password_failed(&request.user);
    };
    match shared.tokens.issue(&request.user, &verifier) {
        Ok(token) => Json(json!({
            "token": token,
            "user": request.user,
            "expires_in": shared.tokens.ttl().as_secs(),
        }))
        .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"sqlstate": "58000", "message": e.to_string()}})),
        )
            .into_response(),
    }
}

/// `POST /api/logout` with the token to end: 204, or 401 when it was not live.
async fn logout(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match token {
        Some(token) if shared.tokens.revoke(token.trim()) => StatusCode::NO_CONTENT.into_response(),
        _ => unauthorized("28000", "no live token to end".into()),
    }
}

/// `POST /api/query`.
async fn query(
    State(shared): State<Arc<Shared>>,
    User(user): User,
    Json(request): Json<QueryRequest>,
) -> impl IntoResponse {
    let started = std::time::Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let mut session = shared.session();
        match (&user, shared.auth) {
            (Some(user), AuthMode::Scram) => session.set_user(user),
            (Some(user), AuthMode::Trust) => session.set_trusted_user(user),
            (None, _) => {}
        }
        if request.params.is_empty() {
            let clock = std::time::Instant::now();
            let now_ms = || clock.elapsed().as_secs_f64() * 1000.0;
            return omendb_engine::json::run_script(&mut session, &request.sql, now_ms);
        }
        let params: Vec<Value> = request
            .params
            .iter()
            .map(omendb_engine::json::parameter)
            .collect();
        let clock = std::time::Instant::now();
        let outcome = session
            .prepare(&request.sql)
            .and_then(|prepared| session.execute_prepared(&prepared, &params));
        match outcome {
            Ok(result) => {
                let mut doc = omendb_engine::json::result(&result);
                doc["elapsed_ms"] = json!(clock.elapsed().as_secs_f64() * 1000.0);
                (vec![doc], None)
            }
            Err(e) => (Vec::new(), Some(omendb_engine::json::error(&e))),
        }
    })
    .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok((results, None)) => (
            StatusCode::OK,
            Json(json!({"results": results, "elapsed_ms": elapsed_ms})),
        ),
        Ok((results, Some(error))) => {
            let status = match error["sqlstate"].as_str().and_then(|s| s.get(..2)) {
                Some("58" | "XX") => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                Json(json!({"error": error, "results": results, "elapsed_ms": elapsed_ms})),
            )
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"sqlstate": "XX000", "message": e.to_string()}})),
        ),
    }
}

fn error_json(e: &Error) -> JsonValue {
    json!({"error": omendb_engine::json::error(e)})
}

/// `GET /metrics` (authenticated like the API).
async fn metrics(State(shared): State<Arc<Shared>>, _user: User) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(&shared),
    )
}

/// `GET /api/tables/{name}/index`: the table's learned index (see [`omendb_engine::json::index`]).
async fn index(
    State(shared): State<Arc<Shared>>,
    _user: User,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    match omendb_engine::json::index(&shared.db, &name) {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, Json(error_json(&e))).into_response(),
    }
}

/// `GET /api/schema`.
async fn schema(State(shared): State<Arc<Shared>>, _user: User) -> impl IntoResponse {
    Json(omendb_engine::json::schema(&shared.db))
}
