//! Materialized views: compiling a view's SQL into its dataflow, creating (with backfill),
//! dropping, and bringing every view's dataflow back at start.

use std::sync::Arc;

use datafusion::common::tree_node::TreeNode;
use datafusion::sql::sqlparser::ast::{CreateView, ObjectType, Statement};
use eddy_catalog::{ColumnDef, DEFAULT_SCHEMA, ReadContext, ViewCodec, ViewDef};
use eddy_common::datetime::DateStyle;
use eddy_common::{Error, Result, SqlState, TableId};
use eddy_dataflow::sink::ViewSink;
use eddy_pgwire::{Output, Session};
use eddy_sql::names;
use eddy_sql::stream_plan::Compiler;
use eddy_storage::WriteSet;

use crate::dataflow::{ViewRuntime, backfill, backfill_as_of, dependents_closure};
use crate::engine::Engine;
use crate::session::EddySession;

pub(crate) struct Compiled {
    pub runtime: ViewRuntime,
    /// Every relation the view depends on: its dataflow's inputs and the plain views expanded.
    pub depends_on: Vec<TableId>,
    pub columns: Vec<ColumnDef>,
    /// State tables used, counting the error collection (ids `id + 1 ..= id + state_count`).
    pub state_count: u32,
    pub fingerprint: String,
}

/// A view's columns: the query's, named as PostgreSQL names them, renamed by `names`.
fn view_columns(
    plan: &datafusion::logical_expr::LogicalPlan,
    q: &datafusion::sql::sqlparser::ast::Query,
    names: &[String],
) -> Result<Vec<ColumnDef>> {
    let mut columns: Vec<ColumnDef> = crate::session::columns_of(plan, Some(q))
        .into_iter()
        .map(|c| ColumnDef {
            name: c.name,
            ty: c.ty,
            not_null: false,
            default: None,
        })
        .collect();
    if names.len() > columns.len() {
        return Err(Error::syntax("CREATE VIEW specifies too many column names"));
    }
    for (c, n) in columns.iter_mut().zip(names) {
        c.name = n.clone();
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|o| o.name == c.name) {
            return Err(Error::new(
                SqlState::DUPLICATE_COLUMN,
                format!("column \"{}\" specified more than once", c.name),
            ));
        }
    }
    Ok(columns)
}

/// Plans `sql` and compiles it into view `id`'s dataflow; `names` renames the columns.
/// A view is maintained, and compiled again at every start, without a session, that is in UTC
/// with DateStyle `ISO, MDY`. One created from a session in another TimeZone or DateStyle must
/// mean the same there, or PostgreSQL's answer (evaluated in the creator's settings) and
/// Eddy's would part: such a view is refused.
async fn refuse_zone_dependent(
    session: &EddySession,
    stmt: &Statement,
    plan: &datafusion::logical_expr::LogicalPlan,
) -> Result<()> {
    let time = session.time_settings();
    if time.zone.is_utc() && time.style == DateStyle::default() {
        return Ok(());
    }
    let utc = EddySession::new(session.engine.clone(), "eddy", &[])?;
    utc.slot.set(ReadContext {
        snapshot: session.engine.store.snapshot(),
        overlay: None,
        expose_row_key: false,
    });
    let in_utc = utc.plan(stmt, vec![]).await?;
    if in_utc.display_indent().to_string() != plan.display_indent().to_string() {
        if time.zone.is_utc() {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "a materialized view whose result depends on the session's DateStyle cannot be \
                 created in a DateStyle other than ISO, MDY",
            )
            .with_hint("SET DateStyle = 'ISO, MDY' before creating the view."));
        }
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "a materialized view whose result depends on the session's TimeZone cannot be \
             created outside UTC",
        )
        .with_hint(
            "SET TimeZone = 'UTC' before creating the view; its rows are then kept in UTC.",
        ));
    }
    Ok(())
}

