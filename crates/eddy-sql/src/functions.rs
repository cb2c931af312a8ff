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
}
