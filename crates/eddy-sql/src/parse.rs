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
}
