//! PostgreSQL's date/time text input (ISO forms) and its session time zones.
//!
//! Arrow's string casts accept only a strict ISO form and apply an offset even when the target is
//! `timestamp without time zone`; PostgreSQL accepts `2020-5-7 1:02`, `20200507 010203`,
//! `epoch`, `today`, zone names, and ignores the zone of a `timestamp`. COPY, parameters and
//! string literals all come through here so the three agree.

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone as _,
    Utc,
};
use chrono_tz::Tz;

use crate::{Error, Result, SqlState};

/// A session's `TimeZone`: an IANA zone or a fixed offset (`+05:30`, POSIX `UTC-3`).
#[derive(Clone, Debug, PartialEq)]
pub enum SessionZone {
    Named(Tz),
    /// Seconds east of UTC.
    Fixed(i32),
}

impl Default for SessionZone {
    fn default() -> Self {
        SessionZone::Named(Tz::UTC)
    }
}

impl SessionZone {
    /// Reads a `SET TimeZone` value the way PostgreSQL does: a zone name (case-insensitive),
    /// `UTC`/`GMT`/`Z`, an ISO offset `+05:30`, or a POSIX-style `UTC+3` / bare number, whose
    /// sign means hours *west* of Greenwich.
    pub fn parse(v: &str) -> Option<SessionZone> {
        let v = v.trim();
        if let Some(tz) = zone_named(v) {
            return Some(SessionZone::Named(tz));
        }
        if v.eq_ignore_ascii_case("z") {
            return Some(SessionZone::Named(Tz::UTC));
        }
        // Unlike the POSIX forms below, a bare number is hours *east* (the SQL-standard form).
        if let Ok(h) = v.parse::<f64>() {
            return Some(SessionZone::Fixed((h * 3600.0).round() as i32));
        }
        for prefix in ["UTC", "GMT", "utc", "gmt"] {
            if let Some(rest) = v.strip_prefix(prefix) {
                return parse_offset(rest).map(|east| SessionZone::Fixed(-east));
            }
        }
        if v.starts_with(['+', '-']) {
            return parse_offset(v).map(|east| SessionZone::Fixed(-east));
        }
        None
    }

    /// The offset in seconds east of UTC at a UTC instant.
    pub fn offset_at_utc(&self, utc: NaiveDateTime) -> i32 {
        match self {
            SessionZone::Fixed(s) => *s,
            SessionZone::Named(tz) => tz.offset_from_utc_datetime(&utc).fix().local_minus_utc(),
        }
    }

    /// The offset that applies to a wall-clock time in this zone. A time skipped by a
    /// daylight-saving jump takes the offset before the jump (PostgreSQL moves it forward); an
    /// ambiguous one is read as standard time, as PostgreSQL does.
    pub fn offset_at_local(&self, local: NaiveDateTime) -> i32 {
        match self {
            SessionZone::Fixed(s) => *s,
            SessionZone::Named(tz) => match tz.offset_from_local_datetime(&local) {
                LocalResult::Single(o) => o.fix().local_minus_utc(),
                LocalResult::Ambiguous(a, b) => {
                    a.fix().local_minus_utc().min(b.fix().local_minus_utc())
                }
                LocalResult::None => tz
                    .offset_from_utc_datetime(&(local - Duration::hours(3)))
                    .fix()
                    .local_minus_utc(),
            },
        }
    }

    /// The zone's abbreviation at a UTC instant (`PST`, `CEST`), which the SQL, Postgres and
    /// German DateStyles print after a `timestamptz`; None for a fixed offset, which they print
    /// as a number.
    pub fn abbreviation_at_utc(&self, utc: NaiveDateTime) -> Option<String> {
        use chrono_tz::OffsetName;
        match self {
            SessionZone::Fixed(_) => None,
            SessionZone::Named(tz) => tz
                .offset_from_utc_datetime(&utc)
                .abbreviation()
                .map(str::to_string),
        }
    }

