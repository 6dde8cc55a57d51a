//! View change: a replica that suspects the primary (a request timer ran out, or it caught
//! the primary lying) moves to the next view and sends VIEW-CHANGE with its stable
//! checkpoint and prepared certificates; f+1 view-changes for higher views pull a replica
//! along; the new primary, with 2f+1 of them, sends NEW-VIEW with the pre-prepares it
//! re-issues (the highest-view prepared request per sequence number, null requests in the
//! gaps); replicas recompute and check them before entering the view.

use super::{Core, DetectionKind, Phase};
use crate::message::{Payload, PreparedCert, Signed};
use crate::types::{Digest, ReplicaId, Request};
use std::collections::BTreeSet;

/// What a new view starts from, as computed from 2f+1 view-changes.
struct NewViewPlan {
    min_s: u64,
    proof: Vec<Signed>,
    pre_prepares: Vec<(u64, Digest, Option<Request>)>,
}

impl Core {
    /// Give up on the current view and ask for `target`.
    pub(super) fn start_view_change(&mut self, target: u64, attempt: u32) {
        if target < self.view || (target == self.view && self.phase != Phase::Normal) {
            return;
        }
        self.view = target;
        self.phase = Phase::ChangingTo {
            deadline: None,
            attempt,
        };
        self.request_deadline = None;
        let prepared: Vec<PreparedCert> = self
            .slots
            .range(self.low + 1..)
            .filter_map(|(_, s)| s.prepared_cert().cloned())
            .collect();
        self.event(format!(
            "view change to view {target} (new primary node {}), {} prepared requests carried",
            self.primary_of(target),
            prepared.len()
        ));
        let vc = self.broadcast(Payload::ViewChange {
            new_view: target,
            stable_seq: self.low,
            checkpoint_proof: self.stable_proof.clone(),
            prepared,
        });
        self.view_changes
            .entry(target)
            .or_default()
            .insert(self.cfg.id, vc);
        self.maybe_start_timer();
        self.maybe_send_new_view(target);
    }

    /// With 2f+1 view-changes for the view we wait for, start the new-view timer.
    fn maybe_start_timer(&mut self) {
        let Phase::ChangingTo {
            deadline: None,
            attempt,
        } = self.phase
        else {
            return;
        };
        let have = self.view_changes.get(&self.view).map_or(0, |v| v.len());
        if have >= self.quorum() {
            let timeout = self.cfg.view_change_timeout_ticks << attempt.min(5);
            self.phase = Phase::ChangingTo {
                deadline: Some(self.now + timeout),
                attempt,
            };
        }
    }

    /// Re-send our view-change while waiting (it may have been lost).
    pub(super) fn resend_view_change(&mut self) {
        let mine = self
            .view_changes
            .get(&self.view)
            .and_then(|v| v.get(&self.cfg.id))
            .cloned();
        if let Some(vc) = mine {
            self.push(super::Dest::All, vc);
        }
    }

    pub(super) fn on_view_change(&mut self, msg: Signed) {
        let Payload::ViewChange { new_view, .. } = msg.payload else {
            return;
        };
        if new_view < self.view || (new_view == self.view && self.phase == Phase::Normal) {
            return;
        }
        if !self.valid_view_change(&msg, new_view) {
            self.detect(msg.from, DetectionKind::InvalidViewChange);
            return;
        }
        self.view_changes
            .entry(new_view)
            .or_default()
            .insert(msg.from, msg);
        self.join_if_f_plus_one_ahead();
        self.maybe_start_timer();
        self.maybe_send_new_view(new_view);
    }

    /// f+1 replicas asking for views above ours: at least one is honest, so join the
    /// smallest such view.
    fn join_if_f_plus_one_ahead(&mut self) {
        let current = self.view;
        let above = |v: u64| v > current;
        let mut askers: BTreeSet<ReplicaId> = BTreeSet::new();
        let mut smallest = None;
        for (v, vcs) in self.view_changes.range(current..) {
            if !above(*v) {
                continue;
            }
            for from in vcs.keys() {
                if *from != self.cfg.id && askers.insert(*from) {
                    smallest = Some(smallest.map_or(*v, |s: u64| s.min(*v)));
                }
            }
        }
        if askers.len() > self.f() {
            if let Some(v) = smallest {
                self.start_view_change(v, 0);
            }
        }
    }

