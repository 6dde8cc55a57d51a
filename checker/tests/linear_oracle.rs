//! Property test of the linearizability checker against a brute-force oracle written here
//! independently (its own model semantics over JSON values, every order of the operations
//! that respects real-time order, info operations optional, failed cas kept as "the value
//! differed"), on many random small histories of every model, with ok, fail and info ops.

use checker::history::{History, Op, OpType, Process};
use checker::linear::{check, LinearOptions};
use checker::model::ModelKind;
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
    }
}

/// Does this call take part at all? (fail = did not happen, except a failed cas; reads of
/// unknown outcome constrain nothing).
fn participates(c: &OCall) -> bool {
    match c.outcome {
        OpType::Fail => c.f == "cas",
        OpType::Info => !matches!(c.f.as_str(), "read" | "get"),
        _ => true,
    }
}

/// Apply a call to a state: the new state or None if not allowed.
fn apply(st: &St, c: &OCall) -> Option<St> {
    let ok = c.outcome == OpType::Ok;
    let fail = c.outcome == OpType::Fail;
    match (st, c.f.as_str()) {
        (St::Reg(v), "read") => (*v == text(&c.output)).then(|| st.clone()),
        (St::Reg(_), "write") => Some(St::Reg(text(&c.input))),
        (St::Reg(v), "cas") => {
            let (a, b) = (text(&c.input[0]), text(&c.input[1]));
            if fail {
                (*v != a).then(|| st.clone())
            } else if ok {
                (*v == a).then_some(St::Reg(b))
            } else {
                Some(if *v == a { St::Reg(b) } else { st.clone() })
            }
        }
        (St::Kv(s), "get") => {
            let want = c.output.as_str().unwrap_or("");
            (s == want).then(|| st.clone())
        }
        (St::Kv(_), "put") => Some(St::Kv(c.input.as_str().unwrap_or("").to_string())),
        (St::Kv(s), "append") => Some(St::Kv(format!("{s}{}", c.input.as_str().unwrap_or("")))),
        (St::Lock(held), "acquire") => (!held).then_some(St::Lock(true)),
        (St::Lock(held), "release") => held.then_some(St::Lock(false)),
        (St::Queue(q), "enqueue") => {
            let mut q = q.clone();
            q.push_back(text(&c.input));
            Some(St::Queue(q))
        }
        (St::Queue(q), "dequeue") => {
            let mut q = q.clone();
            if !ok {
                q.pop_front();
                return Some(St::Queue(q));
            }
            if c.output.is_null() {
                return q.is_empty().then_some(St::Queue(q));
            }
            (q.pop_front() == Some(text(&c.output))).then_some(St::Queue(q))
        }
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
fn oracle(model: ModelKind, calls: &[OCall]) -> bool {
    let calls: Vec<&OCall> = calls.iter().filter(|c| participates(c)).collect();
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

/// A random op (f, input) for a model over small domains.
fn random_op(model: ModelKind, rng: &mut ChaCha8Rng) -> (&'static str, Value) {
    let v = |rng: &mut ChaCha8Rng| json!(rng.gen_range(0..3));
    match model {
        ModelKind::Register => {
            if rng.gen_bool(0.5) {
                ("read", Value::Null)
            } else {
                ("write", v(rng))
            }
        }
        ModelKind::CasRegister => match rng.gen_range(0..3) {
            0 => ("read", Value::Null),
            1 => ("write", v(rng)),
            _ => ("cas", json!([rng.gen_range(0..3), rng.gen_range(0..3)])),
        },
        ModelKind::Kv => match rng.gen_range(0..3) {
            0 => ("get", Value::Null),
            1 => ("put", json!(["a", "b"][rng.gen_range(0..2)])),
            _ => ("append", json!(["x", "y", "z"][rng.gen_range(0..3)])),
        },
        ModelKind::Mutex => {
            if rng.gen_bool(0.5) {
                ("acquire", Value::Null)
            } else {
                ("release", Value::Null)
            }
        }
        ModelKind::FifoQueue => {
            if rng.gen_bool(0.5) {
                ("enqueue", json!(rng.gen_range(1..4)))
            } else {
                ("dequeue", Value::Null)
            }
        }
        ModelKind::Set => {
            if rng.gen_bool(0.6) {
                ("add", json!(rng.gen_range(0..3)))
            } else {
                ("read", Value::Null)
            }
        }
    }
}

/// The result a correct system would give for a call applied now (linearized at its
/// completion), or a plausible wrong one when `corrupt`. Returns (outcome, output).
fn outcome_for(
    model: ModelKind,
    st: &mut St,
    f: &str,
    input: &Value,
    corrupt: bool,
    rng: &mut ChaCha8Rng,
) -> (OpType, Value) {
    let probe = OCall {
        key: Value::Null,
        f: f.into(),
        input: input.clone(),
        output: Value::Null,
        outcome: OpType::Ok,
        invoke: 0,
        complete: None,
    };
    let (mut ty, mut out) = match (&*st, f) {
        (St::Reg(v), "read") => (OpType::Ok, serde_json::from_str(v).unwrap_or(Value::Null)),
        (St::Reg(v), "cas") if *v != text(&input[0]) => (OpType::Fail, input.clone()),
        (St::Kv(s), "get") => (OpType::Ok, json!(s)),
        (St::Lock(held), "acquire") if *held => (OpType::Fail, Value::Null),
        (St::Lock(held), "release") if !*held => (OpType::Fail, Value::Null),
        (St::Queue(q), "dequeue") => (
            OpType::Ok,
            q.front().map_or(Value::Null, |s| {
                serde_json::from_str(s).unwrap_or(Value::Null)
            }),
        ),
        (St::Set(s), "read") => (
            OpType::Ok,
            Value::Array(
                s.iter()
                    .map(|x| serde_json::from_str(x).unwrap_or(Value::Null))
                    .collect(),
            ),
        ),
        _ => (OpType::Ok, input.clone()),
    };
    if ty == OpType::Ok {
        if let Some(next) = apply(
            st,
            &OCall {
                output: out.clone(),
                ..probe
            },
        ) {
            *st = next;
        }
    }
    if corrupt {
        match f {
            "read" | "get" | "dequeue" => {
                out = match model {
                    ModelKind::Kv => json!(["", "a", "x", "ax", "by"][rng.gen_range(0..5)]),
                    ModelKind::Set => json!([rng.gen_range(0..3)]),
                    _ => {
                        if rng.gen_bool(0.2) {
                            Value::Null
                        } else {
                            json!(rng.gen_range(0..4))
                        }
                    }
                }
            }
            "cas" | "acquire" | "release" => {
                ty = if ty == OpType::Ok {
                    OpType::Fail
                } else {
                    OpType::Ok
                }
            }
            _ => {}
        }
    }
    (ty, out)
}

/// A random history: `procs` processes, up to `max_calls` calls over `keys` keys; effects
/// are applied at completion (so uncorrupted histories are linearizable); some calls end
/// `info` (taking effect or not), some results are corrupted.
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
                        let _ = outcome_for(model, st, f, &input, false, rng);
                    }
                    ops.push(Op::new(t, t as i64, OpType::Info, pid, f, input).with_key(key));
                    next_pid[p] += procs as u64; // Jepsen retires the process id
                } else {
                    let (ty, out) = outcome_for(model, st, f, &input, roll == 1, rng);
                    let out = if ty == OpType::Fail && matches!(f, "read" | "get") {
                        Value::Null
                    } else {
                        out
                    };
                    ops.push(Op::new(t, t as i64, ty, pid, f, out).with_key(key));
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

fn run_model(model: ModelKind, seed: u64, cases: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..cases {
        let procs = rng.gen_range(2..=4);
        let keys = if model == ModelKind::Kv && rng.gen_bool(0.3) {
            2
        } else {
            1
        };
        let h = random_history(model, &mut rng, procs, 8, keys);
        let want = oracle(model, &oracle_calls(&h));
        let opts = LinearOptions {
            threads: 1 + case % 2,
            all_keys: true,
            ..LinearOptions::default()
        };
        let got = check(&h, model, &opts).expect("check");
        let lines: Vec<String> = h
            .ops
            .iter()
            .map(|o| serde_json::to_string(o).unwrap_or_default())
            .collect();
        assert_eq!(
            got.valid,
            if want {
                Validity::Valid
            } else {
                Validity::Invalid
            },
            "model {model}, case {case}: oracle says {want}; history:\n{}",
            lines.join("\n")
        );
        if want {
            valid += 1;
        } else {
            invalid += 1;
            // Every invalid key carries a counterexample whose ops are themselves invalid.
            let bad = got
                .keys
                .iter()
                .find(|k| k.valid == Validity::Invalid)
                .expect("an invalid key");
            let cx = bad.counterexample.as_ref().expect("counterexample");
            assert!(!cx["ops"].as_array().expect("ops").is_empty());
        }
    }
    // The generator must exercise both verdicts, or this test proves little.
    assert!(
        valid > cases / 10 && invalid > cases / 10,
        "model {model}: {valid} valid, {invalid} invalid"
    );
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
