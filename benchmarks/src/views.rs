//! Materialized view benchmarks: maintenance throughput per view kind, freshness, and
//! incremental maintenance against PostgreSQL's REFRESH MATERIALIZED VIEW.

use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use futures::SinkExt;
use tokio_postgres::Client;

use crate::servers::{Server, connect};
use crate::{arg, rate};

const EVENTS: &str =
    "CREATE TABLE ev (id bigint PRIMARY KEY, g int, g2 int, a int, b double precision, c text)";

/// Row `i` of `ev`: g spreads over 100k groups, g2 over 1k.
fn ev_row(i: u64, out: &mut String) {
    use std::fmt::Write;
    writeln!(
        out,
        "{i}\t{}\t{}\t{}\t{}\tname-{}",
        i % 100_000,
        i % 1000,
        (i * 7919) % 10_007,
        (i % 1000) as f64 * 0.5,
        i % 9973
    )
    .unwrap();
}

async fn copy_ev(c: &Client, from: u64, to: u64, chunk: u64) -> Result<()> {
    let mut i = from;
    while i < to {
        let end = (i + chunk).min(to);
        let sink = c.copy_in::<_, Bytes>("COPY ev FROM STDIN").await?;
        futures::pin_mut!(sink);
        let mut buf = String::new();
        for k in i..end {
            ev_row(k, &mut buf);
        }
        sink.send(Bytes::from(buf)).await?;
        sink.finish().await?;
        i = end;
    }
    Ok(())
}

async fn insert_ev(c: &Client, from: u64, to: u64, batch: u64) -> Result<()> {
    let mut i = from;
    while i < to {
        let end = (i + batch).min(to);
        let vals: Vec<String> = (i..end)
            .map(|k| {
                format!(
                    "({k}, {}, {}, {}, {}, 'name-{}')",
                    k % 100_000,
                    k % 1000,
                    (k * 7919) % 10_007,
                    (k % 1000) as f64 * 0.5,
                    k % 9973
                )
            })
            .collect();
        c.batch_execute(&format!("INSERT INTO ev VALUES {}", vals.join(", ")))
            .await?;
        i = end;
    }
    Ok(())
}

const VIEWS: &[(&str, &str)] = &[
    ("none (table only)", ""),
    (
        "(a) filter/project",
        "SELECT id, a * 2 AS a2, upper(c) AS c FROM ev WHERE b > 100",
    ),
    (
        "(b) GROUP BY, 100k groups",
        "SELECT g, count(*) AS n, sum(a) AS s, max(a) AS m FROM ev GROUP BY g",
    ),
    (
        "(c) two-table join",
        "SELECT ev.id, dim.name, ev.a FROM ev JOIN dim ON ev.g = dim.g",
    ),
    (
        "(d) top-3 per group, 1k groups",
        "SELECT g2, id, a FROM (SELECT g2, id, a, row_number() OVER (PARTITION BY g2 ORDER BY a DESC, id) AS rn FROM ev) t WHERE rn <= 3",
    ),
];

