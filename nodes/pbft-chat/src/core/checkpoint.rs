//! Checkpoints and what hangs off them: the state digest every K requests, 2f+1 matching
//! checkpoint messages making it stable (the low watermark moves up and the log below it is
//! garbage-collected), and catching up a lagging replica: on its status message, peers
//! re-send the pre-prepare and commits of slots it missed, or a state transfer (entries up
//! to a stable checkpoint, checked against the checkpoint's state digest), or the new-view
//! it missed.

use super::{Core, Dest, Phase};
use crate::message::{Payload, Signed};
use crate::types::{Digest, Entry, ReplicaId};
use std::collections::BTreeMap;

/// Slots re-sent to a lagging replica per status message.
const RESEND_SLOTS: u64 = 32;

impl Core {
    pub(super) fn take_checkpoint(&mut self, seq: u64) {
        self.my_checkpoints.insert(seq, self.state);
        let msg = self.broadcast(Payload::Checkpoint {
            seq,
            state: self.state,
        });
        self.on_checkpoint(msg);
    }

    pub(super) fn on_checkpoint(&mut self, msg: Signed) {
        let Payload::Checkpoint { seq, .. } = msg.payload else {
            return;
        };
        if seq <= self.low || seq > self.low + 4 * self.cfg.window {
            return;
        }
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(msg.from, msg);
        self.try_stabilize(seq);
    }

    /// If 2f+1 replicas agree with our own state at `seq`, make it stable.
    fn try_stabilize(&mut self, seq: u64) {
        let Some(mine) = self.my_checkpoints.get(&seq).copied() else {
            return;
        };
        let proof: Vec<Signed> = self
            .checkpoint_votes
            .get(&seq)
            .map(|votes| {
                votes
                    .values()
                    .filter(|m| checkpoint_state(m) == Some(mine))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if proof.len() >= self.quorum() {
            self.make_stable(seq, proof);
            self.assign_if_primary();
        }
    }

    /// Move the low watermark to `seq` and drop everything below it.
    pub(super) fn make_stable(&mut self, seq: u64, proof: Vec<Signed>) {
        if seq <= self.low {
            return;
        }
        self.low = seq;
        self.stable_proof = proof;
        self.slots = self.slots.split_off(&(seq + 1));
        self.checkpoint_votes = self.checkpoint_votes.split_off(&(seq + 1));
        self.my_checkpoints = self.my_checkpoints.split_off(&seq);
        if self.next_seq < seq {
            self.next_seq = seq;
        }
    }

    /// As primary in a normal view, assign what the window now allows.
    pub(super) fn assign_if_primary(&mut self) {
        if self.is_primary() && self.phase == Phase::Normal {
            self.try_assign();
        }
    }

    /// The state digest a valid proof of a checkpoint at `seq` certifies (2f+1 distinct,
    /// validly signed, matching checkpoint messages); `Some(default)` for seq 0.
    pub(super) fn checkpoint_proof_state(&self, seq: u64, proof: &[Signed]) -> Option<Digest> {
        if seq == 0 {
            return Some(Digest::default());
        }
        let mut by_state: BTreeMap<Digest, Vec<ReplicaId>> = BTreeMap::new();
        for m in proof {
            let Payload::Checkpoint { seq: s, state } = m.payload else {
                return None;
            };
            if s != seq || !self.check_sig(m) {
                return None;
            }
            let who = by_state.entry(state).or_default();
            if !who.contains(&m.from) {
                who.push(m.from);
            }
        }
        by_state
            .into_iter()
            .find(|(_, who)| who.len() >= self.quorum())
            .map(|(state, _)| state)
    }

    pub(super) fn on_status(
        &mut self,
        from: ReplicaId,
        view: u64,
        changing: bool,
        last_executed: u64,
    ) {
        let behind_view = view < self.view || (view == self.view && changing);
        if behind_view && self.phase == Phase::Normal {
            if let Some(nv) = self.new_view_msg.clone() {
                self.push(Dest::To(from), nv);
            }
        }
        if last_executed >= self.last_executed {
            return;
        }
        if last_executed < self.low {
            self.send_state_transfer(from, last_executed);
        }
        if self.phase != Phase::Normal {
            return;
        }
        let first = last_executed.max(self.low) + 1;
        let last = self.last_executed.min(first + RESEND_SLOTS);
        for seq in first..=last {
            self.resend_slot(from, seq);
        }
    }

    fn send_state_transfer(&mut self, to: ReplicaId, after: u64) {
        let entries: Vec<Entry> = self
            .delivered
            .iter()
            .filter(|e| e.seq > after && e.seq <= self.low)
            .cloned()
            .collect();
        let payload = Payload::StateTransfer {
            seq: self.low,
            proof: self.stable_proof.clone(),
            entries,
        };
        self.send(Dest::To(to), payload);
    }

    /// Install entries up to a stable checkpoint if they chain to its certified state.
    pub(super) fn on_state_transfer(&mut self, msg: Signed) {
        let Payload::StateTransfer {
            seq,
            proof,
            entries,
        } = msg.payload
        else {
            return;
        };
        if seq <= self.last_executed {
            return;
        }
        let Some(certified) = self.checkpoint_proof_state(seq, &proof) else {
            return;
        };
        let mut state = self.state;
        let mut prev = self.last_executed;
        for e in &entries {
            if e.seq <= prev || e.seq > seq {
                return;
            }
            prev = e.seq;
            state = state.chain(e.seq, &e.request().digest());
        }
        if state != certified {
            return;
        }
        let view = self.view;
        for e in &entries {
            self.deliver(e.seq, view, &e.request());
        }
        self.last_executed = seq;
        self.my_checkpoints.insert(seq, certified);
        self.event(format!(
            "state transfer from node {}: installed {} entries up to checkpoint {seq}",
            msg.from,
            entries.len()
        ));
        self.make_stable(seq, proof);
        self.assign_if_primary();
        self.request_deadline =
            (!self.pending.is_empty()).then_some(self.now + self.cfg.request_timeout_ticks);
        self.try_execute();
    }
}

fn checkpoint_state(m: &Signed) -> Option<Digest> {
    match m.payload {
        Payload::Checkpoint { state, .. } => Some(state),
        _ => None,
    }
}
