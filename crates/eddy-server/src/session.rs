//! One client session: statement dispatch, transactions and COPY state.
//!
//! Reads run on DataFusion over a fresh storage snapshot per statement (READ COMMITTED, as
//! PostgreSQL's default), overlaid inside a transaction with the transaction's own writes.
//! Writes collect in a write set; outside a transaction each statement commits its write set as
//! one epoch under the engine's write lock, inside one they join the transaction's overlay and
//! commit together at COMMIT.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    CopySource, CopyTarget, Declare, Expr, ObjectType, Query, SchemaName, Set, Statement,
};
use eddy_catalog::{DEFAULT_SCHEMA, EddyCatalogProvider, ReadContext, ReadSlot};
use eddy_common::{Error, PgType, Result, SqlState};
use eddy_pgwire::{Column, Described, Output, Session};
use eddy_sql::copy_options::CopyOptions;
use eddy_sql::names;
use eddy_storage::{Cf, WriteSet};

use crate::copy_in::CopyIn;
use crate::engine::Engine;
use crate::settings::Settings;
use crate::writes::StatementWrites;
use eddy_common::datetime::{SessionZone, TimeSettings};
use eddy_sql::subscribe::{Piece, SubscribeStmt};

struct Txn {
    writes: Arc<WriteSet>,
    must_be_absent: Vec<Vec<u8>>,
    /// Keys each statement updated or deleted, with the snapshot it read them at: at COMMIT
    /// they must still hold what that snapshot saw, or a concurrent commit changed them and
    /// this transaction's writes, computed from the old values, would silently undo it.
    read_keys: Vec<(eddy_storage::Snapshot, Vec<Vec<u8>>)>,
    failed: bool,
    /// Epoch of the snapshot the transaction started reading at.
    epoch_started: u64,
    /// DDL the transaction ran, oldest first, as what undoes each: DDL applies to the catalog
    /// when it runs, and is undone if the transaction does not commit.
    undo: Vec<Undo>,
    /// NOTIFYs (channel, payload), sent when the transaction commits; repeats are folded, as
    /// PostgreSQL does.
    notifies: Vec<(String, String)>,
    /// LISTEN / UNLISTEN, which take effect when the transaction commits.
    listens: Vec<ListenOp>,
    /// The settings when the transaction began (ROLLBACK goes back to them) and as they will
    /// be after COMMIT (every SET but SET LOCAL).
    settings_at_begin: Settings,
    settings_at_commit: Settings,
}

/// `LISTEN c`, `UNLISTEN c`, or `UNLISTEN *` (None).
#[derive(Debug)]
enum ListenOp {
    Listen(String),
    Unlisten(Option<String>),
}

/// Undoes one DDL statement of a transaction that did not commit.
#[derive(Debug)]
enum Undo {
    /// Drop what the transaction created.
    Drop {
        kind: ObjectType,
        schema: String,
        name: String,
    },
    /// Give a renamed relation its old name back.
    Rename {
        schema: String,
        current: String,
        original: String,
    },
    DropSchema(String),
    /// Put back the comment a COMMENT ON replaced.
    Comment {
        obj: u32,
        sub: i32,
        old: Option<String>,
    },
}

impl Undo {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Undo::Drop { kind, schema, name } => json!({"drop": {
                "kind": match kind {
                    ObjectType::MaterializedView => "materialized view",
                    ObjectType::View => "view",
                    ObjectType::Sequence => "sequence",
                    _ => "table",
                },
                "schema": schema, "name": name}}),
            Undo::Rename {
                schema,
                current,
                original,
            } => json!({"rename": {"schema": schema, "current": current, "original": original}}),
            Undo::DropSchema(name) => json!({"drop_schema": name}),
            Undo::Comment { obj, sub, old } => {
                json!({"comment": {"obj": obj, "sub": sub, "old": old}})
            }
        }
    }

    fn from_json(v: &serde_json::Value) -> Option<Undo> {
        let text = |v: &serde_json::Value, k: &str| v.get(k)?.as_str().map(str::to_string);
        if let Some(d) = v.get("drop") {
            return Some(Undo::Drop {
                kind: match d.get("kind")?.as_str()? {
                    "materialized view" => ObjectType::MaterializedView,
                    "view" => ObjectType::View,
                    "sequence" => ObjectType::Sequence,
                    _ => ObjectType::Table,
                },
                schema: text(d, "schema")?,
                name: text(d, "name")?,
            });
        }
        if let Some(r) = v.get("rename") {
            return Some(Undo::Rename {
                schema: text(r, "schema")?,
                current: text(r, "current")?,
                original: text(r, "original")?,
            });
        }
        if let Some(n) = v.get("drop_schema") {
            return Some(Undo::DropSchema(n.as_str()?.to_string()));
        }
        let c = v.get("comment")?;
        Some(Undo::Comment {
            obj: c.get("obj")?.as_u64()? as u32,
            sub: c.get("sub")?.as_i64()? as i32,
            old: text(c, "old"),
        })
    }
}

/// Meta keys of the undo logs of open transactions: DDL applies when it runs, so a server
/// killed before such a transaction ends must undo it when it starts again.
const UNDO_LOG_PREFIX: &[u8] = b"txn/undo/";

fn undo_log_key(session: u64) -> Vec<u8> {
    let mut k = UNDO_LOG_PREFIX.to_vec();
    k.extend_from_slice(&session.to_be_bytes());
    k
}

fn delete_undo_log(engine: &Engine, key: &[u8]) -> Result<()> {
    let mut end = key.to_vec();
    end.push(0);
    engine.store.delete_range_now(Cf::Meta, key, &end)
}

/// At start: undoes the DDL of every transaction a crash left open.
pub(crate) async fn undo_open_transactions(engine: &Arc<Engine>) -> Result<()> {
    let mut logs: Vec<(Vec<u8>, Vec<Undo>)> = vec![];
    engine
        .store
        .snapshot()
        .scan_prefix(Cf::Meta, UNDO_LOG_PREFIX, |k, v| {
            let list: Vec<serde_json::Value> = serde_json::from_slice(v).unwrap_or_default();
            logs.push((
                k.to_vec(),
                list.iter().filter_map(Undo::from_json).collect(),
            ));
            Ok(())
        })?;
    for (key, undo) in logs {
        tracing::info!(
            steps = undo.len(),
            "undoing the DDL of a transaction left open"
        );
        undo_ddl(engine.clone(), undo).await;
        delete_undo_log(engine, &key)?;
    }
    Ok(())
}

/// Undoes a transaction's DDL, newest first. It runs after the transaction has ended, so a
/// failure can only be logged.
async fn undo_ddl(engine: Arc<Engine>, undo: Vec<Undo>) {
    let _g = engine.write_lock.lock().await;
    for u in undo.into_iter().rev() {
        let r = match &u {
            Undo::Drop {
                kind: ObjectType::Sequence,
                schema,
                name,
            } => engine.catalog.drop_sequence(schema, name, true),
            Undo::Drop { kind, schema, name } => {
                crate::views::drop_relation(&engine, schema, name, *kind, true, true).await
            }
            Undo::Rename {
                schema,
                current,
                original,
            } => engine.catalog.rename_relation(schema, current, original),
            Undo::DropSchema(name) => engine.catalog.drop_schema(name, true, true),
            Undo::Comment { obj, sub, old } => engine
                .catalog
                .set_comment(*obj, *sub, old.as_deref())
                .map(|_| ()),
        };
        if let Err(e) = r {
            tracing::error!("undoing {u:?} of a rolled-back transaction failed: {e}");
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    txn: Option<Txn>,
    copy: Option<CopyIn>,
    /// Open cursors by name.
    cursors: HashMap<String, crate::cursors::Cursor>,
    /// Channels the session LISTENs on.
    listening: std::collections::BTreeSet<String>,
    /// `PREPARE`d statements (SQL ones; the protocol's are the driver's).
    prepared: crate::prepared::PreparedStatements,
    /// The open transaction's undo log as last written to storage.
    undo_on_disk: Option<String>,
    /// What RESET goes back to: the defaults with the startup packet's options applied.
    reset_to: Settings,
    pub(crate) settings: Settings,
}

/// A statement as the wire layer holds it: SQL in PostgreSQL's grammar, or one of Eddy's own.
/// Each lives behind an `Arc`, one per prepared statement, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum Stmt {
    Sql(Statement),
    Subscribe(eddy_sql::subscribe::SubscribeStmt),
}

pub struct EddySession {
    pub(crate) engine: Arc<Engine>,
    pub(crate) ctx: SessionContext,
    pub(crate) slot: ReadSlot,
    state: tokio::sync::Mutex<State>,
    /// The session's TimeZone, mirrored out of `State` because the wire layer reads it for
    /// every result without taking the session's lock.
    time: std::sync::RwLock<TimeSettings>,
    /// Reported parameters changed by `SET`, waiting for their ParameterStatus message.
    changed: std::sync::Mutex<Vec<(String, String)>>,
    /// The session's settings as `current_setting()` reads them while a statement runs (the
    /// session's own lock is held then).
    settings: Arc<std::sync::RwLock<crate::settings::Settings>>,
    /// Settings `set_config()` changed while a statement ran, applied to the session's own
    /// settings when the statement ends.
    set_by_function: SetByFunction,
    /// Notifications for the session, and its backend process id.
    inbox: Arc<crate::notify::Inbox>,
    /// Inside a transaction block, where notifications wait (mirrored out of `State` for the
    /// wire layer, which asks between statements).
    in_block: std::sync::atomic::AtomicBool,
    /// Names the session's undo log in storage.
    id: u64,
    /// The session's `nextval`, which remembers values for `currval` and `lastval`.
    nextval: Arc<datafusion::logical_expr::ScalarUDF>,
}

/// Numbers sessions for their undo logs: unique within a run, and across runs because the
/// logs of the previous run are gone by the time a session starts.
static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// (name, value, is_local)
type SetByFunction = Arc<std::sync::Mutex<Vec<(String, String, bool)>>>;

/// A connection that ends inside a transaction block rolls it back, DDL included.
impl Drop for EddySession {
    fn drop(&mut self) {
        for c in std::mem::take(&mut self.state.get_mut().listening) {
            self.engine.channels.unlisten(&c, &self.inbox);
        }
        let undo = match self.state.get_mut().txn.take() {
            Some(t) if !t.undo.is_empty() => t.undo,
            _ => return,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                let engine = self.engine.clone();
                let key = undo_log_key(self.id);
                h.spawn(async move {
                    undo_ddl(engine.clone(), undo).await;
                    if let Err(e) = delete_undo_log(&engine, &key) {
                        tracing::warn!("could not remove an undo log: {e}");
                    }
                });
            }
            Err(_) => tracing::error!("a session ended without a runtime to undo its DDL"),
        }
    }
}

