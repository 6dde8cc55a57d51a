//! The workload the runner drives: which op each worker issues next (seeded), how an op is
//! executed against a [`Client`], the final reads after recovery, and which checkers judge
//! the resulting history.

use crate::append::AppendGen;
use crate::chat::PostGen;
use crate::clients::Client;
use crate::election::ElectionGen;
use crate::fencing::FencingGen;
use crate::generals::GeneralsGen;
use crate::lock::LockGen;
use crate::register::RegisterGen;
use crate::set::SetGen;
use crate::{
    append, broadcast, election, fencing, generals, lock, register, set, total_order, Completion,
};
use checker::model::ModelKind;
use serde_json::Value;
use std::collections::BTreeSet;

/// One operation to invoke: the history fields `f`, `key`, `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSpec {
    pub f: String,
    pub key: Option<Value>,
    pub value: Value,
}

/// Which workload: the list of workloads. Adding one is a variant here, its arms in
/// [`WorkloadKind::name`], [`WorkloadKind::description`], [`WorkloadKind::default_keys`] and
/// the [`Workload`] methods (generator, execute, final reads, checkers), and its entry in
/// [`WorkloadKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    Register,
    Set,
    Election,
    Append,
    Generals,
    TotalOrder,
    Broadcast,
    Lock,
    Fencing,
}

impl WorkloadKind {
    /// Every workload, in `--help` order.
    pub const ALL: &'static [WorkloadKind] = &[
        WorkloadKind::Register,
        WorkloadKind::Set,
        WorkloadKind::Election,
        WorkloadKind::Append,
        WorkloadKind::Generals,
        WorkloadKind::TotalOrder,
        WorkloadKind::Broadcast,
        WorkloadKind::Lock,
        WorkloadKind::Fencing,
    ];

    /// The `--workload` name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Set => "set",
            WorkloadKind::Election => "election",
            WorkloadKind::Append => "append",
            WorkloadKind::Generals => "generals",
            WorkloadKind::TotalOrder => "total-order",
            WorkloadKind::Broadcast => "broadcast",
            WorkloadKind::Lock => "lock",
            WorkloadKind::Fencing => "fencing",
        }
    }

    /// One line for `--help` and error messages.
    pub fn description(self) -> &'static str {
        match self {
            WorkloadKind::Register => {
                "independent cas-registers (read, write, cas), linearizability per key"
            }
            WorkloadKind::Set => "unique adds into one set, final reads on every node, set-full",
            WorkloadKind::Election => {
                "every node's view of the leader and leader-only acts, split-brain checker"
            }
            WorkloadKind::Append => {
                "lists per key: unique appends and whole-list reads, kv-model linearizability"
            }
            WorkloadKind::Generals => {
                "Two Generals rounds over a lossy link, agreement by loss and acknowledgements"
            }
            WorkloadKind::TotalOrder => {
                "chat posts to every replica, every node's delivered log read, total-order"
            }
            WorkloadKind::Broadcast => {
                "chat posts spread by gossip, every node's delivered set read, broadcast"
            }
            WorkloadKind::Lock => {
                "acquire/release of a few locks by many sessions, mutex model + lock overlap"
            }
            WorkloadKind::Fencing => {
                "lock holders write to a protected resource with their tokens; fencing checker"
            }
        }
    }

    /// The `--keys` default: register: concurrently active keys, one per node's worth of
    /// workers; set: one bucket per worker.
    pub fn default_keys(self, concurrency: usize, nodes: usize) -> usize {
        match self {
            WorkloadKind::Register | WorkloadKind::Append => (concurrency / nodes.max(1)).max(1),
            WorkloadKind::Set | WorkloadKind::TotalOrder | WorkloadKind::Broadcast => concurrency,
            WorkloadKind::Election => 1,
            WorkloadKind::Generals => 1,
            WorkloadKind::Lock | WorkloadKind::Fencing => (concurrency / 2).clamp(1, 3),
        }
    }

    /// The workload named `s`, if any.
    pub fn parse(s: &str) -> Option<WorkloadKind> {
        Self::ALL.iter().copied().find(|k| k.name() == s)
    }

    /// Every name, comma-separated, for messages.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A checker that judges a workload's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckerKind {
    /// Linearizability per key with the model (e.g. the cas-register).
    Linearizable { model: ModelKind },
    /// Set-full: lost and stale elements of a set (adds + reads); `linearizable`: an element
    /// must be visible to every read that starts after its add completed.
    SetFull { linearizable: bool },
    /// No two clients held the same lock at overlapping times (acquire ok to release invoke).
    LockOverlap,
    /// Stale writes to the protected resource, lease violations, token regressions, stale
    /// lock reads (`checker::checkers::fencing`).
    Fencing,
    /// Counts of ok / fail / info per function (always present).
    Stats,
    /// The `fail` and `info` errors, grouped by text (`harness check` adds it).
    Exceptions,
    /// Split brain: acknowledged leader-only acts of two nodes at once.
    Election,
    /// Two Generals: rounds without a joint attack, agreement by loss and acknowledgements.
    Generals,
    /// Total order among honest nodes: agreement, integrity, validity.
    TotalOrder,
    /// Gossip broadcast: every acknowledged message on every honest node, nothing unsent,
    /// convergence times.
    Broadcast,
}

