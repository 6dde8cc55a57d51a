//! The normal case: client requests, the primary's pre-prepares, prepares, commits, and
//! execution in sequence order with per-client replay protection.

use super::{Accepted, ClientRecord, Core, Dest, DetectionKind, Phase, RequestOutcome, Slot};
use crate::faults::Mode;
use crate::message::{Payload, PreparedCert, Signed};
use crate::types::{Digest, Entry, Reply, Request};

impl Core {
    /// A client request arrived (from the client itself).
    pub fn on_request(&mut self, request: Request) -> RequestOutcome {
        if let Some(rec) = self.clients.get(&request.client) {
            if request.timestamp == rec.reply.timestamp {
                return RequestOutcome::Done(rec.reply.clone());
            }
            if request.timestamp < rec.reply.timestamp {
                return RequestOutcome::Stale {
                    last: rec.reply.timestamp,
                };
            }
        }
        let digest = request.digest();
        if self.pending.insert(digest, request).is_none() {
            self.order.push_back(digest);
        }
        if self.request_deadline.is_none() {
            self.request_deadline = Some(self.now + self.cfg.request_timeout_ticks);
        }
        self.endorse_waiting(digest);
        if self.is_primary() && self.phase == Phase::Normal {
            self.try_assign();
        }
        RequestOutcome::Accepted
    }

    /// As primary, give sequence numbers to pending requests, within the watermarks.
    pub(super) fn try_assign(&mut self) {
        if self.byzantine == Some(Mode::Equivocate) {
            self.equivocate_assign();
            return;
        }
        while self.next_seq < self.low + self.cfg.window {
            let Some(digest) = self.next_unassigned() else {
                return;
            };
            let request = self.pending[&digest].clone();
            self.assigned.insert(digest);
            self.next_seq += 1;
            let payload = Payload::PrePrepare {
                view: self.view,
                seq: self.next_seq,
                digest,
                request: Some(request),
            };
            let pp = self.broadcast(payload);
            self.on_pre_prepare(pp, true);
        }
    }

    /// The oldest pending request not yet given a sequence number in this view.
    pub(super) fn next_unassigned(&mut self) -> Option<crate::types::Digest> {
        while let Some(d) = self.order.front().copied() {
            if !self.pending.contains_key(&d) {
                self.order.pop_front();
                continue;
            }
            if self.assigned.contains(&d) {
                // Keep it queued for a later view, look further.
                return self
                    .order
                    .iter()
                    .find(|d| self.pending.contains_key(d) && !self.assigned.contains(d))
                    .copied();
            }
            return Some(d);
        }
        None
    }

    /// Check a pre-prepare and store it; `certified` when it comes from this replica as
    /// primary or from a checked new-view (then the request need not come from a client).
    pub(super) fn on_pre_prepare(&mut self, pp: Signed, certified: bool) {
        let Payload::PrePrepare {
            view,
            seq,
            digest,
            request,
        } = pp.payload.clone()
        else {
            return;
        };
        if pp.from != self.primary_of(view) || !self.in_window(seq) || view > self.view + 2 {
            return;
        }
        let body_ok = match &request {
            Some(r) => r.digest() == digest,
            None => digest == Digest::null(),
        };
        if !body_ok {
            self.detect(pp.from, DetectionKind::ForgedVote);
            return;
        }
        let slot = self.slots.entry(seq).or_default();
        if let Some(old) = slot.pre_prepares.get(&view) {
            if old.digest != digest {
                let proof = old.signed.clone();
                self.prove_equivocation(view, seq, proof, pp);
            }
            return;
        }
        slot.pre_prepares.insert(
            view,
            Accepted {
                digest,
                request: request.clone(),
                signed: pp,
                endorsed: false,
            },
        );
        let from_client = request
            .as_ref()
            .is_some_and(|r| self.pending.contains_key(&r.digest()) || self.executed(r));
        if view == self.view && self.phase == Phase::Normal && (certified || from_client) {
            self.endorse(seq);
        }
        self.check_progress(seq);
    }

    /// Two pre-prepares the primary signed for one slot: report it, and (once per slot)
    /// relay both to everyone, so every replica holds the proof and changes view.
    fn prove_equivocation(&mut self, view: u64, seq: u64, a: Signed, b: Signed) {
        let primary = a.from;
        if self.equivocations.insert((view, seq)) {
            self.push(Dest::All, a);
            self.push(Dest::All, b);
        }
        self.detect(primary, DetectionKind::Equivocation);
    }

