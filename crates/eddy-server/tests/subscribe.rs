//! Subscriptions: `COPY (SUBSCRIBE TO v) TO STDOUT` streams the view's rows, then each epoch's
//! changes. The oracle: the diffs received up to each epoch, summed, equal a SELECT on the view
//! at that epoch.

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use server::{EddyServer, connect};

type Rows = BTreeMap<String, i64>;

/// Adds a row's diff to the multiset `state`, dropping rows whose count comes to zero.
fn fold(state: &mut Rows, row: String, diff: i64) {
    let n = state.entry(row.clone()).or_default();
    *n += diff;
    if *n == 0 {
        state.remove(&row);
    }
}

/// The next COPY row of a subscription, within ten seconds.
async fn next_chunk(
    stream: &mut std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
) -> bytes::Bytes {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("no row within 10 s")
        .expect("the subscription ended")
        .unwrap()
}

/// One received line: (epoch, progressed, diff, the view's columns as text).
fn parse_line(line: &[u8], progress: bool) -> (u64, bool, i64, String) {
    let text = std::str::from_utf8(line).unwrap().trim_end_matches('\n');
    let mut f = text.split('\t');
    let epoch: u64 = f.next().unwrap().parse().unwrap();
    let progressed = progress && f.next().unwrap() == "t";
    let diff = f.next().unwrap();
    let rest: Vec<&str> = f.collect();
    let diff = if progressed { 0 } else { diff.parse().unwrap() };
    (epoch, progressed, diff, rest.join("|"))
}

async fn view_rows(c: &tokio_postgres::Client, sql: &str) -> Rows {
    let mut out = Rows::new();
    for m in c.simple_query(sql).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            let cols: Vec<String> = (0..r.len())
                .map(|i| r.get(i).unwrap_or("\\N").to_string())
                .collect();
            *out.entry(cols.join("|")).or_default() += 1;
        }
    }
    out
}

async fn epoch(c: &tokio_postgres::Client) -> u64 {
    for m in c.simple_query("SHOW eddy_epoch").await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            return r.get(0).unwrap().parse().unwrap();
        }
    }
    panic!("no epoch")
}

