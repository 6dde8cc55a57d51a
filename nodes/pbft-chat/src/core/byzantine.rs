//! Playing a Byzantine mode (only when told to: `Core::set_byzantine`). `silent`,
//! `bad-signature` and the suppression of honest votes under `forge-votes` are applied in
//! `Core::push`; this module holds the active misbehaviour: the equivocating primary's
//! split pre-prepares, echoed and forged votes, and replaying old messages.

use super::{Core, Dest};
use crate::message::{Payload, Signed};
use crate::types::{Digest, ReplicaId};
use std::collections::VecDeque;

/// Own messages kept for replaying.
const REPLAY_KEEP: usize = 256;
/// Old messages re-sent per tick in replay mode.
const REPLAY_PER_TICK: usize = 8;

/// The replica's own past messages, for replay mode.
#[derive(Debug, Default)]
pub(super) struct ReplayBuffer {
    msgs: VecDeque<Signed>,
    cursor: usize,
}

impl ReplayBuffer {
    /// Keep one of our own messages (not status, which changes anyway).
    pub(super) fn remember(&mut self, msg: &Signed, me: ReplicaId) {
        if msg.from != me || matches!(msg.payload, Payload::Status { .. }) {
            return;
        }
        if self.msgs.len() == REPLAY_KEEP {
            self.msgs.pop_front();
        }
        self.msgs.push_back(msg.clone());
    }
}

impl Core {
    /// Replay mode: re-send a few old messages, cycling through the buffer.
    pub(super) fn replay_old_messages(&mut self) {
        let len = self.replay.msgs.len();
        for _ in 0..REPLAY_PER_TICK.min(len) {
            let i = self.replay.cursor % len;
            self.replay.cursor = self.replay.cursor.wrapping_add(1);
            let msg = self.replay.msgs[i].clone();
            self.out
                .messages
                .push(super::Outgoing { to: Dest::All, msg });
        }
    }

    /// Equivocate mode as primary: take two pending requests and order them one way for the
    /// lowest-numbered other replica and the other way for everyone else, each side with
    /// the primary's commits to match.
    pub(super) fn equivocate_assign(&mut self) {
        while self.next_seq + 2 <= self.low + self.cfg.window {
            let Some(d1) = self.next_unassigned() else {
                return;
            };
            self.assigned.insert(d1);
            let Some(d2) = self.next_unassigned() else {
                self.assigned.remove(&d1);
                return;
            };
            self.assigned.insert(d2);
            let (a, b) = (self.next_seq + 1, self.next_seq + 2);
            self.next_seq += 2;
            let others: Vec<ReplicaId> = (1..=self.cfg.n).filter(|i| *i != self.cfg.id).collect();
            for (k, to) in others.iter().enumerate() {
                let order = if k == 0 { [d1, d2] } else { [d2, d1] };
                for (seq, digest) in [(a, order[0]), (b, order[1])] {
                    self.send_split(*to, seq, digest);
                }
            }
        }
    }

    fn send_split(&mut self, to: ReplicaId, seq: u64, digest: Digest) {
        let view = self.view;
        let request = self.pending.get(&digest).cloned();
        self.send(
            Dest::To(to),
            Payload::PrePrepare {
                view,
                seq,
                digest,
                request,
            },
        );
        self.send(Dest::To(to), Payload::Commit { view, seq, digest });
    }

    /// Forge-votes mode: agree with whatever `prepare`'s sender voted for, to it alone.
    pub(super) fn echo_votes(&mut self, prepare: &Signed) {
        let Payload::Prepare {
            view,
            seq,
            digest,
            pre_prepare,
        } = prepare.payload.clone()
        else {
            return;
        };
        let to = Dest::To(prepare.from);
        self.send(
            to,
            Payload::Prepare {
                view,
                seq,
                digest,
                pre_prepare,
            },
        );
        self.send(to, Payload::Commit { view, seq, digest });
    }

    /// Forge-votes mode: a commit for a digest nobody proposed, to every peer.
    pub(super) fn forge_commit(&mut self, view: u64, seq: u64) {
        let digest = Digest::of(format!("forged {view} {seq}").as_bytes());
        let me = self.cfg.id;
        for to in (1..=self.cfg.n).filter(|i| *i != me) {
            self.send(Dest::To(to), Payload::Commit { view, seq, digest });
        }
    }
}
