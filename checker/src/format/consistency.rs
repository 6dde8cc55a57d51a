//! Histories that contradict themselves, found right after reading (every format): a
//! completion whose `f` or key differs from its invocation's, an `ok` whose argument differs
//! from what was invoked, and times that go backwards. What Jepsen's own histories do
//! legitimately is a warning (or accepted), the rest is an error naming the line; the table
//! is in `checker/README.md`. Indices are checked by the JSONL and EDN readers, which see
//! the original numbers.

use super::{Format, FormatError, FormatErrorKind};
use crate::history::{History, Op, OpType, Process};
use serde_json::Value;

/// Functions whose value is an argument that the completion repeats (an `ok` carrying a
/// different one contradicts its invocation). Reads, `get`, `dequeue` and unknown functions
/// carry results instead; `txn` is checked micro-op by micro-op.
const ARGUMENT_FUNCTIONS: [&str; 6] = ["write", "cas", "put", "append", "enqueue", "add"];

fn contradiction(format: Format, line: Option<u64>, message: String) -> FormatError {
    FormatError {
        kind: FormatErrorKind::Contradiction,
        file: None,
        line,
        column: None,
        format: Some(format),
        message,
    }
}

fn at(op: &Op) -> String {
    op.line
        .map_or_else(|| format!("event {}", op.index), |l| format!("line {l}"))
}

/// Check a freshly read history; returns warnings, or the first contradiction as an error.
pub(super) fn check(history: &History, format: Format) -> Result<Vec<String>, FormatError> {
    let mut warnings = Vec::new();
    let mut open: ahash::AHashMap<u64, &Op> = ahash::AHashMap::new();
    let mut changed_on_completion: Vec<String> = Vec::new();
    for op in &history.ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.op_type == OpType::Invoke {
            open.insert(p, op);
            continue;
        }
        // An orphan completion is the pairing's error, reported by the check.
        let Some(inv) = open.remove(&p) else { continue };
        completion_agrees(inv, op, format)?;
        if op.op_type != OpType::Ok && value_differs(inv, op) && is_argument_function(&op.f) {
            changed_on_completion.push(at(op));
        }
    }
    if let Some(first) = changed_on_completion.first() {
        warnings.push(format!(
            "{} fail/info completions carry a value other than their invocation's argument \
             (first at {first}); the invocation's argument is what is checked",
            changed_on_completion.len()
        ));
    }
    warnings.extend(times_going_backwards(history));
    Ok(warnings)
}

fn is_argument_function(f: &str) -> bool {
    ARGUMENT_FUNCTIONS.contains(&f)
}

/// A completion's value that is present (not nil) and not the invocation's.
fn value_differs(inv: &Op, done: &Op) -> bool {
    !done.value.is_null() && done.value != inv.value
}

/// The completion `done` of invocation `inv`: same function, same key, and for `ok` the
/// same argument (or, for `txn`, the same micro-ops with read values filled in).
fn completion_agrees(inv: &Op, done: &Op, format: Format) -> Result<(), FormatError> {
    let here = at(done);
    if done.f != inv.f {
        return Err(contradiction(
            format,
            done.line,
            format!(
                "{here}: process {} completes `{}` but invoked `{}` at {}; a completion names its invocation's function",
                done.process, done.f, inv.f, at(inv)
            ),
        ));
    }
    let key = |o: &Op| o.key.clone().filter(|k| !k.is_null());
    if let (Some(a), Some(b)) = (key(inv), key(done)) {
        if a != b {
            return Err(contradiction(
                format,
                done.line,
                format!(
                    "{here}: the completion is for key {b} but its invocation at {} is for key {a}",
                    at(inv)
                ),
            ));
        }
    }
    if done.op_type != OpType::Ok || !value_differs(inv, done) {
        return Ok(());
    }
    let agrees = if done.f == "txn" {
        txn_agrees(&inv.value, &done.value)
    } else {
        !is_argument_function(&done.f)
    };
    if agrees {
        return Ok(());
    }
    Err(contradiction(
        format,
        done.line,
        format!(
            "{here}: the ok of `{}` carries {} but its invocation at {} had {}; an ok repeats its invocation's argument{}",
            done.f,
            done.value,
            at(inv),
            inv.value,
            if done.f == "txn" { " (only read values may be filled in)" } else { "" }
        ),
    ))
}

