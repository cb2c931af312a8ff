//! `generate_series` as an expression (what `SELECT generate_series(1, 3)` and a series over
//! a column unnest) gives `integer`s for `integer` bounds, as PostgreSQL's does: DataFusion's
//! gives `bigint` whatever its bounds, so `2147483647 + g` would not overflow where PostgreSQL
//! stops with 22003, and clients would read an `int8` column. It wraps DataFusion's function
//! and only narrows the list it returns; other bounds (bigint, dates, timestamps) are
//! DataFusion's unchanged, except `numeric` bounds, whose series is computed here exactly, as
//! PostgreSQL's `generate_series(numeric, numeric[, numeric])` is.

use std::cmp::Ordering;
use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use eddy_common::numeric::Numeric;
use eddy_common::numeric_array::{self, NUMERIC_ARROW, is_numeric};
use eddy_common::{Error, SqlState};

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

fn numeric_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(NUMERIC_ARROW, true)))
}

/// Whether a bound makes the series `numeric` (the other bounds become numeric too).
fn numeric_bound(t: &DataType) -> bool {
    is_numeric(t) || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

fn is_numeric_series(types: &[DataType]) -> bool {
    !types.is_empty() && types.iter().all(is_numeric)
}

fn series_error(state: SqlState, msg: &str) -> DataFusionError {
    DataFusionError::External(Box::new(Error::new(state, msg)))
}

/// One row's numeric series, PostgreSQL's `generate_series_step_numeric`: from `start`,
/// adding `step`, while not past `stop`. The values take the scales addition gives them
/// (`generate_series(1, 2, 0.5)` is 1, 1.5, 2.0).
fn numeric_series(start: &Numeric, stop: &Numeric, step: &Numeric) -> Result<Vec<Numeric>> {
    for (v, what) in [
        (start, "start value"),
        (stop, "stop value"),
        (step, "step size"),
    ] {
        match v {
            Numeric::NaN => {
                return Err(series_error(
                    SqlState::INVALID_PARAMETER_VALUE,
                    &format!("{what} cannot be NaN"),
                ));
            }
            Numeric::PosInf | Numeric::NegInf => {
                return Err(series_error(
                    SqlState::INVALID_PARAMETER_VALUE,
                    &format!("{what} cannot be infinity"),
                ));
            }
            Numeric::Finite { .. } => {}
        }
    }
    let up = match step.sign() {
        Ordering::Equal => {
            return Err(series_error(
                SqlState::INVALID_PARAMETER_VALUE,
                "step size cannot equal zero",
            ));
        }
        o => o == Ordering::Greater,
    };
    let mut out = vec![];
    let mut cur = start.clone();
    loop {
        let past = cur.sub(stop).sign();
        if (up && past == Ordering::Greater) || (!up && past == Ordering::Less) {
            break;
        }
        let next = cur.add(step);
        out.push(cur);
        cur = next;
    }
    Ok(out)
}

/// The numeric series of every row; a NULL bound gives an empty series, as PostgreSQL's
/// strict function gives no rows.
fn numeric_series_of(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let arrays = (args.iter())
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    let columns: Vec<Vec<Option<Numeric>>> = (arrays.iter())
        .map(|a| numeric_array::values(a.as_ref()))
        .collect::<eddy_common::Result<_>>()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let one = Numeric::from_i64(1);
    let mut offsets = vec![0i32];
    let mut values: Vec<Option<Numeric>> = vec![];
    for row in 0..rows {
        let bound = |i: usize| columns.get(i).and_then(|c| c[row].as_ref());
        let step = if columns.len() > 2 {
            bound(2)
        } else {
            Some(&one)
        };
        if let (Some(start), Some(stop), Some(step)) = (bound(0), bound(1), step) {
            values.extend(numeric_series(start, stop, step)?.into_iter().map(Some));
        }
        // An Arrow list counts its values in an i32.
        offsets.push(i32::try_from(values.len()).map_err(|_| {
            series_error(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                "generate_series over numerics makes more than 2147483647 values in one batch",
            )
        })?);
    }
    let field = Arc::new(Field::new_list_field(NUMERIC_ARROW, true));
    let list = datafusion::arrow::array::ListArray::try_new(
        field,
        datafusion::arrow::buffer::OffsetBuffer::new(offsets.into()),
        numeric_array::from_values(values),
        None,
    )?;
    Ok(ColumnarValue::Array(Arc::new(list)))
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
        // Left as they are: Arrow casts no decimal to a numeric, and before execution every
        // bound has been made a numeric by `numeric_plan`.
        if arg_types.iter().any(numeric_bound) {
            return Ok(arg_types.to_vec());
        }
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
        if arg_types.iter().any(numeric_bound) {
            return Ok(numeric_list());
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
        if is_numeric_series(&types) {
            return numeric_series_of(&args.args, args.number_rows);
        }
        // PostgreSQL's error for an integer step of zero, not DataFusion's.
        if let Some(step) = args.args.get(2)
            && types[2].is_integer()
        {
            let step = step.to_array(args.number_rows)?;
            let step = datafusion::arrow::compute::cast(&step, &DataType::Int64)?;
            let step = step.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            if step.iter().any(|s| s == Some(0)) {
                return Err(series_error(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "step size cannot equal zero",
                ));
            }
        }
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
