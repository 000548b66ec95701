use std::cmp::Ordering;
use std::fmt::Debug;

/// A key the learned index can model: totally ordered, with a monotone numeric model input.
///
/// Every node measures its keys in a [`Frame`](ModelKey::Frame) of its own, learned from the
/// keys it was built with ([`frame`](ModelKey::frame)). Integers need none (`()`), but byte
/// strings do: keys like `'user-000000123456'`, or composite keys with a small leading integer,
/// share their first bytes and use few values of the rest, and an input read from the first
/// eight bytes would be one number for all of them.
///
/// In any one frame, `model_input` must be monotone non-decreasing with respect to `Ord`
/// (`a <= b` implies `a.model_input(f) <= b.model_input(f)`) and finite. Ties are allowed (keys
/// that differ only past what the frame looks at, keys outside the frame); equality and
/// ordering are always decided by `Ord`, never by the model input.
pub trait ModelKey: Ord + Clone {
    /// What a node measures keys against.
    type Frame: Clone + Default + Debug;

    /// The frame for a node holding `keys`, sorted, from `first` to `last`: one in which they
    /// differ where they differ, as evenly as it can tell. `keys` may be a sample.
    fn frame<'a>(first: &Self, last: &Self, keys: impl Iterator<Item = &'a Self>) -> Self::Frame
    where
        Self: 'a;

    /// The key's position on the model's number line in `frame`.
    fn model_input(&self, frame: &Self::Frame) -> f64;

    /// Bytes this key owns on the heap (for memory accounting); zero for plain values.
    fn heap_bytes(&self) -> usize {
        0
    }
}

macro_rules! int_model_key {
    ($($t:ty),*) => {$(
        impl ModelKey for $t {
            type Frame = ();

            fn frame<'a>(_: &Self, _: &Self, _: impl Iterator<Item = &'a Self>) {}

            #[inline]
            fn model_input(&self, _: &()) -> f64 {
                *self as f64
            }
        }
    )*};
}

int_model_key!(i16, i32, i64, u16, u32, u64, usize);

/// How a node measures byte-string keys: past the prefix they all share, as numbers written
/// in a mixed radix learned from the keys.
///
/// Each byte position after `shared` is a digit ranging over the values the node's keys hold
/// there (`lo .. lo + radix`): positions that never change weigh nothing, decimal digits count
/// in tens, and full-range bytes in 256s. Keys written as decimal or hexadecimal counters,
/// dates, and big-endian integers inside composite keys then map linearly onto their
/// numeric values, which a linear model fits; reading the bytes as one base-256 number
/// instead puts every ten values in 4% of the span and the model's guesses hundreds of slots
/// off.
///
/// Keys outside the frame stay ordered: a byte below its position's range ends the number
/// with zero digits, one above with maximal digits, a missing byte (a shorter key) counts as
/// below, and keys not starting with `shared` go below or above every key that does. So the
/// input is monotone over all keys, and a node may receive keys from outside its frame (its
/// model's guess for them is just poor until the node is rebuilt and its frame relearned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ByteFrame {
    shared: Box<[u8]>,
    /// One per position after `shared`; the product of the radices fits in a `u64`.
    digits: Box<[Digit]>,
}

/// One byte position of a [`ByteFrame`]: the values it ranges over (`lo .. lo + radix`) and
/// what its digit is worth. A key's input is the sum of its digits times their weights —
/// independent multiplications, where a number read digit by digit (`value * radix + d`)
/// chains them, one waiting for the last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Digit {
    lo: u8,
    radix: u16,
    /// The product of the radices after this position (modulo 2^64: it is 2^64 only after a
    /// position whose radix is 1, whose digit is always 0).
    weight: u64,
    /// The largest number this position and the ones after it can write: the product of
    /// their radices, minus one.
    rest: u64,
}

/// The most byte positions a frame reads past its shared prefix.
const MAX_DIGITS: usize = 16;

/// The inputs of keys outside a frame: at least every in-frame input (ties are allowed).
const ABOVE_FRAME: f64 = 18_446_744_073_709_551_616.0; // 2^64

