//! The one results path of `test`, `analyze` and `check --report`: check a history with a
//! list of checkers ([`check`]; stats always added), the typed [`Results`] it gives (what
//! `results.json` holds, docs/design.md "Results store"), writing it, and rendering the
//! report from it ([`publish`]). Verdicts combine so that false beats unknown beats true, and
//! a history in which no client operation succeeded is `unknown`.
//!
//! The linearizability checker reads `fail` as "did not happen", except a cas whose error is
//! `cas-mismatch` (the node evaluated the comparison and it did not hold: a real
//! observation); see docs/design.md, "What fail means".

use crate::logging::RunLog;
use crate::pathio::PathError;
use checker::checkers::election::election;
use checker::checkers::generals::{generals, GeneralsOptions};
use checker::checkers::{
    exceptions, fencing, lock_overlap, set_full, stats_with, NothingOk, SetFullOptions,
    StatsOptions,
};
use checker::linear::{self, LinearError, LinearOptions};
use checker::{History, OpType, Validity};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use workloads::CheckerKind;

/// What `results.json` holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Results {
    /// The combined verdict.
    pub valid: Validity,
    /// Each checker's report, by name (`linearizable`, `set-full`, `stats`, `exceptions`).
    pub checkers: Map<String, Value>,
    /// Client operations: invocations (a run, `analyze`), or the calls the linearizability
    /// checker saw (`check`).
    pub ops: usize,
    pub elapsed_ms: f64,
    /// A run's phase times (`{"setup_ms": .., "total_ms": ..}`); absent for `check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Value>,
    /// The older phase object, kept with its original names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases_ms: Option<Value>,
    /// `check`: how failed operations were read (`ignore` or `observe`), where that came
    /// from (`format` or `flag`), and the verdict under the other reading when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_ops: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_ops_source: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_reading: Option<Value>,
}

/// Budgets and how to count.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub linear: LinearOptions,
    /// Count `ops` as the linearizability checker's calls instead of client invocations.
    pub ops_from_linear: bool,
    /// What a history with no ok operation gives: `unknown` (`test`, `analyze`: a run that
    /// did nothing proves nothing) or the linearizability verdict with a warning (`check`,
    /// as Knossos and Porcupine do).
    pub nothing_ok: NothingOk,
    /// The whole run's loss on every node-to-node link (`--link-loss`), which the generals
    /// checker adds to the loss faults the history records.
    pub link_loss: f64,
}

/// Why a history could not be checked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    /// The history does not fit the linearizability model (names the line when known).
    #[error("linearizability: {}{}", .0.line.map(|l| format!("line {l}: ")).unwrap_or_default(), .0.message)]
    Linear(LinearError),
    /// The set-full checker could not read the history.
    #[error("set-full: {0}")]
    SetFull(String),
    /// The election checker could not read the history.
    #[error("election: {0}")]
    Election(String),
    /// The generals checker could not read the history.
    #[error("generals: {0}")]
    Generals(String),
    /// The total-order checker could not read the history.
    #[error("total-order: {0}")]
    TotalOrder(String),
    /// The broadcast checker could not read the history.
    #[error("broadcast: {0}")]
    Broadcast(String),
    /// The lock-overlap checker could not read the history.
    #[error("lock-overlap: {0}")]
    LockOverlap(String),
    /// The fencing checker could not read the history.
    #[error("fencing: {0}")]
    Fencing(String),
}

/// Checks `history` with `checkers` (stats is always added) into [`Results`].
pub fn check(
    history: &History,
    checkers: &[CheckerKind],
    opts: &CheckOptions,
) -> Result<Results, CheckError> {
    let started = Instant::now();
    let mut out = Map::new();
    let mut verdicts = Vec::new();
    let mut linear_ops = None;
    for c in checkers {
        let (name, valid, report) = match *c {
            CheckerKind::Linearizable { model } => {
                let report =
                    linear::check(history, model, &opts.linear).map_err(CheckError::Linear)?;
                linear_ops = Some(report.ops);
                let value = serde_json::to_value(&report).unwrap_or(Value::Null);
                ("linearizable", report.valid, value)
            }
            CheckerKind::SetFull { linearizable } => {
                let report = set_full(history, &SetFullOptions { linearizable })
                    .map_err(|e| CheckError::SetFull(e.to_string()))?;
                ("set-full", report.valid, report.to_value())
            }
            CheckerKind::Election => {
                let report = election(history).map_err(|e| CheckError::Election(e.to_string()))?;
                ("election", report.valid, report.to_value())
            }
            CheckerKind::Generals => {
                let gopts = GeneralsOptions {
                    link_loss: opts.link_loss,
                };
                let report =
                    generals(history, &gopts).map_err(|e| CheckError::Generals(e.to_string()))?;
                ("generals", report.valid, report.to_value())
            }
            CheckerKind::TotalOrder => {
                let report = checker::checkers::total_order::total_order(history)
                    .map_err(|e| CheckError::TotalOrder(e.to_string()))?;
                ("total-order", report.valid, report.to_value())
            }
            CheckerKind::Broadcast => {
                let report = checker::checkers::broadcast(history)
                    .map_err(|e| CheckError::Broadcast(e.to_string()))?;
                ("broadcast", report.valid, report.to_value())
            }
            CheckerKind::LockOverlap => {
                let report =
                    lock_overlap(history).map_err(|e| CheckError::LockOverlap(e.to_string()))?;
                ("lock-overlap", report.valid, report.to_value())
            }
            CheckerKind::Fencing => {
                let report = fencing(history).map_err(|e| CheckError::Fencing(e.to_string()))?;
                ("fencing", report.valid, report.to_value())
            }
            CheckerKind::Exceptions => {
                let report = exceptions(history);
                ("exceptions", report.valid, report.to_value())
            }
            CheckerKind::Stats => continue,
        };
        verdicts.push(valid);
        out.insert(name.into(), report);
    }
    let st = stats_with(
        history,
        &StatsOptions {
            nothing_ok: opts.nothing_ok,
        },
    );
    verdicts.push(st.valid);
    out.insert("stats".into(), st.to_value());
    let invocations = history
        .ops
        .iter()
        .filter(|o| !o.process.is_nemesis() && o.op_type == OpType::Invoke)
        .count();
    let mut valid = Validity::all(verdicts);
    if st.ok == 0 && opts.nothing_ok == NothingOk::Unknown {
        valid = valid.and(Validity::Unknown);
    }
    Ok(Results {
        valid,
        checkers: out,
        ops: match (opts.ops_from_linear, linear_ops) {
            (true, Some(n)) => n,
            _ => invocations,
        },
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        phases: None,
        phases_ms: None,
        failed_ops: None,
        failed_ops_source: None,
        other_reading: None,
    })
}

