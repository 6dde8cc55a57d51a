//! One test run, phase by phase (issue 4, DESIGN.md sections 3 to 6): set up (find the node
//! binaries, create the run folder), start the cluster, run the main phase (client workers
//! and the nemesis) for the time limit, heal, let the cluster recover, run the final reads,
//! stop the nodes (their logs stay in the run folder), check, write `results.json`, render
//! the report, point the `latest` links at the run.
//!
//! Submodules, one concern each: [`config`] (flags → typed config, `test.json`),
//! [`journal`] (the history writer), [`worker`] (client workers, final reads),
//! [`verdict`] (checkers → `results.json`), [`store`] (run folders, `latest` links,
//! `harness.log`), [`junit`] (JUnit XML), [`progress`] (the progress line),
//! [`signals`] (Ctrl-C / SIGTERM), [`analyze`] (re-checking a stored run), [`phases`]
//! (the wall time of each phase, in `results.json` and `harness.log`).

pub mod analyze;
pub mod config;
pub mod journal;
pub mod junit;
pub mod phases;
pub mod progress;
pub mod signals;
pub mod store;
pub mod verdict;
pub mod worker;

use crate::cluster::nemesis::{self, NemesisConfig, NemesisEvent};
use crate::cluster::{build_db, Cluster, ClusterConfig, ClusterError, DbError, NetMode};
use crate::exit::HarnessError;
use checker::{History, OpType, Process, Validity};
use config::TestConfig;
use journal::{Event, Journal};
use phases::PhaseTimes;
use progress::ProgressState;
use serde_json::{json, Value};
use signals::Interrupt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{RunDir, RunLog};
use workloads::clients::{Client, ClientConfig, Endpoint, Protocol};
use workloads::{Completion, Workload, WorkloadOptions};

/// How many leader redirects one client operation follows.
pub const MAX_REDIRECTS: u32 = 3;
/// Attempts of each final read before giving up on it.
pub const FINAL_READ_ATTEMPTS: usize = 5;
/// Final reads in flight per node (each a process of its own).
pub const FINAL_READ_PARALLEL: usize = 8;
/// How long the cluster gets to come up.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of one run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub valid: Validity,
    pub dir: std::path::PathBuf,
    pub results: Value,
    pub seed: u64,
    pub seconds: f64,
}

/// A run that ended in an error: the error, its folder if one was made, its seed.
type FailedRun = (HarnessError, Option<std::path::PathBuf>, u64);

/// Run `cfg.test_count` tests in a row, print the summary (several runs) and the last
/// JSON line, write JUnit if asked, and return the worst verdict (a failed run is an error).
pub fn run_tests(cfg: TestConfig) -> Result<Validity, HarnessError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("harness-rt")
        .build()
        .map_err(|e| HarnessError::Failed(format!("starting the async runtime: {e}")))?;
    let interrupt = rt.block_on(async { Interrupt::install() })?;
    let mut outcomes: Vec<Result<RunOutcome, FailedRun>> = Vec::new();
    for i in 0..cfg.test_count {
        let c = cfg.for_run(i);
        if interrupt.is_set() {
            break;
        }
        let seed = c.seed;
        match run_once(&rt, &c, &interrupt) {
            Ok(o) => outcomes.push(Ok(o)),
            Err((e, dir)) => {
                eprintln!(
                    "harness: run {} of {} (seed {seed}) failed: {e}",
                    i + 1,
                    cfg.test_count
                );
                let stop = matches!(e, HarnessError::BadInput(_)) || interrupt.is_set();
                outcomes.push(Err((e, dir, seed)));
                if stop {
                    break;
                }
            }
        }
    }
    if let Some(path) = &cfg.junit {
        let runs: Vec<junit::JunitRun> = outcomes
            .iter()
            .map(|o| match o {
                Ok(o) => junit::JunitRun {
                    name: cfg.name.clone(),
                    dir: o.dir.display().to_string(),
                    results: Some(o.results.clone()),
                    error: None,
                    seconds: o.seconds,
                },
                Err((e, dir, _)) => junit::JunitRun {
                    name: cfg.name.clone(),
                    dir: dir
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
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
    if cfg.test_count > 1 {
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
                    o.results["ops"],
                    o.dir.display()
                ),
                Err((e, dir, seed)) => println!(
                    "{:<4} {:<22} {:<8} {:>8}  {} ({})",
                    i + 1,
                    seed,
                    "error",
                    "-",
                    dir.as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|| "-".into()),
                    e.to_string().lines().next().unwrap_or("")
                ),
            }
        }
    }
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
    let first_err = outcomes.iter().find_map(|o| o.as_ref().err());
    let mut line = json!({
        "valid": worst,
        "results": last_dir.as_ref().map(|d| d.display().to_string()),
        "name": cfg.name,
    });
    if cfg.test_count > 1 {
        line["runs"] = Value::Array(
            outcomes
                .iter()
                .map(|o| match o {
                    Ok(o) => json!({"seed": o.seed, "valid": o.valid, "results": o.dir.display().to_string(), "ops": o.results["ops"]}),
                    Err((e, d, seed)) => json!({"seed": seed, "valid": null, "error": e.to_string(), "results": d.as_ref().map(|d| d.display().to_string())}),
                })
                .collect(),
        );
    } else if let Some(Ok(o)) = outcomes.first() {
        line["seed"] = json!(o.seed);
        line["ops"] = o.results["ops"].clone();
    }
    if let Some((e, _, _)) = first_err {
        line["valid"] = Value::Null;
        line["error"] = json!(e.to_string());
        println!("{line}");
        return Err(match e {
            HarnessError::BadInput(m) => HarnessError::BadInput(m.clone()),
            HarnessError::Failed(m) => HarnessError::Failed(m.clone()),
        });
    }
    if interrupt.is_set() {
        line["valid"] = Value::Null;
        line["error"] = json!("interrupted");
        println!("{line}");
        return Err(HarnessError::Failed(
            "interrupted by a signal; the cluster was cleaned up".into(),
        ));
    }
    println!("{line}");
    Ok(worst)
}

