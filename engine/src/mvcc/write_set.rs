//! A transaction's writes to one table, by key, in key order.
//!
//! A bulk load writes millions of keys in one transaction, in any order, looks each up first
//! (is it taken?) and reads them in key order only once, at commit. Keys therefore move, once
//! there are more than a few, into [`Keyed`] parts (integers, byte strings): keys that come
//! in ascending order are simply appended; otherwise a hash map finds a key with one cache
//! miss, and the key order is built only when something reads in it — by a sort at commit,
//! or, if a scan asks for it before, as a learned index ([`AlexMap`]) of positions kept up to
//! date from then on. (A `BTreeMap` missed the cache at every level of its search: 40% of a
//! bulk load's statements with byte-string keys. Keeping an ALEX of the writes themselves up
//! to date as they came cost 250 ns a row with sequential integer keys and 500–700 with
//! random ones, most of it in node splits.) Small write sets — nearly every OLTP transaction —
//! stay in a `BTreeMap`, which costs nothing to create.
//!
//! ```text
//!   small: BTreeMap<RowKey, V>                               every key, while few
//!   ints: Keyed<i64, V>   bytes: Keyed<InlineBytes, V>       then: integer | byte-string keys
//! ```
//! Integer keys sort before byte-string keys ([`RowKey`]'s order), so the integer part, then
//! the byte-string part, is the map in key order. (A table's keys are all of one kind; the
//! split only keeps the map correct for any mix.)

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::ops::{Bound, RangeBounds};
use std::sync::OnceLock;

use crate::alex::{AlexMap, InlineBytes, ModelKey};
use crate::table::RowKey;

/// Keys a write set holds in its `BTreeMap` before they move into [`Keyed`] parts.
const HASHED_FROM: usize = 256;

/// Removed entries a [`Keyed`] part keeps beyond as many as it has live ones.
const COMPACT_SLACK: usize = 64;

#[derive(Debug, Clone, Default)]
pub(crate) struct WriteMap<V: Default> {
    /// Once there were more than [`HASHED_FROM`] keys, the integer keys and the byte-string
    /// keys (always both or neither).
    ints: Option<Keyed<i64, V>>,
    bytes: Option<Keyed<InlineBytes, V>>,
    /// Every key until then; empty after.
    small: BTreeMap<RowKey, V>,
}

impl<V: Default + Clone> WriteMap<V> {
    pub fn len(&self) -> usize {
        self.ints.as_ref().map_or(0, Keyed::len)
            + self.bytes.as_ref().map_or(0, Keyed::len)
            + self.small.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, key: &RowKey) -> Option<&V> {
        match (&self.ints, &self.bytes, key) {
            (Some(ints), _, RowKey::Int(k)) => ints.get(k),
            (_, Some(bytes), RowKey::Bytes(k)) => bytes.get(&InlineBytes::from_slice(k)),
            _ => self.small.get(key),
        }
    }

    pub fn get_mut(&mut self, key: &RowKey) -> Option<&mut V> {
        match (&mut self.ints, &mut self.bytes, key) {
            (Some(ints), _, RowKey::Int(k)) => ints.get_mut(k),
            (_, Some(bytes), RowKey::Bytes(k)) => bytes.get_mut(&InlineBytes::from_slice(k)),
            _ => self.small.get_mut(key),
        }
    }

    pub fn contains_key(&self, key: &RowKey) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces `key`'s value; the previous one, if any.
    pub fn insert(&mut self, key: RowKey, value: V) -> Option<V> {
        match (&mut self.ints, &mut self.bytes, key) {
            (Some(ints), _, RowKey::Int(k)) => ints.insert(k, value),
            (_, Some(bytes), RowKey::Bytes(k)) => bytes.insert(InlineBytes::from_vec(k), value),
            (_, _, key) => {
                let previous = self.small.insert(key, value);
                if self.small.len() > HASHED_FROM {
                    self.move_keys();
                }
                previous
            }
        }
    }