impl EddySession {
    /// A session; `options` are the startup packet's parameters, applied like `SET` (an
    /// unknown one is ignored, an invalid value fails the connection as in PostgreSQL).
    pub fn new(engine: Arc<Engine>, user: &str, options: &[(String, String)]) -> Result<Self> {
        let slot = ReadSlot::default();
        let settings: Arc<std::sync::RwLock<Settings>> = Default::default();
        let functions: Arc<std::sync::OnceLock<BTreeSet<String>>> = Default::default();
        let provider = Arc::new(
            EddyCatalogProvider::new(engine.catalog.clone(), slot.clone()).with_session(
                eddy_catalog::system::SessionSource {
                    settings: crate::settings::pg_settings_source(settings.clone()),
                    functions: functions.clone(),
                },
            ),
        );
        let ctx = eddy_sql::config::new_context(provider);
        eddy_catalog::system::functions::register(&ctx, engine.catalog.clone());
        let mut state = State::default();
        let mut all: Vec<(String, String)> = vec![];
        for (k, v) in options {
            if k == "options" {
                all.extend(command_line_settings(v));
            } else {
                all.push((k.clone(), v.clone()));
            }
        }
        for (k, v) in &all {
            match state.settings.set(k, v) {
                Ok(()) => {}
                Err(e) if e.state() == SqlState::UNDEFINED_OBJECT => {
                    tracing::debug!("ignoring startup parameter {k}={v}")
                }
                Err(e) => return Err(e),
            }
        }
        let time = state.settings.time().clone();
        *settings.write().expect("settings lock") = state.settings.clone();
        state.reset_to = state.settings.clone();
        let set_by_function = SetByFunction::default();
        let inbox = Arc::new(crate::notify::Inbox::default());
        register_session_functions(
            &ctx,
            user,
            settings.clone(),
            set_by_function.clone(),
            inbox.clone(),
        );
        let nextval = crate::sequence_calls::register(
            &ctx,
            engine.catalog.sequences.clone(),
            Default::default(),
        );
        let state_now = ctx.state();
        let _ = functions.set(
            (state_now.scalar_functions().keys())
                .chain(state_now.aggregate_functions().keys())
                .chain(state_now.window_functions().keys())
                .cloned()
                .collect(),
        );
        let session = EddySession {
            engine,
            ctx,
            slot,
            state: tokio::sync::Mutex::new(state),
            time: std::sync::RwLock::new(time.clone()),
            changed: Default::default(),
            settings,
            set_by_function,
            inbox,
            in_block: Default::default(),
            id: SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            nextval,
        };
        session.apply_zone(&time.zone);
        Ok(session)
    }

    /// Points table reads at a fresh snapshot plus the transaction's writes. Inside a
    /// transaction that wrote, views read the effect of those writes too: the dataflow runs the
    /// transaction's writes against the snapshot without committing them (read-your-writes in
    /// every view, as PostgreSQL's views would give).
    pub(crate) async fn read_context(&self, st: &State) -> Result<ReadContext> {
        let snapshot = self.engine.store.snapshot();
        let overlay = match st.txn.as_ref() {
            Some(t) if !t.writes.is_empty() && self.engine.catalog.has_views(true) => {
                let mut w = (*t.writes).clone();
                let catalog = self.engine.catalog.clone();
                let snap = snapshot.clone();
                let w = self
                    .engine
                    .dataflow
                    .run(move |v| v.maintain(&catalog, snap, &mut w).map(|_| w))
                    .await??;
                Some(Arc::new(w))
            }
            Some(t) => Some(t.writes.clone()),
            None => None,
        };
        let ctx = ReadContext {
            snapshot,
            overlay,
            expose_row_key: false,
        };
        self.slot.set(ctx.clone());
        Ok(ctx)
    }

