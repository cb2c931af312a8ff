//! `ceil`, `floor`, `trunc` and `round` on `numeric` with PostgreSQL's result scale: the value's
//! digits after the point are the ones asked for (`trunc(2.567, 1)` is `2.5`, `floor(-2.1)` is
//! `-3`), where DataFusion keeps the argument's scale (`2.500`, `-3.0`). Each wraps DataFusion's
//! own function and only narrows or widens the decimal scale of its result.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

/// Decimal128's widest precision.
const PRECISION_MAX: u8 = 38;

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgScale {
    inner: Arc<ScalarUDF>,
    /// Whether a second argument gives the scale (`trunc(x, n)`, `round(x, n)`).
    takes_places: bool,
}

impl PgScale {
    /// The result type: a decimal gets `places` digits after the point (0 without them).
    fn adjust(&self, t: DataType, places: Option<i64>) -> DataType {
        match t {
            DataType::Decimal128(p, s) => {
                let want = places.unwrap_or(0).clamp(0, PRECISION_MAX as i64) as i8;
                let p = (p as i16 + (want as i16 - s as i16)).clamp(1, PRECISION_MAX as i16);
                DataType::Decimal128(p as u8, want.min(p as i8))
            }
            other => other,
        }
    }

    fn places(&self, scalars: &[Option<&ScalarValue>]) -> Option<i64> {
        if !self.takes_places {
            return None;
        }
        match scalars.get(1).copied().flatten() {
            Some(v) => v.cast_to(&DataType::Int64).ok().and_then(|v| match v {
                ScalarValue::Int64(n) => n,
                _ => None,
            }),
            None => None,
        }
    }
}

impl ScalarUDFImpl for PgScale {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.adjust(self.inner.return_type(arg_types)?, None))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let places = self.places(args.scalar_arguments);
        let f = self.inner.return_field_from_args(args)?;
        let t = self.adjust(f.data_type().clone(), places);
        Ok(Arc::new(Field::new(f.name(), t, f.is_nullable())))
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let want = args.return_field.data_type().clone();
        let scalars: Vec<Option<&ScalarValue>> = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(v) => Some(v),
                ColumnarValue::Array(_) => None,
            })
            .collect();
        let inner_field = self.inner.return_field_from_args(ReturnFieldArgs {
            arg_fields: &args.arg_fields,
            scalar_arguments: &scalars,
        })?;
        args.return_field = inner_field;
        let out = self.inner.invoke_with_args(args)?;
        out.cast_to(&want, None)
    }
}

/// Replaces DataFusion's `ceil`, `floor`, `trunc` and `round` with their PostgreSQL-scaled forms.
pub fn register(ctx: &SessionContext) {
    for (name, takes_places) in [
        ("ceil", false),
        ("floor", false),
        ("trunc", true),
        ("round", true),
    ] {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(PgScale {
                inner,
                takes_places,
            }));
        }
    }
}
