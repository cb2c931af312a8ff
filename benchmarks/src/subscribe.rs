//! Subscription latency: from a commit being sent to every subscriber receiving its change
//! over `COPY (SUBSCRIBE ...) TO STDOUT`, and to every `LISTEN`er on the view hearing its
//! notification, with 1, 10 and 100 followers of one view at a steady input rate; and what
//! subscribers cost the writer (flat-out COPY rate with and without them).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;

use crate::servers::{Server, connect};
use crate::views::{Sent, copy_f, percentile, steady_writer};
use crate::{arg, rate};

/// One subscriber: reads `fmax`'s changes and records, for every send up to the `last` value
/// it sees inserted, how long after the send it arrived. Ends once it has seen `end`.
async fn subscriber(url: String, sent: Sent, end: i64, lat: Arc<Mutex<Vec<f64>>>) -> Result<()> {
    let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    // Aborted at the end: a client in COPY OUT keeps reading until its connection closes, and
    // later runs must not share the server with this run's subscribers.
    let conn = tokio::spawn(conn);
    let stream = c
        .copy_out("COPY (SUBSCRIBE TO fmax WITH (SNAPSHOT = false)) TO STDOUT")
        .await?;
    let mut stream = Box::pin(stream);
    let mut seen = 0usize;
    let mut mine = vec![];
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let now = Instant::now();
        let line = std::str::from_utf8(&chunk)?.trim_end();
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 || f[1] != "1" {
            continue;
        }
        let last: i64 = f[2].parse().unwrap_or(-1);
        let s = sent.lock().unwrap();
        while seen < s.len() && s[seen].0 <= last {
            mine.push((now - s[seen].1).as_secs_f64() * 1000.0);
            seen += 1;
        }
        drop(s);
        if last >= end {
            break;
        }
    }
    conn.abort();
    lat.lock().unwrap().extend(mine);
    Ok(())
}

/// One listener: `LISTEN fmax`, then one notification per COPY (each raises `max(seq)`, so
/// each changes the view), matched to the sends in order. Ends after the send reaching `end`.
async fn listener(url: String, sent: Sent, end: i64, lat: Arc<Mutex<Vec<f64>>>) -> Result<()> {
    let (c, mut conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(_) = m {
                let _ = tx.send(Instant::now());
            }
        }
    });
    c.batch_execute("LISTEN fmax").await?;
    let mut mine = vec![];
    let mut n = 0;
    while let Some(at) = rx.recv().await {
        let s = sent.lock().unwrap();
        let Some((last, sent_at)) = s.get(n).copied() else {
            continue;
        };
        drop(s);
        mine.push((at - sent_at).as_secs_f64() * 1000.0);
        n += 1;
        if last >= end {
            break;
        }
    }
    lat.lock().unwrap().extend(mine);
    Ok(())
}

/// Rows per second one writer commits flat out (100-row COPYs) for `seconds`.
async fn flat_out(url: &str, start: i64, seconds: u64) -> Result<(f64, i64)> {
    let writer = connect(url).await?;
    let t0 = Instant::now();
    let mut seq = start;
    while t0.elapsed() < Duration::from_secs(seconds) {
        copy_f(&writer, seq, 100).await?;
        seq += 100;
    }
    Ok((rate((seq - start) as u64, t0.elapsed()), seq))
}

pub async fn latency() -> Result<()> {
    let seconds = arg("--seconds", 5) as i64;
    let per_second = arg("--rate", 10_000) as i64;
    let server = Server::eddy()?;
    let url = server.url();
    let c = connect(&url).await?;
    c.batch_execute(
        "CREATE TABLE f (seq bigint PRIMARY KEY, g int, v int);
         CREATE MATERIALIZED VIEW fmax AS SELECT max(seq) AS last FROM f",
    )
    .await?;
    println!(
        "subscription latency: one COPY of {} rows per 10 ms ({per_second} rows/s) -> its change \
         received by every subscriber of `SELECT max(seq) FROM f`, {seconds} s per run",
        per_second / 100
    );
    let mut next = 0i64;
    for (how, subscribers) in [
        ("COPY (SUBSCRIBE)", 1usize),
        ("COPY (SUBSCRIBE)", 10),
        ("COPY (SUBSCRIBE)", 100),
        ("LISTEN", 1),
        ("LISTEN", 10),
        ("LISTEN", 100),
    ] {
        let sent: Sent = Default::default();
        let lat: Arc<Mutex<Vec<f64>>> = Default::default();
        let start = next;
        let end = next + per_second * seconds;
        next = end;
        let mut subs = vec![];
        for _ in 0..subscribers {
            let (url, sent, lat) = (url.clone(), sent.clone(), lat.clone());
            subs.push(tokio::spawn(async move {
                match how {
                    "LISTEN" => listener(url, sent, end - 1, lat).await,
                    _ => subscriber(url, sent, end - 1, lat).await,
                }
            }));
        }
        // Every subscriber is connected and streaming before the first write.
        tokio::time::sleep(Duration::from_millis(300 + 5 * subscribers as u64)).await;
        let took = steady_writer(url.clone(), start, end, per_second / 100, sent.clone()).await?;
        for s in subs {
            s.await??;
        }
        let mut l = lat.lock().unwrap().clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{how:>16} {subscribers:>4} followers: input {:>7.0} rows/s achieved, p50 {:.2} ms, p99 {:.2} ms over {} deliveries, server CPU {:.1} s",
            rate((end - start) as u64, took),
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            l.len(),
            server.cpu_seconds(),
        );
    }
    // What 100 idle-ish subscribers cost a writer going flat out.
    let (without, after) = flat_out(&url, next, seconds as u64).await?;
    let sent: Sent = Default::default();
    let lat: Arc<Mutex<Vec<f64>>> = Default::default();
    let mut subs = vec![];
    for _ in 0..100 {
        subs.push(tokio::spawn(subscriber(
            url.clone(),
            sent.clone(),
            i64::MAX,
            lat.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (with, _) = flat_out(&url, after, seconds as u64).await?;
    for s in subs {
        s.abort();
    }
    println!(
        "writer flat out (100-row COPYs): {without:.0} rows/s without subscribers, {with:.0} with 100: {:.2}x",
        with / without
    );
    Ok(())
}
