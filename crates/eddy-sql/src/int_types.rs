//! PostgreSQL's integer types where DataFusion's differ, fixed in the freshly planned (not yet
//! analyzed) plan, so type coercion then works from them:
//! - An integer literal is an `integer` when it fits in 32 bits: `SELECT 1` is an `int4` column
//!   (node-postgres reads it as a number, not a string), `a + 1` with `a integer` is an
//!   `integer` that overflows at 2^31, and a view's `1 AS one` column is `integer`. DataFusion
//!   makes every integer literal an `Int64` and offers no hook for it.
//! - `sum` of a `bigint` is a `numeric`, which cannot overflow (DataFusion's `Int64` sum wraps
//!   around silently).
//!
//! Left alone: a `LIMIT`/`OFFSET` (DataFusion reads those as `Int64`), the `1` DataFusion plans
//! `count(*)` as, a `VALUES` column that also holds a wider value (it stays `bigint`, as
//! PostgreSQL resolves it), and a recursive CTE whose recursive term would still be `bigint`
//! over an `integer` work table (its literals stay `bigint`).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::cte_worktable::CteWorkTable;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::{
    Cast, Expr, ExprSchemable, LogicalPlan, RecursiveQuery, TableScanBuilder, Union, Values,
    WindowFunctionDefinition,
};

/// The literal DataFusion stands in for `*` in `count(*)`.
fn count_star() -> Expr {
    Expr::Literal(ScalarValue::Int64(Some(1)), None)
}

/// What `sum` of a `bigint` becomes: a numeric wide enough for any sum of them.
fn numeric_sum_arg(arg: Expr) -> Expr {
    Expr::Cast(Cast::new(
        Box::new(arg),
        eddy_common::numeric_array::NUMERIC_ARROW,
    ))
}

fn is_bigint_sum(name: &str, args: &[Expr], schema: &DFSchema) -> bool {
    name == "sum" && matches!(args, [a] if matches!(a.get_type(schema), Ok(DataType::Int64)))
}

fn narrow(e: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    e.transform_up(|e| match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), meta) if i32::try_from(v).is_ok() => Ok(
            Transformed::yes(Expr::Literal(ScalarValue::Int32(Some(v as i32)), meta)),
        ),
        Expr::AggregateFunction(mut f) if is_count_one(f.func.name(), &f.params.args) => {
            f.params.args = vec![count_star()];
            Ok(Transformed::yes(Expr::AggregateFunction(f)))
        }
        Expr::AggregateFunction(mut f) if is_bigint_sum(f.func.name(), &f.params.args, schema) => {
            f.params.args = f.params.args.into_iter().map(numeric_sum_arg).collect();
            Ok(Transformed::yes(Expr::AggregateFunction(f)))
        }
        Expr::WindowFunction(mut w)
            if matches!(&w.fun, WindowFunctionDefinition::AggregateUDF(f)
                if is_bigint_sum(f.name(), &w.params.args, schema)) =>
        {
            w.params.args = w.params.args.into_iter().map(numeric_sum_arg).collect();
            Ok(Transformed::yes(Expr::WindowFunction(w)))
        }
        Expr::WindowFunction(mut w)
            if matches!(&w.fun, WindowFunctionDefinition::AggregateUDF(f)
                if is_count_one(f.name(), &w.params.args)) =>
        {
            w.params.args = vec![count_star()];
            Ok(Transformed::yes(Expr::WindowFunction(w)))
        }
        e => Ok(Transformed::no(e)),
    })
}

fn is_count_one(name: &str, args: &[Expr]) -> bool {
    name == "count" && matches!(args, [Expr::Literal(ScalarValue::Int32(Some(1)), _)])
}

/// Gives a plan fresh from the SQL planner PostgreSQL's integer types.
pub fn pg_integer_types(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut recursive = false;
    plan.apply_with_subqueries(|p| {
        recursive |= matches!(p, LogicalPlan::RecursiveQuery(_));
        Ok(match recursive {
            true => TreeNodeRecursion::Stop,
            false => TreeNodeRecursion::Continue,
        })
    })?;
    if !recursive {
        return narrow_plan(plan);
    }
    // A recursive CTE's recursive term was planned against its work table's types, taken from
    // the static term: narrowing gives the work table the narrowed static term's types and
    // plans the recursive term again over it. Where the recursive term still gives another
    // type (`SELECT 1 UNION ALL SELECT n * 3000000000 ...`, which PostgreSQL refuses), the
    // plan keeps DataFusion's `bigint`s throughout rather than fail.
    match narrow_plan(plan.clone()) {
        Ok(narrowed) if recursive_terms_agree(&narrowed)? => Ok(narrowed),
        _ => Ok(plan),
    }
}

