//! `GET /metrics`: Prometheus's text format — connections, statements by kind with a latency
//! histogram, errors, and the engine's counters (commits, syncs, conflicts, row locks, the row
//! cache's hit ratio, and each table's learned-index shape).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Shared;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// Statement kinds, by the first word of their command tag.
const KINDS: [&str; 8] = [
    "select",
    "insert",
    "update",
    "delete",
    "copy",
    "ddl",
    "transaction",
    "other",
];

fn kind_of(tag: &str) -> usize {
    let word = tag.split(' ').next().unwrap_or("");
    match word {
        "SELECT" | "SHOW" | "EXPLAIN" => 0,
        "INSERT" => 1,
        "UPDATE" => 2,
        "DELETE" | "TRUNCATE" => 3,
        "COPY" => 4,
        "CREATE" | "DROP" | "ALTER" => 5,
        "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => 6,
        _ => 7,
    }
}

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// Microseconds.
    sum_micros: AtomicU64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    statements: [Histogram; KINDS.len()],
    errors: AtomicU64,
}

impl Metrics {
    /// A statement that completed with command tag `tag` after `elapsed`.
    pub fn record(&self, tag: &str, elapsed: Duration) {
        let histogram = &self.statements[kind_of(tag)];
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            histogram.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        histogram.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        histogram.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// A statement that failed.
    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// The whole exposition.
pub fn render(shared: &Shared) -> String {
    let mut out = String::new();
    let out = &mut out;
    let one = |value: String| [(String::new(), value)];
    let lifecycle = &shared.lifecycle;
    metric(
        out,
        "omendb_connections",
        "gauge",
        "Open pgwire connections.",
        &one(lifecycle.connections().to_string()),
    );
    metric(
        out,
        "omendb_connections_accepted_total",
        "counter",
        "pgwire connections accepted.",
        &one(lifecycle.accepted.load(Ordering::Relaxed).to_string()),
    );
    metric(
        out,
        "omendb_connections_refused_total",
        "counter",
        "pgwire connections refused over --max-connections.",
        &one(lifecycle.refused.load(Ordering::Relaxed).to_string()),
    );

    let metrics = &shared.metrics;
    let mut buckets = Vec::new();
    let mut sums = Vec::new();
    let mut counts = Vec::new();
    for (kind, histogram) in KINDS.iter().zip(&metrics.statements) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            buckets.push((
                format!("{{kind=\"{kind}\",le=\"{bound}\"}}"),
                cumulative.to_string(),
            ));
        }
        let count = histogram.count.load(Ordering::Relaxed);
        buckets.push((
            format!("{{kind=\"{kind}\",le=\"+Inf\"}}"),
            count.to_string(),
        ));
        let sum = histogram.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        sums.push((format!("{{kind=\"{kind}\"}}"), sum.to_string()));
        counts.push((format!("{{kind=\"{kind}\"}}"), count.to_string()));
    }
    let _ = writeln!(
        out,
        "# HELP omendb_statement_seconds Statement latency over pgwire, by kind.\n\
         # TYPE omendb_statement_seconds histogram"
    );
    for (suffix, samples) in [("_bucket", &buckets), ("_sum", &sums), ("_count", &counts)] {
        for (labels, value) in samples {
            let _ = writeln!(out, "omendb_statement_seconds{suffix}{labels} {value}");
        }
    }
    metric(
        out,
        "omendb_statement_errors_total",
        "counter",
        "Statements that failed over pgwire.",
        &one(metrics.errors.load(Ordering::Relaxed).to_string()),
    );

