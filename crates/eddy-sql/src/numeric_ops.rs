//! PostgreSQL's `numeric` operators, functions, casts and aggregates over Eddy's numeric
//! columns (`eddy_common::numeric_array`: each value keeps its own display scale). Arrow's
//! decimals have one scale per column, so DataFusion's own decimal arithmetic cannot give
//! PostgreSQL's results (`1/3` has 20 fraction digits, `2.50 * 2` prints `5.00`); these
//! compute with `eddy_common::numeric::Numeric`, row by row. `numeric_plan` puts them in plans.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use eddy_common::numeric::{Numeric, NumericMoments};
use eddy_common::numeric_array::{self, NUMERIC_ARROW};
use eddy_common::numeric_codec::value_key;
use eddy_common::types::NumericTypmod;

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
            Op::Key => numeric_array::value_keys(&arrays[0]),
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
    typmod: Option<NumericTypmod>,
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
        cast_values(&args.args, args.number_rows, self.typmod)
    }
}

/// The first argument cast to numeric and fitted to `typmod`.
fn cast_values(
    args: &[ColumnarValue],
    rows: usize,
    typmod: Option<NumericTypmod>,
) -> Result<ColumnarValue> {
    let (arrays, all_scalar) = arrays(&args[..1], rows)?;
    let out = numeric_array::cast_to_numeric(&arrays[0], typmod).map_err(ext)?;
    result(out, all_scalar)
}

pub fn to_numeric(typmod: Option<NumericTypmod>) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(ToNumeric {
        typmod,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

/// `numeric_typmod(x, p, s)`: what `pg_syntax` makes of `x::numeric(p,s)`. `pg_numeric`
/// plans it as `to_numeric` with that typmod; run as it is, it does the same.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TypmodCast {
    signature: Signature,
}

/// The typmod of a `numeric_typmod` call's constant arguments, checked as PostgreSQL checks
/// it.
pub fn constant_typmod(p: Option<&ScalarValue>, s: Option<&ScalarValue>) -> Result<NumericTypmod> {
    let int = |v: Option<&ScalarValue>| match v.map(|v| v.cast_to(&DataType::Int64)) {
        Some(Ok(ScalarValue::Int64(Some(n)))) => Some(n),
        _ => None,
    };
    match (int(p), int(s)) {
        (Some(p), Some(s)) => eddy_common::types::numeric_typmod(p, s).map_err(ext),
        _ => Err(ext(eddy_common::Error::new(
            eddy_common::SqlState::SYNTAX_ERROR,
            "a numeric type modifier must be an integer constant",
        ))),
    }
}

impl ScalarUDFImpl for TypmodCast {
    fn name(&self) -> &str {
        crate::numeric_plan::TYPMOD_CAST
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(NUMERIC_ARROW)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = |a: &ColumnarValue| match a {
            ColumnarValue::Scalar(v) => Some(v.clone()),
            ColumnarValue::Array(_) => None,
        };
        let (p, s) = (scalar(&args.args[1]), scalar(&args.args[2]));
        let typmod = constant_typmod(p.as_ref(), s.as_ref())?;
        cast_values(&args.args[..1], args.number_rows, Some(typmod))
    }
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

/// The aggregates computed over numerics: `sum`, `avg`, and the variances and standard
/// deviations. `avg` and the statistics of integers are numerics too, as in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggFn {
    Sum,
    Avg,
    /// `var_samp`/`var_pop`, or with `sqrt` `stddev_samp`/`stddev_pop`.
    Var {
        sample: bool,
        sqrt: bool,
    },
}

impl AggFn {
    const ALL: [AggFn; 6] = [
        AggFn::Sum,
        AggFn::Avg,
        AggFn::Var {
            sample: true,
            sqrt: false,
        },
        AggFn::Var {
            sample: false,
            sqrt: false,
        },
        AggFn::Var {
            sample: true,
            sqrt: true,
        },
        AggFn::Var {
            sample: false,
            sqrt: true,
        },
    ];

    /// The name of the aggregate computing it over numerics.
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Sum => "numeric_sum",
            AggFn::Avg => "numeric_avg",
            AggFn::Var {
                sample: true,
                sqrt: false,
            } => "numeric_var_samp",
            AggFn::Var {
                sample: false,
                sqrt: false,
            } => "numeric_var_pop",
            AggFn::Var {
                sample: true,
                sqrt: true,
            } => "numeric_stddev_samp",
            AggFn::Var {
                sample: false,
                sqrt: true,
            } => "numeric_stddev_pop",
        }
    }

    /// Which of these an aggregate named `name` (as [`AggFn::name`] gives) computes.
    pub fn from_name(name: &str) -> Option<AggFn> {
        AggFn::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Which of these DataFusion's aggregate `name` is, over numerics.
    pub fn of_datafusion(name: &str) -> Option<AggFn> {
        Some(match name {
            "sum" => AggFn::Sum,
            "avg" | "mean" => AggFn::Avg,
            "var" | "var_samp" | "var_sample" | "variance" => AggFn::Var {
                sample: true,
                sqrt: false,
            },
            "var_pop" | "var_population" => AggFn::Var {
                sample: false,
                sqrt: false,
            },
            "stddev" | "stddev_samp" => AggFn::Var {
                sample: true,
                sqrt: true,
            },
            "stddev_pop" => AggFn::Var {
                sample: false,
                sqrt: true,
            },
            _ => return None,
        })
    }

    /// Whether it is computed as a numeric over an argument of type `t`: over numerics, and
    /// for all but `sum` over integers too (PostgreSQL's `sum(int)` is an integer).
    pub fn over(self, t: &DataType) -> bool {
        numeric_array::is_numeric(t) || (self != AggFn::Sum && t.is_signed_integer())
    }
}