/// Whether every recursive CTE's recursive term gives its static term's types.
fn recursive_terms_agree(plan: &LogicalPlan) -> Result<bool> {
    let mut agree = true;
    plan.apply_with_subqueries(|p| {
        if let LogicalPlan::RecursiveQuery(rq) = p {
            let types = |s: &DFSchema| -> Vec<DataType> {
                s.fields().iter().map(|f| f.data_type().clone()).collect()
            };
            agree &= types(rq.static_term.schema()) == types(rq.recursive_term.schema());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(agree)
}

/// The recursive term planned again over a work table of the (narrowed) static term's types.
fn retype_work_table(rq: RecursiveQuery) -> Result<Transformed<LogicalPlan>> {
    let static_types: Vec<DataType> = (rq.static_term.schema().fields().iter())
        .map(|f| f.data_type().clone())
        .collect();
    let name = rq.name.clone();
    let recursive_term = Arc::unwrap_or_clone(rq.recursive_term)
        .transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(scan)
                if source_as_provider(&scan.source)
                    .ok()
                    .and_then(|p| p.downcast_ref::<CteWorkTable>().map(|w| w.name() == name))
                    .unwrap_or(false) =>
            {
                let old = scan.source.schema();
                if old.fields().len() != static_types.len() {
                    return Ok(Transformed::no(LogicalPlan::TableScan(scan)));
                }
                // The work table keeps its own nullability (the planner's conservative one).
                let fields: Vec<Field> = (old.fields().iter().zip(&static_types))
                    .map(|(f, t)| f.as_ref().clone().with_data_type(t.clone()))
                    .collect();
                let table = CteWorkTable::new(&name, Arc::new(Schema::new(fields)));
                let scan =
                    TableScanBuilder::new(scan.table_name, provider_as_source(Arc::new(table)))
                        .with_projection(scan.projection)
                        .with_filters(scan.filters)
                        .with_fetch(scan.fetch)
                        .build()?;
                Ok(Transformed::yes(LogicalPlan::TableScan(scan)))
            }
            node => Ok(Transformed::yes(node.recompute_schema()?)),
        })?
        .data;
    RecursiveQuery::try_new(
        rq.name,
        rq.static_term,
        Arc::new(recursive_term),
        rq.is_distinct,
    )
    .map(|rq| Transformed::yes(LogicalPlan::RecursiveQuery(rq)))
}

fn narrow_plan(plan: LogicalPlan) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::RecursiveQuery(rq) => retype_work_table(rq),
        LogicalPlan::Limit(_) => Ok(Transformed::no(node)),
        LogicalPlan::Values(v) => values(v),
        // Its schema was its first input's; type coercion later widens it to what all of them
        // hold (`SELECT 1 UNION SELECT 3000000000` is bigint).
        LogicalPlan::Union(u) if u.schema.fields().len() == u.inputs[0].schema().fields().len() => {
            Union::try_new_with_loose_types(u.inputs)
                .map(|u| Transformed::yes(LogicalPlan::Union(u)))
        }
        node => {
            // The nodes above name this node's columns (`Int64(1)`), so names are kept.
            let schema = crate::merged_input_schema(&node);
            let out = crate::map_expressions_keeping_names(node, |e| narrow(e, &schema))?;
            // Recomputed even when this node's own expressions kept their types: an input's
            // may have changed (a UNION's output follows its inputs).
            out.map_data(|p| p.recompute_schema())
        }
    })
    .map(|t| t.data)
}

/// A `VALUES` list's column becomes `integer` only when every value in it is a narrowed literal
/// (or NULL); otherwise its literals keep the column's type.
fn values(v: Values) -> Result<Transformed<LogicalPlan>> {
    let Values { schema, values } = v;
    let ncols = schema.fields().len();
    let mut narrowed: Vec<Vec<Expr>> = Vec::with_capacity(values.len());
    for row in &values {
        narrowed.push(
            row.iter()
                .map(|e| narrow(e.clone(), &DFSchema::empty()).map(|t| t.data))
                .collect::<Result<_>>()?,
        );
    }
    let mut changed = false;
    let mut fields = Vec::with_capacity(ncols);
    for j in 0..ncols {
        let (qualifier, field) = schema.qualified_field(j);
        let all_int = *field.data_type() == DataType::Int64
            && narrowed.iter().all(|row| {
                matches!(
                    &row[j],
                    Expr::Literal(
                        ScalarValue::Int32(_) | ScalarValue::Int64(None) | ScalarValue::Null,
                        _
                    )
                )
            })
            && narrowed
                .iter()
                .any(|row| matches!(&row[j], Expr::Literal(ScalarValue::Int32(_), _)));
        let field = if all_int {
            changed = true;
            Arc::new(field.as_ref().clone().with_data_type(DataType::Int32))
        } else {
            for (row, orig) in narrowed.iter_mut().zip(&values) {
                row[j] = orig[j].clone();
            }
            field.clone()
        };
        fields.push((qualifier.cloned(), field));
    }
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Values(Values {
            schema,
            values,
        })));
    }
    // A NULL in a narrowed column is typed to match.
    for row in &mut narrowed {
        for (j, (_, f)) in fields.iter().enumerate() {
            if *f.data_type() == DataType::Int32
                && matches!(
                    &row[j],
                    Expr::Literal(ScalarValue::Null | ScalarValue::Int64(None), _)
                )
            {
                row[j] = Expr::Literal(ScalarValue::Int32(None), None);
            }
        }
    }
    let schema = DFSchema::new_with_metadata(fields, schema.metadata().clone())?;
    Ok(Transformed::yes(LogicalPlan::Values(Values {
        schema: Arc::new(schema),
        values: narrowed,
    })))
}
