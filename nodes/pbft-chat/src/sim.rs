//! A deterministic simulator of n PBFT cores: seeded message loss, random delays (so
//! reordering), random partitions, a crashed primary, clients that retry, Byzantine
//! replicas playing a mode, then a heal phase. At the end it checks the total-order
//! properties on the honest replicas: agreement (delivered logs are prefixes of one
//! sequence), validity (every request a client accepted after f+1 matching replies is
//! delivered everywhere), integrity (nothing delivered twice or never sent), and that no
//! honest replica accused another honest one.

use crate::core::{Core, CoreConfig, Dest, Detection, RequestOutcome};
use crate::crypto::SimKeys;
use crate::faults::{Bugs, Mode};
use crate::message::Signed;
use crate::types::{Entry, ReplicaId, Reply, Request};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// One simulation's schedule.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Replicas (3f+1).
    pub n: u64,
    /// Byzantine replicas and their modes (from the start).
    pub byzantine: BTreeMap<ReplicaId, Mode>,
    /// Bugs enabled on every replica.
    pub bugs: Bugs,
    /// Concurrent clients, each with one outstanding request at a time.
    pub clients: usize,
    /// Requests each client sends.
    pub requests_per_client: usize,
    /// Probability a message is lost during the fault phase.
    pub loss: f64,
    /// Messages take 1..=max_delay ticks (random: reordering).
    pub max_delay: u64,
    /// Random partitions during the fault phase.
    pub partitions: bool,
    /// Crash the view-0 primary at this tick until the heal phase.
    pub crash_primary_at: Option<u64>,
    /// Links cut on a fixed schedule (both directions), on top of the random partitions.
    pub link_cuts: Vec<LinkCut>,
    /// Ticks of faults.
    pub fault_ticks: u64,
    /// Ticks of a healed network afterwards.
    pub heal_ticks: u64,
}

impl SimConfig {
    /// Four replicas, three clients of ten requests, 5% loss, delays up to 5 ticks,
    /// partitions, 1500 ticks of faults then 2500 healed.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            n: 4,
            byzantine: BTreeMap::new(),
            bugs: Bugs::default(),
            clients: 3,
            requests_per_client: 10,
            loss: 0.05,
            max_delay: 5,
            partitions: true,
            crash_primary_at: None,
            link_cuts: Vec::new(),
            fault_ticks: 1500,
            heal_ticks: 2500,
        }
    }
}

/// A scheduled cut between `a` and `b` (or `a` and everyone, if `b` is None), for ticks
/// in `from..until` (and never in the heal phase).
#[derive(Debug, Clone, Copy)]
pub struct LinkCut {
    /// One end.
    pub a: ReplicaId,
    /// The other end; None: all others.
    pub b: Option<ReplicaId>,
    /// First tick cut.
    pub from: u64,
    /// First tick no longer cut.
    pub until: u64,
}

impl LinkCut {
    fn cuts(&self, now: u64, x: ReplicaId, y: ReplicaId) -> bool {
        let ends = |p: ReplicaId, q: ReplicaId| p == self.a && self.b.is_none_or(|b| b == q);
        (self.from..self.until).contains(&now) && (ends(x, y) || ends(y, x))
    }
}

/// What a simulation ended with.
#[derive(Debug, Default)]
pub struct SimReport {
    /// Delivered log of every replica.
    pub logs: BTreeMap<ReplicaId, Vec<Entry>>,
    /// Requests clients accepted (f+1 matching replies).
    pub accepted: Vec<Request>,
    /// Broken properties, in words.
    pub violations: Vec<String>,
    /// Detections made by honest replicas: (detector, detection).
    pub detections: Vec<(ReplicaId, Detection)>,
    /// Highest view any honest replica reached.
    pub max_view: u64,
    /// Each replica at the end: view, changing, last executed, stable checkpoint.
    pub states: BTreeMap<ReplicaId, (u64, bool, u64, u64)>,
}

/// A client of the simulation.
struct SimClient {
    name: String,
    sent: usize,
    current: Option<(Request, u64)>,
    replies: BTreeMap<ReplicaId, u64>,
}

struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    cores: Vec<Core>,
    queue: BTreeMap<(u64, u64), (ReplicaId, Signed)>,
    counter: u64,
    now: u64,
    cut: BTreeSet<(ReplicaId, ReplicaId)>,
    crashed: Option<ReplicaId>,
    clients: Vec<SimClient>,
    sent: BTreeSet<Request>,
    report: SimReport,
}

