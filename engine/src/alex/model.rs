/// A linear model `slot = (⌊slope · (x − anchor) + intercept⌋ + offset) >> shift`.
///
/// Anchoring at a key near the node's smallest key keeps the subtraction small and precise for
/// large model inputs (u64 keys near 2^63), where `slope * x + intercept` would cancel
/// catastrophically. With `slope >= 0` every prediction is monotone non-decreasing in `x`, even
/// in floating point: that monotonicity is what makes routing by model correct.
///
/// The integer `offset` and `shift` let an inner node change its slots *exactly*: growing the
/// root's domain to the left adds slots in front (`offset`), and a new root above the old one
/// routes the old root's slots in groups (`shift`). Doing either with floating-point
/// arithmetic would move keys that sit near a slot boundary to the neighbouring child.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct LinearModel {
    pub slope: f64,
    pub anchor: f64,
    pub intercept: f64,
    pub offset: i64,
    pub shift: u32,
}

/// The largest `shift` a model may reach: slot numbers (< 2^16) shifted by it, and offsets
/// summed from them, stay far inside `i64`.
const MAX_SHIFT: u32 = 40;

impl LinearModel {
    /// The raw, unclamped prediction.
    #[inline]
    pub fn predict(&self, x: f64) -> f64 {
        self.slope * (x - self.anchor) + self.intercept
    }

    /// The prediction as a slot index in `0..len` (`len > 0`).
    #[inline]
    pub fn slot(&self, x: f64, len: usize) -> usize {
        let p = self.predict(x);
        let floor = if p >= 0.0 {
            p as i64 // saturating; truncation is the floor for non-negative values
        } else if p < 0.0 {
            p.floor() as i64
        } else {
            0 // NaN
        };
        let slot = floor.saturating_add(self.offset) >> self.shift;
        slot.clamp(0, len as i64 - 1) as usize
    }

    /// The prediction in slot units before clamping, as a float (for domain checks).
    pub fn position(&self, x: f64) -> f64 {
        (self.predict(x) + self.offset as f64) / f64::from(self.shift).exp2()
    }

    /// Maps `[lo, hi]` linearly onto slots `0..slots` (`hi` lands in the last slot).
    pub fn spanning(lo: f64, hi: f64, slots: usize) -> Self {
        let width = hi - lo;
        let slope = if width > 0.0 && width.is_finite() {
            // Shrink a little so that `hi` itself predicts just below `slots`.
            slots as f64 / width * (1.0 - f64::EPSILON * 4.0)
        } else {
            0.0
        };
        LinearModel {
            slope,
            anchor: lo,
            ..LinearModel::default()
        }
    }

    /// The smallest `x` this model maps to slot `slot` or beyond (up to rounding).
    pub fn slot_start(&self, slot: usize) -> f64 {
        if self.slope > 0.0 {
            let raw = ((slot as i64) << self.shift) - self.offset;
            self.anchor + (raw as f64 - self.intercept) / self.slope
        } else {
            self.anchor
        }
    }

    /// Least-squares fit of positions to model inputs, in one pass over `(x, y)` points in
    /// ascending `x`. Inputs are taken relative to the first `x`, which keeps the sums small
    /// and the cancellation in the variance mild. The slope is clamped at zero so the model
    /// stays monotone.
    pub fn fit(points: impl Iterator<Item = (f64, f64)>) -> Self {
        let mut anchor = None;
        let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (x, y) in points {
            let dx = x - *anchor.get_or_insert(x);
            n += 1.0;
            sx += dx;
            sy += y;
            sxx += dx * dx;
            sxy += dx * y;
        }
        let Some(anchor) = anchor else {
            return LinearModel::default();
        };
        let var = n * sxx - sx * sx;
        let slope = if var > 0.0 {
            ((n * sxy - sx * sy) / var).max(0.0)
        } else {
            0.0
        };
        LinearModel {
            slope,
            anchor,
            intercept: (sy - slope * sx) / n,
            ..LinearModel::default()
        }
    }

