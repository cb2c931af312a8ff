//! The durable catalog: schemas and tables, loaded from the `meta` column family at start and
//! changed only through DDL, which commits the catalog record in the same epoch as any data.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use datafusion::common::DFSchema;
use datafusion::logical_expr::Expr;
use datafusion::prelude::SessionContext;
use eddy_common::{Error, Result, SqlState, TableId};
use eddy_storage::{Cf, Store, WriteSet, table_prefix};

use crate::codec::TableCodec;
use crate::defs::{SchemaDef, SubscriptionDef, TableDef, ViewDef};
use crate::sequences::{NextVal, SequenceDef, Sequences};
use crate::view_codec::ViewCodec;

const SCHEMA_PREFIX: &[u8] = b"cat/schema/";
const TABLE_PREFIX: &[u8] = b"cat/table/";
const VIEW_PREFIX: &[u8] = b"cat/view/";
const SUBSCRIPTION_PREFIX: &[u8] = b"cat/subscription/";
const SEQUENCE_PREFIX: &[u8] = b"cat/sequence/";
/// `COMMENT ON`: key `cat/comment/` + object id (u32 BE) + sub-id (i32 BE: a column's number,
/// 0 for the object itself), value the text.
const COMMENT_PREFIX: &[u8] = b"cat/comment/";
const NEXT_ID_KEY: &[u8] = b"cat/next_id";
const ROWID_PREFIX: &[u8] = b"rowid/";
/// Ids below this are reserved for built-in objects (pg_catalog, information_schema).
const FIRST_USER_ID: u32 = 16384;

/// A table as the engine uses it: its definition plus everything derived from it once.
#[derive(Debug)]
pub struct TableEntry {
    pub def: TableDef,
    pub codec: TableCodec,
    pub defaults: HashMap<String, Expr>,
    /// Next hidden row id for tables without a primary key; shared with the entry a rename
    /// replaces this one with, so a writer still holding the old entry never reuses an id.
    next_rowid: Arc<AtomicU64>,
}

impl TableEntry {
    fn new(def: TableDef, next_rowid: u64, sequences: &Arc<Sequences>) -> Result<TableEntry> {
        let codec = TableCodec::new(&def)?;
        let mut defaults = HashMap::new();
        let ctx = SessionContext::new();
        ctx.register_udf(NextVal::udf(sequences.clone(), None));
        let owned: HashMap<String, TableId> = sequences
            .all()
            .into_iter()
            .filter_map(|s| match s.owned_by {
                Some((t, col)) if t == def.id => Some((col, s.id)),
                _ => None,
            })
            .collect();
        for c in &def.columns {
            if let Some(id) = owned.get(&c.name) {
                // serial and identity columns: their own sequence, by OID.
                defaults.insert(
                    c.name.clone(),
                    NextVal::default_expr(sequences.clone(), *id),
                );
            } else if let Some(sql) = &c.default {
                // `nextval('s'::regclass)` as PostgreSQL shows it: the name is all nextval needs.
                let sql = sql.replace("'::regclass", "'");
                let expr = ctx.parse_sql_expr(&sql, &DFSchema::empty())?;
                defaults.insert(c.name.clone(), expr);
            }
        }
        Ok(TableEntry {
            def,
            codec,
            defaults,
            next_rowid: Arc::new(AtomicU64::new(next_rowid)),
        })
    }

    /// Reserves `n` row ids and records the new high-water mark in `writes`, so ids are never
    /// reused once a commit that used them is durable.
    pub fn allocate_rowids(&self, n: u64, writes: &mut WriteSet) -> u64 {
        let start = self.next_rowid.fetch_add(n, Ordering::Relaxed);
        writes.put(
            Cf::Meta,
            rowid_key(self.def.id),
            (start + n).to_be_bytes().to_vec(),
        );
        start
    }

    pub fn id(&self) -> TableId {
        self.def.id
    }
}

