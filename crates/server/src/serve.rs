//! The server's life: listen first, load the model in the background (503 meanwhile), serve,
//! and on a shutdown signal drain: new inference requests get 503, the engine lets running
//! requests finish until `drain_timeout` (then aborts them), open connections are waited for,
//! the engine thread is joined.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::config::ServerConfig;
use crate::error::Error;
use crate::router::router;
use crate::state::{AppState, LoadedModel};

/// Why the server stops.
enum Stop {
    Signal,
    LoadFailed(String),
}

/// Binds `host:port` and serves on a runtime of its own until SIGTERM/SIGINT. `load` runs on
/// a blocking thread after the socket is bound. A failed load stops the server with
/// [`Error::Load`].
pub fn run<F>(cfg: ServerConfig, load: F) -> Result<(), Error>
where
    F: FnOnce() -> Result<LoadedModel, String> + Send + 'static,
{
    // HTTP work is light next to the engine's: two workers keep the cores for the kernels.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("inferno-http")
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let result = rt.block_on(async {
        let addr = format!("{}:{}", cfg.host, cfg.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        serve_on(listener, cfg, load, shutdown_signal()).await
    });
    // A load still running (a signal came first) is not waited for.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Serves on `listener` until `shutdown` resolves (or the load fails), then drains.
pub async fn serve_on<F, S>(
    listener: TcpListener,
    cfg: ServerConfig,
    load: F,
    shutdown: S,
) -> Result<(), Error>
where
    F: FnOnce() -> Result<LoadedModel, String> + Send + 'static,
    S: Future<Output = ()> + Send + 'static,
{
    let drain_timeout = cfg.drain_timeout;
    let state = AppState::new(cfg);
    match listener.local_addr() {
        Ok(a) => tracing::info!(
            "listening on http://{a} (model '{}' loading; /health is up, /ready answers 503 until it is loaded){}",
            state.config().model_name,
            if state.keys().is_enabled() { ", API key required" } else { "" }
        ),
        Err(e) => tracing::warn!("listening (address unknown: {e})"),
    }

    let (stop_tx, mut stop_rx) = mpsc::channel::<Stop>(2);
    let loader_state = state.clone();
    let load_stop = stop_tx.clone();
    tokio::task::spawn_blocking(move || match load() {
        Ok(m) => {
            if let Some(model) = loader_state.set_ready(m) {
                let s = &model.engine.config().scheduler;
                tracing::info!(
                    "model ready: context {} tokens per request; KV pool {} blocks × {} = {} tokens; \
                     max {} running, {} waiting, {} batched tokens per step",
                    model.max_model_len,
                    s.num_blocks,
                    s.block_size,
                    s.num_blocks * s.block_size,
                    s.max_running,
                    s.max_waiting,
                    s.max_batched_tokens
                );
            }
        }
        Err(msg) => {
            tracing::error!("loading the model failed: {msg}");
            loader_state.set_failed(msg.clone());
            let _ = load_stop.try_send(Stop::LoadFailed(msg));
        }
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(Stop::Signal).await;
    });

    let (grace_tx, grace_rx) = oneshot::channel::<()>();
    let app = router(state.clone());
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = grace_rx.await;
            })
            .await
    });

    let stop = stop_rx.recv().await.unwrap_or(Stop::Signal);
    tracing::info!("shutting down: draining for up to {drain_timeout:?}");
    let model = state.begin_shutdown();
    if let Some(m) = &model {
        m.engine.shutdown(std::time::Instant::now() + drain_timeout);
    }
    let _ = grace_tx.send(());
    // Streams end when the engine finishes or aborts their requests; give them the drain time
    // plus a margin to be written out.
    match tokio::time::timeout(drain_timeout + Duration::from_secs(5), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(Error::Serve(e)),
        Ok(Err(e)) => tracing::warn!("the HTTP server task failed: {e}"),
        Err(_) => tracing::warn!("connections still open after the drain; closing them"),
    }
    if let Some(m) = model {
        let engine = m.engine.clone();
        let joined = tokio::task::spawn_blocking(move || engine.join());
        if tokio::time::timeout(Duration::from_secs(5), joined)
            .await
            .is_err()
        {
            tracing::warn!("the engine thread did not exit in time");
        }
    }
    tracing::info!("stopped");
    match stop {
        Stop::Signal => Ok(()),
        Stop::LoadFailed(msg) => Err(Error::Load(msg)),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
