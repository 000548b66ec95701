//! Timestamps, snapshots and group commit.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use crate::storage::Storage;
use crate::sync::lock;
use crate::{Error, Result};

/// Hands out snapshot and commit timestamps from one counter and tracks which snapshots are in
/// use. Commit timestamps are taken under the database's commit lock, so they are installed in
/// order; `visible` is the newest commit that new snapshots see.
#[derive(Debug)]
pub(crate) struct Clock {
    state: Mutex<ClockState>,
    /// `state.visible`, readable without the lock (stored under it, after the state).
    visible: AtomicU64,
    durable: Mutex<Durable>,
    synced: Condvar,
    pub commits: AtomicU64,
    pub syncs: AtomicU64,
    pub conflicts: AtomicU64,
}

#[derive(Debug, Default)]
struct ClockState {
    /// The newest commit timestamp handed out.
    last: u64,
    /// The newest commit whose storage write completed.
    written: u64,
    /// The newest commit visible to new snapshots.
    visible: u64,
    /// Snapshot timestamp → number of transactions reading at it.
    active: BTreeMap<u64, usize>,
}

impl ClockState {
    fn release(&mut self, snapshot: u64) {
        if let Some(count) = self.active.get_mut(&snapshot) {
            *count -= 1;
            if *count == 0 {
                self.active.remove(&snapshot);
            }
        }
    }
}

#[derive(Debug, Default)]
struct Durable {
    /// Every commit at or below this is synced.
    upto: u64,
    /// A committer is syncing on behalf of everyone waiting.
    syncing: bool,
    /// A failed sync: storage can no longer promise durability, so nothing more commits.
    failed: Option<Error>,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(ClockState::default()),
            visible: AtomicU64::new(0),
            durable: Mutex::new(Durable::default()),
            synced: Condvar::new(),
            commits: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        }
    }

    /// Registers a new snapshot at the newest visible commit.
    pub fn begin(&self) -> u64 {
        let mut state = lock(&self.state);
        let snapshot = state.visible;
        *state.active.entry(snapshot).or_default() += 1;
        snapshot
    }

    /// Moves a snapshot taken by [`Clock::begin`] to the newest visible commit (no lock and no
    /// bookkeeping when nothing committed since, as in a read-only loop).
    pub fn refresh(&self, snapshot: u64) -> u64 {
        // A commit is acknowledged only after `publish` stored its timestamp here, so a
        // statement that starts after the acknowledgement finds it.
        if self.visible.load(Ordering::Acquire) == snapshot {
            return snapshot;
        }
        let mut state = lock(&self.state);
        let fresh = state.visible;
        if fresh != snapshot {
            *state.active.entry(fresh).or_default() += 1;
            state.release(snapshot);
        }
        fresh
    }

    /// Releases a snapshot taken by [`Clock::begin`].
    pub fn end(&self, snapshot: u64) {
        lock(&self.state).release(snapshot);
    }

    /// The next commit timestamp. Callers hold the commit lock.
    pub fn next_commit(&self) -> u64 {
        let mut state = lock(&self.state);
        state.last += 1;
        state.last
    }

    /// Records that commit `ts` is in storage (not necessarily synced).
    pub fn written(&self, ts: u64) {
        let mut state = lock(&self.state);
        state.written = state.written.max(ts);
    }

    /// Makes commit `ts`, and every earlier one, visible to new snapshots.
    pub fn publish(&self, ts: u64) {
        let mut state = lock(&self.state);
        state.visible = state.visible.max(ts);
        self.visible.store(state.visible, Ordering::Release);
    }

    /// The oldest timestamp any current or future snapshot can read at: versions superseded
    /// at or before it are garbage.
    pub fn watermark(&self) -> u64 {
        let state = lock(&self.state);
        state.active.keys().next().copied().unwrap_or(state.visible)
    }

    pub fn active_transactions(&self) -> usize {
        lock(&self.state).active.values().sum()
    }

    pub fn last_commit(&self) -> u64 {
        lock(&self.state).last
    }

    /// The newest commit whose storage write completed.
    pub fn last_written(&self) -> u64 {
        lock(&self.state).written
    }

    /// The newest commit known to be durable (synced).
    pub fn last_durable(&self) -> u64 {
        lock(&self.durable).upto
    }

    /// Fails if an earlier sync failed: after that, acknowledging a commit would be a lie.
    pub fn check_healthy(&self) -> Result<()> {
        match &lock(&self.durable).failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Returns once commit `ts` (already written) is durable. Concurrent callers share syncs:
    /// whoever finds no sync running becomes the leader and syncs everything written so far;
    /// the others wait for it and return together.
    pub fn wait_durable(&self, ts: u64, storage: &dyn Storage) -> Result<()> {
        let mut durable = lock(&self.durable);
        loop {
            if let Some(e) = &durable.failed {
                return Err(e.clone());
            }
            if durable.upto >= ts {
                return Ok(());
            }
            if durable.syncing {
                durable = self
                    .synced
                    .wait(durable)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            durable.syncing = true;
            drop(durable);
            let target = lock(&self.state).written;
            let result = storage.sync();
            self.syncs.fetch_add(1, Ordering::Relaxed);
            durable = lock(&self.durable);
            durable.syncing = false;
            match result {
                Ok(()) => durable.upto = durable.upto.max(target),
                Err(e) => durable.failed = Some(e),
            }
            self.synced.notify_all();
        }
    }
}
