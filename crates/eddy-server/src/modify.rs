//! INSERT, UPDATE and DELETE: DataFusion computes the rows, this module turns them into writes
//! (with primary-key checks, ON CONFLICT and RETURNING), and `describe` reports the parameter and
//! result types of any statement for the extended protocol.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    ConflictTarget, Insert, OnConflictAction, OnInsert, SelectItem, Statement, TableObject,
};
use eddy_catalog::{DEFAULT_SCHEMA, ReadContext, TableEntry};
use eddy_common::{Error, PgType, Result, SqlState};
use eddy_pgwire::{Described, Output};
use eddy_sql::names::{self, quote};
use eddy_storage::Cf;

use crate::conform::conform;
use crate::session::{EddySession, State, columns_of, undefined_table};
use crate::writes::{Conflict, OnConflict, StatementWrites, duplicate_key, insert_batch};

/// Hidden column numbering rows while ON CONFLICT pairs existing and proposed rows.
const ORD_COLUMN: &str = "__eddy_ord";

fn table(
    sess: &EddySession,
    name: &datafusion::sql::sqlparser::ast::ObjectName,
) -> Result<Arc<TableEntry>> {
    let (schema, t) = names::relation(name, DEFAULT_SCHEMA)?;
    sess.engine
        .catalog
        .table(&schema, &t)
        .ok_or_else(|| undefined_table(&sess.engine, &schema, &t))
}

fn insert_table(sess: &EddySession, ins: &Insert) -> Result<(Arc<TableEntry>, String)> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(Error::unsupported("INSERT into a table function"));
    };
    let entry = table(sess, name)?;
    let alias = ins
        .table_alias
        .as_ref()
        .map(|a| names::ident(&a.alias))
        .unwrap_or(entry.def.name.clone());
    Ok((entry, alias))
}

/// The columns an INSERT's values go to, in order: its column list, or every column.
fn insert_targets(ins: &Insert, entry: &TableEntry) -> Vec<String> {
    if ins.columns.is_empty() {
        return entry.def.columns.iter().map(|c| c.name.clone()).collect();
    }
    (ins.columns.iter())
        .map(|c| {
            c.0.last()
                .and_then(|p| p.as_ident())
                .map(names::ident)
                .unwrap_or_default()
        })
        .collect()
}

