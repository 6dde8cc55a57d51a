//! `lock-service`: a Chubby/ZooKeeper-like coordination service to test, replicated with
//! `raft-core`: sessions with leases (and Chubby's grace), exclusive locks with fencing
//! tokens, ephemeral nodes, small versioned values, watches, linearizable reads, and
//! deliberate bugs behind `--bug`. Depends on nothing from the harness.
//!
//! Modules, one concern each: `command` (log entry format and outcomes), `state` (the pure
//! replicated state), `lease` (the leader's lease clock), `machine` (the state machine the
//! event loop drives), `api` (the HTTP client API), `client` (the HTTP client `lock-client`
//! and `lock-bench` use), `session` (a session kept alive, with the client's lease view), `config` (the `lock-node` command line), `bugs` (deliberate
//! faults), `server` (wiring).
pub mod api;
pub mod bugs;
pub mod client;
pub mod command;
pub mod config;
pub mod lease;
pub mod machine;
pub mod server;
pub mod session;
pub mod state;
