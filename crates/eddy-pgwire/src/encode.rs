//! Arrow values in PostgreSQL's wire formats: the text format exactly as PostgreSQL 15 prints it
//! (booleans `t`/`f`, shortest-exact floats, `numeric` scale, timestamps, intervals, arrays), and
//! the binary format for the types drivers ask for in binary.

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, DecimalType, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, IntervalMonthDayNanoType, IntervalUnit, Time64MicrosecondType,
    TimeUnit, TimestampMicrosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use eddy_common::datetime::{DateOrder, DateOutput, DateStyle, SessionZone, TimeSettings};
use eddy_common::{Error, PgType, Result};

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// Appends the text form of `array[row]` (which must not be null) to `out`. Dates and
/// timestamps follow the session's DateStyle, and a `timestamptz` is shown in its TimeZone.
pub fn text_value(
    array: &ArrayRef,
    row: usize,
    ty: &PgType,
    time: &TimeSettings,
    out: &mut String,
) -> Result<()> {
    use std::fmt::Write;
    match array.data_type() {
        DataType::Boolean => out.push(if array.as_boolean().value(row) {
            't'
        } else {
            'f'
        }),
        DataType::Int8 => write!(out, "{}", array.as_primitive::<Int8Type>().value(row)).unwrap(),
        DataType::Int16 => write!(out, "{}", array.as_primitive::<Int16Type>().value(row)).unwrap(),
        DataType::Int32 => write!(out, "{}", array.as_primitive::<Int32Type>().value(row)).unwrap(),
        DataType::Int64 => write!(out, "{}", array.as_primitive::<Int64Type>().value(row)).unwrap(),
        DataType::UInt8 => write!(out, "{}", array.as_primitive::<UInt8Type>().value(row)).unwrap(),
        DataType::UInt16 => {
            write!(out, "{}", array.as_primitive::<UInt16Type>().value(row)).unwrap()
        }
        DataType::UInt32 => {
            write!(out, "{}", array.as_primitive::<UInt32Type>().value(row)).unwrap()
        }
        DataType::UInt64 => {
            write!(out, "{}", array.as_primitive::<UInt64Type>().value(row)).unwrap()
        }
        DataType::Float32 => float_text(
            array.as_primitive::<Float32Type>().value(row) as f64,
            true,
            out,
        ),
        DataType::Float64 => float_text(array.as_primitive::<Float64Type>().value(row), false, out),
        DataType::Decimal128(_, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            decimal_text(v, *scale, matches!(ty, PgType::Numeric(None)), out)
        }
        DataType::Utf8 => out.push_str(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => out.push_str(array.as_string::<i64>().value(row)),
        DataType::Utf8View => out.push_str(array.as_string_view().value(row)),
        DataType::Binary => bytea_text(array.as_binary::<i32>().value(row), out),
        DataType::LargeBinary => {
            let v = eddy_common::numeric::Numeric::from_bytes(array.as_binary::<i64>().value(row))?;
            write!(out, "{v}").unwrap()
        }
        DataType::BinaryView => bytea_text(array.as_binary_view().value(row), out),
        DataType::FixedSizeBinary(_) => bytea_text(array.as_fixed_size_binary().value(row), out),
        DataType::Date32 => date_text(
            array.as_primitive::<Date32Type>().value(row) as i64,
            time.style,
            out,
        ),
        DataType::Time64(TimeUnit::Microsecond) => time_text(
            array.as_primitive::<Time64MicrosecondType>().value(row),
            out,
        ),
        DataType::Timestamp(unit, tz) => {
            let us = timestamp_micros(array, row, *unit);
            timestamp_text(us, tz.as_ref().map(|_| &time.zone), time.style, out)
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            interval_text(v.months, v.days, v.nanoseconds / 1000, out)
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            match ty {
                // int2vector, oidvector: the elements separated by spaces, no braces.
                PgType::Vector(elem) => {
                    for i in 0..values.len() {
                        if i > 0 {
                            out.push(' ');
                        }
                        text_value(&values, i, elem, time, out)?;
                    }
                }
                PgType::Array(elem) => array_text(&values, elem, time, out)?,
                _ => array_text(&values, &PgType::Text, time, out)?,
            }
        }
        _ => {
            // Anything else prints the way Arrow displays it; a later issue gives struct and
            // map types their PostgreSQL record form.
            let opts = FormatOptions::default();
            let f = ArrayFormatter::try_new(array.as_ref(), &opts)?;
            write!(out, "{}", f.value(row)).unwrap();
        }
    }
    Ok(())
}

fn timestamp_micros(array: &ArrayRef, row: usize, unit: TimeUnit) -> i64 {
    use datafusion::arrow::datatypes::{
        TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row) * 1000,
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row) / 1000,
    }
}