    /// Plans a statement and binds its parameters, cast to the types the plan expects.
    pub(crate) async fn plan(
        &self,
        stmt: &Statement,
        params: Vec<ScalarValue>,
    ) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let mut stmt = stmt.clone();
        eddy_sql::pg_syntax::rewrite(&mut stmt);
        // An array bound for `x = ANY($n)`: DataFusion would take `$n` for `x`'s scalar type.
        eddy_sql::pg_syntax::cast_any_placeholders(&mut stmt, &|n| match params.get(n - 1) {
            Some(v @ ScalarValue::List(_)) => Some(PgType::from_arrow(&v.data_type()).to_string()),
            _ => None,
        });
        crate::plain_views::expand(&self.engine.catalog, &mut stmt)?;
        crate::names::name_derived_columns(&mut stmt);
        eddy_sql::names::distinct_call_names(&mut stmt);
        eddy_sql::names::unique_output_names(&mut stmt);
        eddy_sql::parse::interval_literals_as_casts(&mut stmt);
        let plan = state
            .statement_to_plan(DFStatement::Statement(Box::new(stmt)))
            .await?;
        let plan = eddy_sql::int_types::pg_integer_types(plan)?;
        let plan = eddy_sql::numeric_plan::pg_numeric(plan)?;
        if params.is_empty() {
            return self.finish_plan(plan);
        }
        let types = plan.get_parameter_types()?;
        let mut bound = Vec::with_capacity(params.len());
        for (i, v) in params.into_iter().enumerate() {
            let v = match types.get(&format!("${}", i + 1)) {
                Some(Some(dt)) if v.data_type() != *dt => v.cast_to(dt).map_err(|_| {
                    Error::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "parameter ${} cannot be converted to {}",
                            i + 1,
                            PgType::from_arrow(dt)
                        ),
                    )
                })?,
                _ => v,
            };
            bound.push(v);
        }
        self.finish_plan(plan.with_param_values(bound)?)
    }

    /// Applies PostgreSQL's input rules to the string literals a plan casts. The plan is
    /// analyzed first, so the casts DataFusion's type coercion adds (`ts > '2020-01-01 10:00'`)
    /// are among them; a plan still holding parameter placeholders (being described) is not.
    /// `OWNED BY table.column` of a sequence.
    fn owning_column(
        &self,
        name: &datafusion::sql::sqlparser::ast::ObjectName,
    ) -> Result<(eddy_common::TableId, String)> {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .map(names::ident)
            .collect();
        let (schema, table, column) = match parts.as_slice() {
            [t, c] => (DEFAULT_SCHEMA.to_string(), t.clone(), c.clone()),
            [s, t, c] => (s.clone(), t.clone(), c.clone()),
            _ => return Err(Error::syntax("OWNED BY names table.column")),
        };
        let Some(t) = self.engine.catalog.table(&schema, &table) else {
            return Err(undefined_table(&self.engine, &schema, &table));
        };
        if t.def.column_index(&column).is_none() {
            return Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!("column \"{column}\" of relation \"{table}\" does not exist"),
            ));
        }
        Ok((t.id(), column))
    }

    fn finish_plan(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        let plan = crate::sequence_calls::in_session(plan, &self.nextval)?;
        let plan = if plan.get_parameter_types()?.is_empty() {
            let plan = crate::text_input::array_comparison_literals(plan, &self.time_settings())?;
            let state = self.ctx.state();
            let plan =
                state
                    .analyzer()
                    .execute_and_check(plan, state.config_options(), |_, _| {})?;
            // Before optimization, which would prune the columns such an item reads.
            let plan = eddy_sql::lateral::lateral_from_items(plan)?;
            eddy_sql::apply::apply_unnest_subqueries(plan, &state)?
        } else {
            plan
        };
        let plan = eddy_sql::checked_ints::rewrite(plan)?;
        let time = self.time_settings();
        let plan = crate::text_input::rewrite(plan, &time)?;
        let plan = crate::pg_text::rewrite(plan, &time)?;
        let zone = &time.zone;
        if zone.is_utc() {
            return Ok(plan);
        }
        Ok(eddy_sql::time_zone::localize(plan, &zone.arrow_name())?)
    }

    /// Points DataFusion's own notion of the session zone (`current_date`, the type of
    /// `::timestamptz`) at the session's TimeZone.
    fn apply_zone(&self, zone: &SessionZone) {
        let state = self.ctx.state_ref();
        let mut state = state.write();
        state.config_mut().options_mut().execution.time_zone = Some(match zone.is_utc() {
            true => "+00:00".to_string(),
            false => zone.arrow_name(),
        });
    }

    pub(crate) async fn run(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>> {
        Ok(self.ctx.execute_logical_plan(plan).await?.collect().await?)
    }

    async fn dispatch(
        &self,
        st: &mut State,
        stmt: &Statement,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        match stmt {
            Statement::Query(q) => self.select(st, stmt, q, params).await,
            Statement::Explain { .. } => self.explain(st, stmt).await,
            Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_)
            | Statement::Truncate(_) => self.write(st, stmt, params).await,
            Statement::CreateTable(ct) => {
                let (def, sequences) = eddy_sql::ddl::create_table(ct, DEFAULT_SCHEMA)?;
                let (schema, name) = (def.schema.clone(), def.name.clone());
                let _g = self.engine.write_lock.lock().await;
                if self.engine.catalog.create_table_with_sequences(
                    def,
                    sequences,
                    ct.if_not_exists,
                )? {
                    record_undo(st, || Undo::Drop {
                        kind: ObjectType::Table,
                        schema,
                        name,
                    });
                }
                Ok(Output::Command("CREATE TABLE".into()))
            }
            Statement::CreateView(cv) => {
                let (schema, name) = names::relation(&cv.name, DEFAULT_SCHEMA)?;
                let existed = self.engine.catalog.relation(&schema, &name).is_some();
                if existed && cv.or_replace {
                    self.no_txn(st, "CREATE OR REPLACE VIEW of an existing view")?;
                }
                let out = crate::views::create(self, cv).await?;
                if !existed && self.engine.catalog.relation(&schema, &name).is_some() {
                    record_undo(st, || Undo::Drop {
                        kind: if cv.materialized {
                            ObjectType::MaterializedView
                        } else {
                            ObjectType::View
                        },
                        schema,
                        name,
                    });
                }
                Ok(out)
            }
            Statement::AlterTable(at) => self.alter_table(st, at).await,
            Statement::CreateSequence {
                temporary,
                if_not_exists,
                name,
                data_type,
                sequence_options,
                owned_by,
            } => {
                if *temporary {
                    return Err(Error::unsupported("CREATE TEMPORARY SEQUENCE"));
                }
                let (schema, name) = names::relation(name, DEFAULT_SCHEMA)?;
                let ty = eddy_sql::ddl::sequence_type(
                    data_type.as_ref().map(|t| t.to_string()).as_deref(),
                )?;
                let mut def = eddy_sql::ddl::sequence_def(&schema, &name, ty, sequence_options)?;
                def.owned_by = match owned_by {
                    None => None,
                    Some(o) if o.to_string().eq_ignore_ascii_case("none") => None,
                    Some(o) => Some(self.owning_column(o)?),
                };
                let _g = self.engine.write_lock.lock().await;
                if self.engine.catalog.create_sequence(def, *if_not_exists)? {
                    record_undo(st, || Undo::Drop {
                        kind: ObjectType::Sequence,
                        schema,
                        name,
                    });
                }
                Ok(Output::Command("CREATE SEQUENCE".into()))
            }
            Statement::Comment {
                object_type,
                object_name,
                comment,
                if_exists,
            } => {
                self.comment(
                    st,
                    *object_type,
                    object_name,
                    comment.as_deref(),
                    *if_exists,
                )
                .await
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => {
                let name = match schema_name {
                    SchemaName::Simple(n) => names::relation(n, "")?.1,
                    other => return Err(Error::unsupported(format!("CREATE SCHEMA {other}"))),
                };
                if eddy_catalog_builtin(&name) && *if_not_exists {
                    return Ok(Output::Command("CREATE SCHEMA".into()));
                }
                let _g = self.engine.write_lock.lock().await;
                let existed = self.engine.catalog.schema_exists(&name);
                self.engine.catalog.create_schema(&name, *if_not_exists)?;
                if !existed {
                    record_undo(st, || Undo::DropSchema(name));
                }
                Ok(Output::Command("CREATE SCHEMA".into()))
            }
            Statement::Drop {
                object_type,
                if_exists,
                names: objects,
                cascade,
                ..
            } => {
                self.drop(st, *object_type, *if_exists, objects, *cascade)
                    .await
            }
            Statement::StartTransaction { .. } => {
                if st.txn.is_none() {
                    st.txn = Some(Txn {
                        writes: Arc::new(WriteSet::default()),
                        must_be_absent: vec![],
                        read_keys: vec![],
                        failed: false,
                        epoch_started: self.engine.store.epoch_committed(),
                        undo: vec![],
                        notifies: vec![],
                        listens: vec![],
                        settings_at_begin: st.settings.clone(),
                        settings_at_commit: st.settings.clone(),
                    });
                }
                Ok(Output::Command("BEGIN".into()))
            }
            Statement::Commit { .. } => self.commit(st).await,
            Statement::LISTEN { channel } => {
                self.listen(st, ListenOp::Listen(names::ident(channel)));
                Ok(Output::Command("LISTEN".into()))
            }
            Statement::UNLISTEN { channel } => {
                let c = match channel.quote_style.is_none() && channel.value == "*" {
                    true => None,
                    false => Some(names::ident(channel)),
                };
                self.listen(st, ListenOp::Unlisten(c));
                Ok(Output::Command("UNLISTEN".into()))
            }
            Statement::NOTIFY { channel, payload } => {
                let channel = names::ident(channel);
                let payload = payload.clone().unwrap_or_default();
                crate::notify::check(&channel, &payload)?;
                match st.txn.as_mut() {
                    Some(t) => {
                        let n = (channel, payload);
                        if !t.notifies.contains(&n) {
                            t.notifies.push(n);
                        }
                    }
                    None => self
                        .engine
                        .channels
                        .notify(&channel, &payload, self.inbox.pid()),
                }
                Ok(Output::Command("NOTIFY".into()))
            }
            Statement::Rollback {
                savepoint: None, ..
            } => {
                if let Some(t) = st.txn.take() {
                    self.end_settings(st, t.settings_at_begin);
                    undo_ddl(self.engine.clone(), t.undo).await;
                }
                st.cursors.retain(|_, c| c.holds());
                Ok(Output::Command("ROLLBACK".into()))
            }
            Statement::Reset(r) => {
                let names: Vec<String> = match &r.reset {
                    datafusion::sql::sqlparser::ast::Reset::ALL => {
                        st.settings.all().map(|(k, _)| k.clone()).collect()
                    }
                    datafusion::sql::sqlparser::ast::Reset::ConfigurationParameter(n) => {
                        vec![n.to_string()]
                    }
                };
                let reported_before = reported_settings(&st.settings);
                for n in names {
                    let to = st.reset_to.get(&n)?.to_string();
                    if st.settings.get(&n)? != to {
                        self.assign(st, &n, &to, false)?;
                    }
                }
                self.settings_changed(st, reported_before);
                Ok(Output::Command("RESET".into()))
            }
            Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                values,
            } => {
                if !values.is_empty() {
                    return Err(Error::unsupported("COPY with inline data"));
                }
                let opts = CopyOptions::from_ast(options, legacy_options)?;
                match (to, target) {
                    (false, CopyTarget::Stdin) => self.copy_in(st, source, opts).await,
                    (true, CopyTarget::Stdout) => self.copy_out(st, source, opts).await,
                    _ => Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        "COPY to or from a file is not supported",
                    )
                    .with_hint("Use COPY ... FROM STDIN or COPY ... TO STDOUT (psql's \\copy).")),
                }
            }
            // Every commit already carries its effects on all views (see `dataflow`), so
            // everything committed before FLUSH is visible when it runs.
            Statement::Declare { stmts } => self.declare(st, stmts, params).await,
            Statement::Flush { .. } => Ok(Output::Command("FLUSH".into())),
            Statement::Set(set) => self.set(st, set),
            // Work the dataflow did for the last epoch that changed a view: rows processed by
            // its operators. Tests use it to show that work follows the change, not the data.
            Statement::ShowVariable { variable }
                if variable.len() == 1
                    && variable[0]
                        .value
                        .eq_ignore_ascii_case("eddy_dataflow_rows_last_epoch") =>
            {
                let n = self.engine.dataflow.run(|v| v.rows_processed_last).await?;
                Ok(text_rows(
                    &["eddy_dataflow_rows_last_epoch"],
                    vec![vec![n.to_string()]],
                ))
            }
            // The last committed epoch: where a subscription that sees it is up to date.
            Statement::ShowVariable { variable }
                if variable.len() == 1 && variable[0].value.eq_ignore_ascii_case("eddy_epoch") =>
            {
                Ok(text_rows(
                    &["eddy_epoch"],
                    vec![vec![self.engine.store.epoch_committed().to_string()]],
                ))
            }
            Statement::ShowVariable { variable } => self.show(st, variable),
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => {
                st.prepared.prepare(name, data_types, statement)?;
                Ok(Output::Command("PREPARE".into()))
            }
            Statement::Execute {
                name: Some(name),
                parameters,
                immediate: false,
                into,
                using,
                ..
            } if into.is_empty() && using.is_empty() => {
                let name = match name.0.as_slice() {
                    [part] => part.as_ident().map(names::ident).unwrap_or_default(),
                    _ => name.to_string(),
                };
                let bound = st.prepared.bind(&name, parameters)?;
                Box::pin(self.dispatch(st, &bound, vec![])).await
            }
            Statement::Deallocate { name, .. } => {
                let tag = st.prepared.deallocate(name)?;
                Ok(Output::Command(tag.into()))
            }
            other => {
                let text = other.to_string();
                let word: String = text
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("{word} is not supported"),
                ))
            }
        }
    }

    fn no_txn(&self, st: &State, what: &str) -> Result<()> {
        if st.txn.is_some() {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                format!("{what} cannot run inside a transaction block in Eddy yet"),
            ));
        }
        Ok(())
    }

    async fn select(
        &self,
        st: &State,
        stmt: &Statement,
        q: &Query,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let read = self.read_context(st).await?;
        if let Some(out) = crate::point_read::try_point_read(&self.engine, &read, q, &params)? {
            return Ok(out);
        }
        let plan = self.plan(stmt, params).await?;
        let mut columns = crate::session::columns_of(&plan, Some(q));
        attribute_sources(&mut columns, &plan, &self.engine.catalog);
        let batches = self.run(plan).await?;
        Ok(Output::Rows {
            columns: Arc::new(columns),
            batches,
            tag: "SELECT".into(),
        })
    }

    async fn explain(&self, st: &State, stmt: &Statement) -> Result<Output> {
        if let Statement::Explain { statement, .. } = stmt
            && let Statement::CreateView(cv) = statement.as_ref()
            && cv.materialized
        {
            return Ok(query_plan_output(crate::views::explain(self, cv).await?));
        }
        self.read_context(st).await?;
        let plan = self.plan(stmt, vec![]).await?;
        let batches = self.run(plan).await?;
        let mut lines = vec![];
        for b in &batches {
            let kind = b.column(0).as_any().downcast_ref::<StringArray>();
            let text = b.column(1).as_any().downcast_ref::<StringArray>();
            if let (Some(kind), Some(text)) = (kind, text) {
                for i in 0..b.num_rows() {
                    lines.push(format!("{}:", kind.value(i)));
                    lines.extend(text.value(i).lines().map(|l| format!("  {l}")));
                }
            }
        }
        Ok(query_plan_output(lines))
    }

    async fn open_cursor(
        &self,
        cursor: &str,
        sub: crate::subscribe::Subscription,
    ) -> Result<Output> {
        let mut st = self.state.lock().await;
        add_cursor(
            &mut st,
            cursor,
            crate::cursors::Cursor::Subscription(crate::subscribe::Cursor::new(sub)),
        )
    }

    /// `DECLARE c [NO SCROLL] CURSOR [WITH[OUT] HOLD] FOR <query>`.
    async fn declare(
        &self,
        st: &mut State,
        declares: &[Declare],
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let [d] = declares else {
            return Err(Error::syntax("DECLARE declares one cursor"));
        };
        let (Some(query), [name]) = (d.for_query.as_ref(), d.names.as_slice()) else {
            return Err(Error::unsupported("DECLARE of anything but a cursor"));
        };
        if d.binary == Some(true) {
            return Err(Error::unsupported("BINARY cursors"));
        }
        let hold = d.hold == Some(true);
        if !hold && st.txn.is_none() {
            return Err(Error::new(
                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                "DECLARE CURSOR can only be used in transaction blocks",
            ));
        }
        let name = names::ident(name);
        if st.cursors.contains_key(&name) {
            return Err(duplicate_cursor(&name));
        }
        let stmt = Statement::Query(query.clone());
        let Output::Rows {
            columns, batches, ..
        } = self.select(st, &stmt, query, params).await?
        else {
            return Err(Error::internal("a cursor's query gave no rows"));
        };
        add_cursor(
            st,
            &name,
            crate::cursors::Cursor::Query {
                rows: crate::cursors::QueryCursor::new(columns, batches),
                hold,
            },
        )
    }

    /// Starts a `SUBSCRIBE`; one to a query first makes the materialized view it follows.
    async fn start_subscription(
        &self,
        s: &eddy_sql::subscribe::Subscribe,
        kind: &'static str,
        cursor: Option<&String>,
    ) -> Result<crate::subscribe::Subscription> {
        let mut reading = crate::subscribe::Reading {
            pid: self.inbox.pid(),
            kind,
            cursor: cursor.cloned(),
            subscription: None,
            temp_view: None,
            query: None,
        };
        let Some(query) = &s.query else {
            return crate::subscribe::start(&self.engine, s, reading);
        };
        let name = crate::views::create_temp(self, query, s.as_of).await?;
        let mut on_view = s.clone();
        on_view.name = vec![crate::views::TEMP_SCHEMA.to_string(), name.clone()];
        on_view.query = None;
        reading.temp_view = Some(name.clone());
        reading.query = Some(query.clone());
        match crate::subscribe::start(&self.engine, &on_view, reading) {
            Ok(sub) => Ok(sub),
            Err(e) => {
                crate::views::drop_temp(&self.engine, &name).await;
                Err(e)
            }
        }
    }

    /// COPY (SUBSCRIBE ...), and the DECLARE / FETCH / CLOSE of subscription cursors.
    async fn subscription(&self, s: &SubscribeStmt) -> Result<Output> {
        match s {
            SubscribeStmt::Copy(sub) => {
                let sub = self.start_subscription(sub, "copy", None).await?;
                crate::subscribe::copy_output(sub, self.time_settings())
            }
            SubscribeStmt::Declare { cursor, subscribe } => {
                if self.state.lock().await.cursors.contains_key(cursor) {
                    return Err(duplicate_cursor(cursor));
                }
                let sub = self
                    .start_subscription(subscribe, "cursor", Some(cursor))
                    .await?;
                self.open_cursor(cursor, sub).await
            }
            SubscribeStmt::CreateSubscription {
                name,
                view,
                retention,
            } => {
                let st = self.state.lock().await;
                self.no_txn(&st, "CREATE SUBSCRIPTION")?;
                let (schema, vname) = match view.as_slice() {
                    [n] => (DEFAULT_SCHEMA.to_string(), n.clone()),
                    [sc, n] => (sc.clone(), n.clone()),
                    _ => return Err(Error::syntax("improper qualified name")),
                };
                let v = match self.engine.catalog.relation(&schema, &vname) {
                    Some(eddy_catalog::Relation::View(v)) if v.def.materialized => v,
                    Some(_) => {
                        return Err(Error::new(
                            SqlState::WRONG_OBJECT_TYPE,
                            format!("\"{vname}\" is not a materialized view"),
                        ));
                    }
                    None => return Err(undefined_table(&self.engine, &schema, &vname)),
                };
                let _g = self.engine.write_lock.lock().await;
                self.engine
                    .catalog
                    .create_subscription(eddy_catalog::SubscriptionDef {
                        name: name.clone(),
                        view: v.id(),
                        retention_secs: retention
                            .map_or(crate::engine::DEFAULT_SUBSCRIPTION_RETENTION_SECS, |r| {
                                r.as_secs().max(1)
                            }),
                        created_epoch: self.engine.store.epoch_committed(),
                    })?;
                Ok(Output::Command("CREATE SUBSCRIPTION".into()))
            }
            SubscribeStmt::DropSubscription { name, if_exists } => {
                let st = self.state.lock().await;
                self.no_txn(&st, "DROP SUBSCRIPTION")?;
                let _g = self.engine.write_lock.lock().await;
                self.engine.catalog.drop_subscription(name, *if_exists)?;
                Ok(Output::Command("DROP SUBSCRIPTION".into()))
            }
            SubscribeStmt::DeclareNamed {
                cursor,
                subscription,
                since,
                full,
            } => {
                let def = self
                    .engine
                    .catalog
                    .subscription(subscription)
                    .ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_OBJECT,
                            format!("subscription \"{subscription}\" does not exist"),
                        )
                    })?;
                let Some(eddy_catalog::Relation::View(v)) =
                    self.engine.catalog.relation_by_id(def.view)
                else {
                    return Err(Error::internal(format!(
                        "the view of subscription \"{subscription}\" is gone"
                    )));
                };
                let sub = crate::subscribe::start(
                    &self.engine,
                    &eddy_sql::subscribe::Subscribe {
                        name: vec![v.def.schema.clone(), v.def.name.clone()],
                        query: None,
                        snapshot: *full,
                        progress: false,
                        as_of: *since,
                        envelope: None,
                    },
                    crate::subscribe::Reading {
                        pid: self.inbox.pid(),
                        kind: "subscription cursor",
                        cursor: Some(cursor.clone()),
                        subscription: Some(subscription.clone()),
                        temp_view: None,
                        query: None,
                    },
                )?;
                self.open_cursor(cursor, sub).await
            }
            SubscribeStmt::Fetch {
                cursor,
                count,
                timeout,
                discard,
            } => {
                let mut st = self.state.lock().await;
                let c = st
                    .cursors
                    .get_mut(cursor)
                    .ok_or_else(|| no_cursor(cursor))?;
                c.fetch(*count, *timeout, *discard).await
            }
            SubscribeStmt::Close { cursor } => {
                let mut st = self.state.lock().await;
                match cursor {
                    Some(c) => {
                        st.cursors.remove(c).ok_or_else(|| no_cursor(c))?;
                    }
                    None => st.cursors.clear(),
                }
                Ok(Output::Command(
                    if cursor.is_some() {
                        "CLOSE CURSOR"
                    } else {
                        "CLOSE CURSOR ALL"
                    }
                    .into(),
                ))
            }
        }
    }

    async fn write(
        &self,
        st: &mut State,
        stmt: &Statement,
        params: Vec<ScalarValue>,
    ) -> Result<Output> {
        let autocommit = st.txn.is_none();
        let _guard = if autocommit {
            Some(self.engine.write_lock.lock().await)
        } else {
            None
        };
        let read = self.read_context(st).await?;
        let snapshot = read.snapshot.clone();
        let mut w = if autocommit {
            StatementWrites::bulk()
        } else {
            StatementWrites::default()
        };
        let out = match stmt {
            Statement::Insert(ins) => crate::modify::insert(self, &read, ins, params, &mut w).await,
            Statement::Update(_) => crate::modify::update(self, &read, stmt, params, &mut w).await,
            Statement::Delete(_) => crate::modify::delete(self, stmt, params, &mut w).await,
            Statement::Truncate(t) => self.truncate(t, &mut w),
            _ => unreachable!("only DML reaches write"),
        };
        self.slot.set_expose_row_key(false);
        drop(read);
        let out = out?;
        self.apply(st, w, Some(snapshot)).await?;
        Ok(out)
    }

    /// TRUNCATE deletes each table's key range, transactionally like any other write.
    fn truncate(
        &self,
        t: &datafusion::sql::sqlparser::ast::Truncate,
        w: &mut StatementWrites,
    ) -> Result<Output> {
        if t.partitions.is_some() || t.identity.is_some() {
            return Err(Error::unsupported(
                "TRUNCATE with partitions or identity options",
            ));
        }
        let mut entries = vec![];
        for target in &t.table_names {
            let (schema, name) = names::relation(&target.name, DEFAULT_SCHEMA)?;
            match self.engine.catalog.table(&schema, &name) {
                Some(e) => entries.push(e),
                None if t.if_exists => {}
                None => return Err(undefined_table(&self.engine, &schema, &name)),
            }
        }
        for e in entries {
            w.set
                .delete_range(Cf::Data, eddy_storage::table_prefix(e.id()).to_vec());
        }
        Ok(Output::Command("TRUNCATE TABLE".into()))
    }

    /// Commits a statement's writes, or adds them to the open transaction; `read_at` is the
    /// snapshot an UPDATE or DELETE read the rows it rewrites from.
    async fn apply(
        &self,
        st: &mut State,
        mut w: StatementWrites,
        read_at: Option<eddy_storage::Snapshot>,
    ) -> Result<()> {
        w.check_bulk_duplicates()?;
        match st.txn.as_mut() {
            None => {
                if !w.set.is_empty() {
                    let _epoch = self.engine.commit(w.set).await?;
                }
            }
            Some(txn) => {
                // The statement's snapshot is gone, so the overlay is unshared: no copy here.
                self.slot.set(ReadContext {
                    snapshot: self.engine.store.snapshot(),
                    overlay: None,
                    expose_row_key: false,
                });
                if let Some(snap) = read_at {
                    let inserted: std::collections::HashSet<&[u8]> =
                        w.must_be_absent.iter().map(|k| k.as_slice()).collect();
                    let keys: Vec<Vec<u8>> = w
                        .set
                        .data
                        .keys()
                        .filter(|k| !inserted.contains(k.as_slice()))
                        .cloned()
                        .collect();
                    if !keys.is_empty() {
                        txn.read_keys.push((snap, keys));
                    }
                }
                Arc::make_mut(&mut txn.writes).absorb(w.set);
                txn.must_be_absent.extend(w.must_be_absent);
            }
        }
        Ok(())
    }

    async fn commit(&self, st: &mut State) -> Result<Output> {
        st.cursors.retain(|_, c| c.holds());
        let Some(mut txn) = st.txn.take() else {
            return Ok(Output::Command("COMMIT".into()));
        };
        let undo = std::mem::take(&mut txn.undo);
        if txn.failed {
            self.end_settings(st, txn.settings_at_begin);
            undo_ddl(self.engine.clone(), undo).await;
            return Ok(Output::Command("ROLLBACK".into()));
        }
        let listens = std::mem::take(&mut txn.listens);
        let notifies = std::mem::take(&mut txn.notifies);
        let at_begin = std::mem::take(&mut txn.settings_at_begin);
        let at_commit = std::mem::take(&mut txn.settings_at_commit);
        let r = self.commit_writes(txn).await;
        self.end_settings(st, if r.is_ok() { at_commit } else { at_begin });
        match r.is_ok() {
            true => {
                for op in listens {
                    self.apply_listen(st, op);
                }
                for (channel, payload) in notifies {
                    self.engine
                        .channels
                        .notify(&channel, &payload, self.inbox.pid());
                }
            }
            false => undo_ddl(self.engine.clone(), undo).await,
        }
        r
    }

    /// `COMMENT ON TABLE|VIEW|MATERIALIZED VIEW|COLUMN|SCHEMA x IS 'text' | NULL`. It applies
    /// when it runs, like the other DDL, and a transaction that does not commit puts the old
    /// comment back.
    async fn comment(
        &self,
        st: &mut State,
        kind: datafusion::sql::sqlparser::ast::CommentObject,
        name: &datafusion::sql::sqlparser::ast::ObjectName,
        text: Option<&str>,
        if_exists: bool,
    ) -> Result<Output> {
        use datafusion::sql::sqlparser::ast::CommentObject as K;
        use eddy_catalog::Relation;
        let catalog = &self.engine.catalog;
        let relation = |schema: &str, rel: &str, want: K| -> Result<Option<Relation>> {
            let r = match catalog.relation(schema, rel) {
                Some(r) => r,
                None if if_exists => return Ok(None),
                None => return Err(undefined_table(&self.engine, schema, rel)),
            };
            let (fits, what) = match (&r, want) {
                (Relation::Table(_), K::Table | K::Column) => (true, ""),
                (Relation::View(v), K::View | K::Column) if !v.def.materialized => (true, ""),
                (Relation::View(v), K::MaterializedView | K::Column) if v.def.materialized => {
                    (true, "")
                }
                (_, K::Table) => (false, "a table"),
                (_, K::View) => (false, "a view"),
                _ => (false, "a materialized view"),
            };
            if !fits {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{rel}\" is not {what}"),
                ));
            }
            Ok(Some(r))
        };
        let target = match kind {
            K::Table | K::View | K::MaterializedView => {
                let (schema, rel) = names::relation(name, DEFAULT_SCHEMA)?;
                relation(&schema, &rel, kind)?.map(|r| (r.id(), 0))
            }
            K::Column => {
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|p| p.as_ident().map(names::ident).unwrap_or_default())
                    .collect();
                let (schema, rel, col) = match parts.as_slice() {
                    [r, c] => (DEFAULT_SCHEMA.to_string(), r.clone(), c.clone()),
                    [s, r, c] => (s.clone(), r.clone(), c.clone()),
                    [db, s, r, c] if db == eddy_catalog::DATABASE_NAME => {
                        (s.clone(), r.clone(), c.clone())
                    }
                    _ => {
                        return Err(Error::syntax(format!(
                            "column name must be qualified: {name}"
                        )));
                    }
                };
                match relation(&schema, &rel, kind)? {
                    None => None,
                    Some(r) => {
                        let columns: Vec<String> = match &r {
                            Relation::Table(t) => {
                                t.def.columns.iter().map(|c| c.name.clone()).collect()
                            }
                            Relation::View(v) => {
                                v.def.columns.iter().map(|c| c.name.clone()).collect()
                            }
                        };
                        let at = columns.iter().position(|c| *c == col).ok_or_else(|| {
                            Error::new(
                                SqlState::UNDEFINED_COLUMN,
                                format!("column \"{col}\" of relation \"{rel}\" does not exist"),
                            )
                        })?;
                        Some((r.id(), at as i32 + 1))
                    }
                }
            }
            K::Schema => {
                let (_, schema) = names::relation(name, "")?;
                match catalog.schemas().into_iter().find(|s| s.name == schema) {
                    Some(s) => Some((s.id, 0)),
                    None if if_exists => None,
                    None => {
                        return Err(Error::new(
                            SqlState::INVALID_SCHEMA_NAME,
                            format!("schema \"{schema}\" does not exist"),
                        ));
                    }
                }
            }
            other => return Err(Error::unsupported(format!("COMMENT ON {other}"))),
        };
        if let Some((obj, sub)) = target {
            // PostgreSQL takes an empty comment for no comment.
            let text = text.filter(|t| !t.is_empty());
            let _g = self.engine.write_lock.lock().await;
            let old = catalog.set_comment(obj, sub, text)?;
            if old.as_deref() != text {
                record_undo(st, || Undo::Comment { obj, sub, old });
            }
        }
        Ok(Output::Command("COMMENT".into()))
    }

    /// Keeps the open transaction's undo log in storage as it is in memory (and none once the
    /// transaction has ended), so that a crash before the transaction ends undoes its DDL.
    fn write_undo_log(&self, st: &mut State) -> Result<()> {
        let now = st.txn.as_ref().filter(|t| !t.undo.is_empty()).map(|t| {
            serde_json::Value::Array(t.undo.iter().map(Undo::to_json).collect()).to_string()
        });
        if now == st.undo_on_disk {
            return Ok(());
        }
        let key = undo_log_key(self.id);
        match &now {
            Some(log) => self.engine.store.put_now(Cf::Meta, &key, log.as_bytes())?,
            None => delete_undo_log(&self.engine, &key)?,
        }
        st.undo_on_disk = now;
        Ok(())
    }

    /// LISTEN / UNLISTEN: at once outside a transaction block, at COMMIT inside one.
    fn listen(&self, st: &mut State, op: ListenOp) {
        match st.txn.as_mut() {
            Some(t) => t.listens.push(op),
            None => self.apply_listen(st, op),
        }
    }

    fn apply_listen(&self, st: &mut State, op: ListenOp) {
        let channels = &self.engine.channels;
        match op {
            ListenOp::Listen(c) => {
                channels.listen(&c, &self.inbox);
                st.listening.insert(c);
            }
            ListenOp::Unlisten(Some(c)) => {
                channels.unlisten(&c, &self.inbox);
                st.listening.remove(&c);
            }
            ListenOp::Unlisten(None) => {
                for c in std::mem::take(&mut st.listening) {
                    channels.unlisten(&c, &self.inbox);
                }
            }
        }
    }

    async fn commit_writes(&self, txn: Txn) -> Result<Output> {
        self.slot.set(ReadContext {
            snapshot: self.engine.store.snapshot(),
            overlay: None,
            expose_row_key: false,
        });
        let writes = Arc::try_unwrap(txn.writes).unwrap_or_else(|a| (*a).clone());
        if writes.is_empty() {
            return Ok(Output::Command("COMMIT".into()));
        }
        let _g = self.engine.write_lock.lock().await;
        validate_absent(
            &self.engine,
            txn.epoch_started,
            txn.must_be_absent.iter().map(|k| k.as_slice()),
        )?;
        validate_unchanged(&self.engine, txn.epoch_started, &txn.read_keys)?;
        let _epoch = self.engine.commit(writes).await?;
        Ok(Output::Command("COMMIT".into()))
    }

    async fn drop(
        &self,
        st: &mut State,
        kind: ObjectType,
        if_exists: bool,
        objects: &[datafusion::sql::sqlparser::ast::ObjectName],
        cascade: bool,
    ) -> Result<Output> {
        let what = match kind {
            ObjectType::Table => "DROP TABLE",
            ObjectType::MaterializedView => "DROP MATERIALIZED VIEW",
            ObjectType::View => "DROP VIEW",
            ObjectType::Schema => "DROP SCHEMA",
            ObjectType::Sequence => "DROP SEQUENCE",
            other => return Err(Error::unsupported(format!("DROP {other}"))),
        };
        // Inside a transaction block only what the transaction created can be dropped: that
        // much can be undone (by creating nothing), a committed object's rows cannot.
        let mut resolved = vec![];
        for name in objects {
            resolved.push(match kind {
                ObjectType::Schema => names::relation(name, "")?,
                _ => names::relation(name, DEFAULT_SCHEMA)?,
            });
        }
        if let Some(t) = st.txn.as_mut() {
            for (schema, rel) in &resolved {
                let created = t.undo.iter().any(|u| match u {
                    Undo::Drop {
                        schema: s, name, ..
                    } => s == schema && name == rel,
                    Undo::DropSchema(s) => kind == ObjectType::Schema && s == rel,
                    Undo::Rename { .. } | Undo::Comment { .. } => false,
                });
                let exists = match kind {
                    ObjectType::Schema => self.engine.catalog.schema_exists(rel),
                    ObjectType::Sequence => (self.engine.catalog.sequences.all().iter())
                        .any(|q| &q.schema == schema && &q.name == rel),
                    _ => self.engine.catalog.relation(schema, rel).is_some(),
                };
                if exists && !created {
                    return Err(Error::new(
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        format!(
                            "{what} of \"{rel}\", which existed before this transaction, \
                             cannot run inside a transaction block in Eddy yet"
                        ),
                    ));
                }
            }
        }
        let _g = self.engine.write_lock.lock().await;
        for (schema, rel) in &resolved {
            match kind {
                ObjectType::Table | ObjectType::MaterializedView | ObjectType::View => {
                    crate::views::drop_relation(
                        &self.engine,
                        schema,
                        rel,
                        kind,
                        if_exists,
                        cascade,
                    )
                    .await?;
                }
                ObjectType::Sequence => {
                    self.engine.catalog.drop_sequence(schema, rel, if_exists)?
                }
                _ => self.engine.catalog.drop_schema(rel, if_exists, cascade)?,
            }
        }
        if let Some(t) = st.txn.as_mut() {
            // Dropped already: nothing of these is left to undo.
            t.undo.retain(|u| match u {
                Undo::Drop { schema, name, .. } => !resolved
                    .iter()
                    .any(|(s, n)| s == schema && n == name && kind != ObjectType::Schema),
                Undo::DropSchema(s) => {
                    !(kind == ObjectType::Schema && resolved.iter().any(|(_, n)| n == s))
                }
                Undo::Rename { .. } | Undo::Comment { .. } => true,
            });
        }
        Ok(Output::Command(what.into()))
    }

    /// `ALTER TABLE t SET (retain_history = '1 hour')`: from now on the table keeps its changes
    /// that long, so a `SUBSCRIBE (query) AS OF` a later epoch can replay them; a zero duration
    /// stops that and drops the changes kept. Not in a transaction block: a ROLLBACK could not
    /// give back changes that were not kept.
    async fn set_table_history(
        &self,
        st: &State,
        at: &datafusion::sql::sqlparser::ast::AlterTable,
        retention: Option<u64>,
    ) -> Result<Output> {
        self.no_txn(st, "ALTER TABLE ... SET (retain_history)")?;
        let (schema, name) = names::relation(&at.name, DEFAULT_SCHEMA)?;
        let _g = self.engine.write_lock.lock().await;
        match self.engine.catalog.relation(&schema, &name) {
            Some(eddy_catalog::Relation::Table(_)) => {}
            Some(_) => {
                return Err(Error::new(
                    SqlState::WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a table"),
                )
                .with_hint("A materialized view keeps its changes for subscriptions already."));
            }
            None if at.if_exists => return Ok(Output::Command("ALTER TABLE".into())),
            None => return Err(undefined_table(&self.engine, &schema, &name)),
        }
        (self.engine.catalog).set_table_history(&schema, &name, retention)?;
        Ok(Output::Command("ALTER TABLE".into()))
    }

    /// `ALTER TABLE|VIEW|MATERIALIZED VIEW [IF EXISTS] name RENAME TO new`, and `SET
    /// (retain_history = ...)`.
    async fn alter_table(
        &self,
        st: &mut State,
        at: &datafusion::sql::sqlparser::ast::AlterTable,
    ) -> Result<Output> {
        use datafusion::sql::sqlparser::ast::{AlterTableOperation, RenameTableNameKind};
        if let [AlterTableOperation::SetOptionsParens { options }] = at.operations.as_slice()
            && let Some(retention) = eddy_sql::ddl::retain_history(options)?
            && options.len() == 1
        {
            return self.set_table_history(st, at, retention).await;
        }
        let [
            AlterTableOperation::RenameTable {
                table_name: RenameTableNameKind::To(new) | RenameTableNameKind::As(new),
            },
        ] = at.operations.as_slice()
        else {
            return Err(Error::unsupported(format!(
                "ALTER TABLE {}",
                at.operations
                    .iter()
                    .map(|o| o.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let (schema, old) = names::relation(&at.name, DEFAULT_SCHEMA)?;
        let (new_schema, new) = names::relation(new, &schema)?;
        if new_schema != schema {
            return Err(Error::syntax(
                "ALTER ... RENAME TO names the relation without a schema",
            ));
        }
        let _g = self.engine.write_lock.lock().await;
        if at.if_exists && self.engine.catalog.relation(&schema, &old).is_none() {
            return Ok(Output::Command("ALTER TABLE".into()));
        }
        if self.engine.catalog.relation(&schema, &old).is_none() {
            return Err(undefined_table(&self.engine, &schema, &old));
        }
        self.engine.catalog.rename_relation(&schema, &old, &new)?;
        if let Some(t) = st.txn.as_mut() {
            // A relation the transaction created, or renamed before, is undone under its new
            // name; any other gets its old name back.
            let mut followed = false;
            for u in t.undo.iter_mut() {
                match u {
                    Undo::Drop {
                        schema: s, name, ..
                    }
                    | Undo::Rename {
                        schema: s,
                        current: name,
                        ..
                    } if *s == schema && *name == old => {
                        *name = new.clone();
                        followed = true;
                    }
                    _ => {}
                }
            }
            if !followed {
                t.undo.push(Undo::Rename {
                    schema,
                    current: new,
                    original: old,
                });
            }
        }
        Ok(Output::Command("ALTER TABLE".into()))
    }

    async fn copy_in(
        &self,
        st: &mut State,
        source: &CopySource,
        opts: CopyOptions,
    ) -> Result<Output> {
        let CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(Error::syntax("syntax error at or near \"(\""));
        };
        let (schema, name) = names::relation(table_name, DEFAULT_SCHEMA)?;
        let entry = self
            .engine
            .catalog
            .table(&schema, &name)
            .ok_or_else(|| undefined_table(&self.engine, &schema, &name))?;
        let cols: Vec<usize> = if columns.is_empty() {
            (0..entry.def.columns.len()).collect()
        } else {
            columns
                .iter()
                .map(|c| {
                    let n = names::ident(c);
                    entry.def.column_index(&n).ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{n}\" of relation \"{name}\" does not exist"),
                        )
                    })
                })
                .collect::<Result<_>>()?
        };
        let read = self.read_context(st).await?;
        let mut defaults = vec![];
        for (i, c) in entry.def.columns.iter().enumerate() {
            if cols.contains(&i) {
                continue;
            }
            if let Some(expr) = entry.defaults.get(&c.name) {
                defaults.push((i, self.copy_default(&c.name, expr).await?));
            }
        }
        let bulk = st.txn.is_none();
        let time = st.settings.time().clone();
        let copy = CopyIn::new(entry, cols, defaults, opts, read, bulk, time);
        let n = copy.columns();
        st.copy = Some(copy);
        Ok(Output::CopyIn { columns: n })
    }

    /// What a COPY puts in a column it omits: a stable DEFAULT evaluated once for the whole
    /// COPY, as PostgreSQL evaluates `now()` once per transaction, or a volatile one (`nextval`)
    /// evaluated for every row.
    async fn copy_default(
        &self,
        column: &str,
        expr: &datafusion::logical_expr::Expr,
    ) -> Result<crate::copy_in::CopyDefault> {
        if !expr.is_volatile() {
            return Ok(crate::copy_in::CopyDefault::Constant(
                self.constant_default(column, expr).await?,
            ));
        }
        let expr = crate::sequence_calls::expr_in_session(expr.clone(), &self.nextval)?;
        let physical = self
            .ctx
            .create_physical_expr(expr, &datafusion::common::DFSchema::empty())?;
        Ok(crate::copy_in::CopyDefault::PerRow(physical))
    }

    /// A column DEFAULT evaluated once, for every row of a statement. Volatile defaults
    /// (`random()`) need a value per row: refused.
    pub(crate) async fn constant_default(
        &self,
        column: &str,
        expr: &datafusion::logical_expr::Expr,
    ) -> Result<ScalarValue> {
        if expr.is_volatile() {
            return Err(Error::unsupported(format!(
                "COPY that omits column \"{column}\", whose DEFAULT is volatile,"
            )));
        }
        let plan = datafusion::logical_expr::LogicalPlanBuilder::empty(true)
            .project(vec![expr.clone()])?
            .build()?;
        let batches = self.run(plan).await?;
        let batch = batches
            .first()
            .ok_or_else(|| Error::internal("DEFAULT produced no row"))?;
        Ok(ScalarValue::try_from_array(batch.column(0), 0)?)
    }

    async fn copy_out(&self, st: &State, source: &CopySource, opts: CopyOptions) -> Result<Output> {
        let query = match source {
            CopySource::Query(q) => q.to_string(),
            CopySource::Table {
                table_name,
                columns,
            } => {
                let cols = if columns.is_empty() {
                    "*".to_string()
                } else {
                    columns
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!("SELECT {cols} FROM {table_name}")
            }
        };
        let stmt = eddy_sql::parse::parse_statements(&query)?.remove(0);
        let Statement::Query(q) = &stmt else {
            unreachable!("built from a query")
        };
        self.read_context(st).await?;
        let plan = self.plan(&stmt, vec![]).await?;
        let columns = columns_of(&plan, Some(q));
        let batches = self.run(plan).await?;
        let rows = crate::copy_out::encode(&columns, &batches, &opts, st.settings.time())?;
        Ok(Output::CopyOut {
            columns: columns.len(),
            rows,
        })
    }

    fn set(&self, st: &mut State, set: &Set) -> Result<Output> {
        let reported_before = reported_settings(&st.settings);
        match set {
            Set::SingleAssignment {
                variable,
                values,
                scope,
                ..
            } => {
                let name = variable.to_string();
                let value = values
                    .iter()
                    .map(setting_text)
                    .collect::<Vec<_>>()
                    .join(", ");
                let local = matches!(
                    scope,
                    Some(datafusion::sql::sqlparser::ast::ContextModifier::Local)
                );
                self.assign(st, &name, &value, local)?;
            }
            Set::SetTimeZone { value, local } => {
                self.assign(st, "timezone", &setting_text(value), *local)?
            }
            Set::SetNames { charset_name, .. } => {
                self.assign(st, "client_encoding", &charset_name.to_string(), false)?
            }
            Set::SetTransaction { .. } => return Ok(Output::Command("SET".into())),
            other => return Err(Error::unsupported(format!("{other}"))),
        }
        self.settings_changed(st, reported_before);
        Ok(Output::Command("SET".into()))
    }

    /// SET (or SET LOCAL): the session's setting now; in a transaction block, ROLLBACK undoes
    /// it, and a LOCAL one lasts until the block ends. Outside a block SET LOCAL has nothing to
    /// last for, so it changes nothing (PostgreSQL warns and does the same).
    fn assign(&self, st: &mut State, name: &str, value: &str, local: bool) -> Result<()> {
        match st.txn.as_mut() {
            Some(t) => {
                let mut now = st.settings.clone();
                now.set(name, value)?;
                if !local {
                    t.settings_at_commit.set(name, value)?;
                }
                st.settings = now;
            }
            None if local => {
                // Checked all the same, as PostgreSQL does.
                st.settings.clone().set(name, value)?;
            }
            None => st.settings.set(name, value)?,
        }
        Ok(())
    }

    /// The settings a transaction block leaves: those at COMMIT, or those it began with.
    fn end_settings(&self, st: &mut State, settings: Settings) {
        let reported_before = reported_settings(&st.settings);
        st.settings = settings;
        self.settings_changed(st, reported_before);
    }

    /// Settings `set_config()` changed during the statement that just ran.
    fn apply_set_by_function(&self, st: &mut State) {
        let set: Vec<_> = std::mem::take(&mut *self.set_by_function.lock().expect("set lock"));
        if set.is_empty() {
            return;
        }
        let reported_before = reported_settings(&st.settings);
        for (name, value, local) in set {
            if let Err(e) = self.assign(st, &name, &value, local) {
                tracing::warn!("set_config({name}, {value}) checked, then refused: {e}");
            }
        }
        self.settings_changed(st, reported_before);
    }

    /// Mirrors the session's settings where statements and the wire layer read them, and
    /// queues a ParameterStatus for each reported one that changed.
    fn settings_changed(
        &self,
        st: &State,
        reported_before: std::collections::HashMap<&'static str, String>,
    ) {
        *self.time.write().expect("time lock") = st.settings.time().clone();
        *self.settings.write().expect("settings lock") = st.settings.clone();
        self.apply_zone(st.settings.zone());
        let mut changed = self.changed.lock().expect("changed lock");
        for (key, value) in st.settings.all() {
            if let Some(name) = crate::settings::reported_name(key)
                && reported_before.get(name) != Some(value)
            {
                changed.push((name.to_string(), value.clone()));
            }
        }
    }

    fn show(
        &self,
        st: &State,
        variable: &[datafusion::sql::sqlparser::ast::Ident],
    ) -> Result<Output> {
        let name = variable
            .iter()
            .map(|i| i.value.clone())
            .collect::<Vec<_>>()
            .join(" ");
        let lower = name.to_lowercase();
        let (columns, rows): (Vec<&str>, Vec<Vec<String>>) = if lower == "all" {
            (
                vec!["name", "setting", "description"],
                st.settings
                    .all()
                    .map(|(k, v)| vec![k.clone(), v.clone(), String::new()])
                    .collect(),
            )
        } else {
            let key = match lower.as_str() {
                "time zone" => "timezone",
                "transaction isolation level" => "transaction_isolation",
                other => other,
            };
            (vec![key], vec![vec![st.settings.get(key)?.to_string()]])
        };
        Ok(text_rows(&columns, rows))
    }
}

