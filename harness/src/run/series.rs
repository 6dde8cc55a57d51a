//! `--test-count` runs in a row ([`run_tests`]) and what is said about them at the end: the
//! JUnit file, the summary table (several runs) and the last JSON line on stdout.

use super::config::TestConfig;
use super::junit;
use super::once::{run_once, RunOutcome};
use super::signals::Interrupt;
use crate::exit::HarnessError;
use checker::Validity;
use serde_json::{json, Value};
use std::path::PathBuf;

/// A run that ended in an error: the error, its folder if one was made, its seed.
type FailedRun = (HarnessError, Option<PathBuf>, u64);

type Outcomes = Vec<Result<RunOutcome, FailedRun>>;

/// Runs `cfg.test_count` tests in a row, prints the summary (several runs) and the last
/// JSON line, writes JUnit if asked, and returns the worst verdict (a failed run is an
/// error, and stops the series when it is bad input or a signal).
pub fn run_tests(cfg: TestConfig) -> Result<Validity, HarnessError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("harness-rt")
        .build()
        .map_err(|e| HarnessError::Failed(format!("starting the async runtime: {e}")))?;
    let interrupt = rt.block_on(async { Interrupt::install() })?;
    let mut outcomes: Outcomes = Vec::new();
    for i in 0..cfg.test_count {
        if interrupt.is_set() {
            break;
        }
        let c = cfg.for_run(i);
        match run_once(&rt, &c, &interrupt) {
            Ok(o) => outcomes.push(Ok(o)),
            Err((e, dir)) => {
                eprintln!(
                    "harness: run {} of {} (seed {}) failed: {e}",
                    i + 1,
                    cfg.test_count,
                    c.seed
                );
                let stop = matches!(e, HarnessError::BadInput(_)) || interrupt.is_set();
                outcomes.push(Err((e, dir, c.seed)));
                if stop {
                    break;
                }
            }
        }
    }
    if let Some(path) = &cfg.junit {
        write_junit(path, &cfg.name, &outcomes);
    }
    if cfg.test_count > 1 {
        print_summary_table(&outcomes);
    }
    finish(&cfg, &outcomes, interrupt.is_set())
}

fn dir_text(dir: &Option<PathBuf>) -> Option<String> {
    dir.as_ref().map(|d| d.display().to_string())
}

fn write_junit(path: &std::path::Path, name: &str, outcomes: &Outcomes) {
    let runs: Vec<junit::JunitRun> = outcomes
        .iter()
        .map(|o| match o {
            Ok(o) => junit::JunitRun {
                name: name.to_string(),
                dir: o.dir.display().to_string(),
                results: Some(o.results.to_json()),
                error: None,
                seconds: o.seconds,
            },
            Err((e, dir, _)) => junit::JunitRun {
                name: name.to_string(),
                dir: dir_text(dir).unwrap_or_default(),
                results: None,
                error: Some(e.to_string()),
                seconds: 0.0,
            },
        })
        .collect();
    if let Err(e) = std::fs::write(path, junit::render(&runs)) {
        eprintln!("harness: cannot write JUnit report {}: {e}", path.display());
    }
}

fn print_summary_table(outcomes: &Outcomes) {
    println!(
        "{:<4} {:<22} {:<8} {:>8}  results",
        "run", "seed", "valid", "ops"
    );
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Ok(o) => println!(
                "{:<4} {:<22} {:<8} {:>8}  {}",
                i + 1,
                o.seed,
                o.valid.to_string(),
                o.results.ops,
                o.dir.display()
            ),
            Err((e, dir, seed)) => println!(
                "{:<4} {:<22} {:<8} {:>8}  {} ({})",
                i + 1,
                seed,
                "error",
                "-",
                dir_text(dir).unwrap_or_else(|| "-".into()),
                e.to_string().lines().next().unwrap_or("")
            ),
        }
    }
}

/// Prints the last JSON line and returns the series' answer.
fn finish(
    cfg: &TestConfig,
    outcomes: &Outcomes,
    interrupted: bool,
) -> Result<Validity, HarnessError> {
    let worst = Validity::all(
        outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|o| o.valid),
    );
    let last_dir = outcomes.iter().rev().find_map(|o| match o {
        Ok(o) => Some(o.dir.clone()),
        Err((_, d, _)) => d.clone(),
    });
    let mut line = json!({
        "valid": worst,
        "results": dir_text(&last_dir),
        "name": cfg.name,
    });
    if cfg.test_count > 1 {
        line["runs"] = Value::Array(outcomes.iter().map(run_json).collect());
    } else if let Some(Ok(o)) = outcomes.first() {
        line["seed"] = json!(o.seed);
        line["ops"] = json!(o.results.ops);
    }
    let failure = match outcomes.iter().find_map(|o| o.as_ref().err()) {
        Some((e, _, _)) => Some((e.to_string(), copy_error(e))),
        None if interrupted => Some((
            "interrupted".to_string(),
            HarnessError::Failed("interrupted by a signal; the cluster was cleaned up".into()),
        )),
        None => None,
    };
    if let Some((text, _)) = &failure {
        line["valid"] = Value::Null;
        line["error"] = json!(text);
    }
    println!("{line}");
    match failure {
        Some((_, e)) => Err(e),
        None => Ok(worst),
    }
}

fn run_json(o: &Result<RunOutcome, FailedRun>) -> Value {
    match o {
        Ok(o) => {
            json!({"seed": o.seed, "valid": o.valid, "results": o.dir.display().to_string(), "ops": o.results.ops})
        }
        Err((e, d, seed)) => {
            json!({"seed": seed, "valid": null, "error": e.to_string(), "results": dir_text(d)})
        }
    }
}

fn copy_error(e: &HarnessError) -> HarnessError {
    match e {
        HarnessError::BadInput(m) => HarnessError::BadInput(m.clone()),
        HarnessError::Failed(m) => HarnessError::Failed(m.clone()),
    }
}