fn is_default_keyword(e: &datafusion::sql::sqlparser::ast::Expr) -> bool {
    matches!(e, datafusion::sql::sqlparser::ast::Expr::Identifier(id)
        if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// `INSERT INTO t DEFAULT VALUES` is one row of `DEFAULT`s.
fn default_values_row(ins: &Insert, entry: &TableEntry) -> Result<Option<Insert>> {
    if ins.source.is_some() || !ins.columns.is_empty() {
        return Ok(None);
    }
    let row = vec!["DEFAULT"; entry.def.columns.len()].join(", ");
    let Some(Statement::Insert(parsed)) =
        eddy_sql::parse::parse_statements(&format!("INSERT INTO t VALUES ({row})"))?
            .into_iter()
            .next()
    else {
        return Err(Error::internal("DEFAULT VALUES did not parse"));
    };
    let mut out = ins.clone();
    out.source = parsed.source;
    Ok(Some(out))
}

/// `VALUES (DEFAULT, 'x')`: each `DEFAULT` becomes its column's default expression (or NULL),
/// which DataFusion does not do. `None` when the statement has no `DEFAULT` to replace.
fn defaults_in_values(
    sess: &EddySession,
    ins: &Insert,
    entry: &TableEntry,
) -> Result<Option<Insert>> {
    use datafusion::sql::sqlparser::ast::{Expr, SetExpr};
    let Some(SetExpr::Values(v)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
        return Ok(None);
    };
    if !v.rows.iter().flat_map(|r| r.iter()).any(is_default_keyword) {
        return Ok(None);
    }
    let targets = insert_targets(ins, entry);
    let mut out = ins.clone();
    let Some(SetExpr::Values(v)) = out.source.as_deref_mut().map(|q| q.body.as_mut()) else {
        return Ok(None);
    };
    for row in &mut v.rows {
        for (i, e) in row.content.iter_mut().enumerate() {
            if !is_default_keyword(e) {
                continue;
            }
            let column = targets.get(i).cloned().unwrap_or_default();
            let identity = (sess.engine.catalog.sequences.all().into_iter())
                .find(|q| q.identity.is_some() && q.owned_by == Some((entry.id(), column.clone())));
            let default = match identity {
                Some(q) => Some(format!("nextval('{}')", q.qualified_name())),
                None => (entry.def.columns.iter())
                    .find(|c| c.name == column)
                    .and_then(|c| c.default.clone()),
            };
            *e = match default {
                // What a serial column's default says (`nextval('s'::regclass)`): nextval
                // takes the name.
                Some(sql) => eddy_sql::parse::parse_expr(&sql.replace("'::regclass", "'"))?,
                None => Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
            };
        }
    }
    Ok(Some(out))
}

/// DataFusion checks each `VALUES` item against the target column's Arrow type before Eddy's
/// numeric rewrite runs, and a decimal or integer cannot become a numeric column's
/// `LargeBinary` there. So the items for numeric columns go in as their text (`1.50` keeps its
/// scale), which the numeric rewrite reads back; parameters already have the column's type.
fn numeric_values_as_text(ins: &Insert, entry: &TableEntry) -> Option<Insert> {
    use datafusion::sql::sqlparser::ast::{CastKind, DataType as AstType, Expr, SetExpr, Value};
    let Some(SetExpr::Values(v)) = ins.source.as_deref().map(|q| q.body.as_ref()) else {
        return None;
    };
    let targets = insert_targets(ins, entry);
    let numeric: Vec<bool> = (targets.iter())
        .map(|t| {
            (entry.def.columns.iter()).any(|c| &c.name == t && matches!(c.ty, PgType::Numeric(_)))
        })
        .collect();
    if !numeric.iter().any(|n| *n) || v.rows.is_empty() {
        return None;
    }
    let mut out = ins.clone();
    let Some(SetExpr::Values(v)) = out.source.as_deref_mut().map(|q| q.body.as_mut()) else {
        return None;
    };
    for row in &mut v.rows {
        for (i, e) in row.content.iter_mut().enumerate() {
            let placeholder =
                matches!(e, Expr::Value(v) if matches!(v.value, Value::Placeholder(_)));
            if !numeric.get(i).copied().unwrap_or(false) || placeholder {
                continue;
            }
            let inner = std::mem::replace(e, Expr::value(Value::Null));
            *e = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(inner),
                data_type: AstType::Text,
                array: false,
                format: None,
            };
        }
    }
    Some(out)
}

/// A `GENERATED ALWAYS AS IDENTITY` column takes only its sequence's values: an INSERT that
/// gives it one (other than `DEFAULT`) fails, as in PostgreSQL. (sqlparser has no `OVERRIDING
/// SYSTEM VALUE`; COPY may give values, as PostgreSQL's does.)
fn refuse_values_for_generated_always(
    sess: &EddySession,
    ins: &Insert,
    entry: &TableEntry,
) -> Result<()> {
    let always: Vec<String> = (sess.engine.catalog.sequences.all().into_iter())
        .filter(|q| q.identity == Some('a'))
        .filter_map(|q| q.owned_by.filter(|(t, _)| *t == entry.id()))
        .map(|(_, c)| c)
        .collect();
    if always.is_empty() {
        return Ok(());
    }
    let targets = insert_targets(ins, entry);
    for col in always {
        let Some(pos) = targets.iter().position(|t| *t == col) else {
            continue;
        };
        let only_defaults = match ins.source.as_deref().map(|q| q.body.as_ref()) {
            Some(datafusion::sql::sqlparser::ast::SetExpr::Values(v)) => v
                .rows
                .iter()
                .all(|r| r.get(pos).is_some_and(is_default_keyword)),
            _ => false,
        };
        if !only_defaults {
            return Err(Error::new(
                SqlState::GENERATED_ALWAYS,
                format!("cannot insert a non-DEFAULT value into column \"{col}\""),
            )
            .with_detail(format!(
                "Column \"{col}\" is an identity column defined as GENERATED ALWAYS."
            )));
        }
    }
    Ok(())
}

fn on_conflict<'a>(
    ins: &'a Insert,
    entry: &TableEntry,
) -> Result<(
    OnConflict,
    Option<&'a datafusion::sql::sqlparser::ast::DoUpdate>,
)> {
    let Some(on) = &ins.on else {
        return Ok((OnConflict::Error, None));
    };
    let OnInsert::OnConflict(oc) = on else {
        return Err(Error::unsupported("ON DUPLICATE KEY UPDATE"));
    };
    let pk: Vec<&str> = entry
        .codec
        .primary_key_columns()
        .iter()
        .map(|i| entry.def.columns[*i].name.as_str())
        .collect();
    let no_match = || {
        Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
        )
    };
    match &oc.conflict_target {
        Some(ConflictTarget::Columns(cols)) => {
            let mut named: Vec<String> = cols.iter().map(names::ident).collect();
            named.sort();
            let mut want: Vec<String> = pk.iter().map(|s| s.to_string()).collect();
            want.sort();
            if pk.is_empty() || named != want {
                return Err(no_match());
            }
        }
        Some(ConflictTarget::OnConstraint(c))
            if pk.is_empty() || names::relation(c, "")?.1 != entry.def.pkey_name() =>
        {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!(
                    "constraint \"{c}\" for table \"{}\" does not exist",
                    entry.def.name
                ),
            ));
        }
        Some(ConflictTarget::OnConstraint(_)) => {}
        None if matches!(oc.action, OnConflictAction::DoUpdate(_)) => {
            return Err(Error::syntax(
                "ON CONFLICT DO UPDATE requires inference specification or constraint name",
            )
            .with_hint("For example, ON CONFLICT (column_name)."));
        }
        None => {}
    }
    Ok(match &oc.action {
        OnConflictAction::DoNothing => (OnConflict::Nothing, None),
        OnConflictAction::DoUpdate(u) => {
            if pk.is_empty() {
                return Err(no_match());
            }
            (OnConflict::Update, Some(u))
        }
    })
}

