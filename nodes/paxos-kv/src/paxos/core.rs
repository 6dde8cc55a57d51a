//! The replica's state, its construction from what was persisted, and its public API:
//! `tick`, `step` (dispatching messages to the acceptor, proposer and learner parts),
//! `propose`, `read`, `compact`, `take_ready` and `status`.

use super::rng::SplitMix64;
use super::types::{Ballot, Body, Message, NodeId, Ready, Record, Slot, SnapshotData, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Deliberate bugs inside the core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreBugs {
    /// Phase 1 ignores the values acceptors report as accepted.
    pub no_adopt: bool,
    /// The acceptor never persists its promise (a restart forgets it).
    pub forget_promise: bool,
}

/// Static configuration of one replica.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// This replica.
    pub id: NodeId,
    /// Every replica of the cluster, this one included.
    pub nodes: Vec<NodeId>,
    /// Election timeout range, in ticks (randomized per timeout).
    pub election_ticks: (u64, u64),
    /// Heartbeat interval, in ticks.
    pub heartbeat_ticks: u64,
    /// Most values in one accept or learn message.
    pub max_batch: usize,
    /// Seed of the election-timeout generator.
    pub seed: u64,
    /// Deliberate bugs.
    pub bugs: CoreBugs,
}

/// What survived a restart: the log records and the latest snapshot.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// Every persisted record, in order.
    pub records: Vec<Record>,
    /// The latest snapshot, if any.
    pub snapshot: Option<SnapshotData>,
}

/// A proposer role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Follows whoever's ballot stands.
    Follower,
    /// Running phase 1 with its own ballot.
    Candidate,
    /// Distinguished proposer: phase 1 done, its ballot stands.
    Leader,
}

impl Role {
    /// The name `/status` uses.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// Refusal of a proposal or read: this replica does not lead; `leader` is its best guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLeader {
    /// The replica believed to lead, if any.
    pub leader: Option<NodeId>,
}

/// A summary for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Proposer role.
    pub role: Role,
    /// The ballot this replica acts in (its own when leading, else its promise).
    pub ballot: Ballot,
    /// Believed leader.
    pub leader: Option<NodeId>,
    /// Gap-free chosen prefix.
    pub commit: Slot,
    /// Highest slot included in the snapshot (0 if none).
    pub snapshot_slot: Slot,
    /// Accepted values held in memory (not yet compacted).
    pub accepted_len: usize,
}

/// A value a leader proposed in its ballot and the acceptors that accepted it.
#[derive(Debug, Clone)]
pub(super) struct InFlight {
    pub(super) value: Value,
    pub(super) acks: BTreeSet<NodeId>,
}

/// One replica of Multi-Paxos. See the module docs of `paxos`.
#[derive(Debug)]
pub struct Core {
    pub(super) cfg: CoreConfig,
    pub(super) rng: SplitMix64,
    // acceptor
    pub(super) promised: Ballot,
    pub(super) accepted: BTreeMap<Slot, (Ballot, Value)>,
    // learner
    pub(super) chosen: BTreeMap<Slot, Value>,
    pub(super) commit: Slot,
    pub(super) applied: Slot,
    pub(super) snapshot: Option<SnapshotData>,
    // proposer
    pub(super) role: Role,
    pub(super) ballot: Ballot,
    pub(super) max_round_seen: u64,
    pub(super) leader: Option<NodeId>,
    pub(super) promises: BTreeMap<NodeId, Vec<super::types::AcceptedEntry>>,
    pub(super) prepare_from: Slot,
    pub(super) next_slot: Slot,
    pub(super) takeover_slot: Slot,
    pub(super) inflight: BTreeMap<Slot, InFlight>,
    pub(super) unsent_accepts: Vec<(Slot, Value)>,
    pub(super) peer_commit: BTreeMap<NodeId, Slot>,
    pub(super) catchup_sent: BTreeMap<NodeId, Slot>,
    pub(super) heard: BTreeSet<NodeId>,
    // reads
    pub(super) read_round: u64,
    pub(super) read_round_unsent: bool,
    pub(super) peer_read_round: BTreeMap<NodeId, u64>,
    pub(super) pending_reads: Vec<(u64, u64, Slot)>,
    // timers (ticks)
    pub(super) election_elapsed: u64,
    pub(super) election_timeout: u64,
    pub(super) heartbeat_elapsed: u64,
    pub(super) quorum_elapsed: u64,
    pub(super) since_leader: u64,
    // output
    pub(super) out: Ready,
}