    fn executed(&self, r: &Request) -> bool {
        self.clients
            .get(&r.client)
            .is_some_and(|c| c.reply.timestamp >= r.timestamp)
    }

    pub(super) fn in_window(&self, seq: u64) -> bool {
        seq > self.low && seq <= self.low + self.cfg.window
    }

    /// Send this replica's prepare for the current view's pre-prepare at `seq`.
    fn endorse(&mut self, seq: u64) {
        let view = self.view;
        let is_primary = self.primary_of(view) == self.cfg.id;
        let Some(acc) = self
            .slots
            .get_mut(&seq)
            .and_then(|s| s.pre_prepares.get_mut(&view))
        else {
            return;
        };
        if acc.endorsed {
            return;
        }
        acc.endorsed = true;
        if is_primary {
            return;
        }
        let (digest, pp) = (acc.digest, acc.signed.clone());
        let prepare = self.broadcast(Payload::Prepare {
            view,
            seq,
            digest,
            pre_prepare: Box::new(pp),
        });
        self.store_vote(prepare);
        if self.byzantine == Some(Mode::ForgeVotes) {
            self.forge_commit(view, seq);
        }
    }

    /// A client request arrived for which a pre-prepare was waiting.
    fn endorse_waiting(&mut self, digest: Digest) {
        if self.phase != Phase::Normal {
            return;
        }
        let view = self.view;
        let seqs: Vec<u64> = self
            .slots
            .iter()
            .filter(|(_, s)| {
                s.pre_prepares
                    .get(&view)
                    .is_some_and(|a| a.digest == digest && !a.endorsed)
            })
            .map(|(seq, _)| *seq)
            .collect();
        for seq in seqs {
            self.endorse(seq);
            self.check_progress(seq);
        }
    }

    pub(super) fn on_prepare(&mut self, msg: Signed) {
        let Payload::Prepare {
            view,
            seq,
            digest,
            pre_prepare,
        } = msg.payload.clone()
        else {
            return;
        };
        if !self.in_window(seq) || view > self.view + 2 || msg.from == self.primary_of(view) {
            return;
        }
        let genuine = pre_prepare.from == self.primary_of(view)
            && pre_prepare.payload.slot() == Some((view, seq))
            && matches!(&pre_prepare.payload, Payload::PrePrepare { digest: d, .. } if *d == digest)
            && self.check_sig(&pre_prepare);
        if !genuine {
            self.detect(msg.from, DetectionKind::ForgedVote);
            return;
        }
        if matches!(self.byzantine, Some(Mode::ForgeVotes | Mode::Collude)) {
            self.echo_votes(&msg);
        }
        // What the primary told the sender, against what it told us.
        self.on_pre_prepare(*pre_prepare, false);
        self.store_vote(msg);
        self.check_progress(seq);
    }

    pub(super) fn on_commit(&mut self, msg: Signed) {
        let Some((view, seq)) = msg.payload.slot() else {
            return;
        };
        if !self.in_window(seq) || view > self.view + 2 {
            return;
        }
        self.store_vote(msg);
        self.check_progress(seq);
    }

    /// Store a prepare or commit; a second, different vote for the same slot and view is a
    /// contradiction.
    pub(super) fn store_vote(&mut self, msg: Signed) {
        let (view, seq, digest, is_prepare) = match &msg.payload {
            Payload::Prepare {
                view, seq, digest, ..
            } => (*view, *seq, *digest, true),
            Payload::Commit { view, seq, digest } => (*view, *seq, *digest, false),
            _ => return,
        };
        let from = msg.from;
        let slot = self.slots.entry(seq).or_default();
        let votes = if is_prepare {
            &mut slot.prepares
        } else {
            &mut slot.commits
        };
        let contradiction = match votes.get(&(view, from)) {
            Some(old) => vote_digest(old) != Some(digest),
            None => {
                votes.insert((view, from), msg);
                false
            }
        };
        if contradiction {
            self.detect(from, DetectionKind::ContradictoryVotes);
        }
    }

    /// Move a slot forward: prepared → send commit; committed → execute.
    pub(super) fn check_progress(&mut self, seq: u64) {
        self.check_prepared(seq);
        self.check_committed(seq);
        self.try_execute();
    }

