//! `omendb-bench`: one benchmark suite that anyone can run, OmenDB against its peers, side by
//! side in one run.
//!
//! ```sh
//! omendb-bench embedded                # the engine vs SQLite at 10K … 10M rows
//! omendb-bench alex                    # the ALEX index vs BTreeMap at 1M and 10M keys
//! omendb-bench plot bench-results/*.json --out bench-results/charts
//! omendb-bench embedded --quick        # a fast smoke run (the test suite runs these)
//! ```
//!
//! Each suite prints Markdown tables of medians (min–max) with OmenDB's advantage, and writes
//! every sample to a JSON file that `plot` turns into PNG charts.

#![allow(clippy::expect_used)] // a benchmark stops at the first thing that goes wrong

mod alex;
#[path = "../../benches/common/mod.rs"]
mod common;
mod embedded;
mod plot;
mod report;
mod server;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use report::{Group, Report};

/// Live heap bytes, for the `alex` suite's bytes per key.
pub static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to the system allocator; we only count bytes.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

#[derive(Debug, Parser)]
#[command(
    name = "omendb-bench",
    version,
    about = "OmenDB against SQLite and BTreeMap, side by side, with charts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .map_err(|_| format!("not a number: {s}"))
        })
        .collect()
}

#[derive(Debug, Subcommand)]
enum Command {
    /// OmenDB's engine (SQL, prepared statements) vs SQLite in one process.
    Embedded {
        /// Table sizes, comma-separated.
        #[arg(long, value_parser = list::<usize>, default_value = "10000,100000,1000000,10000000")]
        rows: Vec<Vec<usize>>,
        /// Key orders.
        #[arg(
            long,
            value_enum,
            value_delimiter = ',',
            default_value = "sequential,random"
        )]
        keys: Vec<embedded::Keys>,
        /// Durability: synchronous commit off (SQLite NORMAL), on (SQLite FULL), or both.
        #[arg(long, value_delimiter = ',', default_value = "off,on")]
        sync: Vec<String>,
        /// Repetitions per configuration (the median is reported).
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// A fast smoke run: 2,000 rows, one repetition, few operations.
        #[arg(long)]
        quick: bool,
        /// OmenDB's `omendb.analytics`: `auto` runs analytical queries on DataFusion, `off`
        /// keeps every query on the native executor.
        #[arg(long, value_parser = ["auto", "off"], default_value = "auto")]
        analytics: String,
        /// Where to write every sample.
        #[arg(long, default_value = "bench-results/embedded.json")]
        json: PathBuf,
    },
    /// The ALEX learned index vs BTreeMap<u64, u64>.
    Alex {
        /// Key counts, comma-separated.
        #[arg(long, value_parser = list::<usize>, default_value = "1000000,10000000")]
        keys: Vec<Vec<usize>>,
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// A fast smoke run: 100,000 keys, one repetition.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-results/alex.json")]
        json: PathBuf,
    },
    /// OmenDB's server vs PostgreSQL with pgbench (both started here, both durable, SCRAM).
    Server {
        /// pgbench's scale factor (100,000 accounts each).
        #[arg(long, default_value_t = 10)]
        scale: usize,
        /// Client counts, comma-separated.
        #[arg(long, value_parser = list::<usize>, default_value = "1,8,32")]
        clients: Vec<Vec<usize>>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 20)]
        seconds: usize,
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// pgbench's query protocols (simple, extended, prepared), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "prepared")]
        protocols: Vec<String>,
        /// The omendb-server binary (default: next to this program).
        #[arg(long)]
        server_bin: Option<PathBuf>,
        /// A fast smoke run: scale 1, 1 and 4 clients, 1 second, one repetition.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-results/server.json")]
        json: PathBuf,
    },
    /// PNG charts from the suites' JSON files.
    Plot {
        /// JSON files written by the suites.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, default_value = "bench-results/charts")]
        out: PathBuf,
    },
    /// (internal) Loads one engine's tables in this fresh process and reports its footprint.
    #[command(hide = true)]
    EmbeddedFootprint {
        #[arg(long)]
        engine: String,
        #[arg(long)]
        rows: usize,
        #[arg(long, value_enum)]
        keys: embedded::Keys,
        #[arg(long)]
        sync: bool,
    },
}

fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    bar.set_message(what.to_string());
    bar
}

fn save(report: &Report, path: &std::path::Path) {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).expect("create the JSON file's directory");
    }
    report.save(path).expect("write the JSON file");
    println!("\nAll samples: {}", path.display());
}

