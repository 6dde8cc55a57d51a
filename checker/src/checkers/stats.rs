//! The `stats` checker: how many client operations of each function completed `ok`,
//! `fail` or `info` (an invocation never completed counts as `info`). Nemesis events are
//! not counted. Serializes as the `results.json` "stats" shape:
//! `{"valid", "by_f": {"<f>": {"ok","fail","info"}}, "ok", "fail", "info", "warning"?}`.
//!
//! The nothing-ok rule: a history in which no operation completed `ok` always carries the
//! `warning` [`NOTHING_OK_WARNING`] (such a history shows little: the linearizability
//! verdict on it is `valid`, as Knossos and Porcupine say). Whether it also makes the
//! verdict `unknown` is the caller's choice, [`StatsOptions::nothing_ok`]:
//! [`NothingOk::Unknown`] (the default; `harness test`: a test that did nothing proves
//! nothing) or [`NothingOk::Warn`] (`harness check` of someone's history: valid with the
//! warning).

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

/// The warning of a history in which no operation completed ok.
pub const NOTHING_OK_WARNING: &str =
    "no operation completed ok: such a history shows little (nothing was observed to happen)";

/// What a history with no ok operation makes the `stats` verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NothingOk {
    /// `unknown` (a run that did nothing proves nothing; `harness test`).
    #[default]
    Unknown,
    /// `valid`, with the warning (`harness check`).
    Warn,
}

/// Options of [`stats_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsOptions {
    pub nothing_ok: NothingOk,
}

/// The result of [`stats`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsReport {
    pub valid: Validity,
    pub by_f: BTreeMap<String, Counts>,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// [`NOTHING_OK_WARNING`] when no operation completed ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl StatsReport {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// [`stats_with`] with the default options: nothing ok is `unknown`.
pub fn stats(history: &History) -> StatsReport {
    stats_with(history, &StatsOptions::default())
}

/// Whether no client operation of the history completed ok (the nothing-ok rule).
pub fn nothing_ok(history: &History) -> bool {
    !history
        .ops
        .iter()
        .any(|o| o.op_type == OpType::Ok && !o.process.is_nemesis())
}

/// Count completions per function. Never fails: an orphan completion is counted under its
/// own `f`, an invocation left open counts as `info`.
pub fn stats_with(history: &History, opts: &StatsOptions) -> StatsReport {
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
    let nothing = total.ok == 0;
    StatsReport {
        valid: match (nothing, opts.nothing_ok) {
            (true, NothingOk::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        },
        by_f,
        ok: total.ok,
        fail: total.fail,
        info: total.info,
        warning: nothing.then(|| NOTHING_OK_WARNING.to_string()),
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
    fn nothing_ok_is_unknown_or_a_warning_as_the_caller_chooses() {
        let h = History::new(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Fail, 0, "read"),
            Op::new(0, 0, OpType::Ok, Process::Nemesis, "kill", Value::Null),
        ]);
        assert!(nothing_ok(&h) && nothing_ok(&History::default()));
        assert_eq!(stats(&h).valid, Validity::Unknown);
        assert_eq!(stats(&History::default()).valid, Validity::Unknown);
        let warn = StatsOptions {
            nothing_ok: NothingOk::Warn,
        };
        let r = stats_with(&h, &warn);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.to_value()["warning"], json!(NOTHING_OK_WARNING));
        assert_eq!(stats(&h).warning.as_deref(), Some(NOTHING_OK_WARNING));
        let fine = History::new(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Ok, 0, "read"),
        ]);
        assert!(!nothing_ok(&fine));
        assert_eq!(stats_with(&fine, &warn).warning, None);
    }
}