/// Functions whose value is the session's: `current_user` (and `session_user`), the user name
/// the client connected with, and `current_setting(name [, missing_ok])`.
fn register_session_functions(
    ctx: &datafusion::prelude::SessionContext,
    user: &str,
    settings: Arc<std::sync::RwLock<crate::settings::Settings>>,
    set_by_function: SetByFunction,
    inbox: Arc<crate::notify::Inbox>,
) {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Signature, TypeSignature, Volatility};
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "pg_backend_pid",
        Signature::nullary(Volatility::Stable),
        DataType::Int32,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Int32(Some(inbox.pid()))))),
    ));
    for name in ["current_user", "session_user"] {
        let user = user.to_string();
        ctx.register_udf(eddy_sql::functions::closure_udf(
            name,
            Signature::nullary(Volatility::Stable),
            DataType::Utf8,
            Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(user.clone()))))),
        ));
    }
    // set_config(name, value, is_local): like SET (SET LOCAL when is_local), seen at once by
    // current_setting() in the same statement and applied to the session once it ends.
    let mirror = settings.clone();
    let set_config = Arc::new(move |args: &[ColumnarValue]| {
        let text = |i: usize| match &args[i] {
            ColumnarValue::Scalar(v) if !v.is_null() => Some(v.to_string()),
            _ => None,
        };
        let (Some(name), value) = (text(0), text(1)) else {
            return Err(datafusion::common::DataFusionError::External(Box::new(
                Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    "SET requires parameter name",
                ),
            )));
        };
        let local = matches!(
            args.get(2),
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
        );
        let value = value.unwrap_or_default();
        let mut s = mirror.write().expect("settings lock");
        s.set(&name, &value)
            .map_err(|e| datafusion::common::DataFusionError::External(Box::new(e)))?;
        let now = s.get(&name).map(|v| v.to_string()).unwrap_or(value);
        set_by_function
            .lock()
            .expect("set_config lock")
            .push((name, now.clone(), local));
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(now))))
    });
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "set_config",
        Signature::exact(
            vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
            Volatility::Volatile,
        ),
        DataType::Utf8,
        set_config,
    ));
    let body = Arc::new(move |args: &[ColumnarValue]| {
        let name = match &args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => s.clone(),
            _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
        };
        let missing_ok = matches!(
            args.get(1),
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
        );
        let settings = settings.read().expect("settings lock");
        let value = match settings.get(&name) {
            Ok(v) => Some(v.to_string()),
            Err(_) if missing_ok => None,
            Err(e) => return Err(datafusion::common::DataFusionError::External(Box::new(e))),
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(value)))
    });
    ctx.register_udf(eddy_sql::functions::closure_udf(
        "current_setting",
        Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
            ],
            Volatility::Stable,
        ),
        DataType::Utf8,
        body,
    ));
}