    pub fn remove(&mut self, key: &RowKey) -> Option<V> {
        match (&mut self.ints, &mut self.bytes, key) {
            (Some(ints), _, RowKey::Int(k)) => ints.remove(k),
            (_, Some(bytes), RowKey::Bytes(k)) => bytes.remove(&InlineBytes::from_slice(k)),
            _ => self.small.remove(key),
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
        let bytes = self.bytes.as_ref().and_then(|bytes| {
            let bounds = (bytes_lower(&lower), bytes_upper(&upper)?);
            (!is_empty(bounds.0.as_ref(), bounds.1.as_ref())).then(|| bytes.range(bounds))
        });
        let small =
            (!is_empty(lower.as_ref(), upper.as_ref())).then(|| self.small.range((lower, upper)));
        let ints = ints
            .into_iter()
            .flatten()
            .map(|(k, v)| (RowKey::Int(*k), v));
        let bytes = bytes
            .into_iter()
            .flatten()
            .map(|(k, v)| (RowKey::Bytes(k.to_vec()), v));
        let small = small.into_iter().flatten().map(|(k, v)| (k.clone(), v));
        ints.chain(bytes).chain(small)
    }

    /// The entries in key order, taken out of the map.
    pub fn into_sorted(self) -> impl Iterator<Item = (RowKey, V)> {
        let ints = self.ints.into_iter().flat_map(Keyed::into_sorted);
        let bytes = self.bytes.into_iter().flat_map(Keyed::into_sorted);
        let ints = ints.map(|(k, v)| (RowKey::Int(k), v));
        let bytes = bytes.map(|(k, v)| (RowKey::Bytes(k.into_vec()), v));
        ints.chain(bytes).chain(self.small)
    }

    /// Moves every key from `small` into the [`Keyed`] parts.
    fn move_keys(&mut self) {
        let mut ints = Keyed::default();
        let mut bytes = Keyed::default();
        for (key, value) in std::mem::take(&mut self.small) {
            match key {
                RowKey::Int(k) => ints.insert(k, value),
                RowKey::Bytes(k) => bytes.insert(InlineBytes::from_vec(k), value),
            };
        }
        self.ints = Some(ints);
        self.bytes = Some(bytes);
    }
}

/// Writes under keys of one kind. While the keys come in ascending order (a sequential load),
/// `entries` is itself in key order and is searched by bisection, the next key only compared
/// with the last; the first key out of order hashes them all, after which the key order is
/// built only when something reads in it.
#[derive(Debug, Clone)]
struct Keyed<K: ModelKey, V> {
    /// Each write, in the order its key was first written; `None` where a key was removed
    /// (removes are rare: a deleted row this transaction inserted, a rollback to a savepoint).
    entries: Vec<(K, Option<V>)>,
    /// Each key's position in `entries`, once the keys stopped ascending.
    at: Option<HashMap<K, usize, foldhash::fast::RandomState>>,
    /// With `at`: the keys in order with their positions, built by the first read in key order
    /// and kept up to date after it (so a scan between each of many inserts costs an ALEX
    /// insert each, not a sort).
    order: OnceLock<AlexMap<K, usize>>,
    /// The entries that are not `None`.
    len: usize,
}

impl<K: ModelKey, V> Default for Keyed<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            at: None,
            order: OnceLock::new(),
            len: 0,
        }
    }
}

impl<K: ModelKey + Hash, V> Keyed<K, V> {
    fn len(&self) -> usize {
        self.len
    }

