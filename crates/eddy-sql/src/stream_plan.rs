//! The streaming planner: an optimized DataFusion `LogicalPlan` becomes a tree of incremental
//! operators. Every plan node maps to an operator or is refused with SQLSTATE 0A000 naming the
//! construct: there is no silent fallback to recomputation.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, NullEquality, TableReference};
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Distinct, Expr, ExprSchemable, FetchType, JoinType, LogicalPlan, LogicalPlanBuilder, SkipType,
    SortExpr, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition,
    expr::AggregateFunction,
};
use datafusion::physical_expr::{PhysicalExpr, create_physical_expr};
use datafusion::prelude::lit;
use eddy_common::{Error, Result, TableId};
use eddy_dataflow::Operator;
use eddy_dataflow::aggregate::{AggKind, AggSpec, Aggregate};
use eddy_dataflow::join::{Join, JoinKind};
use eddy_dataflow::map::Map;
use eddy_dataflow::sources::{Constant, Rename, Scan, Union};
use eddy_dataflow::topn::TopN;
use eddy_dataflow::window::{WinFunc, WinSpec, Window};

use crate::numeric_ops::AggFn;

/// Deepest plan the planner walks; deeper ones are refused rather than risking the stack.
const PLAN_DEPTH_MAX: usize = 128;

pub struct Compiler<'a> {
    resolve: &'a dyn Fn(&TableReference) -> Option<TableId>,
    next_state: TableId,
    /// Tables and views the plan reads.
    pub inputs: BTreeSet<TableId>,
    props: ExecutionProps,
    depth: usize,
}

impl<'a> Compiler<'a> {
    /// `first_state` is the first id handed to operators' state tables.
    pub fn new(
        resolve: &'a dyn Fn(&TableReference) -> Option<TableId>,
        first_state: TableId,
    ) -> Self {
        Compiler {
            resolve,
            next_state: first_state,
            inputs: BTreeSet::new(),
            props: ExecutionProps::new(),
            depth: 0,
        }
    }

    /// The next state id the compiler would hand out: after compiling, the end of the range.
    pub fn next_state(&self) -> TableId {
        self.next_state
    }

    fn state_id(&mut self) -> TableId {
        self.next_state += 1;
        self.next_state - 1
    }

    pub fn compile(&mut self, plan: &LogicalPlan) -> Result<Box<dyn Operator>> {
        self.depth += 1;
        if self.depth > PLAN_DEPTH_MAX {
            return Err(Error::unsupported(
                "a materialized view query nested this deeply",
            ));
        }
        let r = self.node(plan);
        self.depth -= 1;
        r
    }

    fn phys(&self, e: &Expr, schema: &DFSchema) -> Result<Arc<dyn PhysicalExpr>> {
        check_expr(e)?;
        Ok(create_physical_expr(
            e,
            schema,
            &self.props,
            &PhysicalPlanningContext::default(),
        )?)
    }