/// Run one simulation.
pub fn run(cfg: &SimConfig) -> SimReport {
    let keys = SimKeys::new(cfg.n, cfg.seed);
    let cores = (1..=cfg.n)
        .map(|id| {
            let mut cc = CoreConfig::new(id, cfg.n);
            cc.checkpoint_interval = 4;
            cc.window = 16;
            cc.bugs = cfg.bugs;
            let mut core = Core::new(cc, Box::new(keys.signer(id)), Box::new(keys.clone()));
            core.set_byzantine(cfg.byzantine.get(&id).copied());
            core
        })
        .collect();
    let clients = (0..cfg.clients)
        .map(|i| SimClient {
            name: format!("c{i}"),
            sent: 0,
            current: None,
            replies: BTreeMap::new(),
        })
        .collect();
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        cfg: cfg.clone(),
        cores,
        queue: BTreeMap::new(),
        counter: 0,
        now: 0,
        cut: BTreeSet::new(),
        crashed: None,
        clients,
        sent: BTreeSet::new(),
        report: SimReport::default(),
    };
    for _ in 0..cfg.fault_ticks + cfg.heal_ticks {
        sim.step();
    }
    sim.finish()
}

impl Sim {
    fn healed(&self) -> bool {
        self.now >= self.cfg.fault_ticks
    }

