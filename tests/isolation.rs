//! Isolation anomalies as golden scripts: `tests/isolation/*.txt`, one scenario per file. Each
//! line `name: command` runs a command in transaction `name`; the runner writes each result
//! below its command as `> result`, and the file must match. Regenerate with
//! `UPDATE_GOLDEN=1 cargo test --release --test isolation` and review the diff.
//!
//! Commands act on `kv(k BIGINT PRIMARY KEY, v BIGINT)` with an index on `v`:
//! `begin [read only]`, `get K`, `insert K V`, `update K V`, `delete K`, `scan LO HI`,
//! `scan_desc LO HI`, `by_value LO HI` (index scan), `sum`, `commit`, `rollback`; `setup:`
//! lines commit on their own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use omendb::catalog::{Column, TableDef};
use omendb::storage::StorageKind;
use omendb::types::{DataType, Value};
use omendb::{Database, DatabaseConfig, Direction, Result, RowKey, Transaction};

fn run_script(script: &str, kind: StorageKind) -> String {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = (kind != StorageKind::Memory).then(|| dir.path().to_path_buf());
    let db = Database::open(DatabaseConfig::new(kind, data_dir)).unwrap();
    db.create_table(
        TableDef::new("kv")
            .column(Column::new("k", DataType::BigInt))
            .column(Column::new("v", DataType::BigInt))
            .primary_key(&["k"]),
    )
    .unwrap();
    db.create_index("kv", "kv_v", &["v"], false).unwrap();
    let session = db.session();
    let mut txns: BTreeMap<String, Transaction> = BTreeMap::new();
    let mut out = String::new();
    for line in script.lines().filter(|l| !l.starts_with("> ")) {
        out.push_str(line);
        out.push('\n');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (name, command) = line.split_once(": ").expect("`name: command`");
        let words: Vec<&str> = command.split_whitespace().collect();
        let result = if name == "setup" {
            session
                .autocommit(|txn| run(txn, &words))
                .map(|r| r.unwrap_or_default())
        } else {
            match words.as_slice() {
                ["begin"] => session.begin().map(|t| {
                    txns.insert(name.to_string(), t);
                    String::new()
                }),
                ["begin", "read", "only"] => session.begin_read_only().map(|t| {
                    txns.insert(name.to_string(), t);
                    String::new()
                }),
                ["commit"] => txns
                    .remove(name)
                    .expect("commit without begin")
                    .commit()
                    .map(|()| String::new()),
                ["rollback"] => {
                    txns.remove(name)
                        .expect("rollback without begin")
                        .rollback();
                    Ok(String::new())
                }
                _ => run(txns.get_mut(name).expect("command without begin"), &words)
                    .map(|r| r.unwrap_or_default()),
            }
        };
        let shown = match result {
            Ok(text) if text.is_empty() => "ok".to_string(),
            Ok(text) => text,
            Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
        };
        out.push_str(&format!("> {shown}\n"));
    }
    out
}

fn run(txn: &mut Transaction, words: &[&str]) -> Result<Option<String>> {
    let n = |i: usize| -> i64 { words[i].parse().expect("a number") };
    let row = |k: i64, v: i64| vec![Value::Int(k), Value::Int(v)];
    let show = |rows: Vec<Vec<Value>>| -> String {
        let pairs: Vec<String> = rows.iter().map(|r| format!("{}={}", r[0], r[1])).collect();
        format!("[{}]", pairs.join(" "))
    };
    let scan = |txn: &Transaction, direction| -> Result<String> {
        let range = RowKey::Int(n(1))..=RowKey::Int(n(2));
        let rows: Result<Vec<_>> = txn
            .scan("kv", range, direction)?
            .map(|r| r.map(|(_, row)| row.to_vec()))
            .collect();
        Ok(show(rows?))
    };
    Ok(Some(match words[0] {
        "get" => match txn.get("kv", &RowKey::Int(n(1)))? {
            Some(r) => r[1].to_string(),
            None => "none".into(),
        },
        "insert" => {
            txn.insert("kv", row(n(1), n(2)))?;
            return Ok(None);
        }
        "update" => txn
            .update("kv", &RowKey::Int(n(1)), row(n(1), n(2)))?
            .to_string(),
        "delete" => txn.delete("kv", &RowKey::Int(n(1)))?.to_string(),
        "scan" => scan(txn, Direction::Forward)?,
        "scan_desc" => scan(txn, Direction::Backward)?,
        "by_value" => {
            let (lo, hi) = ([Value::Int(n(1))], [Value::Int(n(2))]);
            let rows = txn.scan_index(
                "kv",
                "kv_v",
                Bound::Included(&lo[..]),
                Bound::Included(&hi[..]),
                Direction::Forward,
            )?;
            let rows: Result<Vec<_>> = rows.map(|r| r.map(|(_, row)| row.to_vec())).collect();
            show(rows?)
        }
        "sum" => {
            let mut sum = 0;
            for item in txn.scan("kv", .., Direction::Forward)? {
                if let Value::Int(v) = item?.1[1] {
                    sum += v;
                }
            }
            format!("sum={sum}")
        }
        other => panic!("unknown command {other:?}"),
    }))
}

#[test]
fn isolation_scripts() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/isolation");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "one script per anomaly");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut kinds = vec![StorageKind::Memory, StorageKind::Redb];
    if cfg!(feature = "rocksdb") {
        kinds.push(StorageKind::RocksDb);
    }
    for file in files {
        let script = std::fs::read_to_string(&file).unwrap();
        let output = run_script(&script, kinds[0]);
        for &kind in &kinds[1..] {
            assert_eq!(
                run_script(&script, kind),
                output,
                "{} differs on {kind}",
                file.display()
            );
        }
        if update {
            std::fs::write(&file, &output).unwrap();
        } else {
            assert_eq!(
                output,
                script,
                "{} (UPDATE_GOLDEN=1 regenerates)",
                file.display()
            );
        }
    }
}
