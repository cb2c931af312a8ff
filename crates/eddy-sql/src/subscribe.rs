//! `SUBSCRIBE`, which PostgreSQL's grammar does not have: `COPY (SUBSCRIBE [TO] v | (query) [WITH
//! (SNAPSHOT = true|false, PROGRESS [= true|false])] [AS OF epoch]) TO STDOUT`, and
//! `DECLARE c CURSOR FOR SUBSCRIBE ...` with `FETCH n|ALL [FROM] c [WITH (timeout = '1s')]` and
//! `CLOSE c` (Eddy's cursors are subscription cursors).

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use eddy_common::{Error, Result, SqlState};

#[derive(Clone, Debug, PartialEq)]
pub struct Subscribe {
    /// `[schema.]view`, unresolved (empty for a query).
    pub name: Vec<String>,
    /// `SUBSCRIBE (SELECT ...)`: the query's SQL text.
    pub query: Option<String>,
    pub snapshot: bool,
    pub progress: bool,
    /// Start after this epoch (with SNAPSHOT, the view as of this epoch comes first).
    pub as_of: Option<u64>,
    /// `ENVELOPE UPSERT|OP (KEY (cols))` and its key columns.
    pub envelope: Option<(Envelope, Vec<String>)>,
}

/// How rows are labelled when the subscriber names a key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Envelope {
    /// One row per changed key: its new values, or a delete marker (a `state` column).
    Upsert,
    /// Each row's change as `insert`, `delete`, or an `update_delete` / `update_insert` pair
    /// when a key's one row was replaced (an `op` column).
    Op,
}

struct Tokens {
    toks: Vec<Token>,
    at: usize,
}

impl Tokens {
    /// The statement's tokens without whitespace; `None` if it does not tokenize (the SQL
    /// parser then reports the error).
    fn of(sql: &str) -> Option<Tokens> {
        let toks = tokenizer(sql)
            .tokenize()
            .ok()?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        Some(Tokens { toks, at: 0 })
    }

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

/// Literals stay as written (`'it''s'` keeps its doubled quote), so a token prints back as the
/// SQL it came from: the text of a subscribed query is rebuilt from its tokens.
fn tokenizer(sql: &str) -> Tokenizer<'_> {
    Tokenizer::new(&PostgreSqlDialect {}, sql).with_unescape(false)
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

/// A subscription statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SubscribeStmt {
    /// `COPY (SUBSCRIBE ...) TO STDOUT`
    Copy(Subscribe),
    Declare {
        cursor: String,
        subscribe: Subscribe,
    },
    /// `FETCH` or `MOVE` (`discard`: the rows are skipped, not returned). `count` None is ALL;
    /// `timeout` None waits for at least one row of a subscription.
    Fetch {
        cursor: String,
        count: Option<u64>,
        timeout: Option<std::time::Duration>,
        discard: bool,
    },
    Close {
        cursor: Option<String>,
    },
    /// `CREATE SUBSCRIPTION s FROM v [WITH (retention = '1 day')]`
    CreateSubscription {
        name: String,
        view: Vec<String>,
        retention: Option<std::time::Duration>,
    },
    DropSubscription {
        name: String,
        if_exists: bool,
    },
    /// `DECLARE c SUBSCRIPTION CURSOR FOR s [SINCE epoch | FULL]`: without either, from now.
    DeclareNamed {
        cursor: String,
        subscription: String,
        since: Option<u64>,
        full: bool,
    },
}

fn ident(t: &mut Tokens, what: &str) -> Result<String> {
    match t.next() {
        Some(Token::Word(w)) => Ok(match w.quote_style {
            Some(_) => w.value,
            None => w.value.to_lowercase(),
        }),
        got => Err(syntax(what, got)),
    }
}

fn end(t: &mut Tokens) -> Result<()> {
    while t.peek() == Some(&Token::SemiColon) {
        t.next();
    }
    match t.next() {
        None | Some(Token::EOF) => Ok(()),
        got => Err(syntax("end of statement", got)),
    }
}

