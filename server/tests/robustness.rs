//! Hostile and broken byte streams close only their own connection: random bytes, truncated
//! and oversized messages, messages out of order, a thousand short connections — and a
//! client connected throughout keeps working.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Server;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Sends `bytes` on a fresh connection and reads until the server closes it (or a read
/// times out, which fails the test: the server must not hang on garbage).
fn send_and_drain(server: &Server, bytes: &[u8]) {
    let mut stream = TcpStream::connect(server.pg).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The server may close before reading everything: a failed write is fine.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = Vec::new();
    match stream.read_to_end(&mut sink) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server neither answered nor closed: {e}"),
    }
}

fn startup(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(196_608u32.to_be_bytes()); // protocol 3.0
    for (k, v) in [("user", user), ("database", "omendb")] {
        body.extend(k.as_bytes());
        body.push(0);
        body.extend(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend(body);
    message
}

#[tokio::test]
async fn broken_streams_close_only_their_own_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let steady = server.connect().await;
    steady
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();

    let mut rng = SmallRng::seed_from_u64(7);
    let mut cases: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0, 0],
        // A startup length far beyond any message.
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
        // A truncated startup.
        startup("alice")[..10].to_vec(),
        // A negative (huge unsigned) length.
        vec![0xff, 0xff, 0xff, 0xf0],
    ];
    // After a good startup: a query message claiming a gigabyte, an unknown message type,
    // a query without its terminator, and a Bind for a statement that does not exist.
    for tail in [
        vec![b'Q', 0x40, 0, 0, 0, b'S'],
        vec![b'z', 0, 0, 0, 4],
        vec![b'Q', 0, 0, 0, 9, b'S', b'E', b'L', b'E', b'C'],
        vec![b'B', 0, 0, 0, 12, 0, b'n', b'o', 0, 0, 0, 0, 0],
    ] {
        let mut bytes = startup("alice");
        bytes.extend(tail);
        cases.push(bytes);
    }
    for _ in 0..40 {
        let len = rng.random_range(1..300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if rng.random_bool(0.5) {
            let mut good = startup("alice");
            good.append(&mut bytes);
            bytes = good;
        }
        cases.push(bytes);
    }
    for case in &cases {
        send_and_drain(&server, case);
        let n: i32 = steady
            .query_one("SELECT id FROM t", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "the steady client goes on after {case:?}");
    }

    // A thousand connections opened and closed.
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(server.pg).unwrap();
        stream.write_all(&startup("alice")).unwrap();
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).unwrap();
        assert_eq!(first[0], b'R', "an authentication message");
    }
    let n: i32 = steady
        .query_one("SELECT id FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    let client = server.connect().await;
    client.query_one("SELECT 1", &[]).await.unwrap();
}

/// One protocol message: its type byte, its length, its body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend(((body.len() + 4) as u32).to_be_bytes());
    out.extend(body);
    out
}

/// Reads messages until one of type `last` arrives; their types in order. A read that times
/// out fails the test: the server kept an answer the client asked for.
fn read_until(stream: &mut TcpStream, last: u8) -> Vec<u8> {
    let mut kinds = Vec::new();
    loop {
        let mut head = [0u8; 5];
        stream
            .read_exact(&mut head)
            .expect("the server did not send what the client waits for");
        let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut body = vec![0u8; len - 4];
        stream.read_exact(&mut body).unwrap();
        kinds.push(head[0]);
        if head[0] == last {
            return kinds;
        }
    }
}

/// The answers to Parse, Bind, Describe, Execute and Close wait in the write buffer for the
/// Sync, like PostgreSQL's; a client's Flush message must still bring them out without a Sync.
#[test]
fn flush_without_sync_brings_out_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--storage", "memory"]);
    let mut stream = TcpStream::connect(server.pg).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(&startup("omendb")).unwrap();
    read_until(&mut stream, b'Z');

    let mut batch = message(b'P', b"\0SELECT 41 + 1\0\0\0");
    batch.extend(message(b'B', b"\0\0\0\0\0\0\0\0"));
    batch.extend(message(b'E', b"\0\0\0\0\0"));
    batch.extend(message(b'H', b""));
    stream.write_all(&batch).unwrap();
    assert_eq!(read_until(&mut stream, b'C'), b"12DC");

    // The same with Sync: everything, then ReadyForQuery.
    let mut batch = message(b'B', b"\0\0\0\0\0\0\0\0");
    batch.extend(message(b'E', b"\0\0\0\0\0"));
    batch.extend(message(b'S', b""));
    stream.write_all(&batch).unwrap();
    assert_eq!(read_until(&mut stream, b'Z'), b"2DCZ");

    // A named statement described, bound, the portal described, executed, both closed; then
    // a Flush: ParameterDescription and RowDescription for the statement, RowDescription for
    // the portal, and CloseComplete twice.
    let mut batch = message(b'P', b"s1\0SELECT $1::int + 1\0\0\0");
    batch.extend(message(b'D', b"Ss1\0"));
    batch.extend(message(b'B', b"p1\0s1\0\0\0\0\x01\0\0\0\x0241\0\0"));
    batch.extend(message(b'D', b"Pp1\0"));
    batch.extend(message(b'E', b"p1\0\0\0\0\0"));
    batch.extend(message(b'C', b"Pp1\0"));
    batch.extend(message(b'C', b"Ss1\0"));
    batch.extend(message(b'H', b""));
    stream.write_all(&batch).unwrap();
    assert_eq!(read_until(&mut stream, b'3'), b"1tT2TDC3");
    assert_eq!(read_until(&mut stream, b'3'), b"3");
    stream.write_all(&message(b'S', b"")).unwrap();
    assert_eq!(read_until(&mut stream, b'Z'), b"Z");
}
