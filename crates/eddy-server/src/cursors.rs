//! Cursors: `DECLARE c CURSOR FOR <query>` (a query's result read a slice at a time by `FETCH`
//! and skipped by `MOVE`) beside the subscription cursors of `subscribe`. Drivers open query
//! cursors for server-side iteration (psycopg's named cursors, for one).

use std::collections::VecDeque;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use eddy_common::Result;
use eddy_pgwire::{Column, Output};

/// A query's rows, computed at DECLARE over the snapshot of that moment (PostgreSQL's cursors
/// see the snapshot they were declared in too), handed out in order.
pub(crate) struct QueryCursor {
    columns: Arc<Vec<Column>>,
    batches: VecDeque<RecordBatch>,
}

impl QueryCursor {
    pub fn new(columns: Arc<Vec<Column>>, batches: Vec<RecordBatch>) -> QueryCursor {
        QueryCursor {
            columns,
            batches: batches.into_iter().filter(|b| b.num_rows() > 0).collect(),
        }
    }

    /// The next `count` rows (all that are left when None).
    fn take(&mut self, count: Option<u64>) -> Vec<RecordBatch> {
        let mut want = count.map_or(usize::MAX, |c| c as usize);
        let mut out = vec![];
        while want > 0 {
            let Some(b) = self.batches.pop_front() else {
                break;
            };
            if b.num_rows() <= want {
                want -= b.num_rows();
                out.push(b);
            } else {
                out.push(b.slice(0, want));
                self.batches.push_front(b.slice(want, b.num_rows() - want));
                want = 0;
            }
        }
        out
    }
}

pub(crate) enum Cursor {
    Query {
        rows: QueryCursor,
        /// `WITH HOLD`: it outlives the transaction that declared it.
        hold: bool,
    },
    Subscription(crate::subscribe::Cursor),
}

impl Cursor {
    pub fn result_columns(&self) -> Vec<Column> {
        match self {
            Cursor::Query { rows, .. } => rows.columns.as_ref().clone(),
            Cursor::Subscription(c) => c.result_columns(),
        }
    }

    /// Whether the cursor stays open past the end of its transaction. A subscription cursor
    /// follows a view for as long as the session wants it.
    pub fn holds(&self) -> bool {
        match self {
            Cursor::Query { hold, .. } => *hold,
            Cursor::Subscription(_) => true,
        }
    }

    /// `FETCH` (or `MOVE` with `discard`): `count` rows, None for ALL.
    pub async fn fetch(
        &mut self,
        count: Option<u64>,
        timeout: Option<std::time::Duration>,
        discard: bool,
    ) -> Result<Output> {
        let (columns, batches, n) = match self {
            Cursor::Query { rows, .. } => {
                let batches = rows.take(count);
                let n: usize = batches.iter().map(|b| b.num_rows()).sum();
                (rows.columns.clone(), batches, n)
            }
            Cursor::Subscription(c) => match c.fetch(count, timeout).await? {
                Output::Rows {
                    columns, batches, ..
                } => {
                    let n = batches.iter().map(|b| b.num_rows()).sum();
                    (columns, batches, n)
                }
                other => return Ok(other),
            },
        };
        Ok(if discard {
            Output::Command(format!("MOVE {n}"))
        } else {
            Output::Rows {
                columns,
                batches,
                tag: format!("FETCH {n}"),
            }
        })
    }
}
