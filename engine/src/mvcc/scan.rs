//! Ordered scans of a table at a snapshot, merged with the transaction's own writes.
//!
//! A scan reads in batches: under the table's read latch it walks the primary index from its
//! cursor, decides per entry which version the snapshot sees, and fetches the current versions
//! it needs with one ordered storage scan over the batch's key range (or from the row cache
//! when there are only a few). Between batches the latch is released, so writers are never
//! held up for longer than one batch. Batches start small (an `ORDER BY pk LIMIT 10` reads
//! little) and double up to a limit.
//!
//! A caller that only looks at each row ([`RowScan::visit`]: a query that filters and projects)
//! is lent the cached rows in place, under the latch, instead of receiving a counted reference
//! per row; the iterator takes over at the first row that cannot be lent.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use crate::database::Shared;
use crate::encoding::decode_row;
use crate::mvcc::Visibility;
use crate::sync::read;
use crate::table::{RowKey, Table, complete_row};
use crate::types::{SharedRow, Value};
use crate::{Error, Result};

const FIRST_BATCH: usize = 32;
const MAX_BATCH: usize = 2048;
/// Below this many current versions in a batch, point reads (through the cache) beat a scan.
const POINT_READS_UP_TO: usize = 8;

/// The order of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// Rows of one table in key order, as one transaction sees them.
#[derive(Debug)]
pub struct RowScan {
    db: Arc<Shared>,
    table: Arc<Table>,
    snapshot: u64,
    lower: Bound<RowKey>,
    upper: Bound<RowKey>,
    direction: Direction,
    batch: usize,
    committed: VecDeque<(RowKey, SharedRow)>,
    /// The transaction's own writes in the range, in scan order (`None`: deleted).
    own: VecDeque<(RowKey, Option<SharedRow>)>,
    exhausted: bool,
    /// The table's values for columns added after a row was written (see [`complete_row`]).
    missing: Arc<[Value]>,
}

/// Where one batch of [`RowScan::lend`] ended.
enum Step {
    /// Still visiting; the last key visited.
    Going(Option<RowKey>),
    Stopped,
    Failed(Error),
    /// This key's row cannot be lent.
    Handover(RowKey),
}

/// How far [`RowScan::lend`] got.
enum Lent {
    /// Every row in the range was visited.
    Done,
    /// The visitor asked to stop.
    Stopped,
    /// The rest of the range (from the scan's bounds on) needs the iterator.
    Rest,
}

enum Pending {
    Ready(SharedRow),
    Current(u64),
}

impl RowScan {
    pub(crate) fn new(
        db: Arc<Shared>,
        table: Arc<Table>,
        snapshot: u64,
        (lower, upper): (Bound<RowKey>, Bound<RowKey>),
        direction: Direction,
        mut own: Vec<(RowKey, Option<SharedRow>)>,
    ) -> Self {
        if direction == Direction::Backward {
            own.reverse();
        }
        let missing = read(&table.state).missing.clone();
        Self {
            missing,
            db,
            table,
            snapshot,
            lower,
            upper,
            direction,
            batch: FIRST_BATCH,
            committed: VecDeque::new(),
            own: own.into(),
            exhausted: false,
        }
    }

