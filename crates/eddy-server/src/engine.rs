//! The engine: one store, one catalog, one commit lock, shared by every session.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use eddy_catalog::Catalog;
use eddy_common::{Epoch, Result};
use eddy_pgwire::Backend;
use eddy_storage::{Store, WriteSet};

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
        Ok(Arc::new(Engine {
            epochs,
            store,
            catalog,
            write_lock: tokio::sync::Mutex::new(()),
            dataflow: Dataflow::start(),
        }))
    }

    /// Commits one epoch: the writes plus every dependent view's changes, atomically. Callers
    /// hold the write lock, so the dataflow reads the epoch this one follows.
    pub(crate) async fn commit(&self, mut writes: WriteSet) -> Result<Epoch> {
        if self.catalog.has_views(true) {
            let catalog = self.catalog.clone();
            let snap = self.store.snapshot();
            writes = self
                .dataflow
                .run(move |v| v.maintain(&catalog, snap, &mut writes).map(|_| writes))
                .await??;
        }
        let epoch = self.store.commit(writes)?;
        self.epochs.send_replace(epoch);
        Ok(epoch)
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