/// `'1s'`, `'250ms'`, `'2 seconds'`, `'0'`, or a bare number of seconds.
fn duration(t: &mut Tokens) -> Result<std::time::Duration> {
    match t.next() {
        Some(Token::SingleQuotedString(s)) => parse_duration(&s),
        Some(Token::Number(n, _)) => parse_duration(&n),
        got => Err(syntax("a duration", got)),
    }
}

/// A duration as the options of subscriptions, FETCH and `retain_history` take it: a number
/// with an optional unit (`'1 day'`, `'500ms'`, `30`: seconds).
pub fn parse_duration(text: &str) -> Result<std::time::Duration> {
    let v = text.trim().to_lowercase();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let invalid = || {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid duration \"{text}\""),
        )
    };
    let n: f64 = num.parse().map_err(|_| invalid())?;
    let secs = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => n,
        "ms" | "millisecond" | "milliseconds" => n / 1000.0,
        "min" | "mins" | "minute" | "minutes" => n * 60.0,
        "h" | "hour" | "hours" => n * 3600.0,
        "d" | "day" | "days" => n * 86_400.0,
        _ => return Err(invalid()),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Recognizes DECLARE ... CURSOR FOR SUBSCRIBE, FETCH, CLOSE and COPY (SUBSCRIBE ...); `None`
/// for anything else.
pub fn parse_statement(sql: &str) -> Option<Result<SubscribeStmt>> {
    parse_tokens(&mut Tokens::of(sql)?)
}

fn parse_tokens(t: &mut Tokens) -> Option<Result<SubscribeStmt>> {
    if t.keyword("create") {
        if !t.keyword("subscription") {
            return None;
        }
        return Some(parse_create_subscription(t));
    }
    if t.keyword("drop") {
        if !t.keyword("subscription") {
            return None;
        }
        let if_exists = t.keyword("if") && t.keyword("exists");
        return Some(ident(t, "a subscription name").and_then(|name| {
            end(t)?;
            Ok(SubscribeStmt::DropSubscription { name, if_exists })
        }));
    }
    if t.keyword("declare") {
        let cursor = match ident(t, "a cursor name") {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        if t.keyword("subscription") {
            return Some(parse_declare_named(t, cursor));
        }
        // DECLARE c [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR SUBSCRIBE ...
        while !t.keyword("for") {
            t.next()?;
        }
        if !t.keyword("subscribe") {
            return None;
        }
        return Some(
            parse_subscribe(t, Mode::Cursor)
                .map(|subscribe| SubscribeStmt::Declare { cursor, subscribe }),
        );
    }
    if t.keyword("fetch") {
        return Some(parse_fetch(t, false));
    }
    if t.keyword("move") {
        return Some(parse_fetch(t, true));
    }
    if t.keyword("close") {
        let cursor = if t.keyword("all") {
            None
        } else {
            match ident(t, "a cursor name") {
                Ok(c) => Some(c),
                Err(e) => return Some(Err(e)),
            }
        };
        return Some(end(t).map(|_| SubscribeStmt::Close { cursor }));
    }
    t.at = 0;
    parse_copy(t).map(|r| r.map(SubscribeStmt::Copy))
}

/// An optional `WITH (<option> = <duration>)`, the one option `statement` takes.
fn duration_option(
    t: &mut Tokens,
    option: &str,
    statement: &str,
) -> Result<Option<std::time::Duration>> {
    if !t.keyword("with") {
        return Ok(None);
    }
    t.expect(Token::LParen, "(")?;
    let opt = ident(t, option)?;
    if opt != option {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("unrecognized {statement} option \"{opt}\""),
        ));
    }
    t.expect(Token::Eq, "=")?;
    let d = duration(t)?;
    t.expect(Token::RParen, ")")?;
    Ok(Some(d))
}

fn parse_create_subscription(t: &mut Tokens) -> Result<SubscribeStmt> {
    let name = ident(t, "a subscription name")?;
    if !t.keyword("from") {
        return Err(syntax("FROM", t.next()));
    }
    let mut view = vec![ident(t, "a view name")?];
    while t.peek() == Some(&Token::Period) {
        t.next();
        view.push(ident(t, "a view name")?);
    }
    let retention = duration_option(t, "retention", "subscription")?;
    end(t)?;
    Ok(SubscribeStmt::CreateSubscription {
        name,
        view,
        retention,
    })
}

