//! The data types of the Raft core's interface: log entries, persistent state, snapshots,
//! messages between nodes, and what a [`Ready`](crate::raft::Ready) hands to the caller.
//! Everything here is plain data (serde-serializable, JSON-able) with no behaviour beyond
//! small helpers.

use serde::{Deserialize, Serialize};

use super::codec::b64;

/// Identifier of a node in the cluster (`node<id>` at the protocol level).
pub type NodeId = u64;

/// One log entry. `data` empty means a no-op (the entry a new leader appends at the start
/// of its term); the state machine must skip it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub index: u64,
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

/// The state that must be on stable storage before any message of the same `Ready` is sent:
/// the current term, the vote cast in it, and the commit index (the commit index is not
/// needed for safety but lets a restarted node re-apply without waiting for a leader).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    pub vote: Option<NodeId>,
    pub commit: u64,
}

/// Where a snapshot sits in the log, and the cluster configuration at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// The last log index the snapshot covers.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
    /// The voters of the cluster.
    pub voters: Vec<NodeId>,
}

/// A state machine snapshot: opaque bytes produced by the caller's state machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    #[serde(with = "b64")]
    pub data: Vec<u8>,
}

/// A message between two Raft nodes. `term` is the sender's term, except for a `PreVote`
/// (the term the sender would campaign in) and a granted `PreVoteResp` (echoes that term).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: u64,
    pub body: MessageBody,
}

/// The message kinds of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// Pre-vote request: "would you vote for me in `term` given my log?" (does not change
    /// anyone's term).
    PreVote {
        last_index: u64,
        last_term: u64,
    },
    PreVoteResp {
        reject: bool,
    },
    /// RequestVote.
    Vote {
        last_index: u64,
        last_term: u64,
    },
    VoteResp {
        reject: bool,
    },
    /// AppendEntries with entries `prev_index+1 ..`; `commit` is the leader's commit index.
    Append {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    },
    /// Answer to `Append` and `InstallSnapshot`. On success `index` is the last index known
    /// to match the leader. On reject `index` is the rejected `prev_index`, and
    /// (`hint_index`, `hint_term`) is the follower's best guess of where the logs agree: the
    /// last index `<= min(prev_index, last_index)` whose term is `<= prev_term`, with its term.
    AppendResp {
        reject: bool,
        index: u64,
        hint_index: u64,
        hint_term: u64,
    },
    /// Leader heartbeat. `commit` is already capped to what the follower is known to hold.
    /// `read_ctx` is the leader's ReadIndex round number (echoed in the response).
    Heartbeat {
        commit: u64,
        read_ctx: Option<u64>,
    },
    HeartbeatResp {
        read_ctx: Option<u64>,
    },
    /// InstallSnapshot: replace the follower's log with `snapshot`.
    InstallSnapshot {
        snapshot: Snapshot,
    },
}

impl MessageBody {
    /// Short name of the message kind (for logs and metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            MessageBody::PreVote { .. } => "PreVote",
            MessageBody::PreVoteResp { .. } => "PreVoteResp",
            MessageBody::Vote { .. } => "Vote",
            MessageBody::VoteResp { .. } => "VoteResp",
            MessageBody::Append { .. } => "Append",
            MessageBody::AppendResp { .. } => "AppendResp",
            MessageBody::Heartbeat { .. } => "Heartbeat",
            MessageBody::HeartbeatResp { .. } => "HeartbeatResp",
            MessageBody::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }
}

/// A ReadIndex answer: the read with caller context `ctx` may be served from the state
/// machine once the caller has applied at least up to `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub ctx: u64,
    pub index: u64,
}

/// The role of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// Lower-case name as used by the HTTP `/status` endpoint.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "precandidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// What a node recovered from stable storage at start. All empty/default for a fresh node.
/// `entries` must be contiguous and follow the snapshot (entries at or below the snapshot
/// index are skipped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreState {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

/// A summary of a node's state (for `/status`, tests and logs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: u64,
    pub vote: Option<NodeId>,
    pub leader: Option<NodeId>,
    pub commit: u64,
    /// Highest index handed out to the caller for applying (in `Ready.committed` or as a
    /// snapshot).
    pub applied: u64,
    /// First index held in the log (snapshot index + 1).
    pub first_index: u64,
    pub last_index: u64,
    pub snapshot_index: u64,
    pub snapshot_term: u64,
}

/// Everything the core wants done, handed out by [`Raft::ready`](crate::raft::Raft::ready).
///
/// The caller MUST process a `Ready` in this order:
/// 1. If `snapshot` is `Some`: persist it and discard every log entry on disk (the log now
///    starts after `snapshot.meta.index`).
/// 2. If `truncate_from` is `Some(i)`: delete the persisted log entries with index `>= i`.
/// 3. Append `entries` to the persisted log.
/// 4. Persist `hard_state` if `Some`.
/// 5. fsync: steps 1-4 must be durable BEFORE step 6 (a vote or an acknowledgement sent
///    before it is on disk breaks Raft's safety after a crash).
/// 6. Send `messages`.
/// 7. If `snapshot` is `Some`: restore the state machine from it.
/// 8. Apply `committed` in order (skip no-ops, i.e. empty `data`). Committed entries may
///    include entries of this very `Ready`'s `entries`, which is why persisting comes first.
///    A proposal `(term, index)` returned by `propose` succeeded iff the committed entry at
///    `index` has that `term`; if another term shows up at `index`, the proposal was lost.
/// 9. Answer each `read_states` read once the applied index is `>= index`; fail each
///    `aborted_reads` read (outcome: leadership lost).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// The new hard state, if it changed since the last `Ready`.
    pub hard_state: Option<HardState>,
    /// Delete persisted log entries with index `>= this` before appending `entries`.
    pub truncate_from: Option<u64>,
    /// Entries to append to the persisted log (contiguous, increasing indexes).
    pub entries: Vec<Entry>,
    /// A snapshot received from the leader: persist it, then restore the state machine.
    pub snapshot: Option<Snapshot>,
    /// Messages to send once everything above is durable.
    pub messages: Vec<Message>,
    /// Committed entries to apply, in order.
    pub committed: Vec<Entry>,
    /// Reads that may be served once the applied index reaches their `index`.
    pub read_states: Vec<ReadState>,
    /// Read contexts that can no longer be served (this node lost leadership).
    pub aborted_reads: Vec<u64>,
}

impl Ready {
    /// True if there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.truncate_from.is_none()
            && self.entries.is_empty()
            && self.snapshot.is_none()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.read_states.is_empty()
            && self.aborted_reads.is_empty()
    }
}
