//! The linearizability checker: Wing & Gong's search with Lowe's memoization
//! ([`search`]), its memo table ([`cache`]), per-key partitioning run on worker threads with
//! fair time slices, time and memory budgets giving `unknown`, and counterexamples
//! ([`counterexample`]). The public API (options, reports, [`check`]) is the contract other
//! crates code against: fields may be added, not removed.

pub mod cache;
pub mod counterexample;
pub mod search;
pub mod shrink;

pub use counterexample::render_counterexample_text;

use crate::history::History;
use crate::model::{self, FailedOps, ModelKind, Partition};
use crate::verdict::Validity;
use search::{Search, Status};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

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
    /// The most time allowed to shrink one key's counterexample. Each key gets
    /// [`shrink_budget`] of its size and of the time its verdict took, capped by this.
    pub minimize_budget: Duration,
    /// Build counterexamples for invalid keys (default true; benchmarks of the bare
    /// verdict turn it off).
    pub counterexample: bool,
    /// What a failed operation means ([`FailedOps`]); callers set the format's default
    /// (`Format::default_failed_ops`) unless the user chose one.
    pub failed_ops: FailedOps,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            timeout: Some(DEFAULT_TIMEOUT),
            memory_limit_bytes: default_memory_limit(),
            all_keys: false,
            threads: 0,
            minimize_budget: Duration::from_secs(5),
            counterexample: true,
            failed_ops: FailedOps::default(),
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
    /// Model steps the search took for this key (work done, for diagnostics).
    pub steps: u64,
    /// Distinct (linearized set, state) configurations memoized for this key.
    pub configs: u64,
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

/// The default time budget of a check: a hard history gives `unknown` after this rather
/// than running for hours. Set `timeout: None` for no limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The time one key's counterexample may take to shrink: 20 ms, plus 50 µs per op of the
/// key, plus four times what its verdict took, capped by `cap`. Shrinking re-checks
/// sub-histories of the key, so its cost follows the size and the hardness of the key.
pub fn shrink_budget(ops: usize, verdict: Duration, cap: Duration) -> Duration {
    let scaled = Duration::from_millis(20) + Duration::from_micros(50) * ops as u32 + verdict * 4;
    scaled.min(cap)
}

/// The default memory budget: min(4 GiB, a quarter of the machine's RAM).
pub fn default_memory_limit() -> usize {
    const CAP: usize = 4 << 30;
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<usize>().ok())
            .map(|kb| kb.saturating_mul(1024))
    });
    match total {
        Some(t) => CAP.min(t / 4),
        None => CAP,
    }
}

/// Model steps per time slice before a key is requeued behind the others.
const SLICE_STEPS: u64 = 1 << 16;

/// How one key's search ended.
#[derive(Debug, Clone)]
enum KeyOutcome {
    Valid,
    Invalid,
    Unknown(String),
}

struct Task {
    /// Position of the partition in `compile`'s order.
    idx: usize,
    part: Partition,
    /// Created on the key's first slice and dropped with its verdict, so that a history of
    /// many small keys holds one search at a time per worker.
    search: Option<Search>,
    /// Time spent searching this key.
    busy: Duration,
    steps: u64,
    configs: u64,
    horizon: u64,
}

impl Task {
    /// Memory held by the search and the model's memo tables.
    fn bytes(&self) -> usize {
        self.search.as_ref().map_or(0, Search::bytes)
            + crate::with_spec!(&self.part.spec, s => crate::model::Spec::bytes(s))
    }
}

/// What is kept of a decided key: its partition only when a counterexample is to be built
/// from it, so that memory per valid key is a few words.
struct Done {
    idx: usize,
    key: serde_json::Value,
    calls: usize,
    steps: u64,
    configs: u64,
    horizon: u64,
    busy: Duration,
    outcome: KeyOutcome,
    part: Option<Box<Partition>>,
}

