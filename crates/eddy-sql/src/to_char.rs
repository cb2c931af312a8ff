//! `to_char(date | timestamp | timestamptz, text)` with PostgreSQL's template patterns
//! (`YYYY-MM-DD HH24:MI:SS`, `FMMonth`, `Dy`, `DDth`, `TZ`, quoted text...). DataFusion's own
//! `to_char` reads strftime patterns (`%Y`) and copies PostgreSQL's patterns through as text,
//! a silent wrong answer, so it is replaced. A `timestamptz` reaches this function already
//! in the session's zone (see `time_zone.rs`); its type names that zone.
//! `to_char` of numbers and intervals is refused with 0A000.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Date32Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use eddy_common::datetime::SessionZone;
use eddy_common::{Error, SqlState};

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    signature: Signature,
}

fn refuse(what: &str) -> DataFusionError {
    DataFusionError::External(Box::new(Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("to_char of {what} is not supported; it formats dates and timestamps"),
    )))
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [value, template] = arg_types else {
            return Err(DataFusionError::External(Box::new(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                "function to_char takes a value and a template",
            ))));
        };
        let value = match value {
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            DataType::Null => DataType::Date32,
            // Refused when typed (below): DataFusion would bury an error from here in its own.
            other => other.clone(),
        };
        let template = match template {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => {
                DataType::Utf8
            }
            other => return Err(refuse(&format!("a template of type {other}"))),
        };
        Ok(vec![value, template])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(DataType::Date32 | DataType::Timestamp(..)) => Ok(DataType::Utf8),
            Some(DataType::Interval(_)) => Err(refuse("an interval")),
            Some(t) if t.is_numeric() || matches!(t, DataType::LargeBinary) => {
                Err(refuse("a number"))
            }
            Some(t) => Err(refuse(&t.to_string())),
            None => Err(refuse("nothing")),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let values = args.args[0].to_array(n)?;
        let templates = args.args[1].to_array(n)?;
        let templates = templates.as_string::<i32>();
        let zone = match values.data_type() {
            DataType::Timestamp(_, Some(tz)) => Some(
                SessionZone::from_arrow_name(tz)
                    .ok_or_else(|| DataFusionError::Internal(format!("unknown time zone {tz}")))?,
            ),
            _ => None,
        };
        let mut out = StringBuilder::with_capacity(n, n * 16);
        let mut s = String::new();
        for i in 0..n {
            if values.is_null(i) || templates.is_null(i) {
                out.append_null();
                continue;
            }
            let (local, offset) = match values.data_type() {
                DataType::Date32 => {
                    let days = values.as_primitive::<Date32Type>().value(i);
                    let d = NaiveDate::from_ymd_opt(1970, 1, 1)
                        .and_then(|d| d.checked_add_signed(chrono::Duration::days(days as i64)))
                        .ok_or_else(|| DataFusionError::Execution("date out of range".into()))?;
                    (d.and_hms_opt(0, 0, 0).expect("midnight"), None)
                }
                _ => {
                    let us = values.as_primitive::<TimestampMicrosecondType>().value(i);
                    let utc = chrono::DateTime::from_timestamp_micros(us)
                        .ok_or_else(|| DataFusionError::Execution("timestamp out of range".into()))?
                        .naive_utc();
                    match &zone {
                        Some(z) => {
                            let off = z.offset_at_utc(utc);
                            let abbrev = z.abbreviation_at_utc(utc);
                            (
                                utc + chrono::Duration::seconds(off as i64),
                                Some((off, abbrev)),
                            )
                        }
                        None => (utc, None),
                    }
                }
            };
            s.clear();
            format(&local, offset.as_ref(), templates.value(i), &mut s);
            out.append_value(&s);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Replaces DataFusion's `to_char`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(ToChar {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
}

/// The template patterns, longest first where one begins another (`HH24` before `HH`).
const PATTERNS: &[&str] = &[
    "A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "CC", "DAY", "DDD", "DD", "DY", "D", "FF1", "FF2",
    "FF3", "FF4", "FF5", "FF6", "HH24", "HH12", "HH", "IDDD", "ID", "IW", "IYYY", "IYY", "IY", "I",
    "J", "MI", "MM", "MONTH", "MON", "MS", "OF", "P.M.", "PM", "Q", "RM", "SSSSS", "SSSS", "SS",
    "TZH", "TZM", "TZ", "US", "WW", "W", "Y,YYY", "YYYY", "YYY", "YY", "Y",
];

/// Patterns whose words follow the case they are written in (`Month`, `MONTH`, `month`).
const CASED: &[&str] = &[
    "A.D.", "A.M.", "AD", "AM", "B.C.", "BC", "DAY", "DY", "MONTH", "MON", "P.M.", "PM", "RM", "TZ",
];

#[derive(Clone, Copy)]
enum Case {
    Upper,
    Capital,
    Lower,
}

