//! Sequential specifications that the linearizability search checks against, and the
//! compilation of a history into per-key partitions of compact model operations.
//!
//! Every model is compiled per partition (one key) into a [`Spec`]: operations become small
//! enums over interned value ids and a model state is a `u32` id, so the search hashes and
//! compares states in O(1). Operations that constrain nothing are dropped here (a failed
//! operation, a read of unknown outcome); a failed cas is kept as the constraint "the value
//! differed" only when the [`FailedOps`] reading of the check says so. Keys come from the
//! `key` field or, failing that, from Jepsen's `independent` tuples `[key value]` in
//! `value` (for `txn`, `[key [micro-ops]]`); ops with neither form one partition.

use crate::history::{Call, History, OpType};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

pub mod failed_ops;
pub mod intern;
pub mod kv;
pub mod multi_register;
pub mod mutex;
pub mod queue;
pub mod register;
pub mod set;
pub mod unordered_queue;

pub use failed_ops::{reading_matters, verdict_under_other_reading, FailedOps, CAS_MISMATCH};
pub use kv::KvSpec;
pub use multi_register::MultiRegisterSpec;
pub use mutex::MutexSpec;
pub use queue::QueueSpec;
pub use register::RegisterSpec;
pub use set::SetSpec;
pub use unordered_queue::UnorderedQueueSpec;

/// A sequential specification compiled for one partition. Operations are numbered
/// `0..len` in partition order; states are `u32` ids (meaningful only to this spec).
pub trait Spec: Send {
    /// The initial state.
    fn init(&mut self) -> u32;
    /// Apply operation `op` in `state`: the next state, or `None` if not allowed.
    fn step(&mut self, state: u32, op: u32) -> Option<u32>;
    /// True if the op, whenever it is allowed, leaves the state unchanged (a read).
    fn read_only(&self, op: u32) -> bool;
    /// An exact class of the op's effect: two ops of one class have the same transition
    /// function (used to treat interchangeable open info ops as one).
    fn effect_class(&self, op: u32) -> u64;
    /// True if the op can move the state backwards in the model's growth order (a `put`).
    /// Models with no such order say true for every op that changes state.
    fn resets(&self, op: u32) -> bool {
        !self.read_only(op)
    }
    /// Whether the read-only `op` could still be satisfied from `state` by ops that do not
    /// reset (only asked when no reset op remains). Sound default: true.
    fn viable(&mut self, _state: u32, _op: u32) -> bool {
        true
    }
    /// Whether the reset op `reset` could leave a state from which the read-only `read`
    /// is viable (asked when `read` is not viable from the current state). Sound default:
    /// true.
    fn reset_viable(&mut self, _reset: u32, _read: u32) -> bool {
        true
    }
    /// Bytes of memory this spec holds (its interned states and memo tables), for the
    /// search's memory budget.
    fn bytes(&self) -> usize {
        0
    }
    /// Drop memo tables and states created by searches (after a verdict); state ids from
    /// before are invalid afterwards, the ops stay usable by a new search.
    fn release_memo(&mut self) {}
    /// A person-readable text of a state.
    fn render_state(&self, state: u32) -> String;
    /// Why `op` cannot be applied in `state` (or that it can but leads nowhere).
    fn explain(&mut self, state: u32, op: u32) -> String;
}

/// One operation as a model sees it: function, argument, result and outcome, with
/// `independent` tuples already unwrapped.
#[derive(Debug, Clone, Copy)]
pub struct OpInput<'a> {
    pub f: &'a str,
    pub input: &'a Value,
    pub output: &'a Value,
    pub outcome: OpType,
    /// The completion's `error`, if any (e.g. `"cas-mismatch"`, `"not_leader"`).
    pub error: Option<&'a Value>,
}

/// A compiled spec of any model (enum dispatch; the search is generic over [`Spec`]).
#[derive(Debug, Clone)]
pub enum AnySpec {
    Register(RegisterSpec),
    Kv(KvSpec),
    Mutex(MutexSpec),
    Queue(QueueSpec),
    Set(SetSpec),
    MultiRegister(MultiRegisterSpec),
    UnorderedQueue(UnorderedQueueSpec),
}