struct Shared<'a> {
    queue: Mutex<VecDeque<Task>>,
    done: Mutex<Vec<Done>>,
    mem_used: AtomicUsize,
    cancel: AtomicBool,
    opts: &'a LinearOptions,
    deadline: Option<Instant>,
}

impl Shared<'_> {
    /// Record that a key's memory went from `before` to `after` bytes (never below zero).
    fn account(&self, before: usize, after: usize) {
        if after >= before {
            self.mem_used.fetch_add(after - before, Ordering::Relaxed);
        } else {
            let less = before - after;
            let _ = self
                .mem_used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| {
                    Some(m.saturating_sub(less))
                });
        }
    }

    fn finish(&self, mut task: Task, outcome: KeyOutcome) {
        let held = task.bytes();
        if let Some(search) = task.search.take() {
            task.steps = search.steps;
            task.configs = search.configs;
            task.horizon = search.horizon();
        }
        crate::with_spec!(&mut task.part.spec, s => crate::model::Spec::release_memo(s));
        self.account(held, 0);
        if matches!(outcome, KeyOutcome::Invalid) && !self.opts.all_keys {
            self.cancel.store(true, Ordering::Relaxed);
        }
        let keep = matches!(outcome, KeyOutcome::Invalid) && self.opts.counterexample;
        let Task {
            idx,
            part,
            busy,
            steps,
            configs,
            horizon,
            ..
        } = task;
        let done = Done {
            idx,
            key: part.key.clone(),
            calls: part.calls,
            steps,
            configs,
            horizon,
            busy,
            outcome,
            part: keep.then(|| Box::new(part)),
        };
        lock(&self.done).push(done);
    }

    fn worker(&self) {
        loop {
            let Some(mut task) = lock(&self.queue).pop_front() else {
                return;
            };
            if self.cancel.load(Ordering::Relaxed) {
                self.finish(
                    task,
                    KeyOutcome::Unknown("cancelled: another key is not linearizable".into()),
                );
                continue;
            }
            if let Some(d) = self.deadline {
                if Instant::now() >= d {
                    let t = self.opts.timeout.unwrap_or_default();
                    let msg = format!(
                        "timeout: the {:.3} s budget ran out after {} model steps",
                        t.as_secs_f64(),
                        task.search.as_ref().map_or(0, |s| s.steps)
                    );
                    self.finish(task, KeyOutcome::Unknown(msg));
                    continue;
                }
            }
            let before = task.bytes();
            if let Some(outcome) = trivial(&mut task.part) {
                self.account(before, task.bytes());
                self.finish(task, outcome);
                continue;
            }
            let others = self.mem_used.load(Ordering::Relaxed).saturating_sub(before);
            let allow = self.opts.memory_limit_bytes.saturating_sub(others);
            let started = Instant::now();
            let Task { part, search, .. } = &mut task;
            let status = crate::with_spec!(&mut part.spec, s => {
                let search = search.get_or_insert_with(|| Search::new(&part.ops, None, s));
                search.run(s, SLICE_STEPS, allow)
            });
            task.busy += started.elapsed();
            let after = task.bytes();
            self.account(before, after);
            match status {
                Status::Paused => lock(&self.queue).push_back(task),
                Status::Linearizable => self.finish(task, KeyOutcome::Valid),
                Status::NotLinearizable => self.finish(task, KeyOutcome::Invalid),
                Status::OutOfMemory => {
                    let msg = format!(
                        "memory budget: the search would exceed {} bytes (this key held {} bytes after {} model steps)",
                        self.opts.memory_limit_bytes,
                        after,
                        task.search.as_ref().map_or(0, |s| s.steps)
                    );
                    self.finish(task, KeyOutcome::Unknown(msg));
                }
            }
        }
    }
}

