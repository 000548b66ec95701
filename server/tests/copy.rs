//! COPY through the server: tokio-postgres's copy API (extended protocol) and psql's `\copy`
//! (simple protocol), in text and CSV, with errors that leave the session usable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use bytes::Bytes;
use common::Server;
use futures::{SinkExt, StreamExt};

async fn copy_in(
    client: &tokio_postgres::Client,
    sql: &str,
    data: &str,
) -> Result<u64, tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(sql).await?;
    futures::pin_mut!(sink);
    // Split so rows straddle CopyData messages.
    for chunk in data.as_bytes().chunks(7) {
        sink.send(Bytes::copy_from_slice(chunk)).await?;
    }
    sink.finish().await
}

async fn copy_out(client: &tokio_postgres::Client, sql: &str) -> String {
    let stream = client.copy_out(sql).await.unwrap();
    futures::pin_mut!(stream);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn tokio_postgres_copies_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT, price NUMERIC(8,2))")
        .await
        .unwrap();

    let mut data = String::new();
    for i in 0..5000 {
        data.push_str(&format!("{i}\titem {i}\t{}.25\n", i % 100));
    }
    data.push_str("5000\t\\N\t\\N\n");
    let loaded = copy_in(&client, "COPY items FROM STDIN", &data)
        .await
        .unwrap();
    assert_eq!(loaded, 5001);
    let row = client
        .query_one("SELECT count(*), sum(price), count(name) FROM items", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 5001);
    assert_eq!(row.get::<_, i64>(2), 5000);

    // Out again, as text: exactly what went in.
    assert_eq!(copy_out(&client, "COPY items TO STDOUT").await, data);
    // CSV with a header, from a query.
    assert_eq!(
        copy_out(
            &client,
            "COPY (SELECT id, name FROM items WHERE id IN (1, 5000) ORDER BY id) \
             TO STDOUT WITH (FORMAT csv, HEADER)"
        )
        .await,
        "id,name\n1,item 1\n5000,\n"
    );

    // A bad row: the SQLSTATE and where it is; nothing of that load is kept.
    let err = copy_in(&client, "COPY items FROM STDIN CSV", "9001,a,1\n9002,b,x\n")
        .await
        .unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(
        db.code(),
        &tokio_postgres::error::SqlState::INVALID_TEXT_REPRESENTATION
    );
    assert_eq!(db.where_(), Some("COPY items, line 2, column price: \"x\""));
    let count: i64 = client
        .query_one("SELECT count(*) FROM items WHERE id > 9000", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);

    // Inside a transaction the rows are the transaction's.
    client.batch_execute("BEGIN").await.unwrap();
    copy_in(&client, "COPY items (id) FROM STDIN", "9100\n9101\n")
        .await
        .unwrap();
    client.batch_execute("ROLLBACK").await.unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM items WHERE id > 9000", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
}

#[test]
fn psql_copies_files_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "id,city\n1,Oslo\n2,\"Rio, BR\"\n3,\n").unwrap();
    let output = dir.path().join("out.txt");
    let script = format!(
        "CREATE TABLE cities (id INT PRIMARY KEY, city TEXT);\n\
         \\copy cities FROM '{}' WITH (FORMAT csv, HEADER)\n\
         \\copy (SELECT * FROM cities ORDER BY id) TO '{}'\n\
         SELECT count(*) FROM cities WHERE city IS NULL;\n",
        input.display(),
        output.display()
    );
    let result = common::psql(&server, "bob", None, &["-A", "-t"], &script);
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_eq!(stdout.trim(), "CREATE TABLE\nCOPY 3\nCOPY 3\n1");
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "1\tOslo\n2\tRio, BR\n3\t\\N\n"
    );
}
