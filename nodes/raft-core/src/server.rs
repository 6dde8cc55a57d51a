//! Wiring of one node, for any state machine: open and recover the data dir, build the
//! core, bind the listen address, start the peer transport and the event loop, and serve the
//! application's HTTP routes plus the shared ones (`/status`, `/raft/messages`) until the
//! loop stops. Errors say exactly what went wrong (port in use, corrupt data dir, ...), and
//! each binary turns them into a message and a non-zero exit.

use crate::config::ClusterConfig;
use crate::http::{core_router, Directory};
use crate::node::{start, CoreBugs, LoopConfig, NodeError, NodeHandle, StateMachine};
use crate::raft::RestoreState;
use crate::storage::{Storage, StorageError, StorageOptions};
use crate::transport::HttpTransport;
use axum::Router;
use std::io::Write;
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

/// What the application's router is built from.
#[derive(Debug)]
pub struct AppContext<S: StateMachine> {
    /// The event loop.
    pub node: NodeHandle<S>,
    /// Addresses for redirects.
    pub directory: Directory,
    /// How long a client request waits.
    pub request_timeout: Duration,
}

fn open_storage(
    cfg: &ClusterConfig,
    bugs: CoreBugs,
) -> Result<(Storage, RestoreState), ServerError> {
    let (storage, mut restore, info) = Storage::open(
        &cfg.data_dir,
        StorageOptions {
            fsync: cfg.fsync,
            persist_hard_state: !bugs.no_persist_vote,
            ..Default::default()
        },
    )
    .map_err(|source| ServerError::Storage {
        dir: cfg.data_dir.display().to_string(),
        source,
    })?;
    if let Some((file, offset, reason)) = &info.truncated_tail {
        tracing::warn!(
            "recovered WAL: cut a torn tail of {} at offset {offset} ({reason})",
            file.display()
        );
    }
    if bugs.no_persist_vote {
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
    Ok((storage, restore))
}

/// Run a node until its event loop stops or HTTP serving fails. `app` builds the
/// application's routes; `bug_names` lists every enabled bug for `/status` and the log.
pub async fn serve<S: StateMachine>(
    cfg: &ClusterConfig,
    bugs: CoreBugs,
    bug_names: Vec<&'static str>,
    sm: S,
    app: impl FnOnce(AppContext<S>) -> Router,
) -> Result<(), ServerError> {
    let (storage, restore) = open_storage(cfg, bugs)?;
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
    let lc = LoopConfig {
        id: cfg.id,
        voters: cfg.voters(),
        tick: Duration::from_millis(cfg.tick_ms),
        election_ticks: cfg.election_ticks,
        heartbeat_ticks: cfg.heartbeat_ticks,
        snapshot_threshold: cfg.snapshot_threshold,
        bugs,
        bug_names: bug_names.clone(),
    };
    let (handle, thread) = start(lc, storage, restore, sm, transport)?;
    let request_timeout = Duration::from_millis(cfg.request_timeout_ms);
    let core = core_router(handle.clone(), cfg.id, request_timeout);
    let ctx = AppContext {
        node: handle,
        directory: Directory {
            id: cfg.id,
            listen: addr,
            peers: cfg.peers.clone(),
        },
        request_timeout,
    };
    let router = core.merge(app(ctx));
    if !bug_names.is_empty() {
        tracing::warn!("DELIBERATE BUGS ENABLED: {}", bug_names.join(", "));
    }
    eprintln!("listening on {addr}");
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    let loop_done = tokio::task::spawn_blocking(move || thread.join());
    tokio::select! {
        r = axum::serve(listener, router) => {
            r.map_err(|e| ServerError::Other(format!("HTTP server failed: {e}")))
        }
        j = loop_done => match j {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(ServerError::Node(e)),
            _ => Err(ServerError::Other("event loop thread panicked".into())),
        }
    }
}
