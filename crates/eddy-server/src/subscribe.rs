//! `COPY (SUBSCRIBE TO v ...) TO STDOUT`: the view's rows at one epoch (SNAPSHOT), then every
//! later epoch's changes read from the view's durable changelog, as text-format COPY rows
//! `epoch [progressed] diff columns...`, until the client goes away.
//!
//! The reader is a task of its own that reads committed epochs at the client's pace: a slow
//! client holds back nothing but its own task (the channel to the wire is bounded), and the
//! dataflow and writers never wait for it. An epoch is always delivered whole, because all of
//! its changelog entries commit in one WriteBatch and the reader only reads committed epochs.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use eddy_catalog::activity::{NewSubscriber, SubscriberHandle};
use eddy_catalog::{DEFAULT_SCHEMA, Relation, ViewEntry, changelog};
use eddy_common::datetime::TimeSettings;
use eddy_common::{Error, PgType, Result, SqlState};
use eddy_dataflow::changes::view_contents;
use eddy_pgwire::{Column, Output};
use eddy_sql::copy_options::CopyOptions;
use eddy_sql::subscribe::{Envelope, Subscribe};
use eddy_storage::{Cf, Snapshot};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::engine::Engine;

/// Epochs buffered between the reader task and the connection.
const CHANNEL_EPOCHS: usize = 64;

/// What a subscription's reader hands over: one epoch's rows with their diffs, or a progress
/// mark saying everything up to the epoch has been sent.
pub(crate) struct Delivery {
    pub epoch: u64,
    /// `None`: a progress mark.
    pub rows: Option<(Vec<i64>, RecordBatch)>,
}

/// A running subscription: its reader's output and the columns its rows carry.
pub(crate) struct Subscription {
    pub rx: mpsc::Receiver<Result<Delivery>>,
    pub columns: Vec<Column>,
    /// Progress rows were asked for. The reader sends progress marks either way (they tell
    /// how far the client is); without PROGRESS they are not shown.
    pub progress: bool,
    /// ENVELOPE UPSERT or OP: each delivery's diffs are codes `label` names, not diffs.
    pub envelope: Option<Envelope>,
    /// Its entry in `eddy_subscribers`, advanced as the client takes rows.
    pub tracker: SubscriberHandle,
}

/// Who reads a subscription and how, for `eddy_subscribers`.
pub(crate) struct Reading {
    pub pid: i32,
    pub kind: &'static str,
    pub cursor: Option<String>,
    pub subscription: Option<String>,
    /// The materialized view made for a `SUBSCRIBE (query)`, dropped when the reader ends.
    pub temp_view: Option<String>,
    /// The subscribed query's text, shown instead of the view's name.
    pub query: Option<String>,
}

/// What an enveloped row's code (carried where a diff would be) says.
/// ENVELOPE UPSERT: 1 the key's new row, -1 the key is gone (only its key columns are set), 0
/// the key has more than one row. ENVELOPE OP: 1 insert, -1 delete, -2 and 2 the old and new
/// row of a key whose one row was replaced.
fn label(envelope: Envelope, code: i64) -> &'static str {
    match (envelope, code) {
        (Envelope::Upsert, 1) => "upsert",
        (Envelope::Upsert, -1) => "delete",
        (Envelope::Upsert, _) => "key_violation",
        (Envelope::Op, 1) => "insert",
        (Envelope::Op, -1) => "delete",
        (Envelope::Op, -2) => "update_delete",
        (Envelope::Op, _) => "update_insert",
    }
}

impl Subscription {
    /// The columns of its rows: `epoch`, `progressed` (with PROGRESS), `diff`, the view's.
    pub fn result_columns(&self) -> Vec<Column> {
        let mut c = vec![Column::new("epoch", PgType::Int8)];
        if self.progress {
            c.push(Column::new("progressed", PgType::Bool));
        }
        c.push(match self.envelope {
            Some(Envelope::Upsert) => Column::new("state", PgType::Text),
            Some(Envelope::Op) => Column::new("op", PgType::Text),
            None => Column::new("diff", PgType::Int8),
        });
        c.extend(self.columns.iter().cloned());
        c
    }
}

