//! Equi-joins (inner, left, right, full outer, semi, anti) with an optional extra condition.
//!
//! Incremental semantics, per join key `k` touched by a change (L, R the inputs before this
//! step, dL, dR their changes):
//! - matched pairs: `dL ⋈ R + L ⋈ dR + dL ⋈ dR` (the bilinear rule), then the extra condition;
//! - outer padding, semi and anti rows depend on whether a row has a partner. Without an extra
//!   condition that is "the other side of `k` is non-empty": when that does not flip, only the
//!   changed rows are emitted; when it flips, the side's rows of `k` are re-emitted. With an
//!   extra condition, each row's partner status is evaluated before and after for key `k`.
//!
//! State: both inputs arranged by join key (`left_id`, `right_id`): one counter per distinct
//! (key, row). Costs one lookup of the other side's rows for each touched key; rows leave the
//! state when their count reaches zero. A key containing NULL matches nothing unless the join
//! treats NULLs as equal (INTERSECT, EXCEPT).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::RowConverter;
use datafusion::physical_expr::PhysicalExpr;
use eddy_common::{Result, TableId};

use crate::operator::{Operator, StepCx, line};
use crate::ordered::merged;
use crate::state::{StateAccess, shard_prefix, state_key};
use crate::zset::{ZBatch, rebatch_columns};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Semi,
    Anti,
}

pub struct Join {
    pub left: Box<dyn Operator>,
    pub right: Box<dyn Operator>,
    pub left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub right_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub key_types: Vec<DataType>,
    pub key_conv: RowConverter,
    pub left_conv: RowConverter,
    pub right_conv: RowConverter,
    /// Extra condition, over `pair_schema` (left columns then right columns).
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    pub pair_schema: SchemaRef,
    pub kind: JoinKind,
    pub nulls_equal: bool,
    pub left_id: TableId,
    pub right_id: TableId,
    /// `NOT IN (subquery)` (a null-aware anti join): the state table counting the right side's
    /// rows and NULL keys, which decide the whole output.
    pub null_aware: Option<TableId>,
    pub schema: SchemaRef,
}

/// What the right side of a null-aware anti join makes of every left row.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NotIn {
    /// Right side empty: every left row is output (even with a NULL key).
    Empty,
    /// Right side holds a NULL: `x NOT IN (...)` is never true.
    HasNull,
    /// Otherwise: left rows with a non-NULL key that matches nothing.
    Keys,
}

fn not_in_mode(total: i64, nulls: i64) -> NotIn {
    if total == 0 {
        NotIn::Empty
    } else if nulls > 0 {
        NotIn::HasNull
    } else {
        NotIn::Keys
    }
}

type Rows = Vec<(Vec<u8>, i64)>;

#[derive(Default)]
struct KeyWork {
    has_null: bool,
    dl: Rows,
    dr: Rows,
}

/// One output row before decoding: left row, right row (either may be padding), weight.
type Out<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, i64);

impl Join {
    fn changes(
        &self,
        z: &ZBatch,
        keys: &[Arc<dyn PhysicalExpr>],
        conv: &RowConverter,
        work: &mut BTreeMap<Vec<u8>, KeyWork>,
        left: bool,
    ) -> Result<()> {
        let n = z.len();
        let mut cols = Vec::with_capacity(keys.len());
        for (e, t) in keys.iter().zip(&self.key_types) {
            let a = e.evaluate(&z.rows)?.into_array(n)?;
            cols.push(if a.data_type() == t { a } else { cast(&a, t)? });
        }
        let key_rows = self.key_conv.convert_columns(&cols)?;
        let rows = conv.convert_columns(z.rows.columns())?;
        for i in 0..n {
            let w = work.entry(key_rows.row(i).data().to_vec()).or_default();
            w.has_null |= cols.iter().any(|c| c.is_null(i));
            let side = if left { &mut w.dl } else { &mut w.dr };
            side.push((rows.row(i).data().to_vec(), z.weights[i]));
        }
        Ok(())
    }

