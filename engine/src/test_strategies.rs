//! Property-test strategies shared by the modules' tests.

use std::fmt::Debug;
use std::ops::Bound;

use proptest::prelude::*;

/// A range bound on keys drawn from `key()`: unbounded, inclusive or exclusive.
pub(crate) fn bound<S>(key: impl Fn() -> S) -> impl Strategy<Value = Bound<S::Value>>
where
    S: Strategy + 'static,
    S::Value: Debug + Clone,
{
    prop_oneof![
        Just(Bound::Unbounded),
        key().prop_map(Bound::Included),
        key().prop_map(Bound::Excluded),
    ]
}
