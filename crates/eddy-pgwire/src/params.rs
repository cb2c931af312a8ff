//! Bind parameters from the wire into typed values.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::common::ScalarValue;
use eddy_common::datetime::{self, TimeSettings};
use eddy_common::{Error, PgType, Result, SqlState};

const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// Decodes one parameter. Text parameters are cast from their string form the way a SQL
/// literal of that type would be; binary ones follow PostgreSQL's binary send format.
pub fn decode(
    bytes: Option<&[u8]>,
    ty: &PgType,
    binary: bool,
    time: &TimeSettings,
) -> Result<ScalarValue> {
    let dt = ty.to_arrow();
    let Some(bytes) = bytes else {
        return Ok(ScalarValue::try_from(&dt)?);
    };
    if binary {
        decode_binary(bytes, ty)
    } else {
        decode_text(bytes, ty, &dt, time)
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
    time: &TimeSettings,
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
        PgType::Numeric(typmod) => {
            let v = eddy_common::numeric::Numeric::parse(text)?;
            let v = match typmod {
                Some((p, s)) => v.with_typmod(*p as u32, *s as i32)?,
                None => v,
            };
            Ok(ScalarValue::LargeBinary(Some(v.to_bytes())))
        }
        PgType::Date => Ok(ScalarValue::Date32(Some(datetime::parse_date(text, time)?))),
        PgType::Timestamp => Ok(ScalarValue::TimestampMicrosecond(
            Some(datetime::parse_timestamp(text, time)?),
            None,
        )),
        PgType::Timestamptz => Ok(ScalarValue::TimestampMicrosecond(
            Some(datetime::parse_timestamptz(text, time)?),
            Some(Arc::from("+00:00")),
        )),
        PgType::Time => crate::encode::parse_time(text.trim())
            .map(|us| ScalarValue::Time64Microsecond(Some(us)))
            .ok_or_else(|| invalid(ty, text)),
        PgType::Vector(elem) => {
            let edt = elem.to_arrow();
            let values = text
                .split_whitespace()
                .map(|v| decode_text(v.as_bytes(), elem, &edt, time))
                .collect::<Result<Vec<_>>>()?;
            Ok(list(&values, &edt))
        }
        PgType::Array(elem) => {
            let edt = elem.to_arrow();
            let values = eddy_common::array_text::parse(text)?
                .into_iter()
                .map(|v| match v {
                    Some(v) => decode_text(v.as_bytes(), elem, &edt, time),
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
        PgType::Numeric(_) => ScalarValue::LargeBinary(Some(
            eddy_common::numeric::Numeric::from_pg_binary(b)?.to_bytes(),
        )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_numeric_round_trip() {
        let b = [0u8, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c];
        let text = |b: &[u8]| {
            let ScalarValue::LargeBinary(Some(v)) =
                decode_binary(b, &PgType::Numeric(None)).unwrap()
            else {
                panic!("a numeric")
            };
            eddy_common::numeric::Numeric::from_bytes(&v)
                .unwrap()
                .to_string()
        };
        assert_eq!(text(&b), "12345.67");
        let b = [0u8, 1, 0, 2, 0x40, 0, 0, 0, 0, 5]; // -5 * 10000^2
        assert_eq!(text(&b), "-500000000");
    }

    #[test]
    fn text_params_cast_like_literals() {
        assert_eq!(
            decode(Some(b"42"), &PgType::Int4, false, &TimeSettings::default()).unwrap(),
            ScalarValue::Int32(Some(42))
        );
        assert_eq!(
            decode(Some(b"t"), &PgType::Bool, false, &TimeSettings::default()).unwrap(),
            ScalarValue::Boolean(Some(true))
        );
        assert!(decode(Some(b"4x"), &PgType::Int4, false, &TimeSettings::default()).is_err());
        assert_eq!(
            decode(None, &PgType::Int8, false, &TimeSettings::default()).unwrap(),
            ScalarValue::Int64(None)
        );
    }
}
