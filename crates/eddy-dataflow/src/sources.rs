//! Leaves and plumbing: table/view scans, constants, union and rename.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use eddy_common::{Result, TableId};

use crate::operator::{Operator, StepCx, line};
use crate::zset::{ZBatch, rebatch};

/// The changes of one table or view, projected to the columns the query reads.
/// Incremental semantics: identity. State: none (the input's own rows are its state).
pub struct Scan {
    pub id: TableId,
    pub name: String,
    pub projection: Option<Vec<usize>>,
    pub schema: SchemaRef,
}

impl Operator for Scan {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let Some(z) = cx.inputs.get(&self.id) else {
            return Ok(None);
        };
        if z.is_empty() {
            return Ok(None);
        }
        let rows = match &self.projection {
            Some(p) => z.rows.project(p)?,
            None => z.rows.clone(),
        };
        Ok(Some(ZBatch::new(
            rebatch(&self.schema, &rows)?,
            z.weights.clone(),
        )))
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        out.push(line(
            depth,
            format!(
                "Scan {} (id {}) projection {:?} (stateless)",
                self.name, self.id, self.projection
            ),
        ));
    }
}

/// Constant rows (VALUES, a FROM-less SELECT): inserted once, in the view's first step.
pub struct Constant {
    pub rows: RecordBatch,
    pub schema: SchemaRef,
}

impl Operator for Constant {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        if !cx.first {
            return Ok(None);
        }
        let n = self.rows.num_rows();
        Ok(Some(ZBatch::new(self.rows.clone(), vec![1; n])))
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        out.push(line(
            depth,
            format!("Constant rows={} (stateless)", self.rows.num_rows()),
        ));
    }
}

/// UNION ALL: the sum of its inputs' changes. State: none.
pub struct Union {
    pub inputs: Vec<Box<dyn Operator>>,
    pub schema: SchemaRef,
}

impl Operator for Union {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let mut parts = vec![];
        for i in &self.inputs {
            if let Some(z) = i.step(cx)? {
                let rows = rebatch(&self.schema, &z.rows)?;
                parts.push(ZBatch::new(rows, z.weights));
            }
        }
        if parts.is_empty() {
            return Ok(None);
        }
        Ok(Some(ZBatch::concat(&self.schema, parts)?))
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        out.push(line(depth, "UnionAll (stateless)".into()));
        for i in &self.inputs {
            i.explain(depth + 1, out);
        }
    }
}

/// A new schema (names, qualifiers) over the same columns: SubqueryAlias.
pub struct Rename {
    pub input: Box<dyn Operator>,
    pub schema: SchemaRef,
}

impl Operator for Rename {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        match self.input.step(cx)? {
            None => Ok(None),
            Some(z) => Ok(Some(ZBatch::new(
                rebatch(&self.schema, &z.rows)?,
                z.weights,
            ))),
        }
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        self.input.explain(depth, out);
    }
}

pub fn arc_schema(s: &datafusion::common::DFSchema) -> SchemaRef {
    Arc::new(s.as_arrow().clone())
}
