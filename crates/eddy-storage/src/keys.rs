//! Key layout of the `data` column family: `table id (u32 BE) | vnode (u16 BE) | row key`.
//!
//! The vnode (shard) is a stable hash of the row key. It is in every key now so that spreading a
//! table or a state table over workers (or machines) later moves whole vnode ranges instead of
//! re-keying data. Row keys themselves are memcomparable, so within a vnode RocksDB order is
//! SQL order.

use eddy_common::TableId;

/// Number of shards a table's keys are spread over. Part of the on-disk format: never change.
pub const VNODE_COUNT: u16 = 256;

/// The prefix under which all rows of a table live.
pub fn table_prefix(table: TableId) -> [u8; 4] {
    table.to_be_bytes()
}

/// FNV-1a: tiny, stable across platforms and versions, which a persisted hash must be.
pub fn vnode_of(row_key: &[u8]) -> u16 {
    let mut h: u32 = 0x811c9dc5;
    for b in row_key {
        h ^= *b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    (h % VNODE_COUNT as u32) as u16
}

/// The full storage key of one row of `table`.
pub fn row_key(table: TableId, row_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(6 + row_key.len());
    k.extend_from_slice(&table_prefix(table));
    k.extend_from_slice(&vnode_of(row_key).to_be_bytes());
    k.extend_from_slice(row_key);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_group_by_table_and_are_stable() {
        let a = row_key(7, b"abc");
        assert!(a.starts_with(&table_prefix(7)));
        assert_eq!(&a[6..], b"abc");
        // the hash is part of the on-disk format: pin it
        assert_eq!(vnode_of(b"abc"), vnode_of(b"abc"));
        assert_eq!(vnode_of(b""), (0x811c9dc5u32 % 256) as u16);
    }
}
