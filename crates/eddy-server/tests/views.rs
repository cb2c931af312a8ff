//! Materialized views under stress, each checked against the oracle (the view's query run as a
//! batch SELECT on the same epoch):
//! - property tests per stateful operator: random inserts, updates and deletes (duplicates,
//!   NULLs, rows inserted and deleted in the same transaction) with a recomputation after every
//!   step;
//! - a crash test: SIGKILL at random moments while DML flows; after every restart every view
//!   equals its recomputation and every acknowledged write is in the tables;
//! - incrementality: the work one INSERT causes is the same over 1,000 and 1,000,000 rows.

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::SinkExt;
use server::{EddyServer, connect};
use tokio_postgres::{Client, SimpleQueryMessage};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

async fn rows(c: &Client, sql: &str) -> Result<Vec<String>, String> {
    let msgs = c.simple_query(sql).await.map_err(|e| {
        e.as_db_error()
            .map(|d| d.code().code().to_string())
            .unwrap_or_else(|| e.to_string())
    })?;
    let mut out: Vec<String> = msgs
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Every view equals its query (or both fail with the same SQLSTATE).
async fn check(c: &Client, views: &[(&str, &str)], context: &str) {
    for (name, query) in views {
        let got = rows(c, &format!("SELECT * FROM {name}")).await;
        let want = rows(c, query).await;
        assert_eq!(got, want, "view {name} differs from its query {context}");
    }
}

/// A random value from a small domain (so keys collide), sometimes NULL.
fn val(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "NULL".into(),
        n => (n as i64 - 3).to_string(),
    }
}

/// Random DML over `r(k int, v int)` and `s(k int, w int)` (no primary keys: duplicate rows).
fn random_statement(rng: &mut Rng) -> String {
    let t = if rng.below(2) == 0 { "r" } else { "s" };
    let c = if t == "r" { "v" } else { "w" };
    match rng.below(10) {
        0..=4 => {
            let n = 1 + rng.below(3);
            let vals: Vec<String> = (0..n)
                .map(|_| format!("({}, {})", val(rng), val(rng)))
                .collect();
            format!("INSERT INTO {t} VALUES {}", vals.join(", "))
        }
        5..=6 => format!("UPDATE {t} SET {c} = {} WHERE k = {}", val(rng), val(rng)),
        7..=8 => format!("DELETE FROM {t} WHERE {c} = {}", val(rng)),
        _ => format!(
            "DELETE FROM {t} WHERE k IS NULL OR k > {}",
            2 + rng.below(3)
        ),
    }
}

async fn property(views: &[(&str, &str)], steps: usize) {
    let seed = seed();
    let mut rng = Rng(seed);
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute("CREATE TABLE r (k int, v int); CREATE TABLE s (k int, w int)")
        .await
        .unwrap();
    // views created over data (backfill) and before more changes
    for _ in 0..5 {
        c.batch_execute(&random_statement(&mut rng)).await.unwrap();
    }
    for (name, q) in views {
        c.batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {q}"))
            .await
            .unwrap();
    }
    check(&c, views, &format!("after backfill (seed {seed})")).await;
    for step in 0..steps {
        let n = 1 + rng.below(4);
        let stmts: Vec<String> = (0..n).map(|_| random_statement(&mut rng)).collect();
        let sql = if n > 1 || rng.below(3) == 0 {
            // one epoch: the statements of a transaction, including an insert deleted again
            format!(
                "BEGIN; {}; INSERT INTO r VALUES (99, 99); DELETE FROM r WHERE k = 99; COMMIT",
                stmts.join("; ")
            )
        } else {
            stmts[0].clone()
        };
        c.batch_execute(&sql).await.unwrap();
        check(
            &c,
            views,
            &format!("after step {step}: {sql} (seed {seed})"),
        )
        .await;
    }
}

#[tokio::test]
async fn property_aggregates() {
    property(
        &[
            (
                "agg",
                "SELECT k, count(*) AS n, count(v) AS nv, sum(v) AS sv, min(v) AS lo, max(v) AS hi, \
                 count(DISTINCT v) AS dv, bool_or(v > 0) AS anypos FROM r GROUP BY k",
            ),
            ("glob", "SELECT count(*) AS n, sum(v) AS sv, max(v) AS hi FROM r"),
            ("dist", "SELECT DISTINCT v FROM r"),
            (
                "coll",
                "SELECT k, array_agg(v ORDER BY v NULLS FIRST) AS vs, \
                 string_agg(CAST(v AS text), ',' ORDER BY v) AS sv, var_pop(v) AS vp FROM r GROUP BY k",
            ),
            (
                "hav",
                "SELECT v % 2 AS p, sum(k) AS sk FROM r GROUP BY v % 2 HAVING count(*) > 2",
            ),
        ],
        120,
    )
    .await;
}