/// Run `$body` with `$s` bound to the concrete spec inside an [`AnySpec`].
#[macro_export]
macro_rules! with_spec {
    ($any:expr, $s:ident => $body:expr) => {
        match $any {
            $crate::model::AnySpec::Register($s) => $body,
            $crate::model::AnySpec::Kv($s) => $body,
            $crate::model::AnySpec::Mutex($s) => $body,
            $crate::model::AnySpec::Queue($s) => $body,
            $crate::model::AnySpec::Set($s) => $body,
            $crate::model::AnySpec::MultiRegister($s) => $body,
            $crate::model::AnySpec::UnorderedQueue($s) => $body,
        }
    };
}

/// One compiled operation of a partition and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct PartOp {
    /// Index into `History::pair()`'s calls.
    pub call: usize,
    /// Position in `History::ops` of the invocation.
    pub invoke: usize,
    /// Position of the completion, if any.
    pub complete: Option<usize>,
    pub outcome: OpType,
    /// Must be linearized (ok, or a failed cas kept as a constraint). Info ops are not:
    /// they stay open to the end and may or may not take effect.
    pub required: bool,
}

/// All operations of one key, compiled for a model.
#[derive(Debug, Clone)]
pub struct Partition {
    /// The key (`null` for an unkeyed history).
    pub key: Value,
    /// Client calls of this key, including dropped ones.
    pub calls: usize,
    pub ops: Vec<PartOp>,
    pub spec: AnySpec,
}

/// A history that does not fit a model, with the input line of the offending op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub message: String,
    pub line: Option<u64>,
}

/// True if the history's keys live in Jepsen `independent` tuples: no op has a `key`
/// field, and every client invocation's value is a pair `[key value]` (for `cas` the value
/// part itself a pair).
fn uses_tuples(history: &History, calls: &[Call]) -> bool {
    if calls.is_empty() {
        return false;
    }
    calls.iter().all(|c| {
        let op = &history.ops[c.invoke];
        if op.key.as_ref().is_some_and(|k| !k.is_null()) {
            return false;
        }
        match &op.value {
            // A txn is a tuple `[key [micro-ops]]` only when its first element is not
            // itself a micro-op (a two-micro-op txn is also a pair).
            Value::Array(a) if a.len() == 2 && c.f == "txn" => !a[0].is_array(),
            Value::Array(a) if a.len() == 2 => {
                c.f != "cas" || matches!(&a[1], Value::Array(p) if p.len() == 2)
            }
            _ => false,
        }
    })
}

fn untuple(v: &Value, tuples: bool) -> &Value {
    static NULL: Value = Value::Null;
    if !tuples {
        return v;
    }
    match v {
        Value::Array(a) if a.len() == 2 => &a[1],
        _ => &NULL,
    }
}

/// The key, argument and result of a call (tuples unwrapped when `tuples`).
pub fn call_parts<'h>(
    history: &'h History,
    call: &Call,
    tuples: bool,
) -> (Value, &'h Value, &'h Value) {
    static NULL: Value = Value::Null;
    let inv = &history.ops[call.invoke];
    let key = match (&inv.key, tuples, &inv.value) {
        (Some(k), _, _) if !k.is_null() => k.clone(),
        (_, true, Value::Array(a)) if a.len() == 2 => a[0].clone(),
        _ => Value::Null,
    };
    let input = untuple(&inv.value, tuples);
    let output = match call.complete {
        Some(c) => untuple(&history.ops[c].value, tuples),
        None => &NULL,
    };
    (key, input, output)
}

/// Whether the history keeps keys in `independent` tuples (see [`compile`]).
pub fn detect_tuples(history: &History, calls: &[Call]) -> bool {
    uses_tuples(history, calls)
}

fn new_spec(kind: ModelKind) -> AnySpec {
    match kind {
        ModelKind::Register | ModelKind::CasRegister => AnySpec::Register(RegisterSpec::default()),
        ModelKind::Kv => AnySpec::Kv(KvSpec::default()),
        ModelKind::Mutex => AnySpec::Mutex(MutexSpec::default()),
        ModelKind::FifoQueue => AnySpec::Queue(QueueSpec::default()),
        ModelKind::Set => AnySpec::Set(SetSpec::default()),
        ModelKind::MultiRegister => AnySpec::MultiRegister(MultiRegisterSpec::default()),
        ModelKind::UnorderedQueue => AnySpec::UnorderedQueue(UnorderedQueueSpec::default()),
    }
}