    /// The model that routes to twice as many slots: slot `s` becomes slots `2s` and `2s + 1`.
    /// Exact: either one less bit is shifted away, or everything scales by two, which floating
    /// point does without rounding.
    pub fn doubled(&self) -> Self {
        if self.shift > 0 {
            LinearModel {
                shift: self.shift - 1,
                ..*self
            }
        } else {
            LinearModel {
                slope: self.slope * 2.0,
                intercept: self.intercept * 2.0,
                offset: self.offset * 2,
                ..*self
            }
        }
    }

    /// The model that routes `fanout` more slots in front of the existing ones (a power of two
    /// `fanout`): every existing slot `s` becomes `s + fanout`. Exact.
    pub fn prepended(&self, fanout: usize) -> Self {
        LinearModel {
            offset: self.offset + ((fanout as i64) << self.shift),
            ..*self
        }
    }

    /// Whether [`grouped`](Self::grouped) by `fanout` keeps `shift` (and every offset built on
    /// it) small enough for exact 64-bit arithmetic.
    pub fn can_group(&self, fanout: usize) -> bool {
        self.shift + fanout.trailing_zeros() <= MAX_SHIFT
    }

    /// The model of a new parent with two slots: this model's slots `0..fanout` become its slot
    /// 0 (or slot 1 with `room_left`), the same number of slots beyond them the other. Exact.
    pub fn grouped(&self, fanout: usize, room_left: bool) -> Self {
        let mut top = *self;
        if room_left {
            top = top.prepended(fanout);
        }
        top.shift += fanout.trailing_zeros();
        top
    }

    /// The line `slot = a · x + b` this model follows, for display.
    pub fn line(&self) -> (f64, f64) {
        let scale = f64::from(self.shift).exp2();
        let slope = self.slope / scale;
        let intercept = (self.intercept + self.offset as f64 - self.slope * self.anchor) / scale;
        (slope, intercept)
    }
}

#[cfg(test)]
mod tests {
    use super::LinearModel;

    #[test]
    fn fit_recovers_a_line_and_clamps_negative_slopes() {
        let m = LinearModel::fit(
            (0..100).map(|i| (1e18 + f64::from(i) * 1e6, f64::from(i) * 2.0 + 3.0)),
        );
        assert!((m.predict(1e18 + 50e6) - 103.0).abs() < 1e-6, "{m:?}");
        let flat = LinearModel::fit([(1.0, 5.0), (2.0, 1.0)].into_iter());
        assert_eq!(flat.slope, 0.0);
        assert_eq!(LinearModel::fit([(7.0, 1.0)].into_iter()).slope, 0.0);
    }

    #[test]
    fn doubling_splits_every_slot_in_two() {
        let m = LinearModel::spanning(-1e6, 3e9, 64);
        let d = m.doubled();
        for i in 0..10_000 {
            let x = -1e6 + f64::from(i) * 301_234.5;
            let s = m.slot(x, 64);
            assert!(d.slot(x, 128) / 2 == s, "x={x}");
        }
    }

    #[test]
    fn prepending_and_grouping_move_no_key_across_a_boundary() {
        // Slopes and intercepts where adding 64.0 in floating point would round.
        let m = LinearModel::fit(
            (0..1000).map(|i| (f64::from(i) * 3.7, f64::from(i) * 0.0381 - 0.383)),
        );
        for i in 0..200_000 {
            let x = f64::from(i) * 0.0137;
            let s = m.slot(x, 64);
            let raw = m.predict(x).floor() as i64;
            if (0..64).contains(&raw) {
                assert_eq!(m.prepended(64).slot(x, 128), s + 64, "x={x}");
                assert_eq!(m.grouped(64, false).slot(x, 2), 0, "x={x}");
                assert_eq!(m.grouped(64, true).slot(x, 2), 1, "x={x}");
                assert_eq!(m.prepended(64).doubled().slot(x, 256) / 2, s + 64, "x={x}");
                assert_eq!(m.grouped(64, false).doubled().slot(x, 4), 0, "x={x}");
            }
        }
    }

    #[test]
    fn spanning_puts_the_ends_in_the_end_slots() {
        let m = LinearModel::spanning(10.0, 20.0, 8);
        assert_eq!(m.slot(10.0, 8), 0);
        assert_eq!(m.slot(20.0, 8), 7);
        assert_eq!(m.slot(f64::NAN, 8), 0);
        assert!(m.slot_start(4) > 14.9 && m.slot_start(4) < 15.1);
    }
}
