//! Result column names the way PostgreSQL chooses them (`?column?`, the function name, the
//! column name), which DataFusion spells differently (`Int64(1)`, `count(*)`).

use datafusion::sql::sqlparser::ast::{Expr, Query, SelectItem, SetExpr};

pub fn pg_column_names(query: &Query, df_names: &[String]) -> Vec<String> {
    let df_names: Vec<String> = df_names
        .iter()
        .map(|n| eddy_sql::names::shown_name(n).to_string())
        .collect();
    let df_names = df_names.as_slice();
    let mut body = query.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(select) = body else {
        return df_names.to_vec();
    };
    let wildcards = select
        .projection
        .iter()
        .filter(|p| {
            matches!(
                p,
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
            )
        })
        .count();
    let explicit = select.projection.len() - wildcards;
    if wildcards > 1 || (wildcards == 0 && explicit != df_names.len()) || explicit > df_names.len()
    {
        return df_names.to_vec();
    }
    let expanded = df_names.len() - explicit;
    let mut out = Vec::with_capacity(df_names.len());
    for item in &select.projection {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let at = out.len();
                out.extend_from_slice(&df_names[at..at + expanded]);
            }
            SelectItem::ExprWithAlias { alias, .. } => out.push(eddy_sql::names::ident(alias)),
            SelectItem::UnnamedExpr(e) => out.push(expr_name(e)),
            _ => {
                let at = out.len();
                out.push(df_names[at].clone());
            }
        }
    }
    out
}

fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Identifier(id) => eddy_sql::names::ident(id),
        Expr::CompoundIdentifier(ids) => ids
            .last()
            .map(eddy_sql::names::ident)
            .unwrap_or_else(|| "?column?".into()),
        Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_lowercase())
            .unwrap_or_else(|| "?column?".into()),
        // A cast is named after what it casts when that has a name of its own (a column, a
        // function), else after its type: `x::text` is `x`, `'1'::int::text` is `text`.
        Expr::Cast {
            expr, data_type, ..
        } => match strongly_named(expr) {
            true => expr_name(expr),
            false => cast_type_name(&data_type.to_string()),
        },
        Expr::TypedString(t) => cast_type_name(&t.data_type.to_string()),
        Expr::Nested(inner) => expr_name(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Array(_) => "array".into(),
        Expr::Interval(_) => "interval".into(),
        Expr::CompoundFieldAccess { root, .. } => expr_name(root),
        Expr::Subquery(q) => {
            // (SELECT x FROM ...) takes the subquery's single column name
            pg_column_names(q, &["?column?".to_string()])
                .pop()
                .unwrap_or_else(|| "?column?".into())
        }
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Extract { .. } => "extract".into(),
        _ => "?column?".into(),
    }
}

/// Whether PostgreSQL names a cast after what it casts: a column, a function or other named
/// construct is; a literal, another cast, CASE or an operator expression is not.
fn strongly_named(e: &Expr) -> bool {
    match e {
        Expr::Cast { .. }
        | Expr::TypedString(_)
        | Expr::Value(_)
        | Expr::Interval(_)
        | Expr::Case { .. } => false,
        Expr::Nested(inner) => strongly_named(inner),
        Expr::Subquery(_) => true,
        other => expr_name(other) != "?column?",
    }
}

/// `SELECT 1::int` is named after the type's internal name (`int4`).
fn cast_type_name(sql: &str) -> String {
    match eddy_common::PgType::parse(sql) {
        Ok(t) => match t {
            eddy_common::PgType::Bool => "bool",
            eddy_common::PgType::Int2 => "int2",
            eddy_common::PgType::Int4 => "int4",
            eddy_common::PgType::Int8 => "int8",
            eddy_common::PgType::Float4 => "float4",
            eddy_common::PgType::Float8 => "float8",
            eddy_common::PgType::Numeric(_) => "numeric",
            eddy_common::PgType::Varchar(_) => "varchar",
            eddy_common::PgType::Timestamptz => "timestamptz",
            eddy_common::PgType::Time => "time",
            eddy_common::PgType::Timestamp => "timestamp",
            eddy_common::PgType::Array(_) => "?column?",
            other => return other.to_string(),
        }
        .to_string(),
        // The catalog types Eddy has no column type for keep their own names.
        Err(_) => {
            let name = sql.trim_start_matches("pg_catalog.").to_ascii_lowercase();
            match name.as_str() {
                "regclass" | "regtype" | "regnamespace" | "regrole" | "regproc" | "oid"
                | "name" => name,
                _ => "?column?".into(),
            }
        }
    }
}

/// Gives each unnamed expression in the select list of a derived table or CTE the name
/// PostgreSQL gives it, as an alias, before planning: then `SELECT * FROM (SELECT 1) s` shows
/// `?column?` and `SELECT s.count FROM (SELECT count(*) FROM t) s` finds its column, where
/// DataFusion would name them `Int64(1)` and `count(*)`. A set operation's columns take the
/// names of its first branch, so only that one is named.
pub fn name_derived_columns(stmt: &mut datafusion::sql::sqlparser::ast::Statement) {
    if let datafusion::sql::sqlparser::ast::Statement::Query(q) = stmt {
        name_inside(q);
    }
}

/// Names the derived tables and CTEs inside `q` (not `q`'s own select list).
fn name_inside(q: &mut Query) {
    if let Some(with) = q.with.as_mut() {
        for cte in &mut with.cte_tables {
            name_query(&mut cte.query);
        }
    }
    inside_body(&mut q.body);
}

fn inside_body(body: &mut SetExpr) {
    match body {
        SetExpr::Select(s) => {
            use datafusion::sql::sqlparser::ast::TableFactor;
            for t in &mut s.from {
                let mut factors = vec![&mut t.relation];
                factors.extend(t.joins.iter_mut().map(|j| &mut j.relation));
                for f in factors {
                    if let TableFactor::Derived { subquery, .. } = f {
                        name_query(subquery);
                    }
                }
            }
        }
        SetExpr::Query(q) => name_inside(q),
        SetExpr::SetOperation { left, right, .. } => {
            inside_body(left);
            inside_body(right);
        }
        _ => {}
    }
}

/// Names `q`'s own select list (its first branch), then what is inside it.
fn name_query(q: &mut Query) {
    let mut body = q.body.as_mut();
    loop {
        match body {
            SetExpr::SetOperation { left, .. } => body = left.as_mut(),
            SetExpr::Query(inner) => body = inner.body.as_mut(),
            _ => break,
        }
    }
    if let SetExpr::Select(select) = body {
        for item in &mut select.projection {
            let SelectItem::UnnamedExpr(e) = item else {
                continue;
            };
            if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                continue;
            }
            let alias = datafusion::sql::sqlparser::ast::Ident::with_quote('"', expr_name(e));
            *item = SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias,
            };
        }
    }
    name_inside(q);
}