    fn node(&mut self, plan: &LogicalPlan) -> Result<Box<dyn Operator>> {
        Ok(match plan {
            LogicalPlan::Projection(p) => {
                let exprs = p
                    .expr
                    .iter()
                    .map(|e| self.phys(e, p.input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                Box::new(Map {
                    input: self.compile(&p.input)?,
                    predicate: None,
                    exprs: Some(exprs),
                    schema: arrow_schema(&p.schema),
                })
            }
            LogicalPlan::Filter(f) if let Some((w, n)) = row_number_limit(f) => Box::new(Map {
                predicate: Some(self.phys(&f.predicate, f.input.schema())?),
                input: self.window(w, Some(n))?,
                exprs: None,
                schema: arrow_schema(f.input.schema()),
            }),
            LogicalPlan::Filter(f) => Box::new(Map {
                predicate: Some(self.phys(&f.predicate, f.input.schema())?),
                input: self.compile(&f.input)?,
                exprs: None,
                schema: arrow_schema(f.input.schema()),
            }),
            LogicalPlan::TableScan(s) => {
                if s.fetch.is_some() {
                    return Err(Error::unsupported("LIMIT in a materialized view"));
                }
                // The planner found it, so what the catalog does not own is a table function
                // or a system table, whose rows no commit maintains.
                let id = (self.resolve)(&s.table_name).ok_or_else(|| {
                    Error::unsupported(format!(
                        "reading {} in a materialized view (only tables and materialized views \
                         feed one)",
                        s.table_name
                    ))
                })?;
                self.inputs.insert(id);
                Box::new(Scan {
                    id,
                    name: s.table_name.to_string(),
                    projection: s.projection.clone(),
                    schema: arrow_schema(&s.projected_schema),
                })
            }
            LogicalPlan::SubqueryAlias(a) => Box::new(Rename {
                input: self.compile(&a.input)?,
                schema: arrow_schema(&a.schema),
            }),
            LogicalPlan::Union(u) => Box::new(Union {
                inputs: u
                    .inputs
                    .iter()
                    .map(|i| self.compile(i))
                    .collect::<Result<_>>()?,
                schema: arrow_schema(&u.schema),
            }),
            LogicalPlan::Aggregate(a) => self.aggregate(
                &a.input,
                &a.group_expr,
                &a.aggr_expr,
                arrow_schema(&a.schema),
            )?,
            LogicalPlan::Distinct(Distinct::All(input)) => {
                let groups: Vec<Expr> = input
                    .schema()
                    .columns()
                    .into_iter()
                    .map(Expr::Column)
                    .collect();
                self.aggregate(input, &groups, &[], arrow_schema(input.schema()))?
            }
            LogicalPlan::Distinct(Distinct::On(_)) => {
                return Err(Error::unsupported("DISTINCT ON in a materialized view"));
            }
            LogicalPlan::Join(j) => self.join(j)?,
            // A view is a set: ORDER BY without LIMIT does not change its content.
            LogicalPlan::Sort(s) if s.fetch.is_none() => self.compile(&s.input)?,
            LogicalPlan::Sort(s) => self.top_n(&s.expr, &s.input, 0, s.fetch)?,
            LogicalPlan::Limit(l) => {
                let skip = match l.get_skip_type()? {
                    SkipType::Literal(n) => n,
                    _ => {
                        return Err(Error::unsupported(
                            "a non-constant OFFSET in a materialized view",
                        ));
                    }
                };
                let fetch = match l.get_fetch_type()? {
                    FetchType::Literal(f) => f,
                    _ => {
                        return Err(Error::unsupported(
                            "a non-constant LIMIT in a materialized view",
                        ));
                    }
                };
                match l.input.as_ref() {
                    LogicalPlan::Sort(s) => self.top_n(&s.expr, &s.input, skip, fetch)?,
                    _ => {
                        return Err(Error::unsupported(
                            "LIMIT without ORDER BY in a materialized view (its rows would be \
                             arbitrary)",
                        ));
                    }
                }
            }
            LogicalPlan::Values(v) => {
                let schema = arrow_schema(&v.schema);
                let one = RecordBatch::try_new_with_options(
                    Arc::new(Schema::empty()),
                    vec![],
                    &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
                )?;
                let mut cols = vec![vec![]; schema.fields().len()];
                for row in &v.values {
                    for (j, e) in row.iter().enumerate() {
                        let pe = self.phys(e, &DFSchema::empty())?;
                        cols[j].push(pe.evaluate(&one)?.into_array(1)?);
                    }
                }
                let cols = cols
                    .into_iter()
                    .zip(schema.fields())
                    .map(|(parts, f)| {
                        let refs: Vec<&dyn datafusion::arrow::array::Array> =
                            parts.iter().map(|a| a.as_ref()).collect();
                        let a = datafusion::arrow::compute::concat(&refs)?;
                        Ok(datafusion::arrow::compute::cast(&a, f.data_type())?)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Box::new(Constant {
                    rows: eddy_dataflow::zset::rebatch_columns(&schema, cols, v.values.len())?,
                    schema,
                })
            }
            LogicalPlan::EmptyRelation(e) => {
                let schema = arrow_schema(&e.schema);
                let n = usize::from(e.produce_one_row);
                let rows = RecordBatch::try_new_with_options(
                    schema.clone(),
                    schema
                        .fields()
                        .iter()
                        .map(|f| datafusion::arrow::array::new_null_array(f.data_type(), n))
                        .collect(),
                    &datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
                )?;
                Box::new(Constant { rows, schema })
            }
            LogicalPlan::Window(w) => self.window(w, None)?,
            other => {
                let name = other.display().to_string();
                let name = name
                    .split(':')
                    .next()
                    .unwrap_or("this plan node")
                    .to_string();
                return Err(Error::unsupported(format!("{name} in a materialized view")));
            }
        })
    }

    fn aggregate(
        &mut self,
        input: &Arc<LogicalPlan>,
        group_expr: &[Expr],
        aggr_expr: &[Expr],
        schema: SchemaRef,
    ) -> Result<Box<dyn Operator>> {
        let in_schema = input.schema();
        let mut group_exprs = vec![];
        let mut group_fields = vec![];
        for g in group_expr {
            if matches!(g, Expr::GroupingSet(_)) {
                return Err(Error::unsupported(
                    "GROUPING SETS, CUBE and ROLLUP in a materialized view",
                ));
            }
            group_fields.push(SortField::new(g.get_type(in_schema)?));
            group_exprs.push(self.phys(g, in_schema)?);
        }
        let mut aggs = vec![];
        for (j, a) in aggr_expr.iter().enumerate() {
            let output = schema.field(group_expr.len() + j).data_type().clone();
            aggs.push(self.agg_spec(a, in_schema, output)?);
        }
        let group_conv = if group_fields.is_empty() {
            None
        } else {
            Some(RowConverter::new(group_fields)?)
        };
        let acc_id = self.state_id();
        let vals_id = self.state_id();
        Ok(Box::new(Aggregate {
            input: self.compile(input)?,
            group_exprs,
            group_conv,
            aggs,
            acc_id,
            vals_id,
            schema,
        }))
    }

    fn agg_spec(&self, e: &Expr, in_schema: &DFSchema, output: DataType) -> Result<AggSpec> {
        let inner = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            other => other,
        };
        let Expr::AggregateFunction(AggregateFunction { func, params }) = inner else {
            return Err(Error::unsupported(format!("aggregate expression {e}")));
        };
        let name = func.name().to_lowercase();
        let ordered_ok = matches!(name.as_str(), "string_agg" | "array_agg");
        if !params.order_by.is_empty() && !ordered_ok {
            return Err(Error::unsupported(format!(
                "{name}(... ORDER BY ...) in a materialized view"
            )));
        }
        let arg = params.args.first();
        let arg_type = arg.map(|a| a.get_type(in_schema)).transpose()?;
        let unsupported = || {
            Error::unsupported(format!(
                "aggregate {name}{} in a materialized view",
                if params.distinct { " (DISTINCT)" } else { "" }
            ))
        };
        let max_args = if name == "string_agg" { 2 } else { 1 };
        if params.args.len() > max_args {
            return Err(unsupported());
        }
        let delimiter = match params.args.get(1) {
            Some(Expr::Literal(v, _)) if name == "string_agg" => {
                match v.cast_to(&DataType::Utf8)? {
                    datafusion::common::ScalarValue::Utf8(d) => Some(d.unwrap_or_default()),
                    _ => return Err(unsupported()),
                }
            }
            Some(_) => return Err(unsupported()),
            None => None,
        };
        let numeric = crate::numeric_ops::AggFn::from_name(&name);
        let kind = match (name.as_str(), params.distinct, &arg_type) {
            (_, false, Some(_)) if numeric.is_some() => match numeric.expect("checked") {
                AggFn::Sum => AggKind::SumNumeric,
                AggFn::Avg => AggKind::AvgNumeric,
                AggFn::Var { sample, sqrt } => AggKind::VarNumeric { sample, sqrt },
            },
            ("count", false, _) => AggKind::Count,
            ("count", true, Some(_)) => AggKind::CountDistinct,
            ("sum", false, Some(t)) if t.is_integer() => AggKind::SumInt,
            ("sum", false, Some(t)) if t.is_floating() => AggKind::SumFloat,
            ("avg", false, Some(t)) if t.is_floating() || t.is_integer() => AggKind::AvgFloat,
            ("min", _, Some(_)) => AggKind::Min,
            ("max", _, Some(_)) => AggKind::Max,
            ("bool_and", false, Some(DataType::Boolean)) => AggKind::BoolAnd,
            ("bool_or", false, Some(DataType::Boolean)) => AggKind::BoolOr,
            ("string_agg", false, Some(_)) => AggKind::StringAgg,
            ("array_agg", false, Some(_)) => AggKind::ArrayAgg,
            ("stddev", false, Some(_)) => AggKind::Variance {
                sample: true,
                sqrt: true,
            },
            ("stddev_pop", false, Some(_)) => AggKind::Variance {
                sample: false,
                sqrt: true,
            },
            ("var", false, Some(_)) => AggKind::Variance {
                sample: true,
                sqrt: false,
            },
            ("var_pop", false, Some(_)) => AggKind::Variance {
                sample: false,
                sqrt: false,
            },
            _ => return Err(unsupported()),
        };
        let values = match (kind, &arg_type) {
            (
                AggKind::Min
                | AggKind::CountDistinct
                | AggKind::StringAgg
                | AggKind::ArrayAgg
                | AggKind::Variance { .. },
                Some(t),
            ) => Some(RowConverter::new(vec![SortField::new(t.clone())])?),
            (AggKind::Max, Some(t)) => Some(RowConverter::new(vec![SortField::new_with_options(
                t.clone(),
                SortOptions {
                    descending: true,
                    nulls_first: false,
                },
            )])?),
            _ => None,
        };
        Ok(AggSpec {
            kind,
            arg: arg.map(|a| self.phys(a, in_schema)).transpose()?,
            filter: params
                .filter
                .as_ref()
                .map(|f| self.phys(f, in_schema))
                .transpose()?,
            output,
            values,
            delimiter,
            order: if params.order_by.is_empty() {
                None
            } else {
                Some(self.sort_conv(&params.order_by, in_schema)?)
            },
            name: inner.schema_name().to_string(),
        })
    }

    fn sort_conv(
        &self,
        sort: &[SortExpr],
        schema: &DFSchema,
    ) -> Result<(Vec<Arc<dyn PhysicalExpr>>, RowConverter)> {
        let mut exprs = vec![];
        let mut fields = vec![];
        for s in sort {
            fields.push(SortField::new_with_options(
                s.expr.get_type(schema)?,
                SortOptions {
                    descending: !s.asc,
                    nulls_first: s.nulls_first,
                },
            ));
            exprs.push(self.phys(&s.expr, schema)?);
        }
        Ok((exprs, RowConverter::new(fields)?))
    }

    fn top_n(
        &mut self,
        sort: &[SortExpr],
        input: &Arc<LogicalPlan>,
        skip: usize,
        fetch: Option<usize>,
    ) -> Result<Box<dyn Operator>> {
        let (order_exprs, order_conv) = self.sort_conv(sort, input.schema())?;
        let state_id = self.state_id();
        Ok(Box::new(TopN {
            order_exprs,
            order_conv,
            row_conv: row_conv(input.schema())?,
            skip,
            fetch,
            state_id,
            schema: arrow_schema(input.schema()),
            input: self.compile(input)?,
        }))
    }

    fn window(
        &mut self,
        w: &datafusion::logical_expr::Window,
        limit: Option<usize>,
    ) -> Result<Box<dyn Operator>> {
        let in_schema = w.input.schema();
        let mut first: Option<(Vec<Expr>, Vec<SortExpr>)> = None;
        let mut specs = vec![];
        let n_in = in_schema.fields().len();
        for (j, e) in w.window_expr.iter().enumerate() {
            let inner = match e {
                Expr::Alias(a) => a.expr.as_ref(),
                other => other,
            };
            let Expr::WindowFunction(wf) = inner else {
                return Err(Error::unsupported(format!("window expression {e}")));
            };
            let p = &wf.params;
            let shape = (p.partition_by.clone(), p.order_by.clone());
            match &first {
                None => first = Some(shape),
                Some(f) if *f == shape => {}
                Some(_) => {
                    return Err(Error::unsupported(
                        "window functions with different PARTITION BY / ORDER BY in one query \
                         level of a materialized view",
                    ));
                }
            }
            let name = wf.fun.name().to_lowercase();
            let unsupported =
                || Error::unsupported(format!("window function {name} in a materialized view"));
            if p.filter.is_some() || p.distinct {
                return Err(unsupported());
            }
            let ordered = !p.order_by.is_empty();
            // The frames the operator computes: from the partition start to the current row's
            // last peer (RANGE ... CURRENT ROW, the default with ORDER BY), or the whole partition.
            let f = &p.window_frame;
            let from_start =
                matches!(&f.start_bound, WindowFrameBound::Preceding(v) if v.is_null());
            let to_end = matches!(&f.end_bound, WindowFrameBound::Following(v) if v.is_null());
            // GROUPS: a RANGE frame over numerics (see `numeric_plan`).
            let to_peer = matches!(f.units, WindowFrameUnits::Range | WindowFrameUnits::Groups)
                && matches!(f.end_bound, WindowFrameBound::CurrentRow);
            let default_frame = from_start && if ordered { to_peer } else { to_end || to_peer };
            let is_agg = matches!(wf.fun, WindowFunctionDefinition::AggregateUDF(_));
            let func = match name.as_str() {
                "row_number" if !is_agg => WinFunc::RowNumber,
                "rank" if !is_agg => WinFunc::Rank,
                "dense_rank" if !is_agg => WinFunc::DenseRank,
                "lag" | "lead" if !is_agg => {
                    let off = match p.args.get(1) {
                        None => 1,
                        Some(Expr::Literal(v, _)) => match v.cast_to(&DataType::Int64)? {
                            datafusion::common::ScalarValue::Int64(Some(o)) => o,
                            _ => return Err(unsupported()),
                        },
                        Some(_) => return Err(unsupported()),
                    };
                    if name == "lag" {
                        WinFunc::Lag(off)
                    } else {
                        WinFunc::Lead(off)
                    }
                }
                "sum" if is_agg && default_frame => WinFunc::Sum,
                "count" if is_agg && default_frame => WinFunc::Count,
                "min" if is_agg && default_frame => WinFunc::Min,
                "max" if is_agg && default_frame => WinFunc::Max,
                "avg" if is_agg && default_frame => WinFunc::Avg,
                _ => return Err(unsupported()),
            };
            specs.push(WinSpec {
                func,
                arg: p
                    .args
                    .first()
                    .map(|a| self.phys(a, in_schema))
                    .transpose()?,
                default: p.args.get(2).map(|a| self.phys(a, in_schema)).transpose()?,
                output: w.schema.field(n_in + j).data_type().clone(),
                name: inner.schema_name().to_string(),
            });
        }
        let (partition_by, order_by) = first.unwrap_or_default();
        let mut part_fields = vec![];
        let mut partition_exprs = vec![];
        for e in &partition_by {
            part_fields.push(SortField::new(e.get_type(in_schema)?));
            partition_exprs.push(self.phys(e, in_schema)?);
        }
        let (order_exprs, order_conv) = self.sort_conv(&order_by, in_schema)?;
        let state_id = self.state_id();
        Ok(Box::new(Window {
            part_conv: (!part_fields.is_empty())
                .then(|| RowConverter::new(part_fields))
                .transpose()?,
            partition_exprs,
            order_conv: (!order_exprs.is_empty()).then_some(order_conv),
            order_exprs,
            row_conv: row_conv(in_schema)?,
            out_conv: row_conv(&w.schema)?,
            specs,
            limit,
            state_id,
            schema: arrow_schema(&w.schema),
            input: self.compile(&w.input)?,
        }))
    }

    fn join(&mut self, j: &datafusion::logical_expr::Join) -> Result<Box<dyn Operator>> {
        let kind = match j.join_type {
            JoinType::Inner => JoinKind::Inner,
            JoinType::Left => JoinKind::Left,
            JoinType::Right => JoinKind::Right,
            JoinType::Full => JoinKind::Full,
            JoinType::LeftSemi => JoinKind::Semi,
            JoinType::LeftAnti => JoinKind::Anti,
            other => {
                return Err(Error::unsupported(format!(
                    "{other} join in a materialized view"
                )));
            }
        };
        if j.null_aware && (j.on.len() != 1 || j.filter.is_some()) {
            return Err(Error::unsupported(
                "NOT IN over a row of several columns or with a correlated condition, in a \
                 materialized view",
            ));
        }
        let (ls, rs) = (j.left.schema(), j.right.schema());
        // A cross join is an equi-join on a constant: every row lands under one key.
        let on: Vec<(Expr, Expr)> = if j.on.is_empty() {
            vec![(lit(0i32), lit(0i32))]
        } else {
            j.on.clone()
        };
        let mut left_keys = vec![];
        let mut right_keys = vec![];
        let mut key_types = vec![];
        for (l, r) in &on {
            key_types.push(l.get_type(ls)?);
            left_keys.push(self.phys(l, ls)?);
            right_keys.push(self.phys(r, rs)?);
        }
        let pair_df = ls.join(rs)?;
        let filter = j
            .filter
            .as_ref()
            .map(|f| self.phys(f, &pair_df))
            .transpose()?;
        let conv = |s: &DFSchema| {
            RowConverter::new(
                s.fields()
                    .iter()
                    .map(|f| SortField::new(f.data_type().clone()))
                    .collect(),
            )
        };
        let left_id = self.state_id();
        let right_id = self.state_id();
        let null_aware = j.null_aware.then(|| self.state_id());
        Ok(Box::new(Join {
            null_aware,
            key_conv: RowConverter::new(
                key_types
                    .iter()
                    .map(|t| SortField::new(t.clone()))
                    .collect(),
            )?,
            left_conv: conv(ls)?,
            right_conv: conv(rs)?,
            left: self.compile(&j.left)?,
            right: self.compile(&j.right)?,
            left_keys,
            right_keys,
            key_types,
            filter,
            pair_schema: arrow_schema(&pair_df),
            kind,
            nulls_equal: j.null_equality == NullEquality::NullEqualsNull,
            left_id,
            right_id,
            schema: arrow_schema(&j.schema),
        }))
    }
}

/// `Filter(rn <= n)` (or `rn < n + 1`) directly over a window whose only function is
/// `row_number`, `rn` being its output: per-group top-N.
fn row_number_limit(
    f: &datafusion::logical_expr::Filter,
) -> Option<(&datafusion::logical_expr::Window, usize)> {
    let LogicalPlan::Window(w) = f.input.as_ref() else {
        return None;
    };
    let [e] = w.window_expr.as_slice() else {
        return None;
    };
    let inner = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        other => other,
    };
    let Expr::WindowFunction(wf) = inner else {
        return None;
    };
    if wf.fun.name() != "row_number" {
        return None;
    }
    let Expr::BinaryExpr(b) = &f.predicate else {
        return None;
    };
    let (_, out_field) = w.schema.qualified_field(w.schema.fields().len() - 1);
    let Expr::Column(c) = b.left.as_ref() else {
        return None;
    };
    if c.name != *out_field.name() {
        return None;
    }
    let Expr::Literal(v, _) = b.right.as_ref() else {
        return None;
    };
    let n = match v.cast_to(&DataType::Int64).ok()? {
        datafusion::common::ScalarValue::Int64(Some(n)) => n,
        _ => return None,
    };
    let n = match b.op {
        datafusion::logical_expr::Operator::LtEq => n,
        datafusion::logical_expr::Operator::Lt => n - 1,
        _ => return None,
    };
    usize::try_from(n).ok().map(|n| (w, n))
}

fn row_conv(s: &DFSchema) -> Result<RowConverter> {
    Ok(RowConverter::new(
        s.fields()
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect(),
    )?)
}

fn arrow_schema(s: &DFSchema) -> SchemaRef {
    Arc::clone(s.inner())
}

/// Refuses, before optimization folds them into constants, functions whose value changes with
/// time rather than with the inputs (`now()`, `current_date`): a view over them would be
/// frozen at the time it was created.
pub fn refuse_time_dependent(plan: &LogicalPlan) -> Result<()> {
    let mut found: Option<String> = None;
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|x| {
                if let Expr::ScalarFunction(f) = x
                    && f.func.signature().volatility == datafusion::logical_expr::Volatility::Stable
                    && !crate::functions::SESSION_CONSTANTS.contains(&f.func.name())
                {
                    found = Some(f.func.name().to_string());
                    return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
                }
                Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
            })
        })
    })?;
    match found {
        Some(name) => Err(Error::unsupported(format!(
            "{name}() in a materialized view (its value changes with time, not with the \
             view's inputs)"
        ))),
        None => Ok(()),
    }
}