/// PostgreSQL prints floats in the shortest form that reads back exactly (extra_float_digits=1),
/// switching to exponent notation below 1e-4 and from 1e15 (float8) or 1e6 (float4).
pub fn float_text(v: f64, single: bool, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if v == 0.0 {
        out.push_str(if v.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let sci = if single {
        format!("{:e}", v as f32)
    } else {
        format!("{v:e}")
    };
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent");
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let limit = if single { 6 } else { 15 };
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= limit {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
}

pub fn decimal_text(v: i128, scale: i8, trim: bool, out: &mut String) {
    let mut s = Decimal128Type::format_decimal(v, 38, scale);
    if trim && s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    out.push_str(&s);
}

fn bytea_text(b: &[u8], out: &mut String) {
    use std::fmt::Write;
    out.push_str("\\x");
    for byte in b {
        write!(out, "{byte:02x}").unwrap();
    }
}

/// A date as PostgreSQL's `EncodeDateOnly` prints it in each DateStyle.
fn date_text(days: i64, style: DateStyle, out: &mut String) {
    use chrono::Datelike;
    use std::fmt::Write;
    let Some(d) = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|d| d.checked_add_signed(chrono::Duration::days(days)))
    else {
        out.push_str("infinity");
        return;
    };
    let (y, m, day) = (year_of_era(d.year()), d.month(), d.day());
    let dmy = style.order == DateOrder::Dmy;
    match style.output {
        DateOutput::Iso => write!(out, "{y:04}-{m:02}-{day:02}"),
        DateOutput::Sql if dmy => write!(out, "{day:02}/{m:02}/{y:04}"),
        DateOutput::Sql => write!(out, "{m:02}/{day:02}/{y:04}"),
        DateOutput::German => write!(out, "{day:02}.{m:02}.{y:04}"),
        DateOutput::Postgres if dmy => write!(out, "{day:02}-{m:02}-{y:04}"),
        DateOutput::Postgres => write!(out, "{m:02}-{day:02}-{y:04}"),
    }
    .unwrap();
    if d.year() <= 0 {
        out.push_str(" BC");
    }
}

/// Years as written with an era: chrono's year 0 is 1 BC.
fn year_of_era(y: i32) -> i32 {
    if y <= 0 { 1 - y } else { y }
}

fn frac_text(micros: u32, out: &mut String) {
    if micros > 0 {
        let s = format!("{micros:06}");
        out.push('.');
        out.push_str(s.trim_end_matches('0'));
    }
}

fn time_text(us: i64, out: &mut String) {
    use std::fmt::Write;
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000) as u32;
    write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
    .unwrap();
    frac_text(frac, out);
}

/// A timestamp as PostgreSQL's `EncodeDateTime` prints it in each DateStyle; with a zone (for
/// `timestamptz`), the instant shown in that zone, followed by its offset (ISO) or its
/// abbreviation (the other styles).
fn timestamp_text(us: i64, zone: Option<&SessionZone>, style: DateStyle, out: &mut String) {
    use chrono::Datelike;
    use std::fmt::Write;
    let utc = DateTime::from_timestamp_micros(us).map(|dt| dt.naive_utc());
    let off = match (zone, utc) {
        (Some(z), Some(utc)) if !z.is_utc() => z.offset_at_utc(utc),
        _ => 0,
    };
    let local = us + off as i64 * 1_000_000;
    let secs = local.div_euclid(1_000_000);
    let frac = local.rem_euclid(1_000_000) as u32;
    let Some(dt) = DateTime::from_timestamp(secs, 0).map(|dt| dt.naive_utc()) else {
        out.push_str(if us > 0 { "infinity" } else { "-infinity" });
        return;
    };
    let (y, m, d) = (year_of_era(dt.year()), dt.month(), dt.day());
    let dmy = style.order == DateOrder::Dmy;
    let hms = |out: &mut String| {
        write!(out, "{}", dt.format("%H:%M:%S")).unwrap();
        frac_text(frac, out);
    };
    match style.output {
        DateOutput::Iso => write!(out, "{y:04}-{m:02}-{d:02} ").unwrap(),
        DateOutput::Sql if dmy => write!(out, "{d:02}/{m:02}/{y:04} ").unwrap(),
        DateOutput::Sql => write!(out, "{m:02}/{d:02}/{y:04} ").unwrap(),
        DateOutput::German => write!(out, "{d:02}.{m:02}.{y:04} ").unwrap(),
        DateOutput::Postgres => {
            let (wd, mon) = (dt.format("%a"), dt.format("%b"));
            if dmy {
                write!(out, "{wd} {d:02} {mon} ").unwrap();
            } else {
                write!(out, "{wd} {mon} {d:02} ").unwrap();
            }
        }
    }
    hms(out);
    if style.output == DateOutput::Postgres {
        write!(out, " {y:04}").unwrap();
    }
    if let Some(z) = zone {
        let abbreviation = match style.output {
            DateOutput::Iso => None,
            _ => utc.and_then(|utc| z.abbreviation_at_utc(utc)),
        };
        match abbreviation {
            Some(a) => write!(out, " {a}").unwrap(),
            None => {
                if style.output != DateOutput::Iso {
                    out.push(' ');
                }
                let (sign, a) = if off < 0 { ('-', -off) } else { ('+', off) };
                write!(out, "{sign}{:02}", a / 3600).unwrap();
                if a % 3600 != 0 {
                    write!(out, ":{:02}", a / 60 % 60).unwrap();
                    if a % 60 != 0 {
                        write!(out, ":{:02}", a % 60).unwrap();
                    }
                }
            }
        }
    }
    if dt.year() <= 0 {
        out.push_str(" BC");
    }
}

/// PostgreSQL's default `IntervalStyle = postgres`: `1 year 2 mons 3 days 04:05:06.5`.
pub fn interval_text(months: i32, days: i32, micros: i64, out: &mut String) {
    use std::fmt::Write;
    let mut parts: Vec<String> = vec![];
    let (years, mons) = (months / 12, months % 12);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if years != 0 {
        parts.push(unit(years as i64, "year", "years"));
    }
    if mons != 0 {
        parts.push(unit(mons as i64, "mon", "mons"));
    }
    if days != 0 {
        parts.push(unit(days as i64, "day", "days"));
    }
    out.push_str(&parts.join(" "));
    if micros != 0 || parts.is_empty() {
        if !parts.is_empty() {
            out.push(' ');
        }
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let secs = m / 1_000_000;
        if neg {
            out.push('-');
        } else if !parts.is_empty() && (months < 0 || days < 0) {
            out.push('+');
        }
        write!(
            out,
            "{:02}:{:02}:{:02}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
        .unwrap();
        frac_text((m % 1_000_000) as u32, out);
    }
}

fn array_text(
    values: &ArrayRef,
    elem: &PgType,
    time: &TimeSettings,
    out: &mut String,
) -> Result<()> {
    out.push('{');
    let mut buf = String::new();
    for i in 0..values.len() {
        if i > 0 {
            out.push(',');
        }
        if values.is_null(i) {
            out.push_str("NULL");
            continue;
        }
        buf.clear();
        text_value(values, i, elem, time, &mut buf)?;
        let nested = matches!(
            values.data_type(),
            DataType::List(_) | DataType::LargeList(_)
        );
        let needs_quote = !nested
            && (buf.is_empty()
                || buf.eq_ignore_ascii_case("null")
                || buf
                    .chars()
                    .any(|c| matches!(c, ',' | '{' | '}' | '"' | '\\') || c.is_whitespace()));
        if needs_quote {
            out.push('"');
            for c in buf.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&buf);
        }
    }
    out.push('}');
    Ok(())
}

/// Appends the binary form of `array[row]` (not null) to `out`, without the length prefix.
pub fn binary_value(array: &ArrayRef, row: usize, ty: &PgType, out: &mut BytesMut) -> Result<()> {
    match (ty, array.data_type()) {
        (PgType::Bool, DataType::Boolean) => out.put_u8(array.as_boolean().value(row) as u8),
        (PgType::Int2, _) => out.put_i16(int_at(array, row)? as i16),
        (PgType::Int4, _) => out.put_i32(int_at(array, row)? as i32),
        (PgType::Int8 | PgType::Oid, _) => {
            if matches!(ty, PgType::Oid) {
                out.put_u32(int_at(array, row)? as u32)
            } else {
                out.put_i64(int_at(array, row)?)
            }
        }
        (PgType::Float4, DataType::Float32) => {
            out.put_f32(array.as_primitive::<Float32Type>().value(row))
        }
        (PgType::Float4, DataType::Float16) => {
            let mut s = String::new();
            text_value(array, row, ty, &TimeSettings::default(), &mut s)?;
            out.put_f32(s.parse().unwrap_or(f32::NAN))
        }
        (PgType::Float8, DataType::Float64) => {
            out.put_f64(array.as_primitive::<Float64Type>().value(row))
        }
        (PgType::Bytea, _) => {
            let mut s = String::new();
            text_value(array, row, ty, &TimeSettings::default(), &mut s)?;
            let hex = &s[2..];
            for i in (0..hex.len()).step_by(2) {
                out.put_u8(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0));
            }
        }
        (PgType::Date, DataType::Date32) => out
            .put_i32((array.as_primitive::<Date32Type>().value(row) as i64 - PG_EPOCH_DAYS) as i32),
        (PgType::Time, DataType::Time64(TimeUnit::Microsecond)) => {
            out.put_i64(array.as_primitive::<Time64MicrosecondType>().value(row))
        }
        (PgType::Timestamp | PgType::Timestamptz, DataType::Timestamp(unit, _)) => {
            out.put_i64(timestamp_micros(array, row, *unit) - PG_EPOCH_MICROS)
        }
        (PgType::Interval, DataType::Interval(IntervalUnit::MonthDayNano)) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            out.put_i64(v.nanoseconds / 1000);
            out.put_i32(v.days);
            out.put_i32(v.months);
        }
        (PgType::Uuid, _) => {
            let mut s = String::new();
            text_value(array, row, ty, &TimeSettings::default(), &mut s)?;
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 {
                return Err(Error::internal(format!("stored uuid \"{s}\" is malformed")));
            }
            for i in (0..32).step_by(2) {
                out.put_u8(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0));
            }
        }
        (PgType::Jsonb, _) => {
            out.put_u8(1);
            let mut s = String::new();
            text_value(array, row, ty, &TimeSettings::default(), &mut s)?;
            out.put_slice(s.as_bytes());
        }
        (PgType::Numeric(_), DataType::LargeBinary) => out.put_slice(
            &eddy_common::numeric::Numeric::from_bytes(array.as_binary::<i64>().value(row))?
                .to_pg_binary(),
        ),
        (PgType::Numeric(_), DataType::Decimal128(_, scale)) => numeric_binary(
            array.as_primitive::<Decimal128Type>().value(row),
            *scale,
            out,
        ),
        (
            PgType::Array(elem) | PgType::Vector(elem),
            DataType::List(_) | DataType::LargeList(_),
        ) => {
            let values = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            out.put_i32(1); // dimensions
            out.put_i32(values.null_count().min(1) as i32);
            out.put_u32(elem.oid());
            out.put_i32(values.len() as i32);
            // PostgreSQL's vectors count from 0, its arrays from 1.
            out.put_i32(i32::from(matches!(ty, PgType::Array(_))));
            for i in 0..values.len() {
                if values.is_null(i) {
                    out.put_i32(-1);
                    continue;
                }
                let at = out.len();
                out.put_i32(0);
                binary_value(&values, i, elem, out)?;
                let len = (out.len() - at - 4) as i32;
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
        // text, varchar, json, name, and anything whose binary form is its text
        _ => {
            let mut s = String::new();
            text_value(array, row, ty, &TimeSettings::default(), &mut s)?;
            out.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

fn int_at(array: &ArrayRef, row: usize) -> Result<i64> {
    Ok(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row) as i64,
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row) as i64,
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row) as i64,
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row) as i64,
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row) as i64,
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row) as i64,
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row) as i64,
        other => return Err(Error::internal(format!("{other} is not an integer type"))),
    })
}

