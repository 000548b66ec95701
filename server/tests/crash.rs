//! Crash safety through the server: SIGKILL in the middle of a write load from several
//! clients, restart, and every commit a client saw acknowledged is there.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::sync::{Arc, Mutex};

use common::Server;

#[tokio::test]
async fn acknowledged_commits_survive_sigkill() {
    for storage in ["redb", "rocksdb"] {
        if storage == "rocksdb" && !cfg!(feature = "rocksdb") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start(dir.path(), &["--storage", storage]);
        let setup = server.connect().await;
        setup
            .batch_execute("CREATE TABLE events (id BIGINT PRIMARY KEY, writer INT, note TEXT)")
            .await
            .unwrap();
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let (enough, mut enough_rx) = tokio::sync::mpsc::channel::<()>(1);
        let mut writers = Vec::new();
        for writer in 0..4i64 {
            let client = server.connect().await;
            let acknowledged = acknowledged.clone();
            let enough = enough.clone();
            writers.push(tokio::spawn(async move {
                let insert = client
                    .prepare("INSERT INTO events VALUES ($1, $2, 'x')")
                    .await
                    .unwrap();
                for i in 0.. {
                    let id = i * 4 + writer;
                    // Some in explicit transactions with two rows, some in autocommit.
                    let done = if i % 3 == 0 {
                        client
                            .batch_execute(&format!(
                                "BEGIN; INSERT INTO events VALUES ({id}, {writer}, 'a'); \
                                 UPDATE events SET note = 'b' WHERE id = {id}; COMMIT"
                            ))
                            .await
                            .is_ok()
                    } else {
                        client
                            .execute(&insert, &[&id, &(writer as i32)])
                            .await
                            .is_ok()
                    };
                    if !done {
                        return; // the server is gone
                    }
                    let count = {
                        let mut acked = acknowledged.lock().unwrap();
                        acked.push(id);
                        acked.len()
                    };
                    if count == 300 {
                        let _ = enough.try_send(());
                    }
                }
            }));
        }
        enough_rx.recv().await.unwrap();
        server.kill();
        for writer in writers {
            writer.await.unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap().clone();
        assert!(acknowledged.len() >= 300);

        let server = Server::start(dir.path(), &["--storage", storage]);
        let client = server.connect().await;
        let present: std::collections::HashSet<i64> = client
            .query("SELECT id FROM events", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let missing: Vec<&i64> = acknowledged
            .iter()
            .filter(|id| !present.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "{storage}: acknowledged but lost: {missing:?}"
        );
        let torn: i64 = client
            .query_one(
                "SELECT count(*) FROM events WHERE id % 12 IN (0, 1, 2, 3) AND note = 'a'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            torn, 0,
            "{storage}: a two-statement transaction half applied"
        );
    }
}
