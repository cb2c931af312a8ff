//! The PostgreSQL protocol as drivers use it: extended query with inferred parameter types,
//! binary results, portals with row limits, COPY both ways, cancel, and the startup handshake.

#[path = "support/server.rs"]
mod server;

use std::io::{Read, Write};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, TryStreamExt};
use server::{EddyServer, connect};
use tokio_postgres::types::Type;

#[tokio::test(flavor = "multi_thread")]
async fn extended_protocol_infers_parameter_types_and_reads_binary() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text, score float8, big bigint, ok bool)",
    )
    .await
    .unwrap();
    let ins = c
        .prepare("INSERT INTO t VALUES ($1, $2, $3, $4, $5)")
        .await
        .unwrap();
    assert_eq!(
        ins.params(),
        &[Type::INT4, Type::TEXT, Type::FLOAT8, Type::INT8, Type::BOOL]
    );
    for i in 0..10i32 {
        let n = c
            .execute(
                &ins,
                &[
                    &i,
                    &format!("n{i}"),
                    &(i as f64 / 2.0),
                    &(i as i64 * 1_000_000_000_000),
                    &(i % 2 == 0),
                ],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    // Past the fifth execution pgjdbc-style clients reuse a named statement: same here.
    let sel = c
        .prepare("SELECT id, name, score, big, ok FROM t WHERE id = $1")
        .await
        .unwrap();
    assert_eq!(sel.params(), &[Type::INT4]);
    assert_eq!(sel.columns()[1].type_(), &Type::TEXT);
    for i in 0..10i32 {
        let row = c.query_one(&sel, &[&i]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), i);
        assert_eq!(row.get::<_, String>(1), format!("n{i}"));
        assert_eq!(row.get::<_, f64>(2), i as f64 / 2.0);
        assert_eq!(row.get::<_, i64>(3), i as i64 * 1_000_000_000_000);
        assert_eq!(row.get::<_, bool>(4), i % 2 == 0);
    }
    let rows = c
        .query("SELECT count(*) FROM t WHERE score > $1", &[&2.0f64])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 5);
    // An UPDATE and a DELETE with parameters report their row counts.
    assert_eq!(
        c.execute("UPDATE t SET name = $1 WHERE id < $2", &[&"low", &3i32])
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        c.execute("DELETE FROM t WHERE id >= $1", &[&8i32])
            .await
            .unwrap(),
        2
    );
    // A bad statement fails that statement only.
    let e = c.query("SELECT nosuch FROM t", &[]).await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42703");
    let e = c.prepare("SELEC 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42601");
    assert_eq!(
        c.query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap()
            .get::<_, i64>(0),
        8
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_row_limit_suspends_and_resumes() {
    let s = EddyServer::start();
    let mut c = connect(&s.conn_str()).await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1),(2),(3),(4),(5)",
    )
    .await
    .unwrap();
    let tx = c.transaction().await.unwrap();
    let stmt = tx.prepare("SELECT id FROM t ORDER BY id").await.unwrap();
    let portal = tx.bind(&stmt, &[]).await.unwrap();
    let a: Vec<i32> = tx
        .query_portal(&portal, 2)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let b: Vec<i32> = tx
        .query_portal(&portal, 2)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rest: Vec<i32> = tx
        .query_portal(&portal, 0)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!((a, b, rest), (vec![1, 2], vec![3, 4], vec![5]));
    tx.commit().await.unwrap();
}

