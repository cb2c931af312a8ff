//! DataFusion's view of Eddy's catalog: every table scan reads the statement's storage snapshot,
//! overlaid with the session's uncommitted transaction writes.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, BinaryArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::memory::MemorySourceConfig;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use eddy_common::{Error, Result};
use eddy_storage::{Cf, Snapshot, WriteSet, row_key, table_prefix};

use crate::catalog::{Catalog, Relation, TableEntry, ViewEntry};
use crate::codec::ROW_KEY_COLUMN;

/// Rows decoded per Arrow batch during a scan.
const ROWS_PER_BATCH_MAX: usize = 8192;

/// What one statement reads: a committed snapshot plus, inside a transaction, the session's own
/// uncommitted writes (read-your-writes).
#[derive(Clone)]
pub struct ReadContext {
    pub snapshot: Snapshot,
    pub overlay: Option<Arc<WriteSet>>,
    /// Adds the hidden row-key column to every table: set only while planning UPDATE/DELETE.
    pub expose_row_key: bool,
}

impl ReadContext {
    /// The current value of a data key: the overlay wins over the snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(o) = &self.overlay {
            if let Some(v) = o.get(Cf::Data, key) {
                return Ok(v.clone());
            }
            if truncated(o, key) {
                return Ok(None);
            }
        }
        self.snapshot.get(Cf::Data, key)
    }

    /// Current values of many data keys, in order.
    pub fn multi_get<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.multi_get_opt(keys, false)
    }

    /// `multi_get` for keys in increasing order.
    pub fn multi_get_sorted<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Vec<u8>>>> {
        self.multi_get_opt(keys, true)
    }

    fn multi_get_opt<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        sorted: bool,
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = if sorted {
            self.snapshot.multi_get_sorted(Cf::Data, keys)?
        } else {
            self.snapshot.multi_get(Cf::Data, keys)?
        };
        if let Some(o) = &self.overlay {
            for (i, k) in keys.iter().enumerate() {
                if let Some(v) = o.get(Cf::Data, k.as_ref()) {
                    out[i] = v.clone();
                } else if truncated(o, k.as_ref()) {
                    out[i] = None;
                }
            }
        }
        Ok(out)
    }

    /// Every current (key, value) of a table, overlay applied, in key order.
    pub fn scan_table(
        &self,
        entry: &TableEntry,
        f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        self.scan_id(entry.id(), f)
    }

    /// Every current (key, value) stored under table (or view, or state table) `id`.
    pub fn scan_id(
        &self,
        id: eddy_common::TableId,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let prefix = table_prefix(id);
        let pending: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = match &self.overlay {
            Some(o) => o.range_with_prefix(Cf::Data, &prefix).collect(),
            None => vec![],
        };
        let dropped = self
            .overlay
            .as_ref()
            .is_some_and(|o| o.data_prefix_deletes.iter().any(|p| prefix.starts_with(p)));
        let mut next = 0;
        if !dropped {
            self.snapshot.scan_prefix(Cf::Data, &prefix, |k, v| {
                while next < pending.len() && pending[next].0.as_slice() < k {
                    if let Some(pv) = pending[next].1 {
                        f(pending[next].0, pv)?;
                    }
                    next += 1;
                }
                if next < pending.len() && pending[next].0.as_slice() == k {
                    if let Some(pv) = pending[next].1 {
                        f(k, pv)?;
                    }
                    next += 1;
                    return Ok(());
                }
                f(k, v)
            })?;
        }
        for (k, v) in &pending[next..] {
            if let Some(v) = v {
                f(k, v)?;
            }
        }
        Ok(())
    }
}

/// Whether the overlay deleted the whole range `key` lies in (a TRUNCATE or DROP).
fn truncated(overlay: &WriteSet, key: &[u8]) -> bool {
    overlay
        .data_prefix_deletes
        .iter()
        .any(|p| key.starts_with(p))
}

/// The per-session place where the running statement's `ReadContext` is put before planning.
#[derive(Clone, Default)]
pub struct ReadSlot(Arc<RwLock<Option<ReadContext>>>);

impl ReadSlot {
    pub fn set(&self, ctx: ReadContext) {
        *self.0.write().expect("read slot") = Some(ctx);
    }

    pub fn set_expose_row_key(&self, on: bool) {
        if let Some(c) = self.0.write().expect("read slot").as_mut() {
            c.expose_row_key = on;
        }
    }

    pub fn get(&self) -> Result<ReadContext> {
        self.0
            .read()
            .expect("read slot")
            .clone()
            .ok_or_else(|| Error::internal("table read outside of a statement"))
    }
}

#[derive(Debug)]
pub struct EddyCatalogProvider {
    catalog: Arc<Catalog>,
    slot: ReadSlot,
    session: Option<crate::system::SessionSource>,
}

impl std::fmt::Debug for ReadSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadSlot")
    }
}

impl EddyCatalogProvider {
    pub fn new(catalog: Arc<Catalog>, slot: ReadSlot) -> Self {
        EddyCatalogProvider {
            catalog,
            slot,
            session: None,
        }
    }

