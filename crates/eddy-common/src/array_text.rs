//! PostgreSQL's text form of one-dimensional arrays (`{1,NULL,"a b","q\"x"}`), read by COPY,
//! casts and text-format bind parameters alike.

use crate::{Error, Result, SqlState};

/// Parses a one-dimensional PostgreSQL array literal: `{1,NULL,"a b","q\"x"}`.
pub fn parse(v: &str) -> Result<Vec<Option<String>>> {
    let bad = || {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("malformed array literal: \"{v}\""),
        )
    };
    let t = v.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut out = vec![];
    if inner.trim().is_empty() {
        return Ok(out);
    }
    let chars: Vec<char> = inner.chars().collect();
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '"' {
            i += 1;
            let mut s = String::new();
            loop {
                let c = *chars.get(i).ok_or_else(bad)?;
                i += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        s.push(*chars.get(i).ok_or_else(bad)?);
                        i += 1;
                    }
                    c => s.push(c),
                }
            }
            out.push(Some(s));
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
        } else {
            let start = i;
            while i < chars.len() && chars[i] != ',' {
                if matches!(chars[i], '{' | '}' | '"') {
                    return Err(Error::unsupported("multi-dimensional arrays"));
                }
                i += 1;
            }
            let raw: String = chars[start..i]
                .iter()
                .collect::<String>()
                .trim()
                .to_string();
            if raw.is_empty() {
                return Err(bad());
            }
            out.push(if raw.eq_ignore_ascii_case("null") {
                None
            } else {
                Some(raw)
            });
        }
        if i >= chars.len() {
            break;
        }
        if chars[i] != ',' {
            return Err(bad());
        }
        i += 1;
    }
    Ok(out)
}
