//! Connection limits and graceful shutdown.
//!
//! Every pgwire connection counts against `--max-connections`; one over the limit is refused
//! at startup with PostgreSQL's 53300. Every statement registers while it runs, with the
//! handle that cancels it.
//!
//! Shutdown (SIGINT/SIGTERM) stops accepting connections, refuses new statements with
//! 57P01 ("terminating connection due to administrator command"), lets running statements
//! finish for `--shutdown-grace`, cancels those still running, and then the server syncs
//! and closes storage. Open transactions are never committed by a shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use omendb_engine::sql::interrupt::CancelHandle;
use tokio::sync::Notify;

#[derive(Debug)]
pub struct Lifecycle {
    max_connections: usize,
    connections: AtomicUsize,
    closing: AtomicBool,
    next_statement: AtomicU64,
    /// Running statements and what cancels them.
    running: Mutex<HashMap<u64, CancelHandle>>,
    /// Notified whenever a statement ends.
    ended: Notify,
    /// Counters for /metrics.
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
}

/// A connection slot: released when dropped.
#[derive(Debug)]
pub struct Slot(Arc<Lifecycle>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A running statement: unregistered when dropped.
#[derive(Debug)]
pub struct Running<'a> {
    lifecycle: &'a Lifecycle,
    id: u64,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut running = self
            .lifecycle
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        running.remove(&self.id);
        drop(running);
        self.lifecycle.ended.notify_waiters();
    }
}

impl Lifecycle {
    pub fn new(max_connections: usize) -> Self {
        Self {
            max_connections,
            connections: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            next_statement: AtomicU64::new(0),
            running: Mutex::new(HashMap::new()),
            ended: Notify::new(),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// A slot for a new connection, or `None` when `--max-connections` are open.
    pub fn connect(self: &Arc<Self>) -> Option<Slot> {
        let taken = self
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            })
            .is_ok();
        if taken {
            self.accepted.fetch_add(1, Ordering::Relaxed);
            Some(Slot(self.clone()))
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::Acquire)
    }

    /// Registers a statement about to run; `None` once shutdown began.
    pub fn start_statement(&self, cancel: &CancelHandle) -> Option<Running<'_>> {
        if self.closing.load(Ordering::Acquire) {
            return None;
        }
        let id = self.next_statement.fetch_add(1, Ordering::Relaxed);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, cancel.clone());
        Some(Running {
            lifecycle: self,
            id,
        })
    }

    fn running_count(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits until no statement runs.
    async fn drained(&self) {
        loop {
            let ended = self.ended.notified();
            tokio::pin!(ended);
            // Registered before the check, so an end between the two is not missed.
            ended.as_mut().enable();
            if self.running_count() == 0 {
                return;
            }
            ended.await;
        }
    }

    /// Shutdown: refuses new statements, waits `grace` for running ones, then cancels the
    /// rest and waits for them to stop (the engine checks for cancellation as it goes).
    pub async fn shut_down(&self, grace: Duration) {
        self.closing.store(true, Ordering::Release);
        if tokio::time::timeout(grace, self.drained()).await.is_ok() {
            return;
        }
        let running: Vec<CancelHandle> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        tracing::warn!(
            statements = running.len(),
            "cancelling statements still running after the shutdown grace period"
        );
        for handle in running {
            handle.cancel();
        }
        self.drained().await;
    }
}
