//! Correlated subqueries DataFusion cannot decorrelate, run as PostgreSQL runs them: once per
//! distinct set of outer values (a nested-loop "apply").
//!
//! DataFusion turns a correlated subquery into a join when its correlation is a plain equality;
//! otherwise (`x = ANY(outer.arr)`, `inner.a <> outer.b`, `FROM unnest(outer.arr)`, ...) the
//! subquery survives optimization and physical planning refuses it. Catalog queries of psql
//! and BI tools are full of those. This planner replaces each surviving subquery by a function
//! of the outer columns it reads; the function plans the subquery with those values as
//! literals and runs it. It costs a plan per distinct outer row, so it is used only where
//! nothing faster exists.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DataFusionError, Result, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Subquery, TypeSignature, Volatility,
};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};

#[derive(Debug, Default)]
pub struct ApplyPlanner;

#[async_trait]
impl QueryPlanner for ApplyPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let session_state = session
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("not a SessionState".into()))?;
        let plan = apply_subqueries(logical_plan.clone(), session_state)?;
        DefaultPhysicalPlanner::default()
            .create_physical_plan(&plan, session_state)
            .await
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Scalar,
    Exists { negated: bool },
}

/// Subqueries that unnest an outer column (`FROM unnest(outer.arr)`) go to the apply form
/// before optimization: DataFusion's decorrelation turns them into joins that still read the
/// outer column, which no physical plan can run.
pub fn apply_unnest_subqueries(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    fn unnests(p: &LogicalPlan) -> bool {
        let mut found = false;
        let _ = p.apply_with_subqueries(|n| {
            found |= matches!(n, LogicalPlan::Unnest(_));
            Ok(if found {
                datafusion::common::tree_node::TreeNodeRecursion::Stop
            } else {
                datafusion::common::tree_node::TreeNodeRecursion::Continue
            })
        });
        found
    }
    rewrite_subqueries(plan, state, &|sq: &Subquery| {
        !sq.outer_ref_columns.is_empty() && unnests(&sq.subquery)
    })
}

fn apply_subqueries(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan> {
    rewrite_subqueries(plan, state, &|_| true)
}

fn rewrite_subqueries(
    plan: LogicalPlan,
    state: &SessionState,
    which: &dyn Fn(&Subquery) -> bool,
) -> Result<LogicalPlan> {
    let out = plan.transform_up(|node| {
        node.map_expressions(|e| {
            e.transform_up(|e| {
                let (sq, kind) = match &e {
                    Expr::ScalarSubquery(sq) => (sq, Kind::Scalar),
                    Expr::Exists(x) => (&x.subquery, Kind::Exists { negated: x.negated }),
                    _ => return Ok(Transformed::no(e)),
                };
                if !which(sq) {
                    return Ok(Transformed::no(e));
                }
                Ok(Transformed::yes(apply_call(sq, kind, state)?))
            })
        })
    })?;
    Ok(out.data)
}

fn apply_call(sq: &Subquery, kind: Kind, state: &SessionState) -> Result<Expr> {
    let mut outer = vec![];
    let mut args = vec![];
    for e in &sq.outer_ref_columns {
        if let Expr::OuterReferenceColumn(_, c) = e
            && !outer.contains(c)
        {
            outer.push(c.clone());
            args.push(Expr::Column(c.clone()));
        }
    }
    let ret = match kind {
        Kind::Scalar => sq.subquery.schema().field(0).data_type().clone(),
        Kind::Exists { .. } => DataType::Boolean,
    };
    let udf = ScalarUDF::new_from_impl(Apply {
        subquery: sq.subquery.clone(),
        outer,
        kind,
        ret,
        state: Box::new(state.clone()),
        signature: Signature::one_of(
            vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
            Volatility::Volatile,
        ),
    });
    Ok(udf.call(args))
}

struct Apply {
    subquery: Arc<LogicalPlan>,
    outer: Vec<Column>,
    kind: Kind,
    ret: DataType,
    state: Box<SessionState>,
    signature: Signature,
}

impl std::fmt::Debug for Apply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subquery({:?})", self.kind)
    }
}

impl PartialEq for Apply {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.subquery, &other.subquery) && self.kind == other.kind
    }
}

impl Eq for Apply {}

impl Hash for Apply {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.subquery) as usize).hash(state);
        self.kind.hash(state);
    }
}

impl Apply {
    /// The subquery's answer for one set of outer values.
    fn run(&self, values: &[ScalarValue]) -> Result<ScalarValue> {
        let plan = (*self.subquery)
            .clone()
            .transform_up_with_subqueries(|node| {
                // The planner marks a correlated subquery's plan with a Subquery node; with its
                // outer values filled in it is an ordinary plan.
                let node = match node {
                    LogicalPlan::Subquery(sq) => Arc::unwrap_or_clone(sq.subquery),
                    other => other,
                };
                node.map_expressions(|e| {
                    e.transform_up(|e| match &e {
                        Expr::OuterReferenceColumn(_, c) => {
                            match self.outer.iter().position(|o| o == c) {
                                Some(i) => {
                                    Ok(Transformed::yes(Expr::Literal(values[i].clone(), None)))
                                }
                                None => Ok(Transformed::no(e)),
                            }
                        }
                        _ => Ok(Transformed::no(e)),
                    })
                })
            })?;
        let state = self.state.clone();
        let plan = plan.data;
        // The function runs inside a query on the runtime's worker; the subquery is a query of
        // its own, so this worker steps aside while it runs.
        let batches = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async move {
                let physical = state.create_physical_plan(&plan).await?;
                collect(physical, state.task_ctx()).await
            })
        })?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        match self.kind {
            Kind::Exists { negated } => Ok(ScalarValue::Boolean(Some((rows > 0) != negated))),
            Kind::Scalar => match rows {
                0 => ScalarValue::try_from(&self.ret),
                1 => {
                    let b = batches.iter().find(|b| b.num_rows() > 0).expect("one row");
                    ScalarValue::try_from_array(b.column(0), 0)
                }
                _ => Err(DataFusionError::External(Box::new(
                    eddy_common::Error::new(
                        eddy_common::SqlState::CARDINALITY_VIOLATION,
                        "more than one row returned by a subquery used as an expression",
                    ),
                ))),
            },
        }
    }
}

impl ScalarUDFImpl for Apply {
    fn name(&self) -> &str {
        "subquery"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.is_empty() {
            return Ok(ColumnarValue::Scalar(self.run(&[])?));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut seen: HashMap<Vec<ScalarValue>, ScalarValue> = HashMap::new();
        let mut out = Vec::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            let key: Vec<ScalarValue> = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, i))
                .collect::<Result<_>>()?;
            let v = match seen.get(&key) {
                Some(v) => v.clone(),
                None => {
                    let v = self.run(&key)?;
                    seen.insert(key, v.clone());
                    v
                }
            };
            out.push(v);
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(
                datafusion::arrow::array::new_empty_array(&self.ret),
            ));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}
