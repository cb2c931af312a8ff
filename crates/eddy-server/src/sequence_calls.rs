//! A session's sequence functions: `nextval`, `currval`, `lastval` and `setval`, and the
//! session's memory of the values it took, which `currval` and `lastval` read.
//!
//! Column defaults hold the catalog's `nextval`, which remembers nothing; a statement's plan
//! gets the session's instead (`in_session`), so `INSERT` into a `serial` column followed by
//! `currval` works as in PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarUDF, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;
use eddy_catalog::sequences::{NextVal, Sequences, SessionSequences};
use eddy_common::{Error, Result, SqlState, TableId};

/// The last value the session took from each sequence, and from any.
#[derive(Default)]
pub struct Memory {
    taken: Mutex<(HashMap<TableId, i64>, Option<i64>)>,
}

impl SessionSequences for Memory {
    fn took(&self, id: TableId, value: i64) {
        let mut t = self.taken.lock().expect("sequence memory");
        t.0.insert(id, value);
        t.1 = Some(value);
    }
}

fn df(e: Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// The sequence an argument names: its text name or OID.
fn sequence_id(sequences: &Sequences, arg: &ScalarValue) -> Result<Option<TableId>> {
    if arg.is_null() {
        return Ok(None);
    }
    let name = match arg {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
        other => other.to_string(),
    };
    if let Ok(oid) = name.parse::<u32>() {
        return match sequences.def(oid) {
            Some(_) => Ok(Some(oid)),
            None => Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("could not open relation with OID {oid}"),
            )),
        };
    }
    match sequences.by_name(&name) {
        Some(d) => Ok(Some(d.id)),
        None => Err(Error::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )),
    }
}

/// Every row's values of a call's arguments, for functions that take scalars in practice.
fn rows_of(args: &[ColumnarValue]) -> datafusion::common::Result<(usize, Vec<Vec<ScalarValue>>)> {
    let n = args
        .iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            ColumnarValue::Scalar(_) => None,
        })
        .unwrap_or(1);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = Vec::with_capacity(args.len());
        for a in args {
            row.push(match a {
                ColumnarValue::Scalar(s) => s.clone(),
                ColumnarValue::Array(a) => ScalarValue::try_from_array(a.as_ref(), i)?,
            });
        }
        rows.push(row);
    }
    Ok((n, rows))
}

fn int64_result(
    scalar: bool,
    values: Vec<Option<i64>>,
) -> datafusion::common::Result<ColumnarValue> {
    if scalar && values.len() == 1 {
        return Ok(ColumnarValue::Scalar(ScalarValue::Int64(values[0])));
    }
    Ok(ColumnarValue::Array(Arc::new(
        datafusion::arrow::array::Int64Array::from(values),
    )))
}

/// Registers the sequence functions on a session; returns its `nextval`, which
/// [`in_session`] puts in place of the one column defaults hold.
pub fn register(
    ctx: &SessionContext,
    sequences: Arc<Sequences>,
    memory: Arc<Memory>,
) -> Arc<ScalarUDF> {
    let nextval = Arc::new(NextVal::udf(sequences.clone(), Some(memory.clone())));
    ctx.register_udf(nextval.as_ref().clone());
    let (seqs, mem) = (sequences.clone(), memory.clone());
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "currval",
        Signature::any(1, Volatility::Volatile),
        DataType::Int64,
        Arc::new(move |args| {
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let (_, rows) = rows_of(args)?;
            let mut out = vec![];
            for row in rows {
                let Some(id) = sequence_id(&seqs, &row[0]).map_err(df)? else {
                    out.push(None);
                    continue;
                };
                let taken = mem
                    .taken
                    .lock()
                    .expect("sequence memory")
                    .0
                    .get(&id)
                    .copied();
                let Some(v) = taken else {
                    let name = seqs.def(id).map(|d| d.name).unwrap_or_default();
                    return Err(df(Error::new(
                        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        format!(
                            "currval of sequence \"{name}\" is not yet defined in this session"
                        ),
                    )));
                };
                out.push(Some(v));
            }
            int64_result(scalar, out)
        }),
    ));
    let mem = memory.clone();
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "lastval",
        Signature::nullary(Volatility::Volatile),
        DataType::Int64,
        Arc::new(
            move |_| match mem.taken.lock().expect("sequence memory").1 {
                Some(v) => Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))),
                None => Err(df(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "lastval is not yet defined in this session",
                ))),
            },
        ),
    ));
    let (seqs, mem) = (sequences, memory);
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "setval",
        Signature::one_of(
            vec![TypeSignature::Any(2), TypeSignature::Any(3)],
            Volatility::Volatile,
        ),
        DataType::Int64,
        Arc::new(move |args| {
            let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let (_, rows) = rows_of(args)?;
            let mut out = vec![];
            for row in rows {
                let Some(id) = sequence_id(&seqs, &row[0]).map_err(df)? else {
                    out.push(None);
                    continue;
                };
                let value = match row[1].cast_to(&DataType::Int64)? {
                    ScalarValue::Int64(Some(v)) => v,
                    _ => {
                        out.push(None);
                        continue;
                    }
                };
                let is_called = match row.get(2) {
                    None => true,
                    Some(ScalarValue::Boolean(Some(b))) => *b,
                    Some(_) => {
                        out.push(None);
                        continue;
                    }
                };
                seqs.set(id, value, is_called).map_err(df)?;
                if is_called {
                    mem.took(id, value);
                }
                out.push(Some(value));
            }
            int64_result(scalar, out)
        }),
    ));
    nextval
}

/// The expression with every `nextval` call made the session's.
pub fn expr_in_session(e: Expr, nextval: &Arc<ScalarUDF>) -> datafusion::common::Result<Expr> {
    e.transform_up(|e| match e {
        Expr::ScalarFunction(mut f) if f.name() == "nextval" && !Arc::ptr_eq(&f.func, nextval) => {
            f.func = nextval.clone();
            Ok(Transformed::yes(Expr::ScalarFunction(f)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// The plan with every `nextval` call (a column default's among them) made the session's.
pub fn in_session(plan: LogicalPlan, nextval: &Arc<ScalarUDF>) -> Result<LogicalPlan> {
    let calls = |e: &Expr| {
        e.exists(|e| Ok(matches!(e, Expr::ScalarFunction(f) if f.name() == "nextval")))
            .unwrap_or(false)
    };
    let mut any = false;
    plan.apply(|node| {
        node.apply_expressions(|e| {
            any |= calls(e);
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })
    })?;
    if !any {
        return Ok(plan);
    }
    Ok(plan
        .transform_up(|node| {
            node.map_expressions(|e| expr_in_session(e, nextval).map(Transformed::yes))
        })?
        .data)
}
