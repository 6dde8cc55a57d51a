//! The pure bully election core: messages and clock readings in, messages and log lines out.
//! No I/O, no clock, no randomness: the caller passes `now` (milliseconds on its own monotonic
//! clock) to every call, so the same core runs in real processes and in the deterministic
//! simulation.
//!
//! Classic mode is Garcia-Molina's bully algorithm: a node that misses its coordinator's
//! heartbeats (or starts, or hears a lower node claim to lead) sends ELECTION to every higher
//! id; a higher node answers OK and runs its own election; a node that gets no OK announces
//! itself with COORDINATOR and then sends heartbeats. Under a partition each side elects its
//! own highest id: two leaders.
//!
//! Quorum mode adds leases: a follower acknowledges a leader's COORDINATOR or heartbeat and
//! thereby promises not to acknowledge any other leader for `promise_ms` (at least the lease);
//! a leader acts only while acknowledgements of messages it sent less than `lease_ms` ago
//! come from a majority of all nodes, itself included (it acknowledges itself under the same
//! promise). Two majorities share a node, and that node's promise keeps their leases apart in
//! time, so two leaders never act at once, whatever the partition. A node that starts makes no
//! promise for `promise_ms`, since it may have made one before a crash.

use crate::message::{Body, Message};
use std::collections::BTreeMap;

/// Timeouts of the core, in milliseconds of the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A leader sends a heartbeat this often.
    pub heartbeat_ms: u64,
    /// A follower that hears nothing from its coordinator this long starts an election; a
    /// node that starts listens this long before its first election.
    pub leader_timeout_ms: u64,
    /// A candidate that gets no OK from a higher node this long becomes coordinator.
    pub answer_timeout_ms: u64,
    /// A candidate that got an OK but no COORDINATOR this long starts again.
    pub coordinator_timeout_ms: u64,
    /// Quorum mode: an acknowledgement counts for this long after the acknowledged message
    /// was sent (leader's clock).
    pub lease_ms: u64,
    /// Quorum mode: how long a follower's acknowledgement binds it (>= lease, plus a margin
    /// for clock rate differences).
    pub promise_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            heartbeat_ms: 50,
            leader_timeout_ms: 300,
            answer_timeout_ms: 100,
            coordinator_timeout_ms: 300,
            lease_ms: 250,
            promise_ms: 300,
        }
    }
}

/// What a core needs to know about its cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// This node's id.
    pub id: u64,
    /// Every node's id, this one included.
    pub nodes: Vec<u64>,
    /// Lease mode: act only with a majority's acknowledgements.
    pub quorum: bool,
    /// Timeouts.
    pub timing: Timing,
}

/// Where a node is in the algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Follower,
    AwaitingAnswers { until: u64 },
    AwaitingCoordinator { until: u64 },
    Leader { epoch: u64, next_heartbeat: u64 },
}

/// The role as reported in `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// Acting as leader (in quorum mode: coordinator with a lease).
    Leader,
    /// Follows a coordinator, or knows none yet.
    Follower,
    /// Running an election, or (quorum mode) coordinator without a lease.
    Candidate,
}

/// A node's view, as `/status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The role name.
    pub role: RoleName,
    /// Who this node thinks leads (itself when it is coordinator).
    pub leader: Option<u64>,
    /// The highest epoch seen (a coordinator's is its leadership epoch).
    pub epoch: u64,
    /// Whether this node has announced itself coordinator (acting or not).
    pub coordinator: bool,
    /// Whether it may act as leader now.
    pub acting: bool,
    /// Quorum mode: nodes whose acknowledgement is within the lease (itself included).
    pub lease_acks: usize,
}

/// What one call produced: messages to send and log lines to print.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    /// Messages, each to `msg.to`.
    pub messages: Vec<Message>,
    /// Seed-style log lines (`Node 3: starting election`).
    pub log: Vec<String>,
}

/// A binding promise: acknowledge no leader but `to` until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Promise {
    to: Option<u64>,
    until: u64,
}

