//! `omendb-bench alex`: the ALEX learned index alone against `BTreeMap<u64, u64>`, on the same
//! uniformly random keys (the operations of the ALEX issue's benchmark, which this replaces).
//! Memory is counted by the binary's global allocator, which tracks live heap bytes.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Instant;

use omendb::alex::AlexMap;

use crate::LIVE_BYTES;
use crate::common::{OrderedMap, SplitMix, sample};
use crate::report::{Better, Figures};

/// Operations measured per repetition (at most).
const OPS: usize = 1_000_000;

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

/// One repetition on `M`.
pub fn run_map<M: OrderedMap>(keys: &[u64], seed: u64) -> Figures {
    run::<M>(keys, seed)
        .into_iter()
        .map(|(name, value)| {
            let unit = if name.starts_with("bytes") {
                "bytes/key"
            } else {
                "ns/op"
            };
            (name.to_string(), unit, Better::Lower, value)
        })
        .collect()
}

/// The contenders' names.
pub fn names() -> [String; 2] {
    [
        <AlexMap<u64, u64> as OrderedMap>::NAME.to_string(),
        <BTreeMap<u64, u64> as OrderedMap>::NAME.to_string(),
    ]
}

fn run<M: OrderedMap>(keys: &[u64], seed: u64) -> Vec<(&'static str, f64)> {
    let n = keys.len();
    let ops = OPS.min(n);
    let mut out = Vec::new();

    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let start = Instant::now();
    let mut map = M::load(keys);
    out.push(("bulk load", per_op(start, n)));
    let bytes = LIVE_BYTES.load(Ordering::Relaxed) - before;
    out.push(("bytes per key (after load)", bytes as f64 / n as f64));

    let hits = sample(keys, ops, seed);
    let start = Instant::now();
    let mut found = 0u64;
    for &k in &hits {
        found = found.wrapping_add(map.get(black_box(k)).unwrap_or(0));
    }
    out.push(("lookup (hit)", per_op(start, ops)));
    black_box(found);

    let misses: Vec<u64> = sample(keys, ops, seed + 1).iter().map(|k| k | 1).collect();
    let start = Instant::now();
    for &k in &misses {
        black_box(map.get(black_box(k)));
    }
    out.push(("lookup (miss)", per_op(start, ops)));

    let starts = sample(keys, ops / 10, seed + 2);
    let start = Instant::now();
    for &k in &starts {
        black_box(map.scan(black_box(k), 100));
    }
    out.push(("range scan, 100 keys", per_op(start, starts.len())));

    let mut rng = SplitMix(seed + 3);
    let fresh: Vec<u64> = (0..ops).map(|_| rng.next_u64() | 1).collect();
    let start = Instant::now();
    for &k in &fresh {
        map.insert(black_box(k), k);
    }
    out.push(("random insert", per_op(start, ops)));

    let start = Instant::now();
    for &k in &fresh {
        black_box(map.remove(black_box(k)));
    }
    out.push(("remove", per_op(start, ops)));
    drop(map);

    // Ascending keys into an empty map, as an auto-increment primary key fills a table.
    let mut map = M::load(&[]);
    let start = Instant::now();
    for k in 0..ops as u64 {
        map.insert(black_box(k), k);
    }
    out.push(("sequential append", per_op(start, ops)));
    drop(map);

    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut grown = M::load(&[]);
    for &k in keys.iter().take(ops) {
        grown.insert(k, k);
    }
    let bytes = LIVE_BYTES.load(Ordering::Relaxed) - before;
    out.push(("bytes per key (after inserts)", bytes as f64 / ops as f64));
    out
}