    fn maybe_send_new_view(&mut self, view: u64) {
        if self.primary_of(view) != self.cfg.id || self.view != view || self.phase == Phase::Normal
        {
            return;
        }
        let Some(vcs) = self.view_changes.get(&view) else {
            return;
        };
        if !vcs.contains_key(&self.cfg.id) || vcs.len() < self.quorum() {
            return;
        }
        let mut chosen: Vec<Signed> = vec![vcs[&self.cfg.id].clone()];
        chosen.extend(
            vcs.iter()
                .filter(|(from, _)| **from != self.cfg.id)
                .map(|(_, m)| m.clone())
                .take(self.quorum() - 1),
        );
        let mut plan = self.plan_new_view(&chosen);
        if self.cfg.bugs.no_view_change_check {
            // BUG no-view-change-check: prepared requests are not carried over.
            plan.pre_prepares.clear();
        }
        let pps: Vec<Signed> = plan
            .pre_prepares
            .iter()
            .map(|(seq, digest, request)| {
                Signed::new(
                    self.cfg.id,
                    Payload::PrePrepare {
                        view,
                        seq: *seq,
                        digest: *digest,
                        request: request.clone(),
                    },
                    self.signer.as_ref(),
                )
            })
            .collect();
        let nv = self.broadcast(Payload::NewView {
            view,
            view_changes: chosen,
            pre_prepares: pps.clone(),
        });
        self.new_view_msg = Some(nv);
        self.enter_view(view, plan.min_s, plan.proof, pps);
    }

    /// The new view's starting checkpoint and re-issued pre-prepares.
    fn plan_new_view(&self, vcs: &[Signed]) -> NewViewPlan {
        let mut plan = NewViewPlan {
            min_s: 0,
            proof: Vec::new(),
            pre_prepares: Vec::new(),
        };
        let mut certs: Vec<&PreparedCert> = Vec::new();
        for vc in vcs {
            if let Payload::ViewChange {
                stable_seq,
                checkpoint_proof,
                prepared,
                ..
            } = &vc.payload
            {
                if *stable_seq > plan.min_s || (plan.proof.is_empty() && *stable_seq == plan.min_s)
                {
                    plan.min_s = *stable_seq;
                    plan.proof = checkpoint_proof.clone();
                }
                certs.extend(prepared.iter());
            }
        }
        let max_s = certs
            .iter()
            .filter_map(|c| c.pre_prepare.payload.slot().map(|(_, s)| s))
            .max()
            .unwrap_or(0)
            .max(plan.min_s);
        for seq in plan.min_s + 1..=max_s {
            let best = certs
                .iter()
                .filter_map(|c| match &c.pre_prepare.payload {
                    Payload::PrePrepare {
                        view,
                        seq: s,
                        digest,
                        request,
                    } if *s == seq => Some((*view, *digest, request.clone())),
                    _ => None,
                })
                .max_by_key(|(view, digest, _)| (*view, *digest));
            plan.pre_prepares.push(match best {
                Some((_, digest, request)) => (seq, digest, request),
                None => (seq, Digest::null(), None),
            });
        }
        plan
    }

    pub(super) fn on_new_view(&mut self, msg: Signed) {
        let Payload::NewView {
            view,
            view_changes,
            pre_prepares,
        } = msg.payload.clone()
        else {
            return;
        };
        if msg.from != self.primary_of(view)
            || view < self.view
            || (view == self.view && self.phase == Phase::Normal)
        {
            return;
        }
        let plan = if self.cfg.bugs.no_view_change_check {
            // BUG no-view-change-check: the re-issued pre-prepares are taken as they come.
            let mut plan = self.plan_new_view(&view_changes);
            plan.pre_prepares.clear();
            plan
        } else {
            match self.check_new_view(view, &view_changes, &pre_prepares) {
                Some(plan) => plan,
                None => {
                    self.detect(msg.from, DetectionKind::InvalidNewView);
                    return;
                }
            }
        };
        self.new_view_msg = Some(msg);
        self.enter_view(view, plan.min_s, plan.proof, pre_prepares);
    }

