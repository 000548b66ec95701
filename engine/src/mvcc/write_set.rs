//! A transaction's writes to one table, by key, in key order.
//!
//! A bulk load writes millions of keys in one transaction, in any order, and looks each up
//! first (is it taken?): in a `BTreeMap` that search missed the cache at every level and was a
//! third of an INSERT's cost with random keys. Integer keys therefore move into a learned index
//! (the table's own kind, [`AlexMap`]) once there are more than a few: its model sends a
//! lookup to the key's slot with one or two misses. Small write sets — nearly every OLTP
//! transaction — stay in a `BTreeMap`, which costs nothing to create.
//!
//! ```text
//!   ints: None                     rest: BTreeMap<RowKey, V>   every key, while few
//!   ints: Some(AlexMap<i64, V>)    rest: BTreeMap<RowKey, V>   integer keys | byte-string keys
//! ```
//! Integer keys sort before byte-string keys ([`RowKey`]'s order), so the ALEX part, then
//! `rest`, is the map in key order. (A table's keys are all of one kind; the split only keeps
//! the map correct for any mix.)

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::alex::AlexMap;
use crate::table::RowKey;

/// Keys a write set holds in its `BTreeMap` before its integer keys move into ALEX.
const ALEX_FROM: usize = 256;

#[derive(Debug, Clone, Default)]
pub(crate) struct WriteMap<V: Default> {
    /// The integer keys, once there were more than [`ALEX_FROM`] keys.
    ints: Option<AlexMap<i64, V>>,
    /// Every key until then; after, the byte-string keys.
    rest: BTreeMap<RowKey, V>,
}