fn rowid_key(id: TableId) -> Vec<u8> {
    let mut k = ROWID_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Every catalog record of one kind (JSON values under `prefix`).
fn read_records<T: serde::de::DeserializeOwned>(
    snap: &eddy_storage::Snapshot,
    prefix: &[u8],
    what: &str,
) -> Result<Vec<T>> {
    let mut out = vec![];
    snap.scan_prefix(Cf::Meta, prefix, |_, v| {
        let r: T = serde_json::from_slice(v)
            .map_err(|e| Error::internal(format!("corrupt {what} record: {e}")))?;
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

fn sequence_key(id: TableId) -> Vec<u8> {
    let mut k = SEQUENCE_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn table_key(id: TableId) -> Vec<u8> {
    let mut k = TABLE_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn view_key(id: TableId) -> Vec<u8> {
    let mut k = VIEW_PREFIX.to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// A view as the engine uses it.
#[derive(Debug)]
pub struct ViewEntry {
    pub def: ViewDef,
    pub codec: ViewCodec,
}

impl ViewEntry {
    pub fn new(def: ViewDef) -> Result<ViewEntry> {
        Ok(ViewEntry {
            codec: ViewCodec::new(&def)?,
            def,
        })
    }

    pub fn id(&self) -> TableId {
        self.def.id
    }

    /// The state table holding the view's error collection (runtime errors with counts).
    pub fn errors_id(&self) -> TableId {
        self.def.id + 1
    }
}

/// Either kind of relation a name can resolve to.
#[derive(Clone, Debug)]
pub enum Relation {
    Table(Arc<TableEntry>),
    View(Arc<ViewEntry>),
}

impl Relation {
    pub fn id(&self) -> TableId {
        match self {
            Relation::Table(t) => t.id(),
            Relation::View(v) => v.id(),
        }
    }
}

fn schema_key(name: &str) -> Vec<u8> {
    let mut k = SCHEMA_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

#[derive(Default)]
struct State {
    schemas: BTreeMap<String, SchemaDef>,
    tables: BTreeMap<(String, String), Arc<TableEntry>>,
    views: BTreeMap<(String, String), Arc<ViewEntry>>,
    subscriptions: BTreeMap<String, SubscriptionDef>,
    /// `COMMENT ON` texts by (object id, column number or 0).
    comments: BTreeMap<(u32, i32), String>,
    next_id: u32,
}

pub struct Catalog {
    store: Store,
    /// Every sequence and where it is; `nextval` and column defaults hold it too.
    pub sequences: Arc<Sequences>,
    state: RwLock<State>,
    /// The subscriptions running now (not durable: they describe connections).
    pub subscribers: Arc<crate::activity::Subscribers>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Catalog")
    }
}

impl Catalog {
    /// Loads the catalog from storage; a new data directory gets `public` (and `pg_catalog`
    /// and `information_schema` are always there, as in PostgreSQL).
    pub fn load(store: Store) -> Result<Catalog> {
        let snap = store.snapshot();
        let mut state = State {
            next_id: FIRST_USER_ID,
            ..State::default()
        };
        snap.scan_prefix(Cf::Meta, COMMENT_PREFIX, |k, v| {
            let id = &k[COMMENT_PREFIX.len()..];
            if id.len() == 8 {
                let obj = u32::from_be_bytes(id[..4].try_into().expect("4 bytes"));
                let sub = i32::from_be_bytes(id[4..].try_into().expect("4 bytes"));
                state
                    .comments
                    .insert((obj, sub), String::from_utf8_lossy(v).into_owned());
            }
            Ok(())
        })?;
        snap.scan_prefix(Cf::Meta, SUBSCRIPTION_PREFIX, |_, v| {
            let s: SubscriptionDef = serde_json::from_slice(v)
                .map_err(|e| Error::internal(format!("corrupt subscription record: {e}")))?;
            state.subscriptions.insert(s.name.clone(), s);
            Ok(())
        })?;
        snap.scan_prefix(Cf::Meta, SCHEMA_PREFIX, |_, v| {
            let s: SchemaDef = serde_json::from_slice(v)
                .map_err(|e| Error::internal(format!("corrupt schema record: {e}")))?;
            state.schemas.insert(s.name.clone(), s);
            Ok(())
        })?;
        let sequences = Arc::new(Sequences::new(store.clone()));
        for s in read_records::<SequenceDef>(&snap, SEQUENCE_PREFIX, "sequence")? {
            sequences.insert(s)?;
        }
        for def in read_records::<TableDef>(&snap, TABLE_PREFIX, "table")? {
            let next = snap
                .get(Cf::Meta, &rowid_key(def.id))?
                .map(|v| u64::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 8])))
                .unwrap_or(1);
            let key = (def.schema.clone(), def.name.clone());
            state
                .tables
                .insert(key, Arc::new(TableEntry::new(def, next, &sequences)?));
        }
        snap.scan_prefix(Cf::Meta, VIEW_PREFIX, |_, v| {
            let d: ViewDef = serde_json::from_slice(v)
                .map_err(|e| Error::internal(format!("corrupt view record: {e}")))?;
            let key = (d.schema.clone(), d.name.clone());
            state.views.insert(key, Arc::new(ViewEntry::new(d)?));
            Ok(())
        })?;
        if let Some(v) = snap.get(Cf::Meta, NEXT_ID_KEY)? {
            state.next_id = u32::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 4]));
        }
        let catalog = Catalog {
            store,
            sequences,
            state: RwLock::new(state),
            subscribers: Default::default(),
        };
        if !catalog.schema_exists(crate::DEFAULT_SCHEMA) {
            catalog.create_schema(crate::DEFAULT_SCHEMA, false)?;
        }
        Ok(catalog)
    }

    pub fn schema_exists(&self, name: &str) -> bool {
        self.state
            .read()
            .expect("catalog lock")
            .schemas
            .contains_key(name)
    }

    pub fn schemas(&self) -> Vec<SchemaDef> {
        self.state
            .read()
            .expect("catalog lock")
            .schemas
            .values()
            .cloned()
            .collect()
    }

    pub fn table(&self, schema: &str, name: &str) -> Option<Arc<TableEntry>> {
        let state = self.state.read().expect("catalog lock");
        state
            .tables
            .get(&(schema.to_string(), name.to_string()))
            .cloned()
    }

    pub fn tables_in(&self, schema: &str) -> Vec<Arc<TableEntry>> {
        let state = self.state.read().expect("catalog lock");
        state
            .tables
            .values()
            .filter(|t| t.def.schema == schema)
            .cloned()
            .collect()
    }

    pub fn all_tables(&self) -> Vec<Arc<TableEntry>> {
        self.state
            .read()
            .expect("catalog lock")
            .tables
            .values()
            .cloned()
            .collect()
    }

    fn take_id(state: &mut State, writes: &mut WriteSet) -> u32 {
        let id = state.next_id;
        state.next_id += 1;
        writes.put(
            Cf::Meta,
            NEXT_ID_KEY.to_vec(),
            state.next_id.to_be_bytes().to_vec(),
        );
        id
    }

    /// Creates a schema. Callers hold the coordinator's commit lock.
    pub fn create_schema(&self, name: &str, if_not_exists: bool) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        if state.schemas.contains_key(name) || is_builtin_schema(name) {
            if if_not_exists {
                return Ok(());
            }
            return Err(Error::new(
                SqlState::DUPLICATE_SCHEMA,
                format!("schema \"{name}\" already exists"),
            ));
        }
        let mut writes = WriteSet::default();
        let def = SchemaDef {
            id: Self::take_id(&mut state, &mut writes),
            name: name.to_string(),
        };
        writes.put(
            Cf::Meta,
            schema_key(name),
            serde_json::to_vec(&def).expect("serializable"),
        );
        let _epoch = self.store.commit(writes)?;
        state.schemas.insert(name.to_string(), def);
        Ok(())
    }

    pub fn create_subscription(&self, def: SubscriptionDef) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        if state.subscriptions.contains_key(&def.name) {
            return Err(Error::new(
                SqlState::DUPLICATE_OBJECT,
                format!("subscription \"{}\" already exists", def.name),
            ));
        }
        let mut writes = WriteSet::default();
        writes.put(
            Cf::Meta,
            subscription_key(&def.name),
            serde_json::to_vec(&def).expect("serializable"),
        );
        let _epoch = self.store.commit(writes)?;
        state.subscriptions.insert(def.name.clone(), def);
        Ok(())
    }

    pub fn drop_subscription(&self, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        if !state.subscriptions.contains_key(name) {
            if if_exists {
                return Ok(());
            }
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("subscription \"{name}\" does not exist"),
            ));
        }
        let mut writes = WriteSet::default();
        writes.delete(Cf::Meta, subscription_key(name));
        let _epoch = self.store.commit(writes)?;
        state.subscriptions.remove(name);
        Ok(())
    }

    /// Sets (or with None removes) the comment on an object (`sub` 0) or one of its columns;
    /// returns the comment it replaces. Callers hold the commit lock.
    pub fn set_comment(&self, obj: u32, sub: i32, text: Option<&str>) -> Result<Option<String>> {
        let mut key = COMMENT_PREFIX.to_vec();
        key.extend_from_slice(&obj.to_be_bytes());
        key.extend_from_slice(&sub.to_be_bytes());
        let mut writes = WriteSet::default();
        match text {
            Some(t) => writes.put(Cf::Meta, key, t.as_bytes().to_vec()),
            None => writes.delete(Cf::Meta, key),
        }
        let _epoch = self.store.commit(writes)?;
        let mut state = self.state.write().expect("catalog lock");
        Ok(match text {
            Some(t) => state.comments.insert((obj, sub), t.to_string()),
            None => state.comments.remove(&(obj, sub)),
        })
    }

    /// Every comment: ((object id, column number or 0), text). A comment outlives a dropped
    /// object unseen: ids are never reused, and readers only show comments of what exists.
    pub fn comments(&self) -> Vec<((u32, i32), String)> {
        let state = self.state.read().expect("catalog lock");
        state
            .comments
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }

    pub fn subscription(&self, name: &str) -> Option<SubscriptionDef> {
        let state = self.state.read().expect("catalog lock");
        state.subscriptions.get(name).cloned()
    }

    pub fn subscriptions(&self) -> Vec<SubscriptionDef> {
        let state = self.state.read().expect("catalog lock");
        state.subscriptions.values().cloned().collect()
    }

    /// Drops an empty schema (or, with `cascade`, its tables too).
    pub fn drop_schema(&self, name: &str, if_exists: bool, cascade: bool) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        if !state.schemas.contains_key(name) {
            if if_exists {
                return Ok(());
            }
            return Err(Error::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{name}\" does not exist"),
            ));
        }
        let tables: Vec<_> = state
            .tables
            .keys()
            .filter(|(s, _)| s == name)
            .cloned()
            .collect();
        let views: Vec<_> = state
            .views
            .keys()
            .filter(|(s, _)| s == name)
            .cloned()
            .collect();
        if !views.is_empty() {
            return Err(Error::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because views depend on it"),
            )
            .with_hint("Drop the schema's views first."));
        }
        let table_ids: Vec<TableId> = tables.iter().map(|k| state.tables[k].id()).collect();
        // The schema's sequences, and those its tables own wherever they are.
        let sequences: Vec<TableId> = (self.sequences.all().into_iter())
            .filter(|q| {
                q.schema == name
                    || q.owned_by
                        .as_ref()
                        .is_some_and(|(t, _)| table_ids.contains(t))
            })
            .map(|q| q.id)
            .collect();
        if (!tables.is_empty() || !sequences.is_empty()) && !cascade {
            return Err(Error::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {name} because other objects depend on it"),
            )
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        let mut writes = WriteSet::default();
        for key in &tables {
            let entry = &state.tables[key];
            writes.delete(Cf::Meta, table_key(entry.def.id));
            writes.delete_range(Cf::Data, table_prefix(entry.def.id).to_vec());
            writes.delete_range(Cf::Data, crate::changelog::prefix(entry.def.id));
        }
        for id in &sequences {
            writes.delete(Cf::Meta, sequence_key(*id));
        }
        writes.delete(Cf::Meta, schema_key(name));
        let _epoch = self.store.commit(writes)?;
        for key in tables {
            state.tables.remove(&key);
        }
        for id in sequences {
            self.sequences.remove(id)?;
        }
        state.schemas.remove(name);
        Ok(())
    }

    /// Creates a table; `def.id` is assigned here. Callers hold the commit lock.
    pub fn create_table(&self, def: TableDef, if_not_exists: bool) -> Result<bool> {
        self.create_table_with_sequences(def, vec![], if_not_exists)
    }

    /// Creates a table with the sequences its `serial` and identity columns own (each
    /// `owned_by` names its column; the table id is filled in here), in one commit.
    pub fn create_table_with_sequences(
        &self,
        mut def: TableDef,
        mut sequences: Vec<SequenceDef>,
        if_not_exists: bool,
    ) -> Result<bool> {
        let mut state = self.state.write().expect("catalog lock");
        if !state.schemas.contains_key(&def.schema) {
            return Err(Error::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{}\" does not exist", def.schema),
            ));
        }
        let key = (def.schema.clone(), def.name.clone());
        if self.name_taken(&state, &def.schema, &def.name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{}\" already exists", def.name),
            ));
        }
        for s in &sequences {
            if self.name_taken(&state, &s.schema, &s.name) {
                return Err(Error::new(
                    SqlState::DUPLICATE_TABLE,
                    format!("relation \"{}\" already exists", s.name),
                ));
            }
        }
        let mut writes = WriteSet::default();
        def.id = Self::take_id(&mut state, &mut writes);
        if let Some(h) = def.history.as_mut() {
            // The table is created empty in this commit's epoch; its history starts there.
            h.since_epoch = self.store.epoch_committed() + 1;
        }
        for s in &mut sequences {
            s.id = Self::take_id(&mut state, &mut writes);
            if let Some(owner) = s.owned_by.as_mut() {
                owner.0 = def.id;
            }
            s.validate()?;
            writes.put(
                Cf::Meta,
                sequence_key(s.id),
                serde_json::to_vec(&s).expect("json"),
            );
        }
        for s in &sequences {
            self.sequences.insert(s.clone())?;
        }
        // Plan the entry (defaults, codec) before committing so a bad DEFAULT fails cleanly.
        let entry = match TableEntry::new(def, 1, &self.sequences) {
            Ok(e) => e,
            Err(e) => {
                for s in &sequences {
                    self.sequences.remove(s.id)?;
                }
                return Err(e);
            }
        };
        writes.put(
            Cf::Meta,
            table_key(entry.def.id),
            serde_json::to_vec(&entry.def).expect("json"),
        );
        let _epoch = self.store.commit(writes)?;
        state.tables.insert(key, Arc::new(entry));
        Ok(true)
    }

    /// Drops a table and its rows. Callers hold the commit lock.
    pub fn drop_table(&self, schema: &str, name: &str, if_exists: bool) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        let key = (schema.to_string(), name.to_string());
        let Some(entry) = state.tables.get(&key).cloned() else {
            if if_exists {
                return Ok(());
            }
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("table \"{name}\" does not exist"),
            ));
        };
        refuse_dependents(&state, entry.id(), name, "table")?;
        let mut writes = WriteSet::default();
        writes.delete(Cf::Meta, table_key(entry.def.id));
        writes.delete(Cf::Meta, rowid_key(entry.def.id));
        writes.delete_range(Cf::Data, table_prefix(entry.def.id).to_vec());
        writes.delete_range(Cf::Data, crate::changelog::prefix(entry.def.id));
        let owned: Vec<TableId> = (self.sequences.all().into_iter())
            .filter(|s| s.owned_by.as_ref().is_some_and(|(t, _)| *t == entry.id()))
            .map(|s| s.id)
            .collect();
        for id in &owned {
            writes.delete(Cf::Meta, sequence_key(*id));
        }
        let _epoch = self.store.commit(writes)?;
        for id in owned {
            self.sequences.remove(id)?;
        }
        state.tables.remove(&key);
        Ok(())
    }
}

