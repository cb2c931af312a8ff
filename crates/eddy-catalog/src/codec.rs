//! Rows in storage: the key is the primary key in arrow-row's memcomparable encoding (or a hidden
//! u64 row id), the value is the whole row in arrow-row encoding. A numeric key column is keyed
//! by value, without the display scale its row keeps.
//!
//! arrow-row decodes straight back into Arrow arrays, so a table scan is a vectorized conversion
//! rather than a per-value deserialization. The encoding depends only on the column types, which
//! are fixed for the life of a table.
//! Caveat: arrow-row does not promise a stable format across major arrow versions; an arrow
//! upgrade must be checked against the format tests below before it ships.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use eddy_common::numeric_array::{from_keys, is_numeric, value_keys};
use eddy_common::{Error, Result};

use crate::defs::TableDef;

/// Hidden column holding a row's storage key, exposed only to UPDATE and DELETE planning.
pub const ROW_KEY_COLUMN: &str = "__eddy_row_key";

pub struct TableCodec {
    schema: SchemaRef,
    values: RowConverter,
    /// `None` when the table has no primary key and rows are keyed by row id.
    key: Option<(Vec<usize>, RowConverter)>,
    /// Which key columns are numerics: they are keyed by value, without their display scale,
    /// so `1.5` and `1.50` are the same key as PostgreSQL's unique index makes them.
    numeric_keys: Vec<bool>,
}

impl std::fmt::Debug for TableCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableCodec")
            .field("schema", &self.schema)
            .finish()
    }
}

impl TableCodec {
    pub fn new(def: &TableDef) -> Result<TableCodec> {
        let fields: Vec<_> = def
            .columns
            .iter()
            .map(|c| c.ty.to_arrow_field(&c.name))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let sort_fields: Vec<SortField> = schema
            .fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        let values = RowConverter::new(sort_fields.clone())?;
        let key = if def.primary_key.is_empty() {
            None
        } else {
            let kf = def
                .primary_key
                .iter()
                .map(|i| sort_fields[*i].clone())
                .collect();
            Some((def.primary_key.clone(), RowConverter::new(kf)?))
        };
        let numeric_keys = (def.primary_key.iter())
            .map(|i| is_numeric(schema.field(*i).data_type()))
            .collect();
        Ok(TableCodec {
            schema,
            values,
            key,
            numeric_keys,
        })
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn has_primary_key(&self) -> bool {
        self.key.is_some()
    }

    /// Encodes every row of `batch` (which must have the table's schema) as a storage value.
    pub fn encode_values(&self, batch: &RecordBatch) -> Result<Rows> {
        Ok(self.values.convert_columns(batch.columns())?)
    }

    /// Encodes the primary key of every row; `None` for tables keyed by row id.
    pub fn encode_keys(&self, batch: &RecordBatch) -> Result<Option<Rows>> {
        match &self.key {
            None => Ok(None),
            Some((cols, _)) => {
                let arrays: Vec<ArrayRef> = cols.iter().map(|i| batch.column(*i).clone()).collect();
                Ok(Some(self.encode_key_arrays(&arrays)?))
            }
        }
    }

    /// Decodes encoded primary keys back to their column values (for error messages).
    pub fn decode_key(&self, key: &[u8]) -> Result<Vec<ArrayRef>> {
        match &self.key {
            None => Err(Error::internal("table has no primary key")),
            Some((_, conv)) => {
                let parser = conv.parser();
                let arrays = conv.convert_rows([parser.parse(key)])?;
                (arrays.into_iter().zip(&self.numeric_keys))
                    .map(|(a, numeric)| match numeric {
                        true => from_keys(&a),
                        false => Ok(a),
                    })
                    .collect()
            }
        }
    }

    pub fn primary_key_columns(&self) -> &[usize] {
        self.key.as_ref().map(|(c, _)| c.as_slice()).unwrap_or(&[])
    }

    /// Decodes storage values into one batch with the table's schema.
    pub fn decode_values<'a>(
        &self,
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch> {
        let parser = self.values.parser();
        let rows: Vec<_> = values.into_iter().map(|v| parser.parse(v)).collect();
        let n = rows.len();
        let columns = self.values.convert_rows(rows)?;
        let opts = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(n));
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &opts,
        )?)
    }
}

impl TableCodec {
    /// Encodes primary-key column arrays (in key order) as key rows.
    pub fn encode_key_arrays(&self, arrays: &[ArrayRef]) -> Result<Rows> {
        match &self.key {
            None => Err(Error::internal("table has no primary key")),
            Some((_, conv)) if self.numeric_keys.contains(&true) => {
                let keyed: Vec<ArrayRef> = (arrays.iter().zip(&self.numeric_keys))
                    .map(|(a, numeric)| match numeric {
                        true => value_keys(a),
                        false => a.clone(),
                    })
                    .collect();
                Ok(conv.convert_columns(&keyed)?)
            }
            Some((_, conv)) => Ok(conv.convert_columns(arrays)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defs::ColumnDef;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use eddy_common::PgType;

    fn def() -> TableDef {
        TableDef {
            id: 1,
            schema: "public".into(),
            name: "t".into(),
            columns: vec![
                ColumnDef {
                    name: "id".into(),
                    ty: PgType::Int4,
                    not_null: true,
                    default: None,
                },
                ColumnDef {
                    name: "s".into(),
                    ty: PgType::Text,
                    not_null: false,
                    default: None,
                },
            ],
            primary_key: vec![0],
            history: None,
        }
    }

    #[test]
    fn values_round_trip_and_keys_sort_like_sql() {
        let codec = TableCodec::new(&def()).unwrap();
        let batch = RecordBatch::try_new(
            codec.schema().clone(),
            vec![
                Arc::new(Int32Array::from(vec![-5, 3, 100])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("ccc")])),
            ],
        )
        .unwrap();
        let values = codec.encode_values(&batch).unwrap();
        let back = codec
            .decode_values(values.iter().map(|r| r.data()))
            .unwrap();
        assert_eq!(back, batch);
        let keys = codec.encode_keys(&batch).unwrap().unwrap();
        assert!(keys.row(0).data() < keys.row(1).data());
        assert!(keys.row(1).data() < keys.row(2).data());
    }
}