pub async fn insert(
    sess: &EddySession,
    read: &ReadContext,
    ins: &Insert,
    params: Vec<ScalarValue>,
    w: &mut StatementWrites,
) -> Result<Output> {
    let (entry, alias) = insert_table(sess, ins)?;
    refuse_values_for_generated_always(sess, ins, &entry)?;
    let default_values = default_values_row(ins, &entry)?;
    let ins = default_values.as_ref().unwrap_or(ins);
    let with_defaults = defaults_in_values(sess, ins, &entry)?;
    let ins = with_defaults.as_ref().unwrap_or(ins);
    let (mode, do_update) = on_conflict(ins, &entry)?;
    let batches = match placeholder_rows(sess, ins, &entry, &params).await? {
        Some(batch) => vec![batch],
        None => {
            let mut plain = numeric_values_as_text(ins, &entry).unwrap_or_else(|| ins.clone());
            plain.on = None;
            plain.returning = None;
            plain.table_alias = None;
            let plan = sess.plan(&Statement::Insert(plain), params).await?;
            let LogicalPlan::Dml(dml) = plan else {
                return Err(Error::internal("INSERT did not plan to a DML node"));
            };
            sess.run(dml.input.as_ref().clone()).await?
        }
    };
    let mut inserted = vec![];
    let mut count = 0usize;
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        let b = conform(&entry, b.columns().to_vec(), b.num_rows())?;
        let r = insert_batch(&entry, read, &b, mode, w)?;
        count += r.rows.len();
        if ins.returning.is_some() {
            inserted.push(take_rows(&b, &r.rows)?);
        }
        if let Some(u) = do_update
            && !r.conflicts.is_empty()
        {
            let updated = do_update_rows(&entry, &alias, u, &b, &r.conflicts, w).await?;
            count += updated.num_rows();
            if ins.returning.is_some() {
                inserted.push(updated);
            }
        }
    }
    match &ins.returning {
        Some(items) => returning(&entry, &alias, items, inserted, "INSERT 0").await,
        None => Ok(Output::Command(format!("INSERT 0 {count}"))),
    }
}

