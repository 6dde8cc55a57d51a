//! The node's event loop, generic over the replicated state machine: one dedicated thread
//! owns the Raft core, the storage and the [`StateMachine`], and drives them.
//!
//! Inputs arrive on one channel (client proposals and reads from the HTTP handlers, each
//! with a oneshot reply; peer messages; status queries); the loop drains everything queued
//! before asking the core for a `Ready`, so that many client writes share one WAL fsync
//! (group commit). A `Ready` is handled in the order the core demands: persist (snapshot,
//! truncation, entries, hard state) and fsync, then send messages, then restore/apply, then
//! answer reads. A proposal `(term, index)` is answered when the entry at `index` is applied:
//! with its output if the term matches, `LeadershipLost` if another term shows up there or
//! the node stops leading. Every tick the state machine may ask for commands to be proposed
//! ([`StateMachine::on_tick`], e.g. expiring sessions by the leader's clock). The applied
//! index is published on a watch channel (long-polls wait on it). A snapshot is taken when
//! the log exceeds the threshold. The loop runs on its own OS thread so that fsync never
//! blocks the async runtime.

use crate::raft::{
    Config, Entry, Message, ProposeError, Raft, Ready, RestoreState, Role, Snapshot, SnapshotMeta,
    Status,
};
use crate::storage::{Storage, StorageError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// The replicated state machine a node runs. Everything but `on_tick` and `query` must be
/// deterministic: every replica applies the same entries to the same effect.
pub trait StateMachine: Send + 'static {
    /// What applying one command returns to its proposer.
    type Output: Send + 'static;
    /// A read answered from the state.
    type Query: Send + 'static;
    /// The answer to a read.
    type Answer: Send + 'static;
    /// Apply the command bytes of the committed entry `(term, index)` (never empty).
    fn apply(&mut self, index: u64, term: u64, data: &[u8]) -> Self::Output;
    /// Answer a read from the current state (after ReadIndex for a linearizable read).
    fn query(&mut self, query: Self::Query) -> Self::Answer;
    /// Serialize the replicated state.
    fn snapshot(&self) -> Vec<u8>;
    /// Replace the replicated state with a snapshot taken at `index`.
    fn restore(&mut self, index: u64, data: &[u8]) -> Result<(), String>;
    /// The output applying `data` would give now, without applying it (for the `early-ack`
    /// bug); `None` if the state machine cannot tell, which turns early acks off.
    fn preview(&self, _data: &[u8]) -> Option<Self::Output> {
        None
    }
    /// Called every tick with the leader's term when this node leads (`None` otherwise)
    /// and the current time; returns commands to propose (their outcome is not reported).
    fn on_tick(&mut self, _now: Instant, _leader_term: Option<u64>) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

/// The answer to a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposeOutcome<O> {
    /// The command was applied at (term, index) with this output.
    Applied {
        /// Term of the entry.
        term: u64,
        /// Index of the entry.
        index: u64,
        /// What applying it returned.
        result: O,
    },
    /// This node does not lead; the leader it knows of.
    NotLeader {
        /// Leader id, if known.
        leader: Option<u64>,
    },
    /// Leadership was lost or the entry was overwritten: the outcome is unknown.
    LeadershipLost,
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOutcome<A> {
    /// The state machine's answer, at a linearizable point (or local, for `LocalRead`).
    Answer(A),
    /// This node does not lead; the leader it knows of.
    NotLeader {
        /// Leader id, if known.
        leader: Option<u64>,
    },
    /// Leadership was lost before the read could be confirmed.
    LeadershipLost,
}

/// What `GET /status` reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    /// Node id.
    pub id: u64,
    /// `node<id>`.
    pub name: String,
    /// leader | follower | candidate | precandidate.
    pub role: String,
    /// Current term.
    pub term: u64,
    /// Leader name, if known.
    pub leader: Option<String>,
    /// Leader id, if known.
    pub leader_id: Option<u64>,
    /// Commit index.
    pub commit_index: u64,
    /// Index applied to the state machine.
    pub applied_index: u64,
    /// First index held in the log.
    pub log_first_index: u64,
    /// Last index of the log.
    pub log_last_index: u64,
    /// Index covered by the latest snapshot.
    pub snapshot_index: u64,
    /// Size of the snapshot file.
    pub snapshot_bytes: u64,
    /// Enabled deliberate bugs.
    pub bugs: Vec<&'static str>,
}

