//! `harness hunt`: short seeded tests back to back, rotating the workloads the system speaks
//! and the nemesis [`schedules`] it can run, until one fails or the time budget runs out.
//! Every run is built from a `harness test` command line ([`plan::Plan::argv`]), so the
//! failing run is reproduced exactly by the command printed at the end. Exit codes as for
//! `test`: 1 when a run was invalid, 2 when some verdict was unknown and none invalid, 0 when
//! nothing was found; bad flags 254, a run that could not run 255.

pub mod args;
pub mod budget;
pub mod plan;
pub mod schedules;

use crate::exit::{HarnessError, Outcome};
use crate::run::junit::{self, JunitRun};
use crate::run::once::run_once;
use crate::run::signals::Interrupt;
pub use args::HuntArgs;
use checker::Validity;
use plan::{Plan, Slot};
use std::path::PathBuf;
use std::time::Instant;

/// What the hunt saw.
#[derive(Debug, Default)]
struct Tally {
    runs: usize,
    unknown: usize,
    errors: Vec<String>,
    junit: Vec<JunitRun>,
    found: Option<(Slot, u64, PathBuf)>,
}

pub fn run(args: HuntArgs) -> Result<Outcome, HarnessError> {
    let budget = budget::parse(&args.budget)
        .map_err(|e| HarnessError::BadInput(format!("--budget {}: {e}", args.budget)))?;
    let seed = args.seed.unwrap_or_else(rand::random::<u64>);
    let plan = Plan::new(&args, seed)?;
    for line in plan.describe() {
        println!("{line}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("harness-rt")
        .build()
        .map_err(|e| HarnessError::Failed(format!("starting the async runtime: {e}")))?;
    let interrupt = rt.block_on(async { Interrupt::install() })?;
    let start = Instant::now();
    let mut tally = Tally::default();
    while start.elapsed() < budget && !interrupt.is_set() && tally.found.is_none() {
        let k = tally.runs;
        let slot = plan.slot(k);
        let run_seed = seed.wrapping_add(k as u64);
        let cfg = plan.config(&slot, run_seed)?;
        tally.runs += 1;
        let line_head = format!(
            "hunt run {:>3} at {:>6.1}s  {:<9} {:<32} seed {:<20}",
            k + 1,
            start.elapsed().as_secs_f64(),
            slot.workload,
            slot.schedule.name,
            run_seed
        );
        match run_once(&rt, &cfg, &interrupt) {
            Ok(o) => {
                println!(
                    "{line_head} {:<8} {:>6} ops  {}",
                    o.valid.to_string(),
                    o.results.ops,
                    o.dir.display()
                );
                tally.junit.push(JunitRun {
                    name: cfg.name.clone(),
                    dir: o.dir.display().to_string(),
                    results: Some(o.results.to_json()),
                    error: None,
                    seconds: o.seconds,
                });
                match o.valid {
                    Validity::Invalid => tally.found = Some((slot, run_seed, o.dir)),
                    Validity::Unknown => tally.unknown += 1,
                    Validity::Valid => {}
                }
            }
            Err((e, dir)) => {
                let first = e.to_string().lines().next().unwrap_or("").to_string();
                println!("{line_head} error     {first}");
                tally.junit.push(JunitRun {
                    name: cfg.name.clone(),
                    dir: dir.map(|d| d.display().to_string()).unwrap_or_default(),
                    results: None,
                    error: Some(e.to_string()),
                    seconds: 0.0,
                });
                if matches!(e, HarnessError::BadInput(_)) {
                    return Err(e);
                }
                tally.errors.push(first);
            }
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit::render(&tally.junit)) {
            eprintln!("harness: cannot write JUnit report {}: {e}", path.display());
        }
    }
    conclude(
        &plan,
        &tally,
        start.elapsed().as_secs_f64(),
        interrupt.is_set(),
    )
}

/// Prints the hunt's conclusion and returns its answer.
fn conclude(
    plan: &Plan,
    tally: &Tally,
    seconds: f64,
    interrupted: bool,
) -> Result<Outcome, HarnessError> {
    if let Some((slot, seed, dir)) = &tally.found {
        println!(
            "hunt: FOUND after {} runs, {seconds:.0} seconds: {} under {}",
            tally.runs, slot.workload, slot.schedule.name
        );
        println!("results: {}", dir.display());
        println!("reproduce: {}", plan::shell_line(&plan.argv(slot, *seed)));
        return Ok(Outcome::Verdict(Validity::Invalid));
    }
    println!(
        "hunt: nothing found in {} runs, {seconds:.0} seconds{}",
        tally.runs,
        if tally.unknown > 0 {
            format!(" ({} runs with an unknown verdict)", tally.unknown)
        } else {
            String::new()
        }
    );
    if interrupted {
        return Err(HarnessError::Failed(
            "interrupted by a signal; the cluster was cleaned up".into(),
        ));
    }
    if !tally.errors.is_empty() {
        return Err(HarnessError::Failed(format!(
            "{} of {} runs could not run; first: {}",
            tally.errors.len(),
            tally.runs,
            tally.errors[0]
        )));
    }
    Ok(Outcome::Verdict(if tally.unknown > 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    }))
}
