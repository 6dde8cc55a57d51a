//! Typed errors of the Raft core: configuration/restore problems (`RaftError`) and
//! client-facing refusals (`ProposeError`). Remote input never panics; a message the core
//! cannot use is either ignored (stale) or reported as a `RaftError`.

use super::types::NodeId;

/// Errors from constructing or driving the core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaftError {
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("invalid restored state: {0}")]
    InvalidRestore(String),
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
    #[error("message from unknown node {from}")]
    UnknownPeer { from: NodeId },
    #[error("message addressed to node {to}, this is node {me}")]
    WrongRecipient { to: NodeId, me: NodeId },
    #[error("invalid message from node {from}: {reason}")]
    InvalidMessage { from: NodeId, reason: String },
}

/// Why a proposal or a read was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// This node is not the leader; `leader` is the leader it knows of, if any.
    #[error("not leader (leader: {leader:?})")]
    NotLeader { leader: Option<NodeId> },
}
