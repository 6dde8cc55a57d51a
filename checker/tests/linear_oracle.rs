//! Property test of the linearizability checker against a brute-force oracle written here
//! independently (its own model semantics over JSON values, every order of the operations
//! that respects real-time order, info operations optional), on many random small histories
//! of every model, with ok, fail and info ops, under both readings of failed ops (ignore: a
//! failed cas is the observation "the value differed" only with the error `cas-mismatch`;
//! observe: always), and through every input path: the history itself, its JSONL text and
//! an EDN text generated here, each read back by the readers.

use checker::format::{self, Format};
use checker::history::{History, Op, OpType, Process};
use checker::linear::{check, LinearOptions};
use checker::model::{FailedOps, ModelKind};
use checker::Validity;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One call as the oracle sees it.
#[derive(Debug, Clone)]
struct OCall {
    key: Value,
    f: String,
    input: Value,
    output: Value,
    outcome: OpType,
    /// The completion's error, if any.
    error: Option<Value>,
    invoke: usize,
    /// Completion position (ok/fail only; info ops never complete for ordering purposes).
    complete: Option<usize>,
}

/// The oracle's state: one per key (kv and the others are keyed the same way here).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum St {
    Reg(String),
    Kv(String),
    Lock(bool),
    Queue(VecDeque<String>),
    Set(BTreeSet<String>),
    Regs(BTreeMap<String, String>),
    /// An unordered queue: the pending elements, sorted (a multiset).
    Bag(Vec<String>),
}

fn text(v: &Value) -> String {
    v.to_string()
}

fn init(model: ModelKind) -> St {
    match model {
        ModelKind::Register | ModelKind::CasRegister => St::Reg("null".into()),
        ModelKind::Kv => St::Kv(String::new()),
        ModelKind::Mutex => St::Lock(false),
        ModelKind::FifoQueue => St::Queue(VecDeque::new()),
        ModelKind::Set => St::Set(BTreeSet::new()),
        ModelKind::MultiRegister => St::Regs(BTreeMap::new()),
        ModelKind::UnorderedQueue => St::Bag(Vec::new()),
    }
}

/// Does this call take part at all? A fail did not happen, except a failed cas that the
/// reading takes as an observation; reads (and unordered dequeues) of unknown outcome
/// constrain nothing.
fn participates(model: ModelKind, c: &OCall, reading: FailedOps) -> bool {
    match c.outcome {
        OpType::Fail => {
            c.f == "cas"
                && (reading == FailedOps::Observe || c.error == Some(json!("cas-mismatch")))
        }
        OpType::Info => match c.f.as_str() {
            "read" | "get" => false,
            "dequeue" => model != ModelKind::UnorderedQueue,
            _ => true,
        },
        _ => true,
    }
}

/// A txn's micro-ops applied to registers: reads of nil (and every read of an unknown
/// txn) are free, the others must see the value; writes set it.
fn apply_txn(regs: &BTreeMap<String, String>, c: &OCall) -> Option<BTreeMap<String, String>> {
    let ok = c.outcome == OpType::Ok;
    let micro = if ok { &c.output } else { &c.input };
    let mut regs = regs.clone();
    for m in micro.as_array()? {
        let (f, k, v) = (m[0].as_str()?, text(&m[1]), &m[2]);
        if f == "write" {
            regs.insert(k, text(v));
        } else if ok && !v.is_null() && regs.get(&k).map_or("null", String::as_str) != text(v) {
            return None;
        }
    }
    Some(regs)
}

fn apply_register(v: &str, c: &OCall) -> Option<St> {
    let st = St::Reg(v.to_string());
    match c.f.as_str() {
        "read" => (v == text(&c.output)).then_some(st),
        "write" => Some(St::Reg(text(&c.input))),
        _ => {
            let (a, b) = (text(&c.input[0]), text(&c.input[1]));
            match c.outcome {
                OpType::Fail => (v != a).then_some(st),
                OpType::Ok => (v == a).then_some(St::Reg(b)),
                _ => Some(if v == a { St::Reg(b) } else { st }),
            }
        }
    }
}