/// A request to the event loop.
pub enum Request<S: StateMachine> {
    /// Replicate and apply a command.
    Propose {
        /// The command bytes (non-empty).
        data: Vec<u8>,
        /// Where to answer.
        reply: oneshot::Sender<ProposeOutcome<S::Output>>,
    },
    /// Linearizable read (ReadIndex): answered once the read index is applied.
    Read {
        /// The read.
        query: S::Query,
        /// Where to answer.
        reply: oneshot::Sender<ReadOutcome<S::Answer>>,
    },
    /// Read of the local state at once, whatever the role (only the `stale-read` bugs).
    LocalRead {
        /// The read.
        query: S::Query,
        /// Where to answer.
        reply: oneshot::Sender<ReadOutcome<S::Answer>>,
    },
    /// Status query.
    Status {
        /// Where to answer.
        reply: oneshot::Sender<NodeStatus>,
    },
    /// Messages from peers.
    Peer(Vec<Message>),
}

/// Sends outgoing Raft messages (implemented by the HTTP transport; tests may fake it).
pub trait Outbox: Send {
    /// Queue a message for its destination; never blocks (drops on overflow).
    fn send(&mut self, msg: Message);
}

/// Errors that stop the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Storage failed: the node cannot go on safely.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The core refused its configuration or restored state.
    #[error("raft core: {0}")]
    Raft(#[from] crate::raft::RaftError),
    /// A snapshot could not be decoded into the state machine.
    #[error("cannot restore the state machine from snapshot at index {index}: {reason}")]
    BadSnapshot {
        /// Snapshot index.
        index: u64,
        /// Decoder error.
        reason: String,
    },
    /// The loop thread could not be started.
    #[error("cannot start the event loop thread: {0}")]
    Thread(std::io::Error),
}

/// Cloneable handle to send requests to the event loop.
pub struct NodeHandle<S: StateMachine> {
    tx: mpsc::Sender<Request<S>>,
    applied: watch::Receiver<u64>,
}

impl<S: StateMachine> Clone for NodeHandle<S> {
    fn clone(&self) -> Self {
        NodeHandle {
            tx: self.tx.clone(),
            applied: self.applied.clone(),
        }
    }
}

impl<S: StateMachine> std::fmt::Debug for NodeHandle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHandle")
            .field("applied", &*self.applied.borrow())
            .finish()
    }
}

impl<S: StateMachine> NodeHandle<S> {
    /// Send a request; false if the loop has stopped.
    pub fn send(&self, r: Request<S>) -> bool {
        self.tx.send(r).is_ok()
    }

    /// A receiver of the applied index, updated after every batch of applied entries.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }
}

/// Deliberate bugs that live in the loop or the core (the application adds its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreBugs {
    /// `early-ack`: the leader answers a write once it is in its own log, before commit.
    pub early_ack: bool,
    /// `no-truncate`: a follower appends without deleting a conflicting suffix.
    pub no_truncate: bool,
    /// `no-persist-vote`: term and vote are never written to disk.
    pub no_persist_vote: bool,
}

/// Settings of the event loop.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Node id.
    pub id: u64,
    /// Every voter id (this node included).
    pub voters: Vec<u64>,
    /// Tick length.
    pub tick: Duration,
    /// Election timeout range, in ticks.
    pub election_ticks: (u64, u64),
    /// Heartbeat interval, in ticks.
    pub heartbeat_ticks: u64,
    /// Snapshot when the log holds more entries than this.
    pub snapshot_threshold: u64,
    /// Deliberate bugs of the loop and core.
    pub bugs: CoreBugs,
    /// Names of every enabled bug (the application's too), for `/status`.
    pub bug_names: Vec<&'static str>,
}

struct Pending<O> {
    term: u64,
    /// None for the loop's own proposals (from `on_tick`).
    reply: Option<oneshot::Sender<ProposeOutcome<O>>>,
    /// The command, kept only for the `early-ack` bug's preview.
    data: Option<Vec<u8>>,
}

struct WaitingRead<S: StateMachine> {
    query: S::Query,
    reply: oneshot::Sender<ReadOutcome<S::Answer>>,
}