/// All a `COPY ... TO STDOUT` sends, as text.
async fn copy_out_text(c: &tokio_postgres::Client, sql: &str) -> String {
    let out = c.copy_out(sql).await.unwrap();
    let data: Vec<Bytes> = out.try_collect().await.unwrap();
    data.iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_in_and_out_text_and_csv() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, name text, note text)")
        .await
        .unwrap();
    let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\tone\t\\N\n2\ttw"))
        .await
        .unwrap();
    sink.send(Bytes::from_static(b"o\ta\\tb\n")).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let sink = c
        .copy_in("COPY t (id, name, note) FROM STDIN WITH (FORMAT csv, HEADER true)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(
        b"id,name,note\n3,\"th,ree\",\n4,\"q\"\"x\",\"\"\n",
    ))
    .await
    .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let text = copy_out_text(&c, "COPY t TO STDOUT").await;
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "1\tone\t\\N",
            "2\ttwo\ta\\tb",
            "3\tth,ree\t\\N",
            "4\tq\"x\t"
        ]
    );
    let text = copy_out_text(
        &c,
        "COPY (SELECT id, name FROM t WHERE id > 2 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)",
    )
    .await;
    assert_eq!(text, "id,name\n3,\"th,ree\"\n4,\"q\"\"x\"\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_copy_reports_the_line_and_applies_nothing() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
        .await
        .unwrap();
    for (data, want) in [
        (&b"1\ta\n2\tb\nx\tc\n"[..], "line 3"),
        (&b"1\ta\n2\n"[..], "missing data for column \"name\""),
        (
            &b"1\ta\textra\n"[..],
            "extra data after last expected column",
        ),
        (&b"1\ta\n1\tb\n"[..], "duplicate key"),
    ] {
        let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::copy_from_slice(data)).await.unwrap();
        let err = sink.finish().await.unwrap_err();
        let db = err.as_db_error().expect("a server error");
        let full = format!("{} {:?} {:?}", db.message(), db.where_(), db.detail());
        assert!(full.contains(want), "{full} should mention {want}");
        let n: i64 = c
            .query_one("SELECT count(*) FROM t", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "nothing of a failed COPY is applied");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_request_stops_a_running_query() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let started = std::time::Instant::now();
    let err = c
        .simple_query("SELECT count(*) FROM generate_series(1, 100000000000) a")
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // the session goes on
    let rows = c.simple_query("SELECT 1").await.unwrap();
    assert!(rows.len() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_query_and_multiple_statements() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    assert!(c.simple_query("").await.is_ok());
    assert!(c.simple_query(";").await.is_ok());
    let msgs = c.simple_query("SELECT 1; SELECT 2").await.unwrap();
    let rows = msgs
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows, 2);
}

fn read_message(s: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 5];
    s.read_exact(&mut head).unwrap();
    let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
    let mut body = vec![0; len - 4];
    s.read_exact(&mut body).unwrap();
    (head[0], body)
}

fn startup_packet() -> Vec<u8> {
    startup_packet_with(&[])
}