#[tokio::test]
async fn property_joins() {
    property(
        &[
            ("ij", "SELECT r.k, r.v, s.w FROM r JOIN s ON r.k = s.k"),
            ("lj", "SELECT r.k, r.v, s.w FROM r LEFT JOIN s ON r.k = s.k"),
            (
                "fj",
                "SELECT r.v, s.w FROM r FULL JOIN s ON r.k = s.k AND r.v < s.w",
            ),
            (
                "semi",
                "SELECT k, v FROM r WHERE EXISTS (SELECT 1 FROM s WHERE s.k = r.k AND s.w > r.v)",
            ),
            (
                "anti",
                "SELECT k, v FROM r WHERE NOT EXISTS (SELECT 1 FROM s WHERE s.k = r.k)",
            ),
            ("setop", "SELECT k FROM r EXCEPT SELECT k FROM s"),
            // PostgreSQL's NULL semantics: a NULL in s.w makes NOT IN false everywhere
            (
                "not_in",
                "SELECT k, v FROM r WHERE v NOT IN (SELECT w FROM s)",
            ),
            (
                "in_sub",
                "SELECT k, v FROM r WHERE v IN (SELECT w FROM s WHERE k > 0)",
            ),
        ],
        120,
    )
    .await;
}

#[tokio::test]
async fn property_order_and_windows() {
    property(
        &[
            // unique order keys (ties would make the expected rows arbitrary)
            (
                "top",
                "SELECT k, v, c FROM (SELECT k, v, count(*) AS c FROM r GROUP BY k, v) g \
                 ORDER BY k NULLS FIRST, v NULLS FIRST LIMIT 4 OFFSET 1",
            ),
            // per-group top-N; rows tied on (k, v) are identical, so any tie order gives the
            // same rows
            (
                "top_per_k",
                "SELECT k, v, rn FROM (SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v \
                 NULLS FIRST) AS rn FROM r) t WHERE rn <= 2",
            ),
            (
                "ranked",
                "SELECT k, v, rank() OVER (PARTITION BY k ORDER BY v) AS rk, \
                 sum(v) OVER (PARTITION BY k ORDER BY v) AS run FROM r",
            ),
        ],
        120,
    )
    .await;
}

