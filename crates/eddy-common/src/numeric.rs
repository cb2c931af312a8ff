//! PostgreSQL's `numeric` as a value: an exact decimal with a display scale of its own
//! (`1.50` and `1.5` are equal but print differently), plus `NaN` and `±Infinity`.
//!
//! The arithmetic follows PostgreSQL's `numeric.c` rule for rule, because what users see is
//! the result's scale: `+`/`-` keep the larger scale, `*` the sum of the scales, `/` picks its
//! scale from the operands' leading digits (`select_div_scale`: at least 16 significant
//! digits, so `1/3` is `0.33333333333333333333` and `5.0/3` is `1.6666666666666667`), and a
//! rounded result rounds half away from zero. A finite value is an integer mantissa and the
//! number of digits after the point, so every operation is exact big-integer arithmetic;
//! PostgreSQL's base-10000 digit groups only matter for the division scale and are derived
//! from the decimal digits there.
//!
//! This is the value layer only: how numerics are carried in Arrow columns, stored and sent
//! is the job of the layers that use it.

use std::cmp::Ordering;

use num_bigint::{BigInt, Sign};
use num_traits::{Signed, ToPrimitive, Zero};

use crate::error::{Error, Result, SqlState};

/// Significant digits a division or square root gives at least (`NUMERIC_MIN_SIG_DIGITS`).
const MIN_SIG_DIGITS: i64 = 16;
/// Largest display scale a computed result gets (`NUMERIC_MAX_DISPLAY_SCALE`).
const MAX_DISPLAY_SCALE: i64 = 1000;
/// Decimal digits per PostgreSQL digit group (`DEC_DIGITS`, base `NBASE` = 10000).
const DEC_DIGITS: i64 = 4;
/// PostgreSQL's own approximations of log10(e) and log10(2) in `exp_var`, kept as written so
/// that its scale estimates truncate exactly as PostgreSQL's do.
#[allow(clippy::approx_constant)]
const PG_LOG10_E: f64 = 0.434294481903252;
#[allow(clippy::approx_constant)]
const PG_LOG10_2: f64 = 0.301029995663981;

#[derive(Clone, Debug)]
pub enum Numeric {
    /// `mantissa × 10^-dscale`, exactly; `dscale` is also how many fraction digits it prints.
    Finite {
        mantissa: BigInt,
        dscale: u32,
    },
    PosInf,
    NegInf,
    NaN,
}

fn pow10(n: u32) -> BigInt {
    BigInt::from(10u32).pow(n)
}

/// `n / d` rounded half away from zero (`d` > 0).
fn div_round(n: &BigInt, d: &BigInt) -> BigInt {
    let (q, r) = (n / d, n % d);
    if (r.abs() * 2u32) >= *d {
        q + if n.is_negative() { -1 } else { 1 }
    } else {
        q
    }
}

fn overflow(what: &str) -> Error {
    Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, what.to_string())
}

impl Numeric {
    pub fn finite(mantissa: BigInt, dscale: u32) -> Numeric {
        Numeric::Finite { mantissa, dscale }
    }

    pub fn zero() -> Numeric {
        Numeric::finite(BigInt::zero(), 0)
    }

    /// An Arrow decimal's value: `v × 10^-scale` (a negative scale multiplies).
    pub fn from_i128(v: i128, scale: i32) -> Numeric {
        Numeric::scaled_mantissa(BigInt::from(v), scale)
    }

    /// A mantissa written in decimal digits (a wider Arrow decimal's), `× 10^-scale`.
    pub fn from_mantissa_text(digits: &str, scale: i32) -> Option<Numeric> {
        digits
            .parse()
            .ok()
            .map(|m| Numeric::scaled_mantissa(m, scale))
    }

    fn scaled_mantissa(m: BigInt, scale: i32) -> Numeric {
        match scale {
            s if s >= 0 => Numeric::finite(m, s as u32),
            s => Numeric::finite(m * pow10(s.unsigned_abs()), 0),
        }
    }

    pub fn from_i64(v: i64) -> Numeric {
        Numeric::finite(BigInt::from(v), 0)
    }

    /// A `double precision` as PostgreSQL casts it: rounded to 15 significant digits
    /// (`DBL_DIG`), so `0.1::float8::numeric` is `0.1`.
    pub fn from_f64(v: f64) -> Numeric {
        if v.is_nan() {
            return Numeric::NaN;
        }
        if v.is_infinite() {
            return if v > 0.0 {
                Numeric::PosInf
            } else {
                Numeric::NegInf
            };
        }
        // `%.15g`: 15 significant digits, then trailing zeros of the fraction dropped.
        let sci = format!("{:.14e}", v);
        let parsed = Numeric::parse(&sci).expect("a formatted float is a number");
        parsed.without_trailing_zeros()
    }

    /// A `real` as PostgreSQL casts it: rounded to 6 significant digits (`FLT_DIG`).
    pub fn from_f32(v: f32) -> Numeric {
        if !v.is_finite() {
            return Numeric::from_f64(v as f64);
        }
        let sci = format!("{:.5e}", v);
        let parsed = Numeric::parse(&sci).expect("a formatted float is a number");
        parsed.without_trailing_zeros()
    }

    /// The same value with no zeros at the end of its fraction (`trim_scale`).
    pub fn without_trailing_zeros(&self) -> Numeric {
        match self {
            Numeric::Finite { mantissa, dscale } => {
                let (mut m, mut s) = (mantissa.clone(), *dscale);
                let ten = BigInt::from(10u32);
                while s > 0 && (&m % &ten).is_zero() {
                    m /= &ten;
                    s -= 1;
                }
                Numeric::finite(m, s)
            }
            other => other.clone(),
        }
    }

    pub fn dscale(&self) -> u32 {
        match self {
            Numeric::Finite { dscale, .. } => *dscale,
            _ => 0,
        }
    }

    pub fn is_zero(&self) -> bool {
        matches!(self, Numeric::Finite { mantissa, .. } if mantissa.is_zero())
    }

