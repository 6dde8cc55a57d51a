//! The acceptor: answers prepares with promises (persisting the promise first, unless the
//! `forget-promise` bug is on) and accepts with accepted (persisting the value first),
//! refusing lower ballots with a nack; follows the leader whose ballot stands (heartbeats).

use super::core::{Core, Role};
use super::types::{AcceptedEntry, Ballot, Body, NodeId, Record, Slot, Value};

impl Core {
    /// True while this replica leads, or a leader other than `candidate` was heard from
    /// recently: prepares from others are ignored then (a leader that loses its majority
    /// steps down by itself), so one node's timeout does not depose a working leader.
    fn leader_is_alive(&self, candidate: NodeId) -> bool {
        if self.role == Role::Leader {
            return true;
        }
        match self.leader {
            Some(l) => l != candidate && self.since_leader < self.cfg.election_ticks.0,
            None => false,
        }
    }

    /// Note a ballot seen in a message; a higher one than ours deposes our own candidacy
    /// or leadership.
    pub(super) fn observe_ballot(&mut self, ballot: Ballot) {
        self.max_round_seen = self.max_round_seen.max(ballot.round);
        if self.role != Role::Follower && ballot > self.ballot {
            self.step_down();
        }
    }

    /// Raise the promise to `ballot`, persisting it (the bug skips the persistence).
    fn promise(&mut self, ballot: Ballot) {
        if ballot > self.promised {
            self.promised = ballot;
            if !self.cfg.bugs.forget_promise {
                self.persist(Record::Promise(ballot));
            }
        }
    }

    pub(super) fn on_prepare(&mut self, from: NodeId, ballot: Ballot, from_slot: Slot) {
        if ballot > self.promised && self.leader_is_alive(from) {
            self.max_round_seen = self.max_round_seen.max(ballot.round);
            return;
        }
        self.observe_ballot(ballot);
        if ballot < self.promised {
            self.send(
                from,
                Body::Nack {
                    ballot,
                    promised: self.promised,
                },
            );
            return;
        }
        if from_slot <= self.snapshot_slot() {
            // The candidate lacks slots this replica compacted: send it the snapshot
            // instead of a promise; it will try again once caught up.
            self.send_snapshot(from);
            return;
        }
        self.promise(ballot);
        self.leader = None;
        self.reset_election_timer();
        let accepted = self
            .accepted
            .range(from_slot..)
            .map(|(&slot, (b, v))| AcceptedEntry {
                slot,
                ballot: *b,
                value: v.clone(),
            })
            .collect();
        self.send(
            from,
            Body::Promise {
                ballot,
                accepted,
                commit: self.commit,
            },
        );
    }

    /// Follow the leader of `ballot` (a message from it arrived and its ballot stands).
    fn follow(&mut self, ballot: Ballot) {
        self.leader = Some(ballot.node);
        self.since_leader = 0;
        self.reset_election_timer();
    }

    pub(super) fn on_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        entries: Vec<(Slot, Value)>,
        commit: Slot,
    ) {
        self.observe_ballot(ballot);
        if ballot < self.promised {
            let promised = self.promised;
            self.send(from, Body::Nack { ballot, promised });
            return;
        }
        // Accepting in a ballot implies promising it; the accept record carries the ballot.
        self.promised = ballot;
        self.follow(ballot);
        let snap = self.snapshot_slot();
        let mut slots = Vec::with_capacity(entries.len());
        for (slot, value) in entries {
            if slot > snap && !self.chosen.contains_key(&slot) {
                self.accepted.insert(slot, (ballot, value.clone()));
                self.persist(Record::Accept {
                    slot,
                    ballot,
                    value,
                });
            }
            slots.push(slot);
        }
        self.learn_up_to(ballot, commit);
        self.send(
            from,
            Body::Accepted {
                ballot,
                slots,
                commit: self.commit,
            },
        );
    }

    pub(super) fn on_heartbeat(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        commit: Slot,
        read_round: u64,
    ) {
        self.observe_ballot(ballot);
        if ballot < self.promised {
            let promised = self.promised;
            self.send(from, Body::Nack { ballot, promised });
            return;
        }
        self.follow(ballot);
        self.learn_up_to(ballot, commit);
        self.send(
            from,
            Body::HeartbeatAck {
                ballot,
                commit: self.commit,
                read_round,
            },
        );
    }
}