pub(crate) fn start(engine: &Arc<Engine>, s: &Subscribe, how: Reading) -> Result<Subscription> {
    let (schema, name) = match s.name.as_slice() {
        [n] => (DEFAULT_SCHEMA.to_string(), n.clone()),
        [sc, n] => (sc.clone(), n.clone()),
        _ => return Err(Error::syntax("improper qualified name")),
    };
    let view = match engine.catalog.relation(&schema, &name) {
        Some(Relation::View(v)) if v.def.materialized => v,
        Some(_) => {
            return Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is not a materialized view"),
            )
            .with_hint("Only materialized views keep the changes a subscription reads."));
        }
        None => {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("relation \"{name}\" does not exist"),
            ));
        }
    };
    let snap = engine.store.snapshot();
    let now = snap.epoch();
    let start = match s.as_of {
        Some(e) if e > now => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("AS OF {e} is in the future: the last committed epoch is {now}"),
            ));
        }
        Some(e) if e < view.def.created_epoch => {
            return Err(Error::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "AS OF {e} is before materialized view \"{}\" existed (it was created in \
                     epoch {})",
                    view.def.name, view.def.created_epoch
                ),
            ));
        }
        Some(e) => e,
        None => now,
    };
    let columns: Vec<Column> = view
        .def
        .columns
        .iter()
        .map(|c| Column::new(c.name.clone(), c.ty.clone()))
        .collect();
    let envelope_key = match &s.envelope {
        None => None,
        Some((envelope, names)) => Some((
            *envelope,
            names
                .iter()
                .map(|n| {
                    columns.iter().position(|c| &c.name == n).ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{n}\" does not exist"),
                        )
                    })
                })
                .collect::<Result<Vec<usize>>>()?,
        )),
    };
    let (tx, rx) = mpsc::channel::<Result<Delivery>>(CHANNEL_EPOCHS);
    let envelope = envelope_key.as_ref().map(|(e, _)| *e);
    let tracker = engine.catalog.subscribers.register(NewSubscriber {
        pid: how.pid,
        kind: how.kind,
        target: how
            .query
            .clone()
            .unwrap_or_else(|| format!("{}.{}", view.def.schema, view.def.name)),
        subscription: how.subscription.clone(),
        cursor: how.cursor.clone(),
        started_epoch: start,
    });
    let reader = Reader {
        engine: engine.clone(),
        view,
        progress: s.progress,
        envelope_key,
        tx,
    };
    let snapshot = s.snapshot;
    let temp_view = how.temp_view;
    let engine = engine.clone();
    tokio::spawn(async move {
        let tx = reader.tx.clone();
        if let Err(e) = reader.run(snap, start, snapshot).await {
            let _ = tx.send(Err(e)).await;
        }
        if let Some(name) = temp_view {
            // The client may still be reading the error; it has all it will get.
            drop(tx);
            crate::views::drop_temp(&engine, &name).await;
        }
    });
    Ok(Subscription {
        rx,
        columns,
        progress: s.progress,
        envelope,
        tracker,
    })
}

/// Streams a subscription as text-format COPY rows: `epoch [progressed] diff columns...`.
pub(crate) fn copy_output(sub: Subscription, time: TimeSettings) -> Result<Output> {
    let n_columns = sub.columns.len() + 2 + usize::from(sub.progress);
    let opts = CopyOptions::from_ast(&[], &[])?;
    let Subscription {
        mut rx,
        columns,
        progress,
        envelope,
        tracker,
    } = sub;
    let lines = futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).flat_map(move |d| {
        let lines: Vec<Result<Bytes>> = match d {
            Ok(d) if d.rows.is_none() && !progress => {
                tracker.advance(d.epoch, 0);
                vec![]
            }
            Ok(d) => match copy_lines(&d, &columns, progress, envelope, &opts, &time) {
                Ok(lines) => {
                    let n = d.rows.as_ref().map_or(0, |r| r.0.len() as u64);
                    tracker.advance(d.epoch, n);
                    lines.into_iter().map(Ok).collect()
                }
                Err(e) => vec![Err(e)],
            },
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(lines)
    });
    Ok(Output::CopyOutStream {
        columns: n_columns,
        rows: Box::pin(lines),
    })
}

