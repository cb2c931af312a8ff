//! `eddy-server`: the `eddy` binary and the coordinator behind every session.
//!
//! It wires storage, catalog, SQL front end and the wire protocol together: the [`Engine`] owns
//! the store, the catalog and the commit lock that sequences writes into epochs; an
//! [`EddySession`] executes one client's statements (queries on DataFusion over a snapshot, DML
//! and COPY into a write set committed atomically, transactions as an overlay of uncommitted
//! writes). Nothing depends on this crate.

mod conform;
mod copy_in;
mod copy_out;
mod engine;
mod interval;
mod json;
mod modify;
mod names;
mod point_read;
mod session;
mod settings;
mod text_input;
mod writes;

pub use engine::{Config, Engine, EngineBackend};
pub use session::EddySession;
