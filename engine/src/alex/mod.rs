//! ALEX, the adaptive learned index (Ding et al., SIGMOD 2020): the primary index of every
//! table. [`AlexMap`] is an ordered map with a `BTreeMap`-like API; it knows nothing of SQL,
//! MVCC or storage.
//!
//! # The shape
//!
//! A B-tree finds a key by comparing it with separator keys at every level. ALEX replaces the
//! comparisons with arithmetic: every node holds a linear model `slot = slope·(x − anchor) +
//! intercept` over the key's *model input* `x` ([`ModelKey`]). Inner nodes use the model to pick
//! a child directly; data nodes use it to guess where the key sits in a sorted array and then
//! correct the guess with a short search.
//!
//! ```text
//!                     inner: model → slot 0..8
//!            ┌───┬───┬───┬───┬───┬───┬───┬───┐
//!            │ A │ A │ B │ C │ C │ C │ C │ D │     children: a node may own an aligned
//!            └─┬─┴───┴─┬─┴─┬─┴───┴───┴───┴─┬─┘     power-of-two block of slots
//!              ▼       ▼   ▼               ▼
//!            data A  data B  data C       data D ◄──► …   data nodes form a chain in key order
//! ```
//!
//! Routing never searches: the child for `x` is `children[model(x)]`, clamped to the array. The
//! slope is never negative, so routing is monotone, and a key's data node is *defined* as the one
//! its route reaches: inserts go there and lookups look there. Keys outside the root's domain
//! clamp to the first or last slot.
//!
//! # A data node
//!
//! Keys and values sit side by side in one *gapped array* of slots (about 30% of slots empty
//! after a build), so a lookup's key comparison and its value share a cache line; a bitmap marks
//! the occupied slots:
//!
//! ```text
//!   slot     0    1    2    3    4    5    6    7    8    9
//!   bitmap   ·    1    ·    1    1    ·    ·    1    ·    ·
//!   keys    [10] 10   [20] 20   31   [40] [40] 40  (40) (40)     [k] gap holding the next key
//!   values   -   v10   -   v20  v31   -    -   v40   -    -      (k) outside the window
//!                └──────────── window: min_slot..=max_slot ──┘
//! ```
//!
//! Inside the *window* between the first and the last key, each gap holds a copy of the next
//! key, so the window is a sorted array that can be searched without looking at the bitmap.
//! Outside the window slot contents are meaningless; that is what keeps appends at either end
//! cheap (nothing beyond the last key needs rewriting).
//!
//! **Lookup.** Predict a slot with the node's model, then search exponentially from it (1, 2,
//! 4, … slots) until the key is bracketed, then binary-search the bracket. A good model means
//! one or two probes. Lookups search for the first slot holding a *greater* key: since copies
//! of a key sit only in the gaps before it, the slot just before that one is the key itself if
//! it is present, and the bitmap is never read.
//!
//! **Insert** (the node has room). Find the neighbours `l < key < m`. If there are gaps between
//! them, the key goes into the gap nearest its predicted slot and the gaps before it now copy
//! it. If `l` and `m` are adjacent, the elements between the insertion point and the nearest gap
//! (left or right) shift by one slot:
//!
//! ```text
//!   insert 25 between 20 and 31 (adjacent); nearest gap is slot 5:
//!   before  … 20 | 31 | 40 | [_] …        after  … 20 | 25 | 31 | 40 …
//! ```
//!
//! # Growing and shrinking
//!
//! A data node may fill to 80% of its slots. When an insert would pass that:
//!
//! - **Expand**: rebuild the node with 1/0.6 slots per key and a model retrained on its keys.
//!   Where inserts have been landing tells the layout: if more than 90% went past the last key
//!   (ascending appends), the keys are packed left at 80% and as many free slots as keys are
//!   left at the right, where the model (which extrapolates) will put the next keys; mirrored
//!   for descending inserts. Once a node is laid out for appends and they keep coming, it
//!   *grows in place*: free slots are added at its end and nothing is rebuilt, since the model
//!   already predicts the new keys' slots.
//! - **Split**, when the node holds 2^15 keys or its cost model says it is
//!   slow: ALEX's cost per insert is 20 per exponential-search step plus 0.5 per shifted slot;
//!   a node splits when that measured cost exceeds both 20 and 1.5× the cost its model promised
//!   when built, or it shifts more than 100 slots per insert. A node that owns several parent
//!   slots splits **sideways**: its block is halved (repeatedly, while one half holds most keys)
//!   and each half gets a new data node (an append-mostly node keeps its left half in place and
//!   moves only the keys of the right half out, so a run of appends moves each key once, and
//!   splits at half the size, since growing in place would overshoot). A node owning a single
//!   slot first doubles its parent's
//!   fanout (every child's block doubles; the doubled model routes each key to one of the two
//!   halves of its old slot, exactly, since scaling by two is exact in floating point). A parent
//!   already at the maximum fanout (2^16) makes the node split **downward** into a new inner
//!   node with two children.
//! - **Out-of-domain keys** clamp into the edge data nodes. When an edge node is full and the
//!   new key lies within one domain width beyond the root's domain, the root's domain grows
//!   instead: its fanout doubles toward that side with a fresh empty data node (or, at the
//!   maximum fanout, a new root is added above), and keys the old edge node held that now route
//!   to the new node move there. Both changes are made with integer arithmetic on the model
//!   (an `offset` added to the floored prediction, a `shift` that groups slots), never by
//!   adjusting the floating-point intercept, which would round and silently move keys near a
//!   slot boundary into the neighbouring child. Sequential appends therefore keep landing in fresh nodes at
//!   constant cost. Farther keys (`i64::MAX` beside small keys) are outliers and stay in the edge
//!   node, whose searches stay logarithmic.
//! - **Shrink**: a data node below 20% full is rebuilt at 60%; an emptied one releases its slots.
//!   A small node merges with its *buddy* (the node owning the other half of their common
//!   power-of-two block) when both are small, and an inner node left with one child is replaced
//!   by it.
//!
//! # Bulk loading
//!
//! `bulk_load` builds top-down: an inner node with fanout `n / 4096` (a power of two, at most
//! 2^16) and a model spanning its keys' model inputs; then its slots are assigned by halving
//! blocks until each block holds at most 4096 keys; a single slot with more keys than that
//! becomes an inner node of its own, recursively. Skewed data gets deeper subtrees where it is
//! dense. Data nodes are built at 70% density.
//!
//! # Model inputs and frames
//!
//! A model reads a key as a number, its *model input*, measured in the node's *frame*
//! ([`ModelKey::Frame`]), which the node learns from the keys it is built with. Integers are
//! their own numbers. Byte strings are read past the prefix all the node's keys share, as
//! numbers written in a mixed radix learned from them ([`ByteFrame`]): a byte position the
//! keys hold only digits in counts in tens, one they never change in counts for nothing. Text
//! keys such as `'user-000000123456'` and composite keys with a small leading integer (whose
//! encodings share their first bytes) then map onto their numeric values, which the linear
//! models fit; read as a plain base-256 number, a million of them were one model input and one
//! data node. Keys from outside a node's frame are placed below or above all keys inside it
//! (inputs stay monotone over every key, so routing stays exact); rebuilding a node relearns
//! its frame. An inner node whose frame cannot tell a splitting child's keys apart gives them
//! a subtree of their own rather than more of its slots.
//!
//! # Simplifications admitted
//!
//! - Gap slots hold `V::default()`, so values must implement `Default`: payloads stay contiguous
//!   without a tag per slot and without `unsafe`. Gap slots hold clones of keys, which for
//!   byte-string keys means heap copies (counted under `gaps` in [`MemoryUsage`]).
//! - The cost model runs only when a node is full; reads are not counted (lookups take `&self`).
//! - Keys with equal model inputs cannot be told apart by a model: a node whose keys all share
//!   one input never splits, it only grows, and searches in it are binary.
//! - Inner nodes are not retrained after bulk load; only their fanout changes.
//! - Model inputs are `f64`: integer keys above 2^53 that differ by less than their float
//!   spacing (e.g. nanosecond timestamps, spacing 256) share a model input. The search stays
//!   correct and logarithmic within such a run; only the model's guess is coarser.