struct EventLoop<S: StateMachine, O: Outbox> {
    cfg: LoopConfig,
    raft: Raft,
    storage: Storage,
    sm: S,
    outbox: O,
    applied: u64,
    applied_term: u64,
    applied_tx: watch::Sender<u64>,
    snapshot_index: u64,
    /// Last log index durable in the WAL (or covered by the snapshot).
    persisted_last: u64,
    was_leader: bool,
    /// Role, term and vote last logged: every change is logged once (elections, votes).
    logged_state: (Role, u64, Option<u64>),
    pending: BTreeMap<u64, Pending<S::Output>>,
    next_ctx: u64,
    reads_by_ctx: HashMap<u64, Vec<WaitingRead<S>>>,
    /// (index to reach, read) for reads whose ReadIndex round succeeded.
    ready_reads: Vec<(u64, WaitingRead<S>)>,
}

/// The started loop: its handle and its thread, which ends with an error if the node must
/// stop (or with `Ok` once every handle is dropped).
pub type Started<S> = (
    NodeHandle<S>,
    std::thread::JoinHandle<Result<(), NodeError>>,
);

/// Build the core from recovered storage and start the event loop on its own thread.
pub fn start<S: StateMachine, O: Outbox + 'static>(
    cfg: LoopConfig,
    storage: Storage,
    restore: RestoreState,
    mut sm: S,
    outbox: O,
) -> Result<Started<S>, NodeError> {
    let mut rc = Config::new(cfg.id, cfg.voters.clone());
    rc.election_ticks_min = cfg.election_ticks.0;
    rc.election_ticks_max = cfg.election_ticks.1;
    rc.heartbeat_ticks = cfg.heartbeat_ticks;
    rc.seed = rand::random::<u64>() ^ cfg.id;
    rc.bug_no_truncate = cfg.bugs.no_truncate;
    let (applied, applied_term) = match &restore.snapshot {
        Some(s) => {
            sm.restore(s.meta.index, &s.data)
                .map_err(|reason| NodeError::BadSnapshot {
                    index: s.meta.index,
                    reason,
                })?;
            (s.meta.index, s.meta.term)
        }
        None => (0, 0),
    };
    let persisted_last = restore.entries.last().map_or(applied, |e| e.index);
    let raft = Raft::new(rc, restore)?;
    let (tx, rx) = mpsc::channel();
    let (applied_tx, applied_rx) = watch::channel(applied);
    let mut ev = EventLoop {
        cfg,
        raft,
        storage,
        sm,
        outbox,
        applied,
        applied_term,
        applied_tx,
        snapshot_index: applied,
        persisted_last,
        was_leader: false,
        logged_state: (Role::Follower, 0, None),
        pending: BTreeMap::new(),
        next_ctx: 1,
        reads_by_ctx: HashMap::new(),
        ready_reads: Vec::new(),
    };
    let th = std::thread::Builder::new()
        .name(format!("raft-loop-{}", ev.cfg.id))
        .spawn(move || ev.run(rx))
        .map_err(NodeError::Thread)?;
    let handle = NodeHandle {
        tx,
        applied: applied_rx,
    };
    Ok((handle, th))
}

impl<S: StateMachine, O: Outbox> EventLoop<S, O> {
    fn run(&mut self, rx: mpsc::Receiver<Request<S>>) -> Result<(), NodeError> {
        let tick = self.cfg.tick;
        let mut next_tick = Instant::now() + tick;
        let mut ticks: u64 = 0;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(r) => self.handle(r),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            // Drain whatever else is queued: these share the next Ready (group commit).
            for _ in 0..8192 {
                match rx.try_recv() {
                    Ok(r) => self.handle(r),
                    Err(_) => break,
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                self.raft.tick();
                self.state_machine_tick(now);
                ticks += 1;
                next_tick += tick;
                if next_tick < now {
                    next_tick = now + tick;
                }
                if ticks.is_multiple_of(100) {
                    self.gc_abandoned();
                }
            }
            while self.raft.has_ready() {
                let rd = self.raft.ready();
                self.process_ready(rd)?;
            }
            self.check_leadership();
            self.maybe_snapshot()?;
        }
    }

    /// Let the state machine propose its own commands (only a leader's are accepted).
    fn state_machine_tick(&mut self, now: Instant) {
        let st = self.raft.status();
        let leader_term = (st.role == Role::Leader).then_some(st.term);
        for data in self.sm.on_tick(now, leader_term) {
            if let Ok((term, index)) = self.raft.propose(data) {
                let p = Pending {
                    term,
                    reply: None,
                    data: None,
                };
                self.pending.insert(index, p);
            }
        }
    }

