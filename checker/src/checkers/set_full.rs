//! The `set-full` checker (Jepsen's idea): a grow-only set with `add` (value: the element)
//! and `read` (ok value: the whole set, a list). For each element it finds when the element
//! became *known* (its add was acknowledged, or a read first returned it) and looks at every
//! ok read that began after that:
//! - **stable**: present in all of them;
//! - **stale**: missing from some, but present again in the latest one (a stale read);
//! - **lost**: missing from the latest one (acknowledged, then gone);
//! - **never read**: no read began after it became known.
//!
//! Elements returned by a read that were never added (or whose add definitely failed) are
//! **unexpected**. Verdict: invalid if anything is lost or unexpected (or stale, with
//! `linearizable`), unknown if no element was ever confirmed by a later read, else valid.
//! Keyed histories are checked per key and the results summed (lists say which key).

use super::common::{bad_op, calls_by_key, push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// Options of [`set_full`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetFullOptions {
    /// Treat stale reads as invalid (the set is meant to be linearizable).
    pub linearizable: bool,
}

/// The result of [`set_full`]. Lists are capped; counts are exact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetFullReport {
    pub valid: Validity,
    /// Adds invoked.
    pub attempt_count: u64,
    /// Adds that completed ok.
    pub acknowledged_count: u64,
    pub stable_count: u64,
    pub stale_count: u64,
    pub lost_count: u64,
    pub never_read_count: u64,
    pub unexpected_count: u64,
    /// Ok reads looked at.
    pub read_count: u64,
    pub lost: Vec<Value>,
    pub stale: Vec<Value>,
    pub never_read: Vec<Value>,
    pub unexpected: Vec<Value>,
}

impl SetFullReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

struct Read {
    invoke: usize,
    complete: usize,
    elements: HashSet<usize>,
}