impl Catalog {
    /// `ALTER TABLE t SET (retain_history = ...)`: `None` stops keeping the table's changes
    /// and deletes those kept. A table that already keeps them keeps its start epoch when only
    /// the retention changes. Callers hold the commit lock.
    pub fn set_table_history(
        &self,
        schema: &str,
        name: &str,
        retention_secs: Option<u64>,
    ) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        let key = (schema.to_string(), name.to_string());
        let Some(t) = state.tables.get(&key).cloned() else {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            ));
        };
        let mut def = t.def.clone();
        let mut writes = WriteSet::default();
        def.history = match (retention_secs, &t.def.history) {
            (None, _) => {
                writes.delete_range(Cf::Data, crate::changelog::prefix(def.id));
                None
            }
            (Some(secs), Some(h)) => Some(crate::defs::History {
                retention_secs: secs,
                since_epoch: h.since_epoch,
            }),
            // This commit is the next epoch; the changes after it are kept.
            (Some(secs), None) => Some(crate::defs::History {
                retention_secs: secs,
                since_epoch: self.store.epoch_committed() + 1,
            }),
        };
        writes.put(
            Cf::Meta,
            table_key(def.id),
            serde_json::to_vec(&def).expect("json"),
        );
        let mut entry = TableEntry::new(def, 0, &self.sequences)?;
        entry.next_rowid = t.next_rowid.clone();
        self.store.commit(writes)?;
        state.tables.insert(key, Arc::new(entry));
        Ok(())
    }

    /// Whether any table keeps its changes: checked at every commit, so it allocates nothing.
    pub fn has_table_history(&self) -> bool {
        let state = self.state.read().expect("catalog lock");
        state.tables.values().any(|t| t.def.history.is_some())
    }

    /// The tables that keep their changes (`retain_history`).
    pub fn history_tables(&self) -> Vec<Arc<TableEntry>> {
        let state = self.state.read().expect("catalog lock");
        (state.tables.values())
            .filter(|t| t.def.history.is_some())
            .cloned()
            .collect()
    }

    /// `ALTER TABLE|VIEW|MATERIALIZED VIEW old RENAME TO new`. Views name what they read in
    /// their stored SQL, so a relation that others read keeps its name. Callers hold the commit
    /// lock.
    pub fn rename_relation(&self, schema: &str, old: &str, new: &str) -> Result<()> {
        let mut state = self.state.write().expect("catalog lock");
        let old_key = (schema.to_string(), old.to_string());
        let new_key = (schema.to_string(), new.to_string());
        if self.name_taken(&state, schema, new) {
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{new}\" already exists"),
            ));
        }
        let id = match (state.tables.get(&old_key), state.views.get(&old_key)) {
            (Some(t), _) => t.id(),
            (_, Some(v)) => v.id(),
            _ => {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{old}\" does not exist"),
                ));
            }
        };
        if let Some(d) = dependents_of(&state, id).first() {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "cannot rename \"{old}\": view \"{}\" depends on it",
                    d.def.name
                ),
            )
            .with_hint("Drop the dependent views first, or create them again after the rename."));
        }
        let mut writes = WriteSet::default();
        if let Some(t) = state.tables.get(&old_key).cloned() {
            let mut def = t.def.clone();
            def.name = new.to_string();
            writes.put(
                Cf::Meta,
                table_key(id),
                serde_json::to_vec(&def).expect("json"),
            );
            let mut entry = TableEntry::new(def, 0, &self.sequences)?;
            entry.next_rowid = t.next_rowid.clone();
            self.store.commit(writes)?;
            state.tables.remove(&old_key);
            state.tables.insert(new_key, Arc::new(entry));
        } else if let Some(v) = state.views.get(&old_key).cloned() {
            let mut def = v.def.clone();
            def.name = new.to_string();
            writes.put(
                Cf::Meta,
                view_key(id),
                serde_json::to_vec(&def).expect("json"),
            );
            let entry = ViewEntry::new(def)?;
            self.store.commit(writes)?;
            state.views.remove(&old_key);
            state.views.insert(new_key, Arc::new(entry));
        }
        Ok(())
    }

    pub fn view(&self, schema: &str, name: &str) -> Option<Arc<ViewEntry>> {
        let state = self.state.read().expect("catalog lock");
        state
            .views
            .get(&(schema.to_string(), name.to_string()))
            .cloned()
    }

    pub fn relation(&self, schema: &str, name: &str) -> Option<Relation> {
        let key = (schema.to_string(), name.to_string());
        let state = self.state.read().expect("catalog lock");
        if let Some(t) = state.tables.get(&key) {
            return Some(Relation::Table(t.clone()));
        }
        state.views.get(&key).map(|v| Relation::View(v.clone()))
    }

    pub fn relation_by_id(&self, id: TableId) -> Option<Relation> {
        let state = self.state.read().expect("catalog lock");
        if let Some(t) = state.tables.values().find(|t| t.id() == id) {
            return Some(Relation::Table(t.clone()));
        }
        state
            .views
            .values()
            .find(|v| v.id() == id)
            .map(|v| Relation::View(v.clone()))
    }

    /// Every view, oldest first: a view can only read views created before it, so this order
    /// is a topological order of the dataflow.
    pub fn all_views(&self) -> Vec<Arc<ViewEntry>> {
        let state = self.state.read().expect("catalog lock");
        let mut v: Vec<_> = state.views.values().cloned().collect();
        v.sort_by_key(|v| v.id());
        v
    }

    /// Whether any view of that kind exists: checked on every commit and every plan, so it
    /// looks without copying the catalog.
    pub fn has_views(&self, materialized: bool) -> bool {
        let state = self.state.read().expect("catalog lock");
        state
            .views
            .values()
            .any(|v| v.def.materialized == materialized)
    }

    pub fn views_in(&self, schema: &str) -> Vec<Arc<ViewEntry>> {
        let state = self.state.read().expect("catalog lock");
        state
            .views
            .values()
            .filter(|v| v.def.schema == schema)
            .cloned()
            .collect()
    }

    /// Reserves `n` consecutive ids (a view and its state tables) and records the new
    /// high-water mark in `writes`. Ids of a creation that fails are simply never used.
    pub fn reserve_ids(&self, n: u32, writes: &mut WriteSet) -> TableId {
        let mut state = self.state.write().expect("catalog lock");
        let first = state.next_id;
        state.next_id += n;
        writes.put(
            Cf::Meta,
            NEXT_ID_KEY.to_vec(),
            state.next_id.to_be_bytes().to_vec(),
        );
        first
    }

    /// Errors unless `schema.name` is free for a new relation.
    pub fn check_new_relation(&self, schema: &str, name: &str) -> Result<()> {
        let state = self.state.read().expect("catalog lock");
        if !state.schemas.contains_key(schema) {
            return Err(Error::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{schema}\" does not exist"),
            ));
        }
        if self.name_taken(&state, schema, name) {
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        Ok(())
    }

    /// Whether a table, view or sequence has this name: they share one namespace.
    fn name_taken(&self, state: &State, schema: &str, name: &str) -> bool {
        let key = (schema.to_string(), name.to_string());
        state.tables.contains_key(&key)
            || state.views.contains_key(&key)
            || self
                .sequences
                .all()
                .iter()
                .any(|s| s.schema == schema && s.name == name)
    }

    /// `CREATE SEQUENCE`; the id is assigned here. Callers hold the commit lock.
    pub fn create_sequence(&self, mut def: SequenceDef, if_not_exists: bool) -> Result<bool> {
        let mut state = self.state.write().expect("catalog lock");
        if !state.schemas.contains_key(&def.schema) {
            return Err(Error::new(
                SqlState::INVALID_SCHEMA_NAME,
                format!("schema \"{}\" does not exist", def.schema),
            ));
        }
        if self.name_taken(&state, &def.schema, &def.name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{}\" already exists", def.name),
            ));
        }
        def.validate()?;
        let mut writes = WriteSet::default();
        def.id = Self::take_id(&mut state, &mut writes);
        writes.put(
            Cf::Meta,
            sequence_key(def.id),
            serde_json::to_vec(&def).expect("json"),
        );
        self.store.commit(writes)?;
        self.sequences.insert(def)?;
        Ok(true)
    }

    /// `DROP SEQUENCE`: one a column owns goes only with its table. Callers hold the commit lock.
    pub fn drop_sequence(&self, schema: &str, name: &str, if_exists: bool) -> Result<()> {
        let state = self.state.write().expect("catalog lock");
        let Some(def) = self
            .sequences
            .all()
            .into_iter()
            .find(|s| s.schema == schema && s.name == name)
        else {
            if if_exists {
                return Ok(());
            }
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("sequence \"{name}\" does not exist"),
            ));
        };
        if let Some((table, column)) = &def.owned_by
            && let Some(t) = state.tables.values().find(|t| t.id() == *table)
        {
            return Err(Error::new(
                SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop sequence {name} because other objects depend on it"),
            )
            .with_detail(format!(
                "default value for column {column} of table {} depends on sequence {name}",
                t.def.name
            ))
            .with_hint("Drop the table, or the column's default, first."));
        }
        let mut writes = WriteSet::default();
        writes.delete(Cf::Meta, sequence_key(def.id));
        self.store.commit(writes)?;
        self.sequences.remove(def.id)?;
        Ok(())
    }

    /// Creates a view, committing its record together with `writes` (its backfilled rows and
    /// state) as one epoch. Callers hold the commit lock.
    pub fn create_view(&self, mut def: ViewDef, mut writes: WriteSet) -> Result<Arc<ViewEntry>> {
        self.check_new_relation(&def.schema, &def.name)?;
        // The caller holds the commit lock: the next epoch is this one. A view built as of an
        // earlier epoch (`SUBSCRIBE (query) AS OF`) comes with that epoch and its changelog.
        if def.created_epoch == 0 {
            def.created_epoch = self.store.epoch_committed() + 1;
        }
        let entry = Arc::new(ViewEntry::new(def)?);
        writes.put(
            Cf::Meta,
            view_key(entry.id()),
            serde_json::to_vec(&entry.def).expect("json"),
        );
        let _epoch = self.store.commit(writes)?;
        let key = (entry.def.schema.clone(), entry.def.name.clone());
        let mut state = self.state.write().expect("catalog lock");
        state.views.insert(key, entry.clone());
        Ok(entry)
    }

    /// The last committed epoch.
    pub fn epoch_committed(&self) -> u64 {
        self.store.epoch_committed()
    }

    /// Views that read `id` directly.
    pub fn dependents(&self, id: TableId) -> Vec<Arc<ViewEntry>> {
        let state = self.state.read().expect("catalog lock");
        dependents_of(&state, id)
    }

    /// Drops views (already ordered dependents-first by the caller) with their rows and state,
    /// in one commit. Callers hold the commit lock.
    pub fn drop_views(&self, views: &[Arc<ViewEntry>]) -> Result<()> {
        let mut writes = WriteSet::default();
        for v in views {
            writes.delete(Cf::Meta, view_key(v.id()));
            for id in v.id()..=v.id() + v.def.state_count {
                writes.delete_range(Cf::Data, table_prefix(id).to_vec());
            }
            writes.delete_range(Cf::Data, crate::changelog::prefix(v.id()));
        }
        let dropped: Vec<TableId> = views.iter().map(|v| v.id()).collect();
        let subs: Vec<String> = self
            .state
            .read()
            .expect("catalog lock")
            .subscriptions
            .values()
            .filter(|s| dropped.contains(&s.view))
            .map(|s| s.name.clone())
            .collect();
        for name in &subs {
            writes.delete(Cf::Meta, subscription_key(name));
        }
        let _epoch = self.store.commit(writes)?;
        let mut state = self.state.write().expect("catalog lock");
        for v in views {
            state
                .views
                .remove(&(v.def.schema.clone(), v.def.name.clone()));
        }
        for name in &subs {
            state.subscriptions.remove(name);
        }
        Ok(())
    }
}

fn subscription_key(name: &str) -> Vec<u8> {
    let mut k = SUBSCRIPTION_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

fn dependents_of(state: &State, id: TableId) -> Vec<Arc<ViewEntry>> {
    state
        .views
        .values()
        .filter(|v| v.def.inputs.contains(&id))
        .cloned()
        .collect()
}

fn refuse_dependents(state: &State, id: TableId, name: &str, kind: &str) -> Result<()> {
    let deps = dependents_of(state, id);
    if let Some(d) = deps.first() {
        return Err(Error::new(
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop {kind} {name} because other objects depend on it"),
        )
        .with_detail(format!(
            "materialized view {} depends on {kind} {name}",
            d.def.name
        ))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    Ok(())
}

pub fn is_builtin_schema(name: &str) -> bool {
    matches!(name, "pg_catalog" | "information_schema")
}
