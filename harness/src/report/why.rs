//! The part of the page right under the verdict that answers the reader's first
//! questions: for an invalid run, one short paragraph per invalid key (the operations
//! that cannot be ordered, with process, node, call, outcome and µs times, the illegal
//! step, the faults active at that moment in words, links to the full counterexample and
//! to its window on the timeline), and other checkers that failed; for a valid run, what
//! was exercised (operations, keys, faults by kind and how long); for every run with
//! per-key results, honest key counts (invalid, valid, not decided and why).

use super::escape::html;
use super::faults::{self, FaultInterval};
use super::load::{CallDetail, Counts, RunData};
use super::notation::{call_text, fmt_at_us, fmt_dur, function_order, key_text, nil_for_null};
use super::phases::Phase;
use checker::history::OpType;
use checker::Validity;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

/// Invalid keys explained in the summary (the rest are counted).
pub const WHY_KEYS: usize = 5;
/// Operations listed per invalid key.
pub const WHY_OPS: usize = 12;

/// Everything the summary needs.
pub struct WhyInput<'a> {
    pub valid: Validity,
    pub results: &'a Value,
    pub run: &'a RunData,
    pub faults: &'a [FaultInterval],
    pub phases: &'a [Phase],
    /// Invalid keys: (key text, counterexample JSON).
    pub cxs: &'a [(String, &'a Value)],
    pub details: &'a HashMap<usize, CallDetail>,
    /// Id of the timeline and the index of each counterexample's window in it.
    pub timeline_id: &'a str,
    pub cx_windows: &'a [Option<usize>],
    /// The history file, for the `--all-keys` hint.
    pub history_hint: &'a str,
}

fn verdict_of(v: Option<&Value>) -> Validity {
    v.and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok())
        .unwrap_or(Validity::Unknown)
}

/// The summary section (`<section id="why">`).
pub fn render(p: &WhyInput<'_>) -> String {
    let mut h = String::from("<section id=\"why\">");
    match p.valid {
        Validity::Invalid => {
            h.push_str("<h2>Why it is invalid</h2>");
            for (i, (key, cx)) in p.cxs.iter().enumerate().take(WHY_KEYS) {
                invalid_key(&mut h, p, i, key, cx);
            }
            if p.cxs.len() > WHY_KEYS {
                let _ = write!(
                    h,
                    "<p>{} more keys are not linearizable; their counterexamples are below.</p>",
                    p.cxs.len() - WHY_KEYS
                );
            }
            other_checkers(&mut h, p);
        }
        Validity::Valid => {
            h.push_str("<h2>What was tested</h2>");
            exercised(&mut h, p);
        }
        Validity::Unknown => {
            h.push_str("<h2>Why the verdict is unknown</h2>");
            unknown(&mut h, p);
            exercised(&mut h, p);
        }
    }
    key_counts(&mut h, p);
    h.push_str("</section>");
    h
}

struct Op<'a> {
    id: String,
    /// Why it cannot be the next step of the longest linearizable prefix, if it cannot.
    stuck: Option<String>,
    process: String,
    node: Option<&'a str>,
    call: String,
    outcome: String,
    invoke: Option<i64>,
    complete: Option<i64>,
}