fn add_op(
    kind: ModelKind,
    spec: &mut AnySpec,
    op: &OpInput<'_>,
    failed_ops: FailedOps,
) -> Result<Option<()>, String> {
    match spec {
        AnySpec::Register(s) => s.add(op, kind == ModelKind::CasRegister, failed_ops),
        AnySpec::Kv(s) => s.add(op),
        AnySpec::Mutex(s) => s.add(op),
        AnySpec::Queue(s) => s.add(op),
        AnySpec::Set(s) => s.add(op),
        AnySpec::MultiRegister(s) => s.add(op),
        AnySpec::UnorderedQueue(s) => s.add(op),
    }
}

/// Split a paired history into per-key partitions compiled for `kind`, reading failed
/// operations as `failed_ops` says. Partitions come in order of first appearance of their
/// key.
pub fn compile(
    kind: ModelKind,
    history: &History,
    calls: &[Call],
    failed_ops: FailedOps,
) -> Result<Vec<Partition>, CompileError> {
    let tuples = uses_tuples(history, calls);
    let mut index: ahash::AHashMap<String, usize> = ahash::AHashMap::new();
    let mut parts: Vec<Partition> = Vec::new();
    for (ci, call) in calls.iter().enumerate() {
        let (key, input, output) = call_parts(history, call, tuples);
        let canon = intern::canonical(&key);
        let pi = *index.entry(canon).or_insert_with(|| {
            parts.push(Partition {
                key: key.clone(),
                calls: 0,
                ops: Vec::new(),
                spec: new_spec(kind),
            });
            parts.len() - 1
        });
        let part = &mut parts[pi];
        part.calls += 1;
        let op = OpInput {
            f: &call.f,
            input,
            output,
            outcome: call.outcome,
            error: call.complete.and_then(|c| history.ops[c].error.as_ref()),
        };
        let added = add_op(kind, &mut part.spec, &op, failed_ops).map_err(|message| {
            let line = call
                .complete
                .and_then(|c| history.ops[c].line)
                .or(history.ops[call.invoke].line);
            let at = match line {
                Some(l) => format!("line {l}"),
                None => format!("event {}", history.ops[call.invoke].index),
            };
            CompileError {
                message: format!("{at}: {message} (model {kind})"),
                line,
            }
        })?;
        if added.is_some() {
            part.ops.push(PartOp {
                call: ci,
                invoke: call.invoke,
                complete: call.complete,
                outcome: call.outcome,
                required: call.outcome != OpType::Info,
            });
        }
    }
    Ok(parts)
}

/// The model a history is checked against when the user names none: cas-register for
/// Porcupine's etcd logs and histories whose client functions are within read/write/cas,
/// kv for Porcupine's kv logs and get/put/append histories, multi-register for `txn`
/// histories (Jepsen's `:txn` ops, as Knossos checks them); `None` when the functions say
/// nothing clear (e.g. enqueue/dequeue: fifo-queue or unordered-queue is the user's call).
pub fn infer_model(history: &History, format: crate::format::Format) -> Option<ModelKind> {
    use crate::format::Format;
    match format {
        Format::PorcupineEtcd => return Some(ModelKind::CasRegister),
        Format::PorcupineKv => return Some(ModelKind::Kv),
        Format::Jsonl | Format::Edn => {}
    }
    let fs: std::collections::BTreeSet<&str> = history
        .ops
        .iter()
        .filter(|o| !o.process.is_nemesis())
        .map(|o| o.f.as_str())
        .collect();
    let within = |allowed: &[&str]| fs.iter().all(|f| allowed.contains(f));
    if within(&["read", "write", "cas"]) {
        Some(ModelKind::CasRegister)
    } else if within(&["get", "put", "append"]) {
        Some(ModelKind::Kv)
    } else if within(&["txn"]) {
        Some(ModelKind::MultiRegister)
    } else {
        None
    }
}