pub(crate) async fn compile(
    session: &EddySession,
    sql: &str,
    id: TableId,
    names: &[String],
) -> Result<Compiled> {
    let mut stmts = eddy_sql::parse::parse_statements(sql)?;
    let plain_views_used = match stmts.as_mut_slice() {
        [stmt] => crate::plain_views::expand(&session.engine.catalog, stmt)?,
        _ => vec![],
    };
    let [stmt @ Statement::Query(q)] = stmts.as_slice() else {
        return Err(Error::internal("a view's definition is one query"));
    };
    session.slot.set(ReadContext {
        snapshot: session.engine.store.snapshot(),
        overlay: None,
        expose_row_key: false,
    });
    let plan = session.plan(stmt, vec![]).await?;
    refuse_zone_dependent(session, stmt, &plan).await?;
    eddy_sql::stream_plan::refuse_time_dependent(&plan)?;
    let plan = session.ctx.state().optimize(&plan)?;
    let plan = eddy_sql::stream_plan::prepare(plan)?;
    let columns = view_columns(&plan, q, names)?;
    let catalog = session.engine.catalog.clone();
    let resolve = move |t: &datafusion::common::TableReference| {
        catalog
            .relation(t.schema().unwrap_or(DEFAULT_SCHEMA), t.table())
            .map(|r| r.id())
    };
    let mut compiler = Compiler::new(&resolve, id + 2);
    let root = compiler.compile(&plan)?;
    let state_count = compiler.next_state() - id - 1;
    let probe = ViewDef {
        id,
        schema: String::new(),
        name: String::new(),
        sql: String::new(),
        columns: columns.clone(),
        materialized: true,
        state_count,
        inputs: vec![],
        fingerprint: String::new(),
        created_epoch: 0,
    };
    let runtime = ViewRuntime {
        id,
        inputs: compiler.inputs.clone(),
        sink: ViewSink {
            input: root,
            id,
            errors_id: id + 1,
            codec: ViewCodec::new(&probe)?,
        },
    };
    let fingerprint = runtime.explain().join("\n");
    let mut depends_on: Vec<TableId> = runtime.inputs.iter().copied().collect();
    depends_on.extend(plain_views_used);
    depends_on.sort();
    depends_on.dedup();
    Ok(Compiled {
        depends_on,
        runtime,
        columns,
        state_count,
        fingerprint,
    })
}

pub(crate) async fn create(session: &EddySession, cv: &CreateView) -> Result<Output> {
    if !cv.materialized {
        return create_plain(session, cv).await;
    }
    let engine = &session.engine;
    if cv.or_replace || cv.or_alter || cv.temporary {
        return Err(Error::unsupported(
            "CREATE OR REPLACE / TEMPORARY MATERIALIZED VIEW",
        ));
    }
    let (schema, name) = names::relation(&cv.name, DEFAULT_SCHEMA)?;
    let col_names: Vec<String> = cv.columns.iter().map(|c| names::ident(&c.name)).collect();
    let sql = cv.query.to_string();
    let _g = engine.write_lock.lock().await;
    if engine.catalog.relation(&schema, &name).is_some() && cv.if_not_exists {
        return Ok(Output::Command("CREATE MATERIALIZED VIEW".into()));
    }
    create_materialized(session, schema, name, sql, &col_names, None).await?;
    Ok(Output::Command("CREATE MATERIALIZED VIEW".into()))
}

/// The schema of the materialized views that `SUBSCRIBE (query)` makes for itself. Its name
/// starts with `pg_`, which PostgreSQL reserves, so no user schema can clash with it, and
/// psql's `\dn` and the relation lists leave it out as they do PostgreSQL's temporary schemas.
pub(crate) const TEMP_SCHEMA: &str = "pg_temp_subscribe";