/// The rows of `INSERT ... VALUES ($1, $2), ($3, $4)` built straight from the bound
/// parameters, as drivers' batched inserts send them: no query planning at all. `None` when the
/// statement has any other shape (literals, expressions, a SELECT), which DataFusion plans.
async fn placeholder_rows(
    sess: &EddySession,
    ins: &Insert,
    entry: &TableEntry,
    params: &[ScalarValue],
) -> Result<Option<RecordBatch>> {
    use datafusion::sql::sqlparser::ast::{Expr as AstExpr, SetExpr, Value};
    let Some(source) = &ins.source else {
        return Ok(None);
    };
    if source.with.is_some() || source.order_by.is_some() || source.limit_clause.is_some() {
        return Ok(None);
    }
    let SetExpr::Values(values) = source.body.as_ref() else {
        return Ok(None);
    };
    let targets: Vec<usize> = if ins.columns.is_empty() {
        (0..entry.def.columns.len()).collect()
    } else {
        let mut t = vec![];
        for c in &ins.columns {
            let name =
                c.0.last()
                    .and_then(|p| p.as_ident())
                    .map(names::ident)
                    .unwrap_or_default();
            match entry.def.column_index(&name) {
                Some(i) if !t.contains(&i) => t.push(i),
                _ => return Ok(None),
            }
        }
        t
    };
    let mut per_column: Vec<Vec<ScalarValue>> =
        vec![Vec::with_capacity(values.rows.len()); targets.len()];
    for row in &values.rows {
        if row.content.len() != targets.len() {
            return Ok(None);
        }
        for (j, e) in row.content.iter().enumerate() {
            let AstExpr::Value(v) = e else {
                return Ok(None);
            };
            let Value::Placeholder(p) = &v.value else {
                return Ok(None);
            };
            let Some(i) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
                return Ok(None);
            };
            let Some(value) = i.checked_sub(1).and_then(|i| params.get(i)) else {
                return Ok(None);
            };
            per_column[j].push(value.clone());
        }
    }
    let n = values.rows.len();
    let mut columns: Vec<Option<datafusion::arrow::array::ArrayRef>> =
        vec![None; entry.def.columns.len()];
    for (j, vals) in per_column.into_iter().enumerate() {
        match ScalarValue::iter_to_array(vals) {
            Ok(a) => columns[targets[j]] = Some(a),
            Err(_) => return Ok(None),
        }
    }
    let mut out = Vec::with_capacity(columns.len());
    for (i, c) in columns.into_iter().enumerate() {
        let def = &entry.def.columns[i];
        out.push(match c {
            Some(c) => c,
            None => match entry.defaults.get(&def.name) {
                Some(expr) if !expr.is_volatile() => sess
                    .constant_default(&def.name, expr)
                    .await?
                    .to_array_of_size(n)?,
                Some(_) => return Ok(None),
                None => datafusion::arrow::array::new_null_array(&def.ty.to_arrow(), n),
            },
        });
    }
    let schema = Arc::new(Schema::new(
        out.iter()
            .zip(&entry.def.columns)
            .map(|(a, c)| Field::new(&c.name, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    Ok(Some(RecordBatch::try_new(schema, out)?))
}

fn take_rows(b: &RecordBatch, rows: &[usize]) -> Result<RecordBatch> {
    let idx = UInt32Array::from(rows.iter().map(|r| *r as u32).collect::<Vec<_>>());
    let cols = b
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &idx, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let opts = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows.len()));
    Ok(RecordBatch::try_new_with_options(b.schema(), cols, &opts)?)
}

fn with_ord(b: &RecordBatch) -> Result<RecordBatch> {
    let mut fields: Vec<_> = b.schema().fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(ORD_COLUMN, DataType::UInt32, false)));
    let mut cols = b.columns().to_vec();
    cols.push(Arc::new(UInt32Array::from_iter_values(
        0..b.num_rows() as u32,
    )));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// A small DataFusion context over in-memory batches, for RETURNING and ON CONFLICT.
fn scratch_context(tables: Vec<(&str, RecordBatch)>) -> Result<SessionContext> {
    let mut config = SessionConfig::new().with_target_partitions(1);
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    config.options_mut().sql_parser.map_string_types_to_utf8view = false;
    let mut ctx = SessionContext::new_with_config(config);
    eddy_sql::config::register_numeric(&mut ctx);
    eddy_sql::functions::register(&ctx);
    for (name, batch) in tables {
        let t = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(datafusion::common::TableReference::bare(name), Arc::new(t))?;
    }
    Ok(ctx)
}

async fn scratch_query(ctx: &SessionContext, sql: &str) -> Result<(Statement, LogicalPlan)> {
    let stmt = eddy_sql::parse::parse_statements(sql)?.remove(0);
    let plan = ctx
        .state()
        .statement_to_plan(DFStatement::Statement(Box::new(stmt.clone())))
        .await?;
    let plan = eddy_sql::int_types::pg_integer_types(plan)?;
    let plan = eddy_sql::numeric_plan::pg_numeric(plan)?;
    let state = ctx.state();
    let plan = state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})?;
    Ok((stmt, eddy_sql::checked_ints::rewrite(plan)?))
}

