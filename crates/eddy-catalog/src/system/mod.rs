//! PostgreSQL's system catalog, `pg_catalog` and `information_schema`, generated from Eddy's
//! catalog each time a statement reads it, so it is always in step with the DDL before it.
//!
//! Every table and view PostgreSQL 15 has in those schemas exists here with PostgreSQL's
//! columns (`columns.rs`, generated from PostgreSQL itself): the ones that describe objects Eddy
//! has (namespaces, relations, columns, types, keys, roles, ...) are filled in, the rest (rules,
//! triggers, publications, statistics, ...) are empty, as they are on a fresh PostgreSQL with no
//! such objects. A client's catalog query therefore plans and gives consistent answers instead
//! of failing on a missing table or column.

mod columns;
mod eddy;
pub mod functions;
mod information_schema;
mod model;
mod pg_catalog;
mod pg_proc;
mod types;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, ListArray, RecordBatch, new_empty_array};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::MemTable;
use eddy_common::PgType;

pub use model::{Model, Rel, SUPERUSER_NAME, SUPERUSER_OID, oids};

use crate::catalog::Catalog;

pub const PG_CATALOG: &str = "pg_catalog";
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// One cell of a generated row, converted to its column's type when the batch is built.
#[derive(Clone, Debug)]
pub(crate) enum V {
    Null,
    B(bool),
    I(i64),
    O(u32),
    T(String),
    F(f64),
    IA(Vec<i64>),
    OA(Vec<u32>),
    TA(Vec<String>),
}

pub(crate) fn t(s: impl Into<String>) -> V {
    V::T(s.into())
}

/// A generated row: the columns it sets. Columns left out are NULL, or in `pg_catalog` the zero
/// of their type (`false`, `0`, `''`), which is what PostgreSQL has in them for plain objects.
pub(crate) type Row = Vec<(&'static str, V)>;

/// What the system tables read from the session they run in.
#[derive(Clone)]
pub struct SessionSource {
    /// The settings for `pg_settings`: (name, value, the value it starts with).
    pub settings: Arc<dyn Fn() -> Vec<(String, String, String)> + Send + Sync>,
    /// The names of the functions the session can call, for `pg_proc`; set once the session
    /// has registered them all (the catalog is built before its functions are).
    pub functions: Arc<OnceLock<BTreeSet<String>>>,
}

impl std::fmt::Debug for SessionSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSource")
    }
}

/// The system tables of one schema.
pub struct SystemSchema {
    schema: &'static str,
    catalog: Arc<Catalog>,
    session: Option<SessionSource>,
}

impl std::fmt::Debug for SystemSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SystemSchema({})", self.schema)
    }
}

impl SystemSchema {
    pub fn new(schema: &'static str, catalog: Arc<Catalog>) -> Self {
        SystemSchema {
            schema,
            catalog,
            session: None,
        }
    }

    pub fn with_session(mut self, session: Option<SessionSource>) -> Self {
        self.session = session;
        self
    }
}

/// PostgreSQL's system tables, then Eddy's own.
pub(crate) fn all_tables()
-> impl Iterator<Item = &'static (&'static str, &'static str, char, u32, &'static str)> {
    columns::SYSTEM_TABLES.iter().chain(eddy::EDDY_TABLES)
}

/// Whether `name` is a system schema (its tables are generated, never stored).
pub fn is_system_schema(name: &str) -> Option<&'static str> {
    match name {
        PG_CATALOG => Some(PG_CATALOG),
        INFORMATION_SCHEMA => Some(INFORMATION_SCHEMA),
        _ => None,
    }
}

/// Whether `pg_catalog` has a table of this name: unqualified names fall back to it, as they
/// do through PostgreSQL's implicit `pg_catalog` in the search path.
pub fn is_pg_catalog_table(name: &str) -> bool {
    all_tables().any(|(s, n, ..)| *s == PG_CATALOG && *n == name)
}

/// Whether a `pg_catalog` table has an `oid` column, which is unique in it.
pub fn has_oid_column(name: &str) -> bool {
    model::system_relation(PG_CATALOG, name)
        .is_some_and(|r| r.columns.first().is_some_and(|c| c.name == "oid"))
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        all_tables()
            .filter(|(s, ..)| *s == self.schema)
            .map(|(_, n, ..)| n.to_string())
            .collect()
    }

    async fn table(
        &self,
        name: &str,
    ) -> datafusion::common::Result<Option<Arc<dyn TableProvider>>> {
        system_table(&self.catalog, self.schema, name, self.session.as_ref())
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        all_tables().any(|(s, n, ..)| *s == self.schema && *n == name)
    }
}

