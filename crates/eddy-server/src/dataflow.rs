//! The coordinator's dataflow side: every materialized view's operator tree, owned by one
//! dedicated thread, never by the tokio runtime that serves clients.
//!
//! Each commit (one epoch) runs here before it reaches RocksDB: the epoch's table changes are
//! read off its write set, pushed through every dependent view in creation order (a view only
//! reads older views, so that order is topological), and the views' row and state changes join
//! the same write set. The epoch then commits as one `WriteBatch`: a view is never behind or
//! ahead of its inputs, so a read of any epoch sees them agree and a session reads its own
//! writes in every view without waiting. After `kill -9`, views and their state are exactly
//! at the last committed epoch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::mpsc;

use eddy_catalog::{Catalog, Relation, ViewEntry, changelog, decode_count};
use eddy_common::{Error, Result, TableId};
use eddy_dataflow::changes::{table_contents, table_value_changes, view_contents};
use eddy_dataflow::parallel::Parallelism;
use eddy_dataflow::sink::ViewSink;
use eddy_dataflow::{StateStore, StepCx, ZBatch};
use eddy_storage::{Cf, Snapshot, WriteSet, table_prefix};

/// One view's compiled dataflow.
pub struct ViewRuntime {
    pub id: TableId,
    pub sink: ViewSink,
    pub inputs: BTreeSet<TableId>,
}

impl ViewRuntime {
    pub fn explain(&self) -> Vec<String> {
        let mut out = vec![];
        self.sink.explain(&mut out);
        out
    }
}

pub struct Views {
    views: Vec<ViewRuntime>,
    /// Rows the operators processed in the last epoch (the work counter of `SHOW`).
    pub rows_processed_last: u64,
    /// Threads a stateful operator spreads a large step over (`EDDY_DATAFLOW_WORKERS`, default
    /// one per core), from how many items (`EDDY_DATAFLOW_PARALLEL_MIN`, default 512).
    pub parallel: Parallelism,
}

impl Default for Views {
    fn default() -> Views {
        let workers = std::env::var("EDDY_DATAFLOW_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .clamp(1, 64);
        let items_min = std::env::var("EDDY_DATAFLOW_PARALLEL_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(eddy_dataflow::parallel::PARALLEL_ITEMS_MIN);
        Views {
            views: vec![],
            rows_processed_last: 0,
            parallel: Parallelism { workers, items_min },
        }
    }
}

type Job = Box<dyn FnOnce(&mut Views) + Send>;

/// A handle to the dataflow thread.
pub struct Dataflow {
    jobs: std::sync::Mutex<mpsc::Sender<Job>>,
}

impl Dataflow {
    pub fn start() -> Dataflow {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("eddy-dataflow".into())
            .spawn(move || {
                let mut views = Views::default();
                while let Ok(job) = rx.recv() {
                    job(&mut views);
                }
            })
            .expect("spawn dataflow thread");
        Dataflow {
            jobs: std::sync::Mutex::new(tx),
        }
    }

    /// Runs `f` on the dataflow thread and waits for its answer without blocking the runtime.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Views) -> R + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |v| {
            let _ = tx.send(f(v));
        });
        self.jobs
            .lock()
            .expect("dataflow queue")
            .send(job)
            .map_err(|_| Error::internal("the dataflow thread stopped"))?;
        rx.await
            .map_err(|_| Error::internal("the dataflow thread stopped"))
    }
}

impl Views {
    pub fn install(&mut self, v: ViewRuntime) {
        self.views.push(v);
        self.views.sort_by_key(|v| v.id);
    }

    pub fn remove(&mut self, ids: &[TableId]) {
        self.views.retain(|v| !ids.contains(&v.id));
    }

