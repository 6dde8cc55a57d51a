//! Helpers shared by the checkers: grouping paired calls by key, capped lists, error
//! construction naming an event, the verdict rule, and (for tests) building histories.

use super::{CheckerError, LIST_CAP};
use crate::history::{Call, History, Op};
use crate::verdict::Validity;
use serde_json::Value;
use std::collections::BTreeMap;

/// Calls grouped by key: key's JSON text → (the key, its calls).
pub(crate) type KeyGroups = BTreeMap<String, (Option<Value>, Vec<Call>)>;

/// Calls of the history (nemesis events excluded) grouped by key, keys in a stable order
/// (by their JSON text; `None` for an unkeyed history).
pub(crate) fn calls_by_key(history: &History) -> Result<KeyGroups, CheckerError> {
    let mut groups: BTreeMap<String, (Option<Value>, Vec<Call>)> = BTreeMap::new();
    for call in history.pair()? {
        let name = call
            .key
            .as_ref()
            .map_or_else(String::new, |k| k.to_string());
        groups
            .entry(name)
            .or_insert_with(|| (call.key.clone(), Vec::new()))
            .1
            .push(call);
    }
    Ok(groups)
}

pub(crate) fn bad_op(op: &Op, message: impl Into<String>) -> CheckerError {
    CheckerError::BadOp {
        index: op.index,
        line: op.line.map_or_else(|| "?".to_string(), |l| l.to_string()),
        message: message.into(),
    }
}

/// Push onto a capped list.
pub(crate) fn push_capped<T>(list: &mut Vec<T>, item: T) {
    if list.len() < LIST_CAP {
        list.push(item);
    }
}

/// The checkers' verdict rule: anything bad is invalid; otherwise a history that showed the
/// checker nothing to judge (no read, no acknowledged id) is unknown, not valid.
pub(crate) fn verdict(bad: bool, observed: bool) -> Validity {
    if bad {
        Validity::Invalid
    } else if !observed {
        Validity::Unknown
    } else {
        Validity::Valid
    }
}

/// A history of client events from `(process, type, f, value)` tuples, indexed and timed by
/// position (for the checkers' unit tests).
#[cfg(test)]
pub(crate) fn history_of(events: &[(u64, crate::history::OpType, &str, Value)]) -> History {
    use crate::history::Process;
    History::new(
        events
            .iter()
            .enumerate()
            .map(|(i, (p, t, f, v))| {
                Op::new(i as u64, i as i64, *t, Process::Client(*p), f, v.clone())
            })
            .collect(),
    )
}
