//! PostgreSQL syntax that clients' catalog queries use and DataFusion does not plan, rewritten
//! to what it does before planning:
//!
//! - `a OPERATOR(pg_catalog.~) b` is `a ~ b`;
//! - `expr COLLATE "C"` is `expr`: Eddy compares text byte-wise, which is the C collation,
//!   the one every `COLLATE` in a catalog query asks for;
//! - `pg_catalog.f(...)` is `f(...)`, and `FROM pg_catalog.f(...) AS s` names its one column
//!   `s`, as PostgreSQL does for a function returning a scalar;
//! - casts to the catalog's types: `::regclass` (and `regtype`, `regnamespace`, `regrole`)
//!   become catalog lookups, `::oid` an unsigned 32-bit integer, `::name` and
//!   `::pg_catalog.text` text; `::json` and `::jsonb` check (and normalize) JSON text;
//! - `LIKE p ESCAPE 'c'` with an escape other than backslash (DataFusion's only one) is
//!   `LIKE eddy_like_escape(p, 'c')`, the pattern rewritten to escape with backslash;
//! - `information_schema._pg_expandarray(a)` (a set of `(x, n)` records, pgjdbc's primary keys
//!   query) is `unnest(eddy_expandarray(a))`, a struct per element;
//! - `generate_subscripts(a, 1)` in a select list is `unnest` of `a`'s subscripts, which
//!   zips with an `unnest(a)` beside it as in PostgreSQL;
//! - `ARRAY(SELECT x ...)` is `(SELECT array_agg(x) FROM (SELECT x ...))`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, GroupByExpr, OrderBy, OrderByKind, Query, Select, SelectItem, SetExpr, Value,
    Visit, Visitor,
};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, ExactNumberInfo, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    Statement, TableAliasColumnDef, TableFactor, UnaryOperator, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

pub fn rewrite(stmt: &mut Statement) {
    let _ = stmt.visit(&mut PgSyntax);
    if let Statement::Query(q) = stmt
        && let SetExpr::Select(sel) = q.body.as_mut()
    {
        reg_literals_shown_by_name(sel);
    }
}

/// `SELECT 'int4'::regtype` shows `integer`: a reg value prints as its name. The lookup of a
/// literal gives the OID (what comparisons and joins need), so a result column that is exactly
/// such a lookup asks for the name instead, under the type's name as PostgreSQL calls it.
fn reg_literals_shown_by_name(sel: &mut Select) {
    for item in &mut sel.projection {
        let (e, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
            _ => continue,
        };
        if !reg_lookup_arg(e).is_some_and(is_string_literal) {
            continue;
        }
        let Expr::Function(f) = e else { continue };
        let lookup = f.name.to_string();
        f.name = unqualified(&format!("{lookup}_name"));
        let alias = alias.unwrap_or_else(|| Ident::new(lookup.trim_start_matches("eddy_")));
        *item = SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias,
        };
    }
}

struct PgSyntax;

/// A function call's arguments as SQL text, for rewrites that re-parse the call.
fn args_text(args: &[FunctionArg]) -> String {
    args.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The number of a bare placeholder `$n`.
fn placeholder_number(e: &Expr) -> Option<usize> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok(),
            _ => None,
        },
        Expr::Nested(inner) => placeholder_number(inner),
        _ => None,
    }
}

/// `x op ANY($n)` takes an array for `$n`, which DataFusion types as `x`'s scalar type.
/// `how` is given each such placeholder's number and returns its replacement, if any.
fn rewrite_any_placeholders(stmt: &mut Statement, how: &mut dyn FnMut(usize) -> Option<Expr>) {
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(stmt, |e| {
        if let Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } = e
            && let Some(n) = placeholder_number(right)
            && let Some(new) = how(n)
        {
            **right = new;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The placeholders an `ANY(...)` or `ALL(...)` compares with.
pub fn any_placeholders(stmt: &Statement) -> Vec<usize> {
    let mut out = vec![];
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(stmt, |e| {
        if let Expr::AnyOp { right, .. } | Expr::AllOp { right, .. } = e
            && let Some(n) = placeholder_number(right)
        {
            out.push(n);
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// `x op ANY($n)` as `x op $n`, whose placeholder DataFusion types as `x`: the element type of
/// the array `$n` stands for. Describe plans this form.
pub fn any_placeholders_as_scalars(stmt: &mut Statement) {
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(stmt, |e| {
        if let Expr::AnyOp {
            left,
            compare_op,
            right,
            ..
        }
        | Expr::AllOp {
            left,
            compare_op,
            right,
        } = e
            && placeholder_number(right).is_some()
        {
            *e = Expr::BinaryOp {
                left: left.clone(),
                op: compare_op.clone(),
                right: right.clone(),
            };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `x op ANY($n)` as `x op ANY(CAST($n AS <type>))` for the array types `types` gives by
/// placeholder number (the types of the values bound).
pub fn cast_any_placeholders(stmt: &mut Statement, types: &dyn Fn(usize) -> Option<String>) {
    rewrite_any_placeholders(stmt, &mut |n| {
        parse_expr(&format!("CAST(${n} AS {})", types(n)?))
    });
}

/// The last part of a possibly `pg_catalog`-qualified name, if the qualifier is that or none.
fn catalog_name(name: &ObjectName) -> Option<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [one] => Some(one.clone()),
        [schema, one] if schema.eq_ignore_ascii_case("pg_catalog") => Some(one.clone()),
        _ => None,
    }
}

fn unqualified(name: &str) -> ObjectName {
    ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))])
}

fn call(name: &str, arg: Expr) -> Expr {
    call_with(name, vec![arg])
}

fn call_with(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: unqualified(name),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: (args.into_iter())
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// `prorettype::regtype <> 'trigger'::regtype`: two reg values compare as OIDs, but the lookup
/// of an OID column gives its name, so such a side is left the OID it was.
fn compare_reg_values_as_oids(left: &mut Expr, op: &BinaryOperator, right: &mut Expr) {
    let comparison = matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    );
    if !comparison || reg_lookup_arg(left).is_none() || reg_lookup_arg(right).is_none() {
        return;
    }
    for side in [left, right] {
        if let Some(arg) = reg_lookup_arg(side).filter(|a| !is_string_literal(a)) {
            *side = arg.clone();
        }
    }
}

/// The argument of an `eddy_reg*` lookup that a `::regclass`-style cast became.
fn reg_lookup_arg(e: &Expr) -> Option<&Expr> {
    let Expr::Function(f) = e else { return None };
    let [ObjectNamePart::Identifier(id)] = f.name.0.as_slice() else {
        return None;
    };
    if ![
        "eddy_regclass",
        "eddy_regtype",
        "eddy_regnamespace",
        "eddy_regrole",
    ]
    .contains(&id.value.as_str())
    {
        return None;
    }
    match &f.args {
        FunctionArguments::List(l) => match l.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] => Some(a),
            _ => None,
        },
        _ => None,
    }
}

fn is_string_literal(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_)))
}