    /// Text input, as PostgreSQL reads it: `[+-]digits[.digits][e[+-]exp]` (surrounding
    /// spaces allowed), `NaN`, `Infinity`/`inf` with an optional sign. The display scale is the
    /// number of fraction digits written, less the exponent (`1.50` has 2, `1.5e3` has 0).
    pub fn parse(text: &str) -> Result<Numeric> {
        let bad = || {
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type numeric: \"{text}\""),
            )
        };
        let t = text.trim();
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        if body.eq_ignore_ascii_case("nan") && body.len() == t.len() {
            return Ok(Numeric::NaN);
        }
        if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
            return Ok(if neg {
                Numeric::NegInf
            } else {
                Numeric::PosInf
            });
        }
        let (num, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i64 = body[i + 1..].parse().map_err(|_| bad())?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int, frac) = match num.split_once('.') {
            Some((i, f)) => (i, f),
            None => (num, ""),
        };
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if exp.abs() > 1_000 {
            return Err(overflow("value overflows numeric format"));
        }
        let digits = format!("{int}{frac}");
        let mut mantissa: BigInt = if digits.is_empty() {
            BigInt::zero()
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let scale = frac.len() as i64 - exp;
        let dscale = if scale < 0 {
            mantissa *= pow10((-scale) as u32);
            0
        } else {
            scale as u32
        };
        if neg {
            mantissa = -mantissa;
        }
        Ok(Numeric::finite(mantissa, dscale))
    }

    /// The mantissa at a larger scale.
    fn scaled(mantissa: &BigInt, from: u32, to: u32) -> BigInt {
        mantissa * pow10(to - from)
    }

    /// Both mantissas at the larger of their scales, and that scale.
    fn aligned(a: &BigInt, sa: u32, b: &BigInt, sb: u32) -> (BigInt, BigInt, u32) {
        let s = sa.max(sb);
        (Self::scaled(a, sa, s), Self::scaled(b, sb, s), s)
    }

    /// Less, Equal or Greater than zero (NaN counts as Greater, as it sorts above all).
    pub fn sign(&self) -> Ordering {
        match self {
            Numeric::Finite { mantissa, .. } => mantissa.cmp(&BigInt::zero()),
            Numeric::PosInf | Numeric::NaN => Ordering::Greater,
            Numeric::NegInf => Ordering::Less,
        }
    }

    pub fn neg(&self) -> Numeric {
        match self {
            Numeric::Finite { mantissa, dscale } => Numeric::finite(-mantissa, *dscale),
            Numeric::PosInf => Numeric::NegInf,
            Numeric::NegInf => Numeric::PosInf,
            Numeric::NaN => Numeric::NaN,
        }
    }

    pub fn abs(&self) -> Numeric {
        match self {
            Numeric::Finite { mantissa, dscale } => Numeric::finite(mantissa.abs(), *dscale),
            Numeric::NegInf => Numeric::PosInf,
            other => other.clone(),
        }
    }

    pub fn add(&self, other: &Numeric) -> Numeric {
        use Numeric::*;
        match (self, other) {
            (NaN, _) | (_, NaN) | (PosInf, NegInf) | (NegInf, PosInf) => NaN,
            (PosInf, _) | (_, PosInf) => PosInf,
            (NegInf, _) | (_, NegInf) => NegInf,
            (
                Finite {
                    mantissa: a,
                    dscale: sa,
                },
                Finite {
                    mantissa: b,
                    dscale: sb,
                },
            ) => {
                let (a, b, s) = Self::aligned(a, *sa, b, *sb);
                Numeric::finite(a + b, s)
            }
        }
    }

    pub fn sub(&self, other: &Numeric) -> Numeric {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Numeric) -> Numeric {
        use Numeric::*;
        match (self, other) {
            (NaN, _) | (_, NaN) => NaN,
            (
                Finite {
                    mantissa: a,
                    dscale: sa,
                },
                Finite {
                    mantissa: b,
                    dscale: sb,
                },
            ) => Numeric::finite(a * b, sa + sb),
            // An infinity times zero has no value; otherwise the signs multiply.
            (a, b) => match a.sign() as i8 * b.sign() as i8 {
                0 => NaN,
                1 => PosInf,
                _ => NegInf,
            },
        }
    }

    /// PostgreSQL's `select_div_scale`: enough fraction digits for 16 significant ones,
    /// estimated from the operands' leading base-10000 digit groups, and never fewer than
    /// either operand shows.
    fn div_scale(a: &BigInt, sa: u32, b: &BigInt, sb: u32) -> u32 {
        let lead = |m: &BigInt, s: u32| -> (i64, u32) {
            digit_groups(m, s).map_or((0, 0), |(weight, groups)| (weight, groups[0]))
        };
        let (w1, f1) = lead(a, sa);
        let (w2, f2) = lead(b, sb);
        let mut qweight = w1 - w2;
        if f1 <= f2 {
            qweight -= 1;
        }
        (MIN_SIG_DIGITS - qweight * DEC_DIGITS)
            .max(sa as i64)
            .max(sb as i64)
            .clamp(0, MAX_DISPLAY_SCALE) as u32
    }

    /// `a / b` at `rscale` fraction digits, rounded half away from zero.
    fn quotient(a: &BigInt, sa: u32, b: &BigInt, sb: u32, rscale: u32) -> BigInt {
        // a/10^sa ÷ b/10^sb = (a · 10^(sb + rscale - sa) / b) / 10^rscale
        let shift = sb as i64 + rscale as i64 - sa as i64;
        let (n, d) = if shift >= 0 {
            (a * pow10(shift as u32), b.clone())
        } else {
            (a.clone(), b * pow10((-shift) as u32))
        };
        let (n, d) = if d.is_negative() { (-n, -d) } else { (n, d) };
        div_round(&n, &d)
    }

    pub fn div(&self, other: &Numeric) -> Result<Numeric> {
        use Numeric::*;
        if other.is_zero() {
            return Err(Error::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
        }
        Ok(match (self, other) {
            (NaN, _) | (_, NaN) => NaN,
            (PosInf | NegInf, PosInf | NegInf) => NaN,
            (Finite { .. }, PosInf | NegInf) => Numeric::zero(),
            (a @ (PosInf | NegInf), b) => {
                if (a.sign() == Ordering::Greater) == (b.sign() == Ordering::Greater) {
                    PosInf
                } else {
                    NegInf
                }
            }
            (
                Finite {
                    mantissa: a,
                    dscale: sa,
                },
                Finite {
                    mantissa: b,
                    dscale: sb,
                },
            ) => {
                let rscale = Self::div_scale(a, *sa, b, *sb);
                Numeric::finite(Self::quotient(a, *sa, b, *sb, rscale), rscale)
            }
        })
    }

    /// `a % b`: the remainder of the quotient truncated to an integer, with the larger of the
    /// operands' scales (`mod_var`).
    pub fn rem(&self, other: &Numeric) -> Result<Numeric> {
        use Numeric::*;
        if other.is_zero() {
            return Err(Error::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
        }
        Ok(match (self, other) {
            (NaN, _) | (_, NaN) | (PosInf | NegInf, _) => NaN,
            (a @ Finite { .. }, PosInf | NegInf) => a.clone(),
            (
                Finite {
                    mantissa: a,
                    dscale: sa,
                },
                Finite {
                    mantissa: b,
                    dscale: sb,
                },
            ) => {
                let (a, b, s) = Self::aligned(a, *sa, b, *sb);
                // Truncated division's remainder has the dividend's sign, as PostgreSQL's.
                Numeric::finite(a % b, s)
            }
        })
    }

    /// Rounded half away from zero to `places` fraction digits (negative: to tens,
    /// hundreds...); the result shows `max(places, 0)` of them.
    pub fn round(&self, places: i32) -> Numeric {
        self.rescale(places, true)
    }

    /// Truncated toward zero to `places` fraction digits.
    pub fn trunc(&self, places: i32) -> Numeric {
        self.rescale(places, false)
    }

    fn rescale(&self, places: i32, round: bool) -> Numeric {
        let Numeric::Finite { mantissa, dscale } = self else {
            return self.clone();
        };
        let places = places.clamp(-(MAX_DISPLAY_SCALE as i32), MAX_DISPLAY_SCALE as i32);
        let shown = places.max(0) as u32;
        if places >= *dscale as i32 {
            return Numeric::finite(Self::scaled(mantissa, *dscale, shown), shown);
        }
        let drop = (*dscale as i64 - places as i64) as u32;
        let unit = pow10(drop);
        let kept = if round {
            div_round(mantissa, &unit)
        } else {
            mantissa / &unit
        };
        // Back to the digits shown: a negative `places` leaves zeros before the point.
        let m = if places < 0 {
            kept * pow10((-places) as u32)
        } else {
            kept
        };
        Numeric::finite(m, shown)
    }

    /// `sqrt`, with PostgreSQL's result scale: 16 significant digits at least (estimated from
    /// the leading digit group), never fewer fraction digits than the argument's.
    pub fn sqrt(&self) -> Result<Numeric> {
        let (mantissa, dscale) = match self {
            Numeric::NaN | Numeric::PosInf => return Ok(self.clone()),
            Numeric::NegInf => return Err(sqrt_of_negative()),
            Numeric::Finite { mantissa, dscale } => (mantissa, *dscale),
        };
        if mantissa.is_negative() {
            return Err(sqrt_of_negative());
        }
        // `sweight = (weight + 1) * DEC_DIGITS / 2 - 1`, weight in digit groups.
        let weight = digit_groups(mantissa, dscale).map_or(0, |(w, _)| w);
        let sweight = (weight + 1) * DEC_DIGITS / 2 - 1;
        let rscale = (MIN_SIG_DIGITS - sweight)
            .max(dscale as i64)
            .clamp(0, MAX_DISPLAY_SCALE) as u32;
        Ok(Self::sqrt_at(mantissa, dscale, rscale))
    }

    /// The square root of `mantissa · 10^-dscale` (not negative) rounded to `rscale` digits.
    fn sqrt_at(mantissa: &BigInt, dscale: u32, rscale: u32) -> Numeric {
        // floor(sqrt(x · 10^(2(rscale+1)))) has one digit more than wanted; round it off.
        let extra = 2 * (rscale + 1) as i64 - dscale as i64;
        let scaled = if extra >= 0 {
            mantissa * pow10(extra as u32)
        } else {
            mantissa / pow10((-extra) as u32)
        };
        let root = scaled.sqrt();
        Numeric::finite(div_round(&root, &BigInt::from(10u32)), rscale)
    }

    /// PostgreSQL's `numeric_stddev_internal`: the sample (or population) variance, or its
    /// square root, of `n` finite values with sum `sum` and sum of squares `squares`, and
    /// `special` NaN or infinite values (any of which makes it NaN). NULL for no values, or
    /// one value when `sample`. Computed exactly, then divided at PostgreSQL's scale.
    pub fn variance(
        n: i64,
        special: i64,
        sum: &Numeric,
        squares: &Numeric,
        sample: bool,
        sqrt: bool,
    ) -> Result<Option<Numeric>> {
        let total = n + special;
        if total == 0 || (sample && total <= 1) {
            return Ok(None);
        }
        if special > 0 {
            return Ok(Some(Numeric::NaN));
        }
        let rscale = 2 * sum.dscale() as i32;
        let count = Numeric::from_i64(n);
        let numerator = count
            .mul(squares)
            .round(rscale)
            .sub(&sum.mul(sum).round(rscale));
        let Numeric::Finite {
            mantissa: num,
            dscale: ns,
        } = &numerator
        else {
            return Err(Error::internal("variance of special values"));
        };
        // Rounding can leave a tiny negative numerator where the true one is zero.
        if !num.is_positive() {
            return Ok(Some(Numeric::zero()));
        }
        let n = BigInt::from(n);
        let den = if sample { &n * (&n - 1) } else { &n * &n };
        let rscale = Self::div_scale(num, *ns, &den, 0);
        let q = Self::quotient(num, *ns, &den, 0, rscale);
        Ok(Some(match sqrt {
            true => Self::sqrt_at(&q, rscale, rscale),
            false => Numeric::finite(q, rscale),
        }))
    }

    /// PostgreSQL's base-10000 digit groups of the absolute value (see [`digit_groups`]).
    pub(crate) fn groups(&self) -> Option<(i64, Vec<u32>)> {
        match self {
            Numeric::Finite { mantissa, dscale } => digit_groups(mantissa, *dscale),
            _ => None,
        }
    }

    /// `ln`, with PostgreSQL's result scale (`estimate_ln_dweight`): 16 significant digits at
    /// least, never fewer fraction digits than the argument's.
    pub fn ln(&self) -> Result<Numeric> {
        let (mantissa, dscale) = match self {
            Numeric::NaN | Numeric::PosInf => return Ok(self.clone()),
            Numeric::NegInf => return Err(log_of_negative()),
            Numeric::Finite { mantissa, dscale } => (mantissa, *dscale),
        };
        match mantissa.sign() {
            Sign::NoSign => {
                return Err(Error::new(
                    SqlState::INVALID_ARGUMENT_FOR_LOG,
                    "cannot take logarithm of zero",
                ));
            }
            Sign::Minus => return Err(log_of_negative()),
            Sign::Plus => {}
        }
        let ln_dweight = self.ln_dweight();
        let rscale = (MIN_SIG_DIGITS - ln_dweight)
            .max(dscale as i64)
            .clamp(0, MAX_DISPLAY_SCALE) as u32;
        Ok(Numeric::ln_at(mantissa, dscale, rscale))
    }

    /// `ln(m · 10^-s)` (positive) correctly rounded at `rscale` fraction digits (`ln_var`).
    fn ln_at(mantissa: &BigInt, dscale: u32, rscale: u32) -> Numeric {
        let work = rscale + GUARD_DIGITS;
        let v = fixed_ln(mantissa, dscale, work);
        Numeric::finite(div_round(&v, &pow10(GUARD_DIGITS)), rscale)
    }

    /// PostgreSQL's estimate of the decimal weight of `ln(self)` (`estimate_ln_dweight`), from
    /// which `ln`, `log` and `power` choose their scales; `self` is positive.
    fn ln_dweight(&self) -> i64 {
        let near_one = *self >= Numeric::parse("0.9").expect("literal")
            && *self <= Numeric::parse("1.1").expect("literal");
        if near_one {
            return match self.sub(&Numeric::from_i64(1)).groups() {
                Some((w, g)) => w * DEC_DIGITS + (g[0] as f64).log10() as i64,
                None => 0,
            };
        }
        let Some((w, g)) = self.groups() else {
            return 0;
        };
        let (digits, dweight) = match g.get(1) {
            Some(second) => (
                g[0] as f64 * 10000.0 + *second as f64,
                w * DEC_DIGITS - DEC_DIGITS,
            ),
            None => (g[0] as f64, w * DEC_DIGITS),
        };
        let ln = digits.ln() + dweight as f64 * std::f64::consts::LN_10;
        ln.abs().log10() as i64
    }

    /// `exp`, with PostgreSQL's result scale: 16 significant digits at least (estimated from
    /// `x · log10(e)`), never fewer fraction digits than the argument's. The digits are those
    /// of PostgreSQL's `exp_var`, step for step: its series stops at the first term that
    /// rounds to zero at its working scale, so its last digit is not always the correctly
    /// rounded one, and PostgreSQL's is what users compare with.
    pub fn exp(&self) -> Result<Numeric> {
        let dscale = match self {
            Numeric::NaN | Numeric::PosInf => return Ok(self.clone()),
            Numeric::NegInf => return Ok(Numeric::zero()),
            Numeric::Finite { dscale, .. } => *dscale,
        };
        let val = self.to_f64();
        let est = (val * PG_LOG10_E).clamp(-2000.0, 2000.0);
        let rscale = (MIN_SIG_DIGITS - est as i64)
            .max(dscale as i64)
            .clamp(0, MAX_DISPLAY_SCALE);
        self.exp_at(rscale)
    }

    /// `exp_var`: `e^self` (finite) at `rscale` fraction digits.
    fn exp_at(&self, rscale: i64) -> Result<Numeric> {
        let dscale = self.dscale();
        let val = self.to_f64();
        // PostgreSQL's bound (`NUMERIC_MAX_RESULT_SCALE * 3`): beyond it the result overflows,
        // or underflows to zero.
        if val.abs() >= 6000.0 {
            if val > 0.0 {
                return Err(overflow("value overflows numeric format"));
            }
            return Ok(Numeric::finite(BigInt::zero(), rscale as u32));
        }
        let dweight = (val * PG_LOG10_E) as i64;
        // Halved until |x| <= 0.01, for the series to converge fast.
        let mut x = self.clone();
        let mut ndiv2 = 0u32;
        if val.abs() > 0.01 {
            let mut v = val / 2.0;
            ndiv2 = 1;
            while v.abs() > 0.01 {
                ndiv2 += 1;
                v /= 2.0;
            }
            x = x.div_int_rounded(1i64 << ndiv2, (dscale + ndiv2) as i64);
        }
        let sig_digits = (1 + dweight + rscale + (ndiv2 as f64 * PG_LOG10_2) as i64).max(0) + 8;
        let local = sig_digits - 1;
        let mut result = Numeric::from_i64(1).add(&x);
        let mut elem = x.mul(&x).round(local as i32);
        let mut ni = 2;
        elem = elem.div_int_rounded(ni, local);
        while !elem.is_zero() {
            result = result.add(&elem);
            elem = elem.mul(&x).round(local as i32);
            ni += 1;
            elem = elem.div_int_rounded(ni, local);
        }
        for _ in 0..ndiv2 {
            let weight = result.groups().map_or(0, |(w, _)| w);
            let local = (sig_digits - weight * 2 * DEC_DIGITS).max(0);
            result = result.mul(&result).round(local as i32);
        }
        Ok(result.round(rscale as i32))
    }

    /// `self / n` rounded half away from zero at `scale` fraction digits (`div_var_int`).
    fn div_int_rounded(&self, n: i64, scale: i64) -> Numeric {
        let Numeric::Finite { mantissa, dscale } = self else {
            return self.clone();
        };
        let scale = scale.max(0) as u32;
        let q = Self::quotient(mantissa, *dscale, &BigInt::from(n), 0, scale);
        Numeric::finite(q, scale)
    }

    /// The nearest integer at or above the value (`ceil`), shown without fraction digits.
    pub fn ceil(&self) -> Numeric {
        self.to_integer(true)
    }

    /// The nearest integer at or below the value (`floor`), shown without fraction digits.
    pub fn floor(&self) -> Numeric {
        self.to_integer(false)
    }

    fn to_integer(&self, up: bool) -> Numeric {
        let Numeric::Finite { mantissa, dscale } = self else {
            return self.clone();
        };
        let unit = pow10(*dscale);
        let (q, r) = (mantissa / &unit, mantissa % &unit);
        let q = match r.sign() {
            Sign::Plus if up => q + 1,
            Sign::Minus if !up => q - 1,
            _ => q,
        };
        Numeric::finite(q, 0)
    }

    /// `sign`: -1, 0 or 1 without fraction digits (NaN stays NaN).
    pub fn signum(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            n if n.is_zero() => Numeric::zero(),
            n => Numeric::from_i64(if n.sign() == Ordering::Less { -1 } else { 1 }),
        }
    }

    /// Whether the value is a whole number (infinities are not).
    pub fn is_integral(&self) -> bool {
        match self {
            Numeric::Finite { mantissa, dscale } => (mantissa % pow10(*dscale)).is_zero(),
            _ => false,
        }
    }

    /// `power(self, exp)` (`^`), with PostgreSQL's special cases, errors and scales
    /// (`numeric_power`, `power_var`, `power_var_int`).
    pub fn power(&self, exp: &Numeric) -> Result<Numeric> {
        use Numeric::*;
        let one = Numeric::from_i64(1);
        // POSIX pow(): NaN ^ 0 = 1 and 1 ^ NaN = 1; every other NaN gives NaN.
        if matches!(self, NaN) {
            return Ok(if exp.is_zero() { one } else { NaN });
        }
        if matches!(exp, NaN) {
            return Ok(if *self == one { one } else { NaN });
        }
        let (sign1, sign2) = (self.sign_of(), exp.sign_of());
        if sign1 == 0 && sign2 < 0 {
            return Err(Error::new(
                SqlState::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                "zero raised to a negative power is undefined",
            ));
        }
        if sign1 < 0 && !exp.is_integral() && !matches!(exp, PosInf | NegInf) {
            return Err(Error::new(
                SqlState::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
                "a negative number raised to a non-integer power yields a complex result",
            ));
        }
        if matches!(self, PosInf | NegInf) || matches!(exp, PosInf | NegInf) {
            return Ok(self.power_special(exp));
        }
        // An integer exponent that fits in 32 bits: repeated multiplication.
        if exp.is_integral()
            && let Ok(n) = exp.to_int(64)
            && let Ok(n) = i32::try_from(n)
        {
            let rscale = MIN_SIG_DIGITS
                .max(self.dscale() as i64)
                .clamp(0, MAX_DISPLAY_SCALE);
            return self.power_int(n, rscale);
        }
        if self.is_zero() {
            return Ok(Numeric::finite(BigInt::zero(), MIN_SIG_DIGITS as u32));
        }
        let Finite { mantissa, dscale } = self else {
            unreachable!("specials handled above")
        };
        if mantissa.is_negative() {
            return Err(log_of_negative());
        }
        // A low-precision exp · ln(base) estimates the result's weight, hence its scale.
        let ln_dweight = self.ln_dweight();
        let local = (8 - ln_dweight).max(0) as u32;
        let ln_num = Numeric::ln_at(mantissa, *dscale, local)
            .mul(exp)
            .round(local as i32);
        let val = ln_num.to_f64();
        if val.abs() > 6000.0 * 1.0033 {
            if val > 0.0 {
                return Err(overflow("value overflows numeric format"));
            }
            return Ok(Numeric::finite(BigInt::zero(), MAX_DISPLAY_SCALE as u32));
        }
        let val = val * PG_LOG10_E;
        let rscale = (MIN_SIG_DIGITS - val as i64)
            .max(self.dscale() as i64)
            .max(exp.dscale() as i64)
            .clamp(0, MAX_DISPLAY_SCALE);
        let sig_digits = (rscale + val as i64).max(0);
        let local = (sig_digits - ln_dweight + 8).max(0) as u32;
        let ln_num = Numeric::ln_at(mantissa, *dscale, local)
            .mul(exp)
            .round(local as i32);
        ln_num.exp_at(rscale)
    }

    /// -1, 0 or 1 as the value is below, at or above zero (NaN counts as above).
    fn sign_of(&self) -> i32 {
        match self.sign() {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }

    /// `power` where the base or the exponent is infinite, as POSIX `pow()` defines it.
    fn power_special(&self, exp: &Numeric) -> Numeric {
        use Numeric::*;
        let one = Numeric::from_i64(1);
        if exp.is_zero() || *self == one {
            return one;
        }
        match exp {
            PosInf | NegInf => {
                let mag = self.abs().cmp(&one);
                if mag == Ordering::Equal {
                    return one;
                }
                // |base| > 1 grows without bound toward +Inf, shrinks toward -Inf.
                if (mag == Ordering::Greater) == matches!(exp, PosInf) {
                    PosInf
                } else {
                    Numeric::zero()
                }
            }
            _ => {
                if exp.sign_of() < 0 {
                    return Numeric::zero();
                }
                // -Inf to an odd integer power stays negative.
                let odd = exp.is_integral()
                    && matches!(exp.round(0), Finite { ref mantissa, .. }
                        if (mantissa % 2u32) != BigInt::zero());
                if matches!(self, NegInf) && odd {
                    NegInf
                } else {
                    PosInf
                }
            }
        }
    }

    /// `power_var_int`: `self ^ n` at `rscale`, multiplying by squares with working scales
    /// that keep enough significant digits, as PostgreSQL's does.
    fn power_int(&self, n: i32, rscale: i64) -> Result<Numeric> {
        let one = Numeric::from_i64(1);
        match n {
            0 => return Ok(Numeric::finite(pow10(rscale as u32), rscale as u32)),
            1 => return Ok(self.round(rscale as i32)),
            -1 => return Numeric::quotient_at(&one, self, rscale),
            2 => return Ok(self.mul(self).round(rscale as i32)),
            _ => {}
        }
        let Some((weight, groups)) = self.groups() else {
            if n < 0 {
                return Err(Error::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
            }
            return Ok(Numeric::finite(BigInt::zero(), rscale as u32));
        };
        // base ≈ f · 10^p, so log10(result) ≈ n · (log10(f) + p).
        let mut f = groups[0] as f64;
        let mut p = weight * DEC_DIGITS;
        for g in groups.iter().skip(1).take(3) {
            f = f * 10000.0 + *g as f64;
            p -= DEC_DIGITS;
        }
        let f = n as f64 * (f.log10() + p as f64);
        if f > 3.0 * 32767.0 * 4.0 {
            return Err(overflow("value overflows numeric format"));
        }
        if f + 1.0 < -(rscale as f64) || f + 1.0 < -(MAX_DISPLAY_SCALE as f64) {
            return Ok(Numeric::finite(BigInt::zero(), rscale as u32));
        }
        let sig_digits = 1 + rscale + f as i64 + (n.unsigned_abs() as f64).ln() as i64 + 8;
        let weight_of = |v: &Numeric| v.groups().map_or(0, |(w, _)| w);
        let mut mask = n.unsigned_abs();
        let mut base_prod = self.clone();
        let mut result = if mask & 1 == 1 {
            self.clone()
        } else {
            one.clone()
        };
        loop {
            mask >>= 1;
            if mask == 0 {
                break;
            }
            let local = (sig_digits - 2 * weight_of(&base_prod) * DEC_DIGITS)
                .min(2 * base_prod.dscale() as i64)
                .max(0);
            base_prod = base_prod.mul(&base_prod).round(local as i32);
            if mask & 1 == 1 {
                let local = (sig_digits
                    - (weight_of(&base_prod) + weight_of(&result)) * DEC_DIGITS)
                    .min((base_prod.dscale() + result.dscale()) as i64)
                    .max(0);
                result = base_prod.mul(&result).round(local as i32);
            }
            if weight_of(&base_prod) > 32767 || weight_of(&result) > 32767 {
                if n > 0 {
                    return Err(overflow("value overflows numeric format"));
                }
                return Ok(Numeric::finite(BigInt::zero(), rscale as u32));
            }
        }
        if n < 0 {
            return Numeric::quotient_at(&one, &result, rscale);
        }
        Ok(result.round(rscale as i32))
    }

    /// `a / b` (finite, `b` nonzero) at `rscale` fraction digits, rounded (`div_var`).
    fn quotient_at(a: &Numeric, b: &Numeric, rscale: i64) -> Result<Numeric> {
        match (a, b) {
            (
                Numeric::Finite {
                    mantissa: m1,
                    dscale: s1,
                },
                Numeric::Finite {
                    mantissa: m2,
                    dscale: s2,
                },
            ) => {
                if m2.is_zero() {
                    return Err(Error::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
                }
                let rscale = rscale.clamp(0, MAX_DISPLAY_SCALE) as u32;
                Ok(Numeric::finite(
                    Self::quotient(m1, *s1, m2, *s2, rscale),
                    rscale,
                ))
            }
            _ => a.div(b),
        }
    }

    /// `log(base, self)` with PostgreSQL's scale (`log_var`): logarithms taken with more
    /// significant digits than the result keeps, then divided.
    pub fn log(&self, base: &Numeric) -> Result<Numeric> {
        use Numeric::*;
        if matches!(self, NaN) || matches!(base, NaN) {
            return Ok(NaN);
        }
        for v in [base, self] {
            match v.sign_of() {
                -1 => return Err(log_of_negative()),
                0 => {
                    return Err(Error::new(
                        SqlState::INVALID_ARGUMENT_FOR_LOG,
                        "cannot take logarithm of zero",
                    ));
                }
                _ => {}
            }
        }
        match (base, self) {
            (PosInf, PosInf) => return Ok(NaN),
            (PosInf, _) => return Ok(Numeric::zero()),
            (_, PosInf) => return Ok(PosInf),
            _ => {}
        }
        let (
            Finite {
                mantissa: mb,
                dscale: sb,
            },
            Finite {
                mantissa: mn,
                dscale: sn,
            },
        ) = (base, self)
        else {
            unreachable!("specials handled above")
        };
        let (base_dw, num_dw) = (base.ln_dweight(), self.ln_dweight());
        let result_dw = num_dw - base_dw;
        let rscale = (MIN_SIG_DIGITS - result_dw)
            .max(*sb as i64)
            .max(*sn as i64)
            .clamp(0, MAX_DISPLAY_SCALE);
        let base_rscale = (rscale + result_dw - base_dw + 8).max(0) as u32;
        let num_rscale = (rscale + result_dw - num_dw + 8).max(0) as u32;
        let ln_base = Numeric::ln_at(mb, *sb, base_rscale);
        let ln_num = Numeric::ln_at(mn, *sn, num_rscale);
        Numeric::quotient_at(&ln_num, &ln_base, rscale)
    }

    /// The value as an integer of `bits` bits (16, 32 or 64), rounded as PostgreSQL's casts
    /// round, with its messages for values that do not fit.
    pub fn to_int(&self, bits: u32) -> Result<i64> {
        let name = match bits {
            16 => "smallint",
            32 => "integer",
            _ => "bigint",
        };
        let v = match self.round(0) {
            Numeric::Finite { mantissa, .. } => mantissa.to_i64(),
            Numeric::NaN => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert NaN to {name}"),
                ));
            }
            _ => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert infinity to {name}"),
                ));
            }
        };
        let fits = |v: i64| match bits {
            16 => i16::try_from(v).is_ok(),
            32 => i32::try_from(v).is_ok(),
            _ => true,
        };
        match v {
            Some(v) if fits(v) => Ok(v),
            _ => Err(overflow(&format!("{name} out of range"))),
        }
    }

    /// Fits the value to `numeric(precision, scale)`: rounded to `scale` digits, and an error
    /// when more than `precision - scale` digits remain before the point.
    /// Fitted to `numeric(precision, scale)` as PostgreSQL's `apply_typmod`: rounded to
    /// `scale` digits (a negative scale rounds to tens, hundreds...), then refused (22003) if
    /// its leading digit sits `precision - scale` or more places left of the point.
    pub fn with_typmod(&self, precision: u32, scale: i32) -> Result<Numeric> {
        let v = self.round(scale);
        let max_digits = precision as i64 - scale as i64;
        let overflow = |detail: String| {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                "numeric field overflow",
            )
            .with_detail(detail)
        };
        match &v {
            Numeric::Finite { mantissa, dscale } => {
                if mantissa.is_zero() {
                    return Ok(v);
                }
                // Where the leading digit is: 1 for units, 0 for tenths, -1 for hundredths...
                let lead = mantissa.abs().to_string().len() as i64 - *dscale as i64;
                if lead > max_digits {
                    let bound = match max_digits {
                        0 => "1".to_string(),
                        m => format!("10^{m}"),
                    };
                    return Err(overflow(format!(
                        "A field with precision {precision}, scale {scale} must round to an \
                         absolute value less than {bound}."
                    )));
                }
                Ok(v)
            }
            Numeric::NaN => Ok(v),
            _ => Err(overflow(format!(
                "A field with precision {precision}, scale {scale} cannot hold an infinite value."
            ))),
        }
    }

    pub fn to_f64(&self) -> f64 {
        match self {
            Numeric::NaN => f64::NAN,
            Numeric::PosInf => f64::INFINITY,
            Numeric::NegInf => f64::NEG_INFINITY,
            n => n.to_string().parse().unwrap_or(f64::NAN),
        }
    }

    /// The nearest `real`, read from the value's digits as PostgreSQL's cast does.
    pub fn to_f32(&self) -> f32 {
        match self {
            Numeric::NaN => f32::NAN,
            Numeric::PosInf => f32::INFINITY,
            Numeric::NegInf => f32::NEG_INFINITY,
            n => n.to_string().parse().unwrap_or(f32::NAN),
        }
    }
}

