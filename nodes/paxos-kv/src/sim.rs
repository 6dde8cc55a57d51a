//! A deterministic simulator of the pure Paxos core: N replicas, a network that loses,
//! duplicates and reorders messages, partitions, and crash-restarts that keep exactly what
//! each replica persisted. Everything comes from one seed, so a failing seed replays.
//!
//! After every step it checks safety: no two different values are ever chosen for a slot
//! (chosen = persisted as accepted by a majority in one ballot, an oracle independent of
//! what replicas learn), and the applied sequences of all replicas are prefixes of one
//! another (snapshots included).

use crate::paxos::{
    Ballot, Body, Core, CoreBugs, CoreConfig, Message, NodeId, Ready, Record, Restored, Slot,
    SnapshotData, SplitMix64, Value,
};
use std::collections::{BTreeMap, BTreeSet};

/// What a simulation run does.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of replicas.
    pub nodes: usize,
    /// Steps to run.
    pub steps: usize,
    /// Percent of sent messages lost.
    pub loss_pct: u64,
    /// Percent of sent messages duplicated.
    pub dup_pct: u64,
    /// Chance, in percent of fault steps (one step in ten), that the picked live replica
    /// crashes.
    pub crash_pct: u64,
    /// Chance, in percent of fault steps, that a partition starts (or heals when one is on).
    pub partition_pct: u64,
    /// Chance, in percent, that a replica crashes right after sending a promise (a crash
    /// point: what it persisted before answering is all that survives).
    pub crash_after_promise_pct: u64,
    /// A replica snapshots once this many applied slots are not in its snapshot.
    pub snapshot_every: u64,
    /// Deliberate bugs in every replica's core.
    pub bugs: CoreBugs,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 3,
            steps: 4000,
            loss_pct: 10,
            dup_pct: 5,
            crash_pct: 8,
            partition_pct: 40,
            crash_after_promise_pct: 50,
            snapshot_every: 40,
            bugs: CoreBugs::default(),
        }
    }
}

/// A safety violation, with the step it was seen at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two different values were each accepted by a majority in `slot`.
    TwoChosen {
        step: usize,
        slot: Slot,
        first: Value,
        second: Value,
    },
    /// A replica applied in `slot` a value different from another replica's.
    AppliedDiverged {
        step: usize,
        node: NodeId,
        slot: Slot,
        applied: Value,
        other: Value,
    },
    /// A linearizable read was released at a slot below one already applied somewhere
    /// when it was issued.
    StaleRead {
        step: usize,
        node: NodeId,
        index: Slot,
        applied_at_issue: Slot,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::TwoChosen {
                step,
                slot,
                first,
                second,
            } => write!(
                f,
                "step {step}: slot {slot} chosen twice: {first:?} and {second:?}"
            ),
            Violation::AppliedDiverged {
                step,
                node,
                slot,
                applied,
                other,
            } => write!(
                f,
                "step {step}: node {node} applied {applied:?} in slot {slot}, another replica {other:?}"
            ),
            Violation::StaleRead {
                step,
                node,
                index,
                applied_at_issue,
            } => write!(
                f,
                "step {step}: node {node} released a read at slot {index}, but slot {applied_at_issue} was applied before it was issued"
            ),
        }
    }
}

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    /// The first violation, if any (the run stops there).
    pub violation: Option<Violation>,
    /// Longest applied prefix over all replicas.
    pub applied: u64,
    /// Crashes injected.
    pub crashes: u64,
    /// Snapshots installed from a peer.
    pub snapshot_installs: u64,
    /// Linearizable reads released (and checked).
    pub reads: u64,
    /// Steps run.
    pub steps: usize,
}

struct Replica {
    core: Option<Core>,
    disk: Vec<Record>,
    disk_snapshot: Option<SnapshotData>,
    state: Vec<Value>,
}

struct Sim {
    cfg: SimConfig,
    seed: u64,
    rng: SplitMix64,
    replicas: BTreeMap<NodeId, Replica>,
    net: Vec<Message>,
    partition: Option<BTreeSet<NodeId>>,
    accept_votes: BTreeMap<(Slot, Ballot, Value), BTreeSet<NodeId>>,
    chosen: BTreeMap<Slot, Value>,
    reference: Vec<Value>,
    next_value: u64,
    step: usize,
    crashes: u64,
    installs: u64,
    reads_issued: BTreeMap<(NodeId, u64), Slot>,
    reads_done: u64,
}

/// Run one seeded simulation.
pub fn run(cfg: &SimConfig, seed: u64) -> SimOutcome {
    let mut sim = Sim::new(cfg.clone(), seed);
    let mut violation = None;
    while sim.step < cfg.steps {
        if let Err(v) = sim.one_step() {
            violation = Some(v);
            break;
        }
        sim.step += 1;
    }
    SimOutcome {
        violation,
        applied: sim.reference.len() as u64,
        crashes: sim.crashes,
        snapshot_installs: sim.installs,
        reads: sim.reads_done,
        steps: sim.step,
    }
}