mod arena;
mod data_node;
mod iter;
mod key;
mod map;
mod model;
mod stats;
#[cfg(test)]
mod tests;

/// Asks the CPU to start loading `value`'s cache line: a hint, with no effect on results.
#[inline(always)]
pub(crate) fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no memory; SSE, the instruction's target
    // feature, is part of every x86_64 target.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Asks the CPU to start loading the cache line at `address`, which may be any number: a
/// prefetch of memory that is not mapped, or no longer holds what the caller thinks, is
/// dropped without effect (used with addresses that are predictions).
#[inline(always)]
pub(crate) fn prefetch_address(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address, and changes no memory; SSE, the
    // instruction's target feature, is part of every x86_64 target.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::without_provenance::<i8>(address));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Asks for the cache lines of `row`'s first `lines` lines of values (a `Value` is 32 bytes,
/// two to a line): a row is an allocation of its own, read after its key was found.
#[inline(always)]
pub(crate) fn prefetch_values<T>(row: &[T], lines: usize) {
    let per_line = (64 / std::mem::size_of::<T>().max(1)).max(1);
    row.iter().step_by(per_line).take(lines).for_each(prefetch);
}

/// `iter`'s items, each shown to `hint` `distance` items before the loop receives it: for a
/// loop over items that point at scattered memory (`hint` prefetches it), so that the misses
/// of the next few items overlap instead of being waited for one by one.
pub(crate) fn hinted<I: Iterator>(
    mut iter: I,
    distance: usize,
    mut hint: impl FnMut(&I::Item),
) -> impl Iterator<Item = I::Item> {
    let mut queue = std::collections::VecDeque::with_capacity(distance + 1);
    std::iter::from_fn(move || {
        while queue.len() <= distance {
            let Some(item) = iter.next() else { break };
            hint(&item);
            queue.push_back(item);
        }
        queue.pop_front()
    })
}

pub use iter::Range;
pub use key::{ByteFrame, INLINE_KEY_BYTES, InlineBytes, ModelKey, TotalF64};
pub use map::{AlexEvents, AlexMap, Place};
pub use stats::{
    AlexStats, DataLayout, LevelFanout, MemoryUsage, NodeInfo, NodeKind, OCCUPANCY_BUCKETS,
    SAMPLED_KEYS,
};
