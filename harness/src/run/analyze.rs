//! `harness analyze DIR`: re-check a stored run. Reads `DIR/test.json` (which workload,
//! its parameters) and `DIR/history.jsonl` (through the checker's reader), checks again
//! through the one results path ([`super::results`]), rewrites `results.json` (keeping the
//! run's phase times) and the report, and returns the verdict.

use super::results::{self, CheckOptions, Results};
use crate::exit::HarnessError;
use crate::logging::RunLog;
use crate::pathio::PathError;
use checker::linear::LinearOptions;
use checker::Validity;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use workloads::{Workload, WorkloadKind, WorkloadOptions};

/// What `analyze` found.
#[derive(Debug, Clone)]
pub struct Analyzed {
    pub valid: Validity,
    pub dir: PathBuf,
    pub results: Results,
}

/// The workload a stored run used, from its `test.json` (default: register).
pub fn workload_from_test_json(test: &Value) -> Result<Workload, String> {
    let name = test
        .get("workload")
        .and_then(Value::as_str)
        .unwrap_or("register");
    let kind = WorkloadKind::parse(name).ok_or_else(|| format!("unknown workload `{name}`"))?;
    let get = |k: &str, d: u64| test.get(k).and_then(Value::as_u64).unwrap_or(d) as usize;
    Ok(Workload::new(WorkloadOptions {
        kind,
        concurrency: get("concurrency", 1),
        keys: get("keys", 1),
        ops_per_key: get("ops_per_key", 100),
        seed: test.get("seed").and_then(Value::as_u64).unwrap_or(0),
    }))
}

/// A run's JSON file, only if it is a regular file of bounded size (never blocks on a FIFO).
fn read_json_text(path: &Path) -> std::io::Result<String> {
    let bytes = crate::report::bounded::read_regular(path, crate::report::bounded::MAX_JSON_BYTES)?;
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Re-check `dir`; with `report`, re-render its report and the store index.
pub fn analyze(
    dir: &Path,
    check_timeout: Duration,
    report: bool,
) -> Result<Analyzed, HarnessError> {
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| HarnessError::BadInput(format!("{}: {e}", dir.display())))?;
    let hist = dir.join("history.jsonl");
    if !hist.is_file() {
        return Err(HarnessError::BadInput(format!(
            "{}: no history.jsonl: not a run folder",
            dir.display()
        )));
    }
    let test_path = dir.join("test.json");
    let test: Value = match read_json_text(&test_path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            HarnessError::BadInput(format!("{}:{}: {e}", test_path.display(), e.line()))
        })?,
        Err(_) => json!({}),
    };
    let workload = workload_from_test_json(&test)
        .map_err(|e| HarnessError::BadInput(format!("{}: {e}", test_path.display())))?;
    let read = checker::format::read_file(&hist, Some(checker::format::Format::Jsonl))
        .map_err(|e| HarnessError::BadInput(e.to_string()))?;
    let log_path = dir.join("harness.log");
    let log = RunLog::open(&log_path, false).map_err(PathError::at("opening", &log_path))?;
    for w in &read.warnings {
        eprintln!("harness: {}: {w}", hist.display());
        log.log(&format!("analyze: {w}"));
    }
    let opts = CheckOptions {
        linear: LinearOptions {
            timeout: Some(check_timeout),
            ..LinearOptions::default()
        },
        ops_from_linear: false,
        link_loss: test.get("link_loss").and_then(Value::as_f64).unwrap_or(0.0),
        ..CheckOptions::default()
    };
    let mut results = results::check(&read.history, &workload.checkers(), &opts)
        .map_err(|e| HarnessError::BadInput(format!("{}: {e}", hist.display())))?;
    // The run's phase times stay (a re-check is not a run).
    if let Some(old) = read_json_text(&dir.join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    {
        results.phases_ms = old.get("phases_ms").cloned();
        results.phases = old.get("phases").cloned();
    }
    results.write(&dir)?;
    log.log(&format!(
        "analyze: verdict {} ({} ops)",
        results.valid, results.ops
    ));
    // A folder named for another verdict (an UNKNOWN run checked with a longer budget) is
    // renamed, so a listing of the store stays true.
    let dir = super::store::rename_for_verdict(&dir, results.valid)?;
    if report {
        // The store root is two levels up: <store>/<name>/<stamp>.
        let root = dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.clone());
        results::log_published(&results::render_report(&dir, Some(&root)), &log);
    }
    Ok(Analyzed {
        valid: results.valid,
        dir,
        results,
    })
}
