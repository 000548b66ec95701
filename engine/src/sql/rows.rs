//! A statement's result rows, stored flat: every row has the same number of values, so the
//! rows sit one after another in one vector. A result of ten thousand rows is one allocation
//! instead of ten thousand and one, and reading it walks memory in order.

use std::fmt;
use std::ops::Index;

use crate::types::{Row, Value};

#[derive(Clone, Default, PartialEq)]
pub struct Rows {
    /// Values per row.
    width: usize,
    /// Rows (also for a width of zero, where `values` is empty).
    len: usize,
    values: Vec<Value>,
}

impl Rows {
    /// No rows yet, of `width` values each.
    pub fn new(width: usize) -> Self {
        Self::with_capacity(width, 0)
    }

    /// No rows yet, with room for `rows` of them.
    pub fn with_capacity(width: usize, rows: usize) -> Self {
        Self {
            width,
            len: 0,
            values: Vec::with_capacity(width.saturating_mul(rows)),
        }
    }

    /// Rows of `width` values each, from row vectors (each must have `width` values).
    pub fn from_rows(width: usize, rows: impl IntoIterator<Item = Row>) -> Self {
        let mut out = Self::new(width);
        for row in rows {
            out.push(row);
        }
        out
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Appends a row of `width` values.
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        debug_assert_eq!(
            self.values.len() - before,
            self.width,
            "a row of the wrong width"
        );
        self.len += 1;
    }

    /// Appends a row whose values `fill` pushes into the given vector (exactly `width` of
    /// them); if it fails, nothing is appended.
    pub fn push_with<E>(
        &mut self,
        fill: impl FnOnce(&mut Vec<Value>) -> Result<(), E>,
    ) -> Result<(), E> {
        let before = self.values.len();
        match fill(&mut self.values) {
            Ok(()) => {
                debug_assert_eq!(
                    self.values.len() - before,
                    self.width,
                    "a row of the wrong width"
                );
                self.len += 1;
                Ok(())
            }
            Err(e) => {
                self.values.truncate(before);
                Err(e)
            }
        }
    }

    pub fn get(&self, i: usize) -> Option<&[Value]> {
        (i < self.len).then(|| &self.values[i * self.width..(i + 1) * self.width])
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            rows: self,
            front: 0,
            back: self.len,
        }
    }

    /// Keeps the first `len` rows.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            self.values.truncate(len * self.width);
        }
    }

    /// The rows as row vectors.
    pub fn into_rows(self) -> Vec<Row> {
        self.into_iter().collect()
    }
}

/// Rows as wide as the first one.
impl FromIterator<Row> for Rows {
    fn from_iter<I: IntoIterator<Item = Row>>(iter: I) -> Self {
        let mut iter = iter.into_iter().peekable();
        let width = iter.peek().map_or(0, Vec::len);
        Self::from_rows(width, iter)
    }
}

impl Index<usize> for Rows {
    type Output = [Value];

    fn index(&self, i: usize) -> &[Value] {
        assert!(i < self.len, "row {i} of {}", self.len);
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// Lists the rows, as a vector of row vectors would.
impl fmt::Debug for Rows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Vec<Row>> for Rows {
    fn eq(&self, other: &Vec<Row>) -> bool {
        self.len == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_slice())
    }
}

impl PartialEq<Rows> for Vec<Row> {
    fn eq(&self, other: &Rows) -> bool {
        other == self
    }
}

/// The rows in order, as slices.
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rows: &'a Rows,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [Value];

    fn next(&mut self) -> Option<&'a [Value]> {
        if self.front == self.back {
            return None;
        }
        let w = self.rows.width;
        let row = &self.rows.values[self.front * w..(self.front + 1) * w];
        self.front += 1;
        Some(row)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        let w = self.rows.width;
        Some(&self.rows.values[self.back * w..(self.back + 1) * w])
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a [Value];
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The rows as row vectors, each moved out (for callers that keep rows apart).
#[derive(Debug)]
pub struct IntoIter {
    width: usize,
    remaining: usize,
    values: std::vec::IntoIter<Value>,
}

impl Iterator for IntoIter {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.values.by_ref().take(self.width).collect())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter {
            width: self.width,
            remaining: self.len,
            values: self.values.into_iter(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(row: &[i64]) -> Row {
        row.iter().map(|&i| Value::Int(i)).collect()
    }

    #[test]
    fn rows_read_back_as_they_were_pushed() {
        let vecs = vec![ints(&[1, 2]), ints(&[3, 4]), ints(&[5, 6])];
        let mut rows = Rows::from_rows(2, vecs.clone());
        assert_eq!((rows.len(), rows.width()), (3, 2));
        assert_eq!(rows, vecs);
        assert_eq!(&rows[1], ints(&[3, 4]).as_slice());
        assert_eq!(rows.get(3), None);
        assert_eq!(rows.iter().next_back(), Some(ints(&[5, 6]).as_slice()));
        assert_eq!(format!("{rows:?}"), format!("{vecs:?}"));
        let failed: Result<(), ()> = rows.push_with(|out| {
            out.push(Value::Int(7));
            Err(())
        });
        assert!(failed.is_err());
        assert_eq!(rows.len(), 3);
        rows.truncate(2);
        assert_eq!(rows.clone().into_rows(), vecs[..2].to_vec());
        assert_eq!(rows.into_iter().len(), 2);
    }

    #[test]
    fn rows_without_columns_still_count() {
        let mut rows = Rows::new(0);
        rows.push([]);
        rows.push([]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.iter().count(), 2);
        assert!(rows[1].is_empty());
        assert_eq!(rows.into_rows(), vec![Row::new(), Row::new()]);
    }
}
