//! UPDATE and DELETE become queries: the engine runs the query to find the affected rows (and,
//! for UPDATE, their new values), then writes them. The queries see the target table with its
//! hidden row-key column, which tells the engine which stored row each result row replaces.

use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Delete, FromTable, SelectItem, TableFactor, TableWithJoins, Update,
    UpdateTableFromKind,
};
use eddy_catalog::{ROW_KEY_COLUMN, TableDef};
use eddy_common::{Error, Result, SqlState};

use crate::names::{self, quote};

/// The target of an UPDATE or DELETE, as written.
pub struct DmlTarget {
    pub schema: String,
    pub table: String,
    /// The name the statement refers to the target by (its alias, or the table name).
    pub alias: String,
}

/// A rewritten UPDATE/DELETE: run `query`; column 0 is the row key, columns 1.. the table's
/// columns (new values for UPDATE, current values for DELETE).
pub struct DmlQuery {
    pub query: String,
    pub returning: Option<Vec<SelectItem>>,
    /// For UPDATE: which table columns the statement assigns.
    pub assigned: Vec<usize>,
}

pub fn target(twj: &TableWithJoins, default_schema: &str) -> Result<DmlTarget> {
    if !twj.joins.is_empty() {
        return Err(Error::unsupported("JOIN in the target of UPDATE/DELETE"));
    }
    match &twj.relation {
        TableFactor::Table { name, alias, .. } => {
            let (schema, table) = names::relation(name, default_schema)?;
            let alias = alias
                .as_ref()
                .map(|a| names::ident(&a.name))
                .unwrap_or(table.clone());
            Ok(DmlTarget {
                schema,
                table,
                alias,
            })
        }
        other => Err(Error::unsupported(format!("UPDATE/DELETE target {other}"))),
    }
}

fn from_list(tables: &[TableWithJoins]) -> String {
    tables.iter().map(|t| format!(", {t}")).collect()
}

pub fn delete_target(d: &Delete, default_schema: &str) -> Result<DmlTarget> {
    let tables = match &d.from {
        FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
    };
    match tables.as_slice() {
        [one] => target(one, default_schema),
        _ => Err(Error::unsupported("DELETE from several tables")),
    }
}

pub fn delete_query(d: &Delete, t: &DmlTarget, def: &TableDef) -> Result<DmlQuery> {
    if d.limit.is_some() || !d.order_by.is_empty() {
        return Err(Error::syntax("syntax error at or near \"LIMIT\""));
    }
    let mut sql = format!(
        "SELECT {a}.{k}, {cols} FROM {s}.{tb} AS {a}",
        a = quote(&t.alias),
        k = quote(ROW_KEY_COLUMN),
        cols = column_list(&t.alias, def),
        s = quote(&t.schema),
        tb = quote(&t.table),
    );
    if let Some(using) = &d.using {
        sql.push_str(&from_list(using));
    }
    if let Some(w) = &d.selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    Ok(DmlQuery {
        query: sql,
        returning: d.returning.clone(),
        assigned: vec![],
    })
}

pub fn update_query(u: &Update, t: &DmlTarget, def: &TableDef) -> Result<DmlQuery> {
    let mut values: Vec<Option<String>> = vec![None; def.columns.len()];
    let mut assigned = vec![];
    for a in &u.assignments {
        let AssignmentTarget::ColumnName(name) = &a.target else {
            return Err(Error::unsupported("assigning a tuple of columns in UPDATE"));
        };
        let col = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(names::ident)
            .ok_or_else(|| Error::syntax(format!("invalid column name {name}")))?;
        let i = def.column_index(&col).ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{col}\" of relation \"{}\" does not exist",
                    def.name
                ),
            )
        })?;
        if values[i].is_some() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("multiple assignments to same column \"{col}\""),
            ));
        }
        values[i] = Some(format!("({})", a.value));
        assigned.push(i);
    }
    let items: Vec<String> = def
        .columns
        .iter()
        .zip(values)
        .map(|(c, v)| match v {
            Some(v) => format!("{v} AS {}", quote(&c.name)),
            None => format!("{}.{}", quote(&t.alias), quote(&c.name)),
        })
        .collect();
    let mut sql = format!(
        "SELECT {a}.{k}, {items} FROM {s}.{tb} AS {a}",
        a = quote(&t.alias),
        k = quote(ROW_KEY_COLUMN),
        items = items.join(", "),
        s = quote(&t.schema),
        tb = quote(&t.table),
    );
    if let Some(UpdateTableFromKind::BeforeSet(f) | UpdateTableFromKind::AfterSet(f)) = &u.from {
        sql.push_str(&from_list(f));
    }
    if let Some(w) = &u.selection {
        sql.push_str(&format!(" WHERE {w}"));
    }
    Ok(DmlQuery {
        query: sql,
        returning: u.returning.clone(),
        assigned,
    })
}

fn column_list(alias: &str, def: &TableDef) -> String {
    def.columns
        .iter()
        .map(|c| format!("{}.{}", quote(alias), quote(&c.name)))
        .collect::<Vec<_>>()
        .join(", ")
}
