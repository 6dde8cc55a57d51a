//! The pure Raft core: no I/O, no clock, no randomness of its own. It takes messages, ticks
//! and proposals and returns what to persist, what to send and what is committed (modelled
//! on etcd-io/raft and tikv/raft-rs).
//!
//! Driving loop of the caller (the server): call [`Raft::tick`] every tick interval,
//! [`Raft::step`] for every received message, [`Raft::propose`] / [`Raft::read_index`] for
//! client requests; whenever [`Raft::has_ready`], take [`Raft::ready`] and process it in the
//! order documented on [`Ready`] (persist + fsync, then send, then apply).
//!
//! Files: `types.rs` (entries, messages, Ready, Status), `config.rs`, `errors.rs`,
//! `log.rs` (in-memory log), `progress.rs` (leader's per-follower state), `read_only.rs`
//! (ReadIndex), `core.rs` (the state machine), `codec.rs` (base64 for payloads in JSON).

mod codec;
mod config;
mod core;
mod errors;
mod log;
mod progress;
mod read_only;
mod types;

pub use self::codec::b64;
pub use self::config::Config;
pub use self::core::Raft;
pub use self::errors::{ProposeError, RaftError};
pub use self::types::{
    Entry, HardState, Message, MessageBody, NodeId, ReadState, Ready, RestoreState, Role, Snapshot,
    SnapshotMeta, Status,
};
