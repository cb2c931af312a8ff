//! GROUP BY and global aggregates, fully retractable.
//!
//! Incremental semantics: for every group a change touches, the old output row (if the group
//! existed) is retracted and the new one (if the group still exists) inserted; groups not
//! touched cost nothing. A global aggregate (no GROUP BY) always has its one row, also over an
//! empty input, as SQL requires.
//!
//! State, per group (keyed by the group key, sharded by it):
//! - an accumulator row (`acc_id`): the group's row count and, per aggregate, exact running
//!   sums: counts and integer/decimal sums in `i128`; float sums as a finite part plus counts of
//!   NaN, +inf and -inf, so that retracting an infinity restores the finite sum;
//! - for `min`, `max` and `count(DISTINCT)`, a value multiset (`vals_id`): one counter per
//!   distinct value, in memcomparable order (descending for `max`), so the current extreme is
//!   the first live entry and deleting it exposes the next one. The accumulator row also keeps
//!   the current extreme, so the multiset is scanned only when a value that could be the
//!   extreme loses its last copy; inserts alone never scan.
//!
//! - for `string_agg`, `array_agg` and the variance family, a multiset of (order key, value)
//!   per group: these are recomputed from the group's values when the group changes (cost: the
//!   group's size; exact and order-correct, unlike a running float sum of squares).
//!
//! A group's state is deleted when its row count reaches zero.
//! Example: `SELECT k, max(v) FROM t GROUP BY k` with rows (a,1),(a,5): state a -> {count 2,
//! values {5:1, 1:1}}; deleting (a,5) emits -(a,5), +(a,1).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef};
use datafusion::arrow::row::{RowConverter, Rows};
use datafusion::common::ScalarValue;
use datafusion::physical_expr::PhysicalExpr;
use eddy_common::numeric::{Numeric, NumericMoments, NumericSum};
use eddy_common::{Error, Result, SqlState, TableId};

use crate::operator::{Operator, StepCx, line};
use crate::state::{StateAccess, shard_prefix, state_key};
use crate::zset::{ZBatch, rebatch_columns};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AggKind {
    Count,
    SumInt,
    SumFloat,
    AvgFloat,
    /// `sum`/`avg` of `numeric` (and `avg` of integers): slots count the values, NaNs and
    /// infinities; the finite sum and how many values have each display scale live in the
    /// group's extra bytes (see [`NumericSum`]), because the sum shows the largest scale
    /// among the values still in the group.
    SumNumeric,
    AvgNumeric,
    /// `var_samp`/`var_pop`/`stddev_samp`/`stddev_pop` of numerics (and integers), exact as
    /// PostgreSQL's: the slots as for `SumNumeric`, and the extra bytes hold the sums of the
    /// values and of their squares ([`NumericMoments`]).
    VarNumeric {
        sample: bool,
        sqrt: bool,
    },
    Min,
    Max,
    CountDistinct,
    BoolAnd,
    BoolOr,
    /// `string_agg(x, delimiter [ORDER BY ...])`
    StringAgg,
    /// `array_agg(x [ORDER BY ...])` (NULL elements included, as in PostgreSQL)
    ArrayAgg,
    /// `var_samp`/`var_pop`/`stddev_samp`/`stddev_pop`
    Variance {
        sample: bool,
        sqrt: bool,
    },
}

impl AggKind {
    /// Aggregates computed from the group's whole value multiset when the group changes
    /// (cost: the group's size).
    fn collects(self) -> bool {
        matches!(
            self,
            AggKind::StringAgg | AggKind::ArrayAgg | AggKind::Variance { .. }
        )
    }
}

pub struct AggSpec {
    pub kind: AggKind,
    /// `None` only for `count(*)`.
    pub arg: Option<Arc<dyn PhysicalExpr>>,
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    pub output: DataType,
    /// Encodes argument values for the value multiset (descending for `max`).
    pub values: Option<RowConverter>,
    /// `string_agg`'s delimiter.
    pub delimiter: Option<String>,
    /// The aggregate's own ORDER BY (string_agg, array_agg): expressions and their encoding.
    pub order: Option<(Vec<Arc<dyn PhysicalExpr>>, RowConverter)>,
    pub name: String,
}