/// A numeric sum's finite part and how many of its values show each display scale: the sum
/// shows the largest scale still present, as PostgreSQL's sum of the rows still summed would.
/// Values can be taken back out (`w` < 0), as a view's group or a sliding window needs.
///
/// Values whose digits fit an `i128` (up to 38 of them) are summed per scale in `i128`s, with
/// no big-integer arithmetic; a sum that would overflow one moves into the big sum.
#[derive(Debug, Default)]
pub struct NumericSum {
    sum: Option<Numeric>,
    /// Per display scale, the sum of the mantissas of the small values with that scale.
    small: std::collections::BTreeMap<u32, i128>,
    scales: std::collections::BTreeMap<u32, i64>,
}

impl NumericSum {
    pub fn add(&mut self, v: &Numeric, w: i64) {
        if let Numeric::Finite { mantissa, dscale } = v
            && let Some(m) = mantissa.to_i128()
        {
            return self.add_small(m, *dscale, w);
        }
        self.add_big(v.mul(&Numeric::from_i64(w)));
        self.count(v.dscale(), w);
    }

    /// Adds `w` times the value `m × 10^-scale`.
    pub fn add_small(&mut self, m: i128, scale: u32, w: i64) {
        let slot = self.small.entry(scale).or_insert(0);
        match m.checked_mul(w as i128).and_then(|x| slot.checked_add(x)) {
            Some(x) => *slot = x,
            None => self.add_big(Numeric::finite(BigInt::from(m) * w, scale)),
        }
        self.count(scale, w);
    }

