//! The replicated state of the lock service, a pure deterministic unit: sessions (id = Raft
//! index of the opening entry, with their TTL), locks (holder session, fencing token,
//! index of the last change), nodes (value, version = Raft index of the last write,
//! ephemeral owner, index of the last change; a deleted node leaves a tombstone so watches
//! see the deletion), and the request-id table that applies a retried write once.
//! Applying a command needs its Raft index and nothing else: no clock, no randomness.

use crate::command::{Command, Op, Outcome, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One open session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Lease length, ms.
    pub ttl_ms: u64,
}

/// One lock name's record (kept after release so watches and tokens see its history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// The holding session and its token, if held.
    pub holder: Option<(SessionId, u64)>,
    /// Raft index of the last acquisition or release.
    pub modified_index: u64,
}

/// One node path's record (a tombstone when `value` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// The value; `None` = deleted.
    pub value: Option<String>,
    /// Version: Raft index of the write that set the value (0 when deleted).
    pub version: u64,
    /// Session the node vanishes with.
    pub ephemeral_owner: Option<SessionId>,
    /// Raft index of the last write or deletion.
    pub modified_index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    seq: u64,
    outcome: Outcome,
}

/// The whole replicated state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockState {
    sessions: BTreeMap<SessionId, Session>,
    locks: BTreeMap<String, LockRecord>,
    nodes: BTreeMap<String, NodeRecord>,
    requests: BTreeMap<String, Recorded>,
}

impl LockState {
    /// An empty state.
    pub fn new() -> LockState {
        LockState::default()
    }

    /// Open sessions.
    pub fn sessions(&self) -> &BTreeMap<SessionId, Session> {
        &self.sessions
    }

    /// A session, if open.
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// A lock's record, if the name was ever used.
    pub fn lock(&self, name: &str) -> Option<&LockRecord> {
        self.locks.get(name)
    }

    /// A node's record (possibly a tombstone), if the path was ever written.
    pub fn node(&self, path: &str) -> Option<&NodeRecord> {
        self.nodes.get(path)
    }

    /// Index of the last change to the lock or node at `path` (0 = never changed).
    pub fn modified_index(&self, path: &str) -> u64 {
        let l = self.locks.get(path).map_or(0, |l| l.modified_index);
        let n = self.nodes.get(path).map_or(0, |n| n.modified_index);
        l.max(n)
    }

    /// Apply a command committed at `index`, applying a retried request id once.
    pub fn apply(&mut self, index: u64, cmd: &Command) -> Outcome {
        let Some(req) = &cmd.req else {
            return self.apply_op(index, &cmd.op);
        };
        if let Some(r) = self.requests.get(&req.client) {
            if req.seq == r.seq {
                return r.outcome.clone();
            }
            if req.seq < r.seq {
                return Outcome::StaleRequest { latest: r.seq };
            }
        }
        let outcome = self.apply_op(index, &cmd.op);
        let rec = Recorded {
            seq: req.seq,
            outcome: outcome.clone(),
        };
        self.requests.insert(req.client.clone(), rec);
        outcome
    }

    fn apply_op(&mut self, index: u64, op: &Op) -> Outcome {
        match op {
            Op::OpenSession { ttl_ms } => {
                let s = Session { ttl_ms: *ttl_ms };
                self.sessions.insert(index, s);
                Outcome::SessionOpened {
                    session: index,
                    ttl_ms: *ttl_ms,
                }
            }
            Op::CloseSession { session } | Op::ExpireSession { session } => {
                self.end_session(index, *session)
            }
            Op::Acquire {
                session,
                name,
                token,
            } => self.acquire(index, *session, name, token.unwrap_or(index)),
            Op::Release { session, name } => self.release(index, *session, name),
            Op::Write {
                path,
                value,
                expected,
                ephemeral_of,
            } => self.write(index, path, value, *expected, *ephemeral_of),
            Op::Delete { path, expected } => self.delete(index, path, *expected),
        }
    }

    fn end_session(&mut self, index: u64, session: SessionId) -> Outcome {
        if self.sessions.remove(&session).is_none() {
            return Outcome::NoSession;
        }
        let mut released = Vec::new();
        for (name, l) in &mut self.locks {
            if l.holder.is_some_and(|(s, _)| s == session) {
                l.holder = None;
                l.modified_index = index;
                released.push(name.clone());
            }
        }
        let mut deleted = Vec::new();
        for (path, n) in &mut self.nodes {
            if n.value.is_some() && n.ephemeral_owner == Some(session) {
                *n = NodeRecord {
                    value: None,
                    version: 0,
                    ephemeral_owner: None,
                    modified_index: index,
                };
                deleted.push(path.clone());
            }
        }
        Outcome::SessionEnded { released, deleted }
    }

    fn acquire(&mut self, index: u64, session: SessionId, name: &str, token: u64) -> Outcome {
        if !self.sessions.contains_key(&session) {
            return Outcome::NoSession;
        }
        let rec = self.locks.entry(name.to_string()).or_insert(LockRecord {
            holder: None,
            modified_index: 0,
        });
        match rec.holder {
            Some((s, t)) if s == session => Outcome::Acquired { token: t },
            Some((holder, token)) => Outcome::Held { holder, token },
            None => {
                rec.holder = Some((session, token));
                rec.modified_index = index;
                Outcome::Acquired { token }
            }
        }
    }

    fn release(&mut self, index: u64, session: SessionId, name: &str) -> Outcome {
        if !self.sessions.contains_key(&session) {
            return Outcome::NoSession;
        }
        match self.locks.get_mut(name) {
            Some(rec) if rec.holder.is_some_and(|(s, _)| s == session) => {
                rec.holder = None;
                rec.modified_index = index;
                Outcome::Released
            }
            rec => Outcome::NotHolder {
                holder: rec.and_then(|r| r.holder.map(|(s, _)| s)),
            },
        }
    }

    fn current_version(&self, path: &str) -> u64 {
        self.nodes.get(path).map_or(0, |n| n.version)
    }

    fn write(
        &mut self,
        index: u64,
        path: &str,
        value: &str,
        expected: Option<u64>,
        ephemeral_of: Option<SessionId>,
    ) -> Outcome {
        let current = self.current_version(path);
        if expected.is_some_and(|e| e != current) {
            return Outcome::VersionMismatch { current };
        }
        let owner = match self.nodes.get(path) {
            // An existing node keeps the owner it was created with.
            Some(n) if n.value.is_some() => n.ephemeral_owner,
            _ => {
                if let Some(s) = ephemeral_of {
                    if !self.sessions.contains_key(&s) {
                        return Outcome::NoSession;
                    }
                }
                ephemeral_of
            }
        };
        let rec = NodeRecord {
            value: Some(value.to_string()),
            version: index,
            ephemeral_owner: owner,
            modified_index: index,
        };
        self.nodes.insert(path.to_string(), rec);
        Outcome::Written { version: index }
    }

    fn delete(&mut self, index: u64, path: &str, expected: Option<u64>) -> Outcome {
        let current = self.current_version(path);
        if expected.is_some_and(|e| e != current) || current == 0 {
            return Outcome::VersionMismatch { current };
        }
        let rec = NodeRecord {
            value: None,
            version: 0,
            ephemeral_owner: None,
            modified_index: index,
        };
        self.nodes.insert(path.to_string(), rec);
        Outcome::Deleted
    }

    /// Serialize for a snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Rebuild from snapshot bytes (empty = empty state).
    pub fn restore(b: &[u8]) -> Result<LockState, serde_json::Error> {
        if b.is_empty() {
            return Ok(LockState::new());
        }
        serde_json::from_slice(b)
    }
}
