//! What a suite produces: every sample of every measurement, kept as JSON (for `plot` and for
//! comparing runs), and printed as Markdown tables of medians with min–max and the ratio.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One suite's run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `embedded`, `alex` or `server`.
    pub suite: String,
    /// The command line that produced it.
    pub command: String,
    pub machine: Machine,
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub os: String,
    pub omendb: String,
    /// One connection's round trips over loopback with blocking sockets and nothing done in
    /// between: the floor under a client's round trips to a server here (the server suite
    /// measures it; older files have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback: Option<Loopback>,
}

/// A blocking echo over loopback (see `server::loopback_round_trips`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Loopback {
    /// The two ends on two cores (none on a one-core machine).
    pub cross_core: Option<RoundTrips>,
    /// Both ends on one core.
    pub same_core: RoundTrips,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundTrips {
    pub per_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

impl Machine {
    pub fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_string())
            })
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        Machine {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: kib / 1024.0 / 1024.0,
            os,
            omendb: omendb::VERSION.to_string(),
            loopback: None,
        }
    }
}

/// Whether a larger figure is better (throughput) or worse (time, bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Lower,
    Higher,
}

/// The measurements of one configuration (a scale, a key order, a durability setting…).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub title: String,
    /// The configuration, for charts: e.g. `rows`, `keys`, `sync`, `clients`.
    pub params: BTreeMap<String, serde_json::Value>,
    /// OmenDB's side first, then the peer's.
    pub contenders: [String; 2],
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub name: String,
    /// `ns/op`, `tps`, `ms`, `bytes/row`, …
    pub unit: String,
    pub better: Better,
    /// Every repetition's figure, per contender (OmenDB's first).
    pub samples: [Vec<f64>; 2],
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn min_max(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

impl Operation {
    /// How many times better OmenDB is (above 1: OmenDB wins).
    pub fn advantage(&self) -> f64 {
        let (ours, theirs) = (median(&self.samples[0]), median(&self.samples[1]));
        if ours == theirs {
            return 1.0; // also 0 against 0 (e.g. no failed transactions on either side)
        }
        match self.better {
            Better::Lower => theirs / ours,
            Better::Higher => ours / theirs,
        }
    }
}

fn figure(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

impl Group {
    /// The group as a Markdown table.
    pub fn markdown(&self) -> String {
        let [a, b] = &self.contenders;
        let reps = self.operations.first().map_or(0, |o| o.samples[0].len());
        let mut out = format!(
            "\n### {}, median of {reps} (min–max)\n\n| operation | unit | {a} | {b} | {a} advantage |\n|---|---|---|---|---|\n",
            self.title
        );
        for op in &self.operations {
            let cell = |s: &[f64]| {
                let (lo, hi) = min_max(s);
                format!("{} ({}–{})", figure(median(s)), figure(lo), figure(hi))
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {:.2}× |\n",
                op.name,
                op.unit,
                cell(&op.samples[0]),
                cell(&op.samples[1]),
                op.advantage()
            ));
        }
        out
    }
}

/// One repetition's figures for one contender: operation → (unit, better, value).
pub type Figures = Vec<(String, &'static str, Better, f64)>;

/// Runs both contenders `reps` times, alternating which goes first so neither always gets the
/// warmer machine, and gathers the figures by operation (in the order the first run gave them).
pub fn alternate(
    reps: usize,
    mut ours: impl FnMut(u64) -> Figures,
    mut theirs: impl FnMut(u64) -> Figures,
) -> Vec<Operation> {
    let mut operations: Vec<Operation> = Vec::new();
    for rep in 0..reps {
        let seed = 100 + rep as u64;
        let (a, b) = if rep % 2 == 0 {
            let a = ours(seed);
            (a, theirs(seed))
        } else {
            let b = theirs(seed);
            (ours(seed), b)
        };
        for (side, figures) in [a, b].into_iter().enumerate() {
            for (name, unit, better, value) in figures {
                let at = match operations.iter().position(|o| o.name == name) {
                    Some(i) => i,
                    None => {
                        operations.push(Operation {
                            name,
                            unit: unit.to_string(),
                            better,
                            samples: [Vec::new(), Vec::new()],
                        });
                        operations.len() - 1
                    }
                };
                operations[at].samples[side].push(value);
            }
        }
    }
    // An operation only one side has (none today) cannot be compared.
    operations.retain(|o| !o.samples[0].is_empty() && !o.samples[1].is_empty());
    operations
}

impl Report {
    pub fn new(suite: &str) -> Self {
        Report {
            suite: suite.to_string(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            machine: Machine::this(),
            groups: Vec::new(),
        }
    }

    /// Prints the group's table at once (long runs show progress) and keeps it.
    pub fn push(&mut self, group: Group) {
        println!("{}", group.markdown());
        self.groups.push(group);
    }

    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    pub fn load(path: &std::path::Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternation_gathers_samples_by_operation_and_ratios_follow_direction() {
        let mut calls = Vec::new();
        let ops = alternate(
            3,
            |seed| {
                vec![
                    (
                        "read".into(),
                        "ns/op",
                        Better::Lower,
                        10.0 + seed as f64 - 100.0,
                    ),
                    ("tps".into(), "tps", Better::Higher, 300.0),
                ]
            },
            |_| {
                vec![
                    ("read".into(), "ns/op", Better::Lower, 40.0),
                    ("tps".into(), "tps", Better::Higher, 100.0),
                ]
            },
        );
        calls.push(ops.len());
        assert_eq!(calls, vec![2]);
        assert_eq!(ops[0].samples[0], vec![10.0, 11.0, 12.0]);
        assert_eq!(ops[0].advantage(), 40.0 / 11.0);
        assert_eq!(ops[1].advantage(), 3.0);
        let group = Group {
            title: "t".into(),
            params: BTreeMap::new(),
            contenders: ["OmenDB".into(), "SQLite".into()],
            operations: ops,
        };
        assert!(
            group
                .markdown()
                .contains("| read | ns/op | 11.0 (10.0–12.0) | 40.0 (40.0–40.0) | 3.64× |")
        );
    }
}
