//! The lock service's [`StateMachine`] for the `raft-core` event loop: the replicated
//! [`LockState`] plus the leader's [`LeaseKeeper`]. Applying decodes a [`Command`]; every
//! tick the keeper may name sessions whose lease ran out, which become `ExpireSession`
//! proposals; reads ([`Query`]) answer from the state with the applied index, and a
//! keep-alive is a read (so it is answered only once ReadIndex confirmed that this node
//! still leads after the keep-alive arrived).

use crate::command::{Command, Op, Outcome, SessionId};
use crate::lease::{KeepAlive, LeaseKeeper};
use crate::state::{LockRecord, LockState, NodeRecord};
use raft_core::node::StateMachine;
use std::time::Instant;

/// A read of the lock service's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Extend a session's lease (received by the HTTP layer at `received`).
    KeepAlive {
        /// The session.
        session: SessionId,
        /// When the keep-alive arrived.
        received: Instant,
    },
    /// A lock's record.
    Lock {
        /// Lock name.
        name: String,
    },
    /// A node's record.
    Node {
        /// Node path.
        path: String,
    },
    /// Index of the last change at a path (lock or node), for watches.
    Modified {
        /// The path.
        path: String,
    },
}

/// The answer to a [`Query`]; `applied` is the index the state reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A keep-alive's outcome.
    KeepAlive(KeepAlive),
    /// A lock's record.
    Lock {
        /// The record, if the name was ever used.
        record: Option<LockRecord>,
        /// Applied index.
        applied: u64,
    },
    /// A node's record.
    Node {
        /// The record (maybe a tombstone), if the path was ever written.
        record: Option<NodeRecord>,
        /// Applied index.
        applied: u64,
    },
    /// The last change at a path.
    Modified {
        /// Index of the last change (0 = never).
        index: u64,
        /// Applied index.
        applied: u64,
    },
}

/// Replicated state + leader-local leases.
#[derive(Debug)]
pub struct LockMachine {
    state: LockState,
    keeper: LeaseKeeper,
    applied: u64,
}

impl LockMachine {
    /// An empty machine; `no_grace` enables that bug in the lease keeper.
    pub fn new(no_grace: bool) -> LockMachine {
        LockMachine {
            state: LockState::new(),
            keeper: LeaseKeeper::new(no_grace),
            applied: 0,
        }
    }

    /// The replicated state.
    pub fn state(&self) -> &LockState {
        &self.state
    }
}

impl StateMachine for LockMachine {
    type Output = Outcome;
    type Query = Query;
    type Answer = Answer;

    fn apply(&mut self, index: u64, _term: u64, data: &[u8]) -> Outcome {
        self.applied = index;
        match Command::decode(data) {
            Ok(cmd) => self.state.apply(index, &cmd),
            Err(e) => {
                tracing::warn!("log entry {index} is not a lock-service command ({e}); skipped");
                Outcome::Invalid
            }
        }
    }

    fn query(&mut self, q: Query) -> Answer {
        let applied = self.applied;
        match q {
            Query::KeepAlive { session, received } => {
                let s = self.state.session(session);
                Answer::KeepAlive(self.keeper.keep_alive(session, s, received))
            }
            Query::Lock { name } => Answer::Lock {
                record: self.state.lock(&name).cloned(),
                applied,
            },
            Query::Node { path } => Answer::Node {
                record: self.state.node(&path).cloned(),
                applied,
            },
            Query::Modified { path } => Answer::Modified {
                index: self.state.modified_index(&path),
                applied,
            },
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.state.snapshot()
    }

    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String> {
        self.state = LockState::restore(data).map_err(|e| e.to_string())?;
        self.applied = index;
        Ok(())
    }

    fn on_tick(&mut self, now: Instant, leader_term: Option<u64>) -> Vec<Vec<u8>> {
        let expired = self.keeper.tick(now, leader_term, self.state.sessions());
        expired
            .into_iter()
            .map(|session| {
                tracing::info!(session, "session lease ran out: expiring it");
                Command::new(Op::ExpireSession { session }).encode()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn apply(m: &mut LockMachine, index: u64, op: Op) -> Outcome {
        m.apply(index, 1, &Command::new(op).encode())
    }

    #[test]
    fn the_leader_proposes_expiry_and_applying_it_frees_the_lock() {
        let t0 = Instant::now();
        let mut m = LockMachine::new(false);
        apply(&mut m, 1, Op::OpenSession { ttl_ms: 200 });
        let acq = Op::Acquire {
            session: 1,
            name: "/locks/r".into(),
            token: None,
        };
        assert_eq!(apply(&mut m, 2, acq), Outcome::Acquired { token: 2 });
        assert!(m.on_tick(t0, None).is_empty(), "followers propose nothing");
        assert!(m.on_tick(t0, Some(1)).is_empty());
        let ka = Query::KeepAlive {
            session: 1,
            received: t0 + Duration::from_millis(100),
        };
        assert_eq!(
            m.query(ka),
            Answer::KeepAlive(KeepAlive::Extended { ttl_ms: 200 })
        );
        assert!(m
            .on_tick(t0 + Duration::from_millis(299), Some(1))
            .is_empty());
        let cmds = m.on_tick(t0 + Duration::from_millis(300), Some(1));
        assert_eq!(cmds.len(), 1);
        let cmd = Command::decode(&cmds[0]).expect("command");
        assert_eq!(cmd.op, Op::ExpireSession { session: 1 });
        m.apply(3, 1, &cmds[0]);
        match m.query(Query::Lock {
            name: "/locks/r".into(),
        }) {
            Answer::Lock { record, applied } => {
                assert_eq!(applied, 3);
                assert_eq!(
                    record.map(|r| (r.holder, r.modified_index)),
                    Some((None, 3))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            m.query(Query::Modified {
                path: "/locks/r".into()
            }),
            Answer::Modified {
                index: 3,
                applied: 3
            }
        );
    }

    #[test]
    fn restore_replaces_the_state_and_bad_bytes_are_refused() {
        let mut m = LockMachine::new(false);
        apply(&mut m, 1, Op::OpenSession { ttl_ms: 200 });
        let snap = m.snapshot();
        let mut other = LockMachine::new(false);
        other.restore(1, &snap).expect("restore");
        assert_eq!(other.state(), m.state());
        assert!(other.restore(2, b"garbage").is_err());
        assert_eq!(other.apply(3, 1, b"not json"), Outcome::Invalid);
    }
}
