//! `raft-core`: what every Raft-replicated node of this project shares. A pure Raft core
//! (no I/O, clock or randomness inside), a write-ahead log, storage of hard state, entries
//! and snapshots, an event loop generic over the replicated state machine, the peer
//! transport, the shared HTTP conventions and the node wiring. Used by `raft-kv` (a
//! key-value store) and `lock-service` (sessions, locks, fencing tokens).
//!
//! Modules, one concern each: `raft` (the pure core), `wal` (segment files of checksummed
//! records), `storage` (hard state + snapshot files + WAL = the core's restore state), `node`
//! (the event loop and the [`node::StateMachine`] trait), `transport` (sending to peers),
//! `http` (error shapes, `/status`, the peer endpoint), `config` (the shared command-line
//! flags), `server` (wiring it all together).
pub mod config;
pub mod http;
pub mod node;
pub mod raft;
pub mod server;
pub mod storage;
pub mod transport;
pub mod wal;