fn db_error(e: DbError) -> HarnessError {
    match e {
        DbError::BadConfig(m) => HarnessError::BadInput(m),
        other => HarnessError::Failed(other.to_string()),
    }
}

fn cluster_error(e: ClusterError) -> HarnessError {
    match e {
        ClusterError::Db(d) => db_error(d),
        other => HarnessError::Failed(other.to_string()),
    }
}

type RunError = (HarnessError, Option<std::path::PathBuf>);

/// One test, start to verdict. Errors carry the run folder when it exists.
pub fn run_once(
    rt: &tokio::runtime::Runtime,
    cfg: &TestConfig,
    interrupt: &Interrupt,
) -> Result<RunOutcome, RunError> {
    let wall = Instant::now();
    let db = build_db(&cfg.db).map_err(|e| (db_error(e), None))?;
    let netns_ok = crate::cluster::net::netns::available();
    if let Some(why) =
        crate::cluster::dbs::partition_refusal(db.as_ref(), cfg.net, &cfg.faults, &netns_ok)
    {
        return Err((HarnessError::BadInput(why), None));
    }
    let run = RunDir::create(&cfg.store, &cfg.name).map_err(|e| {
        (
            HarnessError::Failed(format!(
                "creating the run folder under {}: {e}",
                cfg.store.display()
            )),
            None,
        )
    })?;
    let dir = run.dir.clone();
    let fail = |e: HarnessError| (e, Some(dir.clone()));
    let log = Arc::new(RunLog::open(&dir.join("harness.log"), true).map_err(|e| fail(e.into()))?);
    log.log(&format!(
        "run {} seed {} → {}",
        cfg.name,
        cfg.seed,
        dir.display()
    ));
    if let Some(note) = crate::cluster::dbs::loopback_note(db.as_ref(), cfg.net, &netns_ok) {
        log.log(&note);
    }
    let sha = store::git_sha();
    let start_time = store::rfc3339(time::OffsetDateTime::now_utc());
    store::write_json(
        &dir.join("test.json"),
        &cfg.test_json(cfg.net, &start_time, sha.as_deref()),
    )
    .map_err(|e| fail(e.into()))?;

    let start = Instant::now();
    let (journal, writer) =
        Journal::create(&dir.join("history.jsonl"), start).map_err(|e| fail(e.into()))?;
    let mut phase_times = PhaseTimes::new(wall);
    phase_times.done_since("setup", wall, &log);
    let phases = rt.block_on(cluster_phases(
        cfg,
        db,
        &run,
        journal.clone(),
        log.clone(),
        interrupt,
        start,
        &mut phase_times,
    ));
    // The check phase starts with waiting for the history file to be complete.
    let check_start = Instant::now();
    let (history, werr) = writer.close();
    if let Some(e) = werr {
        log.log(&format!("writing history.jsonl failed: {e}"));
        return Err(fail(HarnessError::Failed(format!(
            "writing {}: {e}",
            dir.join("history.jsonl").display()
        ))));
    }
    let net = match phases {
        Ok(p) => p,
        Err(e) => {
            log.log(&format!("run failed: {e}"));
            return Err(fail(e));
        }
    };
    if net != cfg.net {
        store::write_json(
            &dir.join("test.json"),
            &cfg.test_json(net, &start_time, sha.as_deref()),
        )
        .map_err(|e| fail(e.into()))?;
    }

    let workload = workload_of(cfg);
    log.log(&format!("checking {} events", history.len()));
    let checked = verdict::check_history(
        &history,
        &workload.checkers(),
        &verdict::CheckOptions {
            linear_timeout: cfg.check_timeout,
        },
    )
    .map_err(|e| {
        fail(HarnessError::Failed(format!(
            "checking {}: {e}",
            dir.join("history.jsonl").display()
        )))
    })?;
    phase_times.done_since("check", check_start, &log);
    let mut results = checked.results;
    results["phases_ms"] = phase_times.legacy_json();
    results["phases"] = phase_times.to_json();
    store::write_json(&dir.join("results.json"), &results).map_err(|e| fail(e.into()))?;
    log.log(&format!(
        "verdict {} ({} ops)",
        checked.valid, results["ops"]
    ));
    if checked.valid == Validity::Valid && crate::cluster::dbs::discards_data_after_pass(&cfg.db) {
        match crate::cluster::dbs::delete_node_data(&dir) {
            Ok(bytes) => log.log(&format!(
                "passing run: deleted the nodes' data directories ({} MB)",
                bytes / 1_000_000
            )),
            Err(e) => log.log(&format!("deleting the nodes' data directories: {e}")),
        }
    }
    if let Err(e) = run.update_latest() {
        log.log(&format!("cannot update the latest links: {e}"));
    }
    let t = Instant::now();
    if !cfg.no_report {
        render_report(&dir, &cfg.store, &log);
    }
    phase_times.done_since("report", t, &log);
    log.log(&format!("phases: {}", phase_times.summary()));
    results["phases"] = phase_times.to_json();
    if let Err(e) = store::write_json(&dir.join("results.json"), &results) {
        log.log(&format!("adding the report time to results.json: {e}"));
    }
    Ok(RunOutcome {
        valid: checked.valid,
        dir,
        results,
        seed: cfg.seed,
        seconds: wall.elapsed().as_secs_f64(),
    })
}