/// Runs `embedded-footprint` for one engine in a child process.
fn footprint(engine: &str, cfg: &embedded::Config) -> embedded::Footprint {
    let exe = std::env::current_exe().expect("this program's path");
    let keys = match cfg.keys {
        embedded::Keys::Sequential => "sequential",
        embedded::Keys::Random => "random",
    };
    let output = std::process::Command::new(exe)
        .args([
            "embedded-footprint",
            "--engine",
            engine,
            "--rows",
            &cfg.rows.to_string(),
            "--keys",
            keys,
        ])
        .args(cfg.sync.then_some("--sync"))
        .output()
        .expect("run the footprint child");
    assert!(
        output.status.success(),
        "footprint child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the child's JSON")
}

fn embedded_suite(
    rows: &[usize],
    keys: &[embedded::Keys],
    sync: &[bool],
    analytics: &'static str,
    reps: usize,
    quick: bool,
    json: &std::path::Path,
) {
    let mut report = Report::new("embedded");
    let configs: Vec<embedded::Config> = rows
        .iter()
        .flat_map(|&r| {
            keys.iter()
                .flat_map(move |&k| sync.iter().map(move |&s| (r, k, s)))
        })
        .map(|(r, k, s)| embedded::Config {
            analytics,
            ..embedded::Config::new(r, k, s, quick)
        })
        .collect();
    let progress = bar(configs.len() * (reps + 1), "embedded");
    for cfg in &configs {
        progress.set_message(cfg.title());
        let mut operations = report::alternate(
            reps,
            |seed| {
                let figures = embedded::run_omendb(cfg, seed);
                progress.inc(0);
                figures
            },
            |seed| {
                let figures = embedded::run_sqlite(cfg, seed);
                progress.inc(1);
                figures
            },
        );
        let (ours, theirs) = (footprint("omendb", cfg), footprint("sqlite", cfg));
        progress.inc(1);
        for (name, a, b) in [
            (
                "peak RSS growth while loading",
                ours.rss_bytes_per_row,
                theirs.rss_bytes_per_row,
            ),
            (
                "on-disk size after loading",
                ours.disk_bytes_per_row,
                theirs.disk_bytes_per_row,
            ),
        ] {
            operations.push(report::Operation {
                name: name.into(),
                unit: "bytes/row".into(),
                better: report::Better::Lower,
                samples: [vec![a], vec![b]],
            });
        }
        progress.suspend(|| {
            report.push(Group {
                title: cfg.title(),
                params: BTreeMap::from([
                    ("rows".into(), json!(cfg.rows)),
                    ("keys".into(), json!(cfg.keys)),
                    ("sync".into(), json!(if cfg.sync { "on" } else { "off" })),
                ]),
                contenders: [
                    format!(
                        "OmenDB ({})",
                        omendb::storage::StorageKind::default_for_build()
                    ),
                    format!("SQLite {}", rusqlite::version()),
                ],
                operations,
            })
        });
    }
    progress.finish_and_clear();
    save(&report, json);
}

fn alex_suite(sizes: &[usize], reps: usize, json: &std::path::Path) {
    use omendb::alex::AlexMap;
    let mut report = Report::new("alex");
    let progress = bar(sizes.len() * reps, "alex");
    for &n in sizes {
        let keys = common::sorted_keys(n, 42);
        progress.set_message(format!("{n} keys"));
        let operations = report::alternate(
            reps,
            |seed| alex::run_map::<AlexMap<u64, u64>>(&keys, seed),
            |seed| {
                let figures = alex::run_map::<std::collections::BTreeMap<u64, u64>>(&keys, seed);
                progress.inc(1);
                figures
            },
        );
        progress.suspend(|| {
            report.push(Group {
                title: format!("{n} keys, u64 → u64"),
                params: BTreeMap::from([("keys".into(), json!(n))]),
                contenders: alex::names(),
                operations,
            })
        });
    }
    progress.finish_and_clear();
    save(&report, json);
}

struct ServerRun {
    scale: usize,
    clients: Vec<usize>,
    seconds: usize,
    reps: usize,
    protocols: Vec<String>,
    binary: PathBuf,
}