/// A transaction's micro-ops `[f k v]`, with the `independent` key when the value is a
/// `[key txn]` tuple.
fn micro_ops(v: &Value) -> Option<(Option<&Value>, &[Value])> {
    let is_micro = |m: &Value| matches!(m, Value::Array(a) if a.len() == 3 && a[0].is_string());
    let Value::Array(items) = v else { return None };
    if items.iter().all(is_micro) {
        return Some((None, items));
    }
    match items.as_slice() {
        [k, Value::Array(txn)] if !k.is_array() && txn.iter().all(is_micro) => Some((Some(k), txn)),
        _ => None,
    }
}

/// Whether an ok txn's micro-ops are the invoked ones, read values filled in (a read
/// invoked with nil may carry any value; everything else must match). Shapes that are not
/// transactions are left to the model to refuse.
fn txn_agrees(inv: &Value, ok: &Value) -> bool {
    let (Some((ik, iops)), Some((ok_k, oops))) = (micro_ops(inv), micro_ops(ok)) else {
        return true;
    };
    ik == ok_k
        && iops.len() == oops.len()
        && iops.iter().zip(oops).all(|(i, o)| {
            i[0] == o[0] && i[1] == o[1] && (i[2] == o[2] || (i[0] == "read" && i[2].is_null()))
        })
}

/// One warning if any event's time is below the previous event's: Jepsen stamps a
/// completion in its worker before the history records it, so two completions can land a
/// little out of time order. The checker orders events by their position, never by time.
fn times_going_backwards(history: &History) -> Option<String> {
    let mut count = 0u64;
    let mut first = None;
    for pair in history.ops.windows(2) {
        if pair[1].time < pair[0].time {
            count += 1;
            first.get_or_insert_with(|| {
                format!(
                    "{} (time {} after {} at {})",
                    at(&pair[1]),
                    pair[1].time,
                    pair[0].time,
                    at(&pair[0])
                )
            });
        }
    }
    first.map(|f| {
        format!(
            "time goes backwards at {count} events (first at {f}); events are ordered by their position in the file, times are used only for plots"
        )
    })
}

/// Indices must increase in file order (gaps allowed): a duplicate or a step back
/// contradicts the order of events. Used by the JSONL and EDN readers with each op's
/// original index.
#[derive(Default)]
pub(super) struct IndexOrder {
    /// The last index, its line, and whether it was filled in (the line had none).
    last: Option<(u64, u64, bool)>,
}

impl IndexOrder {
    /// The index of an op without one: one above the last (0 first); recorded.
    pub(super) fn fill(&mut self, line: u64) -> u64 {
        let index = self.last.map_or(0, |(i, ..)| i.saturating_add(1));
        self.last = Some((index, line, true));
        index
    }

