//! OmenDB natively against OmenDB compiled to WebAssembly and run in Node, side by side in one
//! run: the same statements (prepared inserts in one transaction, prepared point selects by
//! primary key) on the same backend (redb in memory). The wasm side is
//! `wasm-pkg/bench/workload.cjs` on `wasm-pkg/pkg/node` (built by `scripts/dev.sh web`).
//!
//! ```sh
//! cargo bench --bench wasm_ratio                    # 200K rows, 200K point selects, 5 repetitions
//! cargo bench --bench wasm_ratio -- --quick         # a fast smoke run
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may panic

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{Args, Results, compare_named};
use omendb::storage::StorageKind;
use omendb::types::Value;
use omendb::{Database, DatabaseConfig};

const INSERT: &str = "bulk insert (prepared, one transaction)";
const POINT: &str = "point select (prepared)";

/// Row `i`'s key, as the wasm side computes it.
fn key(i: u64) -> i64 {
    (i.wrapping_mul(2_654_435_761) % 4_294_967_296) as i64
}

fn native(rows: usize, points: usize) -> Results {
    let db = Database::open(DatabaseConfig::new(StorageKind::Redb, None)).unwrap();
    let mut session = db.session();
    session
        .execute("CREATE TABLE kv (id BIGINT PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    let insert = session.prepare("INSERT INTO kv VALUES ($1, $2)").unwrap();
    let start = Instant::now();
    session.execute("BEGIN").unwrap();
    for i in 0..rows as u64 {
        let params = [Value::Int(key(i)), Value::from(format!("value-{i}"))];
        session.execute_prepared(&insert, &params).unwrap();
    }
    session.execute("COMMIT").unwrap();
    let insert_ns = start.elapsed().as_nanos() as f64 / rows as f64;

    let select = session.prepare("SELECT v FROM kv WHERE id = $1").unwrap();
    let mut found = 0;
    let start = Instant::now();
    for j in 0..points as u64 {
        let k = key((j * 7919) % rows as u64);
        found += session
            .execute_prepared(&select, &[Value::Int(k)])
            .unwrap()
            .rows
            .len();
    }
    let point_ns = start.elapsed().as_nanos() as f64 / points as f64;
    assert_eq!(found, points);
    vec![(INSERT, insert_ns), (POINT, point_ns)]
}

fn wasm(rows: usize, points: usize) -> Results {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("wasm-pkg/bench/workload.cjs");
    assert!(
        root.join("wasm-pkg/pkg/node/omendb_wasm.js").exists(),
        "build the wasm package first: scripts/dev.sh web"
    );
    let output = Command::new("node")
        .arg(script)
        .args(["--rows", &rows.to_string(), "--points", &points.to_string()])
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "the wasm workload failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON from the workload");
    [INSERT, POINT]
        .into_iter()
        .map(|name| (name, answer[name].as_f64().expect("a figure per operation")))
        .collect()
}

fn main() {
    let args = Args::from_env();
    let rows = args.number("--rows", 200_000, 2_000);
    let points = args.number("--points", 200_000, 2_000);
    let reps = args.number("--reps", 5, 1);
    compare_named(
        &format!(
            "OmenDB native vs WebAssembly in Node {}, {rows} rows, {points} point selects",
            node_version()
        ),
        ("native", "wasm (Node)"),
        reps,
        |_| native(rows, points),
        |_| wasm(rows, points),
    );
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
