//! `eddy-dataflow`: incremental computation over Z-sets.
//!
//! It owns the Z-set batch (`ZBatch`: an Arrow `RecordBatch` plus an `i64` weight per row), the
//! operators that turn input changes into output changes (map/filter, aggregate, join, union,
//! top-N, window functions, constants), the epoch-scoped state store they keep their state in (RocksDB through
//! `eddy-storage`, read at the last committed epoch plus the epoch's own pending writes), the
//! sink that folds a view's changes into its stored rows and error collection, and the
//! extraction of a table's changes from an epoch's write set.
//!
//! Operators are pure functions of (input changes, state) to (output changes, state writes):
//! they keep nothing in memory between epochs, so a failed epoch is dropped by dropping its
//! write set, and a restart resumes from what RocksDB holds. It depends on `eddy-common`,
//! `eddy-storage` and `eddy-catalog` (row codecs); it must never depend on SQL parsing, the wire
//! or the server. The streaming planner in `eddy-sql` builds operator trees from DataFusion
//! logical plans.

pub mod aggregate;
pub mod changes;
pub mod join;
pub mod map;
pub mod operator;
pub mod ordered;
pub mod parallel;
pub mod sink;
pub mod sources;
pub mod state;
#[cfg(test)]
mod testkit;
pub mod topn;
pub mod window;
pub mod zset;

pub use operator::{Operator, StepCx};
pub use state::StateStore;
pub use zset::ZBatch;