    /// Recompute the new view from its view-changes; None if anything does not check out.
    fn check_new_view(&self, view: u64, vcs: &[Signed], pps: &[Signed]) -> Option<NewViewPlan> {
        let senders: BTreeSet<ReplicaId> = vcs.iter().map(|m| m.from).collect();
        if senders.len() != vcs.len() || vcs.len() < self.quorum() {
            return None;
        }
        if !vcs.iter().all(|vc| self.valid_view_change(vc, view)) {
            return None;
        }
        let plan = self.plan_new_view(vcs);
        if plan.pre_prepares.len() != pps.len() {
            return None;
        }
        let primary = self.primary_of(view);
        for ((seq, digest, _), pp) in plan.pre_prepares.iter().zip(pps) {
            let matches = matches!(&pp.payload,
                Payload::PrePrepare { view: v, seq: s, digest: d, .. }
                    if *v == view && s == seq && d == digest);
            if !matches || pp.from != primary || !self.check_sig(pp) {
                return None;
            }
        }
        Some(plan)
    }

    fn valid_view_change(&self, vc: &Signed, view: u64) -> bool {
        let Payload::ViewChange {
            new_view,
            stable_seq,
            checkpoint_proof,
            prepared,
        } = &vc.payload
        else {
            return false;
        };
        if *new_view != view || !self.check_sig(vc) {
            return false;
        }
        if self
            .checkpoint_proof_state(*stable_seq, checkpoint_proof)
            .is_none()
        {
            return false;
        }
        prepared
            .iter()
            .all(|c| self.valid_cert(c, *stable_seq, view))
    }

    fn valid_cert(&self, cert: &PreparedCert, stable_seq: u64, new_view: u64) -> bool {
        let Payload::PrePrepare {
            view,
            seq,
            digest,
            request,
        } = &cert.pre_prepare.payload
        else {
            return false;
        };
        let primary = self.primary_of(*view);
        let body_ok = match request {
            Some(r) => r.digest() == *digest,
            None => *digest == Digest::null(),
        };
        if cert.pre_prepare.from != primary
            || *view >= new_view
            || *seq <= stable_seq
            || !body_ok
            || !self.check_sig(&cert.pre_prepare)
        {
            return false;
        }
        let mut voters = BTreeSet::new();
        for p in &cert.prepares {
            let ok = matches!(&p.payload,
                Payload::Prepare { view: v, seq: s, digest: d, .. }
                    if v == view && s == seq && d == digest);
            if !ok || p.from == primary || !self.check_sig(p) {
                return false;
            }
            voters.insert(p.from);
        }
        voters.len() >= self.prepare_quorum()
    }

