//! A DataFusion table over one OmenDB table as a transaction's snapshot sees it: record
//! batches streamed from primary-key range scans, one partition per range, only the columns
//! the query reads converted.

use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};

use super::convert;
use crate::mvcc::SnapshotReader;
use crate::sql::interrupt::Remote;
use crate::table::RowKey;
use crate::types::DataType;

/// Rows converted per record batch.
const BATCH_ROWS: usize = 8192;

/// One OmenDB table for DataFusion, read through a transaction's snapshot.
#[derive(Debug)]
pub struct SnapshotTable {
    pub name: String,
    pub reader: SnapshotReader,
    /// The visible columns, as Arrow sees them.
    pub schema: SchemaRef,
    /// Their types and positions in stored rows.
    pub types: Vec<DataType>,
    pub positions: Vec<usize>,
    /// Partitions to split a scan into (by primary-key range).
    pub partitions: usize,
    /// The statement's cancellation and timeout, checked per batch.
    pub watch: Remote,
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let chosen: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&chosen)?);
        let types: Vec<DataType> = chosen.iter().map(|&i| self.types[i]).collect();
        let positions: Vec<usize> = chosen.iter().map(|&i| self.positions[i]).collect();
        let ranges = match limit {
            // A limited scan reads from the start: one partition stops soonest.
            Some(_) => vec![(Bound::Unbounded, Bound::Unbounded)],
            None => self.ranges(),
        };
        let partitions = ranges
            .into_iter()
            .map(|range| {
                Arc::new(RangePartition {
                    table: self.name.clone(),
                    reader: self.reader.clone(),
                    range,
                    schema: schema.clone(),
                    types: types.clone(),
                    positions: positions.clone(),
                    watch: self.watch.clone(),
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            partitions,
            None,
            Vec::new(),
            false,
            limit,
        )?))
    }
}

impl SnapshotTable {
    /// Key ranges that split the table into about equal parts, for keys that start with an
    /// integer spread evenly between the smallest and largest; one range for other keys.
    fn ranges(&self) -> Vec<(Bound<RowKey>, Bound<RowKey>)> {
        let whole = vec![(Bound::Unbounded, Bound::Unbounded)];
        let Some((low, high, composite)) = self.reader.integer_key_span(&self.name) else {
            return whole;
        };
        let parts = self.partitions.max(1) as i128;
        let width = (i128::from(high) - i128::from(low) + 1) / parts;
        if parts == 1 || width < BATCH_ROWS as i128 {
            return whole;
        }
        let mut ranges = Vec::new();
        let mut start = Bound::Unbounded;
        for i in 1..parts {
            let split = i64::try_from(i128::from(low) + width * i).unwrap_or(high);
            let at = RowKey::starting_at(split, composite);
            ranges.push((start, Bound::Excluded(at.clone())));
            start = Bound::Included(at);
        }
        ranges.push((start, Bound::Unbounded));
        ranges
    }
}

/// One key range of a table, streamed as record batches.
#[derive(Debug)]
struct RangePartition {
    table: String,
    reader: SnapshotReader,
    range: (Bound<RowKey>, Bound<RowKey>),
    schema: SchemaRef,
    types: Vec<DataType>,
    positions: Vec<usize>,
    watch: Remote,
}

impl PartitionStream for RangePartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = self.schema.clone();
        let types = self.types.clone();
        let positions = self.positions.clone();
        let watch = self.watch.clone();
        let reader = self.reader.clone();
        let table = self.table.clone();
        let range = self.range.clone();
        // The scan starts at the first poll, on the worker thread that runs the partition.
        let mut scan = None;
        let mut done = false;
        let batches = std::iter::from_fn(move || {
            if done {
                return None;
            }
            if scan.is_none() {
                match reader.scan(&table, range.clone()) {
                    Ok(rows) => scan = Some(rows),
                    Err(e) => {
                        done = true;
                        return Some(Err(external(e)));
                    }
                }
            }
            let rows = scan.as_mut()?;
            let mut chunk = Vec::with_capacity(BATCH_ROWS);
            for item in rows.by_ref() {
                match item {
                    Ok((_, row)) => chunk.push(row),
                    Err(e) => return Some(Err(external(e))),
                }
                if chunk.len() == BATCH_ROWS {
                    break;
                }
            }
            // The rows this partition read warm the row cache (while it has room).
            reader.admit_scanned(&table);
            if chunk.is_empty() {
                done = true;
                return None;
            }
            if let Err(e) = watch.check() {
                done = true;
                return Some(Err(external(e)));
            }
            Some(convert::batch(&schema, &types, &positions, &chunk).map_err(external))
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}

/// An engine error carried through DataFusion (recovered with its SQLSTATE at the end).
pub fn external(e: crate::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