fn apply_queue(q: &VecDeque<String>, c: &OCall) -> Option<St> {
    let mut q = q.clone();
    if c.f == "enqueue" {
        q.push_back(text(&c.input));
        return Some(St::Queue(q));
    }
    if c.outcome != OpType::Ok {
        q.pop_front();
        return Some(St::Queue(q));
    }
    if c.output.is_null() {
        return q.is_empty().then_some(St::Queue(q));
    }
    (q.pop_front() == Some(text(&c.output))).then_some(St::Queue(q))
}

fn apply_bag(b: &[String], c: &OCall) -> Option<St> {
    let mut b = b.to_vec();
    if c.f == "enqueue" {
        b.push(text(&c.input));
        b.sort();
    } else {
        let at = b.iter().position(|x| *x == text(&c.output))?;
        b.remove(at);
    }
    Some(St::Bag(b))
}

/// Apply a call to a state: the new state or None if not allowed.
fn apply(st: &St, c: &OCall) -> Option<St> {
    match (st, c.f.as_str()) {
        (St::Reg(v), _) => apply_register(v, c),
        (St::Kv(s), "get") => {
            let want = c.output.as_str().unwrap_or("");
            (s == want).then(|| st.clone())
        }
        (St::Kv(_), "put") => Some(St::Kv(c.input.as_str().unwrap_or("").to_string())),
        (St::Kv(s), "append") => Some(St::Kv(format!("{s}{}", c.input.as_str().unwrap_or("")))),
        (St::Lock(held), "acquire") => (!held).then_some(St::Lock(true)),
        (St::Lock(held), "release") => held.then_some(St::Lock(false)),
        (St::Queue(q), _) => apply_queue(q, c),
        (St::Bag(b), _) => apply_bag(b, c),
        (St::Regs(regs), "txn") => apply_txn(regs, c).map(St::Regs),
        (St::Set(s), "add") => {
            let mut s = s.clone();
            s.insert(text(&c.input));
            Some(St::Set(s))
        }
        (St::Set(s), "read") => {
            let got: BTreeSet<String> = c
                .output
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default();
            (*s == got).then(|| st.clone())
        }
        other => panic!("oracle: unexpected {other:?}"),
    }
}

/// Brute force: is there an order of the participating calls (info ones optional) that
/// respects real time and the model, per-key states in one map?
fn oracle(model: ModelKind, calls: &[OCall], reading: FailedOps) -> bool {
    let calls: Vec<&OCall> = calls
        .iter()
        .filter(|c| participates(model, c, reading))
        .collect();
    let required: Vec<bool> = calls.iter().map(|c| c.outcome != OpType::Info).collect();
    fn go(
        model: ModelKind,
        calls: &[&OCall],
        required: &[bool],
        done: &mut Vec<bool>,
        states: &BTreeMap<String, St>,
    ) -> bool {
        if (0..calls.len()).all(|i| done[i] || !required[i]) {
            return true;
        }
        for i in 0..calls.len() {
            if done[i] {
                continue;
            }
            // Blocked if some pending required call completed before this one was invoked.
            let blocked = (0..calls.len()).any(|j| {
                !done[j] && required[j] && calls[j].complete.is_some_and(|cj| cj < calls[i].invoke)
            });
            if blocked {
                continue;
            }
            let k = text(&calls[i].key);
            let cur = states.get(&k).cloned().unwrap_or_else(|| init(model));
            if let Some(next) = apply(&cur, calls[i]) {
                let mut st = states.clone();
                st.insert(k, next);
                done[i] = true;
                let found = go(model, calls, required, done, &st);
                done[i] = false;
                if found {
                    return true;
                }
            }
        }
        false
    }
    go(
        model,
        &calls,
        &required,
        &mut vec![false; calls.len()],
        &BTreeMap::new(),
    )
}

