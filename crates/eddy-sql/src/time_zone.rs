//! The session `TimeZone` in expressions. A `timestamptz` is an instant; PostgreSQL turns it into
//! wall-clock fields (a cast to `timestamp`/`date`/`time`, `extract`, `date_trunc`, `to_char`)
//! in the session's zone, and reads a wall-clock value cast to `timestamptz` in that zone too.
//! Arrow does the same conversions in the zone named by the *type* (`Timestamp(µs, tz)`), and
//! Eddy stores every `timestamptz` as UTC, so after analysis each such conversion is pointed at
//! the session's zone by a value-preserving cast between zoned types.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan};

/// Functions whose result depends on the zone a `timestamptz` argument is seen in.
const ZONED_FUNCTIONS: &[&str] = &["date_part", "date_trunc", "date_bin", "to_char"];

/// Rewrites `plan` (analyzed, so coercion casts are present) to evaluate in the zone `tz` (an
/// IANA name or `+HH:MM`). UTC needs no rewrite.
pub fn localize(plan: LogicalPlan, tz: &str) -> Result<LogicalPlan> {
    let tz: Arc<str> = Arc::from(tz);
    plan.transform_up_with_subqueries(|node| {
        let schema = crate::merged_input_schema(&node);
        node.map_expressions(|e| e.transform_up(|e| localize_expr(e, &schema, &tz)))
    })
    .map(|t| t.data)
}

fn zoned(dt: &DataType) -> bool {
    matches!(dt, DataType::Timestamp(_, Some(_)))
}

fn wall_clock(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Timestamp(_, None) | DataType::Date32 | DataType::Date64 | DataType::Time64(_)
    )
}

/// An expression's type, when it can be found; a scan's pushed-down filter may name columns
/// outside its projected schema, and such an expression is left as it is.
fn type_of(e: &Expr, schema: &DFSchema) -> Option<DataType> {
    e.get_type(schema).ok()
}

fn in_zone(e: Expr, unit: datafusion::arrow::datatypes::TimeUnit, tz: &Arc<str>) -> Expr {
    Expr::Cast(Cast::new(
        Box::new(e),
        DataType::Timestamp(unit, Some(tz.clone())),
    ))
}

fn localize_expr(e: Expr, schema: &DFSchema, tz: &Arc<str>) -> Result<Transformed<Expr>> {
    match e {
        Expr::Cast(c) => {
            let Some(from) = type_of(&c.expr, schema) else {
                return Ok(Transformed::no(Expr::Cast(c)));
            };
            let to = c.field.data_type().clone();
            match (&from, &to) {
                // Arrow's cast to a zone-less timestamp keeps the UTC reading, so that one goes
                // through to_local_time.
                (DataType::Timestamp(unit, Some(_)), DataType::Timestamp(_, None)) => {
                    let unit = *unit;
                    let local = datafusion::functions::datetime::to_local_time()
                        .call(vec![in_zone(*c.expr, unit, tz)]);
                    Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(local),
                        c.field,
                    ))))
                }
                // instant -> date or time: Arrow reads the fields in the type's zone
                (DataType::Timestamp(unit, Some(z)), to) if wall_clock(to) && z != tz => {
                    let unit = *unit;
                    Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(in_zone(*c.expr, unit, tz)),
                        c.field,
                    ))))
                }
                // wall clock -> instant: read in the session's zone, then kept in the target's
                (from, DataType::Timestamp(unit, Some(z))) if wall_clock(from) && z != tz => {
                    let unit = *unit;
                    Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(in_zone(*c.expr, unit, tz)),
                        c.field,
                    ))))
                }
                _ => Ok(Transformed::no(Expr::Cast(c))),
            }
        }
        Expr::ScalarFunction(mut f) if ZONED_FUNCTIONS.contains(&f.name()) => {
            let Some(before) = type_of(&Expr::ScalarFunction(f.clone()), schema) else {
                return Ok(Transformed::no(Expr::ScalarFunction(f)));
            };
            let mut changed = false;
            for a in f.args.iter_mut() {
                if let Some(DataType::Timestamp(unit, Some(z))) = type_of(a, schema)
                    && &z != tz
                {
                    *a = in_zone(a.clone(), unit, tz);
                    changed = true;
                }
            }
            let out = Expr::ScalarFunction(f);
            if !changed {
                return Ok(Transformed::no(out));
            }
            // date_trunc keeps its argument's type: bring the zone back to the one the plan's
            // schema already recorded (the same instant either way).
            Ok(Transformed::yes(if zoned(&before) {
                Expr::Cast(Cast::new(Box::new(out), before))
            } else {
                out
            }))
        }
        other => Ok(Transformed::no(other)),
    }
}