    fn add_big(&mut self, v: Numeric) {
        self.sum = Some(match self.sum.take() {
            Some(s) => s.add(&v),
            None => v,
        });
    }

    fn count(&mut self, scale: u32, w: i64) {
        let n = self.scales.entry(scale).or_insert(0);
        *n += w;
        if *n == 0 {
            self.scales.remove(&scale);
        }
    }

    /// Adds another sum's values (a partial aggregate's).
    pub fn merge(&mut self, other: &NumericSum) {
        if let Some(o) = other.combined() {
            self.add_big(o);
        }
        for (scale, n) in &other.scales {
            self.count(*scale, *n);
        }
    }

    /// The big sum and the small ones added up (`None`: nothing was ever added).
    fn combined(&self) -> Option<Numeric> {
        let mut total = self.sum.clone();
        for (scale, m) in &self.small {
            let v = Numeric::finite(BigInt::from(*m), *scale);
            total = Some(match total {
                Some(t) => t.add(&v),
                None => v,
            });
        }
        total
    }

    pub fn total(&self) -> Numeric {
        let scale = self.scales.keys().next_back().copied().unwrap_or(0);
        match self.combined() {
            Some(s) => s.trunc(scale as i32),
            None => Numeric::zero(),
        }
    }

    /// Reads back what [`NumericSum::encode`] wrote (`None`: an empty sum).
    pub fn decode(b: Option<&[u8]>) -> Result<NumericSum> {
        let Some(b) = b else {
            return Ok(NumericSum::default());
        };
        let corrupt = || Error::internal("corrupt numeric sum");
        let n = u32::from_be_bytes(b.get(..4).ok_or_else(corrupt)?.try_into().expect("4")) as usize;
        let mut scales = std::collections::BTreeMap::new();
        for k in 0..n {
            let o = 4 + k * 12;
            let e = b.get(o..o + 12).ok_or_else(corrupt)?;
            scales.insert(
                u32::from_be_bytes(e[..4].try_into().expect("4")),
                i64::from_be_bytes(e[4..].try_into().expect("8")),
            );
        }
        let rest = &b[4 + n * 12..];
        let sum = match rest.is_empty() {
            true => None,
            false => Some(Numeric::from_bytes(rest)?),
        };
        Ok(NumericSum {
            sum,
            small: Default::default(),
            scales,
        })
    }

