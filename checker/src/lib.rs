//! `checker`: a pure library (no tokio, no process or network I/O) that owns the operation
//! history types, the readers and writers of history formats, the models, the
//! linearizability search, the other checkers, and verdicts with counterexamples.
//!
//! Module map (one concern each):
//! - [`history`]: operations (`invoke`/`ok`/`fail`/`info`), processes, pairing into calls.
//! - [`verdict`]: `Validity` (`true` | `false` | `"unknown"`) and its composition.
//! - [`format`]: readers (our JSONL, Jepsen EDN, Porcupine's two formats), detection, writers.
//! - [`model`]: sequential specifications (register, cas-register, kv, mutex, queue, set).
//! - [`linear`]: Wing & Gong / Lowe search, per-key partitioning, budgets, cancellation.
//! - [`checkers`]: the cheap non-linearizability checkers (set-full, counter, stats, ...).

pub mod checkers;
pub mod format;
pub mod history;
pub mod linear;
pub mod model;
pub mod verdict;

pub use history::{History, Op, OpType, Process};
pub use verdict::Validity;
