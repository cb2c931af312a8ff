//! `jsonb` is stored in PostgreSQL's normalized text form, so it prints as PostgreSQL prints it:
//! object keys ordered by length then bytes, duplicate keys resolved to the last, `", "` and
//! `": "` separators. Numbers keep their text (`1.50` stays `1.50`).

use crate::{Error, Result, SqlState};

enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

/// Nesting depth past which input is refused (PostgreSQL's limit is the stack; ours is fixed).
const JSON_DEPTH_MAX: usize = 1000;

fn invalid(text: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json",
    )
    .with_detail(format!(
        "Token \"{}\" is invalid.",
        text.chars().take(40).collect::<String>()
    ))
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Json> {
        self.ws();
        let c = *self.s.get(self.i)?;
        match c {
            b'{' => {
                self.depth += 1;
                if self.depth > JSON_DEPTH_MAX {
                    return None;
                }
                self.i += 1;
                let mut fields: Vec<(String, Json)> = vec![];
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let Json::String(k) = self.string()? else {
                            return None;
                        };
                        self.ws();
                        if self.s.get(self.i) != Some(&b':') {
                            return None;
                        }
                        self.i += 1;
                        let v = self.value()?;
                        fields.retain(|(fk, _)| *fk != k);
                        fields.push((k, v));
                        self.ws();
                        match self.s.get(self.i)? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                fields.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
                Some(Json::Object(fields))
            }
            b'[' => {
                self.depth += 1;
                if self.depth > JSON_DEPTH_MAX {
                    return None;
                }
                self.i += 1;
                let mut items = vec![];
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.s.get(self.i)? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Some(Json::Array(items))
            }
            b'"' => self.string(),
            b't' => self.word(b"true", Json::Bool(true)),
            b'f' => self.word(b"false", Json::Bool(false)),
            b'n' => self.word(b"null", Json::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8], v: Json) -> Option<Json> {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Some(v)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let st = p.i;
            while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i > st
        };
        if !digits(self) {
            return None;
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if !digits(self) {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        Some(Json::Number(text.to_string()))
    }

    fn string(&mut self) -> Option<Json> {
        if self.s.get(self.i) != Some(&b'"') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i)?;
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let hex = std::str::from_utf8(self.s.get(self.i..self.i + 4)?).ok()?;
                            self.i += 4;
                            let mut cp = u32::from_str_radix(hex, 16).ok()?;
                            if (0xD800..0xDC00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                let lo = std::str::from_utf8(self.s.get(self.i + 2..self.i + 6)?)
                                    .ok()?;
                                let lo = u32::from_str_radix(lo, 16).ok()?;
                                self.i += 6;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            let ch = char::from_u32(cp)?;
                            let mut buf = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                c => out.push(c),
            }
        }
        Some(Json::String(String::from_utf8(out).ok()?))
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write(j: &Json, out: &mut String) {
    match j {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(n),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(v, out);
            }
            out.push(']');
        }
        Json::Object(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write(v, out);
            }
            out.push('}');
        }
    }
}

fn parse(text: &str) -> Result<Json> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value().ok_or_else(|| invalid(text))?;
    p.ws();
    if p.i != p.s.len() {
        return Err(invalid(text));
    }
    Ok(v)
}

/// Normalizes `jsonb` input text.
pub fn normalize_jsonb(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    write(&parse(text)?, &mut out);
    Ok(out)
}

/// A `->` / `->>` step: an object key, or an array index (negative counts from the end).
pub enum JsonKey<'a> {
    Field(&'a str),
    Index(i64),
}

/// `json -> key` (`as_text`: `->>`): the element in jsonb's text form (for `->>`, a string is
/// unquoted and JSON null is SQL NULL); `None` when there is no such element.
pub fn get(text: &str, key: JsonKey, as_text: bool) -> Result<Option<String>> {
    let j = parse(text)?;
    let found = match (&j, key) {
        (Json::Object(fields), JsonKey::Field(k)) => {
            fields.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v)
        }
        (Json::Array(items), JsonKey::Index(i)) => {
            let n = items.len() as i64;
            let i = if i < 0 { n + i } else { i };
            (0..n).contains(&i).then(|| &items[i as usize])
        }
        _ => None,
    };
    Ok(found.and_then(|v| match v {
        Json::String(s) if as_text => Some(s.clone()),
        Json::Null if as_text => None,
        v => {
            let mut out = String::new();
            write(v, &mut out);
            Some(out)
        }
    }))
}

/// Checks `json` input text (which PostgreSQL stores verbatim).
pub fn validate_json(text: &str) -> Result<()> {
    parse(text).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_normalizes_like_postgres() {
        assert_eq!(
            normalize_jsonb(r#"{"bb":1,"a":[1,2.50,{"x":null}],"a":true}"#).unwrap(),
            r#"{"a": true, "bb": 1}"#
        );
        assert_eq!(
            normalize_jsonb(" [1, \"x\\u00e9\"] ").unwrap(),
            "[1, \"xé\"]"
        );
        assert!(normalize_jsonb("{bad}").is_err());
        let doc = r#"{"a": {"b": [1, "x", null]}, "s": "t"}"#;
        assert_eq!(
            get(doc, JsonKey::Field("a"), false).unwrap().unwrap(),
            r#"{"b": [1, "x", null]}"#
        );
        assert_eq!(get(doc, JsonKey::Field("s"), true).unwrap().unwrap(), "t");
        assert_eq!(
            get(doc, JsonKey::Field("s"), false).unwrap().unwrap(),
            "\"t\""
        );
        assert_eq!(
            get(r#"[1, "x", null]"#, JsonKey::Index(-2), true)
                .unwrap()
                .unwrap(),
            "x"
        );
        assert_eq!(
            get(r#"[1, "x", null]"#, JsonKey::Index(2), true).unwrap(),
            None
        );
        assert_eq!(get(doc, JsonKey::Index(0), true).unwrap(), None);
        assert!(normalize_jsonb("[1,]").is_err());
    }
}
