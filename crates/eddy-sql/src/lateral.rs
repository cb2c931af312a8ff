//! FROM items that read the columns of an earlier FROM item and scan no table of their own:
//! `FROM t, generate_series(1, t.n) s`, `FROM t, LATERAL (SELECT t.n * 2 AS d) s`,
//! `CROSS JOIN LATERAL unnest(t.arr)`. DataFusion decorrelates a LATERAL subquery whose
//! correlation is a filter over another table, but leaves these as a join with a subquery
//! reading outer columns, which no physical plan runs.
//!
//! Such an item is a chain of projections, filters and unnests over a single empty row. Run
//! over the rows of the items before it instead of over that empty row, with the outer
//! columns read as ordinary ones, it gives every row of the join: each row of the left side
//! with each row its item makes from it. That is the plan built here, before optimization
//! (whose projection pushdown would drop the columns the item reads).

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder};

/// Rewrites every such join in `plan`; a join of another shape is left as it is (and is
/// refused when planned, with the message `error.rs` gives).
pub fn lateral_from_items(plan: LogicalPlan) -> Result<LogicalPlan> {
    Ok(plan
        .transform_up_with_subqueries(|node| {
            Ok(match applied(&node)? {
                Some(p) => Transformed::yes(p),
                None => Transformed::no(node),
            })
        })?
        .data)
}

fn applied(node: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    let LogicalPlan::Join(join) = node else {
        return Ok(None);
    };
    if !join.on.is_empty() {
        return Ok(None);
    }
    let (alias, body) = match join.right.as_ref() {
        LogicalPlan::SubqueryAlias(a) => match a.input.as_ref() {
            LogicalPlan::Subquery(sq) => (Some(a.alias.clone()), sq.subquery.as_ref()),
            _ => return Ok(None),
        },
        LogicalPlan::Subquery(sq) => (None, sq.subquery.as_ref()),
        _ => return Ok(None),
    };
    // `ON true` is no condition.
    let filter = join
        .filter
        .clone()
        .filter(|f| !matches!(f, Expr::Literal(ScalarValue::Boolean(Some(true)), _)));
    match join.join_type {
        JoinType::Inner => {}
        // An item that always makes exactly one row joins every left row, matched or not.
        JoinType::Left if filter.is_none() && one_row_each(body) => {}
        _ => return Ok(None),
    }
    let left = join.left.as_ref();
    if !reads_only(body, left) {
        return Ok(None);
    }
    let Some(over_left) = over(body, left)? else {
        return Ok(None);
    };
    // The join's columns: the left side's as they were, then the item's under its alias.
    let mut exprs = columns_of(left);
    for (q, f) in body.schema().iter() {
        let col = Expr::Column(Column::new(q.cloned(), f.name()));
        exprs.push(match &alias {
            Some(a) => col.alias_qualified(Some(a.clone()), f.name()),
            None => col,
        });
    }
    let mut b = LogicalPlanBuilder::from(over_left).project(exprs)?;
    if let Some(f) = filter {
        b = b.filter(f)?;
    }
    Ok(Some(b.build()?))
}

/// Every column of `plan`, as it names them.
fn columns_of(plan: &LogicalPlan) -> Vec<Expr> {
    plan.schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect()
}

/// Whether `body` is only projections over its empty row.
fn one_row_each(body: &LogicalPlan) -> bool {
    match body {
        LogicalPlan::EmptyRelation(e) => e.produce_one_row,
        LogicalPlan::Projection(p) => one_row_each(&p.input),
        _ => false,
    }
}

/// Whether every outer column `body` reads is a column of `left` (and not of a query further
/// out, which this join cannot supply).
fn reads_only(body: &LogicalPlan, left: &LogicalPlan) -> bool {
    let mut ok = true;
    let _ = body.apply_with_subqueries(|p| {
        p.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::OuterReferenceColumn(_, c) = e
                    && !left.schema().has_column(c)
                {
                    ok = false;
                }
                Ok(if ok {
                    TreeNodeRecursion::Continue
                } else {
                    TreeNodeRecursion::Stop
                })
            })
        })
    });
    ok
}

/// `e` with its outer columns read as columns of the rows below.
fn without_outer(e: &Expr) -> Result<Expr> {
    Ok(e.clone()
        .transform_up(|e| match e {
            Expr::OuterReferenceColumn(_, c) => Ok(Transformed::yes(Expr::Column(c))),
            e => Ok(Transformed::no(e)),
        })?
        .data)
}

/// A projected `e` without outer columns, under its old name, which the nodes above refer to
/// it by.
fn inner(e: &Expr) -> Result<Expr> {
    without_outer(e)?.alias_if_changed(e.schema_name().to_string())
}

/// `body` computed over the rows of `left` in place of its empty row, each of its nodes also
/// passing `left`'s columns through; None if it is not of that shape, or if one of its
/// columns would take a name the left side's columns have.
fn over(body: &LogicalPlan, left: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    Ok(Some(match body {
        LogicalPlan::EmptyRelation(e) if e.produce_one_row => left.clone(),
        LogicalPlan::Projection(p) => {
            let Some(input) = over(&p.input, left)? else {
                return Ok(None);
            };
            let left_names: Vec<&str> = left
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            if p.schema
                .fields()
                .iter()
                .any(|f| left_names.contains(&f.name().as_str()))
            {
                return Ok(None);
            }
            let mut exprs = columns_of(left);
            for e in &p.expr {
                exprs.push(inner(e)?);
            }
            LogicalPlanBuilder::from(input).project(exprs)?.build()?
        }
        LogicalPlan::Filter(f) => {
            let Some(input) = over(&f.input, left)? else {
                return Ok(None);
            };
            LogicalPlanBuilder::from(input)
                .filter(without_outer(&f.predicate)?)?
                .build()?
        }
        LogicalPlan::Unnest(u) => {
            let Some(input) = over(&u.input, left)? else {
                return Ok(None);
            };
            LogicalPlanBuilder::from(input)
                .unnest_columns_with_options(u.exec_columns.clone(), u.options.clone())?
                .build()?
        }
        _ => return Ok(None),
    }))
}
