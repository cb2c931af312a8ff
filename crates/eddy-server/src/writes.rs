//! Turning rows into storage writes, with primary-key enforcement.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::row::Rows;
use eddy_catalog::{ReadContext, TableEntry};
use eddy_common::{Error, PgType, Result, SqlState};
use eddy_storage::{Cf, WriteSet, row_key};

/// The writes of one statement, before they join a transaction or commit.
#[derive(Default)]
pub struct StatementWrites {
    pub set: WriteSet,
    /// Keys this statement inserted that did not exist in its snapshot: at COMMIT of a
    /// transaction they must still not exist, or another session inserted them meanwhile.
    pub must_be_absent: Vec<Vec<u8>>,
    /// Plain inserts go to `set.bulk` (allowed outside transactions only).
    pub bulk_mode: bool,
    /// The table bulk inserts went to, for the duplicate check at the end of the statement.
    pub bulk_table: Option<Arc<TableEntry>>,
}

impl StatementWrites {
    pub fn bulk() -> Self {
        StatementWrites {
            bulk_mode: true,
            ..Default::default()
        }
    }

    /// Bulk inserts are checked against the snapshot chunk by chunk; a key inserted twice by
    /// the same statement is caught here, once, before commit.
    pub fn check_bulk_duplicates(&mut self) -> Result<()> {
        match (&self.bulk_table, self.set.bulk.sort_and_find_duplicate()) {
            (Some(entry), Some(key)) => Err(duplicate_key(entry, &key[6..])),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OnConflict {
    Error,
    Nothing,
    Update,
}

/// A row whose key already exists, for `ON CONFLICT DO UPDATE`.
pub struct Conflict {
    pub row: usize,
    pub key: Vec<u8>,
    pub existing: Vec<u8>,
}

pub struct Inserted {
    pub rows: Vec<usize>,
    pub conflicts: Vec<Conflict>,
}

/// Writes every row of `batch` (already conformed to the table) as an insert.
pub fn insert_batch(
    entry: &Arc<TableEntry>,
    read: &ReadContext,
    batch: &RecordBatch,
    on_conflict: OnConflict,
    w: &mut StatementWrites,
) -> Result<Inserted> {
    let n = batch.num_rows();
    let values = entry.codec.encode_values(batch)?;
    let mut rows = Vec::with_capacity(n);
    let mut conflicts = vec![];
    let Some(keys) = entry.codec.encode_keys(batch)? else {
        let start = entry.allocate_rowids(n as u64, &mut w.set);
        for i in 0..n {
            let key = row_key(entry.id(), &(start + i as u64).to_be_bytes());
            if w.bulk_mode {
                w.set.bulk.push(&key, values.row(i).data());
            } else {
                w.set.put(Cf::Data, key, values.row(i).data().to_vec());
            }
            rows.push(i);
        }
        return Ok(Inserted { rows, conflicts });
    };
    if w.bulk_mode && on_conflict == OnConflict::Error {
        return insert_bulk(entry, read, &keys, &values, w);
    }
    let full: Vec<Vec<u8>> = keys.iter().map(|k| row_key(entry.id(), k.data())).collect();
    let existing = read.multi_get(&full)?;
    let mut seen: HashSet<&[u8]> = HashSet::with_capacity(n);
    for (i, key) in full.iter().enumerate() {
        let current = match w.set.get(Cf::Data, key) {
            Some(v) => v.clone(),
            None => existing[i].clone(),
        };
        let again = !seen.insert(key.as_slice());
        if current.is_some() || again {
            match on_conflict {
                OnConflict::Error => return Err(duplicate_key(entry, keys.row(i).data())),
                OnConflict::Nothing => continue,
                OnConflict::Update if again => {
                    return Err(Error::new(
                        SqlState::CARDINALITY_VIOLATION,
                        "ON CONFLICT DO UPDATE command cannot affect row a second time",
                    )
                    .with_hint(
                        "Ensure that no rows proposed for insertion within the same command \
                         have duplicate constrained values.",
                    ));
                }
                OnConflict::Update => {
                    let existing = current.expect("conflict on an existing row");
                    conflicts.push(Conflict {
                        row: i,
                        key: key.clone(),
                        existing,
                    });
                    continue;
                }
            }
        }
        w.set
            .put(Cf::Data, key.clone(), values.row(i).data().to_vec());
        if let Some(o) = &read.overlay
            && o.get(Cf::Data, key).is_none()
        {
            w.must_be_absent.push(key.clone());
        }
        rows.push(i);
    }
    Ok(Inserted { rows, conflicts })
}

/// Plain inserts outside a transaction: keys checked against the snapshot in one multi-get,
/// rows appended to the flat bulk buffer.
fn insert_bulk(
    entry: &Arc<TableEntry>,
    read: &ReadContext,
    keys: &Rows,
    values: &Rows,
    w: &mut StatementWrites,
) -> Result<Inserted> {
    let n = keys.num_rows();
    let mut flat = Vec::with_capacity(keys.size());
    let mut ends = Vec::with_capacity(n);
    for k in keys.iter() {
        flat.extend_from_slice(&row_key(entry.id(), k.data()));
        ends.push(flat.len());
    }
    let mut order: Vec<(&[u8], usize)> = (0..n)
        .map(|i| (&flat[if i == 0 { 0 } else { ends[i - 1] }..ends[i]], i))
        .collect();
    // One sort per chunk serves three readers: RocksDB's multi-get (told the keys are sorted),
    // the in-chunk duplicate check, and the final merge of chunks before commit.
    order.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if let Some(w2) = order.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(duplicate_key(entry, keys.row(w2[0].1).data()));
    }
    let slices: Vec<&[u8]> = order.iter().map(|(k, _)| *k).collect();
    for (j, v) in read.multi_get_sorted(&slices)?.iter().enumerate() {
        if v.is_some() {
            return Err(duplicate_key(entry, keys.row(order[j].1).data()));
        }
    }
    for (k, i) in &order {
        w.set.bulk.push(k, values.row(*i).data());
    }
    w.bulk_table = Some(entry.clone());
    Ok(Inserted {
        rows: (0..n).collect(),
        conflicts: vec![],
    })
}

/// PostgreSQL's unique-violation error, naming the key.
pub fn duplicate_key(entry: &TableEntry, key: &[u8]) -> Error {
    let cols: Vec<&str> = entry
        .codec
        .primary_key_columns()
        .iter()
        .map(|i| entry.def.columns[*i].name.as_str())
        .collect();
    let vals = match entry.codec.decode_key(key) {
        Ok(arrays) => arrays
            .iter()
            .zip(entry.codec.primary_key_columns())
            .map(|(a, i)| {
                let mut s = String::new();
                let ty: &PgType = &entry.def.columns[*i].ty;
                let _ = eddy_pgwire::encode::text_value(a, 0, ty, &Default::default(), &mut s);
                s
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => "?".into(),
    };
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!(
            "duplicate key value violates unique constraint \"{}\"",
            entry.def.pkey_name()
        ),
    )
    .with_detail(format!(
        "Key ({})=({vals}) already exists.",
        cols.join(", ")
    ))
}
