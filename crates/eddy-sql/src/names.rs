//! Identifier rules of PostgreSQL: unquoted names fold to lower case, quoted ones are kept.

use datafusion::sql::sqlparser::ast::{
    Expr, Ident, ObjectName, Query, SelectItem, SetExpr, Statement,
};
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

/// PostgreSQL lets a result repeat a column name (`SELECT x, x`, `SELECT count(*), count(*)`);
/// DataFusion refuses a projection whose expressions share a name. The client-visible names
/// are taken from the statement before this rewrite, so later repeats of the top-level select
/// list get private aliases here only to get through planning. The select lists of derived
/// tables and CTEs get the same treatment (PostgreSQL lets them repeat a name too, as long as
/// nothing outside refers to it; a client wraps `SELECT c.oid, c.* ...` in a query of its own).
pub fn unique_output_names(stmt: &mut Statement) {
    match stmt {
        Statement::Query(q) => unique_in_query(q),
        Statement::Insert(i) => {
            if let Some(q) = i.source.as_mut() {
                unique_in_query(q)
            }
        }
        _ => {}
    }
}

fn unique_in_query(q: &mut Query) {
    if let Some(with) = q.with.as_mut() {
        for cte in &mut with.cte_tables {
            unique_in_query(&mut cte.query);
        }
    }
    unique_in_body(&mut q.body);
}

fn unique_in_from(from: &mut [datafusion::sql::sqlparser::ast::TableWithJoins]) {
    use datafusion::sql::sqlparser::ast::TableFactor;
    let derived = |t: &mut TableFactor| {
        if let TableFactor::Derived { subquery, .. } = t {
            unique_in_query(subquery);
        }
    };
    for t in from {
        derived(&mut t.relation);
        for j in &mut t.joins {
            derived(&mut j.relation);
        }
    }
}

fn unique_in_body(body: &mut SetExpr) {
    match body {
        SetExpr::Select(s) => {
            unique_in_from(&mut s.from);
            unique_in_select(&mut s.projection);
        }
        SetExpr::Query(q) => unique_in_query(q),
        SetExpr::SetOperation { left, right, .. } => {
            unique_in_body(left);
            unique_in_body(right);
        }
        _ => {}
    }
}

/// What separates a repeated name from the number that makes it unique in a private alias;
/// the name before it is the one a client is shown (`SELECT * FROM (SELECT 1, 2) s`).
pub const REPEAT_MARK: char = '\u{1}';

/// The name a client is shown for a planned column name.
pub fn shown_name(planned: &str) -> &str {
    planned.split(REPEAT_MARK).next().unwrap_or(planned)
}

