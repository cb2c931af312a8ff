//! The `pgwire` handlers: startup, simple and extended query, COPY and cancel, all driving a
//! [`Session`] kept in the connection's session extensions.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use datafusion::arrow::array::RecordBatch;
use futures::{Sink, SinkExt, stream};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, PgWireServerHandlers,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyOutResponse};
use pgwire::messages::data::DataRow;
use pgwire::messages::response::NotificationResponse;
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::TcpListener;

use crate::encode::{binary_value, text_value};
use crate::{Backend, Column, Described, Output, Session};
use eddy_common::datetime::TimeSettings;

/// A statement prepared with Parse: the session's statement plus its described types.
#[derive(Clone)]
pub struct Prepared<T> {
    stmt: T,
    described: Described,
}

pub struct Handlers<B: Backend> {
    inner: Arc<EddyHandler<B>>,
    cancel: Arc<DefaultCancelHandler>,
}

impl<B: Backend> Handlers<B> {
    pub fn new(backend: Arc<B>) -> Self {
        let manager = Arc::new(ConnectionManager::new());
        Handlers {
            inner: Arc::new(EddyHandler {
                backend,
                manager: manager.clone(),
                pids: RandomPidSecretKeyGenerator::default(),
                parser: Arc::new(EddyParser {
                    _b: std::marker::PhantomData,
                }),
            }),
            cancel: Arc::new(DefaultCancelHandler::new(manager)),
        }
    }
}

/// Accepts connections forever, one task each.
pub async fn serve<B: Backend>(listener: TcpListener, backend: Arc<B>) -> std::io::Result<()> {
    let handlers = Arc::new(Handlers::new(backend));
    loop {
        let (socket, _) = listener.accept().await?;
        let _ = socket.set_nodelay(true);
        let h = handlers.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(socket, h).await {
                tracing::debug!("connection ended with an error: {e}");
            }
        });
    }
}

/// How long a client has to finish its startup handshake.
const STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// One connection's message loop. It is pgwire's own `process_socket` loop plus one thing that
/// loop cannot do: while the connection is idle (between protocol exchanges, outside a
/// transaction block), a notification for the session is sent at once, as PostgreSQL does for
/// `LISTEN`ers; drivers such as asyncpg and node-postgres wait for exactly that.
async fn connection<B: Backend>(
    tcp: tokio::net::TcpStream,
    handlers: Arc<Handlers<B>>,
) -> std::io::Result<()> {
    use futures::StreamExt;
    use pgwire::api::PgWireConnectionState as St;
    use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
    let startup = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup);
    let peer = Peer::of(&tcp).map(Arc::new);
    let negotiated = tokio::select! {
        _ = &mut startup => return Ok(()),
        s = negotiate_tls::<Prepared<<B::S as Session>::Stmt>>(tcp, None) => s?,
    };
    let Some(mut socket) = negotiated else {
        return Ok(());
    };
    if let Some(peer) = peer {
        socket.session_extensions().insert(peer);
    }
    let (h, cancel) = (handlers.inner.clone(), handlers.cancel.clone());
    // Between protocol exchanges: after a Query or Sync has been answered, not between the
    // Parse, Bind and Execute of a pipeline.
    let mut idle = false;
    loop {
        let starting = matches!(
            socket.state(),
            St::AwaitingStartup | St::AuthenticationInProgress
        );
        let signal = match idle && matches!(socket.state(), St::ReadyForQuery) {
            true => session::<B, _>(&socket)
                .ok()
                .and_then(|s| s.notification_signal()),
            false => None,
        };
        let msg = tokio::select! {
            _ = &mut startup, if starting => None,
            _ = async { signal.as_ref().expect("guarded").notified().await }, if signal.is_some() => {
                if let Ok(s) = session::<B, _>(&socket) {
                    send_notifications(&mut socket, s.as_ref())
                        .await
                        .map_err(std::io::Error::other)?;
                    socket.flush().await?;
                }
                continue;
            }
            msg = socket.next() => msg,
        };
        let Some(Ok(msg)) = msg else {
            break;
        };
        // A Terminate means the client is leaving: drop the socket (asyncpg waits for that).
        if matches!(msg, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let mid_pipeline = matches!(
            msg,
            PgWireFrontendMessage::Parse(_)
                | PgWireFrontendMessage::Bind(_)
                | PgWireFrontendMessage::Execute(_)
                | PgWireFrontendMessage::Describe(_)
                | PgWireFrontendMessage::Flush(_)
                | PgWireFrontendMessage::Close(_)
        );
        let is_extended_query = match socket.state() {
            St::CopyInProgress(is_extended_query) => is_extended_query,
            _ => msg.is_extended_query(),
        };
        let is_cancel_request = matches!(msg, PgWireFrontendMessage::CancelRequest(_));
        if let Err(e) = process_message(
            msg,
            &mut socket,
            h.clone(),
            h.clone(),
            h.clone(),
            h.clone(),
            cancel.clone(),
        )
        .await
        {
            let is_fatal = e.is_fatal();
            process_error(&mut socket, e, is_extended_query).await?;
            if is_fatal {
                break;
            }
        }
        if is_cancel_request {
            break;
        }
        idle = !mid_pipeline && matches!(socket.state(), St::ReadyForQuery);
    }
    Ok(())
}

