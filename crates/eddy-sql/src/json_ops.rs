//! PostgreSQL's `->` and `->>` on `json`/`jsonb` (stored as text), planned into functions.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, ExprSchemable, ScalarFunctionImplementation, ScalarUDF, Volatility,
    cast as cast_expr, create_udf,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use eddy_common::json::{JsonKey, get};

/// Plans `->` and `->>`; a key of integer type indexes an array, any other is an object key.
#[derive(Debug)]
pub struct JsonOperators {
    /// (operator returns text?, key is an index?) -> function
    funcs: [Arc<ScalarUDF>; 4],
}

/// `doc -> key` over arrays: keys are Utf8 (object keys) or Int64 (array indexes).
fn json_impl(as_text: bool) -> ScalarFunctionImplementation {
    Arc::new(move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let docs = arrays[0].as_string::<i32>();
        let keys = &arrays[1];
        let mut out = StringBuilder::new();
        for i in 0..docs.len() {
            if docs.is_null(i) || keys.is_null(i) {
                out.append_null();
                continue;
            }
            let key = match keys.data_type() {
                DataType::Int64 => JsonKey::Index(keys.as_primitive::<Int64Type>().value(i)),
                _ => JsonKey::Field(keys.as_string::<i32>().value(i)),
            };
            match get(docs.value(i), key, as_text)
                .map_err(|e| DataFusionError::External(Box::new(e)))?
            {
                Some(v) => out.append_value(v),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    })
}

impl Default for JsonOperators {
    fn default() -> Self {
        let make = |name: &str, key: DataType, as_text: bool| {
            Arc::new(create_udf(
                name,
                vec![DataType::Utf8, key],
                DataType::Utf8,
                Volatility::Immutable,
                json_impl(as_text),
            ))
        };
        JsonOperators {
            funcs: [
                make("jsonb_field", DataType::Utf8, false),
                make("jsonb_element", DataType::Int64, false),
                make("jsonb_field_text", DataType::Utf8, true),
                make("jsonb_element_text", DataType::Int64, true),
            ],
        }
    }
}

impl ExprPlanner for JsonOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let as_text = match expr.op {
            BinaryOperator::Arrow => false,
            BinaryOperator::LongArrow => true,
            _ => return Ok(PlannerResult::Original(expr)),
        };
        let index = expr.right.get_type(schema)?.is_integer();
        let f = &self.funcs[usize::from(as_text) * 2 + usize::from(index)];
        let key_type = if index {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        let doc = cast_expr(expr.left, DataType::Utf8);
        let key = cast_expr(expr.right, key_type);
        Ok(PlannerResult::Planned(f.call(vec![doc, key])))
    }
}
