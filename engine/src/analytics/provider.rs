//! A DataFusion table over one OmenDB table as a transaction's snapshot sees it: record
//! batches streamed from primary-key range scans, one partition per range, only the columns
//! the query reads converted — or taken from the columnar cache when it holds them for the
//! version of the table the snapshot sees (a full scan that converts them keeps them there).

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};

use super::cache::{ColumnArrays, KeyRange, TableColumns};
use super::convert;
use crate::mvcc::{SharedVersion, SnapshotReader};
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
    /// The name of the primary key's first column when it is an integer: filters on it become
    /// key ranges that ALEX scans.
    pub key_column: Option<String>,
    /// What each scan read, for EXPLAIN.
    pub notes: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Comparisons of the leading integer key column with constants are used (as key ranges)
    /// but not trusted: DataFusion still evaluates them on the rows it gets.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.key_bounds(f) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let chosen: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&chosen)?);
        let types: Vec<DataType> = chosen.iter().map(|&i| self.types[i]).collect();
        let positions: Vec<usize> = chosen.iter().map(|&i| self.positions[i]).collect();
        // The key range the filters allow (both ends included).
        let bounds = filters
            .iter()
            .filter_map(|f| self.key_bounds(f))
            .reduce(|(a, b), (c, d)| (a.max(c), b.min(d)));
        // A full scan of a version other snapshots share goes through the columnar cache; a
        // key range or a limited scan reads only what it needs (a limited one from the start,
        // in one partition, which stops soonest).
        let shared = match (limit, bounds) {
            (None, None) if self.reader.columnar().enabled() => {
                self.reader.shared_version(&self.name)
            }
            _ => None,
        };
        let held = shared.as_ref().and_then(|v| self.reader.columnar().get(v));
        if let Some(held) = held.as_ref().filter(|h| h.has_all(&chosen)) {
            self.note(format!(
                "{} partitions from the columnar cache",
                held.ranges.len()
            ));
            return cached_scan(held, &chosen, schema);
        }
        let ranges: Arc<[KeyRange]> = match (&held, limit, bounds) {
            // Columns added to what is held must come in the same ranges and batches.
            (Some(held), _, _) => held.ranges.clone(),
            (None, _, Some((low, high))) => self.ranges(Some((low, high))).into(),
            (None, Some(_), None) => Arc::new([(Bound::Unbounded, Bound::Unbounded)]),
            (None, None, None) => self.ranges(None).into(),
        };
        self.note(match (bounds, limit) {
            (Some((low, high)), _) => format!(
                "primary-key range {low} to {high} through ALEX, {} partitions",
                ranges.len()
            ),
            (None, Some(n)) => format!("the first rows in key order (LIMIT {n})"),
            (None, None) if shared.is_some() => format!(
                "full scan, {} partitions, kept in the columnar cache",
                ranges.len()
            ),
            (None, None) => format!("full scan, {} partitions", ranges.len()),
        });
        if ranges.is_empty() {
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        let keep = shared.map(|version| {
            Arc::new(Keeper {
                version,
                ranges: ranges.clone(),
                chosen: chosen.clone(),
                held,
                pieces: Mutex::new(vec![None; ranges.len()]),
            })
        });
        let partitions = ranges
            .iter()
            .enumerate()
            .map(|(i, range)| {
                Arc::new(RangePartition {
                    table: self.name.clone(),
                    reader: self.reader.clone(),
                    range: range.clone(),
                    schema: schema.clone(),
                    types: types.clone(),
                    positions: positions.clone(),
                    watch: self.watch.clone(),
                    keep: keep.clone().map(|k| (k, i)),
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
    fn note(&self, what: String) {
        crate::sync::lock(&self.notes).push(format!("{}: {what}", self.name));
    }

    /// The keys `filter` allows, both ends included, when it compares the leading integer key
    /// column with constants (`=`, `<`, `<=`, `>`, `>=`, `BETWEEN`).
    fn key_bounds(&self, filter: &Expr) -> Option<(i64, i64)> {
        let key = self.key_column.as_deref()?;
        let is_key = |e: &Expr| match e {
            Expr::Column(c) => c.name == key,
            Expr::Cast(cast) => matches!(&*cast.expr, Expr::Column(c) if c.name == key),
            _ => false,
        };
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, value) = if is_key(left) {
                    (*op, integer(right)?)
                } else if is_key(right) {
                    (op.swap()?, integer(left)?)
                } else {
                    return None;
                };
                match op {
                    Operator::Eq => Some((value, value)),
                    Operator::Lt => Some((i64::MIN, value.checked_sub(1)?)),
                    Operator::LtEq => Some((i64::MIN, value)),
                    Operator::Gt => Some((value.checked_add(1)?, i64::MAX)),
                    Operator::GtEq => Some((value, i64::MAX)),
                    _ => None,
                }
            }
            Expr::Between(between) if !between.negated && is_key(&between.expr) => {
                Some((integer(&between.low)?, integer(&between.high)?))
            }
            _ => None,
        }
    }

    /// Key ranges that split the table (or the keys from `bounds.0` to `bounds.1`) into about
    /// equal parts, for keys that start with an integer spread evenly between the smallest and
    /// largest; one range for other keys. No range when the bounds leave no key.
    fn ranges(&self, bounds: Option<(i64, i64)>) -> Vec<KeyRange> {
        let whole = vec![(Bound::Unbounded, Bound::Unbounded)];
        let Some((low, high, composite)) = self.reader.integer_key_span(&self.name) else {
            return whole;
        };
        let at = |key: i64| RowKey::starting_at(key, composite);
        let (low, high, first, end) = match bounds {
            None => (low, high, Bound::Unbounded, Bound::Unbounded),
            Some((from, to)) => {
                let (low, high) = (low.max(from), high.min(to));
                if low > high {
                    return Vec::new();
                }
                let end = high
                    .checked_add(1)
                    .map_or(Bound::Unbounded, |after| Bound::Excluded(at(after)));
                (low, high, Bound::Included(at(low)), end)
            }
        };
        let parts = self.partitions.max(1) as i128;
        let width = (i128::from(high) - i128::from(low) + 1) / parts;
        if parts == 1 || width < BATCH_ROWS as i128 {
            return vec![(first, end)];
        }
        let mut ranges = Vec::new();
        let mut start = first;
        for i in 1..parts {
            let split = i64::try_from(i128::from(low) + width * i).unwrap_or(high);
            ranges.push((start, Bound::Excluded(at(split))));
            start = Bound::Included(at(split));
        }
        ranges.push((start, end));
        ranges
    }
}

/// The value of an integer constant (possibly cast).
fn integer(e: &Expr) -> Option<i64> {
    use datafusion::common::ScalarValue as S;
    match e {
        Expr::Literal(value, _) => match value {
            S::Int8(Some(v)) => Some(i64::from(*v)),
            S::Int16(Some(v)) => Some(i64::from(*v)),
            S::Int32(Some(v)) => Some(i64::from(*v)),
            S::Int64(Some(v)) => Some(*v),
            S::UInt8(Some(v)) => Some(i64::from(*v)),
            S::UInt16(Some(v)) => Some(i64::from(*v)),
            S::UInt32(Some(v)) => Some(i64::from(*v)),
            S::UInt64(Some(v)) => i64::try_from(*v).ok(),
            _ => None,
        },
        Expr::Cast(cast) if cast.field.data_type().is_integer() => integer(&cast.expr),
        _ => None,
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
    /// Where the converted arrays go for the columnar cache, and this range's index there.
    keep: Option<(Arc<Keeper>, usize)>,
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
        let keep = self.keep.clone();
        let mut kept = Piece::default();
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
                // The whole range was read: its arrays may join the cache.
                if let Some((keeper, index)) = &keep {
                    keeper.deposit(*index, std::mem::take(&mut kept), &reader);
                }
                return None;
            }
            if let Err(e) = watch.check() {
                done = true;
                return Some(Err(external(e)));
            }
            let batch = convert::batch(&schema, &types, &positions, &chunk).map_err(external);
            if let (Ok(batch), Some(_)) = (&batch, &keep) {
                kept.rows.push(batch.num_rows());
                kept.arrays.push(batch.columns().to_vec());
            }
            Some(batch)
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::iter(batches),
        ))
    }
}