/// The `-c name=value` and `--name=value` settings of a startup packet's `options` (what
/// `PGOPTIONS` sends).
fn command_line_settings(options: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let assignment = match w {
            "-c" => words.next(),
            w => w.strip_prefix("--").or_else(|| w.strip_prefix("-c")),
        };
        if let Some((k, v)) = assignment.and_then(|a| a.split_once('=')) {
            out.push((k.replace('-', "_"), v.to_string()));
        }
    }
    out
}

fn eddy_catalog_builtin(name: &str) -> bool {
    matches!(name, "pg_catalog" | "information_schema")
}

fn setting_text(e: &Expr) -> String {
    match e {
        Expr::Value(v) => match &v.value {
            datafusion::sql::sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        other => other.to_string(),
    }
}

/// The error for a write to `schema.name` when no table has that name: a materialized view
/// cannot be changed directly (42809), anything else does not exist (42P01).
pub(crate) fn undefined_table(engine: &Engine, schema: &str, name: &str) -> Error {
    if engine.catalog.view(schema, name).is_some() {
        return Error::new(
            SqlState::WRONG_OBJECT_TYPE,
            format!("cannot change materialized view \"{name}\""),
        );
    }
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}

/// Checks that keys a transaction (or COPY) inserted are still absent at commit; skipped when
/// nothing committed since it started.
pub(crate) fn validate_absent<'a>(
    engine: &Engine,
    epoch_started: u64,
    keys: impl IntoIterator<Item = &'a [u8]>,
) -> Result<()> {
    // Checked before touching the keys: a bulk load's key list is large and usually unneeded.
    if engine.store.epoch_committed() == epoch_started {
        return Ok(());
    }
    let snap = engine.store.snapshot();
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        let chunk: Vec<&[u8]> = keys.by_ref().take(8192).collect();
        for (k, v) in chunk.iter().zip(snap.multi_get(Cf::Data, &chunk)?) {
            if v.is_some() {
                return Err(Error::new(
                    SqlState::UNIQUE_VIOLATION,
                    "duplicate key value violates unique constraint: a concurrent transaction \
                     inserted the same key",
                )
                .with_detail(format!("key bytes {k:02x?}")));
            }
        }
    }
    Ok(())
}

