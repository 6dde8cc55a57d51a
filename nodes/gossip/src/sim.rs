//! Deterministic simulation of a gossip cluster: the real cores on one millisecond clock,
//! gossip and anti-entropy timers with per-node phases, seeded delays and loss, directed
//! link cuts (partitions), lying nodes. Everything random comes from the seed, so a run
//! is reproduced exactly by its seed.

use crate::core::{Byzantine, CoreConfig, GossipCore};
use crate::crypto;
use crate::message::{ChatMessage, Wire};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// A simulated cluster's parameters.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Nodes 1..=n.
    pub n: u64,
    /// Seed of keys, delays, loss and the cores' choices.
    pub seed: u64,
    /// Probability that a peer message is lost.
    pub loss: f64,
    /// Delivery delay is uniform in 1..=max_delay_ms.
    pub max_delay_ms: u64,
    /// Gossip round interval, ms (a "round" below).
    pub gossip_ms: u64,
    /// Anti-entropy interval, ms.
    pub anti_entropy_ms: u64,
    /// Peers pushed to per round.
    pub fanout: usize,
    /// Rounds a new message is pushed.
    pub push_rounds: u32,
    /// Most chat messages per peer message.
    pub max_batch: usize,
}

impl SimConfig {
    /// The node defaults (gossip 100 ms, anti-entropy 1000 ms, fanout 2) with 1–20 ms
    /// delays and no loss.
    pub fn new(n: u64, seed: u64) -> SimConfig {
        SimConfig {
            n,
            seed,
            loss: 0.0,
            max_delay_ms: 20,
            gossip_ms: 100,
            anti_entropy_ms: 1000,
            fanout: 2,
            push_rounds: 3,
            max_batch: 64,
        }
    }
}

/// A simulated cluster.
pub struct Sim {
    cfg: SimConfig,
    cores: BTreeMap<u64, GossipCore>,
    phase: BTreeMap<u64, u64>,
    now: u64,
    rng: ChaCha8Rng,
    in_flight: BTreeMap<(u64, u64), Wire>,
    sent: u64,
    cut: BTreeSet<(u64, u64)>,
    genuine: BTreeSet<(u64, u64, String)>,
    /// Log lines of the cores, prefixed with the simulated time.
    pub log: Vec<String>,
}

impl Sim {
    /// A cluster of `cfg.n` honest nodes with keys derived from the seed.
    pub fn new(cfg: SimConfig) -> Sim {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let keys: BTreeMap<u64, _> = (1..=cfg.n)
            .map(|id| (id, crypto::key_from_seed(rng.gen())))
            .collect();
        let public: BTreeMap<u64, _> = keys.iter().map(|(&i, k)| (i, k.verifying_key())).collect();
        let mut cores = BTreeMap::new();
        let mut phase = BTreeMap::new();
        for (&id, key) in &keys {
            let core_cfg = CoreConfig {
                id,
                peers: (1..=cfg.n).filter(|&p| p != id).collect(),
                fanout: cfg.fanout,
                push_rounds: cfg.push_rounds,
                max_batch: cfg.max_batch,
                max_body_bytes: 4096,
                seed: rng.gen(),
            };
            cores.insert(id, GossipCore::new(core_cfg, key.clone(), public.clone()));
            phase.insert(id, rng.gen_range(0..cfg.anti_entropy_ms));
        }
        Sim {
            cfg,
            cores,
            phase,
            now: 0,
            rng,
            in_flight: BTreeMap::new(),
            sent: 0,
            cut: BTreeSet::new(),
            genuine: BTreeSet::new(),
            log: Vec::new(),
        }
    }

    /// The simulated time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// One node's core.
    pub fn core(&self, id: u64) -> &GossipCore {
        &self.cores[&id]
    }

    /// Post a message at node `id` (acknowledged at once: it is stored there).
    pub fn broadcast(&mut self, id: u64, body: &str) -> ChatMessage {
        let now = self.now;
        let core = self.cores.get_mut(&id).expect("node id in 1..=n");
        let m = core.broadcast(body, now).expect("body within the limit");
        self.genuine.insert((m.origin, m.seq, m.body.clone()));
        m
    }