    fn check_prepared(&mut self, seq: u64) {
        let view = self.view;
        let need = self.prepare_quorum();
        let primary = self.primary_of(view);
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        let Some(acc) = slot.pre_prepares.get(&view) else {
            return;
        };
        if slot.commit_sent.contains(&view) || self.phase != Phase::Normal {
            return;
        }
        let prepares: Vec<Signed> = slot
            .prepares
            .range((view, 0)..=(view, u64::MAX))
            .filter(|((_, from), m)| *from != primary && vote_digest(m) == Some(acc.digest))
            .map(|(_, m)| m.clone())
            .collect();
        if prepares.len() < need {
            return;
        }
        let digest = acc.digest;
        slot.prepared = Some(PreparedCert {
            pre_prepare: acc.signed.clone(),
            prepares,
        });
        slot.commit_sent.insert(view);
        let commit = self.broadcast(Payload::Commit { view, seq, digest });
        self.store_vote(commit);
    }

    /// Committed once some view's pre-prepare has a commit quorum behind it.
    fn check_committed(&mut self, seq: u64) {
        let need = self.commit_quorum();
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        if slot.committed.is_some() {
            return;
        }
        for (view, acc) in &slot.pre_prepares {
            let votes = slot
                .commits
                .range((*view, 0)..=(*view, u64::MAX))
                .filter(|(_, m)| vote_digest(m) == Some(acc.digest))
                .count();
            if votes >= need {
                slot.committed = Some((*view, acc.digest, acc.request.clone()));
                return;
            }
        }
    }

    /// Execute committed slots in sequence order.
    pub(super) fn try_execute(&mut self) {
        loop {
            let seq = self.last_executed + 1;
            let Some((view, _, request)) = self.slots.get(&seq).and_then(|s| s.committed.clone())
            else {
                return;
            };
            self.execute(seq, view, request);
        }
    }

    fn execute(&mut self, seq: u64, view: u64, request: Option<Request>) {
        self.last_executed = seq;
        if let Some(r) = request {
            let digest = r.digest();
            self.pending.remove(&digest);
            if !self.executed(&r) {
                self.deliver(seq, view, &r);
            }
        }
        self.request_deadline = if self.pending.is_empty() {
            None
        } else {
            Some(self.now + self.cfg.request_timeout_ticks)
        };
        if seq.is_multiple_of(self.cfg.checkpoint_interval) {
            self.take_checkpoint(seq);
        }
    }

    /// Append to the delivered log and answer the client.
    pub(super) fn deliver(&mut self, seq: u64, view: u64, r: &Request) {
        let digest = r.digest();
        self.state = self.state.chain(seq, &digest);
        let entry = Entry::new(seq, r);
        self.delivered.push(entry.clone());
        self.out.executed.push(entry);
        let reply = Reply {
            view,
            seq,
            replica: self.cfg.id,
            client: r.client.clone(),
            timestamp: r.timestamp,
            result: "delivered".into(),
        };
        self.out.replies.push(reply.clone());
        self.clients
            .insert(r.client.clone(), ClientRecord { reply });
        let stale: Vec<Digest> = self
            .pending
            .iter()
            .filter(|(_, p)| p.client == r.client && p.timestamp <= r.timestamp)
            .map(|(d, _)| *d)
            .collect();
        for d in stale {
            self.pending.remove(&d);
        }
    }

    /// Send a committed slot's certificate (its pre-prepare and the 2f+1 matching commits,
    /// of whatever view it committed in) to a lagging replica: a commit certificate proves
    /// itself, so the receiver can execute from it even while in another view.
    pub(super) fn resend_slot(&mut self, to: u64, seq: u64) {
        let Some(slot) = self.slots.get(&seq) else {
            return;
        };
        let Some((view, digest, _)) = slot.committed.clone() else {
            return;
        };
        let Some(acc) = slot.pre_prepares.get(&view) else {
            return;
        };
        let mut msgs: Vec<Signed> = vec![acc.signed.clone()];
        msgs.extend(
            slot.commits
                .range((view, 0)..=(view, u64::MAX))
                .filter(|(_, m)| vote_digest(m) == Some(digest))
                .map(|(_, m)| m.clone()),
        );
        for m in msgs {
            self.push(Dest::To(to), m);
        }
    }
}

/// The digest a prepare or commit votes for.
pub(super) fn vote_digest(m: &Signed) -> Option<Digest> {
    match &m.payload {
        Payload::Prepare { digest, .. } | Payload::Commit { digest, .. } => Some(*digest),
        _ => None,
    }
}

impl Slot {
    /// Highest-view prepared certificate held (for view changes).
    pub(super) fn prepared_cert(&self) -> Option<&PreparedCert> {
        self.prepared.as_ref()
    }
}
