//! The phases of a run that need the cluster, one function each, named as in
//! `results.json`'s `phases`: [`start`] (nodes up, a leader known), [`main`] (client
//! workers and the nemesis for the time limit), [`heal`] (every fault removed), [`recovery`]
//! (the healed cluster gets `--recovery-time`), [`final_reads`] (every key read on every
//! node) and [`teardown`] (nodes stopped; their logs stay in the run folder).

use super::config::{system_error, TestConfig};
use super::journal::{Event, Journal};
use super::phases::PhaseTimes;
use super::progress::{self, ProgressState};
use super::resource::ResourceServer;
use super::signals::Interrupt;
use super::worker::{self, WorkerDone};
use crate::cluster::error::ClusterError;
use crate::cluster::nemesis::{self, FaultKind, NemesisEvent, NemesisSummary};
use crate::cluster::{Cluster, ClusterConfig};
use crate::exit::HarnessError;
use crate::logging::RunLog;
use crate::netmode::NetMode;
use crate::systems::System;
use checker::{OpType, Process};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use workloads::clients::lock::ResourceClient;
use workloads::clients::{Client, ClientConfig, Endpoint, Protocol};
use workloads::stall::Stalls;
use workloads::{Completion, OpSpec, Workload, WorkloadKind};

/// How many leader redirects one client operation follows.
pub const MAX_REDIRECTS: u32 = 3;
/// Attempts of each final read before giving up on it.
pub const FINAL_READ_ATTEMPTS: usize = 5;
/// Final reads in flight per node (each a process of its own).
pub const FINAL_READ_PARALLEL: usize = 8;
/// How long the cluster gets to come up.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What every cluster phase works with.
pub struct Ctx<'a> {
    pub cfg: &'a TestConfig,
    pub journal: Journal,
    pub log: Arc<RunLog>,
    pub interrupt: &'a Interrupt,
    /// Time zero of the history.
    pub start: Instant,
    pub phases: &'a mut PhaseTimes,
    pub progress: ProgressState,
}

fn cluster_error(e: ClusterError) -> HarnessError {
    match e {
        ClusterError::System(d) => system_error(d),
        other => HarnessError::Failed(other.to_string()),
    }
}

/// The libfaketime library to preload when the run has clock faults (none otherwise).
fn fake_clocks(cfg: &TestConfig) -> Result<Option<std::path::PathBuf>, HarnessError> {
    if !cfg.nemesis.faults.contains(&FaultKind::Clock) {
        return Ok(None);
    }
    crate::cluster::clock::locate_libfaketime()
        .map(Some)
        .map_err(HarnessError::BadInput)
}

/// Every cluster phase in order; returns the network backend actually used.
pub async fn run(
    ctx: &mut Ctx<'_>,
    system: Box<dyn System>,
    run_dir: &Path,
) -> Result<NetMode, HarnessError> {
    let protocol = system.capabilities().protocol;
    let cluster = start(ctx, system, run_dir).await?;
    let net = cluster.net_mode();
    let progress = tokio::spawn(progress::progress_loop(
        ctx.progress.clone(),
        ctx.journal.clone(),
        ctx.log.clone(),
        ctx.start,
        Duration::from_secs(5),
    ));
    let result = drive(ctx, &cluster, protocol, run_dir).await;
    progress.abort();
    teardown(ctx, cluster).await;
    result?;
    if ctx.interrupt.is_set() {
        return Err(HarnessError::Failed(format!(
            "interrupted by a signal; cluster cleaned up, history so far in {}",
            run_dir.join("history.jsonl").display()
        )));
    }
    Ok(net)
}