impl Results {
    /// As JSON (the `results.json` document).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// From a `results.json` document, if it has the shape.
    pub fn from_json(v: &Value) -> Option<Results> {
        serde_json::from_value(v.clone()).ok()
    }

    /// Reads `dir/results.json`, if it is there and parses.
    pub fn read(dir: &Path) -> Option<Results> {
        let text = std::fs::read_to_string(dir.join("results.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes `dir/results.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), PathError> {
        super::store::write_json(&dir.join("results.json"), &self.to_json())
    }
}

/// How a report rendering went, for the caller to log.
#[derive(Debug, Default)]
pub struct Published {
    pub html: Option<PathBuf>,
    /// Problems that did not stop the rest (a plot that failed, the store index).
    pub problems: Vec<String>,
}

/// Writes `results.json` into `dir` and renders the report from it (and, with `index_root`,
/// the store's index page). A failed `results.json` write is an error; report problems are
/// returned for the caller to log.
pub fn publish(
    dir: &Path,
    results: &Results,
    index_root: Option<&Path>,
    title: Option<&str>,
) -> Result<Published, PathError> {
    results.write(dir)?;
    Ok(render_report_titled(dir, index_root, title))
}

/// Renders `dir`'s report (and the store index with `index_root`); never fails, the
/// problems are returned.
pub fn render_report(dir: &Path, index_root: Option<&Path>) -> Published {
    render_report_titled(dir, index_root, None)
}

/// [`render_report`] with the page named `title` (e.g. the checked file's name) instead of
/// the run folder's.
pub fn render_report_titled(
    dir: &Path,
    index_root: Option<&Path>,
    title: Option<&str>,
) -> Published {
    let mut out = Published::default();
    match crate::report::render_run_titled(dir, title) {
        Ok(r) => {
            out.html = Some(r.html.clone());
            for w in r.warnings {
                out.problems.push(format!("report: {w}"));
            }
            for f in r.failures {
                out.problems
                    .push(format!("report: {} failed: {}", f.artifact, f.message));
            }
        }
        Err(e) => out.problems.push(format!("report failed: {e}")),
    }
    if let Some(root) = index_root {
        if let Err(e) = crate::report::render_index(root) {
            out.problems.push(format!("store index failed: {e}"));
        }
    }
    out
}

/// Logs what [`render_report`] did into a run's log.
pub fn log_published(p: &Published, log: &RunLog) {
    if let Some(html) = &p.html {
        log.log(&format!("report: {}", html.display()));
    }
    for problem in &p.problems {
        log.log(problem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checker::model::ModelKind;
    use checker::{Op, Process};
    use serde_json::json;
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
            model: ModelKind::CasRegister,
        }];
        let opts = CheckOptions::default();
        // A cas refused by a follower did not happen and says nothing about the value.
        let refused = check(&with("not_leader"), &lin, &opts).unwrap();
        assert_eq!(refused.valid, Validity::Valid);
        // A cas that failed on compare claims the value was not 1: impossible here.
        let mismatch = check(&with(CAS_MISMATCH), &lin, &opts).unwrap();
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
                model: ModelKind::CasRegister,
            },
            CheckerKind::Stats,
        ];
        let opts = CheckOptions::default();
        let c = check(&failing, &lin, &opts).unwrap();
        assert_eq!(c.valid, Validity::Unknown);
        assert_eq!(c.ops, 1);
        let stale = History::new(vec![
            op(0, OpType::Invoke, 0, "write", json!(1), None),
            op(1, OpType::Ok, 0, "write", json!(1), None),
            op(2, OpType::Invoke, 1, "read", Value::Null, None),
            op(3, OpType::Ok, 1, "read", Value::Null, None),
        ]);
        let c = check(&stale, &lin, &opts).unwrap();
        let j = c.to_json();
        assert_eq!(c.valid, Validity::Invalid, "{j}");
        assert_eq!(j["valid"], json!(false));
        assert!(j["checkers"]["linearizable"].is_object());
        assert!(j["checkers"]["stats"]["valid"].is_boolean());
        assert!(j.get("phases").is_none(), "{j}");
        assert_eq!(Results::from_json(&j), Some(c.clone()));
        let fine = History::new(stale.ops[..2].to_vec());
        assert_eq!(check(&fine, &lin, &opts).unwrap().valid, Validity::Valid);
    }
}
