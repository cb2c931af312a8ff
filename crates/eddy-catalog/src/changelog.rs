//! Every committed change of every materialized view, and of every table that retains history,
//! kept durably in epoch order: what subscriptions read at their own pace, and what a
//! `SUBSCRIBE (query) AS OF` replays its query's inputs from. An epoch's entries are written in the same WriteBatch
//! as the epoch itself, so a reader that sees an epoch committed sees all of its changes.
//!
//! Key: `CHANGELOG_SPACE | relation id | epoch | seq` (all big-endian), so one relation's
//! changes are one key range in commit order. Value: the diff (`i64`) and the row: a view's in
//! its own row encoding (the key of its stored row), a table's as its stored value.

use eddy_common::{Error, Result, TableId};

/// A table id the catalog never hands out (ids grow from 16384), whose key range holds the
/// changelogs.
pub const CHANGELOG_SPACE: TableId = u32::MAX - 1;

pub fn prefix(id: TableId) -> Vec<u8> {
    let mut k = Vec::with_capacity(8);
    k.extend_from_slice(&CHANGELOG_SPACE.to_be_bytes());
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub fn key(view: TableId, epoch: u64, seq: u32) -> Vec<u8> {
    let mut k = prefix(view);
    k.extend_from_slice(&epoch.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The epoch of a changelog key.
pub fn epoch_of(key: &[u8]) -> Result<u64> {
    key.get(8..16)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Error::internal("corrupt changelog key"))
}

pub fn encode_value(diff: i64, row: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + row.len());
    v.extend_from_slice(&diff.to_be_bytes());
    v.extend_from_slice(row);
    v
}

/// (diff, encoded row)
pub fn decode_value(v: &[u8]) -> Result<(i64, &[u8])> {
    let diff = v
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_be_bytes)
        .ok_or_else(|| Error::internal("corrupt changelog entry"))?;
    Ok((diff, &v[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_view_then_epoch() {
        assert!(key(7, 2, 0) < key(7, 10, 0));
        assert!(key(7, 10, 5) < key(8, 1, 0));
        assert_eq!(epoch_of(&key(7, 42, 3)).unwrap(), 42);
        let v = encode_value(-2, b"row");
        assert_eq!(decode_value(&v).unwrap(), (-2, &b"row"[..]));
    }
}
