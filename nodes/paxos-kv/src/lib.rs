//! paxos-kv: a Multi-Paxos replicated key-value store speaking raft-kv's node HTTP protocol,
//! built to be tested by the harness, with deliberate bugs behind `--bug` flags.
//!
//! Layers: the pure consensus core (`paxos`), the key-value state machine (`kv`), durable
//! storage (`storage`), the event loop (`node`), the HTTP edge and peer transport (`http`,
//! `transport`), the command line (`config`) and the deterministic simulator (`sim`).

pub mod bugs;
pub mod config;
pub mod http;
pub mod kv;
pub mod node;
pub mod paxos;
pub mod server;
pub mod sim;
pub mod storage;
pub mod transport;
