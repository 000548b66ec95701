use leptos::prelude::*;
use omendb_wasm::KvStore;
use wasm_bindgen::{JsError, JsValue};

#[derive(Debug, Clone, Copy)]
enum Action {
    Put,
    Get,
    Delete,
    List,
}

fn describe(e: JsError) -> String {
    format!("error: {:?}", JsValue::from(e))
}

fn apply(store: &KvStore, action: Action, key: &str, value: &str) -> Result<String, JsError> {
    Ok(match action {
        Action::Put => {
            store.put(key, value)?;
            format!("put {key:?}")
        }
        Action::Get => match store.get(key)? {
            Some(v) => format!("{key:?} = {v:?}"),
            None => format!("{key:?} is not there"),
        },
        Action::Delete => {
            store.delete(key)?;
            format!("deleted {key:?}")
        }
        Action::List => format!("keys: {}", store.keys(None, None)?.join(", ")),
    })
}

/// A key-value playground over one engine store that lives as long as the page.
#[component]
pub fn Playground() -> impl IntoView {
    let store = StoredValue::new_local(KvStore::new(None).map_err(describe));
    let (key, set_key) = signal(String::new());
    let (value, set_value) = signal(String::new());
    let (output, set_output) = signal(String::from("The store is empty."));

    let act = move |action: Action| {
        let message = store.with_value(|store| match store {
            Ok(store) => apply(store, action, &key.get(), &value.get()).unwrap_or_else(describe),
            Err(message) => message.clone(),
        });
        set_output.set(message);
    };

    view! {
        <section id="playground">
            <h2>"Key-value playground"</h2>
            <p class="hint">"SQL arrives with the query engine; until then, talk to storage directly."</p>
            <input id="kv-key" placeholder="key" prop:value=key
                on:input=move |ev| set_key.set(event_target_value(&ev)) />
            <input id="kv-value" placeholder="value" prop:value=value
                on:input=move |ev| set_value.set(event_target_value(&ev)) />
            <button id="kv-put" on:click=move |_| act(Action::Put)>"Put"</button>
            <button id="kv-get" on:click=move |_| act(Action::Get)>"Get"</button>
            <button id="kv-delete" on:click=move |_| act(Action::Delete)>"Delete"</button>
            <button id="kv-list" on:click=move |_| act(Action::List)>"List keys"</button>
            <pre id="kv-output">{output}</pre>
        </section>
    }
}