/// An aggregate of numerics ([`AggFn`]), with PostgreSQL's special values: a NaN makes a sum
/// NaN, as do infinities of both signs, and any of them makes a variance NaN. They are kept
/// as counts beside the finite sums, so a sliding window can take values back out.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NumericAgg {
    kind: AggFn,
    signature: Signature,
}

#[derive(Debug)]
struct SumState {
    kind: AggFn,
    /// The finite values' sum, and their squares' sum for a variance.
    finite: NumericMoments,
    count: i64,
    nan: i64,
    pinf: i64,
    ninf: i64,
}

impl SumState {
    fn new(kind: AggFn) -> SumState {
        SumState {
            kind,
            finite: NumericMoments::default(),
            count: 0,
            nan: 0,
            pinf: 0,
            ninf: 0,
        }
    }

    /// Whether the squares are summed too.
    fn squares(&self) -> bool {
        matches!(self.kind, AggFn::Var { .. })
    }

    fn add(&mut self, v: &Numeric, sign: i64) {
        self.count += sign;
        match v {
            Numeric::NaN => self.nan += sign,
            Numeric::PosInf => self.pinf += sign,
            Numeric::NegInf => self.ninf += sign,
            v if self.squares() => self.finite.add(v, sign),
            v => self.finite.sum.add(v, sign),
        }
    }

    /// `add` of the finite value `m × 10^-scale`, without big integers.
    fn add_small(&mut self, m: i128, scale: u32, sign: i64) {
        self.count += sign;
        match self.squares() {
            true => self.finite.add_small(m, scale, sign),
            false => self.finite.sum.add_small(m, scale, sign),
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
            self.finite.sum.total()
        })
    }

    fn value(&self) -> Result<Option<Numeric>> {
        Ok(match self.kind {
            AggFn::Sum => self.total(),
            AggFn::Avg => match self.total() {
                Some(t) => Some(t.div(&Numeric::from_i64(self.count)).map_err(ext)?),
                None => None,
            },
            AggFn::Var { sample, sqrt } => {
                let special = self.nan + self.pinf + self.ninf;
                (self.finite)
                    .variance(self.count - special, special, sample, sqrt)
                    .map_err(ext)?
            }
        })
    }
}

/// The values an aggregate over `DISTINCT` numerics has seen: each value's bytes (scale
/// included) and how many times, so values can be taken back out of a window's frame.
type Seen = std::collections::BTreeMap<Vec<u8>, i64>;

#[derive(Debug)]
struct NumericAccumulator {
    state: SumState,
    /// With `DISTINCT`: the values, aggregated when the result is asked for.
    distinct: Option<Seen>,
}

impl NumericAccumulator {
    fn new(kind: AggFn, distinct: bool) -> NumericAccumulator {
        NumericAccumulator {
            state: SumState::new(kind),
            distinct: distinct.then(Seen::new),
        }
    }

    fn update(&mut self, values: &[ArrayRef], sign: i64) -> Result<()> {
        let arr = numeric_array::cast_to_numeric(&values[0], None).map_err(ext)?;
        if let Some(seen) = &mut self.distinct {
            for v in arr.as_binary::<i64>().iter().flatten() {
                count_seen(seen, v, sign);
            }
            return Ok(());
        }
        for b in arr.as_binary::<i64>().iter().flatten() {
            match Numeric::small_parts(b) {
                Some((m, scale)) => self.state.add_small(m, scale, sign),
                None => self.state.add(&Numeric::from_bytes(b).map_err(ext)?, sign),
            }
        }
        Ok(())
    }

    /// The aggregate of the distinct values: equal values count once, whatever their scales,
    /// as the one with the largest bytes (PostgreSQL keeps whichever its sort put first).
    fn distinct_state(&self, seen: &Seen) -> Result<SumState> {
        let mut state = SumState::new(self.state.kind);
        let mut last: Option<&[u8]> = None;
        for v in seen.keys().rev() {
            if last.is_some_and(|l| value_key(l) == value_key(v)) {
                continue;
            }
            last = Some(v);
            state.add(&Numeric::from_bytes(v).map_err(ext)?, 1);
        }
        Ok(state)
    }
}

