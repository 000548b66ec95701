//! Where statements run: in the page (the wasm engine, saved to IndexedDB) or on an OmenDB
//! server (its HTTP API, after a login). Both answer with the same JSON documents
//! (`omendb_engine::json`), so the rest of the console does not know which it talks to.

use std::rc::Rc;

use gloo_net::http::Request;
use serde_json::{Value as JsonValue, json};

/// The IndexedDB name the console's local database is saved under.
pub const LOCAL_DATABASE: &str = "console";

/// What running a script gave: a result document per statement that ran, and the error that
/// stopped it, if any (`{sqlstate, message, position, detail}`).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub results: Vec<JsonValue>,
    pub error: Option<JsonValue>,
}

/// A logged-in connection to a server's HTTP API.
#[derive(Debug)]
pub struct Remote {
    /// The server's origin (`http://host:8080`), without a trailing slash.
    pub base: String,
    pub user: String,
    token: String,
}

#[derive(Debug, Clone)]
pub enum Backend {
    Local(Rc<omendb_wasm::Database>),
    Remote(Rc<Remote>),
}

/// An error document for failures outside SQL (network, HTTP).
fn failure(sqlstate: &str, message: impl Into<String>) -> JsonValue {
    json!({"sqlstate": sqlstate, "message": message.into()})
}

impl Backend {
    /// Opens the page's own database, loading what an earlier visit saved.
    pub async fn local() -> Result<Backend, String> {
        let options = omendb_wasm::OpenOptions {
            backend: None,
            persist: Some(LOCAL_DATABASE.into()),
        };
        omendb_wasm::Database::open_with(options)
            .await
            .map(|db| Backend::Local(Rc::new(db)))
            .map_err(|e| js_message(&e))
    }

    /// Logs in to the server at `base` and keeps the token.
    pub async fn login(base: &str, user: &str, password: &str) -> Result<Backend, String> {
        let base = base.trim().trim_end_matches('/').to_string();
        let response = Request::post(&format!("{base}/api/login"))
            .json(&json!({"user": user, "password": password}))
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| format!("cannot reach {base}: {e}"))?;
        let body: JsonValue = response.json().await.map_err(|e| e.to_string())?;
        match body["token"].as_str() {
            Some(token) => Ok(Backend::Remote(Rc::new(Remote {
                base,
                user: user.to_string(),
                token: token.to_string(),
            }))),
            None => Err(error_text(&body["error"])),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Backend::Local(_) => "local (in this page)".into(),
            Backend::Remote(r) => format!("{} as {}", r.base, r.user),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Backend::Local(_))
    }

    /// Runs the statements of `sql` one by one, stopping at the first error.
    pub async fn run(&self, sql: &str) -> Outcome {
        match self {
            Backend::Local(db) => {
                let (results, error) = db.run_documents(sql);
                Outcome { results, error }
            }
            Backend::Remote(remote) => {
                match remote.post("/api/query", &json!({"sql": sql})).await {
                    Ok(body) => Outcome {
                        results: body["results"].as_array().cloned().unwrap_or_default(),
                        error: body.get("error").cloned(),
                    },
                    Err(error) => Outcome {
                        results: Vec::new(),
                        error: Some(error),
                    },
                }
            }
        }
    }

    /// Resolves once the local database has saved its changes (at once for a server).
    pub async fn saved(&self) -> Result<(), String> {
        match self {
            Backend::Local(db) => db.wait_persisted().await.map_err(|e| js_message(&e)),
            Backend::Remote(_) => Ok(()),
        }
    }

    /// Tables and views.
    pub async fn schema(&self) -> Result<JsonValue, String> {
        match self {
            Backend::Local(db) => Ok(db.schema_document()),
            Backend::Remote(remote) => remote.get("/api/schema").await.map_err(|e| error_text(&e)),
        }
    }

    /// A table's learned index: statistics and nodes.
    pub async fn index(&self, table: &str) -> Result<JsonValue, String> {
        match self {
            Backend::Local(db) => db.index_document(table).map_err(|e| error_text(&e)),
            Backend::Remote(remote) => {
                let path = format!("/api/tables/{}/index", js_sys::encode_uri_component(table));
                remote.get(&path).await.map_err(|e| error_text(&e))
            }
        }
    }
}

impl Remote {
    fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }

    async fn answer(
        &self,
        request: Result<Request, gloo_net::Error>,
    ) -> Result<JsonValue, JsonValue> {
        let request = request.map_err(|e| failure("08000", e.to_string()))?;
        let response = request
            .send()
            .await
            .map_err(|e| failure("08006", format!("cannot reach {}: {e}", self.base)))?;
        let status = response.status();
        let body: JsonValue = response.json().await.map_err(|e| {
            failure(
                "08P01",
                format!("the server answered {status} without JSON: {e}"),
            )
        })?;
        if (200..300).contains(&status) || body.get("results").is_some() {
            Ok(body)
        } else {
            Err(body
                .get("error")
                .cloned()
                .unwrap_or_else(|| failure("08P01", format!("HTTP {status}"))))
        }
    }

    async fn post(&self, path: &str, body: &JsonValue) -> Result<JsonValue, JsonValue> {
        let request = Request::post(&format!("{}{path}", self.base))
            .header("Authorization", &self.authorization())
            .json(body);
        self.answer(request).await
    }

    async fn get(&self, path: &str) -> Result<JsonValue, JsonValue> {
        let request = Request::get(&format!("{}{path}", self.base))
            .header("Authorization", &self.authorization())
            .build();
        self.answer(request).await
    }
}

/// `SQLSTATE: message` for an error document.
pub fn error_text(error: &JsonValue) -> String {
    match (error["sqlstate"].as_str(), error["message"].as_str()) {
        (Some(state), Some(message)) => format!("{state}: {message}"),
        _ => error.to_string(),
    }
}

/// The message of a JavaScript error value.
pub fn js_message(e: &wasm_bindgen::JsValue) -> String {
    js_sys::Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}