impl Core {
    /// A replica restored from what it persisted (empty for a fresh one). The chosen
    /// values after the snapshot are handed out again by the first `take_ready` to be
    /// applied on top of the snapshot.
    pub fn new(cfg: CoreConfig, restored: Restored) -> Core {
        let rng = SplitMix64::new(cfg.seed ^ cfg.id.wrapping_mul(0x9E37_79B9));
        let mut core = Core {
            rng,
            promised: Ballot::ZERO,
            accepted: BTreeMap::new(),
            chosen: BTreeMap::new(),
            commit: 0,
            applied: 0,
            snapshot: None,
            role: Role::Follower,
            ballot: Ballot::ZERO,
            max_round_seen: 0,
            leader: None,
            promises: BTreeMap::new(),
            prepare_from: 1,
            next_slot: 1,
            takeover_slot: 0,
            inflight: BTreeMap::new(),
            unsent_accepts: Vec::new(),
            peer_commit: BTreeMap::new(),
            catchup_sent: BTreeMap::new(),
            heard: BTreeSet::new(),
            read_round: 0,
            read_round_unsent: false,
            peer_read_round: BTreeMap::new(),
            pending_reads: Vec::new(),
            election_elapsed: 0,
            election_timeout: cfg.election_ticks.1,
            heartbeat_elapsed: 0,
            quorum_elapsed: 0,
            since_leader: u64::MAX / 2,
            out: Ready::default(),
            cfg,
        };
        core.restore(restored);
        core.reset_election_timer();
        core
    }

    fn restore(&mut self, restored: Restored) {
        let snap_slot = restored.snapshot.as_ref().map_or(0, |s| s.slot);
        if let Some(s) = restored.snapshot {
            self.out.install = Some(s.clone());
            self.snapshot = Some(s);
        }
        self.commit = snap_slot;
        self.applied = snap_slot;
        for rec in restored.records {
            match rec {
                Record::Promise(b) => self.promised = self.promised.max(b),
                Record::Accept {
                    slot,
                    ballot,
                    value,
                } => {
                    self.promised = self.promised.max(ballot);
                    if slot > snap_slot {
                        self.accepted.insert(slot, (ballot, value));
                    }
                }
                Record::Chosen { slot, value } if slot > snap_slot => {
                    self.chosen.insert(slot, value);
                }
                Record::Chosen { .. } => {}
            }
        }
        self.max_round_seen = self.promised.round;
        self.advance_commit();
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    /// How many replicas make a majority.
    pub fn majority(&self) -> usize {
        self.cfg.nodes.len() / 2 + 1
    }

    pub(super) fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.cfg.id;
        self.cfg.nodes.iter().copied().filter(move |&n| n != me)
    }

    pub(super) fn send(&mut self, to: NodeId, body: Body) {
        self.out.messages.push(Message {
            from: self.cfg.id,
            to,
            body,
        });
    }

    pub(super) fn persist(&mut self, rec: Record) {
        self.out.persist.push(rec);
    }

    pub(super) fn snapshot_slot(&self) -> Slot {
        self.snapshot.as_ref().map_or(0, |s| s.slot)
    }

    pub(super) fn reset_election_timer(&mut self) {
        self.election_elapsed = 0;
        let (lo, hi) = self.cfg.election_ticks;
        self.election_timeout = self.rng.range(lo, hi);
    }

