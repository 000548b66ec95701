//! `AlexMap` run in lockstep with `BTreeMap` on random operations over many key distributions,
//! with every structural invariant checked after every step.

use std::collections::BTreeMap;
use std::ops::Bound;

use proptest::prelude::*;

use super::{AlexMap, ModelKey, TotalF64};

#[derive(Debug, Clone)]
enum Op<K> {
    Insert(K, u64),
    Remove(K),
    Get(K),
    Range(Bound<K>, Bound<K>, bool),
    LowerBound(K),
    BulkLoad(Vec<(K, u64)>),
}

/// Key distributions, as functions from a random `u64` to an `i64` key.
#[derive(Debug, Clone, Copy)]
enum Dist {
    Uniform,
    Sequential,
    Reverse,
    Clustered,
    Lognormal,
    FewDistinct,
    Extremes,
}

fn key_of(dist: Dist, r: u64, step: u64) -> i64 {
    match dist {
        Dist::Uniform => r as i64,
        Dist::Sequential => (step * 3 + r % 3) as i64,
        Dist::Reverse => -((step * 3 + r % 3) as i64),
        Dist::Clustered => ((r % 8) * 1_000_000_000 + (r >> 3) % 200) as i64,
        Dist::Lognormal => {
            // exp of a roughly normal value: sum of uniforms.
            let u = (0..4)
                .map(|i| ((r >> (i * 16)) & 0xffff) as f64 / 65536.0)
                .sum::<f64>()
                - 2.0;
            (u * 6.0).exp() as i64
        }
        Dist::FewDistinct => (r % 40) as i64,
        Dist::Extremes => match r % 6 {
            0 => i64::MIN + (r % 5) as i64,
            1 => i64::MAX - (r % 5) as i64,
            _ => (r % 1000) as i64,
        },
    }
}

fn dist() -> impl Strategy<Value = Dist> {
    prop_oneof![
        Just(Dist::Uniform),
        Just(Dist::Sequential),
        Just(Dist::Reverse),
        Just(Dist::Clustered),
        Just(Dist::Lognormal),
        Just(Dist::FewDistinct),
        Just(Dist::Extremes),
    ]
}

fn ops(dist: Dist, len: usize) -> impl Strategy<Value = Vec<Op<i64>>> {
    let op = (
        0u8..100,
        any::<u64>(),
        any::<u64>(),
        any::<bool>(),
        0usize..3000,
    );
    prop::collection::vec(op, 1..len).prop_map(move |raw| {
        raw.into_iter()
            .enumerate()
            .map(|(step, (kind, r1, r2, flag, n))| {
                let k = key_of(dist, r1, step as u64);
                match kind {
                    0..=59 => Op::Insert(k, r2),
                    60..=74 => Op::Remove(k),
                    75..=84 => Op::Get(k),
                    85..=92 => {
                        let k2 = key_of(dist, r2, step as u64);
                        let bound = |k, incl| {
                            if incl {
                                Bound::Included(k)
                            } else {
                                Bound::Excluded(k)
                            }
                        };
                        Op::Range(bound(k.min(k2), flag), bound(k.max(k2), !flag), flag)
                    }
                    93..=98 => Op::LowerBound(k),
                    _ => Op::BulkLoad(
                        (0..n as u64)
                            .map(|i| (key_of(dist, r1.wrapping_mul(i + 1), i), i))
                            .collect(),
                    ),
                }
            })
            .collect()
    })
}