/// Counts `n` more (or, negative, fewer) of `v`; a value none are left of is forgotten.
fn count_seen(seen: &mut Seen, v: &[u8], n: i64) {
    match seen.get_mut(v) {
        Some(c) if *c + n > 0 => *c += n,
        Some(_) => {
            seen.remove(v);
        }
        None if n > 0 => {
            seen.insert(v.to_vec(), n);
        }
        None => {}
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
        let v = match &self.distinct {
            Some(seen) => self.distinct_state(seen)?.value()?,
            None => self.state.value()?,
        };
        Ok(ScalarValue::LargeBinary(v.map(|v| v.to_bytes())))
    }

    fn size(&self) -> usize {
        let seen = (self.distinct.iter().flatten())
            .map(|(k, _)| k.len() + 32)
            .sum::<usize>();
        std::mem::size_of_val(self) + 64 + seen
    }

    /// A partial aggregate: the sums and counts, or with `DISTINCT` the values seen.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = &self.state;
        let sums = match &self.distinct {
            Some(seen) => {
                let mut b = vec![];
                for (v, n) in seen {
                    b.extend_from_slice(&(v.len() as u32).to_be_bytes());
                    b.extend_from_slice(v);
                    b.extend_from_slice(&n.to_be_bytes());
                }
                b
            }
            None => s.finite.encode(),
        };
        Ok(vec![
            ScalarValue::LargeBinary(Some(sums)),
            ScalarValue::Int64(Some(s.count)),
            ScalarValue::Int64(Some(s.nan)),
            ScalarValue::Int64(Some(s.pinf)),
            ScalarValue::Int64(Some(s.ninf)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let sums = states[0].as_binary::<i64>();
        let counts: Vec<&Int64Array> = states[1..].iter().map(|a| a.as_primitive()).collect();
        for i in 0..sums.len() {
            if let Some(seen) = &mut self.distinct {
                let mut b = sums.value(i);
                let corrupt = || ext(eddy_common::Error::internal("corrupt distinct numerics"));
                while !b.is_empty() {
                    let len = b.get(..4).ok_or_else(corrupt)?;
                    let len = u32::from_be_bytes(len.try_into().expect("4")) as usize;
                    let v = b.get(4..4 + len).ok_or_else(corrupt)?;
                    let n = b.get(4 + len..12 + len).ok_or_else(corrupt)?;
                    count_seen(seen, v, i64::from_be_bytes(n.try_into().expect("8")));
                    b = &b[12 + len..];
                }
                continue;
            }
            if sums.is_valid(i) {
                let part = NumericMoments::decode(Some(sums.value(i))).map_err(ext)?;
                self.state.finite.sum.merge(&part.sum);
                self.state.finite.squares.merge(&part.squares);
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
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(NUMERIC_ARROW)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NumericAccumulator::new(
            self.kind,
            args.is_distinct,
        )))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let f = |n: &str, t: DataType| Arc::new(Field::new(format!("{}[{n}]", args.name), t, true));
        Ok(vec![
            f("sums", DataType::LargeBinary),
            f("count", DataType::Int64),
            f("nan", DataType::Int64),
            f("pinf", DataType::Int64),
            f("ninf", DataType::Int64),
        ])
    }
}

/// The aggregate computing `kind` over numerics.
pub fn aggregate(kind: AggFn) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::new_from_impl(NumericAgg {
        kind,
        signature: Signature::any(1, Volatility::Immutable),
    }))
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
        let mut acc = NumericAccumulator::new(AggFn::Avg, false);
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

/// DataFusion's `sum`, `avg`, `var*` and `stddev*`, made to take numerics too (and to give a
/// numeric for `avg` and the statistics of integers, as PostgreSQL does); other arguments go
/// to DataFusion's own.
#[derive(Debug, PartialEq, Eq, Hash)]
struct AggOverload {
    inner: Arc<AggregateUDF>,
    kind: AggFn,
    aliases: Vec<String>,
    signature: Signature,
}

impl AggOverload {
    fn numeric(&self, types: &[DataType]) -> bool {
        types.iter().any(|t| self.kind.over(t))
    }
}

impl AggregateUDFImpl for AggOverload {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
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
        Ok(Box::new(NumericAccumulator::new(
            self.kind,
            args.is_distinct,
        )))
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
            kind: self.kind,
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
    ctx.register_udf(ScalarUDF::new_from_impl(TypmodCast {
        signature: Signature::any(3, Volatility::Immutable),
    }));
    ctx.register_udf(ScalarUDF::new_from_impl(Mod {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    // PostgreSQL's `variance` is `var_samp`, a name DataFusion does not know.
    let names: &[(&str, &[&str])] = &[
        ("sum", &[]),
        ("avg", &[]),
        ("var", &["variance"]),
        ("var_pop", &[]),
        ("stddev", &[]),
        ("stddev_pop", &[]),
    ];
    for (name, extra) in names {
        let (Ok(inner), Some(kind)) = (ctx.udaf(name), AggFn::of_datafusion(name)) else {
            continue;
        };
        let mut aliases = inner.aliases().to_vec();
        aliases.extend(extra.iter().map(|a| a.to_string()));
        ctx.register_udaf(AggregateUDF::new_from_impl(AggOverload {
            inner,
            kind,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
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