/// One node's bully state machine.
#[derive(Debug, Clone)]
pub struct Bully {
    cfg: CoreConfig,
    role: Role,
    leader: Option<u64>,
    max_epoch: u64,
    leader_deadline: u64,
    promise: Promise,
    acks: BTreeMap<u64, u64>,
    lease_held: bool,
    lease_spent: bool,
    announced: Option<(u64, u64)>,
    out: Output,
}

impl Bully {
    /// A node that starts at `now`: it follows nobody and listens for a leader timeout
    /// before its first election; in quorum mode it promises nothing for `promise_ms`.
    pub fn new(cfg: CoreConfig, now: u64) -> Bully {
        let promise_until = if cfg.quorum {
            now + cfg.timing.promise_ms
        } else {
            now
        };
        Bully {
            leader_deadline: now + cfg.timing.leader_timeout_ms,
            role: Role::Follower,
            leader: None,
            max_epoch: 0,
            promise: Promise {
                to: None,
                until: promise_until,
            },
            acks: BTreeMap::new(),
            lease_held: false,
            lease_spent: false,
            announced: None,
            out: Output::default(),
            cfg,
        }
    }

    /// This node's id.
    pub fn id(&self) -> u64 {
        self.cfg.id
    }

    /// The leadership epoch while coordinator.
    pub fn leadership_epoch(&self) -> Option<u64> {
        match self.role {
            Role::Leader { epoch, .. } => Some(epoch),
            _ => None,
        }
    }

    /// Whether this node may act as leader at `now`.
    pub fn acting(&self, now: u64) -> bool {
        matches!(self.role, Role::Leader { .. }) && (!self.cfg.quorum || self.lease_holds(now))
    }

    /// The node's view at `now`.
    pub fn view(&self, now: u64) -> View {
        let acting = self.acting(now);
        let role = match self.role {
            Role::Follower => RoleName::Follower,
            Role::Leader { .. } if acting => RoleName::Leader,
            _ => RoleName::Candidate,
        };
        View {
            role,
            leader: self.leader,
            epoch: self.max_epoch,
            coordinator: matches!(self.role, Role::Leader { .. }),
            acting,
            lease_acks: self.lease_acks(now),
        }
    }

    /// Advance timers to `now`.
    pub fn tick(&mut self, now: u64) -> Output {
        match self.role {
            Role::Follower if now >= self.leader_deadline => {
                let why = match self.leader {
                    Some(l) => format!("no heartbeat from coordinator {l}"),
                    None => "no coordinator known".to_string(),
                };
                self.log(why);
                self.start_election(now);
            }
            Role::AwaitingAnswers { until } if now >= until => {
                self.log("no OK from any higher node".to_string());
                self.become_leader(now);
            }
            Role::AwaitingCoordinator { until } if now >= until => {
                self.log("got OK but no COORDINATOR followed".to_string());
                self.start_election(now);
            }
            Role::Leader {
                epoch,
                next_heartbeat,
            } if now >= next_heartbeat => {
                self.broadcast(now, |sent_at| Body::Heartbeat { sent_at });
                self.role = Role::Leader {
                    epoch,
                    next_heartbeat: now + self.cfg.timing.heartbeat_ms,
                };
                self.ack_self(now);
            }
            _ => {}
        }
        self.log_lease_change(now);
        std::mem::take(&mut self.out)
    }

    /// Handle one message received at `now`.
    pub fn receive(&mut self, now: u64, msg: Message) -> Output {
        if msg.to != self.cfg.id || msg.from == self.cfg.id || !self.cfg.nodes.contains(&msg.from) {
            return std::mem::take(&mut self.out);
        }
        self.max_epoch = self.max_epoch.max(msg.epoch);
        match msg.body {
            Body::Election => self.on_election(now, msg.from),
            Body::Answer => self.on_answer(now, msg.from),
            Body::Coordinator { sent_at } => {
                self.on_leader_claim(now, (msg.from, msg.epoch), sent_at, true)
            }
            Body::Heartbeat { sent_at } => {
                self.on_leader_claim(now, (msg.from, msg.epoch), sent_at, false)
            }
            Body::Ack { sent_at } => self.on_ack(now, msg.from, sent_at),
        }
        if let Role::Leader { epoch, .. } = self.role {
            if self.max_epoch > epoch {
                self.log(format!(
                    "saw epoch {} above my epoch {epoch}: announcing again",
                    self.max_epoch
                ));
                self.become_leader(now);
            }
        }
        self.log_lease_change(now);
        std::mem::take(&mut self.out)
    }

