//! The cluster runtime: the system under test's node lifecycle ([`db`], [`process`]), the
//! network backends ([`net`]: netns + iptables, user-space TCP proxy), the nemesis ([`nemesis`]:
//! a pure seeded planner and an executor), and guaranteed cleanup ([`cleanup`]: the
//! `cleanup.json` manifest, the signal handler, `harness clean`).
//!
//! The entry point is [`Cluster::start`]; every fault is a method of [`Cluster`].

pub mod cleanup;
pub mod db;
pub mod nemesis;
pub mod net;
pub mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

pub use cleanup::{clean_leftovers, install_signal_cleanup, CleanReport};
pub use db::{
    build_db, find_node_bin, Db, DbError, DbSpec, NodeSpec, Protocol, RaftKvDb, ReadyProbe,
};
pub use net::NetMode;

/// A partition: node name → the node names it cannot hear from.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// A node did not start or did not become ready: names the node, says what happened and
    /// where its log is.
    #[error("node {node} failed to start: {reason} (log: {log})")]
    NodeStart {
        node: String,
        reason: String,
        log: PathBuf,
    },
    /// A node name that is not part of the cluster.
    #[error("unknown node `{0}`")]
    UnknownNode(String),
    /// Network setup or fault injection failed (the message names the command and its output).
    #[error("network: {0}")]
    Net(String),
    /// The requested backend cannot be used here (e.g. netns without CAP_NET_ADMIN).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A signal or process-control call failed.
    #[error("process control on {node}: {reason}")]
    Process { node: String, reason: String },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// How to lay out and start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Number of nodes (≥ 1).
    pub nodes: usize,
    pub net: NetMode,
    /// The run's folder: node logs and data go to `run_dir/nodes/<name>/`, the cleanup manifest
    /// to `run_dir/cleanup.json`.
    pub run_dir: PathBuf,
    /// Unique per run, short (≤ 8 chars, `[a-z0-9]`, e.g. `"hx" + 6 chars`, see
    /// [`cleanup::new_run_prefix`]): names every namespace, link and process marker.
    pub run_prefix: String,
    /// How long every node (and, for raft-kv, a leader) gets to come up.
    pub startup_timeout: Duration,
}

/// A running cluster. Stop it with [`Cluster::shutdown`]; dropping it without that tears
/// everything down synchronously (best effort, for the panic path).
pub struct Cluster {
    inner: (),
}

impl Cluster {
    /// Sets up the network, spawns every node and waits until each answers its probe (and, for
    /// raft-kv, a leader is known). On error everything created so far is removed and the
    /// error names the node and its log.
    pub async fn start(cfg: ClusterConfig, db: Box<dyn Db>) -> Result<Cluster, ClusterError> {
        let _ = (cfg, db);
        Err(ClusterError::Unsupported(
            "cluster runtime not built yet".into(),
        ))
    }

    /// The nodes, in id order.
    pub fn nodes(&self) -> &[NodeSpec] {
        let _ = self.inner;
        &[]
    }

    /// The backend in use ([`NetMode::Auto`] resolved to `Netns` or `Proxy`).
    pub fn net_mode(&self) -> NetMode {
        NetMode::Proxy
    }

    /// The client protocol of the system under test.
    pub fn protocol(&self) -> Protocol {
        Protocol::RaftKvHttp
    }

    /// Applies a partition (replacing any previous one).
    pub async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        let _ = grudge;
        Err(ClusterError::Unsupported("not built yet".into()))
    }

    /// Removes every partition.
    pub async fn heal(&self) -> Result<(), ClusterError> {
        Err(ClusterError::Unsupported("not built yet".into()))
    }

    /// SIGSTOP the node's process group.
    pub fn pause(&self, node: &str) -> Result<(), ClusterError> {
        Err(ClusterError::UnknownNode(node.into()))
    }

    /// SIGCONT the node's process group.
    pub fn resume(&self, node: &str) -> Result<(), ClusterError> {
        Err(ClusterError::UnknownNode(node.into()))
    }

    /// SIGKILL the node's process group and reap it.
    pub fn kill(&self, node: &str) -> Result<(), ClusterError> {
        Err(ClusterError::UnknownNode(node.into()))
    }

    /// Starts a killed node again with the same command and data directory, and waits until it
    /// answers its probe.
    pub async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        Err(ClusterError::UnknownNode(node.into()))
    }

    /// Heals, resumes, stops every node (SIGTERM, then SIGKILL after a grace period) and tears
    /// the network down. Logs stay in `run_dir/nodes/<name>/`.
    pub async fn shutdown(self) -> Result<(), ClusterError> {
        Ok(())
    }
}
