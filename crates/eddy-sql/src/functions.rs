//! Functions PostgreSQL clients expect that DataFusion lacks.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// The version string `version()` returns; the leading "PostgreSQL 15.0" is what drivers parse.
pub const VERSION: &str = concat!(
    "PostgreSQL 15.0 (Eddy ",
    env!("CARGO_PKG_VERSION"),
    ") on x86_64-pc-linux-gnu, a streaming SQL database"
);

/// Functions whose value is fixed for the life of a server (stable only in name).
pub const SESSION_CONSTANTS: &[&str] = &["version", "current_database", "current_schema"];

fn constant_text(ctx: &SessionContext, name: &str, value: &'static str) {
    let f = Arc::new(move |_: &[ColumnarValue]| {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            value.to_string(),
        ))))
    });
    ctx.register_udf(create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        f,
    ));
}

pub fn register(ctx: &SessionContext) {
    constant_text(ctx, "version", VERSION);
    constant_text(ctx, "current_database", eddy_catalog::DATABASE_NAME);
    constant_text(ctx, "current_schema", eddy_catalog::DEFAULT_SCHEMA);
    // array_upper(a, 1): arrays are one-dimensional and 1-based, so the upper bound of the
    // first dimension is the length (NULL for an empty or NULL array, as in PostgreSQL).
    let upper = Arc::new(|args: &[ColumnarValue]| {
        use datafusion::arrow::array::Array;
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let lists = datafusion::common::cast::as_list_array(&arrays[0])?;
        let dims = datafusion::arrow::compute::cast(&arrays[1], &DataType::Int64)?;
        let dims = datafusion::common::cast::as_int64_array(&dims)?;
        let out: datafusion::arrow::array::Int32Array = (0..lists.len())
            .map(|i| {
                if lists.is_null(i) || dims.is_null(i) || dims.value(i) != 1 {
                    return None;
                }
                match lists.value_length(i) {
                    0 => None,
                    n => Some(n),
                }
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    });
    ctx.register_udf(closure_udf(
        "array_upper",
        datafusion::logical_expr::Signature::any(2, Volatility::Immutable),
        DataType::Int32,
        upper,
    ));
    // current_schemas(include_implicit): the search path, pg_catalog first when implicit ones
    // are asked for.
    let schemas = Arc::new(|args: &[ColumnarValue]| {
        let implicit = match &args[0] {
            ColumnarValue::Scalar(ScalarValue::Boolean(b)) => b.unwrap_or(false),
            _ => false,
        };
        let mut names = vec![];
        if implicit {
            names.push(ScalarValue::Utf8(Some("pg_catalog".into())));
        }
        names.push(ScalarValue::Utf8(Some(eddy_catalog::DEFAULT_SCHEMA.into())));
        Ok(ColumnarValue::Scalar(ScalarValue::List(
            ScalarValue::new_list_nullable(&names, &DataType::Utf8),
        )))
    });
    ctx.register_udf(closure_udf(
        "current_schemas",
        datafusion::logical_expr::Signature::exact(vec![DataType::Boolean], Volatility::Stable),
        DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
            "item",
            DataType::Utf8,
            true,
        ))),
        schemas,
    ));
    ctx.register_udaf(datafusion::logical_expr::AggregateUDF::new_from_impl(
        SingleValue::default(),
    ));
}

/// `eddy_single_value(x)`: the one value of a group, NULL for none, and PostgreSQL's error
/// (21000) for more than one. A scalar subquery that is not an aggregate is planned as this
/// aggregate over its one column (see `pg_syntax`), which DataFusion can decorrelate and which
/// fails exactly where PostgreSQL's subquery would.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SingleValue {
    signature: datafusion::logical_expr::Signature,
}

pub const SINGLE_VALUE: &str = "eddy_single_value";

impl Default for SingleValue {
    fn default() -> Self {
        SingleValue {
            signature: datafusion::logical_expr::Signature::any(1, Volatility::Immutable),
        }
    }
}

impl datafusion::logical_expr::AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        SINGLE_VALUE
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(args[0].clone())
    }

    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        Ok(Box::new(SingleValueAcc {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
        Ok(vec![
            Arc::new(
                args.return_field
                    .as_ref()
                    .clone()
                    .with_name("value")
                    .with_nullable(true),
            ),
            Arc::new(datafusion::arrow::datatypes::Field::new(
                "rows",
                DataType::Int64,
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct SingleValueAcc {
    value: ScalarValue,
    rows: i64,
}

impl SingleValueAcc {
    fn add(&mut self, v: ScalarValue, rows: i64) -> datafusion::common::Result<()> {
        if rows == 0 {
            return Ok(());
        }
        self.rows += rows;
        if self.rows > 1 {
            return Err(datafusion::common::DataFusionError::External(Box::new(
                eddy_common::Error::new(
                    eddy_common::SqlState::CARDINALITY_VIOLATION,
                    "more than one row returned by a subquery used as an expression",
                ),
            )));
        }
        self.value = v;
        Ok(())
    }
}

impl datafusion::logical_expr::Accumulator for SingleValueAcc {
    fn update_batch(
        &mut self,
        values: &[datafusion::arrow::array::ArrayRef],
    ) -> datafusion::common::Result<()> {
        for i in 0..values[0].len() {
            self.add(ScalarValue::try_from_array(&values[0], i)?, 1)?;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> datafusion::common::Result<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        self.value.size() + 8
    }

    fn state(&mut self) -> datafusion::common::Result<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn merge_batch(
        &mut self,
        states: &[datafusion::arrow::array::ArrayRef],
    ) -> datafusion::common::Result<()> {
        for i in 0..states[0].len() {
            let rows = match ScalarValue::try_from_array(&states[1], i)? {
                ScalarValue::Int64(Some(n)) => n,
                _ => 0,
            };
            self.add(ScalarValue::try_from_array(&states[0], i)?, rows)?;
        }
        Ok(())
    }
}

/// The body of a function given as a closure over its arguments.
pub type Body =
    Arc<dyn Fn(&[ColumnarValue]) -> datafusion::common::Result<ColumnarValue> + Send + Sync>;

/// A scalar function from a name, signature, return type and closure (DataFusion's
/// `create_udf` takes exact argument types only).
pub fn closure_udf(
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
    ret: DataType,
    body: Body,
) -> datafusion::logical_expr::ScalarUDF {
    datafusion::logical_expr::ScalarUDF::new_from_impl(ClosureUdf {
        name,
        signature,
        ret,
        body,
    })
}

struct ClosureUdf {
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
    ret: DataType,
    body: Body,
}

impl std::fmt::Debug for ClosureUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for ClosureUdf {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.body, &other.body)
    }
}

impl Eq for ClosureUdf {}

impl std::hash::Hash for ClosureUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for ClosureUdf {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(self.ret.clone())
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        (self.body)(&args.args)
    }
}
