//! Counterexamples for a non-linearizable key: a small witness sub-history (the shortest
//! non-linearizable prefix, then read-only ops dropped ddmin-style while what remains is
//! still not linearizable, within a time budget; see [`minimize`] for why only these), the longest linearizable prefix of it, the model states reachable after
//! that prefix, and the ops that could not be linearized next with the reason. Serialized as
//! the JSON of the shared contract; [`render_counterexample_text`] prints it for people.

use super::search::{Search, Status};
use crate::history::{Call, History};
use crate::model::{self, Partition, Spec};
use serde_json::{json, Value};
use std::time::Instant;

/// Steps per slice when re-checking a candidate sub-history (deadline checked in between).
const SLICE: u64 = 1 << 15;

/// `Some(true)` if the ops `subset` are not linearizable, `Some(false)` if they are,
/// `None` if the deadline or memory ran out first.
fn invalid<S: Spec>(
    part_ops: &[model::PartOp],
    spec: &mut S,
    subset: &[u32],
    deadline: Instant,
    mem: usize,
) -> Option<bool> {
    let mut s = Search::new(part_ops, Some(subset), spec);
    loop {
        match s.run(spec, SLICE, mem) {
            Status::NotLinearizable => return Some(true),
            Status::Linearizable => return Some(false),
            Status::OutOfMemory => return None,
            Status::Paused => {
                if Instant::now() >= deadline {
                    return None;
                }
            }
        }
    }
}

/// The ops invoked by history position `t`, with those still running at `t` turned into
/// open (info-like) ops: the prefix of the history up to `t`.
fn prefix_ops(part_ops: &[model::PartOp], t: usize) -> (Vec<model::PartOp>, Vec<u32>) {
    let mut ops = part_ops.to_vec();
    let mut subset = Vec::new();
    for (i, op) in ops.iter_mut().enumerate() {
        if op.invoke > t {
            continue;
        }
        if op.complete.is_none_or(|c| c > t) {
            op.required = false;
            op.complete = None;
        }
        subset.push(i as u32);
    }
    (ops, subset)
}