fn parse_declare_named(t: &mut Tokens, cursor: String) -> Result<SubscribeStmt> {
    if !t.keyword("cursor") || !t.keyword("for") {
        return Err(syntax("CURSOR FOR", t.next()));
    }
    let subscription = ident(t, "a subscription name")?;
    let mut since = None;
    let mut full = false;
    if t.keyword("since") {
        match t.next() {
            Some(Token::Number(n, _)) => {
                since = Some(
                    n.parse()
                        .map_err(|_| Error::syntax(format!("bad epoch {n}")))?,
                )
            }
            got => return Err(syntax("an epoch number", got)),
        }
    } else if t.keyword("full") {
        full = true;
    }
    end(t)?;
    Ok(SubscribeStmt::DeclareNamed {
        cursor,
        subscription,
        since,
        full,
    })
}

/// `FETCH|MOVE [FORWARD] [n | ALL | NEXT] [FROM | IN] c [WITH (timeout = ...)]`. Cursors here
/// only move forward, so the directions that go back or jump are refused.
fn parse_fetch(t: &mut Tokens, discard: bool) -> Result<SubscribeStmt> {
    for dir in ["backward", "prior", "first", "last", "absolute", "relative"] {
        if t.keyword(dir) {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "{} {} is not supported: Eddy's cursors only move forward",
                    if discard { "MOVE" } else { "FETCH" },
                    dir.to_uppercase()
                ),
            ));
        }
    }
    t.keyword("forward");
    let mut count = Some(1);
    if t.keyword("all") {
        count = None;
    } else if t.keyword("next") {
    } else if let Some(Token::Number(n, _)) = t.peek().cloned() {
        t.next();
        count = Some(
            n.parse()
                .map_err(|_| Error::syntax(format!("bad FETCH count {n}")))?,
        );
    }
    if !t.keyword("from") {
        t.keyword("in");
    }
    let cursor = ident(t, "a cursor name")?;
    let timeout = duration_option(t, "timeout", "FETCH")?;
    end(t)?;
    Ok(SubscribeStmt::Fetch {
        cursor,
        count,
        timeout,
        discard,
    })
}

/// One statement of a query string: a subscription statement, or SQL for the SQL parser.
pub enum Piece {
    Subscription(Result<SubscribeStmt>),
    Sql(String),
}

/// The statements of a query string, split at top-level semicolons (the tokenizer keeps
/// quoted semicolons inside their tokens), when at least one is a subscription statement;
/// `None` otherwise, and the string goes to the SQL parser whole. Every subscription statement
/// names SUBSCRIBE, SUBSCRIPTION, FETCH, MOVE or CLOSE, so other strings are not tokenized here.
pub fn split(sql: &str) -> Option<Vec<Piece>> {
    let lower = sql.to_ascii_lowercase();
    if !["subscri", "fetch", "close", "move"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return None;
    }
    let toks = tokenizer(sql).tokenize().ok()?;
    let mut pieces: Vec<Vec<Token>> = vec![vec![]];
    for t in toks {
        match t {
            Token::SemiColon => pieces.push(vec![]),
            other => pieces.last_mut().expect("a piece").push(other),
        }
    }
    let mut out = vec![];
    let mut any = false;
    for piece in pieces {
        let text: String = piece.iter().map(|t| t.to_string()).collect();
        if text.trim().is_empty() {
            continue;
        }
        let toks = piece
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        match parse_tokens(&mut Tokens { toks, at: 0 }) {
            Some(s) => {
                any = true;
                out.push(Piece::Subscription(s));
            }
            None => out.push(Piece::Sql(text)),
        }
    }
    any.then_some(out)
}

/// Recognizes a SUBSCRIBE statement; `None` when `sql` is not one.
pub fn parse(sql: &str) -> Option<Result<Subscribe>> {
    parse_copy(&mut Tokens::of(sql)?)
}

