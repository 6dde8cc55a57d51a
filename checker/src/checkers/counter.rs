//! The `counter` checker: a counter with `add` (value: an integer delta) and `read` (ok
//! value: an integer). Every ok read must lie between the bounds the adds allow:
//! lower = initial + adds acknowledged before the read began + every negative delta that may
//! have applied by the time it returned; upper = the same with the positive deltas. Adds that
//! definitely failed never count. One pass, O(1) per event. Keyed histories are checked per
//! key.

use super::common::{bad_op, calls_by_key, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, Op, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;

/// Options of [`counter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterOptions {
    /// The counter's value before any add.
    pub initial: i64,
}

/// A read outside its bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// `index` of the read's completion.
    pub index: u64,
    pub line: Option<u64>,
    pub value: i64,
    pub lower: i128,
    pub upper: i128,
}

/// The result of [`counter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CounterReport {
    pub valid: Validity,
    /// Ok reads checked.
    pub reads: u64,
    pub error_count: u64,
    /// The first out-of-bounds reads (capped).
    pub errors: Vec<CounterError>,
}

impl CounterReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn int_of(op: &Op, what: &str) -> Result<i64, CheckerError> {
    op.value.as_i64().ok_or_else(|| {
        bad_op(
            op,
            format!(
                "a counter {what} needs an integer value, found {}",
                op.value
            ),
        )
    })
}

#[derive(Clone, Copy, Default)]
struct Sums {
    /// Sum, positive part and negative part of acknowledged adds.
    def: i128,
    def_pos: i128,
    def_neg: i128,
}

/// Check a counter history. See the module doc.
pub fn counter(history: &History, opts: &CounterOptions) -> Result<CounterReport, CheckerError> {
    let mut report = CounterReport {
        valid: Validity::Valid,
        reads: 0,
        error_count: 0,
        errors: Vec::new(),
    };
    for (_, (key, calls)) in calls_by_key(history)? {
        // Events in history order: (position, call, is_start).
        let mut events: Vec<(usize, usize, bool)> = Vec::with_capacity(calls.len() * 2);
        for (i, c) in calls.iter().enumerate() {
            events.push((c.invoke, i, true));
            if let Some(done) = c.complete {
                events.push((done, i, false));
            }
        }
        events.sort_unstable();
        let mut sums = Sums::default();
        let (mut inv_pos, mut inv_neg) = (0i128, 0i128);
        let mut at_invoke: Vec<Sums> = vec![Sums::default(); calls.len()];
        for (pos, i, start) in events {
            let call = &calls[i];
            let op = &history.ops[pos];
            match (call.f.as_str(), start) {
                ("add", true) if call.outcome != OpType::Fail => {
                    let d = int_of(op, "add")? as i128;
                    inv_pos += d.max(0);
                    inv_neg += d.min(0);
                }
                ("add", false) if call.outcome == OpType::Ok => {
                    let d = int_of(&history.ops[call.invoke], "add")? as i128;
                    sums.def += d;
                    sums.def_pos += d.max(0);
                    sums.def_neg += d.min(0);
                }
                ("read", true) => at_invoke[i] = sums,
                ("read", false) if call.outcome == OpType::Ok => {
                    let value = int_of(op, "read")?;
                    let s = at_invoke[i];
                    let base = opts.initial as i128 + s.def;
                    let lower = base + (inv_neg - s.def_neg);
                    let upper = base + (inv_pos - s.def_pos);
                    report.reads += 1;
                    if (value as i128) < lower || (value as i128) > upper {
                        report.error_count += 1;
                        push_capped(
                            &mut report.errors,
                            CounterError {
                                key: key.clone(),
                                index: op.index,
                                line: op.line,
                                value,
                                lower,
                                upper,
                            },
                        );
                    }
                }
                _ => {}
            }
        }
    }
    report.valid = verdict(report.error_count > 0, report.reads > 0);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use OpType::{Fail, Info, Invoke, Ok};

    use super::super::common::history_of as h;

    #[test]
    fn reads_within_bounds_are_valid() {
        let hist = h(&[
            (0, Invoke, "add", json!(2)),
            (1, Invoke, "read", Value::Null),
            (0, Ok, "add", json!(2)),
            (1, Ok, "read", json!(0)), // concurrent with the add: 0 or 2
            (2, Invoke, "add", json!(5)),
            (2, Info, "add", json!(5)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(7)), // the info add may have applied
        ]);
        let r = counter(&hist, &CounterOptions::default()).unwrap();
        assert_eq!((r.valid, r.reads, r.error_count), (Validity::Valid, 2, 0));
    }

    #[test]
    fn reads_outside_bounds_are_invalid() {
        let hist = h(&[
            (0, Invoke, "add", json!(2)),
            (0, Ok, "add", json!(2)),
            (1, Invoke, "add", json!(3)),
            (1, Fail, "add", json!(3)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(1)), // too low: the add of 2 was acknowledged
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(5)), // too high: the add of 3 failed
        ]);
        let r = counter(&hist, &CounterOptions::default()).unwrap();
        assert_eq!((r.valid, r.error_count), (Validity::Invalid, 2));
        assert_eq!(
            (r.errors[0].lower, r.errors[0].upper, r.errors[0].value),
            (2, 2, 1)
        );
        assert_eq!(r.errors[1].index, 7);
    }

    #[test]
    fn negative_deltas_widen_the_lower_bound() {
        let hist = h(&[
            (0, Invoke, "add", json!(-4)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(6)),
            (0, Ok, "add", json!(-4)),
        ]);
        let r = counter(&hist, &CounterOptions { initial: 10 }).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        let r = counter(&hist, &CounterOptions { initial: 0 }).unwrap();
        assert_eq!((r.errors[0].lower, r.errors[0].upper), (-4, 0));
    }

    #[test]
    fn no_reads_is_unknown_and_bad_values_are_errors() {
        let hist = h(&[(0, Invoke, "add", json!(1)), (0, Ok, "add", json!(1))]);
        assert_eq!(
            counter(&hist, &CounterOptions::default()).unwrap().valid,
            Validity::Unknown
        );
        let bad = h(&[(0, Invoke, "add", json!("x")), (0, Ok, "add", json!("x"))]);
        assert!(matches!(
            counter(&bad, &CounterOptions::default()),
            Err(CheckerError::BadOp { index: 0, .. })
        ));
    }
}