    /// Where `pg_settings` and `pg_proc` read the session's settings and functions from.
    pub fn with_session(mut self, session: crate::system::SessionSource) -> Self {
        self.session = Some(session);
        self
    }
}

impl CatalogProvider for EddyCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.catalog.schemas().into_iter().map(|s| s.name).collect();
        names.push(crate::system::PG_CATALOG.to_string());
        names.push(crate::system::INFORMATION_SCHEMA.to_string());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(system) = crate::system::is_system_schema(name) {
            return Some(Arc::new(
                crate::system::SystemSchema::new(system, self.catalog.clone())
                    .with_session(self.session.clone()),
            ));
        }
        if !self.catalog.schema_exists(name) {
            return None;
        }
        Some(Arc::new(EddySchemaProvider {
            catalog: self.catalog.clone(),
            slot: self.slot.clone(),
            schema: name.to_string(),
            session: self.session.clone(),
        }))
    }
}

#[derive(Debug)]
struct EddySchemaProvider {
    catalog: Arc<Catalog>,
    slot: ReadSlot,
    schema: String,
    session: Option<crate::system::SessionSource>,
}

#[async_trait]
impl SchemaProvider for EddySchemaProvider {
    fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .catalog
            .tables_in(&self.schema)
            .iter()
            .map(|t| t.def.name.clone())
            .collect();
        names.extend(
            self.catalog
                .views_in(&self.schema)
                .iter()
                .map(|v| v.def.name.clone()),
        );
        names
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        let Some(rel) = self.catalog.relation(&self.schema, name) else {
            // A bare name that is no relation of the default schema may be a system table,
            // found through the `pg_catalog` that is implicitly on PostgreSQL's search path.
            if self.schema == crate::DEFAULT_SCHEMA && crate::system::is_pg_catalog_table(name) {
                return crate::system::system_table(
                    &self.catalog,
                    crate::system::PG_CATALOG,
                    name,
                    self.session.as_ref(),
                )
                .map_err(|e| DataFusionError::External(Box::new(e)));
            }
            return sequence_row(&self.catalog, &self.schema, name);
        };
        let ctx = self
            .slot
            .get()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Ok(Some(match rel {
            Relation::Table(entry) => Arc::new(EddyTable::new(entry, ctx)),
            // Plain views are expanded before planning; only materialized ones are read.
            Relation::View(entry) if !entry.def.materialized => return Ok(None),
            Relation::View(entry) => Arc::new(EddyView { entry, ctx }),
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.catalog.relation(&self.schema, name).is_some()
            || self.catalog.sequences.find(&self.schema, name).is_some()
            || (self.schema == crate::DEFAULT_SCHEMA && crate::system::is_pg_catalog_table(name))
    }
}

/// `SELECT * FROM seq`: a sequence read as a relation is one row of where it stands, as in
/// PostgreSQL. `log_cnt` (values PostgreSQL has logged ahead in its WAL) is always 0: Eddy
/// logs each value it hands out.
fn sequence_row(
    catalog: &Catalog,
    schema: &str,
    name: &str,
) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
    use datafusion::arrow::array::{BooleanArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let seqs = &catalog.sequences;
    let Some(def) = seqs.find(schema, name) else {
        return Ok(None);
    };
    let Some((last, is_called)) = seqs.position(def.id) else {
        return Ok(None);
    };
    let fields = Schema::new(vec![
        Field::new("last_value", DataType::Int64, false),
        Field::new("log_cnt", DataType::Int64, false),
        Field::new("is_called", DataType::Boolean, false),
    ]);
    let batch = datafusion::arrow::array::RecordBatch::try_new(
        Arc::new(fields),
        vec![
            Arc::new(Int64Array::from(vec![last])),
            Arc::new(Int64Array::from(vec![0])),
            Arc::new(BooleanArray::from(vec![is_called])),
        ],
    )?;
    let table = datafusion::datasource::MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    Ok(Some(Arc::new(table)))
}

/// One table as read by one statement.
#[derive(Debug)]
pub struct EddyTable {
    entry: Arc<TableEntry>,
    ctx: ReadContext,
    schema: SchemaRef,
}

impl std::fmt::Debug for ReadContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadContext(epoch {})", self.snapshot.epoch())
    }
}

