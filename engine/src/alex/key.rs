use std::cmp::Ordering;

/// A key the learned index can model: totally ordered, with a monotone numeric model input.
///
/// `model_input` must be monotone non-decreasing with respect to `Ord`: `a <= b` implies
/// `a.model_input() <= b.model_input()`, and it must be finite. Ties are allowed (text keys
/// sharing an 8-byte prefix, composite keys sharing a first component); equality and ordering are
/// always decided by `Ord`, never by the model input.
pub trait ModelKey: Ord + Clone {
    /// The key's position on the model's number line.
    fn model_input(&self) -> f64;

    /// Bytes this key owns on the heap (for memory accounting); zero for plain values.
    fn heap_bytes(&self) -> usize {
        0
    }
}

macro_rules! int_model_key {
    ($($t:ty),*) => {$(
        impl ModelKey for $t {
            #[inline]
            fn model_input(&self) -> f64 {
                *self as f64
            }
        }
    )*};
}

int_model_key!(i16, i32, i64, u16, u32, u64, usize);

/// The model input of a byte string: its first eight bytes, big-endian, zero-padded.
#[inline]
fn prefix_input(bytes: &[u8]) -> f64 {
    let mut prefix = [0u8; 8];
    let n = bytes.len().min(8);
    prefix[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(prefix) as f64
}

impl ModelKey for Vec<u8> {
    fn model_input(&self) -> f64 {
        prefix_input(self)
    }

    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl ModelKey for String {
    fn model_input(&self) -> f64 {
        prefix_input(self.as_bytes())
    }

    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// Composite keys are modelled by their first component.
impl<A: ModelKey, B: Ord + Clone> ModelKey for (A, B) {
    fn model_input(&self) -> f64 {
        self.0.model_input()
    }

    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }
}

/// An `f64` key ordered by IEEE 754 `totalOrder` (-NaN < -inf < … < -0 < +0 < … < +inf < +NaN).
#[derive(Debug, Clone, Copy)]
pub struct TotalF64(pub f64);

impl PartialEq for TotalF64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for TotalF64 {}

impl PartialOrd for TotalF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TotalF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl ModelKey for TotalF64 {
    /// The value itself, with infinities and NaNs pinned to the finite extremes on their side.
    fn model_input(&self) -> f64 {
        let v = self.0;
        if v.is_finite() {
            v
        } else if v.is_sign_negative() {
            f64::MIN
        } else {
            f64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ModelKey, TotalF64};
    use proptest::prelude::*;

    fn assert_monotone<K: ModelKey + std::fmt::Debug>(a: K, b: K) -> Result<(), TestCaseError> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(lo.model_input() <= hi.model_input(), "{lo:?} {hi:?}");
        prop_assert!(lo.model_input().is_finite());
        Ok(())
    }

    proptest! {
        #[test]
        fn byte_keys_are_monotone(a: Vec<u8>, b: Vec<u8>) { assert_monotone(a, b)?; }

        #[test]
        fn string_keys_are_monotone(a: String, b: String) { assert_monotone(a, b)?; }

        #[test]
        fn integer_keys_are_monotone(a: i64, b: i64, c: u64, d: u64) {
            assert_monotone(a, b)?;
            assert_monotone(c, d)?;
        }

        #[test]
        fn float_keys_are_monotone(a: f64, b: f64) { assert_monotone(TotalF64(a), TotalF64(b))?; }

        #[test]
        fn composite_keys_are_monotone(a: (i32, String), b: (i32, String)) { assert_monotone(a, b)?; }
    }

    #[test]
    fn special_floats_are_ordered_and_finite() {
        let keys = [
            f64::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            1.0,
            f64::INFINITY,
            f64::NAN,
        ]
        .map(TotalF64);
        assert!(
            keys.windows(2)
                .all(|w| w[0] < w[1] && w[0].model_input() <= w[1].model_input())
        );
    }
}