    /// Pushes the changes `writes` makes through every dependent view and adds the views'
    /// changes to `writes`, and the changes of tables that retain history to their changelogs;
    /// returns the views whose contents changed. `snap` must be the last committed epoch (the
    /// caller holds the commit lock).
    pub fn maintain(
        &mut self,
        catalog: &Catalog,
        snap: Snapshot,
        writes: &mut WriteSet,
    ) -> Result<Vec<TableId>> {
        let mut changed = vec![];
        // The caller holds the commit lock, so this epoch is the next one to commit.
        let epoch = snap.epoch() + 1;
        let read: BTreeSet<TableId> = self
            .views
            .iter()
            .flat_map(|v| v.inputs.iter().copied())
            .collect();
        let mut inputs: HashMap<TableId, ZBatch> = HashMap::new();
        let mut history: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        for t in catalog.all_tables() {
            let keeps_history = t.def.history.is_some();
            if !keeps_history && !read.contains(&t.id()) {
                continue;
            }
            let Some(c) = table_value_changes(&t, &snap, writes)? else {
                continue;
            };
            if keeps_history {
                let olds = c.olds.iter().map(|v| (-1, v.as_slice()));
                for (seq, (diff, value)) in olds.chain(c.news.iter().map(|v| (1, *v))).enumerate() {
                    history.push((
                        changelog::key(t.id(), epoch, seq as u32),
                        changelog::encode_value(diff, value),
                    ));
                }
            }
            if read.contains(&t.id()) {
                inputs.insert(t.id(), c.decode(&t)?);
            }
        }
        writes
            .data
            .extend(history.into_iter().map(|(k, v)| (k, Some(v))));
        if inputs.is_empty() {
            return Ok(changed);
        }
        let mut state = StateStore::new(snap);
        let mut rows = 0;
        for v in &self.views {
            if !v.inputs.iter().any(|i| inputs.contains_key(i)) {
                continue;
            }
            let mut cx = StepCx {
                state: &mut state,
                inputs: &inputs,
                first: false,
                errors: vec![],
                rows_processed: 0,
                parallel: self.parallel,
            };
            let out = v.sink.step(&mut cx)?;
            rows += cx.rows_processed;
            if let Some(z) = out {
                log_changes(v, epoch, &z, writes)?;
                if !z.weights.is_empty() {
                    changed.push(v.id);
                }
                inputs.insert(v.id, z);
            }
        }
        self.rows_processed_last = rows;
        writes.data.extend(state.into_pending());
        Ok(changed)
    }
}

/// Appends a view's changes in `epoch` to its changelog (what subscriptions read).
fn log_changes(v: &ViewRuntime, epoch: u64, z: &ZBatch, writes: &mut WriteSet) -> Result<()> {
    let rows = v.sink.codec.encode(&z.rows)?;
    for (i, w) in z.weights.iter().enumerate() {
        writes.data.insert(
            changelog::key(v.id, epoch, i as u32),
            Some(changelog::encode_value(*w, rows.row(i).data())),
        );
    }
    Ok(())
}

/// One step of a view being built: `inputs` through its dataflow (the `first` step, with
/// none, sets it up); returns the view's changes.
fn step_view(
    v: &ViewRuntime,
    state: &mut StateStore,
    inputs: &HashMap<TableId, ZBatch>,
    first: bool,
    parallel: Parallelism,
) -> Result<Option<ZBatch>> {
    let mut cx = StepCx {
        state,
        inputs,
        first,
        errors: vec![],
        rows_processed: 0,
        parallel,
    };
    v.sink.step(&mut cx)
}

/// Computes a new view's initial rows and state from its inputs' contents at `snap`, in
/// batches; the writes go into `writes`.
pub fn backfill(
    v: &ViewRuntime,
    catalog: &Catalog,
    snap: Snapshot,
    writes: &mut WriteSet,
    parallel: Parallelism,
) -> Result<()> {
    let mut state = StateStore::new(snap.clone());
    let step = |state: &mut StateStore, inputs: &HashMap<TableId, ZBatch>, first| {
        step_view(v, state, inputs, first, parallel).map(|_| ())
    };
    step(&mut state, &HashMap::new(), true)?;
    for id in &v.inputs {
        let chunks = match catalog.relation_by_id(*id) {
            Some(Relation::Table(t)) => table_contents(&t, &snap)?,
            Some(Relation::View(w)) => view_contents(&w, &snap)?,
            None => return Err(Error::internal(format!("view input {id} is gone"))),
        };
        for z in chunks {
            let inputs = HashMap::from([(*id, z)]);
            step(&mut state, &inputs, false)?;
        }
    }
    writes.data.extend(state.into_pending());
    Ok(())
}

