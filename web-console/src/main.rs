//! OmenDB's web console: a client-side Leptos app. Statements run either in the page, on the
//! engine compiled to WebAssembly and saved to IndexedDB, or on an OmenDB server through its HTTP
//! API ([`backend`]); the editor, result grids, schema browser, sample datasets and the ALEX
//! visualiser work the same with either.

mod backend;
mod highlight;
mod history;
mod results;
mod samples;
mod visualiser;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::Value as JsonValue;
use wasm_bindgen::JsCast;

use backend::Backend;

fn main() {
    console_error_panic_hook::set_once();
    register_service_worker();
    leptos::mount::mount_to_body(App);
}

/// Lets the console load offline once it has been loaded (see `static/sw.js`).
fn register_service_worker() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let protocol = window.location().protocol().unwrap_or_default();
    let has_workers =
        js_sys::Reflect::has(&window.navigator(), &"serviceWorker".into()).unwrap_or(false);
    if has_workers && (protocol == "http:" || protocol == "https:") {
        let _ = window.navigator().service_worker().register("sw.js");
    }
}

/// What the last run showed.
#[derive(Debug, Clone, Default)]
struct Shown {
    results: Vec<JsonValue>,
    error: Option<JsonValue>,
    /// The error's character index in the editor, when it has a position.
    error_at: Option<usize>,
    /// Bumped per run, so identical results still redraw.
    run: u64,
}

/// The console's state, shared by its parts.
#[derive(Clone, Copy)]
struct Console {
    backend: RwSignal<Option<Backend>, LocalStorage>,
    local: StoredValue<Option<Backend>, LocalStorage>,
    sql: RwSignal<String>,
    shown: RwSignal<Shown>,
    running: RwSignal<bool>,
    /// Bumped after every change a run may have made: the schema and the visualiser reload.
    refresh: RwSignal<u64>,
    /// The current backend's schema, reloaded after every refresh; the schema browser and the
    /// visualiser both read it.
    schema: RwSignal<Option<Result<JsonValue, String>>>,
    history: RwSignal<Vec<String>>,
    history_at: RwSignal<Option<usize>>,
    status: RwSignal<String>,
}

impl Console {
    /// Runs `sql` (which starts `offset` characters into the editor) on the current backend.
    fn run(self, sql: String, offset: usize) {
        let Some(backend) = self.backend.get_untracked() else {
            return;
        };
        if sql.trim().is_empty() || self.running.get_untracked() {
            return;
        }
        self.history.update(|h| {
            *h = history::push(std::mem::take(h), &sql);
            history::save(h);
        });
        self.history_at.set(None);
        self.running.set(true);
        spawn_local(async move {
            let outcome = backend.run(&sql).await;
            let error_at = outcome
                .error
                .as_ref()
                .and_then(|e| e["position"].as_u64())
                .map(|p| offset + (p as usize).saturating_sub(1));
            self.shown.update(|s| {
                *s = Shown {
                    results: outcome.results,
                    error: outcome.error,
                    error_at,
                    run: s.run + 1,
                }
            });
            self.running.set(false);
            self.refresh.update(|r| *r += 1);
            self.settle(&backend).await;
        });
    }