/// What a cast to a catalog type turns into: a lookup function, or a type DataFusion knows.
enum CastTo {
    Lookup(&'static str),
    Type(DataType),
}

fn catalog_cast(dt: &DataType) -> Option<CastTo> {
    match dt {
        DataType::Regclass => Some(CastTo::Lookup("eddy_regclass")),
        DataType::JSON => Some(CastTo::Lookup("eddy_json")),
        DataType::JSONB => Some(CastTo::Lookup("eddy_jsonb")),
        DataType::Custom(name, mods) if mods.is_empty() => {
            let n = catalog_name(name)?.to_ascii_lowercase();
            Some(match n.as_str() {
                "regclass" => CastTo::Lookup("eddy_regclass"),
                "regtype" => CastTo::Lookup("eddy_regtype"),
                "regnamespace" => CastTo::Lookup("eddy_regnamespace"),
                "regrole" => CastTo::Lookup("eddy_regrole"),
                "oid" => CastTo::Type(DataType::IntUnsigned(None)),
                // pg_type's regproc columns hold the function's name as text.
                "name" | "text" | "char" | "varchar" | "regproc" => CastTo::Type(DataType::Text),
                "int2" => CastTo::Type(DataType::SmallInt(None)),
                "int4" => CastTo::Type(DataType::Int(None)),
                "int8" => CastTo::Type(DataType::BigInt(None)),
                "bool" => CastTo::Type(DataType::Boolean),
                _ => return None,
            })
        }
        DataType::Array(ArrayElemTypeDef::SquareBracket(elem, size)) => match catalog_cast(elem)? {
            CastTo::Type(t) => CastTo::Type(DataType::Array(ArrayElemTypeDef::SquareBracket(
                Box::new(t),
                *size,
            )))
            .into(),
            // `::regtype[]` names each type (what `::regtype[]::text[]` shows).
            CastTo::Lookup("eddy_regtype") => Some(CastTo::Lookup("eddy_regtype_names")),
            CastTo::Lookup(_) => None,
        },
        _ => None,
    }
}

fn operator(name: &str) -> Option<BinaryOperator> {
    Some(match name {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        "+" => BinaryOperator::Plus,
        "-" => BinaryOperator::Minus,
        "*" => BinaryOperator::Multiply,
        "/" => BinaryOperator::Divide,
        _ => return None,
    })
}

fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .ok()?
        .parse_expr()
        .ok()
}

/// Functions that make a SELECT an aggregate.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "jsonb_object_agg",
    "bit_and",
    "bit_or",
    crate::functions::SINGLE_VALUE,
];

fn has_aggregate(items: &[SelectItem]) -> bool {
    items.iter().any(|item| {
        any_expr(item, |e| {
            matches!(e, Expr::Function(f) if f.over.is_some()
                || catalog_name(&f.name)
                    .is_some_and(|n| AGGREGATES.contains(&n.to_ascii_lowercase().as_str())))
        })
    })
}

