//! OmenDB's web console: a client-side Leptos app that runs the engine in the page (wasm).
//!
//! This is the console's shell. The SQL editor, the remote backend and the ALEX visualiser arrive
//! with issue #7; today the page proves the engine works in the browser: a self-check writes and
//! scans rows through the engine's storage, and a small key-value playground talks to it.

mod playground;
mod self_check;

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    view! {
        <header>
            <h1>"OmenDB console"</h1>
            <p class="subtitle">
                "engine " {omendb_wasm::engine_version()} " · running locally in WebAssembly"
            </p>
        </header>
        <main>
            <self_check::SelfCheck />
            <playground::Playground />
        </main>
    }
}
