//! `eddy-storage`: the only crate that links RocksDB.
//!
//! It owns the on-disk layout (column families, key encoding with table id and shard/vnode
//! prefixes), consistent read snapshots, and the atomic commit of one epoch's writes as a single
//! RocksDB `WriteBatch` through the write-ahead log, which is what makes an acknowledged write
//! survive `kill -9`. It knows bytes, not rows: row encoding lives in `eddy-catalog`.
//! It depends only on `eddy-common` and must never depend on SQL, catalog or wire crates.

mod keys;
mod store;
mod write_set;

pub use keys::{VNODE_COUNT, row_key, table_prefix, vnode_of};
pub use store::{Cf, Snapshot, Store};
pub use write_set::{BulkPuts, WriteSet};
