//! Wiring of one replica: load (or, for the demo layout, create) the keys, build the core,
//! bind the listen address, start the peer transport and the ticker, and serve HTTP.
//! Errors say what failed and where; the `pbft-node` binary maps them to exit codes.

use crate::config::{KeySource, NodeConfig};
use crate::core::{Core, CoreConfig};
use crate::crypto::{Ed25519Signer, Ed25519Verifier};
use crate::http::{router, AppState};
use crate::keys::{self, KeyError};
use crate::node::Node;
use crate::transport::Transport;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Keys could not be read or created.
    #[error("keys: {0}")]
    Keys(#[from] KeyError),
    /// The public key file does not cover every node.
    #[error("public key file {path} has no key for node {id}")]
    MissingKey {
        /// File.
        path: String,
        /// Node.
        id: u64,
    },
    /// The data dir cannot be created.
    #[error("cannot create data dir {dir}: {source}")]
    DataDir {
        /// Dir.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

fn load_keys(cfg: &NodeConfig) -> Result<(Ed25519Signer, Ed25519Verifier), ServerError> {
    let (key, public) = match &cfg.keys {
        KeySource::Files { key, public } => (key.clone(), public.clone()),
        KeySource::DemoDir(dir) => {
            keys::ensure_default_keys(dir, cfg.n)?;
            (keys::secret_path(dir, cfg.id), keys::public_path(dir))
        }
    };
    let secret = keys::load_secret(&key)?;
    let all = keys::load_public(&public)?;
    for id in 1..=cfg.n {
        if !all.contains_key(&id) {
            return Err(ServerError::MissingKey {
                path: public.display().to_string(),
                id,
            });
        }
    }
    if all.get(&cfg.id) != Some(&secret.verifying_key()) {
        return Err(ServerError::Other(format!(
            "{} is not node {}'s key according to {}",
            key.display(),
            cfg.id,
            public.display()
        )));
    }
    Ok((Ed25519Signer(secret), Ed25519Verifier(all)))
}

/// Run a replica until HTTP serving fails.
pub async fn serve(cfg: NodeConfig) -> Result<(), ServerError> {
    std::fs::create_dir_all(&cfg.data_dir).map_err(|source| ServerError::DataDir {
        dir: cfg.data_dir.display().to_string(),
        source,
    })?;
    let (signer, verifier) = load_keys(&cfg)?;
    let reply_signer = Ed25519Signer(signer.0.clone());
    let mut cc = CoreConfig::new(cfg.id, cfg.n);
    cc.checkpoint_interval = cfg.checkpoint_interval;
    cc.window = cfg.window;
    cc.request_timeout_ticks = cfg.view_change_ticks;
    cc.view_change_timeout_ticks = cfg.view_change_ticks;
    cc.status_ticks = (100 / cfg.tick_ms).max(1);
    cc.bugs = cfg.bugs;
    let mut core = Core::new(cc, Box::new(signer), Box::new(verifier));
    core.set_byzantine(cfg.byzantine);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Other(format!("local_addr: {e}")))?;
    let transport = Transport::spawn(&cfg.peers)
        .map_err(|e| ServerError::Other(format!("cannot build the peer HTTP client: {e}")))?;
    let node = Node::new(core, Box::new(reply_signer), transport);
    spawn_ticker(node.clone(), Duration::from_millis(cfg.tick_ms));
    let state = Arc::new(AppState {
        node,
        request_timeout: Duration::from_millis(cfg.request_timeout_ms),
        bugs: cfg.bugs,
    });
    if !cfg.bugs.names().is_empty() {
        tracing::warn!("DELIBERATE BUGS ENABLED: {}", cfg.bugs.names().join(", "));
    }
    if let Some(m) = cfg.byzantine {
        tracing::warn!("playing Byzantine mode {m}");
    }
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    axum::serve(listener, router(state))
        .await
        .map_err(|e| ServerError::Other(format!("HTTP server failed: {e}")))
}

fn spawn_ticker(node: Arc<Node>, every: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            let node = node.clone();
            let _ = tokio::task::spawn_blocking(move || node.on_tick()).await;
        }
    });
}