/// Sends the session's deliverable notifications (fed, not flushed: a ReadyForQuery or the
/// caller's flush follows).
async fn send_notifications<C, S: Session>(client: &mut C, session: &S) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in session.take_notifications() {
        client
            .feed(PgWireBackendMessage::NotificationResponse(
                NotificationResponse::new(n.pid, n.channel, n.payload),
            ))
            .await?;
    }
    Ok(())
}

impl<B: Backend> PgWireServerHandlers for Handlers<B> {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.inner.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.inner.clone()
    }
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.inner.clone()
    }
    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.inner.clone()
    }
    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

struct EddyHandler<B: Backend> {
    backend: Arc<B>,
    manager: Arc<ConnectionManager>,
    pids: RandomPidSecretKeyGenerator,
    parser: Arc<EddyParser<B>>,
}

struct EddyParser<B> {
    _b: std::marker::PhantomData<fn() -> B>,
}

pub(crate) fn to_wire(e: eddy_common::Error) -> PgWireError {
    let e = e.into_body();
    let mut info = ErrorInfo::new("ERROR".into(), e.state.code().into(), e.message);
    info.detail = e.detail;
    info.hint = e.hint;
    info.where_context = e.context;
    PgWireError::UserError(Box::new(info))
}

fn session<B: Backend, C: ClientInfo>(client: &C) -> PgWireResult<Arc<B::S>> {
    client.session_extensions().get::<B::S>().ok_or_else(|| {
        to_wire(eddy_common::Error::new(
            eddy_common::SqlState::PROTOCOL_VIOLATION,
            "no session: the startup handshake did not complete",
        ))
    })
}

/// A second handle on a connection's socket, only to notice that the client has gone while
/// the server waits to send (a COPY that streams a subscription between epochs): nothing reads
/// the socket then, and a write would find out only at the next epoch.
struct Peer(tokio::net::TcpStream);

impl Peer {
    fn of(tcp: &tokio::net::TcpStream) -> Option<Peer> {
        use std::os::fd::AsFd;
        let fd = tcp.as_fd().try_clone_to_owned().ok()?;
        let std = std::net::TcpStream::from(fd);
        // Non-blocking is a property of the shared socket, already set by tokio.
        std.set_nonblocking(true).ok()?;
        tokio::net::TcpStream::from_std(std).ok().map(Peer)
    }

    /// Resolves once the client has closed its end (or the socket failed). The readiness
    /// tells a closed end (EPOLLRDHUP) even with bytes unread before it: the pipelined Sync of
    /// an extended query, which stays for the connection's reader and makes a peek see data
    /// rather than the end. While data waits and the end is open, readiness stays set, so the
    /// loop looks again after a pause rather than spinning.
    async fn gone(&self) {
        let mut byte = [0u8; 1];
        loop {
            match self.0.ready(tokio::io::Interest::READABLE).await {
                Ok(r) if r.is_read_closed() || r.is_error() => return,
                Err(_) => return,
                Ok(_) => {}
            }
            match self.0.peek(&mut byte).await {
                Ok(0) | Err(_) => return,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
}

/// Sends a COPY TO STDOUT whose rows keep coming: each row as soon as it is ready, flushed
/// whenever the stream has nothing more at hand (pgwire's own COPY OUT buffers until the end).
/// A client that disconnects while the stream waits ends it at once (dropping the stream ends
/// its subscription).
async fn stream_copy_out<C>(
    client: &mut C,
    columns: usize,
    mut rows: futures::stream::BoxStream<'static, eddy_common::Result<bytes::Bytes>>,
) -> PgWireResult<Response>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    use futures::{FutureExt, StreamExt};
    let peer = client.session_extensions().get::<Arc<Peer>>();
    client
        .send(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            0,
            columns as i16,
            vec![0; columns],
        )))
        .await?;
    let mut n = 0usize;
    loop {
        let item = match rows.next().now_or_never() {
            Some(item) => item,
            None => {
                client.flush().await?;
                match &peer {
                    Some(peer) => tokio::select! {
                        item = rows.next() => item,
                        _ = peer.gone() => {
                            return Err(PgWireError::IoError(std::io::Error::new(
                                std::io::ErrorKind::ConnectionAborted,
                                "the client closed the connection during COPY",
                            )));
                        }
                    },
                    None => rows.next().await,
                }
            }
        };
        match item {
            None => break,
            Some(Ok(b)) => {
                client
                    .feed(PgWireBackendMessage::CopyData(CopyData::new(b)))
                    .await?;
                n += 1;
            }
            Some(Err(e)) => {
                client.flush().await?;
                return Err(to_wire(e));
            }
        }
    }
    client
        .send(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    Ok(Response::Execution(Tag::new("COPY").with_rows(n)))
}

/// Sends ParameterStatus for each reported parameter the last statement changed.
async fn report_changed<C, S: Session>(client: &mut C, session: &S) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for (k, v) in session.take_changed_parameters() {
        client
            .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                k, v,
            )))
            .await?;
    }
    Ok(())
}

