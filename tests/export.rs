//! `Database::export` and `Database::import`: what the WebAssembly package saves to IndexedDB and
//! hands to `exportBytes()`. An export holds every committed change and nothing uncommitted, and
//! opens again in any backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use omendb::storage::StorageKind;
use omendb::{Database, DatabaseConfig};

const SETUP: &str = "
    CREATE TABLE items (id INT PRIMARY KEY, name TEXT NOT NULL, price NUMERIC(10,2), note TEXT);
    CREATE INDEX items_name ON items (name);
    CREATE TABLE counters (n SERIAL PRIMARY KEY, at DATE DEFAULT DATE '2024-01-02');
    CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10;
    CREATE ROLE reader LOGIN PASSWORD 'secret';
    INSERT INTO items SELECT g, 'item ' || g, g * 1.25, 'n' || (g % 3) FROM generate_series(1, 2000) g;
    INSERT INTO counters DEFAULT VALUES; INSERT INTO counters DEFAULT VALUES;
    DELETE FROM items WHERE id % 7 = 0;
";

const CHECKS: &[&str] = &[
    "SELECT count(*), sum(price), min(name), max(id) FROM items",
    "SELECT * FROM items WHERE name = 'item 1234'",
    "SELECT * FROM cheap ORDER BY id",
    "SELECT * FROM counters ORDER BY n",
    "SELECT rolname FROM pg_roles WHERE rolname = 'reader'",
];

fn answers(db: &Database) -> Vec<String> {
    let mut session = db.session();
    CHECKS
        .iter()
        .map(|sql| format!("{:?}", session.execute(sql).unwrap()[0].rows))
        .collect()
}

#[test]
fn an_export_reopens_with_every_committed_change_in_any_backend() {
    let db = Database::open(DatabaseConfig::memory()).unwrap();
    db.session().execute(SETUP).unwrap();
    // An open transaction's writes are not part of the export.
    let mut open = db.session();
    open.execute("BEGIN; INSERT INTO items VALUES (5000, 'uncommitted', 1, NULL)")
        .unwrap();
    let bytes = db.export().unwrap();
    let expected = answers(&db);
    for kind in [StorageKind::Memory, StorageKind::Redb] {
        let dir = tempfile::tempdir().unwrap();
        let copy = Database::import(&bytes, &config(kind, dir.path())).unwrap();
        assert_eq!(answers(&copy), expected, "{kind:?}");
        let mut session = copy.session();
        let rows = session
            .execute("SELECT count(*) FROM items WHERE id = 5000")
            .unwrap();
        assert_eq!(format!("{:?}", rows[0].rows), "[[Int(0)]]");
        // The copy is a live database: its SERIAL goes on where the original's was.
        let next = session
            .execute("INSERT INTO counters DEFAULT VALUES RETURNING n")
            .unwrap();
        assert_eq!(format!("{:?}", next[0].rows), "[[Int(3)]]");
        assert_eq!(
            sqlstate(session.execute("INSERT INTO items VALUES (1, 'again', 1, NULL)")),
            "23505"
        );
    }
    open.execute("ROLLBACK").unwrap();
}

#[test]
fn bytes_that_are_not_an_export_are_refused() {
    let config = DatabaseConfig::memory();
    for bytes in [&b""[..], b"hello world", b"OMENDB\0\x01\xff\xff\xff"] {
        assert_eq!(sqlstate(Database::import(bytes, &config)), "22P03");
    }
    let mut good = Database::open(DatabaseConfig::memory())
        .unwrap()
        .export()
        .unwrap();
    good[7] = 99; // a format version this build does not know
    assert_eq!(sqlstate(Database::import(&good, &config)), "22P03");
}

#[test]
fn an_export_is_only_imported_into_empty_storage() {
    let dir = tempfile::tempdir().unwrap();
    let target = config(StorageKind::Redb, dir.path());
    let db = Database::open(target.clone()).unwrap();
    db.session()
        .execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .unwrap();
    let bytes = db.export().unwrap();
    drop(db);
    assert_eq!(sqlstate(Database::import(&bytes, &target)), "F0000");
}