    /// The sum and its scale counts as bytes, for state kept in storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = (self.scales.len() as u32).to_be_bytes().to_vec();
        for (s, n) in &self.scales {
            v.extend_from_slice(&s.to_be_bytes());
            v.extend_from_slice(&n.to_be_bytes());
        }
        if let Some(s) = self.combined() {
            s.write_bytes(&mut v);
        }
        v
    }
}

/// The sums `variance` and `stddev` of numerics need: of the finite values and of their
/// squares, each with its scale counts so values can be taken back out.
#[derive(Debug, Default)]
pub struct NumericMoments {
    pub sum: NumericSum,
    pub squares: NumericSum,
}

impl NumericMoments {
    pub fn add(&mut self, v: &Numeric, w: i64) {
        self.sum.add(v, w);
        self.squares.add(&v.mul(v), w);
    }

    /// Adds `w` times the value `m × 10^-scale`.
    pub fn add_small(&mut self, m: i128, scale: u32, w: i64) {
        self.sum.add_small(m, scale, w);
        match m.checked_mul(m) {
            Some(sq) => self.squares.add_small(sq, 2 * scale, w),
            None => {
                let v = Numeric::finite(BigInt::from(m), scale);
                self.squares.add(&v.mul(&v), w)
            }
        }
    }

