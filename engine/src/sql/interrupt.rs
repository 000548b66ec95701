//! Stopping a running statement: a statement timeout, and cancellation from another thread
//! (the server's answer to a client's CancelRequest).
//!
//! The session arms a watch on the executing thread before each statement ([`watch`]); the
//! executor's loops call [`check`] once per row or step. A check costs one relaxed atomic load;
//! every 256th also reads the host clock against the deadline. Either way the statement fails
//! with 57014, and the transaction block it ran in is aborted as after any error.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{Error, Result, host};

/// Cancels the statement its session is running, from any thread.
#[derive(Debug, Clone, Default)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    /// Asks the running statement to stop; it fails with 57014 at its next check. A request
    /// made while no statement runs stops the next one (a request racing a statement's start
    /// must not be lost); a statement's end clears it.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The watch of this thread's statement. It stays in place between statements (disarmed), so
/// arming it again for the same session costs no reference counting.
struct Watch {
    cancel: Arc<AtomicBool>,
    armed: bool,
    /// The deadline on the host clock (microseconds), if there is a timeout.
    deadline: Option<i64>,
    checks: u32,
}

thread_local! {
    static WATCH: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Disarms the watch when the statement ends, and clears a cancellation it consumed.
#[derive(Debug)]
pub struct Armed(());

impl Drop for Armed {
    fn drop(&mut self) {
        WATCH.with(|w| {
            if let Some(watch) = w.borrow_mut().as_mut() {
                watch.cancel.store(false, Ordering::Relaxed);
                watch.armed = false;
            }
        });
    }
}

/// Arms the watch for one statement on this thread: `handle`'s cancellation, and `timeout`
/// from now (none without a host clock).
pub fn watch(handle: &CancelHandle, timeout: Option<Duration>) -> Armed {
    let deadline = timeout.and_then(|t| {
        let now = host::now_micros().ok()?;
        Some(now.saturating_add(i64::try_from(t.as_micros()).unwrap_or(i64::MAX)))
    });
    WATCH.with(|w| {
        let mut w = w.borrow_mut();
        match w.as_mut() {
            Some(watch) if Arc::ptr_eq(&watch.cancel, &handle.0) => {
                watch.armed = true;
                watch.deadline = deadline;
                watch.checks = 0;
            }
            _ => {
                *w = Some(Watch {
                    cancel: handle.0.clone(),
                    armed: true,
                    deadline,
                    checks: 0,
                });
            }
        }
    });
    Armed(())
}

/// Fails with 57014 if the running statement was cancelled or ran out of time.
pub fn check() -> Result<()> {
    WATCH.with(|w| {
        let mut watch = w.borrow_mut();
        let Some(watch) = watch.as_mut().filter(|w| w.armed) else {
            return Ok(());
        };
        if watch.cancel.load(Ordering::Relaxed) {
            return Err(Error::QueryCanceled(
                "canceling statement due to user request",
            ));
        }
        watch.checks = watch.checks.wrapping_add(1);
        if let Some(deadline) = watch.deadline {
            if watch.checks % 256 == 0 && host::now_micros().is_ok_and(|now| now >= deadline) {
                return Err(Error::QueryCanceled(
                    "canceling statement due to statement timeout",
                ));
            }
        }
        Ok(())
    })
}

/// The running statement's watch, for work it hands to other threads (the analytics engine's
/// workers), which check it per batch.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    cancel: Option<Arc<AtomicBool>>,
    deadline: Option<i64>,
}

/// The watch armed on this thread, if any.
pub fn remote() -> Remote {
    WATCH.with(|w| match w.borrow().as_ref().filter(|w| w.armed) {
        Some(watch) => Remote {
            cancel: Some(watch.cancel.clone()),
            deadline: watch.deadline,
        },
        None => Remote::default(),
    })
}

impl Remote {
    /// Fails with 57014 if the statement was cancelled or ran out of time.
    pub fn check(&self) -> Result<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::QueryCanceled(
                "canceling statement due to user request",
            ));
        }
        if let Some(deadline) = self.deadline {
            if host::now_micros().is_ok_and(|now| now >= deadline) {
                return Err(Error::QueryCanceled(
                    "canceling statement due to statement timeout",
                ));
            }
        }
        Ok(())
    }
}