/// The current contents of one system table, or `None` if there is no such table.
pub fn system_table(
    catalog: &Catalog,
    schema: &str,
    name: &str,
    session: Option<&SessionSource>,
) -> eddy_common::Result<Option<Arc<dyn TableProvider>>> {
    let Some(spec) = model::system_relation(schema, name) else {
        return Ok(None);
    };
    let model = Model::new(catalog);
    let rows = match schema {
        PG_CATALOG if name.starts_with("eddy_") => eddy::rows(name, catalog),
        PG_CATALOG if name == "pg_settings" => {
            session.map_or(vec![], |s| settings_rows(&(s.settings)()))
        }
        PG_CATALOG if name == "pg_proc" => session
            .and_then(|s| s.functions.get())
            .map_or(vec![], pg_proc::rows),
        PG_CATALOG => pg_catalog::rows(name, &model),
        _ => information_schema::rows(name, &model),
    };
    let batch = build_batch(&spec.columns, &rows, schema == PG_CATALOG)?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    Ok(Some(Arc::new(table)))
}

/// `pg_settings`: one row per setting the session has, typed from its value as PostgreSQL
/// would type it (`on`/`off` bool, a number integer, anything else a string).
fn settings_rows(settings: &[(String, String, String)]) -> Vec<Row> {
    settings
        .iter()
        .map(|(name, value, boot)| {
            let vartype = match value.as_str() {
                "on" | "off" => "bool",
                v if v.parse::<i64>().is_ok() => "integer",
                _ => "string",
            };
            vec![
                ("name", t(name)),
                ("setting", t(value)),
                ("category", t("Eddy")),
                ("context", t("user")),
                ("vartype", t(vartype)),
                (
                    "source",
                    t(if value == boot { "default" } else { "session" }),
                ),
                ("boot_val", t(boot)),
                ("reset_val", t(boot)),
                ("pending_restart", V::B(false)),
            ]
        })
        .collect()
}

fn build_batch(
    columns: &[model::Col],
    rows: &[Row],
    zero_defaults: bool,
) -> eddy_common::Result<RecordBatch> {
    let fields: Vec<_> = columns
        .iter()
        .map(|c| c.ty.to_arrow_field(&c.name))
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (col, field) in columns.iter().zip(schema.fields()) {
        let dt = field.data_type();
        if rows.is_empty() {
            arrays.push(new_empty_array(dt));
            continue;
        }
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let v = row.iter().find(|(n, _)| *n == col.name).map(|(_, v)| v);
            values.push(cell(v, &col.ty, dt, zero_defaults)?);
        }
        arrays.push(ScalarValue::iter_to_array(values)?);
    }
    Ok(RecordBatch::try_new(schema, arrays)?)
}

fn cell(
    v: Option<&V>,
    ty: &PgType,
    dt: &DataType,
    zero_defaults: bool,
) -> datafusion::common::Result<ScalarValue> {
    let natural = match v {
        Some(V::Null) => return ScalarValue::try_from(dt),
        None if !zero_defaults => return ScalarValue::try_from(dt),
        None => match ty {
            PgType::Bool => ScalarValue::Boolean(Some(false)),
            PgType::Int2 | PgType::Int4 | PgType::Int8 | PgType::Oid => ScalarValue::Int64(Some(0)),
            PgType::Float4 | PgType::Float8 => ScalarValue::Float64(Some(0.0)),
            PgType::Char => ScalarValue::Utf8(Some(String::new())),
            _ => return ScalarValue::try_from(dt),
        },
        Some(V::B(b)) => ScalarValue::Boolean(Some(*b)),
        Some(V::I(i)) => ScalarValue::Int64(Some(*i)),
        Some(V::O(o)) => ScalarValue::UInt32(Some(*o)),
        Some(V::T(s)) => ScalarValue::Utf8(Some(s.clone())),
        Some(V::F(f)) => ScalarValue::Float64(Some(*f)),
        Some(V::IA(a)) => list(a.iter().map(|i| ScalarValue::Int64(Some(*i))), dt)?,
        Some(V::OA(a)) => list(a.iter().map(|o| ScalarValue::UInt32(Some(*o))), dt)?,
        Some(V::TA(a)) => list(a.iter().map(|s| ScalarValue::Utf8(Some(s.clone()))), dt)?,
    };
    if natural.data_type() == *dt {
        return Ok(natural);
    }
    natural.cast_to(dt)
}

fn list(
    items: impl Iterator<Item = ScalarValue>,
    dt: &DataType,
) -> datafusion::common::Result<ScalarValue> {
    let DataType::List(elem) = dt else {
        return Err(DataFusionError::Internal(format!(
            "array value for a {dt} column"
        )));
    };
    let items: Vec<ScalarValue> = items
        .map(|v| v.cast_to(elem.data_type()))
        .collect::<datafusion::common::Result<_>>()?;
    let values = if items.is_empty() {
        new_empty_array(elem.data_type())
    } else {
        ScalarValue::iter_to_array(items)?
    };
    // The column's own element field (with its `eddy.pg_type` metadata), so that every row's
    // list has the same type as the NULLs of the column.
    Ok(ScalarValue::List(Arc::new(ListArray::new(
        elem.clone(),
        OffsetBuffer::from_lengths([values.len()]),
        values,
        None,
    ))))
}