    /// See [`Numeric::variance`]; `n` counts the finite values.
    pub fn variance(
        &self,
        n: i64,
        special: i64,
        sample: bool,
        sqrt: bool,
    ) -> Result<Option<Numeric>> {
        let (sum, squares) = (self.sum.total(), self.squares.total());
        Numeric::variance(n, special, &sum, &squares, sample, sqrt)
    }

    pub fn decode(b: Option<&[u8]>) -> Result<NumericMoments> {
        let Some(b) = b else {
            return Ok(NumericMoments::default());
        };
        let corrupt = || Error::internal("corrupt numeric moments");
        let n = u32::from_be_bytes(b.get(..4).ok_or_else(corrupt)?.try_into().expect("4")) as usize;
        let first = b.get(4..4 + n).ok_or_else(corrupt)?;
        Ok(NumericMoments {
            sum: NumericSum::decode(Some(first))?,
            squares: NumericSum::decode(Some(&b[4 + n..]))?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let sum = self.sum.encode();
        let mut v = (sum.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(&sum);
        v.extend_from_slice(&self.squares.encode());
        v
    }
}

/// PostgreSQL's base-10000 digit groups of `mantissa · 10^-dscale` in absolute value, without
/// leading or trailing zero groups, and the weight (power of 10000) of the first; `None` for
/// zero. Division and `sqrt` take their scales from these, as PostgreSQL does.
fn digit_groups(mantissa: &BigInt, dscale: u32) -> Option<(i64, Vec<u32>)> {
    if mantissa.is_zero() {
        return None;
    }
    let digits = mantissa.abs().to_string();
    let s = dscale as usize;
    // Pad the fraction to whole groups on the right and the integer part on the left.
    let frac_pad = (4 - s % 4) % 4;
    let int_len = digits.len() as i64 - s as i64;
    let int_pad = if int_len > 0 {
        ((4 - int_len % 4) % 4) as usize
    } else {
        0
    };
    let lead_zeros = if int_len < 0 { (-int_len) as usize } else { 0 };
    let padded = format!(
        "{}{}{digits}{}",
        "0".repeat(int_pad),
        "0".repeat(lead_zeros),
        "0".repeat(frac_pad)
    );
    let int_groups = (int_len.max(0) as usize + int_pad) / 4;
    let mut groups: Vec<u32> = (padded.as_bytes().chunks(4))
        .map(|c| std::str::from_utf8(c).unwrap().parse().unwrap())
        .collect();
    let mut weight = int_groups as i64 - 1;
    let first = groups.iter().position(|g| *g != 0).unwrap_or(0);
    groups.drain(..first);
    weight -= first as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    Some((weight, groups))
}

/// Digits computed beyond the result's scale before it is rounded, so that rounding sees
/// the true digits.
const GUARD_DIGITS: u32 = 12;

fn log_of_negative() -> Error {
    Error::new(
        SqlState::INVALID_ARGUMENT_FOR_LOG,
        "cannot take logarithm of a negative number",
    )
}

/// `ln(m · 10^-s)` (positive) as a fixed-point integer with `p` fraction digits: the value
/// brought to [1, 10) by a power of ten, square roots taken until it is within 1% of 1, then
/// `2 atanh((y-1)/(y+1))`, doubled back.
fn fixed_ln(m: &BigInt, s: u32, p: u32) -> BigInt {
    let digits = m.to_string().len() as i64;
    // m · 10^-s = y · 10^e with 1 <= y < 10.
    let e = digits - 1 - s as i64;
    let wp = p + 10 + (e.unsigned_abs().max(1) as f64).log10().ceil() as u32;
    // y at `wp` digits: m · 10^(wp - digits + 1).
    let shift = wp as i64 - digits + 1;
    let y = if shift >= 0 {
        m * pow10(shift as u32)
    } else {
        div_round(m, &pow10((-shift) as u32))
    };
    let ln_y = fixed_ln_reduced(y, wp);
    let result = if e != 0 {
        ln_y + fixed_ln_reduced(pow10(wp) * 10u32, wp) * e
    } else {
        ln_y
    };
    div_round(&result, &pow10(wp - p))
}

/// `ln(y)` for a fixed-point `y` (with `p` fraction digits) in [1, 10].
fn fixed_ln_reduced(mut y: BigInt, p: u32) -> BigInt {
    let one = pow10(p);
    let near = &one + &one / 100u32;
    let mut k = 0u32;
    while y > near {
        y = (&y * &one).sqrt();
        k += 1;
    }
    let z = div_round(&((&y - &one) * &one), &(&y + &one));
    let z2 = div_round(&(&z * &z), &one);
    let mut sum = z.clone();
    let mut power = z;
    let mut n = 3u32;
    loop {
        power = div_round(&(&power * &z2), &one);
        let term = &power / n;
        if term.is_zero() {
            break;
        }
        sum += term;
        n += 2;
    }
    sum * 2u32 * BigInt::from(2u32).pow(k)
}

fn sqrt_of_negative() -> Error {
    Error::new(
        SqlState::INVALID_ARGUMENT_FOR_POWER_FUNCTION,
        "cannot take square root of a negative number",
    )
}

impl std::fmt::Display for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Numeric::NaN => f.write_str("NaN"),
            Numeric::PosInf => f.write_str("Infinity"),
            Numeric::NegInf => f.write_str("-Infinity"),
            Numeric::Finite { mantissa, dscale } => {
                let digits = mantissa.abs().to_string();
                let s = *dscale as usize;
                let padded = if digits.len() <= s {
                    format!("{}{digits}", "0".repeat(s + 1 - digits.len()))
                } else {
                    digits
                };
                let (int, frac) = padded.split_at(padded.len() - s);
                if mantissa.sign() == Sign::Minus {
                    f.write_str("-")?;
                }
                f.write_str(int)?;
                if s > 0 {
                    write!(f, ".{frac}")?;
                }
                Ok(())
            }
        }
    }
}

