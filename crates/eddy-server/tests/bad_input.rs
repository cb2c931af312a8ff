//! Bad input gets a clear error and loses nothing: wrong types, broken parameters, clients
//! that vanish mid-COPY or mid-transaction.

#[path = "support/server.rs"]
mod server;

use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use server::{EddyServer, connect};

async fn count(c: &tokio_postgres::Client) -> i64 {
    c.query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_fail_the_statement_only() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
        .await
        .unwrap();
    let e = c
        .simple_query("INSERT INTO t VALUES (1, 'nope')")
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22P02");
    let e = c
        .simple_query("INSERT INTO t VALUES (1, 99999999999)")
        .await
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22003", "{e}");
    // a text parameter that does not parse as the inferred type
    let e = c
        .query("SELECT * FROM t WHERE id = $1::int", &[&"x1"])
        .await;
    assert!(e.is_err());
    c.simple_query("INSERT INTO t VALUES (1, 1)").await.unwrap();
    assert_eq!(count(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_vanishing_mid_copy_applies_nothing() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
        .await
        .unwrap();
    {
        let (c2, conn) = tokio_postgres::connect(&s.conn_str(), tokio_postgres::NoTls)
            .await
            .unwrap();
        let handle = tokio::spawn(conn);
        let sink = c2.copy_in::<_, Bytes>("COPY t FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(Bytes::from_static(b"1\t1\n2\t2\n"))
            .await
            .unwrap();
        // drop the connection without CopyDone
        handle.abort();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&c).await, 0);
    c.simple_query("INSERT INTO t VALUES (1, 1)").await.unwrap();
    assert_eq!(count(&c).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_vanishing_mid_transaction_applies_nothing() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, n int)")
        .await
        .unwrap();
    {
        let (c2, conn) = tokio_postgres::connect(&s.conn_str(), tokio_postgres::NoTls)
            .await
            .unwrap();
        let handle = tokio::spawn(conn);
        c2.batch_execute("BEGIN; INSERT INTO t VALUES (1, 1); INSERT INTO t VALUES (2, 2)")
            .await
            .unwrap();
        handle.abort();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&c).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn syntax_errors_keep_the_session() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    let e = c.simple_query("SELEC 1").await.unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42601");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "syntax error at or near \"SELEC\""
    );
    c.simple_query("SELECT 1").await.unwrap();
}
