//! The cluster runtime: the node lifecycle of a system under test (any
//! [`System`](crate::systems::System); [`process`]), the network backends ([`net`]: netns +
//! iptables, user-space TCP proxy), the nemesis ([`nemesis`]: a pure seeded planner and an
//! executor), and guaranteed cleanup ([`cleanup`]: the `cleanup.json` manifest, `harness
//! clean`). Shared types are leaf modules: [`error`] ([`ClusterError`]) and [`grudge`]
//! ([`Grudge`]).
//!
//! The entry point is [`Cluster::start`]; every fault is a method of [`Cluster`].

pub mod byzantine;
pub mod cleanup;
pub mod clock;
pub mod error;
pub mod grudge;
pub mod links;
pub mod nemesis;
pub mod net;
pub mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use cleanup::{LiveRun, Manifest};
use links::{LinkCondition, LinkFaults};
use net::netns::{NetnsNames, NetnsNet};
use net::proxy::ProxyNet;
use process::NodeProcess;

pub use error::ClusterError;
pub use grudge::Grudge;

use crate::netmode::NetMode;
use crate::pathio::PathError;
use crate::systems::{NodeSpec, ReadyProbe, System};

/// How to lay out and start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Number of nodes (≥ 1).
    pub nodes: usize,
    pub net: NetMode,
    /// The run's folder: node logs and data go to `run_dir/nodes/<name>/`, the cleanup manifest
    /// to `run_dir/cleanup.json`.
    pub run_dir: PathBuf,
    /// Unique per run, short (≤ 8 chars, `[a-z0-9]`, e.g. `"hx" + 6 chars`, see
    /// [`cleanup::new_run_prefix`]): names every namespace, link and process marker.
    pub run_prefix: String,
    /// How long every node (and, for raft-kv, a leader) gets to come up.
    pub startup_timeout: Duration,
    /// The libfaketime library to preload into every node, each with its own control file,
    /// for the clock nemesis (`None`: nodes read the real clock).
    pub fake_clocks: Option<PathBuf>,
    /// Netns only: node-to-node links go through the harness's proxies, which the nodes reach
    /// at the bridge's host address `.254`; partitions, loss and delay are then done by the
    /// proxies (the way to delay messages on a kernel without netem). Ignored in proxy mode.
    pub peer_proxies: bool,
}

/// The network backend in use.
#[derive(Debug)]
enum Net {
    Netns(NetnsNet),
    Proxy(ProxyNet),
    /// Nodes in namespaces, their links to each other through proxies on the host address.
    NetnsProxied(NetnsNet, ProxyNet),
}

/// A running cluster. Stop it with [`Cluster::shutdown`]; dropping it without that tears
/// everything down synchronously (best effort, for the panic path).
pub struct Cluster {
    cfg: ClusterConfig,
    db: Box<dyn System>,
    nodes: Vec<NodeSpec>,
    mode: NetMode,
    net: Net,
    /// Index `id - 1`; `None` while the node is killed.
    procs: Vec<Mutex<Option<NodeProcess>>>,
    paused: Mutex<BTreeSet<String>>,
    manifest: Mutex<Manifest>,
    http: reqwest::Client,
    down: AtomicBool,
    /// The whole-run link condition and the link faults now on (by layer: one per nemesis
    /// schedule), which the backend gets combined.
    links: tokio::sync::Mutex<LinkLayers>,
    /// The nodes' faked clocks, when the run has clock faults.
    clocks: Option<clock::Clocks>,
    /// The lock clients' freeze gates, for the stall nemesis (set by the runner).
    stalls: std::sync::OnceLock<std::sync::Arc<workloads::stall::Stalls>>,
}

