//! Parsing SQL text with PostgreSQL's grammar and error wording.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use eddy_common::{Error, Result, SqlState};

/// Nesting depth past which the parser refuses a statement rather than overflow the stack.
const PARSE_DEPTH_MAX: usize = 200;

pub fn parse_statements(sql: &str) -> Result<Vec<Statement>> {
    // `FLUSH` (RisingWave's: wait until committed writes are visible in views) is not in the
    // PostgreSQL grammar; it stands alone, so it is recognized before parsing.
    if sql
        .trim()
        .trim_end_matches(';')
        .trim()
        .eq_ignore_ascii_case("flush")
    {
        return Ok(vec![Statement::Flush {
            object_type: datafusion::sql::sqlparser::ast::FlushType::Tables,
            location: None,
            channel: None,
            read_lock: false,
            export: false,
            tables: vec![],
        }]);
    }
    let sql = &alter_view_rename(sql);
    let sql = &comment_dollar_quotes(sql);
    let sql = &sequence_option_order(sql);
    Parser::new(&PostgreSqlDialect {})
        .with_recursion_limit(PARSE_DEPTH_MAX)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| unsupported_command(sql).unwrap_or_else(|| syntax_error(e)))
}

/// PostgreSQL commands the parser does not read and Eddy does not run. A statement starting
/// with one is refused as not supported (0A000), not as a syntax error, which would tell the
/// user the statement is wrong.
const UNSUPPORTED_COMMANDS: &[&str] = &[
    "alter sequence",
    "alter system",
    "alter default privileges",
    "create trigger",
    "create event trigger",
    "create rule",
    "create domain",
    "create aggregate",
    "create operator",
    "create collation",
    "create conversion",
    "create publication",
    "create subscription",
    "create text search",
    "cluster",
    "reindex",
    "checkpoint",
    "security label",
    "import foreign schema",
];

fn unsupported_command(sql: &str) -> Option<Error> {
    let words: Vec<String> = (sql.split_whitespace().take(4))
        .map(|w| w.trim_end_matches(';').to_ascii_lowercase())
        .collect();
    UNSUPPORTED_COMMANDS
        .iter()
        .find(|c| {
            let c: Vec<&str> = c.split(' ').collect();
            words.len() >= c.len() && words.iter().zip(&c).all(|(w, c)| w == c)
        })
        .map(|c| Error::unsupported(c.to_ascii_uppercase()))
}

/// sqlparser reads `ALTER TABLE t RENAME TO u` but not the same for a view or a materialized
/// view, which PostgreSQL treats alike (and accepts `ALTER TABLE` on views too): those are read
/// as `ALTER TABLE`.
fn alter_view_rename(sql: &str) -> std::borrow::Cow<'_, str> {
    let trimmed = sql.trim_start();
    let words: Vec<&str> = trimmed.split_whitespace().take(3).collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let skip = match lower
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["alter", "view", ..] => 2,
        ["alter", "materialized", "view"] => 3,
        _ => return sql.into(),
    };
    if !sql.to_ascii_lowercase().contains("rename") {
        return sql.into();
    }
    let mut rest = trimmed;
    for _ in 0..skip {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
    }
    format!("ALTER TABLE{rest}").into()
}

/// sqlparser reads `COMMENT ON ... IS` with a quoted string only; dbt writes its comments
/// dollar-quoted (`IS $dbt_comment_literal_block$...$dbt_comment_literal_block$`). A dollar-quoted
/// string in a COMMENT statement is written back single-quoted, which means the same.
fn comment_dollar_quotes(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.contains('$') || !sql.to_ascii_lowercase().contains("comment") {
        return sql.into();
    }
    // Unescaped, every token prints back as the text it came from.
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .with_unescape(false)
        .tokenize()
    else {
        return sql.into();
    };
    let mut at_start = true;
    let mut in_comment = false;
    let mut changed = false;
    let mut out = String::with_capacity(sql.len());
    for t in tokens {
        match &t {
            Token::Whitespace(_) => {}
            Token::SemiColon => {
                at_start = true;
                in_comment = false;
            }
            Token::Word(w) if at_start => {
                in_comment = w.quote_style.is_none() && w.value.eq_ignore_ascii_case("comment");
                at_start = false;
            }
            _ => at_start = false,
        }
        match t {
            Token::DollarQuotedString(d) if in_comment => {
                out.push_str(&format!("'{}'", d.value.replace('\'', "''")));
                changed = true;
            }
            other => out.push_str(&other.to_string()),
        }
    }
    if changed { out.into() } else { sql.into() }
}