#[tokio::test(flavor = "multi_thread")]
async fn received_diffs_sum_to_the_view_at_every_epoch() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'a', 3);
         CREATE MATERIALIZED VIEW mv AS SELECT g, sum(v) AS s, count(*) AS n FROM t GROUP BY g",
    )
    .await
    .unwrap();
    let sub = connect(&s.conn_str()).await;
    let stream = sub
        .copy_out("COPY (SUBSCRIBE TO mv WITH (PROGRESS)) TO STDOUT")
        .await
        .unwrap();
    let mut stream = Box::pin(stream);

    // The writer's record of the view after each of its commits.
    let mut expected: Vec<(u64, Rows)> =
        vec![(epoch(&w).await, view_rows(&w, "SELECT * FROM mv").await)];
    let mut seed = 7u64;
    for i in 0..40 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (seed >> 33) % 12;
        let g = ["a", "b", "c"][(seed >> 20) as usize % 3];
        let sql = match i % 4 {
            0 | 1 => format!(
                "INSERT INTO t VALUES ({k}, '{g}', {i}) ON CONFLICT (k) DO UPDATE SET v = excluded.v, g = excluded.g"
            ),
            2 => format!("UPDATE t SET v = v + 1 WHERE k % 3 = {}", k % 3),
            _ => format!("DELETE FROM t WHERE k = {k}"),
        };
        w.batch_execute(&sql).await.unwrap();
        expected.push((epoch(&w).await, view_rows(&w, "SELECT * FROM mv").await));
    }
    let last = expected.last().unwrap().0;

    // Replay what the subscriber received, epoch by epoch.
    let mut state = Rows::new();
    let mut seen_epochs: Vec<(u64, Rows)> = vec![];
    let mut current: Option<u64> = None;
    let mut progressed_to = 0;
    while progressed_to < last {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("subscription stalled")
            .expect("subscription ended")
            .unwrap();
        let (e, progressed, diff, row) = parse_line(&chunk, true);
        if let Some(c) = current
            && c != e
        {
            seen_epochs.push((c, state.clone()));
        }
        assert!(current.is_none_or(|c| e >= c), "epochs arrive in order");
        current = Some(e);
        if progressed {
            progressed_to = e;
            continue;
        }
        fold(&mut state, row, diff);
    }
    seen_epochs.push((current.unwrap(), state.clone()));
    // At every epoch the writer recorded, the subscriber's sum equals the view.
    for (e, rows) in &expected {
        let at = seen_epochs
            .iter()
            .rev()
            .find(|(se, _)| se <= e)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        assert_eq!(&at, rows, "subscriber disagrees with the view at epoch {e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn as_of_replays_from_an_epoch_and_snapshot_false_skips_the_rows() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, v int);
         CREATE MATERIALIZED VIEW mv AS SELECT k, v FROM t WHERE v > 0;
         INSERT INTO t VALUES (1, 1)",
    )
    .await
    .unwrap();
    let e1 = epoch(&w).await;
    let at_e1 = view_rows(&w, "SELECT * FROM mv").await;
    w.batch_execute("INSERT INTO t VALUES (2, 2); UPDATE t SET v = 5 WHERE k = 1")
        .await
        .unwrap();
    let now = view_rows(&w, "SELECT * FROM mv").await;

    // AS OF e1 with SNAPSHOT: the view as it was at e1, then what changed since.
    let sub = connect(&s.conn_str()).await;
    let mut stream = Box::pin(
        sub.copy_out(&format!("COPY (SUBSCRIBE TO mv AS OF {e1}) TO STDOUT"))
            .await
            .unwrap(),
    );
    let mut state = Rows::new();
    let mut first_epoch_rows = Rows::new();
    loop {
        let chunk = next_chunk(&mut stream).await;
        let (e, _, diff, row) = parse_line(&chunk, false);
        if e == e1 {
            *first_epoch_rows.entry(row.clone()).or_default() += diff;
        }
        fold(&mut state, row, diff);
        if state == now {
            break;
        }
    }
    assert_eq!(first_epoch_rows, at_e1);

    // SNAPSHOT = false: only changes after the start.
    let sub2 = connect(&s.conn_str()).await;
    let mut stream = Box::pin(
        sub2.copy_out("COPY (SUBSCRIBE mv WITH (SNAPSHOT = false)) TO STDOUT")
            .await
            .unwrap(),
    );
    w.batch_execute("DELETE FROM t WHERE k = 2").await.unwrap();
    let chunk = next_chunk(&mut stream).await;
    let (_, _, diff, row) = parse_line(&chunk, false);
    assert_eq!((diff, row.as_str()), (-1, "2|2"));

    // Errors: not a materialized view, unknown view, an epoch in the future.
    w.batch_execute("CREATE TABLE plain (x int)").await.unwrap();
    for (sql, code) in [
        ("COPY (SUBSCRIBE TO plain) TO STDOUT", "42809"),
        ("COPY (SUBSCRIBE TO nope) TO STDOUT", "42P01"),
        ("COPY (SUBSCRIBE TO mv AS OF 999999) TO STDOUT", "22023"),
        ("SUBSCRIBE TO mv", "0A000"),
    ] {
        let err = w.batch_execute(sql).await.unwrap_err();
        assert_eq!(
            err.as_db_error().map(|e| e.code().code()),
            Some(code),
            "{sql}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_past_the_retention_are_pruned_and_asking_for_them_is_an_error() {
    let s = EddyServer::start_with_env(&[("EDDY_CHANGELOG_RETENTION", "1")]);
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, v int);
         CREATE MATERIALIZED VIEW mv AS SELECT k, v FROM t;
         INSERT INTO t VALUES (1, 1)",
    )
    .await
    .unwrap();
    let old = epoch(&w).await;
    w.batch_execute("INSERT INTO t VALUES (2, 2)")
        .await
        .unwrap();
    // The retention is one second and pruning runs at least every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    w.batch_execute("INSERT INTO t VALUES (3, 3)")
        .await
        .unwrap();
    let sub = connect(&s.conn_str()).await;
    let err = match sub
        .copy_out(&format!(
            "COPY (SUBSCRIBE TO mv AS OF {}) TO STDOUT",
            old - 1
        ))
        .await
    {
        Err(e) => e,
        Ok(stream) => {
            let mut stream = Box::pin(stream);
            loop {
                match tokio::time::timeout(Duration::from_secs(10), stream.next())
                    .await
                    .expect("no error came")
                {
                    Some(Err(e)) => break e,
                    Some(Ok(_)) => continue,
                    None => panic!("the subscription ended without an error"),
                }
            }
        }
    };
    assert_eq!(
        err.as_db_error().map(|e| e.code().code()),
        Some("55000"),
        "{err:?}"
    );
    // A subscription from now on works, and a SNAPSHOT still has every row.
    let mut stream = Box::pin(
        sub.copy_out("COPY (SUBSCRIBE TO mv) TO STDOUT")
            .await
            .unwrap(),
    );
    let mut rows = 0;
    while rows < 3 {
        let chunk = next_chunk(&mut stream).await;
        assert_eq!(parse_line(&chunk, false).2, 1);
        rows += 1;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_fetch_loop_follows_the_view() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2);
         CREATE MATERIALIZED VIEW mv AS SELECT g, sum(v) AS s FROM t GROUP BY g",
    )
    .await
    .unwrap();
    let sub = connect(&s.conn_str()).await;
    sub.batch_execute("BEGIN; DECLARE c CURSOR FOR SUBSCRIBE TO mv WITH (PROGRESS)")
        .await
        .unwrap();
    for i in 3..13 {
        w.batch_execute(&format!(
            "INSERT INTO t VALUES ({i}, '{}', {i}); DELETE FROM t WHERE k = {}",
            ["a", "b", "c"][i as usize % 3],
            i - 2
        ))
        .await
        .unwrap();
    }
    let last = epoch(&w).await;
    let expected = view_rows(&w, "SELECT * FROM mv").await;
    let mut state = Rows::new();
    let mut progressed_to = 0;
    while progressed_to < last {
        // the extended protocol, as drivers send it: typed rows
        let rows = sub
            .query("FETCH 5 c WITH (timeout = '5s')", &[])
            .await
            .unwrap();
        assert!(!rows.is_empty(), "no rows within the timeout");
        for r in rows {
            let e: i64 = r.get("epoch");
            if r.get::<_, bool>("progressed") {
                progressed_to = e as u64;
                continue;
            }
            let diff: i64 = r.get("diff");
            let g: String = r.get("g");
            let total: Option<i64> = r.get("s");
            let key = format!("{g}|{}", total.map_or("\\N".into(), |t| t.to_string()));
            fold(&mut state, key, diff);
        }
    }
    assert_eq!(state, expected);
    // Nothing new: FETCH waits out its timeout and returns no rows.
    let t0 = std::time::Instant::now();
    let rows = sub
        .query("FETCH ALL c WITH (timeout = '300ms')", &[])
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.get::<_, bool>("progressed")));
    assert!(t0.elapsed() >= Duration::from_millis(250) || !rows.is_empty());
    sub.batch_execute("CLOSE c; COMMIT").await.unwrap();
    let err = sub.batch_execute("FETCH 1 c").await.unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("34000"));
}

