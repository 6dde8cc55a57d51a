//! The `stats` checker: how many client operations of each function completed `ok`,
//! `fail` or `info` (an invocation never completed counts as `info`). Nemesis events are
//! not counted. Valid unless no operation at all succeeded, which is `unknown`: a run where
//! nothing worked says nothing about the system. Serializes as the `results.json` "stats"
//! shape: `{"valid", "by_f": {"<f>": {"ok","fail","info"}}, "ok", "fail", "info"}`.

use crate::history::{History, OpType, Process};
use crate::verdict::Validity;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Completion counts of one function (or of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl Counts {
    fn add(&mut self, t: OpType) {
        match t {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info | OpType::Invoke => self.info += 1,
        }
    }
}

/// The result of [`stats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    pub valid: Validity,
    pub by_f: BTreeMap<String, Counts>,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl StatsReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Count completions per function. Never fails: an orphan completion is counted under its
/// own `f`, an invocation left open counts as `info`.
pub fn stats(history: &History) -> StatsReport {
    let mut by_f: BTreeMap<String, Counts> = BTreeMap::new();
    let mut open: HashMap<u64, &str> = HashMap::new();
    for op in &history.ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        if op.op_type == OpType::Invoke {
            if let Some(prev) = open.insert(p, &op.f) {
                by_f.entry(prev.to_string()).or_default().add(OpType::Info);
            }
        } else {
            let f = open.remove(&p).unwrap_or(&op.f);
            by_f.entry(f.to_string()).or_default().add(op.op_type);
        }
    }
    for f in open.into_values() {
        by_f.entry(f.to_string()).or_default().add(OpType::Info);
    }
    let mut total = Counts::default();
    for c in by_f.values() {
        total.ok += c.ok;
        total.fail += c.fail;
        total.info += c.info;
    }
    StatsReport {
        valid: if total.ok == 0 {
            Validity::Unknown
        } else {
            Validity::Valid
        },
        by_f,
        ok: total.ok,
        fail: total.fail,
        info: total.info,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use serde_json::json;

    fn op(t: OpType, p: u64, f: &str) -> Op {
        Op::new(0, 0, t, Process::Client(p), f, Value::Null)
    }

    #[test]
    fn counts_per_function_and_open_invocations_as_info() {
        let h = History::new(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Invoke, 1, "write"),
            Op::new(0, 0, OpType::Info, Process::Nemesis, "kill", Value::Null),
            op(OpType::Ok, 0, "read"),
            op(OpType::Fail, 1, "write"),
            op(OpType::Invoke, 0, "write"),
            op(OpType::Info, 0, "write"),
            op(OpType::Invoke, 2, "cas"),
        ]);
        let r = stats(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!((r.ok, r.fail, r.info), (1, 1, 2));
        assert_eq!(
            r.by_f["write"],
            Counts {
                ok: 0,
                fail: 1,
                info: 1
            }
        );
        assert_eq!(
            r.by_f["cas"],
            Counts {
                ok: 0,
                fail: 0,
                info: 1
            }
        );
        assert!(!r.by_f.contains_key("kill"));
        assert_eq!(
            r.to_value(),
            json!({"valid": true, "ok": 1, "fail": 1, "info": 2, "by_f": {
                "read": {"ok": 1, "fail": 0, "info": 0},
                "write": {"ok": 0, "fail": 1, "info": 1},
                "cas": {"ok": 0, "fail": 0, "info": 1}}})
        );
    }

    #[test]
    fn nothing_ok_is_unknown() {
        let h = History::new(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Fail, 0, "read"),
        ]);
        assert_eq!(stats(&h).valid, Validity::Unknown);
        assert_eq!(stats(&History::default()).valid, Validity::Unknown);
    }
}