/// Workload parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadOptions {
    pub kind: WorkloadKind,
    /// Number of workers.
    pub concurrency: usize,
    /// Register: concurrently active keys. Set: buckets the set is split into.
    pub keys: usize,
    /// Register: operations per key before a fresh key.
    pub ops_per_key: usize,
    pub seed: u64,
}

/// A configured workload.
#[derive(Debug, Clone)]
pub struct Workload {
    opts: WorkloadOptions,
}

/// One worker's op stream.
#[derive(Debug)]
pub enum WorkerGen {
    Register(RegisterGen),
    Set(SetGen),
    Election(ElectionGen),
    Append(AppendGen),
    Generals(GeneralsGen),
    TotalOrder(PostGen),
    Broadcast(PostGen),
    Lock(LockGen),
    Fencing(FencingGen),
}

impl WorkerGen {
    pub fn next_op(&mut self) -> OpSpec {
        match self {
            WorkerGen::Register(g) => g.next_op(),
            WorkerGen::Set(g) => g.next_op(),
            WorkerGen::Election(g) => g.next_op(),
            WorkerGen::Append(g) => g.next_op(),
            WorkerGen::Generals(g) => g.next_op(),
            WorkerGen::TotalOrder(g) => g.next_op(),
            WorkerGen::Broadcast(g) => g.next_op(),
            WorkerGen::Lock(g) => g.next_op(),
            WorkerGen::Fencing(g) => g.next_op(),
        }
    }
}

impl Workload {
    pub fn new(opts: WorkloadOptions) -> Workload {
        Workload { opts }
    }

    pub fn options(&self) -> &WorkloadOptions {
        &self.opts
    }

    pub fn kind(&self) -> WorkloadKind {
        self.opts.kind
    }

    /// The op stream of worker `worker` (depends only on the seed and the worker index).
    pub fn generator(&self, worker: usize) -> WorkerGen {
        let o = &self.opts;
        match o.kind {
            WorkloadKind::Register => WorkerGen::Register(RegisterGen::new(
                o.seed,
                worker,
                o.concurrency,
                o.keys,
                o.ops_per_key,
            )),
            WorkloadKind::Set => WorkerGen::Set(SetGen::new(o.seed, worker, o.concurrency)),
            WorkloadKind::Election => WorkerGen::Election(ElectionGen::new(worker)),
            WorkloadKind::Append => WorkerGen::Append(AppendGen::new(
                o.seed,
                worker,
                o.concurrency,
                o.keys,
                o.ops_per_key,
            )),
            WorkloadKind::Generals => WorkerGen::Generals(GeneralsGen::new(worker, o.concurrency)),
            WorkloadKind::TotalOrder => {
                WorkerGen::TotalOrder(total_order::generator(o.seed, worker))
            }
            WorkloadKind::Broadcast => WorkerGen::Broadcast(broadcast::generator(o.seed, worker)),
            WorkloadKind::Lock => WorkerGen::Lock(LockGen::new(o.seed, worker, o.keys)),
            WorkloadKind::Fencing => WorkerGen::Fencing(FencingGen::new(o.seed, worker, o.keys)),
        }
    }

