//! The configuration of a test run, in the runner's own types: the system ([`SystemSpec`]),
//! the workload ([`WorkloadOptions`]), the nemesis ([`NemesisConfig`]) and the run's own
//! knobs; how it is checked against what the system can do ([`TestConfig::check_system`]);
//! and its `test.json` view. The command line that fills it is `cmd/test.rs`; nothing here
//! knows about flags.

use crate::cluster::links::LinkCondition;
use crate::cluster::nemesis::{FaultKind, NemesisConfig, Trigger};
use crate::exit::HarnessError;
use crate::netmode::NetMode;
use crate::systems::{self, Capabilities, SystemError, SystemSpec};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use workloads::{WorkloadKind, WorkloadOptions};

/// Everything one `harness test` invocation needs.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub name: String,
    /// The seed of the first run (the workload's and the nemesis's seeds follow it).
    pub seed: u64,
    pub system: SystemSpec,
    pub workload: WorkloadOptions,
    pub nemesis: NemesisConfig,
    pub nodes: usize,
    pub net: NetMode,
    /// The whole-run condition of every node-to-node link (`--link-loss`, `--link-delay`;
    /// healthy: none; a delay needs the proxy backend).
    pub link: LinkCondition,
    pub time_limit: Duration,
    /// Overall operation rate limit (ops/s), if any.
    pub rate: Option<f64>,
    pub op_timeout: Duration,
    pub recovery: Duration,
    pub check_timeout: Duration,
    pub store: PathBuf,
    pub test_count: u32,
    pub junit: Option<PathBuf>,
    pub no_report: bool,
    /// `--workload fencing`: the protected resource rejects lower tokens (`--fencing on`).
    pub fencing: bool,
    /// The command line, for `test.json`.
    pub argv: Vec<String>,
}

/// A system error as the user sees it: a bad `--db`/`--db-opt`/`--bug` is bad input (254),
/// a missing binary or an I/O error is the harness failing (255).
pub fn system_error(e: SystemError) -> HarnessError {
    match e {
        SystemError::BadConfig(m) => HarnessError::BadInput(m),
        other => HarnessError::Failed(other.to_string()),
    }
}

impl TestConfig {
    /// The config of the `i`-th run of `--test-count` (seed + i, for the workload and the
    /// nemesis too).
    pub fn for_run(&self, i: u32) -> TestConfig {
        let mut c = self.clone();
        c.seed = self.seed.wrapping_add(u64::from(i));
        c.workload.seed = c.seed;
        c.nemesis.seed = c.seed;
        c
    }

    /// Builds the system (its options and `--bug`s validated; binaries are looked up only when
    /// a run starts) and checks the rest of the config against its capabilities: the workload
    /// it speaks, a leader in its status for the leader-change trigger, proxied peer links
    /// for `--link-delay`, partitions possible on the chosen backend.
    pub fn check_system(&self) -> Result<Capabilities, HarnessError> {
        let system = systems::build(&self.system).map_err(system_error)?;
        let caps = system.capabilities();
        let name = system.name();
        if !caps.workloads.contains(&self.workload.kind) {
            let speaks: Vec<&str> = caps.workloads.iter().map(|w| w.name()).collect();
            return Err(HarnessError::BadInput(format!(
                "--workload {}: {name} speaks {}",
                self.workload.kind.name(),
                speaks.join(", ")
            )));
        }
        if let Some(why) = system.nodes_refusal(self.nodes) {
            return Err(HarnessError::BadInput(why));
        }
        let holders = [WorkloadKind::Lock, WorkloadKind::Fencing];
        if self.nemesis.faults.contains(&FaultKind::Stall) && !holders.contains(&self.workload.kind)
        {
            return Err(HarnessError::BadInput(format!(
                "--nemesis stall freezes lock holders: it needs --workload lock or fencing, not {}",
                self.workload.kind.name()
            )));
        }
        if self.nemesis.trigger == Trigger::LeaderChange && !caps.leader_in_status {
            return Err(HarnessError::BadInput(format!(
                "--nemesis-trigger leader-change: {name}'s status answer does not say which \
                 node leads; use the timer trigger"
            )));
        }
        let waits_for_leaders = self
            .nemesis
            .script
            .as_ref()
            .is_some_and(|s| s.waits_for_leaders());
        if waits_for_leaders && !caps.leader_in_status {
            return Err(HarnessError::BadInput(format!(
                "--nemesis-script: its wait-leader steps need a system whose status answer                  says which node leads ({name}'s does not)"
            )));
        }
        if self.delays() && !caps.proxy {
            return Err(HarnessError::BadInput(format!(
                "--link-delay / --nemesis delay / a script's delay step: needs a system whose \
                 peer links can go \
                 through the harness's proxies ({name}'s cannot: it takes no address per \
                 peer), in both backends: this kernel has no netem to delay packets"
            )));
        }
        let loses = self.link.loss > 0.0 || self.nemesis.faults.contains(&FaultKind::Loss);
        if loses && self.net == NetMode::Proxy && !caps.proxy {
            return Err(HarnessError::BadInput(format!(
                "--link-loss / --nemesis loss: {name}'s peer links do not go through the \
                 harness's proxies: use --net netns"
            )));
        }
        if self.nemesis.faults.contains(&FaultKind::Clock) {
            if let Some(why) = system.clock_refusal() {
                return Err(HarnessError::BadInput(why));
            }
            crate::cluster::clock::locate_libfaketime().map_err(HarnessError::BadInput)?;
        }
        if self.nemesis.faults.contains(&FaultKind::Wire)
            && (self.net != NetMode::Proxy || !caps.proxy)
        {
            return Err(HarnessError::BadInput(format!(
                "--nemesis wire: corrupts and duplicates messages in the harness's proxies, so it \
                 needs --net proxy and a system whose peer links go through them ({name}'s {})",
                if caps.proxy { "do" } else { "do not" }
            )));
        }
        if self.nemesis.faults.contains(&FaultKind::Byzantine) {
            check_byzantine(system.as_ref(), &self.nemesis.byzantine, self.nodes)?;
        }
        if self.nemesis.faults.contains(&FaultKind::Partition) && !caps.proxy {
            let netns = crate::cluster::net::netns::available();
            if let Some(why) = system.partition_refusal(self.net, &netns) {
                return Err(HarnessError::BadInput(why));
            }
        }
        Ok(caps)
    }

