//! `PREPARE`, `EXECUTE` and `DEALLOCATE` as SQL statements (drivers prepare through the
//! protocol instead; this is for psql users and SQL scripts). A prepared statement is kept
//! parsed, per session; `EXECUTE` writes its arguments in place of the `$n` parameters, each
//! cast to the type `PREPARE` declared for it, and runs the result as any statement.
//!
//! Difference from PostgreSQL: an argument is evaluated where its parameter is used, so a
//! volatile one (`EXECUTE p(random())`) used twice gives two values.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Ident, Statement, Value, VisitMut, VisitorMut,
};
use eddy_common::{Error, Result, SqlState};

pub(crate) struct Prepared {
    statement: Statement,
    types: Vec<DataType>,
}

/// A session's prepared statements, by name.
#[derive(Default)]
pub(crate) struct PreparedStatements(HashMap<String, Prepared>);

fn does_not_exist(name: &str) -> Error {
    Error::new(
        SqlState::INVALID_SQL_STATEMENT_NAME,
        format!("prepared statement \"{name}\" does not exist"),
    )
}

impl PreparedStatements {
    pub fn prepare(
        &mut self,
        name: &Ident,
        types: &[DataType],
        statement: &Statement,
    ) -> Result<()> {
        let name = eddy_sql::names::ident(name);
        if self.0.contains_key(&name) {
            return Err(Error::new(
                SqlState::DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        if matches!(
            statement,
            Statement::Prepare { .. } | Statement::Execute { .. } | Statement::Deallocate { .. }
        ) {
            return Err(Error::syntax(format!(
                "syntax error at or near \"{}\"",
                statement
                    .to_string()
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
            )));
        }
        self.0.insert(
            name,
            Prepared {
                statement: statement.clone(),
                types: types.to_vec(),
            },
        );
        Ok(())
    }

    /// `DEALLOCATE name`, or every statement for `DEALLOCATE ALL`; the command tag.
    pub fn deallocate(&mut self, name: &Ident) -> Result<&'static str> {
        if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
            self.0.clear();
            return Ok("DEALLOCATE ALL");
        }
        let name = eddy_sql::names::ident(name);
        self.0.remove(&name).ok_or_else(|| does_not_exist(&name))?;
        Ok("DEALLOCATE")
    }

    /// The statement `EXECUTE name(args)` runs.
    pub fn bind(&self, name: &str, args: &[Expr]) -> Result<Statement> {
        let p = self.0.get(name).ok_or_else(|| does_not_exist(name))?;
        let mut statement = p.statement.clone();
        let mut used = 0usize;
        struct Bind<'a> {
            args: &'a [Expr],
            types: &'a [DataType],
            used: &'a mut usize,
        }
        impl VisitorMut for Bind<'_> {
            type Break = ();
            fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
                let Expr::Value(v) = e else {
                    return ControlFlow::Continue(());
                };
                let Value::Placeholder(p) = &v.value else {
                    return ControlFlow::Continue(());
                };
                let Some(i) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
                    return ControlFlow::Continue(());
                };
                *self.used = (*self.used).max(i);
                let Some(arg) = i.checked_sub(1).and_then(|i| self.args.get(i)) else {
                    return ControlFlow::Continue(());
                };
                let arg = Expr::Nested(Box::new(arg.clone()));
                *e = match self.types.get(i - 1) {
                    Some(t) => Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(arg),
                        data_type: t.clone(),
                        array: false,
                        format: None,
                    },
                    None => arg,
                };
                ControlFlow::Continue(())
            }
        }
        let _ = statement.visit(&mut Bind {
            args,
            types: &p.types,
            used: &mut used,
        });
        let expected = p.types.len().max(used);
        if args.len() != expected {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("wrong number of parameters for prepared statement \"{name}\""),
            )
            .with_detail(format!(
                "Expected {expected} parameters but got {}.",
                args.len()
            )));
        }
        Ok(statement)
    }
}