    /// Reads the next batch of committed rows visible to the snapshot.
    fn fill(&mut self) -> Result<()> {
        let table = self.table.clone();
        let state = read(&table.state);
        table.check_exists(&state)?;
        self.missing = state.missing.clone();
        let reverse = self.direction == Direction::Backward;
        let mut visited = 0;
        let mut last = None;
        let mut items: Vec<(RowKey, Pending)> = Vec::new();
        let limit = self.batch;
        state.primary.visit_range(
            self.lower.as_ref(),
            self.upper.as_ref(),
            reverse,
            |key, entry| {
                visited += 1;
                match entry.visible(self.snapshot) {
                    Visibility::Absent => {}
                    Visibility::Old(row) => items.push((key.clone(), Pending::Ready(row))),
                    // Scans use cached rows but do not mark them: a scan is no sign of reuse.
                    Visibility::Current(_) if entry.cached.is_some() => {
                        let row = entry.cached.clone();
                        items.extend(row.map(|row| (key.clone(), Pending::Ready(row))));
                    }
                    Visibility::Current(ts) => items.push((key.clone(), Pending::Current(ts))),
                }
                last = Some(key);
                visited < limit
            },
        );
        match last {
            Some(last) if visited == limit => self.resume_after(last, reverse),
            _ => self.exhausted = true,
        }

        let current = items
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Current(_)))
            .count();
        let table = self.table.id;
        let mut from_storage = if current > POINT_READS_UP_TO {
            self.scan_storage(&items, reverse, current, &state)?
        } else {
            Vec::new()
        };
        if reverse {
            from_storage.reverse();
        }
        let mut from_storage = from_storage.into_iter();
        // Rows read in a batch warm the cache while it has room.
        let mut admit = Vec::new();
        let warm = current > POINT_READS_UP_TO && self.db.cache.has_room();
        for (key, pending) in items {
            let row = match pending {
                Pending::Ready(row) => row,
                Pending::Current(ts) if current > POINT_READS_UP_TO => match from_storage.next() {
                    Some(row) => {
                        if warm {
                            admit.push((key.clone(), ts, row.clone()));
                        }
                        row
                    }
                    None => return Err(missing_row(table, &key)),
                },
                Pending::Current(ts) => {
                    let row = SharedRow::from(self.db.read_stored(table, &state, &key)?);
                    self.db
                        .cache
                        .queue(&self.table, key.clone(), ts, row.clone());
                    row
                }
            };
            self.committed.push_back((key, row));
        }
        self.db.cache.queue_all(&self.table, admit);
        Ok(())
    }

    /// Calls `visit` with each row in scan order until it returns false. Where it can, the
    /// scan lends rows straight from the row cache under the table's read latch (a batch at a
    /// time, like `RowScan::fill`), so that a row costs no reference counting and no
    /// buffering; from the first row that is not cached (or a transaction's own writes, or a
    /// row older than an added column) on, it reads as the iterator does.
    pub fn visit(mut self, mut visit: impl FnMut(&[Value]) -> Result<bool>) -> Result<()> {
        if self.own.is_empty() && self.committed.is_empty() {
            match self.lend(&mut visit)? {
                Lent::Done | Lent::Stopped => return Ok(()),
                Lent::Rest => {}
            }
        }
        for item in self {
            let (_, row) = item?;
            if !visit(&row)? {
                break;
            }
        }
        Ok(())
    }

    /// [`RowScan::visit`]'s lending part: rows from the cache while they are there.
    fn lend(&mut self, visit: &mut impl FnMut(&[Value]) -> Result<bool>) -> Result<Lent> {
        let reverse = self.direction == Direction::Backward;
        loop {
            let state = read(&self.table.state);
            self.table.check_exists(&state)?;
            let width = state.missing.len();
            let snapshot = self.snapshot;
            let limit = self.batch;
            let mut visited = 0;
            let mut step = Step::Going(None);
            state.primary.visit_range(
                self.lower.as_ref(),
                self.upper.as_ref(),
                reverse,
                |key, entry| {
                    let result = match entry.visible(snapshot) {
                        Visibility::Absent => Ok(true),
                        Visibility::Old(row) if row.len() >= width => visit(&row),
                        Visibility::Current(_) => match entry.cached.as_deref() {
                            Some(row) if row.len() >= width => visit(row),
                            _ => {
                                step = Step::Handover(key);
                                return false;
                            }
                        },
                        Visibility::Old(_) => {
                            step = Step::Handover(key);
                            return false;
                        }
                    };
                    visited += 1;
                    match result {
                        Ok(true) => {
                            step = Step::Going(Some(key));
                            visited < limit
                        }
                        Ok(false) => {
                            step = Step::Stopped;
                            false
                        }
                        Err(e) => {
                            step = Step::Failed(e);
                            false
                        }
                    }
                },
            );
            drop(state);
            self.db.admit_pending(&self.table);
            match step {
                Step::Going(Some(last)) if visited == limit => self.resume_after(last, reverse),
                Step::Going(_) => return Ok(Lent::Done),
                Step::Stopped => return Ok(Lent::Stopped),
                Step::Failed(e) => return Err(e),
                Step::Handover(key) => {
                    if reverse {
                        self.upper = Bound::Included(key);
                    } else {
                        self.lower = Bound::Included(key);
                    }
                    return Ok(Lent::Rest);
                }
            }
        }
    }

    /// Moves the scan's bounds past `last`, for the next (larger) batch.
    fn resume_after(&mut self, last: RowKey, reverse: bool) {
        if reverse {
            self.upper = Bound::Excluded(last);
        } else {
            self.lower = Bound::Excluded(last);
        }
        self.batch = (self.batch * 2).min(MAX_BATCH);
    }

    /// The current versions among `items`, in ascending key order, read with one storage scan.
    fn scan_storage(
        &self,
        items: &[(RowKey, Pending)],
        reverse: bool,
        count: usize,
        state: &crate::table::TableState,
    ) -> Result<Vec<SharedRow>> {
        let table = self.table.id;
        let mut wanted: Vec<&RowKey> = items
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Current(_)))
            .map(|(k, _)| k)
            .collect();
        if reverse {
            wanted.reverse();
        }
        let (Some(first), Some(last)) = (wanted.first(), wanted.last()) else {
            return Ok(Vec::new());
        };
        let start = first.storage_key(table);
        let end = last.storage_key(table);
        let prefix_len = start.len() - first.encode().len();
        let mut stored = self
            .db
            .storage
            .scan(Bound::Included(&start), Bound::Included(&end))?;
        let mut rows = Vec::with_capacity(count);
        for key in wanted {
            let want = key.encode();
            loop {
                let Some(entry) = stored.next() else {
                    return Err(missing_row(table, key));
                };
                let (stored_key, value) = entry?;
                let stored_pk = &stored_key[prefix_len..];
                if stored_pk < want.as_slice() {
                    continue;
                }
                if stored_pk > want.as_slice() {
                    return Err(missing_row(table, key));
                }
                rows.push(SharedRow::from(decode_row(
                    &state.types,
                    &state.missing,
                    &value,
                )?));
                break;
            }
        }
        Ok(rows)
    }

    fn before(&self, a: &RowKey, b: &RowKey) -> std::cmp::Ordering {
        match self.direction {
            Direction::Forward => a.cmp(b),
            Direction::Backward => b.cmp(a),
        }
    }
}

fn missing_row(table: u32, key: &RowKey) -> Error {
    Error::Corrupt(format!(
        "row {key:?} of table {table} is missing from storage"
    ))
}

impl Iterator for RowScan {
    type Item = Result<(RowKey, SharedRow)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.committed.is_empty() && !self.exhausted {
                if let Err(e) = self.fill() {
                    self.exhausted = true;
                    self.own.clear();
                    return Some(Err(e));
                }
                self.db.admit_pending(&self.table);
                continue;
            }
            let take_own = match (self.committed.front(), self.own.front()) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((c, _)), Some((o, _))) => match self.before(o, c) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => {
                        // Our own write replaces the committed version.
                        self.committed.pop_front();
                        true
                    }
                    std::cmp::Ordering::Greater => false,
                },
            };
            if take_own {
                match self.own.pop_front() {
                    Some((key, Some(row))) => {
                        return Some(Ok((key, complete_row(row, &self.missing))));
                    }
                    _ => continue,
                }
            }
            return self
                .committed
                .pop_front()
                .map(|(key, row)| Ok((key, complete_row(row, &self.missing))));
        }
    }
}