/// A random transaction of one to three micro-ops over registers x and y.
fn random_txn(rng: &mut ChaCha8Rng) -> Value {
    let micro: Vec<Value> = (0..rng.gen_range(1..=3))
        .map(|_| {
            let k = ["x", "y"][rng.gen_range(0..2)];
            if rng.gen_bool(0.5) {
                json!(["read", k, null])
            } else {
                json!(["write", k, rng.gen_range(0..3)])
            }
        })
        .collect();
    Value::Array(micro)
}

/// A random op (f, input) for a model over small domains.
fn random_op(model: ModelKind, rng: &mut ChaCha8Rng) -> (&'static str, Value) {
    let v = |rng: &mut ChaCha8Rng| json!(rng.gen_range(0..3));
    let either = |rng: &mut ChaCha8Rng, a, b| if rng.gen_bool(0.5) { a } else { b };
    match model {
        ModelKind::Register => {
            let write = ("write", v(rng));
            either(rng, ("read", Value::Null), write)
        }
        ModelKind::CasRegister => match rng.gen_range(0..4) {
            0 => ("read", Value::Null),
            1 => ("write", v(rng)),
            _ => ("cas", json!([rng.gen_range(0..3), rng.gen_range(0..3)])),
        },
        ModelKind::Kv => match rng.gen_range(0..3) {
            0 => ("get", Value::Null),
            1 => ("put", json!(["a", "b"][rng.gen_range(0..2)])),
            _ => ("append", json!(["x", "y", "z"][rng.gen_range(0..3)])),
        },
        ModelKind::Mutex => either(rng, ("acquire", Value::Null), ("release", Value::Null)),
        ModelKind::FifoQueue | ModelKind::UnorderedQueue => {
            let enq = ("enqueue", json!(rng.gen_range(1..4)));
            either(rng, enq, ("dequeue", Value::Null))
        }
        ModelKind::Set => {
            if rng.gen_bool(0.6) {
                ("add", json!(rng.gen_range(0..3)))
            } else {
                ("read", Value::Null)
            }
        }
        ModelKind::MultiRegister => ("txn", random_txn(rng)),
    }
}