/// Render the run's report and the store index; failures are logged, never fatal.
pub fn render_report(dir: &std::path::Path, store_root: &std::path::Path, log: &RunLog) {
    match crate::report::render_run(dir) {
        Ok(r) => {
            log.log(&format!("report: {}", r.html.display()));
            for f in r.failures {
                log.log(&format!("report: {} failed: {}", f.artifact, f.message));
            }
        }
        Err(e) => log.log(&format!("report failed: {e}")),
    }
    if let Err(e) = crate::report::render_index(store_root) {
        log.log(&format!("store index failed: {e}"));
    }
}

pub fn workload_of(cfg: &TestConfig) -> Workload {
    Workload::new(WorkloadOptions {
        kind: cfg.workload,
        concurrency: cfg.concurrency,
        keys: cfg.keys,
        ops_per_key: cfg.ops_per_key,
        seed: cfg.seed,
    })
}

fn client_for(
    cluster: &Cluster,
    db_opts: &[(String, String)],
    home: usize,
    op_timeout: Duration,
    client_id: String,
) -> Result<Client, HarnessError> {
    let nodes: Vec<Endpoint> = cluster
        .nodes()
        .iter()
        .map(|n| Endpoint {
            name: n.name.clone(),
            id: n.id,
            addr: n.client_addr.to_string(),
        })
        .collect();
    let protocol = match cluster.protocol() {
        crate::cluster::Protocol::RaftKvHttp => Protocol::RaftKv,
        crate::cluster::Protocol::EtcdV3 => Protocol::Etcd,
    };
    let mut client = Client::new(
        protocol,
        &ClientConfig {
            nodes,
            home,
            op_timeout,
            max_redirects: MAX_REDIRECTS,
            client_id,
        },
    )
    .map_err(|e| HarnessError::Failed(e.to_string()))?;
    if let Client::Etcd(c) = &mut client {
        // `--db-opt serializable-reads=true` (validated when the db was built).
        c.set_serializable_reads(
            crate::cluster::dbs::etcd::serializable_reads(db_opts).map_err(db_error)?,
        );
    }
    Ok(client)
}