fn cx_ops<'a>(p: &'a WhyInput<'_>, cx: &Value) -> Vec<Op<'a>> {
    let Some(ops) = cx.get("ops").and_then(Value::as_array) else {
        return Vec::new();
    };
    let stuck: HashMap<String, String> = cx
        .get("stuck")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| (key_text(s.get("op")), nil_for_null(&key_text(s.get("why")))))
                .collect()
        })
        .unwrap_or_default();
    ops.iter()
        .map(|o| {
            let outcome = o.get("outcome").and_then(Value::as_str).unwrap_or("");
            let otype = match outcome {
                "ok" => Some(OpType::Ok),
                "fail" => Some(OpType::Fail),
                "" => None,
                _ => Some(OpType::Info),
            };
            let node = o
                .get("invoke_index")
                .and_then(Value::as_u64)
                .and_then(|i| p.run.position_of(i))
                .and_then(|pos| p.details.get(&pos))
                .and_then(|d| d.node.as_deref());
            let id = key_text(o.get("id"));
            Op {
                stuck: stuck.get(&id).cloned(),
                id,
                process: key_text(o.get("process")),
                node,
                call: call_text(
                    o.get("f").and_then(Value::as_str).unwrap_or("?"),
                    o.get("input").unwrap_or(&Value::Null),
                    o.get("output"),
                    otype,
                    None,
                ),
                outcome: outcome.to_string(),
                invoke: o.get("invoke_time").and_then(Value::as_i64),
                complete: o.get("complete_time").and_then(Value::as_i64),
            }
        })
        .collect()
}

fn invalid_key(h: &mut String, p: &WhyInput<'_>, i: usize, key: &str, cx: &Value) {
    let mut ops = cx_ops(p, cx);
    ops.sort_by_key(|o| o.invoke.unwrap_or(i64::MAX));
    write_invalid_key_heading(h, key, ops.len());
    let untimed = p.run.untimed;
    write_why_ops_table(h, &ops, untimed);
    write_failing_steps(h, &ops);
    let a = ops.iter().filter_map(|o| o.invoke).min();
    let b = ops.iter().filter_map(|o| o.complete.or(o.invoke)).max();
    if let (Some(a), Some(b)) = (a, b) {
        h.push_str(&faults_then(p.faults, a, b, untimed));
    }
    write_counterexample_links(h, p, i);
    h.push_str("</p></div>");
}

/// "Key k is not linearizable: …", worded for one op or several.
fn write_invalid_key_heading(h: &mut String, key: &str, n_ops: usize) {
    let _ = write!(
        h,
        "<div class=\"why\"><p><b>Key <code>{}</code> is not linearizable:</b> {}</p>",
        html(key),
        if n_ops == 1 {
            "this operation's result cannot be explained by any order of the operations that completed before it.".to_string()
        } else {
            format!(
                "these {} operations cannot be put in any order that a single copy of the data would produce.",
                n_ops
            )
        }
    );
}

/// The ops shown in the summary: every op that cannot come next, then the others up to
/// WHY_OPS, the latest first (those just before the failing step explain it best), all
/// in time order.
fn ops_to_show<'o, 'a>(ops: &'o [Op<'a>]) -> Vec<&'o Op<'a>> {
    let room = WHY_OPS.saturating_sub(ops.iter().filter(|o| o.stuck.is_some()).count());
    let mut shown: Vec<&Op> = ops.iter().filter(|o| o.stuck.is_some()).collect();
    shown.extend(ops.iter().rev().filter(|o| o.stuck.is_none()).take(room));
    shown.sort_by_key(|o| o.invoke.unwrap_or(i64::MAX));
    shown
}

/// The table of the shown ops (stuck ones highlighted) and a note on how many are not.
fn write_why_ops_table(h: &mut String, ops: &[Op<'_>], untimed: bool) {
    let nodes = ops.iter().any(|o| o.node.is_some());
    let _ = write!(
        h,
        "<table class=\"why-ops\"><thead><tr><th>op</th><th>process</th>{}<th>call</th><th>outcome</th><th>invoked</th><th>completed</th></tr></thead><tbody>",
        if nodes { "<th>node</th>" } else { "" }
    );
    let when = |t: Option<i64>| match t {
        None => "never".to_string(),
        Some(t) if untimed => format!("event {t}"),
        Some(t) => fmt_at_us(t),
    };
    let shown = ops_to_show(ops);
    for o in &shown {
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>p{}</td>{}<td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            if o.stuck.is_some() { " class=\"bad\"" } else { "" },
            html(&o.id),
            html(&o.process),
            if nodes {
                format!("<td>{}</td>", html(o.node.unwrap_or("—")))
            } else {
                String::new()
            },
            html(&o.call),
            html(&o.outcome),
            when(o.invoke),
            when(o.complete)
        );
    }
    h.push_str("</tbody></table>");
    if ops.len() > shown.len() {
        let _ = write!(
            h,
            "<p class=\"note\">{} more in the full counterexample; the highlighted row is the operation that cannot come next.</p>",
            ops.len() - shown.len()
        );
    }
}

