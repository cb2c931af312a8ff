//! `eddy-server`: the `eddy` binary and the coordinator behind every session.
//!
//! It wires storage, catalog, SQL front end and the wire protocol together: the [`Engine`] owns
//! the store, the catalog and the commit lock that sequences writes into epochs; an
//! [`EddySession`] executes one client's statements (queries on DataFusion over a snapshot, DML
//! and COPY into a write set committed atomically, transactions as an overlay of uncommitted
//! writes). The coordinator runs every view's dataflow on its own thread inside each commit
//! (`dataflow`), so one epoch holds a write and all its effects on views. Nothing depends on
//! this crate.

mod conform;
mod copy_in;
mod copy_out;
mod cursors;
mod dataflow;
mod engine;
mod interval;
mod modify;
mod names;
mod notify;
mod pg_text;
mod plain_views;
mod point_read;
mod prepared;
mod sequence_calls;
mod session;
mod settings;
mod subscribe;
mod text_input;
mod views;
mod writes;

pub use engine::{Config, Engine, EngineBackend};
pub use session::EddySession;
pub use views::recover as recover_views;
