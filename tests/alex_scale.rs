//! ALEX at scale, through the public API. The 1M-key runs are part of the normal (release)
//! suite; the 100M-key run is ignored by default and documented in BENCHMARKS.md:
//! `cargo test --release --test alex_scale -- --ignored --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test may panic

use std::collections::BTreeMap;

use omendb::alex::AlexMap;

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[test]
fn a_million_random_operations_match_btreemap() {
    let mut alex = AlexMap::new();
    let mut model = BTreeMap::new();
    let mut rng = 7u64;
    for i in 0..1_000_000u64 {
        let r = splitmix(&mut rng);
        // Keys in a 2M range so that removes and overwrites hit.
        let k = r % 2_000_000;
        if r >> 60 < 3 {
            assert_eq!(alex.remove(&k), model.remove(&k));
        } else {
            assert_eq!(alex.insert(k, i), model.insert(k, i));
        }
    }
    alex.check_invariants().unwrap();
    assert!(alex.iter().eq(model.iter()));
    for start in (0..2_000_000).step_by(99_991) {
        assert!(
            alex.range(start..start + 5000)
                .rev()
                .eq(model.range(start..start + 5000).rev())
        );
    }
}

#[test]
fn a_million_bulk_loaded_keys_then_appends_and_lookups() {
    let mut rng = 11u64;
    let mut keys: Vec<u64> = (0..1_000_000).map(|_| splitmix(&mut rng) >> 1).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut alex = AlexMap::bulk_load(keys.iter().map(|&k| (k, !k)));
    let stats = alex.stats();
    assert!((2..=3).contains(&stats.depth), "{stats:?}");
    for &k in keys.iter().step_by(7) {
        assert_eq!(alex.get(&k), Some(&!k));
        assert_eq!(
            alex.get(&(k + 1)).is_some(),
            keys.binary_search(&(k + 1)).is_ok()
        );
    }
    // Appends past the maximum, as an auto-increment key would arrive.
    let top = *keys.last().unwrap();
    for i in 1..=200_000u64 {
        assert_eq!(alex.insert(top + i, i), None);
    }
    alex.check_invariants().unwrap();
    assert_eq!(alex.len(), keys.len() + 200_000);
    assert_eq!(alex.last(), Some((&(top + 200_000), &200_000)));
}

#[test]
#[ignore = "100M keys: minutes and ~6 GB; run by hand, see BENCHMARKS.md"]
fn a_hundred_million_keys() {
    let n = 100_000_000usize;
    let mut rng = 13u64;
    let mut keys: Vec<u64> = (0..n + n / 100).map(|_| splitmix(&mut rng)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.truncate(n);
    let started = std::time::Instant::now();
    let alex = AlexMap::bulk_load(keys.iter().map(|&k| (k, k)));
    println!("bulk load of {n} keys: {:?}", started.elapsed());
    let stats = alex.stats();
    println!("{stats:#?}");
    assert!((2..=3).contains(&stats.depth), "{stats:?}");
    for &k in keys.iter().step_by(1009) {
        assert_eq!(alex.get(&k), Some(&k));
    }
    let m = stats.memory;
    println!(
        "bytes per key: payload {:.2}, gaps {:.2}, structure {:.3}",
        m.payload as f64 / n as f64,
        m.gaps as f64 / n as f64,
        m.structure as f64 / n as f64
    );
}
