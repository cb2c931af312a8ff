//! Casts to `text` print values as PostgreSQL's output functions do (`2020-01-01 10:00:00+00`,
//! `{1,2}`, `1e+20`, `\x01`), where Arrow's string cast has its own forms (`2020-01-01T10:00:00Z`,
//! `[1, 2]`). After analysis, such casts become `pg_text(value, zone, type, datestyle)`, which
//! formats with the wire encoder: `zone` is the session's TimeZone, in which a `timestamptz` is
//! shown, and `datestyle` the session's DateStyle.

use std::sync::Arc;

use datafusion::arrow::array::{Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use eddy_common::datetime::{DateStyle, SessionZone, TimeSettings};
use eddy_common::{PgType, Result};

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgText {
    signature: Signature,
}

impl ScalarUDFImpl for PgText {
    fn name(&self) -> &str {
        "pg_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let text_arg = |i: usize| match &args.args[i] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(z))) => Some(z.as_str()),
            _ => None,
        };
        let time = TimeSettings {
            zone: text_arg(1).and_then(SessionZone::parse).unwrap_or_default(),
            style: text_arg(3)
                .and_then(|s| DateStyle::parse_setting(s, DateStyle::default()).ok())
                .unwrap_or_default(),
        };
        let values = args.args[0].to_array(args.number_rows)?;
        // The type the plan knew (an int2vector prints unlike the int2[] it is stored as).
        let ty = match &args.args[2] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(t))) => {
                PgType::parse(t).unwrap_or_else(|_| PgType::from_arrow(values.data_type()))
            }
            _ => PgType::from_arrow(values.data_type()),
        };
        let mut out = StringBuilder::with_capacity(values.len(), values.len() * 16);
        let mut s = String::new();
        for i in 0..values.len() {
            if values.is_null(i) {
                out.append_null();
                continue;
            }
            s.clear();
            eddy_pgwire::encode::text_value(&values, i, &ty, &time, &mut s)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            out.append_value(&s);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

fn udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(PgText {
        signature: Signature::any(4, Volatility::Immutable),
    }))
}

/// Types whose Arrow string cast differs from PostgreSQL's text output.
fn printed_differently(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..)
            | DataType::Date32
            | DataType::Time64(_)
            | DataType::Interval(_)
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::List(_)
            | DataType::LargeList(_)
    )
}

pub fn rewrite(plan: LogicalPlan, time: &TimeSettings) -> Result<LogicalPlan> {
    let f = udf();
    let zone = time.zone.arrow_name();
    let style = time.style.shown();
    let out = plan.transform_up_with_subqueries(|node| {
        let schema = eddy_sql::merged_input_schema(&node);
        // Names kept: a sort's hidden column refers to the cast by the name it had.
        eddy_sql::map_expressions_keeping_names(node, |e| {
            e.transform_up(|e| {
                let Expr::Cast(Cast { expr, field }) = e else {
                    return Ok(Transformed::no(e));
                };
                let to_text = matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8);
                match expr.to_field(&schema) {
                    Ok((_, from)) if to_text && printed_differently(from.data_type()) => {
                        let ty = PgType::from_field(&from).to_string();
                        let text = f.call(vec![
                            *expr,
                            Expr::Literal(ScalarValue::Utf8(Some(zone.clone())), None),
                            Expr::Literal(ScalarValue::Utf8(Some(ty)), None),
                            Expr::Literal(ScalarValue::Utf8(Some(style.clone())), None),
                        ]);
                        Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
                            Box::new(text),
                            field,
                        ))))
                    }
                    _ => Ok(Transformed::no(Expr::Cast(Cast { expr, field }))),
                }
            })
        })
    })?;
    Ok(out.data)
}