/// Main, heal, recovery and final reads (the last two skipped after a signal).
async fn drive(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    protocol: Protocol,
    run_dir: &Path,
) -> Result<(), HarnessError> {
    let workload = Arc::new(Workload::new(ctx.cfg.workload.clone()));
    let protocol = protocol.for_workload(ctx.cfg.workload.kind);
    let mut clients = Clients::new(cluster, protocol, ctx.cfg.op_timeout);
    let resource = match ctx.cfg.workload.kind {
        WorkloadKind::Fencing => {
            let r = ResourceServer::start(ctx.cfg.fencing)
                .await
                .map_err(|e| HarnessError::Failed(format!("protected resource: {e}")))?;
            ctx.log.log(&format!(
                "protected resource at {} (fencing {})",
                r.addr,
                if r.fencing { "on" } else { "off" }
            ));
            clients.resource = Some(r.addr.to_string());
            Some(r)
        }
        _ => None,
    };
    cluster.set_stalls(clients.stalls.clone());
    let main_result = main(ctx, cluster, &workload, &clients).await;
    if let Some(r) = resource {
        let path = run_dir.join("resource.jsonl");
        match r.stop(&path) {
            Ok(n) => ctx.log.log(&format!(
                "protected resource: {n} writes in {}",
                path.display()
            )),
            Err(e) => ctx.log.log(&format!(
                "protected resource: writing {}: {e}",
                path.display()
            )),
        }
    }
    let (nemesis, dones) = main_result?;
    heal(ctx, cluster, nemesis).await?;
    if ctx.interrupt.is_set() {
        return Ok(());
    }
    recovery(ctx).await;
    if ctx.interrupt.is_set() {
        return Ok(());
    }
    let base = dones
        .iter()
        .map(|d| d.next_process)
        .max()
        .unwrap_or(0)
        .max(ctx.cfg.workload.concurrency as u64);
    let keys = ctx.journal.keys();
    final_reads(ctx, &keys, &workload, &clients, base).await
}

/// Phase `start`: the cluster up and ready, the link delay set.
async fn start(
    ctx: &mut Ctx<'_>,
    system: Box<dyn System>,
    run_dir: &Path,
) -> Result<Cluster, HarnessError> {
    let t = Instant::now();
    let cfg = ctx.cfg;
    let prefix = crate::cluster::cleanup::new_run_prefix();
    ctx.log.log(&format!(
        "starting {} {} nodes (net {}, prefix {prefix})",
        cfg.nodes,
        system.name(),
        cfg.net
    ));
    let cluster_cfg = ClusterConfig {
        nodes: cfg.nodes,
        net: cfg.net,
        run_dir: run_dir.to_path_buf(),
        run_prefix: prefix,
        startup_timeout: STARTUP_TIMEOUT,
        fake_clocks: fake_clocks(cfg)?,
        peer_proxies: cfg.delays(),
    };
    let cluster = Cluster::start(cluster_cfg, system)
        .await
        .map_err(cluster_error)?;
    ctx.log.log(&format!(
        "cluster up in {:.2}s, net {}",
        t.elapsed().as_secs_f64(),
        cluster.net_mode()
    ));
    if !cfg.link.is_healthy() {
        if let Err(e) = cluster.set_base_link_condition(cfg.link).await {
            let _ = cluster.shutdown().await;
            return Err(cluster_error(e));
        }
        ctx.log.log(&format!(
            "every node-to-node link for the whole run: {}",
            cfg.link.describe()
        ));
    }
    ctx.phases.done_since("start", t, &ctx.log);
    Ok(cluster)
}

/// How the runner builds clients: the system's protocol, the cluster's nodes.
struct Clients {
    protocol: Protocol,
    nodes: Vec<Endpoint>,
    op_timeout: Duration,
    /// The lock clients' freeze gates (stall nemesis).
    stalls: Arc<Stalls>,
    /// The protected resource's address (fencing workload).
    resource: Option<String>,
}

impl Clients {
    fn new(cluster: &Cluster, protocol: Protocol, op_timeout: Duration) -> Clients {
        let nodes = cluster
            .nodes()
            .iter()
            .map(|n| Endpoint {
                name: n.name.clone(),
                id: n.id,
                addr: n.client_addr.to_string(),
            })
            .collect();
        Clients {
            protocol,
            nodes,
            op_timeout,
            stalls: Arc::new(Stalls::new()),
            resource: None,
        }
    }

    /// A client whose home is node index `home`, with request ids `client_id-<seq>`.
    fn client(&self, home: usize, client_id: String) -> Result<Client, HarnessError> {
        let cfg = ClientConfig {
            nodes: self.nodes.clone(),
            home,
            op_timeout: self.op_timeout,
            max_redirects: MAX_REDIRECTS,
            client_id,
        };
        Client::new(self.protocol, &cfg).map_err(|e| HarnessError::Failed(e.to_string()))
    }

