//! `SUBSCRIBE`, which PostgreSQL's grammar does not have: `COPY (SUBSCRIBE [TO] v [WITH
//! (SNAPSHOT = true|false, PROGRESS [= true|false])] [AS OF epoch]) TO STDOUT`.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use eddy_common::{Error, Result, SqlState};

#[derive(Clone, Debug, PartialEq)]
pub struct Subscribe {
    /// `[schema.]view`, unresolved.
    pub name: Vec<String>,
    pub snapshot: bool,
    pub progress: bool,
    /// Start after this epoch (with SNAPSHOT, the view as of this epoch comes first).
    pub as_of: Option<u64>,
}

struct Tokens {
    toks: Vec<Token>,
    at: usize,
}

impl Tokens {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn expect(&mut self, t: Token, what: &str) -> Result<()> {
        match self.next() {
            Some(got) if got == t => Ok(()),
            got => Err(syntax(what, got)),
        }
    }
}

fn syntax(what: &str, got: Option<Token>) -> Error {
    let near = got.map_or("end of input".to_string(), |t| format!("\"{t}\""));
    Error::syntax(format!("syntax error at or near {near}: expected {what}"))
}

fn boolean(t: &mut Tokens) -> Result<bool> {
    match t.next() {
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("true") => Ok(true),
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("false") => Ok(false),
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("on") => Ok(true),
        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("off") => Ok(false),
        Some(Token::Number(n, _)) if n == "1" || n == "0" => Ok(n == "1"),
        got => Err(syntax("a boolean", got)),
    }
}

/// Recognizes a SUBSCRIBE statement; `None` when `sql` is not one.
pub fn parse(sql: &str) -> Option<Result<Subscribe>> {
    let toks: Vec<Token> = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .ok()?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut t = Tokens { toks, at: 0 };
    let via_copy = t.keyword("copy");
    if via_copy && t.next() != Some(Token::LParen) {
        return None;
    }
    if !t.keyword("subscribe") {
        return None;
    }
    Some(parse_body(&mut t, via_copy))
}

fn parse_body(t: &mut Tokens, via_copy: bool) -> Result<Subscribe> {
    if !via_copy {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "SUBSCRIBE is delivered through COPY (SUBSCRIBE ...) TO STDOUT",
        )
        .with_hint("Wrap it: COPY (SUBSCRIBE TO v) TO STDOUT."));
    }
    t.keyword("to");
    if t.peek() == Some(&Token::LParen) {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "SUBSCRIBE to a query is not implemented yet: create a materialized view and \
             subscribe to it",
        ));
    }
    let mut name = vec![];
    loop {
        match t.next() {
            Some(Token::Word(w)) => name.push(match w.quote_style {
                Some(_) => w.value,
                None => w.value.to_lowercase(),
            }),
            got => return Err(syntax("a view name", got)),
        }
        if t.peek() != Some(&Token::Period) {
            break;
        }
        t.next();
    }
    let mut s = Subscribe {
        name,
        snapshot: true,
        progress: false,
        as_of: None,
    };
    if t.keyword("with") {
        t.expect(Token::LParen, "(")?;
        loop {
            let opt = match t.next() {
                Some(Token::Word(w)) => w.value.to_lowercase(),
                got => return Err(syntax("an option name", got)),
            };
            let value = if t.peek() == Some(&Token::Eq) {
                t.next();
                boolean(t)?
            } else {
                true
            };
            match opt.as_str() {
                "snapshot" => s.snapshot = value,
                "progress" => s.progress = value,
                other => {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        format!("unrecognized SUBSCRIBE option \"{other}\""),
                    ));
                }
            }
            match t.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => break,
                got => return Err(syntax(", or )", got)),
            }
        }
    }
    if t.keyword("as") {
        if !t.keyword("of") {
            return Err(syntax("OF", t.next()));
        }
        match t.next() {
            Some(Token::Number(n, _)) => {
                s.as_of = Some(n.parse().map_err(|_| {
                    Error::new(SqlState::INVALID_PARAMETER_VALUE, format!("bad epoch {n}"))
                })?)
            }
            got => return Err(syntax("an epoch number", got)),
        }
    }
    t.expect(Token::RParen, ")")?;
    if !t.keyword("to") || !t.keyword("stdout") {
        return Err(syntax("TO STDOUT", t.next()));
    }
    t.keyword("with");
    while t.peek() == Some(&Token::SemiColon) {
        t.next();
    }
    if let Some(extra) = t.next()
        && !matches!(extra, Token::EOF)
    {
        return Err(syntax(
            "end of statement (COPY options are not taken here)",
            Some(extra),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subscribe_inside_copy() {
        let s = parse(
            "COPY (SUBSCRIBE TO public.v WITH (SNAPSHOT = false, PROGRESS) AS OF 12) TO STDOUT;",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.name, vec!["public", "v"]);
        assert!(!s.snapshot && s.progress);
        assert_eq!(s.as_of, Some(12));
        assert!(parse("COPY t TO STDOUT").is_none());
        assert!(parse("SELECT 1").is_none());
        assert!(parse("SUBSCRIBE v").unwrap().is_err());
        assert!(
            parse("COPY (SUBSCRIBE v WITH (bogus)) TO STDOUT")
                .unwrap()
                .is_err()
        );
    }
}
