//! PostgreSQL's `interval` input syntax: `1 year 2 mons 3 days 04:05:06.5`, `-2 hours`,
//! `@ 1 day ago`, `P`-less ISO forms aside.

use datafusion::arrow::datatypes::IntervalMonthDayNano;
use eddy_common::{Error, Result, SqlState};

pub fn parse(text: &str) -> Result<IntervalMonthDayNano> {
    let bad = || {
        Error::new(
            SqlState::INVALID_DATETIME_FORMAT,
            format!("invalid input syntax for type interval: \"{text}\""),
        )
    };
    let mut t = text.trim().to_ascii_lowercase();
    if let Some(rest) = t.strip_prefix('@') {
        t = rest.trim().to_string();
    }
    let ago = t.ends_with(" ago");
    if ago {
        t.truncate(t.len() - 4);
    }
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let tokens: Vec<&str> = t.split_whitespace().collect();
    if tokens.is_empty() {
        return Err(bad());
    }
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        if tok.contains(':') {
            micros += parse_clock(tok).ok_or_else(bad)?;
            i += 1;
            continue;
        }
        let num: f64 = tok.parse().map_err(|_| bad())?;
        let unit = tokens.get(i + 1).copied().unwrap_or("second");
        let u = unit.trim_end_matches(',');
        let scale = |m: f64| (num * m).round() as i64;
        match u {
            "year" | "years" | "y" | "yr" | "yrs" => months += scale(12.0),
            "month" | "months" | "mon" | "mons" => months += scale(1.0),
            "week" | "weeks" | "w" => days += scale(7.0),
            "day" | "days" | "d" => days += scale(1.0),
            "hour" | "hours" | "h" | "hr" | "hrs" => micros += scale(3_600_000_000.0),
            "minute" | "minutes" | "min" | "mins" | "m" => micros += scale(60_000_000.0),
            "second" | "seconds" | "sec" | "secs" | "s" => micros += scale(1_000_000.0),
            "millisecond" | "milliseconds" | "ms" => micros += scale(1000.0),
            "microsecond" | "microseconds" | "us" => micros += scale(1.0),
            _ => return Err(bad()),
        }
        i += if tokens.get(i + 1).is_some() { 2 } else { 1 };
    }
    let sign = if ago { -1 } else { 1 };
    let months = i32::try_from(months * sign).map_err(|_| bad())?;
    let days = i32::try_from(days * sign).map_err(|_| bad())?;
    Ok(IntervalMonthDayNano::new(
        months,
        days,
        micros * sign * 1000,
    ))
}

/// `[-]HH:MM[:SS[.frac]]` in microseconds.
fn parse_clock(tok: &str) -> Option<i64> {
    let (neg, t) = match tok.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: i64 = parts[0].parse().ok()?;
    let m: i64 = parts[1].parse().ok()?;
    let s: f64 = parts.get(2).map(|s| s.parse().ok()).unwrap_or(Some(0.0))?;
    let v = h * 3_600_000_000 + m * 60_000_000 + (s * 1_000_000.0).round() as i64;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_postgres_interval_forms() {
        let v = parse("1 year 2 mons 3 days 04:05:06.5").unwrap();
        assert_eq!(
            (v.months, v.days, v.nanoseconds),
            (14, 3, 14_706_500_000_000)
        );
        let v = parse("-2 hours").unwrap();
        assert_eq!(v.nanoseconds, -7_200_000_000_000);
        let v = parse("@ 1 day ago").unwrap();
        assert_eq!(v.days, -1);
        assert!(parse("nonsense").is_err());
    }
}
