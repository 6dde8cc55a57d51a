//! The `exceptions` checker (Jepsen's unhandled-exceptions idea): the `error`s carried by
//! `fail` and `info` completions, grouped by error text, most frequent first, each with a
//! count per function and the first occurrence (index and line). It is informational: the
//! verdict is always valid, since an error a client reported is a fact about the run, not a
//! consistency violation; reports show it so that a run full of timeouts is noticed.

use super::common::push_capped;
use crate::history::{History, OpType};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Longest error text kept for grouping (longer texts are cut).
const TEXT_CAP: usize = 120;

/// One kind of error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorClass {
    pub error: String,
    pub count: u64,
    /// Occurrences per function.
    pub by_f: BTreeMap<String, u64>,
    /// `index` and 1-based line of the first occurrence.
    pub first_index: u64,
    pub first_line: Option<u64>,
}

/// The result of [`exceptions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionsReport {
    pub valid: Validity,
    /// Completions that carried an error.
    pub count: u64,
    /// Distinct error texts.
    pub class_count: u64,
    /// The most frequent classes (capped).
    pub classes: Vec<ErrorClass>,
}

impl ExceptionsReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn text_of(error: &Value) -> String {
    let t = match error {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match t.char_indices().nth(TEXT_CAP) {
        Some((cut, _)) => format!("{}...", &t[..cut]),
        None => t,
    }
}

/// Group the errors of client `fail`/`info` completions. Never fails.
pub fn exceptions(history: &History) -> ExceptionsReport {
    let mut classes: Vec<ErrorClass> = Vec::new();
    let mut by_text: HashMap<String, usize> = HashMap::new();
    for op in &history.ops {
        if op.process.is_nemesis() || !matches!(op.op_type, OpType::Fail | OpType::Info) {
            continue;
        }
        let Some(error) = op.error.as_ref().filter(|e| !e.is_null()) else {
            continue;
        };
        let text = text_of(error);
        let i = *by_text.entry(text.clone()).or_insert_with(|| {
            classes.push(ErrorClass {
                error: text,
                count: 0,
                by_f: BTreeMap::new(),
                first_index: op.index,
                first_line: op.line,
            });
            classes.len() - 1
        });
        classes[i].count += 1;
        *classes[i].by_f.entry(op.f.clone()).or_default() += 1;
    }
    let count = classes.iter().map(|c| c.count).sum();
    let class_count = classes.len() as u64;
    // Most frequent first; ties in order of first appearance.
    classes.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.first_index.cmp(&b.first_index))
    });
    let mut capped = Vec::new();
    for c in classes {
        push_capped(&mut capped, c);
    }
    ExceptionsReport {
        valid: Validity::Valid,
        count,
        class_count,
        classes: capped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};
    use serde_json::json;

    fn done(i: u64, t: OpType, f: &str, error: Option<Value>) -> Op {
        let mut op = Op::new(i, i as i64, t, Process::Client(i), f, Value::Null);
        op.error = error;
        op.line = Some(i + 1);
        op
    }

    #[test]
    fn errors_are_grouped_most_frequent_first() {
        let h = History::new(vec![
            done(0, OpType::Fail, "cas", Some(json!("not_leader"))),
            done(1, OpType::Info, "write", Some(json!("timeout"))),
            done(2, OpType::Info, "read", Some(json!("timeout"))),
            done(3, OpType::Ok, "read", Some(json!("ignored on ok"))),
            done(4, OpType::Fail, "read", None),
            done(
                5,
                OpType::Info,
                "write",
                Some(json!({"class": "ConnectException"})),
            ),
        ]);
        let r = exceptions(&h);
        assert_eq!((r.valid, r.count, r.class_count), (Validity::Valid, 4, 3));
        assert_eq!(r.classes[0].error, "timeout");
        assert_eq!(r.classes[0].count, 2);
        assert_eq!(
            r.classes[0].by_f,
            BTreeMap::from([("read".to_string(), 1), ("write".to_string(), 1)])
        );
        assert_eq!(
            (r.classes[0].first_index, r.classes[0].first_line),
            (1, Some(2))
        );
        assert_eq!(r.classes[1].error, "not_leader");
        assert_eq!(r.classes[2].error, r#"{"class":"ConnectException"}"#);
    }

    #[test]
    fn long_errors_are_cut_and_no_errors_is_empty() {
        let long = "x".repeat(500);
        let r = exceptions(&History::new(vec![done(
            0,
            OpType::Info,
            "w",
            Some(json!(long)),
        )]));
        assert_eq!(r.classes[0].error.len(), TEXT_CAP + 3);
        let r = exceptions(&History::default());
        assert_eq!((r.count, r.classes.len()), (0, 0));
    }
}