/// Everything between "cluster start" and "cluster stopped" (each phase's time goes into
/// `phases`); returns the network backend actually used.
#[allow(clippy::too_many_arguments)]
async fn cluster_phases(
    cfg: &TestConfig,
    db: Box<dyn crate::cluster::Db>,
    run: &RunDir,
    journal: Journal,
    log: Arc<RunLog>,
    interrupt: &Interrupt,
    start: Instant,
    phases: &mut PhaseTimes,
) -> Result<NetMode, HarnessError> {
    let t = Instant::now();
    let prefix = crate::cluster::cleanup::new_run_prefix();
    log.log(&format!(
        "starting {} {} nodes (net {}, prefix {prefix})",
        cfg.nodes,
        db.name(),
        cfg.net
    ));
    let cluster = Cluster::start(
        ClusterConfig {
            nodes: cfg.nodes,
            net: cfg.net,
            run_dir: run.dir.clone(),
            run_prefix: prefix,
            startup_timeout: STARTUP_TIMEOUT,
        },
        db,
    )
    .await
    .map_err(cluster_error)?;
    let net = cluster.net_mode();
    log.log(&format!(
        "cluster up in {:.2}s, net {}",
        t.elapsed().as_secs_f64(),
        cluster.net_mode()
    ));
    if !cfg.link_delay.is_zero() {
        if let Err(e) = cluster.set_link_delay(cfg.link_delay) {
            let _ = cluster.shutdown().await;
            return Err(cluster_error(e));
        }
        log.log(&format!(
            "every node-to-node link delays by {} ms",
            cfg.link_delay.as_millis()
        ));
    }
    phases.done_since("start", t, &log);
    let result = drive(
        cfg,
        &cluster,
        journal,
        log.clone(),
        interrupt,
        start,
        phases,
    )
    .await;
    let t = Instant::now();
    log.log("stopping the cluster");
    if let Err(e) = cluster.shutdown().await {
        log.log(&format!("cluster shutdown: {e}"));
    }
    phases.done_since("teardown", t, &log);
    result?;
    if interrupt.is_set() {
        return Err(HarnessError::Failed(format!(
            "interrupted by a signal; cluster cleaned up, history so far in {}",
            run.dir.join("history.jsonl").display()
        )));
    }
    Ok(net)
}

