//! `SELECT cols FROM t WHERE pk = $1`, the most common query a driver sends, answered with one
//! key lookup instead of a DataFusion plan-optimize-execute cycle. Any other shape (or a value
//! that does not cast cleanly to the key type) returns `None` and takes the general path, which
//! also produces the errors; the answer of this path is the general path's answer.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, Query, SelectItem, SetExpr, TableFactor, Value,
};
use eddy_catalog::{DEFAULT_SCHEMA, ReadContext};
use eddy_common::{PgType, Result};
use eddy_pgwire::{Column, Output};
use eddy_sql::names;
use eddy_storage::row_key;

use crate::engine::Engine;

fn column_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(id) => Some(names::ident(id)),
        Expr::CompoundIdentifier(ids) if ids.len() == 2 => Some(names::ident(&ids[1])),
        _ => None,
    }
}

fn key_value(e: &Expr, params: &[ScalarValue]) -> Option<ScalarValue> {
    let Expr::Value(v) = e else { return None };
    match &v.value {
        Value::Placeholder(p) => {
            let i: usize = p.strip_prefix('$')?.parse().ok()?;
            params.get(i.checked_sub(1)?).cloned()
        }
        Value::Number(n, _) => n.parse::<i64>().ok().map(|v| ScalarValue::Int64(Some(v))),
        _ => None,
    }
}

pub fn try_point_read(
    engine: &Engine,
    read: &ReadContext,
    q: &Query,
    params: &[ScalarValue],
) -> Result<Option<Output>> {
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return Ok(None);
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Ok(None);
    };
    if sel.distinct.is_some()
        || sel.having.is_some()
        || sel.from.len() != 1
        || !sel.from[0].joins.is_empty()
    {
        return Ok(None);
    }
    if !matches!(&sel.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty()) {
        return Ok(None);
    }
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = &sel.from[0].relation
    else {
        return Ok(None);
    };
    if alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return Ok(None);
    }
    let (schema, table) = names::relation(name, DEFAULT_SCHEMA)?;
    let Some(entry) = engine.catalog.table(&schema, &table) else {
        return Ok(None);
    };
    let pk = entry.codec.primary_key_columns();
    if pk.len() != 1 {
        return Ok(None);
    }
    let Some(Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    }) = &sel.selection
    else {
        return Ok(None);
    };
    let value = match (column_name(left), column_name(right)) {
        (Some(c), None) if c == entry.def.columns[pk[0]].name => key_value(right, params),
        (None, Some(c)) if c == entry.def.columns[pk[0]].name => key_value(left, params),
        _ => None,
    };
    let Some(value) = value else { return Ok(None) };
    let mut indices = vec![];
    for item in &sel.projection {
        match item {
            SelectItem::Wildcard(o)
                if o.opt_exclude.is_none()
                    && o.opt_except.is_none()
                    && o.opt_replace.is_none()
                    && o.opt_rename.is_none() =>
            {
                indices.extend(0..entry.def.columns.len())
            }
            SelectItem::UnnamedExpr(e) => {
                match column_name(e).and_then(|c| entry.def.column_index(&c)) {
                    Some(i) => indices.push(i),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        }
    }
    let key_field = entry.codec.schema().field(pk[0]);
    // A numeric key's stored bytes carry its display scale: the general path compares values.
    if eddy_common::numeric_array::is_numeric(key_field.data_type()) {
        return Ok(None);
    }
    let batch = if value.is_null() {
        RecordBatch::new_empty(entry.codec.schema().clone())
    } else {
        let Ok(v) = value.cast_to(key_field.data_type()) else {
            return Ok(None);
        };
        // a lossy cast (2.5 -> 2) would find the wrong row: only exact round trips qualify
        if v.cast_to(&value.data_type()).ok().as_ref() != Some(&value) {
            return Ok(None);
        }
        let keys = entry.codec.encode_key_arrays(&[v.to_array()?])?;
        match read.get(&row_key(entry.id(), keys.row(0).data()))? {
            Some(bytes) => entry.codec.decode_values([bytes.as_slice()])?,
            None => RecordBatch::new_empty(entry.codec.schema().clone()),
        }
    };
    let batch = batch.project(&indices)?;
    let columns = batch
        .schema()
        .fields()
        .iter()
        .zip(&indices)
        .map(|(f, &i)| Column {
            table_oid: entry.id(),
            attnum: i as i16 + 1,
            ..Column::new(f.name().clone(), PgType::from_field(f))
        })
        .collect();
    Ok(Some(Output::Rows {
        columns: Arc::new(columns),
        batches: vec![batch],
        tag: "SELECT".into(),
    }))
}
