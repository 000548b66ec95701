//! Scans through a secondary index at a snapshot, merged with the transaction's own writes.
//!
//! Like [`super::RowScan`] it reads in batches under the table's read latch. The index holds
//! entries of every version some snapshot may read, so each candidate is resolved to the
//! version this snapshot sees and kept only if that version still has the entry's values. Keys
//! the transaction wrote are taken from its own writes instead (computed when the scan starts).

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

use super::scan::Direction;
use super::transaction::WriteSet;
use super::version::Visibility;
use crate::catalog::ObjectId;
use crate::database::Shared;
use crate::sync::read;
use crate::table::{IndexKey, RowKey, Table, complete_row};
use crate::types::{SharedRow, Value};
use crate::{Error, Result};

const FIRST_BATCH: usize = 32;
const MAX_BATCH: usize = 1024;

/// One row found through an index: its index entry key, primary key and row.
type Found = (IndexKey, RowKey, SharedRow);

/// Rows in index order, as one transaction sees them.
#[derive(Debug)]
pub struct IndexScan {
    db: Arc<Shared>,
    table: Arc<Table>,
    index: ObjectId,
    snapshot: u64,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    direction: Direction,
    batch: usize,
    committed: VecDeque<Found>,
    /// The transaction's own rows in the range, in scan order.
    own: VecDeque<Found>,
    /// The transaction's writes to the table: the committed index entries of keys it wrote are
    /// not its view.
    written: Option<WriteSet>,
    exhausted: bool,
    /// The table's values for columns added after a row was written (see [`complete_row`]).
    missing: Arc<[Value]>,
}

/// What a scan starts from; see [`IndexScan::new`].
pub(crate) struct IndexScanStart {
    pub db: Arc<Shared>,
    pub table: Arc<Table>,
    pub index: ObjectId,
    pub snapshot: u64,
    pub range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    pub direction: Direction,
    pub own: Vec<Found>,
    pub written: Option<WriteSet>,
}

impl IndexScan {
    pub(crate) fn new(start: IndexScanStart) -> Self {
        let mut own = start.own;
        own.sort_by(|a, b| a.0.cmp(&b.0));
        if start.direction == Direction::Backward {
            own.reverse();
        }
        let (lower, upper) = start.range;
        let missing = read(&start.table.state).missing.clone();
        Self {
            db: start.db,
            table: start.table,
            index: start.index,
            snapshot: start.snapshot,
            lower,
            upper,
            direction: start.direction,
            batch: FIRST_BATCH,
            committed: VecDeque::new(),
            own: own.into(),
            written: start.written,
            exhausted: false,
            missing,
        }
    }

    /// A scan over rows already found (in ascending index order).
    pub(crate) fn materialized(start: IndexScanStart, mut rows: Vec<Found>) -> Self {
        if start.direction == Direction::Backward {
            rows.reverse();
        }
        let mut scan = Self::new(IndexScanStart {
            own: Vec::new(),
            ..start
        });
        scan.committed = rows.into();
        scan.exhausted = true;
        scan
    }

    fn fill(&mut self) -> Result<()> {
        let state = read(&self.table.state);
        self.table.check_exists(&state)?;
        self.missing = state.missing.clone();
        let index = state
            .indexes
            .iter()
            .find(|i| i.schema.id == self.index)
            .ok_or_else(|| Error::UndefinedObject("index (dropped during the scan)".into()))?;
        let lower = self.lower.as_ref().map(Vec::as_slice);
        let upper = self.upper.as_ref().map(Vec::as_slice);
        let forward = self.direction == Direction::Forward;
        let entries = crate::table::walk_between(&index.entries, lower, upper, forward);
        let mut visited = 0;
        let mut last = None;
        for (entry_key, mark) in entries {
            visited += 1;
            last = Some(entry_key.to_vec());
            if !self
                .written
                .as_ref()
                .is_some_and(|w| w.contains_key(&mark.pk))
            {
                if let Some(entry) = state.primary.get(&mark.pk) {
                    let row = match entry.visible(self.snapshot) {
                        Visibility::Absent => None,
                        Visibility::Old(row) => Some(row),
                        Visibility::Current(_) => Some(self.db.read_current(
                            &self.table,
                            &state,
                            &mark.pk,
                            entry,
                            SharedRow::clone,
                        )?),
                    };
                    // The entry may belong to a version this snapshot does not see.
                    if let Some(row) = row.filter(|r| index.entry_key(r, &mark.pk) == *entry_key) {
                        self.committed
                            .push_back((entry_key.clone(), mark.pk.clone(), row));
                    }
                }
            }
            if visited == self.batch {
                break;
            }
        }
        match last {
            Some(last) if visited == self.batch => {
                match self.direction {
                    Direction::Forward => self.lower = Bound::Excluded(last),
                    Direction::Backward => self.upper = Bound::Excluded(last),
                }
                self.batch = (self.batch * 2).min(MAX_BATCH);
            }
            _ => self.exhausted = true,
        }
        Ok(())
    }
}

impl Iterator for IndexScan {
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
                (Some(c), Some(o)) => match self.direction {
                    Direction::Forward => o.0 < c.0,
                    Direction::Backward => o.0 > c.0,
                },
            };
            let next = if take_own {
                self.own.pop_front()
            } else {
                self.committed.pop_front()
            };
            return next.map(|(_, key, row)| Ok((key, complete_row(row, &self.missing))));
        }
    }
}