#[tokio::test]
async fn one_insert_costs_the_same_over_1k_and_1m_rows() {
    let s = EddyServer::start();
    let c = connect(&s.conn_str()).await;
    c.batch_execute(
        "CREATE TABLE big (id bigint PRIMARY KEY, g int, v int);
         CREATE TABLE dim (g int PRIMARY KEY, name text);
         INSERT INTO dim SELECT x, 'g' || x FROM generate_series(0, 999) AS t(x);
         CREATE MATERIALIZED VIEW per_g AS SELECT g, count(*) AS n, sum(v) AS s, max(v) AS m FROM big GROUP BY g;
         CREATE MATERIALIZED VIEW named AS SELECT big.id, dim.name FROM big JOIN dim ON big.g = dim.g WHERE big.v > 10",
    )
    .await
    .unwrap();
    async fn load(c: &Client, from: i64, to: i64) {
        let sink = c.copy_in::<_, Bytes>("COPY big FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        let mut buf = String::new();
        for i in from..to {
            buf.push_str(&format!("{i}\t{}\t{}\n", i % 1000, i % 97));
            if buf.len() > 1 << 20 {
                sink.send(Bytes::from(std::mem::take(&mut buf)))
                    .await
                    .unwrap();
            }
        }
        sink.send(Bytes::from(buf)).await.unwrap();
        sink.finish().await.unwrap();
    }
    async fn one_insert(c: &Client, id: i64) -> (u64, Duration) {
        let t = Instant::now();
        c.batch_execute(&format!("INSERT INTO big VALUES ({id}, 7, 50)"))
            .await
            .unwrap();
        let took = t.elapsed();
        let r = rows(c, "SHOW eddy_dataflow_rows_last_epoch").await.unwrap();
        (r[0].parse().unwrap(), took)
    }
    load(&c, 0, 1_000).await;
    let (work_small, t_small) = one_insert(&c, 10_000_000).await;
    load(&c, 1_000, 1_000_000).await;
    let (work_big, t_big) = one_insert(&c, 10_000_001).await;
    eprintln!(
        "one INSERT: {work_small} rows of dataflow work in {t_small:?} over 1k rows, \
         {work_big} rows in {t_big:?} over 1M rows"
    );
    assert_eq!(
        work_small, work_big,
        "work per change must not grow with the input"
    );
    assert!(
        work_small <= 8,
        "one row in, a handful of operator rows ({work_small})"
    );
    let n = rows(&c, "SELECT n FROM per_g WHERE g = 7").await.unwrap();
    assert_eq!(n, vec!["1002".to_string()]);
    check(
        &c,
        &[(
            "per_g",
            "SELECT g, count(*) AS n, sum(v) AS s, max(v) AS m FROM big GROUP BY g",
        )],
        "after 1M rows",
    )
    .await;
}

/// SIGKILLs in the crash test (the issue asks for at least 20).
const KILLS: usize = 20;

#[derive(Default)]
struct Ledger {
    acked: BTreeSet<i64>,
    in_flight: BTreeSet<i64>,
}

const CRASH_VIEWS: &[(&str, &str)] = &[
    (
        "per_g",
        "SELECT a.g, count(*) AS n, sum(a.v) AS s, max(a.v) AS m FROM a GROUP BY a.g",
    ),
    (
        "joined",
        "SELECT a.id, b.name, a.v FROM a JOIN b ON a.g = b.g WHERE a.v % 3 <> 0",
    ),
    (
        "per_name",
        "SELECT b.name, count(a.id) AS n FROM b LEFT JOIN a ON a.g = b.g GROUP BY b.name",
    ),
    ("top", "SELECT id, v FROM a ORDER BY v DESC, id LIMIT 5"),
];

async fn crash_writer(
    conn: String,
    mut next_id: i64,
    seed: u64,
    ledger: Arc<Mutex<Ledger>>,
) -> i64 {
    let Ok((c, conn)) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await else {
        return next_id;
    };
    tokio::spawn(conn);
    let mut rng = Rng(seed | 1);
    loop {
        let ok = match rng.below(4) {
            0 => {
                // updates and deletes move view rows around; they never remove a tracked id
                let sql = if rng.below(2) == 0 {
                    format!("UPDATE a SET v = v + 1 WHERE g = {}", rng.below(10))
                } else {
                    format!(
                        "UPDATE b SET name = 'n{}' WHERE g = {}",
                        rng.below(5),
                        rng.below(10)
                    )
                };
                c.batch_execute(&sql).await.is_ok()
            }
            1 => {
                let batch: Vec<i64> = (next_id..next_id + 40).collect();
                next_id += 40;
                ledger
                    .lock()
                    .unwrap()
                    .in_flight
                    .extend(batch.iter().copied());
                let ok = match c.copy_in::<_, Bytes>("COPY a FROM STDIN").await {
                    Ok(sink) => {
                        futures::pin_mut!(sink);
                        let data: String = batch
                            .iter()
                            .map(|i| format!("{i}\t{}\t{}\n", i % 10, i % 17))
                            .collect();
                        sink.send(Bytes::from(data)).await.is_ok() && sink.finish().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    let mut l = ledger.lock().unwrap();
                    for id in &batch {
                        l.in_flight.remove(id);
                        l.acked.insert(*id);
                    }
                }
                ok
            }
            _ => {
                let id = next_id;
                next_id += 1;
                ledger.lock().unwrap().in_flight.insert(id);
                let ok = c
                    .batch_execute(&format!(
                        "INSERT INTO a VALUES ({id}, {}, {})",
                        id % 10,
                        id % 23
                    ))
                    .await
                    .is_ok();
                if ok {
                    let mut l = ledger.lock().unwrap();
                    l.in_flight.remove(&id);
                    l.acked.insert(id);
                }
                ok
            }
        };
        if !ok {
            return next_id;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn views_survive_sigkill_and_keep_updating() {
    let seed = seed();
    eprintln!("view crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut s = EddyServer::start();
    {
        let c = connect(&s.conn_str()).await;
        c.batch_execute(
            "CREATE TABLE a (id bigint PRIMARY KEY, g int, v int);
             CREATE TABLE b (g int PRIMARY KEY, name text);
             INSERT INTO b SELECT x, 'n' || (x % 5) FROM generate_series(0, 7) AS t(x)",
        )
        .await
        .unwrap();
        for (name, q) in CRASH_VIEWS {
            c.batch_execute(&format!("CREATE MATERIALIZED VIEW {name} AS {q}"))
                .await
                .unwrap();
        }
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut next_id = 0i64;
    for round in 0..KILLS {
        let task = tokio::spawn(crash_writer(
            s.conn_str(),
            next_id,
            rng.next(),
            ledger.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(30 + rng.below(250))).await;
        s.kill();
        next_id = task.await.unwrap();
        s.restart();
        let c = connect(&s.conn_str()).await;
        check(
            &c,
            CRASH_VIEWS,
            &format!("after restart {round} (seed {seed})"),
        )
        .await;
        let present: BTreeSet<i64> = rows(&c, "SELECT id FROM a")
            .await
            .unwrap()
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let mut l = ledger.lock().unwrap();
        let lost: Vec<_> = l.acked.difference(&present).take(5).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged rows lost: {lost:?} (seed {seed})"
        );
        let unknown: Vec<_> = present
            .iter()
            .filter(|id| !l.acked.contains(id) && !l.in_flight.contains(id))
            .take(5)
            .collect();
        assert!(
            unknown.is_empty(),
            "round {round}: rows never sent appeared: {unknown:?}"
        );
        let landed: Vec<i64> = l
            .in_flight
            .iter()
            .filter(|id| present.contains(id))
            .copied()
            .collect();
        l.acked.extend(landed);
        l.in_flight.clear();
    }
    let acked = ledger.lock().unwrap().acked.len();
    eprintln!(
        "{KILLS} kills, {acked} acknowledged rows, views equal their queries after each restart"
    );
    assert!(acked > KILLS, "the writer made progress ({acked} rows)");
}