    /// Whether the run delays messages (`--link-delay`, `--nemesis delay`): then node-to-node
    /// links go through the harness's proxies in the netns backend too.
    pub fn delays(&self) -> bool {
        !self.link.delay.is_zero()
            || !self.link.jitter.is_zero()
            || self.nemesis.faults.contains(&FaultKind::Delay)
            || self
                .nemesis
                .script
                .as_ref()
                .is_some_and(|s| s.delays_links())
    }

    /// `test.json` (DESIGN contract fields first, then the rest of the knobs).
    pub fn test_json(
        &self,
        net_resolved: NetMode,
        start_time: &str,
        git_sha: Option<&str>,
    ) -> Value {
        let n = &self.nemesis;
        let names = |t: &[crate::cluster::nemesis::Target]| {
            t.iter().map(|t| t.as_str()).collect::<Vec<_>>()
        };
        let mut v = json!({
            "name": self.name,
            "seed": self.seed,
            "argv": self.argv,
            "harness_version": env!("CARGO_PKG_VERSION"),
            "git_sha": git_sha,
            "workload": self.workload.kind.name(),
            "nemesis": n.faults.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "net": net_resolved.to_string(),
            "nodes": self.nodes,
            "concurrency": self.workload.concurrency,
            "time_limit_s": self.time_limit.as_secs_f64(),
            "db": self.system.test_json_name(),
            "db_config": self.system.db_config,
            "bugs": self.system.bugs,
            "start_time": start_time,
            "partition": n.shape.to_string(),
            "targets": names(&n.targets),
            "pause_targets": names(&n.pause_targets),
            "kill_targets": names(&n.kill_targets),
            "byzantine_nodes": n.byzantine.nodes,
            "byzantine_fixed": n.byzantine.fixed.iter().map(|(n, m)| format!("{n}={m}")).collect::<Vec<_>>(),
            "byzantine_modes": n.byzantine.modes,
        });
        let more = json!({
            "nemesis_trigger": n.trigger.as_str(),
            "nemesis_script": n.script.as_ref().map(|s| s.source.clone()),
            "nemesis_script_text": n.script.as_ref().map(|s| s.text.clone()),
            "nemesis_overlap": n.overlap,
            "nemesis_together": n.together,
            "nemesis_interval_s": n.interval.as_secs_f64(),
            "clock_faults": n.clock.faults.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "clock_skew_s": n.clock.skew.as_secs_f64(),
            "clock_rates": n.clock.rates,
            "clock_strobe_period_ms": n.clock.strobe_period.as_millis() as u64,
            "clock_targets": names(&n.clock.targets),
            "link_delay_ms": self.link.delay.as_millis() as u64,
            "link_jitter_ms": self.link.jitter.as_millis() as u64,
            "link_loss": self.link.loss,
            "rate": self.rate,
            "op_timeout_ms": self.op_timeout.as_millis() as u64,
            "keys": self.workload.keys,
            "ops_per_key": self.workload.ops_per_key,
            "recovery_time_s": self.recovery.as_secs_f64(),
            "check_timeout_s": self.check_timeout.as_secs_f64(),
            "fencing": self.fencing,
            "db_opts": self.system.db_opts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        });
        // Two objects: one `json!` of every field exceeds the macro's recursion limit.
        if let (Some(obj), Value::Object(rest)) = (v.as_object_mut(), more) {
            obj.extend(rest);
        }
        v
    }
}

/// `--nemesis byzantine` needs a system whose nodes can be made to lie, in modes it knows.
fn check_byzantine(
    system: &dyn crate::systems::System,
    cfg: &crate::cluster::nemesis::ByzantineConfig,
    nodes: usize,
) -> Result<(), HarnessError> {
    let known = system.byzantine_modes();
    if known.is_empty() {
        return Err(HarnessError::BadInput(format!(
            "--nemesis byzantine: {} nodes cannot be made Byzantine (no POST /admin/byzantine)",
            system.name()
        )));
    }
    if let Some(m) = cfg.named_modes().into_iter().find(|m| !known.contains(m)) {
        return Err(HarnessError::BadInput(format!(
            "--byzantine-modes {m}: {} knows {}",
            system.name(),
            known.join(", ")
        )));
    }
    let node_names: Vec<String> = (1..=nodes).map(|i| format!("n{i}")).collect();
    if let Some((n, _)) = cfg.fixed.iter().find(|(n, _)| !node_names.contains(n)) {
        return Err(HarnessError::BadInput(format!(
            "--byzantine-modes {n}=...: no node {n} (nodes are n1..n{nodes})"
        )));
    }
    if cfg.nodes == 0 {
        return Err(HarnessError::BadInput(
            "--byzantine-nodes 0: a byzantine nemesis needs at least one node".into(),
        ));
    }
    Ok(())
}