/// One expression, such as a column's stored DEFAULT.
pub fn parse_expr(sql: &str) -> Result<datafusion::sql::sqlparser::ast::Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(syntax_error)
}

/// PostgreSQL takes sequence options in any order (`START WITH 1 INCREMENT BY 50`, as
/// Hibernate writes them), in `CREATE SEQUENCE` and in `GENERATED ... AS IDENTITY (...)`;
/// sqlparser only in its grammar's order. Those options are put in that order, which changes
/// nothing of their meaning.
fn sequence_option_order(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let lower = sql.to_ascii_lowercase();
    if !lower.contains("sequence") && !lower.contains("identity") {
        return sql.into();
    }
    let Ok(tokens) = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .with_unescape(false)
        .tokenize()
    else {
        return sql.into();
    };
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    // Where each run of options starts and ends (exclusive), by token index.
    let mut runs: Vec<(usize, usize)> = vec![];
    let mut statement_start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if *t == Token::SemiColon {
            statement_start = i + 1;
            continue;
        }
        if word(t).as_deref() == Some("IDENTITY") {
            // `IDENTITY (` options `)`
            let open = (i + 1..tokens.len()).find(|&k| !matches!(tokens[k], Token::Whitespace(_)));
            if let Some(open) = open.filter(|&k| tokens[k] == Token::LParen)
                && let Some(close) = (open..tokens.len()).find(|&k| tokens[k] == Token::RParen)
            {
                runs.push((open + 1, close));
            }
        }
        if word(t).as_deref() == Some("SEQUENCE") {
            let head: Vec<String> = tokens[statement_start..i].iter().filter_map(word).collect();
            let create = matches!(
                head.iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice(),
                ["CREATE"] | ["CREATE", "TEMP" | "TEMPORARY"]
            );
            if create {
                let end = (i..tokens.len())
                    .find(|&k| tokens[k] == Token::SemiColon)
                    .unwrap_or(tokens.len());
                // The options begin at the first option word after the name.
                if let Some(first) = (i + 1..end).find(|&k| {
                    word(&tokens[k]).is_some_and(|w| option_rank(&w).is_some() || w == "NO")
                }) {
                    runs.push((first, end));
                }
            }
        }
    }
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    let mut changed = false;
    for (from, to) in runs {
        let Some(ordered) = ordered_options(&tokens[from..to]) else {
            continue;
        };
        out.extend(tokens[at..from].iter().map(|t| t.to_string()));
        let original: String = tokens[from..to].iter().map(|t| t.to_string()).collect();
        changed |= ordered.trim() != original.trim();
        out.push_str(&ordered);
        at = to;
    }
    out.extend(tokens[at..].iter().map(|t| t.to_string()));
    if changed { out.into() } else { sql.into() }
}

/// Where sqlparser expects a sequence option that starts with this word (`NO` goes by the
/// word after it).
fn option_rank(w: &str) -> Option<usize> {
    Some(match w {
        "AS" => 0,
        "INCREMENT" => 1,
        "MINVALUE" => 2,
        "MAXVALUE" => 3,
        "START" => 4,
        "CACHE" => 5,
        "CYCLE" => 6,
        "OWNED" => 7,
        _ => return None,
    })
}

/// The options in `tokens`, in sqlparser's order; `None` if something in them is not an option.
fn ordered_options(tokens: &[datafusion::sql::sqlparser::tokenizer::Token]) -> Option<String> {
    use datafusion::sql::sqlparser::tokenizer::Token;
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    let mut groups: Vec<(usize, String)> = vec![];
    let mut k = 0;
    while k < tokens.len() {
        if matches!(tokens[k], Token::Whitespace(_)) {
            k += 1;
            continue;
        }
        let leader = word(&tokens[k])?;
        let after_no = leader == "NO";
        let key = if after_no {
            tokens[k + 1..].iter().find_map(word)?
        } else {
            leader
        };
        let rank = option_rank(&key)?;
        let mut text = String::new();
        let mut words_seen = 0;
        while k < tokens.len() {
            if let Some(w) = word(&tokens[k]) {
                words_seen += 1;
                // The next option starts here (the word after `NO` belongs to it).
                let part_of_no = after_no && words_seen == 2;
                if words_seen > 1 && !part_of_no && (option_rank(&w).is_some() || w == "NO") {
                    break;
                }
            }
            text.push_str(&tokens[k].to_string());
            k += 1;
        }
        groups.push((rank, text.trim().to_string()));
    }
    groups.sort_by_key(|(r, _)| *r);
    let joined: Vec<String> = groups.into_iter().map(|(_, g)| g).collect();
    Some(format!(" {} ", joined.join(" ")))
}

