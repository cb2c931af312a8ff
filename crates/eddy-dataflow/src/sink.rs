//! The end of every view's dataflow: folds the view's changes into its stored rows (a counter
//! per distinct row) and its runtime errors into its error collection.
//!
//! Incremental semantics: consolidation: changes to the same row within a step are summed and
//! rows whose weights cancel produce nothing. State: the view's rows, one key per distinct row;
//! the error collection, one key per distinct error.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::SchemaRef;
use eddy_catalog::{ViewCodec, view_errors};
use eddy_common::{Error, Result, TableId};
use eddy_storage::row_key;

use crate::operator::{Operator, StepCx, line};
use crate::state::StateAccess as _;
use crate::zset::{ZBatch, rebatch};

pub struct ViewSink {
    pub input: Box<dyn Operator>,
    pub id: TableId,
    pub errors_id: TableId,
    pub codec: ViewCodec,
}

impl ViewSink {
    pub fn schema(&self) -> &SchemaRef {
        self.codec.schema()
    }

    /// Runs one step of the view and stores its effect; returns the view's own changes, which
    /// views reading this one take as input.
    pub fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let out = self.input.step(cx)?;
        for (err, w) in std::mem::take(&mut cx.errors) {
            let key = row_key(self.errors_id, &view_errors::encode_key(&err));
            let (_, n) = cx.state.add_count(key, w)?;
            if n < 0 {
                return Err(Error::internal(format!(
                    "error count of view {} went negative",
                    self.id
                )));
            }
        }
        let Some(z) = out else {
            return Ok(None);
        };
        let rows = rebatch(self.codec.schema(), &z.rows)?;
        let encoded = self.codec.encode(&rows)?;
        let mut sums: BTreeMap<&[u8], (u32, i64)> = BTreeMap::new();
        for (i, w) in z.weights.iter().enumerate() {
            let e = sums.entry(encoded.row(i).data()).or_insert((i as u32, 0));
            e.1 += w;
        }
        let changed: Vec<(&[u8], u32, i64)> = sums
            .into_iter()
            .filter(|(_, (_, w))| *w != 0)
            .map(|(row, (i, w))| (row, i, w))
            .collect();
        let id = self.id;
        let stored = crate::parallel::sharded(
            cx.state,
            cx.parallel,
            changed,
            |c| c.0,
            |st, part| {
                let mut out = Vec::with_capacity(part.len());
                for (row, i, w) in part {
                    let (_, n) = st.add_count(row_key(id, row), *w)?;
                    if n < 0 {
                        return Err(Error::internal(format!(
                            "a row of view {id} would have negative multiplicity: dataflow bug"
                        )));
                    }
                    out.push((*i, *w));
                }
                Ok(out)
            },
        )?;
        let (idx, weights): (Vec<u32>, Vec<i64>) = stored.into_iter().unzip();
        if idx.is_empty() {
            return Ok(None);
        }
        let rows = crate::zset::take_rows(&rows, &idx)?;
        Ok(Some(ZBatch::new(rows, weights)))
    }

    pub fn explain(&self, out: &mut Vec<String>) {
        out.push(line(
            0,
            format!(
                "Materialize (id {}) state: rows keyed by the whole row, errors (id {})",
                self.id, self.errors_id
            ),
        ));
        self.input.explain(1, out);
    }
}