struct Params(Vec<(String, String)>);

impl ServerParameterProvider for Params {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        let mut p: HashMap<String, String> = self.0.iter().cloned().collect();
        if let Some(app) = client.metadata().get("application_name") {
            p.insert("application_name".into(), app.clone());
        }
        if let Some(user) = client.metadata().get("user") {
            p.insert("session_authorization".into(), user.clone());
        }
        Some(p)
    }
}

#[async_trait]
impl<B: Backend> StartupHandler for EddyHandler<B> {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, &startup).await?;
        save_startup_parameters_to_metadata(client, &startup);
        let user = client
            .metadata()
            .get("user")
            .cloned()
            .unwrap_or_else(|| "eddy".into());
        let database = client
            .metadata()
            .get("database")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let options: Vec<(String, String)> = client
            .metadata()
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "user" | "database" | "replication"))
            .filter(|(k, _)| !k.starts_with("pgwire_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let session = self
            .backend
            .new_session(&user, &database, &options)
            .map_err(|e| {
                let e = e.into_body();
                let mut info = ErrorInfo::new("FATAL".into(), e.state.code().into(), e.message);
                info.detail = e.detail;
                PgWireError::UserError(Box::new(info))
            })?;
        let parameters = session.startup_parameters();
        let (pid, key) = self.pids.generate(client);
        session.set_backend_pid(pid);
        client.session_extensions().insert(session);
        client.set_pid_and_secret_key(pid, key.clone());
        let (handle, guard) = self.manager.register(pid, key);
        client
            .session_extensions()
            .insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &Params(parameters)).await
    }
}

fn field_infos(columns: &[Column], format: Option<&Format>) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ty = Type::from_oid(c.ty.oid()).unwrap_or(Type::TEXT);
            let fmt = format.map(|f| f.format_for(i)).unwrap_or(FieldFormat::Text);
            let table = (c.table_oid != 0).then_some(c.table_oid as i32);
            let attnum = (c.attnum != 0).then_some(c.attnum);
            FieldInfo::new(c.name.clone(), table, attnum, ty, fmt)
                .with_type_modifier(c.ty.typmod())
                .with_type_size(c.ty.typlen())
        })
        .collect()
}

/// Encodes batches into DataRows in the requested per-column formats.
fn encode_rows(
    columns: &[Column],
    batches: &[RecordBatch],
    format: Option<&Format>,
    time: &TimeSettings,
) -> PgWireResult<Vec<PgWireResult<DataRow>>> {
    let mut rows = vec![];
    let mut text = String::new();
    for batch in batches {
        for r in 0..batch.num_rows() {
            let mut data = BytesMut::new();
            for (i, col) in columns.iter().enumerate() {
                let array = batch.column(i);
                if array.is_null(r) {
                    data.extend_from_slice(&(-1i32).to_be_bytes());
                    continue;
                }
                let binary = format.is_some_and(|f| f.is_binary(i));
                if binary {
                    let at = data.len();
                    data.extend_from_slice(&[0; 4]);
                    binary_value(array, r, &col.ty, &mut data).map_err(to_wire)?;
                    let len = (data.len() - at - 4) as i32;
                    data[at..at + 4].copy_from_slice(&len.to_be_bytes());
                } else {
                    text.clear();
                    text_value(array, r, &col.ty, time, &mut text).map_err(to_wire)?;
                    data.extend_from_slice(&(text.len() as i32).to_be_bytes());
                    data.extend_from_slice(text.as_bytes());
                }
            }
            rows.push(Ok(DataRow::new(data, columns.len() as i16)));
        }
    }
    Ok(rows)
}

