//! `workloads`: what a workload is: seeded op generators, the client side of each workload
//! against each system under test's API, and which checkers judge it.
//!
//! Module map (one concern each):
//! - [`completion`]: how a client operation ended (`ok` / `fail` / `info`).
//! - [`clients`]: one client per protocol (raft-kv HTTP, etcd) behind one dispatch enum.
//! - [`generator`]: the seeded per-worker op stream (ChaCha), shared by all workloads.
//! - [`chat`]: the post/read op stream both chat workloads share.
//! - [`broadcast`]: chat posts spread by gossip, every node's delivered set read.
//! - [`append`]: lists per key (unique appends, whole-list reads), kv model.
//! - [`lock`]: acquire/release of a few locks by many sessions (mutex + lock overlap).
//! - [`fencing`]: lock holders write to a protected resource with their tokens (fencing).
//! - [`stall`]: the freeze gates of lock clients, for the stalled-holder fault.
//! - [`register`]: independent cas-registers (read / write / cas on rotating keys).
//! - [`set`]: unique integer adds into one set, final reads on every node.
//! - [`election`]: leader views and leader-only acts; [`generals`]: Two Generals rounds.
//! - [`total_order`]: chat posts to a totally ordered broadcast, every node's log read.
//! - [`workload`]: the workload enum the runner drives: next op, how to execute it, final
//!   reads, and which checkers judge the history.

pub mod append;
pub mod broadcast;
pub mod chat;
pub mod clients;
pub mod completion;
pub mod election;
pub mod fencing;
pub mod generals;
pub mod generator;
pub mod lock;
pub mod register;
pub mod set;
pub mod stall;
pub mod total_order;
pub mod workload;

pub use completion::Completion;
pub use workload::{CheckerKind, OpSpec, Workload, WorkloadKind, WorkloadOptions};