/// PostgreSQL's order: by value, whatever the scale; `-Infinity` first, then finite values,
/// `Infinity`, and `NaN` last (equal to itself, so it can be sorted and grouped).
impl Ord for Numeric {
    fn cmp(&self, other: &Self) -> Ordering {
        use Numeric::*;
        let rank = |n: &Numeric| match n {
            NegInf => 0,
            Finite { .. } => 1,
            PosInf => 2,
            NaN => 3,
        };
        match (self, other) {
            (
                Finite {
                    mantissa: a,
                    dscale: sa,
                },
                Finite {
                    mantissa: b,
                    dscale: sb,
                },
            ) => {
                let (a, b, _) = Self::aligned(a, *sa, b, *sb);
                a.cmp(&b)
            }
            (a, b) => rank(a).cmp(&rank(b)),
        }
    }
}

impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Numeric {}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap()
    }

    /// Every expected text below is what PostgreSQL 15 printed for the same expression.
    #[test]
    fn division_takes_postgres_scale() {
        for (a, b, want) in [
            ("5.0", "3", "1.6666666666666667"),
            ("1", "3", "0.33333333333333333333"),
            ("10", "4", "2.5000000000000000"),
            ("7", "2.0", "3.5000000000000000"),
            (
                "12345678901234567890123456789",
                "7",
                "1763668414462081127160493827",
            ),
            ("1", "7", "0.14285714285714285714"),
            ("2", "3", "0.66666666666666666667"),
            ("-2", "3", "-0.66666666666666666667"),
            ("1", "10000", "0.000100000000000000000000"),
            ("9999", "10000", "0.99990000000000000000"),
            ("100", "7", "14.2857142857142857"),
            ("1.000", "3.00000", "0.33333333333333333333"),
            ("0", "5", "0.00000000000000000000"),
            (
                "22",
                "7.000000000000000000000001",
                "3.142857142857142857142857",
            ),
            ("0.001", "3", "0.00033333333333333333"),
            ("123456.789", "0.001", "123456789.00000000"),
            ("5", "2", "2.5000000000000000"),
        ] {
            assert_eq!(n(a).div(&n(b)).unwrap().to_string(), want, "{a} / {b}");
        }
        assert!(n("1").div(&n("0.000")).is_err());
    }

    #[test]
    fn add_sub_mul_keep_postgres_scales() {
        assert_eq!(n("1.50").add(&n("1.5")).to_string(), "3.00");
        assert_eq!(n("2.5").mul(&n("1.25")).to_string(), "3.125");
        assert_eq!(n("1.5").mul(&n("2")).to_string(), "3.0");
        assert_eq!(n("0.1").add(&n("0.2")).to_string(), "0.3");
        assert_eq!(n("1").sub(&n("1.000")).to_string(), "0.000");
        assert_eq!(
            n("123456789012345678901234567890.123")
                .mul(&n("10"))
                .to_string(),
            "1234567890123456789012345678901.230"
        );
        assert_eq!(n("7").rem(&n("2.5")).unwrap().to_string(), "2.0");
        assert_eq!(n("-7").rem(&n("2")).unwrap().to_string(), "-1");
    }

    #[test]
    fn text_round_trips_with_its_scale() {
        for (input, shown) in [
            ("1.50", "1.50"),
            ("  -0.00 ", "0.00"),
            ("1e-20", "0.00000000000000000001"),
            ("1.5e3", "1500"),
            ("1.50e1", "15.0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+3", "3"),
            ("nan", "NaN"),
            ("-inf", "-Infinity"),
            ("Infinity", "Infinity"),
        ] {
            assert_eq!(n(input).to_string(), shown, "{input}");
        }
        for bad in ["", "abc", "1.2.3", "1e", "--1", "."] {
            assert!(Numeric::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(n("2.5").round(0).to_string(), "3");
        assert_eq!(n("-2.5").round(0).to_string(), "-3");
        assert_eq!(n("2.567").round(2).to_string(), "2.57");
        assert_eq!(n("2.567").trunc(1).to_string(), "2.5");
        assert_eq!(n("1234.5").round(-2).to_string(), "1200");
        assert_eq!(n("1.5").round(3).to_string(), "1.500");
        assert_eq!(n("1.005").with_typmod(5, 2).unwrap().to_string(), "1.01");
        assert!(n("1000").with_typmod(5, 2).is_err());
    }

    #[test]
    fn sqrt_takes_postgres_scale() {
        for (x, want) in [
            ("2", "1.414213562373095"),
            ("100", "10.000000000000000"),
            ("0.0001", "0.01000000000000000"),
            ("2.0000000000000000000", "1.4142135623730950488"),
            ("12345678", "3513.6417005722140"),
            ("0", "0.000000000000000"),
        ] {
            assert_eq!(n(x).sqrt().unwrap().to_string(), want, "sqrt({x})");
        }
        assert!(n("-1").sqrt().is_err());
    }

    #[test]
    fn exp_and_ln_take_postgres_digits() {
        for (x, want) in [
            ("1", "2.7182818284590452"),
            ("100", "26881171418161354484126255515800135873611119"),
            ("0.5", "1.6487212707001281"),
        ] {
            assert_eq!(n(x).exp().unwrap().to_string(), want, "exp({x})");
        }
        let underflow = n("-6000").exp().unwrap().to_string();
        assert_eq!(underflow.len(), 2 + 1000, "exp(-6000) is 0 at scale 1000");
        assert!(n("6000").exp().is_err());
        for (x, want) in [
            ("2", "0.6931471805599453"),
            ("1e-10", "-23.025850929940457"),
            ("1", "0.0000000000000000"),
            ("10", "2.3025850929940457"),
        ] {
            assert_eq!(n(x).ln().unwrap().to_string(), want, "ln({x})");
        }
        assert!(n("0").ln().is_err());
        assert!(n("-1").ln().is_err());
    }

    #[test]
    fn order_ignores_scale_and_puts_nan_last() {
        assert_eq!(n("1.5"), n("1.50"));
        assert!(n("-Infinity") < n("-1e100"));
        assert!(n("1e100") < n("Infinity"));
        assert!(n("Infinity") < n("NaN"));
        assert_eq!(n("NaN"), n("NaN"));
    }

    #[test]
    fn floats_become_15_significant_digits() {
        assert_eq!(Numeric::from_f64(0.1).to_string(), "0.1");
        assert_eq!(
            Numeric::from_f64(1.0 / 3.0).to_string(),
            "0.333333333333333"
        );
        assert_eq!(Numeric::from_f64(1e20).to_string(), "100000000000000000000");
        assert_eq!(Numeric::from_f64(-2.5).to_string(), "-2.5");
        assert_eq!(
            Numeric::from_f64(123456789.125).to_string(),
            "123456789.125"
        );
    }
}
