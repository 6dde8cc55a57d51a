//! The wire types: a signed chat message, the digest a node sends to say what it has (per
//! origin the highest contiguous sequence number and a bounded list of the numbers it holds
//! above it), and the peer-to-peer gossip message that carries both.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A chat message as its origin signed it. `sig` is the hex ed25519 signature of
/// `crypto::signed_bytes(origin, seq, body)` under the origin's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The node that wrote and signed it.
    pub origin: u64,
    /// The origin's sequence number (1, 2, 3, ... per origin).
    pub seq: u64,
    /// The text.
    pub body: String,
    /// Signature, 128 hex digits.
    pub sig: String,
}

/// What a node holds of one origin's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginDigest {
    /// It holds every seq in 1..=contiguous.
    pub contiguous: u64,
    /// Some of the seqs above `contiguous` it also holds (ascending, bounded in length).
    #[serde(default)]
    pub extra: Vec<u64>,
}

/// Per origin, what a node holds. An origin absent means nothing held.
pub type Digest = BTreeMap<u64, OriginDigest>;

/// Why a gossip message was sent; decides what the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Periodic push of recent messages with the sender's digest; the receiver answers
    /// `fill` with what the sender lacks.
    Push,
    /// Anti-entropy request: the sender's digest only; the receiver answers `sync_reply`.
    Sync,
    /// Answer to `sync`: what the requester lacks plus the replier's digest; the requester
    /// answers `fill` with what the replier lacks.
    SyncReply,
    /// Messages the receiver lacks; never answered.
    Fill,
}

/// One peer-to-peer message. `from` is who sent it (the sender is in the message, never
/// taken from the TCP source); it is not authenticated: only the chat messages are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wire {
    /// Sender node id.
    pub from: u64,
    /// Receiver node id.
    pub to: u64,
    /// Purpose.
    pub kind: Kind,
    /// Chat messages carried (bounded by the sender's batch limit).
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    /// The sender's digest (present on `push`, `sync`, `sync_reply`).
    #[serde(default)]
    pub digest: Option<Digest>,
}
