//! Checking a run's history and composing `results.json` (DESIGN contract shape):
//! the workload's checkers (linearizability per key with the cas-register model, or
//! set-full) plus stats, combined so that false beats unknown beats true, and a run in
//! which no client operation succeeded is `unknown`.
//!
//! Before the linearizability search, `fail` calls are dropped from the history it sees,
//! except a cas whose error is `cas-mismatch` (the node evaluated the comparison and it did
//! not hold, which is a real observation). Other fails (`not_leader`, refused connection,
//! `bad_request`) only say the op did not happen, which is Jepsen's meaning of `fail`; the
//! cas-register model would otherwise read every failed cas as "the value differed".

use checker::checkers::{set_full, stats, SetFullOptions};
use checker::linear::{self, LinearOptions};
use checker::model::ModelKind;
use checker::{History, OpType, Validity};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use workloads::CheckerKind;

/// Budgets of the checkers.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub linear_timeout: Duration,
}

/// The checked verdict and the `results.json` document.
#[derive(Debug, Clone)]
pub struct Checked {
    pub valid: Validity,
    pub results: Value,
}

/// Check `history` with `checkers` (stats is always added) and build `results.json`.
/// Errors (a history the checkers cannot interpret) are returned as text naming the event.
pub fn check_history(
    history: &History,
    checkers: &[CheckerKind],
    opts: &CheckOptions,
) -> Result<Checked, String> {
    let started = Instant::now();
    let mut out = Map::new();
    let mut verdicts = Vec::new();
    for c in checkers {
        match *c {
            CheckerKind::Linearizable { model } => {
                let model: ModelKind = model.parse()?;
                let lopts = LinearOptions {
                    timeout: Some(opts.linear_timeout),
                    ..LinearOptions::default()
                };
                let report = linear::check(history, model, &lopts).map_err(|e| match e.line {
                    Some(l) => format!("linearizability: line {l}: {}", e.message),
                    None => format!("linearizability: {}", e.message),
                })?;
                verdicts.push(report.valid);
                out.insert(
                    "linearizable".into(),
                    serde_json::to_value(&report).map_err(|e| e.to_string())?,
                );
            }
            CheckerKind::SetFull => {
                let report = set_full(history, &SetFullOptions { linearizable: true })
                    .map_err(|e| format!("set-full: {e}"))?;
                verdicts.push(report.valid);
                out.insert("set-full".into(), report.to_value());
            }
            CheckerKind::Stats => {}
        }
    }
    let st = stats(history);
    verdicts.push(st.valid);
    out.insert("stats".into(), st.to_value());
    let ops = history
        .ops
        .iter()
        .filter(|o| !o.process.is_nemesis() && o.op_type == OpType::Invoke)
        .count();
    let mut valid = Validity::all(verdicts);
    if st.ok == 0 {
        valid = valid.and(Validity::Unknown);
    }
    Ok(Checked {
        valid,
        results: json!({
            "valid": valid,
            "checkers": Value::Object(out),
            "ops": ops,
            "elapsed_ms": started.elapsed().as_secs_f64() * 1000.0,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::{Op, Process};
    use workloads::clients::CAS_MISMATCH;

    fn op(i: u64, t: OpType, p: u64, f: &str, v: Value, err: Option<&str>) -> Op {
        let mut o = Op::new(i, i as i64, t, Process::Client(p), f, v).with_key(json!("k0"));
        o.error = err.map(|e| json!(e));
        o
    }

    #[test]
    fn only_cas_mismatch_fails_constrain_the_register() {
        let with = |error: &str| {
            History::new(vec![
                op(0, OpType::Invoke, 1, "write", json!(1), None),
                op(1, OpType::Ok, 1, "write", json!(1), None),
                op(2, OpType::Invoke, 0, "cas", json!([1, 2]), None),
                op(3, OpType::Fail, 0, "cas", json!([1, 2]), Some(error)),
                op(4, OpType::Invoke, 1, "read", Value::Null, None),
                op(5, OpType::Ok, 1, "read", json!(1), None),
            ])
        };
        let lin = [CheckerKind::Linearizable {
            model: "cas-register",
        }];
        let opts = CheckOptions {
            linear_timeout: Duration::from_secs(10),
        };
        // A cas refused by a follower did not happen and says nothing about the value.
        let refused = check_history(&with("not_leader"), &lin, &opts).unwrap();
        assert_eq!(refused.valid, Validity::Valid);
        // A cas that failed on compare claims the value was not 1: impossible here.
        let mismatch = check_history(&with(CAS_MISMATCH), &lin, &opts).unwrap();
        assert_eq!(mismatch.valid, Validity::Invalid);
    }

    #[test]
    fn nothing_ok_is_unknown_and_a_stale_read_is_invalid() {
        let failing = History::new(vec![
            op(0, OpType::Invoke, 0, "write", json!(1), None),
            op(1, OpType::Fail, 0, "write", json!(1), Some("not_leader")),
        ]);
        let lin = [
            CheckerKind::Linearizable {
                model: "cas-register",
            },
            CheckerKind::Stats,
        ];
        let opts = CheckOptions {
            linear_timeout: Duration::from_secs(10),
        };
        let c = check_history(&failing, &lin, &opts).unwrap();
        assert_eq!(c.valid, Validity::Unknown);
        assert_eq!(c.results["ops"], 1);
        let stale = History::new(vec![
            op(0, OpType::Invoke, 0, "write", json!(1), None),
            op(1, OpType::Ok, 0, "write", json!(1), None),
            op(2, OpType::Invoke, 1, "read", Value::Null, None),
            op(3, OpType::Ok, 1, "read", Value::Null, None),
        ]);
        let c = check_history(&stale, &lin, &opts).unwrap();
        assert_eq!(c.valid, Validity::Invalid, "{}", c.results);
        assert_eq!(c.results["valid"], json!(false));
        assert!(c.results["checkers"]["linearizable"].is_object());
        assert!(c.results["checkers"]["stats"]["valid"].is_boolean());
        let fine = History::new(stale.ops[..2].to_vec());
        assert_eq!(
            check_history(&fine, &lin, &opts).unwrap().valid,
            Validity::Valid
        );
    }
}
