//! The learner: which values are chosen (accepted by a majority in one ballot), the
//! gap-free chosen prefix handed out in order to be applied, catch-up of lagging replicas
//! by chosen values or, when the leader compacted them away, by its snapshot.

use super::core::Core;
use super::types::{Ballot, Body, NodeId, Record, Slot, SnapshotData, Value};

impl Core {
    /// Record `value` as chosen in `slot` (persisted; a no-op for known or compacted slots).
    pub(super) fn mark_chosen(&mut self, slot: Slot, value: Value) {
        if slot <= self.commit || self.chosen.contains_key(&slot) {
            return;
        }
        self.persist(Record::Chosen {
            slot,
            value: value.clone(),
        });
        self.chosen.insert(slot, value);
    }

    /// The leader of `ballot` says every slot up to `leader_commit` is chosen: the slots
    /// this replica accepted in that same ballot hold the chosen value (a leader proposes
    /// one value per slot per ballot).
    pub(super) fn learn_up_to(&mut self, ballot: Ballot, leader_commit: Slot) {
        let mut slot = self.commit + 1;
        while slot <= leader_commit {
            if !self.chosen.contains_key(&slot) {
                match self.accepted.get(&slot) {
                    Some((b, v)) if *b == ballot => {
                        let v = v.clone();
                        self.mark_chosen(slot, v);
                    }
                    _ => break,
                }
            }
            slot += 1;
        }
        self.advance_commit();
    }

    /// Extend the gap-free chosen prefix and hand the new part out to be applied.
    pub(super) fn advance_commit(&mut self) {
        while self.chosen.contains_key(&(self.commit + 1)) {
            self.commit += 1;
        }
        while self.applied < self.commit {
            self.applied += 1;
            let value = self.chosen[&self.applied].clone();
            self.out.apply.push((self.applied, value));
        }
        self.check_reads();
    }

    pub(super) fn on_learn(&mut self, from: NodeId, ballot: Ballot, entries: Vec<(Slot, Value)>) {
        self.observe_ballot(ballot);
        for (slot, value) in entries {
            self.mark_chosen(slot, value);
        }
        self.advance_commit();
        self.send(
            from,
            Body::HeartbeatAck {
                ballot,
                commit: self.commit,
                read_round: 0,
            },
        );
    }

    pub(super) fn on_snapshot(&mut self, from: NodeId, ballot: Ballot, slot: Slot, data: String) {
        self.observe_ballot(ballot);
        if slot > self.commit {
            let snap = SnapshotData { slot, data };
            self.snapshot = Some(snap.clone());
            self.accepted = self.accepted.split_off(&(slot + 1));
            self.chosen = self.chosen.split_off(&(slot + 1));
            self.commit = slot;
            self.applied = slot;
            self.out.snapshot = Some(snap.clone());
            self.out.install = Some(snap);
            self.out.apply.clear();
            self.out.rewrite = Some(self.all_records());
            self.out.persist.clear();
            self.advance_commit();
        }
        self.send(
            from,
            Body::HeartbeatAck {
                ballot,
                commit: self.commit,
                read_round: 0,
            },
        );
    }

    pub(super) fn send_snapshot(&mut self, to: NodeId) {
        if let Some(s) = self.snapshot.clone() {
            let ballot = self.ballot.max(self.promised);
            self.send(
                to,
                Body::Snapshot {
                    ballot,
                    slot: s.slot,
                    data: s.data,
                },
            );
        }
    }

    /// Leader: if `peer` reported a shorter chosen prefix, send it the next chosen values
    /// (or the snapshot when they were compacted), one batch at a time.
    pub(super) fn catch_up(&mut self, peer: NodeId) {
        let theirs = self.peer_commit.get(&peer).copied().unwrap_or(0);
        if theirs >= self.commit {
            return;
        }
        if self
            .catchup_sent
            .get(&peer)
            .is_some_and(|&upto| upto > theirs)
        {
            return; // a batch is on its way; the next ack or heartbeat moves on
        }
        if theirs < self.snapshot_slot() {
            self.catchup_sent.insert(peer, self.snapshot_slot());
            self.send_snapshot(peer);
            return;
        }
        let entries: Vec<(Slot, Value)> = self
            .chosen
            .range(theirs + 1..=self.commit)
            .take(self.cfg.max_batch)
            .map(|(&s, v)| (s, v.clone()))
            .collect();
        if let Some(&(last, _)) = entries.last() {
            self.catchup_sent.insert(peer, last);
            let ballot = self.ballot;
            self.send(peer, Body::Learn { ballot, entries });
        }
    }
}