    fn on_election(&mut self, now: u64, from: u64) {
        if from > self.cfg.id {
            return;
        }
        self.log(format!("got ELECTION from {from}, answering OK"));
        self.send(from, Body::Answer);
        match self.role {
            Role::Leader { .. } => self.send(from, Body::Coordinator { sent_at: now }),
            Role::Follower => self.start_election(now),
            Role::AwaitingAnswers { .. } | Role::AwaitingCoordinator { .. } => {}
        }
    }

    fn on_answer(&mut self, now: u64, from: u64) {
        if from < self.cfg.id {
            return;
        }
        if let Role::AwaitingAnswers { .. } = self.role {
            self.log(format!("got OK from {from}, waiting for the coordinator"));
            self.role = Role::AwaitingCoordinator {
                until: now + self.cfg.timing.coordinator_timeout_ms,
            };
        }
    }

    /// A COORDINATOR (`announce`) or heartbeat from `from`, leader in `epoch`.
    fn on_leader_claim(
        &mut self,
        now: u64,
        (from, epoch): (u64, u64),
        sent_at: u64,
        announce: bool,
    ) {
        if from < self.cfg.id {
            self.bully_lower_claim(now, from);
            return;
        }
        let current = self.leader.filter(|_| self.role == Role::Follower);
        if !announce && current.is_some_and(|l| from < l) {
            return; // a stale coordinator below the one this node follows
        }
        if matches!(self.role, Role::Leader { .. }) {
            self.log(format!("node {from} is higher: stepping down"));
        }
        if self.announced != Some((from, epoch)) {
            self.announced = Some((from, epoch));
            self.log(format!("node {from} is the coordinator (epoch {epoch})"));
        }
        self.role = Role::Follower;
        self.leader = Some(from);
        self.leader_deadline = now + self.cfg.timing.leader_timeout_ms;
        if self.cfg.quorum {
            self.ack_leader(now, from, sent_at);
        }
    }

    /// A lower node claims to lead: a leader reasserts itself, a follower starts an election.
    fn bully_lower_claim(&mut self, now: u64, from: u64) {
        match self.role {
            Role::Leader { .. } => self.send(from, Body::Coordinator { sent_at: now }),
            Role::Follower => {
                self.log(format!("node {from} claims to lead but I am higher"));
                self.start_election(now);
            }
            Role::AwaitingAnswers { .. } | Role::AwaitingCoordinator { .. } => {}
        }
    }

    fn on_ack(&mut self, now: u64, from: u64, sent_at: u64) {
        if matches!(self.role, Role::Leader { .. }) {
            let was_acting = self.acting(now);
            let e = self.acks.entry(from).or_insert(sent_at);
            *e = (*e).max(sent_at);
            self.after_ack(now, was_acting);
        }
    }

    /// Quorum mode: one leadership epoch is one unbroken lease. A lease that starts again
    /// after a lapse takes a new epoch, so a checker may treat the span from the first to
    /// the last act of a (leader, epoch) as time the leader was acting throughout.
    fn after_ack(&mut self, now: u64, was_acting: bool) {
        if !self.cfg.quorum || was_acting || !self.acting(now) {
            return;
        }
        if self.lease_spent {
            self.log("lease regained after a lapse: taking a new epoch".to_string());
            self.become_leader(now);
        }
        self.lease_spent = true;
    }

    fn start_election(&mut self, now: u64) {
        self.leader = None;
        let higher: Vec<u64> = self
            .cfg
            .nodes
            .iter()
            .copied()
            .filter(|&n| n > self.cfg.id)
            .collect();
        if higher.is_empty() {
            self.log("starting election (no higher node)".to_string());
            self.become_leader(now);
            return;
        }
        self.log(format!("starting election (ELECTION to {})", join(&higher)));
        for h in higher {
            self.send(h, Body::Election);
        }
        self.role = Role::AwaitingAnswers {
            until: now + self.cfg.timing.answer_timeout_ms,
        };
    }