/// The pattern at the start of `t`, with the case it is written in.
fn pattern_at(t: &str) -> Option<(&'static str, Case)> {
    for p in PATTERNS {
        let Some(head) = t.get(..p.len()) else {
            continue;
        };
        if head == *p {
            return Some((p, Case::Upper));
        }
        if head.eq_ignore_ascii_case(p) {
            // PostgreSQL takes the all-lower-case spelling of every pattern, and `Month`,
            // `Day`, `Dy`, `Mon` written with a capital.
            if head == p.to_ascii_lowercase() {
                return Some((p, Case::Lower));
            }
            if CASED.contains(p)
                && head.starts_with(|c: char| c.is_ascii_uppercase())
                && head[1..] == p[1..].to_ascii_lowercase()
            {
                return Some((p, Case::Capital));
            }
        }
    }
    None
}

fn cased(word: &str, case: Case) -> String {
    match case {
        Case::Upper => word.to_ascii_uppercase(),
        Case::Lower => word.to_ascii_lowercase(),
        Case::Capital => {
            let lower = word.to_ascii_lowercase();
            let mut c = lower.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => lower,
            }
        }
    }
}

/// The English ordinal suffix of `n` (`st`, `nd`, `rd`, `th`).
fn ordinal(n: i64) -> &'static str {
    let n = n.abs();
    if (11..=13).contains(&(n % 100)) {
        return "th";
    }
    match n % 10 {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const ROMAN: [&str; 12] = [
    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
];

/// Formats `t` (wall-clock fields) by PostgreSQL's template; `zone` is the offset east and
/// abbreviation of a `timestamptz`.
pub fn format(
    t: &NaiveDateTime,
    zone: Option<&(i32, Option<String>)>,
    template: &str,
    out: &mut String,
) {
    use std::fmt::Write;
    let year = t.year(); // astronomical: 0 is 1 BC
    let era_year = if year <= 0 { 1 - year } else { year } as i64;
    let iso = t.iso_week();
    let iso_year = match iso.year() {
        y if y <= 0 => 1 - y,
        y => y,
    } as i64;
    let mut rest = template;
    while !rest.is_empty() {
        // Modifiers: FM (no padding) and FX/TM (no effect in the C locale) before a pattern.
        let mut fill = true;
        loop {
            let head = rest.get(..2).map(str::to_ascii_uppercase);
            match head.as_deref() {
                Some("FM") => {
                    fill = false;
                    rest = &rest[2..];
                }
                Some("FX") | Some("TM") => rest = &rest[2..],
                _ => break,
            }
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            // Quoted text is copied; a backslash in it escapes the next character.
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    c => out.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            continue;
        }
        if let Some(escaped) = rest.strip_prefix('\\')
            && let Some(c) = escaped.chars().next()
        {
            out.push(c);
            rest = &escaped[c.len_utf8()..];
            continue;
        }
        let Some((p, case)) = pattern_at(rest) else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        };
        rest = &rest[p.len()..];
        let num = |n: i64, width: usize, out: &mut String| {
            // A negative number keeps its width of digits (`-01`), as PostgreSQL's does.
            let width = if n < 0 { width + 1 } else { width };
            if fill {
                write!(out, "{n:0width$}").unwrap()
            } else {
                write!(out, "{n}").unwrap()
            }
        };
        let word = |w: &str, width: usize, out: &mut String| {
            let w = cased(w, case);
            if fill {
                write!(out, "{w:<width$}").unwrap()
            } else {
                out.push_str(&w)
            }
        };
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        } as i64;
        let pm = t.hour() >= 12;
        let bc = year <= 0;
        // The number a TH suffix would follow.
        let mut value: Option<i64> = None;
        match p {
            "HH24" => value = Some(t.hour() as i64).inspect(|v| num(*v, 2, out)),
            "HH" | "HH12" => value = Some(hour12).inspect(|v| num(*v, 2, out)),
            "MI" => value = Some(t.minute() as i64).inspect(|v| num(*v, 2, out)),
            "SS" => value = Some(t.second() as i64).inspect(|v| num(*v, 2, out)),
            "MS" => value = Some((t.nanosecond() / 1_000_000) as i64).inspect(|v| num(*v, 3, out)),
            "US" => value = Some((t.nanosecond() / 1000) as i64).inspect(|v| num(*v, 6, out)),
            "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                let digits = (p.as_bytes()[2] - b'0') as u32;
                let v = (t.nanosecond() / 1000) as i64 / 10i64.pow(6 - digits);
                write!(out, "{v:0width$}", width = digits as usize).unwrap();
                value = Some(v);
            }
            "SSSS" | "SSSSS" => {
                let v = t.num_seconds_from_midnight() as i64;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "AM" | "PM" => out.push_str(&cased(if pm { "PM" } else { "AM" }, case)),
            "A.M." | "P.M." => out.push_str(&cased(if pm { "P.M." } else { "A.M." }, case)),
            "AD" | "BC" => out.push_str(&cased(if bc { "BC" } else { "AD" }, case)),
            "A.D." | "B.C." => out.push_str(&cased(if bc { "B.C." } else { "A.D." }, case)),
            "Y,YYY" => {
                write!(out, "{},{:03}", era_year / 1000, era_year % 1000).unwrap();
                value = Some(era_year);
            }
            "YYYY" => value = Some(era_year).inspect(|v| num(*v, 4, out)),
            "YYY" => value = Some(era_year % 1000).inspect(|v| num(*v, 3, out)),
            "YY" => value = Some(era_year % 100).inspect(|v| num(*v, 2, out)),
            "Y" => value = Some(era_year % 10).inspect(|v| num(*v, 1, out)),
            "IYYY" => value = Some(iso_year).inspect(|v| num(*v, 4, out)),
            "IYY" => value = Some(iso_year % 1000).inspect(|v| num(*v, 3, out)),
            "IY" => value = Some(iso_year % 100).inspect(|v| num(*v, 2, out)),
            "I" => value = Some(iso_year % 10).inspect(|v| num(*v, 1, out)),
            "MONTH" => word(MONTHS[t.month0() as usize], 9, out),
            "MON" => out.push_str(&cased(&MONTHS[t.month0() as usize][..3], case)),
            "MM" => value = Some(t.month() as i64).inspect(|v| num(*v, 2, out)),
            "DAY" => word(DAYS[t.weekday().num_days_from_sunday() as usize], 9, out),
            "DY" => out.push_str(&cased(
                &DAYS[t.weekday().num_days_from_sunday() as usize][..3],
                case,
            )),
            "DDD" => value = Some(t.ordinal() as i64).inspect(|v| num(*v, 3, out)),
            "IDDD" => {
                let v = (iso.week() as i64 - 1) * 7 + t.weekday().number_from_monday() as i64;
                value = Some(v);
                num(v, 3, out);
            }
            "DD" => value = Some(t.day() as i64).inspect(|v| num(*v, 2, out)),
            "D" => {
                let v = t.weekday().number_from_sunday() as i64;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "ID" => {
                let v = t.weekday().number_from_monday() as i64;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "W" => {
                let v = (t.day() as i64 - 1) / 7 + 1;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "WW" => value = Some((t.ordinal() as i64 - 1) / 7 + 1).inspect(|v| num(*v, 2, out)),
            "IW" => value = Some(iso.week() as i64).inspect(|v| num(*v, 2, out)),
            "CC" => {
                let y = year as i64;
                let v = if y > 0 {
                    (y - 1) / 100 + 1
                } else {
                    y / 100 - 1
                };
                value = Some(v);
                num(v, 2, out);
            }
            "J" => {
                // Julian day: 2440588 is 1970-01-01.
                let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
                let v = (t.date() - epoch).num_days() + 2_440_588;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "Q" => {
                let v = (t.month0() / 3 + 1) as i64;
                write!(out, "{v}").unwrap();
                value = Some(v);
            }
            "RM" => word(ROMAN[t.month0() as usize], 4, out),
            "TZ" => {
                if let Some((off, abbrev)) = zone {
                    let text = abbrev.clone().unwrap_or_else(|| offset_text(*off));
                    out.push_str(&cased(&text, case));
                }
            }
            "TZH" => {
                if let Some((off, _)) = zone {
                    let sign = if *off < 0 { '-' } else { '+' };
                    write!(out, "{sign}{:02}", off.abs() / 3600).unwrap();
                }
            }
            "TZM" => {
                if let Some((off, _)) = zone {
                    write!(out, "{:02}", off.abs() / 60 % 60).unwrap();
                }
            }
            "OF" => {
                let off = zone.map_or(0, |(o, _)| *o);
                out.push_str(&offset_text(off));
            }
            _ => unreachable!("every pattern is handled"),
        }
        // An ordinal suffix after a number: TH upper case, th lower.
        if let Some(v) = value {
            if let Some(r) = rest.strip_prefix("TH") {
                out.push_str(&ordinal(v).to_ascii_uppercase());
                rest = r;
            } else if let Some(r) = rest.strip_prefix("th") {
                out.push_str(ordinal(v));
                rest = r;
            }
        }
    }
}

/// `+05:30`, `-08`: an offset east of UTC as PostgreSQL prints one.
fn offset_text(off: i32) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    if a % 3600 == 0 {
        format!("{sign}{:02}", a / 3600)
    } else {
        format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: &str, template: &str) -> String {
        let t = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        let mut s = String::new();
        format(&t, None, template, &mut s);
        s
    }

    #[test]
    fn templates_format_like_postgres() {
        let t = "2024-01-02 15:04:05.123456";
        assert_eq!(fmt(t, "YYYY-MM-DD HH24:MI:SS"), "2024-01-02 15:04:05");
        assert_eq!(fmt(t, "FMMonth FMDDth, YYYY"), "January 2nd, 2024");
        assert_eq!(fmt(t, "FMMonth DDth"), "January 02nd");
        assert_eq!(
            fmt(t, "Month|MON|mon|Dy|DAY"),
            "January  |JAN|jan|Tue|TUESDAY  "
        );
        assert_eq!(fmt(t, "HH12:MI am MS US"), "03:04 pm 123 123456");
        assert_eq!(fmt(t, "\"Day\" DDD IW Q CC J"), "Day 002 01 1 21 2460312");
        assert_eq!(fmt(t, "yyyy/mm/dd"), "2024/01/02");
        assert_eq!(fmt(t, "RM FMRM FF3"), "I    I 123");
    }
}
