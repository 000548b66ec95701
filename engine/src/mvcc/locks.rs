//! Row locks: a transaction that updates or deletes a row holds its lock until it ends, and a
//! second writer of that row waits for it — as in PostgreSQL, where the waiter then either
//! re-reads the row (READ COMMITTED) or fails with 40001 (REPEATABLE READ) if the first one
//! committed a new version.
//!
//! Waiting is what makes READ COMMITTED usable for counters and balances: without it, two
//! concurrent `UPDATE … SET n = n + 1` could only detect the conflict at commit and fail.
//! A cycle of waiters is a deadlock: the transaction that would close it fails at once with
//! 40P01. Waits check for cancellation and the statement timeout every few milliseconds.
//!
//! Locks are held in one map behind one mutex; a wait sleeps on a condition variable that
//! every release notifies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

use crate::catalog::ObjectId;
use crate::sync::lock;
use crate::table::RowKey;
use crate::{Error, Result};

/// A transaction's identity for locking.
pub(crate) type Owner = u64;

#[derive(Debug, Default)]
pub(crate) struct RowLocks {
    state: Mutex<LockState>,
    /// The last owner identity handed out (every transaction takes one: no lock for that).
    last_owner: AtomicU64,
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    released: Condvar,
}

#[derive(Debug, Default)]
struct LockState {
    held: HashMap<(ObjectId, RowKey), Owner>,
    /// Who waits for whom (each waiter waits for one holder).
    waiting: HashMap<Owner, Owner>,
}

