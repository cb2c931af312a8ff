//! Rows of a materialized view in storage: the key is the whole row in arrow-row's
//! memcomparable encoding, the value its multiplicity (`i64`, big-endian).
//!
//! A view is a multiset (a Z-set with positive weights), so a row is its own key and a change
//! of weight `w` is a read-modify-write of one counter: no hidden row id has to be tracked
//! through the dataflow.

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, RecordBatchOptions, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use eddy_common::{Error, Result};

use crate::defs::ViewDef;

pub struct ViewCodec {
    schema: SchemaRef,
    rows: RowConverter,
}

impl std::fmt::Debug for ViewCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ViewCodec")
            .field("schema", &self.schema)
            .finish()
    }
}

impl ViewCodec {
    pub fn new(def: &ViewDef) -> Result<ViewCodec> {
        let fields: Vec<_> = def
            .columns
            .iter()
            .map(|c| c.ty.to_arrow_field(&c.name))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        Self::for_schema(schema)
    }

    pub fn for_schema(schema: SchemaRef) -> Result<ViewCodec> {
        let sort_fields: Vec<SortField> = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(ViewCodec {
            rows: RowConverter::new(sort_fields)?,
            schema,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn encode(&self, batch: &RecordBatch) -> Result<Rows> {
        Ok(self.rows.convert_columns(batch.columns())?)
    }

    /// Decodes rows, each repeated as often as its count says.
    pub fn decode_counted<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a [u8], i64)>,
    ) -> Result<RecordBatch> {
        let parser = self.rows.parser();
        let mut parsed = vec![];
        let mut repeat: Vec<u32> = vec![];
        for (i, (r, n)) in rows.into_iter().enumerate() {
            parsed.push(parser.parse(r));
            for _ in 0..n.max(0) {
                repeat.push(i as u32);
            }
        }
        let n = parsed.len();
        let columns = self.rows.convert_rows(parsed)?;
        let opts = RecordBatchOptions::new().with_row_count(Some(n));
        let distinct = RecordBatch::try_new_with_options(self.schema.clone(), columns, &opts)?;
        if repeat.len() == n {
            return Ok(distinct);
        }
        let idx = UInt32Array::from(repeat);
        let cols = distinct
            .columns()
            .iter()
            .map(|c| take(c, &idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let opts = RecordBatchOptions::new().with_row_count(Some(idx.len()));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            cols,
            &opts,
        )?)
    }
}

/// The multiplicity stored for a view row.
pub fn decode_count(v: &[u8]) -> Result<i64> {
    Ok(i64::from_be_bytes(
        v.try_into()
            .map_err(|_| Error::internal("corrupt view row count"))?,
    ))
}
