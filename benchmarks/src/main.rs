//! Eddy's benchmarks, each run against Eddy and, in the same run, a local PostgreSQL 15 on the
//! same data, printed side by side with the Eddy/PostgreSQL ratio. Figures go to README.md here.
//!
//! ```text
//! eddy-bench ingest      [--rows N] [--insert-rows N] [--batch N]
//! eddy-bench point-reads [--rows N] [--clients N] [--seconds N]
//! eddy-bench view-maintenance [--rows N] [--insert-rows N] [--chunk N]
//! eddy-bench view-freshness [--seconds N]
//! eddy-bench view-vs-refresh [--rows N] [--batches N] [--changes N]
//! ```
//! Servers: a fresh `eddy` (target/release/eddy, or $EDDY_BIN) on a temp data dir, and a fresh
//! PostgreSQL cluster (initdb/pg_ctl) in a temp dir, both on loopback.

mod servers;
mod subscribe;
mod views;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use futures::SinkExt;
use servers::{Server, connect};

const CREATE: &str =
    "CREATE TABLE bench (id bigint PRIMARY KEY, a int, b double precision, c text, d timestamp)";

pub(crate) fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Deterministic row `i` of the benchmark table, in COPY text format.
fn row_text(i: u64, out: &mut String) {
    use std::fmt::Write;
    let secs = 1_700_000_000 + i;
    let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    writeln!(
        out,
        "{i}\t{}\t{}\tname-{}\t2024-01-{:02} {h:02}:{m:02}:{s:02}",
        i % 1000,
        i as f64 * 0.5,
        i % 9973,
        1 + i % 28
    )
    .unwrap();
}

async fn copy_rows(url: &str, rows: u64) -> Result<Duration> {
    let c = connect(url).await?;
    let started = Instant::now();
    let sink = c.copy_in::<_, Bytes>("COPY bench FROM STDIN").await?;
    futures::pin_mut!(sink);
    let mut buf = String::with_capacity(1 << 20);
    for i in 0..rows {
        row_text(i, &mut buf);
        if buf.len() > (1 << 20) - 256 {
            sink.send(Bytes::from(std::mem::take(&mut buf))).await?;
            buf.reserve(1 << 20);
        }
    }
    sink.send(Bytes::from(buf)).await?;
    let n = sink.finish().await?;
    anyhow::ensure!(n == rows, "COPY stored {n} of {rows} rows");
    Ok(started.elapsed())
}

async fn insert_rows(url: &str, start: u64, rows: u64, batch: u64) -> Result<Duration> {
    let c = connect(url).await?;
    let placeholders: Vec<String> = (0..batch)
        .map(|r| {
            let b = r * 5;
            format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    let stmt = c
        .prepare(&format!(
            "INSERT INTO bench VALUES {}",
            placeholders.join(", ")
        ))
        .await?;
    let started = Instant::now();
    let mut i = start;
    while i < start + rows {
        let mut ids = vec![];
        let mut a = vec![];
        let mut b = vec![];
        let mut s = vec![];
        let mut d = vec![];
        for k in i..i + batch {
            ids.push(k as i64);
            a.push((k % 1000) as i32);
            b.push(k as f64 * 0.5);
            s.push(format!("name-{}", k % 9973));
            d.push(std::time::UNIX_EPOCH + Duration::from_secs(1_704_067_200 + k));
        }
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![];
        for r in 0..batch as usize {
            params.push(&ids[r]);
            params.push(&a[r]);
            params.push(&b[r]);
            params.push(&s[r]);
            params.push(&d[r]);
        }
        c.execute(&stmt, &params).await.context("batched insert")?;
        i += batch;
    }
    Ok(started.elapsed())
}

pub(crate) fn rate(rows: u64, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}

async fn ingest() -> Result<()> {
    let rows = arg("--rows", 10_000_000);
    let insert_rows_n = arg("--insert-rows", rows);
    let batch = arg("--batch", 100);
    println!(
        "ingest: {rows} rows by COPY, {insert_rows_n} rows by batched INSERT ({batch} rows/statement), 5 columns"
    );
    let mut results = vec![];
    for server in [Server::eddy()?, Server::postgres()?] {
        let c = connect(&server.url()).await?;
        c.batch_execute(CREATE).await?;
        let copy = copy_rows(&server.url(), rows).await?;
        c.batch_execute("DROP TABLE bench").await?;
        c.batch_execute(CREATE).await?;
        let ins = insert_rows(&server.url(), 0, insert_rows_n, batch).await?;
        let peak = server.peak_rss_mib();
        println!(
            "{:>10}: COPY {:>10.0} rows/s ({:.1} s) | INSERT {:>9.0} rows/s ({:.1} s) | peak RSS {:.0} MiB",
            server.name,
            rate(rows, copy),
            copy.as_secs_f64(),
            rate(insert_rows_n, ins),
            ins.as_secs_f64(),
            peak
        );
        results.push((rate(rows, copy), rate(insert_rows_n, ins)));
    }
    println!(
        "ratio eddy/postgres: COPY {:.2}x, batched INSERT {:.2}x",
        results[0].0 / results[1].0,
        results[0].1 / results[1].1
    );
    Ok(())
}

async fn point_reads() -> Result<()> {
    let rows = arg("--rows", 1_000_000);
    let clients = arg("--clients", 8);
    let seconds = arg("--seconds", 15);
    println!(
        "point reads: SELECT * FROM bench WHERE id = $1 over {rows} rows, {clients} clients, {seconds} s, pgbench -M prepared"
    );
    let mut qps = vec![];
    for server in [Server::eddy()?, Server::postgres()?] {
        let c = connect(&server.url()).await?;
        c.batch_execute(CREATE).await?;
        copy_rows(&server.url(), rows).await?;
        let (q, p50, p99) = servers::pgbench_point_reads(&server, rows, clients, seconds)?;
        println!(
            "{:>10}: {q:>9.0} queries/s | p50 {p50:.3} ms | p99 {p99:.3} ms | peak RSS {:.0} MiB",
            server.name,
            server.peak_rss_mib()
        );
        qps.push(q);
    }
    println!("ratio eddy/postgres: {:.2}x queries/s", qps[0] / qps[1]);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("ingest") => ingest().await,
        Some("point-reads") => point_reads().await,
        Some("view-maintenance") => views::maintenance().await,
        Some("view-freshness") => views::freshness().await,
        Some("view-vs-refresh") => views::versus_refresh().await,
        Some("subscribe-latency") => subscribe::latency().await,
        _ => {
            eprintln!(
                "usage: eddy-bench ingest|point-reads|view-maintenance|view-freshness|view-vs-refresh|subscribe-latency \
                 [options]; see benchmarks/README.md"
            );
            std::process::exit(2);
        }
    }
}
