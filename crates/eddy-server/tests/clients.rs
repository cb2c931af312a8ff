//! Real clients against a real `eddy` process: Python drivers (psycopg2, psycopg 3, asyncpg,
//! pg8000), SQLAlchemy's reflection, pgcli, dbt-postgres, node-postgres, postgres.js, pgjdbc
//! and psql. Each client's test lives in `clients/` in its own language, creates a table, a
//! view and a materialized view on a fresh server, writes with parameters and asserts on the
//! values and types it reads back. This file runs them, each against its own server, and
//! writes what they checked to `docs/COMPATIBILITY.md`.
//!
//! `scripts/clients-setup` installs the clients (the README's test command runs it and sets
//! `EDDY_REQUIRE_CLIENTS=1`, which turns a missing client from a skip into a failure).

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use server::EddyServer;

struct Client {
    /// Where the client comes from, for the compatibility table.
    source: &'static str,
    /// The program and its arguments, relative to `clients/`.
    run: &'static [&'static str],
}

const VENV_PYTHON: &str = ".venv/bin/python";
const PGJDBC: &str = "/usr/share/java/postgresql.jar";

const CLIENTS: &[Client] = &[
    Client {
        source: "psql (PostgreSQL 15 client, Debian)",
        run: &["bash", "psql/test_psql.sh"],
    },
    Client {
        source: "psycopg2-binary (PyPI)",
        run: &[VENV_PYTHON, "python/test_psycopg2.py"],
    },
    Client {
        source: "psycopg 3 (PyPI)",
        run: &[VENV_PYTHON, "python/test_psycopg3.py"],
    },
    Client {
        source: "asyncpg (PyPI)",
        run: &[VENV_PYTHON, "python/test_asyncpg.py"],
    },
    Client {
        source: "pg8000 (PyPI)",
        run: &[VENV_PYTHON, "python/test_pg8000.py"],
    },
    Client {
        source: "SQLAlchemy 2 with psycopg2 (PyPI)",
        run: &[VENV_PYTHON, "python/test_sqlalchemy.py"],
    },
    Client {
        source: "pgcli (PyPI)",
        run: &[VENV_PYTHON, "python/test_pgcli.py"],
    },
    Client {
        source: "dbt-core with dbt-postgres (PyPI)",
        run: &[VENV_PYTHON, "python/test_dbt.py"],
    },
    Client {
        source: "node-postgres `pg` (npm)",
        run: &["node", "node/test_pg.js"],
    },
    Client {
        source: "postgres.js `postgres` (npm)",
        run: &["node", "node/test_postgresjs.js"],
    },
    Client {
        source: "pgjdbc (Debian libpostgresql-jdbc-java)",
        run: &["java", "-cp", PGJDBC, "java/EddyJdbcTest.java"],
    },
];

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients")
}

/// What is missing to run the clients, if anything.
fn missing() -> Vec<String> {
    let dir = clients_dir();
    let mut out = vec![];
    for (path, what) in [
        (dir.join(VENV_PYTHON), "the Python clients (clients/.venv)"),
        (
            dir.join("node/node_modules/pg"),
            "node-postgres (clients/node)",
        ),
        (
            dir.join("node/node_modules/postgres"),
            "postgres.js (clients/node)",
        ),
        (PathBuf::from(PGJDBC), "pgjdbc"),
    ] {
        if !path.exists() {
            out.push(what.to_string());
        }
    }
    for program in ["node", "java", "psql"] {
        if Command::new(program).arg("--version").output().is_err() {
            out.push(program.to_string());
        }
    }
    out
}

struct Outcome {
    client: String,
    version: String,
    source: &'static str,
    tested: Vec<String>,
    passed: bool,
    log: String,
    seconds: f64,
}

fn run(client: &Client) -> Outcome {
    let eddy = EddyServer::start();
    let started = Instant::now();
    let out = Command::new(client.run[0])
        .args(&client.run[1..])
        .current_dir(clients_dir())
        .env("EDDY_HOST", "127.0.0.1")
        .env("EDDY_PORT", eddy.port.to_string())
        .env("EDDY_USER", "eddy")
        .env("EDDY_DB", "eddy")
        .env("PGTZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("{:?} runs: {e}", client.run));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let log = stdout.clone() + &String::from_utf8_lossy(&out.stderr);
    let mut client_name = client.run[client.run.len() - 1].to_string();
    let mut version = String::new();
    let mut tested = vec![];
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("version ") {
            let (name, v) = rest.split_once(' ').unwrap_or((rest, ""));
            client_name = name.to_string();
            version = v.to_string();
        } else if let Some(what) = line.strip_prefix("tested ") {
            tested.push(what.to_string());
        }
    }
    Outcome {
        client: client_name,
        version,
        source: client.source,
        tested,
        passed: out.status.success() && stdout.lines().any(|l| l == "ok"),
        log,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn markdown(outcomes: &[Outcome]) -> String {
    let mut md = String::from(
        "# Client compatibility\n\n\
         Generated by `crates/eddy-server/tests/clients.rs` from its last run (the README's test \
         command runs it): each client's own test in `clients/` ran unchanged against a fresh \
         Eddy server and asserted on the values and types it read back. psql's describe \
         commands are also compared byte for byte with PostgreSQL 15's (`tests/psql.rs`).\n\n\
         | Client | Version | From | What was tested | Status |\n\
         |---|---|---|---|---|\n",
    );
    for o in outcomes {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            o.client,
            o.version,
            o.source,
            o.tested.join("; ").replace('|', "\\|"),
            if o.passed { "passes" } else { "FAILS" }
        ));
    }
    md
}

#[test]
fn real_clients_work_unchanged() {
    let missing = missing();
    if !missing.is_empty() {
        let msg = format!(
            "missing {}: run scripts/clients-setup (the README's test command does)",
            missing.join(", ")
        );
        assert!(std::env::var("EDDY_REQUIRE_CLIENTS").is_err(), "{msg}");
        eprintln!("{msg}; skipped");
        return;
    }
    let outcomes: Vec<Outcome> = CLIENTS.iter().map(run).collect();
    for o in &outcomes {
        eprintln!(
            "{} {}: {} in {:.1}s",
            o.client,
            o.version,
            if o.passed { "passes" } else { "FAILS" },
            o.seconds
        );
    }
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/COMPATIBILITY.md");
    std::fs::write(&doc, markdown(&outcomes)).expect("write docs/COMPATIBILITY.md");
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("--- {} ({:?})\n{}", o.client, o.source, o.log))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