pub struct Aggregate {
    pub input: Box<dyn Operator>,
    pub group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// Encodes group keys; `None` for a global aggregate.
    pub group_conv: Option<RowConverter>,
    pub aggs: Vec<AggSpec>,
    pub acc_id: TableId,
    pub vals_id: TableId,
    pub schema: SchemaRef,
}

const SLOTS: usize = 5;

/// One output change of a group: its key, its aggregate values, its weight.
type GroupOut<'g> = (&'g [u8], Vec<ScalarValue>, i64);

/// A group's accumulators: the row count and, per aggregate, five `i128` slots.
/// count/sum/avg: [non-null count, sum, NaN count, +inf count, -inf count] (float sums keep
/// their finite part's f64 bits in slot 1); bool_and/or: [non-null, trues, falses, -, -];
/// min/max: [non-null, -, ...]; count(DISTINCT): [non-null, distinct values, ...].
#[derive(Clone, Debug, PartialEq)]
struct Acc {
    count: i64,
    s: Vec<[i128; SLOTS]>,
    /// min/max: the current extreme, encoded as in the value multiset, so the old output needs
    /// no scan and inserts alone never scan.
    ext: Vec<Option<Vec<u8>>>,
}

impl Acc {
    fn new(n: usize) -> Acc {
        Acc {
            count: 0,
            s: vec![[0; SLOTS]; n],
            ext: vec![None; n],
        }
    }

    fn decode(v: &[u8], n: usize) -> Result<Acc> {
        let corrupt = || Error::internal("corrupt aggregate state");
        if v.len() < 8 + n * SLOTS * 16 {
            return Err(corrupt());
        }
        let count = i64::from_be_bytes(v[..8].try_into().expect("8 bytes"));
        let mut s = vec![[0; SLOTS]; n];
        for (j, slots) in s.iter_mut().enumerate() {
            for (k, slot) in slots.iter_mut().enumerate() {
                let o = 8 + (j * SLOTS + k) * 16;
                *slot = i128::from_be_bytes(v[o..o + 16].try_into().expect("16 bytes"));
            }
        }
        let mut ext = Vec::with_capacity(n);
        let mut o = 8 + n * SLOTS * 16;
        for _ in 0..n {
            let len =
                u32::from_be_bytes(v.get(o..o + 4).ok_or_else(corrupt)?.try_into().expect("4"));
            o += 4;
            if len == u32::MAX {
                ext.push(None);
            } else {
                let end = o + len as usize;
                ext.push(Some(v.get(o..end).ok_or_else(corrupt)?.to_vec()));
                o = end;
            }
        }
        Ok(Acc { count, s, ext })
    }

    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.s.len() * (SLOTS * 16 + 4));
        v.extend_from_slice(&self.count.to_be_bytes());
        for slots in &self.s {
            for x in slots {
                v.extend_from_slice(&x.to_be_bytes());
            }
        }
        for e in &self.ext {
            match e {
                None => v.extend_from_slice(&u32::MAX.to_be_bytes()),
                Some(b) => {
                    v.extend_from_slice(&(b.len() as u32).to_be_bytes());
                    v.extend_from_slice(b);
                }
            }
        }
        v
    }
}

/// How one step changed a min/max multiset: the best value inserted, and whether a value that
/// could have been the extreme lost its last copy (then the multiset is scanned).
#[derive(Clone, Default)]
struct ExtremeChange {
    best_inserted: Option<Vec<u8>>,
    rescan: bool,
}

fn f64_of(slot: i128) -> f64 {
    f64::from_bits(slot as u64)
}

fn slot_of(f: f64) -> i128 {
    f.to_bits() as i128
}

/// Per-aggregate inputs of one step, evaluated over the whole change batch.
struct Evaluated {
    arg: Option<ArrayRef>,
    filter: Option<BooleanArray>,
    values: Option<Rows>,
    order: Option<Rows>,
}