/// Fetches everything ready from a cursor (`g|s` rows of `mv`), folding the diffs into `state`;
/// returns the last epoch seen.
async fn drain(
    c: &tokio_postgres::Client,
    cursor: &str,
    state: &mut Rows,
    last: &mut u64,
) -> usize {
    let mut n = 0;
    loop {
        let rows = c
            .query(&format!("FETCH ALL {cursor} WITH (timeout = '500ms')"), &[])
            .await
            .unwrap();
        if rows.is_empty() {
            return n;
        }
        for r in rows {
            let e = r.get::<_, i64>("epoch") as u64;
            assert!(
                e > *last || n > 0 && e == *last,
                "epoch {e} arrived again or out of order"
            );
            *last = e;
            let diff: i64 = r.get("diff");
            let key = format!("{}|{}", r.get::<_, String>("g"), r.get::<_, i64>("s"));
            fold(state, key, diff);
            n += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_named_subscription_resumes_after_kill_9_with_nothing_lost_or_repeated() {
    let mut s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         CREATE MATERIALIZED VIEW mv AS SELECT g, sum(v) AS s FROM t GROUP BY g;
         CREATE SUBSCRIPTION sub FROM mv WITH (retention = '1 day')",
    )
    .await
    .unwrap();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("DECLARE cur SUBSCRIPTION CURSOR FOR sub FULL")
        .await
        .unwrap();
    for i in 0..10 {
        w.batch_execute(&format!(
            "INSERT INTO t VALUES ({i}, '{}', {i})",
            ["a", "b"][i % 2]
        ))
        .await
        .unwrap();
    }
    let mut state = Rows::new();
    let mut last = 0;
    drain(&c, "cur", &mut state, &mut last).await;
    assert_eq!(state, view_rows(&w, "SELECT g, s FROM mv").await);
    let processed = last;

    // More changes the client has not read, then a crash.
    for i in 10..20 {
        w.batch_execute(&format!(
            "INSERT INTO t VALUES ({i}, '{}', {i}); DELETE FROM t WHERE k = {}",
            ["a", "b", "c"][i % 3],
            i - 10
        ))
        .await
        .unwrap();
    }
    drop(c);
    drop(w);
    s.restart();

    // The client comes back with the last epoch it processed.
    let w = connect(&s.conn_str()).await;
    let c = connect(&s.conn_str()).await;
    c.batch_execute(&format!(
        "DECLARE cur SUBSCRIPTION CURSOR FOR sub SINCE {processed}"
    ))
    .await
    .unwrap();
    let got = drain(&c, "cur", &mut state, &mut last).await;
    assert!(got > 0);
    assert_eq!(state, view_rows(&w, "SELECT g, s FROM mv").await);

    // Errors: unknown subscription, duplicate name, SINCE below the retention horizon is
    // checked like AS OF (covered by the retention test), DROP.
    let err = c
        .batch_execute("DECLARE x SUBSCRIPTION CURSOR FOR nope")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42704"));
    let err = w
        .batch_execute("CREATE SUBSCRIPTION sub FROM mv")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42710"));
    w.batch_execute("DROP SUBSCRIPTION sub; DROP SUBSCRIPTION IF EXISTS sub")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_upsert_gives_one_row_per_changed_key() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2);
         CREATE MATERIALIZED VIEW mv AS SELECT g, sum(v) AS s FROM t GROUP BY g",
    )
    .await
    .unwrap();
    let sub = connect(&s.conn_str()).await;
    let mut stream = Box::pin(
        sub.copy_out(
            "COPY (SUBSCRIBE TO mv WITH (SNAPSHOT = false) ENVELOPE UPSERT (KEY (g))) TO STDOUT",
        )
        .await
        .unwrap(),
    );
    // One epoch: 'a' changes (a retraction and an insertion become one upsert), 'b' goes away.
    w.batch_execute("BEGIN; INSERT INTO t VALUES (3, 'a', 10); DELETE FROM t WHERE k = 2; COMMIT")
        .await
        .unwrap();
    let mut got = vec![];
    while got.len() < 2 {
        let chunk = next_chunk(&mut stream).await;
        let line = String::from_utf8(chunk.to_vec()).unwrap();
        let f: Vec<&str> = line.trim_end().split('\t').collect();
        got.push(f[1..].join("|"));
    }
    got.sort();
    assert_eq!(got, vec!["delete|b|\\N", "upsert|a|11"]);

    let err = w
        .batch_execute("COPY (SUBSCRIBE TO mv ENVELOPE UPSERT (KEY (nope))) TO STDOUT")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42703"));
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_op_labels_inserts_deletes_and_updates_by_key() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2);
         CREATE MATERIALIZED VIEW mv AS SELECT g, sum(v) AS s FROM t GROUP BY g",
    )
    .await
    .unwrap();
    let sub = connect(&s.conn_str()).await;
    sub.batch_execute("DECLARE c CURSOR FOR SUBSCRIBE TO mv ENVELOPE OP (KEY (g))")
        .await
        .unwrap();
    let fetch = async |want: usize| {
        let mut got = vec![];
        while got.len() < want {
            for r in sub
                .query("FETCH ALL c WITH (timeout = '5s')", &[])
                .await
                .unwrap()
            {
                let s: Option<i64> = r.get("s");
                got.push(format!(
                    "{}|{}|{}",
                    r.get::<_, String>("op"),
                    r.get::<_, String>("g"),
                    s.map_or("null".into(), |s| s.to_string())
                ));
            }
        }
        got
    };
    let mut snapshot = fetch(2).await;
    snapshot.sort();
    assert_eq!(snapshot, vec!["insert|a|1", "insert|b|2"]);
    // One epoch: 'a' changes, 'b' goes away, 'c' appears.
    w.batch_execute(
        "BEGIN; INSERT INTO t VALUES (3, 'a', 10), (4, 'c', 4); DELETE FROM t WHERE k = 2; COMMIT",
    )
    .await
    .unwrap();
    let got = fetch(4).await;
    let a_old = got.iter().position(|r| r == "update_delete|a|1").unwrap();
    assert_eq!(
        got[a_old + 1],
        "update_insert|a|11",
        "an update's two rows are adjacent"
    );
    let mut rest: Vec<&String> = got
        .iter()
        .filter(|r| !r.ends_with("|a|1") && !r.ends_with("|a|11"))
        .collect();
    rest.sort();
    assert_eq!(rest, vec!["delete|b|2", "insert|c|4"]);
}

