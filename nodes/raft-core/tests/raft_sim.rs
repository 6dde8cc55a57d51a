//! Deterministic simulation tests of the pure Raft core (`raft_core::raft`): a simulated
//! network (loss, delay/reordering, duplication, partitions), node crashes and restarts from
//! exactly what was persisted through `Ready`, snapshots, and invariants checked after every
//! step: election safety, log matching, leader completeness, state machine safety, committed
//! entries never lost, ReadIndex freshness. Scenario tests build the paper's situations by
//! hand (figure 8, split votes, pre-vote, check-quorum, snapshot install, ...).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use raft_core::raft::{
    Config, Entry, HardState, Message, MessageBody, NodeId, Raft, RestoreState, Role, Snapshot,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

// ------------------------------------------------------------------------------------------
// The simulator
// ------------------------------------------------------------------------------------------

/// What a node has on "disk": exactly what it persisted from `Ready`s.
#[derive(Clone, Debug, Default)]
struct Disk {
    hs: HardState,
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
}

impl Disk {
    fn snapshot_index(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.meta.index)
    }

    fn snapshot_term(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.meta.term)
    }

    fn last_index(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_index(), |e| e.index)
    }

    fn term(&self, index: u64) -> Option<u64> {
        let si = self.snapshot_index();
        if index == si {
            return Some(self.snapshot_term());
        }
        if index < si {
            return None;
        }
        self.entries.get((index - si - 1) as usize).map(|e| e.term)
    }

    /// Does this disk hold the entry (index, term), or a snapshot covering it?
    fn holds(&self, index: u64, term: u64) -> bool {
        self.snapshot_index() >= index || self.term(index) == Some(term)
    }
}

/// Applied state machine contents: (index, term, data) of every applied entry.
type Sm = Vec<(u64, u64, Vec<u8>)>;

struct Node {
    cfg: Config,
    raft: Option<Raft>,
    disk: Disk,
    sm: Sm,
    applied: u64,
    restarts: u64,
}

#[derive(Clone, Debug)]
struct Opts {
    nodes: u64,
    loss: f64,
    dup: f64,
    max_delay: u64,
    partitions: bool,
    crashes: bool,
    compaction: bool,
    propose_p: f64,
    read_p: f64,
    pre_vote: bool,
    check_quorum: bool,
    bug_no_truncate: bool,
    max_entries: usize,
    max_inflight: usize,
    election: (u64, u64),
    heartbeat: u64,
}

impl Opts {
    fn manual(nodes: u64) -> Opts {
        Opts {
            nodes,
            loss: 0.0,
            dup: 0.0,
            max_delay: 1,
            partitions: false,
            crashes: false,
            compaction: false,
            propose_p: 0.0,
            read_p: 0.0,
            pre_vote: false,
            check_quorum: false,
            bug_no_truncate: false,
            max_entries: 64,
            max_inflight: 8,
            election: (10, 20),
            heartbeat: 2,
        }
    }

    fn chaos(nodes: u64) -> Opts {
        Opts {
            nodes,
            loss: 0.1,
            dup: 0.05,
            max_delay: 30,
            partitions: true,
            crashes: true,
            compaction: true,
            propose_p: 0.08,
            read_p: 0.02,
            pre_vote: true,
            check_quorum: true,
            bug_no_truncate: false,
            max_entries: 4,
            max_inflight: 4,
            election: (10, 20),
            heartbeat: 2,
        }
    }
}

/// Time units per tick in the random simulation (message delays are in time units).
const TICK: u64 = 10;

struct InFlight {
    at: u64,
    msg: Message,
}

#[derive(Default, Debug)]
struct Stats {
    delivered: u64,
    dropped: u64,
    proposals: u64,
    reads_served: u64,
    reads_aborted: u64,
    snapshots_installed: u64,
    leaders: u64,
    restarts: u64,
}

struct Sim {
    opts: Opts,
    rng: ChaCha8Rng,
    now: u64,
    nodes: BTreeMap<NodeId, Node>,
    net: Vec<InFlight>,
    /// Directed links that drop messages: (from, to).
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// Election safety: the leader seen for each term.
    leaders: BTreeMap<u64, NodeId>,
    /// Every entry applied anywhere: index -> (term, data, max term in the cluster when
    /// first seen applied).
    committed: BTreeMap<u64, (u64, Vec<u8>, u64)>,
    /// Log matching: (index, term) -> (data, term of the previous entry).
    entry_ids: HashMap<(u64, u64), (Vec<u8>, u64)>,
    /// Outstanding reads: ctx -> (node, highest commit index known anywhere at issue).
    reads: HashMap<u64, (NodeId, u64)>,
    next_ctx: u64,
    next_value: u64,
    stats: Stats,
    /// Messages delivered, by kind (for scenario assertions).
    delivered_kinds: BTreeMap<&'static str, u64>,
}

type Check = Result<(), String>;

