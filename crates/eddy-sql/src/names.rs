//! Identifier rules of PostgreSQL: unquoted names fold to lower case, quoted ones are kept.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName};
use eddy_common::{Error, Result, SqlState};

pub fn ident(id: &Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// `[schema.]name` of a relation; the schema defaults to `default_schema`.
pub fn relation(name: &ObjectName, default_schema: &str) -> Result<(String, String)> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(ident)
                .ok_or_else(|| Error::unsupported(format!("name {p}")))
        })
        .collect::<Result<_>>()?;
    match parts.as_slice() {
        [n] => Ok((default_schema.to_string(), n.clone())),
        [s, n] => Ok((s.clone(), n.clone())),
        [db, s, n] if db == "eddy" => Ok((s.clone(), n.clone())),
        [db, _, _] => Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("cross-database references are not implemented: \"{db}\""),
        )),
        _ => Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

/// Quotes an identifier for SQL text we generate, so any name survives a round trip.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
