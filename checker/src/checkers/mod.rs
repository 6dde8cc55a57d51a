//! The cheap checkers beside linearizability (DESIGN.md section 9): [`stats`] (ok/fail/info
//! counts per function), [`set_full`] (lost and stale elements of a grow-only set),
//! [`counter`] (reads within the bounds the adds allow), [`unique_ids`] (no id handed out
//! twice), [`lock_overlap`] (no two holders of a lock at once), [`fencing`] (stale writes to
//! a protected resource, lease violations, token regressions, stale lock reads), [`bank`] (the
//! total of all accounts is preserved), [`exceptions`] (client errors grouped,
//! informational), [`election`] (split brain) and [`generals`] (rounds of the Two Generals
//! without a joint attack).
//!
//! Each checker takes a [`History`](crate::history::History) and returns a typed report
//! whose `valid` field is a [`Validity`](crate::verdict::Validity) and which serializes
//! (`to_value`) to a JSON object with `"valid"` first-class, the shape `results.json` keeps
//! under `checkers`. Lists in reports are capped at [`LIST_CAP`] entries; counts are exact.
//! A history the checker cannot interpret (a read of a set that is not a list, a counter
//! add that is not an integer) is a [`CheckerError`] naming the event and line, never a
//! panic.

pub mod bank;
pub mod broadcast;
mod chat;
pub mod counter;
pub mod election;
pub mod exceptions;
pub mod fencing;
pub mod generals;
pub mod lock_overlap;
pub mod set_full;
pub mod stats;
pub mod total_order;
pub mod unique_ids;

mod common;

pub use bank::{bank, BankOptions, BankReport};
pub use broadcast::{broadcast, BroadcastReport};
pub use counter::{counter, CounterOptions, CounterReport};
pub use election::{election, ElectionReport};
pub use exceptions::{exceptions, ExceptionsReport};
pub use fencing::{fencing, FencingReport};
pub use generals::{generals, GeneralsOptions, GeneralsReport};
pub use lock_overlap::{lock_overlap, LockOverlapReport};
pub use set_full::{set_full, SetFullOptions, SetFullReport};
pub use stats::{
    nothing_ok, stats, stats_with, Counts, NothingOk, StatsOptions, StatsReport, NOTHING_OK_WARNING,
};
pub use total_order::{total_order, TotalOrderReport};
pub use unique_ids::{unique_ids, UniqueIdsReport};

use crate::history::PairError;

/// Most entries any list in a checker report holds.
pub const LIST_CAP: usize = 32;

/// A history a checker cannot interpret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckerError {
    /// Invocations and completions do not pair up.
    #[error(transparent)]
    Pair(#[from] PairError),
    /// One event has a value of the wrong shape.
    #[error("event {index} (line {line}): {message}")]
    BadOp {
        index: u64,
        line: String,
        message: String,
    },
}
