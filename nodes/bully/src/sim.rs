//! A deterministic simulation of a bully cluster: the real cores, a shared millisecond clock,
//! a network with seeded random delays and loss, directed link cuts (partitions), crashes and
//! restarts. Same seed, same run. The unit tests and the `bully-node simulate` lesson use it.

use crate::core::{Bully, CoreConfig, Timing, View};
use crate::message::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// How the simulated cluster and network behave.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Node ids are 1..=nodes.
    pub nodes: u64,
    /// Lease mode.
    pub quorum: bool,
    /// Core timeouts.
    pub timing: Timing,
    /// Shortest one-way delay, ms.
    pub min_delay_ms: u64,
    /// Longest one-way delay, ms.
    pub max_delay_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Seed of delays and loss.
    pub seed: u64,
}

impl SimConfig {
    /// Five nodes, default timing, 1–10 ms delays, no loss.
    pub fn five(quorum: bool, seed: u64) -> SimConfig {
        SimConfig {
            nodes: 5,
            quorum,
            timing: Timing::default(),
            min_delay_ms: 1,
            max_delay_ms: 10,
            loss: 0.0,
            seed,
        }
    }
}

/// The simulated cluster.
#[derive(Debug)]
pub struct Sim {
    cfg: SimConfig,
    now: u64,
    nodes: BTreeMap<u64, Option<Bully>>,
    /// Messages on the way, by (delivery time, send order).
    in_flight: BTreeMap<(u64, u64), Message>,
    seq: u64,
    rng: ChaCha8Rng,
    cut: BTreeSet<(u64, u64)>,
    log: Vec<String>,
}

impl Sim {
    /// Every node started at time 0.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut sim = Sim {
            now: 0,
            nodes: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cut: BTreeSet::new(),
            log: Vec::new(),
            cfg,
        };
        for id in 1..=sim.cfg.nodes {
            sim.restart(id);
        }
        sim
    }

    /// The simulated clock, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Advance one millisecond: deliver what is due, then tick every live node.
    pub fn step(&mut self) {
        self.now += 1;
        while self
            .in_flight
            .first_key_value()
            .is_some_and(|(&(at, _), _)| at <= self.now)
        {
            if let Some((_, msg)) = self.in_flight.pop_first() {
                self.deliver(msg);
            }
        }
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for id in ids {
            let now = self.now;
            let out = match self.nodes.get_mut(&id).and_then(Option::as_mut) {
                Some(node) => node.tick(now),
                None => continue,
            };
            self.absorb(out);
        }
    }

    /// Run `ms` milliseconds, calling `check` after every step.
    pub fn run_for(&mut self, ms: u64, mut check: impl FnMut(&Sim)) {
        for _ in 0..ms {
            self.step();
            check(self);
        }
    }

    /// Cut every link between nodes of different groups (both directions).
    pub fn partition(&mut self, groups: &[&[u64]]) {
        self.cut.clear();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &x in a.iter() {
                        for &y in b.iter() {
                            self.cut.insert((x, y));
                        }
                    }
                }
            }
        }
        self.log
            .push(format!("[{} ms] partition {groups:?}", self.now));
    }

    /// Cut one direction of one link (messages from `from` to `to` are lost).
    pub fn cut_one_way(&mut self, from: u64, to: u64) {
        self.cut.insert((from, to));
        self.log
            .push(format!("[{} ms] cut {from} -> {to}", self.now));
    }

    /// Restore every link.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.log.push(format!("[{} ms] heal", self.now));
    }

    /// Crash a node: its state is gone, messages to it are lost.
    pub fn crash(&mut self, id: u64) {
        self.nodes.insert(id, None);
        self.log.push(format!("[{} ms] crash node {id}", self.now));
    }

    /// Start a node afresh (no memory of anything).
    pub fn restart(&mut self, id: u64) {
        let cfg = CoreConfig {
            id,
            nodes: (1..=self.cfg.nodes).collect(),
            quorum: self.cfg.quorum,
            timing: self.cfg.timing,
        };
        self.nodes.insert(id, Some(Bully::new(cfg, self.now)));
    }

    /// Nodes acting as leader now.
    pub fn acting(&self) -> Vec<u64> {
        self.live()
            .filter(|n| n.acting(self.now))
            .map(Bully::id)
            .collect()
    }

    /// Every live node's view.
    pub fn views(&self) -> BTreeMap<u64, View> {
        self.live().map(|n| (n.id(), n.view(self.now))).collect()
    }

    /// A live node.
    pub fn node(&self, id: u64) -> Option<&Bully> {
        self.nodes.get(&id).and_then(Option::as_ref)
    }

    /// Every log line so far, each prefixed with the time.
    pub fn log(&self) -> &[String] {
        &self.log
    }

    fn live(&self) -> impl Iterator<Item = &Bully> {
        self.nodes.values().filter_map(Option::as_ref)
    }

    fn deliver(&mut self, msg: Message) {
        if self.cut.contains(&(msg.from, msg.to)) {
            return;
        }
        let now = self.now;
        let out = match self.nodes.get_mut(&msg.to).and_then(Option::as_mut) {
            Some(node) => node.receive(now, msg),
            None => return,
        };
        self.absorb(out);
    }

    fn absorb(&mut self, out: crate::core::Output) {
        for line in out.log {
            self.log.push(format!("[{} ms] {line}", self.now));
        }
        for msg in out.messages {
            if self.cfg.loss > 0.0 && self.rng.gen_bool(self.cfg.loss.clamp(0.0, 1.0)) {
                continue;
            }
            let delay = self.rng.gen_range(
                self.cfg.min_delay_ms..=self.cfg.max_delay_ms.max(self.cfg.min_delay_ms),
            );
            self.seq += 1;
            self.in_flight
                .insert((self.now + delay.max(1), self.seq), msg);
        }
    }
}