    /// Advance the clock by one tick.
    pub fn tick(&mut self) {
        self.since_leader = self.since_leader.saturating_add(1);
        match self.role {
            Role::Leader => self.tick_leader(),
            Role::Candidate | Role::Follower => self.tick_waiting(),
        }
    }

    /// Handle one message from a peer (messages not addressed to this replica are ignored).
    pub fn step(&mut self, msg: Message) {
        if msg.to != self.cfg.id || msg.from == self.cfg.id {
            return;
        }
        let from = msg.from;
        match msg.body {
            Body::Prepare { ballot, from_slot } => self.on_prepare(from, ballot, from_slot),
            Body::Promise {
                ballot,
                accepted,
                commit,
            } => self.on_promise(from, ballot, accepted, commit),
            Body::Accept {
                ballot,
                entries,
                commit,
            } => self.on_accept(from, ballot, entries, commit),
            Body::Accepted {
                ballot,
                slots,
                commit,
            } => self.on_accepted(from, ballot, slots, commit),
            Body::Nack { ballot, promised } => self.on_nack(ballot, promised),
            Body::Heartbeat {
                ballot,
                commit,
                read_round,
            } => self.on_heartbeat(from, ballot, commit, read_round),
            Body::HeartbeatAck {
                ballot,
                commit,
                read_round,
            } => self.on_heartbeat_ack(from, ballot, commit, read_round),
            Body::Learn { ballot, entries } => self.on_learn(from, ballot, entries),
            Body::Snapshot { ballot, slot, data } => self.on_snapshot(from, ballot, slot, data),
        }
    }

    /// Propose a state-machine command: the slot it was given, or who leads instead.
    pub fn propose(&mut self, cmd: String) -> Result<Slot, NotLeader> {
        if self.role != Role::Leader {
            return Err(NotLeader {
                leader: self.leader,
            });
        }
        Ok(self.propose_value(Value::Cmd(cmd)))
    }

    /// Take a snapshot: the state machine `data` after applying every slot up to `slot`
    /// (which must be applied and beyond the current snapshot; else this does nothing).
    pub fn compact(&mut self, slot: Slot, data: String) {
        if slot > self.applied || slot <= self.snapshot_slot() {
            return;
        }
        let snap = SnapshotData { slot, data };
        self.snapshot = Some(snap.clone());
        self.accepted = self.accepted.split_off(&(slot + 1));
        self.chosen = self.chosen.split_off(&(slot + 1));
        self.out.snapshot = Some(snap);
        self.out.rewrite = Some(self.all_records());
        self.out.persist.clear();
    }

    /// Every record describing the current durable state (after a compaction).
    pub(super) fn all_records(&self) -> Vec<Record> {
        let mut recs = Vec::with_capacity(self.accepted.len() + self.chosen.len() + 1);
        if !self.cfg.bugs.forget_promise {
            recs.push(Record::Promise(self.promised));
        }
        for (&slot, (ballot, value)) in &self.accepted {
            recs.push(Record::Accept {
                slot,
                ballot: *ballot,
                value: value.clone(),
            });
        }
        for (&slot, value) in &self.chosen {
            recs.push(Record::Chosen {
                slot,
                value: value.clone(),
            });
        }
        recs
    }

    /// Everything produced since the last call (see [`Ready`] for how to carry it out).
    pub fn take_ready(&mut self) -> Ready {
        self.flush_accepts();
        self.flush_read_round();
        std::mem::take(&mut self.out)
    }

    /// A summary for `/status`.
    pub fn status(&self) -> Status {
        Status {
            role: self.role,
            ballot: if self.role == Role::Follower {
                self.promised
            } else {
                self.ballot
            },
            leader: self.leader,
            commit: self.commit,
            snapshot_slot: self.snapshot_slot(),
            accepted_len: self.accepted.len(),
        }
    }

    /// The promised ballot (for tests and the simulator).
    pub fn promised(&self) -> Ballot {
        self.promised
    }
}
