//! Counterexamples for a non-linearizable key: a small witness sub-history (shrunk by
//! [`super::shrink`], labelled `minimal` or `reduced`), the longest linearizable prefix of
//! it, the model states reachable after that prefix, and the ops that could not be
//! linearized next with the reason. Serialized as the JSON of the shared contract;
//! [`render_counterexample_text`] prints it for people.

use super::search::{Search, Status};
use super::shrink::{self, Label};
use crate::history::{Call, History};
use crate::model::{self, Partition, Spec};
use serde_json::{json, Value};
use std::time::Instant;

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

/// Where the verdict search got stuck, and the limits of the shrinking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// [`super::search::Search::horizon`] of the verdict search.
    pub horizon: u64,
    pub deadline: Instant,
    /// Memory allowance of each re-check, in bytes.
    pub mem: usize,
}

fn build_with<S: Spec>(
    history: &History,
    calls: &[Call],
    tuples: bool,
    part_ops: &[model::PartOp],
    spec: &mut S,
    limits: Limits,
) -> Value {
    let Limits {
        horizon,
        deadline,
        mem,
    } = limits;
    let shrunk = shrink::shrink(part_ops, spec, horizon, deadline, mem);
    let subset = shrunk.subset.clone();
    let part_ops = &shrunk.ops[..];
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
    while s.run(spec, 1 << 15, mem) == Status::Paused
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
        "minimal": shrunk.label == Label::Minimal,
        "label": shrunk.label.as_str(),
        "shrink": {
            "finished": shrunk.finished,
            "checks": shrunk.checks,
            "needed_for_explanation": shrunk
                .needed_for_explanation
                .iter()
                .map(|&o| part_ops[o as usize].call)
                .collect::<Vec<_>>(),
        },
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
    limits: Limits,
) -> Value {
    let ops = &part.ops;
    crate::with_spec!(&mut part.spec, s => build_with(history, calls, tuples, ops, s, limits))
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
    let finished = cx
        .pointer("/shrink/finished")
        .and_then(Value::as_bool)
        .unwrap_or(minimal);
    let needed = cx
        .pointer("/shrink/needed_for_explanation")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let original = cx
        .get("original_ops")
        .and_then(Value::as_u64)
        .unwrap_or(ops.len() as u64);
    out.push_str(&format!(
        "{} of {} operations{}:\n",
        ops.len(),
        original,
        match (minimal, finished) {
            (true, _) => " (minimal: removing any one of them makes the rest linearizable)".to_string(),
            (false, true) => format!(
                " (reduced: not linearizable; {needed} of them could go only together with what a kept op observed)"
            ),
            (false, false) => " (reduced: not linearizable; shrinking stopped at its time budget)".to_string(),
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