/// sqlparser says `Expected: ..., found: X at Line: 1, Column: 8`; PostgreSQL says
/// `syntax error at or near "X"`. Clients and tests match on the latter.
pub fn syntax_error(e: ParserError) -> Error {
    let text = e.to_string();
    if let ParserError::RecursionLimitExceeded = e {
        return Error::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            "statement nesting is too deep",
        );
    }
    let message = match text.find("found: ") {
        Some(i) => {
            let rest = &text[i + 7..];
            let token = rest.split(" at Line:").next().unwrap_or(rest).trim();
            if token == "EOF" {
                "syntax error at end of input".to_string()
            } else {
                format!("syntax error at or near \"{}\"", token.trim_matches('\''))
            }
        }
        None => {
            let t = text.trim_start_matches("sql parser error: ");
            format!("syntax error: {t}")
        }
    };
    Error::new(SqlState::SYNTAX_ERROR, message).with_source(e)
}

/// `INTERVAL '1 mon 1 day 01:00'` becomes a cast of the string, which Eddy reads with
/// PostgreSQL's interval input (DataFusion's own literal parser knows fewer forms). Literals
/// with a field qualifier (`INTERVAL '1' DAY`) are left to DataFusion.
pub fn interval_literals_as_casts(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{CastKind, DataType, Expr, VisitMut, VisitorMut};
    use std::ops::ControlFlow;
    struct V;
    impl VisitorMut for V {
        type Break = ();
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Expr::Interval(i) = e
                && i.leading_field.is_none()
                && i.last_field.is_none()
                && i.fractional_seconds_precision.is_none()
            {
                *e = Expr::Cast {
                    kind: CastKind::DoubleColon,
                    expr: i.value.clone(),
                    data_type: DataType::Interval {
                        fields: None,
                        precision: None,
                    },
                    array: false,
                    format: None,
                };
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut V);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_eddy_does_not_run_are_not_syntax_errors() {
        let e = parse_statements("ALTER SEQUENCE s RESTART WITH 5").unwrap_err();
        assert_eq!(e.state, SqlState::FEATURE_NOT_SUPPORTED);
        assert!(e.message.starts_with("ALTER SEQUENCE"), "{}", e.message);
        let e = parse_statements("ALTER SEQUENC s").unwrap_err();
        assert_eq!(e.state, SqlState::SYNTAX_ERROR);
    }

    #[test]
    fn syntax_errors_read_like_postgres() {
        let e = parse_statements("SELEC 1").unwrap_err();
        assert_eq!(e.state, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "syntax error at or near \"SELEC\"");
        assert_eq!(parse_statements("SELECT 1; SELECT 2").unwrap().len(), 2);
    }

    #[test]
    fn sequence_options_parse_in_any_order() {
        let one = |sql: &str| parse_statements(sql).unwrap().remove(0).to_string();
        assert_eq!(
            one(
                "CREATE SEQUENCE s START WITH 10 INCREMENT BY -5 NO CYCLE MAXVALUE 100 NO MINVALUE"
            ),
            one(
                "CREATE SEQUENCE s INCREMENT BY -5 NO MINVALUE MAXVALUE 100 START WITH 10 NO CYCLE"
            ),
        );
        assert_eq!(
            one("create sequence if not exists x.s cache 1 as integer start 3"),
            one("CREATE SEQUENCE IF NOT EXISTS x.s AS INTEGER START 3 CACHE 1"),
        );
        assert_eq!(
            parse_statements("SELECT 'sequence'; SELECT 2")
                .unwrap()
                .len(),
            2
        );
    }
}