fn copy_lines(
    d: &Delivery,
    columns: &[Column],
    progress: bool,
    envelope: Option<Envelope>,
    opts: &CopyOptions,
    time: &TimeSettings,
) -> Result<Vec<Bytes>> {
    let Some((diffs, batch)) = &d.rows else {
        let mut line = format!("{}\tt\t\\N", d.epoch);
        for _ in columns {
            line.push_str("\t\\N");
        }
        line.push('\n');
        return Ok(vec![Bytes::from(line)]);
    };
    let lines = crate::copy_out::encode(columns, std::slice::from_ref(batch), opts, time)?;
    Ok(lines
        .into_iter()
        .zip(diffs)
        .map(|(line, diff)| {
            let mut out = d.epoch.to_string().into_bytes();
            out.push(b'\t');
            if progress {
                out.extend_from_slice(b"f\t");
            }
            match envelope {
                Some(e) => out.extend_from_slice(label(e, *diff).as_bytes()),
                None => out.extend_from_slice(diff.to_string().as_bytes()),
            }
            out.push(b'\t');
            out.extend_from_slice(&line);
            Bytes::from(out)
        })
        .collect())
}

struct Reader {
    engine: Arc<Engine>,
    view: Arc<ViewEntry>,
    progress: bool,
    envelope_key: Option<(Envelope, Vec<usize>)>,
    tx: mpsc::Sender<Result<Delivery>>,
}

/// The client is gone; the reader stops.
struct Closed;

impl Reader {
    async fn run(self, snap: Snapshot, start: u64, snapshot: bool) -> Result<()> {
        let mut last = start;
        if snapshot {
            let rows = self.contents_as_of(&snap, start)?;
            if self.emit(start, rows).await.is_err() {
                return Ok(());
            }
        }
        // Changes after `start` that are already committed come next, then each new epoch.
        let mut epochs = self.engine.epochs.subscribe();
        let mut snap = snap;
        loop {
            if snap.epoch() > last {
                if self.deliver(&snap, last).await.is_err() {
                    return Ok(());
                }
                last = snap.epoch();
            } else if self.emit_progress(last).await.is_err() {
                return Ok(());
            }
            // Wait for a newer epoch, or for the client to leave.
            loop {
                if self.engine.store.epoch_committed() > last {
                    break;
                }
                tokio::select! {
                    changed = epochs.changed() => {
                        if changed.is_err() {
                            return Ok(());
                        }
                    }
                    _ = self.tx.closed() => return Ok(()),
                }
            }
            if self.engine.catalog.relation_by_id(self.view.id()).is_none() {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!(
                        "materialized view \"{}\" was dropped while subscribed",
                        self.view.def.name
                    ),
                ));
            }
            snap = self.engine.store.snapshot();
        }
    }

    /// The view's rows (encoded) and counts at epoch `at` (≤ the snapshot's): its rows now,
    /// with the changes committed after `at` taken back out.
    fn contents_as_of(&self, snap: &Snapshot, at: u64) -> Result<Vec<(Vec<u8>, i64)>> {
        let mut rows: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        let codec = &self.view.codec;
        for z in view_contents(&self.view, snap)? {
            let enc = codec.encode(&z.rows)?;
            for (i, w) in z.weights.iter().enumerate() {
                *rows.entry(enc.row(i).data().to_vec()).or_default() += w;
            }
        }
        if at < snap.epoch() {
            self.check_retained(at)?;
            let prefix = changelog::prefix(self.view.id());
            snap.scan_prefix_from(
                Cf::Data,
                &prefix,
                &changelog::key(self.view.id(), at + 1, 0),
                |_, v| {
                    let (diff, row) = changelog::decode_value(v)?;
                    *rows.entry(row.to_vec()).or_default() -= diff;
                    Ok(true)
                },
            )?;
        }
        Ok(rows.into_iter().filter(|(_, n)| *n != 0).collect())
    }

    /// Sends every change committed after epoch `after` up to the snapshot's epoch, an epoch
    /// at a time, then a progress row for the snapshot's epoch.
    async fn deliver(&self, snap: &Snapshot, after: u64) -> std::result::Result<(), Closed> {
        if let Err(e) = self.check_retained(after) {
            let _ = self.tx.send(Err(e)).await;
            return Err(Closed);
        }
        // One epoch at a time, each scan resuming after the last: a subscriber far behind
        // holds one epoch in memory, never the whole backlog.
        let prefix = changelog::prefix(self.view.id());
        let mut next = after + 1;
        loop {
            let mut epoch = None;
            let mut rows: Vec<(Vec<u8>, i64)> = vec![];
            let scanned = snap.scan_prefix_from(
                Cf::Data,
                &prefix,
                &changelog::key(self.view.id(), next, 0),
                |k, v| {
                    let e = changelog::epoch_of(k)?;
                    if *epoch.get_or_insert(e) != e {
                        return Ok(false);
                    }
                    let (diff, row) = changelog::decode_value(v)?;
                    rows.push((row.to_vec(), diff));
                    Ok(true)
                },
            );
            if let Err(e) = scanned {
                let _ = self.tx.send(Err(e)).await;
                return Err(Closed);
            }
            let Some(e) = epoch else {
                break;
            };
            self.emit(e, rows).await?;
            next = e + 1;
        }
        self.emit_progress(snap.epoch()).await
    }

    /// Fails when changes after epoch `after` may already be pruned. Called after the snapshot
    /// is taken: pruning raises the horizon before deleting, and a snapshot keeps what it saw.
    fn check_retained(&self, after: u64) -> Result<()> {
        let horizon = self
            .engine
            .changelog_horizon
            .load(std::sync::atomic::Ordering::Acquire);
        if after + 1 < horizon {
            return Err(Error::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "the changes after epoch {after} are no longer retained (the oldest kept is \
                     epoch {horizon})"
                ),
            )
            .with_hint("Subscribe again with SNAPSHOT, or raise EDDY_CHANGELOG_RETENTION."));
        }
        Ok(())
    }

    /// Sends rows of one epoch: `(encoded row, diff)`.
    async fn emit(&self, epoch: u64, rows: Vec<(Vec<u8>, i64)>) -> std::result::Result<(), Closed> {
        if rows.is_empty() {
            return Ok(());
        }
        let decoded = self
            .view
            .codec
            .decode_counted(rows.iter().map(|(r, _)| (r.as_slice(), 1)));
        let diffs: Vec<i64> = rows.iter().map(|(_, d)| *d).collect();
        let d = decoded
            .and_then(|batch| match &self.envelope_key {
                Some((Envelope::Upsert, key)) => upsert_envelope(&batch, &diffs, key),
                Some((Envelope::Op, key)) => op_envelope(&batch, &diffs, key),
                None => Ok((diffs, batch)),
            })
            .map(|rows| Delivery {
                epoch,
                rows: Some(rows),
            });
        self.tx.send(d).await.map_err(|_| Closed)
    }

    /// A mark saying the subscriber has every change up to `epoch`. Unless the client asked
    /// for progress rows, it only moves the subscription's position, so it is dropped rather
    /// than waited for when the client's buffer is full.
    async fn emit_progress(&self, epoch: u64) -> std::result::Result<(), Closed> {
        let mark = Ok(Delivery { epoch, rows: None });
        if self.progress {
            return self.tx.send(mark).await.map_err(|_| Closed);
        }
        match self.tx.try_send(mark) {
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Closed),
            _ => Ok(()),
        }
    }
}

