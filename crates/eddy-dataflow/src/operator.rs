//! The operator protocol: each epoch, the coordinator asks the root of a view's operator tree
//! for its changes; every operator asks its inputs for theirs, then returns its own.

use std::collections::HashMap;

use datafusion::arrow::datatypes::SchemaRef;
use eddy_common::{Error, Result, TableId};

use crate::state::StateStore;
use crate::zset::ZBatch;

/// What one step of one view sees.
pub struct StepCx<'a> {
    pub state: &'a mut StateStore,
    /// This step's changes of every table and view, by id.
    pub inputs: &'a HashMap<TableId, ZBatch>,
    /// The first step of a view's life (backfill): constants emit their rows and global
    /// aggregates their row over empty input.
    pub first: bool,
    /// Runtime errors raised by input rows, with the weight of the row that raised them.
    pub errors: Vec<(Error, i64)>,
    /// Rows processed by operators in this step: the work counter tests use to show that
    /// work follows the size of a change, not the size of the inputs.
    pub rows_processed: u64,
    /// Worker threads a stateful operator may spread a large step over, by key shard.
    pub parallel: crate::parallel::Parallelism,
}

/// An incremental operator. `step` returns this epoch's output changes (`None`: no change).
/// Operators keep all state in the `StateStore`, never in memory across steps.
pub trait Operator: Send + Sync {
    fn schema(&self) -> &SchemaRef;
    fn step(&self, cx: &mut StepCx) -> Result<Option<ZBatch>>;
    /// One line per operator, indented by depth: what EXPLAIN prints and the fingerprint.
    fn explain(&self, depth: usize, out: &mut Vec<String>);
}

pub(crate) fn line(depth: usize, text: String) -> String {
    format!("{}{}", "  ".repeat(depth), text)
}
