//! The `eddy` server binary: parses flags and environment, opens the data directory and serves
//! the PostgreSQL protocol until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use eddy_server::{Config, Engine, EngineBackend};

const USAGE: &str = "usage: eddy [--listen ADDR:PORT] [--data-dir DIR]

  --listen    address to serve the PostgreSQL protocol on (env EDDY_LISTEN, default 127.0.0.1:5488)
  --data-dir  RocksDB data directory (env EDDY_DATA_DIR, default ./eddy-data)
  EDDY_LOG    log filter, e.g. info or eddy=debug (default info)";

fn config() -> anyhow::Result<Config> {
    let mut listen = std::env::var("EDDY_LISTEN").unwrap_or_else(|_| "127.0.0.1:5488".into());
    let mut data_dir = std::env::var("EDDY_DATA_DIR").unwrap_or_else(|_| "./eddy-data".into());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--data-dir" => data_dir = value()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    let listen: SocketAddr = listen
        .parse()
        .with_context(|| format!("bad --listen address {listen}"))?;
    Ok(Config {
        listen,
        data_dir: PathBuf::from(data_dir),
    })
}

fn main() -> anyhow::Result<()> {
    let filter = std::env::var("EDDY_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .init();
    let config = config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("eddy-conn")
        .build()?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let engine = Engine::open(&config).map_err(|e| anyhow::anyhow!("{e}"))?;
    eddy_server::recover_views(&engine)
        .await
        .map_err(|e| anyhow::anyhow!("{e}: {}", e.detail.clone().unwrap_or_default()))?;
    engine.spawn_changelog_pruning();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("could not listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "eddy is ready for connections");
    println!("eddy listening on {addr}");
    let backend = Arc::new(EngineBackend(engine.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = eddy_pgwire::serve(listener, backend) => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    engine.shutdown().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}