/// A materialized view over `sql` for one `SUBSCRIBE (query)`, in [`TEMP_SCHEMA`]; it is
/// dropped when the subscription ends, or at the next start after a crash. Returns its name.
/// With `as_of`, the view starts as of that epoch (see [`crate::dataflow::backfill_as_of`]).
pub(crate) async fn create_temp(
    session: &EddySession,
    sql: &str,
    as_of: Option<u64>,
) -> Result<String> {
    let engine = &session.engine;
    let _g = engine.write_lock.lock().await;
    engine.catalog.create_schema(TEMP_SCHEMA, true)?;
    let name = loop {
        let n = format!(
            "subscribe_{}",
            engine
                .temp_views
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        if engine.catalog.relation(TEMP_SCHEMA, &n).is_none() {
            break n;
        }
    };
    create_materialized(
        session,
        TEMP_SCHEMA.into(),
        name.clone(),
        sql.into(),
        &[],
        as_of,
    )
    .await?;
    Ok(name)
}

/// Drops a view `create_temp` made.
pub(crate) async fn drop_temp(engine: &Engine, name: &str) {
    let _g = engine.write_lock.lock().await;
    let r = drop_relation(
        engine,
        TEMP_SCHEMA,
        name,
        ObjectType::MaterializedView,
        true,
        false,
    )
    .await;
    if let Err(e) = r {
        tracing::warn!("could not drop the subscription's view {TEMP_SCHEMA}.{name}: {e}");
    }
}

/// Creates and backfills a materialized view, as of an earlier epoch if `as_of` says so. The
/// caller holds the write lock.
async fn create_materialized(
    session: &EddySession,
    schema: String,
    name: String,
    sql: String,
    col_names: &[String],
    as_of: Option<u64>,
) -> Result<()> {
    let engine = &session.engine;
    engine.catalog.check_new_relation(&schema, &name)?;
    let probe = compile(session, &sql, 0, col_names).await?;
    if probe.depends_on.iter().any(|id| {
        matches!(engine.catalog.relation_by_id(*id),
            Some(eddy_catalog::Relation::View(v)) if v.def.schema == TEMP_SCHEMA)
    }) {
        return Err(Error::unsupported(
            "a view over the materialized view of a SUBSCRIBE (it lives as long as the \
             subscription)",
        ));
    }
    let mut writes = WriteSet::default();
    let id = engine
        .catalog
        .reserve_ids(1 + probe.state_count, &mut writes);
    let c = compile(session, &sql, id, col_names).await?;
    if c.state_count != probe.state_count {
        return Err(Error::internal("view compilation is not deterministic"));
    }
    let snap = engine.store.snapshot();
    // As of the last epoch is as of now: no history is needed for that.
    let as_of = as_of.filter(|e| *e != snap.epoch());
    if let Some(e) = as_of {
        check_history(engine, &c.runtime, &snap, e)?;
    }
    let def = ViewDef {
        id,
        schema,
        name,
        sql,
        columns: c.columns,
        materialized: true,
        state_count: c.state_count,
        inputs: c.depends_on,
        fingerprint: c.fingerprint,
        created_epoch: as_of.unwrap_or(0),
    };
    let catalog = engine.catalog.clone();
    let runtime = c.runtime;
    let (runtime, writes, r) = engine
        .dataflow
        .run(move |views| {
            let r = match as_of {
                Some(e) => backfill_as_of(&runtime, &catalog, snap, e, &mut writes, views.parallel),
                None => backfill(&runtime, &catalog, snap, &mut writes, views.parallel),
            };
            (runtime, writes, r)
        })
        .await?;
    r?;
    engine.catalog.create_view(def, writes)?;
    engine.dataflow.run(move |v| v.install(runtime)).await?;
    tracing::info!(view = id, "materialized view created");
    Ok(())
}

/// Fails unless every input of `runtime` has its changes after epoch `as_of` in the
/// changelog at `snap`: a table must keep its history since then, a materialized view must
/// have existed then, and none of those changes may be pruned. Checked after `snap` is taken:
/// pruning raises the horizon before it deletes.
fn check_history(
    engine: &Engine,
    runtime: &crate::dataflow::ViewRuntime,
    snap: &eddy_storage::Snapshot,
    as_of: u64,
) -> Result<()> {
    let now = snap.epoch();
    if as_of > now {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("AS OF {as_of} is in the future: the last committed epoch is {now}"),
        ));
    }
    let not_kept = |msg: String| Error::new(SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE, msg);
    for id in &runtime.inputs {
        match engine.catalog.relation_by_id(*id) {
            Some(eddy_catalog::Relation::Table(t)) => match &t.def.history {
                None => {
                    return Err(not_kept(format!(
                        "AS OF {as_of} needs the past of table \"{}\", which keeps no history",
                        t.def.name
                    ))
                    .with_hint(format!(
                        "ALTER TABLE {} SET (retain_history = '1 hour') keeps its changes from \
                         then on.",
                        t.def.name
                    )));
                }
                Some(h) if h.since_epoch > as_of => {
                    return Err(not_kept(format!(
                        "AS OF {as_of} is before table \"{}\" kept its history (it has since \
                         epoch {})",
                        t.def.name, h.since_epoch
                    )));
                }
                Some(_) => {}
            },
            Some(eddy_catalog::Relation::View(v)) if v.def.created_epoch > as_of => {
                return Err(not_kept(format!(
                    "AS OF {as_of} is before materialized view \"{}\" existed (it was created \
                     in epoch {})",
                    v.def.name, v.def.created_epoch
                )));
            }
            Some(_) => {}
            None => return Err(Error::internal(format!("view input {id} is gone"))),
        }
    }
    let horizon = engine
        .changelog_horizon
        .load(std::sync::atomic::Ordering::Acquire);
    if as_of + 1 < horizon {
        return Err(not_kept(format!(
            "the changes after epoch {as_of} are no longer retained (the oldest kept is epoch \
             {horizon})"
        )));
    }
    Ok(())
}

