//! PostgreSQL's `numeric` operators, functions, casts and aggregates over Eddy's numeric
//! columns (`eddy_common::numeric_array`: each value keeps its own display scale). Arrow's
//! decimals have one scale per column, so DataFusion's own decimal arithmetic cannot give
//! PostgreSQL's results (`1/3` has 20 fraction digits, `2.50 * 2` prints `5.00`); these
//! compute with `eddy_common::numeric::Numeric`, row by row. `numeric_plan` puts them in plans.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use eddy_common::numeric::{Numeric, NumericSum};
use eddy_common::numeric_array::{self, NUMERIC_ARROW};
use eddy_common::numeric_codec::value_key;

fn ext(e: eddy_common::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// What a numeric function computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Power,
    /// `log(base, x)`: the base comes first, as in SQL.
    Log,
    /// `round(x, places)` and `trunc(x, places)`: the places are an integer.
    Round,
    Trunc,
    Neg,
    Abs,
    Ceil,
    Floor,
    Sign,
    Sqrt,
    Exp,
    Ln,
    Log10,
    /// The value's bytes without its display scale: equal exactly when the values are, and
    /// ordered as they are. Comparisons and join keys use it.
    Key,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "numeric_add",
            Op::Sub => "numeric_sub",
            Op::Mul => "numeric_mul",
            Op::Div => "numeric_div",
            Op::Mod => "numeric_mod",
            Op::Power => "numeric_power",
            Op::Log => "numeric_log",
            Op::Round => "numeric_round",
            Op::Trunc => "numeric_trunc",
            Op::Neg => "numeric_neg",
            Op::Abs => "numeric_abs",
            Op::Ceil => "numeric_ceil",
            Op::Floor => "numeric_floor",
            Op::Sign => "numeric_sign",
            Op::Sqrt => "numeric_sqrt",
            Op::Exp => "numeric_exp",
            Op::Ln => "numeric_ln",
            Op::Log10 => "numeric_log10",
            Op::Key => "numeric_key",
        }
    }

    fn arity(self) -> usize {
        match self {
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Mod
            | Op::Power
            | Op::Log
            | Op::Round
            | Op::Trunc => 2,
            _ => 1,
        }
    }

    fn binary(self, a: &Numeric, b: &Numeric) -> eddy_common::Result<Numeric> {
        Ok(match self {
            Op::Add => a.add(b),
            Op::Sub => a.sub(b),
            Op::Mul => a.mul(b),
            Op::Div => a.div(b)?,
            Op::Mod => a.rem(b)?,
            Op::Power => a.power(b)?,
            Op::Log => b.log(a)?,
            other => unreachable!("{other:?} is not binary"),
        })
    }

    fn unary(self, a: &Numeric) -> eddy_common::Result<Numeric> {
        Ok(match self {
            Op::Neg => a.neg(),
            Op::Abs => a.abs(),
            Op::Ceil => a.ceil(),
            Op::Floor => a.floor(),
            Op::Sign => a.signum(),
            Op::Sqrt => a.sqrt()?,
            Op::Exp => a.exp()?,
            Op::Ln => a.ln()?,
            Op::Log10 => a.log(&Numeric::from_i64(10))?,
            other => unreachable!("{other:?} is not unary"),
        })
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct NumericFn {
    op: Op,
    signature: Signature,
}

/// Every argument as an array of `rows` rows, and whether all of them were scalars.
fn arrays(args: &[ColumnarValue], rows: usize) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { rows };
    let arrays = args
        .iter()
        .map(|a| a.to_array(rows))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, all_scalar))
}

fn result(out: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
    }
    Ok(ColumnarValue::Array(out))
}

fn numbers(arr: &ArrayRef) -> Result<Vec<Option<Numeric>>> {
    numeric_array::values(arr.as_ref()).map_err(ext)
}