impl ByteFrame {
    fn learn<'a>(first: &[u8], last: &[u8], keys: impl Iterator<Item = &'a [u8]>) -> Self {
        let shared = first.iter().zip(last).take_while(|(a, b)| a == b).count();
        let mut ranges = [(u8::MAX, 0u8); MAX_DIGITS];
        let mut width = 0;
        let mut widen = |key: &[u8]| {
            let tail = key.get(shared..).unwrap_or_default();
            let tail = &tail[..tail.len().min(MAX_DIGITS)];
            width = width.max(tail.len());
            for (range, &b) in ranges.iter_mut().zip(tail) {
                range.0 = range.0.min(b);
                range.1 = range.1.max(b);
            }
        };
        widen(first);
        widen(last);
        keys.for_each(widen);
        let mut radices = Vec::with_capacity(width);
        let mut span: u128 = 1;
        for &(lo, hi) in &ranges[..width] {
            // Decimal digits count in tens even where the keys so far use fewer of them, so
            // that a counter's next values stay inside the frame.
            let (lo, radix) = if lo >= b'0' && hi <= b'9' {
                (b'0', 10)
            } else {
                (lo, u16::from(hi - lo) + 1)
            };
            span *= u128::from(radix);
            if span > 1 << 64 {
                break;
            }
            radices.push((lo, radix));
        }
        // Weights from the last position back: each the product of the radices after it.
        let mut digits = vec![Digit::default(); radices.len()];
        let mut after: u128 = 1;
        for (digit, &(lo, radix)) in digits.iter_mut().zip(&radices).rev() {
            let through = after * u128::from(radix);
            *digit = Digit {
                lo,
                radix,
                weight: after as u64,
                rest: (through - 1) as u64,
            };
            after = through;
        }
        ByteFrame {
            shared: first[..shared].into(),
            digits: digits.into(),
        }
    }

    #[inline]
    fn input(&self, bytes: &[u8]) -> f64 {
        let n = self.shared.len();
        if bytes.len() < n || bytes[..n] != *self.shared {
            return if bytes < &*self.shared {
                -ABOVE_FRAME
            } else {
                ABOVE_FRAME
            };
        }
        let tail = &bytes[n..];
        // Wrapping: the sum is below the frame's span (at most 2^64) at every step.
        let mut value: u64 = 0;
        for (i, digit) in self.digits.iter().enumerate() {
            match tail.get(i) {
                Some(&b) if b >= digit.lo && u16::from(b - digit.lo) < digit.radix => {
                    value = value.wrapping_add(u64::from(b - digit.lo).wrapping_mul(digit.weight));
                }
                // Above the range: the largest number from here on.
                Some(&b) if b > digit.lo => return value.wrapping_add(digit.rest) as f64,
                // Below the range, or past the key's end: the smallest.
                _ => return value as f64,
            }
        }
        value as f64
    }

    /// The bytes every key measured in this frame is expected to start with.
    pub fn shared(&self) -> &[u8] {
        &self.shared
    }
}

impl ModelKey for Vec<u8> {
    type Frame = ByteFrame;

    fn frame<'a>(first: &Self, last: &Self, keys: impl Iterator<Item = &'a Self>) -> ByteFrame {
        ByteFrame::learn(first, last, keys.map(Vec::as_slice))
    }

    #[inline]
    fn model_input(&self, frame: &ByteFrame) -> f64 {
        frame.input(self)
    }

    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// Bytes kept inside an index slot up to this many, on the heap beyond.
pub const INLINE_KEY_BYTES: usize = 32;

/// A byte-string key held in the slot itself when it is short (at most
/// [`INLINE_KEY_BYTES`]: composite keys of a few integers, UUIDs, most text keys), so that
/// comparing with it reads the slot's own cache line instead of a heap allocation's, and a gap
/// slot's copy of it costs no allocation. Ordered as its bytes are.
pub type InlineBytes = smallvec::SmallVec<[u8; INLINE_KEY_BYTES]>;

impl ModelKey for InlineBytes {
    type Frame = ByteFrame;

    fn frame<'a>(first: &Self, last: &Self, keys: impl Iterator<Item = &'a Self>) -> ByteFrame {
        ByteFrame::learn(first, last, keys.map(|k| k.as_slice()))
    }

    #[inline]
    fn model_input(&self, frame: &ByteFrame) -> f64 {
        frame.input(self)
    }

    fn heap_bytes(&self) -> usize {
        if self.spilled() { self.capacity() } else { 0 }
    }
}

impl ModelKey for String {
    type Frame = ByteFrame;

