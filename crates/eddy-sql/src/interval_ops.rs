//! `interval * number`, `number * interval` and `interval / number`, which Arrow does not
//! define, computed as PostgreSQL's `interval_mul`/`interval_div` do: whole months and days
//! scale in place, and their fractions cascade down (a month is 30 days, a day 24 hours).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, IntervalMonthDayNanoBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit,
};
use datafusion::common::{DFSchema, DataFusionError, Result};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, ExprSchemable, ScalarFunctionImplementation, ScalarUDF, Volatility,
    cast as cast_expr, create_udf,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use eddy_common::{Error, SqlState};

const DAYS_PER_MONTH: f64 = 30.0;
const SECS_PER_DAY: f64 = 86_400.0;

/// PostgreSQL's TSROUND: to the microsecond, in seconds.
fn ts_round(v: f64) -> f64 {
    (v * 1e6).round_ties_even() / 1e6
}

/// The interval `span` times `factor` (or divided by it), field by field as PostgreSQL does.
pub fn scale(
    span: IntervalMonthDayNano,
    factor: f64,
    divide: bool,
) -> Option<IntervalMonthDayNano> {
    let apply = |v: f64| if divide { v / factor } else { v * factor };
    let months_f = apply(span.months as f64);
    let days_f = apply(span.days as f64);
    let micros = span.nanoseconds as f64 / 1000.0;
    if !months_f.is_finite() || !days_f.is_finite() || months_f.abs() > i32::MAX as f64 {
        return None;
    }
    let months = months_f as i32;
    let mut days = days_f as i32;
    let month_remainder_days = ts_round((months_f - months as f64) * DAYS_PER_MONTH);
    let mut sec_remainder = ts_round(
        (days_f - days as f64 + month_remainder_days - month_remainder_days.trunc()) * SECS_PER_DAY,
    );
    if sec_remainder.abs() >= SECS_PER_DAY {
        let whole = (sec_remainder / SECS_PER_DAY).trunc();
        days += whole as i32;
        sec_remainder -= whole * SECS_PER_DAY;
    }
    days += month_remainder_days as i32;
    let time = (apply(micros) + sec_remainder * 1e6).round_ties_even();
    if !time.is_finite() || time.abs() > i64::MAX as f64 / 1000.0 {
        return None;
    }
    Some(IntervalMonthDayNano::new(months, days, time as i64 * 1000))
}

fn scale_impl(divide: bool) -> ScalarFunctionImplementation {
    Arc::new(move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let spans = arrays[0].as_primitive::<IntervalMonthDayNanoType>();
        let factors = arrays[1].as_primitive::<Float64Type>();
        let mut out = IntervalMonthDayNanoBuilder::with_capacity(spans.len());
        for i in 0..spans.len() {
            if spans.is_null(i) || factors.is_null(i) {
                out.append_null();
                continue;
            }
            let f = factors.value(i);
            if divide && f == 0.0 {
                return Err(DataFusionError::External(Box::new(Error::new(
                    SqlState::DIVISION_BY_ZERO,
                    "division by zero",
                ))));
            }
            match scale(spans.value(i), f, divide) {
                Some(v) => out.append_value(v),
                None => {
                    return Err(DataFusionError::External(Box::new(Error::new(
                        SqlState::DATETIME_FIELD_OVERFLOW,
                        "interval out of range",
                    ))));
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    })
}

#[derive(Debug)]
pub struct IntervalArithmetic {
    mul: Arc<ScalarUDF>,
    div: Arc<ScalarUDF>,
}

impl Default for IntervalArithmetic {
    fn default() -> Self {
        let make = |name: &str, divide: bool| {
            Arc::new(create_udf(
                name,
                vec![
                    DataType::Interval(IntervalUnit::MonthDayNano),
                    DataType::Float64,
                ],
                DataType::Interval(IntervalUnit::MonthDayNano),
                Volatility::Immutable,
                scale_impl(divide),
            ))
        };
        IntervalArithmetic {
            mul: make("interval_mul", false),
            div: make("interval_div", true),
        }
    }
}

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_))
}

impl ExprPlanner for IntervalArithmetic {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        if !matches!(expr.op, BinaryOperator::Multiply | BinaryOperator::Divide) {
            return Ok(PlannerResult::Original(expr));
        }
        let (Ok(l), Ok(r)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let interval = DataType::Interval(IntervalUnit::MonthDayNano);
        let call = |f: &Arc<ScalarUDF>, span, factor| {
            Ok(PlannerResult::Planned(f.call(vec![
                cast_expr(span, interval.clone()),
                cast_expr(factor, DataType::Float64),
            ])))
        };
        match expr.op {
            BinaryOperator::Multiply if is_interval(&l) && r.is_numeric() => {
                call(&self.mul, expr.left, expr.right)
            }
            BinaryOperator::Multiply if l.is_numeric() && is_interval(&r) => {
                call(&self.mul, expr.right, expr.left)
            }
            BinaryOperator::Divide if is_interval(&l) && r.is_numeric() => {
                call(&self.div, expr.left, expr.right)
            }
            _ => Ok(PlannerResult::Original(expr)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(m: i32, d: i32, us: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(m, d, us * 1000)
    }

    #[test]
    fn fractions_cascade_down_like_postgres() {
        // '1 mon' * 1.5 = '1 mon 15 days'; '1 day' / 2 = '12:00:00'; '1 day' * 2 = '2 days'
        assert_eq!(scale(iv(1, 0, 0), 1.5, false), Some(iv(1, 15, 0)));
        assert_eq!(
            scale(iv(0, 1, 0), 2.0, true),
            Some(iv(0, 0, 43_200_000_000))
        );
        assert_eq!(scale(iv(0, 1, 0), 2.0, false), Some(iv(0, 2, 0)));
        // '1 mon 1 day 01:00' / 3 = '10 days 08:20:00'
        assert_eq!(
            scale(iv(1, 1, 3_600_000_000), 3.0, true),
            Some(iv(0, 10, 30_000_000_000))
        );
    }
}
