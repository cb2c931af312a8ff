//! How a `numeric` value is carried in bytes: in Arrow columns and storage, and on the wire.
//!
//! In columns a value is a byte string that sorts as the value does, so that DataFusion's own
//! sorting, `min`/`max` and RocksDB keys order numerics by value without decoding them:
//! a class byte (`-Infinity`, negative, zero, positive, `Infinity`, `NaN`), then for a nonzero
//! finite value its base-100 exponent and base-100 digits (no trailing zeros, so the bytes do
//! not depend on the scale) ended by a terminator, all inverted for negatives. Last come two
//! bytes of display scale. Those make `1.5` and `1.50` different byte strings that sort
//! together; [`value_key`] drops them where equality must ignore the scale (`=`, grouping,
//! joins), as PostgreSQL's does.
//!
//! On the wire, the binary format is PostgreSQL's own: base-10000 digit groups with a weight,
//! a sign word and the display scale.

use num_bigint::BigInt;
use num_traits::{Signed, Zero};

use crate::error::{Error, Result, SqlState};
use crate::numeric::Numeric;

const NEG_INF: u8 = 0x01;
const NEGATIVE: u8 = 0x02;
const ZERO: u8 = 0x03;
const POSITIVE: u8 = 0x04;
const POS_INF: u8 = 0x05;
const NAN: u8 = 0x06;
/// Ends the digits of a positive value; no digit byte is this small.
const TERMINATOR: u8 = 0x00;

/// The bytes of a column value without its display scale: equal exactly when the values are.
pub fn value_key(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().saturating_sub(2)]
}

fn corrupt() -> Error {
    Error::internal("corrupt numeric value")
}

/// A value's column bytes split into its key and its display scale (the last two bytes).
fn split_scale(bytes: &[u8]) -> Option<(&[u8], u32)> {
    if bytes.len() < 3 {
        return None;
    }
    let (key, scale) = bytes.split_at(bytes.len() - 2);
    Some((key, u16::from_be_bytes([scale[0], scale[1]]) as u32))
}

/// A nonzero finite value's base-100 exponent and base-100 digits (0 to 99, most significant
/// first), read from its key after the class byte.
fn finite_digits(
    negative: bool,
    body: &[u8],
) -> Result<(i64, impl Iterator<Item = Result<u8>> + '_)> {
    let flip = move |b: u8| if negative { !b } else { b };
    // Four exponent bytes, one digit at least and the terminator.
    if body.len() < 5 {
        return Err(corrupt());
    }
    let e = [flip(body[0]), flip(body[1]), flip(body[2]), flip(body[3])];
    let e100 = (u32::from_be_bytes(e) ^ 0x8000_0000) as i32 as i64;
    let digits = (body[4..].iter())
        .map(move |b| flip(*b))
        .take_while(|b| *b != TERMINATOR)
        .map(|b| b.checked_sub(1).filter(|d| *d < 100).ok_or_else(corrupt));
    Ok((e100, digits))
}