/// The whole-run link condition and the active link faults, by layer.
#[derive(Debug, Default)]
struct LinkLayers {
    base: LinkCondition,
    active: BTreeMap<String, LinkFaults>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The outcome of one readiness probe.
enum Probe {
    NotYet,
    /// Ready; with the probe's JSON answer when there is one.
    Ready(Option<serde_json::Value>),
}

async fn probe(http: &reqwest::Client, node: &NodeSpec, how: &ReadyProbe) -> Probe {
    match how {
        ReadyProbe::Tcp => {
            let c = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(node.client_addr),
            )
            .await;
            match c {
                Ok(Ok(_)) => Probe::Ready(None),
                _ => Probe::NotYet,
            }
        }
        ReadyProbe::TcpExchange { send, expect_any } => {
            match tcp_exchange(node.client_addr, send).await {
                Some(answer) if expect_any.iter().any(|e| answer.contains(e.as_str())) => {
                    Probe::Ready(None)
                }
                _ => Probe::NotYet,
            }
        }
        ReadyProbe::HttpGet { path, .. } => {
            let url = format!("http://{}{}", node.client_addr, path);
            match http.get(&url).send().await {
                Ok(r) if r.status().is_success() => {
                    Probe::Ready(r.json::<serde_json::Value>().await.ok())
                }
                _ => Probe::NotYet,
            }
        }
    }
}

