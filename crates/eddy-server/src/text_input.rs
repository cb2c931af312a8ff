//! PostgreSQL reads a quoted literal with the target type's input function (`'\xff'::bytea` is
//! one byte, `'{1,2}'::int[]` an array). Arrow's string casts do not know these forms, so casts
//! of string literals to such types are folded here, after parameters are bound, into literals
//! produced by Eddy's text input.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::logical_expr::{Expr, LogicalPlan};
use eddy_catalog::ColumnDef;
use eddy_common::datetime::TimeSettings;
use eddy_common::{PgType, Result};

fn needs_text_input(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::List(_)
            | DataType::Interval(_)
            | DataType::Time64(_)
            | DataType::Timestamp(..)
            | DataType::Date32
    )
}

fn convert(text: &str, dt: &DataType, time: &TimeSettings) -> Result<ScalarValue> {
    let def = ColumnDef {
        name: String::new(),
        ty: PgType::from_arrow(dt),
        not_null: false,
        default: None,
    };
    let strings: ArrayRef = Arc::new(StringArray::from(vec![text]));
    let arr = crate::conform::from_text(strings, &def, time)?;
    let arr = if arr.data_type() != dt {
        datafusion::arrow::compute::cast(&arr, dt)?
    } else {
        arr
    };
    Ok(ScalarValue::try_from_array(&arr, 0)?)
}

pub fn rewrite(plan: LogicalPlan, time: &TimeSettings) -> Result<LogicalPlan> {
    // Names kept: `'01/02/2024'::date` and `'1/2/24'::date` read as the same literal, and two
    // result columns of one name would be refused.
    let out = plan.transform_up_with_subqueries(|node| {
        eddy_sql::map_expressions_keeping_names(node, |e| {
            e.transform_up(|e| {
                let (inner, dt) = match &e {
                    Expr::Cast(c) => (&c.expr, c.field.data_type()),
                    Expr::TryCast(c) => (&c.expr, c.field.data_type()),
                    _ => return Ok(Transformed::no(e)),
                };
                // Arrow scales decimals to floats inexactly (1e15 became 999999999999999.9);
                // PostgreSQL reads the literal's digits, which Rust's parser rounds correctly.
                if let (
                    Expr::Literal(ScalarValue::Decimal128(Some(v), p, s), _),
                    DataType::Float64 | DataType::Float32,
                ) = (inner.as_ref(), dt)
                {
                    let text = ScalarValue::Decimal128(Some(*v), *p, *s).to_string();
                    let f: f64 = text.parse().map_err(|_| {
                        datafusion::error::DataFusionError::Execution(format!(
                            "bad numeric literal {text}"
                        ))
                    })?;
                    let v = if *dt == DataType::Float32 {
                        ScalarValue::Float32(Some(f as f32))
                    } else {
                        ScalarValue::Float64(Some(f))
                    };
                    return Ok(Transformed::yes(Expr::Literal(v, None)));
                }
                if !needs_text_input(dt) {
                    return Ok(Transformed::no(e));
                }
                match inner.as_ref() {
                    Expr::Literal(
                        ScalarValue::Utf8(Some(s))
                        | ScalarValue::Utf8View(Some(s))
                        | ScalarValue::LargeUtf8(Some(s)),
                        _,
                    ) => {
                        let v = convert(s.as_str(), dt, time).map_err(|err| {
                            datafusion::error::DataFusionError::External(Box::new(err))
                        })?;
                        Ok(Transformed::yes(Expr::Literal(v, None)))
                    }
                    _ => Ok(Transformed::no(e)),
                }
            })
        })
    })?;
    Ok(out.data)
}

/// A quoted literal compared with an array (`polroles = '{0}'`) is an array in PostgreSQL,
/// read by the array's input function. DataFusion's type coercion has no string-to-array rule
/// and refuses the comparison, so these literals are read here, before the plan is analyzed.
pub fn array_comparison_literals(plan: LogicalPlan, time: &TimeSettings) -> Result<LogicalPlan> {
    use datafusion::logical_expr::{BinaryExpr, ExprSchemable};
    let out = plan.transform_up_with_subqueries(|node| {
        let inputs = node.inputs();
        let [input] = inputs.as_slice() else {
            return Ok(Transformed::no(node));
        };
        let schema = input.schema().clone();
        node.map_expressions(|e| {
            e.transform_up(|e| {
                let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &e else {
                    return Ok(Transformed::no(e));
                };
                if !op.supports_propagation() {
                    return Ok(Transformed::no(e));
                }
                let list_type = |x: &Expr| match x.get_type(schema.as_ref()) {
                    Ok(dt @ DataType::List(_)) => Some(dt),
                    _ => None,
                };
                let text = |x: &Expr| match x {
                    Expr::Literal(ScalarValue::Utf8(Some(s)), _) => Some(s.clone()),
                    _ => None,
                };
                let (new_left, new_right) = match (text(left), text(right)) {
                    (Some(s), None) => match list_type(right) {
                        Some(dt) => (lit_of(&s, &dt, time)?, (**right).clone()),
                        None => return Ok(Transformed::no(e)),
                    },
                    (None, Some(s)) => match list_type(left) {
                        Some(dt) => ((**left).clone(), lit_of(&s, &dt, time)?),
                        None => return Ok(Transformed::no(e)),
                    },
                    _ => return Ok(Transformed::no(e)),
                };
                Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(new_left),
                    *op,
                    Box::new(new_right),
                ))))
            })
        })
    })?;
    Ok(out.data)
}

fn lit_of(text: &str, dt: &DataType, time: &TimeSettings) -> datafusion::common::Result<Expr> {
    let v = convert(text, dt, time)
        .map_err(|e| datafusion::common::DataFusionError::External(Box::new(e)))?;
    Ok(Expr::Literal(v, None))
}