    fn load(&self, st: &dyn StateAccess, id: TableId, key: &[u8]) -> Result<Rows> {
        let prefix = shard_prefix(id, key);
        let mut rows = vec![];
        st.scan_prefix(&prefix, &mut |k, v| {
            rows.push((k[prefix.len()..].to_vec(), crate::state::decode_i64(v)));
            Ok(true)
        })?;
        Ok(rows)
    }

    fn wants_left_status(&self) -> bool {
        matches!(
            self.kind,
            JoinKind::Left | JoinKind::Full | JoinKind::Semi | JoinKind::Anti
        )
    }

    fn wants_right_status(&self) -> bool {
        matches!(self.kind, JoinKind::Right | JoinKind::Full)
    }

    fn emits_pairs(&self) -> bool {
        matches!(
            self.kind,
            JoinKind::Inner | JoinKind::Left | JoinKind::Right | JoinKind::Full
        )
    }

    /// Whether a row with (or without) a partner is output on its own.
    fn wants(&self, matched: bool) -> bool {
        match self.kind {
            JoinKind::Semi => matched,
            _ => !matched,
        }
    }
}

fn lone(is_left: bool, r: &[u8], c: i64) -> Out<'_> {
    if is_left {
        (Some(r), None, c)
    } else {
        (None, Some(r), c)
    }
}

fn total(rows: &Rows) -> i64 {
    rows.iter().map(|(_, c)| c).sum()
}

