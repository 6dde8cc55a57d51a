//! The event loop (one thread) that owns the Paxos core, the storage and the state
//! machine. Each turn it drains every queued request (client proposals and reads, peer
//! messages, status), ticks the core when a tick is due, then carries out the core's
//! `Ready`: persist (one fsync for the whole batch: group commit), send, apply, answer.

use crate::bugs::{Bug, Bugs};
use crate::config::NodeConfig;
use crate::kv::{ApplyResult, Command, Kv};
use crate::paxos::{Core, CoreConfig, Message, NodeId, Ready, Restored, Slot, Value};
use crate::storage::{Storage, StorageError};
use crate::transport::Transport;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The outcome of a write.
#[derive(Debug)]
pub enum ProposeOutcome {
    /// Chosen and applied in `slot`, proposed in ballot round `term`.
    Applied {
        term: u64,
        slot: Slot,
        result: ApplyResult,
    },
    /// This node does not lead; nothing was proposed.
    NotLeader { leader: Option<NodeId> },
    /// Another value was chosen in the slot, or a snapshot skipped it: outcome unknown.
    Lost,
}

/// The outcome of a read.
#[derive(Debug)]
pub enum ReadOutcome {
    /// The value (None = absent).
    Value(Option<String>),
    /// This node does not lead.
    NotLeader { leader: Option<NodeId> },
    /// Leadership was lost before the read was confirmed.
    Lost,
}

/// `/status` facts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeStatus {
    pub id: u64,
    pub name: String,
    pub role: &'static str,
    pub term: u64,
    pub ballot: String,
    pub leader: Option<String>,
    pub leader_id: Option<u64>,
    pub commit_index: u64,
    pub applied_index: u64,
    pub snapshot_index: u64,
    pub log_entries: usize,
    pub keys: usize,
    pub bugs: Vec<&'static str>,
}

/// A request to the event loop.
#[derive(Debug)]
pub enum Request {
    /// A write.
    Propose {
        cmd: Command,
        reply: oneshot::Sender<ProposeOutcome>,
    },
    /// A read of `key`.
    Read {
        key: String,
        reply: oneshot::Sender<ReadOutcome>,
    },
    /// Messages from peers.
    Peer(Vec<Message>),
    /// Status.
    Status(oneshot::Sender<NodeStatus>),
}

/// A cheap handle to send requests to the loop.
#[derive(Debug, Clone)]
pub struct NodeHandle(Sender<Request>);

impl NodeHandle {
    /// Queue a request; false if the loop has stopped.
    pub fn send(&self, req: Request) -> bool {
        self.0.send(req).is_ok()
    }
}

struct PendingWrite {
    text: String,
    term: u64,
    reply: oneshot::Sender<ProposeOutcome>,
}

/// The loop's state.
pub struct EventLoop {
    core: Core,
    storage: Storage,
    kv: Kv,
    transport: Transport,
    rx: Receiver<Request>,
    tick: Duration,
    snapshot_threshold: u64,
    bugs: Bugs,
    applied: Slot,
    snapshot_slot: Slot,
    writes: BTreeMap<Slot, PendingWrite>,
    reads: HashMap<u64, (String, oneshot::Sender<ReadOutcome>)>,
    next_read_id: u64,
}