/// `[COPY (] SUBSCRIBE ...` from the start of `t`.
fn parse_copy(t: &mut Tokens) -> Option<Result<Subscribe>> {
    let via_copy = t.keyword("copy");
    if via_copy && t.next() != Some(Token::LParen) {
        return None;
    }
    if !t.keyword("subscribe") {
        return None;
    }
    Some(parse_subscribe(
        t,
        if via_copy { Mode::Copy } else { Mode::Bare },
    ))
}

#[derive(PartialEq)]
enum Mode {
    Copy,
    Bare,
    Cursor,
}

fn parse_subscribe(t: &mut Tokens, mode: Mode) -> Result<Subscribe> {
    if mode == Mode::Bare {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "SUBSCRIBE is delivered through COPY (SUBSCRIBE ...) TO STDOUT",
        )
        .with_hint("Wrap it: COPY (SUBSCRIBE TO v) TO STDOUT."));
    }
    t.keyword("to");
    let mut name = vec![];
    let mut query = None;
    if t.peek() == Some(&Token::LParen) {
        query = Some(parenthesized(t)?);
    }
    while query.is_none() {
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
        query,
        snapshot: true,
        progress: false,
        as_of: None,
        envelope: None,
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
    if t.keyword("envelope") {
        let kind = match () {
            _ if t.keyword("upsert") => Envelope::Upsert,
            _ if t.keyword("op") => Envelope::Op,
            _ => return Err(syntax("UPSERT or OP", t.next())),
        };
        t.expect(Token::LParen, "(")?;
        if !t.keyword("key") {
            return Err(syntax("KEY", t.next()));
        }
        t.expect(Token::LParen, "(")?;
        let mut key = vec![ident(t, "a key column")?];
        while t.peek() == Some(&Token::Comma) {
            t.next();
            key.push(ident(t, "a key column")?);
        }
        t.expect(Token::RParen, ")")?;
        t.expect(Token::RParen, ")")?;
        s.envelope = Some((kind, key));
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
    if mode == Mode::Cursor {
        end(t)?;
        return Ok(s);
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

/// The SQL between a `(` and its matching `)`, both consumed.
fn parenthesized(t: &mut Tokens) -> Result<String> {
    t.expect(Token::LParen, "(")?;
    let mut depth = 0usize;
    let mut parts: Vec<String> = vec![];
    loop {
        match t.next() {
            None | Some(Token::EOF) => return Err(syntax(")", None)),
            Some(Token::RParen) if depth == 0 => break,
            Some(tok) => {
                match tok {
                    Token::LParen => depth += 1,
                    Token::RParen => depth -= 1,
                    _ => {}
                }
                parts.push(tok.to_string());
            }
        }
    }
    if parts.is_empty() {
        return Err(syntax("a query", Some(Token::RParen)));
    }
    Ok(parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_subscribe_inside_copy() {
        let s = parse(
            "COPY (SUBSCRIBE TO public.v WITH (SNAPSHOT = false, PROGRESS) \
             ENVELOPE UPSERT (KEY (a, b)) AS OF 12) TO STDOUT;",
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.name, vec!["public", "v"]);
        assert!(!s.snapshot && s.progress);
        assert_eq!(s.as_of, Some(12));
        assert_eq!(
            s.envelope,
            Some((Envelope::Upsert, vec!["a".to_string(), "b".to_string()]))
        );
        let s = parse("COPY (SUBSCRIBE v ENVELOPE OP (KEY (k))) TO STDOUT")
            .unwrap()
            .unwrap();
        assert_eq!(s.envelope, Some((Envelope::Op, vec!["k".to_string()])));
        let q = parse("COPY (SUBSCRIBE (SELECT a, count(*) FROM t WHERE b = 'it''s' GROUP BY a) WITH (PROGRESS)) TO STDOUT")
            .unwrap()
            .unwrap();
        assert!(q.name.is_empty() && q.progress);
        assert_eq!(
            q.query.as_deref(),
            Some("SELECT a , count ( * ) FROM t WHERE b = 'it''s' GROUP BY a")
        );
        assert!(parse("COPY (SUBSCRIBE () TO STDOUT").unwrap().is_err());
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