/// One range's converted batches: rows and the chosen columns' arrays of each.
#[derive(Debug, Default, Clone)]
struct Piece {
    rows: Vec<usize>,
    arrays: Vec<Vec<ArrayRef>>,
}

/// Gathers the arrays a full scan converts, range by range; once every range has been read to
/// its end, they (with what was already held in the same batches) go to the columnar cache.
/// A scan stopped early (an error, cancellation, a LIMIT above it) leaves nothing behind.
#[derive(Debug)]
struct Keeper {
    version: SharedVersion,
    ranges: Arc<[KeyRange]>,
    /// The converted columns, by position in the table's Arrow schema.
    chosen: Vec<usize>,
    held: Option<Arc<TableColumns>>,
    pieces: Mutex<Vec<Option<Piece>>>,
}

impl Keeper {
    fn deposit(&self, index: usize, piece: Piece, reader: &SnapshotReader) {
        let pieces = {
            let mut pieces = crate::sync::lock(&self.pieces);
            pieces[index] = Some(piece);
            if pieces.iter().any(Option::is_none) {
                return;
            }
            std::mem::take(&mut *pieces)
        };
        let pieces: Vec<Piece> = pieces.into_iter().flatten().collect();
        let batch_rows: Arc<[Vec<usize>]> = pieces.iter().map(|p| p.rows.clone()).collect();
        let mut columns: HashMap<usize, ColumnArrays> = HashMap::new();
        // What was held stays if its batches are these batches (the same version read in the
        // same ranges always gives them; anything else starts afresh).
        if let Some(held) = self.held.as_ref().filter(|h| h.batch_rows == batch_rows) {
            columns.extend(held.columns.iter().map(|(c, a)| (*c, a.clone())));
        }
        for (i, &column) in self.chosen.iter().enumerate() {
            let arrays: ColumnArrays = pieces
                .iter()
                .map(|p| p.arrays.iter().map(|batch| batch[i].clone()).collect())
                .collect();
            columns.insert(column, arrays);
        }
        reader.columnar().put(TableColumns::new(
            self.version.clone(),
            self.ranges.clone(),
            batch_rows,
            columns,
        ));
    }
}

/// A scan served from the columnar cache: one partition per key range, its batches assembled
/// from the held arrays of the chosen columns. As an in-memory source it tells DataFusion how
/// many rows each partition has, which its join planning uses (the smaller side is built).
fn cached_scan(
    held: &TableColumns,
    chosen: &[usize],
    schema: SchemaRef,
) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
    let mut partitions = Vec::with_capacity(held.ranges.len());
    for (range, rows) in held.batch_rows.iter().enumerate() {
        let batches = rows
            .iter()
            .enumerate()
            .map(|(b, &rows)| {
                let arrays = chosen
                    .iter()
                    .map(|c| held.columns[c][range][b].clone())
                    .collect();
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        partitions.push(batches);
    }
    Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
}

/// An engine error carried through DataFusion (recovered with its SQLSTATE at the end).
pub fn external(e: crate::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
