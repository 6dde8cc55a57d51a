//! One test, start to verdict: phase `setup` (the system built and its binaries found, the
//! run folder, `test.json`, the history file), the cluster phases
//! ([`super::cluster_phases`]), phase `check` (the history file completed, then checked
//! through the one results path, [`super::results`]) and phase `report` (the HTML report, the
//! `latest` links, the store index).

use super::cluster_phases::{self, Ctx};
use super::config::{system_error, TestConfig};
use super::journal::{Journal, JournalWriter};
use super::phases::PhaseTimes;
use super::progress::ProgressState;
use super::results::{self, CheckOptions, Results};
use super::signals::Interrupt;
use super::store::{self, RunDir};
use crate::exit::HarnessError;
use crate::logging::{self, RunLog};
use crate::netmode::NetMode;
use crate::pathio::PathError;
use crate::systems::{self, System};
use checker::linear::LinearOptions;
use checker::Validity;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use workloads::Workload;

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub valid: Validity,
    pub dir: PathBuf,
    pub results: Results,
    pub seed: u64,
    pub seconds: f64,
}

/// A run that ended in an error: the error and its folder, if one was made.
pub type RunError = (HarnessError, Option<PathBuf>);

/// What `setup` made.
struct Setup {
    system: Box<dyn System>,
    run: RunDir,
    log: Arc<RunLog>,
    /// Tracing events go to this run's `harness.log` while it lives.
    _route: logging::RouteGuard,
    journal: Journal,
    writer: JournalWriter,
    /// `test.json`'s start time and git SHA (rewritten once the backend is known).
    start_time: String,
    sha: Option<String>,
    /// Time zero of the history.
    start: Instant,
    /// A passing run deletes the nodes' data (the system's capability).
    discards_data_on_pass: bool,
}

/// One test, start to verdict. Errors carry the run folder when it exists.
pub fn run_once(
    rt: &tokio::runtime::Runtime,
    cfg: &TestConfig,
    interrupt: &Interrupt,
) -> Result<RunOutcome, RunError> {
    let wall = Instant::now();
    let mut phases = PhaseTimes::new(wall);
    let mut s = setup(cfg)?;
    let dir = s.run.dir.clone();
    let fail = |e: HarnessError| (e, Some(dir.clone()));
    phases.done_since("setup", wall, &s.log);
    let mut ctx = Ctx {
        cfg,
        journal: s.journal.clone(),
        log: s.log.clone(),
        interrupt,
        start: s.start,
        phases: &mut phases,
        progress: ProgressState::new(),
    };
    let cluster = rt.block_on(cluster_phases::run(&mut ctx, s.system, &dir));
    let mut results = check(cfg, &dir, s.writer, cluster, &s.log, &mut phases).map_err(fail)?;
    if results.1 != cfg.net {
        let test = cfg.test_json(results.1, &s.start_time, s.sha.as_deref());
        store::write_json(&dir.join("test.json"), &test).map_err(|e| fail(e.into()))?;
    }
    let discards = s.discards_data_on_pass;
    report(
        cfg,
        &mut s.run,
        discards,
        &mut results.0,
        &s.log,
        &mut phases,
    )
    .map_err(|e| (e, Some(s.run.dir.clone())))?;
    Ok(RunOutcome {
        valid: results.0.valid,
        dir: s.run.dir,
        results: results.0,
        seed: cfg.seed,
        seconds: wall.elapsed().as_secs_f64(),
    })
}

