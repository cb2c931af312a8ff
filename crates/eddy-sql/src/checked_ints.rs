//! Integer arithmetic that fails on overflow, as PostgreSQL's does (`integer out of range`,
//! SQLSTATE 22003). DataFusion's `+`, `-`, `*` and unary minus wrap around silently
//! (`9223372036854775807 + 1` is a negative number there), which would be a wrong answer, and
//! its physical planner offers no switch for it. So after analysis (when both operands have
//! their common type) each such operation, and `/`, on `smallint`, `integer` or `bigint` becomes
//! a call of a function that uses Arrow's checked kernels. Division is among them only for its
//! message (`-9223372036854775808 / -1` overflows too); modulo cannot overflow.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Datum, Scalar};
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use eddy_common::SqlState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Neg,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Op,
    signature: Signature,
}

/// PostgreSQL's name for an integer type, as its overflow message says it.
fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int16 => "smallint",
        DataType::Int32 => "integer",
        _ => "bigint",
    }
}

fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int16 | DataType::Int32 | DataType::Int64)
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Op::Add => "checked_add",
            Op::Sub => "checked_sub",
            Op::Mul => "checked_mul",
            Op::Div => "checked_div",
            Op::Neg => "checked_neg",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let ty = args.args[0].data_type();
        // A scalar operand becomes a one-row array, passed as a scalar so the kernel
        // broadcasts it (unless every operand is one: then the answer is one row too).
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => s.to_array(),
                ColumnarValue::Array(a) => Ok(a.clone()),
            })
            .collect::<Result<_>>()?;
        let datum = |i: usize| -> Box<dyn Datum> {
            match (&args.args[i], all_scalar) {
                (ColumnarValue::Scalar(_), false) => Box::new(Scalar::new(arrays[i].clone())),
                _ => Box::new(arrays[i].clone()),
            }
        };
        let out = match self.op {
            Op::Add => numeric::add(datum(0).as_ref(), datum(1).as_ref()),
            Op::Sub => numeric::sub(datum(0).as_ref(), datum(1).as_ref()),
            Op::Mul => numeric::mul(datum(0).as_ref(), datum(1).as_ref()),
            Op::Div => numeric::div(datum(0).as_ref(), datum(1).as_ref()),
            Op::Neg => numeric::neg(arrays[0].as_ref()),
        }
        .map_err(|e| match e {
            ArrowError::ArithmeticOverflow(_) => {
                DataFusionError::External(Box::new(eddy_common::Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    format!("{} out of range", type_name(&ty)),
                )))
            }
            other => DataFusionError::ArrowError(Box::new(other), None),
        })?;
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(out))
    }
}

fn udf(op: Op) -> Arc<ScalarUDF> {
    let arity = if op == Op::Neg { 1 } else { 2 };
    Arc::new(ScalarUDF::new_from_impl(Checked {
        op,
        signature: Signature::any(arity, Volatility::Immutable),
    }))
}

/// Rewrites the integer `+`, `-`, `*` and unary minus of an analyzed plan into checked calls.
/// Result names are kept, so the nodes above still find the columns they name.
pub fn rewrite(plan: LogicalPlan) -> Result<LogicalPlan> {
    let (add, sub, mul, div) = (udf(Op::Add), udf(Op::Sub), udf(Op::Mul), udf(Op::Div));
    let neg = udf(Op::Neg);
    plan.transform_up_with_subqueries(|node| {
        let schema = crate::merged_input_schema(&node);
        crate::map_expressions_keeping_names(node, |e| {
            e.transform_up(|e| {
                let int_type = |x: &Expr| x.get_type(&schema).ok().filter(is_int);
                match e {
                    Expr::BinaryExpr(BinaryExpr { left, op, right })
                        if matches!(
                            op,
                            Operator::Plus
                                | Operator::Minus
                                | Operator::Multiply
                                | Operator::Divide
                        ) && int_type(&left).is_some()
                            && int_type(&left) == int_type(&right) =>
                    {
                        let f = match op {
                            Operator::Plus => &add,
                            Operator::Minus => &sub,
                            Operator::Multiply => &mul,
                            _ => &div,
                        };
                        Ok(Transformed::yes(f.call(vec![*left, *right])))
                    }
                    Expr::Negative(inner) if int_type(&inner).is_some() => {
                        Ok(Transformed::yes(neg.call(vec![*inner])))
                    }
                    e => Ok(Transformed::no(e)),
                }
            })
        })
    })
    .map(|t| t.data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int32Array};

    fn run(op: Op, args: Vec<ColumnarValue>, rows: usize) -> Result<ColumnarValue> {
        let f = udf(op);
        let arg_fields = args
            .iter()
            .map(|a| {
                Arc::new(datafusion::arrow::datatypes::Field::new(
                    "a",
                    a.data_type(),
                    true,
                ))
            })
            .collect();
        f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(datafusion::arrow::datatypes::Field::new(
                "r",
                DataType::Int32,
                true,
            )),
            config_options: Default::default(),
        })
    }

    #[test]
    fn overflow_is_an_error_and_in_range_is_exact() {
        let col = ColumnarValue::Array(Arc::new(Int32Array::from(vec![1, i32::MAX])));
        let one = ColumnarValue::Scalar(ScalarValue::Int32(Some(1)));
        let err = run(Op::Add, vec![col.clone(), one.clone()], 2).unwrap_err();
        assert!(err.to_string().contains("integer out of range"), "{err}");
        let col = ColumnarValue::Array(Arc::new(Int32Array::from(vec![1, -5])));
        let ColumnarValue::Array(a) = run(Op::Sub, vec![one.clone(), col], 2).unwrap() else {
            panic!("an array in, an array out")
        };
        assert_eq!(a.as_ref(), &Int32Array::from(vec![0, 6]) as &dyn Array);
        let min = ColumnarValue::Scalar(ScalarValue::Int32(Some(i32::MIN)));
        assert!(run(Op::Neg, vec![min], 1).is_err());
    }
}
