//! The commands stored in log entries (JSON bytes of [`Command`]) and what applying one
//! returns ([`Outcome`]). Every decision that must survive a leader change is one of these:
//! opening, closing and expiring sessions, acquiring and releasing locks (with the token
//! the acquisition gets), and writing or deleting nodes.

use raft_core::http::RequestId;
use serde::{Deserialize, Serialize};

/// A session id: the Raft index of the entry that opened the session.
pub type SessionId = u64;

/// What a command does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Open a session with this TTL.
    OpenSession {
        /// Lease length, ms.
        ttl_ms: u64,
    },
    /// The client closes its session: its locks are released, its ephemeral nodes deleted.
    CloseSession {
        /// The session.
        session: SessionId,
    },
    /// The leader expires a session whose lease ran out (same effect as closing).
    ExpireSession {
        /// The session.
        session: SessionId,
    },
    /// Take the lock `name` for `session` if it is free.
    Acquire {
        /// The session.
        session: SessionId,
        /// Lock name, e.g. `/locks/resource-1`.
        name: String,
        /// The token to give; `None` = the entry's Raft index (only the `reuse-token` bug
        /// sets one, from a counter in the leader's memory).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<u64>,
    },
    /// Release the lock `name` held by `session`.
    Release {
        /// The session.
        session: SessionId,
        /// Lock name.
        name: String,
    },
    /// Write a node's value, if its version is `expected` (`None` = unconditionally;
    /// `Some(0)` = only if absent). A node created with `ephemeral_of` vanishes with that
    /// session.
    Write {
        /// Node path.
        path: String,
        /// New value.
        value: String,
        /// Version required for the write to happen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected: Option<u64>,
        /// Owner session of a node this write creates.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ephemeral_of: Option<SessionId>,
    },
    /// Delete a node, if its version is `expected` (`None` = unconditionally).
    Delete {
        /// Node path.
        path: String,
        /// Version required.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected: Option<u64>,
    },
}

/// A command as stored in a log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// What to do.
    #[serde(flatten)]
    pub op: Op,
    /// Optional request id: a retried write with the same id is applied once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<RequestId>,
}

impl Command {
    /// A command without request id.
    pub fn new(op: Op) -> Command {
        Command { op, req: None }
    }
    /// Encode to entry bytes (never empty: empty data is the core's no-op).
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
    /// Decode entry bytes.
    pub fn decode(b: &[u8]) -> Result<Command, serde_json::Error> {
        serde_json::from_slice(b)
    }
}

/// What applying a command returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "r", rename_all = "snake_case")]
pub enum Outcome {
    /// A session was opened.
    SessionOpened {
        /// Its id.
        session: SessionId,
        /// Its TTL, ms.
        ttl_ms: u64,
    },
    /// A session was closed or expired.
    SessionEnded {
        /// Locks it released.
        released: Vec<String>,
        /// Ephemeral nodes it deleted.
        deleted: Vec<String>,
    },
    /// The session does not exist (never opened, closed or expired).
    NoSession,
    /// The lock is now held by the session (or already was), with this token.
    Acquired {
        /// Fencing token of this acquisition.
        token: u64,
    },
    /// The lock is held by another session.
    Held {
        /// The holder.
        holder: SessionId,
        /// The holder's token.
        token: u64,
    },
    /// The lock was released.
    Released,
    /// The session does not hold the lock.
    NotHolder {
        /// The holder, if any.
        holder: Option<SessionId>,
    },
    /// A node was written; its new version.
    Written {
        /// New version (the Raft index of the write).
        version: u64,
    },
    /// A node was deleted.
    Deleted,
    /// The node's version did not match (`0` = absent).
    VersionMismatch {
        /// The current version.
        current: u64,
    },
    /// A request id older than the client's latest: not applied (and never will be).
    StaleRequest {
        /// The client's latest sequence number.
        latest: u64,
    },
    /// The entry bytes were not a command.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_roundtrip_and_are_never_empty() {
        let c = Command {
            op: Op::Acquire {
                session: 3,
                name: "/locks/a".into(),
                token: None,
            },
            req: Some(RequestId {
                client: "c".into(),
                seq: 2,
            }),
        };
        let b = c.encode();
        assert!(!b.is_empty());
        assert_eq!(Command::decode(&b).expect("decode"), c);
        assert!(Command::decode(b"{\"op\":\"nope\"}").is_err());
    }
}
