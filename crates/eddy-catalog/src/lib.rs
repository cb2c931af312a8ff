//! `eddy-catalog`: what exists (schemas, tables) and how to read it through DataFusion.
//!
//! It owns the durable catalog (kept in the storage `meta` column family and loaded at start),
//! the row codec that turns Arrow batches into storage keys and values and back, and the
//! DataFusion `CatalogProvider`/`SchemaProvider`/`TableProvider` implementations that read a
//! storage snapshot (plus a transaction's uncommitted writes), and the system catalog
//! (`pg_catalog`, `information_schema` and the functions that read them) generated from it,
//! with the registry of running subscriptions that `eddy_subscribers` lists (`activity`).
//! It depends on `eddy-common` and `eddy-storage` only; it must never depend on the SQL front
//! end, the wire or the server.

pub mod activity;
mod catalog;
pub mod changelog;
mod codec;
mod defs;
mod provider;
pub mod sequences;
pub mod system;
mod view_codec;
pub mod view_errors;

pub use catalog::{Catalog, Relation, TableEntry, ViewEntry};
pub use codec::{ROW_KEY_COLUMN, TableCodec};
pub use defs::{ColumnDef, History, SchemaDef, SubscriptionDef, TableDef, ViewDef};
pub use provider::{EddyCatalogProvider, EddyView, ReadContext, ReadSlot};
pub use view_codec::{ViewCodec, decode_count};

/// The name of the one database (DataFusion catalog) Eddy serves.
pub const DATABASE_NAME: &str = "eddy";
/// The schema unqualified names resolve to.
pub const DEFAULT_SCHEMA: &str = "public";
