//! Window functions over partitions: `row_number`, `rank`, `dense_rank`, `lag`, `lead` and
//! running `sum`/`count`/`min`/`max`/`avg` (the default frame: the partition up to the current
//! row's last peer with ORDER BY, the whole partition without).
//!
//! Incremental semantics: maintained per changed partition. For each partition a change
//! touches, the window values of the partition before and after the change are computed and
//! only the output rows that differ are emitted (a row appended at the end of a partition
//! emits one row, not the partition). Per-group top-N (`row_number() ... <= n` in a filter
//! above) reads and emits only each partition's first n rows before and after the change, so
//! it costs O(n + change) per touched partition like `TopN`.
//! State: every input row, keyed by partition and kept in ORDER BY order. Cost per change:
//! the touched partitions' sizes.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::RowConverter;
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use eddy_common::{Error, Result, TableId};

use crate::operator::{Operator, StepCx, line};
use crate::ordered::{Entries, entry_rest, expand, load, merged};
use crate::state::StateAccess as _;
use crate::state::state_key;
use crate::zset::{ZBatch, rebatch_columns};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WinFunc {
    RowNumber,
    Rank,
    DenseRank,
    Lag(i64),
    Lead(i64),
    Sum,
    Count,
    Min,
    Max,
    Avg,
}

pub struct WinSpec {
    pub func: WinFunc,
    pub arg: Option<Arc<dyn PhysicalExpr>>,
    /// lag/lead's default value, evaluated on the current row.
    pub default: Option<Arc<dyn PhysicalExpr>>,
    pub output: DataType,
    pub name: String,
}

pub struct Window {
    pub input: Box<dyn Operator>,
    pub partition_exprs: Vec<Arc<dyn PhysicalExpr>>,
    pub part_conv: Option<RowConverter>,
    pub order_exprs: Vec<Arc<dyn PhysicalExpr>>,
    pub order_conv: Option<RowConverter>,
    pub row_conv: RowConverter,
    /// Encodes output rows (input columns, then window values) to diff them.
    pub out_conv: RowConverter,
    pub specs: Vec<WinSpec>,
    /// Per-group top-N: the only function is `row_number` and a filter above keeps rows
    /// numbered up to this, so only each partition's first rows are read and emitted.
    pub limit: Option<usize>,
    pub state_id: TableId,
    pub schema: SchemaRef,
}

impl Window {
    fn keys(
        &self,
        exprs: &[Arc<dyn PhysicalExpr>],
        conv: &Option<RowConverter>,
        z: &ZBatch,
    ) -> Result<Vec<Vec<u8>>> {
        let Some(conv) = conv else {
            return Ok(vec![vec![]; z.len()]);
        };
        let cols = exprs
            .iter()
            .map(|e| e.evaluate(&z.rows).and_then(|v| v.into_array(z.len())))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let rows = conv.convert_columns(&cols)?;
        Ok((0..z.len()).map(|i| rows.row(i).data().to_vec()).collect())
    }

    /// The partition's output rows (encoded) with counts.
    fn outputs(&self, entries: &Entries) -> Result<BTreeMap<Vec<u8>, i64>> {
        let mut out = BTreeMap::new();
        if entries.is_empty() {
            return Ok(out);
        }
        let input_schema = self.input.schema().clone();
        let (batch, orders) = expand(
            &self.row_conv,
            &input_schema,
            entries.iter().map(|(r, c)| (r.as_slice(), *c)),
        )?;
        let n = batch.num_rows();
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        for (spec, f) in self
            .specs
            .iter()
            .zip(self.schema.fields().iter().skip(cols.len()))
        {
            let values = self.values(spec, &batch, &orders)?;
            let values: Vec<ScalarValue> = values
                .into_iter()
                .map(|v| {
                    if v.data_type() == *f.data_type() {
                        Ok(v)
                    } else {
                        v.cast_to(f.data_type())
                    }
                })
                .collect::<datafusion::common::Result<_>>()?;
            cols.push(if values.is_empty() {
                datafusion::arrow::array::new_empty_array(f.data_type())
            } else {
                ScalarValue::iter_to_array(values)?
            });
        }
        let full = rebatch_columns(&self.schema, cols, n)?;
        let rows = self.out_conv.convert_columns(full.columns())?;
        for i in 0..n {
            *out.entry(rows.row(i).data().to_vec()).or_default() += 1;
        }
        Ok(out)
    }