/// Notes what undoes a DDL statement, when it ran inside a transaction block.
fn record_undo(st: &mut State, undo: impl FnOnce() -> Undo) {
    if let Some(t) = st.txn.as_mut() {
        t.undo.push(undo());
    }
}

fn reported_settings(
    settings: &crate::settings::Settings,
) -> std::collections::HashMap<&'static str, String> {
    settings
        .all()
        .filter_map(|(k, v)| crate::settings::reported_name(k).map(|n| (n, v.clone())))
        .collect()
}

fn add_cursor(st: &mut State, name: &str, cursor: crate::cursors::Cursor) -> Result<Output> {
    if st.cursors.contains_key(name) {
        return Err(duplicate_cursor(name));
    }
    st.cursors.insert(name.to_string(), cursor);
    Ok(Output::Command("DECLARE CURSOR".into()))
}

fn duplicate_cursor(name: &str) -> Error {
    Error::new(
        SqlState::DUPLICATE_CURSOR,
        format!("cursor \"{name}\" already exists"),
    )
}

fn no_cursor(name: &str) -> Error {
    Error::new(
        SqlState::INVALID_CURSOR_NAME,
        format!("cursor \"{name}\" does not exist"),
    )
}

/// Checks that the rows a transaction updated or deleted were not changed by a commit since
/// the statement read them (first committer wins, as under PostgreSQL's REPEATABLE READ).
fn validate_unchanged(
    engine: &Engine,
    epoch_started: u64,
    read_keys: &[(eddy_storage::Snapshot, Vec<Vec<u8>>)],
) -> Result<()> {
    if engine.store.epoch_committed() == epoch_started {
        return Ok(());
    }
    let now = engine.store.snapshot();
    for (then, keys) in read_keys {
        for chunk in keys.chunks(8192) {
            if then.multi_get(Cf::Data, chunk)? != now.multi_get(Cf::Data, chunk)? {
                return Err(Error::new(
                    SqlState::SERIALIZATION_FAILURE,
                    "could not serialize access due to concurrent update",
                )
                .with_hint("Another session changed a row this transaction changed; retry it."));
            }
        }
    }
    Ok(())
}