impl RowLocks {
    /// A new owner identity.
    pub fn owner(&self) -> Owner {
        self.last_owner.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Takes the lock on `key` of `table` for `owner`, waiting while another holds it — or,
    /// unless `wait`, failing with [`Error::WouldWait`]. Returns whether it was newly taken
    /// (false: `owner` held it already). `interrupt` is called while waiting; its error ends
    /// the wait.
    pub fn acquire(
        &self,
        owner: Owner,
        table: ObjectId,
        key: &RowKey,
        wait: bool,
        interrupt: impl Fn() -> Result<()>,
    ) -> Result<bool> {
        let slot = (table, key.clone());
        let mut state = lock(&self.state);
        loop {
            let holder = match state.held.get(&slot) {
                None => {
                    state.held.insert(slot, owner);
                    return Ok(true);
                }
                Some(&holder) if holder == owner => return Ok(false),
                Some(_) if !wait => return Err(Error::WouldWait),
                Some(&holder) => holder,
            };
            // Waiting for `holder` closes a cycle if `holder` (transitively) waits for us.
            let mut next = holder;
            while let Some(&after) = state.waiting.get(&next) {
                if after == owner {
                    return Err(Error::Deadlock);
                }
                next = after;
            }
            #[cfg(target_arch = "wasm32")]
            {
                // One thread: the holder cannot finish while this waits.
                let _ = &interrupt;
                return Err(Error::LockNotAvailable);
            }
            #[cfg(not(target_arch = "wasm32"))]
            {
                state.waiting.insert(owner, holder);
                let (guard, _) = self
                    .released
                    .wait_timeout(state, std::time::Duration::from_millis(20))
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                state = guard;
                state.waiting.remove(&owner);
                interrupt()?;
            }
        }
    }

    /// Releases `keys` (locks `owner` took) and wakes the waiters, if any waits for `owner`.
    /// (A notification is a system call even with no one waiting: a tenth of a one-row
    /// write transaction's own time. A waiter registers under the mutex before it sleeps, so
    /// one that is not registered yet will find the lock free.)
    pub fn release(&self, owner: Owner, keys: &[(ObjectId, RowKey)]) {
        if keys.is_empty() {
            return;
        }
        let mut state = lock(&self.state);
        for slot in keys {
            if state.held.get(slot) == Some(&owner) {
                state.held.remove(slot);
            }
        }
        let waited_for = state.waiting.values().any(|&holder| holder == owner);
        drop(state);
        if waited_for {
            self.released.notify_all();
        }
    }

    /// How many row locks are held (for statistics and tests).
    pub fn held(&self) -> usize {
        lock(&self.state).held.len()
    }

    /// How many owners are waiting for a lock (for statistics and tests).
    pub fn waiters(&self) -> usize {
        lock(&self.state).waiting.len()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_second_owner_waits_until_release() {
        let locks = Arc::new(RowLocks::default());
        let (a, b) = (locks.owner(), locks.owner());
        let key = RowKey::Int(7);
        assert!(locks.acquire(a, 1, &key, true, || Ok(())).unwrap());
        assert!(
            !locks.acquire(a, 1, &key, true, || Ok(())).unwrap(),
            "re-entrant"
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let locks = locks.clone();
            let key = key.clone();
            std::thread::spawn(move || {
                let taken = locks.acquire(b, 1, &key, true, || Ok(()));
                tx.send(()).unwrap();
                taken
            })
        };
        // The waiter waits (and cannot get the lock) while `a` holds it.
        while locks.waiters() == 0 {
            std::thread::yield_now();
        }
        assert!(rx.try_recv().is_err());
        locks.release(a, &[(1, key.clone())]);
        assert!(waiter.join().unwrap().unwrap());
        assert_eq!(locks.held(), 1);
    }

    #[test]
    fn a_lock_taken_without_waiting_refuses_one_another_holds() {
        let locks = RowLocks::default();
        let (a, b) = (locks.owner(), locks.owner());
        let key = RowKey::Int(7);
        assert!(locks.acquire(a, 1, &key, false, || Ok(())).unwrap());
        assert!(
            !locks.acquire(a, 1, &key, false, || Ok(())).unwrap(),
            "re-entrant"
        );
        assert!(matches!(
            locks.acquire(b, 1, &key, false, || Ok(())),
            Err(Error::WouldWait)
        ));
        assert!(
            locks.acquire(b, 2, &key, false, || Ok(())).unwrap(),
            "another table's row"
        );
        locks.release(a, &[(1, key.clone())]);
        assert!(locks.acquire(b, 1, &key, false, || Ok(())).unwrap());
        assert_eq!(locks.held(), 2);
    }

    #[test]
    fn a_cycle_of_waiters_is_a_deadlock_and_interrupts_end_waits() {
        let locks = Arc::new(RowLocks::default());
        let (a, b) = (locks.owner(), locks.owner());
        let (x, y) = (RowKey::Int(1), RowKey::Int(2));
        locks.acquire(a, 1, &x, true, || Ok(())).unwrap();
        locks.acquire(b, 1, &y, true, || Ok(())).unwrap();
        // `a` waits for `b` (until interrupted)…
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waiter = {
            let (locks, y, stop) = (locks.clone(), y.clone(), stop.clone());
            std::thread::spawn(move || {
                locks.acquire(a, 1, &y, true, || {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        Err(Error::QueryCanceled(
                            "canceling statement due to user request",
                        ))
                    } else {
                        Ok(())
                    }
                })
            })
        };
        // …so `b` waiting for `a` closes the cycle: whichever of the two finds it first fails
        // with 40P01 (`b` here, or `a` when it next looks).
        let b_is_victim = loop {
            match locks.acquire(b, 1, &x, true, || Err(Error::QueryCanceled("probe"))) {
                Err(Error::Deadlock) => break true,
                Err(Error::QueryCanceled(_)) if waiter.is_finished() => break false,
                Err(Error::QueryCanceled(_)) => continue,
                other => panic!("unexpected {other:?}"),
            }
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let a_result = waiter.join().unwrap();
        if b_is_victim {
            assert_eq!(
                a_result.unwrap_err().sqlstate(),
                "57014",
                "a's wait was interrupted"
            );
        } else {
            assert_eq!(a_result.unwrap_err().sqlstate(), "40P01");
        }
    }
}