fn to_response(
    output: Output,
    format: Option<&Format>,
    time: &TimeSettings,
) -> PgWireResult<Response> {
    Ok(match output {
        Output::Rows {
            columns,
            batches,
            tag,
        } => {
            let fields = Arc::new(field_infos(&columns, format));
            let rows = encode_rows(&columns, &batches, format, time)?;
            let mut resp = QueryResponse::new(fields, stream::iter(rows));
            resp.set_command_tag(&tag);
            Response::Query(resp)
        }
        Output::Command(tag) => match tag.as_str() {
            "BEGIN" | "START TRANSACTION" => Response::TransactionStart(Tag::new(&tag)),
            "COMMIT" | "ROLLBACK" => Response::TransactionEnd(Tag::new(&tag)),
            _ => Response::Execution(Tag::new(&tag)),
        },
        Output::CopyIn { columns } => {
            Response::CopyIn(CopyResponse::new(0, columns, stream::empty()))
        }
        Output::CopyOut { columns, rows } => {
            let data = rows.into_iter().map(|b| Ok(CopyData::new(b)));
            Response::CopyOut(CopyResponse::new(
                0,
                columns,
                stream::iter(data.collect::<Vec<_>>()),
            ))
        }
        Output::CopyOutStream { .. } => {
            return Err(to_wire(eddy_common::Error::internal(
                "a streaming COPY must be sent by stream_copy_out",
            )));
        }
        Output::Empty => Response::EmptyQuery,
    })
}

#[async_trait]
impl<B: Backend> SimpleQueryHandler for EddyHandler<B> {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session::<B, C>(client)?;
        let stmts = match session.parse(query) {
            Ok(s) => s,
            Err(e) => return Err(to_wire(e)),
        };
        let mut out = vec![];
        for stmt in stmts {
            match session.execute(&stmt, vec![]).await {
                Ok(Output::CopyOutStream { columns, rows }) => {
                    out.push(stream_copy_out(client, columns, rows).await?);
                }
                Ok(o) => {
                    let copy_in = matches!(o, Output::CopyIn { .. });
                    report_changed(client, session.as_ref()).await?;
                    out.push(to_response(o, None, &session.time_settings())?);
                    if copy_in {
                        // The rest of a multi-statement string after COPY FROM STDIN would
                        // run before the data arrives; PostgreSQL's clients never send that.
                        break;
                    }
                }
                Err(e) => {
                    if out.is_empty() {
                        return Err(to_wire(e));
                    }
                    let PgWireError::UserError(info) = to_wire(e) else {
                        unreachable!()
                    };
                    out.push(Response::Error(info));
                    break;
                }
            }
        }
        if out.is_empty() {
            out.push(Response::EmptyQuery);
        }
        // PostgreSQL sends a transaction's notifications before its ReadyForQuery, so psql
        // prints them right after the command; here they go just before the results.
        send_notifications(client, session.as_ref()).await?;
        Ok(out)
    }
}

fn pg_type_of_oid(oid: u32) -> Option<eddy_common::PgType> {
    pg_type_named(Type::from_oid(oid)?.name())
}

fn pg_type_named(name: &str) -> Option<eddy_common::PgType> {
    // Array types are named `_elem` (`_text` for text[]).
    if let Some(elem) = name.strip_prefix('_') {
        return pg_type_named(elem).map(|e| eddy_common::PgType::Array(Box::new(e)));
    }
    eddy_common::PgType::parse(name).ok().or(match name {
        "varchar" => Some(eddy_common::PgType::Varchar(None)),
        "numeric" => Some(eddy_common::PgType::Numeric(None)),
        _ => None,
    })
}

#[async_trait]
impl<B: Backend> QueryParser for EddyParser<B> {
    type Statement = Prepared<<B::S as Session>::Stmt>;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let session = session::<B, C>(client)?;
        let mut stmts = session.parse(sql).map_err(to_wire)?;
        if stmts.len() > 1 {
            return Err(to_wire(eddy_common::Error::syntax(
                "cannot insert multiple commands into a prepared statement",
            )));
        }
        let Some(stmt) = stmts.pop() else {
            return Ok(None);
        };
        let hints: Vec<_> = types
            .iter()
            .map(|t| t.as_ref().and_then(|t| pg_type_of_oid(t.oid())))
            .collect();
        let described = session.describe(&stmt, &hints).await.map_err(to_wire)?;
        Ok(Some(Prepared { stmt, described }))
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        Ok(stmt
            .described
            .params
            .iter()
            .map(|t| Type::from_oid(t.oid()).unwrap_or(Type::TEXT))
            .collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(stmt
            .described
            .columns
            .as_deref()
            .map(|c| field_infos(c, format))
            .unwrap_or_default())
    }
}

