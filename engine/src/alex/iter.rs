//! Ordered iteration over the leaf chain, in both directions.

use std::iter::FusedIterator;
use std::ops::Bound;

use super::data_node::NIL;
use super::key::ModelKey;
use super::map::AlexMap;

/// A position: data node and occupied slot.
type Pos = (u32, usize);

/// An iterator over a key range of an [`AlexMap`], created by [`AlexMap::range`] and
/// [`AlexMap::iter`]. Double-ended: `.rev()` walks the range backwards.
pub struct Range<'a, K, V> {
    map: &'a AlexMap<K, V>,
    front: Pos,
    back: Pos,
    done: bool,
}

impl<K, V> std::fmt::Debug for Range<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Range")
            .field("front", &self.front)
            .field("back", &self.back)
            .field("done", &self.done)
            .finish()
    }
}

impl<'a, K: ModelKey, V: Default> Range<'a, K, V> {
    pub(super) fn new(map: &'a AlexMap<K, V>, start: Bound<&K>, end: Bound<&K>) -> Self {
        let front = match start {
            Bound::Unbounded => first_from(map, map.head),
            Bound::Included(k) | Bound::Excluded(k) => {
                let id = map.leaf_for(k.model_input());
                match map.data[id as usize].seek(k, matches!(start, Bound::Included(_))) {
                    Some(slot) => Some((id, slot)),
                    None => first_from(map, map.data[id as usize].next),
                }
            }
        };
        let back = match end {
            Bound::Unbounded => last_from(map, map.tail),
            Bound::Included(k) | Bound::Excluded(k) => {
                let id = map.leaf_for(k.model_input());
                match map.data[id as usize].seek_back(k, matches!(end, Bound::Included(_))) {
                    Some(slot) => Some((id, slot)),
                    None => last_from(map, map.data[id as usize].prev),
                }
            }
        };
        match (front, back) {
            (Some(front), Some(back)) => {
                let done = key_at(map, front) > key_at(map, back);
                Range {
                    map,
                    front,
                    back,
                    done,
                }
            }
            _ => Range {
                map,
                front: (NIL, 0),
                back: (NIL, 0),
                done: true,
            },
        }
    }
}

fn key_at<K: ModelKey, V: Default>(map: &AlexMap<K, V>, (id, slot): Pos) -> &K {
    &map.data[id as usize].keys[slot]
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

impl<'a, K: ModelKey, V: Default> Range<'a, K, V> {
    fn item(&self, (id, slot): Pos) -> (&'a K, &'a V) {
        let leaf = &self.map.data[id as usize];
        (&leaf.keys[slot], &leaf.values[slot])
    }
}

impl<'a, K: ModelKey, V: Default> Iterator for Range<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.item(self.front);
        if self.front == self.back {
            self.done = true;
        } else {
            let (id, slot) = self.front;
            let leaf = &self.map.data[id as usize];
            self.front = match leaf.next_occupied(slot + 1) {
                Some(next) => (id, next),
                // The back position lies ahead, so a next position exists.
                None => first_from(self.map, leaf.next).unwrap_or(self.back),
            };
        }
        Some(item)
    }
}

impl<K: ModelKey, V: Default> DoubleEndedIterator for Range<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.item(self.back);
        if self.front == self.back {
            self.done = true;
        } else {
            let (id, slot) = self.back;
            let leaf = &self.map.data[id as usize];
            let prev = if slot > 0 {
                leaf.prev_occupied(slot - 1)
            } else {
                None
            };
            self.back = match prev {
                Some(prev) => (id, prev),
                None => last_from(self.map, leaf.prev).unwrap_or(self.front),
            };
        }
        Some(item)
    }
}

impl<K: ModelKey, V: Default> FusedIterator for Range<'_, K, V> {}