    fn handle(&mut self, r: Request<S>) {
        match r {
            Request::Propose { data, reply } => self.propose(data, reply),
            Request::Read { query, reply } => self.read(query, reply),
            Request::LocalRead { query, reply } => {
                let _ = reply.send(ReadOutcome::Answer(self.sm.query(query)));
            }
            Request::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Request::Peer(msgs) => {
                for m in msgs {
                    if let Err(e) = self.raft.step(m) {
                        tracing::debug!("dropped peer message: {e}");
                    }
                }
            }
        }
    }

    fn propose(&mut self, data: Vec<u8>, reply: oneshot::Sender<ProposeOutcome<S::Output>>) {
        let keep = self.cfg.bugs.early_ack.then(|| data.clone());
        match self.raft.propose(data) {
            Ok((term, index)) => {
                let p = Pending {
                    term,
                    reply: Some(reply),
                    data: keep,
                };
                self.pending.insert(index, p);
            }
            Err(ProposeError::NotLeader { leader }) => {
                let _ = reply.send(ProposeOutcome::NotLeader { leader });
            }
        }
    }

    fn read(&mut self, query: S::Query, reply: oneshot::Sender<ReadOutcome<S::Answer>>) {
        let ctx = self.next_ctx;
        self.next_ctx += 1;
        match self.raft.read_index(ctx) {
            Ok(()) => self
                .reads_by_ctx
                .entry(ctx)
                .or_default()
                .push(WaitingRead { query, reply }),
            Err(ProposeError::NotLeader { leader }) => {
                let _ = reply.send(ReadOutcome::NotLeader { leader });
            }
        }
    }

    fn apply_entry(&mut self, e: Entry) {
        if e.index <= self.applied {
            return;
        }
        self.applied = e.index;
        self.applied_term = e.term;
        if e.data.is_empty() {
            // The core's no-op entry of a new term: nothing to apply, nobody to answer.
            self.answer_lost_at(e.index);
            return;
        }
        let result = self.sm.apply(e.index, e.term, &e.data);
        if let Some(p) = self.pending.remove(&e.index) {
            let out = if p.term == e.term {
                ProposeOutcome::Applied {
                    term: e.term,
                    index: e.index,
                    result,
                }
            } else {
                ProposeOutcome::LeadershipLost
            };
            if let Some(reply) = p.reply {
                let _ = reply.send(out);
            }
        }
    }

    /// A proposal whose index was taken by another entry has an unknown outcome.
    fn answer_lost_at(&mut self, index: u64) {
        if let Some(Pending {
            reply: Some(reply), ..
        }) = self.pending.remove(&index)
        {
            let _ = reply.send(ProposeOutcome::LeadershipLost);
        }
    }

    fn persist(&mut self, rd: &Ready) -> Result<(), NodeError> {
        self.storage.persist(
            rd.snapshot.as_ref(),
            rd.truncate_from,
            &rd.entries,
            rd.hard_state.as_ref(),
        )?;
        if let Some(s) = &rd.snapshot {
            self.persisted_last = s.meta.index;
        }
        if let Some(from) = rd.truncate_from {
            self.persisted_last = self.persisted_last.min(from.saturating_sub(1));
        }
        if let Some(e) = rd.entries.last() {
            self.persisted_last = e.index;
        }
        Ok(())
    }

    /// BUG early-ack: acknowledge as soon as the leader's own log has the entry.
    fn early_ack(&mut self, entries: &[Entry]) {
        for e in entries {
            let matches = self.pending.get(&e.index).is_some_and(|p| p.term == e.term);
            if !matches {
                continue;
            }
            let Some(p) = self.pending.remove(&e.index) else {
                continue;
            };
            let preview = p.data.as_deref().and_then(|d| self.sm.preview(d));
            match (preview, p.reply) {
                (Some(result), Some(reply)) => {
                    let _ = reply.send(ProposeOutcome::Applied {
                        term: e.term,
                        index: e.index,
                        result,
                    });
                }
                (None, reply) => {
                    // Cannot preview: keep waiting for the commit as a correct node would.
                    let p = Pending {
                        term: p.term,
                        reply,
                        data: None,
                    };
                    self.pending.insert(e.index, p);
                }
                (Some(_), None) => {}
            }
        }
    }

