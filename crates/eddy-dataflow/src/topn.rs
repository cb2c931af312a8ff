//! Top-N: `ORDER BY ... LIMIT n [OFFSET m]`.
//!
//! Incremental semantics: the input is kept in SQL order; for a change, the rows at positions
//! `[m, m + n)` before and after it are read off the ordered state (a scan that stops after
//! `m + n` rows) and their difference is emitted. Deleting a row inside the top N pulls the
//! next one in. Rows tied on the ORDER BY keys are ordered by their encoding.
//! State: every input row (by order key), so rows beyond the top N can move up; cleaned up when
//! rows are deleted. Cost per change: O(m + n + change) state reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::RowConverter;
use datafusion::physical_expr::PhysicalExpr;
use eddy_common::{Result, TableId};

use crate::operator::{Operator, StepCx, line};
use crate::ordered::{Entries, entry_rest, expand, load};
use crate::state::StateAccess as _;
use crate::state::state_key;
use crate::zset::ZBatch;

pub struct TopN {
    pub input: Box<dyn Operator>,
    pub order_exprs: Vec<Arc<dyn PhysicalExpr>>,
    pub order_conv: RowConverter,
    pub row_conv: RowConverter,
    pub skip: usize,
    pub fetch: Option<usize>,
    pub state_id: TableId,
    pub schema: SchemaRef,
}

impl TopN {
    /// The entries at positions [skip, skip + fetch) with the counts that fall inside.
    fn window(&self, all: &Entries) -> BTreeMap<Vec<u8>, i64> {
        let mut out = BTreeMap::new();
        let mut pos = 0i64;
        let lo = self.skip as i64;
        let hi = self.fetch.map(|f| lo + f as i64);
        for (rest, c) in all {
            let start = pos.max(lo);
            let end = hi.map_or(pos + c, |h| (pos + c).min(h));
            if end > start {
                out.insert(rest.clone(), end - start);
            }
            pos += c;
            if hi.is_some_and(|h| pos >= h) {
                break;
            }
        }
        out
    }

    fn limit(&self) -> Option<i64> {
        self.fetch.map(|f| (self.skip + f) as i64)
    }
}

impl Operator for TopN {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let Some(z) = self.input.step(cx)? else {
            return Ok(None);
        };
        cx.rows_processed += z.len() as u64;
        let n = z.len();
        let order_cols = self
            .order_exprs
            .iter()
            .map(|e| e.evaluate(&z.rows).and_then(|v| v.into_array(n)))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let orders = self.order_conv.convert_columns(&order_cols)?;
        let rows = self.row_conv.convert_columns(z.rows.columns())?;
        let old = self.window(&load(cx, self.state_id, &[], self.limit())?);
        for i in 0..n {
            let rest = entry_rest(orders.row(i).data(), rows.row(i).data());
            cx.state
                .add_count(state_key(self.state_id, &[], &rest), z.weights[i])?;
        }
        let new = self.window(&load(cx, self.state_id, &[], self.limit())?);
        let mut diff: BTreeMap<&[u8], i64> = BTreeMap::new();
        for (r, c) in &old {
            *diff.entry(r).or_default() -= c;
        }
        for (r, c) in &new {
            *diff.entry(r).or_default() += c;
        }
        diff.retain(|_, c| *c != 0);
        if diff.is_empty() {
            return Ok(None);
        }
        let weights: Vec<i64> = diff.values().map(|c| c.signum()).collect();
        let counts: Vec<(&[u8], i64)> = diff.iter().map(|(r, c)| (*r, c.abs())).collect();
        // one output row per unit of weight
        let mut w = vec![];
        for ((_, c), s) in counts.iter().zip(&weights) {
            w.extend(std::iter::repeat_n(*s, *c as usize));
        }
        let (batch, _) = expand(&self.row_conv, &self.schema, counts)?;
        Ok(Some(ZBatch::new(batch, w)))
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let keys: Vec<String> = self.order_exprs.iter().map(|e| e.to_string()).collect();
        out.push(line(
            depth,
            format!(
                "TopN order by [{}] offset {} limit {:?} state: input rows in order (id {})",
                keys.join(", "),
                self.skip,
                self.fetch,
                self.state_id
            ),
        ));
        self.input.explain(depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::compute::SortOptions;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::arrow::row::SortField;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::sources::Scan;
    use crate::testkit::{Epochs, lines, pretty, schema};

    #[test]
    fn deleting_inside_the_top_pulls_the_next_row_in() {
        let t = schema("k:utf8 v:int64");
        let desc = SortOptions {
            descending: true,
            nulls_first: false,
        };
        let top2 = TopN {
            input: Box::new(Scan {
                id: 1,
                name: "t".into(),
                projection: None,
                schema: t.clone(),
            }),
            order_exprs: vec![col("v", &t).unwrap()],
            order_conv: RowConverter::new(vec![SortField::new_with_options(DataType::Int64, desc)])
                .unwrap(),
            row_conv: RowConverter::new(vec![
                SortField::new(DataType::Utf8),
                SortField::new(DataType::Int64),
            ])
            .unwrap(),
            skip: 0,
            fetch: Some(2),
            state_id: 10,
            schema: t.clone(),
        };
        let e = Epochs::new("topn");
        let out = e.step(&top2, vec![(1, pretty(&t, "+1 a 1\n+1 b 5\n+1 c 3"))]);
        assert_eq!(lines(&out), ["+1 b 5", "+1 c 3"]);
        let out = e.step(&top2, vec![(1, pretty(&t, "-1 b 5"))]);
        assert_eq!(lines(&out), ["+1 a 1", "-1 b 5"]);
        // below the top: no change
        let out = e.step(&top2, vec![(1, pretty(&t, "+1 d 0"))]);
        assert_eq!(lines(&out), Vec::<String>::new());
        // a row with two copies fills both places
        let out = e.step(&top2, vec![(1, pretty(&t, "+2 e 9"))]);
        assert_eq!(lines(&out), ["+1 e 9", "+1 e 9", "-1 a 1", "-1 c 3"]);
    }
}
