//! The proposer: election by a higher ballot after a randomized timeout, phase 1 once for
//! every open slot (adopting per slot the accepted value with the highest ballot and
//! filling holes with no-ops, unless the `no-adopt` bug is on), then phase 2 only while the
//! ballot stands: heartbeats, retransmission, counting accepts, stepping down on a nack or
//! when a majority has not been heard from for an election timeout.

use super::core::{Core, InFlight, Role};
use super::types::{AcceptedEntry, Ballot, Body, NodeId, Record, Slot, Value};
use std::collections::{BTreeMap, BTreeSet};

impl Core {
    pub(super) fn tick_waiting(&mut self) {
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_timeout {
            self.start_election();
        } else if self.role == Role::Candidate {
            self.heartbeat_elapsed += 1;
            if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
                self.heartbeat_elapsed = 0;
                self.send_prepares(); // re-send to those that have not promised
            }
        }
    }

    pub(super) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        self.quorum_elapsed += 1;
        if self.quorum_elapsed >= self.cfg.election_ticks.1 {
            self.quorum_elapsed = 0;
            let heard = std::mem::take(&mut self.heard);
            if heard.len() + 1 < self.majority() {
                self.step_down();
                return;
            }
        }
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.catchup_sent.clear();
            self.broadcast_heartbeat();
            self.retransmit_accepts();
        }
    }

    /// Become a candidate with a ballot higher than any seen and run phase 1 for every
    /// slot after the chosen prefix.
    pub(super) fn start_election(&mut self) {
        self.role = Role::Candidate;
        self.leader = None;
        self.fail_reads();
        let round = self.max_round_seen.max(self.promised.round) + 1;
        self.max_round_seen = round;
        self.ballot = Ballot {
            round,
            node: self.cfg.id,
        };
        self.promised = self.ballot;
        if !self.cfg.bugs.forget_promise {
            self.persist(Record::Promise(self.ballot));
        }
        self.reset_election_timer();
        self.heartbeat_elapsed = 0;
        self.prepare_from = self.commit + 1;
        let own: Vec<AcceptedEntry> = self
            .accepted
            .range(self.prepare_from..)
            .map(|(&slot, (b, v))| AcceptedEntry {
                slot,
                ballot: *b,
                value: v.clone(),
            })
            .collect();
        self.promises.clear();
        self.promises.insert(self.cfg.id, own);
        self.send_prepares();
        self.maybe_become_leader();
    }

    fn send_prepares(&mut self) {
        let (ballot, from_slot) = (self.ballot, self.prepare_from);
        let missing: Vec<NodeId> = self
            .peers()
            .filter(|p| !self.promises.contains_key(p))
            .collect();
        for p in missing {
            self.send(p, Body::Prepare { ballot, from_slot });
        }
    }

    pub(super) fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<AcceptedEntry>,
        _commit: Slot,
    ) {
        if self.role == Role::Candidate && ballot == self.ballot {
            self.promises.insert(from, accepted);
            self.maybe_become_leader();
        }
    }

    fn maybe_become_leader(&mut self) {
        if self.role == Role::Candidate && self.promises.len() >= self.majority() {
            self.become_leader();
        }
    }

    /// Per slot, the accepted value with the highest ballot among the promises.
    fn adopted_values(&self) -> BTreeMap<Slot, (Ballot, Value)> {
        let mut best: BTreeMap<Slot, (Ballot, Value)> = BTreeMap::new();
        if self.cfg.bugs.no_adopt {
            return best;
        }
        for entry in self.promises.values().flatten() {
            let better = best.get(&entry.slot).is_none_or(|(b, _)| entry.ballot > *b);
            if better && entry.slot >= self.prepare_from {
                best.insert(entry.slot, (entry.ballot, entry.value.clone()));
            }
        }
        best
    }

    /// Phase 1 succeeded: re-propose, in our ballot, the adopted value of every open slot
    /// (a no-op where none was accepted), then serve new proposals after them.
    fn become_leader(&mut self) {
        let adopted = self.adopted_values();
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        self.promises.clear();
        self.inflight.clear();
        self.peer_commit.clear();
        self.catchup_sent.clear();
        self.peer_read_round.clear();
        self.heard.clear();
        self.quorum_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let last = adopted.keys().next_back().copied().unwrap_or(0);
        self.next_slot = self.prepare_from.max(self.commit + 1);
        self.takeover_slot = last.max(self.commit);
        for slot in self.next_slot..=last {
            let value = match self.chosen.get(&slot) {
                Some(v) => v.clone(),
                None => adopted.get(&slot).map_or(Value::Noop, |(_, v)| v.clone()),
            };
            self.propose_in(slot, value);
        }
        self.next_slot = self.next_slot.max(last + 1);
        self.broadcast_heartbeat();
    }

    /// Propose `value` in the next free slot (leader only).
    pub(super) fn propose_value(&mut self, value: Value) -> Slot {
        let slot = self.next_slot;
        self.next_slot += 1;
        self.propose_in(slot, value);
        slot
    }

    /// Accept locally (persisted in the same `Ready`), queue the accept for the peers.
    fn propose_in(&mut self, slot: Slot, value: Value) {
        let ballot = self.ballot;
        self.accepted.insert(slot, (ballot, value.clone()));
        self.persist(Record::Accept {
            slot,
            ballot,
            value: value.clone(),
        });
        let acks = BTreeSet::from([self.cfg.id]);
        self.inflight.insert(
            slot,
            InFlight {
                value: value.clone(),
                acks,
            },
        );
        self.unsent_accepts.push((slot, value));
        self.check_chosen(slot);
    }

    /// Send the accepts queued since the last `take_ready`, batched per peer.
    pub(super) fn flush_accepts(&mut self) {
        if self.unsent_accepts.is_empty() || self.role != Role::Leader {
            self.unsent_accepts.clear();
            return;
        }
        let all = std::mem::take(&mut self.unsent_accepts);
        let peers: Vec<NodeId> = self.peers().collect();
        for chunk in all.chunks(self.cfg.max_batch.max(1)) {
            for &p in &peers {
                let body = Body::Accept {
                    ballot: self.ballot,
                    entries: chunk.to_vec(),
                    commit: self.commit,
                };
                self.send(p, body);
            }
        }
    }

    /// Re-send the oldest unchosen proposals to the peers that have not accepted them.
    fn retransmit_accepts(&mut self) {
        let peers: Vec<NodeId> = self.peers().collect();
        for p in peers {
            let entries: Vec<(Slot, Value)> = self
                .inflight
                .iter()
                .filter(|(_, f)| !f.acks.contains(&p))
                .take(self.cfg.max_batch)
                .map(|(&s, f)| (s, f.value.clone()))
                .collect();
            if !entries.is_empty() {
                let body = Body::Accept {
                    ballot: self.ballot,
                    entries,
                    commit: self.commit,
                };
                self.send(p, body);
            }
        }
    }

    pub(super) fn on_accepted(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        slots: Vec<Slot>,
        commit: Slot,
    ) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.heard.insert(from);
        self.note_peer_commit(from, commit);
        for slot in slots {
            if let Some(f) = self.inflight.get_mut(&slot) {
                f.acks.insert(from);
                self.check_chosen(slot);
            }
        }
        self.advance_commit();
    }

    /// A proposal accepted by a majority in our ballot is chosen.
    fn check_chosen(&mut self, slot: Slot) {
        let Some(f) = self.inflight.get(&slot) else {
            return;
        };
        if f.acks.len() >= self.majority() {
            let value = f.value.clone();
            self.inflight.remove(&slot);
            self.mark_chosen(slot, value);
            self.advance_commit();
        }
    }

    fn note_peer_commit(&mut self, peer: NodeId, commit: Slot) {
        let e = self.peer_commit.entry(peer).or_insert(0);
        *e = (*e).max(commit);
    }

    pub(super) fn on_nack(&mut self, ballot: Ballot, promised: Ballot) {
        self.max_round_seen = self.max_round_seen.max(promised.round);
        if self.role != Role::Follower && ballot == self.ballot && promised > self.ballot {
            self.step_down();
        }
    }

    pub(super) fn on_heartbeat_ack(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        commit: Slot,
        read_round: u64,
    ) {
        if self.role != Role::Leader || ballot != self.ballot {
            return;
        }
        self.heard.insert(from);
        self.note_peer_commit(from, commit);
        let r = self.peer_read_round.entry(from).or_insert(0);
        *r = (*r).max(read_round);
        self.check_reads();
        self.catch_up(from);
    }

    pub(super) fn broadcast_heartbeat(&mut self) {
        let body = Body::Heartbeat {
            ballot: self.ballot,
            commit: self.commit,
            read_round: self.read_round,
        };
        let peers: Vec<NodeId> = self.peers().collect();
        for p in peers {
            self.send(p, body.clone());
        }
        self.read_round_unsent = false;
    }

    /// Give up candidacy or leadership: a higher ballot exists or no majority answers.
    pub(super) fn step_down(&mut self) {
        self.role = Role::Follower;
        self.leader = None;
        self.promises.clear();
        self.inflight.clear();
        self.unsent_accepts.clear();
        self.fail_reads();
        self.reset_election_timer();
    }
}
