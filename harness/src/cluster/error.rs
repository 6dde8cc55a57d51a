//! [`ClusterError`]: why a cluster operation failed. A leaf module, imported by the cluster
//! runtime and every child of it (network backends, cleanup, nemesis executor).

use std::path::PathBuf;

use crate::pathio::PathError;
use crate::systems::SystemError;

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    System(#[from] SystemError),
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
    /// A file or folder could not be read or written (names the path).
    #[error(transparent)]
    Io(#[from] PathError),
}
