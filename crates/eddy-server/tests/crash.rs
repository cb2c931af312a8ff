//! Durability: a client streams INSERTs and COPYs while the server is killed with SIGKILL at
//! random moments; after every restart each acknowledged row is there and no row that was never
//! sent is.

#[path = "support/server.rs"]
mod server;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use server::{EddyServer, connect};

/// SIGKILLs per run (the issue asks for at least 20).
const KILLS: usize = 24;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic for a seed, printed so a failure can be replayed
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

#[derive(Default)]
struct Ledger {
    acked: BTreeSet<i64>,
    in_flight: BTreeSet<i64>,
}

async fn writer(conn: String, mut next_id: i64, seed: u64, ledger: Arc<Mutex<Ledger>>) -> i64 {
    let Ok((c, conn)) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await else {
        return next_id;
    };
    tokio::spawn(conn);
    let mut rng = Rng(seed | 1);
    loop {
        let batch: Vec<i64> = if rng.next().is_multiple_of(3) {
            (next_id..next_id + 50).collect()
        } else {
            vec![next_id]
        };
        next_id += batch.len() as i64;
        ledger
            .lock()
            .unwrap()
            .in_flight
            .extend(batch.iter().copied());
        let ok = if batch.len() == 1 {
            c.execute(
                "INSERT INTO t VALUES ($1, $2)",
                &[&batch[0], &format!("row {}", batch[0])],
            )
            .await
            .is_ok()
        } else {
            match c.copy_in::<_, Bytes>("COPY t FROM STDIN").await {
                Ok(sink) => {
                    futures::pin_mut!(sink);
                    let data: String = batch.iter().map(|i| format!("{i}\tcopied {i}\n")).collect();
                    sink.send(Bytes::from(data)).await.is_ok() && sink.finish().await.is_ok()
                }
                Err(_) => false,
            }
        };
        if !ok {
            return next_id;
        }
        let mut l = ledger.lock().unwrap();
        for id in &batch {
            l.in_flight.remove(id);
            l.acked.insert(*id);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_sigkill() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed | 1);
    let mut s = EddyServer::start();
    {
        let c = connect(&s.conn_str()).await;
        c.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, note text)")
            .await
            .unwrap();
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut next_id = 0i64;
    for round in 0..KILLS {
        let task = tokio::spawn(writer(s.conn_str(), next_id, rng.next(), ledger.clone()));
        tokio::time::sleep(Duration::from_millis(20 + rng.next() % 250)).await;
        s.kill();
        next_id = task.await.unwrap();
        s.restart();
        let c = connect(&s.conn_str()).await;
        let rows = c.query("SELECT id FROM t", &[]).await.unwrap();
        let present: BTreeSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        let mut l = ledger.lock().unwrap();
        let lost: Vec<_> = l.acked.difference(&present).take(5).collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged rows lost, e.g. {lost:?} (seed {seed})"
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
        // what was in flight either committed or not; from now on it is known
        let landed: Vec<i64> = l
            .in_flight
            .iter()
            .filter(|id| present.contains(id))
            .copied()
            .collect();
        l.acked.extend(landed);
        l.in_flight.clear();
        drop(l);
        // ids never reused: a lost in-flight id stays unused
    }
    let l = ledger.lock().unwrap();
    eprintln!(
        "{KILLS} kills, {} acknowledged rows verified after every restart",
        l.acked.len()
    );
    assert!(
        l.acked.len() > KILLS,
        "the writer made progress ({} rows)",
        l.acked.len()
    );
}

/// A sequence never hands out a value twice, across SIGKILLs: each value `nextval` returned
/// (here through a serial column's default and a bare `SELECT nextval`) is smaller than every
/// value after the restart, which may leave a gap, as in PostgreSQL.
#[tokio::test(flavor = "multi_thread")]
async fn sequence_values_are_never_handed_out_twice_across_sigkill() {
    let mut s = EddyServer::start();
    {
        let c = connect(&s.conn_str()).await;
        c.batch_execute("CREATE TABLE st (id serial PRIMARY KEY, n int); CREATE SEQUENCE sq")
            .await
            .unwrap();
    }
    let mut seen_ids: BTreeSet<i32> = BTreeSet::new();
    let mut seen_sq: BTreeSet<i64> = BTreeSet::new();
    for round in 0..5 {
        let c = connect(&s.conn_str()).await;
        for i in 0..(7 + round * 13) {
            let id: i32 = c
                .query_one("INSERT INTO st (n) VALUES ($1) RETURNING id", &[&i])
                .await
                .unwrap()
                .get(0);
            let v: i64 = c
                .query_one("SELECT nextval('sq')", &[])
                .await
                .unwrap()
                .get(0);
            assert!(
                seen_ids.iter().all(|s| *s < id) && seen_sq.iter().all(|s| *s < v),
                "round {round}: a value was handed out again or went back ({id}, {v})"
            );
            seen_ids.insert(id);
            seen_sq.insert(v);
        }
        s.kill();
        s.restart();
    }
    let c = connect(&s.conn_str()).await;
    let rows: i64 = c
        .query_one("SELECT count(*) FROM st", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, seen_ids.len());
}
