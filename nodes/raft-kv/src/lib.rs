//! `raft-kv`: a Raft key-value store to test, built on `raft-core` (the pure Raft core, WAL,
//! storage, event loop, peer transport and node wiring live there), with an HTTP key-value
//! API and deliberate bugs behind `--bug` flags. Depends on nothing from the harness.
//!
//! Modules, one concern each: `kv` (the replicated state machine with duplicate
//! suppression), `http` (the client API), `config` (the `raft-node` command line), `bugs`
//! (deliberate faults), `server` (wiring the state machine into a `raft-core` node).
pub mod bugs;
pub mod config;
pub mod forward;
pub mod http;
pub mod kv;
pub mod server;