/// The key of each row of `batch`, numbered in order of first appearance: (key number per
/// row, number of keys).
fn key_groups(batch: &RecordBatch, key: &[usize]) -> Result<(Vec<usize>, usize)> {
    use datafusion::common::ScalarValue;
    let mut index: std::collections::HashMap<Vec<ScalarValue>, usize> = Default::default();
    let mut of_row = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let k: Vec<ScalarValue> = key
            .iter()
            .map(|c| ScalarValue::try_from_array(batch.column(*c), row))
            .collect::<std::result::Result<_, _>>()?;
        let n = index.len();
        of_row.push(*index.entry(k).or_insert(n));
    }
    let n = index.len();
    Ok((of_row, n))
}

/// One epoch's changes as ENVELOPE OP rows: a key that lost exactly one row and gained exactly
/// one is an `update_delete` of the old row then an `update_insert` of the new; any other change
/// is a `delete` or `insert` per row (a row counted twice appears twice), so the rows still sum
/// to the view.
fn op_envelope(
    batch: &RecordBatch,
    diffs: &[i64],
    key: &[usize],
) -> Result<(Vec<i64>, RecordBatch)> {
    use datafusion::arrow::array::UInt32Array;
    let (of_row, keys) = key_groups(batch, key)?;
    let mut rows_of: Vec<Vec<usize>> = vec![vec![]; keys];
    for (row, k) in of_row.iter().enumerate() {
        rows_of[*k].push(row);
    }
    let mut take = vec![];
    let mut codes = vec![];
    for rows in rows_of {
        let lost: i64 = rows.iter().map(|r| (-diffs[*r]).max(0)).sum();
        let gained: i64 = rows.iter().map(|r| diffs[*r].max(0)).sum();
        if lost == 1 && gained == 1 {
            for (sign, code) in [(-1, -2), (1, 2)] {
                let r = rows
                    .iter()
                    .find(|r| diffs[**r].signum() == sign)
                    .expect("one row each way");
                take.push(*r as u32);
                codes.push(code);
            }
            continue;
        }
        for sign in [-1, 1] {
            for r in rows.iter().filter(|r| diffs[**r].signum() == sign) {
                for _ in 0..diffs[*r].abs() {
                    take.push(*r as u32);
                    codes.push(sign);
                }
            }
        }
    }
    let idx = UInt32Array::from(take);
    let columns = batch
        .columns()
        .iter()
        .map(|c| datafusion::arrow::compute::take(c, &idx, None))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((codes, RecordBatch::try_new(batch.schema(), columns)?))
}