impl Operator for Join {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>> {
        let dl = self.left.step(cx)?;
        let dr = self.right.step(cx)?;
        if dl.is_none() && dr.is_none() {
            return Ok(None);
        }
        let mut work: BTreeMap<Vec<u8>, KeyWork> = BTreeMap::new();
        if let Some(z) = &dl {
            cx.rows_processed += z.len() as u64;
            self.changes(z, &self.left_keys, &self.left_conv, &mut work, true)?;
        }
        if let Some(z) = &dr {
            cx.rows_processed += z.len() as u64;
            self.changes(z, &self.right_keys, &self.right_conv, &mut work, false)?;
        }
        if let Some(counters) = self.null_aware {
            return self.step_not_in(cx, work, counters);
        }
        // Per key: the inputs before this step, and after.
        let status = self.wants_left_status() || self.wants_right_status();
        let keys: Vec<(usize, &Vec<u8>, &KeyWork)> = work
            .iter()
            .enumerate()
            .map(|(i, (k, w))| (i, k, w))
            .collect();
        let mut loaded = crate::parallel::sharded(
            cx.state,
            cx.parallel,
            keys,
            |e| e.1.as_slice(),
            |st, part| {
                let mut out = Vec::with_capacity(part.len());
                for (i, k, w) in part {
                    // A side's stored rows are read only when something pairs with or depends
                    // on them.
                    let l_old = if !w.dr.is_empty() || status {
                        self.load(&*st, self.left_id, k)?
                    } else {
                        vec![]
                    };
                    let r_old = if !w.dl.is_empty() || status {
                        self.load(&*st, self.right_id, k)?
                    } else {
                        vec![]
                    };
                    out.push((*i, l_old, r_old));
                }
                Ok(out)
            },
        )?;
        loaded.sort_by_key(|x| x.0);
        let per_key: Vec<(Rows, Rows, Rows, Rows)> = loaded
            .into_iter()
            .zip(work.values())
            .map(|((_, l_old, r_old), w)| {
                let l_new = merged(&l_old, &w.dl);
                let r_new = merged(&r_old, &w.dr);
                (l_old, r_old, l_new, r_new)
            })
            .collect();
        let mut candidates: Vec<Out> = vec![];
        let mut singles: Vec<Out> = vec![];
        let mut status_checks: Vec<(Out, bool, bool)> = vec![]; // (row, left side?, new state?)
        for ((_, w), (l_old, r_old, l_new, r_new)) in work.iter().zip(&per_key) {
            let matchable = !w.has_null || self.nulls_equal;
            if self.emits_pairs() && matchable {
                for (l, lw) in &w.dl {
                    for (r, rc) in r_new {
                        candidates.push((Some(l), Some(r), lw * rc));
                    }
                }
                for (l, lc) in l_old {
                    for (r, rw) in &w.dr {
                        candidates.push((Some(l), Some(r), lc * rw));
                    }
                }
            }
            let sides = [
                (
                    self.wants_left_status(),
                    true,
                    l_old,
                    r_old,
                    l_new,
                    r_new,
                    &w.dl,
                ),
                (
                    self.wants_right_status(),
                    false,
                    r_old,
                    l_old,
                    r_new,
                    l_new,
                    &w.dr,
                ),
            ];
            for (wanted, is_left, s_old, o_old, s_new, o_new, ds) in sides {
                if !wanted {
                    continue;
                }
                let row = |r, c| lone(is_left, r, c);
                if self.filter.is_none() || !matchable {
                    let m_old = matchable && total(o_old) > 0;
                    let m_new = matchable && total(o_new) > 0;
                    if m_old == m_new {
                        if self.wants(m_new) {
                            singles.extend(ds.iter().map(|(r, c)| row(r, *c)));
                        }
                    } else {
                        if self.wants(m_old) {
                            singles.extend(s_old.iter().map(|(r, c)| row(r, -c)));
                        }
                        if self.wants(m_new) {
                            singles.extend(s_new.iter().map(|(r, c)| row(r, *c)));
                        }
                    }
                } else {
                    // Each row's partner status under the extra condition, before and after.
                    for (rows, others, new) in [(s_old, o_old, false), (s_new, o_new, true)] {
                        for (r, c) in rows {
                            let c = if new { *c } else { -c };
                            for (o, _) in others {
                                let pair = if is_left {
                                    (Some(r.as_slice()), Some(o.as_slice()), c)
                                } else {
                                    (Some(o.as_slice()), Some(r.as_slice()), c)
                                };
                                status_checks.push((pair, is_left, new));
                            }
                            // A row with no candidate partner at all is unmatched.
                            status_checks.push((row(r, c), is_left, new));
                        }
                    }
                }
            }
        }
        let mut out: Vec<Out> = self.filter_pairs(candidates)?;
        out.extend(singles);
        out.extend(self.resolve_status(status_checks)?);
        // Arrange the changes for later steps.
        self.arrange(cx, &work)?;
        out.retain(|(_, _, w)| *w != 0);
        if out.is_empty() {
            return Ok(None);
        }
        self.output(&out).map(Some)
    }

    fn explain(&self, depth: usize, out: &mut Vec<String>) {
        let lk: Vec<String> = self.left_keys.iter().map(|e| e.to_string()).collect();
        let rk: Vec<String> = self.right_keys.iter().map(|e| e.to_string()).collect();
        let filter = self
            .filter
            .as_ref()
            .map(|f| format!(" filter {f}"))
            .unwrap_or_default();
        let kind = if self.null_aware.is_some() {
            "NotIn".to_string()
        } else {
            format!("{:?}", self.kind)
        };
        out.push(line(
            depth,
            format!(
                "Join {kind} on [{}] = [{}]{filter} state: left rows by key (id {}), right rows by \
                 key (id {})",
                lk.join(", "),
                rk.join(", "),
                self.left_id,
                self.right_id
            ),
        ));
        self.left.explain(depth + 1, out);
        self.right.explain(depth + 1, out);
    }
}