/// Check a set history. See the module doc.
pub fn set_full(history: &History, opts: &SetFullOptions) -> Result<SetFullReport, CheckerError> {
    let mut r = SetFullReport {
        valid: Validity::Valid,
        attempt_count: 0,
        acknowledged_count: 0,
        stable_count: 0,
        stale_count: 0,
        lost_count: 0,
        never_read_count: 0,
        unexpected_count: 0,
        read_count: 0,
        lost: Vec::new(),
        stale: Vec::new(),
        never_read: Vec::new(),
        unexpected: Vec::new(),
    };
    for (_, (key, calls)) in calls_by_key(history)? {
        let name = |e: &Value| match &key {
            Some(k) => json!({"key": k, "element": e}),
            None => e.clone(),
        };
        // Elements, interned by their JSON text.
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut elements: Vec<Value> = Vec::new();
        // Per element: best add outcome seen (Ok > Info > Fail) and acknowledgement position.
        let mut outcome: Vec<OpType> = Vec::new();
        let mut known: Vec<Option<usize>> = Vec::new();
        let mut reads: Vec<Read> = Vec::new();
        for call in &calls {
            let inv = &history.ops[call.invoke];
            match call.f.as_str() {
                "add" => {
                    r.attempt_count += 1;
                    let text = inv.value.to_string();
                    let id = *ids.entry(text).or_insert_with(|| {
                        elements.push(inv.value.clone());
                        outcome.push(OpType::Fail);
                        known.push(None);
                        elements.len() - 1
                    });
                    let better = match (outcome[id], call.outcome) {
                        (_, OpType::Ok) => OpType::Ok,
                        (OpType::Ok, _) => OpType::Ok,
                        (_, OpType::Info) | (OpType::Info, _) => OpType::Info,
                        _ => OpType::Fail,
                    };
                    outcome[id] = better;
                    if call.outcome == OpType::Ok {
                        r.acknowledged_count += 1;
                        let done = call.complete.unwrap_or(call.invoke);
                        known[id] = Some(known[id].map_or(done, |k| k.min(done)));
                    }
                }
                "read" if call.outcome == OpType::Ok => {
                    let Some(c) = call.complete else { continue };
                    let comp = &history.ops[c];
                    let Value::Array(items) = &comp.value else {
                        return Err(bad_op(
                            comp,
                            format!(
                                "a set read must return a list of elements, found {}",
                                comp.value
                            ),
                        ));
                    };
                    let mut set = HashSet::new();
                    for item in items {
                        let text = item.to_string();
                        let id = *ids.entry(text).or_insert_with(|| {
                            elements.push(item.clone());
                            outcome.push(OpType::Invoke); // marks "never added"
                            known.push(None);
                            elements.len() - 1
                        });
                        set.insert(id);
                    }
                    reads.push(Read {
                        invoke: call.invoke,
                        complete: c,
                        elements: set,
                    });
                }
                _ => {}
            }
        }
        r.read_count += reads.len() as u64;
        // Per element, the reads (positions in `reads`, which is in invocation order) that
        // returned it; an element is also known once a read has returned it.
        let mut seen_in: Vec<Vec<usize>> = vec![Vec::new(); elements.len()];
        for (ri, read) in reads.iter().enumerate() {
            for &id in &read.elements {
                seen_in[id].push(ri);
                known[id] = Some(known[id].map_or(read.complete, |k| k.min(read.complete)));
            }
        }
        for (id, element) in elements.iter().enumerate() {
            let present = &seen_in[id];
            if matches!(outcome[id], OpType::Invoke | OpType::Fail) {
                if !present.is_empty() {
                    r.unexpected_count += 1;
                    push_capped(&mut r.unexpected, name(element));
                }
                continue;
            }
            let Some(k) = known[id] else { continue }; // an unknown add never seen
                                                       // Reads that began after the element was known: `first..reads.len()`.
            let first = reads.partition_point(|rd| rd.invoke <= k);
            let last_present = present.last().copied().filter(|&ri| ri >= first);
            // The latest read at or after `first` that did not return it.
            let mut j = reads.len();
            for &ri in present.iter().rev() {
                if ri + 1 == j {
                    j = ri;
                } else {
                    break;
                }
            }
            let last_absent = j.checked_sub(1).filter(|&ri| ri >= first);
            match (last_present, last_absent) {
                (None, None) => {
                    r.never_read_count += 1;
                    push_capped(&mut r.never_read, name(element));
                }
                (_, None) => r.stable_count += 1,
                (Some(p), Some(a)) if p > a => {
                    r.stale_count += 1;
                    push_capped(&mut r.stale, name(element));
                }
                _ => {
                    r.lost_count += 1;
                    push_capped(&mut r.lost, name(element));
                }
            }
        }
    }
    r.valid = verdict(
        r.lost_count > 0 || r.unexpected_count > 0 || (opts.linearizable && r.stale_count > 0),
        r.stable_count + r.stale_count > 0,
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};

    use super::super::common::history_of as h;
    use OpType::{Fail, Info, Invoke, Ok};

    #[test]
    fn stable_elements_are_valid() {
        let hist = h(&[
            (0, Invoke, "add", json!(1)),
            (0, Ok, "add", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1])),
        ]);
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!((r.stable_count, r.lost_count, r.attempt_count), (1, 0, 1));
    }

    #[test]
    fn acknowledged_then_missing_is_lost() {
        let hist = h(&[
            (0, Invoke, "add", json!(1)),
            (0, Ok, "add", json!(1)),
            (0, Invoke, "add", json!(2)),
            (0, Ok, "add", json!(2)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1, 2])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([2])),
        ]);
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.lost, vec![json!(1)]);
        assert_eq!((r.lost_count, r.stable_count), (1, 1));
    }

    #[test]
    fn missing_then_back_is_stale_and_only_invalid_when_linearizable() {
        let hist = h(&[
            (0, Invoke, "add", json!("a")),
            (0, Ok, "add", json!("a")),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!(["a"])),
        ]);
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        assert_eq!((r.valid, r.stale_count), (Validity::Valid, 1));
        let r = set_full(&hist, &SetFullOptions { linearizable: true }).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn unexpected_and_failed_adds_seen_are_invalid() {
        let hist = h(&[
            (0, Invoke, "add", json!(1)),
            (0, Fail, "add", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1, 9])),
        ]);
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.unexpected_count, 2);
    }

    #[test]
    fn info_add_seen_later_counts_and_unread_is_unknown() {
        let hist = h(&[
            (0, Invoke, "add", json!(1)),
            (0, Info, "add", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1])),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([1])),
        ]);
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        assert_eq!((r.valid, r.stable_count), (Validity::Valid, 1));
        let only_add = h(&[(0, Invoke, "add", json!(1)), (0, Ok, "add", json!(1))]);
        let r = set_full(&only_add, &SetFullOptions::default()).unwrap();
        assert_eq!((r.valid, r.never_read_count), (Validity::Unknown, 1));
    }

    #[test]
    fn keyed_sets_are_separate_and_bad_reads_are_errors() {
        let mut hist = h(&[
            (0, Invoke, "add", json!(1)),
            (0, Ok, "add", json!(1)),
            (1, Invoke, "read", Value::Null),
            (1, Ok, "read", json!([])),
        ]);
        for (i, op) in hist.ops.iter_mut().enumerate() {
            op.key = Some(json!(if i < 2 { "a" } else { "b" }));
        }
        let r = set_full(&hist, &SetFullOptions::default()).unwrap();
        // The add of 1 to "a" is never read; "b" has no adds.
        assert_eq!((r.never_read_count, r.lost_count), (1, 0));
        assert_eq!(r.never_read, vec![json!({"key": "a", "element": 1})]);
        let bad = h(&[(1, Invoke, "read", Value::Null), (1, Ok, "read", json!(3))]);
        assert!(matches!(
            set_full(&bad, &SetFullOptions::default()),
            Err(CheckerError::BadOp { index: 1, .. })
        ));
    }

    /// The fast classification agrees with the definition (every read after the element
    /// became known, scanned naively) on random concurrent histories.
    #[test]
    fn fast_classification_matches_the_naive_definition() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..300 {
            // Up to 3 processes interleaving adds of 0..6 and reads of random subsets.
            let mut ops = Vec::new();
            let mut open: [Option<(String, Value)>; 3] = [None, None, None];
            for _ in 0..rng.gen_range(2..30) {
                let p = rng.gen_range(0..3);
                let i = ops.len() as u64;
                match open[p].take() {
                    None => {
                        let (f, v) = if rng.gen_bool(0.5) {
                            ("add".to_string(), json!(rng.gen_range(0..6)))
                        } else {
                            ("read".to_string(), Value::Null)
                        };
                        ops.push(Op::new(
                            i,
                            i as i64,
                            Invoke,
                            Process::Client(p as u64),
                            &f,
                            v.clone(),
                        ));
                        open[p] = Some((f, v));
                    }
                    Some((f, v)) => {
                        let t = [Ok, Ok, Ok, Info, Fail][rng.gen_range(0..5)];
                        let v = if f == "read" {
                            json!((0..7).filter(|_| rng.gen_bool(0.5)).collect::<Vec<i32>>())
                        } else {
                            v
                        };
                        ops.push(Op::new(i, i as i64, t, Process::Client(p as u64), &f, v));
                    }
                }
            }
            let hist = History::new(ops);
            let fast = set_full(&hist, &SetFullOptions::default()).unwrap();
            // Naive: per element, scan every ok read.
            let calls = hist.pair().unwrap();
            let reads: Vec<(usize, usize, Vec<Value>)> = calls
                .iter()
                .filter(|c| c.f == "read" && c.outcome == Ok)
                .map(|c| {
                    let done = c.complete.unwrap();
                    (
                        c.invoke,
                        done,
                        hist.ops[done].value.as_array().unwrap().clone(),
                    )
                })
                .collect();
            let (mut stable, mut stale, mut lost, mut never) = (0, 0, 0, 0);
            for e in 0..6 {
                let e = json!(e);
                let adds: Vec<_> = calls
                    .iter()
                    .filter(|c| c.f == "add" && hist.ops[c.invoke].value == e)
                    .collect();
                if !adds.iter().any(|c| c.outcome != Fail) {
                    continue;
                }
                let acked = adds
                    .iter()
                    .filter(|c| c.outcome == Ok)
                    .filter_map(|c| c.complete)
                    .min();
                let seen = reads.iter().filter(|r| r.2.contains(&e)).map(|r| r.1).min();
                let known = match (acked, seen) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => continue,
                };
                let after: Vec<bool> = reads
                    .iter()
                    .filter(|r| r.0 > known)
                    .map(|r| r.2.contains(&e))
                    .collect();
                let last_absent = after.iter().rposition(|p| !p);
                let last_present = after.iter().rposition(|p| *p);
                match (last_present, last_absent) {
                    (None, None) => never += 1,
                    (_, None) => stable += 1,
                    (Some(p), Some(a)) if p > a => stale += 1,
                    _ => lost += 1,
                }
            }
            assert_eq!(
                (
                    fast.stable_count,
                    fast.stale_count,
                    fast.lost_count,
                    fast.never_read_count
                ),
                (stable, stale, lost, never),
                "{hist:?}"
            );
        }
    }
}
