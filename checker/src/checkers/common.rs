//! Helpers shared by the checkers: grouping paired calls by key, capped lists, and error
//! construction naming an event.

use super::{CheckerError, LIST_CAP};
use crate::history::{Call, History, Op};
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
