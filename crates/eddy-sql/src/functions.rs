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
    crate::to_char::register(ctx);
    constant_text(ctx, "version", VERSION);
    constant_text(ctx, "current_database", eddy_catalog::DATABASE_NAME);
    constant_text(ctx, "current_schema", eddy_catalog::DEFAULT_SCHEMA);
    // array_upper(a, 1) and array_lower(a, 1): arrays are one-dimensional and 1-based, so the
    // bounds of the first dimension are 1 and the length (NULL for an empty or NULL array, or
    // another dimension, as in PostgreSQL).
    let upper: fn(i32) -> i32 = |len| len;
    let lower: fn(i32) -> i32 = |_| 1;
    for (name, bound) in [("array_upper", upper), ("array_lower", lower)] {
        let body = Arc::new(move |args: &[ColumnarValue]| {
            use datafusion::arrow::array::Array;
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let lists = datafusion::common::cast::as_list_array(&arrays[0])?;
            let dims = datafusion::arrow::compute::cast(&arrays[1], &DataType::Int64)?;
            let dims = datafusion::common::cast::as_int64_array(&dims)?;
            let out: datafusion::arrow::array::Int32Array = (0..lists.len())
                .map(|i| {
                    (!lists.is_null(i)
                        && !dims.is_null(i)
                        && dims.value(i) == 1
                        && lists.value_length(i) > 0)
                        .then(|| bound(lists.value_length(i)))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        });
        ctx.register_udf(closure_udf(
            name,
            datafusion::logical_expr::Signature::any(2, Volatility::Immutable),
            DataType::Int32,
            body,
        ));
    }
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
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(Same {
        signature: datafusion::logical_expr::Signature::any(2, Volatility::Immutable),
    }));
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
        PgTypeof {
            signature: datafusion::logical_expr::Signature::any(1, Volatility::Immutable),
        },
    ));
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
        JsonBuildObject {
            signature: datafusion::logical_expr::Signature::variadic_any(Volatility::Stable),
        },
    ));
    ctx.register_udf(closure_udf(
        "eddy_like_escape",
        datafusion::logical_expr::Signature::exact(
            vec![DataType::Utf8, DataType::Utf8],
            Volatility::Immutable,
        ),
        DataType::Utf8,
        Arc::new(|args: &[ColumnarValue]| {
            use datafusion::arrow::array::Array;
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let p = datafusion::common::cast::as_string_array(&arrays[0])?;
            let e = datafusion::common::cast::as_string_array(&arrays[1])?;
            let out: datafusion::arrow::array::StringArray = (0..p.len())
                .map(|i| {
                    (p.is_valid(i) && e.is_valid(i))
                        .then(|| backslash_escaped(p.value(i), e.value(i).chars().next()))
                })
                .collect();
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    ));
    // eddy_expandarray(a): information_schema._pg_expandarray's (x, n) records as a list of
    // structs, for `unnest` to turn into rows.
    let item = DataType::Struct(
        vec![
            datafusion::arrow::datatypes::Field::new("x", DataType::Int32, true),
            datafusion::arrow::datatypes::Field::new("n", DataType::Int32, false),
        ]
        .into(),
    );
    let list = DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new(
        "item",
        item.clone(),
        true,
    )));
    let ret = list.clone();
    let expand = Arc::new(move |args: &[ColumnarValue]| {
        use datafusion::arrow::array::Array;
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let lists = datafusion::common::cast::as_list_array(&arrays[0])?;
        let mut rows = Vec::with_capacity(lists.len());
        for i in 0..lists.len() {
            if lists.is_null(i) {
                rows.push(None);
                continue;
            }
            let values = datafusion::arrow::compute::cast(&lists.value(i), &DataType::Int32)?;
            let values = datafusion::common::cast::as_int32_array(&values)?;
            let structs = (0..values.len())
                .map(|j| {
                    ScalarValue::Struct(Arc::new(datafusion::arrow::array::StructArray::from(
                        vec![
                            (
                                Arc::new(datafusion::arrow::datatypes::Field::new(
                                    "x",
                                    DataType::Int32,
                                    true,
                                )),
                                Arc::new(datafusion::arrow::array::Int32Array::from(vec![
                                    values.is_valid(j).then(|| values.value(j)),
                                ]))
                                    as datafusion::arrow::array::ArrayRef,
                            ),
                            (
                                Arc::new(datafusion::arrow::datatypes::Field::new(
                                    "n",
                                    DataType::Int32,
                                    false,
                                )),
                                Arc::new(datafusion::arrow::array::Int32Array::from(vec![
                                    j as i32 + 1,
                                ])),
                            ),
                        ],
                    )))
                })
                .collect::<Vec<_>>();
            rows.push(Some(structs));
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(match r {
                Some(items) => ScalarValue::List(ScalarValue::new_list(&items, &item, true)),
                None => ScalarValue::try_from(&list)?,
            });
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    });
    ctx.register_udf(closure_udf(
        "eddy_expandarray",
        datafusion::logical_expr::Signature::any(1, Volatility::Immutable),
        ret,
        expand,
    ));
    for jsonb in [false, true] {
        ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(
            JsonCast::new(jsonb),
        ));
    }
}