impl ScalarUDFImpl for NumericFn {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(NUMERIC_ARROW)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, all_scalar) = arrays(&args.args, args.number_rows)?;
        let out = match self.op {
            Op::Key => {
                let a = arrays[0].as_binary::<i64>();
                let keys: datafusion::arrow::array::LargeBinaryArray =
                    a.iter().map(|v| v.map(value_key)).collect();
                Arc::new(keys) as ArrayRef
            }
            Op::Round | Op::Trunc => {
                let xs = numbers(&arrays[0])?;
                let places = datafusion::arrow::compute::cast(&arrays[1], &DataType::Int64)?;
                let places = places.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                let vals = xs.iter().zip(places.iter()).map(|(x, p)| match (x, p) {
                    (Some(x), Some(p)) => {
                        let p = p.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                        Some(if self.op == Op::Round {
                            x.round(p)
                        } else {
                            x.trunc(p)
                        })
                    }
                    _ => None,
                });
                numeric_array::from_values(vals.collect::<Vec<_>>())
            }
            op if op.arity() == 2 => {
                let (xs, ys) = (numbers(&arrays[0])?, numbers(&arrays[1])?);
                let vals = xs
                    .iter()
                    .zip(&ys)
                    .map(|(x, y)| match (x, y) {
                        (Some(x), Some(y)) => op.binary(x, y).map(Some),
                        _ => Ok(None),
                    })
                    .collect::<eddy_common::Result<Vec<_>>>()
                    .map_err(ext)?;
                numeric_array::from_values(vals)
            }
            op => {
                let vals = (numbers(&arrays[0])?.iter())
                    .map(|x| x.as_ref().map(|x| op.unary(x)).transpose())
                    .collect::<eddy_common::Result<Vec<_>>>()
                    .map_err(ext)?;
                numeric_array::from_values(vals)
            }
        };
        result(out, all_scalar)
    }
}

pub fn udf(op: Op) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(NumericFn {
        op,
        signature: Signature::any(op.arity(), Volatility::Immutable),
    }))
}

/// A cast to `numeric`, fitted to a typmod when one is given (`x::numeric(10,2)`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToNumeric {
    typmod: Option<(u8, i8)>,
    signature: Signature,
}

impl ScalarUDFImpl for ToNumeric {
    fn name(&self) -> &str {
        "to_numeric"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(NUMERIC_ARROW)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, all_scalar) = arrays(&args.args, args.number_rows)?;
        let out = numeric_array::cast_to_numeric(&arrays[0], self.typmod).map_err(ext)?;
        result(out, all_scalar)
    }
}

