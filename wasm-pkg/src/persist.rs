//! Saving databases in the browser's IndexedDB: one object store, `databases`, in an IndexedDB
//! database named `omendb`, holding each persisted database's latest export under its name.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbRequest, IdbTransaction, IdbTransactionMode};

const IDB_NAME: &str = "omendb";
const STORE: &str = "databases";

fn unavailable() -> JsValue {
    js_sys::Error::new("IndexedDB is not available here: `persist` needs a browser").into()
}

fn factory() -> Result<IdbFactory, JsValue> {
    Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or_else(unavailable)
}

/// Resolves with the request's result once it succeeds; rejects with its error.
fn request_done(request: &IdbRequest) -> JsFuture {
    let request = request.clone();
    JsFuture::from(Promise::new(&mut |resolve, reject| {
        let done = request.clone();
        request.set_onsuccess(Some(
            Closure::once_into_js(move || {
                let result = done.result().unwrap_or(JsValue::UNDEFINED);
                let _ = resolve.call1(&JsValue::NULL, &result);
            })
            .unchecked_ref(),
        ));
        let failed = request.clone();
        request.set_onerror(Some(
            Closure::once_into_js(move || {
                let error = failed
                    .error()
                    .ok()
                    .flatten()
                    .map_or_else(|| JsValue::from_str("IndexedDB request failed"), Into::into);
                let _ = reject.call1(&JsValue::NULL, &error);
            })
            .unchecked_ref(),
        ));
    }))
}

/// Resolves once the transaction has committed (its writes are on disk as far as the browser
/// promises); rejects when it aborts or fails.
fn transaction_done(transaction: &IdbTransaction) -> JsFuture {
    let transaction = transaction.clone();
    JsFuture::from(Promise::new(&mut |resolve, reject| {
        transaction.set_oncomplete(Some(
            Closure::once_into_js(move || {
                let _ = resolve.call0(&JsValue::NULL);
            })
            .unchecked_ref(),
        ));
        // `error` and then `abort` fire for one failure: the handler may run twice.
        let failed = Closure::<dyn FnMut()>::new(move || {
            let _ = reject.call1(
                &JsValue::NULL,
                &js_sys::Error::new("IndexedDB transaction failed").into(),
            );
        })
        .into_js_value();
        transaction.set_onerror(Some(failed.unchecked_ref()));
        transaction.set_onabort(Some(failed.unchecked_ref()));
    }))
}

async fn open() -> Result<IdbDatabase, JsValue> {
    let request = factory()?.open_with_u32(IDB_NAME, 1)?;
    let upgrading = request.clone();
    request.set_onupgradeneeded(Some(
        Closure::once_into_js(move || {
            if let Ok(db) = upgrading
                .result()
                .and_then(|db| db.dyn_into::<IdbDatabase>())
            {
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        })
        .unchecked_ref(),
    ));
    request_done(&request).await?.dyn_into::<IdbDatabase>()
}

/// The saved bytes of the database `name`, if it was ever saved.
pub async fn load(name: &str) -> Result<Option<Vec<u8>>, JsValue> {
    let db = open().await?;
    let transaction = db.transaction_with_str(STORE)?;
    let request = transaction
        .object_store(STORE)?
        .get(&JsValue::from_str(name))?;
    let value = request_done(&request).await?;
    db.close();
    Ok(value
        .dyn_into::<Uint8Array>()
        .ok()
        .map(|bytes| bytes.to_vec()))
}

/// Saves `bytes` as the database `name`, replacing what was there; returns once committed.
pub async fn save(name: &str, bytes: &[u8]) -> Result<(), JsValue> {
    let db = open().await?;
    let transaction = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
    transaction
        .object_store(STORE)?
        .put_with_key(&Uint8Array::from(bytes), &JsValue::from_str(name))?;
    let done = transaction_done(&transaction).await;
    db.close();
    done.map(|_| ())
}

/// Deletes the saved database `name` (nothing happens when there is none).
pub async fn forget(name: &str) -> Result<(), JsValue> {
    let db = open().await?;
    let transaction = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)?;
    transaction
        .object_store(STORE)?
        .delete(&JsValue::from_str(name))?;
    let done = transaction_done(&transaction).await;
    db.close();
    done.map(|_| ())
}
