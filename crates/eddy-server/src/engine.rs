//! The engine: one store, one catalog, one commit lock, shared by every session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eddy_catalog::Catalog;
use eddy_common::{Epoch, Result};
use eddy_pgwire::Backend;
use eddy_storage::{Cf, Store, WriteSet};

use crate::dataflow::Dataflow;

use crate::session::EddySession;

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
}

pub struct Engine {
    pub(crate) store: Store,
    pub(crate) catalog: Arc<Catalog>,
    /// Serializes writers: an autocommit statement holds it from its read snapshot to its commit,
    /// a transaction from its validation to its commit, so primary-key checks see every write
    /// that could conflict and epochs commit in order.
    pub(crate) write_lock: tokio::sync::Mutex<()>,
    pub(crate) dataflow: Dataflow,
    /// The last epoch committed through `commit`, for subscriptions waiting on new changes.
    pub(crate) epochs: tokio::sync::watch::Sender<Epoch>,
    /// Changelog entries of epochs below this are pruned (or being pruned): a subscription
    /// that still needs one gets an error instead of a gap.
    pub(crate) changelog_horizon: AtomicU64,
    /// When recent epochs committed, to turn the changelog retention (a duration) into an
    /// epoch.
    commit_times: std::sync::Mutex<std::collections::VecDeque<(Instant, Epoch)>>,
    /// LISTEN / NOTIFY channels; each materialized view notifies on its own.
    pub(crate) channels: crate::notify::Channels,
    /// Numbers the materialized views `SUBSCRIBE (query)` makes.
    pub(crate) temp_views: AtomicU64,
}

/// Meta key of the changelog horizon (u64 BE), kept across restarts.
const CHANGELOG_HORIZON_KEY: &[u8] = b"sys/changelog_horizon";

/// How long a named subscription keeps its view's changes unless it says otherwise.
pub(crate) const DEFAULT_SUBSCRIPTION_RETENTION_SECS: u64 = 86_400;

