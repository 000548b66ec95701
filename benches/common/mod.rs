//! Shared by the benchmarks: deterministic keys, statistics, the side-by-side report, and the
//! operations measured on both `AlexMap` and `BTreeMap`. Each benchmark uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use omendb::alex::AlexMap;

/// SplitMix64: a fast deterministic generator, so every run measures the same keys.
#[derive(Debug)]
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// `n` distinct uniformly random even keys, sorted (odd keys are guaranteed misses).
pub fn sorted_keys(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix(seed);
    let mut keys: Vec<u64> = (0..n + n / 50 + 16).map(|_| rng.next_u64() & !1).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(n);
    keys
}

/// The median of a benchmark's samples.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest and largest sample.
pub fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// The benchmark's command-line flags: `--name value` pairs and `--quick`.
#[derive(Debug)]
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Self {
        Args(std::env::args().collect())
    }

    /// The value after `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        let i = self.0.iter().position(|a| a == name)?;
        self.0.get(i + 1).map(String::as_str)
    }

    /// The value after `--name` parsed, or `default` (`quick_default` under `--quick`).
    pub fn number(&self, name: &str, default: usize, quick_default: usize) -> usize {
        self.value(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(if self.quick() { quick_default } else { default })
    }

    pub fn quick(&self) -> bool {
        self.0.iter().any(|a| a == "--quick")
    }
}

/// One run's measurements: operation name → nanoseconds per operation.
pub type Results = Vec<(&'static str, f64)>;

/// Runs both engines `reps` times (alternating which goes first, so neither always gets the
/// warmer machine) and prints a Markdown table of medians (min–max) and SQLite / OmenDB.
pub fn compare(
    title: &str,
    reps: usize,
    omendb: impl FnMut(u64) -> Results,
    sqlite: impl FnMut(u64) -> Results,
) {
    compare_named(title, ("OmenDB", "SQLite"), reps, omendb, sqlite);
}

/// [`compare`] of any two contenders, named in the table's header; the ratio is second / first.
pub fn compare_named(
    title: &str,
    (first_name, second_name): (&str, &str),
    reps: usize,
    mut first: impl FnMut(u64) -> Results,
    mut second: impl FnMut(u64) -> Results,
) {
    let mut names: Vec<&'static str> = Vec::new();
    let mut omen: Vec<Vec<f64>> = Vec::new();
    let mut lite: Vec<Vec<f64>> = Vec::new();
    for rep in 0..reps {
        let seed = 100 + rep as u64;
        let (o, s) = if rep % 2 == 0 {
            let o = first(seed);
            (o, second(seed))
        } else {
            let s = second(seed);
            (first(seed), s)
        };
        if names.is_empty() {
            names = s.iter().map(|(n, _)| *n).collect();
            omen = vec![Vec::new(); names.len()];
            lite = vec![Vec::new(); names.len()];
        }
        for (i, name) in names.iter().enumerate() {
            if let Some((_, v)) = o.iter().find(|(n, _)| n == name) {
                omen[i].push(*v);
            }
            lite[i].push(s[i].1);
        }
    }
    println!("\n### {title}, median of {reps} (min–max), ns per operation\n");
    println!("| operation | {first_name} | {second_name} | {second_name} / {first_name} |");
    println!("|---|---|---|---|");
    for (i, name) in names.iter().enumerate() {
        if omen[i].is_empty() {
            continue;
        }
        let (omin, omax) = range(&omen[i]);
        let (smin, smax) = range(&lite[i]);
        println!(
            "| {name} | {:.0} ({omin:.0}–{omax:.0}) | {:.0} ({smin:.0}–{smax:.0}) | {:.2}× |",
            median(&omen[i]),
            median(&lite[i]),
            median(&lite[i]) / median(&omen[i]),
        );
    }
}

/// `count` keys drawn from `keys` in random order.
pub fn sample(keys: &[u64], count: usize, seed: u64) -> Vec<u64> {
    let mut rng = SplitMix(seed);
    (0..count)
        .map(|_| keys[(rng.next_u64() % keys.len() as u64) as usize])
        .collect()
}

/// The operations both maps offer, so one benchmark body measures either.
pub trait OrderedMap: Sized {
    const NAME: &'static str;
    fn load(sorted: &[u64]) -> Self;
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&mut self, key: u64, value: u64);
    fn remove(&mut self, key: u64) -> Option<u64>;
    /// Sums the values of up to `n` entries from `start` on.
    fn scan(&self, start: u64, n: usize) -> u64;
}

impl OrderedMap for AlexMap<u64, u64> {
    const NAME: &'static str = "ALEX";

    fn load(sorted: &[u64]) -> Self {
        AlexMap::bulk_load(sorted.iter().map(|&k| (k, k)))
    }

    fn get(&self, key: u64) -> Option<u64> {
        AlexMap::get(self, &key).copied()
    }

    fn insert(&mut self, key: u64, value: u64) {
        AlexMap::insert(self, key, value);
    }

    fn remove(&mut self, key: u64) -> Option<u64> {
        AlexMap::remove(self, &key)
    }

    fn scan(&self, start: u64, n: usize) -> u64 {
        self.range(start..)
            .take(n)
            .map(|(_, v)| *v)
            .fold(0, u64::wrapping_add)
    }
}

impl OrderedMap for BTreeMap<u64, u64> {
    const NAME: &'static str = "BTreeMap";

    fn load(sorted: &[u64]) -> Self {
        sorted.iter().map(|&k| (k, k)).collect()
    }

    fn get(&self, key: u64) -> Option<u64> {
        BTreeMap::get(self, &key).copied()
    }

    fn insert(&mut self, key: u64, value: u64) {
        BTreeMap::insert(self, key, value);
    }

    fn remove(&mut self, key: u64) -> Option<u64> {
        BTreeMap::remove(self, &key)
    }

    fn scan(&self, start: u64, n: usize) -> u64 {
        self.range(start..)
            .take(n)
            .map(|(_, v)| *v)
            .fold(0, u64::wrapping_add)
    }
}
