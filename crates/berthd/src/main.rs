#![recursion_limit = "256"] // the json! literal of Docker's /info is deep
//! berthd: the berth daemon. Serves the Docker Engine API on a unix socket over the engine.

mod api;
mod config;

use anyhow::{Context, Result};
use berth_engine::{Engine, EngineConfig};
use clap::Parser;

#[tokio::main]
async fn main() -> Result<()> {
    let config = config::Config::load(config::Flags::parse())?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_level))
        .with_writer(std::io::stderr)
        .init();
    let engine = Engine::open(EngineConfig {
        data_root: config.data_root.clone(),
        exec_root: config.exec_root.clone(),
        shim_binary: config.shim_binary.clone(),
        cgroup_parent: config.cgroup_parent.clone(),
        plugin_dirs: config.plugin_dirs.clone(),
        registry: config.registry.clone(),
        network: config.network.clone(),
        default_log: config.default_log.clone(),
    })
    .await
    .context("starting the engine")?;
    let listener = api::bind(&config.socket)?;
    tracing::info!(socket = %config.socket.display(), data_root = %config.data_root.display(), "berthd is ready");
    let serve = api::serve(listener, engine);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Containers keep running when berthd stops: their shims own them (live restore).
    tokio::select! {
        r = serve => r?,
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        _ = term.recv() => tracing::info!("terminated; stopping"),
    }
    let _ = std::fs::remove_file(&config.socket);
    Ok(())
}