    /// Execute `op`; `Ok(v)`: `v` is the value recorded on the completion.
    pub async fn execute(&self, client: &Client, op: &OpSpec) -> Completion {
        match self.opts.kind {
            WorkloadKind::Register => register::execute(client, op).await,
            WorkloadKind::Set => set::execute(client, op, self.opts.keys).await,
            WorkloadKind::Election => election::execute(client, op).await,
            WorkloadKind::Append => append::execute(client, op).await,
            WorkloadKind::Generals => generals::execute(client, op).await,
            WorkloadKind::TotalOrder => total_order::execute(client, op).await,
            WorkloadKind::Broadcast => broadcast::execute(client, op).await,
            WorkloadKind::Lock => lock::execute(client, op).await,
            WorkloadKind::Fencing => fencing::execute(client, op).await,
        }
    }

    /// The final reads to run on every node after recovery: register: a read of every key
    /// the history touched (`keys`); set: one read of the whole set.
    pub fn final_reads(&self, keys: &BTreeSet<String>) -> Vec<OpSpec> {
        match self.opts.kind {
            WorkloadKind::Register | WorkloadKind::Append => keys
                .iter()
                .map(|k| OpSpec {
                    f: "read".into(),
                    key: Some(Value::String(k.clone())),
                    value: Value::Null,
                })
                .collect(),
            WorkloadKind::Set => vec![set::read_op()],
            WorkloadKind::Election => Vec::new(),
            WorkloadKind::Generals => Vec::new(),
            WorkloadKind::TotalOrder => vec![total_order::read_op()],
            WorkloadKind::Broadcast => vec![broadcast::read_op()],
            WorkloadKind::Lock | WorkloadKind::Fencing => Vec::new(),
        }
    }

    /// The checkers that judge this workload (stats always included).
    pub fn checkers(&self) -> Vec<CheckerKind> {
        match self.opts.kind {
            WorkloadKind::Register => vec![
                CheckerKind::Linearizable {
                    model: ModelKind::CasRegister,
                },
                CheckerKind::Stats,
            ],
            WorkloadKind::Set => vec![
                CheckerKind::SetFull { linearizable: true },
                CheckerKind::Stats,
            ],
            WorkloadKind::Election => vec![CheckerKind::Election, CheckerKind::Stats],
            WorkloadKind::Append => vec![
                CheckerKind::Linearizable {
                    model: ModelKind::Kv,
                },
                CheckerKind::Stats,
            ],
            WorkloadKind::Generals => vec![CheckerKind::Generals, CheckerKind::Stats],
            WorkloadKind::TotalOrder => vec![CheckerKind::TotalOrder, CheckerKind::Stats],
            WorkloadKind::Broadcast => vec![CheckerKind::Broadcast, CheckerKind::Stats],
            WorkloadKind::Lock => vec![
                CheckerKind::Linearizable {
                    model: ModelKind::Mutex,
                },
                CheckerKind::LockOverlap,
                CheckerKind::Fencing,
                CheckerKind::Stats,
            ],
            WorkloadKind::Fencing => vec![CheckerKind::Fencing, CheckerKind::Stats],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_reads_and_checkers_follow_the_kind() {
        let reg = Workload::new(WorkloadOptions {
            kind: WorkloadKind::Register,
            concurrency: 4,
            keys: 2,
            ops_per_key: 10,
            seed: 1,
        });
        let keys: BTreeSet<String> = ["k0".to_string(), "k1".to_string()].into();
        let reads = reg.final_reads(&keys);
        assert_eq!(reads.len(), 2);
        assert!(reads.iter().all(|r| r.f == "read"));
        assert!(reg.checkers().contains(&CheckerKind::Stats));
        let set = Workload::new(WorkloadOptions {
            kind: WorkloadKind::Set,
            concurrency: 4,
            keys: 2,
            ops_per_key: 10,
            seed: 1,
        });
        assert_eq!(set.final_reads(&keys).len(), 1);
        assert_eq!(
            set.checkers(),
            vec![
                CheckerKind::SetFull { linearizable: true },
                CheckerKind::Stats
            ]
        );
        assert_eq!(WorkloadKind::parse("set"), Some(WorkloadKind::Set));
        assert_eq!(WorkloadKind::parse("bank"), None);
    }
}