    fn become_leader(&mut self, now: u64) {
        let epoch = self.max_epoch + 1;
        self.max_epoch = epoch;
        self.role = Role::Leader {
            epoch,
            next_heartbeat: now + self.cfg.timing.heartbeat_ms,
        };
        self.leader = Some(self.cfg.id);
        self.log(format!("I am the new coordinator (epoch {epoch})"));
        self.broadcast(now, |sent_at| Body::Coordinator { sent_at });
        self.lease_spent = false;
        self.ack_self(now);
        self.lease_spent = self.cfg.quorum && self.acting(now);
    }

    fn broadcast(&mut self, now: u64, body: impl Fn(u64) -> Body) {
        let others: Vec<u64> = self.others().collect();
        for n in others {
            self.send(n, body(now));
        }
    }

    /// Quorum mode: acknowledge `leader` if no promise to another node binds this one.
    fn ack_leader(&mut self, now: u64, leader: u64, sent_at: u64) {
        if self.promise.to == Some(leader) || self.promise.until <= now {
            self.promise = Promise {
                to: Some(leader),
                until: now + self.cfg.timing.promise_ms,
            };
            self.send(leader, Body::Ack { sent_at });
        }
    }

    /// Quorum mode: a leader acknowledges its own message under the same promise.
    fn ack_self(&mut self, now: u64) {
        let me = self.cfg.id;
        if self.cfg.quorum && (self.promise.to == Some(me) || self.promise.until <= now) {
            let was_acting = self.acting(now);
            self.promise = Promise {
                to: Some(me),
                until: now + self.cfg.timing.promise_ms,
            };
            self.acks.insert(me, now);
            self.after_ack(now, was_acting);
        }
    }

    fn lease_acks(&self, now: u64) -> usize {
        if !matches!(self.role, Role::Leader { .. }) {
            return 0;
        }
        self.acks
            .values()
            .filter(|&&sent| sent + self.cfg.timing.lease_ms > now)
            .count()
    }

    fn lease_holds(&self, now: u64) -> bool {
        self.lease_acks(now) > self.cfg.nodes.len() / 2
    }

    fn log_lease_change(&mut self, now: u64) {
        if !self.cfg.quorum {
            return;
        }
        let holds = self.acting(now);
        if holds != self.lease_held {
            self.lease_held = holds;
            let (acks, n) = (self.lease_acks(now), self.cfg.nodes.len());
            if holds {
                self.log(format!(
                    "lease held (acks from {acks} of {n}): acting as leader"
                ));
            } else if matches!(self.role, Role::Leader { .. }) {
                self.log(format!("lease lost (acks from {acks} of {n}): not acting"));
            } else {
                self.log("no longer coordinator: not acting".to_string());
            }
        }
    }

    fn others(&self) -> impl Iterator<Item = u64> + '_ {
        let me = self.cfg.id;
        self.cfg.nodes.iter().copied().filter(move |&n| n != me)
    }

    fn send(&mut self, to: u64, body: Body) {
        self.out.messages.push(Message {
            from: self.cfg.id,
            to,
            epoch: self.max_epoch,
            body,
        });
    }

    fn log(&mut self, line: String) {
        self.out.log.push(format!("Node {}: {line}", self.cfg.id));
    }
}

