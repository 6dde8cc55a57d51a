//! The linearizability checker: Wing & Gong's search with Lowe's memoization, per-key
//! partitioning run in parallel, time and memory budgets, counterexamples.
//! (Skeleton: the public API below is the contract other crates code against; the body is
//! filled in by the checker work, issue 2. Fields may be added, not removed.)

use crate::history::History;
use crate::model::ModelKind;
use crate::verdict::Validity;
use serde::Serialize;
use std::time::Duration;

/// Budgets and switches of one check.
#[derive(Debug, Clone)]
pub struct LinearOptions {
    /// Wall-clock budget for the whole check; `None` = no limit.
    pub timeout: Option<Duration>,
    /// Memory budget for the search's caches, in bytes, over all keys.
    pub memory_limit_bytes: usize,
    /// Decide every key even after one is found invalid (`--all-keys`).
    pub all_keys: bool,
    /// Worker threads for partitions; 0 = all cores.
    pub threads: usize,
    /// Time allowed to shrink a counterexample to a minimal sub-history.
    pub minimize_budget: Duration,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            timeout: None,
            memory_limit_bytes: 4 << 30,
            all_keys: false,
            threads: 0,
            minimize_budget: Duration::from_secs(5),
        }
    }
}

/// The verdict for one key (or the whole history when it has no keys).
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    /// The key as it appeared in the history; `null` for an unkeyed history.
    pub key: serde_json::Value,
    pub valid: Validity,
    /// Number of client operations (calls) of this key.
    pub ops: usize,
    /// Why the verdict is unknown (budget exhausted, cancelled), if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    /// Present when `valid` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<serde_json::Value>,
}

/// The result of checking one history against one model.
#[derive(Debug, Clone, Serialize)]
pub struct LinearReport {
    pub valid: Validity,
    pub model: ModelKind,
    /// Client operations checked.
    pub ops: usize,
    /// Per key, invalid keys first.
    pub keys: Vec<KeyReport>,
    pub elapsed_ms: f64,
}

/// A history that does not fit the model (e.g. a `cas` whose value is not a pair).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LinearError {
    pub message: String,
    /// 1-based line of the offending operation in its file, when known.
    pub line: Option<u64>,
}

/// Check a history for linearizability against a model.
pub fn check(history: &History, model: ModelKind, opts: &LinearOptions) -> Result<LinearReport, LinearError> {
    let _ = (history, model, opts);
    unimplemented!("linearizability search: issue 2")
}