async fn do_update_rows(
    entry: &TableEntry,
    alias: &str,
    u: &datafusion::sql::sqlparser::ast::DoUpdate,
    proposed: &RecordBatch,
    conflicts: &[Conflict],
    w: &mut StatementWrites,
) -> Result<RecordBatch> {
    let existing = entry
        .codec
        .decode_values(conflicts.iter().map(|c| c.existing.as_slice()))?;
    let excluded = take_rows(
        proposed,
        &conflicts.iter().map(|c| c.row).collect::<Vec<_>>(),
    )?;
    let mut set: Vec<Option<String>> = vec![None; entry.def.columns.len()];
    for a in &u.assignments {
        let datafusion::sql::sqlparser::ast::AssignmentTarget::ColumnName(n) = &a.target else {
            return Err(Error::unsupported("assigning a tuple of columns"));
        };
        let col =
            n.0.last()
                .and_then(|p| p.as_ident())
                .map(names::ident)
                .unwrap_or_default();
        let i = entry.def.column_index(&col).ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{col}\" of relation \"{}\" does not exist",
                    entry.def.name
                ),
            )
        })?;
        set[i] = Some(a.value.to_string());
    }
    let items: Vec<String> = entry
        .def
        .columns
        .iter()
        .zip(set)
        .map(|(c, v)| match v {
            Some(v) => format!("({v}) AS {}", quote(&c.name)),
            None => format!("{}.{}", quote(alias), quote(&c.name)),
        })
        .collect();
    let mut sql = format!(
        "SELECT {a}.{o}, {items} FROM {a} JOIN excluded ON {a}.{o} = excluded.{o}",
        a = quote(alias),
        o = quote(ORD_COLUMN),
        items = items.join(", ")
    );
    if let Some(cond) = &u.selection {
        sql.push_str(&format!(" WHERE {cond}"));
    }
    let ctx = scratch_context(vec![
        (alias, with_ord(&existing)?),
        ("excluded", with_ord(&excluded)?),
    ])?;
    let (_, plan) = scratch_query(&ctx, &sql).await?;
    let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
    let mut out = vec![];
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        let ords = datafusion::arrow::compute::cast(b.column(0), &DataType::UInt32)?;
        let ords = ords.as_primitive::<datafusion::arrow::datatypes::UInt32Type>();
        let new = conform(entry, b.columns()[1..].to_vec(), b.num_rows())?;
        let keys = entry
            .codec
            .encode_keys(&new)?
            .expect("ON CONFLICT needs a key");
        let values = entry.codec.encode_values(&new)?;
        for r in 0..new.num_rows() {
            let c = &conflicts[ords.value(r) as usize];
            if eddy_storage::row_key(entry.id(), keys.row(r).data()) != c.key {
                return Err(Error::unsupported(
                    "ON CONFLICT DO UPDATE that changes the primary key",
                ));
            }
            w.set
                .put(Cf::Data, c.key.clone(), values.row(r).data().to_vec());
        }
        out.push(new);
    }
    if out.is_empty() {
        return Ok(RecordBatch::new_empty(entry.codec.schema().clone()));
    }
    Ok(concat_batches(entry.codec.schema(), &out)?)
}

/// Evaluates RETURNING over the affected rows (in the table's schema).
async fn returning(
    entry: &TableEntry,
    alias: &str,
    items: &[SelectItem],
    rows: Vec<RecordBatch>,
    tag: &str,
) -> Result<Output> {
    let batch = if rows.is_empty() {
        RecordBatch::new_empty(entry.codec.schema().clone())
    } else {
        concat_batches(entry.codec.schema(), &rows)?
    };
    let list = items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ctx = scratch_context(vec![(alias, batch)])?;
    let (stmt, plan) = scratch_query(&ctx, &format!("SELECT {list} FROM {}", quote(alias))).await?;
    let Statement::Query(q) = &stmt else {
        unreachable!("built a query")
    };
    let columns = columns_of(&plan, Some(q));
    let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
    Ok(Output::Rows {
        columns: Arc::new(columns),
        batches,
        tag: tag.into(),
    })
}

