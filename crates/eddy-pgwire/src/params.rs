//! Bind parameters from the wire into typed values.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::common::ScalarValue;
use eddy_common::datetime::{self, SessionZone};
use eddy_common::{Error, PgType, Result, SqlState};

const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// Decodes one parameter. Text parameters are cast from their string form the way a SQL
/// literal of that type would be; binary ones follow PostgreSQL's binary send format.
pub fn decode(
    bytes: Option<&[u8]>,
    ty: &PgType,
    binary: bool,
    zone: &SessionZone,
) -> Result<ScalarValue> {
    let dt = ty.to_arrow();
    let Some(bytes) = bytes else {
        return Ok(ScalarValue::try_from(&dt)?);
    };
    if binary {
        decode_binary(bytes, ty)
    } else {
        decode_text(bytes, ty, &dt, zone)
    }
}

fn invalid(ty: &PgType, text: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type {ty}: \"{text}\""),
    )
}

fn decode_text(
    bytes: &[u8],
    ty: &PgType,
    dt: &DataType,
    zone: &SessionZone,
) -> Result<ScalarValue> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            "invalid UTF-8 in parameter",
        )
    })?;
    match ty {
        PgType::Text
        | PgType::Varchar(_)
        | PgType::Json
        | PgType::Jsonb
        | PgType::Name
        | PgType::Char
        | PgType::Uuid => Ok(ScalarValue::Utf8(Some(text.to_string()))),
        PgType::Bool => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => Ok(ScalarValue::Boolean(Some(true))),
            "f" | "false" | "no" | "n" | "off" | "0" => Ok(ScalarValue::Boolean(Some(false))),
            _ => Err(invalid(ty, text)),
        },
        PgType::Bytea => {
            let b = match text.strip_prefix("\\x") {
                Some(hex) => (0..hex.len())
                    .step_by(2)
                    .map(|i| {
                        hex.get(i..i + 2)
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    })
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| invalid(ty, text))?,
                None => text.as_bytes().to_vec(),
            };
            Ok(ScalarValue::Binary(Some(b)))
        }
        PgType::Date => Ok(ScalarValue::Date32(Some(datetime::parse_date(text)?))),
        PgType::Timestamp => Ok(ScalarValue::TimestampMicrosecond(
            Some(datetime::parse_timestamp(text)?),
            None,
        )),
        PgType::Timestamptz => Ok(ScalarValue::TimestampMicrosecond(
            Some(datetime::parse_timestamptz(text, zone)?),
            Some(Arc::from("+00:00")),
        )),
        PgType::Time => crate::encode::parse_time(text.trim())
            .map(|us| ScalarValue::Time64Microsecond(Some(us)))
            .ok_or_else(|| invalid(ty, text)),
        PgType::Vector(elem) => {
            let edt = elem.to_arrow();
            let values = text
                .split_whitespace()
                .map(|v| decode_text(v.as_bytes(), elem, &edt, zone))
                .collect::<Result<Vec<_>>>()?;
            Ok(list(&values, &edt))
        }
        PgType::Array(elem) => {
            let edt = elem.to_arrow();
            let values = eddy_common::array_text::parse(text)?
                .into_iter()
                .map(|v| match v {
                    Some(v) => decode_text(v.as_bytes(), elem, &edt, zone),
                    None => Ok(ScalarValue::try_from(&edt)?),
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(list(&values, &edt))
        }
        _ => ScalarValue::Utf8(Some(text.trim().to_string()))
            .cast_to(dt)
            .map_err(|_| invalid(ty, text)),
    }
}

fn take<const N: usize>(b: &[u8], ty: &PgType) -> Result<[u8; N]> {
    b.try_into().map_err(|_| {
        Error::new(
            SqlState::PROTOCOL_VIOLATION,
            format!("incorrect binary data format in bind parameter of type {ty}"),
        )
    })
}

fn decode_binary(b: &[u8], ty: &PgType) -> Result<ScalarValue> {
    Ok(match ty {
        PgType::Bool => ScalarValue::Boolean(Some(take::<1>(b, ty)?[0] != 0)),
        PgType::Int2 => ScalarValue::Int16(Some(i16::from_be_bytes(take(b, ty)?))),
        PgType::Int4 => ScalarValue::Int32(Some(i32::from_be_bytes(take(b, ty)?))),
        PgType::Int8 => ScalarValue::Int64(Some(i64::from_be_bytes(take(b, ty)?))),
        PgType::Oid => ScalarValue::UInt32(Some(u32::from_be_bytes(take(b, ty)?))),
        PgType::Float4 => ScalarValue::Float32(Some(f32::from_be_bytes(take(b, ty)?))),
        PgType::Float8 => ScalarValue::Float64(Some(f64::from_be_bytes(take(b, ty)?))),
        PgType::Text | PgType::Varchar(_) | PgType::Json | PgType::Name | PgType::Char => {
            ScalarValue::Utf8(Some(String::from_utf8_lossy(b).into_owned()))
        }
        PgType::Jsonb => {
            let body = b.get(1..).unwrap_or_default();
            ScalarValue::Utf8(Some(String::from_utf8_lossy(body).into_owned()))
        }
        PgType::Uuid => {
            let raw: [u8; 16] = take(b, ty)?;
            let h: String = raw.iter().map(|x| format!("{x:02x}")).collect();
            ScalarValue::Utf8(Some(format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )))
        }
        PgType::Bytea => ScalarValue::Binary(Some(b.to_vec())),
        PgType::Date => ScalarValue::Date32(Some(i32::from_be_bytes(take(b, ty)?) + PG_EPOCH_DAYS)),
        PgType::Time => ScalarValue::Time64Microsecond(Some(i64::from_be_bytes(take(b, ty)?))),
        PgType::Timestamp => ScalarValue::TimestampMicrosecond(
            Some(i64::from_be_bytes(take(b, ty)?) + PG_EPOCH_MICROS),
            None,
        ),
        PgType::Timestamptz => ScalarValue::TimestampMicrosecond(
            Some(i64::from_be_bytes(take(b, ty)?) + PG_EPOCH_MICROS),
            Some(Arc::from("+00:00")),
        ),
        PgType::Interval => {
            let raw: [u8; 16] = take(b, ty)?;
            let us = i64::from_be_bytes(raw[0..8].try_into().expect("8 bytes"));
            let days = i32::from_be_bytes(raw[8..12].try_into().expect("4 bytes"));
            let months = i32::from_be_bytes(raw[12..16].try_into().expect("4 bytes"));
            ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(
                months,
                days,
                us * 1000,
            )))
        }
        PgType::Numeric(_) => {
            let text = numeric_from_binary(b)?;
            ScalarValue::Utf8(Some(text))
                .cast_to(&ty.to_arrow())
                .map_err(|_| invalid(ty, "binary numeric"))?
        }
        PgType::Array(elem) | PgType::Vector(elem) => decode_binary_array(b, elem)?,
    })
}

