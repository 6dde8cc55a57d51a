//! The pure Multi-Paxos core: no I/O, clock or randomness (a seeded generator gives the
//! election timeouts). It takes messages, ticks, proposals and reads, and returns, in a
//! [`Ready`], the records to persist, the messages to send and the chosen values to apply.
//!
//! One replica plays the three Paxos roles: acceptor (`acceptor.rs`), proposer with a
//! distinguished leader that runs phase 1 once for every open slot and then only phase 2
//! while its ballot stands (`proposer.rs`), and learner with catch-up and snapshots
//! (`learner.rs`); linearizable reads by a read-index quorum round (`reads.rs`).

mod acceptor;
mod core;
mod learner;
mod proposer;
mod reads;
mod rng;
mod types;

pub use self::core::{Core, CoreBugs, CoreConfig, NotLeader, Restored, Role, Status};
pub use self::rng::SplitMix64;
pub use self::types::{
    AcceptedEntry, Ballot, Body, Message, NodeId, Ready, Record, Slot, SnapshotData, Value,
};
