//! `eddy-common`: the vocabulary every other Eddy crate shares.
//!
//! It owns the error type (every error carries a PostgreSQL `SQLSTATE`), the mapping between
//! PostgreSQL types and Arrow types (`PgType`), jsonb's text form and element access (`json`),
//! `numeric` values with PostgreSQL's scales and arithmetic (`numeric`), epochs and ids. It has no I/O and must never
//! depend on another Eddy crate: everything else depends on it.

pub mod array_text;
pub mod datetime;
pub mod error;
pub mod json;
pub mod numeric;
pub mod numeric_array;
pub mod numeric_codec;
pub mod types;

pub use error::{Error, Result, SqlState};
pub use types::PgType;

/// A logical time: every committed write belongs to exactly one epoch, and epochs only move
/// forward. Issue 3's dataflow closes epochs with barriers; today each commit is one epoch.
pub type Epoch = u64;

/// Identifies a table (and later a view or state table) in storage keys and the catalog.
pub type TableId = u32;