pub fn to_numeric(typmod: Option<(u8, i8)>) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(ToNumeric {
        typmod,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

/// A cast from `numeric` to another type (integers round; 22003 when out of range).
#[derive(Debug, PartialEq, Eq, Hash)]
struct FromNumeric {
    to: DataType,
    signature: Signature,
}

impl ScalarUDFImpl for FromNumeric {
    fn name(&self) -> &str {
        "from_numeric"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, all_scalar) = arrays(&args.args, args.number_rows)?;
        let out = numeric_array::cast_from_numeric(&arrays[0], &self.to).map_err(ext)?;
        result(out, all_scalar)
    }
}

pub fn from_numeric(to: DataType) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(FromNumeric {
        to,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

/// `sum` and `avg` of numerics (and `avg` of integers, cast to numeric first), with
/// PostgreSQL's special values: a NaN makes the result NaN, as do infinities of both signs.
/// Kept as counts beside the finite sum, so a sliding window can take values back out.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NumericAgg {
    avg: bool,
    signature: Signature,
}

#[derive(Debug, Default)]
struct SumState {
    finite: NumericSum,
    count: i64,
    nan: i64,
    pinf: i64,
    ninf: i64,
}

impl SumState {
    fn add(&mut self, v: &Numeric, sign: i64) {
        self.count += sign;
        match v {
            Numeric::NaN => self.nan += sign,
            Numeric::PosInf => self.pinf += sign,
            Numeric::NegInf => self.ninf += sign,
            v => self.finite.add(v, sign),
        }
    }

    fn total(&self) -> Option<Numeric> {
        if self.count == 0 {
            return None;
        }
        Some(if self.nan > 0 || (self.pinf > 0 && self.ninf > 0) {
            Numeric::NaN
        } else if self.pinf > 0 {
            Numeric::PosInf
        } else if self.ninf > 0 {
            Numeric::NegInf
        } else {
            self.finite.total()
        })
    }
}

#[derive(Debug)]
struct NumericAccumulator {
    avg: bool,
    state: SumState,
}

impl NumericAccumulator {
    fn update(&mut self, values: &[ArrayRef], sign: i64) -> Result<()> {
        let arr = numeric_array::cast_to_numeric(&values[0], None).map_err(ext)?;
        for v in numbers(&arr)?.iter().flatten() {
            self.state.add(v, sign);
        }
        Ok(())
    }
}

impl Accumulator for NumericAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.update(values, 1)
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.update(values, -1)
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let total = self.state.total();
        let v = match (total, self.avg) {
            (Some(t), true) => Some(t.div(&Numeric::from_i64(self.state.count)).map_err(ext)?),
            (t, _) => t,
        };
        Ok(ScalarValue::LargeBinary(v.map(|v| v.to_bytes())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 32
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = &self.state;
        Ok(vec![
            ScalarValue::LargeBinary(Some(s.finite.total().to_bytes())),
            ScalarValue::Int64(Some(s.count)),
            ScalarValue::Int64(Some(s.nan)),
            ScalarValue::Int64(Some(s.pinf)),
            ScalarValue::Int64(Some(s.ninf)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let sums = numbers(&states[0])?;
        let counts: Vec<&Int64Array> = states[1..].iter().map(|a| a.as_primitive()).collect();
        for (i, sum) in sums.iter().enumerate() {
            if let Some(sum) = sum {
                self.state.add(sum, 1);
                // `add` counted the partial sum as one value; its own count replaces that.
                self.state.count -= 1;
            }
            self.state.count += counts[0].value(i);
            self.state.nan += counts[1].value(i);
            self.state.pinf += counts[2].value(i);
            self.state.ninf += counts[3].value(i);
        }
        Ok(())
    }
}

impl AggregateUDFImpl for NumericAgg {
    fn name(&self) -> &str {
        if self.avg {
            "numeric_avg"
        } else {
            "numeric_sum"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(NUMERIC_ARROW)
    }

    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NumericAccumulator {
            avg: self.avg,
            state: SumState::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |n: &str, t: DataType| Arc::new(Field::new(format!("{}[{n}]", args.name), t, true));
        Ok(vec![
            f("sum", NUMERIC_ARROW),
            f("count", DataType::Int64),
            f("nan", DataType::Int64),
            f("pinf", DataType::Int64),
            f("ninf", DataType::Int64),
        ])
    }
}

pub fn sum() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(NumericAgg {
        avg: false,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

pub fn avg() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(NumericAgg {
        avg: true,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

/// Whether an aggregate is one of these (the dataflow keeps its own sums for them).
pub fn agg_kind(name: &str) -> Option<bool> {
    match name {
        "numeric_sum" => Some(false),
        "numeric_avg" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(vals: &[&str]) -> ArrayRef {
        numeric_array::from_values(vals.iter().map(|s| Some(Numeric::parse(s).unwrap())))
    }

    fn texts(a: &ArrayRef) -> Vec<String> {
        numbers(a)
            .unwrap()
            .into_iter()
            .map(|v| v.map(|v| v.to_string()).unwrap_or_default())
            .collect()
    }

    fn call(op: Op, args: Vec<ArrayRef>) -> Result<ArrayRef> {
        let rows = args[0].len();
        let arg_fields = args
            .iter()
            .map(|a| Arc::new(Field::new("a", a.data_type().clone(), true)))
            .collect();
        let out = udf(op).invoke_with_args(ScalarFunctionArgs {
            args: args.into_iter().map(ColumnarValue::Array).collect(),
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", NUMERIC_ARROW, true)),
            config_options: Default::default(),
        })?;
        out.to_array(rows)
    }

    #[test]
    fn operators_keep_postgres_scales() {
        let a = col(&["1.50", "10", "2"]);
        let b = col(&["2", "3.0", "0.5"]);
        assert_eq!(
            texts(&call(Op::Mul, vec![a.clone(), b.clone()]).unwrap()),
            ["3.00", "30.0", "1.0"]
        );
        assert_eq!(
            texts(&call(Op::Div, vec![a.clone(), b.clone()]).unwrap()),
            [
                "0.75000000000000000000",
                "3.3333333333333333",
                "4.0000000000000000"
            ]
        );
        let err = call(Op::Div, vec![a, col(&["0", "1", "1"])]).unwrap_err();
        assert!(err.to_string().contains("division by zero"), "{err}");
    }

    #[test]
    fn keys_ignore_the_scale() {
        let k = call(Op::Key, vec![col(&["1.5", "1.50", "1.05"])]).unwrap();
        let k = k.as_binary::<i64>();
        assert_eq!(k.value(0), k.value(1));
        assert!(k.value(2) < k.value(0));
    }

    #[test]
    fn sums_and_averages_take_values_back_out() {
        let mut acc = NumericAccumulator {
            avg: true,
            state: SumState::default(),
        };
        acc.update_batch(&[col(&["1", "2", "NaN", "4"])]).unwrap();
        let nan = acc.evaluate().unwrap();
        assert_eq!(nan, ScalarValue::LargeBinary(Some(Numeric::NaN.to_bytes())));
        acc.retract_batch(&[col(&["NaN"])]).unwrap();
        let ScalarValue::LargeBinary(Some(v)) = acc.evaluate().unwrap() else {
            panic!("a value")
        };
        assert_eq!(
            Numeric::from_bytes(&v).unwrap().to_string(),
            "2.3333333333333333"
        );
    }
}

/// A DataFusion function that also takes `numeric` arguments: with any numeric argument it
/// computes `op` (or passes the call through `passthrough` functions such as `coalesce`,
/// whose numeric arguments `numeric_plan` made all numeric); with none it is the function
/// DataFusion has. DataFusion types function calls while it plans, so a call on a numeric
/// column must be valid then.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Overload {
    inner: Arc<ScalarUDF>,
    op: Option<Op>,
    signature: Signature,
}

fn any_numeric(types: &[DataType]) -> bool {
    types.iter().any(numeric_array::is_numeric)
}

impl ScalarUDFImpl for Overload {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if any_numeric(arg_types) {
            return Ok(match self.op {
                // Every argument of `coalesce`-like functions takes the common type.
                None => vec![NUMERIC_ARROW; arg_types.len()],
                Some(_) => arg_types.to_vec(),
            });
        }
        coerced_by(&self.inner, arg_types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if any_numeric(arg_types) {
            return Ok(NUMERIC_ARROW);
        }
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        if any_numeric(&types) {
            return Ok(Arc::new(Field::new(self.name(), NUMERIC_ARROW, true)));
        }
        self.inner.return_field_from_args(args)
    }

    // `coalesce` and the like are rewritten into CASE by their simplification, which also
    // holds for numerics; the numeric functions are not simplified (DataFusion's `power(x, 1)`
    // is `x`, where PostgreSQL's result shows at least 16 fraction digits).
    fn simplify(
        &self,
        args: Vec<datafusion::logical_expr::Expr>,
        info: &datafusion::logical_expr::simplify::SimplifyContext,
    ) -> Result<datafusion::logical_expr::simplify::ExprSimplifyResult> {
        match self.op {
            None => self.inner.simplify(args, info),
            Some(_) => Ok(datafusion::logical_expr::simplify::ExprSimplifyResult::Original(args)),
        }
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        match self.op {
            Some(op) if any_numeric(&types) => {
                // Integer and decimal arguments of a numeric call are numerics too, except
                // the places of round/trunc.
                for (i, a) in args.args.iter_mut().enumerate() {
                    let places = matches!(op, Op::Round | Op::Trunc) && i == 1;
                    if !places && !numeric_array::is_numeric(&a.data_type()) {
                        let arr = a.to_array(args.number_rows)?;
                        let n = numeric_array::cast_to_numeric(&arr, None).map_err(ext)?;
                        *a = match a {
                            ColumnarValue::Scalar(_) => {
                                ColumnarValue::Scalar(ScalarValue::try_from_array(&n, 0)?)
                            }
                            ColumnarValue::Array(_) => ColumnarValue::Array(n),
                        };
                    }
                }
                if matches!(op, Op::Round | Op::Trunc) && args.args.len() == 1 {
                    args.args
                        .push(ColumnarValue::Scalar(ScalarValue::Int64(Some(0))));
                }
                udf(op).invoke_with_args(args)
            }
            _ => self.inner.invoke_with_args(args),
        }
    }
}

/// `sum` and `avg` that also take numerics (and `avg` of integers gives a numeric, as in
/// PostgreSQL); other arguments go to DataFusion's own.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AggOverload {
    inner: Arc<AggregateUDF>,
    avg: bool,
    signature: Signature,
}

impl AggOverload {
    fn numeric(&self, types: &[DataType]) -> bool {
        any_numeric(types)
            || (self.avg
                && types.iter().any(|t| {
                    matches!(
                        t,
                        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
                    )
                }))
    }
}

impl AggregateUDFImpl for AggOverload {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if self.numeric(arg_types) {
            return Ok(arg_types.to_vec());
        }
        let fields: Vec<FieldRef> = (arg_types.iter())
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        let fields = datafusion::logical_expr::type_coercion::functions::fields_with_udf(
            &fields,
            &*self.inner,
        )?;
        Ok(fields.iter().map(|f| f.data_type().clone()).collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if self.numeric(arg_types) {
            return Ok(NUMERIC_ARROW);
        }
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args
            .exprs
            .iter()
            .map(|e| e.data_type(args.schema))
            .collect::<Result<_>>()?;
        if !self.numeric(&types) {
            return self.inner.accumulator(args);
        }
        if args.is_distinct {
            return Err(ext(eddy_common::Error::unsupported(format!(
                "{}(DISTINCT numeric)",
                self.name()
            ))));
        }
        Ok(Box::new(NumericAccumulator {
            avg: self.avg,
            state: SumState::default(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args
            .input_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        if !self.numeric(&types) {
            return self.inner.inner().state_fields(args);
        }
        NumericAgg {
            avg: self.avg,
            signature: self.signature.clone(),
        }
        .state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        let types: Option<Vec<DataType>> = (args.exprs.iter())
            .map(|e| e.data_type(args.schema).ok())
            .collect();
        types.is_some_and(|t| !self.numeric(&t))
            && self.inner.inner().groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
        self.inner.inner().create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args
            .exprs
            .iter()
            .map(|e| e.data_type(args.schema))
            .collect::<Result<_>>()?;
        if self.numeric(&types) {
            return self.accumulator(args);
        }
        self.inner.inner().create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> datafusion::logical_expr::ReversedUDAF {
        datafusion::logical_expr::ReversedUDAF::Identical
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        ScalarValue::try_from(data_type)
    }
}

/// Makes DataFusion's numeric functions, `coalesce`-like functions, `sum` and `avg` take
/// `numeric` arguments.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    use datafusion::execution::FunctionRegistry;
    let scalar: &[(&str, Option<Op>)] = &[
        ("abs", Some(Op::Abs)),
        ("ceil", Some(Op::Ceil)),
        ("floor", Some(Op::Floor)),
        ("round", Some(Op::Round)),
        ("trunc", Some(Op::Trunc)),
        ("sqrt", Some(Op::Sqrt)),
        ("exp", Some(Op::Exp)),
        ("ln", Some(Op::Ln)),
        ("log10", Some(Op::Log10)),
        ("power", Some(Op::Power)),
        // `log(x)` is log10, `log(b, x)` the base-b logarithm.
        ("log", Some(Op::Log)),
        ("signum", Some(Op::Sign)),
        ("coalesce", None),
        ("greatest", None),
        ("least", None),
        ("nullif", None),
    ];
    for (name, op) in scalar {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(Overload {
                inner,
                op: *op,
                signature: Signature::user_defined(Volatility::Immutable),
            }));
        }
    }
    ctx.register_udf(ScalarUDF::new_from_impl(Mod {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    for (name, avg) in [("sum", false), ("avg", true)] {
        if let Ok(inner) = ctx.udaf(name) {
            ctx.register_udaf(AggregateUDF::new_from_impl(AggOverload {
                inner,
                avg,
                signature: Signature::user_defined(Volatility::Immutable),
            }));
        }
    }
}

/// The argument types DataFusion's own function takes for these.
fn coerced_by(inner: &ScalarUDF, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let fields: Vec<FieldRef> = (arg_types.iter())
        .map(|t| Arc::new(Field::new("a", t.clone(), true)))
        .collect();
    let fields =
        datafusion::logical_expr::type_coercion::functions::fields_with_udf(&fields, inner)?;
    Ok(fields.iter().map(|f| f.data_type().clone()).collect())
}

/// PostgreSQL's `mod(a, b)`: of integers an integer of their wider type, of numerics a
/// numeric (DataFusion has no such function).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Mod {
    signature: Signature,
}

fn widest_int(types: &[DataType]) -> Option<DataType> {
    let rank = |t: &DataType| match t {
        DataType::Int8 | DataType::Int16 => Some(1),
        DataType::Int32 => Some(2),
        DataType::Int64 => Some(3),
        _ => None,
    };
    let r = types.iter().map(rank).collect::<Option<Vec<_>>>()?;
    Some(match r.into_iter().max()? {
        1 => DataType::Int16,
        2 => DataType::Int32,
        _ => DataType::Int64,
    })
}

impl ScalarUDFImpl for Mod {
    fn name(&self) -> &str {
        "mod"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return Err(ext(eddy_common::Error::new(
                eddy_common::SqlState::UNDEFINED_FUNCTION,
                "function mod takes two arguments",
            )));
        }
        Ok(match widest_int(arg_types) {
            Some(t) => vec![t.clone(), t],
            None => arg_types.to_vec(),
        })
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(widest_int(arg_types).unwrap_or(NUMERIC_ARROW))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        if widest_int(&types).is_none() {
            return Overload {
                inner: udf(Op::Mod),
                op: Some(Op::Mod),
                signature: self.signature.clone(),
            }
            .invoke_with_args(args);
        }
        let (arrays, all_scalar) = arrays(&args.args, args.number_rows)?;
        let out = datafusion::arrow::compute::kernels::numeric::rem(&arrays[0], &arrays[1])
            .map_err(|e| match e {
                datafusion::arrow::error::ArrowError::DivideByZero => ext(eddy_common::Error::new(
                    eddy_common::SqlState::DIVISION_BY_ZERO,
                    "division by zero",
                )),
                other => DataFusionError::ArrowError(Box::new(other), None),
            })?;
        result(out, all_scalar)
    }
}