/// The target, table and rewritten query of an UPDATE or DELETE.
fn rewrite(
    sess: &EddySession,
    stmt: &Statement,
) -> Result<(
    eddy_sql::dml::DmlTarget,
    Arc<TableEntry>,
    eddy_sql::dml::DmlQuery,
)> {
    let t = match stmt {
        Statement::Update(u) => eddy_sql::dml::target(&u.table, DEFAULT_SCHEMA)?,
        Statement::Delete(d) => eddy_sql::dml::delete_target(d, DEFAULT_SCHEMA)?,
        _ => return Err(Error::internal("only UPDATE and DELETE are rewritten")),
    };
    let entry = sess
        .engine
        .catalog
        .table(&t.schema, &t.table)
        .ok_or_else(|| undefined_table(&sess.engine, &t.schema, &t.table))?;
    let q = match stmt {
        Statement::Update(u) => eddy_sql::dml::update_query(u, &t, &entry.def)?,
        Statement::Delete(d) => eddy_sql::dml::delete_query(d, &t, &entry.def)?,
        _ => unreachable!("checked above"),
    };
    Ok((t, entry, q))
}

/// Runs a rewritten UPDATE/DELETE query; returns (row key, row) pairs, each key once.
async fn affected(
    sess: &EddySession,
    query: &str,
    params: Vec<ScalarValue>,
) -> Result<(Vec<Vec<u8>>, Vec<RecordBatch>)> {
    let stmt = eddy_sql::parse::parse_statements(query)?.remove(0);
    sess.slot.set_expose_row_key(true);
    let plan = sess.plan(&stmt, params).await;
    sess.slot.set_expose_row_key(false);
    let batches = sess.run(plan?).await?;
    let mut seen = HashSet::new();
    let mut keys = vec![];
    let mut rows = vec![];
    for b in batches {
        let k = b.column(0).as_binary::<i32>();
        let mut keep = vec![];
        for r in 0..b.num_rows() {
            // UPDATE ... FROM may match a target row more than once; PostgreSQL updates it once.
            if seen.insert(k.value(r).to_vec()) {
                keys.push(k.value(r).to_vec());
                keep.push(r);
            }
        }
        let trimmed = RecordBatch::try_new(
            Arc::new(Schema::new(b.schema().fields()[1..].to_vec())),
            b.columns()[1..].to_vec(),
        )?;
        rows.push(take_rows(&trimmed, &keep)?);
    }
    Ok((keys, rows))
}

pub async fn update(
    sess: &EddySession,
    read: &ReadContext,
    stmt: &Statement,
    params: Vec<ScalarValue>,
    w: &mut StatementWrites,
) -> Result<Output> {
    let (t, entry, q) = rewrite(sess, stmt)?;
    let (keys, batches) = affected(sess, &q.query, params).await?;
    let mut new_rows = vec![];
    let mut at = 0;
    let mut deleted: HashSet<Vec<u8>> = HashSet::new();
    let mut puts: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    for b in batches {
        if b.num_rows() == 0 {
            continue;
        }
        let new = conform(&entry, b.columns().to_vec(), b.num_rows())?;
        let values = entry.codec.encode_values(&new)?;
        let new_keys = entry.codec.encode_keys(&new)?;
        for r in 0..new.num_rows() {
            let old = &keys[at + r];
            let key = match &new_keys {
                Some(k) => eddy_storage::row_key(entry.id(), k.row(r).data()),
                None => old.clone(),
            };
            if key != *old {
                deleted.insert(old.clone());
            }
            puts.push((key, values.row(r).data().to_vec()));
        }
        at += new.num_rows();
        new_rows.push(new);
    }
    // A changed primary key must not collide with a row that stays, nor with another new key.
    // A set, not `keys.contains`: that made a large UPDATE quadratic (40,000 rows took 7 s).
    let old_keys: HashSet<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    let moved: Vec<Vec<u8>> = puts
        .iter()
        .filter(|(k, _)| !old_keys.contains(k.as_slice()))
        .map(|(k, _)| k.clone())
        .collect();
    let existing = read.multi_get(&moved)?;
    let mut targets = HashSet::new();
    for (k, _) in &puts {
        if !targets.insert(k.clone()) {
            return Err(duplicate_key(&entry, &k[6..]));
        }
    }
    for (k, v) in moved.iter().zip(existing) {
        if v.is_some() && !deleted.contains(k) {
            return Err(duplicate_key(&entry, &k[6..]));
        }
        if read.overlay.is_some() {
            w.must_be_absent.push(k.clone());
        }
    }
    for k in deleted {
        w.set.delete(Cf::Data, k);
    }
    let count = puts.len();
    for (k, v) in puts {
        w.set.put(Cf::Data, k, v);
    }
    match &q.returning {
        Some(items) => returning(&entry, &t.alias, items, new_rows, "UPDATE").await,
        None => Ok(Output::Command(format!("UPDATE {count}"))),
    }
}