impl Join {
    /// `NOT IN`: per-key anti-join semantics while the right side is non-empty and NULL-free;
    /// when a change flips the right side between empty, holding a NULL, and neither, every
    /// left row's answer changes, so the whole output is recomputed (rare, O(left + keys)).
    fn step_not_in(
        &self,
        cx: &mut StepCx,
        work: BTreeMap<Vec<u8>, KeyWork>,
        counters: TableId,
    ) -> Result<Option<ZBatch>> {
        let total_key = state_key(counters, &[], b"total");
        let nulls_key = state_key(counters, &[], b"nulls");
        let get = |cx: &StepCx, k: &[u8]| -> Result<i64> {
            Ok(cx
                .state
                .get(k)?
                .map(|v| crate::state::decode_i64(&v))
                .unwrap_or(0))
        };
        let (total_old, nulls_old) = (get(cx, &total_key)?, get(cx, &nulls_key)?);
        let dr_total: i64 = work.values().flat_map(|w| &w.dr).map(|(_, c)| c).sum();
        let dr_nulls: i64 = work
            .values()
            .filter(|w| w.has_null)
            .flat_map(|w| &w.dr)
            .map(|(_, c)| c)
            .sum();
        let mode_old = not_in_mode(total_old, nulls_old);
        let mode_new = not_in_mode(total_old + dr_total, nulls_old + dr_nulls);
        let mut owned: Vec<(Vec<u8>, i64)> = vec![];
        if mode_old == mode_new {
            for (k, w) in &work {
                match mode_new {
                    NotIn::Empty => owned.extend(w.dl.iter().cloned()),
                    NotIn::HasNull => {}
                    NotIn::Keys if w.has_null => {}
                    NotIn::Keys => {
                        let r_old = self.load(&*cx.state, self.right_id, k)?;
                        let r_new = merged(&r_old, &w.dr);
                        let (m_old, m_new) = (total(&r_old) > 0, total(&r_new) > 0);
                        if m_old == m_new {
                            if !m_new {
                                owned.extend(w.dl.iter().cloned());
                            }
                        } else {
                            let l_old = self.load(&*cx.state, self.left_id, k)?;
                            if !m_old {
                                owned.extend(l_old.iter().map(|(r, c)| (r.clone(), -c)));
                            }
                            if !m_new {
                                owned.extend(merged(&l_old, &w.dl));
                            }
                        }
                    }
                }
            }
            self.arrange(cx, &work)?;
        } else {
            for (r, c) in self.not_in_all(cx, mode_old)? {
                owned.push((r, -c));
            }
            self.arrange(cx, &work)?;
            owned.extend(self.not_in_all(cx, mode_new)?);
        }
        cx.state.add_count(total_key, dr_total)?;
        cx.state.add_count(nulls_key, dr_nulls)?;
        let out: Vec<Out> = owned
            .iter()
            .filter(|(_, c)| *c != 0)
            .map(|(r, c)| (Some(r.as_slice()), None, *c))
            .collect();
        if out.is_empty() {
            return Ok(None);
        }
        self.output(&out).map(Some)
    }

    /// Every left row `NOT IN` outputs under `mode` and the current state.
    fn not_in_all(&self, cx: &StepCx, mode: NotIn) -> Result<Rows> {
        if mode == NotIn::HasNull {
            return Ok(vec![]);
        }
        let mut by_key: BTreeMap<Vec<u8>, Rows> = BTreeMap::new();
        cx.state
            .scan_prefix(&eddy_storage::table_prefix(self.left_id), |k, v| {
                let len = u32::from_be_bytes(k[6..10].try_into().expect("4 bytes")) as usize;
                by_key
                    .entry(k[10..10 + len].to_vec())
                    .or_default()
                    .push((k[10 + len..].to_vec(), crate::state::decode_i64(v)));
                Ok(true)
            })?;
        let mut out = vec![];
        for (key, rows) in by_key {
            let keep = match mode {
                NotIn::Empty => true,
                _ => {
                    let null_key = self
                        .key_conv
                        .convert_rows([self.key_conv.parser().parse(&key)])?
                        .iter()
                        .any(|a| a.is_null(0));
                    !null_key && total(&self.load(&*cx.state, self.right_id, &key)?) == 0
                }
            };
            if keep {
                out.extend(rows);
            }
        }
        Ok(out)
    }