/// `x::json` and `x::jsonb` (rewritten to `eddy_json(x)` / `eddy_jsonb(x)` by `pg_syntax`):
/// text checked as JSON, and for jsonb normalized as PostgreSQL prints it. The result keeps its
/// PostgreSQL type in the field's metadata, so clients see a json or jsonb column.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonCast {
    jsonb: bool,
    signature: datafusion::logical_expr::Signature,
}

impl JsonCast {
    fn new(jsonb: bool) -> JsonCast {
        JsonCast {
            jsonb,
            signature: datafusion::logical_expr::Signature::coercible(
                vec![datafusion::logical_expr::Coercion::new_exact(
                    datafusion::logical_expr::TypeSignatureClass::Native(
                        datafusion::common::types::logical_string(),
                    ),
                )],
                Volatility::Immutable,
            ),
        }
    }

    fn ty(&self) -> eddy_common::PgType {
        if self.jsonb {
            eddy_common::PgType::Jsonb
        } else {
            eddy_common::PgType::Json
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for JsonCast {
    fn name(&self) -> &str {
        if self.jsonb {
            "eddy_jsonb"
        } else {
            "eddy_json"
        }
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(
        &self,
        _: datafusion::logical_expr::ReturnFieldArgs,
    ) -> datafusion::common::Result<datafusion::arrow::datatypes::FieldRef> {
        Ok(Arc::new(self.ty().to_arrow_field(self.name())))
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        use datafusion::arrow::array::{Array, StringArray};
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let text = datafusion::common::cast::as_string_array(&text)?;
        let out = (0..text.len())
            .map(|i| {
                if text.is_null(i) {
                    return Ok(None);
                }
                let v = text.value(i);
                if self.jsonb {
                    eddy_common::json::normalize_jsonb(v).map(Some)
                } else {
                    eddy_common::json::validate_json(v).map(|_| Some(v.to_string()))
                }
            })
            .collect::<eddy_common::Result<StringArray>>()
            .map_err(|e| datafusion::common::DataFusionError::External(Box::new(e)))?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
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

/// A LIKE pattern that escapes with `escape` (none for `ESCAPE ''`) rewritten to escape with
/// backslash, the one escape DataFusion's LIKE knows.
fn backslash_escaped(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(n @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push(n),
                None => {}
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

/// `json_build_object(k1, v1, ...)`, printed as PostgreSQL prints it (`{"k" : 1, "b" : true}`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    signature: datafusion::logical_expr::Signature,
}

/// A SQL value as JSON, the way PostgreSQL's `to_json` writes the common types.
fn json_value(v: &ScalarValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Float32(_)
        | ScalarValue::Float64(_)
        | ScalarValue::Decimal128(..) => v.to_string(),
        ScalarValue::LargeBinary(Some(b)) => match eddy_common::numeric::Numeric::from_bytes(b) {
            Ok(n) => n.to_string(),
            Err(_) => "null".into(),
        },
        other => serde_json::Value::String(other.to_string()).to_string(),
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        "json_build_object"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(
        &self,
        _: datafusion::logical_expr::ReturnFieldArgs,
    ) -> datafusion::common::Result<datafusion::arrow::datatypes::FieldRef> {
        Ok(Arc::new(
            eddy_common::PgType::Json.to_arrow_field("json_build_object"),
        ))
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        let fail = |msg: &str, state| {
            datafusion::common::DataFusionError::External(Box::new(eddy_common::Error::new(
                state, msg,
            )))
        };
        if !args.args.len().is_multiple_of(2) {
            return Err(fail(
                "argument list must have even number of elements",
                eddy_common::SqlState::INVALID_PARAMETER_VALUE,
            ));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = datafusion::arrow::array::StringBuilder::new();
        for row in 0..args.number_rows {
            let mut parts = vec![];
            for pair in arrays.chunks(2) {
                let k = ScalarValue::try_from_array(&pair[0], row)?;
                if k.is_null() {
                    return Err(fail(
                        "null value not allowed for object key",
                        eddy_common::SqlState::NULL_VALUE_NOT_ALLOWED,
                    ));
                }
                let v = ScalarValue::try_from_array(&pair[1], row)?;
                parts.push(format!(
                    "{} : {}",
                    serde_json::Value::String(k.to_string()),
                    json_value(&v)
                ));
            }
            out.append_value(format!("{{{}}}", parts.join(", ")));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_are_rewritten_to_escape_with_backslash() {
        assert_eq!(super::backslash_escaped("pg/_%", Some('/')), "pg\\_%");
        assert_eq!(super::backslash_escaped("a//b", Some('/')), "a/b");
        assert_eq!(super::backslash_escaped("a\\b", Some('/')), "a\\\\b");
        assert_eq!(super::backslash_escaped("a\\b%", None), "a\\\\b%");
    }
}

/// `pg_typeof(x)`: the PostgreSQL name of the argument's type, without its modifier
/// (`numeric`, not `numeric(10,2)`), as PostgreSQL prints the `regtype` it returns.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        use eddy_common::PgType;
        let ty = match PgType::from_field(&args.arg_fields[0]) {
            PgType::Numeric(_) => PgType::Numeric(None),
            PgType::Varchar(_) => PgType::Varchar(None),
            other => other,
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
            ty.to_string(),
        ))))
    }
}

/// `eddy_same(x, n)` is `x`: it only gives a call a name of its own (see
/// `names::distinct_call_names`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Same {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for Same {
    fn name(&self) -> &str {
        crate::names::SAME_FUNCTION
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> datafusion::common::Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::common::Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}