fn check<K: ModelKey + std::fmt::Debug>(ops: Vec<Op<K>>) -> Result<(), TestCaseError> {
    let mut alex = AlexMap::<K, u64>::new();
    let mut model = BTreeMap::<K, u64>::new();
    for op in ops {
        match op {
            Op::Insert(k, v) => prop_assert_eq!(alex.insert(k.clone(), v), model.insert(k, v)),
            Op::Remove(k) => prop_assert_eq!(alex.remove(&k), model.remove(&k)),
            Op::Get(k) => {
                prop_assert_eq!(alex.get(&k), model.get(&k));
                prop_assert_eq!(alex.contains_key(&k), model.contains_key(&k));
            }
            Op::Range(start, end, reverse) => {
                let got: Vec<_> = if reverse {
                    alex.range((start.clone(), end.clone())).rev().collect()
                } else {
                    alex.range((start.clone(), end.clone())).collect()
                };
                let valid = match (&start, &end) {
                    (Bound::Included(s), Bound::Included(e)) => s <= e,
                    (
                        Bound::Included(s) | Bound::Excluded(s),
                        Bound::Included(e) | Bound::Excluded(e),
                    ) => s < e,
                    _ => true,
                };
                let want: Vec<_> = if !valid {
                    Vec::new()
                } else if reverse {
                    model.range((start, end)).rev().collect()
                } else {
                    model.range((start, end)).collect()
                };
                prop_assert_eq!(got, want);
            }
            Op::LowerBound(k) => {
                prop_assert_eq!(alex.lower_bound(&k), model.range(k..).next());
            }
            Op::BulkLoad(pairs) => {
                model = pairs.iter().cloned().collect();
                alex = AlexMap::bulk_load(pairs);
            }
        }
        prop_assert_eq!(alex.len(), model.len());
        if let Err(e) = alex.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
    prop_assert_eq!(alex.first(), model.first_key_value());
    prop_assert_eq!(alex.last(), model.last_key_value());
    prop_assert!(alex.iter().eq(model.iter()));
    prop_assert!(alex.iter().rev().eq(model.iter().rev()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matches_btreemap_on_every_distribution((d, ops) in dist().prop_flat_map(|d| (Just(d), ops(d, 400)))) {
        let _ = d;
        check(ops)?;
    }

    #[test]
    fn matches_btreemap_on_byte_keys_sharing_prefixes(raw in prop::collection::vec((0u8..100, 0u32..2000, any::<u64>()), 1..300)) {
        // "user_0000123": keys share their first eight bytes; the nodes' frames skip them.
        let ops = raw.into_iter().map(|(kind, n, v)| {
            let k = format!("user_{n:07}").into_bytes();
            match kind {
                0..=64 => Op::Insert(k, v),
                65..=84 => Op::Remove(k),
                _ => Op::Get(k),
            }
        }).collect();
        check(ops)?;
    }

    #[test]
    fn matches_btreemap_on_float_and_composite_keys(raw in prop::collection::vec((any::<f64>(), any::<u64>(), any::<bool>()), 1..300)) {
        let floats = raw.iter().map(|&(f, v, ins)| if ins { Op::Insert(TotalF64(f), v) } else { Op::Remove(TotalF64(f)) }).collect();
        check(floats)?;
        let pairs = raw.iter().map(|&(f, v, ins)| {
            let k = ((f.abs() as u64 % 7) as i32, format!("{v:x}"));
            if ins { Op::Insert(k, v) } else { Op::Remove(k) }
        }).collect();
        check(pairs)?;
    }
}

/// Larger runs, one per distribution, checked in full at the end (the proptests check every step).
#[test]
fn many_inserts_and_removes_per_distribution() {
    for dist in [
        Dist::Uniform,
        Dist::Sequential,
        Dist::Reverse,
        Dist::Clustered,
        Dist::Lognormal,
        Dist::FewDistinct,
        Dist::Extremes,
    ] {
        let mut alex = AlexMap::new();
        let mut model = BTreeMap::new();
        let mut r = 0x9e37_79b9_7f4a_7c15u64;
        for step in 0..60_000u64 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let k = key_of(dist, r, step);
            if r % 5 == 0 {
                assert_eq!(alex.remove(&k), model.remove(&k), "{dist:?}");
            } else {
                assert_eq!(alex.insert(k, step), model.insert(k, step), "{dist:?}");
            }
        }
        alex.check_invariants()
            .unwrap_or_else(|e| panic!("{dist:?}: {e}"));
        assert!(alex.iter().eq(model.iter()), "{dist:?}");
        let stats = alex.stats();
        assert_eq!(stats.len, model.len());
        assert!(stats.memory.total() > 0);
    }
}

/// Batches of new keys — small ones inserted key by key, large ones merged by a rebuild —
/// leave the map as a `BTreeMap` would be, on every distribution, between other inserts,
/// removes and lookups; the insert counter counts every key.
#[test]
fn sorted_batches_of_new_keys_match_btreemap() {
    // The distributions with room for the batches' ~70,000 distinct keys.
    for dist in [Dist::Uniform, Dist::Sequential, Dist::Reverse] {
        let mut alex = AlexMap::new();
        let mut model = BTreeMap::new();
        let mut r = 0x2545_f491_4f6c_dd1du64;
        let mut step = 0u64;
        // Batch sizes below, at and well above the rebuild threshold, relative to a map
        // that grows between them (the first batches are appends to an empty map, the later
        // ones, with uniform keys, land among the keys).
        for batch_len in [10, 3000, 500, 20_000, 1023, 1024, 40_000, 2000] {
            let mut batch = BTreeMap::new();
            while batch.len() < batch_len {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                step += 1;
                let k = key_of(dist, r, step);
                if !model.contains_key(&k) {
                    batch.insert(k, step);
                }
                if batch.len() >= batch_len || step % 16 != 0 {
                    continue;
                }
                // Now and then an ordinary insert or remove of another key.
                let other = key_of(dist, r.rotate_left(17), step);
                if batch.contains_key(&other) {
                    continue;
                }
                if r % 2 == 0 {
                    assert_eq!(alex.insert(other, step), model.insert(other, step));
                } else {
                    assert_eq!(alex.remove(&other), model.remove(&other));
                }
            }
            let inserts = alex.stats().events.inserts;
            model.extend(batch.iter().map(|(k, v)| (*k, *v)));
            alex.insert_sorted(batch.into_iter().collect());
            assert_eq!(
                alex.stats().events.inserts,
                inserts + batch_len as u64,
                "{dist:?}"
            );
            alex.check_invariants()
                .unwrap_or_else(|e| panic!("{dist:?}, batch of {batch_len}: {e}"));
            assert_eq!(alex.len(), model.len(), "{dist:?}");
            assert!(
                alex.iter().eq(model.iter()),
                "{dist:?}, batch of {batch_len}"
            );
            for (k, v) in model.iter().step_by(97) {
                assert_eq!(alex.get(k), Some(v), "{dist:?}");
            }
        }
    }
}

#[test]
fn a_first_batch_is_laid_out_for_its_keys() {
    let mut r = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = std::collections::BTreeSet::new();
    while random.len() < 50_000 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        random.insert(r >> 1);
    }
    let random: Vec<(u64, u64)> = random.into_iter().map(|k| (k, k)).collect();
    let evenly: Vec<(u64, u64)> = (0..50_000u64).map(|i| (1_000 + i * 10, i)).collect();
    let layouts = |pairs: &[(u64, u64)]| {
        let mut appended = AlexMap::new();
        for &(k, v) in pairs {
            appended.insert(k, v);
        }
        let mut batched = AlexMap::new();
        batched.insert_sorted(pairs.to_vec());
        batched.check_invariants().unwrap();
        assert!(
            batched
                .iter()
                .map(|(k, v)| (*k, *v))
                .eq(pairs.iter().copied())
        );
        (appended.stats(), batched.stats())
    };
    // Random keys are placed where the models predict them by one bulk load (no node grew
    // or split), not appended in arrival order.
    let (appended, batched) = layouts(&random);
    assert!(appended.events.expansions > 0);
    assert_eq!(
        (batched.events.expansions, batched.events.splits_sideways),
        (0, 0)
    );
    assert!(batched.model_error_mean < appended.model_error_mean);
    // Evenly spaced keys are appended, exactly as one by one.
    let (appended, batched) = layouts(&evenly);
    assert_eq!(batched.events, appended.events);
    assert_eq!(batched.avg_density, appended.avg_density);
}

#[test]
fn bulk_load_sorts_and_keeps_the_last_duplicate() {
    let map = AlexMap::bulk_load([(3u64, 1u64), (1, 1), (3, 2), (2, 1)]);
    assert_eq!(
        map.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
        [(1, 1), (2, 1), (3, 2)]
    );
    map.check_invariants().unwrap();
}

#[test]
fn all_equal_model_inputs_still_work() {
    // Every key shares the 8-byte prefix "samepref", so every model input is equal.
    let mut map = AlexMap::new();
    for i in 0..20_000u32 {
        map.insert(format!("samepref{:08}", (i * 7919) % 20_000), i);
    }
    map.check_invariants().unwrap();
    assert_eq!(map.len(), 20_000);
    assert_eq!(
        map.get(&"samepref00000042".to_string()).copied(),
        Some((0..20_000).find(|i| (i * 7919) % 20_000 == 42).unwrap())
    );
}

#[test]
fn stats_describe_a_bulk_loaded_tree() {
    let map = AlexMap::bulk_load((0..200_000u64).map(|i| (i * 10, i)));
    let stats = map.stats();
    assert_eq!(stats.len, 200_000);
    assert!(stats.depth >= 2, "{stats:?}");
    assert!(stats.inner_nodes >= 1 && stats.data_nodes > 1, "{stats:?}");
    assert!((0.6..0.75).contains(&stats.avg_density), "{stats:?}");
    assert!(
        stats.model_error_mean < 1.0,
        "linear keys are predicted exactly: {stats:?}"
    );
    assert_eq!(stats.memory.payload, 200_000 * 16);
    let nodes = map.inspect();
    assert_eq!(nodes.len(), stats.inner_nodes + stats.data_nodes);
    assert_eq!(nodes[0].parent, None);
    let data_fill: usize = nodes
        .iter()
        .filter(|n| n.kind == super::NodeKind::Data)
        .map(|n| n.fill)
        .sum();
    assert_eq!(data_fill, 200_000);
    assert_eq!(nodes[0].min_key, Some(0));
    assert_eq!(nodes[0].max_key, Some(1_999_990));
}

#[test]
fn data_node_layouts_agree_with_the_statistics() {
    let mut map = AlexMap::new();
    for i in 0..50_000u64 {
        map.insert(i.wrapping_mul(2_654_435_761) % 1_000_003, i);
    }
    let stats = map.stats();
    let (mut error_max, mut error_sum) = (0, 0.0);
    for node in map.inspect() {
        let Some(layout) = &node.layout else {
            assert_eq!(node.kind, super::NodeKind::Inner);
            continue;
        };
        assert_eq!(layout.occupancy.iter().sum::<u32>() as usize, node.fill);
        assert!(layout.occupancy.len() <= super::OCCUPANCY_BUCKETS);
        assert!(layout.points.len() <= super::SAMPLED_KEYS + 1);
        assert!(
            layout
                .points
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
        );
        assert!(layout.points.iter().all(|p| p.1 < node.capacity));
        if let (Some(min), Some(first)) = (node.min_key, layout.points.first()) {
            assert_eq!(first.0, min as f64, "the first key is always sampled");
        }
        error_max = error_max.max(layout.error_max);
        error_sum += layout.error_mean * node.fill as f64;
    }
    assert_eq!(error_max, stats.model_error_max);
    let mean = error_sum / stats.len as f64;
    assert!(
        (mean - stats.model_error_mean).abs() < 1e-6,
        "{mean} vs {stats:?}"
    );
}

#[test]
fn sequential_appends_grow_the_domain_and_stay_cheap() {
    let mut map = AlexMap::bulk_load((0..10_000u64).map(|i| (i, i)));
    for i in 10_000..300_000u64 {
        map.insert(i, i);
    }
    map.check_invariants().unwrap();
    let stats = map.stats();
    assert!(stats.events.root_expansions > 0, "{stats:?}");
    assert!(stats.shifts_per_insert < 2.0, "{stats:?}");
    assert!(stats.depth <= 4, "{stats:?}");
}

#[test]
fn removing_everything_shrinks_and_merges() {
    let mut map = AlexMap::bulk_load((0..100_000u64).map(|i| (i, i)));
    let before = map.memory_usage().total();
    for i in 0..100_000u64 {
        assert_eq!(map.remove(&i), Some(i));
    }
    map.check_invariants().unwrap();
    let stats = map.stats();
    assert!(map.is_empty());
    assert!(stats.events.merges > 0, "{stats:?}");
    assert!(map.memory_usage().total() < before / 4, "{stats:?}");
    map.insert(5, 5);
    assert_eq!(map.first(), Some((&5, &5)));
}

#[test]
fn runs_at_the_edges_of_the_key_space_stay_cheap_and_correct() {
    // Descending runs grow the root's domain to the left (slot offsets must be exact, or keys
    // near slot boundaries of the root would be lost); runs at i64::MIN/MAX sit where f64
    // model inputs tie in groups.
    let runs = [
        "descending",
        "ascending from i64::MIN",
        "descending from i64::MAX",
        "ascending between extremes",
    ];
    for name in runs {
        let key = |i: i64| match name {
            "descending" => 200_000 - i,
            "ascending from i64::MIN" => i64::MIN + i,
            "descending from i64::MAX" => i64::MAX - i,
            _ => i,
        };
        let mut map = AlexMap::new();
        if name == "ascending between extremes" {
            map.insert(i64::MIN, 0);
            map.insert(i64::MAX, 0);
        }
        for i in 0..200_000 {
            map.insert(key(i), i);
        }
        map.check_invariants()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for i in (0..200_000).step_by(101) {
            assert_eq!(map.get(&key(i)), Some(&i), "{name}");
        }
        let stats = map.stats();
        assert!(stats.shifts_per_insert < 2.0, "{name}: {stats:?}");
    }
}

/// Append runs (which grow nodes in place and split them by moving their right half) mixed
/// with random inserts and removes, checked against `BTreeMap` with periodic full checks.
#[test]
fn append_runs_mixed_with_random_operations() {
    let mut alex = AlexMap::new();
    let mut model = BTreeMap::new();
    let mut r = 0x2545_f491_4f6c_dd1du64;
    let mut next_up = 1_000_000i64;
    let mut next_down = -1i64;
    for step in 0..300_000i64 {
        r ^= r << 13;
        r ^= r >> 7;
        r ^= r << 17;
        let phase = (step / 20_000) % 3; // ascending runs, descending runs, random mix
        let k = match (phase, r % 10) {
            (0, 0..=7) => {
                next_up += 1 + (r % 3) as i64;
                next_up
            }
            (1, 0..=7) => {
                next_down -= 1 + (r % 3) as i64;
                next_down
            }
            _ => (r % 2_000_000) as i64 - 500_000,
        };
        if r % 7 == 0 {
            assert_eq!(alex.remove(&k), model.remove(&k));
        } else {
            assert_eq!(alex.insert(k, step), model.insert(k, step));
        }
        if step % 50_000 == 49_999 {
            alex.check_invariants()
                .unwrap_or_else(|e| panic!("step {step}: {e}"));
        }
    }
    alex.check_invariants().unwrap();
    assert!(alex.iter().eq(model.iter()));
    assert!(
        alex.range(-100_000..1_200_000)
            .rev()
            .eq(model.range(-100_000..1_200_000).rev())
    );
}

#[test]
fn exponentially_spreading_appends_grow_the_root_safely() {
    // Each key is ~0.01% larger than the last: the domain grows ~10^13-fold, through in-place
    // root doublings, new roots above, and finally outliers once the root may grow no more.
    let mut alex = AlexMap::new();
    let mut model = BTreeMap::new();
    let mut x = 1000.0f64;
    for i in 0..300_000u64 {
        x *= 1.0001;
        let k = x as i64 + i as i64; // strictly increasing
        alex.insert(k, i);
        model.insert(k, i);
    }
    alex.check_invariants().unwrap();
    assert!(alex.iter().eq(model.iter()));
    let stats = alex.stats();
    assert!(stats.events.root_expansions > 15, "{stats:?}");
    assert!(stats.shifts_per_insert < 2.0, "{stats:?}");
}

/// Nodes grown in place by ascending appends refit their models: lookups of appended keys stay
/// as accurate as after a bulk load (an auto-increment key, or rows loaded in key order).
#[test]
fn models_stay_accurate_after_ascending_appends_of_random_keys() {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut keys: Vec<i64> = (0..1_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 2) as i64
        })
        .collect();
    keys.sort_unstable();
    let mut map = AlexMap::new();
    for &k in &keys {
        map.insert(k, k);
    }
    let stats = map.stats();
    assert!(stats.model_error_mean < 4.0, "{stats:?}");
    map.check_invariants().unwrap();
}