pub async fn delete(
    sess: &EddySession,
    stmt: &Statement,
    params: Vec<ScalarValue>,
    w: &mut StatementWrites,
) -> Result<Output> {
    let (t, entry, q) = rewrite(sess, stmt)?;
    let (keys, batches) = affected(sess, &q.query, params).await?;
    let count = keys.len();
    for k in keys {
        w.set.delete(Cf::Data, k);
    }
    match &q.returning {
        Some(items) => {
            let rows = batches
                .into_iter()
                .map(|b| conform(&entry, b.columns().to_vec(), b.num_rows()))
                .collect::<Result<Vec<_>>>()?;
            returning(&entry, &t.alias, items, rows, "DELETE").await
        }
        None => Ok(Output::Command(format!("DELETE {count}"))),
    }
}

/// Parameter types (inferred where the client gave none) and result columns of a statement.
pub async fn describe(
    sess: &EddySession,
    st: &State,
    stmt: &Statement,
    hints: &[Option<PgType>],
) -> Result<Described> {
    sess.read_context(st).await?;
    // Placeholders that stand for a whole value of a table column take that column's type,
    // as in PostgreSQL (DataFusion sees jsonb or varchar(n) only as text).
    let mut column_typed: Vec<(usize, PgType)> = vec![];
    // `x = ANY($n)`: `$n` is an array of `x`'s type, learnt by planning `x = $n`.
    let any_params = eddy_sql::pg_syntax::any_placeholders(stmt);
    let (plan, columns) = match stmt {
        Statement::Query(q) => {
            let plan = if any_params.is_empty() {
                sess.plan(stmt, vec![]).await?
            } else {
                let mut scalar = stmt.clone();
                eddy_sql::pg_syntax::any_placeholders_as_scalars(&mut scalar);
                sess.plan(&scalar, vec![]).await?
            };
            let mut cols = columns_of(&plan, Some(q));
            crate::session::attribute_sources(&mut cols, &plan, &sess.engine.catalog);
            (Some(plan), Some(cols))
        }
        Statement::Insert(ins) => {
            let (entry, alias) = insert_table(sess, ins)?;
            column_typed = insert_placeholder_types(ins, &entry);
            let mut plain = ins.clone();
            plain.on = None;
            plain.returning = None;
            plain.table_alias = None;
            let plan = sess.plan(&Statement::Insert(plain), vec![]).await?;
            let cols = match &ins.returning {
                Some(items) => Some(returning_columns(&entry, &alias, items).await?),
                None => None,
            };
            (Some(plan), cols)
        }
        Statement::Update(_) | Statement::Delete(_) => {
            let (t, entry, q) = rewrite(sess, stmt)?;
            let plan = plan_hidden(sess, &q.query).await?;
            let cols = match &q.returning {
                Some(items) => Some(returning_columns(&entry, &t.alias, items).await?),
                None => None,
            };
            (Some(plan), cols)
        }
        // A cursor's query takes the parameters; its rows come from FETCH, not from here.
        Statement::Declare { stmts } => match stmts.as_slice() {
            [d] if d.for_query.is_some() => {
                let q = Statement::Query(d.for_query.clone().expect("checked"));
                (Some(sess.plan(&q, vec![]).await?), None)
            }
            _ => (None, None),
        },
        Statement::Explain { .. } => (
            None,
            Some(vec![eddy_pgwire::Column::new("QUERY PLAN", PgType::Text)]),
        ),
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|i| i.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            let cols = if name == "all" {
                ["name", "setting", "description"]
                    .iter()
                    .map(|c| eddy_pgwire::Column::new(*c, PgType::Text))
                    .collect()
            } else {
                vec![eddy_pgwire::Column::new(
                    if name == "time zone" {
                        "timezone".into()
                    } else {
                        name
                    },
                    PgType::Text,
                )]
            };
            (None, Some(cols))
        }
        Statement::Copy { to: true, .. } => (None, None),
        _ => (None, None),
    };
    let mut params: Vec<PgType> = vec![];
    if let Some(plan) = plan {
        let mut types = plan.get_parameter_types()?;
        for (name, dt) in cast_placeholder_types(&plan)? {
            let slot = types.entry(name).or_insert(None);
            if slot.is_none() {
                *slot = Some(dt);
            }
        }
        let n = types
            .keys()
            .filter_map(|k| k.strip_prefix('$')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0);
        for i in 1..=n.max(hints.len()) {
            let inferred = types.get(&format!("${i}")).cloned().flatten();
            let column = column_typed
                .iter()
                .find(|(p, _)| *p == i)
                .map(|(_, t)| t.clone());
            let t = match (hints.get(i - 1).cloned().flatten(), inferred) {
                (Some(h), _) => h,
                (None, inferred) if any_params.contains(&i) => PgType::Array(Box::new(
                    inferred.map_or(PgType::Text, |dt| PgType::from_arrow(&dt)),
                )),
                (None, _) if column.is_some() => column.expect("checked"),
                (None, Some(dt)) => PgType::from_arrow(&dt),
                (None, None) => PgType::Text,
            };
            params.push(t);
        }
    } else {
        params = hints
            .iter()
            .map(|h| h.clone().unwrap_or(PgType::Text))
            .collect();
    }
    Ok(Described { params, columns })
}