    /// Every acknowledged (genuine) message so far: (origin, seq, body).
    pub fn genuine(&self) -> &BTreeSet<(u64, u64, String)> {
        &self.genuine
    }

    /// Make node `id` lie (or stop lying).
    pub fn set_byzantine(&mut self, id: u64, mode: Option<Byzantine>) {
        if let Some(c) = self.cores.get_mut(&id) {
            c.set_byzantine(mode);
        }
    }

    /// Cut every link between different groups (both directions); other links stay as they are.
    pub fn partition(&mut self, groups: &[&[u64]]) {
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a.iter() {
                    for &y in b.iter() {
                        self.cut.insert((x, y));
                        self.cut.insert((y, x));
                    }
                }
            }
        }
        self.log
            .push(format!("[{} ms] partition {groups:?}", self.now));
    }

    /// Restore every link.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.log.push(format!("[{} ms] heal", self.now));
    }

    /// What node `id` delivered: (origin, seq, body).
    pub fn delivered(&self, id: u64) -> BTreeSet<(u64, u64, String)> {
        self.cores[&id]
            .store()
            .delivered()
            .iter()
            .map(|d| (d.message.origin, d.message.seq, d.message.body.clone()))
            .collect()
    }

    /// Whether every node in `nodes` delivered every genuine message.
    pub fn converged(&self, nodes: &[u64]) -> bool {
        // The count first: cheap, and a node holding fewer cannot hold them all.
        nodes.iter().all(|&id| {
            self.cores[&id].store().len() >= self.genuine.len()
                && self.genuine.is_subset(&self.delivered(id))
        })
    }

    /// Messages delivered by any of `nodes` that nobody posted (forged or altered).
    pub fn not_genuine(&self, nodes: &[u64]) -> Vec<(u64, u64, u64, String)> {
        let mut bad = Vec::new();
        for &id in nodes {
            for (o, s, b) in self.delivered(id).difference(&self.genuine) {
                bad.push((id, *o, *s, b.clone()));
            }
        }
        bad
    }

    /// Advance the clock by `ms` milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        for _ in 0..ms {
            self.step();
        }
    }

    /// Run until every node in `nodes` converged or `max_ms` passed; the time it took.
    pub fn run_until_converged(&mut self, nodes: &[u64], max_ms: u64) -> Option<u64> {
        let start = self.now;
        while !self.converged(nodes) {
            if self.now - start >= max_ms {
                return None;
            }
            self.step();
        }
        Some(self.now - start)
    }

    fn step(&mut self) {
        self.now += 1;
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > self.now {
                break;
            }
            let wire = entry.remove();
            let now = self.now;
            let out = self.cores.get_mut(&wire.to).map(|c| c.receive(wire, now));
            self.emit(out.unwrap_or_default());
        }
        let ids: Vec<u64> = self.cores.keys().copied().collect();
        for id in ids {
            let t = self.now + self.phase[&id];
            let now = self.now;
            if t.is_multiple_of(self.cfg.gossip_ms) {
                let out = self.cores.get_mut(&id).map(|c| c.gossip_round(now));
                self.emit(out.unwrap_or_default());
            }
            if t.is_multiple_of(self.cfg.anti_entropy_ms) {
                let out = self.cores.get_mut(&id).map(|c| c.anti_entropy_round(now));
                self.emit(out.unwrap_or_default());
            }
        }
    }

    fn emit(&mut self, out: crate::core::Output) {
        for line in out.log {
            self.log.push(format!("[{} ms] {line}", self.now));
        }
        for w in out.messages {
            if self.cut.contains(&(w.from, w.to)) || self.rng.gen_bool(self.cfg.loss) {
                continue;
            }
            let at = self.now + self.rng.gen_range(1..=self.cfg.max_delay_ms);
            self.sent += 1;
            self.in_flight.insert((at, self.sent), w);
        }
    }
}