    fn install_snapshot(&mut self, s: Snapshot) -> Result<(), NodeError> {
        self.sm
            .restore(s.meta.index, &s.data)
            .map_err(|reason| NodeError::BadSnapshot {
                index: s.meta.index,
                reason,
            })?;
        self.applied = s.meta.index;
        self.applied_term = s.meta.term;
        self.snapshot_index = s.meta.index;
        // Proposals at or below the snapshot: we cannot tell whether they won.
        let later = self.pending.split_off(&(s.meta.index + 1));
        for (_, p) in std::mem::replace(&mut self.pending, later) {
            if let Some(reply) = p.reply {
                let _ = reply.send(ProposeOutcome::LeadershipLost);
            }
        }
        Ok(())
    }

    fn process_ready(&mut self, mut rd: Ready) -> Result<(), NodeError> {
        // Committed entries that were already durable here before this Ready can be applied
        // (and their clients answered) without waiting for this Ready's fsync.
        let mut committed = std::mem::take(&mut rd.committed);
        if rd.snapshot.is_none() {
            let durable = self.persisted_last;
            let n = committed.iter().take_while(|e| e.index <= durable).count();
            for e in committed.drain(..n) {
                self.apply_entry(e);
            }
        }
        // 1-5: persist durably before anything is sent.
        self.persist(&rd)?;
        if self.cfg.bugs.early_ack && !rd.entries.is_empty() {
            self.early_ack(&rd.entries);
        }
        // 6: send.
        for m in std::mem::take(&mut rd.messages) {
            self.outbox.send(m);
        }
        // 7: restore from an installed snapshot.
        if let Some(s) = rd.snapshot.take() {
            self.install_snapshot(s)?;
        }
        // 8: apply committed entries.
        for e in committed {
            self.apply_entry(e);
        }
        self.applied_tx.send_if_modified(|a| {
            let changed = *a != self.applied;
            *a = self.applied;
            changed
        });
        // 9: reads.
        self.collect_reads(&mut rd);
        self.answer_ready_reads();
        Ok(())
    }

    fn collect_reads(&mut self, rd: &mut Ready) {
        for rs in std::mem::take(&mut rd.read_states) {
            if let Some(waiting) = self.reads_by_ctx.remove(&rs.ctx) {
                self.ready_reads
                    .extend(waiting.into_iter().map(|w| (rs.index, w)));
            }
        }
        for ctx in std::mem::take(&mut rd.aborted_reads) {
            for w in self.reads_by_ctx.remove(&ctx).unwrap_or_default() {
                let _ = w.reply.send(ReadOutcome::LeadershipLost);
            }
        }
    }