    /// An op's own index (`None`: it has none, and it is not numbered by this order).
    pub(super) fn next(
        &mut self,
        index: Option<u64>,
        line: u64,
        format: Format,
    ) -> Result<(), FormatError> {
        let Some(index) = index else { return Ok(()) };
        if let Some((prev, prev_line, filled)) = self.last {
            if index <= prev {
                let what = if index == prev { "repeats" } else { "is below" };
                let how = if filled {
                    format!(
                        " (line {prev_line} has no index: it counts as one above the line before)"
                    )
                } else {
                    String::new()
                };
                return Err(contradiction(
                    format,
                    Some(line),
                    format!(
                        "line {line}: index {index} {what} index {prev} of line {prev_line}{how}; the indices of a history increase in file order (duplicates are refused, as Knossos does)"
                    ),
                ));
            }
        }
        self.last = Some((index, line, false));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(i: u64, t: OpType, p: u64, f: &str, v: Value) -> Op {
        let mut o = Op::new(i, i as i64, t, Process::Client(p), f, v);
        o.line = Some(i + 1);
        o
    }

    fn run(ops: Vec<Op>) -> Result<Vec<String>, FormatError> {
        check(&History::new(ops), Format::Jsonl)
    }

    #[test]
    fn reads_and_filled_txn_reads_are_accepted() {
        let ok = run(vec![
            op(0, OpType::Invoke, 0, "read", Value::Null),
            op(1, OpType::Ok, 0, "read", json!(3)),
            op(
                2,
                OpType::Invoke,
                0,
                "txn",
                json!([["read", "x", null], ["write", "y", 2]]),
            ),
            op(
                3,
                OpType::Ok,
                0,
                "txn",
                json!([["read", "x", 1], ["write", "y", 2]]),
            ),
            op(4, OpType::Invoke, 0, "write", json!(5)),
            op(5, OpType::Ok, 0, "write", Value::Null),
        ]);
        assert_eq!(ok.unwrap(), Vec::<String>::new());
    }

    #[test]
    fn an_ok_with_another_function_key_or_argument_is_refused() {
        let mut other_key = vec![
            op(0, OpType::Invoke, 0, "write", json!(1)),
            op(1, OpType::Ok, 0, "write", json!(1)),
        ];
        other_key[0].key = Some(json!("a"));
        other_key[1].key = Some(json!("b"));
        for (ops, needle) in [
            (
                vec![
                    op(0, OpType::Invoke, 0, "read", Value::Null),
                    op(1, OpType::Ok, 0, "write", json!(1)),
                ],
                "invoked `read`",
            ),
            (
                vec![
                    op(0, OpType::Invoke, 0, "cas", json!([1, 2])),
                    op(1, OpType::Ok, 0, "cas", json!([1, 3])),
                ],
                "repeats its invocation's argument",
            ),
            (
                vec![
                    op(0, OpType::Invoke, 0, "txn", json!([["write", "x", 1]])),
                    op(1, OpType::Ok, 0, "txn", json!([["write", "x", 2]])),
                ],
                "only read values",
            ),
            (other_key, "key"),
        ] {
            let e = run(ops).unwrap_err();
            assert_eq!((e.kind, e.line), (FormatErrorKind::Contradiction, Some(2)));
            assert!(e.message.contains(needle), "{e}");
        }
    }

    #[test]
    fn changed_fail_values_and_backward_times_are_warnings() {
        let mut ops = vec![
            op(0, OpType::Invoke, 0, "enqueue", json!(1)),
            op(1, OpType::Fail, 0, "enqueue", json!("exhausted")),
            op(2, OpType::Invoke, 1, "read", Value::Null),
            op(3, OpType::Ok, 1, "read", json!(1)),
        ];
        ops[3].time = 1;
        let w = run(ops).unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("line 2") && w[1].contains("backwards") && w[1].contains("line 4"));
    }

    #[test]
    fn indices_must_increase() {
        let mut order = IndexOrder::default();
        order.next(Some(0), 1, Format::Edn).unwrap();
        order.next(None, 2, Format::Edn).unwrap();
        order.next(Some(5), 3, Format::Edn).unwrap();
        let e = order.next(Some(5), 4, Format::Edn).unwrap_err();
        assert!(e.message.contains("repeats index 5 of line 3"), "{e}");
        assert_eq!(e.line, Some(4));
        assert!(order.next(Some(2), 5, Format::Edn).is_err());
        assert_eq!(order.fill(6), 6, "one above the last accepted");
        let e = order.next(Some(6), 7, Format::Jsonl).unwrap_err();
        assert!(e.message.contains("line 6 has no index"), "{e}");
    }
}