/// Which model a history is checked against (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// read / write of one value per key.
    Register,
    /// read / write / cas; what a failed cas means is the [`FailedOps`] reading.
    CasRegister,
    /// get / put / append over string values, every key initially "".
    Kv,
    /// acquire / release.
    Mutex,
    /// enqueue / dequeue.
    FifoQueue,
    /// add + read of the whole set.
    Set,
    /// Knossos's `multi-register`: `txn` ops of `[read k v]` / `[write k v]` micro-ops.
    MultiRegister,
    /// Knossos's `unordered-queue`: enqueue / dequeue in any order.
    UnorderedQueue,
}

impl ModelKind {
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::Mutex,
        ModelKind::FifoQueue,
        ModelKind::Set,
        ModelKind::MultiRegister,
        ModelKind::UnorderedQueue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Mutex => "mutex",
            ModelKind::FifoQueue => "fifo-queue",
            ModelKind::Set => "set",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::UnorderedQueue => "unordered-queue",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown model `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;

    fn call(p: u64, f: &str, input: Value, outcome: OpType, output: Value) -> Vec<Op> {
        vec![
            Op::new(0, 0, OpType::Invoke, Process::Client(p), f, input),
            Op::new(0, 0, outcome, Process::Client(p), f, output),
        ]
    }

    /// A sequential history of the given calls (index/time/line set from position).
    fn hist(calls: Vec<Vec<Op>>) -> History {
        let mut ops: Vec<Op> = calls.into_iter().flatten().collect();
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
            op.time = i as i64;
            op.line = Some(i as u64 + 1);
        }
        History::new(ops)
    }

    fn compiled(kind: ModelKind, h: &History) -> Vec<Partition> {
        compile(kind, h, &h.pair().unwrap(), FailedOps::Observe).unwrap()
    }

    #[test]
    fn a_failed_cas_is_an_observation_as_the_reading_says() {
        let mut calls = vec![
            call(0, "cas", json!([1, 2]), OpType::Fail, json!([1, 2])),
            call(1, "cas", json!([1, 2]), OpType::Fail, json!([1, 2])),
            call(2, "cas", json!([1, 2]), OpType::Fail, json!([1, 2])),
        ];
        calls[0][1].error = Some(json!("not_leader"));
        calls[1][1].error = Some(json!("cas-mismatch"));
        calls[2][1].error = Some(json!("connection refused"));
        calls.push(call(3, "read", Value::Null, OpType::Ok, json!(1)));
        let h = hist(calls);
        let kept = |reading| {
            let parts = compile(ModelKind::CasRegister, &h, &h.pair().unwrap(), reading);
            parts.unwrap()[0].ops.len()
        };
        // Ignore: only the explicit mismatch is the constraint "the value differed"; a cas
        // refused by a follower or never sent did not happen and is dropped.
        assert_eq!(
            kept(FailedOps::Ignore),
            2,
            "the mismatch cas and the read stay"
        );
        // Observe (Porcupine's reading): every failed cas is the constraint.
        assert_eq!(kept(FailedOps::Observe), 4);
    }

    #[test]
    fn cas_register_semantics() {
        let h = hist(vec![
            call(0, "write", json!(1), OpType::Ok, json!(1)),
            call(0, "cas", json!([1, 2]), OpType::Ok, json!([1, 2])),
            call(0, "cas", json!([1, 3]), OpType::Fail, json!([1, 3])),
            call(0, "cas", json!([2, 4]), OpType::Info, Value::Null),
            call(0, "read", Value::Null, OpType::Ok, json!(2)),
            call(0, "read", Value::Null, OpType::Fail, Value::Null),
            call(0, "write", json!(9), OpType::Fail, Value::Null),
        ]);
        let mut parts = compiled(ModelKind::CasRegister, &h);
        assert_eq!(parts.len(), 1);
        let p = &mut parts[0];
        // The failed read and write are dropped; the failed cas stays as a constraint.
        assert_eq!(p.ops.len(), 5);
        assert_eq!(p.calls, 7);
        assert_eq!(
            p.ops.iter().map(|o| o.required).collect::<Vec<_>>(),
            vec![true, true, true, false, true]
        );
        let AnySpec::Register(s) = &mut p.spec else {
            panic!("register spec")
        };
        let nil = s.init();
        let one = s.step(nil, 0).unwrap();
        assert_eq!(s.step(nil, 1), None, "ok cas needs the value to equal from");
        let two = s.step(one, 1).unwrap();
        assert_eq!(s.render_state(two), "2");
        assert_eq!(
            s.step(one, 2),
            None,
            "a failed cas means the value differed"
        );
        assert_eq!(s.step(two, 2), Some(two));
        assert!(s.read_only(2) && s.read_only(4) && !s.read_only(0));
        assert_eq!(
            s.step(one, 3),
            Some(one),
            "an unknown cas that does not match is a no-op"
        );
        assert_ne!(s.step(two, 3), Some(two));
        assert_eq!(s.step(two, 4), Some(two));
        assert_eq!(s.explain(one, 4), "read 2 but register is 1");
    }

    #[test]
    fn register_rejects_cas_and_malformed_cas_names_the_line() {
        let h = hist(vec![call(
            0,
            "cas",
            json!([1, 2]),
            OpType::Ok,
            json!([1, 2]),
        )]);
        let e = compile(
            ModelKind::Register,
            &h,
            &h.pair().unwrap(),
            FailedOps::Ignore,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(2));
        let h = hist(vec![
            call(0, "write", json!(1), OpType::Ok, json!(1)),
            call(0, "cas", json!(5), OpType::Ok, json!(5)),
        ]);
        let e = compile(
            ModelKind::CasRegister,
            &h,
            &h.pair().unwrap(),
            FailedOps::Ignore,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(
            e.message.contains("line 4") && e.message.contains("[from to]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn keys_come_from_the_key_field_or_independent_tuples() {
        let mut ops = hist(vec![
            call(0, "write", json!(1), OpType::Ok, json!(1)),
            call(1, "write", json!(2), OpType::Ok, json!(2)),
        ]);
        ops.ops[0].key = Some(json!("a"));
        ops.ops[2].key = Some(json!("b"));
        let parts = compiled(ModelKind::Register, &ops);
        assert_eq!(
            parts.iter().map(|p| p.key.clone()).collect::<Vec<_>>(),
            vec![json!("a"), json!("b")]
        );
        let tuples = hist(vec![
            call(0, "write", json!([7, 1]), OpType::Ok, json!([7, 1])),
            call(0, "cas", json!([8, [1, 2]]), OpType::Ok, json!([8, [1, 2]])),
            call(0, "read", json!([7, null]), OpType::Ok, json!([7, 1])),
        ]);
        let mut parts = compiled(ModelKind::CasRegister, &tuples);
        assert_eq!(
            parts.iter().map(|p| p.key.clone()).collect::<Vec<_>>(),
            vec![json!(7), json!(8)]
        );
        let AnySpec::Register(s) = &mut parts[0].spec else {
            panic!()
        };
        let one = s.step(0, 0).unwrap();
        assert_eq!(
            s.step(one, 1),
            Some(one),
            "the read sees the tuple's value, 1"
        );
        // Plain cas pairs without tuples are one unkeyed register.
        let plain = hist(vec![call(
            0,
            "cas",
            json!([1, 2]),
            OpType::Fail,
            json!([1, 2]),
        )]);
        let parts = compiled(ModelKind::CasRegister, &plain);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].key, Value::Null);
    }

    #[test]
    fn models_are_inferred_from_functions_and_format() {
        use crate::format::Format;
        let fs = |names: &[&str]| {
            hist(
                names
                    .iter()
                    .map(|f| call(0, f, Value::Null, OpType::Ok, Value::Null))
                    .collect(),
            )
        };
        let cases = [
            (
                fs(&["read", "cas"]),
                Format::Jsonl,
                Some(ModelKind::CasRegister),
            ),
            (fs(&["get", "append"]), Format::Edn, Some(ModelKind::Kv)),
            (fs(&["txn"]), Format::Edn, Some(ModelKind::MultiRegister)),
            (fs(&["txn", "read"]), Format::Jsonl, None),
            (fs(&["enqueue", "dequeue"]), Format::Edn, None),
            (fs(&["add"]), Format::PorcupineKv, Some(ModelKind::Kv)),
            (
                fs(&["txn"]),
                Format::PorcupineEtcd,
                Some(ModelKind::CasRegister),
            ),
        ];
        for (h, format, want) in cases {
            assert_eq!(infer_model(&h, format), want, "{format}");
        }
    }

    #[test]
    fn a_two_micro_op_txn_is_not_an_independent_tuple() {
        let txn = json!([["read", "x", null], ["write", "y", 2]]);
        let done = json!([["read", "x", null], ["write", "y", 2]]);
        let h = hist(vec![call(0, "txn", txn.clone(), OpType::Ok, done)]);
        let parts = compiled(ModelKind::MultiRegister, &h);
        assert_eq!((parts.len(), parts[0].key.clone()), (1, Value::Null));
        let keyed = hist(vec![call(
            0,
            "txn",
            json!([7, txn]),
            OpType::Ok,
            Value::Null,
        )]);
        let parts = compiled(ModelKind::MultiRegister, &keyed);
        assert_eq!(
            parts[0].key,
            json!(7),
            "`[key txn]` is Jepsen's independent tuple"
        );
        assert_eq!(parts[0].ops.len(), 1);
    }

    #[test]
    fn mutex_queue_and_set_semantics() {
        let h = hist(vec![
            call(0, "acquire", Value::Null, OpType::Ok, Value::Null),
            call(0, "release", Value::Null, OpType::Ok, Value::Null),
            call(0, "acquire", Value::Null, OpType::Fail, Value::Null),
        ]);
        let mut parts = compiled(ModelKind::Mutex, &h);
        assert_eq!(parts[0].ops.len(), 2, "a failed acquire did not happen");
        let AnySpec::Mutex(m) = &mut parts[0].spec else {
            panic!()
        };
        assert_eq!(m.step(0, 1), None);
        assert_eq!(m.step(1, 0), None);
        let held = m.step(0, 0).unwrap();
        assert_eq!(m.step(held, 1), Some(0));

        let h = hist(vec![
            call(0, "enqueue", json!(1), OpType::Ok, json!(1)),
            call(0, "enqueue", json!(2), OpType::Ok, json!(2)),
            call(0, "dequeue", Value::Null, OpType::Ok, json!(1)),
            call(0, "dequeue", Value::Null, OpType::Ok, Value::Null),
            call(0, "dequeue", Value::Null, OpType::Info, Value::Null),
        ]);
        let mut parts = compiled(ModelKind::FifoQueue, &h);
        let AnySpec::Queue(q) = &mut parts[0].spec else {
            panic!()
        };
        let s1 = q.step(0, 0).unwrap();
        let s12 = q.step(s1, 1).unwrap();
        assert_eq!(q.render_state(s12), "[1 2]");
        let s2 = q.step(s12, 2).unwrap();
        assert_eq!(q.step(s2, 2), None, "head is 2 now");
        assert_eq!(q.step(s2, 3), None, "nil dequeue needs an empty queue");
        assert_eq!(q.step(0, 3), Some(0));
        let popped = q.step(s12, 4).unwrap();
        assert_eq!(
            q.render_state(popped),
            "[2]",
            "unknown dequeue pops the head"
        );

        let h = hist(vec![
            call(0, "add", json!(1), OpType::Ok, json!(1)),
            call(0, "add", json!(2), OpType::Ok, json!(2)),
            call(0, "read", Value::Null, OpType::Ok, json!([2, 1])),
            call(0, "read", Value::Null, OpType::Ok, json!([1])),
        ]);
        let mut parts = compiled(ModelKind::Set, &h);
        let AnySpec::Set(st) = &mut parts[0].spec else {
            panic!()
        };
        let a = st.step(0, 0).unwrap();
        let ab = st.step(a, 1).unwrap();
        assert_eq!(
            st.step(ab, 2),
            Some(ab),
            "order of a read set does not matter"
        );
        assert_eq!(st.step(ab, 3), None);
        assert!(st.viable(a, 2) && !st.viable(ab, 3), "sets only grow");
        assert_eq!(st.render_state(ab), "#{1 2}");
    }
}