    /// The zone an Arrow timestamp type names (see `arrow_name`): an IANA name, or an offset
    /// east of UTC (`+05:30`, unlike the POSIX reading of `SET TimeZone`).
    pub fn from_arrow_name(name: &str) -> Option<SessionZone> {
        if name.starts_with(['+', '-']) {
            return parse_offset(name).map(SessionZone::Fixed);
        }
        zone_named(name).map(SessionZone::Named)
    }

    /// The zone as an Arrow timestamp type names it: an IANA name or `+HH:MM`.
    pub fn arrow_name(&self) -> String {
        match self {
            SessionZone::Named(tz) => tz.name().to_string(),
            SessionZone::Fixed(east) => {
                let (sign, a) = if *east < 0 {
                    ('-', -east)
                } else {
                    ('+', *east)
                };
                format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
            }
        }
    }

    pub fn is_utc(&self) -> bool {
        match self {
            SessionZone::Fixed(s) => *s == 0,
            SessionZone::Named(tz) => matches!(
                tz,
                Tz::UTC
                    | Tz::Etc__UTC
                    | Tz::Etc__UCT
                    | Tz::UCT
                    | Tz::Etc__Universal
                    | Tz::Universal
                    | Tz::Zulu
                    | Tz::Etc__Zulu
                    | Tz::GMT
                    | Tz::Etc__GMT
                    | Tz::Etc__Greenwich
            ),
        }
    }

    /// Reads a `SET TimeZone` value and gives the zone with the text `SHOW TimeZone` prints:
    /// the canonical zone name, `<+07>-07` for a bare number, or the value as given.
    pub fn parse_setting(v: &str) -> Option<(SessionZone, String)> {
        let zone = SessionZone::parse(v)?;
        let shown = match &zone {
            SessionZone::Named(tz) if !v.trim().eq_ignore_ascii_case("z") => tz.name().to_string(),
            SessionZone::Fixed(east) if v.trim().parse::<f64>().is_ok() => {
                let (sign, a) = if *east < 0 {
                    ('-', -east)
                } else {
                    ('+', *east)
                };
                let hm = if a % 3600 == 0 {
                    format!("{:02}", a / 3600)
                } else {
                    format!("{:02}:{:02}", a / 3600, a / 60 % 60)
                };
                let west = if sign == '+' { '-' } else { '+' };
                format!("<{sign}{hm}>{west}{hm}")
            }
            _ => v.trim().to_string(),
        };
        Some((zone, shown))
    }
}

/// How dates and timestamps are printed: `DateStyle`'s first word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateOutput {
    /// `1997-12-17 07:37:16-08`
    #[default]
    Iso,
    /// `12/17/1997 07:37:16 PST`
    Sql,
    /// `Wed Dec 17 07:37:16 1997 PST`
    Postgres,
    /// `17.12.1997 07:37:16 PST`
    German,
}

/// The order of day, month and year: how an ambiguous date (`01/02/03`) is read, and how the
/// SQL and Postgres output styles print one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DateOrder {
    #[default]
    Mdy,
    Dmy,
    Ymd,
}

/// A session's `DateStyle`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DateStyle {
    pub output: DateOutput,
    pub order: DateOrder,
}

