//! `harness test`: the command line of a test run (docs/design.md, "CLI"), turned into a
//! [`TestConfig`] (each flag checked, bad values are [`HarnessError::BadInput`], exit 254;
//! then the config is checked against the system's capabilities, `--bug` included) and handed
//! to the runner ([`crate::run::run_tests`]), which runs one or `--test-count` tests in a row.

use crate::cluster::links::{self, parse_link_targets, LinkCondition, LinkFaultOptions};
use crate::cluster::nemesis::script::Script;
use crate::cluster::nemesis::{parse_clock_faults, parse_clock_rates, ClockOptions, Target};
use crate::cluster::nemesis::{
    parse_faults, parse_targets, ByzantineConfig, NemesisConfig, PartitionShape, Trigger,
};
use crate::exit::{HarnessError, Outcome};
use crate::netmode::NetMode;
use crate::run::config::TestConfig;
use crate::run::store::valid_test_name;
use crate::systems::SystemSpec;
use std::path::PathBuf;
use std::time::Duration;
use workloads::{WorkloadKind, WorkloadOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct TestArgs {
    /// Workload: `register` (independent cas-registers, linearizability per key) or `set`
    /// (unique adds, set-full); the list is `workloads::WorkloadKind::ALL`.
    #[arg(long, default_value = "register", help_heading = "Workload")]
    pub workload: String,
    /// Faults, a comma list of `partition`, `pause`, `kill`, `loss`, `delay`, `clock`, or
    /// `none`.
    #[arg(long, default_value = "none", help_heading = "Faults")]
    pub nemesis: String,
    /// Partition shape: `isolated`, `halves`, `majorities-ring`, `bridge`, `random`, or a JSON
    /// grudge like `{"n1":["n2","n3"]}`.
    #[arg(long, default_value = "random", help_heading = "Faults")]
    pub partition: String,
    /// Who a pause or kill hits, a comma list drawn from each time: `one`, `minority`,
    /// `majority`, `all`, `leader` (Jepsen's targets; `primaries` = `leader`).
    #[arg(long, default_value = "one,minority", help_heading = "Faults")]
    pub targets: String,
    /// Targets of pauses only (same choices; default: `--targets`).
    #[arg(long, help_heading = "Faults")]
    pub pause_targets: Option<String>,
    /// Targets of kills only (same choices; default: `--targets`).
    #[arg(long, help_heading = "Faults")]
    pub kill_targets: Option<String>,
    /// What starts each fault: `timer` (a staggered wait) or `leader-change` (as soon as a
    /// new leader is seen in the nodes' status, so the fault hits the first milliseconds of a
    /// leadership; raft-kv and systems whose probe reports a leader).
    #[arg(long, default_value = "timer", help_heading = "Faults")]
    pub nemesis_trigger: String,
    /// Run each `--nemesis` kind on its own schedule, so faults overlap (a kill during a
    /// partition), as Jepsen's combined nemesis does; default: one fault at a time, in turn.
    #[arg(long, help_heading = "Faults")]
    pub nemesis_overlap: bool,
    /// Apply every `--nemesis` kind at once as one compound fault (in the listed order), and
    /// undo them in reverse order, each after its own staggered wait: e.g. `pause,kill` with
    /// `--pause-targets leader --kill-targets followers` freezes a leader while the others
    /// restart, elect, and serve, then wakes it.
    #[arg(long, conflicts_with = "nemesis_overlap", help_heading = "Faults")]
    pub nemesis_together: bool,
    /// `--nemesis byzantine`: how many nodes lie (drawn once from the seed; the checker
    /// judges only the others).
    #[arg(long, default_value_t = 1)]
    pub byzantine_nodes: usize,
    /// `--nemesis byzantine`: the modes drawn from, a comma list (default: every mode the
    /// system offers; pbft-chat: equivocate, forge-votes, bad-signature, silent, replay),
    /// or fixed modes per node, `n1=equivocate,n4=forge-votes` (then those nodes lie, each
    /// always in its mode, and --byzantine-nodes is ignored).
    #[arg(long)]
    pub byzantine_modes: Option<String>,
    /// A nemesis script (TOML): steps applied in order to nodes named by their role (the
    /// leader, the next leader, the others), to reproduce one interleaving on purpose; see
    /// docs/design.md "Nemesis scripts" and examples/nemesis/. Replaces `--nemesis`.
    #[arg(long, value_name = "FILE", help_heading = "Faults")]
    pub nemesis_script: Option<std::path::PathBuf>,
    /// Mean seconds between fault changes: a fault is off, then on, for a wait drawn each time
    /// uniformly from 0 to twice this (Jepsen's stagger, seeded).
    #[arg(
        long,
        default_value_t = 5.0,
        help_heading = "Faults",
        allow_negative_numbers = true
    )]
    pub nemesis_interval: f64,
    /// Length of the main phase, in seconds.
    #[arg(
        long,
        default_value_t = 60.0,
        help_heading = "Run",
        allow_negative_numbers = true
    )]
    pub time_limit: f64,
    /// Number of nodes.
    #[arg(long, default_value_t = 5, help_heading = "Cluster")]
    pub nodes: usize,
    /// Number of client workers: a number, or `Kn` for K per node. Default `2n`.
    #[arg(long, default_value = "2n", help_heading = "Workload")]
    pub concurrency: String,
    /// Overall operation rate limit, ops per second (default: as fast as the system answers).
    #[arg(long, help_heading = "Workload", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Timeout of one client operation (redirects included), in milliseconds.
    #[arg(long, default_value_t = 1000, help_heading = "Workload")]
    pub op_timeout: u64,
    /// Register: concurrently active keys (default: concurrency / nodes). Set: buckets the
    /// set is stored in (default: concurrency).
    #[arg(long, help_heading = "Workload")]
    pub keys: Option<usize>,
    /// Register: operations per key before the workers move to a fresh key.
    #[arg(long, default_value_t = 100, help_heading = "Workload")]
    pub ops_per_key: usize,
    /// Seed of the op generator and the nemesis (default: random, logged and stored).
    #[arg(long, help_heading = "Run")]
    pub seed: Option<u64>,
    /// Network backend: `auto`, `netns` (needs CAP_NET_ADMIN) or `proxy`.
    #[arg(long, default_value = "auto", help_heading = "Cluster")]
    pub net: String,
    /// One-way delay, in milliseconds, with an optional jitter (`50` or `50,20`: each delay
    /// drawn from 30..70 ms), that every node-to-node link adds for the whole run (a slow
    /// network, as Maelstrom's latency). Needs `--net proxy`: this kernel has no netem.
    #[arg(
        long,
        value_name = "MS[,JITTER]",
        default_value = "0",
        help_heading = "Faults"
    )]
    pub link_delay: String,
    /// Probability (`0.1` or `10%`) that every node-to-node link loses a message, for the
    /// whole run (netns: packets; proxy: requests, see docs/design.md "Link faults").
    #[arg(long, value_name = "P", default_value = "0", help_heading = "Faults")]
    pub link_loss: String,
    /// `--nemesis loss`: loss probabilities, one drawn per fault (`0.1,0.3`).
    #[arg(
        long,
        value_name = "P,..",
        default_value = "0.3",
        help_heading = "Faults"
    )]
    pub loss: String,
    /// `--nemesis delay`: the one-way delay each fault adds (`50ms`; proxy backend only).
    #[arg(
        long,
        value_name = "MS",
        default_value = "50ms",
        help_heading = "Faults"
    )]
    pub delay: String,
    /// `--nemesis delay`: the jitter around it (each delay uniform in delay ± jitter).
    #[arg(long, value_name = "MS", default_value = "0", help_heading = "Faults")]
    pub jitter: String,
    /// `--nemesis loss,delay`: which links a fault hits, one drawn per fault: `all` (every
    /// node-to-node link), `one` (every link into and out of one random node), or both
    /// (`all,one`).
    #[arg(
        long,
        value_name = "all,one",
        default_value = "all,one",
        help_heading = "Faults"
    )]
    pub link_targets: String,
    /// `--nemesis clock`: the clock faults drawn from, one per fault: `skew` (the clock jumps
    /// ahead or back), `rate` (runs fast or slow), `strobe` (flips back and forth).
    #[arg(
        long,
        value_name = "skew,rate,strobe",
        default_value = "skew,rate,strobe",
        help_heading = "Faults"
    )]
    pub clock_faults: String,
    /// `--nemesis clock`: the largest skew (`5s`, `800ms`); each skew or strobe offset is
    /// drawn per node from ± a tenth of it to all of it.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5s",
        help_heading = "Faults"
    )]
    pub clock_skew: String,
    /// `--nemesis clock`: clock rates drawn per node (`0.5,2`: half or twice real speed).
    #[arg(
        long,
        value_name = "R,..",
        default_value = "0.5,2",
        help_heading = "Faults"
    )]
    pub clock_rate: String,
    /// `--nemesis clock`: how often a strobed clock flips (`100ms`).
    #[arg(
        long,
        value_name = "MS",
        default_value = "100ms",
        help_heading = "Faults"
    )]
    pub clock_strobe_period: String,
    /// Targets of clock faults only (same choices as `--targets`; default: `--targets`).
    #[arg(long, help_heading = "Faults")]
    pub clock_targets: Option<String>,
    /// `--nemesis wire`: probability that a message (a chunk the proxy reads) gets one byte
    /// corrupted in flight (proxy backend only).
    #[arg(long, value_name = "P", default_value = "0.2", help_heading = "Faults")]
    pub corrupt: String,
    /// `--nemesis wire`: probability that a message is delivered twice (proxy backend only).
    #[arg(long, value_name = "P", default_value = "0.1", help_heading = "Faults")]
    pub duplicate: String,
    /// Path of the bundled `raft-node` binary (default: next to the harness binary).
    #[arg(long, help_heading = "Cluster")]
    pub node_bin: Option<PathBuf>,
    /// System under test, a name of the systems registry: `raft-kv`, `etcd` (or `user`, with
    /// `--db-config`).
    #[arg(long, default_value = crate::systems::raft_kv::NAME, help_heading = "Cluster")]
    pub db: String,
    /// Path of the system's server binary (e.g. etcd).
    #[arg(long, help_heading = "Cluster")]
    pub db_bin: Option<PathBuf>,
    /// A `key=value` option for the system under test (repeatable).
    #[arg(long = "db-opt", value_name = "K=V", help_heading = "Cluster")]
    pub db_opt: Vec<String>,
    /// A TOML description of a user system under test.
    #[arg(long, help_heading = "Cluster")]
    pub db_config: Option<PathBuf>,
    /// A deliberate bug to enable in every node (repeatable), e.g. `stale-read`; an unknown
    /// one is refused with the system's list.
    #[arg(long = "bug", value_name = "NAME", help_heading = "Cluster")]
    pub bug: Vec<String>,
    /// Results store root.
    #[arg(long, default_value = "results", help_heading = "Output")]
    pub store: PathBuf,
    /// Test name (the folder under the store). Default `<workload>-<nemesis>`.
    #[arg(long, help_heading = "Output")]
    pub name: Option<String>,
    /// Run K tests in a row (seeds seed, seed+1, ...), print a summary, exit with the worst.
    #[arg(long, default_value_t = 1, help_heading = "Run")]
    pub test_count: u32,
    /// Also write a JUnit XML report here.
    #[arg(long, help_heading = "Output")]
    pub junit: Option<PathBuf>,
    /// Seconds the healed cluster gets before the final reads.
    #[arg(
        long,
        default_value_t = 5.0,
        help_heading = "Run",
        allow_negative_numbers = true
    )]
    pub recovery_time: f64,
    /// Time budget of the linearizability check, in seconds (then the verdict is unknown).
    #[arg(
        long,
        default_value_t = 120.0,
        help_heading = "Run",
        allow_negative_numbers = true
    )]
    pub check_timeout: f64,
    /// Do not write report.html and plots.
    #[arg(long, help_heading = "Output")]
    pub no_report: bool,
    /// `--workload fencing`: whether the protected resource rejects a token lower than the
    /// highest it has accepted (`on`) or takes every write (`off`).
    #[arg(long, default_value = "on", value_parser = ["on", "off"], help_heading = "Workload")]
    pub fencing: String,
}

