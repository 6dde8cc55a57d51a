//! Wiring of one node: open and recover the data dir, build the core, bind the listen
//! address, start the peer transport and the event loop, and serve HTTP until the loop
//! stops. Errors say exactly what went wrong (port in use, corrupt data dir, ...), and the
//! `raft-node` binary turns them into a message and a non-zero exit.

use crate::config::NodeConfig;
use crate::http::{router, AppState};
use crate::node::{start, LoopConfig, NodeError};
use crate::storage::{Storage, StorageError, StorageOptions};
use crate::transport::HttpTransport;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data dir could not be opened or recovered.
    #[error("cannot recover data dir {dir}: {source}")]
    Storage {
        /// The data dir.
        dir: String,
        /// What failed.
        source: StorageError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// What failed (e.g. address in use).
        source: std::io::Error,
    },
    /// The event loop failed.
    #[error("node stopped: {0}")]
    Node(#[from] NodeError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Run a node until its event loop stops or HTTP serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    let storage_err = |source| ServerError::Storage {
        dir: cfg.data_dir.display().to_string(),
        source,
    };
    let (storage, mut restore, info) = Storage::open(
        &cfg.data_dir,
        StorageOptions {
            fsync: cfg.fsync,
            persist_hard_state: !cfg.bugs.no_persist_vote,
            ..Default::default()
        },
    )
    .map_err(storage_err)?;
    if let Some((file, offset, reason)) = &info.truncated_tail {
        tracing::warn!(
            "recovered WAL: cut a torn tail of {} at offset {offset} ({reason})",
            file.display()
        );
    }
    if cfg.bugs.no_persist_vote {
        // BUG no-persist-vote: the term and vote were never written; restart from the
        // newest term the log shows, with no memory of a vote cast in it.
        let last_term = restore
            .entries
            .last()
            .map(|e| e.term)
            .or(restore.snapshot.as_ref().map(|s| s.meta.term))
            .unwrap_or(0);
        restore.hard_state.term = restore.hard_state.term.max(last_term);
        restore.hard_state.vote = None;
    }
    tracing::info!(
        entries = restore.entries.len(),
        snapshot = restore.snapshot.as_ref().map_or(0, |s| s.meta.index),
        term = restore.hard_state.term,
        "recovered state from {}",
        cfg.data_dir.display()
    );
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Other(format!("local_addr: {e}")))?;
    let transport = HttpTransport::spawn(&cfg.peers)
        .map_err(|e| ServerError::Other(format!("cannot build the peer HTTP client: {e}")))?;
    let mut voters: Vec<u64> = cfg.peers.keys().copied().collect();
    voters.push(cfg.id);
    voters.sort_unstable();
    let lc = LoopConfig {
        id: cfg.id,
        voters,
        tick: Duration::from_millis(cfg.tick_ms),
        election_ticks: cfg.election_ticks,
        heartbeat_ticks: cfg.heartbeat_ticks,
        snapshot_threshold: cfg.snapshot_threshold,
        bugs: cfg.bugs,
    };
    let (handle, thread) = start(lc, storage, restore, transport)?;
    let state = Arc::new(AppState {
        node: handle,
        id: cfg.id,
        listen: addr,
        peers: cfg.peers.clone(),
        request_timeout: Duration::from_millis(cfg.request_timeout_ms),
    });
    let app = router(state);
    if !cfg.bugs.names().is_empty() {
        tracing::warn!("DELIBERATE BUGS ENABLED: {}", cfg.bugs.names().join(", "));
    }
    eprintln!("listening on {addr}");
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    let loop_done = tokio::task::spawn_blocking(move || thread.join());
    tokio::select! {
        r = axum::serve(listener, app) => {
            r.map_err(|e| ServerError::Other(format!("HTTP server failed: {e}")))
        }
        j = loop_done => match j {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(ServerError::Node(e)),
            _ => Err(ServerError::Other("event loop thread panicked".into())),
        }
    }
}
