//! `raft-kv`: a Raft key-value store to test. A pure Raft core (no I/O, clock or
//! randomness inside), a write-ahead log, snapshots, an HTTP key-value API, a peer
//! transport, and deliberate bugs behind `--bug` flags. Depends on nothing from the harness.
//!
//! Modules: `raft` (the pure core), `wal` (segment files of checksummed records),
//! `kv` (the replicated state machine with duplicate suppression).
pub mod kv;
pub mod raft;
pub mod wal;