fn server_suite(run: &ServerRun, json: &std::path::Path) -> Result<(), String> {
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pg = server::postgres(work.path())?;
    let om = server::omendb(work.path(), &run.binary)?;
    let mut report = Report::new("server");
    let contenders = [om.name.clone(), pg.name.clone()];
    let init = [
        server::initialise(&om, run.scale, work.path())?,
        server::initialise(&pg, run.scale, work.path())?,
    ];
    report.push(Group {
        title: format!("pgbench -i -s {}", run.scale),
        params: BTreeMap::from([("scale".into(), json!(run.scale))]),
        contenders: contenders.clone(),
        operations: vec![report::Operation {
            name: "initialise (load and index)".into(),
            unit: "s".into(),
            better: report::Better::Lower,
            samples: [vec![init[0]], vec![init[1]]],
        }],
    });
    // Every workload at every client count in every protocol; connection setup once, at one
    // client (each transaction opens a connection).
    let mut cells: Vec<(server::Workload, usize, &str)> = Vec::new();
    for protocol in &run.protocols {
        for &workload in &server::Workload::ALL {
            for &clients in &run.clients {
                cells.push((workload, clients, protocol));
            }
        }
    }
    cells.push((server::Workload::Connect, 1, "simple"));
    let progress = bar(cells.len() * run.reps, "server");
    for (workload, clients, protocol) in cells {
        progress.set_message(format!("{}, {clients} clients", workload.name()));
        let failure = std::cell::RefCell::new(None);
        let attempt = |server: &server::Server| {
            server::measure(
                server,
                workload,
                clients,
                run.seconds,
                protocol,
                work.path(),
            )
            .unwrap_or_else(|e| {
                failure.borrow_mut().get_or_insert(e);
                Vec::new()
            })
        };
        let operations = report::alternate(
            run.reps,
            |_| attempt(&om),
            |_| {
                progress.inc(1);
                attempt(&pg)
            },
        );
        if let Some(e) = failure.into_inner() {
            return Err(e);
        }
        progress.suspend(|| {
            report.push(Group {
                title: format!(
                    "{}, {clients} clients, scale {}, {} protocol, {} s",
                    workload.name(),
                    run.scale,
                    protocol,
                    run.seconds
                ),
                params: BTreeMap::from([
                    ("clients".into(), json!(clients)),
                    ("workload".into(), json!(workload.name())),
                    ("protocol".into(), json!(protocol)),
                ]),
                contenders: contenders.clone(),
                operations,
            })
        });
    }
    progress.finish_and_clear();
    save(&report, json);
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Embedded {
            rows,
            keys,
            sync,
            reps,
            quick,
            analytics,
            json,
        } => {
            let rows: Vec<usize> = if quick {
                vec![2_000]
            } else {
                rows.into_iter().flatten().collect()
            };
            let sync: Vec<bool> = sync
                .iter()
                .map(|s| match s.as_str() {
                    "on" => true,
                    "off" => false,
                    other => {
                        eprintln!("--sync takes off and/or on, not {other:?}");
                        std::process::exit(2);
                    }
                })
                .collect();
            embedded_suite(
                &rows,
                &keys,
                &sync,
                if analytics == "off" { "off" } else { "auto" },
                if quick { 1 } else { reps },
                quick,
                &json,
            );
        }
        Command::Alex {
            keys,
            reps,
            quick,
            json,
        } => {
            let sizes: Vec<usize> = if quick {
                vec![100_000]
            } else {
                keys.into_iter().flatten().collect()
            };
            alex_suite(&sizes, if quick { 1 } else { reps }, &json);
        }
        Command::Server {
            scale,
            clients,
            seconds,
            reps,
            protocols,
            server_bin,
            quick,
            json,
        } => {
            let binary = server_bin.unwrap_or_else(|| {
                let exe = std::env::current_exe().expect("this program's path");
                exe.with_file_name("omendb-server")
            });
            let run = if quick {
                ServerRun {
                    scale: 1,
                    clients: vec![1, 4],
                    seconds: 1,
                    reps: 1,
                    protocols,
                    binary,
                }
            } else {
                ServerRun {
                    scale,
                    clients: clients.into_iter().flatten().collect(),
                    seconds,
                    reps,
                    protocols,
                    binary,
                }
            };
            if let Err(e) = server_suite(&run, &json) {
                eprintln!("server: {e}");
                std::process::exit(1);
            }
        }
        Command::Plot { files, out } => {
            let reports: Vec<Report> = files
                .iter()
                .map(|f| Report::load(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
                .collect();
            match plot::plot(&reports, &out) {
                Ok(written) => {
                    for path in written {
                        println!("{}", path.display());
                    }
                }
                Err(e) => {
                    eprintln!("plot: {e}");
                    std::process::exit(1);
                }
            }
        }
        Command::EmbeddedFootprint {
            engine,
            rows,
            keys,
            sync,
        } => {
            let cfg = embedded::Config::new(rows, keys, sync, false);
            let figures = embedded::footprint(&engine, &cfg);
            println!("{}", serde_json::to_string(&figures).expect("JSON"));
        }
    }
}
