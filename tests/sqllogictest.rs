//! The SQL corpus: `tests/slt/*.slt` (sqllogictest format), run against every storage backend.
//! An expected error is written `statement error (SQLSTATE)` or with a message regex.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;

use omendb::storage::StorageKind;
use omendb::{Database, DatabaseConfig, Error, Session};
use sqllogictest::{DBOutput, DefaultColumnType, Runner};

struct Connection {
    session: Session,
}

impl sqllogictest::DB for Connection {
    type Error = Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Error> {
        let mut results = self.session.execute(sql)?;
        let Some(last) = results.pop() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        if last.columns.is_empty() {
            let count = last
                .tag
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            return Ok(DBOutput::StatementComplete(count));
        }
        Ok(common::slt_rows(&last))
    }

    fn error_sql_state(err: &Error) -> Option<String> {
        Some(err.sqlstate().to_string())
    }
}

fn run(file: &Path, kind: StorageKind) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = (kind != StorageKind::Memory).then(|| dir.path().to_path_buf());
    let db = Database::open(DatabaseConfig::new(kind, data_dir)).unwrap();
    let mut runner = Runner::new(move || {
        std::future::ready(Ok::<_, Error>(Connection {
            session: db.session(),
        }))
    });
    runner
        .run_file(file)
        .map_err(|e| format!("{} on {kind}:\n{}", file.display(), e.display(true)))
}

#[test]
fn slt_corpus_on_every_backend() {
    let files = common::slt_files();
    assert!(!files.is_empty());
    let mut kinds = vec![StorageKind::Memory, StorageKind::Redb];
    if cfg!(feature = "rocksdb") {
        kinds.push(StorageKind::RocksDb);
    }
    // Every file on every backend, then all the failures at once.
    let failures: Vec<String> = files
        .iter()
        .flat_map(|file| {
            kinds.iter().map(move |&kind| {
                // A panic is a bug: report it with the file rather than stop the corpus.
                std::panic::catch_unwind(|| run(file, kind))
                    .unwrap_or_else(|_| Err(format!("{} on {kind}: panicked", file.display())))
            })
        })
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