    /// Waits for the local database to save its changes, and says so.
    async fn settle(self, backend: &Backend) {
        if backend.is_local() {
            self.status.set("saving…".into());
            match backend.saved().await {
                Ok(()) => self.status.set("saved in this browser".into()),
                Err(e) => self.status.set(format!("not saved: {e}")),
            }
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let console = Console {
        backend: RwSignal::new_local(None),
        local: StoredValue::new_local(None),
        sql: RwSignal::new(String::from(
            "CREATE TABLE IF NOT EXISTS notes (id BIGINT PRIMARY KEY, body TEXT);\nSELECT * FROM notes;",
        )),
        shown: RwSignal::new(Shown::default()),
        running: RwSignal::new(false),
        refresh: RwSignal::new(0),
        schema: RwSignal::new(None),
        history: RwSignal::new(history::load()),
        history_at: RwSignal::new(None),
        status: RwSignal::new("opening the local database…".into()),
    };
    provide_context(console);
    reload(
        console,
        console.schema,
        || None,
        |backend, _| Box::pin(async move { backend.schema().await }),
    );
    spawn_local(async move {
        match Backend::local().await {
            Ok(local) => {
                console.local.set_value(Some(local.clone()));
                console.backend.set(Some(local));
                console.status.set("ready".into());
            }
            Err(e) => console
                .status
                .set(format!("cannot open the local database: {e}")),
        }
    });
    view! {
        <header>
            <h1>"OmenDB console"</h1>
            <p class="subtitle">"engine " {omendb_wasm::engine_version()}</p>
            <ModeBar />
        </header>
        <main>
            <div class="workspace">
                <section id="query">
                    <Editor />
                    <Results />
                </section>
                <aside>
                    <SchemaBrowser />
                    <Samples />
                    <History />
                </aside>
            </div>
            <Visualiser />
        </main>
    }
}

/// The local/remote switch, the remote login, and what the console is connected to.
#[component]
fn ModeBar() -> impl IntoView {
    let c = expect_context::<Console>();
    let (remote_form, set_remote_form) = signal(false);
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    let url = RwSignal::new(origin);
    let user = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let login_error = RwSignal::new(String::new());
    let is_local = move || c.backend.with(|b| b.as_ref().is_none_or(Backend::is_local));
    let use_local = move |_| {
        set_remote_form.set(false);
        if let Some(local) = c.local.get_value() {
            c.backend.set(Some(local));
            c.refresh.update(|r| *r += 1);
        }
    };
    let log_in = move || {
        login_error.set("logging in…".into());
        spawn_local(async move {
            match Backend::login(
                &url.get_untracked(),
                &user.get_untracked(),
                &password.get_untracked(),
            )
            .await
            {
                Ok(remote) => {
                    login_error.set(String::new());
                    set_remote_form.set(false);
                    password.set(String::new());
                    c.backend.set(Some(remote));
                    c.refresh.update(|r| *r += 1);
                }
                Err(e) => login_error.set(e),
            }
        });
    };
    view! {
        <div class="modebar">
            <div class="switch" role="group" aria-label="where statements run">
                <button id="mode-local" class:active=is_local on:click=use_local>"Local (in browser)"</button>
                <button id="mode-remote" class:active=move || !is_local()
                    on:click=move |_| set_remote_form.set(true)>"Server"</button>
            </div>
            <span id="backend-label">{move || c.backend.with(|b| b.as_ref().map(Backend::label).unwrap_or_default())}</span>
            <span id="status">{move || c.status.get()}</span>
            <form id="login" class:hidden=move || !remote_form.get()
                on:submit=move |ev| { ev.prevent_default(); log_in(); }>
                <input id="remote-url" placeholder="http://host:8080" prop:value=url
                    on:input=move |ev| url.set(event_target_value(&ev)) />
                <input id="remote-user" placeholder="user" autocomplete="username" prop:value=user
                    on:input=move |ev| user.set(event_target_value(&ev)) />
                <input id="remote-password" type="password" placeholder="password" autocomplete="current-password"
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <button id="remote-login" type="submit">"Log in"</button>
                <span id="login-error" class="error">{move || login_error.get()}</span>
            </form>
        </div>
    }
}

/// UTF-16 offsets (what text areas count) to characters.
fn chars_in_utf16(text: &str, units: u32) -> usize {
    let mut seen = 0u32;
    text.chars()
        .take_while(|c| {
            seen += c.len_utf16() as u32;
            seen <= units
        })
        .count()
}

/// The SQL editor: highlighted text under a transparent text area; Ctrl/Cmd+Enter runs the
/// selection or everything, Ctrl/Cmd+↑/↓ walks the history.
#[component]
fn Editor() -> impl IntoView {
    let c = expect_context::<Console>();
    let area: NodeRef<leptos::html::Textarea> = NodeRef::new();
    let highlight_ref: NodeRef<leptos::html::Pre> = NodeRef::new();
    let run = move || {
        let Some(area) = area.get_untracked() else {
            return;
        };
        let text = area.value();
        let start = area.selection_start().ok().flatten().unwrap_or(0);
        let end = area.selection_end().ok().flatten().unwrap_or(0);
        let (from, to) = (chars_in_utf16(&text, start), chars_in_utf16(&text, end));
        if to > from {
            let selected: String = text.chars().skip(from).take(to - from).collect();
            c.run(selected, from);
        } else {
            c.run(text, 0);
        }
    };
    let recall = move |older: bool| {
        let len = c.history.with_untracked(Vec::len);
        let at = history::step(c.history_at.get_untracked(), len, older);
        c.history_at.set(at);
        if let Some(i) = at {
            c.sql.set(c.history.with_untracked(|h| h[i].clone()));
        }
    };
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let modifier = ev.ctrl_key() || ev.meta_key();
        match ev.key().as_str() {
            "Enter" if modifier => {
                ev.prevent_default();
                run();
            }
            "ArrowUp" if modifier => {
                ev.prevent_default();
                recall(true);
            }
            "ArrowDown" if modifier => {
                ev.prevent_default();
                recall(false);
            }
            _ => {}
        }
    };
    let sync_scroll = move |_| {
        if let (Some(area), Some(pre)) = (area.get_untracked(), highlight_ref.get_untracked()) {
            pre.set_scroll_top(area.scroll_top());
            pre.set_scroll_left(area.scroll_left());
        }
    };
    view! {
        <div class="editor">
            <pre class="highlight" aria-hidden="true" node_ref=highlight_ref
                inner_html=move || highlight::highlight(&c.sql.get(), c.shown.with(|s| s.error_at))></pre>
            <textarea id="sql" node_ref=area spellcheck="false" autocapitalize="off"
                prop:value=move || c.sql.get()
                on:input=move |ev| {
                    c.sql.set(event_target_value(&ev));
                    c.shown.update(|s| s.error_at = None);
                }
                on:keydown=on_key on:scroll=sync_scroll></textarea>
        </div>
        <div class="actions">
            <button id="run" on:click=move |_| run() disabled=move || c.running.get() || c.backend.with(Option::is_none)>
                {move || if c.running.get() { "Running…" } else { "Run (Ctrl+Enter)" }}
            </button>
            <span class="hint">"Select text to run just that; Ctrl+↑/↓ recalls history."</span>
        </div>
    }
}

/// One grid per statement, and the error that stopped the run.
#[component]
fn Results() -> impl IntoView {
    let c = expect_context::<Console>();
    view! {
        <div id="results">
            {move || {
                let shown = c.shown.get();
                let grids = shown.results.into_iter().enumerate()
                    .map(|(i, doc)| view! { <results::ResultView index=i doc=doc /> })
                    .collect_view();
                let error = shown.error.map(|e| {
                    let position = e["position"].as_u64().map(|p| format!(" (at character {p})"));
                    let detail = e["detail"].as_str().map(|d| d.to_string());
                    view! {
                        <div id="error" class="error">
                            <span id="sqlstate" class="sqlstate">{e["sqlstate"].as_str().unwrap_or("?").to_string()}</span>
                            " " <span class="message">{e["message"].as_str().unwrap_or_default().to_string()}</span>
                            {position}
                            {detail.map(|d| view! { <div class="detail">{d}</div> })}
                        </div>
                    }
                });
                view! { {grids} {error} }
            }}
        </div>
    }
}

/// Loads `doc` for the current backend whenever it or `refresh` changes.
fn reload<T, F>(c: Console, target: RwSignal<Option<Result<JsonValue, String>>>, key: T, fetch: F)
where
    T: Fn() -> Option<String> + 'static,
    F: Fn(
            Backend,
            Option<String>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsonValue, String>>>>
        + Copy
        + 'static,
{
    Effect::new(move |_| {
        c.refresh.track();
        let backend = c.backend.get();
        let key = key();
        if let Some(backend) = backend {
            spawn_local(async move {
                target.set(Some(fetch(backend, key).await));
            });
        }
    });
}

#[component]
fn SchemaBrowser() -> impl IntoView {
    let c = expect_context::<Console>();
    let schema = c.schema;
    view! {
        <section id="schema">
            <h2>"Schema"</h2>
            {move || match schema.get() {
                None => view! { <p class="hint">"loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error">{e}</p> }.into_any(),
                Some(Ok(doc)) => schema_view(&doc).into_any(),
            }}
        </section>
    }
}

fn schema_view(doc: &JsonValue) -> impl IntoView + use<> {
    let tables = doc["tables"].as_array().cloned().unwrap_or_default();
    let views = doc["views"].as_array().cloned().unwrap_or_default();
    let empty = tables.is_empty() && views.is_empty();
    let tables = tables
        .into_iter()
        .map(|t| {
            let name = t["name"].as_str().unwrap_or_default().to_string();
            let pk: Vec<String> = t["primary_key"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(String::from))
                .collect();
            let columns = t["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|col| {
                    let cname = col["name"].as_str().unwrap_or_default().to_string();
                    let key = pk.contains(&cname).then(|| view! { " " <span class="pk">"PK"</span> });
                    let null = (col["nullable"] == false).then_some(" not null");
                    view! {
                        <li class="column"><span class="cname">{cname}</span>" "
                            <span class="ctype">{col["type"].as_str().unwrap_or_default().to_string()}</span>
                            <span class="cnull">{null}</span>{key}</li>
                    }
                })
                .collect_view();
            let indexes = t["indexes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    let cols: Vec<&str> = i["columns"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
                    let unique = if i["unique"] == true { "unique " } else { "" };
                    view! { <li class="index">{format!("{unique}index {} ({})", i["name"].as_str().unwrap_or_default(), cols.join(", "))}</li> }
                })
                .collect_view();
            view! {
                <details class="table" open=true>
                    <summary>{name}</summary>
                    <ul>{columns}{indexes}<li class="index">{format!("primary key: alex ({})", pk.join(", "))}</li></ul>
                </details>
            }
        })
        .collect_view();
    let views = views
        .into_iter()
        .map(|v| view! { <details class="view"><summary>{format!("view {}", v["name"].as_str().unwrap_or_default())}</summary><pre>{v["query"].as_str().unwrap_or_default().to_string()}</pre></details> })
        .collect_view();
    view! {
        {empty.then(|| view! { <p class="hint">"No tables yet."</p> })}
        {tables}
        {views}
    }
}

