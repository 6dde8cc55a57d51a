//! The vocabulary of the Paxos core: node ids, slots, ballots, log values, the messages
//! replicas exchange, the records the core asks the edge to persist, and the `Ready` batch
//! of everything one round of work produced.

use serde::{Deserialize, Serialize};

/// A replica's id (>= 1).
pub type NodeId = u64;
/// A position in the replicated log (the first slot is 1; 0 means "none").
pub type Slot = u64;

/// A ballot: a round number and the proposer that owns it. Ordered by round, then node, so
/// two proposers never share a ballot.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Ballot {
    /// The round (shown as `term` in `/status`).
    pub round: u64,
    /// The proposer that owns this ballot (0 only in the zero ballot).
    pub node: NodeId,
}

impl Ballot {
    /// The smallest ballot: nothing was promised or accepted.
    pub const ZERO: Ballot = Ballot { round: 0, node: 0 };
}

/// What a log slot holds: a no-op (filling a hole after a leader change) or an opaque
/// state-machine command.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// Fills a slot no proposer had a value for.
    Noop,
    /// A command of the state machine, opaque to the core.
    Cmd(String),
}

/// One accepted value as an acceptor reports it in a promise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedEntry {
    /// The slot.
    pub slot: Slot,
    /// The ballot it was accepted in.
    pub ballot: Ballot,
    /// The value.
    pub value: Value,
}

/// A message between replicas. The sender is `from`, never the transport's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// What it says.
    pub body: Body,
}

/// The message kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// Phase 1a: promise not to accept lower ballots, and report what you accepted in the
    /// slots from `from_slot` on.
    Prepare { ballot: Ballot, from_slot: Slot },
    /// Phase 1b: the promise, with every value accepted in slots >= the prepare's
    /// `from_slot`, and the acceptor's chosen prefix.
    Promise {
        ballot: Ballot,
        accepted: Vec<AcceptedEntry>,
        commit: Slot,
    },
    /// Phase 2a: accept these values in this ballot. `commit` is the leader's chosen
    /// prefix (slots up to it that the receiver accepted in this same ballot are chosen).
    Accept {
        ballot: Ballot,
        entries: Vec<(Slot, Value)>,
        commit: Slot,
    },
    /// Phase 2b: these slots were accepted (and persisted) in `ballot`.
    Accepted {
        ballot: Ballot,
        slots: Vec<Slot>,
        commit: Slot,
    },
    /// A prepare or accept was refused: the acceptor promised a higher ballot.
    Nack { ballot: Ballot, promised: Ballot },
    /// The leader's ballot stands: keeps followers from timing out, carries the chosen
    /// prefix and a read round number (read-index confirmation).
    Heartbeat {
        ballot: Ballot,
        commit: Slot,
        read_round: u64,
    },
    /// Answer to a heartbeat: the follower still honours `ballot`; its own chosen prefix
    /// tells the leader how far behind it is.
    HeartbeatAck {
        ballot: Ballot,
        commit: Slot,
        read_round: u64,
    },
    /// Catch-up: chosen values, in slot order, for a lagging replica.
    Learn {
        ballot: Ballot,
        entries: Vec<(Slot, Value)>,
    },
    /// Catch-up from a snapshot: the state machine after applying every slot up to `slot`.
    Snapshot {
        ballot: Ballot,
        slot: Slot,
        data: String,
    },
}

/// A record the edge must make durable (append + fsync) before sending the messages of
/// the same `Ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// The acceptor promised this ballot.
    Promise(Ballot),
    /// The acceptor accepted `value` in `slot` in `ballot`.
    Accept {
        slot: Slot,
        ballot: Ballot,
        value: Value,
    },
    /// This replica learned that `value` is chosen in `slot`.
    Chosen { slot: Slot, value: Value },
}

/// A snapshot of the state machine: every slot up to `slot` applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotData {
    /// The last slot it includes.
    pub slot: Slot,
    /// The state machine's encoding, opaque to the core.
    pub data: String,
}

/// What the core hands the edge after some work, to be carried out in this order:
/// 1. if `snapshot` is set, save it (atomically), then, if `rewrite` is set, replace the
///    log with exactly these records; then append `persist`; make all of it durable;
/// 2. if `install` is set, load the state machine from it (it equals `snapshot`);
/// 3. send `messages`;
/// 4. apply `apply` in order, then answer `reads_ready` (the state machine has applied at
///    least the given slot) and fail `reads_failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ready {
    /// A snapshot to save (taken locally or received).
    pub snapshot: Option<SnapshotData>,
    /// The complete set of log records after a compaction.
    pub rewrite: Option<Vec<Record>>,
    /// Records to append.
    pub persist: Vec<Record>,
    /// A received snapshot the state machine must load.
    pub install: Option<SnapshotData>,
    /// Messages to send.
    pub messages: Vec<Message>,
    /// Newly chosen values of the gap-free prefix, in slot order.
    pub apply: Vec<(Slot, Value)>,
    /// Read ids confirmed linearizable once the state machine has applied the slot.
    pub reads_ready: Vec<(u64, Slot)>,
    /// Read ids that cannot be served (leadership lost).
    pub reads_failed: Vec<u64>,
}

impl Ready {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none()
            && self.rewrite.is_none()
            && self.persist.is_empty()
            && self.install.is_none()
            && self.messages.is_empty()
            && self.apply.is_empty()
            && self.reads_ready.is_empty()
            && self.reads_failed.is_empty()
    }
}