/// Whether some expression within `node` satisfies `test`.
fn any_expr<V: Visit>(node: &V, test: impl FnMut(&Expr) -> bool) -> bool {
    struct Find<F>(F, bool);
    impl<F: FnMut(&Expr) -> bool> Visitor for Find<F> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if (self.0)(e) {
                self.1 = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Find(test, false);
    let _ = node.visit(&mut f);
    f.1
}

/// Whether `e` is a column qualified by one of `names` (`inside`), or by another (`!inside`).
fn qualified_by(e: &Expr, names: &[String], inside: bool) -> bool {
    matches!(e, Expr::CompoundIdentifier(parts) if parts.len() == 2
        && names.iter().any(|n| n.eq_ignore_ascii_case(&parts[0].value)) == inside)
}

/// The query's SELECT when it is a plain one-level SELECT with a FROM (no grouping, DISTINCT,
/// aggregate, LIMIT or set operation): the shape whose projection can be turned into an
/// aggregate without changing which rows it reads.
fn plain_select(q: &mut Query) -> Option<&mut Select> {
    if q.with.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_mut() else {
        return None;
    };
    let grouped = !matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    if grouped
        || sel.having.is_some()
        || sel.distinct.is_some()
        || sel.from.is_empty()
        || has_aggregate(&sel.projection)
    {
        return None;
    }
    Some(sel)
}

fn only_expr(sel: &Select) -> Option<&Expr> {
    match sel.projection.as_slice() {
        [SelectItem::UnnamedExpr(e)] | [SelectItem::ExprWithAlias { expr: e, .. }] => Some(e),
        _ => None,
    }
}

/// `ARRAY(SELECT x FROM ... ORDER BY y)` as `(SELECT array_agg(x ORDER BY y) FROM ...)`: the
/// same rows, aggregated where they are read, so a correlated one stays decorrelatable.
fn array_subquery(q: &Query) -> Option<Expr> {
    array_aggregated_in_place(q).or_else(|| {
        // Any other query: aggregate its rows from outside (not decorrelatable, but
        // uncorrelated ones are the rest).
        parse_expr(&format!(
            "(SELECT coalesce(array_agg(eddy_array.eddy_elem), make_array()) \
             FROM ({q}) AS eddy_array(eddy_elem))"
        ))
    })
}

fn array_aggregated_in_place(q: &Query) -> Option<Expr> {
    let mut q = q.clone();
    let order = q.order_by.take();
    let sel = plain_select(&mut q)?;
    let x = only_expr(sel)?.clone();
    // ARRAY() of no rows is an empty array, where array_agg of none is NULL.
    let mut agg = format!("coalesce(array_agg({x}");
    if let Some(OrderBy {
        kind: OrderByKind::Expressions(items),
        ..
    }) = order
    {
        let items: Vec<String> = items
            .into_iter()
            .map(|mut o| {
                if matches!(&o.expr, Expr::Value(v) if v.value == Value::Number("1".into(), false))
                {
                    o.expr = x.clone();
                }
                o.to_string()
            })
            .collect();
        agg.push_str(&format!(" ORDER BY {}", items.join(", ")));
    }
    agg.push_str("), make_array())");
    sel.projection = vec![SelectItem::UnnamedExpr(parse_expr(&agg)?)];
    Some(Expr::Subquery(Box::new(q)))
}

/// The names a SELECT's FROM clause binds (aliases, else table names).
fn bound_names(sel: &Select) -> Vec<String> {
    let mut names = vec![];
    let mut add = |f: &TableFactor| match f {
        TableFactor::Table { name, alias, .. } => names.push(match alias {
            Some(a) => a.name.value.clone(),
            None => name.0.last().map(|p| p.to_string()).unwrap_or_default(),
        }),
        TableFactor::Derived { alias: Some(a), .. }
        | TableFactor::UNNEST { alias: Some(a), .. } => names.push(a.name.value.clone()),
        _ => {}
    };
    for twj in &sel.from {
        add(&twj.relation);
        for j in &twj.joins {
            add(&j.relation);
        }
    }
    names
}

/// Whether `e` reads only columns qualified by a relation the subquery does not bind (the
/// outer query's), and no subquery.
fn outer_only(e: &Expr, inner: &[String]) -> bool {
    struct Check<'a> {
        inner: &'a [String],
        outer_refs: usize,
        ok: bool,
    }
    impl Visitor for Check<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
                    if self
                        .inner
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(&parts[0].value))
                    {
                        self.ok = false;
                    } else {
                        self.outer_refs += 1;
                    }
                }
                Expr::Identifier(_)
                | Expr::CompoundIdentifier(_)
                | Expr::Subquery(_)
                | Expr::Exists { .. }
                | Expr::InSubquery { .. } => self.ok = false,
                _ => {}
            }
            if self.ok {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }
    }
    let mut c = Check {
        inner,
        outer_refs: 0,
        ok: true,
    };
    let _ = e.visit(&mut c);
    c.ok && c.outer_refs > 0
}

fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            conjuncts(*inner, out)
        }
        other => out.push(other),
    }
}

fn and_all(mut es: Vec<Expr>) -> Option<Expr> {
    let first = if es.is_empty() {
        return None;
    } else {
        es.remove(0)
    };
    Some(es.into_iter().fold(first, |l, r| Expr::BinaryOp {
        left: Box::new(l),
        op: BinaryOperator::And,
        right: Box::new(r),
    }))
}

/// Takes the WHERE conjuncts of a scalar subquery that read only the outer query's columns
/// out of it: `(SELECT x FROM t WHERE p AND outer.flag)` is
/// `CASE WHEN outer.flag THEN (SELECT x FROM t WHERE p) END` (no row and a false test both
/// give NULL), and DataFusion cannot decorrelate such a conjunct.
fn hoist_outer_conjuncts(q: &mut Query) -> Option<Expr> {
    let sel = plain_select(q)?;
    let inner = bound_names(sel);
    let mut all = vec![];
    conjuncts(sel.selection.take()?, &mut all);
    let (outer, rest): (Vec<Expr>, Vec<Expr>) =
        all.into_iter().partition(|c| outer_only(c, &inner));
    sel.selection = and_all(rest);
    and_all(outer)
}

/// A scalar subquery that is no aggregate, as the aggregate `eddy_single_value` of its column
/// (DataFusion decorrelates only aggregated scalar subqueries).
fn single_value_subquery(q: &mut Query) {
    if q.order_by.is_some() {
        return;
    }
    let Some(sel) = plain_select(q) else {
        return;
    };
    let Some(x) = only_expr(sel).cloned() else {
        return;
    };
    let wrapped = call(crate::functions::SINGLE_VALUE, x);
    sel.projection = vec![match sel.projection.remove(0) {
        SelectItem::ExprWithAlias { alias, .. } => SelectItem::ExprWithAlias {
            expr: wrapped,
            alias,
        },
        _ => SelectItem::UnnamedExpr(wrapped),
    }];
}