impl DateStyle {
    /// Reads a `SET DateStyle` value as PostgreSQL's `check_datestyle` does: comma- or
    /// space-separated words naming at most one style and one order. A part not given keeps
    /// its current value, except that `German` alone also means day first. The error is the
    /// detail PostgreSQL gives.
    pub fn parse_setting(v: &str, current: DateStyle) -> std::result::Result<DateStyle, String> {
        let mut output = None;
        let mut order = None;
        let mut german_order = false;
        let mut words: Vec<String> = v
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(|w| w.trim_matches('"').to_ascii_uppercase())
            .collect();
        if words.is_empty() {
            return Err("Unrecognized key word: \"\".".into());
        }
        // `DEFAULT` in the list stands for the default's own words.
        if let Some(at) = words.iter().position(|w| w == "DEFAULT") {
            words.splice(at..=at, ["ISO".to_string(), "MDY".to_string()]);
        }
        let conflict = || "Conflicting \"datestyle\" specifications.".to_string();
        for w in &words {
            let (is_style, style, ord) = match w.as_str() {
                "ISO" => (true, Some(DateOutput::Iso), None),
                "SQL" => (true, Some(DateOutput::Sql), None),
                "POSTGRES" => (true, Some(DateOutput::Postgres), None),
                "GERMAN" => (true, Some(DateOutput::German), None),
                "YMD" => (false, None, Some(DateOrder::Ymd)),
                "DMY" | "EURO" | "EUROPEAN" => (false, None, Some(DateOrder::Dmy)),
                "MDY" | "US" | "NONEURO" | "NONEUROPEAN" => (false, None, Some(DateOrder::Mdy)),
                // PostgreSQL names the word as its list syntax reads it: in lower case.
                _ => {
                    let shown = w.to_ascii_lowercase();
                    return Err(format!("Unrecognized key word: \"{shown}\"."));
                }
            };
            if is_style {
                if output.is_some_and(|o| Some(o) != style) {
                    return Err(conflict());
                }
                output = style;
                if style == Some(DateOutput::German) && order.is_none() {
                    german_order = true;
                }
            } else {
                if order.is_some_and(|o| Some(o) != ord) {
                    return Err(conflict());
                }
                order = ord;
                german_order = false;
            }
        }
        Ok(DateStyle {
            output: output.unwrap_or(current.output),
            order: match order {
                Some(o) => o,
                None if german_order => DateOrder::Dmy,
                None => current.order,
            },
        })
    }

    /// The value `SHOW DateStyle` prints: `ISO, MDY`.
    pub fn shown(&self) -> String {
        let output = match self.output {
            DateOutput::Iso => "ISO",
            DateOutput::Sql => "SQL",
            DateOutput::Postgres => "Postgres",
            DateOutput::German => "German",
        };
        let order = match self.order {
            DateOrder::Mdy => "MDY",
            DateOrder::Dmy => "DMY",
            DateOrder::Ymd => "YMD",
        };
        format!("{output}, {order}")
    }
}

/// The session settings that date/time text depends on, printed or read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimeSettings {
    pub zone: SessionZone,
    pub style: DateStyle,
}

/// A zone by its IANA name, in any letter case as PostgreSQL allows.
fn zone_named(v: &str) -> Option<Tz> {
    v.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(v))
            .copied()
    })
}

/// `+HH`, `+HH:MM`, `+HHMM`, `+HH:MM:SS`: seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [hm] if hm.len() > 2 => {
            let (h, m) = hm.split_at(hm.len() - 2);
            (h.parse().ok()?, m.parse().ok()?, 0)
        }
        [h] => (h.parse().ok()?, 0, 0),
        [h, m] => (h.parse().ok()?, m.parse().ok()?, 0),
        [h, m, sec] => (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?),
        _ => return None,
    };
    let (h, m, sec): (i32, i32, i32) = (h, m, sec);
    if h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// What a date/time string says: a wall-clock time and perhaps a zone.
struct Parsed {
    local: NaiveDateTime,
    has_time: bool,
    zone: Option<Zone>,
}

enum Zone {
    Offset(i32),
    Named(Tz),
}

fn bad(kind: &str, text: &str) -> Error {
    Error::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {kind}: \"{text}\""),
    )
}

fn out_of_range(text: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{text}\""),
    )
}

fn now_in(zone: &SessionZone) -> NaiveDateTime {
    let utc = Utc::now().naive_utc();
    utc + Duration::seconds(zone.offset_at_utc(utc) as i64)
}