    fn arrange(&self, cx: &mut StepCx, work: &BTreeMap<Vec<u8>, KeyWork>) -> Result<()> {
        let entries: Vec<(&Vec<u8>, &KeyWork)> = work.iter().collect();
        crate::parallel::sharded(
            cx.state,
            cx.parallel,
            entries,
            |e| e.0.as_slice(),
            |st, part| {
                for (k, w) in part {
                    for (r, c) in &w.dl {
                        st.add_count(state_key(self.left_id, k, r), *c)?;
                    }
                    for (r, c) in &w.dr {
                        st.add_count(state_key(self.right_id, k, r), *c)?;
                    }
                }
                Ok(Vec::<()>::new())
            },
        )?;
        Ok(())
    }

    fn decode(conv: &RowConverter, rows: &[Option<&[u8]>]) -> Result<Vec<ArrayRef>> {
        let parser = conv.parser();
        let present: Vec<_> = rows.iter().flatten().map(|r| parser.parse(r)).collect();
        let arrays = conv.convert_rows(present)?;
        let mut next = 0u32;
        let idx: UInt32Array = rows
            .iter()
            .map(|r| {
                r.map(|_| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        Ok(arrays
            .iter()
            .map(|a| take(a, &idx, None))
            .collect::<std::result::Result<Vec<_>, _>>()?)
    }

    fn pair_batch(&self, pairs: &[Out]) -> Result<RecordBatch> {
        let l: Vec<_> = pairs.iter().map(|p| p.0).collect();
        let r: Vec<_> = pairs.iter().map(|p| p.1).collect();
        let mut cols = Self::decode(&self.left_conv, &l)?;
        cols.extend(Self::decode(&self.right_conv, &r)?);
        rebatch_columns(&self.pair_schema, cols, pairs.len())
    }

    fn filter_pairs<'a>(&self, pairs: Vec<Out<'a>>) -> Result<Vec<Out<'a>>> {
        let Some(f) = &self.filter else {
            return Ok(pairs);
        };
        if pairs.is_empty() {
            return Ok(pairs);
        }
        let batch = self.pair_batch(&pairs)?;
        let mask = f.evaluate(&batch)?.into_array(batch.num_rows())?;
        let mask = mask.as_boolean();
        Ok(pairs
            .into_iter()
            .enumerate()
            .filter(|(i, _)| mask.is_valid(*i) && mask.value(*i))
            .map(|(_, p)| p)
            .collect())
    }

    /// Turns (candidate pair | lone row) checks into the rows whose status is wanted: a row is
    /// matched when some candidate pair with it passes the extra condition.
    fn resolve_status<'a>(&self, checks: Vec<(Out<'a>, bool, bool)>) -> Result<Vec<Out<'a>>> {
        if checks.is_empty() {
            return Ok(vec![]);
        }
        let pairs: Vec<Out> = checks
            .iter()
            .filter(|(o, _, _)| o.0.is_some() && o.1.is_some())
            .map(|(o, _, _)| *o)
            .collect();
        let passed: Vec<bool> = if pairs.is_empty() {
            vec![]
        } else {
            let batch = self.pair_batch(&pairs)?;
            let f = self.filter.as_ref().expect("status checks need a filter");
            let mask = f.evaluate(&batch)?.into_array(batch.num_rows())?;
            let mask = mask.as_boolean();
            (0..pairs.len())
                .map(|i| mask.is_valid(i) && mask.value(i))
                .collect()
        };
        // Walk the checks in order: each row's pairs come just before its lone entry.
        let mut out = vec![];
        let mut matched = false;
        let mut p = 0;
        for (o, is_left, _) in checks {
            if o.0.is_some() && o.1.is_some() {
                matched |= passed[p];
                p += 1;
                continue;
            }
            if self.wants(matched) {
                let _ = is_left;
                out.push(o);
            }
            matched = false;
        }
        Ok(out)
    }

    fn output(&self, out: &[Out]) -> Result<ZBatch> {
        let l: Vec<_> = out.iter().map(|p| p.0).collect();
        let mut cols = Self::decode(&self.left_conv, &l)?;
        if matches!(self.kind, JoinKind::Semi | JoinKind::Anti) {
            let rows = rebatch_columns(&self.schema, cols, out.len())?;
            return Ok(ZBatch::new(rows, out.iter().map(|p| p.2).collect()));
        }
        let r: Vec<_> = out.iter().map(|p| p.1).collect();
        cols.extend(Self::decode(&self.right_conv, &r)?);
        let rows = rebatch_columns(&self.schema, cols, out.len())?;
        Ok(ZBatch::new(rows, out.iter().map(|p| p.2).collect()))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::row::SortField;
    use datafusion::common::DFSchema;
    use datafusion::physical_expr::expressions::col;

    use super::*;
    use crate::sources::Scan;
    use crate::testkit::{Epochs, lines, pretty, schema};

    fn left_join() -> Join {
        let l = schema("k:int64 x:utf8");
        let r = schema("k:int64 y:utf8");
        let conv = |s: &SchemaRef| {
            RowConverter::new(
                s.fields()
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )
            .unwrap()
        };
        let pair = DFSchema::try_from_qualified_schema("l", &l)
            .unwrap()
            .join(&DFSchema::try_from_qualified_schema("r", &r).unwrap())
            .unwrap();
        let out = Arc::new(pair.as_arrow().clone());
        Join {
            left: Box::new(Scan {
                id: 1,
                name: "l".into(),
                projection: None,
                schema: l.clone(),
            }),
            right: Box::new(Scan {
                id: 2,
                name: "r".into(),
                projection: None,
                schema: r.clone(),
            }),
            left_keys: vec![col("k", &l).unwrap()],
            right_keys: vec![col("k", &r).unwrap()],
            key_types: vec![DataType::Int64],
            key_conv: RowConverter::new(vec![SortField::new(DataType::Int64)]).unwrap(),
            left_conv: conv(&l),
            right_conv: conv(&r),
            filter: None,
            pair_schema: out.clone(),
            kind: JoinKind::Left,
            nulls_equal: false,
            left_id: 10,
            right_id: 11,
            null_aware: None,
            schema: out,
        }
    }

    #[test]
    fn left_join_pads_and_unpads_as_partners_come_and_go() {
        let j = left_join();
        let (l, r) = (schema("k:int64 x:utf8"), schema("k:int64 y:utf8"));
        let e = Epochs::new("join-left");
        let out = e.step(&j, vec![(1, pretty(&l, "+1 1 a\n+1 NULL n"))]);
        assert_eq!(lines(&out), ["+1 1 a NULL NULL", "+1 NULL n NULL NULL"]);
        // a partner arrives: the padded row is retracted
        let out = e.step(&j, vec![(2, pretty(&r, "+1 1 b\n+1 NULL m"))]);
        assert_eq!(lines(&out), ["+1 1 a 1 b", "-1 1 a NULL NULL"]);
        // both sides change in one epoch
        let out = e.step(
            &j,
            vec![(1, pretty(&l, "+1 1 c")), (2, pretty(&r, "-1 1 b\n+1 1 d"))],
        );
        assert_eq!(lines(&out), ["+1 1 a 1 d", "+1 1 c 1 d", "-1 1 a 1 b"]);
        // the last partner goes: rows are padded again
        let out = e.step(&j, vec![(2, pretty(&r, "-1 1 d"))]);
        assert_eq!(
            lines(&out),
            [
                "+1 1 a NULL NULL",
                "+1 1 c NULL NULL",
                "-1 1 a 1 d",
                "-1 1 c 1 d"
            ]
        );
    }
}