/// `EXISTS (SELECT ... FROM ...)` in a select list as `(SELECT count(*) > 0 FROM ...)`:
/// DataFusion plans EXISTS only as a filter.
fn exists_as_count(subquery: &Query, negated: bool) -> Option<Expr> {
    let mut q = subquery.clone();
    q.order_by = None;
    let sel = plain_select(&mut q)?;
    let test = if negated {
        "count(*) = 0"
    } else {
        "count(*) > 0"
    };
    sel.projection = vec![SelectItem::UnnamedExpr(parse_expr(test)?)];
    Some(Expr::Subquery(Box::new(q)))
}

/// `SELECT generate_series(1, 3)` gives a row per value in PostgreSQL; DataFusion's function
/// of that name in an expression is one array, so each call in the select list (not in a
/// subquery, not already unnested) becomes `unnest(...)`, which DataFusion expands into rows,
/// several in one list side by side as PostgreSQL does. A bare call keeps PostgreSQL's column
/// name.
fn series_in_select_list(item: &mut SelectItem) {
    struct Wrap {
        /// Queries and `unnest` calls entered and not yet left.
        depth: usize,
    }
    fn is_call(e: &Expr, name: &str) -> bool {
        matches!(e, Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case(name))
    }
    impl VisitorMut for Wrap {
        type Break = ();
        fn pre_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if is_call(e, "unnest") {
                self.depth += 1;
            }
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if is_call(e, "unnest") {
                self.depth -= 1;
            } else if self.depth == 0
                && is_call(e, "generate_series")
                && let Some(wrapped) = parse_expr(&format!("unnest({e})"))
            {
                *e = wrapped;
            }
            ControlFlow::Continue(())
        }
    }
    if let SelectItem::UnnamedExpr(e) = item
        && is_call(e, "generate_series")
    {
        *item = SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: Ident::new("generate_series"),
        };
    }
    let _ = item.visit(&mut Wrap { depth: 0 });
}

/// `(query) alias`, the table a table function becomes when DataFusion cannot take it as
/// written; `None` if `query` does not parse.
fn derived_table(
    query: &str,
    alias: &datafusion::sql::sqlparser::ast::TableAlias,
) -> Option<TableFactor> {
    let subquery = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(query)
        .and_then(|mut p| p.parse_query())
        .ok()?;
    Some(TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias.clone()),
        sample: None,
    })
}

/// Whether every argument is an integer literal that fits an `integer`, as PostgreSQL types
/// them (`-5` included).
fn int4_literals(args: &[FunctionArg]) -> bool {
    args.iter().all(|a| match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
            let (e, neg) = match e {
                Expr::UnaryOp {
                    op: UnaryOperator::Minus,
                    expr,
                } => (expr.as_ref(), true),
                e => (e, false),
            };
            matches!(e, Expr::Value(v) if matches!(&v.value, Value::Number(n, _)
                if n.parse::<i64>().is_ok_and(|n| i32::try_from(if neg { -n } else { n }).is_ok())))
        }
        _ => false,
    })
}

/// Whether a function argument reads a column (so is no constant a table function can take;
/// a constant series keeps DataFusion's streaming table function).
fn reads_columns(arg: &FunctionArg) -> bool {
    any_expr(arg, |e| {
        matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
    })
}

/// Whether a function argument is a `numeric` (a decimal literal or a cast to numeric), which
/// DataFusion's table function does not take.
fn numeric_arg(arg: &FunctionArg) -> bool {
    use datafusion::sql::sqlparser::ast::DataType as SqlType;
    any_expr(arg, |e| match e {
        Expr::Value(v) => matches!(&v.value, Value::Number(n, _) if n.contains(['.', 'e', 'E'])),
        Expr::Cast { data_type, .. } => matches!(
            data_type,
            SqlType::Numeric(_) | SqlType::Decimal(_) | SqlType::Dec(_)
        ),
        Expr::Function(f) => f
            .name
            .to_string()
            .eq_ignore_ascii_case(crate::numeric_plan::TYPMOD_CAST),
        _ => false,
    })
}

/// Whether `e` names a column of one of `names`.
fn mentions(e: &Expr, names: &[String]) -> bool {
    any_expr(e, |x| qualified_by(x, names, true))
}

/// Whether a correlated scalar subquery must be planned as a LEFT JOIN LATERAL, and can be
/// without changing its answer: it compares the outer query's columns other than by equality
/// (which DataFusion cannot decorrelate under an aggregate), and every table it reads is a
/// system table pinned to at most one row by an `alias.oid = ...` conjunct, so the join
/// finds at most the one row the subquery would.
fn lateral_candidate(q: &Query) -> Option<Expr> {
    let mut q = q.clone();
    if q.order_by.is_some() {
        return None;
    }
    let sel = plain_select(&mut q)?;
    let x = only_expr(sel)?.clone();
    let mut inner = vec![];
    for twj in &sel.from {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = &twj.relation
        else {
            return None;
        };
        let table = catalog_name(name)?;
        if !twj.joins.is_empty() || !eddy_catalog::system::has_oid_column(&table) {
            return None;
        }
        inner.push(
            alias
                .as_ref()
                .map(|a| a.name.value.clone())
                .unwrap_or(table),
        );
    }
    let mut all = vec![];
    conjuncts(sel.selection.clone()?, &mut all);
    let correlated_non_equi = all.iter().any(|c| {
        let is_eq = matches!(
            c,
            Expr::BinaryOp {
                op: BinaryOperator::Eq,
                ..
            }
        );
        !is_eq && mentions(c, &inner) && !outer_only(c, &inner) && references_outer(c, &inner)
    });
    if !correlated_non_equi {
        return None;
    }
    let pinned = inner.iter().all(|alias| {
        all.iter().any(|c| match c {
            Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } => {
                let is_oid = |e: &Expr| matches!(e, Expr::CompoundIdentifier(p) if p.len() == 2
                    && p[0].value.eq_ignore_ascii_case(alias) && p[1].value.eq_ignore_ascii_case("oid"));
                let names = [alias.clone()];
                (is_oid(left) && !mentions(right, &names)) || (is_oid(right) && !mentions(left, &names))
            }
            _ => false,
        })
    });
    pinned.then_some(x)
}

