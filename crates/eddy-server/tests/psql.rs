//! psql against Eddy, checked against psql against PostgreSQL 15: the same objects are created
//! in both, and psql's describe commands (which run its own catalog queries) must print the
//! same thing. Commands whose output names the server's own setup (`\l`, `\du`, sizes) must at
//! least run without error.

#[path = "support/server.rs"]
mod server;

use std::process::Command;

use server::{EddyServer, PgServer, connect};

const SETUP: &[&str] = &[
    "CREATE TABLE items (id int PRIMARY KEY, name varchar(20) NOT NULL, price numeric(10,2), \
     qty bigint DEFAULT 0, tags text[], added timestamptz)",
    "CREATE TABLE pairs (a int, b text, PRIMARY KEY (b, a))",
    "CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 10",
    "CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n, max(qty) AS q FROM items",
];

/// Commands whose output must be PostgreSQL's.
const SAME: &[&str] = &[
    "\\dt",
    "\\dv",
    "\\dm",
    "\\di",
    "\\dn",
    "\\d",
    "\\d items",
    "\\d pairs",
    "\\d cheap",
    "\\d totals",
    "\\d items_pkey",
    "\\df",
    "\\dfS abs",
    "\\daS count",
    "\\d+ items",
];

/// Commands that must run without error.
const RUNS: &[&str] = &["\\l", "\\du", "\\d+ totals", "\\dt+", "\\x on"];

fn psql(port: u16, user: &str, db: &str, command: &str) -> (bool, String) {
    let out = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            db,
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-c", command])
        .env("PGTZ", "UTC")
        .output()
        .expect("psql runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && !text.contains("ERROR"), text)
}

fn psql_available() -> bool {
    Command::new("psql").arg("--version").output().is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_commands_print_what_postgres_prints() {
    if !psql_available() || !server::postgres_available() {
        eprintln!("psql or PostgreSQL missing: skipped");
        return;
    }
    let eddy = EddyServer::start();
    let pg = PgServer::start();
    // On PostgreSQL the objects belong to a role named like Eddy's one role, so owners match.
    let admin = connect(&pg.conn_str("postgres")).await;
    for sql in [
        "CREATE ROLE eddy SUPERUSER LOGIN",
        "CREATE DATABASE eddy OWNER eddy",
    ] {
        admin.simple_query(sql).await.unwrap();
    }
    let pg_conn = format!("host=127.0.0.1 port={} user=eddy dbname=eddy", pg.port);
    let on_pg = connect(&pg_conn).await;
    let on_eddy = connect(&eddy.conn_str()).await;
    for sql in SETUP {
        on_pg.batch_execute(sql).await.unwrap();
        on_eddy.batch_execute(sql).await.unwrap();
    }
    let mut differences = vec![];
    for c in SAME {
        let (ok_e, from_eddy) = psql(eddy.port, "eddy", "eddy", c);
        let (ok_p, from_pg) = psql(pg.port, "eddy", "eddy", c);
        assert!(ok_p, "{c} on PostgreSQL: {from_pg}");
        if !ok_e || from_eddy != from_pg {
            differences.push(format!(
                "{c}\n--- PostgreSQL\n{from_pg}--- Eddy\n{from_eddy}"
            ));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    for c in RUNS {
        let (ok, text) = psql(eddy.port, "eddy", "eddy", c);
        assert!(ok, "{c}: {text}");
    }
}