impl Numeric {
    /// The value's column form (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.write_bytes(&mut out);
        out
    }

    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        let (mantissa, dscale) = match self {
            Numeric::NaN => return out.extend_from_slice(&[NAN, 0, 0]),
            Numeric::PosInf => return out.extend_from_slice(&[POS_INF, 0, 0]),
            Numeric::NegInf => return out.extend_from_slice(&[NEG_INF, 0, 0]),
            Numeric::Finite { mantissa, dscale } => (mantissa, *dscale),
        };
        let scale = (dscale.min(u16::MAX as u32) as u16).to_be_bytes();
        if mantissa.is_zero() {
            out.push(ZERO);
            out.extend_from_slice(&scale);
            return;
        }
        let negative = mantissa.is_negative();
        let mut digits = mantissa.magnitude().to_string().into_bytes();
        // value = 0.digits × 10^e10, with e10 counted before the trailing zeros go.
        let total_len = digits.len() as i64;
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        let mut e10 = total_len - dscale as i64;
        if e10.rem_euclid(2) == 1 {
            digits.insert(0, b'0');
            e10 += 1;
        }
        if digits.len() % 2 == 1 {
            digits.push(b'0');
        }
        let flip = |b: u8| if negative { !b } else { b };
        out.push(if negative { NEGATIVE } else { POSITIVE });
        let e100 = (e10 / 2) as i32;
        for b in ((e100 as u32) ^ 0x8000_0000).to_be_bytes() {
            out.push(flip(b));
        }
        for pair in digits.chunks(2) {
            let d = (pair[0] - b'0') * 10 + (pair[1] - b'0');
            out.push(flip(d + 1));
        }
        out.push(flip(TERMINATOR));
        out.extend_from_slice(&scale);
    }

    /// Reads a value back from its column form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Numeric> {
        let (key, dscale) = split_scale(bytes).ok_or_else(corrupt)?;
        Self::decode(key, Some(dscale))
    }

    /// A finite value's mantissa and display scale (`mantissa × 10^-scale`) when the mantissa
    /// fits an `i128`, read straight from its column bytes: the fast path of sums.
    pub fn small_parts(bytes: &[u8]) -> Option<(i128, u32)> {
        let (key, dscale) = split_scale(bytes)?;
        let (&class, body) = key.split_first()?;
        let negative = match class {
            ZERO => return Some((0, dscale)),
            NEGATIVE => true,
            POSITIVE => false,
            _ => return None,
        };
        let (e100, digits) = finite_digits(negative, body).ok()?;
        let mut m: i128 = 0;
        let mut n = 0i64;
        for d in digits {
            n += 2;
            if n > 38 {
                return None;
            }
            m = m * 100 + d.ok()? as i128;
        }
        // value = m × 10^(2·e100 − n); as a mantissa at `dscale`: m × 10^(2·e100 − n + dscale).
        // A negative shift drops the zero that pads an odd number of fraction digits to a
        // base-100 digit (`1.5` is stored as digits 1, 50).
        let shift = 2 * e100 - n + dscale as i64;
        let m = match shift {
            0..=38 => m.checked_mul(10i128.pow(shift as u32))?,
            -38..0 => {
                let unit = 10i128.pow((-shift) as u32);
                if m % unit != 0 {
                    return None;
                }
                m / unit
            }
            _ => return None,
        };
        Some((if negative { -m } else { m }, dscale))
    }

    /// The value of a [`value_key`], shown with no more fraction digits than it needs (the key
    /// has no display scale).
    pub fn from_key(key: &[u8]) -> Result<Numeric> {
        Self::decode(key, None)
    }

    fn decode(key: &[u8], dscale: Option<u32>) -> Result<Numeric> {
        let (&class, body) = key.split_first().ok_or_else(corrupt)?;
        let negative = match class {
            NAN => return Ok(Numeric::NaN),
            POS_INF => return Ok(Numeric::PosInf),
            NEG_INF => return Ok(Numeric::NegInf),
            ZERO => return Ok(Numeric::finite(BigInt::zero(), dscale.unwrap_or(0))),
            NEGATIVE => true,
            POSITIVE => false,
            _ => return Err(corrupt()),
        };
        let (e100, digits) = finite_digits(negative, body)?;
        // Base-100 digits, gathered in a u128 while they fit (38 decimal digits), which is
        // every value short of that, without going through text.
        let mut small: u128 = 0;
        let mut big: Option<BigInt> = None;
        let mut n = 0i64;
        for d in digits {
            let d = d?;
            n += 2;
            match &mut big {
                Some(m) => *m = &*m * 100u32 + d,
                None if n <= 38 => small = small * 100 + d as u128,
                None => big = Some(BigInt::from(small) * 100u32 + d),
            }
        }
        let m = big.unwrap_or_else(|| BigInt::from(small));
        // value = m × 10^(2·e100 − n), shown with `dscale` fraction digits.
        // A key's value shows every digit it has, and no trailing zero.
        let (dscale, trim) = match dscale {
            Some(d) => (d, false),
            None => ((n - 2 * e100).max(0) as u32, true),
        };
        let shift = 2 * e100 - n + dscale as i64;
        let ten = BigInt::from(10u32);
        let m = if shift >= 0 {
            m * ten.pow(shift as u32)
        } else {
            m / ten.pow((-shift) as u32)
        };
        let v = Numeric::finite(if negative { -m } else { m }, dscale);
        Ok(if trim { v.without_trailing_zeros() } else { v })
    }

    /// PostgreSQL's binary wire format (`numeric_send`).
    pub fn to_pg_binary(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        let (sign, dscale, weight, groups): (u16, u32, i64, Vec<u32>) = match self {
            Numeric::NaN => (0xC000, 0, 0, vec![]),
            Numeric::PosInf => (0xD000, 0, 0, vec![]),
            Numeric::NegInf => (0xF000, 0, 0, vec![]),
            Numeric::Finite { mantissa, dscale } => {
                let sign = if mantissa.is_negative() { 0x4000 } else { 0 };
                match self.groups() {
                    Some((w, g)) => (sign, *dscale, w, g),
                    None => (0, *dscale, 0, vec![]),
                }
            }
        };
        out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
        out.extend_from_slice(&(weight as i16).to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&(dscale as u16).to_be_bytes());
        for g in groups {
            out.extend_from_slice(&(g as i16).to_be_bytes());
        }
        out
    }

    /// Reads PostgreSQL's binary wire format (`numeric_recv`).
    pub fn from_pg_binary(b: &[u8]) -> Result<Numeric> {
        let bad = || {
            Error::new(
                SqlState::INVALID_BINARY_REPRESENTATION,
                "invalid binary numeric value",
            )
        };
        if b.len() < 8 {
            return Err(bad());
        }
        let rd = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let ndigits = rd(0) as usize;
        let weight = rd(2) as i16 as i64;
        let sign = rd(4);
        let dscale = rd(6) as u32;
        match sign {
            0xC000 => return Ok(Numeric::NaN),
            0xD000 => return Ok(Numeric::PosInf),
            0xF000 => return Ok(Numeric::NegInf),
            0 | 0x4000 => {}
            _ => return Err(bad()),
        }
        if b.len() != 8 + ndigits * 2 || dscale > 0x3FFF {
            return Err(bad());
        }
        let mut m = BigInt::zero();
        for i in 0..ndigits {
            let g = rd(8 + 2 * i);
            if g >= 10000 {
                return Err(bad());
            }
            m = m * 10000u32 + g;
        }
        // value = m × 10000^(weight − ndigits + 1), shown with `dscale` fraction digits.
        let shift = 4 * (weight - ndigits as i64 + 1) + dscale as i64;
        let ten = BigInt::from(10u32);
        let m = if shift >= 0 {
            m * ten.pow(shift as u32)
        } else {
            // Digits beyond the display scale are rounded away, as `numeric_recv` does.
            let unit = ten.pow((-shift) as u32);
            let (q, r) = (&m / &unit, &m % &unit);
            if r * 2u32 >= unit { q + 1 } else { q }
        };
        Ok(Numeric::finite(if sign == 0x4000 { -m } else { m }, dscale))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap()
    }

    const VALUES: &[&str] = &[
        "-Infinity",
        "-123456789012345678901234567890.5",
        "-100",
        "-99.99",
        "-1.55",
        "-1.5",
        "-1.50",
        "-1.05",
        "-0.001",
        "0",
        "0.00",
        "0.0001",
        "0.001",
        "0.01",
        "0.1",
        "1",
        "1.0",
        "1.05",
        "1.5",
        "1.50",
        "1.55",
        "9.99",
        "10",
        "99",
        "100",
        "100.000",
        "12345.678",
        "1e40",
        "12345678901234567890123456789012345678901234567890.123",
        "-98765432109876543210987654321098765432109876543210.5",
        "Infinity",
        "NaN",
    ];

    #[test]
    fn column_form_round_trips_and_sorts_by_value() {
        let encoded: Vec<(Numeric, Vec<u8>)> =
            VALUES.iter().map(|s| (n(s), n(s).to_bytes())).collect();
        for (v, b) in &encoded {
            let back = Numeric::from_bytes(b).unwrap();
            assert_eq!(back.to_string(), v.to_string(), "{v}");
        }
        for (a, ab) in &encoded {
            for (b, bb) in &encoded {
                assert_eq!(
                    a.cmp(b),
                    value_key(ab).cmp(value_key(bb)),
                    "{a} vs {b}: keys must order as values"
                );
                if a.cmp(b) != std::cmp::Ordering::Equal {
                    assert_eq!(
                        a.cmp(b),
                        ab.cmp(bb),
                        "{a} vs {b}: bytes must order as values"
                    );
                }
            }
        }
    }

    #[test]
    fn small_parts_are_the_value() {
        for s in VALUES {
            let v = n(s);
            match (Numeric::small_parts(&v.to_bytes()), &v) {
                (Some((m, scale)), _) => {
                    assert_eq!(
                        Numeric::finite(BigInt::from(m), scale).to_string(),
                        v.to_string()
                    )
                }
                (None, Numeric::Finite { mantissa, .. }) => {
                    assert!(
                        mantissa.to_string().trim_start_matches('-').len() > 36,
                        "{s}"
                    )
                }
                (None, _) => {}
            }
        }
    }

    #[test]
    fn keys_decode_to_the_value_without_trailing_zeros() {
        for s in VALUES {
            let v = n(s);
            let back = Numeric::from_key(value_key(&v.to_bytes())).unwrap();
            assert_eq!(
                back.to_string(),
                v.without_trailing_zeros().to_string(),
                "{s}"
            );
        }
        for (s, shown) in [
            ("1.500", "1.5"),
            ("100.00", "100"),
            ("-0.0100", "-0.01"),
            ("0.00", "0"),
        ] {
            assert_eq!(
                Numeric::from_key(value_key(&n(s).to_bytes()))
                    .unwrap()
                    .to_string(),
                shown
            );
        }
    }

    #[test]
    fn pg_binary_round_trips() {
        for s in VALUES {
            let v = n(s);
            let back = Numeric::from_pg_binary(&v.to_pg_binary()).unwrap();
            assert_eq!(back.to_string(), v.to_string());
        }
        // 12345.67 as PostgreSQL sends it: groups 1, 2345, 6700; weight 1; scale 2.
        assert_eq!(
            n("12345.67").to_pg_binary(),
            vec![0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1A, 0x2C]
        );
    }
}