/// Result columns of a plan, named the PostgreSQL way when the query is known.
/// Sets, for each result column that is a table's or view's column passed through unchanged,
/// that relation's OID and the column's number, which RowDescription carries (pgjdbc's
/// `getBaseTableName` and `isNullable`, and BI tools, read them).
pub(crate) fn attribute_sources(
    columns: &mut [Column],
    plan: &LogicalPlan,
    catalog: &eddy_catalog::Catalog,
) {
    for (i, c) in columns.iter_mut().enumerate() {
        let Some((table, column)) = source_column(plan, i) else {
            continue;
        };
        let schema = table.schema().unwrap_or(DEFAULT_SCHEMA);
        let position =
            |cols: &[eddy_catalog::ColumnDef]| cols.iter().position(|c| c.name == column);
        let (id, n) = match catalog.relation(schema, table.table()) {
            Some(eddy_catalog::Relation::Table(t)) => (t.id(), position(&t.def.columns)),
            Some(eddy_catalog::Relation::View(v)) => (v.id(), position(&v.def.columns)),
            None => continue,
        };
        if let Some(n) = n {
            c.table_oid = id;
            c.attnum = n as i16 + 1;
        }
    }
}

/// The relation and column that output column `i` of `plan` reads unchanged, if any.
fn source_column(
    plan: &LogicalPlan,
    i: usize,
) -> Option<(datafusion::common::TableReference, String)> {
    use datafusion::logical_expr::Expr as DfExpr;
    match plan {
        LogicalPlan::Projection(p) => {
            let mut e = p.expr.get(i)?;
            while let DfExpr::Alias(a) = e {
                e = &a.expr;
            }
            let DfExpr::Column(c) = e else {
                return None;
            };
            let j = p.input.schema().index_of_column(c).ok()?;
            source_column(&p.input, j)
        }
        LogicalPlan::Filter(f) => source_column(&f.input, i),
        LogicalPlan::Sort(s) => source_column(&s.input, i),
        LogicalPlan::Limit(l) => source_column(&l.input, i),
        LogicalPlan::SubqueryAlias(a) => source_column(&a.input, i),
        LogicalPlan::TableScan(t) => {
            let f = t.projected_schema.fields().get(i)?;
            Some((t.table_name.clone(), f.name().clone()))
        }
        _ => None,
    }
}

