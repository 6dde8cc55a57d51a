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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::ClientLease;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sessions(ids: &[u64], ttl_ms: u64) -> BTreeMap<SessionId, Session> {
        ids.iter().map(|&i| (i, Session { ttl_ms })).collect()
    }

    #[test]
    fn a_session_expires_once_a_full_ttl_after_its_last_keep_alive() {
        let t0 = Instant::now();
        let ss = sessions(&[7], 1000);
        let mut k = LeaseKeeper::new(false);
        assert!(k.tick(t0, Some(2), &ss).is_empty());
        let ka = k.keep_alive(7, ss.get(&7), t0 + ms(600));
        assert_eq!(ka, KeepAlive::Extended { ttl_ms: 1000 });
        assert!(k.tick(t0 + ms(1599), Some(2), &ss).is_empty());
        assert_eq!(k.tick(t0 + ms(1600), Some(2), &ss), vec![7]);
        assert!(k.tick(t0 + ms(1700), Some(2), &ss).is_empty(), "asked once");
        // While its expiry is in flight, a keep-alive is refused.
        assert_eq!(
            k.keep_alive(7, ss.get(&7), t0 + ms(1701)),
            KeepAlive::Expired
        );
        assert_eq!(k.keep_alive(8, None, t0), KeepAlive::Expired);
    }

    #[test]
    fn a_new_leader_gives_every_session_a_fresh_full_ttl() {
        let t0 = Instant::now();
        let ss = sessions(&[1, 2], 1000);
        let mut k = LeaseKeeper::new(false);
        k.tick(t0, Some(3), &ss);
        // Leadership lost, then regained in a later term long after the last keep-alive.
        assert!(k.tick(t0 + ms(500), None, &ss).is_empty());
        assert!(k.tick(t0 + ms(5000), Some(5), &ss).is_empty());
        assert!(k.tick(t0 + ms(5999), Some(5), &ss).is_empty());
        assert_eq!(k.tick(t0 + ms(6000), Some(5), &ss), vec![1, 2]);
        // A follower never expires anything.
        let mut f = LeaseKeeper::new(false);
        assert!(f.tick(t0 + ms(99_999), None, &ss).is_empty());
    }

    /// Chubby's grace, for any delays: the client's lease (from the keep-alive's send)
    /// ends no later than the server's (from its receipt). The `no-grace` bug breaks it.
    #[test]
    fn the_server_never_expires_a_lease_the_client_still_holds_unless_no_grace() {
        let t0 = Instant::now();
        let ttl = 1000;
        for (send, delay) in [(0u64, 0u64), (100, 5), (300, 200), (900, 400)] {
            for no_grace in [false, true] {
                let ss = sessions(&[1], ttl);
                let mut k = LeaseKeeper::new(no_grace);
                k.tick(t0, Some(1), &ss);
                let mut client = ClientLease::new(ms(ttl), t0);
                client.renewed(t0 + ms(send));
                k.keep_alive(1, ss.get(&1), t0 + ms(send + delay));
                // The first tick at which the server expires the session.
                let expired_at = (0..3000)
                    .map(|t| t0 + ms(t))
                    .find(|&t| !k.tick(t, Some(1), &ss).is_empty())
                    .expect("expires");
                let client_believes_valid = client.valid_at(expired_at);
                assert_eq!(
                    client_believes_valid, no_grace,
                    "send {send} delay {delay} no_grace {no_grace}"
                );
            }
        }
    }
}
