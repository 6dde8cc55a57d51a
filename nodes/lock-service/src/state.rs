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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bugs::MemoryTokens;
    use raft_core::http::RequestId;

    /// Applies ops at increasing indexes, like a log.
    struct Log {
        st: LockState,
        index: u64,
    }

    impl Log {
        fn new() -> Log {
            Log {
                st: LockState::new(),
                index: 0,
            }
        }
        fn op(&mut self, op: Op) -> Outcome {
            self.index += 1;
            self.st.apply(self.index, &Command::new(op))
        }
        fn open(&mut self) -> SessionId {
            match self.op(Op::OpenSession { ttl_ms: 1000 }) {
                Outcome::SessionOpened { session, .. } => session,
                o => panic!("{o:?}"),
            }
        }
        fn acquire(&mut self, session: SessionId, name: &str) -> Outcome {
            self.op(Op::Acquire {
                session,
                name: name.into(),
                token: None,
            })
        }
        fn write(&mut self, path: &str, v: &str, exp: Option<u64>, eph: Option<u64>) -> Outcome {
            self.op(Op::Write {
                path: path.into(),
                value: v.into(),
                expected: exp,
                ephemeral_of: eph,
            })
        }
    }

    #[test]
    fn a_lock_is_exclusive_and_its_token_is_the_acquiring_index() {
        let mut l = Log::new();
        let (a, b) = (l.open(), l.open());
        assert_eq!(l.acquire(a, "/locks/r"), Outcome::Acquired { token: 3 });
        // The holder asking again gets its own token back; another session is refused.
        assert_eq!(l.acquire(a, "/locks/r"), Outcome::Acquired { token: 3 });
        assert_eq!(
            l.acquire(b, "/locks/r"),
            Outcome::Held {
                holder: a,
                token: 3
            }
        );
        let not_holder = l.op(Op::Release {
            session: b,
            name: "/locks/r".into(),
        });
        assert_eq!(not_holder, Outcome::NotHolder { holder: Some(a) });
        let rel = l.op(Op::Release {
            session: a,
            name: "/locks/r".into(),
        });
        assert_eq!(rel, Outcome::Released);
        assert_eq!(l.acquire(b, "/locks/r"), Outcome::Acquired { token: 8 });
        // Another lock name is independent.
        assert_eq!(l.acquire(a, "/locks/s"), Outcome::Acquired { token: 9 });
        assert_eq!(l.acquire(99, "/locks/t"), Outcome::NoSession);
    }

    #[test]
    fn an_ended_session_releases_its_locks_and_deletes_its_ephemeral_nodes() {
        let mut l = Log::new();
        let (a, b) = (l.open(), l.open());
        l.acquire(a, "/locks/r");
        l.write("/e/a", "mine", None, Some(a));
        l.write("/p/a", "kept", None, None);
        let ended = l.op(Op::ExpireSession { session: a });
        assert_eq!(
            ended,
            Outcome::SessionEnded {
                released: vec!["/locks/r".into()],
                deleted: vec!["/e/a".into()],
            }
        );
        assert!(l.st.session(a).is_none());
        assert_eq!(l.st.node("/e/a").and_then(|n| n.value.clone()), None);
        assert_eq!(
            l.st.node("/p/a").and_then(|n| n.value.clone()),
            Some("kept".into())
        );
        // The next holder's token is higher than the expired holder's.
        assert_eq!(l.acquire(b, "/locks/r"), Outcome::Acquired { token: 7 });
        // Ending it twice, or acting for it, reports the missing session.
        assert_eq!(l.op(Op::CloseSession { session: a }), Outcome::NoSession);
        assert_eq!(l.write("/e/b", "x", None, Some(a)), Outcome::NoSession);
    }

    #[test]
    fn versions_are_write_indexes_and_cas_checks_them() {
        let mut l = Log::new();
        assert_eq!(
            l.write("/v", "1", Some(0), None),
            Outcome::Written { version: 1 }
        );
        assert_eq!(
            l.write("/v", "2", Some(0), None),
            Outcome::VersionMismatch { current: 1 }
        );
        assert_eq!(
            l.write("/v", "2", Some(1), None),
            Outcome::Written { version: 3 }
        );
        assert_eq!(
            l.write("/v", "3", None, None),
            Outcome::Written { version: 4 }
        );
        let del = l.op(Op::Delete {
            path: "/v".into(),
            expected: Some(3),
        });
        assert_eq!(del, Outcome::VersionMismatch { current: 4 });
        let del = l.op(Op::Delete {
            path: "/v".into(),
            expected: Some(4),
        });
        assert_eq!(del, Outcome::Deleted);
        // Re-created: a version never seen before (no ABA), and cas on the old one fails.
        assert_eq!(
            l.write("/v", "x", Some(4), None),
            Outcome::VersionMismatch { current: 0 }
        );
        assert_eq!(
            l.write("/v", "x", Some(0), None),
            Outcome::Written { version: 8 }
        );
    }

    #[test]
    fn an_ephemeral_node_keeps_the_owner_it_was_created_with() {
        let mut l = Log::new();
        let (a, b) = (l.open(), l.open());
        l.write("/e", "1", None, Some(a));
        l.write("/e", "2", None, Some(b));
        assert_eq!(l.st.node("/e").and_then(|n| n.ephemeral_owner), Some(a));
        l.op(Op::CloseSession { session: b });
        assert_eq!(
            l.st.node("/e").and_then(|n| n.value.clone()),
            Some("2".into())
        );
        l.op(Op::CloseSession { session: a });
        assert_eq!(l.st.node("/e").and_then(|n| n.value.clone()), None);
    }

    #[test]
    fn modified_index_moves_only_with_changes_at_that_path() {
        let mut l = Log::new();
        let a = l.open();
        assert_eq!(l.st.modified_index("/locks/r"), 0);
        l.acquire(a, "/locks/r");
        assert_eq!(l.st.modified_index("/locks/r"), 2);
        l.acquire(a, "/locks/r");
        l.write("/other", "x", None, None);
        assert_eq!(
            l.st.modified_index("/locks/r"),
            2,
            "no change, no new index"
        );
        l.op(Op::CloseSession { session: a });
        assert_eq!(
            l.st.modified_index("/locks/r"),
            5,
            "release by close is a change"
        );
        l.write("/n", "x", None, None);
        assert_eq!(l.st.modified_index("/n"), 6);
        l.op(Op::Delete {
            path: "/n".into(),
            expected: None,
        });
        assert_eq!(l.st.modified_index("/n"), 7, "deletion is a change");
    }

    #[test]
    fn a_retried_request_is_applied_once() {
        let mut st = LockState::new();
        let open = Command::new(Op::OpenSession { ttl_ms: 500 });
        st.apply(1, &open);
        let req = |seq| {
            Some(RequestId {
                client: "c".into(),
                seq,
            })
        };
        let w = |v: &str, seq| Command {
            op: Op::Write {
                path: "/x".into(),
                value: v.into(),
                expected: None,
                ephemeral_of: None,
            },
            req: req(seq),
        };
        assert_eq!(st.apply(2, &w("a", 1)), Outcome::Written { version: 2 });
        assert_eq!(st.apply(3, &w("a", 1)), Outcome::Written { version: 2 });
        assert_eq!(st.node("/x").map(|n| n.version), Some(2));
        st.apply(4, &w("b", 2));
        assert_eq!(st.apply(5, &w("c", 1)), Outcome::StaleRequest { latest: 2 });
        assert_eq!(
            st.node("/x").and_then(|n| n.value.clone()),
            Some("b".into())
        );
    }

    #[test]
    fn snapshot_roundtrip() {
        let mut l = Log::new();
        let a = l.open();
        l.acquire(a, "/locks/r");
        l.write("/e", "1", None, Some(a));
        let back = LockState::restore(&l.st.snapshot()).expect("restore");
        assert_eq!(back, l.st);
        assert_eq!(LockState::restore(b"").expect("empty"), LockState::new());
        assert!(LockState::restore(b"{nope").is_err());
    }

    /// The `reuse-token` bug at the unit level: tokens from two leaders' memories, applied
    /// through the log, go back down after the leader change; the log index never does.
    #[test]
    fn reuse_token_tokens_repeat_across_leaders_while_index_tokens_increase() {
        let run = |buggy: bool| {
            let mut l = Log::new();
            let mut leaders = [MemoryTokens::default(), MemoryTokens::default()];
            let mut tokens = Vec::new();
            for (round, leader) in [0usize, 0, 1, 1].into_iter().enumerate() {
                let s = l.open();
                let token = buggy.then(|| leaders[leader].next("/locks/r"));
                let op = Op::Acquire {
                    session: s,
                    name: "/locks/r".into(),
                    token,
                };
                match l.op(op) {
                    Outcome::Acquired { token } => tokens.push(token),
                    o => panic!("round {round}: {o:?}"),
                }
                l.op(Op::CloseSession { session: s });
            }
            tokens
        };
        let good = run(false);
        assert!(good.windows(2).all(|w| w[0] < w[1]), "{good:?}");
        let bad = run(true);
        assert_eq!(bad, vec![1, 2, 1, 2], "the second leader starts over");
    }
}
