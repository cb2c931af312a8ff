//! The servers a benchmark compares: Eddy and PostgreSQL 15, each fresh, on loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

pub struct Server {
    pub name: &'static str,
    port: u16,
    user: &'static str,
    db: &'static str,
    dir: PathBuf,
    child: Option<Child>,
    pg_data: Option<PathBuf>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn temp(tag: &str) -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("eddy-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn pg_bin(name: &str) -> Result<PathBuf> {
    for dir in ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!("{name} not found: install PostgreSQL 15 server binaries")
}

fn as_postgres(args: &[String]) -> Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()?
        .stdout
        .starts_with(b"0");
    let out = if root {
        let cmd = args
            .iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ");
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", &cmd])
            .output()?
    } else {
        Command::new(&args[0]).args(&args[1..]).output()?
    };
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Server {
    pub fn eddy() -> Result<Server> {
        let bin = std::env::var("EDDY_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
                PathBuf::from(target).join("release/eddy")
            });
        let dir = temp("eddy")?;
        let port = free_port()?;
        let child = Command::new(&bin)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&dir)
            .env("EDDY_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        wait_port(port)?;
        Ok(Server {
            name: "eddy",
            port,
            user: "eddy",
            db: "eddy",
            dir,
            child: Some(child),
            pg_data: None,
        })
    }

    /// PostgreSQL with `synchronous_commit=off`: like Eddy, a commit survives a crash of the
    /// server process but is not fsynced before the client hears back.
    pub fn postgres() -> Result<Server> {
        let dir = temp("pg")?;
        let _ = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status();
        let data = dir.join("data");
        let s = |p: &Path| p.to_string_lossy().into_owned();
        as_postgres(&[
            s(&pg_bin("initdb")?),
            "-D".into(),
            s(&data),
            "-U".into(),
            "postgres".into(),
            "--auth=trust".into(),
            "-E".into(),
            "UTF8".into(),
            "--locale=C".into(),
        ])?;
        let port = free_port()?;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c shared_buffers=1GB -c max_wal_size=4GB",
            dir.display()
        );
        as_postgres(&[
            s(&pg_bin("pg_ctl")?),
            "-D".into(),
            s(&data),
            "-o".into(),
            opts,
            "-l".into(),
            s(&dir.join("log")),
            "-w".into(),
            "start".into(),
        ])?;
        wait_port(port)?;
        Ok(Server {
            name: "postgres",
            port,
            user: "postgres",
            db: "postgres",
            dir,
            child: None,
            pg_data: Some(data),
        })
    }

    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={} dbname={}",
            self.port, self.user, self.db
        )
    }

    fn pids(&self) -> Vec<u32> {
        match (&self.child, &self.pg_data) {
            (Some(c), _) => vec![c.id()],
            (None, Some(data)) => {
                // every backend process of this cluster: the postmaster and its children
                let Ok(pid) = std::fs::read_to_string(data.join("postmaster.pid")) else {
                    return vec![];
                };
                let Some(pm) = pid
                    .lines()
                    .next()
                    .and_then(|l| l.trim().parse::<u32>().ok())
                else {
                    return vec![];
                };
                let mut out = vec![pm];
                if let Ok(kids) = std::fs::read_to_string(format!("/proc/{pm}/task/{pm}/children"))
                {
                    out.extend(
                        kids.split_whitespace()
                            .filter_map(|p| p.parse::<u32>().ok()),
                    );
                }
                out
            }
            _ => vec![],
        }
    }

    /// CPU seconds (user + system) the server's processes have used so far.
    pub fn cpu_seconds(&self) -> f64 {
        let ticks = 100.0; // USER_HZ on Linux
        self.pids()
            .iter()
            .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
            .filter_map(|s| {
                // fields after the parenthesized command name; utime and stime are 14 and 15
                let rest = &s[s.rfind(')')? + 2..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
            })
            .sum::<f64>()
            / ticks
    }

    /// Peak resident memory (VmHWM): Eddy's one process; for PostgreSQL the sum over its
    /// processes, which overcounts shared buffers mapped by several of them.
    pub fn peak_rss_mib(&self) -> f64 {
        self.pids()
            .iter()
            .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
            .filter_map(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .sum::<f64>()
            / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(data) = &self.pg_data
            && let Ok(pg_ctl) = pg_bin("pg_ctl")
        {
            let _ = as_postgres(&[
                pg_ctl.to_string_lossy().into_owned(),
                "-D".into(),
                data.to_string_lossy().into_owned(),
                "-m".into(),
                "immediate".into(),
                "stop".into(),
            ]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_port(port: u16) -> Result<()> {
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    bail!("server on port {port} did not come up")
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connect {url}"))?;
    tokio::spawn(conn);
    Ok(c)
}

/// Runs pgbench with a point-read script; returns (queries/s, p50 ms, p99 ms) from its
/// per-transaction log.
pub fn pgbench_point_reads(
    server: &Server,
    rows: u64,
    clients: u64,
    seconds: u64,
) -> Result<(f64, f64, f64)> {
    let dir = temp(&format!("pgbench-{}", server.name))?;
    let script = dir.join("point.sql");
    std::fs::write(
        &script,
        format!(
            "\\set id random(0, {})\nSELECT * FROM bench WHERE id = :id;\n",
            rows - 1
        ),
    )?;
    let out = Command::new(pg_bin("pgbench")?)
        .current_dir(&dir)
        .args([
            "-n",
            "-M",
            "prepared",
            "-h",
            "127.0.0.1",
            "-p",
            &server.port.to_string(),
            "-U",
            server.user,
        ])
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-l",
            "-f",
        ])
        .arg(&script)
        .arg(server.db)
        .output()?;
    if !out.status.success() {
        bail!(
            "pgbench failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut lat_us = vec![];
    for e in std::fs::read_dir(&dir)?.flatten() {
        if e.file_name().to_string_lossy().starts_with("pgbench_log") {
            for line in std::fs::read_to_string(e.path())?.lines() {
                if let Some(v) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<f64>().ok())
                {
                    lat_us.push(v);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    anyhow::ensure!(!lat_us.is_empty(), "pgbench logged no transactions");
    lat_us.sort_by(f64::total_cmp);
    let pct = |p: f64| lat_us[((lat_us.len() as f64 * p) as usize).min(lat_us.len() - 1)] / 1000.0;
    Ok((lat_us.len() as f64 / seconds as f64, pct(0.50), pct(0.99)))
}