#[async_trait]
impl<B: Backend> ExtendedQueryHandler for EddyHandler<B> {
    type Statement = Prepared<<B::S as Session>::Stmt>;
    type QueryParser = EddyParser<B>;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    /// Notifications a transaction produced go out before the ReadyForQuery that ends it.
    async fn on_sync<C>(
        &self,
        client: &mut C,
        _message: pgwire::messages::extendedquery::Sync,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal(pgwire::api::DEFAULT_NAME);
        if let Ok(session) = session::<B, C>(client) {
            send_notifications(client, session.as_ref()).await?;
        }
        client
            .send(PgWireBackendMessage::ReadyForQuery(
                pgwire::messages::response::ReadyForQuery::new(client.transaction_status()),
            ))
            .await?;
        client.flush().await?;
        Ok(())
    }

    /// A portal the protocol did not bind may be a cursor that `DECLARE` opened.
    async fn on_describe<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::extendedquery::Describe,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // pgwire answers a statement with parameters but no result columns (an INSERT) with an
        // empty RowDescription where PostgreSQL sends NoData, which pgjdbc takes for a result.
        if message.target_type == pgwire::messages::extendedquery::TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or("");
            if let Some(pgwire::api::store::Entry::Value(stmt)) =
                client.portal_store().get_statement(name)
            {
                let response = self.do_describe_statement(client, &stmt).await?;
                client
                    .send(PgWireBackendMessage::ParameterDescription(
                        pgwire::messages::data::ParameterDescription::new(
                            response.parameters.iter().map(|t| t.oid()).collect(),
                        ),
                    ))
                    .await?;
                let rows = pgwire::api::results::DescribePortalResponse::new(response.fields);
                return pgwire::api::query::send_describe_response(client, &rows).await;
            }
        }
        if message.target_type == pgwire::messages::extendedquery::TARGET_TYPE_BYTE_PORTAL {
            let name = message.name.as_deref().unwrap_or("");
            if client.portal_store().get_portal(name).is_none() {
                let session = session::<B, C>(client)?;
                if let Some(columns) = session.cursor_columns(name).await {
                    let response = pgwire::api::results::DescribePortalResponse::new(field_infos(
                        &columns, None,
                    ));
                    return pgwire::api::query::send_describe_response(client, &response).await;
                }
            }
        }
        self._on_describe(client, message).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session::<B, C>(client)?;
        let prepared = &portal.statement.statement;
        let want = prepared.described.params.len();
        if portal.parameters.len() != want {
            return Err(to_wire(eddy_common::Error::new(
                eddy_common::SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {want}",
                    portal.parameters.len()
                ),
            )));
        }
        let mut params = Vec::with_capacity(want);
        let time = session.time_settings();
        for (i, raw) in portal.parameters.iter().enumerate() {
            let ty = &prepared.described.params[i];
            let binary = portal.parameter_format.is_binary(i);
            params.push(crate::params::decode(raw.as_deref(), ty, binary, &time).map_err(to_wire)?);
        }
        let output = session
            .execute(&prepared.stmt, params)
            .await
            .map_err(to_wire)?;
        report_changed(client, session.as_ref()).await?;
        if let Output::CopyOutStream { columns, rows } = output {
            return stream_copy_out(client, columns, rows).await;
        }
        to_response(
            output,
            Some(&portal.result_column_format),
            &session.time_settings(),
        )
    }
}

#[async_trait]
impl<B: Backend> CopyHandler for EddyHandler<B> {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session::<B, C>(client)?;
        session.copy_data(copy_data.data).await.map_err(to_wire)
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = session::<B, C>(client)?;
        let rows = session.copy_done().await.map_err(to_wire)?;
        let tag = Tag::new("COPY").with_rows(rows as usize);
        client
            .send(PgWireBackendMessage::CommandComplete(tag.into()))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Ok(session) = session::<B, C>(client) {
            session.copy_fail(fail.message.clone()).await;
        }
        to_wire(eddy_common::Error::new(
            eddy_common::SqlState::QUERY_CANCELED,
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}
