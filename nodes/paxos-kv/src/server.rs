//! Wiring: open the storage, start the peer transport and the event loop, bind the listen
//! address, serve HTTP, print `listening on ADDR` once serving. Errors name what failed.

use crate::config::NodeConfig;
use crate::http::{router, AppState};
use crate::node::EventLoop;
use crate::storage::{Storage, StorageError};
use crate::transport::Transport;
use std::sync::Arc;
use std::time::Duration;

/// Why the node stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data dir could not be opened, read or written.
    #[error("data dir {dir}: {source}")]
    Storage { dir: String, source: StorageError },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
    /// The event loop thread died.
    #[error("event loop: {0}")]
    Loop(String),
}

/// Run the node until it fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServeError> {
    let dir = cfg.data_dir.display().to_string();
    let storage_err = |source| ServeError::Storage {
        dir: dir.clone(),
        source,
    };
    let (storage, restored) = Storage::open(&cfg.data_dir, cfg.fsync).map_err(storage_err)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let transport = Transport::start(&cfg.peers);
    let (event_loop, handle) = EventLoop::new(&cfg, storage, restored, transport);
    let loop_task = tokio::task::spawn_blocking(move || event_loop.run());
    let state = Arc::new(AppState {
        node: handle,
        id: cfg.id,
        listen: cfg.listen,
        peers: cfg.peers.clone(),
        request_timeout: Duration::from_millis(cfg.request_timeout_ms),
    });
    let app = router(state);
    let line = format!("listening on {}", cfg.listen);
    println!("{line}");
    eprintln!("{line}");
    tokio::select! {
        r = axum::serve(listener, app) => r.map_err(ServeError::Http),
        r = loop_task => match r {
            Ok(Ok(())) => Err(ServeError::Loop("stopped".into())),
            Ok(Err(e)) => Err(storage_err(e)),
            Err(e) => Err(ServeError::Loop(e.to_string())),
        },
    }
}
