//! Z-set batches: rows with integer weights (+1 insert, -1 delete; an update is `-old, +new`).

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::SchemaRef;
use eddy_common::{Error, Result};

#[derive(Clone, Debug)]
pub struct ZBatch {
    pub rows: RecordBatch,
    pub weights: Vec<i64>,
}

impl ZBatch {
    pub fn new(rows: RecordBatch, weights: Vec<i64>) -> ZBatch {
        assert_eq!(rows.num_rows(), weights.len(), "one weight per row");
        ZBatch { rows, weights }
    }

    pub fn empty(schema: SchemaRef) -> ZBatch {
        ZBatch::new(RecordBatch::new_empty(schema), vec![])
    }

    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The rows at `idx`, in that order.
    pub fn take(&self, idx: &[u32]) -> Result<ZBatch> {
        let rows = take_rows(&self.rows, idx)?;
        let weights = idx.iter().map(|&i| self.weights[i as usize]).collect();
        Ok(ZBatch::new(rows, weights))
    }

    /// The same rows under another schema with the same column types (a rename).
    pub fn with_schema(self, schema: SchemaRef) -> Result<ZBatch> {
        let opts = RecordBatchOptions::new().with_row_count(Some(self.len()));
        let rows = RecordBatch::try_new_with_options(schema, self.rows.columns().to_vec(), &opts)?;
        Ok(ZBatch::new(rows, self.weights))
    }

    pub fn concat(schema: &SchemaRef, parts: Vec<ZBatch>) -> Result<ZBatch> {
        let mut weights = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut batches = Vec::with_capacity(parts.len());
        for p in parts {
            weights.extend(p.weights);
            batches.push(p.rows);
        }
        let rows = concat_batches(schema, &batches)?;
        Ok(ZBatch::new(rows, weights))
    }
}

pub fn take_rows(rows: &RecordBatch, idx: &[u32]) -> Result<RecordBatch> {
    let idx = UInt32Array::from(idx.to_vec());
    let cols = rows
        .columns()
        .iter()
        .map(|c| take(c, &idx, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let opts = RecordBatchOptions::new().with_row_count(Some(idx.len()));
    Ok(RecordBatch::try_new_with_options(
        rows.schema(),
        cols,
        &opts,
    )?)
}

/// Replaces each column's schema-level name while keeping data: used by renames and unions,
/// where DataFusion's output schema differs from the input's only in names or nullability.
pub fn rebatch(schema: &SchemaRef, rows: &RecordBatch) -> Result<RecordBatch> {
    rebatch_columns(schema, rows.columns().to_vec(), rows.num_rows())
}

/// Columns under `schema`, cast where DataFusion's declared type differs from the evaluated one.
pub fn rebatch_columns(
    schema: &SchemaRef,
    columns: Vec<datafusion::arrow::array::ArrayRef>,
    n: usize,
) -> Result<RecordBatch> {
    let opts = RecordBatchOptions::new().with_row_count(Some(n));
    let mut cols = Vec::with_capacity(columns.len());
    for (f, c) in schema.fields().iter().zip(columns) {
        if f.data_type() == c.data_type() {
            cols.push(c);
        } else {
            cols.push(
                datafusion::arrow::compute::cast(&c, f.data_type())
                    .map_err(|e| Error::internal(format!("dataflow column type mismatch: {e}")))?,
            );
        }
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        cols,
        &opts,
    )?)
}