fn startup_packet_with(extra: &[&str]) -> Vec<u8> {
    let mut body = vec![];
    body.extend_from_slice(&196608u32.to_be_bytes());
    for kv in ["user", "eddy", "database", "eddy"].iter().chain(extra) {
        body.extend_from_slice(kv.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut p = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    p.extend(body);
    p
}

#[test]
fn startup_answers_ssl_and_gss_with_n_and_reports_parameters() {
    let s = EddyServer::start();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for code in [80877103u32, 80877104u32] {
        let mut req = 8u32.to_be_bytes().to_vec();
        req.extend_from_slice(&code.to_be_bytes());
        sock.write_all(&req).unwrap();
        let mut answer = [0u8; 1];
        sock.read_exact(&mut answer).unwrap();
        assert_eq!(answer[0], b'N');
    }
    sock.write_all(&startup_packet()).unwrap();
    let (statuses, key_data) = parameter_statuses_until_ready(&mut sock);
    let params: std::collections::HashMap<String, String> = statuses.into_iter().collect();
    assert!(key_data, "BackendKeyData is sent");
    for p in [
        "server_version",
        "server_encoding",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "integer_datetimes",
        "standard_conforming_strings",
    ] {
        assert!(params.contains_key(p), "{p} missing from {params:?}");
    }
    assert!(
        params["server_version"].starts_with("15."),
        "{}",
        params["server_version"]
    );
    assert_eq!(params["integer_datetimes"], "on");
}

/// Reads messages up to ReadyForQuery, returning the ParameterStatus pairs seen and whether a
/// BackendKeyData came.
fn parameter_statuses_until_ready(sock: &mut std::net::TcpStream) -> (Vec<(String, String)>, bool) {
    let mut seen = vec![];
    let mut key_data = false;
    loop {
        let (tag, body) = read_message(sock);
        match tag {
            b'S' => {
                let parts: Vec<String> = body
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect();
                seen.push((parts[0].clone(), parts[1].clone()));
            }
            b'K' => key_data = true,
            b'Z' => return (seen, key_data),
            b'E' => panic!("error: {}", String::from_utf8_lossy(&body)),
            _ => {}
        }
    }
}

#[test]
fn startup_time_zone_is_applied_and_set_reports_the_change() {
    let s = EddyServer::start();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    sock.write_all(&startup_packet_with(&[
        "TimeZone",
        "Europe/Paris",
        "options",
        "-c application_name=tz_test",
    ]))
    .unwrap();
    let (at_start, _) = parameter_statuses_until_ready(&mut sock);
    let get = |seen: &[(String, String)], k: &str| {
        seen.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    };
    assert_eq!(get(&at_start, "TimeZone").as_deref(), Some("Europe/Paris"));
    assert_eq!(
        get(&at_start, "application_name").as_deref(),
        Some("tz_test")
    );
    let query = |sql: &str| {
        let mut m = vec![b'Q'];
        m.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
        m.extend_from_slice(sql.as_bytes());
        m.push(0);
        m
    };
    sock.write_all(&query("SET TimeZone = 'asia/tokyo'"))
        .unwrap();
    let (after_set, _) = parameter_statuses_until_ready(&mut sock);
    assert_eq!(
        after_set,
        vec![("TimeZone".to_string(), "Asia/Tokyo".to_string())]
    );
    sock.write_all(&query("SET DateStyle = german")).unwrap();
    let (after_set, _) = parameter_statuses_until_ready(&mut sock);
    assert_eq!(
        after_set,
        vec![("DateStyle".to_string(), "German, DMY".to_string())]
    );
    // a statement that changes nothing reported sends no ParameterStatus
    sock.write_all(&query("SELECT 1")).unwrap();
    assert!(parameter_statuses_until_ready(&mut sock).0.is_empty());
}

/// COPY reads dates in the session's field order and writes them in its DateStyle, as
/// PostgreSQL's COPY does.
#[tokio::test(flavor = "multi_thread")]
async fn copy_follows_datestyle() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute(
        "CREATE TABLE dc (id int PRIMARY KEY, d date, t timestamptz); \
         SET DateStyle = 'SQL, DMY'",
    )
    .await
    .unwrap();
    let sink = c.copy_in("COPY dc FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(
        b"1\t02/01/2024\t03/01/2024 10:00 UTC\n2\tSat 01 Jan 00:00:00 0001 BC\t\\N\n",
    ))
    .await
    .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let text = copy_out_text(&c, "COPY dc TO STDOUT WITH (FORMAT csv)").await;
    assert_eq!(
        text,
        "1,02/01/2024,03/01/2024 10:00:00 UTC\n2,01/01/0001 BC,\n"
    );
    c.batch_execute("SET DateStyle = ISO").await.unwrap();
    let rows = c
        .simple_query("SELECT d::text FROM dc ORDER BY id")
        .await
        .unwrap();
    let got: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec!["2024-01-02", "0001-01-01 BC"]);
}