/// Connects and hands over the connection's notifications.
async fn connect_listening(
    conn_str: &str,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) {
    let (client, mut conn) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let _ = tx.send(n);
            }
        }
    });
    (client, rx)
}

async fn next_notification(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) -> (String, String, i32) {
    let n = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no notification within 10 s")
        .expect("connection closed");
    (
        n.channel().to_string(),
        n.payload().to_string(),
        n.process_id(),
    )
}

async fn no_notification(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<tokio_postgres::Notification>,
) {
    if let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(400), rx.recv()).await {
        panic!("unexpected notification {} {}", n.channel(), n.payload());
    }
}

async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_on_a_view_hears_each_epoch_that_changed_it() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY);
         CREATE TABLE u (k int PRIMARY KEY);
         CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM t WHERE k > 0",
    )
    .await
    .unwrap();
    let (l, mut rx) = connect_listening(&s.conn_str()).await;
    l.batch_execute("LISTEN v").await.unwrap();
    w.batch_execute("INSERT INTO t VALUES (1)").await.unwrap();
    let e1 = epoch(&w).await;
    let (channel, payload, _) = next_notification(&mut rx).await;
    assert_eq!((channel.as_str(), payload), ("v", e1.to_string()));
    // Epochs that leave the view as it was say nothing.
    w.batch_execute("INSERT INTO u VALUES (1)").await.unwrap();
    w.batch_execute("INSERT INTO t VALUES (-1)").await.unwrap();
    w.batch_execute("INSERT INTO t VALUES (2)").await.unwrap();
    let e4 = epoch(&w).await;
    assert_eq!(next_notification(&mut rx).await.1, e4.to_string());
    no_notification(&mut rx).await;
    l.batch_execute("UNLISTEN v").await.unwrap();
    w.batch_execute("INSERT INTO t VALUES (3)").await.unwrap();
    no_notification(&mut rx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_is_delivered_at_commit_and_only_between_transactions() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    let w_pid = backend_pid(&w).await;
    let (l, mut rx) = connect_listening(&s.conn_str()).await;
    assert_ne!(backend_pid(&l).await, w_pid);
    l.batch_execute("LISTEN chan").await.unwrap();
    w.batch_execute("NOTIFY chan, 'now'").await.unwrap();
    assert_eq!(
        next_notification(&mut rx).await,
        ("chan".into(), "now".into(), w_pid)
    );
    // A transaction's notifications go at COMMIT, repeats folded; none after ROLLBACK.
    w.batch_execute("BEGIN; NOTIFY chan, 'a'; NOTIFY chan, 'a'; NOTIFY chan, 'b'")
        .await
        .unwrap();
    no_notification(&mut rx).await;
    w.batch_execute("COMMIT").await.unwrap();
    assert_eq!(next_notification(&mut rx).await.1, "a");
    assert_eq!(next_notification(&mut rx).await.1, "b");
    w.batch_execute("BEGIN; NOTIFY chan, 'c'; ROLLBACK")
        .await
        .unwrap();
    no_notification(&mut rx).await;
    // A listener inside a transaction block hears nothing until it ends.
    l.batch_execute("BEGIN").await.unwrap();
    w.batch_execute("NOTIFY chan, 'd'").await.unwrap();
    no_notification(&mut rx).await;
    l.batch_execute("COMMIT").await.unwrap();
    assert_eq!(next_notification(&mut rx).await.1, "d");
    // LISTEN inside a transaction takes effect at COMMIT; UNLISTEN * stops everything.
    l.batch_execute("BEGIN; LISTEN other; ROLLBACK")
        .await
        .unwrap();
    w.batch_execute("NOTIFY other, 'e'").await.unwrap();
    no_notification(&mut rx).await;
    l.batch_execute("UNLISTEN *").await.unwrap();
    w.batch_execute("NOTIFY chan, 'f'").await.unwrap();
    no_notification(&mut rx).await;
    // A session hears its own notifications.
    l.batch_execute("LISTEN self_chan; NOTIFY self_chan, 'me'")
        .await
        .unwrap();
    let (_, payload, pid) = next_notification(&mut rx).await;
    assert_eq!((payload.as_str(), pid), ("me", backend_pid(&l).await));
}