impl Aggregate {
    fn evaluate(&self, z: &ZBatch) -> Result<Vec<Evaluated>> {
        let n = z.len();
        let mut out = Vec::with_capacity(self.aggs.len());
        for spec in &self.aggs {
            let arg = match &spec.arg {
                Some(e) => {
                    let a = e.evaluate(&z.rows)?.into_array(n)?;
                    Some(match spec.kind {
                        AggKind::SumInt => cast(&a, &DataType::Int64)?,
                        AggKind::SumFloat | AggKind::AvgFloat => cast(&a, &DataType::Float64)?,
                        AggKind::SumNumeric | AggKind::AvgNumeric | AggKind::VarNumeric { .. } => {
                            eddy_common::numeric_array::cast_to_numeric(&a, None)?
                        }
                        _ => a,
                    })
                }
                None => None,
            };
            let filter = match &spec.filter {
                Some(f) => Some(f.evaluate(&z.rows)?.into_array(n)?.as_boolean().clone()),
                None => None,
            };
            let values = match (&spec.values, &arg) {
                (Some(conv), Some(a)) => Some(conv.convert_columns(std::slice::from_ref(a))?),
                _ => None,
            };
            let order = match &spec.order {
                Some((exprs, conv)) => {
                    let cols = exprs
                        .iter()
                        .map(|e| e.evaluate(&z.rows).and_then(|v| v.into_array(n)))
                        .collect::<datafusion::common::Result<Vec<_>>>()?;
                    Some(conv.convert_columns(&cols)?)
                }
                None => None,
            };
            out.push(Evaluated {
                arg,
                filter,
                values,
                order,
            });
        }
        Ok(out)
    }