pub(crate) fn columns_of(plan: &LogicalPlan, query: Option<&Query>) -> Vec<Column> {
    let fields = plan.schema().fields();
    let df_names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
    let names = match query {
        Some(q) => crate::names::pg_column_names(q, &df_names),
        None => df_names,
    };
    fields
        .iter()
        .zip(names)
        .map(|(f, n)| Column::new(n, PgType::from_field(f)))
        .collect()
}

fn text_rows(columns: &[&str], rows: Vec<Vec<String>>) -> Output {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let arrays = (0..columns.len())
        .map(|i| {
            Arc::new(StringArray::from(
                rows.iter().map(|r| r[i].clone()).collect::<Vec<_>>(),
            )) as datafusion::arrow::array::ArrayRef
        })
        .collect();
    let batch = RecordBatch::try_new(schema, arrays).expect("text columns");
    Output::Rows {
        columns: Arc::new(
            columns
                .iter()
                .map(|c| Column::new(*c, PgType::Text))
                .collect(),
        ),
        batches: vec![batch],
        tag: "SHOW".into(),
    }
}

fn query_plan_output(lines: Vec<String>) -> Output {
    match text_rows(
        &["QUERY PLAN"],
        lines.into_iter().map(|l| vec![l]).collect(),
    ) {
        Output::Rows {
            columns, batches, ..
        } => Output::Rows {
            columns,
            batches,
            tag: "EXPLAIN".into(),
        },
        other => other,
    }
}

#[async_trait]
impl Session for EddySession {
    type Stmt = Arc<Stmt>;

    fn parse(&self, sql: &str) -> Result<Vec<Arc<Stmt>>> {
        if let Some(pieces) = eddy_sql::subscribe::split(sql) {
            let mut out = vec![];
            for p in pieces {
                match p {
                    Piece::Subscription(s) => out.push(Arc::new(Stmt::Subscribe(s?))),
                    Piece::Sql(text) => out.extend(
                        eddy_sql::parse::parse_statements(&text)?
                            .into_iter()
                            .map(|s| Arc::new(Stmt::Sql(s))),
                    ),
                }
            }
            return Ok(out);
        }
        Ok(eddy_sql::parse::parse_statements(sql)?
            .into_iter()
            .map(|s| Arc::new(Stmt::Sql(s)))
            .collect())
    }

    async fn describe(&self, stmt: &Arc<Stmt>, hints: &[Option<PgType>]) -> Result<Described> {
        let stmt = match stmt.as_ref() {
            Stmt::Sql(s) => s,
            Stmt::Subscribe(SubscribeStmt::Fetch { cursor, .. }) => {
                let st = self.state.lock().await;
                let c = st.cursors.get(cursor).ok_or_else(|| no_cursor(cursor))?;
                return Ok(Described {
                    params: vec![],
                    columns: Some(c.result_columns()),
                });
            }
            Stmt::Subscribe(_) => {
                return Ok(Described {
                    params: vec![],
                    columns: None,
                });
            }
        };
        let st = self.state.lock().await;
        crate::modify::describe(self, &st, stmt, hints).await
    }

    async fn execute(&self, stmt: &Arc<Stmt>, params: Vec<ScalarValue>) -> Result<Output> {
        let stmt = match stmt.as_ref() {
            Stmt::Sql(s) => s,
            Stmt::Subscribe(s) => return self.subscription(s).await,
        };
        let mut st = self.state.lock().await;
        st.copy = None;
        if st.txn.as_ref().is_some_and(|t| t.failed)
            && !matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. })
        {
            return Err(Error::new(
                SqlState::IN_FAILED_SQL_TRANSACTION,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        let r = self.dispatch(&mut st, stmt, params).await;
        self.in_block
            .store(st.txn.is_some(), std::sync::atomic::Ordering::Relaxed);
        self.write_undo_log(&mut st)?;
        self.apply_set_by_function(&mut st);
        if r.is_err()
            && let Some(t) = st.txn.as_mut()
        {
            t.failed = true;
        }
        r
    }

    async fn copy_data(&self, data: Bytes) -> Result<()> {
        let mut st = self.state.lock().await;
        if let Some(c) = st.copy.as_mut() {
            c.feed(&data);
        }
        Ok(())
    }

    async fn copy_done(&self) -> Result<u64> {
        let mut st = self.state.lock().await;
        let Some(copy) = st.copy.take() else {
            return Err(Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "no COPY in progress",
            ));
        };
        let epoch_started = copy.epoch_started();
        let result = copy.finish();
        let r = match result {
            Ok((w, rows)) => {
                if st.txn.is_none() {
                    // Keys were checked against the snapshot the COPY started on; recheck them
                    // if another session committed while the data streamed in.
                    let _g = self.engine.write_lock.lock().await;
                    let keyed = w
                        .bulk_table
                        .as_ref()
                        .is_some_and(|t| t.codec.has_primary_key());
                    let keys = w.set.bulk.keys().filter(|_| keyed);
                    match validate_absent(&self.engine, epoch_started, keys) {
                        Ok(()) => self.apply(&mut st, w, None).await.map(|_| rows),
                        Err(e) => Err(e),
                    }
                } else {
                    self.apply(&mut st, w, None).await.map(|_| rows)
                }
            }
            Err(e) => Err(e),
        };
        if r.is_err()
            && let Some(t) = st.txn.as_mut()
        {
            t.failed = true;
        }
        r
    }

    async fn cursor_columns(&self, name: &str) -> Option<Vec<Column>> {
        let st = self.state.lock().await;
        st.cursors.get(name).map(|c| c.result_columns())
    }

    fn set_backend_pid(&self, pid: i32) {
        self.inbox.set_pid(pid);
    }

    fn take_notifications(&self) -> Vec<eddy_pgwire::Notification> {
        match self.in_block.load(std::sync::atomic::Ordering::Relaxed) {
            true => vec![],
            false => self.inbox.take(),
        }
    }

    fn notification_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.inbox.signal.clone())
    }

    fn time_settings(&self) -> TimeSettings {
        self.time.read().expect("time lock").clone()
    }

    fn startup_parameters(&self) -> Vec<(String, String)> {
        match self.state.try_lock() {
            Ok(st) => crate::settings::startup_parameters(&st.settings),
            Err(_) => crate::settings::startup_parameters(&Default::default()),
        }
    }

    fn take_changed_parameters(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.changed.lock().expect("changed lock"))
    }

    async fn copy_fail(&self, _reason: String) {
        let mut st = self.state.lock().await;
        st.copy = None;
        if let Some(t) = st.txn.as_mut() {
            t.failed = true;
        }
    }
}