#[test]
fn oversized_startup_message_is_refused_and_the_server_goes_on() {
    let s = EddyServer::start();
    let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut p = (10_000_000u32).to_be_bytes().to_vec();
    p.extend_from_slice(&196608u32.to_be_bytes());
    p.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let _ = sock.write_all(&p);
    let mut buf = [0u8; 1024];
    // the server answers with an error or just closes; either way it must not accept it
    let n = sock.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf[0] == b'E',
        "unexpected answer {:?}",
        &buf[..n.min(16)]
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = connect(&s.conn_str()).await;
        c.simple_query("SELECT 1").await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_fills_omitted_columns_with_defaults() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, kind text DEFAULT 'plain', n int, at timestamptz DEFAULT now())")
        .await
        .unwrap();
    let sink = c.copy_in("COPY t (id, n) FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\t10\n2\t\\N\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2);
    let rows = c
        .query("SELECT id, kind, n, at IS NOT NULL FROM t ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String, Option<i32>, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "plain".into(), Some(10), true),
            (2, "plain".into(), None, true)
        ]
    );
    c.batch_execute("CREATE TABLE v (id int, r double precision DEFAULT random())")
        .await
        .unwrap();
    // A volatile default is evaluated for every row, as in PostgreSQL.
    let sink = c
        .copy_in::<_, Bytes>("COPY v (id) FROM STDIN")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(Bytes::from_static(b"1\n2\n3\n")).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 3);
    let row = c
        .query_one(
            "SELECT count(DISTINCT r), min(r) >= 0, max(r) < 1 FROM v",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 3);
    assert!(row.get::<_, bool>(1) && row.get::<_, bool>(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn batched_parameter_insert_with_column_list_defaults_and_conflicts() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, kind text DEFAULT 'plain', n bigint)")
        .await
        .unwrap();
    let ins = c
        .prepare("INSERT INTO t (n, id) VALUES ($1, $2), ($3, $4)")
        .await
        .unwrap();
    assert_eq!(
        ins.params(),
        &[Type::INT8, Type::INT4, Type::INT8, Type::INT4]
    );
    assert_eq!(
        c.execute(&ins, &[&10i64, &1i32, &20i64, &2i32])
            .await
            .unwrap(),
        2
    );
    // a duplicate inside one statement and one against stored rows both fail, writing nothing
    let e = c
        .execute(&ins, &[&30i64, &3i32, &40i64, &3i32])
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "23505");
    let e = c
        .execute(&ins, &[&30i64, &3i32, &40i64, &1i32])
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "23505");
    let rows = c
        .query("SELECT id, kind, n FROM t ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, vec![(1, "plain".into(), 10), (2, "plain".into(), 20)]);
    // NULL into a NOT NULL key is refused
    let e = c
        .execute(&ins, &[&1i64, &None::<i32>, &2i64, &9i32])
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "23502");
}

#[tokio::test(flavor = "multi_thread")]
async fn parameter_under_a_cast_takes_the_cast_type() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, at timestamp)")
        .await
        .unwrap();
    let stmt = c
        .prepare("INSERT INTO t VALUES ($1, $2::timestamp)")
        .await
        .unwrap();
    assert_eq!(stmt.params(), &[Type::INT4, Type::TIMESTAMP]);
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    c.execute(&stmt, &[&1i32, &when]).await.unwrap();
    let stmt = c.prepare("SELECT $1::bigint + 1").await.unwrap();
    assert_eq!(stmt.params(), &[Type::INT8]);
    let row = c.query_one(&stmt, &[&41i64]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 42);
    let at: std::time::SystemTime = c
        .query_one("SELECT at FROM t WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(at, when);
}

/// Above the ingestion threshold a COPY is committed as an SST file: same answers, durable, and
/// a duplicate anywhere in it still applies nothing.
#[tokio::test(flavor = "multi_thread")]
async fn large_copy_is_ingested_atomically_and_durably() {
    let mut s = EddyServer::start();
    let rows = 150_000i64;
    {
        let c = connect(&s.conn_str()).await;
        c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text)")
            .await
            .unwrap();
        let data: String = (0..rows).rev().map(|i| format!("{i}\tv{i}\n")).collect();
        let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from(data)).await.unwrap();
        assert_eq!(sink.finish().await.unwrap(), rows as u64);
        let mut dup: String = (rows..rows * 2).map(|i| format!("{i}\tw{i}\n")).collect();
        dup.push_str(&format!("{}\tagain\n", rows + 7));
        let sink = c.copy_in("COPY t FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from(dup)).await.unwrap();
        let e = sink.finish().await.unwrap_err();
        assert_eq!(e.code().unwrap().code(), "23505");
    }
    s.restart();
    let c = connect(&s.conn_str()).await;
    let row = c
        .query_one("SELECT count(*), sum(id)::bigint, min(v) FROM t", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), rows);
    assert_eq!(row.get::<_, i64>(1), rows * (rows - 1) / 2);
    let v: String = c
        .query_one("SELECT v FROM t WHERE id = $1", &[&12345i64])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "v12345");
    c.execute("INSERT INTO t VALUES ($1, 'after')", &[&rows])
        .await
        .unwrap();
    let e = c
        .execute("INSERT INTO t VALUES ($1, 'dup')", &[&5i64])
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "23505");
}