/// Sends `send` to `addr` and reads the answer until the peer closes (bounded to 1 s).
async fn tcp_exchange(addr: std::net::SocketAddr, send: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(send.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}

fn says_leader(v: &Option<serde_json::Value>) -> bool {
    v.as_ref()
        .and_then(|v| v.get("role"))
        .and_then(|r| r.as_str())
        == Some("leader")
}

impl Cluster {
    /// Hands the stall nemesis the board of the run's lock clients (once).
    pub fn set_stalls(&self, stalls: std::sync::Arc<workloads::stall::Stalls>) {
        let _ = self.stalls.set(stalls);
    }

    /// The board of lock clients the stall nemesis freezes, if the run has one.
    pub fn stalls(&self) -> Option<&std::sync::Arc<workloads::stall::Stalls>> {
        self.stalls.get()
    }

    /// Sets up the network, spawns every node and waits until each answers its probe (and, for
    /// raft-kv, a leader is known). On error everything created so far is removed and the
    /// error names the node and its log.
    pub async fn start(cfg: ClusterConfig, db: Box<dyn System>) -> Result<Cluster, ClusterError> {
        check_config(&cfg)?;
        let mode = resolve_backend(cfg.net)?;
        // A system that cannot be given one address per peer (etcd) runs on loopback with
        // direct peer links: pause and kill work, partitions are refused (see `partition`).
        let direct_peers = mode == NetMode::Proxy && !db.capabilities().proxy;
        if direct_peers {
            tracing::warn!(
                "{} cannot be given a proxy per peer link: its nodes run on 127.0.0.1 and talk \
                 directly; pause and kill faults work, partitions need --net netns (root / CAP_NET_ADMIN)",
                db.name()
            );
        }
        let n = cfg.nodes;
        let dirs: Vec<PathBuf> = (1..=n)
            .map(|i| cfg.run_dir.join("nodes").join(format!("n{i}")))
            .collect();
        for d in &dirs {
            let data = d.join("data");
            std::fs::create_dir_all(&data).map_err(PathError::at("creating", &data))?;
        }
        let netns_names = (mode == NetMode::Netns).then(|| NetnsNames::new(&cfg.run_prefix, n));
        let manifest = new_manifest(&cfg, mode, netns_names.as_ref());
        // Recorded before anything exists, so a SIGKILL during setup leaves a trace.
        manifest.save()?;
        let net_result = match mode {
            NetMode::Netns => {
                setup_netns(&cfg.run_prefix, &dirs, db.as_ref(), cfg.peer_proxies).await
            }
            _ => setup_proxy(&dirs, direct_peers).await,
        };
        let (net, nodes) = match net_result {
            Ok(x) => x,
            Err(e) => {
                let run = LiveRun {
                    manifest,
                    netns: netns_names,
                };
                let _ = cleanup::teardown_sync(&run);
                return Err(e);
            }
        };
        let cluster = Cluster {
            procs: (0..n).map(|_| Mutex::new(None)).collect(),
            paused: Mutex::new(BTreeSet::new()),
            manifest: Mutex::new(manifest),
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(1000))
                .build()
                .map_err(|e| ClusterError::Net(format!("http client: {e}")))?,
            down: AtomicBool::new(false),
            links: tokio::sync::Mutex::new(LinkLayers::default()),
            clocks: cfg.fake_clocks.clone().map(clock::Clocks::new),
            stalls: std::sync::OnceLock::new(),
            cfg,
            db,
            nodes,
            mode,
            net,
        };
        // On error, dropping `cluster` tears everything down.
        for node in &cluster.nodes {
            cluster.spawn_node(node)?;
        }
        cluster.wait_ready(None).await?;
        tracing::info!(
            "cluster up: {} nodes of {} ({} backend, prefix {})",
            cluster.nodes.len(),
            cluster.db.name(),
            cluster.mode,
            cluster.cfg.run_prefix
        );
        Ok(cluster)
    }

    fn spawn_node(&self, node: &NodeSpec) -> Result<(), ClusterError> {
        let mut cmd = self.db.command(node, &self.nodes)?;
        if let Some(clocks) = &self.clocks {
            clocks
                .prepare(&node.name, &node.log_dir, &mut cmd)
                .map_err(|e| ClusterError::NodeStart {
                    node: node.name.clone(),
                    reason: format!("cannot write its clock control file: {e}"),
                    log: process::stderr_log(&node.log_dir),
                })?;
        }
        let ns_fd = match &self.net {
            Net::Netns(nn) | Net::NetnsProxied(nn, _) => Some(nn.open_ns(node.id)?),
            Net::Proxy(_) => None,
        };
        let p = process::spawn(cmd, &node.log_dir, &self.cfg.run_prefix, ns_fd).map_err(|e| {
            ClusterError::NodeStart {
                node: node.name.clone(),
                reason: format!("cannot spawn: {e}"),
                log: process::stderr_log(&node.log_dir),
            }
        })?;
        tracing::info!(
            "started {} (pid {}) listening on {}",
            node.name,
            p.pid(),
            node.listen
        );
        *lock(&self.procs[(node.id - 1) as usize]) = Some(p);
        self.update_pids();
        Ok(())
    }

    fn update_pids(&self) {
        let pids: Vec<i32> = self
            .procs
            .iter()
            .filter_map(|p| lock(p).as_ref().map(NodeProcess::pid))
            .collect();
        let mut m = lock(&self.manifest);
        if m.pids != pids {
            m.pids = pids;
            let _ = m.save();
        }
    }

    /// The error for a node that exited: its status and the tail of its stderr log.
    fn exited_error(&self, node: &NodeSpec, status: std::process::ExitStatus) -> ClusterError {
        let log = process::stderr_log(&node.log_dir);
        let tail = process::log_tail(&log, 8);
        let hint = if tail.contains("in use") {
            format!(" (port {} already in use?)", node.listen.port())
        } else {
            String::new()
        };
        ClusterError::NodeStart {
            node: node.name.clone(),
            reason: format!("exited with {status}{hint}; last lines of stderr:\n{tail}"),
            log,
        }
    }

    /// Waits until every node (or only `only`) answers its probe and, if the probe asks for it
    /// and every node is waited for, some node reports being leader.
    async fn wait_ready(&self, only: Option<&NodeSpec>) -> Result<(), ClusterError> {
        let deadline = Instant::now() + self.cfg.startup_timeout;
        let targets: Vec<&NodeSpec> = match only {
            Some(n) => vec![n],
            None => self.nodes.iter().collect(),
        };
        let mut ready = vec![false; targets.len()];
        loop {
            let mut leader = false;
            for (k, node) in targets.iter().enumerate() {
                let status = {
                    let mut slot = lock(&self.procs[(node.id - 1) as usize]);
                    match slot.as_mut() {
                        Some(p) => p.try_wait().map_err(wait_error(&node.name))?,
                        None => None,
                    }
                };
                if let Some(st) = status {
                    *lock(&self.procs[(node.id - 1) as usize]) = None;
                    return Err(self.exited_error(node, st));
                }
                let how = self.db.ready_probe(node);
                if let Probe::Ready(v) = probe(&self.http, node, &how).await {
                    ready[k] = true;
                    leader |= says_leader(&v);
                }
            }
            let need_leader = only.is_none()
                && targets.iter().any(|n| {
                    matches!(
                        self.db.ready_probe(n),
                        ReadyProbe::HttpGet {
                            require_leader: true,
                            ..
                        }
                    )
                });
            if ready.iter().all(|r| *r) && (!need_leader || leader) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let k = ready.iter().position(|r| !r);
                let node = k.map(|k| targets[k]).unwrap_or(targets[0]);
                let reason = match k {
                    Some(_) => format!(
                        "did not answer its readiness probe at {} within {:?}",
                        node.client_addr, self.cfg.startup_timeout
                    ),
                    None => format!(
                        "no leader elected within {:?} (every node answered)",
                        self.cfg.startup_timeout
                    ),
                };
                return Err(ClusterError::NodeStart {
                    node: if k.is_some() {
                        node.name.clone()
                    } else {
                        "cluster".into()
                    },
                    reason,
                    log: process::stderr_log(&node.log_dir),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn spec(&self, name: &str) -> Result<&NodeSpec, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| ClusterError::UnknownNode(name.to_string()))
    }

    /// The nodes, in id order.
    pub fn nodes(&self) -> &[NodeSpec] {
        &self.nodes
    }

    /// The node names, in id order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The backend in use ([`NetMode::Auto`] resolved to `Netns` or `Proxy`).
    pub fn net_mode(&self) -> NetMode {
        self.mode
    }

    /// The system under test.
    pub fn system(&self) -> &dyn System {
        self.db.as_ref()
    }

    /// The run prefix naming this cluster's namespaces, links and process markers.
    pub fn run_prefix(&self) -> &str {
        &self.cfg.run_prefix
    }

    /// The pid of a node's process, if it is running (not killed).
    pub fn pid(&self, node: &str) -> Result<Option<i32>, ClusterError> {
        let spec = self.spec(node)?;
        Ok(lock(&self.procs[(spec.id - 1) as usize])
            .as_ref()
            .map(NodeProcess::pid))
    }

    /// The node that says it leads (`"role":"leader"` in its status answer, the highest term
    /// winning), for systems whose readiness probe reports a role (raft-kv); `None` if no
    /// running node claims it or the system does not report roles.
    pub async fn leader(&self) -> Option<String> {
        self.leader_and_term().await.map(|(name, _)| name)
    }

    /// [`leader`](Self::leader) with the term it claims (0 when its answer has no `term`).
    pub async fn leader_and_term(&self) -> Option<(String, u64)> {
        if !self.db.capabilities().leader_in_status {
            return None;
        }
        let mut best: Option<(u64, String)> = None;
        for node in &self.nodes {
            let how = self.db.ready_probe(node);
            if lock(&self.paused).contains(&node.name) || !self.is_running(&node.name).ok()? {
                continue;
            }
            if let Probe::Ready(v) = probe(&self.http, node, &how).await {
                if says_leader(&v) {
                    let term = v
                        .as_ref()
                        .and_then(|v| v.get("term"))
                        .and_then(|t| t.as_u64())
                        .unwrap_or(0);
                    if best.as_ref().is_none_or(|(t, _)| term > *t) {
                        best = Some((term, node.name.clone()));
                    }
                }
            }
        }
        best.map(|(t, n)| (n, t))
    }

    /// Applies a partition (replacing any previous one).
    pub async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        if self.mode == NetMode::Proxy && !self.db.capabilities().proxy && !grudge.is_empty() {
            return Err(ClusterError::Unsupported(format!(
                "{} nodes talk to each other directly on loopback (no per-link proxy), so they \
                 cannot be partitioned: use --net netns (root / CAP_NET_ADMIN)",
                self.db.name()
            )));
        }
        for (a, cut) in grudge {
            self.spec(a)?;
            for b in cut {
                self.spec(b)?;
            }
        }
        match &self.net {
            Net::Netns(nn) => nn.partition(grudge).await,
            Net::Proxy(px) | Net::NetnsProxied(_, px) => px.partition(grudge),
        }
    }

    /// Sets the whole-run condition of every node-to-node link (`--link-loss`,
    /// `--link-delay`); active link faults stay on top of it.
    pub async fn set_base_link_condition(&self, c: LinkCondition) -> Result<(), ClusterError> {
        let mut layers = self.links.lock().await;
        let old = std::mem::replace(&mut layers.base, c);
        let applied = self.apply_links(&layers).await;
        if applied.is_err() {
            layers.base = old;
        }
        applied
    }

    /// Puts link fault `faults` on as layer `layer` (replacing that layer; other layers and
    /// the whole-run condition stay, combined).
    pub async fn set_link_fault(
        &self,
        layer: &str,
        faults: LinkFaults,
    ) -> Result<(), ClusterError> {
        for (a, b) in faults.keys() {
            self.spec(a)?;
            self.spec(b)?;
        }
        let mut layers = self.links.lock().await;
        let old = layers.active.insert(layer.to_string(), faults);
        let applied = self.apply_links(&layers).await;
        if applied.is_err() {
            match old {
                Some(o) => layers.active.insert(layer.to_string(), o),
                None => layers.active.remove(layer),
            };
        }
        applied
    }

    /// Takes link fault layer `layer` off (every layer when `None`); the whole-run condition
    /// stays.
    pub async fn clear_link_faults(&self, layer: Option<&str>) -> Result<(), ClusterError> {
        let mut layers = self.links.lock().await;
        match layer {
            Some(l) => {
                layers.active.remove(l);
            }
            None => layers.active.clear(),
        }
        self.apply_links(&layers).await
    }

    /// The condition every directed link has now (healthy links left out).
    pub async fn link_conditions(&self) -> LinkFaults {
        let layers = self.links.lock().await;
        links::combine(&self.node_names(), layers.base, layers.active.values())
    }

    async fn apply_links(&self, layers: &LinkLayers) -> Result<(), ClusterError> {
        let all = links::combine(&self.node_names(), layers.base, layers.active.values());
        if self.mode == NetMode::Proxy && !self.db.capabilities().proxy && !all.is_empty() {
            return Err(ClusterError::Unsupported(format!(
                "{} nodes talk to each other directly on loopback (no per-link proxy), so their \
                 links cannot lose or delay messages: use --net netns",
                self.db.name()
            )));
        }
        match &self.net {
            Net::Netns(nn) => nn.set_link_conditions(&all).await,
            Net::Proxy(px) | Net::NetnsProxied(_, px) => px.set_conditions(&all),
        }
    }

    /// Removes every partition.
    pub async fn heal(&self) -> Result<(), ClusterError> {
        match &self.net {
            Net::Netns(nn) => nn.heal().await,
            Net::Proxy(px) | Net::NetnsProxied(_, px) => {
                px.heal();
                Ok(())
            }
        }
    }

    /// The faked clocks, or an error saying the cluster was started without them.
    fn clocks(&self, node: &str) -> Result<&clock::Clocks, ClusterError> {
        self.spec(node)?;
        self.clocks.as_ref().ok_or_else(|| {
            ClusterError::Unsupported(
                "clock faults need a cluster started with faked clocks".into(),
            )
        })
    }

    fn clock_error(node: &str, e: std::io::Error) -> ClusterError {
        ClusterError::Process {
            node: node.to_string(),
            reason: format!("clock control file: {e}"),
        }
    }

    /// Node `node`'s clock jumps by `secs` seconds (ahead if positive); the host's clock is
    /// not touched.
    pub fn clock_bump(&self, node: &str, secs: f64) -> Result<(), ClusterError> {
        self.clocks(node)?
            .bump(node, secs)
            .map_err(|e| Self::clock_error(node, e))
    }

    /// Node `node`'s clock runs at `rate` (2 = twice as fast) from now on, without a jump.
    pub fn clock_rate(&self, node: &str, rate: f64) -> Result<(), ClusterError> {
        self.clocks(node)?
            .set_rate(node, rate)
            .map_err(|e| Self::clock_error(node, e))
    }

    /// Node `node`'s clock flips between now and `delta` seconds off every `period`.
    pub fn clock_strobe(
        &self,
        node: &str,
        delta: f64,
        period: Duration,
    ) -> Result<(), ClusterError> {
        self.clocks(node)?
            .strobe(node, delta, period)
            .map_err(|e| Self::clock_error(node, e))
    }

    /// Node `node`'s clock back to real time.
    pub fn clock_reset(&self, node: &str) -> Result<(), ClusterError> {
        self.clocks(node)?
            .reset(node)
            .map_err(|e| Self::clock_error(node, e))
    }

    fn signal(&self, node: &str, sig: Signal) -> Result<(), ClusterError> {
        let spec = self.spec(node)?;
        let slot = lock(&self.procs[(spec.id - 1) as usize]);
        match slot.as_ref() {
            Some(p) => p.signal(sig).map_err(|e| ClusterError::Process {
                node: node.to_string(),
                reason: format!("{sig}: {e}"),
            }),
            None => Ok(()),
        }
    }

    /// SIGSTOP the node's process group and wait (up to a second) until the kernel reports it
    /// stopped, so the pause is in effect when this returns (a killed node: nothing to do).
    pub fn pause(&self, node: &str) -> Result<(), ClusterError> {
        self.signal(node, Signal::SIGSTOP)?;
        lock(&self.paused).insert(node.to_string());
        if let Some(pid) = self.pid(node)? {
            let deadline = Instant::now() + Duration::from_secs(1);
            while process::proc_state(pid).is_some_and(|s| s != 'T' && s != 't')
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    /// SIGCONT the node's process group and wait (up to a second) until it is no longer
    /// reported stopped.
    pub fn resume(&self, node: &str) -> Result<(), ClusterError> {
        self.signal(node, Signal::SIGCONT)?;
        lock(&self.paused).remove(node);
        if let Some(pid) = self.pid(node)? {
            let deadline = Instant::now() + Duration::from_secs(1);
            while process::proc_state(pid).is_some_and(|s| s == 'T' || s == 't')
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    /// SIGKILL the node's process group and reap it (already killed: nothing to do).
    pub fn kill(&self, node: &str) -> Result<(), ClusterError> {
        let spec = self.spec(node)?;
        let taken = lock(&self.procs[(spec.id - 1) as usize]).take();
        if let Some(mut p) = taken {
            p.kill_and_reap().map_err(|e| ClusterError::Process {
                node: node.to_string(),
                reason: format!("reaping after SIGKILL: {e}"),
            })?;
            tracing::info!("killed {node} (pid {})", p.pid());
        }
        lock(&self.paused).remove(node);
        self.update_pids();
        Ok(())
    }

    /// Whether the node's process is running (possibly paused).
    pub fn is_running(&self, node: &str) -> Result<bool, ClusterError> {
        let spec = self.spec(node)?;
        let mut slot = lock(&self.procs[(spec.id - 1) as usize]);
        Ok(match slot.as_mut() {
            Some(p) => p.try_wait().map_err(wait_error(node))?.is_none(),
            None => false,
        })
    }

    /// Starts a killed node again with the same command and data directory, and waits until it
    /// answers its probe. A node that is still running is left alone; one that exited on its
    /// own is started again.
    pub async fn restart(&self, node: &str) -> Result<(), ClusterError> {
        self.restart_nodes(&[node.to_string()]).await
    }

    /// [`restart`](Self::restart) for several nodes: every one is started before any is
    /// waited for (a member of a killed majority may answer its probe only once the others
    /// are back). Every node is started even if another fails; the first error is returned.
    pub async fn restart_nodes(&self, nodes: &[String]) -> Result<(), ClusterError> {
        let mut first_err: Option<ClusterError> = None;
        let mut started = Vec::new();
        for node in nodes {
            let spec = match self.spec(node) {
                Ok(s) => s.clone(),
                Err(e) => {
                    first_err.get_or_insert(e);
                    continue;
                }
            };
            let running = {
                let mut slot = lock(&self.procs[(spec.id - 1) as usize]);
                match slot.as_mut().map(|p| p.try_wait()) {
                    Some(Ok(None)) => true,
                    Some(Ok(Some(_))) | None => {
                        *slot = None;
                        false
                    }
                    Some(Err(e)) => {
                        first_err.get_or_insert(wait_error(&spec.name)(e));
                        continue;
                    }
                }
            };
            if running {
                continue;
            }
            match self.spawn_node(&spec) {
                Ok(()) => started.push(spec),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        for spec in &started {
            if let Err(e) = self.wait_ready(Some(spec)).await {
                first_err.get_or_insert(e);
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Heals, resumes, stops every node (SIGTERM, then SIGKILL after a grace period) and tears
    /// the network down. Logs stay in `run_dir/nodes/<name>/`.
    pub async fn shutdown(self) -> Result<(), ClusterError> {
        let mut first_err: Option<ClusterError> = None;
        if let Err(e) = self.heal().await {
            first_err.get_or_insert(e);
        }
        let mut procs: Vec<(String, NodeProcess)> = Vec::new();
        for (i, slot) in self.procs.iter().enumerate() {
            if let Some(p) = lock(slot).take() {
                procs.push((self.nodes[i].name.clone(), p));
            }
        }
        for (_, p) in &procs {
            let _ = p.signal(Signal::SIGCONT);
            let _ = p.signal(self.db.stop_signal());
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let mut all = true;
            for (name, p) in procs.iter_mut() {
                if p.try_wait().map_err(wait_error(name))?.is_none() {
                    all = false;
                }
            }
            if all {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (name, mut p) in procs {
            // Also kills any child the node left in its process group.
            if let Err(e) = p.kill_and_reap() {
                first_err.get_or_insert(ClusterError::Process {
                    node: name,
                    reason: format!("reap: {e}"),
                });
            }
        }
        if let Some(clocks) = &self.clocks {
            clocks.remove_all();
        }
        if let Err(e) = self.teardown_net() {
            first_err.get_or_insert(e);
        }
        self.down.store(true, Ordering::SeqCst);
        tracing::info!("cluster {} shut down", self.cfg.run_prefix);
        first_err.map_or(Ok(()), Err)
    }

    fn teardown_net(&self) -> Result<(), ClusterError> {
        let result = match &self.net {
            Net::Netns(nn) => nn.teardown(),
            Net::Proxy(px) => {
                px.shutdown();
                Ok(())
            }
            Net::NetnsProxied(nn, px) => {
                px.shutdown();
                nn.teardown()
            }
        };
        let mut m = lock(&self.manifest);
        m.pids.clear();
        m.cleaned = result.is_ok();
        let _ = m.save();
        result
    }
}

/// Refuses a node count or run prefix the runtime cannot lay out.
fn check_config(cfg: &ClusterConfig) -> Result<(), ClusterError> {
    if cfg.nodes == 0 || cfg.nodes > 200 {
        return Err(ClusterError::Unsupported(format!(
            "{} nodes (1 to 200 supported)",
            cfg.nodes
        )));
    }
    if !cleanup::valid_prefix(&cfg.run_prefix) {
        return Err(ClusterError::Unsupported(format!(
            "run prefix `{}` (2 to 8 chars of [a-z0-9], starting with a letter)",
            cfg.run_prefix
        )));
    }
    Ok(())
}

/// The backend `net` resolves to here (`auto`: netns when usable), logged with the reason.
fn resolve_backend(net: NetMode) -> Result<NetMode, ClusterError> {
    Ok(match net {
        NetMode::Auto => match net::netns::available() {
            Ok(()) => {
                tracing::info!("net backend: netns (auto: running as root and `ip netns` works)");
                NetMode::Netns
            }
            Err(why) => {
                tracing::info!("net backend: proxy (auto: netns unavailable: {why})");
                NetMode::Proxy
            }
        },
        NetMode::Netns => {
            net::netns::available().map_err(ClusterError::Unsupported)?;
            tracing::info!("net backend: netns");
            NetMode::Netns
        }
        NetMode::Proxy => {
            tracing::info!("net backend: proxy");
            NetMode::Proxy
        }
    })
}

/// The cleanup manifest of a cluster about to be created.
fn new_manifest(cfg: &ClusterConfig, mode: NetMode, netns: Option<&NetnsNames>) -> Manifest {
    let (harness_pid, harness_start) = cleanup::self_identity();
    Manifest {
        prefix: cfg.run_prefix.clone(),
        harness_pid,
        harness_start,
        run_dir: cfg.run_dir.clone(),
        net: mode.to_string(),
        namespaces: netns
            .map(|nn| {
                let mut v = nn.node_ns.clone();
                v.push(nn.switch_ns.clone());
                v
            })
            .unwrap_or_default(),
        links: netns
            .map(|nn| vec![nn.host_link.clone()])
            .unwrap_or_default(),
        pids: Vec::new(),
        cleaned: false,
    }
}

/// The node specs of a cluster whose node `id` listens on `listens[id - 1]` and reaches peer
/// `j` at `peer_addr(id, j)`.
fn layout(
    dirs: &[PathBuf],
    listens: &[SocketAddr],
    peer_addr: impl Fn(u64, u64) -> Result<SocketAddr, ClusterError>,
) -> Result<Vec<NodeSpec>, ClusterError> {
    let n = listens.len() as u64;
    let mut specs = Vec::new();
    for id in 1..=n {
        let i = (id - 1) as usize;
        let mut peer_addrs = Vec::new();
        for j in (1..=n).filter(|j| *j != id) {
            peer_addrs.push((j, format!("n{j}"), peer_addr(id, j)?));
        }
        specs.push(NodeSpec {
            id,
            name: format!("n{id}"),
            listen: listens[i],
            client_addr: listens[i],
            peer_addrs,
            data_dir: dirs[i].join("data"),
            log_dir: dirs[i].clone(),
        });
    }
    Ok(specs)
}

/// A namespace per node on a bridge; node `id` at its own address, the system's port.
async fn setup_netns(
    prefix: &str,
    dirs: &[PathBuf],
    db: &dyn System,
    peer_proxies: bool,
) -> Result<(Net, Vec<NodeSpec>), ClusterError> {
    let n = dirs.len();
    // `ip` commands block: run them off the async workers (works on any runtime).
    let prefix = prefix.to_string();
    let nn = tokio::task::spawn_blocking(move || NetnsNet::setup(&prefix, n))
        .await
        .map_err(|e| ClusterError::Net(format!("netns setup task: {e}")))??;
    let listens: Vec<SocketAddr> = (1..=n as u64)
        .map(|id| SocketAddr::from((nn.node_addr(id), db.client_port_for(id))))
        .collect();
    if !peer_proxies {
        let specs = layout(dirs, &listens, |_, j| Ok(listens[(j - 1) as usize]))?;
        return Ok((Net::Netns(nn), specs));
    }
    // Proxies on the bridge's host address, which every node namespace reaches directly.
    let proxied = async {
        let px = ProxyNet::setup_on(nn.host_addr().into(), &node_triples(&listens)).await?;
        let specs = layout(dirs, &listens, |id, j| proxy_addr(&px, id, j))?;
        Ok::<_, ClusterError>((px, specs))
    };
    match proxied.await {
        Ok((px, specs)) => {
            tracing::info!(
                "node-to-node links go through the harness's proxies at {} (delay in netns)",
                nn.host_addr()
            );
            Ok((Net::NetnsProxied(nn, px), specs))
        }
        Err(e) => {
            let _ = nn.teardown();
            Err(e)
        }
    }
}

/// `(id, name, listen address)` of every node, for the proxies.
fn node_triples(listens: &[SocketAddr]) -> Vec<(u64, String, SocketAddr)> {
    (0..listens.len())
        .map(|i| ((i + 1) as u64, format!("n{}", i + 1), listens[i]))
        .collect()
}

/// The proxy node `id` uses to reach node `j`.
fn proxy_addr(px: &ProxyNet, id: u64, j: u64) -> Result<SocketAddr, ClusterError> {
    px.link_addr(id, j)
        .ok_or_else(|| ClusterError::Net(format!("no proxy for n{id}->n{j}")))
}

/// Nodes on 127.0.0.1, peer links through one proxy per directed link (or direct, for a
/// system that cannot be given per-peer addresses).
async fn setup_proxy(
    dirs: &[PathBuf],
    direct_peers: bool,
) -> Result<(Net, Vec<NodeSpec>), ClusterError> {
    let mut listens = Vec::new();
    for _ in dirs {
        listens.push(SocketAddr::from((
            [127, 0, 0, 1],
            net::proxy::free_local_port()
                .map_err(|e| ClusterError::Net(format!("no free TCP port on 127.0.0.1: {e}")))?,
        )));
    }
    let triples = node_triples(&listens);
    let px = ProxyNet::setup(if direct_peers { &[] } else { &triples }).await?;
    let specs = layout(dirs, &listens, |id, j| match direct_peers {
        true => Ok(listens[(j - 1) as usize]),
        false => proxy_addr(&px, id, j),
    })?;
    Ok((Net::Proxy(px), specs))
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.down.swap(true, Ordering::SeqCst) {
            return;
        }
        for slot in &self.procs {
            if let Some(mut p) = lock(slot).take() {
                let _ = p.kill_and_reap();
            }
        }
        if let Some(clocks) = &self.clocks {
            clocks.remove_all();
        }
        if let Err(e) = self.teardown_net() {
            eprintln!(
                "harness: cleanup of run {} failed: {e}",
                self.cfg.run_prefix
            );
        }
    }
}

/// A failed `waitpid` on a node's process, as a [`ClusterError`] naming the node.
fn wait_error(node: &str) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |e| ClusterError::Process {
        node: node.to_string(),
        reason: format!("waiting for its process: {e}"),
    }
}