fn parse(text: &str, kind: &str, time: &TimeSettings) -> Result<Parsed> {
    let zone = &time.zone;
    let reordered = postgres_style_order(text.trim());
    let s = reordered.as_deref().unwrap_or(text.trim());
    // An era last (`0044-03-15 BC`), as every DateStyle prints years before 1.
    let (s, bc) = match s.rsplit_once(' ') {
        Some((head, era)) if era.eq_ignore_ascii_case("bc") => (head.trim_end(), true),
        Some((head, era)) if era.eq_ignore_ascii_case("ad") => (head.trim_end(), false),
        _ => (s, false),
    };
    let lower = s.to_ascii_lowercase();
    let special = |local: NaiveDateTime, zone: Option<Zone>| {
        Ok(Parsed {
            local,
            has_time: true,
            zone,
        })
    };
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    match lower.as_str() {
        "epoch" => {
            return special(
                midnight(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()),
                Some(Zone::Offset(0)),
            );
        }
        "now" => {
            let utc = Utc::now().naive_utc();
            let micros = utc.and_utc().timestamp_micros();
            let utc = DateTime::from_timestamp_micros(micros).unwrap().naive_utc();
            return special(utc, Some(Zone::Offset(0)));
        }
        "today" => return special(midnight(now_in(zone).date()), None),
        "tomorrow" => return special(midnight(now_in(zone).date() + Duration::days(1)), None),
        "yesterday" => return special(midnight(now_in(zone).date() - Duration::days(1)), None),
        "infinity" | "+infinity" | "-infinity" => {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!("infinite {kind} values are not supported"),
            ));
        }
        _ => {}
    }
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        &s[start..*i]
    };
    let (year, month, day) =
        date_fields(s, &mut i, time.style.order).ok_or_else(|| bad(kind, text))?;
    // There is no year 0: 1 BC is followed by AD 1.
    if year == 0 {
        return Err(out_of_range(text));
    }
    let year = if bc { 1 - year } else { year };
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| out_of_range(text))?;
    // The time: after 'T' or spaces, H:MM[:SS[.frac]] or HHMMSS[.frac].
    let mut rest_start = i;
    if i < b.len() && (b[i] == b'T' || b[i] == b't') {
        i += 1;
    } else {
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
    }
    let mut time = NaiveTime::MIN;
    let mut has_time = false;
    let mut carry_days = 0;
    if i < b.len() && b[i].is_ascii_digit() {
        let h = digits(&mut i);
        let (hour, minute, mut second): (u32, u32, u32);
        if h.len() == 6 && (i >= b.len() || b[i] != b':') {
            hour = h[..2].parse().unwrap();
            minute = h[2..4].parse().unwrap();
            second = h[4..].parse().unwrap();
        } else {
            if h.len() > 2 || i >= b.len() || b[i] != b':' {
                return Err(bad(kind, text));
            }
            i += 1;
            let m = digits(&mut i);
            if m.is_empty() || m.len() > 2 {
                return Err(bad(kind, text));
            }
            hour = h.parse().unwrap();
            minute = m.parse().unwrap();
            second = 0;
            if i < b.len() && b[i] == b':' {
                i += 1;
                let sec = digits(&mut i);
                if sec.is_empty() || sec.len() > 2 {
                    return Err(bad(kind, text));
                }
                second = sec.parse().unwrap();
            }
        }
        let mut micros: u64 = 0;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let f = digits(&mut i);
            // Rounded to the microsecond as PostgreSQL does it: through a double, half to even.
            let frac: f64 = format!("0.{f}").parse().unwrap_or(0.0);
            micros = (frac * 1e6).round_ties_even() as u64;
        }
        if minute > 59
            || second > 60
            || hour > 24
            || (hour == 24 && (minute, second, micros) != (0, 0, 0))
        {
            return Err(out_of_range(text));
        }
        let mut secs = hour * 3600 + minute * 60 + second;
        if micros == 1_000_000 {
            micros = 0;
            secs += 1;
        }
        if secs >= 86_400 {
            carry_days = 1;
            secs -= 86_400;
        }
        time = NaiveTime::from_num_seconds_from_midnight_opt(secs, micros as u32 * 1000)
            .ok_or_else(|| out_of_range(text))?;
        has_time = true;
        rest_start = i;
    }
    i = rest_start;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let rest = &s[i..];
    let zone = if rest.is_empty() {
        None
    } else if rest.eq_ignore_ascii_case("z")
        || rest.eq_ignore_ascii_case("utc")
        || rest.eq_ignore_ascii_case("gmt")
    {
        Some(Zone::Offset(0))
    } else if let Some(off) = parse_offset(rest) {
        Some(Zone::Offset(off))
    } else if let Some(tz) = zone_named(rest) {
        Some(Zone::Named(tz))
    } else {
        return Err(bad(kind, text));
    };
    Ok(Parsed {
        local: date.and_time(time) + Duration::days(carry_days),
        has_time,
        zone,
    })
}

