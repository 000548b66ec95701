//! Shared by the ALEX benchmarks: deterministic keys and the operations measured on both
//! `AlexMap` and `BTreeMap`. Each benchmark uses a part of it.
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
