//! Table and view contents as Z-sets: an epoch's changes to a table, read off its write set
//! (old values from the committed snapshot get -1, new values +1), and whole contents for a
//! backfill.

use datafusion::arrow::array::RecordBatch;
use eddy_catalog::{TableEntry, ViewEntry, decode_count};
use eddy_common::Result;
use eddy_storage::{Cf, Snapshot, WriteSet, table_prefix};

use crate::zset::ZBatch;

/// Rows per batch a backfill feeds through the dataflow at a time.
pub const BACKFILL_ROWS_PER_BATCH_MAX: usize = 65_536;

/// The stored values a commit replaces (`olds`) and writes (`news`) in one table.
pub struct TableValueChanges<'w> {
    pub olds: Vec<Vec<u8>>,
    pub news: Vec<&'w [u8]>,
}

impl TableValueChanges<'_> {
    /// The changes as a Z-set: each old value -1, each new one +1.
    pub fn decode(&self, table: &TableEntry) -> Result<ZBatch> {
        let old = table
            .codec
            .decode_values(self.olds.iter().map(|v| v.as_slice()))?;
        let new = table.codec.decode_values(self.news.iter().copied())?;
        let mut weights = vec![-1; old.num_rows()];
        weights.extend(std::iter::repeat_n(1, new.num_rows()));
        let rows = datafusion::arrow::compute::concat_batches(table.codec.schema(), &[old, new])?;
        Ok(ZBatch::new(rows, weights))
    }
}

/// The changes `writes` makes to `table`, relative to `snap`; `None` if it does not touch it.
pub fn table_changes(
    table: &TableEntry,
    snap: &Snapshot,
    writes: &WriteSet,
) -> Result<Option<ZBatch>> {
    table_value_changes(table, snap, writes)?
        .map(|c| c.decode(table))
        .transpose()
}

/// The stored values `writes` replaces and writes in `table`, relative to `snap`; `None` if it
/// does not touch it. An update whose value is unchanged is no change.
pub fn table_value_changes<'w>(
    table: &TableEntry,
    snap: &Snapshot,
    writes: &'w WriteSet,
) -> Result<Option<TableValueChanges<'w>>> {
    let prefix = table_prefix(table.id());
    let truncated = writes
        .data_prefix_deletes
        .iter()
        .any(|p| prefix.starts_with(p));
    let mut olds: Vec<Vec<u8>> = vec![];
    let mut news: Vec<&[u8]> = vec![];
    if truncated {
        snap.scan_prefix(Cf::Data, &prefix, |_, v| {
            olds.push(v.to_vec());
            Ok(())
        })?;
    }
    let touched: Vec<(&Vec<u8>, &Option<Vec<u8>>)> =
        writes.range_with_prefix(Cf::Data, &prefix).collect();
    if !truncated && !touched.is_empty() {
        let keys: Vec<&[u8]> = touched.iter().map(|(k, _)| k.as_slice()).collect();
        for ((_, new), old) in touched.iter().zip(snap.multi_get_sorted(Cf::Data, &keys)?) {
            match (old, new) {
                (Some(o), Some(n)) if o == *n => {}
                (o, n) => {
                    olds.extend(o);
                    news.extend(n.as_deref());
                }
            }
        }
    } else {
        news.extend(touched.iter().filter_map(|(_, v)| v.as_deref()));
    }
    news.extend(
        writes
            .bulk
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v),
    );
    if olds.is_empty() && news.is_empty() {
        return Ok(None);
    }
    Ok(Some(TableValueChanges { olds, news }))
}

/// A table's whole content at `snap`, as inserts, in batches.
pub fn table_contents(table: &TableEntry, snap: &Snapshot) -> Result<Vec<ZBatch>> {
    let mut values: Vec<Vec<u8>> = vec![];
    snap.scan_prefix(Cf::Data, &table_prefix(table.id()), |_, v| {
        values.push(v.to_vec());
        Ok(())
    })?;
    values
        .chunks(BACKFILL_ROWS_PER_BATCH_MAX)
        .map(|c| {
            let rows: RecordBatch = table.codec.decode_values(c.iter().map(|v| v.as_slice()))?;
            let n = rows.num_rows();
            Ok(ZBatch::new(rows, vec![1; n]))
        })
        .collect()
}

/// A view's whole content at `snap`, one row per distinct row weighted by its count.
pub fn view_contents(view: &ViewEntry, snap: &Snapshot) -> Result<Vec<ZBatch>> {
    let mut rows: Vec<(Vec<u8>, i64)> = vec![];
    snap.scan_prefix(Cf::Data, &table_prefix(view.id()), |k, v| {
        rows.push((k[6..].to_vec(), decode_count(v)?));
        Ok(())
    })?;
    rows.chunks(BACKFILL_ROWS_PER_BATCH_MAX)
        .map(|c| {
            let batch = view
                .codec
                .decode_counted(c.iter().map(|(r, _)| (r.as_slice(), 1)))?;
            Ok(ZBatch::new(batch, c.iter().map(|(_, n)| *n).collect()))
        })
        .collect()
}