    /// A worker's client: a lock client's gate goes on the stall board and it gets the
    /// protected resource, if any.
    fn worker_client(&self, worker: usize) -> Result<Client, HarnessError> {
        let id = format!("w{worker}");
        let client = self.client(worker % self.nodes.len().max(1), id.clone())?;
        if let Some(lock) = client.lock() {
            self.stalls.register(worker, lock.gate().clone());
            if let Some(addr) = &self.resource {
                lock.attach_resource(ResourceClient::new(addr.clone(), id, self.op_timeout));
            }
        }
        Ok(client)
    }
}

/// Phase `main`: workers and the nemesis until the time limit (or a signal), in-flight ops
/// finished. Returns the nemesis's outcome and what each worker did.
async fn main(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    workload: &Arc<Workload>,
    clients: &Clients,
) -> Result<(Result<NemesisSummary, ClusterError>, Vec<WorkerDone>), HarnessError> {
    let cfg = ctx.cfg;
    ctx.progress.set_phase("main");
    let t = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + cfg.time_limit;
    let handles = spawn_workers(ctx, workload, clients, &stop, deadline)?;
    ctx.log.log(&format!(
        "main phase: {} workers, {:?}, nemesis {:?}",
        cfg.workload.concurrency, cfg.time_limit, cfg.nemesis.faults
    ));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let nemesis_fut = async {
        if cfg.nemesis.faults.is_empty() && cfg.nemesis.script.is_none() {
            drop(stop_rx);
            Ok(NemesisSummary::default())
        } else {
            nemesis::run(cluster, cfg.nemesis.clone(), nemesis_recorder(ctx), stop_rx).await
        }
    };
    let log = ctx.log.clone();
    let interrupt = ctx.interrupt;
    let main_fut = async {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline.into()) => {}
            _ = interrupt.wait() => {}
        }
        stop.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        // A stalled client must not outlive the main phase.
        clients.stalls.thaw_all();
        let mut dones = Vec::new();
        for h in handles {
            match h.await {
                Ok(d) => dones.push(d),
                Err(e) => log.log(&format!("a worker panicked: {e}")),
            }
        }
        dones
    };
    let (nemesis, dones) = tokio::join!(nemesis_fut, main_fut);
    ctx.phases.done_since("main", t, &ctx.log);
    Ok((nemesis, dones))
}

fn spawn_workers(
    ctx: &Ctx<'_>,
    workload: &Arc<Workload>,
    clients: &Clients,
    stop: &Arc<AtomicBool>,
    deadline: Instant,
) -> Result<Vec<JoinHandle<WorkerDone>>, HarnessError> {
    let cfg = ctx.cfg;
    let concurrency = cfg.workload.concurrency;
    let interval = cfg
        .rate
        .map(|r| Duration::from_secs_f64(concurrency as f64 / r));
    let mut handles = Vec::new();
    for i in 0..concurrency {
        let w = worker::Worker {
            id: i,
            concurrency,
            client: clients.worker_client(i)?,
            workload: workload.clone(),
            journal: ctx.journal.clone(),
            stop: stop.clone(),
            deadline,
            interval,
        };
        handles.push(tokio::spawn(w.run()));
    }
    Ok(handles)
}

/// Each nemesis event: a `harness.log` line, the progress line's fault text, and an `info`
/// event of process `nemesis` in the history.
fn nemesis_recorder(ctx: &Ctx<'_>) -> impl FnMut(NemesisEvent) + Send {
    let (journal, progress, log) = (ctx.journal.clone(), ctx.progress.clone(), ctx.log.clone());
    move |ev: NemesisEvent| {
        log.log(&format!("nemesis {} {}", ev.f, ev.value));
        progress.on_nemesis(&ev.f, &ev.value);
        journal.record(Event {
            op_type: OpType::Info,
            process: Process::Nemesis,
            f: ev.f,
            key: None,
            value: ev.value,
            error: None,
            node: None,
        });
    }
}

/// Phase `heal`: the nemesis's outcome logged (its error ends the run), every fault removed.
async fn heal(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    nemesis: Result<NemesisSummary, ClusterError>,
) -> Result<(), HarnessError> {
    let t = Instant::now();
    ctx.progress.set_phase("heal");
    match nemesis {
        Ok(s) => ctx
            .log
            .log(&format!("nemesis done: {} events {:?}", s.events, s.faults)),
        Err(e) => return Err(HarnessError::Failed(format!("nemesis: {e}"))),
    }
    if !ctx.cfg.nemesis.faults.is_empty() {
        if let Err(e) = cluster.clear_link_faults(None).await {
            ctx.log.log(&format!("heal: link faults: {e}"));
        }
        if let Err(e) = cluster.heal().await {
            ctx.log.log(&format!("heal: {e}"));
        }
    }
    ctx.phases.done_since("heal", t, &ctx.log);
    Ok(())
}