async fn drive(
    cfg: &TestConfig,
    cluster: &Cluster,
    journal: Journal,
    log: Arc<RunLog>,
    interrupt: &Interrupt,
    start: Instant,
    phases: &mut PhaseTimes,
) -> Result<(), HarnessError> {
    let workload = Arc::new(workload_of(cfg));
    let n = cluster.nodes().len().max(1);
    let state = ProgressState::new();
    state.set_phase("main");
    let progress = tokio::spawn(progress::progress_loop(
        state.clone(),
        journal.clone(),
        log.clone(),
        start,
        Duration::from_secs(5),
    ));

    // Main phase: workers + nemesis until the time limit (or a signal).
    let t = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + cfg.time_limit;
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(cfg.concurrency as f64 / r));
    let mut handles = Vec::new();
    for i in 0..cfg.concurrency {
        let client = client_for(
            cluster,
            &cfg.db.db_opts,
            i % n,
            cfg.op_timeout,
            format!("w{i}"),
        )?;
        let w = worker::Worker {
            id: i,
            concurrency: cfg.concurrency,
            client,
            workload: workload.clone(),
            journal: journal.clone(),
            stop: stop.clone(),
            deadline,
            interval,
        };
        handles.push(tokio::spawn(w.run()));
    }
    log.log(&format!(
        "main phase: {} workers, {:?}, nemesis {:?}",
        cfg.concurrency, cfg.time_limit, cfg.faults
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let nj = journal.clone();
    let nstate = state.clone();
    let nlog = log.clone();
    let record = move |ev: NemesisEvent| {
        nlog.log(&format!("nemesis {} {}", ev.f, ev.value));
        nstate.on_nemesis(&ev.f, &ev.value);
        nj.record(Event {
            op_type: OpType::Info,
            process: Process::Nemesis,
            f: ev.f,
            key: None,
            value: ev.value,
            error: None,
            node: None,
        });
    };
    let ncfg = NemesisConfig {
        faults: cfg.faults.clone(),
        shape: cfg.shape.clone(),
        targets: cfg.targets.clone(),
        pause_targets: cfg.pause_targets.clone(),
        kill_targets: cfg.kill_targets.clone(),
        interval: cfg.nemesis_interval,
        trigger: cfg.trigger,
        overlap: cfg.overlap,
        together: cfg.together,
        seed: cfg.seed,
    };
    let nemesis_fut = async {
        if ncfg.faults.is_empty() {
            drop(stop_rx);
            Ok(nemesis::NemesisSummary::default())
        } else {
            nemesis::run(cluster, ncfg, record, stop_rx).await
        }
    };
    let main_fut = async {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = interrupt.wait() => {}
        }
        stop.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        let mut dones = Vec::new();
        for h in handles {
            match h.await {
                Ok(d) => dones.push(d),
                Err(e) => log.log(&format!("a worker panicked: {e}")),
            }
        }
        dones
    };
    let (nres, dones) = tokio::join!(nemesis_fut, main_fut);
    phases.done_since("main", t, &log);
    let t = Instant::now();
    state.set_phase("heal");
    match nres {
        Ok(s) => log.log(&format!("nemesis done: {} events {:?}", s.events, s.faults)),
        Err(e) => {
            progress.abort();
            return Err(HarnessError::Failed(format!("nemesis: {e}")));
        }
    }
    if !cfg.faults.is_empty() {
        if let Err(e) = cluster.heal().await {
            log.log(&format!("heal: {e}"));
        }
    }
    phases.done_since("heal", t, &log);
    if interrupt.is_set() {
        progress.abort();
        return Ok(());
    }

    // Recovery, then final reads on every node.
    let t = Instant::now();
    state.set_phase("recovery");
    log.log(&format!("recovery: {:?}", cfg.recovery));
    tokio::select! {
        _ = tokio::time::sleep(cfg.recovery) => {}
        _ = interrupt.wait() => {}
    }
    phases.done_since("recovery", t, &log);
    if interrupt.is_set() {
        progress.abort();
        return Ok(());
    }
    let t = Instant::now();
    state.set_phase("final-reads");
    let base = dones
        .iter()
        .map(|d| d.next_process)
        .max()
        .unwrap_or(0)
        .max(cfg.concurrency as u64);
    let reads = workload.final_reads(&journal.keys());
    log.log(&format!(
        "final reads: {} per node on {n} nodes",
        reads.len()
    ));
    let mut tasks = Vec::new();
    let par = FINAL_READ_PARALLEL.min(reads.len()).max(1);
    let step = (n * par) as u64;
    for i in 0..n {
        for j in 0..par {
            let client = client_for(
                cluster,
                &cfg.db.db_opts,
                i,
                cfg.op_timeout,
                format!("final{i}-{j}"),
            )?;
            let (journal, workload) = (journal.clone(), workload.clone());
            let mine: Vec<workloads::OpSpec> = reads.iter().skip(j).step_by(par).cloned().collect();
            let mut process = base + (i * par + j) as u64;
            tasks.push(tokio::spawn(async move {
                let mut ok = 0usize;
                for op in &mine {
                    for attempt in 0..FINAL_READ_ATTEMPTS {
                        match worker::run_op(&journal, process, &client, &workload, op).await {
                            Completion::Ok(_) => {
                                ok += 1;
                                break;
                            }
                            Completion::Info(_) => {
                                process += step;
                                break;
                            }
                            Completion::Fail(_) => {
                                let backoff = 100 * (attempt as u64 + 1);
                                tokio::time::sleep(Duration::from_millis(backoff)).await;
                            }
                        }
                    }
                }
                ok
            }));
        }
    }
    let budget = cfg.op_timeout * (FINAL_READ_ATTEMPTS as u32 + 1) * 2 + Duration::from_secs(30);
    let all = async {
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap_or(0);
        }
        ok
    };
    tokio::select! {
        r = tokio::time::timeout(budget, all) => match r {
            Ok(ok) => log.log(&format!("final reads: {ok} of {} succeeded", reads.len() * n)),
            Err(_) => log.log(&format!("final reads did not finish within {budget:?}; unfinished reads stay open")),
        },
        _ = interrupt.wait() => {}
    }
    phases.done_since("final_reads", t, &log);
    progress.abort();
    Ok(())
}

/// A history and its checked verdict (used by `analyze`).
pub fn check_stored(
    history: &History,
    workload: &Workload,
    timeout: Duration,
) -> Result<verdict::Checked, String> {
    verdict::check_history(
        history,
        &workload.checkers(),
        &verdict::CheckOptions {
            linear_timeout: timeout,
        },
    )
}