fn join(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, quorum: bool) -> Bully {
        let cfg = CoreConfig {
            id,
            nodes: vec![1, 2, 3, 4, 5],
            quorum,
            timing: Timing::default(),
        };
        Bully::new(cfg, 0)
    }

    fn msg(from: u64, to: u64, epoch: u64, body: Body) -> Message {
        Message {
            from,
            to,
            epoch,
            body,
        }
    }

    fn kinds(out: &Output) -> Vec<(u64, &'static str)> {
        out.messages.iter().map(|m| (m.to, m.body.name())).collect()
    }

    #[test]
    fn the_highest_node_announces_itself_after_listening() {
        let mut n = node(5, false);
        assert!(n.tick(299).messages.is_empty(), "listens first");
        let out = n.tick(300);
        assert_eq!(
            kinds(&out),
            vec![
                (1, "COORDINATOR"),
                (2, "COORDINATOR"),
                (3, "COORDINATOR"),
                (4, "COORDINATOR")
            ]
        );
        assert!(out
            .log
            .contains(&"Node 5: I am the new coordinator (epoch 1)".to_string()));
        assert!(n.acting(300));
    }

    #[test]
    fn a_lower_node_asks_higher_ones_and_wins_without_an_answer() {
        let mut n = node(3, false);
        let out = n.tick(300);
        assert_eq!(kinds(&out), vec![(4, "ELECTION"), (5, "ELECTION")]);
        assert_eq!(n.view(300).role, RoleName::Candidate);
        let out = n.tick(400);
        assert_eq!(out.messages.len(), 4, "COORDINATOR to everyone else");
        assert_eq!(n.leadership_epoch(), Some(1));
    }

    #[test]
    fn an_answer_makes_a_candidate_wait_then_retry() {
        let mut n = node(3, false);
        n.tick(300);
        n.receive(310, msg(4, 3, 0, Body::Answer));
        assert!(n.tick(500).messages.is_empty(), "waits for COORDINATOR");
        let out = n.tick(610);
        assert_eq!(kinds(&out), vec![(4, "ELECTION"), (5, "ELECTION")]);
    }

    #[test]
    fn election_from_a_lower_node_is_answered_and_a_lower_claim_is_bullied() {
        let mut n = node(4, false);
        let out = n.receive(10, msg(2, 4, 0, Body::Election));
        assert_eq!(kinds(&out), vec![(2, "ANSWER"), (5, "ELECTION")]);
        let mut f = node(4, false);
        f.receive(10, msg(5, 4, 1, Body::Coordinator { sent_at: 10 }));
        let out = f.receive(20, msg(3, 4, 2, Body::Heartbeat { sent_at: 20 }));
        assert_eq!(
            kinds(&out),
            vec![(5, "ELECTION")],
            "a follower of 5 challenges 3"
        );
    }

    #[test]
    fn a_leader_steps_down_for_a_higher_one_and_reasserts_over_a_lower_one() {
        let mut n = node(4, false);
        n.tick(300);
        n.tick(400);
        assert!(n.acting(400));
        let out = n.receive(410, msg(2, 4, 1, Body::Heartbeat { sent_at: 0 }));
        assert_eq!(kinds(&out), vec![(2, "COORDINATOR")]);
        n.receive(420, msg(5, 4, 1, Body::Coordinator { sent_at: 0 }));
        assert!(!n.acting(420));
        assert_eq!(n.view(420).leader, Some(5));
    }

    #[test]
    fn quorum_promises_block_acks_to_another_leader_until_they_expire() {
        let mut n = node(2, true);
        let hb = |from, at| msg(from, 2, 1, Body::Heartbeat { sent_at: at });
        assert!(
            kinds(&n.receive(10, hb(5, 10))).is_empty(),
            "no promise in the first promise period after start"
        );
        assert_eq!(kinds(&n.receive(400, hb(5, 400))), vec![(5, "ACK")]);
        n.receive(450, msg(4, 2, 2, Body::Coordinator { sent_at: 450 }));
        assert!(
            kinds(&n.receive(460, hb(4, 460))).is_empty(),
            "promised to 5"
        );
        assert_eq!(
            kinds(&n.receive(700, hb(4, 700))),
            vec![(4, "ACK")],
            "promise over"
        );
    }

    #[test]
    fn a_quorum_leader_acts_only_with_a_majority_within_the_lease() {
        let mut n = node(5, true);
        n.tick(300);
        n.tick(400); // its own promise period (300 ms after start) is over by 400
        assert!(!n.acting(400), "only itself");
        n.receive(410, msg(1, 5, 1, Body::Ack { sent_at: 400 }));
        assert!(!n.acting(410));
        n.receive(411, msg(2, 5, 1, Body::Ack { sent_at: 400 }));
        assert!(n.acting(411));
        assert!(n.acting(649));
        assert!(
            !n.acting(650),
            "acks of a message sent at 400 count until 400 + 250"
        );
    }
}
