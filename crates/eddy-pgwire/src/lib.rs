//! `eddy-pgwire`: the PostgreSQL wire protocol in front of an Eddy session.
//!
//! It owns the protocol handling on top of the `pgwire` crate (startup parameters, simple and
//! extended query, COPY, cancel, the delivery of LISTEN notifications), the encoding of Arrow values in PostgreSQL's text and binary
//! formats, parameter decoding, and the mapping of `eddy_common::Error` to ErrorResponse with
//! its SQLSTATE. It knows nothing of storage or planning: it drives any [`Session`] the server
//! gives it. It must never depend on the server, catalog or storage crates.

pub mod encode;
mod handler;
pub mod params;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use eddy_common::datetime::TimeSettings;
use eddy_common::{PgType, Result};

pub use handler::{Handlers, serve};

/// A notification for the client (PostgreSQL's NotificationResponse): from `NOTIFY`, or from a
/// materialized view whose epoch changed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// The process id of the session that sent it (0 for the engine's own).
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

/// A result column as RowDescription describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: PgType,
    /// OID of the table the column comes straight from, else 0.
    pub table_oid: u32,
    /// Attribute number in that table, else 0.
    pub attnum: i16,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: PgType) -> Self {
        Column {
            name: name.into(),
            ty,
            table_oid: 0,
            attnum: 0,
        }
    }
}

/// What a statement produced.
pub enum Output {
    /// Rows, and the command tag that ends them (`SELECT`, or `INSERT 0` for RETURNING).
    Rows {
        columns: Arc<Vec<Column>>,
        batches: Vec<RecordBatch>,
        tag: String,
    },
    /// A command without rows: the complete tag (`INSERT 0 3`, `CREATE TABLE`).
    Command(String),
    /// `COPY ... FROM STDIN` is waiting for data: feed it to [`Session::copy_data`].
    CopyIn {
        columns: usize,
    },
    /// `COPY ... TO STDOUT`: the rows, each already encoded with its line terminator.
    CopyOut {
        columns: usize,
        rows: Vec<Bytes>,
    },
    /// A `COPY ... TO STDOUT` whose rows keep coming (a subscription): each item is one row,
    /// encoded; it ends when the stream does, or with the error an item carries.
    CopyOutStream {
        columns: usize,
        rows: futures::stream::BoxStream<'static, Result<Bytes>>,
    },
    Empty,
}

/// What a prepared statement takes and returns.
#[derive(Clone, Debug)]
pub struct Described {
    pub params: Vec<PgType>,
    /// `None` for statements that return no rows.
    pub columns: Option<Vec<Column>>,
}

/// One client session, as the wire layer drives it.
#[async_trait]
pub trait Session: Send + Sync + 'static {
    /// A parsed statement.
    type Stmt: Clone + Send + Sync + 'static;

    fn parse(&self, sql: &str) -> Result<Vec<Self::Stmt>>;
    /// Parameter and result types of a statement; `param_hints` are the types the client sent
    /// (None where it sent none, so the server infers them).
    async fn describe(
        &self,
        stmt: &Self::Stmt,
        param_hints: &[Option<PgType>],
    ) -> Result<Described>;
    async fn execute(&self, stmt: &Self::Stmt, params: Vec<ScalarValue>) -> Result<Output>;
    async fn copy_data(&self, data: Bytes) -> Result<()>;
    /// Ends a COPY FROM STDIN; returns the number of rows it stored.
    async fn copy_done(&self) -> Result<u64>;
    async fn copy_fail(&self, reason: String);
    /// The session's `TimeZone` and `DateStyle`, by which dates and timestamps are printed and read.
    fn time_settings(&self) -> TimeSettings;
    /// Parameters reported in ParameterStatus at startup (`server_version`, `TimeZone`, ...).
    fn startup_parameters(&self) -> Vec<(String, String)>;
    /// Reported parameters a statement changed (`SET TimeZone`), each to be sent to the client
    /// in a ParameterStatus message as PostgreSQL does; taking them clears the list.
    fn take_changed_parameters(&self) -> Vec<(String, String)>;
    /// The columns of an open cursor named `name`: `DECLARE` makes a portal by that name in
    /// PostgreSQL, and drivers (psycopg 3) Describe it over the protocol.
    async fn cursor_columns(&self, _name: &str) -> Option<Vec<Column>> {
        None
    }
    /// The process id the connection reported in BackendKeyData, once it has one.
    fn set_backend_pid(&self, _pid: i32) {}
    /// Notifications to hand the client now. PostgreSQL delivers them only between
    /// transactions, so inside a transaction block there are none (they wait).
    fn take_notifications(&self) -> Vec<Notification> {
        vec![]
    }
    /// Woken when a notification arrives for the session, so that an idle connection delivers
    /// it at once rather than with the client's next command.
    fn notification_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }
}

/// Makes sessions for new connections.
pub trait Backend: Send + Sync + 'static {
    type S: Session;
    /// A session for a client; `options` are the other parameters of its startup packet
    /// (`TimeZone`, `application_name`, ...), applied like `SET`.
    fn new_session(
        &self,
        user: &str,
        database: &str,
        options: &[(String, String)],
    ) -> Result<Self::S>;
}