    let stats = shared.db.stats();
    let mvcc = &stats.mvcc;
    for (name, kind, help, value) in [
        (
            "omendb_commits_total",
            "counter",
            "Committed write transactions.",
            mvcc.commits as f64,
        ),
        (
            "omendb_syncs_total",
            "counter",
            "Storage syncs (group commit shares them).",
            mvcc.syncs as f64,
        ),
        (
            "omendb_serialization_failures_total",
            "counter",
            "Writes and commits refused with 40001.",
            mvcc.conflicts as f64,
        ),
        (
            "omendb_active_transactions",
            "gauge",
            "Open transactions.",
            mvcc.active_transactions as f64,
        ),
        (
            "omendb_row_locks",
            "gauge",
            "Row locks held by open transactions.",
            mvcc.row_locks as f64,
        ),
        (
            "omendb_row_lock_waiters",
            "gauge",
            "Transactions waiting for a row lock another holds.",
            mvcc.lock_waiters as f64,
        ),
        (
            "omendb_retained_versions",
            "gauge",
            "Old row versions kept for open snapshots.",
            mvcc.retained_versions as f64,
        ),
        (
            "omendb_cache_hits_total",
            "counter",
            "Row cache hits.",
            stats.cache.hits as f64,
        ),
        (
            "omendb_cache_misses_total",
            "counter",
            "Row cache misses.",
            stats.cache.misses as f64,
        ),
        (
            "omendb_cache_bytes",
            "gauge",
            "Bytes of rows in the row cache.",
            stats.cache.bytes as f64,
        ),
    ] {
        metric(out, name, kind, help, &one(value.to_string()));
    }
    #[cfg(feature = "analytics")]
    metric(
        out,
        "omendb_analytics_cache_bytes",
        "gauge",
        "Bytes of Arrow columns the analytics engine keeps for later queries.",
        &one(shared.db.analytics_cache_bytes().to_string()),
    );
    let lookups = stats.cache.hits + stats.cache.misses;
    let ratio = if lookups == 0 {
        0.0
    } else {
        stats.cache.hits as f64 / lookups as f64
    };
    metric(
        out,
        "omendb_cache_hit_ratio",
        "gauge",
        "Row cache hits over lookups since start.",
        &one(ratio.to_string()),
    );

    let per_table =
        |f: &dyn Fn(&omendb_engine::database::TableStats) -> f64| -> Vec<(String, String)> {
            stats
                .tables
                .iter()
                .map(|t| {
                    (
                        format!("{{table=\"{}\"}}", escape(&t.name)),
                        f(t).to_string(),
                    )
                })
                .collect()
        };
    metric(
        out,
        "omendb_table_rows",
        "gauge",
        "Primary-index entries per table.",
        &per_table(&|t| t.entries as f64),
    );
    metric(
        out,
        "omendb_alex_depth",
        "gauge",
        "Levels of the table's learned index.",
        &per_table(&|t| t.index.depth as f64),
    );
    metric(
        out,
        "omendb_alex_data_nodes",
        "gauge",
        "Data nodes of the table's learned index.",
        &per_table(&|t| t.index.data_nodes as f64),
    );
    metric(
        out,
        "omendb_alex_inner_nodes",
        "gauge",
        "Inner nodes of the table's learned index.",
        &per_table(&|t| t.index.inner_nodes as f64),
    );
    metric(
        out,
        "omendb_alex_density",
        "gauge",
        "Average data-node fill.",
        &per_table(&|t| t.index.avg_density),
    );
    metric(
        out,
        "omendb_alex_model_error_mean",
        "gauge",
        "Mean model error in slots.",
        &per_table(&|t| t.index.model_error_mean),
    );
    metric(
        out,
        "omendb_alex_expansions_total",
        "counter",
        "Data-node expansions.",
        &per_table(&|t| t.index.events.expansions as f64),
    );
    metric(
        out,
        "omendb_alex_splits_total",
        "counter",
        "Data-node splits (sideways and down).",
        &per_table(&|t| (t.index.events.splits_sideways + t.index.events.splits_down) as f64),
    );
    std::mem::take(out)
}

/// One metric: its HELP and TYPE lines and samples (`labels`, `value`).
fn metric(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// A label value with Prometheus's escapes.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
