//! Plain (non-materialized) views, expanded at use: before planning, every reference to a plain
//! view becomes a derived table holding the view's query, as PostgreSQL's rewriter does.

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Ident, Query, Statement, TableAlias, TableAliasColumnDef, TableFactor, VisitMut, VisitorMut,
};
use eddy_catalog::{Catalog, DEFAULT_SCHEMA};
use eddy_common::{Error, Result, TableId};
use eddy_sql::names;

/// Expansions per statement past which a view definition is taken to be runaway.
const EXPANSIONS_MAX: usize = 1000;

struct Expander<'a> {
    catalog: &'a Catalog,
    ctes: HashSet<String>,
    used: Vec<TableId>,
    err: Option<Error>,
}

impl VisitorMut for Expander<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        if let Some(w) = &q.with {
            for c in &w.cte_tables {
                self.ctes.insert(names::ident(&c.alias.name));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = tf
        else {
            return ControlFlow::Continue(());
        };
        let Ok((schema, rel)) = names::relation(name, DEFAULT_SCHEMA) else {
            return ControlFlow::Continue(());
        };
        if name.0.len() == 1 && self.ctes.contains(&rel) {
            return ControlFlow::Continue(());
        }
        let Some(v) = self.catalog.view(&schema, &rel) else {
            return ControlFlow::Continue(());
        };
        if v.def.materialized {
            return ControlFlow::Continue(());
        }
        self.used.push(v.id());
        if self.used.len() > EXPANSIONS_MAX {
            self.err = Some(Error::new(
                eddy_common::SqlState::PROGRAM_LIMIT_EXCEEDED,
                "view expansion is too deep",
            ));
            return ControlFlow::Break(());
        }
        let query = match eddy_sql::parse::parse_statements(&v.def.sql) {
            Ok(mut s) if s.len() == 1 => match s.remove(0) {
                Statement::Query(q) => q,
                _ => return ControlFlow::Continue(()),
            },
            Ok(_) => return ControlFlow::Continue(()),
            Err(e) => {
                self.err = Some(e);
                return ControlFlow::Break(());
            }
        };
        let mut alias = alias.clone().unwrap_or(TableAlias {
            explicit: true,
            name: Ident::with_quote('"', rel.clone()),
            columns: vec![],
            at: None,
        });
        if alias.columns.is_empty() {
            alias.columns = v
                .def
                .columns
                .iter()
                .map(|c| TableAliasColumnDef {
                    name: Ident::with_quote('"', c.name.clone()),
                    data_type: None,
                })
                .collect();
        }
        *tf = TableFactor::Derived {
            lateral: false,
            subquery: query,
            alias: Some(alias),
            sample: None,
        };
        ControlFlow::Continue(())
    }
}

/// Replaces plain views in `stmt` by their queries; returns the ids of the views expanded.
pub(crate) fn expand(catalog: &Catalog, stmt: &mut Statement) -> Result<Vec<TableId>> {
    if !catalog.has_views(false) {
        return Ok(vec![]);
    }
    let mut e = Expander {
        catalog,
        ctes: HashSet::new(),
        used: vec![],
        err: None,
    };
    let _ = stmt.visit(&mut e);
    match e.err {
        Some(err) => Err(err),
        None => Ok(e.used),
    }
}