/// Why the next step fails: the one stuck op's reason, or a list of (up to 4) candidates.
fn write_failing_steps(h: &mut String, ops: &[Op<'_>]) {
    let whys: Vec<String> = ops
        .iter()
        .filter_map(|o| {
            let why = o.stuck.as_ref()?;
            Some(format!(
                "<code>{}</code> (op {}): {}",
                html(&o.call),
                html(&o.id),
                html(why)
            ))
        })
        .take(4)
        .collect();
    match whys.as_slice() {
        [] => {}
        [one] => {
            let _ = write!(h, "<p>The step that fails: {one}.</p>");
        }
        many => {
            let _ = write!(
                h,
                "<p>After the longest order that works, every candidate for the next step fails:</p><ul><li>{}</li></ul>",
                many.join("</li><li>")
            );
        }
    }
}

/// Links to the full counterexample `i` and, if it has a window, to it on the timeline
/// (the paragraph is left open).
fn write_counterexample_links(h: &mut String, p: &WhyInput<'_>, i: usize) {
    let _ = write!(h, "<p><a href=\"#cx{i}\">Full counterexample</a>");
    if let Some(Some(w)) = p.cx_windows.get(i) {
        let _ = write!(
            h,
            " · <a href=\"#timeline\" data-tl=\"{}\" data-tl-window=\"{w}\">these operations on the timeline</a>",
            html(p.timeline_id)
        );
    }
}

/// "Faults active then: ..." for the moment `[a, b]`.
fn faults_then(faults_iv: &[FaultInterval], a: i64, b: i64, untimed: bool) -> String {
    let at = |t: i64| {
        if untimed {
            format!("event {t}")
        } else {
            fmt_at_us(t)
        }
    };
    let active: Vec<&FaultInterval> = faults_iv.iter().filter(|f| f.overlaps(a, b)).collect();
    if active.is_empty() {
        let before = faults_iv
            .iter()
            .filter(|f| f.end_ns < a)
            .max_by_key(|f| f.end_ns);
        return match before {
            None if faults_iv.is_empty() => {
                "<p>The history records no fault (no nemesis events).</p>".to_string()
            }
            None => "<p>No fault was active then, nor before.</p>".to_string(),
            Some(f) => format!(
                "<p>No fault was active then; the last one before, {}, ended at {}{}.</p>",
                html(&f.words()),
                at(f.end_ns),
                if untimed {
                    String::new()
                } else {
                    format!(" ({} earlier)", fmt_dur(a - f.end_ns))
                }
            ),
        };
    }
    let items: Vec<String> = active
        .iter()
        .map(|f| {
            format!(
                "<li><i class=\"sw\" style=\"background:{}\"></i><b>{}</b> (from {}{})</li>",
                faults::css(&f.kind),
                html(&f.words()),
                at(f.start_ns),
                if f.open_ended {
                    String::new()
                } else {
                    format!(" to {}", at(f.end_ns))
                }
            )
        })
        .collect();
    format!(
        "<p>Faults active at that moment:</p><ul class=\"why-faults\">{}</ul>",
        items.join("")
    )
}

fn other_checkers(h: &mut String, p: &WhyInput<'_>) {
    let Some(cs) = p.results.get("checkers").and_then(Value::as_object) else {
        return;
    };
    for (name, c) in cs {
        if name == "linearizable" || verdict_of(c.get("valid")) != Validity::Invalid {
            continue;
        }
        let mut what = Vec::new();
        for k in ["lost", "stale", "unexpected", "error", "summary"] {
            if let Some(x) = c.get(k) {
                let shown = match x {
                    Value::Array(a) => format!("{} ({})", a.len(), truncate(&x.to_string())),
                    other => truncate(&key_text(Some(other))),
                };
                what.push(format!("{k}: {shown}"));
            }
        }
        let _ = write!(
            h,
            "<div class=\"why\"><p><b>Checker {}</b> found the history invalid{}{}.</p>",
            html(name),
            if what.is_empty() { "" } else { ": " },
            html(&what.join("; "))
        );
        if let Some((a, b)) = first_split_brain(c) {
            h.push_str(&faults_then(p.faults, a, b, p.run.untimed));
        }
        h.push_str("</div>");
    }
    if p.cxs.is_empty() && !another_checker_invalid(p.results) {
        h.push_str("<p class=\"note\">The verdict is invalid but results.json names no counterexample or failing checker.</p>");
    }
}

/// Whether a checker other than linearizability found the history invalid (its finding is
/// the explanation, so a missing linearizability counterexample is expected).
pub fn another_checker_invalid(results: &Value) -> bool {
    results
        .get("checkers")
        .and_then(Value::as_object)
        .is_some_and(|cs| {
            cs.iter().any(|(n, c)| {
                n != "linearizable" && verdict_of(c.get("valid")) == Validity::Invalid
            })
        })
}

/// The time span of the election checker's first split brain (both acts), in ns.
fn first_split_brain(c: &Value) -> Option<(i64, i64)> {
    let sb = c.get("split_brains")?.as_array()?.first()?;
    let acts = [sb.get("first")?, sb.get("second")?];
    let start = acts
        .iter()
        .filter_map(|a| a.get("start_ns")?.as_i64())
        .min()?;
    let end = acts
        .iter()
        .filter_map(|a| a.get("end_ns")?.as_i64())
        .max()?;
    Some((start, end))
}

fn truncate(s: &str) -> String {
    super::load::truncate_to(s, 160)
}

fn unknown(h: &mut String, p: &WhyInput<'_>) {
    let mut reasons: Vec<String> = Vec::new();
    if let Some(cs) = p.results.get("checkers").and_then(Value::as_object) {
        for (name, c) in cs {
            if verdict_of(c.get("valid")) != Validity::Unknown {
                continue;
            }
            let why = c
                .get("unknown_reason")
                .or_else(|| c.get("error"))
                .map(|v| key_text(Some(v)))
                .unwrap_or_else(|| match name.as_str() {
                    "stats" => "no operation completed ok".into(),
                    "linearizable" => "some keys could not be decided (see the key counts)".into(),
                    _ => "undecided".into(),
                });
            reasons.push(format!("<b>{}</b>: {}", html(name), html(&why)));
        }
    }
    if reasons.is_empty() {
        reasons.push("results.json gives no reason".into());
    }
    let _ = write!(h, "<p>{}.</p>", reasons.join("; "));
}

fn exercised(h: &mut String, p: &WhyInput<'_>) {
    let run = p.run;
    let mut all = Counts::default();
    let mut by_f = Vec::new();
    for i in function_order(&run.fs) {
        all.add(&run.counts[i]);
        by_f.push(format!("{} {}", run.counts[i].total(), html(&run.fs[i])));
    }
    let span = if run.untimed {
        format!("{} history events (no real times)", run.events)
    } else {
        let main = p.phases.iter().find(|ph| ph.name == "main");
        format!(
            "{}{}",
            fmt_dur(run.span_ns()),
            main.map(|m| format!(" (main phase {})", fmt_dur(m.end_ns - m.start_ns)))
                .unwrap_or_default()
        )
    };
    let _ = write!(
        h,
        "<p><b>{}</b> client operations ({}): {} ok, {} failed (did not happen), {} unknown outcome; over {}.</p>",
        all.total(),
        by_f.join(", "),
        all.ok,
        all.fail,
        all.info,
        span
    );
    let totals = faults::totals(p.faults);
    if totals.is_empty() {
        h.push_str("<p><b>No faults</b> were injected.</p>");
        return;
    }
    h.push_str("<p>Faults, by kind:</p><ul class=\"why-faults\">");
    for (kind, n, ns) in totals {
        let ivs: Vec<&FaultInterval> = p.faults.iter().filter(|f| f.kind == kind).collect();
        let longest = ivs.iter().map(|f| f.end_ns - f.start_ns).max().unwrap_or(0);
        // Distinct examples only: the same cut twice says nothing new.
        let mut examples: Vec<String> = Vec::new();
        for what in ivs.iter().flat_map(|f| f.what.iter()) {
            if examples.len() < 3 && !examples.contains(what) {
                examples.push(what.clone());
            }
        }
        let _ = write!(
            h,
            "<li><i class=\"sw\" style=\"background:{}\"></i><b>{}</b>: {n}×{}, e.g. {}</li>",
            faults::css(&kind),
            html(&kind),
            if p.run.untimed {
                String::new()
            } else {
                format!(", {} in all, longest {}", fmt_dur(ns), fmt_dur(longest))
            },
            html(&examples.join("; "))
        );
    }
    h.push_str("</ul>");
}

fn key_counts(h: &mut String, p: &WhyInput<'_>) {
    let Some(keys) = p
        .results
        .pointer("/checkers/linearizable/keys")
        .and_then(Value::as_array)
    else {
        return;
    };
    let (mut invalid, mut valid) = (0usize, 0usize);
    let mut undecided: Vec<(String, usize)> = Vec::new();
    for k in keys {
        match verdict_of(k.get("valid")) {
            Validity::Invalid => invalid += 1,
            Validity::Valid => valid += 1,
            Validity::Unknown => {
                let why = k
                    .get("unknown_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("undecided");
                let why = why.split(':').next().unwrap_or(why).trim().to_string();
                match undecided.iter_mut().find(|(w, _)| *w == why) {
                    Some((_, n)) => *n += 1,
                    None => undecided.push((why, 1)),
                }
            }
        }
    }
    let n_undecided: usize = undecided.iter().map(|(_, n)| n).sum();
    let _ = write!(
        h,
        "<p class=\"keycounts\"><b>Keys:</b> {} checked: <span class=\"kc-invalid\">{invalid} invalid</span>, <span class=\"kc-valid\">{valid} valid</span>, <span class=\"kc-undecided\">{n_undecided} not decided</span>",
        keys.len()
    );
    if !undecided.is_empty() {
        let parts: Vec<String> = undecided
            .iter()
            .map(|(why, n)| match why.as_str() {
                "cancelled" => format!("{n} cancelled after the first invalid key was found"),
                "timeout" => format!("{n} ran out of time"),
                "memory budget" => format!("{n} ran out of memory budget"),
                other => format!("{n} {}", html(other)),
            })
            .collect();
        let _ = write!(h, " ({})", parts.join(", "));
    }
    h.push('.');
    if undecided.iter().any(|(w, _)| w == "cancelled") {
        let _ = write!(
            h,
            " To decide every key: <code>harness check --all-keys {}</code>.",
            html(p.history_hint)
        );
    }
    h.push_str(" <a href=\"#keys\">Every key</a>.</p>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_election_split_brain_explains_the_verdict_and_gives_its_time_span() {
        let election = json!({"valid": false, "split_brains": [{
            "first": {"start_ns": 5_670_095_499_i64, "end_ns": 5_670_721_748_i64},
            "second": {"start_ns": 5_670_210_539_i64, "end_ns": 5_670_706_205_i64}
        }]});
        let results = json!({"checkers": {"election": election, "stats": {"valid": true}}});
        assert!(another_checker_invalid(&results));
        assert_eq!(
            first_split_brain(&election),
            Some((5_670_095_499, 5_670_721_748))
        );
        let only_linear = json!({"checkers": {"linearizable": {"valid": false}}});
        assert!(!another_checker_invalid(&only_linear));
        assert_eq!(first_split_brain(&json!({"valid": false})), None);
    }
}
