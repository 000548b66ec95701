//! ALEX against `BTreeMap<u64, u64>`, side by side in one run, printed as a Markdown table.
//!
//! ```sh
//! cargo bench --bench alex_table                       # 1M and 10M keys, 5 repetitions
//! cargo bench --bench alex_table -- --keys 100000000 --reps 3
//! cargo bench --bench alex_table -- --quick            # a fast smoke run (100K keys)
//! ```
//!
//! Each cell is the median nanoseconds per operation over the repetitions, with min–max; the
//! ratio is BTreeMap's median over ALEX's (above 1 means ALEX is faster). Memory is counted by a
//! global allocator that tracks live heap bytes, so every allocation is included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::{Args, OrderedMap, SplitMix, median, range, sample, sorted_keys};
use omendb::alex::AlexMap;

struct CountingAlloc;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

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

/// Operations measured per repetition.
const OPS: usize = 1_000_000;

#[derive(Default)]
struct Samples {
    /// Nanoseconds per operation (or bytes per key) for each repetition.
    values: Vec<f64>,
}

impl Samples {
    fn median(&self) -> f64 {
        median(&self.values)
    }

    fn range(&self) -> (f64, f64) {
        range(&self.values)
    }
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

/// One repetition of every workload on map type `M`; returns (name, ns/op or bytes/key) pairs.
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

fn main() {
    let args = Args::from_env();
    let quick = args.quick();
    let sizes: Vec<usize> = match args.value("--keys") {
        Some(list) => list.split(',').filter_map(|s| s.parse().ok()).collect(),
        None if quick => vec![100_000],
        None => vec![1_000_000, 10_000_000],
    };
    let reps = args.number("--reps", 5, 1);

    for &n in &sizes {
        let keys = sorted_keys(n, 42);
        let mut names = Vec::new();
        let mut alex: Vec<Samples> = Vec::new();
        let mut btree: Vec<Samples> = Vec::new();
        for rep in 0..reps {
            // Alternate which map runs first, so neither always gets the warmer machine.
            let seed = 1000 + rep as u64;
            let (a, b) = if rep % 2 == 0 {
                let a = run::<AlexMap<u64, u64>>(&keys, seed);
                (a, run::<BTreeMap<u64, u64>>(&keys, seed))
            } else {
                let b = run::<BTreeMap<u64, u64>>(&keys, seed);
                (run::<AlexMap<u64, u64>>(&keys, seed), b)
            };
            if names.is_empty() {
                names = a.iter().map(|(name, _)| *name).collect();
                alex.resize_with(a.len(), Samples::default);
                btree.resize_with(b.len(), Samples::default);
            }
            for (i, ((_, x), (_, y))) in a.iter().zip(&b).enumerate() {
                alex[i].values.push(*x);
                btree[i].values.push(*y);
            }
        }
        let structure = AlexMap::bulk_load(keys.iter().map(|&k| (k, k))).stats();
        println!("\n### {n} keys, u64 → u64, median of {reps} (min–max)\n");
        let (a, b) = (<AlexMap<u64, u64>>::NAME, <BTreeMap<u64, u64>>::NAME);
        println!("| operation | {a} | {b} | {b} / {a} |");
        println!("|---|---|---|---|");
        for (i, name) in names.iter().enumerate() {
            let (amin, amax) = alex[i].range();
            let (bmin, bmax) = btree[i].range();
            let unit = if name.starts_with("bytes") {
                " B"
            } else {
                " ns"
            };
            println!(
                "| {name} | {:.1}{unit} ({amin:.1}–{amax:.1}) | {:.1}{unit} ({bmin:.1}–{bmax:.1}) | {:.2}× |",
                alex[i].median(),
                btree[i].median(),
                btree[i].median() / alex[i].median(),
            );
        }
        let m = structure.memory;
        println!(
            "\nALEX after bulk load: depth {}, {} inner / {} data nodes, density {:.2}, model error mean {:.2} max {}; \
             bytes per key: payload {:.2}, gaps {:.2}, structure {:.3}",
            structure.depth,
            structure.inner_nodes,
            structure.data_nodes,
            structure.avg_density,
            structure.model_error_mean,
            structure.model_error_max,
            m.payload as f64 / n as f64,
            m.gaps as f64 / n as f64,
            m.structure as f64 / n as f64,
        );
    }
}