/// PostgreSQL's binary numeric: base-10000 digits with a weight, sign and display scale.
fn numeric_binary(v: i128, scale: i8, out: &mut BytesMut) {
    let neg = v < 0;
    let mut mag = v.unsigned_abs();
    let scale = scale.max(0) as u32;
    // Align the fraction to whole base-10000 digits.
    let pad = (4 - scale % 4) % 4;
    mag *= 10u128.pow(pad);
    let frac_groups = (scale + pad) / 4;
    let mut groups = vec![];
    while mag > 0 {
        groups.push((mag % 10_000) as i16);
        mag /= 10_000;
    }
    while (groups.len() as u32) < frac_groups {
        groups.push(0);
    }
    groups.reverse();
    let weight = groups.len() as i32 - frac_groups as i32 - 1;
    // Strip leading and trailing zero groups, keeping the weight right.
    let lead = groups.iter().take_while(|g| **g == 0).count();
    let digits: Vec<i16> = groups[lead..].to_vec();
    let weight = weight - lead as i32;
    let trail = digits.iter().rev().take_while(|g| **g == 0).count();
    let digits = &digits[..digits.len() - trail];
    out.put_i16(digits.len() as i16);
    out.put_i16(if digits.is_empty() { 0 } else { weight as i16 });
    out.put_u16(if neg && !digits.is_empty() { 0x4000 } else { 0 });
    out.put_u16(scale as u16);
    for d in digits {
        out.put_i16(*d);
    }
}