/// PostgreSQL's own output style (`Wed Dec 17 07:37:16 1997 PST`) may lead with a weekday and
/// puts the year after the time; PostgreSQL reads it back whatever the DateStyle. This gives
/// such text in the order `date_fields` reads (no weekday, the year before the time), or None
/// when the text is not of that form.
fn postgres_style_order(s: &str) -> Option<String> {
    let mut words: Vec<&str> = s.split_whitespace().collect();
    let mut changed = false;
    if words
        .first()
        .is_some_and(|w| weekday_named(w.trim_end_matches(',')))
    {
        words.remove(0);
        changed = true;
    }
    if words.len() >= 4
        && words[2].contains(':')
        && words[3].bytes().all(|b| b.is_ascii_digit())
        && (month_named(words[0]).is_some() || month_named(words[1]).is_some())
    {
        words.swap(2, 3);
        changed = true;
    }
    changed.then(|| words.join(" "))
}

fn weekday_named(w: &str) -> bool {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let w = w.to_ascii_lowercase();
    w.len() >= 3 && DAYS.iter().any(|d| d.starts_with(&w))
}

/// The date at the start of `s`, leaving `i` after it: `Y-M-D` (also with `/` or `.`), eight
/// digits `YYYYMMDD`, three numbers of one or two digits first in the session's field order
/// (`M/D/Y`, `D/M/Y` or `Y/M/D`, with `/`, `-` or `.`), and a month name anywhere
/// (`Jan 8, 1999`, `8-Jan-1999`, `1999-Jan-08`). A year of one or two digits is PostgreSQL's:
/// 70..99 is 19xx, else 20xx.
fn date_fields(s: &str, i: &mut usize, order: DateOrder) -> Option<(i32, u32, u32)> {
    let b = s.as_bytes();
    // The fields: up to three runs of digits or letters, with their separators.
    enum Field<'a> {
        Num(&'a str),
        Month(u32),
    }
    let mut fields: Vec<Field> = vec![];
    let mut j = *i;
    let mut seps: Vec<u8> = vec![];
    while fields.len() < 3 {
        let start = j;
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            fields.push(Field::Num(&s[start..j]));
        } else if j < b.len() && b[j].is_ascii_alphabetic() {
            while j < b.len() && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            fields.push(Field::Month(month_named(&s[start..j])?));
        } else {
            return None;
        }
        if fields.len() == 1
            && let Field::Num(n) = fields[0]
            && n.len() == 8
            && (j == b.len() || !matches!(b[j], b'-' | b'/' | b'.'))
        {
            *i = j;
            return Some((
                n[..4].parse().ok()?,
                n[4..6].parse().ok()?,
                n[6..].parse().ok()?,
            ));
        }
        if fields.len() == 3 {
            break;
        }
        // A separator: one of `-/.`, or spaces with an optional comma (`Jan 8, 1999`), which
        // only a month name may border.
        let sep_start = j;
        if j < b.len() && matches!(b[j], b'-' | b'/' | b'.') {
            seps.push(b[j]);
            j += 1;
        } else {
            if j < b.len() && b[j] == b',' {
                j += 1;
            }
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            if j == sep_start {
                return None;
            }
            seps.push(b' ');
        }
    }
    *i = j;
    let num = |f: &Field| match f {
        Field::Num(n) if n.len() <= 9 => n.parse::<i64>().ok(),
        _ => None,
    };
    let year = |f: &Field| {
        let Field::Num(n) = f else { return None };
        let y = n.parse::<i32>().ok()?;
        Some(match n.len() {
            1 | 2 if y >= 70 => 1900 + y,
            1 | 2 => 2000 + y,
            _ => y,
        })
    };
    let day = |f: &Field| num(f).filter(|d| *d <= 31).map(|d| d as u32);
    let spaced = seps.contains(&b' ');
    match (&fields[0], &fields[1], &fields[2]) {
        // Y-M-D: a year of three or more digits first.
        (Field::Num(y), Field::Num(m), Field::Num(_)) if y.len() >= 3 && !spaced => {
            if seps[0] != seps[1] || m.len() > 2 {
                return None;
            }
            Some((y.parse().ok()?, num(&fields[1])? as u32, day(&fields[2])?))
        }
        // In the DateStyle's order; PostgreSQL takes a first number as the year in YMD
        // whatever its length.
        (Field::Num(a), Field::Num(_), Field::Num(_)) if a.len() <= 2 && !spaced => {
            if seps[0] != seps[1] {
                return None;
            }
            let [a, b, c] = [&fields[0], &fields[1], &fields[2]];
            match order {
                DateOrder::Mdy => Some((year(c)?, num(a)? as u32, day(b)?)),
                DateOrder::Dmy => Some((year(c)?, num(b)? as u32, day(a)?)),
                DateOrder::Ymd => Some((year(a)?, num(b)? as u32, day(c)?)),
            }
        }
        (Field::Month(m), d, y) => Some((year(y)?, *m, day(d)?)),
        (Field::Num(y), Field::Month(m), d) if y.len() >= 3 => Some((y.parse().ok()?, *m, day(d)?)),
        (d, Field::Month(m), y) => Some((year(y)?, *m, day(d)?)),
        _ => None,
    }
}

