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
        .map_err(syntax_error)
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

/// PostgreSQL takes `CREATE SEQUENCE`'s options in any order (`START WITH 1 INCREMENT BY 50`,
/// as Hibernate writes them); sqlparser only in the grammar's order. The options of each
/// CREATE SEQUENCE are put in that order, which changes nothing of their meaning.
fn sequence_option_order(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if !sql.to_ascii_lowercase().contains("sequence") {
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
    // The rank of an option that starts with this word (`NO` ranks by the word after it).
    let rank = |w: &str| match w {
        "AS" => Some(0),
        "INCREMENT" => Some(1),
        "MINVALUE" => Some(2),
        "MAXVALUE" => Some(3),
        "START" => Some(4),
        "CACHE" => Some(5),
        "CYCLE" => Some(6),
        "OWNED" => Some(7),
        _ => None,
    };
    let statements: Vec<&[Token]> = tokens.split(|t| *t == Token::SemiColon).collect();
    let mut out = String::with_capacity(sql.len());
    let mut changed = false;
    for (i, stmt) in statements.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        let words: Vec<(usize, String)> = stmt
            .iter()
            .enumerate()
            .filter_map(|(j, t)| word(t).map(|w| (j, w)))
            .collect();
        let sequence_at = match words.as_slice() {
            [(_, c), (_, s), ..] if c == "CREATE" && s == "SEQUENCE" => Some(1),
            [(_, c), (_, t), (_, s), ..]
                if c == "CREATE" && (t == "TEMP" || t == "TEMPORARY") && s == "SEQUENCE" =>
            {
                Some(2)
            }
            _ => None,
        };
        // The options begin at the first option word after the name.
        let start = sequence_at.and_then(|k| {
            words[k + 1..]
                .iter()
                .find(|(_, w)| rank(w).is_some() || w == "NO")
                .map(|(j, _)| *j)
        });
        let Some(start) = start else {
            out.extend(stmt.iter().map(|t| t.to_string()));
            continue;
        };
        let mut groups: Vec<(usize, String)> = vec![];
        let mut j = start;
        while j < stmt.len() {
            let leader = word(&stmt[j]).unwrap_or_default();
            let key = if leader == "NO" {
                stmt[j + 1..].iter().find_map(word).unwrap_or_default()
            } else {
                leader
            };
            let Some(r) = rank(&key) else {
                out.extend(stmt.iter().map(|t| t.to_string()));
                groups.clear();
                break;
            };
            let mut text = String::new();
            let mut k = j;
            loop {
                text.push_str(&stmt[k].to_string());
                k += 1;
                // A group ends where the next option begins (`NO` inside `NO CYCLE` does not).
                let next = stmt.get(k).and_then(word);
                if k >= stmt.len()
                    || next.as_deref().is_some_and(|w| {
                        (rank(w).is_some() || w == "NO")
                            && !(w == "CYCLE" && text.trim().eq_ignore_ascii_case("no"))
                            && !((w == "MINVALUE" || w == "MAXVALUE")
                                && text.trim().eq_ignore_ascii_case("no"))
                    })
                {
                    break;
                }
            }
            groups.push((r, text));
            j = k;
        }
        if groups.is_empty() {
            continue;
        }
        let before: String = stmt[..start].iter().map(|t| t.to_string()).collect();
        let mut sorted = groups.clone();
        sorted.sort_by_key(|(r, _)| *r);
        changed |= sorted != groups;
        out.push_str(&before);
        for (_, g) in sorted {
            out.push_str(g.trim_end());
            out.push(' ');
        }
    }
    if changed { out.into() } else { sql.into() }
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
