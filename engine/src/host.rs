//! What the engine needs from the platform it runs on: the wall clock (`now()`, `'today'`) and
//! randomness (`random()`, `gen_random_uuid()`). Native builds use the operating system; a
//! WebAssembly host, which has neither, installs its own functions with [`set_host`] before
//! the first query that needs them — until then such queries fail with 0A000, never panic.

use std::sync::OnceLock;

use crate::{Error, Result};

/// The platform's clock and entropy source.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    /// Microseconds since the Unix epoch, UTC.
    pub now_micros: fn() -> i64,
    /// Fills the buffer with cryptographically secure random bytes.
    pub fill_random: fn(&mut [u8]),
}

static HOST: OnceLock<Host> = OnceLock::new();

/// Installs the host's functions; only the first call has an effect (returns whether it did).
pub fn set_host(host: Host) -> bool {
    HOST.set(host).is_ok()
}

fn host() -> Option<&'static Host> {
    HOST.get().or_else(|| {
        cfg_if::cfg_if! {
            if #[cfg(target_arch = "wasm32")] {
                None
            } else {
                Some(HOST.get_or_init(|| Host {
                    now_micros: system_now,
                    fill_random: system_random,
                }))
            }
        }
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn system_now() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn system_random(buffer: &mut [u8]) {
    // The OS entropy source failing leaves no secure fallback; it does not fail in practice.
    if getrandom::fill(buffer).is_err() {
        buffer.fill(0);
    }
}

fn missing(what: &str) -> Error {
    Error::NotSupported(format!(
        "{what}: this platform has no host {what} installed"
    ))
}

/// The current time, in microseconds since the Unix epoch.
pub fn now_micros() -> Result<i64> {
    host()
        .map(|h| (h.now_micros)())
        .ok_or_else(|| missing("clock"))
}

/// Random bytes.
pub fn fill_random(buffer: &mut [u8]) -> Result<()> {
    let host = host().ok_or_else(|| missing("random source"))?;
    (host.fill_random)(buffer);
    Ok(())
}