impl EddyTable {
    pub fn new(entry: Arc<TableEntry>, ctx: ReadContext) -> Self {
        let base = entry.codec.schema();
        let schema = if ctx.expose_row_key {
            let mut fields: Vec<_> = base.fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new(
                ROW_KEY_COLUMN,
                DataType::Binary,
                false,
            )));
            Arc::new(Schema::new(fields))
        } else {
            base.clone()
        };
        EddyTable { entry, ctx, schema }
    }

    /// If `filters` pin the (single-column) primary key to literal values, their storage keys.
    fn point_keys(&self, filters: &[Expr]) -> Option<Vec<Vec<u8>>> {
        let pk = self.entry.codec.primary_key_columns();
        if pk.len() != 1 {
            return None;
        }
        let pk_name = &self.entry.def.columns[pk[0]].name;
        filters.iter().find_map(|f| {
            let literals = pk_literals(f, pk_name)?;
            let dt = self.entry.codec.schema().field(pk[0]).data_type().clone();
            let mut keys = Vec::with_capacity(literals.len());
            for lit in literals {
                if lit.is_null() {
                    continue; // `pk = NULL` matches nothing
                }
                let v = lit.cast_to(&dt).ok()?.to_array().ok()?;
                let rows = self.entry.codec.encode_key_arrays(&[v]).ok()?;
                keys.push(row_key(self.entry.id(), rows.row(0).data()));
            }
            Some(keys)
        })
    }

    fn read(&self, filters: &[Expr]) -> Result<Vec<RecordBatch>> {
        let mut keys = vec![];
        let mut values = vec![];
        if let Some(point) = self.point_keys(filters) {
            for (k, v) in point.iter().zip(self.ctx.multi_get(&point)?) {
                if let Some(v) = v {
                    keys.push(k.clone());
                    values.push(v);
                }
            }
        } else {
            let want_keys = self.ctx.expose_row_key;
            self.ctx.scan_table(&self.entry, |k, v| {
                if want_keys {
                    keys.push(k.to_vec());
                }
                values.push(v.to_vec());
                Ok(())
            })?;
        }
        let mut batches = Vec::with_capacity(values.len() / ROWS_PER_BATCH_MAX + 1);
        for (i, chunk) in values.chunks(ROWS_PER_BATCH_MAX).enumerate() {
            let batch = self
                .entry
                .codec
                .decode_values(chunk.iter().map(|v| v.as_slice()))?;
            let batch = if self.ctx.expose_row_key {
                let start = i * ROWS_PER_BATCH_MAX;
                let key_col: ArrayRef = Arc::new(BinaryArray::from_iter_values(
                    keys[start..start + chunk.len()].iter(),
                ));
                let mut cols = batch.columns().to_vec();
                cols.push(key_col);
                RecordBatch::try_new(self.schema.clone(), cols)?
            } else {
                batch
            };
            batches.push(batch);
        }
        Ok(batches)
    }
}

/// `col = lit`, `lit = col` or `col IN (lits)` on column `name`: the literals.
fn pk_literals(e: &Expr, name: &str) -> Option<Vec<ScalarValue>> {
    let is_col = |e: &Expr| matches!(e, Expr::Column(c) if c.name == name);
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (l, Expr::Literal(v, _)) if is_col(l) => Some(vec![v.clone()]),
            (Expr::Literal(v, _), r) if is_col(r) => Some(vec![v.clone()]),
            _ => None,
        },
        Expr::InList(il) if !il.negated && is_col(&il.expr) => il
            .list
            .iter()
            .map(|x| match x {
                Expr::Literal(v, _) => Some(v.clone()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

#[async_trait]
impl TableProvider for EddyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.entry.defaults.get(column)
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        let pk = self.entry.codec.primary_key_columns();
        Ok(filters
            .iter()
            .map(|f| {
                // The scan uses a primary-key filter to do point reads; DataFusion still
                // re-applies it (Inexact), so the scan never has to be exact.
                if pk.len() == 1 && pk_literals(f, &self.entry.def.columns[pk[0]].name).is_some() {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let batches = self
            .read(filters)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let exec =
            MemorySourceConfig::try_new_exec(&[batches], self.schema.clone(), projection.cloned())?;
        Ok(exec)
    }
}

/// One materialized view as read by one statement: its rows at the statement's epoch, or the
/// first runtime error the view holds at that epoch (an error is never dropped).
#[derive(Debug)]
pub struct EddyView {
    entry: Arc<ViewEntry>,
    ctx: ReadContext,
}

impl EddyView {
    pub fn new(entry: Arc<ViewEntry>, ctx: ReadContext) -> Self {
        EddyView { entry, ctx }
    }

    pub fn read(&self) -> Result<Vec<RecordBatch>> {
        let mut first_error: Option<Vec<u8>> = None;
        self.ctx.scan_id(self.entry.errors_id(), |k, _| {
            if first_error.is_none() {
                first_error = Some(k[6..].to_vec());
            }
            Ok(())
        })?;
        if let Some(e) = first_error {
            return Err(crate::view_errors::decode(&e, &self.entry.def.name));
        }
        let mut rows: Vec<(Vec<u8>, i64)> = vec![];
        self.ctx.scan_id(self.entry.id(), |k, v| {
            rows.push((k[6..].to_vec(), crate::decode_count(v)?));
            Ok(())
        })?;
        let mut batches = vec![];
        for chunk in rows.chunks(ROWS_PER_BATCH_MAX) {
            batches.push(
                self.entry
                    .codec
                    .decode_counted(chunk.iter().map(|(r, n)| (r.as_slice(), *n)))?,
            );
        }
        Ok(batches)
    }
}

#[async_trait]
impl TableProvider for EddyView {
    fn schema(&self) -> SchemaRef {
        self.entry.codec.schema().clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let batches = self
            .read()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let exec =
            MemorySourceConfig::try_new_exec(&[batches], self.schema(), projection.cloned())?;
        Ok(exec)
    }
}