/// One epoch's changes as ENVELOPE UPSERT rows: per key that changed, its new row ("upsert"),
/// its key alone ("delete"), or the first of its several rows ("key_violation").
fn upsert_envelope(
    batch: &RecordBatch,
    diffs: &[i64],
    key: &[usize],
) -> Result<(Vec<i64>, RecordBatch)> {
    use datafusion::arrow::array::{BooleanArray, UInt32Array};
    let (of_row, keys) = key_groups(batch, key)?;
    // Per key: its first row, the rows it gained, its first new row.
    let mut order: Vec<(usize, i64, Option<usize>)> = vec![(0, 0, None); keys];
    let mut seen = vec![false; keys];
    for (row, diff) in diffs.iter().enumerate() {
        let at = of_row[row];
        if !seen[at] {
            seen[at] = true;
            order[at].0 = row;
        }
        let entry = &mut order[at];
        if *diff > 0 {
            entry.1 += diff;
            entry.2.get_or_insert(row);
        }
    }
    let mut take = Vec::with_capacity(order.len());
    let mut states = Vec::with_capacity(order.len());
    let mut keep_values = Vec::with_capacity(order.len());
    for (first, inserted, new_row) in &order {
        match new_row {
            Some(r) => {
                take.push(*r as u32);
                states.push(if *inserted == 1 { 1 } else { 0 });
                keep_values.push(true);
            }
            None => {
                take.push(*first as u32);
                states.push(-1);
                keep_values.push(false);
            }
        }
    }
    let idx = UInt32Array::from(take);
    let deleted = BooleanArray::from(keep_values.iter().map(|k| !k).collect::<Vec<_>>());
    let columns = batch
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let taken = datafusion::arrow::compute::take(c, &idx, None)?;
            if key.contains(&i) {
                Ok(taken)
            } else {
                datafusion::arrow::compute::nullif(&taken, &deleted)
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((states, RecordBatch::try_new(batch.schema(), columns)?))
}

/// A `DECLARE c CURSOR FOR SUBSCRIBE ...`: the subscription plus rows received but not yet
/// fetched.
pub(crate) struct Cursor {
    sub: Subscription,
    /// (epoch, diff, the row as a one-row batch; None for a progress mark)
    pending: std::collections::VecDeque<(u64, i64, Option<RecordBatch>)>,
    failed: Option<Error>,
    /// Every change up to this epoch has been received from the reader.
    received: u64,
}

impl Cursor {
    pub fn new(sub: Subscription) -> Cursor {
        Cursor {
            sub,
            pending: Default::default(),
            failed: None,
            received: 0,
        }
    }

    pub fn result_columns(&self) -> Vec<Column> {
        self.sub.result_columns()
    }

    fn take(&mut self, d: Result<Delivery>) {
        match d {
            Ok(Delivery {
                epoch,
                rows: Some((diffs, batch)),
            }) => {
                for (i, diff) in diffs.into_iter().enumerate() {
                    self.pending
                        .push_back((epoch, diff, Some(batch.slice(i, 1))));
                }
                self.received = self.received.max(epoch);
            }
            Ok(Delivery { epoch, rows: None }) => {
                if self.sub.progress {
                    self.pending.push_back((epoch, 0, None));
                }
                self.received = self.received.max(epoch);
            }
            Err(e) => self.failed = Some(e),
        }
    }

    /// `FETCH`: up to `count` rows (all that are ready when None). With nothing ready it waits
    /// for the next epoch, at most `timeout` (then it returns no rows).
    pub async fn fetch(
        &mut self,
        count: Option<u64>,
        timeout: Option<std::time::Duration>,
    ) -> Result<Output> {
        let want = count.unwrap_or(u64::MAX) as usize;
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        // Progress marks the client did not ask for arrive too: wait on past them.
        while self.pending.is_empty() && self.failed.is_none() && want > 0 {
            let next = match deadline {
                Some(d) => tokio::time::timeout_at(d, self.sub.rx.recv()).await.ok(),
                None => Some(self.sub.rx.recv().await),
            };
            match next {
                Some(Some(d)) => self.take(d),
                Some(None) => {
                    self.failed = Some(Error::internal("the subscription's reader stopped"))
                }
                None => break,
            }
        }
        while self.pending.len() < want {
            match self.sub.rx.try_recv() {
                Ok(d) => self.take(d),
                Err(_) => break,
            }
        }
        if self.pending.is_empty()
            && let Some(e) = self.failed.take()
        {
            return Err(e);
        }
        let n = want.min(self.pending.len());
        let rows: Vec<_> = self.pending.drain(..n).collect();
        let through = match self.pending.front() {
            Some((e, ..)) => e.saturating_sub(1),
            None => self.received,
        };
        let sent = rows.iter().filter(|r| r.2.is_some()).count() as u64;
        self.sub.tracker.advance(through, sent);
        self.rows_output(rows)
    }

    fn rows_output(&self, rows: Vec<(u64, i64, Option<RecordBatch>)>) -> Result<Output> {
        use datafusion::arrow::array::{ArrayRef, BooleanArray, Int64Array, new_null_array};
        use datafusion::arrow::datatypes::{Field, Schema};
        let columns = self.result_columns();
        let view_fields: Vec<Field> = self
            .sub
            .columns
            .iter()
            .map(|c| c.ty.to_arrow_field(&c.name).with_nullable(true))
            .collect();
        let mut fields = vec![Field::new(
            "epoch",
            datafusion::arrow::datatypes::DataType::Int64,
            false,
        )];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.0 as i64),
        ))];
        if self.sub.progress {
            fields.push(Field::new(
                "progressed",
                datafusion::arrow::datatypes::DataType::Boolean,
                false,
            ));
            arrays.push(Arc::new(BooleanArray::from_iter(
                rows.iter().map(|r| Some(r.2.is_none())),
            )));
        }
        if let Some(envelope) = self.sub.envelope {
            fields.push(Field::new(
                match envelope {
                    Envelope::Upsert => "state",
                    Envelope::Op => "op",
                },
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ));
            arrays.push(Arc::new(datafusion::arrow::array::StringArray::from_iter(
                rows.iter()
                    .map(|r| r.2.as_ref().map(|_| label(envelope, r.1))),
            )));
        } else {
            fields.push(Field::new(
                "diff",
                datafusion::arrow::datatypes::DataType::Int64,
                true,
            ));
            arrays.push(Arc::new(Int64Array::from_iter(
                rows.iter().map(|r| r.2.as_ref().map(|_| r.1)),
            )));
        }
        for (ci, f) in view_fields.iter().enumerate() {
            let parts: Vec<ArrayRef> = rows
                .iter()
                .map(|r| match &r.2 {
                    Some(b) => b.column(ci).clone(),
                    None => new_null_array(f.data_type(), 1),
                })
                .collect();
            let refs: Vec<&dyn datafusion::arrow::array::Array> =
                parts.iter().map(|a| a.as_ref()).collect();
            arrays.push(if refs.is_empty() {
                new_null_array(f.data_type(), 0)
            } else {
                datafusion::arrow::compute::concat(&refs)?
            });
        }
        fields.extend(view_fields);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
        Ok(Output::Rows {
            columns: Arc::new(columns),
            batches: vec![batch],
            tag: format!("FETCH {}", rows.len()),
        })
    }
}