impl Sim {
    fn new(cfg: SimConfig, seed: u64) -> Sim {
        let mut sim = Sim {
            rng: SplitMix64::new(seed),
            seed,
            replicas: BTreeMap::new(),
            net: Vec::new(),
            partition: None,
            accept_votes: BTreeMap::new(),
            chosen: BTreeMap::new(),
            reference: Vec::new(),
            next_value: 0,
            step: 0,
            crashes: 0,
            installs: 0,
            reads_issued: BTreeMap::new(),
            reads_done: 0,
            cfg,
        };
        for id in 1..=sim.cfg.nodes as NodeId {
            let replica = Replica {
                core: None,
                disk: Vec::new(),
                disk_snapshot: None,
                state: Vec::new(),
            };
            sim.replicas.insert(id, replica);
            sim.boot(id);
        }
        sim
    }

    fn core_config(&self, id: NodeId) -> CoreConfig {
        CoreConfig {
            id,
            nodes: (1..=self.cfg.nodes as NodeId).collect(),
            election_ticks: (10, 20),
            heartbeat_ticks: 3,
            max_batch: 8,
            seed: self.seed.wrapping_add(self.crashes),
            bugs: self.cfg.bugs,
        }
    }

    /// Start (or restart) a replica from exactly what it persisted.
    fn boot(&mut self, id: NodeId) {
        let cfg = self.core_config(id);
        let r = self.replicas.get_mut(&id).expect("replica exists");
        let restored = Restored {
            records: r.disk.clone(),
            snapshot: r.disk_snapshot.clone(),
        };
        r.state.clear();
        r.core = Some(Core::new(cfg, restored));
    }

    fn one_step(&mut self) -> Result<(), Violation> {
        let roll = self.rng.next_u64() % 1000;
        let ids: Vec<NodeId> = self.replicas.keys().copied().collect();
        let pick = ids[(self.rng.next_u64() % ids.len() as u64) as usize];
        match roll {
            0..=449 => self.deliver_one(),
            450..=759 if self.replicas[&pick].core.is_none() => self.boot(pick),
            450..=759 => self.with_core(pick, |c| c.tick()),
            760..=799 => self.issue_read(pick),
            800..=899 => {
                self.next_value += 1;
                let v = format!("v{}", self.next_value);
                self.with_core(pick, |c| {
                    let _ = c.propose(v);
                });
            }
            _ => self.fault(roll - 900, pick),
        }
        for id in ids {
            self.drain(id)?;
        }
        Ok(())
    }

    /// A fault step (`roll` in 0..100): crash a live replica, restart a dead one, or
    /// start or heal a partition.
    fn fault(&mut self, roll: u64, pick: NodeId) {
        let live = self.replicas[&pick].core.is_some();
        if live && roll < self.cfg.crash_pct {
            self.replicas.get_mut(&pick).expect("exists").core = None;
            self.crashes += 1;
        } else if !live && roll < 50 {
            self.boot(pick);
        } else if (50..50 + self.cfg.partition_pct).contains(&roll) {
            self.partition = match self.partition {
                Some(_) => None,
                None => Some(
                    self.replicas
                        .keys()
                        .copied()
                        .filter(|_| self.rng.chance(50))
                        .collect(),
                ),
            };
        }
    }

    fn with_core(&mut self, id: NodeId, f: impl FnOnce(&mut Core)) {
        if let Some(core) = self.replicas.get_mut(&id).and_then(|r| r.core.as_mut()) {
            f(core);
        }
    }

    fn cut(&self, a: NodeId, b: NodeId) -> bool {
        self.partition
            .as_ref()
            .is_some_and(|side| side.contains(&a) != side.contains(&b))
    }

    fn deliver_one(&mut self) {
        if self.net.is_empty() {
            return;
        }
        let i = (self.rng.next_u64() % self.net.len() as u64) as usize;
        let msg = self.net.swap_remove(i);
        if self.cut(msg.from, msg.to) {
            return;
        }
        self.with_core(msg.to, |c| c.step(msg));
    }

    /// Carry out a replica's `Ready` the way the real edge does, checking safety.
    fn drain(&mut self, id: NodeId) -> Result<(), Violation> {
        let Some(ready) = self
            .replicas
            .get_mut(&id)
            .and_then(|r| r.core.as_mut())
            .map(|c| c.take_ready())
        else {
            return Ok(());
        };
        self.persist(id, &ready)?;
        let promised = ready
            .messages
            .iter()
            .any(|m| matches!(m.body, Body::Promise { .. }));
        for msg in ready.messages {
            if self.rng.chance(self.cfg.loss_pct) {
                continue;
            }
            if self.rng.chance(self.cfg.dup_pct) {
                self.net.push(msg.clone());
            }
            self.net.push(msg);
        }
        if let Some(snap) = ready.install {
            if ready.snapshot.is_some() {
                self.installs += 1;
            }
            self.install(id, snap)?;
        }
        for (slot, value) in ready.apply {
            self.apply(id, slot, value)?;
        }
        for (read, index) in ready.reads_ready {
            self.check_read(id, read, index)?;
        }
        self.maybe_snapshot(id);
        if promised && self.rng.chance(self.cfg.crash_after_promise_pct) {
            self.replicas.get_mut(&id).expect("exists").core = None;
            self.crashes += 1;
        }
        Ok(())
    }