/// Places: consecutive keys have consecutive places (the next rank in a group, or rank 0 of
/// a later group or node), and the places a lookup's prefetch offers, from the models and
/// bitmaps alone, include the key's own for as many keys as the models fit: all evenly
/// spaced keys, most uniform ones (84% measured), few of the small clustered sets the
/// linear models fit worst (1–2%, nothing required).
#[test]
fn places_follow_key_order_and_guesses_find_most_keys() {
    for (dist, percent) in [
        (Dist::Uniform, 80),
        (Dist::Sequential, 100),
        (Dist::Reverse, 100),
        (Dist::Lognormal, 0),
        (Dist::Clustered, 0),
    ] {
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut keys: Vec<i64> = (0..50_000u64)
            .map(|step| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                key_of(dist, rng, step)
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut map: AlexMap<i64, u64> = AlexMap::bulk_load(keys.iter().map(|&k| (k, 0)));
        let mut before: Option<super::Place> = None;
        let mut found = 0;
        for key in &keys {
            let (place, _) = map.get_mut_placed(key).expect("a present key");
            if let Some(before) = before {
                let next = if place.rank == 0 {
                    (place.node, place.group) != (before.node, before.group)
                } else {
                    (place.node, place.group) == (before.node, before.group)
                        && place.rank == before.rank + 1
                };
                assert!(next, "{dist:?}: {before:?} then {place:?}");
            }
            before = Some(place);
            let mut offered = Vec::new();
            map.prefetch_places(key, |guess| offered.push(guess));
            assert!(offered.len() <= 3);
            found += usize::from(offered.contains(&place));
        }
        assert!(
            found * 100 >= keys.len() * percent,
            "{dist:?}: {found} of {} keys among the guesses",
            keys.len()
        );
    }
}

/// Text keys sharing a long prefix (`'user-000000123456'`) are told apart by the nodes'
/// frames: they spread over many data nodes whose models predict them, whether bulk loaded,
/// inserted in random order or appended in order; keys arriving later from outside the
/// first keys' frames (shorter, longer, other prefixes) stay correct and are modelled once
/// their nodes are rebuilt.
#[test]
fn byte_keys_sharing_a_long_prefix_are_modelled() {
    let key = |n: u64| format!("user-{n:012}").into_bytes();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let numbers: Vec<u64> = (0..200_000).map(|_| random() % 1_000_000_000).collect();

    let bulk: AlexMap<Vec<u8>, u64> = numbers.iter().map(|&n| (key(n), n)).collect();
    let mut inserted = AlexMap::new();
    for &n in &numbers {
        inserted.insert(key(n), n);
    }
    let mut appended = AlexMap::new();
    for n in 0..200_000 {
        appended.insert(key(n), n);
    }
    for (name, map) in [
        ("bulk", &bulk),
        ("random", &inserted),
        ("appended", &appended),
    ] {
        let stats = map.stats();
        assert!(stats.data_nodes >= 16, "{name}: {stats:?}");
        assert!(stats.model_error_mean < 8.0, "{name}: {stats:?}");
        map.check_invariants().unwrap();
    }

    // Keys outside every frame built so far, mixed with more of the same shape.
    let mut model: BTreeMap<Vec<u8>, u64> = numbers.iter().map(|&n| (key(n), n)).collect();
    let mut map = inserted;
    for i in 0..50_000u64 {
        let n = random();
        let k = match i % 5 {
            0 => format!("user-{}", n % 1000).into_bytes(),
            1 => format!("user-{:020}", n).into_bytes(),
            2 => format!("u{}", n % 100_000).into_bytes(),
            3 => n.to_be_bytes().to_vec(),
            _ => key(n % 1_000_000_000),
        };
        assert_eq!(map.insert(k.clone(), i), model.insert(k, i));
    }
    map.check_invariants().unwrap();
    assert!(map.iter().map(|(k, v)| (k.clone(), *v)).eq(model.clone()));
    for (k, v) in model.iter().step_by(97) {
        assert_eq!(map.get(k), Some(v));
        assert_eq!(map.remove(k), Some(*v));
    }
    map.check_invariants().unwrap();
}
