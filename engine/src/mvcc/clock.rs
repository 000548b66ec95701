//! Timestamps, snapshots and group commit.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Whether `durable.failed` is set, readable without the lock (every transaction checks).
    failed: AtomicBool,
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
    /// Snapshot timestamps in use, ascending, with how many transactions read at each.
    /// Snapshots are taken at `visible`, which only grows, so a new one is always at the
    /// back; a queue (unlike a map) keeps its memory when it empties, so a transaction's
    /// begin and end allocate nothing.
    active: VecDeque<(u64, usize)>,
}

impl ClockState {
    fn acquire(&mut self, snapshot: u64) {
        match self.active.back_mut() {
            Some((newest, count)) if *newest == snapshot => *count += 1,
            _ => {
                debug_assert!(self.active.back().is_none_or(|(t, _)| *t < snapshot));
                self.active.push_back((snapshot, 1));
            }
        }
    }

    fn release(&mut self, snapshot: u64) {
        // Usually the oldest or the newest: look from the front, then bisect.
        let at = match self.active.front() {
            Some((oldest, _)) if *oldest == snapshot => Ok(0),
            _ => self.active.binary_search_by_key(&snapshot, |(t, _)| *t),
        };
        if let Ok(at) = at {
            self.active[at].1 -= 1;
            if self.active[at].1 == 0 {
                self.active.remove(at);
            }
        }
    }

    fn watermark(&self) -> u64 {
        self.active.front().map_or(self.visible, |(t, _)| *t)
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
            failed: AtomicBool::new(false),
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
        state.acquire(snapshot);
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
            state.acquire(fresh);
            state.release(snapshot);
        }
        fresh
    }

    /// Releases a snapshot taken by [`Clock::begin`]; the watermark after it (see
    /// [`Clock::watermark`]), read under the same lock.
    pub fn end(&self, snapshot: u64) -> u64 {
        let mut state = lock(&self.state);
        state.release(snapshot);
        state.watermark()
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
        lock(&self.state).watermark()
    }

    pub fn active_transactions(&self) -> usize {
        lock(&self.state)
            .active
            .iter()
            .map(|(_, count)| count)
            .sum()
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
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        match &lock(&self.durable).failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records that storage lost a write whose versions are already installed in memory:
    /// from now on nothing commits (as after a failed sync), so that no later commit can make
    /// them visible by publishing a newer timestamp. (Only an overlapped write, which
    /// WebAssembly builds never start, can fail that way.)
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub fn fail(&self, e: Error) {
        let mut durable = lock(&self.durable);
        durable.failed.get_or_insert(e);
        self.failed.store(true, Ordering::Release);
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
                Err(e) => {
                    durable.failed = Some(e);
                    self.failed.store(true, Ordering::Release);
                }
            }
            self.synced.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::Clock;

    #[derive(Debug, Clone)]
    enum Op {
        Begin,
        /// Commit and publish a new timestamp.
        Commit,
        /// Refresh or end the `n`th open snapshot (modulo how many are open).
        Refresh(usize),
        End(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Begin),
            2 => Just(Op::Commit),
            2 => any::<usize>().prop_map(Op::Refresh),
            3 => any::<usize>().prop_map(Op::End),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The snapshots in use, their count and the watermark (the oldest in use, else the
        /// newest visible commit) agree with a map from snapshot to readers, in any order of
        /// begins, commits, refreshes and ends.
        #[test]
        fn snapshots_are_counted_as_a_map_counts_them(ops in prop::collection::vec(op(), 1..300)) {
            let clock = Clock::new();
            let mut open: Vec<u64> = Vec::new();
            let mut model: BTreeMap<u64, usize> = BTreeMap::new();
            let mut visible = 0;
            let release = |model: &mut BTreeMap<u64, usize>, ts: u64| {
                let count = model.get_mut(&ts).expect("an open snapshot");
                *count -= 1;
                if *count == 0 {
                    model.remove(&ts);
                }
            };
            for op in ops {
                match op {
                    Op::Begin => {
                        let ts = clock.begin();
                        prop_assert_eq!(ts, visible);
                        open.push(ts);
                        *model.entry(ts).or_default() += 1;
                    }
                    Op::Commit => {
                        let ts = clock.next_commit();
                        clock.written(ts);
                        clock.publish(ts);
                        visible = ts;
                    }
                    Op::Refresh(n) if !open.is_empty() => {
                        let at = n % open.len();
                        let fresh = clock.refresh(open[at]);
                        prop_assert_eq!(fresh, visible);
                        release(&mut model, open[at]);
                        *model.entry(fresh).or_default() += 1;
                        open[at] = fresh;
                    }
                    Op::End(n) if !open.is_empty() => {
                        let ts = open.swap_remove(n % open.len());
                        release(&mut model, ts);
                        let expected = model.keys().next().copied().unwrap_or(visible);
                        prop_assert_eq!(clock.end(ts), expected);
                    }
                    Op::Refresh(_) | Op::End(_) => {}
                }
                prop_assert_eq!(clock.active_transactions(), open.len());
                prop_assert_eq!(
                    clock.watermark(),
                    model.keys().next().copied().unwrap_or(visible)
                );
            }
        }
    }
}
