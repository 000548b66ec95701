//! Ordered iteration over the leaf chain, in both directions.

use std::iter::FusedIterator;
use std::ops::Bound;

use super::data_node::{DataNode, NIL};
use super::key::ModelKey;
use super::map::AlexMap;

/// A position: data node and occupied slot.
type Pos = (u32, usize);

/// An iterator over a key range of an [`AlexMap`], created by [`AlexMap::range`] and
/// [`AlexMap::iter`]. Double-ended: `.rev()` walks the range backwards.
///
/// Each end keeps the bitmap word it is walking, so stepping to the next key is a
/// count-trailing-zeros on a register rather than a search.
pub struct Range<'a, K: ModelKey, V> {
    map: &'a AlexMap<K, V>,
    front: Cursor<'a, K, V>,
    /// The last position in the range; found on first use when the range has no end bound, so
    /// that a forward scan never touches the far end of the map.
    back: Option<Cursor<'a, K, V>>,
    done: bool,
}

/// One end of a range: a data node, a slot, and the not-yet-visited bits of the slot's
/// bitmap word (above the slot for the front, below it for the back).
struct Cursor<'a, K: ModelKey, V> {
    id: u32,
    leaf: &'a DataNode<K, V>,
    slot: usize,
    rest: u64,
}

impl<K: ModelKey, V> Clone for Cursor<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: ModelKey, V> Copy for Cursor<'_, K, V> {}

/// A copy at the same position (both ends), walking on independently.
impl<K: ModelKey, V> Clone for Range<'_, K, V> {
    fn clone(&self) -> Self {
        Range {
            map: self.map,
            front: self.front,
            back: self.back,
            done: self.done,
        }
    }
}

impl<K: ModelKey, V> std::fmt::Debug for Range<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range")
            .field("front", &(self.front.id, self.front.slot))
            .field("back", &self.back.map(|b| (b.id, b.slot)))
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, K: ModelKey, V: Default> Range<'a, K, V> {
    pub(super) fn new(map: &'a AlexMap<K, V>, start: Bound<&K>, end: Bound<&K>) -> Self {
        let front = match start {
            Bound::Unbounded => first_from(map, map.head),
            Bound::Included(k) | Bound::Excluded(k) => {
                let id = map.leaf_for(k);
                match map.data[id as usize].seek(k, matches!(start, Bound::Included(_))) {
                    Some(slot) => Some((id, slot)),
                    None => first_from(map, map.data[id as usize].next),
                }
            }
        };
        let back = match end {
            Bound::Unbounded => None,
            Bound::Included(k) | Bound::Excluded(k) => {
                let id = map.leaf_for(k);
                match map.data[id as usize].seek_back(k, matches!(end, Bound::Included(_))) {
                    Some(slot) => Some((id, slot)),
                    None => match last_from(map, map.data[id as usize].prev) {
                        Some(pos) => Some(pos),
                        None => return Range::empty(map),
                    },
                }
            }
        };
        let Some(front) = front else {
            return Range::empty(map);
        };
        let done = back.is_some_and(|back: Pos| {
            map.data[front.0 as usize].key(front.1) > map.data[back.0 as usize].key(back.1)
        });
        Range {
            map,
            front: Cursor::front(map, front),
            back: back.map(|back| Cursor::back(map, back)),
            done,
        }
    }

    fn empty(map: &'a AlexMap<K, V>) -> Self {
        Range {
            map,
            front: Cursor::front(map, (map.head, 0)),
            back: None,
            done: true,
        }
    }
}

impl<'a, K: ModelKey, V: Default> Cursor<'a, K, V> {
    /// A front cursor at an occupied position.
    fn front(map: &'a AlexMap<K, V>, (id, slot): Pos) -> Self {
        let leaf = &map.data[id as usize];
        let word = leaf.bitmap.get(slot / 64).copied().unwrap_or(0);
        // Bits strictly above `slot` in its word.
        let rest = if slot % 64 == 63 {
            0
        } else {
            word & (u64::MAX << (slot % 64 + 1))
        };
        Cursor {
            id,
            leaf,
            slot,
            rest,
        }
    }