/// What a correct system returns for a txn applied now: the micro-ops with the values read
/// filled in (a read left nil now and then: not observed); applies the writes.
fn run_txn(regs: &mut BTreeMap<String, String>, input: &Value, rng: &mut ChaCha8Rng) -> Value {
    let mut out = Vec::new();
    for m in input.as_array().into_iter().flatten() {
        let k = text(&m[1]);
        if m[0] == "write" {
            regs.insert(k, text(&m[2]));
            out.push(m.clone());
        } else {
            let seen = regs
                .get(&k)
                .map_or(Value::Null, |v| serde_json::from_str(v).unwrap());
            let seen = if rng.gen_bool(0.1) { Value::Null } else { seen };
            out.push(json!(["read", m[1], seen]));
        }
    }
    Value::Array(out)
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

/// The outcome a correct system gives for a call applied now (at its completion), with the
/// error it records: a cas whose compare failed says `cas-mismatch` (or, now and then,
/// nothing, as Porcupine's logs); a cas whose compare would succeed sometimes fails without
/// being applied (a timeout the client knows was not applied). Unordered dequeues take any
/// pending element; a dequeue of an empty unordered queue fails.
fn correct_outcome(
    st: &mut St,
    f: &str,
    input: &Value,
    rng: &mut ChaCha8Rng,
) -> (OpType, Value, Option<Value>) {
    let (ty, out, error) = match (&*st, f) {
        (St::Reg(v), "read") => (OpType::Ok, parse(v), None),
        (St::Reg(v), "cas") if *v != text(&input[0]) => {
            let error = rng.gen_bool(0.7).then(|| json!("cas-mismatch"));
            (OpType::Fail, input.clone(), error)
        }
        (St::Reg(_), "cas") if rng.gen_bool(0.3) => {
            (OpType::Fail, input.clone(), Some(json!("timeout")))
        }
        (St::Kv(s), "get") => (OpType::Ok, json!(s), None),
        (St::Lock(held), "acquire") if *held => (OpType::Fail, Value::Null, None),
        (St::Lock(held), "release") if !*held => (OpType::Fail, Value::Null, None),
        (St::Queue(q), "dequeue") => (
            OpType::Ok,
            q.front().map_or(Value::Null, |s| parse(s)),
            None,
        ),
        (St::Bag(b), "dequeue") if b.is_empty() => (OpType::Fail, Value::Null, None),
        (St::Bag(b), "dequeue") => (OpType::Ok, parse(&b[rng.gen_range(0..b.len())]), None),
        (St::Set(s), "read") => (
            OpType::Ok,
            Value::Array(s.iter().map(|x| parse(x)).collect()),
            None,
        ),
        (St::Regs(regs), "txn") => {
            let mut regs = regs.clone();
            let out = run_txn(&mut regs, input, rng);
            *st = St::Regs(regs);
            return (OpType::Ok, out, None);
        }
        _ => (OpType::Ok, input.clone(), None),
    };
    if ty == OpType::Ok {
        let probe = OCall {
            key: Value::Null,
            f: f.into(),
            input: input.clone(),
            output: out.clone(),
            outcome: OpType::Ok,
            error: None,
            invoke: 0,
            complete: None,
        };
        if let Some(next) = apply(st, &probe) {
            *st = next;
        }
    }
    (ty, out, error)
}

/// A plausible wrong result: another value read, or a flipped cas/lock outcome.
fn corrupt(model: ModelKind, f: &str, ty: &mut OpType, out: &mut Value, rng: &mut ChaCha8Rng) {
    match f {
        "read" | "get" | "dequeue" => {
            *out = match model {
                ModelKind::Kv => json!(["", "a", "x", "ax", "by"][rng.gen_range(0..5)]),
                ModelKind::Set => json!([rng.gen_range(0..3)]),
                _ if rng.gen_bool(0.2) => Value::Null,
                _ => json!(rng.gen_range(0..4)),
            };
            if f == "dequeue" {
                *ty = OpType::Ok;
            }
        }
        "txn" => {
            if let Some(read) = out
                .as_array_mut()
                .and_then(|m| m.iter_mut().find(|m| m[0] == "read"))
            {
                read[2] = json!(rng.gen_range(0..3));
            }
        }
        "cas" | "acquire" | "release" => {
            *ty = if *ty == OpType::Ok {
                OpType::Fail
            } else {
                OpType::Ok
            }
        }
        _ => {}
    }
}

/// A random history: `procs` processes, up to `max_calls` calls over `keys` keys; effects
/// are applied at completion (so uncorrupted histories are linearizable under ignore);
/// some calls end `info` (taking effect or not), some results are corrupted.
fn random_history(
    model: ModelKind,
    rng: &mut ChaCha8Rng,
    procs: usize,
    max_calls: usize,
    keys: usize,
) -> History {
    let mut ops = Vec::new();
    let mut open: Vec<Option<(Value, &'static str, Value)>> = vec![None; procs];
    let mut next_pid: Vec<u64> = (0..procs as u64).collect();
    let mut states: BTreeMap<String, St> = BTreeMap::new();
    let n_calls = rng.gen_range(1..=max_calls);
    let mut issued = 0;
    while issued < n_calls || open.iter().any(Option::is_some) {
        let p = rng.gen_range(0..procs);
        let pid = Process::Client(next_pid[p]);
        let t = ops.len() as u64;
        match open[p].take() {
            None if issued < n_calls => {
                issued += 1;
                let key = json!(format!("k{}", rng.gen_range(0..keys)));
                let (f, input) = random_op(model, rng);
                ops.push(
                    Op::new(t, t as i64, OpType::Invoke, pid, f, input.clone())
                        .with_key(key.clone()),
                );
                open[p] = Some((key, f, input));
            }
            None => {}
            Some((key, f, input)) => {
                let st = states.entry(text(&key)).or_insert_with(|| init(model));
                let roll = rng.gen_range(0..10);
                if roll == 0 {
                    // info: the call may or may not have taken effect.
                    if rng.gen_bool(0.5) {
                        let _ = correct_outcome(st, f, &input, rng);
                    }
                    let mut op = Op::new(t, t as i64, OpType::Info, pid, f, input).with_key(key);
                    op.error = Some(json!("timeout"));
                    ops.push(op);
                    next_pid[p] += procs as u64; // Jepsen retires the process id
                } else {
                    let (mut ty, mut out, error) = correct_outcome(st, f, &input, rng);
                    if roll == 1 {
                        corrupt(model, f, &mut ty, &mut out, rng);
                    }
                    if ty == OpType::Fail && matches!(f, "read" | "get" | "dequeue" | "txn") {
                        out = if f == "txn" {
                            input.clone()
                        } else {
                            Value::Null
                        };
                    }
                    let mut op = Op::new(t, t as i64, ty, pid, f, out).with_key(key);
                    op.error = error;
                    ops.push(op);
                }
            }
        }
    }
    History::new(ops)
}

fn oracle_calls(h: &History) -> Vec<OCall> {
    h.pair()
        .expect("generated histories pair")
        .into_iter()
        .map(|c| {
            let inv = &h.ops[c.invoke];
            OCall {
                key: inv.key.clone().unwrap_or(Value::Null),
                f: c.f.clone(),
                input: inv.value.clone(),
                output: c.complete.map_or(Value::Null, |i| h.ops[i].value.clone()),
                outcome: c.outcome,
                error: c.complete.and_then(|i| h.ops[i].error.clone()),
                invoke: c.invoke,
                complete: if c.outcome == OpType::Info {
                    None
                } else {
                    c.complete
                },
            }
        })
        .collect()
}

/// A JSON value as EDN: strings quoted, arrays as vectors, objects as maps.
fn edn_value(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(edn_value).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{} {}", edn_value(&json!(k)), edn_value(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A txn's micro-ops with keyword functions and keys, as Jepsen writes them.
fn edn_txn(v: &Value) -> String {
    let micro: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let k = m[1].as_str().unwrap_or("?");
            format!(
                "[:{} :{k} {}]",
                m[0].as_str().unwrap_or("?"),
                edn_value(&m[2])
            )
        })
        .collect();
    format!("[{}]", micro.join(" "))
}

/// The history as Jepsen's EDN: a vector of op maps with keyword types, functions and
/// errors (`:error :cas-mismatch`), one per line.
fn to_edn(h: &History) -> String {
    let mut out = String::from("[");
    for op in &h.ops {
        let value = if op.f == "txn" {
            edn_txn(&op.value)
        } else {
            edn_value(&op.value)
        };
        let process = match op.process {
            Process::Client(p) => p.to_string(),
            Process::Nemesis => ":nemesis".into(),
        };
        out.push_str(&format!(
            "{{:index {}, :time {}, :type :{}, :process {process}, :f :{}, :key {}, :value {value}",
            op.index,
            op.time,
            op.op_type,
            op.f,
            edn_value(op.key.as_ref().unwrap_or(&Value::Null)),
        ));
        if let Some(Value::String(e)) = &op.error {
            out.push_str(&format!(", :error :{e}"));
        }
        out.push_str("}\n");
    }
    out.push(']');
    out
}

/// The history through each input path: as generated, as JSONL text, as EDN text.
fn inputs(h: &History) -> Vec<(&'static str, History)> {
    let mut jsonl = Vec::new();
    format::write_jsonl(h, &mut jsonl).unwrap();
    let jsonl = String::from_utf8(jsonl).unwrap();
    let read = |text: &str, want: Format| {
        let r = format::read_str(text, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(r.format, want);
        assert_eq!(r.default_failed_ops(), FailedOps::Ignore);
        r.history
    };
    vec![
        ("history", h.clone()),
        ("jsonl", read(&jsonl, Format::Jsonl)),
        ("edn", read(&to_edn(h), Format::Edn)),
    ]
}

fn run_model(model: ModelKind, seed: u64, cases: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts: BTreeMap<(FailedOps, bool), usize> = BTreeMap::new();
    let mut readings_differ = 0;
    for case in 0..cases {
        let procs = rng.gen_range(2..=4);
        let keys = if model == ModelKind::Kv && rng.gen_bool(0.3) {
            2
        } else {
            1
        };
        let h = random_history(model, &mut rng, procs, 8, keys);
        let calls = oracle_calls(&h);
        let wants = FailedOps::ALL.map(|r| oracle(model, &calls, r));
        readings_differ += usize::from(wants[0] != wants[1]);
        if wants[0] != wants[1] {
            assert!(
                checker::model::reading_matters(&h, model) > 0,
                "case {case}"
            );
        }
        for (input, hist) in inputs(&h) {
            for (reading, want) in FailedOps::ALL.into_iter().zip(wants) {
                *counts.entry((reading, want)).or_default() += 1;
                let opts = LinearOptions {
                    threads: 1 + case % 2,
                    all_keys: true,
                    failed_ops: reading,
                    ..LinearOptions::default()
                };
                let got = check(&hist, model, &opts).expect("check");
                let lines: Vec<String> = h
                    .ops
                    .iter()
                    .map(|o| serde_json::to_string(o).unwrap_or_default())
                    .collect();
                let expected = if want {
                    Validity::Valid
                } else {
                    Validity::Invalid
                };
                assert_eq!(
                    got.valid,
                    expected,
                    "model {model}, case {case}, input {input}, reading {reading}: oracle says {want}; history:\n{}",
                    lines.join("\n")
                );
                if !want {
                    // Every invalid key carries a counterexample with ops.
                    let bad = got
                        .keys
                        .iter()
                        .find(|k| k.valid == Validity::Invalid)
                        .expect("an invalid key");
                    let cx = bad.counterexample.as_ref().expect("counterexample");
                    assert!(!cx["ops"].as_array().expect("ops").is_empty());
                }
            }
        }
    }
    // The generator must exercise both verdicts under both readings, or this proves little.
    for reading in FailedOps::ALL {
        let valid = counts.get(&(reading, true)).copied().unwrap_or(0) / 3;
        let invalid = counts.get(&(reading, false)).copied().unwrap_or(0) / 3;
        assert!(
            valid > cases / 10 && invalid > cases / 10,
            "model {model}, {reading}: {valid} valid, {invalid} invalid"
        );
    }
    if model == ModelKind::CasRegister {
        assert!(
            readings_differ > cases / 60,
            "only {readings_differ} of {cases} cases where the reading matters"
        );
    }
}

#[test]
fn register_matches_oracle() {
    run_model(ModelKind::Register, 1, 1500);
}

#[test]
fn cas_register_matches_oracle() {
    run_model(ModelKind::CasRegister, 2, 1500);
}

#[test]
fn kv_matches_oracle() {
    run_model(ModelKind::Kv, 3, 1500);
}

#[test]
fn mutex_matches_oracle() {
    run_model(ModelKind::Mutex, 4, 1500);
}

#[test]
fn fifo_queue_matches_oracle() {
    run_model(ModelKind::FifoQueue, 5, 1500);
}

#[test]
fn set_matches_oracle() {
    run_model(ModelKind::Set, 6, 1500);
}

#[test]
fn multi_register_matches_oracle() {
    run_model(ModelKind::MultiRegister, 7, 1500);
}

#[test]
fn unordered_queue_matches_oracle() {
    run_model(ModelKind::UnorderedQueue, 8, 1500);
}