/// The verdict of a partition of at most one op, without a search (histories of many
/// one-op keys pay a few words per key).
fn trivial(part: &mut Partition) -> Option<KeyOutcome> {
    match part.ops.as_slice() {
        [] => Some(KeyOutcome::Valid),
        [op] if !op.required => Some(KeyOutcome::Valid),
        [_] => crate::with_spec!(&mut part.spec, s => {
            let init = crate::model::Spec::init(s);
            Some(match crate::model::Spec::step(s, init, 0) {
                Some(_) => KeyOutcome::Valid,
                None => KeyOutcome::Invalid,
            })
        }),
        _ => None,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Check a history for linearizability against a model.
pub fn check(
    history: &History,
    model: ModelKind,
    opts: &LinearOptions,
) -> Result<LinearReport, LinearError> {
    let start = Instant::now();
    let deadline = opts.timeout.map(|t| start + t);
    let calls = history.pair().map_err(|e| {
        let line = match &e {
            crate::history::PairError::CompletionWithoutInvoke { line, .. }
            | crate::history::PairError::DoubleInvoke { line, .. } => line.parse().ok(),
        };
        LinearError {
            message: e.to_string(),
            line,
        }
    })?;
    let tuples = model::detect_tuples(history, &calls);
    let parts =
        model::compile(model, history, &calls, opts.failed_ops).map_err(|e| LinearError {
            message: e.message,
            line: e.line,
        })?;
    let nparts = parts.len();
    let mut tasks: Vec<Task> = parts
        .into_iter()
        .enumerate()
        .map(|(idx, part)| Task {
            idx,
            part,
            search: None,
            busy: Duration::ZERO,
            steps: 0,
            configs: 0,
            horizon: 0,
        })
        .collect();
    // Small keys first: they finish in their first slice; big ones share the rest fairly.
    tasks.sort_by_key(|t| t.part.ops.len());
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, nparts.max(1));
    let initial: usize = tasks.iter().map(Task::bytes).sum();
    let shared = Shared {
        queue: Mutex::new(tasks.into_iter().collect()),
        done: Mutex::new(Vec::with_capacity(nparts)),
        mem_used: AtomicUsize::new(initial),
        cancel: AtomicBool::new(false),
        opts,
        deadline,
    };
    if threads == 1 {
        shared.worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| shared.worker());
            }
        });
    }
    let mut done = shared.done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.sort_by_key(|d| d.idx);
    // Counterexamples for invalid keys, each with its own budget; past the check's deadline
    // a key still gets its minimum (20 ms) so that it has a counterexample.
    let mut keys: Vec<KeyReport> = Vec::with_capacity(done.len());
    for task in done {
        let (valid, unknown_reason, counterexample) = match task.outcome {
            KeyOutcome::Valid => (Validity::Valid, None, None),
            KeyOutcome::Unknown(r) => (Validity::Unknown, Some(r), None),
            KeyOutcome::Invalid => match task.part {
                None => (Validity::Invalid, None, None),
                Some(mut part) => {
                    let now = Instant::now();
                    let budget = shrink_budget(part.ops.len(), task.busy, opts.minimize_budget);
                    let mut until = now + budget;
                    if let Some(d) = deadline {
                        until = until.min(d.max(now + Duration::from_millis(20)));
                    }
                    let cx = counterexample::build(
                        history,
                        &calls,
                        tuples,
                        &mut part,
                        counterexample::Limits {
                            horizon: task.horizon,
                            deadline: until,
                            mem: opts.memory_limit_bytes,
                        },
                    );
                    (Validity::Invalid, None, Some(cx))
                }
            },
        };
        keys.push(KeyReport {
            key: task.key,
            valid,
            ops: task.calls,
            unknown_reason,
            counterexample,
            steps: task.steps,
            configs: task.configs,
        });
    }
    let rank = |v: Validity| match v {
        Validity::Invalid => 0,
        Validity::Unknown => 1,
        Validity::Valid => 2,
    };
    keys.sort_by_key(|k| rank(k.valid)); // stable: keeps first-appearance order within a rank
    let valid = Validity::all(keys.iter().map(|k| k.valid));
    Ok(LinearReport {
        valid,
        model,
        ops: calls.len(),
        keys,
        elapsed_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}