/// Phase `recovery`: the healed cluster gets `--recovery-time` (a signal cuts it short).
async fn recovery(ctx: &mut Ctx<'_>) {
    let t = Instant::now();
    ctx.progress.set_phase("recovery");
    ctx.log.log(&format!("recovery: {:?}", ctx.cfg.recovery));
    tokio::select! {
        _ = tokio::time::sleep(ctx.cfg.recovery) => {}
        _ = ctx.interrupt.wait() => {}
    }
    ctx.phases.done_since("recovery", t, &ctx.log);
}

/// Phase `final_reads`: the workload's final reads on every node, each read by processes of
/// its own (numbered from `base`), retried on `fail`, bounded in time.
async fn final_reads(
    ctx: &mut Ctx<'_>,
    keys: &std::collections::BTreeSet<String>,
    workload: &Arc<Workload>,
    clients: &Clients,
    base: u64,
) -> Result<(), HarnessError> {
    let t = Instant::now();
    ctx.progress.set_phase("final-reads");
    let reads = workload.final_reads(keys);
    let n = clients.nodes.len().max(1);
    ctx.log.log(&format!(
        "final reads: {} per node on {n} nodes",
        reads.len()
    ));
    let par = FINAL_READ_PARALLEL.min(reads.len()).max(1);
    let mut tasks = Vec::new();
    for i in 0..n {
        for j in 0..par {
            let client = clients.client(i, format!("final{i}-{j}"))?;
            let mine: Vec<OpSpec> = reads.iter().skip(j).step_by(par).cloned().collect();
            let reader = FinalReader {
                journal: ctx.journal.clone(),
                workload: workload.clone(),
                client,
                process: base + (i * par + j) as u64,
                step: (n * par) as u64,
            };
            tasks.push(tokio::spawn(reader.run(mine)));
        }
    }
    let budget =
        ctx.cfg.op_timeout * (FINAL_READ_ATTEMPTS as u32 + 1) * 2 + Duration::from_secs(30);
    let all = async {
        let mut ok = 0;
        for t in tasks {
            ok += t.await.unwrap_or(0);
        }
        ok
    };
    tokio::select! {
        r = tokio::time::timeout(budget, all) => match r {
            Ok(ok) => ctx.log.log(&format!("final reads: {ok} of {} succeeded", reads.len() * n)),
            Err(_) => ctx.log.log(&format!("final reads did not finish within {budget:?}; unfinished reads stay open")),
        },
        _ = ctx.interrupt.wait() => {}
    }
    ctx.phases.done_since("final_reads", t, &ctx.log);
    Ok(())
}

/// One final-read task: its reads in turn, each retried after a `fail` (with a growing
/// pause) up to [`FINAL_READ_ATTEMPTS`] times; after an `info` it continues as a new process.
struct FinalReader {
    journal: Journal,
    workload: Arc<Workload>,
    client: Client,
    process: u64,
    /// Process ids are `base + k * step`: unique across every reader.
    step: u64,
}

impl FinalReader {
    /// Returns how many reads succeeded.
    async fn run(mut self, reads: Vec<OpSpec>) -> usize {
        let mut ok = 0usize;
        for op in &reads {
            for attempt in 0..FINAL_READ_ATTEMPTS {
                let c = worker::run_op(
                    &self.journal,
                    self.process,
                    &self.client,
                    &self.workload,
                    op,
                );
                match c.await {
                    Completion::Ok(_) => {
                        ok += 1;
                        break;
                    }
                    Completion::Info(_) => {
                        self.process += self.step;
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
    }
}

/// Phase `teardown`: every node stopped, the network removed.
async fn teardown(ctx: &mut Ctx<'_>, cluster: Cluster) {
    let t = Instant::now();
    ctx.log.log("stopping the cluster");
    if let Err(e) = cluster.shutdown().await {
        ctx.log.log(&format!("cluster shutdown: {e}"));
    }
    ctx.phases.done_since("teardown", t, &ctx.log);
}