/// Shrink a non-linearizable partition to a smaller witness, using only reductions that
/// cannot create a violation the full history does not have (so the witness proves the
/// key is not linearizable):
/// 1. the shortest non-linearizable prefix of the history (binary search over completion
///    times; ops still running at the cut stay open, as if they timed out);
/// 2. then drop read-only ops (reads, failed cas), in chunks then one by one, while the
///    rest stays non-linearizable: removing a read never breaks a linearization.
///
/// (Dropping writes is not sound: a read of a dropped write alone is "not linearizable".)
/// Returns the ops table to use (with the cut applied), the kept ops, and whether both
/// steps finished (the witness is 1-minimal for read removal).
fn minimize<S: Spec>(
    part_ops: &[model::PartOp],
    spec: &mut S,
    deadline: Instant,
    mem: usize,
) -> (Vec<model::PartOp>, Vec<u32>, bool) {
    let mut cuts: Vec<usize> = part_ops
        .iter()
        .filter(|o| o.required)
        .filter_map(|o| o.complete)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut finished = true;
    let (mut lo, mut hi) = (0usize, cuts.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (ops, subset) = prefix_ops(part_ops, cuts[mid]);
        match invalid(&ops, spec, &subset, deadline, mem) {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => {
                finished = false;
                break;
            }
        }
    }
    let (ops, mut subset) = match cuts.get(hi) {
        Some(&t) => prefix_ops(part_ops, t),
        None => (part_ops.to_vec(), (0..part_ops.len() as u32).collect()),
    };
    if !finished {
        return (ops, subset, false);
    }
    let mut chunk = (subset.len() / 2).max(1);
    loop {
        let mut removed = false;
        let mut i = 0;
        while i < subset.len() {
            if Instant::now() >= deadline {
                return (ops, subset, false);
            }
            let end = (i + chunk).min(subset.len());
            if !subset[i..end].iter().all(|&o| spec.read_only(o)) {
                i += chunk;
                continue;
            }
            let candidate: Vec<u32> = subset[..i].iter().chain(&subset[end..]).copied().collect();
            if invalid(&ops, spec, &candidate, deadline, mem) == Some(true) {
                subset = candidate;
                removed = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 {
            if !removed {
                return (ops, subset, true);
            }
        } else {
            chunk = (chunk / 2).max(1);
        }
    }
}

fn op_json(history: &History, calls: &[Call], tuples: bool, id: usize) -> Value {
    let call = &calls[id];
    let (_, input, output) = model::call_parts(history, call, tuples);
    let inv = &history.ops[call.invoke];
    let comp = call.complete.map(|c| &history.ops[c]);
    json!({
        "id": id,
        "process": call.process,
        "f": call.f,
        "input": input,
        "output": if comp.is_some() { output.clone() } else { Value::Null },
        "outcome": call.outcome.as_str(),
        "invoke_index": inv.index,
        "complete_index": comp.map(|c| c.index),
        "invoke_time": inv.time,
        "complete_time": comp.map(|c| c.time),
        "invoke_line": inv.line,
        "complete_line": comp.and_then(|c| c.line),
    })
}

fn build_with<S: Spec>(
    history: &History,
    calls: &[Call],
    tuples: bool,
    part_ops: &[model::PartOp],
    spec: &mut S,
    deadline: Instant,
    mem: usize,
) -> Value {
    let (cut_ops, subset, minimal) = minimize(part_ops, spec, deadline, mem);
    let part_ops = &cut_ops[..];
    // Re-run the search on the kept ops to find its longest prefix and states.
    let mut s = Search::new(part_ops, Some(&subset), spec);
    // Bounded: a sub-history that did not shrink can be as hard as the key itself; the
    // longest prefix found so far is still shown if the re-run is cut short.
    // Within the budget it may use up to 2 s more; past it (many invalid keys), a few slices.
    let now = Instant::now();
    let (rerun_until, max_slices) = if now < deadline {
        (deadline + std::time::Duration::from_secs(2), u64::MAX)
    } else {
        (now + std::time::Duration::from_millis(200), 4)
    };
    let mut slices = 0;
    while s.run(spec, SLICE, mem) == Status::Paused
        && Instant::now() < rerun_until
        && slices < max_slices
    {
        slices += 1;
    }
    let prefix = s.longest_prefix();
    let states: Vec<u32> = s.best_states().to_vec();
    // Replay the prefix to a state, then find which ops could come next and why not.
    let mut state = spec.init();
    for &o in &prefix {
        state = spec.step(state, o).unwrap_or(state);
    }
    let done: std::collections::HashSet<u32> = prefix.iter().copied().collect();
    let pending: Vec<u32> = subset
        .iter()
        .copied()
        .filter(|o| !done.contains(o))
        .collect();
    let horizon = pending
        .iter()
        .filter(|&&o| part_ops[o as usize].required)
        .filter_map(|&o| part_ops[o as usize].complete)
        .min()
        .unwrap_or(usize::MAX);
    let mut stuck = Vec::new();
    for &o in &pending {
        let p = &part_ops[o as usize];
        if p.invoke < horizon {
            stuck.push(json!({"op": p.call, "why": spec.explain(state, o)}));
        }
    }
    let mut ids: Vec<usize> = subset.iter().map(|&o| part_ops[o as usize].call).collect();
    ids.sort_unstable_by_key(|&c| calls[c].invoke);
    json!({
        "ops": ids.iter().map(|&c| op_json(history, calls, tuples, c)).collect::<Vec<_>>(),
        "minimal": minimal,
        "longest_prefix": prefix.iter().map(|&o| part_ops[o as usize].call).collect::<Vec<_>>(),
        "states": states.iter().map(|&st| spec.render_state(st)).collect::<Vec<_>>(),
        "stuck": stuck,
        "original_ops": part_ops.len(),
    })
}

/// The counterexample JSON of a partition already found not linearizable.
pub(crate) fn build(
    history: &History,
    calls: &[Call],
    tuples: bool,
    part: &mut Partition,
    deadline: Instant,
    mem: usize,
) -> Value {
    let ops = &part.ops;
    crate::with_spec!(&mut part.spec, s => build_with(history, calls, tuples, ops, s, deadline, mem))
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "nil".to_string(),
        other => other.to_string(),
    }
}

/// A few readable lines per op of a counterexample (as built by the checker), then the
/// longest linearizable prefix, the states after it and why each next op is stuck.
pub fn render_counterexample_text(cx: &Value) -> String {
    let mut out = String::new();
    let ops = cx
        .get("ops")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let minimal = cx.get("minimal").and_then(Value::as_bool).unwrap_or(false);
    let original = cx
        .get("original_ops")
        .and_then(Value::as_u64)
        .unwrap_or(ops.len() as u64);
    out.push_str(&format!(
        "{} of {} operations{}:\n",
        ops.len(),
        original,
        if minimal {
            " (a minimal non-linearizable sub-history)"
        } else {
            " (not linearizable; shrinking stopped early)"
        }
    ));
    for op in &ops {
        let g = |k: &str| op.get(k).cloned().unwrap_or(Value::Null);
        let output = if g("outcome") == json!("ok") {
            show(&g("output"))
        } else {
            g("outcome").as_str().unwrap_or("?").to_string()
        };
        let lines = match (g("invoke_line").as_u64(), g("complete_line").as_u64()) {
            (Some(a), Some(b)) => format!(" lines {a}-{b}"),
            (Some(a), None) => format!(" line {a}"),
            _ => String::new(),
        };
        let complete = match g("complete_time").as_i64() {
            Some(t) => t.to_string(),
            None => "∞".to_string(),
        };
        out.push_str(&format!(
            "  op {:>5}  process {:<4} {} {} -> {}  [{}..{}]{}\n",
            show(&g("id")),
            show(&g("process")),
            g("f").as_str().unwrap_or("?"),
            show(&g("input")),
            output,
            g("invoke_time"),
            complete,
            lines
        ));
    }
    let prefix: Vec<String> = cx
        .get("longest_prefix")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(show).collect())
        .unwrap_or_default();
    out.push_str(&format!(
        "longest linearizable prefix: [{}]\n",
        prefix.join(" ")
    ));
    let states: Vec<String> = cx
        .get("states")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&format!("states after it: {}\n", states.join(", ")));
    for s in cx
        .get("stuck")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    {
        out.push_str(&format!(
            "  cannot linearize op {} next: {}\n",
            show(s.get("op").unwrap_or(&Value::Null)),
            s.get("why").and_then(Value::as_str).unwrap_or("?")
        ));
    }
    out
}
