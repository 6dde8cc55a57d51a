//! The leader's view of session leases, by its own clock (not replicated; time is passed
//! in, so this is a pure unit). A session's lease runs from the last keep-alive the leader
//! *received* (or, Chubby's grace for a new leader, from the moment this node started
//! leading its term, or first saw the session, whichever is later) for the session's full
//! TTL. Since the client starts its own lease clock when it *sends* a keep-alive, the
//! client's view of its lease always ends before the server's. When a lease runs out the
//! keeper asks once for the session to be expired (a replicated command); keep-alives for a
//! session being expired are refused.
//!
//! Bug `no-grace`: the leader expires a session after half its TTL from the last keep-alive,
//! so a client that believes its lease valid (it is, by the client's clock, for a full TTL)
//! can lose its locks to another client: a lock holder that stalls for between TTL/2 and
//! TTL after its last keep-alive, then acts, exposes it.

use crate::command::SessionId;
use crate::state::Session;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// What a keep-alive found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// The lease is extended for a full TTL from the keep-alive's receipt.
    Extended {
        /// The TTL, ms.
        ttl_ms: u64,
    },
    /// The session does not exist or is being expired.
    Expired,
}

/// Leader-local lease bookkeeping.
#[derive(Debug, Default)]
pub struct LeaseKeeper {
    /// The term this node leads (None = not leading).
    term: Option<u64>,
    last_seen: HashMap<SessionId, Instant>,
    expiring: HashSet<SessionId>,
    no_grace: bool,
}

impl LeaseKeeper {
    /// A keeper; `no_grace` enables the bug.
    pub fn new(no_grace: bool) -> LeaseKeeper {
        LeaseKeeper {
            no_grace,
            ..LeaseKeeper::default()
        }
    }

    fn lease(&self, s: &Session) -> Duration {
        let ttl = Duration::from_millis(s.ttl_ms);
        if self.no_grace {
            // BUG no-grace: the server's lease is half the client's.
            ttl / 2
        } else {
            ttl
        }
    }

    /// Called every tick: `leader_term` is the term this node leads, if any. Returns the
    /// sessions whose lease ran out (each once per term).
    pub fn tick(
        &mut self,
        now: Instant,
        leader_term: Option<u64>,
        sessions: &BTreeMap<SessionId, Session>,
    ) -> Vec<SessionId> {
        if leader_term != self.term {
            // A new term (or no longer leading): forget everything; a new leader gives
            // every session a fresh full lease from now (Chubby's grace).
            self.term = leader_term;
            self.last_seen.clear();
            self.expiring.clear();
        }
        if self.term.is_none() {
            return Vec::new();
        }
        self.last_seen.retain(|id, _| sessions.contains_key(id));
        self.expiring.retain(|id| sessions.contains_key(id));
        let mut expired = Vec::new();
        for (id, s) in sessions {
            let last = *self.last_seen.entry(*id).or_insert(now);
            if now.saturating_duration_since(last) >= self.lease(s) && self.expiring.insert(*id) {
                expired.push(*id);
            }
        }
        expired
    }

    /// A keep-alive received at `received` for a session whose state is `session`.
    pub fn keep_alive(
        &mut self,
        id: SessionId,
        session: Option<&Session>,
        received: Instant,
    ) -> KeepAlive {
        let Some(s) = session else {
            return KeepAlive::Expired;
        };
        if self.expiring.contains(&id) {
            return KeepAlive::Expired;
        }
        let last = self.last_seen.entry(id).or_insert(received);
        *last = (*last).max(received);
        KeepAlive::Extended { ttl_ms: s.ttl_ms }
    }

    /// When the leader will expire `id` if no keep-alive comes (for `/status`-like views).
    pub fn expires_at(&self, id: SessionId, s: &Session) -> Option<Instant> {
        self.last_seen.get(&id).map(|t| *t + self.lease(s))
    }
}