    fn frame<'a>(first: &Self, last: &Self, keys: impl Iterator<Item = &'a Self>) -> ByteFrame {
        ByteFrame::learn(
            first.as_bytes(),
            last.as_bytes(),
            keys.map(String::as_bytes),
        )
    }

    fn model_input(&self, frame: &ByteFrame) -> f64 {
        frame.input(self.as_bytes())
    }

    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

/// Composite keys are modelled by their first component.
impl<A: ModelKey, B: Ord + Clone> ModelKey for (A, B) {
    type Frame = A::Frame;

    fn frame<'a>(first: &Self, last: &Self, keys: impl Iterator<Item = &'a Self>) -> A::Frame
    where
        Self: 'a,
    {
        A::frame(&first.0, &last.0, keys.map(|k| &k.0))
    }

    fn model_input(&self, frame: &A::Frame) -> f64 {
        self.0.model_input(frame)
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
    type Frame = ();

    fn frame<'a>(_: &Self, _: &Self, _: impl Iterator<Item = &'a Self>) {}

    /// The value itself, with infinities and NaNs pinned to the finite extremes on their side.
    fn model_input(&self, _: &()) -> f64 {
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
    use super::{ABOVE_FRAME, ByteFrame, INLINE_KEY_BYTES, InlineBytes, ModelKey, TotalF64};
    use proptest::prelude::*;

    /// `a` and `b` are ordered by their inputs in the frame learned from `keys` (any keys).
    fn assert_monotone<K: ModelKey + std::fmt::Debug>(
        a: K,
        b: K,
        mut keys: Vec<K>,
    ) -> Result<(), TestCaseError> {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        keys.sort();
        let frame = match (keys.first(), keys.last()) {
            (Some(first), Some(last)) => K::frame(first, last, keys.iter()),
            _ => Default::default(),
        };
        let (x, y) = (lo.model_input(&frame), hi.model_input(&frame));
        prop_assert!(x <= y, "{lo:?} {hi:?} in {frame:?}: {x} > {y}");
        prop_assert!(x.is_finite() && y.is_finite());
        Ok(())
    }

    /// A key's input in `frame` as a number written digit by digit (`value * radix + d`),
    /// the frame's definition, with exact (128-bit) arithmetic.
    fn read_digit_by_digit(frame: &ByteFrame, key: &[u8]) -> f64 {
        let shared = frame.shared();
        if !key.starts_with(shared) {
            return if key < shared {
                -ABOVE_FRAME
            } else {
                ABOVE_FRAME
            };
        }
        let tail = &key[shared.len()..];
        let mut value: u128 = 0;
        // Once the key leaves a position's range, every later digit is its largest (above
        // the range) or zero (below it, or past the key's end).
        let mut left: Option<bool> = None;
        for (i, digit) in frame.digits.iter().enumerate() {
            let radix = u128::from(digit.radix);
            let in_range = |b: u8| b >= digit.lo && u16::from(b - digit.lo) < digit.radix;
            let d = match (left, tail.get(i)) {
                (Some(above), _) => {
                    if above {
                        radix - 1
                    } else {
                        0
                    }
                }
                (None, Some(&b)) if in_range(b) => u128::from(b - digit.lo),
                (None, Some(&b)) if b > digit.lo => {
                    left = Some(true);
                    radix - 1
                }
                (None, _) => {
                    left = Some(false);
                    0
                }
            };
            value = value * radix + d;
        }
        value as f64
    }

    /// Byte strings over a small alphabet, so that keys often share prefixes.
    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(0u8..3, 0..14),
            prop::collection::vec(any::<u8>(), 0..14),
        ]
    }

    proptest! {
        #[test]
        fn byte_keys_are_monotone(
            a in bytes(), b in bytes(), keys in prop::collection::vec(bytes(), 0..6)
        ) {
            assert_monotone(a, b, keys)?;
        }

        #[test]
        fn digit_keys_are_monotone(
            a in "[0-9a]{0,6}", b in "[0-9a]{0,6}", keys in prop::collection::vec("[0-9]{0,6}", 0..6)
        ) {
            assert_monotone(a, b, keys)?;
        }

        /// Keys held in the slot and spilled to the heap (either side of
        /// [`INLINE_KEY_BYTES`]) order and measure exactly as their bytes do.
        #[test]
        fn inline_keys_are_their_bytes(
            a in prop::collection::vec(0u8..3, 0..70),
            b in prop::collection::vec(0u8..3, 0..70),
            keys in prop::collection::vec(prop::collection::vec(0u8..3, 0..70), 1..6),
        ) {
            let inline = |k: &Vec<u8>| InlineBytes::from_slice(k);
            prop_assert_eq!(inline(&a).cmp(&inline(&b)), a.cmp(&b));
            prop_assert_eq!(inline(&a).spilled(), a.len() > INLINE_KEY_BYTES);
            let mut keys = keys;
            keys.sort();
            let (first, last) = (&keys[0], &keys[keys.len() - 1]);
            let ours: Vec<InlineBytes> = keys.iter().map(inline).collect();
            let frame = Vec::<u8>::frame(first, last, keys.iter());
            let inline_frame = InlineBytes::frame(&inline(first), &inline(last), ours.iter());
            prop_assert_eq!(format!("{frame:?}"), format!("{inline_frame:?}"));
            prop_assert_eq!(inline(&a).model_input(&frame), a.model_input(&frame));
            assert_monotone(inline(&a), inline(&b), ours)?;
        }

        /// The weighted sum equals the number read digit by digit, in and out of the frame.
        #[test]
        fn inputs_are_the_mixed_radix_number(
            a in bytes(), keys in prop::collection::vec(bytes(), 1..6)
        ) {
            let mut keys = keys;
            keys.sort();
            let frame = Vec::<u8>::frame(&keys[0], &keys[keys.len() - 1], keys.iter());
            prop_assert_eq!(a.model_input(&frame), read_digit_by_digit(&frame, &a));
            for key in &keys {
                prop_assert_eq!(key.model_input(&frame), read_digit_by_digit(&frame, key));
            }
        }

        #[test]
        fn string_keys_are_monotone(a: String, b: String, keys: Vec<String>) {
            assert_monotone(a, b, keys)?;
        }

        #[test]
        fn integer_keys_are_monotone(a: i64, b: i64, c: u64, d: u64) {
            assert_monotone(a, b, vec![])?;
            assert_monotone(c, d, vec![])?;
        }

        #[test]
        fn float_keys_are_monotone(a: f64, b: f64) {
            assert_monotone(TotalF64(a), TotalF64(b), vec![])?;
        }

        #[test]
        fn composite_keys_are_monotone(
            a: (i32, String), b: (i32, String), keys: Vec<(i32, String)>
        ) {
            assert_monotone(a, b, keys)?;
        }
    }

    /// Decimal counters behind a long shared prefix map exactly onto their numeric values;
    /// read as one base-256 number (the default frame) they are all one input.
    #[test]
    fn a_frame_measures_decimal_keys_by_their_value() {
        let key = |n: u64| format!("user-{n:012}").into_bytes();
        let keys: Vec<Vec<u8>> = (0..1000).map(|n| key(n * 997)).collect();
        let frame = Vec::frame(&keys[0], &keys[999], keys.iter());
        assert_eq!(frame.shared(), b"user-000000");
        for n in [0, 1, 9, 10, 99_999, 996_003, 999_999] {
            assert_eq!(key(n).model_input(&frame), n as f64);
        }
        let default = Default::default();
        assert_eq!(key(0).model_input(&default), key(999).model_input(&default));
        // Keys outside the frame sit beyond every key inside it, on their side.
        let inside = key(500).model_input(&frame);
        assert!(b"user-1".to_vec().model_input(&frame) > inside);
        assert!(b"user-000000".to_vec().model_input(&frame) <= key(0).model_input(&frame));
        assert!(b"user".to_vec().model_input(&frame) < inside);
        assert!(b"a".to_vec().model_input(&frame) < inside);
    }

    /// Big-endian integers inside composite keys: bytes that never change weigh nothing,
    /// the low bytes count in 256s.
    #[test]
    fn a_frame_measures_big_endian_integers_by_their_value() {
        let key = |a: u64, b: u64| [&[1u8][..], &a.to_be_bytes(), &[1], &b.to_be_bytes()].concat();
        let keys: Vec<Vec<u8>> = (0..4096).map(|i| key(7, i * 3)).collect();
        let frame = Vec::frame(&keys[0], &keys[4095], keys.iter());
        let inputs: Vec<f64> = keys.iter().map(|k| k.model_input(&frame)).collect();
        let step = inputs[1] - inputs[0];
        assert!(step > 0.0);
        assert!(inputs.windows(2).all(|w| w[1] - w[0] == step), "{inputs:?}");
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
                .all(|w| w[0] < w[1] && w[0].model_input(&()) <= w[1].model_input(&()))
        );
    }
}
