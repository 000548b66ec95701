//! Running COPY in a session: `COPY … FROM STDIN` loads rows the client streams in batches
//! of INSERTs (one transaction: all rows or none, or part of the open block), and
//! `COPY … TO STDOUT` runs its query and encodes the rows.
//!
//! A protocol adapter drives it: [`Session::start_copy`], then for COPY FROM
//! [`Session::copy_data`] per chunk and [`Session::copy_done`] (or [`Session::copy_fail`]).

use std::sync::Arc;

use super::copy::{CopyFormat, Record, RecordReader, RowWriter};
use super::executor;
use super::expr::BoundExpr;
use super::planner::{CopyPlan, InsertRows, InsertTarget, OutputColumn, Plan};
use super::rows::Rows;
use super::session::Prepared;
use crate::types::{DataType, Value, cast};
use crate::{Error, Result, Session, Transaction};

/// Rows per INSERT batch while loading.
const BATCH_ROWS: usize = 1024;

/// A started COPY.
#[derive(Debug)]
pub enum CopyStream {
    /// The client now sends data: feed it to [`Session::copy_data`].
    In(Box<CopyIn>),
    /// The rows to send, already encoded.
    Out(CopyOut),
}

/// A COPY FROM in progress.
#[derive(Debug)]
pub struct CopyIn {
    target: InsertTarget,
    csv: bool,
    reader: RecordReader,
    /// The load's own transaction when no block is open (committed by `copy_done`).
    txn: Option<Transaction>,
    batch: Vec<Vec<BoundExpr>>,
    rows: u64,
    /// The first error: later data is ignored and `copy_done` reports it.
    error: Option<Error>,
}

impl CopyIn {
    /// How many columns each row has.
    pub fn columns(&self) -> usize {
        self.target.columns.len()
    }

    pub fn is_csv(&self) -> bool {
        self.csv
    }
}

/// A COPY TO's output: one chunk per row (a CSV header goes with the first).
#[derive(Debug)]
pub struct CopyOut {
    pub columns: Arc<[OutputColumn]>,
    pub csv: bool,
    pub chunks: Vec<Vec<u8>>,
    pub rows: u64,
}

impl Prepared {
    /// Whether this is a COPY statement, to be run with [`Session::start_copy`].
    pub fn is_copy(&self) -> bool {
        matches!(self.plan, Plan::Copy(_))
    }
}

