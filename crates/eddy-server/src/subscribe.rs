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
use eddy_catalog::{DEFAULT_SCHEMA, Relation, ViewEntry, changelog};
use eddy_common::datetime::SessionZone;
use eddy_common::{Error, Result, SqlState};
use eddy_dataflow::changes::view_contents;
use eddy_pgwire::{Column, Output};
use eddy_sql::copy_options::CopyOptions;
use eddy_sql::subscribe::Subscribe;
use eddy_storage::{Cf, Snapshot};
use tokio::sync::mpsc;

use crate::engine::Engine;

/// Rows buffered between the reader task and the connection.
const CHANNEL_ROWS: usize = 1024;

pub(crate) fn start(engine: &Arc<Engine>, s: &Subscribe, zone: SessionZone) -> Result<Output> {
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
        Some(e) => e,
        None => now,
    };
    let columns: Vec<Column> = view
        .def
        .columns
        .iter()
        .map(|c| Column::new(c.name.clone(), c.ty.clone()))
        .collect();
    let n_columns = columns.len() + 2 + usize::from(s.progress);
    let (tx, rx) = mpsc::channel::<Result<Bytes>>(CHANNEL_ROWS);
    let reader = Reader {
        engine: engine.clone(),
        view,
        columns,
        progress: s.progress,
        zone,
        opts: CopyOptions::from_ast(&[], &[])?,
        tx,
    };
    let snapshot = s.snapshot;
    tokio::spawn(async move {
        let tx = reader.tx.clone();
        if let Err(e) = reader.run(snap, start, snapshot).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(Output::CopyOutStream {
        columns: n_columns,
        rows: Box::pin(tokio_stream_of(rx)),
    })
}

fn tokio_stream_of(
    mut rx: mpsc::Receiver<Result<Bytes>>,
) -> impl futures::Stream<Item = Result<Bytes>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

struct Reader {
    engine: Arc<Engine>,
    view: Arc<ViewEntry>,
    columns: Vec<Column>,
    progress: bool,
    zone: SessionZone,
    opts: CopyOptions,
    tx: mpsc::Sender<Result<Bytes>>,
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
            } else if self.progress && self.emit_progress(last).await.is_err() {
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
            let prefix = changelog::view_prefix(self.view.id());
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
        let prefix = changelog::view_prefix(self.view.id());
        let mut by_epoch: BTreeMap<u64, Vec<(Vec<u8>, i64)>> = BTreeMap::new();
        let scanned = snap.scan_prefix_from(
            Cf::Data,
            &prefix,
            &changelog::key(self.view.id(), after + 1, 0),
            |k, v| {
                let epoch = changelog::epoch_of(k)?;
                let (diff, row) = changelog::decode_value(v)?;
                by_epoch
                    .entry(epoch)
                    .or_default()
                    .push((row.to_vec(), diff));
                Ok(true)
            },
        );
        if let Err(e) = scanned {
            let _ = self.tx.send(Err(e)).await;
            return Err(Closed);
        }
        for (epoch, rows) in by_epoch {
            self.emit(epoch, rows).await?;
        }
        if self.progress {
            self.emit_progress(snap.epoch()).await?;
        }
        Ok(())
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
        let lines = match self.encode(epoch, &rows) {
            Ok(l) => l,
            Err(e) => {
                let _ = self.tx.send(Err(e)).await;
                return Err(Closed);
            }
        };
        for l in lines {
            self.tx.send(Ok(l)).await.map_err(|_| Closed)?;
        }
        Ok(())
    }

    fn encode(&self, epoch: u64, rows: &[(Vec<u8>, i64)]) -> Result<Vec<Bytes>> {
        let batch = self
            .view
            .codec
            .decode_counted(rows.iter().map(|(r, _)| (r.as_slice(), 1)))?;
        let lines = crate::copy_out::encode(&self.columns, &[batch], &self.opts, &self.zone)?;
        Ok(lines
            .into_iter()
            .zip(rows)
            .map(|(line, (_, diff))| {
                let mut out = epoch.to_string().into_bytes();
                out.push(b'\t');
                if self.progress {
                    out.extend_from_slice(b"f\t");
                }
                out.extend_from_slice(diff.to_string().as_bytes());
                out.push(b'\t');
                out.extend_from_slice(&line);
                Bytes::from(out)
            })
            .collect())
    }

    /// A row saying the subscriber has every change up to `epoch`.
    async fn emit_progress(&self, epoch: u64) -> std::result::Result<(), Closed> {
        let mut line = format!("{epoch}\tt\t\\N");
        for _ in &self.columns {
            line.push_str("\t\\N");
        }
        line.push('\n');
        self.tx
            .send(Ok(Bytes::from(line)))
            .await
            .map_err(|_| Closed)
    }
}