/// How long view changes are kept for subscriptions (`EDDY_CHANGELOG_RETENTION`, seconds).
fn changelog_retention() -> Duration {
    let secs = std::env::var("EDDY_CHANGELOG_RETENTION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    Duration::from_secs(secs)
}

impl Engine {
    pub fn open(config: &Config) -> Result<Arc<Engine>> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            eddy_common::Error::io(
                format!(
                    "could not create data directory \"{}\"",
                    config.data_dir.display()
                ),
                e,
            )
        })?;
        let store = Store::open(&config.data_dir)?;
        let catalog = Arc::new(Catalog::load(store.clone())?);
        tracing::info!(
            epoch = store.epoch_committed(),
            tables = catalog.all_tables().len(),
            "storage opened"
        );
        let epochs = tokio::sync::watch::Sender::new(store.epoch_committed());
        let horizon = match store.snapshot().get(Cf::Meta, CHANGELOG_HORIZON_KEY)? {
            Some(v) => u64::from_be_bytes(v.as_slice().try_into().unwrap_or([0; 8])),
            None => 0,
        };
        Ok(Arc::new(Engine {
            epochs,
            changelog_horizon: AtomicU64::new(horizon),
            commit_times: Default::default(),
            channels: Default::default(),
            temp_views: AtomicU64::new(1),
            store,
            catalog,
            write_lock: tokio::sync::Mutex::new(()),
            dataflow: Dataflow::start(),
        }))
    }

    /// Commits one epoch: the writes plus every dependent view's changes, atomically. Callers
    /// hold the write lock, so the dataflow reads the epoch this one follows.
    pub(crate) async fn commit(&self, mut writes: WriteSet) -> Result<Epoch> {
        let mut changed = vec![];
        if self.catalog.has_views(true) || self.catalog.has_table_history() {
            let catalog = self.catalog.clone();
            let snap = self.store.snapshot();
            let own = writes.data.len();
            (writes, changed) = self
                .dataflow
                .run(move |v| {
                    v.maintain(&catalog, snap, &mut writes)
                        .map(|changed| (writes, changed))
                })
                .await??;
            // Views' and histories' writes go to keys of their own, so any new key is derived
            // from this statement's writes, bulk puts included.
            writes.bulk_feeds_others = !writes.bulk.is_empty() && writes.data.len() > own;
        }
        let epoch = self.store.commit(writes)?;
        self.epochs.send_replace(epoch);
        self.commit_times
            .lock()
            .expect("commit times")
            .push_back((Instant::now(), epoch));
        if !changed.is_empty() && self.channels.any() {
            let payload = epoch.to_string();
            for id in changed {
                if let Some(eddy_catalog::Relation::View(v)) = self.catalog.relation_by_id(id) {
                    self.channels
                        .notify(&crate::notify::view_channel(&v.def), &payload, 0);
                }
            }
        }
        Ok(epoch)
    }

    /// Drops changelog entries older than the retention, every few seconds, for as long as
    /// the engine lives.
    pub fn spawn_changelog_pruning(self: &Arc<Self>) {
        let engine = Arc::downgrade(self);
        let retention = changelog_retention();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(
                Duration::from_secs(5).min(retention.max(Duration::from_millis(200))),
            );
            loop {
                tick.tick().await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if let Err(e) = engine.prune_changelog(retention) {
                    tracing::warn!("changelog pruning failed: {e}");
                }
            }
        });
    }

    fn prune_changelog(&self, retention: Duration) -> Result<()> {
        // Named subscriptions and tables' histories may ask for longer: the longest wins, for
        // every changelog, so one horizon tells a reader whether any entry it needs is gone.
        let history_tables = self.catalog.history_tables();
        let retention = (self.catalog.subscriptions().iter())
            .map(|s| s.retention_secs)
            .chain(
                history_tables
                    .iter()
                    .filter_map(|t| t.def.history.as_ref().map(|h| h.retention_secs)),
            )
            .map(Duration::from_secs)
            .fold(retention, Duration::max);
        let cut = {
            let mut times = self.commit_times.lock().expect("commit times");
            let mut cut = None;
            while let Some((at, epoch)) = times.front().copied() {
                if at.elapsed() < retention {
                    break;
                }
                cut = Some(epoch);
                times.pop_front();
            }
            cut
        };
        let Some(cut) = cut else {
            return Ok(());
        };
        let horizon = cut + 1;
        // Raised and kept before anything is deleted: a reader that checks it after taking its
        // snapshot either sees the entries or knows they are gone.
        self.store
            .put_now(Cf::Meta, CHANGELOG_HORIZON_KEY, &horizon.to_be_bytes())?;
        self.changelog_horizon.fetch_max(horizon, Ordering::AcqRel);
        let views = self.catalog.all_views();
        let logged = (views.iter().filter(|v| v.def.materialized).map(|v| v.id()))
            .chain(history_tables.iter().map(|t| t.id()));
        for id in logged {
            self.store.delete_range_now(
                Cf::Data,
                &eddy_catalog::changelog::prefix(id),
                &eddy_catalog::changelog::key(id, horizon, 0),
            )?;
        }
        Ok(())
    }

    pub fn shutdown(&self) -> Result<()> {
        self.store.flush()
    }
}

/// The wire layer's view of the engine.
pub struct EngineBackend(pub Arc<Engine>);

impl Backend for EngineBackend {
    type S = EddySession;

    fn new_session(
        &self,
        user: &str,
        database: &str,
        options: &[(String, String)],
    ) -> Result<EddySession> {
        if database != eddy_catalog::DATABASE_NAME {
            return Err(eddy_common::Error::new(
                eddy_common::SqlState("3D000"),
                format!("database \"{database}\" does not exist"),
            )
            .with_hint("Eddy serves one database, named \"eddy\"."));
        }
        EddySession::new(self.0.clone(), user, options)
    }
}