/// A month's English name or its first three letters.
fn month_named(w: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = w.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| w.len() >= 3 && m.starts_with(&w))
        .map(|p| p as u32 + 1)
}

fn micros(dt: NaiveDateTime) -> i64 {
    dt.and_utc().timestamp_micros()
}

/// `timestamp without time zone` input: the wall-clock time; a zone in the text is ignored.
pub fn parse_timestamp(text: &str, time: &TimeSettings) -> Result<i64> {
    let p = parse(text, "timestamp", time)?;
    Ok(micros(p.local))
}

/// `timestamp with time zone` input, as microseconds since the epoch in UTC. Text without a
/// zone is a wall-clock time in the session's zone.
pub fn parse_timestamptz(text: &str, time: &TimeSettings) -> Result<i64> {
    let session = &time.zone;
    let p = parse(text, "timestamp with time zone", time)?;
    let offset = match p.zone {
        Some(Zone::Offset(o)) => o,
        Some(Zone::Named(tz)) => SessionZone::Named(tz).offset_at_local(p.local),
        None => session.offset_at_local(p.local),
    };
    Ok(micros(p.local) - offset as i64 * 1_000_000)
}

/// `date` input: days since 1970-01-01. A time of day may follow and is ignored.
pub fn parse_date(text: &str, time: &TimeSettings) -> Result<i32> {
    let p = parse(text, "date", time)?;
    let _ = p.has_time;
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    Ok((p.local.date() - epoch).num_days() as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microseconds of a `YYYY-MM-DD HH:MM:SS[.f]` time read as UTC.
    fn utc(s: &str) -> i64 {
        let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        t.and_utc().timestamp_micros()
    }

    fn ts(s: &str) -> i64 {
        parse_timestamp(s).unwrap()
    }

    fn parse_timestamp(s: &str) -> Result<i64> {
        super::parse_timestamp(s, &TimeSettings::default())
    }

    fn parse_date(s: &str) -> Result<i32> {
        super::parse_date(s, &TimeSettings::default())
    }

    fn in_order(order: DateOrder) -> TimeSettings {
        TimeSettings {
            zone: SessionZone::default(),
            style: DateStyle {
                output: DateOutput::Iso,
                order,
            },
        }
    }

    fn tstz(s: &str, zone: &str) -> i64 {
        let time = TimeSettings {
            zone: SessionZone::parse(zone).unwrap(),
            style: DateStyle::default(),
        };
        parse_timestamptz(s, &time).unwrap()
    }

    #[test]
    fn timestamps_read_like_postgres() {
        assert_eq!(ts("2020-05-17 10:00"), utc("2020-05-17 10:00:00"));
        assert_eq!(ts("2020-5-7 1:2:3"), utc("2020-05-07 01:02:03"));
        assert_eq!(ts("20200517 100000"), utc("2020-05-17 10:00:00"));
        assert_eq!(ts("2020-05-17T10:00:00+02"), utc("2020-05-17 10:00:00"));
        assert_eq!(
            ts("2020-05-17 10:00:00.1234567"),
            utc("2020-05-17 10:00:00.123457")
        );
        assert_eq!(
            ts("2020-05-17 10:00:00.1234565"),
            utc("2020-05-17 10:00:00.123456")
        );
        assert_eq!(
            ts("2020-05-17 23:59:59.9999999"),
            utc("2020-05-18 00:00:00")
        );
        assert_eq!(ts("2020-05-17 24:00"), utc("2020-05-18 00:00:00"));
        assert_eq!(ts("epoch"), utc("1970-01-01 00:00:00"));
        assert!(parse_timestamp("2020-02-30").is_err());
        assert!(parse_timestamp("2020-05-17 25:00").is_err());
        assert!(parse_timestamp("yesterday-ish").is_err());
        assert!(parse_timestamp("10:00").is_err());
    }

    #[test]
    fn zones_apply_to_timestamptz() {
        assert_eq!(
            tstz("2020-05-17 10:00:00+02", "UTC"),
            utc("2020-05-17 08:00:00")
        );
        assert_eq!(
            tstz("2020-05-17 10:00", "Europe/Paris"),
            utc("2020-05-17 08:00:00")
        );
        assert_eq!(
            tstz("2020-01-17 10:00 UTC", "Europe/Paris"),
            utc("2020-01-17 10:00:00")
        );
        assert_eq!(
            tstz("2020-05-17 10:00", "Asia/Kolkata"),
            utc("2020-05-17 04:30:00")
        );
        assert_eq!(
            tstz("2020-05-17 10:00 America/New_York", "UTC"),
            utc("2020-05-17 14:00:00")
        );
        // A wall-clock time skipped by the spring-forward jump moves forward, as in PostgreSQL;
        // an ambiguous one is standard time.
        assert_eq!(
            tstz("2020-11-01 01:30", "America/New_York"),
            utc("2020-11-01 06:30:00")
        );
        assert_eq!(
            tstz("2020-03-08 02:30", "America/New_York"),
            utc("2020-03-08 07:30:00")
        );
        // POSIX offsets count hours west of Greenwich.
        assert_eq!(
            tstz("2020-05-17 10:00", "UTC+3"),
            utc("2020-05-17 13:00:00")
        );
        assert_eq!(
            tstz("2020-05-17 10:00", "+05:30"),
            utc("2020-05-17 15:30:00")
        );
    }

    #[test]
    fn zone_settings_show_like_postgres() {
        let shown = |v: &str| SessionZone::parse_setting(v).unwrap().1;
        assert_eq!(shown("europe/paris"), "Europe/Paris");
        assert_eq!(shown("utc"), "UTC");
        assert_eq!(shown("7"), "<+07>-07");
        assert_eq!(shown("5.5"), "<+05:30>-05:30");
        assert_eq!(shown("UTC+3"), "UTC+3");
        assert!(SessionZone::parse("Mars/Olympus").is_none());
    }

    #[test]
    fn dates_read_like_postgres() {
        assert_eq!(parse_date("1970-01-02").unwrap(), 1);
        assert_eq!(parse_date("2020-05-17 10:00").unwrap(), 18399);
        assert!(parse_date("2020-13-01").is_err());
        assert_eq!(
            parse_date("0001-12-31 BC").unwrap() + 1,
            parse_date("0001-01-01").unwrap()
        );
        assert!(parse_date("0000-01-01").is_err());
        // Month first, two-digit years, month names.
        let d = |s: &str| parse_date(s).unwrap();
        assert_eq!(d("01/02/1970"), 1);
        assert_eq!(d("1-2-70"), 1);
        assert_eq!(d("Jan 2, 1970"), 1);
        assert_eq!(d("2-jan-1970"), 1);
        assert_eq!(d("1970-January-02"), 1);
        assert_eq!(d("20200517"), 18399);
        for bad in [
            "13/01/2024",
            "01/02",
            "Foo 2 1970",
            "2020-05/17",
            "1/2/3/4",
            "Ja 2 1970",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn field_order_follows_datestyle() {
        let d = |s: &str, o: DateOrder| super::parse_date(s, &in_order(o)).unwrap();
        assert_eq!(d("01/02/1970", DateOrder::Mdy), 1);
        assert_eq!(d("02/01/1970", DateOrder::Dmy), 1);
        assert_eq!(d("70/01/02", DateOrder::Ymd), 1);
        assert_eq!(d("02.01.70", DateOrder::Dmy), 1);
        // A year of three or more digits first is Y-M-D in every order.
        assert_eq!(d("1970-01-02", DateOrder::Dmy), 1);
        assert!(super::parse_date("13/01/2024", &in_order(DateOrder::Mdy)).is_err());
        assert!(super::parse_date("01/13/2024", &in_order(DateOrder::Dmy)).is_err());
    }

    #[test]
    fn postgres_style_output_reads_back() {
        assert_eq!(ts("Wed Dec 17 07:37:16 1997"), utc("1997-12-17 07:37:16.0"));
        assert_eq!(
            ts("Wed 17 Dec 07:37:16.5 1997"),
            utc("1997-12-17 07:37:16.5")
        );
        assert_eq!(
            tstz("Wed Dec 17 07:37:16 1997 UTC", "Europe/Paris"),
            utc("1997-12-17 07:37:16.0")
        );
        assert_eq!(parse_date("Thursday, Jan 1 1970").unwrap(), 0);
    }

    #[test]
    fn datestyle_settings_read_like_postgres() {
        let set = |v: &str, cur: DateStyle| DateStyle::parse_setting(v, cur).map(|s| s.shown());
        let iso = DateStyle::default();
        assert_eq!(set("SQL, DMY", iso).unwrap(), "SQL, DMY");
        assert_eq!(set("german", iso).unwrap(), "German, DMY");
        assert_eq!(set("German, MDY", iso).unwrap(), "German, MDY");
        assert_eq!(set("MDY German", iso).unwrap(), "German, MDY");
        assert_eq!(set("postgres", iso).unwrap(), "Postgres, MDY");
        assert_eq!(set("euro", iso).unwrap(), "ISO, DMY");
        let sql_dmy = DateStyle::parse_setting("sql,dmy", iso).unwrap();
        assert_eq!(set("ISO", sql_dmy).unwrap(), "ISO, DMY");
        assert_eq!(set("default", sql_dmy).unwrap(), "ISO, MDY");
        assert_eq!(
            set("ISO, SQL", iso).unwrap_err(),
            "Conflicting \"datestyle\" specifications."
        );
        assert_eq!(
            set("iso, blah", iso).unwrap_err(),
            "Unrecognized key word: \"blah\"."
        );
    }
}
