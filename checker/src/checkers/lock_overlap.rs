//! The `lock-overlap` checker: no two clients held the same lock at overlapping times, as
//! the service acknowledged them. A hold of lock `key` by process `p` runs from the
//! completion time of `p`'s ok `acquire` to the invocation time of `p`'s next `release` of
//! that lock (whatever its outcome), or to the end of the history when there is none. Every
//! pair of overlapping holds of one lock is a violation, reported with both holders, their
//! tokens (the acquire's value), the lock and the times (ns since the test started).

use super::common::{push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType, Process};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// One client's hold of one lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub process: Process,
    /// The fencing token the acquire returned.
    pub token: Value,
    /// When the acquire's ok was recorded.
    pub from: i64,
    /// When the release was invoked (`None`: never released in the history).
    pub to: Option<i64>,
}

/// Two holds of one lock that overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overlap {
    pub lock: Value,
    pub first: Hold,
    pub second: Hold,
}

/// The result of [`lock_overlap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockOverlapReport {
    pub valid: Validity,
    /// Acknowledged acquisitions (holds) seen.
    pub holds: u64,
    pub locks: u64,
    pub overlap_count: u64,
    pub overlaps: Vec<Overlap>,
}

impl LockOverlapReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Check that no two holds of a lock overlap.
pub fn lock_overlap(history: &History) -> Result<LockOverlapReport, CheckerError> {
    let by_lock = holds_by_lock(history)?;
    let mut report = LockOverlapReport {
        valid: Validity::Valid,
        holds: by_lock.values().map(|(_, h)| h.len() as u64).sum(),
        locks: by_lock.len() as u64,
        overlap_count: 0,
        overlaps: Vec::new(),
    };
    for (lock, mut holds) in by_lock.into_values() {
        holds.sort_by_key(|h| h.from);
        // The hold that ends last among those seen so far.
        let mut longest: Option<&Hold> = None;
        for h in &holds {
            if let Some(prev) = longest {
                if prev.to.is_none_or(|end| h.from < end) {
                    report.overlap_count += 1;
                    push_capped(
                        &mut report.overlaps,
                        Overlap {
                            lock: lock.clone(),
                            first: prev.clone(),
                            second: h.clone(),
                        },
                    );
                }
            }
            let ends_later = match (longest.map(|p| p.to), h.to) {
                (None, _) => true,
                (Some(None), _) => false,
                (Some(Some(_)), None) => true,
                (Some(Some(a)), Some(b)) => b > a,
            };
            if ends_later {
                longest = Some(h);
            }
        }
    }
    report.valid = verdict(report.overlap_count > 0, report.holds > 0);
    Ok(report)
}

/// Every hold in the history, grouped by lock (the key's JSON text).
fn holds_by_lock(history: &History) -> Result<BTreeMap<String, (Value, Vec<Hold>)>, CheckerError> {
    let mut out: BTreeMap<String, (Value, Vec<Hold>)> = BTreeMap::new();
    // (process, lock) -> index of its open hold in `out[lock]`.
    let mut open: HashMap<(Process, String), usize> = HashMap::new();
    for call in history.pair()? {
        let Some(key) = &call.key else { continue };
        let lock = key.to_string();
        match (call.f.as_str(), call.outcome, call.complete) {
            ("acquire", OpType::Ok, Some(done)) => {
                let op = &history.ops[done];
                let holds = &mut out
                    .entry(lock.clone())
                    .or_insert_with(|| (key.clone(), vec![]))
                    .1;
                holds.push(Hold {
                    process: call.process,
                    token: op.value.clone(),
                    from: op.time,
                    to: None,
                });
                open.insert((call.process, lock), holds.len() - 1);
            }
            ("release", _, _) => {
                if let Some(i) = open.remove(&(call.process, lock.clone())) {
                    out.get_mut(&lock).expect("open hold has a lock").1[i].to =
                        Some(history.ops[call.invoke].time);
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType::*};
    use serde_json::json;

    fn op(i: u64, p: u64, t: crate::history::OpType, f: &str, v: Value) -> Op {
        let mut o = Op::new(i, i as i64 * 10, t, Process::Client(p), f, v);
        o.key = Some(json!("/locks/l0"));
        o
    }

    #[test]
    fn sequential_holds_are_valid() {
        let h = History::new(vec![
            op(0, 1, Invoke, "acquire", Value::Null),
            op(1, 1, Ok, "acquire", json!(5)),
            op(2, 1, Invoke, "release", Value::Null),
            op(3, 2, Invoke, "acquire", Value::Null),
            op(4, 1, Ok, "release", json!(5)),
            op(5, 2, Ok, "acquire", json!(9)),
        ]);
        let r = lock_overlap(&h).unwrap();
        assert_eq!((r.valid, r.holds, r.overlap_count), (Validity::Valid, 2, 0));
    }

    #[test]
    fn a_second_holder_before_the_release_is_reported_with_both_holders() {
        let h = History::new(vec![
            op(0, 1, Invoke, "acquire", Value::Null),
            op(1, 1, Ok, "acquire", json!(5)),
            op(2, 2, Invoke, "acquire", Value::Null),
            op(3, 2, Ok, "acquire", json!(9)),
            op(4, 1, Invoke, "release", Value::Null),
            op(5, 1, Info, "release", Value::Null),
        ]);
        let r = lock_overlap(&h).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.overlap_count, 1);
        let o = &r.overlaps[0];
        assert_eq!(o.lock, json!("/locks/l0"));
        assert_eq!(
            (o.first.token.clone(), o.first.from, o.first.to),
            (json!(5), 10, Some(40))
        );
        assert_eq!((o.second.process, o.second.from), (Process::Client(2), 30));
    }

    #[test]
    fn failed_acquires_hold_nothing_and_an_empty_history_is_unknown() {
        let h = History::new(vec![
            op(0, 1, Invoke, "acquire", Value::Null),
            op(1, 1, Fail, "acquire", Value::Null),
        ]);
        assert_eq!(lock_overlap(&h).unwrap().valid, Validity::Unknown);
    }
}