/// Expressions a view cannot maintain: subqueries left after decorrelation, volatile functions.
fn check_expr(e: &Expr) -> Result<()> {
    let mut err = None;
    e.apply(|x| {
        let bad = match x {
            Expr::ScalarSubquery(_) | Expr::Exists(_) | Expr::InSubquery(_) => {
                Some("a subquery DataFusion could not decorrelate".to_string())
            }
            _ if x.is_volatile_node() => Some(format!("volatile function {x}")),
            _ => None,
        };
        if let Some(b) = bad {
            err = Some(Error::unsupported(format!("{b} in a materialized view")));
            return Ok(datafusion::common::tree_node::TreeNodeRecursion::Stop);
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })?;
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Rewrites what DataFusion leaves for its physical planner into plans the streaming planner
/// maps: an uncorrelated scalar subquery that always yields exactly one row (an aggregate
/// without GROUP BY) becomes a cross join with that one-row input, and the subquery's value a
/// column of it. Subqueries that could yield zero or several rows are left alone, and refused.
pub fn prepare(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut n = 0usize;
    Ok(plan
        .transform_up(|node| lift_scalar_subqueries(node, &mut n))?
        .data)
}

fn lift_scalar_subqueries(
    node: LogicalPlan,
    n: &mut usize,
) -> datafusion::common::Result<Transformed<LogicalPlan>> {
    let has_sq = |e: &Expr| {
        e.exists(|x| Ok(matches!(x, Expr::ScalarSubquery(_))))
            .unwrap_or(false)
    };
    let (input, exprs, is_filter) = match &node {
        LogicalPlan::Filter(f) if has_sq(&f.predicate) => {
            (f.input.clone(), vec![f.predicate.clone()], true)
        }
        LogicalPlan::Projection(p) if p.expr.iter().any(has_sq) => {
            (p.input.clone(), p.expr.clone(), false)
        }
        _ => return Ok(Transformed::no(node)),
    };
    let mut joined = LogicalPlanBuilder::from(input.as_ref().clone());
    let mut new_exprs = Vec::with_capacity(exprs.len());
    for e in exprs {
        let mut subs = vec![];
        let new = e
            .transform_up(|x| {
                let Expr::ScalarSubquery(sq) = &x else {
                    return Ok(Transformed::no(x));
                };
                if !sq.outer_ref_columns.is_empty() || !yields_one_row(&sq.subquery) {
                    return Ok(Transformed::no(x));
                }
                let alias = format!("__eddy_sq{n}");
                *n += 1;
                let sub = prepare_df(sq.subquery.as_ref().clone())?;
                let sub = LogicalPlanBuilder::from(sub)
                    .alias(alias.as_str())?
                    .build()?;
                let col = Expr::Column(datafusion::common::Column::new(
                    Some(alias.as_str()),
                    sub.schema().field(0).name(),
                ));
                subs.push(sub);
                Ok(Transformed::yes(col))
            })?
            .data;
        for sub in subs {
            joined = joined.cross_join(sub)?;
        }
        new_exprs.push(new);
    }
    let plan = if is_filter {
        let cols: Vec<Expr> = input
            .schema()
            .columns()
            .into_iter()
            .map(Expr::Column)
            .collect();
        joined.filter(new_exprs.remove(0))?.project(cols)?.build()?
    } else {
        let schema = node.schema().clone();
        let named: Vec<Expr> = new_exprs
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let (q, f) = schema.qualified_field(i);
                e.alias_qualified(q.cloned(), f.name())
            })
            .collect();
        joined.project(named)?.build()?
    };
    Ok(Transformed::yes(plan))
}

fn prepare_df(plan: LogicalPlan) -> datafusion::common::Result<LogicalPlan> {
    prepare(plan).map_err(|e| datafusion::common::DataFusionError::External(Box::new(e)))
}

/// Whether a plan returns exactly one row whatever its input: an aggregate without GROUP BY,
/// under projections and aliases.
fn yields_one_row(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate(a) => a.group_expr.is_empty(),
        LogicalPlan::Projection(p) => yields_one_row(&p.input),
        LogicalPlan::SubqueryAlias(a) => yields_one_row(&a.input),
        _ => false,
    }
}