/// The end of `harness test --help`: examples and exit codes.
pub const AFTER_HELP: &str = "\
Examples:
  harness test --time-limit 20                       five raft-kv nodes, no faults
  harness test --nemesis partition,kill --time-limit 30 --seed 7
  harness test --bug stale-read --nemesis partition  a deliberate bug the checker should catch
  harness test --db etcd --db-bin /usr/bin/etcd --workload set
  harness test --test-count 5 --junit junit.xml     five seeds in a row, worst verdict wins

Exit codes:
  0    valid: every checker passed
  1    invalid: a checker found a violation (see report.html of the run)
  2    unknown: could not decide (nothing succeeded, a budget ran out)
  254  bad arguments or input (nothing was started)
  255  the harness itself failed (a node would not start, I/O error)";

pub fn run(args: TestArgs) -> Result<Outcome, HarnessError> {
    let argv: Vec<String> = std::env::args().collect();
    let cfg = args.to_config(argv)?;
    cfg.check_system()?;
    crate::run::run_tests(cfg).map(Outcome::Verdict)
}

fn bad(msg: impl Into<String>) -> HarnessError {
    HarnessError::BadInput(msg.into())
}

fn secs(flag: &str, v: f64, min: f64) -> Result<Duration, HarnessError> {
    if !v.is_finite() || v < min || v > 86_400.0 {
        return Err(bad(format!(
            "--{flag} {v}: expected seconds between {min} and 86400"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// A duration of 0 to 3600 s: `5s`, `800ms`, `2m`, or plain seconds (`1.5`).
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 0.001)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = t.strip_suffix('m') {
        (v, 60.0)
    } else {
        (t, 1.0)
    };
    let secs = num
        .trim()
        .parse::<f64>()
        .ok()
        .map(|v| v * scale)
        .filter(|v| (0.0..=3600.0).contains(v))
        .ok_or_else(|| format!("`{t}`: expected 0 to 3600 s, such as 5s, 800ms or 1.5"))?;
    Ok(Duration::from_secs_f64(secs))
}

/// `10` or `3n` (3 per node).
pub fn parse_concurrency(s: &str, nodes: usize) -> Result<usize, HarnessError> {
    let s = s.trim();
    let n = if let Some(k) = s.strip_suffix('n') {
        k.parse::<usize>().map(|k| k * nodes)
    } else {
        s.parse::<usize>()
    }
    .map_err(|_| {
        bad(format!(
            "--concurrency {s}: expected a number or `Kn` (K per node)"
        ))
    })?;
    if n == 0 || n > 1000 {
        return Err(bad(format!(
            "--concurrency {s}: expected 1 to 1000 workers, got {n}"
        )));
    }
    Ok(n)
}

impl TestArgs {
    /// The run's config: every flag parsed and range-checked (what the system can do is
    /// checked next, by [`TestConfig::check_system`]).
    pub fn to_config(&self, argv: Vec<String>) -> Result<TestConfig, HarnessError> {
        let seed = self.seed.unwrap_or_else(rand::random::<u64>);
        let nemesis = self.nemesis_config(seed)?;
        let workload = self.workload_options(seed)?;
        let net: NetMode = self.net.parse().map_err(|e| bad(format!("--net: {e}")))?;
        let (delay, jitter) = links::parse_delay_jitter(&self.link_delay)
            .map_err(|e| bad(format!("--link-delay {e}")))?;
        let loss =
            links::parse_loss(&self.link_loss).map_err(|e| bad(format!("--link-loss {e}")))?;
        let link = LinkCondition {
            loss,
            delay,
            jitter,
            ..Default::default()
        };
        self.check_run_knobs()?;
        let name = self.test_name(&workload, &nemesis)?;
        Ok(TestConfig {
            name,
            seed,
            system: self.system_spec()?,
            workload,
            nemesis,
            nodes: self.nodes,
            net,
            link,
            time_limit: secs("time-limit", self.time_limit, 0.0)?,
            rate: self.rate,
            op_timeout: Duration::from_millis(self.op_timeout),
            recovery: secs("recovery-time", self.recovery_time, 0.0)?,
            check_timeout: secs("check-timeout", self.check_timeout, 0.1)?,
            store: self.store.clone(),
            test_count: self.test_count,
            junit: self.junit.clone(),
            no_report: self.no_report,
            fencing: self.fencing == "on",
            argv,
        })
    }

    fn nemesis_config(&self, seed: u64) -> Result<NemesisConfig, HarnessError> {
        let faults = parse_faults(&self.nemesis).map_err(|e| bad(format!("--nemesis: {e}")))?;
        let shape: PartitionShape = self
            .partition
            .parse()
            .map_err(|e| bad(format!("--partition: {e}")))?;
        let targets = parse_targets(&self.targets).map_err(|e| bad(format!("--targets: {e}")))?;
        let own_targets = |flag: &str, v: &Option<String>| match v {
            Some(s) => parse_targets(s).map_err(|e| bad(format!("--{flag}: {e}"))),
            None => Ok(Vec::new()),
        };
        let trigger: Trigger = self
            .nemesis_trigger
            .parse()
            .map_err(|e| bad(format!("--nemesis-trigger: {e}")))?;
        Ok(NemesisConfig {
            faults,
            shape,
            targets,
            pause_targets: own_targets("pause-targets", &self.pause_targets)?,
            kill_targets: own_targets("kill-targets", &self.kill_targets)?,
            interval: secs("nemesis-interval", self.nemesis_interval, 0.05)?,
            trigger,
            overlap: self.nemesis_overlap,
            together: self.nemesis_together,
            links: self.link_fault_options()?,
            clock: self.clock_options(own_targets("clock-targets", &self.clock_targets)?)?,
            seed,
            byzantine: ByzantineConfig::parse(
                self.byzantine_nodes,
                self.byzantine_modes.as_deref().unwrap_or(""),
            )
            .map_err(HarnessError::BadInput)?,
            script: self.nemesis_script()?,
        })
    }

    /// `--nemesis-script FILE`, loaded; an error if `--nemesis` names faults too.
    fn nemesis_script(&self) -> Result<Option<Script>, HarnessError> {
        let Some(path) = &self.nemesis_script else {
            return Ok(None);
        };
        if self.nemesis.trim() != "none" {
            return Err(bad(format!(
                "--nemesis-script {} replaces --nemesis: drop `--nemesis {}`",
                path.display(),
                self.nemesis
            )));
        }
        Script::load(path)
            .map(Some)
            .map_err(|e| bad(format!("--nemesis-script {e}")))
    }

    fn clock_options(&self, targets: Vec<Target>) -> Result<ClockOptions, HarnessError> {
        let skew = parse_seconds(&self.clock_skew).map_err(|e| bad(format!("--clock-skew {e}")))?;
        let strobe_period = links::parse_millis(&self.clock_strobe_period)
            .map_err(|e| bad(format!("--clock-strobe-period {e}")))?;
        if strobe_period < Duration::from_millis(1) {
            return Err(bad(format!(
                "--clock-strobe-period {}: expected at least 1 ms",
                self.clock_strobe_period
            )));
        }
        Ok(ClockOptions {
            faults: parse_clock_faults(&self.clock_faults)
                .map_err(|e| bad(format!("--clock-faults: {e}")))?,
            skew,
            rates: parse_clock_rates(&self.clock_rate)
                .map_err(|e| bad(format!("--clock-rate {e}")))?,
            strobe_period,
            targets,
        })
    }

    fn link_fault_options(&self) -> Result<LinkFaultOptions, HarnessError> {
        Ok(LinkFaultOptions {
            losses: links::parse_loss_list(&self.loss).map_err(|e| bad(format!("--loss {e}")))?,
            delay: links::parse_millis(&self.delay).map_err(|e| bad(format!("--delay {e}")))?,
            jitter: links::parse_millis(&self.jitter).map_err(|e| bad(format!("--jitter {e}")))?,
            targets: parse_link_targets(&self.link_targets)
                .map_err(|e| bad(format!("--link-targets: {e}")))?,
            corrupt: links::parse_loss(&self.corrupt).map_err(|e| bad(format!("--corrupt {e}")))?,
            duplicate: links::parse_loss(&self.duplicate)
                .map_err(|e| bad(format!("--duplicate {e}")))?,
        })
    }

    fn workload_options(&self, seed: u64) -> Result<WorkloadOptions, HarnessError> {
        let kind = WorkloadKind::parse(&self.workload).ok_or_else(|| {
            bad(format!(
                "--workload {}: expected one of {}",
                self.workload,
                WorkloadKind::names()
            ))
        })?;
        if self.nodes == 0 || self.nodes > 32 {
            return Err(bad(format!("--nodes {}: expected 1 to 32", self.nodes)));
        }
        let concurrency = parse_concurrency(&self.concurrency, self.nodes)?;
        let keys = match self.keys {
            Some(0) => return Err(bad("--keys 0: expected at least 1")),
            Some(k) => k,
            None => kind.default_keys(concurrency, self.nodes),
        };
        if self.ops_per_key == 0 {
            return Err(bad("--ops-per-key 0: expected at least 1"));
        }
        Ok(WorkloadOptions {
            kind,
            concurrency,
            keys,
            ops_per_key: self.ops_per_key,
            seed,
        })
    }

    fn system_spec(&self) -> Result<SystemSpec, HarnessError> {
        let mut db_opts = Vec::new();
        for o in &self.db_opt {
            let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
            if k.is_empty() {
                return Err(bad(format!("--db-opt {o}: expected K=V")));
            }
            db_opts.push((k.to_string(), v.to_string()));
        }
        Ok(SystemSpec {
            db: self.db.clone(),
            db_bin: self.db_bin.clone(),
            node_bin: self.node_bin.clone(),
            db_opts,
            db_config: self.db_config.clone(),
            bugs: self.bug.clone(),
        })
    }

    fn check_run_knobs(&self) -> Result<(), HarnessError> {
        if let Some(r) = self.rate {
            if !r.is_finite() || r <= 0.0 {
                return Err(bad(format!(
                    "--rate {r}: expected a positive number of ops per second"
                )));
            }
        }
        if self.op_timeout == 0 || self.op_timeout > 600_000 {
            return Err(bad(format!(
                "--op-timeout {}: expected 1 to 600000 ms",
                self.op_timeout
            )));
        }
        if self.test_count == 0 {
            return Err(bad("--test-count 0: expected at least 1"));
        }
        Ok(())
    }

    /// `--name`, else `<workload>-<faults joined by +>` (`none` without faults).
    fn test_name(
        &self,
        workload: &WorkloadOptions,
        nemesis: &NemesisConfig,
    ) -> Result<String, HarnessError> {
        let faults: Vec<&str> = nemesis.faults.iter().map(|f| f.as_str()).collect();
        let script = nemesis.script.as_ref().map(|s| {
            let stem = std::path::Path::new(&s.source).file_stem();
            format!("script-{}", stem.unwrap_or_default().to_string_lossy())
        });
        let nemesis_name = if let Some(s) = script {
            s
        } else if faults.is_empty() {
            "none".to_string()
        } else {
            faults.join("+")
        };
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", workload.kind.name(), nemesis_name));
        if !valid_test_name(&name) {
            return Err(bad(format!(
                "--name {name:?}: expected letters, digits, `.`, `_`, `+`, `-` (not `latest`)"
            )));
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::nemesis::Target;
    use clap::Parser;
    use serde_json::json;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        a: TestArgs,
    }

    fn args(args: &[&str]) -> TestArgs {
        let mut v = vec!["test"];
        v.extend_from_slice(args);
        Wrap::try_parse_from(v).unwrap().a
    }

    /// The config as `harness test` builds it: flags, then the system's capabilities.
    fn cfg(a: &[&str]) -> Result<TestConfig, HarnessError> {
        let c = args(a).to_config(vec![])?;
        c.check_system()?;
        Ok(c)
    }

    #[test]
    fn defaults_and_derived_values() {
        let c = cfg(&["--seed", "7"]).unwrap();
        assert_eq!(
            (c.nodes, c.workload.concurrency, c.workload.keys, c.seed),
            (5, 10, 2, 7)
        );
        assert_eq!((c.workload.seed, c.nemesis.seed), (7, 7));
        assert_eq!(c.name, "register-none");
        let c = cfg(&[
            "--nemesis",
            "partition,kill",
            "--concurrency",
            "3n",
            "--nodes",
            "3",
            "--workload",
            "set",
        ])
        .unwrap();
        assert_eq!((c.workload.concurrency, c.workload.keys), (9, 9));
        assert_eq!(c.name, "set-partition+kill");
        let second = c.for_run(2);
        assert_eq!(second.seed, c.seed.wrapping_add(2));
        assert_eq!(
            (second.workload.seed, second.nemesis.seed),
            (second.seed, second.seed)
        );
        let j = c.test_json(NetMode::Proxy, "2026-11-23T00:00:00Z", None);
        assert_eq!(j["nemesis"], json!(["partition", "kill"]));
        assert_eq!(j["net"], "proxy");
        assert_eq!(j["db"], "raft-kv");
        assert_eq!(j["targets"], json!(["one", "minority"]));
        assert_eq!(j["nemesis_trigger"], "timer");
        let c = cfg(&["--targets", "all,leader"]).unwrap();
        assert_eq!(c.nemesis.targets, vec![Target::All, Target::Leader]);
        let c = cfg(&["--kill-targets", "majority"]).unwrap();
        assert_eq!(
            (c.nemesis.kill_targets, c.nemesis.pause_targets),
            (vec![Target::Majority], vec![])
        );
        let c = cfg(&["--nemesis-trigger", "leader-change"]).unwrap();
        assert_eq!(c.nemesis.trigger, Trigger::LeaderChange);
        let c = cfg(&["--link-delay", "40", "--net", "proxy"]).unwrap();
        assert_eq!(c.link.delay, Duration::from_millis(40));
        let c = cfg(&[
            "--link-delay",
            "40,10",
            "--link-loss",
            "5%",
            "--net",
            "proxy",
        ])
        .unwrap();
        assert_eq!(c.link.jitter, Duration::from_millis(10));
        assert_eq!(c.link.loss, 0.05);
        let c = cfg(&[
            "--nemesis",
            "loss,delay",
            "--loss",
            "0.1,0.3",
            "--jitter",
            "20",
            "--net",
            "proxy",
        ])
        .unwrap();
        assert_eq!(c.nemesis.links.losses, vec![0.1, 0.3]);
        assert_eq!(c.nemesis.links.jitter, Duration::from_millis(20));
    }

    #[test]
    fn delay_runs_in_both_backends_for_a_proxyable_system_only() {
        for net in ["netns", "proxy", "auto"] {
            assert!(cfg(&["--link-delay", "50", "--net", net]).is_ok(), "{net}");
            assert!(cfg(&["--nemesis", "delay", "--net", net]).is_ok(), "{net}");
        }
        let Err(HarnessError::BadInput(msg)) = cfg(&["--link-delay", "50", "--db", "zookeeper"])
        else {
            panic!("zookeeper's peers cannot be proxied")
        };
        assert!(msg.contains("no netem"), "{msg}");
    }

    #[test]
    fn bad_values_are_bad_input() {
        for a in [
            &["--workload", "bank"][..],
            &["--nemesis", "flood"],
            &["--concurrency", "0"],
            &["--concurrency", "xn"],
            &["--nodes", "0"],
            &["--partition", "triangle"],
            &["--targets", "half"],
            &["--targets", ""],
            &["--kill-targets", "most"],
            &["--nemesis-trigger", "election"],
            &["--nemesis-trigger", "leader-change", "--db", "etcd"],
            &["--link-delay", "50", "--net", "proxy", "--db", "etcd"],
            &["--link-delay", "20000", "--net", "proxy"],
            &["--net", "wifi"],
            &["--rate=-1"],
            &["--time-limit=-3"],
            &["--name", "../up"],
            &["--db", "mongo"],
            &["--bug", "lossy"],
            &["--db", "etcd", "--bug", "stale-read"],
            &["--db", "etcd", "--db-opt", "serializable-reads=maybe"],
            &["--db", "etcd", "--nemesis", "partition", "--net", "proxy"],
        ] {
            assert!(matches!(cfg(a), Err(HarnessError::BadInput(_))), "{a:?}");
        }
    }

    #[test]
    fn a_nemesis_script_replaces_nemesis_and_names_the_test() {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/nemesis/paxos-forget-promise.toml"
        );
        let c = cfg(&["--db", "paxos-kv", "--nemesis-script", script]).unwrap();
        assert_eq!(c.name, "register-script-paxos-forget-promise");
        assert!(c.nemesis.script.as_ref().unwrap().repeat);
        assert!(
            c.delays(),
            "its delay steps route peer links through proxies"
        );
        let j = c.test_json(NetMode::Proxy, "t", None);
        assert!(j["nemesis_script_text"]
            .as_str()
            .unwrap()
            .contains("wait-leader"));
        let refused = |a: &[&str]| match cfg(a) {
            Err(HarnessError::BadInput(m)) => m,
            other => panic!("{a:?} accepted: {:?}", other.map(|c| c.name)),
        };
        let m = refused(&["--nemesis-script", script, "--nemesis", "kill"]);
        assert!(m.contains("replaces --nemesis"), "{m}");
        let m = refused(&["--nemesis-script", "/nonexistent/s.toml"]);
        assert!(m.contains("/nonexistent/s.toml: cannot read"), "{m}");
        let m = refused(&["--db", "etcd", "--nemesis-script", script]);
        assert!(m.contains("wait-leader"), "{m}");
    }

    #[test]
    fn an_unknown_bug_names_the_systems_bugs() {
        let Err(HarnessError::BadInput(msg)) = cfg(&["--bug", "lossy"]) else {
            panic!("accepted")
        };
        assert!(
            msg.contains("stale-read") && msg.contains("no-truncate"),
            "{msg}"
        );
        let Err(HarnessError::BadInput(msg)) = cfg(&["--db", "mongo"]) else {
            panic!("accepted")
        };
        assert!(msg.contains("raft-kv") && msg.contains("etcd"), "{msg}");
    }
}
