//! Verdict parity with Knossos on its own test data (`jepsen-io/knossos`, folder `data/`:
//! `cas-register/good` and `bad`, `multi-register/good`), read as EDN with the default
//! reading of failed ops (ignore, Knossos's). The data is not vendored (EPL-licensed): the
//! test is ignored and needs `KNOSSOS_DATA=/path/to/knossos/data`:
//!
//!     KNOSSOS_DATA=/tmp/knossos-data/data cargo test --release -p checker --test knossos_data -- --ignored --nocapture

use checker::format;
use checker::linear::{self, LinearOptions};
use checker::model::{self, FailedOps, ModelKind};
use checker::{History, Op, OpType, Process, Validity};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

fn data_dir() -> PathBuf {
    let dir = std::env::var_os("KNOSSOS_DATA")
        .map(PathBuf::from)
        .expect("set KNOSSOS_DATA to Knossos's data/ folder");
    assert!(
        dir.join("cas-register").is_dir(),
        "{}: no cas-register/",
        dir.display()
    );
    dir
}

fn files(dir: PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "edn"))
        .collect();
    v.sort();
    v
}

/// Knossos's test checks `multi-register.edn` from `{:x 0 :y 0}`; our registers start
/// nil, so the same start is a first transaction writing both, completed before the rest.
fn with_initial_registers(h: &History) -> History {
    let init = json!([["write", "x", 0], ["write", "y", 0]]);
    let p = Process::Client(u64::MAX);
    let mut ops = vec![
        Op::new(0, 0, OpType::Invoke, p, "txn", init.clone()),
        Op::new(0, 0, OpType::Ok, p, "txn", init),
    ];
    ops.extend(h.ops.iter().cloned());
    History::new(ops)
}

#[test]
#[ignore = "needs KNOSSOS_DATA (Knossos's data/ folder)"]
fn knossos_verdicts_on_its_own_data() {
    let dir = data_dir();
    let mut wrong = Vec::new();
    let mut checked = 0;
    let mut invalid_under_observe = 0;
    for (sub, want) in [
        ("cas-register/good", Validity::Valid),
        ("cas-register/bad", Validity::Invalid),
        ("multi-register/good", Validity::Valid),
    ] {
        for path in files(dir.join(sub)) {
            let read = match format::read_file(&path, None) {
                Ok(r) => r,
                Err(e) => {
                    wrong.push(format!("{}: read error {e}", path.display()));
                    continue;
                }
            };
            let model =
                model::infer_model(&read.history, read.format).unwrap_or(ModelKind::CasRegister);
            let history = if sub.starts_with("multi-register") {
                with_initial_registers(&read.history)
            } else {
                read.history.clone()
            };
            let opts = LinearOptions {
                failed_ops: read.default_failed_ops(),
                timeout: Some(Duration::from_secs(30)),
                counterexample: false,
                ..LinearOptions::default()
            };
            checked += 1;
            let observe = LinearOptions {
                failed_ops: FailedOps::Observe,
                ..opts.clone()
            };
            if want == Validity::Valid
                && linear::check(&history, model, &observe)
                    .is_ok_and(|r| r.valid == Validity::Invalid)
            {
                invalid_under_observe += 1;
            }
            match linear::check(&history, model, &opts) {
                Ok(r) if r.valid == want => {}
                Ok(r) => wrong.push(format!(
                    "{}: {} ({model}), Knossos: {want}",
                    path.display(),
                    r.valid
                )),
                Err(e) => wrong.push(format!("{}: check error {e}", path.display())),
            }
        }
    }
    println!(
        "{checked} files checked, {} disagree; {invalid_under_observe} of Knossos's valid ones are invalid under --failed-ops observe",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