impl<V: Default + Clone> WriteMap<V> {
    pub fn len(&self) -> usize {
        self.ints.as_ref().map_or(0, AlexMap::len) + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &RowKey) -> Option<&V> {
        match (&self.ints, key) {
            (Some(ints), RowKey::Int(k)) => ints.get(k),
            _ => self.rest.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &RowKey) -> Option<&mut V> {
        match (&mut self.ints, key) {
            (Some(ints), RowKey::Int(k)) => ints.get_mut(k),
            _ => self.rest.get_mut(key),
        }
    }

    /// Starts loading the slot integer key `key` would be found in (see
    /// [`AlexMap::prefetch`]); a small map needs no hint.
    pub fn prefetch(&self, key: i64) {
        if let Some(ints) = &self.ints {
            ints.prefetch(&key);
        }
    }

    pub fn contains_key(&self, key: &RowKey) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces `key`'s value; the previous one, if any.
    pub fn insert(&mut self, key: RowKey, value: V) -> Option<V> {
        let previous = match (&mut self.ints, key) {
            (Some(ints), RowKey::Int(k)) => return ints.insert(k, value),
            (_, key) => self.rest.insert(key, value),
        };
        if previous.is_none() && self.ints.is_none() && self.rest.len() > ALEX_FROM {
            self.move_ints();
        }
        previous
    }

    pub fn remove(&mut self, key: &RowKey) -> Option<V> {
        match (&mut self.ints, key) {
            (Some(ints), RowKey::Int(k)) => ints.remove(k),
            _ => self.rest.remove(key),
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (RowKey, &V)> {
        self.range((Bound::Unbounded, Bound::Unbounded))
    }

    /// The entries with keys in `(lower, upper)`, in key order.
    pub fn range(
        &self,
        (lower, upper): (Bound<RowKey>, Bound<RowKey>),
    ) -> impl Iterator<Item = (RowKey, &V)> {
        let ints = self.ints.as_ref().and_then(|ints| {
            let bounds = (int_lower(&lower)?, int_upper(&upper));
            (!is_empty(bounds.0.as_ref(), bounds.1.as_ref())).then(|| ints.range(bounds))
        });
        let rest =
            (!is_empty(lower.as_ref(), upper.as_ref())).then(|| self.rest.range((lower, upper)));
        let ints = ints
            .into_iter()
            .flatten()
            .map(|(k, v)| (RowKey::Int(*k), v));
        let rest = rest.into_iter().flatten().map(|(k, v)| (k.clone(), v));
        ints.chain(rest)
    }

    /// The entries in key order, taken out of the map.
    pub fn into_sorted(self) -> impl Iterator<Item = (RowKey, V)> {
        let ints = self.ints.into_iter().flat_map(AlexMap::into_sorted);
        ints.map(|(k, v)| (RowKey::Int(k), v)).chain(self.rest)
    }

    /// Moves the integer keys from `rest` into ALEX.
    fn move_ints(&mut self) {
        let bytes = self.rest.split_off(&RowKey::Bytes(Vec::new()));
        let ints = std::mem::replace(&mut self.rest, bytes);
        self.ints = Some(AlexMap::bulk_load(ints.into_iter().map(
            |(key, value)| match key {
                RowKey::Int(k) => (k, value),
                RowKey::Bytes(_) => unreachable!("byte-string keys sort after integers"),
            },
        )));
    }
}

/// The lower bound among integers of a lower bound on row keys; `None` if it is above them all.
fn int_lower(bound: &Bound<RowKey>) -> Option<Bound<i64>> {
    match bound {
        Bound::Included(RowKey::Int(k)) => Some(Bound::Included(*k)),
        Bound::Excluded(RowKey::Int(k)) => Some(Bound::Excluded(*k)),
        Bound::Included(RowKey::Bytes(_)) | Bound::Excluded(RowKey::Bytes(_)) => None,
        Bound::Unbounded => Some(Bound::Unbounded),
    }
}

/// The upper bound among integers of an upper bound on row keys.
fn int_upper(bound: &Bound<RowKey>) -> Bound<i64> {
    match bound {
        Bound::Included(RowKey::Int(k)) => Bound::Included(*k),
        Bound::Excluded(RowKey::Int(k)) => Bound::Excluded(*k),
        // Every integer key sorts below a byte-string key.
        _ => Bound::Unbounded,
    }
}

/// Whether no key lies between the bounds (`BTreeMap::range` panics on such bounds).
pub(crate) fn is_empty<T: Ord>(lower: Bound<&T>, upper: Bound<&T>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(u) | Bound::Excluded(u)) => {
            l >= u
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(RowKey, u32),
        Remove(RowKey),
        Range(Bound<RowKey>, Bound<RowKey>),
        /// A copy taken here, checked against the model at the end (the copy-on-write of a
        /// write set an index scan holds).
        Clone,
    }

    /// Mostly integer keys from a small domain (so removes and replacements hit), some byte
    /// strings: together they cross into ALEX and keep both parts in use.
    fn key() -> impl Strategy<Value = RowKey> {
        prop_oneof![
            8 => (-400i64..400).prop_map(RowKey::Int),
            1 => prop::collection::vec(0u8..4, 0..3).prop_map(RowKey::Bytes),
        ]
    }

    fn bound() -> impl Strategy<Value = Bound<RowKey>> {
        crate::test_strategies::bound(key)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (key(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => key().prop_map(Op::Remove),
            1 => (bound(), bound()).prop_map(|(l, u)| Op::Range(l, u)),
            1 => Just(Op::Clone),
        ]
    }

    fn model_range(
        model: &BTreeMap<RowKey, u32>,
        (lower, upper): (Bound<RowKey>, Bound<RowKey>),
    ) -> Vec<(RowKey, u32)> {
        if is_empty(lower.as_ref(), upper.as_ref()) {
            return Vec::new();
        }
        model
            .range((lower, upper))
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A write set answers as a `BTreeMap` does, before and after its integer keys move
        /// into ALEX, and a copy of it keeps the entries of the moment it was taken.
        #[test]
        fn matches_a_btree_map(ops in prop::collection::vec(op(), 1..1500)) {
            let mut map = WriteMap::<u32>::default();
            let mut model = BTreeMap::new();
            let mut copies = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(&k), model.remove(&k));
                        prop_assert!(!map.contains_key(&k));
                    }
                    Op::Range(l, u) => {
                        let ours: Vec<_> =
                            map.range((l.clone(), u.clone())).map(|(k, v)| (k, *v)).collect();
                        prop_assert_eq!(ours, model_range(&model, (l, u)));
                    }
                    Op::Clone => copies.push((map.clone(), model.clone())),
                }
                prop_assert_eq!(map.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(map.get(k), Some(v));
            }
            let iterated: Vec<_> = map.iter().map(|(k, v)| (k, *v)).collect();
            prop_assert_eq!(&iterated, &model.clone().into_iter().collect::<Vec<_>>());
            prop_assert_eq!(map.into_sorted().collect::<Vec<_>>(), iterated);
            for (copy, then) in copies {
                prop_assert_eq!(copy.into_sorted().collect::<Vec<_>>(), then.into_iter().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn many_integer_keys_move_into_alex() {
        let mut map = WriteMap::default();
        for k in (0..2 * ALEX_FROM as i64).rev() {
            map.insert(RowKey::Int(k), k);
        }
        map.insert(RowKey::Bytes(vec![1]), -1);
        assert!(map.ints.is_some());
        assert_eq!(
            map.rest.len(),
            1,
            "only the byte-string key stays in the BTreeMap"
        );
        let keys: Vec<RowKey> = map.iter().map(|(k, _)| k).collect();
        let mut expected: Vec<RowKey> = (0..2 * ALEX_FROM as i64).map(RowKey::Int).collect();
        expected.push(RowKey::Bytes(vec![1]));
        assert_eq!(keys, expected);
    }
}
