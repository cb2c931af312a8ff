//! Test servers: a real `eddy` process on a fresh data directory, and a real PostgreSQL 15
//! started from the installed binaries, both on loopback ports chosen by the OS.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh, unique directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("eddy-test-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

pub struct EddyServer {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Set on a server replaced by its own restart: the data directory lives on.
    keep_data: bool,
}

impl EddyServer {
    pub fn start() -> EddyServer {
        Self::start_in(&temp_dir("eddy"), 0)
    }

    /// Starts with extra environment variables (settings such as the changelog retention).
    #[allow(dead_code)]
    pub fn start_with_env(env: &[(&str, &str)]) -> EddyServer {
        Self::spawn(&temp_dir("eddy"), 0, env)
    }

    /// Starts on `data_dir`, on `port` (0: any free port).
    pub fn start_in(data_dir: &Path, port: u16) -> EddyServer {
        Self::spawn(data_dir, port, &[])
    }

    fn spawn(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> EddyServer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .envs(env.iter().copied())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .env(
                "EDDY_LOG",
                std::env::var("EDDY_LOG").unwrap_or_else(|_| "warn".into()),
            )
            // Tests spread every dataflow step of two or more keys over the workers, so the
            // parallel path is what the oracles check (production waits for 512).
            .env(
                "EDDY_DATAFLOW_PARALLEL_MIN",
                std::env::var("EDDY_DATAFLOW_PARALLEL_MIN").unwrap_or_else(|_| "2".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn eddy");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read eddy's ready line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("eddy did not start: {line:?}"));
        EddyServer {
            child: Some(child),
            port,
            data_dir: data_dir.to_path_buf(),
            keep_data: false,
        }
    }

    pub fn conn_str(&self) -> String {
        format!("host=127.0.0.1 port={} user=eddy dbname=eddy", self.port)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.keep_data = true;
        let dir = self.data_dir.clone();
        let old = std::mem::replace(self, EddyServer::start_in(&dir, 0));
        drop(old);
    }
}

impl Drop for EddyServer {
    fn drop(&mut self) {
        self.kill();
        if !self.keep_data && std::env::var_os("EDDY_KEEP_TEST_DATA").is_none() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

pub fn postgres_available() -> bool {
    pg_bin("initdb").is_some() && pg_bin("pg_ctl").is_some()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool as the `postgres` user when we are root (initdb refuses root).
fn pg_run(args: &[&str]) -> std::process::Output {
    let out = if is_root() {
        let cmd = args
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", &cmd])
            .output()
    } else {
        Command::new(args[0]).args(&args[1..]).output()
    };
    out.expect("run a PostgreSQL tool")
}

pub struct PgServer {
    dir: PathBuf,
    pub port: u16,
}

impl PgServer {
    pub fn start() -> PgServer {
        let dir = temp_dir("pg");
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres", dir.to_str().unwrap()])
                .status();
            let _ = Command::new("chmod")
                .args(["755", dir.to_str().unwrap()])
                .status();
        }
        let data = dir.join("data");
        let initdb = pg_bin("initdb").expect("initdb");
        let out = pg_run(&[
            initdb.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC",
            dir.display()
        );
        let pg_ctl = pg_bin("pg_ctl").expect("pg_ctl");
        let log = dir.join("log");
        let out = pg_run(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "PostgreSQL did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        PgServer { dir, port }
    }

    pub fn conn_str(&self, db: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(pg_ctl) = pg_bin("pg_ctl") {
            let data = self.dir.join("data");
            pg_run(&[
                pg_ctl.to_str().unwrap(),
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "stop",
            ]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Connects with tokio-postgres, driving the connection on the current runtime.
pub async fn connect(conn_str: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conn_str, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {conn_str}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}