/// COMMENT ON is catalog state like any other: it survives `kill -9`.
#[tokio::test(flavor = "multi_thread")]
async fn comments_survive_a_kill() {
    let mut s = EddyServer::start();
    {
        let c = connect(&s.conn_str()).await;
        c.batch_execute(
            "CREATE TABLE k (id int PRIMARY KEY);
             COMMENT ON TABLE k IS 'kept';
             COMMENT ON COLUMN k.id IS 'the key'",
        )
        .await
        .unwrap();
    }
    s.kill();
    s.restart();
    let c = connect(&s.conn_str()).await;
    let row = c
        .query_one(
            "SELECT obj_description('k'::regclass, 'pg_class'), col_description('k'::regclass, 1)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "kept");
    assert_eq!(row.get::<_, String>(1), "the key");
}

/// RowDescription's names and types, as a driver sees them, against a real PostgreSQL's for the
/// same queries: PostgreSQL's naming (`?column?`, function names, derived tables' columns) and
/// its types (`1` is an integer, `sum` of a bigint is numeric).
#[tokio::test(flavor = "multi_thread")]
async fn result_names_and_types_match_postgres() {
    if !server::postgres_available() {
        eprintln!("PostgreSQL missing: skipped");
        return;
    }
    let eddy = EddyServer::start();
    let pg = server::PgServer::start();
    let on_pg = connect(&pg.conn_str("postgres")).await;
    let on_eddy = connect(&eddy.conn_str()).await;
    let setup = "CREATE TABLE nt (a int, b bigint, c smallint, t text)";
    on_pg.batch_execute(setup).await.unwrap();
    on_eddy.batch_execute(setup).await.unwrap();
    let queries = [
        "SELECT 1, 2147483648, -2147483648, 1.5, 'x'",
        "SELECT a + 1, b + 1, c + 1, c + c, a * b, -a FROM nt",
        "SELECT count(*), sum(a), sum(b), sum(c), min(b), max(a) FROM nt",
        "SELECT * FROM (SELECT 1) s",
        "SELECT * FROM (SELECT 1, 2) s",
        "SELECT * FROM (SELECT a + 1, count(*), upper(t), a FROM nt GROUP BY a, t) s",
        "SELECT s.count FROM (SELECT count(*) FROM nt) s",
        "WITH c AS (SELECT 1, a::text FROM nt) SELECT * FROM c",
        "SELECT * FROM (SELECT 1 UNION SELECT 2) u",
        "SELECT * FROM (SELECT 1 AS x UNION ALL SELECT 3000000000) u",
        "SELECT x FROM (VALUES (1), (2)) v(x)",
        "SELECT * FROM (SELECT 1 AS a, 2 AS a) s",
        "SELECT 7 / 2, 7 % 2, abs(-1), length('x')",
        "SELECT * FROM upper('x')",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT generate_series FROM generate_series(1, 2)",
        "SELECT generate_series(1, 3), generate_series(1, 3000000000)",
        "SELECT g FROM nt, generate_series(1, 2) g",
    ];
    let mut differences = vec![];
    for q in queries {
        let p = on_pg.prepare(q).await.unwrap();
        let e = match on_eddy.prepare(q).await {
            Ok(e) => e,
            Err(err) => {
                differences.push(format!("{q}: {err}"));
                continue;
            }
        };
        let shape = |s: &tokio_postgres::Statement| {
            s.columns()
                .iter()
                .map(|c| format!("{} {}", c.name(), c.type_()))
                .collect::<Vec<_>>()
        };
        if shape(&p) != shape(&e) {
            differences.push(format!(
                "{q}\n  PostgreSQL: {:?}\n  Eddy:       {:?}",
                shape(&p),
                shape(&e)
            ));
        }
    }
    // Names only: a reg value is sent as its name in text (PostgreSQL: regtype, regclass).
    for q in ["SELECT 'int4'::regtype, 'pg_class'::regclass, 'pg_class'::regclass::oid, '1'::oid"] {
        let names = |s: tokio_postgres::Statement| {
            s.columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>()
        };
        let p = names(on_pg.prepare(q).await.unwrap());
        match on_eddy.prepare(q).await {
            Ok(e) if names(e.clone()) == p => {}
            other => differences.push(format!("{q}: PostgreSQL {p:?}, Eddy {other:?}")),
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// `pg_proc.tsv`, the function catalog Eddy's `pg_proc` is filtered from, is PostgreSQL 15's
/// own: this query against the reference server gives it byte for byte. To regenerate the file
/// after a PostgreSQL update, run the query with psql and save its output there.
#[tokio::test]
async fn pg_proc_rows_are_postgres_own() {
    if !server::postgres_available() {
        eprintln!("PostgreSQL missing: skipped");
        return;
    }
    let pg = server::PgServer::start();
    let on_pg = connect(&pg.conn_str("postgres")).await;
    let dump = "COPY (SELECT p.oid, proname, prokind, prolang, procost, prorows, provariadic, \
        proisstrict, proretset, provolatile, proparallel, pronargs, pronargdefaults, prorettype, \
        proargtypes, proallargtypes, proargmodes, proargnames, pg_get_function_result(p.oid), \
        pg_get_function_arguments(p.oid), pg_get_function_identity_arguments(p.oid), prosrc, \
        obj_description(p.oid, 'pg_proc') \
        FROM pg_proc p WHERE pronamespace = 11 AND prorettype NOT IN (2275, 2281) \
        AND NOT (proargtypes::oid[] && array[2275, 2281]::oid[]) ORDER BY p.oid) TO STDOUT";
    let out = on_pg.copy_out(dump).await.unwrap();
    let data: Vec<Bytes> = out.try_collect().await.unwrap();
    let from_postgres: Vec<u8> = data.concat();
    let committed = include_str!("../../eddy-catalog/src/system/pg_proc.tsv");
    assert!(
        from_postgres == committed.as_bytes(),
        "pg_proc.tsv differs from PostgreSQL's pg_proc; regenerate it with the query in this test"
    );
}

/// `eddy_common::numeric`, the numeric value layer, against PostgreSQL on random operands of
/// many magnitudes and scales: every result's text (digits and scale) must be PostgreSQL's.
#[tokio::test]
async fn numeric_arithmetic_matches_postgres() {
    use eddy_common::numeric::Numeric;
    if !server::postgres_available() {
        eprintln!("PostgreSQL missing: skipped");
        return;
    }
    let pg = server::PgServer::start();
    let on_pg = connect(&pg.conn_str("postgres")).await;
    fn next(seed: &mut u64, n: u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed % n
    }
    fn operand(seed: &mut u64) -> String {
        let int: String = match next(seed, 4) {
            0 => "0".into(),
            1 => next(seed, 10).to_string(),
            2 => next(seed, 100_000).to_string(),
            _ => format!(
                "{}{:09}",
                next(seed, 1_000_000_000),
                next(seed, 1_000_000_000)
            ),
        };
        let frac: String = (0..next(seed, 12))
            .map(|_| char::from(b'0' + next(seed, 10) as u8))
            .collect();
        let sign = if next(seed, 3) == 0 { "-" } else { "" };
        match frac.is_empty() {
            true => format!("{sign}{int}"),
            false => format!("{sign}{int}.{frac}"),
        }
    }
    let mut seed = 0x9e3779b97f4a7c15u64;
    let pairs: Vec<(String, String, i32)> = (0..1000)
        .map(|_| {
            let (a, b) = (operand(&mut seed), operand(&mut seed));
            (a, b, next(&mut seed, 7) as i32 - 2)
        })
        .collect();
    let values: Vec<String> = pairs
        .iter()
        .map(|(a, b, k)| format!("({a}::numeric, {b}::numeric, {k})"))
        .collect();
    let sql = format!(
        "SELECT (a + b)::text, (a - b)::text, (a * b)::text, \
         CASE WHEN b <> 0 THEN (a / b)::text END, CASE WHEN b <> 0 THEN (a % b)::text END, \
         sqrt(abs(a))::text, round(a, k)::text, trunc(a, k)::text, (a::float8)::numeric::text, \
         CASE WHEN a <> 0 THEN ln(abs(a))::text END, exp(b / 1000000000000000)::text, \
         ceil(a)::text, floor(a)::text, sign(a)::text, CASE WHEN (abs(a) < 1000000 OR k < 3) \
         AND (a <> 0 OR k >= 0) THEN power(a, k)::text END, power(abs(a) + 0.5, b % 4)::text, \
         log(abs(a) + 2, abs(b) + 1)::text \
         FROM (VALUES {}) v(a, b, k)",
        values.join(", ")
    );
    let rows = on_pg.query(&sql, &[]).await.unwrap();
    assert_eq!(rows.len(), pairs.len());
    let mut differences = vec![];
    for ((a, b, k), row) in pairs.iter().zip(rows) {
        let (x, y) = (Numeric::parse(a).unwrap(), Numeric::parse(b).unwrap());
        let ours = [
            Some(x.add(&y).to_string()),
            Some(x.sub(&y).to_string()),
            Some(x.mul(&y).to_string()),
            (!y.is_zero()).then(|| x.div(&y).unwrap().to_string()),
            (!y.is_zero()).then(|| x.rem(&y).unwrap().to_string()),
            Some(x.abs().sqrt().unwrap().to_string()),
            Some(x.round(*k).to_string()),
            Some(x.trunc(*k).to_string()),
            Some(Numeric::from_f64(x.to_f64()).to_string()),
            (!x.is_zero()).then(|| x.abs().ln().unwrap().to_string()),
            Some(
                y.div(&Numeric::from_i64(1_000_000_000_000_000))
                    .unwrap()
                    .exp()
                    .unwrap()
                    .to_string(),
            ),
            Some(x.ceil().to_string()),
            Some(x.floor().to_string()),
            Some(x.signum().to_string()),
            ((x.abs() < Numeric::from_i64(1_000_000) || *k < 3) && (!x.is_zero() || *k >= 0))
                .then(|| x.power(&Numeric::from_i64(*k as i64)).unwrap().to_string()),
            Some(
                x.abs()
                    .add(&Numeric::parse("0.5").unwrap())
                    .power(&y.rem(&Numeric::from_i64(4)).unwrap())
                    .unwrap()
                    .to_string(),
            ),
            Some(
                y.abs()
                    .add(&Numeric::from_i64(1))
                    .log(&x.abs().add(&Numeric::from_i64(2)))
                    .unwrap()
                    .to_string(),
            ),
        ];
        for (i, (op, mine)) in [
            "+",
            "-",
            "*",
            "/",
            "%",
            "sqrt",
            "round",
            "trunc",
            "float8",
            "ln",
            "exp",
            "ceil",
            "floor",
            "sign",
            "power int",
            "power",
            "log",
        ]
        .iter()
        .zip(ours)
        .enumerate()
        {
            let theirs: Option<String> = row.get(i);
            if theirs != mine {
                differences.push(format!(
                    "{a} {op} {b} (k {k}): PostgreSQL {theirs:?}, Eddy {mine:?}"
                ));
            }
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}