    fn step(&mut self) {
        self.now += 1;
        self.schedule_faults();
        self.drive_clients();
        let due: Vec<_> = self
            .queue
            .range(..(self.now + 1, 0))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            if let Some((to, msg)) = self.queue.remove(&key) {
                if self.link_up(msg.from, to) {
                    self.cores[(to - 1) as usize].on_message(msg);
                    self.collect(to);
                }
            }
        }
        for id in 1..=self.cfg.n {
            if self.crashed != Some(id) {
                self.cores[(id - 1) as usize].on_tick();
            }
            self.collect(id);
        }
    }

    fn link_up(&self, from: ReplicaId, to: ReplicaId) -> bool {
        let scheduled = !self.healed()
            && self
                .cfg
                .link_cuts
                .iter()
                .any(|c| c.cuts(self.now, from, to));
        self.crashed != Some(from)
            && self.crashed != Some(to)
            && !self.cut.contains(&(from, to))
            && !scheduled
    }

    fn schedule_faults(&mut self) {
        if self.healed() {
            self.cut.clear();
            self.crashed = None;
            return;
        }
        if self.cfg.crash_primary_at == Some(self.now) {
            self.crashed = Some(1);
        }
        if self.cfg.partitions && self.now.is_multiple_of(100) {
            self.cut.clear();
            if self.rng.gen_bool(0.5) {
                let n = self.cfg.n;
                let side: BTreeSet<ReplicaId> = if self.rng.gen_bool(0.5) {
                    [self.rng.gen_range(1..=n)].into()
                } else {
                    (1..=n).filter(|_| self.rng.gen_bool(0.5)).collect()
                };
                for a in 1..=n {
                    for b in 1..=n {
                        if side.contains(&a) != side.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
            }
        }
    }

    /// Take a core's output: schedule its messages, hand replies to clients.
    fn collect(&mut self, id: ReplicaId) {
        let out = self.cores[(id - 1) as usize].take_output();
        for o in out.messages {
            let targets: Vec<ReplicaId> = match o.to {
                Dest::All => (1..=self.cfg.n).filter(|i| *i != id).collect(),
                Dest::To(t) => vec![t],
            };
            for to in targets {
                if !self.healed() && self.rng.gen_bool(self.cfg.loss) {
                    continue;
                }
                let at = self.now + self.rng.gen_range(1..=self.cfg.max_delay);
                self.counter += 1;
                self.queue.insert((at, self.counter), (to, o.msg.clone()));
            }
        }
        for r in out.replies {
            self.on_reply(r);
        }
        if !self.cfg.byzantine.contains_key(&id) {
            for d in out.detections {
                self.report.detections.push((id, d));
            }
        }
    }

    fn drive_clients(&mut self) {
        for c in 0..self.clients.len() {
            let due = match &self.clients[c].current {
                None => self.clients[c].sent < self.cfg.requests_per_client,
                Some((_, at)) => self.now >= *at,
            };
            if !due {
                continue;
            }
            let request = match self.clients[c].current.take() {
                Some((r, _)) => r,
                None => {
                    let cl = &mut self.clients[c];
                    cl.sent += 1;
                    cl.replies.clear();
                    Request {
                        client: cl.name.clone(),
                        timestamp: cl.sent as u64,
                        message: format!("{} says {}", cl.name, cl.sent),
                    }
                }
            };
            self.sent.insert(request.clone());
            self.clients[c].current = Some((request.clone(), self.now + 150));
            self.send_request(&request);
        }
    }

    fn send_request(&mut self, request: &Request) {
        for id in 1..=self.cfg.n {
            let lost = !self.healed() && self.rng.gen_bool(self.cfg.loss);
            if lost || self.crashed == Some(id) {
                continue;
            }
            let outcome = self.cores[(id - 1) as usize].on_request(request.clone());
            if let RequestOutcome::Done(reply) = outcome {
                self.on_reply(reply);
            }
            self.collect(id);
        }
    }

    /// A reply reaches its client; f+1 matching replies from distinct replicas accept.
    fn on_reply(&mut self, reply: Reply) {
        let f = ((self.cfg.n - 1) / 3) as usize;
        let Some(c) = self.clients.iter_mut().find(|c| c.name == reply.client) else {
            return;
        };
        let Some((req, _)) = c.current.clone() else {
            return;
        };
        if req.timestamp != reply.timestamp {
            return;
        }
        c.replies.insert(reply.replica, reply.seq);
        let matching = c.replies.values().filter(|s| **s == reply.seq).count();
        if matching > f {
            c.current = None;
            self.report.accepted.push(req);
        }
    }

    fn finish(mut self) -> SimReport {
        let honest: Vec<ReplicaId> = (1..=self.cfg.n)
            .filter(|i| !self.cfg.byzantine.contains_key(i))
            .collect();
        for core in &self.cores {
            self.report
                .logs
                .insert(core.id(), core.delivered().to_vec());
            self.report.states.insert(
                core.id(),
                (
                    core.view(),
                    core.changing_view(),
                    core.last_executed(),
                    core.stable_checkpoint(),
                ),
            );
            if honest.contains(&core.id()) {
                self.report.max_view = self.report.max_view.max(core.view());
            }
        }
        let mut v = check_agreement(&self.report.logs, &honest);
        v.extend(check_integrity(&self.report.logs, &honest, &self.sent));
        v.extend(check_validity(
            &self.report.logs,
            &honest,
            &self.report.accepted,
        ));
        for (by, d) in &self.report.detections {
            if honest.contains(&d.node) {
                v.push(format!(
                    "node {by} accused honest node {}: {}",
                    d.node,
                    d.line()
                ));
            }
        }
        self.report.violations = v;
        self.report
    }
}

/// Honest logs must be prefixes of one sequence.
pub fn check_agreement(
    logs: &BTreeMap<ReplicaId, Vec<Entry>>,
    honest: &[ReplicaId],
) -> Vec<String> {
    let mut v = Vec::new();
    for (i, a) in honest.iter().enumerate() {
        for b in &honest[i + 1..] {
            let (la, lb) = (&logs[a], &logs[b]);
            if let Some(k) = la.iter().zip(lb.iter()).position(|(x, y)| x != y) {
                v.push(format!(
                    "agreement: nodes {a} and {b} differ at position {k}: {:?} vs {:?}",
                    la[k], lb[k]
                ));
            }
        }
    }
    v
}

/// Nothing delivered twice, nothing delivered that no client sent.
pub fn check_integrity(
    logs: &BTreeMap<ReplicaId, Vec<Entry>>,
    honest: &[ReplicaId],
    sent: &BTreeSet<Request>,
) -> Vec<String> {
    let mut v = Vec::new();
    for id in honest {
        let mut seen = BTreeSet::new();
        for e in &logs[id] {
            if !seen.insert((e.client.clone(), e.timestamp)) {
                v.push(format!("integrity: node {id} delivered {e:?} twice"));
            }
            if !sent.contains(&e.request()) {
                v.push(format!("integrity: node {id} delivered {e:?}, never sent"));
            }
        }
    }
    v
}

/// Every accepted request is delivered by every honest replica.
pub fn check_validity(
    logs: &BTreeMap<ReplicaId, Vec<Entry>>,
    honest: &[ReplicaId],
    accepted: &[Request],
) -> Vec<String> {
    let mut v = Vec::new();
    for id in honest {
        let have: BTreeSet<Request> = logs[id].iter().map(Entry::request).collect();
        for r in accepted {
            if !have.contains(r) {
                v.push(format!(
                    "validity: node {id} never delivered accepted {r:?}"
                ));
            }
        }
    }
    v
}
