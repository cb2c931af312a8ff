//! Runs every `sql-tests/**/*.slt` file over the PostgreSQL protocol against a real `eddy`
//! process, and again against a real PostgreSQL 15 to prove the expected output is what
//! PostgreSQL gives. A file whose first line is `# eddy-only` is skipped on PostgreSQL.
//!
//! Views get an oracle for free: after every statement on Eddy, each materialized view the file
//! created must hold exactly what its query returns as a batch SELECT (or fail the same way).
//! On PostgreSQL, `CREATE MATERIALIZED VIEW` runs as `CREATE VIEW`, so the expected rows of a
//! view are PostgreSQL's answer to its query.
//!
//! `EDDY_SLT_FILTER=substring` runs matching files only; `EDDY_SLT_COMPLETE=1` rewrites the
//! expected output from Eddy's answers (review the diff against the PostgreSQL run).

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::SimpleQueryMessage;

#[derive(Debug)]
struct SltError {
    message: String,
    code: Option<String>,
}

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SltError {}

impl From<tokio_postgres::Error> for SltError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => SltError {
                message: format!("{}: {}", db.severity(), db.message()),
                code: Some(db.code().code().to_string()),
            },
            None => SltError {
                message: e.to_string(),
                code: None,
            },
        }
    }
}

/// Materialized views a file created (name, defining query), for the oracle.
type Views = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

struct Conn {
    client: tokio_postgres::Client,
    /// `Some` on Eddy: after every statement, each view must equal its query run as a batch
    /// SELECT. On PostgreSQL (`None`) a materialized view is created as a plain view, so its
    /// expected rows are PostgreSQL's answer to the query itself.
    views: Option<Views>,
}

