//! The `unique-ids` checker: every ok `generate` operation returns an id, and no id may be
//! returned twice. Reports how many ids were attempted and acknowledged, which ids were
//! duplicated (capped) and, when all ids are integers, their range. Unknown when no id was
//! acknowledged.

use super::common::{push_capped, verdict};
use super::CheckerError;
use crate::history::{History, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One id handed out more than once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    pub id: Value,
    pub count: u64,
}

/// The result of [`unique_ids`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UniqueIdsReport {
    pub valid: Validity,
    pub attempted_count: u64,
    pub acknowledged_count: u64,
    pub duplicated_count: u64,
    pub duplicated: Vec<Duplicate>,
    /// `[min, max]` when every acknowledged id is an integer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[i64; 2]>,
}

impl UniqueIdsReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Check that ids returned by ok `generate` operations are unique.
pub fn unique_ids(history: &History) -> Result<UniqueIdsReport, CheckerError> {
    let calls = history.pair()?;
    let mut seen: HashMap<String, (Value, u64)> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let (mut attempted, mut acknowledged) = (0u64, 0u64);
    let mut range: Option<[i64; 2]> = None;
    let mut all_ints = true;
    for call in calls.iter().filter(|c| c.f == "generate") {
        attempted += 1;
        let (OpType::Ok, Some(done)) = (call.outcome, call.complete) else {
            continue;
        };
        acknowledged += 1;
        let id = &history.ops[done].value;
        match id.as_i64() {
            Some(i) => range = Some(range.map_or([i, i], |[lo, hi]| [lo.min(i), hi.max(i)])),
            None => all_ints = false,
        }
        let text = id.to_string();
        let entry = seen.entry(text.clone()).or_insert_with(|| {
            order.push(text);
            (id.clone(), 0)
        });
        entry.1 += 1;
    }
    let mut duplicated = Vec::new();
    let mut duplicated_count = 0;
    for text in &order {
        let (id, count) = &seen[text];
        if *count > 1 {
            duplicated_count += 1;
            push_capped(
                &mut duplicated,
                Duplicate {
                    id: id.clone(),
                    count: *count,
                },
            );
        }
    }
    let valid = verdict(duplicated_count > 0, acknowledged > 0);
    Ok(UniqueIdsReport {
        valid,
        attempted_count: attempted,
        acknowledged_count: acknowledged,
        duplicated_count,
        duplicated,
        range: range.filter(|_| all_ints),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;
    use OpType::{Info, Invoke, Ok};

    fn gen(results: &[(OpType, Value)]) -> History {
        let mut ops = Vec::new();
        for (p, (t, v)) in results.iter().enumerate() {
            ops.push(Op::new(
                0,
                0,
                Invoke,
                Process::Client(p as u64),
                "generate",
                Value::Null,
            ));
            ops.push(Op::new(
                0,
                0,
                *t,
                Process::Client(p as u64),
                "generate",
                v.clone(),
            ));
        }
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        History::new(ops)
    }

    #[test]
    fn distinct_ids_are_valid() {
        let r = unique_ids(&gen(&[(Ok, json!(3)), (Ok, json!(1)), (Info, Value::Null)])).unwrap();
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!((r.attempted_count, r.acknowledged_count), (3, 2));
        assert_eq!(r.range, Some([1, 3]));
    }

    #[test]
    fn a_repeated_id_is_invalid() {
        let r = unique_ids(&gen(&[
            (Ok, json!("a")),
            (Ok, json!("b")),
            (Ok, json!("a")),
        ]))
        .unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.duplicated,
            vec![Duplicate {
                id: json!("a"),
                count: 2
            }]
        );
        assert_eq!(r.range, None);
    }

    #[test]
    fn nothing_acknowledged_is_unknown() {
        assert_eq!(
            unique_ids(&gen(&[(Info, Value::Null)])).unwrap().valid,
            Validity::Unknown
        );
    }
}