fn unique_in_select(items: &mut [SelectItem]) {
    let mut wildcard = Wildcards::default();
    for i in items.iter() {
        match i {
            SelectItem::Wildcard(_) => wildcard.all = true,
            SelectItem::QualifiedWildcard(kind, _) => {
                let q = kind.to_string().to_lowercase();
                wildcard.of.push(q.trim_end_matches(".*").to_string())
            }
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (n, item) in items.iter_mut().enumerate() {
        name_column_cast(item);
        let key = match item {
            SelectItem::UnnamedExpr(e) => output_key(e, &wildcard),
            SelectItem::ExprWithAlias { alias, .. } => (ident(alias), false),
            _ => continue,
        };
        let (key, always) = key;
        if seen.insert(key.clone()) && !always {
            continue;
        }
        let alias = Ident::with_quote('"', format!("{key}{REPEAT_MARK}{n}"));
        *item = match std::mem::replace(item, SelectItem::Wildcard(Default::default())) {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                SelectItem::ExprWithAlias { expr, alias }
            }
            other => other,
        };
    }
}

/// A cast column (`id::text`) gets the name PostgreSQL shows for it, the column's, as an alias.
/// DataFusion names it after the column too, but as the column itself (`t.id`), so with
/// `ORDER BY id` it would add the sort column under that same name and refuse the projection;
/// with the alias, `ORDER BY id` sorts by the output column, as in PostgreSQL.
fn name_column_cast(item: &mut SelectItem) {
    let SelectItem::UnnamedExpr(e @ Expr::Cast { .. }) = item else {
        return;
    };
    let mut inner = &*e;
    while let Expr::Cast { expr, .. } | Expr::Nested(expr) = inner {
        inner = expr;
    }
    let name = match inner {
        Expr::Identifier(id) => ident(id),
        Expr::CompoundIdentifier(ids) if !ids.is_empty() => ident(&ids[ids.len() - 1]),
        _ => return,
    };
    let expr = e.clone();
    *item = SelectItem::ExprWithAlias {
        expr,
        alias: Ident::with_quote('"', name),
    };
}

/// The wildcards of a select list: `*`, and the qualifiers of `q.*`.
#[derive(Default)]
struct Wildcards {
    all: bool,
    of: Vec<String>,
}

/// What DataFusion would name an unaliased result expression, closely enough to find every
/// collision (finding a few more only costs an unneeded alias): it names a cast after what is
/// cast, and a column by its qualified name, so `x`, `t.x` and `x::text` collide, as does any
/// column a wildcard also brings in (`*`, or `q.*` for a column qualified by `q`).
fn output_key(e: &Expr, wildcard: &Wildcards) -> (String, bool) {
    let mut e = e;
    while let Expr::Cast { expr, .. } | Expr::Nested(expr) = e {
        e = expr;
    }
    match e {
        Expr::Identifier(id) => (ident(id), wildcard.all || !wildcard.of.is_empty()),
        Expr::CompoundIdentifier(ids) if !ids.is_empty() => {
            let qualifier = ids[..ids.len() - 1]
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(".")
                .to_lowercase();
            let covered = wildcard.all || wildcard.of.contains(&qualifier);
            (ident(&ids[ids.len() - 1]), covered)
        }
        // casts anywhere inside are dropped from the name too (`ceil(2.1::float8)`)
        other => (without_casts(other), false),
    }
}

/// The name a distinguishing wrapper goes by: `eddy_same(x, n)` is `x`.
pub const SAME_FUNCTION: &str = "eddy_same";

/// `expr` as text, lower-cased, with every cast inside dropped (a typed literal becomes its
/// text), as DataFusion leaves casts out of a name.
fn without_casts(e: &Expr) -> String {
    let mut e = e.clone();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut e, |e| {
        loop {
            match e {
                Expr::Cast { expr, .. } => {
                    *e = std::mem::replace(
                        expr.as_mut(),
                        Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                    )
                }
                Expr::TypedString(t) => *e = Expr::Value(t.value.clone()),
                _ => break,
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    e.to_string().to_lowercase()
}

/// DataFusion names a cast after what it casts, so `max(ts)` and `max(ts::date)` would both be
/// `max(t.ts)`, and an aggregation holding both fails with "duplicate field name". Each call that
/// differs from an earlier one only in its casts gets its arguments wrapped in
/// `eddy_same(arg, n)`, which returns `arg` unchanged under a name of its own.
pub fn distinct_call_names(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, ObjectNamePart,
        Value,
    };
    // Per name without casts: the exact texts seen so far.
    let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(stmt, |e| {
        if !matches!(e, Expr::Function(_)) {
            return std::ops::ControlFlow::<()>::Continue(());
        }
        let exact = e.to_string();
        let variants = seen.entry(without_casts(e)).or_default();
        let n = match variants.iter().position(|v| *v == exact) {
            Some(n) => n,
            None => {
                variants.push(exact);
                variants.len() - 1
            }
        };
        let Expr::Function(f) = e else {
            return std::ops::ControlFlow::Continue(());
        };
        if n == 0 {
            return std::ops::ControlFlow::Continue(());
        }
        if let FunctionArguments::List(FunctionArgumentList { args, .. }) = &mut f.args {
            for a in args.iter_mut() {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                    let inner = std::mem::replace(x, Expr::value(Value::Null));
                    *x = Expr::Function(datafusion::sql::sqlparser::ast::Function {
                        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(
                            SAME_FUNCTION,
                        ))]),
                        uses_odbc_syntax: false,
                        parameters: FunctionArguments::None,
                        args: FunctionArguments::List(FunctionArgumentList {
                            duplicate_treatment: None,
                            args: vec![
                                FunctionArg::Unnamed(FunctionArgExpr::Expr(inner)),
                                FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(
                                    Value::Number(n.to_string(), false),
                                ))),
                            ],
                            clauses: vec![],
                        }),
                        filter: None,
                        null_treatment: None,
                        over: None,
                        within_group: vec![],
                    });
                }
            }
        }
        std::ops::ControlFlow::Continue(())
    });
}