fn list(values: &[ScalarValue], elem: &DataType) -> ScalarValue {
    ScalarValue::List(ScalarValue::new_list(values, elem, true))
}

/// PostgreSQL's binary array: dimensions, a has-nulls flag, the element type's OID, each
/// dimension's length and lower bound, then each element as a length (-1 for NULL) and its
/// binary form.
fn decode_binary_array(b: &[u8], elem: &PgType) -> Result<ScalarValue> {
    let bad = || {
        Error::new(
            SqlState::PROTOCOL_VIOLATION,
            format!("incorrect binary data format in bind parameter of type {elem}[]"),
        )
    };
    let int = |at: usize| -> Result<i32> {
        Ok(i32::from_be_bytes(
            b.get(at..at + 4)
                .ok_or_else(bad)?
                .try_into()
                .expect("4 bytes"),
        ))
    };
    let edt = elem.to_arrow();
    let ndim = int(0)?;
    if ndim == 0 {
        return Ok(list(&[], &edt));
    }
    if ndim != 1 {
        return Err(Error::unsupported("multi-dimensional arrays"));
    }
    let n = usize::try_from(int(12)?).map_err(|_| bad())?;
    let mut at = 20;
    let mut values = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let len = int(at)?;
        at += 4;
        if len < 0 {
            values.push(ScalarValue::try_from(&edt)?);
        } else {
            let end = at + len as usize;
            values.push(decode_binary(b.get(at..end).ok_or_else(bad)?, elem)?);
            at = end;
        }
    }
    Ok(list(&values, &edt))
}

fn numeric_from_binary(b: &[u8]) -> Result<String> {
    let bad = || {
        Error::new(
            SqlState::PROTOCOL_VIOLATION,
            "invalid binary numeric parameter",
        )
    };
    if b.len() < 8 {
        return Err(bad());
    }
    let rd = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    let ndigits = rd(0) as usize;
    let weight = rd(2) as i32;
    let sign = u16::from_be_bytes([b[4], b[5]]);
    let dscale = rd(6).max(0) as usize;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    if b.len() < 8 + ndigits * 2 {
        return Err(bad());
    }
    let digits: Vec<i16> = (0..ndigits).map(|i| rd(8 + i * 2)).collect();
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for (i, d) in digits.iter().enumerate() {
        let pos = weight - i as i32;
        if pos >= 0 {
            if int_part.is_empty() {
                int_part.push_str(&d.to_string());
            } else {
                int_part.push_str(&format!("{d:04}"));
            }
            // fill groups skipped between digits are implicit only at the end (below)
        } else {
            while (frac_part.len() as i32) < (-pos - 1) * 4 {
                frac_part.push_str("0000");
            }
            frac_part.push_str(&format!("{d:04}"));
        }
    }
    let int_groups_written = digits
        .iter()
        .enumerate()
        .filter(|(i, _)| weight - *i as i32 >= 0)
        .count() as i32;
    for _ in int_groups_written..(weight + 1).max(0) {
        int_part.push_str("0000");
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    while frac_part.len() < dscale {
        frac_part.push('0');
    }
    frac_part.truncate(dscale);
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    s.push_str(&int_part);
    if dscale > 0 {
        s.push('.');
        s.push_str(&frac_part);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_numeric_round_trip() {
        let b = [0u8, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c];
        assert_eq!(numeric_from_binary(&b).unwrap(), "12345.67");
        let b = [0u8, 1, 0, 2, 0x40, 0, 0, 0, 0, 5]; // -5 * 10000^2
        assert_eq!(numeric_from_binary(&b).unwrap(), "-500000000");
    }

    #[test]
    fn text_params_cast_like_literals() {
        assert_eq!(
            decode(Some(b"42"), &PgType::Int4, false, &SessionZone::default()).unwrap(),
            ScalarValue::Int32(Some(42))
        );
        assert_eq!(
            decode(Some(b"t"), &PgType::Bool, false, &SessionZone::default()).unwrap(),
            ScalarValue::Boolean(Some(true))
        );
        assert!(decode(Some(b"4x"), &PgType::Int4, false, &SessionZone::default()).is_err());
        assert_eq!(
            decode(None, &PgType::Int8, false, &SessionZone::default()).unwrap(),
            ScalarValue::Int64(None)
        );
    }
}