    fn group_keys(&self, z: &ZBatch) -> Result<Vec<Vec<u8>>> {
        let Some(conv) = &self.group_conv else {
            return Ok(vec![vec![]; z.len()]);
        };
        let cols = self
            .group_exprs
            .iter()
            .map(|e| e.evaluate(&z.rows).and_then(|v| v.into_array(z.len())))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let rows = conv.convert_columns(&cols)?;
        Ok((0..z.len()).map(|i| rows.row(i).data().to_vec()).collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        st: &mut dyn StateAccess,
        gk: &[u8],
        acc: &mut Acc,
        ext: &mut [ExtremeChange],
        ev: &[Evaluated],
        i: usize,
        w: i64,
    ) -> Result<()> {
        acc.count += w;
        let w128 = w as i128;
        for (j, (spec, e)) in self.aggs.iter().zip(ev).enumerate() {
            if let Some(f) = &e.filter
                && !(f.is_valid(i) && f.value(i))
            {
                continue;
            }
            let s = &mut acc.s[j];
            let Some(a) = &e.arg else {
                s[0] += w128; // count(*)
                continue;
            };
            if spec.kind.collects() {
                if a.is_null(i) && spec.kind != AggKind::ArrayAgg {
                    continue;
                }
                s[0] += w128;
                let value = e.values.as_ref().expect("values encoded").row(i).data();
                let order = e.order.as_ref().map_or(value, |o| o.row(i).data());
                let mut rest = (j as u16).to_be_bytes().to_vec();
                rest.extend_from_slice(&crate::ordered::entry_rest(order, value));
                st.add_count(state_key(self.vals_id, gk, &rest), w)?;
                continue;
            }
            if a.is_null(i) {
                continue;
            }
            s[0] += w128;
            match spec.kind {
                AggKind::Count => {}
                AggKind::SumInt => s[1] += a.as_primitive::<Int64Type>().value(i) as i128 * w128,
                AggKind::SumNumeric | AggKind::AvgNumeric | AggKind::VarNumeric { .. } => {
                    let v = Numeric::from_bytes(a.as_binary::<i64>().value(i))?;
                    match v {
                        Numeric::NaN => s[2] += w128,
                        Numeric::PosInf => s[3] += w128,
                        Numeric::NegInf => s[4] += w128,
                        v if matches!(spec.kind, AggKind::VarNumeric { .. }) => {
                            let mut m = NumericMoments::decode(acc.ext[j].as_deref())?;
                            m.add(&v, w);
                            acc.ext[j] = Some(m.encode());
                        }
                        v => {
                            let mut sum = NumericSum::decode(acc.ext[j].as_deref())?;
                            sum.add(&v, w);
                            acc.ext[j] = Some(sum.encode());
                        }
                    }
                }
                AggKind::SumFloat | AggKind::AvgFloat => {
                    let v = a.as_primitive::<Float64Type>().value(i);
                    if v.is_nan() {
                        s[2] += w128;
                    } else if v == f64::INFINITY {
                        s[3] += w128;
                    } else if v == f64::NEG_INFINITY {
                        s[4] += w128;
                    } else {
                        s[1] = slot_of(f64_of(s[1]) + v * w as f64);
                    }
                }
                AggKind::BoolAnd | AggKind::BoolOr => {
                    if a.as_boolean().value(i) {
                        s[1] += w128;
                    } else {
                        s[2] += w128;
                    }
                }
                AggKind::StringAgg | AggKind::ArrayAgg | AggKind::Variance { .. } => {}
                AggKind::Min | AggKind::Max | AggKind::CountDistinct => {
                    let value = e.values.as_ref().expect("values encoded").row(i);
                    let mut rest = (j as u16).to_be_bytes().to_vec();
                    rest.extend_from_slice(value.data());
                    let (old, new) = st.add_count(state_key(self.vals_id, gk, &rest), w)?;
                    let v = value.data();
                    let x = &mut ext[j];
                    if new > 0 && x.best_inserted.as_deref().is_none_or(|b| v < b) {
                        x.best_inserted = Some(v.to_vec());
                    }
                    if old > 0
                        && new <= 0
                        && (acc.ext[j].as_deref().is_none_or(|e| v <= e)
                            || x.best_inserted.as_deref().is_some_and(|b| v <= b))
                    {
                        x.rescan = true;
                    }
                    if spec.kind == AggKind::CountDistinct {
                        if old <= 0 && new > 0 {
                            acc.s[j][1] += 1;
                        } else if old > 0 && new <= 0 {
                            acc.s[j][1] -= 1;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn finalize(&self, st: &dyn StateAccess, gk: &[u8], acc: &Acc) -> Result<Vec<ScalarValue>> {
        let mut out = Vec::with_capacity(self.aggs.len());
        for (j, spec) in self.aggs.iter().enumerate() {
            let s = &acc.s[j];
            let v = match spec.kind {
                k if k.collects() && s[0] != 0 => self.collected(st, gk, j, spec)?,
                AggKind::Count => ScalarValue::Int64(Some(s[0] as i64)),
                AggKind::CountDistinct => ScalarValue::Int64(Some(s[1] as i64)),
                _ if s[0] == 0 => ScalarValue::try_from(&spec.output)?,
                AggKind::SumInt => ScalarValue::Int64(Some(i64::try_from(s[1]).map_err(|_| {
                    Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
                })?)),
                AggKind::SumNumeric | AggKind::AvgNumeric => {
                    let total = if s[2] > 0 || (s[3] > 0 && s[4] > 0) {
                        Numeric::NaN
                    } else if s[3] > 0 {
                        Numeric::PosInf
                    } else if s[4] > 0 {
                        Numeric::NegInf
                    } else {
                        NumericSum::decode(acc.ext[j].as_deref())?.total()
                    };
                    let v = match spec.kind {
                        AggKind::AvgNumeric => total.div(&Numeric::from_i64(s[0] as i64))?,
                        _ => total,
                    };
                    ScalarValue::LargeBinary(Some(v.to_bytes()))
                }
                AggKind::VarNumeric { sample, sqrt } => {
                    let special = (s[2] + s[3] + s[4]) as i64;
                    let m = NumericMoments::decode(acc.ext[j].as_deref())?;
                    let v = m.variance(s[0] as i64 - special, special, sample, sqrt)?;
                    ScalarValue::LargeBinary(v.map(|v| v.to_bytes()))
                }
                AggKind::SumFloat => ScalarValue::Float64(Some(float_sum(s))),
                AggKind::AvgFloat => ScalarValue::Float64(Some(float_sum(s) / s[0] as f64)),
                // reached only with no input rows (handled above otherwise)
                AggKind::StringAgg | AggKind::ArrayAgg | AggKind::Variance { .. } => {
                    ScalarValue::try_from(&spec.output)?
                }
                AggKind::BoolAnd => ScalarValue::Boolean(Some(s[2] == 0)),
                AggKind::BoolOr => ScalarValue::Boolean(Some(s[1] > 0)),
                AggKind::Min | AggKind::Max => match &acc.ext[j] {
                    None => ScalarValue::try_from(&spec.output)?,
                    Some(bytes) => {
                        let conv = spec.values.as_ref().expect("values encoded");
                        let arr = conv.convert_rows([conv.parser().parse(bytes)])?;
                        ScalarValue::try_from_array(&arr[0], 0)?
                    }
                },
            };
            out.push(if v.data_type() == spec.output {
                v
            } else {
                v.cast_to(&spec.output)?
            });
        }
        Ok(out)
    }

    /// A collecting aggregate's value over the group's whole multiset, in its order.
    fn collected(
        &self,
        st: &dyn StateAccess,
        gk: &[u8],
        j: usize,
        spec: &AggSpec,
    ) -> Result<ScalarValue> {
        let mut prefix = shard_prefix(self.vals_id, gk);
        prefix.extend_from_slice(&(j as u16).to_be_bytes());
        let mut entries: Vec<(Vec<u8>, i64)> = vec![];
        st.scan_prefix(&prefix, &mut |k, v| {
            entries.push((k[prefix.len()..].to_vec(), crate::state::decode_i64(v)));
            Ok(true)
        })?;
        let conv = spec.values.as_ref().expect("values encoded");
        let parser = conv.parser();
        let mut idx = vec![];
        let mut parsed = vec![];
        for (i, (rest, c)) in entries.iter().enumerate() {
            parsed.push(parser.parse(crate::ordered::split_rest(rest).1));
            idx.extend(std::iter::repeat_n(i as u32, (*c).max(0) as usize));
        }
        let values = conv.convert_rows(parsed)?;
        let values = datafusion::arrow::compute::take(
            &values[0],
            &datafusion::arrow::array::UInt32Array::from(idx),
            None,
        )?;
        Ok(match spec.kind {
            AggKind::StringAgg => {
                let strs = cast(&values, &DataType::Utf8)?;
                let strs = strs.as_string::<i32>();
                let parts: Vec<&str> = strs.iter().flatten().collect();
                ScalarValue::Utf8(Some(parts.join(spec.delimiter.as_deref().unwrap_or(""))))
            }
            AggKind::ArrayAgg => {
                let scalars = (0..values.len())
                    .map(|i| ScalarValue::try_from_array(&values, i))
                    .collect::<datafusion::common::Result<Vec<_>>>()?;
                ScalarValue::List(ScalarValue::new_list_nullable(&scalars, values.data_type()))
            }
            AggKind::Variance { sample, sqrt } => {
                let f = cast(&values, &DataType::Float64)?;
                let f = f.as_primitive::<Float64Type>();
                // Welford, as DataFusion's batch accumulator
                let (mut n, mut mean, mut m2) = (0f64, 0f64, 0f64);
                for x in f.iter().flatten() {
                    n += 1.0;
                    let delta = x - mean;
                    mean += delta / n;
                    m2 += delta * (x - mean);
                }
                let denom = if sample { n - 1.0 } else { n };
                if denom <= 0.0 {
                    ScalarValue::Float64(None)
                } else {
                    let var = m2 / denom;
                    ScalarValue::Float64(Some(if sqrt { var.sqrt() } else { var }))
                }
            }
            _ => return Err(Error::internal("not a collecting aggregate")),
        })
    }

    /// The first live value of aggregate `j`'s multiset: its min (or max, encoded descending).
    fn first_value(&self, st: &dyn StateAccess, gk: &[u8], j: usize) -> Result<Option<Vec<u8>>> {
        let mut prefix = shard_prefix(self.vals_id, gk);
        prefix.extend_from_slice(&(j as u16).to_be_bytes());
        let mut found: Option<Vec<u8>> = None;
        st.scan_prefix(&prefix, &mut |k, _| {
            found = Some(k[prefix.len()..].to_vec());
            Ok(false)
        })?;
        Ok(found)
    }

    /// Brings each min/max extreme up to date after a step's updates of one group.
    fn settle_extremes(
        &self,
        st: &dyn StateAccess,
        gk: &[u8],
        acc: &mut Acc,
        ext: Vec<ExtremeChange>,
    ) -> Result<()> {
        for (j, (spec, x)) in self.aggs.iter().zip(ext).enumerate() {
            if !matches!(spec.kind, AggKind::Min | AggKind::Max) {
                continue;
            }
            acc.ext[j] = if acc.s[j][0] == 0 {
                None
            } else if x.rescan {
                self.first_value(st, gk, j)?
            } else {
                match (acc.ext[j].take(), x.best_inserted) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            };
        }
        Ok(())
    }
}

fn float_sum(s: &[i128; SLOTS]) -> f64 {
    if s[2] > 0 || (s[3] > 0 && s[4] > 0) {
        f64::NAN
    } else if s[3] > 0 {
        f64::INFINITY
    } else if s[4] > 0 {
        f64::NEG_INFINITY
    } else {
        f64_of(s[1])
    }
}

impl Operator for Aggregate {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let global = self.group_conv.is_none();
        let input = self.input.step(cx)?;
        if input.is_none() && !(global && cx.first) {
            return Ok(None);
        }
        let z = input.unwrap_or_else(|| ZBatch::empty(self.input.schema().clone()));
        cx.rows_processed += z.len() as u64;
        let keys = self.group_keys(&z)?;
        let ev = self.evaluate(&z)?;
        let mut order: Vec<&[u8]> = vec![];
        let mut groups: HashMap<&[u8], Vec<usize>> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            groups
                .entry(k.as_slice())
                .or_insert_with(|| {
                    order.push(k.as_slice());
                    vec![]
                })
                .push(i);
        }
        if global && order.is_empty() {
            order.push(&[]);
            groups.insert(&[], vec![]);
        }
        let items: Vec<(&[u8], &[usize])> = order
            .iter()
            .map(|gk| (*gk, groups[gk].as_slice()))
            .collect();
        let (ev, weights) = (&ev, &z.weights);
        let out = crate::parallel::sharded(
            cx.state,
            cx.parallel,
            items,
            |it| it.0,
            |st, part| self.process(st, part, ev, weights, global),
        )?;
        if out.is_empty() {
            return Ok(None);
        }
        self.output(out).map(Some)
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let groups: Vec<String> = self.group_exprs.iter().map(|e| e.to_string()).collect();
        let aggs: Vec<String> = self.aggs.iter().map(|a| a.name.clone()).collect();
        out.push(line(
            depth,
            format!(
                "Aggregate group by [{}] aggregates [{}] state: accumulators per group (id {}), \
                 value multisets for min/max/distinct (id {})",
                groups.join(", "),
                aggs.join(", "),
                self.acc_id,
                self.vals_id
            ),
        ));
        self.input.explain(depth + 1, out);
    }
}

impl Aggregate {
    /// Folds each group's changes into its state and returns the group's output changes.
    fn process<'g>(
        &self,
        st: &mut dyn StateAccess,
        items: &[(&'g [u8], &[usize])],
        ev: &[Evaluated],
        weights: &[i64],
        global: bool,
    ) -> Result<Vec<GroupOut<'g>>> {
        let mut out = vec![];
        for (gk, rows) in items {
            let gk: &'g [u8] = gk;
            let skey = state_key(self.acc_id, gk, &[]);
            let old = match st.get(&skey)? {
                Some(v) => Some(Acc::decode(&v, self.aggs.len())?),
                None => None,
            };
            let old_out = match &old {
                Some(a) => Some(self.finalize(&*st, gk, a)?),
                None => None,
            };
            let mut acc = old.unwrap_or_else(|| Acc::new(self.aggs.len()));
            let mut ext = vec![ExtremeChange::default(); self.aggs.len()];
            for &i in rows.iter() {
                self.update(st, gk, &mut acc, &mut ext, ev, i, weights[i])?;
            }
            self.settle_extremes(st, gk, &mut acc, ext)?;
            if acc.count < 0 {
                return Err(Error::internal("aggregate group count went negative"));
            }
            let exists = global || acc.count > 0;
            if exists {
                st.put(skey, acc.encode());
            } else {
                st.delete(skey);
            }
            let new_out = if exists {
                Some(self.finalize(&*st, gk, &acc)?)
            } else {
                None
            };
            if old_out != new_out {
                if let Some(o) = old_out {
                    out.push((gk, o, -1));
                }
                if let Some(n) = new_out {
                    out.push((gk, n, 1));
                }
            }
        }
        Ok(out)
    }

    fn output(&self, out: Vec<GroupOut>) -> Result<ZBatch> {
        let n = out.len();
        let mut cols: Vec<ArrayRef> = vec![];
        if let Some(conv) = &self.group_conv {
            let parser = conv.parser();
            let rows: Vec<_> = out.iter().map(|(k, _, _)| parser.parse(k)).collect();
            cols.extend(conv.convert_rows(rows)?);
        }
        for j in 0..self.aggs.len() {
            cols.push(ScalarValue::iter_to_array(
                out.iter().map(|(_, v, _)| v[j].clone()),
            )?);
        }
        let rows = rebatch_columns(&self.schema, cols, n)?;
        Ok(ZBatch::new(rows, out.iter().map(|(_, _, w)| *w).collect()))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::row::SortField;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::sources::Scan;
    use crate::testkit::{Epochs, lines, pretty, schema};

    fn max_by_key() -> Aggregate {
        let input = schema("k:utf8 v:int64");
        let desc = datafusion::arrow::compute::SortOptions {
            descending: true,
            nulls_first: false,
        };
        Aggregate {
            input: Box::new(Scan {
                id: 1,
                name: "t".into(),
                projection: None,
                schema: input.clone(),
            }),
            group_exprs: vec![col("k", &input).unwrap()],
            group_conv: Some(RowConverter::new(vec![SortField::new(DataType::Utf8)]).unwrap()),
            aggs: vec![AggSpec {
                kind: AggKind::Max,
                arg: Some(col("v", &input).unwrap()),
                filter: None,
                output: DataType::Int64,
                values: Some(
                    RowConverter::new(vec![SortField::new_with_options(DataType::Int64, desc)])
                        .unwrap(),
                ),
                delimiter: None,
                order: None,
                name: "max(v)".into(),
            }],
            acc_id: 10,
            vals_id: 11,
            schema: schema("k:utf8 m:int64"),
        }
    }

    #[test]
    fn deleting_the_max_exposes_the_next_one() {
        let agg = max_by_key();
        let t = schema("k:utf8 v:int64");
        let e = Epochs::new("agg-max");
        let out = e.step(
            &agg,
            vec![(1, pretty(&t, "+1 a 1\n+1 a 5\n+1 a 5\n+1 b 2"))],
        );
        assert_eq!(lines(&out), ["+1 a 5", "+1 b 2"]);
        // one of two copies of the max goes: nothing changes
        let out = e.step(&agg, vec![(1, pretty(&t, "-1 a 5"))]);
        assert_eq!(lines(&out), Vec::<String>::new());
        let out = e.step(&agg, vec![(1, pretty(&t, "-1 a 5"))]);
        assert_eq!(lines(&out), ["+1 a 1", "-1 a 5"]);
        // inserted and deleted in the same epoch: no trace
        let out = e.step(&agg, vec![(1, pretty(&t, "+1 b 9\n-1 b 9"))]);
        assert_eq!(lines(&out), Vec::<String>::new());
        // the group's last row goes: the group goes
        let out = e.step(&agg, vec![(1, pretty(&t, "-1 b 2"))]);
        assert_eq!(lines(&out), ["-1 b 2"]);
    }
}
