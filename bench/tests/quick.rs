//! Every subcommand of `omendb-bench` in its fast mode, so the harness cannot rot: the suites
//! print their tables, write JSON that `plot` reads back, and `plot` writes PNG charts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn bench(args: &[&str], dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_omendb-bench"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run omendb-bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "omendb-bench {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn groups(path: &Path) -> Vec<serde_json::Value> {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    report["groups"].as_array().unwrap().clone()
}

#[test]
fn the_quick_suites_report_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&["embedded", "--quick", "--json", "e.json"], dir.path());
    assert_eq!(out.matches("### 2000 rows").count(), 4, "{out}");
    assert!(out.contains("| point select, hit | ns/op |"), "{out}");
    let embedded = groups(&dir.path().join("e.json"));
    assert_eq!(embedded.len(), 4);
    let names: Vec<&str> = embedded[0]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for expected in [
        "bulk insert, one transaction (per row)",
        "point select, miss",
        "select of 10 keys with IN (per query)",
        "range select, 10,000 rows (per query)",
        "2-table join with an aggregate (per query)",
        "delete by key, a transaction each",
        "mixed 80% point select / 20% update, a transaction each",
        "insert with a savepoint per row, one transaction (per row)",
        "look up by a secondary index, then insert, one transaction (per row)",
        "peak RSS growth while loading",
        "on-disk size after loading",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    for op in embedded[0]["operations"].as_array().unwrap() {
        for side in op["samples"].as_array().unwrap() {
            let samples = side.as_array().unwrap();
            assert_eq!(samples.len(), 1, "{op}");
            assert!(samples[0].as_f64().unwrap() > 0.0, "{op}");
        }
    }

    let out = bench(&["alex", "--quick", "--json", "a.json"], dir.path());
    assert!(out.contains("| lookup (hit) | ns/op |"), "{out}");
    assert_eq!(groups(&dir.path().join("a.json")).len(), 1);

    let out = bench(&["plot", "e.json", "a.json", "--out", "charts"], dir.path());
    let charts: Vec<&str> = out.lines().collect();
    assert!(charts.len() >= 3, "{out}");
    for chart in charts {
        let bytes = std::fs::read(dir.path().join(chart)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{chart}");
    }
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_omendb-bench"))
        .args(["embedded", "--sync", "sometimes"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--sync takes off and/or on"));
}

/// The server suite against a real PostgreSQL, briefly: both servers start, pgbench runs every
/// workload on both, and the report has TPS and latencies for each.
#[test]
fn the_quick_server_suite_runs_pgbench_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&["server", "--quick", "--json", "s.json"], dir.path());
    assert!(out.contains("### pgbench -i -s 1"), "{out}");
    assert!(out.contains("Loopback floor (one connection"), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    let floor = &report["machine"]["loopback"]["same_core"];
    assert!(floor["per_s"].as_f64().unwrap() > 0.0, "{floor}");
    assert!(
        floor["p50_us"].as_f64() <= floor["p99_us"].as_f64(),
        "{floor}"
    );
    let groups = groups(&dir.path().join("s.json"));
    // Initialisation, 4 workloads × 2 client counts, then connection setup.
    assert_eq!(groups.len(), 1 + 4 * 2 + 1, "{out}");
    for group in &groups[1..] {
        assert_eq!(group["params"]["scale"], 1, "{group}");
        let ops = group["operations"].as_array().unwrap();
        let tps = ops.iter().find(|o| o["name"] == "throughput").unwrap();
        for side in tps["samples"].as_array().unwrap() {
            assert!(side[0].as_f64().unwrap() > 0.0, "{group}");
        }
        for name in ["p50", "p90", "p99", "p99.9"].map(|p| format!("latency {p}")) {
            assert!(
                ops.iter().any(|o| o["name"] == name.as_str()),
                "{name}: {group}"
            );
        }
        assert!(
            ops.iter().any(|o| o["name"] == "failed transactions"),
            "{group}"
        );
    }
    let charts = bench(&["plot", "s.json", "--out", "charts"], dir.path());
    assert!(
        charts
            .lines()
            .any(|c| c.contains("server-latency-protocol-prepared-scale-1-workload-tpcb-like")),
        "{charts}"
    );
}

/// The TPC-H-style suite at a tiny scale: OmenDB (analytics on and off), SQLite and PostgreSQL
/// load the same data, their answers to all six queries are compared before anything is timed
/// (the suite fails if they differ), and each query has a figure for every contender.
#[test]
fn the_quick_tpch_suite_checks_answers_and_times_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&["tpch", "--quick", "--json", "t.json"], dir.path());
    assert!(out.contains("SF 0.01 loaded in"), "{out}");
    let groups = groups(&dir.path().join("t.json"));
    assert_eq!(
        groups.len(),
        4,
        "vs SQLite, PostgreSQL and analytics off, then point selects: {out}"
    );
    let oltp = &groups[3]["operations"][0];
    assert_eq!(oltp["name"], "point select", "{out}");
    for side in oltp["samples"].as_array().unwrap() {
        assert!(side[0].as_f64().unwrap() > 0.0, "{oltp}");
    }
    for group in &groups[..3] {
        let names: Vec<&str> = group["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Q1", "Q3", "Q5", "Q6", "Q10", "Q12"], "{group}");
        for op in group["operations"].as_array().unwrap() {
            for side in op["samples"].as_array().unwrap() {
                assert!(side[0].as_f64().unwrap() > 0.0, "{op}");
            }
        }
        assert_eq!(group["params"]["engines"]["Q6"], "datafusion", "{group}");
    }
    // One chart per peer, named by it (not by the run's engines and load times).
    let charts = bench(&["plot", "t.json", "--out", "charts"], dir.path());
    let names: Vec<&str> = charts.lines().collect();
    assert!(
        names.iter().any(|c| c.contains("tpch-peer-sqlite")),
        "{charts}"
    );
    assert!(names.iter().all(|c| !c.contains("engines")), "{charts}");
}