    /// Start `view` from checkpoint `min_s` with the given pre-prepares.
    fn enter_view(&mut self, view: u64, min_s: u64, proof: Vec<Signed>, pps: Vec<Signed>) {
        self.view = view;
        self.phase = Phase::Normal;
        self.view_changes = self.view_changes.split_off(&(view + 1));
        let mine = self.my_checkpoints.get(&min_s).copied();
        if min_s > self.low && mine.is_some() && self.checkpoint_proof_state(min_s, &proof) == mine
        {
            self.make_stable(min_s, proof);
        }
        self.assigned.clear();
        self.next_seq = min_s.max(self.low);
        for pp in &pps {
            if let Payload::PrePrepare { seq, digest, .. } = &pp.payload {
                self.next_seq = self.next_seq.max(*seq);
                self.assigned.insert(*digest);
            }
        }
        self.event(format!(
            "entered view {view} (primary node {}), {} pre-prepares re-issued",
            self.primary_of(view),
            pps.len()
        ));
        let seqs: Vec<u64> = pps
            .iter()
            .filter_map(|p| p.payload.slot().map(|s| s.1))
            .collect();
        for pp in pps {
            self.on_pre_prepare(pp, true);
        }
        for seq in seqs {
            self.check_progress(seq);
        }
        self.request_deadline =
            (!self.pending.is_empty()).then_some(self.now + self.cfg.request_timeout_ticks);
        if self.is_primary() {
            self.try_assign();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::{Core, CoreConfig, Dest, DetectionKind};
    use crate::crypto::SimKeys;
    use crate::faults::{Bug, Bugs};
    use crate::types::Request;

    fn cores(buggy: u64) -> Vec<Core> {
        let keys = SimKeys::new(4, 9);
        (1..=4)
            .map(|id| {
                let mut cc = CoreConfig::new(id, 4);
                if id == buggy {
                    cc.bugs = Bugs::from_list(&[Bug::NoViewChangeCheck]);
                }
                Core::new(cc, Box::new(keys.signer(id)), Box::new(keys.clone()))
            })
            .collect()
    }

    /// Deliver every queued message (node 1 is down from `down` on) until quiet.
    fn settle(cores: &mut [Core], down: Option<u64>) {
        loop {
            let mut queue = Vec::new();
            for c in cores.iter_mut() {
                let from = c.id();
                for o in c.take_output().messages {
                    queue.push((from, o));
                }
            }
            if queue.is_empty() {
                return;
            }
            for (from, o) in queue {
                for to in 1..=4u64 {
                    let addressed = match o.to {
                        Dest::All => to != from,
                        Dest::To(t) => t == to,
                    };
                    if addressed && Some(to) != down && Some(from) != down {
                        cores[(to - 1) as usize].on_message(o.msg.clone());
                    }
                }
            }
        }
    }

    fn request(ts: u64) -> Request {
        Request {
            client: "c".into(),
            timestamp: ts,
            message: format!("m{ts}"),
        }
    }

    #[test]
    fn replicas_refuse_a_new_view_that_drops_a_prepared_request() {
        let mut cores = cores(2);
        for c in cores.iter_mut() {
            c.on_request(request(1));
        }
        settle(&mut cores, None);
        assert!(cores.iter().all(|c| c.last_executed() == 1));
        // Node 1 dies; a request only the backups hold times out and they change view.
        for c in cores[1..].iter_mut() {
            c.on_request(request(2));
        }
        for _ in 0..150 {
            for c in cores[1..].iter_mut() {
                c.on_tick();
            }
            settle(&mut cores, Some(1));
        }
        // Node 2 (buggy) re-issued nothing although seq 1 was prepared: 3 and 4 refuse.
        for c in &cores[2..] {
            assert!(
                c.detected()
                    .iter()
                    .any(|d| d.node == 2 && d.kind == DetectionKind::InvalidNewView),
                "node {} accepted the bad new-view: {:?}",
                c.id(),
                c.detected()
            );
            assert_eq!(c.delivered().len(), 1);
        }
    }

    #[test]
    fn a_correct_new_primary_carries_prepared_requests_and_progress_continues() {
        let mut cores = cores(0);
        for c in cores.iter_mut() {
            c.on_request(request(1));
        }
        settle(&mut cores, None);
        for c in cores[1..].iter_mut() {
            c.on_request(request(2));
        }
        for _ in 0..150 {
            for c in cores[1..].iter_mut() {
                c.on_tick();
            }
            settle(&mut cores, Some(1));
        }
        for c in &cores[1..] {
            assert_eq!(c.view(), 1, "node {}", c.id());
            assert!(c.detected().is_empty(), "{:?}", c.detected());
            let msgs: Vec<&str> = c.delivered().iter().map(|e| e.message.as_str()).collect();
            assert_eq!(msgs, ["m1", "m2"], "node {}", c.id());
        }
    }
}