pub async fn maintenance() -> Result<()> {
    let rows = arg("--rows", 1_000_000);
    let insert_rows = arg("--insert-rows", rows / 10);
    let chunk = arg("--chunk", 10_000);
    println!(
        "view maintenance: {rows} rows by COPY ({chunk} rows per COPY, one epoch each), then \
         {insert_rows} by INSERT (100 rows/statement), then {insert_rows} updates (UPDATE of 100 \
         rows by primary key per statement); one view per run"
    );
    println!(
        "{:<32} {:>12} {:>12} {:>12} {:>14} {:>10}",
        "view", "COPY rows/s", "INSERT r/s", "UPDATE r/s", "rows/CPU-s", "peak MiB"
    );
    for (name, sql) in VIEWS {
        let server = Server::eddy()?;
        let c = connect(&server.url()).await?;
        c.batch_execute(EVENTS).await?;
        c.batch_execute(
            "CREATE TABLE dim (g int PRIMARY KEY, name text);
             INSERT INTO dim SELECT x, 'dim-' || x FROM generate_series(0, 99999) AS t(x)",
        )
        .await?;
        if !sql.is_empty() {
            c.batch_execute(&format!("CREATE MATERIALIZED VIEW v AS {sql}"))
                .await?;
        }
        let cpu0 = server.cpu_seconds();
        let t = Instant::now();
        copy_ev(&c, 0, rows, chunk).await?;
        let copy = t.elapsed();
        let t = Instant::now();
        insert_ev(&c, rows, rows + insert_rows, 100).await?;
        let ins = t.elapsed();
        let t = Instant::now();
        let mut i = 0;
        while i < insert_rows {
            let ids: Vec<String> = (i..i + 100)
                .map(|k| (k * 7919 % rows).to_string())
                .collect();
            c.batch_execute(&format!(
                "UPDATE ev SET a = a + 1 WHERE id IN ({})",
                ids.join(", ")
            ))
            .await?;
            i += 100;
        }
        let upd = t.elapsed();
        let cpu = server.cpu_seconds() - cpu0;
        let total = rows + 2 * insert_rows;
        println!(
            "{:<32} {:>12.0} {:>12.0} {:>12.0} {:>14.0} {:>10.0}",
            name,
            rate(rows, copy),
            rate(insert_rows, ins),
            rate(insert_rows, upd),
            total as f64 / cpu,
            server.peak_rss_mib()
        );
    }
    Ok(())
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// When the writer sent each batch, by the last `seq` in it.
pub(crate) type Sent = std::sync::Arc<std::sync::Mutex<Vec<(i64, Instant)>>>;

/// Rows `from..from + n` of `f (seq, g, v)` in one COPY: one commit, one epoch.
pub(crate) async fn copy_f(writer: &Client, from: i64, n: i64) -> Result<()> {
    let data: String = (from..from + n)
        .map(|s| format!("{s}\t{}\t1\n", s % 100))
        .collect();
    let sink = writer.copy_in::<_, Bytes>("COPY f FROM STDIN").await?;
    futures::pin_mut!(sink);
    sink.send(Bytes::from(data)).await?;
    sink.finish().await?;
    Ok(())
}

/// Sends `per_tick` rows of `f` per 10 ms tick from `start` to `end` (exclusive), logging each
/// send in `sent`; returns how long it took.
pub(crate) async fn steady_writer(
    url: String,
    start: i64,
    end: i64,
    per_tick: i64,
    sent: Sent,
) -> Result<Duration> {
    let writer = connect(&url).await?;
    let t0 = Instant::now();
    let mut seq = start;
    let mut k = 0u32;
    while seq < end {
        sent.lock()
            .unwrap()
            .push((seq + per_tick - 1, Instant::now()));
        copy_f(&writer, seq, per_tick).await?;
        seq += per_tick;
        k += 1;
        let due = t0 + Duration::from_millis(10) * k;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
    Ok(t0.elapsed())
}

/// From an INSERT being sent to its effect on an aggregate view being visible to another
/// connection (an upper bound of commit-to-visible: it includes the commit itself).
pub async fn freshness() -> Result<()> {
    let seconds = arg("--seconds", 5);
    let server = Server::eddy()?;
    let c = connect(&server.url()).await?;
    c.batch_execute(
        "CREATE TABLE f (seq bigint PRIMARY KEY, g int, v int);
         CREATE MATERIALIZED VIEW fv AS SELECT g, count(*) AS n, max(seq) AS last FROM f GROUP BY g;
         CREATE MATERIALIZED VIEW fmax AS SELECT max(seq) AS last FROM f",
    )
    .await?;
    println!(
        "freshness: rows sent (one COPY per 10 ms) -> visible in an aggregate view from another connection, {seconds} s per rate"
    );
    let mut next = 0u64;
    for per_second in [1_000u64, 10_000, 100_000] {
        let per_tick = per_second / 100;
        let reader = connect(&server.url()).await?;
        let sent: Sent = Default::default();
        let start_seq = next;
        let end_seq = next + per_second * seconds;
        next = end_seq;
        let w = tokio::spawn(steady_writer(
            server.url(),
            start_seq as i64,
            end_seq as i64,
            per_tick as i64,
            sent.clone(),
        ));
        let mut lat_ms = vec![];
        let mut seen = 0usize;
        loop {
            let r = reader.query_one("SELECT last FROM fmax", &[]).await?;
            let last: Option<i64> = r.get(0);
            let now = Instant::now();
            let last = last.unwrap_or(-1);
            let s = sent.lock().unwrap();
            while seen < s.len() && s[seen].0 <= last {
                lat_ms.push((now - s[seen].1).as_secs_f64() * 1000.0);
                seen += 1;
            }
            let done = last as u64 + 1 >= end_seq;
            drop(s);
            if done {
                break;
            }
        }
        let took = w.await??;
        lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{:>7} rows/s target ({:>7.0} achieved): p50 {:.2} ms, p99 {:.2} ms over {} commits",
            per_second,
            rate(per_second * seconds, took),
            percentile(&lat_ms, 0.5),
            percentile(&lat_ms, 0.99),
            lat_ms.len()
        );
    }
    Ok(())
}

/// The same aggregate view kept fresh by Eddy (incrementally, in each commit) and by
/// PostgreSQL (REFRESH MATERIALIZED VIEW after each batch of changes).
pub async fn versus_refresh() -> Result<()> {
    let rows = arg("--rows", 1_000_000);
    let batches = arg("--batches", 20);
    let changes = arg("--changes", 1000);
    let view = "SELECT g2, count(*) AS n, sum(a) AS s, max(a) AS m FROM ev GROUP BY g2";
    println!(
        "incremental vs REFRESH: {rows}-row table, view `{view}`, {batches} batches of {changes} \
         updated rows, each batch followed by the view being current"
    );
    let mut per_batch = vec![];
    for server in [Server::eddy()?, Server::postgres()?] {
        let c = connect(&server.url()).await?;
        c.batch_execute(EVENTS).await?;
        copy_ev(&c, 0, rows, 100_000).await?;
        let pg = server.name != "eddy";
        c.batch_execute(&format!("CREATE MATERIALIZED VIEW v AS {view}"))
            .await?;
        let t = Instant::now();
        for b in 0..batches {
            // 1,000 rows spread over the table (and the view's groups)
            let ids: Vec<String> = (0..changes)
                .map(|k| ((b * changes + k) * 7919 % rows).to_string())
                .collect();
            c.batch_execute(&format!(
                "UPDATE ev SET a = a + 1 WHERE id IN ({})",
                ids.join(", ")
            ))
            .await?;
            if pg {
                c.batch_execute("REFRESH MATERIALIZED VIEW v").await?;
            }
        }
        let took = t.elapsed() / batches as u32;
        let n: i64 = c
            .query_one("SELECT CAST(sum(n) AS bigint) FROM v", &[])
            .await?
            .get(0);
        anyhow::ensure!(n as u64 == rows, "{} view holds {n} rows", server.name);
        println!(
            "{:>10}: {:.2} ms per batch (update + view current), peak RSS {:.0} MiB",
            server.name,
            took.as_secs_f64() * 1000.0,
            server.peak_rss_mib()
        );
        per_batch.push(took.as_secs_f64());
    }
    println!(
        "ratio: Eddy keeps the view current {:.1}x faster than UPDATE + REFRESH",
        per_batch[1] / per_batch[0]
    );
    Ok(())
}
