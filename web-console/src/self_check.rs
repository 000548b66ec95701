use leptos::prelude::*;
use omendb_wasm::KvStore;

/// Rows written when the page's URL does not say otherwise (`?rows=N`).
const DEFAULT_ROWS: u32 = 1000;

/// What the self-check computed, or why it failed.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    backend: String,
    rows: u32,
    scanned: usize,
    in_order: bool,
    sum_of_values: u64,
}

/// Writes `rows` keys holding `i * i`, scans them back through the engine and sums the values.
fn run(rows: u32) -> Result<Outcome, String> {
    let err = |e: wasm_bindgen::JsError| format!("{:?}", wasm_bindgen::JsValue::from(e));
    let store = KvStore::new(None).map_err(err)?;
    for i in 0..rows {
        let square = u64::from(i) * u64::from(i);
        store
            .put(&format!("row{i:08}"), &square.to_string())
            .map_err(err)?;
    }
    let keys = store
        .keys(Some("row".into()), Some("rox".into()))
        .map_err(err)?;
    let in_order = keys.windows(2).all(|w| w[0] < w[1]);
    let mut sum_of_values = 0u64;
    for key in &keys {
        let value = store
            .get(key)
            .map_err(err)?
            .ok_or(format!("{key} vanished"))?;
        sum_of_values += value.parse::<u64>().map_err(|e| format!("{key}: {e}"))?;
    }
    Ok(Outcome {
        backend: store.backend(),
        rows,
        scanned: keys.len(),
        in_order,
        sum_of_values,
    })
}

/// `rows` from the page's query string, if present and valid.
fn rows_from_url() -> u32 {
    let search = window().location().search().unwrap_or_default();
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("rows=")?.parse().ok())
        .filter(|&rows: &u32| rows <= 100_000)
        .unwrap_or(DEFAULT_ROWS)
}

/// Runs the engine once on page load and shows what it computed.
#[component]
pub fn SelfCheck() -> impl IntoView {
    let outcome = run(rows_from_url());
    view! {
        <section id="self-check">
            <h2>"Engine self-check"</h2>
            {match outcome {
                Ok(o) => view! {
                    <p
                        class="ok"
                        data-rows=o.rows
                        data-scanned=o.scanned
                        data-sum=o.sum_of_values
                        data-in-order=o.in_order.to_string()
                    >
                        {format!(
                            "Wrote {} rows to {} storage, scanned {} back {}, sum of values {}.",
                            o.rows,
                            o.backend,
                            o.scanned,
                            if o.in_order { "in key order" } else { "OUT OF ORDER" },
                            o.sum_of_values,
                        )}
                    </p>
                }
                .into_any(),
                Err(message) => view! { <p class="error">{message}</p> }.into_any(),
            }}
        </section>
    }
}
