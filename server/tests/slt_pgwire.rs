//! The SQL corpus (`tests/slt/*.slt`) run over pgwire: each file against a fresh server, through
//! tokio-postgres's simple query protocol, so the wire adds nothing the engine does not say.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

mod common;

use std::path::Path;

use common::Server;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType, Runner};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

struct Wire {
    client: Client,
}

/// A client error shown as the server's message (what `statement error <regex>` matches).
#[derive(Debug)]
struct WireError(tokio_postgres::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => f.write_str(db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for WireError {}

#[async_trait::async_trait]
impl AsyncDB for Wire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let messages = self.client.simple_query(sql).await.map_err(WireError)?;
        // The last statement's messages decide: rows (if it described any) or its count.
        let last = messages
            .iter()
            .rposition(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
            .unwrap_or(0);
        let first = messages[..last]
            .iter()
            .rposition(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
            .map_or(0, |i| i + 1);
        let mut described = None;
        let mut rows = Vec::new();
        for message in &messages[first..=last.min(messages.len().saturating_sub(1))] {
            match message {
                SimpleQueryMessage::RowDescription(columns) => described = Some(columns.len()),
                SimpleQueryMessage::Row(row) => rows.push(
                    (0..row.len())
                        .map(|i| match row.get(i) {
                            None => "NULL".to_string(),
                            Some("") => "(empty)".to_string(),
                            Some(v) => v.to_string(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) if described.is_none() => {
                    return Ok(DBOutput::StatementComplete(*n));
                }
                _ => {}
            }
        }
        match described {
            Some(width) => Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; width],
                rows,
            }),
            None => Ok(DBOutput::StatementComplete(0)),
        }
    }

    async fn shutdown(&mut self) {}

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        err.0.code().map(|c| c.code().to_string())
    }
}

async fn run(file: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let config = format!("host=127.0.0.1 port={} user=slt", server.pg.port());
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move {
            let (client, connection) = tokio_postgres::connect(&config, NoTls)
                .await
                .map_err(WireError)?;
            tokio::spawn(connection);
            Ok(Wire { client })
        }
    });
    let result = runner
        .run_file_async(file)
        .await
        .map_err(|e| format!("{} over pgwire:\n{}", file.display(), e.display(true)));
    drop(server);
    result
}

#[tokio::test]
async fn slt_corpus_over_pgwire() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/slt");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for file in &files {
        if let Err(e) = run(file).await {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
