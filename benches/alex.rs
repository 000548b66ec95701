//! Criterion benchmarks of ALEX and `BTreeMap<u64, u64>` side by side, per operation.
//! `OMENDB_BENCH_KEYS` sets the map size (default 1M); `cargo bench --bench alex`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test or benchmark may panic

mod common;

use std::collections::BTreeMap;
use std::hint::black_box;

use common::{OrderedMap, SplitMix, sample, sorted_keys};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use omendb::alex::AlexMap;

fn keys() -> Vec<u64> {
    let n = std::env::var("OMENDB_BENCH_KEYS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    sorted_keys(n, 42)
}

fn bench_map<M: OrderedMap>(c: &mut Criterion, keys: &[u64]) {
    let map = M::load(keys);
    let probes = sample(keys, 1024, 7);
    let mut group = c.benchmark_group(format!("{}/{}", M::NAME, keys.len()));
    group.bench_function("lookup hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(map.get(black_box(probes[i])))
        })
    });
    group.bench_function("lookup miss", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(map.get(black_box(probes[i] | 1)))
        })
    });
    group.bench_function("range scan 100", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(map.scan(black_box(probes[i]), 100))
        })
    });
    let mut rng = SplitMix(99);
    let fresh: Vec<u64> = (0..10_000).map(|_| rng.next_u64() | 1).collect();
    group.bench_function("10k random inserts", |b| {
        b.iter_batched_ref(
            || M::load(keys),
            |map| {
                for &k in &fresh {
                    map.insert(k, k);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("1k removes", |b| {
        b.iter_batched_ref(
            || M::load(keys),
            |map| {
                for &k in &probes {
                    black_box(map.remove(k));
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn alex_vs_btree(c: &mut Criterion) {
    let keys = keys();
    bench_map::<AlexMap<u64, u64>>(c, &keys);
    bench_map::<BTreeMap<u64, u64>>(c, &keys);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = alex_vs_btree
}
criterion_main!(benches);
