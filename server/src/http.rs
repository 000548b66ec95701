//! The HTTP side: a JSON API under `/api` and the built web console at `/`.
//!
//! - `GET /api/health`: liveness, version, storage.
//! - `POST /api/query` with `{"sql": "...", "params": [...]}`: runs the statements in a new
//!   session (so `BEGIN … COMMIT` inside one request works) and answers
//!   `{"results": [{"columns": [{"name", "type"}], "rows": [[…]], "tag", "affected"}],
//!   "elapsed_ms"}`, or an error `{"error": {"sqlstate", "message", "position"}}` (400, or 500
//!   for server-side failures). Integers, floats and booleans are JSON values; NUMERIC and every
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
use omendb_engine::types::Value;
use omendb_engine::{Error, QueryResult};
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

/// A refused request: 401 with a JSON error and the Basic challenge.
fn unauthorized(sqlstate: &str, message: String) -> axum::response::Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            axum::http::header::WWW_AUTHENTICATE,
            "Basic realm=\"OmenDB\", charset=\"UTF-8\"",
        )],
        Json(json!({"error": {"sqlstate": sqlstate, "message": message}})),
    )
        .into_response()
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
            return Err(unauthorized(
                "28000",
                "authentication required: send HTTP Basic credentials of a role or a token \
                 from /api/login"
                    .into(),
            ));
        };
        match verify_password(shared, &user, password).await {
            Some(_) => Ok(User(Some(user))),
            None => Err(password_failed(&user)),
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
            session.execute(&request.sql)
        } else {
            let params: Vec<Value> = request.params.iter().map(parameter).collect();
            let prepared = session.prepare(&request.sql)?;
            session
                .execute_prepared(&prepared, &params)
                .map(|r| vec![r])
        }
    })
    .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match outcome {
        Ok(Ok(results)) => (
            StatusCode::OK,
            Json(json!({
                "results": results.iter().map(result_json).collect::<Vec<_>>(),
                "elapsed_ms": elapsed_ms,
            })),
        ),
        Ok(Err(e)) => {
            let status = match e.sqlstate().get(..2) {
                Some("58" | "XX") => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, Json(error_json(&e)))
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"sqlstate": "XX000", "message": e.to_string()}})),
        ),
    }
}

/// A JSON parameter as an engine value: strings are text (the statement casts them).
fn parameter(value: &JsonValue) -> Value {
    match value {
        JsonValue::Null => Value::Null,
        JsonValue::Bool(b) => Value::Boolean(*b),
        JsonValue::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Text(n.to_string()),
        },
        JsonValue::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

fn result_json(result: &QueryResult) -> JsonValue {
    let affected = result
        .tag
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse::<u64>().ok());
    json!({
        "columns": result
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "type": c.data_type.to_string()}))
            .collect::<Vec<_>>(),
        "rows": result
            .rows
            .iter()
            .map(|row| row.iter().map(value_json).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        "tag": result.tag,
        "affected": affected,
    })
}

fn value_json(value: &Value) -> JsonValue {
    match value {
        Value::Null => JsonValue::Null,
        Value::Boolean(b) => JsonValue::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) if f.is_finite() => json!(f),
        other => JsonValue::String(other.to_string()),
    }
}

fn error_json(e: &Error) -> JsonValue {
    json!({"error": {
        "sqlstate": e.sqlstate(),
        "message": e.to_string(),
        "position": e.position(),
        "detail": e.detail(),
    }})
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

/// `GET /api/tables/{name}/index`: the table's learned index — its statistics and every node
/// (level, parent, key range, linear model, capacity and fill) for the visualiser. Keys are
/// JSON numbers for integer keys, hex strings of the encoded key otherwise.
async fn index(
    State(shared): State<Arc<Shared>>,
    _user: User,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    use omendb_engine::RowKey;
    let nodes = match shared.db.index_nodes(&name) {
        Ok(nodes) => nodes,
        Err(e) => return (StatusCode::NOT_FOUND, Json(error_json(&e))).into_response(),
    };
    let key = |k: &Option<RowKey>| match k {
        None => JsonValue::Null,
        Some(RowKey::Int(i)) => json!(i),
        Some(RowKey::Bytes(b)) => JsonValue::String(b.iter().map(|x| format!("{x:02x}")).collect()),
    };
    let stats = shared.db.stats();
    let Some(table) = stats.tables.iter().find(|t| t.name == name) else {
        let e = Error::UndefinedTable(name);
        return (StatusCode::NOT_FOUND, Json(error_json(&e))).into_response();
    };
    let s = &table.index;
    Json(json!({
        "table": name,
        "stats": {
            "keys": s.len,
            "depth": s.depth,
            "inner_nodes": s.inner_nodes,
            "data_nodes": s.data_nodes,
            "avg_density": s.avg_density,
            "model_error_mean": s.model_error_mean,
            "model_error_max": s.model_error_max,
            "shifts_per_insert": s.shifts_per_insert,
            "expansions": s.events.expansions,
            "splits_sideways": s.events.splits_sideways,
            "splits_down": s.events.splits_down,
            "memory_bytes": table.index_memory.total(),
        },
        "nodes": nodes.iter().map(|n| json!({
            "id": n.id,
            "kind": match n.kind { omendb_engine::alex::NodeKind::Inner => "inner", omendb_engine::alex::NodeKind::Data => "data" },
            "depth": n.depth,
            "parent": n.parent,
            "min_key": key(&n.min_key),
            "max_key": key(&n.max_key),
            "slope": n.slope,
            "intercept": n.intercept,
            "capacity": n.capacity,
            "fill": n.fill,
        })).collect::<Vec<_>>(),
    }))
    .into_response()
}

/// `GET /api/schema`.
async fn schema(State(shared): State<Arc<Shared>>, _user: User) -> impl IntoResponse {
    let db = &shared.db;
    let tables: Vec<JsonValue> = db
        .table_names()
        .iter()
        .filter_map(|name| db.table_schema(name).ok())
        .map(|t| {
            let column = |i: &usize| t.columns[*i].name.clone();
            json!({
                "name": t.name,
                "columns": t.columns.iter().filter(|c| !c.dropped).map(|c| json!({
                    "name": c.name,
                    "type": c.data_type.to_string(),
                    "nullable": c.nullable,
                })).collect::<Vec<_>>(),
                "primary_key": t.primary_key.iter().map(column).collect::<Vec<_>>(),
                "indexes": t.indexes.iter().map(|i| json!({
                    "name": i.name,
                    "columns": i.columns.iter().map(column).collect::<Vec<_>>(),
                    "unique": i.unique,
                })).collect::<Vec<_>>(),
                "checks": t.checks.iter().map(|c| json!({"name": c.name, "expr": c.expr})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let views: Vec<JsonValue> = db
        .view_names()
        .iter()
        .filter_map(|name| db.view(name))
        .map(|v| json!({"name": v.name, "columns": v.columns, "query": v.query}))
        .collect();
    Json(json!({"tables": tables, "views": views}))
}