/// Parses a `HH:MM:SS[.ffffff]` time of day (for binary and text parameters).
pub fn parse_time(s: &str) -> Option<i64> {
    let t = NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()?;
    Some(t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64, single: bool) -> String {
        let mut s = String::new();
        float_text(v, single, &mut s);
        s
    }

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(f(1.5, false), "1.5");
        assert_eq!(f(0.1 + 0.2, false), "0.30000000000000004");
        assert_eq!(f(1e15, false), "1e+15");
        assert_eq!(f(123456789012345.0, false), "123456789012345");
        assert_eq!(f(1e-5, false), "1e-05");
        assert_eq!(f(0.0001, false), "0.0001");
        assert_eq!(f(100.0, false), "100");
        assert_eq!(f(-2.5, false), "-2.5");
        assert_eq!(f(1e6, true), "1e+06");
        assert_eq!(f(123456.0, true), "123456");
        assert_eq!(f(0.1f32 as f64, true), "0.1");
        assert_eq!(f(f64::INFINITY, false), "Infinity");
    }

    #[test]
    fn intervals_print_like_postgres() {
        let i = |m, d, us| {
            let mut s = String::new();
            interval_text(m, d, us, &mut s);
            s
        };
        assert_eq!(i(14, 3, 14_706_500_000), "1 year 2 mons 3 days 04:05:06.5");
        assert_eq!(i(0, 0, 0), "00:00:00");
        assert_eq!(i(0, -1, 0), "-1 days");
        assert_eq!(i(1, 0, 0), "1 mon");
        assert_eq!(i(0, 0, -3_600_000_000), "-01:00:00");
    }

    #[test]
    fn decimals_keep_or_trim_scale() {
        let d = |v, s, t| {
            let mut o = String::new();
            decimal_text(v, s, t, &mut o);
            o
        };
        assert_eq!(d(150, 2, false), "1.50");
        assert_eq!(d(15_000_000_000, 10, true), "1.5");
        assert_eq!(d(-5, 1, false), "-0.5");
        assert_eq!(d(10_000_000_000, 10, true), "1");
    }

    #[test]
    fn numeric_binary_layout() {
        let mut b = BytesMut::new();
        numeric_binary(1_234_567, 2, &mut b); // 12345.67
        assert_eq!(
            &b[..],
            &[0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c][..]
        );
    }
}
