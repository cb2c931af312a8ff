//! Rows kept in SQL order inside a state table, shared by top-N and window operators.
//!
//! Entry key (after `shard_prefix(id, partition)`): `order key | row | row length (u32)`, value:
//! count. The order key is the ORDER BY columns in arrow-row's memcomparable encoding (with the
//! query's ASC/DESC and NULLS FIRST/LAST), so a prefix scan yields the partition in SQL order;
//! the row breaks ties deterministically.

use std::collections::BTreeMap;

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::RowConverter;
use eddy_common::{Result, TableId};

use crate::operator::StepCx;
use crate::state::{decode_i64, shard_prefix};
use crate::zset::rebatch_columns;

pub type Entries = Vec<(Vec<u8>, i64)>;

pub fn entry_rest(order: &[u8], row: &[u8]) -> Vec<u8> {
    let mut r = Vec::with_capacity(order.len() + row.len() + 4);
    r.extend_from_slice(order);
    r.extend_from_slice(row);
    r.extend_from_slice(&(row.len() as u32).to_be_bytes());
    r
}

/// (order key, row) of an entry.
pub fn split_rest(rest: &[u8]) -> (&[u8], &[u8]) {
    let n = rest.len();
    let row_len = u32::from_be_bytes(rest[n - 4..].try_into().expect("4 bytes")) as usize;
    let row_start = n - 4 - row_len;
    (&rest[..row_start], &rest[row_start..n - 4])
}

/// Live entries of one partition in order, stopping once `limit` rows (counting
/// multiplicities) are collected.
pub fn load(cx: &StepCx, id: TableId, partition: &[u8], limit: Option<i64>) -> Result<Entries> {
    let prefix = shard_prefix(id, partition);
    let mut out = vec![];
    let mut rows = 0i64;
    cx.state.scan_prefix(&prefix, |k, v| {
        let c = decode_i64(v);
        out.push((k[prefix.len()..].to_vec(), c));
        rows += c;
        Ok(limit.is_none_or(|l| rows < l))
    })?;
    Ok(out)
}

pub fn merged(old: &Entries, delta: &[(Vec<u8>, i64)]) -> Entries {
    let mut m: BTreeMap<&[u8], i64> = BTreeMap::new();
    for (r, c) in old.iter().chain(delta) {
        *m.entry(r).or_default() += c;
    }
    m.into_iter()
        .filter(|(_, c)| *c != 0)
        .map(|(r, c)| (r.to_vec(), c))
        .collect()
}

/// Decodes entries into a batch with one row per copy (a row of count 3 appears 3 times), plus
/// each row's order key.
pub fn expand<'a>(
    row_conv: &RowConverter,
    schema: &SchemaRef,
    entries: impl IntoIterator<Item = (&'a [u8], i64)>,
) -> Result<(RecordBatch, Vec<&'a [u8]>)> {
    let parser = row_conv.parser();
    let mut parsed = vec![];
    let mut orders = vec![];
    let mut idx = vec![];
    for (i, (rest, c)) in entries.into_iter().enumerate() {
        let (order, row) = split_rest(rest);
        parsed.push(parser.parse(row));
        for _ in 0..c.max(0) {
            idx.push(i as u32);
            orders.push(order);
        }
    }
    let cols = row_conv.convert_rows(parsed)?;
    let idx = UInt32Array::from(idx);
    let cols: Vec<ArrayRef> = cols
        .iter()
        .map(|c| take(c, &idx, None))
        .collect::<std::result::Result<_, _>>()?;
    Ok((rebatch_columns(schema, cols, idx.len())?, orders))
}