/// The placeholders of `INSERT ... VALUES` that are a column's whole value, with the type of
/// that column.
fn insert_placeholder_types(ins: &Insert, entry: &TableEntry) -> Vec<(usize, PgType)> {
    use datafusion::sql::sqlparser::ast::{Expr, SetExpr};
    let Some(source) = &ins.source else {
        return vec![];
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return vec![];
    };
    let targets: Vec<Option<&eddy_catalog::ColumnDef>> = if ins.columns.is_empty() {
        entry.def.columns.iter().map(Some).collect()
    } else {
        ins.columns
            .iter()
            .map(|c| {
                let name = names::ident(c.0.last().and_then(|p| p.as_ident())?);
                entry.def.columns.iter().find(|d| d.name == name)
            })
            .collect()
    };
    let mut out = vec![];
    for row in &values.rows {
        for (e, target) in row.iter().zip(&targets) {
            if let (Expr::Value(v), Some(col)) = (e, target)
                && let datafusion::sql::sqlparser::ast::Value::Placeholder(p) = &v.value
                && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse().ok())
            {
                out.push((n, col.ty.clone()));
            }
        }
    }
    out
}

/// PostgreSQL types `$1::timestamp` as timestamp; DataFusion leaves a placeholder under a cast
/// untyped. Collect the cast targets of bare placeholders.
fn cast_placeholder_types(plan: &LogicalPlan) -> Result<Vec<(String, DataType)>> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::Expr;
    let mut out = vec![];
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                let (inner, dt) = match e {
                    Expr::Cast(c) => (&c.expr, c.field.data_type()),
                    Expr::TryCast(c) => (&c.expr, c.field.data_type()),
                    _ => return Ok(TreeNodeRecursion::Continue),
                };
                if let Expr::Placeholder(p) = inner.as_ref()
                    && p.field.is_none()
                {
                    out.push((p.id.clone(), dt.clone()));
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(out)
}

async fn plan_hidden(sess: &EddySession, query: &str) -> Result<LogicalPlan> {
    let stmt = eddy_sql::parse::parse_statements(query)?.remove(0);
    sess.slot.set_expose_row_key(true);
    let plan = sess.plan(&stmt, vec![]).await;
    sess.slot.set_expose_row_key(false);
    plan
}

async fn returning_columns(
    entry: &TableEntry,
    alias: &str,
    items: &[SelectItem],
) -> Result<Vec<eddy_pgwire::Column>> {
    let list = items
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let ctx = scratch_context(vec![(
        alias,
        RecordBatch::new_empty(entry.codec.schema().clone()),
    )])?;
    let (stmt, plan) = scratch_query(&ctx, &format!("SELECT {list} FROM {}", quote(alias))).await?;
    let Statement::Query(q) = &stmt else {
        unreachable!("built a query")
    };
    Ok(columns_of(&plan, Some(q)))
}