/// Whether `e` reads a qualified column of a relation other than `inner`'s.
fn references_outer(e: &Expr, inner: &[String]) -> bool {
    any_expr(e, |x| qualified_by(x, inner, false))
}

/// Moves the select list's lateral candidates into LEFT JOIN LATERALs of the SELECT.
fn lateral_subqueries(sel: &mut Select) {
    struct Collect(Vec<(String, Query)>);
    impl VisitorMut for Collect {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
            if let Expr::Subquery(q) = e
                && let Some(x) = lateral_candidate(q)
            {
                let name = format!("eddy_lateral{}", self.0.len());
                let mut q = q.as_ref().clone();
                if let SetExpr::Select(inner) = q.body.as_mut() {
                    inner.projection = vec![SelectItem::ExprWithAlias {
                        expr: x,
                        alias: Ident::new(&name),
                    }];
                }
                *e = Expr::CompoundIdentifier(vec![Ident::new(&name), Ident::new(&name)]);
                self.0.push((name, q));
            }
            ControlFlow::Continue(())
        }
    }
    if sel.from.is_empty() || has_aggregate(&sel.projection) {
        return;
    }
    let grouped = !matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    if grouped || sel.distinct.is_some() {
        return;
    }
    let mut c = Collect(vec![]);
    for item in &mut sel.projection {
        let _ = item.visit(&mut c);
    }
    for (name, q) in c.0 {
        let sql = format!("SELECT 1 FROM eddy_outer LEFT JOIN LATERAL ({q}) AS {name} ON true");
        let join = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(&sql)
            .and_then(|mut p| p.parse_query())
            .ok()
            .and_then(|q| match *q.body {
                SetExpr::Select(mut s) => s.from.pop().and_then(|mut f| f.joins.pop()),
                _ => None,
            });
        if let (Some(join), Some(last)) = (join, sel.from.last_mut()) {
            last.joins.push(join);
        }
    }
}

struct ExistsInSelectList;

impl VisitorMut for ExistsInSelectList {
    type Break = ();

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        if let Expr::Exists { subquery, negated } = e
            && let Some(new) = exists_as_count(subquery, *negated)
        {
            *e = new;
        }
        ControlFlow::Continue(())
    }
}

/// `ORDER BY n` naming a constant select item (`SELECT 1, count(*) ... GROUP BY x ORDER BY 1`)
/// orders by nothing, and DataFusion fails it when the query groups ("must appear in the GROUP
/// BY clause"), so such positions are dropped.
fn drop_constant_positions(q: &mut Query) {
    use datafusion::sql::sqlparser::ast::OrderByKind;
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return;
    };
    let constant = |n: &str| -> bool {
        let Some(item) = n
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| sel.projection.get(i))
        else {
            return false;
        };
        let e = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => return false,
        };
        let mut e = e;
        loop {
            match e {
                Expr::Cast { expr, .. } | Expr::Nested(expr) => e = expr,
                Expr::Value(_) | Expr::TypedString(_) => return true,
                _ => return false,
            }
        }
    };
    let Some(order) = q.order_by.as_mut() else {
        return;
    };
    let OrderByKind::Expressions(exprs) = &mut order.kind else {
        return;
    };
    exprs.retain(|o| !matches!(&o.expr, Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if constant(n))));
    if exprs.is_empty() {
        q.order_by = None;
    }
}