    /// Where `key`'s entry is (its value may have been removed).
    fn position(&self, key: &K) -> Option<usize> {
        match &self.at {
            Some(at) => at.get(key).copied(),
            None if self.entries.last().is_none_or(|(last, _)| last < key) => None,
            None => self.entries.binary_search_by(|(k, _)| k.cmp(key)).ok(),
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.entries[self.position(key)?].1.as_ref()
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let at = self.position(key)?;
        self.entries[at].1.as_mut()
    }

    fn insert(&mut self, key: K, value: V) -> Option<V> {
        if let Some(at) = self.position(&key) {
            let previous = self.entries[at].1.replace(value);
            self.len += usize::from(previous.is_none());
            return previous;
        }
        let at = self.entries.len();
        if self.at.is_none() && self.entries.last().is_some_and(|(last, _)| *last > key) {
            self.hash_keys();
        }
        if let Some(positions) = &mut self.at {
            positions.insert(key.clone(), at);
            if let Some(order) = self.order.get_mut() {
                order.insert(key.clone(), at);
            }
        }
        self.entries.push((key, Some(value)));
        self.len += 1;
        None
    }

    /// Indexes the entries by hashing, from now on: a key came out of order.
    fn hash_keys(&mut self) {
        let mut at = HashMap::with_capacity_and_hasher(self.len, Default::default());
        for (position, (key, value)) in self.entries.iter().enumerate() {
            if value.is_some() {
                at.insert(key.clone(), position);
            }
        }
        self.at = Some(at);
    }

    fn remove(&mut self, key: &K) -> Option<V> {
        let at = self.position(key)?;
        let value = self.entries[at].1.take()?;
        self.len -= 1;
        if let Some(positions) = &mut self.at {
            positions.remove(key);
            if let Some(order) = self.order.get_mut() {
                order.remove(key);
            }
        }
        if self.entries.len() > 2 * self.len + COMPACT_SLACK {
            self.compact();
        }
        Some(value)
    }

    /// Drops the entries of removed keys, once they are the majority: a transaction that
    /// inserts and deletes rows over and over (a staging table) would otherwise grow its write
    /// set with every row it ever wrote. Positions change, so the hash and the order are
    /// rebuilt (the order when next read in it): amortized, a removal pays for one entry.
    fn compact(&mut self) {
        self.entries.retain(|(_, value)| value.is_some());
        if self.at.is_some() {
            self.order = OnceLock::new();
            self.hash_keys();
        }
    }

    /// With hashed keys: the keys in order, with their entries' positions.
    fn order(&self, at: &HashMap<K, usize, foldhash::fast::RandomState>) -> &AlexMap<K, usize> {
        self.order.get_or_init(|| {
            let mut keys: Vec<(K, usize)> = at.iter().map(|(k, &at)| (k.clone(), at)).collect();
            keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            AlexMap::bulk_load(keys)
        })
    }

    fn range(&self, bounds: (Bound<K>, Bound<K>)) -> impl Iterator<Item = (&K, &V)> {
        let (ascending, hashed) = match &self.at {
            None => {
                let start = self.entries.partition_point(|(key, _)| match &bounds.0 {
                    Bound::Included(lower) => key < lower,
                    Bound::Excluded(lower) => key <= lower,
                    Bound::Unbounded => false,
                });
                let entries = self.entries[start..].iter();
                let within =
                    entries.take_while(move |(key, _)| RangeBounds::contains(&bounds, key));
                (
                    Some(within.filter_map(|(key, value)| Some((key, value.as_ref()?)))),
                    None,
                )
            }
            Some(at) => {
                let ordered = self.order(at).range(bounds);
                let ordered =
                    ordered.filter_map(|(key, &at)| Some((key, self.entries[at].1.as_ref()?)));
                (None, Some(ordered))
            }
        };
        ascending
            .into_iter()
            .flatten()
            .chain(hashed.into_iter().flatten())
    }

    /// The entries in key order, taken out: as they are if the keys came in order, else in
    /// the order kept or sorted where they are.
    fn into_sorted(self) -> impl Iterator<Item = (K, V)> {
        let mut entries = self.entries;
        match (self.at, self.order.into_inner()) {
            (None, _) => {}
            (Some(_), Some(order)) => {
                let mut sorted = Vec::with_capacity(order.len());
                for (key, at) in order.into_sorted() {
                    sorted.push((key, entries[at].1.take()));
                }
                entries = sorted;
            }
            // Removed keys' entries sort among the others and are skipped below.
            (Some(_), None) => entries.sort_unstable_by(|a, b| a.0.cmp(&b.0)),
        }
        entries
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
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

/// The lower bound among byte strings of a lower bound on row keys.
fn bytes_lower(bound: &Bound<RowKey>) -> Bound<InlineBytes> {
    match bound {
        Bound::Included(RowKey::Bytes(k)) => Bound::Included(InlineBytes::from_slice(k)),
        Bound::Excluded(RowKey::Bytes(k)) => Bound::Excluded(InlineBytes::from_slice(k)),
        // Every byte-string key sorts above an integer key.
        _ => Bound::Unbounded,
    }
}

/// The upper bound among byte strings of an upper bound on row keys; `None` if it is below
/// them all.
fn bytes_upper(bound: &Bound<RowKey>) -> Option<Bound<InlineBytes>> {
    match bound {
        Bound::Included(RowKey::Bytes(k)) => Some(Bound::Included(InlineBytes::from_slice(k))),
        Bound::Excluded(RowKey::Bytes(k)) => Some(Bound::Excluded(InlineBytes::from_slice(k))),
        Bound::Included(RowKey::Int(_)) | Bound::Excluded(RowKey::Int(_)) => None,
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
        /// Inserts the key this far above the highest appended so far (keys in ascending
        /// order, as a sequential load writes them): an integer, or a byte string.
        Append(u8, u32),
        AppendBytes(u8, u32),
        /// Replaces or removes the model's n-th key (modulo its length).
        ReplaceNth(usize, u32),
        RemoveNth(usize),
        Range(Bound<RowKey>, Bound<RowKey>),
        /// A copy taken here, checked against the model at the end (the copy-on-write of a
        /// write set an index scan holds).
        Clone,
    }

    /// Mostly integer keys from a small domain (so removes and replacements hit), some byte
    /// strings: together they cross into the hashed part and keep both parts in use.
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

    /// A sequential load: appends, with replacements, removes, scans and copies among them,
    /// and no key out of order.
    fn appending() -> impl Strategy<Value = Op> {
        prop_oneof![
            15 => (1u8..4, any::<u32>()).prop_map(|(step, v)| Op::Append(step, v)),
            15 => (1u8..4, any::<u32>()).prop_map(|(step, v)| Op::AppendBytes(step, v)),
            3 => (any::<usize>(), any::<u32>()).prop_map(|(n, v)| Op::ReplaceNth(n, v)),
            3 => any::<usize>().prop_map(Op::RemoveNth),
            2 => (bound(), bound()).prop_map(|(l, u)| Op::Range(l, u)),
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

    /// Applies `ops` to a write set and to a `BTreeMap`, checking that they answer alike.
    fn agrees_with_a_btree_map(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut map = WriteMap::<u32>::default();
        let mut model = BTreeMap::new();
        let mut copies = Vec::new();
        let (mut appended, mut appended_bytes) = (0, 0u64);
        let nth = |model: &BTreeMap<RowKey, u32>, n: usize| {
            model.keys().nth(n % model.len().max(1)).cloned()
        };
        for op in ops {
            match op {
                Op::Insert(k, v) => {
                    prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v));
                }
                Op::Append(step, v) => {
                    appended += i64::from(step);
                    let k = RowKey::Int(appended);
                    prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v));
                }
                Op::AppendBytes(step, v) => {
                    appended_bytes += u64::from(step);
                    let k = RowKey::Bytes(appended_bytes.to_be_bytes().to_vec());
                    prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v));
                }
                Op::ReplaceNth(n, v) => {
                    if let Some(k) = nth(&model, n) {
                        prop_assert_eq!(map.insert(k.clone(), v), model.insert(k, v));
                    }
                }
                Op::Remove(k) => {
                    prop_assert_eq!(map.remove(&k), model.remove(&k));
                    prop_assert!(!map.contains_key(&k));
                }
                Op::RemoveNth(n) => {
                    if let Some(k) = nth(&model, n) {
                        prop_assert_eq!(map.remove(&k), model.remove(&k));
                        prop_assert!(!map.contains_key(&k));
                    }
                }
                Op::Range(l, u) => {
                    let ours: Vec<_> = map
                        .range((l.clone(), u.clone()))
                        .map(|(k, v)| (k, *v))
                        .collect();
                    prop_assert_eq!(ours, model_range(&model, (l, u)));
                }
                Op::Clone => copies.push((map.clone(), model.clone())),
            }
            prop_assert_eq!(map.len(), model.len());
        }
        for (k, v) in &model {
            prop_assert_eq!(map.get(k), Some(v));
        }
        let expected: Vec<_> = model.into_iter().collect();
        // Taken out both before and after a scan has put the keys in order.
        prop_assert_eq!(
            map.clone().into_sorted().collect::<Vec<_>>(),
            expected.clone()
        );
        let iterated: Vec<_> = map.iter().map(|(k, v)| (k, *v)).collect();
        prop_assert_eq!(&iterated, &expected);
        prop_assert_eq!(map.into_sorted().collect::<Vec<_>>(), expected);
        for (copy, then) in copies {
            prop_assert_eq!(
                copy.into_sorted().collect::<Vec<_>>(),
                then.into_iter().collect::<Vec<_>>()
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A write set answers as a `BTreeMap` does, before and after its integer keys move
        /// into the hashed part, and a copy of it keeps the entries of the moment it was taken.
        #[test]
        fn matches_a_btree_map(ops in prop::collection::vec(op(), 1..1500)) {
            agrees_with_a_btree_map(ops)?;
        }

        /// The same for keys that come in ascending order (kept in the order they came) and
        /// then, for some, out of order (from there on hashed).
        #[test]
        fn matches_a_btree_map_when_keys_ascend(
            ops in (prop::collection::vec(appending(), 300..1200),
                    prop::collection::vec(op(), 0..200))
                .prop_map(|(ascending, any)| [ascending, any].concat())
        ) {
            agrees_with_a_btree_map(ops)?;
        }
    }

    /// Rows inserted and deleted over and over leave no trace: the removed entries are
    /// dropped once they outnumber the live ones, and the map still answers as before.
    #[test]
    fn removed_entries_do_not_accumulate() {
        for ascending in [true, false] {
            let mut map = WriteMap::default();
            let mut model = BTreeMap::new();
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            for i in 0..20_000i64 {
                let k = if ascending {
                    i
                } else {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 1) as i64
                };
                map.insert(RowKey::Int(k), i);
                model.insert(RowKey::Int(k), i);
                if i % 100 == 50 {
                    // A scan builds the key order, which the compaction must rebuild.
                    let scanned: Vec<_> = map.iter().map(|(k, v)| (k, *v)).collect();
                    let expected: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    assert_eq!(scanned, expected);
                }
                if i % 10 != 0 {
                    assert_eq!(map.remove(&RowKey::Int(k)), model.remove(&RowKey::Int(k)));
                }
            }
            let ints = map.ints.as_ref().map_or(0, |ints| ints.entries.len());
            assert!(
                ints <= 2 * model.len() + COMPACT_SLACK,
                "{ints} entries for {} live keys",
                model.len()
            );
            let expected: Vec<_> = model.into_iter().collect();
            assert_eq!(map.into_sorted().collect::<Vec<_>>(), expected);
        }
    }

    #[test]
    fn many_keys_move_into_the_keyed_parts() {
        let mut map = WriteMap::default();
        for k in (0..2 * HASHED_FROM as i64).rev() {
            map.insert(RowKey::Int(k), k);
        }
        map.insert(RowKey::Bytes(vec![1]), -1);
        assert!(map.small.is_empty());
        assert_eq!(map.ints.as_ref().map(Keyed::len), Some(2 * HASHED_FROM));
        assert!(
            map.ints.as_ref().is_some_and(|ints| ints.at.is_some()),
            "descending keys are hashed"
        );
        assert_eq!(map.bytes.as_ref().map(Keyed::len), Some(1));
        let keys: Vec<RowKey> = map.iter().map(|(k, _)| k).collect();
        let mut expected: Vec<RowKey> = (0..2 * HASHED_FROM as i64).map(RowKey::Int).collect();
        expected.push(RowKey::Bytes(vec![1]));
        assert_eq!(keys, expected);
    }
}
