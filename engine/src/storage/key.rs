//! The layout of every storage key. All keys start with a tag byte naming their kind; object ids
//! are big-endian so that one table's rows, or one index's entries, are a contiguous key range.
//!
//! ```text
//! Meta(name)             0x01 name
//! Table(id)              0x02 id:u32            → the table's schema (catalog)
//! Row(table, pk)         0x10 table:u32 pk      → the row, pk memcomparable
//! IndexEntry(index, k)   0x11 index:u32 k       → empty; k = indexed values ++ pk, memcomparable
//! ```
//!
//! Index entries are no longer written: a secondary index is derived from its table's rows,
//! which are read at every open anyway, so storing it too doubled an indexed table's writes.
//! Entries that earlier versions stored are deleted when their table is next loaded.

use crate::catalog::ObjectId;

const META: u8 = 0x01;
const TABLE: u8 = 0x02;
const VIEW: u8 = 0x03;
const ROLE: u8 = 0x04;
const ROW: u8 = 0x10;
const INDEX_ENTRY: u8 = 0x11;

/// A storage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// A database-wide setting or counter, by name.
    Meta(&'a str),
    /// A table's schema.
    Table(ObjectId),
    /// A view's definition, by name.
    View(&'a str),
    /// A role (user), by name.
    Role(&'a str),
    /// The newest committed version of a row, by encoded primary key.
    Row(ObjectId, &'a [u8]),
    /// A secondary-index entry: encoded indexed values followed by the encoded primary key
    /// (only in data written by earlier versions; see the module's notes).
    IndexEntry(ObjectId, &'a [u8]),
}

/// A key range that holds exactly the keys of one kind (and object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPrefix {
    Meta,
    Tables,
    Views,
    Roles,
    Rows(ObjectId),
    IndexEntries(ObjectId),
}

impl Key<'_> {
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Key::Meta(name) => tagged(META, None, name.as_bytes()),
            Key::Table(id) => tagged(TABLE, Some(id), &[]),
            Key::View(name) => tagged(VIEW, None, name.as_bytes()),
            Key::Role(name) => tagged(ROLE, None, name.as_bytes()),
            Key::Row(table, pk) => tagged(ROW, Some(table), pk),
            Key::IndexEntry(index, key) => tagged(INDEX_ENTRY, Some(index), key),
        }
    }
}

impl KeyPrefix {
    /// Appends the prefix to `out` (a key is its prefix followed by the object's own bytes).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match *self {
            KeyPrefix::Meta => out.push(META),
            KeyPrefix::Tables => out.push(TABLE),
            KeyPrefix::Views => out.push(VIEW),
            KeyPrefix::Roles => out.push(ROLE),
            KeyPrefix::Rows(table) => {
                out.push(ROW);
                out.extend(table.to_be_bytes());
            }
            KeyPrefix::IndexEntries(index) => {
                out.push(INDEX_ENTRY);
                out.extend(index.to_be_bytes());
            }
        }
    }

    /// The keys with this prefix, as `[start, end)`. (A prefix starts with a tag byte below
    /// 0xFF, so some key always follows all of them: `end` is never empty.)
    pub fn range(&self) -> (Vec<u8>, Vec<u8>) {
        let start = self.encode();
        let end = crate::encoding::prefix_end(&start).unwrap_or_default();
        (start, end)
    }

    pub fn encode(&self) -> Vec<u8> {
        match *self {
            KeyPrefix::Meta => vec![META],
            KeyPrefix::Tables => vec![TABLE],
            KeyPrefix::Views => vec![VIEW],
            KeyPrefix::Roles => vec![ROLE],
            KeyPrefix::Rows(table) => tagged(ROW, Some(table), &[]),
            KeyPrefix::IndexEntries(index) => tagged(INDEX_ENTRY, Some(index), &[]),
        }
    }
}

fn tagged(tag: u8, id: Option<ObjectId>, rest: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(5 + rest.len());
    key.push(tag);
    if let Some(id) = id {
        key.extend(id.to_be_bytes());
    }
    key.extend_from_slice(rest);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix is a prefix of exactly its own keys: scanning it can never return another
    /// kind's or another object's keys.
    #[test]
    fn prefixes_are_prefixes_of_their_keys_only() {
        let keys = [
            (Key::Meta("next_object_id"), KeyPrefix::Meta),
            (Key::Meta(""), KeyPrefix::Meta),
            (Key::Table(7), KeyPrefix::Tables),
            (Key::Table(u32::MAX), KeyPrefix::Tables),
            (Key::View("v"), KeyPrefix::Views),
            (Key::View(""), KeyPrefix::Views),
            (Key::Role("admin"), KeyPrefix::Roles),
            (Key::Row(7, &[0x20, 1]), KeyPrefix::Rows(7)),
            (Key::Row(7, &[]), KeyPrefix::Rows(7)),
            (Key::Row(8, &[0xFF]), KeyPrefix::Rows(8)),
            (
                Key::IndexEntry(7, &[0x40, 0, 0]),
                KeyPrefix::IndexEntries(7),
            ),
            (Key::IndexEntry(256, &[1]), KeyPrefix::IndexEntries(256)),
        ];
        let prefixes = [
            KeyPrefix::Meta,
            KeyPrefix::Tables,
            KeyPrefix::Views,
            KeyPrefix::Roles,
            KeyPrefix::Rows(7),
            KeyPrefix::Rows(8),
            KeyPrefix::IndexEntries(7),
            KeyPrefix::IndexEntries(256),
        ];
        for (key, own) in keys {
            let encoded = key.encode();
            for prefix in prefixes {
                let matches = encoded.starts_with(&prefix.encode());
                assert_eq!(matches, prefix == own, "{key:?} vs {prefix:?}");
            }
        }
    }

    #[test]
    fn prefixes_encode_into_a_buffer_as_they_encode() {
        for prefix in [
            KeyPrefix::Meta,
            KeyPrefix::Tables,
            KeyPrefix::Views,
            KeyPrefix::Rows(9),
            KeyPrefix::IndexEntries(70_000),
        ] {
            let mut out = vec![];
            prefix.encode_into(&mut out);
            assert_eq!(out, prefix.encode());
        }
        let mut row = vec![];
        KeyPrefix::Rows(3).encode_into(&mut row);
        row.extend([0x20, 7]);
        assert_eq!(row, Key::Row(3, &[0x20, 7]).encode());
    }

    #[test]
    fn rows_sort_by_table_then_key() {
        let a = Key::Row(1, &[0x20, 9]).encode();
        let b = Key::Row(2, &[0x20, 0]).encode();
        let c = Key::Row(2, &[0x20, 1]).encode();
        assert!(a < b && b < c);
        assert!(Key::Table(300).encode() < Key::Row(0, &[]).encode());
    }
}