impl EventLoop {
    /// Build the loop from the recovered storage; returns it and the handle to reach it.
    pub fn new(
        cfg: &NodeConfig,
        storage: Storage,
        restored: Restored,
        transport: Transport,
    ) -> (EventLoop, NodeHandle) {
        let mut nodes: Vec<NodeId> = cfg.peers.keys().copied().collect();
        nodes.push(cfg.id);
        nodes.sort_unstable();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let core_cfg = CoreConfig {
            id: cfg.id,
            nodes,
            election_ticks: cfg.election_ticks,
            heartbeat_ticks: cfg.heartbeat_ticks,
            max_batch: 512,
            seed,
            bugs: cfg.bugs.core(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let el = EventLoop {
            core: Core::new(core_cfg, restored),
            storage,
            kv: Kv::default(),
            transport,
            rx,
            tick: Duration::from_millis(cfg.tick_ms),
            snapshot_threshold: cfg.snapshot_threshold,
            bugs: cfg.bugs.clone(),
            applied: 0,
            snapshot_slot: 0,
            writes: BTreeMap::new(),
            reads: HashMap::new(),
            next_read_id: 0,
        };
        (el, NodeHandle(tx))
    }

    /// Run until every handle is dropped; a storage failure stops the node.
    pub fn run(mut self) -> Result<(), StorageError> {
        self.process_ready()?;
        let mut next_tick = Instant::now() + self.tick;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(wait) {
                Ok(req) => self.handle(req),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            while let Ok(req) = self.rx.try_recv() {
                self.handle(req);
            }
            let now = Instant::now();
            if now >= next_tick {
                self.core.tick();
                next_tick += self.tick;
                if next_tick < now {
                    next_tick = now + self.tick;
                }
            }
            self.process_ready()?;
        }
    }

    fn handle(&mut self, req: Request) {
        match req {
            Request::Propose { cmd, reply } => self.propose(cmd, reply),
            Request::Read { key, reply } => self.read(key, reply),
            Request::Peer(msgs) => msgs.into_iter().for_each(|m| self.core.step(m)),
            Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn propose(&mut self, cmd: Command, reply: oneshot::Sender<ProposeOutcome>) {
        let text = cmd.encode();
        let term = self.core.status().ballot.round;
        match self.core.propose(text.clone()) {
            Ok(slot) => {
                self.writes.insert(slot, PendingWrite { text, term, reply });
            }
            Err(nl) => {
                let _ = reply.send(ProposeOutcome::NotLeader { leader: nl.leader });
            }
        }
    }

    fn read(&mut self, key: String, reply: oneshot::Sender<ReadOutcome>) {
        if self.bugs.has(Bug::StaleRead) {
            let _ = reply.send(ReadOutcome::Value(self.kv.get(&key).cloned()));
            return;
        }
        self.next_read_id += 1;
        match self.core.read(self.next_read_id) {
            Ok(()) => {
                self.reads.insert(self.next_read_id, (key, reply));
            }
            Err(nl) => {
                let _ = reply.send(ReadOutcome::NotLeader { leader: nl.leader });
            }
        }
    }

    fn status(&self) -> NodeStatus {
        let s = self.core.status();
        NodeStatus {
            id: self.core.id(),
            name: format!("node{}", self.core.id()),
            role: s.role.name(),
            term: s.ballot.round,
            ballot: format!("{}.{}", s.ballot.round, s.ballot.node),
            leader: s.leader.map(|l| format!("node{l}")),
            leader_id: s.leader,
            commit_index: s.commit,
            applied_index: self.applied,
            snapshot_index: s.snapshot_slot,
            log_entries: s.accepted_len,
            keys: self.kv.len(),
            bugs: self.bugs.names(),
        }
    }

    /// Carry out every `Ready` until the core has nothing more (a compaction makes one).
    fn process_ready(&mut self) -> Result<(), StorageError> {
        loop {
            let ready = self.core.take_ready();
            if ready.is_empty() {
                return Ok(());
            }
            self.carry_out(ready)?;
            self.maybe_snapshot();
        }
    }

    fn carry_out(&mut self, ready: Ready) -> Result<(), StorageError> {
        if let Some(s) = &ready.snapshot {
            self.storage.save_snapshot(s)?;
            self.snapshot_slot = s.slot;
        }
        if let Some(recs) = &ready.rewrite {
            self.storage.rewrite(recs)?;
        }
        self.storage.append(&ready.persist)?;
        if let Some(s) = ready.install {
            self.install(s.slot, &s.data)?;
        }
        for m in ready.messages {
            self.transport.send(m);
        }
        for (slot, value) in ready.apply {
            self.apply(slot, value);
        }
        for (id, _) in ready.reads_ready {
            if let Some((key, reply)) = self.reads.remove(&id) {
                let _ = reply.send(ReadOutcome::Value(self.kv.get(&key).cloned()));
            }
        }
        for id in ready.reads_failed {
            if let Some((_, reply)) = self.reads.remove(&id) {
                let _ = reply.send(ReadOutcome::Lost);
            }
        }
        Ok(())
    }

    fn install(&mut self, slot: Slot, data: &str) -> Result<(), StorageError> {
        self.kv = Kv::from_snapshot(data).map_err(|e| StorageError::Corrupt {
            file: "snapshot".into(),
            offset: 0,
            reason: format!("state machine snapshot does not decode: {e}"),
        })?;
        self.applied = slot;
        self.snapshot_slot = self.snapshot_slot.max(slot);
        let skipped: Vec<Slot> = self.writes.range(..=slot).map(|(&s, _)| s).collect();
        for s in skipped {
            if let Some(w) = self.writes.remove(&s) {
                let _ = w.reply.send(ProposeOutcome::Lost);
            }
        }
        Ok(())
    }

    fn apply(&mut self, slot: Slot, value: Value) {
        self.applied = slot;
        let result = match &value {
            Value::Noop => None,
            Value::Cmd(text) => Some(self.kv.apply_encoded(text)),
        };
        let Some(w) = self.writes.remove(&slot) else {
            return;
        };
        let outcome = match (value, result) {
            (Value::Cmd(text), Some(result)) if text == w.text => ProposeOutcome::Applied {
                term: w.term,
                slot,
                result,
            },
            _ => ProposeOutcome::Lost,
        };
        let _ = w.reply.send(outcome);
    }

    fn maybe_snapshot(&mut self) {
        if self.applied >= self.snapshot_slot + self.snapshot_threshold {
            self.core.compact(self.applied, self.kv.snapshot());
        }
    }
}