/// Builds a new view as it would have been had it existed since epoch `as_of` (≤ `snap`'s):
/// its inputs' contents at `as_of` go through the dataflow first, then each later epoch's
/// input changes, read from the inputs' changelogs, with the view's changes of each epoch
/// written to its own changelog under that epoch. The caller has checked that every input's
/// changelog reaches back to `as_of` and holds the commit lock, so no epoch lands meanwhile.
/// The replayed changes are held in memory, which the changelog retention bounds.
pub fn backfill_as_of(
    v: &ViewRuntime,
    catalog: &Catalog,
    snap: Snapshot,
    as_of: u64,
    writes: &mut WriteSet,
    parallel: Parallelism,
) -> Result<()> {
    let mut state = StateStore::new(snap.clone());
    let step = |state: &mut StateStore, inputs: &HashMap<TableId, ZBatch>, first| {
        step_view(v, state, inputs, first, parallel)
    };
    step(&mut state, &HashMap::new(), true)?;
    // Every input change after `as_of`, by epoch: (input, diff, encoded row).
    let mut later: BTreeMap<u64, Vec<(TableId, i64, Vec<u8>)>> = BTreeMap::new();
    for id in &v.inputs {
        let input = catalog
            .relation_by_id(*id)
            .ok_or_else(|| Error::internal(format!("view input {id} is gone")))?;
        // The rows now, as the changelog encodes them, with a count each.
        let mut rows: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        snap.scan_prefix(Cf::Data, &table_prefix(*id), |k, val| {
            let (row, n) = match &input {
                Relation::Table(_) => (val, 1),
                Relation::View(_) => (&k[6..], decode_count(val)?),
            };
            *rows.entry(row.to_vec()).or_default() += n;
            Ok(())
        })?;
        let start = changelog::key(*id, as_of + 1, 0);
        snap.scan_prefix_from(Cf::Data, &changelog::prefix(*id), &start, |k, val| {
            let (diff, row) = changelog::decode_value(val)?;
            *rows.entry(row.to_vec()).or_default() -= diff;
            later
                .entry(changelog::epoch_of(k)?)
                .or_default()
                .push((*id, diff, row.to_vec()));
            Ok(true)
        })?;
        let rows: Vec<(Vec<u8>, i64)> = rows.into_iter().filter(|(_, n)| *n != 0).collect();
        for chunk in rows.chunks(eddy_dataflow::changes::BACKFILL_ROWS_PER_BATCH_MAX) {
            let z = decode_rows(&input, chunk.iter().map(|(r, n)| (r.as_slice(), *n)))?;
            step(&mut state, &HashMap::from([(*id, z)]), false)?;
        }
    }
    for (epoch, changes) in later {
        let mut by_input: BTreeMap<TableId, Vec<(&[u8], i64)>> = BTreeMap::new();
        for (id, diff, row) in &changes {
            by_input
                .entry(*id)
                .or_default()
                .push((row.as_slice(), *diff));
        }
        let mut inputs = HashMap::new();
        for (id, rows) in by_input {
            let input = catalog
                .relation_by_id(id)
                .ok_or_else(|| Error::internal(format!("view input {id} is gone")))?;
            inputs.insert(id, decode_rows(&input, rows)?);
        }
        if let Some(z) = step(&mut state, &inputs, false)? {
            log_changes(v, epoch, &z, writes)?;
        }
    }
    writes.data.extend(state.into_pending());
    Ok(())
}

/// Rows as a table stores them (its values) or as a view and the changelog encode them, each
/// with a weight, as a Z-set of the relation's columns.
fn decode_rows<'a>(
    input: &Relation,
    rows: impl IntoIterator<Item = (&'a [u8], i64)>,
) -> Result<ZBatch> {
    let (rows, weights): (Vec<&[u8]>, Vec<i64>) = rows.into_iter().unzip();
    let batch = match input {
        Relation::Table(t) => t.codec.decode_values(rows.iter().copied())?,
        Relation::View(w) => w.codec.decode_counted(rows.iter().map(|r| (*r, 1)))?,
    };
    Ok(ZBatch::new(batch, weights))
}

/// The transitive dependents of `id`, newest first (the order they must be dropped in).
pub fn dependents_closure(catalog: &Catalog, id: TableId) -> Vec<Arc<ViewEntry>> {
    let mut out: Vec<Arc<ViewEntry>> = vec![];
    let mut todo = vec![id];
    while let Some(i) = todo.pop() {
        for d in catalog.dependents(i) {
            if !out.iter().any(|o| o.id() == d.id()) {
                todo.push(d.id());
                out.push(d);
            }
        }
    }
    out.sort_by_key(|v| std::cmp::Reverse(v.id()));
    out
}