async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

const TEMP_VIEWS: &str = "SELECT count(*) FROM pg_class c JOIN pg_namespace n \
     ON n.oid = c.relnamespace WHERE n.nspname = 'pg_temp_subscribe'";

/// Polls until `sql` counts `want`, doing a write between polls (a COPY subscriber whose client
/// left is noticed when the server next writes to it).
async fn until_count(c: &tokio_postgres::Client, sql: &str, want: i64, poke: &str) {
    for _ in 0..100 {
        if count(c, sql).await == want {
            return;
        }
        c.batch_execute(poke).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql} never came to {want}");
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_to_a_query_follows_it_and_cleans_up_after_itself() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)",
    )
    .await
    .unwrap();
    let query = "SELECT g, sum(v) AS s FROM t WHERE g <> 'it''s' GROUP BY g";
    let (sub, conn) = tokio_postgres::connect(&s.conn_str(), tokio_postgres::NoTls)
        .await
        .unwrap();
    // Aborted below to drop the connection, as a client that goes away does.
    let conn = tokio::spawn(conn);
    let stream = sub
        .copy_out(&format!(
            "COPY (SUBSCRIBE ({query}) WITH (PROGRESS)) TO STDOUT"
        ))
        .await
        .unwrap();
    let mut stream = Box::pin(stream);
    for i in 3..20 {
        w.batch_execute(&format!(
            "INSERT INTO t VALUES ({i}, '{}', {i}); DELETE FROM t WHERE k = {}",
            ["a", "b", "c"][i as usize % 3],
            i - 2
        ))
        .await
        .unwrap();
    }
    let last = epoch(&w).await;
    let mut state = Rows::new();
    let mut progressed_to = 0;
    while progressed_to < last {
        let (e, progressed, diff, row) = parse_line(&next_chunk(&mut stream).await, true);
        match progressed {
            true => progressed_to = e,
            false => fold(&mut state, row, diff),
        }
    }
    // The oracle: the same query as a batch SELECT.
    assert_eq!(state, view_rows(&w, query).await);
    let listed = w
        .query_one(
            "SELECT kind, target, lag_epochs, rows_sent FROM eddy_subscribers",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(listed.get::<_, String>("kind"), "copy");
    assert!(listed.get::<_, String>("target").contains("sum ( v )"));
    assert!(listed.get::<_, i64>("rows_sent") > 0);
    assert_eq!(count(&w, TEMP_VIEWS).await, 1);
    // The view it made is not a dependency anyone else can take.
    let err = w
        .batch_execute("CREATE MATERIALIZED VIEW x AS SELECT * FROM pg_temp_subscribe.subscribe_1")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("0A000"));
    drop(stream);
    drop(sub);
    conn.abort();
    let poke = "INSERT INTO t VALUES (100, 'z', 1) ON CONFLICT (k) DO UPDATE SET v = t.v + 1";
    until_count(&w, TEMP_VIEWS, 0, poke).await;
    until_count(&w, "SELECT count(*) FROM eddy_subscribers", 0, poke).await;

    // Through a cursor: CLOSE ends it at once.
    let c = connect(&s.conn_str()).await;
    c.batch_execute("DECLARE q CURSOR FOR SUBSCRIBE (SELECT count(*) AS n FROM t)")
        .await
        .unwrap();
    let rows = c
        .query("FETCH ALL q WITH (timeout = '2s')", &[])
        .await
        .unwrap();
    let n: i64 = rows[0].get("n");
    assert_eq!(n, count(&w, "SELECT count(*) FROM t").await);
    assert_eq!(count(&w, TEMP_VIEWS).await, 1);
    c.batch_execute("CLOSE q").await.unwrap();
    until_count(&w, TEMP_VIEWS, 0, "SELECT 1").await;
    // A query no view can maintain is refused before anything is made.
    let err = c
        .batch_execute("DECLARE r CURSOR FOR SUBSCRIBE (SELECT now())")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("0A000"));
    assert_eq!(count(&w, TEMP_VIEWS).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn eddy_subscribers_shows_each_subscriber_position_and_lag() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY);
         CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t;
         CREATE SUBSCRIPTION s FROM mv WITH (retention = '1 hour')",
    )
    .await
    .unwrap();
    let created = epoch(&w).await;
    // Before the view existed there is nothing to replay.
    let err = w
        .batch_execute("DECLARE early CURSOR FOR SUBSCRIBE TO mv AS OF 1")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("55000"));
    let r = w
        .query_one("SELECT * FROM eddy_subscriptions", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>("name"), "s");
    assert_eq!(r.get::<_, String>("view_name"), "mv");
    assert_eq!(r.get::<_, i64>("retention_seconds"), 3600);
    assert!(r.get::<_, i64>("created_epoch") <= created as i64);

    let c = connect(&s.conn_str()).await;
    let pid = backend_pid(&c).await;
    c.batch_execute("DECLARE cur SUBSCRIPTION CURSOR FOR s FULL")
        .await
        .unwrap();
    c.query("FETCH ALL cur WITH (timeout = '1s')", &[])
        .await
        .unwrap();
    let lag = "SELECT lag_epochs FROM eddy_subscribers";
    assert_eq!(count(&w, lag).await, 0);
    let r = w
        .query_one("SELECT * FROM eddy_subscribers", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, i32>("pid"), pid);
    assert_eq!(r.get::<_, String>("kind"), "subscription cursor");
    assert_eq!(r.get::<_, String>("subscription"), "s");
    assert_eq!(r.get::<_, String>("cursor"), "cur");
    assert_eq!(r.get::<_, String>("target"), "public.mv");
    // Three commits the client has not fetched: three epochs behind.
    for k in 1..=3 {
        w.batch_execute(&format!("INSERT INTO t VALUES ({k})"))
            .await
            .unwrap();
    }
    assert_eq!(count(&w, lag).await, 3);
    let mut fetched = 0;
    for _ in 0..50 {
        fetched += c
            .query("FETCH ALL cur WITH (timeout = '200ms')", &[])
            .await
            .unwrap()
            .len();
        if count(&w, lag).await == 0 {
            break;
        }
    }
    assert_eq!(count(&w, lag).await, 0);
    assert_eq!(
        fetched, 6,
        "each insert retracts the old count and adds the new"
    );
    c.batch_execute("CLOSE cur").await.unwrap();
    assert_eq!(count(&w, "SELECT count(*) FROM eddy_subscribers").await, 0);
}