/// A plain view: its query is checked by planning it now, stored, and expanded at each use.
async fn create_plain(session: &EddySession, cv: &CreateView) -> Result<Output> {
    let engine = &session.engine;
    if cv.or_alter || cv.temporary {
        return Err(Error::unsupported("CREATE OR ALTER / TEMPORARY VIEW"));
    }
    let (schema, name) = names::relation(&cv.name, DEFAULT_SCHEMA)?;
    let col_names: Vec<String> = cv.columns.iter().map(|c| names::ident(&c.name)).collect();
    let sql = cv.query.to_string();
    let _g = engine.write_lock.lock().await;
    if cv.or_replace
        && let Some(eddy_catalog::Relation::View(v)) = engine.catalog.relation(&schema, &name)
        && !v.def.materialized
    {
        if !engine.catalog.dependents(v.id()).is_empty() {
            return Err(Error::unsupported(
                "CREATE OR REPLACE VIEW of a view other views depend on",
            ));
        }
        engine.catalog.drop_views(&[v])?;
    }
    if engine.catalog.relation(&schema, &name).is_some() && cv.if_not_exists {
        return Ok(Output::Command("CREATE VIEW".into()));
    }
    engine.catalog.check_new_relation(&schema, &name)?;
    let mut stmts = eddy_sql::parse::parse_statements(&sql)?;
    let mut depends_on = crate::plain_views::expand(&engine.catalog, &mut stmts[0])?;
    let Statement::Query(q) = &stmts[0] else {
        return Err(Error::internal("a view's definition is one query"));
    };
    session.slot.set(ReadContext {
        snapshot: engine.store.snapshot(),
        overlay: None,
        expose_row_key: false,
    });
    let plan = session.plan(&stmts[0], vec![]).await?;
    plan.apply(|p| {
        if let datafusion::logical_expr::LogicalPlan::TableScan(s) = p
            && let Some(r) = engine.catalog.relation(
                s.table_name.schema().unwrap_or(DEFAULT_SCHEMA),
                s.table_name.table(),
            )
        {
            depends_on.push(r.id());
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    })?;
    depends_on.sort();
    depends_on.dedup();
    let columns = view_columns(&plan, q, &col_names)?;
    let mut writes = WriteSet::default();
    let id = engine.catalog.reserve_ids(1, &mut writes);
    let def = ViewDef {
        id,
        schema,
        name,
        sql,
        columns,
        materialized: false,
        state_count: 0,
        inputs: depends_on,
        fingerprint: String::new(),
        created_epoch: 0,
    };
    engine.catalog.create_view(def, writes)?;
    Ok(Output::Command("CREATE VIEW".into()))
}

fn kind_name(k: ObjectType) -> &'static str {
    match k {
        ObjectType::MaterializedView => "materialized view",
        ObjectType::View => "view",
        _ => "table",
    }
}