/// Waits for the browser's next turn, so the page can paint between batches.
async fn next_turn() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback(&resolve);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[component]
fn Samples() -> impl IntoView {
    let c = expect_context::<Console>();
    let progress = RwSignal::new(None::<(String, u64)>);
    let load = move |sample: samples::Sample| {
        let Some(backend) = c.backend.get_untracked() else {
            return;
        };
        if progress.get_untracked().is_some() {
            return;
        }
        progress.set(Some((sample.label.to_string(), 0)));
        spawn_local(async move {
            let mut failed = backend.run(&sample.create()).await.error;
            let mut done = 0;
            while failed.is_none() && done < samples::ROWS {
                let to = (done + samples::BATCH).min(samples::ROWS);
                failed = backend.run(&sample.batch(done + 1, to)).await.error;
                done = to;
                progress.set(Some((sample.label.to_string(), done)));
                c.refresh.update(|r| *r += 1);
                next_turn().await;
            }
            let message = match failed {
                Some(e) => format!(
                    "loading {} failed: {}",
                    sample.table,
                    backend::error_text(&e)
                ),
                None => format!("loaded {} rows into {}", samples::ROWS, sample.table),
            };
            progress.set(None);
            c.refresh.update(|r| *r += 1);
            c.settle(&backend).await;
            c.status.set(message);
        });
    };
    let buttons = samples::SAMPLES
        .iter()
        .map(|&s| {
            view! {
                <button id=format!("sample-{}", s.table) disabled=move || progress.with(Option::is_some)
                    on:click=move |_| load(s)>{format!("100K {}", s.label)}</button>
            }
        })
        .collect_view();
    view! {
        <section id="samples">
            <h2>"Sample data"</h2>
            <div class="buttons">{buttons}</div>
            {move || progress.get().map(|(label, done)| view! {
                <div class="progress">
                    <progress id="sample-progress" max=samples::ROWS value=done></progress>
                    <span>{format!("{label}: {done} of {} rows", samples::ROWS)}</span>
                </div>
            })}
        </section>
    }
}