    /// A back cursor at an occupied position.
    fn back(map: &'a AlexMap<K, V>, (id, slot): Pos) -> Self {
        let leaf = &map.data[id as usize];
        let word = leaf.bitmap.get(slot / 64).copied().unwrap_or(0);
        // Bits strictly below `slot` in its word.
        let rest = word & ((1u64 << (slot % 64)) - 1);
        Cursor {
            id,
            leaf,
            slot,
            rest,
        }
    }

    fn pos(&self) -> Pos {
        (self.id, self.slot)
    }

    /// Moves to the next occupied position; false at the end of the map.
    fn advance(&mut self, map: &'a AlexMap<K, V>) -> bool {
        if self.rest != 0 {
            self.slot = self.slot / 64 * 64 + self.rest.trailing_zeros() as usize;
            self.rest &= self.rest - 1;
            return true;
        }
        let next_words = self.leaf.bitmap.iter().enumerate().skip(self.slot / 64 + 1);
        if let Some((w, &bits)) = next_words.into_iter().find(|(_, bits)| **bits != 0) {
            self.slot = w * 64 + bits.trailing_zeros() as usize;
            self.rest = bits & (bits - 1);
            return true;
        }
        match first_from(map, self.leaf.next) {
            Some(pos) => {
                *self = Cursor::front(map, pos);
                true
            }
            None => false,
        }
    }

    /// Moves to the previous occupied position; false at the start of the map.
    fn retreat(&mut self, map: &'a AlexMap<K, V>) -> bool {
        if self.rest != 0 {
            let bit = 63 - self.rest.leading_zeros() as usize;
            self.slot = self.slot / 64 * 64 + bit;
            self.rest &= !(1u64 << bit);
            return true;
        }
        let earlier_words = self.leaf.bitmap[..self.slot / 64].iter().enumerate().rev();
        if let Some((w, &bits)) = earlier_words.into_iter().find(|(_, bits)| **bits != 0) {
            let bit = 63 - bits.leading_zeros() as usize;
            self.slot = w * 64 + bit;
            self.rest = bits & !(1u64 << bit);
            return true;
        }
        match last_from(map, self.leaf.prev) {
            Some(pos) => {
                *self = Cursor::back(map, pos);
                true
            }
            None => false,
        }
    }

    fn item(&self) -> (&'a K, &'a V) {
        let slot = &self.leaf.slots[self.slot];
        (&slot.key, &slot.value)
    }
}

/// The first occupied position in data node `id` or the nodes after it.
fn first_from<K: ModelKey, V: Default>(map: &AlexMap<K, V>, mut id: u32) -> Option<Pos> {
    while id != NIL {
        let leaf = &map.data[id as usize];
        if leaf.len > 0 {
            return Some((id, leaf.min_slot));
        }
        id = leaf.next;
    }
    None
}

/// The last occupied position in data node `id` or the nodes before it.
fn last_from<K: ModelKey, V: Default>(map: &AlexMap<K, V>, mut id: u32) -> Option<Pos> {
    while id != NIL {
        let leaf = &map.data[id as usize];
        if leaf.len > 0 {
            return Some((id, leaf.max_slot));
        }
        id = leaf.prev;
    }
    None
}

impl<'a, K: ModelKey, V: Default> Iterator for Range<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.front.item();
        let at_back = self.back.is_some_and(|back| back.pos() == self.front.pos());
        if at_back || !self.front.advance(self.map) {
            self.done = true;
        }
        Some(item)
    }
}

impl<K: ModelKey, V: Default> DoubleEndedIterator for Range<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let map = self.map;
        // Not done, so the front is at a key and the map has a last key.
        let back = self.back.get_or_insert_with(|| {
            let last = last_from(map, map.tail).unwrap_or((map.head, 0));
            Cursor::back(map, last)
        });
        let item = back.item();
        if back.pos() == self.front.pos() || !back.retreat(map) {
            self.done = true;
        }
        Some(item)
    }
}

impl<K: ModelKey, V: Default> FusedIterator for Range<'_, K, V> {}