/// Phase `setup`: the system built and its binaries found, the run folder, `harness.log`,
/// `test.json`, the history file.
fn setup(cfg: &TestConfig) -> Result<Setup, RunError> {
    let mut system = systems::build(&cfg.system).map_err(|e| (system_error(e), None))?;
    system
        .locate_binaries()
        .map_err(|e| (system_error(e), None))?;
    let label = store::run_label(cfg.seed, &cfg.system.bugs);
    let run = RunDir::create(&cfg.store, &cfg.name, &label).map_err(|e| {
        let why = format!("the run folder (--store {}): {e}", cfg.store.display());
        (HarnessError::Failed(why), None)
    })?;
    let dir = run.dir.clone();
    let fail = |e: PathError| (HarnessError::from(e), Some(dir.clone()));
    let log_path = dir.join("harness.log");
    let log =
        RunLog::open(&log_path, true).map_err(|e| fail(PathError::new("opening", &log_path, e)))?;
    let log = Arc::new(log);
    let route = logging::route_to(log.clone());
    log.log(&format!(
        "run {} seed {} → {}",
        cfg.name,
        cfg.seed,
        dir.display()
    ));
    let netns = crate::cluster::net::netns::available();
    if let Some(note) = system.loopback_note(cfg.net, &netns) {
        log.log(&note);
    }
    let sha = store::git_sha();
    let start_time = logging::rfc3339(time::OffsetDateTime::now_utc());
    let test = cfg.test_json(cfg.net, &start_time, sha.as_deref());
    store::write_json(&dir.join("test.json"), &test).map_err(fail)?;
    let start = Instant::now();
    let history = dir.join("history.jsonl");
    let (journal, writer) = Journal::create(&history, start)
        .map_err(|e| fail(PathError::new("creating", &history, e)))?;
    Ok(Setup {
        discards_data_on_pass: system.capabilities().discards_data_on_pass,
        system,
        run,
        log,
        _route: route,
        journal,
        writer,
        start_time,
        sha,
        start,
    })
}

/// Phase `check`: waits for the history file to be complete, then checks it with the
/// workload's checkers. Returns the results and the backend the cluster used.
fn check(
    cfg: &TestConfig,
    dir: &std::path::Path,
    writer: JournalWriter,
    cluster: Result<NetMode, HarnessError>,
    log: &RunLog,
    phases: &mut PhaseTimes,
) -> Result<(Results, NetMode), HarnessError> {
    let t = Instant::now();
    let (history, write_error) = writer.close();
    if let Some(e) = write_error {
        log.log(&format!("writing history.jsonl failed: {e}"));
        let path = dir.join("history.jsonl");
        return Err(HarnessError::Failed(format!(
            "writing {}: {e}",
            path.display()
        )));
    }
    let net = cluster.inspect_err(|e| log.log(&format!("run failed: {e}")))?;
    log.log(&format!("checking {} events", history.len()));
    let workload = Workload::new(cfg.workload.clone());
    let opts = CheckOptions {
        linear: LinearOptions {
            timeout: Some(cfg.check_timeout),
            ..LinearOptions::default()
        },
        ops_from_linear: false,
        link_loss: cfg.link.loss,
        ..CheckOptions::default()
    };
    let results = results::check(&history, &workload.checkers(), &opts).map_err(|e| {
        let path = dir.join("history.jsonl");
        HarnessError::Failed(format!("checking {}: {e}", path.display()))
    })?;
    phases.done_since("check", t, log);
    Ok((results, net))
}

/// Phase `report`: the folder renamed to end in the verdict, `results.json` (then again
/// with the report's time), the node data of a passing run of a system that discards it,
/// the `latest` links, the report and the store index.
fn report(
    cfg: &TestConfig,
    run: &mut RunDir,
    discards_data_on_pass: bool,
    results: &mut Results,
    log: &RunLog,
    phases: &mut PhaseTimes,
) -> Result<(), HarnessError> {
    match run.mark_verdict(results.valid) {
        Ok(()) => log.log(&format!("run folder: {}", run.dir.display())),
        Err(e) => log.log(&format!("keeping the folder's name: {e}")),
    }
    let dir = &run.dir;
    results.phases_ms = Some(phases.legacy_json());
    results.phases = Some(phases.to_json());
    results.write(dir)?;
    log.log(&format!("verdict {} ({} ops)", results.valid, results.ops));
    if results.valid == Validity::Valid && discards_data_on_pass {
        discard_node_data(dir, log);
    }
    if let Err(e) = run.update_latest() {
        log.log(&format!("cannot update the latest links: {e}"));
    }
    let t = Instant::now();
    if !cfg.no_report {
        results::log_published(&results::render_report(dir, Some(&cfg.store)), log);
    }
    phases.done_since("report", t, log);
    log.log(&format!("phases: {}", phases.summary()));
    results.phases = Some(phases.to_json());
    if let Err(e) = results.write(dir) {
        log.log(&format!("adding the report time to results.json: {e}"));
    }
    Ok(())
}

/// Deletes the nodes' data directories (their logs stay).
fn discard_node_data(dir: &std::path::Path, log: &RunLog) {
    match store::delete_node_data(dir) {
        Ok(bytes) => log.log(&format!(
            "passing run: deleted the nodes' data directories ({} MB)",
            bytes / 1_000_000
        )),
        Err(e) => log.log(&format!("deleting the nodes' data directories: {e}")),
    }
}