impl Session {
    /// Starts a prepared COPY: COPY TO runs its query now; COPY FROM waits for data.
    pub fn start_copy(&mut self, prepared: &Prepared) -> Result<CopyStream> {
        if self.failed {
            return Err(Error::InFailedTransaction);
        }
        let result = self.start_copy_plan(prepared);
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn start_copy_plan(&mut self, prepared: &Prepared) -> Result<CopyStream> {
        let plan = self.current_plan(prepared)?;
        let Plan::Copy(copy) = plan else {
            return Err(Error::NotSupported(
                "start_copy of a statement that is not COPY".into(),
            ));
        };
        match *copy {
            CopyPlan::From { target, format } => {
                self.before_query();
                let txn = match self.block {
                    Some(_) => None,
                    None => Some(self.begin()?),
                };
                Ok(CopyStream::In(Box::new(CopyIn {
                    target,
                    csv: format.csv,
                    reader: RecordReader::new(format),
                    txn,
                    batch: Vec::with_capacity(BATCH_ROWS),
                    rows: 0,
                    error: None,
                })))
            }
            CopyPlan::To { query, format } => {
                let _armed = self.watch_statement();
                let columns = query.columns.clone();
                let select = Plan::Select(query);
                let subqueries = select.has_subqueries();
                let result = self.run(&select, subqueries)?;
                Ok(CopyStream::Out(encode(&columns, &result.rows, format)))
            }
        }
    }

    /// Loads a chunk of COPY data (any split: a row may continue in the next chunk). Errors
    /// are kept for [`Session::copy_done`], as the client goes on sending until its end.
    pub fn copy_data(&mut self, copy: &mut CopyIn, data: &[u8]) {
        if copy.error.is_some() {
            return;
        }
        let CopyIn {
            target,
            reader,
            txn,
            batch,
            rows,
            ..
        } = copy;
        let txn = match (self.block.as_mut(), txn.as_mut()) {
            (Some(txn), _) | (None, Some(txn)) => txn,
            (None, None) => return,
        };
        let fed = reader.feed(data, |record| add_row(target, batch, txn, rows, record));
        if let Err(e) = fed {
            copy.error = Some(with_table(e, &copy.target.table));
        }
    }

    /// The client's data ended: loads what is left and, outside a block, commits. Returns the
    /// number of rows loaded.
    pub fn copy_done(&mut self, mut copy: Box<CopyIn>) -> Result<u64> {
        let result = self.finish_copy(&mut copy);
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn finish_copy(&mut self, copy: &mut CopyIn) -> Result<u64> {
        if let Some(e) = copy.error.take() {
            return Err(e);
        }
        let CopyIn {
            target,
            reader,
            txn: own,
            batch,
            rows,
            ..
        } = copy;
        let txn = match (self.block.as_mut(), own.as_mut()) {
            (Some(txn), _) | (None, Some(txn)) => txn,
            (None, None) => return Err(Error::NoActiveTransaction("COPY without a transaction")),
        };
        reader
            .finish(|record| add_row(target, batch, txn, rows, record))
            .and_then(|()| flush(target, batch, txn, rows))
            .map_err(|e| with_table(e, &target.table))?;
        if let Some(own) = own.take() {
            own.commit()?;
        }
        Ok(*rows)
    }

    /// The client gave up (CopyFail): nothing it sent is kept.
    pub fn copy_fail(&mut self, copy: Box<CopyIn>, message: &str) -> Error {
        drop(copy);
        self.fail();
        Error::CopyFailed(message.to_owned())
    }
}

/// One record as a row to insert, added to the batch (flushed when full).
fn add_row(
    target: &InsertTarget,
    batch: &mut Vec<Vec<BoundExpr>>,
    txn: &mut Transaction,
    rows: &mut u64,
    (fields, line): Record,
) -> Result<()> {
    let at = |column: Option<(&str, &str)>, error: Error| Error::Copy {
        context: match column {
            Some((name, text)) => {
                format!(
                    "COPY {}, line {line}, column {name}: \"{text}\"",
                    target.table
                )
            }
            None => format!("COPY {}, line {line}", target.table),
        },
        error: Box::new(error),
    };
    if fields.len() > target.columns.len() {
        let error = Error::BadCopyData("extra data after last expected column".into());
        return Err(at(None, error));
    }
    if let Some((_, name, _)) = target.columns.get(fields.len()) {
        let error = Error::BadCopyData(format!("missing data for column \"{name}\""));
        return Err(at(None, error));
    }
    let mut row = target.defaults.clone();
    for ((position, name, ty), field) in target.columns.iter().zip(fields) {
        let value = match field {
            None => Value::Null,
            // Stored as given; the column's length limit is checked when the row is written.
            Some(text) if ty.unconstrained() == DataType::Text => Value::Text(text.into()),
            Some(text) => cast(Value::Text(text.as_str().into()), ty.unconstrained())
                .map_err(|e| at(Some((name, &text)), e))?,
        };
        row[*position] = BoundExpr::Constant(value);
    }
    batch.push(row);
    if batch.len() >= BATCH_ROWS {
        flush(target, batch, txn, rows)?;
    }
    Ok(())
}

/// Inserts the batch's rows.
fn flush(
    target: &InsertTarget,
    batch: &mut Vec<Vec<BoundExpr>>,
    txn: &mut Transaction,
    rows: &mut u64,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let count = batch.len() as u64;
    let plan = Plan::Insert {
        table: target.table.clone(),
        source: InsertRows::Values(std::mem::replace(batch, Vec::with_capacity(BATCH_ROWS))),
        serial: target.serial.clone(),
        checks: target.checks.clone(),
        on_conflict: None,
        returning: None,
    };
    executor::execute_flat(&plan, txn)?;
    *rows += count;
    Ok(())
}

/// A load error names the table it happened in (PostgreSQL's `COPY t, line n` context).
fn with_table(error: Error, table: &str) -> Error {
    match error {
        Error::Copy { context, error } if !context.starts_with("COPY ") => Error::Copy {
            context: format!("COPY {table}, {context}"),
            error,
        },
        Error::Copy { .. } => error,
        other => Error::Copy {
            context: format!("COPY {table}"),
            error: Box::new(other),
        },
    }
}

fn encode(columns: &Arc<[OutputColumn]>, rows: &Rows, format: CopyFormat) -> CopyOut {
    let csv = format.csv;
    let writer = RowWriter::new(format);
    let header = writer.header(columns.iter().map(|c| c.name.as_str()));
    let mut chunks = Vec::with_capacity(rows.len().max(1));
    for (i, row) in rows.iter().enumerate() {
        let mut chunk = match (i, &header) {
            (0, Some(header)) => header.clone(),
            _ => Vec::new(),
        };
        writer.row(row, &mut chunk);
        chunks.push(chunk);
    }
    if rows.is_empty() {
        chunks.extend(header);
    }
    CopyOut {
        columns: columns.clone(),
        csv,
        chunks,
        rows: rows.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, DatabaseConfig};

    fn copy_in(session: &mut Session, sql: &str, data: &[&[u8]]) -> Result<u64> {
        let prepared = session.prepare(sql)?;
        let CopyStream::In(mut copy) = session.start_copy(&prepared)? else {
            panic!("not COPY FROM");
        };
        for chunk in data {
            session.copy_data(&mut copy, chunk);
        }
        session.copy_done(copy)
    }

    fn copy_out(session: &mut Session, sql: &str) -> String {
        let prepared = session.prepare(sql).unwrap();
        let CopyStream::Out(out) = session.start_copy(&prepared).unwrap() else {
            panic!("not COPY TO");
        };
        String::from_utf8(out.chunks.concat()).unwrap()
    }

    fn setup() -> Session {
        let db = Database::open(DatabaseConfig::memory()).unwrap();
        let mut session = db.session();
        session
            .execute(
                "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score NUMERIC(6,2), \
                 at DATE DEFAULT DATE '2024-01-01')",
            )
            .unwrap();
        session
    }

    #[test]
    fn loads_text_and_csv_in_any_chunking_and_reads_back() {
        let mut session = setup();
        let data = b"1\tada\t1.5\n2\t\\N\t\\N\n3\ttab\\there\t-2\n";
        let chunks: Vec<&[u8]> = data.chunks(3).collect();
        let n = copy_in(&mut session, "COPY t (id, name, score) FROM STDIN", &chunks).unwrap();
        assert_eq!(n, 3);
        let csv = b"id,name,score\n4,\"a,b\",\n5,\"\",7\n";
        let n = copy_in(
            &mut session,
            "COPY t (id, name, score) FROM STDIN WITH (FORMAT csv, HEADER)",
            &[csv],
        )
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(
            copy_out(&mut session, "COPY t TO STDOUT"),
            "1\tada\t1.50\t2024-01-01\n2\t\\N\t\\N\t2024-01-01\n3\ttab\\there\t-2.00\t2024-01-01\n\
             4\ta,b\t\\N\t2024-01-01\n5\t\t7.00\t2024-01-01\n"
        );
        assert_eq!(
            copy_out(
                &mut session,
                "COPY (SELECT id, name FROM t WHERE id >= 4 ORDER BY id) TO STDOUT CSV HEADER"
            ),
            "id,name\n4,\"a,b\"\n5,\"\"\n"
        );
    }

    #[test]
    fn a_bad_row_loads_nothing_and_names_its_line_and_column() {
        let mut session = setup();
        let err = copy_in(
            &mut session,
            "COPY t (id, name, score) FROM STDIN",
            &[b"1\ta\t1\n2\tb\tnot a number\n"],
        )
        .unwrap_err();
        assert_eq!(err.sqlstate(), "22P02");
        assert_eq!(
            err.context(),
            Some("COPY t, line 2, column score: \"not a number\"")
        );
        let err = copy_in(
            &mut session,
            "COPY t (id, name) FROM STDIN",
            &[b"1\ta\tx\n"],
        )
        .unwrap_err();
        assert_eq!(err.sqlstate(), "22P04");
        assert_eq!(err.to_string(), "extra data after last expected column");
        let err = copy_in(&mut session, "COPY t FROM STDIN", &[b"1\n"]).unwrap_err();
        assert_eq!(err.to_string(), "missing data for column \"name\"");
        // A duplicate key fails the whole load.
        let err = copy_in(&mut session, "COPY t (id) FROM STDIN", &[b"7\n7\n"]).unwrap_err();
        assert_eq!(err.sqlstate(), "23505");
        let count = session.execute("SELECT count(*) FROM t").unwrap();
        assert_eq!(count[0].rows, vec![vec![Value::Int(0)]]);
    }

    #[test]
    fn inside_a_block_rows_join_the_transaction_and_errors_abort_it() {
        let mut session = setup();
        session.execute("BEGIN").unwrap();
        copy_in(&mut session, "COPY t (id) FROM STDIN", &[b"1\n2\n"]).unwrap();
        session.execute("ROLLBACK").unwrap();
        let count = session.execute("SELECT count(*) FROM t").unwrap();
        assert_eq!(count[0].rows, vec![vec![Value::Int(0)]]);

        session.execute("BEGIN").unwrap();
        let prepared = session.prepare("COPY t (id) FROM STDIN").unwrap();
        let CopyStream::In(copy) = session.start_copy(&prepared).unwrap() else {
            panic!()
        };
        let err = session.copy_fail(copy, "client gave up");
        assert_eq!(err.sqlstate(), "57014");
        assert_eq!(session.execute("SELECT 1").unwrap_err().sqlstate(), "25P02");
        session.execute("ROLLBACK").unwrap();
    }

    #[test]
    fn copy_outside_the_copy_protocol_is_refused() {
        let mut session = setup();
        let err = session.execute("COPY t FROM STDIN").unwrap_err();
        assert_eq!(err.sqlstate(), "0A000");
        let err = session.execute("COPY t FROM '/etc/passwd'").unwrap_err();
        assert_eq!(err.sqlstate(), "0A000");
        // PostgreSQL's other boolean spellings (pgbench sends `freeze on`).
        for sql in [
            "COPY t FROM STDIN WITH (FREEZE on)",
            "copy t from stdin with (format csv, header 1, freeze off)",
        ] {
            assert!(session.prepare(sql).unwrap().is_copy(), "{sql}");
        }
        let err = session.prepare("COPY nope FROM STDIN").unwrap_err();
        assert_eq!(err.sqlstate(), "42P01");
    }
}