/// Drops a table or view; its dependents go too with CASCADE.
pub(crate) async fn drop_relation(
    engine: &Engine,
    schema: &str,
    name: &str,
    kind: ObjectType,
    if_exists: bool,
    cascade: bool,
) -> Result<()> {
    let rel = engine.catalog.relation(schema, name);
    let actual = match &rel {
        Some(eddy_catalog::Relation::View(v)) if v.def.materialized => ObjectType::MaterializedView,
        Some(eddy_catalog::Relation::View(_)) => ObjectType::View,
        _ => ObjectType::Table,
    };
    let view = kind != ObjectType::Table;
    let kind = kind_name(kind);
    let id = match &rel {
        Some(r) if kind_name(actual) == kind => r.id(),
        None if if_exists => return Ok(()),
        Some(_) => {
            return Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a {kind}"),
            )
            .with_hint(format!(
                "Use DROP {} to remove it.",
                kind_name(actual).to_uppercase()
            )));
        }
        None => {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("{kind} \"{name}\" does not exist"),
            ));
        }
    };
    let deps = dependents_closure(&engine.catalog, id);
    if let Some(d) = deps.last()
        && !cascade
    {
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop {kind} {name} because other objects depend on it"),
        )
        .with_detail(format!(
            "{} {} depends on {kind} {name}",
            if d.def.materialized {
                "materialized view"
            } else {
                "view"
            },
            d.def.name
        ))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    let mut drop_views = deps;
    if let Some(eddy_catalog::Relation::View(v)) = &rel {
        drop_views.push(v.clone());
    }
    if !drop_views.is_empty() {
        let ids: Vec<TableId> = drop_views.iter().map(|v| v.id()).collect();
        engine.catalog.drop_views(&drop_views)?;
        engine.dataflow.run(move |v| v.remove(&ids)).await?;
    }
    if !view {
        engine.catalog.drop_table(schema, name, false)?;
    }
    Ok(())
}

/// Compiles every view again at start, checking that the dataflow matches the state on disk.
pub async fn recover(engine: &Arc<Engine>) -> Result<()> {
    crate::session::undo_open_transactions(engine).await?;
    // The views of subscriptions that were running when the server stopped.
    let temp = engine.catalog.views_in(TEMP_SCHEMA);
    if !temp.is_empty() {
        engine.catalog.drop_views(&temp)?;
    }
    let views = engine.catalog.all_views();
    if views.is_empty() {
        return Ok(());
    }
    let session = EddySession::new(engine.clone(), "eddy", &[])?;
    for v in views.into_iter().filter(|v| v.def.materialized) {
        let names: Vec<String> = v.def.columns.iter().map(|c| c.name.clone()).collect();
        let c = compile(&session, &v.def.sql, v.id(), &names).await?;
        if c.fingerprint != v.def.fingerprint || c.state_count != v.def.state_count {
            return Err(Error::internal(format!(
                "materialized view \"{}\" compiles to a different dataflow than the one its \
                 stored state belongs to (created by another Eddy version?)",
                v.def.name
            ))
            .with_detail(format!(
                "stored:\n{}\nnow:\n{}",
                v.def.fingerprint, c.fingerprint
            )));
        }
        engine.dataflow.run(move |vs| vs.install(c.runtime)).await?;
    }
    tracing::info!(views = engine.catalog.all_views().len(), "views recovered");
    Ok(())
}

/// `EXPLAIN CREATE MATERIALIZED VIEW`: the dataflow, its operators, keys and state.
pub(crate) async fn explain(session: &EddySession, cv: &CreateView) -> Result<Vec<String>> {
    let names: Vec<String> = cv.columns.iter().map(|c| names::ident(&c.name)).collect();
    let c = compile(session, &cv.query.to_string(), 0, &names).await?;
    Ok(c.runtime.explain())
}
