//! `generate_series` as an expression (what `SELECT generate_series(1, 3)` and a series over
//! a column unnest) gives `integer`s for `integer` bounds, as PostgreSQL's does: DataFusion's
//! gives `bigint` whatever its bounds, so `2147483647 + g` would not overflow where PostgreSQL
//! stops with 22003, and clients would read an `int8` column. It wraps DataFusion's function
//! and only narrows the list it returns; other bounds (bigint, dates, timestamps) are
//! DataFusion's unchanged.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

#[derive(Debug, PartialEq, Eq, Hash)]
struct Series {
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

/// Types an `integer` bound comes as (a smaller one is widened to it).
fn int4_or_smaller(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16
    )
}

fn int4_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)))
}

/// Whether the (coerced) bounds make an `integer` series.
fn is_int4(types: &[DataType]) -> bool {
    !types.is_empty() && types.iter().all(|t| *t == DataType::Int32)
}

impl ScalarUDFImpl for Series {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let ints = arg_types.iter().filter(|t| !t.is_null());
        if arg_types.iter().any(int4_or_smaller) && ints.clone().all(int4_or_smaller) {
            return Ok(vec![DataType::Int32; arg_types.len()]);
        }
        let fields: Vec<FieldRef> = (arg_types.iter())
            .map(|t| Arc::new(Field::new("", t.clone(), true)))
            .collect();
        Ok(fields_with_udf(&fields, self.inner.as_ref())?
            .iter()
            .map(|f| f.data_type().clone())
            .collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if is_int4(arg_types) {
            return Ok(int4_list());
        }
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(Arc::new(Field::new(
            self.name(),
            self.return_type(&types)?,
            true,
        )))
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        if !is_int4(&types) {
            return self.inner.invoke_with_args(args);
        }
        // DataFusion's series is computed in `bigint`; its values lie between the `integer`
        // bounds, so narrowing the list back never overflows.
        args.args = (args.args.into_iter())
            .map(|a| a.cast_to(&DataType::Int64, None))
            .collect::<Result<_>>()?;
        args.arg_fields = (args.arg_fields.iter())
            .map(|f| Arc::new(f.as_ref().clone().with_data_type(DataType::Int64)))
            .collect();
        let scalars: Vec<Option<&ScalarValue>> = vec![None; args.args.len()];
        args.return_field = self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &args.arg_fields,
            scalar_arguments: &scalars,
        })?;
        self.inner
            .invoke_with_args(args)?
            .cast_to(&int4_list(), None)
    }
}

/// Replaces DataFusion's `generate_series` expression with the one typed as PostgreSQL's.
pub fn register(ctx: &SessionContext) {
    if let Ok(inner) = ctx.udf("generate_series") {
        ctx.register_udf(ScalarUDF::new_from_impl(Series {
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
}
