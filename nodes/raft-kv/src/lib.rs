//! `raft-kv`: a Raft key-value store to test. A pure Raft core (no I/O, clock or
//! randomness inside), a write-ahead log, snapshots, an HTTP key-value API, a peer
//! transport, and deliberate bugs behind `--bug` flags. Depends on nothing from the harness.
//!
//! Modules, one concern each: `raft` (the pure core), `wal` (segment files of checksummed
//! records), `storage` (hard state + snapshot files + WAL = the core's restore state), `kv`
//! (the replicated state machine with duplicate suppression), `node` (the event loop),
//! `http` (client API and peer endpoint), `transport` (sending to peers), `config` (the
//! `raft-node` command line), `bugs` (deliberate faults), `server` (wiring it all together).
pub mod bugs;
pub mod config;
pub mod http;
pub mod kv;
pub mod node;
pub mod raft;
pub mod server;
pub mod storage;
pub mod transport;
pub mod wal;