    fn persist(&mut self, id: NodeId, ready: &Ready) -> Result<(), Violation> {
        let r = self.replicas.get_mut(&id).expect("exists");
        if let Some(s) = &ready.snapshot {
            r.disk_snapshot = Some(s.clone());
        }
        if let Some(recs) = &ready.rewrite {
            r.disk = recs.clone();
        }
        r.disk.extend(ready.persist.iter().cloned());
        for rec in &ready.persist {
            if let Record::Accept {
                slot,
                ballot,
                value,
            } = rec
            {
                self.vote(id, *slot, *ballot, value.clone())?;
            }
        }
        Ok(())
    }

    /// The oracle: a value accepted by a majority in one ballot is chosen; never two.
    fn vote(
        &mut self,
        id: NodeId,
        slot: Slot,
        ballot: Ballot,
        value: Value,
    ) -> Result<(), Violation> {
        let majority = self.cfg.nodes / 2 + 1;
        let voters = self
            .accept_votes
            .entry((slot, ballot, value.clone()))
            .or_default();
        voters.insert(id);
        if voters.len() < majority {
            return Ok(());
        }
        match self.chosen.get(&slot) {
            Some(first) if *first != value => Err(Violation::TwoChosen {
                step: self.step,
                slot,
                first: first.clone(),
                second: value,
            }),
            Some(_) => Ok(()),
            None => {
                self.chosen.insert(slot, value);
                Ok(())
            }
        }
    }

    fn apply(&mut self, id: NodeId, slot: Slot, value: Value) -> Result<(), Violation> {
        let r = self.replicas.get_mut(&id).expect("exists");
        r.state.push(value.clone());
        debug_assert_eq!(r.state.len() as u64, slot, "apply out of order");
        let i = (slot - 1) as usize;
        match self.reference.get(i) {
            Some(other) if *other != value => Err(Violation::AppliedDiverged {
                step: self.step,
                node: id,
                slot,
                applied: value,
                other: other.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                self.reference.push(value);
                Ok(())
            }
        }
    }

    /// Ask `id` for a linearizable read, noting how much was applied anywhere by then.
    fn issue_read(&mut self, id: NodeId) {
        self.next_value += 1;
        let read = self.next_value;
        let mut accepted = false;
        self.with_core(id, |c| accepted = c.read(read).is_ok());
        if accepted {
            self.reads_issued
                .insert((id, read), self.reference.len() as Slot);
        }
    }

    /// A released read must see every slot applied anywhere before it was issued, and
    /// its replica must have applied the slot it was released at.
    fn check_read(&mut self, id: NodeId, read: u64, index: Slot) -> Result<(), Violation> {
        let issued = self.reads_issued.remove(&(id, read)).unwrap_or(0);
        let applied_here = self.replicas[&id].state.len() as Slot;
        self.reads_done += 1;
        if index < issued || applied_here < index {
            return Err(Violation::StaleRead {
                step: self.step,
                node: id,
                index,
                applied_at_issue: issued,
            });
        }
        Ok(())
    }

    fn install(&mut self, id: NodeId, snap: SnapshotData) -> Result<(), Violation> {
        let state: Vec<Value> = serde_json::from_str(&snap.data).expect("sim snapshot");
        self.replicas.get_mut(&id).expect("exists").state = Vec::new();
        for (i, v) in state.into_iter().enumerate() {
            self.apply(id, i as u64 + 1, v)?;
        }
        Ok(())
    }

    fn maybe_snapshot(&mut self, id: NodeId) {
        let every = self.cfg.snapshot_every;
        let r = self.replicas.get_mut(&id).expect("exists");
        let snap_slot = r.disk_snapshot.as_ref().map_or(0, |s| s.slot);
        let applied = r.state.len() as u64;
        if every > 0 && applied >= snap_slot + every {
            let data = serde_json::to_string(&r.state).expect("encode");
            if let Some(core) = r.core.as_mut() {
                core.compact(applied, data);
            }
        }
    }
}

/// Run `seeds` seeds from `first`: the seeds that violated safety, with their violation.
pub fn sweep(cfg: &SimConfig, first: u64, seeds: u64) -> Vec<(u64, Violation)> {
    (first..first + seeds)
        .filter_map(|s| run(cfg, s).violation.map(|v| (s, v)))
        .collect()
}