impl VisitorMut for PgSyntax {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let SetExpr::Select(sel) = q.body.as_mut() {
            for item in &mut sel.projection {
                let _ = item.visit(&mut ExistsInSelectList);
                series_in_select_list(item);
            }
            lateral_subqueries(sel);
        }
        drop_constant_positions(q);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        match e {
            // SQL's niladic functions, which parse as names
            Expr::Identifier(id)
                if id.quote_style.is_none()
                    && ["current_user", "session_user", "user", "current_role"]
                        .contains(&id.value.to_ascii_lowercase().as_str()) =>
            {
                let name = id.value.to_ascii_lowercase();
                let name = if name == "current_role" || name == "user" {
                    "current_user".to_string()
                } else {
                    name
                };
                if let Some(new) = parse_expr(&format!("{name}()")) {
                    *e = new;
                }
            }
            Expr::BinaryOp { left, op, right } => {
                if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                    && let Some(new) = match parts.as_slice() {
                        [one] => operator(one),
                        [schema, one] if schema.eq_ignore_ascii_case("pg_catalog") => operator(one),
                        _ => None,
                    }
                {
                    *op = new;
                }
                compare_reg_values_as_oids(left, op, right);
            }
            Expr::Subquery(q) => {
                let condition = hoist_outer_conjuncts(q);
                single_value_subquery(q);
                if let Some(condition) = condition
                    && let Some(new) = parse_expr(&format!("CASE WHEN {condition} THEN {e} END"))
                {
                    *e = new;
                }
            }
            // DataFusion refuses `-x` while planning unless x has one of Arrow's numeric types,
            // which `numeric` (Eddy's own) is not; `x * -1` is the same value for every type
            // `-` takes (the scale of a numeric, -0 of a float, the overflow of an integer),
            // and plans for numerics too. Literals and parameters stay as they are.
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } if !matches!(expr.as_ref(), Expr::Value(_)) => {
                let inner = std::mem::replace(expr.as_mut(), Expr::value(Value::Null));
                *e = Expr::BinaryOp {
                    left: Box::new(Expr::Nested(Box::new(inner))),
                    op: BinaryOperator::Multiply,
                    right: Box::new(Expr::UnaryOp {
                        op: UnaryOperator::Minus,
                        expr: Box::new(Expr::value(Value::Number("1".into(), false))),
                    }),
                };
            }
            Expr::Collate { expr, .. } => {
                let inner = std::mem::replace(
                    expr.as_mut(),
                    Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                );
                *e = inner;
            }
            Expr::Function(f)
                if matches!(f.args, FunctionArguments::None)
                    && catalog_name(&f.name).is_some_and(|n| {
                        ["current_user", "session_user", "user", "current_role"]
                            .contains(&n.to_ascii_lowercase().as_str())
                    }) =>
            {
                let name = catalog_name(&f.name)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let name = if name == "session_user" {
                    name
                } else {
                    "current_user".to_string()
                };
                if let Some(new) = parse_expr(&format!("{name}()")) {
                    *e = new;
                }
            }
            Expr::Like {
                pattern,
                escape_char,
                ..
            }
            | Expr::ILike {
                pattern,
                escape_char,
                ..
            } if escape_char
                .as_ref()
                .is_some_and(|c| c.value.to_string() != "'\\'") =>
            {
                let c = escape_char.take().expect("checked").value;
                let p = std::mem::replace(pattern.as_mut(), Expr::value(Value::Null));
                if let Some(new) = parse_expr(&format!("eddy_like_escape({p}, {c})")) {
                    **pattern = new;
                }
            }
            // `x = ANY('{a,b}')` (psycopg's client-side binding of a list) reads the literal as
            // an array of `x`'s type: the same as `x IN ('a', 'b')`, whose literals DataFusion
            // casts to `x`'s type. `x <> ALL('{...}')` is `NOT IN`.
            Expr::AnyOp {
                left,
                compare_op: BinaryOperator::Eq,
                right,
                ..
            }
            | Expr::AllOp {
                left,
                compare_op: BinaryOperator::NotEq,
                right,
            } if matches!(right.as_ref(), Expr::Value(v)
                if matches!(&v.value, Value::SingleQuotedString(t) if t.trim_start().starts_with('{'))) =>
            {
                let negated = matches!(e, Expr::AllOp { .. });
                let (Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. }) = e else {
                    unreachable!("matched above");
                };
                let Expr::Value(v) = right.as_ref() else {
                    unreachable!("matched above");
                };
                let Value::SingleQuotedString(text) = &v.value else {
                    unreachable!("matched above");
                };
                if let Ok(items) = eddy_common::array_text::parse(text) {
                    let list: Vec<Expr> = items
                        .into_iter()
                        .map(|i| match i {
                            Some(s) => Expr::value(Value::SingleQuotedString(s)),
                            None => Expr::value(Value::Null),
                        })
                        .collect();
                    *e = if list.is_empty() {
                        Expr::value(Value::Boolean(negated))
                    } else {
                        Expr::InList {
                            expr: left.clone(),
                            list,
                            negated,
                        }
                    };
                }
            }
            // `(record).field`
            Expr::CompoundFieldAccess { root, access_chain }
                if access_chain.iter().all(|a| {
                    matches!(
                        a,
                        datafusion::sql::sqlparser::ast::AccessExpr::Dot(Expr::Identifier(_))
                    )
                }) =>
            {
                let mut sql = root.to_string();
                for a in access_chain.iter() {
                    if let datafusion::sql::sqlparser::ast::AccessExpr::Dot(Expr::Identifier(id)) =
                        a
                    {
                        sql = format!(
                            "get_field({sql}, '{}')",
                            crate::names::ident(id).replace('\'', "''")
                        );
                    }
                }
                if let Some(new) = parse_expr(&sql) {
                    *e = new;
                }
            }
            Expr::Function(f)
                if f.name
                    .0
                    .last()
                    .is_some_and(|p| p.to_string().eq_ignore_ascii_case("_pg_expandarray"))
                    && f.name.0.len() <= 2 =>
            {
                if let FunctionArguments::List(l) = &f.args
                    && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] = l.args.as_slice()
                    && let Some(new) = parse_expr(&format!("unnest(eddy_expandarray({a}))"))
                {
                    *e = Expr::Nested(Box::new(new));
                }
            }
            Expr::Function(f) => {
                if let FunctionArguments::Subquery(q) = &f.args
                    && catalog_name(&f.name).is_some_and(|n| n.eq_ignore_ascii_case("array"))
                {
                    if let Some(new) = array_subquery(q) {
                        *e = new;
                    }
                    return ControlFlow::Continue(());
                }
                if f.name.0.len() == 2
                    && let Some(n) = catalog_name(&f.name)
                {
                    f.name = unqualified(&n);
                }
                if catalog_name(&f.name)
                    .is_some_and(|n| n.eq_ignore_ascii_case("generate_subscripts"))
                    && let FunctionArguments::List(l) = &f.args
                    && let [
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(a)),
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(dim)),
                    ] = l.args.as_slice()
                    && dim.to_string() == "1"
                    && let Some(new) = parse_expr(&format!(
                        "unnest(generate_series(1, coalesce(CAST(array_length({a}, 1) AS BIGINT), 0)))"
                    ))
                {
                    *e = new;
                }
            }
            // A number of more digits than Arrow's widest decimal holds is still a numeric.
            Expr::Value(v)
                if matches!(&v.value, Value::Number(n, _)
                    if n.chars().filter(char::is_ascii_digit).count() > 76) =>
            {
                if let Value::Number(n, _) = &v.value {
                    *e = Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(Expr::value(Value::SingleQuotedString(n.clone()))),
                        data_type: DataType::Numeric(ExactNumberInfo::None),
                        array: false,
                        format: None,
                    };
                }
            }
            // `x::numeric(p,s)`: DataFusion's planner would make the type an Arrow decimal, which
            // has no room for PostgreSQL's typmods (precision to 1000, negative scales, scales
            // above the precision); `numeric_plan` turns this call into the cast.
            Expr::Cast {
                kind: CastKind::Cast | CastKind::DoubleColon,
                expr,
                data_type: DataType::Numeric(info) | DataType::Decimal(info) | DataType::Dec(info),
                array: false,
                format: None,
            } if !matches!(info, ExactNumberInfo::None) => {
                let (p, s) = match *info {
                    ExactNumberInfo::Precision(p) => (p, 0),
                    ExactNumberInfo::PrecisionAndScale(p, s) => (p, s),
                    ExactNumberInfo::None => unreachable!("guarded"),
                };
                let inner = std::mem::replace(expr.as_mut(), Expr::value(Value::Null));
                let number = |n: String| Expr::value(Value::Number(n, false));
                *e = call_with(
                    crate::numeric_plan::TYPMOD_CAST,
                    vec![inner, number(p.to_string()), number(s.to_string())],
                );
            }
            // `x::regclass::text`: the name, where the lookup alone gives a name only from an oid
            Expr::Cast {
                expr, data_type, ..
            } if matches!(data_type, DataType::Text | DataType::Varchar(_))
                || matches!(catalog_cast(data_type), Some(CastTo::Type(DataType::Text))) =>
            {
                if let Expr::Function(f) = expr.as_mut()
                    && let [ObjectNamePart::Identifier(id)] = f.name.0.as_slice()
                    && [
                        "eddy_regclass",
                        "eddy_regtype",
                        "eddy_regnamespace",
                        "eddy_regrole",
                    ]
                    .contains(&id.value.as_str())
                {
                    f.name = unqualified(&format!("{}_name", id.value));
                    let inner = std::mem::replace(expr.as_mut(), Expr::value(Value::Null));
                    *e = inner;
                } else if let Some(CastTo::Type(t)) = catalog_cast(data_type) {
                    // `'pg_catalog.array_in'::regproc` is the name `array_in`.
                    if data_type
                        .to_string()
                        .to_ascii_lowercase()
                        .ends_with("regproc")
                        && let Expr::Value(v) = expr.as_mut()
                        && let Value::SingleQuotedString(name) = &mut v.value
                        && let Some(bare) = name.strip_prefix("pg_catalog.")
                    {
                        *name = bare.to_string();
                    }
                    *data_type = t;
                }
            }
            Expr::Cast {
                expr, data_type, ..
            } => match catalog_cast(data_type) {
                Some(CastTo::Lookup(func)) => {
                    let inner = std::mem::replace(
                        expr.as_mut(),
                        Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                    );
                    *e = call(func, inner);
                }
                Some(CastTo::Type(t)) => *data_type = t,
                None => {}
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
        // `FROM t, unnest(t.arr) x`: DataFusion's UNNEST of another item's column loses the
        // alias (`x` is not found), so it becomes the LATERAL subquery it means.
        if let TableFactor::UNNEST {
            alias: Some(alias),
            array_exprs,
            with_offset: false,
            with_ordinality: false,
            ..
        } = t
            && let [arr] = array_exprs.as_slice()
            && any_expr(arr, |e| {
                matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
            })
            && alias.columns.len() <= 1
        {
            let column = match alias.columns.first() {
                Some(c) => c.name.clone(),
                None => alias.name.clone(),
            };
            let mut alias = alias.clone();
            alias.columns = vec![TableAliasColumnDef::from_name(column.value.clone())];
            if let Some(TableFactor::Derived {
                subquery, sample, ..
            }) = derived_table(&format!("SELECT unnest({arr}) AS {column}"), &alias)
            {
                *t = TableFactor::Derived {
                    lateral: true,
                    subquery,
                    alias: Some(alias),
                    sample,
                };
                return ControlFlow::Continue(());
            }
        }
        // `LATERAL f(...)` is the same item as `f(...)`: a function in FROM may read the
        // columns of the items before it either way.
        if let TableFactor::Function {
            lateral: true,
            name,
            args,
            with_ordinality: false,
            alias,
        } = t
        {
            *t = TableFactor::Table {
                name: name.clone(),
                alias: alias.clone(),
                args: Some(datafusion::sql::sqlparser::ast::TableFunctionArgs {
                    args: std::mem::take(args),
                    settings: None,
                }),
                with_hints: vec![],
                version: None,
                with_ordinality: false,
                partitions: vec![],
                json_path: None,
                sample: None,
                index_hints: vec![],
            };
        }
        if let TableFactor::Table {
            name,
            alias,
            args: Some(args),
            ..
        } = t
        {
            if name.0.len() == 2
                && let Some(n) = catalog_name(name)
            {
                *name = unqualified(&n);
            }
            // Without an alias, PostgreSQL names a one-column function's table and column
            // after the function (`SELECT * FROM generate_series(1, 3)` shows `generate_series`).
            if alias.is_none()
                && let Some(f) = name.0.last().and_then(|p| p.as_ident())
                && (args.args.len() == 1 || !f.value.eq_ignore_ascii_case("unnest"))
            {
                let f = Ident::new(f.value.to_lowercase());
                *alias = Some(datafusion::sql::sqlparser::ast::TableAlias {
                    explicit: false,
                    name: f.clone(),
                    columns: vec![TableAliasColumnDef::from_name(f.value)],
                    at: None,
                });
            }
            if let Some(a) = alias
                && a.columns.is_empty()
            {
                a.columns = vec![TableAliasColumnDef::from_name(a.name.value.clone())];
            }
            // `FROM string_to_array(...) s`: a function returning one value is a one-row table
            // whose column is named after the alias (DataFusion knows only table functions).
            if let TableFactor::Table {
                name,
                alias: Some(alias),
                args: Some(args),
                ..
            } = t
                && !["generate_series", "unnest", "range", "generate_subscripts"]
                    .iter()
                    .any(|f| name.to_string().eq_ignore_ascii_case(f))
                && !args.args.iter().any(reads_columns)
                && let [column] = alias.columns.as_slice()
                && let Some(derived) = derived_table(
                    &format!(
                        "SELECT {name}({}) AS {}",
                        args_text(&args.args),
                        column.name
                    ),
                    alias,
                )
            {
                *t = derived;
                return ControlFlow::Continue(());
            }
            // DataFusion's generate_series takes int8 bounds only; the array functions give int4
            // (`generate_series(1, array_upper(current_schemas(false), 1))`, pgjdbc's).
            if let TableFactor::Table {
                name,
                args: Some(args),
                ..
            } = t
                && name.to_string().eq_ignore_ascii_case("generate_series")
            {
                for a in args.args.iter_mut() {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a
                        && let Expr::Function(f) = e
                        && ["array_upper", "array_lower", "array_length", "cardinality"]
                            .iter()
                            .any(|n| f.name.to_string().eq_ignore_ascii_case(n))
                        && let Some(cast) = parse_expr(&format!("CAST({e} AS BIGINT)"))
                    {
                        *e = cast;
                    }
                }
            }
            // `FROM generate_series(1, 3) s` is a series of `integer`s in PostgreSQL and of
            // `bigint`s from DataFusion's table function, which stays (it streams any length)
            // under a cast; its values lie between the bounds, so the cast cannot overflow.
            if let TableFactor::Table {
                name,
                alias: Some(alias),
                args: Some(args),
                ..
            } = t
                && name.to_string().eq_ignore_ascii_case("generate_series")
                && int4_literals(&args.args)
                && let Some(derived) = derived_table(
                    &format!(
                        "SELECT CAST(value AS INT) AS value FROM generate_series({})",
                        args_text(&args.args)
                    ),
                    alias,
                )
            {
                *t = derived;
                return ControlFlow::Continue(());
            }
            // `FROM generate_series(a, b) s` is the unnested array of the series: DataFusion's
            // table function takes integer, date and timestamp constants only, and catalog
            // queries pass outer columns.
            if let TableFactor::Table {
                name,
                alias: Some(alias),
                args: Some(args),
                ..
            } = t
                && name.to_string().eq_ignore_ascii_case("generate_series")
                && args.args.iter().any(|a| reads_columns(a) || numeric_arg(a))
                && let Some(series) =
                    parse_expr(&format!("generate_series({})", args_text(&args.args)))
            {
                *t = TableFactor::UNNEST {
                    alias: Some(alias.clone()),
                    array_exprs: vec![series],
                    with_offset: false,
                    with_offset_alias: None,
                    with_ordinality: false,
                };
                return ControlFlow::Continue(());
            }
            // `FROM unnest(arr) x` is DataFusion's UNNEST table factor.
            if let TableFactor::Table {
                name,
                alias,
                args: Some(args),
                ..
            } = t
                && name.to_string().eq_ignore_ascii_case("unnest")
            {
                let array_exprs = args
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect();
                *t = TableFactor::UNNEST {
                    alias: alias.take(),
                    array_exprs,
                    with_offset: false,
                    with_offset_alias: None,
                    with_ordinality: false,
                };
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_statements;

    fn rewritten(sql: &str) -> String {
        let mut s = parse_statements(sql).unwrap().remove(0);
        rewrite(&mut s);
        s.to_string()
    }

    #[test]
    fn catalog_syntax_becomes_plain_sql() {
        assert_eq!(
            rewritten("SELECT 1 WHERE 'a' OPERATOR(pg_catalog.~) '^a' COLLATE pg_catalog.default"),
            "SELECT 1 WHERE 'a' ~ '^a'"
        );
        assert_eq!(
            rewritten(
                "SELECT pg_catalog.format_type(x, NULL), '1'::pg_catalog.oid, c.oid::regclass::text"
            ),
            "SELECT format_type(x, NULL), '1'::INT UNSIGNED, eddy_regclass_name(c.oid)"
        );
        assert_eq!(
            rewritten("SELECT s FROM pg_catalog.generate_series(1, 3) s"),
            "SELECT s FROM (SELECT CAST(value AS INT) AS value FROM generate_series(1, 3)) s (s)"
        );
        assert_eq!(
            rewritten("SELECT e FROM t, unnest(t.arr) e"),
            "SELECT e FROM t, LATERAL (SELECT unnest(t.arr) AS e) e (e)"
        );
        assert_eq!(
            rewritten("SELECT s FROM t, generate_series(1, t.n) s"),
            "SELECT s FROM t, UNNEST(generate_series(1, t.n)) s (s)"
        );
        assert!(rewritten("SELECT ARRAY(SELECT 1)").contains("array_agg"));
    }
}
