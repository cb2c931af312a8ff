//! Concurrent transactions: a transaction whose updated rows another session changed after it
//! read them fails at COMMIT with 40001 (first committer wins) instead of silently undoing the
//! other write; transactions on different rows, and inserts of new keys, both commit.

#[path = "support/server.rs"]
mod server;

use server::{EddyServer, connect};

async fn value(c: &tokio_postgres::Client, id: i32) -> i64 {
    c.query_one("SELECT v FROM acct WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_update_is_refused_at_commit() {
    let s = EddyServer::start();
    let a = connect(&s.conn_str()).await;
    let b = connect(&s.conn_str()).await;
    a.batch_execute(
        "CREATE TABLE acct (id int PRIMARY KEY, v bigint);
         INSERT INTO acct VALUES (1, 100), (2, 100)",
    )
    .await
    .unwrap();

    // A reads 100 and writes 101; meanwhile B commits 110. A's commit would erase B's +10.
    a.batch_execute("BEGIN; UPDATE acct SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    b.batch_execute("UPDATE acct SET v = v + 10 WHERE id = 1")
        .await
        .unwrap();
    let err = a.batch_execute("COMMIT").await.unwrap_err();
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("40001"),
        "{err:?}"
    );
    assert_eq!(value(&a, 1).await, 110);

    // The same under a DELETE.
    a.batch_execute("BEGIN; DELETE FROM acct WHERE id = 1")
        .await
        .unwrap();
    b.batch_execute("UPDATE acct SET v = 0 WHERE id = 1")
        .await
        .unwrap();
    assert!(a.batch_execute("COMMIT").await.is_err());
    assert_eq!(value(&a, 1).await, 0);

    // Different rows do not conflict; neither do new keys.
    a.batch_execute(
        "BEGIN; UPDATE acct SET v = v + 1 WHERE id = 1; INSERT INTO acct VALUES (3, 1)",
    )
    .await
    .unwrap();
    b.batch_execute("UPDATE acct SET v = v + 1 WHERE id = 2")
        .await
        .unwrap();
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(value(&a, 1).await, 1);
    assert_eq!(value(&a, 2).await, 101);
    assert_eq!(value(&a, 3).await, 1);

    // A transaction that read after the other commit (read committed) builds on it.
    b.batch_execute("UPDATE acct SET v = 50 WHERE id = 2")
        .await
        .unwrap();
    a.batch_execute("BEGIN; UPDATE acct SET v = v * 2 WHERE id = 2; COMMIT")
        .await
        .unwrap();
    assert_eq!(value(&a, 2).await, 100);
}

/// DDL inside a transaction block applies when it runs; a server killed before the block ends
/// undoes it when it starts again, and keeps what committed blocks did.
#[tokio::test(flavor = "multi_thread")]
async fn ddl_of_a_transaction_open_at_a_crash_is_undone_at_restart() {
    let mut s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute(
        "CREATE TABLE old_name (id int PRIMARY KEY);
         CREATE TABLE commented (id int PRIMARY KEY);
         COMMENT ON TABLE commented IS 'before';
         BEGIN; CREATE TABLE kept (id int PRIMARY KEY); COMMIT",
    )
    .await
    .unwrap();
    let open = connect(&s.conn_str()).await;
    open.batch_execute(
        "BEGIN;
         CREATE TABLE ghost (id int PRIMARY KEY);
         CREATE SCHEMA ghost_schema;
         CREATE VIEW ghost_view AS SELECT id FROM ghost;
         ALTER TABLE old_name RENAME TO new_name;
         COMMENT ON TABLE commented IS 'during'",
    )
    .await
    .unwrap();
    s.kill();
    s.restart();
    let c = connect(&s.conn_str()).await;
    let names: Vec<String> = c
        .query(
            "SELECT relname::text FROM pg_class WHERE relnamespace = 'public'::regnamespace \
             AND relkind IN ('r', 'v') ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["commented", "kept", "old_name"]);
    let schemas: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'ghost_schema'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
    let comment: String = c
        .query_one(
            "SELECT obj_description('commented'::regclass, 'pg_class')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(comment, "before");
}
