//! `omendb-bench`: one benchmark suite that anyone can run, OmenDB against its peers, side by
//! side in one run.
//!
//! ```sh
//! omendb-bench embedded                # the engine vs SQLite at 10K … 10M rows
//! omendb-bench alex                    # the ALEX index vs BTreeMap at 1M and 10M keys
//! omendb-bench plot bench-results/*.json --out bench-results/charts
//! omendb-bench tpch --sf 0.1,1         # TPC-H-style queries: analytics on/off, SQLite, PostgreSQL
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
mod tpch;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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
        /// Table sizes, comma-separated. 100000000 is optional: OmenDB holds ~450 bytes a row
        /// in memory while loading, ~45 GB at that size.
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
    /// TPC-H-style queries (Q1, Q3, Q5, Q6, Q10, Q12): OmenDB with omendb.analytics on, off,
    /// SQLite and PostgreSQL, after checking that their answers agree.
    Tpch {
        /// Scale factors, comma-separated (1: lineitem ~6M rows).
        #[arg(long, value_delimiter = ',', default_value = "0.1,1")]
        sf: Vec<f64>,
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// A fast smoke run: scale factor 0.01, one repetition.
        #[arg(long)]
        quick: bool,
        #[arg(long, default_value = "bench-results/tpch.json")]
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
    let mut report = Report::new("server");
    // Measured first, on a quiet machine: the repetition with the median rate across cores.
    let mut floors = (0..run.reps.max(1))
        .map(|_| server::loopback_round_trips(Duration::from_secs(run.seconds.min(3) as u64)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| format!("the loopback round trips: {e}"))?;
    let rate = |l: &report::Loopback| l.cross_core.unwrap_or(l.same_core).per_s;
    floors.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
    let floor = floors[floors.len() / 2];
    let placements = [
        ("two cores", floor.cross_core),
        ("one core", Some(floor.same_core)),
    ];
    for (placement, trips) in placements {
        if let Some(t) = trips {
            println!(
                "Loopback floor (one connection, blocking echo, {placement}): {:.0} round trips/s, p50 {:.0} µs, p99 {:.0} µs",
                t.per_s, t.p50_us, t.p99_us
            );
        }
    }
    report.machine.loopback = Some(floor);
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pg = server::postgres(work.path(), &[])?;
    let om = server::omendb(work.path(), &run.binary)?;
    let contenders = [om.name.clone(), pg.name.clone()];
    let init = [
        server::initialise(&om, run.scale, work.path())?,
        server::initialise(&pg, run.scale, work.path())?,
    ];
    let busiest = run.clients.iter().copied().max().unwrap_or(1);
    for server in [&om, &pg] {
        server::warm_up(server, busiest, run.seconds, work.path())?;
    }
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
                // The scale too: runs at scale 10 and 100 chart apart.
                params: BTreeMap::from([
                    ("clients".into(), json!(clients)),
                    ("workload".into(), json!(workload.name())),
                    ("protocol".into(), json!(protocol)),
                    ("scale".into(), json!(run.scale)),
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

/// The contenders of the TPC-H suite, in the order their samples are kept.
const TPCH_CONTENDERS: [&str; 4] = ["on", "off", "sqlite", "postgres"];

fn tpch_suite(scales: &[f64], reps: usize, json: &std::path::Path) -> Result<(), String> {
    let mut report = Report::new("tpch");
    for &sf in scales {
        let data = tpch::Generator { sf };
        let work = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pg = server::postgres(work.path(), &tpch::POSTGRES_SETTINGS)?;
        let progress = bar(
            3 + tpch::QUERIES.len() * (reps + 1),
            &format!("SF {sf}: load"),
        );
        let pg_load = tpch::load_postgres(&pg, work.path(), data)?;
        progress.inc(1);
        let (db, omendb_load) = tpch::load_omendb(&work.path().join("omendb"), data);
        progress.inc(1);
        let (sqlite, sqlite_load) = tpch::load_sqlite(work.path(), data);
        progress.inc(1);
        let mut sessions = ["on", "off"].map(|mode| {
            let mut s = db.session();
            s.execute(&format!("SET omendb.analytics = {mode}"))
                .expect("set omendb.analytics");
            s
        });
        // Every engine's answer first (which also warms caches); nothing is timed if they differ.
        let mut engines = BTreeMap::new();
        for query in &tpch::QUERIES {
            progress.set_message(format!("SF {sf}: {} answers", query.name));
            let (_, on, engine) = tpch::run_omendb(&mut sessions[0], query);
            let (_, off, _) = tpch::run_omendb(&mut sessions[1], query);
            let (_, postgres) = tpch::run_postgres(&pg, query)?;
            let (_, sqlite_rows) = tpch::run_sqlite(&sqlite, query);
            for (theirs, peer) in [(&off, "OmenDB (analytics off)"), (&postgres, &pg.name)] {
                if let Some(diff) = tpch::difference(query.name, &on, theirs, peer) {
                    return Err(diff);
                }
            }
            if sqlite_rows.len() != on.len() || on.is_empty() {
                return Err(format!(
                    "{}: OmenDB returned {} rows, SQLite {}",
                    query.name,
                    on.len(),
                    sqlite_rows.len()
                ));
            }
            engines.insert(query.name.to_string(), json!(engine));
            progress.inc(1);
        }
        let mut samples: [BTreeMap<&str, Vec<f64>>; 4] = Default::default();
        // Point selects alone and beside the queries: [beside, alone].
        let mut oltp: [Vec<f64>; 2] = Default::default();
        let lookups = if reps == 1 { 2_000 } else { 200_000 };
        for rep in 0..reps {
            let seed = 7 + rep as u64;
            for beside in [rep % 2 == 0, rep % 2 != 0] {
                let ns = tpch::point_selects(&db, data, lookups, seed, beside);
                oltp[usize::from(!beside)].push(ns);
            }
            for query in &tpch::QUERIES {
                progress.set_message(format!("SF {sf}: {}, run {}", query.name, rep + 1));
                // Each contender goes first in turn.
                for k in 0..TPCH_CONTENDERS.len() {
                    let who = (k + rep) % TPCH_CONTENDERS.len();
                    let ms = match TPCH_CONTENDERS[who] {
                        "on" => tpch::run_omendb(&mut sessions[0], query).0,
                        "off" => tpch::run_omendb(&mut sessions[1], query).0,
                        "sqlite" => tpch::run_sqlite(&sqlite, query).0,
                        _ => tpch::run_postgres(&pg, query)?.0,
                    };
                    samples[who].entry(query.name).or_default().push(ms);
                }
                progress.inc(1);
            }
        }
        progress.finish_and_clear();
        println!(
            "\nSF {sf} loaded in {omendb_load:.1} s (OmenDB, generating and inserting), \
             {sqlite_load:.1} s (SQLite, generating and inserting), {pg_load:.1} s \
             (PostgreSQL, COPY from files and ANALYZE). With omendb.analytics = on: {}",
            engines
                .iter()
                .map(|(q, e)| format!("{q} on {}", e.as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let sqlite_name = format!("SQLite {}", rusqlite::version());
        for (peer, name) in [
            (2, sqlite_name.as_str()),
            (3, pg.name.as_str()),
            (1, "OmenDB, analytics off"),
        ] {
            report.push(Group {
                title: format!("TPC-H SF {sf}: OmenDB (omendb.analytics = on) vs {name}"),
                params: BTreeMap::from([
                    ("sf".into(), json!(sf)),
                    ("peer".into(), json!(name)),
                    ("engines".into(), json!(engines)),
                    (
                        "load_seconds".into(),
                        json!({"omendb": omendb_load, "sqlite": sqlite_load, "postgres": pg_load}),
                    ),
                ]),
                contenders: ["OmenDB (analytics on)".into(), name.to_string()],
                operations: tpch::QUERIES
                    .iter()
                    .map(|q| report::Operation {
                        name: q.name.into(),
                        unit: "ms".into(),
                        better: report::Better::Lower,
                        samples: [samples[0][q.name].clone(), samples[peer][q.name].clone()],
                    })
                    .collect(),
            });
        }
        report.push(Group {
            title: format!(
                "TPC-H SF {sf}: OmenDB point selects by o_orderkey while another session runs \
                 the six queries (omendb.analytics = on) vs alone"
            ),
            params: BTreeMap::from([("sf".into(), json!(sf)), ("peer".into(), json!("alone"))]),
            contenders: ["beside the queries".into(), "alone".into()],
            operations: vec![report::Operation {
                name: "point select".into(),
                unit: "ns/op".into(),
                better: report::Better::Lower,
                samples: oltp,
            }],
        });
    }
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
        Command::Tpch {
            sf,
            reps,
            quick,
            json,
        } => {
            let (scales, reps) = if quick { (vec![0.01], 1) } else { (sf, reps) };
            if let Err(e) = tpch_suite(&scales, reps, &json) {
                eprintln!("tpch: {e}");
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