impl Conn {
    async fn rows(&self, sql: &str) -> Result<Vec<String>, SltError> {
        let mut out = vec![];
        for m in self.client.simple_query(sql).await? {
            if let SimpleQueryMessage::Row(r) = m {
                let cells: Vec<String> = (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect();
                out.push(cells.join("|"));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The oracle: every live view equals its query, or both fail with the same SQLSTATE.
    async fn check_views(&self, views: &Views) -> Result<(), SltError> {
        let list = views.lock().unwrap().clone();
        for (name, query) in list {
            let got = self.rows(&format!("SELECT * FROM {name}")).await;
            if let Err(e) = &got
                && e.code.as_deref() == Some("42P01")
            {
                continue; // dropped
            }
            let want = self.rows(&query).await;
            let same = match (&got, &want) {
                (Ok(g), Ok(w)) => g == w,
                (Err(g), Err(w)) => g.code == w.code,
                _ => false,
            };
            if !same {
                return Err(SltError {
                    message: format!(
                        "oracle: materialized view {name} differs from its query\n  view:  \
                         {got:?}\n  query: {want:?}"
                    ),
                    code: Some("ORACLE".into()),
                });
            }
        }
        Ok(())
    }
}

/// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [(cols)] AS query` -> (name, query).
fn parse_create_view(sql: &str) -> Option<(String, String)> {
    let lower = sql.to_lowercase();
    let rest = lower
        .trim_start()
        .strip_prefix("create materialized view")?;
    let offset = sql.len() - rest.len();
    let rest_orig = &sql[offset..];
    let mut r = rest_orig.trim_start();
    if r.to_lowercase().starts_with("if not exists") {
        r = r["if not exists".len()..].trim_start();
    }
    let name_end = r.find(|c: char| c.is_whitespace() || c == '(')?;
    let name = r[..name_end].to_string();
    let after = r[name_end..].trim_start();
    if after.starts_with('(') {
        return None; // renamed columns: the oracle compares positionally, but keep it simple
    }
    let query = after
        .strip_prefix("AS")
        .or_else(|| after.strip_prefix("as"))?;
    Some((name, query.trim().trim_end_matches(';').to_string()))
}

/// The statement PostgreSQL runs for an Eddy statement in a views test.
fn for_postgres(sql: &str) -> String {
    let t = sql.trim_start();
    let lower = t.to_lowercase();
    for (eddy, pg) in [
        ("create materialized view", "CREATE VIEW"),
        ("drop materialized view", "DROP VIEW"),
    ] {
        if lower.starts_with(eddy) {
            return format!("{pg}{}", &t[eddy.len()..]);
        }
    }
    sql.to_string()
}

#[async_trait::async_trait]
impl AsyncDB for Conn {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let out = self.run_one(sql).await?;
        if let Some(views) = &self.views {
            if let Some(v) = parse_create_view(sql) {
                let mut list = views.lock().unwrap();
                if !list.iter().any(|(n, _)| *n == v.0) {
                    list.push(v);
                }
            }
            if !sql.trim_start().to_lowercase().starts_with("select") {
                self.check_views(views).await?;
            }
        }
        Ok(out)
    }

    async fn shutdown(&mut self) {}

    // Also a label for `onlyif`/`skipif`, so it must tell the two engines apart.
    fn engine_name(&self) -> &str {
        match self.views {
            Some(_) => "eddy",
            None => "postgres",
        }
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await
    }

    fn error_sql_state(err: &SltError) -> Option<String> {
        err.code.clone()
    }
}

impl Conn {
    async fn run_one(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let sql = match self.views {
            Some(_) => sql.to_string(),
            None => for_postgres(sql),
        };
        let msgs = self.client.simple_query(&sql).await?;
        let mut rows = vec![];
        let mut cols = None;
        let mut count = 0;
        for m in msgs {
            match m {
                SimpleQueryMessage::RowDescription(d) => cols = Some(d.len()),
                SimpleQueryMessage::Row(r) => rows.push(
                    (0..r.len())
                        .map(|i| match r.get(i) {
                            None => "NULL".to_string(),
                            Some("") => "(empty)".to_string(),
                            Some(s) => s.to_string(),
                        })
                        .collect(),
                ),
                SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        match cols {
            Some(n) => Ok(DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            }),
            None => Ok(DBOutput::StatementComplete(count)),
        }
    }
}

fn slt_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql-tests");
    let mut out = vec![];
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "slt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn name_of(p: &Path) -> String {
    let s = p.to_string_lossy();
    s.split("sql-tests/")
        .nth(1)
        .unwrap_or(&s)
        .trim_end_matches(".slt")
        .to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn run_on_eddy(file: &Path) -> Result<(), Failed> {
    let server = server::EddyServer::start();
    let conn_str = server.conn_str();
    let views = Views::default();
    runtime().block_on(async move {
        let mut runner = sqllogictest::Runner::new(|| {
            let c = conn_str.clone();
            let views = views.clone();
            async move {
                Ok(Conn {
                    client: server::connect(&c).await,
                    views: Some(views),
                })
            }
        });
        runner.add_label("eddy");
        if std::env::var_os("EDDY_SLT_COMPLETE").is_some() {
            let col_sep = " ";
            runner
                .update_test_file(
                    file,
                    col_sep,
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .map_err(|e| Failed::from(e.to_string()))?;
            return Ok(());
        }
        runner
            .run_file_async(file)
            .await
            .map_err(|e| Failed::from(e.display(true).to_string()))
    })?;
    drop(server);
    Ok(())
}

static PG_PORT: OnceLock<Option<u16>> = OnceLock::new();
static PG_DB: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn run_on_postgres(file: &Path) -> Result<(), Failed> {
    let port = PG_PORT
        .get()
        .copied()
        .flatten()
        .ok_or("PostgreSQL is not available")?;
    let db = format!(
        "slt_{}",
        PG_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let conn = |db: &str| format!("host=127.0.0.1 port={port} user=postgres dbname={db}");
    let admin = conn("postgres");
    let conn_str = conn(&db);
    runtime().block_on(async move {
        let c = server::connect(&admin).await;
        c.simple_query(&format!("CREATE DATABASE {db}"))
            .await
            .map_err(|e| Failed::from(e.to_string()))?;
        let mut runner = sqllogictest::Runner::new(|| {
            let c = conn_str.clone();
            async move {
                Ok(Conn {
                    client: server::connect(&c).await,
                    views: None,
                })
            }
        });
        runner.add_label("postgres");
        runner
            .run_file_async(file)
            .await
            .map_err(|e| Failed::from(e.display(true).to_string()))
    })
}

fn main() {
    let args = Arguments::from_args();
    let filter = std::env::var("EDDY_SLT_FILTER").ok();
    let files: Vec<PathBuf> = slt_files()
        .into_iter()
        .filter(|f| {
            filter
                .as_ref()
                .is_none_or(|s| f.to_string_lossy().contains(s.as_str()))
        })
        .collect();
    let listing = args.list;
    let mut trials = vec![];
    for f in &files {
        let name = name_of(f);
        let file = f.clone();
        trials.push(Trial::test(format!("eddy::{name}"), move || {
            run_on_eddy(&file)
        }));
        let eddy_only = std::fs::read_to_string(f)
            .map(|s| s.lines().next().is_some_and(|l| l.trim() == "# eddy-only"))
            .unwrap_or(false);
        let file = f.clone();
        trials.push(
            Trial::test(format!("postgres::{name}"), move || run_on_postgres(&file))
                .with_ignored_flag(eddy_only || !server::postgres_available()),
        );
    }
    let wants_pg = !listing
        && server::postgres_available()
        && args
            .filter
            .as_deref()
            .is_none_or(|f| f.contains("postgres") || !f.contains("eddy::"));
    let pg = wants_pg.then(server::PgServer::start);
    PG_PORT.get_or_init(|| pg.as_ref().map(|p| p.port));
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` runs no destructors: stop PostgreSQL first.
    drop(pg);
    conclusion.exit();
}