impl Sim {
    fn new(opts: Opts, seed: u64) -> Sim {
        let voters: Vec<NodeId> = (1..=opts.nodes).collect();
        let mut nodes = BTreeMap::new();
        for &id in &voters {
            let cfg = Self::config(&opts, id, &voters, seed, 0);
            let raft = Raft::new(cfg.clone(), RestoreState::default()).expect("valid config");
            nodes.insert(
                id,
                Node {
                    cfg,
                    raft: Some(raft),
                    disk: Disk::default(),
                    sm: Vec::new(),
                    applied: 0,
                    restarts: 0,
                },
            );
        }
        Sim {
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0000_0000),
            opts,
            now: 0,
            nodes,
            net: Vec::new(),
            blocked: BTreeSet::new(),
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            entry_ids: HashMap::new(),
            reads: HashMap::new(),
            next_ctx: 1,
            next_value: 1,
            stats: Stats::default(),
            delivered_kinds: BTreeMap::new(),
        }
    }

    fn config(opts: &Opts, id: NodeId, voters: &[NodeId], seed: u64, restarts: u64) -> Config {
        let mut cfg = Config::new(id, voters.to_vec());
        cfg.election_ticks_min = opts.election.0;
        cfg.election_ticks_max = opts.election.1;
        cfg.heartbeat_ticks = opts.heartbeat;
        cfg.max_entries_per_append = opts.max_entries;
        cfg.max_inflight_appends = opts.max_inflight;
        cfg.pre_vote = opts.pre_vote;
        cfg.check_quorum = opts.check_quorum;
        cfg.bug_no_truncate = opts.bug_no_truncate;
        cfg.seed = seed
            .wrapping_mul(1_000_003)
            .wrapping_add(id * 7919)
            .wrapping_add(restarts * 104_729);
        cfg
    }

    fn quorum(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    fn raft(&self, id: NodeId) -> &Raft {
        self.nodes[&id].raft.as_ref().expect("node is up")
    }

    fn raft_mut(&mut self, id: NodeId) -> &mut Raft {
        self.nodes
            .get_mut(&id)
            .and_then(|n| n.raft.as_mut())
            .expect("node is up")
    }

    fn is_up(&self, id: NodeId) -> bool {
        self.nodes[&id].raft.is_some()
    }

    fn role(&self, id: NodeId) -> Option<Role> {
        self.nodes[&id].raft.as_ref().map(|r| r.status().role)
    }

    fn term(&self, id: NodeId) -> u64 {
        let n = &self.nodes[&id];
        n.raft.as_ref().map_or(n.disk.hs.term, |r| r.status().term)
    }

    fn max_term(&self) -> u64 {
        self.nodes
            .keys()
            .map(|&id| self.term(id))
            .max()
            .unwrap_or(0)
    }

    fn max_commit(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| {
                n.raft
                    .as_ref()
                    .map_or(n.disk.hs.commit, |r| r.status().commit)
            })
            .max()
            .unwrap_or(0)
    }

    fn leaders_now(&self) -> Vec<NodeId> {
        self.nodes
            .keys()
            .copied()
            .filter(|&id| self.role(id) == Some(Role::Leader))
            .collect()
    }

    /// The leader with the highest term among up nodes.
    fn leader(&self) -> Option<NodeId> {
        self.leaders_now()
            .into_iter()
            .max_by_key(|&id| self.term(id))
    }

    // ----- driving ------------------------------------------------------------------------

    fn tick(&mut self, id: NodeId) -> Check {
        if let Some(r) = self.nodes.get_mut(&id).and_then(|n| n.raft.as_mut()) {
            r.tick();
            self.process(id)?;
        }
        self.check_global()
    }

    fn tick_all(&mut self) -> Check {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.tick(id)?;
        }
        Ok(())
    }

    fn deliver(&mut self, msg: Message) -> Check {
        if self.blocked.contains(&(msg.from, msg.to)) || !self.is_up(msg.to) {
            self.stats.dropped += 1;
            return Ok(());
        }
        self.stats.delivered += 1;
        if std::env::var_os("RAFT_SIM_TRACE").is_some() {
            eprintln!("t={} deliver {:?}", self.now, msg);
        }
        *self.delivered_kinds.entry(msg.body.kind()).or_insert(0) += 1;
        let to = msg.to;
        let res = self.raft_mut(to).step(msg.clone());
        if let Err(e) = res {
            return Err(format!("node {to} rejected {msg:?}: {e}"));
        }
        self.process(to)?;
        self.check_global()
    }

    fn propose(&mut self, id: NodeId) -> Option<(u64, u64)> {
        let v = self.next_value;
        let data = v.to_le_bytes().to_vec();
        let res = self.nodes.get_mut(&id)?.raft.as_mut()?.propose(data).ok();
        if res.is_some() {
            self.next_value += 1;
            self.stats.proposals += 1;
        }
        res
    }

    fn read(&mut self, id: NodeId) -> Option<u64> {
        let ctx = self.next_ctx;
        let floor = self.max_commit();
        let ok = self
            .nodes
            .get_mut(&id)?
            .raft
            .as_mut()?
            .read_index(ctx)
            .is_ok();
        if !ok {
            return None;
        }
        self.next_ctx += 1;
        self.reads.insert(ctx, (id, floor));
        Some(ctx)
    }

    fn crash(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.raft = None;
        }
        // Outstanding reads of a crashed node are simply never answered.
        self.reads.retain(|_, (n, _)| *n != id);
    }

    fn restart(&mut self, id: NodeId, seed: u64) -> Check {
        let voters: Vec<NodeId> = self.nodes.keys().copied().collect();
        let opts = self.opts.clone();
        let n = self.nodes.get_mut(&id).expect("known node");
        n.restarts += 1;
        n.cfg = Self::config(&opts, id, &voters, seed, n.restarts);
        let restore = RestoreState {
            hard_state: n.disk.hs.clone(),
            snapshot: n.disk.snapshot.clone(),
            entries: n.disk.entries.clone(),
        };
        let raft = Raft::new(n.cfg.clone(), restore)
            .map_err(|e| format!("node {id} cannot restart from its disk: {e}"))?;
        n.raft = Some(raft);
        n.sm = match &n.disk.snapshot {
            Some(s) => decode_sm(&s.data)?,
            None => Vec::new(),
        };
        n.applied = n.disk.snapshot_index();
        self.stats.restarts += 1;
        self.process(id)?;
        self.check_global()
    }

    fn isolate(&mut self, id: NodeId) {
        for &other in self.nodes.keys() {
            if other != id {
                self.blocked.insert((id, other));
                self.blocked.insert((other, id));
            }
        }
    }

    fn split(&mut self, group: &[NodeId]) {
        self.blocked.clear();
        for &a in self.nodes.keys() {
            for &b in self.nodes.keys() {
                if group.contains(&a) != group.contains(&b) {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    fn heal(&mut self) {
        self.blocked.clear();
    }

    fn compact(&mut self, id: NodeId) -> Check {
        let Some(n) = self.nodes.get_mut(&id) else {
            return Ok(());
        };
        let Some(raft) = n.raft.as_mut() else {
            return Ok(());
        };
        let Some(meta) = raft.snapshot_meta_at_applied() else {
            return Ok(());
        };
        if meta.index <= n.disk.snapshot_index() {
            return Ok(());
        }
        let snap = Snapshot {
            meta,
            data: encode_sm(&n.sm),
        };
        raft.compact(snap.clone())
            .map_err(|e| format!("node {id} compact failed: {e}"))?;
        let idx = snap.meta.index;
        n.disk.entries.retain(|e| e.index > idx);
        n.disk.snapshot = Some(snap);
        Ok(())
    }

    /// Processes every pending `Ready` of `id` the way a correct server does: persist,
    /// send, apply; checking what it can on the way.
    fn process(&mut self, id: NodeId) -> Check {
        loop {
            let max_term = self.max_term();
            let n = self.nodes.get_mut(&id).expect("known node");
            let Some(raft) = n.raft.as_mut() else {
                return Ok(());
            };
            if !raft.has_ready() {
                return Ok(());
            }
            let rd = raft.ready();
            // 1. persist
            let mut first_written = None;
            if let Some(s) = &rd.snapshot {
                n.disk.snapshot = Some(s.clone());
                n.disk.entries.clear();
                first_written = Some(s.meta.index + 1);
            }
            if let Some(t) = rd.truncate_from {
                if t <= n.disk.snapshot_index() {
                    return Err(format!(
                        "node {id}: truncate_from {t} at or below its snapshot"
                    ));
                }
                n.disk.entries.retain(|e| e.index < t);
            }
            for e in &rd.entries {
                let expected = n.disk.last_index() + 1;
                if e.index != expected {
                    return Err(format!(
                        "node {id}: Ready entry {} does not follow the persisted log (expected {expected})",
                        e.index
                    ));
                }
                first_written = Some(first_written.map_or(e.index, |f: u64| f.min(e.index)));
                n.disk.entries.push(e.clone());
            }
            if let Some(hs) = &rd.hard_state {
                if hs.term < n.disk.hs.term {
                    return Err(format!("node {id}: persisted term went backwards"));
                }
                if hs.term == n.disk.hs.term
                    && n.disk.hs.vote.is_some()
                    && hs.vote != n.disk.hs.vote
                {
                    return Err(format!(
                        "node {id}: changed its vote within term {}",
                        hs.term
                    ));
                }
                n.disk.hs = hs.clone();
            }
            // Log matching, incrementally: each (index, term) has one payload and one
            // predecessor term, across all nodes and all time.
            if let Some(first) = first_written {
                let hi = n.disk.last_index();
                let lo = first.max(n.disk.snapshot_index() + 1);
                let mut i = lo;
                while i <= hi && i > 0 {
                    let off = (i - n.disk.snapshot_index() - 1) as usize;
                    let e = &n.disk.entries[off];
                    let prev = n.disk.term(i - 1).unwrap_or(0);
                    match self.entry_ids.get(&(e.index, e.term)) {
                        Some((data, p)) => {
                            if *data != e.data || *p != prev {
                                return Err(format!(
                                    "log matching violated on node {id} at index {} term {}: payload/predecessor differ from another log (prev term {prev} vs {p})",
                                    e.index, e.term
                                ));
                            }
                        }
                        None => {
                            self.entry_ids
                                .insert((e.index, e.term), (e.data.clone(), prev));
                        }
                    }
                    i += 1;
                }
            }
            // 2. send
            if std::env::var_os("RAFT_SIM_TRACE").is_some() {
                eprintln!(
                    "node {id} ready: {} msgs, status {:?}",
                    rd.messages.len(),
                    self.nodes[&id].raft.as_ref().map(|r| r.status())
                );
            }
            for m in rd.messages {
                self.stats_send(m);
            }
            // 3. apply
            let n = self.nodes.get_mut(&id).expect("known node");
            if let Some(s) = &rd.snapshot {
                n.sm = decode_sm(&s.data)?;
                n.applied = s.meta.index;
                self.stats.snapshots_installed += 1;
                for (index, term, data) in n.sm.clone() {
                    check_apply(&mut self.committed, id, index, term, &data, max_term)?;
                }
            }
            for e in &rd.committed {
                if e.index != n.applied + 1 {
                    return Err(format!(
                        "node {id}: applied index {} after {}",
                        e.index, n.applied
                    ));
                }
                if !n.disk.holds(e.index, e.term) {
                    return Err(format!(
                        "node {id}: applying entry {} that is not persisted",
                        e.index
                    ));
                }
                check_apply(&mut self.committed, id, e.index, e.term, &e.data, max_term)?;
                n.sm.push((e.index, e.term, e.data.clone()));
                n.applied = e.index;
            }
            for rs in rd.read_states {
                let Some((node, floor)) = self.reads.remove(&rs.ctx) else {
                    return Err(format!("node {id}: read state for unknown ctx {}", rs.ctx));
                };
                if node != id {
                    return Err(format!("read ctx {} answered by the wrong node", rs.ctx));
                }
                if rs.index < floor {
                    return Err(format!(
                        "ReadIndex violated: read {} on node {id} got index {} but index {floor} was committed before it was issued",
                        rs.ctx, rs.index
                    ));
                }
                self.stats.reads_served += 1;
            }
            for ctx in rd.aborted_reads {
                if self.reads.remove(&ctx).is_none() {
                    return Err(format!("node {id}: aborted unknown read ctx {ctx}"));
                }
                self.stats.reads_aborted += 1;
            }
        }
    }

    fn stats_send(&mut self, m: Message) {
        let delay = if self.opts.max_delay <= 1 {
            1
        } else {
            self.rng.gen_range(1..=self.opts.max_delay)
        };
        if self.opts.loss > 0.0 && self.rng.gen_bool(self.opts.loss) {
            self.stats.dropped += 1;
            return;
        }
        if self.opts.dup > 0.0 && self.rng.gen_bool(self.opts.dup) {
            let d2 = self.rng.gen_range(1..=self.opts.max_delay.max(1));
            self.net.push(InFlight {
                at: self.now + d2,
                msg: m.clone(),
            });
        }
        self.net.push(InFlight {
            at: self.now + delay,
            msg: m,
        });
    }

    /// Invariants over the whole cluster, after every step.
    fn check_global(&mut self) -> Check {
        // Election safety + leader completeness for each newly seen leader.
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            let Some(r) = self.nodes[&id].raft.as_ref() else {
                continue;
            };
            let st = r.status();
            if st.role != Role::Leader {
                continue;
            }
            match self.leaders.get(&st.term) {
                Some(&l) if l != id => {
                    return Err(format!(
                        "election safety violated: nodes {l} and {id} both leaders in term {}",
                        st.term
                    ))
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(st.term, id);
                    self.stats.leaders += 1;
                    for (&index, (term, _, seen_max_term)) in &self.committed {
                        if *seen_max_term >= st.term {
                            continue;
                        }
                        let has = st.snapshot_index >= index || r.log_term(index) == Some(*term);
                        if !has {
                            return Err(format!(
                                "leader completeness violated: leader {id} of term {} lacks committed entry {index} (term {term})",
                                st.term
                            ));
                        }
                    }
                }
            }
        }
        // Committed entries are never lost: the highest committed entry is on a quorum of
        // disks (by log matching, so is everything before it).
        if let Some((&index, (term, _, _))) = self.committed.iter().next_back() {
            let holders = self
                .nodes
                .values()
                .filter(|n| n.disk.holds(index, *term))
                .count();
            if holders < self.quorum() {
                return Err(format!(
                    "committed entry {index} (term {term}) is persisted on only {holders} nodes"
                ));
            }
        }
        Ok(())
    }

    /// Delivers everything in flight (and everything it causes) without ticking, dropping
    /// the messages for which `keep` is false. Bounded.
    fn settle_with(&mut self, keep: &dyn Fn(&Message) -> bool) -> Check {
        for _ in 0..10_000 {
            if self.net.is_empty() {
                return Ok(());
            }
            let batch: Vec<InFlight> = std::mem::take(&mut self.net);
            for f in batch {
                if keep(&f.msg) {
                    self.deliver(f.msg)?;
                } else {
                    if std::env::var_os("RAFT_SIM_TRACE").is_some() {
                        eprintln!("t={} filtered {:?}", self.now, f.msg);
                    }
                    self.stats.dropped += 1;
                }
            }
        }
        Err("network did not settle".into())
    }

    fn settle(&mut self) -> Check {
        self.settle_with(&|_| true)
    }

    /// One unit of simulated time: deliver what is due, tick every TICK units, and inject
    /// random client requests and faults.
    fn step_random(&mut self, faults: bool) -> Check {
        self.now += 1;
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.net.len() {
            if self.net[i].at <= self.now {
                due.push(self.net.swap_remove(i));
            } else {
                i += 1;
            }
        }
        // swap_remove plus the delays already shuffle; order is deterministic per seed.
        for f in due {
            self.deliver(f.msg)?;
        }
        if self.now.is_multiple_of(TICK) {
            self.tick_all()?;
        }
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        if self.rng.gen_bool(self.opts.propose_p) {
            if let Some(l) = self.leader() {
                let k = self.rng.gen_range(1..=3);
                for _ in 0..k {
                    self.propose(l);
                }
                self.process(l)?;
            } else {
                // Also try non-leaders: must be refused without side effects.
                let id = ids[self.rng.gen_range(0..ids.len())];
                if self.is_up(id) && self.role(id) != Some(Role::Leader) {
                    let r = self.raft_mut(id).propose(vec![1]);
                    if r.is_ok() {
                        return Err(format!("non-leader {id} accepted a proposal"));
                    }
                }
            }
        }
        if self.opts.read_p > 0.0 && self.rng.gen_bool(self.opts.read_p) {
            if let Some(l) = self.leader() {
                self.read(l);
                self.process(l)?;
            }
        }
        if !faults {
            return Ok(());
        }
        if self.opts.partitions && self.rng.gen_bool(0.003) {
            if self.blocked.is_empty() {
                let mut group = Vec::new();
                for &id in &ids {
                    if self.rng.gen_bool(0.4) {
                        group.push(id);
                    }
                }
                if self.rng.gen_bool(0.3) {
                    if let Some(l) = self.leader() {
                        group = vec![l];
                    }
                }
                self.split(&group);
            } else {
                self.heal();
            }
        }
        if self.opts.crashes && self.rng.gen_bool(0.002) {
            let id = ids[self.rng.gen_range(0..ids.len())];
            if self.is_up(id) {
                let down = self.nodes.values().filter(|n| n.raft.is_none()).count();
                if down + 1 < self.quorum() || self.rng.gen_bool(0.3) {
                    self.crash(id);
                }
            } else {
                let seed = self.rng.gen();
                self.restart(id, seed)?;
            }
        }
        if self.opts.crashes && self.rng.gen_bool(0.004) {
            // Restart a random crashed node.
            let down: Vec<NodeId> = ids.iter().copied().filter(|&i| !self.is_up(i)).collect();
            if !down.is_empty() {
                let id = down[self.rng.gen_range(0..down.len())];
                let seed = self.rng.gen();
                self.restart(id, seed)?;
            }
        }
        if self.opts.compaction && self.rng.gen_bool(0.004) {
            let id = ids[self.rng.gen_range(0..ids.len())];
            self.compact(id)?;
        }
        Ok(())
    }

    /// Ends the faults: heals, restarts everyone, stops loss, and checks that the cluster
    /// elects a leader, commits a new entry and every node applies it.
    fn converge(&mut self) -> Check {
        self.heal();
        self.opts.loss = 0.0;
        self.opts.dup = 0.0;
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids.clone() {
            if !self.is_up(id) {
                let seed = self.rng.gen();
                self.restart(id, seed)?;
            }
        }
        let mut target: Option<(u64, u64)> = None;
        for _ in 0..(400 * TICK) {
            self.step_random(false)?;
            if target.is_none() {
                if let Some(l) = self.leader() {
                    target = self.propose(l);
                    self.process(l)?;
                }
            }
            if let Some((term, index)) = target {
                let done = ids.iter().all(|&id| self.nodes[&id].applied >= index);
                if done {
                    return match self.committed.get(&index) {
                        Some((t, _, _)) if *t == term => self.check_full_log_matching(),
                        // The proposal was overwritten by a later leader: propose again.
                        _ => {
                            target = None;
                            continue;
                        }
                    };
                }
            }
        }
        Err(format!(
            "no convergence: leader {:?}, applied {:?}, target {target:?}",
            self.leader(),
            ids.iter()
                .map(|id| self.nodes[id].applied)
                .collect::<Vec<_>>()
        ))
    }
}

impl Sim {
    /// Pairwise log matching over the whole persisted logs: if two logs hold an entry with
    /// the same index and term, they are identical up to it (from where both still hold
    /// entries). The per-step check is incremental; this is the direct definition.
    fn check_full_log_matching(&self) -> Check {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for (k, &a) in ids.iter().enumerate() {
            for &b in &ids[k + 1..] {
                let (da, db) = (&self.nodes[&a].disk, &self.nodes[&b].disk);
                let lo = da.snapshot_index().max(db.snapshot_index()) + 1;
                let hi = da.last_index().min(db.last_index());
                let mut same_from = None;
                for i in (lo..=hi).rev() {
                    if da.term(i) == db.term(i) {
                        same_from = Some(i);
                        break;
                    }
                }
                let Some(top) = same_from else { continue };
                for i in lo..=top {
                    let ea = &da.entries[(i - da.snapshot_index() - 1) as usize];
                    let eb = &db.entries[(i - db.snapshot_index() - 1) as usize];
                    if ea != eb {
                        return Err(format!(
                            "log matching violated between nodes {a} and {b} at index {i} (they agree at {top})"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_apply(
    committed: &mut BTreeMap<u64, (u64, Vec<u8>, u64)>,
    id: NodeId,
    index: u64,
    term: u64,
    data: &[u8],
    max_term: u64,
) -> Check {
    match committed.get(&index) {
        Some((t, d, _)) => {
            if *t != term || d != data {
                return Err(format!(
                    "state machine safety violated: node {id} applied (index {index}, term {term}) but (term {t}) was applied elsewhere"
                ));
            }
        }
        None => {
            committed.insert(index, (term, data.to_vec(), max_term));
        }
    }
    Ok(())
}

fn encode_sm(sm: &Sm) -> Vec<u8> {
    serde_json::to_vec(sm).unwrap_or_default()
}

fn decode_sm(data: &[u8]) -> Result<Sm, String> {
    serde_json::from_slice(data).map_err(|e| format!("bad snapshot data: {e}"))
}

/// Runs one random chaos simulation; `Err` is the first invariant violation.
fn run_chaos(opts: Opts, seed: u64, units: u64) -> Result<Sim, (String, Stats)> {
    let mut sim = Sim::new(opts, seed);
    for _ in 0..units {
        if let Err(e) = sim.step_random(true) {
            return Err((e, sim.stats));
        }
    }
    if let Err(e) = sim.converge() {
        return Err((e, sim.stats));
    }
    Ok(sim)
}

fn ok(c: Check) {
    if let Err(e) = c {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// Random simulations
// ------------------------------------------------------------------------------------------

#[test]
fn chaos_many_seeds_three_nodes() {
    let mut totals = Stats::default();
    for seed in 0..120 {
        match run_chaos(Opts::chaos(3), seed, 2500) {
            Ok(sim) => {
                totals.proposals += sim.stats.proposals;
                totals.reads_served += sim.stats.reads_served;
                totals.snapshots_installed += sim.stats.snapshots_installed;
                totals.leaders += sim.stats.leaders;
                totals.restarts += sim.stats.restarts;
                assert!(
                    !sim.committed.is_empty(),
                    "seed {seed}: nothing was committed"
                );
            }
            Err((e, stats)) => panic!("seed {seed}: {e} ({stats:?})"),
        }
    }
    eprintln!("3-node chaos totals over 120 seeds: {totals:?}");
    // The runs must actually exercise the interesting paths.
    assert!(totals.reads_served > 100, "{totals:?}");
    assert!(totals.snapshots_installed > 0, "{totals:?}");
    assert!(totals.leaders > 240, "{totals:?}");
    assert!(totals.restarts > 20, "{totals:?}");
}

#[test]
fn chaos_many_seeds_five_nodes() {
    for seed in 1000..1080 {
        if let Err((e, stats)) = run_chaos(Opts::chaos(5), seed, 2500) {
            panic!("seed {seed}: {e} ({stats:?})");
        }
    }
}

#[test]
fn chaos_heavy_loss_without_prevote() {
    for seed in 2000..2040 {
        let mut o = Opts::chaos(3);
        o.loss = 0.3;
        o.pre_vote = false;
        o.check_quorum = false;
        o.max_inflight = 2;
        if let Err((e, stats)) = run_chaos(o, seed, 2500) {
            panic!("seed {seed}: {e} ({stats:?})");
        }
    }
}

#[test]
fn invariant_checker_catches_no_truncate_bug() {
    let mut caught = Vec::new();
    for seed in 0..150 {
        let mut o = Opts::chaos(3);
        o.bug_no_truncate = true;
        o.compaction = false;
        if let Err((e, _)) = run_chaos(o, seed, 2500) {
            caught.push((seed, e));
        }
    }
    assert!(
        !caught.is_empty(),
        "bug_no_truncate was never detected by the invariants"
    );
    let (seed, e) = &caught[0];
    eprintln!(
        "no-truncate caught in {} of 150 seeds; first: seed {seed}: {e}",
        caught.len()
    );
}

// ------------------------------------------------------------------------------------------
// Scenarios built by hand
// ------------------------------------------------------------------------------------------

impl Sim {
    /// Ticks `id` alone and settles (delivering only messages `keep` accepts) until it is
    /// leader, for at most `rounds` campaigns.
    fn elect_with(&mut self, id: NodeId, rounds: usize, keep: &dyn Fn(&Message) -> bool) -> Check {
        for _ in 0..rounds {
            let max = self.nodes[&id].cfg.election_ticks_max + 1;
            for _ in 0..max {
                self.tick(id)?;
                let campaigning = self.net.iter().any(|f| {
                    f.msg.from == id
                        && matches!(
                            f.msg.body,
                            MessageBody::Vote { .. } | MessageBody::PreVote { .. }
                        )
                });
                if campaigning || self.role(id) == Some(Role::Leader) {
                    break;
                }
            }
            self.settle_with(keep)?;
            if self.role(id) == Some(Role::Leader) {
                return Ok(());
            }
        }
        Err(format!("node {id} did not become leader"))
    }

    /// Ticks every up node and settles, `n` times.
    fn run_ticks(&mut self, n: usize) -> Check {
        for _ in 0..n {
            self.tick_all()?;
            self.settle()?;
        }
        Ok(())
    }

    /// Delivers (once) the in-flight messages matching `pred`, leaving the others queued.
    fn deliver_where(&mut self, pred: &dyn Fn(&Message) -> bool) -> Check {
        let (take, keep): (Vec<InFlight>, Vec<InFlight>) = std::mem::take(&mut self.net)
            .into_iter()
            .partition(|f| pred(&f.msg));
        self.net = keep;
        for f in take {
            self.deliver(f.msg)?;
        }
        Ok(())
    }

    fn propose_n(&mut self, id: NodeId, n: usize) -> Vec<(u64, u64)> {
        let out = (0..n).filter_map(|_| self.propose(id)).collect();
        ok(self.process(id));
        out
    }

    fn data_committed(&self, data: &[u8]) -> bool {
        self.committed.values().any(|(_, d, _)| d == data)
    }
}

fn has_entries_of_term(m: &Message, term: u64) -> bool {
    matches!(&m.body, MessageBody::Append { entries, .. } if entries.iter().any(|e| e.term == term))
}

#[test]
fn single_node_cluster_commits_and_reads() {
    let mut sim = Sim::new(Opts::manual(1), 1);
    ok(sim.elect_with(1, 1, &|_| true));
    assert_eq!(sim.role(1), Some(Role::Leader));
    let (_, idx) = sim.propose(1).expect("leader accepts");
    ok(sim.process(1));
    assert_eq!(sim.nodes[&1].applied, idx, "single node commits at once");
    let ctx = sim.read(1).expect("leader reads");
    ok(sim.process(1));
    assert!(!sim.reads.contains_key(&ctx), "read answered at once");
    assert_eq!(sim.stats.reads_served, 1);
}

#[test]
fn split_vote_then_one_leader() {
    let mut sim = Sim::new(Opts::manual(4), 7);
    // Nodes 1 and 2 time out together and both campaign in term 1.
    for id in [1, 2] {
        for _ in 0..30 {
            ok(sim.tick(id));
            if sim.role(id) == Some(Role::Candidate) {
                break;
            }
        }
        assert_eq!(sim.role(id), Some(Role::Candidate));
    }
    // Node 3 hears node 1 first, node 4 hears node 2 first: 2 votes each, quorum is 3.
    ok(sim.deliver_where(&|m| (m.from == 1 && m.to == 3) || (m.from == 2 && m.to == 4)));
    ok(sim.settle());
    assert!(sim.leaders_now().is_empty(), "a split vote elects nobody");
    assert_eq!(sim.term(1), 1);
    assert_eq!(sim.term(2), 1);
    // Randomized timeouts break the tie.
    for _ in 0..200 {
        ok(sim.tick_all());
        ok(sim.settle());
        if !sim.leaders_now().is_empty() {
            break;
        }
    }
    let leaders = sim.leaders_now();
    assert_eq!(leaders.len(), 1, "exactly one leader after the split");
    assert!(sim.term(leaders[0]) >= 2);
}

#[test]
fn leader_change_discards_uncommitted_entries() {
    let mut sim = Sim::new(Opts::manual(5), 11);
    ok(sim.elect_with(1, 5, &|_| true));
    sim.propose_n(1, 3);
    ok(sim.settle());
    let committed_before = sim.raft(1).status().commit;
    assert!(committed_before >= 4);
    // Leader 1 is cut off and accepts entries it can never commit.
    sim.isolate(1);
    let lost: Vec<Vec<u8>> = (0..3)
        .map(|_| {
            let v = sim.next_value;
            sim.propose(1).expect("still leader");
            v.to_le_bytes().to_vec()
        })
        .collect();
    ok(sim.process(1));
    ok(sim.settle());
    assert_eq!(sim.raft(1).status().commit, committed_before);
    // The majority elects node 2, which commits new entries at the same indexes.
    ok(sim.elect_with(2, 5, &|_| true));
    sim.propose_n(2, 4);
    ok(sim.settle());
    // Heal: node 1 steps down and its suffix is replaced.
    sim.heal();
    ok(sim.run_ticks(30));
    assert_ne!(sim.role(1), Some(Role::Leader));
    let l = sim.leader().expect("a leader");
    let commit = sim.raft(l).status().commit;
    for id in 1..=5 {
        assert_eq!(sim.nodes[&id].applied, commit, "node {id} caught up");
    }
    assert_eq!(sim.raft(1).log_entries(), sim.raft(l).log_entries());
    for d in &lost {
        assert!(!sim.data_committed(d), "an uncommitted entry was applied");
    }
}

/// Figure 8 of the Raft paper: an entry from an older term that sits on a majority must
/// not be committed by counting replicas, because a later leader may overwrite it.
#[test]
fn figure_8_old_term_entry_not_committed_by_counting() {
    let mut o = Opts::manual(5);
    o.max_entries = 1;
    let mut sim = Sim::new(o, 8);
    // Term 1: S1 leads, its no-op (index 1) commits everywhere.
    ok(sim.elect_with(1, 5, &|_| true));
    ok(sim.settle());
    let t1 = sim.term(1);
    assert_eq!(sim.max_commit(), 1);
    // (a) S1 appends X at index 2, which reaches only S2.
    let x = sim.next_value.to_le_bytes().to_vec();
    let (_, xi) = sim.propose(1).expect("leader");
    assert_eq!(xi, 2);
    ok(sim.process(1));
    ok(sim.settle_with(&|m| !(m.from == 1 && m.to != 2 && has_entries_of_term(m, t1))));
    assert_eq!(sim.raft(2).log_term(2), Some(t1));
    assert_eq!(sim.raft(3).log_term(2), None);
    // (b) S1 crashes; S5 wins the next term with S3 and S4 and appends its no-op at index
    // 2, replicated nowhere; then S5 crashes.
    sim.crash(1);
    sim.blocked.insert((5, 2));
    sim.blocked.insert((2, 5));
    ok(sim.elect_with(5, 5, &|m| {
        !(m.from == 5 && matches!(m.body, MessageBody::Append { .. }))
    }));
    let t5 = sim.term(5);
    assert!(t5 > t1);
    assert_eq!(sim.raft(5).log_term(2), Some(t5));
    sim.crash(5);
    sim.heal();
    // (c) S1 restarts and wins a later term with S2, S3, S4; it replicates X (term t1) to
    // a majority, but none of its own term's entries get through.
    ok(sim.restart(1, 81));
    // S2 already holds X: it gets no append carrying S1's new-term entries. S3 and S4 get
    // only the first such append (the optimistic one, which they reject because they lack
    // index 2); after backing off, S1 sends X alone (max_entries = 1), and then its term's
    // entries again, which are dropped.
    let seen = std::cell::RefCell::new(BTreeMap::<NodeId, u32>::new());
    let keep_c = |m: &Message| -> bool {
        let new_term = matches!(&m.body, MessageBody::Append { entries, .. } if entries.iter().any(|e| e.term > t5));
        if m.from == 1 && new_term {
            if m.to == 2 {
                return false;
            }
            let mut seen = seen.borrow_mut();
            let n = seen.entry(m.to).or_insert(0);
            *n += 1;
            return *n == 1;
        }
        true
    };
    ok(sim.elect_with(1, 10, &keep_c));
    let t1b = sim.term(1);
    assert!(t1b > t5);
    for id in 2..=4 {
        assert_eq!(sim.raft(id).log_term(2), Some(t1), "node {id} holds X");
    }
    // X is on S1, S2, S3, S4 (a majority), but from an old term: not committed.
    assert_eq!(
        sim.raft(1).status().commit,
        1,
        "leader committed an old-term entry by counting replicas"
    );
    assert!(!sim.data_committed(&x));
    // (d) S1 crashes; S5 restarts and wins (its last term is higher), overwriting X.
    sim.crash(1);
    ok(sim.restart(5, 85));
    ok(sim.elect_with(5, 10, &|_| true));
    ok(sim.settle());
    for id in 2..=4 {
        assert_eq!(sim.raft(id).log_term(2), Some(t5), "node {id} overwrote X");
    }
    assert_eq!(sim.committed.get(&2).map(|c| c.0), Some(t5));
    // Finally everyone converges without ever applying X.
    ok(sim.restart(1, 86));
    ok(sim.converge());
    assert!(!sim.data_committed(&x));
}

#[test]
fn snapshot_install_to_lagging_follower() {
    let mut sim = Sim::new(Opts::manual(3), 21);
    ok(sim.elect_with(1, 5, &|_| true));
    sim.isolate(3);
    for _ in 0..6 {
        sim.propose_n(1, 5);
        ok(sim.settle());
    }
    let commit = sim.raft(1).status().commit;
    assert!(commit >= 31);
    ok(sim.compact(1));
    ok(sim.compact(2));
    assert_eq!(sim.raft(1).status().snapshot_index, commit);
    sim.heal();
    ok(sim.run_ticks(20));
    assert!(
        sim.delivered_kinds
            .get("InstallSnapshot")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    assert!(sim.nodes[&3].disk.snapshot_index() >= commit);
    assert_eq!(sim.nodes[&3].applied, sim.nodes[&1].applied);
    assert_eq!(sim.nodes[&3].sm, sim.nodes[&1].sm);
    // Replication continues normally after the install.
    let (_, idx) = sim.propose(1).expect("leader");
    ok(sim.process(1));
    ok(sim.run_ticks(3));
    assert_eq!(sim.nodes[&3].applied, idx);
}

/// Isolates node 3 for many election timeouts, heals, and reports whether the leader was
/// deposed (its term moved).
fn rejoin_disrupts(pre_vote: bool) -> bool {
    let mut o = Opts::manual(3);
    o.pre_vote = pre_vote;
    let mut sim = Sim::new(o, 31);
    ok(sim.elect_with(1, 5, &|_| true));
    ok(sim.run_ticks(5));
    let term = sim.term(1);
    sim.isolate(3);
    ok(sim.run_ticks(200));
    if pre_vote {
        assert_eq!(
            sim.term(3),
            term,
            "pre-vote: an isolated node keeps its term"
        );
    }
    sim.heal();
    // The rejoining node campaigns before it hears from the leader.
    for _ in 0..40 {
        ok(sim.tick(3));
        if sim.net.iter().any(|f| f.msg.from == 3) {
            break;
        }
    }
    assert!(sim.net.iter().any(|f| f.msg.from == 3), "node 3 campaigned");
    ok(sim.settle());
    ok(sim.run_ticks(60));
    assert_eq!(sim.leaders_now().len(), 1);
    sim.term(1) != term || sim.role(1) != Some(Role::Leader)
}

#[test]
fn pre_vote_prevents_disruption_by_rejoining_node() {
    assert!(!rejoin_disrupts(true), "with pre-vote the leader survives");
    assert!(
        rejoin_disrupts(false),
        "without pre-vote the rejoining node deposes the leader (the check can fail)"
    );
}

#[test]
fn check_quorum_leader_steps_down_and_aborts_reads() {
    for check_quorum in [true, false] {
        let mut o = Opts::manual(3);
        o.check_quorum = check_quorum;
        let mut sim = Sim::new(o, 41);
        ok(sim.elect_with(1, 5, &|_| true));
        ok(sim.run_ticks(3));
        sim.isolate(1);
        let ctx = sim.read(1).expect("still leader");
        ok(sim.process(1));
        for _ in 0..50 {
            ok(sim.tick(1));
            ok(sim.settle());
        }
        if check_quorum {
            assert_ne!(
                sim.role(1),
                Some(Role::Leader),
                "leader without quorum steps down"
            );
            assert!(!sim.reads.contains_key(&ctx));
            assert_eq!(sim.stats.reads_aborted, 1);
        } else {
            assert_eq!(sim.role(1), Some(Role::Leader));
            assert!(
                sim.reads.contains_key(&ctx),
                "an unconfirmed read is never served"
            );
        }
        assert_eq!(sim.stats.reads_served, 0);
    }
}

#[test]
fn read_index_on_deposed_leader_is_never_served() {
    let mut sim = Sim::new(Opts::manual(3), 51);
    ok(sim.elect_with(1, 5, &|_| true));
    ok(sim.run_ticks(3));
    sim.isolate(1);
    let stale = sim.read(1).expect("node 1 still thinks it leads");
    ok(sim.process(1));
    ok(sim.elect_with(2, 10, &|_| true));
    sim.propose_n(2, 3);
    ok(sim.settle());
    for _ in 0..10 {
        ok(sim.tick(1));
        ok(sim.settle());
    }
    assert!(
        sim.reads.contains_key(&stale),
        "stale leader must not answer"
    );
    // A read on the new leader is answered at or above everything committed.
    let fresh = sim.read(2).expect("leader");
    ok(sim.process(2));
    ok(sim.run_ticks(2));
    assert!(!sim.reads.contains_key(&fresh));
    sim.heal();
    ok(sim.run_ticks(10));
    assert!(!sim.reads.contains_key(&stale), "aborted on step-down");
    assert_eq!(sim.stats.reads_aborted, 1);
    assert_eq!(sim.stats.reads_served, 1);
}

#[test]
fn read_before_first_commit_of_term_waits_for_it() {
    let mut sim = Sim::new(Opts::manual(3), 61);
    ok(sim.elect_with(1, 5, &|_| true));
    sim.propose_n(1, 2);
    ok(sim.settle());
    let commit_before = sim.raft(1).status().commit;
    // New leader 2; ask for a read before its no-op commits.
    ok(sim.elect_with(2, 10, &|m| !matches!(m.body, MessageBody::Append { .. })));
    assert_eq!(sim.role(2), Some(Role::Leader));
    let ctx = sim.read(2).expect("leader");
    ok(sim.process(2));
    assert!(
        sim.reads.contains_key(&ctx),
        "no read before the term's first commit"
    );
    ok(sim.run_ticks(3));
    assert!(!sim.reads.contains_key(&ctx));
    assert!(sim.raft(2).status().commit > commit_before);
}

#[test]
fn batching_and_pipelining() {
    let mut o = Opts::manual(3);
    o.max_entries = 4;
    o.max_inflight = 3;
    let mut sim = Sim::new(o, 71);
    ok(sim.elect_with(1, 5, &|_| true));
    ok(sim.run_ticks(2));
    sim.propose_n(1, 20);
    let appends_to_2: Vec<usize> = sim
        .net
        .iter()
        .filter_map(|f| match &f.msg.body {
            MessageBody::Append { entries, .. } if f.msg.to == 2 => Some(entries.len()),
            _ => None,
        })
        .collect();
    assert_eq!(
        appends_to_2,
        vec![4, 4, 4],
        "3 pipelined appends of 4 entries"
    );
    ok(sim.settle());
    let c = sim.raft(1).status().commit;
    assert_eq!(sim.nodes[&2].applied, c);
    assert_eq!(c, sim.raft(1).status().last_index);
}

#[test]
fn full_cluster_restart_keeps_committed_entries() {
    let mut sim = Sim::new(Opts::manual(3), 91);
    ok(sim.elect_with(1, 5, &|_| true));
    sim.propose_n(1, 10);
    ok(sim.settle());
    let before = sim.nodes[&1].sm.clone();
    assert!(before.len() >= 11);
    for id in 1..=3 {
        sim.crash(id);
    }
    for id in 1..=3 {
        ok(sim.restart(id, 900 + id));
        // Restored commit index: committed entries are re-applied at once.
        assert_eq!(
            sim.nodes[&id].sm.len(),
            sim.nodes[&id].disk.hs.commit as usize
        );
    }
    ok(sim.converge());
    for id in 1..=3 {
        assert_eq!(&sim.nodes[&id].sm[..before.len()], &before[..]);
    }
}

#[test]
fn same_seed_same_run() {
    let a = run_chaos(Opts::chaos(3), 5, 1500)
        .map_err(|e| e.0)
        .expect("safe");
    let b = run_chaos(Opts::chaos(3), 5, 1500)
        .map_err(|e| e.0)
        .expect("safe");
    assert_eq!(a.committed, b.committed);
    assert_eq!(a.stats.delivered, b.stats.delivered);
}

/// Garbage from peers (random terms, indexes, bodies) never panics and never breaks the
/// node's own consistency.
#[test]
fn random_garbage_messages_never_panic() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let voters = vec![1, 2, 3];
    for round in 0..20u64 {
        let mut cfg = Config::new(1, voters.clone());
        cfg.seed = round;
        let mut r = Raft::new(cfg, RestoreState::default()).expect("config");
        // Make it a leader sometimes, a follower other times.
        if round % 2 == 0 {
            for _ in 0..40 {
                r.tick();
            }
            assert_eq!(r.status().role, Role::PreCandidate);
            let grant = |term, body| Message {
                from: 2,
                to: 1,
                term,
                body,
            };
            r.step(grant(1, MessageBody::PreVoteResp { reject: false }))
                .expect("valid");
            assert_eq!(r.status().role, Role::Candidate);
            r.step(grant(1, MessageBody::VoteResp { reject: false }))
                .expect("valid");
            assert_eq!(r.status().role, Role::Leader);
            for k in 0..5u8 {
                r.propose(vec![k]).expect("leader");
            }
        }
        for _ in 0..2000 {
            let small = |rng: &mut ChaCha8Rng| -> u64 {
                match rng.gen_range(0..6) {
                    0 => 0,
                    1 => rng.gen_range(0..10),
                    2 => rng.gen_range(0..1000),
                    3 => u64::MAX - rng.gen_range(0..3),
                    4 => (1 << 62) + rng.gen_range(0..3) - 1,
                    _ => rng.gen(),
                }
            };
            let entries: Vec<Entry> = {
                let start = small(&mut rng);
                let n = rng.gen_range(0..4u64);
                (0..n)
                    .map(|k| Entry {
                        term: small(&mut rng),
                        index: start.wrapping_add(k),
                        data: vec![k as u8],
                    })
                    .collect()
            };
            let body = match rng.gen_range(0..9) {
                0 => MessageBody::PreVote {
                    last_index: small(&mut rng),
                    last_term: small(&mut rng),
                },
                1 => MessageBody::PreVoteResp { reject: rng.gen() },
                2 => MessageBody::Vote {
                    last_index: small(&mut rng),
                    last_term: small(&mut rng),
                },
                3 => MessageBody::VoteResp { reject: rng.gen() },
                4 => MessageBody::Append {
                    prev_index: small(&mut rng),
                    prev_term: small(&mut rng),
                    entries,
                    commit: small(&mut rng),
                },
                5 => MessageBody::AppendResp {
                    reject: rng.gen(),
                    index: small(&mut rng),
                    hint_index: small(&mut rng),
                    hint_term: small(&mut rng),
                },
                6 => MessageBody::Heartbeat {
                    commit: small(&mut rng),
                    read_ctx: Some(small(&mut rng)),
                },
                7 => MessageBody::HeartbeatResp {
                    read_ctx: Some(small(&mut rng)),
                },
                _ => MessageBody::InstallSnapshot {
                    snapshot: Snapshot {
                        meta: raft_core::raft::SnapshotMeta {
                            index: small(&mut rng),
                            term: small(&mut rng),
                            voters: voters.clone(),
                        },
                        data: vec![],
                    },
                },
            };
            let msg = Message {
                from: rng.gen_range(0..5),
                to: if rng.gen_bool(0.95) { 1 } else { 7 },
                term: small(&mut rng),
                body,
            };
            let _ = r.step(msg);
            if rng.gen_bool(0.05) {
                r.tick();
            }
            if rng.gen_bool(0.05) {
                let _ = r.propose(vec![1]);
                let _ = r.read_index(rng.gen());
            }
            if r.has_ready() {
                let rd = r.ready();
                for e in rd.entries.windows(2) {
                    assert_eq!(e[1].index, e[0].index + 1);
                }
                for e in rd.committed.windows(2) {
                    assert_eq!(e[1].index, e[0].index + 1);
                }
            }
            let st = r.status();
            assert!(st.commit <= st.last_index, "{st:?}");
            assert!(st.applied <= st.commit, "{st:?}");
        }
    }
}

#[test]
fn wrong_and_unknown_senders_are_errors() {
    let mut r = Raft::new(Config::new(1, vec![1, 2, 3]), RestoreState::default()).expect("ok");
    let hb = MessageBody::Heartbeat {
        commit: 0,
        read_ctx: None,
    };
    let e = r.step(Message {
        from: 9,
        to: 1,
        term: 1,
        body: hb.clone(),
    });
    assert!(matches!(
        e,
        Err(raft_core::raft::RaftError::UnknownPeer { from: 9 })
    ));
    let e = r.step(Message {
        from: 2,
        to: 3,
        term: 1,
        body: hb,
    });
    assert!(matches!(
        e,
        Err(raft_core::raft::RaftError::WrongRecipient { .. })
    ));
    assert_eq!(r.status().term, 0, "rejected messages change nothing");
}

#[test]
fn restore_rejects_inconsistent_disk_state() {
    let cfg = Config::new(1, vec![1, 2, 3]);
    let gap = RestoreState {
        hard_state: HardState {
            term: 2,
            vote: None,
            commit: 0,
        },
        snapshot: None,
        entries: vec![
            Entry {
                term: 1,
                index: 1,
                data: vec![],
            },
            Entry {
                term: 1,
                index: 3,
                data: vec![],
            },
        ],
    };
    assert!(Raft::new(cfg.clone(), gap).is_err());
    let future_term = RestoreState {
        hard_state: HardState::default(),
        snapshot: None,
        entries: vec![Entry {
            term: 5,
            index: 1,
            data: vec![],
        }],
    };
    assert!(Raft::new(cfg.clone(), future_term).is_err());
    let mut bad = cfg;
    bad.voters = vec![2, 3];
    assert!(Raft::new(bad, RestoreState::default()).is_err());
}

#[test]
fn messages_roundtrip_as_json() {
    let m = Message {
        from: 1,
        to: 2,
        term: 3,
        body: MessageBody::Append {
            prev_index: 4,
            prev_term: 2,
            entries: vec![Entry {
                term: 3,
                index: 5,
                data: b"put x 1".to_vec(),
            }],
            commit: 4,
        },
    };
    let json = serde_json::to_string(&m).expect("serialize");
    assert!(
        json.contains("\"cHV0IHggMQ==\""),
        "payload is base64: {json}"
    );
    let back: Message = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, m);
    let bad = json.replace("cHV0IHggMQ==", "!!");
    assert!(serde_json::from_str::<Message>(&bad).is_err());
}

#[test]
fn restarted_node_remembers_its_vote() {
    let mut sim = Sim::new(Opts::manual(3), 111);
    for _ in 0..30 {
        ok(sim.tick(1));
        if sim.role(1) == Some(Role::Candidate) {
            break;
        }
    }
    assert_eq!(sim.term(1), 1);
    // Only node 3 hears node 1, grants, and its answer is lost.
    ok(sim.deliver_where(&|m| m.from == 1 && m.to == 3));
    sim.net.clear();
    assert_eq!(
        sim.nodes[&3].disk.hs.vote,
        Some(1),
        "vote persisted via Ready"
    );
    sim.crash(3);
    ok(sim.restart(3, 333));
    for _ in 0..30 {
        ok(sim.tick(2));
        if sim.role(2) == Some(Role::Candidate) {
            break;
        }
    }
    assert_eq!(sim.term(2), 1, "node 2 campaigns in the same term");
    ok(sim.deliver_where(&|m| m.from == 2 && m.to == 3));
    let answer = sim
        .net
        .iter()
        .find(|f| f.msg.from == 3 && f.msg.to == 2)
        .map(|f| f.msg.body.clone());
    assert_eq!(
        answer,
        Some(MessageBody::VoteResp { reject: true }),
        "a restarted node must not vote twice in one term"
    );
}

#[test]
fn elections_under_heavy_message_loss() {
    for seed in 3000..3030 {
        for pre_vote in [true, false] {
            let mut o = Opts::chaos(5);
            o.loss = 0.4;
            o.partitions = false;
            o.crashes = false;
            o.compaction = false;
            o.propose_p = 0.0;
            o.read_p = 0.0;
            o.pre_vote = pre_vote;
            let mut sim = Sim::new(o, seed);
            let mut elected = false;
            for _ in 0..(300 * TICK) {
                ok(sim.step_random(true));
                if sim.leader().is_some() {
                    elected = true;
                    break;
                }
            }
            assert!(
                elected,
                "seed {seed} pre_vote {pre_vote}: no leader under 40% loss"
            );
        }
    }
}