#[component]
fn History() -> impl IntoView {
    let c = expect_context::<Console>();
    view! {
        <section id="history">
            <h2>"History"</h2>
            <ol reversed=true>
                {move || c.history.get().into_iter().enumerate().rev().take(30).map(|(i, sql)| {
                    let text = sql.clone();
                    view! { <li><button class="recall" title="put back in the editor"
                        on:click=move |_| { c.sql.set(text.clone()); c.history_at.set(Some(i)); }>{sql}</button></li> }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// The single integer primary-key column of a table, if it has one (the visualiser can insert
/// and delete random keys there).
fn integer_key(schema: &JsonValue, table: &str) -> Option<String> {
    let t = schema["tables"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == table)?;
    let pk = t["primary_key"].as_array()?;
    let [pk] = pk.as_slice() else {
        return None;
    };
    let pk = pk.as_str()?;
    let column = t["columns"].as_array()?.iter().find(|c| c["name"] == pk)?;
    matches!(column["type"].as_str()?, "bigint" | "integer" | "smallint").then(|| pk.to_string())
}

#[component]
fn Visualiser() -> impl IntoView {
    let c = expect_context::<Console>();
    let schema = c.schema;
    let table = RwSignal::new(None::<String>);
    let column = RwSignal::new(None::<usize>);
    let index = RwSignal::new(None);
    reload(
        c,
        index,
        move || table.get(),
        |backend, table| {
            Box::pin(async move {
                match table {
                    Some(t) => backend.index(&t).await,
                    None => Err("Choose a table.".into()),
                }
            })
        },
    );
    let tables = move || -> Vec<String> {
        schema.with(|s| match s {
            Some(Ok(doc)) => doc["tables"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        })
    };
    // Follow the first table until the user picks one; forget a table that is gone.
    Effect::new(move |_| {
        let names = tables();
        let current = table.get_untracked();
        if current.as_ref().is_none_or(|t| !names.contains(t)) && !names.is_empty() {
            table.set(names.first().cloned());
        } else if names.is_empty() && current.is_some() {
            table.set(None);
        }
    });
    let change_keys = move |insert: bool| {
        let (Some(t), Some(Ok(doc))) = (table.get_untracked(), schema.get_untracked()) else {
            return;
        };
        let Some(pk) = integer_key(&doc, &t) else {
            c.status
                .set(format!("{t} has no single integer key to insert into"));
            return;
        };
        let span = index.with_untracked(|i| match i {
            Some(Ok(i)) => {
                let root = &i["nodes"][0];
                let lo = root["min_key"].as_i64().unwrap_or(0);
                let hi = root["max_key"].as_i64().unwrap_or(1_000_000);
                (lo, (hi - lo).max(1_000))
            }
            _ => (0, 1_000_000),
        });
        let sql = if insert {
            format!(
                "INSERT INTO {t} ({pk}) SELECT {lo} + floor(random() * {range})::bigint FROM generate_series(1, 1000) ON CONFLICT DO NOTHING",
                lo = span.0,
                range = span.1
            )
        } else {
            format!(
                "DELETE FROM {t} WHERE {pk} IN (SELECT {pk} FROM {t} ORDER BY random() LIMIT 1000)"
            )
        };
        c.sql.set(sql.clone());
        c.run(sql, 0);
    };
    let on_click = move |ev: web_sys::MouseEvent| {
        let picked = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("[data-column]").ok().flatten())
            .and_then(|g| g.get_attribute("data-column"))
            .and_then(|v| v.parse().ok());
        if picked.is_some() {
            column.set(picked);
        }
    };
    let stat = move |name: &'static str| {
        move || {
            index.with(|i| match i {
                Some(Ok(doc)) => {
                    let v = &doc["stats"][name];
                    match v.as_f64() {
                        Some(f) if v.is_f64() => format!("{f:.2}"),
                        _ => v.to_string(),
                    }
                }
                _ => "–".into(),
            })
        }
    };
    view! {
        <section id="visualiser">
            <h2>"ALEX learned index"</h2>
            <div class="viz-controls">
                <label>"table "
                    <select id="viz-table" on:change=move |ev| { table.set(Some(event_target_value(&ev))); column.set(None); }>
                        {move || {
                            let current = table.get();
                            tables().into_iter().map(|t| {
                                let selected = current.as_deref() == Some(t.as_str());
                                view! { <option value=t.clone() selected=selected>{t.clone()}</option> }
                            }).collect_view()
                        }}
                    </select>
                </label>
                <button id="viz-insert" on:click=move |_| change_keys(true)>"Insert 1,000 random keys"</button>
                <button id="viz-delete" on:click=move |_| change_keys(false)>"Delete 1,000 keys"</button>
            </div>
            <dl class="counters">
                <div><dt>"keys"</dt><dd id="viz-keys">{stat("keys")}</dd></div>
                <div><dt>"depth"</dt><dd id="viz-depth">{stat("depth")}</dd></div>
                <div><dt>"inner nodes"</dt><dd id="viz-inner-nodes">{stat("inner_nodes")}</dd></div>
                <div><dt>"data nodes"</dt><dd id="viz-data-nodes">{stat("data_nodes")}</dd></div>
                <div><dt>"density"</dt><dd id="viz-density">{stat("avg_density")}</dd></div>
                <div><dt>"model error (mean / max)"</dt><dd id="viz-error">{stat("model_error_mean")}" / "{stat("model_error_max")}</dd></div>
                <div><dt>"expansions"</dt><dd id="viz-expansions">{stat("expansions")}</dd></div>
                <div><dt>"splits (sideways / down)"</dt><dd id="viz-splits">{stat("splits_sideways")}" / "{stat("splits_down")}</dd></div>
                <div><dt>"index memory (bytes)"</dt><dd id="viz-memory">{stat("memory_bytes")}</dd></div>
            </dl>
            {move || index.with(|i| match i {
                Some(Err(e)) => view! { <p class="hint">{e.clone()}</p> }.into_any(),
                None => view! { <p class="hint">"Load a sample dataset or create a table."</p> }.into_any(),
                Some(Ok(doc)) => {
                    let per = visualiser::group_size(visualiser::data_nodes(doc).len());
                    let note = (per > 1).then(|| format!("Each column aggregates {per} neighbouring data nodes."));
                    view! {
                        <p class="hint">"Inner nodes by level above; data nodes below: fill by slot range (gaps are pale), model line over sampled keys. Click a node for detail. " {note}</p>
                        <div id="viz" on:click=on_click inner_html=visualiser::render(doc, column.get())></div>
                        <div id="viz-detail" inner_html=column.get().and_then(|col| visualiser::render_detail(doc, col)).unwrap_or_default()></div>
                    }.into_any()
                }
            })}
        </section>
    }
}