    fn values(
        &self,
        spec: &WinSpec,
        batch: &RecordBatch,
        orders: &[&[u8]],
    ) -> Result<Vec<ScalarValue>> {
        let n = batch.num_rows();
        let arg = match &spec.arg {
            Some(e) => Some(e.evaluate(batch)?.into_array(n)?),
            None => None,
        };
        let default = match &spec.default {
            Some(e) => Some(e.evaluate(batch)?.into_array(n)?),
            None => None,
        };
        let scalar = |a: &ArrayRef, i: usize| ScalarValue::try_from_array(a, i);
        // peer groups: [start, end) of equal order keys
        let mut group_end = vec![0usize; n];
        let mut group_start = vec![0usize; n];
        let mut i = 0;
        while i < n {
            let mut j = i + 1;
            while j < n && orders[j] == orders[i] {
                j += 1;
            }
            for k in i..j {
                group_start[k] = i;
                group_end[k] = j;
            }
            i = j;
        }
        let ordered = self.order_conv.is_some();
        let mut out = Vec::with_capacity(n);
        match spec.func {
            WinFunc::RowNumber => {
                out.extend((0..n).map(|i| ScalarValue::UInt64(Some(i as u64 + 1))))
            }
            WinFunc::Rank => {
                out.extend((0..n).map(|i| ScalarValue::UInt64(Some(group_start[i] as u64 + 1))))
            }
            WinFunc::DenseRank => {
                let mut rank = 0u64;
                for (i, start) in group_start.iter().enumerate() {
                    if *start == i {
                        rank += 1;
                    }
                    out.push(ScalarValue::UInt64(Some(rank)));
                }
            }
            WinFunc::Lag(off) | WinFunc::Lead(off) => {
                let a = arg
                    .as_ref()
                    .ok_or_else(|| Error::internal("lag without argument"))?;
                let sign = if matches!(spec.func, WinFunc::Lag(_)) {
                    -1
                } else {
                    1
                };
                for i in 0..n {
                    let j = i as i64 + sign * off;
                    out.push(if j >= 0 && (j as usize) < n {
                        scalar(a, j as usize)?
                    } else if let Some(d) = &default {
                        scalar(d, i)?
                    } else {
                        ScalarValue::try_from(a.data_type())?
                    });
                }
            }
            WinFunc::Sum | WinFunc::Count | WinFunc::Min | WinFunc::Max | WinFunc::Avg => {
                // running aggregate up to the end of each row's peer group (or the partition)
                let mut acc: Option<ScalarValue> = None;
                let mut count = 0i64;
                let mut done = 0usize;
                for end in &group_end {
                    let upto = if ordered { *end } else { n };
                    while done < upto {
                        match &arg {
                            None => count += 1,
                            Some(a) if a.is_valid(done) => {
                                count += 1;
                                let v = scalar(a, done)?;
                                acc = Some(match (acc.take(), spec.func) {
                                    (None, _) => v,
                                    (Some(x), WinFunc::Sum | WinFunc::Avg) => x.add_checked(&v)?,
                                    (Some(x), WinFunc::Min) => {
                                        if v < x {
                                            v
                                        } else {
                                            x
                                        }
                                    }
                                    (Some(x), WinFunc::Max) => {
                                        if v > x {
                                            v
                                        } else {
                                            x
                                        }
                                    }
                                    (Some(x), _) => x,
                                });
                            }
                            Some(_) => {}
                        }
                        done += 1;
                    }
                    out.push(match spec.func {
                        WinFunc::Count => ScalarValue::Int64(Some(count)),
                        WinFunc::Avg => match &acc {
                            Some(s) => {
                                let s = s.cast_to(&DataType::Float64)?;
                                match s {
                                    ScalarValue::Float64(Some(f)) => {
                                        ScalarValue::Float64(Some(f / count as f64))
                                    }
                                    _ => ScalarValue::Float64(None),
                                }
                            }
                            None => ScalarValue::Float64(None),
                        },
                        _ => acc.clone().unwrap_or(ScalarValue::try_from(&spec.output)?),
                    });
                }
            }
        }
        Ok(out)
    }
}

impl Operator for Window {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let Some(z) = self.input.step(cx)? else {
            return Ok(None);
        };
        cx.rows_processed += z.len() as u64;
        let parts = self.keys(&self.partition_exprs, &self.part_conv, &z)?;
        let orders = self.keys(&self.order_exprs, &self.order_conv, &z)?;
        let rows = self.row_conv.convert_columns(z.rows.columns())?;
        let mut touched: BTreeMap<&[u8], Vec<(Vec<u8>, i64)>> = BTreeMap::new();
        for i in 0..z.len() {
            touched
                .entry(parts[i].as_slice())
                .or_default()
                .push((entry_rest(&orders[i], rows.row(i).data()), z.weights[i]));
        }
        let mut diff: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        let limit = self.limit.map(|n| n as i64);
        for (part, delta) in &touched {
            let old = load(cx, self.state_id, part, limit)?;
            let new = match limit {
                None => merged(&old, delta),
                Some(_) => vec![],
            };
            for (rest, w) in delta {
                cx.state
                    .add_count(state_key(self.state_id, part, rest), *w)?;
            }
            // With a limit, the first rows after the change are read back from the state.
            let new = match limit {
                None => new,
                Some(_) => load(cx, self.state_id, part, limit)?,
            };
            for (r, c) in self.outputs(&old)? {
                *diff.entry(r).or_default() -= c;
            }
            for (r, c) in self.outputs(&new)? {
                *diff.entry(r).or_default() += c;
            }
        }
        diff.retain(|_, c| *c != 0);
        if diff.is_empty() {
            return Ok(None);
        }
        let parser = self.out_conv.parser();
        let mut parsed = vec![];
        let mut weights = vec![];
        for (r, c) in &diff {
            for _ in 0..c.abs() {
                parsed.push(parser.parse(r));
                weights.push(c.signum());
            }
        }
        let cols = self.out_conv.convert_rows(parsed)?;
        let rows = rebatch_columns(&self.schema, cols, weights.len())?;
        Ok(Some(ZBatch::new(rows, weights)))
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let p: Vec<String> = self.partition_exprs.iter().map(|e| e.to_string()).collect();
        let o: Vec<String> = self.order_exprs.iter().map(|e| e.to_string()).collect();
        let f: Vec<String> = self.specs.iter().map(|s| s.name.clone()).collect();
        let limit = self
            .limit
            .map(|n| format!(" first {n} rows per partition"))
            .unwrap_or_default();
        out.push(line(
            depth,
            format!(
                "Window [{}] partition by [{}] order by [{}]{limit} state: input rows by \
                 partition in order (id {})",
                f.join(", "),
                p.join(", "),
                o.join(", "),
                self.state_id
            ),
        ));
        self.input.explain(depth + 1, out);
    }
}
