//! Map: filter then project, evaluated vectorized with DataFusion physical expressions.
//!
//! Incremental semantics: linear, so `map(Δ) = Δ(map)`: each change row is filtered and
//! projected with its weight unchanged. State: none.
//! A row whose evaluation fails (division by zero, a bad cast) is not dropped: its error goes to
//! the view's error collection with the row's weight, so a later retraction of that row
//! retracts the error too.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;
use eddy_common::{Error, Result};

use crate::operator::{Operator, StepCx, line};
use crate::zset::ZBatch;

pub struct Map {
    pub input: Box<dyn Operator>,
    pub predicate: Option<Arc<dyn PhysicalExpr>>,
    pub exprs: Option<Vec<Arc<dyn PhysicalExpr>>>,
    pub schema: SchemaRef,
}

impl Map {
    fn apply(&self, rows: &RecordBatch, weights: &[i64]) -> Result<ZBatch> {
        let (rows, weights) = match &self.predicate {
            Some(p) => {
                let mask = p.evaluate(rows)?.into_array(rows.num_rows())?;
                let mask = mask.as_boolean();
                let kept: Vec<i64> = weights
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask.is_valid(*i) && mask.value(*i))
                    .map(|(_, w)| *w)
                    .collect();
                (filter_record_batch(rows, mask)?, kept)
            }
            None => (rows.clone(), weights.to_vec()),
        };
        let rows = match &self.exprs {
            Some(exprs) => {
                let n = rows.num_rows();
                let cols = exprs
                    .iter()
                    .map(|e| e.evaluate(&rows).and_then(|v| v.into_array(n)))
                    .collect::<datafusion::common::Result<Vec<_>>>()?;
                crate::zset::rebatch_columns(&self.schema, cols, n)?
            }
            None => crate::zset::rebatch(&self.schema, &rows)?,
        };
        Ok(ZBatch::new(rows, weights))
    }
}

impl Operator for Map {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let Some(input) = self.input.step(cx)? else {
            return Ok(None);
        };
        cx.rows_processed += input.len() as u64;
        match self.apply(&input.rows, &input.weights) {
            Ok(out) => Ok(Some(out)),
            Err(_) => {
                // Find the rows that fail, one by one: only they become errors.
                let mut parts = vec![];
                for i in 0..input.len() {
                    let row = input.rows.slice(i, 1);
                    match self.apply(&row, &input.weights[i..i + 1]) {
                        Ok(z) => parts.push(z),
                        Err(e) => cx.errors.push((strip(e), input.weights[i])),
                    }
                }
                Ok(Some(ZBatch::concat(&self.schema, parts)?))
            }
        }
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let mut parts = vec![];
        if let Some(p) = &self.predicate {
            parts.push(format!("filter: {p}"));
        }
        if let Some(e) = &self.exprs {
            let list: Vec<String> = e.iter().map(|e| e.to_string()).collect();
            parts.push(format!("project: [{}]", list.join(", ")));
        }
        out.push(line(depth, format!("Map {} (stateless)", parts.join(" "))));
        self.input.explain(depth + 1, out);
    }
}

/// Errors are stored by SQLSTATE and message; the cause chain is not part of that identity.
fn strip(e: Error) -> Error {
    let b = e.into_body();
    Error::new(b.state, b.message)
}
