//! The node's event loop: one dedicated thread owns the Raft core, the storage and the kv
//! state machine, and drives them.
//!
//! Inputs arrive on one channel (client proposals and reads from the HTTP handlers, each
//! with a oneshot reply; peer messages; status queries); the loop drains everything queued
//! before asking the core for a `Ready`, so that many client writes share one WAL fsync
//! (group commit). A `Ready` is handled in the order the core demands: persist (snapshot,
//! truncation, entries, hard state) and fsync, then send messages, then restore/apply, then
//! answer reads. A proposal `(term, index)` is answered when the entry at `index` is applied:
//! with its result if the term matches, `LeadershipLost` if another term shows up there or
//! the node stops leading. A snapshot is taken when the log exceeds the threshold.
//! The loop runs on its own OS thread so that fsync never blocks the async runtime.

use crate::bugs::Bugs;
use crate::kv::{ApplyResult, Command, Kv};
use crate::raft::{
    Config, Entry, Message, ProposeError, Raft, Ready, Role, Snapshot, SnapshotMeta, Status,
};
use crate::storage::{Storage, StorageError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The answer to a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposeOutcome {
    /// The command was applied at (term, index) with this result.
    Applied {
        /// Term of the entry.
        term: u64,
        /// Index of the entry.
        index: u64,
        /// What applying it returned.
        result: ApplyResult,
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
pub enum ReadOutcome {
    /// The value (None = absent) at a linearizable point.
    Value(Option<String>),
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
    /// Index applied to the kv state machine.
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
#[derive(Debug)]
pub enum Request {
    /// Replicate and apply a command.
    Propose {
        /// The command.
        cmd: Command,
        /// Where to answer.
        reply: oneshot::Sender<ProposeOutcome>,
    },
    /// Linearizable read of a key (ReadIndex), or a local read with the stale-read bug.
    Read {
        /// Key.
        key: String,
        /// Where to answer.
        reply: oneshot::Sender<ReadOutcome>,
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
}

/// Cloneable handle to send requests to the event loop.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    tx: mpsc::Sender<Request>,
}

impl NodeHandle {
    /// Send a request; false if the loop has stopped.
    pub fn send(&self, r: Request) -> bool {
        self.tx.send(r).is_ok()
    }
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
    /// Deliberate bugs.
    pub bugs: Bugs,
}

struct Pending {
    term: u64,
    reply: oneshot::Sender<ProposeOutcome>,
    cmd: Option<Command>,
}

struct WaitingRead {
    key: String,
    reply: oneshot::Sender<ReadOutcome>,
}

struct EventLoop<O: Outbox> {
    cfg: LoopConfig,
    raft: Raft,
    storage: Storage,
    kv: Kv,
    outbox: O,
    applied: u64,
    applied_term: u64,
    snapshot_index: u64,
    /// Last log index durable in the WAL (or covered by the snapshot).
    persisted_last: u64,
    was_leader: bool,
    /// Role, term and vote last logged: every change is logged once (elections, votes).
    logged_state: (Role, u64, Option<u64>),
    pending: BTreeMap<u64, Pending>,
    next_ctx: u64,
    reads_by_ctx: HashMap<u64, Vec<WaitingRead>>,
    /// (index to reach, read) for reads whose ReadIndex round succeeded.
    ready_reads: Vec<(u64, WaitingRead)>,
}

/// Build the core from recovered storage and start the event loop on its own thread.
/// Returns the handle and the thread, which ends with an error if the node must stop.
pub fn start<O: Outbox + 'static>(
    cfg: LoopConfig,
    storage: Storage,
    restore: crate::raft::RestoreState,
    outbox: O,
) -> Result<(NodeHandle, std::thread::JoinHandle<Result<(), NodeError>>), NodeError> {
    let mut rc = Config::new(cfg.id, cfg.voters.clone());
    rc.election_ticks_min = cfg.election_ticks.0;
    rc.election_ticks_max = cfg.election_ticks.1;
    rc.heartbeat_ticks = cfg.heartbeat_ticks;
    rc.seed = rand::random::<u64>() ^ cfg.id;
    rc.bug_no_truncate = cfg.bugs.no_truncate;
    let (kv, applied, applied_term) = match &restore.snapshot {
        Some(s) => (
            Kv::restore(&s.data).map_err(|e| NodeError::BadSnapshot {
                index: s.meta.index,
                reason: e.to_string(),
            })?,
            s.meta.index,
            s.meta.term,
        ),
        None => (Kv::new(), 0, 0),
    };
    let snapshot_index = applied;
    let persisted_last = restore.entries.last().map_or(applied, |e| e.index);
    let raft = Raft::new(rc, restore)?;
    let (tx, rx) = mpsc::channel();
    let mut ev = EventLoop {
        cfg,
        raft,
        storage,
        kv,
        outbox,
        applied,
        applied_term,
        snapshot_index,
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
        .map_err(|e| {
            NodeError::Storage(StorageError::Io {
                path: "<event loop thread>".into(),
                source: e,
            })
        })?;
    Ok((NodeHandle { tx }, th))
}

impl<O: Outbox> EventLoop<O> {
    fn run(&mut self, rx: mpsc::Receiver<Request>) -> Result<(), NodeError> {
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

    fn handle(&mut self, r: Request) {
        match r {
            Request::Propose { cmd, reply } => {
                let data = cmd.encode();
                match self.raft.propose(data) {
                    Ok((term, index)) => {
                        let keep = self.cfg.bugs.early_ack.then(|| cmd.clone());
                        self.pending.insert(
                            index,
                            Pending {
                                term,
                                reply,
                                cmd: keep,
                            },
                        );
                    }
                    Err(ProposeError::NotLeader { leader }) => {
                        let _ = reply.send(ProposeOutcome::NotLeader { leader });
                    }
                }
            }
            Request::Read { key, reply } => {
                if self.cfg.bugs.stale_read {
                    // BUG stale-read: answer from local state, whatever our role.
                    let v = self.kv.get(&key).map(str::to_string);
                    let _ = reply.send(ReadOutcome::Value(v));
                    return;
                }
                let ctx = self.next_ctx;
                self.next_ctx += 1;
                match self.raft.read_index(ctx) {
                    Ok(()) => self
                        .reads_by_ctx
                        .entry(ctx)
                        .or_default()
                        .push(WaitingRead { key, reply }),
                    Err(ProposeError::NotLeader { leader }) => {
                        let _ = reply.send(ReadOutcome::NotLeader { leader });
                    }
                }
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

    fn apply_entry(&mut self, e: Entry) {
        if e.index <= self.applied {
            return;
        }
        let result = self.kv.apply_bytes(&e.data);
        self.applied = e.index;
        self.applied_term = e.term;
        if let Some(p) = self.pending.remove(&e.index) {
            let out = if p.term == e.term {
                ProposeOutcome::Applied {
                    term: e.term,
                    index: e.index,
                    result: result.unwrap_or(ApplyResult::Invalid),
                }
            } else {
                ProposeOutcome::LeadershipLost
            };
            let _ = p.reply.send(out);
        }
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
        if self.cfg.bugs.early_ack && !rd.entries.is_empty() {
            // BUG early-ack: acknowledge as soon as the leader's own log has the entry.
            for e in &rd.entries {
                let matches = self.pending.get(&e.index).is_some_and(|p| p.term == e.term);
                if matches {
                    if let Some(p) = self.pending.remove(&e.index) {
                        let result = match &p.cmd {
                            Some(c) => self.kv.preview(c),
                            None => ApplyResult::Done,
                        };
                        let _ = p.reply.send(ProposeOutcome::Applied {
                            term: e.term,
                            index: e.index,
                            result,
                        });
                    }
                }
            }
        }
        // 6: send.
        for m in rd.messages {
            self.outbox.send(m);
        }
        // 7: restore from an installed snapshot.
        if let Some(s) = rd.snapshot {
            self.kv = Kv::restore(&s.data).map_err(|e| NodeError::BadSnapshot {
                index: s.meta.index,
                reason: e.to_string(),
            })?;
            self.applied = s.meta.index;
            self.applied_term = s.meta.term;
            self.snapshot_index = s.meta.index;
            // Proposals at or below the snapshot: we cannot tell whether they won.
            let later = self.pending.split_off(&(s.meta.index + 1));
            for (_, p) in std::mem::replace(&mut self.pending, later) {
                let _ = p.reply.send(ProposeOutcome::LeadershipLost);
            }
        }
        // 8: apply committed entries.
        for e in committed {
            self.apply_entry(e);
        }
        // 9: reads.
        for rs in rd.read_states {
            if let Some(waiting) = self.reads_by_ctx.remove(&rs.ctx) {
                self.ready_reads
                    .extend(waiting.into_iter().map(|w| (rs.index, w)));
            }
        }
        for ctx in rd.aborted_reads {
            for w in self.reads_by_ctx.remove(&ctx).unwrap_or_default() {
                let _ = w.reply.send(ReadOutcome::LeadershipLost);
            }
        }
        if !self.ready_reads.is_empty() {
            let applied = self.applied;
            let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.ready_reads)
                .into_iter()
                .partition(|(idx, _)| *idx <= applied);
            self.ready_reads = later;
            for (_, w) in now {
                let v = self.kv.get(&w.key).map(str::to_string);
                let _ = w.reply.send(ReadOutcome::Value(v));
            }
        }
        Ok(())
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
                let _ = p.reply.send(ProposeOutcome::LeadershipLost);
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
        self.pending.retain(|_, p| !p.reply.is_closed());
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
            data: self.kv.snapshot(),
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
            bugs: self.cfg.bugs.names(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Op;
    use crate::storage::StorageOptions;

    struct NoPeers;
    impl Outbox for NoPeers {
        fn send(&mut self, _msg: Message) {}
    }

    type Loop = std::thread::JoinHandle<Result<(), NodeError>>;

    fn single(dir: &std::path::Path) -> (NodeHandle, Loop) {
        let (storage, restore, _) = Storage::open(dir, StorageOptions::default()).expect("storage");
        let cfg = LoopConfig {
            id: 1,
            voters: vec![1],
            tick: Duration::from_millis(1),
            election_ticks: (5, 10),
            heartbeat_ticks: 1,
            snapshot_threshold: 30,
            bugs: Bugs::default(),
        };
        // The loop thread ends when the handle (the only sender) is dropped.
        start(cfg, storage, restore, NoPeers).expect("start")
    }

    fn put(h: &NodeHandle, k: &str, v: &str) -> oneshot::Receiver<ProposeOutcome> {
        let (tx, rx) = oneshot::channel();
        let cmd = Command {
            op: Op::Put {
                key: k.into(),
                value: v.into(),
            },
            req: None,
        };
        assert!(h.send(Request::Propose { cmd, reply: tx }));
        rx
    }

    fn read(h: &NodeHandle, k: &str) -> ReadOutcome {
        let (tx, rx) = oneshot::channel();
        assert!(h.send(Request::Read {
            key: k.into(),
            reply: tx
        }));
        rx.blocking_recv().expect("reply")
    }

    fn wait_leader(h: &NodeHandle) {
        for _ in 0..500 {
            let (tx, rx) = oneshot::channel();
            h.send(Request::Status { reply: tx });
            if rx.blocking_recv().expect("status").role == "leader" {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("single node never led");
    }

    #[test]
    fn single_node_applies_batches_snapshots_and_recovers() {
        let tmp = tempfile::tempdir().expect("tmp");
        {
            let (h, th) = single(tmp.path());
            wait_leader(&h);
            // 100 proposals queued at once: all are applied, in order, with their indexes.
            let rxs: Vec<_> = (0..100)
                .map(|i| put(&h, &format!("k{}", i % 10), &i.to_string()))
                .collect();
            let mut last = 0;
            for rx in rxs {
                match rx.blocking_recv().expect("reply") {
                    ProposeOutcome::Applied { index, result, .. } => {
                        assert!(index > last);
                        assert_eq!(result, ApplyResult::Done);
                        last = index;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(read(&h, "k3"), ReadOutcome::Value(Some("93".into())));
            assert_eq!(read(&h, "nope"), ReadOutcome::Value(None));
            let (tx, rx) = oneshot::channel();
            h.send(Request::Status { reply: tx });
            let s = rx.blocking_recv().expect("status");
            assert!(
                s.snapshot_index > 30,
                "threshold 30 triggers snapshots: {s:?}"
            );
            assert!(s.snapshot_bytes > 0);
            drop(h);
            th.join().expect("loop thread").expect("loop ended cleanly");
        }
        // Restart from the same dir: snapshot + WAL give back the same state.
        let (h, _th) = single(tmp.path());
        wait_leader(&h);
        for k in 0..10 {
            assert_eq!(
                read(&h, &format!("k{k}")),
                ReadOutcome::Value(Some((90 + k).to_string()))
            );
        }
    }
}