    fn answer_ready_reads(&mut self) {
        if self.ready_reads.is_empty() {
            return;
        }
        let applied = self.applied;
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_reads)
            .into_iter()
            .partition(|(idx, _)| *idx <= applied);
        self.ready_reads = later;
        for (_, w) in now {
            let answer = self.sm.query(w.query);
            let _ = w.reply.send(ReadOutcome::Answer(answer));
        }
    }

    /// When this node stops leading, every proposal it still holds has an unknown outcome.
    fn check_leadership(&mut self) {
        let st = self.raft.status();
        let now = (st.role, st.term, st.vote);
        if now != self.logged_state {
            tracing::info!(
                role = st.role.as_str(),
                term = st.term,
                vote = st.vote,
                leader = st.leader,
                last_index = st.last_index,
                "raft state changed"
            );
            self.logged_state = now;
        }
        let leader = st.role == Role::Leader;
        if self.was_leader && !leader {
            for (_, p) in std::mem::take(&mut self.pending) {
                if let Some(reply) = p.reply {
                    let _ = reply.send(ProposeOutcome::LeadershipLost);
                }
            }
            for (_, ws) in self.reads_by_ctx.drain() {
                for w in ws {
                    let _ = w.reply.send(ReadOutcome::LeadershipLost);
                }
            }
            for (_, w) in std::mem::take(&mut self.ready_reads) {
                let _ = w.reply.send(ReadOutcome::LeadershipLost);
            }
        }
        self.was_leader = leader;
    }

    /// Forget requests whose HTTP handler gave up (timed out).
    fn gc_abandoned(&mut self) {
        self.pending
            .retain(|_, p| p.reply.as_ref().is_none_or(|r| !r.is_closed()));
        self.reads_by_ctx.retain(|_, ws| {
            ws.retain(|w| !w.reply.is_closed());
            !ws.is_empty()
        });
        self.ready_reads.retain(|(_, w)| !w.reply.is_closed());
    }

    fn maybe_snapshot(&mut self) -> Result<(), NodeError> {
        if self.applied.saturating_sub(self.snapshot_index) <= self.cfg.snapshot_threshold {
            return Ok(());
        }
        let snap = Snapshot {
            meta: SnapshotMeta {
                index: self.applied,
                term: self.applied_term,
                voters: self.cfg.voters.clone(),
            },
            data: self.sm.snapshot(),
        };
        self.storage.save_snapshot(&snap)?;
        self.snapshot_index = snap.meta.index;
        tracing::info!(
            index = snap.meta.index,
            bytes = self.storage.snapshot_bytes(),
            "snapshot taken"
        );
        self.raft.compact(snap)?;
        Ok(())
    }

    fn status(&self) -> NodeStatus {
        let s: Status = self.raft.status();
        NodeStatus {
            id: s.id,
            name: format!("node{}", s.id),
            role: s.role.as_str().to_string(),
            term: s.term,
            leader: s.leader.map(|l| format!("node{l}")),
            leader_id: s.leader,
            commit_index: s.commit,
            applied_index: self.applied,
            log_first_index: s.first_index,
            log_last_index: s.last_index,
            snapshot_index: s.snapshot_index.max(self.snapshot_index),
            snapshot_bytes: self.storage.snapshot_bytes(),
            bugs: self.cfg.bug_names.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;

    /// Counts applied commands; as leader, proposes one `tick` command per tick until five
    /// were applied. Answers a query with the count.
    #[derive(Default)]
    struct Counter {
        applied: Vec<Vec<u8>>,
        proposed: usize,
    }

    impl StateMachine for Counter {
        type Output = usize;
        type Query = ();
        type Answer = usize;
        fn apply(&mut self, _index: u64, _term: u64, data: &[u8]) -> usize {
            self.applied.push(data.to_vec());
            self.applied.len()
        }
        fn query(&mut self, _q: ()) -> usize {
            self.applied.len()
        }
        fn snapshot(&self) -> Vec<u8> {
            self.applied.len().to_string().into_bytes()
        }
        fn restore(&mut self, _index: u64, _data: &[u8]) -> Result<(), String> {
            Err("not needed".into())
        }
        fn on_tick(&mut self, _now: Instant, leader_term: Option<u64>) -> Vec<Vec<u8>> {
            if leader_term.is_none() || self.proposed >= 5 {
                return Vec::new();
            }
            self.proposed += 1;
            vec![b"tick".to_vec()]
        }
    }

    struct NoPeers;
    impl Outbox for NoPeers {
        fn send(&mut self, _msg: Message) {}
    }

    #[test]
    fn state_machine_proposals_are_applied_and_the_applied_index_is_published() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (storage, restore, _) =
            Storage::open(tmp.path(), StorageOptions::default()).expect("storage");
        let cfg = LoopConfig {
            id: 1,
            voters: vec![1],
            tick: Duration::from_millis(1),
            election_ticks: (5, 10),
            heartbeat_ticks: 1,
            snapshot_threshold: 1000,
            bugs: CoreBugs::default(),
            bug_names: vec![],
        };
        let (h, _th) = start(cfg, storage, restore, Counter::default(), NoPeers).expect("start");
        let mut applied = h.applied_watch();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (tx, rx) = oneshot::channel();
            assert!(h.send(Request::Read {
                query: (),
                reply: tx
            }));
            if let Ok(ReadOutcome::Answer(5)) = rx.blocking_recv() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "five tick commands never applied"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // No-op of the term + five commands: the published index reached 6.
        assert!(*applied.borrow_and_update() >= 6);
        let (tx, rx) = oneshot::channel();
        assert!(h.send(Request::Propose {
            data: b"client".to_vec(),
            reply: tx
        }));
        match rx.blocking_recv().expect("reply") {
            ProposeOutcome::Applied { index, result, .. } => {
                assert_eq!((index, result), (7, 6));
            }
            other => panic!("{other:?}"),
        }
    }
}