/// A client that goes away in the middle of a streaming COPY is noticed at once, not at the
/// view's next change: its subscriber is gone from `eddy_subscribers` with no write in between.
/// psql sends the COPY as a simple query, as most clients do (the pipelined Sync of an extended
/// query sits unread in the socket, and such a client is noticed at the next write).
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_subscriber_that_disconnects_is_dropped_without_waiting_for_a_write() {
    if std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("psql missing: skipped");
        return;
    }
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, v int);
         INSERT INTO t VALUES (1, 1);
         CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM t",
    )
    .await
    .unwrap();
    let mut child = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            &s.conn_str(),
            "-c",
            "COPY (SUBSCRIBE TO mv) TO STDOUT",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let subscribers = "SELECT count(*) FROM eddy_subscribers";
    until_count(&w, subscribers, 1, "SELECT 1").await;
    child.kill().unwrap();
    child.wait().unwrap();
    let before = epoch(&w).await;
    until_count(&w, subscribers, 0, "SELECT 1").await;
    assert_eq!(epoch(&w).await, before, "nothing was written meanwhile");

    // Over the extended protocol (tokio-postgres), whose Sync waits unread in the socket.
    let (sub, conn) = tokio_postgres::connect(&s.conn_str(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let stream = sub
        .copy_out("COPY (SUBSCRIBE TO mv) TO STDOUT")
        .await
        .unwrap();
    until_count(&w, subscribers, 1, "SELECT 1").await;
    conn.abort();
    drop((stream, sub));
    until_count(&w, subscribers, 0, "SELECT 1").await;
    assert_eq!(epoch(&w).await, before, "nothing was written meanwhile");
}

/// Follows `COPY (SUBSCRIBE (query) WITH (PROGRESS) AS OF start)` until it has progressed to
/// `last`; returns the consolidated rows after each epoch that brought changes.
async fn replay_as_of(s: &EddyServer, query: &str, start: u64, last: u64) -> Vec<(u64, Rows)> {
    let (sub, conn) = tokio_postgres::connect(&s.conn_str(), tokio_postgres::NoTls)
        .await
        .unwrap();
    // Aborted at the end to drop the connection (a client with a COPY under way keeps
    // reading it).
    let conn = tokio::spawn(conn);
    let mut stream = Box::pin(
        sub.copy_out(&format!(
            "COPY (SUBSCRIBE ({query}) WITH (PROGRESS) AS OF {start}) TO STDOUT"
        ))
        .await
        .unwrap(),
    );
    let mut state = Rows::new();
    let mut seen: Vec<(u64, Rows)> = vec![];
    let mut current: Option<u64> = None;
    let mut progressed_to = 0;
    while progressed_to < last {
        let (e, progressed, diff, row) = parse_line(&next_chunk(&mut stream).await, true);
        if let Some(c) = current
            && c != e
        {
            seen.push((c, state.clone()));
        }
        assert!(current.is_none_or(|c| e >= c), "epochs arrive in order");
        assert!(
            e >= start,
            "nothing from before AS OF {start}: got epoch {e}"
        );
        current = Some(e);
        match progressed {
            true => progressed_to = e,
            false => fold(&mut state, row, diff),
        }
    }
    seen.push((current.unwrap(), state));
    conn.abort();
    seen
}

/// At every epoch the writer recorded from `start` on, the sum of what a subscription AS OF
/// `start` received equals the query's result the writer read then.
async fn assert_replay_agrees(
    s: &EddyServer,
    query: &str,
    expected: &[(u64, Rows)],
    start: u64,
    last: u64,
) {
    let seen = replay_as_of(s, query, start, last).await;
    for (e, rows) in expected.iter().filter(|(e, _)| *e >= start) {
        let at = seen
            .iter()
            .rev()
            .find(|(se, _)| se <= e)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        assert_eq!(
            &at, rows,
            "AS OF {start}: subscriber disagrees at epoch {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_to_a_query_as_of_an_epoch_replays_its_tables_history() {
    let s = EddyServer::start();
    let w = connect(&s.conn_str()).await;
    w.batch_execute(
        "CREATE TABLE t (k int PRIMARY KEY, g text, v int) WITH (retain_history = '1 hour');
         CREATE TABLE dims (g text PRIMARY KEY, label text);
         INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'a', 3);
         INSERT INTO dims VALUES ('a', 'alpha'), ('b', 'beta');",
    )
    .await
    .unwrap();
    let before_dims_history = epoch(&w).await;
    w.batch_execute(
        "ALTER TABLE dims SET (retain_history = '1 day');
         CREATE MATERIALIZED VIEW big AS SELECT k, v FROM t WHERE v > 5",
    )
    .await
    .unwrap();
    // A join, an aggregate, and a materialized view among the inputs.
    let query = "SELECT d.label, sum(t.v) AS s, count(*) AS n, count(b.k) AS big \
                 FROM t JOIN dims d ON t.g = d.g LEFT JOIN big b ON b.k = t.k \
                 GROUP BY d.label";
    // The oracle: the same query as a batch SELECT after each commit.
    let mut expected: Vec<(u64, Rows)> = vec![(epoch(&w).await, view_rows(&w, query).await)];
    let mut seed = 11u64;
    for i in 0..36 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (seed >> 33) % 10;
        let g = ["a", "b", "c"][(seed >> 20) as usize % 3];
        let sql = match i % 6 {
            0 | 1 => format!(
                "INSERT INTO t VALUES ({k}, '{g}', {i}) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
            ),
            2 => format!("UPDATE t SET v = v + 1 WHERE k % 3 = {}", k % 3),
            3 => format!("DELETE FROM t WHERE k = {k}"),
            4 => format!(
                "INSERT INTO dims VALUES ('{g}', 'label{i}') ON CONFLICT (g) DO UPDATE SET label = excluded.label"
            ),
            _ if i == 17 => "TRUNCATE t".to_string(),
            _ => format!(
                "BEGIN; INSERT INTO t VALUES ({}, 'a', 1) ON CONFLICT (k) DO NOTHING; \
                 DELETE FROM dims WHERE g = '{g}'; COMMIT",
                k + 20
            ),
        };
        w.batch_execute(&sql).await.unwrap();
        expected.push((epoch(&w).await, view_rows(&w, query).await));
    }
    let last = expected.last().unwrap().0;
    for from in [0, 5, 20, expected.len() - 1] {
        assert_replay_agrees(&s, query, &expected, expected[from].0, last).await;
    }
    // The view made for each subscription went away with it.
    let poke = "INSERT INTO t VALUES (99, 'z', 1) ON CONFLICT (k) DO UPDATE SET v = t.v + 1";
    until_count(&w, TEMP_VIEWS, 0, poke).await;
    // The history survives kill -9.
    let mut s = s;
    s.restart();
    let w = connect(&s.conn_str()).await;
    assert_replay_agrees(&s, query, &expected, expected[3].0, last).await;
    until_count(&w, TEMP_VIEWS, 0, poke).await;

    // The changes that are not kept are refused, clearly.
    w.batch_execute("CREATE TABLE plain (x int)").await.unwrap();
    let now = epoch(&w).await;
    for (sql, code) in [
        (
            format!("SUBSCRIBE (SELECT * FROM t JOIN dims USING (g)) AS OF {before_dims_history}"),
            "55000",
        ),
        (
            format!("SUBSCRIBE (SELECT * FROM plain) AS OF {}", now - 1),
            "55000",
        ),
        (
            format!("SUBSCRIBE (SELECT * FROM t) AS OF {}", now + 100),
            "22023",
        ),
    ] {
        let err = w
            .batch_execute(&format!("COPY ({sql}) TO STDOUT"))
            .await
            .unwrap_err();
        assert_eq!(
            err.as_db_error().map(|e| e.code().code()),
            Some(code),
            "{sql}"
        );
    }
    let err = w
        .batch_execute("BEGIN; ALTER TABLE plain SET (retain_history = '1 hour')")
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("25001"));
    w.batch_execute("ROLLBACK").await.unwrap();
    // Turning the history off forgets it.
    w.batch_execute("ALTER TABLE t SET (retain_history = 0)")
        .await
        .unwrap();
    let err = w
        .batch_execute(&format!(
            "COPY (SUBSCRIBE (SELECT * FROM t) AS OF {}) TO STDOUT",
            expected[5].0
        ))
        .await
        .unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("55000"));
    assert_eq!(count(&w, TEMP_VIEWS).await, 0);
}
